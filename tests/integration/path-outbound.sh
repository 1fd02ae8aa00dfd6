#!/bin/sh
# path-outbound: the connector only dials out (ARCHITECTURE.md: "dials out to the edge (never
# listens)"): while it carries streams, and after it reconnected, it holds no listening TCP,
# UDP or Unix socket, and each of its TCP sockets is a connection to the edge or to the
# origin its ingress names; the sidecar listens on its --url address only. Secrets given in
# files stay out of command lines, environments and logs (security.md A4), and files others
# can read are refused.
. "${top_srcdir:-.}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/zt-net.sh"
zn_init
zn_build_ztio

zn_echo_path
OPORT=$(zn_port origin)

# Two streams in progress, so that the connector also holds connections to the origin: they
# pause after 1 MiB until the sockets have been looked at.
for k in 1 2; do
	("$ZTIO" echo 127.0.0.1 "$P" 4194304 "$k" --progress "$T_DIR/s$k.progress" 1048576 \
	    --hold "$T_DIR/s.go" >"$T_DIR/s$k.out" 2>&1
	    echo $? >"$T_DIR/s$k.rc") &
done
t_wait "[ -f '$T_DIR/s1.progress' ] && [ -f '$T_DIR/s2.progress' ]" 20

# sockets_ok WHEN: the connector's sockets, seen two ways, are all outbound.
sockets_ok() {
	pid=$(zn_pid conn)
	bad=""
	# 1. /proc/PID/fd and /proc/PID/net: every socket the process holds.
	"$ZN_PY" "$top_srcdir/tests/net/sockets.py" "$pid" >"$T_DIR/sockets-$1.out" || return 1
	cat "$T_DIR/sockets-$1.out"
	while read -r kind state local remote; do
		case $kind:$state in
		tcp:ESTABLISHED)
			case $remote in
			"127.0.0.1:$ZN_EDGE_PORT" | "127.0.0.1:$OPORT") ;;
			*) bad="$bad [tcp to $remote]" ;;
			esac
			case $local in
			*":$ZN_EDGE_PORT" | *":$OPORT") bad="$bad [tcp from the port $local]" ;;
			esac
			;;
		unix:CONNECTED | unix:UNCONN)
			# Socket pairs (libevent's wake-ups); nothing a client could connect to.
			[ "$local" = - ] || bad="$bad [unix socket bound to $local]" ;;
		*) bad="$bad [$kind $state $local $remote]" ;;
		esac
	done <"$T_DIR/sockets-$1.out"
	# 2. ss, filtered by the process: nothing listens, TCP or UDP.
	ss -H -tulnp >"$T_DIR/ss-listen-$1.out"
	if grep -q "pid=$pid," "$T_DIR/ss-listen-$1.out"; then
		bad="$bad [ss: $(grep "pid=$pid," "$T_DIR/ss-listen-$1.out")]"
	fi
	ss -H -tanp >"$T_DIR/ss-tcp-$1.out"
	grep "pid=$pid," "$T_DIR/ss-tcp-$1.out" | awk '{ print $1, $5 }' >"$T_DIR/ss-peers-$1.out"
	while read -r state peer; do
		case $state:$peer in
		"ESTAB:127.0.0.1:$ZN_EDGE_PORT" | "ESTAB:127.0.0.1:$OPORT") ;;
		*) bad="$bad [ss: $state $peer]" ;;
		esac
	done <"$T_DIR/ss-peers-$1.out"
	if [ -n "$bad" ]; then
		echo "the connector's sockets ($1):$bad" >&2
		return 1
	fi
}

# count_to WHEN PEER: how many of the connector's TCP sockets go to PEER.
count_to() {
	grep -c "^tcp ESTABLISHED [^ ]* 127.0.0.1:$2\$" "$T_DIR/sockets-$1.out"
}

t_check "carrying 2 streams: no listening socket, every TCP socket an outbound connection" \
	sockets_ok streams
t_check "... 4 of them to the edge's port" test "$(count_to streams "$ZN_EDGE_PORT")" -eq 4
t_check "... and 2 to the origin (one per stream)" test "$(count_to streams "$OPORT")" -eq 2
t_check "the connector holds no UDP socket at all" \
	eval '! grep -q "^udp " "$T_DIR/sockets-streams.out"'

touch "$T_DIR/s.go"
t_wait "[ -s '$T_DIR/s1.rc' ] && [ -s '$T_DIR/s2.rc' ]" 60
t_check "both streams finished with matching digests" \
	test "$(cat "$T_DIR/s1.rc" "$T_DIR/s2.rc" 2>/dev/null | tr -d '\n')" = 00

# After the edge restarted, the connector is connected again: still only outbound.
zn_edge_stop KILL
zn_edge_start
t_check "after an edge restart, the connector re-registers" zn_connector_wait conn 4
t_check "idle, after reconnecting: no listening socket, only connections to the edge" \
	sockets_ok idle
t_check "... 4 of them" test "$(count_to idle "$ZN_EDGE_PORT")" -eq 4
t_check "... and none left to the origin" test "$(count_to idle "$OPORT")" -eq 0

# The sidecar listens, on its --url address only.
ss -H -tulnp | grep "pid=$(zn_pid side)," | awk '{ print $1, $5 }' >"$T_DIR/side-listen.out"
t_check "the sidecar listens on 127.0.0.1:$P and nowhere else" \
	test "$(cat "$T_DIR/side-listen.out")" = "tcp 127.0.0.1:$P"

# --- secrets -------------------------------------------------------------------------------
t_check "the connector's command line names the token file, not the token" \
	eval 'tr "\0" " " </proc/$(zn_pid conn)/cmdline | grep -q -e "--token-file $ZN_SECRETS/data.token"'
t_check "the sidecar's command line names the secret file, not the secret" \
	eval 'tr "\0" " " </proc/$(zn_pid side)/cmdline | grep -q -e "--secret-file $ZN_SECRETS/ci.secret"'
t_check "no secret in any log, the audit log, or a command line or environment" \
	zn_check_secrets

# Secret files that others can read are refused.
cp "$ZN_SECRETS/data.token" "$T_DIR/open.token"
chmod 644 "$T_DIR/open.token"
"$ZT" tunnel run --token-file "$T_DIR/open.token" --hostname data.test \
	--url "tcp://127.0.0.1:$OPORT" --status-file "$T_DIR/open.status" \
	>"$T_DIR/open-token.log" 2>&1 </dev/null
rc=$?
t_check "a token file readable by others: zt tunnel run exits 78 (EX_CONFIG)" test "$rc" -eq 78
t_check "... saying what to do (chmod 600)" \
	grep -q "is readable by group or others: chmod 600" "$T_DIR/open-token.log"
cp "$ZN_SECRETS/ci.secret" "$T_DIR/open.secret"
chmod 640 "$T_DIR/open.secret"
"$ZT" access tcp --hostname data.test --url "127.0.0.1:$(zn_free_port)" --id "$(zn_id ci)" \
	--secret-file "$T_DIR/open.secret" --edge "127.0.0.1:$ZN_EDGE_PORT" --edge-pin "$ZN_PIN" \
	>"$T_DIR/open-secret.log" 2>&1 </dev/null
rc=$?
t_check "a secret file readable by its group: zt access exits 78 (EX_CONFIG)" test "$rc" -eq 78
t_check "... saying what to do (chmod 600)" \
	grep -q "is readable by group or others: chmod 600" "$T_DIR/open-secret.log"
rm -f "$T_DIR/open.token" "$T_DIR/open.secret"

# systemd's LoadCredential=: with no token or secret given, the files named tunnel-token and
# access-secret in $CREDENTIALS_DIRECTORY are used (mode 0400, as systemd makes them).
CRED=$ZN_SECRETS/credentials
(umask 077 && mkdir "$CRED" && cp "$ZN_SECRETS/data.token" "$CRED/tunnel-token" &&
    cp "$ZN_SECRETS/ci.secret" "$CRED/access-secret" && chmod 400 "$CRED"/*)
CREDENTIALS_DIRECTORY=$CRED "$ZT" tunnel run --hostname data.test --url "tcp://127.0.0.1:$OPORT" \
	--status-file "$T_DIR/cred.status" --ha-connections 1 >"$T_DIR/cred-conn.log" 2>&1 </dev/null &
zn_remember credconn $!
t_check "zt tunnel run takes its token from \$CREDENTIALS_DIRECTORY/tunnel-token" \
	t_wait "[ \"\$(sed -n 's/^connections=//p' '$T_DIR/cred.status' 2>/dev/null)\" = 1 ]" 10
CPORT=$(zn_free_port)
CREDENTIALS_DIRECTORY=$CRED "$ZT" access tcp --hostname data.test --url "127.0.0.1:$CPORT" \
	--id "$(zn_id ci)" --edge "127.0.0.1:$ZN_EDGE_PORT" --edge-pin "$ZN_PIN" \
	>"$T_DIR/cred-side.log" 2>&1 </dev/null &
zn_remember credside $!
t_check "zt access tcp takes its secret from \$CREDENTIALS_DIRECTORY/access-secret" \
	t_wait "zn_listening $CPORT" 10
zn_stop credside
zn_stop credconn

t_check "the edge, the connector and the sidecar are still running" \
	eval 'zn_alive edge && zn_alive conn && zn_alive side'
t_done
