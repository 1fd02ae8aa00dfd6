#!/bin/sh
# path-identity: people on the data path (doc/identity.md, "Tokens", "The mux additions",
# "Policies"), real processes on loopback. Login tokens are minted with tests/net/ztjwt from
# the edge's own keys (the device flow is tested by its own tests) and presented in HELLO by
# tests/net/ztmuxc, a small mux client. alice (group dev) reaches an app whose policy allows
# group:dev, bob (no group) is refused by the rule that denies him, both audited with the rule
# and the email; expired, wrong-audience, wrong-issuer and foreign-key login tokens are refused;
# a deleted user's open session is cut within about a second; a group removed refuses the next
# stream of an open session; an app's session_duration refuses an old sign-in; a connector with
# verify_token passes the streams the edge signs for (people and service tokens, also after a
# key rotation) and one pinned to a foreign JWKS refuses every stream.
. "${top_srcdir:-.}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/zt-net.sh"
zn_init
zn_build_ztio
ZTJWT=${top_builddir:-.}/tests/net/ztjwt
ZTMUXC=${top_builddir:-.}/tests/net/ztmuxc
if [ ! -x "$ZTJWT" ] || [ ! -x "$ZTMUXC" ]; then
	t_skip "tests/net/ztjwt or ztmuxc is not built (make check)"
fi

zn_edge_init
ISS="https://edge.test:$ZN_EDGE_PORT"
printf '\n[identity]\nissuer = %s\n' "$ISS" >>"$ZN_EDGE_INI"
zn_app echo.test data "allow group:dev" "deny everyone"
zn_app short.test data "allow email:alice@example.com"
printf 'session_duration = 10m\n' >>"$ZN_EDGE_INI"
zn_app svc.test data "allow token:ci"
zn_app pinned.test pinned "allow group:dev"
zn_tunnel_create data
zn_tunnel_create pinned
zn_token_create ci

# Users, by `zt edge user add` (the password on standard input, from a 0600 file).
PW=$ZN_SECRETS/users.pw
(umask 077 && printf 'correct horse battery staple\n' >"$PW") || exit 99
echo "$PW" >>"$ZN_SECRETS/list"
# zt_user SUBCOMMAND EMAIL [ARGS...]: zt edge user on the edge's edge.ini; exits 99 on failure.
zt_user() {
	"$ZT" edge user "$@" -c "$ZN_EDGE_INI" <"$PW" >"$T_DIR/user.out" 2>&1 ||
	    { cat "$T_DIR/user.out" >&2; echo "zt edge user $*: failed" >&2; exit 99; }
}
user_add() {
	zt_user add "$@"
}
user_add alice@example.com --group dev
user_add bob@example.com
user_add carol@example.com --group dev
user_add dave@example.com --group dev
zn_edge_start

# A foreign edge: its keys sign tokens our edge must refuse, and its JWKS pins a connector.
"$ZT" edge init "$T_DIR/foreign" --name foreign.test >/dev/null 2>&1 || exit 99
"$ZTJWT" jwks "$T_DIR/foreign/state" >"$T_DIR/foreign.jwks" || exit 99

# login NAME EMAIL [DIR [CLAIM...]]: a login token in $ZN_SECRETS/NAME.login, signed with
# DIR's keys (default the edge's): aud = iss = the issuer, an hour, signed in now; each CLAIM
# ('"aud":"x"', JSON members) replaces or adds members.
login() {
	l_name=$1 l_email=$2 l_dir=${3:-$ZN_STATE}
	shift 2
	[ $# -gt 0 ] && shift
	l_now=$(date +%s)
	(umask 077 && "$ZN_PY" -c 'import json, sys
d = {}
for part in sys.argv[1:]:
    d.update(json.loads("{" + part + "}"))
print(json.dumps(d))' "\"iss\":\"$ISS\",\"aud\":\"$ISS\",\"type\":\"user\"" \
	    "\"sub\":\"$l_email\",\"email\":\"$l_email\"" \
	    "\"auth_time\":$l_now,\"exp\":$((l_now + 3600))" "$@" |
	    "$ZTJWT" sign "$l_dir" >"$ZN_SECRETS/$l_name.login") || exit 99
	echo "$ZN_SECRETS/$l_name.login" >>"$ZN_SECRETS/list"
}

# muxc NAME LOGIN HOST [COUNT [INTERVAL_MS [HOLD_MS]]]: ztmuxc in the foreground, its output
# in $T_DIR/NAME.log, its status in $MUXC_RC.
muxc() {
	m_name=$1 m_login=$2
	shift 2
	timeout 60 "$ZTMUXC" "127.0.0.1:$ZN_EDGE_PORT" "$ZN_PIN" edge.test "$@" \
	    <"$ZN_SECRETS/$m_login.login" >"$T_DIR/$m_name.log" 2>&1
	MUXC_RC=$?
}

# said NAME TEXT: the log of NAME has a line with TEXT.
said() {
	grep -q -F -e "$2" "$T_DIR/$1.log" || { echo "--- $1.log:" >&2; cat "$T_DIR/$1.log" >&2; return 1; }
}

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

zn_origin origin
ORIGIN="tcp://127.0.0.1:$(zn_port origin)"
# The data connector verifies app tokens on every rule: echo.test from the command line, the
# others from its tunnel.ini, trusting the keys the edge sends (KEYS).
cat >"$T_DIR/data.ini" <<EOF
[tunnel]
token_issuer = $ISS
[ingress]
rule = short.test $ORIGIN verify_token
rule = svc.test $ORIGIN verify_token
rule = * http_status:404
EOF
zn_connector conn data echo.test "$ORIGIN" --verify-token -c "$T_DIR/data.ini"
cat >"$T_DIR/pinned.ini" <<EOF
[tunnel]
token_issuer = $ISS
token_keys = $T_DIR/foreign.jwks
EOF
zn_connector pin pinned pinned.test "$ORIGIN" --verify-token -c "$T_DIR/pinned.ini"
t_check "the verifying connector registers" zn_connector_wait conn 4
t_check "the pinned connector registers" zn_connector_wait pin 4
t_check "the edge sent its keys to each connection (KEYS)" \
	t_wait "[ \$(grep -c 'token keys from the edge' '$T_DIR/conn.log') -ge 4 ]" 5

# --- people and policies ---------------------------------------------------------------------
login alice alice@example.com
login bob bob@example.com
mark
muxc alice-echo alice echo.test
t_check "alice (group dev) reaches echo.test" said alice-echo "stream 1 ok"
t_check "... audited: allowed by rule #1, her email, her address" \
	audited '"event":"stream"' '"decision":"allow"' '"app":"echo.test"' \
	'"email":"alice@example.com"' 'rule #1 \\"allow group:dev\\"' '"from":"127\.0\.0\.1:'
t_check "... the session audited with her email" \
	audited '"event":"session"' '"decision":"allow"' '"identity":"email:alice@example.com"'
t_check "... and the connector verified her app token" \
	grep -q 'app token of user alice@example.com verified' "$T_DIR/conn.log"
mark
muxc bob-echo bob echo.test
t_check "bob (no group) is refused NOT_ALLOWED" said bob-echo "stream 1 refused NOT_ALLOWED"
t_check "... audited: denied by rule #2, his email" \
	audited '"event":"stream"' '"decision":"deny"' '"email":"bob@example.com"' \
	'rule #2 \\"deny everyone\\"' '"code":"NOT_ALLOWED"'

# --- bad login tokens --------------------------------------------------------------------------
now=$(date +%s)
login expired alice@example.com "$ZN_STATE" "\"iat\":$((now - 7200)),\"exp\":$((now - 3600))"
mark
muxc expired expired echo.test
t_check "an expired login is refused AUTH_EXPIRED" said expired "session closed AUTH_EXPIRED"
t_check "... audited with why" audited '"event":"session"' '"decision":"deny"' \
	'token expired at' '"code":"AUTH_EXPIRED"'
login wrongaud alice@example.com "$ZN_STATE" '"aud":"echo.test"'
muxc wrongaud wrongaud echo.test
t_check "a token for another audience (an app token) is refused AUTH_FAILED" \
	said wrongaud "session closed AUTH_FAILED"
login wrongiss alice@example.com "$ZN_STATE" '"iss":"https://evil.test"'
muxc wrongiss wrongiss echo.test
t_check "a token of another issuer is refused AUTH_FAILED" said wrongiss "session closed AUTH_FAILED"
login foreign alice@example.com "$T_DIR/foreign/state"
mark
muxc foreign foreign echo.test
t_check "a token signed by a foreign key is refused AUTH_FAILED" \
	said foreign "session closed AUTH_FAILED"
t_check "... audited" audited '"event":"session"' '"decision":"deny"' '"code":"AUTH_FAILED"'
login ghost ghost@example.com
muxc ghost ghost echo.test
t_check "a login of a user who does not exist is refused AUTH_REVOKED" \
	said ghost "session closed AUTH_REVOKED"

# --- changes while sessions are open ------------------------------------------------------------
login carol carol@example.com
"$ZTMUXC" "127.0.0.1:$ZN_EDGE_PORT" "$ZN_PIN" edge.test echo.test 1 0 20000 \
    <"$ZN_SECRETS/carol.login" >"$T_DIR/carol.log" 2>&1 &
zn_remember carol $!
t_check "carol's session is open" t_wait "grep -q 'stream 1 ok' '$T_DIR/carol.log'" 10
t0=$(date +%s%N)
zt_user del carol@example.com
t_check "a deleted user's open session is cut (AUTH_REVOKED)" \
	t_wait "grep -q 'session closed AUTH_REVOKED' '$T_DIR/carol.log'" 5
ms=$((($(date +%s%N) - t0) / 1000000))
echo "carol's session cut ${ms} ms after the deletion"
t_check "... within about a second (${ms} ms)" [ "$ms" -le 1500 ]
zn_exited carol

login dave dave@example.com
"$ZTMUXC" "127.0.0.1:$ZN_EDGE_PORT" "$ZN_PIN" edge.test echo.test 40 250 \
    <"$ZN_SECRETS/dave.login" >"$T_DIR/dave.log" 2>&1 &
zn_remember dave $!
t_check "dave's streams pass while he is in group dev" \
	t_wait "grep -q 'stream 2 ok' '$T_DIR/dave.log'" 10
zt_user groups dave@example.com
t_check "zt edge user groups took dave out of every group" \
	sh -c "! grep -q '^groups' '$ZN_STATE/users/dave@example.com'"
t_check "out of group dev, his next streams are refused NOT_ALLOWED (same session)" \
	t_wait "grep -q 'refused NOT_ALLOWED' '$T_DIR/dave.log'" 5
t_check "... and his session stays open" sh -c "! grep -q 'session closed' '$T_DIR/dave.log'"
zn_stop dave

# --- an app's session_duration -------------------------------------------------------------------
login old alice@example.com "$ZN_STATE" "\"auth_time\":$((now - 3600))"
muxc old-echo old echo.test
t_check "a sign-in an hour old still reaches echo.test (24h)" said old-echo "stream 1 ok"
mark
muxc old-short old short.test
t_check "short.test (session_duration 10m) refuses it AUTH_EXPIRED, saying zt login" \
	said old-short "ago; app short.test asks for a sign-in within 10m: sign in again"
t_check "... naming zt login" said old-short "zt login $ISS"
muxc new-short alice short.test
t_check "a fresh sign-in reaches short.test" said new-short "stream 1 ok"

# --- connectors verifying app tokens -------------------------------------------------------------
muxc alice-pinned alice pinned.test
t_check "a connector pinned to another JWKS refuses every stream (INGRESS_REFUSED)" \
	said alice-pinned "stream 1 refused INGRESS_REFUSED: no valid access token"
t_check "... and logs why" grep -q 'pinned.test.*refused: no valid access token' "$T_DIR/pin.log"
zn_sidecar side ci svc.test
t_check "the service token's sidecar opens its port" zn_sidecar_wait side
t_check "a service token's stream passes the verifying connector" \
	timeout 15 "$ZTIO" echo 127.0.0.1 "$(zn_port side)" 65536 3
t_check "... its app token is a service token's" \
	grep -q 'app token of service ci verified' "$T_DIR/conn.log"

# A key rotation: KEYS reach the connector before the new key signs; streams keep passing.
n0=$(grep -c 'token keys from the edge' "$T_DIR/conn.log")
"$ZT" edge rotate-keys -c "$ZN_EDGE_INI" >"$T_DIR/rotate.out" 2>&1 || cat "$T_DIR/rotate.out" >&2
t_check "after rotate-keys the edge sends KEYS again" \
	t_wait "[ \$(grep -c 'token keys from the edge' '$T_DIR/conn.log') -ge $((n0 + 4)) ]" 5
login alice2 alice@example.com
muxc alice-rotated alice2 echo.test 3 100
t_check "streams signed with the new key pass the verifying connector" \
	said alice-rotated "stream 3 ok"

t_check "no secret in any log" zn_check_secrets
t_done
