#!/bin/sh
# install: make install DESTDIR=... creates zt and its applet links; make uninstall removes them.
. "${top_srcdir:-.}/tests/integration/lib.sh"
t_init
: "${top_builddir:?}"
: "${MAKE:=make}"

dest="$T_DIR/root"
t_run $MAKE -C "$top_builddir" install DESTDIR="$dest"
t_check "make install DESTDIR exits 0" test "$T_RC" -eq 0
bin=$(find "$dest" -type f -name zt -perm -u+x | head -n 1)
t_check "zt is installed under DESTDIR" test -n "$bin"
bindir=$(dirname "$bin")

"$ZT" --list-links >"$T_DIR/links"
while read -r l; do
	t_check "link $l installed" test -L "$bindir/$l"
	t_check "link $l points at zt" test "$(readlink "$bindir/$l")" = zt
	t_run "$bindir/$l" --help
	t_check "installed $l --help works" test "$T_RC" -eq 0
done <"$T_DIR/links"
t_check "no login link shadows /bin/login" test ! -e "$bindir/login"
t_run "$bin" --version
t_check "installed zt --version works" test "$T_RC" -eq 0

t_run $MAKE -C "$top_builddir" uninstall DESTDIR="$dest"
t_check "make uninstall exits 0" test "$T_RC" -eq 0
left=$(find "$dest" -type f -o -type l | wc -l)
t_check "uninstall leaves no files ($left left)" test "$left" -eq 0
t_done
