# shellcheck shell=bash
# claim_at_boot = yes with a GPU the NVIDIA simulator drives, on the 'nvclaim' machine (set up before boot
# by machines/nvclaim.sh): the host keeps a second NVIDIA GPU, so nvidia and nvidia_drm (modeset=1) load
# at boot and hold it, and unbinding the claimed GPU from nvidia would never finish. The udev rule
# reserved the GPU and its audio function during coldplug: the boot ends with both on vfio-pci, the claim
# unbound nothing, and no process is in D state. libvirtd's autostart starts the domain; a destroy gives
# the GPU to nvidia.
# e2e-machine: nvclaim

DOM=$GH_CLAIM_DOMAIN
CLAIM_UNIT=gpu-handover-claim.service
RULES=/etc/udev/rules.d/61-gpu-handover-claim.rules

dom_running() {
        [[ $(virsh domstate "$DOM" 2>/dev/null | head -n1) == running ]]
}

# d_state: the processes in uninterruptible sleep, one "PID COMM" line each.
d_state() {
        ps -eo stat=,pid=,comm= | awk '$1 ~ /^D/ { print $2, $3 }'
}

# assert_none_stuck: no process stays in D state; a kworker passes through it for a moment (runtime PM
# while a device is probed), an unbind waiting for good does not leave it.
assert_none_stuck() {
        local i
        for ((i = 0; i < 20; i++)); do
                [[ -z $(d_state) ]] && return 0
                sleep 0.5
        done
        gh_fail "processes in D state for 10 s: $(d_state | tr '\n' ' ')"
}

[[ -e $GH_E2E_RUN/claim-machine && -e $GH_E2E_RUN/nvidia-machine ]] ||
        gh_skip "the nvclaim machine was not set up: is gpu-handover built?"
gh_install_tool

gh_log "the claim unit at boot:"
journalctl -b -q -o short-monotonic -u "$CLAIM_UNIT"
assert_eq success "$(systemctl show -P Result "$CLAIM_UNIT")" "result of $CLAIM_UNIT"
assert_contains "$(journalctl -b -q -o cat -u "$CLAIM_UNIT")" \
        "$DOM: $GH_NV_GPU claimed; $GH_NV_GPU_AUDIO claimed" "the claim unit's output"
assert_none_stuck
assert_module_loaded nvidia
assert_module_loaded nvidia_drm
assert_driver "$GH_NV_GPU2" nvidia
gh_assert_claimed_at_boot "$GH_NV_GPU"

gh_log "waiting for libvirtd's autostart of '$DOM'"
wait_for 120 dom_running
assert_driver "$GH_NV_GPU" vfio-pci
assert_driver "$GH_NV_GPU_AUDIO" vfio-pci

gh_log "destroying the domain: the GPU goes to nvidia"
assert_ok virsh destroy "$DOM"
wait_for 30 test -e "/sys/bus/pci/drivers/nvidia/$GH_NV_GPU"
assert_driver "$GH_NV_GPU" nvidia
assert_driver "$GH_NV_GPU_AUDIO" snd_hda_intel
assert_none_stuck
rm -f "$RULES"
# The runner expects the nvidia machine's second GPU parked, as machines/nvidia.sh leaves it; nvidia keeps
# it all the same (an override counts at the next probe only).
echo "$GH_NV_PARKED" >"/sys/bus/pci/devices/$GH_NV_GPU2/driver_override"
gh_e2e_rebaseline
