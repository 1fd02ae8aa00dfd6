/* dnscache: the resolver's cache of upstream answers, as dnsmasq 2.90 keeps it (RFC 2181, 2308). */
#ifndef ZT_DNSCACHE_H
#define ZT_DNSCACHE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "dns.h"

#define DNSCACHE_DEFAULT_SIZE	150		/* dnsmasq's cache-size default */
#define DNSCACHE_MAX_SIZE	5000000		/* dnsmasq clamps cache-size here */
#define DNSCACHE_MIN_TTL_LIMIT	3600		/* dnsmasq caps min-cache-ttl here */
#define DNSCACHE_CHAIN_MAX	10		/* CNAMEs followed, storing and answering */

/* Configuration (dnsmasq's option names). Zero-initialised means: caching off (size 0). */
struct dnscache_options {
	uint32_t	size;		/* cache-size: records held (an RR is one, a
					 * negative is one); 0 disables; <= DNSCACHE_MAX_SIZE */
	bool		no_negcache;	/* no-negcache: never cache NXDOMAIN / NODATA */
	uint32_t	neg_ttl;	/* neg-ttl: TTL of negatives without an SOA (0: none) */
	uint32_t	min_cache_ttl;	/* min-cache-ttl: raises stored TTLs; capped at 3600 */
	uint32_t	max_cache_ttl;	/* max-cache-ttl: caps stored TTLs; 0: no cap */
};

/* What dnscache_answer found. */
enum dnscache_status {
	DNSCACHE_MISS = 0,	/* nothing usable: forward the query; the builder is unchanged */
	DNSCACHE_POSITIVE,	/* the RRset (after any CNAMEs) was written: NOERROR */
	DNSCACHE_NXDOMAIN,	/* cached NXDOMAIN for the final name: NXDOMAIN */
	DNSCACHE_NODATA,	/* cached NODATA for the final name and qtype: NOERROR */
};

/* The outcome of a hit; on a miss every field is zero. */
struct dnscache_reply {
	enum dnscache_status status;
	unsigned int	rcode;		/* DNS_R_NOERROR or DNS_R_NXDOMAIN, for the header */
	bool		truncated;	/* did not fit: the builder was truncated (TC, no RRs) */
	uint16_t	answers;	/* RRs written to the answer section (CNAMEs included) */
	uint16_t	authority;	/* RRs written to the authority section (the SOA) */
};

/* Counters for the CHAOS names cachesize.bind, insertions.bind, evictions.bind, hits.bind and
 * misses.bind. insertions and evictions count records; evictions only live ones removed to
 * make room. hits and misses count dnscache_answer calls. A flush keeps the counters. */
struct dnscache_stats {
	uint32_t	size;		/* the configured cache-size */
	uint32_t	records;	/* records held now (<= size) */
	uint32_t	entries;	/* RRsets and negative entries held now */
	uint64_t	insertions;
	uint64_t	evictions;
	uint64_t	hits;
	uint64_t	misses;
};

struct dnscache;

/* Creates a cache (opts NULL: dnsmasq's defaults, cache-size 150); options out of range are
 * clamped. NULL only if the hash key cannot be drawn (logged). */
struct dnscache	*dnscache_new(const struct dnscache_options *opts);
/* Frees the cache and everything in it; NULL is a no-op. */
void		 dnscache_free(struct dnscache *cache);
/* Drops every entry (SIGHUP); the statistics are kept. */
void		 dnscache_flush(struct dnscache *cache);

/*
 * Stores what can be cached of an upstream reply that matches the question asked: buf[0..len)
 * parsed by dns_parse into msg. Only class IN; qtype A, AAAA, CNAME, PTR or SRV; opcode QUERY;
 * TC clear; CD clear (dnsmasq does not cache checking-disabled answers, and a reply echoes the
 * query's CD); rcode NOERROR or NXDOMAIN. From the question name it follows the answer
 * section's CNAMEs (at most DNSCACHE_CHAIN_MAX; owner = the current name), caching each, then
 * caches the qtype RRset owned by the final name, or a negative entry for it (NXDOMAIN: every
 * qtype of the name; NOERROR: that qtype) whose TTL comes from the first authority SOA owned
 * by the final name or an ancestor (RFC 2308 section 5), else from neg-ttl. Nothing else from
 * the message is kept. Returns the number of records stored (0 when nothing was cacheable) or
 * -1 if msg was not walked by dns_parse or a record on the chain is malformed (nothing is
 * stored then).
 */
int		 dnscache_store(struct dnscache *cache, const struct dns_msg *msg,
		    const uint8_t *buf, size_t len, time_t now);

/*
 * Answers qname/qtype/qclass from the cache at time now into b, which holds the question
 * (and nothing after it yet): the cached CNAMEs from qname, then the final name's RRset
 * (rotated by one on every answer) in the answer section, or for a negative entry its SOA in
 * the authority section. TTLs are the seconds left, capped at max_ttl when it is nonzero. ANY,
 * classes other than IN and types that are not cached are always misses. On a miss nothing is
 * written. The caller sets the header (rcode from reply, AA clear) and adds the OPT RR; as
 * dnsmasq, it does not come here for RD=0 or DO=1 queries. Returns the status also put in
 * *reply (reply may be NULL).
 */
enum dnscache_status dnscache_answer(struct dnscache *cache, const struct dns_name *qname,
		    uint16_t qtype, uint16_t qclass, time_t now, uint32_t max_ttl,
		    struct dns_builder *b, struct dnscache_reply *reply);

/* True if replies for qtype are cached at all (A, AAAA, CNAME, PTR, SRV). */
bool		 dnscache_type_cacheable(uint16_t qtype);
/* Fills *stats; a NULL cache gives zeros. */
void		 dnscache_stats(const struct dnscache *cache, struct dnscache_stats *stats);
/* The records held now (the records of dnscache_stats); 0 for a NULL cache. */
uint32_t	 dnscache_records(const struct dnscache *cache);

/*
 * Prefetching for a batch of queries: dnscache_prefetch_bucket starts loading the bucket of
 * the question name of query msg (as sent: a name with upper case letters just prefetches the
 * wrong bucket) and returns a token for dnscache_prefetch_entry, which starts loading the first
 * entry of that bucket once it has arrived. Hints only: they change nothing.
 */
const void	*dnscache_prefetch_bucket(const struct dnscache *cache, const uint8_t *msg,
		    size_t len);
void		 dnscache_prefetch_entry(const void *token);

#endif
