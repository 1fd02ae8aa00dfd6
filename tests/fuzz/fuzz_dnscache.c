/* fuzz_dnscache: upstream replies stored in the DNS cache, then answered from it. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/dns.h"
#include "common/dnscache.h"

/*
 * Input: two bytes of options, then replies separated by MARKER. Byte 0 is the cache size
 * (0 disables it); byte 1 sets no-negcache (0x01), neg-ttl 60 (0x02), min-cache-ttl 30
 * (0x04) or 5000 (0x20, capped), max-cache-ttl 120 (0x08) and max-ttl 50 on answers (0x10).
 * Each reply starts with one byte of seconds to advance the clock (0xff flushes the cache);
 * the rest is the message.
 */
#define MARKER		"ZTDC"
#define MARKER_LEN	4
#define MAX_INPUT	(1024 * 1024)
#define MAX_NAMES	16	/* names taken from a reply to ask about */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint16_t qtypes[] = {
	DNS_T_A, DNS_T_AAAA, DNS_T_CNAME, DNS_T_PTR, DNS_T_SRV, DNS_T_TXT, DNS_T_ANY,
};

/* Aborts unless the cache holds at most its size. */
static void
check_bound(const struct dnscache *c)
{
	struct dnscache_stats st;

	dnscache_stats(c, &st);
	if (st.records > st.size || st.entries > st.records)
		abort();
}

/* Asks for name/qtype into a builder of bufsize bytes; what comes out must parse, and a
 * miss must leave the builder as it was. */
static void
ask(struct dnscache *c, const struct dns_name *name, uint16_t qtype, time_t now,
    uint32_t max_ttl, size_t bufsize)
{
	static uint8_t buf[DNS_MAXMSG];
	struct dnscache_reply r;
	struct dns_builder b;
	struct dns_msg msg;
	size_t qlen, len;
	uint16_t qd;

	if (dns_builder_init(&b, buf, bufsize, 0x1234, DNS_F_QR | DNS_F_RD | DNS_F_RA) != DNS_OK ||
	    dns_build_question(&b, name, qtype, DNS_C_IN) != DNS_OK)
		return;
	qlen = b.len;
	qd = b.count[DNS_SEC_QUESTION];
	if (dnscache_answer(c, name, qtype, DNS_C_IN, now, max_ttl, &b, &r) == DNSCACHE_MISS) {
		if (b.len != qlen || b.count[DNS_SEC_ANSWER] != 0 ||
		    b.count[DNS_SEC_AUTHORITY] != 0 || r.status != DNSCACHE_MISS)
			abort();
	} else if (r.truncated) {
		if (b.count[DNS_SEC_ANSWER] != 0 || b.count[DNS_SEC_AUTHORITY] != 0)
			abort();
	} else if (r.answers != b.count[DNS_SEC_ANSWER] ||
	    r.authority != b.count[DNS_SEC_AUTHORITY] ||
	    (r.status == DNSCACHE_POSITIVE && (r.answers == 0 || r.authority != 0)) ||
	    (r.status != DNSCACHE_POSITIVE && r.authority > 1) ||
	    (r.status == DNSCACHE_NXDOMAIN) != (r.rcode == DNS_R_NXDOMAIN)) {
		abort();
	}
	len = dns_builder_finish(&b);
	if (dns_parse(buf, len, &msg) != DNS_OK || msg.count[DNS_SEC_QUESTION] != qd)
		abort();
	check_bound(c);
}

/* Stores one reply, then asks about its question and the names its RRs mention. */
static void
one_reply(struct dnscache *c, const uint8_t *msgbuf, size_t len, time_t now, uint32_t max_ttl)
{
	struct dns_name names[MAX_NAMES];
	struct dns_msg msg;
	struct dns_rr rr;
	size_t n = 0, pos;

	/* The batch prefetch scans the question name of any datagram, well-formed or not. */
	dnscache_prefetch_entry(dnscache_prefetch_bucket(c, msgbuf, len));
	if (dns_parse(msgbuf, len, &msg) != DNS_OK)
		return;
	(void)dnscache_store(c, &msg, msgbuf, len, now);
	check_bound(c);
	if (msg.has_question)
		names[n++] = msg.q.name;
	pos = msg.sec_off[DNS_SEC_ANSWER];
	while (n < MAX_NAMES && dns_rr_next(&msg, msgbuf, len, &pos, &rr) == 1)
		names[n++] = rr.name;
	for (size_t i = 0; i < n; i++) {
		for (size_t t = 0; t < sizeof(qtypes) / sizeof(qtypes[0]); t++) {
			ask(c, &names[i], qtypes[t], now, max_ttl, 512);
			ask(c, &names[i], qtypes[t], now, max_ttl, DNS_MAXMSG);
		}
		/* Small builders make answers truncate part way. */
		ask(c, &names[i], msg.q.qtype, now, max_ttl, 64 + (i * 37) % 200);
		ask(c, &names[i], msg.q.qtype, now + 30, max_ttl, DNS_MAXMSG);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dnscache_options o = { 0 };
	struct dnscache *c;
	const uint8_t *p, *end, *next;
	uint32_t max_ttl;
	time_t now = 1000;

	if (size < 2 || size > MAX_INPUT)
		return 0;
	o.size = data[0];
	o.no_negcache = data[1] & 0x01;
	o.neg_ttl = data[1] & 0x02 ? 60 : 0;
	o.min_cache_ttl = data[1] & 0x20 ? 5000 : data[1] & 0x04 ? 30 : 0;
	o.max_cache_ttl = data[1] & 0x08 ? 120 : 0;
	max_ttl = data[1] & 0x10 ? 50 : 0;
	if ((c = dnscache_new(&o)) == NULL)
		return 0;
	p = data + 2;
	end = data + size;
	while (p < end) {
		next = memmem(p, (size_t)(end - p), MARKER, MARKER_LEN);
		if (next == NULL)
			next = end;
		if (next > p) {
			if (p[0] == 0xff)
				dnscache_flush(c);
			else
				now += p[0];
			one_reply(c, p + 1, (size_t)(next - p - 1), now, max_ttl);
		}
		p = next == end ? end : next + MARKER_LEN;
	}
	check_bound(c);
	dnscache_free(c);
	return 0;
}
