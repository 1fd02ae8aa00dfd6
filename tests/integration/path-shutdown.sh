#!/bin/sh
# path-shutdown: stopping each hop (doc/tunnel.md, "Signals"; doc/edge.md, "Signals"). A
# connector told SIGTERM stops taking streams, lets open ones finish within grace-period, says
# GOAWAY and exits 0; a second signal exits at once; the grace period cuts what is left. An
# edge told SIGTERM lets open streams finish, closes idle sessions at once and exits; the
# connector and the sidecar come back to the next edge on the port.
. "${top_srcdir:-.}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/zt-net.sh"
zn_init
zn_build_ztio

ZN_CONNECTOR_ARGS="--grace-period 20s"
zn_echo_path
MIB=1048576

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}
# bg_down NAME BYTES RATE: a paced download in the background; its status in NAME.rc.
bg_down() {
	rm -f "$T_DIR/$1.rc" "$T_DIR/$1.progress"
	("$ZTIO" down 127.0.0.1 "$P" "$2" 7 --rate "$3" --progress "$T_DIR/$1.progress" 65536 \
	    >"$T_DIR/$1.out" 2>&1; echo $? >"$T_DIR/$1.rc") &
	t_wait "[ -f '$T_DIR/$1.progress' ]" 20
}
rc_of() {
	t_wait "[ -s '$T_DIR/$1.rc' ]" "${2:-30}" || { echo timeout; return; }
	cat "$T_DIR/$1.rc"
}
echo_ok() {
	timeout 15 "$ZTIO" echo 127.0.0.1 "$P" 65536 3 >"$T_DIR/echo.out" 2>&1
}

# --- 1. the connector drains: its open stream finishes, then it exits 0 ----------------------
bg_down d1 $((3 * MIB)) $((1 * MIB))
kill -TERM "$(zn_pid conn)"
t_check "connector SIGTERM: it says it is draining" \
	t_wait "grep -q 'draining: no new streams; 1 open streams' '$T_DIR/conn.log'" 5
t_run timeout 15 "$ZTIO" echo 127.0.0.1 "$P" 1024 4
t_check "while it drains, a new connection is refused (the edge has no other connection)" \
	test "$T_RC" -eq 3
t_check "the open stream finishes intact (3 MiB at 1 MiB/s)" test "$(rc_of d1)" = 0
zn_exited conn 10
t_check "... then the connector exits 0" test "$ZN_RC" -eq 0
t_check "the edge saw it leave (GOAWAY SHUTTING_DOWN), not a lost connection" \
	eval 'grep -q "connection from .* closed: SHUTTING_DOWN" "$T_DIR/edge.log" &&
	    ! grep -q "tunnel data: connection from .* closed: CANCEL" "$T_DIR/edge.log"'

# --- 2. with no stream open, the connector leaves at once -----------------------------------
zn_connector conn data data.test "$URL" --grace-period 20s
t_check "the restarted connector registers 4 connections" zn_connector_wait conn 4
closed=$(grep -c 'tunnel data: connection from .* closed: SHUTTING_DOWN' "$T_DIR/edge.log")
start=$(now_ms)
kill -TERM "$(zn_pid conn)"
zn_exited conn 10
ms=$(($(now_ms) - start))
t_check "connector SIGTERM with no stream: exits 0 within 2 s (${ms} ms)" \
	eval '[ "$ZN_RC" -eq 0 ] && [ "$ms" -le 2000 ]'
t_check "... closing its 4 connections with GOAWAY (the edge logs 4 SHUTTING_DOWN)" \
	t_wait "[ \$(grep -c 'tunnel data: connection from .* closed: SHUTTING_DOWN' '$T_DIR/edge.log') -ge $((closed + 4)) ]" 5

# --- 3. the grace period cuts a stream that goes on too long; a second signal is at once ----
zn_connector conn data data.test "$URL" --grace-period 2s
t_check "the connector (grace 2 s) registers 4 connections" zn_connector_wait conn 4
bg_down d3 $((256 * MIB)) $((1 * MIB))
kill -TERM "$(zn_pid conn)"
zn_exited conn 10
t_check "grace 2 s over: the connector exits 0 ..." test "$ZN_RC" -eq 0
t_check "... and the cut stream ends in an error at the client, not a clean EOF" \
	test "$(rc_of d3)" = 3

zn_connector conn data data.test "$URL" --grace-period 60s
t_check "the connector (grace 60 s) registers 4 connections" zn_connector_wait conn 4
bg_down d4 $((256 * MIB)) $((1 * MIB))
kill -TERM "$(zn_pid conn)"
sleep 0.5
start=$(now_ms)
kill -TERM "$(zn_pid conn)"
zn_exited conn 10
ms=$(($(now_ms) - start))
t_check "a second SIGTERM: the connector exits at once (${ms} ms)" test "$ms" -le 1500
t_check "... and the cut stream ends in an error" test "$(rc_of d4)" = 3

# --- 4. the edge stops: open streams finish, idle sessions close at once --------------------
zn_connector conn data data.test "$URL"
t_check "the connector registers 4 connections" zn_connector_wait conn 4
t_check "a connection works" t_wait echo_ok 10
bg_down d5 $((2 * MIB)) $((1 * MIB))
start=$(now_ms)
kill -TERM "$(zn_pid edge)"
t_check "edge SIGTERM: the open stream finishes intact" test "$(rc_of d5)" = 0
zn_exited edge 15
ms=$(($(now_ms) - start))
t_check "... and the edge exits 0 soon after, not after its 10 s drain (${ms} ms)" \
	eval '[ "$ZN_RC" -eq 0 ] && [ "$ms" -le 6000 ]'
t_check "the connector was told (the edge is going away)" \
	grep -q 'the edge is going away' "$T_DIR/conn.log"

zn_edge_start
t_check "a new edge on the port: the connector registers 4 connections again" \
	zn_connector_wait conn 4 15
t_check "... and the sidecar's new connections work" t_wait echo_ok 15

kill -TERM "$(zn_pid edge)"
start=$(now_ms)
zn_exited edge 15
ms=$(($(now_ms) - start))
t_check "edge SIGTERM with no stream: exits 0 within 2 s (${ms} ms)" \
	eval '[ "$ZN_RC" -eq 0 ] && [ "$ms" -le 2000 ]'
t_check "the connector and the sidecar keep running, waiting for an edge" \
	eval 'zn_alive conn && zn_alive side'
t_check "no secret in the logs or command lines" zn_check_secrets
t_done
