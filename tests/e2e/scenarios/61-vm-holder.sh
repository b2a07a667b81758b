# shellcheck shell=bash
# A process of another VM holds the GPU: it ignores SIGTERM and runs in the scope libvirt gives a running
# VM (machine.slice/machine-qemu\x2d1\x2dgh\x2de2e\x2dother.scope). The hand-over is refused, naming its
# pid, its unit and the VM, before any step: the display manager, which holds the GPU too, is never
# stopped (stopping nothing on this host would end the VM's process). The holder is not killed (alive,
# still holding the node after the grace that would have ended it); the host is untouched.
# e2e-machine: single

DOM=gh-e2e-vm-holder
OTHER=gh-e2e-other
GRACE=1

gh_install_tool
gh_install_dm_standin /dev/dri/card0
gh_start_holder --ignore-term --vm "$OTHER" other /dev/dri/card0
holder=$GH_HOLDER_PID
scope=$GH_HOLDER_UNIT
# holders = terminate (the default), with a grace that would have it killed within a second.
gh_write_config "$DOM" <<<"holders_grace = $GRACE"
define_domain "$DOM" no "$GH_GPU" "$GH_GPU_AUDIO"
plan=$("$GH_TOOL" plan "$DOM")
echo "$plan"
assert_contains "$plan" "pid $holder (bash) holds /dev/dri/card0 and is protected: VM '$OTHER', unit $scope" "the plan"
before=$(gh_host_state --pids)

gh_log "starting the domain; pid $holder of VM '$OTHER' holds /dev/dri/card0 and ignores SIGTERM"
gh_virsh_start_fails "$DOM"
assert_contains "$GH_VIRSH_ERROR" "pid $holder (bash) holds /dev/dri/card0" "libvirt's error"
assert_contains "$GH_VIRSH_ERROR" "VM '$OTHER'" "libvirt's error"
assert_contains "$GH_VIRSH_ERROR" "unit $scope" "libvirt's error"
assert_contains "$GH_VIRSH_ERROR" "nothing was changed" "libvirt's error"
assert_eq "" "$(gh_timings)" "the steps the tool ran"
# Past the grace: a SIGKILL would have come by now.
sleep "$GRACE"
gh_pid_alive "$holder" || gh_fail "holder pid $holder of VM '$OTHER' was killed"
gh_holds "$holder" /dev/dri/card0 || gh_fail "holder pid $holder lost /dev/dri/card0"
assert_driver "$GH_GPU" bochs-drm
assert_driver "$GH_GPU_AUDIO" snd_hda_intel
assert_module_loaded bochs
assert_unit_active "$GH_DM_UNIT"
assert_file_absent "/run/gpu-handover/$DOM.journal"
assert_host_state "$before" --pids
