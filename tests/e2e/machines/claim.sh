# shellcheck shell=bash
# Pre-boot setup of the 'claim' machine (the single-GPU hardware), run by the initramfs in the new root
# before systemd starts: a host whose autostarted VM has claim_at_boot = yes. The build's tool and hook
# are installed, the claim unit enabled, the domain defined and marked autostart the way libvirt keeps
# them on disk, the claim rules written as an admin does after setting claim_at_boot (claim-boot
# --write-rules), and a display manager stand-in enabled that notes what it finds when it starts.
#
# Another machine may be the same host on other hardware: source this file and call
# claim_machine_setup with its functions (the GPU first), e.g. a machines/claim-nvidia.sh for a GPU that
# the NVIDIA simulator drives.
set -euo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# shellcheck source=tests/e2e/lib.sh
. /gh-repo/tests/e2e/lib.sh

# The display manager stand-in: writes the drivers of the display and audio functions and the DRM card
# nodes it finds, then keeps every card node open, as a compositor does. Without the default dependencies
# it would start as early as systemd can start anything: only the claim unit's Before= keeps it waiting.
dm_standin() {
        cat >"$GH_E2E_RUN/dm-standin" <<EOF
#!/bin/bash
. $GH_E2E_DIR/lib.sh
shopt -s nullglob
cards=(/dev/dri/card*)
{ gh_device_state; echo "cards: \${cards[*]}"; } >"$GH_DM_AT_START.new"
mv "$GH_DM_AT_START.new" "$GH_DM_AT_START"
fd=3
for card in "\${cards[@]}"; do
        eval "exec \$fd<\$card"
        fd=\$((fd + 1))
done
exec sleep infinity
EOF
        chmod 0755 "$GH_E2E_RUN/dm-standin"
        cat >"/etc/systemd/system/$GH_DM_UNIT" <<EOF
[Unit]
Description=Display manager (e2e stand-in, claim machine)
DefaultDependencies=no

[Service]
ExecStart=$GH_E2E_RUN/dm-standin

[Install]
Alias=display-manager.service
WantedBy=multi-user.target
EOF
        systemctl enable --quiet "$GH_DM_UNIT"
}

# claim_after_coldplug: the claim unit waits for udev to finish coldplug. On a real machine udev loads and
# binds the drivers of the boot's devices long before the boot reaches the claim unit (which is ordered
# only after systemd-udev-trigger, which queues the events); under TCG the claim unit can run first, find
# the functions driverless and bind them whether or not the claim rules reserved them, and the scenarios
# could not tell. After systemd-udev-settle, a function the rules did not reserve has its host driver.
claim_after_coldplug() {
        mkdir -p /etc/systemd/system/gpu-handover-claim.service.d
        cat >/etc/systemd/system/gpu-handover-claim.service.d/e2e-after-coldplug.conf <<EOF
[Unit]
Wants=systemd-udev-settle.service
After=systemd-udev-settle.service
EOF
}

# claim_machine_setup ADDR...: the domain $GH_CLAIM_DOMAIN takes ADDR... (managed='no'), autostarts, and
# has claim_at_boot = yes; the rules that reserve ADDR... at boot are written.
claim_machine_setup() {
        local dom=$GH_CLAIM_DOMAIN unit_dir
        mkdir -p "$GH_E2E_RUN"
        if ! gh_tool_built; then
                echo "claim machine: gpu-handover is not built in $GH_BUILD: nothing set up"
                return 0
        fi
        gh_install_tool_files
        gh_write_config "$dom" <<<"claim_at_boot = yes"
        mkdir -p /etc/libvirt/qemu/autostart
        gh_domain_xml "$dom" no "$@" >"/etc/libvirt/qemu/$dom.xml"
        ln -sf "/etc/libvirt/qemu/$dom.xml" "/etc/libvirt/qemu/autostart/$dom.xml"
        unit_dir=$(_gh_cmake_var GH_SYSTEMD_UNIT_DIR)
        install -D -m 0644 "$GH_BUILD/gpu-handover-claim.service" "$unit_dir/gpu-handover-claim.service"
        systemctl enable --quiet gpu-handover-claim.service
        claim_after_coldplug
        "$GH_TOOL" claim-boot --write-rules
        dm_standin
        touch "$GH_E2E_RUN/claim-machine"
        echo "claim machine: '$dom' autostarts with claim_at_boot = yes; claim unit and display manager enabled"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
        claim_machine_setup "$GH_GPU" "$GH_GPU_AUDIO"
fi
