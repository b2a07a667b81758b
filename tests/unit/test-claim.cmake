# Runs the built tool under the fake kernel; the tool must be there and current. The unit file is
# configured by cmake/claim-unit.cmake; the test checks it points at the installed tool.
gh_test_use_fake_kernel(${name})
target_compile_definitions(${name} PRIVATE
  GH_TOOL_PATH="${GH_TOOL_PATH}"
  GH_CLAIM_UNIT="${PROJECT_BINARY_DIR}/gpu-handover-claim.service")
