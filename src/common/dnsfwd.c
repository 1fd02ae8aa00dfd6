/* dnsfwd: forwards queries to upstream servers as dnsmasq 2.90 does, hardened against spoofing
 * (RFC 5452): fresh random IDs and ports, strict reply matching, merged duplicates. */
#include "config.h"

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "dns.h"
#include "dnsfwd.h"
#include "log.h"
#include "resolver.h"
#include "util.h"

#define FWD_TIMEOUT_MS		10000	/* dnsmasq forgets a query after 10 s */
#define FWD_RESEND_MS		2000	/* a duplicate after this long resends (dnsmasq) */
#define FWD_TEST_QUERIES	50	/* dnsmasq re-probes all servers every 50 queries ... */
#define FWD_TEST_SECONDS	20	/* ... or 20 seconds */
#define FWD_TCP_TIMEOUT		5	/* seconds for the TCP retry of a truncated answer */

/* One server a pending query may be sent to, with its own socket (its own random port). */
struct target {
	struct dnsconf_upstream u;
	int		 fd;
	struct event	*ev;
	bool		 sent;
	bool		 answered;
	struct pending	*p;
};

struct dnsfwd_wait {
	TAILQ_ENTRY(dnsfwd_wait) entry;
	struct pending	*p;
	dnsfwd_cb	 cb;
	void		*arg;
};

struct group_state {
	int		 last_server;	/* index into the group's servers, -1 unknown */
	uint32_t	 since_probe;
	time_t		 probe_time;
	uint32_t	 inflight;
};

struct pending {
	TAILQ_ENTRY(pending) entry;
	struct dnsfwd	*f;
	size_t		 gi;
	struct dns_name	 qname;
	uint16_t	 qtype, qclass;
	uint16_t	 key_flags;	/* CD, and DO/EDNS, for merging */
	uint16_t	 id;
	uint8_t		*query;
	size_t		 qlen;
	struct target	*targets;
	size_t		 ntargets;
	size_t		 cur;		/* strict-order: the server being asked */
	bool		 to_all;	/* the last send went to every server */
	bool		 retried;	/* resent to all after a failure of one */
	struct timeval	 last_send;
	struct event	*timer;
	struct bufferevent *tcp;	/* retry of a truncated answer */
	struct evbuffer	*tcp_udp_reply;	/* the truncated answer, if TCP fails */
	TAILQ_HEAD(, dnsfwd_wait) waiters;
};

struct server_stat {
	struct sockaddr_storage addr;
	uint64_t	 queries, failed;
};

struct dnsfwd {
	struct event_base *base;
	struct dnsfwd_options opts;
	TAILQ_HEAD(, pending) pending;
	size_t		 npending;
	struct group_state *groups;
	size_t		 ngroups;
	struct server_stat *stats;
	size_t		 nstats;
	int		 shared_fd[2];	/* query-port: one socket per family */
	struct event	*shared_ev[2];
};

static void pending_free(struct pending *p);
static void target_read(evutil_socket_t fd, short what, void *arg);
static void shared_read(evutil_socket_t fd, short what, void *arg);
static void handle_datagram(struct target *t, uint8_t *buf, size_t n,
    const struct sockaddr_storage *from);
static void pending_deliver(struct pending *p, enum dnsfwd_status status, const uint8_t *buf,
    size_t len, const struct dns_msg *msg);

static bool
same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		    memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return false;
}

static struct server_stat *
stat_for(struct dnsfwd *f, const struct sockaddr_storage *addr)
{
	for (size_t i = 0; i < f->nstats; i++)
		if (same_addr((const struct sockaddr *)&f->stats[i].addr,
		    (const struct sockaddr *)addr))
			return &f->stats[i];
	f->stats = xreallocarray(f->stats, f->nstats + 1, sizeof(*f->stats));
	memset(&f->stats[f->nstats], 0, sizeof(f->stats[0]));
	f->stats[f->nstats].addr = *addr;
	return &f->stats[f->nstats++];
}

void
dnsfwd_server_stats(const struct dnsconf_upstream *u, struct resolver_server_stats *st, void *arg)
{
	struct dnsfwd *f = arg;
	struct server_stat *s = stat_for(f, &u->addr);

	st->queries = s->queries;
	st->failed = s->failed;
}

size_t
dnsfwd_pending(const struct dnsfwd *f)
{
	return f->npending;
}

static struct group_state *
group_state(struct dnsfwd *f, size_t gi)
{
	if (gi >= f->ngroups) {
		f->groups = xreallocarray(f->groups, gi + 1, sizeof(*f->groups));
		for (size_t i = f->ngroups; i <= gi; i++) {
			memset(&f->groups[i], 0, sizeof(f->groups[i]));
			f->groups[i].last_server = -1;
		}
		f->ngroups = gi + 1;
	}
	return &f->groups[gi];
}

/* A non-blocking UDP socket for one upstream query: bound to a random port chosen by the
 * kernel (or the query-port), to the server's source address or interface when given. */
static int
open_socket(struct dnsfwd *f, const struct dnsconf_upstream *u)
{
	int family = u->addr.ss_family;
	int fd;

	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("cannot open a socket to forward queries");
		return -1;
	}
	if (u->interface[0] != '\0' && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, u->interface,
	    (socklen_t)strlen(u->interface)) == -1)
		log_warn("cannot bind the upstream socket to interface \"%s\"", u->interface);
	if (u->has_source || f->opts.query_port_set) {
		struct sockaddr_storage src;
		socklen_t srclen;

		if (u->has_source) {
			src = u->source;
			srclen = u->sourcelen;
		} else {
			memset(&src, 0, sizeof(src));
			src.ss_family = (sa_family_t)family;
			srclen = family == AF_INET ? sizeof(struct sockaddr_in) :
			    sizeof(struct sockaddr_in6);
		}
		if (!u->has_source) {
			/* query-port: the one shared socket of this family. */
			if (family == AF_INET)
				((struct sockaddr_in *)&src)->sin_port = htons(f->opts.query_port);
			else
				((struct sockaddr_in6 *)&src)->sin6_port = htons(f->opts.query_port);
		}
		if (bind(fd, (struct sockaddr *)&src, srclen) == -1) {
			char buf[80];
			log_warn("cannot bind the upstream socket to %s",
			    util_sockaddr_str((struct sockaddr *)&src, buf, sizeof(buf)));
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* Sends the query to target t, opening its socket on first use. */
static void
target_send(struct pending *p, struct target *t)
{
	struct dnsfwd *f = p->f;
	struct server_stat *st = stat_for(f, &t->u.addr);

	int fd;

	if (f->opts.query_port_set && !t->u.has_source && t->u.interface[0] == '\0') {
		int fi = t->u.addr.ss_family == AF_INET ? 0 : 1;
		if (f->shared_fd[fi] == -1) {
			if ((f->shared_fd[fi] = open_socket(f, &t->u)) == -1)
				return;
			f->shared_ev[fi] = event_new(f->base, f->shared_fd[fi], EV_READ | EV_PERSIST,
			    shared_read, f);
			event_add(f->shared_ev[fi], NULL);
		}
		fd = f->shared_fd[fi];
	} else {
		if (t->fd == -1) {
			if ((t->fd = open_socket(f, &t->u)) == -1)
				return;
			t->ev = event_new(f->base, t->fd, EV_READ | EV_PERSIST, target_read, t);
			event_add(t->ev, NULL);
		}
		fd = t->fd;
	}
	if (sendto(fd, p->query, p->qlen, 0, (struct sockaddr *)&t->u.addr, t->u.addrlen) == -1) {
		char buf[80];
		st->failed++;
		log_debug("dnsfwd: sendto %s: %s", util_sockaddr_str((struct sockaddr *)&t->u.addr,
		    buf, sizeof(buf)), strerror(errno));
		return;
	}
	st->queries++;
	t->sent = true;
	t->answered = false;
}

static void
pending_timer_restart(struct pending *p)
{
	uint32_t ms = p->f->opts.timeout_ms != 0 ? p->f->opts.timeout_ms : FWD_TIMEOUT_MS;
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000 };

	gettimeofday(&p->last_send, NULL);
	event_add(p->timer, &tv);
}

static void
send_all(struct pending *p)
{
	p->to_all = true;
	for (size_t i = 0; i < p->ntargets; i++)
		target_send(p, &p->targets[i]);
	pending_timer_restart(p);
}

static void
send_one(struct pending *p, size_t i)
{
	p->to_all = false;
	p->cur = i;
	target_send(p, &p->targets[i]);
	pending_timer_restart(p);
}

/* The first send of a query: to the group's last good server, or to all of them when none
 * is known or it is time to probe again (dnsmasq's FORWARD_TEST / FORWARD_TIME). */
static void
pending_first_send(struct pending *p)
{
	struct dnsfwd *f = p->f;
	struct group_state *g = group_state(f, p->gi);
	time_t now = time(NULL);

	if (f->opts.strict_order) {
		send_one(p, 0);
		return;
	}
	if (f->opts.all_servers || g->last_server < 0 || (size_t)g->last_server >= p->ntargets ||
	    ++g->since_probe >= FWD_TEST_QUERIES || now - g->probe_time >= FWD_TEST_SECONDS) {
		g->since_probe = 0;
		g->probe_time = now;
		send_all(p);
		return;
	}
	send_one(p, (size_t)g->last_server);
}

static void
pending_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;

	pending_deliver(p, DNSFWD_TIMEOUT, NULL, 0, NULL);
}

/* Calls every waiting client and frees the query. */
static void
pending_deliver(struct pending *p, enum dnsfwd_status status, const uint8_t *buf, size_t len,
    const struct dns_msg *msg)
{
	struct dnsfwd_wait *w;

	while ((w = TAILQ_FIRST(&p->waiters)) != NULL) {
		TAILQ_REMOVE(&p->waiters, w, entry);
		w->cb(w->arg, status, buf, len, msg);
		free(w);
	}
	pending_free(p);
}

static void
tcp_fail(struct pending *p)
{
	struct dns_msg msg;
	size_t len;
	uint8_t *buf;

	/* Hand over the truncated UDP answer: the client may retry over TCP itself. */
	len = evbuffer_get_length(p->tcp_udp_reply);
	buf = evbuffer_pullup(p->tcp_udp_reply, -1);
	if (len > 0 && dns_parse(buf, len, &msg) == 0) {
		uint8_t *copy = xmalloc(len);
		memcpy(copy, buf, len);
		pending_deliver(p, DNSFWD_ANSWER, copy, len, &msg);
		free(copy);
	} else
		pending_deliver(p, DNSFWD_TIMEOUT, NULL, 0, NULL);
}

/* Checks that buf is the answer to p's question: QR, the ID, and the question (case-insensitive
 * name, type and class), as RFC 5452 section 9.1 asks. */
static bool
answer_matches(const struct pending *p, const uint8_t *buf, size_t len, struct dns_msg *msg)
{
	if (dns_parse(buf, len, msg) != 0)
		return false;
	return (msg->flags & DNS_F_QR) && msg->id == p->id && msg->has_question &&
	    msg->count[DNS_SEC_QUESTION] == 1 && msg->q.qtype == p->qtype &&
	    msg->q.qclass == p->qclass && dns_name_equal(&msg->q.name, &p->qname);
}

static void
tcp_read(struct bufferevent *bev, void *arg)
{
	struct pending *p = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t hdr[2], *buf;
	size_t len;
	struct dns_msg msg;

	if (evbuffer_copyout(in, hdr, 2) != 2)
		return;
	len = (size_t)hdr[0] << 8 | hdr[1];
	if (evbuffer_get_length(in) < len + 2)
		return;
	buf = evbuffer_pullup(in, (ssize_t)(len + 2)) + 2;
	if (!answer_matches(p, buf, len, &msg)) {
		tcp_fail(p);
		return;
	}
	uint8_t *copy = xmalloc(len);
	memcpy(copy, buf, len);
	pending_deliver(p, DNSFWD_ANSWER, copy, len, &msg);
	free(copy);
}

static void
tcp_event(struct bufferevent *bev, short what, void *arg)
{
	struct pending *p = arg;

	if (what & BEV_EVENT_CONNECTED)
		return;
	tcp_fail(p);
}

/* Asks server t again over TCP after a truncated UDP answer (RFC 7766 section 5). */
static void
tcp_retry(struct pending *p, struct target *t, const uint8_t *udp, size_t udplen)
{
	struct dnsfwd *f = p->f;
	struct timeval tv = { FWD_TCP_TIMEOUT, 0 };
	uint8_t hdr[2] = { (uint8_t)(p->qlen >> 8), (uint8_t)p->qlen };

	p->tcp_udp_reply = evbuffer_new();
	evbuffer_add(p->tcp_udp_reply, udp, udplen);
	p->tcp = bufferevent_socket_new(f->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (p->tcp == NULL) {
		tcp_fail(p);
		return;
	}
	bufferevent_setcb(p->tcp, tcp_read, NULL, tcp_event, p);
	bufferevent_set_timeouts(p->tcp, &tv, &tv);
	bufferevent_write(p->tcp, hdr, 2);
	bufferevent_write(p->tcp, p->query, p->qlen);
	bufferevent_enable(p->tcp, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(p->tcp, (struct sockaddr *)&t->u.addr,
	    (int)t->u.addrlen) == -1)
		tcp_fail(p);
}

static int
group_index_of(const struct pending *p, const struct target *t)
{
	return (int)(t - p->targets);
}

static uint8_t rbuf[DNS_MAXMSG];

/* A datagram on a target's own socket. */
static void
target_read(evutil_socket_t fd, short what, void *arg)
{
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	ssize_t n;

	n = recvfrom(fd, rbuf, sizeof(rbuf), 0, (struct sockaddr *)&from, &fromlen);
	if (n >= 0)
		handle_datagram(arg, rbuf, (size_t)n, &from);
}

/* A datagram on the shared query-port socket: find the query by ID and the server by address. */
static void
shared_read(evutil_socket_t fd, short what, void *arg)
{
	struct dnsfwd *f = arg;
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	struct pending *p;
	ssize_t n;
	uint16_t id;

	n = recvfrom(fd, rbuf, sizeof(rbuf), 0, (struct sockaddr *)&from, &fromlen);
	if (n < DNS_HEADER_LEN)
		return;
	id = (uint16_t)(rbuf[0] << 8 | rbuf[1]);
	TAILQ_FOREACH(p, &f->pending, entry) {
		if (p->id != id)
			continue;
		for (size_t i = 0; i < p->ntargets; i++)
			if (same_addr((struct sockaddr *)&from,
			    (struct sockaddr *)&p->targets[i].u.addr)) {
				handle_datagram(&p->targets[i], rbuf, (size_t)n, &from);
				return;
			}
	}
}

/* A datagram for target t: accepted only from that server, with p's ID and question. */
static void
handle_datagram(struct target *t, uint8_t *buf, size_t n, const struct sockaddr_storage *from)
{
	struct pending *p = t->p;
	struct dnsfwd *f = p->f;
	struct group_state *g = group_state(f, p->gi);
	struct dns_msg msg;
	unsigned int rcode;

	if (!same_addr((const struct sockaddr *)from, (struct sockaddr *)&t->u.addr) ||
	    !answer_matches(p, buf, n, &msg)) {
		char a[80];
		log_debug("dnsfwd: ignored a reply from %s that does not match the query",
		    util_sockaddr_str((const struct sockaddr *)from, a, sizeof(a)));
		return;
	}
	if (p->tcp != NULL)
		return;	/* already retrying over TCP */
	t->answered = true;
	rcode = DNS_RCODE(msg.flags);
	if (rcode == DNS_R_REFUSED || rcode == DNS_R_SERVFAIL) {
		stat_for(f, &t->u.addr)->failed++;
		if (rcode == DNS_R_REFUSED && g->last_server == group_index_of(p, t))
			g->last_server = -1;
		if (rcode == DNS_R_SERVFAIL)
			g->last_server = group_index_of(p, t);
		if (f->opts.strict_order) {
			/* The next server in order; after the last, no answer at all (dnsmasq). */
			if (p->cur + 1 < p->ntargets)
				send_one(p, p->cur + 1);
			else
				pending_deliver(p, DNSFWD_TIMEOUT, NULL, 0, NULL);
			return;
		}
		if (!p->to_all && !p->retried) {
			p->retried = true;
			send_all(p);
			return;
		}
		if (rcode == DNS_R_REFUSED) {
			/* Wait for the others; REFUSED only when every server refused. */
			for (size_t i = 0; i < p->ntargets; i++)
				if (p->targets[i].sent && !p->targets[i].answered)
					return;
		}
	} else
		g->last_server = group_index_of(p, t);
	if ((msg.flags & DNS_F_TC) && p->tcp == NULL) {
		tcp_retry(p, t, buf, n);
		return;
	}
	pending_deliver(p, DNSFWD_ANSWER, buf, n, &msg);
}

static uint16_t
merge_flags(const struct resolver_qinfo *q)
{
	return (uint16_t)((q->flags & DNS_F_CD) | (q->edns ? 1 : 0) |
	    (q->edns && (q->edns_flags & DNS_EDNS_DO) ? 2 : 0));
}

static struct pending *
pending_find(struct dnsfwd *f, size_t gi, const struct resolver_qinfo *q)
{
	struct pending *p;
	uint16_t kf = merge_flags(q);

	TAILQ_FOREACH(p, &f->pending, entry)
		if (p->gi == gi && p->qtype == q->qtype && p->qclass == q->qclass &&
		    p->key_flags == kf && dns_name_equal(&p->qname, &q->qname))
			return p;
	return NULL;
}

/* A random ID no other query in flight uses. */
static uint16_t
unique_id(struct dnsfwd *f)
{
	for (;;) {
		uint16_t id;
		struct pending *p;
		bool used = false;

		/* getrandom(2): the kernel's CSPRNG, cheaper per query than RAND_bytes. */
		if (getrandom(&id, sizeof(id), 0) != (ssize_t)sizeof(id))
			fatal("dnsfwd: no randomness for query IDs");
		TAILQ_FOREACH(p, &f->pending, entry)
			if (p->id == id) {
				used = true;
				break;
			}
		if (!used)
			return id;
	}
}

/* The query sent upstream: the client's question with a fresh ID, RD and CD copied, and an OPT
 * RR of edns-packet-max bytes (DO copied) when the client sent EDNS. */
static void
build_upstream_query(struct dnsfwd *f, struct pending *p, const struct resolver_qinfo *q)
{
	uint8_t buf[DNS_HEADER_LEN + DNS_MAXNAME + 4 + DNS_OPT_FIXED];
	struct dns_builder b;
	size_t n;

	dns_builder_init(&b, buf, sizeof(buf), p->id,
	    (uint16_t)(q->flags & (DNS_F_RD | DNS_F_CD)));
	dns_build_question(&b, &q->qname, q->qtype, q->qclass);
	if (q->edns)
		dns_build_opt(&b, f->opts.edns_packet_max, 0, 0, q->edns_flags & DNS_EDNS_DO,
		    NULL, 0);
	n = dns_builder_finish(&b);
	p->query = xmalloc(n);
	memcpy(p->query, buf, n);
	p->qlen = n;
}

static struct dnsfwd_wait *
add_waiter(struct pending *p, dnsfwd_cb cb, void *arg)
{
	struct dnsfwd_wait *w = xcalloc(1, sizeof(*w));

	w->p = p;
	w->cb = cb;
	w->arg = arg;
	TAILQ_INSERT_TAIL(&p->waiters, w, entry);
	return w;
}

struct dnsfwd_wait *
dnsfwd_query(struct dnsfwd *f, const struct resolver_group *group, size_t gi,
    const struct resolver_qinfo *q, dnsfwd_cb cb, void *arg)
{
	struct group_state *g = group_state(f, gi);
	struct pending *p;
	struct timeval now, d;
	size_t nwait = 0;
	struct dnsfwd_wait *w;

	if ((p = pending_find(f, gi, q)) != NULL) {
		/* Merged (CVE-2020-25686): no new upstream packet unless 2 s have passed. */
		TAILQ_FOREACH(w, &p->waiters, entry)
			nwait++;
		if (nwait >= f->opts.forward_max)
			return NULL;
		gettimeofday(&now, NULL);
		timersub(&now, &p->last_send, &d);
		if (d.tv_sec * 1000 + d.tv_usec / 1000 >= FWD_RESEND_MS && p->tcp == NULL) {
			if (f->opts.strict_order)
				send_one(p, p->cur);
			else
				send_all(p);
		}
		return add_waiter(p, cb, arg);
	}
	if (group == NULL || group->nservers == 0 || g->inflight >= f->opts.forward_max)
		return NULL;

	p = xcalloc(1, sizeof(*p));
	p->f = f;
	p->gi = gi;
	p->qname = q->qname;
	p->qtype = q->qtype;
	p->qclass = q->qclass;
	p->key_flags = merge_flags(q);
	p->id = unique_id(f);
	TAILQ_INIT(&p->waiters);
	build_upstream_query(f, p, q);
	p->targets = xcalloc(group->nservers, sizeof(*p->targets));
	p->ntargets = group->nservers;
	for (size_t i = 0; i < group->nservers; i++) {
		p->targets[i].u = group->servers[i];
		p->targets[i].fd = -1;
		p->targets[i].p = p;
	}
	p->timer = evtimer_new(f->base, pending_timeout, p);
	TAILQ_INSERT_TAIL(&f->pending, p, entry);
	f->npending++;
	g->inflight++;
	w = add_waiter(p, cb, arg);
	pending_first_send(p);
	return w;
}

void
dnsfwd_cancel(struct dnsfwd *f, struct dnsfwd_wait *w)
{
	if (w == NULL)
		return;
	TAILQ_REMOVE(&w->p->waiters, w, entry);
	free(w);
}

static void
pending_free(struct pending *p)
{
	struct dnsfwd *f = p->f;
	struct dnsfwd_wait *w;

	TAILQ_REMOVE(&f->pending, p, entry);
	f->npending--;
	group_state(f, p->gi)->inflight--;
	while ((w = TAILQ_FIRST(&p->waiters)) != NULL) {
		TAILQ_REMOVE(&p->waiters, w, entry);
		free(w);
	}
	for (size_t i = 0; i < p->ntargets; i++) {
		if (p->targets[i].ev != NULL)
			event_free(p->targets[i].ev);
		if (p->targets[i].fd != -1)
			close(p->targets[i].fd);
	}
	if (p->tcp != NULL)
		bufferevent_free(p->tcp);
	if (p->tcp_udp_reply != NULL)
		evbuffer_free(p->tcp_udp_reply);
	event_free(p->timer);
	free(p->targets);
	free(p->query);
	free(p);
}

struct dnsfwd *
dnsfwd_new(struct event_base *base, const struct dnsfwd_options *opts)
{
	struct dnsfwd *f = xcalloc(1, sizeof(*f));

	f->base = base;
	f->opts = *opts;
	if (f->opts.forward_max == 0)
		f->opts.forward_max = 150;
	if (f->opts.edns_packet_max == 0)
		f->opts.edns_packet_max = 1232;
	TAILQ_INIT(&f->pending);
	f->shared_fd[0] = f->shared_fd[1] = -1;
	return f;
}

void
dnsfwd_free(struct dnsfwd *f)
{
	struct pending *p;

	if (f == NULL)
		return;
	while ((p = TAILQ_FIRST(&f->pending)) != NULL)
		pending_free(p);
	for (int i = 0; i < 2; i++) {
		if (f->shared_ev[i] != NULL)
			event_free(f->shared_ev[i]);
		if (f->shared_fd[i] != -1)
			close(f->shared_fd[i]);
	}
	free(f->groups);
	free(f->stats);
	free(f);
}
