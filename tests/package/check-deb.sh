#!/usr/bin/env bash
# Builds the Debian package with scripts/package and checks it: control fields, contents and conffiles,
# then its maintainer scripts in throwaway roots (dpkg --root, scripts run chrootless with DPKG_ROOT set,
# so nothing outside the root is touched): install links the hook, remove unlinks it, a reinstall keeps
# it, another program's hook survives both, and a hand-over in progress stops the removal.
#
#   tests/package/check-deb.sh WORK_DIR [DEB]    (without DEB, builds one under WORK_DIR/build)
#
# Needs root (dpkg --root writes root-owned files): exits 77 (skipped) without it. Without dpkg, cpack or
# groff (scripts/test installs them) it fails.
set -euo pipefail

if (($# < 1 || $# > 2)); then
        echo "Usage: tests/package/check-deb.sh WORK_DIR [DEB]" >&2
        exit 2
fi
if ((EUID != 0)); then
        echo "SKIP: needs root"
        exit 77
fi
for tool in dpkg cpack groff; do
        if ! command -v "$tool" >/dev/null; then
                echo "FAIL: no $tool here: scripts/test installs it (scripts/lib/deps.sh)" >&2
                exit 1
        fi
done
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=$(realpath -m "$1")
mkdir -p "$work"
deb=${2:-}
if [[ -z $deb ]]; then
        deb=$("$repo"/scripts/package --build-dir "$work/build")
fi

failures=0
check() {
        local what=$1
        shift
        if "$@"; then
                echo "ok: $what"
        else
                echo "FAIL: $what" >&2
                failures=$((failures + 1))
        fi
}

field() {
        dpkg-deb -f "$deb" "$1"
}

# lacks PATTERN TEXT: no line of TEXT matches the extended regex PATTERN.
lacks() {
        ! grep -Eq -- "$1" <<<"$2"
}

# dpkg-deb -c lines whose owner is not root/root.
all_root() {
        ! awk '$2 != "root/root"' <<<"$1" | grep -q .
}

formats_clean() {
        local warnings

        warnings=$(zcat "$1" | groff -man -Tutf8 -ww -z 2>&1)
        [[ -z $warnings ]] || echo "$warnings" >&2
        [[ -z $warnings ]]
}

# --- Control fields.
check "Package is gpu-handover" test "$(field Package)" = gpu-handover
check "Section is admin" test "$(field Section)" = admin
check "Architecture is this machine's" test "$(field Architecture)" = "$(dpkg --print-architecture)"
for lib in libc6 libxml2 libkmod2 libsystemd0; do
        check "Depends on $lib" grep -Eq "(^|, )$lib( |,|$)" <<<"$(field Depends)"
done
check "Depends on no libvirt library (check's libvirt use is a Recommends)" \
        lacks libvirt "$(field Depends)"
for p in libvirt-daemon-system libvirt0; do
        check "Recommends $p" grep -Eq "(^|, )$p( |,|$)" <<<"$(field Recommends)"
done

# --- Contents: every file at its GNUInstallDirs place, root's, and nothing under /usr/etc.
contents=$(dpkg-deb -c "$deb")
for path in ./usr/sbin/gpu-handover ./usr/libexec/gpu-handover/qemu-hook \
        ./etc/gpu-handover/gpu-handover.conf \
        ./etc/gpu-handover/domains/ ./usr/share/man/man8/gpu-handover.8.gz \
        ./usr/share/man/man5/gpu-handover.conf.5.gz ./usr/share/bash-completion/completions/gpu-handover \
        ./usr/share/doc/gpu-handover/examples/win11.conf.example; do
        check "ships $path" grep -Eq " $path$" <<<"$contents"
done
check "ships nothing under /usr/etc" lacks " \./usr/etc" "$contents"
check "ships no hook link: gpu-handover install makes it" lacks " \./etc/libvirt" "$contents"
check "every entry is root's" all_root "$contents"
check "the config is not writable by group or others" \
        grep -Eq '^-rw-r--r-- .* ./etc/gpu-handover/gpu-handover.conf$' <<<"$contents"

control=$work/control
rm -rf "$control"
dpkg-deb -e "$deb" "$control"
check "conffiles lists the global config alone" \
        test "$(cat "$control/conffiles")" = /etc/gpu-handover/gpu-handover.conf
check "postinst is executable" test -x "$control/postinst"
check "prerm is executable" test -x "$control/prerm"

# --- The files themselves.
tree=$work/extracted
rm -rf "$tree"
dpkg-deb -x "$deb" "$tree"
check "the tool runs and knows its version" \
        grep -q "^gpu-handover $(field Version)$" <<<"$("$tree/usr/sbin/gpu-handover" --version)"
for page in man8/gpu-handover.8.gz man5/gpu-handover.conf.5.gz; do
        check "$page formats without warnings" formats_clean "$tree/usr/share/man/$page"
done
check "the completion script parses" bash -n "$tree/usr/share/bash-completion/completions/gpu-handover"

# --- Maintainer scripts, in throwaway roots.
new_root() {
        local r=$work/root-$1

        rm -rf "$r"
        mkdir -p "$r/var/lib/dpkg/info" "$r/var/lib/dpkg/updates" "$r/var/lib/dpkg/triggers"
        touch "$r/var/lib/dpkg/status" "$r/var/lib/dpkg/available"
        echo "$r"
}

# Dependencies are those of the root, which has none: they were checked above.
dpkg_in() {
        local r=$1
        shift
        dpkg --root="$r" --force-script-chrootless --force-depends --log=/dev/null "$@"
}

link_is() {
        [[ -L $1 && $(readlink "$1") == "$2" ]]
}

installed() {
        # The state, not the selection: a refused removal leaves "deinstall ok installed".
        [[ $(dpkg-query --root="$1" -W -f='${db:Status-Status}' gpu-handover 2>/dev/null) == installed ]]
}

hook=/usr/libexec/gpu-handover/qemu-hook
foreign=$'#!/bin/sh\n# another program\'s hook\nexit 0\n'

r=$(new_root plain)
out=$(dpkg_in "$r" -i "$deb" 2>&1)
check "install: the hook is linked" link_is "$r/etc/libvirt/hooks/qemu" "$hook"
check "install: the link points at a file of the package" test -x "$r$hook"
check "install: says to restart libvirtd" grep -q "systemctl restart libvirtd" <<<"$out"
check "install: the domains directory is there" test -d "$r/etc/gpu-handover/domains"
out=$(dpkg_in "$r" -i "$deb" 2>&1)
check "reinstall: the hook stays linked" link_is "$r/etc/libvirt/hooks/qemu" "$hook"
check "reinstall: nothing changed" grep -q "Nothing changed" <<<"$out"
out=$(dpkg_in "$r" -r gpu-handover 2>&1)
check "remove: the hook is unlinked" test ! -L "$r/etc/libvirt/hooks/qemu"
check "remove: the binaries are gone" test ! -e "$r/usr/sbin/gpu-handover"
check "remove: the conffile stays" test -f "$r/etc/gpu-handover/gpu-handover.conf"
dpkg_in "$r" --purge gpu-handover >/dev/null 2>&1
check "purge: the conffile is gone" test ! -e "$r/etc/gpu-handover/gpu-handover.conf"

r=$(new_root foreign)
mkdir -p "$r/etc/libvirt/hooks"
printf '%s' "$foreign" >"$r/etc/libvirt/hooks/qemu"
chmod 0755 "$r/etc/libvirt/hooks/qemu"
out=$(dpkg_in "$r" -i "$deb" 2>&1) || true
check "foreign hook: the package installs all the same" installed "$r"
check "foreign hook: left as it was" test "$(cat "$r/etc/libvirt/hooks/qemu")" = "${foreign%$'\n'}"
check "foreign hook: postinst says how to install next to it" grep -q -- "--qemu-d" <<<"$out"
check "foreign hook: no drop-in made unasked" test ! -e "$r/etc/libvirt/hooks/qemu.d/gpu-handover"
"$r/usr/sbin/gpu-handover" install --qemu-d --root "$r" >/dev/null
check "foreign hook: install --qemu-d links the drop-in" \
        link_is "$r/etc/libvirt/hooks/qemu.d/gpu-handover" "$hook"
dpkg_in "$r" -r gpu-handover >/dev/null 2>&1
check "foreign hook: remove unlinks the drop-in" test ! -L "$r/etc/libvirt/hooks/qemu.d/gpu-handover"
check "foreign hook: and leaves the other hook" \
        test "$(cat "$r/etc/libvirt/hooks/qemu")" = "${foreign%$'\n'}"

r=$(new_root busy)
dpkg_in "$r" -i "$deb" >/dev/null 2>&1
mkdir -p "$r/run/gpu-handover"
echo "gpu-handover-journal 1 domain=win11" >"$r/run/gpu-handover/win11.journal"
if out=$(dpkg_in "$r" -r gpu-handover 2>&1); then removed=1; else removed=0; fi
check "hand-over in progress: removal refused" test "$removed" = 0
check "hand-over in progress: the refusal names the domain" grep -q "'win11'" <<<"$out"
check "hand-over in progress: still installed" installed "$r"
check "hand-over in progress: the hook stays linked" link_is "$r/etc/libvirt/hooks/qemu" "$hook"
rm "$r/run/gpu-handover/win11.journal"
dpkg_in "$r" -r gpu-handover >/dev/null 2>&1
check "after the hand-over: removal goes through" test ! -L "$r/etc/libvirt/hooks/qemu"

if ((failures > 0)); then
        echo "$failures check(s) failed" >&2
        exit 1
fi
echo "All checks passed: $deb"
