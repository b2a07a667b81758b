# shellcheck shell=bash disable=SC2034
# Sourced by scripts/test and scripts/setup: the Debian packages each needs, installed only when missing,
# so that a machine that has them all never runs apt.

# To build the tool and the hook entry.
GH_DEPS_BUILD=(build-essential cmake pkg-config libxml2-dev libkmod-dev libsystemd-dev libvirt-dev)
# To build and run the unit tests.
GH_DEPS_TEST=("${GH_DEPS_BUILD[@]}" libcmocka-dev)
# To run the e2e test: a throw-away VM with libvirt inside it.
GH_DEPS_E2E=(dbus qemu-system-x86 busybox-static cpio jq libvirt-daemon-system libvirt-clients)

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
