# localefs e2e guest workload: a mount target's security group decides, at each
# new connection, whether the client may mount (README "Four levels of access
# control", level 2).  Run by test/e2e/security-groups.test.ts:
# kclient.sh --host-addr <mount target address> --vers 4.0 --opts <4.0, soft>
# --control FIFO --env SG_OPTS=<4.1 EFS options>
# --env SG_RETRY_OPTS=<4.1, soft, fails fast> --env SG_FILE=<file name>
# --env SG_CONTENT=<one line, no spaces>.  busybox `sh -e`.
#
# The guest's only server address ($KC_SERVER_IP:2049) is relayed to the
# mount target's address, and the relay dials it from 127.0.0.1: that is the
# source address the mount target's security group judges.
#
#   guest: "@@SG <STEP>"            the host changes the group's rules with the
#                                  AWS CLI (DENY: only 10.99.0.0/16 admitted;
#                                  ALLOW: 127.0.0.1/32 added; REVOKE:
#                                  127.0.0.1/32 revoked), checks them with
#                                  describe-security-groups and writes
#                                  "<step>-ready" into the FIFO
#   guest: "@@SG VAL <key> <value>" values the host checks
#   guest: "@@SG DONE"              the end
#
# Why the harness mount ($MNT) is NFSv4.0 and soft: /init keeps $MNT as its
# cwd while the script runs, and an NFSv4.1 mount of the same address would
# share the harness mount's nfs_client and TCP connection, which the group
# admitted at boot and which rule changes do not cut (as on AWS).  So every
# mount under test is NFSv4.1 on $S, with a client and connection of its own
# that the group judges afresh.  $MNT is only read once, at the end, to show
# that its boot-time connection was not cut; soft,timeo=50,retrans=1 bound
# that read (and /init's final umount) should the connection be gone.

S=/mnt/sg
W=/tmp/sg
rm -rf "$W"
mkdir -p "$W" "$S"
cd /
[ -n "${SG_OPTS:-}" ] || kc_fail "SG_OPTS (the options of the mount that must work) is not set"
[ -n "${SG_RETRY_OPTS:-}" ] || kc_fail "SG_RETRY_OPTS (the options of the mounts that must fail) is not set"
[ -n "${SG_FILE:-}" ] || kc_fail "SG_FILE (the file name) is not set"
[ -n "${SG_CONTENT:-}" ] || kc_fail "SG_CONTENT (the file's content) is not set"

sg_mounted() { grep -q " $S " /proc/mounts; }
sg_mount_opts() { awk -v m="$S" '$2 == m { print $4 }' /proc/mounts; }
secs_since() { awk -v a="$1" -v b="$(kc_now)" 'BEGIN { printf "%.1f", b - a }'; }

# sg_ask STEP WORD: ask the host for STEP, wait for its answer WORD
sg_ask() {
    echo "@@SG $1"
    _t0=$(kc_now)
    kc_wait_host "$2" 240 || kc_fail "the host did not answer $1 with '$2' within 240 s"
    echo "time: host did $1 in $(secs_since "$_t0") s"
}

# sg_mount OPTIONS: mount the guest's server address on $S as the harness
# does; sets rc to the mount's status and msg to its output.  busybox timeout
# only guards against a hang (the soft options and retry=0 make mount.nfs
# give up by itself; 124/143 would mean the guard stopped it).
sg_mount() {
    _t0=$(kc_now)
    set +e
    if [ -x /sbin/mount.nfs ]; then
        timeout 240 /sbin/mount.nfs4 "$KC_SERVER_IP:/" "$S" -o "$1" >"$W/mount.out" 2>&1
    else
        timeout 240 mount -t nfs4 -o "$1,addr=$KC_SERVER_IP" "$KC_SERVER_IP:/" "$S" >"$W/mount.out" 2>&1
    fi
    rc=$?
    set -e
    msg=$(tr '\n' ' ' <"$W/mount.out")
    mount_secs=$(secs_since "$_t0")
}

# sg_refused STEP: a mount the group must refuse
sg_refused() {
    sg_mount "$SG_RETRY_OPTS"
    echo "mount at $1: status $rc after $mount_secs s: $msg"
    echo "@@SG VAL $1-status $rc"
    if sg_mounted; then
        echo "@@SG VAL $1-mounted yes"
        umount -f -l "$S" 2>/dev/null || true
        kc_fail "the mount at $1 is in /proc/mounts: the group did not refuse it"
    fi
    echo "@@SG VAL $1-mounted no"
    [ "$rc" != 0 ] || kc_fail "the mount at $1 succeeded"
    echo "ok: the mount at $1 fails"
}

# ---- 0. the harness mount came through the mount target ----------------------
echo "harness mount (\$MNT): $(kc_mount_opts)"
case ",$(kc_mount_opts)," in
*,vers=4.0,*) echo "ok: harness mount is NFSv4.0" ;;
*) kc_fail "the harness mount is not NFSv4.0: $(kc_mount_opts)" ;;
esac

# ---- 1. DENY: the group admits only 10.99.0.0/16 -------------------------------
sg_ask DENY deny-ready
sg_refused deny

# ---- 2. ALLOW: 127.0.0.1/32 added; NFSv4.1 with the EFS options ----------------
sg_ask ALLOW allow-ready
sg_mount "$SG_OPTS"
echo "mount at allow: status $rc after $mount_secs s: $msg"
echo "@@SG VAL allow-status $rc"
[ "$rc" = 0 ] || kc_fail "the mount at allow failed (status $rc): $msg"
sg_mounted || kc_fail "$S is not in /proc/mounts after the mount at allow"
echo "sg mount ($S): $(sg_mount_opts)"
case ",$(sg_mount_opts)," in
*,vers=4.1,*) echo "ok: mounted with NFSv4.1 through the mount target" ;;
*) kc_fail "the mount on $S is not NFSv4.1: $(sg_mount_opts)" ;;
esac
kc_expect "the new file system is empty" "$(ls -A "$S")" ""
printf '%s\n' "$SG_CONTENT" >"$S/$SG_FILE"
sync
kc_drop_caches
got=$(cat "$S/$SG_FILE")
echo "@@SG VAL allow-read $got"
kc_expect "read back through the mount target" "$got" "$SG_CONTENT"
set +e
umount "$S"
urc=$?
set -e
echo "@@SG VAL allow-umount-status $urc"
[ "$urc" = 0 ] || kc_fail "umount $S failed (status $urc)"
if sg_mounted; then kc_fail "$S is still mounted after umount"; fi
echo "ok: unmounted $S"

# ---- 3. REVOKE: 127.0.0.1/32 revoked -------------------------------------------
sg_ask REVOKE revoke-ready
sg_refused revoke

# ---- 4. the harness mount's boot-time connection was not cut -------------------
# (NFSv4.0, opened when the group still had its boot rule; rule changes apply
# to new connections only.  OPEN goes to the server: EFS hands out no
# delegations.  `timeout` only guards against a hang.)
set +e
timeout 60 cat "$MNT/$SG_FILE" >"$W/harness.out" 2>"$W/harness.err"
hrc=$?
set -e
echo "read through the harness mount after revoke: status $hrc: $(tr '\n' ' ' <"$W/harness.err")"
echo "@@SG VAL harness-read-status $hrc"
echo "@@SG VAL harness-read $(cat "$W/harness.out")"
[ "$hrc" = 0 ] || kc_fail "the harness mount's open connection no longer reads after the revoke"
echo "ok: the harness mount's open connection still reads after the revoke"

echo "@@SG DONE"
