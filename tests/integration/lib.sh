# lib.sh: helpers for zt's integration tests (POSIX sh). Source it, then call t_init.
# Each test runs in its own temporary directory, removed on exit; ports are ephemeral.

: "${ZT:?ZT must name the built binary (make check sets it)}"
: "${top_srcdir:=.}"

T_FAILED=0
T_PIDS=""

t_init() {
	T_NAME=$(basename "$0" .sh)
	T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/zt-$T_NAME.XXXXXX") || exit 99
	trap 't_cleanup' EXIT
	trap 'exit 1' INT TERM HUP
}

t_cleanup() {
	status=$?
	for p in $T_PIDS; do
		kill "$p" 2>/dev/null
	done
	for p in $T_PIDS; do
		wait "$p" 2>/dev/null
	done
	if [ "$status" -ne 0 ] || [ "$T_FAILED" -ne 0 ]; then
		echo "--- $T_NAME failed; files kept in $T_DIR"
	else
		rm -rf "$T_DIR"
	fi
}

# Skip the whole test (exit 77) unless every named program is installed.
t_need() {
	for prog in "$@"; do
		if ! command -v "$prog" >/dev/null 2>&1; then
			t_skip "$prog is not installed"
		fi
	done
}

# Skip the whole test (exit 77), saying why. Under CI (CI=true, as .ci/run sets it) a skip is a
# failure: contrib/debian-setup.sh installs everything the tests need, so a test that would skip
# there is an install step missing, and would otherwise pass unnoticed.
t_skip() {
	if [ "${CI:-}" = true ]; then
		echo "FAIL: $* (CI=true: no test may be skipped; make contrib/debian-setup.sh install what it needs)" >&2
		exit 1
	fi
	echo "SKIP: $*"
	exit 77
}

t_fail() {
	echo "FAIL: $*" >&2
	T_FAILED=1
}

t_pass() {
	echo "ok: $*"
}

# t_check DESCRIPTION COMMAND...: runs COMMAND, records a failure if it fails.
t_check() {
	desc=$1
	shift
	if "$@"; then
		t_pass "$desc"
	else
		t_fail "$desc"
	fi
}

# Runs the command, keeping stdout, stderr and the status in $T_DIR/out, err and $T_RC.
t_run() {
	"$@" >"$T_DIR/out" 2>"$T_DIR/err"
	T_RC=$?
}

t_contains() {
	grep -q -e "$2" "$1"
}

# Waits up to $2 seconds (default 10) for the shell condition $1 to hold.
t_wait() {
	cond=$1
	limit=$(( ${2:-10} * 10 ))
	i=0
	while [ "$i" -lt "$limit" ]; do
		if eval "$cond"; then
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# Prints a port on 127.0.0.1 that the kernel chose and that is free for both UDP and TCP.
t_port() {
	/usr/bin/python3 -c 'import socket
for _ in range(100):
	u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	u.bind(("127.0.0.1", 0))
	p = u.getsockname()[1]
	t = socket.socket()
	try:
		t.bind(("127.0.0.1", p))
	except OSError:
		continue
	finally:
		u.close()
		t.close()
	print(p)
	break
else:
	raise SystemExit("no free port")'
}

# Starts a background command, remembering it for cleanup; its pid in $T_LAST.
t_bg() {
	"$@" &
	T_LAST=$!
	T_PIDS="$T_PIDS $T_LAST"
}

t_done() {
	if [ "$T_FAILED" -ne 0 ]; then
		exit 1
	fi
	exit 0
}
