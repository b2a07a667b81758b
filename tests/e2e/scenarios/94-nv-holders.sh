# shellcheck shell=bash
# Who holds an NVIDIA GPU on a desktop, and what the hand-over does about each:
# - nvidia-persistenced (/dev/nvidiactl, /dev/nvidia0) and a CUDA service with Restart=always (ollama:
#   /dev/nvidia-uvm) are stopped as units, not signalled: the CUDA one stays down past its RestartSec while
#   the VM runs. The give-back brings every nvidia module back, the GPU's DRM card and /dev/nvidia* nodes,
#   and both services, and a second hand-over right after works as well;
# - a process with the GPU's DDC bus (/dev/i2c-N, as ddcutil or powerdevil) open is named: with
#   holders = fail the start is refused with nothing changed; with the default it is ended (it has no
#   service of its own);
# - a process holding a dma-buf that nvidia_drm exported is named by `plan`.
# e2e-machine: nvidia
# e2e-timeout: 720

DOM=gh-e2e-nvholders
JOURNAL=/run/gpu-handover/$DOM.journal
NV_MODULES=(nvidia nvidia_modeset nvidia_uvm nvidia_drm)

gh_install_tool
gh_install_nv_persistenced_standin
gh_install_cuda_standin
gh_write_config "$DOM" </dev/null
define_domain "$DOM" no "$GH_NV_GPU" "$GH_NV_GPU_AUDIO"
before=$(gh_host_state)

plan=$("$GH_TOOL" plan "$DOM")
echo "$plan"
assert_contains "$plan" "owned by system unit '$GH_NV_PERSISTENCED_UNIT': stop unit '$GH_NV_PERSISTENCED_UNIT'" "plan"
assert_contains "$plan" "owned by system unit '$GH_NV_CUDA_UNIT': stop unit '$GH_NV_CUDA_UNIT'" "plan"
assert_contains "$plan" "load module 'nvidia' again" "plan's give-back"

# One hand-over and give-back; the services must be stopped (journaled stop-unit steps), stay stopped,
# and come back with everything the driver stack had.
handover_and_back() {
        local round=$1 card n m
        gh_log "round $round: starting the domain"
        assert_ok virsh start --paused "$DOM"
        assert_driver "$GH_NV_GPU" vfio-pci
        assert_driver "$GH_NV_GPU_AUDIO" vfio-pci
        for m in "${NV_MODULES[@]}"; do
                assert_module_unloaded "$m"
        done
        assert_contains "$(<"$JOURNAL")" "stop-unit name=$GH_NV_PERSISTENCED_UNIT" "the journal"
        assert_contains "$(<"$JOURNAL")" "stop-unit name=$GH_NV_CUDA_UNIT" "the journal"
        # A signalled Restart=always service would be back after RestartSec=3; a stopped unit stays down.
        sleep 5
        assert_unit_inactive "$GH_NV_PERSISTENCED_UNIT"
        assert_unit_inactive "$GH_NV_CUDA_UNIT"

        gh_log "round $round: destroying the domain"
        assert_ok virsh destroy "$DOM"
        for m in "${NV_MODULES[@]}"; do
                assert_module_loaded "$m"
        done
        assert_driver "$GH_NV_GPU" nvidia
        assert_driver "$GH_NV_GPU_AUDIO" snd_hda_intel
        card=$(gh_card_node "$GH_NV_GPU") || gh_fail "no DRM card under $GH_NV_GPU after the give-back"
        assert_file_exists "$card"
        for n in /dev/nvidia0 /dev/nvidiactl /dev/nvidia-uvm /dev/nvidia-modeset; do
                assert_file_exists "$n"
        done
        assert_unit_active "$GH_NV_PERSISTENCED_UNIT"
        assert_unit_active "$GH_NV_CUDA_UNIT"
        wait_for 30 _gh_unit_holds "$GH_NV_CUDA_UNIT" /dev/nvidia-uvm
        wait_for 30 _gh_unit_holds "$GH_NV_PERSISTENCED_UNIT" /dev/nvidia0
        assert_file_absent "$JOURNAL"
}

handover_and_back 1

# The GPU's DDC bus, held by a process of a session (a scope: no service of its own).
i2c_dev_loaded=0
gh_module_loaded i2c_dev && i2c_dev_loaded=1
modprobe i2c-dev
i2c=$(compgen -G "/sys/bus/pci/devices/$GH_NV_GPU/i2c-*" | head -n1) || gh_fail "no i2c adapter under $GH_NV_GPU"
ddc=/dev/${i2c##*/}
wait_for 20 test -c "$ddc"
gh_start_holder --scope ddc "$ddc"
ddc_pid=$GH_HOLDER_PID
state=$(gh_host_state)

gh_write_config "$DOM" <<<"holders = fail"
gh_log "holders = fail with pid $ddc_pid holding $ddc"
gh_virsh_start_fails "$DOM"
assert_contains "$GH_VIRSH_ERROR" "pid $ddc_pid (bash) holds $ddc (DDC of $GH_NV_GPU)" "libvirt's error"
assert_host_state "$state"
assert_file_absent "$JOURNAL"
kill -0 "$ddc_pid" || gh_fail "the DDC holder was ended with holders = fail"

gh_write_config "$DOM" </dev/null
plan=$("$GH_TOOL" plan "$DOM")
assert_contains "$plan" "holds $ddc (DDC of $GH_NV_GPU), owned by no unit of its own: signal pid $ddc_pid" "plan"
handover_and_back 2
! kill -0 "$ddc_pid" 2>/dev/null || gh_fail "pid $ddc_pid still holds $ddc after the hand-over"
((i2c_dev_loaded)) || rmmod i2c_dev

# A dma-buf of the GPU, its card closed: DRM calls every GPU's PRIME exports 'drm', and bochs (the host's
# display) stays, so the process is named, not ended.
card=$(gh_card_node "$GH_NV_GPU")
ready=$GH_E2E_RUN/nv-dmabuf-fd
rm -f "$ready"
systemd-run --quiet --collect --scope --unit="${GH_HOLDER_UNIT_PREFIX}nv-dmabuf.scope" \
        /usr/bin/python3 "$GH_REPO/tests/nvsim/dmabuf-hold.py" "$card" "$ready" </dev/null >/dev/null 2>&1 &
buf_pid=$!
wait_for 30 test -s "$ready"
plan=$("$GH_TOOL" plan "$DOM")
assert_contains "$plan" "pid $buf_pid (python3) holds a dma-buf exported by drm: DRM names every GPU's" "plan"
kill -KILL "$buf_pid"
wait "$buf_pid" 2>/dev/null || true

assert_host_state "$before"
