# shellcheck shell=bash
# Hand-overs of the simulated NVIDIA GPU that the tool must refuse up front, touching nothing:
# - a second NVIDIA GPU (07.0) stays on the host with nvidia_drm modeset=1 loaded: nvidia cannot be
#   unloaded, so 06.0 would be unbound alone, and that unbind would wait for good (nvidia_drm uses every
#   GPU): refused by the planner within a second of the hook's start, saying why; and the shipped
#   example's unload_modules (nvidia_drm nvidia_modeset nvidia_uvm nvidia) is refused naming the module
#   that sits on nvidia, which still drives 07.0;
# - nvidia.ko's file is gone from /lib/modules (as after a kernel upgrade or a DKMS removal): the stack
#   could not come back, so the start is refused naming the module, and `gpu-handover check` says FAIL.
# Each time the host is exactly as before (drivers, overrides, modules, no journal).
# e2e-machine: nvidia
# e2e-timeout: 300

DOM=gh-e2e-nv-refused
NVSIM_DIR=/lib/modules/$(uname -r)/updates/nvsim
# Time from the hook's start to its refusal: the planner decides before anything runs, where a hand-over
# that went ahead would wait out the domain's timeout (10 s, below). The hook's wall time less that of the
# tool doing nothing (`--version`: starting a process costs a good part of a second in a busy TCG guest).
# Measured: about 0.4 s in a quiet guest, 1.2 to 2.6 s with three TCG guests on two cores; so the bound
# is half the timeout, not the 1 s a real host needs by far.
HOOK_MS_MAX=5000
HIDDEN=

undo_hide() {
        [[ -n $HIDDEN ]] && umount "$NVSIM_DIR" 2>/dev/null
        HIDDEN=
        return 0
}

# Should a hand-over not be refused (a broken tool), an unbind of 06.0 alone would wait in nvidia's remove
# for as long as nvidia_drm is loaded, and the guest could not power off: unloading nvidia_drm ends it.
undo_all() {
        undo_hide
        if grep -qs nvsim_remove /proc/[0-9]*/stack; then
                echo "an unbind waits in nvidia's remove: unloading nvidia_drm"
                rmmod nvidia_drm || true
        fi
}
trap undo_all EXIT

# The least of three runs of the tool doing nothing, in ms: the cost of starting it.
tool_start_ms() {
        local i t0 ms best=
        for i in 1 2 3; do
                t0=$EPOCHREALTIME
                "$GH_TOOL" --version >/dev/null
                ms=$(((${EPOCHREALTIME/[.,]/} - ${t0/[.,]/}) / 1000))
                [[ -n $best ]] && ((best <= ms)) || best=$ms
        done
        echo "$best"
}

# hook_refuses WHAT: the hook's prepare begin, run as libvirt runs it, fails; its message goes to HOOK_OUT,
# its wall time less the tool's start (START_MS) to HOOK_MS: the least of up to three tries, as a guest
# sharing a busy machine has seconds-long stalls that are no part of the tool.
hook_refuses() {
        local t0 ms i
        HOOK_MS=
        for i in 1 2 3; do
                t0=$EPOCHREALTIME
                if "$GH_TOOL" hook qemu "$DOM" prepare begin - <"$GH_E2E_RUN/$DOM.xml" >"$GH_E2E_RUN/hook.out" 2>&1; then
                        gh_fail "the hook's prepare of '$DOM' succeeded with $1"
                fi
                ms=$(((${EPOCHREALTIME/[.,]/} - ${t0/[.,]/}) / 1000 - START_MS))
                HOOK_OUT=$(<"$GH_E2E_RUN/hook.out")
                gh_log "try $i: hook refused in $((ms + START_MS)) ms (${ms} ms beyond the tool's start): $HOOK_OUT"
                [[ -n $HOOK_MS ]] && ((HOOK_MS <= ms)) || HOOK_MS=$ms
                ((HOOK_MS >= HOOK_MS_MAX)) || break
        done
}

# virsh_refuses: virsh start fails, timed.
virsh_refuses() {
        local t0
        t0=$EPOCHREALTIME
        gh_virsh_start_fails "$DOM"
        gh_log "virsh start failed in $(((${EPOCHREALTIME/[.,]/} - ${t0/[.,]/}) / 1000)) ms"
}

gh_install_tool
# Refusals take no time; the limit is for a broken tool that would go ahead.
gh_write_config "$DOM" <<EOF
timeout = 10
EOF
define_domain "$DOM" no "$GH_NV_GPU" "$GH_NV_GPU_AUDIO"
assert_driver "$GH_NV_GPU" nvidia
START_MS=$(tool_start_ms)
gh_log "the tool starts and exits in ${START_MS} ms"

gh_log "--- a second NVIDIA GPU stays on the host, nvidia_drm modeset=Y"
gh_nv_gpu2_bind
assert_eq Y "$(</sys/module/nvidia_drm/parameters/modeset)" "nvidia_drm's modeset"
before=$(gh_host_state)
virsh_refuses
for needle in "unbinding $GH_NV_GPU alone from 'nvidia' would never finish" "'nvidia_drm' (modeset=Y)" \
        "hand over every GPU 'nvidia' drives ($GH_NV_GPU2 too)"; do
        assert_contains "$GH_VIRSH_ERROR" "$needle" "libvirt's error"
done
assert_host_state "$before"
hook_refuses "$GH_NV_GPU2 kept on nvidia"
assert_contains "$HOOK_OUT" "would never finish" "the hook's error"
((HOOK_MS < HOOK_MS_MAX)) || gh_fail "the hook took ${HOOK_MS} ms to refuse, not under ${HOOK_MS_MAX} ms"
assert_host_state "$before"
if gh_tool_log | grep -E "done in|undo: "; then
        gh_fail "a step ran for the refused hand-over"
fi

gh_log "--- the shipped example's unload_modules, with the second GPU still on nvidia"
# nvidia_drm, nvidia_modeset and nvidia_uvm have no PCI driver links: that they serve 07.0 too shows only
# in that they sit on nvidia. Unloading them would take modesetting and CUDA (nvidia_uvm) from 07.0.
gh_write_config "$DOM" <<EOF
timeout = 10
unload_modules = nvidia_drm nvidia_modeset nvidia_uvm nvidia
EOF
virsh_refuses
assert_contains "$GH_VIRSH_ERROR" \
        "unload_modules lists 'nvidia_drm', which sits on 'nvidia', still driving $GH_NV_GPU2 that stays on the host" \
        "libvirt's error"
assert_host_state "$before"
assert_module_loaded nvidia_drm
assert_module_loaded nvidia_uvm
gh_write_config "$DOM" <<EOF
timeout = 10
EOF
gh_nv_gpu2_park
wait_for 20 test ! -e /dev/nvidia1

gh_log "--- nvidia.ko's file is gone from /lib/modules"
since=$(($(date +%s%N) / 1000))
# The other three stay where they are: only nvidia's file is missing.
mkdir -p "$GH_E2E_RUN/nvsim-hidden"
cp "$NVSIM_DIR"/nvidia-{modeset,uvm,drm}.ko "$GH_E2E_RUN/nvsim-hidden/"
mount --bind "$GH_E2E_RUN/nvsim-hidden" "$NVSIM_DIR"
HIDDEN=1
assert_file_absent "$NVSIM_DIR/nvidia.ko"
assert_file_exists "$NVSIM_DIR/nvidia-drm.ko"
before=$(gh_host_state)
virsh_refuses
assert_contains "$GH_VIRSH_ERROR" "module 'nvidia' cannot be loaded again after the hand-over: no file for the running kernel $(uname -r)" "libvirt's error"
assert_host_state "$before"
hook_refuses "nvidia.ko hidden"
assert_contains "$HOOK_OUT" "module 'nvidia' cannot be loaded again" "the hook's error"
((HOOK_MS < HOOK_MS_MAX)) || gh_fail "the hook took ${HOOK_MS} ms to refuse, not under ${HOOK_MS_MAX} ms"
assert_host_state "$before"
if gh_tool_log "$since" | grep -E "done in|undo: "; then
        gh_fail "a step ran for the refused hand-over"
fi
if check=$("$GH_TOOL" check "$DOM" 2>&1); then
        gh_fail "gpu-handover check passed with nvidia.ko hidden: $check"
fi
echo "$check"
grep -E "^ *FAIL" <<<"$check" | grep -q "module 'nvidia' cannot be loaded again" ||
        gh_fail "no FAIL line naming module 'nvidia' in gpu-handover check's output"
undo_hide
assert_file_exists "$NVSIM_DIR/nvidia.ko"
assert_ok "$GH_TOOL" check "$DOM" >/dev/null
assert_host_state "$before"
