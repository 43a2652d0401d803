# localefs kclient: helpers for guest test scripts.
#
# /init sources this file (busybox ash, `set -e` in force) right before the
# test script, so scripts call these without any boilerplate.  Environment:
#   MNT         the NFS mount point; also the cwd when the script starts
#   KC_VERS     the --vers given to kclient.sh (the mount options decide)
#   KC_OPTS     the mount options passed to mount.nfs4
#   KC_CONTROL  1 when the host opened a control channel (--control)
#   KC_SERVER_IP, KC_SERVER_PORT  the server as the guest dials it
#   KC_HOST_PORT  the server's real port on the host loopback (which the
#               guest must NOT be able to reach directly)
#   plus every NAME=VALUE given with kclient.sh --env
# Tools besides busybox: flock and setpriv (util-linux), mount.nfs, and
# kc-lock (fcntl byte-range locks, see kc-lock.pl), when the host has them.
# The shell runs busybox applets in preference to PATH, so call util-linux
# tools that share a name with an applet by full path: /usr/bin/setpriv.

# guest uptime: with 10 ms resolution / in whole seconds
kc_now() { cut -d' ' -f1 /proc/uptime; }
kc_secs() { cut -d. -f1 /proc/uptime; }

# kc_time LABEL CMD [ARG...]: run CMD and print "time: LABEL <seconds> s".
# A failing CMD aborts the script as usual (set -e).
kc_time() {
    _kt_label=$1
    shift
    _kt_t0=$(kc_now)
    "$@"
    awk -v a="$_kt_t0" -v b="$(kc_now)" -v l="$_kt_label" \
        'BEGIN { printf "time: %-34s %7.2f s\n", l, b - a }'
}

# the options the kernel really uses for $MNT (from /proc/mounts)
kc_mount_opts() { awk -v m="$MNT" '$2 == m { print $4 }' /proc/mounts; }

# write back dirty pages and forget cached pages, dentries and inodes, so that
# the next access really goes to the server
kc_drop_caches() {
    sync
    echo 3 >/proc/sys/vm/drop_caches
}

# sha256 of a file, digest only
kc_sha() { sha256sum "$1" | cut -d' ' -f1; }

kc_fail() {
    echo "FAIL: $*"
    exit 1
}

# kc_expect LABEL ACTUAL EXPECTED: fail unless the two strings are equal;
# prints "ok: LABEL" otherwise
kc_expect() {
    if [ "$2" != "$3" ]; then
        echo "FAIL: $1: got '$2', expected '$3'"
        exit 1
    fi
    echo "ok: $1"
}

# kc_wait_host WORD [SECONDS]: wait until the host sends the line WORD on the
# control channel (kclient.sh --control FIFO; the host writes "WORD\n" into the
# FIFO).  Other lines are ignored.  Returns 1 on timeout (default 60 s), 2 when
# there is no control channel.
kc_wait_host() {
    if [ "${KC_CONTROL:-0}" != 1 ]; then
        echo "kc_wait_host: no control channel (run kclient.sh with --control)"
        return 2
    fi
    _kw_deadline=$(($(kc_secs) + ${2:-60}))
    while :; do
        _kw_left=$((_kw_deadline - $(kc_secs)))
        [ "$_kw_left" -gt 0 ] || return 1
        _kw_line=
        if IFS= read -r -t "$_kw_left" _kw_line <&4; then
            _kw_line=$(printf '%s' "$_kw_line" | tr -d '\r')
            [ "$_kw_line" = "$1" ] && return 0
        fi
    done
}
