/* access: `zt access tcp`, the sidecar: a local port whose connections become streams through
 * the edge to an app, on one persistent session (cloudflared access tcp's flags). */
#include "config.h"

#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>

#include "applets.h"
#include "common/ev.h"
#include "common/health.h"
#include "common/httpc.h"
#include "common/log.h"
#include "common/loginfile.h"
#include "common/metrics.h"
#include "common/mux.h"
#include "common/tls.h"
#include "common/util.h"

static const char usage[] =
"usage: zt access tcp --hostname HOST [--url ADDR] [--id ID] [--secret-file FILE]\n"
"                     [--edge HOST:PORT] [--edge-pin PIN | --edge-ca FILE]\n"
"                     [--edge-name NAME]\n"
"                     [--listen-early] [--metrics ADDR]\n"
"       zt access token --app HOST [--edge URL]\n"
"       zt access ready --metrics ADDR\n"
"\n"
"Opens ADDR (e.g. 127.0.0.1:5432) and carries each connection made to it to the app HOST\n"
"through the edge, as a stream on one TLS session (no handshake per connection). Without\n"
"--url, standard input and output carry one connection (ssh ProxyCommand).\n"
"Without a service token (--id, $ZT_ACCESS_CLIENT_ID), it uses the login of `zt login`\n"
"for --edge, and that login's --edge-ca, --edge-pin and --edge-name unless given here.\n"
"\n"
"  --hostname, --tunnel-host, -T HOST   the app (an [app HOST] of the edge)\n"
"  --url, --listener, -L ADDR           where to listen\n"
"  --id, --service-token-id ID          the Client ID (or $ZT_ACCESS_CLIENT_ID,\n"
"                                       $TUNNEL_SERVICE_TOKEN_ID)\n"
"  --secret-file FILE                   the Client Secret, from a file (mode 0600)\n"
"  --secret, --service-token-secret S   the secret on the command line: works, but any\n"
"                                       user of this machine can read it (or\n"
"                                       $ZT_ACCESS_CLIENT_SECRET, $TUNNEL_SERVICE_TOKEN_SECRET)\n"
"  --edge HOST:PORT                     the edge (default HOST:7844, or $ZT_EDGE)\n"
"  --edge-pin sha256//...               the edge CA's pin (or $ZT_EDGE_PIN)\n"
"  --edge-ca FILE                       the edge's CA certificate (default: system CAs)\n"
"  --edge-name NAME                     the name the edge's certificate must carry (and\n"
"                                       the SNI sent); default the HOST of --edge\n"
"  --listen-early                       listen at once, before the edge has authorised\n"
"                                       this token for HOST\n"
"  --metrics ADDR                       serve /metrics, /ready and /healthz on ADDR\n"
"                                       (PORT means 127.0.0.1:PORT; doc/metrics.md)\n"
"\n"
"SIGHUP reads --secret-file (or the login) again, for the next session. `zt access\n"
"ready --metrics ADDR` exits 0 when the sidecar serving ADDR is ready (for probes).\n"
"`zt access token --app HOST` prints a token for the app HOST signed by the edge, from\n"
"the login of `zt login` (--edge: the edge's URL or HOST:PORT, when logged in to\n"
"several), for scripts that call the app with it.\n";

#define ACCESS_BACKOFF_BASE	1000
#define ACCESS_BACKOFF_CAP	30000
#define ACCESS_WAIT_MS		10000	/* a local connection waits this long for a session */
#define ACCESS_CHECK_ID		1

struct access;

/* A local connection waiting for the session, then spliced to a stream. */
struct local {
	struct access	*a;
	struct bufferevent *bev;
	struct mux_stream *st;
	struct local	*next;
	struct ev_timer	*wait;
};

struct access {
	struct event_base *base;
	struct tls_ctx	*tls;
	struct mux_hello hello;
	char		 hostname[MUX_MAX_HOSTNAME + 1];
	char		 edge_host[256];
	uint16_t	 edge_port;
	char		 server_name[256];
	struct sockaddr_storage listen_ss;
	socklen_t	 listen_len;
	bool		 listen_early;
	bool		 stdio;
	struct ev_listener *listener;
	struct mux_session *s;
	bool		 up;
	bool		 authorised;	/* the edge said yes to CHECK once */
	int		 fd;
	struct event	*connect_ev;
	struct ev_timer	*retry;
	uint32_t	 attempt;
	struct local	*waiting;
	struct ev_signals *sig;
	int		 exit_status;
	size_t		 streams;
	size_t		 nlocals;	/* local connections without their stream yet */
	bool		 idle_closed;	/* the edge closed the session for idleness */
	const char	*secret_file;	/* read again on SIGHUP */
	bool		 login;		/* a person's login (zt login), not a service token */
	char		 login_key[300];	/* its edge, host:port */
	/* operations (doc/metrics.md) */
	struct health	*health;
	struct mux_counters bytes;
	struct metrics_family *m_up, *m_sessions, *m_reconnects, *m_conns, *m_conns_total;
	struct metrics_family *m_open, *m_streams, *m_rx, *m_tx;
};

static void session_connect(struct access *a);
static void flush_waiting(struct access *a);
static void local_start(struct local *lc);
static int login_read(struct access *a, struct loginfile_rec *rec);
static bool login_renewed(struct access *a);

/* --- local connections --------------------------------------------------------------------- */

/* A stream (or a local connection that never got one) ended with code. */
static void
count_stream(struct access *a, uint16_t code)
{
	char label[32];

	metrics_add(a->m_streams, 1, health_result(code, label, sizeof(label)));
}

static void
local_free(struct local *lc)
{
	struct access *a = lc->a;

	a->nlocals--;
	for (struct local **pp = &a->waiting; *pp != NULL; pp = &(*pp)->next)
		if (*pp == lc) {
			*pp = lc->next;
			break;
		}
	ev_timer_free(lc->wait);
	if (lc->bev != NULL)
		bufferevent_free(lc->bev);
	free(lc);
}

static void
local_done(void *arg, uint16_t code, const char *reason)
{
	struct access *a = arg;

	a->streams--;
	count_stream(a, code);
	if (code != MUX_OK && code != MUX_CANCEL)
		log_warnx("connection to %s ended: %s%s%s", a->hostname, mux_code_name(code),
		    reason != NULL && *reason != '\0' ? ": " : "", reason != NULL ? reason : "");
	/* stdio mode: the exit status says whether the one connection ended well; the relay
	 * stops the loop once what the stream carried has reached stdout. */
	if (a->stdio && code != MUX_OK)
		a->exit_status = 1;
	/* Connections waiting for room under the edge's stream limit get this stream's. */
	if (a->waiting != NULL && a->up)
		flush_waiting(a);
}

static void
local_opened(struct mux_stream *st, void *arg)
{
	struct local *lc = arg;
	struct access *a = lc->a;
	struct bufferevent *bev = lc->bev;

	lc->bev = NULL;
	lc->st = NULL;
	a->streams++;
	if (mux_splice_bev(st, bev, local_done, a) == -1) {
		bufferevent_free(bev);
		mux_stream_reset(st, MUX_INTERNAL, "cannot join the connection");
	}
	local_free(lc);
}

/* Closes a local connection that never got its stream with a reset (SO_LINGER 0): its client
 * sees an error, not a clean close that looks like an empty answer. */
static void
local_reset(struct local *lc)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	evutil_socket_t fd;

	if (lc->bev != NULL && !lc->a->stdio && (fd = bufferevent_getfd(lc->bev)) != -1)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	if (lc->a->stdio)
		lc->a->exit_status = 1;	/* the one connection failed */
	local_free(lc);
}

static void
local_refused(struct mux_stream *st, uint16_t code, const char *reason, void *arg)
{
	struct local *lc = arg;
	struct access *a = lc->a;

	log_warnx("the edge refused a connection to %s: %s (%s)", a->hostname,
	    reason != NULL && *reason != '\0' ? reason : "no reason given", mux_code_name(code));
	count_stream(a, code);
	lc->st = NULL;
	local_reset(lc);
	if (a->stdio) {
		a->exit_status = 1;
		event_base_loopbreak(a->base);
	}
}

static const struct mux_stream_cbs local_cbs = {
	.opened = local_opened,
	.closed = local_refused,
};

/* Opens a stream for a local connection, or makes it wait for the session. */
static void
local_start(struct local *lc)
{
	struct access *a = lc->a;
	struct local **pp;

	if (a->up && (lc->st = mux_stream_open(a->s, a->hostname, NULL, &local_cbs, lc)) != NULL) {
		ev_timer_stop(lc->wait);
		return;
	}
	/* First come, first served: appended, so the oldest gets the next free stream. */
	for (pp = &a->waiting; *pp != NULL; pp = &(*pp)->next)
		;
	lc->next = NULL;
	*pp = lc;
	if (!ev_timer_pending(lc->wait))
		ev_timer_start(lc->wait, ACCESS_WAIT_MS, false);
	/* No session and none on its way (the edge closed an idle one): dial now. */
	if (a->s == NULL && a->fd == -1 && a->connect_ev == NULL && !ev_timer_pending(a->retry))
		session_connect(a);
}

static void
local_wait_over(void *arg)
{
	struct local *lc = arg;

	log_warnx("no session to the edge for %d s: closing a local connection",
	    ACCESS_WAIT_MS / 1000);
	count_stream(lc->a, MUX_TIMEOUT);
	local_reset(lc);
}

static void
local_event(struct bufferevent *bev, short what, void *arg)
{
	struct local *lc = arg;

	/* A half-close while waiting for the stream (a client that sent its request and shut
	 * its side): EOF is seen again by the relay once it reads, and becomes FIN then. */
	if ((what & BEV_EVENT_EOF) != 0 && (what & BEV_EVENT_ERROR) == 0) {
		bufferevent_disable(bev, EV_READ);
		return;
	}
	/* The local connection failed while waiting for the edge. */
	count_stream(lc->a, MUX_CANCEL);
	if (lc->st != NULL) {
		mux_stream_set_cbs(lc->st, NULL, NULL);
		mux_stream_reset(lc->st, MUX_CANCEL, "the local connection failed");
		lc->st = NULL;
	}
	local_free(lc);
}

static struct local *
local_new(struct access *a, struct bufferevent *bev)
{
	struct local *lc = xcalloc(1, sizeof(*lc));

	a->nlocals++;
	lc->a = a;
	lc->bev = bev;
	lc->wait = ev_timer_new(a->base, local_wait_over, lc);
	bufferevent_setcb(bev, NULL, NULL, local_event, lc);
	bufferevent_enable(bev, EV_READ);
	/* Nothing is read until the stream exists: the splice takes over then. */
	bufferevent_setwatermark(bev, EV_READ, 0, 1);
	return lc;
}

static void
local_accept(int fd, const struct sockaddr *sa, socklen_t len, void *arg)
{
	struct access *a = arg;
	struct bufferevent *bev;
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((bev = bufferevent_socket_new(a->base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		close(fd);
		return;
	}
	metrics_add(a->m_conns_total, 1);
	local_start(local_new(a, bev));
}

/* stdin/stdout mode: fds 0 and 1 are usually two pipes (ssh ProxyCommand), and a stream is
 * spliced to one socket, so a socketpair sits between: its far end is relayed to fds 0 and 1.
 * A regular file or /dev/null cannot be polled: such an fd is read or written directly, in
 * turns of the loop (neither ever blocks for long). The process exits once the stream has
 * ended and everything it carried has reached stdout. */
#define STDIO_HIGH	(256 * 1024)	/* bytes waiting before the reading side pauses */

struct stdio_relay {
	struct access	*a;
	struct bufferevent *in, *out, *sock;	/* in, out: NULL when not pollable */
	struct event	*in_ev;		/* stdin not pollable: reads in turns of the loop */
	bool		 in_eof;
	bool		 sock_eof;	/* the stream's end arrived: flush, then exit */
};

static struct stdio_relay *stdio_relay;

/* Whether epoll accepts fd (pipes, sockets, ttys: yes; regular files, /dev/null: no). */
static bool
pollable(int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ep, ok;

	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return true;
	ok = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0 || errno != EPERM;
	close(ep);
	return ok;
}

static void
stdio_finish(struct stdio_relay *r)
{
	if (r->out != NULL && evbuffer_get_length(bufferevent_get_output(r->out)) > 0)
		return;	/* stdio_out_drained comes back */
	event_base_loopbreak(r->a->base);
}

static void
stdio_in_done(struct stdio_relay *r)
{
	r->in_eof = true;
	if (r->in != NULL)
		bufferevent_disable(r->in, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(r->sock)) == 0)
		shutdown(bufferevent_getfd(r->sock), SHUT_WR);
}

static void
stdio_in_read(struct bufferevent *bev, void *arg)
{
	struct stdio_relay *r = arg;

	bufferevent_write_buffer(r->sock, bufferevent_get_input(bev));
	/* Back-pressure: stop reading stdin while the socketpair is full. */
	if (evbuffer_get_length(bufferevent_get_output(r->sock)) > STDIO_HIGH)
		bufferevent_disable(bev, EV_READ);
}

/* stdin is a file: one read per turn of the loop while the socketpair has room. */
static void
stdio_in_file(evutil_socket_t fd, short what, void *arg)
{
	struct stdio_relay *r = arg;
	struct evbuffer *o = bufferevent_get_output(r->sock);
	int n;

	if (r->in_eof || evbuffer_get_length(o) > STDIO_HIGH)
		return;	/* stdio_sock_drained comes back */
	n = evbuffer_read(o, STDIN_FILENO, 64 * 1024);
	if (n > 0)
		event_active(r->in_ev, EV_TIMEOUT, 0);
	else {
		if (n < 0)
			log_warn("reading stdin");
		stdio_in_done(r);
	}
}

static void
stdio_sock_drained(struct bufferevent *bev, void *arg)
{
	struct stdio_relay *r = arg;

	if (!r->in_eof) {
		if (r->in != NULL)
			bufferevent_enable(r->in, EV_READ);
		else
			event_active(r->in_ev, EV_TIMEOUT, 0);
	} else if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		shutdown(bufferevent_getfd(bev), SHUT_WR);
}

static void
stdio_in_event(struct bufferevent *bev, short what, void *arg)
{
	if ((what & BEV_EVENT_ERROR) != 0)
		log_warn("reading stdin");
	stdio_in_done(arg);
}

static void
stdio_sock_read(struct bufferevent *bev, void *arg)
{
	struct stdio_relay *r = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (r->out != NULL) {
		bufferevent_write_buffer(r->out, in);
		if (evbuffer_get_length(bufferevent_get_output(r->out)) > STDIO_HIGH)
			bufferevent_disable(bev, EV_READ);
		return;
	}
	/* stdout is a file: written now, all of it. */
	while (evbuffer_get_length(in) > 0)
		if (evbuffer_write(in, STDOUT_FILENO) < 0 && errno != EINTR) {
			log_warn("writing stdout");
			r->a->exit_status = 1;
			evbuffer_drain(in, evbuffer_get_length(in));
			event_base_loopbreak(r->a->base);
		}
}

static void
stdio_out_drained(struct bufferevent *bev, void *arg)
{
	struct stdio_relay *r = arg;

	if (r->sock_eof)
		stdio_finish(r);
	else
		bufferevent_enable(r->sock, EV_READ);
}

static void
stdio_out_event(struct bufferevent *bev, short what, void *arg)
{
	struct stdio_relay *r = arg;

	/* The reader of stdout went away (EPIPE): nothing more can be delivered. */
	log_warnx("stdout closed by its reader: ending the connection");
	r->a->exit_status = 1;
	event_base_loopbreak(r->a->base);
}

static void
stdio_sock_event(struct bufferevent *bev, short what, void *arg)
{
	struct stdio_relay *r = arg;

	/* The stream ended and its socket was closed: what it carried is all read (EOF comes
	 * after the data). Deliver the rest to stdout, then stop. */
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	r->sock_eof = true;
	stdio_finish(r);
}

static struct bufferevent *
stdio_bev(struct access *a, int fd, const char *name)
{
	struct bufferevent *bev;

	if (!pollable(fd)) {
		log_debug("%s is not pollable (a file?): read and written directly", name);
		return NULL;
	}
	evutil_make_socket_nonblocking(fd);
	if ((bev = bufferevent_socket_new(a->base, fd, 0)) == NULL)
		fatalx("cannot relay %s", name);
	return bev;
}

/* Starts the stdin/stdout connection (ssh ProxyCommand). */
static void
stdio_start(struct access *a)
{
	struct stdio_relay *r;
	struct bufferevent *near;
	int sv[2];

	if (stdio_relay != NULL)
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == -1) {
		log_error("socketpair");
		a->exit_status = 1;
		event_base_loopbreak(a->base);
		return;
	}
	r = stdio_relay = xcalloc(1, sizeof(*r));
	r->a = a;
	r->in = stdio_bev(a, STDIN_FILENO, "stdin");
	r->out = stdio_bev(a, STDOUT_FILENO, "stdout");
	r->sock = bufferevent_socket_new(a->base, sv[1], BEV_OPT_CLOSE_ON_FREE);
	near = bufferevent_socket_new(a->base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	if (r->sock == NULL || near == NULL)
		fatalx("cannot relay stdin and stdout");
	if (r->in != NULL) {
		bufferevent_setcb(r->in, stdio_in_read, NULL, stdio_in_event, r);
		bufferevent_enable(r->in, EV_READ);
	} else {
		if ((r->in_ev = event_new(a->base, -1, 0, stdio_in_file, r)) == NULL)
			fatalx("cannot relay stdin");
		event_active(r->in_ev, EV_TIMEOUT, 0);
	}
	bufferevent_setcb(r->sock, stdio_sock_read, stdio_sock_drained, stdio_sock_event, r);
	bufferevent_setwatermark(r->sock, EV_WRITE, 64 * 1024, 0);
	bufferevent_enable(r->sock, EV_READ | EV_WRITE);
	if (r->out != NULL) {
		bufferevent_setcb(r->out, NULL, stdio_out_drained, stdio_out_event, r);
		bufferevent_setwatermark(r->out, EV_WRITE, 64 * 1024, 0);
		bufferevent_enable(r->out, EV_WRITE);
	}
	local_start(local_new(a, near));
}

static void
stdio_free(void)
{
	struct stdio_relay *r = stdio_relay;

	if (r == NULL)
		return;
	if (r->in != NULL)
		bufferevent_free(r->in);
	if (r->out != NULL)
		bufferevent_free(r->out);
	if (r->sock != NULL)
		bufferevent_free(r->sock);
	if (r->in_ev != NULL)
		event_free(r->in_ev);
	free(r);
	stdio_relay = NULL;
}

/* "<32 lower-case hex digits>.access", the form of zt token create's Client ID. */
static bool
token_id_ok(const char *id)
{
	if (strlen(id) != 39 || strcmp(id + 32, ".access") != 0)
		return false;
	for (int i = 0; i < 32; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return true;
}

static int
open_listener(struct access *a)
{
	if ((a->listener = ev_listener_new(a->base, (struct sockaddr *)&a->listen_ss,
	    a->listen_len, 128, local_accept, a)) == NULL)
		return -1;
	{
		char buf[80];
		log_info("listening on %s for %s", util_sockaddr_str((struct sockaddr *)&a->listen_ss,
		    buf, sizeof(buf)), a->hostname);
	}
	return 0;
}

/* --- the session to the edge ------------------------------------------------------------- */

static void
flush_waiting(struct access *a)
{
	struct local *list = a->waiting, *next;

	a->waiting = NULL;
	for (; list != NULL; list = next) {
		next = list->next;
		list->next = NULL;
		local_start(list);
	}
}

static void
session_check_reply(struct mux_session *s, uint32_t id, uint16_t code, const char *reason,
    void *arg)
{
	struct access *a = arg;

	if (code != MUX_OK) {
		log_errorx("the edge does not allow this %s to reach %s: %s (%s)", a->login ?
		    "login" : "token", a->hostname,
		    reason != NULL && *reason != '\0' ? reason : "no reason given",
		    mux_code_name(code));
		a->exit_status = 1;
		event_base_loopbreak(a->base);
		return;
	}
	if (!a->authorised) {
		a->authorised = true;
		health_update(a->health);
		log_info("the edge authorised this token for %s", a->hostname);
		if (a->stdio)
			stdio_start(a);
		else if (a->listener == NULL && open_listener(a) == -1) {
			a->exit_status = 1;
			event_base_loopbreak(a->base);
		}
	}
}

static void
session_welcome(struct mux_session *s, const struct mux_welcome *w, void *arg)
{
	struct access *a = arg;

	a->up = true;
	a->idle_closed = false;
	a->attempt = 0;
	metrics_add(a->m_sessions, 1);
	log_info("session to edge %s established", w->edge_name);
	mux_check(s, ACCESS_CHECK_ID, a->hostname);
	flush_waiting(a);
}

static void
session_open(struct mux_session *s, struct mux_stream *st, const char *hostname,
    const struct mux_meta *meta, void *arg)
{
	mux_stream_reset(st, MUX_REFUSED_STREAM, "clients do not accept streams");
}

static void
session_retry(void *arg)
{
	session_connect(arg);
}

static void
session_schedule(struct access *a)
{
	uint64_t cap = ACCESS_BACKOFF_BASE;

	for (uint32_t i = 0; i < a->attempt && cap < ACCESS_BACKOFF_CAP; i++)
		cap *= 2;
	if (cap > ACCESS_BACKOFF_CAP)
		cap = ACCESS_BACKOFF_CAP;
	a->attempt++;
	metrics_add(a->m_reconnects, 1);
	ev_timer_start(a->retry, 100 + util_random_uniform((uint32_t)cap), false);
}

static void
session_closed(struct mux_session *s, uint16_t code, const char *reason, void *arg)
{
	struct access *a = arg;

	mux_session_free(a->s);
	a->s = NULL;
	a->up = false;
	a->idle_closed = code == MUX_IDLE && !a->stdio;
	health_update(a->health);
	if ((code == MUX_AUTH_FAILED || code == MUX_AUTH_EXPIRED || code == MUX_AUTH_REVOKED) &&
	    a->login) {
		if (login_renewed(a)) {
			log_info("the edge refused the login (%s); a new one is in the login file: "
			    "reconnecting with it", mux_code_name(code));
			session_schedule(a);
			return;
		}
		log_errorx("the edge refused the login: %s (%s): run zt login https://%s",
		    reason != NULL && *reason != '\0' ? reason : "no reason given",
		    mux_code_name(code), a->login_key);
		a->exit_status = 1;
		event_base_loopbreak(a->base);
		return;
	}
	if (code == MUX_AUTH_FAILED || code == MUX_AUTH_EXPIRED || code == MUX_AUTH_REVOKED) {
		log_errorx("the edge refused the service token: %s (%s)", reason != NULL &&
		    *reason != '\0' ? reason : "no reason given", mux_code_name(code));
		a->exit_status = 1;
		event_base_loopbreak(a->base);
		return;
	}
	if (code == MUX_IDLE && !a->stdio) {
		/* Nothing to carry: the next local connection brings the session back. */
		log_info("the edge closed the idle session; reconnecting for the next connection");
		return;
	}
	log_warnx("session to the edge %s:%u lost: %s%s%s; reconnecting", a->edge_host,
	    a->edge_port, mux_code_name(code), reason != NULL && *reason != '\0' ? ": " : "",
	    reason != NULL ? reason : "");
	session_schedule(a);
}

static const struct mux_session_cbs session_cbs = {
	.welcome = session_welcome,
	.open = session_open,
	.check_reply = session_check_reply,
	.closed = session_closed,
};

static void
session_tcp_ready(evutil_socket_t fd, short what, void *arg)
{
	struct access *a = arg;
	struct bufferevent *bev;
	struct mux_limits lim;
	int err = 0;
	socklen_t len = sizeof(err);

	event_free(a->connect_ev);
	a->connect_ev = NULL;
	if (what & EV_TIMEOUT)
		err = ETIMEDOUT;
	else if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		log_warnx("cannot reach the edge %s:%u: %s", a->edge_host, a->edge_port,
		    strerror(err));
		close(a->fd);
		a->fd = -1;
		session_schedule(a);
		return;
	}
	bev = tls_bufferevent_new(a->base, a->tls, a->fd, false, a->server_name);
	a->fd = -1;
	if (bev == NULL) {
		session_schedule(a);
		return;
	}
	memset(&lim, 0, sizeof(lim));
	if ((a->s = mux_session_new(a->base, bev, false, &lim, &session_cbs, a)) != NULL)
		mux_session_set_counters(a->s, &a->bytes);
	if (a->s == NULL || mux_send_hello(a->s, &a->hello) == -1) {
		mux_session_free(a->s);
		a->s = NULL;
		session_schedule(a);
	}
}

static void
session_connect(struct access *a)
{
	struct addrinfo hints, *res = NULL;
	struct timeval tv = { 15, 0 };
	char port[8];
	int gai, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%u", a->edge_port);
	if ((gai = getaddrinfo(a->edge_host, port, &hints, &res)) != 0) {
		log_warnx("cannot resolve the edge %s: %s", a->edge_host, gai_strerror(gai));
		session_schedule(a);
		return;
	}
	a->fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->fd == -1 || (connect(a->fd, res->ai_addr, res->ai_addrlen) == -1 &&
	    errno != EINPROGRESS)) {
		log_warn("cannot connect to the edge %s:%u", a->edge_host, a->edge_port);
		if (a->fd != -1)
			close(a->fd);
		a->fd = -1;
		freeaddrinfo(res);
		session_schedule(a);
		return;
	}
	freeaddrinfo(res);
	setsockopt(a->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	a->connect_ev = event_new(a->base, a->fd, EV_WRITE, session_tcp_ready, a);
	event_add(a->connect_ev, &tv);
}

static void
on_stop(int signo, int count, void *arg)
{
	struct access *a = arg;

	health_stopping(a->health);
	event_base_loopbreak(a->base);
}

static bool set_secret(struct access *a, const char *text);

/* SIGHUP: --secret-file again (a rotated secret); the session in progress keeps the one it
 * authenticated with, the next session uses the new one. A file that cannot be used is
 * refused and the secret in force stays. */
static void
on_reload(void *arg)
{
	struct access *a = arg;
	uint8_t old[sizeof(a->hello.token_secret)];
	char *data;
	size_t len;
	bool ok;

	health_reloading(a->health);
	if (a->login) {
		struct loginfile_rec rec;
		char token[sizeof(a->hello.user_token)];

		memcpy(token, a->hello.user_token, sizeof(token));
		ok = login_read(a, &rec) == 0;
		if (!ok) {
			memcpy(a->hello.user_token, token, sizeof(token));
			log_errorx("SIGHUP: keeping the login in force");
		} else
			log_info("SIGHUP: read the login again: the next session to the edge uses it");
		util_cleanse(&rec, sizeof(rec));
		util_cleanse(token, sizeof(token));
		health_reloaded(a->health, ok);
		return;
	}
	if (a->secret_file == NULL) {
		log_info("SIGHUP: no --secret-file to read again: nothing changes");
		health_reloaded(a->health, true);
		return;
	}
	if (util_read_secret_file(a->secret_file, 1024, &data, &len) == -1) {
		if (errno == EPERM)
			log_errorx("SIGHUP: secret file \"%s\" is readable by group or others "
			    "(chmod 600 %s): keeping the secret in force", a->secret_file,
			    a->secret_file);
		else
			log_error("SIGHUP: cannot read the secret file \"%s\": keeping the secret "
			    "in force", a->secret_file);
		health_reloaded(a->health, false);
		return;
	}
	log_redact_add(data);
	memcpy(old, a->hello.token_secret, sizeof(old));
	if (!(ok = set_secret(a, data))) {
		memcpy(a->hello.token_secret, old, sizeof(old));
		log_errorx("SIGHUP: %s: keeping the secret in force", a->secret_file);
	} else
		log_info("SIGHUP: read %s again: the next session to the edge uses it",
		    a->secret_file);
	util_cleanse(old, sizeof(old));
	util_cleanse(data, len);
	free(data);
	health_reloaded(a->health, ok);
}

/* --- operations: /ready, /metrics, systemd ----------------------------------------------- */

static bool
access_ready(void *arg, char *why, size_t len)
{
	struct access *a = arg;

	if (!a->up && !(a->authorised && a->idle_closed))
		util_strlcpy(why, "no session to the edge", len);
	else if (!a->authorised)
		snprintf(why, len, "the edge has not authorised this token for %s yet",
		    a->hostname);
	else
		return true;
	return false;
}

static void
access_status(void *arg, char *buf, size_t len)
{
	struct access *a = arg;

	snprintf(buf, len, "%s to %s, %zu streams", a->up ? "session up" : a->idle_closed ?
	    "idle (reconnects on demand)" : "no session", a->hostname, a->streams);
}

static void
access_collect(void *arg)
{
	struct access *a = arg;

	metrics_set(a->m_up, a->up ? 1 : 0);
	metrics_set(a->m_conns, (double)(a->nlocals + a->streams));
	metrics_set(a->m_open, (double)a->streams);
	metrics_set(a->m_rx, (double)a->bytes.bytes_in);
	metrics_set(a->m_tx, (double)a->bytes.bytes_out);
}

static const struct health_ops access_health = {
	.applet = "access",
	.ready = access_ready,
	.status = access_status,
	.collect = access_collect,
};

/* The families of doc/metrics.md for the sidecar. */
static void
access_metrics(struct access *a)
{
	struct metrics *m = health_metrics(a->health);

	a->m_up = metrics_family(m, "zt_access_session_up", METRICS_GAUGE,
	    "1 while the session to the edge is established.", NULL);
	a->m_sessions = metrics_family(m, "zt_access_sessions_total", METRICS_COUNTER,
	    "Sessions established with the edge (WELCOMEs received).", NULL);
	a->m_reconnects = metrics_family(m, "zt_access_reconnects_total", METRICS_COUNTER,
	    "Sessions to the edge lost or failed, each followed by a new attempt.", NULL);
	a->m_conns = metrics_family(m, "zt_access_connections", METRICS_GAUGE,
	    "Local connections open now (waiting for a stream or carried).", NULL);
	a->m_conns_total = metrics_family(m, "zt_access_connections_total", METRICS_COUNTER,
	    "Local connections accepted.", NULL);
	a->m_open = metrics_family(m, "zt_access_streams_open", METRICS_GAUGE,
	    "Streams carried now.", NULL);
	a->m_streams = metrics_family(m, "zt_access_streams_total", METRICS_COUNTER,
	    "Streams that ended, or local connections refused or given up, by result.",
	    "result");
	metrics_add(a->m_streams, 0, "ok");
	a->m_rx = metrics_family(m, "zt_access_stream_bytes_received_total", METRICS_COUNTER,
	    "Stream payload bytes received from the edge.", NULL);
	a->m_tx = metrics_family(m, "zt_access_stream_bytes_sent_total", METRICS_COUNTER,
	    "Stream payload bytes sent to the edge.", NULL);
}

/* --- options ------------------------------------------------------------------------------- */

/* The first of the environment variables that is set, or NULL. */
static const char *
getenv2(const char *a, const char *b)
{
	const char *v;

	if ((v = getenv(a)) != NULL && *v != '\0')
		return v;
	if (b != NULL && (v = getenv(b)) != NULL && *v != '\0')
		return v;
	return NULL;
}

/* Reads the 64-hex secret into the HELLO; false after a message. */
static bool
set_secret(struct access *a, const char *text)
{
	size_t len = strlen(text);

	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
		len--;
	if (len != 64 || util_hex_decode(text, len, a->hello.token_secret,
	    sizeof(a->hello.token_secret)) != 32) {
		log_errorx("the Client Secret must be 64 hexadecimal characters");
		return false;
	}
	a->hello.has_token_secret = true;
	return true;
}

/* The login of zt login for the edge into the HELLO (rec gets the whole record); -1 after
 * saying why (missing, expired, or a file that cannot be read). */
static int
login_read(struct access *a, struct loginfile_rec *rec)
{
	char err[LOGINFILE_ERR_MAX];
	int r;

	if ((r = loginfile_get(a->login_key, rec, err, sizeof(err))) == -1) {
		log_errorx("%s", err);
		return -1;
	}
	if (r == 0 || rec->expires <= (int64_t)time(NULL)) {
		log_errorx("%s to %s: run zt login https://%s", r == 0 ? "not logged in" :
		    "the login has expired: not logged in", a->login_key, a->login_key);
		return -1;
	}
	log_redact_add(rec->token);
	if (!util_strlcpy(a->hello.user_token, rec->token, sizeof(a->hello.user_token))) {
		log_errorx("the login token for %s is too long: run zt login https://%s again",
		    a->login_key, a->login_key);
		return -1;
	}
	return 0;
}

/* A login token in force again after the edge refused one (zt login run meanwhile)? */
static bool
login_renewed(struct access *a)
{
	struct loginfile_rec rec;
	char old[sizeof(a->hello.user_token)];
	bool renewed;

	memcpy(old, a->hello.user_token, sizeof(old));
	renewed = login_read(a, &rec) == 0 && strcmp(old, a->hello.user_token) != 0;
	util_cleanse(&rec, sizeof(rec));
	util_cleanse(old, sizeof(old));
	return renewed;
}

static int
tcp_cmd(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "hostname", required_argument, NULL, 'T' },
		{ "tunnel-host", required_argument, NULL, 'T' },
		{ "url", required_argument, NULL, 'L' },
		{ "listener", required_argument, NULL, 'L' },
		{ "id", required_argument, NULL, 'i' },
		{ "service-token-id", required_argument, NULL, 'i' },
		{ "secret", required_argument, NULL, 's' },
		{ "service-token-secret", required_argument, NULL, 's' },
		{ "secret-file", required_argument, NULL, 'S' },
		{ "edge", required_argument, NULL, 'e' },
		{ "edge-pin", required_argument, NULL, 'p' },
		{ "edge-ca", required_argument, NULL, 'C' },
		{ "edge-name", required_argument, NULL, 'N' },
		{ "listen-early", no_argument, NULL, 'E' },
		{ "metrics", required_argument, NULL, 'M' },
		{ "log-format", required_argument, NULL, 'F' },
		{ "log-level", required_argument, NULL, 'G' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const alpn[] = { "zt/1", NULL };
	struct access *a = xcalloc(1, sizeof(*a));
	const char *url = NULL, *id = NULL, *secret = NULL, *secret_file = NULL, *edge = NULL;
	const char *pin = NULL, *ca = NULL, *hostname = NULL, *edge_name = NULL;
	const char *metrics_addr = NULL;
	struct loginfile_rec login;
	struct tls_client_opts topts;
	bool config_error;
	int ch, ret = 2;

	a->fd = -1;
	memset(&login, 0, sizeof(login));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "T:L:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'T': hostname = optarg; break;
		case 'L': url = optarg; break;
		case 'i': id = optarg; break;
		case 's':
			secret = optarg;
			log_redact_add(optarg);
			log_warnx("the secret given on the command line is visible to every user of "
			    "this machine (ps, /proc): prefer --secret-file or "
			    "$ZT_ACCESS_CLIENT_SECRET");
			break;
		case 'S': secret_file = optarg; break;
		case 'e': edge = optarg; break;
		case 'p': pin = optarg; break;
		case 'C': ca = optarg; break;
		case 'N': edge_name = optarg; break;
		case 'E': a->listen_early = true; break;
		case 'M': metrics_addr = optarg; break;
		case 'F':
		case 'G':
			if (log_apply_flag("zt access", ch == 'F', optarg) == -1)
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
	if (optind != argc || hostname == NULL) {
		fputs("zt access tcp: --hostname is required\n", stderr);
		fputs(usage, stderr);
		goto out;
	}
	/* From here on, what is wrong is the configuration (EX_CONFIG). */
	ret = EX_CONFIG;
	if (!mux_hostname_valid(hostname, false)) {
		log_errorx("--hostname \"%s\" is not a host name", hostname);
		goto out;
	}
	util_strlcpy(a->hostname, hostname, sizeof(a->hostname));

	/* Credentials: flags, then zt's variables, then cloudflared's, then systemd's; none of
	 * them: the login of zt login (read once the edge is known). */
	if (id == NULL)
		id = getenv2("ZT_ACCESS_CLIENT_ID", "TUNNEL_SERVICE_TOKEN_ID");
	if (secret_file == NULL && secret == NULL &&
	    getenv2("ZT_ACCESS_CLIENT_SECRET", "TUNNEL_SERVICE_TOKEN_SECRET") == NULL) {
		static char cred[PATH_MAX];
		const char *dir = getenv("CREDENTIALS_DIRECTORY");

		if (dir != NULL && *dir != '\0' &&
		    util_snprintf(cred, sizeof(cred), "%s/access-secret", dir) &&
		    access(cred, F_OK) == 0)
			secret_file = cred;
		else if (id == NULL)
			a->login = true;
	}
	if (a->login)
		;
	else if (id == NULL) {
		log_errorx("no service token: give --id ID --secret-file FILE (or set "
		    "ZT_ACCESS_CLIENT_ID and ZT_ACCESS_CLIENT_SECRET)");
		goto out;
	}
	else if (!token_id_ok(id) ||
	    !util_strlcpy(a->hello.token_id, id, sizeof(a->hello.token_id))) {
		log_errorx("the Client ID \"%.64s\" is not one: it looks like <32 hex>.access, as "
		    "zt token create prints it", id);
		goto out;
	}
	if (a->login)
		;
	else if (secret_file != NULL) {
		char *data;
		size_t len;

		a->secret_file = secret_file;
		if (util_read_secret_file(secret_file, 1024, &data, &len) == -1) {
			if (errno == EPERM)
				log_errorx("secret file \"%s\" is readable by group or others: chmod "
				    "600 %s", secret_file, secret_file);
			else
				log_error("cannot read the secret file \"%s\"", secret_file);
			goto out;
		}
		log_redact_add(data);
		if (!set_secret(a, data)) {
			util_cleanse(data, len);
			free(data);
			goto out;
		}
		util_cleanse(data, len);
		free(data);
	} else {
		if (secret == NULL)
			secret = getenv2("ZT_ACCESS_CLIENT_SECRET", "TUNNEL_SERVICE_TOKEN_SECRET");
		if (secret == NULL) {
			log_errorx("no Client Secret: give --secret-file FILE, set "
			    "ZT_ACCESS_CLIENT_SECRET, or pass a systemd credential named "
			    "access-secret");
			goto out;
		}
		log_redact_add(secret);
		if (!set_secret(a, secret))
			goto out;
	}
	a->hello.role = MUX_ROLE_CLIENT;
	util_strlcpy(a->hello.version, "zt/" PACKAGE_VERSION, sizeof(a->hello.version));

	/* The edge: --edge, $ZT_EDGE, else the app's name on the edge's port. */
	{
		struct util_hostport hp;
		char err[256];

		if (edge == NULL)
			edge = getenv2("ZT_EDGE", NULL);
		if (edge == NULL)
			edge = hostname;
		if (util_parse_hostport(edge, 7844, &hp, err, sizeof(err)) == -1) {
			log_errorx("--edge: %s", err);
			goto out;
		}
		util_strlcpy(a->edge_host, hp.host, sizeof(a->edge_host));
		a->edge_port = hp.port;
		util_strlcpy(a->server_name, hp.host, sizeof(a->server_name));
		if (a->login) {
			for (char *q = hp.host; *q != '\0'; q++)
				*q = (char)tolower((unsigned char)*q);
			httpc_hostport_key(hp.host, hp.port, a->login_key, sizeof(a->login_key));
			/* Not logged in is no configuration error: exit 1, as the contract says. */
			if (login_read(a, &login) == -1) {
				ret = 1;
				goto out;
			}
			/* The login's trust options, unless the command line gives its own. */
			if (pin == NULL && ca == NULL && getenv2("ZT_EDGE_PIN", NULL) == NULL) {
				pin = login.pin[0] != '\0' ? login.pin : NULL;
				ca = login.ca_file[0] != '\0' ? login.ca_file : NULL;
			}
			if (edge_name == NULL && login.edge_name[0] != '\0')
				edge_name = login.edge_name;
		}
		if (edge_name != NULL) {
			if (!mux_hostname_valid(edge_name, false) ||
			    !util_strlcpy(a->server_name, edge_name, sizeof(a->server_name))) {
				log_errorx("--edge-name \"%s\" is not a host name", edge_name);
				goto out;
			}
		}
	}
	if (pin == NULL)
		pin = getenv2("ZT_EDGE_PIN", NULL);
	memset(&topts, 0, sizeof(topts));
	topts.pin = pin;
	topts.ca_file = ca;
	topts.alpn = alpn;
	if ((a->tls = tls_client_new(&topts)) == NULL)
		goto out;

	if (url != NULL) {
		struct util_hostport hp;
		char err[256];

		if (util_parse_hostport(url, 0, &hp, err, sizeof(err)) == -1 ||
		    util_sockaddr_from(strcmp(hp.host, "localhost") == 0 ? "127.0.0.1" : hp.host,
		    hp.port, &a->listen_ss, &a->listen_len) == -1) {
			log_errorx("--url \"%s\": give an address and port to listen on, e.g. "
			    "127.0.0.1:5432", url);
			goto out;
		}
	} else
		a->stdio = true;

	ret = 1;
	ev_heap_for_streams();
	if ((a->base = ev_base_new()) == NULL)
		goto out;
	a->health = health_new(a->base, &access_health, a);
	access_metrics(a);
	if (metrics_addr != NULL && health_listen(a->health, metrics_addr, &config_error) == -1) {
		ret = config_error ? EX_CONFIG : 1;
		goto out;
	}
	a->sig = ev_signals_new(a->base, on_stop, on_reload, NULL, a);
	a->retry = ev_timer_new(a->base, session_retry, a);
	if (a->listen_early && !a->stdio && open_listener(a) == -1)
		goto out;
	if (a->listen_early && a->stdio) {
		a->authorised = true;
		stdio_start(a);
	}
	session_connect(a);
	event_base_dispatch(a->base);
	ret = a->exit_status;
out:
	while (a->waiting != NULL)
		local_free(a->waiting);
	if (a->connect_ev != NULL)
		event_free(a->connect_ev);
	if (a->fd != -1)
		close(a->fd);
	mux_session_free(a->s);
	ev_listener_free(a->listener);
	ev_timer_free(a->retry);
	ev_signals_free(a->sig);
	health_free(a->health);
	tls_ctx_free(a->tls);
	stdio_free();
	util_cleanse(&a->hello, sizeof(a->hello));
	util_cleanse(&login, sizeof(login));
	if (a->base != NULL)
		ev_base_free(a->base);
	free(a);
	return ret;
}

/* `zt access token --app HOST`: an app token from the edge for the login (POST /token/app),
 * on stdout alone. */
static int
token_cmd(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "app", required_argument, NULL, 'a' },
		{ "edge", required_argument, NULL, 'e' },
		{ "log-format", required_argument, NULL, 'F' },
		{ "log-level", required_argument, NULL, 'G' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *app = NULL, *edge = NULL;
	struct loginfile_rec rec;
	struct util_hostport hp;
	struct httpc_request req;
	struct httpc_response resp;
	char key[300], err[LOGINFILE_ERR_MAX], form[600] = "", code[64], desc[256];
	json_t *root = NULL, *v;
	int ch, r, ret = 2;

	memset(&rec, 0, sizeof(rec));
	memset(&resp, 0, sizeof(resp));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'a': app = optarg; break;
		case 'e': edge = optarg; break;
		case 'F':
		case 'G':
			if (log_apply_flag("zt access token", ch == 'F', optarg) == -1)
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
	if (optind != argc || app == NULL) {
		fputs("zt access token: --app HOST is required\n", stderr);
		fputs(usage, stderr);
		goto out;
	}
	ret = EX_CONFIG;
	if (!mux_hostname_valid(app, false)) {
		log_errorx("--app \"%s\" is not a host name", app);
		goto out;
	}
	if (edge != NULL && httpc_edge_key(edge, 7844, key, sizeof(key), err, sizeof(err)) == -1) {
		log_errorx("--edge \"%s\": %s", edge, err);
		goto out;
	}
	ret = 1;
	if ((r = loginfile_find(edge != NULL ? key : NULL, &rec, err, sizeof(err))) == -1) {
		log_errorx("%s", err);
		goto out;
	}
	if (r == 0 || rec.expires <= (int64_t)time(NULL)) {
		if (edge != NULL)
			log_errorx("%s to %s: run zt login https://%s", r == 0 ? "not logged in" :
			    "the login has expired: not logged in", key, key);
		else if (r == 0)
			log_errorx("not logged in: run zt login https://EDGE first");
		else
			log_errorx("the login has expired: not logged in to %s: run zt login %s",
			    rec.edge, rec.edge);
		goto out;
	}
	log_redact_add(rec.token);
	if (util_parse_hostport(rec.key, 443, &hp, err, sizeof(err)) == -1) {
		log_errorx("the login's edge \"%s\": %s", rec.key, err);
		goto out;
	}
	httpc_form_add(form, sizeof(form), "app", app);
	memset(&req, 0, sizeof(req));
	req.host = hp.host;
	req.port = hp.port;
	req.server_name = rec.edge_name[0] != '\0' ? rec.edge_name : NULL;
	req.ca_file = rec.ca_file[0] != '\0' ? rec.ca_file : NULL;
	req.pin = rec.pin[0] != '\0' ? rec.pin : NULL;
	req.method = "POST";
	req.path = "/token/app";
	req.form = form;
	req.bearer = rec.token;
	req.timeout_ms = 15000;
	if (httpc_do(NULL, &req, &resp, err, sizeof(err)) == -1) {
		log_errorx("%s/token/app: %s", rec.edge, err);
		goto out;
	}
	if (resp.status == 200) {
		const char *t = NULL;

		if ((root = json_loadb(resp.body, resp.body_len, JSON_REJECT_DUPLICATES, NULL)) !=
		    NULL && json_is_object(root) && json_is_string(v = json_object_get(root,
		    "token")))
			t = json_string_value(v);
		if (t == NULL || *t == '\0' || strlen(t) != json_string_length(v) ||
		    strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") !=
		    strlen(t)) {
			log_errorx("%s/token/app: the answer holds no token", rec.edge);
			goto out;
		}
		printf("%s\n", t);
		if (fflush(stdout) != 0 || ferror(stdout)) {
			log_error("cannot write the token to standard output");
			goto out;
		}
		ret = 0;
		goto out;
	}
	httpc_oauth_error(&resp, code, sizeof(code), desc, sizeof(desc));
	if (resp.status == 401)
		log_errorx("the edge no longer accepts the login to %s (%s%s%s): run zt login %s "
		    "again", rec.edge, code[0] != '\0' ? code : "401", desc[0] != '\0' ? ": " : "",
		    desc, rec.edge);
	else if (resp.status == 403)
		log_errorx("the edge does not let %s reach %s: %s", rec.email[0] != '\0' ?
		    rec.email : "this login", app, desc[0] != '\0' ? desc : code[0] != '\0' ?
		    code : "403 Forbidden");
	else if (resp.status == 404)
		log_errorx("the edge %s has no app %s%s%s", rec.edge, app,
		    desc[0] != '\0' ? ": " : "", desc);
	else
		log_errorx("%s/token/app answered %d%s%s%s%s", rec.edge, resp.status,
		    code[0] != '\0' ? ": " : "", code, desc[0] != '\0' ? ": " : "", desc);
out:
	json_decref(root);
	httpc_response_free(&resp);
	util_cleanse(&rec, sizeof(rec));
	return ret;
}

int
access_main(int argc, char **argv)
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
	if (strcmp(argv[1], "token") == 0)
		return token_cmd(argc - 1, argv + 1);
	if (strcmp(argv[1], "ready") == 0) {
		if (argc == 4 && strcmp(argv[2], "--metrics") == 0)
			return health_probe("zt access ready", argv[3]);
		if (argc == 3 && strncmp(argv[2], "--metrics=", 10) == 0)
			return health_probe("zt access ready", argv[2] + 10);
		fputs("zt access ready: give --metrics ADDR, the address the sidecar serves\n",
		    stderr);
		return 2;
	}
	/* ssh, rdp and smb are cloudflared's aliases of tcp. */
	if (strcmp(argv[1], "tcp") == 0 || strcmp(argv[1], "ssh") == 0 ||
	    strcmp(argv[1], "rdp") == 0 || strcmp(argv[1], "smb") == 0)
		return tcp_cmd(argc - 1, argv + 1);
	fprintf(stderr, "zt access: unknown command \"%s\"\n", argv[1]);
	fputs(usage, stderr);
	return 2;
}
