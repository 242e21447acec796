#!/usr/bin/env bash
# Installs everything pgwarden needs to build, test and run its demo on Debian 12.
# Run as root. Idempotent.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends \
  build-essential cmake pkg-config git ca-certificates curl procps python3 \
  clang-format clang-tidy \
  prometheus-cpp-dev libpqxx-dev libpq-dev libabsl-dev libcpp-httplib-dev libssl-dev libmicrohttpd-dev libgnutls28-dev libcrypt-dev \
  catch2 libyaml-cpp-dev nlohmann-json3-dev libbenchmark-dev zlib1g-dev \
  postgresql-15 postgresql-contrib-15 postgresql-client-15 \
  prometheus prometheus-alertmanager \
  chromium fonts-dejavu-core
# The Debian packages start system services; pgwarden's tests and demo start
# their own throwaway servers, so the system ones are stopped to free ports.
for svc in postgresql prometheus prometheus-alertmanager prometheus-node-exporter; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
  fi
  if command -v service >/dev/null 2>&1; then service "$svc" stop >/dev/null 2>&1 || true; fi
done
