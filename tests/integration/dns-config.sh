#!/bin/sh
# dns-config: `zt dns serve` checks dnsmasq configuration as dnsmasq does (--test), and its
# errors name the file, the line and the option, or the command-line flag; help and usage.
. "${top_srcdir:-.}/tests/integration/lib.sh"
t_init
t_need timeout

F=$T_DIR/dnsmasq.conf
PORT=$(t_port)

# The issue's configuration, on a port of its own, passes --test in both spellings.
cat >"$F" <<EOF
# a comment
interface=lo
listen-address=127.0.0.1,10.254.254.254
bind-dynamic
address=/webdevelop.internal/10.130.0.1
address=/kratos.webdevelop.internal/10.130.0.100
domain-needed
bogus-priv
server=1.1.1.1
server=8.8.8.8
port=$PORT
EOF
t_run "$ZT" dns serve --test -C "$F"
t_check "--test -C FILE: status 0 (got $T_RC)" test "$T_RC" -eq 0
cat "$T_DIR/out" "$T_DIR/err" >"$T_DIR/both"
t_check "--test -C FILE: \"syntax check OK\"" t_contains "$T_DIR/both" 'syntax check OK'
t_run "$ZT" dns serve --test --conf-file="$F"
t_check "--test --conf-file=FILE: status 0" test "$T_RC" -eq 0

# bad LINE-NUMBER NAME TEXT: a file whose line LINE-NUMBER is TEXT must fail --test with status
# 1 and a message naming the file, the line and the option NAME; so must starting with it.
bad() {
	n=$1
	opt=$2
	text=$3
	{
		echo "port=$PORT"
		i=2
		while [ "$i" -lt "$n" ]; do
			echo "# line $i"
			i=$((i + 1))
		done
		echo "$text"
		echo "no-resolv"
	} >"$T_DIR/bad.conf"
	t_run "$ZT" dns serve --test -C "$T_DIR/bad.conf"
	t_check "$text: status 1 (got $T_RC)" test "$T_RC" -eq 1
	t_check "$text: the message names $T_DIR/bad.conf:$n and \"$opt\"" \
		grep -q "$T_DIR/bad.conf:$n:.*$opt" "$T_DIR/err"
	t_check "$text: nothing on stdout" test ! -s "$T_DIR/out"
	t_run timeout 10 "$ZT" dns serve -k -C "$T_DIR/bad.conf"
	t_check "$text: zt does not start with it (status 1, got $T_RC)" test "$T_RC" -eq 1
}
bad 2 dhcp-range 'dhcp-range=192.168.0.50,192.168.0.150,12h'
bad 5 adress 'adress=/x.test/10.1.1.1'
bad 3 address 'address=/x/10.1.1'
bad 7 server 'server=1.2.3.4.5'
bad 2 cache-size 'cache-size=lots'

# badflag FLAG NAME: the same errors given on the command line name the flag.
badflag() {
	t_run "$ZT" dns serve --test --port="$PORT" "$1"
	t_check "$1: status 1 (got $T_RC)" test "$T_RC" -eq 1
	t_check "$1: the message names the flag \"$2\"" grep -q -e "command line.*$2" "$T_DIR/err"
}
badflag --dhcp-range=192.168.0.50,192.168.0.150,12h --dhcp-range
badflag --adress=/x.test/10.1.1.1 --adress
badflag --address=/x/10.1.1 --address
badflag --server=1.2.3.4.5 --server

# A bad file in a conf-dir is named too.
mkdir "$T_DIR/d"
echo "port=$PORT" >"$T_DIR/d/10-good.conf"
printf '%s\n' '# second file' 'bogus-option-xyz' >"$T_DIR/d/20-bad.conf"
t_run "$ZT" dns serve --test --conf-file=/dev/null --conf-dir="$T_DIR/d"
t_check "conf-dir: status 1" test "$T_RC" -eq 1
t_check "conf-dir: names $T_DIR/d/20-bad.conf:2" grep -q "$T_DIR/d/20-bad.conf:2:" "$T_DIR/err"

# Help and usage.
for cmd in "dns --help" "help dns" "dns serve --help" "dns -h"; do
	t_run "$ZT" $cmd
	t_check "zt $cmd: status 0 (got $T_RC)" test "$T_RC" -eq 0
	t_check "zt $cmd: usage on stdout" grep -q '^usage: zt dns serve' "$T_DIR/out"
done
for cmd in "dns" "dns no-such-command"; do
	t_run "$ZT" $cmd
	t_check "zt $cmd: status 2 (got $T_RC)" test "$T_RC" -eq 2
	t_check "zt $cmd: usage on stderr" t_contains "$T_DIR/err" '^usage: zt dns serve'
	t_check "zt $cmd: nothing on stdout" test ! -s "$T_DIR/out"
done
t_done
