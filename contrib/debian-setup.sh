#!/bin/sh
# debian-setup.sh: installs what zt needs on Debian 12, builds it, and optionally tests it.
#
#   sh contrib/debian-setup.sh build    packages to build, then ./configure && make
#   sh contrib/debian-setup.sh check    packages to build and test, then make check
#   sh contrib/debian-setup.sh deps     only the packages (build and test)
#   sh contrib/debian-setup.sh bench    packages to build and benchmark, then make bench
#                                       BENCH_ARGS=--quick (bench/README.md)
#
# Run it as root (or with sudo available) from the top of a checkout or release tarball.
set -eu

mode=${1:-build}
case "$mode" in
build|check|deps|bench) ;;
*) echo "usage: sh contrib/debian-setup.sh build|check|deps|bench" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."

build_pkgs="gcc make autoconf automake pkg-config libc6-dev libssl-dev libevent-dev libinih-dev
	libjansson-dev libqrencode-dev"
# Check runs the unit tests; the rest are the real peers the integration tests drive.
test_pkgs="check python3 python3-dnspython iproute2 procps dnsmasq-base bind9-dnsutils knot-dnsutils openssl
	postgresql curl man-db mandoc systemd python3-yaml python3-jwt
	chromium nodejs"
# zbarimg reads back the QR codes zt draws (tests/integration/edge-users.sh).
test_pkgs="$test_pkgs zbar-tools"

# The peers bench/run compares zt with, and its load generators.
bench_pkgs="python3 dnsperf dnsmasq-base iperf3 stunnel4 openssh-server openssh-client openssl"

pkgs=$build_pkgs
case "$mode" in
check|deps) pkgs="$pkgs $test_pkgs" ;;
bench) pkgs="$pkgs $bench_pkgs" ;;
esac

missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
if [ -n "$missing" ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	echo "debian-setup: installing:$missing"
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
fi
# The browser test drives Chromium with playwright-core from the npm registry, at the version
# tests/browser/package-lock.json pins (no browser download: it uses Debian's chromium).
case "$mode" in
check|deps)
	if [ ! -d tests/browser/node_modules/playwright-core ]; then
		(cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
	fi ;;
esac
[ "$mode" = deps ] && exit 0

jobs=$(nproc 2>/dev/null || echo 2)
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt configure ]; then
	autoreconf -fi
fi
if [ ! -f Makefile ] || [ configure -nt config.status ]; then
	./configure
fi
make -j"$jobs"
if [ "$mode" = check ]; then
	make -j"$jobs" check
elif [ "$mode" = bench ]; then
	bench/run --quick
fi
