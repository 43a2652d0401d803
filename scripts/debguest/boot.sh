#!/usr/bin/env bash
# boot.sh - boot the Debian bookworm guest root (build-rootfs.sh) under qemu
# TCG with the host's Debian kernel, run SCRIPT in it as root, return its
# status.
#
# For clients that need a whole distribution rather than kclient's busybox:
# dockerd and docker-compose mounting the server through Docker's NFS volume
# driver (test/e2e/compose.test.ts), a Python mount helper.  Unlike
# scripts/kclient/kclient.sh, the harness mounts nothing itself: the script
# does.
#
# Network, as in kclient: qemu user-net with restrict=on and one guestfwd
# 10.0.2.100:<guest port> -> relay (../kclient/relay.pl) -> 127.0.0.1:HOSTPORT,
# one relay per guest TCP connection; qemu itself runs in an empty network
# namespace (only 'lo') when the host allows it, and only the relay re-enters
# this namespace.  The guest has no default route and no DNS.
#
# Boot: a small busybox initramfs (cached) built from the host's kernel
# modules loads virtio/ext4/virtio_net/nfsv4 and the --module ones, mounts
# the root image (virtio disk, snapshot=on: the image never changes), copies
# this run's files onto it and switch_roots into guest-init.sh.
#
# Usage: boot.sh --port HOSTPORT --image ROOTFS.IMG [options] SCRIPT   (see --help)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROG=debguest
GUEST_IP=10.0.2.15
SERVER_IP=10.0.2.100 # the guest's name for the host-loopback server

usage() {
    cat <<EOF
Usage: $0 --port HOSTPORT --image FILE [options] SCRIPT

Boots the debguest Debian root image in qemu (TCG), runs SCRIPT in it as
root under 'bash -e' (cwd /root, helpers from guest-lib.sh), then unmounts
any NFS mounts left, powers off and exits with the script's status.
Other exit statuses: 111 nothing listens on 127.0.0.1:HOSTPORT; 124 timeout;
125 the guest died without reporting; 126 harness/qemu/boot error; 2 usage.

Options:
  --port N            host TCP port on 127.0.0.1 that the guest reaches as
                      $SERVER_IP:<guest port>                          [required]
  --guest-port N      guest-side port of that forward                    [2049]
  --fwd G:H           one more forward, $SERVER_IP:G -> 127.0.0.1:H (repeatable)
  --alias NAME        extra /etc/hosts name for $SERVER_IP in the guest, e.g.
                      fs-0123456789abcdef0.efs.us-east-1.amazonaws.com (repeatable)
  --put SRC:DST[:MODE] copy host file SRC to guest path DST (mode, default 0644)
                      before the script runs (repeatable)
  --env NAME=VALUE    export NAME=VALUE to the script (repeatable)
  --out DIR           receive the files the script leaves in \$EG_OUT into DIR
  --image FILE        root image, as build-rootfs.sh prints it        [required]
  --module NAME       one more kernel module (and what it depends on) from the
                      host kernel, loaded before the script (repeatable), e.g.
                      overlay, bridge, veth for dockerd
  --hostname NAME     guest hostname (CN of efs-utils' client cert)   [debguest]
  --timeout SEC       wall-clock limit for the whole run                  [600]
  --log FILE          write the guest kernel console log to FILE
  --mem MB            guest memory                                         [768]
  --smp N             guest CPUs                                             [1]
  --kernel FILE       kernel (default: newest /boot/vmlinuz-*)
  --modules DIR       its modules (default: /lib/modules/<version>)
  --append "ARGS"     extra kernel command line
  --no-precheck       don't check that 127.0.0.1:HOSTPORT accepts connections
  --no-netns          don't put qemu into an empty network namespace
  --cache DIR         cache dir for the initramfs and the extracted kernel
                      (default: \$LOCALEFS_DEBGUEST_CACHE or
                      \${XDG_CACHE_HOME:-\$HOME/.cache}/localefs-debguest)
  --rebuild           rebuild the cached initramfs
  --keep              keep the run dir (console log, raw channels)
  -v, --verbose       show the harness' own progress lines

Script output goes to stdout between '===== debguest: script output ...'
markers; the harness' own lines ('debguest: ...') go to stderr.  A script
must not print lines starting with '@@EG ' (control channel).
EOF
}

die() { echo "$PROG: $*" >&2; exit 126; }
info() { [ "$VERBOSE" = 1 ] && echo "$PROG: $*" >&2 || true; }

# ---------------------------------------------------------------- options --
PORT="" GPORT=2049 TIMEOUT=600 LOG="" GHOST=debguest MEM=768 SMP=1 KERNEL="" MODDIR=""
CACHE="" IMAGE="" OUTDIR="" APPEND="" PRECHECK=1 NETNS=auto REBUILD=0 KEEP=0 VERBOSE=0 SCRIPT=""
ALIASES=() PUTS=() ENVS=() FWDS=() XMODS=()
need() { [ $# -ge 2 ] || { echo "$PROG: $1 needs a value" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
    case "$1" in
    --port) need "$@"; PORT=$2; shift 2 ;;
    --guest-port) need "$@"; GPORT=$2; shift 2 ;;
    --fwd) need "$@"; FWDS+=("$2"); shift 2 ;;
    --alias) need "$@"; ALIASES+=("$2"); shift 2 ;;
    --put) need "$@"; PUTS+=("$2"); shift 2 ;;
    --env) need "$@"; ENVS+=("$2"); shift 2 ;;
    --out) need "$@"; OUTDIR=$2; shift 2 ;;
    --image) need "$@"; IMAGE=$2; shift 2 ;;
    --module) need "$@"; XMODS+=("$2"); shift 2 ;;
    --hostname) need "$@"; GHOST=$2; shift 2 ;;
    --timeout) need "$@"; TIMEOUT=$2; shift 2 ;;
    --log) need "$@"; LOG=$2; shift 2 ;;
    --mem) need "$@"; MEM=$2; shift 2 ;;
    --smp) need "$@"; SMP=$2; shift 2 ;;
    --kernel) need "$@"; KERNEL=$2; shift 2 ;;
    --modules) need "$@"; MODDIR=$2; shift 2 ;;
    --append) need "$@"; APPEND=$2; shift 2 ;;
    --no-precheck) PRECHECK=0; shift ;;
    --no-netns) NETNS=0; shift ;;
    --cache) need "$@"; CACHE=$2; shift 2 ;;
    --rebuild) REBUILD=1; shift ;;
    --keep) KEEP=1; shift ;;
    -v | --verbose) VERBOSE=1; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "$PROG: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) [ -z "$SCRIPT" ] || { echo "$PROG: only one SCRIPT" >&2; exit 2; }; SCRIPT=$1; shift ;;
    esac
done
isport() { [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]; }
[ -n "$PORT" ] && [ -n "$SCRIPT" ] && [ -n "$IMAGE" ] || { usage >&2; exit 2; }
isport "$PORT" || { echo "$PROG: bad --port $PORT" >&2; exit 2; }
isport "$GPORT" || { echo "$PROG: bad --guest-port $GPORT" >&2; exit 2; }
for f in "${FWDS[@]}"; do
    isport "${f%%:*}" && isport "${f#*:}" && [ "${f%%:*}" != "$f" ] || { echo "$PROG: bad --fwd $f (want GUESTPORT:HOSTPORT)" >&2; exit 2; }
done
[ -r "$SCRIPT" ] || { echo "$PROG: cannot read $SCRIPT" >&2; exit 2; }
for e in "${ENVS[@]}"; do [[ "$e" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || { echo "$PROG: bad --env $e" >&2; exit 2; }; done
for m in "${XMODS[@]}"; do [[ "$m" =~ ^[A-Za-z0-9_-]+$ ]] || { echo "$PROG: bad --module $m" >&2; exit 2; }; done
for a in "${ALIASES[@]}"; do [[ "$a" =~ ^[A-Za-z0-9.-]+$ ]] || { echo "$PROG: bad --alias $a" >&2; exit 2; }; done
[ "$(id -u)" = 0 ] || die "must run as root (network namespace; root-owned guest files)"

if [ "$PRECHECK" = 1 ]; then
    for p in "$PORT" ${FWDS[@]+"${FWDS[@]#*:}"}; do
        if ! timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" 2>/dev/null; then
            echo "$PROG: nothing accepts connections on 127.0.0.1:$p (start the server first, or --no-precheck)" >&2
            exit 111
        fi
    done
fi

# ------------------------------------------------------------ host tools --
QEMU=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
BUSYBOX=""
for b in /bin/busybox /usr/bin/busybox "$(command -v busybox || true)"; do
    [ -n "$b" ] && [ -x "$b" ] || continue
    if ! ldd "$b" >/dev/null 2>&1; then BUSYBOX=$b; break; fi # static only
done
[ -n "$BUSYBOX" ] || die "a static busybox is needed (apt-get install busybox-static)"
command -v cpio >/dev/null || die "cpio not found (apt-get install cpio)"
[ -r "$HERE/../kclient/relay.pl" ] || die "relay ../kclient/relay.pl not found next to $HERE"
command -v perl >/dev/null || die "perl not found"

[ -n "$CACHE" ] || CACHE=${LOCALEFS_DEBGUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/localefs-debguest}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
[ -r "$IMAGE" ] || die "no root image $IMAGE (build-rootfs.sh makes one)"
IMAGE=$(cd "$(dirname "$IMAGE")" && pwd)/$(basename "$IMAGE")

if [ -z "$KERNEL" ]; then
    KERNEL=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n1 || true)
    [ -n "$KERNEL" ] || die "no /boot/vmlinuz-*; install a Debian kernel (apt-get install linux-image-amd64) or pass --kernel"
fi
[ -r "$KERNEL" ] || die "cannot read kernel $KERNEL"
KVER=$(basename "$KERNEL"); KVER=${KVER#vmlinuz-}
[ -n "$MODDIR" ] || MODDIR=/lib/modules/$KVER
[ -r "$MODDIR/modules.dep" ] || die "no $MODDIR/modules.dep for kernel $KVER (pass --modules)"

# -------------------------------------------------------- initramfs build --
# Everything the guest needs before and after switch_root, loaded in stage 1:
# virtio PCI + disk + NIC, ext4 (+ crc32c for metadata_csum), the
# NFS v4 client.  Dependencies come from modules.dep, in topological order.
WANT_MODULES="virtio_pci virtio_blk virtio_net crc32c_generic ext4 nfsv4"
declare -A MDEP=() MSEEN=()
MORDER=()
load_moddep() {
    local key deps
    while IFS=: read -r key deps; do MDEP[$key]=$deps; done <"$MODDIR/modules.dep"
}
mod_path() { # module name -> path relative to MODDIR ("" if builtin/absent)
    local n=${1//-/_} k b
    for k in "${!MDEP[@]}"; do
        b=${k##*/}; b=${b%%.ko*}; b=${b//-/_}
        [ "$b" = "$n" ] && { echo "$k"; return 0; }
    done
    return 1
}
mod_visit() {
    local k=$1 d
    [ -n "${MSEEN[$k]:-}" ] && return 0
    MSEEN[$k]=1
    for d in ${MDEP[$k]}; do mod_visit "$d"; done
    MORDER+=("$k")
}
mkcpio() { # dir -> newc cpio on stdout, owned by root
    (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0)
}
visit_modules() { # names... -> appended to MORDER (with their dependencies)
    local n k
    for n in "$@"; do
        if k=$(mod_path "$n"); then
            mod_visit "$k"
        elif grep -q "/${n//_/[-_]}\.ko" "$MODDIR/modules.builtin" 2>/dev/null; then
            : # built into this kernel
        else
            die "module $n not found for $KVER"
        fi
    done
}
put_modules() { # dir list-file paths... -> copies under dir, names into list-file
    local dir=$1 list=$2 k
    shift 2
    : >"$list"
    for k in "$@"; do
        install -D -m 0644 "$MODDIR/$k" "$dir/lib/modules/$KVER/$k"
        echo "$k" >>"$list"
    done
}
load_moddep
visit_modules $WANT_MODULES
NBASE=${#MORDER[@]}
visit_modules ${XMODS[@]+"${XMODS[@]}"} # --module: the ones not in the base initramfs
build_base() {
    local out=$1 stage a
    stage=$(mktemp -d -t debguest-stage.XXXXXX)
    mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,newroot}
    install -m 0755 "$BUSYBOX" "$stage/bin/busybox"
    for a in $("$BUSYBOX" --list-full); do
        [ -e "$stage/$a" ] || ln -s /bin/busybox "$stage/$a"
    done
    put_modules "$stage" "$stage/debguest-modules.load" "${MORDER[@]:0:NBASE}"
    # /init: busybox switch_root insists that /init exists on the initramfs
    install -m 0755 "$HERE/stage1-init.sh" "$stage/init"
    mkcpio "$stage" >"$out.tmp.$$"
    mv -f "$out.tmp.$$" "$out"
    rm -rf "$stage"
}
key=$({
    echo "kver=$KVER mods=$WANT_MODULES"
    cat "$HERE/stage1-init.sh"
    stat -Lc '%n %s %Y' "$BUSYBOX"
    stat -Lc '%s %Y' "$MODDIR/modules.dep"
} | sha256sum | cut -c1-16)
BASE="$CACHE/initramfs-$KVER-$key.cpio"
T_BUILD0=$(date +%s.%N)
if [ "$REBUILD" = 1 ] || [ ! -s "$BASE" ]; then
    info "building initramfs $BASE"
    build_base "$BASE"
    BUILD_S=$(awk -v a="$T_BUILD0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
    find "$CACHE" -maxdepth 1 \( -name 'initramfs-*.cpio' -o -name 'vmlinux-*' \) -mtime +7 -delete 2>/dev/null || true
else
    BUILD_S=cached
    touch "$BASE"
fi

# The XZ bzImage costs ~3 s to decompress under TCG: boot an uncompressed ELF
# vmlinux through its PVH entry instead (extracted once, cached).
extract_vmlinux() {
    local k=$1 off magic cmd
    for magic in 'xz:\xfd\x37\x7a\x58\x5a\x00' 'zstd:\x28\xb5\x2f\xfd' 'gzip:\x1f\x8b\x08'; do
        off=$(LC_ALL=C grep -obUaP "${magic#*:}" "$k" 2>/dev/null | head -n1 | cut -d: -f1)
        [ -n "$off" ] || continue
        case "${magic%%:*}" in
        xz) cmd="xz -dc --single-stream" ;;
        zstd) cmd="zstd -dcq" ;;
        gzip) cmd="gzip -dc" ;;
        esac
        tail -c +$((off + 1)) "$k" | $cmd 2>/dev/null
        return 0
    done
    return 1
}
BOOTK=$KERNEL
if grep -q '^CONFIG_PVH=y' "/boot/config-$KVER" 2>/dev/null; then
    VMLINUX="$CACHE/vmlinux-$KVER-$(stat -Lc '%s-%Y' "$KERNEL")"
    if [ ! -s "$VMLINUX" ]; then
        info "extracting $VMLINUX"
        extract_vmlinux "$KERNEL" >"$VMLINUX.tmp.$$" || true
        if [ "$(head -c 4 "$VMLINUX.tmp.$$" 2>/dev/null | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
            mv -f "$VMLINUX.tmp.$$" "$VMLINUX"
        else
            rm -f "$VMLINUX.tmp.$$"
            info "could not extract an ELF vmlinux from $KERNEL; booting the bzImage"
        fi
    fi
    [ -s "$VMLINUX" ] && { BOOTK=$VMLINUX; touch "$VMLINUX"; }
fi

# ------------------------------------------------------------------ run dir --
RUN=$(mktemp -d -t debguest-run.XXXXXX)
QPID="" TPID="" LOG_IN_RUN=0
cleanup() {
    local rc=$?
    [ -n "$QPID" ] && kill "$QPID" 2>/dev/null || true
    [ -n "$TPID" ] && kill "$TPID" 2>/dev/null || true
    if [ -f "$RUN/fwd.pids" ]; then # relays record their own PIDs
        while read -r p; do kill "$p" 2>/dev/null || true; done <"$RUN/fwd.pids"
    fi
    if [ "$KEEP" = 1 ] || { [ "$rc" -ne 0 ] && [ "$LOG_IN_RUN" = 1 ]; }; then
        rm -f "$RUN/initrd.cpio" "$RUN/add.cpio" "$RUN"/overlay.*
        echo "$PROG: run dir kept: $RUN" >&2
    else
        rm -rf "$RUN"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

q() { printf "%q" "$1"; }
A=$RUN/add/debguest
mkdir -p "$A/put"
install -m 0644 "$SCRIPT" "$A/script"
install -m 0755 "$HERE/guest-init.sh" "$A/debguest-init"
install -m 0644 "$HERE/guest-lib.sh" "$A/lib.sh"
put_modules "$RUN/add" "$A/modules.load" ${MORDER[@]+"${MORDER[@]:NBASE}"}
: >"$A/put.list"
n=0
for p in "${PUTS[@]}"; do
    IFS=: read -r src dst mode <<<"$p"
    [ -n "$src" ] && [ -n "$dst" ] || { echo "$PROG: bad --put $p (want SRC:DST[:MODE])" >&2; exit 2; }
    [[ "$dst" == /* ]] || { echo "$PROG: --put $p: DST must be an absolute guest path" >&2; exit 2; }
    [ -r "$src" ] || { echo "$PROG: --put $p: cannot read $src" >&2; exit 2; }
    mode=${mode:-0644}
    [[ "$mode" =~ ^[0-7]{3,4}$ ]] || { echo "$PROG: --put $p: bad mode" >&2; exit 2; }
    cp "$src" "$A/put/$n"
    echo "$n $mode $dst" >>"$A/put.list"
    n=$((n + 1))
done
{
    echo "EG_KVER=$(q "$KVER")"
    echo "EG_HOSTNAME=$(q "$GHOST")"
    echo "EG_GUEST_IP=$GUEST_IP"
    echo "EG_SERVER_IP=$SERVER_IP"
    echo "EG_SERVER_PORT=$GPORT"
    echo "EG_HOST_PORT=$PORT"
    echo "EG_ALIASES=$(q "${ALIASES[*]}")"
    for e in "${ENVS[@]}"; do echo "export ${e%%=*}=$(q "${e#*=}")"; done
} >"$A/config"
mkcpio "$RUN/add" >"$RUN/add.cpio"
cat "$BASE" "$RUN/add.cpio" >"$RUN/initrd.cpio" # the kernel unpacks concatenated archives
[ -n "$LOG" ] || { LOG="$RUN/console.log"; LOG_IN_RUN=1; }
: >"$LOG"
: >"$RUN/result.log"
: >"$RUN/out.b64"

# ------------------------------------------------------------------ network --
NSENTER=""
if [ "$NETNS" != 0 ] && command -v unshare >/dev/null && command -v nsenter >/dev/null &&
    unshare -n true 2>/dev/null; then
    NSENTER="$(command -v nsenter) --net=/proc/$$/ns/net --"
elif [ "$NETNS" = auto ]; then
    info "network namespaces unavailable; relying on slirp restrict=on only"
fi
case "$RUN$HERE" in *[\'\ ,]*) die "paths must not contain quotes, spaces or commas: $RUN $HERE" ;; esac
case "$IMAGE" in *,*) die "image path must not contain commas: $IMAGE" ;; esac
relay() { # host port -> the -cmd: program for one guestfwd (',' doubled for qemu)
    local cmd perl
    perl=$(command -v perl)
    cmd="/bin/sh -c 'echo \$\$ >>$RUN/fwd.pids; exec $NSENTER $perl $HERE/../kclient/relay.pl $1 2>/dev/null'"
    echo "${cmd//,/,,}"
}
NETDEV="user,id=n0,restrict=on,ipv6=off,net=10.0.2.0/24,host=10.0.2.2,dns=10.0.2.3"
NETDEV+=",guestfwd=tcp:$SERVER_IP:$GPORT-cmd:$(relay "$PORT")"
for f in "${FWDS[@]}"; do NETDEV+=",guestfwd=tcp:$SERVER_IP:${f%%:*}-cmd:$(relay "${f#*:}")"; done

# shellcheck disable=SC2054 # commas belong to qemu's option syntax
QARGS=(
    -accel tcg -machine pc -cpu max -m "$MEM" -smp "$SMP"
    -nodefaults -no-user-config -display none -no-reboot -monitor none
    -kernel "$BOOTK" -initrd "$RUN/initrd.cpio"
    -append "console=ttyS0 rdinit=/init panic=-1 oops=panic loglevel=6 printk.time=1 mitigations=off cryptomgr.notests tsc=unstable i8042.noaux i8042.nokbd i8042.nopnp random.trust_cpu=on $APPEND"
    -serial "file:$LOG" -serial "file:$RUN/result.log" -serial "file:$RUN/out.b64"
    -drive "file=$IMAGE,if=none,id=d0,format=raw,snapshot=on,cache=unsafe"
    -device virtio-blk-pci,drive=d0
    -netdev "$NETDEV" -device virtio-net-pci,netdev=n0,romfile=
)
NSRUN=()
# libslirp builds the socket pair of each guestfwd command out of a TCP
# connection over the loopback of qemu's own namespace: 'lo' must be up there.
[ -n "$NSENTER" ] && NSRUN=(unshare -n -- /bin/sh -c "$BUSYBOX ip link set lo up && exec \"\$@\"" debguest-netns)

info "kernel $KVER, image $IMAGE, $SERVER_IP:$GPORT -> 127.0.0.1:$PORT${FWDS[*]:+ (+ ${FWDS[*]})}, netns=$([ -n "$NSENTER" ] && echo on || echo off)"
T0=$(date +%s.%N)
# snapshot=on puts qemu's overlay of the image into TMPDIR: keep it in the run dir
TMPDIR=$RUN timeout -k 5 "$TIMEOUT" "${NSRUN[@]}" "$QEMU" "${QARGS[@]}" </dev/null >"$RUN/qemu.out" 2>&1 &
QPID=$!

tail -s 0.2 --pid="$QPID" -n +1 -f "$RUN/result.log" 2>/dev/null | tr -d '\r' | awk '
    /^@@EG BEGIN/ { print "===== debguest: script output begin ====="; fflush(); next }
    /^@@EG END/   { print "===== debguest: script output end (exit " $3 ") ====="; fflush(); next }
    /^@@EG (FAIL|UMOUNTFAIL)/ { sub(/^@@EG /, "debguest: "); print > "/dev/stderr"; fflush(); next }
    /^@@EG /      { next }
    { print; fflush() }' &
TPID=$!

set +e
wait "$QPID"
QRC=$?
QPID=""
wait "$TPID"
TPID=""
set -e
T1=$(date +%s.%N)

# ------------------------------------------------------------------ summary --
R=$(tr -d '\r' <"$RUN/result.log")
eg() { printf '%s\n' "$R" | awk -v w="$1" '$1 == "@@EG" && $2 == w { $1 = ""; $2 = ""; sub(/^  /, ""); print; exit }'; }
EXITL=$(eg EXIT) BOOTED=$(eg BOOTED) MODS=$(eg MODULES) ROOTL=$(eg ROOT) NET=$(eg NET)
BEGIN=$(eg BEGIN) END=$(eg END) UM=$(eg UMOUNTED) OUTSENT=$(eg OUTSENT)
wall=$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.1f", b - a }')
f1() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print "?"; else printf "%.2f", b - a }'; }
E1=$(echo "$END" | awk '{ print $2 }')
U0=$(echo "$UM" | awk '{ print $2 }') U1=$(echo "$UM" | awk '{ print $3 }')
echo "$PROG: times (s): initramfs=$BUILD_S kernel+stage1=${BOOTED:-?} modules=$(f1 "$BOOTED" "$MODS") root=$(f1 "$MODS" "$ROOTL") switch+net=$(f1 "$ROOTL" "$NET") boot-to-script=${BEGIN:-?} script=$(f1 "$BEGIN" "$E1") umount=$(f1 "$U0" "$U1") wall=$wall" >&2

if [ -n "$OUTDIR" ] && [ -n "$OUTSENT" ]; then
    mkdir -p "$OUTDIR"
    if tr -d '\r' <"$RUN/out.b64" | base64 -d 2>/dev/null | tar -C "$OUTDIR" -xzf - 2>/dev/null; then
        echo "$PROG: guest files in $OUTDIR: $(cd "$OUTDIR" && find . -type f | sed 's|^\./||' | sort | tr '\n' ' ')" >&2
    else
        echo "$PROG: could not unpack the guest's \$EG_OUT files" >&2
    fi
fi
if [ -n "$BEGIN" ] && [ -z "$END" ]; then
    echo "===== debguest: script output end (no exit status: guest killed or crashed) ====="
fi
if [ "$QRC" = 124 ] || [ "$QRC" = 137 ]; then
    echo "$PROG: TIMEOUT after ${TIMEOUT}s (guest killed); console log: $LOG" >&2
    tail -n 15 "$LOG" | sed "s/^/$PROG: console: /" >&2
    exit 124
fi
if [ -z "$EXITL" ]; then
    echo "$PROG: guest ended without an exit status (qemu rc $QRC); console log: $LOG" >&2
    sed "s/^/$PROG: qemu: /" "$RUN/qemu.out" >&2
    tail -n 25 "$LOG" | sed "s/^/$PROG: console: /" >&2
    exit 125
fi
if [ -n "$UM" ] && [ "$(echo "$UM" | awk '{ print $1 }')" != 0 ]; then
    echo "$PROG: some NFS mounts failed to unmount after the script" >&2
fi
if [ "$EXITL" = 126 ]; then
    tail -n 25 "$LOG" | sed "s/^/$PROG: console: /" >&2
fi
exit "$EXITL"
