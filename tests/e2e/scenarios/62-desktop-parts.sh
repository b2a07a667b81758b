# shellcheck shell=bash
# The desktop machine's parts are Debian's own and behave as a desktop's do, without the tool: a logind
# session on seat0 (PAM 'login', tty2) that is active and has the user's user@UID.service; weston in it
# holds the boot GPU's card, got from logind (TakeDevice: the same open file as logind's copy and as the
# one in PID 1's fd store, not an open() of its own); the user's PipeWire and WirePlumber hold both HDA
# functions' ALSA control nodes and list both cards. Prints how long the session, weston and the audio
# stack took to start, and what each holds.
# e2e-machine: desktop
# e2e-timeout: 600

# shellcheck source=tests/e2e/desktop.sh
. "$GH_E2E_DIR/desktop.sh"

ms_since() {
        echo $((($(date +%s%N) - $1) / 1000000))
}

card0=$(gh_card_node "$GH_GPU")
card1=$(gh_card_node "$GH_GPU2")
ctl0=$(gh_desk_control_node "$GH_GPU_AUDIO")
ctl1=$(gh_desk_control_node "$GH_GPU2_AUDIO")
uid=$(gh_desk_uid)
gh_log "05.0 is $card0, 06.0 is $card1, 05.1 is $ctl0, 06.1 is $ctl1; user $GH_DESK_USER is uid $uid"

# Weston as a user starts it, without --drm-device: it picks the boot VGA.
t=$(date +%s%N)
gh_desk_session_start
gh_log "session $GH_DESK_SESSION active and weston (pid $GH_DESK_WESTON_PID) holding a card after $(ms_since "$t") ms"
loginctl session-status "$GH_DESK_SESSION" --no-pager --lines=0 || true
assert_eq seat0 "$(loginctl show-session "$GH_DESK_SESSION" -p Seat --value)" "the session's seat"
assert_eq "$GH_DESK_TTY" "$(loginctl show-session "$GH_DESK_SESSION" -p TTY --value)" "the session's TTY"
assert_eq "$GH_DESK_USER" "$(loginctl show-session "$GH_DESK_SESSION" -p Name --value)" "the session's user"
gh_log "session type $(loginctl show-session "$GH_DESK_SESSION" -p Type --value), class $(loginctl show-session "$GH_DESK_SESSION" -p Class --value), VT $(loginctl show-session "$GH_DESK_SESSION" -p VTNr --value); seat0's active session: $(loginctl show-seat seat0 -p ActiveSession --value)"
assert_eq "$GH_DESK_SESSION" "$(loginctl show-seat seat0 -p ActiveSession --value)" "seat0's active session"
assert_unit_active "user@$uid.service"
gh_log "user@$uid.service took $(($(systemctl show -P ActiveEnterTimestampMonotonic "user@$uid.service") / 1000 - $(systemctl show -P InactiveExitTimestampMonotonic "user@$uid.service") / 1000)) ms to start"
# pam_systemd moved the unit's process into the session's scope, as with any login.
assert_contains "$(<"/proc/$GH_DESK_WESTON_PID/cgroup")" "/user-$uid.slice/session-$GH_DESK_SESSION.scope" "weston's cgroup"
# The unit's process opened the session with PAM, then became weston.
assert_eq "$GH_DESK_WESTON_PID" "$(loginctl show-session "$GH_DESK_SESSION" -p Leader --value)" "the session's leader"

gh_log "weston's log:"
gh_desk_weston_log | head -n 60
gh_log "weston holds: $(gh_desk_nodes "$GH_DESK_WESTON_PID" /dev/dri/)"
assert_ok gh_desk_holds "$GH_DESK_WESTON_PID" "$card0"
if gh_desk_holds "$GH_DESK_WESTON_PID" "$card1"; then
        gh_log "weston also holds 06.0's $card1"
else
        gh_log "weston does not hold 06.0's $card1 (weston 10 drives one DRM device)"
fi
logind=$(gh_desk_logind_pid)
gh_log "PID 1 holds: $(gh_desk_nodes 1 /dev/dri/); systemd-logind (pid $logind) holds: $(gh_desk_nodes "$logind" /dev/dri/)"
assert_ok gh_desk_holds 1 "$card0"
assert_ok gh_desk_holds "$logind" "$card0"
# Got from logind: weston's fd is logind's open file, and PID 1's fd store has the same one.
pair=$(gh_desk_same_open_file "$GH_DESK_WESTON_PID" "$logind" "$card0") ||
        gh_fail "weston's $card0 is not the open file logind holds: weston opened it itself"
gh_log "weston's and logind's $card0 are one open file: $pair"
pair=$(gh_desk_same_open_file "$GH_DESK_WESTON_PID" 1 "$card0") ||
        gh_fail "weston's $card0 is not the open file in PID 1's fd store"
gh_log "weston's and PID 1's $card0 are one open file: $pair"
gh_log "logind's fd store: $(systemctl show systemd-logind.service -p FileDescriptorStoreMax -p NFileDescriptorStore 2>/dev/null | paste -sd' ')"

# The user's audio stack, as Debian enables it for every user.
t=$(date +%s%N)
gh_log "pipewire: $(gh_desk_systemctl is-active pipewire.service || true), wireplumber: $(gh_desk_systemctl is-active wireplumber.service || true) when the session is up"
gh_desk_audio_start
gh_log "pipewire and wireplumber up with both cards listed after $(ms_since "$t") ms"
pw=$(gh_desk_pipewire_pid)
wp=$(gh_desk_wireplumber_pid)
[[ $pw != 0 && $wp != 0 ]] || gh_fail "pipewire ($pw) or wireplumber ($wp) has no pid"
gh_log "pipewire (pid $pw) holds: $(gh_desk_nodes "$pw" /dev/snd/)"
gh_log "wireplumber (pid $wp) holds: $(gh_desk_nodes "$wp" /dev/snd/)"
for ctl in "$ctl0" "$ctl1"; do
        gh_desk_holds "$pw" "$ctl" || gh_desk_holds "$wp" "$ctl" || gh_fail "neither pipewire nor wireplumber holds $ctl"
done
assert_contains "$(<"/proc/$wp/cgroup")" "/user@$uid.service/" "wireplumber's cgroup"
gh_log "pw-cli ls Device:"
gh_desk_pw_devices
gh_log "wpctl status:"
gh_desk_user wpctl status || true
assert_ok gh_desk_pw_has_card "$GH_GPU_AUDIO"
assert_ok gh_desk_pw_has_card "$GH_GPU2_AUDIO"

t=$(date +%s%N)
gh_desk_session_stop
gh_log "session closed $(ms_since "$t") ms after weston's unit was stopped"
