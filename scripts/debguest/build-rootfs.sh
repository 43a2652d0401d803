#!/usr/bin/env bash
# build-rootfs.sh - build (or find in the cache) the Debian bookworm root disk
# image that boot.sh boots, and print its path on stdout.
#
#   build-rootfs.sh [--cache DIR] [--packages PKG,...] [--mirror URL] [--rebuild]
#
# The image is cached as DIR/root-<key>/rootfs.img, where <key> hashes this
# script, the suite and the package list: the same inputs give the same path,
# and a second call returns at once.  Steps when it is not there yet (as root):
#   1. debootstrap --variant=minbase bookworm into DIR/root-<key>/root with
#      the base tools (util-linux, procps, iproute2, kmod, busybox) and
#      --packages (e.g. docker.io,docker-compose).  A policy-rc.d keeps the
#      packages' init scripts from starting daemons in the chroot.  The .debs
#      are kept in DIR/debs for the next build.
#   2. Light configuration for a guest with no init system and no network
#      except one forwarded TCP port (hostname, hosts, empty resolv.conf,
#      apt caches dropped); the installed versions go to packages.txt.
#   3. Pack the tree into rootfs.img (raw ext4 made with mkfs.ext4 -d: no
#      loop mount), with 30 % + 512 MiB free for what the guest writes (boot.sh
#      attaches it snapshot=on: the image never changes at run time), and
#      remove the tree.
# Default DIR: ${LOCALEFS_DEBGUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/localefs-debguest}.
# The Debian mirror defaults to the first non-security Debian URI in this
# host's apt sources.  Progress goes to stderr.
set -euo pipefail
PROG=debguest-build
SUITE=bookworm
BASE_PKGS="util-linux,procps,iproute2,kmod,netbase,busybox"

CACHE="" MIRROR="" PKGS="" REBUILD=0
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
die() { echo "$PROG: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
    case "$1" in
    --cache) CACHE=$2; shift 2 ;;
    --mirror) MIRROR=$2; shift 2 ;;
    --packages) PKGS=$2; shift 2 ;;
    --rebuild) REBUILD=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "$PROG: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done
[[ "$PKGS" =~ ^[a-z0-9.+,-]*$ ]] || die "bad --packages $PKGS"
[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot, root-owned files)"
[ -n "$CACHE" ] || CACHE=${LOCALEFS_DEBGUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/localefs-debguest}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
ALL_PKGS=$BASE_PKGS${PKGS:+,$PKGS}
KEY=$({ echo "suite=$SUITE packages=$ALL_PKGS"; cat "$0"; } | sha256sum | cut -c1-16)
OUT=$CACHE/root-$KEY
ROOT=$OUT/root
IMG=$OUT/rootfs.img

if [ "$REBUILD" = 0 ] && [ -s "$IMG" ]; then
    echo "$PROG: cached $IMG" >&2
    touch "$OUT"
    echo "$IMG"
    exit 0
fi
command -v debootstrap >/dev/null || die "debootstrap not installed (apt-get install debootstrap)"
command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 not installed (apt-get install e2fsprogs)"

# one build at a time per cache (two test runs starting together)
exec 9>"$CACHE/.build.lock"
flock 9
if [ "$REBUILD" = 0 ] && [ -s "$IMG" ]; then
    echo "$PROG: built meanwhile: $IMG" >&2
    echo "$IMG"
    exit 0
fi

host_mirror() { # first Debian (non-security) URI of this host's apt sources
    {
        [ -r /etc/apt/sources.list ] && awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' /etc/apt/sources.list
        for f in /etc/apt/sources.list.d/*.sources; do
            [ -r "$f" ] && awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' "$f"
        done
        for f in /etc/apt/sources.list.d/*.list; do
            [ -r "$f" ] && awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' "$f"
        done
        true
    } 2>/dev/null | grep -v -- '-security' | grep -E '/debian/?$' | head -n1 || true
}

t0=$(date +%s)
[ -n "$MIRROR" ] || MIRROR=$(host_mirror)
[ -n "$MIRROR" ] || die "no Debian mirror found in the host's apt sources; pass --mirror URL"
umount "$ROOT/var/cache/apt/archives" 2>/dev/null || true # left by a killed build
rm -rf --one-file-system "$OUT"
mkdir -p "$OUT" "$CACHE/debs"
echo "$PROG: debootstrap $SUITE minbase + $BASE_PKGS from $MIRROR (log: $OUT/debootstrap.log)" >&2
# two stages: base system first, then a policy-rc.d that forbids starting
# services, then the packages (docker.io's init script would start dockerd in
# the chroot otherwise); all downloads go through debootstrap's cache
debootstrap --variant=minbase --include="$BASE_PKGS" --cache-dir="$CACHE/debs" \
    "$SUITE" "$ROOT" "$MIRROR" >"$OUT/debootstrap.log" 2>&1 ||
    { tail -n 30 "$OUT/debootstrap.log" >&2; die "debootstrap failed (log: $OUT/debootstrap.log)"; }
echo "$PROG: base system in $(($(date +%s) - t0)) s" >&2
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 0755 "$ROOT/usr/sbin/policy-rc.d"
inchroot() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
if [ -n "$PKGS" ]; then
    t1=$(date +%s)
    echo "$PROG: apt-get install ${PKGS//,/ }" >&2
    mkdir -p "$CACHE/debs/partial"
    mount --bind "$CACHE/debs" "$ROOT/var/cache/apt/archives"
    trap 'umount "$ROOT/var/cache/apt/archives" 2>/dev/null || true' EXIT
    trap 'exit 130' INT TERM
    {
        inchroot apt-get update -q &&
            inchroot apt-get install -y -q --no-install-recommends ${PKGS//,/ }
    } >>"$OUT/debootstrap.log" 2>&1 ||
        { tail -n 30 "$OUT/debootstrap.log" >&2; die "apt-get install failed (log: $OUT/debootstrap.log)"; }
    umount "$ROOT/var/cache/apt/archives"
    trap - EXIT INT TERM
    echo "$PROG: packages in $(($(date +%s) - t1)) s" >&2
fi

# --- configuration for the harness' guest -------------------------------------
echo debguest >"$ROOT/etc/hostname"
printf '127.0.0.1\tlocalhost\n10.0.2.100\tnfs-server\n' >"$ROOT/etc/hosts"
# no resolver: the guest has no DNS (slirp restrict=on drops it anyway); glibc
# then fails look-ups at once instead of timing out
echo '# debguest: no DNS; names come from /etc/hosts' >"$ROOT/etc/resolv.conf"
: >"$ROOT/etc/fstab"
mkdir -p "$ROOT/mnt/efs" "$ROOT/debguest"
chmod 700 "$ROOT/root"
inchroot dpkg-query -W -f '${Package} ${Version}\n' >"$OUT/packages.txt"
inchroot apt-get clean >/dev/null 2>&1 || true
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/log/*.log
date -u +%FT%TZ >"$ROOT/.debguest-root"
echo "$PROG: tree done in $(($(date +%s) - t0)) s ($(du -sh "$ROOT" | cut -f1))" >&2

# --- pack: raw ext4 image straight from the tree (no loop device) -------------
t2=$(date +%s)
used_kb=$(du -sk "$ROOT" | cut -f1)
size_mb=$(((used_kb * 13 / 10) / 1024 + 512))
rm -f "$IMG.tmp"
truncate -s "${size_mb}M" "$IMG.tmp"
mkfs.ext4 -q -F -L debguest -m 0 -E root_owner=0:0 -d "$ROOT" "$IMG.tmp" ||
    { rm -f "$IMG.tmp"; die "mkfs.ext4 -d failed"; }
mv -f "$IMG.tmp" "$IMG"
rm -rf --one-file-system "$ROOT"
echo "$PROG: packed $IMG (${size_mb} MiB, $(du -h "$IMG" | cut -f1) allocated) in $(($(date +%s) - t2)) s; total $(($(date +%s) - t0)) s" >&2
# older builds of other inputs: drop those not used for two weeks
find "$CACHE" -maxdepth 1 -name 'root-*' -type d -mtime +14 ! -path "$OUT" -exec rm -rf {} + 2>/dev/null || true
echo "$IMG"
