# CPack: a Debian package (`cpack -G DEB`, or scripts/package). The maintainer scripts link the libvirt
# hook on install and remove the link on removal, through `gpu-handover install` and `uninstall`, so
# the package follows the same ownership rules as a hand install: another program's hook is never
# touched.
set(CPACK_PACKAGE_NAME gpu-handover)
set(CPACK_PACKAGE_VENDOR gpu-handover)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "lends a desktop GPU to a libvirt/QEMU guest and takes it back")
set(CPACK_PACKAGE_DESCRIPTION
    "gpu-handover is installed as libvirt's qemu hook. When a guest that has opted in starts, it stops\n\
the display manager if needed, ends the processes holding the GPU, unloads the driver's modules\n\
(never forced) and binds the GPU and its HDMI audio to vfio-pci. When the guest stops, it undoes\n\
exactly those steps, in reverse, from a journal under /run/gpu-handover. No reboot.")
set(CPACK_PACKAGE_CONTACT "gpu-handover developers <gpu-handover@localhost>" CACHE STRING
    "Maintainer field of the Debian package")
# The binaries carry their install paths (GH_TOOL_PATH, GH_HOOK_PATH): package under the same prefix.
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_GENERATOR DEB)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_PACKAGE_NAME gpu-handover)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${CPACK_PACKAGE_CONTACT})
find_program(GH_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(GH_DPKG_SHLIBDEPS)
  # The exact libraries and versions the binaries link (libc6, libxml2, libkmod2, libsystemd0).
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  # pidfd_open and pidfd_send_signal need glibc 2.36 (Debian 12).
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6 (>= 2.36), libxml2 (>= 2.9), libkmod2, libsystemd0")
endif()
# libvirt runs the hook; `check` also asks libvirt itself.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libvirt-daemon-system, libvirt0")

# Maintainer scripts name the installed tool by its path; conffiles keep the admin's edits on upgrade.
set(GH_DEB_DIR ${CMAKE_CURRENT_BINARY_DIR}/deb)
configure_file(${PROJECT_SOURCE_DIR}/config/deb/postinst.in ${GH_DEB_DIR}/postinst @ONLY)
configure_file(${PROJECT_SOURCE_DIR}/config/deb/prerm.in ${GH_DEB_DIR}/prerm @ONLY)
file(WRITE ${GH_DEB_DIR}/conffiles "${CMAKE_INSTALL_FULL_SYSCONFDIR}/gpu-handover/gpu-handover.conf\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${GH_DEB_DIR}/postinst ${GH_DEB_DIR}/prerm ${GH_DEB_DIR}/conffiles)
# Scripts 0755, conffiles 0644, whatever the umask of the build.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)

# `ctest -L package`: builds the .deb in its own directory and checks its contents and maintainer scripts
# in throwaway roots. Needs root; about half a minute; scripts/test runs it.
if(GH_BUILD_TESTS)
  add_test(NAME package-deb COMMAND ${PROJECT_SOURCE_DIR}/tests/package/check-deb.sh
           ${CMAKE_BINARY_DIR}/package-test)
  set_tests_properties(package-deb PROPERTIES LABELS package TIMEOUT 900 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
endif()
