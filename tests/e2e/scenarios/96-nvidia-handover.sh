# shellcheck shell=bash
# The simulated NVIDIA GPU (06.0, with its audio function 06.1) handed over and given back: with
# managed='yes' (the hook's prepare begin runs before libvirt's detach and finds it on vfio-pci already,
# its release end after libvirt's reattach), twice in a row, then with managed='no' (the hook alone). Each
# start puts both functions on vfio-pci with nvidia's whole stack unloaded, the host display (bochs, 05.0)
# untouched; each destroy loads the four modules again, the GPU back on nvidia with its DRM card,
# /dev/nvidia0 (the minor nvidia reports for it in /proc) and /dev/nvidiactl, the audio on snd_hda_intel,
# no journal left.
# e2e-machine: nvidia
# e2e-timeout: 600

DOM=gh-e2e-nv
JOURNAL=/run/gpu-handover/$DOM.journal
NV_PROC=/proc/driver/nvidia/gpus/$GH_NV_GPU/information

# Handed over: both functions on vfio-pci, the group's node there, nvidia's stack gone, the host's
# display and its audio function untouched.
assert_handed_over() {
        assert_driver "$GH_NV_GPU" vfio-pci
        assert_driver "$GH_NV_GPU_AUDIO" vfio-pci
        assert_file_exists "$(gh_vfio_node "$GH_NV_GPU")"
        for m in "${GH_NV_MODULES[@]}"; do
                assert_module_unloaded "$m"
        done
        assert_file_absent /dev/nvidia0
        assert_file_absent /dev/nvidiactl
        assert_file_absent /proc/driver/nvidia
        assert_driver "$GH_GPU" bochs-drm
        assert_driver "$GH_GPU_AUDIO" snd_hda_intel
        assert_module_loaded snd_hda_intel
        assert_file_exists "$JOURNAL"
}

# Given back: every module of the stack loaded, the GPU on nvidia with its DRM card and nodes (checked
# by the tool before it returned, so no wait here), the audio function on snd_hda_intel, no journal.
assert_given_back() {
        gh_assert_nv_given_back
        assert_eq 0 "$(sed -n 's/^Device Minor:[[:space:]]*//p' "$NV_PROC")" "Device Minor in $NV_PROC"
        assert_driver "$GH_GPU" bochs-drm
        assert_file_absent "$JOURNAL"
}

# round MANAGED N: a start and a destroy, with their times.
round() {
        local t0 t1 t2 t3
        gh_log "--- round $2, managed='$1': starting the domain (paused)"
        t0=$(date +%s%N)
        assert_ok virsh start --paused "$DOM"
        t1=$(date +%s%N)
        assert_eq paused "$(virsh domstate "$DOM" 2>&1 | head -n1)" "state of '$DOM'"
        assert_handed_over
        gh_log "--- round $2: destroying the domain"
        t2=$(date +%s%N)
        assert_ok virsh destroy "$DOM"
        t3=$(date +%s%N)
        assert_given_back
        gh_log "round $2 (managed='$1'): virsh start $(((t1 - t0) / 1000000)) ms, virsh destroy $(((t3 - t2) / 1000000)) ms"
}

# A give-back that failed keeps the journal, and the next scenarios' hand-overs would be refused for it.
restore_left() {
        [[ -e $JOURNAL ]] || return 0
        echo "the journal of '$DOM' was left; restoring"
        "$GH_TOOL" restore --best-effort "$DOM" || true
}
trap restore_left EXIT

gh_install_tool
# The stand-ins of services holding the GPU are another scenario's: none runs here.
for unit in "$GH_NV_PERSISTENCED_UNIT" "$GH_NV_CUDA_UNIT"; do
        systemctl stop "$unit" 2>/dev/null || true
done
gh_write_config "$DOM" </dev/null
define_domain "$DOM" yes "$GH_NV_GPU" "$GH_NV_GPU_AUDIO"
assert_given_back
plan=$("$GH_TOOL" plan "$DOM")
echo "$plan"
for m in "${GH_NV_MODULES[@]}"; do
        assert_contains "$plan" "unload module '$m'" "the plan"
done
before=$(gh_host_state)

round yes 1
assert_host_state "$before"
# At once: nothing from the first round may be left in the way of the second.
round yes 2
assert_host_state "$before"

# Defined anew under the same name (and so the same config and journal): the hook alone binds now.
assert_ok virsh -q undefine "$DOM"
define_domain "$DOM" no "$GH_NV_GPU" "$GH_NV_GPU_AUDIO"
round no 3
assert_host_state "$before"
gh_show_timings
