# The boot-time claim unit (config/gpu-handover-claim.service), with the tool's installed path filled
# in, goes where systemd looks for system units: pkg-config systemd's systemdsystemunitdir, or
# PREFIX/lib/systemd/system without it. -DGH_SYSTEMD_UNIT_DIR=... overrides both.
pkg_get_variable(gh_systemd_unit_dir systemd systemdsystemunitdir)
if(NOT gh_systemd_unit_dir)
  set(gh_systemd_unit_dir "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
endif()
set(GH_SYSTEMD_UNIT_DIR "${gh_systemd_unit_dir}" CACHE PATH "Where the systemd system unit is installed")

set(sbindir "${CMAKE_INSTALL_FULL_SBINDIR}")
configure_file(${PROJECT_SOURCE_DIR}/config/gpu-handover-claim.service
               ${PROJECT_BINARY_DIR}/gpu-handover-claim.service @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/gpu-handover-claim.service DESTINATION ${GH_SYSTEMD_UNIT_DIR})
