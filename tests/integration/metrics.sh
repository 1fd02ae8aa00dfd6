#!/bin/sh
# metrics: --metrics on the edge, a connector, a sidecar and zt dns serve: /metrics in the
# Prometheus text format with counters that follow real traffic, /ready (200, 503 with a reason
# when the edge is down and after SIGTERM), /healthz, the zt APPLET ready probes, and the HTTP
# server's refusals (400, 404, 405, 414, 431, 505, slow clients) with the applet still serving.
# shellcheck disable=SC1091
. "${top_srcdir:-.}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/zt-net.sh"
t_need curl
zn_init
HTTP="$ZN_PY $top_srcdir/tests/net/http.py"

EM=$(zn_free_port)
CM=$(zn_free_port)
SM=$(zn_free_port)
ZN_EDGE_ARGS="--metrics 127.0.0.1:$EM"
ZN_CONNECTOR_ARGS="--metrics $CM"
ZN_SIDECAR_ARGS="--metrics=127.0.0.1:$SM"
zn_echo_path

# code PORT PATH: the HTTP status of GET PATH.
code() {
	curl -s -o "$T_DIR/body" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$1$2"
}

# scrape PORT NAME: /metrics into $T_DIR/NAME.prom.
scrape() {
	curl -sf --max-time 5 -o "$T_DIR/$2.prom" "http://127.0.0.1:$1/metrics"
}

# val NAME METRIC [LABELS]: a sample of the last scrape NAME.
val() {
	$HTTP value "$T_DIR/$1.prom" "$2" "${3:-}"
}

# grew BEFORE AFTER MIN: AFTER - BEFORE >= MIN (integers of any size).
grew() {
	$ZN_PY -c 'import sys; b, a, m = (float(x) for x in sys.argv[1:]); sys.exit(0 if a - b >= m else 1)' "$1" "$2" "$3"
}

# --- the endpoints --------------------------------------------------------------------------
for a in edge:$EM connector:$CM sidecar:$SM; do
	n=${a%%:*} p=${a#*:}
	t_check "$n: /healthz answers 200" test "$(code "$p" /healthz)" = 200
	t_check "$n: /ready answers 200" test "$(code "$p" /ready)" = 200
	t_check "$n: /ready says ready in JSON" grep -q '^{"ready":true,"status":"' "$T_DIR/body"
	t_check "$n: /metrics answers 200" scrape "$p" "$n"
	t_check "$n: /metrics is in the Prometheus text format 0.0.4 (HELP, TYPE, samples)" \
	    $HTTP promcheck "$T_DIR/$n.prom"
	t_check "$n: zt_build_info carries the version" \
	    grep -q '^zt_build_info{version="[^"]*",applet="[a-z]*"} 1$' "$T_DIR/$n.prom"
	t_check "$n: zt_ready is 1" test "$(val "$n" zt_ready)" = 1
	t_check "$n: an unknown path is 404" test "$(code "$p" /nope)" = 404
done
t_check "the content type is the format's" sh -c "curl -sI 'http://127.0.0.1:$EM/metrics' |
    grep -qi '^content-type: text/plain; version=0.0.4'"
t_check "HEAD /ready answers 200 without a body" sh -c "curl -s -I 'http://127.0.0.1:$CM/ready' |
    grep -q '^HTTP/1.1 200'"
t_check "the connector reports its 4 registered connections" \
	test "$(val connector zt_tunnel_connections)" = 4
t_check "the edge counts the connector's connections" \
	test "$(val edge zt_edge_connections 'role="connector"')" = 4
t_check "the edge counts its allowed sessions" \
	grep -q '^zt_edge_auth_decisions_total{event="session",result="allow"} [1-9]' "$T_DIR/edge.prom"
t_check "the sidecar's session is up" test "$(val sidecar zt_access_session_up)" = 1

t_run "$ZT" edge ready --metrics "127.0.0.1:$EM"
t_check "zt edge ready --metrics: exit 0" test "$T_RC" -eq 0
t_run "$ZT" tunnel ready --metrics "$CM"
t_check "zt tunnel ready --metrics: exit 0, printing the status" \
	eval '[ "$T_RC" -eq 0 ] && grep -q "4 of 4 connections" "$T_DIR/out"'
t_run "$ZT" access ready --metrics "$SM"
t_check "zt access ready --metrics: exit 0" test "$T_RC" -eq 0
t_run "$ZT" access ready --metrics "$(zn_free_port)"
t_check "zt access ready on a port nobody serves: exit 1, saying so" \
	eval '[ "$T_RC" -eq 1 ] && grep -q "no answer" "$T_DIR/err"'
t_run "$ZT" tunnel ready --metrics "localhost:1"
t_check "zt tunnel ready with a bad address: exit 2" test "$T_RC" -eq 2

# --- counters follow the traffic ---------------------------------------------------------
scrape "$EM" e1 && scrape "$CM" c1 && scrape "$SM" s1
UP=1048576 DOWN=2097152
t_check "1 MiB up through the path" "$ZTIO" up 127.0.0.1 "$P" $UP 11
t_check "2 MiB down through the path" "$ZTIO" down 127.0.0.1 "$P" $DOWN 12
sleep 0.3
scrape "$EM" e2 && scrape "$CM" c2 && scrape "$SM" s2
check_grew() { # NAME METRIC LABELS MIN
	b=$(val "${1}1" "$2" "$3") a=$(val "${1}2" "$2" "$3")
	t_check "$1: $2{$3} grew by at least $4 ($b -> $a)" grew "$b" "$a" "$4"
}
check_grew s zt_access_stream_bytes_sent_total "" $UP
check_grew s zt_access_stream_bytes_received_total "" $DOWN
check_grew e zt_edge_stream_bytes_received_total 'role="client"' $UP
check_grew e zt_edge_stream_bytes_sent_total 'role="connector"' $UP
check_grew e zt_edge_stream_bytes_received_total 'role="connector"' $DOWN
check_grew e zt_edge_stream_bytes_sent_total 'role="client"' $DOWN
check_grew c zt_tunnel_stream_bytes_received_total "" $UP
check_grew c zt_tunnel_stream_bytes_sent_total "" $DOWN
check_grew s zt_access_streams_total 'result="ok"' 2
check_grew e zt_edge_streams_total 'result="ok"' 2
check_grew c zt_tunnel_streams_total 'result="ok"' 2
check_grew s zt_access_connections_total "" 2
check_grew e zt_edge_auth_decisions_total 'event="stream",result="allow"' 2
t_check "no more than what moved plus the test's own requests (bytes are not double counted)" \
	grew "$(val s2 zt_access_stream_bytes_sent_total)" $((UP + 4096)) 0

# --- the HTTP server's refusals; the applets keep serving ---------------------------------
for k in garbage:400 bare-lf:400 nohost:400 smuggle:400 post:405 notfound:404 \
    longtarget:414 bighead:431 manyheaders:431 http2:505; do
	kind=${k%%:*} want=${k#*:}
	got=$($HTTP raw "$CM" "$kind")
	t_check "a $kind request is answered $want (got $got)" test "$got" = "$want"
done
t_check "a slow client is cut after 5 s without an answer" \
	sh -c "t=\$($HTTP slow $EM); echo \"slow: \$t s\"; [ \${t%.*} -ge 4 ] && [ \${t%.*} -le 8 ]"
t_check "... and the edge still serves /healthz" test "$(code "$EM" /healthz)" = 200
t_check "... and the connector still serves /metrics" scrape "$CM" c3

# --- /ready follows the state ----------------------------------------------------------------
zn_edge_stop
t_check "edge down: the connector's /ready turns 503" \
	t_wait "[ \"\$(code $CM /ready)\" = 503 ]" 10
t_check "... saying why" grep -q '"reason":"no connection to the edge is registered"' "$T_DIR/body"
t_run "$ZT" tunnel ready --metrics "$CM"
t_check "... and zt tunnel ready --metrics exits 1" test "$T_RC" -eq 1
t_check "the sidecar's /ready turns 503 too" t_wait "[ \"\$(code $SM /ready)\" = 503 ]" 10
t_check "... saying why" grep -q '"reason":"no session to the edge"' "$T_DIR/body"
scrape "$CM" c4
t_check "the connector counts its reconnection attempts" \
	grew 0 "$(val c4 zt_tunnel_reconnects_total)" 1
zn_edge_start
t_check "edge back: the connector is ready again" t_wait "[ \"\$(code $CM /ready)\" = 200 ]" 20
t_check "edge back: the sidecar is ready again" t_wait "[ \"\$(code $SM /ready)\" = 200 ]" 20

# SIGTERM with a stream open: /ready says 503 (draining) while the stream finishes.
rm -f "$T_DIR/dl.rc"
("$ZTIO" down 127.0.0.1 "$P" 3145728 13 --rate 1048576 >"$T_DIR/dl.out" 2>&1; echo $? >"$T_DIR/dl.rc") &

sleep 1
kill -TERM "$(zn_pid conn)"
t_check "connector SIGTERM: /ready turns 503 at once" t_wait "[ \"\$(code $CM /ready)\" = 503 ]" 3
t_check "... saying it is draining" grep -q '"reason":"draining"' "$T_DIR/body"
t_check "... and the open stream still finishes intact" \
	t_wait "[ -s '$T_DIR/dl.rc' ] && [ \"\$(cat '$T_DIR/dl.rc')\" = 0 ]" 15
zn_exited conn 15
t_check "... then the connector exits 0" test "$ZN_RC" -eq 0
kill -TERM "$(zn_pid edge)"
zn_exited edge 15
t_check "edge SIGTERM with no stream: exits 0" test "$ZN_RC" -eq 0

# --- zt dns serve --metrics -------------------------------------------------------------------
if /usr/bin/python3 -c 'import dns.message' 2>/dev/null && command -v dig >/dev/null; then
	. "$top_srcdir/tests/dns/helpers.sh"
	dns_upstream up
	DP=$(t_port)
	DM=$(zn_free_port)
	dns_zt dns "$DP" -- --port="$DP" --listen-address=127.0.0.1 --bind-interfaces \
	    --no-resolv --server="127.0.0.1#$UP_PORT" --address=/local.test/10.1.2.3 \
	    --metrics "$DM"
	t_check "dns: /ready answers 200" test "$(code "$DM" /ready)" = 200
	scrape "$DM" d0	# the start-up probe's queries are counted too
	for i in 1 2 3; do
		dig +short +tries=1 +time=2 -p "$DP" @127.0.0.1 www.example.com A >/dev/null
	done
	dig +short +tries=1 +time=2 -p "$DP" @127.0.0.1 local.test A >/dev/null
	dig +tcp +short +tries=1 +time=2 -p "$DP" @127.0.0.1 nothere.example.com A >/dev/null
	dig +tcp +short +tries=1 +time=2 -p "$DP" @127.0.0.1 local.test A >/dev/null
	scrape "$DM" d1
	t_check "dns: the scrape is in the text format" $HTTP promcheck "$T_DIR/d1.prom"
	t_check "dns: 4 UDP queries counted" test "$(($(val d1 zt_dns_queries_total \
	    'protocol="udp"') - $(val d0 zt_dns_queries_total 'protocol="udp"')))" = 4
	t_check "dns: 2 TCP queries counted" test "$(($(val d1 zt_dns_queries_total \
	    'protocol="tcp"') - $(val d0 zt_dns_queries_total 'protocol="tcp"')))" = 2
	t_check "dns: the upstream's NOERROR answer counted once (then cached)" \
	    test "$(val d1 zt_dns_upstream_answers_total 'rcode="NOERROR"')" = 1
	t_check "dns: its NXDOMAIN answer counted" \
	    test "$(val d1 zt_dns_upstream_answers_total 'rcode="NXDOMAIN"')" = 1
	t_check "dns: two cache hits (the 2nd and 3rd www.example.com)" \
	    test "$(val d1 zt_dns_cache_hits_total)" = 2
	t_check "dns: cache misses counted" grew 0 "$(val d1 zt_dns_cache_misses_total)" 1
	t_check "dns: the two forwarded answers were cached" \
	    test "$(val d1 zt_dns_cache_insertions_total)" = 2
	t_check "dns: one listener" test "$(val d1 zt_dns_listeners)" = 1
	t_run "$ZT" dns ready --metrics="$DM"
	t_check "zt dns ready --metrics=: exit 0" test "$T_RC" -eq 0
	t_check "dns: a malformed request is 400, and DNS still answers" sh -c \
	    "[ \"\$($HTTP raw $DM garbage)\" = 400 ] &&
	    [ \"\$(dig +short +tries=1 +time=2 -p $DP @127.0.0.1 local.test A)\" = 10.1.2.3 ]"
	t_run "$ZT" dns serve -k --port="$(t_port)" --metrics=localhost:1
	t_check "dns: a bad --metrics address exits 1, as dnsmasq for a bad option" \
	    eval '[ "$T_RC" -eq 1 ] && grep -q "numeric address" "$T_DIR/err"'
	t_run "$ZT" dns serve -k --port="$(t_port)" --no-resolv --metrics="$DM"
	t_check "dns: a metrics port already taken exits 2, as dnsmasq for a network problem" \
	    test "$T_RC" -eq 2
	dns_stop "$ZT_PID"
	t_run "$ZT" dns ready --metrics="$DM"
	t_check "zt dns ready once it stopped: exit 1" test "$T_RC" -eq 1
else
	echo "SKIP: the dns part needs python3-dnspython and dig"
fi
t_done
