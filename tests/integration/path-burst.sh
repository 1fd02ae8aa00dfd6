#!/bin/sh
# path-burst: the edge opens the streams of all its clients on a connector's connection, each
# client within its own budget (doc/protocol.md, "Limits"); the connector gives the edge a
# budget to match, so two clients opening 900 connections each at once (within their own budget of 1,000) through one connector
# connection all get through, and the connection survives (before, the connector's default
# budget of 1,000 then 200 a second closed it, and every stream on it).
. "${top_srcdir:-.}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/zt-net.sh"
zn_init
t_need cc
TCPB=$T_DIR/tcpbench
cc -O2 -o "$TCPB" "$top_srcdir/bench/tcpbench.c" >"$T_DIR/cc.out" 2>&1 || {
	cat "$T_DIR/cc.out" >&2
	exit 99
}
# Streams at the edge per client session: above the 900 opened at once.
zn_edge_init "max_streams_client = 4096"
zn_app data.test data "allow token:ci"
zn_tunnel_create data
zn_token_create ci
zn_edge_start
# The origin: tcpbench's echo server (it prints its port).
"$TCPB" echo 1 >"$T_DIR/origin.port" 2>"$T_DIR/origin.log" &
zn_remember origin $!
t_wait "[ -s '$T_DIR/origin.port' ]" 10 || exit 99
zn_connector conn data data.test "tcp://127.0.0.1:$(cat "$T_DIR/origin.port")" \
    --ha-connections 1
t_check "the connector registers its one connection" zn_connector_wait conn 1
zn_sidecar side ci data.test
zn_sidecar side2 ci data.test
t_check "two sidecars open their ports" eval 'zn_sidecar_wait side && zn_sidecar_wait side2'
P=$(zn_port side)

# burst NAME PORT: 900 new connections, 64 at a time, 64 bytes there and back on each.
burst() {
	"$TCPB" connect "$2" 900 64 64 >"$T_DIR/$1.out" 2>&1
	echo $? >"$T_DIR/$1.rc"
}
burst b1 "$P" &
pid1=$!
burst b2 "$(zn_port side2)" &
pid2=$!
wait "$pid1" "$pid2"
echo "side 1: $(cat "$T_DIR/b1.out")"
echo "side 2: $(cat "$T_DIR/b2.out")"
t_check "2 x 900 connections at once through one connector connection: all answered" \
	eval 'grep -q "^ok=900 failed=0 " "$T_DIR/b1.out" && grep -q "^ok=900 failed=0 " "$T_DIR/b2.out"'
t_check "the connector kept its connection (no ENHANCE_YOUR_CALM, nothing lost)" \
	eval '! grep -q "ENHANCE_YOUR_CALM\|lost" "$T_DIR/conn.log" && zn_connector_wait conn 1 1'
t_check "the edge, the connector and the sidecars are still running" \
	eval 'zn_alive edge && zn_alive conn && zn_alive side && zn_alive side2'
t_done
