# shellcheck shell=bash
# Processes that hold the GPU (not a display manager). One with no service of its own (a scope) that
# ignores SIGTERM: with holders = terminate it is killed once holders_grace has passed and the start
# succeeds. Holders in system services: stopped as their units before the hand-over (a Restart=always
# service would be back within the window if signalled), and started again at release; a transient one
# (systemd-run) is gone once stopped, and the release gives everything else back all the same. With
# holders = fail the start is refused, naming the holder, and the host is untouched.
# e2e-machine: single
# e2e-timeout: 540

DOM=gh-e2e-holders
JOURNAL=/run/gpu-handover/$DOM.journal
GRACE=2
RESTARTER=gh-e2e-restarter.service

gh_install_tool
define_domain "$DOM" no "$GH_GPU" "$GH_GPU_AUDIO"

# holders = terminate, a holder with no unit of its own: SIGTERM, the grace period, SIGKILL.
gh_start_holder --ignore-term --scope stubborn /dev/dri/card0
holder=$GH_HOLDER_PID
gh_write_config "$DOM" <<EOF
holders = terminate
holders_grace = $GRACE
EOF
plan=$("$GH_TOOL" plan "$DOM")
assert_contains "$plan" "pid $holder (bash) holds /dev/dri/card0, owned by no unit of its own: signal pid $holder" "the plan"
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
assert_file_absent "$JOURNAL"
assert_host_state "$before"

# holders = terminate, holders in services: a unit that restarts whatever ends its process, and a
# transient one. Both are stopped as units; the first runs again after the release.
gh_install_unit "$RESTARTER" <<EOF
[Unit]
Description=A service that holds the GPU and comes back when it ends

[Service]
ExecStart=/bin/bash -c 'exec 3</dev/dri/card0; while :; do sleep 0.2 3<&-; done'
Restart=always
RestartSec=1
EOF
assert_ok systemctl start "$RESTARTER"
wait_for 30 _gh_unit_holds "$RESTARTER" /dev/dri/card0
gh_start_holder transient /dev/dri/card0
transient_unit=$GH_HOLDER_UNIT
plan=$("$GH_TOOL" plan "$DOM")
assert_contains "$plan" "holds /dev/dri/card0, owned by system unit '$RESTARTER': stop unit '$RESTARTER'" "the plan"
assert_contains "$plan" "holds /dev/dri/card0, owned by system unit '$transient_unit': stop unit '$transient_unit'" "the plan"
before=$(gh_host_state)
gh_log "starting the domain; '$RESTARTER' and '$transient_unit' hold /dev/dri/card0"
assert_ok virsh start --paused "$DOM"
assert_driver "$GH_GPU" vfio-pci
assert_module_unloaded bochs
assert_unit_inactive "$RESTARTER"
assert_unit_inactive "$transient_unit"
gh_log "journal of the hand-over:"
cat "$JOURNAL"
grep -q "^stop-unit name=$RESTARTER\$" "$JOURNAL" || gh_fail "the journal has no stop of '$RESTARTER'"
grep -q "^stop-unit name=$transient_unit\$" "$JOURNAL" || gh_fail "the journal has no stop of '$transient_unit'"
# Its Restart= did not bring it back while the VM runs.
sleep 3
assert_unit_inactive "$RESTARTER"
gh_log "destroying the domain"
assert_ok virsh destroy "$DOM"
assert_driver "$GH_GPU" bochs-drm
assert_driver "$GH_GPU_AUDIO" snd_hda_intel
assert_file_absent "$JOURNAL"
assert_unit_active "$RESTARTER"
wait_for 30 _gh_unit_holds "$RESTARTER" /dev/dri/card0
# A transient unit is gone once stopped: nothing started it again.
assert_unit_inactive "$transient_unit"
assert_host_state "$before"
assert_ok systemctl stop "$RESTARTER"

# holders = fail: refused, naming the process; nothing touched, its unit not stopped.
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
assert_unit_active "$GH_HOLDER_UNIT"
assert_driver "$GH_GPU" bochs-drm
assert_driver "$GH_GPU_AUDIO" snd_hda_intel
assert_module_loaded bochs
assert_file_absent "$JOURNAL"
assert_host_state "$before" --pids
