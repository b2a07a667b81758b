# shellcheck shell=bash
# libvirtd restarts while the VM runs (it reconnects, and runs the hook with 'reconnect begin'): nothing
# changes, the GPU stays on vfio-pci and the journal stays. 'gpu-handover restore' while the VM runs is
# refused, naming QEMU (its vfio unbind would block in the kernel). A later destroy gives everything back.
# e2e-machine: single

DOM=gh-e2e-reconnect
JOURNAL=/run/gpu-handover/$DOM.journal

dom_paused() {
        [[ $(virsh domstate "$DOM" 2>/dev/null | head -n1) == paused ]]
}

gh_install_tool
gh_install_dm_standin /dev/dri/card0
gh_write_config "$DOM" </dev/null
define_domain "$DOM" no "$GH_GPU" "$GH_GPU_AUDIO"
before=$(gh_host_state)

gh_log "starting the domain (paused)"
assert_ok virsh start --paused "$DOM"
assert_driver "$GH_GPU" vfio-pci
assert_driver "$GH_GPU_AUDIO" vfio-pci
assert_file_exists "$JOURNAL"
journal=$(<"$JOURNAL")
during=$(gh_host_state --pids)
qemu_pid=$(pgrep -f "guest=$DOM," | head -n1)
[[ -n $qemu_pid ]] || gh_fail "no QEMU process for '$DOM'"

gh_log "restarting libvirtd"
assert_ok systemctl restart libvirtd.service
wait_for 60 _gh_libvirt_up
wait_for 30 dom_paused
gh_pid_alive "$qemu_pid" || gh_fail "QEMU (pid $qemu_pid) did not survive the restart"
assert_driver "$GH_GPU" vfio-pci
assert_driver "$GH_GPU_AUDIO" vfio-pci
assert_file_exists "$(gh_vfio_node "$GH_GPU")"
assert_eq "$journal" "$(cat "$JOURNAL" 2>/dev/null)" "the journal"
assert_host_state "$during" --pids

gh_log "gpu-handover restore while the VM runs (must be refused)"
if out=$(timeout 120 "$GH_TOOL" restore "$DOM" 2>&1); then
        gh_fail "restore went through while the VM runs: $out"
fi
echo "$out"
assert_contains "$out" "pid $qemu_pid (" "restore's error"
assert_contains "$out" "$(gh_vfio_node "$GH_GPU")" "restore's error"
assert_eq "$journal" "$(cat "$JOURNAL" 2>/dev/null)" "the journal"
assert_host_state "$during" --pids

gh_log "destroying the domain"
assert_ok virsh destroy "$DOM"
assert_driver "$GH_GPU" bochs-drm
assert_driver "$GH_GPU_AUDIO" snd_hda_intel
assert_module_loaded bochs
assert_unit_active "$GH_DM_UNIT"
assert_file_absent "$JOURNAL"
assert_host_state "$before"
