#!/bin/sh
# path-refusals: what the edge refuses (doc/protocol.md, "Session set-up" and "Streams"): wrong
# and unknown service tokens, revoked and expired ones (open sessions included), a token of
# another app, a connector announcing a hostname it may not serve, a deleted tunnel, garbage,
# plain HTTP and silent peers. Each refusal is written to the audit log as a JSON line with
# its reason, a refused sidecar or connector exits non-zero naming the reason, and the edge
# keeps serving a good client after each.
. "${top_srcdir:-.}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/zt-net.sh"
zn_init
zn_build_ztio

zn_edge_init "handshake_timeout = 2s"
zn_app data.test data "allow token:ci" "allow token:rev" "allow token:exp2" "allow token:exp6" \
    "allow token:rot"
zn_app other.test other "allow token:otherapp"
zn_app gone.test gone "allow token:ci"
zn_app dead.test dead "allow token:ci"
zn_tunnel_create data
zn_tunnel_create dead
zn_tunnel_create gone
zn_token_create ci
zn_token_create rev
zn_token_create rot
zn_token_create otherapp
zn_edge_start
zn_origin origin
ORIGIN="tcp://127.0.0.1:$(zn_port origin)"
zn_connector conn data data.test "$ORIGIN"
t_check "the connector registers its 4 connections" zn_connector_wait conn 4
zn_sidecar good ci data.test
t_check "the good sidecar opens its port" zn_sidecar_wait good

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# good: a new connection of the good client still echoes 64 KiB with matching digests.
good() {
	timeout 15 "$ZTIO" echo 127.0.0.1 "$(zn_port good)" 65536 7 >"$T_DIR/good.out" 2>&1
}

# refused NAME RC TEXT: the sidecar or connector NAME exited by itself with status RC, and
# its log says TEXT.
refused() {
	zn_exited "$1"
	if [ "$ZN_RC" -ne "$2" ]; then
		echo "$1 exited with status $ZN_RC, not $2" >&2
		return 1
	fi
	grep -q -F -e "$3" "$T_DIR/$1.log" || { tail -n 3 "$T_DIR/$1.log" >&2; return 1; }
}

# audited PATTERN...: a new audit line (since the last call of mark) matches every pattern.
mark() {
	MARK=$(wc -l <"$ZN_AUDIT")
}
audited() {
	tail -n +$((MARK + 1)) "$ZN_AUDIT" >"$T_DIR/audit.new"
	for pat in "$@"; do
		grep -E -e "$pat" "$T_DIR/audit.new" >"$T_DIR/audit.next"
		mv "$T_DIR/audit.next" "$T_DIR/audit.new"
	done
	[ -s "$T_DIR/audit.new" ] || { echo "no audit line matches: $*" >&2; return 1; }
}
DENY='"decision":"deny"'

# --- service tokens --------------------------------------------------------------------------
t_check "the good client works" good
CI_ID=$(zn_id ci)

# A wrong secret for a real token.
(umask 077 && openssl rand -hex 32 >"$ZN_SECRETS/wrong.secret")
mark
zn_sidecar_as wrong "$CI_ID" "$ZN_SECRETS/wrong.secret" data.test
t_check "wrong secret: the sidecar exits 1, saying why" \
	refused wrong 1 'the edge refused the service token: unknown service token or wrong secret (AUTH_FAILED)'
t_check "wrong secret: audited (session, deny, bad secret, AUTH_FAILED)" \
	audited '"event":"session"' "$DENY" '"reason":"bad secret"' '"code":"AUTH_FAILED"' \
	"\"id\":\"$CI_ID\""
t_check "wrong secret: its port was never opened" eval '! zn_listening "$(zn_port wrong)"'
t_check "... and the good client still works" good

# A made-up token id.
mark
zn_sidecar_as unknown 0123456789abcdef0123456789abcdef.access "$ZN_SECRETS/wrong.secret" \
	data.test
t_check "unknown token: the sidecar exits 1, told the same as for a wrong secret" \
	refused unknown 1 'the edge refused the service token: unknown service token or wrong secret (AUTH_FAILED)'
t_check "unknown token: audited (session, deny, unknown id, AUTH_FAILED)" \
	audited '"event":"session"' "$DENY" '"reason":"unknown id"' '"code":"AUTH_FAILED"'
t_check "... and the good client still works" good

# Revoked while its session carries a stream.
zn_sidecar rev rev data.test
t_check "token rev: its sidecar opens its port" zn_sidecar_wait rev
("$ZTIO" echo 127.0.0.1 "$(zn_port rev)" 268435456 8 --rate 1048576 \
    --progress "$T_DIR/rev.progress" 65536 >"$T_DIR/rev-io.out" 2>&1
    echo $? >"$T_DIR/rev-io.rc") &
t_wait "[ -f '$T_DIR/rev.progress' ]" 20
mark
"$ZT" token revoke rev --state-dir "$ZN_STATE" >"$T_DIR/revoke.out" 2>&1
start=$(now_ms)
t_wait "[ -s '$T_DIR/rev-io.rc' ]" 10
elapsed=$(($(now_ms) - start))
echo "(the revoked token's stream was cut ${elapsed} ms after zt token revoke returned)"
t_check "revoked: the open stream is cut within a second (2 s allowed: ${elapsed} ms)" \
	test "$elapsed" -le 2000
t_check "revoked: the cut stream ends in an error, not a clean EOF" \
	test "$(cat "$T_DIR/rev-io.rc" 2>/dev/null)" = 3
t_check "revoked: the running sidecar exits 1, saying why" \
	refused rev 1 'the edge refused the service token: the service token was revoked (AUTH_REVOKED)'
t_check "revoked: audited (revoke, deny, revoked, AUTH_REVOKED, token:rev)" \
	audited '"event":"revoke"' "$DENY" '"reason":"revoked"' '"code":"AUTH_REVOKED"' \
	'"identity":"token:rev"'
mark
zn_sidecar rev2 rev data.test
t_check "revoked: a new sidecar with the token exits 1, saying why" \
	refused rev2 1 'the service token was revoked (AUTH_REVOKED)'
t_check "revoked: the new attempt is audited (session, deny, revoked, AUTH_REVOKED)" \
	audited '"event":"session"' "$DENY" '"reason":"revoked"' '"code":"AUTH_REVOKED"'
t_check "... and the good client still works" good

# Expiry: a 6 s token has a working session that ends when it expires; a 2 s token has
# expired by the time its sidecar starts. (The edge sees new tokens within a second.)
zn_token_create exp6 --duration 6s
zn_token_create exp2 --duration 2s
sleep 1
zn_sidecar exp6 exp6 data.test
t_check "token exp6 (6 s): its sidecar opens its port" zn_sidecar_wait exp6
t_check "token exp6: a connection works before it expires" \
	timeout 15 "$ZTIO" echo 127.0.0.1 "$(zn_port exp6)" 1024 9
mark
t_check "token exp6: when it expires its session is closed and the sidecar exits 1" \
	refused exp6 1 'the edge refused the service token: the service token has expired (AUTH_EXPIRED)'
t_check "expired: audited (revoke, deny, expired, AUTH_EXPIRED, token:exp6)" \
	audited '"event":"revoke"' "$DENY" '"reason":"expired"' '"code":"AUTH_EXPIRED"' \
	'"identity":"token:exp6"'
mark
zn_sidecar exp2 exp2 data.test
t_check "token exp2 (2 s, now expired): its sidecar exits 1, saying why" \
	refused exp2 1 'the service token has expired (AUTH_EXPIRED)'
t_check "expired: the attempt is audited (session, deny, expired, AUTH_EXPIRED)" \
	audited '"event":"session"' "$DENY" '"reason":"expired"' '"code":"AUTH_EXPIRED"'
t_check "... and the good client still works" good

# Rotation: the old secret keeps working through its grace (2 s), then its session is closed
# saying the secret was rotated (not "revoked"), and the new secret works.
cp "$ZN_SECRETS/rot.secret" "$ZN_SECRETS/rot-old.secret"
zn_sidecar rot rot data.test
t_check "token rot: its sidecar opens its port" zn_sidecar_wait rot
(umask 077 && "$ZT" token rotate rot --grace 3s --state-dir "$ZN_STATE" >"$ZN_SECRETS/rotate.out" 2>&1)
sed -n 's/^Client Secret: *//p' "$ZN_SECRETS/rotate.out" >"$ZN_SECRETS/rot.secret"
echo "$ZN_SECRETS/rot.secret" >>"$ZN_SECRETS/list"
t_check "rotated: the old secret still works during its grace" \
	timeout 15 "$ZTIO" echo 127.0.0.1 "$(zn_port rot)" 1024 9
mark
t_check "rotated: when the grace ends the old secret's session is closed, the sidecar exits 1" \
	refused rot 1 "the service token's secret was rotated: this secret is no longer valid"
t_check "rotated: audited (revoke, deny, bad secret, AUTH_FAILED, token:rot)" \
	audited '"event":"revoke"' "$DENY" '"reason":"bad secret"' '"code":"AUTH_FAILED"' \
	'"identity":"token:rot"'
zn_sidecar rotnew rot data.test
t_check "rotated: the new secret works" zn_sidecar_wait rotnew
zn_stop rotnew

# A valid token that the app's policy does not name; a hostname that is no app.
mark
zn_sidecar otherapp otherapp data.test
t_check "another app's token: the sidecar exits 1, saying the policy does not allow it" \
	refused otherapp 1 'the edge does not allow this token to reach data.test'
t_check "... (NOT_ALLOWED)" grep -q 'NOT_ALLOWED' "$T_DIR/otherapp.log"
t_check "... told only that the policy does not allow it, nothing of the rules" \
	eval 'grep -q "not allowed by the app.s policy (NOT_ALLOWED)" "$T_DIR/otherapp.log" &&
	    ! grep -q "no rule allows" "$T_DIR/otherapp.log"'
t_check "another app's token: audited (check, deny, data.test, token:otherapp, NOT_ALLOWED)" \
	audited '"event":"check"' "$DENY" '"app":"data.test"' '"identity":"token:otherapp"' \
	'"reason":"no rule allows"' '"code":"NOT_ALLOWED"'
t_check "another app's token: its port was never opened" \
	eval '! zn_listening "$(zn_port otherapp)"'
mark
zn_sidecar nosuch ci nosuch.test
t_check "no such app: the sidecar exits 1, saying so (NO_SUCH_APP)" \
	refused nosuch 1 'no app is named nosuch.test on this edge (NO_SUCH_APP)'
t_check "no such app: audited (check, deny, NO_SUCH_APP)" \
	audited '"event":"check"' "$DENY" '"app":"nosuch.test"' '"code":"NO_SUCH_APP"'
t_check "... and the good client still works" good

# --- tunnels ---------------------------------------------------------------------------------
mark
zn_connector badhost data other.test "$ORIGIN"
t_check "a connector announcing other.test (another tunnel's app) exits 1, saying why" \
	refused badhost 1 'tunnel data may not serve other.test'
t_check "... (HOSTNAME_NOT_ALLOWED)" grep -q 'HOSTNAME_NOT_ALLOWED' "$T_DIR/badhost.log"
t_check "bad hostname: audited (session, deny, other.test, tunnel data, HOSTNAME_NOT_ALLOWED)" \
	audited '"event":"session"' "$DENY" '"app":"other.test"' '"tunnel":"data"' \
	'"code":"HOSTNAME_NOT_ALLOWED"' '"reason":"tunnel data may not serve other.test'
t_check "the good connector keeps its 4 connections" test "$(zn_connections conn)" = 4
t_check "... and the good client still works" good

zn_connector gone gone gone.test "$ORIGIN" --ha-connections 2
t_check "tunnel gone: its connector registers" zn_connector_wait gone 2
mark
"$ZT" tunnel delete gone --state-dir "$ZN_STATE" >"$T_DIR/delete.out" 2>&1
t_check "tunnel gone deleted: its connector is dropped and exits 1" \
	refused gone 1 'the edge refused this tunnel'
t_check "tunnel deleted: audited (revoke, deny, tunnel:gone, AUTH_REVOKED)" \
	audited '"event":"revoke"' "$DENY" '"identity":"tunnel:gone"' '"code":"AUTH_REVOKED"'
t_check "... and the good client still works" good

# --- a sidecar started wrongly --------------------------------------------------------------
t_run "$ZT" access tcp --hostname data.test --url 127.0.0.1:1 --id "not-an-id" \
    --secret-file "$ZN_SECRETS/ci.secret" --edge "127.0.0.1:$ZN_EDGE_PORT" --edge-pin "$ZN_PIN"
t_check "a malformed Client ID: exit 78 (EX_CONFIG) at start, saying what one looks like" \
	eval '[ "$T_RC" -eq 78 ] && grep -q "is not one: it looks like <32 hex>.access" "$T_DIR/err"'
zn_sidecar_as badpin "$CI_ID" "$ZN_SECRETS/ci.secret" data.test \
    --edge-pin "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
t_check "a pin that does not match the edge: the sidecar says so (and retries)" \
	t_wait "grep -q 'TLS: certificate verify failed: no certificate of the peer.s chain has the pinned public key' '$T_DIR/badpin.log'" 10
t_check "... and never opens its port" eval '! zn_listening "$(zn_port badpin)"'
zn_stop badpin
zn_sidecar_as badname "$CI_ID" "$ZN_SECRETS/ci.secret" data.test --edge-ca "$ZN_EDGE/ca.crt" \
    --edge-name other.test
t_check "--edge-ca with a name the certificate lacks: hostname mismatch, said" \
	t_wait "grep -q 'TLS: certificate verify failed: hostname mismatch' '$T_DIR/badname.log'" 10
zn_stop badname
zn_sidecar_as goodname "$CI_ID" "$ZN_SECRETS/ci.secret" data.test --edge-ca "$ZN_EDGE/ca.crt" \
    --edge-name edge.test
t_check "--edge-ca and --edge-name edge.test (the edge reached by address): works" \
	zn_sidecar_wait goodname
zn_stop goodname

# --- an origin that is down ------------------------------------------------------------------
# The connector's service refuses connections: the client's connection is reset with the
# reason, and the connector itself keeps running and serving.
DEAD_PORT=$(zn_free_port)
zn_connector deadconn dead dead.test "tcp://127.0.0.1:$DEAD_PORT"
t_check "a connector for a service that is down still registers" zn_connector_wait deadconn 4
zn_sidecar deadside ci dead.test
t_check "... and its sidecar opens its port" zn_sidecar_wait deadside
mark
for k in 1 2 3; do
	timeout 15 "$ZTIO" echo 127.0.0.1 "$(zn_port deadside)" 1024 5 >"$T_DIR/dead.out" 2>&1
	DEAD_RC=$?
done
t_check "origin down: the client's connection ends in an error (status 3), not a clean EOF" \
	test "$DEAD_RC" -eq 3
t_check "origin down: the sidecar names the reason (ORIGIN_UNREACHABLE)" \
	grep -q "connect to 127.0.0.1:$DEAD_PORT: Connection refused (ORIGIN_UNREACHABLE)" \
	"$T_DIR/deadside.log"
t_check "origin down: the connector survives three refused dials and keeps its connections" \
	eval 'zn_alive deadconn && zn_connector_wait deadconn 4 2'
t_check "... and the good client still works" good

# --- peers that are not zt clients -----------------------------------------------------------
# probe NAME MODE: what the probe saw, in NAME.probe.
probe() {
	"$ZN_PY" "$top_srcdir/tests/net/probe.py" "$ZN_EDGE_PORT" "$2" >"$T_DIR/$1.probe" 2>&1
	cat "$T_DIR/$1.probe"
}
# outcome NAME: the first word of the probe's line; seconds NAME: the second, in ms.
outcome() {
	cut -d ' ' -f 1 "$T_DIR/$1.probe"
}
probe_ms() {
	"$ZN_PY" -c 'import sys; print(int(float(sys.argv[1]) * 1000))' \
	    "$(cut -d ' ' -f 2 "$T_DIR/$1.probe")"
}
PRE='"reason":"closed before it authenticated: '

mark
probe garbage garbage
t_check "garbage instead of TLS: the edge closes the connection" \
	eval 'case $(outcome garbage) in eof|reset) true ;; *) false ;; esac'
t_check "garbage: audited (session, deny, closed before it authenticated)" \
	audited '"event":"session"' "$DENY" "$PRE"
t_check "garbage: the edge still runs and the good client works" eval 'zn_alive edge && good'

mark
probe http http
t_check "plain HTTP: the edge closes the connection" \
	eval 'case $(outcome http) in eof|reset) true ;; *) false ;; esac'
t_check "plain HTTP: audited (session, deny, closed before it authenticated)" \
	audited '"event":"session"' "$DENY" "$PRE"
t_check "plain HTTP: the edge still runs and the good client works" eval 'zn_alive edge && good'

mark
probe alpn alpn-h2
t_check "TLS offering only ALPN h2: refused in the handshake (no_application_protocol)" \
	eval '[ "$(outcome alpn)" = alert ] && grep -q -i "no.application.protocol" "$T_DIR/alpn.probe"'
t_check "ALPN refused: audited" audited '"event":"session"' "$DENY" "$PRE"
mark
probe alpnother alpn-other
t_check "TLS offering only an unknown ALPN: refused in the handshake" \
	eval '[ "$(outcome alpnother)" = alert ] && grep -q -i "no.application.protocol" "$T_DIR/alpnother.probe"'
probe alpnhttp alpn-http
t_check "TLS offering ALPN http/1.1: the web side answers (doc/identity.md)" \
	eval '[ "$(outcome alpnhttp)" = eof ] && grep -q "HTTP/1.1 200 OK" "$T_DIR/alpnhttp.probe"'
t_check "the edge still runs and the good client works" eval 'zn_alive edge && good'

mark
probe tlsgarbage tls-garbage
t_check "TLS, then garbage instead of HELLO: closed" test "$(outcome tlsgarbage)" = eof
t_check "garbage frames: audited (session, deny, PROTOCOL_ERROR)" \
	audited '"event":"session"' "$DENY" "$PRE" '"code":"PROTOCOL_ERROR"'

# Silent peers, closed by handshake_timeout = 2s (TLS handshake and HELLO together).
mark
probe silenttls silent-tls &
pid1=$!
probe silenttcp silent-tcp &
pid2=$!
t_check "meanwhile the good client works" good
wait "$pid1" "$pid2"
ms=$(probe_ms silenttls)
t_check "TLS done, then silence: closed by the edge after the 2 s timeout (${ms} ms)" \
	eval '[ "$(outcome silenttls)" = eof ] && [ "$ms" -ge 1500 ] && [ "$ms" -le 6000 ]'
ms=$(probe_ms silenttcp)
t_check "TCP, then silence (no ClientHello): closed after the timeout too (${ms} ms)" \
	eval 'case $(outcome silenttcp) in eof|reset) true ;; *) false ;; esac &&
	    [ "$ms" -ge 1500 ] && [ "$ms" -le 6000 ]'
t_check "silent peers: audited (session, deny, TIMEOUT)" \
	test "$(zn_audit_count "$DENY" "$PRE" '"code":"TIMEOUT"')" -ge 2

t_check "the edge, the good connector and the good sidecar are still running" \
	eval 'zn_alive edge && zn_alive conn && zn_alive good'
t_check "... and the good client works" good
t_check "every audit line is one JSON object" \
	"$ZN_PY" -c 'import json, sys
for line in open(sys.argv[1]):
    json.loads(line)' "$ZN_AUDIT"
t_check "no secret in the logs or command lines" zn_check_secrets
t_done
