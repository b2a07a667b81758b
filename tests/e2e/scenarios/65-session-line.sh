# shellcheck shell=bash
# `plan` and `check` say what a start does to a real graphical session (weston in a logind session on
# seat0, holding the boot GPU 05.0's card): for a domain taking the second GPU (06.0, 06.1), which the
# session-keeping mode (written by install) keeps away from the desktop, the session is kept and check
# says the mode is on; for one taking 05.0, the line names weston and check WARNs of a logout. Nothing
# changes on the host.
# e2e-machine: desktop
# e2e-timeout: 600

# shellcheck source=tests/e2e/desktop.sh
. "$GH_E2E_DIR/desktop.sh"

DOM=gh-e2e-second
DOM_BOOT=gh-e2e-boot

# Both domains opted in before install, which writes the desktop files from their definitions.
mkdir -p /etc/libvirt/qemu "$GH_E2E_RUN"
gh_write_config "$DOM" </dev/null
gh_write_config "$DOM_BOOT" <<<"keep_session = no"
gh_domain_xml "$DOM" no "$GH_GPU2" "$GH_GPU2_AUDIO" >"/etc/libvirt/qemu/$DOM.xml"
gh_domain_xml "$DOM_BOOT" no "$GH_GPU" "$GH_GPU_AUDIO" >"/etc/libvirt/qemu/$DOM_BOOT.xml"
# No VM starts here: the files and the hook entry, without restarting libvirtd.
gh_install_tool_files
assert_file_exists /etc/udev/rules.d/61-gpu-handover-desktop.rules

gh_desk_session_start
gh_log "session $GH_DESK_SESSION (type $(loginctl show-session "$GH_DESK_SESSION" -p Type --value)), weston pid $GH_DESK_WESTON_PID holds: $(gh_desk_nodes "$GH_DESK_WESTON_PID" /dev/dri/)"
before=$(gh_host_state --pids)

out=$("$GH_TOOL" plan "$DOM" 2>&1) || gh_fail "plan $DOM failed: $out"
echo "$out"
grep -qx "The graphical session: kept (nothing graphical holds $GH_GPU2, $GH_GPU2_AUDIO)" <<<"$out" ||
        gh_fail "plan $DOM does not say the session is kept"
out=$("$GH_TOOL" check "$DOM" --xml "/etc/libvirt/qemu/$DOM.xml" 2>&1) || true
echo "$out"
grep -q "^PASS  graphical session: kept" <<<"$out" || gh_fail "check $DOM: no PASS line keeping the session"
grep -q "^PASS  session-keeping mode: on: $GH_GPU2: kept away from the desktop" <<<"$out" ||
        gh_fail "check $DOM: the session-keeping mode is not on"

out=$("$GH_TOOL" plan "$DOM_BOOT" 2>&1) || gh_fail "plan $DOM_BOOT failed: $out"
echo "$out"
line=$(grep "^The graphical session: " <<<"$out") || gh_fail "plan $DOM_BOOT has no session line"
gh_log "plan $DOM_BOOT: $line"
out=$("$GH_TOOL" check "$DOM_BOOT" --xml "/etc/libvirt/qemu/$DOM_BOOT.xml" 2>&1) || true
echo "$out"
grep -q "^WARN  graphical session: a start would log the user out: .*pid $GH_DESK_WESTON_PID (weston)" <<<"$out" ||
        gh_fail "check $DOM_BOOT: no WARN that a start ends weston's session"

assert_host_state "$before" --pids
gh_desk_session_stop
