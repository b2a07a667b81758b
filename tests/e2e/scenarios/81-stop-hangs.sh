# shellcheck shell=bash
# A stop_units unit whose stop never ends (its ExecStop sleeps ten minutes), stopped after the display
# manager: the prepare runs out of its timeout inside that stop, and the rollback still undoes every step:
# the start fails, the hook returns within timeout plus the rollback's grace, libvirt's release end after it
# is quick, and the host is exactly as it began (the display manager and the unit active, no journal).
# e2e-machine: single

DOM=gh-e2e-stop-hangs
STUBBORN=gh-e2e-stubborn.service
TIMEOUT=10
# What README promises: prepare begin returns within timeout + this grace, whatever hangs.
GRACE=$(sed -n 's/^#define GH_EXEC_ROLLBACK_GRACE_SEC \([0-9]*\)u$/\1/p' "$GH_REPO/src/core/exec.h")
[[ -n $GRACE ]] || gh_fail "no GH_EXEC_ROLLBACK_GRACE_SEC in src/core/exec.h"
# For what the hook's own clock does not see: starting the process, reading the host before the first
# step, and libvirt's own work around the hook, its release end included (TCG on a busy machine is slow).
MARGIN=10

gh_install_tool
gh_install_dm_standin /dev/dri/card0
gh_install_unit "$STUBBORN" <<EOF
[Unit]
Description=A service whose stop never ends

[Service]
ExecStart=/bin/sleep infinity
ExecStop=/bin/sleep 600
TimeoutStopSec=infinity
EOF
assert_ok systemctl start "$STUBBORN"
gh_write_config "$DOM" <<EOF
timeout = $TIMEOUT
stop_units = $STUBBORN
EOF
define_domain "$DOM" no "$GH_GPU" "$GH_GPU_AUDIO"
plan=$("$GH_TOOL" plan "$DOM")
echo "$plan"
assert_contains "$plan" "1. stop unit '$GH_DM_UNIT'" "the plan"
assert_contains "$plan" "2. stop unit '$STUBBORN'" "the plan"
before=$(gh_host_state)

# The tool's entries since the scenario began: REALTIME_USEC, DURATION_USEC (or -) and MESSAGE, tab-separated.
tool_entries() {
        journalctl -q -t gpu-handover -o json --since "@$((GH_E2E_SCENARIO_START_USEC / 1000000))" |
                jq -r --argjson since "$GH_E2E_SCENARIO_START_USEC" '
                select((.__REALTIME_TIMESTAMP | tonumber) >= $since)
                | [.__REALTIME_TIMESTAMP, (.GH_DURATION_USEC | if . == null or . == "" then "-" else . end), (.MESSAGE | strings)] | join("\t")'
}

gh_log "starting the domain: the stop of '$STUBBORN' will not end"
start=$(($(date +%s%N) / 1000))
gh_virsh_start_fails "$DOM"
end=$(($(date +%s%N) / 1000))
assert_contains "$GH_VIRSH_ERROR" "$STUBBORN" "libvirt's error"
entries=$(tool_entries)
echo "$entries"

# Every step was undone, newest first: the display manager started again after the unit that hangs.
assert_contains "$entries" "undo: start unit '$STUBBORN' again" "the tool's log"
assert_contains "$(grep -A1 "undo: start unit '$STUBBORN' again" <<<"$entries")" \
        "undo: start unit '$GH_DM_UNIT' again" "the undo after the hanging unit's"

assert_unit_active "$GH_DM_UNIT"
assert_unit_active "$STUBBORN"
assert_driver "$GH_GPU" bochs-drm
assert_driver "$GH_GPU_AUDIO" snd_hda_intel
assert_file_absent "/run/gpu-handover/$DOM.journal"
assert_host_state "$before"

# The hook's own time, from the first step's start (its end less its duration) to its failure line; then
# the whole start, which the hook's time and libvirt's release end are part of.
read -r first first_usec < <(awk -F'\t' '$2 != "-" { print $1, $2; exit }' <<<"$entries")
failed=$(awk -F'\t' '$2 == "-" && /did not stop before the deadline/ { t = $1 } END { print t }' <<<"$entries")
[[ -n $first && -n $failed ]] || gh_fail "no first step or no failure line in the tool's log"
first=$((first - first_usec))
hook_ms=$(((failed - first) / 1000))
total_ms=$(((end - start) / 1000))
release_ms=$(((end - failed) / 1000))
gh_log "hook: ${hook_ms} ms from its first step to its failure; virsh start: ${total_ms} ms; after the hook: ${release_ms} ms"
((hook_ms < (TIMEOUT + GRACE) * 1000)) || gh_fail "the hook took ${hook_ms} ms, not within timeout ${TIMEOUT}s + grace ${GRACE}s"
((total_ms < (TIMEOUT + GRACE + MARGIN) * 1000)) ||
        gh_fail "virsh start took ${total_ms} ms, more than timeout ${TIMEOUT}s + grace ${GRACE}s + ${MARGIN}s"
# libvirt's release end found no journal, so it had nothing to undo (it took a timeout when it had).
((release_ms < MARGIN * 1000)) || gh_fail "virsh start returned ${release_ms} ms after the hook failed"

# A release end now, as libvirt ran it after the failed start: quick, and it changes nothing.
start=$(date +%s%N)
assert_ok "$GH_TOOL" hook qemu "$DOM" release end - <"$GH_E2E_RUN/$DOM.xml"
ms=$((($(date +%s%N) - start) / 1000000))
gh_log "release end: ${ms} ms"
((ms < 5000)) || gh_fail "release end took ${ms} ms"
assert_host_state "$before"
