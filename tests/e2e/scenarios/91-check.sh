# shellcheck shell=bash
# gpu-handover check on the real kernel, the domain's XML asked of the guest's libvirtd: a good domain
# passes (IOMMU, vfio-pci, its IOMMU group with both functions and their real drivers, the hook, a
# daemon started since); a group-writable config and a hostdev whose group member is left out each give a
# FAIL naming the file or the address, exit 1, and the hook really refuses those starts. A hook linked
# anew behind the daemon's back is a WARN until libvirtd restarts. check itself changes nothing.
# e2e-machine: single

DOM=gh-e2e-check
CONF=/etc/gpu-handover/domains/$DOM.conf

# run_check EXPECTED_EXIT ARGS...: gpu-handover check ARGS, which must exit EXPECTED_EXIT and change
# nothing on the host; its output goes to CHECK_OUT.
run_check() {
        local want=$1 rc=0 before
        shift
        before=$(gh_host_state --pids)
        CHECK_OUT=$("$GH_TOOL" check "$@" 2>&1) || rc=$?
        echo "\$ gpu-handover check $*"
        echo "$CHECK_OUT"
        assert_eq "$want" "$rc" "exit status of 'gpu-handover check $*'"
        assert_host_state "$before" --pids
}

# has_line LEVEL TITLE DETAIL: CHECK_OUT has a line "LEVEL  TITLE: DETAIL..." (DETAIL is its start).
has_line() {
        awk -v want="$1  $2: $3" 'index($0, want) == 1 { found = 1 } END { exit !found }' <<<"$CHECK_OUT" ||
                gh_fail "no line '$1  $2: $3...' in check's output"
}

gh_install_tool
group=$(gh_iommu_group "$GH_GPU")
gpu_drv=$(gh_driver "$GH_GPU") audio_drv=$(gh_driver "$GH_GPU_AUDIO")
assert_eq bochs-drm "$gpu_drv" "driver of $GH_GPU"
assert_eq snd_hda_intel "$audio_drv" "driver of $GH_GPU_AUDIO"

# A good domain, through libvirt's API.
gh_write_config "$DOM" </dev/null
define_domain "$DOM" no "$GH_GPU" "$GH_GPU_AUDIO"
gh_log "check of a good domain, its XML from libvirt"
run_check 0 "$DOM"
has_line PASS IOMMU "Intel VT-d (DMAR) units dmar"
has_line PASS "module vfio-pci" ""
has_line PASS config "'$CONF' loads"
has_line PASS "domain XML" ""
has_line PASS "IOMMU group $group" "$GH_GPU ($gpu_drv, taken), $GH_GPU_AUDIO ($audio_drv, taken)"
has_line PASS "libvirt hook" "'/etc/libvirt/hooks/qemu' -> '$GH_INSTALLED_HOOK'"
has_line PASS "libvirt daemon" "libvirtd (pid $(gh_unit_pid libvirtd.service)) started after the hook was installed"
if grep -q '^FAIL' <<<"$CHECK_OUT"; then
        gh_fail "a FAIL line for a good domain"
fi

# The hook linked anew after libvirtd started (more than check's 1 s of slack later): libvirtd does not know it.
while (($(gh_uptime_usec) < $(systemctl show -P ExecMainStartTimestampMonotonic libvirtd.service) + 3000000)); do
        sleep 0.5
done
assert_ok "$GH_TOOL" uninstall
assert_ok "$GH_TOOL" install --hook-binary "$GH_INSTALLED_HOOK"
gh_log "check after the hook was linked again behind libvirtd's back"
run_check 0 "$DOM"
has_line WARN "libvirt daemon" "libvirtd (pid $(gh_unit_pid libvirtd.service)) started"
grep -q "hint: restart libvirtd" <<<"$CHECK_OUT" || gh_fail "no hint to restart libvirtd"
gh_restart_libvirtd
run_check 0 "$DOM"
has_line PASS "libvirt daemon" "libvirtd (pid $(gh_unit_pid libvirtd.service)) started after the hook was installed"

# A config others may write: check names it, and the hook refuses the start for the same reason.
chmod 0664 "$CONF"
gh_log "check with a group-writable config"
run_check 1 "$DOM"
has_line FAIL config ""
grep -q "^FAIL  config: .*$CONF" <<<"$CHECK_OUT" || gh_fail "the config FAIL does not name '$CONF'"
gh_virsh_start_fails "$DOM"
assert_contains "$GH_VIRSH_ERROR" "$CONF" "libvirt's error"
chmod 0644 "$CONF"

# Only the GPU, its audio function (same IOMMU group, on snd_hda_intel) left out: XML from stdin.
assert_ok virsh -q undefine "$DOM"
gh_write_config "$DOM" <<<"devices = $GH_GPU"
define_domain "$DOM" no "$GH_GPU"
gh_log "check of a domain that leaves $GH_GPU_AUDIO out of the group, its XML on stdin"
run_check 1 "$DOM" --xml - < <(virsh dumpxml "$DOM")
has_line FAIL "IOMMU group $group" "$GH_GPU_AUDIO (driver '$audio_drv') shares the group but the domain does not take it"
gh_virsh_start_fails "$DOM"
assert_contains "$GH_VIRSH_ERROR" "$GH_GPU_AUDIO" "libvirt's error"
assert_driver "$GH_GPU" "$gpu_drv"
assert_driver "$GH_GPU_AUDIO" "$audio_drv"
