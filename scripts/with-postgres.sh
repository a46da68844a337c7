#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL on a free port (DATABASE_URL set), then removes the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."

pgdir=$(mktemp -d /tmp/revmesh-pg.XXXXXX)
port=$(scripts/free-port.sh)
password=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
cleanup() {
  scripts/postgres.sh stop "$pgdir" || true
  rm -rf "$pgdir"
}
trap cleanup EXIT
chmod 755 "$pgdir"
scripts/postgres.sh start "$pgdir" "$port" "$password"

export DATABASE_URL="postgres://postgres:${password}@127.0.0.1:${port}/revmesh"
"$@"
