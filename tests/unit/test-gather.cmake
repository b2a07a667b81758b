# Gathers facts from fakesys trees with module files that depmod indexes; nothing is written to sysfs.
gh_test_use_fake_kernel(${name})
