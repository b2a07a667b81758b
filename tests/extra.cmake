# The real-kernel end-to-end test: scripts/vm-test boots Debian's kernel under QEMU (TCG) and runs
# tests/e2e/scenarios against this build. Needs root, Debian's apt (network on the first run) and minutes.
# `ctest -L e2e` runs it alone, `ctest -LE e2e` everything else.
option(GH_E2E_TESTS "Register the e2e-vm test (root, QEMU, minutes of TCG)" ON)
if(GH_E2E_TESTS)
  add_test(NAME e2e-vm COMMAND ${PROJECT_SOURCE_DIR}/scripts/vm-test ${CMAKE_BINARY_DIR})
  set_tests_properties(e2e-vm PROPERTIES LABELS e2e TIMEOUT 3600 RUN_SERIAL TRUE)
endif()
