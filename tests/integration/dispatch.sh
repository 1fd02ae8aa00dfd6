#!/bin/sh
# dispatch: help, version, unknown applets and links, as src/applets.h describes them.
. "${top_srcdir:-.}/tests/integration/lib.sh"
t_init

for form in "" "--help" "help"; do
	t_run "$ZT" $form
	t_check "zt $form exits 0" test "$T_RC" -eq 0
	t_check "zt $form lists the applets" t_contains "$T_DIR/out" '^applets:'
done

t_run "$ZT" --version
t_check "--version exits 0" test "$T_RC" -eq 0
t_check "--version names zt" t_contains "$T_DIR/out" '^zt [0-9]'
t_check "--version names OpenSSL" t_contains "$T_DIR/out" '^OpenSSL 3\.'
t_check "--version names libevent" t_contains "$T_DIR/out" '^libevent 2\.1'

t_run "$ZT" no-such-applet
t_check "unknown applet exits 127" test "$T_RC" -eq 127
t_check "unknown applet is named" t_contains "$T_DIR/err" "'no-such-applet' is not an applet"

t_run "$ZT" --bogus-option
t_check "unknown option exits 2" test "$T_RC" -eq 2

t_run "$ZT" help no-such-applet
t_check "help for an unknown applet exits 127" test "$T_RC" -eq 127

# Every applet in the table: help through every spelling, and links.
applets=$("$ZT" --list-links | sed -n 's/^zt-//p')
for a in $applets; do
	t_run "$ZT" help "$a"
	t_check "zt help $a exits 0" test "$T_RC" -eq 0
	t_check "zt help $a prints usage on stdout" t_contains "$T_DIR/out" "usage:"
	cp "$T_DIR/out" "$T_DIR/help-$a"
	t_run "$ZT" "$a" --help
	t_check "zt $a --help exits 0" test "$T_RC" -eq 0
	t_check "zt $a --help matches zt help $a" cmp -s "$T_DIR/out" "$T_DIR/help-$a"
	ln -s "$ZT" "$T_DIR/zt-$a"
	t_run "$T_DIR/zt-$a" --help
	t_check "link zt-$a runs the applet" cmp -s "$T_DIR/out" "$T_DIR/help-$a"
	ln -s "$ZT" "$T_DIR/$a"
	t_run "$T_DIR/$a" --help
	t_check "link $a runs the applet" cmp -s "$T_DIR/out" "$T_DIR/help-$a"
	t_check "zt --help lists $a" sh -c "'$ZT' --help | grep -q '^  $a '"
	# A one-letter slip gets a hint.
	typo=$(printf '%s' "$a" | sed 's/.$/x/')
	if [ "$typo" != "$a" ]; then
		t_run "$ZT" "$typo"
		t_check "zt $typo exits 127" test "$T_RC" -eq 127
		t_check "zt $typo suggests $a" t_contains "$T_DIR/err" "did you mean '$a'"
	fi
	t_run "$ZT" "$a" --no-such-flag
	t_check "zt $a --no-such-flag is a usage error (2)" test "$T_RC" -eq 2
	t_check "zt $a usage error prints usage on stderr" t_contains "$T_DIR/err" "usage:"
done

ln -s "$ZT" "$T_DIR/zt-nope"
t_run "$T_DIR/zt-nope"
t_check "a link to an unknown applet exits 127" test "$T_RC" -eq 127
t_done
