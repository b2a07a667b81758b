# shellcheck shell=bash disable=SC2034 # the constants are for the scenarios
# Helpers for the 'desktop' machine (tests/e2e/machines/desktop.sh): a real logind session on seat0 for a
# test user, weston or mutter in it, and the user's PipeWire and WirePlumber, all Debian's own. Source
# after lib.sh.

# The user the machine's setup creates, and the VT of its session (no getty runs there).
GH_DESK_USER=ghdesk
GH_DESK_TTY=tty2
# The session's unit; named as gh_start_holder's units are, so that the runner ends it after each scenario.
# pam_systemd moves its process (weston) into the session's scope; stopping the unit still ends it.
GH_DESK_UNIT=${GH_HOLDER_UNIT_PREFIX}desk-session.service
# Weston as a user starts it on a TTY: DRM, no GPU rendering (pixman: bochs has none), no input devices.
GH_DESK_WESTON=(/usr/bin/weston --backend=drm-backend.so --use-pixman --continue-without-input)
# Set by gh_desk_session_start: the session's logind id and weston's pid.
GH_DESK_SESSION=
GH_DESK_WESTON_PID=

# gh_desk_uid: the test user's uid.
gh_desk_uid() {
        id -u "$GH_DESK_USER"
}

# gh_desk_user CMD [ARG...]: runs CMD as the test user with its session's runtime dir and user bus, no PAM.
gh_desk_user() {
        local uid
        uid=$(gh_desk_uid)
        setpriv --reuid="$uid" --regid="$(id -g "$GH_DESK_USER")" --init-groups \
                env -i PATH=/usr/bin:/bin HOME="/home/$GH_DESK_USER" USER="$GH_DESK_USER" \
                XDG_RUNTIME_DIR="/run/user/$uid" DBUS_SESSION_BUS_ADDRESS="unix:path=/run/user/$uid/bus" "$@"
}

# gh_desk_systemctl ARG...: systemctl on the test user's manager (user@UID.service), run as root.
gh_desk_systemctl() {
        systemctl --user -M "$GH_DESK_USER@" "$@"
}

# gh_desk_session_id: the id of the test user's session on seat0 and $GH_DESK_TTY; fails when it has none.
gh_desk_session_id() {
        local id uid user seat tty
        while read -r id uid user seat tty; do
                [[ $user == "$GH_DESK_USER" && $seat == seat0 && $tty == "$GH_DESK_TTY" ]] && echo "$id" && return 0
        done < <(loginctl list-sessions --no-legend 2>/dev/null)
        return 1
}

# gh_desk_session_active [ID]: logind calls the session (default $GH_DESK_SESSION) active, its state too.
gh_desk_session_active() {
        local id=${1:-$GH_DESK_SESSION}
        [[ $(loginctl show-session "$id" -p Active --value 2>/dev/null) == yes &&
                $(loginctl show-session "$id" -p State --value 2>/dev/null) == active ]]
}

_gh_desk_found_session() {
        GH_DESK_SESSION=$(gh_desk_session_id)
}

# gh_desk_session_start [WESTON-ARG...]: the test user's login session on seat0 ($GH_DESK_TTY, PAM's
# 'login', so pam_systemd registers it and starts user@UID.service), running weston with those extra
# arguments; made the active session as a VT switch makes it; returns once weston holds a DRM card. Sets
# GH_DESK_SESSION and GH_DESK_WESTON_PID.
gh_desk_session_start() {
        systemd-run --quiet --collect --unit="$GH_DESK_UNIT" -p PAMName=login -p User="$GH_DESK_USER" \
                -p TTYPath="/dev/$GH_DESK_TTY" -p StandardInput=tty -p StandardOutput=journal \
                -p StandardError=journal "${GH_DESK_WESTON[@]}" "$@" || gh_fail "cannot start '$GH_DESK_UNIT'"
        wait_for 60 _gh_desk_found_session
        # logind switches the VT (chvt) to the session's, and the session becomes active.
        loginctl activate "$GH_DESK_SESSION" || gh_fail "loginctl activate $GH_DESK_SESSION failed"
        wait_for 30 gh_desk_session_active
        GH_DESK_WESTON_PID=$(gh_unit_pid "$GH_DESK_UNIT")
        [[ $GH_DESK_WESTON_PID != 0 ]] || gh_fail "'$GH_DESK_UNIT' has no main pid: $(gh_desk_weston_log)"
        wait_for 120 _gh_desk_holds_any "$GH_DESK_WESTON_PID" /dev/dri/card
}

# gh_desk_session_stop: ends the session's unit (weston), and waits until logind has closed the session.
gh_desk_session_stop() {
        local id=${GH_DESK_SESSION:-}
        systemctl stop "$GH_DESK_UNIT" 2>/dev/null || true
        [[ -z $id ]] || wait_for 60 _gh_desk_session_gone "$id"
        GH_DESK_SESSION='' GH_DESK_WESTON_PID=''
}

_gh_desk_session_gone() {
        ! loginctl show-session "$1" >/dev/null 2>&1
}

# gh_desk_weston_pid: weston's pid (the session unit's main process), 0 when it is not running.
gh_desk_weston_pid() {
        gh_unit_pid "$GH_DESK_UNIT"
}

# gh_desk_weston_log: what weston printed (by its pid: pam_systemd moved it out of its unit, into the
# session's scope).
gh_desk_weston_log() {
        journalctl -q -b -o cat _PID="${GH_DESK_WESTON_PID:-$(gh_desk_weston_pid)}" 2>/dev/null
}

# gh_desk_nodes PID PREFIX: the device nodes starting with PREFIX (/dev/dri/, /dev/snd/) that PID holds,
# each once, sorted, on one line. One fork, where gh_holds forks for each fd (PID 1 has hundreds).
gh_desk_nodes() {
        find "/proc/$1/fd" -lname "$2*" -printf '%l\n' 2>/dev/null | sort -u | paste -sd' '
}

# gh_desk_holds PID NODE: PID holds NODE (as gh_holds, in one fork).
gh_desk_holds() {
        [[ " $(gh_desk_nodes "$1" "$2") " == *" $2 "* ]]
}

_gh_desk_holds_any() {
        [[ -n $(gh_desk_nodes "$1" "$2") ]]
}

# gh_desk_wait_holds SECONDS PID NODE: waits until PID holds NODE; fails the scenario at the deadline.
gh_desk_wait_holds() {
        wait_for "$1" gh_desk_holds "$2" "$3"
}

# gh_desk_logind_pid: systemd-logind's main pid.
gh_desk_logind_pid() {
        gh_unit_pid systemd-logind.service
}

# gh_desk_same_open_file PID_A PID_B NODE: some fd of PID_A and some fd of PID_B on NODE are the same
# open file (kcmp KCMP_FILE), as when one got it from the other over a socket (logind's TakeDevice), not
# by an open() of its own. Prints the pair, PID_A:FD PID_B:FD.
gh_desk_same_open_file() {
        python3 - "$@" <<'EOF'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
SYS_kcmp, KCMP_FILE = 312, 0
a, b, node = int(sys.argv[1]), int(sys.argv[2]), os.path.realpath(sys.argv[3])
def fds(pid):
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == node:
                out.append(int(fd))
        except OSError:
            pass
    return out
for fa in fds(a):
    for fb in fds(b):
        if libc.syscall(SYS_kcmp, a, b, KCMP_FILE, fa, fb) == 0:
            print(f"{a}:{fa} {b}:{fb}")
            sys.exit(0)
sys.exit(1)
EOF
}

# gh_desk_control_node ADDR: the ALSA control node (/dev/snd/controlCN) of an audio function's card.
gh_desk_control_node() {
        local card
        for card in /sys/bus/pci/devices/"$1"/sound/card*; do
                [[ -e $card ]] && echo "/dev/snd/controlC${card##*/card}" && return 0
        done
        gh_fail "'$1' has no sound card"
}

# gh_desk_pipewire_pid, gh_desk_wireplumber_pid: the user's pipewire and wireplumber, 0 when not running.
gh_desk_pipewire_pid() {
        gh_desk_systemctl show -P MainPID pipewire.service
}

gh_desk_wireplumber_pid() {
        gh_desk_systemctl show -P MainPID wireplumber.service
}

# gh_desk_audio_start: the user's pipewire and wireplumber started (Debian's packages enable them for
# every user, so user@UID.service usually has), and PipeWire lists a device for each of the machine's two
# HDA functions.
gh_desk_audio_start() {
        gh_desk_systemctl start pipewire.service wireplumber.service || gh_fail "pipewire or wireplumber did not start"
        wait_for 120 gh_desk_pw_has_card "$GH_GPU_AUDIO"
        wait_for 60 gh_desk_pw_has_card "$GH_GPU2_AUDIO"
}

# gh_desk_pw_devices: `pw-cli ls Device` as the user: PipeWire's devices with their properties.
gh_desk_pw_devices() {
        gh_desk_user pw-cli ls Device
}

# gh_desk_pw_has_card ADDR: PipeWire has a device for the audio function ADDR (its bus path or name).
gh_desk_pw_has_card() {
        local re=${1//[:.]/[:._]}
        gh_desk_pw_devices 2>/dev/null | grep -qE "pci-$re\""
}

# gh_desk_bare_session_start CMD [ARG...]: the test user's session as gh_desk_session_start makes it
# (seat0, $GH_DESK_TTY, active), running CMD instead of weston: a session without a controller, which a
# compositor running as a user unit can take (logind's TakeControl). Returns once it is active; sets
# GH_DESK_SESSION. gh_desk_session_stop ends it.
gh_desk_bare_session_start() {
        systemd-run --quiet --collect --unit="$GH_DESK_UNIT" -p PAMName=login -p User="$GH_DESK_USER" \
                -p TTYPath="/dev/$GH_DESK_TTY" -p StandardInput=tty -p StandardOutput=journal \
                -p StandardError=journal "$@" || gh_fail "cannot start '$GH_DESK_UNIT'"
        wait_for 60 _gh_desk_found_session
        loginctl activate "$GH_DESK_SESSION" || gh_fail "loginctl activate $GH_DESK_SESSION failed"
        wait_for 30 gh_desk_session_active
}

# gh_desk_user_unit_pid UNIT: the main pid of a unit of the test user's manager, 0 when it has none.
gh_desk_user_unit_pid() {
        gh_desk_systemctl show -P MainPID "$1"
}

# GNOME's compositor as gnome-shell runs it, without the shell: mutter's native backend (DRM through
# logind, as a session on a VT has), Wayland only. Under TCG on bochs it renders with Mesa's software GBM
# (kms_swrast), takes the boot VGA's card as its primary GPU and, as every mutter does, each further
# card of the seat as a secondary GPU unless udev tagged it mutter-device-ignore. MUTTER_DEBUG=backend
# logs each device it opens through logind ("Opening and taking control of device file 'NODE'").
GH_DESK_MUTTER=(/usr/bin/mutter --wayland --display-server --no-x11)
# Set by gh_desk_dm_start and gh_desk_dm_wait: the session's logind id and the compositor's pid.
GH_DESK_COMPOSITOR_PID=

# gh_desk_dm_start: a display manager that logs the test user in on $GH_DESK_TTY (autologin) into a
# Wayland session running mutter: the unit $GH_DM_UNIT, aliased display-manager.service and enabled, with
# PAM's 'login' (pam_systemd registers the session, of type wayland, and moves mutter into its scope;
# the unit's main pid stays mutter, and stopping the unit ends it, as stopping gdm ends its sessions).
# Returns once the session is seat0's active one and mutter holds the boot GPU's card (gh_desk_dm_wait).
gh_desk_dm_start() {
        local uid
        uid=$(gh_desk_uid)
        cat >"/etc/systemd/system/$GH_DM_UNIT" <<EOF2
[Unit]
Description=Display manager: autologin of $GH_DESK_USER on $GH_DESK_TTY into mutter (e2e)

[Service]
User=$GH_DESK_USER
PAMName=login
TTYPath=/dev/$GH_DESK_TTY
StandardInput=tty
StandardOutput=journal
StandardError=journal
Environment=XDG_SESSION_TYPE=wayland DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/$uid/bus MUTTER_DEBUG=backend
ExecStart=${GH_DESK_MUTTER[*]}

[Install]
Alias=display-manager.service
EOF2
        systemctl enable --quiet --now "$GH_DM_UNIT" || gh_fail "'$GH_DM_UNIT' did not start"
        gh_desk_dm_wait 240
}

# gh_desk_dm_wait SECONDS: waits until the test user's session on seat0 is the active one (activating it,
# as a display manager switches to its session's VT) and the display manager's main process, mutter,
# holds the boot GPU's card. Sets GH_DESK_SESSION and GH_DESK_COMPOSITOR_PID.
gh_desk_dm_wait() {
        wait_for "$1" _gh_desk_live_session_active
        wait_for "$1" _gh_desk_compositor_holds "$(gh_card_node "$GH_GPU")"
        GH_DESK_COMPOSITOR_PID=$(gh_unit_pid "$GH_DM_UNIT")
}

# The user's session on seat0 and $GH_DESK_TTY that is not closing (a stopped compositor's session may
# still be listed) is active: sets GH_DESK_SESSION; activates it when it is not.
_gh_desk_live_session_active() {
        local id uid user seat tty state
        while read -r id uid user seat tty; do
                [[ $user == "$GH_DESK_USER" && $seat == seat0 && $tty == "$GH_DESK_TTY" ]] || continue
                state=$(loginctl show-session "$id" -p State --value 2>/dev/null) || continue
                [[ $state == closing ]] && continue
                if gh_desk_session_active "$id"; then
                        GH_DESK_SESSION=$id
                        return 0
                fi
                loginctl activate "$id" 2>/dev/null || true
        done < <(loginctl list-sessions --no-legend 2>/dev/null)
        return 1
}

_gh_desk_compositor_holds() {
        local pid
        pid=$(gh_unit_pid "$GH_DM_UNIT")
        [[ $pid != 0 ]] && gh_desk_holds "$pid" "$1"
}

# gh_desk_compositor_log [PID]: what the compositor (default $GH_DESK_COMPOSITOR_PID) logged.
gh_desk_compositor_log() {
        journalctl -q -b -o cat _PID="${1:-$GH_DESK_COMPOSITOR_PID}" 2>/dev/null
}

# gh_desk_compositor_opened PID NODE: how many times mutter PID took NODE from logind (its log).
gh_desk_compositor_opened() {
        gh_desk_compositor_log "$1" | grep -cF "taking control of device file '$2'" || true
}

# gh_desk_compositor_ignored PID NODE: how many times mutter PID left NODE alone for its udev tag (its
# log: "Ignoring DRM device 'NODE'", at start and at each hot-plug of the card).
gh_desk_compositor_ignored() {
        gh_desk_compositor_log "$1" | grep -cF "Ignoring DRM device '$2'" || true
}

# gh_desk_ignore_tagged NODE: udev's database gives NODE the tag mutter-device-ignore now (CURRENT_TAGS:
# TAGS keeps a tag once set until the device goes away, systemd 247 and later).
gh_desk_ignore_tagged() {
        udevadm info --query=property "$1" 2>/dev/null | grep -q '^CURRENT_TAGS=.*:mutter-device-ignore:'
}

# gh_desk_poll FILE: until killed, samples every 0.2 s whether the test user's session on seat0 is the
# seat's active one and in state active, one line each to FILE: EPOCHREALTIME, up or down, the session
# id. It reads logind's state files (/run/systemd/seats/seat0, /run/systemd/sessions/ID) without a fork,
# so that a busy guest still gets a sample every few hundred ms. A session of the user that is not closing
# and not active is activated, as a display manager switches to its session's VT.
gh_desk_poll() {
        local sid state f
        while :; do
                state=down sid=-
                _gh_desk_kv /run/systemd/seats/seat0 ACTIVE && sid=$REPLY
                if [[ $sid != - ]] && _gh_desk_kv "/run/systemd/sessions/$sid" USER &&
                        [[ $REPLY == "$GH_DESK_USER" ]] && _gh_desk_kv "/run/systemd/sessions/$sid" STATE &&
                        [[ $REPLY == active ]]; then
                        state=up
                else
                        for f in /run/systemd/sessions/*; do
                                [[ $f == *.ref ]] && continue
                                if _gh_desk_kv "$f" USER && [[ $REPLY == "$GH_DESK_USER" ]] &&
                                        _gh_desk_kv "$f" STATE && [[ $REPLY == online ]] &&
                                        loginctl activate "${f##*/}" 2>/dev/null; then
                                        state="down activated"
                                fi
                        done
                fi
                echo "$EPOCHREALTIME $state $sid" >>"$1"
                sleep 0.2
        done
}

# _gh_desk_kv FILE KEY: REPLY is KEY's value in the KEY=VALUE file FILE; fails when it has none.
_gh_desk_kv() {
        local k v
        while IFS='=' read -r k v; do
                [[ $k == "$2" ]] && REPLY=$v && return 0
        done 2>/dev/null <"$1"
        return 1
}

# gh_desk_downtime FILE: from gh_desk_poll's samples, the milliseconds the session was not active (each
# 'down' sample counts until the next sample), and how many samples were taken; "MS SAMPLES".
gh_desk_downtime() {
        awk '{ t = $1 * 1000; if (n && prev == "down") d += t - pt; pt = t; prev = $2; n++ }
                END { printf "%d %d\n", d, n }' "$1"
}
