# The test runs the built tool, which must be there and current.
add_dependencies(test-status gpu-handover)
