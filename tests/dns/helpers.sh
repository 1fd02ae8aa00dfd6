# helpers.sh: shell helpers for the dns-*.sh integration tests (source after lib.sh and t_init).
# They start the scripted upstream and zt in the test's directory and wait until each is up.

PY=/usr/bin/python3
DNS_DIR="$top_srcdir/tests/dns"
# A command prefix for the processes dns_upstream and dns_zt start and probe with, e.g.
# "ip netns exec NAME" to run them in a network namespace.
DNS_EXEC=""

# Skips the test (77) unless /usr/bin/python3 has dnspython.
dns_need_python() {
	if ! "$PY" -c 'import dns.message' 2>/dev/null; then
		t_skip "$PY with python3-dnspython is not installed"
	fi
}

# dns_upstream NAME [upstream.py options]: starts upstream.py on 127.0.0.1 (unless --addr is
# given), logging queries to $T_DIR/NAME.log; sets UP_PORT and UP_PID.
dns_upstream() {
	name=$1
	shift
	rm -f "$T_DIR/$name.port"
	t_bg $DNS_EXEC "$PY" "$DNS_DIR/upstream.py" --zone "$DNS_DIR/zone.txt" --log "$T_DIR/$name.log" \
	    --portfile "$T_DIR/$name.port" "$@" 2>>"$T_DIR/$name.err"
	UP_PID=$T_LAST
	if ! t_wait "[ -s '$T_DIR/$name.port' ] || ! kill -0 $UP_PID 2>/dev/null" 10 ||
	    [ ! -s "$T_DIR/$name.port" ]; then
		echo "FAIL: the upstream $name did not start:" >&2
		cat "$T_DIR/$name.err" >&2
		exit 1
	fi
	UP_PORT=$(cat "$T_DIR/$name.port")
}

# dns_zt NAME PORT [ADDR] -- ARGS: starts `zt dns serve -k ARGS` with its log in $T_DIR/NAME.out
# and waits until it answers on ADDR (127.0.0.1) port PORT; sets ZT_PID. Fails the test if it
# does not come up.
dns_zt() {
	name=$1
	port=$2
	addr=127.0.0.1
	shift 2
	if [ "$1" != "--" ]; then
		addr=$1
		shift
	fi
	shift
	t_bg $DNS_EXEC "$ZT" dns serve -k --log-level=debug "$@" >"$T_DIR/$name.out" 2>&1
	ZT_PID=$T_LAST
	if ! $DNS_EXEC "$PY" "$DNS_DIR/protocol_checks.py" ready --port "$port" --addr "$addr" \
	    --pid "$ZT_PID" 2>/dev/null; then
		echo "FAIL: zt ($name) does not answer on $addr port $port:" >&2
		cat "$T_DIR/$name.out" >&2
		exit 1
	fi
}

# dns_stop PID: stops a process started with t_bg and waits for it.
dns_stop() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}
