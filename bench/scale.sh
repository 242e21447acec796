#!/usr/bin/env bash
# Whole-process figures: the agent's CPU share, peak RSS and /metrics scrape
# time while watching N tables (default 5000) at a 1 s interval for S seconds.
# Usage: bash bench/scale.sh [TABLES] [SECONDS] [--path stream|statements|stats]
#          [--statements N]   (after scripts/build.sh)
# --path / --statements: the agent on that path as role pgwarden, N entries
# in pg_stat_statements, a small write load, and the CPU of its server
# processes as well (see bench/scale/scale_bench.cc).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/bench/scale/scale_bench ] || bash scripts/build.sh build
exec build/bench/scale/scale_bench "${1:-5000}" "${2:-60}" "${@:3}"
