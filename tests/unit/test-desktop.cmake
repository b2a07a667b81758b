# Runs the built tools on a fake root made by fakesys; the fake kernel is not needed to read it, but
# gives the same layout the other CLI tests use.
gh_test_use_fake_kernel(${name})
