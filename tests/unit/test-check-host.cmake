# depmod indexes this object as vfio-pci.ko in the test's fake /lib/modules; it is never loaded.
if(NOT TARGET gh-fake-module)
  add_library(gh-fake-module OBJECT ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/kmod/fake-module.c)
endif()
add_dependencies(${name} gh-fake-module)
target_compile_definitions(${name} PRIVATE GH_FAKE_MODULE="$<TARGET_OBJECTS:gh-fake-module>")
