#!/usr/bin/env bash
# `make test`: builds, then runs every test against a throwaway PostgreSQL that is removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

swift build --build-tests
scripts/with-postgres.sh swift test --skip-build "$@"
