#!/bin/bash
# Builds the NVIDIA simulator's modules against the e2e guest's kernel and lays out a modules tree for the
# guest: OUT/modules/KVER/updates/nvsim/*.ko plus the kernel's modules.* indexes regenerated with them,
# which the nvidia machine mounts over /lib/modules (tests/e2e/machines/nvidia.sh).
#
#   tests/nvsim/build.sh KVER KDIR OUT
#
# KDIR is the extracted kernel package (KDIR/lib/modules/KVER, KDIR/boot); the headers are the installed
# linux-headers-KVER, which must come from the same kernel build as KDIR: checked, and refused otherwise.
set -euo pipefail

SRC=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)

die() {
        printf 'nvsim: %s\n' "$*" >&2
        exit 1
}

# The headers must be the guest kernel's: the same release string (UTS_RELEASE), and the same Debian
# package version as the banner in the kernel image (Debian keeps the ABI name across some updates, and
# modversions' CRCs would then refuse the modules in the guest).
check_headers() {
        local hdr=$1 rel pkg image_pkg
        [[ -d $hdr ]] || die "no kernel headers at $hdr: install linux-headers-$KVER"
        rel=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' "$hdr/include/generated/utsrelease.h")
        [[ $rel == "$KVER" ]] || die "the headers at $hdr are for '$rel', not the guest's kernel $KVER"
        pkg=$(sed -n 's/^#define LINUX_PACKAGE_ID " *\(.*\)"$/\1/p' "$hdr/include/generated/package.h" 2>/dev/null)
        image_pkg=$(strings "$KDIR/boot/vmlinuz-$KVER" | grep -m1 "^$KVER (" | grep -o 'Debian [^ ]*' | head -n1) || true
        if [[ -z $pkg || -z $image_pkg ]]; then
                echo "nvsim: cannot compare the package versions of the headers ('$pkg') and the kernel ('$image_pkg')" >&2
                return 0
        fi
        [[ $pkg == "$image_pkg" ]] ||
                die "the headers at $hdr are from '$pkg', the guest's kernel from '$image_pkg': install the matching linux-headers-$KVER"
}

# Builds in OUT/src, a copy of the sources (kbuild writes its objects next to them), unless the copy and
# the modules are already there for exactly these sources and this kernel.
build_modules() {
        local hdr=$1 stamp
        stamp=$({
                echo "$KVER"
                cd "$SRC" && sha256sum Kbuild ./*.c ./*.h
        } | sha256sum | cut -d' ' -f1)
        if [[ -f $OUT/src/.stamp && $(<"$OUT/src/.stamp") == "$stamp" ]]; then
                return 0
        fi
        rm -rf "$OUT/src"
        mkdir -p "$OUT/src"
        cp "$SRC"/Kbuild "$SRC"/*.c "$SRC"/*.h "$OUT/src/"
        echo "nvsim: building the simulator's modules against $hdr" >&2
        make -s -C "$hdr" M="$OUT/src" modules >"$OUT/build.log" 2>&1 || {
                tail -n 40 "$OUT/build.log" >&2
                die "building the simulator's modules failed (log: $OUT/build.log)"
        }
        echo "$stamp" >"$OUT/src/.stamp"
}

# The guest's module tree is the kernel's plus updates/nvsim/: depmod runs over a tree of symlinks to the
# kernel's modules (so the cache is never written) and the index files it writes go next to the .ko files.
lay_out_tree() {
        local kmods=$KDIR/lib/modules/$KVER farm=$OUT/depmod tree=$OUT/modules/$KVER ko f
        rm -rf "$farm" "$OUT/modules.new"
        mkdir -p "$farm/lib/modules/$KVER/updates/nvsim" "$OUT/modules.new/$KVER/updates/nvsim"
        ln -s "$kmods/kernel" "$farm/lib/modules/$KVER/kernel"
        cp "$kmods"/modules.order "$kmods"/modules.builtin "$kmods"/modules.builtin.modinfo "$farm/lib/modules/$KVER/"
        for ko in nvidia nvidia-modeset nvidia-uvm nvidia-drm; do
                cp "$OUT/src/$ko.ko" "$OUT/modules.new/$KVER/updates/nvsim/"
                ln -s "$OUT/modules.new/$KVER/updates/nvsim/$ko.ko" "$farm/lib/modules/$KVER/updates/nvsim/$ko.ko"
        done
        depmod -b "$farm" "$KVER" || die "depmod over the guest's modules and the simulator's failed"
        for f in "$farm/lib/modules/$KVER"/modules.*; do
                [[ -L $f ]] || cp "$f" "$OUT/modules.new/$KVER/"
        done
        grep -q '^updates/nvsim/nvidia-drm.ko:.*updates/nvsim/nvidia-modeset.ko' "$OUT/modules.new/$KVER/modules.dep" ||
                die "depmod did not record nvidia-drm's dependencies on the simulator's modules"
        grep -q '^kernel/drivers/gpu/drm/drm.ko' "$OUT/modules.new/$KVER/modules.dep" ||
                die "depmod did not see the kernel's own modules through the symlink at $farm"
        rm -rf "$farm" "$OUT/modules"
        mv "$OUT/modules.new" "$OUT/modules"
        [[ -d $tree ]] || die "no $tree after laying out the tree"
}

main() {
        (($# == 3)) || die "usage: tests/nvsim/build.sh KVER KDIR OUT"
        KVER=$1 KDIR=$2 OUT=$3
        local hdr=/usr/src/linux-headers-$KVER
        mkdir -p "$OUT"
        check_headers "$hdr"
        build_modules "$hdr"
        lay_out_tree
}

main "$@"
