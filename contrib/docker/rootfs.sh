#!/bin/sh
# rootfs.sh: assembles the file tree of the zt container image into a directory.
#
#   sh contrib/docker/rootfs.sh DESTDIR ZT-BINARY
#
# DESTDIR (new or empty) receives /usr/bin/zt, its zt-APPLET links (zt --list-links), exactly
# the shared libraries `ldd ZT-BINARY` names and the dynamic loader, at the paths ldd gives,
# and what contrib/docker/runtime-files lists. The Dockerfile copies the result into an empty
# image; tests/integration/contrib.sh runs zt in it with chroot. Run it as root: it gives the
# files their owners.
set -eu

if [ $# -ne 2 ]; then
	echo "usage: sh contrib/docker/rootfs.sh DESTDIR ZT-BINARY" >&2
	exit 2
fi
dest=$1 zt=$2
here=$(cd "$(dirname "$0")" && pwd)
list=$here/runtime-files

die() {
	echo "rootfs.sh: $*" >&2
	exit 1
}

[ -f "$zt" ] && [ -x "$zt" ] || die "$zt is not an executable file (give the built or installed zt)"
[ "$(id -u)" -eq 0 ] || die "run it as root: the files need their owners (see $list)"
if [ -e "$dest" ] && [ -n "$(ls -A "$dest")" ]; then
	die "$dest is not empty: give a new or empty directory"
fi
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)

# put SRC PATH MODE OWNER: a copy of SRC (its target, for a link) at DESTDIR/PATH.
put() {
	[ -f "$1" ] || die "$1 does not exist (needed for $2)"
	mkdir -p "$dest$(dirname "$2")"
	cp -L "$1" "$dest$2"
	chmod "$3" "$dest$2"
	chown "$4" "$dest$2"
}

# The binary and its links.
put "$zt" /usr/bin/zt 0755 0:0
for l in $("$zt" --list-links); do
	case $l in
	*/* | "") die "zt --list-links printed a bad name: \"$l\"" ;;
	esac
	ln -s zt "$dest/usr/bin/$l"
done

# The shared libraries and the loader, from ldd: "NAME => PATH (ADDR)" and "PATH (ADDR)".
# The vDSO has no file; a library ldd cannot find is an error.
LC_ALL=C ldd "$zt" >"$dest/.ldd" || die "ldd $zt failed"
if grep -q 'not found' "$dest/.ldd"; then
	cat "$dest/.ldd" >&2
	die "ldd cannot find a library of $zt"
fi
nlibs=0
for lib in $(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' "$dest/.ldd"); do
	case $lib in
	*/ld-linux*) put "$lib" "$lib" 0755 0:0 ;;
	*) put "$lib" "$lib" 0644 0:0 ;;
	esac
	nlibs=$((nlibs + 1))
done
rm -f "$dest/.ldd"
[ "$nlibs" -gt 1 ] || die "ldd named no library and no loader: is $zt dynamically linked?"

# What runtime-files lists.
sed -e 's/#.*//' "$list" | while read -r kind path mode owner source; do
	[ -n "$kind" ] || continue
	[ -n "$path" ] && [ -n "$mode" ] && [ -n "$owner" ] || die "$list: incomplete line: $kind $path"
	case $kind in
	dir)
		mkdir -p "$dest$path"
		chmod "$mode" "$dest$path"
		chown "$owner" "$dest$path"
		;;
	host)
		put "$path" "$path" "$mode" "$owner"
		;;
	here)
		[ -n "$source" ] || die "$list: $path: no source file"
		put "$here/$source" "$path" "$mode" "$owner"
		;;
	*)
		die "$list: unknown kind \"$kind\" (dir, host or here)"
		;;
	esac
done
n=$(grep -c '^[a-z]' "$list")
echo "rootfs.sh: $dest holds zt, $nlibs libraries and loader, $n runtime-files entries"
