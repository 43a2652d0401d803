#!/bin/sh
# localefs kclient: the guest's /init (PID 1, busybox ash).
#
# Boot sequence: pseudo filesystems -> kernel modules -> eth0 (static address,
# no default route) -> NFS mount at $KC_MNT -> the test script -> umount ->
# poweroff.  Everything the host needs to know travels over the second serial
# port (/dev/ttyS1, written to a file on the host):
#   "@@GUEST <EVENT> ..."  harness events (see kclient.sh, parse_events)
#   anything else          the test script's stdout+stderr, line by line
# The kernel console is on ttyS0.  With --control, ttyS2 carries lines from
# the host to the guest (read by kc_wait_host in lib.sh).
#
# PID 1 must never die and must always report: no `set -e` here.

PATH=/usr/sbin:/usr/bin:/sbin:/bin
HOME=/root
TERM=dumb
export PATH HOME TERM
umask 022

mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /tmp /run /root /var/tmp
mount -t tmpfs -o mode=1777 tmpfs /tmp
ln -sf /proc/self/mounts /etc/mtab

. /kclient/config

stty -F /dev/ttyS1 raw -echo 2>/dev/null
exec 3>/dev/ttyS1

event() { echo "@@GUEST $*" >&3; }
uptime_s() { read -r _up _idle </proc/uptime; echo "$_up"; }
console() { echo "kclient-init: $*" >/dev/console; }

shutdown_guest() {
    event "EXIT $1"
    exec 3>&-
    sync
    poweroff -f
    # poweroff should not return; if it does, ask the kernel directly
    sleep 5
    echo o >/proc/sysrq-trigger
    while :; do sleep 60; done
}

event "BOOT $(uptime_s)"

# host -> guest line channel (opened now so that lines sent before the script
# reads them wait in the tty buffer instead of being dropped)
if [ "$KC_CONTROL" = 1 ]; then
    stty -F /dev/ttyS2 raw -echo 2>/dev/null
    exec 4</dev/ttyS2
fi

# ---- kernel modules: the host wrote them in dependency order -----------------
while read -r mod; do
    [ -n "$mod" ] || continue
    insmod "/lib/modules/$KC_KVER/$mod" 2>/dev/console || console "insmod $mod failed"
done </kclient/modules.list
event "MODULES $(uptime_s)"

# ---- network: the only peer is the forwarded server address ------------------
hostname "$KC_HOSTNAME"
ip link set lo up
n=0
until [ -e /sys/class/net/eth0 ] || [ $n -ge 100 ]; do sleep 0.05; n=$((n + 1)); done
ip addr add "$KC_GUEST_IP/24" dev eth0
ip link set eth0 up
event "NET $(uptime_s)"

# ---- mount ----------------------------------------------------------------------
mkdir -p "$KC_MNT"
t0=$(uptime_s)
if [ -x /sbin/mount.nfs ]; then
    /sbin/mount.nfs4 "$KC_SERVER_IP:$KC_EXPORT" "$KC_MNT" -o "$KC_OPTS" >/tmp/mount.out 2>&1
else
    # raw mount(2): the kernel needs addr= spelled out (mount.nfs adds it)
    mount -t nfs4 -o "$KC_OPTS,addr=$KC_SERVER_IP" "$KC_SERVER_IP:$KC_EXPORT" "$KC_MNT" >/tmp/mount.out 2>&1
fi
rc=$?
t1=$(uptime_s)
if [ $rc -ne 0 ]; then
    cat /tmp/mount.out >/dev/console
    event "MOUNTFAIL $rc $(tr '\n' ' ' </tmp/mount.out)"
    shutdown_guest mount
fi
event "MOUNTED $t0 $t1 $(awk -v m="$KC_MNT" '$2 == m { print $3, $4 }' /proc/mounts)"

# ---- the test script --------------------------------------------------------------
cd "$KC_MNT" || shutdown_guest mount
# exported for scripts: see lib.sh
export MNT="$KC_MNT" KC_VERS KC_OPTS KC_CONTROL KC_SERVER_IP KC_SERVER_PORT KC_HOST_PORT
[ -r /kclient/env ] && { set -a; . /kclient/env; set +a; }
event "START $(uptime_s)"
# stdout/stderr are a pipe into the result port.  A background job that the
# script leaves running keeps the pipe open, so we wait for it (until the host
# timeout): scripts must reap what they start.
(
    sh -e -c '. /kclient/lib.sh; . /kclient/script' kclient-script </dev/null 2>&1
    echo $? >/tmp/script.rc
) | cat >&3
src=$(cat /tmp/script.rc 2>/dev/null)
[ -n "$src" ] || src=255
event "DONE $src $(uptime_s)"
cd /

# ---- unmount -----------------------------------------------------------------------
# a process the script left behind (e.g. busybox timeout's watchdog, which
# lingers up to a second) may still have its cwd in the mount: retry a while
t0=$(uptime_s)
n=0
until umount "$KC_MNT" >/tmp/umount.out 2>&1; do
    n=$((n + 1))
    [ $n -lt 20 ] || break
    sleep 0.25
done
umount_tries=$n
grep -q " $KC_MNT " /proc/mounts && urc=1 || urc=0
[ $umount_tries -gt 0 ] && [ $urc = 0 ] && console "umount needed $umount_tries retries"
event "UMOUNTED $urc $t0 $(uptime_s) $(tr '\n' ' ' </tmp/umount.out)"
if [ "$src" = 0 ] && [ $urc -ne 0 ]; then
    shutdown_guest umount
fi
shutdown_guest "$src"
