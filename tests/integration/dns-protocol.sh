#!/bin/sh
# dns-protocol: `zt dns serve` speaks DNS over UDP and TCP as dnsmasq 2.90 does (RFC 1035, 6891,
# 7766): TCP framing, pipelining, idle and per-connection limits, EDNS, truncation, junk, CHAOS.
. "${top_srcdir:-.}/tests/integration/lib.sh"
t_init
t_need dig kdig
. "$top_srcdir/tests/dns/helpers.sh"
dns_need_python
chk() {
	"$PY" "$DNS_DIR/protocol_checks.py" "$@"
}

dns_upstream up --slow 1
PORT=$(t_port)
i=1
while [ "$i" -le 60 ]; do
	echo "10.0.0.$i many.test"
	i=$((i + 1))
done >"$T_DIR/hosts"
cat >"$T_DIR/zt.conf" <<EOF
port=$PORT
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
addn-hosts=$T_DIR/hosts
server=127.0.0.1#$UP_PORT
cache-size=321
address=/local.test/192.0.2.1
EOF
for d in 0 1 2 3 4 5 6 7 8 9; do
	echo "txt-record=bigtxt.test,\"$(printf "%0200d" 0 | tr 0 "$d")\""
done >>"$T_DIR/zt.conf"
dns_zt zt "$PORT" -- --conf-file="$T_DIR/zt.conf"

D="dig @127.0.0.1 -p $PORT +time=3 +tries=1"
K="kdig @127.0.0.1 -p $PORT +time=3 +retry=0"

# UDP and TCP answers, from both clients.
t_check "dig over UDP" test "$($D +short local.test A)" = 192.0.2.1
t_check "dig over TCP" test "$($D +tcp +short local.test A)" = 192.0.2.1
t_check "kdig over UDP" test "$($K +short local.test A)" = 192.0.2.1
t_check "kdig over TCP" test "$($K +tcp +short local.test A)" = 192.0.2.1
t_check "a forwarded name over TCP" test "$($D +tcp +short a.slow.test A)" = 192.0.2.99

# Several queries on one connection: kdig +keepopen reuses it, and the server answers each.
$K +tcp +keepopen +short local.test A many.test A local.test A >"$T_DIR/kdig.out" 2>&1
t_check "kdig +tcp +keepopen: three names on one connection" \
	test "$(grep -c . "$T_DIR/kdig.out")" = 62
t_check "several queries one after another on one connection" chk tcp-sequential --port "$PORT"
t_check "three pipelined queries (the first one slow) are answered in order" \
	chk tcp-pipelined --port "$PORT" --slow p1.slow.test
t_check "a client that shuts down its sending side still gets its answers" \
	chk tcp-halfclose --port "$PORT" --slow p2.slow.test
t_check "clients that go away with queries outstanding do no harm" \
	chk tcp-abandon --port "$PORT" --slow1 p3.slow.test --slow2 p4.slow.test
t_check "a burst of 161 queries queued at once, a forwarded and a TCP one among them, all answered" \
	chk udp-burst --port "$PORT" --pid "$ZT_PID"
t_check "a connection is good for 100 queries, one after another" \
	chk tcp-limit --port "$PORT" --mode sequential
t_check "a connection is good for 100 queries, pipelined" \
	chk tcp-limit --port "$PORT" --mode pipelined

# EDNS: an OPT in the reply only when the query had one; 1232 bytes advertised.
$D +noedns local.test A >"$T_DIR/dig.noedns"
t_check "dig +noedns: an answer" t_contains "$T_DIR/dig.noedns" 'status: NOERROR'
t_check "dig +noedns: no OPT in the reply" \
	test "$(grep -c 'OPT PSEUDOSECTION' "$T_DIR/dig.noedns")" = 0
$D +bufsize=4096 local.test A >"$T_DIR/dig.edns"
t_check "dig +bufsize=4096: an OPT advertising 1232" t_contains "$T_DIR/dig.edns" 'udp: 1232$'
$K +bufsize=4096 local.test A >"$T_DIR/kdig.edns"
t_check "kdig +bufsize=4096: an OPT advertising 1232" \
	t_contains "$T_DIR/kdig.edns" 'Version: 0; flags: ; UDP size: 1232 B'
t_check "OPT present exactly when the query had one, over UDP and TCP" chk edns --port "$PORT"

# Truncation of local answers.
$D +noedns +ignore many.test A >"$T_DIR/dig.tc"
t_check "dig +noedns: 60 A records come back truncated" t_contains "$T_DIR/dig.tc" 'flags:.* tc.*;'
t_check "... without records" t_contains "$T_DIR/dig.tc" 'ANSWER: 0,'
t_check "dig +noedns +tcp: the 60 A records whole" \
	test "$($D +noedns +tcp +short many.test A | grep -c '^10\.0\.0\.')" = 60
t_check "dig +noedns (falls back to TCP by itself): the 60 A records" \
	test "$($D +noedns +short many.test A | grep -c '^10\.0\.0\.')" = 60
t_check "truncation: TC and no records over UDP, whole over TCP, at most 1232 bytes" \
	chk truncation --port "$PORT"

# Junk gets no reply; the server keeps serving.
t_check "zero-length, 11-byte and QR=1 datagrams get no reply" chk udp-junk --port "$PORT"

# CHAOS.
$D +short version.bind CH TXT >"$T_DIR/dig.version"
t_check "dig version.bind CH TXT" t_contains "$T_DIR/dig.version" '^"zt-'
t_check "version.bind and cachesize.bind" chk chaos --port "$PORT" --cachesize 321

# The TCP timeouts last longest: run them together, last.
chk tcp-idle --port "$PORT" 2>"$T_DIR/idle.err" &
idle=$!
chk tcp-silent --port "$PORT" 2>"$T_DIR/silent.err" &
silent=$!
wait $idle
t_check "an idle TCP connection is closed, a busy one is not" test $? -eq 0
wait $silent
t_check "a TCP client that sends nothing is disconnected" test $? -eq 0
cat "$T_DIR/idle.err" "$T_DIR/silent.err" >&2
t_check "zt is still running" kill -0 "$ZT_PID"
t_done
