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
start=$SECONDS
for i in $(seq 1 "$RUNS"); do
  for c in "${CASES[@]}"; do
    label=${c%%|*}
    spec=${c#*|}
    t0=$SECONDS
    # Bounded: a stuck case is ended after 5 minutes (timeout signals its pid).
    if timeout --kill-after=10 300 "$TEST" "$spec" > "$out/run" 2>&1; then
      line=$(grep -m1 '^\[figure\]' "$out/run" || true)
    else
      line=""
    fi
    if [[ -z "$line" ]]; then
      echo "run $i $label: FAILED ($((SECONDS - t0)) s); last lines:"
      tail -n 15 "$out/run" | sed 's/^/    /'
      echo "$label|FAILED" >> "$out/figures"
      continue
    fi
    echo "run $i $label: ${line#\[figure\] } ($((SECONDS - t0)) s)"
    echo "$label|$line" >> "$out/figures"
  done
done
echo "total $((SECONDS - start)) s for $RUNS run(s) of ${#CASES[@]} cases"
python3 - "$out/figures" <<'PY'
import re, statistics, sys
order, rows, failed = [], {}, {}
for line in open(sys.argv[1]):
    label, fig = line.rstrip("\n").split("|", 1)
    if label not in order:
        order.append(label)
    rows.setdefault(label, [])
    m = re.search(r"paged after ([\d.]+) s; contained after ([\d.]+) s; "
                  r"rows lost (\d+) of (\d+)", fig)
    if not m:
        failed[label] = failed.get(label, 0) + 1
        continue
    rows[label].append(tuple(float(x) for x in m.groups()))
print("medians (seconds from the job's start; rows lost of the table's rows):")
for label in order:
    r = rows[label]
    note = f", {failed[label]} failed" if label in failed else ""
    if not r:
        print(f"  {label:50s} no successful run{note}")
        continue
    med = lambda k: statistics.median(x[k] for x in r)
    print(f"  {label:50s} paged {med(0):5.2f} s, contained {med(1):5.2f} s, "
          f"rows lost {med(2):>9,.0f} of {med(3):,.0f} ({100 * med(2) / med(3):.2f} %) "
          f"[n={len(r)}{note}]")
PY
