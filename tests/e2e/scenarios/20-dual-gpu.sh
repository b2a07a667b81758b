# shellcheck shell=bash
# Dual GPU: the second GPU (06.0, not the boot VGA) and its audio function go to the VM with managed='no'.
# bochs also drives the boot GPU 05.0, so it must stay loaded and keep 05.0 the whole time; the display
# manager, which holds both GPUs' card nodes, is stopped for the hand-over and runs again while the VM
# does (the host keeps a GPU); a destroy gives everything back.
# e2e-machine: dual

DOM=gh-e2e-dual
JOURNAL=/run/gpu-handover/$DOM.journal

witness_holds() {
        gh_pid_alive "$witness" && gh_holds "$witness" "$card0"
}

has_card() {
        compgen -G "/sys/bus/pci/devices/$1/drm/card*" >/dev/null
}

gh_install_tool
assert_driver "$GH_GPU" bochs-drm
assert_driver "$GH_GPU2" bochs-drm
assert_driver "$GH_GPU2_AUDIO" snd_hda_intel
card0=$(gh_card_node "$GH_GPU")
card2=$(gh_card_node "$GH_GPU2")
gh_install_dm_standin "$card0" "$card2"
wait_for 30 _gh_unit_holds "$GH_DM_UNIT" "$card2"
# A witness outside the display manager keeps the boot GPU open all along: bochs cannot go while it does,
# and it must still hold the same node at the end.
gh_start_holder witness "$card0"
witness=$GH_HOLDER_PID
gh_write_config "$DOM" </dev/null
define_domain "$DOM" no "$GH_GPU2" "$GH_GPU2_AUDIO"
before=$(gh_host_state)

gh_log "starting the domain (paused)"
assert_ok virsh start --paused "$DOM"
assert_driver "$GH_GPU2" vfio-pci
assert_driver "$GH_GPU2_AUDIO" vfio-pci
assert_file_exists "$(gh_vfio_node "$GH_GPU2")"
assert_file_exists "$JOURNAL"
assert_driver "$GH_GPU" bochs-drm
assert_driver "$GH_GPU_AUDIO" snd_hda_intel
assert_module_loaded bochs
witness_holds || gh_fail "the witness lost $card0"
# Restarted right after the bind: the desktop goes on on the boot GPU while the VM has the other one.
assert_unit_active "$GH_DM_UNIT"
wait_for 30 _gh_unit_holds "$GH_DM_UNIT" "$card0"
gh_log "journal of the hand-over:"
cat "$JOURNAL"
grep -q '^unload-module' "$JOURNAL" && gh_fail "the journal records a module unload"
grep -q "^start-unit.*$GH_DM_UNIT" "$JOURNAL" || gh_fail "the journal has no start of '$GH_DM_UNIT' after the bind"

gh_log "destroying the domain"
assert_ok virsh destroy "$DOM"
assert_driver "$GH_GPU2" bochs-drm
assert_driver "$GH_GPU2_AUDIO" snd_hda_intel
assert_driver "$GH_GPU" bochs-drm
assert_driver "$GH_GPU_AUDIO" snd_hda_intel
assert_file_absent "$JOURNAL"
assert_unit_active "$GH_DM_UNIT"
witness_holds || gh_fail "the witness lost $card0"
wait_for 30 has_card "$GH_GPU2"
assert_host_state "$before"
