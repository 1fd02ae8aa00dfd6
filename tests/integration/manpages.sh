#!/bin/sh
# manpages: every man page renders without a warning, every applet has a page, and each page
# documents every option (and each configuration-file page every key) that the code accepts.
# The lists come from the code: the getopt tables (struct option, struct dnsconf_flag) of
# src/applets/*.c, the options of dnsmasq that src/common/dnsconf.c implements, the conf_entry
# tables of the ini files, and the options src/zt.c takes itself.
. "${top_srcdir:-.}/tests/integration/lib.sh"
t_init
t_need man

doc=$top_srcdir/doc
src=$top_srcdir/src

# --- every page renders cleanly ---------------------------------------------------------------
for page in "$doc"/*.[158]; do
	name=${page##*/}
	LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" \
		>/dev/null 2>"$T_DIR/man.err"
	if [ -s "$T_DIR/man.err" ]; then
		t_fail "$name: man --warnings says:"
		cat "$T_DIR/man.err" >&2
	else
		t_pass "$name renders without warnings"
	fi
	if command -v mandoc >/dev/null 2>&1; then
		mandoc -Tlint -W warning "$page" >"$T_DIR/lint" 2>&1
		if [ -s "$T_DIR/lint" ]; then
			t_fail "$name: mandoc -Tlint says:"
			cat "$T_DIR/lint" >&2
		else
			t_pass "$name passes mandoc -Tlint -W warning"
		fi
	fi
done

# --- what the code accepts ---------------------------------------------------------------------

# The long options of the getopt tables of a C file: struct option X[] and struct dnsconf_flag X[].
code_longopts() {
	awk '/(struct option|struct dnsconf_flag) [a-z_]*\[\] = \{/ { t = 1; next }
		t && /\{ NULL/ { t = 0 }
		t && match($0, /\{ "[^"]+"/) { print substr($0, RSTART + 3, RLENGTH - 4) }' "$1" |
		sort -u
}

# The dnsmasq options zt implements: the DC_CAT_OK rows of dnsconf.c's dc_opts table.
code_dnsmasq_opts() {
	awk '/struct dc_opt dc_opts\[\] = \{/ { t = 1; next }
		t && /^\};/ { t = 0 }
		t && /DC_CAT_OK/ && match($0, /\{ "[^"]+"/) { print substr($0, RSTART + 3, RLENGTH - 4) }' \
		"$1" | sort -u
}

# The options src/zt.c compares argv[1] with.
code_main_opts() {
	sed -n 's/.*strcmp(argv\[1\], "--\([a-z0-9-]*\)").*/\1/p' "$1" | sort -u
}

# "SECTION KEY" for each row of the conf_entry table NAME of a C file; "app *" becomes "app".
code_ini_keys() {
	awk -v table="$2" '$0 ~ "struct conf_entry " table "\\[\\] = \\{" { t = 1; next }
		t && /\{ NULL/ { t = 0 }
		t && match($0, /\{ "[^"]*", "[^"]+"/) {
			s = substr($0, RSTART + 3, RLENGTH - 4)
			split(s, f, /", "/)
			sec = f[1]
			sub(/ \*$/, "", sec)
			print sec, f[2]
		}' "$1"
}

# --- what the pages document -------------------------------------------------------------------

# check_opts PAGE SOURCE LIST: each option of LIST (one per line) must be an item of a list in
# PAGE: an .It line naming "Fl -OPTION" (aliases may share the item).
check_opts() {
	page=$1 what=$2 list=$3
	n=0 missing=0
	if [ ! -f "$page" ]; then
		t_fail "${page##*/} is missing: it must document the options of $what"
		return 1
	fi
	while read -r opt; do
		[ -n "$opt" ] || continue
		n=$((n + 1))
		if ! grep -Eq "^\.It( .*)? Fl -$opt( |$)" "$page"; then
			t_fail "${page##*/} does not document --$opt ($what accepts it): add an item" \
				"\".It Fl -$opt ...\" to its OPTIONS"
			missing=$((missing + 1))
		fi
	done <"$list"
	if [ "$n" -eq 0 ]; then
		t_fail "no option found in $what: has its option table changed shape?"
	elif [ "$missing" -eq 0 ]; then
		t_pass "${page##*/} documents the $n options of $what"
	fi
	return "$missing"
}

# check_keys PAGE SOURCE LIST: each "SECTION KEY" of LIST must be an item ".It Cm KEY" after the
# page's ".Ss [SECTION...]" heading and before the next heading.
check_keys() {
	page=$1 what=$2 list=$3
	n=0 missing=0
	if [ ! -f "$page" ]; then
		t_fail "${page##*/} is missing: it must document the keys of $what"
		return 1
	fi
	while read -r sec key; do
		[ -n "$key" ] || continue
		n=$((n + 1))
		if ! awk -v sec="$sec" -v key="$key" '
			/^\.S[hs] / { in_sec = (index($0, ".Ss [" sec "]") == 1 ||
				index($0, ".Ss [" sec " ") == 1); next }
			in_sec && $1 == ".It" && $2 == "Cm" && $3 == key { found = 1 }
			END { exit !found }' "$page"; then
			t_fail "${page##*/} does not document [$sec] $key ($what accepts it): add" \
				"\".It Cm $key No = Ar ...\" under \".Ss [$sec]\""
			missing=$((missing + 1))
		fi
	done <"$list"
	if [ "$n" -eq 0 ]; then
		t_fail "no key found in $what: has its conf_entry table changed shape?"
	elif [ "$missing" -eq 0 ]; then
		t_pass "${page##*/} documents the $n keys of $what"
	fi
	return "$missing"
}

# Every applet has its page, and the page documents every option of its getopt tables. A file
# APPLET-PART.c (edge-keys.c) is part of APPLET: its options go in APPLET's page.
for c in "$src"/applets/*.c; do
	file=$(basename "$c" .c)
	applet=${file%%-*}
	page=""
	for p in "$doc/zt-$applet.1" "$doc/zt-$applet.8"; do
		[ -f "$p" ] && page=$p
	done
	if [ -z "$page" ]; then
		t_fail "applet $applet ($c) has no man page: write doc/zt-$applet.1 or .8 and add it" \
			"to dist_man_MANS in Makefile.am"
		continue
	fi
	t_check "zt.1 refers to ${page##*/}" \
		grep -q "^\.Xr zt-$applet ${page##*.}" "$doc/zt.1"
	code_longopts "$c" >"$T_DIR/opts.$applet"
	# A part without a getopt table takes its options from the applet's.
	[ "$file" != "$applet" ] && [ ! -s "$T_DIR/opts.$applet" ] && continue
	if [ "$applet" = dns ]; then
		code_dnsmasq_opts "$src/common/dnsconf.c" >>"$T_DIR/opts.$applet"
	fi
	check_opts "$page" "src/applets/$file.c" "$T_DIR/opts.$applet"
done

code_main_opts "$src/zt.c" >"$T_DIR/opts.main"
check_opts "$doc/zt.1" src/zt.c "$T_DIR/opts.main"

code_ini_keys "$src/common/edgeconf.c" edge_table >"$T_DIR/keys.edge"
check_keys "$doc/edge.ini.5" "edge_table in src/common/edgeconf.c" "$T_DIR/keys.edge"
code_ini_keys "$src/common/tunnelconf.c" tunnelconf_table >"$T_DIR/keys.tunnel"
check_keys "$doc/tunnel.ini.5" "tunnelconf_table in src/common/tunnelconf.c" "$T_DIR/keys.tunnel"

# Every page is installed.
for page in "$doc"/*.[158]; do
	t_check "${page##*/} is in dist_man_MANS" \
		grep -q "doc/${page##*/}" "$top_srcdir/Makefile.am"
done

# --- the checks can fail ---------------------------------------------------------------------
# An option or a key added to the code without documentation must be reported, naming the page
# and the option. Run the checks on copies of the code with one more of each.
T_SAVED=$T_FAILED
sed 's/^\(\t*\)\({ "token-file",.*\)$/\1{ "zz-undocumented", no_argument, NULL, 0 },\n\1\2/' \
	"$src/applets/tunnel.c" >"$T_DIR/fake.c"
code_longopts "$T_DIR/fake.c" >"$T_DIR/opts.fake"
check_opts "$doc/zt-tunnel.8" fake.c "$T_DIR/opts.fake" >"$T_DIR/fake.out" 2>&1
fake_rc=$?
T_FAILED=$T_SAVED
t_check "a fake option is reported" test "$fake_rc" -eq 1
t_check "the report names the page and the option" \
	grep -q 'zt-tunnel.8 does not document --zz-undocumented' "$T_DIR/fake.out"

sed 's/^\(\t*\)\({ "tunnel", "status_file",.*\)$/\1{ "tunnel", "zz_key", CONF_INT },\n\1\2/' \
	"$src/common/tunnelconf.c" >"$T_DIR/fake.c"
code_ini_keys "$T_DIR/fake.c" tunnelconf_table >"$T_DIR/keys.fake"
check_keys "$doc/tunnel.ini.5" fake.c "$T_DIR/keys.fake" >"$T_DIR/fake.out" 2>&1
fake_rc=$?
T_FAILED=$T_SAVED
t_check "a fake key is reported" test "$fake_rc" -eq 1
t_check "the report names the page, the section and the key" \
	grep -q 'tunnel.ini.5 does not document \[tunnel\] zz_key' "$T_DIR/fake.out"
t_done
