# shellcheck shell=bash
# A compositor running as a user unit, as GNOME Shell 46 and later does, that takes the second GPU's card
# from logind (TakeControl, TakeDevice: gh-compositor-standin, tests/e2e/compositor-standin.c) for the
# test user's session on seat0, whose own process is a plain `sleep`: the stand-in's fd is logind's open
# file, and logind and PID 1 (its fd store) hold the card too. `plan` names the stand-in as owned by its
# user unit and treats it as the graphical session, and names neither PID 1 nor logind as a holder or as
# protected; it says logind's copies are waited for. Alongside, a user unit of the same user (not
# graphical: it holds the GPU's fbdev node) and a system service, both Restart=always, hold the GPU. The
# start with the default config succeeds: both units are stopped through their managers (journaled
# stop-user-unit and stop-unit steps) and still inactive 5 s later, the stand-in ends as the setting says
# for a graphical session without a display manager, the wait-released step waits until logind and PID 1
# let the card go, and 06.0 is on vfio-pci. After destroy, 06.0 has its card again and both units run and
# hold the GPU again.
# e2e-machine: desktop
# e2e-timeout: 600

# shellcheck source=tests/e2e/desktop.sh
. "$GH_E2E_DIR/desktop.sh"

DOM=gh-e2e-takedev
JOURNAL=/run/gpu-handover/$DOM.journal
STANDIN=$GH_BUILD/tests/gh-compositor-standin
COMPOSITOR=gh-e2e-compositor.service
USER_HOLDER=gh-e2e-fbholder.service
RESTARTER=gh-e2e-restarter.service
USER_UNIT_DIR=/etc/systemd/user

[[ -x $STANDIN ]] || gh_skip "$STANDIN is not built (the tests' CMake builds it)"

# The fbdev node of a GPU (bochs' fbdev emulation): /dev/fbN.
fb_node() {
        local fb
        for fb in /sys/bus/pci/devices/"$1"/graphics/fb*; do
                [[ -e $fb ]] && echo "/dev/${fb##*/}" && return 0
        done
        gh_fail "'$1' has no fbdev node"
}

user_unit_holds() {
        local pid
        pid=$(gh_desk_user_unit_pid "$1")
        [[ $pid != 0 ]] && gh_desk_holds "$pid" "$2"
}

standin_log() {
        journalctl -q -b -o cat _PID="$comp" 2>/dev/null
}

standin_released() {
        [[ $(standin_log) == *"released control of "* ]]
}

user_unit_file() {
        cat >"$USER_UNIT_DIR/$1"
}

cleanup() {
        gh_desk_systemctl stop "$COMPOSITOR" "$USER_HOLDER" >/dev/null 2>&1 || true
        rm -f "$USER_UNIT_DIR/$COMPOSITOR" "$USER_UNIT_DIR/$USER_HOLDER"
        systemctl stop "$GH_DESK_UNIT" 2>/dev/null || true
        # The manager keeps the video group it started with: stop it, the next session starts a new one.
        systemctl stop "user@$uid.service" 2>/dev/null || true
        gpasswd -d "$GH_DESK_USER" video >/dev/null 2>&1 || true
}

gh_install_tool
uid=$(gh_desk_uid)
card1=$(gh_card_node "$GH_GPU2")
fb1=$(fb_node "$GH_GPU2")
gh_log "06.0 is $card1 and $fb1; user $GH_DESK_USER is uid $uid"
trap cleanup EXIT

# A desktop user in 'video' (Debian adds the first user to it), so that a user unit can open the fbdev
# node; the user manager must start after that to have the group.
usermod -aG video "$GH_DESK_USER"
systemctl stop "user@$uid.service" 2>/dev/null || true
gh_desk_bare_session_start /bin/sleep infinity
gh_log "session $GH_DESK_SESSION active, its leader $(loginctl show-session "$GH_DESK_SESSION" -p Leader --value) runs sleep"

# The compositor stand-in and a plain holder, as the user's units; a system service holding the card.
user_unit_file "$COMPOSITOR" <<EOF
[Unit]
Description=Compositor stand-in taking $card1 from logind (e2e)

[Service]
ExecStart=$STANDIN $card1
EOF
user_unit_file "$USER_HOLDER" <<EOF
[Unit]
Description=A user service holding $fb1 that comes back when it ends (e2e)

[Service]
ExecStart=/bin/bash -c 'exec 3<$fb1; while :; do sleep 0.2 3<&-; done'
Restart=always
RestartSec=1
EOF
gh_install_unit "$RESTARTER" <<EOF
[Unit]
Description=A service that holds $card1 and comes back when it ends (e2e)

[Service]
ExecStart=/bin/bash -c 'exec 3<$card1; while :; do sleep 0.2 3<&-; done'
Restart=always
RestartSec=1
EOF
gh_desk_systemctl daemon-reload
assert_ok gh_desk_systemctl start "$COMPOSITOR" "$USER_HOLDER"
assert_ok systemctl start "$RESTARTER"
wait_for 60 user_unit_holds "$COMPOSITOR" "$card1"
wait_for 30 user_unit_holds "$USER_HOLDER" "$fb1"
wait_for 30 _gh_unit_holds "$RESTARTER" "$card1"
comp=$(gh_desk_user_unit_pid "$COMPOSITOR")
comm=$(<"/proc/$comp/comm")
logind=$(gh_desk_logind_pid)
gh_log "the stand-in's log: $(standin_log | paste -sd'|')"
assert_contains "$(<"/proc/$comp/cgroup")" "/user@$uid.service/app.slice/$COMPOSITOR" "the stand-in's cgroup"
pair=$(gh_desk_same_open_file "$comp" "$logind" "$card1") ||
        gh_fail "the stand-in's $card1 is not the open file logind holds"
gh_log "the stand-in's and logind's $card1 are one open file: $pair"
pair=$(gh_desk_same_open_file "$comp" 1 "$card1") ||
        gh_fail "the stand-in's $card1 is not the open file in PID 1's fd store"
gh_log "the stand-in's and PID 1's $card1 are one open file: $pair"

define_domain "$DOM" no "$GH_GPU2" "$GH_GPU2_AUDIO"
gh_write_config "$DOM" </dev/null
plan=$("$GH_TOOL" plan "$DOM")
echo "$plan"
why=$(sed -n '/^Why:/,/^Steps/p' <<<"$plan")
# logind's and PID 1's copies are neither holders to act on nor protected ones that refuse the start.
[[ $why != *"pid 1 ("* ]] || gh_fail "plan's reasons name PID 1: $why"
[[ $why != *"pid $logind ("* ]] || gh_fail "plan's reasons name systemd-logind (pid $logind): $why"
[[ $why != *"protected"* ]] || gh_fail "plan's reasons name a protected holder: $why"
assert_contains "$why" "pid $comp ($comm) holds $card1, owned by user unit '$COMPOSITOR' of user $uid: the graphical session:" "plan's reasons"
assert_contains "$why" "logind keeps a copy of $card1 for pid $comp ($comm), which took it" "plan's reasons"
assert_contains "$why" "owned by user unit '$USER_HOLDER' of user $uid: stop user unit '$USER_HOLDER' of user $uid" "plan's reasons"
assert_contains "$why" "owned by system unit '$RESTARTER': stop unit '$RESTARTER'" "plan's reasons"
assert_contains "$plan" "stop user unit '$USER_HOLDER' of user $uid through its manager" "plan's steps"
assert_contains "$plan" "wait until logind and PID 1's fd store let go of" "plan's steps"

before=$(gh_host_state)
gh_log "starting the domain"
assert_ok virsh start --paused "$DOM"
assert_driver "$GH_GPU2" vfio-pci
assert_driver "$GH_GPU2_AUDIO" vfio-pci
assert_driver "$GH_GPU" bochs-drm
gh_log "journal of the hand-over:"
cat "$JOURNAL"
grep -Eq "^stop-user-unit .*name=$USER_HOLDER( |\$)" "$JOURNAL" || gh_fail "the journal has no stop of user unit '$USER_HOLDER'"
grep -Eq "^stop-user-unit .*uid=$uid( |\$)" "$JOURNAL" || gh_fail "the journal's stop-user-unit is not for uid $uid"
grep -q "^stop-unit name=$RESTARTER\$" "$JOURNAL" || gh_fail "the journal has no stop of '$RESTARTER'"
gh_pid_alive "$comp" && gh_fail "the stand-in (pid $comp) still runs"
# It was sent SIGTERM as a compositor would be, and gave the card back through ReleaseControl.
wait_for 30 standin_released
gh_log "the stand-in's log: $(standin_log | paste -sd'|')"
gh_timings
wait_ms=$(gh_timings | awk -F'\t' '$2 == "step" && $4 == "wait-released" { print int($3) }')
[[ -n $wait_ms ]] || gh_fail "no wait-released step in the tool's log"
gh_log "wait-released took $wait_ms ms"
# Stopped as units: their Restart=always (RestartSec=1) does not bring them back while the VM runs.
sleep 5
assert_eq inactive "$(gh_desk_systemctl is-active "$USER_HOLDER")" "user unit '$USER_HOLDER'"
assert_unit_inactive "$RESTARTER"
gh_log "compositor stand-in's unit: $(gh_desk_systemctl is-active "$COMPOSITOR" || true)"

gh_log "destroying the domain"
assert_ok virsh destroy "$DOM"
assert_driver "$GH_GPU2" bochs-drm
assert_driver "$GH_GPU2_AUDIO" snd_hda_intel
assert_file_absent "$JOURNAL"
card1=$(gh_card_node "$GH_GPU2") || gh_fail "06.0 has no card after the give-back"
fb1=$(fb_node "$GH_GPU2")
assert_eq active "$(gh_desk_systemctl is-active "$USER_HOLDER")" "user unit '$USER_HOLDER'"
assert_unit_active "$RESTARTER"
wait_for 30 user_unit_holds "$USER_HOLDER" "$fb1"
wait_for 30 _gh_unit_holds "$RESTARTER" "$card1"
gh_log "06.0 is $card1 and $fb1 again, held by '$USER_HOLDER' and '$RESTARTER'"
assert_host_state "$before"
