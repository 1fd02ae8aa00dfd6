#!/bin/sh
# path-edges: a connector given two edges spreads its connections over both, and a frozen
# edge (SIGSTOP: no FIN, no RST, just silence) is found dead by keepalive within two
# intervals. Edges do not route to each other, so each connection stays with its edge: the
# other edge goes on serving with its own, and when the frozen one thaws the connector's
# connections and the sidecar come back to it.
. "${top_srcdir:-.}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/zt-net.sh"
zn_init
zn_build_ztio

zn_edge_init "keepalive = 1s"
zn_app data.test data "allow token:ci"
zn_tunnel_create data
zn_token_create ci
zn_edge_start
# A second edge: the same certificate and state directory, another port.
PORT2=$(zn_free_port)
sed "s/^listen = .*/listen = 127.0.0.1:$PORT2/; s|^audit_log = .*|audit_log = $ZN_EDGE/audit2.log|" \
    "$ZN_EDGE_INI" >"$ZN_EDGE/edge2.ini"
chmod 600 "$ZN_EDGE/edge2.ini"
"$ZT" edge serve -c "$ZN_EDGE/edge2.ini" --log-level debug >>"$T_DIR/edge2.log" 2>&1 &
zn_remember edge2 $!
t_check "a second edge on another port" t_wait "zn_listening $PORT2" 10

zn_origin origin
zn_connector conn data data.test "tcp://127.0.0.1:$(zn_port origin)" \
    --edge "127.0.0.1:$ZN_EDGE_PORT" --edge "127.0.0.1:$PORT2"
t_check "the connector registers its 4 connections" zn_connector_wait conn 4
# to_port PORT: the connector's established connections to PORT.
to_port() {
	ss -tnpH state established "( dport = :$1 )" | grep -c "pid=$(zn_pid conn),"
}
t_check "... 2 to each edge" eval '[ "$(to_port "$ZN_EDGE_PORT")" -eq 2 ] && [ "$(to_port "$PORT2")" -eq 2 ]'

zn_sidecar side1 ci data.test
zn_sidecar_as side2 "$(zn_id ci)" "$ZN_SECRETS/ci.secret" data.test --edge "127.0.0.1:$PORT2"
t_check "a sidecar on each edge opens its port" eval 'zn_sidecar_wait side1 && zn_sidecar_wait side2'
echo_via() {
	timeout 15 "$ZTIO" echo 127.0.0.1 "$(zn_port "$1")" 65536 5 >"$T_DIR/echo-$1.out" 2>&1
}
t_check "both sidecars carry connections" eval 'echo_via side1 && echo_via side2'

# Freeze the first edge: its sockets stay open and silent.
lost=$(grep -c 'connection [0-9] to .* lost' "$T_DIR/conn.log")
kill -STOP "$(zn_pid edge)"
start=$(date +%s%N)
t_check "the connector finds its 2 connections to the frozen edge dead (keepalive 1 s)" \
	t_wait "[ \$(grep -c 'connection [0-9] to .* lost: TIMEOUT' '$T_DIR/conn.log') -ge $((lost + 2)) ]" 10
ms=$((($(date +%s%N) - start) / 1000000))
echo "(found dead after ${ms} ms)"
t_check "... within about two intervals (${ms} ms <= 3500)" test "$ms" -le 3500
t_check "... and keeps its 2 connections to the other edge" test "$(to_port "$PORT2")" -eq 2
t_check "meanwhile the other edge's sidecar keeps working" echo_via side2
t_check "the frozen edge's sidecar finds its session dead too" \
	t_wait "grep -q 'session to the edge .* lost: TIMEOUT' '$T_DIR/side1.log'" 10
kill -CONT "$(zn_pid edge)"
t_check "once the edge thaws, the connector's 2 connections to it come back" \
	t_wait "[ \$(to_port $ZN_EDGE_PORT) -eq 2 ]" 40
t_check "... and its sidecar reconnects and works" t_wait "echo_via side1" 20
t_check "everything is still running" \
	eval 'zn_alive edge && zn_alive edge2 && zn_alive conn && zn_alive side1 && zn_alive side2'
t_check "no secret in the logs or command lines" zn_check_secrets
t_done
