#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine (as root) and runs the whole
# test suite: format and file size checks, the warnings-as-errors build,
# clang-tidy on our sources (any finding fails), unit and integration tests
# (real PostgreSQL 15, Prometheus, Alertmanager and HTTP receivers, all started
# by the tests on 127.0.0.1), then the unit tests and the end-to-end cases
# under AddressSanitizer + UndefinedBehaviorSanitizer.
#
# clang-tidy runs beside the plain tests under SCHED_IDLE (chrt --idle): the
# integration tests mostly wait on servers, and an idle-class process gets a
# core only when nothing else wants it, so the tests' latency bounds hold.
# The sanitizer build (normal priority) comes after the plain tests: built
# beside them it has made latency-bound tests miss their bounds on two cores.
# PGWARDEN_SERIAL=1 runs every step in turn.
set -euo pipefail
cd "$(dirname "$0")/.."
# step NAME prints a step's heading with the seconds since the start.
step() { echo "== $* (at ${SECONDS}s)"; }
if [ "${PGWARDEN_SKIP_INSTALL:-0}" != 1 ]; then bash scripts/install-deps.sh; fi
sanitize=$([ "${PGWARDEN_SKIP_SANITIZE:-0}" != 1 ] && echo 1 || echo 0)
serial=${PGWARDEN_SERIAL:-0}

step "clang-format check"
bash scripts/format.sh --check
bash scripts/check_sizes.sh

# Every option is set here: build/ may hold a cache configured otherwise (the
# demo turns tests and benchmarks off).
# -O2 without debug information: the same code as the RelWithDebInfo build
# (benchmarks included), compiled and linked about a third faster.
step "build (-O2, -Werror)"
PGWARDEN_BUILD_TYPE=Release bash scripts/build.sh build -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
  -DPGWARDEN_SANITIZE=OFF -DPGWARDEN_BUILD_TESTS=ON -DPGWARDEN_BUILD_BENCH=ON

logs=$(mktemp -d)
# cleanup stops what still runs in the background (each step is a process
# group of its own) when the script ends early.
cleanup() {
  for f in "$logs"/*.pgid; do
    [ -f "$f" ] && kill -- "-$(cat "$f")" 2>/dev/null || true
  done
  rm -rf "$logs"
}
trap cleanup EXIT

# background NAME CMD... runs CMD in the idle class, its output to $logs/NAME.
background() {
  local name=$1
  shift
  if [ "$serial" = 1 ]; then
    "$@" >"$logs/$name" 2>&1 && echo 0 >"$logs/$name.rc" || echo $? >"$logs/$name.rc"
    return
  fi
  (setsid bash -c 'echo $$ >"$0"; exec chrt --idle 0 nice -n 19 "$@"' "$logs/$name.pgid" "$@" \
    >"$logs/$name" 2>&1 && echo 0 >"$logs/$name.rc" || echo $? >"$logs/$name.rc") &
}
# finish NAME waits for a background step, prints its output, fails on error.
finish() {
  local name=$1
  local waited=0
  while [ ! -f "$logs/$name.rc" ] && [ "$waited" -lt 5400 ]; do
    sleep 2
    waited=$((waited + 2))
  done
  [ -f "$logs/$name.rc" ] || echo 124 >"$logs/$name.rc"
  step "$name (output)"
  cat "$logs/$name"
  if [ "$(cat "$logs/$name.rc")" != 0 ]; then
    echo "== $name FAILED"
    exit 1
  fi
}

background clang-tidy bash scripts/tidy.sh build

step "tests"
(cd build && ctest --output-on-failure --no-tests=error -j2 --timeout 600)

if [ "$sanitize" = 1 ]; then
  # Line tables (-g1) are all a sanitizer report needs.
  # Under the sanitizers: every unit test, and the integration cases that
  # run the product end to end (the release scenarios, incidents grouped by
  # cause, the recovery point, the WAL archive and restore, remediation in enforce
  # mode, the change stream's crash cases). The other integration cases wait
  # on servers for most of their time and run the same code; they run in the
  # plain pass above (this keeps CI well inside its time budget).
  asan_set='^Scenario|^Incidents:|^Recovery point|^WAL archive|^Restore:|^Enforce: a huge|counts are exact across crashes|^Server target'
  # Only the binaries those cases run are built (their names come from the
  # plain build's test list), and the build is a unity build (eight files
  # a compile: the headers are parsed once for all eight).
  asan_targets=$(
    cd build
    {
      ctest -N -V -L unit
      ctest -N -V -L integration -R "$asan_set" -E 'normal churn'
    } | sed -n "s|^.*Test command: $PWD/\([^ ]*\).*|\1|p" | xargs -n1 basename | sort -u | tr '\n' ' '
  )
  step "build with ASan + UBSan (-O0 -g1): pgwarden $asan_targets"
  PGWARDEN_TARGETS="pgwarden alerting_notify_helper $asan_targets" PGWARDEN_BUILD_TYPE=Debug \
    bash scripts/build.sh build-asan -DCMAKE_CXX_FLAGS_DEBUG=-g1 \
    -DPGWARDEN_SANITIZE=ON -DPGWARDEN_BUILD_TESTS=ON -DPGWARDEN_BUILD_BENCH=OFF \
    -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=8
  step "tests under ASan + UBSan"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export LSAN_OPTIONS=suppressions=$PWD/scripts/lsan.supp
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  (cd build-asan && ctest --output-on-failure --no-tests=error -j2 --timeout 900 -L unit)
  (cd build-asan && ctest --output-on-failure --no-tests=error -j2 --timeout 900 -L integration \
    -R "$asan_set" -E 'normal churn')
fi
finish clang-tidy
step "all tests passed"
