# Revmesh. The two set-up commands are `make run` and `make test`.
.PHONY: run stop test build check-config token format bench-relay bench-keys

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

build:
	swift build

check-config: build
	$$(swift build --show-bin-path)/gateway check gateway.conf

# A user token for local calls: make token SUB=<user id> [ADMIN=1]
token:
	@set -a && . ./.env && set +a && $$(swift build --show-bin-path)/gateway token --sub $${SUB:-local-user} $${ADMIN:+--admin}

format:
	swift format lint --strict -r Services Shared Tests
