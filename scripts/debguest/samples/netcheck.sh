# samples/netcheck.sh - guest script for boot.sh: show that the guest reaches
# the forwarded server port and nothing else.  Probes only addresses that
# map to the host's loopback even if isolation were broken: the forward
# (10.0.2.100) and slirp's host alias 10.0.2.2, which restrict=on must
# block.  Never probe 10.0.2.3 (slirp's DNS = the host's real resolver) or
# any other address.
#   boot.sh --port HOSTPORT --image "$(build-rootfs.sh)" samples/netcheck.sh
#   (exit 0 = isolated)
probe() { # host port -> open|closed
    if timeout 5 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; then echo open; else echo closed; fi
}
echo "routes: $(ip route | tr '\n' ';')"
echo "addresses: $(ip -br addr | tr -s ' ' | tr '\n' ';')"
bad=0
r=$(probe "$EG_SERVER_IP" "$EG_SERVER_PORT"); echo "tcp $EG_SERVER_IP:$EG_SERVER_PORT $r (want open)"
[ "$r" = open ] || bad=1
for p in "$EG_HOST_PORT" "$EG_SERVER_PORT" 22; do
    r=$(probe 10.0.2.2 "$p"); echo "tcp 10.0.2.2:$p $r (want closed)"
    [ "$r" = closed ] || bad=1
done
ip route | grep -q '^default' && { echo "unexpected default route"; bad=1; }
[ "$bad" = 0 ] && echo "isolation OK" || echo "ISOLATION BROKEN"
exit "$bad"
