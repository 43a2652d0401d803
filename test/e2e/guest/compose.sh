# localefs e2e guest workload (scripts/debguest/boot.sh, bash -e, as root in
# the Debian guest): dockerd and docker-compose run docs/compose/docker-compose.yml
# with test/e2e/guest/compose-ci.yml, whose NFS volumes mount the localefs on
# the test's host (LOCALEFS_ADDR=10.0.2.100, the guest's forwarded port).
# test/e2e/compose.test.ts puts in:
#   /root/compose/docker-compose.yml      the user's file, unchanged
#   /root/compose/docker-compose.ci.yml   the override
#   /root/busybox.tar                     a busybox root (the host's static
#                                         busybox), imported as busybox:latest:
#                                         the guest has no registry
# and sets NONCE.  Lines for the host: "@@COMPOSE ..." (the app's, see the
# override) and "@@COMPOSE DONE" at the end.

export LOCALEFS_ADDR=$EG_SERVER_IP COMPOSE_PROJECT_NAME=ci COMPOSE_INTERACTIVE_NO_CLI=1
cd /root/compose

# --- dockerd: cgroup v2, overlay2 (overlay.ko loaded by boot.sh --module), no
# iptables (the guest has no netfilter modules and needs no NAT: the NFS
# volumes are mounted from the guest's own network namespace)
mount -t cgroup2 cgroup2 /sys/fs/cgroup
dockerd_up() {
    dockerd --iptables=false --storage-driver=overlay2 --log-level=warn >/var/log/dockerd.log 2>&1 &
    for _ in $(seq 1 240); do
        docker info >/dev/null 2>&1 && return 0
        kill -0 $! 2>/dev/null || break
        sleep 0.5
    done
    cat /var/log/dockerd.log
    echo "dockerd did not come up"
    return 1
}
eg_time "dockerd up" dockerd_up
echo "docker $(docker version --format '{{.Server.Version}}'), storage $(docker info --format '{{.Driver}}'), $(docker-compose version --short 2>/dev/null | head -n1 | sed 's/^/docker-compose /')"
import_busybox() { docker import --change 'CMD ["sh"]' /root/busybox.tar busybox:latest >/dev/null; }
eg_time "docker import busybox" import_busybox

show_failure() {
    echo "---- docker-compose ps"
    docker-compose -f docker-compose.yml -f docker-compose.ci.yml ps || true
    echo "---- docker-compose logs"
    docker-compose -f docker-compose.yml -f docker-compose.ci.yml logs --no-color || true
    echo "---- dockerd log (tail)"
    tail -n 40 /var/log/dockerd.log
    echo "---- kernel (tail)"
    dmesg | tail -n 20
}
trap 'rc=$?; [ $rc = 0 ] || show_failure' EXIT

# --- the user's command: up -d waits for localefs to be healthy and efs-init
# to complete before it starts app (depends_on conditions)
eg_time "docker-compose up -d" docker-compose -f docker-compose.yml -f docker-compose.ci.yml up -d
app=$(docker-compose -f docker-compose.yml -f docker-compose.ci.yml ps -q app)
[ -n "$app" ] || { echo "no app container"; exit 1; }
t0=$(eg_now)
app_rc=$(docker wait "$app")
awk -v a="$t0" -v b="$(eg_now)" 'BEGIN { printf "time: %-28s %8.2f s\n", "app ran (after up)", b - a }'
echo "---- efs-init and app logs"
docker logs "$(docker-compose -f docker-compose.yml -f docker-compose.ci.yml ps -q efs-init)" 2>&1
docker logs "$app" 2>&1
echo "---- volumes"
for v in ci_efs ci_efs-app; do
    echo "$v: $(docker volume inspect --format '{{.Driver}} {{json .Options}}' "$v")"
done
echo "@@COMPOSE EXIT $app_rc"
[ "$app_rc" = 0 ] || { echo "app exited $app_rc"; exit 1; }

eg_time "docker-compose down" docker-compose -f docker-compose.yml -f docker-compose.ci.yml down
left=$(awk '$3 ~ /^nfs/ { print $2 }' /proc/mounts)
[ -z "$left" ] || { echo "NFS mounts left after down: $left"; exit 1; }
echo "@@COMPOSE DONE"
