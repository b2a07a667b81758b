# Runs the built tool under the fake kernel; the tool must be there and current.
gh_test_use_fake_kernel(${name})
add_dependencies(${name} gpu-handover)
