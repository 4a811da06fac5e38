# What `cmake --install` puts where (the binary in sbin, the unit with that path, the sample main.cf
# as /etc/ringrelay/main.cf, the starter reply rules, the man pages, the logrotate file, the
# documents), and the Debian package (`cpack -G DEB` in a release build, prefix /usr), whose
# maintainer scripts (deploy/debian/) create the ringrelay user and its directories.
include(GNUInstallDirs)
# Installing needs the ringrelay binary only, not the tests and benchmarks (`cpack` would build all).
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

install(TARGETS ringrelay RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})

# The unit names the binary where this installation puts it: written at install time, when the
# prefix is known (cpack installs with /usr, `cmake --install` with CMAKE_INSTALL_PREFIX).
install(CODE "
  file(READ \"${PROJECT_SOURCE_DIR}/deploy/ringrelay.service\" unit)
  string(REPLACE \"/usr/local/bin/ringrelay\"
         \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_SBINDIR}/ringrelay\" unit \"\${unit}\")
  file(WRITE \"${PROJECT_BINARY_DIR}/deploy/ringrelay.service\" \"\${unit}\")")
install(FILES ${PROJECT_BINARY_DIR}/deploy/ringrelay.service DESTINATION lib/systemd/system)

# The configuration lives where `ringrelay` looks for it without -c, whatever the prefix.
install(FILES ${PROJECT_SOURCE_DIR}/deploy/main.cf.sample
        DESTINATION /etc/ringrelay RENAME main.cf
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/reply-rules.pcre
        DESTINATION /etc/ringrelay)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/ringrelay.logrotate
        DESTINATION /etc/logrotate.d RENAME ringrelay)
install(FILES ${PROJECT_SOURCE_DIR}/docs/man/ringrelay.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${PROJECT_SOURCE_DIR}/docs/man/ringrelay.conf.5
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/LICENSE
              ${PROJECT_SOURCE_DIR}/NOTICE ${PROJECT_SOURCE_DIR}/deploy/grafana/ringrelay-dashboard.json
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}
        FILES_MATCHING PATTERN "*.md" PATTERN "*.png" PATTERN "man" EXCLUDE)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ringrelay)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "ringrelay developers <ringrelay-dev@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "high-throughput outbound SMTP/LMTP relay engine")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION mail)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd")
# The SASL plugins (smtp_sasl_auth_enable), never one whose DIGEST-MD5 client overflows a heap
# buffer on a hostile server's challenge (CVE-2026-107161, fixed in bookworm-security).
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libsasl2-modules (>= 2.1.28+dfsg-10+deb12u1)")
set(CPACK_DEBIAN_PACKAGE_BREAKS "libsasl2-modules (<< 2.1.28+dfsg-10+deb12u1)")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${PROJECT_SOURCE_DIR}/deploy/debian/postinst;${PROJECT_SOURCE_DIR}/deploy/debian/prerm;${PROJECT_SOURCE_DIR}/deploy/debian/postrm;${PROJECT_SOURCE_DIR}/deploy/debian/conffiles")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_WARN_ON_ABSOLUTE_INSTALL_DESTINATION OFF)  # /etc/ringrelay, on purpose
include(CPack)
