/* dns: `zt dns serve`, a private resolver that reads dnsmasq's configuration as it is and
 * answers as dnsmasq 2.90 does (RFC 1035, 6891, 7766; RFC 5452 for forwarding). */
#include "config.h"

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <arpa/inet.h>
#include <linux/capability.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "applets.h"
#include "common/dns.h"
#include "common/dnscache.h"
#include "common/dnsconf.h"
#include "common/dnsfwd.h"
#include "common/ev.h"
#include "common/health.h"
#include "common/ifaddr.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/resolver.h"
#include "common/util.h"

static const char usage[] =
"usage: zt dns serve [-C FILE] [--conf-dir=DIR] [--OPTION[=VALUE] ...] [--test]\n"
"                    [--log-format=text|json] [--log-level=LEVEL] [--metrics=ADDR]\n"
"       zt dns ready --metrics=ADDR\n"
"\n"
"A private DNS resolver that reads dnsmasq's configuration unchanged and answers as\n"
"dnsmasq 2.90 does: address=, local=, server=, hosts files, host-record, cname,\n"
"txt-record, srv-host, mx-host, ptr-record, a cache, and forwarding hardened against\n"
"spoofing. Every dnsmasq DNS option zt supports can be given in a file or on the\n"
"command line as --option=value; see zt-dns(8) and doc/dns.md.\n"
"\n"
"  -C, --conf-file=FILE  read FILE instead of /etc/dnsmasq.conf\n"
"  -7, --conf-dir=DIR    read the files of DIR (dnsmasq's rules)\n"
"  --test                check the configuration and exit\n"
"  -k, --keep-in-foreground, -d, --no-daemon\n"
"                        do not go into the background\n"
"  --log-format=FORMAT   text (the default on a terminal) or json\n"
"  --log-level=LEVEL     error, warn, info (default) or debug\n"
"  --metrics=ADDR        serve /metrics, /ready and /healthz on ADDR (a zt extension;\n"
"                        PORT means 127.0.0.1:PORT; doc/metrics.md)\n"
"\n"
"`zt dns ready --metrics=ADDR` exits 0 when the resolver serving ADDR is ready.\n";

#define DNS_TCP_MAX_CONNS	128	/* concurrent TCP clients */
#define DNS_TCP_MAX_QUERIES	100	/* per connection, as dnsmasq */
#define DNS_TCP_IDLE_SECS	10	/* RFC 7766 section 6.2.3 */
#define DNS_UDP_BURST		64	/* datagrams read per wake-up */
#define DNS_REFUSED_LOG_SECS	5

struct server;

/* A bound socket pair (UDP and TCP) on one address, or a wildcard socket. */
struct listener {
	struct server	*srv;
	struct ifaddr_entry	 ifa;		/* the address bound (wildcard: family only) */
	bool		 wildcard;
	int		 udp;
	struct event	*udp_ev;	/* readable; deleted while busy (udp_read) */
	struct event	*udp_busy;	/* zero timeout: the next burst while busy */
	struct ev_listener *tcp;
	bool		 seen;		/* still present at the last re-list */
};

/* A UDP client waiting for an upstream answer. */
struct udp_client {
	struct server	*srv;
	int		 fd;
	struct sockaddr_storage peer;
	socklen_t	 peerlen;
	bool		 has_pktinfo;
	struct sockaddr_storage local;	/* the address the query came to (wildcard sockets) */
	unsigned int	 ifindex;
	bool		 rewrite_nx;
	bool		 cache_ok;
	struct resolver_qinfo info;
	size_t		 qlen;
	uint8_t		 q[];
};

/* A TCP client connection: queries are answered in order, one at a time. */
struct tcp_conn {
	struct server	*srv;
	struct bufferevent *bev;
	struct dnsfwd_wait *wait;
	uint8_t		*q;		/* the query being answered */
	size_t		 qlen;
	bool		 rewrite_nx;
	bool		 cache_ok;
	unsigned int	 nqueries;
	bool		 eof;		/* the client has sent all it will send */
	bool		 closing;	/* ends once the queued answers are written */
	struct tcp_conn	*next, *prev;
};

/* One version of a resolv-file. dnsmasq hears of changes through inotify, so a rewrite in the
 * same second as the last read must count too: the whole-second mtime alone misses it. */
struct file_version {
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
};

struct server {
	struct event_base *base;
	struct dnsconf	*conf;
	struct dnscache	*cache;
	struct resolver	*res;
	struct dnsfwd	*fwd;
	struct ev_signals *sig;
	struct ifaddr_watch *watch;
	struct ev_timer	*resolv_timer;
	struct listener	**listeners;
	size_t		 nlisteners;
	bool		 filter;	/* wildcard sockets with interface rules: check arrivals */
	struct ifaddr_entry	*addrs;		/* the machine's addresses, for that check */
	size_t		 naddrs;
	struct tcp_conn	*conns;
	size_t		 nconns;
	struct file_version resolv_version;	/* of resolv_used when it was read */
	char		*resolv_used;
	int		 resolv_errno;	/* the last stat failure reported */
	time_t		 refused_logged;
	bool		 stopping;
	int		 exit_status;
	/* operations (doc/metrics.md) */
	struct health	*health;
	unsigned int	 udp_queries;	/* UDP queries not yet added to m_queries */
	struct metrics_family *m_queries, *m_hits, *m_misses, *m_inserts, *m_evicts, *m_entries;
	struct metrics_family *m_upstream, *m_timeouts, *m_pending, *m_tcp, *m_listeners;
	uint8_t		 out[DNS_MAXMSG];
};

static void udp_read(evutil_socket_t fd, short what, void *arg);
static void listen_rules(const struct dnsconf *c, struct ifaddr_rules *rules,
    struct sockaddr_storage **listen);
static void tcp_accept(int fd, const struct sockaddr *peer, socklen_t len, void *arg);
static void tcp_next(struct tcp_conn *c);
static void tcp_eventcb(struct bufferevent *bev, short what, void *arg);

/* --- logging of queries ----------------------------------------------------------------- */

static void
log_query(struct server *srv, const struct resolver_qinfo *q, const struct sockaddr *peer,
    const char *what, const char *detail)
{
	char name[DNS_MAXTEXT], type[DNS_TYPE_TEXT], from[80];

	if (!srv->conf->log_queries)
		return;
	dns_name_to_text(&q->qname, name, sizeof(name));
	dns_type_name(q->qtype, type, sizeof(type));
	if (peer != NULL)
		log_info("query[%s] %s from %s", type, name, util_sockaddr_str(peer, from,
		    sizeof(from)));
	if (what != NULL)
		log_info("%s %s %s", what, name, detail != NULL ? detail : "");
}

/* An upstream's answer taken for a client (by its rcode), or none in time. */
static void
count_upstream(struct server *srv, enum dnsfwd_status status, const uint8_t *reply,
    size_t len)
{
	char rc[DNS_TYPE_TEXT];
	uint16_t flags;

	if (status != DNSFWD_ANSWER) {
		metrics_add(srv->m_timeouts, 1);
		return;
	}
	if (dns_get_flags(reply, len, &flags) != 0)
		return;
	dns_rcode_name(DNS_RCODE(flags), rc, sizeof(rc));
	metrics_add(srv->m_upstream, 1, rc);
}

/* --- replies ------------------------------------------------------------------------- */

/* Sends a datagram back from the address the query came to. */
static void
udp_send(int fd, const uint8_t *buf, size_t len, const struct sockaddr_storage *peer,
    socklen_t peerlen, bool has_pktinfo, const struct sockaddr_storage *local,
    unsigned int ifindex)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_name = (void *)peer, .msg_namelen = peerlen, .msg_iov = &iov,
	    .msg_iovlen = 1 };
	union {
		struct cmsghdr	 align;
		char		 buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	} cbuf;

	if (has_pktinfo) {
		struct cmsghdr *cm;

		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		if (local->ss_family == AF_INET) {
			struct in_pktinfo pi = { 0 };

			pi.ipi_spec_dst = ((const struct sockaddr_in *)local)->sin_addr;
			mh.msg_controllen = CMSG_SPACE(sizeof(pi));
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = IPPROTO_IP;
			cm->cmsg_type = IP_PKTINFO;
			cm->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		} else {
			struct in6_pktinfo pi = { 0 };

			pi.ipi6_addr = ((const struct sockaddr_in6 *)local)->sin6_addr;
			pi.ipi6_ifindex = ifindex;
			mh.msg_controllen = CMSG_SPACE(sizeof(pi));
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = IPPROTO_IPV6;
			cm->cmsg_type = IPV6_PKTINFO;
			cm->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		}
	}
	if (sendmsg(fd, &mh, 0) == -1 && errno != EAGAIN)
		log_debug("dns: sendmsg: %s", strerror(errno));
}

/* Answers REFUSED when the forwarder cannot take the query (no servers, or too many). */
static size_t
refuse(struct server *srv, const uint8_t *q, size_t qlen, bool tcp, const struct resolver_group *g,
    uint8_t *out, size_t outcap)
{
	time_t now = time(NULL);

	if (g != NULL && g->nservers == 0)
		log_debug("dns: no upstream servers for this name: REFUSED");
	else if (now - srv->refused_logged >= DNS_REFUSED_LOG_SECS) {
		srv->refused_logged = now;
		log_warnx("Maximum number of concurrent DNS queries reached (max: %u)",
		    srv->conf->dns_forward_max);
	}
	return resolver_error_reply(srv->res, q, qlen, DNS_R_REFUSED, tcp, out, outcap);
}

static void
log_reply(struct server *srv, const struct resolver_qinfo *info, const uint8_t *buf, size_t len,
    const char *what)
{
	char detail[32], rc[DNS_TYPE_TEXT];
	uint16_t flags;

	if (!srv->conf->log_queries || dns_get_flags(buf, len, &flags) != 0)
		return;
	dns_rcode_name(DNS_RCODE(flags), rc, sizeof(rc));
	snprintf(detail, sizeof(detail), "is %s", rc);
	log_query(srv, info, NULL, what, detail);
}

static void
udp_forwarded(void *arg, enum dnsfwd_status status, const uint8_t *reply, size_t len,
    const struct dns_msg *msg)
{
	struct udp_client *c = arg;
	struct server *srv = c->srv;
	size_t n;

	count_upstream(srv, status, reply, len);
	if (status == DNSFWD_ANSWER) {
		n = resolver_forwarded_reply(srv->res, c->q, c->qlen, false, reply, len, msg,
		    c->rewrite_nx, c->cache_ok, time(NULL), srv->out, sizeof(srv->out));
		if (n > 0) {
			log_reply(srv, &c->info, srv->out, n, "reply");
			udp_send(c->fd, srv->out, n, &c->peer, c->peerlen, c->has_pktinfo, &c->local,
			    c->ifindex);
		}
	}
	free(c);
}

/* Handles one client query arriving over UDP on listener fd. A reply the resolver makes at once
 * is written into out (outcap bytes) and its length returned, for the caller to send; 0 when
 * there is nothing to send now (dropped, or forwarded: the reply is sent when it comes). */
static size_t
udp_query(struct server *srv, int fd, const uint8_t *q, size_t qlen,
    const struct sockaddr_storage *peer, socklen_t peerlen, bool has_pktinfo,
    const struct sockaddr_storage *local, unsigned int ifindex, time_t now, uint8_t *out,
    size_t outcap)
{
	struct resolver_result res;
	const struct resolver_group *g;
	struct udp_client *c;

	/* Port 0 cannot be answered; dnsmasq drops it too. */
	if ((peer->ss_family == AF_INET && ((const struct sockaddr_in *)peer)->sin_port == 0) ||
	    (peer->ss_family == AF_INET6 && ((const struct sockaddr_in6 *)peer)->sin6_port == 0))
		return 0;
	srv->udp_queries++;	/* added to m_queries once per batch, by udp_read */
	resolver_query(srv->res, q, qlen, false, now, out, outcap, &res);
	if (res.action == RESOLVER_DROP)
		return 0;
	if (srv->conf->log_queries)
		log_query(srv, &res.info, (const struct sockaddr *)peer, NULL, NULL);
	if (res.action == RESOLVER_REPLY) {
		log_reply(srv, &res.info, out, res.len, res.source);
		return res.len;
	}
	g = resolver_group(srv->res, res.group);
	c = xmalloc(sizeof(*c) + qlen);
	c->srv = srv;
	c->fd = fd;
	c->peer = *peer;
	c->peerlen = peerlen;
	c->has_pktinfo = has_pktinfo;
	c->local = *local;
	c->ifindex = ifindex;
	c->rewrite_nx = res.rewrite_nx;
	c->cache_ok = res.cache_ok;
	c->info = res.info;
	c->qlen = qlen;
	memcpy(c->q, q, qlen);
	if (dnsfwd_query(srv->fwd, g, res.group, &res.info, udp_forwarded, c) == NULL) {
		free(c);
		return refuse(srv, q, qlen, false, g, out, outcap);
	}
	if (srv->conf->log_queries) {
		char to[80] = "";
		if (g != NULL && g->nservers > 0)
			util_sockaddr_str((const struct sockaddr *)&g->servers[0].addr, to,
			    sizeof(to));
		log_query(srv, &res.info, NULL, "forwarded", to);
	}
	return 0;
}

/* With wildcard sockets: whether interface=, except-interface= and listen-address= allow the
 * address (on interface ifindex) a datagram arrived at. */
static bool
arrival_allowed(struct server *srv, const struct sockaddr_storage *local, unsigned int ifindex)
{
	struct ifaddr_rules rules;
	struct sockaddr_storage *ls;
	bool ok = false;

	for (size_t i = 0; i < srv->naddrs; i++) {
		const struct ifaddr_entry *a = &srv->addrs[i];
		if (a->family != local->ss_family || (ifindex != 0 && a->index != ifindex))
			continue;
		if (a->family == AF_INET ? a->addr.sin.sin_addr.s_addr !=
		    ((const struct sockaddr_in *)local)->sin_addr.s_addr :
		    memcmp(&a->addr.sin6.sin6_addr, &((const struct sockaddr_in6 *)local)->sin6_addr,
		    16) != 0)
			continue;
		listen_rules(srv->conf, &rules, &ls);
		ok = ifaddr_match(&rules, a);
		free(ls);
		break;
	}
	return ok;
}

static void
refresh_addrs(void *arg)
{
	struct server *srv = arg;
	struct ifaddr_entry *addrs;
	size_t n;

	if (ifaddr_list(&addrs, &n) == 0) {
		free(srv->addrs);
		srv->addrs = addrs;
		srv->naddrs = n;
	}
}

/* The batches of datagrams udp_read moves with one recvmmsg and one sendmmsg. */
#define UDP_BATCH	32
#define UDP_SLOT	4096	/* larger datagrams are truncated on receive and dropped */
#define UDP_HEAD	512	/* bytes of a datagram received into the packed heads */

/*
 * Memory a batch touches is kept small: a datagram is received into its slot's head (the heads
 * are packed, 32 of them in 4 pages) and only its bytes past UDP_HEAD land in the slot's own
 * tail (pages touched only by large queries; such a query is then joined in whole). Replies
 * are packed one after the other in r: each is built with UDP_SLOT bytes free after it, which
 * r always has (at most UDP_BATCH replies of at most UDP_SLOT bytes each).
 */
struct udp_batch {
	struct mmsghdr	 in[UDP_BATCH], out[UDP_BATCH];
	struct iovec	 iniov[UDP_BATCH][2], outiov[UDP_BATCH];
	struct sockaddr_storage peer[UDP_BATCH];
	union {
		struct cmsghdr	 align;
		char		 buf[256];
	}		 incmsg[UDP_BATCH], outcmsg[UDP_BATCH];
	uint8_t		 head[UDP_BATCH][UDP_HEAD];
	uint8_t		 whole[UDP_SLOT];		/* a large query joined */
	uint8_t		 r[UDP_BATCH * UDP_SLOT];
	uint8_t		 tail[UDP_BATCH][UDP_SLOT - UDP_HEAD];
};

/* The arrival address and interface of a datagram on a wildcard socket (IP_PKTINFO). */
static bool
arrival_of(struct msghdr *mh, struct sockaddr_storage *local, unsigned int *ifindex)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			local->ss_family = AF_INET;
			((struct sockaddr_in *)local)->sin_addr = pi.ipi_addr;
			*ifindex = (unsigned int)pi.ipi_ifindex;
			return true;
		}
		if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			local->ss_family = AF_INET6;
			((struct sockaddr_in6 *)local)->sin6_addr = pi.ipi6_addr;
			*ifindex = pi.ipi6_ifindex;
			return true;
		}
	}
	return false;
}

/* Fills the control buffer of an outgoing message so it leaves from local (wildcard sockets). */
static void
set_source(struct msghdr *mh, void *cbuf, size_t cbuflen, const struct sockaddr_storage *local,
    unsigned int ifindex)
{
	struct cmsghdr *cm;

	memset(cbuf, 0, cbuflen);
	mh->msg_control = cbuf;
	if (local->ss_family == AF_INET) {
		struct in_pktinfo pi = { 0 };

		pi.ipi_spec_dst = ((const struct sockaddr_in *)local)->sin_addr;
		mh->msg_controllen = CMSG_SPACE(sizeof(pi));
		cm = CMSG_FIRSTHDR(mh);
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	} else {
		struct in6_pktinfo pi = { 0 };

		pi.ipi6_addr = ((const struct sockaddr_in6 *)local)->sin6_addr;
		pi.ipi6_ifindex = ifindex;
		mh->msg_controllen = CMSG_SPACE(sizeof(pi));
		cm = CMSG_FIRSTHDR(mh);
		cm->cmsg_level = IPPROTO_IPV6;
		cm->cmsg_type = IPV6_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	}
}

/* Reads datagrams in batches (recvmmsg), answers what can be answered at once and sends those
 * replies in one sendmmsg: two system calls for up to 32 queries. True when every batch of the
 * burst was full: more are probably waiting. */
static bool
udp_burst(struct listener *l)
{
	struct server *srv = l->srv;
	int fd = l->udp;
	static struct udp_batch *b;
	/* Replies larger than a slot (edns-packet-max above 4096) are built in srv->out. */
	bool big = srv->conf->edns_packet_max > UDP_SLOT;
	const void *pf[UDP_BATCH];

	if (b == NULL)
		b = xcalloc(1, sizeof(*b));
	for (int round = 0; round < DNS_UDP_BURST / UDP_BATCH; round++) {
		time_t now = time(NULL);
		unsigned int nout = 0;
		size_t roff = 0;
		int n;

		for (int i = 0; i < UDP_BATCH; i++) {
			b->iniov[i][0].iov_base = b->head[i];
			b->iniov[i][0].iov_len = UDP_HEAD;
			b->iniov[i][1].iov_base = b->tail[i];
			b->iniov[i][1].iov_len = UDP_SLOT - UDP_HEAD;
			memset(&b->in[i], 0, sizeof(b->in[i]));
			b->in[i].msg_hdr.msg_name = &b->peer[i];
			b->in[i].msg_hdr.msg_namelen = sizeof(b->peer[i]);
			b->in[i].msg_hdr.msg_iov = b->iniov[i];
			b->in[i].msg_hdr.msg_iovlen = 2;
			if (l->wildcard) {
				b->in[i].msg_hdr.msg_control = b->incmsg[i].buf;
				b->in[i].msg_hdr.msg_controllen = sizeof(b->incmsg[i].buf);
			}
		}
		if ((n = recvmmsg(fd, b->in, UDP_BATCH, MSG_DONTWAIT, NULL)) <= 0)
			return false;
		/* Start loading every cached answer of the batch before answering the first: a
		 * hit's bucket and entry are otherwise cache misses, one after the other. */
		if (srv->cache != NULL) {
			for (int i = 0; i < n; i++)
				pf[i] = dnscache_prefetch_bucket(srv->cache, b->head[i],
				    b->in[i].msg_len < UDP_HEAD ? b->in[i].msg_len : UDP_HEAD);
			for (int i = 0; i < n; i++)
				dnscache_prefetch_entry(pf[i]);
		}
		for (int i = 0; i < n; i++) {
			struct msghdr *mh = &b->in[i].msg_hdr;
			struct sockaddr_storage local;
			unsigned int ifindex = 0;
			bool has_pktinfo = false;
			const uint8_t *q = b->head[i];
			size_t len;

			if (mh->msg_flags & MSG_TRUNC)
				continue;
			if (b->in[i].msg_len > UDP_HEAD) {
				memcpy(b->whole, b->head[i], UDP_HEAD);
				memcpy(b->whole + UDP_HEAD, b->tail[i], b->in[i].msg_len - UDP_HEAD);
				q = b->whole;
			}
			memset(&local, 0, sizeof(local));
			if (l->wildcard) {
				has_pktinfo = arrival_of(mh, &local, &ifindex);
				if (srv->filter && !arrival_allowed(srv, &local, ifindex))
					continue;
			}
			len = udp_query(srv, fd, q, b->in[i].msg_len, &b->peer[i],
			    mh->msg_namelen, has_pktinfo, &local, ifindex, now,
			    big ? srv->out : b->r + roff, big ? sizeof(srv->out) : UDP_SLOT);
			if (len == 0)
				continue;
			if (big) {
				udp_send(fd, srv->out, len, &b->peer[i], mh->msg_namelen,
				    has_pktinfo, &local, ifindex);
				continue;
			}
			memset(&b->out[nout], 0, sizeof(b->out[nout]));
			b->outiov[nout].iov_base = b->r + roff;
			b->outiov[nout].iov_len = len;
			roff += len;
			b->out[nout].msg_hdr.msg_name = &b->peer[i];
			b->out[nout].msg_hdr.msg_namelen = mh->msg_namelen;
			b->out[nout].msg_hdr.msg_iov = &b->outiov[nout];
			b->out[nout].msg_hdr.msg_iovlen = 1;
			if (has_pktinfo)
				set_source(&b->out[nout].msg_hdr, b->outcmsg[nout].buf,
				    sizeof(b->outcmsg[nout].buf), &local, ifindex);
			nout++;
		}
		if (srv->udp_queries > 0) {
			metrics_add(srv->m_queries, (double)srv->udp_queries, "udp");
			srv->udp_queries = 0;
		}
		for (unsigned int sent = 0; sent < nout;) {
			int m = sendmmsg(fd, b->out + sent, nout - sent, 0);
			if (m <= 0) {
				/* Skip the datagram that failed (a vanished client, a full queue). */
				if (m < 0 && errno == EINTR)
					continue;
				sent++;
				continue;
			}
			sent += (unsigned int)m;
		}
		if (n < UDP_BATCH)
			return false;
	}
	return true;
}

/*
 * A busy listener's socket leaves the event loop's interest set until a burst finds its queue
 * drained. While a socket is in an epoll set, the kernel takes that epoll's locks for every
 * datagram that arrives and for every reply that leaves (the socket's read and write-space
 * wake-ups), on both CPUs, even though nobody waits: at saturation that cost about a tenth of
 * the queries per second (doc/performance.md). dnsmasq, on poll(), never pays it while busy.
 * The next burst of a busy listener runs from a zero timeout, i.e. after the loop has polled
 * and served every other event (TCP clients, upstream answers).
 */
static void
udp_read(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;
	static const struct timeval now = { 0, 0 };

	(void)fd;
	(void)what;
	if (udp_burst(l)) {
		if (event_pending(l->udp_ev, EV_READ, NULL))
			event_del(l->udp_ev);
		evtimer_add(l->udp_busy, &now);
	} else if (!event_pending(l->udp_ev, EV_READ, NULL))
		event_add(l->udp_ev, NULL);
}

/* --- TCP ----------------------------------------------------------------------------- */

static void
tcp_free(struct tcp_conn *c)
{
	struct server *srv = c->srv;

	if (c->wait != NULL)
		dnsfwd_cancel(srv->fwd, c->wait);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	srv->nconns--;
	bufferevent_free(c->bev);
	free(c->q);
	free(c);
}

static void
tcp_written(struct bufferevent *bev, void *arg)
{
	tcp_free(arg);
}

/* Ends the connection after the answers already queued on it have gone out: freeing the
 * bufferevent at once would throw them away (100 pipelined queries and a 101st got none). */
static void
tcp_close(struct tcp_conn *c)
{
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		tcp_free(c);
		return;
	}
	bufferevent_setcb(c->bev, NULL, tcp_written, tcp_eventcb, c);
}

static void
tcp_write_reply(struct tcp_conn *c, const uint8_t *buf, size_t len)
{
	uint8_t hdr[2] = { (uint8_t)(len >> 8), (uint8_t)len };

	bufferevent_write(c->bev, hdr, 2);
	bufferevent_write(c->bev, buf, len);
}

static void
tcp_forwarded(void *arg, enum dnsfwd_status status, const uint8_t *reply, size_t len,
    const struct dns_msg *msg)
{
	struct tcp_conn *c = arg;
	struct server *srv = c->srv;
	size_t n = 0;

	count_upstream(srv, status, reply, len);
	c->wait = NULL;
	if (status == DNSFWD_ANSWER)
		n = resolver_forwarded_reply(srv->res, c->q, c->qlen, true, reply, len, msg,
		    c->rewrite_nx, c->cache_ok, time(NULL), srv->out, sizeof(srv->out));
	else
		n = resolver_error_reply(srv->res, c->q, c->qlen, DNS_R_SERVFAIL, true, srv->out,
		    sizeof(srv->out));
	if (n > 0)
		tcp_write_reply(c, srv->out, n);
	free(c->q);
	c->q = NULL;
	tcp_next(c);
}

/* Answers the next complete query in the connection's input, if none is being answered; after
 * the client's end of input, closes once everything it sent is answered. */
static void
tcp_next(struct tcp_conn *c)
{
	struct server *srv = c->srv;
	struct evbuffer *in = bufferevent_get_input(c->bev);

	while (c->q == NULL && !c->closing && !srv->stopping) {
		struct resolver_result res;
		uint8_t hdr[2];
		size_t len;

		if (evbuffer_copyout(in, hdr, 2) != 2)
			break;
		len = (size_t)hdr[0] << 8 | hdr[1];
		if (evbuffer_get_length(in) < len + 2)
			break;
		if (c->nqueries++ >= DNS_TCP_MAX_QUERIES || len == 0) {
			tcp_close(c);
			return;
		}
		c->q = xmalloc(len);
		c->qlen = len;
		evbuffer_drain(in, 2);
		evbuffer_remove(in, c->q, len);
		metrics_add(srv->m_queries, 1, "tcp");
		resolver_query(srv->res, c->q, len, true, time(NULL), srv->out, sizeof(srv->out),
		    &res);
		if (res.action != RESOLVER_DROP && srv->conf->log_queries) {
			struct sockaddr_storage peer;
			socklen_t plen = sizeof(peer);

			if (getpeername(bufferevent_getfd(c->bev), (struct sockaddr *)&peer,
			    &plen) == 0)
				log_query(srv, &res.info, (struct sockaddr *)&peer, NULL, NULL);
			if (res.action == RESOLVER_REPLY)
				log_reply(srv, &res.info, srv->out, res.len, res.source);
		}
		if (res.action == RESOLVER_FORWARD) {
			const struct resolver_group *g = resolver_group(srv->res, res.group);

			c->rewrite_nx = res.rewrite_nx;
			c->cache_ok = res.cache_ok;
			c->wait = dnsfwd_query(srv->fwd, g, res.group, &res.info, tcp_forwarded, c);
			if (c->wait != NULL)
				return;
			res.len = refuse(srv, c->q, len, true, g, srv->out, sizeof(srv->out));
			res.action = res.len > 0 ? RESOLVER_REPLY : RESOLVER_DROP;
		}
		if (res.action == RESOLVER_REPLY)
			tcp_write_reply(c, srv->out, res.len);
		free(c->q);
		c->q = NULL;
		/* A query dnsmasq would drop ends the connection. */
		if (res.action == RESOLVER_DROP) {
			tcp_close(c);
			return;
		}
	}
	if (c->eof && c->q == NULL && !c->closing)
		tcp_close(c);
}

static void
tcp_readcb(struct bufferevent *bev, void *arg)
{
	tcp_next(arg);
}

static void
tcp_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct tcp_conn *c = arg;

	/* A client may close its side once its queries are sent (dnsmasq answers them all):
	 * stop reading, answer what came, then close. */
	if ((what & BEV_EVENT_EOF) && !(what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) &&
	    !c->closing) {
		c->eof = true;
		bufferevent_disable(bev, EV_READ);
		tcp_next(c);
		return;
	}
	tcp_free(c);
}

static void
tcp_accept(int fd, const struct sockaddr *peer, socklen_t len, void *arg)
{
	struct listener *l = arg;
	struct server *srv = l->srv;
	struct timeval idle = { DNS_TCP_IDLE_SECS, 0 };
	struct tcp_conn *c;

	if (srv->nconns >= DNS_TCP_MAX_CONNS || srv->stopping) {
		close(fd);
		return;
	}
	if (l->wildcard && srv->filter) {
		/* The same interface=/listen-address= check as UDP arrivals get. */
		struct sockaddr_storage local;
		socklen_t locallen = sizeof(local);

		if (getsockname(fd, (struct sockaddr *)&local, &locallen) == -1 ||
		    !arrival_allowed(srv, &local, 0)) {
			close(fd);
			return;
		}
	}
	c = xcalloc(1, sizeof(*c));
	c->srv = srv;
	c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		free(c);
		return;
	}
	/* At most one query (2 + 65535 bytes) and a little more is read ahead. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, 2 * (DNS_MAXMSG + 2));
	bufferevent_setcb(c->bev, tcp_readcb, NULL, tcp_eventcb, c);
	bufferevent_set_timeouts(c->bev, &idle, &idle);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = srv->conns;
	if (c->next != NULL)
		c->next->prev = c;
	srv->conns = c;
	srv->nconns++;
}

/* --- listening ------------------------------------------------------------------------ */

static void
listener_free(struct listener *l)
{
	if (l == NULL)
		return;
	if (l->udp_ev != NULL)
		event_free(l->udp_ev);
	if (l->udp_busy != NULL)
		event_free(l->udp_busy);
	if (l->udp != -1)
		close(l->udp);
	ev_listener_free(l->tcp);
	free(l);
}

/* Binds UDP and TCP on addr (port set) for the server; NULL after logging. */
static struct listener *
listener_new(struct server *srv, const struct ifaddr_entry *ifa, bool wildcard)
{
	struct listener *l = xcalloc(1, sizeof(*l));
	struct sockaddr_storage ss;
	int one = 1;
	char name[80];

	l->srv = srv;
	l->ifa = *ifa;
	l->wildcard = wildcard;
	l->udp = -1;
	memcpy(&ss, &ifa->addr, ifa->addrlen);
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(srv->conf->port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(srv->conf->port);
	util_sockaddr_str((struct sockaddr *)&ss, name, sizeof(name));
	l->udp = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->udp == -1)
		goto fail;
	if (ss.ss_family == AF_INET6)
		setsockopt(l->udp, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (wildcard) {
		if (ss.ss_family == AF_INET)
			setsockopt(l->udp, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
		else
			setsockopt(l->udp, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
	}
	if (bind(l->udp, (struct sockaddr *)&ss, ifa->addrlen) == -1)
		goto fail;
	l->udp_ev = event_new(srv->base, l->udp, EV_READ | EV_PERSIST, udp_read, l);
	l->udp_busy = evtimer_new(srv->base, udp_read, l);
	if (l->udp_ev == NULL || l->udp_busy == NULL)
		fatalx("dns: out of memory");
	event_add(l->udp_ev, NULL);
	l->tcp = ev_listener_new(srv->base, (struct sockaddr *)&ss, ifa->addrlen, 32, tcp_accept,
	    l);
	if (l->tcp == NULL) {
		listener_free(l);
		return NULL;
	}
	log_debug("dns: listening on %s", name);
	return l;
fail:
	log_error("failed to create listening socket for %s", name);
	listener_free(l);
	return NULL;
}

static void
listeners_add(struct server *srv, struct listener *l)
{
	srv->listeners = xreallocarray(srv->listeners, srv->nlisteners + 1,
	    sizeof(*srv->listeners));
	srv->listeners[srv->nlisteners++] = l;
}

/* The rules of interface=, except-interface= and listen-address=. */
static void
listen_rules(const struct dnsconf *c, struct ifaddr_rules *rules,
    struct sockaddr_storage **listen)
{
	struct sockaddr_storage *ls = xcalloc(c->nlisten_addrs + 1, sizeof(*ls));

	for (size_t i = 0; i < c->nlisten_addrs; i++) {
		ls[i].ss_family = (sa_family_t)c->listen_addrs[i].family;
		if (c->listen_addrs[i].family == AF_INET)
			((struct sockaddr_in *)&ls[i])->sin_addr = c->listen_addrs[i].u.v4;
		else
			((struct sockaddr_in6 *)&ls[i])->sin6_addr = c->listen_addrs[i].u.v6;
	}
	memset(rules, 0, sizeof(*rules));
	rules->interfaces = (const char *const *)c->interfaces;
	rules->ninterfaces = c->ninterfaces;
	rules->except = (const char *const *)c->except_interfaces;
	rules->nexcept = c->nexcept_interfaces;
	rules->listen = ls;
	rules->nlisten = c->nlisten_addrs;
	*listen = ls;
}

/* Binds every allowed address not yet bound and closes those that went away. With
 * bind-interfaces (first is true) a failure is fatal, as in dnsmasq. */
static int
bind_addresses(struct server *srv, bool first)
{
	const struct dnsconf *c = srv->conf;
	struct ifaddr_rules rules;
	struct sockaddr_storage *ls;
	struct ifaddr_entry *addrs = NULL;
	size_t naddrs = 0;
	int ret = -1;

	listen_rules(c, &rules, &ls);
	if (ifaddr_list(&addrs, &naddrs) == -1)
		goto out;
	for (size_t i = 0; i < srv->nlisteners; i++)
		srv->listeners[i]->seen = false;
	for (size_t i = 0; i < naddrs; i++) {
		const struct ifaddr_entry *a = &addrs[i];
		struct listener *l = NULL;

		if (!ifaddr_match(&rules, a) || (a->flags & (IFADDR_F_TENTATIVE | IFADDR_F_DADFAILED)))
			continue;
		for (size_t j = 0; j < srv->nlisteners; j++)
			if (ifaddr_same(&srv->listeners[j]->ifa, a))
				l = srv->listeners[j];
		if (l != NULL) {
			l->seen = true;
			continue;
		}
		if ((l = listener_new(srv, a, false)) == NULL) {
			if (first && c->bind_interfaces)
				goto out;
			continue;
		}
		l->seen = true;
		listeners_add(srv, l);
	}
	/* listen-address= entries that are not on this machine: fatal with bind-interfaces. */
	if (first && c->bind_interfaces) {
		for (size_t i = 0; i < c->nlisten_addrs; i++) {
			bool found = false;
			for (size_t j = 0; j < srv->nlisteners; j++) {
				const struct ifaddr_entry *a = &srv->listeners[j]->ifa;
				if (a->family == c->listen_addrs[i].family &&
				    memcmp(a->family == AF_INET ? (const void *)&a->addr.sin.sin_addr :
				    (const void *)&a->addr.sin6.sin6_addr,
				    &c->listen_addrs[i].u, a->family == AF_INET ? 4 : 16) == 0)
					found = true;
			}
			if (!found) {
				char buf[INET6_ADDRSTRLEN];
				inet_ntop(c->listen_addrs[i].family, &c->listen_addrs[i].u, buf,
				    sizeof(buf));
				log_errorx("failed to create listening socket for %s: Cannot assign "
				    "requested address", buf);
				goto out;
			}
		}
	}
	for (size_t i = 0; i < srv->nlisteners;) {
		if (!srv->listeners[i]->seen) {
			log_debug("dns: address gone, closing its sockets");
			listener_free(srv->listeners[i]);
			srv->listeners[i] = srv->listeners[--srv->nlisteners];
		} else
			i++;
	}
	ret = 0;
out:
	free(addrs);
	free(ls);
	return ret;
}

static void
addresses_changed(void *arg)
{
	bind_addresses(arg, false);
}

/* Wildcard sockets (dnsmasq's default mode); arrival addresses are checked per packet. */
static int
bind_wildcard(struct server *srv)
{
	struct ifaddr_entry a;
	int bound = 0;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	a.addr.sin.sin_family = AF_INET;
	a.addrlen = sizeof(struct sockaddr_in);
	{
		struct listener *l = listener_new(srv, &a, true);
		if (l != NULL) {
			listeners_add(srv, l);
			bound++;
		}
	}
	memset(&a, 0, sizeof(a));
	a.family = AF_INET6;
	a.addr.sin6.sin6_family = AF_INET6;
	a.addrlen = sizeof(struct sockaddr_in6);
	{
		struct listener *l = listener_new(srv, &a, true);
		if (l != NULL) {
			listeners_add(srv, l);
			bound++;
		}
	}
	return bound > 0 ? 0 : -1;
}

/* --- resolv.conf ----------------------------------------------------------------------- */

/* Re-reads the newest resolv-file when it changed (dnsmasq polls it). */
static void
resolv_poll(void *arg)
{
	struct server *srv = arg;
	const struct dnsconf *c = srv->conf;
	const char *newest = NULL;
	struct file_version v = { 0 };
	const struct file_version *old = &srv->resolv_version;
	struct sockaddr_storage addrs[16];
	size_t n = 0;
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;

	for (size_t i = 0; i < c->nresolv_files; i++) {
		struct stat st;

		if (stat(c->resolv_files[i], &st) == -1 && errno != ENOENT) {
			/* Logged once per kind of failure, as dnsmasq warns "failed to access". */
			if (srv->resolv_errno != errno) {
				srv->resolv_errno = errno;
				log_warn("failed to access %s", c->resolv_files[i]);
			}
			continue;
		}
		if (stat(c->resolv_files[i], &st) == 0 && (newest == NULL ||
		    st.st_mtim.tv_sec > v.mtime.tv_sec || (st.st_mtim.tv_sec == v.mtime.tv_sec &&
		    st.st_mtim.tv_nsec > v.mtime.tv_nsec))) {
			newest = c->resolv_files[i];
			v.dev = st.st_dev;
			v.ino = st.st_ino;
			v.size = st.st_size;
			v.mtime = st.st_mtim;
		}
	}
	if (newest == NULL || (srv->resolv_used != NULL && strcmp(srv->resolv_used, newest) == 0 &&
	    v.dev == old->dev && v.ino == old->ino && v.size == old->size &&
	    v.mtime.tv_sec == old->mtime.tv_sec && v.mtime.tv_nsec == old->mtime.tv_nsec))
		return;
	srv->resolv_version = v;
	free(srv->resolv_used);
	srv->resolv_used = xstrdup(newest);
	if ((fp = fopen(newest, "r")) == NULL)
		return;
	while (getline(&line, &cap, fp) != -1 && n < nitems(addrs)) {
		char *save = NULL, *kw = strtok_r(line, " \t\r\n", &save), *val;
		socklen_t len;

		if (kw == NULL || strcmp(kw, "nameserver") != 0 ||
		    (val = strtok_r(NULL, " \t\r\n", &save)) == NULL)
			continue;
		if (util_sockaddr_from(val, 53, &addrs[n], &len) == -1)
			continue;
		/* 0.0.0.0 and our own listening addresses are ignored, as in dnsmasq. */
		if (addrs[n].ss_family == AF_INET &&
		    ((struct sockaddr_in *)&addrs[n])->sin_addr.s_addr == 0)
			continue;
		if (c->port == 53) {
			bool own = false;
			for (size_t i = 0; i < srv->nlisteners; i++) {
				const struct ifaddr_entry *a = &srv->listeners[i]->ifa;
				if (!srv->listeners[i]->wildcard && a->family == addrs[n].ss_family &&
				    (a->family == AF_INET ?
				    a->addr.sin.sin_addr.s_addr ==
				    ((struct sockaddr_in *)&addrs[n])->sin_addr.s_addr :
				    memcmp(&a->addr.sin6.sin6_addr,
				    &((struct sockaddr_in6 *)&addrs[n])->sin6_addr, 16) == 0))
					own = true;
			}
			if (own) {
				log_info("ignoring nameserver %s - local interface", val);
				continue;
			}
		}
		log_info("using nameserver %s#53", val);
		n++;
	}
	free(line);
	fclose(fp);
	if (n == 0)
		log_warnx("no servers found in %s, will retry", newest);
	resolver_set_resolv_servers(srv->res, addrs, n);
}

/* --- process ------------------------------------------------------------------------- */

static void
on_stop(int signo, int count, void *arg)
{
	struct server *srv = arg;

	health_stopping(srv->health);
	srv->stopping = true;
	event_base_loopbreak(srv->base);
}

static void
on_reload(void *arg)
{
	struct server *srv = arg;

	health_reloading(srv->health);
	log_info("SIGHUP: clearing the cache and reading the hosts files again");
	dnscache_flush(srv->cache);
	resolver_reload_hosts(srv->res);
	if (!srv->conf->no_resolv) {
		memset(&srv->resolv_version, 0, sizeof(srv->resolv_version));
		resolv_poll(srv);
	}
	health_reloaded(srv->health, true);
}

/* --- operations: /ready, /metrics, systemd ------------------------------------------- */

static bool
dns_ready(void *arg, char *why, size_t len)
{
	struct server *srv = arg;

	if (srv->nlisteners == 0) {
		util_strlcpy(why, srv->conf->port == 0 ? "not listening (port=0)" :
		    "not listening", len);
		return false;
	}
	return true;
}

static void
dns_status(void *arg, char *buf, size_t len)
{
	struct server *srv = arg;

	snprintf(buf, len, "listening on %zu sockets, cache size %u", srv->nlisteners,
	    srv->conf->cache_size);
}

static void
dns_collect(void *arg)
{
	struct server *srv = arg;
	struct dnscache_stats st;

	memset(&st, 0, sizeof(st));
	if (srv->cache != NULL)
		dnscache_stats(srv->cache, &st);
	metrics_set(srv->m_hits, (double)st.hits);
	metrics_set(srv->m_misses, (double)st.misses);
	metrics_set(srv->m_inserts, (double)st.insertions);
	metrics_set(srv->m_evicts, (double)st.evictions);
	metrics_set(srv->m_entries, (double)st.entries);
	metrics_set(srv->m_pending, (double)dnsfwd_pending(srv->fwd));
	metrics_set(srv->m_tcp, (double)srv->nconns);
	metrics_set(srv->m_listeners, (double)srv->nlisteners);
}

static const struct health_ops dns_health = {
	.applet = "dns",
	.ready = dns_ready,
	.status = dns_status,
	.collect = dns_collect,
};

/* The families of doc/metrics.md for the resolver. */
static void
dns_metrics(struct server *srv)
{
	struct metrics *m = health_metrics(srv->health);

	srv->m_queries = metrics_family(m, "zt_dns_queries_total", METRICS_COUNTER,
	    "Client queries received, by protocol.", "protocol");
	metrics_add(srv->m_queries, 0, "udp");
	metrics_add(srv->m_queries, 0, "tcp");
	srv->m_hits = metrics_family(m, "zt_dns_cache_hits_total", METRICS_COUNTER,
	    "Queries answered from the cache.", NULL);
	srv->m_misses = metrics_family(m, "zt_dns_cache_misses_total", METRICS_COUNTER,
	    "Cache look-ups that found nothing.", NULL);
	srv->m_inserts = metrics_family(m, "zt_dns_cache_insertions_total", METRICS_COUNTER,
	    "Records put in the cache.", NULL);
	srv->m_evicts = metrics_family(m, "zt_dns_cache_evictions_total", METRICS_COUNTER,
	    "Unexpired records pushed out of the cache to make room.", NULL);
	srv->m_entries = metrics_family(m, "zt_dns_cache_entries", METRICS_GAUGE,
	    "RRsets and negative entries in the cache now.", NULL);
	srv->m_upstream = metrics_family(m, "zt_dns_upstream_answers_total", METRICS_COUNTER,
	    "Answers from upstream servers taken for a client, by rcode.", "rcode");
	srv->m_timeouts = metrics_family(m, "zt_dns_upstream_timeouts_total", METRICS_COUNTER,
	    "Forwarded queries that got no usable answer in time.", NULL);
	srv->m_pending = metrics_family(m, "zt_dns_forwards_pending", METRICS_GAUGE,
	    "Forwarded queries waiting for an answer.", NULL);
	srv->m_tcp = metrics_family(m, "zt_dns_tcp_connections", METRICS_GAUGE,
	    "TCP clients connected now.", NULL);
	srv->m_listeners = metrics_family(m, "zt_dns_listeners", METRICS_GAUGE,
	    "Addresses listened on (a UDP and a TCP socket each).", NULL);
}

/* SIGUSR1: statistics in the log, as dnsmasq writes them. */
static void
on_info(void *arg)
{
	struct server *srv = arg;
	struct dnscache_stats st;

	dnscache_stats(srv->cache, &st);
	log_info("cache size %u, %llu/%llu cache insertions re-used unexpired cache entries.",
	    srv->conf->cache_size, (unsigned long long)st.evictions,
	    (unsigned long long)st.insertions);
	log_info("queries answered from the cache %llu, forwarded %llu, in flight %zu, TCP "
	    "connections %zu", (unsigned long long)st.hits, (unsigned long long)st.misses,
	    dnsfwd_pending(srv->fwd), srv->nconns);
	for (size_t g = 0; g < resolver_group_count(srv->res); g++) {
		const struct resolver_group *grp = resolver_group(srv->res, g);
		for (size_t i = 0; i < grp->nservers; i++) {
			struct resolver_server_stats ss;
			char a[80];

			dnsfwd_server_stats(&grp->servers[i], &ss, srv->fwd);
			log_info("server %s: queries sent %llu, retried or failed %llu",
			    util_sockaddr_str((const struct sockaddr *)&grp->servers[i].addr, a,
			    sizeof(a)), (unsigned long long)ss.queries,
			    (unsigned long long)ss.failed);
		}
	}
}

/* Drops root for the configured user and group, keeping the right to bind port 53 so that
 * bind-dynamic can bind addresses that appear later. */
static int
drop_privileges(const struct dnsconf *c)
{
	struct passwd *pw;
	struct group *gr = NULL;
	gid_t gid;
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	if (geteuid() != 0 || c->user == NULL)
		return 0;
	if ((pw = getpwnam(c->user)) == NULL) {
		log_errorx("unknown user \"%s\" (user=): create it or give another", c->user);
		return -1;
	}
	gid = pw->pw_gid;
	if (c->group_set && c->group != NULL) {
		if ((gr = getgrnam(c->group)) == NULL) {
			log_errorx("unknown group \"%s\" (group=)", c->group);
			return -1;
		}
		gid = gr->gr_gid;
	} else if (!c->group_set && (gr = getgrnam("dip")) != NULL)
		gid = gr->gr_gid;
	if (pw->pw_uid == 0)
		return 0;
	if (prctl(PR_SET_KEEPCAPS, 1) == -1 || setgroups(0, NULL) == -1 || setgid(gid) == -1 ||
	    setuid(pw->pw_uid) == -1) {
		log_error("cannot change to user \"%s\"", c->user);
		return -1;
	}
	memset(data, 0, sizeof(data));
	data[0].effective = data[0].permitted = 1u << CAP_NET_BIND_SERVICE;
	if (syscall(SYS_capset, &hdr, data) == -1)
		log_warn("cannot keep CAP_NET_BIND_SERVICE; new addresses below port 1024 will not "
		    "be bound");
	return 0;
}

static int
write_pid_file(const char *path)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (util_write_file_atomic(path, buf, strlen(buf), 0644) == -1) {
		log_error("cannot write pid file \"%s\"", path);
		return -1;
	}
	return 0;
}

static const struct dnsconf_flag dns_flags[] = {
	{ "test", 0, false },
	{ "log-format", 0, true },
	{ "log-level", 0, true },
	{ "metrics", 0, true },
	{ "help", 0, false },
	{ NULL, 0, false },
};

/* Applies --log-format and --log-level; false after printing an error. */
static bool
apply_log_flags(const struct dnsconf *c)
{
	for (size_t i = 0; i < c->nflags; i++) {
		const char *name = c->flags[i].flag->name, *v = c->flags[i].value;

		if ((strcmp(name, "log-format") == 0 || strcmp(name, "log-level") == 0) &&
		    log_apply_flag("zt dns", strcmp(name, "log-format") == 0, v) == -1)
			return false;
	}
	return true;
}

static bool
has_flag(const struct dnsconf *c, const char *name)
{
	for (size_t i = 0; i < c->nflags; i++)
		if (strcmp(c->flags[i].flag->name, name) == 0)
			return true;
	return false;
}

/* Forks into the background; the parent exits with the child's start-up status. */
static int
daemonize(int *notify)
{
	int pfd[2];
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1)
		return -1;
	if (pid > 0) {
		char status = 1;
		close(pfd[1]);
		if (read(pfd[0], &status, 1) != 1)
			status = 1;
		_exit(status);
	}
	close(pfd[0]);
	setsid();
	if (chdir("/") == -1)
		return -1;
	{
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null != -1) {
			dup2(null, STDIN_FILENO);
			close(null);
		}
	}
	*notify = pfd[1];
	return 0;
}

static int
serve(int argc, char **argv)
{
	struct dnsconf_params params = { .default_conf = DNSCONF_DEFAULT_CONF,
	    .flags = dns_flags };
	struct dnscache_options copts;
	struct dnsfwd_options fopts;
	struct server *srv = xcalloc(1, sizeof(*srv));
	struct dnsconf *conf = NULL;
	int ret = 1, notify = -1;

	if (dnsconf_load(&params, argc, argv, &conf) == -1)
		goto out;
	srv->conf = conf;
	if (has_flag(conf, "help")) {
		fputs(usage, stdout);
		ret = 0;
		goto out;
	}
	if (!apply_log_flags(conf)) {
		ret = 2;
		goto out;
	}
	if (has_flag(conf, "test")) {
		fprintf(stderr, "zt dns: syntax check OK.\n");
		ret = 0;
		goto out;
	}
	if (!conf->keep_in_foreground && !conf->no_daemon && daemonize(&notify) == -1) {
		log_error("cannot go into the background");
		goto out;
	}

	memset(&copts, 0, sizeof(copts));
	copts.size = conf->cache_size;
	copts.no_negcache = conf->no_negcache;
	copts.neg_ttl = conf->neg_ttl;
	copts.min_cache_ttl = conf->min_cache_ttl;
	copts.max_cache_ttl = conf->max_cache_ttl;
	memset(&fopts, 0, sizeof(fopts));
	fopts.forward_max = conf->dns_forward_max;
	fopts.strict_order = conf->strict_order;
	fopts.all_servers = conf->all_servers;
	fopts.query_port_set = conf->query_port_set;
	fopts.query_port = conf->query_port;
	fopts.edns_packet_max = conf->edns_packet_max;

	if ((srv->base = ev_base_new()) == NULL)
		goto out;
	if (conf->cache_size > 0 && (srv->cache = dnscache_new(&copts)) == NULL)
		goto out;
	srv->res = resolver_new(conf, srv->cache, NULL);
	srv->fwd = dnsfwd_new(srv->base, &fopts);
	resolver_set_server_stats(srv->res, dnsfwd_server_stats, srv->fwd);
	srv->sig = ev_signals_new(srv->base, on_stop, on_reload, on_info, srv);
	srv->health = health_new(srv->base, &dns_health, srv);
	dns_metrics(srv);

	if (conf->port == 0)
		log_warnx("port=0: DNS is disabled");
	else if (conf->bind_interfaces || conf->bind_dynamic) {
		if (conf->bind_dynamic &&
		    (srv->watch = ifaddr_watch_new(srv->base, addresses_changed, srv)) == NULL)
			goto out;
		if (bind_addresses(srv, true) == -1) {
			ret = 2;
			goto out;
		}
	} else {
		if (conf->ninterfaces > 0 || conf->nexcept_interfaces > 0 || conf->nlisten_addrs > 0) {
			srv->filter = true;
			if ((srv->watch = ifaddr_watch_new(srv->base, refresh_addrs, srv)) == NULL)
				goto out;
			refresh_addrs(srv);
		}
		if (bind_wildcard(srv) == -1) {
			ret = 2;
			goto out;
		}
	}
	for (size_t i = 0; i < conf->nflags; i++) {
		bool config_error;

		if (strcmp(conf->flags[i].flag->name, "metrics") == 0 &&
		    health_listen(srv->health, conf->flags[i].value, &config_error) == -1) {
			/* dnsmasq's codes: 1 for a bad option, 2 for a network problem. */
			ret = config_error ? 1 : 2;
			goto out;
		}
	}
	if (!conf->no_resolv) {
		resolv_poll(srv);
		srv->resolv_timer = ev_timer_new(srv->base, resolv_poll, srv);
		ev_timer_start(srv->resolv_timer, 1000, true);
	}
	if (conf->pid_file != NULL && strcmp(conf->pid_file, "/var/run/dnsmasq.pid") != 0 &&
	    write_pid_file(conf->pid_file) == -1)
		goto out;
	if (drop_privileges(conf) == -1)
		goto out;
	log_info("started, version %s, cache size %u", PACKAGE_VERSION, conf->cache_size);
	if (notify != -1) {
		char ok = 0;
		if (write(notify, &ok, 1) != 1)
			log_warn("cannot tell the parent process");
		close(notify);
		notify = -1;
	}
	health_update(srv->health);
	event_base_dispatch(srv->base);
	log_info("exiting on signal");
	if (conf->pid_file != NULL && strcmp(conf->pid_file, "/var/run/dnsmasq.pid") != 0)
		(void)unlink(conf->pid_file);
	ret = 0;
out:
	if (notify != -1) {
		char fail = (char)ret;
		if (write(notify, &fail, 1) != 1)
			ret = 1;
		close(notify);
	}
	if (srv->conns != NULL)
		while (srv->conns != NULL)
			tcp_free(srv->conns);
	for (size_t i = 0; i < srv->nlisteners; i++)
		listener_free(srv->listeners[i]);
	free(srv->listeners);
	ifaddr_watch_free(srv->watch);
	ev_timer_free(srv->resolv_timer);
	ev_signals_free(srv->sig);
	health_free(srv->health);
	dnsfwd_free(srv->fwd);
	resolver_free(srv->res);
	dnscache_free(srv->cache);
	free(srv->resolv_used);
	free(srv->addrs);
	if (srv->base != NULL)
		ev_base_free(srv->base);
	dnsconf_free(conf);
	free(srv);
	return ret;
}

int
dns_main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(argv[1], "serve") == 0)
		return serve(argc - 1, argv + 1);
	if (strcmp(argv[1], "ready") == 0) {
		if (argc == 4 && strcmp(argv[2], "--metrics") == 0)
			return health_probe("zt dns ready", argv[3]);
		if (argc == 3 && strncmp(argv[2], "--metrics=", 10) == 0)
			return health_probe("zt dns ready", argv[2] + 10);
		fputs("zt dns ready: give --metrics=ADDR, the address zt dns serve serves\n",
		    stderr);
		return 2;
	}
	fprintf(stderr, "zt dns: unknown command \"%s\"\n", argv[1]);
	fputs(usage, stderr);
	return 2;
}
