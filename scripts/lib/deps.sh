# shellcheck shell=bash disable=SC2034
# Sourced by scripts/test and scripts/setup: the Debian packages each needs, installed only when missing,
# so that a machine that has them all never runs apt.

# To build the tool and the hook entry, and to package them (scripts/package): CPack's Debian generator
# runs file(1) on every file it packs, to find the binaries whose libraries dpkg-shlibdeps turns into the
# Depends line.
GH_DEPS_BUILD=(build-essential cmake pkg-config libxml2-dev libkmod-dev libsystemd-dev libvirt-dev file)
# To run VMs with the hook on this machine (scripts/setup, unless --no-libvirt): libvirt's daemon and
# client, and QEMU for x86.
GH_DEPS_RUN=(libvirt-daemon-system libvirt-clients qemu-system-x86)
# To build and run the unit tests. Without python3 (test-status parses `status --json`), dbus (test-units'
# private dbus-daemon) or bash (test-completion), those tests fail, naming the package; without kmod
# (test-check-host's depmod) or systemd (test-claim's systemd-analyze verify), those checks are left out.
GH_DEPS_TEST=("${GH_DEPS_BUILD[@]}" libcmocka-dev python3 dbus bash kmod systemd)
# To build and run the fuzz targets (scripts/test adds them unless --no-fuzz; scripts/fuzz): clang and
# libFuzzer, which Debian ships in libclang-rt-dev (libclang_rt.fuzzer); llvm's llvm-profdata and llvm-cov
# for the lines of each parser that a run reached. The corpus replay under gcc needs none of them.
GH_DEPS_FUZZ=(clang libclang-rt-dev llvm)
# To run the e2e test (scripts/test adds it to GH_DEPS_TEST): scripts/vm-test packs an initramfs (busybox,
# cpio, depmod) and builds the .deb (GH_DEPS_BUILD); the guest boots this machine's own root, read-only,
# so the root must also hold what the guest runs: libvirt and QEMU, udev (udevadm, and the drivers it
# loads), systemd and dbus (in GH_DEPS_TEST), jq and pgrep (procps) for the scenarios. The nvidia machine
# also needs linux-headers-KVER for the guest's kernel, whose version only scripts/vm-test knows: it
# installs that package itself, with gh_deps_ensure, when a scenario asks for the machine; the modules
# build with build-essential's make, gcc and strings (GH_DEPS_BUILD), and the guest's dma-buf helper is
# python3 (GH_DEPS_TEST).
# The desktop machine runs a real user session in the guest, from Debian's own packages: weston (a
# compositor that takes its DRM device through logind), pipewire and wireplumber (the user's audio
# stack, which opens every card's /dev/snd/controlC*; libspa-0.2-modules, a dependency, holds the ALSA
# plugin), and dbus-user-session (the user bus both need; systemd's user manager starts it). mutter is
# GNOME's compositor, the one issue 10's user runs (gnome-shell is mutter plus the shell): its native
# backend runs under TCG on bochs with Mesa's software GBM, takes its cards from logind, and honours the
# mutter-device-ignore tag of the session-keeping mode, so 63-desktop-handover uses it rather than
# weston, which opens one card only and reads no tag.
GH_DEPS_E2E=("${GH_DEPS_RUN[@]}" busybox-static cpio jq kmod udev procps
        weston pipewire wireplumber dbus-user-session mutter)
# To run `ctest -L package` (tests/package/check-deb.sh), besides GH_DEPS_BUILD: groff checks that the
# man pages format without warnings.
GH_DEPS_PACKAGE_TEST=(groff-base)

# Prints the packages among "$@" that are not installed, one per line.
gh_deps_missing() {
        local p
        for p in "$@"; do
                [[ $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) == installed ]] || echo "$p"
        done
}

# Installs whichever of "$@" are missing: one apt-get update, one apt-get install.
gh_deps_ensure() {
        local -a missing sudo=()

        if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
                echo "Not a Debian-like system: make sure these (or your distribution's equivalents) are installed: $*"
                return 0
        fi
        mapfile -t missing < <(gh_deps_missing "$@")
        if ((${#missing[@]} == 0)); then
                echo "All ${#} packages are installed already."
                return 0
        fi
        echo "Installing missing packages: ${missing[*]}"
        if ((EUID != 0)); then
                if ! command -v sudo >/dev/null; then
                        echo "error: installing packages needs root: run as root, or install: ${missing[*]}" >&2
                        return 1
                fi
                sudo=(sudo)
        fi
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
                "${missing[@]}"
}
