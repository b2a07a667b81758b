# The test runs both builds of the hook entry and reads their ELF program headers and dynamic section.
add_dependencies(test-hook gpu-handover-hook gpu-handover-hook-test)
if(GH_SANITIZE)
  target_compile_definitions(test-hook PRIVATE GH_SANITIZED=1)
endif()
# Exactly one expectation: what hooks/CMakeLists.txt chose (static-pie, or dynamic).
get_target_property(gh_hook_link gpu-handover-hook GH_HOOK_LINK)
if(gh_hook_link STREQUAL "static-pie")
  target_compile_definitions(test-hook PRIVATE GH_HOOK_STATIC=1)
elseif(gh_hook_link STREQUAL "dynamic")
  target_compile_definitions(test-hook PRIVATE GH_HOOK_STATIC=0)
else()
  message(FATAL_ERROR "test-hook: the hook entry's link is '${gh_hook_link}' (static-pie or dynamic expected)")
endif()
