#!/usr/bin/env bash
# `make bench-…`: builds a benchmark in release mode and runs it against a throwaway PostgreSQL.
# Usage: scripts/bench.sh PRODUCT [ARGUMENTS…]
set -euo pipefail
cd "$(dirname "$0")/.."

product=$1
shift
configuration=${BENCH_CONFIGURATION:-release}
# BENCH_ALSO: other products the benchmark runs as processes.
for also in $product ${BENCH_ALSO:-}; do
  swift build -c "$configuration" --product "$also"
done
scripts/with-postgres.sh "$(swift build -c "$configuration" --show-bin-path)/$product" "$@"
