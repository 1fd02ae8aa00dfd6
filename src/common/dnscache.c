/* dnscache: the resolver's cache of upstream answers, as dnsmasq 2.90 keeps it (RFC 2181, 2308). */
#include "config.h"

#include <sys/random.h>

#include <endian.h>

#include <sys/queue.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns.h"
#include "dnscache.h"
#include "log.h"
#include "util.h"

#define NX_TYPE		0		/* type key of an NXDOMAIN entry (type 0 is reserved) */
#define TTL_MAX		0x7fffffffU	/* RFC 2181 section 8: larger TTLs count as 0 */
#define BUCKETS_MIN	16
#define BUCKETS_MAX	(1U << 20)
#define TICK_SPAN	(INT64_C(1) << 31)	/* the clock's reach either side of the cache's start */

/* The types whose replies are cached: dnsmasq 2.90's default set. */
static const uint16_t cacheable_types[] = {
	DNS_T_A, DNS_T_AAAA, DNS_T_CNAME, DNS_T_PTR, DNS_T_SRV,
};

enum entry_kind {
	KIND_POSITIVE,
	KIND_NODATA,
	KIND_NXDOMAIN,
};

/*
 * One RRset or negative entry. data holds the lower-cased name (namelen bytes, wire form),
 * then nitems items, each a 2-byte big-endian length and that many bytes: the expanded RDATA
 * of each RR, or for a negative entry with an SOA the SOA owner name (wire form) and the SOA
 * RDATA. The header is kept small (40 bytes: a one-way bucket chain, times in 32-bit ticks of
 * the cache's own clock, no data length): a full cache is mostly headers, and an A record for
 * a name of up to 26 bytes then takes an 80-byte malloc chunk, not 96.
 */
struct entry {
	struct entry		*hnext;		/* the bucket's chain */
	TAILQ_ENTRY(entry)	 lru;
	uint32_t		 expires;	/* live while tick(now) < expires */
	uint32_t		 ttl;		/* as stored: no answer shows more */
	uint16_t		 type;		/* the qtype, NX_TYPE for NXDOMAIN */
	uint16_t		 nitems;
	uint16_t		 next;		/* round robin: the RR answered first */
	uint8_t			 kind;		/* enum entry_kind */
	uint8_t			 namelen;
	uint8_t			 data[];
};

#define entry_items(e)	((e)->data + (e)->namelen)

TAILQ_HEAD(lru_list, entry);

struct dnscache {
	struct dnscache_options	 opts;
	uint8_t			 key[16];	/* SipHash key, random per cache */
	struct entry		**buckets;
	size_t			 mask;		/* the number of buckets (a power of two) - 1 */
	int64_t			 epoch;		/* tick 0: 2^31 s before the cache started */
	struct lru_list		 lru;		/* least recently used first */
	uint32_t		 records;
	uint32_t		 entries;
	uint64_t		 insertions;
	uint64_t		 evictions;
	uint64_t		 hits;
	uint64_t		 misses;
};

/* A CNAME of the chain being stored. */
struct link {
	struct dns_name	 owner;		/* lower-cased key */
	struct dns_name	 target;	/* as sent */
	uint32_t	 ttl;
};

/* A growing list of items in the entry data format. */
struct items {
	uint8_t		*buf;
	size_t		 len;
	size_t		 cap;
	uint16_t	 n;
};

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)((unsigned int)p[0] << 8 | p[1]);
}

static uint64_t
get64le(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static uint64_t
rotl(uint64_t x, unsigned int b)
{
	return x << b | x >> (64 - b);
}

static inline void
sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = rotl(v[1], 13) ^ v[0];
	v[0] = rotl(v[0], 32);
	v[2] += v[3];
	v[3] = rotl(v[3], 16) ^ v[2];
	v[0] += v[3];
	v[3] = rotl(v[3], 21) ^ v[0];
	v[2] += v[1];
	v[1] = rotl(v[1], 17) ^ v[2];
	v[2] = rotl(v[2], 32);
}

/* SipHash-2-4 of in[0..len) under a 128-bit key (Aumasson and Bernstein, 2012). */
static uint64_t
siphash24(const uint8_t key[16], const uint8_t *in, size_t len)
{
	uint64_t k0 = get64le(key), k1 = get64le(key + 8), m;
	uint64_t v[4] = {
		0x736f6d6570736575ULL ^ k0, 0x646f72616e646f6dULL ^ k1,
		0x6c7967656e657261ULL ^ k0, 0x7465646279746573ULL ^ k1,
	};
	size_t end = len - len % 8;

	for (size_t i = 0; i < end; i += 8) {
		m = get64le(in + i);
		v[3] ^= m;
		sipround(v);
		sipround(v);
		v[0] ^= m;
	}
	m = (uint64_t)len << 56;
	for (size_t i = 0; i < len % 8; i++)
		m |= (uint64_t)in[end + i] << (8 * i);
	v[3] ^= m;
	sipround(v);
	sipround(v);
	v[0] ^= m;
	v[2] ^= 0xff;
	for (int i = 0; i < 4; i++)
		sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

bool
dnscache_type_cacheable(uint16_t qtype)
{
	for (size_t i = 0; i < nitems(cacheable_types); i++)
		if (cacheable_types[i] == qtype)
			return true;
	return false;
}

/* A TTL as RFC 2181 section 8 reads it: values with the top bit set are 0. */
static uint32_t
ttl_2181(uint32_t ttl)
{
	return ttl > TTL_MAX ? 0 : ttl;
}

/* The TTL kept for a record that arrived with ttl (nonzero): max-cache-ttl, then
 * min-cache-ttl, in dnsmasq's order (so min-cache-ttl wins when they cross). */
static uint32_t
stored_ttl(const struct dnscache *c, uint32_t ttl)
{
	if (c->opts.max_cache_ttl != 0 && ttl > c->opts.max_cache_ttl)
		ttl = c->opts.max_cache_ttl;
	if (ttl < c->opts.min_cache_ttl)
		ttl = c->opts.min_cache_ttl;
	return ttl;
}

/* now on the cache's clock: seconds since c->epoch, held to 0..UINT32_MAX (68 years either
 * side of the cache's start; past that, entries simply expire at once). */
static uint32_t
tick(const struct dnscache *c, int64_t now)
{
	uint64_t t;

	if (now <= c->epoch)
		return 0;
	t = (uint64_t)now - (uint64_t)c->epoch;
	return t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

/* Seconds e has left at tick t (live entries only), capped at max_ttl when nonzero. */
static uint32_t
ttl_left(const struct entry *e, uint32_t t, uint32_t max_ttl)
{
	uint32_t ttl = e->ttl;

	/* expires >= ttl always, and t < expires for a live entry: nothing can wrap, and a
	 * clock going backwards never shows more than the stored TTL. */
	if (t > e->expires - e->ttl)
		ttl = e->expires - t;

	if (max_ttl != 0 && ttl > max_ttl)
		ttl = max_ttl;
	return ttl;
}

/* The keyed hash of a lower-cased name. Every entry of a name (its CNAME, its types, its
 * NXDOMAIN) is in the bucket of this hash, so one walk finds all of them; a name has at most
 * five entries (one per cacheable type; a positive CNAME or an NXDOMAIN is alone). */
static uint64_t
name_hash(const struct dnscache *c, const struct dns_name *name)
{
	return siphash24(c->key, name->wire, name->len);
}

/* The 8 bytes of x with ASCII upper case letters lowered, all at once: a byte b < 0x80 is an
 * upper case letter if b + (0x80 - 'A') has its top bit set and b + (0x80 - 'Z' - 1) has not;
 * the sums of 7-bit values stay within their byte. */
static uint64_t
lower8(uint64_t x)
{
	const uint64_t low7 = 0x7f7f7f7f7f7f7f7fULL, top = 0x8080808080808080ULL;
	uint64_t h = x & low7;
	uint64_t ge_a = h + 0x0101010101010101ULL * (0x80 - 'A');
	uint64_t gt_z = h + 0x0101010101010101ULL * (0x80 - 'Z' - 1);

	return x | ((ge_a & ~gt_z & ~x & top) >> 2);
}

/* Copies name to dst lower-cased (label lengths are at most 63, below 'A', so lowering the
 * whole wire form is safe), eight bytes at a time. */
static void
name_lower_copy(struct dns_name *dst, const struct dns_name *name)
{
	size_t i = 0, len = name->len;
	uint64_t w;

	dst->len = name->len;
	for (; len - i >= 8; i += 8) {
		memcpy(&w, name->wire + i, sizeof(w));
		w = lower8(w);
		memcpy(dst->wire + i, &w, sizeof(w));
	}
	for (; i < len; i++)
		dst->wire[i] = name->wire[i] >= 'A' && name->wire[i] <= 'Z' ?
		    (uint8_t)(name->wire[i] + ('a' - 'A')) : name->wire[i];
}

/* The records e counts against the cache size: its RRs, or 1 for a negative entry. */
static uint32_t
entry_records(const struct entry *e)
{
	return e->kind == KIND_POSITIVE ? e->nitems : 1;
}

/* The bucket chain link that points at e. */
static struct entry **
entry_link(const struct dnscache *c, const struct entry *e)
{
	struct entry **pp;

	pp = &c->buckets[siphash24(c->key, e->data, e->namelen) & c->mask];
	while (*pp != e)
		pp = &(*pp)->hnext;
	return pp;
}

/* Unlinks and frees e, which *link points at (NULL: find it). */
static void
entry_unlink(struct dnscache *c, struct entry *e, struct entry **link)
{
	if (link == NULL)
		link = entry_link(c, e);
	*link = e->hnext;
	TAILQ_REMOVE(&c->lru, e, lru);
	c->records -= entry_records(e);
	c->entries--;
	free(e);
}

/* True if e is an entry of the lower-cased name. */
static bool
entry_named(const struct entry *e, const struct dns_name *name)
{
	return e->namelen == name->len && memcmp(e->data, name->wire, name->len) == 0;
}

/* What one walk of a name's bucket found: its entries for a type, its CNAME and its
 * NXDOMAIN, live or not. */
struct probe {
	struct entry	*typed;
	struct entry	*cname;
	struct entry	*nx;
};

/* Finds the entries of the lower-cased name (hash h) for type (which may be DNS_T_CNAME), for
 * DNS_T_CNAME and for NX_TYPE in one walk of its bucket. */
static void
probe_name(const struct dnscache *c, uint64_t h, const struct dns_name *name, uint16_t type,
    struct probe *p)
{
	struct entry *e;

	p->typed = p->cname = p->nx = NULL;
	for (e = c->buckets[h & c->mask]; e != NULL; e = e->hnext) {
		if (e->type == type) {
			if (entry_named(e, name))
				p->typed = e;
		} else if (e->type == DNS_T_CNAME) {
			if (entry_named(e, name))
				p->cname = e;
		} else if (e->type == NX_TYPE) {
			if (entry_named(e, name))
				p->nx = e;
		}
	}
}

/* e if it is live at now; an expired e is reclaimed. NULL for NULL. */
static struct entry *
entry_live(struct dnscache *c, struct entry *e, int64_t now)
{
	if (e == NULL || tick(c, now) < e->expires)
		return e;
	entry_unlink(c, e, NULL);
	return NULL;
}

/* Removes what a new entry for the lower-cased name (hash h) and type contradicts: the same
 * key, an NXDOMAIN for the name, a CNAME at the name; a CNAME or an NXDOMAIN replaces
 * everything the name has. */
static void
remove_conflicts(struct dnscache *c, uint64_t h, const struct dns_name *name, uint16_t type,
    enum entry_kind kind)
{
	bool all = kind == KIND_NXDOMAIN || (kind == KIND_POSITIVE && type == DNS_T_CNAME);
	struct entry **pp = &c->buckets[h & c->mask], *e;

	while ((e = *pp) != NULL) {
		if ((all || e->type == type || e->type == NX_TYPE || e->type == DNS_T_CNAME) &&
		    entry_named(e, name))
			entry_unlink(c, e, pp);	/* *pp is now e's successor */
		else
			pp = &e->hnext;
	}
}

/* Evicts least recently used entries until n more records fit (n <= size). */
static void
make_room(struct dnscache *c, uint32_t n, int64_t now)
{
	uint32_t t = tick(c, now);
	struct entry *e;

	while (c->opts.size - c->records < n && (e = TAILQ_FIRST(&c->lru)) != NULL) {
		if (t < e->expires)
			c->evictions += entry_records(e);
		entry_unlink(c, e, NULL);
	}
}

/* Caches an entry for the lower-cased name with ttl as received (RFC 2181 applied) and the
 * data of it->n items; returns the records stored (0: TTL 0, or larger than the cache). */
static uint32_t
insert(struct dnscache *c, const struct dns_name *name, uint16_t type, enum entry_kind kind,
    uint32_t ttl, const struct items *it, int64_t now)
{
	uint32_t records = kind == KIND_POSITIVE ? it->n : 1;
	struct entry *e, **head;
	uint64_t h, expires;

	if (ttl == 0 || records == 0 || records > c->opts.size)
		return 0;
	ttl = stored_ttl(c, ttl);
	h = name_hash(c, name);
	remove_conflicts(c, h, name, type, kind);
	make_room(c, records, now);
	e = xmalloc(offsetof(struct entry, data) + it->len + name->len);
	memset(e, 0, offsetof(struct entry, data));
	expires = (uint64_t)tick(c, now) + ttl;
	e->expires = expires > UINT32_MAX ? UINT32_MAX : (uint32_t)expires;
	e->ttl = ttl;
	e->kind = (uint8_t)kind;
	e->type = type;
	e->nitems = it->n;
	e->namelen = name->len;
	memcpy(e->data, name->wire, name->len);
	if (it->len > 0)
		memcpy(entry_items(e), it->buf, it->len);
	head = &c->buckets[h & c->mask];
	e->hnext = *head;
	*head = e;
	TAILQ_INSERT_TAIL(&c->lru, e, lru);
	c->records += records;
	c->entries++;
	c->insertions += records;
	return records;
}

/* Appends an item; with dedup, an item equal to one already there is dropped (RFC 2181
 * section 5: an RRset has no duplicates). */
static void
items_add(struct items *it, const uint8_t *data, size_t len, bool dedup)
{
	if (dedup) {
		for (size_t off = 0; off < it->len; off += 2 + (size_t)get16(it->buf + off))
			if (get16(it->buf + off) == len &&
			    memcmp(it->buf + off + 2, data, len) == 0)
				return;
	}
	if (it->cap - it->len < len + 2) {
		size_t cap = it->cap == 0 ? 512 : it->cap;

		while (cap - it->len < len + 2)
			cap *= 2;
		it->buf = xreallocarray(it->buf, cap, 1);
		it->cap = cap;
	}
	it->buf[it->len] = (uint8_t)(len >> 8);
	it->buf[it->len + 1] = (uint8_t)len;
	if (len > 0)
		memcpy(it->buf + it->len + 2, data, len);
	it->len += 2 + len;
	it->n++;
}

/* Finds the CNAME owned by name in the answer section: 1 with *link filled, 0 if there is
 * none, -1 if it is malformed. */
static int
find_cname(const struct dns_msg *msg, const uint8_t *buf, size_t len,
    const struct dns_name *name, struct link *link)
{
	uint8_t rd[DNS_EXPAND_MAX];
	struct dns_rr rr;
	size_t pos = msg->sec_off[DNS_SEC_ANSWER], n;
	int ret;

	while ((ret = dns_rr_next(msg, buf, len, &pos, &rr)) == 1 &&
	    rr.section == DNS_SEC_ANSWER) {
		if (rr.type != DNS_T_CNAME || rr.rclass != DNS_C_IN ||
		    !dns_name_equal(&rr.name, name))
			continue;
		if (dns_rdata_expand(buf, len, &rr, rd, sizeof(rd), &n) != DNS_OK ||
		    n > DNS_MAXNAME)
			return -1;
		link->owner = *name;
		link->target.len = (uint8_t)n;
		memcpy(link->target.wire, rd, n);
		link->ttl = ttl_2181(rr.ttl);
		return 1;
	}
	return ret < 0 ? -1 : 0;
}

/* True if the lower-cased name owns one of the n CNAMEs of links. */
static bool
chain_has(const struct link *links, size_t n, const struct dns_name *name)
{
	for (size_t i = 0; i < n; i++)
		if (links[i].owner.len == name->len &&
		    memcmp(links[i].owner.wire, name->wire, name->len) == 0)
			return true;
	return false;
}

/* Collects the expanded RDATA of the answer RRs of type owned by name into it and their
 * smallest TTL into *ttl; stops past max items. 0, or -1 if one is malformed. */
static int
collect_rrset(const struct dns_msg *msg, const uint8_t *buf, size_t len,
    const struct dns_name *name, uint16_t type, uint32_t max, struct items *it, uint32_t *ttl)
{
	uint8_t rd[DNS_EXPAND_MAX];
	struct dns_rr rr;
	size_t pos = msg->sec_off[DNS_SEC_ANSWER], n;
	int ret;

	*ttl = TTL_MAX;
	while ((ret = dns_rr_next(msg, buf, len, &pos, &rr)) == 1 &&
	    rr.section == DNS_SEC_ANSWER && it->n <= max) {
		if (rr.type != type || rr.rclass != DNS_C_IN || !dns_name_equal(&rr.name, name))
			continue;
		if (dns_rdata_expand(buf, len, &rr, rd, sizeof(rd), &n) != DNS_OK)
			return -1;
		items_add(it, rd, n, true);
		if (ttl_2181(rr.ttl) < *ttl)
			*ttl = ttl_2181(rr.ttl);
	}
	return ret < 0 ? -1 : 0;
}

/* Finds the SOA for a negative answer about name: the first well-formed IN SOA of the
 * authority section whose owner is name or an ancestor. Fills it with its owner and RDATA
 * and *ttl with the negative TTL (RFC 2308 section 5); returns false if there is none. */
static bool
find_soa(const struct dns_msg *msg, const uint8_t *buf, size_t len, const struct dns_name *name,
    struct items *it, uint32_t *ttl)
{
	uint8_t rd[DNS_EXPAND_MAX];
	struct dns_soa soa;
	struct dns_rr rr;
	size_t pos, n;

	if (msg->count[DNS_SEC_AUTHORITY] == 0)
		return false;
	pos = msg->sec_off[DNS_SEC_AUTHORITY];
	while (dns_rr_next(msg, buf, len, &pos, &rr) == 1 && rr.section == DNS_SEC_AUTHORITY) {
		if (rr.type != DNS_T_SOA || rr.rclass != DNS_C_IN ||
		    !dns_name_is_subdomain(name, &rr.name))
			continue;
		if (dns_rdata_expand(buf, len, &rr, rd, sizeof(rd), &n) != DNS_OK ||
		    dns_soa_read(rd, n, 0, n, &soa) != DNS_OK)
			continue;
		items_add(it, rr.name.wire, rr.name.len, false);
		items_add(it, rd, n, false);
		*ttl = ttl_2181(dns_soa_negative_ttl(ttl_2181(rr.ttl), &soa));
		return true;
	}
	return false;
}

struct dnscache *
dnscache_new(const struct dnscache_options *opts)
{
	struct dnscache *c;
	size_t nbuckets = BUCKETS_MIN;

	c = xcalloc(1, sizeof(*c));
	if (opts != NULL)
		c->opts = *opts;
	else
		c->opts.size = DNSCACHE_DEFAULT_SIZE;
	if (c->opts.size > DNSCACHE_MAX_SIZE)
		c->opts.size = DNSCACHE_MAX_SIZE;
	if (c->opts.min_cache_ttl > DNSCACHE_MIN_TTL_LIMIT)
		c->opts.min_cache_ttl = DNSCACHE_MIN_TTL_LIMIT;
	if (c->opts.neg_ttl > TTL_MAX)
		c->opts.neg_ttl = TTL_MAX;
	if (c->opts.max_cache_ttl > TTL_MAX)
		c->opts.max_cache_ttl = TTL_MAX;
	/* getrandom(2), the kernel's CSPRNG: no need to start OpenSSL's DRBG (2 MB) for 16 bytes. */
	if (getrandom(c->key, sizeof(c->key), 0) != (ssize_t)sizeof(c->key)) {
		log_errorx("dnscache_new: cannot draw a hash key");
		free(c);
		return NULL;
	}
	/* A bucket per entry (rounded up to a power of two): a hit reads its bucket and about
	 * one entry. Half as many buckets saved 64 KiB at 10,000 entries but made the chains
	 * (each entry its own cache line) twice as long. */
	while (nbuckets < c->opts.size && nbuckets < BUCKETS_MAX)
		nbuckets *= 2;
	c->buckets = xcalloc(nbuckets, sizeof(*c->buckets));
	c->epoch = (int64_t)time(NULL) - TICK_SPAN;
	c->mask = nbuckets - 1;
	TAILQ_INIT(&c->lru);
	return c;
}

void
dnscache_flush(struct dnscache *c)
{
	struct entry *e;

	if (c == NULL)
		return;
	while ((e = TAILQ_FIRST(&c->lru)) != NULL) {
		TAILQ_REMOVE(&c->lru, e, lru);
		free(e);
	}
	memset(c->buckets, 0, (c->mask + 1) * sizeof(*c->buckets));
	c->records = 0;
	c->entries = 0;
}

void
dnscache_free(struct dnscache *c)
{
	if (c == NULL)
		return;
	dnscache_flush(c);
	free(c->buckets);
	free(c);
}

void
dnscache_stats(const struct dnscache *c, struct dnscache_stats *st)
{
	if (st == NULL)
		return;
	memset(st, 0, sizeof(*st));
	if (c == NULL)
		return;
	st->size = c->opts.size;
	st->records = c->records;
	st->entries = c->entries;
	st->insertions = c->insertions;
	st->evictions = c->evictions;
	st->hits = c->hits;
	st->misses = c->misses;
}

uint32_t
dnscache_records(const struct dnscache *c)
{
	return c == NULL ? 0 : c->records;
}

int
dnscache_store(struct dnscache *c, const struct dns_msg *msg, const uint8_t *buf, size_t len,
    time_t now)
{
	struct link links[DNSCACHE_CHAIN_MAX], link;
	struct items rrset = { 0 }, soa = { 0 }, one = { 0 };
	struct dns_name cur;
	unsigned int rcode;
	uint32_t ttl = 0;
	size_t nlinks = 0;
	bool final = true, malformed = false, positive;
	int ret = -1, found;
	uint16_t qtype;

	if (c == NULL || msg == NULL || buf == NULL || !msg->walked || len < msg->end)
		goto done;
	ret = 0;
	qtype = msg->q.qtype;
	rcode = dns_msg_rcode(msg);
	if (c->opts.size == 0 || !msg->has_question || msg->count[DNS_SEC_QUESTION] != 1 ||
	    msg->q.qclass != DNS_C_IN || !dnscache_type_cacheable(qtype) ||
	    (msg->flags & (DNS_F_QR | DNS_F_TC | DNS_F_CD)) != DNS_F_QR ||
	    DNS_OPCODE(msg->flags) != DNS_OP_QUERY ||
	    (rcode != DNS_R_NOERROR && rcode != DNS_R_NXDOMAIN))
		goto done;

	/* The chain, checked whole before anything is stored. A CNAME query does not chase. */
	cur = msg->q.name;
	dns_name_lower(&cur);
	while (qtype != DNS_T_CNAME && (found = find_cname(msg, buf, len, &cur, &link)) != 0) {
		if (found < 0) {
			malformed = true;
			goto done;
		}
		if (nlinks == DNSCACHE_CHAIN_MAX) {
			/* Too long (or a loop): the CNAMEs so far only. */
			final = false;
			break;
		}
		links[nlinks++] = link;
		cur = link.target;
		dns_name_lower(&cur);
		if (chain_has(links, nlinks, &cur)) {
			/* A loop: its CNAMEs once each, and nothing final. */
			final = false;
			break;
		}
	}
	if (final && collect_rrset(msg, buf, len, &cur, qtype, c->opts.size, &rrset, &ttl) < 0) {
		malformed = true;
		goto done;
	}

	for (size_t i = 0; i < nlinks; i++) {
		one.len = one.n = 0;
		items_add(&one, links[i].target.wire, links[i].target.len, false);
		ret += (int)insert(c, &links[i].owner, DNS_T_CNAME, KIND_POSITIVE, links[i].ttl,
		    &one, now);
	}
	if (!final)
		goto done;
	positive = rrset.n > 0;
	if (positive && rcode == DNS_R_NOERROR) {
		ret += (int)insert(c, &cur, qtype, KIND_POSITIVE, ttl, &rrset, now);
	} else if (!positive && !c->opts.no_negcache) {
		if (!find_soa(msg, buf, len, &cur, &soa, &ttl))
			ttl = c->opts.neg_ttl;
		if (rcode == DNS_R_NXDOMAIN)
			ret += (int)insert(c, &cur, NX_TYPE, KIND_NXDOMAIN, ttl, &soa, now);
		else
			ret += (int)insert(c, &cur, qtype, KIND_NODATA, ttl, &soa, now);
	}
done:
	if (malformed) {
		log_debug("dnscache_store: a record of the answer chain is malformed");
		ret = -1;
	}
	free(rrset.buf);
	free(soa.buf);
	free(one.buf);
	return ret;
}

/* Writes the RRs of e, owned by owner, into the answer section, from its round-robin
 * position on. */
static int
write_rrset(struct dns_builder *b, const struct dns_name *owner, const struct entry *e,
    uint32_t ttl)
{
	const uint8_t *items = entry_items(e);
	size_t off = 0, n;
	int ret;

	for (uint16_t i = 0; i < e->next; i++)
		off += 2 + (size_t)get16(items + off);
	for (unsigned int i = e->next; i < (unsigned int)e->next + e->nitems; i++) {
		if (i == e->nitems)
			off = 0;	/* wrapped around to the first item */
		n = get16(items + off);
		if ((ret = dns_build_rr(b, DNS_SEC_ANSWER, owner, e->type, DNS_C_IN, ttl,
		    items + off + 2, n)) != DNS_OK)
			return ret;
		off += 2 + n;
	}
	return DNS_OK;
}

/* Writes the SOA kept with negative entry e into the authority section, if it has one. */
static int
write_soa(struct dns_builder *b, const struct entry *e, uint32_t ttl)
{
	const uint8_t *items = entry_items(e);
	struct dns_name owner;
	size_t n, off;

	if (e->nitems != 2)
		return DNS_OK;
	n = get16(items);
	owner.len = (uint8_t)n;
	memcpy(owner.wire, items + 2, n);
	off = 2 + n;
	return dns_build_rr(b, DNS_SEC_AUTHORITY, &owner, DNS_T_SOA, DNS_C_IN, ttl,
	    items + off + 2, get16(items + off));
}

/* Writes the chain and the final entry found by dnscache_answer. */
static int
write_answer(struct dns_builder *b, const struct dns_name *qname, struct entry **chain,
    size_t n, const struct entry *e, uint32_t t, uint32_t max_ttl)
{
	const struct dns_name *ownerp = qname;
	struct dns_name owner;
	int ret;

	for (size_t i = 0; i < n; i++) {
		const uint8_t *target = entry_items(chain[i]);
		size_t len = get16(target);

		if ((ret = dns_build_rr(b, DNS_SEC_ANSWER, ownerp, DNS_T_CNAME, DNS_C_IN,
		    ttl_left(chain[i], t, max_ttl), target + 2, len)) != DNS_OK)
			return ret;
		owner.len = (uint8_t)len;
		memcpy(owner.wire, target + 2, len);
		ownerp = &owner;
	}
	if (e->kind == KIND_POSITIVE)
		return write_rrset(b, ownerp, e, ttl_left(e, t, max_ttl));
	return write_soa(b, e, ttl_left(e, t, max_ttl));
}

/* Finds what the cache holds for qname and qtype at now: the CNAMEs from qname (into chain,
 * *n of them) and the final name's entry for qtype or its NXDOMAIN; NULL for a miss. One hash
 * and one bucket walk per name: the final name's, and one for each CNAME followed. */
static struct entry *
resolve(struct dnscache *c, const struct dns_name *qname, uint16_t qtype, int64_t now,
    struct entry **chain, size_t *n)
{
	struct dns_name cur;
	struct probe p;
	struct entry *e;

	*n = 0;
	name_lower_copy(&cur, qname);
	for (;;) {
		probe_name(c, name_hash(c, &cur), &cur, qtype, &p);
		if (qtype == DNS_T_CNAME || (e = entry_live(c, p.cname, now)) == NULL ||
		    e->kind != KIND_POSITIVE)
			break;
		/* A chain longer than dnsmasq follows is not answered from the cache. */
		if (*n == DNSCACHE_CHAIN_MAX)
			return NULL;
		chain[(*n)++] = e;
		cur.len = (uint8_t)get16(entry_items(e));
		memcpy(cur.wire, entry_items(e) + 2, cur.len);
		dns_name_lower(&cur);
	}
	if ((e = entry_live(c, p.typed, now)) == NULL)
		e = entry_live(c, p.nx, now);
	return e;
}

enum dnscache_status
dnscache_answer(struct dnscache *c, const struct dns_name *qname, uint16_t qtype,
    uint16_t qclass, time_t now, uint32_t max_ttl, struct dns_builder *b,
    struct dnscache_reply *reply)
{
	struct entry *chain[DNSCACHE_CHAIN_MAX], *e;
	struct dnscache_reply r = { .status = DNSCACHE_MISS };
	struct dns_builder saved;
	size_t n, saved_len;
	int ret;

	if (c == NULL || qname == NULL || b == NULL || b->buf == NULL || qname->len == 0 ||
	    c->opts.size == 0 || qclass != DNS_C_IN || !dnscache_type_cacheable(qtype))
		goto done;
	if ((e = resolve(c, qname, qtype, now, chain, &n)) == NULL)
		goto done;
	/* What a failed answer would have to restore: the builder up to its last recorded label
	 * (those after it are unused until recorded again), not all of its DNS_COMPRESS_MAX. */
	saved_len = b->ncomp <= DNS_COMPRESS_MAX ?
	    offsetof(struct dns_builder, comp) + b->ncomp * sizeof(b->comp[0]) : sizeof(*b);
	memcpy(&saved, b, saved_len);
	ret = write_answer(b, qname, chain, n, e, tick(c, now), max_ttl);
	if (ret != DNS_OK && ret != DNS_E_SPACE) {
		/* The builder was not ready for answers: leave it as it was. */
		memcpy(b, &saved, saved_len);
		goto done;
	}
	if (ret == DNS_E_SPACE) {
		dns_builder_truncate(b);
		r.truncated = true;
	} else {
		r.answers = (uint16_t)(b->count[DNS_SEC_ANSWER] - saved.count[DNS_SEC_ANSWER]);
		r.authority = (uint16_t)(b->count[DNS_SEC_AUTHORITY] -
		    saved.count[DNS_SEC_AUTHORITY]);
	}
	if (e->kind == KIND_POSITIVE && e->nitems > 0)
		e->next = (uint16_t)((e->next + 1) % e->nitems);
	for (size_t i = 0; i < n; i++) {
		TAILQ_REMOVE(&c->lru, chain[i], lru);
		TAILQ_INSERT_TAIL(&c->lru, chain[i], lru);
	}
	TAILQ_REMOVE(&c->lru, e, lru);
	TAILQ_INSERT_TAIL(&c->lru, e, lru);
	switch (e->kind) {
	case KIND_POSITIVE:
		r.status = DNSCACHE_POSITIVE;
		break;
	case KIND_NXDOMAIN:
		r.status = DNSCACHE_NXDOMAIN;
		r.rcode = DNS_R_NXDOMAIN;
		break;
	case KIND_NODATA:
		r.status = DNSCACHE_NODATA;
		break;
	}
done:
	if (c != NULL && r.status == DNSCACHE_MISS)
		c->misses++;
	else if (c != NULL)
		c->hits++;
	if (reply != NULL)
		*reply = r;
	return r.status;
}

/*
 * The prefetch hints of a batch of queries (udp_burst): at saturation a cache hit's bucket and
 * entry are cache misses, because the kernel's network path runs between two queries; asking
 * for all of a batch's buckets, then for all of their first entries, before answering any,
 * overlaps those misses. Costs a second hash of each name: with 5,000 names in the cache,
 * zt's CPU per hit fell by 7-11 % (doc/performance.md).
 */
const void *
dnscache_prefetch_bucket(const struct dnscache *c, const uint8_t *msg, size_t len)
{
	size_t pos = DNS_HEADER_LEN, n;
	struct entry *const *bucket;
	uint64_t h;

	if (c == NULL || c->opts.size == 0)
		return NULL;
	/* The question name of a query is not compressed: its labels, up to the root. */
	while (pos < len && (n = msg[pos]) != 0) {
		if (n > 63)
			return NULL;
		pos += 1 + n;
	}
	if (pos >= len || pos + 1 - DNS_HEADER_LEN > DNS_MAXNAME)
		return NULL;
	/* The name as sent: the bucket of its lower-cased key unless it has upper case. */
	h = siphash24(c->key, msg + DNS_HEADER_LEN, pos + 1 - DNS_HEADER_LEN);
	bucket = &c->buckets[h & c->mask];
	__builtin_prefetch(bucket);
	return bucket;
}

void
dnscache_prefetch_entry(const void *token)
{
	const struct entry *e;

	if (token == NULL || (e = *(struct entry *const *)token) == NULL)
		return;
	__builtin_prefetch(e);
	__builtin_prefetch((const uint8_t *)e + 64);
}
