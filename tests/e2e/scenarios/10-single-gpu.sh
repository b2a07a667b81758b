# shellcheck shell=bash
# The host's only GPU, the boot VGA, with managed='no' so that the hook alone binds: a start hands 05.0 and
# 05.1 to vfio-pci (bochs unloaded, the display manager and a configured unit stopped, both staying
# stopped while the VM runs, a journal on record); a destroy gives everything back.
# e2e-machine: single

DOM=gh-e2e-single
JOURNAL=/run/gpu-handover/$DOM.journal

gh_install_tool
gh_install_dm_standin /dev/dri/card0
gh_install_persistenced_standin /dev/dri/card0
gh_write_config "$DOM" <<EOF
stop_units = $GH_PERSISTENCED_UNIT
EOF
define_domain "$DOM" no "$GH_GPU" "$GH_GPU_AUDIO"
assert_driver "$GH_GPU" bochs-drm
assert_driver "$GH_GPU_AUDIO" snd_hda_intel
assert_file_absent "$JOURNAL"
before=$(gh_host_state)

gh_log "starting the domain (paused)"
assert_ok virsh start --paused "$DOM"
assert_eq paused "$(virsh domstate "$DOM" 2>&1 | head -n1)" "state of '$DOM'"
assert_driver "$GH_GPU" vfio-pci
assert_driver "$GH_GPU_AUDIO" vfio-pci
assert_file_exists "$(gh_vfio_node "$GH_GPU")"
assert_module_unloaded bochs
assert_unit_inactive "$GH_DM_UNIT"
assert_unit_inactive "$GH_PERSISTENCED_UNIT"
assert_file_exists "$JOURNAL"
"$GH_TOOL" status

# Nothing may bring them back while the VM has the GPU: not the tool, not a dependency, not a Restart=.
sleep 3
assert_unit_inactive "$GH_DM_UNIT"
assert_unit_inactive "$GH_PERSISTENCED_UNIT"
assert_module_unloaded bochs
assert_driver "$GH_GPU" vfio-pci
assert_driver "$GH_GPU_AUDIO" vfio-pci

gh_log "destroying the domain"
assert_ok virsh destroy "$DOM"
assert_driver "$GH_GPU" bochs-drm
assert_driver "$GH_GPU_AUDIO" snd_hda_intel
assert_module_loaded bochs
assert_module_loaded snd_hda_intel
assert_unit_active "$GH_DM_UNIT"
assert_unit_active "$GH_PERSISTENCED_UNIT"
assert_file_absent "$JOURNAL"
wait_for 30 _gh_unit_holds "$GH_DM_UNIT" /dev/dri/card0
assert_host_state "$before"
