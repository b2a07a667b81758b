# shellcheck shell=bash
# The Debian package (built on the host by scripts/package: see '# e2e-needs'), installed with dpkg in the
# guest: its files are in place, postinst links libvirt's hook to the packaged hook entry, the packaged
# tool hands the GPU over with managed='no' and gives it back, dpkg -r removes the hook link and purge
# the conffile.
# e2e-machine: single
# e2e-needs: deb

DOM=gh-e2e-deb
HOOK=/etc/libvirt/hooks/qemu
PKG_TOOL=/usr/sbin/gpu-handover
PKG_HOOK=/usr/libexec/gpu-handover/qemu-hook
CLAIM_UNIT=gpu-handover-claim.service
GLOBAL_CONF=/etc/gpu-handover/gpu-handover.conf

pkg_status() {
        dpkg-query -W -f='${Status}' gpu-handover 2>/dev/null || true
}

# After a failure the package must not outlive the scenario: the next ones install the build's tool.
purge_left_package() {
        [[ -n $(pkg_status) ]] || return 0
        virsh -q destroy "$DOM" >/dev/null 2>&1 || true
        dpkg -P gpu-handover >/dev/null 2>&1 || echo "cannot purge gpu-handover"
        systemctl restart libvirtd.service || true
}
trap purge_left_package EXIT

shopt -s nullglob
debs=("$GH_BUILD"/vm-test-deb/gpu-handover_*.deb)
shopt -u nullglob
((${#debs[@]} == 1)) || gh_skip "not one .deb in $GH_BUILD/vm-test-deb (scripts/vm-test builds it)"
deb=${debs[0]}
assert_eq "" "$(pkg_status)" "gpu-handover's package status before the install"

# The hook's place must be free: the build's link of earlier scenarios goes (the next gh_install_tool
# makes it again).
if [[ -L $HOOK ]] && gh_tool_built; then
        assert_ok "$GH_TOOL" uninstall
fi
rm -f "$GH_E2E_RUN/tool-installed"
assert_file_absent "$HOOK"
# man-db's trigger would rebuild the whole manual index, for minutes under TCG: not what is tested here.
rm -f /var/lib/man-db/auto-update

gh_log "dpkg -i ${deb##*/}"
out=$(dpkg -i "$deb" 2>&1) || gh_fail "dpkg -i failed: $out"
echo "$out"
assert_eq "install ok installed" "$(pkg_status)" "gpu-handover's package status"
for f in "$PKG_TOOL" "$PKG_HOOK" /usr/share/man/man8/gpu-handover.8.gz /usr/share/man/man5/gpu-handover.conf.5.gz \
        "$GLOBAL_CONF"; do
        assert_file_exists "$f"
done
assert_eq "root 644" "$(stat -c '%U %a' "$GLOBAL_CONF")" "owner and mode of $GLOBAL_CONF"
assert_eq "root 755" "$(stat -c '%U %a' /etc/gpu-handover/domains)" "owner and mode of /etc/gpu-handover/domains"
assert_eq "gpu-handover $(dpkg-query -W -f='${Version}' gpu-handover)" "$("$PKG_TOOL" --version)" "the tool's version"
# The claim unit: where systemd finds it, running the packaged tool.
unit=$(dpkg -L gpu-handover | grep "/$CLAIM_UNIT\$") || gh_fail "the package has no $CLAIM_UNIT"
grep -qx "ExecStart=$PKG_TOOL claim-boot" "$unit" || gh_fail "$unit does not run $PKG_TOOL claim-boot"
systemctl daemon-reload
assert_eq loaded "$(systemctl show -P LoadState "$CLAIM_UNIT")" "load state of $CLAIM_UNIT"
assert_eq "$unit" "$(systemctl show -P FragmentPath "$CLAIM_UNIT")" "where systemd found $CLAIM_UNIT"
# postinst linked the hook, and said what to restart.
assert_eq "$PKG_HOOK" "$(readlink "$HOOK")" "target of $HOOK"
assert_contains "$out" "systemctl restart libvirtd" "postinst's output"

# A hand-over by the packaged tool, as libvirt runs it.
gh_restart_libvirtd
gh_install_dm_standin /dev/dri/card0
gh_write_config "$DOM" </dev/null
define_domain "$DOM" no "$GH_GPU" "$GH_GPU_AUDIO"
before=$(gh_host_state)
gh_log "starting the domain (paused)"
assert_ok virsh start --paused "$DOM"
assert_driver "$GH_GPU" vfio-pci
assert_driver "$GH_GPU_AUDIO" vfio-pci
assert_file_exists "$(gh_vfio_node "$GH_GPU")"
assert_module_unloaded bochs
assert_unit_inactive "$GH_DM_UNIT"
assert_file_exists "/run/gpu-handover/$DOM.journal"
by_pkg=$(journalctl -q -b -t gpu-handover -o cat _EXE="$PKG_TOOL" --since "@$((GH_E2E_SCENARIO_START_USEC / 1000000))")
assert_contains "$by_pkg" "handed 2 device(s) to domain '$DOM'" "what $PKG_TOOL logged"
gh_log "destroying the domain"
assert_ok virsh destroy "$DOM"
assert_driver "$GH_GPU" bochs-drm
assert_driver "$GH_GPU_AUDIO" snd_hda_intel
assert_unit_active "$GH_DM_UNIT"
assert_file_absent "/run/gpu-handover/$DOM.journal"
assert_host_state "$before"

gh_log "dpkg -r gpu-handover"
out=$(dpkg -r gpu-handover 2>&1) || gh_fail "dpkg -r failed: $out"
echo "$out"
assert_eq "deinstall ok config-files" "$(pkg_status)" "gpu-handover's package status"
assert_file_absent "$HOOK"
assert_file_absent "$PKG_TOOL"
assert_file_absent "$PKG_HOOK"
assert_file_exists "$GLOBAL_CONF"
gh_log "dpkg -P gpu-handover"
assert_ok dpkg -P gpu-handover
assert_eq "" "$(pkg_status)" "gpu-handover's package status after the purge"
assert_file_absent "$GLOBAL_CONF"
# libvirtd still believes in the hook it found at its start: it must forget it.
gh_restart_libvirtd
