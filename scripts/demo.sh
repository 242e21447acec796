#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine (as root) and runs the demo:
# a throwaway PostgreSQL with a shop, normal traffic, the agent, a local pager,
# and a cleanup script run against the wrong database.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
PGWARDEN_BUILD_TYPE=RelWithDebInfo bash scripts/build.sh build -DPGWARDEN_BUILD_TESTS=OFF -DPGWARDEN_BUILD_BENCH=OFF
exec build/pgwarden demo "$@"
