#!/usr/bin/env bash
# Configures and builds pgwarden into build/ (or $1), warnings as errors.
# PGWARDEN_TARGETS (space-separated) builds only those targets.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${1:-build}"
shift || true
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="${PGWARDEN_BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
# shellcheck disable=SC2086 # the target list is split on purpose
cmake --build "$build_dir" -j "${PGWARDEN_JOBS:-2}" ${PGWARDEN_TARGETS:+--target $PGWARDEN_TARGETS}
