# shellcheck shell=bash
# Recovery by hand: a prepare killed half-way (SIGKILL while paused after step N, as a crash would) leaves
# the host half-changed with a journal; 'gpu-handover restore' brings the host fully back and removes the
# journal. Twice: killed right after the module unload, and after the first bind.
# e2e-machine: single

DOM=gh-e2e-restore
JOURNAL=/run/gpu-handover/$DOM.journal

gh_install_tool
gh_install_dm_standin /dev/dri/card0
gh_write_config "$DOM" </dev/null
define_domain "$DOM" no "$GH_GPU" "$GH_GPU_AUDIO"
xml=$GH_E2E_RUN/$DOM.live.xml
virsh dumpxml "$DOM" >"$xml"
before=$(gh_host_state)
plan=$("$GH_TOOL" plan "$DOM")
echo "$plan"

kill_after() {
        gh_prepare_kill_after "$DOM" "$xml" "$1"
        "$GH_TOOL" status
}

restore() {
        local out
        out=$("$GH_TOOL" restore "$DOM") || gh_fail "gpu-handover restore failed: $out"
        echo "$out"
        assert_contains "$out" "$1 step(s) undone" "restore's output"
        assert_file_absent "$JOURNAL"
        assert_driver "$GH_GPU" bochs-drm
        assert_driver "$GH_GPU_AUDIO" snd_hda_intel
        assert_module_loaded bochs
        assert_unit_active "$GH_DM_UNIT"
        assert_host_state "$before"
}

n=$(gh_plan_step "$plan" "unload module 'bochs'")
[[ -n $n ]] || gh_fail "the plan unloads no bochs"
kill_after "$n"
assert_file_exists "$JOURNAL"
assert_module_unloaded bochs
assert_driver "$GH_GPU" none
assert_eq vfio-pci "$(gh_override "$GH_GPU")" "driver_override of $GH_GPU"
assert_unit_inactive "$GH_DM_UNIT"
restore "$n"

n=$(gh_plan_step "$plan" "bind $GH_GPU to vfio-pci")
[[ -n $n ]] || gh_fail "the plan binds no $GH_GPU"
kill_after "$n"
assert_file_exists "$JOURNAL"
assert_driver "$GH_GPU" vfio-pci
assert_module_unloaded bochs
assert_unit_inactive "$GH_DM_UNIT"
restore "$n"
