#!/bin/sh
# browser-login: a person signs in with a real browser. `zt login` asks the edge for a device
# code and prints the verification URL; headless Chromium (Debian's, driven by playwright-core
# from tests/browser) opens it, is sent to the login page, signs in, approves the code, and
# `zt login` then stores a login that `zt access tcp` uses to reach an app its policy allows.
# Also in the browser: a wrong password, a wrong TOTP code, a form without its CSRF token.
. "${top_srcdir:-.}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/zt-net.sh"
t_need node chromium
zn_init
zn_build_ztio

BROWSER_DIR=$top_srcdir/tests/browser
if [ ! -d "$BROWSER_DIR/node_modules/playwright-core" ]; then
	echo "browser-login: playwright-core is missing: run sh contrib/debian-setup.sh deps" >&2
	exit 99
fi

zn_edge_init
zn_app data.test data "allow group:dev"
zn_tunnel_create data
export XDG_CONFIG_HOME=$T_DIR/config

# Two people: alice in group dev (no TOTP), carol enrolled in TOTP. Passwords go on stdin.
ALICE_PW="correct horse battery staple"
CAROL_PW="carol's long passphrase"
printf '%s\n' "$ALICE_PW" | "$ZT" edge user add alice@example.com --group dev -c "$ZN_EDGE_INI" \
    >"$T_DIR/user-add.out" 2>&1 || { cat "$T_DIR/user-add.out" >&2; exit 99; }
printf '%s\n' "$CAROL_PW" | "$ZT" edge user add carol@example.com -c "$ZN_EDGE_INI" \
    >>"$T_DIR/user-add.out" 2>&1 || { cat "$T_DIR/user-add.out" >&2; exit 99; }
"$ZT" edge user totp carol@example.com -c "$ZN_EDGE_INI" >"$T_DIR/totp.out" 2>&1 ||
    { cat "$T_DIR/totp.out" >&2; exit 99; }
CAROL_TOTP=$(sed -n 's/.*otpauth:[^ ]*[?&]secret=\([A-Z2-7]*\).*/\1/p' "$T_DIR/totp.out" | head -n 1)
[ -n "$CAROL_TOTP" ] || { cat "$T_DIR/totp.out" >&2; echo "no otpauth URI" >&2; exit 99; }

zn_edge_start
zn_origin origin
zn_connector conn data data.test "tcp://127.0.0.1:$(zn_port origin)"
t_check "the connector registers" zn_connector_wait conn

ORIGIN="https://edge.test:$ZN_EDGE_PORT"
SPKI=$(openssl x509 -in "$ZN_EDGE/edge.crt" -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | openssl base64 -A)

# zt login, in the background: it prints the URL and waits for the approval.
# It reaches the edge by address; the URL it prints is the issuer's, by name.
"$ZT" login "https://127.0.0.1:$ZN_EDGE_PORT" --edge-ca "$ZN_EDGE/ca.crt" \
    >"$T_DIR/login.out" 2>"$T_DIR/login.log" &
zn_remember login $!
verify_url() {
	VERIFY_URL=$(grep -o 'https://[^ ]*/device?user_code=[A-Z-]*' "$T_DIR/login.log" | head -n 1)
	[ -n "$VERIFY_URL" ]
}
t_check "zt login prints the verification URL with the code" t_wait verify_url 10
t_check "zt login never shows a secret" sh -c "! grep -q -i -E 'device_code|eyJ' '$T_DIR/login.log'"

ZT_CHROMIUM=$(command -v chromium) ZT_ORIGIN=$ORIGIN ZT_RESOLVE="edge.test 127.0.0.1" \
ZT_SPKI=$SPKI ZT_VERIFY_URL=$VERIFY_URL ZT_EMAIL=alice@example.com ZT_PASSWORD=$ALICE_PW \
ZT_TOTP_EMAIL=carol@example.com ZT_TOTP_PASSWORD=$CAROL_PW ZT_TOTP_SECRET=$CAROL_TOTP \
ZT_SHOTS=$T_DIR NODE_PATH=$BROWSER_DIR/node_modules \
    timeout 120 node "$BROWSER_DIR/login.mjs" >"$T_DIR/browser.out" 2>&1
browser_rc=$?
cat "$T_DIR/browser.out"
if [ "$browser_rc" -ne 0 ] || grep -q '^not ok' "$T_DIR/browser.out"; then
	t_fail "the browser's checks (exit $browser_rc)"
fi

zn_exited login 30
t_check "zt login succeeds once the browser approved (exit $ZN_RC)" [ "$ZN_RC" -eq 0 ]
"$ZT" login --status "https://127.0.0.1:$ZN_EDGE_PORT" >"$T_DIR/status.out" 2>&1
t_check "zt login --status names alice" grep -q alice@example.com "$T_DIR/status.out"
t_check "the login file is 0600" [ "$(stat -c %a "$XDG_CONFIG_HOME/zt/logins.json")" = 600 ]

# The login reaches the app its policy allows for group dev.
zn_sidecar_login() {
	"$ZT" access tcp --hostname data.test --url "127.0.0.1:$1" --edge "127.0.0.1:$ZN_EDGE_PORT" \
	    --log-level debug \
	    >"$T_DIR/side.log" 2>&1 &
	zn_remember side $!
}
P=$(zn_free_port)
zn_sidecar_login "$P"
t_check "the sidecar opens its port with the login" t_wait "zn_listening $P" 10
t_check "alice's stream is echoed" timeout 15 "$ZTIO" echo 127.0.0.1 "$P" 65536 3
t_check "the audit log names alice and the rule" zn_audit '"allow' 'alice@example.com' \
    'group:dev'
t_check "the browser saw the device page" [ -s "$T_DIR/device.png" ]
# ZT_KEEP_SHOTS=DIR keeps the screenshots (wrong-password, device, approved) for a look.
[ -n "${ZT_KEEP_SHOTS:-}" ] && mkdir -p "$ZT_KEEP_SHOTS" && cp "$T_DIR"/*.png "$ZT_KEEP_SHOTS/"
zn_check_secrets

t_done
