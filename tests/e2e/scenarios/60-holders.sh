# shellcheck shell=bash
# A process that holds the GPU and ignores SIGTERM (not a display manager): with holders = terminate it is
# killed once holders_grace has passed and the start succeeds; with holders = fail the start is refused,
# naming it, and the host is untouched.
# e2e-machine: single

DOM=gh-e2e-holders
GRACE=2

gh_install_tool
define_domain "$DOM" no "$GH_GPU" "$GH_GPU_AUDIO"

# holders = terminate: SIGTERM, the grace period, SIGKILL.
gh_start_holder --ignore-term stubborn /dev/dri/card0
holder=$GH_HOLDER_PID
gh_write_config "$DOM" <<EOF
holders = terminate
holders_grace = $GRACE
EOF
before=$(gh_host_state)
gh_log "starting the domain; pid $holder holds /dev/dri/card0 and ignores SIGTERM"
assert_ok virsh start --paused "$DOM"
if gh_pid_alive "$holder"; then
        gh_fail "holder pid $holder is still alive"
fi
assert_driver "$GH_GPU" vfio-pci
assert_driver "$GH_GPU_AUDIO" vfio-pci
assert_module_unloaded bochs
# It was ended by SIGKILL after the grace period, not before.
ms=$(gh_timings | awk -F'\t' '$2 == "step" && $4 == "end-holders" { print int($3) }')
[[ -n $ms ]] || gh_fail "no end-holders step in the tool's log"
((ms >= GRACE * 1000)) || gh_fail "end-holders took $ms ms, less than the ${GRACE}s grace"
# Well before the hand-over's 60 s budget: it did not wait for the deadline instead (TCG is slow, hence
# the margin).
((ms < (GRACE + 20) * 1000)) || gh_fail "end-holders took $ms ms, far more than the ${GRACE}s grace"
gh_log "destroying the domain"
assert_ok virsh destroy "$DOM"
assert_driver "$GH_GPU" bochs-drm
assert_driver "$GH_GPU_AUDIO" snd_hda_intel
assert_file_absent "/run/gpu-handover/$DOM.journal"
assert_host_state "$before"

# holders = fail: refused, naming the process; nothing touched.
gh_start_holder --ignore-term stubborn2 /dev/dri/card0
holder=$GH_HOLDER_PID
gh_write_config "$DOM" <<<"holders = fail"
before=$(gh_host_state --pids)
gh_log "starting the domain with holders = fail; pid $holder holds /dev/dri/card0"
gh_virsh_start_fails "$DOM"
assert_contains "$GH_VIRSH_ERROR" "$holder" "libvirt's error"
assert_contains "$GH_VIRSH_ERROR" "bash" "libvirt's error"
gh_pid_alive "$holder" || gh_fail "holder pid $holder was killed"
gh_holds "$holder" /dev/dri/card0 || gh_fail "holder pid $holder lost /dev/dri/card0"
assert_driver "$GH_GPU" bochs-drm
assert_driver "$GH_GPU_AUDIO" snd_hda_intel
assert_module_loaded bochs
assert_file_absent "/run/gpu-handover/$DOM.journal"
assert_host_state "$before" --pids
