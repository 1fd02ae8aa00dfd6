/* ztmuxc: a tests-only mux client that signs in to an edge with a login token (HELLO
 * USER_TOKEN) and opens streams to an app served by the ztio origin (tests/net/ztio.c), so that
 * the identity tests (tests/integration/path-identity.sh) drive the edge's person path without
 * the login client. Built by `make check` (or `make tests/net/ztmuxc`); not installed. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/log.h"
#include "common/mux.h"
#include "common/tls.h"
#include "common/util.h"

static const char usage[] =
"usage: ztmuxc EDGE_ADDR:PORT PIN SERVER_NAME HOSTNAME [COUNT [INTERVAL_MS [HOLD_MS]]]\n"
"\n"
"Reads a login token on standard input, sends it in HELLO and opens COUNT (1) streams to\n"
"HOSTNAME, one every INTERVAL_MS (500), each an echo through the ztio origin. Prints one\n"
"line per stream, \"stream N ok\" or \"stream N refused CODE: REASON\", then keeps the\n"
"session HOLD_MS (0) more. When the session ends it prints \"session closed CODE: REASON\"\n"
"and exits 4; a refusal of the last stream exits 3; else 0.\n";

#define ECHO_TEXT	"hello through the edge\n"

struct client {
	struct event_base *base;
	struct mux_session *s;
	struct event	*tick;
	const char	*hostname;
	long		 count, interval_ms, hold_ms;
	long		 n;		/* streams opened */
	int		 last;		/* 0 ok, 3 refused */
	int		 status;
	bool		 welcomed, holding;
};

struct echo {
	struct client	*c;
	long		 n;
	struct evbuffer	*got;
	bool		 done;
};

static void	next_stream(struct client *c);

static void
schedule(struct client *c, long ms)
{
	struct timeval tv = { ms / 1000, ms % 1000 * 1000 };

	evtimer_add(c->tick, &tv);
}

static void
echo_data(struct mux_stream *st, void *arg)
{
	struct echo *e = arg;
	struct evbuffer *in = mux_stream_input(st);
	size_t n = evbuffer_get_length(in);

	evbuffer_remove_buffer(in, e->got, n);
	mux_stream_consumed(st, n);
	if (!e->done && evbuffer_get_length(e->got) >= strlen(ECHO_TEXT)) {
		const char *p = (const char *)evbuffer_pullup(e->got, -1);

		e->done = true;
		if (memcmp(p, ECHO_TEXT, strlen(ECHO_TEXT)) == 0) {
			printf("stream %ld ok\n", e->n);
			e->c->last = 0;
		} else {
			printf("stream %ld wrong echo\n", e->n);
			e->c->last = 3;
		}
		fflush(stdout);
		mux_stream_shutdown(st);
	}
}

static void
echo_closed(struct mux_stream *st, uint16_t code, const char *reason, void *arg)
{
	struct echo *e = arg;
	struct client *c = e->c;

	if (!e->done) {
		printf("stream %ld refused %s: %s\n", e->n, mux_code_name(code), reason);
		fflush(stdout);
		c->last = 3;
	}
	evbuffer_free(e->got);
	free(e);
	if (c->n < c->count)
		schedule(c, c->interval_ms);
	else {
		c->holding = true;
		schedule(c, c->hold_ms);
	}
}

static const struct mux_stream_cbs echo_cbs = {
	.data = echo_data,
	.closed = echo_closed,
};

static void
next_stream(struct client *c)
{
	struct mux_stream *st;
	struct echo *e;

	if (c->holding) {
		c->status = c->last;
		event_base_loopbreak(c->base);
		return;
	}
	e = xcalloc(1, sizeof(*e));
	e->c = c;
	e->n = ++c->n;
	e->got = evbuffer_new();
	if ((st = mux_stream_open(c->s, c->hostname, NULL, &echo_cbs, e)) == NULL) {
		printf("stream %ld cannot be opened\n", e->n);
		evbuffer_free(e->got);
		free(e);
		c->status = 3;
		event_base_loopbreak(c->base);
		return;
	}
	/* The first line tells the ztio origin to echo; the data waits for OPEN_OK. */
	mux_stream_write(st, "echo\n" ECHO_TEXT, strlen("echo\n" ECHO_TEXT));
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	next_stream(arg);
}

static void
on_welcome(struct mux_session *s, const struct mux_welcome *w, void *arg)
{
	struct client *c = arg;

	c->welcomed = true;
	printf("welcome from %s\n", w->edge_name);
	fflush(stdout);
	schedule(c, 0);
}

static void
on_closed(struct mux_session *s, uint16_t code, const char *reason, void *arg)
{
	struct client *c = arg;

	printf("session closed %s: %s\n", mux_code_name(code), reason);
	fflush(stdout);
	c->status = 4;
	event_base_loopbreak(c->base);
}

static const struct mux_session_cbs session_cbs = {
	.welcome = on_welcome,
	.closed = on_closed,
};

int
main(int argc, char **argv)
{
	static const char *const alpn[] = { "zt/1", NULL };
	static struct mux_hello hello;
	struct client c = { 0 };
	struct tls_client_opts topts = { 0 };
	struct sockaddr_storage ss;
	struct util_hostport hp;
	struct bufferevent *bev;
	struct tls_ctx *tls;
	struct mux_limits lim = { 0 };
	char err[256];
	socklen_t sslen;
	size_t n;
	int fd;

	if (argc < 5 || argc > 8) {
		fputs(usage, stderr);
		return 2;
	}
	c.hostname = argv[4];
	c.count = argc > 5 ? strtol(argv[5], NULL, 10) : 1;
	c.interval_ms = argc > 6 ? strtol(argv[6], NULL, 10) : 500;
	c.hold_ms = argc > 7 ? strtol(argv[7], NULL, 10) : 0;
	if (c.count < 1 || c.interval_ms < 0 || c.hold_ms < 0) {
		fputs(usage, stderr);
		return 2;
	}
	hello.role = MUX_ROLE_CLIENT;
	util_strlcpy(hello.version, "ztmuxc", sizeof(hello.version));
	n = fread(hello.user_token, 1, sizeof(hello.user_token) - 1, stdin);
	while (n > 0 && (hello.user_token[n - 1] == '\n' || hello.user_token[n - 1] == '\r'))
		n--;
	hello.user_token[n] = '\0';
	if (util_parse_hostport(argv[1], 0, &hp, err, sizeof(err)) == -1 ||
	    util_sockaddr_from(hp.host, hp.port, &ss, &sslen) == -1) {
		fprintf(stderr, "ztmuxc: %s: give a numeric address and a port\n", argv[1]);
		return 2;
	}
	topts.pin = argv[2];
	topts.alpn = alpn;
	if ((tls = tls_client_new(&topts)) == NULL)
		return 1;
	c.base = event_base_new();
	c.tick = evtimer_new(c.base, tick_cb, &c);
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&ss, sslen) == -1) {
		fprintf(stderr, "ztmuxc: cannot connect to %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	evutil_make_socket_nonblocking(fd);
	if ((bev = tls_bufferevent_new(c.base, tls, fd, false, argv[3])) == NULL ||
	    (c.s = mux_session_new(c.base, bev, false, &lim, &session_cbs, &c)) == NULL ||
	    mux_send_hello(c.s, &hello) == -1)
		return 1;
	util_cleanse(&hello, sizeof(hello));
	event_base_dispatch(c.base);
	mux_session_free(c.s);
	event_free(c.tick);
	event_base_free(c.base);
	tls_ctx_free(tls);
	return c.status;
}
