# The fake kernel (tests/preload/fake-kernel.c): an LD_PRELOAD shim under which writes into a fakesys tree
# act like the kernel's. gh_test_use_fake_kernel(TEST) runs a test under it, with its trees below
# GH_FAKE_KERNEL_ROOT, and with a timeout: a write that blocks outside a child then fails the test.
if(NOT TARGET gh-fake-kernel)
  add_library(gh-fake-kernel MODULE ${CMAKE_CURRENT_LIST_DIR}/preload/fake-kernel.c)
  target_link_libraries(gh-fake-kernel PRIVATE ${CMAKE_DL_LIBS})
  set_target_properties(gh-fake-kernel PROPERTIES PREFIX "" OUTPUT_NAME fake-kernel)
endif()

function(gh_test_use_fake_kernel test)
  add_dependencies(${test} gh-fake-kernel)
  set(preload $<TARGET_FILE:gh-fake-kernel>)
  if(GH_SANITIZE)
    # The sanitizer runtime must come first among the preloaded objects.
    execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
                    OUTPUT_VARIABLE asan OUTPUT_STRIP_TRAILING_WHITESPACE)
    set(preload "${asan}:${preload}")
  endif()
  set_property(TEST ${test} APPEND PROPERTY ENVIRONMENT
               "LD_PRELOAD=${preload}" "GH_FAKE_KERNEL_ROOT=${CMAKE_CURRENT_BINARY_DIR}/fake-kernel/${test}")
  set_property(TEST ${test} PROPERTY TIMEOUT 60)
endfunction()

