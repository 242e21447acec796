#!/usr/bin/env bash
# Builds the Debian package (pgwarden_<version>_<arch>.deb) with CPack's DEB
# generator: /usr/bin/pgwarden, /etc/pgwarden/pgwarden.yaml (a conffile), the
# systemd unit and the maintainer scripts of packaging/.
#   scripts/package.sh [BUILD_DIR [OUT_DIR]]
# BUILD_DIR (default build-package) is configured and built as a Release build
# (tests and benchmarks off) when it does not exist yet. An existing build dir
# is reused as it is: only the pgwarden target is brought up to date (a no-op
# in a finished build), so a test build dir packages the binary its tests ran.
# The .deb goes to OUT_DIR (default BUILD_DIR); its path is printed last.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${1:-build-package}"
out_dir="${2:-$build_dir}"
for tool in cpack dpkg-deb dpkg-shlibdeps; do
  if ! command -v "$tool" >/dev/null; then
    echo "package: $tool not found (cmake, dpkg-dev)" >&2
    exit 2
  fi
done

if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  PGWARDEN_BUILD_TYPE=Release bash scripts/build.sh "$build_dir" -DPGWARDEN_SANITIZE=OFF \
    -DPGWARDEN_BUILD_TESTS=OFF -DPGWARDEN_BUILD_BENCH=OFF
else
  if grep -q '^PGWARDEN_SANITIZE:BOOL=ON' "$build_dir/CMakeCache.txt"; then
    echo "package: $build_dir is a sanitizer build; package a Release build instead" >&2
    exit 2
  fi
  # A build dir configured before the packaging rules existed lacks them.
  if [ ! -f "$build_dir/CPackConfig.cmake" ]; then cmake "$build_dir" >/dev/null; fi
  cmake --build "$build_dir" -j "${PGWARDEN_JOBS:-2}" --target pgwarden
fi

mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
(cd "$build_dir" && cpack -G DEB -B "$out_dir" >"$out_dir/cpack.log" 2>&1) || {
  cat "$out_dir/cpack.log" >&2
  exit 1
}
rm -rf "$out_dir/_CPack_Packages"
deb=$(ls -t "$out_dir"/pgwarden_*.deb | head -n 1)
echo "$deb"
