/* ev: the event loop over libevent 2.1: base, signals as events, timers, listeners. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_struct.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "ev.h"
#include "log.h"
#include "util.h"

#define EV_ACCEPT_BACKOFF_MIN	50	/* ms */
#define EV_ACCEPT_BACKOFF_MAX	2000

struct ev_signals {
	struct event	*ev_int, *ev_term, *ev_hup, *ev_usr1;
	void		(*stop)(int, int, void *);
	void		(*reload)(void *);
	void		(*info)(void *);
	void		*arg;
	int		 count;
};

struct ev_timer {
	struct event	*ev;
	void		(*cb)(void *);
	void		*arg;
	uint64_t	 ms;
	bool		 repeat;
};

struct ev_listener {
	struct evconnlistener *lev;
	struct ev_timer	*resume;
	uint64_t	 backoff;
	void		(*accept_cb)(int, const struct sockaddr *, socklen_t, void *);
	void		*arg;
	bool		 enabled;
	char		 name[64];
};

void
ev_heap_for_streams(void)
{
#ifdef __GLIBC__
	/* The data path allocates and frees 16-64 KiB buffers all the time (TLS records, socket
	 * reads). With glibc's default trim threshold (128 KiB) the top of the heap went back to
	 * the kernel and came again every few records: a brk() and page faults on fresh zeroed
	 * pages per cycle (2.3 % of the path's CPU in page faults alone, doc/performance.md).
	 * The price: up to 4 MiB of freed memory stays resident after a burst (measured: the
	 * edge's RSS per idle stream 1.57 -> 1.66 KiB together with TLS read-ahead). */
	mallopt(M_TRIM_THRESHOLD, 4 * 1024 * 1024);
	mallopt(M_TOP_PAD, 512 * 1024);
#endif
}

struct event_base *
ev_base_new(void)
{
	struct event_base *base = NULL;
	struct event_config *cfg;

	/* With the changelist, libevent gives epoll the net change of a loop iteration: a
	 * bufferevent that enables writing, writes everything at once (ev_bufferevent_write_now)
	 * and disables writing again costs no epoll_ctl at all, instead of two per write. (Its
	 * documented caveat is descriptors cloned with dup(); no event of ours watches one.) */
	if ((cfg = event_config_new()) != NULL) {
		event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
		base = event_base_new_with_config(cfg);
		event_config_free(cfg);
	}
	if (base == NULL && (base = event_base_new()) == NULL)
		log_errorx("ev_base_new: libevent could not create an event base");
	return base;
}

void
ev_bufferevent_write_now(struct bufferevent *bev)
{
	if (bev != NULL && (bufferevent_get_enabled(bev) & EV_WRITE) != 0 &&
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		event_active(&bev->ev_write, EV_WRITE, 1);
}

void
ev_bufferevent_read_now(struct bufferevent *bev)
{
	if (bev != NULL && (bufferevent_get_enabled(bev) & EV_READ) != 0)
		event_active(&bev->ev_read, EV_READ, 1);
}

void
ev_base_free(struct event_base *base)
{
	if (base == NULL)
		return;
	/* Deferred callbacks can defer more: a few turns, never blocking. */
	for (int i = 0; i < 8; i++)
		if (event_base_loop(base, EVLOOP_NONBLOCK) != 0)
			break;
	event_base_free(base);
}

const char *
ev_version_string(void)
{
	return event_get_version();
}

static void
ev_signal_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ev_signals *sig = arg;
	int signo = (int)fd;

	if (signo == SIGHUP) {
		if (sig->reload != NULL)
			sig->reload(sig->arg);
		return;
	}
	if (signo == SIGUSR1) {
		if (sig->info != NULL)
			sig->info(sig->arg);
		return;
	}
	sig->count++;
	if (sig->stop != NULL)
		sig->stop(signo, sig->count, sig->arg);
}

/* Handles SIGINT/SIGTERM (graceful, then forced) and SIGHUP as events in the loop. */
struct ev_signals *
ev_signals_new(struct event_base *base, void (*stop)(int, int, void *), void (*reload)(void *),
    void (*info)(void *), void *arg)
{
	struct ev_signals *sig = xcalloc(1, sizeof(*sig));

	sig->stop = stop;
	sig->reload = reload;
	sig->info = info;
	sig->arg = arg;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	sig->ev_int = evsignal_new(base, SIGINT, ev_signal_cb, sig);
	sig->ev_term = evsignal_new(base, SIGTERM, ev_signal_cb, sig);
	sig->ev_hup = evsignal_new(base, SIGHUP, ev_signal_cb, sig);
	sig->ev_usr1 = evsignal_new(base, SIGUSR1, ev_signal_cb, sig);
	if (sig->ev_int == NULL || sig->ev_term == NULL || sig->ev_hup == NULL ||
	    sig->ev_usr1 == NULL || evsignal_add(sig->ev_int, NULL) == -1 ||
	    evsignal_add(sig->ev_term, NULL) == -1 || evsignal_add(sig->ev_hup, NULL) == -1 ||
	    evsignal_add(sig->ev_usr1, NULL) == -1) {
		log_errorx("ev_signals_new: cannot install signal events");
		ev_signals_free(sig);
		return NULL;
	}
	return sig;
}

void
ev_signals_free(struct ev_signals *sig)
{
	if (sig == NULL)
		return;
	if (sig->ev_int != NULL)
		event_free(sig->ev_int);
	if (sig->ev_term != NULL)
		event_free(sig->ev_term);
	if (sig->ev_hup != NULL)
		event_free(sig->ev_hup);
	if (sig->ev_usr1 != NULL)
		event_free(sig->ev_usr1);
	free(sig);
}

static void
ev_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ev_timer *t = arg;

	t->cb(t->arg);
}

struct ev_timer *
ev_timer_new(struct event_base *base, void (*cb)(void *), void *arg)
{
	struct ev_timer *t = xcalloc(1, sizeof(*t));

	t->cb = cb;
	t->arg = arg;
	if ((t->ev = event_new(base, -1, 0, ev_timer_cb, t)) == NULL)
		fatalx("ev_timer_new: event_new failed");
	return t;
}

void
ev_timer_start(struct ev_timer *t, uint64_t ms, bool repeat)
{
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000),
	    .tv_usec = (suseconds_t)(ms % 1000 * 1000) };

	event_del(t->ev);
	if (repeat != t->repeat) {
		/* EV_PERSIST is fixed at creation: re-create the event with the new kind. */
		struct event_base *base = event_get_base(t->ev);
		event_free(t->ev);
		if ((t->ev = event_new(base, -1, repeat ? EV_PERSIST : 0, ev_timer_cb, t)) == NULL)
			fatalx("ev_timer_start: event_new failed");
		t->repeat = repeat;
	}
	t->ms = ms;
	event_add(t->ev, &tv);
}

void
ev_timer_stop(struct ev_timer *t)
{
	if (t != NULL)
		event_del(t->ev);
}

bool
ev_timer_pending(const struct ev_timer *t)
{
	return event_pending(t->ev, EV_TIMEOUT, NULL) != 0;
}

void
ev_timer_free(struct ev_timer *t)
{
	if (t == NULL)
		return;
	event_free(t->ev);
	free(t);
}

static void
ev_listener_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct ev_listener *l = arg;

	l->backoff = 0;
	l->accept_cb(fd, sa, (socklen_t)salen, l->arg);
}

static void
ev_listener_resume(void *arg)
{
	struct ev_listener *l = arg;

	if (l->enabled)
		evconnlistener_enable(l->lev);
}

/* Out of descriptors (or memory): pause accepting and retry later instead of spinning. */
static void
ev_listener_error(struct evconnlistener *lev, void *arg)
{
	struct ev_listener *l = arg;
	int err = EVUTIL_SOCKET_ERROR();

	if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
		l->backoff = l->backoff == 0 ? EV_ACCEPT_BACKOFF_MIN : l->backoff * 2;
		if (l->backoff > EV_ACCEPT_BACKOFF_MAX)
			l->backoff = EV_ACCEPT_BACKOFF_MAX;
		/* Log once per burst, not once per failed accept. */
		if (l->backoff == EV_ACCEPT_BACKOFF_MIN)
			log_warnx("listener %s: cannot accept: %s; pausing new connections",
			    l->name, strerror(err));
		evconnlistener_disable(l->lev);
		ev_timer_start(l->resume, l->backoff, false);
		return;
	}
	if (err != EAGAIN && err != EINTR && err != ECONNABORTED)
		log_warnx("listener %s: accept: %s", l->name, strerror(err));
}

struct ev_listener *
ev_listener_new(struct event_base *base, const struct sockaddr *sa, socklen_t salen, int backlog,
    void (*accept_cb)(int, const struct sockaddr *, socklen_t, void *), void *arg)
{
	struct ev_listener *l = xcalloc(1, sizeof(*l));
	int fd, one = 1;

	util_sockaddr_str(sa, l->name, sizeof(l->name));
	l->accept_cb = accept_cb;
	l->arg = arg;
	l->enabled = true;
	l->resume = ev_timer_new(base, ev_listener_resume, l);
	/* The socket is made here so that an IPv6 one can be IPv6-only before bind: otherwise
	 * [::]:port collides with 0.0.0.0:port. */
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    (sa->sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == -1) ||
	    bind(fd, sa, salen) == -1 || listen(fd, backlog) == -1) {
		log_error("cannot listen on %s", l->name);
		if (fd != -1)
			close(fd);
		ev_listener_free(l);
		return NULL;
	}
	l->lev = evconnlistener_new(base, ev_listener_accept, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (l->lev == NULL) {
		log_errorx("cannot listen on %s: libevent refused the socket", l->name);
		close(fd);
		ev_listener_free(l);
		return NULL;
	}
	evconnlistener_set_error_cb(l->lev, ev_listener_error);
	return l;
}

int
ev_listener_address(const struct ev_listener *l, struct sockaddr_storage *ss, socklen_t *len)
{
	*len = sizeof(*ss);
	return getsockname(evconnlistener_get_fd(l->lev), (struct sockaddr *)ss, len);
}

void
ev_listener_enable(struct ev_listener *l, bool on)
{
	l->enabled = on;
	if (on)
		evconnlistener_enable(l->lev);
	else {
		evconnlistener_disable(l->lev);
		ev_timer_stop(l->resume);
	}
}

void
ev_listener_free(struct ev_listener *l)
{
	if (l == NULL)
		return;
	if (l->lev != NULL)
		evconnlistener_free(l->lev);
	ev_timer_free(l->resume);
	free(l);
}
