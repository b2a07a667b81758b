# shellcheck shell=bash
# The NVIDIA simulator (tests/nvsim) behaves on the real kernel as tests/nvsim/README.md says the real stack
# does, without the tool: modules, holders, device nodes, the DRM card and the DDC adapter under the GPU;
# stand-ins holding the nodes; a dma-buf pinning nvidia_drm with the card closed; unbinds that sit in D
# state while the GPU is used (nvidia_drm with modeset=1, an open /dev/nvidia0, the simulator's hang) and
# finish once it is not; nvidia_drm's GPUs fixed at load unless hot-plug is asked for; `modprobe nvidia`
# failing with ENODEV while the GPU's driver_override is vfio-pci.
# e2e-machine: nvidia
# e2e-timeout: 420

gpu=$GH_NV_GPU
dev=/sys/bus/pci/devices/$gpu
nvdrv=/sys/bus/pci/drivers/nvidia
hangs=/sys/module/nvidia/parameters/nvsim_remove_hangs
UNBIND_PID=

# A failed assert must not leave an unbind in D state: the guest could not power off in order.
nv_release_all() {
        [[ -n $UNBIND_PID ]] && gh_pid_alive "$UNBIND_PID" || return 0
        [[ -w $hangs ]] && echo 0 >"$hangs"
        systemctl kill --quiet -s KILL "$GH_HOLDER_UNIT_PREFIX*" 2>/dev/null || true
        rmmod nvidia_drm 2>/dev/null || true
}
trap nv_release_all EXIT

holders() {
        local h out=()
        for h in /sys/module/"$1"/holders/*; do
                [[ -e $h ]] && out+=("${h##*/}")
        done
        echo "${out[*]}"
}

# assert_chrdev NODE MAJOR [MINOR]
assert_chrdev() {
        [[ -c $1 ]] || gh_fail "'$1' is not a character device"
        assert_eq "$2" "$((16#$(stat -c %t "$1")))" "major of $1"
        [[ -z ${3:-} ]] || assert_eq "$3" "$((16#$(stat -c %T "$1")))" "minor of $1"
}

has_card() {
        compgen -G "$dev/drm/card*" >/dev/null
}

proc_state() {
        sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null
}

in_d_state() {
        [[ $(proc_state "$1") == D ]]
}

# Starts `echo ADDR > .../nvidia/unbind` in a bash of its own; UNBIND_PID is that bash.
unbind_bg() {
        bash -c "echo $gpu >$nvdrv/unbind" &
        UNBIND_PID=$!
}

# The unbind in UNBIND_PID sits in D state and stays there (SECS seconds more), in the driver's remove.
assert_unbind_stuck() {
        wait_for 20 in_d_state "$UNBIND_PID"
        sleep "$1"
        in_d_state "$UNBIND_PID" || gh_fail "the unbind (pid $UNBIND_PID) is no longer in D state"
        # The kernel drops the driver links before it calls the driver's remove: a stuck unbind looks unbound.
        assert_driver "$gpu" none
        assert_file_exists /dev/nvidia0
        gh_log "unbind pid $UNBIND_PID in D state, wchan $(</proc/"$UNBIND_PID"/wchan)"
}

assert_unbind_done() {
        wait_for 30 _gh_not_alive "$UNBIND_PID"
        wait "$UNBIND_PID" 2>/dev/null || true
        UNBIND_PID=
        assert_driver "$gpu" none
        wait_for 20 test ! -e /dev/nvidia0
}

_gh_not_alive() {
        ! gh_pid_alive "$1"
}

bind_gpu() {
        echo "$gpu" >"$nvdrv/bind"
        assert_driver "$gpu" nvidia
        wait_for 20 test -c /dev/nvidia0
}

# The host as it booted, but for the stand-in units this scenario adds (the runner removes them).
nv_host_state() {
        gh_host_state | grep -v '^unit '
}
before=$(nv_host_state)
kver=$(uname -r)

gh_log "--- the stack as it boots"
for m in nvidia nvidia_modeset nvidia_uvm nvidia_drm; do
        assert_module_loaded "$m"
done
assert_module_unloaded qxl
assert_eq "nvidia_modeset nvidia_uvm" "$(holders nvidia)" "holders of nvidia"
assert_eq "nvidia_drm" "$(holders nvidia_modeset)" "holders of nvidia_modeset"
assert_eq "" "$(holders nvidia_drm)" "holders of nvidia_drm"
assert_eq Y "$(</sys/module/nvidia_drm/parameters/modeset)" "nvidia_drm's modeset"
for m in nvidia nvidia-modeset nvidia-uvm nvidia-drm; do
        assert_eq "/lib/modules/$kver/updates/nvsim/$m.ko" "$(modinfo -F filename "$m")" "file of $m"
        assert_eq "$(modinfo -F srcversion "$m")" "$(</sys/module/"${m//-/_}"/srcversion)" "srcversion of $m"
done
assert_driver "$gpu" nvidia
assert_driver "$GH_NV_GPU_AUDIO" snd_hda_intel
assert_same_iommu_group "$gpu" "$GH_NV_GPU_AUDIO"
[[ $(gh_iommu_group "$GH_NV_GPU2") != "$(gh_iommu_group "$gpu")" ]] || gh_fail "$GH_NV_GPU2 shares $gpu's group"
assert_driver "$GH_NV_GPU2" none
assert_eq "$GH_NV_PARKED" "$(gh_override "$GH_NV_GPU2")" "driver_override of $GH_NV_GPU2"
assert_chrdev /dev/nvidia0 195 0
assert_chrdev /dev/nvidiactl 195 255
assert_chrdev /dev/nvidia-modeset 195 254
[[ -c /dev/nvidia-uvm ]] || gh_fail "/dev/nvidia-uvm is not a character device"
assert_file_absent /dev/nvidia1
card=$(gh_card_node "$gpu")
assert_file_exists "$card"
compgen -G "$dev/drm/renderD*" >/dev/null || gh_fail "no render node under $gpu"
i2c=$(compgen -G "$dev/i2c-*" | head -n1) || gh_fail "no i2c adapter under $gpu"
assert_contains "$(<"$i2c/name")" "NVIDIA i2c adapter" "name of ${i2c##*/}"
i2c_dev_loaded=0
gh_module_loaded i2c_dev && i2c_dev_loaded=1
modprobe i2c-dev
wait_for 20 test -c "/dev/${i2c##*/}"
# The adapter belongs to nvidia.ko: an open /dev/i2c-N (ddcutil, a monitor daemon) pins the module.
refcnt=$(</sys/module/nvidia/refcnt)
exec 5<"/dev/${i2c##*/}"
assert_eq $((refcnt + 1)) "$(</sys/module/nvidia/refcnt)" "nvidia's refcnt with /dev/${i2c##*/} open"
exec 5<&-
gh_log "card $card, ${i2c##*/} '$(<"$i2c/name")', nvidia refcnt $(</sys/module/nvidia/refcnt)"

gh_log "--- stand-ins: nvidia-persistenced, a CUDA service that comes back"
gh_install_nv_persistenced_standin
assert_ok gh_holds "$(gh_unit_pid "$GH_NV_PERSISTENCED_UNIT")" /dev/nvidia0
gh_install_cuda_standin
cuda_pid=$(gh_unit_pid "$GH_NV_CUDA_UNIT")
assert_ok gh_holds "$cuda_pid" /dev/nvidiactl
# An open of /dev/nvidia-uvm pins nvidia itself, not only nvidia_uvm (the node's owner).
refcnt=$(</sys/module/nvidia/refcnt)
exec 5</dev/nvidia-uvm
assert_eq $((refcnt + 1)) "$(</sys/module/nvidia/refcnt)" "nvidia's refcnt with /dev/nvidia-uvm open"
exec 5<&-
assert_fails rmmod nvidia_uvm
systemctl kill --quiet -s KILL "$GH_NV_CUDA_UNIT"
_cuda_back() {
        local pid
        pid=$(gh_unit_pid "$GH_NV_CUDA_UNIT")
        [[ $pid != 0 && $pid != "$cuda_pid" ]] && gh_holds "$pid" /dev/nvidia-uvm
}
wait_for 30 _cuda_back
systemctl stop "$GH_NV_CUDA_UNIT" "$GH_NV_PERSISTENCED_UNIT"

gh_log "--- a dma-buf of the GPU, the card closed"
ready=$GH_E2E_RUN/dmabuf-fd
rm -f "$ready"
systemd-run --quiet --collect --unit="${GH_HOLDER_UNIT_PREFIX}dmabuf.service" \
        /usr/bin/python3 "$GH_REPO/tests/nvsim/dmabuf-hold.py" "$card" "$ready"
wait_for 30 test -s "$ready"
pid=$(gh_unit_pid "${GH_HOLDER_UNIT_PREFIX}dmabuf.service")
fd=$(<"$ready")
fdinfo=$(<"/proc/$pid/fdinfo/$fd")
gh_log "dma-buf fd $fd of pid $pid -> $(readlink "/proc/$pid/fd/$fd"): $(tr '\n\t' '; ' <<<"$fdinfo")"
assert_contains "$fdinfo" $'exp_name:\tdrm' "fdinfo of the dma-buf"
if gh_holds "$pid" "$card"; then
        gh_fail "the dma-buf holder still has $card open"
fi
assert_fails rmmod nvidia_drm
systemctl kill --quiet -s KILL "${GH_HOLDER_UNIT_PREFIX}dmabuf.service"
wait_for 20 _gh_not_alive "$pid"

gh_log "--- the second GPU: parked at boot, binds on request as /dev/nvidia1, no card from nvidia_drm"
gh_nv_gpu2_bind
assert_chrdev /dev/nvidia1 195 1
if compgen -G "/sys/bus/pci/devices/$GH_NV_GPU2/drm/card*" >/dev/null; then
        gh_fail "nvidia_drm (no hot-plug) made a card for $GH_NV_GPU2, bound after it loaded"
fi
gh_nv_gpu2_park
wait_for 20 test ! -e /dev/nvidia1

gh_log "--- nvidia_drm with modeset=1 keeps the GPU: the unbind waits, SIGKILL or not, until it unloads"
unbind_bg
assert_unbind_stuck 2
dmesg | grep -q "NVRM: Attempting to remove device $gpu with non-zero usage count" ||
        gh_fail "no 'non-zero usage count' message in the kernel log"
kill -KILL "$UNBIND_PID"
sleep 1
in_d_state "$UNBIND_PID" || gh_fail "SIGKILL ended the unbind in D state"
rmmod nvidia_drm
assert_unbind_done
assert_file_absent "$i2c"
if has_card; then
        gh_fail "a DRM card is still under $gpu"
fi

gh_log "--- nvidia_drm loaded before the GPU binds has no card for it"
modprobe nvidia_drm
bind_gpu
if has_card; then
        gh_fail "nvidia_drm (no hot-plug) made a card for a GPU bound after it loaded"
fi
rmmod nvidia_drm

gh_log "--- an open /dev/nvidia0 keeps the GPU: the unbind waits until it is closed"
gh_start_holder nvidia0 /dev/nvidia0
unbind_bg
assert_unbind_stuck 2
systemctl kill --quiet -s KILL "$GH_HOLDER_UNIT"
assert_unbind_done

gh_log "--- nvsim_hotplug=1: nvidia_drm follows the GPU, and lets it go on remove"
modprobe nvidia_drm nvsim_hotplug=1
bind_gpu
wait_for 20 has_card
echo "$gpu" >"$nvdrv/unbind"
assert_driver "$gpu" none
if has_card; then
        gh_fail "the card stayed after the hot-plug unbind"
fi
rmmod nvidia_drm

gh_log "--- nvsim_remove_hangs=1: the unbind waits with the GPU unused, until it is cleared"
bind_gpu
echo 1 >"$hangs"
unbind_bg
assert_unbind_stuck 1
echo 0 >"$hangs"
assert_unbind_done

gh_log "--- no GPU to probe: modprobe nvidia fails with ENODEV"
rmmod nvidia_uvm nvidia_modeset nvidia
echo vfio-pci >"$dev/driver_override"
if modprobe_out=$(modprobe nvidia 2>&1); then
        gh_fail "modprobe nvidia succeeded with $gpu's driver_override at vfio-pci"
fi
gh_log "modprobe nvidia: $modprobe_out"
assert_contains "$modprobe_out" "No such device" "modprobe's error"
kmsg=$(dmesg)
assert_contains "$kmsg" "NVRM: The NVIDIA probe routine was not called for 2 device(s)." "the kernel log"
assert_contains "$kmsg" "NVRM: No NVIDIA devices probed." "the kernel log"
assert_module_unloaded nvidia
echo >"$dev/driver_override"
modprobe nvidia
assert_driver "$gpu" nvidia
for m in nvidia_modeset nvidia_uvm nvidia_drm; do
        assert_module_loaded "$m"
done
wait_for 20 has_card
wait_for 20 test -c /dev/nvidia0
((i2c_dev_loaded)) || rmmod i2c_dev
assert_eq "$before" "$(nv_host_state)" "the host's state after the scenario"
