/* check_resolver: dnsmasq 2.90's pipeline over local data, cache and domain table. */
#include "config.h"

#include <sys/socket.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "common/dns.h"
#include "common/dnscache.h"
#include "common/dnsconf.h"
#include "common/log.h"
#include "common/resolver.h"
#include "common/util.h"
#include "suites.h"

static char tmpdir[64];
static struct dnsconf *conf;
static struct dnscache *cache;
static struct resolver *res;
static uint8_t out[DNS_MAXMSG];

static const char base_conf[] =
"no-resolv\n"
"server=192.0.2.53\n"
"server=/fwd.test/192.0.2.54\n"
"rev-server=10.99.0.0/16,192.0.2.55\n"
"address=/webdevelop.internal/10.130.0.1\n"
"address=/kratos.webdevelop.internal/10.130.0.100\n"
"address=/both.test/192.0.2.77\n"
"address=/both.test/2001:db8::77\n"
"address=/zero.test/#\n"
"address=/blocked.test/\n"
"address=/v6only.test/2001:db8::66\n"
"local=/corp.test/\n"
"address=/a.corp.test/10.5.5.5\n"
"domain-needed\n"
"bogus-priv\n"
"cname=cn.example.test,rec.example.test\n"
"host-record=rec.example.test,192.0.2.10,2001:db8::10\n"
"txt-record=txt.example.test,\"v=spf1 -all\"\n"
"srv-host=_ldap._tcp.example.test,ldap.example.test,389,10,20\n"
"mx-host=example.test,mail.example.test,5\n"
"ptr-record=5.2.0.192.in-addr.arpa,five.example.test\n"
"expand-hosts\n"
"domain=lan\n"
"max-ttl=100\n";

/* Loads base_conf plus extra, a hosts file, and a resolver with a cache. */
static void
setup_with(const char *extra)
{
	struct dnsconf_params params = { 0 };
	struct dnscache_options copts = { .size = 150 };
	char *text, hosts[128], *full;
	FILE *fp;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/zt-check-resolver-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(hosts, sizeof(hosts), "%s/hosts", tmpdir);
	fp = fopen(hosts, "w");
	ck_assert_ptr_nonnull(fp);
	fputs("10.1.1.1 hostonly.webdevelop.internal hostonly\n192.168.7.7 printer\n"
	    "::1 localhost\n127.0.0.1 localhost\nbad-address name\n", fp);
	fclose(fp);
	xasprintf(&text, "no-hosts\naddn-hosts=%s\n", hosts);
	xasprintf(&full, "%s%s%s", base_conf, text, extra != NULL ? extra : "");
	ck_assert_int_eq(dnsconf_load_buffer(&params, "test.conf", full, strlen(full), &conf), 0);
	free(text);
	free(full);
	cache = dnscache_new(&copts);
	res = resolver_new(conf, cache, NULL);
	ck_assert_ptr_nonnull(res);
}

static void
setup(void)
{
	log_set_output(fopen("/dev/null", "w"));
	setup_with(NULL);
}

static void
teardown(void)
{
	char cmd[128];

	resolver_free(res);
	dnscache_free(cache);
	dnsconf_free(conf);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* A query for name/type; edns 0 means no OPT RR. */
static size_t
make_query(uint8_t *buf, size_t cap, const char *name, uint16_t type, uint16_t qclass,
    uint16_t edns, uint16_t flags)
{
	struct dns_builder b;
	struct dns_name n;

	ck_assert_int_eq(dns_name_from_text(name, &n), 0);
	dns_builder_init(&b, buf, cap, 0x4242, flags);
	dns_build_question(&b, &n, type, qclass);
	if (edns != 0)
		dns_build_opt(&b, edns, 0, 0, 0, NULL, 0);
	return dns_builder_finish(&b);
}

struct answer {
	struct resolver_result r;
	struct dns_msg m;
	unsigned int rcode;
	size_t nanswer;
	char first[256];	/* text of the first answer's rdata for A/AAAA/names */
	uint32_t first_ttl;
};

/* Runs one query through the pipeline and parses the reply. */
static void
ask(struct answer *a, const char *name, uint16_t type, uint16_t edns, bool tcp)
{
	uint8_t q[512];
	size_t qlen = make_query(q, sizeof(q), name, type, DNS_C_IN, edns, DNS_F_RD);

	memset(a, 0, sizeof(*a));
	resolver_query(res, q, qlen, tcp, 1000, out, sizeof(out), &a->r);
	if (a->r.action != RESOLVER_REPLY)
		return;
	ck_assert_int_eq(dns_parse(out, a->r.len, &a->m), 0);
	ck_assert_uint_eq(a->m.id, 0x4242);
	ck_assert(a->m.flags & DNS_F_QR);
	ck_assert(a->m.flags & DNS_F_RA);
	a->rcode = DNS_RCODE(a->m.flags);
	a->nanswer = a->m.count[DNS_SEC_ANSWER];
	if (a->nanswer > 0) {
		size_t pos = a->m.sec_off[DNS_SEC_ANSWER];
		struct dns_rr rr;
		uint8_t rd[1100];
		size_t rdlen;

		ck_assert_int_eq(dns_rr_next(&a->m, out, a->r.len, &pos, &rr), 1);
		a->first_ttl = rr.ttl;
		if (rr.type == DNS_T_A)
			inet_ntop(AF_INET, rr.rdata, a->first, sizeof(a->first));
		else if (rr.type == DNS_T_AAAA)
			inet_ntop(AF_INET6, rr.rdata, a->first, sizeof(a->first));
		else if (rr.type == DNS_T_CNAME || rr.type == DNS_T_PTR) {
			struct dns_name n;
			ck_assert_int_eq(dns_rdata_expand(out, a->r.len, &rr, rd, sizeof(rd),
			    &rdlen), 0);
			memcpy(n.wire, rd, rdlen);
			n.len = (uint8_t)rdlen;
			dns_name_to_text(&n, a->first, sizeof(a->first));
		}
	}
}

START_TEST(test_address)
{
	struct answer a;

	ask(&a, "kratos.webdevelop.internal", DNS_T_A, 1232, false);
	ck_assert_int_eq(a.r.action, RESOLVER_REPLY);
	ck_assert(a.m.flags & DNS_F_AA);
	ck_assert_str_eq(a.first, "10.130.0.100");
	ck_assert_uint_eq(a.first_ttl, 0);
	ck_assert(a.m.edns.present);
	ck_assert_uint_eq(a.m.edns.udp_size, 1232);
	/* Longest match; whole labels only; case-insensitive. */
	ask(&a, "X.Kratos.WebDevelop.Internal", DNS_T_A, 0, false);
	ck_assert_str_eq(a.first, "10.130.0.100");
	ck_assert(!a.m.edns.present);
	ask(&a, "deep.sub.webdevelop.internal", DNS_T_A, 0, false);
	ck_assert_str_eq(a.first, "10.130.0.1");
	/* Names with '-', '_' and digits, and names with bytes that are escaped in text. */
	ask(&a, "Under_Score-9.WebDevelop.Internal", DNS_T_A, 0, false);
	ck_assert_str_eq(a.first, "10.130.0.1");
	ask(&a, "\\200X\\(y.Kratos.WebDevelop.Internal", DNS_T_A, 0, false);
	ck_assert_str_eq(a.first, "10.130.0.100");
	ask(&a, "xwebdevelop.internal", DNS_T_A, 0, false);
	ck_assert_int_eq(a.r.action, RESOLVER_FORWARD);
	ck_assert(!a.r.rewrite_nx);
	/* Another type of an address= name: forwarded, NXDOMAIN to be rewritten. */
	ask(&a, "kratos.webdevelop.internal", DNS_T_AAAA, 0, false);
	ck_assert_int_eq(a.r.action, RESOLVER_FORWARD);
	ck_assert(a.r.rewrite_nx);
	ck_assert_uint_eq(a.r.group, 0);
}
END_TEST

START_TEST(test_address_kinds)
{
	struct answer a;

	ask(&a, "both.test", DNS_T_ANY, 0, false);
	ck_assert_uint_eq(a.nanswer, 1);	/* dnsmasq 2.90: the IPv6 literal only */
	ck_assert_str_eq(a.first, "2001:db8::77");
	ask(&a, "zero.test", DNS_T_AAAA, 0, false);
	ck_assert_str_eq(a.first, "::");
	ask(&a, "sub.zero.test", DNS_T_A, 0, false);
	ck_assert_str_eq(a.first, "0.0.0.0");
	ask(&a, "blocked.test", DNS_T_MX, 0, false);
	ck_assert_uint_eq(a.rcode, DNS_R_NXDOMAIN);
	ck_assert(!(a.m.flags & DNS_F_AA));
	ask(&a, "v6only.test", DNS_T_A, 0, false);
	ck_assert_int_eq(a.r.action, RESOLVER_FORWARD);
	ck_assert(a.r.rewrite_nx);
	/* The parent local= catches what the child address= does not answer. */
	ask(&a, "a.corp.test", DNS_T_A, 0, false);
	ck_assert_str_eq(a.first, "10.5.5.5");
	ask(&a, "a.corp.test", DNS_T_AAAA, 0, false);
	ck_assert_uint_eq(a.rcode, DNS_R_NXDOMAIN);
	ask(&a, "x.corp.test", DNS_T_TXT, 0, false);
	ck_assert_uint_eq(a.rcode, DNS_R_NXDOMAIN);
}
END_TEST

START_TEST(test_groups_and_domain_needed)
{
	struct answer a;
	const struct resolver_group *g;

	ask(&a, "www.fwd.test", DNS_T_A, 0, false);
	ck_assert_int_eq(a.r.action, RESOLVER_FORWARD);
	ck_assert_uint_ne(a.r.group, 0);
	g = resolver_group(res, a.r.group);
	ck_assert_uint_eq(g->nservers, 1);
	ck_assert_str_eq(g->domain, "fwd.test");
	ask(&a, "plainname", DNS_T_A, 0, false);
	ck_assert_uint_eq(a.rcode, DNS_R_NXDOMAIN);
	ask(&a, "plainname", DNS_T_MX, 0, false);
	ck_assert_int_eq(a.r.action, RESOLVER_FORWARD);
	/* A dotless name known locally gets NODATA instead. */
	ask(&a, "printer", DNS_T_AAAA, 0, false);
	ck_assert_int_eq(a.r.action, RESOLVER_REPLY);
	ck_assert_uint_eq(a.rcode, DNS_R_NOERROR);
	ck_assert_uint_eq(a.nanswer, 0);
	/* rev-server: its own group for the reverse zone; bogus-priv yields to it. */
	ask(&a, "1.2.99.10.in-addr.arpa", DNS_T_PTR, 0, false);
	ck_assert_int_eq(a.r.action, RESOLVER_FORWARD);
	ck_assert_uint_ne(a.r.group, 0);
	ask(&a, "1.2.3.10.in-addr.arpa", DNS_T_PTR, 0, false);
	ck_assert_uint_eq(a.rcode, DNS_R_NXDOMAIN);
	ck_assert(a.m.flags & DNS_F_AA);
	ask(&a, "10.in-addr.arpa", DNS_T_PTR, 0, false);
	ck_assert_uint_eq(a.rcode, DNS_R_NXDOMAIN);
	ask(&a, "10.in-addr.arpa", DNS_T_SOA, 0, false);
	ck_assert_int_eq(a.r.action, RESOLVER_FORWARD);
	ck_assert_uint_eq(resolver_group_count(res), 3);
}
END_TEST

START_TEST(test_local_data)
{
	struct answer a;

	ask(&a, "rec.example.test", DNS_T_AAAA, 0, false);
	ck_assert_str_eq(a.first, "2001:db8::10");
	ck_assert(a.m.flags & DNS_F_AA);
	ask(&a, "cn.example.test", DNS_T_A, 0, false);
	ck_assert_uint_eq(a.nanswer, 2);
	ck_assert_str_eq(a.first, "rec.example.test");
	ask(&a, "txt.example.test", DNS_T_TXT, 0, false);
	ck_assert_uint_eq(a.nanswer, 1);
	ask(&a, "_ldap._tcp.example.test", DNS_T_SRV, 0, false);
	ck_assert_uint_eq(a.nanswer, 1);
	ask(&a, "example.test", DNS_T_MX, 0, false);
	ck_assert_uint_eq(a.nanswer, 1);
	ask(&a, "5.2.0.192.in-addr.arpa", DNS_T_PTR, 0, false);
	ck_assert_str_eq(a.first, "five.example.test");
	ask(&a, "10.2.0.192.in-addr.arpa", DNS_T_PTR, 0, false);
	ck_assert_str_eq(a.first, "rec.example.test");
	/* Hosts: names, expand-hosts, the PTR owned by the expanded first name. */
	ask(&a, "hostonly.webdevelop.internal", DNS_T_A, 0, false);
	ck_assert_str_eq(a.first, "10.1.1.1");
	ask(&a, "printer.lan", DNS_T_A, 0, false);
	ck_assert_str_eq(a.first, "192.168.7.7");
	ask(&a, "7.7.168.192.in-addr.arpa", DNS_T_PTR, 0, false);
	ck_assert_str_eq(a.first, "printer.lan");
	/* A name with local data of another type: forwarded with the NXDOMAIN rewrite. */
	ask(&a, "txt.example.test", DNS_T_A, 0, false);
	ck_assert_int_eq(a.r.action, RESOLVER_FORWARD);
	ck_assert(a.r.rewrite_nx);
}
END_TEST

START_TEST(test_chaos)
{
	uint8_t q[512];
	size_t qlen;
	struct resolver_result r;
	struct dns_msg m;

	qlen = make_query(q, sizeof(q), "version.bind", DNS_T_TXT, DNS_C_CH, 0, 0);
	resolver_query(res, q, qlen, false, 1000, out, sizeof(out), &r);
	ck_assert_int_eq(r.action, RESOLVER_REPLY);
	ck_assert_int_eq(dns_parse(out, r.len, &m), 0);
	ck_assert_uint_eq(m.count[DNS_SEC_ANSWER], 1);
	ck_assert(memmem(out, r.len, "zt-", 3) != NULL);
	qlen = make_query(q, sizeof(q), "foo.bind", DNS_T_TXT, DNS_C_CH, 0, 0);
	resolver_query(res, q, qlen, false, 1000, out, sizeof(out), &r);
	ck_assert_int_eq(dns_parse(out, r.len, &m), 0);
	ck_assert_uint_eq(DNS_RCODE(m.flags), DNS_R_NOTIMP);
}
END_TEST

START_TEST(test_malformed)
{
	uint8_t q[512];
	size_t qlen;
	struct resolver_result r;
	struct dns_msg m;

	qlen = make_query(q, sizeof(q), "kratos.webdevelop.internal", DNS_T_A, DNS_C_IN, 0, 0);
	/* QR set: a reply, dropped. */
	q[2] |= 0x80;
	resolver_query(res, q, qlen, false, 1000, out, sizeof(out), &r);
	ck_assert_int_eq(r.action, RESOLVER_DROP);
	q[2] &= 0x7f;
	/* Short packets: dropped. */
	resolver_query(res, q, qlen - 1, false, 1000, out, sizeof(out), &r);
	ck_assert_int_eq(r.action, RESOLVER_DROP);
	resolver_query(res, q, 11, false, 1000, out, sizeof(out), &r);
	ck_assert_int_eq(r.action, RESOLVER_DROP);
	/* Trailing bytes are ignored, as dnsmasq 2.90 does. */
	q[qlen] = 0;
	resolver_query(res, q, qlen + 1, false, 1000, out, sizeof(out), &r);
	ck_assert_int_eq(r.action, RESOLVER_REPLY);
	/* NOTIFY: NOTIMP, not forwarded. */
	q[2] = (uint8_t)(DNS_MKOPCODE(DNS_OP_NOTIFY) >> 8);
	resolver_query(res, q, qlen, false, 1000, out, sizeof(out), &r);
	ck_assert_int_eq(r.action, RESOLVER_REPLY);
	ck_assert_int_eq(dns_parse(out, r.len, &m), 0);
	ck_assert_uint_eq(DNS_RCODE(m.flags), DNS_R_NOTIMP);
	q[2] = 0;
	/* Two questions: REFUSED. */
	q[5] = 2;
	memcpy(q + qlen, q + 12, qlen - 12);
	resolver_query(res, q, qlen + (qlen - 12), false, 1000, out, sizeof(out), &r);
	ck_assert_int_eq(r.action, RESOLVER_REPLY);
	ck_assert_int_eq(dns_parse(out, r.len, &m), 0);
	ck_assert_uint_eq(DNS_RCODE(m.flags), DNS_R_REFUSED);
}
END_TEST

START_TEST(test_truncation)
{
	struct answer a;
	char *extra = NULL, *p;

	teardown();
	/* 40 addresses: 40 * 16 bytes of A RRs do not fit in 512 bytes... */
	p = extra = xmalloc(40 * 40);
	*p = '\0';
	for (int i = 0; i < 40; i++)
		p += sprintf(p, "address=/many.test/192.0.2.%d\n", i + 1);
	setup_with(extra);
	free(extra);
	ask(&a, "many.test", DNS_T_A, 0, false);
	ck_assert_int_eq(a.r.action, RESOLVER_REPLY);
	ck_assert(a.m.flags & DNS_F_TC);
	ck_assert_uint_eq(a.nanswer, 0);
	ck_assert_uint_le(a.r.len, 512);
	/* ... but do in 1232 and over TCP. */
	ask(&a, "many.test", DNS_T_A, 1232, false);
	ck_assert(!(a.m.flags & DNS_F_TC));
	ck_assert_uint_eq(a.nanswer, 40);
	ask(&a, "many.test", DNS_T_A, 0, true);
	ck_assert_uint_eq(a.nanswer, 40);
}
END_TEST

/* An upstream reply to query q with rcode and, when addr is set, one A record. */
static size_t
make_reply(uint8_t *buf, size_t cap, const char *name, uint16_t type, unsigned int rcode,
    const char *addr, uint32_t ttl, bool soa)
{
	struct dns_builder b;
	struct dns_name n, root;
	uint8_t a4[4], soard[64];
	size_t o = 0;

	dns_name_from_text(name, &n);
	dns_name_from_text(".", &root);
	dns_builder_init(&b, buf, cap, 0x9999, (uint16_t)(DNS_F_QR | DNS_F_RD | DNS_F_RA | rcode));
	dns_build_question(&b, &n, type, DNS_C_IN);
	if (addr != NULL) {
		inet_pton(AF_INET, addr, a4);
		dns_build_rr(&b, DNS_SEC_ANSWER, &n, DNS_T_A, DNS_C_IN, ttl, a4, 4);
	}
	if (soa) {
		soard[o++] = 0;	/* mname . */
		soard[o++] = 0;	/* rname . */
		memset(soard + o, 0, 16);
		o += 16;
		soard[o++] = 0; soard[o++] = 0; soard[o++] = 0x0e; soard[o++] = 0x10; /* 3600 */
		dns_build_rr(&b, DNS_SEC_AUTHORITY, &root, DNS_T_SOA, DNS_C_IN, 86400, soard, o);
	}
	return dns_builder_finish(&b);
}

START_TEST(test_forwarded_reply)
{
	uint8_t q[512], up[512];
	size_t qlen, uplen, n;
	struct dns_msg um, m;
	struct answer a;

	/* NXDOMAIN for a name an address= covers becomes NODATA with AA, and is cached so. */
	qlen = make_query(q, sizeof(q), "kratos.webdevelop.internal", DNS_T_AAAA, DNS_C_IN, 1232,
	    DNS_F_RD);
	uplen = make_reply(up, sizeof(up), "kratos.webdevelop.internal", DNS_T_AAAA,
	    DNS_R_NXDOMAIN, NULL, 0, true);
	ck_assert_int_eq(dns_parse(up, uplen, &um), 0);
	n = resolver_forwarded_reply(res, q, qlen, false, up, uplen, &um, true, true, 1000, out,
	    sizeof(out));
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(dns_parse(out, n, &m), 0);
	ck_assert_uint_eq(m.id, 0x4242);
	ck_assert_uint_eq(DNS_RCODE(m.flags), DNS_R_NOERROR);
	ck_assert(m.flags & DNS_F_AA);
	ck_assert_uint_eq(m.count[DNS_SEC_AUTHORITY], 1);
	ck_assert(m.edns.present);
	ask(&a, "kratos.webdevelop.internal", DNS_T_AAAA, 0, false);
	ck_assert_int_eq(a.r.action, RESOLVER_REPLY);
	ck_assert(!(a.m.flags & DNS_F_AA));	/* from the cache */
	ck_assert_uint_eq(a.rcode, DNS_R_NOERROR);
	/* TTLs are capped by max-ttl=100; an answer too big for a client is TC and empty. */
	qlen = make_query(q, sizeof(q), "www.example.com", DNS_T_A, DNS_C_IN, 0, DNS_F_RD);
	uplen = make_reply(up, sizeof(up), "www.example.com", DNS_T_A, DNS_R_NOERROR,
	    "93.184.215.14", 3600, false);
	ck_assert_int_eq(dns_parse(up, uplen, &um), 0);
	n = resolver_forwarded_reply(res, q, qlen, false, up, uplen, &um, false, true, 1000, out,
	    sizeof(out));
	ck_assert_int_eq(dns_parse(out, n, &m), 0);
	ck_assert(!m.edns.present);
	{
		size_t pos = m.sec_off[DNS_SEC_ANSWER];
		struct dns_rr rr;
		ck_assert_int_eq(dns_rr_next(&m, out, n, &pos, &rr), 1);
		ck_assert_uint_eq(rr.ttl, 100);
	}
	/* Answered from the cache now, TTL counting down from what upstream said. */
	{
		uint8_t q2[512];
		size_t q2len = make_query(q2, sizeof(q2), "www.example.com", DNS_T_A, DNS_C_IN, 0,
		    DNS_F_RD);
		struct resolver_result r;
		resolver_query(res, q2, q2len, false, 1010, out, sizeof(out), &r);
		ck_assert_int_eq(r.action, RESOLVER_REPLY);
		ck_assert_str_eq(r.source, "cached");
	}
}
END_TEST

START_TEST(test_resolv_servers)
{
	struct sockaddr_storage ss[2];
	socklen_t len;

	ck_assert_uint_eq(resolver_group(res, 0)->nservers, 1);
	util_sockaddr_from("192.0.2.1", 53, &ss[0], &len);
	util_sockaddr_from("2001:db8::1", 53, &ss[1], &len);
	resolver_set_resolv_servers(res, ss, 2);
	ck_assert_uint_eq(resolver_group(res, 0)->nservers, 3);
	resolver_set_resolv_servers(res, ss, 1);
	ck_assert_uint_eq(resolver_group(res, 0)->nservers, 2);
	ck_assert_int_eq(resolver_reload_hosts(res), 0);
}
END_TEST

Suite *
resolver_suite(void)
{
	Suite *s = suite_create("resolver");
	TCase *tc = tcase_create("pipeline");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_address);
	tcase_add_test(tc, test_address_kinds);
	tcase_add_test(tc, test_groups_and_domain_needed);
	tcase_add_test(tc, test_local_data);
	tcase_add_test(tc, test_chaos);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_truncation);
	tcase_add_test(tc, test_forwarded_reply);
	tcase_add_test(tc, test_resolv_servers);
	suite_add_tcase(s, tc);
	return s;
}
