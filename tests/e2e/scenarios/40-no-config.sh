# shellcheck shell=bash
# A domain without a config has not opted in: the hook changes nothing (the tool does not even run), so
# with managed='no' libvirt's start fails and the GPU stays with its host driver, the display manager
# untouched.
# e2e-machine: single

DOM=gh-e2e-noconf

gh_install_tool
gh_install_dm_standin /dev/dri/card0
rm -f "/etc/gpu-handover/domains/$DOM.conf"
define_domain "$DOM" no "$GH_GPU" "$GH_GPU_AUDIO"
before=$(gh_host_state --pids)

gh_log "starting the domain (nothing binds vfio-pci for it)"
gh_virsh_start_fails "$DOM"
# libvirt itself says why: the device is not free for the VM.
assert_contains "$GH_VIRSH_ERROR" "PCI device $GH_GPU" "libvirt's error"
assert_eq "" "$(gh_tool_log)" "the tool's log"
assert_driver "$GH_GPU" bochs-drm
assert_driver "$GH_GPU_AUDIO" snd_hda_intel
assert_module_loaded bochs
assert_unit_active "$GH_DM_UNIT"
assert_file_absent "/run/gpu-handover/$DOM.journal"
assert_host_state "$before" --pids
