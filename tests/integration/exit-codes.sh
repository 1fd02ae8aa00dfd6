#!/bin/sh
# exit-codes: 0 ok, 1 runtime failure, 2 usage error, 78 (EX_CONFIG) for configuration errors in
# edge, tunnel, access and token; zt dns serve keeps dnsmasq's (dns-config.sh checks them).
# shellcheck disable=SC1091
. "${top_srcdir:-.}/tests/integration/lib.sh"
t_init

# rc WANT DESCRIPTION COMMAND...: the command exits WANT and says something on stderr.
rc() {
	want=$1 desc=$2
	shift 2
	t_run "$@"
	t_check "$desc: exit $want (got $T_RC)" eval '[ "$T_RC" -eq "$want" ] &&
	    { [ "$want" -eq 0 ] || [ -s "$T_DIR/err" ]; }'
}

E=$T_DIR/edge
"$ZT" edge init "$E" --name edge.test --listen 127.0.0.1:1 >/dev/null 2>&1 || exit 99
printf '[edge]\nname = edge.test\nbogus_key = 1\n' >"$T_DIR/broken.ini"
chmod 600 "$T_DIR/broken.ini"
rc 78 "zt edge check with an unknown key" "$ZT" edge check -c "$T_DIR/broken.ini"
rc 78 "zt edge serve with an unknown key" "$ZT" edge serve -c "$T_DIR/broken.ini"
rc 78 "zt edge serve with a missing edge.ini" "$ZT" edge serve -c "$T_DIR/none.ini"
rc 0 "zt edge check with a good edge.ini" "$ZT" edge check -c "$E/edge.ini"
rc 78 "zt edge serve --metrics with a name instead of an address" \
	"$ZT" edge serve -c "$E/edge.ini" --metrics localhost:9090
t_check "... naming the flag and the value" grep -q 'metrics.*localhost:9090.*not a numeric address' "$T_DIR/err"
rc 2 "zt edge with an unknown command" "$ZT" edge bogus
rc 2 "zt edge ready without --metrics" "$ZT" edge ready
rc 78 "zt token list with a missing state directory" "$ZT" token list --state-dir "$T_DIR/none"
rc 78 "zt tunnel create with a broken edge.ini" "$ZT" tunnel create t -c "$T_DIR/broken.ini"

printf '[tunnel]\nha_connections = 99\n[ingress]\nrule = * hello\n' >"$T_DIR/t1.ini"
printf '[ingress]\nrule = a.test ftp://x\nrule = * http_status:404\n' >"$T_DIR/t2.ini"
rc 78 "zt tunnel run with a value out of range in tunnel.ini" "$ZT" tunnel run -c "$T_DIR/t1.ini"
t_check "... naming file, line and key" grep -q "t1.ini.*ha_connections" "$T_DIR/err"
rc 78 "zt tunnel ingress validate with a bad service" "$ZT" tunnel ingress validate -c "$T_DIR/t2.ini"
rc 78 "zt tunnel run with a bad rule" env ZT_TUNNEL_TOKEN=x "$ZT" tunnel run -c "$T_DIR/t2.ini"
rc 78 "zt tunnel run with a malformed token" env ZT_TUNNEL_TOKEN=garbage "$ZT" tunnel run \
	--hostname a.test --url tcp://127.0.0.1:1
rc 78 "zt tunnel run without a token" env -u ZT_TUNNEL_TOKEN -u TUNNEL_TOKEN "$ZT" tunnel run \
	--hostname a.test --url tcp://127.0.0.1:1
rc 2 "zt tunnel run --ha-connections 99" "$ZT" tunnel run --ha-connections 99
rc 2 "zt tunnel with an unknown command" "$ZT" tunnel bogus
rc 1 "zt tunnel ready with no connector" "$ZT" tunnel ready --status-file "$T_DIR/none.status"

ID=0123456789abcdef0123456789abcdef.access
(umask 077 && printf '%064d\n' 0 >"$T_DIR/secret")
rc 78 "zt access tcp with a bad hostname" "$ZT" access tcp --hostname 'bad_host!' --id "$ID" \
	--secret-file "$T_DIR/secret"
rc 78 "zt access tcp with a malformed secret" env ZT_ACCESS_CLIENT_SECRET=short "$ZT" access tcp \
	--hostname a.test --id "$ID"
rc 78 "zt access tcp with a bad --url" "$ZT" access tcp --hostname a.test --id "$ID" \
	--secret-file "$T_DIR/secret" --url nowhere
rc 78 "zt access tcp with a bad --metrics" "$ZT" access tcp --hostname a.test --id "$ID" \
	--secret-file "$T_DIR/secret" --url 127.0.0.1:1 --edge 127.0.0.1:1 --metrics 0
rc 2 "zt access tcp without --hostname" "$ZT" access tcp
rc 2 "zt access ready without --metrics" "$ZT" access ready
t_done
