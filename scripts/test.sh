#!/usr/bin/env bash
# `make test`: builds, then runs every test against a throwaway PostgreSQL that is removed afterwards.
# The suites take about three minutes after the build (scripts/test-phases.sh); TEST_TIMEOUT (default 20m) turns a
# hung test into a failure that names it.
set -euo pipefail
cd "$(dirname "$0")/.."

swift build --build-tests
log=$(mktemp /tmp/revmesh-test.XXXXXX)
trap 'rm -f "$log"' EXIT
status=0
timeout --kill-after=30s "${TEST_TIMEOUT:-20m}" scripts/with-postgres.sh scripts/test-phases.sh "$@" 2>&1 | tee "$log" || status=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  # SwiftPM runs the test binary in its own process group, out of timeout's reach.
  pkill -KILL -f 'revmeshPackageTests.xctest' || true
  echo "make test: timed out after ${TEST_TIMEOUT:-20m}; tests that started and never finished:" >&2
  # Swift Testing prints "◇ Test name() started." and later "✔/✘ Test name() passed/failed".
  comm -23 \
    <(sed -n 's/^◇ Test \([^ ]*()\) started\.$/\1/p' "$log" | sort -u) \
    <(sed -n 's/^[✔✘] Test \([^ ]*()\) .*/\1/p' "$log" | sort -u) >&2
fi
exit "$status"
