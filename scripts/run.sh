#!/usr/bin/env bash
# `make run`: the whole system on this machine. `make stop` (scripts/run.sh stop) ends a run left in the background.
set -euo pipefail
cd "$(dirname "$0")/.."

SERVICES="billing-webhooks stripe-sync insights-usage revio-data crm-relay devops-api"
DATA=.data
RUN="$DATA/run"
LOGS="$DATA/logs"
PG_PORT_FILE="$DATA/postgres.port"

stop_all() {
  for pidfile in "$RUN"/*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
  scripts/postgres.sh stop "$DATA/postgres"
}

if [ "${1:-}" = "stop" ]; then
  stop_all
  echo "stopped"
  exit 0
fi

mkdir -p "$RUN" "$LOGS"

secret() { head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 48; }
if [ ! -f .env ]; then
  pg_port=$(scripts/free-port.sh)
  pg_password=$(secret)
  cat > .env <<ENV
# Written by make run with fresh random secrets. Keep it out of git.
DATABASE_URL=postgres://postgres:${pg_password}@127.0.0.1:${pg_port}/revmesh
POSTGRES_PASSWORD=${pg_password}
POSTGRES_PORT=${pg_port}
INTERNAL_SECRET=$(secret)
SUPABASE_JWT_SECRET=$(secret)
STRIPE_WEBHOOK_SECRET=whsec_$(secret)
CRON_SECRET=$(secret)
CRM_EVENTS_KEY=$(secret)
APP_URL=http://localhost:8080
CORS_ORIGINS=http://localhost:5173,http://localhost:8080
ENV
  chmod 600 .env
  echo "wrote .env with fresh secrets"
fi
# Variables added since a .env was first written get their fresh values too.
grep -q '^TOKEN_ENCRYPTION_KEY=' .env || echo "TOKEN_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)" >> .env
grep -q '^DEVOPS_WEBHOOK_SECRET=' .env || echo "DEVOPS_WEBHOOK_SECRET=$(secret)" >> .env
grep -q '^STRIPE_CONNECT_WEBHOOK_SECRET=' .env || echo "STRIPE_CONNECT_WEBHOOK_SECRET=whsec_$(secret)" >> .env
grep -q '^OPS_ENCRYPTION_KEY=' .env || echo "OPS_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)" >> .env
grep -q '^GCP_BUDGET_PUSH_TOKEN=' .env || echo "GCP_BUDGET_PUSH_TOKEN=$(secret)" >> .env
set -a
# shellcheck disable=SC1091
. ./.env
set +a

stop_all >/dev/null 2>&1 || true
trap 'echo; echo "stopping"; stop_all; exit 0' INT TERM

scripts/postgres.sh start "$DATA/postgres" "$POSTGRES_PORT" "$POSTGRES_PASSWORD"
echo "postgres on 127.0.0.1:$POSTGRES_PORT (data in $DATA/postgres)"

swift build
BIN=$(swift build --show-bin-path)

# The sandbox stands in for each outside system whose keys are not set (Stripe, the CRM, OpenAI), on :8199.
sandbox_port="${SANDBOX_PORT:-8199}"
sandbox_url="http://127.0.0.1:$sandbox_port"
need_sandbox=
if [ -z "${STRIPE_SECRET_KEY:-}" ]; then
  need_sandbox=1
  export STRIPE_SECRET_KEY=sk_test_sandbox STRIPE_API_BASE="$sandbox_url"
  export STRIPE_PROFESSIONAL_PRICE_ID=price_sandbox_professional STRIPE_BUSINESS_PRICE_ID=price_sandbox_business
  export STRIPE_ENTERPRISE_PRICE_ID=price_sandbox_enterprise
  export STRIPE_CLIENT_ID=ca_sandbox STRIPE_CONNECT_BASE="$sandbox_url"
  echo "no STRIPE_SECRET_KEY: the sandbox plays Stripe"
fi
if [ -z "${CRM_WEBHOOK_URL:-}" ]; then
  need_sandbox=1
  export CRM_WEBHOOK_URL="$sandbox_url/crm/webhooks" CRM_API_KEY=crm_sandbox_key
  echo "no CRM_WEBHOOK_URL: the sandbox plays the CRM"
fi
if [ -z "${OPENAI_API_KEY:-}" ]; then
  need_sandbox=1
  export OPENAI_API_KEY=openai_sandbox_key OPENAI_BASE_URL="$sandbox_url/v1"
  echo "no OPENAI_API_KEY: the sandbox plays the model that writes insight narratives"
fi
if [ -n "$need_sandbox" ]; then
  SANDBOX_PORT="$sandbox_port" SANDBOX_PUBLIC_URL="http://localhost:$sandbox_port" \
    SANDBOX_STRIPE_WEBHOOK_URL="http://127.0.0.1:${GATEWAY_PORT:-8080}/api/webhooks/stripe-billing" \
    SANDBOX_STRIPE_WEBHOOK_SECRET="$STRIPE_WEBHOOK_SECRET" SANDBOX_CRM_API_KEY=crm_sandbox_key \
    SANDBOX_CONNECT_WEBHOOK_URL="http://127.0.0.1:${GATEWAY_PORT:-8080}/api/webhooks/stripe-connect" \
    SANDBOX_CONNECT_WEBHOOK_SECRET="$STRIPE_CONNECT_WEBHOOK_SECRET" \
    "$BIN/sandbox" >>"$LOGS/sandbox.log" 2>&1 &
  echo $! >"$RUN/sandbox.pid"
  echo "sandbox on http://localhost:$sandbox_port"
fi

for service in $SERVICES; do
  "$BIN/$service" migrate >>"$LOGS/$service.log" 2>&1 || { echo "$service: migration failed, see $LOGS/$service.log"; stop_all; exit 1; }
done
for service in $SERVICES; do
  "$BIN/$service" serve >>"$LOGS/$service.log" 2>&1 &
  echo $! >"$RUN/$service.pid"
done
"$BIN/gateway" serve --config gateway.conf >>"$LOGS/gateway.log" 2>&1 &
echo $! >"$RUN/gateway.pid"

port="${GATEWAY_PORT:-8080}"
for _ in $(seq 1 300); do
  if curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1; then break; fi
  for pidfile in "$RUN"/*.pid; do
    kill -0 "$(cat "$pidfile")" 2>/dev/null || { echo "$(basename "$pidfile" .pid) exited; see $LOGS/"; stop_all; exit 1; }
  done
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null || { echo "not ready; see $LOGS/"; stop_all; exit 1; }

token=$("$BIN/gateway" token --sub 00000000-0000-0000-0000-000000000001 --email admin@revmesh.local --admin --ttl 86400)

# With the sandbox running, the monitors watch its fakes of each provider. A sandbox makes new Vonage and Google keys
# each start, so integrations a previous run registered get the current credentials.
if [ -n "$need_sandbox" ]; then
  SANDBOX_URL="$sandbox_url" GATEWAY_URL="http://127.0.0.1:$port" ADMIN_TOKEN="$token" python3 - <<'PY' || echo "monitors: registration failed; see $LOGS/devops-api.log"
import json, os, urllib.request
def call(method, url, body=None):
    request = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + os.environ["ADMIN_TOKEN"], "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.load(response) if response.status != 204 else None
sandbox, gateway = os.environ["SANDBOX_URL"], os.environ["GATEWAY_URL"]
wanted = call("GET", sandbox + "/_sandbox/monitors?base_url=" + sandbox)
existing = {i["name"]: i["id"] for i in call("GET", gateway + "/api/ops/integrations")["integrations"]}
for body in wanted:
    if body["name"] in existing:
        call("PATCH", gateway + "/api/ops/integrations/" + existing[body["name"]], {"credentials": body["credentials"], "config": body["config"]})
    else:
        call("POST", gateway + "/api/ops/integrations", body)
print("monitors: the sandbox's " + ", ".join(b["kind"] for b in wanted) + " are watched (GET /api/ops/overview)")
PY
fi
cat <<MSG

Revmesh is running at http://localhost:$port  (logs in $LOGS/, Ctrl-C stops everything)

  curl -s http://localhost:$port/health/ready
  export TOKEN=$token
  curl -s -H "Authorization: Bearer \$TOKEN" http://localhost:$port/api/me

A user token for someone else: $BIN/gateway token --sub <user-id> [--email E] [--admin] (with .env loaded)
MSG

wait
