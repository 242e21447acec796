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
start=$SECONDS
for i in $(seq 1 "$RUNS"); do
  for c in "${CASES[@]}"; do
    label=${c%%|*}
    spec=${c#*|}
    t0=$SECONDS
    # Bounded: a stuck case is ended after 3 minutes (timeout signals its pid).
    if timeout --kill-after=10 180 "$TEST" "$spec" > "$out/run" 2>&1; then
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
                  r"rows overwritten (\d+) of (\d+)", fig)
    if not m:
        failed[label] = failed.get(label, 0) + 1
        continue
    rows[label].append(tuple(float(x) for x in m.groups()))
print("medians (seconds from the job's start; rows overwritten of the table's rows):")
for label in order:
    r = rows[label]
    note = f", {failed[label]} failed" if label in failed else ""
    if not r:
        print(f"  {label:40s} no successful run{note}")
        continue
    med = lambda k: statistics.median(x[k] for x in r)
    print(f"  {label:40s} paged {med(0):5.2f} s, contained {med(1):5.2f} s, "
          f"rows overwritten {med(2):>7,.0f} of {med(3):,.0f} ({100 * med(2) / med(3):.2f} %) "
          f"[n={len(r)}{note}]")
PY
