# shellcheck shell=bash
# nvidia's PCI remove never ends (the simulator's nvsim_remove_hangs): with the GPU's whole stack
# unloaded, that remove runs inside `rmmod nvidia` (the module's exit unregisters its PCI driver), not in a
# sysfs unbind. The start fails within timeout plus the rollback's grace, libvirt's release end returns
# too, libvirtd still answers, and the tool records the GPU as stuck (the stuck list, the journal's
# `stuck` line, `gpu-handover status`). Once the remove may finish, the unload does, and
# `gpu-handover restore` gives everything back.
# e2e-machine: nvidia
# e2e-timeout: 420

DOM=gh-e2e-nv-stuck
TIMEOUT=10
HANGS=/sys/module/nvidia/parameters/nvsim_remove_hangs
JOURNAL=/run/gpu-handover/$DOM.journal
STUCK=/run/gpu-handover/stuck
GRACE=$(sed -n 's/^#define GH_EXEC_ROLLBACK_GRACE_SEC \([0-9]*\)u$/\1/p' "$GH_REPO/src/core/exec.h")
[[ -n $GRACE ]] || gh_fail "no GH_EXEC_ROLLBACK_GRACE_SEC in src/core/exec.h"
# libvirt's own work around the hook (its release end included) in a slow guest.
MARGIN=15

# Whatever fails, the remove must be let go: a process in D state keeps the guest from powering off, and
# the runner reads the GPU's driver_override, which that remove keeps locked.
release_remove() {
        [[ -w $HANGS ]] && echo 0 >"$HANGS"
        return 0
}
trap release_remove EXIT

# The process of the remove: the one in D state whose stack or command is nvidia's unload.
rmmod_pid() {
        local p
        for p in /proc/[0-9]*; do
                [[ $(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "$p/status" 2>/dev/null) == D ]] || continue
                grep -q 'nvsim_remove\|pci_unregister_driver' "$p/stack" 2>/dev/null || continue
                echo "${p#/proc/}"
                return 0
        done
        return 1
}

gh_install_tool
gh_write_config "$DOM" <<EOF
timeout = $TIMEOUT
EOF
define_domain "$DOM" no "$GH_NV_GPU" "$GH_NV_GPU_AUDIO"
plan=$("$GH_TOOL" plan "$DOM")
echo "$plan"
assert_contains "$plan" "unload module 'nvidia'" "the plan"
if grep -q "unbind $GH_NV_GPU from 'nvidia'" <<<"$plan"; then
        gh_fail "the plan unbinds $GH_NV_GPU from nvidia although it unloads nvidia"
fi
before=$(gh_host_state)
assert_file_absent "$STUCK"

gh_log "--- nvsim_remove_hangs=1: starting the domain"
echo 1 >"$HANGS"
t0=$(date +%s%N)
gh_virsh_start_fails "$DOM"
t1=$(date +%s%N)
start_ms=$(((t1 - t0) / 1000000))
gh_log "virsh start failed after ${start_ms} ms"
gh_tool_log
pid=$(rmmod_pid) || gh_fail "no process in D state in nvidia's remove"
gh_log "pid $pid ($(</proc/"$pid"/comm)) waits in the kernel: $(tr '\n' ' ' <"/proc/$pid/stack")"
assert_eq going "$(</sys/module/nvidia/initstate)" "nvidia's initstate"
# The kernel drops the driver links before it calls the driver's remove.
assert_driver "$GH_NV_GPU" none
((start_ms < (TIMEOUT + GRACE + MARGIN) * 1000)) ||
        gh_fail "virsh start took ${start_ms} ms, more than timeout ${TIMEOUT}s + grace ${GRACE}s + ${MARGIN}s"
assert_contains "$GH_VIRSH_ERROR" "module 'nvidia'" "libvirt's error"
assert_ok virsh -q list --all >/dev/null
assert_eq "shut off" "$(virsh domstate "$DOM" 2>&1 | head -n1)" "state of '$DOM'"

gh_log "--- what the tool recorded"
cat "$STUCK" 2>/dev/null || echo "(no stuck list)"
cat "$JOURNAL" 2>/dev/null || echo "(no journal)"
t0=$(date +%s%N)
status=$("$GH_TOOL" status 2>&1) || true
gh_log "gpu-handover status took $((($(date +%s%N) - t0) / 1000000)) ms:"
echo "$status"
assert_file_exists "$STUCK"
assert_contains "$(<"$STUCK")" "$GH_NV_GPU" "the stuck list"
assert_file_exists "$JOURNAL"
grep -q "^stuck .*$GH_NV_GPU" "$JOURNAL" || gh_fail "no stuck line for $GH_NV_GPU in $JOURNAL"
assert_contains "$status" "$GH_NV_GPU is stuck" "gpu-handover status"
# A second release (as a restarted libvirtd would run) leaves the GPU alone at once.
t0=$(date +%s%N)
assert_fails "$GH_TOOL" hook qemu "$DOM" release end - <"$GH_E2E_RUN/$DOM.xml"
ms=$((($(date +%s%N) - t0) / 1000000))
gh_log "release end with the GPU stuck: ${ms} ms"
((ms < 5000)) || gh_fail "release end took ${ms} ms with the GPU stuck"

gh_log "--- nvsim_remove_hangs=0: the remove, and so the unload, finishes"
echo 0 >"$HANGS"
wait_for 30 test ! -d /proc/"$pid"
wait_for 30 test ! -e /sys/module/nvidia
assert_driver "$GH_NV_GPU" none
assert_ok "$GH_TOOL" restore "$DOM"
assert_file_absent "$JOURNAL"
gh_assert_nv_given_back 20
assert_file_absent "$STUCK"
assert_host_state "$before"
gh_show_timings
