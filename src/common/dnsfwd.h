/* dnsfwd: forwards queries to upstream servers as dnsmasq 2.90 does, hardened against spoofing
 * (RFC 5452): fresh random IDs and ports, strict reply matching, merged duplicates. */
#ifndef ZT_DNSFWD_H
#define ZT_DNSFWD_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns.h"
#include "resolver.h"

struct event_base;
struct dnsfwd;
struct dnsfwd_wait;

struct dnsfwd_options {
	uint32_t	 forward_max;	/* dns-forward-max: queries in flight per group */
	bool		 strict_order;
	bool		 all_servers;
	bool		 query_port_set;
	uint16_t	 query_port;	/* 0: one port chosen by the system */
	uint16_t	 edns_packet_max;
	uint32_t	 timeout_ms;	/* how long a query waits for upstream; 0: 10 s */
};

enum dnsfwd_status {
	DNSFWD_ANSWER = 0,	/* reply/msg hold the upstream's answer */
	DNSFWD_TIMEOUT,		/* no usable answer in time (or every server failed) */
};

/* Called once per waiting client. reply and msg are valid during the call only. */
typedef void	(*dnsfwd_cb)(void *arg, enum dnsfwd_status status, const uint8_t *reply,
		    size_t len, const struct dns_msg *msg);

struct dnsfwd	*dnsfwd_new(struct event_base *base, const struct dnsfwd_options *opts);
/* Frees the forwarder; waiting clients are not called. NULL is a no-op. */
void		 dnsfwd_free(struct dnsfwd *f);

/*
 * Forwards the client query q (as the resolver read it) to the servers of
 * group (index gi of the resolver's groups). An identical query in flight (same name, type,
 * class, CD and DO) is joined instead of sent again. Returns a handle for dnsfwd_cancel, or
 * NULL when the group has no servers or dns-forward-max queries are in flight (the caller
 * answers REFUSED).
 */
struct dnsfwd_wait *dnsfwd_query(struct dnsfwd *f, const struct resolver_group *group, size_t gi,
		    const struct resolver_qinfo *q, dnsfwd_cb cb, void *arg);
/* Forgets a waiting client (it went away); its callback will not be called. */
void		 dnsfwd_cancel(struct dnsfwd *f, struct dnsfwd_wait *w);

/* Counters per upstream server (for CHAOS servers.bind). */
void		 dnsfwd_server_stats(const struct dnsconf_upstream *u,
		    struct resolver_server_stats *st, void *arg);
/* Queries in flight (for tests and status). */
size_t		 dnsfwd_pending(const struct dnsfwd *f);

#endif
