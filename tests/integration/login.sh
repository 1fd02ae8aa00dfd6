#!/bin/sh
# login: the client side of identity (doc/identity.md, "The client") against the real edge:
# zt login's device flow (the code shown, polls at the edge's interval, approval and denial on
# the edge's pages, Ctrl-C), the login file (0700/0600, the trust options kept), zt login
# --status, zt access token --app (the token on stdout alone; 401, 403 and 404 explained),
# zt access tcp presenting the login through the edge to a connector (the login's CA used),
# zt logout revoking at the edge (the old token refused, an open session cut with
# AUTH_REVOKED, audited), local removal when the edge cannot revoke, the refusals without a
# login.
#
# The "browser" is curl with a cookie jar: the verification URL sends it to /login, it signs
# in with the CSRF token of the form, and approves or denies the code on /device.
# tests/integration/browser-login.sh does the same with headless Chromium.
. "${top_srcdir:-.}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/zt-net.sh"
t_need curl
zn_init
zn_build_ztio
ZTJWT=${top_builddir:-.}/tests/net/ztjwt
[ -x "$ZTJWT" ] || { t_skip "tests/net/ztjwt is not built (make check)"; }

export XDG_CONFIG_HOME="$T_DIR/config"
LOGINS=$XDG_CONFIG_HOME/zt/logins.json

zn_edge_init
EDGE=127.0.0.1:$ZN_EDGE_PORT
URL=https://$EDGE
ISS="https://edge.test:$ZN_EDGE_PORT"	# the default issuer: [edge] name and public's port
CA=$ZN_EDGE/ca.crt
zn_app echo.test data "allow email:alice@example.com"
zn_app denied.test data "allow email:bob@example.com"
zn_tunnel_create data
PW=$ZN_SECRETS/alice.pw
(umask 077 && printf 'correct horse battery staple' >"$PW") || exit 99
echo "$PW" >>"$ZN_SECRETS/list"
"$ZT" edge user add alice@example.com -c "$ZN_EDGE_INI" <"$PW" >"$T_DIR/user.out" 2>&1 ||
    { cat "$T_DIR/user.out" >&2; exit 99; }
zn_edge_start
zn_origin origin
zn_connector conn data echo.test "tcp://127.0.0.1:$(zn_port origin)"
t_check "the connector registers" zn_connector_wait conn 4 20

# --- the "browser": curl, its cookies in $JAR ---------------------------------------------------
JAR=$T_DIR/jar
# web NAME [curl args...]: a request to the edge by its name; $T_DIR/NAME.h gets the head,
# NAME.b the body; prints the status.
web() {
	w_n=$1
	shift
	curl -sS --cacert "$CA" --resolve "edge.test:$ZN_EDGE_PORT:127.0.0.1" -c "$JAR" -b "$JAR" \
	    -o "$T_DIR/$w_n.b" -D "$T_DIR/$w_n.h" -w '%{http_code}' --max-time 30 "$@" \
	    2>"$T_DIR/$w_n.err"
}
location() {
	sed -n 's/^[Ll]ocation: *\([^[:cntrl:]]*\).*/\1/p' "$T_DIR/$1.h" | head -n 1
}
# hidden NAME FIELD: the value of a hidden field of the form in NAME's body.
hidden() {
	sed -n "s/.*<input type=\"hidden\" name=\"$2\" value=\"\\([^\"]*\\)\".*/\\1/p" \
	    "$T_DIR/$1.b" | head -n 1
}
# browser_decide NAME VERIFY_URL approve|deny: opens the verification URL, signs in when the
# edge asks (not yet signed in), and decides on the device page. 0 when every step answered
# as expected.
browser_decide() {
	b_n=$1 b_url=$2 b_action=$3
	st=$(web "$b_n-open" "$b_url")
	if [ "$st" = 303 ]; then
		b_next=$(location "$b_n-open")
		case $b_next in
		/login\?next=*) ;;
		*) echo "browser: $b_url sends to \"$b_next\", not /login?next=" >&2; return 1 ;;
		esac
		st=$(web "$b_n-login" "$ISS$b_next")
		[ "$st" = 200 ] || { echo "browser: GET $b_next: $st" >&2; return 1; }
		st=$(web "$b_n-signin" --data-urlencode email=alice@example.com \
		    --data-urlencode "password@$PW" --data-urlencode "csrf=$(hidden "$b_n-login" csrf)" \
		    --data-urlencode "next=$(hidden "$b_n-login" next)" "$ISS/login")
		[ "$st" = 303 ] || { echo "browser: POST /login: $st" >&2; return 1; }
		b_back=$(location "$b_n-signin")
		[ "$ISS$b_back" = "$b_url" ] ||
		    { echo "browser: signed in, sent to $b_back, not back to $b_url" >&2; return 1; }
		st=$(web "$b_n-open" "$ISS$b_back")
	fi
	[ "$st" = 200 ] || { echo "browser: GET $b_url: $st" >&2; return 1; }
	grep -q 'value="approve"' "$T_DIR/$b_n-open.b" ||
	    { echo "browser: the device page asks nothing" >&2; return 1; }
	st=$(web "$b_n-decide" --data-urlencode "user_code=$(hidden "$b_n-open" user_code)" \
	    --data-urlencode "csrf=$(hidden "$b_n-open" csrf)" -d "action=$b_action" "$ISS/device")
	[ "$st" = 200 ] || { echo "browser: POST /device action=$b_action: $st" >&2; return 1; }
}

# --- no login ---------------------------------------------------------------------------------
LPORT=$(zn_free_port)
t_run timeout 10 "$ZT" access tcp --hostname echo.test --url "127.0.0.1:$LPORT" --edge "$EDGE" \
    --edge-pin "$ZN_PIN" --log-format text
t_check "zt access tcp without a login exits 1" test "$T_RC" -eq 1
t_check "... saying: not logged in to EDGE: run zt login https://EDGE" \
    t_contains "$T_DIR/err" "not logged in to $EDGE: run zt login $URL"
not_listening() { ! zn_listening "$1"; }
t_check "... before listening" not_listening "$LPORT"
t_run "$ZT" login --status
t_check "zt login --status without a login exits 1" test "$T_RC" -eq 1
t_check "... saying so" t_contains "$T_DIR/out" "^not logged in"
t_run "$ZT" access token --app echo.test
t_check "zt access token without a login exits 1" test "$T_RC" -eq 1

# --- the device flow ----------------------------------------------------------------------------
# login_bg NAME: zt login in the background (stderr with the debug lines in $T_DIR/NAME.err,
# not a *.log: it names the verification URL), until it shows the code; the code in $CODE,
# the URL with the code in $VERIFY.
login_bg() {
	"$ZT" login "$URL" --edge-ca "$CA" --log-level debug --log-format text \
	    >"$T_DIR/$1.out" 2>"$T_DIR/$1.err" </dev/null &
	LOGIN_PID=$!
	t_wait "grep -q 'enter code' '$T_DIR/$1.err' 2>/dev/null" 15
	CODE=$(sed -n 's/^To sign in, open .* and enter code \([A-Z-]*\)$/\1/p' "$T_DIR/$1.err")
	VERIFY=$(sed -n 's/^(or open \(https:[^ ]*\))$/\1/p' "$T_DIR/$1.err")
}
# login_wait SECS: its exit status in $LOGIN_RC (124 when still running after SECS).
login_wait() {
	if t_wait "! kill -0 $LOGIN_PID 2>/dev/null" "$1"; then
		wait "$LOGIN_PID"
		LOGIN_RC=$?
	else
		kill "$LOGIN_PID" 2>/dev/null
		wait "$LOGIN_PID"
		LOGIN_RC=124
	fi
}
# polls NAME: how many times zt login asked /oauth/token.
polls() {
	grep -c 'httpc: POST .*/oauth/token ->' "$T_DIR/$1.err" 2>/dev/null
}

login_bg first
C4='[BCDFGHJKLMNPQRSTVWXZ]\{4\}'
t_check "zt login prints where to go and the code (the issuer's page, XXXX-XXXX)" \
    t_contains "$T_DIR/first.err" "^To sign in, open $ISS/device and enter code $C4-$C4\$"
t_check "... and the address with the code in it" test "$VERIFY" = "$ISS/device?user_code=$CODE"
t_check "... and no QR code when standard error is not a terminal" \
    sh -c "! grep -q '##\\|▀\\|▄\\|█' '$T_DIR/first.err'"
# The "browser" approves once zt login has asked once (authorization_pending).
t_check "zt login polls the edge" t_wait "[ \"\$(polls first)\" -ge 1 ]" 20
t_check "the browser signs in (303 to the device page) and approves the code" \
    browser_decide first "$VERIFY" approve
t_check "the approval is audited" zn_audit '"event":"device"' '"decision":"allow"' \
    'alice@example.com'
login_wait 30
t_check "zt login exits 0 once the code is approved ($LOGIN_RC)" test "$LOGIN_RC" -eq 0
t_check "... and prints nothing on stdout" test ! -s "$T_DIR/first.out"
# RFC 8628 3.5: the polls keep the edge's interval (5 s), as the httpc debug lines show. (The
# edge answers slow_down only to a client that polls sooner: tests/integration/edge-web.sh.)
gaps=$("$ZN_PY" - "$T_DIR/first.err" <<'EOF'
import datetime, sys
t = [datetime.datetime.strptime(l.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
     for l in open(sys.argv[1]) if "httpc: POST" in l and "/oauth/token ->" in l]
print(" ".join("%.1f" % (b - a) for a, b in zip(t, t[1:])))
EOF
)
t_check "at least two polls, each 5 s after the last ($gaps)" \
    sh -c "[ -n '$gaps' ] && for g in $gaps; do awk -v g=\$g 'BEGIN { exit !(g >= 4.9 && g < 10) }' || exit 1; done"

t_check "the login file is mode 0600" test "$(stat -c %a "$LOGINS")" = 600
t_check "its directory is mode 0700" test "$(stat -c %a "$XDG_CONFIG_HOME/zt")" = 700
TOKEN_FILE=$ZN_SECRETS/login.jwt
(umask 077 && "$ZN_PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["token"])' \
    "$LOGINS" "$EDGE" >"$TOKEN_FILE") || exit 99
echo "$TOKEN_FILE" >>"$ZN_SECRETS/list"
t_check "zt login's debug output never shows the login token" \
    sh -c "! grep -q -F -f '$TOKEN_FILE' '$T_DIR/first.err'"
curl -sS --cacert "$CA" --resolve "edge.test:$ZN_EDGE_PORT:127.0.0.1" -o "$T_DIR/jwks.json" \
    "$ISS/.well-known/jwks.json" || exit 99
t_check "the login token verifies with the edge's JWKS (iss = aud = the issuer, alice)" \
    sh -c "'$ZTJWT' verify '$T_DIR/jwks.json' '$ISS' '$ISS' <'$TOKEN_FILE' >'$T_DIR/claims.json' &&
    grep -q '\"email\":\"alice@example.com\"' '$T_DIR/claims.json'"
EXPIRES=$("$ZN_PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["exp"])' "$T_DIR/claims.json")
t_check "... and lives the default session_duration, 24 h" \
    test "$((EXPIRES - $(date +%s)))" -gt $((86400 - 300))
t_check "zt login said who until when (the token's exp)" t_contains "$T_DIR/first.err" \
    "^Logged in to $URL as alice@example.com until $(date -u -d "@$EXPIRES" +%Y-%m-%dT%H:%M:%SZ)\\.$"
t_check "the login file holds the token, keyed by the edge's host:port, with the CA" \
    "$ZN_PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
r = d[sys.argv[2]]
assert r["token"] == open(sys.argv[3]).read().strip() and r["ca_file"] == sys.argv[4], r
assert r["edge"] == sys.argv[5] and r["email"] == "alice@example.com", r
assert r["pin"] is None and r["edge_name"] is None, r' "$LOGINS" "$EDGE" "$TOKEN_FILE" \
    "$(realpath "$CA")" "$URL"

t_run "$ZT" login --status
t_check "zt login --status exits 0" test "$T_RC" -eq 0
t_check "... naming the edge, the person and the expiry" \
    t_contains "$T_DIR/out" "^$URL: alice@example.com until .* left)$"
t_run "$ZT" login --status "$URL"
t_check "zt login --status URL exits 0" test "$T_RC" -eq 0
t_run "$ZT" login --status https://other.test:1
t_check "zt login --status for another edge exits 1" test "$T_RC" -eq 1

# --- zt access token --------------------------------------------------------------------------
t_run "$ZT" access token --app echo.test
t_check "zt access token --app exits 0" test "$T_RC" -eq 0
t_check "... and prints nothing on stderr" test ! -s "$T_DIR/err"
(umask 077 && cp "$T_DIR/out" "$ZN_SECRETS/app.jwt") && echo "$ZN_SECRETS/app.jwt" >>"$ZN_SECRETS/list"
t_check "... printing the app token alone on stdout: one line, aud echo.test, alice" \
    sh -c "[ \$(wc -l <'$ZN_SECRETS/app.jwt') = 1 ] &&
    '$ZTJWT' verify '$T_DIR/jwks.json' '$ISS' echo.test <'$ZN_SECRETS/app.jwt' >'$T_DIR/app.claims' &&
    grep -q '\"email\":\"alice@example.com\"' '$T_DIR/app.claims'"
t_run "$ZT" access token --app denied.test --edge "$URL" --log-format text
t_check "an app the policy refuses exits 1" test "$T_RC" -eq 1
t_check "... with the edge's reason" t_contains "$T_DIR/err" \
    "does not let alice@example.com reach denied.test: .*no rule allows"
t_check "... and nothing on stdout" test ! -s "$T_DIR/out"
t_check "... audited" zn_audit '"event":"token"' '"decision":"deny"' 'alice@example.com' \
    'denied.test'
t_run "$ZT" access token --app nope.test --edge "$EDGE" --log-format text
t_check "an unknown app exits 1, named" sh -c "[ $T_RC -eq 1 ] && grep -q 'has no app nope.test' '$T_DIR/err'"
t_run "$ZT" access token --app 'bad host!'
t_check "a bad --app exits 78" test "$T_RC" -eq 78

# --- denial, Ctrl-C: the login in the file stays -------------------------------------------------
cp "$LOGINS" "$T_DIR/logins.before"
login_bg denied
# Signed in already (the cookie): the device page asks at once.
t_check "the browser, signed in, denies the second code" browser_decide denied "$VERIFY" deny
login_wait 30
t_check "a denied code: zt login exits 1 ($LOGIN_RC)" test "$LOGIN_RC" -eq 1
t_check "... saying access_denied: denied on the edge's page" \
    t_contains "$T_DIR/denied.err" "the sign-in was denied on the edge's page: not logged in"
t_check "the denial is audited" zn_audit '"event":"device"' '"decision":"deny"' \
    'alice@example.com'
login_bg cancelled
kill -INT "$LOGIN_PID"
login_wait 10
t_check "Ctrl-C stops zt login with 130" test "$LOGIN_RC" -eq 130
t_check "... saying nothing was stored" t_contains "$T_DIR/cancelled.err" "cancelled: not logged in"
t_check "the login file is as it was" cmp -s "$LOGINS" "$T_DIR/logins.before"
t_run "$ZT" login https://127.0.0.1:1 --log-format text
t_check "an edge that cannot be reached exits 1" test "$T_RC" -eq 1
t_run "$ZT" login http://edge.test
t_check "a URL that is not https exits 2" test "$T_RC" -eq 2
t_check "... saying why" t_contains "$T_DIR/err" "https://"

# --- zt access tcp with the login, through the edge ------------------------------------------------
SPORT=$(zn_free_port)
# No --edge-ca or --edge-pin: the login's CA is used.
"$ZT" access tcp --hostname echo.test --url "127.0.0.1:$SPORT" --edge "$EDGE" \
    --log-level debug >>"$T_DIR/side.log" 2>&1 &
zn_remember side $!
t_check "zt access tcp with the login opens its port (the edge authorised alice)" \
    t_wait "zn_listening $SPORT" 15
t_check "64 KiB echoed through the edge and the connector" \
    timeout 20 "$ZTIO" echo 127.0.0.1 "$SPORT" 65536 5
t_check "the edge audited alice's session" zn_audit '"allow' 'alice@example.com'
# A stream that stays open: 1 MiB echoed slowly, held after the first 4 KiB.
"$ZTIO" echo 127.0.0.1 "$SPORT" 1048576 6 --progress "$T_DIR/held.progress" 4096 \
    --hold "$T_DIR/held.go" >"$T_DIR/held.log" 2>&1 &
zn_remember held $!
t_check "a stream is open through the login's session" t_wait "[ -e '$T_DIR/held.progress' ]" 15
t_check "no secret in the logs, the audit log or a command line" zn_check_secrets

# --- zt logout: revoked at the edge ---------------------------------------------------------------
cp "$LOGINS" "$T_DIR/logins.saved"
chmod 600 "$T_DIR/logins.saved"
t_run "$ZT" logout "$URL"
T1=$(date +%s.%N)
t_check "zt logout exits 0" test "$T_RC" -eq 0
t_check "... saying the edge revoked the login and it is removed here" \
    t_contains "$T_DIR/err" "^Logged out of $URL: the edge revoked the login and it is removed here\\.$"
t_check "... and the login is gone from the file" \
    "$ZN_PY" -c 'import json, sys; assert sys.argv[2] not in json.load(open(sys.argv[1]))' "$LOGINS" "$EDGE"
# The open session is cut: the edge rechecks its sessions when DIR/revoked changes.
t_wait "! zn_alive side" 10
T2=$(date +%s.%N)
CUT=$(awk -v a="$T1" -v b="$T2" 'BEGIN { printf "%.1f", b - a }')
t_check "the sidecar's session is cut with AUTH_REVOKED $CUT s after zt logout returned" \
    sh -c "grep -q 'the edge refused the login: .*(AUTH_REVOKED)' '$T_DIR/side.log' &&
    awk -v c=$CUT 'BEGIN { exit !(c < 3) }'"
zn_exited side 5
t_check "... and it exits 1 (no newer login to use)" test "$ZN_RC" -eq 1
touch "$T_DIR/held.go"
zn_exited held 10
t_check "... and the open stream ends with it (ztio exit $ZN_RC)" \
    sh -c "[ $ZN_RC -eq 3 ] || [ $ZN_RC -eq 4 ]"
t_check "the audit log has the revocation" zn_audit '"event":"revoke"' 'alice@example.com'
t_check "DIR/revoked holds it, 0600" test "$(stat -c %a "$ZN_STATE"/revoked/* 2>/dev/null)" = 600
(umask 077 && { printf 'Authorization: Bearer '; cat "$TOKEN_FILE"; } >"$ZN_SECRETS/auth.h")
st=$(web revoked -H "@$ZN_SECRETS/auth.h" -d app=echo.test "$ISS/token/app")
t_check "the old token gets 401 invalid_token from /token/app ($st)" \
    sh -c "[ '$st' = 401 ] && grep -q '\"error\":\"invalid_token\"' '$T_DIR/revoked.b'"
cp -p "$T_DIR/logins.saved" "$LOGINS"
t_run "$ZT" access token --app echo.test --log-format text
t_check "zt access token with the revoked login exits 1" test "$T_RC" -eq 1
t_check "... saying the edge no longer accepts it (revoked): run zt login again" \
    t_contains "$T_DIR/err" \
    "no longer accepts the login to $URL (invalid_token: .*revoked.*): run zt login $URL again"
t_check "... and prints nothing on stdout" test ! -s "$T_DIR/out"
"$ZN_PY" -c 'import json, sys; json.dump({}, open(sys.argv[1], "w"))' "$LOGINS"
t_run "$ZT" logout "$URL"
t_check "zt logout again: nothing to do, exit 0" sh -c "[ $T_RC -eq 0 ] && grep -q 'not logged in' '$T_DIR/err'"
t_run timeout 10 "$ZT" access tcp --hostname echo.test --url "127.0.0.1:$(zn_free_port)" \
    --edge "$EDGE" --log-format text
t_check "zt access tcp after logout exits 1" test "$T_RC" -eq 1
t_check "... with the message" t_contains "$T_DIR/err" "not logged in to $EDGE: run zt login $URL"

# The edge unreachable: the login is still removed, and the message says the edge keeps it.
zn_edge_stop
"$ZN_PY" -c 'import json, sys
json.dump({sys.argv[1]: {"edge": sys.argv[2], "token": open(sys.argv[3]).read().strip(),
    "email": "alice@example.com", "expires": "2099-01-01T00:00:00Z", "ca_file": sys.argv[4],
    "pin": None, "edge_name": None}}, open(sys.argv[5], "w"))' \
    "$EDGE" "$URL" "$TOKEN_FILE" "$(realpath "$CA")" "$LOGINS"
chmod 600 "$LOGINS"
t_run "$ZT" logout
t_check "zt logout with the edge down exits 0" test "$T_RC" -eq 0
t_check "... saying the edge accepts the token until it expires" \
    t_contains "$T_DIR/err" "could not revoke it (.*): it accepts the token until 2099-01-01T00:00:00Z"
t_check "... and the login is removed" "$ZN_PY" -c 'import json, sys; assert json.load(open(sys.argv[1])) == {}' "$LOGINS"

# An expired login is refused before listening.
"$ZN_PY" -c 'import json, sys
json.dump({sys.argv[1]: {"edge": sys.argv[2], "token": "a.b.c", "expires": "2020-01-01T00:00:00Z"}},
    open(sys.argv[3], "w"))' "$EDGE" "$URL" "$LOGINS"
t_run timeout 10 "$ZT" access tcp --hostname echo.test --url "127.0.0.1:$(zn_free_port)" \
    --edge "$EDGE" --log-format text
t_check "an expired login: exit 1, not logged in" sh -c "[ $T_RC -eq 1 ] && grep -q 'expired: not logged in to $EDGE' '$T_DIR/err'"
t_run "$ZT" login --status
t_check "zt login --status says expired, exit 1" sh -c "[ $T_RC -eq 1 ] && grep -q 'expired at 2020-01-01T00:00:00Z' '$T_DIR/out'"
# A corrupt file is reported with its path and kept.
printf '{"a": ' >"$LOGINS"
t_run "$ZT" access token --app echo.test --log-format text
t_check "a corrupt login file is reported with its path" \
    sh -c "[ $T_RC -eq 1 ] && grep -q '$LOGINS is corrupt' '$T_DIR/err'"
t_check "... and kept as it was" test "$(cat "$LOGINS")" = '{"a": '
t_check "no secret in the logs or the audit log" zn_check_secrets
t_done
