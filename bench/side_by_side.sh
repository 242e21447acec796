#!/usr/bin/env bash
# pgwarden next to Debian's postgres_exporter (0.11.1, its example queries
# file) on one throwaway PostgreSQL 15 cluster with N tables, both scraped
# once a second for S seconds: CPU of each process and of its server
# processes, peak RSS, median scrape time and bytes, and the ratio
# exporter / pgwarden (see bench/side_by_side/side_by_side_bench.cc).
# Usage: bash bench/side_by_side.sh [--tables N=5000] [--seconds S=60]
#          [--databases D=1]
# Installs prometheus-postgres-exporter if missing (as root), without letting
# Debian start its packaged service; the bench runs its own instance on a
# free port on 127.0.0.1. Builds build/ (or $PGWARDEN_BUILD_DIR) if the bench
# is not there; $PGWARDEN names another pgwarden binary.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! dpkg -s prometheus-postgres-exporter >/dev/null 2>&1; then
  # policy-rc.d exit 101: invoke-rc.d starts no service during the install.
  added_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    added_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y prometheus-postgres-exporter ||
    { apt-get update && apt-get install -y prometheus-postgres-exporter; }
  if [ "$added_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
  # Under systemd the unit may still have been started: stop the one we installed.
  if [ -d /run/systemd/system ] && systemctl is-active --quiet prometheus-postgres-exporter; then
    systemctl stop prometheus-postgres-exporter
  fi
fi

build_dir="${PGWARDEN_BUILD_DIR:-build}"
bench="$build_dir/bench/side_by_side/side_by_side_bench"
pgwarden="${PGWARDEN:-$build_dir/pgwarden}"
if [ ! -x "$bench" ] || [ ! -x "$pgwarden" ]; then bash scripts/build.sh "$build_dir"; fi
exec "$bench" --pgwarden "$pgwarden" "$@"
