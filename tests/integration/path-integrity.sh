#!/bin/sh
# path-integrity: bytes cross sidecar -> edge -> connector -> origin unchanged (security.md
# D1): 1 GiB each way with matching SHA-256, and 100 concurrent streams of a few MiB each, all
# echoed back with matching digests, on one client session and the connector's connections.
. "${top_srcdir:-.}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/zt-net.sh"
zn_init
zn_build_ztio

GIB=1073741824
zn_echo_path

# io NAME ARGS...: runs ztio, its report in NAME.out; true when the digests match. The
# timeout only stops a transfer that hangs: it is no speed requirement.
io() {
	name=$1
	shift
	timeout 300 "$ZTIO" "$@" >"$T_DIR/$name.out" 2>&1
	rc=$?
	cat "$T_DIR/$name.out"
	[ "$rc" -ne 124 ] || echo "$name: still running after 300 s: stopped"
	return "$rc"
}

t_check "1 KiB up: digests match" io small-up up 127.0.0.1 "$P" 1024 1
t_check "1 KiB down: digests match" io small-down down 127.0.0.1 "$P" 1024 2
t_check "1 GiB up (client to origin): SHA-256 of what the origin got matches" \
	io up up 127.0.0.1 "$P" "$GIB" 3
t_check "1 GiB down (origin to client): SHA-256 of what the client got matches" \
	io down down 127.0.0.1 "$P" "$GIB" 4
t_check "100 concurrent streams of 3 MiB, each echoed back with a matching SHA-256" \
	io many many 127.0.0.1 "$P" 100 3145728

# Small requests and replies are relayed at once. Not a speed check: with Nagle's algorithm
# on a hop, each round trip waited for the peer's delayed ACK (40 ms or more; it took 88 ms
# before the edge set TCP_NODELAY), where it takes well under a millisecond.
t_run timeout 60 "$ZTIO" rtt 127.0.0.1 "$P" 50
ms=$(cat "$T_DIR/out")
echo "(median round trip of 100 bytes through the path: $ms ms)"
t_check "request/reply round trips do not wait for delayed ACKs (median $ms ms < 40 ms)" \
	awk -v m="$ms" 'BEGIN { exit !(m != "" && m + 0 < 40) }'

# The streams went over the connector's connections, and nothing was refused or reset.
t_check "the audit log has an allowed stream for each connection (104)" \
	test "$(zn_audit_count '"event":"stream"' '"decision":"allow"' 'data.test')" -ge 104
t_check "no stream was refused" \
	test "$(zn_audit_count '"decision":"deny"')" -eq 0
t_check "the connector kept its 4 connections" test "$(zn_connections conn)" = 4
t_check "the edge, the connector and the sidecar are still running" \
	eval 'zn_alive edge && zn_alive conn && zn_alive side'
t_check "no secret in the logs or command lines" zn_check_secrets
t_done
