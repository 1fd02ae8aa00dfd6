#!/bin/sh
# edge-web: the edge's web side (doc/identity.md, "HTTP") driven with curl over TLS on the real
# edge: security headers, the JWKS (checked with python3-jwt), the whole device flow (RFC 8628)
# with sign-in, CSRF and rate limits, app tokens by policy, revocation, and HTTP abuse.
. "${top_srcdir:-.}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/zt-net.sh"
t_need curl
zn_init

zn_edge_init
zn_app dev.test dev "allow group:dev"
zn_app ops.test ops "allow group:ops"
zn_app mail.test mail "allow email-domain:example.com -ip:127.0.0.0/8"
U=https://edge.test:$ZN_EDGE_PORT
CA=$ZN_EDGE/ca.crt
PW=$ZN_SECRETS/alice.pw
(umask 077 && printf 'correct horse battery staple' >"$PW") || exit 99

# A user, by `zt edge user add` (the password on standard input).
"$ZT" edge user add -c "$ZN_EDGE_INI" alice@example.com --group dev <"$PW" \
    >"$T_DIR/useradd.out" 2>&1 || { cat "$T_DIR/useradd.out" >&2; exit 99; }
zn_edge_start

# req NAME [curl args...]: a request; $T_DIR/NAME.h gets the head, NAME.b the body; prints
# the status.
req() {
	n=$1
	shift
	curl -sS --cacert "$CA" --resolve "edge.test:$ZN_EDGE_PORT:127.0.0.1" -o "$T_DIR/$n.b" \
	    -D "$T_DIR/$n.h" -w '%{http_code}' --max-time 20 "$@" 2>"$T_DIR/$n.err"
}
hdr() {
	grep -i -q "^$2: $3" "$T_DIR/$1.h"
}
json() {
	"$ZN_PY" -c 'import json, sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' \
	    "$T_DIR/$1.b" "$2"
}
form_csrf() {
	sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T_DIR/$1.b" | head -1
}
JAR=$T_DIR/jar
POLL="grant_type=urn:ietf:params:oauth:grant-type:device_code&client_id=zt"

# --- pages and headers ------------------------------------------------------------------------
for p in / /login /device /logout /static/zt.css /nope /.well-known/jwks.json; do
	name=page$(printf '%s' "$p" | tr -c 'a-z' _)
	st=$(req "$name" "$U$p")
	ok=true
	for h in "Content-Security-Policy: default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'" \
	    "X-Content-Type-Options: nosniff" "X-Frame-Options: DENY" \
	    "Referrer-Policy: no-referrer" "Strict-Transport-Security: max-age=31536000" \
	    "Cross-Origin-Opener-Policy: same-origin"; do
		grep -q -F "$h" "$T_DIR/$name.h" || { echo "$p: no $h" >&2; ok=false; }
	done
	t_check "GET $p ($st): every security header" $ok
done
t_check "/login: a form with labels, lang, no script" eval 'grep -q "<html lang=\"en\">" "$T_DIR/page_login.b" &&
	grep -q "<label for=\"password\">" "$T_DIR/page_login.b" && ! grep -qi "<script" "$T_DIR/page_login.b"'
t_check "/login sets __Host-zt_pre (HttpOnly; Secure; SameSite=Lax; Path=/)" \
	hdr page_login Set-Cookie '__Host-zt_pre=[A-Za-z0-9_-]\{43\}; Max-Age=3600; HttpOnly; Secure; SameSite=Lax; Path=/'
t_check "/login: Cache-Control: no-store" hdr page_login Cache-Control no-store
t_check "/device without a session: 303 to /login?next=/device" \
	eval 'hdr page_device Location "/login?next=/device"'
t_check "unknown page: 404" eval 'head -1 "$T_DIR/page_nope.h" | grep -q " 404"'

# --- JWKS ------------------------------------------------------------------------------------
st1=$(req jwks1 "$U/.well-known/jwks.json")
st2=$(req jwks2 "$U/cdn-cgi/access/certs")
t_check "JWKS at both paths (200, $st1 $st2), the same document" \
	eval '[ "$st1" = 200 ] && [ "$st2" = 200 ] && cmp -s "$T_DIR/jwks1.b" "$T_DIR/jwks2.b"'
t_check "JWKS: Cache-Control public, max-age=300" hdr jwks1 Cache-Control 'public, max-age=300'
t_check "JWKS: an EC P-256 ES256 key" eval 'grep -q "\"crv\":\"P-256\"" "$T_DIR/jwks1.b" &&
	grep -q "\"alg\":\"ES256\"" "$T_DIR/jwks1.b"'

# --- device flow -----------------------------------------------------------------------------
st=$(req dc -d client_id=other "$U/oauth/device/code")
t_check "device code for another client: 400 invalid_client" \
	eval '[ "$st" = 400 ] && [ "$(json dc error)" = invalid_client ]'
st=$(req dc -d client_id=zt "$U/oauth/device/code")
DC=$(json dc device_code)
UC=$(json dc user_code)
t_check "device code: 200, a 43-char device_code, user code XXXX-XXXX of consonants" \
	eval '[ "$st" = 200 ] && [ ${#DC} = 43 ] && echo "$UC" | grep -Eqx "[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}"'
t_check "device code: verification_uri, expires_in 600, interval 5, no-store" \
	eval '[ "$(json dc verification_uri)" = "$U/device" ] &&
	[ "$(json dc verification_uri_complete)" = "$U/device?user_code=$UC" ] &&
	[ "$(json dc expires_in)" = 600 ] && [ "$(json dc interval)" = 5 ] && hdr dc Cache-Control no-store'
st=$(req p1 -d "$POLL&device_code=$DC" "$U/oauth/token")
t_check "poll: 400 authorization_pending" \
	eval '[ "$st" = 400 ] && [ "$(json p1 error)" = authorization_pending ]'
st=$(req p2 -d "$POLL&device_code=$DC" "$U/oauth/token")
t_check "poll too fast: 400 slow_down" eval '[ "$st" = 400 ] && [ "$(json p2 error)" = slow_down ]'
st=$(req p3 -d "$POLL&device_code=nope" "$U/oauth/token")
t_check "unknown device code: invalid_grant" eval '[ "$(json p3 error)" = invalid_grant ]'
st=$(req p4 -d "grant_type=password&client_id=zt&device_code=$DC" "$U/oauth/token")
t_check "another grant: unsupported_grant_type" \
	eval '[ "$st" = 400 ] && [ "$(json p4 error)" = unsupported_grant_type ]'

# Sign in: the form, wrong CSRF, wrong password, then right.
req l0 -c "$JAR" -b "$JAR" "$U/login?next=/device" >/dev/null
CSRF=$(form_csrf l0)
t_check "/login keeps next in the form" grep -q 'name="next" value="/device"' "$T_DIR/l0.b"
st=$(req l1 -c "$JAR" -b "$JAR" --data-urlencode email=alice@example.com \
    --data-urlencode "password@$PW" -d csrf=wrong "$U/login")
t_check "sign-in with a wrong CSRF token: 403" test "$st" = 403
st=$(req l1b -c "$JAR" -b "$JAR" --data-urlencode email=alice@example.com \
    --data-urlencode "password@$PW" "$U/login")
t_check "sign-in without a CSRF token: 403" test "$st" = 403
st=$(req l2 -c "$JAR" -b "$JAR" -d email=alice@example.com -d password=wrongwrong \
    -d "csrf=$CSRF" -d next=/device "$U/login")
t_check "wrong password: 401, the form again, never which" \
	eval '[ "$st" = 401 ] && grep -q "Wrong email, password or code" "$T_DIR/l2.b"'
t_check "wrong password: audited" zn_audit '"event":"login"' '"decision":"deny"' \
	'"identity":"email:alice@example.com"' '"from":"127.0.0.1'
st=$(req l3 -c "$JAR" -b "$JAR" -d email=ALICE@example.com --data-urlencode "password@$PW" \
    -d "csrf=$CSRF" -d next=/device "$U/login")
t_check "sign-in: 303 to next" eval '[ "$st" = 303 ] && hdr l3 Location /device'
t_check "sign-in: __Host-zt_session HttpOnly; Secure; SameSite=Lax; Path=/" \
	hdr l3 Set-Cookie '__Host-zt_session=[A-Za-z0-9_-]\{43\}; Max-Age=86400; HttpOnly; Secure; SameSite=Lax; Path=/'
t_check "sign-in: audited" zn_audit '"event":"login"' '"decision":"allow"' \
	'"identity":"email:alice@example.com"'

# Approve: the page shows the code; wrong CSRF 403; approve; poll hands the token out once.
lower=$(echo "$UC" | tr 'A-Z' 'a-z' | tr -d -)
st=$(req d1 -b "$JAR" "$U/device?user_code=$lower")
SCSRF=$(form_csrf d1)
t_check "device page: the code typed in lower case without dash is found" \
	eval '[ "$st" = 200 ] && grep -q "$UC" "$T_DIR/d1.b" && grep -q "value=\"approve\"" "$T_DIR/d1.b"'
st=$(req d2 -b "$JAR" -d "user_code=$UC" -d action=approve -d csrf=x "$U/device")
t_check "approve with a wrong CSRF token: 403" test "$st" = 403
sleep 10	# the interval is 10 s since slow_down
st=$(req d3 -b "$JAR" -d "user_code=$UC" -d action=approve -d "csrf=$SCSRF" "$U/device")
t_check "approve: 200" test "$st" = 200
t_check "approval audited" zn_audit '"event":"device"' '"decision":"allow"' \
	'"identity":"email:alice@example.com"'
st=$(req p5 -d "$POLL&device_code=$DC" "$U/oauth/token")
TOKEN=$(json p5 access_token)
t_check "poll after approval: 200, Bearer, expires_in 86400" \
	eval '[ "$st" = 200 ] && [ "$(json p5 token_type)" = Bearer ] && [ "$(json p5 expires_in)" = 86400 ] && [ -n "$TOKEN" ]'
st=$(req p6 -d "$POLL&device_code=$DC" "$U/oauth/token")
t_check "the token is handed out once: invalid_grant after" \
	eval '[ "$st" = 400 ] && [ "$(json p6 error)" = invalid_grant ]'

# The login token verifies with python3-jwt against the published JWKS.
printf '%s' "$TOKEN" >"$ZN_SECRETS/token"
t_check "python3-jwt verifies the login token against the JWKS (aud = iss = issuer)" \
	"$ZN_PY" - "$T_DIR/jwks1.b" "$ZN_SECRETS/token" "$U" <<'EOF'
import json, sys, jwt
keys = json.load(open(sys.argv[1]))["keys"]
tok = open(sys.argv[2]).read()
kid = jwt.get_unverified_header(tok)["kid"]
key = jwt.algorithms.ECAlgorithm.from_jwk(json.dumps([k for k in keys if k["kid"] == kid][0]))
c = jwt.decode(tok, key, algorithms=["ES256"], audience=sys.argv[3], issuer=sys.argv[3])
assert c["sub"] == c["email"] == "alice@example.com", c
assert c["groups"] == ["dev"] and c["type"] == "user", c
assert c["exp"] - c["iat"] == 86400 and c["nbf"] == c["iat"], c
assert c["iat"] - 30 <= c["auth_time"] <= c["iat"], c
assert len(c["jti"]) == 22, c
EOF

# Deny.
st=$(req dc2 -d client_id=zt "$U/oauth/device/code")
DC2=$(json dc2 device_code)
UC2=$(json dc2 user_code)
st=$(req d4 -b "$JAR" -d "user_code=$UC2" -d action=deny -d "csrf=$SCSRF" "$U/device")
st=$(req p7 -d "$POLL&device_code=$DC2" "$U/oauth/token")
t_check "denied on the page: access_denied" \
	eval '[ "$st" = 400 ] && [ "$(json p7 error)" = access_denied ]'
t_check "denial audited" zn_audit '"event":"device"' '"decision":"deny"'

# --- app tokens ------------------------------------------------------------------------------
st=$(req a1 -H "Authorization: Bearer $TOKEN" -d app=dev.test "$U/token/app")
APP=$(json a1 token)
t_check "/token/app for dev.test (allow group:dev): 200 with a token" \
	eval '[ "$st" = 200 ] && [ -n "$APP" ]'
printf '%s' "$APP" >"$ZN_SECRETS/app"
t_check "the app token verifies with aud dev.test" "$ZN_PY" - "$T_DIR/jwks1.b" \
	"$ZN_SECRETS/app" "$U" <<'EOF'
import json, sys, jwt
keys = jwt.PyJWKSet.from_dict(json.load(open(sys.argv[1])))
tok = open(sys.argv[2]).read()
key = [k for k in keys.keys if k.key_id == jwt.get_unverified_header(tok)["kid"]][0]
c = jwt.decode(tok, key.key, algorithms=["ES256"], audience="dev.test", issuer=sys.argv[3])
assert c["email"] == "alice@example.com" and c["groups"] == ["dev"], c
EOF
st=$(req a2 -H "Authorization: Bearer $TOKEN" -d app=ops.test "$U/token/app")
t_check "/token/app for ops.test (allow group:ops): 403 access_denied" \
	eval '[ "$st" = 403 ] && [ "$(json a2 error)" = access_denied ]'
st=$(req a3 -H "Authorization: Bearer $TOKEN" -d app=mail.test "$U/token/app")
t_check "/token/app for mail.test (excluded by ip:127.0.0.0/8): 403" test "$st" = 403
st=$(req a4 -H "Authorization: Bearer $TOKEN" -d app=nope.test "$U/token/app")
t_check "/token/app for an unknown app: 404 unknown_app" \
	eval '[ "$st" = 404 ] && [ "$(json a4 error)" = unknown_app ]'
st=$(req a5 -H "Authorization: Bearer x$TOKEN" -d app=dev.test "$U/token/app")
t_check "/token/app with a bad login token: 401 invalid_token" \
	eval '[ "$st" = 401 ] && [ "$(json a5 error)" = invalid_token ]'
st=$(req a6 -H "Authorization: Bearer $APP" -d app=dev.test "$U/token/app")
t_check "/token/app with an app token as login: 401" test "$st" = 401
st=$(req r1 --data-urlencode "token@$ZN_SECRETS/token" "$U/oauth/revoke")
t_check "/oauth/revoke: 200, DIR/revoked/JTI 0600" \
	eval '[ "$st" = 200 ] && [ "$(stat -c %a "$ZN_STATE"/revoked/* 2>/dev/null)" = 600 ]'
sleep 1
st=$(req a7 -H "Authorization: Bearer $TOKEN" -d app=dev.test "$U/token/app")
t_check "/token/app after revocation: 401 (revoked)" \
	eval '[ "$st" = 401 ] && grep -q revoked "$T_DIR/a7.b"'
st=$(req r2 -d token=garbage "$U/oauth/revoke")
t_check "/oauth/revoke of garbage: 200 all the same" test "$st" = 200

# --- rate limit ------------------------------------------------------------------------------
req l4 -c "$JAR.2" -b "$JAR.2" "$U/login" >/dev/null
C2=$(form_csrf l4)
st=
for i in 1 2 3 4 5 6 7; do
	st="$st $(req l5 -c "$JAR.2" -b "$JAR.2" -d email=alice@example.com -d password=badbadbad \
	    -d "csrf=$C2" "$U/login")"
done
t_check "repeated failures: 401s, then 429 with Retry-After ($st)" \
	eval 'echo "$st" | grep -q "^ 401 401 401 401.* 429" && hdr l5 Retry-After "[0-9]"'

# --- HTTP abuse ------------------------------------------------------------------------------
# raw NAME: sends $T_DIR/NAME.req over TLS, the answer in $T_DIR/NAME.out.
raw() {
	timeout 15 openssl s_client -quiet -connect "127.0.0.1:$ZN_EDGE_PORT" -servername edge.test \
	    -CAfile "$CA" -alpn http/1.1 <"$T_DIR/$1.req" >"$T_DIR/$1.out" 2>"$T_DIR/$1.err"
}
status() {
	head -1 "$T_DIR/$1.out" | cut -d ' ' -f 2
}
printf 'POST /oauth/token HTTP/1.1\r\nHost: e\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc' >"$T_DIR/dup.req"
printf 'POST /oauth/token HTTP/1.1\r\nHost: e\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' >"$T_DIR/chunked.req"
printf 'POST /oauth/token HTTP/1.1\r\nHost: e\r\nContent-Length: 16385\r\n\r\n' >"$T_DIR/big.req"
printf 'GET / HTTP/1.1\r\nHost: e\r\nX: a\r\n b\r\n\r\n' >"$T_DIR/fold.req"
for k in dup:400 chunked:400 big:413 fold:400; do
	raw "${k%%:*}"
	t_check "${k%%:*}: ${k#*:} ($(status "${k%%:*}"))" test "$(status "${k%%:*}")" = "${k#*:}"
done
# No ALPN is the web side too; h2 alone is refused in the handshake.
printf 'GET /static/zt.css HTTP/1.1\r\nHost: e\r\nConnection: close\r\n\r\n' >"$T_DIR/noalpn.req"
timeout 15 openssl s_client -quiet -connect "127.0.0.1:$ZN_EDGE_PORT" -CAfile "$CA" \
    <"$T_DIR/noalpn.req" >"$T_DIR/noalpn.out" 2>"$T_DIR/noalpn.err"
t_check "TLS without ALPN: served HTTP" test "$(status noalpn)" = 200
# A half head is closed after 10 s (Slowloris), with no answer.
took=$("$ZN_PY" - "$ZN_EDGE_PORT" "$CA" <<'EOF'
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.set_alpn_protocols(["http/1.1"])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))),
    server_hostname="edge.test")
s.settimeout(20)
s.sendall(b"GET / HTTP/1.1\r\nHo")
t0 = time.monotonic()
got = b""
try:
    while True:
        b = s.recv(4096)
        if not b:
            break
        got += b
except (ssl.SSLError, OSError):
    pass
print("%d %s" % (round(time.monotonic() - t0), "answered" if got else "silent"))
EOF
)
t_check "a half head: closed after the 10 s head timeout, no answer ($took)" \
	eval 'case "$took" in 10\ silent|11\ silent) true ;; *) false ;; esac'
t_check "the edge still runs" zn_alive edge
zn_check_secrets 2>/dev/null || true
t_check "no password or token in the logs" eval '! grep -q -F "correct horse" "$T_DIR/edge.log" "$ZN_AUDIT" &&
	! grep -q -F "$TOKEN" "$T_DIR/edge.log" "$ZN_AUDIT"'
t_done
