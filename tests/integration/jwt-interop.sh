#!/bin/sh
# jwt-interop: tokens zt signs verify with Debian's python3-jwt (PyJWT) against the JWKS zt
# publishes, before and after `zt edge rotate-keys`; tokens PyJWT signs with a key it made (its
# PKCS#8 PEM in the edge's keys/) verify with zt; `zt edge keys` lists what rotation did.
. "${top_srcdir:-.}/tests/integration/lib.sh"
t_init
PY=/usr/bin/python3
[ -x "$PY" ] && "$PY" -c 'import jwt, cryptography' 2>/dev/null || {
	t_skip "python3-jwt is not installed"
}
ZTJWT=$top_builddir/tests/net/ztjwt
[ -x "$ZTJWT" ] || ${MAKE:-make} -C "$top_builddir" tests/net/ztjwt >/dev/null || exit 99

ISS=https://edge.test:7844
"$ZT" edge init "$T_DIR/edge" --name edge.test >/dev/null 2>&1 || exit 99
S=$T_DIR/edge/state
INI=$T_DIR/edge/edge.ini
NOW=$(date +%s)

# pyverify TOKENFILE JWKSFILE AUD: PyJWT checks the token with the key of its kid.
pyverify() {
	"$PY" - "$1" "$2" "$ISS" "$3" <<'PYEOF'
import json, sys, jwt
from jwt.algorithms import ECAlgorithm
tok = open(sys.argv[1]).read().strip()
keys = json.load(open(sys.argv[2]))["keys"]
kid = jwt.get_unverified_header(tok)["kid"]
jwk = [k for k in keys if k["kid"] == kid]
assert len(jwk) == 1, "kid %s not in the JWKS" % kid
for k in jwk:
	assert k["kty"] == "EC" and k["crv"] == "P-256" and k["alg"] == "ES256" and k["use"] == "sig"
c = jwt.decode(tok, ECAlgorithm.from_jwk(json.dumps(jwk[0])), algorithms=["ES256"],
	audience=sys.argv[4], issuer=sys.argv[3])
print(json.dumps(c, sort_keys=True))
PYEOF
}

pyok() {
	pyverify "$@" >/dev/null
}

claims() {
	printf '{"iss":"%s","sub":"alice@example.com","aud":"%s","type":"user","email":"alice@example.com","groups":["dev","ops"],"auth_time":%s}\n' \
		"$ISS" "$1" "$NOW"
}

# --- zt signs, PyJWT verifies ------------------------------------------------------------
t_check "zt edge init made one current key" \
	sh -c "'$ZT' edge keys -c '$INI' | grep -c ' yes\$' | grep -qx 1"
claims "$ISS" | "$ZTJWT" sign "$S" >"$T_DIR/t1" || t_fail "ztjwt sign"
"$ZTJWT" jwks "$S" >"$T_DIR/jwks1" || t_fail "ztjwt jwks"
if pyverify "$T_DIR/t1" "$T_DIR/jwks1" "$ISS" >"$T_DIR/py1" 2>"$T_DIR/py1.err"; then
	t_check "PyJWT sees the groups zt signed" grep -q '"groups": \["dev", "ops"\]' "$T_DIR/py1"
else
	cat "$T_DIR/py1.err" >&2
	t_fail "PyJWT verifies a token zt signed"
fi
t_check "PyJWT refuses it for another audience" \
	eval "! pyverify '$T_DIR/t1' '$T_DIR/jwks1' app.test >/dev/null 2>&1"

# --- rotation: the old key keeps verifying while published --------------------------------
t_run "$ZT" edge rotate-keys -c "$INI"
t_check "rotate-keys succeeds" test "$T_RC" -eq 0
t_check "rotate-keys names the new key" t_contains "$T_DIR/out" "New signing key"
t_check "... and says the old one stays 24h1m: the default session_duration, plus 1m leeway" \
	t_contains "$T_DIR/out" "stays published for 24h1m, until .*: a login lives 24h ($(
	    )\\[identity\\] session_duration in $INI), plus 1m of clock leeway\\.$"
"$ZT" edge keys -c "$INI" >"$T_DIR/keys" 2>&1
t_check "zt edge keys lists two keys, one current" \
	sh -c "[ \$(grep -c ' yes\$' '$T_DIR/keys') -eq 1 ] && [ \$(grep -c ' no\$' '$T_DIR/keys') -eq 1 ]"
# expires_after KEYS KID SECONDS: in `zt edge keys` output KEYS, key KID (default: the only
# retired one) expires SECONDS after its retirement.
expires_after() {
	"$PY" - "$@" <<'PYEOF'
import sys, datetime as d
rows = [l.split() for l in open(sys.argv[1]).read().split("\n")[1:] if l.strip()]
kid, secs = sys.argv[2], int(sys.argv[3])
r = [x for x in rows if x[4] == "no" and (kid == "-" or x[0] == kid)]
assert len(r) == 1, rows
p = lambda s: d.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")
got = (p(r[0][3]) - p(r[0][2])).total_seconds()
if got != secs:
    sys.exit("%s: expires %d s after its retirement, not %d" % (r[0][0], got, secs))
PYEOF
}
t_check "the retired key expires 24 h and the 60 s leeway after its retirement" \
	expires_after "$T_DIR/keys" - $((24 * 3600 + 60))
claims app.test | "$ZTJWT" sign "$S" >"$T_DIR/t2" || t_fail "ztjwt sign after rotation"
"$ZTJWT" jwks "$S" >"$T_DIR/jwks2"
t_check "the JWKS publishes both keys" \
	"$PY" -c 'import json,sys; sys.exit(len(json.load(open(sys.argv[1]))["keys"]) != 2)' "$T_DIR/jwks2"
t_check "PyJWT verifies the token of the retired key" pyok "$T_DIR/t1" "$T_DIR/jwks2" "$ISS"
t_check "PyJWT verifies the token of the new key" pyok "$T_DIR/t2" "$T_DIR/jwks2" app.test
t_check "zt verifies the token of the retired key" \
	sh -c "'$ZTJWT' verify '$T_DIR/jwks2' '$ISS' '$ISS' <'$T_DIR/t1' >/dev/null"
t_check "the new token carries the new kid" "$PY" -c '
import jwt, sys
a = jwt.get_unverified_header(open(sys.argv[1]).read().strip())["kid"]
b = jwt.get_unverified_header(open(sys.argv[2]).read().strip())["kid"]
sys.exit(a == b)' "$T_DIR/t1" "$T_DIR/t2"

# [identity] session_duration of edge.ini sets how long the next retired key stays published.
printf '\n[identity]\nsession_duration = 2h\n' >>"$INI"
CUR=$(awk '$5 == "yes" { print $1 }' "$T_DIR/keys")
t_run "$ZT" edge rotate-keys -c "$INI"
t_check "rotate-keys with session_duration = 2h succeeds" test "$T_RC" -eq 0
t_check "... saying the old key stays 2h1m: a login lives 2h, plus 1m leeway" \
	t_contains "$T_DIR/out" "stays published for 2h1m, until .*: a login lives 2h ($(
	    )\\[identity\\] session_duration in $INI), plus 1m of clock leeway\\.$"
"$ZT" edge keys -c "$INI" >"$T_DIR/keys2" 2>&1
t_check "the key it retired expires 2 h and 60 s after its retirement" \
	expires_after "$T_DIR/keys2" "$CUR" $((2 * 3600 + 60))
EXP=$(awk -v k="$CUR" '$1 == k { print $4 }' "$T_DIR/keys2")
t_check "... the time rotate-keys printed ($EXP)" t_contains "$T_DIR/out" "until $EXP, "
t_check "the key retired before still expires 24 h and 60 s after its retirement" \
	expires_after "$T_DIR/keys2" "$(awk '$5 == "no" { print $1 }' "$T_DIR/keys")" \
	$((24 * 3600 + 60))
t_check "the JWKS publishes the three keys" \
	sh -c "'$ZTJWT' jwks '$S' | grep -o '\"kid\"' | wc -l | grep -qx 3"
# A session shorter than an app token (5 min): the key stays as long as the app tokens.
sed -i 's/^session_duration = 2h$/session_duration = 1m/' "$INI"
CUR=$(awk '$5 == "yes" { print $1 }' "$T_DIR/keys2")
t_run "$ZT" edge rotate-keys -c "$INI"
t_check "with session_duration = 1m the old key stays 6m: an app token lives 5m, plus 1m" \
	t_contains "$T_DIR/out" "stays published for 6m, until .*: an app token lives 5m"
"$ZT" edge keys -c "$INI" >"$T_DIR/keys3" 2>&1
t_check "... and expires 6 min after its retirement" expires_after "$T_DIR/keys3" "$CUR" 360
# An edge.ini with an error: rotate-keys names it and makes no key.
sed -i 's/^session_duration = 1m$/session_duration = 30s/' "$INI"
n=$(ls "$S/keys" | wc -l)
t_run "$ZT" edge rotate-keys -c "$INI"
t_check "rotate-keys refuses an edge.ini with an error, naming the setting" \
	sh -c "[ $T_RC -eq 1 ] && grep -q 'session_duration must be between 1m' '$T_DIR/err'"
t_check "... and makes no key" test "$(ls "$S/keys" | wc -l)" -eq "$n"
sed -i 's/^session_duration = 30s$/session_duration = 2h/' "$INI"

# Refusals of the CLI: a key file others may read, an edge.ini that does not exist.
K=$(ls "$S/keys" | head -1)
chmod 644 "$S/keys/$K"
t_run "$ZT" edge keys -c "$INI"
t_check "zt edge keys refuses a key file others may read ($(cat "$T_DIR/err"))" \
	sh -c "[ $T_RC -eq 1 ] && grep -q 'run .chmod 600 $S/keys/$K' '$T_DIR/err'"
t_run "$ZT" edge rotate-keys -c "$INI"
t_check "zt edge rotate-keys refuses it too" test "$T_RC" -eq 1
chmod 600 "$S/keys/$K"
t_run "$ZT" edge keys -c "$T_DIR/nonexistent.ini"
t_check "zt edge keys names a missing edge.ini" \
	sh -c "[ $T_RC -ne 0 ] && grep -q 'nonexistent.ini' '$T_DIR/err'"
t_run "$ZT" edge keys extra -c "$INI"
t_check "zt edge keys refuses extra arguments" test "$T_RC" -eq 2

# --- PyJWT signs with its own key, zt verifies --------------------------------------------
P=$T_DIR/py
(umask 077 && mkdir -p "$P/keys") || exit 99
"$PY" - "$P" "$ISS" <<'PYEOF' || t_fail "PyJWT makes a key and a token"
import base64, json, os, sys, time, jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
d, iss = sys.argv[1], sys.argv[2]
key = ec.generate_private_key(ec.SECP256R1())
kid = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
	serialization.NoEncryption()).decode()
now = int(time.time())
created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
fd = os.open(os.path.join(d, "keys", kid), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, (pem + "zt-state = 1\nkid = %s\ncreated = %s\n" % (kid, created)).encode())
os.close(fd)
jti = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
claims = {"iss": iss, "sub": "0123456789abcdef0123456789abcdef.access", "aud": "db.test",
	"type": "service", "name": "ci", "iat": now, "nbf": now, "exp": now + 300, "jti": jti}
open(os.path.join(d, "token"), "w").write(jwt.encode(claims, key, algorithm="ES256",
	headers={"kid": kid, "typ": "JWT"}) + "\n")
open(os.path.join(d, "jwk"), "w").write(ECAlgorithm.to_jwk(key.public_key()))
PYEOF
"$ZTJWT" jwks "$P" >"$T_DIR/jwks3" 2>"$T_DIR/jwks3.err" || { cat "$T_DIR/jwks3.err" >&2; t_fail "zt reads the PEM PyJWT wrote"; }
t_check "zt's JWK of PyJWT's key has PyJWT's x and y" "$PY" -c '
import json, sys
a = json.load(open(sys.argv[1]))["keys"][0]
b = json.loads(open(sys.argv[2]).read())
sys.exit(not (a["x"] == b["x"] and a["y"] == b["y"]))' "$T_DIR/jwks3" "$P/jwk"
t_run "$ZTJWT" verify "$T_DIR/jwks3" "$ISS" db.test <"$P/token"
t_check "zt verifies a token PyJWT signed ($(cat "$T_DIR/out"))" test "$T_RC" -eq 0
t_check "zt reads PyJWT's claims" t_contains "$T_DIR/out" '"type":"service","name":"ci"'
# PyJWT's own JWK (not zt's) as the JWKS, for the parser.
"$PY" -c 'import json,sys; k=json.load(open(sys.argv[1])); print(json.dumps({"keys":[dict(k, kid=sys.argv[2])]}))' \
	"$P/jwk" "$(ls "$P/keys")" >"$T_DIR/jwks4"
t_run "$ZTJWT" verify "$T_DIR/jwks4" "$ISS" db.test <"$P/token"
t_check "zt verifies it with the JWK PyJWT exported" test "$T_RC" -eq 0
t_run "$ZTJWT" verify "$T_DIR/jwks2" "$ISS" db.test <"$P/token"
t_check "zt refuses it against the edge's keys" t_contains "$T_DIR/out" "refused: unknown key id"
# PyJWT with alg none (an unsigned token) is refused.
"$PY" -c 'import jwt,sys; print(jwt.encode({"iss":sys.argv[1]}, None, algorithm="none"))' "$ISS" >"$T_DIR/none"
t_run "$ZTJWT" verify "$T_DIR/jwks3" "$ISS" db.test <"$T_DIR/none"
t_check "zt refuses PyJWT's alg none ($(cat "$T_DIR/out"))" \
	sh -c "[ $T_RC -eq 1 ] && grep -q 'refused' '$T_DIR/out'"
t_done
