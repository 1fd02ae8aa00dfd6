#!/bin/sh
# demo: `zt demo --check` passes its three checks; `zt demo` prints three commands that work as
# printed, and SIGINT stops every process and removes the directory; a process that fails,
# before or after the network is up, makes zt demo exit 1, saying which, and leave nothing.
. "${top_srcdir:-.}/tests/integration/lib.sh"
t_init
t_need timeout dig ps /usr/bin/python3
PY=/usr/bin/python3

# zt demo makes its directory under $TMPDIR: here, where the test can see what is left.
TMPD=$T_DIR/tmp
mkdir "$TMPD"
export TMPDIR="$TMPD"

# procs_in DIR: the pids of the processes whose command line names DIR.
procs_in() {
	for p in /proc/[0-9]*; do
		tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q -F -e "$1" && echo "${p#/proc/}"
	done
}

# demo_dir FILE: the directory zt demo said it works in.
demo_dir() {
	sed -n 's/^zt demo: starting .* in \(.*\)$/\1/p' "$1"
}

# nothing_left FILE WHAT: the directory named in FILE is gone and no process names it.
nothing_left() {
	d=$(demo_dir "$1")
	t_check "$2: zt demo named its directory" test -n "$d"
	[ -n "$d" ] || return
	t_check "$2: $d is removed" test ! -e "$d"
	left=$(procs_in "$d")
	t_check "$2: no process is left ($left)" test -z "$left"
}

# --- --check ---------------------------------------------------------------------------
t_run timeout 60 "$ZT" demo --check
cat "$T_DIR/out"
t_check "--check: status 0 (got $T_RC)" test "$T_RC" -eq 0
t_check "--check: three PASS lines" test "$(grep -c '^PASS ' "$T_DIR/out")" -eq 3
t_check "--check: no FAIL line" test "$(grep -c '^FAIL' "$T_DIR/out")" -eq 0
t_check "--check: the hello banner names the path" grep -q \
	'^PASS .*hello from zt: hello.demo.internal via tunnel [0-9a-f]*, for token:demo from 127.0.0.1:' \
	"$T_DIR/out"
t_check "--check: the intruder is refused by the policy" grep -q \
	'^PASS .*token intruder: the edge does not allow this token' "$T_DIR/out"
nothing_left "$T_DIR/out" "--check"

# --- zt demo, by hand ------------------------------------------------------------------
"$ZT" demo >"$T_DIR/demo.out" 2>"$T_DIR/demo.err" &
DEMO=$!
T_PIDS="$T_PIDS $DEMO"
if ! t_wait "grep -q 'Ctrl-C stops everything' '$T_DIR/demo.out'" 30; then
	cat "$T_DIR/demo.out" "$T_DIR/demo.err"
	t_fail "zt demo did not print what to try within 30 s"
	t_done
fi
cat "$T_DIR/demo.out"
D=$(demo_dir "$T_DIR/demo.out")
t_check "the directory $D exists, mode 700" test "$(stat -c %a "$D")" = 700
for f in demo.secret intruder.secret tunnel.token; do
	t_check "$f is mode 600" test "$(stat -c %a "$D/$f")" = 600
done
KIDS=$(ps -o pid= --ppid "$DEMO" | tr -d ' ' | tr '\n' ' ')
t_check "four processes run under zt demo ($KIDS)" test "$(echo $KIDS | wc -w)" -eq 4
for k in $KIDS; do
	args=$(tr '\0' ' ' <"/proc/$k/cmdline")
	case $args in
	"zt edge serve "* | "zt tunnel run "* | "zt dns serve "* | "zt access tcp "*) t_pass "$args" ;;
	*) t_fail "an unexpected child of zt demo: $args" ;;
	esac
	for f in demo.secret intruder.secret tunnel.token; do
		s=$(cat "$D/$f")
		t_check "the secret of $f is not on the command line of $k" \
			sh -c "! tr '\\0' '\\n' </proc/$k/cmdline | grep -q -F -e '$s'"
		t_check "the secret of $f is in no log" sh -c "! cat '$D'/*.log | grep -q -F -e '$s'"
	done
done

# The three commands, exactly as printed.
cmd() {
	sed -n "s/^  $1\\. //p" "$T_DIR/demo.out"
}
C1=$(cmd 1)
C2=$(cmd 2)
C3=$(cmd 3)
t_check "three commands printed" test -n "$C1" -a -n "$C2" -a -n "$C3"

timeout 15 sh -c "$C1" </dev/null >"$T_DIR/c1.out" 2>"$T_DIR/c1.err"
rc=$?
cat "$T_DIR/c1.out"
t_check "1. $C1: status 0 (got $rc)" test "$rc" -eq 0
t_check "1. the hello service answers through the sidecar" grep -q \
	'^hello from zt: hello.demo.internal via tunnel [0-9a-f]*, for token:demo from 127.0.0.1:' \
	"$T_DIR/c1.out"

timeout 15 sh -c "$C2" </dev/null >"$T_DIR/c2.out" 2>"$T_DIR/c2.err"
rc=$?
t_check "2. $C2: status 0 (got $rc)" test "$rc" -eq 0
t_check "2. NOERROR" grep -q 'status: NOERROR' "$T_DIR/c2.out"
t_check "2. hello.demo.internal is 127.0.0.1" \
	grep -Eq '^hello\.demo\.internal\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+A[[:space:]]+127\.0\.0\.1$' \
	"$T_DIR/c2.out"

timeout 15 sh -c "$C3" </dev/null >"$T_DIR/c3.out" 2>"$T_DIR/c3.err"
rc=$?
cat "$T_DIR/c3.err"
t_check "3. the refused token: status 1 (got $rc)" test "$rc" -eq 1
t_check "3. the edge does not allow it" grep -q 'does not allow this token to reach hello.demo.internal' \
	"$T_DIR/c3.err"
t_check "3. nothing came through" test ! -s "$T_DIR/c3.out"
t_check "the edge audited the refusal" grep -q '"deny"\|deny' "$D/edge/audit.log"

kill -INT "$DEMO"
if t_wait "! kill -0 $DEMO 2>/dev/null" 20; then
	wait "$DEMO"
	rc=$?
	t_check "SIGINT: zt demo exits 0 (got $rc)" test "$rc" -eq 0
else
	t_fail "zt demo still runs 20 s after SIGINT"
fi
for k in $KIDS; do
	t_check "SIGINT: process $k is gone" sh -c "! kill -0 $k 2>/dev/null"
done
nothing_left "$T_DIR/demo.out" "SIGINT"

# --- a process that dies while the demo runs --------------------------------------------
# Without nc on its PATH, zt demo offers bash's /dev/tcp for the first command.
PATH=/nonexistent "$ZT" demo >"$T_DIR/die.out" 2>"$T_DIR/die.err" &
DEMO=$!
T_PIDS="$T_PIDS $DEMO"
if t_wait "grep -q 'Ctrl-C stops everything' '$T_DIR/die.out'" 30; then
	C1=$(sed -n "s/^  1\\. //p" "$T_DIR/die.out")
	timeout 15 sh -c "$C1" </dev/null >"$T_DIR/c1.out" 2>"$T_DIR/c1.err"
	rc=$?
	t_check "no nc: 1. $C1: status 0 (got $rc)" test "$rc" -eq 0
	t_check "no nc: 1. the hello service answers" grep -q '^hello from zt: hello.demo.internal' \
		"$T_DIR/c1.out"
	t_check "no nc: zt demo says where dig is" grep -q 'bind9-dnsutils' "$T_DIR/die.out"
	EDGE=$(ps -o pid=,args= --ppid "$DEMO" | sed -n 's/^ *\([0-9]*\) zt edge serve .*/\1/p')
	kill -KILL "$EDGE"
	if t_wait "! kill -0 $DEMO 2>/dev/null" 20; then
		wait "$DEMO"
		rc=$?
		cat "$T_DIR/die.err"
		t_check "a killed edge: zt demo exits 1 (got $rc)" test "$rc" -eq 1
		t_check "a killed edge: zt demo says which process and how" grep -q \
			"the edge (zt edge serve, pid $EDGE) was killed by signal 9" "$T_DIR/die.err"
		t_check "a killed edge: and shows its log" grep -q 'the end of .*/edge.log' \
			"$T_DIR/die.err"
	else
		t_fail "zt demo still runs 20 s after its edge was killed"
	fi
	nothing_left "$T_DIR/die.out" "a killed edge"
else
	cat "$T_DIR/die.out" "$T_DIR/die.err"
	t_fail "zt demo did not start a second time"
fi

# --- a process that cannot start: the sidecar's port is taken ---------------------------
rm -f "$T_DIR/port"
$PY -c 'import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen()
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(60)' "$T_DIR/port" &
T_PIDS="$T_PIDS $!"
t_wait "[ -s '$T_DIR/port' ]" 10
P=$(cat "$T_DIR/port")
t_run timeout 60 "$ZT" demo --check --access-port "$P"
cat "$T_DIR/err"
t_check "a taken --access-port: status 1 (got $T_RC)" test "$T_RC" -eq 1
t_check "a taken --access-port: no check ran" test "$(grep -c '^PASS\|^FAIL' "$T_DIR/out")" -eq 0
t_check "a taken --access-port: the sidecar is named" grep -q \
	'the sidecar (zt access tcp, pid [0-9]*) exited with status 1 before it was ready' "$T_DIR/err"
t_check "a taken --access-port: its log says why" grep -q "127.0.0.1:$P: Address already in use" \
	"$T_DIR/err"
t_check "a taken --access-port: and what to do" grep -q \
	"port $P, given with --access-port, is in use by another program" "$T_DIR/err"
nothing_left "$T_DIR/out" "a taken --access-port"

# --- --keep and --verbose ----------------------------------------------------------------
t_run timeout 60 "$ZT" demo --check --keep --verbose
t_check "--keep --verbose: status 0 (got $T_RC)" test "$T_RC" -eq 0
K=$(demo_dir "$T_DIR/out")
t_check "--keep: the directory is kept" test -f "$K/edge/edge.ini" -a -f "$K/dnsmasq.conf"
t_check "--keep: dnsmasq.conf holds the demo zone" grep -q '^address=/demo.internal/127.0.0.1$' \
	"$K/dnsmasq.conf"
t_check "--verbose: the edge's log is shown" grep -q '^edge *| .*edge info: listening on' \
	"$T_DIR/err"
t_check "--verbose: the sidecar's log is shown" grep -q '^sidecar *| .*authorised this token' \
	"$T_DIR/err"
left=$(procs_in "$K")
t_check "--keep: no process is left ($left)" test -z "$left"
rm -rf "$K"

# --- usage ------------------------------------------------------------------------------
t_run "$ZT" demo --edge-port 70000
t_check "--edge-port 70000: status 2 (got $T_RC)" test "$T_RC" -eq 2
t_check "--edge-port 70000: named" grep -q -- '--edge-port "70000"' "$T_DIR/err"
t_run "$ZT" demo --dns-port 5353 --access-port 5353
t_check "a port given twice: status 2 (got $T_RC)" test "$T_RC" -eq 2
t_check "nothing is left in \$TMPDIR" test -z "$(ls -A "$TMPD")"
t_done
