#!/usr/bin/env bash
# The Debian package with the real dpkg: builds the .deb from an existing build
# dir (cpack, no rebuild), checks its files, control fields and conffiles,
# installs it, runs the installed binary as the pgwarden user on the shipped
# config, checks the user, the config's mode and the unit's keys, then removes
# and purges it and checks that nothing is left.
#   tests/package/package_test.sh BUILD_DIR VERSION
# Exits 77 (skipped) unless root with dpkg, or when a pgwarden package, user or
# directory already exists (the test never touches what it did not create).
set -euo pipefail
build_dir=$(cd "$1" && pwd)
version=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
start=$(date +%s%N)

skip() {
  echo "SKIP: $*"
  exit 77
}
[ "$(id -u)" = 0 ] || skip "needs root (dpkg -i)"
command -v dpkg >/dev/null && command -v dpkg-deb >/dev/null || skip "dpkg not found"
command -v dpkg-shlibdeps >/dev/null || skip "dpkg-shlibdeps not found (dpkg-dev)"
if dpkg-query -W -f='${db:Status-Status}' pgwarden 2>/dev/null | grep -qv '^not-installed$'; then
  skip "a pgwarden package is already installed"
fi
getent passwd pgwarden >/dev/null && skip "a user pgwarden already exists"
getent group pgwarden >/dev/null && skip "a group pgwarden already exists"
for d in /var/lib/pgwarden /etc/pgwarden; do [ ! -e "$d" ] || skip "$d already exists"; done

tmp=$(mktemp -d)
installed=0
cleanup() {
  if [ "$installed" = 1 ]; then dpkg -P pgwarden >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# expect_line FILE LINE: FILE holds LINE exactly.
expect_line() { grep -qxF -- "$2" "$1" || fail "$1: no line '$2'"; }

# 1. The .deb, from this build dir.
deb=$(bash "$root/scripts/package.sh" "$build_dir" "$tmp" | tail -n 1)
[ -f "$deb" ] || fail "package.sh made no .deb"
echo "package: $(basename "$deb"), $(stat -c %s "$deb") bytes"

# 2. Its files: the binary, the config (0640), the unit; nothing else runnable,
# no static library, no test or benchmark binary.
dpkg-deb -c "$deb" >"$tmp/contents"
awk '{print $1, $6}' "$tmp/contents" >"$tmp/files"
expect_line "$tmp/files" "-rwxr-xr-x ./usr/bin/pgwarden"
expect_line "$tmp/files" "-rw-r----- ./etc/pgwarden/pgwarden.yaml"
expect_line "$tmp/files" "-rw-r--r-- ./lib/systemd/system/pgwarden.service"
regular=$(awk '$1 ~ /^-/ {print $6}' "$tmp/contents" | sort | tr '\n' ' ')
expected="./etc/pgwarden/pgwarden.yaml ./lib/systemd/system/pgwarden.service ./usr/bin/pgwarden "
[ "$regular" = "$expected" ] || fail "unexpected files in the package: $regular"

# 3. Control fields and maintainer scripts.
[ "$(dpkg-deb -f "$deb" Package)" = pgwarden ] || fail "Package is not pgwarden"
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "Version is not $version"
[ -n "$(dpkg-deb -f "$deb" Maintainer)" ] || fail "no Maintainer"
[ -n "$(dpkg-deb -f "$deb" Section)" ] || fail "no Section"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for lib in adduser libpqxx libmicrohttpd libyaml-cpp libprometheus-cpp libabsl libc6; do
  [[ "$depends" == *"$lib"* ]] || fail "Depends lacks $lib: $depends"
done
dpkg-deb -e "$deb" "$tmp/control"
[ "$(cat "$tmp/control/conffiles")" = /etc/pgwarden/pgwarden.yaml ] ||
  fail "conffiles is not /etc/pgwarden/pgwarden.yaml: $(cat "$tmp/control/conffiles")"
for s in postinst prerm postrm; do [ -x "$tmp/control/$s" ] || fail "no executable $s"; done

# 4. The packaged binary is the one this build dir's tests ran (same build id;
# the package's copy is stripped).
build_id() { readelf -n "$1" | awk '/Build ID/ {print $3}'; }
dpkg-deb -x "$deb" "$tmp/root"
if command -v readelf >/dev/null && [ -n "$(build_id "$build_dir/pgwarden")" ]; then
  [ "$(build_id "$tmp/root/usr/bin/pgwarden")" = "$(build_id "$build_dir/pgwarden")" ] ||
    fail "the packaged binary is not $build_dir/pgwarden"
fi

# 5. Install (twice: the second is an upgrade in place, postinst idempotent).
installed=1
t0=$(date +%s%N)
dpkg -i "$deb" >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "dpkg -i"; }
echo "dpkg -i: $((($(date +%s%N) - t0) / 1000000)) ms"
dpkg -i "$deb" >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "second dpkg -i"; }
[ "$(dpkg-query -W -f='${db:Status-Status}' pgwarden)" = installed ] || fail "not installed"
/usr/bin/pgwarden --version | grep -qF "$version" || fail "pgwarden --version does not say $version"

# 6. The service user: a system user and group, home the state dir, no login.
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd pgwarden) || fail "no user pgwarden"
[ "$uid" -lt 1000 ] || fail "pgwarden is not a system user (uid $uid)"
[ "$(getent group pgwarden | cut -d: -f3)" = "$gid" ] || fail "pgwarden's group is not pgwarden"
[ "$home" = /var/lib/pgwarden ] || fail "pgwarden's home is $home"
[[ "$shell" == */nologin || "$shell" == */false ]] || fail "pgwarden's shell is $shell"

# 7. The config: root's, readable by the group only.
[ "$(stat -c '%a %U %G' /etc/pgwarden/pgwarden.yaml)" = "640 root pgwarden" ] ||
  fail "config is $(stat -c '%a %U %G' /etc/pgwarden/pgwarden.yaml), not 640 root pgwarden"
grep -qE '^state_dir: /var/lib/pgwarden( |$)' /etc/pgwarden/pgwarden.yaml || fail "config's state_dir"
if runuser -u nobody -- cat /etc/pgwarden/pgwarden.yaml >/dev/null 2>&1; then
  fail "nobody can read the config"
fi

# 8. The unit: its own user, the state directory, the hardening, reload.
unit=/lib/systemd/system/pgwarden.service
for line in "User=pgwarden" "Group=pgwarden" "StateDirectory=pgwarden" \
  "ExecStart=/usr/bin/pgwarden run --config /etc/pgwarden/pgwarden.yaml" \
  'ExecReload=/bin/kill -HUP $MAINPID' "Restart=on-failure" "ProtectSystem=strict" \
  "NoNewPrivileges=yes" "PrivateTmp=yes" "ProtectHome=yes" "WantedBy=multi-user.target"; do
  expect_line "$unit" "$line"
done
nofile=$(sed -n 's/^LimitNOFILE=//p' "$unit")
[ -n "$nofile" ] && [ "$nofile" -ge 8192 ] || fail "LimitNOFILE=$nofile, below 8192"
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify "$unit" >"$tmp/verify.log" 2>&1 || { cat "$tmp/verify.log" >&2; fail "systemd-analyze verify"; }
  if grep -i 'pgwarden.service' "$tmp/verify.log"; then fail "systemd-analyze verify warns about the unit"; fi
fi

# 9. The shipped config is valid as written, read as the service reads it (as
# pgwarden); `check` then connects (exit 1 without a server), never 2. A bad
# key in a copy is exit 2, naming the file and key: the validation is real.
rc=0
runuser -u pgwarden -- /usr/bin/pgwarden check --config /etc/pgwarden/pgwarden.yaml \
  >"$tmp/check.out" 2>&1 || rc=$?
grep -q '^config /etc/pgwarden/pgwarden.yaml: ok' "$tmp/check.out" ||
  fail "pgwarden check rejects the shipped config (exit $rc): $(cat "$tmp/check.out")"
[ "$rc" != 2 ] || fail "pgwarden check: exit 2 on the shipped config"
sed 's/^interval: 1s/interval: 1s\nintervall: 2s/' /etc/pgwarden/pgwarden.yaml >"$tmp/bad.yaml"
rc=0
/usr/bin/pgwarden check --config "$tmp/bad.yaml" >"$tmp/bad.out" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q 'bad.yaml:.*intervall: unknown key' "$tmp/bad.out" ||
  fail "a bad key was not rejected (exit $rc): $(cat "$tmp/bad.out")"

# 10. Remove: the program and the unit go, the config (a conffile) and the
# user stay. Purge: the config, the user, the group and the state dir go.
install -d -o pgwarden -g pgwarden -m 0750 /var/lib/pgwarden
install -o pgwarden -g pgwarden -m 0600 /dev/null /var/lib/pgwarden/incidents.json
dpkg -r pgwarden >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "dpkg -r"; }
[ ! -e /usr/bin/pgwarden ] && [ ! -e "$unit" ] || fail "dpkg -r left the binary or the unit"
[ -f /etc/pgwarden/pgwarden.yaml ] || fail "dpkg -r removed the conffile"
getent passwd pgwarden >/dev/null || fail "dpkg -r removed the user"
dpkg -P pgwarden >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "dpkg -P"; }
installed=0
for path in /etc/pgwarden /var/lib/pgwarden; do [ ! -e "$path" ] || fail "dpkg -P left $path"; done
! getent passwd pgwarden >/dev/null || fail "dpkg -P left the user pgwarden"
! getent group pgwarden >/dev/null || fail "dpkg -P left the group pgwarden"
if dpkg-query -W -f='${db:Status-Status}' pgwarden 2>/dev/null | grep -qv '^not-installed$'; then
  fail "dpkg still knows pgwarden"
fi
echo "package test: $((($(date +%s%N) - start) / 1000000)) ms"
