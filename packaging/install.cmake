# install.cmake — the install-time part of `make install` and of the .deb (CMakeLists.txt runs
# it with install(SCRIPT)); CMAKE_INSTALL_PREFIX here is the prefix installed to, not the one
# configured, and file(INSTALL) puts DESTDIR in front of every destination.
#
# The example config: with the prefix /usr (the .deb, or `make install PREFIX=/usr`) it becomes
# the live config, /etc/pglive/pglive.conf, where the unit reads it (one already there is kept,
# as dpkg keeps a changed conffile). With any other prefix
# (default /usr/local) nothing is written outside the prefix: it is installed as
# PREFIX/share/pglive/pglive.conf.example, to copy to /etc/pglive/pglive.conf.
#
# The systemd unit goes to PREFIX/lib/systemd/system (systemd looks in /usr/lib and
# /usr/local/lib), its ExecStart= naming PREFIX/bin/pglive.

if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  if(EXISTS "$ENV{DESTDIR}/etc/pglive/pglive.conf")  # an administrator's edits are kept (CPack's root is new)
    message(STATUS "Keeping: $ENV{DESTDIR}/etc/pglive/pglive.conf (the new example: ${PGLIVE_SOURCE_DIR}/config/pglive.conf)")
  else()
    file(INSTALL "${PGLIVE_SOURCE_DIR}/config/pglive.conf" DESTINATION "/etc/pglive"
         FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  endif()
else()
  file(INSTALL "${PGLIVE_SOURCE_DIR}/config/pglive.conf" DESTINATION "${CMAKE_INSTALL_PREFIX}/share/pglive"
       RENAME pglive.conf.example FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endif()

file(READ "${PGLIVE_SOURCE_DIR}/packaging/pglive.service" unit)
string(REPLACE "ExecStart=/usr/bin/pglive " "ExecStart=${CMAKE_INSTALL_PREFIX}/bin/pglive " unit "${unit}")
file(WRITE "${PGLIVE_BINARY_DIR}/packaging/pglive.service" "${unit}")
file(INSTALL "${PGLIVE_BINARY_DIR}/packaging/pglive.service" DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system"
     FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
