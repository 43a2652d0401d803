# localefs e2e guest workload: the server restarts under a mounted client.
# Run with kclient.sh --opts efs --control FIFO.  busybox `sh -e`, cwd = $MNT.
#
# Protocol with the host test:
#   guest: "@@LOCALEFS RESTART"      -> the host stops the server (SIGTERM),
#                                       starts it again on the same data dir
#                                       and port, then writes "restarted" into
#                                       the control FIFO
#   guest: "@@LOCALEFS RESTART-OK"   after every check below passed
# Across the restart the client keeps: a cached file handle for every file
# below (no ESTALE allowed), its cwd, a file held open, and an fcntl lock held
# by another process (both have to be reclaimed in the grace period).

D=$MNT/restart
W=/tmp/restart
rm -rf "$D" "$W"
mkdir -p "$D/sub" "$W"
echo "client $(uname -r), mount options: $(kc_mount_opts)"

dd if=/dev/urandom of="$W/expect" bs=65536 count=16 2>/dev/null # 1 MiB
dd if="$W/expect" of="$D/data.bin" bs=65536 conv=fsync 2>/dev/null
SUM=$(kc_sha "$W/expect")
kc_expect "written before the restart" "$(kc_sha "$D/data.bin")" "$SUM"
echo "before" >"$D/sub/note"
echo "sha256 before restart: $SUM"

# a file kept open across the restart (OPEN state to reclaim)
exec 5>>"$D/held.log"
echo "line 1 (before)" >&5
# a byte-range lock held by another process across the restart (LOCK reclaim)
dd if=/dev/zero of="$D/locked" bs=1024 count=1 2>/dev/null
rm -f /tmp/unlock /tmp/holder.out
kc-lock "$D/locked" wait:w:0:100 say:holding until:/tmp/unlock say:releasing >/tmp/holder.out 2>&1 &
holder=$!
until grep -q holding /tmp/holder.out 2>/dev/null; do sleep 0.1; done
kc_expect "lock held before the restart" "$(kc-lock "$D/locked" try:w:0:1 || true)" "busy w 0 1"
cd "$D/sub" # the cwd's file handle must survive too

echo "@@LOCALEFS RESTART"
t0=$(kc_now)
kc_wait_host restarted 180 || kc_fail "the host did not report a restart within 180 s"
echo "host says: restarted (after $(awk -v a="$t0" -v b="$(kc_now)" 'BEGIN { printf "%.1f", b - a }') s)"

# the first operations use the handles cached before the restart: an open()
# always asks the server (close-to-open), so this waits for the client's
# recovery (new client id and session, reclaims, maybe the grace period)
t1=$(kc_now)
kc_expect "cwd survives (open relative to it)" "$(cat note)" before
echo "time: first open after the restart took $(awk -v a="$t1" -v b="$(kc_now)" 'BEGIN { printf "%.2f", b - a }') s"
kc_expect "stat through a cached handle" "$(stat -c %s "$D/data.bin")" 1048576
kc_expect "content read through the cached handle" "$(kc_sha "$D/data.bin")" "$SUM"
kc_drop_caches
kc_expect "content after dropping caches (fresh lookups)" "$(kc_sha "$D/data.bin")" "$SUM"

# the file held open: write through the reclaimed open state
echo "line 2 (after)" >&5
exec 5>&-
kc_expect "held-open file written across the restart" "$(tr '\n' '|' <"$D/held.log")" "line 1 (before)|line 2 (after)|"

# the lock must have been reclaimed by its holder, not lost
kc_expect "lock still held after the restart" "$(kc-lock "$D/locked" try:w:0:1 || true)" "busy w 0 1"
touch /tmp/unlock
wait $holder || kc_fail "lock holder failed: $(cat /tmp/holder.out)"
kc_expect "lock holder output" "$(tr '\n' '|' </tmp/holder.out)" "locked w 0 100|holding|releasing|"
kc_expect "lock free once released" "$(kc-lock "$D/locked" try:w:0:1)" "locked w 0 1"

# and the server takes new data
dd if=/dev/urandom of="$W/more" bs=4096 count=8 2>/dev/null
cat "$W/more" >>"$W/expect"
dd if="$W/more" of="$D/data.bin" bs=4096 oflag=append conv=notrunc,fsync 2>/dev/null
kc_expect "size after append" "$(stat -c %s "$D/data.bin")" $((1048576 + 32768))
kc_drop_caches
kc_expect "content after append" "$(kc_sha "$D/data.bin")" "$(kc_sha "$W/expect")"
echo new >"$D/sub/created-after"
kc_expect "create after the restart" "$(cat "$D/sub/created-after")" new
cd "$MNT"
rm -rf "$W"
echo "@@LOCALEFS RESTART-OK"
