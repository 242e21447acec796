# Shared by bench/commit_time.sh and bench/update_spike.sh: runs the cases
# of one Catch2 test binary RUNS times each, in turn, and prints the medians
# of their "[figure] ... paged after P s; contained after C s; rows WORD N of
# T" lines. Sourced, not run.

# run_cases TEST TIMEOUT_S RUNS OUT_DIR LABEL|SPEC... runs each case RUNS
# times (a stuck case is ended after TIMEOUT_S; timeout signals its pid),
# printing one line per run and appending "label|figure line" (or
# "label|FAILED") to OUT_DIR/figures. A failing case is reported, counted,
# and the other runs go on.
run_cases() {
  local test=$1 limit=$2 runs=$3 out=$4
  shift 4
  local start=$SECONDS i c label spec t0 line
  for i in $(seq 1 "$runs"); do
    for c in "$@"; do
      label=${c%%|*}
      spec=${c#*|}
      t0=$SECONDS
      if timeout --kill-after=10 "$limit" "$test" "$spec" >"$out/run" 2>&1; then
        line=$(grep -m1 '^\[figure\]' "$out/run" || true)
      else
        line=""
      fi
      if [[ -z "$line" ]]; then
        echo "run $i $label: FAILED ($((SECONDS - t0)) s); last lines:"
        tail -n 15 "$out/run" | sed 's/^/    /'
        echo "$label|FAILED" >>"$out/figures"
        continue
      fi
      echo "run $i $label: ${line#\[figure\] } ($((SECONDS - t0)) s)"
      echo "$label|$line" >>"$out/figures"
    done
  done
  echo "total $((SECONDS - start)) s for $runs run(s) of $# cases"
}

# print_medians FIGURES WORD prints, per label, the medians of seconds to
# page, seconds to containment and rows WORD ("lost", "overwritten").
print_medians() {
  python3 - "$1" "$2" <<'PY'
import re, statistics, sys
path, word = sys.argv[1], sys.argv[2]
order, rows, failed = [], {}, {}
for line in open(path):
    label, fig = line.rstrip("\n").split("|", 1)
    if label not in order:
        order.append(label)
    rows.setdefault(label, [])
    m = re.search(r"paged after ([\d.]+) s; contained after ([\d.]+) s; "
                  rf"rows {word} (\d+) of (\d+)", fig)
    if not m:
        failed[label] = failed.get(label, 0) + 1
        continue
    rows[label].append(tuple(float(x) for x in m.groups()))
print(f"medians (seconds from the job's start; rows {word} of the table's rows):")
width = max([len(l) for l in order] + [10])
for label in order:
    r = rows[label]
    note = f", {failed[label]} failed" if label in failed else ""
    if not r:
        print(f"  {label:{width}s} no successful run{note}")
        continue
    med = lambda k: statistics.median(x[k] for x in r)
    print(f"  {label:{width}s} paged {med(0):5.2f} s, contained {med(1):5.2f} s, "
          f"rows {word} {med(2):>9,.0f} of {med(3):,.0f} ({100 * med(2) / med(3):.2f} %) "
          f"[n={len(r)}{note}]")
PY
}
