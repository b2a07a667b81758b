gh_test_use_fake_kernel(${name})
