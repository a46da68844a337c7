#!/usr/bin/env bash
# The test run inside `make test`'s Postgres: every suite but the load suites, then the load suites on their own
# (gigabytes through the gateway, thousands of failed logins), so their load cannot starve the others' timeouts on a
# two-core machine. Arguments, when given, go to one `swift test` instead.
set -euo pipefail
load_suites='GatewaySurvivalTests|GatewayAuthFailureTests'
if [ "$#" -gt 0 ]; then exec swift test --skip-build "$@"; fi
swift test --skip-build --skip "$load_suites"
swift test --skip-build --filter "$load_suites"
