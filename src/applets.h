/* applets.h: the one list of zt's applets; every other list (prototypes, the dispatch table,
 * help, install links) is generated from it. */
#ifndef ZT_APPLETS_H
#define ZT_APPLETS_H

/* Install a link named after the applet itself as well as zt-NAME (not for names such as
 * login, which would shadow a system program). */
#define APPLET_BARE_LINK	0x01

/* X(name, flags, one-line summary), in the order help lists them. */
#define ZT_APPLETS(X) \
	X(edge, APPLET_BARE_LINK, "the public endpoint: TLS, authentication, app policies") \
	X(tunnel, APPLET_BARE_LINK, "outbound-only connector next to private services") \
	X(access, APPLET_BARE_LINK, "sidecar: a local port that reaches an app through the edge") \
	X(login, 0, "sign in to an edge as a person (device code); zt access uses the login") \
	X(logout, 0, "sign out of an edge: the edge revokes the login, the file forgets it") \
	X(dns, APPLET_BARE_LINK, "private DNS resolver: dnsmasq's configuration, dnsmasq's answers") \
	X(token, APPLET_BARE_LINK, "service tokens on the edge host: create, list, revoke, rotate") \
	X(doctor, 0, "checks this machine's way to the edge, with a fix for each failure") \
	X(demo, 0, "a whole private network on loopback, to try zt or --check it")

#define ZT_APPLET_PROTOTYPE(name, flags, summary) int name##_main(int argc, char **argv);
ZT_APPLETS(ZT_APPLET_PROTOTYPE)
#undef ZT_APPLET_PROTOTYPE

#endif
