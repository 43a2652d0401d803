# localefs e2e guest workload: the EFS security model (file system policy,
# root squash, read-only, denied mounts, access points, TLS required) as the
# Linux client sees it through an efs-utils style stunnel.
# Run by test/e2e/security.test.ts: kclient.sh --vers 4.0 --control FIFO
# --env SEC_OPTS=<the 4.1 EFS mount options>.  busybox `sh -e`.
#
# Every scenario has its own server configuration, so each mounts the guest's
# server port itself, on $S, with $SEC_OPTS (NFSv4.1), after the host has set
# up the scenario's server and stunnel:
#   guest: "@@SEC STAGE <name>"      -> the host stops the previous stunnel
#                                       and server, starts the ones of <name>,
#                                       points the guest's port at them and
#                                       writes "go-<name>" into the FIFO
#   guest: "@@SEC BEGIN <name>" ... "@@SEC END <name> <status>"
#                                       one scenario; it runs in a subshell,
#                                       so a failure ends that scenario only
#   guest: "@@SEC VAL <key> <value>"   values the host checks in its data dir
# The script fails at the end if any scenario failed.
#
# Why not reuse the harness' mount on $MNT: /init's cwd is $MNT while the
# script runs, so $MNT cannot be unmounted, and while it is mounted every new
# NFSv4.1 mount of the same server address shares its nfs_client (and its one
# TCP connection, so its grant).  The harness mount is therefore an NFSv4.0
# "anchor" to a separate server that nobody uses; NFSv4.0 and NFSv4.1 mounts
# never share an nfs_client, so every scenario mount below starts from a
# fresh client with its own connection(s).

W=/tmp/sec
S=/mnt/sec
rm -rf "$W"
mkdir -p "$W" "$S"
cd /
FAILED=
[ -n "${SEC_OPTS:-}" ] || kc_fail "SEC_OPTS (the scenario mount options) is not set"

sec_mounted() { grep -q " $S " /proc/mounts; }
# the options the kernel really uses for $S
sec_mount_opts() { awk -v m="$S" '$2 == m { print $4 }' /proc/mounts; }

# sec_mount [SERVER-PATH]: mount the guest's server port on $S the way the
# harness mounts (mount.nfs4), with the EFS options at NFSv4.1
sec_mount() {
    if [ -x /sbin/mount.nfs ]; then
        /sbin/mount.nfs4 "$KC_SERVER_IP:${1:-/}" "$S" -o "$SEC_OPTS"
    else
        mount -t nfs4 -o "$SEC_OPTS,addr=$KC_SERVER_IP" "$KC_SERVER_IP:${1:-/}" "$S"
    fi
}

sec_umount() {
    cd /
    if sec_mounted; then umount "$S"; fi
}

sec_stage() {
    sec_umount
    echo "@@SEC STAGE $1"
    _st_t0=$(kc_now)
    kc_wait_host "go-$1" 180 || kc_fail "the host did not set up stage $1 within 180 s"
    awk -v a="$_st_t0" -v b="$(kc_now)" -v l="$1" 'BEGIN { printf "time: host set up %-20s %7.2f s\n", l, b - a }'
}

sec_run() {
    echo "@@SEC BEGIN $1"
    _sr_t0=$(kc_now)
    set +e
    (
        set -e
        "$2"
    )
    _sr_rc=$?
    set -e
    cd /
    awk -v a="$_sr_t0" -v b="$(kc_now)" -v l="$1" 'BEGIN { printf "time: scenario %-24s %7.2f s\n", l, b - a }'
    echo "@@SEC END $1 $_sr_rc"
    [ "$_sr_rc" = 0 ] || FAILED="$FAILED $1"
}

# sec_refused LABEL CMD [ARG...]: CMD must fail; prints its error message
sec_refused() {
    _rf_label=$1
    shift
    if "$@" >"$W/out" 2>&1; then kc_fail "$_rf_label: succeeded"; fi
    echo "ok: $_rf_label: refused ($(tr '\n' ' ' <"$W/out"))"
}

# sec_mount_denied KEY LABEL: the mount must fail with a permission error.
# EFS users see "mount.nfs4: access denied by server" (EACCES); a refusal of
# the root lookup with NFS4ERR_ACCESS reaches mount(2) as EPERM instead ("Operation
# not permitted": Linux's nfs4_find_root_sec maps -EACCES to -EPERM), so both
# count as refused here and "@@SEC VAL KEY.errno EACCES|EPERM" tells which.
sec_mount_denied() {
    _md_t0=$(kc_now)
    if sec_mount >"$W/mount.out" 2>&1; then
        sec_umount
        kc_fail "$2: the mount succeeded"
    fi
    _md_msg=$(tr '\n' ' ' <"$W/mount.out")
    echo "$2: mount.nfs4 failed after $(awk -v a="$_md_t0" -v b="$(kc_now)" 'BEGIN { printf "%.2f", b - a }') s: $_md_msg"
    case "$_md_msg" in
    *"access denied by server"*) _md_errno=EACCES ;;
    *"Operation not permitted"*) _md_errno=EPERM ;;
    *) kc_fail "$2: the mount failed, but not with a permission error: $_md_msg" ;;
    esac
    echo "@@SEC VAL $1.errno $_md_errno"
    echo "ok: $2: mount refused ($_md_errno)"
    if sec_mounted; then kc_fail "$2: $S is mounted after the failed mount"; fi
}

# sec_opcount OP: how many OP calls the client sent for the mount on $S
sec_opcount() {
    awk -v m=" $S " -v op="$1:" '
        /^device / { cur = index($0, m) > 0 }
        cur && $1 == op { print $2; exit }' /proc/self/mountstats
}

# ---------------------------------------------------------------------------
# 1. no policy, TLS through stunnel, 4.1 with the EFS options
s1_tls() {
    sec_mount
    cd "$S"
    echo "mount options: $(sec_mount_opts)"
    case ",$(sec_mount_opts)," in
    *,vers=4.1,*rsize=1048576,wsize=1048576,*hard,*) echo "ok: s1: mounted with NFSv4.1 and the EFS options" ;;
    *) kc_fail "s1: not mounted with NFSv4.1 and the EFS options: $(sec_mount_opts)" ;;
    esac
    echo "s1: the root: $(stat -c '%a %u:%g' .)"
    dd if=/dev/urandom of="$W/s1.bin" bs=65536 count=32 2>/dev/null # 2 MiB
    cp "$W/s1.bin" tls-file.bin
    sync
    kc_drop_caches
    kc_expect "s1: 2 MiB written and read back over TLS" "$(kc_sha tls-file.bin)" "$(kc_sha "$W/s1.bin")"
    echo "@@SEC VAL s1.sha $(kc_sha "$W/s1.bin")"
    # root has full access here: prepare the next scenarios (same data dir)
    chown 1234:1234 tls-file.bin
    kc_expect "s1: root may chown (ClientRootAccess by default)" "$(stat -c %u:%g tls-file.bin)" 1234:1234
    mkdir squash
    chmod 0777 squash
    kc_expect "s1: squash/ is world-writable" "$(stat -c %a:%u:%g squash)" 777:0:0
    mkdir ro
    echo "written in s1 with full access" >ro/keep.txt
    kc_sha ro/keep.txt >"$W/keep.sha"
    echo "@@SEC VAL keep.sha $(cat "$W/keep.sha")"
    sync
}

# 2. P2 (ClientMount + ClientWrite, no ClientRootAccess): root is squashed
s2_root_squash() {
    sec_mount
    cd "$S"
    touch squash/by-root
    kc_expect "s2: a file root creates is owned by 65534:65534" "$(stat -c %u:%g squash/by-root)" 65534:65534
    mkdir squash/dir-by-root
    kc_expect "s2: a directory root creates is owned by 65534:65534" "$(stat -c %u:%g squash/dir-by-root)" 65534:65534
    echo "written by a squashed root" >squash/by-root
    kc_expect "s2: writes are allowed (ClientWrite)" "$(cat squash/by-root)" "written by a squashed root"
    sec_refused "s2: chown 0 of the squashed root's own file" chown 0 squash/by-root
    grep -q "Operation not permitted" "$W/out" || kc_fail "s2: chown 0 failed, but not with EPERM: $(cat "$W/out")"
    echo "ok: s2: chown 0 fails with EPERM"
    sec_refused "s2: chown 0:0 of root's file (owned 1234)" chown 0:0 tls-file.bin
    # root does not bypass mode bits any more: / is 755 root, ro/keep.txt 644 root
    sec_refused "s2: create in the root-owned 755 root directory" touch in-root
    sec_refused "s2: append to a root-owned 644 file" sh -c 'echo more >>ro/keep.txt'
    kc_drop_caches
    kc_expect "s2: owner after the refused chown: 65534:65534" "$(stat -c %u:%g squash/by-root)" 65534:65534
    kc_expect "s2: ro/keep.txt untouched" "$(kc_sha ro/keep.txt)" "$(cat "$W/keep.sha")"
    [ ! -e in-root ] || kc_fail "s2: in-root exists"
    ls -ln squash
}

# 3. P3 (ClientMount only): a read-only connection
s3_read_only() {
    sec_mount
    cd "$S"
    kc_expect "s3: the existing file is readable" "$(kc_sha ro/keep.txt)" "$(cat "$W/keep.sha")"
    kc_expect "s3: the s1 file is readable" "$(kc_sha tls-file.bin)" "$(kc_sha "$W/s1.bin")"
    # squash/ is 0777: only the missing ClientWrite stops these
    sec_refused "s3: touch in a world-writable directory" touch squash/new
    grep -q "Permission denied" "$W/out" || kc_fail "s3: touch failed, but not with EACCES: $(cat "$W/out")"
    echo "ok: s3: touch fails with EACCES"
    sec_refused "s3: mkdir in a world-writable directory" mkdir squash/newdir
    # squash/by-root belongs to 65534, which root is squashed to again here
    sec_refused "s3: write to a file the squashed root owns" sh -c 'echo x >squash/by-root'
    sec_refused "s3: append to it" sh -c 'echo more >>squash/by-root'
    sec_refused "s3: set its times" touch -c squash/by-root
    sec_refused "s3: chmod it" chmod 600 squash/by-root
    sec_refused "s3: rename it" mv squash/by-root squash/renamed
    sec_refused "s3: hard link to it" ln squash/by-root squash/hard
    sec_refused "s3: symlink" ln -s by-root squash/sym
    sec_refused "s3: remove it" rm -f squash/by-root
    sec_refused "s3: rmdir" rmdir squash/dir-by-root
    sec_refused "s3: append to the root-owned file" sh -c 'echo more >>ro/keep.txt'
    kc_drop_caches
    kc_expect "s3: the existing file is unchanged" "$(kc_sha ro/keep.txt)" "$(cat "$W/keep.sha")"
    kc_expect "s3: ro/ unchanged" "$(ls -a ro | tr '\n' ' ')" ". .. keep.txt "
    kc_expect "s3: squash/ unchanged" "$(ls -a squash | tr '\n' ' ')" ". .. by-root dir-by-root "
    kc_expect "s3: squash/by-root unchanged" "$(cat squash/by-root):$(stat -c %a:%u:%g squash/by-root)" "written by a squashed root:644:65534:65534"
}

# 4. P6 (one IAM role may mount): an anonymous mount is refused
s4_denied() {
    sec_mount_denied s4 "s4: anonymous TLS mount under a single-role policy"
}

# 5. an access point: PosixUser 1001:1002, root /apps/one created 1001:1002 0750
s5_access_point() {
    sec_mount
    cd "$S"
    kc_expect "s5: the mount root is the access point root, made with CreationInfo 750 1001:1002" "$(stat -c %a:%u:%g .)" 750:1001:1002
    kc_expect "s5: the access point root starts empty (the file system root's apps/ is not visible)" "$(ls -a | tr '\n' ' ')" ". .. "
    touch by-root
    mkdir sub
    mkdir sub/deep
    echo hello >sub/f
    kc_expect "s5: a file root creates is owned by the PosixUser 1001:1002" "$(stat -c %u:%g by-root)" 1001:1002
    kc_expect "s5: a directory root creates is owned by the PosixUser 1001:1002" "$(stat -c %u:%g sub)" 1001:1002
    kc_expect "s5: a nested file is owned by the PosixUser 1001:1002" "$(stat -c %u:%g sub/f)" 1001:1002
    sec_refused "s5: chown 0 (the PosixUser is not root)" chown 0 by-root
    ROOT_INO=$(stat -c %i .)
    echo "@@SEC VAL s5.rootino $ROOT_INO"
    # `..` at a mount root is resolved by the guest's VFS (it leads to the
    # mount point's parent) and never reaches the server.  The kernel asks the
    # server for a parent (LOOKUPP) only when it reconnects a directory opened
    # by file handle: name_to_handle_at, drop the caches, open_by_handle_at.
    cat >"$W/fhparent.pl" <<'EOF'
my ($mnt, $dir) = @ARGV;
my $h = pack('LL', 128, 0) . ("\0" x 128);
my $mid = pack('L', 0);
syscall(303, -100, $dir, $h, $mid, 0) == 0 or die "name_to_handle_at $dir: $!\n";
if (open(my $dc, '>', '/proc/sys/vm/drop_caches')) { print $dc "3\n"; close $dc; }
open(my $m, '<', $mnt) or die "open $mnt: $!\n";
my $fd = syscall(304, fileno($m), $h, 0x10000);
$fd >= 0 or die "open_by_handle_at: $!\n";
print readlink("/proc/self/fd/$fd"), "\n";
EOF
    _lp0=$(sec_opcount LOOKUPP)
    kc_expect "s5: sub/deep opened by handle reconnects under the access point root" \
        "$(perl "$W/fhparent.pl" "$S" "$S/sub/deep")" "$S/sub/deep"
    _lp1=$(sec_opcount LOOKUPP)
    echo "s5: LOOKUPP calls sent for the reconnect: $((_lp1 - _lp0))"
    [ "$_lp1" -gt "$_lp0" ] || kc_fail "s5: the reconnect sent no LOOKUPP (mountstats: $_lp0 -> $_lp1)"
    echo "ok: s5: the reconnect asked the server for parents (LOOKUPP)"
    kc_expect "s5: the access point root after the reconnect" "$(stat -c %i:%a:%u:%g .)" "$ROOT_INO:750:1001:1002"
    # mounts of paths below the access point root resolve under it
    sec_umount
    sec_mount /sub
    kc_expect "s5: mounting /sub through the access point reaches its sub/" "$(cat "$S/f")" hello
    sec_umount
    sec_mount /sub/..
    kc_expect "s5: mounting /sub/.. through the access point is its root" "$(stat -c %i "$S")" "$ROOT_INO"
    sec_umount
    sec_mount /..
    kc_expect "s5: mounting /.. through the access point is its root" "$(stat -c %i "$S")" "$ROOT_INO"
    kc_expect "s5: listing of /.. through the access point" "$(ls -a "$S" | tr '\n' ' ')" ". .. by-root sub "
    sec_umount
    # the file system's own path to the access point root is not under it
    if sec_mount /apps/one >"$W/out" 2>&1; then
        ls -la "$S"
        sec_umount
        kc_fail "s5: /apps/one could be mounted through the access point"
    fi
    echo "ok: s5: /apps/one is not reachable through the access point ($(tr '\n' ' ' <"$W/out"))"
}

# 6. P4 (allow all, deny aws:SecureTransport=false): plain refused, TLS works
s6_plain_refused() {
    sec_mount_denied s6 "s6: plain (non-TLS) mount under a deny-non-TLS policy"
}

s6_tls_works() {
    sec_mount
    cd "$S"
    dd if=/dev/urandom of="$W/s6.bin" bs=65536 count=4 2>/dev/null
    cp "$W/s6.bin" over-tls.bin
    sync
    kc_drop_caches
    kc_expect "s6: TLS mount: written and read back" "$(kc_sha over-tls.bin)" "$(kc_sha "$W/s6.bin")"
    echo "@@SEC VAL s6.sha $(kc_sha "$W/s6.bin")"
    chown 1234:1234 over-tls.bin
    kc_expect "s6: TLS mount: root may chown (ClientRootAccess)" "$(stat -c %u:%g over-tls.bin)" 1234:1234
}

sec_stage s1
sec_run s1 s1_tls
sec_stage s2
sec_run s2 s2_root_squash
sec_stage s3
sec_run s3 s3_read_only
sec_stage s4
sec_run s4 s4_denied
sec_stage s5
sec_run s5 s5_access_point
sec_stage s6-plain
sec_run s6-plain s6_plain_refused
sec_stage s6-tls
sec_run s6-tls s6_tls_works
sec_umount
[ -z "$FAILED" ] || kc_fail "scenarios failed:$FAILED"
echo "@@SEC DONE"
