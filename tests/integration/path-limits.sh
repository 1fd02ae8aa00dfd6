#!/bin/sh
# path-limits: the edge's per-session limits as a client sees them (doc/edge.md, [edge]):
# WELCOME tells a client its own stream limit (max_streams_client), the sidecar queues local
# connections beyond it until a stream ends, and a client session with no stream is closed
# after idle_timeout (GOAWAY IDLE), after which the sidecar dials again for the next
# connection.
. "${top_srcdir:-.}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/zt-net.sh"
zn_init
zn_build_ztio

zn_echo_path "max_streams_client = 4" "idle_timeout = 3s"

t_check "WELCOME tells the client its own limit (4 streams), not the connectors'" \
	grep -q 'WELCOME from \\"edge.test\\": 4 streams' "$T_DIR/side.log"
t_check "... and the connector its own (65536)" \
	grep -q 'WELCOME from \\"edge.test\\": 65536 streams' "$T_DIR/conn.log"

# Six connections at once, each holding its stream after 64 KiB until k.go exists: four get
# a stream, two wait in the sidecar, then go on as streams end; all six finish intact.
for k in 1 2 3 4 5 6; do
	rm -f "$T_DIR/k$k.rc"
	("$ZTIO" echo 127.0.0.1 "$P" 1048576 "$k" --progress "$T_DIR/k$k.progress" 65536 \
	    --hold "$T_DIR/k.go" >"$T_DIR/k$k.out" 2>&1; echo $? >"$T_DIR/k$k.rc") &
done
progressed() {
	n=0
	for k in 1 2 3 4 5 6; do
		[ -f "$T_DIR/k$k.progress" ] && n=$((n + 1))
	done
	echo "$n"
}
t_wait '[ "$(progressed)" -ge 4 ]' 20
sleep 1
n=$(progressed)
t_check "with 6 connections and a limit of 4: 4 streams carry data, the rest wait ($n)" \
	test "$n" -eq 4
touch "$T_DIR/k.go"
all_done() {
	for k in 1 2 3 4 5 6; do
		[ -s "$T_DIR/k$k.rc" ] || return 1
	done
}
t_wait all_done 30
ok=0
for k in 1 2 3 4 5 6; do
	[ "$(cat "$T_DIR/k$k.rc" 2>/dev/null)" = 0 ] && ok=$((ok + 1))
done
t_check "... and once streams end, the waiting ones go on: 6 of 6 echoed intact ($ok)" \
	test "$ok" -eq 6
t_check "the edge refused no stream" eval '! grep -q REFUSED_STREAM "$T_DIR/side.log"'

# Idle: no stream for 3 s closes the client session; the next connection dials again.
t_check "a client session with no stream is closed after idle_timeout (GOAWAY IDLE)" \
	t_wait "grep -q 'the edge closed the idle session' '$T_DIR/side.log'" 10
t_check "... and the edge says so" grep -q 'no stream for 3 s: closing it (IDLE)' "$T_DIR/edge.log"
sessions=$(grep -c 'session to edge .* established' "$T_DIR/side.log")
t_check "the sidecar does not dial again on its own" \
	eval 'sleep 2; [ "$(grep -c "session to edge .* established" "$T_DIR/side.log")" -eq "$sessions" ]'
t_check "a new connection brings a new session and works" \
	timeout 15 "$ZTIO" echo 127.0.0.1 "$P" 65536 9
t_check "... over a new session" \
	test "$(grep -c 'session to edge .* established' "$T_DIR/side.log")" -gt "$sessions"
# SIGHUP after logrotate moved the audit log: the edge writes to a new file at the old path;
# keys that only a restart changes are named in a warning and keep their old values.
mv "$ZN_AUDIT" "$ZN_AUDIT.1"
sed 's/^listen = .*/listen = 127.0.0.1:1/; s/^audit_log = .*/audit_log = \/nonexistent\/audit.log/' \
    "$ZN_EDGE_INI" >"$ZN_EDGE_INI.new" && cat "$ZN_EDGE_INI.new" >"$ZN_EDGE_INI"
kill -HUP "$(zn_pid edge)"
t_check "SIGHUP: the audit log is opened again at its path (0600)" \
	t_wait "[ -f '$ZN_AUDIT' ]" 5
t_check "... with mode 0600" test "$(stat -c %a "$ZN_AUDIT")" = 600
t_check "SIGHUP: a changed listen is named in a warning" \
	grep -q 'listen changed: it takes effect at the next start' "$T_DIR/edge.log"
t_check "SIGHUP: a changed audit_log is named in a warning" \
	grep -q 'audit_log changed: it takes effect at the next start' "$T_DIR/edge.log"
t_check "... and the edge keeps its port and its audit log: a new connection works" \
	timeout 15 "$ZTIO" echo 127.0.0.1 "$P" 65536 10
t_check "... and is audited in the new file" \
	t_wait "grep -q '\"event\":\"stream\"' '$ZN_AUDIT'" 5
t_check "connector sessions are never idle-closed" zn_connector_wait conn 4 1
t_check "the edge, the connector and the sidecar are still running" \
	eval 'zn_alive edge && zn_alive conn && zn_alive side'
t_done
