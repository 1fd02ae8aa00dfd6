#!/bin/sh
# sdnotify: zt speaks systemd's notification protocol itself: READY=1 with STATUS= once ready,
# RELOADING=1 with MONOTONIC_USEC= on SIGHUP then READY=1, STOPPING=1 on SIGTERM, WATCHDOG=1
# at half of $WATCHDOG_USEC; an abstract socket works too. Also SIGHUP in zt tunnel run: the
# ingress rules of tunnel.ini are read again, a broken file is refused and the old rules stay.
# shellcheck disable=SC1091
. "${top_srcdir:-.}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/zt-net.sh"
t_need curl
zn_init
NOTIFY="$ZN_PY $top_srcdir/tests/net/notify.py"

# listen NAME SOCKET: a notification socket whose datagrams go to $T_DIR/NAME.notify.
listen_notify() {
	$NOTIFY "$2" "$T_DIR/$1.notify" 2>>"$T_DIR/$1.notify.err" &
	zn_remember "n_$1" $!
	t_wait "[ -e '$T_DIR/$1.notify' ]" 5
}

# got NAME REGEX [SECS]: a datagram of NAME matches the extended regular expression.
got() {
	t_wait "grep -Eq -e '$2' '$T_DIR/$1.notify'" "${3:-10}"
}

# count NAME REGEX: how many datagrams match.
count() {
	grep -Ec -e "$2" "$T_DIR/$1.notify"
}

# --- the edge: a path socket -------------------------------------------------------------------
zn_edge_init
zn_app data.test data "allow token:ci"
zn_tunnel_create data
zn_token_create ci
listen_notify edge "$T_DIR/edge.sock"
NOTIFY_SOCKET=$T_DIR/edge.sock
export NOTIFY_SOCKET
zn_edge_start
unset NOTIFY_SOCKET
t_check "edge: READY=1 with a STATUS line once it serves" got edge '^READY=1\|STATUS=[0-9]+ apps'
kill -HUP "$(zn_pid edge)"
t_check "edge SIGHUP: RELOADING=1 with MONOTONIC_USEC" got edge '^RELOADING=1\|MONOTONIC_USEC=[0-9]+$'
t_check "edge SIGHUP: READY=1 again when the reload is done" \
	t_wait "[ \"\$(count edge '^READY=1')\" = 2 ]" 5
t_check "... in that order" sh -c "grep -E '^(READY|RELOADING)' '$T_DIR/edge.notify' |
    cut -d'|' -f1 | tr '\n' ' ' | grep -q '^READY=1 RELOADING=1 READY=1 $'"

# --- a connector with tunnel.ini, the watchdog, an abstract socket -------------------------
zn_origin origin
URL="tcp://127.0.0.1:$(zn_port origin)"
INI=$T_DIR/tunnel.ini
write_ini() { # RULE...
	{
		printf '[tunnel]\ntoken_file = %s\nha_connections = 2\nedge = 127.0.0.1:%s\n' \
		    "$ZN_SECRETS/data.token" "$ZN_EDGE_PORT"
		printf 'status_file = %s\n[ingress]\n' "$T_DIR/conn.status"
		for r in "$@"; do
			printf 'rule = %s\n' "$r"
		done
	} >"$INI"
}
write_ini "data.test $URL" "* http_status:404"
CM=$(zn_free_port)
ASOCK="@zt-sdnotify-test-$$"
listen_notify conn "$ASOCK"
echo "--- zt tunnel run started at $(date +%T.%N)" >>"$T_DIR/conn.log"
NOTIFY_SOCKET=$ASOCK WATCHDOG_USEC=400000 "$ZT" tunnel run -c "$INI" --metrics "$CM" \
    --log-level debug >>"$T_DIR/conn.log" 2>&1 &
zn_remember conn $!
t_check "connector: READY=1 once a connection is registered (abstract socket)" \
	got conn '^READY=1\|STATUS=[12] of 2 connections'
t_check "connector: STATUS follows (2 of 2 registered)" got conn '^STATUS=2 of 2 connections'
sleep 1
t_check "connector: WATCHDOG=1 every 200 ms for WATCHDOG_USEC=400000 (at least 4 a second)" \
	sh -c "n1=\$(grep -c '^WATCHDOG=1$' '$T_DIR/conn.notify'); sleep 1;
	    n2=\$(grep -c '^WATCHDOG=1$' '$T_DIR/conn.notify'); echo \"watchdog: \$n1 -> \$n2\";
	    [ \$((n2 - n1)) -ge 4 ] && [ \$((n2 - n1)) -le 7 ]"

zn_sidecar side ci data.test
t_check "the sidecar is up" zn_sidecar_wait side
P=$(zn_port side)
t_check "traffic flows through the rules of tunnel.ini" "$ZTIO" up 127.0.0.1 "$P" 100000 1

# SIGHUP with a broken file: refused, the old rules stay.
write_ini "data.test ftp://nowhere" "* http_status:404"
kill -HUP "$(zn_pid conn)"
t_check "connector SIGHUP: RELOADING=1" got conn '^RELOADING=1\|MONOTONIC_USEC=[0-9]+$'
t_check "a broken tunnel.ini is refused with a log line naming it" \
	t_wait "grep -q '$INI has errors: keeping the 2 ingress rules in force' '$T_DIR/conn.log'" 5
t_check "... READY=1 follows (the connector still serves)" \
	t_wait "[ \"\$(count conn '^READY=1')\" = 2 ]" 5
t_check "... counted as zt_reloads_total{result=\"error\"}" sh -c \
	"curl -s http://127.0.0.1:$CM/metrics | grep -q '^zt_reloads_total{result=\"error\"} 1$'"
t_check "... and the old rules still carry traffic" "$ZTIO" up 127.0.0.1 "$P" 100000 2

# SIGHUP with new rules: they apply to new streams at once, without a restart.
write_ini "data.test http_status:503" "* http_status:404"
kill -HUP "$(zn_pid conn)"
t_check "connector SIGHUP: the new rules are taken" \
	t_wait "grep -q 'ingress reloaded: 2 rules' '$T_DIR/conn.log'" 5
t_check "... counted as zt_reloads_total{result=\"ok\"}" sh -c \
	"curl -s http://127.0.0.1:$CM/metrics | grep -q '^zt_reloads_total{result=\"ok\"} 1$'"
"$ZTIO" up 127.0.0.1 "$P" 1000 3 >"$T_DIR/refused.out" 2>&1
t_check "... a stream is now refused by the new rule (http_status:503)" test $? -ne 0
t_check "... counted as ingress_refused" sh -c "curl -s http://127.0.0.1:$CM/metrics |
    grep -q '^zt_tunnel_streams_total{result=\"ingress_refused\"} [1-9]'"
write_ini "data.test $URL" "* http_status:404"
kill -HUP "$(zn_pid conn)"
t_check "connector SIGHUP: the rules are back" \
	t_wait "[ \"\$(grep -c 'ingress reloaded' '$T_DIR/conn.log')\" = 2 ]" 5
t_check "... and traffic flows again, the connections never dropped" "$ZTIO" up 127.0.0.1 "$P" 100000 4
t_check "... (still the first 2 registrations)" sh -c "curl -s http://127.0.0.1:$CM/metrics |
    grep -q '^zt_tunnel_connections_total 2$'"
t_check "the sidecar: READY=1 is not sent without NOTIFY_SOCKET (and nothing breaks)" zn_alive side

# SIGTERM: STOPPING=1.
kill -TERM "$(zn_pid conn)"
t_check "connector SIGTERM: STOPPING=1" got conn '^STOPPING=1'
zn_exited conn 10
t_check "... and it exits 0" test "$ZN_RC" -eq 0
zn_edge_stop
t_check "edge SIGTERM: STOPPING=1" got edge '^STOPPING=1'

# --- the sidecar and zt dns serve ---------------------------------------------------------------
zn_edge_start
listen_notify side2 "$T_DIR/side2.sock"
NOTIFY_SOCKET=$T_DIR/side2.sock
export NOTIFY_SOCKET
zn_sidecar side2 ci data.test
unset NOTIFY_SOCKET
t_check "sidecar: READY=1 once the edge authorised the token (the tunnel may be down)" \
	got side2 '^READY=1\|STATUS=session up to data.test'
kill -HUP "$(zn_pid side2)"
t_check "sidecar SIGHUP: RELOADING=1 then READY=1 (the secret file read again)" \
	t_wait "[ \"\$(count side2 '^READY=1')\" = 2 ]" 5
t_check "... saying so in its log" grep -q "SIGHUP: read .* again: the next session" "$T_DIR/side2.log"
zn_stop side2
t_check "sidecar SIGTERM: STOPPING=1" got side2 '^STOPPING=1'

DP=$(t_port)
listen_notify dns "$T_DIR/dns.sock"
NOTIFY_SOCKET=$T_DIR/dns.sock WATCHDOG_USEC=1000000 WATCHDOG_PID=1 "$ZT" dns serve -k \
    --port="$DP" --listen-address=127.0.0.1 --bind-interfaces --no-resolv \
    --address=/local.test/10.1.2.3 >"$T_DIR/dns.log" 2>&1 &
zn_remember dns $!
t_check "dns: READY=1 once listening" got dns '^READY=1\|STATUS=listening on 1 sockets'
kill -HUP "$(zn_pid dns)"
t_check "dns SIGHUP: RELOADING=1, then READY=1" t_wait "[ \"\$(count dns '^READY=1')\" = 2 ]" 5
t_check "dns: no WATCHDOG=1 when WATCHDOG_PID is another process" test "$(count dns WATCHDOG)" = 0
zn_stop dns
t_check "dns SIGTERM: STOPPING=1" got dns '^STOPPING=1'
t_check "dns: exits 0" test "$ZN_RC" -eq 0
t_done
