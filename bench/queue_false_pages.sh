#!/usr/bin/env bash
# False pages on a queue table under load: pgbench TPC-B-like, 4 clients,
# for SECONDS (default 300) with pgbench_history trimmed every 1 to 3 s while
# pgbench appends to it (the hidden case "Queue bench" of
# tests/integration/queue_test.cc), watched by two agents: the change stream
# with the statistics, and the statistics only. Prints each run's figure
# line and every page received (each is a false page: nothing was lost).
#
#   bash bench/queue_false_pages.sh [BUILD_DIR] [RUNS] [SECONDS]
set -euo pipefail
BUILD=${1:-build}
RUNS=${2:-1}
SECONDS_PER_RUN=${3:-300}
TEST="$BUILD/tests/integration/queue_test"
if [[ ! -x "$TEST" ]]; then
  echo "bench/queue_false_pages.sh: $TEST not built" \
    "(cmake --build $BUILD --target queue_test)" >&2
  exit 2
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
failed=0
for i in $(seq 1 "$RUNS"); do
  # Bounded: the case is ended 3 minutes after its load should have ended.
  if PGWARDEN_QUEUE_SECONDS=$SECONDS_PER_RUN timeout --kill-after=10 \
    $((SECONDS_PER_RUN + 180)) "$TEST" "Queue bench*" >"$out" 2>&1; then
    echo "run $i:"
    grep -E '^\[figure\]|^  (stream|stats) agent page:' "$out" | sed 's/^\[figure\] /  /'
  else
    failed=$((failed + 1))
    echo "run $i: FAILED; last lines:"
    tail -n 20 "$out" | sed 's/^/    /'
  fi
done
[[ $failed -eq 0 ]]
