#!/usr/bin/env bash
# Fails if a tracked C++, Python or shell source file is over 450 lines (data
# and docs such as JSON, YAML and Markdown are not counted), listing each one.
set -euo pipefail
cd "$(dirname "$0")/.."
limit=450
over=0
echo "== file size check: C++, Python and shell sources, $limit lines at most"
while IFS= read -r -d '' f; do
  [ -f "$f" ] || continue
  n=$(wc -l <"$f")
  if [ "$n" -gt "$limit" ]; then
    echo "  $f: $n lines"
    over=$((over + 1))
  fi
done < <(git ls-files -z '*.cc' '*.h' '*.py' '*.sh')
if [ "$over" -gt 0 ]; then
  echo "== file size check FAILED: $over file(s) over $limit lines"
  exit 1
fi
echo "   passed"
