/* suites.h: one Check suite per module of src/common, gathered by runner.c. */
#ifndef ZT_TEST_SUITES_H
#define ZT_TEST_SUITES_H

#include <check.h>

#define ZT_SUITES(X) \
	X(conf) \
	X(conntoken) \
	X(copy) \
	X(dns) \
	X(dnscache) \
	X(dnsconf) \
	X(ev) \
	X(httpc) \
	X(httpd) \
	X(ifaddr) \
	X(ingress) \
	X(jwt) \
	X(log) \
	X(loginfile) \
	X(metrics) \
	X(mux) \
	X(policy) \
	X(qr) \
	X(resolver) \
	X(signkeys) \
	X(sdnotify) \
	X(state) \
	X(tls) \
	X(users) \
	X(util) \
	X(web)

#define ZT_SUITE_PROTOTYPE(name) Suite *name##_suite(void);
ZT_SUITES(ZT_SUITE_PROTOTYPE)
#undef ZT_SUITE_PROTOTYPE

#endif
