# shellcheck shell=bash
# A start that fails after prepare (QEMU rejects an option): libvirt runs release, and the host ends exactly
# as it began: drivers, overrides, modules, the display manager, no journal.
# e2e-machine: single

DOM=gh-e2e-fails

gh_install_tool
gh_install_dm_standin /dev/dri/card0
gh_write_config "$DOM" </dev/null
define_domain --top "<qemu:commandline><qemu:arg value='-gh-e2e-no-such-option'/></qemu:commandline>" \
        "$DOM" no "$GH_GPU" "$GH_GPU_AUDIO"
before=$(gh_host_state)

gh_log "starting the domain (QEMU will refuse it)"
gh_virsh_start_fails "$DOM"
assert_contains "$GH_VIRSH_ERROR" "gh-e2e-no-such-option" "libvirt's error"
# The hand-over did happen before QEMU ran, and was undone.
assert_contains "$(gh_tool_log)" "handed 2 device(s) to domain '$DOM'" "the tool's log"
assert_contains "$(gh_tool_log)" "gave the devices of domain '$DOM' back" "the tool's log"
assert_eq "shut off" "$(virsh domstate "$DOM" 2>&1 | head -n1)" "state of '$DOM'"
assert_driver "$GH_GPU" bochs-drm
assert_driver "$GH_GPU_AUDIO" snd_hda_intel
assert_module_loaded bochs
assert_unit_active "$GH_DM_UNIT"
assert_file_absent "/run/gpu-handover/$DOM.journal"
assert_host_state "$before"
