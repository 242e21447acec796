#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine (as root) and runs the whole
# test suite: format and file size checks, the warnings-as-errors build,
# clang-tidy on our sources (any finding fails), unit and integration tests
# (real PostgreSQL 15, Prometheus, Alertmanager and HTTP receivers, all started
# by the tests on 127.0.0.1), then the same tests under AddressSanitizer +
# UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${PGWARDEN_SKIP_INSTALL:-0}" != 1 ]; then bash scripts/install-deps.sh; fi

echo "== clang-format check"
bash scripts/format.sh --check
bash scripts/check_sizes.sh

# Every option is set here: build/ may hold a cache configured otherwise (the
# demo turns tests and benchmarks off).
echo "== build (RelWithDebInfo, -Werror)"
PGWARDEN_BUILD_TYPE=RelWithDebInfo bash scripts/build.sh build \
  -DPGWARDEN_SANITIZE=OFF -DPGWARDEN_BUILD_TESTS=ON -DPGWARDEN_BUILD_BENCH=ON
bash scripts/tidy.sh build
echo "== tests"
(cd build && ctest --output-on-failure --no-tests=error -j2 --timeout 600)

if [ "${PGWARDEN_SKIP_SANITIZE:-0}" != 1 ]; then
  echo "== build (ASan + UBSan)"
  PGWARDEN_BUILD_TYPE=Debug bash scripts/build.sh build-asan \
    -DPGWARDEN_SANITIZE=ON -DPGWARDEN_BUILD_TESTS=ON -DPGWARDEN_BUILD_BENCH=OFF
  echo "== tests under ASan + UBSan"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export LSAN_OPTIONS=suppressions=$PWD/scripts/lsan.supp
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  (cd build-asan && ctest --output-on-failure --no-tests=error -j2 --timeout 900)
fi
echo "== all tests passed"
