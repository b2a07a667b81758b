# The test runs both builds of the hook entry and reads the installed one's ELF dynamic section.
add_dependencies(test-hook gpu-handover-hook gpu-handover-hook-test)
if(GH_SANITIZE)
  target_compile_definitions(test-hook PRIVATE GH_SANITIZED=1)
endif()
