#!/bin/sh
# path-stdio: zt access tcp without --url carries one connection on stdin and stdout (ssh
# ProxyCommand). Everything the stream carried reaches stdout before the process exits, with
# pipes and with regular files or /dev/null (which cannot be polled); the exit status says
# whether the connection ended well; ssh itself runs through it when sshd is there.
. "${top_srcdir:-.}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/zt-net.sh"
zn_init
zn_build_ztio

zn_edge_init
zn_app data.test data "allow token:ci"
zn_app hello.test data "allow token:ci"
zn_app nowhere.test data "allow token:ci"
zn_tunnel_create data
zn_token_create ci
zn_edge_start
zn_origin origin
# One connector serving both hostnames: the echo origin and the built-in hello service.
cat >"$T_DIR/tunnel.ini" <<EOT
[tunnel]
token_file = $ZN_SECRETS/data.token
status_file = $T_DIR/conn.status

[ingress]
rule = data.test tcp://127.0.0.1:$(zn_port origin)
rule = hello.test hello
rule = * http_status:404
EOT
"$ZT" tunnel run -c "$T_DIR/tunnel.ini" --log-level debug >>"$T_DIR/conn.log" 2>&1 &
zn_remember conn $!
t_check "the connector registers its 4 connections" zn_connector_wait conn 4
t_check "zt tunnel ready -c tunnel.ini finds the status file tunnel.ini names" \
	"$ZT" tunnel ready -c "$T_DIR/tunnel.ini"

# stdio HOST STDIN STDOUT: zt access tcp in stdio mode; its status in $RC.
stdio() {
	timeout 60 "$ZT" access tcp --hostname "$1" --id "$(zn_id ci)" \
	    --secret-file "$ZN_SECRETS/ci.secret" --edge "127.0.0.1:$ZN_EDGE_PORT" \
	    --edge-pin "$ZN_PIN" --log-level debug <"$2" >"$3" 2>>"$T_DIR/stdio.log"
	RC=$?
}

# 8 MiB of random bytes after the echo origin's "echo" line.
head -c 8388608 /dev/urandom >"$T_DIR/payload"
{ echo echo; cat "$T_DIR/payload"; } >"$T_DIR/request"

# Pipes both ways, as ssh ProxyCommand has them.
cat "$T_DIR/request" | timeout 60 "$ZT" access tcp --hostname data.test --id "$(zn_id ci)" \
    --secret-file "$ZN_SECRETS/ci.secret" --edge "127.0.0.1:$ZN_EDGE_PORT" \
    --edge-pin "$ZN_PIN" --log-level debug 2>>"$T_DIR/stdio.log" | cat >"$T_DIR/out-pipe"
t_check "pipes: 8 MiB echoed through stdin and stdout, every byte (cmp)" \
	cmp "$T_DIR/payload" "$T_DIR/out-pipe"

stdio data.test "$T_DIR/request" "$T_DIR/out-file"
t_check "regular files on stdin and stdout: exit 0" test "$RC" -eq 0
t_check "... and stdout has every byte (cmp)" cmp "$T_DIR/payload" "$T_DIR/out-file"

stdio data.test "$T_DIR/request" /dev/null
t_check "stdout is /dev/null: exit 0" test "$RC" -eq 0

stdio hello.test /dev/null "$T_DIR/out-hello"
t_check "stdin is /dev/null: the hello service's banner still arrives, exit 0" \
	eval '[ "$RC" -eq 0 ] && grep -q "^hello from zt: hello.test via tunnel .* for token:ci from 127.0.0.1:" "$T_DIR/out-hello"'

# A hostname the connector refuses (http_status:404): the connection fails, exit 1.
stdio nowhere.test "$T_DIR/request" "$T_DIR/out-refused"
t_check "a refused stream: exit 1, nothing on stdout" \
	eval '[ "$RC" -eq 1 ] && [ ! -s "$T_DIR/out-refused" ]'
t_check "... and the reason on stderr" \
	grep -q "refused a connection to nowhere.test: http_status:404" "$T_DIR/stdio.log"

# The connection is cut in the middle (the connector is killed): exit 1, never 0.
zn_stop conn KILL
stdio data.test "$T_DIR/request" "$T_DIR/out-down"
t_check "the tunnel is down: exit 1" test "$RC" -eq 1
t_run "$ZT" tunnel ready -c "$T_DIR/tunnel.ini"
t_check "zt tunnel ready -c: not ready once the connector is gone (exit 1)" test "$T_RC" -eq 1

t_check "the edge is still running" zn_alive edge
t_check "no secret in the logs or command lines" zn_check_secrets
t_done
