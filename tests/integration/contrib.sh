#!/bin/sh
# contrib: the deployment files in contrib/ work with the zt that was built.
#  - systemd units: systemd-analyze verify finds nothing, the sandbox's exposure score stays at
#    2.0 or below, and the settings the units promise are there;
#  - container: rootfs.sh assembles the image's file tree (the Dockerfile runs it), holding
#    exactly zt, its links, the libraries ldd names and runtime-files; zt runs in it with chroot
#    as root and as the image's user 65532, on a read-only root with /tmp a tmpfs, through a
#    whole edge-connector-sidecar path; the Dockerfile agrees with runtime-files and with
#    contrib/debian-setup.sh;
#  - the Cloud Run and Kubernetes YAML parse, and they, the units and doc/deploy.md use only
#    zt flags that exist (tests/net/contrib_check.py).
# Each part that lacks its tool (systemd-analyze; root, chroot and unshare; python3-yaml) is
# skipped with a message; the test is skipped (77) when every part is.
. "${top_srcdir:-.}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/zt-net.sh"
zn_init

ran=0
contrib=$top_srcdir/contrib

# --- systemd units ---------------------------------------------------------------------------
if command -v systemd-analyze >/dev/null 2>&1; then
	ran=$((ran + 1))
	mkdir "$T_DIR/units"
	# verify wants the binary of ExecStart to exist: point it at the one built.
	for u in "$contrib"/systemd/*.service; do
		sed "s|/usr/local/bin/zt|$ZT|g" "$u" >"$T_DIR/units/${u##*/}"
	done
	# A template is verified as an instance.
	mv "$T_DIR/units/zt-tunnel@.service" "$T_DIR/units/zt-tunnel@db.service"
	for u in "$T_DIR"/units/*.service; do
		name=${u##*/}
		systemd-analyze verify --man=no "$u" >"$T_DIR/verify.out" 2>&1
		rc=$?
		if [ "$rc" -ne 0 ] || [ -s "$T_DIR/verify.out" ]; then
			t_fail "systemd-analyze verify $name (status $rc):"
			cat "$T_DIR/verify.out" >&2
		else
			t_pass "systemd-analyze verify $name: nothing to say"
		fi
		systemd-analyze security --offline=true --threshold=20 "$u" >"$T_DIR/security.out" 2>&1
		rc=$?
		score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' \
			"$T_DIR/security.out")
		t_check "systemd-analyze security $name: exposure $score, at most 2.0" \
			test "$rc" -eq 0 -a -n "$score"
	done
	# The settings each unit promises (doc/deploy.md relies on them).
	for u in "$contrib"/systemd/*.service; do
		name=${u##*/}
		for s in Type=notify NotifyAccess=main 'WatchdogSec=[1-9]' Restart=on-failure \
		    'RestartPreventExitStatus=' NoNewPrivileges=yes ProtectSystem=strict \
		    ProtectHome=yes PrivateTmp=yes 'CapabilityBoundingSet=' \
		    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' \
		    SystemCallFilter=@system-service MemoryDenyWriteExecute=yes LockPersonality=yes \
		    'ExecStart=/usr/local/bin/zt '; do
			t_check "$name has $s" grep -q "^$s" "$u"
		done
	done
	u=$contrib/systemd
	t_check "zt-edge: no restart after a configuration error (78)" \
		grep -q '^RestartPreventExitStatus=.*\<78\>' "$u/zt-edge.service"
	t_check "zt-tunnel@: no restart after a configuration error (78)" \
		grep -q '^RestartPreventExitStatus=.*\<78\>' "$u/zt-tunnel@.service"
	t_check "zt-dns: no restart after a configuration error (dnsmasq's 1)" \
		grep -q '^RestartPreventExitStatus=1$' "$u/zt-dns.service"
	t_check "zt-dns: may bind port 53, and only that" eval \
		'grep -q "^AmbientCapabilities=CAP_NET_BIND_SERVICE$" "$u/zt-dns.service" &&
		grep -q "^CapabilityBoundingSet=CAP_NET_BIND_SERVICE$" "$u/zt-dns.service"'
	t_check "zt-dns: netlink, to follow the addresses" \
		grep -q '^RestrictAddressFamilies=.*AF_NETLINK' "$u/zt-dns.service"
	t_check "zt-edge and zt-tunnel@: no capability at all" eval \
		'grep -q "^CapabilityBoundingSet=$" "$u/zt-edge.service" &&
		grep -q "^CapabilityBoundingSet=$" "$u/zt-tunnel@.service"'
	t_check "zt-tunnel@: the token is a credential, read from %d" eval \
		'grep -q "^LoadCredential=tunnel-token:" "$u/zt-tunnel@.service" &&
		grep -q "^ExecStart=.* --token-file %d/tunnel-token" "$u/zt-tunnel@.service"'
	t_check "zt-edge: state in StateDirectory=zt (/var/lib/zt, edge.ini's default)" \
		grep -q '^StateDirectory=zt$' "$u/zt-edge.service"
	t_check "zt-edge, zt-tunnel@ and zt-dns reload with SIGHUP" eval \
		'grep -q "^ExecReload=/bin/kill -HUP \$MAINPID$" "$u/zt-edge.service" &&
		grep -q "^ExecReload=/bin/kill -HUP \$MAINPID$" "$u/zt-tunnel@.service" &&
		grep -q "^ExecReload=/bin/kill -HUP \$MAINPID$" "$u/zt-dns.service"'
	t_check "zt-dns runs in the foreground (-k), as Type=notify needs" \
		grep -q '^ExecStart=.* -k' "$u/zt-dns.service"
else
	echo "SKIP: systemd-analyze is not installed: the units are not verified"
fi

# --- the container's file tree -------------------------------------------------------------
d=$contrib/docker
t_check "the Dockerfile assembles the runtime tree with rootfs.sh" \
	grep -q '^ *&& sh contrib/docker/rootfs.sh /rootfs /out/usr/bin/zt$' "$d/Dockerfile"
t_check "the runtime stage is that tree alone (FROM scratch, COPY /rootfs/)" eval \
	'grep -q "^FROM scratch$" "$d/Dockerfile" &&
	grep -q "^COPY --from=build /rootfs/ /$" "$d/Dockerfile"'
user=$(sed -n 's/^USER \([0-9]*:[0-9]*\)$/\1/p' "$d/Dockerfile")
t_check "the image runs as a numeric user ($user), not root" \
	eval 'test -n "$user" && test "${user%%:*}" -ne 0'
# Each directory runtime-files gives to the user is given to it again by the Dockerfile (COPY
# does not promise to keep owners), and the user has its passwd and group lines.
sed -e 's/#.*//' "$d/runtime-files" | while read -r kind path mode owner source; do
	[ "$kind" = dir ] && [ "$owner" = "$user" ] || continue
	echo "$path"
done >"$T_DIR/user-dirs"
t_check "runtime-files gives the user a directory (the volume)" test -s "$T_DIR/user-dirs"
while read -r p; do
	t_check "the Dockerfile copies $p with --chown=$user" \
		grep -q "^COPY --from=build --chown=$user /rootfs$p/ $p/$" "$d/Dockerfile"
	t_check "the Dockerfile declares $p a volume" grep -q "^VOLUME .*\"$p\"" "$d/Dockerfile"
done <"$T_DIR/user-dirs"
t_check "passwd and group name uid and gid ${user%%:*}" eval \
	'grep -q "^[a-z]*:x:${user%%:*}:${user##*:}:" "$d/passwd" &&
	grep -q "^[a-z]*:x:${user##*:}:" "$d/group"'
# The build stage installs what contrib/debian-setup.sh builds with.
# build_pkgs="..." may continue over several lines until its closing quote.
build_pkgs=$(sed -n '/^build_pkgs="/,/"$/p' "$contrib/debian-setup.sh" | sed 's/^build_pkgs="//; s/"$//')
t_check "debian-setup.sh's build_pkgs found" test -n "$build_pkgs"
for p in $build_pkgs; do
	t_check "the Dockerfile's build stage installs $p" grep -q "^[[:space:]].*\<$p\>" "$d/Dockerfile"
done

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: not root: the container's tree is not assembled nor run"
elif ! command -v chroot >/dev/null 2>&1; then
	echo "SKIP: chroot is missing: the container's tree is not run"
elif LC_ALL=C ldd "$ZT" | grep -q 'lib[a-z]*san\.so'; then
	echo "SKIP: zt is built with sanitizers, which need /proc: the container's tree is not run"
else
	ran=$((ran + 1))
	root=$T_DIR/root
	t_run sh "$d/rootfs.sh" "$root" "$ZT"
	t_check "rootfs.sh assembles the tree" test "$T_RC" -eq 0
	cat "$T_DIR/out" "$T_DIR/err"
	t_run sh "$d/rootfs.sh" "$root" "$ZT"
	t_check "rootfs.sh refuses a directory that is not empty" \
		eval '[ "$T_RC" -eq 1 ] && grep -q "is not empty" "$T_DIR/err"'

	# Exactly the files expected: zt, what ldd names, and the files of runtime-files.
	{
		echo /usr/bin/zt
		LC_ALL=C ldd "$ZT" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
		sed -e 's/#.*//' "$d/runtime-files" | awk '$1 == "host" || $1 == "here" { print $2 }'
	} | sort >"$T_DIR/files.expected"
	(cd "$root" && find . -type f | sed 's/^\.//' | sort) >"$T_DIR/files.found"
	n=$(wc -l <"$T_DIR/files.found")
	t_check "the tree holds exactly zt, its libraries and runtime-files ($n files)" \
		cmp -s "$T_DIR/files.expected" "$T_DIR/files.found"
	diff "$T_DIR/files.expected" "$T_DIR/files.found" >&2
	"$ZT" --list-links | sort >"$T_DIR/links.expected"
	(cd "$root/usr/bin" && find . -type l | sed 's|^\./||' | sort) >"$T_DIR/links.found"
	t_check "the tree holds every zt-APPLET link, and no other link" \
		cmp -s "$T_DIR/links.expected" "$T_DIR/links.found"
	t_check "the libraries include libssl, libcrypto, libevent core and openssl, libinih, libc" \
		eval 'for l in libssl.so.3 libcrypto.so.3 libevent_core-2.1.so.7 \
		    libevent_openssl-2.1.so.7 libinih.so.1 libc.so.6; do
			grep -q "/$l\$" "$T_DIR/files.found" || exit 1; done'
	t_check "the volume belongs to the user, mode 0700" \
		test "$(stat -c '%u:%g %a' "$root/var/lib/zt")" = "$user 700"
	t_check "/tmp is 1777" test "$(stat -c '%a' "$root/tmp")" = 1777
	t_check "nothing else belongs to the user" \
		test -z "$(find "$root" -user "${user%%:*}" ! -path "$root/var/lib/zt")"

	for who in root "$user"; do
		spec=""
		[ "$who" = root ] || spec=--userspec=$who
		t_run chroot $spec "$root" /usr/bin/zt --version
		t_check "chroot as $who: zt --version" \
			eval '[ "$T_RC" -eq 0 ] && grep -q "^zt " "$T_DIR/out"'
		t_run chroot $spec "$root" /usr/bin/zt-access tcp --help
		t_check "chroot as $who: zt-access tcp --help (the link)" \
			eval '[ "$T_RC" -eq 0 ] && grep -q "usage: zt access tcp" "$T_DIR/out"'
	done

	if ! command -v unshare >/dev/null 2>&1 || ! unshare -m true 2>/dev/null; then
		echo "SKIP: cannot make a mount namespace here: zt is not run on a read-only root"
	else
		# zt as the image runs it: the user 65532, the root read-only, /tmp a tmpfs, and (standing
		# in for the volumes) the test's directory mounted at its own path. zt-net.sh's helpers
		# call $ZT, so a whole network runs in the tree.
		cat >"$T_DIR/zt-in-image" <<EOF
#!/bin/sh
exec unshare -m sh -c '
	set -e
	mount --make-rprivate /
	mount --bind "\$1" "\$1"
	mount -o remount,bind,ro "\$1"
	mount -t tmpfs -o mode=1777,size=1m tmpfs "\$1/tmp"
	mkdir -p "\$1\$2"
	mount --bind "\$2" "\$1\$2"
	shift 2
	exec chroot --userspec=$user "$root" /usr/bin/zt "\$@"' sh "$root" "$T_DIR" "\$@"
EOF
		chmod 755 "$T_DIR/zt-in-image"
		# Directories the mount needs that the read-only root must already hold (when $T_DIR is
		# not under /tmp, which the tmpfs covers).
		case $T_DIR in
		/tmp/*) ;;
		*) mkdir -p "$root$T_DIR" ;;
		esac
		host_zt=$ZT
		ZT=$T_DIR/zt-in-image
		give() { # the test's files to the user, as a volume's would be
			find "$T_DIR" -path "$root" -prune -o -exec chown "$user" {} +
		}
		give
		t_run "$ZT" --version
		t_check "zt runs in the read-only tree as $user" \
			eval '[ "$T_RC" -eq 0 ] && grep -q "^zt " "$T_DIR/out"'
		# /var/lib/zt is the user's, but without a volume it is part of the read-only root.
		t_run "$ZT" edge init /var/lib/zt/edge --name edge.test
		t_check "... whose root is read-only: writing /var/lib/zt without a volume fails" \
			eval '[ "$T_RC" -ne 0 ] && grep -q "Read-only file system" "$T_DIR/err"'
		zn_edge_init
		zn_app hello.test db "allow token:ci"
		give
		zn_tunnel_create db
		give
		zn_token_create ci
		give
		t_check "zt edge init, tunnel create and token create as $user in the tree" \
			test "$(stat -c '%u' "$ZN_STATE/tunnels/db")" = "${user%%:*}"
		zn_edge_start
		# Each run of zt-in-image has its own /tmp: the status file goes to the shared directory.
		"$ZT" tunnel run --token-file "$ZN_SECRETS/db.token" --hostname hello.test --url hello \
		    --status-file "$T_DIR/conn.status" --log-level debug >>"$T_DIR/conn.log" 2>&1 &
		zn_remember conn $!
		t_check "the connector in the tree registers a connection (zt tunnel ready, in the tree)" \
			t_wait '"$ZT" tunnel ready --status-file "$T_DIR/conn.status" >/dev/null 2>&1' 15
		timeout 30 "$ZT" access tcp --hostname hello.test --id "$(zn_id ci)" \
		    --secret-file "$ZN_SECRETS/ci.secret" --edge "127.0.0.1:$ZN_EDGE_PORT" \
		    --edge-pin "$ZN_PIN" </dev/null >"$T_DIR/hello.out" 2>>"$T_DIR/access.log"
		rc=$?
		t_check "a sidecar in the tree reaches the connector's hello service through the edge" \
			eval '[ "$rc" -eq 0 ] &&
			grep -q "^hello from zt: hello.test via tunnel .* for token:ci" "$T_DIR/hello.out"'
		if [ "$T_FAILED" -ne 0 ]; then
			tail -n 5 "$T_DIR/edge.log" "$T_DIR/conn.log" "$T_DIR/access.log" >&2
		fi
		zn_check_secrets
		ZT=$host_zt
	fi
fi

# --- YAML, units and doc/deploy.md use flags that exist --------------------------------------
if /usr/bin/python3 -c 'import yaml' 2>/dev/null; then
	ran=$((ran + 1))
	/usr/bin/python3 "$top_srcdir/tests/net/contrib_check.py" "$ZT" "$top_srcdir" \
		>"$T_DIR/check.out" 2>&1
	rc=$?
	cat "$T_DIR/check.out"
	t_check "contrib_check.py finds nothing wrong" test "$rc" -eq 0
	# And it can fail: a flag that does not exist, in a copy of the tree's examples.
	mkdir -p "$T_DIR/fake/contrib/cloud-run" "$T_DIR/fake/contrib/kubernetes" "$T_DIR/fake/doc"
	sed 's/- --edge-pin$/- --edge-pinn/' "$contrib/cloud-run/service.yaml" \
		>"$T_DIR/fake/contrib/cloud-run/service.yaml"
	cp "$contrib/kubernetes/deployment.yaml" "$T_DIR/fake/contrib/kubernetes/"
	cp "$top_srcdir/doc/deploy.md" "$top_srcdir/doc/zt-dns.8" "$T_DIR/fake/doc/"
	/usr/bin/python3 "$top_srcdir/tests/net/contrib_check.py" "$ZT" "$T_DIR/fake" \
		>"$T_DIR/check.out" 2>&1
	rc=$?
	t_check "contrib_check.py reports a flag that does not exist" eval \
		'[ "$rc" -eq 1 ] && grep -q "^FAIL: .*has no flag --edge-pinn" "$T_DIR/check.out"'
else
	echo "SKIP: python3-yaml is not installed: the YAML examples are not checked"
fi

if [ "$ran" -eq 0 ]; then
	t_skip "nothing to check here (no systemd-analyze, not root, no python3-yaml)"
fi
t_done
