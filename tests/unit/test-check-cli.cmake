# The built tool runs against fakesys trees under the fake kernel, as in test-cli; check must change nothing.
gh_test_use_fake_kernel(${name})
