#!/bin/sh
# doctor: zt doctor's checklist against a real network (zt-net.sh's echo path): a good sidecar
# and connector configuration pass; a wrong secret, a revoked token, a token the policy does
# not allow, a wrong pin, a closed port, a name that does not resolve, a secret file others may
# read, a deleted tunnel and a hostname the tunnel may not serve each fail the right check with
# a fix; --json is one JSON object; no secret is ever printed; and a doctor tunnel run leaves
# the running connector and the streams it carries alone.
. "${top_srcdir:-.}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/zt-net.sh"
zn_init

zn_echo_path
zn_app other.test other "allow token:ci"
zn_tunnel_create gone
zn_token_create rev
zn_token_create nope
"$ZT" token revoke rev --state-dir "$ZN_STATE" >"$T_DIR/revoke.out" 2>&1 || {
	cat "$T_DIR/revoke.out" >&2
	exit 99
}
"$ZT" tunnel delete gone --state-dir "$ZN_STATE" >"$T_DIR/delete.out" 2>&1 || {
	cat "$T_DIR/delete.out" >&2
	exit 99
}
kill -HUP "$(zn_pid edge)"	# reads other.test; the state is re-read within a second
sleep 2
EDGE=127.0.0.1:$ZN_EDGE_PORT

# doc NAME ARGS...: zt doctor ARGS, its stdout in $T_DIR/doctor-NAME.log (a *.log, so that
# zn_check_secrets looks for secrets in it), stderr in doctor-NAME.err.log, status in $DOC_RC.
doc() {
	doc_name=$1
	shift
	timeout 60 "$ZT" doctor "$@" >"$T_DIR/doctor-$doc_name.log" 2>"$T_DIR/doctor-$doc_name.err.log"
	DOC_RC=$?
}

# access NAME TOKEN [ARGS...]: zt doctor access for data.test with the token's credentials.
access() {
	acc_name=$1 acc_tok=$2
	shift 2
	doc "$acc_name" access --hostname data.test --id "$(zn_id "$acc_tok")" \
	    --secret-file "$ZN_SECRETS/$acc_tok.secret" --edge "$EDGE" --edge-pin "$ZN_PIN" "$@"
}

# line NAME STATUS CHECK TEXT: the output of NAME has "[STATUS] CHECK...: ...TEXT...".
line() {
	grep -F -e "[$2] $3" "$T_DIR/doctor-$1.log" | grep -q -F -e "$4" || {
		echo "--- doctor-$1.log:" >&2
		cat "$T_DIR/doctor-$1.log" >&2
		return 1
	}
}

# fixed NAME CHECK TEXT: the line after the failing CHECK is "fix: ...TEXT...".
fixed() {
	grep -A1 -F -e "[FAIL] $2" "$T_DIR/doctor-$1.log" | grep -E '^       fix: ' |
	    grep -q -F -e "$3" || {
		echo "--- doctor-$1.log:" >&2
		cat "$T_DIR/doctor-$1.log" >&2
		return 1
	}
}

no_fail() {
	! grep -q -F '[FAIL]' "$T_DIR/doctor-$1.log" || { cat "$T_DIR/doctor-$1.log" >&2; return 1; }
}

# --- zt doctor access ------------------------------------------------------------------------
access good ci --url "127.0.0.1:$P"
t_check "access, good token: exit 0" test "$DOC_RC" -eq 0
t_check "access, good token: no check fails" no_fail good
for c in config client-id secret-file secret-format "dns $EDGE" "tcp $EDGE" "tls $EDGE" \
    "alpn $EDGE" "auth $EDGE" "app data.test" clock; do
	t_check "access, good token: $c ok" line good ' ok ' "$c" ''
done
t_check "access, good token: TLS 1.3 verified with the pin" line good ' ok ' tls "TLSv1.3"
t_check "access, good token: the sidecar's port in use is a warning" \
	line good warn "listen 127.0.0.1:$P" 'in use'
t_check "access, good token: the clock check says what it compared" \
	line good ' ok ' clock "the skew against the edge cannot be measured"
t_check "access, good token: the summary says all passed" \
	grep -q '^All checks passed' "$T_DIR/doctor-good.log"

(umask 077 && openssl rand -hex 32 >"$ZN_SECRETS/wrong.secret")
doc wrong access --hostname data.test --id "$(zn_id ci)" --secret-file "$ZN_SECRETS/wrong.secret" \
	--edge "$EDGE" --edge-pin "$ZN_PIN"
t_check "wrong secret: exit 1" test "$DOC_RC" -eq 1
t_check "wrong secret: auth fails with AUTH_FAILED" line wrong FAIL "auth $EDGE" \
	'AUTH_FAILED: unknown service token or wrong secret'
t_check "wrong secret: with a fix" fixed wrong auth 'zt token create printed'
t_check "wrong secret: the app is not checked" line wrong skip 'app data.test' 'not authenticated'
t_check "wrong secret: TLS still passed" line wrong ' ok ' "tls $EDGE" 'TLSv1.3'

access revoked rev
t_check "revoked token: exit 1" test "$DOC_RC" -eq 1
t_check "revoked token: auth fails with AUTH_REVOKED" line revoked FAIL "auth $EDGE" \
	'AUTH_REVOKED: the service token was revoked'
t_check "revoked token: with a fix" fixed revoked auth 'zt token create'

access nope nope
t_check "token the policy does not allow: exit 1" test "$DOC_RC" -eq 1
t_check "token the policy does not allow: auth passes" line nope ' ok ' "auth $EDGE" 'accepted'
t_check "token the policy does not allow: the app check fails with NOT_ALLOWED" \
	line nope FAIL 'app data.test' "NOT_ALLOWED: not allowed by the app's policy"
t_check "token the policy does not allow: the fix names the policy" \
	fixed nope 'app data.test' 'policy = allow token:NAME to [app data.test]'

doc noapp access --hostname nosuch.test --id "$(zn_id ci)" --secret-file "$ZN_SECRETS/ci.secret" \
	--edge "$EDGE" --edge-pin "$ZN_PIN"
t_check "an app the edge does not have: NO_SUCH_APP" line noapp FAIL 'app nosuch.test' \
	'NO_SUCH_APP'

other_pin=sha256//$(openssl rand 32 | openssl base64 -A)
access pin ci --edge-pin "$other_pin"
t_check "wrong pin: exit 1" test "$DOC_RC" -eq 1
t_check "wrong pin: TLS fails naming the pin" line pin FAIL "tls $EDGE" 'pinned public key'
t_check "wrong pin: the fix says where the pin comes from" fixed pin tls 'zt edge init printed'
t_check "wrong pin: ALPN and auth are not tried" line pin skip "alpn $EDGE" 'no TLS session'

closed=$(zn_free_port)
access down ci --edge "127.0.0.1:$closed"
t_check "edge down: exit 1" test "$DOC_RC" -eq 1
t_check "edge down: DNS passes" line down ' ok ' "dns 127.0.0.1:$closed" '127.0.0.1'
t_check "edge down: TCP fails, connection refused" line down FAIL "tcp 127.0.0.1:$closed" \
	'Connection refused'
t_check "edge down: the fix asks whether the edge runs" fixed down tcp 'zt edge serve'

access nxdomain ci --edge "no-such-edge.invalid:$ZN_EDGE_PORT"
t_check "unresolvable edge: exit 1" test "$DOC_RC" -eq 1
t_check "unresolvable edge: DNS fails" line nxdomain FAIL "dns no-such-edge.invalid" \
	'cannot resolve "no-such-edge.invalid"'
t_check "unresolvable edge: the fix names getent" fixed nxdomain dns 'getent hosts no-such-edge.invalid'

cp "$ZN_SECRETS/ci.secret" "$ZN_SECRETS/open.secret"
chmod 644 "$ZN_SECRETS/open.secret"
doc mode access --hostname data.test --id "$(zn_id ci)" --secret-file "$ZN_SECRETS/open.secret" \
	--edge "$EDGE" --edge-pin "$ZN_PIN"
t_check "secret file mode 0644: exit 1" test "$DOC_RC" -eq 1
t_check "secret file mode 0644: the file check fails" line mode FAIL secret-file 'mode 0644'
t_check "secret file mode 0644: fix: chmod 600 FILE" \
	fixed mode secret-file "chmod 600 $ZN_SECRETS/open.secret"
t_check "secret file mode 0644: the other checks still run (auth ok)" \
	line mode ' ok ' "auth $EDGE" 'accepted'

# The same from the environment, as zt access tcp takes it, and as JSON.
ZT_ACCESS_CLIENT_ID=$(zn_id ci) ZT_ACCESS_CLIENT_SECRET=$(cat "$ZN_SECRETS/ci.secret") \
    ZT_EDGE=$EDGE ZT_EDGE_PIN=$ZN_PIN doc json access --hostname data.test --json
t_check "access from the environment, --json: exit 0" test "$DOC_RC" -eq 0
t_check "--json: one JSON object with name, status, detail and fix for each check" \
	"$ZN_PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert d["command"] == "access" and d["ok"] is True, d
names = [c["name"] for c in d["checks"]]
for n in ("config", "client-id", "secret", "secret-format", "dns", "tcp", "tls", "alpn",
          "auth", "app", "clock"):
    assert n in names, (n, names)
for c in d["checks"]:
    assert set(c) >= {"name", "status", "detail", "fix"}, c
    assert c["status"] in ("ok", "warn", "skip", "fail"), c
    assert c["fix"] is None or isinstance(c["fix"], str), c
env = [c for c in d["checks"] if c["name"] == "config"][0]["detail"]
assert "$ZT_ACCESS_CLIENT_ID" in env and "$ZT_EDGE_PIN" in env, env' "$T_DIR/doctor-json.log"
doc jsonbad access --hostname data.test --id "$(zn_id ci)" --secret-file "$ZN_SECRETS/wrong.secret" \
	--edge "$EDGE" --edge-pin "$ZN_PIN" --json
t_check "--json with a failure: exit 1, ok false, the failing check has a fix" \
	"$ZN_PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is False, d
bad = [c for c in d["checks"] if c["status"] == "fail"]
assert [c["name"] for c in bad] == ["auth"], bad
assert "AUTH_FAILED" in bad[0]["detail"] and bad[0]["fix"], bad' "$T_DIR/doctor-jsonbad.log"
t_check "--json: nothing but the JSON object on stdout" test "$(wc -l <"$T_DIR/doctor-jsonbad.log")" -eq 1

# --- zt doctor tunnel ------------------------------------------------------------------------
# An echo through the sidecar and the running connector, across the doctor run.
("$ZTIO" echo 127.0.0.1 "$P" 4194304 8 --rate 1048576 >"$T_DIR/echo.out" 2>&1
    echo $? >"$T_DIR/echo.rc") &
sleep 0.5
doc tunnel tunnel --token-file "$ZN_SECRETS/data.token" --hostname data.test --url "$URL"
t_check "tunnel, good token: exit 0" test "$DOC_RC" -eq 0
t_check "tunnel, good token: no check fails" no_fail tunnel
for c in token-file token ingress "origin 127.0.0.1:$(zn_port origin)" "dns $EDGE" "tcp $EDGE" \
    "tls $EDGE" "alpn $EDGE" "auth $EDGE" clock; do
	t_check "tunnel, good token: $c ok" line tunnel ' ok ' "$c" ''
done
t_check "tunnel, good token: the edge accepted the announced hostname" \
	line tunnel ' ok ' "auth $EDGE" 'and the 1 hostname announced'
t_wait "[ -s '$T_DIR/echo.rc' ]" 30
t_check "the echo across the doctor run completed intact" test "$(cat "$T_DIR/echo.rc")" = 0
t_check "the running connector kept its 4 connections" test "$(zn_connections conn)" = 4
t_check "the running connector lost no connection" \
	eval '! grep -E -q "connection [0-9]+ to .* (lost|failed)" "$T_DIR/conn.log"'
t_check "the edge saw the doctor's connection close" \
	grep -q -F 'zt doctor: checks done' "$T_DIR/edge.log"

doc gone tunnel --token-file "$ZN_SECRETS/gone.token"
t_check "deleted tunnel: exit 1" test "$DOC_RC" -eq 1
t_check "deleted tunnel: auth fails (the edge tells an unknown tunnel as a wrong secret)" \
	line gone FAIL "auth $EDGE" 'AUTH_FAILED: unknown tunnel or wrong secret'
t_check "deleted tunnel: the fix says it may have been deleted" fixed gone auth 'zt tunnel list'
t_check "deleted tunnel: no ingress given is a skip" line gone skip ingress 'no rules given'

doc host tunnel --token-file "$ZN_SECRETS/data.token" --hostname other.test --url "$URL"
t_check "a hostname of another tunnel: HOSTNAME_NOT_ALLOWED" line host FAIL "auth $EDGE" \
	'HOSTNAME_NOT_ALLOWED'
t_check "a hostname of another tunnel: the fix names edge.ini" fixed host auth '[app HOST]'

closed=$(zn_free_port)
doc origin tunnel --token-file "$ZN_SECRETS/data.token" --hostname data.test \
	--url "tcp://127.0.0.1:$closed" --json
t_check "an origin that is down is a warning, not a failure: exit 0" test "$DOC_RC" -eq 0
t_check "an origin that is down: warn with a fix" "$ZN_PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
o = [c for c in d["checks"] if c["name"] == "origin"]
assert len(o) == 1 and o[0]["status"] == "warn" and "refused" in o[0]["detail"] and o[0]["fix"], o
assert d["ok"] is True' "$T_DIR/doctor-origin.log"

ZT_TUNNEL_TOKEN=$(cat "$ZN_SECRETS/data.token") doc env tunnel --no-hello
t_check "tunnel, token from the environment, --no-hello: exit 0" test "$DOC_RC" -eq 0
t_check "--no-hello: auth is skipped" line env skip "auth $EDGE" '--no-hello'

printf 'zt1_garbage\n' >"$T_DIR/bad.token"
chmod 600 "$T_DIR/bad.token"
doc badtoken tunnel --token-file "$T_DIR/bad.token"
t_check "a damaged token: exit 1, the token check says so" line badtoken FAIL token 'damaged'

printf '[tunnel]\nno_such_key = 1\n' >"$T_DIR/bad.ini"
doc badini tunnel -c "$T_DIR/bad.ini"
t_check "a tunnel.ini zt tunnel run refuses: the config check fails naming the key" \
	line badini FAIL "config $T_DIR/bad.ini" 'no_such_key'

doc usage bogus
t_check "an unknown command is a usage error (2)" test "$DOC_RC" -eq 2

# --- secrets -----------------------------------------------------------------------------------
t_check "no secret in any output, log or command line" zn_check_secrets
t_check "no tunnel secret or Client Secret in the doctor's outputs" eval '! grep -q -F \
	-e "$(cat "$ZN_SECRETS/ci.secret")" "$T_DIR"/doctor-*.log'
t_done
