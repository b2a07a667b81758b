#!/bin/busybox sh
# /init of the e2e guest's initramfs: boots the host's own root, read-only under a tmpfs overlay, into
# systemd with a unit that runs the scenarios and powers off. scripts/vm-test packs it with busybox.
# shellcheck shell=sh

/bin/busybox --install -s /bin
export PATH=/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

die() {
        echo "gh-e2e-init: $*"
        # Nothing can be fixed from here: end the guest so the host sees a missing result at once.
        echo o >/proc/sysrq-trigger
        sleep 10
        poweroff -f
}

# Read-only shares change only between runs, so the page cache may keep what it read.
RO9P=trans=virtio,version=9p2000.L,msize=262144,cache=loose,ro
RW9P=trans=virtio,version=9p2000.L,msize=262144

while read -r ko; do
        insmod "/modules/$ko" || die "insmod $ko failed"
done </modules/load-order

mkdir -p /lower /rw /newroot
mount -t 9p -o "$RO9P" hostroot /lower || die "cannot mount the host root (9p tag hostroot)"
mount -t tmpfs -o mode=0755 tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot ||
        die "cannot mount the overlay over the host root"

R=/newroot
mkdir -p $R/lib/modules $R/gh-repo $R/gh-build $R/gh-results
mount -t 9p -o "$RO9P" modules $R/lib/modules || die "cannot mount the kernel modules (9p tag modules)"
mount -t 9p -o "$RO9P" repo $R/gh-repo || die "cannot mount the repository (9p tag repo)"
mount -t 9p -o "$RO9P" build $R/gh-build || die "cannot mount the build dir (9p tag build)"
mount -t 9p -o "$RW9P" results $R/gh-results || die "cannot mount the results share (9p tag results)"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs $R/run
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs $R/tmp

# The host's root may carry a container's marker; systemd would then believe it runs in a container
# and, among other things, ignore the kernel command line.
rm -f $R/.dockerenv $R/.containerenv

U=$R/etc/systemd/system
mkdir -p $U
cat >$U/gh-e2e.target <<'EOF'
[Unit]
Description=gpu-handover end-to-end run
Requires=multi-user.target
After=multi-user.target
Wants=gh-e2e.service
AllowIsolate=yes
EOF
# The runner's outcome is in the results share; either way the guest ends right after it.
cat >$U/gh-e2e.service <<'EOF'
[Unit]
Description=gpu-handover end-to-end scenarios
Wants=libvirtd.service
After=multi-user.target libvirtd.service
SuccessAction=poweroff-immediate
FailureAction=poweroff-immediate

[Service]
Type=oneshot
ExecStart=/gh-repo/tests/e2e/runner.sh
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity
EOF

# Units that only cost boot time under TCG, or wait for things this guest has not got (network,
# disks, a login on a terminal).
for unit in \
        apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer \
        logrotate.timer man-db.timer systemd-tmpfiles-clean.timer \
        e2scrub_reap.service postgresql.service libvirt-guests.service \
        lvm2-monitor.service lvm2-lvmpolld.socket dm-event.socket blk-availability.service \
        systemd-pstore.service systemd-timesyncd.service systemd-time-wait-sync.service \
        systemd-networkd-wait-online.service networking.service ifupdown-wait-online.service \
        NetworkManager-wait-online.service nftables.service \
        getty@tty1.service serial-getty@ttyS0.service console-getty.service getty.target \
        systemd-fsck-root.service systemd-remount-fs.service systemd-firstboot.service \
        systemd-machine-id-commit.service systemd-random-seed.service systemd-update-utmp.service \
        systemd-update-utmp-runlevel.service packagekit.service packagekit-offline-update.service \
        cryptdisks.service cryptdisks-early.service remote-fs.target; do
        ln -sf /dev/null "$U/$unit"
done

# The machine type scripts/vm-test booted (gh_e2e.machine=NAME); its pre-boot setup, if it has one, is
# tests/e2e/machines/NAME.sh, which runs in the new root (bash, lib.sh at hand) before systemd does.
machine=
read -r cmdline </proc/cmdline
for arg in $cmdline; do
        case $arg in gh_e2e.machine=*) machine=${arg#gh_e2e.machine=} ;; esac
done
setup=/gh-repo/tests/e2e/machines/$machine.sh

for fs in proc sys dev; do
        mount --move /$fs $R/$fs || die "cannot move /$fs into the new root"
done
if [ -n "$machine" ] && [ -f "$R$setup" ]; then
        echo "gh-e2e-init: pre-boot setup of the '$machine' machine"
        chroot $R /bin/bash "$setup" || die "the pre-boot setup $setup failed"
fi
exec switch_root $R /lib/systemd/systemd
