# localefs e2e guest workload: mount through a mount target made with the EFS
# management API, then lose it when the host deletes the mount target.
# Run by test/e2e/api-kernel.test.ts: kclient.sh --host-addr <mount target
# address> --vers 4.0 --opts <4.0, soft> --control FIFO
# --env API_OPTS=<4.1 EFS options> --env API_RETRY_OPTS=<4.1, soft, fails fast>
# --env API_FILE=<file name>.  busybox `sh -e`.
#
# The guest's only server address ($KC_SERVER_IP:2049) is relayed to the
# mount target's address, so every mount here goes through the mount target.
#
#   guest: "@@API WROTE <name> <size> <sha256>"  the host looks for the file in
#                                               its data dir (no answer)
#   guest: "@@API DELETE-MT"                    the host deletes the mount
#                                               target through the API, waits
#                                               until it is gone and writes
#                                               "mt-deleted" into the FIFO
#   guest: "@@API VAL <key> <value>"            values the host checks
#   guest: "@@API DONE"                         the end
#
# Why the harness mount ($MNT) is NFSv4.0 and soft: /init keeps $MNT as its
# cwd while the script runs, so the script cannot unmount it; and an NFSv4.1
# mount of the same address would share the harness mount's nfs_client and
# TCP connection.  So the mount under test is NFSv4.1 on $S (a client and
# connection of its own, unmounted cleanly before the mount target goes), and
# $MNT, NFSv4.0, is only read once before and once after.  Once the mount
# target is deleted the server has closed $MNT's connection and nothing
# answers on the address any more; soft,timeo=50,retrans=1 make its requests
# (and /init's final umount) fail after seconds instead of retrying forever.

S=/mnt/api
W=/tmp/api
rm -rf "$W"
mkdir -p "$W" "$S"
cd /
[ -n "${API_OPTS:-}" ] || kc_fail "API_OPTS (the mount options under test) is not set"
[ -n "${API_RETRY_OPTS:-}" ] || kc_fail "API_RETRY_OPTS (the options of the mount after the delete) is not set"
[ -n "${API_FILE:-}" ] || kc_fail "API_FILE (the file name) is not set"

api_mounted() { grep -q " $S " /proc/mounts; }
api_mount_opts() { awk -v m="$S" '$2 == m { print $4 }' /proc/mounts; }
# api_mount OPTIONS: mount the guest's server address on $S as the harness does
api_mount() {
    if [ -x /sbin/mount.nfs ]; then
        /sbin/mount.nfs4 "$KC_SERVER_IP:/" "$S" -o "$1"
    else
        mount -t nfs4 -o "$1,addr=$KC_SERVER_IP" "$KC_SERVER_IP:/" "$S"
    fi
}
secs_since() { awk -v a="$1" -v b="$(kc_now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---- 0. the harness mount came through the mount target too -----------------
echo "harness mount (\$MNT): $(kc_mount_opts)"
case ",$(kc_mount_opts)," in
*,vers=4.0,*) echo "ok: harness mount is NFSv4.0" ;;
*) kc_fail "the harness mount is not NFSv4.0: $(kc_mount_opts)" ;;
esac

# ---- 1. NFSv4.1 with the EFS options through the mount target ----------------
api_mount "$API_OPTS" || kc_fail "mounting through the mount target failed"
api_mounted || kc_fail "$S is not in /proc/mounts after the mount"
echo "api mount ($S): $(api_mount_opts)"
case ",$(api_mount_opts)," in
*,vers=4.1,*) echo "ok: mounted with NFSv4.1 through the mount target" ;;
*) kc_fail "the mount on $S is not NFSv4.1: $(api_mount_opts)" ;;
esac
kc_expect "the new file system is empty" "$(ls -A "$S")" ""

# ---- 2. write a file, read it back ---------------------------------------------------
dd if=/dev/urandom of="$W/data" bs=65536 count=16 2>/dev/null
want=$(kc_sha "$W/data")
size=$(stat -c %s "$W/data")
cp "$W/data" "$S/$API_FILE"
sync
echo "@@API WROTE $API_FILE $size $want"
kc_drop_caches
kc_expect "read back through the mount target" "$(kc_sha "$S/$API_FILE")" "$want"
kc_expect "the file through the harness mount (NFSv4.0, same mount target)" "$(kc_sha "$MNT/$API_FILE")" "$want"
kc_expect "ls on the mount under test" "$(ls -A "$S")" "$API_FILE"
umount "$S"
if api_mounted; then kc_fail "$S is still mounted after umount"; fi
echo "ok: unmounted $S"

# ---- 3. the host deletes the mount target ------------------------------------------
echo "@@API DELETE-MT"
t0=$(kc_now)
kc_wait_host mt-deleted 240 || kc_fail "the host did not report the mount target deleted within 240 s"
echo "time: host deleted the mount target $(secs_since "$t0") s"

# ---- 4. a new mount of the same address fails ---------------------------------------
# (busybox timeout only guards against a hang; the soft options and retry=0
# make mount.nfs give up by itself)
t0=$(kc_now)
set +e
if [ -x /sbin/mount.nfs ]; then
    timeout 240 /sbin/mount.nfs4 "$KC_SERVER_IP:/" "$S" -o "$API_RETRY_OPTS" >"$W/mount.out" 2>&1
else
    timeout 240 mount -t nfs4 -o "$API_RETRY_OPTS,addr=$KC_SERVER_IP" "$KC_SERVER_IP:/" "$S" >"$W/mount.out" 2>&1
fi
rc=$?
set -e
msg=$(tr '\n' ' ' <"$W/mount.out")
echo "mount after the delete: status $rc after $(secs_since "$t0") s: $msg"
if [ "$rc" = 0 ] || api_mounted; then
    umount -f -l "$S" 2>/dev/null || true
    kc_fail "mounting the deleted mount target's address succeeded"
fi
echo "@@API VAL remount-status $rc"
echo "ok: a new mount fails after DeleteMountTarget"

# ---- 5. the existing (harness) mount is broken too -----------------------------------
# NFSv4 OPEN always goes to the server (EFS hands out no delegations).  With
# its connection gone the NFSv4.0 client first tries to recover its lease,
# and an OPEN waits for that recovery, soft mount or not: the read either
# fails or hangs.  A live connection would answer within a second, so after
# 30 s `timeout` stops it (status 143) and that counts as broken as well.
t0=$(kc_now)
set +e
timeout 30 cat "$MNT/$API_FILE" >/dev/null 2>"$W/cat.err"
rc=$?
set -e
echo "read through the existing mount after the delete: status $rc after $(secs_since "$t0") s: $(tr '\n' ' ' <"$W/cat.err")"
[ "$rc" != 0 ] || kc_fail "the existing mount still reads the file after DeleteMountTarget"
echo "@@API VAL old-mount-status $rc"
echo "ok: the existing mount fails after DeleteMountTarget"

echo "@@API DONE"
