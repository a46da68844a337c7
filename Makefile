# Revmesh. The two set-up commands are `make run` and `make test`.
.PHONY: run stop test build check-config token format bench-relay bench-keys bench-sync bench-stream bench-analytics

run:
	@scripts/run.sh

stop:
	@scripts/run.sh stop

test:
	@scripts/test.sh

# Benchmarks (release builds, a throwaway Postgres); not part of make test.
bench-relay:
	@scripts/bench.sh bench-relay $${EVENTS:-10000}

bench-keys:
	@scripts/bench.sh bench-keys $${REQUESTS:-5000}

# CUSTOMERS SUBSCRIPTIONS INVOICES (each invoice has its charge); the worker and the sandbox run as their own processes.
bench-sync:
	@BENCH_ALSO="stripe-sync sandbox" scripts/bench.sh bench-sync $${CUSTOMERS:-20000} $${SUBSCRIPTIONS:-25000} $${INVOICES:-150000}

# CLIENTS ACCOUNTS ROUNDS: live streams through a gateway process to a stripe-sync process, a change in every account per round.
bench-stream:
	@BENCH_ALSO="stripe-sync gateway" scripts/bench.sh bench-stream $${CLIENTS:-1000} $${ACCOUNTS:-20} $${ROUNDS:-5}

# EVENTS PERSONS CLIENTS: analytics events sent in batches of 100 to an insights-usage process, then its questions over them.
bench-analytics:
	@BENCH_ALSO="insights-usage" scripts/bench.sh bench-analytics $${EVENTS:-1000000} $${PERSONS:-50000} $${CLIENTS:-100}

build:
	swift build

check-config: build
	$$(swift build --show-bin-path)/gateway check gateway.conf

# A user token for local calls: make token SUB=<user id> [ADMIN=1]
token:
	@set -a && . ./.env && set +a && $$(swift build --show-bin-path)/gateway token --sub $${SUB:-local-user} $${ADMIN:+--admin}

format:
	swift format lint --strict -r Services Shared Tests
