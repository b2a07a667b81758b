# shellcheck shell=bash
# Pre-boot setup of the 'desktop' machine (the dual hardware), run by the initramfs in the new root before
# systemd starts: the test user whose real login session (tests/e2e/desktop.sh) runs weston, PipeWire and
# WirePlumber from Debian's packages. It joins no group: the session gets the GPU from logind and the
# sound cards through the uaccess ACLs logind gives the active session, as on a desktop.
set -euo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# shellcheck source=tests/e2e/lib.sh
. /gh-repo/tests/e2e/lib.sh
# shellcheck source=tests/e2e/desktop.sh
. /gh-repo/tests/e2e/desktop.sh

main() {
        local pkg
        for pkg in /usr/bin/weston /usr/bin/mutter /usr/bin/pipewire /usr/bin/wireplumber /usr/bin/pw-cli; do
                [[ -x $pkg ]] || gh_fail "$pkg is missing (scripts/lib/deps.sh GH_DEPS_E2E installs it)"
        done
        useradd --create-home --shell /bin/bash --comment "gpu-handover e2e desktop user" "$GH_DESK_USER"
        echo "desktop machine: user $GH_DESK_USER (uid $(gh_desk_uid)) for a session on seat0 $GH_DESK_TTY"
}

mkdir -p "$GH_E2E_RUN"
main "$@"
