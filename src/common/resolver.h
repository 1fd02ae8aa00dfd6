/* resolver: dnsmasq 2.90's query pipeline: local data, the cache, the domain table, and the
 * decision to forward (reference/dnsmasq.md section 1). Pure: no sockets, time passed in. */
#ifndef ZT_RESOLVER_H
#define ZT_RESOLVER_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "dns.h"
#include "dnscache.h"
#include "dnsconf.h"

/* A set of upstream servers chosen by the domain table: the servers of one domain's
 * server= lines, or (index 0) the servers without a domain plus those of resolv.conf. */
struct resolver_group {
	char		*domain;	/* "" for the default group */
	struct dnsconf_upstream *servers;
	size_t		 nservers;
};

enum resolver_action {
	RESOLVER_DROP = 0,	/* no reply at all (as dnsmasq: malformed, or a reply) */
	RESOLVER_REPLY,		/* out holds the reply */
	RESOLVER_FORWARD,	/* forward to group; out is unused */
};

/* The question and flags of a client query, as the forwarder needs them. */
struct resolver_qinfo {
	uint16_t	 id;
	uint16_t	 flags;		/* RD and CD are copied upstream */
	struct dns_name	 qname;		/* as sent */
	uint16_t	 qtype, qclass;
	bool		 edns;		/* the client sent an OPT RR */
	uint16_t	 edns_flags;	/* its DO bit is copied upstream */
};

/* What the pipeline decided for one query. */
struct resolver_result {
	enum resolver_action action;
	size_t		 len;		/* REPLY: bytes of out */
	size_t		 group;		/* FORWARD: index into the groups */
	bool		 rewrite_nx;	/* FORWARD: the name exists locally or an address= covers
					 * it: NXDOMAIN from upstream becomes NOERROR with AA */
	bool		 cache_ok;	/* FORWARD: the reply may be stored in the cache */
	const char	*source;	/* REPLY: what answered, for log-queries: "config",
					 * "cached", "/etc/hosts" (a file name) ... */
	unsigned int	 rcode;		/* REPLY: the rcode sent */
	struct resolver_qinfo info;	/* unless DROP: the query */
};

/* Counters kept by the server and shown by CHAOS servers.bind. */
struct resolver_server_stats {
	uint64_t	 queries;
	uint64_t	 failed;
};

struct resolver;

/* A resolver over conf (which must outlive it) and cache (may be NULL: no cache). Reads the
 * hosts files (unless no-hosts: /etc/hosts, or hosts_file when given) and addn-hosts. Returns
 * NULL after logging. */
struct resolver	*resolver_new(const struct dnsconf *conf, struct dnscache *cache,
		    const char *hosts_file);
void		 resolver_free(struct resolver *r);
/* Reads the hosts files again (SIGHUP). Returns -1 after logging if one could not be read;
 * the old data is replaced by what could be read, as dnsmasq does. */
int		 resolver_reload_hosts(struct resolver *r);
/* Replaces the servers that came from resolv.conf in the default group. */
void		 resolver_set_resolv_servers(struct resolver *r, const struct sockaddr_storage *addrs,
		    size_t naddrs);
/* The upstream groups; index 0 is the default group. */
size_t		 resolver_group_count(const struct resolver *r);
const struct resolver_group *resolver_group(const struct resolver *r, size_t i);
/* Sets the function CHAOS servers.bind uses to read the per-server counters. */
void		 resolver_set_server_stats(struct resolver *r,
		    void (*fn)(const struct dnsconf_upstream *, struct resolver_server_stats *, void *),
		    void *arg);

/* Runs the pipeline for the client query q[0..qlen) received over UDP or TCP at time now. A
 * reply is written into out (outcap bytes, at least 512; the reply is limited to what the client
 * accepts). */
void		 resolver_query(struct resolver *r, const uint8_t *q, size_t qlen, bool tcp,
		    time_t now, uint8_t *out, size_t outcap, struct resolver_result *res);

/*
 * Turns the upstream reply up[0..uplen) (parsed by dns_parse into upmsg; the caller has checked
 * it answers the question asked) into the reply for the client query q[0..qlen): the client's ID
 * and question, RA set and AD clear, TTLs capped by max-ttl, the OPT RR the client's EDNS calls
 * for, NXDOMAIN turned into NODATA with AA when rewrite_nx, TC with no records when it does not
 * fit. Stores the result in the cache when cache_ok. Returns the length, or 0 to send nothing.
 */
size_t		 resolver_forwarded_reply(struct resolver *r, const uint8_t *q, size_t qlen, bool tcp,
		    const uint8_t *up, size_t uplen, const struct dns_msg *upmsg, bool rewrite_nx,
		    bool cache_ok, time_t now, uint8_t *out, size_t outcap);

/* The largest reply the client of query msg accepts over UDP: its EDNS size clamped to
 * [512, edns-packet-max], 512 without EDNS; 65535 over TCP. */
size_t		 resolver_client_limit(const struct resolver *r, const struct dns_msg *msg, bool tcp);

/* Builds a header-and-question reply to query q with rcode (and EDNS when the query had it):
 * used for REFUSED when too many queries are in flight. Returns the length, or 0. */
size_t		 resolver_error_reply(const struct resolver *r, const uint8_t *q, size_t qlen,
		    unsigned int rcode, bool tcp, uint8_t *out, size_t outcap);

#endif
