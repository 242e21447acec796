#!/usr/bin/env bash
# Median over RUNS (default 5) runs of the enforce cases of
# tests/integration/commit_time_test.cc, per scenario and path: the cleanup
# script (batches of 1,000 rows, 200 ms apart, against 1,000,000 rows, or
# PGWARDEN_TEST_ROWS) via the
# change stream, the statement fast path and the statistics only; the purge
# procedure (2,000-row chunks committed inside one CALL) with the stream,
# without it, and by the commit-in-statement watch alone
# (pg_stat_statements.track = top, its default). Prints each run's [figure] line, then
# the medians of seconds to page, seconds to containment and rows lost.
#
# Times are from the start of the job (the psql process is spawned), as the
# test takes them: that includes psql's connect and its first DELETE, so the
# time from the first committed batch is somewhat shorter. The test does not
# print the first commit's time, so it is not subtracted here.
#
# Each run goes through the six cases in turn, so that a change in the
# machine's load is spread over all of them. A failing case is reported and
# counted, and the other runs go on.
#
#   bash bench/commit_time.sh [BUILD_DIR] [RUNS]
set -euo pipefail
BUILD=${1:-build}
export PGWARDEN_TEST_ROWS=${PGWARDEN_TEST_ROWS:-1000000}
RUNS=${2:-5}
TEST="$BUILD/tests/integration/commit_time_test"
if [[ ! -x "$TEST" ]]; then
  echo "bench/commit_time.sh: $TEST not built" \
    "(cmake --build $BUILD --target commit_time_test)" >&2
  exit 2
fi
# label|test spec. Catch2 reads ',' in a spec as "or": commas are escaped.
CASES=(
  "cleanup script / change_stream|Commit time: the cleanup script is paged and contained via the change stream"
  "cleanup script / statements|Commit time: the cleanup script is paged and contained via the statement fast path"
  "cleanup script / stats|Commit time: the cleanup script is paged and contained from the statistics only"
  "purge procedure / change_stream|Commit time: a purge procedure committing inside one CALL is stopped\\, with the stream"
  "purge procedure / statements (track = all)|Commit time: a purge procedure committing inside one CALL is stopped by the statement counters with pg_stat_statements.track = all"
  "purge procedure / commit-in-statement watch (track = top)|Commit time: a purge procedure is stopped by the commit-in-statement watch alone"
)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# shellcheck source=bench/lib/median_runs.sh
source "$(dirname "$0")/lib/median_runs.sh"
run_cases "$TEST" 300 "$RUNS" "$out" "${CASES[@]}"
print_medians "$out/figures" lost
