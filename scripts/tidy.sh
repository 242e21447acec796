#!/usr/bin/env bash
# Runs clang-tidy (the checked-in .clang-tidy) on every tracked .cc file, or on
# the .cc files named after the build dir, with the compile commands of build/
# (or $1), two files at a time (PGWARDEN_JOBS). Headers are checked through the
# files that include them (HeaderFilterRegex). Any finding is a failure: each
# is printed once, then a count per check.
# Needs a build dir configured with tests and benchmarks on; generated headers
# come from the configure step, nothing has to be built.
#   scripts/tidy.sh [BUILD_DIR [FILE.cc...]]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build_dir="${1:-build}"
shift || true
jobs="${PGWARDEN_JOBS:-2}"
db="$build_dir/compile_commands.json"
if ! command -v clang-tidy >/dev/null; then
  echo "tidy: clang-tidy not found (scripts/install-deps.sh installs it)" >&2
  exit 2
fi
if [ ! -f "$db" ]; then
  echo "tidy: $db not found; configure $build_dir first (scripts/build.sh)" >&2
  exit 2
fi

if [ "$#" -gt 0 ]; then files=("$@"); else mapfile -t files < <(git ls-files '*.cc'); fi
# Every tracked .cc must have a compile command: a missing one means the build
# dir was configured without tests or benchmarks, or a file is built by nothing.
mapfile -t missing < <(python3 - "$db" "$root" "${files[@]}" <<'EOF'
import json, os, sys
db, root, files = sys.argv[1], sys.argv[2], sys.argv[3:]
known = set()
for entry in json.load(open(db)):
    known.add(os.path.normpath(os.path.join(entry["directory"], entry["file"])))
for f in files:
    if os.path.join(root, f) not in known:
        print(f)
EOF
)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "tidy: not in $db (configure with -DPGWARDEN_BUILD_TESTS=ON -DPGWARDEN_BUILD_BENCH=ON):" >&2
  printf '  %s\n' "${missing[@]}" >&2
  exit 2
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "== clang-tidy: ${#files[@]} files, $jobs at a time ($(clang-tidy --version | grep -o 'version [0-9.]*'))"
start=$SECONDS
# One log and one exit code per file; xargs goes on past a failing file.
printf '%s\0' "${files[@]}" | xargs -0 -n1 -P "$jobs" sh -c '
  log="$2/$(printf %s "$3" | tr / _)"
  clang-tidy -p "$1" --quiet --warnings-as-errors="*" "$3" >"$log.out" 2>&1
  echo $? >"$log.rc"
' sh "$build_dir" "$out"
elapsed=$((SECONDS - start))

# clang-tidy prints "/abs/path:line:col: error: message [check,-warnings-as-errors]"
# and, for readability-function-size, a note at the same place with the count.
status=0
python3 - "$root" "$out" "${#files[@]}" "$elapsed" <<'EOF' || status=$?
import collections, glob, re, sys
root, out, nfiles, elapsed = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
diag = re.compile(r"^(\S+?):(\d+):\d+: (warning|error): (.*?)(?: \[([^\]]+)\])?$")
size = re.compile(r"^(\S+?):(\d+):\d+: note: (\d+ lines) including whitespace")
findings, sizes, failed = set(), {}, []
for rc_path in sorted(glob.glob(out + "/*.rc")):
    log = rc_path[:-3] + ".out"
    if open(rc_path).read().strip() != "0":
        failed.append(log)
    for line in open(log, errors="replace"):
        line = line.rstrip("\n").replace(root + "/", "")
        if m := diag.match(line):
            check = (m.group(5) or "compiler-error").replace(",-warnings-as-errors", "")
            findings.add((m.group(1), int(m.group(2)), check, m.group(4)))
        elif m := size.match(line):
            sizes[(m.group(1), int(m.group(2)))] = m.group(3)
for path, line, check, msg in sorted(findings):
    extra = f" ({sizes[(path, line)]})" if (path, line) in sizes else ""
    print(f"{path}:{line}: {check}: {msg}{extra}")
if findings:
    print("-- by check:")
    for check, n in collections.Counter(f[2] for f in findings).most_common():
        print(f"{n:5d} {check}")
elif failed:
    # clang-tidy failed without a finding we could parse: show its output.
    for log in failed:
        sys.stdout.write(open(log, errors="replace").read())
if findings or failed:
    print(f"== clang-tidy FAILED: {len(findings)} finding(s) in "
          f"{len({f[0] for f in findings})} file(s) ({elapsed}s)")
    sys.exit(1)
print(f"== clang-tidy passed: {nfiles} files, no findings ({elapsed}s)")
EOF
exit "$status"
