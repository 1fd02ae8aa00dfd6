# zt-net.sh: a whole zt network in the test's temporary directory, for the end-to-end tests
# (POSIX sh): an edge, tunnels, service tokens, connectors, sidecars and origins, all on free
# loopback ports. Source it after lib.sh, then call zn_init instead of t_init.
#
#   zn_init                          t_init, the cleanup, the tools every test needs
#   zn_free_port                     prints a free loopback port (as t_port, faster)
#   zn_edge_init ["KEY = VALUE"...] zt edge init (pin in $ZN_PIN, port $ZN_EDGE_PORT); the
#                                    lines go under [edge], after public = its address
#   zn_app HOST TUNNEL RULE...       an [app HOST] section served by TUNNEL, one policy per RULE
#   zn_edge_start / zn_edge_stop [SIG]   (again on the same port after a stop; plus
#                                    $ZN_EDGE_ARGS)
#   zn_tunnel_create NAME            its connector token in $ZN_SECRETS/NAME.token (0600)
#   zn_token_create NAME [ARGS...]   $ZN_SECRETS/NAME.id and NAME.secret (0600)
#   zn_connector NAME TUNNEL HOST URL [ARGS...]   zt tunnel run; pid in $ZN_PID_NAME
#   zn_connector_wait NAME [N [SECS]]  until N connections (default all) are registered
#   zn_sidecar NAME TOKEN HOST [ARGS...]  zt access tcp on a new port: $ZN_PORT_NAME
#   zn_sidecar_as NAME ID SECRET-FILE HOST [ARGS...]   the same with any credentials
#   zn_sidecar_wait NAME [SECS]      until its port is open
#   zn_exited NAME [SECS]            waits for NAME to exit by itself: its status in $ZN_RC
#   zn_stop NAME [SIG]               stops one of them and reaps it
#   zn_origin NAME                   the ztio origin (tests/net/ztio.c): $ZN_PORT_NAME
#   zn_audit PATTERN...              true when one audit line matches every grep -E PATTERN
#   zn_audit_count PATTERN...        how many lines do
#   zn_check_secrets                 no secret in any log, the audit log, or the command line
#                                    or environment of a running zt process
#   zn_atexit COMMAND                run at exit (e.g. stop a database the test started)
#   zn_echo_path ["KEY = VALUE"...]  the common network: an edge (the lines under [edge]), app
#                                    data.test of tunnel data allowing token ci, the ztio
#                                    origin, connector conn (plus $ZN_CONNECTOR_ARGS) and
#                                    sidecar side (plus $ZN_SIDECAR_ARGS), both checked up;
#                                    $URL is the origin's
#                                    service, $P the sidecar's port
#
# Every process is logged in $T_DIR/NAME.log (the edge in edge.log, appended to across
# restarts); secrets live in $ZN_SECRETS and never in a file named *.log.

# The helpers in tests/net/ run on the system's python (the one on PATH may be a slow shim).
ZN_PY=/usr/bin/python3
[ -x "$ZN_PY" ] || ZN_PY=python3
: "${ZN_LOG_LEVEL:=debug}"
ZN_NAMES=""
ZN_ATEXIT=""

zn_init() {
	t_need ss openssl timeout "$ZN_PY"
	t_init
	trap 'zn_cleanup' EXIT
	ZN_SECRETS=$T_DIR/secrets
	(umask 077 && mkdir "$ZN_SECRETS") || exit 99
}

# Stops what the network started (TERM, then KILL after 3 s), runs $ZN_ATEXIT, then lib.sh's
# cleanup with the test's exit status.
zn_cleanup() {
	zn_status=$?
	for zn_n in $ZN_NAMES; do
		eval "zn_p=\${ZN_PID_$zn_n:-}"
		[ -n "$zn_p" ] && kill "$zn_p" 2>/dev/null
	done
	zn_i=0
	while [ "$zn_i" -lt 30 ]; do
		zn_running=""
		for zn_n in $ZN_NAMES; do
			eval "zn_p=\${ZN_PID_$zn_n:-}"
			[ -n "$zn_p" ] && kill -0 "$zn_p" 2>/dev/null && zn_running="$zn_running $zn_p"
		done
		[ -z "$zn_running" ] && break
		sleep 0.1
		zn_i=$((zn_i + 1))
	done
	for zn_p in $zn_running; do
		echo "zt-net: pid $zn_p did not stop within 3 s of SIGTERM: killed" >&2
		kill -9 "$zn_p" 2>/dev/null
	done
	eval "$ZN_ATEXIT"
	(exit "$zn_status")
	t_cleanup
}

# zn_atexit COMMAND: runs COMMAND at exit, before the temporary directory goes.
zn_atexit() {
	ZN_ATEXIT="$ZN_ATEXIT
$1"
}

# zn_free_port: a port free on 127.0.0.1 for TCP and UDP, as t_port, but chosen below the
# ephemeral range: the kernel never gives it to an outgoing connection, so an edge restarted
# on its port finds it free. (And the system's python: a pyenv shim costs 0.5 s a call.)
zn_free_port() {
	"$ZN_PY" -c 'import random, socket
low = 32768
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    pass
low = max(low, 2048)
for _ in range(500):
    p = random.randrange(1024 + (low - 1024) // 2, low)
    t = socket.socket()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        t.bind(("127.0.0.1", p))
        u.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        t.close()
        u.close()
    print(p)
    break
else:
    raise SystemExit("no free port")'
}

# zn_listening PORT: something listens on 127.0.0.1:PORT.
zn_listening() {
	ss -Htln "sport = :$1" 2>/dev/null | grep -q .
}

# zn_remember NAME PID: tracks a process for zn_stop and the cleanup.
zn_remember() {
	case " $ZN_NAMES " in
	*" $1 "*) ;;
	*) ZN_NAMES="$ZN_NAMES $1" ;;
	esac
	eval "ZN_PID_$1=$2"
	T_PIDS="$T_PIDS $2"
}

# zn_pid NAME: prints its pid.
zn_pid() {
	eval "echo \"\${ZN_PID_$1:-}\""
}

# zn_alive NAME: its process is running.
zn_alive() {
	zn_p=$(zn_pid "$1")
	[ -n "$zn_p" ] && kill -0 "$zn_p" 2>/dev/null
}

# zn_stop NAME [SIGNAL]: sends SIGNAL (TERM) and waits up to 15 s for the process to end.
zn_stop() {
	zn_p=$(zn_pid "$1")
	[ -n "$zn_p" ] || return 0
	kill "-${2:-TERM}" "$zn_p" 2>/dev/null
	if ! t_wait "! kill -0 $zn_p 2>/dev/null" 15; then
		echo "zt-net: $1 (pid $zn_p) still runs 15 s after SIG${2:-TERM}: killed" >&2
		kill -9 "$zn_p" 2>/dev/null
	fi
	wait "$zn_p" 2>/dev/null
	ZN_RC=$?
	eval "ZN_PID_$1="
}

# --- the edge ------------------------------------------------------------------------------

zn_edge_init() {
	ZN_EDGE=$T_DIR/edge
	ZN_EDGE_INI=$ZN_EDGE/edge.ini
	ZN_STATE=$ZN_EDGE/state
	ZN_AUDIT=$ZN_EDGE/audit.log
	ZN_EDGE_PORT=$(zn_free_port)
	if ! "$ZT" edge init "$ZN_EDGE" --name edge.test --name 127.0.0.1 \
	    --listen "127.0.0.1:$ZN_EDGE_PORT" >"$T_DIR/edge-init.out" 2>&1; then
		cat "$T_DIR/edge-init.out" >&2
		echo "zt-net: zt edge init failed" >&2
		exit 99
	fi
	ZN_PIN=$(sed -n 's/^ *\(sha256\/\/[^ ]*\)$/\1/p' "$T_DIR/edge-init.out")
	zn_computed=sha256//$(openssl x509 -in "$ZN_EDGE/ca.crt" -pubkey -noout |
	    openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | openssl base64 -A)
	if [ "$ZN_PIN" != "$zn_computed" ]; then
		echo "zt-net: the pin printed by edge init ($ZN_PIN) is not the CA's ($zn_computed)" >&2
		exit 99
	fi
	zn_edge_set "public = 127.0.0.1:$ZN_EDGE_PORT"
	for zn_kv in "$@"; do
		zn_edge_set "$zn_kv"
	done
}

# zn_edge_set "KEY = VALUE": a line at the top of [edge].
zn_edge_set() {
	awk -v line="$1" '{ print } /^\[edge\]$/ { print line }' "$ZN_EDGE_INI" \
	    >"$ZN_EDGE_INI.new" && mv "$ZN_EDGE_INI.new" "$ZN_EDGE_INI" && chmod 600 "$ZN_EDGE_INI"
}

# zn_app HOST TUNNEL RULE...
zn_app() {
	{
		printf '\n[app %s]\ntunnel = %s\n' "$1" "$2"
		shift 2
		for zn_r in "$@"; do
			printf 'policy = %s\n' "$zn_r"
		done
	} >>"$ZN_EDGE_INI"
}

# Starts the edge (again, on the same port) and waits for its port.
zn_edge_start() {
	echo "--- zt edge serve started at $(date +%T.%N)" >>"$T_DIR/edge.log"
	# shellcheck disable=SC2086 # the extra arguments are words
	"$ZT" edge serve -c "$ZN_EDGE_INI" --log-level "$ZN_LOG_LEVEL" ${ZN_EDGE_ARGS:-} \
	    >>"$T_DIR/edge.log" 2>&1 &
	zn_remember edge $!
	if ! t_wait "zn_listening $ZN_EDGE_PORT" 10; then
		tail -20 "$T_DIR/edge.log" >&2
		echo "zt-net: the edge did not open port $ZN_EDGE_PORT" >&2
		exit 99
	fi
}

zn_edge_stop() {
	zn_stop edge "${1:-TERM}"
}

# --- credentials ---------------------------------------------------------------------------

zn_tunnel_create() {
	if ! "$ZT" tunnel create "$1" -c "$ZN_EDGE_INI" >"$ZN_SECRETS/tunnel-$1.out" 2>&1; then
		cat "$ZN_SECRETS/tunnel-$1.out" >&2
		exit 99
	fi
	(umask 077 && tail -n 1 "$ZN_SECRETS/tunnel-$1.out" >"$ZN_SECRETS/$1.token")
	echo "$ZN_SECRETS/$1.token" >>"$ZN_SECRETS/list"
}

zn_token_create() {
	zn_name=$1
	shift
	if ! "$ZT" token create "$zn_name" --state-dir "$ZN_STATE" "$@" \
	    >"$ZN_SECRETS/token-$zn_name.out" 2>&1; then
		cat "$ZN_SECRETS/token-$zn_name.out" >&2
		exit 99
	fi
	(umask 077 &&
	    sed -n 's/^Client ID: *//p' "$ZN_SECRETS/token-$zn_name.out" >"$ZN_SECRETS/$zn_name.id" &&
	    sed -n 's/^Client Secret: *//p' "$ZN_SECRETS/token-$zn_name.out" >"$ZN_SECRETS/$zn_name.secret")
	if [ ! -s "$ZN_SECRETS/$zn_name.id" ] || [ ! -s "$ZN_SECRETS/$zn_name.secret" ]; then
		echo "zt-net: no Client ID or Secret in the output of zt token create" >&2
		exit 99
	fi
	echo "$ZN_SECRETS/$zn_name.secret" >>"$ZN_SECRETS/list"
}

# zn_id NAME: the token's Client ID.
zn_id() {
	cat "$ZN_SECRETS/$1.id"
}

# --- connectors and sidecars ---------------------------------------------------------------

# zn_connector NAME TUNNEL HOSTNAME URL [ARGS...]: zt tunnel run for one hostname.
zn_connector() {
	zn_name=$1 zn_tun=$2 zn_host=$3 zn_url=$4
	shift 4
	echo "--- zt tunnel run started at $(date +%T.%N)" >>"$T_DIR/$zn_name.log"
	"$ZT" tunnel run --token-file "$ZN_SECRETS/$zn_tun.token" --hostname "$zn_host" --url "$zn_url" \
	    --status-file "$T_DIR/$zn_name.status" --log-level "$ZN_LOG_LEVEL" "$@" \
	    >>"$T_DIR/$zn_name.log" 2>&1 &
	zn_remember "$zn_name" $!
}

# zn_connections NAME: how many connections of the connector are registered.
zn_connections() {
	sed -n 's/^connections=//p' "$T_DIR/$1.status" 2>/dev/null
}

# zn_connector_wait NAME [N [SECS]]: until N (4) connections are registered.
zn_connector_wait() {
	t_wait "[ \"\$(zn_connections $1)\" = ${2:-4} ]" "${3:-10}"
}

# zn_sidecar NAME TOKEN HOSTNAME [ARGS...]: zt access tcp on 127.0.0.1:$ZN_PORT_NAME.
zn_sidecar() {
	zn_name=$1 zn_tok=$2 zn_host=$3
	shift 3
	zn_sidecar_as "$zn_name" "$(zn_id "$zn_tok")" "$ZN_SECRETS/$zn_tok.secret" "$zn_host" "$@"
}

# zn_sidecar_as NAME ID SECRET-FILE HOSTNAME [ARGS...]: the same with any credentials.
zn_sidecar_as() {
	zn_name=$1 zn_cid=$2 zn_sfile=$3 zn_host=$4
	shift 4
	zn_lport=$(zn_free_port)
	eval "ZN_PORT_$zn_name=$zn_lport"
	echo "--- zt access tcp started at $(date +%T.%N)" >>"$T_DIR/$zn_name.log"
	"$ZT" access tcp --hostname "$zn_host" --url "127.0.0.1:$zn_lport" --id "$zn_cid" \
	    --secret-file "$zn_sfile" --edge "127.0.0.1:$ZN_EDGE_PORT" \
	    --edge-pin "$ZN_PIN" --log-level "$ZN_LOG_LEVEL" "$@" >>"$T_DIR/$zn_name.log" 2>&1 &
	zn_remember "$zn_name" $!
}

# zn_exited NAME [SECS]: waits (15 s) for NAME to exit by itself; its status in $ZN_RC, 124
# when it was still running and had to be stopped.
zn_exited() {
	zn_p=$(zn_pid "$1")
	if t_wait "! kill -0 $zn_p 2>/dev/null" "${2:-15}"; then
		wait "$zn_p" 2>/dev/null
		ZN_RC=$?
		eval "ZN_PID_$1="
	else
		zn_stop "$1" KILL
		ZN_RC=124
	fi
}

# zn_sidecar_wait NAME [SECS]: until the sidecar's port is open (the edge authorised it).
zn_sidecar_wait() {
	eval "zn_lport=\$ZN_PORT_$1"
	t_wait "zn_listening $zn_lport" "${2:-10}"
}

# zn_port NAME: the port of a sidecar or origin.
zn_port() {
	eval "echo \"\$ZN_PORT_$1\""
}

# --- the origin ------------------------------------------------------------------------------

# zn_build_ztio: compiles tests/net/ztio.c into $ZTIO (skips without cc).
zn_build_ztio() {
	t_need cc
	ZTIO=$T_DIR/ztio
	if ! cc -O2 -o "$ZTIO" "$top_srcdir/tests/net/ztio.c" -lcrypto >"$T_DIR/cc.out" 2>&1; then
		cat "$T_DIR/cc.out" >&2
		echo "zt-net: cannot build tests/net/ztio.c (libssl-dev?)" >&2
		exit 99
	fi
}

# zn_origin NAME: the ztio origin on 127.0.0.1:$ZN_PORT_NAME.
zn_origin() {
	[ -n "${ZTIO:-}" ] || zn_build_ztio
	rm -f "$T_DIR/$1.port"
	"$ZTIO" serve "$T_DIR/$1.port" >>"$T_DIR/$1.log" 2>&1 &
	zn_remember "$1" $!
	if ! t_wait "[ -s '$T_DIR/$1.port' ]" 10; then
		echo "zt-net: the origin $1 did not start" >&2
		exit 99
	fi
	eval "ZN_PORT_$1=$(cat "$T_DIR/$1.port")"
}

# --- checks ----------------------------------------------------------------------------------

# zn_audit PATTERN...: one line of the audit log matches every extended regular expression.
zn_audit() {
	zn_f=$ZN_AUDIT
	[ -f "$zn_f" ] || return 1
	cp "$zn_f" "$T_DIR/audit.match"
	for zn_pat in "$@"; do
		grep -E -e "$zn_pat" "$T_DIR/audit.match" >"$T_DIR/audit.next"
		mv "$T_DIR/audit.next" "$T_DIR/audit.match"
	done
	[ -s "$T_DIR/audit.match" ]
}

# zn_audit_count PATTERN...: how many lines match every pattern.
zn_audit_count() {
	if zn_audit "$@"; then
		wc -l <"$T_DIR/audit.match" | tr -d ' '
	else
		echo 0
	fi
}

# zn_check_secrets: no Client Secret and no connector token (nor the tunnel secret inside it,
# in hex) appears in a log, the audit log, or the command line or environment of a running zt
# process.
zn_check_secrets() {
	zn_found=""
	while IFS= read -r zn_f; do
		zn_s=$(cat "$zn_f")
		zn_hex=""
		case $zn_f in
		*.token)
			zn_hex=$("$ZN_PY" -c 'import base64, sys
t = sys.argv[1][4:]
raw = base64.urlsafe_b64decode(t + "=" * (-len(t) % 4))[:-4]
i = 1
while i + 3 <= len(raw):
    typ, n = raw[i], int.from_bytes(raw[i + 1:i + 3], "big")
    if typ == 4:
        print(raw[i + 3:i + 3 + n].hex())
    i += 3 + n' "$zn_s" 2>/dev/null)
			;;
		esac
		for zn_secret in "$zn_s" $zn_hex; do
			for zn_log in "$T_DIR"/*.log "$ZN_AUDIT"; do
				[ -f "$zn_log" ] && grep -q -F -e "$zn_secret" "$zn_log" &&
				    zn_found="$zn_found $zn_log"
			done
			for zn_n in $ZN_NAMES; do
				zn_p=$(zn_pid "$zn_n")
				[ -n "$zn_p" ] || continue
				for zn_what in cmdline environ; do
					tr '\0' '\n' <"/proc/$zn_p/$zn_what" 2>/dev/null |
					    grep -q -F -e "$zn_secret" &&
					    zn_found="$zn_found $zn_n:/proc/$zn_p/$zn_what"
				done
			done
		done
	done <"$ZN_SECRETS/list"
	if [ -n "$zn_found" ]; then
		echo "zt-net: a secret appears in:$zn_found" >&2
		return 1
	fi
}

# --- the common network --------------------------------------------------------------------

zn_echo_path() {
	zn_edge_init "$@"
	zn_app data.test data "allow token:ci"
	zn_tunnel_create data
	zn_token_create ci
	zn_edge_start
	zn_origin origin
	URL="tcp://127.0.0.1:$(zn_port origin)"
	# shellcheck disable=SC2086 # the extra arguments are words
	zn_connector conn data data.test "$URL" ${ZN_CONNECTOR_ARGS:-}
	t_check "the connector registers its 4 connections" zn_connector_wait conn 4
	# shellcheck disable=SC2086 # the extra arguments are words
	zn_sidecar side ci data.test ${ZN_SIDECAR_ARGS:-}
	t_check "the sidecar opens its port once the edge authorised the token" zn_sidecar_wait side
	P=$(zn_port side)
}
