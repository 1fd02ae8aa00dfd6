#!/bin/sh
# edge-users: `zt edge user` on the state directory `zt edge init` makes: passwords from
# standard input or a terminal without echo (never argv, never stored or printed), list, del,
# passwd, groups, TOTP enrolment (the URI, and a QR code that zbarimg decodes back to it), and
# errors that name the value and the fix.
. "${top_srcdir:-.}/tests/integration/lib.sh"
t_init
t_need /usr/bin/python3
unset ZT_EDGE_CONFIG

"$ZT" edge init "$T_DIR/e" --name edge.test >"$T_DIR/init.out" 2>&1 || {
	cat "$T_DIR/init.out"
	exit 99
}
C="$T_DIR/e/edge.ini"
S="$T_DIR/e/state"
PW='Tr0ub4dor&3-horse'

# Fails unless none of the files under the state directory, nor the files given, hold $1.
nowhere() {
	needle=$1
	shift
	! grep -r -q -F -e "$needle" "$S" "$@"
}

# --- help and usage ------------------------------------------------------------------------
t_run "$ZT" edge user --help
t_check "user --help exits 0 with the usage" \
	sh -c "[ $T_RC -eq 0 ] && grep -q '^usage: zt edge user add' '$T_DIR/out'"
t_run "$ZT" edge --help
t_check "edge --help mentions user" t_contains "$T_DIR/out" 'zt edge user add'
t_run "$ZT" edge user frobnicate -c "$C"
t_check "an unknown subcommand exits 2 naming it" \
	sh -c "[ $T_RC -eq 2 ] && grep -q 'unknown command \"frobnicate\"' '$T_DIR/err'"

# --- add: the password on stdin, never in argv ------------------------------------------------
mkfifo "$T_DIR/pw.fifo"
"$ZT" edge user add Alice@Example.com --group dev --group ops -c "$C" \
	<"$T_DIR/pw.fifo" >"$T_DIR/add.out" 2>"$T_DIR/add.err" &
pid=$!
exec 3>"$T_DIR/pw.fifo"
# The process is waiting for its password: what ps shows of it, once the shell that opened the
# FIFO has become zt (the redirection happens before exec).
is_zt() {
	tr '\0' ' ' <"/proc/$pid/cmdline" >"$T_DIR/cmdline" && grep -q 'edge user add' "$T_DIR/cmdline"
}
t_wait is_zt 10
printf '%s\n' "$PW" >&3
exec 3>&-
wait "$pid"
rc=$?
t_check "add exits 0 ($rc)" test "$rc" -eq 0
t_check "add says so" t_contains "$T_DIR/add.out" '^Added alice@example.com\.$'
t_check "argv holds the email, not the password" \
	sh -c "grep -q 'user add Alice@Example.com' '$T_DIR/cmdline' && ! grep -q -F -e '$PW' '$T_DIR/cmdline'"
f="$S/users/alice@example.com"
t_check "the user file is lower case and 0600" test "$(stat -c %a "$f")" = 600
t_check "DIR/users is 0700" test "$(stat -c %a "$S/users")" = 700
t_check "the file holds an scrypt hash" \
	grep -Eq '^password = \$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$' "$f"
t_check "the password is nowhere in the state or the output" \
	nowhere "$PW" "$T_DIR/add.out" "$T_DIR/add.err"

# --- a terminal: asked twice, without echo -----------------------------------------------------
/usr/bin/python3 - "$ZT" "$C" "$PW" >"$T_DIR/pty.out" 2>&1 <<'PY'
import os, pty, select, signal, sys, time
zt, conf, pw = sys.argv[1:4]
pid, fd = pty.fork()
if pid == 0:
    os.execv(zt, [zt, "edge", "user", "add", "bob@example.com", "-c", conf])
out = b""
def until(what):
    global out
    deadline = time.time() + 20
    while what not in out and time.time() < deadline:
        if not select.select([fd], [], [], max(0, deadline - time.time()))[0]:
            break
        try:
            out += os.read(fd, 1024)
        except OSError:
            break
until(b"Password for bob@example.com: ")
os.write(fd, pw.encode() + b"\r")
until(b"Again: ")
os.write(fd, pw.encode() + b"\r")
until(b"Added bob@example.com.")
if b"Added bob@example.com." not in out:
    os.kill(pid, signal.SIGKILL)
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
if pw.encode() in out:
    sys.exit("the password was echoed")
sys.exit(0 if os.WEXITSTATUS(status) == 0 and b"Added bob@example.com." in out else 1)
PY
t_check "on a terminal: asked twice, no echo, added ($(tail -c 200 "$T_DIR/pty.out" | tr '\r\n' '  '))" \
	test $? -eq 0

# --- list, groups, errors ------------------------------------------------------------------
t_run "$ZT" edge user list -c "$C"
t_check "list exits 0" test "$T_RC" -eq 0
t_check "list shows alice's groups" \
	t_contains "$T_DIR/out" '^alice@example.com  *no  *[0-9T:Z-]*  *dev ops$'
t_check "list shows bob without groups" t_contains "$T_DIR/out" '^bob@example.com  *no  .*  -$'
t_check "list never shows a hash" sh -c "! grep -q scrypt '$T_DIR/out'"

t_run "$ZT" edge user groups ALICE@example.com admins -c "$C"
t_check "groups sets the groups" sh -c "[ $T_RC -eq 0 ] && grep -q '^groups = admins$' '$f'"
t_run "$ZT" edge user groups alice@example.com 'a b' -c "$C"
t_check "a group with a space is refused, named" \
	sh -c "[ $T_RC -eq 1 ] && grep -q \"group 'a b' is not\" '$T_DIR/err'"

printf '%s\n' "$PW" >"$T_DIR/pw"
t_run "$ZT" edge user add 'not-an-email' -c "$C" <"$T_DIR/pw"
t_check "a bad email exits 2, named" \
	sh -c "[ $T_RC -eq 2 ] && grep -q \"'not-an-email' is not an email address such as\" '$T_DIR/err'"
t_run "$ZT" edge user add alice@example.com -c "$C" <"$T_DIR/pw"
t_check "a duplicate add exits 1 and says what to do" \
	sh -c "[ $T_RC -eq 1 ] && grep -q \"'alice@example.com' exists already: change it with 'zt edge user passwd'\" '$T_DIR/err'"
t_run "$ZT" edge user del carol@example.com -c "$C"
t_check "del of an unknown user exits 1, named" \
	sh -c "[ $T_RC -eq 1 ] && grep -q \"no user 'carol@example.com'.*zt edge user list\" '$T_DIR/err'"
echo 'short' >"$T_DIR/short"
t_run "$ZT" edge user add carol@example.com -c "$C" <"$T_DIR/short"
t_check "a short password is refused with the rule" \
	sh -c "[ $T_RC -eq 1 ] && grep -q 'the password has 5 bytes: choose one of 8 to 1024 bytes' '$T_DIR/err'"
t_check "and no user is made" test ! -e "$S/users/carol@example.com"
t_run "$ZT" edge user add carol@example.com -c "$C" </dev/null
t_check "an empty stdin is refused" \
	sh -c "[ $T_RC -eq 1 ] && grep -q 'standard input is empty' '$T_DIR/err'"
t_run "$ZT" edge user list -c "$T_DIR/nonexistent.ini"
t_check "a missing edge.ini exits 78" test "$T_RC" -eq 78
chmod 755 "$S"
t_run "$ZT" edge user list -c "$C"
t_check "an open state directory exits 78 with the fix" \
	sh -c "[ $T_RC -eq 78 ] && grep -q 'chmod 700' '$T_DIR/err'"
chmod 700 "$S"

# --- passwd ---------------------------------------------------------------------------------
old=$(grep '^password' "$f")
printf '%s\n' 'a new passphrase' | "$ZT" edge user passwd alice@example.com -c "$C" \
	>"$T_DIR/out" 2>"$T_DIR/err"
t_check "passwd exits 0" test $? -eq 0
t_check "passwd replaces the hash, keeps the groups" \
	sh -c "! grep -q -F -e '$old' '$f' && grep -q '^groups = admins$' '$f'"
t_check "the new password is nowhere" nowhere 'a new passphrase' "$T_DIR/out" "$T_DIR/err"

# --- totp -----------------------------------------------------------------------------------
LC_ALL=C "$ZT" edge user totp alice@example.com -c "$C" >"$T_DIR/totp.ascii" 2>"$T_DIR/err"
t_check "totp exits 0" test $? -eq 0
uri=$(grep '^otpauth://' "$T_DIR/totp.ascii")
t_check "the URI has the expected form ($uri)" sh -c "printf '%s\n' '$uri' | grep -Eqx \
'otpauth://totp/zt:alice%40example\\.com\\?secret=[A-Z2-7]{32}&issuer=zt&algorithm=SHA1&digits=6&period=30'"
secret=$(printf '%s\n' "$uri" | sed 's/.*secret=\([A-Z2-7]*\).*/\1/')
t_check "the file holds the same secret" grep -q "^totp = $secret\$" "$f"
t_check "the secret is said to be shown once" t_contains "$T_DIR/totp.ascii" 'shown this once'
t_check "an ASCII QR code in the C locale" t_contains "$T_DIR/totp.ascii" '^##########'
LC_ALL=C.UTF-8 "$ZT" edge user totp alice@example.com -c "$C" >"$T_DIR/totp.utf8" 2>"$T_DIR/err"
t_check "a half-block QR code in a UTF-8 locale" t_contains "$T_DIR/totp.utf8" '█▀'
uri2=$(grep '^otpauth://' "$T_DIR/totp.utf8")
t_check "enrolling again makes a new secret" test "$uri" != "$uri2"
t_run "$ZT" edge user list -c "$C"
t_check "list says alice uses TOTP" t_contains "$T_DIR/out" '^alice@example.com  *yes '

# The drawings back into images: zbarimg must read the URI printed above them.
if command -v zbarimg >/dev/null 2>&1; then
	for kind in ascii utf8; do
		/usr/bin/python3 - "$T_DIR/totp.$kind" "$T_DIR/qr.$kind.pbm" <<'PY'
import sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
rows = []
for l in lines:
    if l and set(l) <= set("# "):                  # ASCII: "##" per light module
        rows.append([c == " " for c in l[::2]])
    elif l and set(l) <= set(" \u2580\u2584\u2588"):  # UTF-8: two rows per line
        rows.append([c in " \u2584" for c in l])   # top half dark
        rows.append([c in " \u2580" for c in l])   # bottom half dark
n, scale, pad = len(rows[0]), 6, 4
w = (n + 2 * pad) * scale
with open(sys.argv[2], "w") as f:
    f.write("P1\n%d %d\n" % (w, (len(rows) + 2 * pad) * scale))
    for r in [[False] * n] * pad + rows + [[False] * n] * pad:
        line = " ".join("1" if d else "0" for d in [False] * pad + r + [False] * pad
                        for _ in range(scale))
        for _ in range(scale):
            f.write(line + "\n")
PY
		got=$(zbarimg --raw -q "$T_DIR/qr.$kind.pbm" 2>"$T_DIR/zbar.err")
		want=$uri
		[ "$kind" = utf8 ] && want=$uri2
		t_check "zbarimg reads the $kind QR code back as the URI ($got)" test "$got" = "$want"
	done
else
	echo "SKIP: zbarimg (zbar-tools) is not installed: the QR round trip is not checked"
fi

# --- del ------------------------------------------------------------------------------------
t_run "$ZT" edge user del alice@example.com -c "$C"
t_check "del exits 0 and removes the file" sh -c "[ $T_RC -eq 0 ] && [ ! -e '$f' ]"
t_run "$ZT" edge user list -c "$C"
t_check "list no longer shows alice" sh -c "! grep -q alice '$T_DIR/out'"
t_done
