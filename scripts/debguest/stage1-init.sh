#!/bin/sh
# debguest stage 1: /init in the small busybox initramfs that
# boot.sh builds from the host's kernel modules (PID 1, run via rdinit=).
# It loads the modules (virtio, ext4, NIC, NFS client, boot.sh --module), mounts the Debian
# root disk /dev/vda, copies the per-run files (/debguest/*) onto it and
# switch_roots into /debguest/debguest-init (guest-init.sh) there.  The name
# of PID 1 matters: amazon-efs-utils reads /proc/1/comm and would treat
# "init" as upstart and "systemd" as systemd.
# Control lines go to /dev/ttyS1 (a file on the host): "@@EG <WORD> ...".
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# fds 0-2 are the console; fd 3 is the result channel.  Both stay valid after
# /dev is moved onto the new root.
stty -F /dev/ttyS1 raw -echo 2>/dev/null
exec 3>/dev/ttyS1
say() { echo "@@EG $*" >&3; }
up() { cut -d' ' -f1 /proc/uptime 2>/dev/null || cut -d' ' -f1 /newroot/proc/uptime; }
fail() {
    say "FAIL stage1: $*"
    echo "debguest-stage1: $*" >&2
    say "EXIT 126"
    sync
    poweroff -f
    sleep 10
    echo o >/proc/sysrq-trigger
}
say "BOOTED $(up)"
. /debguest/config

# the base initramfs' modules, then this run's (boot.sh --module)
cat /debguest-modules.load /debguest/modules.load 2>/dev/null | while read -r m; do
    [ -n "$m" ] || continue
    insmod "/lib/modules/$EG_KVER/$m" || echo "debguest-stage1: insmod $m failed" >&2
done
say "MODULES $(up)"

i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
[ -b /dev/vda ] || fail "no /dev/vda (is the root image attached?)"
mkdir -p /newroot
mount -t ext4 -o rw,noatime /dev/vda /newroot || fail "mount /dev/vda failed"
[ -e /newroot/.debguest-root ] || fail "/dev/vda is not a debguest root (no /.debguest-root)"
mkdir -p /newroot/debguest
cp -a /debguest/. /newroot/debguest/ || fail "cannot copy the run files onto the root disk"
for d in proc sys dev; do
    mkdir -p "/newroot/$d"
    mount --move "/$d" "/newroot/$d" || fail "mount --move /$d"
done
say "ROOT $(up)"
# shellcheck disable=SC2093 # reached only if switch_root fails
exec switch_root /newroot /debguest/debguest-init
fail "switch_root failed"
