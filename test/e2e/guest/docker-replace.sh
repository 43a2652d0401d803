# localefs e2e guest workload: the container serving the mount is removed
# (`docker rm -f`) and a new one is started on the same volume while the
# client keeps the mount (hard).  Run with kclient.sh --opts efs --control
# FIFO (test/e2e/docker.test.ts).  busybox `sh -e`, cwd = $MNT.
#
# Protocol with the host test:
#   guest: "@@LOCALEFS ID before|after|fresh NAME INODE HANDLE"
#                                      inode number and the kernel's export
#                                      handle (name_to_handle_at, which embeds
#                                      the server's NFS file handle) of a file,
#                                      a directory and a symlink
#   guest: "@@LOCALEFS REPLACE"     -> the host removes the container, starts a
#                                      new one on the same volume and ports,
#                                      waits for it to be healthy, then writes
#                                      "replaced" into the control FIFO
#   guest: "@@LOCALEFS REPLACE-OK"  after every check below passed

D=$MNT/docker
W=/tmp/docker
rm -rf "$D" "$W"
mkdir -p "$D/dir" "$W"
echo "client $(uname -r), mount options: $(kc_mount_opts)"

# name_to_handle_at(2) (x86_64 syscall 303), the symlink itself (no
# AT_SYMLINK_FOLLOW): the NFS client's export handle holds the server's file
# handle, so equal hex before and after means the server handed out the same
# handle.  Prints "-" when the kernel will not say.
fh() {
    perl -e '
        my $buf = pack("LL", 128, 0) . ("\0" x 128);
        my $mnt = pack("l", 0);
        if (syscall(303, -100, $ARGV[0], $buf, $mnt, 0) != 0) { print "-\n"; exit 0 }
        my ($n, $type) = unpack("LL", $buf);
        printf "%d:%s\n", $type, unpack("H*", substr($buf, 8, $n));
    ' "$1"
}
ids() { # ids WHEN: one line per object
    for n in file.txt data.bin dir dir/inner.txt link; do
        echo "@@LOCALEFS ID $1 $n $(stat -c %i "$D/$n") $(fh "$D/$n")"
    done
}

echo "hello from before the replacement" >"$D/file.txt"
dd if=/dev/urandom of="$W/data" bs=65536 count=8 2>/dev/null # 512 KiB
dd if="$W/data" of="$D/data.bin" bs=65536 conv=fsync 2>/dev/null
SUM=$(kc_sha "$W/data")
echo inner >"$D/dir/inner.txt"
ln -s file.txt "$D/link"
# a file held open across the replacement (its OPEN is reclaimed)
exec 5>>"$D/held.log"
echo "line 1 (before)" >&5
sync
kc_expect "data written before" "$(kc_sha "$D/data.bin")" "$SUM"
ids before >"$W/before"
cat "$W/before"
grep -q ' - *$' "$W/before" && echo "note: name_to_handle_at gave no handle; inode numbers only"
cd "$D/dir" # the cwd's handle must survive too

echo "@@LOCALEFS REPLACE"
t0=$(kc_now)
kc_wait_host replaced 300 || kc_fail "the host did not report a new container within 300 s"
echo "host says: replaced (after $(awk -v a="$t0" -v b="$(kc_now)" 'BEGIN { printf "%.1f", b - a }') s)"

# first through the handles the client cached before (no ESTALE allowed) ...
t1=$(kc_now)
kc_expect "cwd survives (open relative to it)" "$(cat inner.txt)" inner
echo "time: first open after the replacement took $(awk -v a="$t1" -v b="$(kc_now)" 'BEGIN { printf "%.2f", b - a }') s"
kc_expect "file through the cached handle" "$(cat "$D/file.txt")" "hello from before the replacement"
kc_expect "data through the cached handle" "$(kc_sha "$D/data.bin")" "$SUM"
kc_expect "symlink through the cached handle" "$(readlink "$D/link")" file.txt
kc_expect "file through the symlink" "$(cat "$D/link")" "hello from before the replacement"
kc_expect "directory listing" "$(ls "$D/dir" | tr '\n' ' ')" "inner.txt "
ids after >"$W/after"
cat "$W/after"
kc_expect "inode numbers and handles (cached)" "$(sed 's/ before / X /' "$W/before")" "$(sed 's/ after / X /' "$W/after")"

# ... then fresh LOOKUPs: the new container hands out the same handles
cd "$MNT"
kc_drop_caches
kc_expect "data after dropping caches" "$(kc_sha "$D/data.bin")" "$SUM"
kc_expect "symlink after dropping caches" "$(readlink "$D/link")" file.txt
ids fresh >"$W/fresh"
cat "$W/fresh"
kc_expect "inode numbers and handles (fresh lookups)" "$(sed 's/ before / X /' "$W/before")" "$(sed 's/ fresh / X /' "$W/fresh")"

# the file held open: write through the reclaimed open
echo "line 2 (after)" >&5
exec 5>&-
kc_expect "held-open file written across the replacement" "$(tr '\n' '|' <"$D/held.log")" "line 1 (before)|line 2 (after)|"

# and the new container takes new data
echo "after" >"$D/dir/created-after"
mkdir "$D/newdir"
ln -s dir/created-after "$D/newlink"
kc_drop_caches
kc_expect "create after the replacement" "$(cat "$D/newlink")" after
echo "@@LOCALEFS REPLACE-OK"
