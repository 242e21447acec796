# The Debian package (`bash scripts/package.sh [BUILD_DIR]`, or `cpack -G DEB`
# in a configured build dir): the pgwarden binary, an example config (a
# conffile), the systemd unit and the maintainer scripts from packaging/.
#
# Only cmd/ installs anything (the binary); test and benchmark binaries and
# the static libraries have no install() rule, so they never reach the package.

set(_pkg ${PROJECT_SOURCE_DIR}/packaging)

# Absolute destinations: the DEB generator installs into its staging root, so
# /etc and /lib stay where dpkg expects them whatever the install prefix.
install(FILES ${_pkg}/pgwarden.yaml DESTINATION /etc/pgwarden
  PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
install(FILES ${_pkg}/pgwarden.service DESTINATION /lib/systemd/system
  PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

# `make install` and cpack's preinstall step do not build everything first:
# scripts/package.sh builds the pgwarden target, and a test build dir already
# holds it, so packaging never rebuilds the tests.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME pgwarden)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR pgwarden)
set(CPACK_PACKAGE_CONTACT "pgwarden maintainers <pgwarden@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "PostgreSQL agent that pages on, and stops, mass deletions")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The extended description; the summary above is its first line.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "pgwarden sits next to a PostgreSQL database and notices, within seconds, a
script deleting live rows, a dropped table or column, a failed-login storm.
It exports Prometheus metrics, pages on-call (PagerDuty, Alertmanager, Slack,
webhooks) and, where allowed, takes the login away from the offending role.

The package installs a systemd unit (pgwarden.service, not enabled) and an
example configuration in /etc/pgwarden/pgwarden.yaml.")
# Depends from the binary's shared libraries (dpkg-shlibdeps), plus adduser
# for the maintainer scripts.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS adduser)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${_pkg}/conffiles ${_pkg}/postinst ${_pkg}/prerm ${_pkg}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
