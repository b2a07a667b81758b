# shellcheck shell=bash
# Pre-boot setup of the 'nvidia' machine, run by the initramfs in the new root before systemd starts: the
# NVIDIA simulator's modules (built by scripts/vm-test into the build dir) join the kernel's in
# /lib/modules, the stack loads the way a distribution's packages load the real one (udev loads nvidia by
# modalias, modprobe.d softdeps bring its upper modules, nvidia-drm with modeset=1), and the second GPU is
# kept off nvidia so that scenarios see one NVIDIA GPU unless they ask for the second (gh_nv_gpu2_bind).
set -euo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# shellcheck source=tests/e2e/lib.sh
. /gh-repo/tests/e2e/lib.sh

main() {
        local kver tree
        kver=$(uname -r)
        tree=$GH_BUILD/nvsim/modules
        [[ -f $tree/$kver/updates/nvsim/nvidia.ko ]] ||
                gh_fail "no NVIDIA simulator for $kver in $tree (scripts/vm-test builds it for this machine)"
        # The kernel's modules with updates/nvsim/ and the indexes depmod wrote for both, over the 9p share.
        mount -t overlay -o "lowerdir=$tree:/lib/modules" overlay /lib/modules
        assert_eq "/lib/modules/$kver/updates/nvsim/nvidia.ko" "$(modinfo -F filename nvidia)" "where modprobe finds nvidia"

        cat >/etc/modprobe.d/gh-e2e-nvidia.conf <<'EOF'
# The e2e nvidia machine: the NVIDIA simulator (tests/nvsim) loaded as a distribution loads the real stack.
softdep nvidia post: nvidia-modeset nvidia-uvm nvidia-drm
options nvidia-drm modeset=1
EOF
        # Before udev's coldplug, so that nvidia never probes it; a driver of that name never exists.
        echo "$GH_NV_PARKED" >"/sys/bus/pci/devices/$GH_NV_GPU2/driver_override"
        touch "$GH_E2E_RUN/nvidia-machine"
        echo "nvidia machine: simulator modules for $kver in /lib/modules/$kver/updates/nvsim; $GH_NV_GPU2 parked"
}

mkdir -p "$GH_E2E_RUN"
main "$@"
