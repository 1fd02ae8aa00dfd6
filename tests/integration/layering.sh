#!/bin/sh
# layering: the dependency rules of STYLE.md, checked on the source.
. "${top_srcdir:-.}/tests/integration/lib.sh"
t_init
src="$top_srcdir/src"

# Rank of each common module: a module may include only modules of a lower rank, except that
# log and util form the base together.
rank() {
	case "$1" in
	log|util|copy) echo 0 ;;
	ev|conf|tls|ifaddr|policy|ingress|conntoken|state) echo 1 ;;
	jwt) echo 1 ;;
	signkeys) echo 2 ;;
	dns|dnsconf|mux) echo 2 ;;
	edgeconf|tunnelconf) echo 2 ;;
	metrics|sdnotify) echo 1 ;;
	users|qr) echo 1 ;;
	revoked) echo 1 ;;
	web) echo 3 ;;
	httpd) echo 2 ;;
	httpc) echo 2 ;;
	loginfile) echo 1 ;;
	health) echo 3 ;;
	dnscache) echo 3 ;;
	resolver) echo 4 ;;
	dnsfwd) echo 5 ;;
	*) echo "" ;;
	esac
}

for f in "$src"/common/*.c "$src"/common/*.h; do
	mod=$(basename "$f" | sed 's/\.[ch]$//')
	r=$(rank "$mod")
	if [ -z "$r" ]; then
		t_fail "$f: module '$mod' has no rank in tests/integration/layering.sh"
		continue
	fi
	for inc in $(sed -n 's/^#include "\([a-z_]*\)\.h"/\1/p' "$f"); do
		[ "$inc" = "$mod" ] || [ "$inc" = config ] && continue
		case "$inc" in applets) t_fail "$f includes applets.h: common never depends on applets"; continue ;; esac
		ir=$(rank "$inc")
		if [ -z "$ir" ]; then
			t_fail "$f includes unknown module '$inc'"
		elif [ "$ir" -ge "$r" ] && [ "$r" -ne 0 ]; then
			t_fail "$f (rank $r) includes $inc.h (rank $ir): dependencies point down only"
		fi
	done
done
t_pass "common modules include only lower layers"

# Only tls.c may include OpenSSL's TLS headers.
bad=$(grep -lE '#include <(openssl/ssl\.h|openssl/tls1\.h|event2/bufferevent_ssl\.h)>' \
	"$src"/*.c "$src"/*/*.c "$src"/*/*.h 2>/dev/null | grep -v '/common/tls\.c$')
t_check "only common/tls.c includes TLS headers ($bad)" test -z "$bad"

# Applets never call each other's main, and include no other applet's file (a file APPLET-PART.c
# is part of APPLET and shares its headers applets/APPLET-*.h).
for f in "$src"/applets/*.c; do
	[ -e "$f" ] || continue
	a=$(basename "$f" .c)
	other=$(grep -nE '[a-z]+_main\(' "$f" | grep -v "${a}_main(" | grep -v '^\s*/\*')
	t_check "$a.c calls no other applet's main" test -z "$other"
	inc=$(grep -nE '#include "(\.\./)?applets/' "$f" | grep -vE "\"applets/${a%%-*}-[a-z]+\.h\"")
	t_check "$a.c includes no applet file" test -z "$inc"
done

# Habits the anchors avoid: silent truncation, the legacy global libevent API, raw signals.
bad=$(grep -nE '\b(strncpy|strcpy|strcat|sprintf|vsprintf|gets)\(' "$src"/*.c "$src"/*/*.c)
t_check "no strcpy/strncpy/strcat/sprintf/gets in src ($bad)" test -z "$bad"
bad=$(grep -nE '\b(event_init|event_dispatch|event_loop|event_set)\(' "$src"/*.c "$src"/*/*.c)
t_check "no legacy global libevent API ($bad)" test -z "$bad"
# Signal handlers run only as libevent events (common/ev.c); elsewhere a signal may only be ignored.
bad=$(grep -nE 'sa_handler *= *[^S ]|sa_sigaction *=|\bsignal\(SIG[A-Z0-9]+, *[^S ]' \
	"$src"/*.c "$src"/*/*.c | grep -v 'common/ev\.c')
t_check "no signal handlers outside common/ev.c ($bad)" test -z "$bad"
# Every external symbol of a common module carries its prefix.
if command -v nm >/dev/null 2>&1 && [ -f "$top_builddir/src/libztcommon.a" ]; then
	bad=$(nm -A --defined-only -g "$top_builddir/src/libztcommon.a" 2>/dev/null | awk '
		{ split($1, p, ":"); obj = p[2]; sub(/^src_libztcommon_a-/, "", obj); sub(/\.o$/, "", obj);
		  sym = $3; if (sym == "") next;
		  if (index(sym, obj "_") == 1) next;
		  if (obj == "util" && sym ~ /^x(malloc|calloc|reallocarray|strdup|strndup|asprintf)$/) next;
		  if (obj == "log" && sym ~ /^fatalx?$/) next;
		  if (obj == "users" && sym ~ /^loginlimit_/) next;
		  print obj ": " sym }')
	t_check "external symbols carry their module prefix ($bad)" test -z "$bad"
fi
t_done
