#!/usr/bin/env bash
# Formats the C++ sources with clang-format (--check: fail if any would change).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cc' '*.h' '*.h.in' | grep -v '\.h\.in$')
if [ "${1:-}" = "--check" ]; then
  clang-format --dry-run --Werror "${files[@]}"
else
  clang-format -i "${files[@]}"
fi
