# localefs e2e guest workload: the full functional check, meant for NFSv4.1
# with the EFS mount options (kclient.sh --opts efs).  Runs in the guest under
# busybox `sh -e`, cwd = $MNT, as root; helpers from scripts/kclient/guest/lib.sh.
#
# Lines for the host test (test/e2e/kernel-client.test.ts):
#   @@LOCALEFS DURABLE <name> <size> <sha256> <how>
#       <name> was just made durable (how = fsync | sync); the host looks the
#       bytes up in the server's data directory right away, while we go on
#   @@LOCALEFS DONE full
#       every check passed
# Env: LOCALEFS_REFERENCE=1 turns the EFS-only checks (df size) into warnings,
# for runs against a reference server such as nfs-ganesha.

T=$MNT/full
W=/tmp/full # guest-local scratch (tmpfs): expected contents are built here
rm -rf "$T" "$W"
mkdir -p "$T" "$W"
echo "client $(uname -r), mount options: $(kc_mount_opts)"

section() { echo "--- $*"; }
must_fail() { # must_fail LABEL CMD...: CMD has to fail
    _mf_label=$1
    shift
    if "$@" >/dev/null 2>&1; then kc_fail "$_mf_label: succeeded, should have failed"; fi
    echo "ok: $_mf_label (refused)"
}
efs_expect() { # like kc_expect, but only a warning against a reference server
    if [ "$2" = "$3" ]; then
        echo "ok: $1"
    elif [ "${LOCALEFS_REFERENCE:-0}" = 1 ]; then
        echo "WARN (reference server): $1: got '$2', expected '$3'"
    else
        kc_fail "$1: got '$2', expected '$3'"
    fi
}
same_bytes() { # same_bytes LABEL NFSFILE LOCALFILE: identical content
    kc_expect "$1" "$(kc_sha "$2")" "$(kc_sha "$3")"
}
durable() { # durable NAME HOW: announce a file the host should find on disk
    echo "@@LOCALEFS DURABLE $(basename "$1") $(stat -c %s "$1") $(kc_sha "$1") $2"
}

# --------------------------------------------------------------------------
section "create, write, read"
mkdir -p "$T/a/b/c" "$T/d"
echo one >"$T/a/f1"
printf 'two\n' >"$T/a/b/f2"
: >"$T/d/empty"
kc_expect "small file" "$(cat "$T/a/f1")" one
kc_expect "second file" "$(cat "$T/a/b/f2")" two
kc_expect "empty file size" "$(stat -c %s "$T/d/empty")" 0
kc_expect "file type" "$(stat -c %F "$T/a/f1")" "regular file"
kc_expect "dir type" "$(stat -c %F "$T/a/b")" directory
must_fail "mkdir of an existing name" mkdir "$T/a/b"

dd if=/dev/urandom of="$W/r4m" bs=1048576 count=4 2>/dev/null
kc_time "write 4 MiB" dd if="$W/r4m" of="$T/data.bin" bs=1048576 2>/dev/null
kc_drop_caches
kc_time "read 4 MiB (cold cache)" dd if="$T/data.bin" of="$W/back" bs=1048576 2>/dev/null
same_bytes "4 MiB round trip" "$W/back" "$W/r4m"
kc_expect "4 MiB size" "$(stat -c %s "$T/data.bin")" 4194304

# overwrite in place, unaligned, on both copies; contents must stay equal
cp "$W/r4m" "$W/expect"
for f in "$T/data.bin" "$W/expect"; do
    printf 'PATCHED-AT-12345' | dd of="$f" bs=1 seek=12345 conv=notrunc 2>/dev/null
    dd if=/dev/zero of="$f" bs=1000 seek=3000 count=7 conv=notrunc 2>/dev/null
done
kc_drop_caches
same_bytes "unaligned overwrites" "$T/data.bin" "$W/expect"

# --------------------------------------------------------------------------
section "append"
echo three >>"$T/a/f1"
printf 'four\n' >>"$T/a/f1"
kc_expect "append with >>" "$(tr '\n' ' ' <"$T/a/f1")" "one three four "
for f in "$T/data.bin" "$W/expect"; do
    dd if="$W/r4m" of="$f" bs=4096 count=3 oflag=append conv=notrunc 2>/dev/null
done
kc_expect "size after O_APPEND" "$(stat -c %s "$T/data.bin")" $((4194304 + 12288))
kc_drop_caches
same_bytes "content after O_APPEND" "$T/data.bin" "$W/expect"

# --------------------------------------------------------------------------
section "truncate"
for f in "$T/data.bin" "$W/expect"; do truncate -s 100000 "$f"; done
kc_expect "shrink" "$(stat -c %s "$T/data.bin")" 100000
for f in "$T/data.bin" "$W/expect"; do truncate -s 300000 "$f"; done
kc_expect "extend" "$(stat -c %s "$T/data.bin")" 300000
kc_drop_caches
same_bytes "content after shrink+extend (zero tail)" "$T/data.bin" "$W/expect"
kc_expect "extended tail reads as zeros" "$(dd if="$T/data.bin" bs=1 skip=200000 count=8 2>/dev/null | od -An -tx1 | tr -d ' ')" 0000000000000000
cp "$T/data.bin" "$T/trunc-me"
: >"$T/trunc-me" # O_TRUNC
kc_expect "O_TRUNC" "$(stat -c %s "$T/trunc-me")" 0
truncate -s 0 "$T/data.bin"
kc_expect "truncate to 0" "$(stat -c %s "$T/data.bin")" 0

# --------------------------------------------------------------------------
section "rename"
mv "$T/a/b/f2" "$T/a/b/f2-renamed"
kc_expect "rename in one dir" "$(cat "$T/a/b/f2-renamed")" two
[ ! -e "$T/a/b/f2" ] || kc_fail "old name still there"
mv "$T/a/b/f2-renamed" "$T/d/f2"
kc_expect "rename across dirs" "$(cat "$T/d/f2")" two
[ ! -e "$T/a/b/f2-renamed" ] || kc_fail "old name still there after cross-dir rename"
echo victim >"$T/d/victim"
src_ino=$(stat -c %i "$T/d/f2")
mv -f "$T/d/f2" "$T/d/victim" # replaces an existing file
kc_expect "rename over an existing file: content" "$(cat "$T/d/victim")" two
kc_expect "rename over an existing file: inode" "$(stat -c %i "$T/d/victim")" "$src_ino"
[ ! -e "$T/d/f2" ] || kc_fail "source still there after rename over a file"
echo inside >"$T/a/b/c/deep-file"
mv "$T/a/b" "$T/d/b-moved" # directory, with contents, to another parent
[ ! -e "$T/a/b" ] || kc_fail "dir still at the old place"
kc_expect "dir rename across parents" "$(cat "$T/d/b-moved/c/deep-file")" inside
kc_expect "nlink of the new parent" "$(stat -c %h "$T/d")" 3
mkdir "$T/emptydir"
mv -T "$T/d/b-moved/c" "$T/emptydir" # a directory over an empty directory
kc_expect "dir rename over an empty dir" "$(cat "$T/emptydir/deep-file")" inside
mkdir -p "$T/full1/x" "$T/full2/y"
must_fail "dir rename over a non-empty dir" mv -T "$T/full1" "$T/full2"

# --------------------------------------------------------------------------
section "hard links"
ln "$T/a/f1" "$T/d/f1-link"
kc_expect "nlink after ln" "$(stat -c %h "$T/a/f1")" 2
kc_expect "same inode" "$(stat -c %i "$T/d/f1-link")" "$(stat -c %i "$T/a/f1")"
echo five >>"$T/d/f1-link"
kc_expect "write through one name, read through the other" "$(tail -n 1 "$T/a/f1")" five
ln "$T/a/f1" "$T/a/f1-link2"
kc_expect "nlink 3" "$(stat -c %h "$T/d/f1-link")" 3
rm "$T/a/f1"
kc_expect "nlink after unlink" "$(stat -c %h "$T/d/f1-link")" 2
kc_expect "content survives unlink of one name" "$(head -n 1 "$T/d/f1-link")" one
must_fail "hard link to a directory" ln "$T/d" "$T/dir-link"

# --------------------------------------------------------------------------
section "symlinks"
echo target-content >"$T/a/target"
ln -s ../a/target "$T/d/rel-link"
ln -s "$T/a/target" "$T/d/abs-link"
ln -s ../a "$T/d/dir-link"
ln -s no-such-file "$T/d/dangling"
kc_expect "readlink relative" "$(readlink "$T/d/rel-link")" ../a/target
kc_expect "readlink absolute" "$(readlink "$T/d/abs-link")" "$T/a/target"
kc_expect "read through relative symlink" "$(cat "$T/d/rel-link")" target-content
kc_expect "read through absolute symlink" "$(cat "$T/d/abs-link")" target-content
kc_expect "read through a dir symlink" "$(cat "$T/d/dir-link/target")" target-content
kc_expect "symlink type" "$(stat -c %F "$T/d/rel-link")" "symbolic link"
kc_expect "symlink size = target length" "$(stat -c %s "$T/d/rel-link")" 11
kc_expect "readlink dangling" "$(readlink "$T/d/dangling")" no-such-file
must_fail "read through a dangling symlink" cat "$T/d/dangling"
kc_drop_caches
kc_expect "readlink after dropping caches" "$(readlink "$T/d/rel-link")" ../a/target

# --------------------------------------------------------------------------
section "mkdir, rmdir"
mkdir "$T/m1"
mkdir -p "$T/m1/m2/m3"
kc_expect "nlink of a dir with one subdir" "$(stat -c %h "$T/m1")" 3
must_fail "rmdir of a non-empty dir" rmdir "$T/m1"
rmdir "$T/m1/m2/m3" "$T/m1/m2" "$T/m1"
[ ! -e "$T/m1" ] || kc_fail "rmdir left $T/m1"
echo "ok: rmdir"
must_fail "rmdir of a file" rmdir "$T/a/target"

# --------------------------------------------------------------------------
section "rm -r of a deep tree (30 levels)"
p=$T/deep
i=0
while [ $i -lt 30 ]; do
    p=$p/level$i
    i=$((i + 1))
done
mkdir -p "$p"
p=$T/deep
i=0
while [ $i -lt 30 ]; do
    p=$p/level$i
    echo "file at level $i" >"$p/file"
    : >"$p/empty"
    ln -s file "$p/link"
    i=$((i + 1))
done
kc_expect "deep tree: dirs" "$(find "$T/deep" -type d | wc -l)" 31
kc_expect "deep tree: files" "$(find "$T/deep" -type f | wc -l)" 60
kc_expect "deep tree: symlinks" "$(find "$T/deep" -type l | wc -l)" 30
kc_expect "deepest file" "$(cat "$p/link")" "file at level 29"
kc_time "rm -r deep tree" rm -r "$T/deep"
[ ! -e "$T/deep" ] || kc_fail "rm -r left $T/deep"
echo "ok: rm -r"

# --------------------------------------------------------------------------
section "chmod, chown, utimes, numeric owners"
f=$T/a/target
chmod 0640 "$f"
kc_expect "chmod 0640" "$(stat -c %a "$f")" 640
chmod 4755 "$f"
kc_expect "chmod 4755 (setuid, as root)" "$(stat -c %a "$f")" 4755
chmod 2775 "$T/d"
kc_expect "chmod 2775 on a dir (setgid)" "$(stat -c %a "$T/d")" 2775
chmod 1777 "$T/a"
kc_expect "chmod 1777 (sticky)" "$(stat -c %a "$T/a")" 1777
chmod 0644 "$f"
chown 1000:1000 "$f"
kc_expect "chown 1000:1000" "$(stat -c %u:%g "$f")" 1000:1000
kc_expect "ls -ln owner columns" "$(ls -ln "$f" | awk '{ print $3 ":" $4 }')" 1000:1000
chown 70000:4000000000 "$T/d/victim"
kc_expect "owners above 16 bits and 31 bits" "$(stat -c %u:%g "$T/d/victim")" 70000:4000000000
chgrp 1234 "$f"
kc_expect "chgrp" "$(stat -c %u:%g "$f")" 1000:1234
kc_drop_caches
kc_expect "owner after dropping caches" "$(stat -c %u:%g "$f")" 1000:1234
touch -d '2001-02-03 04:05:06' "$f"
want=$(date -d '2001-02-03 04:05:06' +%s)
kc_expect "touch -d: mtime" "$(stat -c %Y "$f")" "$want"
kc_expect "touch -d: atime" "$(stat -c %X "$f")" "$want"
touch "$f"
now=$(date +%s)
age=$((now - $(stat -c %Y "$f")))
[ $age -ge -5 ] && [ $age -le 5 ] || kc_fail "touch (now): mtime is ${age}s off the guest clock"
echo "ok: touch sets mtime to now"
before=$(stat -c %Z "$f")
sleep 1
chmod 0600 "$f"
[ "$(stat -c %Z "$f")" -gt "$before" ] || kc_fail "ctime did not move on chmod"
echo "ok: ctime moves on chmod"
ls -ln "$T/a" "$T/d" | sed 's/^/  /'

# --------------------------------------------------------------------------
section "files owned by a non-root user"
# util-linux setpriv; the plain name would run busybox's setpriv applet (the
# guest shell prefers its own applets), which cannot change uids
[ -x /usr/bin/setpriv ] || kc_fail "no /usr/bin/setpriv in the guest (util-linux on the host)"
as_user() { /usr/bin/setpriv --reuid=1001 --regid=1001 --clear-groups -- "$@"; }
mkdir "$T/pub"
chmod 0777 "$T/pub"
echo root-only >"$T/pub/root-file"
chmod 0644 "$T/pub/root-file"
as_user sh -c "echo mine >'$T/pub/user-file'; mkdir '$T/pub/user-dir'"
kc_expect "file created by uid 1001" "$(stat -c %u:%g "$T/pub/user-file")" 1001:1001
kc_expect "dir created by uid 1001" "$(stat -c %u:%g "$T/pub/user-dir")" 1001:1001
kc_expect "uid 1001 reads a 0644 root file" "$(as_user cat "$T/pub/root-file")" root-only
must_fail "uid 1001 writes a 0644 root file" as_user sh -c "echo x >>'$T/pub/root-file'"
chmod 0600 "$T/pub/root-file"
kc_drop_caches
must_fail "uid 1001 reads a 0600 root file" as_user cat "$T/pub/root-file"
must_fail "uid 1001 chowns its file to root" as_user chown 0 "$T/pub/user-file"
as_user chmod 0600 "$T/pub/user-file"
kc_expect "uid 1001 chmods its own file" "$(stat -c %a "$T/pub/user-file")" 600
kc_expect "root reads the 0600 file of uid 1001 (no root squash)" "$(cat "$T/pub/user-file")" mine

# --------------------------------------------------------------------------
section "files larger than 4 GiB (sparse)"
G=1073741824
big=$T/big6g
truncate -s $((6 * G)) "$big"
kc_expect "truncate -s 6G" "$(stat -c %s "$big")" $((6 * G))
printf 'MARK-AT-5G+1' | dd of="$big" bs=1 seek=$((5 * G + 1)) conv=notrunc 2>/dev/null
printf 'ACROSS-4GiB!' | dd of="$big" bs=1 seek=$((4 * G - 6)) conv=notrunc 2>/dev/null
printf 'TAIL' | dd of="$big" bs=1 seek=$((7 * G)) conv=notrunc 2>/dev/null
kc_expect "size after writing past EOF at 7 GiB" "$(stat -c %s "$big")" $((7 * G + 4))
kc_drop_caches
readat() { dd if="$big" bs=1 skip="$1" count="$2" 2>/dev/null; }
kc_expect "marker at 5 GiB + 1" "$(readat $((5 * G + 1)) 12)" MARK-AT-5G+1
kc_expect "write across the 4 GiB boundary" "$(readat $((4 * G - 6)) 12)" ACROSS-4GiB!
kc_expect "marker at 7 GiB" "$(readat $((7 * G)) 4)" TAIL
kc_expect "hole reads as zeros" "$(readat $((3 * G)) 16 | od -An -tx1 | tr -d ' ')" 00000000000000000000000000000000
kc_expect "no wrap-around at 2^32 (offset 0 untouched)" "$(readat 0 16 | od -An -tx1 | tr -d ' ')" 00000000000000000000000000000000
echo "  big file: $(stat -c '%s bytes, %b blocks of %B' "$big")"
truncate -s $((5 * G)) "$big"
kc_expect "shrink to 5 GiB" "$(stat -c %s "$big")" $((5 * G))
rm "$big"

# --------------------------------------------------------------------------
section "flock (whole file; util-linux flock, LOCK/LOCKU on the wire)"
command -v flock >/dev/null || kc_fail "no flock in the guest (util-linux on the host)"
L=$T/lockfile
echo lock >"$L"
rm -f /tmp/fl.go /tmp/fl.out
flock -x "$L" -c 'echo held >/tmp/fl.out; while [ ! -e /tmp/fl.go ]; do sleep 0.1; done' &
holder=$!
i=0
until [ -s /tmp/fl.out ] || [ $i -ge 300 ]; do sleep 0.1; i=$((i + 1)); done
[ -s /tmp/fl.out ] || kc_fail "flock holder never got the lock"
must_fail "flock -n -x while another process holds it" flock -n -x "$L" -c true
must_fail "flock -n -s while another process holds it exclusively" flock -n -s "$L" -c true
(sleep 2; touch /tmp/fl.go) &
t0=$(kc_now)
flock -x "$L" -c true
waited=$(awk -v a="$t0" -v b="$(kc_now)" 'BEGIN { printf "%.1f", b - a }')
wait $holder
wait
awk -v w="$waited" 'BEGIN { exit !(w >= 1.0) }' || kc_fail "blocking flock returned after ${waited}s, before the holder let go"
echo "ok: blocking flock waited ${waited}s for the holder"
rm -f /tmp/fl.go /tmp/fl.out
flock -s "$L" -c 'echo s >/tmp/fl.out; while [ ! -e /tmp/fl.go ]; do sleep 0.1; done' &
holder=$!
until [ -s /tmp/fl.out ]; do sleep 0.1; done
flock -n -s "$L" -c true || kc_fail "second shared flock refused"
echo "ok: two shared flocks"
must_fail "flock -n -x while shared locks are held" flock -n -x "$L" -c true
touch /tmp/fl.go
wait $holder
flock -n -x "$L" -c true || kc_fail "exclusive flock refused after release"
echo "ok: exclusive flock after release"

# --------------------------------------------------------------------------
section "fcntl byte-range locks (kc-lock: one process = one lock owner)"
R=$T/ranges
dd if=/dev/zero of="$R" bs=4096 count=4 2>/dev/null
rm -f /tmp/rl.go /tmp/rl.out
kc-lock "$R" wait:w:0:100 wait:r:1000:100 say:holding until:/tmp/rl.go >/tmp/rl.out &
holder=$!
i=0
until grep -q holding /tmp/rl.out 2>/dev/null || [ $i -ge 300 ]; do sleep 0.1; i=$((i + 1)); done
grep -q holding /tmp/rl.out || kc_fail "range lock holder never got its locks"
try() { kc-lock "$R" "$@"; }
kc_expect "overlapping write lock refused" "$(try try:w:50:10 || true)" "busy w 50 10"
kc_expect "read lock inside a write lock refused" "$(try try:r:99:1 || true)" "busy r 99 1"
kc_expect "adjacent range granted" "$(try try:w:100:50)" "locked w 100 50"
kc_expect "shared read lock granted" "$(try try:r:1050:10)" "locked r 1050 10"
kc_expect "write lock in a read-locked range refused" "$(try try:w:1050:10 || true)" "busy w 1050 10"
kc_expect "F_GETLK reports the conflict" "$(try test:w:0:10)" "conflict w 0 100"
kc_expect "F_GETLK on a free range" "$(try test:w:5000:10)" free
kc_expect "whole-file lock refused" "$(try try:w:0:0 || true)" "busy w 0 0"
(sleep 2; touch /tmp/rl.go) &
t0=$(kc_now)
kc_expect "blocking lock granted after release" "$(try wait:w:0:200)" "locked w 0 200"
waited=$(awk -v a="$t0" -v b="$(kc_now)" 'BEGIN { printf "%.1f", b - a }')
wait $holder
wait
awk -v w="$waited" 'BEGIN { exit !(w >= 1.0) }' || kc_fail "blocking fcntl lock returned after ${waited}s, before the holder let go"
echo "ok: blocking fcntl lock waited ${waited}s"
# split a lock: hold 0-999, unlock 400-599 (LOCKU of the middle)
rm -f /tmp/rl.go /tmp/rl.out
kc-lock "$R" wait:w:0:1000 unlock:400:200 say:holding until:/tmp/rl.go >/tmp/rl.out &
holder=$!
until grep -q holding /tmp/rl.out 2>/dev/null; do sleep 0.1; done
kc_expect "hole in a split lock" "$(try try:w:450:100)" "locked w 450 100"
kc_expect "left part still locked" "$(try try:w:100:10 || true)" "busy w 100 10"
kc_expect "right part still locked" "$(try try:w:900:10 || true)" "busy w 900 10"
touch /tmp/rl.go
wait $holder
kc_expect "all free after the holder exits" "$(try try:w:0:0)" "locked w 0 0"
echo "  (flock and fcntl both take POSIX locks on NFS; another guest would be another client)"

# --------------------------------------------------------------------------
section "df (EFS: 8 EiB)"
df -P -k "$MNT" | sed 's/^/  /'
size_kib=$(df -P -k "$MNT" | awk 'NR == 2 { print $2 }')
avail_kib=$(df -P -k "$MNT" | awk 'NR == 2 { print $4 }')
# 2^50 KiB = 1 EiB; EFS reports 8 EiB
efs_expect "df size is at least 1 EiB ($size_kib KiB)" "$(awk -v s="$size_kib" 'BEGIN { print (s >= 1125899906842624) ? "huge" : "small" }')" huge
efs_expect "df available is at least 1 EiB ($avail_kib KiB)" "$(awk -v s="$avail_kib" 'BEGIN { print (s >= 1125899906842624) ? "huge" : "small" }')" huge
echo "  statfs: $(stat -f -c 'blocks=%b bsize=%S free=%f files=%c ffree=%d namelen=%l' "$MNT")"

# --------------------------------------------------------------------------
section "fsync and sync reach the server's disk"
dd if=/dev/urandom of="$W/r2m" bs=1048576 count=2 2>/dev/null
kc_time "dd 2 MiB conv=fsync" dd if="$W/r2m" of="$T/fsynced.bin" bs=1048576 conv=fsync 2>/dev/null
durable "$T/fsynced.bin" fsync
dd if="$W/r2m" of="$T/synced.bin" bs=65536 count=5 2>/dev/null
sync
durable "$T/synced.bin" sync

# --------------------------------------------------------------------------
section "a directory of 10,000 entries"
mkdir "$T/many"
cd "$T/many"
kc_time "create 10000 files" sh -c 'i=0; while [ $i -lt 10000 ]; do : >f$i; i=$((i + 1)); done'
cd "$T"
kc_time "ls -ln (10000)" sh -c "ls -ln '$T/many' >/tmp/ls.out"
kc_expect "ls -ln: regular files listed" "$(grep -c '^-' /tmp/ls.out)" 10000
kc_expect "ls -ln: owners" "$(awk '/^-/ && ($3 != 0 || $4 != 0)' /tmp/ls.out | wc -l)" 0
kc_drop_caches
kc_time "readdir (ls | wc, cold)" sh -c "ls '$T/many' >/tmp/names.out"
kc_expect "names listed" "$(wc -l </tmp/names.out)" 10000
kc_expect "names distinct" "$(sort -u /tmp/names.out | wc -l)" 10000
kc_expect "first/last name" "$(grep -cx -e f0 -e f9999 /tmp/names.out)" 2
kc_expect "nlink of the big dir" "$(stat -c %h "$T/many")" 2

rm -rf "$W"
echo "@@LOCALEFS DONE full"
