#!/bin/sh
# dns-netns: where `zt dns serve` listens (listen-address, interface, bind-interfaces,
# bind-dynamic) and the issue's sample configuration run verbatim on port 53, in two network
# namespaces made for the test: "srv" runs zt, "peer" is the client side and plays 1.1.1.1 and
# 8.8.8.8. No packet leaves them.
. "${top_srcdir:-.}/tests/integration/lib.sh"
t_init
t_need ip ss dig timeout
. "$top_srcdir/tests/dns/helpers.sh"
dns_need_python
CHK=$DNS_DIR/protocol_checks.py

SRV=zt-$$-srv
PEER=zt-$$-peer
if ! ip netns add "$SRV" 2>"$T_DIR/netns.err"; then
	t_skip "cannot make a network namespace: $(cat "$T_DIR/netns.err")"
fi
ns_cleanup() {
	for p in $T_PIDS; do
		kill "$p" 2>/dev/null
	done
	for p in $T_PIDS; do
		wait "$p" 2>/dev/null
	done
	T_PIDS=""
	ip netns del "$SRV" 2>/dev/null
	ip netns del "$PEER" 2>/dev/null
}
trap 'st=$?; ns_cleanup; (exit $st); t_cleanup' EXIT
ip netns add "$PEER" || exit 1

# srv: lo; zt$$a 10.77.0.1 and 10.77.0.11; zt$$c 10.78.0.1. peer: zt$$b 10.77.0.2, 1.1.1.1 and
# 8.8.8.8; zt$$d 10.78.0.2. srv reaches 1.1.1.1 and 8.8.8.8 through peer; there are no other
# routes, so nothing can leave.
A=zt$$a B=zt$$b C=zt$$c D=zt$$d
set -e
ip -n "$SRV" link set lo up
ip -n "$PEER" link set lo up
ip link add "$A" netns "$SRV" type veth peer name "$B" netns "$PEER"
ip link add "$C" netns "$SRV" type veth peer name "$D" netns "$PEER"
ip -n "$SRV" addr add 10.77.0.1/24 dev "$A"
ip -n "$SRV" addr add 10.77.0.11/24 dev "$A"
ip -n "$SRV" addr add 10.78.0.1/24 dev "$C"
ip -n "$PEER" addr add 10.77.0.2/24 dev "$B"
ip -n "$PEER" addr add 1.1.1.1/32 dev "$B"
ip -n "$PEER" addr add 8.8.8.8/32 dev "$B"
ip -n "$PEER" addr add 10.78.0.2/24 dev "$D"
for l in "$A" "$C"; do ip -n "$SRV" link set "$l" up; done
for l in "$B" "$D"; do ip -n "$PEER" link set "$l" up; done
ip -n "$SRV" route add 1.1.1.1/32 via 10.77.0.2
ip -n "$SRV" route add 8.8.8.8/32 via 10.77.0.2
set +e
IN_SRV="ip netns exec $SRV"
IN_PEER="ip netns exec $PEER"

# zt runs as nobody (user=, as dnsmasq) after start-up.
chmod 755 "$T_DIR"

# conf NAME LINE...: $T_DIR/NAME.conf, port 53, local data only, with the given lines.
conf() {
	name=$1
	shift
	printf '%s\n' "port=53" "no-resolv" "no-hosts" "address=/local.test/192.0.2.7" "$@" \
	    >"$T_DIR/$name.conf"
}

# serve NAME PROBE-ADDR: runs zt on NAME.conf in srv until it answers at PROBE-ADDR.
serve() {
	DNS_EXEC=$IN_SRV
	dns_zt "$1" 53 "$2" -- --conf-file="$T_DIR/$1.conf"
	DNS_EXEC=""
}

# from_peer/from_srv answers|silent ADDR: where a query is answered, and where not.
from_peer() {
	$IN_PEER "$PY" "$CHK" "$1" --port 53 --addr "$2" --name local.test ${3:+--want 192.0.2.7}
}
from_srv() {
	$IN_SRV "$PY" "$CHK" "$1" --port 53 --addr "$2" --name local.test ${3:+--want 192.0.2.7}
}
answered() { # WHERE ADDR
	"$1" answers "$2" want
}
unanswered() { # WHERE ADDR
	"$1" silent "$2"
}

# listen-address on a veth address: that address only, in each listening mode.
for mode in "" bind-interfaces bind-dynamic; do
	conf la listen-address=10.77.0.1 $mode
	serve la 10.77.0.1
	what="listen-address=10.77.0.1${mode:+ $mode}"
	t_check "$what: answers at 10.77.0.1" answered from_peer 10.77.0.1
	t_check "$what: not at 10.77.0.11 (same interface)" unanswered from_peer 10.77.0.11
	t_check "$what: not at 10.78.0.1" unanswered from_peer 10.78.0.1
	t_check "$what: not at 127.0.0.1" unanswered from_srv 127.0.0.1
	dns_stop "$ZT_PID"
done

# interface=: every address of that interface and loopback (always added), nothing else.
for mode in "" bind-interfaces bind-dynamic; do
	conf if "interface=$A" $mode
	serve if 10.77.0.1
	what="interface=$A${mode:+ $mode}"
	t_check "$what: answers at 10.77.0.1" answered from_peer 10.77.0.1
	t_check "$what: answers at 10.77.0.11" answered from_peer 10.77.0.11
	t_check "$what: answers at 127.0.0.1 (loopback is implied)" answered from_srv 127.0.0.1
	t_check "$what: not at 10.78.0.1 ($C)" unanswered from_peer 10.78.0.1
	dns_stop "$ZT_PID"
done

# bind-interfaces with an address the machine does not have: fatal, status 2.
conf bad listen-address=127.0.0.1,10.254.254.254 bind-interfaces
$IN_SRV timeout 20 "$ZT" dns serve -k --conf-file="$T_DIR/bad.conf" >"$T_DIR/bad.out" 2>&1
rc=$?
t_check "bind-interfaces, absent listen-address: exit status 2 (got $rc)" test "$rc" -eq 2
t_check "... with \"failed to create listening socket for 10.254.254.254\"" \
	t_contains "$T_DIR/bad.out" 'failed to create listening socket for 10\.254\.254\.254'

# bind-dynamic: an address that appears later is bound (as nobody: port 53 needs the capability
# zt keeps), and its sockets go when it goes.
conf dyn listen-address=127.0.0.1,10.254.254.254 bind-dynamic
serve dyn 127.0.0.1
ip -n "$SRV" addr add 10.254.254.254/32 dev lo
t_check "bind-dynamic: answers at 10.254.254.254 within 5 s of its appearing" \
	$IN_SRV "$PY" "$CHK" ready --port 53 --addr 10.254.254.254 --limit 5
t_check "bind-dynamic: and the right answer, over UDP and TCP" answered from_srv 10.254.254.254
ip -n "$SRV" addr del 10.254.254.254/32 dev lo
sockets() {
	$IN_SRV ss -lnut | grep -q '10\.254\.254\.254:53 '
}
t_check "bind-dynamic: the sockets on 10.254.254.254 are closed within 5 s of its removal" \
	t_wait '! sockets' 5
t_check "bind-dynamic: 127.0.0.1 still answers" answered from_srv 127.0.0.1
ip -n "$SRV" addr add 10.254.254.254/32 dev lo
t_check "bind-dynamic: the address back, answers again" \
	$IN_SRV "$PY" "$CHK" ready --port 53 --addr 10.254.254.254 --limit 5
ip -n "$SRV" addr del 10.254.254.254/32 dev lo
dns_stop "$ZT_PID"

# The issue's configuration, verbatim. 1.1.1.1 and 8.8.8.8 are upstream.py in peer. zt also
# reads the machine's /etc/resolv.conf (no no-resolv); srv has no route to its servers.
DNS_EXEC=$IN_PEER
dns_upstream one --addr 1.1.1.1 --port 53
dns_upstream eight --addr 8.8.8.8 --port 53
DNS_EXEC=""
cat >"$T_DIR/sample.conf" <<'EOF'
interface=lo
listen-address=127.0.0.1,10.254.254.254
bind-dynamic
address=/webdevelop.internal/10.130.0.1
address=/kratos.webdevelop.internal/10.130.0.100
domain-needed
bogus-priv
server=1.1.1.1
server=8.8.8.8
EOF
ip -n "$SRV" addr add 10.254.254.254/32 dev lo
serve sample 127.0.0.1
t_check "sample: kratos.webdevelop.internal is 10.130.0.100 at 127.0.0.1" \
	$IN_SRV "$PY" "$CHK" answers --port 53 --addr 127.0.0.1 --name kratos.webdevelop.internal \
	--want 10.130.0.100
t_check "sample: ... and at 10.254.254.254" \
	$IN_SRV "$PY" "$CHK" answers --port 53 --addr 10.254.254.254 --name kratos.webdevelop.internal \
	--want 10.130.0.100
t_check "sample: x.webdevelop.internal is 10.130.0.1" \
	$IN_SRV "$PY" "$CHK" answers --port 53 --addr 127.0.0.1 --name x.webdevelop.internal \
	--want 10.130.0.1
t_check "sample: dig at 127.0.0.1:53 agrees" \
	test "$($IN_SRV dig @127.0.0.1 +short +time=3 +tries=1 kratos.webdevelop.internal)" = \
	10.130.0.100
t_check "sample: www.example.com is forwarded to the fake 1.1.1.1/8.8.8.8" \
	$IN_SRV "$PY" "$CHK" answers --port 53 --addr 127.0.0.1 --name www.example.com \
	--want 93.184.215.14
cat "$T_DIR/one.log" "$T_DIR/eight.log" >"$T_DIR/upstreams.log"
t_check "sample: the fake upstreams saw it, from 10.77.0.1" \
	t_contains "$T_DIR/upstreams.log" '"src": "10.77.0.1".*"name": "www.example.com."'
$IN_SRV dig @127.0.0.1 +time=3 +tries=1 plainname A >"$T_DIR/plain.out"
$IN_SRV dig @127.0.0.1 +time=3 +tries=1 -x 10.130.0.1 >"$T_DIR/ptr.out"
t_check "sample: domain-needed: plainname is NXDOMAIN" t_contains "$T_DIR/plain.out" 'NXDOMAIN'
t_check "sample: bogus-priv: PTR 10.130.0.1 is NXDOMAIN" t_contains "$T_DIR/ptr.out" 'NXDOMAIN'
cat "$T_DIR/one.log" "$T_DIR/eight.log" >"$T_DIR/upstreams.log"
t_check "sample: neither was forwarded" \
	test "$(grep -c 'plainname\|in-addr' "$T_DIR/upstreams.log")" = 0
t_check "sample: nothing on the veth (interface=lo)" unanswered from_peer 10.77.0.1
t_check "sample: zt is still running" kill -0 "$ZT_PID"
t_done
