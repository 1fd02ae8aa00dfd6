#!/bin/sh
# dns-differential: dnsmasq 2.90 and `zt dns serve` answer the same query corpus identically.
. "${top_srcdir:-.}/tests/integration/lib.sh"
t_init
t_need /usr/sbin/dnsmasq
PY=/usr/bin/python3
if ! $PY -c 'import dns.message' 2>/dev/null; then
	t_skip "python3-dnspython is not installed"
fi
if ! /usr/sbin/dnsmasq --version | grep -q 'version 2\.90 '; then
	t_skip "the reference is dnsmasq 2.90; this is $(/usr/sbin/dnsmasq --version | head -n 1)"
fi
cases=$(cd "$top_srcdir/tests/dns/cases" && ls *.queries | sed 's/\.queries$//')
t_check "the answers of zt and dnsmasq agree" \
	$PY "$top_srcdir/tests/dns/differential.py" --zt "$ZT" \
	--compat "$top_srcdir/doc/dns-compat.md" $cases
t_done
