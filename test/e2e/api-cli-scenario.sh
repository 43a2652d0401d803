#!/usr/bin/env bash
# localefs e2e: the real AWS CLI against the EFS management API.
#
# Run by test/e2e/api-cli.test.ts, which starts the server and checks every
# step; it also runs by hand against a running server:
#
#   AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 \
#   AWS_PAGER= API_ENDPOINT=http://127.0.0.1:8049 NFS_PORT=2049 MT_IP=127.0.0.5 \
#       test/e2e/api-cli-scenario.sh
#
# Environment: API_ENDPOINT (--endpoint-url), NFS_PORT (the server's NFS
# port, where a mount target listens on its own address), MT_IP (a free
# 127.0.0.x for the mount target), TOKEN (creation token; default: a fresh
# one), AWS_CLI (default /usr/bin/aws: Debian's awscli package, CLI v2; an
# `aws` earlier on PATH may be another version).  The AWS_* credentials,
# region and config come from the caller.
#
# The scenario never stops at a failed step: each step's outcome is printed
# for the test to check, as
#   @@CLI OUT  <step> <line>     the step's stdout (the CLI's JSON or text), line by line
#   @@CLI ERR  <step> <line>     the step's stderr, line by line
#   @@CLI STEP <step> <status>   the CLI's exit status (0 ok, 254 a service error, 252 usage)
#   @@CLI VAL  <name> <value>    a value found by polling or probing
#   @@CLI DONE                   the end
# Needs bash (for /dev/tcp) and nothing but the CLI: fields are picked with
# the CLI's own --query where the script needs them, everything else is left
# to the test.

set -u
AWS=${AWS_CLI:-/usr/bin/aws}
: "${API_ENDPOINT:?API_ENDPOINT (the --endpoint-url) is not set}"
: "${NFS_PORT:?NFS_PORT (the server NFS port) is not set}"
: "${MT_IP:?MT_IP (the mount target address) is not set}"
TOKEN=${TOKEN:-api-cli-$(date +%s)-$$}
SUBNET=subnet-0123456789abcdef0
MISSING_FS=fs-00000000000000000 # well-formed (17 hex digits), never created
if [ ! -x "$AWS" ]; then
    echo "@@CLI FATAL $AWS not found: install Debian's awscli package (apt-get install awscli)"
    exit 2
fi
W=$(mktemp -d "${TMPDIR:-/tmp}/api-cli.XXXXXX")
trap 'rm -rf "$W"' EXIT

# efs FORMAT ARGS...: aws efs ARGS... with --output FORMAT
efs() {
    local format=$1
    shift
    "$AWS" --endpoint-url "$API_ENDPOINT" --output "$format" efs "$@"
}

# step NAME ARGS...: run `aws efs ARGS...` and report it
step() {
    local name=$1 rc
    shift
    efs json "$@" >"$W/out" 2>"$W/err" </dev/null
    rc=$?
    sed "s/^/@@CLI OUT $name /" "$W/out"
    sed "s/^/@@CLI ERR $name /" "$W/err"
    echo "@@CLI STEP $name $rc"
    return $rc
}

# text NAME ARGS...: like step, with --output text; the value also goes to $W/NAME
text() {
    local name=$1 rc
    shift
    efs text "$@" >"$W/$name" 2>"$W/err" </dev/null
    rc=$?
    sed "s/^/@@CLI OUT $name /" "$W/$name"
    sed "s/^/@@CLI ERR $name /" "$W/err"
    echo "@@CLI STEP $name $rc"
    return $rc
}
value() { tr -d '\r\n' <"$W/$1"; }

# poll NAME WANT ARGS...: repeat `aws efs ARGS... --output text` (a --query
# that prints one word) until it prints WANT, for up to 120 tries; reports
# "@@CLI VAL NAME <last output>".  Stops early on a usage error (252) or when
# the endpoint does not answer (255).
poll() {
    local name=$1 want=$2 got="" i rc
    shift 2
    for i in $(seq 1 120); do
        efs text "$@" >"$W/poll" 2>&1 </dev/null
        rc=$?
        got=$(tr -d '\r' <"$W/poll" | tr '\n' ' ' | sed 's/ *$//')
        [ "$got" = "$want" ] || [ $rc = 252 ] || [ $rc = 255 ] && break
        sleep 0.5
    done
    echo "@@CLI VAL $name $got"
}

# poll_gone NAME ARGS...: repeat `aws efs ARGS...` until it fails with a
# service error (status 254), for up to 120 tries; reports the last status
poll_gone() {
    local name=$1 rc=0 i
    shift
    for i in $(seq 1 120); do
        efs json "$@" >/dev/null 2>&1 </dev/null
        rc=$?
        [ $rc = 254 ] || [ $rc = 252 ] || [ $rc = 255 ] && break
        sleep 0.5
    done
    echo "@@CLI VAL $name $rc"
}

# tcp NAME ADDR PORT: "open" if something accepts connections there, else "closed"
tcp() {
    if (exec 9<>"/dev/tcp/$2/$3") 2>/dev/null; then echo "@@CLI VAL $1 open"; else echo "@@CLI VAL $1 closed"; fi
}

echo "@@CLI VAL cli-version $("$AWS" --version 2>&1 | head -n 1)"
echo "@@CLI VAL token $TOKEN"

# ---- file system ------------------------------------------------------------
step create-fs create-file-system --creation-token "$TOKEN" --performance-mode generalPurpose \
    --tags Key=Name,Value=api-cli-fs Key=team,Value=e2e
text fs-id describe-file-systems --creation-token "$TOKEN" --query 'FileSystems[0].FileSystemId'
FS=$(value fs-id)
step create-fs-again create-file-system --creation-token "$TOKEN"
poll fs-state available describe-file-systems --file-system-id "$FS" --query 'FileSystems[0].LifeCycleState'
step describe-fs describe-file-systems --file-system-id "$FS"
step describe-fs-all describe-file-systems
step list-tags-fs list-tags-for-resource --resource-id "$FS"
step describe-missing-fs describe-file-systems --file-system-id "$MISSING_FS"

# ---- access point -------------------------------------------------------------
step create-ap create-access-point --file-system-id "$FS" \
    --posix-user Uid=1000,Gid=1000 \
    --root-directory 'Path=/app,CreationInfo={OwnerUid=1000,OwnerGid=1000,Permissions=750}' \
    --tags Key=Name,Value=api-cli-ap
text ap-id describe-access-points --file-system-id "$FS" --query 'AccessPoints[0].AccessPointId'
AP=$(value ap-id)
poll ap-state available describe-access-points --access-point-id "$AP" --query 'AccessPoints[0].LifeCycleState'
step describe-ap describe-access-points --access-point-id "$AP"

# ---- mount target --------------------------------------------------------------
tcp mt-port-before "$MT_IP" "$NFS_PORT"
step create-mt create-mount-target --file-system-id "$FS" --subnet-id "$SUBNET" --ip-address "$MT_IP"
text mt-id describe-mount-targets --file-system-id "$FS" --query 'MountTargets[0].MountTargetId'
MT=$(value mt-id)
poll mt-state available describe-mount-targets --mount-target-id "$MT" --query 'MountTargets[0].LifeCycleState'
step describe-mt describe-mount-targets --mount-target-id "$MT"
step describe-mt-sg describe-mount-target-security-groups --mount-target-id "$MT"
text fs-mt-count describe-file-systems --file-system-id "$FS" --query 'FileSystems[0].NumberOfMountTargets'
tcp mt-port "$MT_IP" "$NFS_PORT"
step delete-fs-in-use delete-file-system --file-system-id "$FS"

# ---- file system policy -----------------------------------------------------------
POLICY='{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["elasticfilesystem:ClientMount","elasticfilesystem:ClientWrite"],"Condition":{"Bool":{"elasticfilesystem:AccessedViaMountTarget":"true"}}}]}'
step describe-policy-none describe-file-system-policy --file-system-id "$FS"
step put-policy put-file-system-policy --file-system-id "$FS" --policy "$POLICY"
step describe-policy describe-file-system-policy --file-system-id "$FS"

# ---- delete in order: policy, mount target, access point, file system -------------
step delete-policy delete-file-system-policy --file-system-id "$FS"
step describe-policy-deleted describe-file-system-policy --file-system-id "$FS"
step delete-mt delete-mount-target --mount-target-id "$MT"
poll_gone mt-gone describe-mount-targets --mount-target-id "$MT"
step describe-mt-deleted describe-mount-targets --mount-target-id "$MT"
text fs-mt-count-after describe-file-systems --file-system-id "$FS" --query 'FileSystems[0].NumberOfMountTargets'
tcp mt-port-after "$MT_IP" "$NFS_PORT"
step delete-ap delete-access-point --access-point-id "$AP"
poll_gone ap-gone describe-access-points --access-point-id "$AP"
step describe-ap-deleted describe-access-points --access-point-id "$AP"
step delete-fs delete-file-system --file-system-id "$FS"
poll_gone fs-gone describe-file-systems --file-system-id "$FS"
step describe-fs-deleted describe-file-systems --file-system-id "$FS"
step describe-fs-all-after describe-file-systems

# ---- the creation token is free again --------------------------------------------
step create-fs-reuse create-file-system --creation-token "$TOKEN"
text fs-reuse-id describe-file-systems --creation-token "$TOKEN" --query 'FileSystems[0].FileSystemId'
poll fs-reuse-state available describe-file-systems --file-system-id "$(value fs-reuse-id)" --query 'FileSystems[0].LifeCycleState'
step delete-fs-reuse delete-file-system --file-system-id "$(value fs-reuse-id)"

echo "@@CLI DONE"
