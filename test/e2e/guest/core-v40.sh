# localefs e2e guest workload: the core checks, meant for NFSv4.0
# (kclient.sh --vers 4.0): create, read, write, rename, hard and symbolic
# links, locks, ls, df, fsync.  busybox `sh -e`, cwd = $MNT, root.
#
# Lines for the host test:
#   @@LOCALEFS DURABLE <name> <size> <sha256> fsync   (see full-v41.sh)
#   @@LOCALEFS DONE core
# Env: LOCALEFS_REFERENCE=1 makes the EFS-only df check a warning.

T=$MNT/core40
W=/tmp/core
rm -rf "$T" "$W"
mkdir -p "$T/a" "$T/b" "$W"
echo "client $(uname -r), mount options: $(kc_mount_opts)"
case ",$(kc_mount_opts)," in
*,vers=4.0,*) echo "ok: mounted with NFSv4.0" ;;
*) kc_fail "expected vers=4.0 in the mount options" ;;
esac

section() { echo "--- $*"; }
must_fail() {
    _mf_label=$1
    shift
    if "$@" >/dev/null 2>&1; then kc_fail "$_mf_label: succeeded, should have failed"; fi
    echo "ok: $_mf_label (refused)"
}

section "create, write, read, append, truncate"
echo hello >"$T/a/small"
kc_expect "small file" "$(cat "$T/a/small")" hello
echo again >>"$T/a/small"
kc_expect "append" "$(tr '\n' ' ' <"$T/a/small")" "hello again "
dd if=/dev/urandom of="$W/r3m" bs=1048576 count=3 2>/dev/null
kc_time "write 3 MiB (conv=fsync)" dd if="$W/r3m" of="$T/a/data.bin" bs=1048576 conv=fsync 2>/dev/null
echo "@@LOCALEFS DURABLE data.bin $(stat -c %s "$T/a/data.bin") $(kc_sha "$W/r3m") fsync"
kc_drop_caches
kc_time "read 3 MiB (cold)" dd if="$T/a/data.bin" of="$W/back" bs=1048576 2>/dev/null
kc_expect "3 MiB round trip" "$(kc_sha "$W/back")" "$(kc_sha "$W/r3m")"
cp "$T/a/data.bin" "$T/a/copy.bin"
truncate -s 1000 "$T/a/copy.bin"
kc_expect "truncate" "$(stat -c %s "$T/a/copy.bin")" 1000
kc_expect "truncated content" "$(kc_sha "$T/a/copy.bin")" "$(head -c 1000 "$W/r3m" | sha256sum | cut -d' ' -f1)"

section "rename"
mv "$T/a/copy.bin" "$T/b/moved.bin"
[ ! -e "$T/a/copy.bin" ] || kc_fail "old name still there"
kc_expect "rename across dirs" "$(stat -c %s "$T/b/moved.bin")" 1000
echo old >"$T/b/existing"
mv -f "$T/a/small" "$T/b/existing"
kc_expect "rename over an existing file" "$(head -n 1 "$T/b/existing")" hello
mkdir -p "$T/a/sub/deeper"
echo x >"$T/a/sub/deeper/f"
mv "$T/a/sub" "$T/b/sub"
kc_expect "dir rename across parents" "$(cat "$T/b/sub/deeper/f")" x

section "links"
ln "$T/b/existing" "$T/a/hard"
kc_expect "hard link nlink" "$(stat -c %h "$T/b/existing")" 2
kc_expect "hard link inode" "$(stat -c %i "$T/a/hard")" "$(stat -c %i "$T/b/existing")"
ln -s ../b/existing "$T/a/sym"
kc_expect "readlink" "$(readlink "$T/a/sym")" ../b/existing
kc_expect "read through symlink" "$(head -n 1 "$T/a/sym")" hello
rm "$T/b/existing"
kc_expect "nlink after unlink" "$(stat -c %h "$T/a/hard")" 1
must_fail "read through a now dangling symlink" cat "$T/a/sym"

section "attributes"
chmod 0600 "$T/a/hard"
kc_expect "chmod" "$(stat -c %a "$T/a/hard")" 600
chown 1000:1000 "$T/a/hard"
kc_expect "chown (numeric owners)" "$(stat -c %u:%g "$T/a/hard")" 1000:1000
touch -d '2010-01-02 03:04:05' "$T/a/hard"
kc_expect "utimes" "$(stat -c %Y "$T/a/hard")" "$(date -d '2010-01-02 03:04:05' +%s)"

section "locks"
L=$T/lockfile
dd if=/dev/zero of="$L" bs=1024 count=4 2>/dev/null
rm -f /tmp/go /tmp/held
flock -x "$L" -c 'echo held >/tmp/held; while [ ! -e /tmp/go ]; do sleep 0.1; done' &
holder=$!
until [ -s /tmp/held ]; do sleep 0.1; done
must_fail "flock -n while another process holds it" flock -n -x "$L" -c true
touch /tmp/go
wait $holder
flock -n -x "$L" -c true || kc_fail "flock refused after release"
echo "ok: flock after release"
rm -f /tmp/go /tmp/held
kc-lock "$L" wait:w:0:512 say:holding until:/tmp/go >/tmp/held &
holder=$!
until grep -q holding /tmp/held 2>/dev/null; do sleep 0.1; done
kc_expect "fcntl: overlapping range refused" "$(kc-lock "$L" try:w:100:10 || true)" "busy w 100 10"
kc_expect "fcntl: disjoint range granted" "$(kc-lock "$L" try:w:512:512)" "locked w 512 512"
kc_expect "fcntl: F_GETLK sees the holder" "$(kc-lock "$L" test:r:0:1)" "conflict w 0 512"
(sleep 1; touch /tmp/go) &
kc_expect "fcntl: blocking lock after release" "$(kc-lock "$L" wait:w:0:0)" "locked w 0 0"
wait

section "ls"
mkdir "$T/list"
cd "$T/list"
kc_time "create 500 files" sh -c 'i=0; while [ $i -lt 500 ]; do echo $i >n$i; i=$((i + 1)); done'
cd "$T"
kc_drop_caches
kc_expect "ls -ln count" "$(ls -ln "$T/list" | grep -c '^-')" 500
kc_expect "ls -ln sizes" "$(ls -ln "$T/list" | awk '/^-/ { s += $5 } END { print s }')" 1890
kc_expect "readdir names" "$(ls "$T/list" | sort -u | wc -l)" 500

section "df"
df -P -k "$MNT" | sed 's/^/  /'
size_kib=$(df -P -k "$MNT" | awk 'NR == 2 { print $2 }')
if awk -v s="$size_kib" 'BEGIN { exit !(s >= 1125899906842624) }'; then
    echo "ok: df size is at least 1 EiB"
elif [ "${LOCALEFS_REFERENCE:-0}" = 1 ]; then
    echo "WARN (reference server): df size $size_kib KiB is below 1 EiB"
else
    kc_fail "df size $size_kib KiB is below 1 EiB (EFS reports 8 EiB)"
fi

section "network isolation (qemu restrict=on)"
# 10.0.2.2 is slirp's name for the host's loopback: without restrict=on it
# would reach the server's real port.  Only the forward may be reachable.
# (Never probe other addresses: they would leave the host if isolation broke.)
# (run from / so that no helper process keeps the mount busy afterwards)
probe() { (cd / && if echo | timeout 5 nc -w 3 "$1" "$2" >/dev/null 2>&1; then echo open; else echo closed; fi); }
kc_expect "the forwarded server address is reachable" "$(probe "$KC_SERVER_IP" "$KC_SERVER_PORT")" open
kc_expect "the host loopback is not reachable (10.0.2.2:$KC_HOST_PORT)" "$(probe 10.0.2.2 "$KC_HOST_PORT")" closed
kc_expect "no default route" "$(ip route | grep -c '^default' || true)" 0

rm -rf "$W"
echo "@@LOCALEFS DONE core"
