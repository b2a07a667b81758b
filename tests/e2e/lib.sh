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

GH_DM_UNIT=gh-e2e-dm.service
GH_PERSISTENCED_UNIT=gh-e2e-persistenced.service

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
        local link=/sys/bus/pci/devices/$1/driver
        [[ -e /sys/bus/pci/devices/$1 ]] || gh_fail "no PCI device '$1'"
        if [[ -L $link ]]; then
                basename "$(readlink "$link")"
        else
                echo none
        fi
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

# define_domain [--extra XML]... NAME MANAGED ADDR[=MANAGED]...: a type='qemu' domain of 128 MiB with no
# disk and no display, with each PCI function ADDR as <hostdev managed=MANAGED> (ADDR=no overrides it for
# that one) and each --extra XML put inside <devices>; written to /run/gh-e2e/NAME.xml and defined.
define_domain() {
        local extra=() name managed arg xml
        while [[ ${1:-} == --extra ]]; do
                extra+=("$2")
                shift 2
        done
        name=$1 managed=$2
        shift 2
        (($#)) || gh_fail "define_domain: no hostdev address"
        mkdir -p "$GH_E2E_RUN"
        xml=$GH_E2E_RUN/$name.xml
        {
                echo "<domain type='qemu'>"
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
                echo "</domain>"
        } >"$xml"
        virsh -q define "$xml" >/dev/null || gh_fail "virsh define of '$name' failed"
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

# gh_install_tool: installs the built gpu-handover with its hook into this guest and restarts libvirtd,
# which reads hooks only when it starts; sets GH_TOOL to the installed tool. Call it in each scenario
# that needs the tool (it installs once per boot). Skips the scenario when the tool is not built.
gh_install_tool() {
        local tool=$GH_BUILD/src/gpu-handover hook=$GH_BUILD/hooks/qemu-hook sbindir
        [[ -x $tool && -x $hook ]] || gh_skip "gpu-handover is not built in $GH_BUILD"
        # The hook entry execs the tool where the build says it is installed (GH_TOOL_PATH).
        sbindir=$(_gh_cmake_var CMAKE_INSTALL_SBINDIR)
        [[ $sbindir == /* ]] || sbindir=$(_gh_cmake_var CMAKE_INSTALL_PREFIX)/$sbindir
        GH_TOOL=$sbindir/gpu-handover
        [[ -e $GH_E2E_RUN/tool-installed ]] && return 0
        install -D -m 0755 "$tool" "$GH_TOOL"
        "$tool" install --hook-binary "$hook" || gh_fail "gpu-handover install failed"
        systemctl restart libvirtd.service || gh_fail "libvirtd did not restart"
        wait_for 60 _gh_libvirt_up
        mkdir -p "$GH_E2E_RUN"
        touch "$GH_E2E_RUN/tool-installed"
}

_gh_libvirt_up() {
        virsh -q list >/dev/null 2>&1
}

# gh_write_config DOMAIN: config for DOMAIN from stdin; the runner removes it after the scenario.
gh_write_config() {
        mkdir -p /etc/gpu-handover/domains
        cat >"/etc/gpu-handover/domains/$1.conf"
}

# _gh_holder_unit UNIT NODE DESCRIPTION [INSTALL-LINES]: writes a service whose one process keeps NODE
# open; the caller has the manager reload.
_gh_holder_unit() {
        local unit=$1 node=$2 desc=$3 install=${4:-}
        cat >"/etc/systemd/system/$unit" <<EOF
[Unit]
Description=$desc (e2e stand-in)

[Service]
ExecStart=/bin/bash -c 'exec 3<$node; exec sleep infinity'
${install:+
[Install]
$install}
EOF
}

_gh_unit_holds() {
        local pid
        pid=$(systemctl show -P MainPID "$1")
        [[ $pid != 0 ]] && gh_holds "$pid" "$2"
}

# gh_install_dm_standin [NODE]: a display manager stand-in (Alias=display-manager.service) keeping NODE
# (default /dev/dri/card0) open the way a compositor does; enabled, started, and holding NODE on return.
gh_install_dm_standin() {
        local node=${1:-/dev/dri/card0}
        _gh_holder_unit "$GH_DM_UNIT" "$node" "Display manager" "Alias=display-manager.service"
        # enable reloads the manager, which then sees the new unit.
        systemctl enable --quiet --now "$GH_DM_UNIT" || gh_fail "'$GH_DM_UNIT' did not start"
        wait_for 30 _gh_unit_holds "$GH_DM_UNIT" "$node"
}

# gh_install_persistenced_standin [NODE]: a daemon that keeps the GPU open and is not a display
# manager (like nvidia-persistenced); started and holding NODE on return.
gh_install_persistenced_standin() {
        local node=${1:-/dev/dri/card0}
        _gh_holder_unit "$GH_PERSISTENCED_UNIT" "$node" "GPU persistence daemon"
        systemctl daemon-reload
        systemctl start "$GH_PERSISTENCED_UNIT" || gh_fail "'$GH_PERSISTENCED_UNIT' did not start"
        wait_for 30 _gh_unit_holds "$GH_PERSISTENCED_UNIT" "$node"
}

# --- used by the runner between scenarios ---

# "ADDR DRIVER" for every display and audio PCI function, sorted.
gh_device_state() {
        local dev class
        for dev in /sys/bus/pci/devices/*; do
                class=$(<"$dev/class")
                [[ $class == 0x03* || $class == 0x0403* ]] || continue
                echo "${dev##*/} $(gh_driver "${dev##*/}")"
        done
}

# Puts ADDR back on whatever driver the kernel picks for it, without our tool.
_gh_reprobe() {
        local dev=/sys/bus/pci/devices/$1
        if [[ -L $dev/driver ]]; then
                timeout 20 sh -c "echo '$1' > '$dev/driver/unbind'" || return 1
        fi
        echo >"$dev/driver_override"
        modprobe -q "$(<"$dev/modalias")" || true
        echo "$1" >/sys/bus/pci/drivers_probe
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
        for unit in "$GH_DM_UNIT" "$GH_PERSISTENCED_UNIT"; do
                [[ -e /etc/systemd/system/$unit ]] || continue
                systemctl disable --quiet --now "$unit" 2>/dev/null || true
                rm -f "/etc/systemd/system/$unit"
                reload=1
        done
        ((reload == 0)) || systemctl daemon-reload
        rm -f /etc/gpu-handover/domains/*.conf
        while read -r addr drv; do
                [[ $(gh_driver "$addr") == "$drv" ]] && continue
                echo "$addr was on $(gh_driver "$addr"), not $drv"
                [[ $drv == none ]] || _gh_reprobe "$addr" || echo "cannot re-probe $addr"
        done <"$baseline"
}
