# shellcheck shell=bash disable=SC2034 # the constants are for the scenarios
# Helpers for the e2e scenarios. The runner sources this into each scenario's own bash (set -euo pipefail);
# an assert that does not hold ends the scenario with FAIL, gh_skip ends it with SKIP.

GH_REPO=${GH_REPO:-/gh-repo}
GH_BUILD=${GH_BUILD:-/gh-build}
GH_E2E_DIR=${GH_E2E_DIR:-$GH_REPO/tests/e2e}
GH_E2E_RESULTS=${GH_E2E_RESULTS:-/gh-results}
# Scratch space of this boot (domain XML, markers); the guest's /run is a fresh tmpfs.
GH_E2E_RUN=/run/gh-e2e
GH_E2E_EXIT_SKIP=77

# The guest's devices (see scripts/vm-test): the boot GPU with its audio function, and on the
# dual-GPU machine a second GPU (same driver, own IOMMU group) with its own audio function.
GH_GPU=0000:00:05.0
GH_GPU_AUDIO=0000:00:05.1
GH_GPU2=0000:00:06.0
GH_GPU2_AUDIO=0000:00:06.1

# The 'nvidia' machine (tests/e2e/machines/nvidia.sh): a GPU driven by the NVIDIA simulator (tests/nvsim)
# with its audio function on snd_hda_intel, one IOMMU group; a second simulated GPU in a group of its own,
# kept off nvidia at boot by a driver_override naming no driver ($GH_NV_PARKED) until gh_nv_gpu2_bind.
GH_NV_GPU=0000:00:06.0
GH_NV_GPU_AUDIO=0000:00:06.1
GH_NV_GPU2=0000:00:07.0
GH_NV_PARKED=gh-e2e-parked
GH_NV_MODULES=(nvidia_drm nvidia_uvm nvidia_modeset nvidia)
# Its stand-ins are named as the real services are, and the runner removes them like those of gh-e2e-*.
GH_NV_PERSISTENCED_UNIT=nvidia-persistenced.service
GH_NV_CUDA_UNIT=ollama.service

GH_DM_UNIT=gh-e2e-dm.service
GH_PERSISTENCED_UNIT=gh-e2e-persistenced.service
GH_HOLDER_UNIT_PREFIX=gh-e2e-holder-
# The 'claim' machine (tests/e2e/machines/claim.sh): its autostarted domain, and what its display manager
# stand-in found when it started.
GH_CLAIM_DOMAIN=gh-e2e-claim
GH_DM_AT_START=$GH_E2E_RUN/dm-at-start

# file:line of the scenario line that called into this library, for messages.
_gh_where() {
        local i
        for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
                if [[ ${BASH_SOURCE[i]} != "${BASH_SOURCE[0]}" ]]; then
                        echo "${BASH_SOURCE[i]##*/}:${BASH_LINENO[i - 1]}"
                        return
                fi
        done
        echo "?"
}

gh_log() {
        printf '[%7.2fs] %s\n' "$(_gh_uptime)" "$*"
}

_gh_uptime() {
        local up
        read -r up _ </proc/uptime
        echo "$up"
}

# The guest's CLOCK_MONOTONIC (as systemd's *TimestampMonotonic properties) in microseconds, roughly.
gh_uptime_usec() {
        local up
        read -r up _ </proc/uptime
        echo $((${up/./} * 10000))
}

gh_fail() {
        printf 'FAIL at %s: %s\n' "$(_gh_where)" "$*" >&2
        exit 1
}

gh_skip() {
        printf 'SKIP: %s\n' "$*" >&2
        exit "$GH_E2E_EXIT_SKIP"
}

assert_eq() {
        local expected=$1 actual=$2 what=${3:-value}
        [[ $actual == "$expected" ]] || gh_fail "$what: expected '$expected', got '$actual'"
}

# Runs CMD and fails the scenario unless it fails; its output is kept in the log.
assert_fails() {
        if "$@"; then
                gh_fail "'$*' succeeded but should have failed"
        fi
        return 0
}

# Runs CMD and fails the scenario, showing the command, unless it succeeds.
assert_ok() {
        "$@" || gh_fail "'$*' failed with $?"
}

# The driver bound to a PCI function, "none" when unbound.
gh_driver() {
        _gh_driver "$1"
        echo "$REPLY"
}

# gh_driver into REPLY, without a fork (a fork costs a good part of a second in a slow guest): the
# driver's folder that lists the function.
_gh_driver() {
        local drv
        [[ -e /sys/bus/pci/devices/$1 ]] || gh_fail "no PCI device '$1'"
        REPLY=none
        for drv in /sys/bus/pci/drivers/*/"$1"; do
                [[ -e $drv ]] || continue
                drv=${drv%/*}
                REPLY=${drv##*/}
        done
}

gh_driver_is() {
        [[ $(gh_driver "$1") == "$2" ]]
}

assert_driver() {
        local actual
        actual=$(gh_driver "$1")
        [[ $actual == "$2" ]] || gh_fail "driver of '$1': expected '$2', got '$actual'"
}

gh_module_loaded() {
        local name=${1//-/_} mod _
        while read -r mod _; do
                [[ $mod == "$name" ]] && return 0
        done </proc/modules
        return 1
}

assert_module_loaded() {
        gh_module_loaded "$1" || gh_fail "module '$1' is not loaded"
}

assert_module_unloaded() {
        if gh_module_loaded "$1"; then
                gh_fail "module '$1' is loaded"
        fi
        return 0
}

assert_unit_active() {
        systemctl is-active --quiet "$1" || gh_fail "unit '$1' is $(systemctl is-active "$1"), not active"
}

assert_unit_inactive() {
        if systemctl is-active --quiet "$1"; then
                gh_fail "unit '$1' is active"
        fi
        return 0
}

assert_file_exists() {
        [[ -e $1 ]] || gh_fail "'$1' does not exist"
}

assert_file_absent() {
        if [[ -e $1 || -L $1 ]]; then
                gh_fail "'$1' exists"
        fi
        return 0
}

# wait_for SECONDS CMD [ARG...]: polls CMD until it succeeds; fails the scenario at the deadline.
wait_for() {
        local secs=$1 deadline now
        shift
        deadline=$(($(date +%s%N) + secs * 1000000000))
        until "$@"; do
                now=$(date +%s%N)
                ((now < deadline)) || gh_fail "still not true after ${secs}s: $*"
                sleep 0.2
        done
}

gh_iommu_group() {
        local link=/sys/bus/pci/devices/$1/iommu_group
        [[ -L $link ]] || gh_fail "'$1' has no IOMMU group"
        basename "$(readlink "$link")"
}

assert_same_iommu_group() {
        local a b
        a=$(gh_iommu_group "$1")
        b=$(gh_iommu_group "$2")
        [[ $a == "$b" ]] || gh_fail "'$1' is in IOMMU group $a, '$2' in $b"
}

# The VFIO group node of a PCI function: exists while the whole group is on vfio-pci (or unbound).
gh_vfio_node() {
        echo "/dev/vfio/$(gh_iommu_group "$1")"
}

# Does process PID have NODE open?
gh_holds() {
        local pid=$1 node fd
        node=$(readlink -f "$2")
        for fd in /proc/"$pid"/fd/*; do
                [[ $(readlink "$fd" 2>/dev/null) == "$node" ]] && return 0
        done
        return 1
}

# gh_domain_xml [--extra XML]... [--top XML]... NAME MANAGED ADDR[=MANAGED]...: on stdout, a type='qemu'
# domain of 128 MiB with no disk and no display, with each PCI function ADDR as <hostdev managed=MANAGED>
# (ADDR=no overrides it for that one), each --extra XML put inside <devices> and each --top XML inside
# <domain> (the qemu: namespace is declared, for <qemu:commandline>).
gh_domain_xml() {
        local extra=() top=() name managed arg
        while [[ ${1:-} == --extra || ${1:-} == --top ]]; do
                if [[ $1 == --extra ]]; then
                        extra+=("$2")
                else
                        top+=("$2")
                fi
                shift 2
        done
        name=$1 managed=$2
        shift 2
        (($#)) || gh_fail "gh_domain_xml: no hostdev address"
        echo "<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
        echo "  <name>$name</name>"
        echo "  <memory unit='MiB'>128</memory>"
        echo "  <vcpu>1</vcpu>"
        echo "  <os><type arch='x86_64' machine='q35'>hvm</type></os>"
        echo "  <devices>"
        echo "    <emulator>/usr/bin/qemu-system-x86_64</emulator>"
        echo "    <controller type='usb' model='none'/>"
        echo "    <memballoon model='none'/>"
        for arg in "$@"; do
                [[ $arg == *=* ]] || arg=$arg=$managed
                _gh_hostdev_xml "${arg%%=*}" "${arg#*=}"
        done
        for arg in "${extra[@]}"; do
                echo "    $arg"
        done
        echo "  </devices>"
        for arg in "${top[@]}"; do
                echo "  $arg"
        done
        echo "</domain>"
}

# define_domain [--extra XML]... [--top XML]... NAME MANAGED ADDR[=MANAGED]...: the gh_domain_xml domain,
# written to /run/gh-e2e/NAME.xml and defined.
define_domain() {
        local args=("$@") xml
        while [[ ${1:-} == --extra || ${1:-} == --top ]]; do
                shift 2
        done
        mkdir -p "$GH_E2E_RUN"
        xml=$GH_E2E_RUN/$1.xml
        gh_domain_xml "${args[@]}" >"$xml"
        virsh -q define "$xml" >/dev/null || gh_fail "virsh define of '$1' failed"
}

_gh_hostdev_xml() {
        local addr=$1 managed=$2 re='^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$'
        [[ $managed == yes || $managed == no ]] || gh_fail "managed must be yes or no, not '$managed'"
        [[ $addr =~ $re ]] || gh_fail "'$addr' is not a PCI address DDDD:BB:SS.F"
        echo "    <hostdev mode='subsystem' type='pci' managed='$managed'>"
        printf "      <source><address domain='0x%s' bus='0x%s' slot='0x%s' function='0x%s'/></source>\n" \
                "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" "${BASH_REMATCH[3]}" "${BASH_REMATCH[4]}"
        echo "    </hostdev>"
}

_gh_cmake_var() {
        sed -n "s/^$1:[A-Z]*=//p" "$GH_BUILD/CMakeCache.txt"
}

# Where the build installs into DIR_VAR (a GNUInstallDirs variable such as CMAKE_INSTALL_SBINDIR).
_gh_install_dir() {
        local dir
        dir=$(_gh_cmake_var "$1")
        [[ $dir == /* ]] || dir=$(_gh_cmake_var CMAKE_INSTALL_PREFIX)/$dir
        echo "$dir"
}

# gh_tool_built: is the tool (and its hook entry) built in $GH_BUILD? Sets GH_TOOL and GH_INSTALLED_HOOK to
# where the build installs them (the hook entry execs the tool by that path), and GH_TOOL_TEST to the
# build's test copy, run from the build dir: the one that honours GH_TEST_PAUSE_AFTER_STEP.
gh_tool_built() {
        GH_TOOL=$(_gh_install_dir CMAKE_INSTALL_SBINDIR)/gpu-handover
        GH_INSTALLED_HOOK=$(_gh_install_dir CMAKE_INSTALL_LIBEXECDIR)/gpu-handover/qemu-hook
        GH_TOOL_TEST=$GH_BUILD/src/gpu-handover-test
        [[ -x $GH_BUILD/src/gpu-handover && -x $GH_TOOL_TEST && -x $GH_BUILD/hooks/qemu-hook ]]
}

# gh_install_tool_files: installs the built tool and its hook entry, and links libvirt's hook to it with
# `gpu-handover install`; restarts nothing (a machine's pre-boot setup calls it before libvirtd starts).
gh_install_tool_files() {
        gh_tool_built || gh_fail "gpu-handover is not built in $GH_BUILD"
        install -D -m 0755 "$GH_BUILD/src/gpu-handover" "$GH_TOOL"
        install -D -m 0755 "$GH_BUILD/hooks/qemu-hook" "$GH_INSTALLED_HOOK"
        "$GH_TOOL" install --hook-binary "$GH_INSTALLED_HOOK" || gh_fail "gpu-handover install failed"
        assert_eq "$GH_INSTALLED_HOOK" "$(readlink /etc/libvirt/hooks/qemu)" "target of /etc/libvirt/hooks/qemu"
        mkdir -p "$GH_E2E_RUN"
        touch "$GH_E2E_RUN/tool-installed"
}

# gh_install_tool: gh_install_tool_files, then restarts libvirtd, which reads hooks only when it starts.
# Sets GH_TOOL to the installed tool. Call it in each scenario that needs the tool (it installs once per
# boot, until a scenario removes $GH_E2E_RUN/tool-installed). Skips when the tool is not built.
gh_install_tool() {
        gh_tool_built || gh_skip "gpu-handover is not built in $GH_BUILD"
        [[ -e $GH_E2E_RUN/tool-installed ]] && return 0
        gh_install_tool_files
        rm -f "$GH_E2E_RUN/tool-installed"
        gh_restart_libvirtd
        touch "$GH_E2E_RUN/tool-installed"
}

gh_restart_libvirtd() {
        systemctl restart libvirtd.service || gh_fail "libvirtd did not restart"
        wait_for 60 _gh_libvirt_up
}

_gh_libvirt_up() {
        virsh -q list >/dev/null 2>&1
}

# gh_write_config DOMAIN: config for DOMAIN from stdin; the runner removes it after the scenario.
gh_write_config() {
        mkdir -p /etc/gpu-handover/domains
        cat >"/etc/gpu-handover/domains/$1.conf"
}

# _gh_holder_unit UNIT DESCRIPTION INSTALL-LINES NODE...: writes a service whose one process keeps the first
# NODE open, and each further NODE that exists when it starts (a compositor opens the GPUs it finds); the
# caller has the manager reload.
_gh_holder_unit() {
        local unit=$1 desc=$2 install=$3 script node fd=3
        shift 3
        script="exec 3<$1;"
        shift
        for node in "$@"; do
                fd=$((fd + 1))
                script+=" if [ -e $node ]; then exec $fd<$node; fi;"
        done
        cat >"/etc/systemd/system/$unit" <<EOF
[Unit]
Description=$desc (e2e stand-in)

[Service]
ExecStart=/bin/bash -c '$script exec sleep infinity'
${install:+
[Install]
$install}
EOF
}

_gh_unit_holds() {
        local pid
        pid=$(gh_unit_pid "$1")
        [[ $pid != 0 ]] && gh_holds "$pid" "$2"
}

# gh_unit_pid UNIT: its main pid, 0 when it has none.
gh_unit_pid() {
        systemctl show -P MainPID "$1"
}

# gh_install_dm_standin [NODE...]: a display manager stand-in (Alias=display-manager.service) keeping the
# NODEs (default /dev/dri/card0) open the way a compositor does; enabled, started, and holding the first
# NODE on return.
gh_install_dm_standin() {
        (($#)) || set -- /dev/dri/card0
        _gh_holder_unit "$GH_DM_UNIT" "Display manager" "Alias=display-manager.service" "$@"
        # enable reloads the manager, which then sees the new unit.
        systemctl enable --quiet --now "$GH_DM_UNIT" || gh_fail "'$GH_DM_UNIT' did not start"
        wait_for 30 _gh_unit_holds "$GH_DM_UNIT" "$1"
}

# gh_install_persistenced_standin [NODE...]: a daemon that keeps the GPU open and is not a display
# manager (like nvidia-persistenced); started and holding the first NODE on return.
gh_install_persistenced_standin() {
        (($#)) || set -- /dev/dri/card0
        _gh_holder_unit "$GH_PERSISTENCED_UNIT" "GPU persistence daemon" "" "$@"
        systemctl daemon-reload
        systemctl start "$GH_PERSISTENCED_UNIT" || gh_fail "'$GH_PERSISTENCED_UNIT' did not start"
        wait_for 30 _gh_unit_holds "$GH_PERSISTENCED_UNIT" "$1"
}

# gh_install_nv_persistenced_standin [NODE...]: nvidia-persistenced's stand-in on the nvidia machine: keeps
# /dev/nvidiactl and /dev/nvidia0 (or the NODEs) open, as the daemon does in persistence mode; started and
# holding the first NODE on return.
gh_install_nv_persistenced_standin() {
        (($#)) || set -- /dev/nvidiactl /dev/nvidia0
        _gh_holder_unit "$GH_NV_PERSISTENCED_UNIT" "NVIDIA Persistence Daemon" "" "$@"
        systemctl daemon-reload
        systemctl start "$GH_NV_PERSISTENCED_UNIT" || gh_fail "'$GH_NV_PERSISTENCED_UNIT' did not start"
        wait_for 30 _gh_unit_holds "$GH_NV_PERSISTENCED_UNIT" "$1"
}

# gh_install_cuda_standin [NODE...]: a CUDA service's stand-in (ollama.service) on the nvidia machine, with
# Restart=always and RestartSec=3 as such services ship: keeps /dev/nvidia-uvm and /dev/nvidiactl (or the
# NODEs) open; started and holding the first NODE on return.
gh_install_cuda_standin() {
        (($#)) || set -- /dev/nvidia-uvm /dev/nvidiactl
        _gh_holder_unit "$GH_NV_CUDA_UNIT" "CUDA service" "" "$@"
        sed -i '/^\[Service\]$/a Restart=always\nRestartSec=3' "/etc/systemd/system/$GH_NV_CUDA_UNIT"
        systemctl daemon-reload
        systemctl start "$GH_NV_CUDA_UNIT" || gh_fail "'$GH_NV_CUDA_UNIT' did not start"
        wait_for 30 _gh_unit_holds "$GH_NV_CUDA_UNIT" "$1"
}

# gh_nv_gpu2_bind: lets the nvidia machine's second GPU bind to nvidia (it is parked at boot); waits for
# its driver. gh_nv_gpu2_park puts it back off nvidia, as at boot (the runner checks it is unbound).
gh_nv_gpu2_bind() {
        echo >"/sys/bus/pci/devices/$GH_NV_GPU2/driver_override"
        echo "$GH_NV_GPU2" >/sys/bus/pci/drivers_probe || true
        wait_for 30 gh_driver_is "$GH_NV_GPU2" nvidia
}

gh_nv_gpu2_park() {
        echo "$GH_NV_PARKED" >"/sys/bus/pci/devices/$GH_NV_GPU2/driver_override"
        if [[ -L /sys/bus/pci/devices/$GH_NV_GPU2/driver ]]; then
                echo "$GH_NV_GPU2" >"/sys/bus/pci/devices/$GH_NV_GPU2/driver/unbind"
        fi
        assert_driver "$GH_NV_GPU2" none
}

# gh_install_unit UNIT: a service of the scenario's own (named gh-e2e-*.service), its unit file from stdin,
# in /etc/systemd/system; loaded, not started. gh_host_state shows its state, and the runner ends and
# removes it after the scenario, even one whose stop never ends.
gh_install_unit() {
        [[ $1 == gh-e2e-*.service ]] || gh_fail "gh_install_unit: '$1' is not named gh-e2e-*.service"
        cat >"/etc/systemd/system/$1"
        systemctl daemon-reload
}

# gh_start_holder [--ignore-term] [--scope | --vm VM] NAME NODE: a bash that keeps NODE open, with SIGTERM
# ignored if asked, in a transient unit of its own (so that it belongs to no display manager and the
# runner can clean it up): the service gh-e2e-holder-NAME.service (which the hand-over stops as a unit);
# with --scope the scope gh-e2e-holder-NAME.scope (no service of its own: the hand-over signals it); with
# --vm the scope libvirt gives a running VM named VM (gh_vm_scope; VM must start with gh-e2e-). Sets
# GH_HOLDER_PID and GH_HOLDER_UNIT once it holds NODE.
gh_start_holder() {
        local trap='' vm='' scope='' pid
        while [[ $1 == --* ]]; do
                case $1 in
                --ignore-term) trap="trap '' TERM;" && shift ;;
                --scope) scope=1 && shift ;;
                --vm) vm=$2 && shift 2 ;;
                *) gh_fail "gh_start_holder: unknown option '$1'" ;;
                esac
        done
        # The sleeps do not inherit the node: only the bash holds it.
        local script="$trap exec 3<$2; while :; do sleep 0.2 3<&-; done"
        if [[ -n $scope ]]; then
                GH_HOLDER_UNIT=$GH_HOLDER_UNIT_PREFIX$1.scope
                # As with --vm: $! is the bash.
                systemd-run --quiet --collect --scope --unit="$GH_HOLDER_UNIT" \
                        /bin/bash -c "$script" </dev/null >/dev/null 2>&1 &
                pid=$!
                wait_for 30 gh_holds "$pid" "$2"
                assert_contains "$(<"/proc/$pid/cgroup")" "/$GH_HOLDER_UNIT" "the cgroup of pid $pid"
                GH_HOLDER_PID=$pid
                return 0
        fi
        if [[ -z $vm ]]; then
                GH_HOLDER_UNIT=$GH_HOLDER_UNIT_PREFIX$1.service
                systemd-run --quiet --collect --unit="$GH_HOLDER_UNIT" /bin/bash -c "$script" ||
                        gh_fail "cannot start holder '$GH_HOLDER_UNIT'"
                wait_for 30 _gh_unit_holds "$GH_HOLDER_UNIT" "$2"
                GH_HOLDER_PID=$(gh_unit_pid "$GH_HOLDER_UNIT")
                return 0
        fi
        [[ $vm == gh-e2e-* ]] || gh_fail "gh_start_holder: the VM's name '$vm' does not start with gh-e2e-"
        GH_HOLDER_UNIT=$(gh_vm_scope "$vm")
        # A scope holds the caller, which systemd-run then execs into the command: $! is the bash.
        systemd-run --quiet --collect --scope --slice=machine.slice --unit="$GH_HOLDER_UNIT" \
                /bin/bash -c "$script" </dev/null >/dev/null 2>&1 &
        pid=$!
        wait_for 30 gh_holds "$pid" "$2"
        assert_contains "$(<"/proc/$pid/cgroup")" "/machine.slice/$GH_HOLDER_UNIT" "the cgroup of pid $pid"
        GH_HOLDER_PID=$pid
}

# gh_vm_scope VM: the scope systemd-machined gives a VM that libvirt runs as VM (machine-qemu\x2d1\x2dVM.scope).
gh_vm_scope() {
        printf '%s\n' "machine-qemu\\x2d1\\x2d${1//-/\\x2d}.scope"
}

# gh_assert_nv_given_back [SECONDS]: the nvidia machine's GPU is the host's again: every module of nvidia's
# stack loaded, the GPU on nvidia with its DRM card, its audio function on snd_hda_intel, and /dev/nvidia0
# and /dev/nvidiactl character devices, waited for up to SECONDS when given (without, at once: the tool
# checks the nodes before its give-back returns).
gh_assert_nv_given_back() {
        local m node
        for m in "${GH_NV_MODULES[@]}"; do
                assert_module_loaded "$m"
        done
        assert_driver "$GH_NV_GPU" nvidia
        assert_driver "$GH_NV_GPU_AUDIO" snd_hda_intel
        assert_file_exists "$(gh_card_node "$GH_NV_GPU")"
        for node in /dev/nvidia0 /dev/nvidiactl; do
                if [[ -n ${1:-} ]]; then
                        wait_for "$1" test -c "$node"
                else
                        [[ -c $node ]] || gh_fail "$node is not a character device"
                fi
        done
}

gh_pid_alive() {
        [[ -d /proc/$1 ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# gh_card_node ADDR: the DRM card node of a GPU bound to its DRM driver.
gh_card_node() {
        local card
        for card in /sys/bus/pci/devices/"$1"/drm/card*; do
                [[ -e $card ]] && echo "/dev/dri/${card##*/}" && return 0
        done
        gh_fail "'$1' has no DRM card node"
}

gh_override() {
        _gh_override "$1"
        echo "$REPLY"
}

# gh_override into REPLY, without a fork.
_gh_override() {
        local v=
        read -r v <"/sys/bus/pci/devices/$1/driver_override" || true
        [[ $v == "(null)" ]] && v=
        REPLY=$v
}

# The stand-in units and those of gh_install_unit: the units in /etc/systemd/system named gh-e2e-*.service,
# and the nvidia machine's stand-ins of real services.
_gh_e2e_units() {
        local file
        for file in /etc/systemd/system/gh-e2e-*.service "/etc/systemd/system/$GH_NV_PERSISTENCED_UNIT" \
                "/etc/systemd/system/$GH_NV_CUDA_UNIT"; do
                [[ -e $file ]] && echo "${file##*/}"
        done
        return 0
}

# gh_host_state [--pids]: what a hand-over changes, one fact per line, for comparing before and after:
# the driver and driver_override of every display and audio function, whether the GPU modules are
# loaded, the states of the stand-in units and those of gh_install_unit (and with --pids their main pids:
# "untouched" is stricter than "restarted"), and the journals on record.
gh_host_state() {
        local pids=${1:-} addr drv m unit
        while read -r addr drv; do
                _gh_override "$addr"
                echo "$addr driver=$drv override=$REPLY"
        done < <(gh_device_state)
        local mods=(bochs snd_hda_intel)
        [[ -e $GH_E2E_RUN/nvidia-machine ]] && mods+=("${GH_NV_MODULES[@]}")
        for m in "${mods[@]}"; do
                gh_module_loaded "$m" && echo "module $m loaded" || echo "module $m unloaded"
        done
        for unit in $(_gh_e2e_units); do
                echo "unit $unit $(systemctl is-active "$unit")${pids:+ pid $(gh_unit_pid "$unit")}"
        done
        echo "journals: $(shopt -s nullglob && cd /run/gpu-handover 2>/dev/null && echo ./*.journal)"
}

# assert_host_state BEFORE [--pids]: the host is as gh_host_state said it was then.
assert_host_state() {
        local now
        now=$(gh_host_state "${2:-}")
        [[ $now == "$1" ]] || gh_fail "the host changed:"$'\n'"$(diff <(echo "$1") <(echo "$now") | sed -n 's/^[<>]/  &/p')"
}

# gh_virsh_start_fails DOMAIN: virsh start --paused must fail; its error text goes to GH_VIRSH_ERROR.
gh_virsh_start_fails() {
        if GH_VIRSH_ERROR=$(virsh start --paused "$1" 2>&1); then
                gh_fail "virsh start of '$1' succeeded but should have failed"
        fi
        printf 'virsh start failed as it should:\n%s\n' "$GH_VIRSH_ERROR"
}

# assert_contains TEXT NEEDLE [WHAT]
assert_contains() {
        [[ $1 == *"$2"* ]] || gh_fail "${3:-text} does not contain '$2': $1"
}

# gh_assert_claimed_at_boot ADDR: gpu-handover-claim.service bound ADDR to vfio-pci at this boot, through
# the executor, and unbound no function on the way (the claim rules had reserved them during coldplug).
gh_assert_claimed_at_boot() {
        local steps
        steps=$(journalctl -b -q -u gpu-handover-claim.service -o json |
                jq -r 'select((.GH_STEP // "") != "") | "\(.GH_STEP) \(.GH_PCI_ADDR // "")"')
        gh_log "the claim's steps at boot:"
        echo "$steps"
        assert_contains "$steps" "bind-vfio $1" "the claim's steps at boot"
        if grep -q "^unbind " <<<"$steps"; then
                gh_fail "the claim unbound a function at boot"
        fi
}

# gh_tool_log [SINCE_USEC]: the tool's messages in the systemd journal since SINCE_USEC (default: the start
# of this scenario), one per line.
gh_tool_log() {
        local since=${1:-${GH_E2E_SCENARIO_START_USEC:-0}}
        journalctl -q -t gpu-handover -o json --since "@$((since / 1000000))" 2>/dev/null |
                jq -r --argjson since "$since" \
                        'select((.__REALTIME_TIMESTAMP | tonumber) >= $since) | .MESSAGE | strings'
}

# gh_timings [SINCE_USEC]: the tool's own timings, from its fields in the systemd journal (GH_STEP,
# GH_DURATION_USEC) since SINCE_USEC (CLOCK_REALTIME microseconds; default: the start of this scenario).
# One tab-separated line each: DOMAIN PHASE MS STEP WHAT. PHASE is prepare or release for a whole
# hand-over or give-back (STEP is "-" then), step or undo for one of its steps.
gh_timings() {
        local since=${1:-${GH_E2E_SCENARIO_START_USEC:-0}}
        journalctl -q -t gpu-handover -o json --since "@$((since / 1000000))" 2>/dev/null |
                jq -r --argjson since "$since" '
                def str: if type == "string" then . else "" end;
                select((.__REALTIME_TIMESTAMP | tonumber) >= $since and (.GH_DURATION_USEC | str) != "")
                | (.MESSAGE | str) as $m | (.GH_STEP | str) as $step
                | (if $step != "" then (if ($m | startswith("undo: ")) then "undo" else "step" end)
                   elif ($m | startswith("handed ")) then "prepare"
                   elif ($m | startswith("gave ")) then "release"
                   else empty end) as $phase
                | [(.GH_DOMAIN | str), $phase, ((.GH_DURATION_USEC | tonumber) / 100 | round / 10 | tostring),
                   (if $step == "" then "-" else $step end),
                   ($m | sub("^undo: "; "") | sub(": done in [0-9.]+ ms$"; "") | sub(" in [0-9.]+ ms$"; ""))]
                | join("\t")'
}

# gh_show_timings [SINCE_USEC]: gh_timings for people, one line each.
gh_show_timings() {
        local dom phase ms step what
        while IFS=$'\t' read -r dom phase ms step what; do
                printf '  %-7s %9s ms  %s\n' "$phase" "$ms" "$what"
        done < <(gh_timings "$@")
}

# gh_plan_steps PLAN: how many steps `gpu-handover plan` lists in PLAN, its output.
gh_plan_steps() {
        sed -n '/^Steps (prepare order)/,/^$/s/^ *\([0-9]*\)\. .*/\1/p' <<<"$1" | tail -n1
}

# gh_plan_step PLAN TEXT: the number of the first step in PLAN (`gpu-handover plan`'s output) whose
# description starts with TEXT.
gh_plan_step() {
        sed -n "s/^ *\([0-9]*\)\. $2.*/\1/p" <<<"$1" | head -n1
}

# gh_prepare_kill_after DOMAIN XML N: runs the hook's prepare of DOMAIN as libvirt would (XML on stdin),
# pausing after step N (GH_TEST_PAUSE_AFTER_STEP, which the test binary $GH_TOOL_TEST honours), waits until
# it pauses there with N step lines in its journal, and SIGKILLs it, as a crash would.
gh_prepare_kill_after() {
        local dom=$1 xml=$2 n=$3 pid since journal=/run/gpu-handover/$1.journal
        since=$(($(date +%s%N) / 1000))
        GH_TEST_PAUSE_AFTER_STEP=$n "$GH_TOOL_TEST" hook qemu "$dom" prepare begin - <"$xml" &
        pid=$!
        wait_for 60 _gh_paused_or_gone "$pid" "$since" "$n"
        gh_pid_alive "$pid" || gh_fail "the prepare of '$dom' ended before it paused after step $n"
        assert_eq "$n" "$(tail -n +2 "$journal" | grep -c .)" "step lines in $journal"
        kill -KILL "$pid"
        wait "$pid" 2>/dev/null || true
        gh_log "killed the prepare of '$dom' after step $n"
}

_gh_paused_or_gone() {
        ! gh_pid_alive "$1" || gh_tool_log "$2" | grep -q "^pausing after step $3 "
}

# gh_e2e_rebaseline: the drivers the devices have now are those the next scenarios start from, and what
# the runner checks after each. For a machine that boots with devices away from their host drivers
# (claim): its scenario calls it once it has given them back.
gh_e2e_rebaseline() {
        gh_device_state >"$GH_E2E_RUN/baseline"
}

# --- used by the runner between scenarios ---

# "ADDR DRIVER" for every display and audio PCI function, sorted.
gh_device_state() {
        local dev class
        for dev in /sys/bus/pci/devices/*; do
                read -r class <"$dev/class"
                [[ $class == 0x03* || $class == 0x0403* ]] || continue
                _gh_driver "${dev##*/}"
                echo "${dev##*/} $REPLY"
        done
}

# Unbinds ADDR from its driver, if it has one.
_gh_unbind() {
        local dev=/sys/bus/pci/devices/$1
        [[ -L $dev/driver ]] || return 0
        timeout 20 sh -c "echo '$1' > '$dev/driver/unbind'"
}

# Puts ADDR back on whatever driver the kernel picks for it, without our tool.
_gh_reprobe() {
        local dev=/sys/bus/pci/devices/$1
        _gh_unbind "$1" || return 1
        echo >"$dev/driver_override"
        modprobe -q "$(<"$dev/modalias")" || true
        echo "$1" >/sys/bus/pci/drivers_probe
}

# _gh_unit_end UNIT: UNIT inactive with no job queued, even when its stop would hang (an ExecStop that
# sleeps): SIGKILL to all its processes, again until it is (a queued start would start it again, and the
# main process's end runs ExecStop).
_gh_unit_end() {
        local i state
        # A stop job, so that Restart= (the nvidia machine's CUDA stand-in has Restart=always) does not
        # bring the killed process back; the kills below end its ExecStop if that hangs.
        systemctl stop --no-block --quiet "$1" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
                systemctl kill --quiet -s KILL "$1" 2>/dev/null || true
                state=$(systemctl show -P ActiveState "$1" 2>/dev/null) || true
                if [[ $state == inactive || $state == failed ]] &&
                        [[ -z $(systemctl list-jobs --no-legend "$1" 2>/dev/null) ]]; then
                        systemctl reset-failed --quiet "$1" 2>/dev/null || true
                        return 0
                fi
                sleep 0.2
        done
        echo "unit '$1' is still $state"
}

# Undoes what a scenario may have left: domains, stand-in units and configs quietly; it names only what
# the scenario should not have left: a running domain, devices off the drivers they had at boot
# (BASELINE: the gh_device_state of then).
gh_e2e_reset() {
        local baseline=$1 dom unit addr drv reload=0
        while read -r dom; do
                [[ -n $dom ]] || continue
                virsh -q destroy "$dom" >/dev/null 2>&1 && echo "domain '$dom' was still running"
                virsh -q undefine "$dom" >/dev/null 2>&1 || true
        done < <(virsh -q list --all --name 2>/dev/null)
        for unit in $(_gh_e2e_units); do
                _gh_unit_end "$unit"
                # One reload for all, below: each takes seconds in a slow guest.
                systemctl disable --quiet --no-reload "$unit" 2>/dev/null || true
                rm -f "/etc/systemd/system/$unit"
                reload=1
        done
        ((reload == 0)) || systemctl daemon-reload
        # Holders, and a VM's scope that no VM runs in (gh_start_holder --vm).
        for unit in $(systemctl list-units --plain --no-legend --all "$GH_HOLDER_UNIT_PREFIX*" | cut -d' ' -f1) \
                $(systemctl list-units --plain --no-legend --all 'machine-*.scope' | cut -d' ' -f1 | grep -F '\x2dgh\x2de2e\x2d'); do
                systemctl kill --quiet -s KILL "$unit" 2>/dev/null || true
                systemctl stop --quiet "$unit" 2>/dev/null || true
                systemctl reset-failed --quiet "$unit" 2>/dev/null || true
        done
        rm -f /etc/gpu-handover/domains/*.conf
        if [[ -e $GH_E2E_RUN/nvidia-machine ]]; then
                # A remove left waiting for good would keep the guest from powering off.
                if [[ $(cat /sys/module/nvidia/parameters/nvsim_remove_hangs 2>/dev/null) == Y ]]; then
                        echo "nvidia's nvsim_remove_hangs was still set"
                        echo 0 >/sys/module/nvidia/parameters/nvsim_remove_hangs
                fi
                _gh_override "$GH_NV_GPU2"
                if [[ $REPLY != "$GH_NV_PARKED" ]]; then
                        echo "$GH_NV_GPU2 was not parked (driver_override '$REPLY')"
                        echo "$GH_NV_PARKED" >"/sys/bus/pci/devices/$GH_NV_GPU2/driver_override"
                fi
        fi
        while read -r addr drv; do
                [[ $(gh_driver "$addr") == "$drv" ]] && continue
                echo "$addr was on $(gh_driver "$addr"), not $drv"
                if [[ $drv == none ]]; then
                        _gh_unbind "$addr" || echo "cannot unbind $addr"
                else
                        _gh_reprobe "$addr" || echo "cannot re-probe $addr"
                fi
        done <"$baseline"
}
