# shellcheck shell=bash
# Autostart with claim_at_boot = yes, on the 'claim' machine (set up before boot by machines/claim.sh,
# which also wrote the claim rules): udev's coldplug reserves the boot GPU 05.0 and its audio function 05.1
# for vfio-pci, so bochs-drm, loaded for them all the same, never binds the GPU; gpu-handover-claim.service
# binds both to vfio-pci without unbinding anything, before the display manager starts, which so finds no
# card node; libvirtd's own autostart starts the domain through the hook; a destroy gives both to
# bochs-drm and snd_hda_intel. Then claim-boot run by hand: without claim_at_boot the host keeps the GPU
# and the rules go; with it, bochs-drm lets go of the GPU (the reservation came too late, and its unbind
# can finish), vfio-pci takes both, and the rules are back.
# e2e-machine: claim

DOM=$GH_CLAIM_DOMAIN
CLAIM_UNIT=gpu-handover-claim.service
JOURNAL=/run/gpu-handover/$DOM.journal
RULES=/etc/udev/rules.d/61-gpu-handover-claim.rules

dom_running() {
        [[ $(virsh domstate "$DOM" 2>/dev/null | head -n1) == running ]]
}

# on_host_drivers: 05.0 and 05.1 are back on their host drivers, with no override left.
on_host_drivers() {
        assert_driver "$GH_GPU" bochs-drm
        assert_driver "$GH_GPU_AUDIO" snd_hda_intel
        assert_eq "" "$(gh_override "$GH_GPU")" "driver_override of $GH_GPU"
        assert_eq "" "$(gh_override "$GH_GPU_AUDIO")" "driver_override of $GH_GPU_AUDIO"
        wait_for 30 test -e /dev/dri/card0
}

[[ -e $GH_E2E_RUN/claim-machine ]] || gh_skip "the claim machine was not set up: is gpu-handover built?"
gh_install_tool

gh_log "the claim unit at boot:"
journalctl -b -q -o short-monotonic -u "$CLAIM_UNIT"
assert_eq success "$(systemctl show -P Result "$CLAIM_UNIT")" "result of $CLAIM_UNIT"
assert_unit_active "$CLAIM_UNIT"
assert_contains "$(journalctl -b -q -o cat -u "$CLAIM_UNIT")" "$DOM: $GH_GPU claimed; $GH_GPU_AUDIO claimed" \
        "the claim unit's output"

# The rule reserved both functions on their add events: udev loaded bochs for the GPU (its modalias), but
# bochs-drm never bound it, and the claim unbound nothing; it bound both through the executor.
gh_log "the claim rules:"
cat "$RULES"
assert_module_loaded bochs
if journalctl -b -k -q -o cat | grep -q "Initialized bochs-drm .* for $GH_GPU"; then
        gh_fail "bochs-drm bound $GH_GPU at boot: the reservation did not hold it off"
fi
gh_assert_claimed_at_boot "$GH_GPU"

# It finished before the display manager was started, and the display manager found the GPU taken.
assert_eq "$GH_DM_UNIT" "$(systemctl show -P Id display-manager.service)" "display-manager.service"
claimed_at=$(systemctl show -P ActiveEnterTimestampMonotonic "$CLAIM_UNIT")
dm_at=$(systemctl show -P ExecMainStartTimestampMonotonic "$GH_DM_UNIT")
gh_log "claim unit done at ${claimed_at}us, display manager started at ${dm_at}us (monotonic)"
((claimed_at > 0 && dm_at > 0)) || gh_fail "no start time: claim unit $claimed_at, display manager $dm_at"
((claimed_at <= dm_at)) || gh_fail "the display manager started $((claimed_at - dm_at))us before the claim ended"
wait_for 30 test -e "$GH_DM_AT_START"
gh_log "what the display manager found when it started:"
cat "$GH_DM_AT_START"
grep -qx "$GH_GPU vfio-pci" "$GH_DM_AT_START" || gh_fail "the display manager found $GH_GPU off vfio-pci"
grep -qx "$GH_GPU_AUDIO vfio-pci" "$GH_DM_AT_START" || gh_fail "the display manager found $GH_GPU_AUDIO off vfio-pci"
grep -qx "cards: " "$GH_DM_AT_START" || gh_fail "the display manager found a DRM card node"

# libvirtd's autostart starts the domain; the hook's prepare finds the devices on vfio-pci already.
gh_log "waiting for libvirtd's autostart of '$DOM'"
wait_for 120 dom_running
assert_eq enable "$(virsh dominfo "$DOM" | sed -n 's/^Autostart: *//p')" "autostart of '$DOM'"
assert_driver "$GH_GPU" vfio-pci
assert_driver "$GH_GPU_AUDIO" vfio-pci
assert_file_exists "$(gh_vfio_node "$GH_GPU")"
assert_contains "$(gh_tool_log 0)" "handed 2 device(s) to domain '$DOM'" "the tool's log since boot"
assert_file_exists "$JOURNAL"

gh_log "destroying the domain"
assert_ok virsh destroy "$DOM"
on_host_drivers
assert_module_loaded bochs
assert_module_loaded snd_hda_intel
assert_file_absent "$JOURNAL"

# claim-boot by hand, the GPU on its host drivers and nothing holding it: the config decides.
gh_write_config "$DOM" <<<"claim_at_boot = no"
before=$(gh_host_state)
gh_log "claim-boot with claim_at_boot = no"
assert_ok "$GH_TOOL" claim-boot
on_host_drivers
assert_host_state "$before"
assert_file_absent "$RULES"

gh_write_config "$DOM" <<<"claim_at_boot = yes"
gh_log "claim-boot with claim_at_boot = yes"
out=$("$GH_TOOL" claim-boot) || gh_fail "claim-boot failed: $out"
echo "$out"
assert_contains "$out" "$DOM: $GH_GPU claimed; $GH_GPU_AUDIO claimed" "claim-boot's output"
assert_driver "$GH_GPU" vfio-pci
assert_driver "$GH_GPU_AUDIO" vfio-pci
assert_file_exists "$(gh_vfio_node "$GH_GPU")"
# It unbinds, it never unloads.
assert_module_loaded bochs
assert_file_absent "$JOURNAL"
assert_file_exists "$RULES"

gh_log "starting and destroying the domain: release gives the claimed GPU to the host"
assert_ok virsh start --paused "$DOM"
assert_driver "$GH_GPU" vfio-pci
assert_ok virsh destroy "$DOM"
on_host_drivers
assert_file_absent "$JOURNAL"
# The GPU is the host's now: so the next scenarios find it, and no rule reserves it on an add event.
rm -f "$RULES"
gh_e2e_rebaseline
