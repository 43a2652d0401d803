#!/usr/bin/env bash
# Build a local stand-in for the base image docker/Dockerfile names
# (node:20-bookworm-slim) on a machine that has a Docker engine but no image
# registry: debootstrap a minimal Debian bookworm, put this host's Node.js
# binary and npm into it (where the official image has them: /usr/local), and
# `docker import` it under the same name and tag.  docker/Dockerfile then
# builds unchanged here and against Docker Hub.
#
# Like the official image it has a user `node` (uid/gid 1000) and runs `node`
# by default.  Unlike it, it trusts this host's CA bundle
# (/etc/ssl/certs/ca-certificates.crt, also as NODE_EXTRA_CA_CERTS), so that
# `npm ci` in an image build works behind a TLS-intercepting proxy.
#
# Idempotent: does nothing when the image exists (--force rebuilds it).
# Needs root, debootstrap and a running Docker engine.  Takes 1-3 minutes;
# the .debs are cached in $LOCALEFS_DOCKER_BASE_CACHE
# (default ${XDG_CACHE_HOME:-$HOME/.cache}/localefs-docker-base).
#
# usage: tools/docker-base/build.sh [--force] [--image NAME:TAG] [--mirror URL]
set -euo pipefail

IMAGE=""
FORCE=0
MIRROR=""
SUITE=bookworm
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

say() { echo "docker-base: $*"; }
fail() {
    echo "docker-base: ERROR: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case "$1" in
    --force) FORCE=1; shift ;;
    --image) [ $# -ge 2 ] || fail "--image needs a value"; IMAGE=$2; shift 2 ;;
    --mirror) [ $# -ge 2 ] || fail "--mirror needs a value"; MIRROR=$2; shift 2 ;;
    -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) fail "unknown argument $1 (see --help)" ;;
    esac
done

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# the image the Dockerfile builds FROM (its first FROM line), unless --image
if [ -z "$IMAGE" ]; then
    IMAGE=$(awk 'toupper($1) == "FROM" { for (i = 2; i <= NF; i++) if ($i !~ /^--/) { print $i; exit } }' docker/Dockerfile)
    [ -n "$IMAGE" ] || fail "no FROM line in docker/Dockerfile"
fi
case "$IMAGE" in *:*) ;; *) IMAGE="$IMAGE:latest" ;; esac

command -v docker >/dev/null || fail "no docker client (apt-get install docker.io)"
docker info >/dev/null 2>&1 || fail "the Docker engine does not answer (is dockerd running?)"
if [ "$FORCE" = 0 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    say "$IMAGE exists already ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }')); nothing to do (--force rebuilds it)"
    exit 0
fi

[ "$(id -u)" = 0 ] || fail "must run as root (debootstrap, chroot)"
command -v debootstrap >/dev/null || fail "no debootstrap (apt-get install debootstrap)"

# this host's Node.js: the binary, and npm's package directory next to it
NODE_BIN=$(readlink -f "$(command -v node)") || fail "node is not installed on this host"
NPM_DIR=""
for d in "$(dirname "$NODE_BIN")/../lib/node_modules/npm" /usr/local/lib/node_modules/npm /usr/lib/node_modules/npm; do
    if [ -f "$d/bin/npm-cli.js" ]; then
        NPM_DIR=$(readlink -f "$d")
        break
    fi
done
[ -n "$NPM_DIR" ] || fail "cannot find npm's directory (lib/node_modules/npm) next to $NODE_BIN"
NODE_VERSION=$("$NODE_BIN" --version)
NODE_VERSION=${NODE_VERSION#v}
want_major=$(sed -n 's/^node:\([0-9][0-9]*\).*/\1/p' <<<"${IMAGE##*/}")
if [ -n "$want_major" ] && [ "${NODE_VERSION%%.*}" != "$want_major" ]; then
    fail "$IMAGE wants Node.js $want_major, this host has $NODE_VERSION"
fi
[ -r "$CA_BUNDLE" ] || fail "no CA bundle at $CA_BUNDLE"

# the Debian mirror this host's apt uses (deb822 .sources or sources.list)
if [ -z "$MIRROR" ]; then
    MIRROR=$(
        {
            cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
                /^[ \t]*$/ { if (uri != "" && suites ~ /(^| )'"$SUITE"'( |$)/) { print uri; exit } uri = ""; suites = ""; next }
                $1 == "URIs:" { uri = $2 }
                $1 == "Suites:" { $1 = ""; suites = $0 " " }
                END { if (uri != "" && suites ~ /(^| )'"$SUITE"'( |$)/) print uri }'
            cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
                awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) while ($i !~ /\]$/) i++; if ($2 ~ /^\[/) i++; if ($(i + 1) == "'"$SUITE"'") print $i }'
        } | head -n 1
    ) || true
    MIRROR=${MIRROR:-http://deb.debian.org/debian}
fi

CACHE=${LOCALEFS_DOCKER_BASE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/localefs-docker-base}
mkdir -p "$CACHE/debs"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/localefs-docker-base.XXXXXX")
cleanup() {
    # debootstrap may leave /proc or /sys mounted in the root on failure
    for m in proc sys dev/pts dev; do
        mountpoint -q "$WORK/root/$m" 2>/dev/null && umount -l "$WORK/root/$m" || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
ROOT=$WORK/root
started=$SECONDS

say "building $IMAGE: Debian $SUITE (minbase) from $MIRROR + Node.js $NODE_VERSION ($NODE_BIN) + npm $("$NODE_BIN" "$NPM_DIR/bin/npm-cli.js" --version)"
say "debootstrap (log: $WORK/debootstrap.log; .debs cached in $CACHE/debs) ..."
if ! debootstrap --variant=minbase --cache-dir="$CACHE/debs" "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
    tail -n 30 "$WORK/debootstrap.log" >&2
    [ -f "$ROOT/debootstrap/debootstrap.log" ] && tail -n 30 "$ROOT/debootstrap/debootstrap.log" >&2
    fail "debootstrap failed"
fi
say "debootstrap done after $((SECONDS - started)) s"

say "adding Node.js, npm, the CA bundle and the node user"
install -D -m 0755 "$NODE_BIN" "$ROOT/usr/local/bin/node"
mkdir -p "$ROOT/usr/local/lib/node_modules"
cp -a "$NPM_DIR" "$ROOT/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$ROOT/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$ROOT/usr/local/bin/npx"
install -D -m 0644 "$CA_BUNDLE" "$ROOT/etc/ssl/certs/ca-certificates.crt"
# as in the official image: user node, uid and gid 1000
chroot "$ROOT" groupadd --gid 1000 node
chroot "$ROOT" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
chroot "$ROOT" /usr/local/bin/node --version >/dev/null || fail "the copied node does not run in the new root (missing libraries?)"
chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root /usr/local/bin/npm --version >/dev/null || fail "the copied npm does not run in the new root"

say "trimming (apt lists and caches, docs, man pages, locales)"
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/* "$ROOT"/var/cache/debconf/*-old \
    "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* \
    "$ROOT"/var/log/*.log "$ROOT"/var/log/apt/* "$ROOT"/debootstrap "$ROOT"/tmp/* "$ROOT"/root/.npm
find "$ROOT/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
: >"$ROOT/etc/hostname"
: >"$ROOT/etc/resolv.conf"
# keep the docs out if someone apt-get installs later (as debian:*-slim does)
cat >"$ROOT/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF

say "docker import (root file system $(du -sm "$ROOT" | cut -f1) MB) ..."
tar --numeric-owner --xattrs -C "$ROOT" -c . |
    docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change "ENV NODE_VERSION=$NODE_VERSION" \
        --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
        --change 'CMD ["node"]' \
        --message "localefs stand-in for $IMAGE: Debian $SUITE minbase + Node.js $NODE_VERSION from the host (tools/docker-base/build.sh)" \
        - "$IMAGE" >/dev/null
docker run --rm --network none "$IMAGE" node -e 'process.exit(0)' || fail "the new image $IMAGE does not run node"
say "built $IMAGE ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }')) in $((SECONDS - started)) s"
