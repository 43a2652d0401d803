#!/usr/bin/env bash
# localefs kclient: drive the REAL Linux NFS client against a server that
# listens on this host's loopback.
#
# A Debian kernel boots under qemu (TCG) with a small busybox initramfs that
# is assembled from the host's own files and cached.  The guest mounts the
# server, runs a shell script in the mount, unmounts and powers off; this
# script streams the guest script's output to stdout while it runs and exits
# with the guest script's status (or one of the harness codes below).
#
# Network isolation: the guest NIC is qemu user-mode networking with
# restrict=on, so the guest reaches nothing except one guestfwd entry,
# $SERVER_IP:<port>.  Each guest connection to it starts relay.pl, which dials
# HOSTADDR:HOSTPORT only (HOSTADDR: --host-addr, a 127.0.0.0/8 address,
# 127.0.0.1 by default).  When the host allows it, qemu also runs in a fresh
# network namespace that holds nothing but `lo`; only the relay re-enters the
# namespace of this script.
#
# Layout: kclient.sh (this file), relay.pl, guest/init.sh (the guest's /init),
# guest/lib.sh (helpers for scripts), guest/kc-lock.pl (fcntl locker).
set -euo pipefail

SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TAG=kclient

# exit codes (also in usage())
RC_USAGE=90 RC_MISSING=91 RC_SETUP=92 RC_MOUNT=93 RC_UMOUNT=94
RC_TIMEOUT=95 RC_DIED=96 RC_INTR=97

EFS_OPTS="nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport"
GUEST_IP=10.0.2.15
SERVER_IP=10.0.2.100 # the server as the guest sees it
GUEST_MNT=/mnt/efs
GUEST_MODULES="virtio_pci virtio_net nfsv4"
INSTALL_HINT="apt-get install qemu-system-x86 linux-image-amd64 busybox-static nfs-common util-linux"

usage() {
    cat <<EOF
usage: kclient.sh --port HOSTPORT [options] SCRIPT|-

Boot a Linux kernel under qemu, mount the NFS server at HOSTADDR:HOSTPORT
(--host-addr, default 127.0.0.1) on $GUEST_MNT, run SCRIPT (a file, or - for
stdin) there with busybox 'sh -e' as root, unmount, power off.  The script's
output is streamed to stdout as the guest prints it, between the lines
  === kclient: script begin ===
  === kclient: script end (exit N) ===
The harness' own messages ('kclient: ...') go to stderr.

options:
  --port N          TCP port of the server on the host loopback       [required]
  --host-addr ADDR  loopback address the relay dials: any IPv4 address in
                    127.0.0.0/8, e.g. a localefs mount target's address;
                    nothing else is accepted                         [127.0.0.1]
  --vers V          NFS version 4.0 or 4.1, used unless --opts sets one    [4.1]
  --opts LIST       mount options, comma separated; the word 'efs' stands for
                    $EFS_OPTS
                    (port=N here sets the guest-side port, default 2049)
  --export PATH     server path to mount                                   [/]
  --timeout SEC     limit for the whole run, boot included                 [300]
  --log FILE        save the guest's kernel console there
  --keep            keep the run directory (console log, event log, initrd)
  --cache DIR       cache for the extracted vmlinux and the base initramfs
                    [\$LOCALEFS_KCLIENT_CACHE or \${XDG_CACHE_HOME:-\$HOME/.cache}/localefs-kclient]
  --env NAME=VALUE  export NAME=VALUE to the script (repeatable)
  --control FIFO    host->guest line channel: FIFO is created if missing; each
                    line written into it can be awaited in the guest with
                    'kc_wait_host LINE [SECONDS]'
  --hostname NAME   guest hostname (part of the NFS client owner)     [kclient]
  --mem MB          guest memory                                           [512]
  --accel A         tcg or kvm                                             [tcg]
  --kernel FILE     kernel image             [newest /boot/vmlinuz-*]
  --bzimage         boot the compressed image instead of the extracted vmlinux
  --append ARGS     more kernel command line (e.g. ignore_loglevel)
  --rebuild         rebuild the cached initramfs
  --no-precheck     don't check that the port accepts connections first
  --no-netns        don't put qemu into an empty network namespace
  -h, --help        this text

exit status:
   0       the script succeeded (and the unmount too)
   1..89   the script failed with this status (a script status >= 90 shows as 89)
  $RC_USAGE       usage error
  $RC_MISSING       a host prerequisite is missing: qemu, the kernel image or its
          modules, static busybox, perl  ($INSTALL_HINT)
  $RC_SETUP       setup error: building the initramfs, starting qemu, ...
  $RC_MOUNT       the mount failed, or nothing listens on HOSTADDR:HOSTPORT
  $RC_UMOUNT       the script succeeded but the umount failed
  $RC_TIMEOUT       timeout (--timeout); the guest was killed
  $RC_DIED       the guest died without reporting (kernel panic, qemu crash)
  $RC_INTR       interrupted (SIGINT/SIGTERM)

environment: LOCALEFS_KCLIENT_CACHE (cache dir), TMPDIR (run dirs),
KCLIENT_BUSYBOX_CPIO=1 (pack the initramfs with busybox cpio, not the host's).

guest environment: busybox, mount.nfs, util-linux flock and setpriv, perl with
kc-lock (fcntl byte-range locks); helpers from guest/lib.sh (kc_time,
kc_expect, kc_drop_caches, kc_wait_host, ...).  Lines starting with '@@GUEST '
are reserved for the harness.  A background job still running when the script
ends keeps the run going until --timeout.
EOF
}

say() { echo "$TAG: $*" >&2; }
bail() { # bail CODE MESSAGE...
    local rc=$1
    shift
    say "ERROR: $*"
    exit "$rc"
}
usage_error() {
    say "$*"
    echo "(see kclient.sh --help)" >&2
    exit $RC_USAGE
}
# quote a value for busybox sh: 'it'\''s'
shq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# ------------------------------------------------------------------- options --
PORT="" HOST_ADDR=127.0.0.1 VERS=4.1 OPTS="" EXPORT=/ TIMEOUT=300 LOG="" KEEP=0 CACHE=""
CONTROL="" GHOST=kclient MEM=512 ACCEL=tcg KERNEL="" BZIMAGE=0 APPEND=""
REBUILD=0 PRECHECK=1 NETNS=1 SCRIPT=""
ENVS=()

while [ $# -gt 0 ]; do
    opt=$1
    case "$opt" in
    --port | --host-addr | --vers | --opts | --export | --timeout | --log | --cache | --env | \
        --control | --hostname | --mem | --accel | --kernel | --append)
        [ $# -ge 2 ] || usage_error "$opt needs a value"
        val=$2
        shift 2
        case "$opt" in
        --port) PORT=$val ;;
        --host-addr) HOST_ADDR=$val ;;
        --vers) VERS=$val ;;
        --opts) OPTS=$val ;;
        --export) EXPORT=$val ;;
        --timeout) TIMEOUT=$val ;;
        --log) LOG=$val ;;
        --cache) CACHE=$val ;;
        --env) ENVS+=("$val") ;;
        --control) CONTROL=$val ;;
        --hostname) GHOST=$val ;;
        --mem) MEM=$val ;;
        --accel) ACCEL=$val ;;
        --kernel) KERNEL=$val ;;
        --append) APPEND=$val ;;
        esac
        ;;
    --keep) KEEP=1; shift ;;
    --bzimage) BZIMAGE=1; shift ;;
    --rebuild) REBUILD=1; shift ;;
    --no-precheck) PRECHECK=0; shift ;;
    --no-netns) NETNS=0; shift ;;
    -h | --help) usage; exit 0 ;;
    -) SCRIPT=-; shift ;;
    -*) usage_error "unknown option $opt" ;;
    *)
        [ -z "$SCRIPT" ] || usage_error "only one SCRIPT please ($SCRIPT, $opt)"
        SCRIPT=$opt
        shift
        ;;
    esac
done

is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }
[ -n "$PORT" ] || usage_error "--port is required"
is_uint "$PORT" && [ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] || usage_error "bad --port '$PORT'"
# --host-addr: a dotted-quad IPv4 address in 127.0.0.0/8, nothing else (the
# guest must reach only a loopback port of this host).  relay.pl checks again.
is_loopback4() {
    local IFS=. o
    [[ "$1" =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || return 1
    for o in $1; do
        [[ "$o" =~ ^(0|[1-9][0-9]*)$ ]] && [ "$o" -le 255 ] || return 1
    done
}
is_loopback4 "$HOST_ADDR" || usage_error "--host-addr must be an IPv4 address in 127.0.0.0/8 (e.g. 127.0.0.6), got '$HOST_ADDR'"
case "$VERS" in 4.0 | 4.1 | 4.2) ;; *) usage_error "--vers must be 4.0 or 4.1 (or 4.2)" ;; esac
is_uint "$TIMEOUT" && [ "$TIMEOUT" -gt 0 ] || usage_error "bad --timeout '$TIMEOUT'"
is_uint "$MEM" && [ "$MEM" -ge 128 ] || usage_error "bad --mem '$MEM'"
case "$ACCEL" in tcg | kvm) ;; *) usage_error "--accel must be tcg or kvm" ;; esac
case "$EXPORT" in /*) ;; *) usage_error "--export must start with /" ;; esac
[[ "$GHOST" =~ ^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$ ]] || usage_error "bad --hostname '$GHOST'"
[ -n "$SCRIPT" ] || usage_error "no SCRIPT given"
[ "$SCRIPT" = - ] || [ -r "$SCRIPT" ] || usage_error "cannot read script '$SCRIPT'"
for e in "${ENVS[@]}"; do
    [[ "$e" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || usage_error "--env wants NAME=VALUE, got '$e'"
done

# ------------------------------------------------------------ mount options --
# 'efs' expands; the version comes from --vers unless the list names one;
# clientaddr=127.0.0.1 is forced: an NFSv4.0 server dials the callback address
# it is given, and from the host only loopback must ever be dialled.
MOPTS=()
IFS=, read -r -a _words <<<"$OPTS"
for w in "${_words[@]}"; do
    case "$w" in
    "") ;;
    efs) IFS=, read -r -a _efs <<<"$EFS_OPTS"; MOPTS+=("${_efs[@]}") ;;
    *) MOPTS+=("$w") ;;
    esac
done
GPORT=2049
HAVE_VERS=0
for w in "${MOPTS[@]}"; do
    case "$w" in
    vers=* | nfsvers=* | minorversion=*) HAVE_VERS=1 ;;
    port=*) GPORT=${w#port=} ;;
    clientaddr=127.*) ;;
    clientaddr=*) usage_error "only a loopback clientaddr (127.x.x.x) is allowed, got $w" ;;
    esac
done
[ $HAVE_VERS = 1 ] || MOPTS=("vers=$VERS" "${MOPTS[@]}")
printf '%s\n' "${MOPTS[@]}" | grep -q '^clientaddr=' || MOPTS+=("clientaddr=127.0.0.1")
is_uint "$GPORT" && [ "$GPORT" -ge 1 ] && [ "$GPORT" -le 65535 ] ||
    usage_error "port= in --opts must be 1..65535 (rpcbind lookups are not supported)"
MOUNT_OPTS=$(IFS=,; echo "${MOPTS[*]}")
case "$MOUNT_OPTS" in *[\'\"\ ]*) usage_error "mount options must not contain quotes or spaces" ;; esac

# ------------------------------------------------------ host prerequisites --
QEMU=$(command -v qemu-system-x86_64 || true)
[ -n "$QEMU" ] || bail $RC_MISSING "qemu-system-x86_64 not found; install it: $INSTALL_HINT"
"$QEMU" --version >/dev/null 2>&1 || bail $RC_MISSING "$QEMU does not run (broken install?); reinstall it: $INSTALL_HINT"

if [ -z "$KERNEL" ]; then
    KERNEL=$(find /boot -maxdepth 1 -name 'vmlinuz-*' 2>/dev/null | sort -V | tail -n 1)
    [ -n "$KERNEL" ] || bail $RC_MISSING "no kernel image /boot/vmlinuz-*; install one: $INSTALL_HINT"
fi
[ -f "$KERNEL" ] || bail $RC_MISSING "kernel image $KERNEL does not exist; $INSTALL_HINT"
[ -r "$KERNEL" ] || bail $RC_MISSING "kernel image $KERNEL is not readable by $(id -un) (run as root or chmod it)"
KVER=$(basename "$KERNEL")
KVER=${KVER#vmlinuz-}
MODDIR=/lib/modules/$KVER
[ -r "$MODDIR/modules.dep" ] ||
    bail $RC_MISSING "no kernel modules for $KVER ($MODDIR/modules.dep); install the matching linux-image package"

BUSYBOX=""
for cand in /bin/busybox /usr/bin/busybox /usr/lib/initramfs-tools/bin/busybox; do
    [ -x "$cand" ] || continue
    # must be static: the initramfs carries no libc for it
    if ! ldd "$cand" >/dev/null 2>&1; then BUSYBOX=$cand; break; fi
done
[ -n "$BUSYBOX" ] || bail $RC_MISSING "no static busybox (/bin/busybox); install busybox-static: $INSTALL_HINT"

PERL=$(command -v perl || true)
[ -n "$PERL" ] || bail $RC_MISSING "perl not found (the relay needs perl-base)"
command -v timeout >/dev/null || bail $RC_MISSING "timeout (coreutils) not found"

MOUNT_NFS=""
for cand in /sbin/mount.nfs /usr/sbin/mount.nfs; do
    [ -x "$cand" ] && { MOUNT_NFS=$cand; break; }
done
[ -n "$MOUNT_NFS" ] || say "warning: no mount.nfs (nfs-common); the guest will use busybox mount"
FLOCK=$(command -v flock || true)
SETPRIV=$(command -v setpriv || true)
[ -n "$FLOCK" ] || say "warning: no util-linux flock on the host; the guest will have none"
[ -n "$SETPRIV" ] || say "warning: no util-linux setpriv on the host; the guest will have none"
for f in "$SELF_DIR/relay.pl" "$SELF_DIR/guest/init.sh" "$SELF_DIR/guest/lib.sh" "$SELF_DIR/guest/kc-lock.pl"; do
    [ -r "$f" ] || bail $RC_SETUP "harness file $f is missing"
done
case "$SELF_DIR" in *[\'\"\ ,]*) bail $RC_SETUP "the harness path must not contain quotes, spaces or commas: $SELF_DIR" ;; esac

# ---------------------------------------------------------- server precheck --
# Without a listener, mount.nfs retries for minutes; tell the user right away.
if [ $PRECHECK = 1 ] && ! (exec 9<>"/dev/tcp/$HOST_ADDR/$PORT") 2>/dev/null; then
    bail $RC_MOUNT "nothing accepts connections on $HOST_ADDR:$PORT (start the server first$([ "$HOST_ADDR" = 127.0.0.1 ] || echo ", or create the mount target at $HOST_ADDR"))"
fi

# -------------------------------------------------------------------- cache --
[ -n "$CACHE" ] || CACHE=${LOCALEFS_KCLIENT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/localefs-kclient}
mkdir -p "$CACHE" || bail $RC_SETUP "cannot create cache dir $CACHE"

elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }

# The Debian image is a bzImage with an XZ payload; unpacking it inside the
# guest takes ~3 s of TCG time per boot.  Unpack it once here and boot the
# ELF vmlinux through its PVH entry point instead (needs CONFIG_PVH=y).
unpack_vmlinux() { # unpack_vmlinux BZIMAGE OUT
    local img=$1 out=$2 kind sig off
    for kind in xz zstd gzip; do
        case $kind in
        xz) sig='\xFD7zXZ\x00' ;;
        zstd) sig='\x28\xB5\x2F\xFD' ;;
        gzip) sig='\x1F\x8B\x08\x00' ;;
        esac
        command -v "$kind" >/dev/null || continue
        off=$(LC_ALL=C grep -obUaP "$sig" "$img" 2>/dev/null | head -n 1 | cut -d: -f1)
        [ -n "$off" ] || continue
        case $kind in
        xz) tail -c "+$((off + 1))" "$img" | xz -dc --single-stream >"$out" 2>/dev/null || true ;;
        zstd) tail -c "+$((off + 1))" "$img" | zstd -dcq >"$out" 2>/dev/null || true ;;
        gzip) tail -c "+$((off + 1))" "$img" | gzip -dc >"$out" 2>/dev/null || true ;;
        esac
        [ "$(head -c 4 "$out" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] && return 0
    done
    return 1
}

BOOT_IMAGE=$KERNEL
T_CACHE=$(date +%s.%N)
if [ $BZIMAGE = 0 ] && grep -qs '^CONFIG_PVH=y' "/boot/config-$KVER"; then
    VMLINUX="$CACHE/vmlinux-$KVER-$(stat -Lc '%s.%Y' "$KERNEL")"
    if [ ! -s "$VMLINUX" ]; then
        say "extracting the uncompressed kernel to $VMLINUX (once per kernel)"
        if unpack_vmlinux "$KERNEL" "$VMLINUX.part.$$"; then
            mv -f "$VMLINUX.part.$$" "$VMLINUX"
        else
            rm -f "$VMLINUX.part.$$"
            say "warning: could not unpack $KERNEL (need xz); booting the bzImage (~3 s slower)"
        fi
    fi
    [ -s "$VMLINUX" ] && BOOT_IMAGE=$VMLINUX
fi

# modules.dep: "path: dep dep ...".  Put the wanted modules and everything they
# depend on into load order (dependencies first).
declare -A DEPS=() BYNAME=() PLACED=()
LOAD_ORDER=()
while IFS=: read -r path deps; do
    DEPS[$path]=$deps
    name=${path##*/}
    name=${name%%.ko*}
    BYNAME[${name//-/_}]=$path
done <"$MODDIR/modules.dep"
place_module() {
    local path=$1 dep
    [ -z "${PLACED[$path]:-}" ] || return 0
    PLACED[$path]=1
    for dep in ${DEPS[$path]}; do place_module "$dep"; done
    LOAD_ORDER+=("$path")
}
for m in $GUEST_MODULES; do
    if [ -n "${BYNAME[$m]:-}" ]; then
        place_module "${BYNAME[$m]}"
    elif grep -qs "/$m\.ko" "$MODDIR/modules.builtin"; then
        : # compiled into this kernel
    else
        bail $RC_MISSING "kernel module $m not found under $MODDIR"
    fi
done
for path in "${LOAD_ORDER[@]}"; do
    case "$path" in *.ko) ;; *) bail $RC_SETUP "compressed module $path: busybox insmod needs plain .ko files" ;; esac
done

# copy a host binary and the shared libraries it needs into the stage
stage_binary() { # stage_binary STAGE HOSTPATH GUESTPATH
    local stage=$1 src=$2 dst=$3 lib
    rm -f "$stage/bin/${dst##*/}" "$stage/sbin/${dst##*/}" "$stage/usr/bin/${dst##*/}" "$stage/usr/sbin/${dst##*/}"
    install -D -m 0755 "$src" "$stage$dst"
    for lib in $(ldd "$src" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
        [ -e "$stage$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$stage$lib"
    done
}

HOST_CPIO=$(command -v cpio || true)
[ -n "$HOST_CPIO" ] && [ -x "$HOST_CPIO" ] && [ "${KCLIENT_BUSYBOX_CPIO:-0}" != 1 ] || HOST_CPIO=""
write_cpio() { # write_cpio DIR > archive   (newc, everything owned by root)
    if [ -n "$HOST_CPIO" ]; then
        (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | "$HOST_CPIO" --quiet -o -H newc -R 0:0)
    else
        (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | "$BUSYBOX" cpio -o -H newc 2>/dev/null)
    fi
}

build_initramfs() { # build_initramfs OUT
    local out=$1 stage applet path
    stage=$(mktemp -d "${TMPDIR:-/tmp}/kclient-stage.XXXXXX")
    mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,mnt,kclient}
    install -m 0755 "$BUSYBOX" "$stage/bin/busybox"
    for applet in $("$BUSYBOX" --list-full); do
        [ -e "$stage/$applet" ] || ln -s /bin/busybox "$stage/$applet"
    done
    : >"$stage/kclient/modules.list"
    for path in "${LOAD_ORDER[@]}"; do
        install -D -m 0644 "$MODDIR/$path" "$stage/lib/modules/$KVER/$path"
        echo "$path" >>"$stage/kclient/modules.list"
    done
    if [ -n "$MOUNT_NFS" ]; then
        stage_binary "$stage" "$MOUNT_NFS" /sbin/mount.nfs
        ln -s mount.nfs "$stage/sbin/mount.nfs4"
        [ -r /etc/netconfig ] && install -m 0644 /etc/netconfig "$stage/etc/netconfig"
    fi
    [ -n "$FLOCK" ] && stage_binary "$stage" "$FLOCK" /usr/bin/flock
    [ -n "$SETPRIV" ] && stage_binary "$stage" "$SETPRIV" /usr/bin/setpriv
    stage_binary "$stage" "$PERL" /usr/bin/perl
    install -m 0755 "$SELF_DIR/guest/kc-lock.pl" "$stage/usr/bin/kc-lock"
    install -m 0755 "$SELF_DIR/guest/init.sh" "$stage/init"
    install -m 0644 "$SELF_DIR/guest/lib.sh" "$stage/kclient/lib.sh"
    cat >"$stage/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
tester:x:1001:1001:unprivileged test user:/tmp:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
    printf 'root:x:0:\ntester:x:1001:\nnogroup:x:65534:\n' >"$stage/etc/group"
    printf '/bin/sh\n/bin/ash\n' >"$stage/etc/shells"
    printf 'passwd: files\ngroup: files\nhosts: files\n' >"$stage/etc/nsswitch.conf"
    printf '127.0.0.1 localhost\n%s nfs-server\n' "$SERVER_IP" >"$stage/etc/hosts"
    write_cpio "$stage" >"$out.part.$$" || { rm -rf "$stage"; return 1; }
    mv -f "$out.part.$$" "$out"
    rm -rf "$stage"
}

# the cache key covers everything that goes into the image
KEY=$({
    echo "$KVER ${LOAD_ORDER[*]}"
    cat "$SELF_DIR/kclient.sh" "$SELF_DIR/guest/init.sh" "$SELF_DIR/guest/lib.sh" "$SELF_DIR/guest/kc-lock.pl"
    for f in "$BUSYBOX" "$MOUNT_NFS" "$FLOCK" "$SETPRIV" "$PERL" "$MODDIR/modules.dep"; do
        [ -n "$f" ] && stat -Lc '%n %s %Y' "$f"
    done
} | sha256sum | cut -c1-16)
INITRAMFS="$CACHE/initramfs-$KVER-$KEY.cpio"
if [ $REBUILD = 1 ] || [ ! -s "$INITRAMFS" ]; then
    say "building the guest initramfs $INITRAMFS"
    build_initramfs "$INITRAMFS" || bail $RC_SETUP "building the initramfs failed"
    # images of other keys pile up with each harness change: drop those not
    # used for two days (every run touches the image it boots)
    find "$CACHE" -maxdepth 1 -name 'initramfs-*.cpio' -mtime +1 -delete 2>/dev/null || true
    find "$CACHE" -maxdepth 1 -name 'vmlinux-*' -mtime +30 -delete 2>/dev/null || true
else
    touch "$INITRAMFS"
fi
CACHE_S=$(elapsed "$T_CACHE")

# ------------------------------------------------------------------ run dir --
RUN=$(mktemp -d "${TMPDIR:-/tmp}/kclient-run.XXXXXX")
case "$RUN" in *[\'\"\ ,]*) bail $RC_SETUP "run dir path must not contain quotes, spaces or commas: $RUN" ;; esac
QEMU_PID="" TAIL_PID="" FAILED=1
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null
    [ -n "$TAIL_PID" ] && kill "$TAIL_PID" 2>/dev/null
    if [ -s "$RUN/relay.pids" ]; then # one relay per guest connection
        while read -r p; do kill "$p" 2>/dev/null || true; done <"$RUN/relay.pids"
    fi
    if [ $KEEP = 1 ] || [ $FAILED = 1 ]; then
        [ $KEEP = 1 ] || rm -f "$RUN/initrd.cpio" "$RUN/extra.cpio"
        say "run dir kept: $RUN"
    else
        rm -rf "$RUN"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit $RC_INTR' INT TERM

mkdir -p "$RUN/extra/kclient"
if [ "$SCRIPT" = - ]; then cat >"$RUN/extra/kclient/script"; else cp "$SCRIPT" "$RUN/extra/kclient/script"; fi
{
    echo "KC_KVER=$(shq "$KVER")"
    echo "KC_VERS=$(shq "$VERS")"
    echo "KC_OPTS=$(shq "$MOUNT_OPTS")"
    echo "KC_EXPORT=$(shq "$EXPORT")"
    echo "KC_MNT=$(shq "$GUEST_MNT")"
    echo "KC_HOSTNAME=$(shq "$GHOST")"
    echo "KC_GUEST_IP=$GUEST_IP"
    echo "KC_SERVER_IP=$SERVER_IP"
    echo "KC_SERVER_PORT=$GPORT"
    echo "KC_HOST_PORT=$PORT"
    echo "KC_HOST_ADDR=$HOST_ADDR"
    echo "KC_CONTROL=$([ -n "$CONTROL" ] && echo 1 || echo 0)"
} >"$RUN/extra/kclient/config"
: >"$RUN/extra/kclient/env"
for e in "${ENVS[@]}"; do
    echo "${e%%=*}=$(shq "${e#*=}")" >>"$RUN/extra/kclient/env"
done
write_cpio "$RUN/extra" >"$RUN/extra.cpio" || bail $RC_SETUP "cannot write the per-run cpio"
# the kernel unpacks concatenated newc archives one after the other
cat "$INITRAMFS" "$RUN/extra.cpio" >"$RUN/initrd.cpio"

CONSOLE_LOG=${LOG:-$RUN/console.log}
: >"$CONSOLE_LOG" || bail $RC_SETUP "cannot write $CONSOLE_LOG"
EVENTS=$RUN/guest.out
: >"$EVENTS"

SERIAL_CTL=()
if [ -n "$CONTROL" ]; then
    [ -p "$CONTROL" ] || { [ ! -e "$CONTROL" ] && mkfifo "$CONTROL"; } ||
        bail $RC_SETUP "--control $CONTROL exists and is not a FIFO"
    # qemu's pipe backend opens <path>.in for reading and <path>.out for writing
    ln -s "$(readlink -f "$CONTROL")" "$RUN/ctl.in"
    mkfifo "$RUN/ctl.out"
    SERIAL_CTL=(-serial "pipe:$RUN/ctl")
fi

# ------------------------------------------------------------------ network --
NETNS_RUN=() RELAY_NS=""
if [ $NETNS = 1 ] && command -v unshare >/dev/null && command -v nsenter >/dev/null &&
    unshare -n true 2>/dev/null; then
    RELAY_NS="$(command -v nsenter) --net=/proc/$$/ns/net --"
    # slirp makes the socket pair for each -cmd: relay through the loopback of
    # qemu's own namespace: bring lo up there first
    NETNS_RUN=(unshare -n -- "$BUSYBOX" sh -c "$BUSYBOX ip link set lo up && exec \"\$@\"" kclient-netns)
elif [ $NETNS = 1 ]; then
    say "note: cannot create a network namespace here; isolation relies on restrict=on alone"
fi
# slirp runs this with /bin/sh -c for every guest connection to the forward
RELAY_CMD="/bin/sh -c 'echo \$\$ >>$RUN/relay.pids; exec $RELAY_NS $PERL $SELF_DIR/relay.pl $PORT $HOST_ADDR 2>/dev/null'"
NETDEV="user,id=net0,restrict=on,ipv6=off,net=10.0.2.0/24,host=10.0.2.2,dns=10.0.2.3"
NETDEV+=",guestfwd=tcp:$SERVER_IP:$GPORT-cmd:${RELAY_CMD//,/,,}" # ',' is written ',,' in qemu options

case "$ACCEL" in
tcg) ACCEL_ARGS=(-accel tcg -cpu max) ;;
kvm) ACCEL_ARGS=(-accel kvm -cpu host) ;;
esac
KCMDLINE="console=ttyS0 rdinit=/init panic=-1 oops=panic loglevel=6 printk.time=1"
KCMDLINE+=" mitigations=off cryptomgr.notests tsc=unstable i8042.noaux i8042.nokbd i8042.nopnp"
[ -n "$APPEND" ] && KCMDLINE+=" $APPEND"

QEMU_ARGS=(
    "${ACCEL_ARGS[@]}" -machine pc -m "$MEM" -smp 1
    -nodefaults -no-user-config -display none -no-reboot -monitor none
    -kernel "$BOOT_IMAGE" -initrd "$RUN/initrd.cpio" -append "$KCMDLINE"
    -serial "file:$CONSOLE_LOG" -serial "file:$EVENTS" "${SERIAL_CTL[@]}"
    -netdev "$NETDEV" -device virtio-net-pci,netdev=net0,romfile=
)

say "kernel $KVER ($([ "$BOOT_IMAGE" = "$KERNEL" ] && echo bzImage || echo vmlinux/PVH)), mount -o $MOUNT_OPTS"
say "guest $SERVER_IP:$GPORT -> $HOST_ADDR:$PORT, netns $([ -n "$RELAY_NS" ] && echo on || echo off), timeout ${TIMEOUT}s"

# ---------------------------------------------------------------------- run --
T_START=$(date +%s.%N)
timeout -k 5 "$TIMEOUT" "${NETNS_RUN[@]}" "$QEMU" "${QEMU_ARGS[@]}" </dev/null >"$RUN/qemu.out" 2>&1 &
QEMU_PID=$!

# Stream the result port as it grows: script lines as they are, harness events
# turned into the begin/end banners (the rest is read after the run).  This is
# a bash loop on purpose: mawk (Debian's awk) reads a pipe in big blocks and
# would hold lines back until the guest has written several KiB.
relay_output() {
    local line
    while IFS= read -r line || [ -n "$line" ]; do
        line=${line%$'\r'}
        case "$line" in
        "@@GUEST START "*) echo "=== kclient: script begin ===" ;;
        "@@GUEST DONE "*)
            line=${line#@@GUEST DONE }
            echo "=== kclient: script end (exit ${line%% *}) ==="
            ;;
        "@@GUEST "*) ;;
        *) printf '%s\n' "$line" ;;
        esac
    done
}
tail -n +1 -s 0.1 -f --pid="$QEMU_PID" "$EVENTS" 2>/dev/null | relay_output &
TAIL_PID=$!

set +e
wait "$QEMU_PID"
QEMU_RC=$?
QEMU_PID=""
wait "$TAIL_PID"
TAIL_PID=""
set -e
WALL=$(elapsed "$T_START")

# ------------------------------------------------------------------ results --
# event WORD -> the rest of the first "@@GUEST WORD ..." line
# awk reads the file itself: with a pipe, its early exit could kill the writer with SIGPIPE (exit 141 under pipefail)
event() { awk -v w="$1" '{ sub(/\r$/, "") } $1 == "@@GUEST" && $2 == w { $1 = $2 = ""; sub(/^ +/, ""); print; exit }' "$EVENTS"; }
field() { echo "$1" | awk -v i="$2" '{ print $i }'; }
span() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print "?"; else printf "%.2f", b - a }'; }
E_BOOT=$(event BOOT) E_MOD=$(event MODULES) E_NET=$(event NET) E_MOUNTED=$(event MOUNTED)
E_MFAIL=$(event MOUNTFAIL) E_START=$(event START) E_DONE=$(event DONE) E_UMOUNT=$(event UMOUNTED)
E_EXIT=$(event EXIT)

say "timing (s): cache=$CACHE_S boot=${E_BOOT:-?} modules=$(span "$E_BOOT" "$E_MOD")" \
    "net=$(span "$E_MOD" "$E_NET") mount=$(span "$(field "$E_MOUNTED" 1)" "$(field "$E_MOUNTED" 2)")" \
    "script=$(span "$E_START" "$(field "$E_DONE" 2)") umount=$(span "$(field "$E_UMOUNT" 2)" "$(field "$E_UMOUNT" 3)")" \
    "wall=$WALL"
[ -n "$E_MOUNTED" ] && say "mounted: $(echo "$E_MOUNTED" | cut -d' ' -f3-)"

console_tail() { tail -n "$1" "$CONSOLE_LOG" | sed "s/^/$TAG: console: /" >&2; }

if [ "$QEMU_RC" = 124 ] || [ "$QEMU_RC" = 137 ]; then
    [ -n "$E_START" ] && [ -z "$E_DONE" ] && echo "=== kclient: script end (killed by timeout) ==="
    say "TIMEOUT: the run took longer than ${TIMEOUT}s; guest killed (console log: $CONSOLE_LOG)"
    console_tail 20
    exit $RC_TIMEOUT
fi
case "$E_EXIT" in
"")
    [ -n "$E_START" ] && [ -z "$E_DONE" ] && echo "=== kclient: script end (guest died) ==="
    if [ -z "$E_BOOT" ] && [ "$QEMU_RC" != 0 ]; then
        say "qemu failed to start (status $QEMU_RC):"
        sed "s/^/$TAG: qemu: /" "$RUN/qemu.out" >&2
        exit $RC_SETUP
    fi
    say "GUEST DIED without reporting an exit status (qemu status $QEMU_RC; console log: $CONSOLE_LOG)"
    sed "s/^/$TAG: qemu: /" "$RUN/qemu.out" >&2
    console_tail 30
    exit $RC_DIED
    ;;
mount)
    say "MOUNT FAILED: ${E_MFAIL:-?}"
    console_tail 15
    exit $RC_MOUNT
    ;;
umount)
    say "UMOUNT FAILED after a successful script: $(echo "$E_UMOUNT" | cut -d' ' -f4-)"
    console_tail 15
    exit $RC_UMOUNT
    ;;
esac
[ "$(field "$E_UMOUNT" 1)" = 0 ] || say "note: umount failed too: $(echo "$E_UMOUNT" | cut -d' ' -f4-)"
is_uint "$E_EXIT" || { say "garbled exit status '$E_EXIT'"; exit $RC_DIED; }
[ "$E_EXIT" = 0 ] && FAILED=0
[ "$E_EXIT" -ge 90 ] && E_EXIT=89
exit "$E_EXIT"
