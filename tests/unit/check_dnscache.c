/* check_dnscache: storing upstream replies and answering from the cache, as dnsmasq 2.90 does. */
#include "config.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "common/dns.h"
#include "common/dnscache.h"
#include "common/util.h"
#include "suites.h"

#define GOT_MAX	16	/* RRs per section formatted by ask() */

/* An upstream reply being built. */
struct up {
	uint8_t			buf[16384];
	struct dns_builder	b;
};

/* A cache answer, parsed back: each RR as "owner TYPE rdata" and its TTL. */
struct got {
	enum dnscache_status	status;
	struct dnscache_reply	r;
	uint16_t		flags;
	int			n[DNS_NSECTIONS];
	char			rr[DNS_NSECTIONS][GOT_MAX][320];
	uint32_t		ttl[DNS_NSECTIONS][GOT_MAX];
};

static struct dnscache *
cache_new(uint32_t size)
{
	struct dnscache_options o = { .size = size };
	struct dnscache *c = dnscache_new(&o);

	ck_assert_ptr_nonnull(c);
	return c;
}

static struct dns_name
name(const char *text)
{
	struct dns_name n;

	ck_assert_int_eq(dns_name_from_text(text, &n), 0);
	return n;
}

/* Starts an upstream reply to qname/qtype; flags adds to QR RD RA (an rcode, TC ...). */
static void
up_begin(struct up *u, const char *qname, uint16_t qtype, uint16_t flags)
{
	struct dns_name n = name(qname);

	ck_assert_int_eq(dns_builder_init(&u->b, u->buf, sizeof(u->buf), 0x4242,
	    DNS_F_QR | DNS_F_RD | DNS_F_RA | flags), 0);
	ck_assert_int_eq(dns_build_question(&u->b, &n, qtype, DNS_C_IN), 0);
}

static void
put16(uint8_t *p, unsigned int v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/* RDATA from text: an address, a name, "prio weight port target" (SRV), "pref host" (MX),
 * "mname rname serial refresh retry expire minimum" (SOA) or a TXT string. */
static size_t
rdata(uint16_t type, const char *text, uint8_t *rd)
{
	char a[256], b[256];
	unsigned int v[5];
	struct dns_name n, m;

	switch (type) {
	case DNS_T_A:
		ck_assert_int_eq(inet_pton(AF_INET, text, rd), 1);
		return 4;
	case DNS_T_AAAA:
		ck_assert_int_eq(inet_pton(AF_INET6, text, rd), 1);
		return 16;
	case DNS_T_CNAME:
	case DNS_T_PTR:
	case DNS_T_NS:
		n = name(text);
		memcpy(rd, n.wire, n.len);
		return n.len;
	case DNS_T_SRV:
		ck_assert_int_eq(sscanf(text, "%u %u %u %255s", &v[0], &v[1], &v[2], a), 4);
		put16(rd, v[0]);
		put16(rd + 2, v[1]);
		put16(rd + 4, v[2]);
		n = name(a);
		memcpy(rd + 6, n.wire, n.len);
		return 6 + (size_t)n.len;
	case DNS_T_MX:
		ck_assert_int_eq(sscanf(text, "%u %255s", &v[0], a), 2);
		put16(rd, v[0]);
		n = name(a);
		memcpy(rd + 2, n.wire, n.len);
		return 2 + (size_t)n.len;
	case DNS_T_SOA:
		ck_assert_int_eq(sscanf(text, "%255s %255s %u %u %u %u %u", a, b, &v[0], &v[1],
		    &v[2], &v[3], &v[4]), 7);
		n = name(a);
		m = name(b);
		memcpy(rd, n.wire, n.len);
		memcpy(rd + n.len, m.wire, m.len);
		for (int i = 0; i < 5; i++)
			put32(rd + n.len + m.len + 4 * i, v[i]);
		return (size_t)n.len + m.len + 20;
	default:
		rd[0] = (uint8_t)strlen(text);
		memcpy(rd + 1, text, rd[0]);
		return 1 + (size_t)rd[0];
	}
}

static void
up_rr_class(struct up *u, enum dns_section sec, const char *owner, uint16_t type,
    uint16_t rclass, uint32_t ttl, const char *text)
{
	uint8_t rd[1024];
	struct dns_name o = name(owner);
	size_t n = rdata(type, text, rd);

	ck_assert_int_eq(dns_build_rr(&u->b, sec, &o, type, rclass, ttl, rd, n), 0);
}

static void
up_rr(struct up *u, enum dns_section sec, const char *owner, uint16_t type, uint32_t ttl,
    const char *text)
{
	up_rr_class(u, sec, owner, type, DNS_C_IN, ttl, text);
}

/* An SOA for zone in the authority section: RR TTL ttl, MINIMUM minimum. */
static void
up_soa(struct up *u, const char *zone, uint32_t ttl, uint32_t minimum)
{
	char text[300];

	ck_assert(util_snprintf(text, sizeof(text),
	    "ns.%s hostmaster.%s 2024010101 7200 900 1209600 %u",
	    strcmp(zone, ".") == 0 ? "root" : zone, strcmp(zone, ".") == 0 ? "root" : zone,
	    minimum));
	up_rr(u, DNS_SEC_AUTHORITY, zone, DNS_T_SOA, ttl, text);
}

/* Parses the reply and stores it; returns what dnscache_store returns. */
static int
up_store(struct dnscache *c, struct up *u, time_t now)
{
	struct dns_msg msg;
	size_t len = dns_builder_finish(&u->b);

	ck_assert_int_eq(dns_parse(u->buf, len, &msg), 0);
	return dnscache_store(c, &msg, u->buf, len, now);
}

/* A one-record A reply for qname, stored. */
static int
store_a(struct dnscache *c, const char *qname, const char *addr, uint32_t ttl, time_t now)
{
	struct up u;

	up_begin(&u, qname, DNS_T_A, 0);
	up_rr(&u, DNS_SEC_ANSWER, qname, DNS_T_A, ttl, addr);
	return up_store(c, &u, now);
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Formats RDATA read back from an answer. */
static void
fmt_rdata(uint16_t type, const uint8_t *rd, size_t n, char *out, size_t outlen)
{
	char a[DNS_MAXTEXT], b[DNS_MAXTEXT];
	struct dns_name nm;
	struct dns_soa soa;

	switch (type) {
	case DNS_T_A:
	case DNS_T_AAAA:
		ck_assert_ptr_nonnull(inet_ntop(type == DNS_T_A ? AF_INET : AF_INET6, rd, out,
		    (socklen_t)outlen));
		return;
	case DNS_T_CNAME:
	case DNS_T_PTR:
		nm.len = (uint8_t)n;
		memcpy(nm.wire, rd, n);
		ck_assert_int_ge(dns_name_to_text(&nm, out, outlen), 0);
		return;
	case DNS_T_SRV:
		nm.len = (uint8_t)(n - 6);
		memcpy(nm.wire, rd + 6, n - 6);
		ck_assert_int_ge(dns_name_to_text(&nm, a, sizeof(a)), 0);
		ck_assert(util_snprintf(out, outlen, "%u %u %u %s", get16(rd), get16(rd + 2),
		    get16(rd + 4), a));
		return;
	case DNS_T_SOA:
		ck_assert_int_eq(dns_soa_read(rd, n, 0, n, &soa), 0);
		ck_assert_int_ge(dns_name_to_text(&soa.mname, a, sizeof(a)), 0);
		ck_assert_int_ge(dns_name_to_text(&soa.rname, b, sizeof(b)), 0);
		ck_assert(util_snprintf(out, outlen, "%s %s %u", a, b, soa.minimum));
		return;
	default:
		ck_assert(util_snprintf(out, outlen, "(%zu bytes)", n));
	}
}

/* Asks the cache for qname/qtype into a builder of bufsize bytes and parses the result
 * back into *g. A miss must leave the builder exactly as it was. */
static enum dnscache_status
ask_sized(struct dnscache *c, const char *qname, uint16_t qtype, time_t now, uint32_t max_ttl,
    size_t bufsize, struct got *g)
{
	uint8_t buf[8192], copy[8192], rd[DNS_EXPAND_MAX];
	char owner[DNS_MAXTEXT], type[DNS_TYPE_TEXT], text[DNS_MAXTEXT];
	struct dns_builder b, before;
	struct dns_name n = name(qname);
	struct dns_msg msg;
	struct dns_rr rr;
	size_t len, pos, rdlen;

	memset(g, 0, sizeof(*g));
	ck_assert_int_le(bufsize, sizeof(buf));
	ck_assert_int_eq(dns_builder_init(&b, buf, bufsize, 0x1234,
	    DNS_F_QR | DNS_F_RD | DNS_F_RA), 0);
	ck_assert_int_eq(dns_build_question(&b, &n, qtype, DNS_C_IN), 0);
	before = b;
	memcpy(copy, buf, b.len);
	g->status = dnscache_answer(c, &n, qtype, DNS_C_IN, now, max_ttl, &b, &g->r);
	ck_assert_int_eq(g->status, g->r.status);
	if (g->status == DNSCACHE_MISS) {
		ck_assert(memcmp(&b, &before, sizeof(b)) == 0);
		ck_assert(memcmp(buf, copy, b.len) == 0);
	} else {
		ck_assert_int_eq(dns_set_flags(buf, b.len, (uint16_t)g->r.rcode, DNS_F_RCODE), 0);
	}
	len = dns_builder_finish(&b);
	ck_assert_int_eq(dns_parse(buf, len, &msg), 0);
	g->flags = msg.flags;
	pos = msg.sec_off[DNS_SEC_ANSWER];
	while (dns_rr_next(&msg, buf, len, &pos, &rr) == 1) {
		int i = g->n[rr.section]++;

		if (i >= GOT_MAX)
			continue;
		ck_assert_int_eq(rr.rclass, DNS_C_IN);
		ck_assert_int_eq(dns_rdata_expand(buf, len, &rr, rd, sizeof(rd), &rdlen), 0);
		ck_assert_int_ge(dns_name_to_text(&rr.name, owner, sizeof(owner)), 0);
		ck_assert_int_eq(dns_type_name(rr.type, type, sizeof(type)), 0);
		fmt_rdata(rr.type, rd, rdlen, text, sizeof(text));
		ck_assert(util_snprintf(g->rr[rr.section][i], sizeof(g->rr[0][0]), "%s %s %s",
		    owner, type, text));
		g->ttl[rr.section][i] = rr.ttl;
	}
	ck_assert_int_eq(g->n[DNS_SEC_ANSWER], g->r.answers);
	ck_assert_int_eq(g->n[DNS_SEC_AUTHORITY], g->r.authority);
	return g->status;
}

static enum dnscache_status
ask(struct dnscache *c, const char *qname, uint16_t qtype, time_t now, struct got *g)
{
	return ask_sized(c, qname, qtype, now, 0, 4096, g);
}

static struct dnscache_stats
stats(const struct dnscache *c)
{
	struct dnscache_stats st;

	dnscache_stats(c, &st);
	return st;
}

START_TEST(test_a_positive)
{
	struct dnscache *c = cache_new(150);
	struct got g;
	struct up u;

	up_begin(&u, "www.example.test", DNS_T_A, 0);
	up_rr(&u, DNS_SEC_ANSWER, "www.example.test", DNS_T_A, 300, "192.0.2.1");
	up_rr(&u, DNS_SEC_ANSWER, "www.example.test", DNS_T_A, 200, "192.0.2.2");
	ck_assert_int_eq(up_store(c, &u, 1000), 2);
	/* The name is matched without regard to case; the answer carries the asker's case. */
	ck_assert_int_eq(ask(c, "WWW.Example.TEST", DNS_T_A, 1000, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(g.r.rcode, DNS_R_NOERROR);
	ck_assert(!g.r.truncated);
	ck_assert_int_eq(g.n[DNS_SEC_ANSWER], 2);
	ck_assert_int_eq(g.n[DNS_SEC_AUTHORITY], 0);
	ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][0], "WWW.Example.TEST A 192.0.2.1");
	ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][1], "WWW.Example.TEST A 192.0.2.2");
	/* The RRset's TTL is the smallest of its RRs'. */
	ck_assert_uint_eq(g.ttl[DNS_SEC_ANSWER][0], 200);
	ck_assert_uint_eq(g.ttl[DNS_SEC_ANSWER][1], 200);
	/* Nothing for AAAA. */
	ck_assert_int_eq(ask(c, "www.example.test", DNS_T_AAAA, 1000, &g), DNSCACHE_MISS);
	ck_assert_int_eq(stats(c).records, 2);
	ck_assert_int_eq(stats(c).entries, 1);
	dnscache_free(c);
}
END_TEST

START_TEST(test_aaaa_positive)
{
	struct dnscache *c = cache_new(150);
	struct got g;
	struct up u;

	up_begin(&u, "v6.example.test", DNS_T_AAAA, 0);
	up_rr(&u, DNS_SEC_ANSWER, "V6.example.test", DNS_T_AAAA, 60, "2001:db8::1");
	ck_assert_int_eq(up_store(c, &u, 5), 1);
	ck_assert_int_eq(ask(c, "v6.example.test", DNS_T_AAAA, 5, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(g.n[DNS_SEC_ANSWER], 1);
	ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][0], "v6.example.test AAAA 2001:db8::1");
	ck_assert_uint_eq(g.ttl[DNS_SEC_ANSWER][0], 60);
	ck_assert_int_eq(ask(c, "v6.example.test", DNS_T_A, 5, &g), DNSCACHE_MISS);
	dnscache_free(c);
}
END_TEST

START_TEST(test_cname_chain)
{
	struct dnscache *c = cache_new(150);
	struct got g;
	struct up u;

	up_begin(&u, "www.a.test", DNS_T_A, 0);
	up_rr(&u, DNS_SEC_ANSWER, "www.a.test", DNS_T_CNAME, 600, "B.test");
	up_rr(&u, DNS_SEC_ANSWER, "b.test", DNS_T_CNAME, 500, "c.test");
	up_rr(&u, DNS_SEC_ANSWER, "c.test", DNS_T_A, 100, "10.0.0.1");
	ck_assert_int_eq(up_store(c, &u, 0), 3);

	ck_assert_int_eq(ask(c, "www.a.test", DNS_T_A, 10, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(g.n[DNS_SEC_ANSWER], 3);
	ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][0], "www.a.test CNAME B.test");
	ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][1], "B.test CNAME c.test");
	ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][2], "c.test A 10.0.0.1");
	/* Each RRset counts down on its own. */
	ck_assert_uint_eq(g.ttl[DNS_SEC_ANSWER][0], 590);
	ck_assert_uint_eq(g.ttl[DNS_SEC_ANSWER][1], 490);
	ck_assert_uint_eq(g.ttl[DNS_SEC_ANSWER][2], 90);

	/* The middle of the chain answers too. */
	ck_assert_int_eq(ask(c, "b.test", DNS_T_A, 10, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(g.n[DNS_SEC_ANSWER], 2);
	ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][1], "c.test A 10.0.0.1");

	/* A CNAME query gets the cached CNAME alone. */
	ck_assert_int_eq(ask(c, "www.a.test", DNS_T_CNAME, 10, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(g.n[DNS_SEC_ANSWER], 1);
	ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][0], "www.a.test CNAME B.test");

	/* A builder too small for the first CNAME: still a hit, truncated. */
	ck_assert_int_eq(ask_sized(c, "www.a.test", DNS_T_A, 10, 0, 40, &g), DNSCACHE_POSITIVE);
	ck_assert(g.r.truncated);
	ck_assert(g.flags & DNS_F_TC);
	ck_assert_int_eq(g.n[DNS_SEC_ANSWER], 0);

	/* The target has no cached AAAA: a miss, though the CNAMEs are cached. */
	ck_assert_int_eq(ask(c, "www.a.test", DNS_T_AAAA, 10, &g), DNSCACHE_MISS);

	/* Once the A expires, the chain no longer answers A. */
	ck_assert_int_eq(ask(c, "www.a.test", DNS_T_A, 100, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "www.a.test", DNS_T_CNAME, 100, &g), DNSCACHE_POSITIVE);
	dnscache_free(c);
}
END_TEST

START_TEST(test_cname_target_not_in_message)
{
	struct dnscache *c = cache_new(150);
	struct got g;
	struct up u;

	/* Upstream gave only the CNAME and no SOA: the CNAME is cached, no negative. */
	up_begin(&u, "alias.test", DNS_T_A, 0);
	up_rr(&u, DNS_SEC_ANSWER, "alias.test", DNS_T_CNAME, 300, "elsewhere.example");
	ck_assert_int_eq(up_store(c, &u, 0), 1);
	ck_assert_int_eq(stats(c).records, 1);
	ck_assert_int_eq(ask(c, "alias.test", DNS_T_A, 1, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "elsewhere.example", DNS_T_A, 1, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "alias.test", DNS_T_CNAME, 1, &g), DNSCACHE_POSITIVE);
	ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][0], "alias.test CNAME elsewhere.example");

	/* Storing the target's A later completes the chain. */
	ck_assert_int_eq(store_a(c, "elsewhere.example", "198.51.100.7", 50, 2), 1);
	ck_assert_int_eq(ask(c, "alias.test", DNS_T_A, 3, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(g.n[DNS_SEC_ANSWER], 2);
	ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][1], "elsewhere.example A 198.51.100.7");
	ck_assert_uint_eq(g.ttl[DNS_SEC_ANSWER][0], 297);
	ck_assert_uint_eq(g.ttl[DNS_SEC_ANSWER][1], 49);
	dnscache_free(c);
}
END_TEST

/* A reply for n0.chain.test whose answer has n CNAMEs n0 -> n1 -> ... -> nN and an A at nN. */
static int
store_chain(struct dnscache *c, int n, time_t now)
{
	char owner[64], target[64];
	struct up u;

	up_begin(&u, "n0.chain.test", DNS_T_A, 0);
	for (int i = 0; i < n; i++) {
		ck_assert(util_snprintf(owner, sizeof(owner), "n%d.chain.test", i));
		ck_assert(util_snprintf(target, sizeof(target), "n%d.chain.test", i + 1));
		up_rr(&u, DNS_SEC_ANSWER, owner, DNS_T_CNAME, 100, target);
	}
	ck_assert(util_snprintf(owner, sizeof(owner), "n%d.chain.test", n));
	up_rr(&u, DNS_SEC_ANSWER, owner, DNS_T_A, 100, "192.0.2.99");
	return up_store(c, &u, now);
}

START_TEST(test_cname_chain_limit)
{
	struct dnscache *c = cache_new(150);
	uint64_t ins;
	struct got g;
	struct up u;

	/* Ten CNAMEs are followed. */
	ck_assert_int_eq(store_chain(c, 10, 0), 11);
	ck_assert_int_eq(ask(c, "n0.chain.test", DNS_T_A, 0, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(g.n[DNS_SEC_ANSWER], 11);
	dnscache_flush(c);

	/* Eleven are too many: the first ten CNAMEs only, and n0 does not answer. */
	ck_assert_int_eq(store_chain(c, 11, 0), 10);
	ck_assert_int_eq(ask(c, "n0.chain.test", DNS_T_A, 0, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "n11.chain.test", DNS_T_A, 0, &g), DNSCACHE_MISS);
	/* n1 has ten cached CNAMEs after it but n11's A was never stored. */
	ck_assert_int_eq(ask(c, "n1.chain.test", DNS_T_A, 0, &g), DNSCACHE_MISS);
	dnscache_flush(c);

	/* A loop neither hangs nor answers. */
	up_begin(&u, "loop1.test", DNS_T_A, 0);
	up_rr(&u, DNS_SEC_ANSWER, "loop1.test", DNS_T_CNAME, 100, "loop2.test");
	up_rr(&u, DNS_SEC_ANSWER, "loop2.test", DNS_T_CNAME, 100, "loop1.test");
	ins = stats(c).insertions;
	ck_assert_int_eq(up_store(c, &u, 0), 2);
	ck_assert_int_eq(stats(c).records, 2);
	ck_assert_uint_eq(stats(c).insertions, ins + 2);
	ck_assert_int_eq(ask(c, "loop1.test", DNS_T_A, 0, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "loop2.test", DNS_T_A, 0, &g), DNSCACHE_MISS);
	dnscache_free(c);
}
END_TEST

START_TEST(test_ptr_and_srv)
{
	struct dnscache *c = cache_new(150);
	struct got g;
	struct up u;

	up_begin(&u, "7.100.51.198.in-addr.arpa", DNS_T_PTR, 0);
	up_rr(&u, DNS_SEC_ANSWER, "7.100.51.198.in-addr.arpa", DNS_T_PTR, 3600, "host.example");
	ck_assert_int_eq(up_store(c, &u, 0), 1);
	ck_assert_int_eq(ask(c, "7.100.51.198.in-addr.arpa", DNS_T_PTR, 600, &g),
	    DNSCACHE_POSITIVE);
	ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][0], "7.100.51.198.in-addr.arpa PTR host.example");
	ck_assert_uint_eq(g.ttl[DNS_SEC_ANSWER][0], 3000);

	up_begin(&u, "_sip._tcp.example.test", DNS_T_SRV, 0);
	up_rr(&u, DNS_SEC_ANSWER, "_sip._tcp.example.test", DNS_T_SRV, 120,
	    "10 60 5060 sip1.example.test");
	up_rr(&u, DNS_SEC_ANSWER, "_sip._tcp.example.test", DNS_T_SRV, 120,
	    "20 0 5061 sip2.example.test");
	/* Additional-section addresses of the targets are not cached. */
	up_rr(&u, DNS_SEC_ADDITIONAL, "sip1.example.test", DNS_T_A, 120, "192.0.2.10");
	ck_assert_int_eq(up_store(c, &u, 0), 2);
	ck_assert_int_eq(ask(c, "_sip._tcp.example.test", DNS_T_SRV, 0, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(g.n[DNS_SEC_ANSWER], 2);
	ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][0],
	    "_sip._tcp.example.test SRV 10 60 5060 sip1.example.test");
	ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][1],
	    "_sip._tcp.example.test SRV 20 0 5061 sip2.example.test");
	ck_assert_int_eq(ask(c, "sip1.example.test", DNS_T_A, 0, &g), DNSCACHE_MISS);
	dnscache_free(c);
}
END_TEST

START_TEST(test_uncacheable_types)
{
	struct dnscache *c = cache_new(150);
	struct got g;
	struct up u;

	ck_assert(dnscache_type_cacheable(DNS_T_A));
	ck_assert(dnscache_type_cacheable(DNS_T_SRV));
	ck_assert(!dnscache_type_cacheable(DNS_T_TXT));
	ck_assert(!dnscache_type_cacheable(DNS_T_ANY));

	up_begin(&u, "txt.test", DNS_T_TXT, 0);
	up_rr(&u, DNS_SEC_ANSWER, "txt.test", DNS_T_TXT, 300, "v=spf1 -all");
	ck_assert_int_eq(up_store(c, &u, 0), 0);
	ck_assert_int_eq(ask(c, "txt.test", DNS_T_TXT, 0, &g), DNSCACHE_MISS);

	up_begin(&u, "mx.test", DNS_T_MX, 0);
	up_rr(&u, DNS_SEC_ANSWER, "mx.test", DNS_T_MX, 300, "10 mail.mx.test");
	ck_assert_int_eq(up_store(c, &u, 0), 0);
	ck_assert_int_eq(ask(c, "mx.test", DNS_T_MX, 0, &g), DNSCACHE_MISS);

	/* Neither is a NODATA for an uncacheable type (it is forwarded again next time). */
	up_begin(&u, "a-only.test", DNS_T_TXT, 0);
	up_soa(&u, "test", 300, 300);
	ck_assert_int_eq(up_store(c, &u, 0), 0);
	ck_assert_int_eq(ask(c, "a-only.test", DNS_T_TXT, 0, &g), DNSCACHE_MISS);
	/* ... nor an NXDOMAIN for one. */
	up_begin(&u, "gone.test", DNS_T_MX, DNS_R_NXDOMAIN);
	up_soa(&u, "test", 300, 300);
	ck_assert_int_eq(up_store(c, &u, 0), 0);
	ck_assert_int_eq(ask(c, "gone.test", DNS_T_A, 0, &g), DNSCACHE_MISS);

	/* ANY is never answered from the cache, even with data cached. */
	ck_assert_int_eq(store_a(c, "any.test", "192.0.2.1", 300, 0), 1);
	ck_assert_int_eq(ask(c, "any.test", DNS_T_ANY, 0, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "any.test", DNS_T_A, 0, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(stats(c).records, 1);
	dnscache_free(c);
}
END_TEST

START_TEST(test_other_classes)
{
	struct dnscache *c = cache_new(150);
	struct dns_name n = name("ch.test");
	struct dns_builder b;
	uint8_t buf[512];
	struct dns_msg msg;
	size_t len;

	/* A CHAOS-class question: not stored, whatever the class of its answers. */
	ck_assert_int_eq(dns_builder_init(&b, buf, sizeof(buf), 1, DNS_F_QR), 0);
	ck_assert_int_eq(dns_build_question(&b, &n, DNS_T_A, DNS_C_CH), 0);
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &n, DNS_T_A, DNS_C_CH, 300,
	    (const uint8_t *)"\x0a\x00\x00\x01", 4), 0);
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_ANSWER, &n, DNS_T_A, DNS_C_IN, 300,
	    (const uint8_t *)"\x0a\x00\x00\x02", 4), 0);
	len = dns_builder_finish(&b);
	ck_assert_int_eq(dns_parse(buf, len, &msg), 0);
	ck_assert_int_eq(dnscache_store(c, &msg, buf, len, 0), 0);
	ck_assert_int_eq(stats(c).records, 0);

	/* An IN question whose answer RR has another class: not part of the RRset. */
	{
		struct up u;
		struct got g;

		up_begin(&u, "mixed.test", DNS_T_A, 0);
		up_rr_class(&u, DNS_SEC_ANSWER, "mixed.test", DNS_T_A, DNS_C_CH, 300, "10.0.0.1");
		up_rr(&u, DNS_SEC_ANSWER, "mixed.test", DNS_T_A, 300, "10.0.0.2");
		ck_assert_int_eq(up_store(c, &u, 0), 1);
		ck_assert_int_eq(ask(c, "mixed.test", DNS_T_A, 0, &g), DNSCACHE_POSITIVE);
		ck_assert_int_eq(g.n[DNS_SEC_ANSWER], 1);
		ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][0], "mixed.test A 10.0.0.2");
	}
	/* Asking in another class is a miss. */
	{
		uint8_t qb[512];
		struct dnscache_reply r;

		ck_assert_int_eq(dns_builder_init(&b, qb, sizeof(qb), 1, DNS_F_QR), 0);
		n = name("mixed.test");
		ck_assert_int_eq(dns_build_question(&b, &n, DNS_T_A, DNS_C_CH), 0);
		ck_assert_int_eq(dnscache_answer(c, &n, DNS_T_A, DNS_C_CH, 0, 0, &b, &r),
		    DNSCACHE_MISS);
		ck_assert_int_eq(b.count[DNS_SEC_ANSWER], 0);
	}
	dnscache_free(c);
}
END_TEST

START_TEST(test_ttl_countdown_and_expiry)
{
	struct dnscache *c = cache_new(150);
	struct got g;

	ck_assert_int_eq(store_a(c, "tick.test", "192.0.2.5", 100, 1000), 1);
	ck_assert_int_eq(ask(c, "tick.test", DNS_T_A, 1000, &g), DNSCACHE_POSITIVE);
	ck_assert_uint_eq(g.ttl[DNS_SEC_ANSWER][0], 100);
	ck_assert_int_eq(ask(c, "tick.test", DNS_T_A, 1040, &g), DNSCACHE_POSITIVE);
	ck_assert_uint_eq(g.ttl[DNS_SEC_ANSWER][0], 60);
	ck_assert_int_eq(ask(c, "tick.test", DNS_T_A, 1099, &g), DNSCACHE_POSITIVE);
	ck_assert_uint_eq(g.ttl[DNS_SEC_ANSWER][0], 1);
	/* At its expiry time the entry is gone, and reclaimed by the lookup. */
	ck_assert_int_eq(ask(c, "tick.test", DNS_T_A, 1100, &g), DNSCACHE_MISS);
	ck_assert_int_eq(stats(c).records, 0);
	ck_assert_int_eq(stats(c).entries, 0);
	/* A clock going backwards never shows more than the stored TTL. */
	ck_assert_int_eq(store_a(c, "tick.test", "192.0.2.5", 100, 1000), 1);
	ck_assert_int_eq(ask(c, "tick.test", DNS_T_A, 900, &g), DNSCACHE_POSITIVE);
	ck_assert_uint_eq(g.ttl[DNS_SEC_ANSWER][0], 100);
	dnscache_free(c);
}
END_TEST

/* The cache counts time in 32-bit ticks from 2^31 s before it started: any clock within 68
 * years either way counts down exactly; one outside it never yields a TTL above the stored
 * one, and an entry stored too far in the future expires at once instead of wrapping. */
START_TEST(test_clock_range)
{
	struct dnscache *c = cache_new(150);
	time_t t0 = time(NULL);
	struct got g;

	/* 60 years on: still exact. */
	ck_assert_int_eq(store_a(c, "late.test", "192.0.2.1", 300, t0 + 60 * 365 * 86400L), 1);
	ck_assert_int_eq(ask(c, "late.test", DNS_T_A, t0 + 60 * 365 * 86400L + 100, &g),
	    DNSCACHE_POSITIVE);
	ck_assert_uint_eq(g.ttl[DNS_SEC_ANSWER][0], 200);
	/* 60 years back: still exact. */
	ck_assert_int_eq(store_a(c, "early.test", "192.0.2.2", 300, t0 - 60 * 365 * 86400L), 1);
	ck_assert_int_eq(ask(c, "early.test", DNS_T_A, t0 - 60 * 365 * 86400L + 299, &g),
	    DNSCACHE_POSITIVE);
	ck_assert_uint_eq(g.ttl[DNS_SEC_ANSWER][0], 1);
	ck_assert_int_eq(ask(c, "early.test", DNS_T_A, t0 - 60 * 365 * 86400L + 300, &g),
	    DNSCACHE_MISS);
	/* Beyond the range either way: no wrap-around, no TTL above the stored one. */
	ck_assert_int_eq(store_a(c, "far.test", "192.0.2.3", 300, (time_t)INT64_MAX), 1);
	ck_assert_int_eq(ask(c, "far.test", DNS_T_A, (time_t)INT64_MAX, &g), DNSCACHE_MISS);
	ck_assert_int_eq(store_a(c, "past.test", "192.0.2.4", 300, (time_t)INT64_MIN), 1);
	ck_assert_int_eq(ask(c, "past.test", DNS_T_A, (time_t)INT64_MIN, &g), DNSCACHE_POSITIVE);
	ck_assert_uint_eq(g.ttl[DNS_SEC_ANSWER][0], 300);
	ck_assert_int_eq(ask(c, "past.test", DNS_T_A, t0, &g), DNSCACHE_MISS);
	dnscache_free(c);
}
END_TEST

/* The prefetch hints of a UDP batch: a token for a well-formed query (the same for the same
 * name), none for anything malformed, and the cache's answers unchanged. */
START_TEST(test_prefetch_hints)
{
	struct dnscache *c = cache_new(150), *empty = cache_new(0);
	uint8_t q[512], bad[512];
	struct dns_builder b;
	struct dns_name n;
	const void *t;
	size_t len;
	struct got g;

	ck_assert_int_eq(store_a(c, "pf.test", "192.0.2.1", 300, 0), 1);
	ck_assert_int_eq(dns_name_from_text("pf.test", &n), 0);
	ck_assert_int_eq(dns_builder_init(&b, q, sizeof(q), 1, DNS_F_RD), 0);
	ck_assert_int_eq(dns_build_question(&b, &n, DNS_T_A, DNS_C_IN), 0);
	len = dns_builder_finish(&b);
	t = dnscache_prefetch_bucket(c, q, len);
	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_eq(dnscache_prefetch_bucket(c, q, len), t);
	dnscache_prefetch_entry(t);
	dnscache_prefetch_entry(NULL);
	ck_assert_ptr_null(dnscache_prefetch_bucket(NULL, q, len));
	ck_assert_ptr_null(dnscache_prefetch_bucket(empty, q, len));
	/* Shorter than a header; cut inside the name; cut before its root label. */
	ck_assert_ptr_null(dnscache_prefetch_bucket(c, q, 11));
	ck_assert_ptr_null(dnscache_prefetch_bucket(c, q, 12));
	ck_assert_ptr_null(dnscache_prefetch_bucket(c, q, 12 + 4));
	ck_assert_ptr_null(dnscache_prefetch_bucket(c, q, 12 + 8));
	ck_assert_ptr_nonnull(dnscache_prefetch_bucket(c, q, 12 + 9));
	/* A compression pointer or a label over 63 bytes; a name over 255 bytes. */
	memcpy(bad, q, len);
	bad[12] = 0xc0;
	ck_assert_ptr_null(dnscache_prefetch_bucket(c, bad, len));
	bad[12] = 64;
	ck_assert_ptr_null(dnscache_prefetch_bucket(c, bad, len));
	memset(bad + 12, 'a', sizeof(bad) - 12);
	for (size_t i = 0; i < 4; i++)
		bad[12 + i * 64] = 63;
	bad[12 + 256] = 0;
	ck_assert_ptr_null(dnscache_prefetch_bucket(c, bad, sizeof(bad)));
	bad[12 + 192] = 61;
	bad[12 + 254] = 0;	/* 3 x 64 + 62 + the root: 255 bytes */
	ck_assert_ptr_nonnull(dnscache_prefetch_bucket(c, bad, sizeof(bad)));
	/* Hints only. */
	ck_assert_int_eq(ask(c, "pf.test", DNS_T_A, 10, &g), DNSCACHE_POSITIVE);
	ck_assert_uint_eq(g.ttl[DNS_SEC_ANSWER][0], 290);
	dnscache_free(c);
	dnscache_free(empty);
}
END_TEST

START_TEST(test_ttl_zero_and_rfc2181)
{
	struct dnscache *c = cache_new(150);
	struct got g;
	struct up u;

	ck_assert_int_eq(store_a(c, "zero.test", "192.0.2.1", 0, 0), 0);
	ck_assert_int_eq(ask(c, "zero.test", DNS_T_A, 0, &g), DNSCACHE_MISS);
	/* RFC 2181 section 8: a TTL with the top bit set counts as 0. */
	ck_assert_int_eq(store_a(c, "huge.test", "192.0.2.1", 0x80000000U, 0), 0);
	ck_assert_int_eq(store_a(c, "huge.test", "192.0.2.1", 0xffffffffU, 0), 0);
	ck_assert_int_eq(store_a(c, "max.test", "192.0.2.1", 0x7fffffffU, 0), 1);
	ck_assert_int_eq(ask(c, "max.test", DNS_T_A, 0, &g), DNSCACHE_POSITIVE);
	ck_assert_uint_eq(g.ttl[DNS_SEC_ANSWER][0], 0x7fffffffU);
	/* One RR with TTL 0 makes the RRset's TTL 0. */
	up_begin(&u, "mixed.test", DNS_T_A, 0);
	up_rr(&u, DNS_SEC_ANSWER, "mixed.test", DNS_T_A, 300, "192.0.2.1");
	up_rr(&u, DNS_SEC_ANSWER, "mixed.test", DNS_T_A, 0, "192.0.2.2");
	ck_assert_int_eq(up_store(c, &u, 0), 0);
	ck_assert_int_eq(stats(c).records, 1);
	dnscache_free(c);
}
END_TEST

START_TEST(test_min_max_cache_ttl)
{
	struct dnscache_options o = { .size = 150, .min_cache_ttl = 60 };
	struct dnscache *c = dnscache_new(&o);
	struct got g;

	ck_assert_int_eq(store_a(c, "short.test", "192.0.2.1", 10, 0), 1);
	ck_assert_int_eq(ask(c, "short.test", DNS_T_A, 0, &g), DNSCACHE_POSITIVE);
	ck_assert_uint_eq(g.ttl[DNS_SEC_ANSWER][0], 60);
	ck_assert_int_eq(ask(c, "short.test", DNS_T_A, 59, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(ask(c, "short.test", DNS_T_A, 60, &g), DNSCACHE_MISS);
	/* TTL 0 is still not cached. */
	ck_assert_int_eq(store_a(c, "zero.test", "192.0.2.1", 0, 0), 0);
	dnscache_free(c);

	/* min-cache-ttl is capped at 3600. */
	o.min_cache_ttl = 7200;
	c = dnscache_new(&o);
	ck_assert_int_eq(store_a(c, "short.test", "192.0.2.1", 10, 0), 1);
	ck_assert_int_eq(ask(c, "short.test", DNS_T_A, 0, &g), DNSCACHE_POSITIVE);
	ck_assert_uint_eq(g.ttl[DNS_SEC_ANSWER][0], 3600);
	dnscache_free(c);

	o.min_cache_ttl = 0;
	o.max_cache_ttl = 100;
	c = dnscache_new(&o);
	ck_assert_int_eq(store_a(c, "long.test", "192.0.2.1", 86400, 0), 1);
	ck_assert_int_eq(ask(c, "long.test", DNS_T_A, 0, &g), DNSCACHE_POSITIVE);
	ck_assert_uint_eq(g.ttl[DNS_SEC_ANSWER][0], 100);
	ck_assert_int_eq(ask(c, "long.test", DNS_T_A, 100, &g), DNSCACHE_MISS);
	ck_assert_int_eq(store_a(c, "short.test", "192.0.2.1", 30, 0), 1);
	ck_assert_int_eq(ask(c, "short.test", DNS_T_A, 0, &g), DNSCACHE_POSITIVE);
	ck_assert_uint_eq(g.ttl[DNS_SEC_ANSWER][0], 30);
	dnscache_free(c);

	/* When they cross, min-cache-ttl wins (dnsmasq applies it last). */
	o.min_cache_ttl = 300;
	o.max_cache_ttl = 100;
	c = dnscache_new(&o);
	ck_assert_int_eq(store_a(c, "x.test", "192.0.2.1", 86400, 0), 1);
	ck_assert_int_eq(ask(c, "x.test", DNS_T_A, 0, &g), DNSCACHE_POSITIVE);
	ck_assert_uint_eq(g.ttl[DNS_SEC_ANSWER][0], 300);
	dnscache_free(c);
}
END_TEST

START_TEST(test_max_ttl_on_answers)
{
	struct dnscache *c = cache_new(150);
	struct got g;
	struct up u;

	ck_assert_int_eq(store_a(c, "cap.test", "192.0.2.1", 1000, 0), 1);
	ck_assert_int_eq(ask_sized(c, "cap.test", DNS_T_A, 0, 50, 512, &g), DNSCACHE_POSITIVE);
	ck_assert_uint_eq(g.ttl[DNS_SEC_ANSWER][0], 50);
	/* The cache keeps the real TTL. */
	ck_assert_int_eq(ask_sized(c, "cap.test", DNS_T_A, 500, 0, 512, &g), DNSCACHE_POSITIVE);
	ck_assert_uint_eq(g.ttl[DNS_SEC_ANSWER][0], 500);
	ck_assert_int_eq(ask_sized(c, "cap.test", DNS_T_A, 990, 50, 512, &g), DNSCACHE_POSITIVE);
	ck_assert_uint_eq(g.ttl[DNS_SEC_ANSWER][0], 10);

	/* The SOA of a negative answer is capped too. */
	up_begin(&u, "nx.cap.test", DNS_T_A, DNS_R_NXDOMAIN);
	up_soa(&u, "cap.test", 600, 600);
	ck_assert_int_eq(up_store(c, &u, 0), 1);
	ck_assert_int_eq(ask_sized(c, "nx.cap.test", DNS_T_A, 0, 50, 512, &g), DNSCACHE_NXDOMAIN);
	ck_assert_uint_eq(g.ttl[DNS_SEC_AUTHORITY][0], 50);
	dnscache_free(c);
}
END_TEST

START_TEST(test_nxdomain)
{
	static const uint16_t types[] = { DNS_T_A, DNS_T_AAAA, DNS_T_CNAME, DNS_T_PTR, DNS_T_SRV };
	struct dnscache *c = cache_new(150);
	struct got g;
	struct up u;

	up_begin(&u, "gone.example.test", DNS_T_A, DNS_R_NXDOMAIN);
	up_soa(&u, "example.test", 3600, 300);
	ck_assert_int_eq(up_store(c, &u, 100), 1);
	ck_assert_int_eq(stats(c).records, 1);

	/* Every cacheable qtype of the name gets NXDOMAIN with the SOA, counting down. */
	for (size_t i = 0; i < nitems(types); i++) {
		ck_assert_int_eq(ask(c, "gone.example.test", types[i], 100 + (time_t)i, &g),
		    DNSCACHE_NXDOMAIN);
		ck_assert_int_eq(g.r.rcode, DNS_R_NXDOMAIN);
		ck_assert_int_eq(DNS_RCODE(g.flags), DNS_R_NXDOMAIN);
		ck_assert_int_eq(g.n[DNS_SEC_ANSWER], 0);
		ck_assert_int_eq(g.n[DNS_SEC_AUTHORITY], 1);
		ck_assert_str_eq(g.rr[DNS_SEC_AUTHORITY][0],
		    "example.test SOA ns.example.test hostmaster.example.test 300");
		ck_assert_uint_eq(g.ttl[DNS_SEC_AUTHORITY][0], 300 - i);
	}
	ck_assert_int_eq(ask(c, "gone.example.test", DNS_T_A, 350, &g), DNSCACHE_NXDOMAIN);
	ck_assert_uint_eq(g.ttl[DNS_SEC_AUTHORITY][0], 50);
	/* Not for other names, not for uncacheable qtypes, not after it expires. */
	ck_assert_int_eq(ask(c, "example.test", DNS_T_A, 101, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "sub.gone.example.test", DNS_T_A, 101, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "gone.example.test", DNS_T_TXT, 101, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "gone.example.test", DNS_T_A, 400, &g), DNSCACHE_MISS);

	/* An NXDOMAIN that also has data for the name contradicts itself: nothing is cached. */
	up_begin(&u, "odd.example.test", DNS_T_A, DNS_R_NXDOMAIN);
	up_rr(&u, DNS_SEC_ANSWER, "odd.example.test", DNS_T_A, 300, "192.0.2.1");
	up_soa(&u, "example.test", 300, 300);
	ck_assert_int_eq(up_store(c, &u, 0), 0);
	ck_assert_int_eq(ask(c, "odd.example.test", DNS_T_A, 0, &g), DNSCACHE_MISS);

	/* The negative TTL is the SOA RR's TTL when that is smaller than MINIMUM. */
	up_begin(&u, "gone2.example.test", DNS_T_AAAA, DNS_R_NXDOMAIN);
	up_soa(&u, "example.test", 60, 3600);
	ck_assert_int_eq(up_store(c, &u, 0), 1);
	ck_assert_int_eq(ask(c, "gone2.example.test", DNS_T_A, 0, &g), DNSCACHE_NXDOMAIN);
	ck_assert_uint_eq(g.ttl[DNS_SEC_AUTHORITY][0], 60);

	/* The root SOA (an NXDOMAIN for .internal from the public root) applies to any name. */
	up_begin(&u, "host.internal", DNS_T_A, DNS_R_NXDOMAIN);
	up_soa(&u, ".", 86400, 86400);
	ck_assert_int_eq(up_store(c, &u, 0), 1);
	ck_assert_int_eq(ask(c, "host.internal", DNS_T_AAAA, 0, &g), DNSCACHE_NXDOMAIN);
	ck_assert_str_eq(g.rr[DNS_SEC_AUTHORITY][0], ". SOA ns.root hostmaster.root 86400");
	dnscache_free(c);
}
END_TEST

START_TEST(test_nxdomain_through_cname)
{
	struct dnscache *c = cache_new(150);
	struct got g;
	struct up u;

	up_begin(&u, "www.a.test", DNS_T_A, DNS_R_NXDOMAIN);
	up_rr(&u, DNS_SEC_ANSWER, "www.a.test", DNS_T_CNAME, 300, "gone.b.test");
	up_soa(&u, "b.test", 120, 120);
	ck_assert_int_eq(up_store(c, &u, 0), 2);
	ck_assert_int_eq(ask(c, "www.a.test", DNS_T_A, 0, &g), DNSCACHE_NXDOMAIN);
	ck_assert_int_eq(g.r.rcode, DNS_R_NXDOMAIN);
	ck_assert_int_eq(g.n[DNS_SEC_ANSWER], 1);
	ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][0], "www.a.test CNAME gone.b.test");
	ck_assert_str_eq(g.rr[DNS_SEC_AUTHORITY][0], "b.test SOA ns.b.test hostmaster.b.test 120");
	/* The NXDOMAIN belongs to the target, not to the alias. */
	ck_assert_int_eq(ask(c, "www.a.test", DNS_T_CNAME, 0, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(ask(c, "gone.b.test", DNS_T_AAAA, 0, &g), DNSCACHE_NXDOMAIN);
	dnscache_free(c);
}
END_TEST

START_TEST(test_nodata)
{
	struct dnscache *c = cache_new(150);
	struct got g;
	struct up u;

	up_begin(&u, "v4only.test", DNS_T_AAAA, 0);
	up_soa(&u, "test", 900, 900);
	ck_assert_int_eq(up_store(c, &u, 0), 1);
	ck_assert_int_eq(ask(c, "v4only.test", DNS_T_AAAA, 10, &g), DNSCACHE_NODATA);
	ck_assert_int_eq(g.r.rcode, DNS_R_NOERROR);
	ck_assert_int_eq(DNS_RCODE(g.flags), DNS_R_NOERROR);
	ck_assert_int_eq(g.n[DNS_SEC_ANSWER], 0);
	ck_assert_int_eq(g.n[DNS_SEC_AUTHORITY], 1);
	ck_assert_str_eq(g.rr[DNS_SEC_AUTHORITY][0], "test SOA ns.test hostmaster.test 900");
	ck_assert_uint_eq(g.ttl[DNS_SEC_AUTHORITY][0], 890);
	/* For that type only. */
	ck_assert_int_eq(ask(c, "v4only.test", DNS_T_A, 10, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "v4only.test", DNS_T_SRV, 10, &g), DNSCACHE_MISS);
	/* The A arrives later: both live side by side. */
	ck_assert_int_eq(store_a(c, "v4only.test", "192.0.2.4", 300, 10), 1);
	ck_assert_int_eq(ask(c, "v4only.test", DNS_T_A, 11, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(ask(c, "v4only.test", DNS_T_AAAA, 11, &g), DNSCACHE_NODATA);
	ck_assert_int_eq(ask(c, "v4only.test", DNS_T_AAAA, 900, &g), DNSCACHE_MISS);
	dnscache_free(c);
}
END_TEST

START_TEST(test_negative_without_soa)
{
	/* NXDOMAIN for x.test with an SOA for test whose RDATA has 2 of its 20 fixed bytes. */
	static const uint8_t badsoa[] = {
		0x12, 0x34, 0x81, 0x83, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
		1, 'x', 4, 't', 'e', 's', 't', 0, 0x00, 0x01, 0x00, 0x01,
		0xc0, 0x0e, 0x00, 0x06, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x04, 0, 0, 0, 1,
	};
	struct dnscache_options o = { .size = 150 };
	struct dnscache *c = dnscache_new(&o);
	struct dns_msg msg;
	struct got g;
	struct up u;

	/* No SOA and no neg-ttl: not cached. */
	up_begin(&u, "nosoa.test", DNS_T_A, DNS_R_NXDOMAIN);
	ck_assert_int_eq(up_store(c, &u, 0), 0);
	up_begin(&u, "nosoa.test", DNS_T_AAAA, 0);
	ck_assert_int_eq(up_store(c, &u, 0), 0);
	ck_assert_int_eq(stats(c).records, 0);
	ck_assert_int_eq(ask(c, "nosoa.test", DNS_T_A, 0, &g), DNSCACHE_MISS);
	/* An SOA for an unrelated zone counts as none. */
	up_begin(&u, "nosoa.test", DNS_T_A, DNS_R_NXDOMAIN);
	up_soa(&u, "victim.example", 300, 300);
	ck_assert_int_eq(up_store(c, &u, 0), 0);
	dnscache_free(c);

	/* With neg-ttl: cached for that long, without an authority section. */
	o.neg_ttl = 30;
	c = dnscache_new(&o);
	up_begin(&u, "nosoa.test", DNS_T_A, DNS_R_NXDOMAIN);
	ck_assert_int_eq(up_store(c, &u, 0), 1);
	up_begin(&u, "nodata.test", DNS_T_AAAA, 0);
	ck_assert_int_eq(up_store(c, &u, 0), 1);
	ck_assert_int_eq(ask(c, "nosoa.test", DNS_T_SRV, 29, &g), DNSCACHE_NXDOMAIN);
	ck_assert_int_eq(g.n[DNS_SEC_AUTHORITY], 0);
	ck_assert_int_eq(ask(c, "nodata.test", DNS_T_AAAA, 29, &g), DNSCACHE_NODATA);
	ck_assert_int_eq(g.n[DNS_SEC_AUTHORITY], 0);
	ck_assert_int_eq(ask(c, "nodata.test", DNS_T_A, 29, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "nosoa.test", DNS_T_A, 30, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "nodata.test", DNS_T_AAAA, 30, &g), DNSCACHE_MISS);
	/* A malformed SOA (its RDATA stops 10 bytes short) counts as none. */
	ck_assert_int_eq(dns_parse(badsoa, sizeof(badsoa), &msg), 0);
	ck_assert_int_eq(dnscache_store(c, &msg, badsoa, sizeof(badsoa), 0), 1);
	ck_assert_int_eq(ask(c, "x.test", DNS_T_A, 0, &g), DNSCACHE_NXDOMAIN);
	ck_assert_int_eq(g.n[DNS_SEC_AUTHORITY], 0);
	ck_assert_uint_eq(g.r.authority, 0);
	/* An SOA still wins over neg-ttl. */
	up_begin(&u, "soa.test", DNS_T_A, DNS_R_NXDOMAIN);
	up_soa(&u, "test", 500, 500);
	ck_assert_int_eq(up_store(c, &u, 0), 1);
	ck_assert_int_eq(ask(c, "soa.test", DNS_T_A, 0, &g), DNSCACHE_NXDOMAIN);
	ck_assert_uint_eq(g.ttl[DNS_SEC_AUTHORITY][0], 500);
	dnscache_free(c);
}
END_TEST

START_TEST(test_no_negcache)
{
	struct dnscache_options o = { .size = 150, .no_negcache = true, .neg_ttl = 60 };
	struct dnscache *c = dnscache_new(&o);
	struct got g;
	struct up u;

	up_begin(&u, "gone.test", DNS_T_A, DNS_R_NXDOMAIN);
	up_soa(&u, "test", 300, 300);
	ck_assert_int_eq(up_store(c, &u, 0), 0);
	up_begin(&u, "v4.test", DNS_T_AAAA, 0);
	up_soa(&u, "test", 300, 300);
	ck_assert_int_eq(up_store(c, &u, 0), 0);
	ck_assert_int_eq(ask(c, "gone.test", DNS_T_A, 0, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "v4.test", DNS_T_AAAA, 0, &g), DNSCACHE_MISS);
	/* Positive answers are still cached. */
	ck_assert_int_eq(store_a(c, "v4.test", "192.0.2.1", 300, 0), 1);
	ck_assert_int_eq(ask(c, "v4.test", DNS_T_A, 0, &g), DNSCACHE_POSITIVE);
	dnscache_free(c);
}
END_TEST

START_TEST(test_bailiwick)
{
	struct dnscache_options o = { .size = 150, .neg_ttl = 60 };
	struct dnscache *c = dnscache_new(&o);
	struct got g;
	struct up u;

	up_begin(&u, "attacker.test", DNS_T_A, 0);
	up_rr(&u, DNS_SEC_ANSWER, "attacker.test", DNS_T_A, 300, "203.0.113.1");
	up_rr(&u, DNS_SEC_ANSWER, "www.victim.test", DNS_T_A, 300, "203.0.113.66");
	up_rr(&u, DNS_SEC_ANSWER, "www.victim.test", DNS_T_CNAME, 300, "evil.test");
	up_rr(&u, DNS_SEC_ANSWER, "mail.victim.test", DNS_T_AAAA, 300, "2001:db8::66");
	up_rr(&u, DNS_SEC_AUTHORITY, "victim.test", DNS_T_NS, 300, "ns.attacker.test");
	up_rr(&u, DNS_SEC_AUTHORITY, "www.victim.test", DNS_T_A, 300, "203.0.113.67");
	up_soa(&u, "victim.test", 300, 300);
	up_rr(&u, DNS_SEC_ADDITIONAL, "www.victim.test", DNS_T_A, 300, "203.0.113.68");
	up_rr(&u, DNS_SEC_ADDITIONAL, "ns.attacker.test", DNS_T_A, 300, "203.0.113.2");
	ck_assert_int_eq(up_store(c, &u, 0), 1);
	ck_assert_int_eq(stats(c).records, 1);
	ck_assert_int_eq(ask(c, "attacker.test", DNS_T_A, 0, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(g.n[DNS_SEC_ANSWER], 1);
	ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][0], "attacker.test A 203.0.113.1");
	ck_assert_int_eq(ask(c, "www.victim.test", DNS_T_A, 0, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "www.victim.test", DNS_T_CNAME, 0, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "mail.victim.test", DNS_T_AAAA, 0, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "ns.attacker.test", DNS_T_A, 0, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "victim.test", DNS_T_A, 0, &g), DNSCACHE_MISS);

	/* A NODATA for the attacker's name carrying victim data plants nothing either; its
	 * out-of-zone SOA is not used (neg-ttl applies instead). */
	up_begin(&u, "nodata.attacker.test", DNS_T_AAAA, 0);
	up_rr(&u, DNS_SEC_ANSWER, "www.victim.test", DNS_T_AAAA, 300, "2001:db8::66");
	up_soa(&u, "victim.test", 300, 300);
	up_rr(&u, DNS_SEC_ADDITIONAL, "www.victim.test", DNS_T_AAAA, 300, "2001:db8::67");
	ck_assert_int_eq(up_store(c, &u, 0), 1);
	ck_assert_int_eq(ask(c, "nodata.attacker.test", DNS_T_AAAA, 0, &g), DNSCACHE_NODATA);
	ck_assert_int_eq(g.n[DNS_SEC_AUTHORITY], 0);
	ck_assert_uint_eq(stats(c).records, 2);
	ck_assert_int_eq(ask(c, "www.victim.test", DNS_T_AAAA, 0, &g), DNSCACHE_MISS);

	/* A CNAME that does not start at the question name is not followed. */
	up_begin(&u, "start.attacker.test", DNS_T_A, 0);
	up_rr(&u, DNS_SEC_ANSWER, "other.victim.test", DNS_T_CNAME, 300, "start.attacker.test");
	up_rr(&u, DNS_SEC_ANSWER, "start.attacker.test", DNS_T_A, 300, "203.0.113.3");
	ck_assert_int_eq(up_store(c, &u, 0), 1);
	ck_assert_int_eq(ask(c, "other.victim.test", DNS_T_A, 0, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "other.victim.test", DNS_T_CNAME, 0, &g), DNSCACHE_MISS);
	dnscache_free(c);
}
END_TEST

START_TEST(test_rejected_replies)
{
	struct dnscache *c = cache_new(150);
	struct dns_msg msg;
	struct got g;
	struct up u;
	size_t len;

	/* Truncated replies, even with records. */
	up_begin(&u, "tc.test", DNS_T_A, DNS_F_TC);
	up_rr(&u, DNS_SEC_ANSWER, "tc.test", DNS_T_A, 300, "192.0.2.1");
	ck_assert_int_eq(up_store(c, &u, 0), 0);
	up_begin(&u, "tc.test", DNS_T_A, DNS_F_TC | DNS_R_NXDOMAIN);
	up_soa(&u, "test", 300, 300);
	ck_assert_int_eq(up_store(c, &u, 0), 0);
	/* Checking disabled (the reply echoes the query's CD): dnsmasq does not cache it. */
	up_begin(&u, "cd.test", DNS_T_A, DNS_F_CD);
	up_rr(&u, DNS_SEC_ANSWER, "cd.test", DNS_T_A, 300, "192.0.2.1");
	ck_assert_int_eq(up_store(c, &u, 0), 0);
	/* Other rcodes. */
	up_begin(&u, "fail.test", DNS_T_A, DNS_R_SERVFAIL);
	up_soa(&u, "test", 300, 300);
	ck_assert_int_eq(up_store(c, &u, 0), 0);
	up_begin(&u, "refused.test", DNS_T_A, DNS_R_REFUSED);
	up_rr(&u, DNS_SEC_ANSWER, "refused.test", DNS_T_A, 300, "192.0.2.1");
	ck_assert_int_eq(up_store(c, &u, 0), 0);
	up_begin(&u, "formerr.test", DNS_T_A, DNS_R_FORMERR);
	ck_assert_int_eq(up_store(c, &u, 0), 0);
	/* An extended rcode (BADVERS) is not NOERROR though the header says 0. */
	up_begin(&u, "badvers.test", DNS_T_A, 0);
	up_rr(&u, DNS_SEC_ANSWER, "badvers.test", DNS_T_A, 300, "192.0.2.1");
	ck_assert_int_eq(dns_build_opt(&u.b, 1232, 1, 0, 0, NULL, 0), 0);
	ck_assert_int_eq(up_store(c, &u, 0), 0);
	/* Not a reply (QR clear), or not a QUERY. */
	ck_assert_int_eq(dns_builder_init(&u.b, u.buf, sizeof(u.buf), 1, 0), 0);
	{
		struct dns_name n = name("query.test");

		ck_assert_int_eq(dns_build_question(&u.b, &n, DNS_T_A, DNS_C_IN), 0);
	}
	up_rr(&u, DNS_SEC_ANSWER, "query.test", DNS_T_A, 300, "192.0.2.1");
	ck_assert_int_eq(up_store(c, &u, 0), 0);
	up_begin(&u, "notify.test", DNS_T_A, DNS_MKOPCODE(DNS_OP_NOTIFY));
	up_rr(&u, DNS_SEC_ANSWER, "notify.test", DNS_T_A, 300, "192.0.2.1");
	ck_assert_int_eq(up_store(c, &u, 0), 0);
	ck_assert_int_eq(stats(c).records, 0);
	ck_assert_int_eq(ask(c, "tc.test", DNS_T_A, 0, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "cd.test", DNS_T_A, 0, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "fail.test", DNS_T_A, 0, &g), DNSCACHE_MISS);
	/* The same reply without the flags is cached: the test above is not vacuous. */
	up_begin(&u, "tc.test", DNS_T_A, 0);
	up_rr(&u, DNS_SEC_ANSWER, "tc.test", DNS_T_A, 300, "192.0.2.1");
	ck_assert_int_eq(up_store(c, &u, 0), 1);

	/* A message that dns_parse did not walk is an error. */
	up_begin(&u, "x.test", DNS_T_A, 0);
	len = dns_builder_finish(&u.b);
	ck_assert_int_eq(dns_parse_question_only(u.buf, len, &msg), 0);
	ck_assert_int_eq(dnscache_store(c, &msg, u.buf, len, 0), -1);
	ck_assert_int_eq(dnscache_store(NULL, &msg, u.buf, len, 0), -1);
	ck_assert_int_eq(dnscache_store(c, NULL, u.buf, len, 0), -1);
	dnscache_free(c);
}
END_TEST

START_TEST(test_malformed_rdata)
{
	/* www.m.test A with a 3-byte address, then a valid one: dns_parse accepts it (RDATA is
	 * not checked there), the cache refuses the whole RRset. */
	static const uint8_t reply[] = {
		0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
		3, 'w', 'w', 'w', 1, 'm', 4, 't', 'e', 's', 't', 0, 0x00, 0x01, 0x00, 0x01,
		0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x03, 10, 0, 0,
		0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x04, 10, 0, 0, 1,
	};
	/* The same question with a CNAME whose target runs off its RDATA. */
	static const uint8_t cname[] = {
		0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
		3, 'w', 'w', 'w', 1, 'm', 4, 't', 'e', 's', 't', 0, 0x00, 0x01, 0x00, 0x01,
		0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x03, 5, 'a', 'b',
		0x00,
	};
	struct dnscache *c = cache_new(150);
	struct dns_msg msg;
	struct got g;

	ck_assert_int_eq(dns_parse(reply, sizeof(reply), &msg), 0);
	ck_assert_int_eq(dnscache_store(c, &msg, reply, sizeof(reply), 0), -1);
	ck_assert_int_eq(ask(c, "www.m.test", DNS_T_A, 0, &g), DNSCACHE_MISS);
	ck_assert_int_eq(dns_parse(cname, sizeof(cname), &msg), 0);
	ck_assert_int_eq(dnscache_store(c, &msg, cname, sizeof(cname), 0), -1);
	ck_assert_int_eq(stats(c).records, 0);
	dnscache_free(c);
}
END_TEST

START_TEST(test_round_robin)
{
	static const char *want[4][3] = {
		{ "192.0.2.1", "192.0.2.2", "192.0.2.3" },
		{ "192.0.2.2", "192.0.2.3", "192.0.2.1" },
		{ "192.0.2.3", "192.0.2.1", "192.0.2.2" },
		{ "192.0.2.1", "192.0.2.2", "192.0.2.3" },
	};
	struct dnscache *c = cache_new(150);
	char line[64];
	struct got g;
	struct up u;

	up_begin(&u, "rr.test", DNS_T_A, 0);
	up_rr(&u, DNS_SEC_ANSWER, "rr.test", DNS_T_A, 300, "192.0.2.1");
	up_rr(&u, DNS_SEC_ANSWER, "rr.test", DNS_T_A, 300, "192.0.2.2");
	up_rr(&u, DNS_SEC_ANSWER, "rr.test", DNS_T_A, 300, "192.0.2.3");
	/* A duplicate RR is dropped (RFC 2181 section 5). */
	up_rr(&u, DNS_SEC_ANSWER, "rr.test", DNS_T_A, 300, "192.0.2.2");
	ck_assert_int_eq(up_store(c, &u, 0), 3);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(ask(c, "rr.test", DNS_T_A, i, &g), DNSCACHE_POSITIVE);
		ck_assert_int_eq(g.n[DNS_SEC_ANSWER], 3);
		for (int j = 0; j < 3; j++) {
			ck_assert(util_snprintf(line, sizeof(line), "rr.test A %s", want[i][j]));
			ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][j], line);
		}
	}
	dnscache_free(c);
}
END_TEST

START_TEST(test_replacement)
{
	struct dnscache *c = cache_new(150);
	struct got g;
	struct up u;

	/* A new RRset replaces the old one for the same name and type. */
	ck_assert_int_eq(store_a(c, "r.test", "192.0.2.1", 300, 0), 1);
	ck_assert_int_eq(store_a(c, "R.test", "192.0.2.2", 300, 1), 1);
	ck_assert_int_eq(stats(c).records, 1);
	ck_assert_int_eq(ask(c, "r.test", DNS_T_A, 1, &g), DNSCACHE_POSITIVE);
	ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][0], "r.test A 192.0.2.2");

	/* An NXDOMAIN for the name drops everything it had. */
	up_begin(&u, "r.test", DNS_T_AAAA, 0);
	up_rr(&u, DNS_SEC_ANSWER, "r.test", DNS_T_AAAA, 300, "2001:db8::1");
	ck_assert_int_eq(up_store(c, &u, 1), 1);
	up_begin(&u, "r.test", DNS_T_SRV, DNS_R_NXDOMAIN);
	up_soa(&u, "test", 300, 300);
	ck_assert_int_eq(up_store(c, &u, 2), 1);
	ck_assert_int_eq(stats(c).records, 1);
	ck_assert_int_eq(ask(c, "r.test", DNS_T_A, 2, &g), DNSCACHE_NXDOMAIN);
	ck_assert_int_eq(ask(c, "r.test", DNS_T_AAAA, 2, &g), DNSCACHE_NXDOMAIN);

	/* Data for the name ends the NXDOMAIN. */
	ck_assert_int_eq(store_a(c, "r.test", "192.0.2.3", 300, 3), 1);
	ck_assert_int_eq(ask(c, "r.test", DNS_T_A, 3, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(ask(c, "r.test", DNS_T_AAAA, 3, &g), DNSCACHE_MISS);

	/* A CNAME at the name replaces its other data, and the other way round. */
	up_begin(&u, "r.test", DNS_T_A, 0);
	up_rr(&u, DNS_SEC_ANSWER, "r.test", DNS_T_CNAME, 300, "s.test");
	up_rr(&u, DNS_SEC_ANSWER, "s.test", DNS_T_A, 300, "192.0.2.4");
	ck_assert_int_eq(up_store(c, &u, 4), 2);
	ck_assert_int_eq(ask(c, "r.test", DNS_T_A, 4, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(g.n[DNS_SEC_ANSWER], 2);
	ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][1], "s.test A 192.0.2.4");
	ck_assert_int_eq(store_a(c, "r.test", "192.0.2.5", 300, 5), 1);
	ck_assert_int_eq(ask(c, "r.test", DNS_T_CNAME, 5, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "r.test", DNS_T_A, 5, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(g.n[DNS_SEC_ANSWER], 1);
	ck_assert_int_eq(stats(c).records, 2);
	dnscache_free(c);
}
END_TEST

START_TEST(test_lru_eviction)
{
	struct dnscache *c = cache_new(3);
	struct dnscache_stats st;
	struct got g;
	struct up u;

	ck_assert_int_eq(store_a(c, "a.test", "192.0.2.1", 300, 0), 1);
	ck_assert_int_eq(store_a(c, "b.test", "192.0.2.2", 300, 0), 1);
	ck_assert_int_eq(store_a(c, "c.test", "192.0.2.3", 300, 0), 1);
	/* Using a makes b the least recently used. */
	ck_assert_int_eq(ask(c, "a.test", DNS_T_A, 1, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(store_a(c, "d.test", "192.0.2.4", 300, 2), 1);
	ck_assert_int_eq(ask(c, "b.test", DNS_T_A, 2, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "a.test", DNS_T_A, 2, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(ask(c, "c.test", DNS_T_A, 2, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(ask(c, "d.test", DNS_T_A, 2, &g), DNSCACHE_POSITIVE);
	st = stats(c);
	ck_assert_uint_eq(st.evictions, 1);
	ck_assert_uint_eq(st.records, 3);

	/* A two-record RRset evicts the two least recently used (a, then c). */
	up_begin(&u, "e.test", DNS_T_A, 0);
	up_rr(&u, DNS_SEC_ANSWER, "e.test", DNS_T_A, 300, "192.0.2.5");
	up_rr(&u, DNS_SEC_ANSWER, "e.test", DNS_T_A, 300, "192.0.2.6");
	ck_assert_int_eq(up_store(c, &u, 3), 2);
	ck_assert_int_eq(ask(c, "a.test", DNS_T_A, 3, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "c.test", DNS_T_A, 3, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "d.test", DNS_T_A, 3, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(ask(c, "e.test", DNS_T_A, 3, &g), DNSCACHE_POSITIVE);
	ck_assert_uint_eq(stats(c).evictions, 3);

	/* An RRset larger than the whole cache is not stored and evicts nothing. */
	up_begin(&u, "big.test", DNS_T_A, 0);
	for (int i = 0; i < 4; i++) {
		char addr[32];

		ck_assert(util_snprintf(addr, sizeof(addr), "192.0.2.%d", 10 + i));
		up_rr(&u, DNS_SEC_ANSWER, "big.test", DNS_T_A, 300, addr);
	}
	ck_assert_int_eq(up_store(c, &u, 4), 0);
	ck_assert_int_eq(ask(c, "big.test", DNS_T_A, 4, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "d.test", DNS_T_A, 4, &g), DNSCACHE_POSITIVE);
	ck_assert_uint_eq(stats(c).records, 3);

	/* Evictions count records: a three-record RRset evicts d (one) and e (two). */
	up_begin(&u, "g.test", DNS_T_A, 0);
	up_rr(&u, DNS_SEC_ANSWER, "g.test", DNS_T_A, 300, "192.0.2.20");
	up_rr(&u, DNS_SEC_ANSWER, "g.test", DNS_T_A, 300, "192.0.2.21");
	up_rr(&u, DNS_SEC_ANSWER, "g.test", DNS_T_A, 300, "192.0.2.22");
	ck_assert_int_eq(up_store(c, &u, 5), 3);
	ck_assert_uint_eq(stats(c).evictions, 6);
	ck_assert_uint_eq(stats(c).entries, 1);

	/* Expired entries make room without counting as evictions. */
	ck_assert_int_eq(store_a(c, "f.test", "192.0.2.7", 300, 1000), 1);
	ck_assert_uint_eq(stats(c).evictions, 6);
	ck_assert_uint_eq(stats(c).records, 1);
	dnscache_free(c);
}
END_TEST

/* xorshift32: a reproducible sequence for the random test. */
static uint32_t
rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

START_TEST(test_bound_random)
{
	static const uint16_t types[] = { DNS_T_A, DNS_T_AAAA, DNS_T_CNAME, DNS_T_TXT };
	struct dnscache *c = cache_new(50);
	struct dnscache_stats st;
	uint32_t seed = 0x2545f491;
	char qn[64], target[64], addr[64];
	time_t now = 0;
	struct got g;
	struct up u;

	for (int i = 0; i < 10000; i++) {
		uint16_t qtype = types[rnd(&seed) % nitems(types)];
		uint32_t kind = rnd(&seed) % 8, n = 1 + rnd(&seed) % 12, ttl = rnd(&seed) % 400;
		int ret;

		now += rnd(&seed) % 3;
		ck_assert(util_snprintf(qn, sizeof(qn), "h%u.test", rnd(&seed) % 300));
		up_begin(&u, qn, qtype, kind == 0 ? DNS_R_NXDOMAIN : 0);
		if (kind == 1) {
			ck_assert(util_snprintf(target, sizeof(target), "h%u.test",
			    rnd(&seed) % 300));
			up_rr(&u, DNS_SEC_ANSWER, qn, DNS_T_CNAME, ttl, target);
			ck_assert(util_snprintf(qn, sizeof(qn), "%s", target));
		}
		if (kind <= 2) {
			up_soa(&u, "test", ttl, 300);
		} else {
			uint16_t t = qtype == DNS_T_CNAME ? DNS_T_A : qtype;

			for (uint32_t j = 0; j < n; j++) {
				if (t == DNS_T_AAAA)
					ck_assert(util_snprintf(addr, sizeof(addr),
					    "2001:db8::%x", j + 1));
				else
					ck_assert(util_snprintf(addr, sizeof(addr), "10.0.%u.%u",
					    (unsigned int)i % 256, j));
				up_rr(&u, DNS_SEC_ANSWER, qn, t, ttl + j,
				    t == DNS_T_TXT ? "t" : addr);
			}
		}
		ret = up_store(c, &u, now);
		ck_assert_int_ge(ret, 0);
		ck_assert_int_le(ret, 50);
		st = stats(c);
		ck_assert_uint_le(st.records, 50);
		ck_assert_uint_le(st.entries, st.records);
		ck_assert(util_snprintf(qn, sizeof(qn), "h%u.test", rnd(&seed) % 300));
		ask(c, qn, types[rnd(&seed) % nitems(types)], now, &g);
		st = stats(c);
		ck_assert_uint_le(st.records, 50);
	}
	st = stats(c);
	ck_assert_uint_gt(st.insertions, 1000);
	ck_assert_uint_gt(st.evictions, 0);
	ck_assert_uint_gt(st.hits, 0);
	ck_assert_uint_gt(st.misses, 0);
	ck_assert_uint_eq(st.hits + st.misses, 10000);
	dnscache_free(c);
}
END_TEST

START_TEST(test_size_zero_and_defaults)
{
	struct dnscache_options o = { .size = 0 };
	struct dnscache *c = dnscache_new(&o);
	struct got g;

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(store_a(c, "a.test", "192.0.2.1", 300, 0), 0);
	ck_assert_int_eq(ask(c, "a.test", DNS_T_A, 0, &g), DNSCACHE_MISS);
	ck_assert_uint_eq(stats(c).records, 0);
	ck_assert_uint_eq(stats(c).size, 0);
	dnscache_free(c);

	/* NULL options give dnsmasq's default size; sizes are clamped. */
	c = dnscache_new(NULL);
	ck_assert_uint_eq(stats(c).size, DNSCACHE_DEFAULT_SIZE);
	ck_assert_int_eq(store_a(c, "a.test", "192.0.2.1", 300, 0), 1);
	dnscache_free(c);
	o.size = 0xffffffffU;
	c = dnscache_new(&o);
	ck_assert_uint_eq(stats(c).size, DNSCACHE_MAX_SIZE);
	dnscache_free(c);

	/* NULL is harmless everywhere. */
	dnscache_free(NULL);
	dnscache_flush(NULL);
	ck_assert_int_eq(dnscache_answer(NULL, NULL, DNS_T_A, DNS_C_IN, 0, 0, NULL, NULL),
	    DNSCACHE_MISS);
	{
		struct dnscache_stats st;

		memset(&st, 0xff, sizeof(st));
		dnscache_stats(NULL, &st);
		ck_assert_uint_eq(st.size, 0);
		ck_assert_uint_eq(st.hits, 0);
	}
}
END_TEST

START_TEST(test_flush_and_stats)
{
	struct dnscache *c = cache_new(150);
	struct dnscache_stats st;
	struct got g;
	struct up u;

	up_begin(&u, "s.test", DNS_T_A, 0);
	up_rr(&u, DNS_SEC_ANSWER, "s.test", DNS_T_A, 300, "192.0.2.1");
	up_rr(&u, DNS_SEC_ANSWER, "s.test", DNS_T_A, 300, "192.0.2.2");
	ck_assert_int_eq(up_store(c, &u, 0), 2);
	up_begin(&u, "gone.test", DNS_T_A, DNS_R_NXDOMAIN);
	up_soa(&u, "test", 300, 300);
	ck_assert_int_eq(up_store(c, &u, 0), 1);
	ck_assert_int_eq(ask(c, "s.test", DNS_T_A, 0, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(ask(c, "gone.test", DNS_T_A, 0, &g), DNSCACHE_NXDOMAIN);
	ck_assert_int_eq(ask(c, "other.test", DNS_T_A, 0, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "s.test", DNS_T_TXT, 0, &g), DNSCACHE_MISS);
	st = stats(c);
	ck_assert_uint_eq(st.size, 150);
	ck_assert_uint_eq(st.records, 3);
	ck_assert_uint_eq(dnscache_records(c), 3);
	ck_assert_uint_eq(st.entries, 2);
	ck_assert_uint_eq(st.insertions, 3);
	ck_assert_uint_eq(st.evictions, 0);
	ck_assert_uint_eq(st.hits, 2);
	ck_assert_uint_eq(st.misses, 2);

	dnscache_flush(c);
	ck_assert_int_eq(ask(c, "s.test", DNS_T_A, 0, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "gone.test", DNS_T_A, 0, &g), DNSCACHE_MISS);
	st = stats(c);
	ck_assert_uint_eq(st.records, 0);
	ck_assert_uint_eq(dnscache_records(c), 0);
	ck_assert_uint_eq(dnscache_records(NULL), 0);
	ck_assert_uint_eq(st.entries, 0);
	/* Counters survive a flush; a flush is not an eviction. */
	ck_assert_uint_eq(st.insertions, 3);
	ck_assert_uint_eq(st.evictions, 0);
	ck_assert_uint_eq(st.misses, 4);
	/* The cache works after a flush. */
	ck_assert_int_eq(store_a(c, "s.test", "192.0.2.9", 300, 0), 1);
	ck_assert_int_eq(ask(c, "s.test", DNS_T_A, 0, &g), DNSCACHE_POSITIVE);
	dnscache_free(c);
}
END_TEST

START_TEST(test_truncated_answer)
{
	struct dnscache *c = cache_new(150);
	char addr[32];
	struct got g;
	struct up u;

	up_begin(&u, "many.test", DNS_T_A, 0);
	for (int i = 0; i < 40; i++) {
		ck_assert(util_snprintf(addr, sizeof(addr), "10.1.0.%d", i));
		up_rr(&u, DNS_SEC_ANSWER, "many.test", DNS_T_A, 300, addr);
	}
	ck_assert_int_eq(up_store(c, &u, 0), 40);
	/* 40 * 16 bytes of RRs do not fit in 512: a hit, truncated, TC and no RRs. */
	ck_assert_int_eq(ask_sized(c, "many.test", DNS_T_A, 0, 0, 512, &g), DNSCACHE_POSITIVE);
	ck_assert(g.r.truncated);
	ck_assert(g.flags & DNS_F_TC);
	ck_assert_int_eq(g.n[DNS_SEC_ANSWER], 0);
	/* They fit in a larger builder. */
	ck_assert_int_eq(ask_sized(c, "many.test", DNS_T_A, 0, 0, 1232, &g), DNSCACHE_POSITIVE);
	ck_assert(!g.r.truncated);
	ck_assert(!(g.flags & DNS_F_TC));
	ck_assert_int_eq(g.n[DNS_SEC_ANSWER], 40);

	/* 120 AAAA records (2 KB of RDATA) are kept whole and all come back over TCP. */
	up_begin(&u, "many6.test", DNS_T_AAAA, 0);
	for (int i = 0; i < 120; i++) {
		ck_assert(util_snprintf(addr, sizeof(addr), "2001:db8::%x", i + 1));
		up_rr(&u, DNS_SEC_ANSWER, "many6.test", DNS_T_AAAA, 300, addr);
	}
	ck_assert_int_eq(up_store(c, &u, 0), 120);
	ck_assert_int_eq(ask_sized(c, "many6.test", DNS_T_AAAA, 0, 0, 8192, &g),
	    DNSCACHE_POSITIVE);
	ck_assert(!g.r.truncated);
	ck_assert_int_eq(g.n[DNS_SEC_ANSWER], 120);
	ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][0], "many6.test AAAA 2001:db8::1");
	ck_assert_int_eq(ask_sized(c, "many6.test", DNS_T_AAAA, 0, 0, 8192, &g),
	    DNSCACHE_POSITIVE);
	ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][0], "many6.test AAAA 2001:db8::2");
	dnscache_free(c);
}
END_TEST

START_TEST(test_builder_not_ready)
{
	struct dnscache *c = cache_new(150);
	struct dns_name n = name("a.test"), o = name("test");
	struct dnscache_reply r;
	struct dns_builder b, before;
	uint8_t buf[512], rd[512];
	size_t rdlen = rdata(DNS_T_SOA, "ns.test h.test 1 2 3 4 5", rd);

	ck_assert_int_eq(store_a(c, "a.test", "192.0.2.1", 300, 0), 1);
	/* The builder is already past the answer section: nothing written, a miss. */
	ck_assert_int_eq(dns_builder_init(&b, buf, sizeof(buf), 1, DNS_F_QR), 0);
	ck_assert_int_eq(dns_build_question(&b, &n, DNS_T_A, DNS_C_IN), 0);
	ck_assert_int_eq(dns_build_rr(&b, DNS_SEC_AUTHORITY, &o, DNS_T_SOA, DNS_C_IN, 5, rd,
	    rdlen), 0);
	before = b;
	ck_assert_int_eq(dnscache_answer(c, &n, DNS_T_A, DNS_C_IN, 0, 0, &b, &r), DNSCACHE_MISS);
	ck_assert(memcmp(&b, &before, sizeof(b)) == 0);
	ck_assert_int_eq(r.status, DNSCACHE_MISS);
	dnscache_free(c);
}
END_TEST

/* An answer that fails after it wrote RRs (here the answer count runs out at the second
 * RR) leaves the builder as it was: its fields, its recorded labels and its bytes. */
START_TEST(test_builder_restored)
{
	struct dnscache *c = cache_new(150);
	struct dns_name n = name("www.a.test");
	struct dnscache_reply r;
	struct dns_builder b, before;
	uint8_t buf[512], copy[512];
	struct up u;

	up_begin(&u, "www.a.test", DNS_T_A, 0);
	up_rr(&u, DNS_SEC_ANSWER, "www.a.test", DNS_T_CNAME, 600, "b.test");
	up_rr(&u, DNS_SEC_ANSWER, "b.test", DNS_T_A, 100, "10.0.0.1");
	ck_assert_int_eq(up_store(c, &u, 0), 2);
	ck_assert_int_eq(dns_builder_init(&b, buf, sizeof(buf), 1, DNS_F_QR), 0);
	ck_assert_int_eq(dns_build_question(&b, &n, DNS_T_A, DNS_C_IN), 0);
	b.count[DNS_SEC_ANSWER] = UINT16_MAX - 1;
	before = b;
	memcpy(copy, buf, b.len);
	ck_assert_int_eq(dnscache_answer(c, &n, DNS_T_A, DNS_C_IN, 0, 0, &b, &r), DNSCACHE_MISS);
	ck_assert_int_eq(r.status, DNSCACHE_MISS);
	ck_assert(memcmp(&b, &before, offsetof(struct dns_builder, comp)) == 0);
	ck_assert(memcmp(b.comp, before.comp, b.ncomp * sizeof(b.comp[0])) == 0);
	ck_assert(memcmp(buf, copy, b.len) == 0);
	ck_assert_uint_eq(stats(c).misses, 1);
	/* The same builder with room for answers gets both. */
	b.count[DNS_SEC_ANSWER] = 0;
	ck_assert_int_eq(dnscache_answer(c, &n, DNS_T_A, DNS_C_IN, 0, 0, &b, &r),
	    DNSCACHE_POSITIVE);
	ck_assert_uint_eq(r.answers, 2);
	dnscache_free(c);
}
END_TEST

/* Names are looked up ignoring ASCII case (eight bytes at a time, then the tail): the bytes
 * next to the letters and non-ASCII bytes whose low seven bits are letters keep their case. */
START_TEST(test_case_insensitive)
{
	struct dnscache *c = cache_new(150);
	struct got g;

	ck_assert_int_eq(store_a(c, "MiXeD.Example.TEST", "192.0.2.1", 300, 0), 1);
	ck_assert_int_eq(ask(c, "mixed.example.test", DNS_T_A, 0, &g), DNSCACHE_POSITIVE);
	ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][0], "mixed.example.test A 192.0.2.1");
	ck_assert_int_eq(ask(c, "MIXED.EXAMPLE.TEST", DNS_T_A, 0, &g), DNSCACHE_POSITIVE);
	/* The answer's owner is the question as asked. */
	ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][0], "MIXED.EXAMPLE.TEST A 192.0.2.1");
	ck_assert_int_eq(ask(c, "mixed.example.tesT", DNS_T_A, 0, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(ask(c, "mixed.example.tes", DNS_T_A, 0, &g), DNSCACHE_MISS);

	/* '@' '[' '`' '{' surround the letters: none of them is a case of another. */
	ck_assert_int_eq(store_a(c, "\\@\\[`{az.test", "192.0.2.2", 300, 0), 1);
	ck_assert_int_eq(ask(c, "\\@\\[`{AZ.TEST", DNS_T_A, 0, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(ask(c, "`{\\@\\[az.test", DNS_T_A, 0, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "\\@\\[\\@\\[az.test", DNS_T_A, 0, &g), DNSCACHE_MISS);
	/* 0xC1 and 0xE1 (low bits 'A' and 'a') and 0xDA, 0xFA ('Z', 'z') are different bytes,
	 * in the first eight bytes of the name and in its tail. */
	ck_assert_int_eq(store_a(c, "\\193\\218xxxxxx.\\193\\218", "192.0.2.3", 300, 0), 1);
	ck_assert_int_eq(ask(c, "\\225\\250xxxxxx.\\193\\218", DNS_T_A, 0, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "\\193\\218xxxxxx.\\225\\250", DNS_T_A, 0, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "\\193\\218XXXXXX.\\193\\218", DNS_T_A, 0, &g),
	    DNSCACHE_POSITIVE);
	ck_assert_int_eq(store_a(c, "\\225\\250xxxxxx.\\225\\250", "192.0.2.4", 300, 0), 1);
	ck_assert_int_eq(ask(c, "\\225\\250XxXxXx.\\225\\250", DNS_T_A, 0, &g),
	    DNSCACHE_POSITIVE);
	ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][0],
	    "\\225\\250XxXxXx.\\225\\250 A 192.0.2.4");
	ck_assert_int_eq(ask(c, "\\193\\218xxxxxx.\\193\\218", DNS_T_A, 0, &g),
	    DNSCACHE_POSITIVE);
	ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][0],
	    "\\193\\218xxxxxx.\\193\\218 A 192.0.2.3");
	/* A name of exactly 8 and 16 bytes (no tail) and the longest name. */
	ck_assert_int_eq(store_a(c, "abcdef", "192.0.2.5", 300, 0), 1);
	ck_assert_int_eq(ask(c, "ABCDEF", DNS_T_A, 0, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(store_a(c, "abcdefgh.abcde", "192.0.2.6", 300, 0), 1);
	ck_assert_int_eq(ask(c, "ABCDEFGH.ABCDE", DNS_T_A, 0, &g), DNSCACHE_POSITIVE);
	{
		char lo[300], up[300];
		size_t o = 0;

		for (int l = 0; l < 4; l++) {
			for (int i = 0; i < (l < 3 ? 63 : 61); i++) {
				lo[o] = (char)('a' + (l * 7 + i) % 26);
				up[o++] = (char)('A' + (l * 7 + i) % 26);
			}
			lo[o] = up[o] = '.';
			o++;
		}
		lo[o - 1] = up[o - 1] = '\0';
		ck_assert_int_eq(store_a(c, lo, "192.0.2.7", 300, 0), 1);
		ck_assert_int_eq(ask(c, up, DNS_T_A, 0, &g), DNSCACHE_POSITIVE);
		ck_assert_int_eq(ask(c, lo, DNS_T_A, 0, &g), DNSCACHE_POSITIVE);
	}
	dnscache_free(c);
}
END_TEST

/* The entries of one name (its types, its CNAME, its negatives) are found together and each
 * keeps its own TTL, rotation and place in the eviction order. */
START_TEST(test_entries_of_one_name)
{
	struct dnscache *c = cache_new(6);
	struct got g;
	struct up u;

	/* A (two RRs), AAAA, NODATA for SRV and NODATA for CNAME at one name. */
	up_begin(&u, "multi.test", DNS_T_A, 0);
	up_rr(&u, DNS_SEC_ANSWER, "multi.test", DNS_T_A, 300, "192.0.2.1");
	up_rr(&u, DNS_SEC_ANSWER, "multi.test", DNS_T_A, 300, "192.0.2.2");
	ck_assert_int_eq(up_store(c, &u, 0), 2);
	up_begin(&u, "multi.test", DNS_T_AAAA, 0);
	up_rr(&u, DNS_SEC_ANSWER, "multi.test", DNS_T_AAAA, 200, "2001:db8::1");
	ck_assert_int_eq(up_store(c, &u, 0), 1);
	up_begin(&u, "multi.test", DNS_T_SRV, 0);
	up_soa(&u, "test", 100, 100);
	ck_assert_int_eq(up_store(c, &u, 0), 1);
	up_begin(&u, "Multi.Test", DNS_T_CNAME, 0);
	up_soa(&u, "test", 50, 50);
	ck_assert_int_eq(up_store(c, &u, 0), 1);
	ck_assert_uint_eq(stats(c).entries, 4);
	ck_assert_uint_eq(stats(c).records, 5);

	ck_assert_int_eq(ask(c, "multi.test", DNS_T_A, 10, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(g.n[DNS_SEC_ANSWER], 2);
	ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][0], "multi.test A 192.0.2.1");
	ck_assert_uint_eq(g.ttl[DNS_SEC_ANSWER][0], 290);
	ck_assert_int_eq(ask(c, "multi.test", DNS_T_A, 10, &g), DNSCACHE_POSITIVE);
	ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][0], "multi.test A 192.0.2.2");
	ck_assert_int_eq(ask(c, "multi.test", DNS_T_AAAA, 10, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(g.n[DNS_SEC_ANSWER], 1);
	ck_assert_uint_eq(g.ttl[DNS_SEC_ANSWER][0], 190);
	ck_assert_int_eq(ask(c, "multi.test", DNS_T_SRV, 10, &g), DNSCACHE_NODATA);
	ck_assert_uint_eq(g.ttl[DNS_SEC_AUTHORITY][0], 90);
	/* The NODATA CNAME does not hide the A, and answers a CNAME query. */
	ck_assert_int_eq(ask(c, "multi.test", DNS_T_CNAME, 10, &g), DNSCACHE_NODATA);
	ck_assert_int_eq(ask(c, "multi.test", DNS_T_PTR, 10, &g), DNSCACHE_MISS);
	/* The rotation of the A did not move because of the other answers. */
	ck_assert_int_eq(ask(c, "multi.test", DNS_T_A, 10, &g), DNSCACHE_POSITIVE);
	ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][0], "multi.test A 192.0.2.1");

	/* Expiry is per entry: at 60 the CNAME NODATA is gone (and reclaimed when found), the
	 * others answer. */
	ck_assert_int_eq(ask(c, "multi.test", DNS_T_CNAME, 60, &g), DNSCACHE_MISS);
	ck_assert_uint_eq(stats(c).entries, 3);
	ck_assert_int_eq(ask(c, "multi.test", DNS_T_A, 60, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(ask(c, "multi.test", DNS_T_SRV, 99, &g), DNSCACHE_NODATA);
	ck_assert_int_eq(ask(c, "multi.test", DNS_T_SRV, 100, &g), DNSCACHE_MISS);
	ck_assert_uint_eq(stats(c).entries, 2);

	/* Eviction order is per entry: the AAAA (last used at 10) goes before the A (60), and
	 * the A too when three records are needed. */
	ck_assert_int_eq(store_a(c, "other.test", "192.0.2.9", 300, 61), 1);
	ck_assert_uint_eq(stats(c).records, 4);
	up_begin(&u, "third.test", DNS_T_A, 0);
	up_rr(&u, DNS_SEC_ANSWER, "third.test", DNS_T_A, 300, "192.0.2.10");
	up_rr(&u, DNS_SEC_ANSWER, "third.test", DNS_T_A, 300, "192.0.2.11");
	up_rr(&u, DNS_SEC_ANSWER, "third.test", DNS_T_A, 300, "192.0.2.12");
	ck_assert_int_eq(up_store(c, &u, 62), 3);
	ck_assert_uint_eq(stats(c).evictions, 1);
	ck_assert_int_eq(ask(c, "multi.test", DNS_T_AAAA, 62, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "multi.test", DNS_T_A, 62, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(ask(c, "other.test", DNS_T_A, 62, &g), DNSCACHE_POSITIVE);
	up_begin(&u, "fourth.test", DNS_T_A, 0);
	up_rr(&u, DNS_SEC_ANSWER, "fourth.test", DNS_T_A, 300, "192.0.2.13");
	up_rr(&u, DNS_SEC_ANSWER, "fourth.test", DNS_T_A, 300, "192.0.2.14");
	ck_assert_int_eq(up_store(c, &u, 63), 2);
	/* Least recently used: third (stored at 62), then multi's A (asked at 62, before other). */
	ck_assert_int_eq(ask(c, "third.test", DNS_T_A, 63, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "multi.test", DNS_T_A, 63, &g), DNSCACHE_POSITIVE);
	ck_assert_uint_eq(stats(c).evictions, 4);
	ck_assert_uint_eq(stats(c).records, 5);

	/* A CNAME stored at the name drops all its entries; an NXDOMAIN too. */
	up_begin(&u, "multi.test", DNS_T_A, 0);
	up_rr(&u, DNS_SEC_ANSWER, "multi.test", DNS_T_CNAME, 300, "other.test");
	up_rr(&u, DNS_SEC_ANSWER, "other.test", DNS_T_A, 300, "192.0.2.9");
	ck_assert_int_eq(up_store(c, &u, 64), 2);
	ck_assert_int_eq(ask(c, "multi.test", DNS_T_A, 64, &g), DNSCACHE_POSITIVE);
	ck_assert_int_eq(g.n[DNS_SEC_ANSWER], 2);
	ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][1], "other.test A 192.0.2.9");
	ck_assert_int_eq(ask(c, "multi.test", DNS_T_AAAA, 64, &g), DNSCACHE_MISS);
	up_begin(&u, "other.test", DNS_T_AAAA, 0);
	up_rr(&u, DNS_SEC_ANSWER, "other.test", DNS_T_AAAA, 300, "2001:db8::9");
	ck_assert_int_eq(up_store(c, &u, 65), 1);
	up_begin(&u, "OTHER.test", DNS_T_PTR, DNS_R_NXDOMAIN);
	up_soa(&u, "test", 100, 100);
	ck_assert_int_eq(up_store(c, &u, 65), 1);
	/* NXDOMAIN covers every type, also through the CNAME. */
	ck_assert_int_eq(ask(c, "other.test", DNS_T_A, 65, &g), DNSCACHE_NXDOMAIN);
	ck_assert_int_eq(ask(c, "other.test", DNS_T_AAAA, 65, &g), DNSCACHE_NXDOMAIN);
	ck_assert_int_eq(ask(c, "other.test", DNS_T_SRV, 65, &g), DNSCACHE_NXDOMAIN);
	ck_assert_int_eq(ask(c, "multi.test", DNS_T_AAAA, 65, &g), DNSCACHE_NXDOMAIN);
	ck_assert_int_eq(g.n[DNS_SEC_ANSWER], 1);
	/* A positive entry of a type ends the NXDOMAIN for all types. */
	ck_assert_int_eq(store_a(c, "other.test", "192.0.2.20", 300, 66), 1);
	ck_assert_int_eq(ask(c, "other.test", DNS_T_AAAA, 66, &g), DNSCACHE_MISS);
	ck_assert_int_eq(ask(c, "multi.test", DNS_T_A, 66, &g), DNSCACHE_POSITIVE);
	dnscache_free(c);
}
END_TEST

/* Many names in few buckets (cache-size 16: 16 buckets): every name and type finds its own
 * entry among the others of its bucket, and removing one leaves the rest. */
START_TEST(test_shared_buckets)
{
	struct dnscache *c = cache_new(16);
	char qn[64], addr[64];
	struct got g;
	struct up u;

	for (int i = 0; i < 8; i++) {
		ck_assert(util_snprintf(qn, sizeof(qn), "n%d.test", i));
		ck_assert(util_snprintf(addr, sizeof(addr), "192.0.2.%d", i));
		ck_assert_int_eq(store_a(c, qn, addr, 300, 0), 1);
		ck_assert(util_snprintf(addr, sizeof(addr), "2001:db8::%d", i));
		up_begin(&u, qn, DNS_T_AAAA, 0);
		up_rr(&u, DNS_SEC_ANSWER, qn, DNS_T_AAAA, 300, addr);
		ck_assert_int_eq(up_store(c, &u, 0), 1);
	}
	ck_assert_uint_eq(stats(c).records, 16);
	/* Drop the AAAA of the even names (an NXDOMAIN replaces both, then an A comes back). */
	for (int i = 0; i < 8; i += 2) {
		ck_assert(util_snprintf(qn, sizeof(qn), "N%d.TEST", i));
		up_begin(&u, qn, DNS_T_A, DNS_R_NXDOMAIN);
		up_soa(&u, "test", 100, 100);
		ck_assert_int_eq(up_store(c, &u, 1), 1);
		ck_assert(util_snprintf(addr, sizeof(addr), "198.51.100.%d", i));
		ck_assert_int_eq(store_a(c, qn, addr, 300, 1), 1);
	}
	ck_assert_uint_eq(stats(c).records, 12);
	ck_assert_uint_eq(stats(c).evictions, 0);
	for (int i = 0; i < 8; i++) {
		char want[128];

		ck_assert(util_snprintf(qn, sizeof(qn), "n%d.test", i));
		ck_assert_int_eq(ask(c, qn, DNS_T_A, 2, &g), DNSCACHE_POSITIVE);
		ck_assert(util_snprintf(want, sizeof(want), "%s A %s.%d", qn,
		    i % 2 == 0 ? "198.51.100" : "192.0.2", i));
		ck_assert_str_eq(g.rr[DNS_SEC_ANSWER][0], want);
		ck_assert_int_eq(ask(c, qn, DNS_T_AAAA, 2, &g),
		    i % 2 == 0 ? DNSCACHE_MISS : DNSCACHE_POSITIVE);
		ck_assert_int_eq(ask(c, qn, DNS_T_PTR, 2, &g), DNSCACHE_MISS);
	}
	dnscache_free(c);
	/* Evicting until empty walks the shared buckets too. */
	c = cache_new(16);
	for (int i = 0; i < 64; i++) {
		ck_assert(util_snprintf(qn, sizeof(qn), "e%d.test", i));
		ck_assert_int_eq(store_a(c, qn, "192.0.2.1", 300, i), 1);
	}
	ck_assert_uint_eq(stats(c).records, 16);
	ck_assert_uint_eq(stats(c).evictions, 48);
	for (int i = 0; i < 64; i++) {
		ck_assert(util_snprintf(qn, sizeof(qn), "E%d.test", i));
		ck_assert_int_eq(ask(c, qn, DNS_T_A, 64, &g),
		    i < 48 ? DNSCACHE_MISS : DNSCACHE_POSITIVE);
	}
	dnscache_free(c);
}
END_TEST

Suite *
dnscache_suite(void)
{
	Suite *s = suite_create("dnscache");
	TCase *ts = tcase_create("store");
	TCase *tn = tcase_create("negative");
	TCase *tm = tcase_create("management");

	tcase_add_test(ts, test_a_positive);
	tcase_add_test(ts, test_aaaa_positive);
	tcase_add_test(ts, test_cname_chain);
	tcase_add_test(ts, test_cname_target_not_in_message);
	tcase_add_test(ts, test_cname_chain_limit);
	tcase_add_test(ts, test_ptr_and_srv);
	tcase_add_test(ts, test_uncacheable_types);
	tcase_add_test(ts, test_other_classes);
	tcase_add_test(ts, test_ttl_countdown_and_expiry);
	tcase_add_test(ts, test_ttl_zero_and_rfc2181);
	tcase_add_test(ts, test_min_max_cache_ttl);
	tcase_add_test(ts, test_max_ttl_on_answers);
	tcase_add_test(ts, test_bailiwick);
	tcase_add_test(ts, test_rejected_replies);
	tcase_add_test(ts, test_malformed_rdata);
	tcase_add_test(ts, test_round_robin);
	tcase_add_test(ts, test_clock_range);
	tcase_add_test(ts, test_prefetch_hints);
	tcase_add_test(ts, test_truncated_answer);
	tcase_add_test(ts, test_builder_not_ready);
	tcase_add_test(tn, test_nxdomain);
	tcase_add_test(tn, test_nxdomain_through_cname);
	tcase_add_test(tn, test_nodata);
	tcase_add_test(tn, test_negative_without_soa);
	tcase_add_test(tn, test_no_negcache);
	tcase_add_test(tm, test_replacement);
	tcase_add_test(tm, test_lru_eviction);
	tcase_add_test(tm, test_bound_random);
	tcase_add_test(tm, test_size_zero_and_defaults);
	tcase_add_test(tm, test_flush_and_stats);
	tcase_add_test(ts, test_case_insensitive);
	tcase_add_test(ts, test_builder_restored);
	tcase_add_test(tm, test_entries_of_one_name);
	tcase_add_test(tm, test_shared_buckets);
	tcase_set_timeout(tm, 60);
	suite_add_tcase(s, ts);
	suite_add_tcase(s, tn);
	suite_add_tcase(s, tm);
	return s;
}
