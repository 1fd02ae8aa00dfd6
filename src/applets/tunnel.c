/* tunnel: `zt tunnel`, the outbound-only connector next to private services (the counterpart
 * of `cloudflared tunnel run`), and the commands that manage tunnels on the edge host. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "applets.h"
#include "common/conf.h"
#include "common/conntoken.h"
#include "common/edgeconf.h"
#include "common/ev.h"
#include "common/health.h"
#include "common/ingress.h"
#include "common/jwt.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/mux.h"
#include "common/state.h"
#include "common/tls.h"
#include "common/tunnelconf.h"
#include "common/util.h"

static const char usage[] =
"usage: zt tunnel run [--token TOKEN | --token-file FILE] [-c FILE]\n"
"                     [--hostname HOST --url SERVICE [--verify-token]]\n"
"                     [--token-issuer URL] [--token-keys FILE] [--ha-connections N]\n"
"                     [--grace-period DURATION] [--edge HOST:PORT] [--status-file FILE]\n"
"                     [--metrics ADDR]\n"
"       zt tunnel ready [--status-file FILE | -c FILE | --metrics ADDR]\n"
"       zt tunnel ingress validate [-c FILE | --hostname HOST --url SERVICE]\n"
"       zt tunnel ingress rule HOSTNAME [-c FILE | --hostname HOST --url SERVICE]\n"
"       zt tunnel create NAME [-c EDGE.INI]\n"
"       zt tunnel list [-c EDGE.INI | --state-dir DIR]\n"
"       zt tunnel delete NAME [-c EDGE.INI | --state-dir DIR]\n"
"\n"
"run     connect out to the edge (never listen) and serve the hostnames of the ingress\n"
"        rules: each stream the edge opens is matched against them, in order, and only\n"
"        the service the matching rule names is dialled (tcp://HOST:PORT, unix:/PATH,\n"
"        http_status:CODE, hello). The token comes from --token, --token-file,\n"
"        $ZT_TUNNEL_TOKEN or $TUNNEL_TOKEN; -c names a tunnel.ini:\n"
"            [tunnel]\n"
"            token_file = /etc/zt/tunnel.token\n"
"            ha_connections = 4\n"
"            grace_period = 30s\n"
"            [ingress]\n"
"            rule = db.example.com tcp://127.0.0.1:5432\n"
"            rule = * http_status:404\n"
"        verify_token after a rule's service (or --verify-token) refuses streams without\n"
"        a valid app token from the edge; token_issuer = URL (--token-issuer) names the\n"
"        edge's issuer, token_keys = FILE (--token-keys) pins its JWKS\n"
"        --metrics ADDR serves /metrics, /ready and /healthz (doc/metrics.md); SIGHUP\n"
"        reads the ingress rules of -c FILE again\n"
"ready   exit 0 when a running connector has a registered connection (for probes)\n"
"create, list, delete\n"
"        manage tunnels in the edge's state directory (run them on the edge host);\n"
"        create prints the token `zt tunnel run --token` needs\n";

#define TUNNEL_HA_DEFAULT	TUNNELCONF_HA_DEFAULT
#define TUNNEL_HA_MAX		TUNNELCONF_HA_MAX
#define TUNNEL_BACKOFF_BASE	1000	/* ms: the first retry comes within a second */
#define TUNNEL_BACKOFF_CAP	30000
#define TUNNEL_CONNECT_MS	15000	/* dialling the edge or an origin */
#define TUNNEL_CLOSE_MS		2000	/* stopping with no stream: GOAWAY and close within */
#define TUNNEL_EDGE_OPEN_RATE	20000	/* streams the edge may open a second... */
#define TUNNEL_EDGE_OPEN_BURST	50000	/* ...after a burst of this many */
#define TUNNEL_STATUS_MS	2000

struct connector;

enum link_state {
	LINK_IDLE = 0,
	LINK_CONNECTING,
	LINK_HANDSHAKE,
	LINK_UP,
};

/* One of the connections kept to the edge. */
struct link {
	struct connector *c;
	size_t		 index;
	size_t		 edge;		/* index into the token's edges */
	enum link_state	 state;
	int		 fd;
	struct event	*connect_ev;
	struct mux_session *s;
	struct ev_timer	*retry;
	uint32_t	 attempt;
	char		 addr[300];
	struct jwt_keyset *keys;	/* the edge's KEYS on this connection, or NULL */
};

/* A stream from the edge being connected to its origin. */
struct origin {
	struct connector *c;
	struct mux_stream *st;
	int		 fd;
	struct event	*ev;
	char		 target[262];	/* host:port or unix:path */
	const struct ingress_rule *rule;	/* while dialling only: a reload frees it */
	char		 host[MUX_MAX_HOSTNAME + 1];	/* the rule's, for messages */
};

struct connector {
	struct event_base *base;
	struct conntoken tok;
	struct tls_ctx	*tls;
	struct ingress	*ing;
	struct jwt_keyset *pinned;	/* token_keys: app tokens verify with these only */
	char		*issuer;	/* token_issuer: the iss app tokens must carry */
	struct mux_hello hello;
	struct link	 links[TUNNEL_HA_MAX];
	size_t		 nlinks;
	struct ev_signals *sig;
	struct ev_timer	*grace;
	struct ev_timer	*status_timer;
	char		*status_file;
	uint64_t	 grace_ms;
	bool		 draining;
	int		 exit_status;
	size_t		 streams;
	char		 name[64];	/* the tunnel id in hex, for messages */
	/* SIGHUP: -c FILE and the flags that come before it */
	const char	*config, *hostname, *url, *issuer_opt, *keys_opt;
	bool		 verify_opt;
	struct conf	*cf;
	bool		 grace_set;
	/* operations (doc/metrics.md) */
	struct health	*health;
	struct mux_counters bytes;
	struct metrics_family *m_conns, *m_conf, *m_conns_total, *m_reconnects, *m_open;
	struct metrics_family *m_streams, *m_rx, *m_tx, *m_rules, *m_draining;
};

static void link_connect(struct link *l);
static void link_schedule(struct link *l);

/* --- status for `zt tunnel ready` ------------------------------------------------------ */

static size_t
links_up(const struct connector *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->nlinks; i++)
		if (c->links[i].state == LINK_UP)
			n++;
	return n;
}

static void
write_status(struct connector *c)
{
	char buf[128];

	if (c->status_file == NULL)
		return;
	snprintf(buf, sizeof(buf), "pid=%ld\nconnections=%zu\ndraining=%d\nupdated=%lld\n",
	    (long)getpid(), links_up(c), c->draining, (long long)time(NULL));
	if (util_write_file_atomic(c->status_file, buf, strlen(buf), 0644) == -1)
		log_warn("cannot write the status file \"%s\"", c->status_file);
}

static void
status_tick(void *arg)
{
	write_status(arg);
}

/* --- origins -------------------------------------------------------------------------- */

static void
origin_free(struct origin *o)
{
	if (o->ev != NULL)
		event_free(o->ev);
	if (o->fd != -1)
		close(o->fd);
	free(o);
}

/* Draining and no stream left: every connection is closed with GOAWAY, so the edge sees a
 * connector leaving, not a connection lost; the loop ends when the last one is closed. */
static void
close_links(struct connector *c)
{
	size_t open = 0;

	for (size_t i = 0; i < c->nlinks; i++) {
		ev_timer_stop(c->links[i].retry);
		if (c->links[i].connect_ev != NULL) {
			event_free(c->links[i].connect_ev);
			c->links[i].connect_ev = NULL;
		}
		if (c->links[i].fd != -1) {
			close(c->links[i].fd);
			c->links[i].fd = -1;
		}
		if (c->links[i].s != NULL) {
			open++;
			mux_close(c->links[i].s, MUX_SHUTTING_DOWN, "the connector is shutting down");
		}
	}
	if (open == 0)
		event_base_loopbreak(c->base);
}

/* A stream from the edge ended (or was refused) with code. */
static void
count_stream(struct connector *c, uint16_t code)
{
	char label[32];

	metrics_add(c->m_streams, 1, health_result(code, label, sizeof(label)));
}

static void
stream_done(void *arg, uint16_t code, const char *reason)
{
	struct connector *c = arg;

	count_stream(c, code);
	c->streams--;
	if (c->draining && c->streams == 0) {
		log_info("draining: the last stream finished");
		close_links(c);
	}
}

/* The origin's socket is connected (or failed): join it to the stream or refuse. */
static void
origin_connected(evutil_socket_t fd, short what, void *arg)
{
	struct origin *o = arg;
	struct connector *c = o->c;
	struct bufferevent *bev;
	int err = 0;
	socklen_t len = sizeof(err);
	char reason[MUX_MAX_REASON];

	if (what & EV_TIMEOUT)
		err = ETIMEDOUT;
	else if (getsockopt(o->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		snprintf(reason, sizeof(reason), "connect to %.200s: %s", o->target, strerror(err));
		log_warnx("stream for %s: %s", o->host, reason);
		/* The reset runs the closed callback at once: detach o first, it is freed here. */
		mux_stream_set_cbs(o->st, NULL, NULL);
		mux_stream_reset(o->st, MUX_ORIGIN_UNREACHABLE, reason);
		count_stream(c, MUX_ORIGIN_UNREACHABLE);
		origin_free(o);
		return;
	}
	bev = bufferevent_socket_new(c->base, o->fd, BEV_OPT_CLOSE_ON_FREE);
	o->fd = -1;
	if (bev == NULL || mux_stream_accept(o->st) == -1 ||
	    mux_splice_bev(o->st, bev, stream_done, c) == -1) {
		if (bev != NULL)
			bufferevent_free(bev);
		mux_stream_set_cbs(o->st, NULL, NULL);
		mux_stream_reset(o->st, MUX_INTERNAL, "cannot join the origin");
		count_stream(c, MUX_INTERNAL);
		origin_free(o);
		return;
	}
	c->streams++;
	origin_free(o);
}

/* Starts a non-blocking connect to a rule's service: only what the rule names. */
static int
origin_dial(struct origin *o)
{
	const struct ingress_rule *r = o->rule;
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct timeval tv = { TUNNEL_CONNECT_MS / 1000, 0 };

	memset(&ss, 0, sizeof(ss));
	if (r->service_kind == INGRESS_SVC_UNIX) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&ss;

		sun->sun_family = AF_UNIX;
		util_strlcpy(sun->sun_path, r->path, sizeof(sun->sun_path));
		sslen = sizeof(*sun);
		snprintf(o->target, sizeof(o->target), "unix:%s", r->path);
	} else {
		struct addrinfo hints, *res = NULL;
		char port[8];
		int gai;

		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_ADDRCONFIG;
		snprintf(port, sizeof(port), "%u", r->port);
		snprintf(o->target, sizeof(o->target), "%s:%u", r->host, r->port);
		/* Blocking, but names are usually local (localhost, /etc/hosts); an address
		 * is resolved without a lookup. */
		if ((gai = getaddrinfo(r->host, port, &hints, &res)) != 0) {
			errno = EHOSTUNREACH;
			log_warnx("cannot resolve %s: %s", r->host, gai_strerror(gai));
			return -1;
		}
		memcpy(&ss, res->ai_addr, res->ai_addrlen);
		sslen = res->ai_addrlen;
		freeaddrinfo(res);
	}
	o->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (o->fd == -1)
		return -1;
	if (ss.ss_family != AF_UNIX) {
		int one = 1;
		setsockopt(o->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (connect(o->fd, (struct sockaddr *)&ss, sslen) == -1 && errno != EINPROGRESS)
		return -1;
	o->ev = event_new(o->c->base, o->fd, EV_WRITE, origin_connected, o);
	event_add(o->ev, &tv);
	return 0;
}

/* The built-in hello service: a banner naming the path the stream came through. */
static void
hello_serve(struct connector *c, struct mux_stream *st, const char *hostname,
    const struct mux_meta *meta)
{
	char banner[1024];

	snprintf(banner, sizeof(banner), "hello from zt: %s via tunnel %s, for %s from %s\n",
	    hostname, c->name, meta->identity[0] != '\0' ? meta->identity : "(unknown)",
	    meta->client_addr[0] != '\0' ? meta->client_addr : "(unknown)");
	if (mux_stream_accept(st) == 0)
		mux_stream_write(st, banner, strlen(banner));
	mux_stream_shutdown(st);
}

static void
hello_closed(struct mux_stream *st, uint16_t code, const char *reason, void *arg)
{
	count_stream(arg, code);
}

static void
hello_data(struct mux_stream *st, void *arg)
{
	struct evbuffer *in = mux_stream_input(st);
	size_t n = evbuffer_get_length(in);

	evbuffer_drain(in, n);
	mux_stream_consumed(st, n);
}

static const struct mux_stream_cbs hello_cbs = {
	.data = hello_data,
	.closed = hello_closed,
};

static void
origin_wait_closed(struct mux_stream *st, uint16_t code, const char *reason, void *arg)
{
	struct origin *o = arg;

	/* The edge gave up before the origin answered. */
	count_stream(o->c, code);
	origin_free(o);
}

static const struct mux_stream_cbs origin_wait_cbs = {
	.closed = origin_wait_closed,
};

/* Whether the stream's app token is valid for hostname: signed by a key we trust (token_keys,
 * else the edge's KEYS on this connection), from our issuer, not expired. Otherwise reason
 * gets "no valid access token: WHY" and the refusal is logged (never the token). */
static bool
token_valid(struct connector *c, struct link *l, const char *hostname,
    const struct mux_meta *meta, char *reason, size_t len)
{
	const struct jwt_keyset *keys = c->pinned != NULL ? c->pinned : l->keys;
	struct jwt_claims *claims = xcalloc(1, sizeof(*claims));
	char err[JWT_ERR_MAX];
	bool ok = false;

	if (meta->token[0] == '\0')
		util_strlcpy(err, "the stream carries no app token", sizeof(err));
	else if (keys == NULL)
		util_strlcpy(err, "no token keys: the edge has sent none on this connection",
		    sizeof(err));
	else if (c->issuer == NULL)
		util_strlcpy(err, "no token_issuer is set", sizeof(err));
	else if (jwt_verify(keys, meta->token, c->issuer, hostname, (int64_t)time(NULL), claims,
	    err, sizeof(err)) == 0)
		ok = true;
	if (ok) {
		log_debug("stream for %s: app token of %s %s verified", hostname, claims->type,
		    claims->email[0] != '\0' ? claims->email : claims->name);
	} else {
		snprintf(reason, len, "no valid access token: %.200s", err);
		log_warnx("stream for %s (from %s, %s) refused: %s", hostname,
		    meta->client_addr[0] != '\0' ? meta->client_addr : "?",
		    meta->identity[0] != '\0' ? meta->identity : "?", reason);
	}
	free(claims);
	return ok;
}

/* The edge opened a stream: the first matching ingress rule decides what is dialled. */
static void
link_open(struct mux_session *s, struct mux_stream *st, const char *hostname,
    const struct mux_meta *meta, void *arg)
{
	struct link *l = arg;
	struct connector *c = l->c;
	const struct ingress_rule *r;
	struct origin *o;
	char reason[MUX_MAX_REASON];
	size_t idx;

	if (c->draining) {
		mux_stream_reset(st, MUX_REFUSED_STREAM, "the connector is shutting down");
		count_stream(c, MUX_REFUSED_STREAM);
		return;
	}
	if ((r = ingress_match(c->ing, hostname, &idx)) == NULL) {
		mux_stream_reset(st, MUX_INGRESS_REFUSED, "no ingress rule matches");
		count_stream(c, MUX_INGRESS_REFUSED);
		return;
	}
	log_debug("stream for %s (from %s, %s): rule #%zu", hostname, meta->client_addr,
	    meta->identity, idx + 1);
	if (r->verify_token && !token_valid(c, l, hostname, meta, reason, sizeof(reason))) {
		mux_stream_reset(st, MUX_INGRESS_REFUSED, reason);
		count_stream(c, MUX_INGRESS_REFUSED);
		return;
	}
	switch (r->service_kind) {
	case INGRESS_SVC_HTTP_STATUS:
		snprintf(reason, sizeof(reason), "http_status:%d (ingress rule #%zu)", r->status,
		    idx + 1);
		mux_stream_reset(st, MUX_INGRESS_REFUSED, reason);
		count_stream(c, MUX_INGRESS_REFUSED);
		return;
	case INGRESS_SVC_HELLO:
		mux_stream_set_cbs(st, &hello_cbs, c);
		hello_serve(c, st, hostname, meta);
		return;
	default:
		break;
	}
	o = xcalloc(1, sizeof(*o));
	o->c = c;
	o->st = st;
	o->fd = -1;
	o->rule = r;
	util_strlcpy(o->host, r->hostname, sizeof(o->host));
	mux_stream_set_cbs(st, &origin_wait_cbs, o);
	if (origin_dial(o) == -1) {
		snprintf(reason, sizeof(reason), "connect to %.200s: %s", o->target[0] != '\0' ?
		    o->target : r->service, strerror(errno));
		log_warnx("stream for %s: %s", hostname, reason);
		mux_stream_set_cbs(st, NULL, NULL);
		mux_stream_reset(st, MUX_ORIGIN_UNREACHABLE, reason);
		count_stream(c, MUX_ORIGIN_UNREACHABLE);
		origin_free(o);
		return;
	}
	o->rule = NULL;
}

/* --- links to the edge ---------------------------------------------------------------- */

static void
link_welcome(struct mux_session *s, const struct mux_welcome *w, void *arg)
{
	struct link *l = arg;

	l->state = LINK_UP;
	l->attempt = 0;
	log_info("connection %zu registered with edge %s (%s)", l->index, w->edge_name, l->addr);
	metrics_add(l->c->m_conns_total, 1);
	write_status(l->c);
	health_update(l->c->health);
}

static void
link_goaway(struct mux_session *s, uint16_t code, const char *reason, void *arg)
{
	struct link *l = arg;

	log_info("connection %zu: the edge is going away (%s): reconnecting once its streams end",
	    l->index, reason);
}

static bool
fatal_code(uint16_t code)
{
	return code == MUX_AUTH_FAILED || code == MUX_AUTH_REVOKED ||
	    code == MUX_HOSTNAME_NOT_ALLOWED || code == MUX_AUTH_EXPIRED;
}

static void
link_closed(struct mux_session *s, uint16_t code, const char *reason, void *arg)
{
	struct link *l = arg;
	struct connector *c = l->c;
	bool was_up = l->state == LINK_UP;

	mux_session_free(l->s);
	l->s = NULL;
	l->state = LINK_IDLE;
	jwt_keyset_free(l->keys);
	l->keys = NULL;
	write_status(c);
	health_update(c->health);
	if (fatal_code(code)) {
		log_errorx("the edge refused this tunnel: %s (%s)", reason, mux_code_name(code));
		c->exit_status = 1;
		event_base_loopbreak(c->base);
		return;
	}
	if (c->draining) {
		size_t open = 0;

		for (size_t i = 0; i < c->nlinks; i++)
			open += c->links[i].s != NULL;
		if (open == 0 || c->streams == 0) {
			if (open == 0)
				event_base_loopbreak(c->base);
			else
				close_links(c);
		}
		return;
	}
	log_warnx("connection %zu to %s %s: %s%s%s", l->index, l->addr, was_up ? "lost" :
	    "failed", mux_code_name(code), reason != NULL && *reason != '\0' ? ": " : "",
	    reason != NULL ? reason : "");
	link_schedule(l);
}

/* The edge's JWKS: the keys streams on this connection verify with, unless token_keys pins
 * ours. A document that does not parse leaves the keys in force. */
static void
link_keys(struct mux_session *s, const char *jwks, size_t len, void *arg)
{
	struct link *l = arg;
	struct jwt_keyset *ks;
	char err[JWT_ERR_MAX];

	if (l->c->pinned != NULL) {
		log_debug("connection %zu: KEYS from the edge ignored: token_keys pins the keys",
		    l->index);
		return;
	}
	if ((ks = jwt_keyset_from_jwks(jwks, len, err, sizeof(err))) == NULL) {
		log_warnx("connection %zu: the edge's token keys (KEYS) cannot be used: %s; "
		    "keeping those in force", l->index, err);
		return;
	}
	jwt_keyset_free(l->keys);
	l->keys = ks;
	log_info("connection %zu: %zu token keys from the edge", l->index,
	    jwt_keyset_count(ks));
}

static const struct mux_session_cbs link_cbs = {
	.keys = link_keys,
	.welcome = link_welcome,
	.open = link_open,
	.goaway = link_goaway,
	.closed = link_closed,
};

static void
link_retry(void *arg)
{
	link_connect(arg);
}

/* Exponential back-off with full jitter: up to 1 s, 2 s, 4 s ... 30 s, then retry forever. */
static void
link_schedule(struct link *l)
{
	uint64_t cap = TUNNEL_BACKOFF_BASE;

	for (uint32_t i = 0; i < l->attempt && cap < TUNNEL_BACKOFF_CAP; i++)
		cap *= 2;
	if (cap > TUNNEL_BACKOFF_CAP)
		cap = TUNNEL_BACKOFF_CAP;
	l->attempt++;
	metrics_add(l->c->m_reconnects, 1);
	/* A connection stays with its edge: edges do not route to each other, so each edge's
	 * clients need connections to that edge; moving one elsewhere would leave them without
	 * once their edge is back. */
	ev_timer_start(l->retry, 100 + util_random_uniform((uint32_t)cap), false);
}

static void
link_tcp_ready(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;
	struct connector *c = l->c;
	struct conntoken_edge *edge = &c->tok.edges[l->edge];
	struct bufferevent *bev;
	struct mux_limits lim;
	int err = 0;
	socklen_t len = sizeof(err);

	event_free(l->connect_ev);
	l->connect_ev = NULL;
	if (what & EV_TIMEOUT)
		err = ETIMEDOUT;
	else if (getsockopt(l->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		log_warnx("connection %zu: cannot reach edge %s: %s", l->index, l->addr,
		    strerror(err));
		close(l->fd);
		l->fd = -1;
		l->state = LINK_IDLE;
		link_schedule(l);
		return;
	}
	bev = tls_bufferevent_new(c->base, c->tls, l->fd, false,
	    c->tok.server_name[0] != '\0' ? c->tok.server_name : edge->host);
	l->fd = -1;	/* owned by the bufferevent now, or closed on failure */
	if (bev == NULL) {
		l->state = LINK_IDLE;
		link_schedule(l);
		return;
	}
	/* The edge opens the streams of all its clients on this connection, each client
	 * within its own budget (200 opens a second after a burst of 1000): the defaults would
	 * let a few busy clients get the whole connection closed, and every stream on it with
	 * it. The edge is authenticated (pinned); these bounds only stop a runaway one. */
	memset(&lim, 0, sizeof(lim));
	lim.open_rate = TUNNEL_EDGE_OPEN_RATE;
	lim.open_burst = TUNNEL_EDGE_OPEN_BURST;
	lim.reset_rate = TUNNEL_EDGE_OPEN_RATE;
	lim.reset_burst = TUNNEL_EDGE_OPEN_BURST;
	l->state = LINK_HANDSHAKE;
	if ((l->s = mux_session_new(c->base, bev, false, &lim, &link_cbs, l)) != NULL)
		mux_session_set_counters(l->s, &c->bytes);
	if (l->s == NULL || mux_send_hello(l->s, &c->hello) == -1) {
		mux_session_free(l->s);
		l->s = NULL;
		l->state = LINK_IDLE;
		link_schedule(l);
	}
}

/* Dials the link's edge: a non-blocking TCP connect, then TLS and HELLO. */
static void
link_connect(struct link *l)
{
	struct connector *c = l->c;
	struct conntoken_edge *edge = &c->tok.edges[l->edge];
	struct addrinfo hints, *res = NULL;
	struct timeval tv = { TUNNEL_CONNECT_MS / 1000, 0 };
	char port[8];
	int gai;

	if (c->draining)
		return;
	snprintf(l->addr, sizeof(l->addr), strchr(edge->host, ':') != NULL ? "[%s]:%u" : "%s:%u",
	    edge->host, edge->port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%u", edge->port);
	if ((gai = getaddrinfo(edge->host, port, &hints, &res)) != 0) {
		log_warnx("connection %zu: cannot resolve edge %s: %s", l->index, edge->host,
		    gai_strerror(gai));
		link_schedule(l);
		return;
	}
	l->fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd == -1 || (connect(l->fd, res->ai_addr, res->ai_addrlen) == -1 &&
	    errno != EINPROGRESS)) {
		log_warn("connection %zu: cannot connect to %s", l->index, l->addr);
		if (l->fd != -1)
			close(l->fd);
		l->fd = -1;
		freeaddrinfo(res);
		link_schedule(l);
		return;
	}
	freeaddrinfo(res);
	{
		int one = 1;
		setsockopt(l->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	l->state = LINK_CONNECTING;
	l->connect_ev = event_new(c->base, l->fd, EV_WRITE, link_tcp_ready, l);
	event_add(l->connect_ev, &tv);
}

/* --- running ---------------------------------------------------------------------------- */

static void
grace_over(void *arg)
{
	struct connector *c = arg;

	log_info("grace period over: closing %zu streams", c->streams);
	event_base_loopbreak(c->base);
}

static void
on_stop(int signo, int count, void *arg)
{
	struct connector *c = arg;

	if (count > 1) {
		event_base_loopbreak(c->base);
		return;
	}
	/* /ready says 503 before anything else changes. */
	health_stopping(c->health);
	c->draining = true;
	write_status(c);
	c->grace = ev_timer_new(c->base, grace_over, c);
	if (c->streams == 0) {
		log_info("stopping: closing the connections to the edge");
		ev_timer_start(c->grace, TUNNEL_CLOSE_MS, false);
		close_links(c);
		return;
	}
	log_info("draining: no new streams; %zu open streams get %llu ms", c->streams,
	    (unsigned long long)c->grace_ms);
	for (size_t i = 0; i < c->nlinks; i++) {
		if (c->links[i].s != NULL)
			mux_goaway(c->links[i].s, MUX_SHUTTING_DOWN, "the connector is shutting down");
		ev_timer_stop(c->links[i].retry);
	}
	ev_timer_start(c->grace, c->grace_ms, false);
}

static struct ingress *load_ingress(struct conf *cf, const char *hostname, const char *url,
		    bool verify);
static int	load_trust(struct conf *cf, const struct ingress *ing, const char *issuer_opt,
		    const char *keys_opt, char **issuer, struct jwt_keyset **pinned);

/* The hostnames HELLO announces: those this connector serves. A refusal rule (http_status)
 * serves nothing, so the edge need not allow it. */
static void
announce(struct connector *c)
{
	c->hello.nhostnames = 0;
	for (size_t i = 0; i < ingress_count(c->ing) && c->hello.nhostnames < MUX_MAX_HOSTNAMES;
	    i++) {
		const struct ingress_rule *r = ingress_rule(c->ing, i);

		if (r->host_kind != INGRESS_HOST_ANY && r->service_kind != INGRESS_SVC_HTTP_STATUS)
			util_strlcpy(c->hello.hostnames[c->hello.nhostnames++], r->hostname,
			    sizeof(c->hello.hostnames[0]));
	}
}

/* Whether key has the same values in two loads of tunnel.ini. */
static bool
conf_same(const struct conf *a, const struct conf *b, const char *section, const char *key)
{
	size_t n = conf_get_count(a, section, key);

	if (n != conf_get_count(b, section, key))
		return false;
	for (size_t i = 0; i < n; i++) {
		const char *x = conf_get_nth(a, section, key, i), *y = conf_get_nth(b, section, key, i);
		if ((x == NULL) != (y == NULL) || (x != NULL && strcmp(x, y) != 0))
			return false;
	}
	return true;
}

/* SIGHUP: tunnel.ini's ingress rules (and grace_period) again. A file with errors is refused
 * and the rules in force stay; open streams are never touched. */
static void
on_reload(void *arg)
{
	static const char *const restart_keys[] = { "token_file", "ha_connections", "edge",
	    "status_file" };
	struct connector *c = arg;
	struct conf *cf;
	struct ingress *ing = NULL;
	struct jwt_keyset *pinned = NULL;
	char *issuer = NULL;

	health_reloading(c->health);
	if (c->config == NULL) {
		log_info("SIGHUP: started without -c tunnel.ini: nothing to read again");
		health_reloaded(c->health, true);
		return;
	}
	log_info("SIGHUP: reading %s again", c->config);
	cf = conf_new(tunnelconf_table);
	if (conf_load_file(cf, c->config) == -1 ||
	    (ing = load_ingress(cf, c->hostname, c->url, c->verify_opt)) == NULL ||
	    load_trust(cf, ing, c->issuer_opt, c->keys_opt, &issuer, &pinned) == -1) {
		log_errorx("%s has errors: keeping the %zu ingress rules in force", c->config,
		    ingress_count(c->ing));
		ingress_free(ing);
		conf_free(cf);
		health_reloaded(c->health, false);
		return;
	}
	for (size_t i = 0; i < nitems(restart_keys); i++)
		if (!conf_same(c->cf, cf, "tunnel", restart_keys[i]))
			log_warnx("%s: %s changed: it takes effect at the next start", c->config,
			    restart_keys[i]);
	if (!c->grace_set)
		c->grace_ms = conf_get_duration(cf, "tunnel", "grace_period");
	/* Streams being dialled copied what they need; new streams see the new rules. */
	ingress_free(c->ing);
	c->ing = ing;
	jwt_keyset_free(c->pinned);
	c->pinned = pinned;
	free(c->issuer);
	c->issuer = issuer;
	announce(c);
	conf_free(c->cf);
	c->cf = cf;
	log_info("ingress reloaded: %zu rules (new hostnames are announced as connections are "
	    "made again)", ingress_count(c->ing));
	health_reloaded(c->health, true);
}

static bool
tunnel_ready(void *arg, char *why, size_t len)
{
	struct connector *c = arg;

	if (c->draining)
		util_strlcpy(why, "draining", len);
	else if (links_up(c) == 0)
		util_strlcpy(why, "no connection to the edge is registered", len);
	else
		return true;
	return false;
}

static void
tunnel_status(void *arg, char *buf, size_t len)
{
	struct connector *c = arg;

	snprintf(buf, len, "%zu of %zu connections to the edge registered, %zu streams%s",
	    links_up(c), c->nlinks, c->streams, c->draining ? ", draining" : "");
}

static void
tunnel_collect(void *arg)
{
	struct connector *c = arg;

	metrics_set(c->m_conns, (double)links_up(c));
	metrics_set(c->m_conf, (double)c->nlinks);
	metrics_set(c->m_open, (double)c->streams);
	metrics_set(c->m_rx, (double)c->bytes.bytes_in);
	metrics_set(c->m_tx, (double)c->bytes.bytes_out);
	metrics_set(c->m_rules, (double)ingress_count(c->ing));
	metrics_set(c->m_draining, c->draining ? 1 : 0);
}

static const struct health_ops tunnel_health = {
	.applet = "tunnel",
	.ready = tunnel_ready,
	.status = tunnel_status,
	.collect = tunnel_collect,
};

/* The families of doc/metrics.md for the connector. */
static void
tunnel_metrics(struct connector *c)
{
	struct metrics *m = health_metrics(c->health);

	c->m_conns = metrics_family(m, "zt_tunnel_connections", METRICS_GAUGE,
	    "Connections to the edge registered now.", NULL);
	c->m_conf = metrics_family(m, "zt_tunnel_connections_configured", METRICS_GAUGE,
	    "Connections to the edge the connector keeps.", NULL);
	c->m_conns_total = metrics_family(m, "zt_tunnel_connections_total", METRICS_COUNTER,
	    "Registrations with the edge (WELCOMEs received).", NULL);
	c->m_reconnects = metrics_family(m, "zt_tunnel_reconnects_total", METRICS_COUNTER,
	    "Connections to the edge lost or failed, each followed by a new attempt.", NULL);
	c->m_open = metrics_family(m, "zt_tunnel_streams_open", METRICS_GAUGE,
	    "Streams joined to an origin now.", NULL);
	c->m_streams = metrics_family(m, "zt_tunnel_streams_total", METRICS_COUNTER,
	    "Streams from the edge that ended, by result (ok or the code, in lower case).",
	    "result");
	metrics_add(c->m_streams, 0, "ok");
	c->m_rx = metrics_family(m, "zt_tunnel_stream_bytes_received_total", METRICS_COUNTER,
	    "Stream payload bytes received from the edge.", NULL);
	c->m_tx = metrics_family(m, "zt_tunnel_stream_bytes_sent_total", METRICS_COUNTER,
	    "Stream payload bytes sent to the edge.", NULL);
	c->m_rules = metrics_family(m, "zt_tunnel_ingress_rules", METRICS_GAUGE,
	    "Ingress rules in force.", NULL);
	c->m_draining = metrics_family(m, "zt_tunnel_draining", METRICS_GAUGE,
	    "1 once SIGTERM asked the connector to drain.", NULL);
}

/* Reads the token from --token, --token-file, the configuration, or the environment. */
static char *
read_token(const char *opt, const char *file)
{
	const char *env;
	char *data;
	size_t len;

	if (opt != NULL) {
		log_warnx("the token given with --token is visible to other processes of this "
		    "machine: prefer --token-file or $ZT_TUNNEL_TOKEN");
		return xstrdup(opt);
	}
	if (file != NULL) {
		if (util_read_secret_file(file, CONNTOKEN_MAX + 64, &data, &len) == -1) {
			if (errno == EPERM)
				log_errorx("token file \"%s\" is readable by group or others: chmod "
				    "600 %s", file, file);
			else
				log_error("cannot read the token file \"%s\"", file);
			return NULL;
		}
		return data;
	}
	if ((env = getenv("ZT_TUNNEL_TOKEN")) != NULL && *env != '\0')
		return xstrdup(env);
	if ((env = getenv("TUNNEL_TOKEN")) != NULL && *env != '\0')
		return xstrdup(env);
	/* systemd's LoadCredential=tunnel-token:FILE, with no flag needed. */
	if ((env = getenv("CREDENTIALS_DIRECTORY")) != NULL && *env != '\0') {
		char path[PATH_MAX];

		if (util_snprintf(path, sizeof(path), "%s/tunnel-token", env) &&
		    access(path, F_OK) == 0)
			return read_token(NULL, path);
	}
	log_errorx("no connector token: give --token-file FILE, or set ZT_TUNNEL_TOKEN (the "
	    "token zt tunnel create printed), or pass a systemd credential named tunnel-token");
	return NULL;
}

/* Builds the ingress from -c FILE and/or --hostname/--url (which come first). */
static struct ingress *
load_ingress(struct conf *cf, const char *hostname, const char *url, bool verify)
{
	struct ingress *ing = ingress_new();
	char err[INGRESS_ERR_MAX];

	if (verify && hostname == NULL && url == NULL) {
		log_errorx("--verify-token applies to the rule of --hostname and --url; in "
		    "tunnel.ini write rule = HOSTNAME SERVICE verify_token");
		goto fail;
	}
	if (hostname != NULL || url != NULL) {
		if (hostname == NULL || url == NULL) {
			log_errorx("--hostname and --url go together");
			goto fail;
		}
		if (ingress_add(ing, hostname, url, err, sizeof(err)) == -1 ||
		    (verify && ingress_add_option(ing, "verify_token", err, sizeof(err)) == -1)) {
			log_errorx("%s", err);
			goto fail;
		}
		if (cf == NULL || conf_get_count(cf, "ingress", "rule") == 0) {
			/* The simple case: one hostname, and everything else refused. */
			ingress_add(ing, "*", "http_status:404", err, sizeof(err));
		}
	}
	for (size_t i = 0; cf != NULL && i < conf_get_count(cf, "ingress", "rule"); i++)
		if (ingress_add_line(ing, conf_get_nth(cf, "ingress", "rule", i), err,
		    sizeof(err)) == -1) {
			log_errorx("%s", err);
			goto fail;
		}
	if (ingress_count(ing) == 0) {
		log_errorx("no ingress rules: give -c tunnel.ini with [ingress] rule = HOSTNAME "
		    "SERVICE lines, or --hostname HOST --url tcp://HOST:PORT");
		goto fail;
	}
	if (ingress_validate(ing, err, sizeof(err)) == -1) {
		log_errorx("%s", err);
		goto fail;
	}
	return ing;
fail:
	ingress_free(ing);
	return NULL;
}

/* The trust of verify_token: the issuer (--token-issuer, else token_issuer; required when a
 * rule verifies tokens) and the pinned JWKS (--token-keys, else token_keys; NULL: the edge's
 * KEYS). -1 after logging. */
static int
load_trust(struct conf *cf, const struct ingress *ing, const char *issuer_opt,
    const char *keys_opt, char **issuer, struct jwt_keyset **pinned)
{
	const char *iss = issuer_opt, *keys = keys_opt;
	char err[JWT_ERR_MAX], *data = NULL;
	size_t len;

	*issuer = NULL;
	*pinned = NULL;
	if (iss == NULL && cf != NULL)
		iss = conf_get(cf, "tunnel", "token_issuer");
	if (keys == NULL && cf != NULL)
		keys = conf_get(cf, "tunnel", "token_keys");
	if (iss == NULL && ingress_verifies_tokens(ing)) {
		log_errorx("a rule has verify_token but no issuer is set: give token_issuer = "
		    "URL in [tunnel] of tunnel.ini (or --token-issuer URL), the edge's [identity] "
		    "issuer, e.g. https://edge.example.com");
		return -1;
	}
	if (keys != NULL) {
		if (util_read_file(keys, JWT_JWKS_MAX, &data, &len) == -1) {
			log_error("token_keys \"%s\": cannot read it (a JWKS of at most %d bytes, "
			    "as the edge serves at /.well-known/jwks.json)", keys, JWT_JWKS_MAX);
			return -1;
		}
		*pinned = jwt_keyset_from_jwks(data, len, err, sizeof(err));
		free(data);
		if (*pinned == NULL || jwt_keyset_count(*pinned) == 0) {
			log_errorx("token_keys \"%s\": %s: save the edge's "
			    "/.well-known/jwks.json (or zt edge keys) there", keys, *pinned == NULL ?
			    err : "no ES256 P-256 key in it");
			jwt_keyset_free(*pinned);
			*pinned = NULL;
			return -1;
		}
		log_info("token_keys %s: %zu keys pinned (KEYS from the edge are ignored)", keys,
		    jwt_keyset_count(*pinned));
	}
	if (iss != NULL)
		*issuer = xstrdup(iss);
	return 0;
}

static const char *
default_status_file(void)
{
	static char buf[256];
	const char *rt = getenv("XDG_RUNTIME_DIR");

	if (geteuid() == 0)
		return "/run/zt-tunnel.status";
	if (rt != NULL && *rt != '\0') {
		snprintf(buf, sizeof(buf), "%s/zt-tunnel.status", rt);
		return buf;
	}
	snprintf(buf, sizeof(buf), "/tmp/zt-tunnel-%ld.status", (long)geteuid());
	return buf;
}

struct run_opts {
	const char	*token, *token_file, *config, *hostname, *url, *status_file, *metrics;
	const char	*token_issuer, *token_keys;
	bool		 verify_token;
	char		**edges;
	size_t		 nedges;
	long		 ha;
	uint64_t	 grace_ms;
	bool		 ha_set, grace_set;
};

static int
run(struct run_opts *ro)
{
	static const char *const alpn[] = { "zt/1", NULL };
	struct connector *c = xcalloc(1, sizeof(*c));
	struct conf *cf = NULL;
	struct tls_client_opts topts;
	char *token = NULL, err[CONNTOKEN_ERR_MAX];
	const char *token_file = ro->token_file;
	bool config_error;
	int ret = EX_CONFIG;

	if (ro->config != NULL) {
		cf = conf_new(tunnelconf_table);
		if (conf_load_file(cf, ro->config) == -1)
			goto out;
		if (token_file == NULL)
			token_file = conf_get(cf, "tunnel", "token_file");
		if (!ro->ha_set)
			ro->ha = conf_get_int(cf, "tunnel", "ha_connections");
		if (!ro->grace_set)
			ro->grace_ms = conf_get_duration(cf, "tunnel", "grace_period");
		if (ro->status_file == NULL)
			ro->status_file = conf_get(cf, "tunnel", "status_file");
	}
	if ((c->ing = load_ingress(cf, ro->hostname, ro->url, ro->verify_token)) == NULL ||
	    load_trust(cf, c->ing, ro->token_issuer, ro->token_keys, &c->issuer,
	    &c->pinned) == -1)
		goto out;
	if ((token = read_token(ro->token, token_file)) == NULL)
		goto out;
	if (conntoken_decode(token, &c->tok, err, sizeof(err)) == -1) {
		log_errorx("%s", err);
		goto out;
	}
	if (ro->nedges > 0 || (cf != NULL && conf_get_count(cf, "tunnel", "edge") > 0)) {
		struct conntoken tmp = c->tok;

		tmp.nedges = 0;
		for (size_t i = 0; i < ro->nedges; i++)
			if (conntoken_add_edge(&tmp, ro->edges[i], 7844, err, sizeof(err)) == -1) {
				log_errorx("--edge %s: %s", ro->edges[i], err);
				goto out;
			}
		for (size_t i = 0; cf != NULL && i < conf_get_count(cf, "tunnel", "edge"); i++)
			if (conntoken_add_edge(&tmp, conf_get_nth(cf, "tunnel", "edge", i), 7844, err,
			    sizeof(err)) == -1) {
				log_errorx("edge = %s: %s", conf_get_nth(cf, "tunnel", "edge", i), err);
				goto out;
			}
		c->tok = tmp;
		util_cleanse(&tmp, sizeof(tmp));
	}
	util_hex_encode(c->tok.tunnel_id, 8, c->name, sizeof(c->name));
	ret = 1;
	memset(&topts, 0, sizeof(topts));
	topts.pin = c->tok.pin[0] != '\0' ? c->tok.pin : NULL;
	topts.alpn = alpn;
	if ((c->tls = tls_client_new(&topts)) == NULL)
		goto out;

	/* HELLO: the tunnel's id and secret, a connector id for this process, the hostnames. */
	memset(&c->hello, 0, sizeof(c->hello));
	c->hello.role = MUX_ROLE_CONNECTOR;
	c->hello.has_tunnel_id = c->hello.has_tunnel_secret = c->hello.has_connector_id = true;
	memcpy(c->hello.tunnel_id, c->tok.tunnel_id, sizeof(c->hello.tunnel_id));
	memcpy(c->hello.tunnel_secret, c->tok.secret, sizeof(c->hello.tunnel_secret));
	util_random_bytes(c->hello.connector_id, sizeof(c->hello.connector_id));
	util_strlcpy(c->hello.version, "zt/" PACKAGE_VERSION, sizeof(c->hello.version));
	announce(c);

	c->grace_ms = ro->grace_ms;
	c->grace_set = ro->grace_set;
	c->config = ro->config;
	c->hostname = ro->hostname;
	c->url = ro->url;
	c->verify_opt = ro->verify_token;
	c->issuer_opt = ro->token_issuer;
	c->keys_opt = ro->token_keys;
	c->nlinks = (size_t)ro->ha;
	if (c->nlinks < c->tok.nedges) {
		/* Every edge needs a connection of its own to serve its clients. */
		log_info("ha-connections %zu is below the %zu edges: keeping one connection to "
		    "each", c->nlinks, c->tok.nedges);
		c->nlinks = c->tok.nedges;
	}
	c->status_file = xstrdup(ro->status_file != NULL ? ro->status_file :
	    default_status_file());
	ev_heap_for_streams();
	if ((c->base = ev_base_new()) == NULL)
		goto out;
	c->health = health_new(c->base, &tunnel_health, c);
	tunnel_metrics(c);
	if (ro->metrics != NULL && health_listen(c->health, ro->metrics, &config_error) == -1) {
		ret = config_error ? EX_CONFIG : 1;
		goto out;
	}
	c->sig = ev_signals_new(c->base, on_stop, on_reload, NULL, c);
	c->status_timer = ev_timer_new(c->base, status_tick, c);
	ev_timer_start(c->status_timer, TUNNEL_STATUS_MS, true);
	for (size_t i = 0; i < c->nlinks; i++) {
		struct link *l = &c->links[i];

		l->c = c;
		l->index = i;
		l->fd = -1;
		l->edge = i % c->tok.nedges;
		l->retry = ev_timer_new(c->base, link_retry, l);
		/* Spread the first connections a little, as cloudflared does. */
		ev_timer_start(l->retry, i * 200, false);
	}
	write_status(c);
	log_info("tunnel %s: %zu ingress rules, %zu connections to %zu edge(s)", c->name,
	    ingress_count(c->ing), c->nlinks, c->tok.nedges);
	/* The loaded tunnel.ini is the connector's from now on: SIGHUP replaces it. */
	c->cf = cf;
	cf = NULL;
	event_base_dispatch(c->base);
	ret = c->exit_status;
out:
	for (size_t i = 0; i < c->nlinks; i++) {
		struct link *l = &c->links[i];
		if (l->connect_ev != NULL)
			event_free(l->connect_ev);
		if (l->fd != -1)
			close(l->fd);
		mux_session_free(l->s);
		ev_timer_free(l->retry);
		jwt_keyset_free(l->keys);
	}
	jwt_keyset_free(c->pinned);
	free(c->issuer);
	if (c->status_file != NULL)
		(void)unlink(c->status_file);
	free(c->status_file);
	ev_timer_free(c->grace);
	ev_timer_free(c->status_timer);
	ev_signals_free(c->sig);
	tls_ctx_free(c->tls);
	ingress_free(c->ing);
	health_free(c->health);
	conf_free(c->cf);
	conntoken_clear(&c->tok);
	util_cleanse(&c->hello, sizeof(c->hello));
	if (token != NULL) {
		util_cleanse(token, strlen(token));
		free(token);
	}
	conf_free(cf);
	if (c->base != NULL)
		ev_base_free(c->base);
	free(c);
	return ret;
}

/* `zt tunnel ready`: 0 when the connector behind the status file has a live connection. */
static int
ready(const char *path)
{
	char *data, *p;
	size_t len;
	long pid = 0, conns = 0, draining = 0;
	long long updated = 0;

	if (path == NULL)
		path = default_status_file();
	if (util_read_file(path, 4096, &data, &len) == -1) {
		fprintf(stderr, "zt tunnel ready: no connector status at %s (is zt tunnel run "
		    "running, with the same --status-file?)\n", path);
		return 1;
	}
	for (p = strtok(data, "\n"); p != NULL; p = strtok(NULL, "\n")) {
		sscanf(p, "pid=%ld", &pid);
		sscanf(p, "connections=%ld", &conns);
		sscanf(p, "draining=%ld", &draining);
		sscanf(p, "updated=%lld", &updated);
	}
	free(data);
	if (pid <= 0 || (kill((pid_t)pid, 0) == -1 && errno == ESRCH)) {
		fprintf(stderr, "zt tunnel ready: the connector (pid %ld) is not running\n", pid);
		return 1;
	}
	if (time(NULL) - updated > 3 * TUNNEL_STATUS_MS / 1000 + 2) {
		fprintf(stderr, "zt tunnel ready: the connector's status is stale\n");
		return 1;
	}
	if (draining || conns == 0) {
		fprintf(stderr, "zt tunnel ready: %s\n", draining ? "draining" :
		    "no connection to the edge is registered");
		return 1;
	}
	printf("ready: %ld connections\n", conns);
	return 0;
}

/* `zt tunnel ingress validate|rule`. */
static int
ingress_cmd(int argc, char **argv, const char *config, const char *hostname, const char *url,
    bool verify)
{
	struct conf *cf = NULL;
	struct ingress *ing;
	int ret = 1;

	if (config != NULL) {
		cf = conf_new(tunnelconf_table);
		if (conf_load_file(cf, config) == -1) {
			conf_free(cf);
			return EX_CONFIG;
		}
	}
	if ((ing = load_ingress(cf, hostname, url, verify)) == NULL) {
		ret = EX_CONFIG;
		goto out;
	}
	if (argc >= 1 && strcmp(argv[0], "validate") == 0 && argc == 1) {
		printf("OK: %zu rules\n", ingress_count(ing));
		ingress_print(ing, stdout);
		ret = 0;
	} else if (argc == 2 && strcmp(argv[0], "rule") == 0) {
		size_t idx;
		const struct ingress_rule *r = ingress_match(ing, argv[1], &idx);
		char line[INGRESS_ERR_MAX];

		if (r == NULL) {
			printf("no rule matches \"%s\" (not a host name?)\n", argv[1]);
			goto out;
		}
		ingress_format(r, line, sizeof(line));
		printf("rule #%zu: %s\n", idx + 1, line);
		ret = 0;
	} else {
		fputs(usage, stderr);
		ret = 2;
	}
out:
	ingress_free(ing);
	conf_free(cf);
	return ret;
}

/* The state directory for create/list/delete: --state-dir, else edge.ini's. */
static struct state *
open_state(const char *state_dir, const char *config, struct edgeconf **confp)
{
	struct state *st;

	*confp = NULL;
	if (state_dir == NULL) {
		const char *path = config != NULL ? config : getenv("ZT_EDGE_CONFIG");
		if (path == NULL || *path == '\0')
			path = EDGECONF_DEFAULT_PATH;
		if ((*confp = edgeconf_load(path)) == NULL)
			return NULL;
		state_dir = (*confp)->state_dir;
	}
	st = state_open(state_dir);
	return st;
}

static int
create_cmd(const char *name, const char *state_dir, const char *config)
{
	struct edgeconf *ec = NULL;
	struct state *st;
	struct state_tunnel t;
	struct conntoken ct;
	char secret[STATE_SECRET_HEX_LEN + 1], token[CONNTOKEN_MAX + 1], err[CONNTOKEN_ERR_MAX];
	int ret = 1;

	memset(&ct, 0, sizeof(ct));
	if ((st = open_state(state_dir, config, &ec)) == NULL) {
		ret = EX_CONFIG;
		goto out;
	}
	if (ec == NULL) {
		log_errorx("zt tunnel create needs the edge's configuration for the token (the "
		    "edge's address and CA pin): give -c edge.ini");
		goto out;
	}
	for (size_t i = 0; i < ec->npublics; i++)
		if (conntoken_add_edge(&ct, ec->publics[i], 7844, err, sizeof(err)) == -1) {
			log_errorx("%s: public = %s: %s", ec->path, ec->publics[i], err);
			goto out;
		}
	if (ec->ca_file != NULL) {
		if (tls_spki_pin_file(ec->ca_file, ct.pin, sizeof(ct.pin)) == -1)
			goto out;
		/* The edge's certificate is for its name, which the public address may not be. */
		util_strlcpy(ct.server_name, ec->name, sizeof(ct.server_name));
	}
	if (state_tunnel_create(st, name, time(NULL), &t, secret) == -1)
		goto out;
	util_hex_decode(t.id, strlen(t.id), ct.tunnel_id, sizeof(ct.tunnel_id));
	util_hex_decode(secret, strlen(secret), ct.secret, sizeof(ct.secret));
	util_cleanse(secret, sizeof(secret));
	if (conntoken_encode(&ct, token, sizeof(token), err, sizeof(err)) == -1) {
		log_errorx("cannot make the token: %s", err);
		goto out;
	}
	log_redact_add(token);
	printf("Created tunnel %s (id %s).\n\nConnector token (shown once; give it to `zt "
	    "tunnel run` in a file or $ZT_TUNNEL_TOKEN, not on its command line):\n\n%s\n",
	    t.name, t.id, token);
	util_cleanse(token, sizeof(token));
	ret = 0;
out:
	conntoken_clear(&ct);
	state_free(st);
	edgeconf_free(ec);
	return ret;
}

static int
list_cmd(const char *state_dir, const char *config)
{
	struct edgeconf *ec = NULL;
	struct state *st;
	char when[STATE_TIME_LEN + 1];

	if ((st = open_state(state_dir, config, &ec)) == NULL) {
		edgeconf_free(ec);
		return EX_CONFIG;
	}
	printf("%-24s %-34s %-22s %s\n", "NAME", "ID", "CREATED", "APPS");
	for (size_t i = 0; i < state_tunnel_count(st); i++) {
		const struct state_tunnel *t = state_tunnel_nth(st, i);
		size_t napps = 0;

		for (size_t j = 0; ec != NULL && j < ec->napps; j++)
			if (strcmp(ec->apps[j].tunnel, t->name) == 0)
				napps++;
		state_format_time(t->created, when);
		if (ec != NULL)
			printf("%-24s %-34s %-22s %zu\n", t->name, t->id, when, napps);
		else
			printf("%-24s %-34s %-22s -\n", t->name, t->id, when);
	}
	state_free(st);
	edgeconf_free(ec);
	return 0;
}

static int
delete_cmd(const char *name, const char *state_dir, const char *config)
{
	struct edgeconf *ec = NULL;
	struct state *st;
	struct state_tunnel t;
	int ret = EX_CONFIG;

	if ((st = open_state(state_dir, config, &ec)) == NULL)
		goto out;
	ret = 1;
	if (state_tunnel_delete(st, name, &t) == -1)
		goto out;
	printf("Deleted tunnel %s (id %s): a running edge drops its connections within a "
	    "second.\n", t.name, t.id);
	ret = 0;
out:
	state_free(st);
	edgeconf_free(ec);
	return ret;
}

/* `zt tunnel ready [--status-file FILE | -c tunnel.ini]`: the flag, else tunnel.ini's
 * status_file, else the default. */
static int
ready_cmd(const char *status_file, const char *config)
{
	struct conf *cf;
	char *path = NULL;
	int ret;

	if (status_file == NULL && config != NULL) {
		cf = conf_new(tunnelconf_table);
		if (conf_load_file(cf, config) == -1) {
			conf_free(cf);
			return EX_CONFIG;
		}
		if (conf_get(cf, "tunnel", "status_file") != NULL)
			path = xstrdup(conf_get(cf, "tunnel", "status_file"));
		conf_free(cf);
	}
	ret = ready(status_file != NULL ? status_file : path);
	free(path);
	return ret;
}

int
tunnel_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "token", required_argument, NULL, 't' },
		{ "token-file", required_argument, NULL, 'T' },
		{ "config", required_argument, NULL, 'c' },
		{ "hostname", required_argument, NULL, 'H' },
		{ "url", required_argument, NULL, 'u' },
		{ "verify-token", no_argument, NULL, 'V' },
		{ "token-issuer", required_argument, NULL, 'I' },
		{ "token-keys", required_argument, NULL, 'K' },
		{ "ha-connections", required_argument, NULL, 'a' },
		{ "grace-period", required_argument, NULL, 'g' },
		{ "edge", required_argument, NULL, 'e' },
		{ "status-file", required_argument, NULL, 's' },
		{ "metrics", required_argument, NULL, 'M' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "log-format", required_argument, NULL, 'F' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct run_opts ro;
	const char *cmd, *state_dir = NULL;
	int ch, ret = 2;

	memset(&ro, 0, sizeof(ro));
	ro.ha = TUNNEL_HA_DEFAULT;
	ro.grace_ms = 30000;
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	argc--;
	argv++;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		char err[256];

		switch (ch) {
		case 't': ro.token = optarg; break;
		case 'T': ro.token_file = optarg; break;
		case 'c': ro.config = optarg; break;
		case 'H': ro.hostname = optarg; break;
		case 'u': ro.url = optarg; break;
		case 'V': ro.verify_token = true; break;
		case 'K': ro.token_keys = optarg; break;
		case 'I':
			if (!tunnelconf_issuer_ok(optarg, err, sizeof(err))) {
				fprintf(stderr, "zt tunnel: --token-issuer \"%s\": %s\n", optarg, err);
				ret = EX_CONFIG;
				goto out;
			}
			ro.token_issuer = optarg;
			break;
		case 's': ro.status_file = optarg; break;
		case 'M': ro.metrics = optarg; break;
		case 'S': state_dir = optarg; break;
		case 'e':
			ro.edges = xreallocarray(ro.edges, ro.nedges + 1, sizeof(*ro.edges));
			ro.edges[ro.nedges++] = optarg;
			break;
		case 'a':
			if (util_parse_long(optarg, 1, TUNNEL_HA_MAX, &ro.ha) == -1) {
				fprintf(stderr, "zt tunnel: --ha-connections \"%s\": 1 to %d\n",
				    optarg, TUNNEL_HA_MAX);
				goto out;
			}
			ro.ha_set = true;
			break;
		case 'g':
			if (util_parse_duration(optarg, &ro.grace_ms, err, sizeof(err)) == -1) {
				fprintf(stderr, "zt tunnel: --grace-period: %s\n", err);
				goto out;
			}
			ro.grace_set = true;
			break;
		case 'F':
		case 'L':
			if (log_apply_flag("zt tunnel", ch == 'F', optarg) == -1)
				goto out;
			break;
		case 'h':
			fputs(usage, stdout);
			ret = 0;
			goto out;
		default:
			fputs(usage, stderr);
			goto out;
		}
	}
	argc -= optind;
	argv += optind;
	if (strcmp(cmd, "run") == 0 && argc == 0)
		ret = run(&ro);
	else if (strcmp(cmd, "ready") == 0 && argc == 0 && ro.metrics != NULL)
		ret = health_probe("zt tunnel ready", ro.metrics);
	else if (strcmp(cmd, "ready") == 0 && argc == 0)
		ret = ready_cmd(ro.status_file, ro.config);
	else if (strcmp(cmd, "ingress") == 0 && argc >= 1)
		ret = ingress_cmd(argc, argv, ro.config, ro.hostname, ro.url, ro.verify_token);
	else if (strcmp(cmd, "create") == 0 && argc == 1)
		ret = create_cmd(argv[0], state_dir, ro.config);
	else if (strcmp(cmd, "list") == 0 && argc == 0)
		ret = list_cmd(state_dir, ro.config);
	else if (strcmp(cmd, "delete") == 0 && argc == 1)
		ret = delete_cmd(argv[0], state_dir, ro.config);
	else {
		fprintf(stderr, "zt tunnel: unknown command \"%s\" or wrong arguments\n", cmd);
		fputs(usage, stderr);
	}
out:
	free(ro.edges);
	return ret;
}
