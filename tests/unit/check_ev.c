/* check_ev: signals as events, timers, and listeners that back off when out of descriptors. */
#include "config.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>

#include "common/ev.h"
#include "common/log.h"
#include "common/util.h"
#include "suites.h"

static void
loopexit(void *arg)
{
	event_base_loopbreak(arg);
}

struct sigstate {
	struct event_base *base;
	int	 stops[4], nstops, reloads;
};

static void
on_stop(int signo, int count, void *arg)
{
	struct sigstate *st = arg;

	st->stops[st->nstops++] = count;
	if (count == 1)
		raise(SIGHUP);
	else
		event_base_loopbreak(st->base);
}

static void
on_reload(void *arg)
{
	struct sigstate *st = arg;

	st->reloads++;
	raise(SIGINT);
}

static void
kick(void *arg)
{
	(void)arg;
	raise(SIGTERM);
}

START_TEST(test_signals)
{
	struct sigstate st = { 0 };
	struct ev_signals *sig;
	struct ev_timer *t, *guard;

	st.base = ev_base_new();
	ck_assert_ptr_nonnull(st.base);
	sig = ev_signals_new(st.base, on_stop, on_reload, NULL, &st);
	ck_assert_ptr_nonnull(sig);
	t = ev_timer_new(st.base, kick, NULL);
	ev_timer_start(t, 10, false);
	/* A guard so a lost signal fails the test instead of hanging it. */
	guard = ev_timer_new(st.base, loopexit, st.base);
	ev_timer_start(guard, 5000, false);
	event_base_dispatch(st.base);
	/* SIGTERM (graceful, count 1) -> SIGHUP (reload) -> SIGINT (count 2: forced). */
	ck_assert_int_eq(st.nstops, 2);
	ck_assert_int_eq(st.stops[0], 1);
	ck_assert_int_eq(st.stops[1], 2);
	ck_assert_int_eq(st.reloads, 1);
	/* SIGPIPE is ignored, so writing to a closed socket is EPIPE, not death. */
	{
		int sv[2];
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		close(sv[1]);
		ck_assert_int_eq(write(sv[0], "x", 1), -1);
		ck_assert_int_eq(errno, EPIPE);
		close(sv[0]);
	}
	ev_timer_free(t);
	ev_timer_free(guard);
	ev_signals_free(sig);
	ev_signals_free(NULL);
	event_base_free(st.base);
}
END_TEST

struct tick {
	struct event_base *base;
	struct ev_timer	*t;
	int		 n;
};

static void
on_tick(void *arg)
{
	struct tick *tk = arg;

	if (++tk->n == 3) {
		ev_timer_stop(tk->t);
		event_base_loopbreak(tk->base);
	}
}

START_TEST(test_timers)
{
	struct tick tk = { 0 };

	tk.base = ev_base_new();
	tk.t = ev_timer_new(tk.base, on_tick, &tk);
	ev_timer_start(tk.t, 5, true);
	ck_assert(ev_timer_pending(tk.t));
	event_base_dispatch(tk.base);
	ck_assert_int_eq(tk.n, 3);
	ck_assert(!ev_timer_pending(tk.t));
	/* One-shot after repeating: fires exactly once more. */
	ev_timer_start(tk.t, 1, false);
	event_base_dispatch(tk.base);
	ck_assert_int_eq(tk.n, 4);
	ck_assert(!ev_timer_pending(tk.t));
	ev_timer_free(tk.t);
	ev_timer_free(NULL);
	event_base_free(tk.base);
}
END_TEST

struct acc {
	struct event_base *base;
	int	 accepted;
	int	 fd;
};

static void
on_accept(int fd, const struct sockaddr *peer, socklen_t len, void *arg)
{
	struct acc *a = arg;

	a->accepted++;
	ck_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ck_assert_int_eq(peer->sa_family, AF_INET);
	close(fd);
	event_base_loopbreak(a->base);
}

/* A listener on 127.0.0.1 with an ephemeral port; its address in *sin. */
static struct ev_listener *
listen_loopback(struct acc *a, struct sockaddr_in *sin)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct ev_listener *l;

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = ev_listener_new(a->base, (struct sockaddr *)sin, sizeof(*sin), 16, on_accept, a);
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(ev_listener_address(l, &ss, &len), 0);
	memcpy(sin, &ss, sizeof(*sin));
	ck_assert_uint_ne(ntohs(sin->sin_port), 0);
	return l;
}

static int
connect_to(const struct sockaddr_in *sin)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (const struct sockaddr *)sin, sizeof(*sin)), 0);
	return fd;
}

START_TEST(test_listener)
{
	struct acc a = { 0 };
	struct sockaddr_in sin;
	struct ev_listener *l;
	struct ev_timer *guard;
	int c;

	a.base = ev_base_new();
	l = listen_loopback(&a, &sin);
	guard = ev_timer_new(a.base, loopexit, a.base);
	ev_timer_start(guard, 5000, false);
	c = connect_to(&sin);
	event_base_dispatch(a.base);
	ck_assert_int_eq(a.accepted, 1);
	close(c);
	ev_listener_free(l);
	ev_listener_free(NULL);
	ev_timer_free(guard);
	event_base_free(a.base);
}
END_TEST

START_TEST(test_listener_backoff_on_emfile)
{
	struct acc a = { 0 };
	struct sockaddr_in sin;
	struct ev_listener *l;
	struct ev_timer *stop;
	struct rlimit rl;
	struct rusage r0, r1;
	int c, fill[64], nfill = 0;
	long cpu_ms;

	a.base = ev_base_new();
	l = listen_loopback(&a, &sin);
	c = connect_to(&sin);
	stop = ev_timer_new(a.base, loopexit, a.base);
	/* Use up every descriptor under a low limit. */
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = (rlim_t)c + 8;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	while (nfill < 64) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd == -1)
			break;
		fill[nfill++] = fd;
	}
	ck_assert_int_eq(errno, EMFILE);

	/* For half a second accepts fail: the listener must pause, not spin. */
	getrusage(RUSAGE_SELF, &r0);
	ev_timer_start(stop, 500, false);
	event_base_dispatch(a.base);
	getrusage(RUSAGE_SELF, &r1);
	ck_assert_int_eq(a.accepted, 0);
	cpu_ms = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec -
	    r0.ru_stime.tv_sec) * 1000 + (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec +
	    r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1000;
	ck_assert_msg(cpu_ms < 250, "listener spun: %ld ms of CPU in 500 ms", cpu_ms);

	/* Descriptors come back: the waiting connection is accepted after the back-off. */
	while (nfill > 0)
		close(fill[--nfill]);
	ev_timer_start(stop, 5000, false);
	event_base_dispatch(a.base);
	ck_assert_int_eq(a.accepted, 1);
	close(c);
	ev_timer_free(stop);
	ev_listener_free(l);
	event_base_free(a.base);
}
END_TEST

START_TEST(test_listener_in_use)
{
	struct acc a = { 0 };
	struct sockaddr_in sin;
	struct ev_listener *l, *l2;
	FILE *devnull = fopen("/dev/null", "w");

	a.base = ev_base_new();
	l = listen_loopback(&a, &sin);
	log_set_output(devnull);
	l2 = ev_listener_new(a.base, (struct sockaddr *)&sin, sizeof(sin), 16, on_accept, &a);
	log_set_output(NULL);
	fclose(devnull);
	ck_assert_ptr_null(l2);
	ev_listener_free(l);
	event_base_free(a.base);
}
END_TEST

Suite *
ev_suite(void)
{
	Suite *s = suite_create("ev");
	TCase *tc = tcase_create("loop");

	tcase_add_test(tc, test_signals);
	tcase_add_test(tc, test_timers);
	tcase_add_test(tc, test_listener);
	tcase_add_test(tc, test_listener_backoff_on_emfile);
	tcase_add_test(tc, test_listener_in_use);
	suite_add_tcase(s, tc);
	return s;
}
