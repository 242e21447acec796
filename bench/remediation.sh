#!/usr/bin/env bash
# Median over RUNS (default 5) runs of the enforce scenario of
# tests/integration/remediation_e2e_test.cc: the cleanup script (batches of
# 1,000 rows, ~5,000 rows/s) against 1,000,000 rows with the real agent in
# enforce mode. Prints seconds to page, seconds to containment (login revoked,
# no sessions, no DELETE privilege) and rows lost, per run and the medians.
#
#   bash bench/remediation.sh [BUILD_DIR] [RUNS]
set -euo pipefail
BUILD=${1:-build}
RUNS=${2:-5}
TEST="$BUILD/tests/integration/remediation_e2e_test"
if [[ ! -x "$TEST" ]]; then
  echo "bench/remediation.sh: $TEST not built (bash scripts/build.sh $BUILD)" >&2
  exit 2
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for i in $(seq 1 "$RUNS"); do
  "$TEST" "Enforce: the cleanup script*" > "$out.run" 2>&1 || { cat "$out.run" >&2; exit 1; }
  line=$(grep '^\[figure\] enforce:' "$out.run")
  echo "run $i: ${line#\[figure\] enforce: }"
  echo "$line" >> "$out"
done
rm -f "$out.run"
python3 - "$out" <<'PY'
import re, statistics, sys
rows = []
for line in open(sys.argv[1]):
    m = re.search(r"paged after ([\d.]+) s; contained after ([\d.]+) s; rows lost (\d+) of (\d+)", line)
    rows.append(tuple(float(x) for x in m.groups()))
med = lambda k: statistics.median(r[k] for r in rows)
print(f"median of {len(rows)}: paged {med(0):.2f} s, contained {med(1):.2f} s, "
      f"rows lost {med(2):,.0f} of {med(3):,.0f} ({100 * med(2) / med(3):.2f} %)")
PY
