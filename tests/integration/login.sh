#!/bin/sh
# login: the client side of identity (doc/identity.md, "The client"): zt login's device flow
# (the code shown, authorization_pending, slow_down honoured, approval, denial, expiry, Ctrl-C),
# the login file (0700/0600, the trust options kept), zt login --status, zt access token --app
# (the token on stdout alone; 401, 403 and 404 explained), zt access tcp presenting the login to
# the real edge (through a connector to the ztio origin, the login's pin used), zt logout
# (local removal even when the edge cannot revoke), and the refusals without a login.
#
# The edge does not serve its web side on the mux port yet (src/common/web.c is not wired into
# zt edge serve): the device-flow endpoints are played by tests/net/devflow.py on the edge's
# port and with the edge's own certificate before the edge starts there; the login token it
# hands out is signed by the edge's keys (tests/net/ztjwt), so the real edge accepts it.
. "${top_srcdir:-.}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/zt-net.sh"
zn_init
zn_build_ztio
ZTJWT=${top_builddir:-.}/tests/net/ztjwt
[ -x "$ZTJWT" ] || { echo "SKIP: tests/net/ztjwt is not built (make check)"; exit 77; }

export XDG_CONFIG_HOME="$T_DIR/config"
LOGINS=$XDG_CONFIG_HOME/zt/logins.json

zn_edge_init
EDGE=127.0.0.1:$ZN_EDGE_PORT
URL=https://$EDGE
ISS="https://edge.test:$ZN_EDGE_PORT"
printf '\n[identity]\nissuer = %s\n' "$ISS" >>"$ZN_EDGE_INI"
zn_app echo.test data "allow email:alice@example.com"
zn_tunnel_create data
printf 'correct horse battery staple\n' |
    "$ZT" edge user add alice@example.com -c "$ZN_EDGE_INI" >"$T_DIR/user.out" 2>&1 ||
    { cat "$T_DIR/user.out" >&2; exit 99; }

# The login token the device flow hands out: the edge's keys, aud = iss, an hour.
NOW=$(date +%s)
(umask 077 && mkdir "$T_DIR/web" && printf '{"iss":"%s","aud":"%s","type":"user","sub":"%s","email":"%s","groups":[],"auth_time":%s,"exp":%s}\n' \
    "$ISS" "$ISS" alice@example.com alice@example.com "$NOW" $((NOW + 3600)) |
    "$ZTJWT" sign "$ZN_STATE" >"$T_DIR/web/login.jwt") || exit 99
cp "$T_DIR/web/login.jwt" "$ZN_SECRETS/login.jwt"
echo "$ZN_SECRETS/login.jwt" >>"$ZN_SECRETS/list"
TOKEN=$(cat "$T_DIR/web/login.jwt")

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

# --- the device flow, against the stand-in on the edge's port ----------------------------------
web_start() {
	rm -f "$T_DIR/web/port"
	DEVFLOW_PORT=$ZN_EDGE_PORT "$ZN_PY" "$top_srcdir/tests/net/devflow.py" "$T_DIR/web" \
	    "$ZN_EDGE/edge.crt" "$ZN_EDGE/edge.key" "$T_DIR/web/port" >>"$T_DIR/web.log" 2>&1 &
	zn_remember web $!
	t_wait "[ -s '$T_DIR/web/port' ]" 10 || { cat "$T_DIR/web.log" >&2; exit 99; }
}
web_start

# login_bg NAME: zt login in the background, its stderr in $T_DIR/NAME.err.
login_bg() {
	"$ZT" login "$URL" --edge-pin "$ZN_PIN" --log-format text >"$T_DIR/$1.out" \
	    2>"$T_DIR/$1.err" </dev/null &
	LOGIN_PID=$!
	t_wait "grep -q 'enter code' '$T_DIR/$1.err' 2>/dev/null" 10
}
# login_wait: its exit status in $LOGIN_RC (124 when still running after $1 seconds).
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

rm -f "$T_DIR/web/decision" "$T_DIR/web/polls"
login_bg first
t_check "zt login prints where to go and the code" \
    t_contains "$T_DIR/first.err" "^To sign in, open $URL/device and enter code BCDF-GHJK$"
t_check "... and the address with the code in it" \
    t_contains "$T_DIR/first.err" "$URL/device?user_code=BCDF-GHJK"
t_check "... and no QR code when standard error is not a terminal" \
    sh -c "! grep -q '##\\|▀\\|▄\\|█' '$T_DIR/first.err'"
# The "browser" approves once zt login has been told to slow down (second poll).
t_wait "grep -q slow_down '$T_DIR/web/polls' 2>/dev/null" 10
echo approve >"$T_DIR/web/decision"
login_wait 20
t_check "zt login exits 0 once the code is approved" test "$LOGIN_RC" -eq 0
t_check "... saying who until when" t_contains "$T_DIR/first.err" \
    "^Logged in to $URL as alice@example.com until $(date -u -d "@$((NOW + 3600))" +%Y-%m-%dT%H:%M:%SZ)\\.$"
t_check "... and prints nothing on stdout" test ! -s "$T_DIR/first.out"
# RFC 8628 3.5: slow_down adds 5 s to the interval (1 s here).
gap=$(awk '{ t[NR] = $1; w[NR] = $2 } END { for (i = 2; i <= NR; i++) if (w[i - 1] == "slow_down") printf "%.1f", t[i] - t[i - 1] }' "$T_DIR/web/polls")
t_check "the poll after slow_down waited 6 s ($gap s)" \
    awk -v g="$gap" 'BEGIN { exit !(g >= 5.9 && g < 8) }'
t_check "the first polls kept the interval of 1 s" \
    awk '{ t[NR] = $1 } END { exit !(NR >= 3 && t[2] - t[1] >= 0.9 && t[2] - t[1] < 3) }' "$T_DIR/web/polls"

t_check "the login file is mode 0600" test "$(stat -c %a "$LOGINS")" = 600
t_check "its directory is mode 0700" test "$(stat -c %a "$XDG_CONFIG_HOME/zt")" = 700
t_check "the login file holds the token, keyed by the edge's host:port, with the pin" \
    "$ZN_PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
r = d[sys.argv[2]]
assert r["token"] == sys.argv[3] and r["pin"] == sys.argv[4], r
assert r["edge"] == sys.argv[5] and r["email"] == "alice@example.com", r
assert r["ca_file"] is None and r["edge_name"] is None, r' "$LOGINS" "$EDGE" "$TOKEN" "$ZN_PIN" "$URL"

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
t_check "... printing the app token alone on stdout" test "$(cat "$T_DIR/out")" = \
    "eyJhbGciOiJFUzI1NiJ9.eyJhdWQiOiJlY2hvLnRlc3QifQ.c2lnbmF0dXJl"
t_check "... and nothing on stderr" test ! -s "$T_DIR/err"
t_run "$ZT" access token --app denied.test --edge "$URL" --log-format text
t_check "a refused app exits 1" test "$T_RC" -eq 1
t_check "... with the edge's reason" t_contains "$T_DIR/err" \
    "does not let alice@example.com reach denied.test: no rule allows alice@example.com"
t_check "... and nothing on stdout" test ! -s "$T_DIR/out"
t_run "$ZT" access token --app nope.test --edge "$EDGE" --log-format text
t_check "an unknown app exits 1, named" sh -c "[ $T_RC -eq 1 ] && grep -q 'has no app nope.test' '$T_DIR/err'"
echo "not.the.login" >"$T_DIR/web/login.jwt.new" && mv "$T_DIR/web/login.jwt" "$T_DIR/web/login.keep" &&
    mv "$T_DIR/web/login.jwt.new" "$T_DIR/web/login.jwt"
t_run "$ZT" access token --app echo.test --log-format text
t_check "a login the edge refuses (401) says to log in again" \
    sh -c "[ $T_RC -eq 1 ] && grep -q 'no longer accepts the login to $URL (invalid_token: the login is not valid): run zt login $URL again' '$T_DIR/err'"
mv "$T_DIR/web/login.keep" "$T_DIR/web/login.jwt"
t_run "$ZT" access token --app 'bad host!'
t_check "a bad --app exits 78" test "$T_RC" -eq 78

# --- denial, expiry, Ctrl-C: the login in the file stays ---------------------------------------
cp "$LOGINS" "$T_DIR/logins.before"
echo deny >"$T_DIR/web/decision"
login_bg denied
login_wait 20
t_check "a denied code exits 1" test "$LOGIN_RC" -eq 1
t_check "... saying it was denied" t_contains "$T_DIR/denied.err" "denied on the edge's page"
echo expire >"$T_DIR/web/decision"
login_bg expired
login_wait 20
t_check "an expired code exits 1, saying so" sh -c "[ $LOGIN_RC -eq 1 ] && grep -q 'code expired before it was approved: run zt login $URL again' '$T_DIR/expired.err'"
rm -f "$T_DIR/web/decision"
login_bg cancelled
kill -INT "$LOGIN_PID"
login_wait 5
t_check "Ctrl-C stops zt login with 130" test "$LOGIN_RC" -eq 130
t_check "... saying nothing was stored" t_contains "$T_DIR/cancelled.err" "cancelled: not logged in"
t_check "the login file is as it was" cmp -s "$LOGINS" "$T_DIR/logins.before"
t_run "$ZT" login https://127.0.0.1:1 --log-format text
t_check "an edge that cannot be reached exits 1" test "$T_RC" -eq 1
t_run "$ZT" login http://edge.test
t_check "a URL that is not https exits 2" test "$T_RC" -eq 2
t_check "... saying why" t_contains "$T_DIR/err" "https://"

# --- zt access tcp with the login, through the real edge ------------------------------------------
zn_stop web
zn_edge_start
zn_origin origin
zn_connector conn data echo.test "tcp://127.0.0.1:$(zn_port origin)"
t_check "the connector registers" zn_connector_wait conn 4
SPORT=$(zn_free_port)
# No --edge-pin: the login's is used.
"$ZT" access tcp --hostname echo.test --url "127.0.0.1:$SPORT" --edge "$EDGE" \
    --log-level debug >>"$T_DIR/side.log" 2>&1 &
zn_remember side $!
t_check "zt access tcp with the login opens its port (the edge authorised alice)" \
    t_wait "zn_listening $SPORT" 10
t_check "64 KiB echoed through the edge and the connector" \
    timeout 15 "$ZTIO" echo 127.0.0.1 "$SPORT" 65536 5
t_check "the edge audited alice's session" zn_audit 'alice@example.com'
t_check "no secret in the logs, the audit log or a command line" zn_check_secrets
zn_stop side

# --- zt logout ------------------------------------------------------------------------------------
t_run "$ZT" logout "$URL"
t_check "zt logout exits 0" test "$T_RC" -eq 0
# The edge does not serve /oauth/revoke on its port yet: the message must say so.
t_check "... saying the login is removed here (and whether the edge revoked it)" \
    t_contains "$T_DIR/err" "^Logged out of $URL"
t_check "... and the login is gone from the file" \
    "$ZN_PY" -c 'import json, sys; assert sys.argv[2] not in json.load(open(sys.argv[1]))' "$LOGINS" "$EDGE"
t_run "$ZT" logout "$URL"
t_check "zt logout again: nothing to do, exit 0" sh -c "[ $T_RC -eq 0 ] && grep -q 'not logged in' '$T_DIR/err'"
t_run timeout 10 "$ZT" access tcp --hostname echo.test --url "127.0.0.1:$(zn_free_port)" \
    --edge "$EDGE" --log-format text
t_check "zt access tcp after logout exits 1" test "$T_RC" -eq 1
t_check "... with the message" t_contains "$T_DIR/err" "not logged in to $EDGE: run zt login $URL"

# The edge unreachable: the login is still removed, and the message says the edge keeps it.
zn_edge_stop
"$ZN_PY" -c 'import json, sys
json.dump({sys.argv[1]: {"edge": sys.argv[2], "token": sys.argv[3], "email": "alice@example.com",
    "expires": "2099-01-01T00:00:00Z", "ca_file": None, "pin": sys.argv[4], "edge_name": None}},
    open(sys.argv[5], "w"))' "$EDGE" "$URL" "$TOKEN" "$ZN_PIN" "$LOGINS"
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
t_done
