# shellcheck shell=bash
# The desktop keeps running while its second GPU is lent (issue 10's proof, with real parts): a display
# manager logs the test user into a Wayland session running GNOME's compositor, mutter (native DRM
# backend, its devices from logind), with the user's PipeWire and WirePlumber; 06.0 and 06.1 go to a VM
# (managed='no') and back.
# Without the session-keeping mode mutter holds both GPUs' cards: by default the start stops the display
# manager (the session ends) and starts it again right after the bind, and after the release the new
# mutter takes 06.0's card again; with display_manager = keep and holders = fail the start is refused,
# naming mutter, and nothing changes. With the mode installed (desktop-rules --write: 06.0's nodes tagged
# mutter-device-ignore) mutter never opens 06.0's card, and two hand-overs and give-backs leave the
# session alone: same mutter, session active all along, no display manager stop, the tag on 06.0's card
# after each release, 06.0's card and 06.1's sound card back on the host. PipeWire and WirePlumber keep
# their pids, and 06.1's card leaves PipeWire while the VM has it and comes back, 05.1's staying listed.
# Prints the hand-over and give-back times and the session's downtime with and without the mode.
# e2e-machine: desktop
# e2e-timeout: 1500

# shellcheck source=tests/e2e/desktop.sh
. "$GH_E2E_DIR/desktop.sh"

DOM=gh-e2e-desk
JOURNAL=/run/gpu-handover/$DOM.journal
POLL=/tmp/gh-desk-poll

ms_since() {
        echo $((($(date +%s%N) - $1) / 1000000))
}

has_card() {
        compgen -G "/sys/bus/pci/devices/$1/drm/card*" >/dev/null
}

has_sound_card() {
        compgen -G "/sys/bus/pci/devices/$1/sound/card*" >/dev/null
}

no_pw_card() {
        ! gh_desk_pw_has_card "$1"
}

# wait_until SECONDS CMD [ARG...]: as wait_for, but returns 1 at the deadline instead of failing.
wait_until() {
        local deadline=$(($(date +%s%N) + $1 * 1000000000))
        shift
        until "$@"; do
                (($(date +%s%N) < deadline)) || return 1
                sleep 0.5
        done
}

# ignored_more PID NODE N: mutter PID has logged leaving NODE alone more than N times.
ignored_more() {
        (($(gh_desk_compositor_ignored "$1" "$2") > $3))
}

# entry_usec TEXT JOURNALCTL-MATCH...: the time (CLOCK_REALTIME µs) of the first journal entry of this boot
# that matches and whose message contains TEXT; empty when there is none.
entry_usec() {
        local text=$1
        shift
        journalctl -q -b -o json "$@" 2>/dev/null |
                jq -r --arg t "$text" 'select(.MESSAGE | strings | contains($t)) | .__REALTIME_TIMESTAMP' | head -n 1
}

# stop_session: the display manager stopped, and with it the session.
stop_session() {
        local id=$GH_DESK_SESSION
        systemctl stop "$GH_DM_UNIT"
        wait_for 60 _gh_desk_session_gone "$id"
}

poller=
# A failed assert exits the scenario: the poller must not outlive it (the runner would wait for its
# output until the scenario's limit).
trap '[[ -z $poller ]] || kill "$poller" 2>/dev/null || true' EXIT
poll_start() {
        rm -f "$POLL"
        gh_desk_poll "$POLL" &
        poller=$!
}

# poll_stop: ends the poller; prints the downtime it saw, "MS SAMPLES".
poll_stop() {
        kill "$poller" 2>/dev/null || true
        wait "$poller" 2>/dev/null || true
        poller=
        gh_desk_downtime "$POLL"
}

# The audio observations, and what a refused start did on the way, asserted at the end so that the rest
# is checked and measured either way. late_expect MESSAGE CMD [ARG...]: MESSAGE is a failure unless CMD
# succeeds.
late_fail=()
late_expect() {
        "${@:2}" || late_fail+=("$1")
}

# no_step_ran SINCE_USEC: the tool's log since then has no step done and nothing undone.
no_step_ran() {
        ! gh_tool_log "$1" | grep -E "done in|undo: "
}

# The session's state and the audio stack's, one line.
desk_state() {
        echo "session $(gh_desk_session_id || echo none), mutter $(gh_unit_pid "$GH_DM_UNIT") holds: $(gh_desk_nodes "$(gh_unit_pid "$GH_DM_UNIT")" /dev/dri/); pipewire $(gh_desk_pipewire_pid), wireplumber $(gh_desk_wireplumber_pid)"
}

gh_install_tool
assert_driver "$GH_GPU2" bochs-drm
assert_driver "$GH_GPU2_AUDIO" snd_hda_intel
card0=$(gh_card_node "$GH_GPU")
card1=$(gh_card_node "$GH_GPU2")
gh_write_config "$DOM" </dev/null
define_domain "$DOM" no "$GH_GPU2" "$GH_GPU2_AUDIO"
gh_log "05.0 is $card0, 06.0 is $card1"
# The rules were never written in this boot: a tag, once set, stays in TAGS until the card goes away.
gh_desk_ignore_tagged "$card1" && gh_fail "$card1 is tagged mutter-device-ignore before the mode is installed"

## (c) Without the mode: mutter holds both cards.
t=$(date +%s%N)
gh_desk_dm_start
gh_log "session $GH_DESK_SESSION (type $(loginctl show-session "$GH_DESK_SESSION" -p Type --value)) active, mutter (pid $GH_DESK_COMPOSITOR_PID) holding $card0 after $(ms_since "$t") ms; RSS $(awk '/VmRSS/ { print $2 " " $3 }' "/proc/$GH_DESK_COMPOSITOR_PID/status")"
gh_desk_wait_holds 120 "$GH_DESK_COMPOSITOR_PID" "$card1"
logind=$(gh_desk_logind_pid)
for card in "$card0" "$card1"; do
        pair=$(gh_desk_same_open_file "$GH_DESK_COMPOSITOR_PID" "$logind" "$card") ||
                gh_fail "mutter's $card is not the open file logind holds"
        gh_log "mutter's and logind's $card are one open file: $pair"
done
gh_desk_audio_start
gh_log "$(desk_state)"
gh_log "plan without the mode:"
"$GH_TOOL" plan "$DOM" || true

mutter=$GH_DESK_COMPOSITOR_PID
poll_start
t=$(date +%s%N)
gh_log "starting the domain without the mode, display_manager = auto"
assert_ok virsh start --paused "$DOM"
start_ms=$(ms_since "$t")
assert_driver "$GH_GPU2" vfio-pci
assert_driver "$GH_GPU2_AUDIO" vfio-pci
grep -q "^stop-unit name=$GH_DM_UNIT\$" "$JOURNAL" || gh_fail "the journal has no stop of '$GH_DM_UNIT': $(cat "$JOURNAL")"
# Started again right after the bind: the host keeps 05.0.
gh_desk_dm_wait 240
assert_ok gh_pid_alive "$GH_DESK_COMPOSITOR_PID"
[[ $GH_DESK_COMPOSITOR_PID != "$mutter" ]] || gh_fail "mutter (pid $mutter) was not stopped"
read -r down samples < <(poll_stop)
# The compositor was gone longer than the session: from the display manager's stop to the new mutter's
# Wayland socket (a session is active as soon as logind has it, before its compositor draws).
gone_usec=$(entry_usec "Stopping" -u "$GH_DM_UNIT" --since "@$((t / 1000000000))")
ready_usec=$(entry_usec "Using Wayland display name" _PID="$GH_DESK_COMPOSITOR_PID")
[[ -n $gone_usec && -n $ready_usec ]] || gh_fail "no stop of '$GH_DM_UNIT' ($gone_usec) or no Wayland socket of the new mutter ($ready_usec) in the journal"
gone_ms=$(((ready_usec - gone_usec) / 1000))
gh_log "without the mode: hand-over $start_ms ms; the session was down $down ms ($samples samples); no compositor for $gone_ms ms (display manager stopped to the new mutter's Wayland socket); new session $GH_DESK_SESSION, mutter pid $GH_DESK_COMPOSITOR_PID"
((down > 0)) || gh_fail "the poller never saw the session down"
t=$(date +%s%N)
assert_ok virsh destroy "$DOM"
gh_log "without the mode: give-back $(ms_since "$t") ms"
assert_driver "$GH_GPU2" bochs-drm
assert_driver "$GH_GPU2_AUDIO" snd_hda_intel
wait_for 30 has_card "$GH_GPU2"
card1=$(gh_card_node "$GH_GPU2")
# Issue 10's item 5: hot-plugged, the card is the new mutter's again.
if wait_until 60 gh_desk_holds "$GH_DESK_COMPOSITOR_PID" "$card1"; then
        gh_log "after the give-back the new mutter took 06.0's $card1 again (hot-plug)"
else
        gh_log "after the give-back the new mutter did not take 06.0's $card1: restarting the display manager"
        assert_ok systemctl restart "$GH_DM_UNIT"
        gh_desk_dm_wait 240
        gh_desk_wait_holds 120 "$GH_DESK_COMPOSITOR_PID" "$card1"
fi
without_down=$down

## (c) Without the mode, display_manager = keep and holders = fail: refused, nothing changed.
gh_write_config "$DOM" <<CONF
display_manager = keep
holders = fail
CONF
mutter=$GH_DESK_COMPOSITOR_PID
gh_desk_holds "$mutter" "$card1" || gh_fail "mutter (pid $mutter) does not hold $card1"
before=$(gh_host_state --pids)
wp_before=$(gh_desk_wireplumber_pid)
t=$(date +%s%N)
gh_virsh_start_fails "$DOM"
gh_log "refused in $(ms_since "$t") ms; the tool's messages:"
gh_tool_log "$((t / 1000))"
assert_contains "$GH_VIRSH_ERROR" "$mutter" "libvirt's error"
assert_contains "$GH_VIRSH_ERROR" "mutter" "libvirt's error"
# One line from the hook, naming every holder.
assert_eq 1 "$(grep -c 'gpu-handover:' <<<"$GH_VIRSH_ERROR")" "the hook's error lines"
assert_contains "$(grep 'gpu-handover:' <<<"$GH_VIRSH_ERROR")" "pid $mutter (mutter) holds $card1" "the hook's error"
assert_host_state "$before" --pids
assert_driver "$GH_GPU2" bochs-drm
# Refused before any step: nothing was changed and put back on the way (06.1 unbound and probed again
# would take its card from PipeWire, and a stream playing on it, for nothing).
late_expect "the refused start ran steps: $(gh_tool_log "$((t / 1000))" | grep -E "done in|undo: " | paste -sd'|')" no_step_ran "$((t / 1000))"
late_expect "the refused start changed wireplumber's pid ($wp_before)" test "$wp_before" = "$(gh_desk_wireplumber_pid)"
assert_eq "$mutter" "$(gh_unit_pid "$GH_DM_UNIT")" "mutter's pid"
gh_desk_holds "$mutter" "$card1" || gh_fail "mutter (pid $mutter) lost $card1"
assert_ok gh_desk_session_active
assert_file_absent "$JOURNAL"

## The mode installed: a new session, in which mutter leaves 06.0's card alone.
gh_write_config "$DOM" </dev/null
stop_session
assert_ok "$GH_TOOL" desktop-rules --write
udevadm settle
gh_log "udev: $(udevadm info --query=property "$card1" | grep TAGS | paste -sd' ')"
assert_ok gh_desk_ignore_tagged "$card1"
t=$(date +%s%N)
assert_ok systemctl start "$GH_DM_UNIT"
gh_desk_dm_wait 240
gh_log "session $GH_DESK_SESSION active, mutter (pid $GH_DESK_COMPOSITOR_PID) holding $card0 after $(ms_since "$t") ms; RSS $(awk '/VmRSS/ { print $2 " " $3 }' "/proc/$GH_DESK_COMPOSITOR_PID/status")"
wait_for 60 ignored_more "$GH_DESK_COMPOSITOR_PID" "$card1" 0
gh_desk_holds "$GH_DESK_COMPOSITOR_PID" "$card1" && gh_fail "mutter holds $card1 with the mode installed"
gh_desk_audio_start
gh_log "$(desk_state)"
gh_log "plan with the mode:"
"$GH_TOOL" plan "$DOM" || true

mutter=$GH_DESK_COMPOSITOR_PID
session=$GH_DESK_SESSION
dm_since=$(systemctl show -P ActiveEnterTimestampMonotonic "$GH_DM_UNIT")
pw=$(gh_desk_pipewire_pid)
wp=$(gh_desk_wireplumber_pid)
with_down=0
for round in 1 2; do
        ignored=$(gh_desk_compositor_ignored "$mutter" "$card1")
        poll_start
        t=$(date +%s%N)
        gh_log "round $round: starting the domain with the mode"
        assert_ok virsh start --paused "$DOM"
        start_ms=$(ms_since "$t")
        assert_driver "$GH_GPU2" vfio-pci
        assert_driver "$GH_GPU2_AUDIO" vfio-pci
        grep -q "^stop-unit name=$GH_DM_UNIT\$" "$JOURNAL" && gh_fail "the journal stops '$GH_DM_UNIT': $(cat "$JOURNAL")"
        gh_log "journal: $(paste -sd';' "$JOURNAL")"
        assert_eq "$mutter" "$(gh_unit_pid "$GH_DM_UNIT")" "mutter's pid"
        assert_ok gh_desk_session_active "$session"
        late_expect "round $round: 06.1 still listed in PipeWire while the VM runs" wait_until 60 no_pw_card "$GH_GPU2_AUDIO"
        late_expect "round $round: 05.1 not listed while the VM runs" gh_desk_pw_has_card "$GH_GPU_AUDIO"
        gh_log "round $round: VM running: $(desk_state)"
        t=$(date +%s%N)
        assert_ok virsh destroy "$DOM"
        stop_ms=$(ms_since "$t")
        assert_driver "$GH_GPU2" bochs-drm
        assert_driver "$GH_GPU2_AUDIO" snd_hda_intel
        assert_file_absent "$JOURNAL"
        wait_for 30 has_card "$GH_GPU2"
        wait_for 30 has_sound_card "$GH_GPU2_AUDIO"
        card1=$(gh_card_node "$GH_GPU2")
        assert_ok gh_desk_ignore_tagged "$card1"
        # mutter saw the card come back and left it alone.
        wait_for 60 ignored_more "$mutter" "$card1" "$ignored"
        late_expect "round $round: 06.1 not back in PipeWire after the release" wait_until 120 gh_desk_pw_has_card "$GH_GPU2_AUDIO"
        late_expect "round $round: 05.1 not listed after the release" gh_desk_pw_has_card "$GH_GPU_AUDIO"
        read -r down samples < <(poll_stop)
        gh_log "round $round with the mode: hand-over $start_ms ms, give-back $stop_ms ms; the session was down $down ms ($samples samples)"
        with_down=$((with_down + down))
        assert_eq "$mutter" "$(gh_unit_pid "$GH_DM_UNIT")" "mutter's pid"
        assert_eq 0 "$(gh_desk_compositor_opened "$mutter" "$card1")" "the times mutter took $card1"
        gh_desk_holds "$mutter" "$card1" && gh_fail "mutter holds $card1"
        assert_ok gh_desk_session_active "$session"
        assert_eq 0 "$down" "the session's downtime (ms)"
        assert_eq "$dm_since" "$(systemctl show -P ActiveEnterTimestampMonotonic "$GH_DM_UNIT")" "the display manager's start time"
        late_expect "round $round: pipewire's pid changed" test "$pw" = "$(gh_desk_pipewire_pid)"
        late_expect "round $round: wireplumber's pid changed" test "$wp" = "$(gh_desk_wireplumber_pid)"
        gh_log "round $round: after the release: $(desk_state)"
done
gh_log "tool's timings:"
gh_show_timings
gh_log "downtime of the session: without the mode $without_down ms (no compositor for $gone_ms ms), with the mode $with_down ms in two hand-overs (the same mutter throughout)"
((${#late_fail[@]} == 0)) || gh_fail "$(printf '%s; ' "${late_fail[@]}")"
