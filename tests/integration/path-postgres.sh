#!/bin/sh
# path-postgres: the seed's first flow with a real PostgreSQL: psql and pgbench reach a cluster
# through sidecar -> edge -> connector (ARCHITECTURE.md, "Machine to machine"), and see what
# a direct connection sees.
. "${top_srcdir:-.}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/zt-net.sh"
t_need psql pgbench

# The server's programs: pg_config's, Debian's versioned directory, or PATH.
PGBIN=""
for d in "$(pg_config --bindir 2>/dev/null)" /usr/lib/postgresql/*/bin \
    "$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)")"; do
	if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
		PGBIN=$d
		break
	fi
done
if [ -z "$PGBIN" ]; then
	t_skip "the PostgreSQL server (initdb, pg_ctl, postgres) is not installed"
fi
# The server refuses to run as root: as root, run it as the user postgres.
if [ "$(id -u)" -eq 0 ]; then
	t_need setpriv
	if ! id postgres >/dev/null 2>&1; then
		t_skip "running as root and there is no user postgres to run the server"
	fi
	as_pg() {
		setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
	}
else
	as_pg() {
		"$@"
	}
fi

zn_init
export PGSSLMODE=disable PGCONNECT_TIMEOUT=10 PGUSER=postgres PGDATABASE=postgres
unset PGPASSWORD PGHOST PGPORT PGSERVICE

# --- the cluster: trust authentication, its socket in the temporary directory ----------------
PGPORT_DIRECT=$(zn_free_port)
PG=$T_DIR/pg
chmod 711 "$T_DIR"
mkdir "$PG" || exit 99
[ "$(id -u)" -ne 0 ] || chown postgres "$PG"
if ! as_pg "$PGBIN/initdb" -D "$PG/data" -U postgres --auth=trust -E UTF8 --no-locale \
    --no-sync >"$T_DIR/initdb.log" 2>&1; then
	cat "$T_DIR/initdb.log" >&2
	echo "FAIL: initdb" >&2
	exit 99
fi
zn_atexit "as_pg '$PGBIN/pg_ctl' -D '$PG/data' -m immediate -s stop >/dev/null 2>&1"
if ! as_pg "$PGBIN/pg_ctl" -D "$PG/data" -l "$PG/server.log" -w -t 60 -s \
    -o "-c listen_addresses=127.0.0.1 -p $PGPORT_DIRECT -k $PG -c fsync=off \
    -c synchronous_commit=off -c full_page_writes=off -c max_connections=40" start; then
	cat "$PG/server.log" >&2
	echo "FAIL: the PostgreSQL server did not start" >&2
	exit 99
fi
t_check "psql reaches the cluster directly" \
	test "$(psql -h 127.0.0.1 -p "$PGPORT_DIRECT" -Atc 'select 6 * 7' 2>&1)" = 42

# --- the network -----------------------------------------------------------------------------
zn_edge_init
zn_app db.test db "allow token:ci"
zn_tunnel_create db
zn_token_create ci
zn_edge_start
zn_connector conn db db.test "tcp://127.0.0.1:$PGPORT_DIRECT"
t_check "the connector registers its 4 connections" zn_connector_wait conn 4
zn_sidecar side ci db.test
t_check "the sidecar opens its port" zn_sidecar_wait side
P=$(zn_port side)

# pq ARGS...: psql through the sidecar.
pq() {
	psql -h 127.0.0.1 -p "$P" -X -At "$@"
}

t_run pq -c 'select 6 * 7'
t_check "psql through the sidecar: select 6 * 7 is 42" test "$(cat "$T_DIR/out")" = 42
t_run pq -c "select current_user || '@' || inet_server_addr() || ':' || inet_server_port()"
t_check "the session ends at the cluster's own address (the connector dialled it)" \
	test "$(cat "$T_DIR/out")" = "postgres@127.0.0.1/32:$PGPORT_DIRECT"
t_check "the audit log allowed the stream for token ci" \
	zn_audit '"event":"stream"' '"decision":"allow"' '"app":"db.test"' '"identity":"token:ci"'

# A result of several MiB is the same through the path and directly.
Q="copy (select g, md5(g::text) from generate_series(1, 200000) g) to stdout"
psql -h 127.0.0.1 -p "$PGPORT_DIRECT" -X -At -c "$Q" | sha256sum >"$T_DIR/copy.direct"
pq -c "$Q" | sha256sum >"$T_DIR/copy.path"
t_check "a 7 MiB COPY result is identical through the path" \
	cmp -s "$T_DIR/copy.direct" "$T_DIR/copy.path"
# And data sent the other way (COPY FROM) arrives intact.
pq -c 'create table blob (g int, h text)' >/dev/null
psql -h 127.0.0.1 -p "$PGPORT_DIRECT" -X -At -c "$Q" | pq -c 'copy blob from stdin' \
	>"$T_DIR/copyin.out" 2>&1
t_run psql -h 127.0.0.1 -p "$PGPORT_DIRECT" -X -At \
	-c "select count(*), md5(string_agg(h, ',' order by g)) from blob"
psql -h 127.0.0.1 -p "$PGPORT_DIRECT" -X -At -c "select 200000, md5(string_agg(md5(g::text), \
	',' order by g)) from generate_series(1, 200000) g" >"$T_DIR/copyin.want"
t_check "200000 rows sent with COPY FROM through the path arrive intact" \
	cmp -s "$T_DIR/out" "$T_DIR/copyin.want"

# --- pgbench ---------------------------------------------------------------------------------
t_run pgbench -h 127.0.0.1 -p "$P" -i -s 2 -q
t_check "pgbench -i through the sidecar succeeds" test "$T_RC" -eq 0
[ "$T_RC" -eq 0 ] || cat "$T_DIR/err" >&2
t_run pgbench -h 127.0.0.1 -p "$P" -c 8 -j 2 -T 10 -n
cp "$T_DIR/out" "$T_DIR/pgbench.out"
cp "$T_DIR/err" "$T_DIR/pgbench.err"
cat "$T_DIR/pgbench.out"
t_check "pgbench -c 8 -j 2 -T 10 through the sidecar exits 0" test "$T_RC" -eq 0
t_check "... with 0 failed transactions" \
	t_contains "$T_DIR/pgbench.out" '^number of failed transactions: 0 '
t_check "... and a tps figure" t_contains "$T_DIR/pgbench.out" '^tps = [0-9.]* '
t_check "... and no error on its standard error" \
	eval '! grep -qi "error\|fatal\|abort" "$T_DIR/pgbench.err"'
# pgbench -n skips the vacuum; each client had its own connection, each a stream.
t_check "8 pgbench clients were 8 more streams (the audit log has at least 12)" \
	test "$(zn_audit_count '"event":"stream"' '"decision":"allow"')" -ge 12

# The data written through the path is the cluster's.
t_run psql -h 127.0.0.1 -p "$PGPORT_DIRECT" -X -At -c 'select count(*) from pgbench_accounts'
t_check "pgbench's tables are in the cluster (200000 accounts)" \
	test "$(cat "$T_DIR/out")" = 200000

t_check "the edge, the connector and the sidecar are still running" \
	eval 'zn_alive edge && zn_alive conn && zn_alive side'
t_check "the sidecar logged no refused or failed connection" \
	eval '! grep -q "refused\|ended: " "$T_DIR/side.log"'
t_check "no secret in the logs or command lines" zn_check_secrets
t_done
