#!/usr/bin/env bash
# Median over RUNS (default 5) runs of the mass-overwrite cases of
# tests/integration/update_spike_test.cc, per path: a script rewriting
# customers' e-mails in 1,000-row batches (200 ms apart, ~5,000 rows/s) as
# the role cleanup_job on a 100,000-row table, after a warm-up of steady
# light updates, with the agent in enforce mode, seen via the change stream,
# the statement counters (a hidden test case, not in ctest) and the
# statistics only. Prints each run's [figure] line, then the medians of
# seconds to page, seconds to containment and rows overwritten.
#
# Times are from the moment the job's psql is spawned (its connect and
# first UPDATE included), as the test takes them. A failing case is
# reported and counted, and the other runs go on.
#
#   bash bench/update_spike.sh [BUILD_DIR] [RUNS]
set -euo pipefail
BUILD=${1:-build}
RUNS=${2:-5}
TEST="$BUILD/tests/integration/update_spike_test"
if [[ ! -x "$TEST" ]]; then
  echo "bench/update_spike.sh: $TEST not built" \
    "(cmake --build $BUILD --target update_spike_test)" >&2
  exit 2
fi
CASES=(
  "mass overwrite / change_stream|Update spike: a batched mass UPDATE is paged and contained via the change stream"
  "mass overwrite / statements|Update spike: a batched mass UPDATE is paged and contained via the statement counters"
  "mass overwrite / stats|Update spike: a batched mass UPDATE is paged and contained from the statistics only"
)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# shellcheck source=bench/lib/median_runs.sh
source "$(dirname "$0")/lib/median_runs.sh"
run_cases "$TEST" 180 "$RUNS" "$out" "${CASES[@]}"
print_medians "$out/figures" overwritten
