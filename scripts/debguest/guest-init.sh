#!/bin/bash
# debguest stage 2: PID 1 on the Debian root disk, installed per run as
# /debguest/debguest-init (stage1-init.sh switch_roots into it).  The file
# name is deliberate: amazon-efs-utils reads /proc/1/comm and treats "init"
# as upstart and "systemd" as systemd; anything else only makes it warn that
# it cannot start its watchdog.
# It sets up /run, the network (one NIC, 10.0.2.15/24, no default route),
# /etc/hosts and the --put files, runs the test script with bash -e, unmounts
# what is left, sends $EG_OUT back (tar+base64 on /dev/ttyS2) and powers off.
# Control lines on /dev/ttyS1 (fd 3 from stage 1): "@@EG <WORD> ...".
# Never `set -e` here: whatever happens, report and power off.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb LANG=C.UTF-8
umask 022
cd /

. /debguest/config
say() { echo "@@EG $*" >&3; }
up() { cut -d' ' -f1 /proc/uptime; }
finish() {
    say "EXIT $1"
    exec 3>&-
    sync
    busybox poweroff -f 2>/dev/null
    echo o >/proc/sysrq-trigger
    sleep 10
}
{ : >&3; } 2>/dev/null || exec 3>/dev/ttyS1

mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mkdir -p /run/lock /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620 devpts /dev/pts 2>/dev/null
mount -t tmpfs -o nosuid,nodev tmpfs /dev/shm 2>/dev/null
ln -sf /proc/self/mounts /etc/mtab 2>/dev/null

# --- network: one NIC, static address, on-link /24, NO default route ------
hostname "$EG_HOSTNAME"
echo "$EG_HOSTNAME" >/etc/hostname
{
    printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n' "$EG_HOSTNAME"
    printf '%s\tnfs-server %s\n' "$EG_SERVER_IP" "$EG_ALIASES"
} >/etc/hosts
ip link set lo up
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
ip addr add "$EG_GUEST_IP/24" dev eth0
ip link set eth0 up
say "NET $(up)"

# --- files from the host (--put) -------------------------------------------
if [ -s /debguest/put.list ]; then
    while read -r n mode dst; do
        mkdir -p "$(dirname "$dst")"
        install -m "$mode" "/debguest/put/$n" "$dst" || say "FAIL put $dst"
    done </debguest/put.list
fi

# --- the test script -----------------------------------------------------------
export EG_OUT=/debguest/out EG_SERVER_IP EG_SERVER_PORT EG_HOST_PORT EG_HOSTNAME EG_GUEST_IP
mkdir -p "$EG_OUT"
say "BEGIN $(up)"
# stdout/stderr are a pipe to the result channel.  A background job that
# outlives the script keeps that pipe open (the run then ends at --timeout);
# efs-utils' stunnel does not: its stdout is /dev/null, its stderr a pipe to
# mount.efs.
{
    cd /root && bash -e -c '. /debguest/lib.sh; . /debguest/script' debguest-script 2>&1 </dev/null
    echo $? >/debguest/rc
} | cat >&3
src=$(cat /debguest/rc 2>/dev/null || echo 125)
say "END $src $(up)"
cd /

# --- unmount NFS mounts the script left, so the server sees a clean end -----
t0=$(up)
urc=0
for m in $(awk '$3 ~ /^nfs/ { print $2 }' /proc/mounts | sort -r); do
    timeout 30 umount "$m" >/debguest/umount.out 2>&1 || { urc=1; say "UMOUNTFAIL $m $(tr '\n' ' ' </debguest/umount.out)"; }
done
say "UMOUNTED $urc $t0 $(up)"

# --- $EG_OUT back to the host: tar | base64 on the third serial port ---------
if [ -n "$(ls -A "$EG_OUT" 2>/dev/null)" ]; then
    stty -F /dev/ttyS2 raw -echo 2>/dev/null
    tar -C "$EG_OUT" -czf - . | base64 -w 76 >/dev/ttyS2
    say "OUTSENT $(up)"
fi
finish "$src"
