# shellcheck shell=bash
# A prepare SIGKILLed after each of its steps in turn, every one of them (as a crash would), each followed
# by the release end libvirt runs when a start fails: the release alone brings the host fully back
# (display manager, drivers, overrides, modules) and removes the journal, whichever step the crash came
# after.
# e2e-machine: single

DOM=gh-e2e-kill-each
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
steps=$(gh_plan_steps "$plan")
[[ -n $steps ]] || gh_fail "the plan lists no steps"
# The display manager's stop must be among them: a crash after it leaves the desktop down.
assert_eq 1 "$(gh_plan_step "$plan" "stop unit '$GH_DM_UNIT'")" "the step stopping the display manager"

# libvirt's hook, as libvirtd runs it (its environment, the XML on stdin).
release_end() {
        env -i LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
                /etc/libvirt/hooks/qemu "$DOM" release end - <"$xml"
}

for ((n = 1; n <= steps; n++)); do
        gh_prepare_kill_after "$DOM" "$xml" "$n"
        assert_file_exists "$JOURNAL"
        start=$(date +%s%N)
        release_end || gh_fail "release end after step $n failed"
        gh_log "release end after a crash after step $n of $steps: $((($(date +%s%N) - start) / 1000000)) ms"
        assert_file_absent "$JOURNAL"
        assert_unit_active "$GH_DM_UNIT"
        assert_host_state "$before"
        # The next prepare's plan stops the display manager only while it holds the GPU.
        wait_for 30 _gh_unit_holds "$GH_DM_UNIT" /dev/dri/card0
done
