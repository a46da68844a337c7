#!/usr/bin/env bash
# The test run inside `make test`'s Postgres: every suite but the heavy ones, then the whole-system suites (six
# services each), then the load suites (gigabytes through the gateway, thousands of failed logins), each group on its
# own so its load cannot starve the others' timeouts on a two-core machine. Arguments, when given, go to one
# `swift test` instead.
set -euo pipefail
system_suites='HostileInputTests|SeedCompatibilityTests'
load_suites='GatewaySurvivalTests|GatewayAuthFailureTests'
if [ "$#" -gt 0 ]; then exec swift test --skip-build "$@"; fi
swift test --skip-build --skip "$system_suites|$load_suites"
swift test --skip-build --filter "$system_suites"
swift test --skip-build --filter "$load_suites"
