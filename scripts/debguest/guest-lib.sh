# debguest guest helpers: sourced (bash, set -e) right before the test script.
#   $EG_OUT          directory whose files come back to the host (boot.sh --out)
#   $EG_SERVER_IP    10.0.2.100: the guest's address of the host-loopback server
#   $EG_SERVER_PORT  guest-side port forwarded to 127.0.0.1:HOSTPORT (2049)
#   eg_now           guest uptime in seconds (10 ms resolution)
#   eg_time L CMD..  run CMD, then print "time: L <seconds> s"; with set -e a
#                    failing CMD still aborts the script
#   eg_save F [NAME] copy file F into $EG_OUT (as NAME)

eg_now() { cut -d' ' -f1 /proc/uptime; }

eg_time() {
    local label=$1 t0 t1 rc=0
    shift
    t0=$(eg_now)
    "$@" || rc=$?
    t1=$(eg_now)
    awk -v a="$t0" -v b="$t1" -v l="$label" 'BEGIN { printf "time: %-28s %8.2f s\n", l, b - a }'
    return $rc
}

eg_save() {
    cp "$1" "$EG_OUT/${2:-$(basename "$1")}"
}
