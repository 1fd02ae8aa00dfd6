#!/bin/sh
# dns-forward: `zt dns serve` forwards as dnsmasq 2.90 does and resists spoofing (RFC 5452,
# DNSpooq): random ports and IDs, merged duplicates, strict reply matching, dns-forward-max,
# server selection, the TCP retry of truncated answers, the cache and resolv-file.
. "${top_srcdir:-.}/tests/integration/lib.sh"
t_init
. "$top_srcdir/tests/dns/helpers.sh"
dns_need_python
chk() {
	"$PY" "$DNS_DIR/forward_checks.py" "$@"
}

# zt_conf NAME PORT: zt-NAME.conf, listening on 127.0.0.1 PORT, the rest from stdin.
zt_conf() {
	{
		echo "port=$2"
		echo "listen-address=127.0.0.1"
		echo "bind-interfaces"
		echo "no-hosts"
		cat
	} >"$T_DIR/zt-$1.conf"
}

# zt_start NAME: starts zt on zt-NAME.conf, its log in zt-NAME.out; its port in $PORT, its pid
# in $PID_NAME.
INSTANCES=""
zt_start() {
	PORT=$(sed -n 's/^port=//p' "$T_DIR/zt-$1.conf")
	dns_zt "zt-$1" "$PORT" -- --conf-file="$T_DIR/zt-$1.conf"
	eval "PID_$1=$ZT_PID"
	INSTANCES="$INSTANCES $1"
}

dns_upstream up --slow 1.5
UP=$UP_PORT
dns_upstream refuser --rcode REFUSED
REFUSER=$UP_PORT
dns_upstream a
A=$UP_PORT
dns_upstream b
B=$UP_PORT

# The main instance: one upstream, and a fake one that forges replies for spoof.test.
t_bg "$PY" "$DNS_DIR/forward_checks.py" spoofer --portfile "$T_DIR/spoofer.port" \
	--log "$T_DIR/spoofer.log"
if ! t_wait "[ -s '$T_DIR/spoofer.port' ]" 10; then
	echo "FAIL: the spoofer did not start" >&2
	exit 1
fi
FAKE=$(cat "$T_DIR/spoofer.port")
zt_conf main "$(t_port)" <<EOF
no-resolv
server=127.0.0.1#$UP
server=/spoof.test/127.0.0.1#$FAKE
EOF
zt_start main
MAIN=$PORT

# (a) Source ports and IDs.
t_check "200 forwarded queries: random source ports over the ephemeral range, random IDs" \
	chk ports-ids --port "$MAIN" --log "$T_DIR/up.log" --count 200

# (b) Identical queries in flight are merged.
t_check "10 identical queries at once: one upstream query, each client its own ID" \
	chk merge --port "$MAIN" --log "$T_DIR/up.log" --name m1.slow.test
t_check "again, with another name" \
	chk merge --port "$MAIN" --log "$T_DIR/up.log" --name m2.slow.test --clients 25

# (c) Forged replies are ignored.
t_check "forged replies (port, address, ID, name, type, class, QR) are ignored" \
	chk spoof --port "$MAIN" --log "$T_DIR/spoofer.log"

# (f) The TCP retry of an answer truncated over UDP.
t_check "a truncated upstream answer is fetched again over TCP" \
	chk tcp-fallback --port "$MAIN" --log "$T_DIR/up.log"

# (g) The cache.
t_check "a repeated query comes from the cache with its TTL counting down" \
	chk cache --port "$MAIN" --log "$T_DIR/up.log"
t_check "NXDOMAIN with an SOA is cached" \
	chk negative --port "$MAIN" --log "$T_DIR/up.log" --name nx1.example.com --forwards 1
t_check "NXDOMAIN without an SOA is not cached (neg-ttl unset)" \
	chk negative --port "$MAIN" --log "$T_DIR/up.log" --name n1.nosoa.test --forwards 2

zt_conf capped "$(t_port)" <<EOF
no-resolv
server=127.0.0.1#$UP
max-ttl=100
neg-ttl=60
EOF
zt_start capped
t_check "max-ttl=100 caps the TTLs handed out" \
	chk max-ttl --port "$PORT" --log "$T_DIR/up.log" --cap 100
t_check "neg-ttl=60: NXDOMAIN without an SOA is cached" \
	chk negative --port "$PORT" --log "$T_DIR/up.log" --name n2.nosoa.test --forwards 1

zt_conf nonegcache "$(t_port)" <<EOF
no-resolv
server=127.0.0.1#$UP
no-negcache
EOF
zt_start nonegcache
t_check "no-negcache: NXDOMAIN with an SOA is not cached" \
	chk negative --port "$PORT" --log "$T_DIR/up.log" --name nx2.example.com --forwards 2

# (d) dns-forward-max.
zt_conf fmax "$(t_port)" <<EOF
no-resolv
server=127.0.0.1#$UP
dns-forward-max=2
EOF
zt_start fmax
t_check "dns-forward-max=2: 3 of 5 concurrent queries REFUSED at once" \
	chk forward-max --port "$PORT" --log "$T_DIR/up.log" --prefix fm --n 5 --limit 2
t_check "zt logs that the maximum was reached" \
	t_contains "$T_DIR/zt-fmax.out" 'Maximum number of concurrent DNS queries reached (max: 2)'

# (e) Server selection.
zt_conf strictref "$(t_port)" <<EOF
no-resolv
strict-order
server=127.0.0.1#$REFUSER
server=127.0.0.1#$A
EOF
zt_start strictref
t_check "strict-order: the first server refuses, the answer comes from the second" \
	chk servers --port "$PORT" --mode strict-refused \
	--logs "$T_DIR/refuser.log,$T_DIR/a.log" --prefix sr --n 4

zt_conf strict "$(t_port)" <<EOF
no-resolv
strict-order
server=127.0.0.1#$A
server=127.0.0.1#$B
EOF
zt_start strict
t_check "strict-order: every query to the first server while it answers" \
	chk servers --port "$PORT" --mode strict --logs "$T_DIR/a.log,$T_DIR/b.log" --prefix st

zt_conf all "$(t_port)" <<EOF
no-resolv
all-servers
server=127.0.0.1#$A
server=127.0.0.1#$B
EOF
zt_start all
t_check "all-servers: every query to both servers" \
	chk servers --port "$PORT" --mode all --logs "$T_DIR/a.log,$T_DIR/b.log" --prefix al

zt_conf default "$(t_port)" <<EOF
no-resolv
server=127.0.0.1#$A
server=127.0.0.1#$B
EOF
zt_start default
t_check "default: the first query to both servers, the later ones to the one that answered" \
	chk servers --port "$PORT" --mode default --logs "$T_DIR/a.log,$T_DIR/b.log" --prefix df

# (h) resolv-file. Its servers are on port 53: use two addresses of 127/8 if they are free.
net=127.53.$(($$ % 250 + 2))
if chk can-bind --addr "$net.1" --port 53 && chk can-bind --addr "$net.2" --port 53; then
	# zt runs as nobody (user=, as dnsmasq): it must be able to read the resolv-files.
	chmod 755 "$T_DIR"
	dns_upstream r1 --addr "$net.1" --port 53
	dns_upstream r2 --addr "$net.2" --port 53
	zt_conf rsv "$(t_port)" <<EOF
resolv-file=$T_DIR/resolv.conf
EOF
	# Write it, start zt and replace it within one second (unless the machine is very slow):
	# dnsmasq hears of every change through inotify, a whole-second mtime would miss this one.
	$PY -c 'import time; time.sleep(1.05 - time.time() % 1)'
	echo "nameserver $net.1" >"$T_DIR/resolv.conf"
	zt_start rsv
	t_check "the server named in resolv-file is used" \
		chk resolv --port "$PORT" --logs "$T_DIR/r1.log" --prefix rv
	printf '# changed\nnameserver %s\n' "$net.2" >"$T_DIR/resolv.new"
	mv "$T_DIR/resolv.new" "$T_DIR/resolv.conf"
	t_check "resolv-file is read again when it is replaced" \
		chk resolv --port "$PORT" --logs "$T_DIR/r1.log,$T_DIR/r2.log" --prefix rc
	# Rewritten in place, a different length.
	printf 'nameserver %s\n' "$net.1" >"$T_DIR/resolv.conf"
	t_check "resolv-file is read again when it is rewritten" \
		chk resolv --port "$PORT" --logs "$T_DIR/r2.log,$T_DIR/r1.log" --prefix rw

	zt_conf late "$(t_port)" <<EOF
resolv-file=$T_DIR/late.conf
EOF
	zt_start late
	t_check "a missing resolv-file is not an error: REFUSED meanwhile" \
		chk refused --port "$PORT" --name before.example.com
	echo "nameserver $net.1" >"$T_DIR/late.conf"
	t_check "the resolv-file is used once it appears" \
		chk resolv --port "$PORT" --logs "$T_DIR/r1.log" --prefix lt
else
	echo "SKIP (sub-test): $net.1 and $net.2 port 53 cannot be bound here; resolv-file not tested"
fi

for n in $INSTANCES; do
	eval "pid=\$PID_$n"
	t_check "zt ($n) is still running" kill -0 "$pid"
done
t_done
