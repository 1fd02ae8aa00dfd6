/* check_mux: the multiplexed protocol: codecs, set-up, streams, flow control, limits, keepalive,
 * GOAWAY, CHECK and splicing, over socketpairs with real and hand-crafted hostile peers. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/log.h"
#include "common/mux.h"
#include "common/util.h"
#include "suites.h"

/* suites.h lists the suites of the runner; until mux joins it, declare ours here. */
Suite	*mux_suite(void);

#define GUARD_MS	10000	/* set-up and small exchanges */
#define BULK_MS		60000	/* transfers of megabytes (ASan, loaded CI machines) */
#define TOKEN_ID	"0123456789abcdef0123456789abcdef.access"
#define TOKEN_SECRET	"S3cr3t-S3cr3t-S3cr3t-S3cr3t-S3c"	/* 31 + NUL: 32 bytes */
#define MAX_TSTREAMS	2100

/* --- fixture: one event base, socketpairs, a guard timer ----------------------------------- */

struct fix;

enum ts_mode {
	TS_SINK,	/* read, check the pattern, give credit */
	TS_ECHO,	/* send back what arrives */
	TS_HOLD,	/* read nothing */
};

/* An application stream of a test peer. */
struct tstream {
	struct peer		*p;
	struct mux_stream	*st;
	enum ts_mode		 mode;
	uint64_t		 rx, sent, to_send;
	uint64_t		 rx_fnv;
	bool			 fin_after;	/* FIN once to_send bytes are sent */
	bool			 fin_reply;	/* FIN when the peer's FIN arrives */
	bool			 opened, fin, shut, closed;
	int			 bad;		/* bytes not matching the pattern */
	int			 nwritable;
	uint16_t		 code;
	char			 reason[MUX_MAX_REASON + 1];
	size_t			 reset_after;	/* reset once this much arrived (0: never) */
	uint16_t		 reset_code;
};

enum hello_mode {
	HELLO_WELCOME,
	HELLO_REFUSE,
	HELLO_DEFER,
};

enum open_mode {
	OPEN_ACCEPT,
	OPEN_REFUSE,
	OPEN_PENDING,
};

/* A mux session under test and what happened to it. */
struct peer {
	struct fix		*f;
	struct mux_session	*s;
	/* behaviour */
	enum hello_mode		 hello_mode;
	enum open_mode		 open_mode;
	enum ts_mode		 ts_mode;
	uint16_t		 refuse_code;
	const char		*refuse_reason;
	bool			 check_answer;
	uint16_t		 check_code;
	bool			 free_on_close, free_in_hello, free_on_data;
	uint64_t		 reply_bytes;	/* accepted streams send this much */
	size_t			 reset_after;	/* accepted streams reset after this much */
	uint16_t		 reset_code;
	const struct mux_limits	*hello_limits;	/* set in the hello callback */
	void			(*open_hook)(struct peer *, struct mux_stream *, const char *);
	/* results */
	int			 nhello, nwelcome, nopen, ngoaway, ncheck, ncheck_reply, nkeys;
	size_t			 keys_len;
	char			 keys_head[32];	/* the start of the last KEYS */
	bool			 keys_nul;	/* it was NUL-terminated at keys_len */
	int			 closed;
	uint16_t		 code;
	char			 reason[MUX_MAX_REASON + 1];
	bool			 secret_ok;
	enum mux_role		 role;
	struct mux_welcome	 welcome;
	char			 open_host[MUX_MAX_HOSTNAME + 1];
	struct mux_meta		 open_meta;
	uint16_t		 goaway_code;
	char			 goaway_reason[MUX_MAX_REASON + 1];
	uint32_t		 check_id;
	uint16_t		 check_code_got;
	char			 check_text[MUX_MAX_REASON + 1];
	struct tstream		*last;
	int			 streams_closed, streams_ok;
	int			 streams_closed_at_close;
};

/* A hand-crafted peer: writes raw frames, parses what it receives. */
struct raw {
	struct fix		*f;
	struct bufferevent	*bev;
	int			 counts[16];
	int			 bad;
	bool			 eof;
	uint32_t		 reset_stream;
	uint16_t		 reset_code;
	char			 reset_reason[MUX_MAX_REASON + 1];
	uint16_t		 reset0_code;
	uint16_t		 goaway_code;
	uint32_t		 goaway_last;
	uint32_t		 last_open;
	uint8_t			 ping_payload[8];
	int			 ping_acks;
	uint64_t		 data_bytes;
	uint64_t		 credit;
	uint32_t		 check_ok_id;
	uint16_t		 check_ok_code;
	uint32_t		 data_seq[64];	/* the streams of the first DATA frames */
	int			 ndata_seq;
};

struct fix {
	struct event_base	*base;
	struct event		*guard;
	bool			 timedout;
	struct peer		 srv, cli;	/* the main pair */
	struct peer		 srv2, cli2;	/* a second pair (relays) */
	struct raw		 raw;
	struct tstream		*ts[MAX_TSTREAMS];
	int			 nts;
};

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fix *f = arg;

	f->timedout = true;
	event_base_loopbreak(f->base);
}

static void
fix_arm(struct fix *f, int ms)
{
	struct timeval tv = { ms / 1000, ms % 1000 * 1000 };

	f->timedout = false;
	evtimer_add(f->guard, &tv);
}

/* Runs the loop until cond holds or ms pass (a guard: nothing hangs). */
#define RUN_UNTIL(f, cond, ms) do {					\
	fix_arm((f), (ms));						\
	while (!(cond) && !(f)->timedout)				\
		event_base_loop((f)->base, EVLOOP_ONCE);		\
	evtimer_del((f)->guard);					\
} while (0)

/* Runs the loop for ms. */
#define RUN_FOR(f, ms) RUN_UNTIL(f, false, ms)

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The test pattern: byte i of every stream. */
static uint8_t
pat(uint64_t i)
{
	uint64_t x = (i >> 3) * 0x9E3779B97F4A7C15ULL + 0x1234567ULL;

	return (uint8_t)(x >> (8 * (i & 7)));
}

static void
pat_fill(uint8_t *buf, uint64_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = pat(off + i);
}

static uint64_t
fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

#define FNV_INIT 0xcbf29ce484222325ULL

static struct bufferevent *
sock_bev(struct fix *f, int fd)
{
	struct bufferevent *bev;

	evutil_make_socket_nonblocking(fd);
	bev = bufferevent_socket_new(f->base, fd, BEV_OPT_CLOSE_ON_FREE);
	ck_assert_ptr_nonnull(bev);
	return bev;
}

static void
fix_init(struct fix *f)
{
	memset(f, 0, sizeof(*f));
	f->base = event_base_new();
	ck_assert_ptr_nonnull(f->base);
	f->guard = evtimer_new(f->base, guard_cb, f);
	f->srv.f = f->cli.f = f->srv2.f = f->cli2.f = f;
	f->raw.f = f;
}

/* Frees every session, the raw peer, the test streams and the base. */
static void
fix_free(struct fix *f)
{
	mux_session_free(f->srv.s);
	mux_session_free(f->cli.s);
	mux_session_free(f->srv2.s);
	mux_session_free(f->cli2.s);
	if (f->raw.bev != NULL)
		bufferevent_free(f->raw.bev);
	for (int i = 0; i < f->nts; i++)
		free(f->ts[i]);
	event_free(f->guard);
	event_base_free(f->base);
}

/* --- test streams -------------------------------------------------------------------------- */

static void ts_send_more(struct tstream *);

/* Data for a test stream: echoed, checked against the pattern, or left in the input. */
static void
ts_data(struct mux_stream *st, void *arg)
{
	struct tstream *ts = arg;
	struct evbuffer *in = mux_stream_input(st);
	uint8_t buf[65536];
	size_t n;

	if (ts->p->free_on_data) {
		mux_session_free(mux_stream_session(st));
		ts->p->s = NULL;
		return;
	}
	switch (ts->mode) {
	case TS_ECHO:
		n = mux_stream_write_buffer(st, in, evbuffer_get_length(in));
		mux_stream_consumed(st, n);
		ts->rx += n;
		if (ts->fin && evbuffer_get_length(in) == 0 && !ts->shut) {
			ts->shut = true;
			mux_stream_shutdown(st);
		}
		break;
	case TS_SINK:
		while ((n = evbuffer_get_length(in)) > 0) {
			if (n > sizeof(buf))
				n = sizeof(buf);
			evbuffer_remove(in, buf, n);
			for (size_t i = 0; i < n; i++)
				if (buf[i] != pat(ts->rx + i))
					ts->bad++;
			ts->rx_fnv = fnv(ts->rx_fnv, buf, n);
			ts->rx += n;
			mux_stream_consumed(st, n);
		}
		if (ts->reset_after > 0 && ts->rx >= ts->reset_after) {
			mux_stream_reset(st, ts->reset_code, "enough");
			return;
		}
		break;
	case TS_HOLD:
		break;
	}
}

/* The peer's FIN: echo streams finish echoing; others answer with their own FIN. */
static void
ts_fin(struct mux_stream *st, void *arg)
{
	struct tstream *ts = arg;

	ts->fin = true;
	if (ts->mode == TS_ECHO)
		ts_data(st, arg);
	else if (ts->fin_reply) {
		ts->fin_after = true;
		ts_send_more(ts);
	}
}

static void
ts_writable(struct mux_stream *st, void *arg)
{
	struct tstream *ts = arg;

	ts->nwritable++;
	if (ts->mode == TS_ECHO)
		ts_data(st, arg);
	ts_send_more(ts);
}

static void
ts_opened(struct mux_stream *st, void *arg)
{
	struct tstream *ts = arg;

	ts->opened = true;
}

/* Records how a test stream ended; it must end exactly once. */
static void
ts_closed(struct mux_stream *st, uint16_t code, const char *reason, void *arg)
{
	struct tstream *ts = arg;

	ck_assert(!ts->closed);	/* exactly once */
	ts->closed = true;
	ts->st = NULL;
	ts->code = code;
	util_strlcpy(ts->reason, reason, sizeof(ts->reason));
	ts->p->streams_closed++;
	if (code == MUX_OK)
		ts->p->streams_ok++;
}

static const struct mux_stream_cbs ts_cbs = {
	.opened = ts_opened,
	.data = ts_data,
	.fin = ts_fin,
	.closed = ts_closed,
	.writable = ts_writable,
};

/* Sends pattern bytes while the stream takes them, then FIN if asked. */
static void
ts_send_more(struct tstream *ts)
{
	uint8_t buf[65536];
	size_t space, n;

	while (ts->st != NULL && ts->sent < ts->to_send) {
		if ((space = mux_stream_write_space(ts->st)) == 0)
			break;
		n = ts->to_send - ts->sent;
		if (n > space)
			n = space;
		if (n > sizeof(buf))
			n = sizeof(buf);
		pat_fill(buf, ts->sent, n);
		ck_assert(mux_stream_write(ts->st, buf, n));
		ts->sent += n;
	}
	if (ts->st != NULL && ts->fin_after && ts->sent == ts->to_send && !ts->shut) {
		ts->shut = true;
		mux_stream_shutdown(ts->st);
	}
}

/* A test stream of peer p, freed with the fixture. */
static struct tstream *
ts_new(struct peer *p, enum ts_mode mode)
{
	struct fix *f = p->f;
	struct tstream *ts = xcalloc(1, sizeof(*ts));

	ck_assert_int_lt(f->nts, MAX_TSTREAMS);
	f->ts[f->nts++] = ts;
	ts->p = p;
	ts->mode = mode;
	ts->rx_fnv = FNV_INIT;
	return ts;
}

/* Opens a stream from peer p that sends n bytes (then FIN if fin). */
static struct tstream *
ts_open(struct peer *p, const char *host, enum ts_mode mode, uint64_t n, bool fin)
{
	struct tstream *ts = ts_new(p, mode);

	ts->st = mux_stream_open(p->s, host, NULL, &ts_cbs, ts);
	if (ts->st == NULL)
		return ts;
	ts->to_send = n;
	ts->fin_after = fin;
	ts_send_more(ts);
	return ts;
}

/* --- test peers ---------------------------------------------------------------------------- */

/* Server: checks the credentials seen, then welcomes, refuses or waits as configured. */
static void
p_hello(struct mux_session *s, const struct mux_hello *h, void *arg)
{
	struct peer *p = arg;
	struct mux_welcome w = { .edge_name = "edge.test" };

	p->nhello++;
	if (p->free_in_hello) {
		mux_session_free(s);
		p->s = NULL;
		return;
	}
	p->role = h->role;
	p->secret_ok = h->has_token_secret &&
	    memcmp(h->token_secret, TOKEN_SECRET, sizeof(h->token_secret)) == 0 &&
	    strcmp(h->token_id, TOKEN_ID) == 0;
	if (p->hello_limits != NULL)
		ck_assert_int_eq(mux_session_set_limits(s, p->hello_limits), 0);
	if (p->hello_mode == HELLO_WELCOME)
		ck_assert_int_eq(mux_welcome(s, &w), 0);
	else if (p->hello_mode == HELLO_REFUSE)
		mux_close(s, p->refuse_code, p->refuse_reason);
}

static void
p_welcome(struct mux_session *s, const struct mux_welcome *w, void *arg)
{
	struct peer *p = arg;

	p->nwelcome++;
	p->welcome = *w;
}

/* A stream opened by the other side: hooked, refused, accepted or left pending. */
static void
p_open(struct mux_session *s, struct mux_stream *st, const char *host, const struct mux_meta *m,
    void *arg)
{
	struct peer *p = arg;
	struct tstream *ts;

	p->nopen++;
	util_strlcpy(p->open_host, host, sizeof(p->open_host));
	p->open_meta = *m;
	if (p->open_hook != NULL) {
		p->open_hook(p, st, host);
		return;
	}
	if (p->open_mode == OPEN_REFUSE) {
		mux_stream_reset(st, p->refuse_code, p->refuse_reason);
		return;
	}
	ts = ts_new(p, p->ts_mode);
	ts->st = st;
	ts->fin_reply = true;
	ts->to_send = p->reply_bytes;
	ts->reset_after = p->reset_after;
	ts->reset_code = p->reset_code;
	p->last = ts;
	mux_stream_set_cbs(st, &ts_cbs, ts);
	if (p->open_mode == OPEN_ACCEPT) {
		ck_assert_int_eq(mux_stream_accept(st), 0);
		ts_send_more(ts);
	}
}

static void
p_check(struct mux_session *s, uint32_t id, const char *host, void *arg)
{
	struct peer *p = arg;

	p->ncheck++;
	p->check_id = id;
	util_strlcpy(p->open_host, host, sizeof(p->open_host));
	if (p->check_answer)
		ck_assert_int_eq(mux_check_reply(s, id, p->check_code, "policy says so"), 0);
}

static void
p_check_reply(struct mux_session *s, uint32_t id, uint16_t code, const char *reason, void *arg)
{
	struct peer *p = arg;

	p->ncheck_reply++;
	p->check_id = id;
	p->check_code_got = code;
	util_strlcpy(p->check_text, reason, sizeof(p->check_text));
}

static void
p_goaway(struct mux_session *s, uint16_t code, const char *reason, void *arg)
{
	struct peer *p = arg;

	p->ngoaway++;
	p->goaway_code = code;
	util_strlcpy(p->goaway_reason, reason, sizeof(p->goaway_reason));
}

/* Records how the session ended (once, after its streams); may free it from here. */
static void
p_closed(struct mux_session *s, uint16_t code, const char *reason, void *arg)
{
	struct peer *p = arg;

	ck_assert_int_eq(p->closed, 0);	/* exactly once */
	ck_assert_int_eq(mux_session_nstreams(s), 0);	/* streams were closed first */
	p->closed++;
	p->streams_closed_at_close = p->streams_closed;
	p->code = code;
	util_strlcpy(p->reason, reason, sizeof(p->reason));
	if (p->free_on_close) {
		mux_session_free(s);
		p->s = NULL;
	}
}

static void
p_keys(struct mux_session *s, const char *jwks, size_t len, void *arg)
{
	struct peer *p = arg;

	p->nkeys++;
	p->keys_len = len;
	p->keys_nul = jwks[len] == '\0';
	snprintf(p->keys_head, sizeof(p->keys_head), "%.*s", (int)(len < 31 ? len : 31), jwks);
}

static const struct mux_session_cbs p_cbs = {
	.hello = p_hello,
	.keys = p_keys,
	.welcome = p_welcome,
	.open = p_open,
	.check = p_check,
	.check_reply = p_check_reply,
	.goaway = p_goaway,
	.closed = p_closed,
};

static void
client_hello(struct mux_hello *h)
{
	memset(h, 0, sizeof(*h));
	h->role = MUX_ROLE_CLIENT;
	util_strlcpy(h->token_id, TOKEN_ID, sizeof(h->token_id));
	memcpy(h->token_secret, TOKEN_SECRET, sizeof(h->token_secret));
	h->has_token_secret = true;
	util_strlcpy(h->version, "zt-test 1", sizeof(h->version));
}

/* Starts peer p as a session on fd; a client sends HELLO at once when hello is set. */
static void
peer_start(struct peer *p, int fd, bool server, const struct mux_limits *lim, bool hello)
{
	struct mux_hello h;

	p->s = mux_session_new(p->f->base, sock_bev(p->f, fd), server, lim, &p_cbs, p);
	ck_assert_ptr_nonnull(p->s);
	if (!server && hello) {
		client_hello(&h);
		ck_assert_int_eq(mux_send_hello(p->s, &h), 0);
	}
}

static void
peer_server(struct fix *f, int fd, const struct mux_limits *lim)
{
	peer_start(&f->srv, fd, true, lim, false);
}

static void
peer_client(struct fix *f, int fd, const struct mux_limits *lim, bool hello)
{
	peer_start(&f->cli, fd, false, lim, hello);
}

/* Peers srv and cli on a socketpair, established. */
static void
pair_up(struct fix *f, struct peer *srv, struct peer *cli, const struct mux_limits *slim,
    const struct mux_limits *clim)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	peer_start(srv, sv[0], true, slim, false);
	peer_start(cli, sv[1], false, clim, true);
	RUN_UNTIL(f, cli->nwelcome == 1 || cli->closed, GUARD_MS);
	ck_assert_int_eq(cli->nwelcome, 1);
	ck_assert(mux_session_established(srv->s));
	ck_assert(mux_session_established(cli->s));
}

/* A server and a client session on a socketpair, established. */
static void
fix_pair(struct fix *f, const struct mux_limits *slim, const struct mux_limits *clim)
{
	pair_up(f, &f->srv, &f->cli, slim, clim);
}

/* --- the raw peer -------------------------------------------------------------------------- */

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Parses what the session under test sends and counts it by type. */
static void
raw_read_cb(struct bufferevent *bev, void *arg)
{
	struct raw *r = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct mux_frame fr;
	uint8_t *p;
	int ret;

	while (evbuffer_get_length(in) >= MUX_HEADER_LEN) {
		p = evbuffer_pullup(in, -1);
		ret = mux_frame_parse(p, evbuffer_get_length(in), &fr);
		if (ret == -1) {
			r->bad++;
			evbuffer_drain(in, evbuffer_get_length(in));
			return;
		}
		if (ret == 0)
			return;
		r->counts[fr.type]++;
		switch (fr.type) {
		case MUX_RESET:
			if (fr.stream == 0) {
				ck_assert_int_eq(mux_reason_parse(fr.payload, fr.length,
				    &r->reset0_code, r->reset_reason, sizeof(r->reset_reason)), 0);
			} else {
				r->reset_stream = fr.stream;
				ck_assert_int_eq(mux_reason_parse(fr.payload, fr.length,
				    &r->reset_code, r->reset_reason, sizeof(r->reset_reason)), 0);
			}
			break;
		case MUX_GOAWAY:
			r->goaway_last = get32(fr.payload);
			ck_assert_int_eq(mux_reason_parse(fr.payload + 4, fr.length - 4,
			    &r->goaway_code, r->reset_reason, sizeof(r->reset_reason)), 0);
			break;
		case MUX_PING:
			if (fr.flags & MUX_F_ACK)
				r->ping_acks++;
			memcpy(r->ping_payload, fr.payload, 8);
			break;
		case MUX_OPEN:
			r->last_open = fr.stream;
			break;
		case MUX_DATA:
			r->data_bytes += fr.length;
			if (r->ndata_seq < (int)(sizeof(r->data_seq) / sizeof(r->data_seq[0])))
				r->data_seq[r->ndata_seq++] = fr.stream;
			break;
		case MUX_WINDOW:
			r->credit += get32(fr.payload);
			break;
		case MUX_CHECK_OK:
			r->check_ok_id = get32(fr.payload);
			r->check_ok_code = (uint16_t)(fr.payload[4] << 8 | fr.payload[5]);
			break;
		}
		evbuffer_drain(in, MUX_HEADER_LEN + fr.length);
	}
}

static void
raw_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct raw *r = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		r->eof = true;
}

static void
raw_init(struct fix *f, int fd)
{
	f->raw.bev = sock_bev(f, fd);
	bufferevent_setcb(f->raw.bev, raw_read_cb, NULL, raw_event_cb, &f->raw);
	bufferevent_enable(f->raw.bev, EV_READ | EV_WRITE);
}

static void
raw_bytes(struct raw *r, const void *p, size_t n)
{
	ck_assert_int_eq(bufferevent_write(r->bev, p, n), 0);
}

static void
raw_frame(struct raw *r, uint8_t type, uint16_t flags, uint32_t stream, const void *p, size_t n)
{
	uint8_t h[MUX_HEADER_LEN] = { MUX_VERSION, type, (uint8_t)(flags >> 8), (uint8_t)flags,
	    (uint8_t)(stream >> 24), (uint8_t)(stream >> 16), (uint8_t)(stream >> 8),
	    (uint8_t)stream, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
	    (uint8_t)n };

	raw_bytes(r, h, sizeof(h));
	if (n > 0)
		raw_bytes(r, p, n);
}

static void
raw_hello(struct raw *r)
{
	uint8_t buf[MUX_MAX_HELLO];
	struct mux_hello h;
	int n;

	client_hello(&h);
	n = mux_hello_encode(&h, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	raw_frame(r, MUX_HELLO, 0, 0, buf, (size_t)n);
}

static void
raw_open(struct raw *r, uint32_t id, const char *host)
{
	uint8_t buf[600];
	int n = mux_open_encode(host, NULL, buf, sizeof(buf));

	ck_assert_int_gt(n, 0);
	raw_frame(r, MUX_OPEN, 0, id, buf, (size_t)n);
}

static void
raw_u32(struct raw *r, uint8_t type, uint32_t stream, uint32_t v)
{
	uint8_t p[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	raw_frame(r, type, 0, stream, p, 4);
}

static void
raw_reset(struct raw *r, uint32_t stream, uint16_t code)
{
	uint8_t p[32];
	int n = mux_reason_encode(code, "raw", p, sizeof(p));

	raw_frame(r, MUX_RESET, 0, stream, p, (size_t)n);
}

/* A server session and a raw client that has sent HELLO and received WELCOME. */
static void
fix_raw_server(struct fix *f, const struct mux_limits *lim)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	peer_server(f, sv[0], lim);
	raw_init(f, sv[1]);
	raw_hello(&f->raw);
	RUN_UNTIL(f, f->raw.counts[MUX_WELCOME] == 1, GUARD_MS);
	ck_assert_int_eq(f->raw.counts[MUX_WELCOME], 1);
}

/* --- codecs -------------------------------------------------------------------------------- */

/* A full DATA frame (MUX_RECORD bytes) fits one chain of a 16 KiB allocation, as mux.c's
 * memory bound for frames moved without copies assumes (libevent's chains: a 48-byte header,
 * sizes rounded up to a power of two). If libevent changes that, this says so. */
START_TEST(test_record_chain)
{
	struct evbuffer *b = evbuffer_new();
	struct evbuffer_iovec v;

	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(evbuffer_reserve_space(b, MUX_RECORD, &v, 1), 1);
	ck_assert_uint_ge(v.iov_len, MUX_RECORD);
	ck_assert_uint_le(v.iov_len + 48, 16384);
	evbuffer_free(b);
}
END_TEST

START_TEST(test_frame_parse)
{
	uint8_t b[MUX_HEADER_LEN + 16] = { 1, MUX_PING, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8 };
	struct mux_frame f;

	ck_assert_int_eq(mux_frame_parse(b, 11, &f), 0);
	ck_assert_int_eq(mux_frame_parse(b, 12, &f), 0);	/* payload missing */
	ck_assert_int_eq(mux_frame_parse(b, 20, &f), 1);
	ck_assert_ptr_eq(f.payload, b + 12);
	ck_assert_int_eq(f.type, MUX_PING);
	ck_assert_int_eq(f.length, 8);
	b[0] = 2;
	ck_assert_int_eq(mux_frame_parse(b, 20, &f), -1);	/* version */
	b[0] = 1;
	b[3] = 2;
	ck_assert_int_eq(mux_frame_parse(b, 20, &f), -1);	/* undefined flag */
	b[3] = MUX_F_ACK;
	ck_assert_int_eq(mux_frame_parse(b, 20, &f), 1);
	b[3] = 0;
	b[7] = 1;
	ck_assert_int_eq(mux_frame_parse(b, 20, &f), -1);	/* PING on a stream */
	b[7] = 0;
	b[11] = 7;
	ck_assert_int_eq(mux_frame_parse(b, 20, &f), -1);	/* PING of 7 bytes */
	for (int t = 0; t < 256; t++) {
		b[1] = (uint8_t)t;
		b[11] = 0;
		b[7] = 1;
		if (t < MUX_HELLO || t > MUX_KEYS)
			ck_assert_int_eq(mux_frame_parse(b, 12, &f), -1);
	}
	/* An oversized length is refused from the header alone. */
	b[1] = MUX_DATA;
	b[7] = 1;
	b[8] = 0, b[9] = 0, b[10] = 0x40, b[11] = 0x01;
	ck_assert_int_eq(mux_frame_parse(b, 12, &f), -1);
	b[10] = 0x40, b[11] = 0x00;
	ck_assert_int_eq(mux_frame_parse(b, 12, &f), 0);
	b[8] = 0xff, b[9] = 0xff, b[10] = 0xff, b[11] = 0xff;
	ck_assert_int_eq(mux_frame_parse(b, 12, &f), -1);
	b[8] = b[9] = b[10] = b[11] = 0;
	b[7] = 0;
	ck_assert_int_eq(mux_frame_parse(b, 12, &f), -1);	/* DATA on stream 0 */
	b[1] = MUX_RESET;
	b[11] = 4;
	ck_assert_int_eq(mux_frame_parse(b, 16, &f), 1);	/* RESET may use stream 0 */
	b[1] = MUX_WINDOW;
	b[7] = 3;
	b[11] = 5;
	ck_assert_int_eq(mux_frame_parse(b, 17, &f), -1);	/* WINDOW of 5 bytes */
	b[1] = MUX_HELLO;
	b[7] = 0;
	b[10] = 0x10, b[11] = 0x01;
	ck_assert_int_eq(mux_frame_parse(b, 12, &f), -1);	/* HELLO over 4096 */
}
END_TEST

/* A valid connector HELLO with a plain and a wildcard hostname. */
static void
connector_hello(struct mux_hello *h)
{
	memset(h, 0, sizeof(*h));
	h->role = MUX_ROLE_CONNECTOR;
	memset(h->tunnel_id, 0x11, 16);
	memset(h->tunnel_secret, 0x22, 32);
	memset(h->connector_id, 0x33, 16);
	h->has_tunnel_id = h->has_tunnel_secret = h->has_connector_id = true;
	util_strlcpy(h->hostnames[0], "app.example.com", sizeof(h->hostnames[0]));
	util_strlcpy(h->hostnames[1], "*.internal.example", sizeof(h->hostnames[1]));
	h->nhostnames = 2;
	util_strlcpy(h->version, "zt 0.1", sizeof(h->version));
}

/* Appends a raw HELLO field. */
static size_t
field(uint8_t *b, size_t off, uint16_t type, const void *v, size_t n)
{
	b[off] = (uint8_t)(type >> 8);
	b[off + 1] = (uint8_t)type;
	b[off + 2] = (uint8_t)(n >> 8);
	b[off + 3] = (uint8_t)n;
	memcpy(b + off + 4, v, n);
	return off + 4 + n;
}

START_TEST(test_hello_codec)
{
	static uint8_t b[8192];
	static struct mux_hello h, g;
	uint8_t id[16] = { 0 }, secret[32] = { 0 };
	size_t n;
	int len;

	connector_hello(&h);
	len = mux_hello_encode(&h, b, MUX_MAX_HELLO);
	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(mux_hello_parse(b, (size_t)len, &g), 0);
	ck_assert_int_eq(g.role, MUX_ROLE_CONNECTOR);
	ck_assert_int_eq(g.nhostnames, 2);
	ck_assert_str_eq(g.hostnames[1], "*.internal.example");
	ck_assert_mem_eq(g.tunnel_secret, h.tunnel_secret, 32);
	ck_assert_str_eq(g.version, "zt 0.1");

	client_hello(&h);
	len = mux_hello_encode(&h, b, MUX_MAX_HELLO);
	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(mux_hello_parse(b, (size_t)len, &g), 0);
	ck_assert_str_eq(g.token_id, TOKEN_ID);
	ck_assert(g.has_token_secret);
	/* Unknown fields are skipped. */
	n = field(b, (size_t)len, 99, "xyz", 3);
	ck_assert_int_eq(mux_hello_parse(b, n, &g), 0);
	/* A repeated single field, a truncated field, a field of the other role. */
	n = field(b, (size_t)len, MUX_FIELD_TOKEN_SECRET, secret, 32);
	ck_assert_int_eq(mux_hello_parse(b, n, &g), -1);
	ck_assert_int_eq(mux_hello_parse(b, (size_t)len - 1, &g), -1);
	n = field(b, (size_t)len, MUX_FIELD_TUNNEL_ID, id, 16);
	ck_assert_int_eq(mux_hello_parse(b, n, &g), -1);
	/* Two kinds of client credentials. */
	n = field(b, (size_t)len, MUX_FIELD_USER_TOKEN, "a.b.c", 5);
	ck_assert_int_eq(mux_hello_parse(b, n, &g), -1);
	/* A user token alone is fine; a token id alone is not. */
	b[0] = MUX_ROLE_CLIENT;
	n = field(b, 1, MUX_FIELD_USER_TOKEN, "a.b.c", 5);
	ck_assert_int_eq(mux_hello_parse(b, n, &g), 0);
	n = field(b, 1, MUX_FIELD_TOKEN_ID, TOKEN_ID, strlen(TOKEN_ID));
	ck_assert_int_eq(mux_hello_parse(b, n, &g), -1);
	n = field(b, 1, MUX_FIELD_TOKEN_ID, "0123456789ABCDEF0123456789abcdef.access", 39);
	n = field(b, n, MUX_FIELD_TOKEN_SECRET, secret, 32);
	ck_assert_int_eq(mux_hello_parse(b, n, &g), -1);	/* upper-case hex */
	n = field(b, 1, MUX_FIELD_TOKEN_SECRET, secret, 31);
	ck_assert_int_eq(mux_hello_parse(b, n, &g), -1);	/* 31-byte secret */
	n = field(b, 1, MUX_FIELD_USER_TOKEN, "a b", 3);
	ck_assert_int_eq(mux_hello_parse(b, n, &g), -1);
	/* Roles, missing credentials, empty HELLO. */
	b[0] = 3;
	ck_assert_int_eq(mux_hello_parse(b, 1, &g), -1);
	b[0] = MUX_ROLE_CLIENT;
	ck_assert_int_eq(mux_hello_parse(b, 1, &g), -1);
	ck_assert_int_eq(mux_hello_parse(b, 0, &g), -1);
	/* Connector hostnames: invalid, repeated, too many. */
	connector_hello(&h);
	util_strlcpy(h.hostnames[1], "bad_host..example", sizeof(h.hostnames[1]));
	ck_assert_int_eq(mux_hello_encode(&h, b, MUX_MAX_HELLO), -1);
	util_strlcpy(h.hostnames[1], "APP.example.com", sizeof(h.hostnames[1]));
	ck_assert_int_eq(mux_hello_encode(&h, b, MUX_MAX_HELLO), -1);
	connector_hello(&h);
	len = mux_hello_encode(&h, b, MUX_MAX_HELLO);
	n = (size_t)len;
	for (int i = 0; i < MUX_MAX_HOSTNAMES - 1; i++) {
		char name[32];

		snprintf(name, sizeof(name), "h%d.example", i);
		n = field(b, n, MUX_FIELD_HOSTNAME, name, strlen(name));
	}
	ck_assert_int_eq(mux_hello_parse(b, n, &g), -1);	/* 65 hostnames */
	ck_assert_int_eq(mux_hello_parse(b, (size_t)len, &g), 0);
	n = field(b, (size_t)len, MUX_FIELD_HOSTNAME, "a\0b", 3);
	ck_assert_int_eq(mux_hello_parse(b, n, &g), -1);	/* NUL inside */
	/* Over 4096 bytes. */
	memset(b, 0, sizeof(b));
	b[0] = MUX_ROLE_CLIENT;
	ck_assert_int_eq(mux_hello_parse(b, MUX_MAX_HELLO + 1, &g), -1);
	/* A failed parse leaves no secret behind. */
	client_hello(&h);
	len = mux_hello_encode(&h, b, MUX_MAX_HELLO);
	n = field(b, (size_t)len, MUX_FIELD_TOKEN_SECRET, secret, 32);
	ck_assert_int_eq(mux_hello_parse(b, n, &g), -1);
	for (size_t i = 0; i < sizeof(g.token_secret); i++)
		ck_assert_int_eq(g.token_secret[i], 0);
	/* Incomplete connector credentials are not encoded. */
	connector_hello(&h);
	h.has_connector_id = false;
	ck_assert_int_eq(mux_hello_encode(&h, b, MUX_MAX_HELLO), -1);
}
END_TEST

/* OPEN's token: the optional last field, base64url and dots, at most 4096 bytes. */
static void
test_open_token(void)
{
	static uint8_t b[MUX_MAX_FRAME];
	static struct mux_meta m, m2;
	char host[MUX_MAX_HOSTNAME + 1];
	int n, n3;

	memset(&m, 0, sizeof(m));
	util_strlcpy(m.identity, "email:a@example.com", sizeof(m.identity));
	n3 = mux_open_encode("db.example.com", &m, b, sizeof(b));	/* no token: 3 fields */
	ck_assert_int_gt(n3, 0);
	util_strlcpy(m.token, "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln-_", sizeof(m.token));
	n = mux_open_encode("db.example.com", &m, b, sizeof(b));
	ck_assert_int_eq(n, n3 + 2 + (int)strlen(m.token));
	memset(&m2, 0x55, sizeof(m2));
	ck_assert_int_eq(mux_open_parse(b, (size_t)n, host, &m2), 0);
	ck_assert_str_eq(m2.token, m.token);
	ck_assert_str_eq(m2.identity, "email:a@example.com");
	ck_assert_int_eq(mux_open_parse(b, (size_t)n3, host, &m2), 0);	/* older peers */
	ck_assert_str_eq(m2.token, "");
	ck_assert_int_eq(mux_open_parse(b, (size_t)n - 1, host, &m2), -1);	/* cut */
	b[n] = 0;
	ck_assert_int_eq(mux_open_parse(b, (size_t)n + 1, host, &m2), -1);	/* trailing */
	b[n3 + 2] = '+';	/* not base64url */
	ck_assert_int_eq(mux_open_parse(b, (size_t)n, host, &m2), -1);
	b[n3 + 2] = '\0';
	ck_assert_int_eq(mux_open_parse(b, (size_t)n, host, &m2), -1);
	/* An empty token field is not sent: absent is the one encoding of no token. */
	b[n3] = 0, b[n3 + 1] = 0;
	ck_assert_int_eq(mux_open_parse(b, (size_t)n3 + 2, host, &m2), -1);
	util_strlcpy(m.token, "a b", sizeof(m.token));
	ck_assert_int_eq(mux_open_encode("db.example.com", &m, b, sizeof(b)), -1);
	/* 4096 bytes fit, in a frame of the OPEN bound; 4097 do not. */
	memset(m.token, 'A', MUX_MAX_TOKEN);
	m.token[MUX_MAX_TOKEN] = '\0';
	util_strlcpy(m.identity, "token:ci", sizeof(m.identity));
	n = mux_open_encode("db.example.com", &m, b, sizeof(b));
	ck_assert_int_gt(n, MUX_MAX_TOKEN);
	ck_assert_int_eq(mux_open_encode("db.example.com", &m, b, (size_t)n - 1), -1);
	ck_assert_int_eq(mux_open_parse(b, (size_t)n, host, &m2), 0);
	ck_assert_uint_eq(strlen(m2.token), MUX_MAX_TOKEN);
	n3 = n - 2 - MUX_MAX_TOKEN;
	b[n3] = (uint8_t)((MUX_MAX_TOKEN + 1) >> 8), b[n3 + 1] = (uint8_t)(MUX_MAX_TOKEN + 1);
	b[n] = 'A';
	ck_assert_int_eq(mux_open_parse(b, (size_t)n + 1, host, &m2), -1);
}

START_TEST(test_payload_codecs)
{
	uint8_t b[1024];
	struct mux_welcome w = { .max_streams = 10, .initial_window = 65536, .keepalive_ms = 5000,
	    .edge_name = "edge-1.example" }, w2;
	struct mux_meta m = { .identity = "email:a@example.com", .client_addr = "192.0.2.1:5555" },
	    m2;
	char host[MUX_MAX_HOSTNAME + 1], reason[MUX_MAX_REASON + 1], longtext[400];
	uint16_t code;
	uint32_t id;
	int n;

	memset(w.session_id, 7, 16);
	n = mux_welcome_encode(&w, b, sizeof(b));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(mux_welcome_parse(b, (size_t)n, &w2), 0);
	ck_assert_int_eq(w2.initial_window, 65536);
	ck_assert_str_eq(w2.edge_name, "edge-1.example");
	ck_assert_int_eq(mux_welcome_parse(b, (size_t)n - 1, &w2), -1);
	b[n] = 0;
	ck_assert_int_eq(mux_welcome_parse(b, (size_t)n + 1, &w2), -1);	/* trailing byte */
	w.initial_window = 0x80000000U;
	ck_assert_int_eq(mux_welcome_encode(&w, b, sizeof(b)), -1);
	w.initial_window = 1;
	w.keepalive_ms = 5;
	ck_assert_int_eq(mux_welcome_encode(&w, b, sizeof(b)), -1);

	n = mux_open_encode("db.example.com", &m, b, sizeof(b));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(mux_open_parse(b, (size_t)n, host, &m2), 0);
	ck_assert_str_eq(host, "db.example.com");
	ck_assert_str_eq(m2.identity, "email:a@example.com");
	ck_assert_str_eq(m2.client_addr, "192.0.2.1:5555");
	ck_assert_str_eq(m2.token, "");
	ck_assert_int_eq(mux_open_encode("*.example.com", NULL, b, sizeof(b)), -1);
	test_open_token();
	util_strlcpy(m.identity, "x\r\nInjected: yes", sizeof(m.identity));
	ck_assert_int_eq(mux_open_encode("db.example.com", &m, b, sizeof(b)), -1);
	/* Text: UTF-8 is fine, overlong forms, surrogates and controls are not. */
	ck_assert_int_eq(mux_reason_encode(33, "d\xc3\xa9j\xc3\xa0 vu", b, sizeof(b)), 13);
	ck_assert_int_eq(mux_reason_parse(b, 13, &code, reason, sizeof(reason)), 0);
	ck_assert_int_eq(code, 33);
	ck_assert_str_eq(reason, "d\xc3\xa9j\xc3\xa0 vu");
	ck_assert_int_eq(mux_reason_parse(b, 13, &code, reason, 5), -1);	/* does not fit */
	ck_assert_int_eq(mux_reason_encode(1, "\xc0\xaf", b, sizeof(b)), -1);
	ck_assert_int_eq(mux_reason_encode(1, "\xed\xa0\x80", b, sizeof(b)), -1);
	ck_assert_int_eq(mux_reason_encode(1, "tab\there", b, sizeof(b)), -1);
	ck_assert_int_eq(mux_reason_encode(1, "\xe2\x82", b, sizeof(b)), -1);
	memset(longtext, 'a', 257);
	longtext[257] = '\0';
	ck_assert_int_eq(mux_reason_encode(1, longtext, b, sizeof(b)), -1);
	longtext[256] = '\0';
	ck_assert_int_eq(mux_reason_encode(1, longtext, b, sizeof(b)), 260);
	b[4] = 0;	/* a NUL in the text */
	ck_assert_int_eq(mux_reason_parse(b, 260, &code, reason, sizeof(reason)), -1);
	/* CHECK. */
	b[0] = 0, b[1] = 0, b[2] = 0, b[3] = 9, b[4] = 0, b[5] = 5;
	memcpy(b + 6, "a.b.c", 5);
	ck_assert_int_eq(mux_check_parse(b, 11, &id, host), 0);
	ck_assert_int_eq(id, 9);
	ck_assert_str_eq(host, "a.b.c");
	ck_assert_int_eq(mux_check_parse(b, 10, &id, host), -1);

	ck_assert(mux_hostname_valid("a", false));
	ck_assert(mux_hostname_valid("_srv.example.com", false));
	ck_assert(mux_hostname_valid("*.example.com", true));
	ck_assert(!mux_hostname_valid("*.example.com", false));
	ck_assert(!mux_hostname_valid("*", true));
	ck_assert(!mux_hostname_valid("*.", true));
	ck_assert(!mux_hostname_valid("a.*.com", true));
	ck_assert(!mux_hostname_valid("", false));
	ck_assert(!mux_hostname_valid(".a", false));
	ck_assert(!mux_hostname_valid("a.", false));
	ck_assert(!mux_hostname_valid("a..b", false));
	ck_assert(!mux_hostname_valid("-a.b", false));
	ck_assert(!mux_hostname_valid("a-.b", false));
	ck_assert(!mux_hostname_valid("a b", false));
	ck_assert(!mux_hostname_valid("a/b", false));
	ck_assert(!mux_hostname_valid(NULL, false));
	memset(longtext, 'a', 64);
	longtext[64] = '\0';
	ck_assert(!mux_hostname_valid(longtext, false));	/* 64-byte label */
	longtext[63] = '\0';
	ck_assert(mux_hostname_valid(longtext, false));
	for (int i = 0; i < 254; i++)
		longtext[i] = i % 2 ? '.' : 'a';
	longtext[253] = '\0';
	ck_assert(mux_hostname_valid(longtext, false));	/* 253 bytes */
	longtext[253] = 'a';
	longtext[254] = '\0';
	ck_assert(!mux_hostname_valid(longtext, false));
	ck_assert_str_eq(mux_code_name(MUX_ENHANCE_YOUR_CALM), "ENHANCE_YOUR_CALM");
	ck_assert_str_eq(mux_code_name(3000), "UNKNOWN");
}
END_TEST

/* --- set-up -------------------------------------------------------------------------------- */

START_TEST(test_handshake)
{
	static const struct mux_limits lim = { .max_streams = 3, .initial_window = 65536 };
	struct mux_limits bad = { 0 };
	static const uint8_t zero[16];
	struct mux_welcome w = { 0 };
	struct mux_hello h;
	struct fix f;

	fix_init(&f);
	fix_pair(&f, NULL, NULL);
	ck_assert_int_eq(f.srv.nhello, 1);
	ck_assert_int_eq(f.srv.role, MUX_ROLE_CLIENT);
	ck_assert(f.srv.secret_ok);
	ck_assert_int_eq(f.cli.welcome.max_streams, 1024);
	ck_assert_int_eq(f.cli.welcome.initial_window, MUX_INITIAL_WINDOW);
	ck_assert_int_eq(f.cli.welcome.keepalive_ms, 10000);
	ck_assert_str_eq(f.cli.welcome.edge_name, "edge.test");
	ck_assert(memcmp(f.cli.welcome.session_id, zero, 16) != 0);
	ck_assert(!mux_session_draining(f.cli.s));
	ck_assert_int_eq(mux_session_nstreams(f.cli.s), 0);
	ck_assert_ptr_eq(mux_session_arg(f.cli.s), &f.cli);
	ck_assert_ptr_nonnull(mux_session_bev(f.cli.s));
	/* HELLO is sent once, WELCOME once. */
	client_hello(&h);
	ck_assert_int_eq(mux_send_hello(f.cli.s, &h), -1);
	ck_assert_int_eq(mux_welcome(f.srv.s, &w), -1);
	ck_assert_int_eq(mux_session_set_limits(f.srv.s, NULL), -1);	/* too late */
	ck_assert_int_eq(f.srv.closed + f.cli.closed, 0);
	fix_free(&f);

	/* Limits chosen once the server knows who the peer is reach the client in WELCOME. */
	fix_init(&f);
	f.srv.hello_limits = &lim;
	fix_pair(&f, NULL, NULL);
	ck_assert_int_eq(f.cli.welcome.max_streams, 3);
	ck_assert_int_eq(f.cli.welcome.initial_window, 65536);
	ck_assert_int_eq(f.cli.welcome.keepalive_ms, 10000);
	bad.initial_window = 0x80000000U;
	ck_assert_int_eq(mux_session_set_limits(f.srv.s, &bad), -1);
	fix_free(&f);
}
END_TEST

START_TEST(test_handshake_refused)
{
	static const uint16_t codes[] = { MUX_AUTH_FAILED, MUX_AUTH_EXPIRED, MUX_AUTH_REVOKED,
	    MUX_HOSTNAME_NOT_ALLOWED };
	char reason[64];
	struct fix f;
	int sv[2];

	for (size_t i = 0; i < nitems(codes); i++) {
		fix_init(&f);
		snprintf(reason, sizeof(reason), "refused: %s", mux_code_name(codes[i]));
		f.srv.hello_mode = HELLO_REFUSE;
		f.srv.refuse_code = codes[i];
		f.srv.refuse_reason = reason;
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		peer_server(&f, sv[0], NULL);
		peer_client(&f, sv[1], NULL, true);
		RUN_UNTIL(&f, f.cli.closed && f.srv.closed, GUARD_MS);
		ck_assert_int_eq(f.cli.closed, 1);
		ck_assert_int_eq(f.cli.code, codes[i]);
		ck_assert_str_eq(f.cli.reason, reason);
		ck_assert_int_eq(f.srv.code, codes[i]);
		ck_assert_int_eq(f.cli.nwelcome, 0);
		ck_assert(!mux_session_established(f.cli.s));
		ck_assert_ptr_null(mux_stream_open(f.cli.s, "a.example", NULL, NULL, NULL));
		fix_free(&f);
	}
}
END_TEST

/* Before HELLO only HELLO (AUTH_REQUIRED); after it, nothing before WELCOME. */
START_TEST(test_before_hello)
{
	uint8_t ping[8] = { 0 }, bad_hello[3] = { 9, 0, 0 };
	struct fix f;
	int sv[2];

	for (int c = 0; c < 5; c++) {
		fix_init(&f);
		f.srv.hello_mode = HELLO_DEFER;
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		peer_server(&f, sv[0], NULL);
		raw_init(&f, sv[1]);
		switch (c) {
		case 0:
			raw_frame(&f.raw, MUX_PING, 0, 0, ping, 8);
			break;
		case 1:
			raw_open(&f.raw, 1, "a.example");
			break;
		case 2:
			raw_frame(&f.raw, MUX_DATA, 0, 1, "x", 1);
			break;
		case 3:
			raw_hello(&f.raw);
			raw_frame(&f.raw, MUX_PING, 0, 0, ping, 8);
			break;
		case 4:
			raw_frame(&f.raw, MUX_HELLO, 0, 0, bad_hello, sizeof(bad_hello));
			break;
		}
		RUN_UNTIL(&f, f.srv.closed && f.raw.counts[MUX_RESET] == 1, GUARD_MS);
		ck_assert_int_eq(f.raw.counts[MUX_RESET], 1);
		ck_assert_int_eq(f.raw.counts[MUX_WELCOME], 0);
		ck_assert_int_eq(f.srv.closed, 1);
		if (c < 3) {
			ck_assert_int_eq(f.raw.reset0_code, MUX_AUTH_REQUIRED);
			ck_assert_int_eq(f.srv.code, MUX_AUTH_REQUIRED);
			ck_assert_int_eq(f.srv.nhello, 0);
		} else {
			ck_assert_int_eq(f.raw.reset0_code, MUX_PROTOCOL_ERROR);
			ck_assert_int_eq(f.srv.code, MUX_PROTOCOL_ERROR);
		}
		ck_assert_int_eq(f.srv.nopen, 0);
		fix_free(&f);
	}
}
END_TEST

START_TEST(test_hello_timeout)
{
	struct mux_limits lim = { .hello_timeout_ms = 150 };
	struct fix f;
	uint64_t t0;
	int sv[2];

	/* Silence. */
	fix_init(&f);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	t0 = mono_ms();
	peer_server(&f, sv[0], &lim);
	raw_init(&f, sv[1]);
	RUN_UNTIL(&f, f.srv.closed && f.raw.counts[MUX_RESET] == 1, GUARD_MS);
	ck_assert_int_eq(f.srv.code, MUX_TIMEOUT);
	ck_assert_int_eq(f.raw.reset0_code, MUX_TIMEOUT);
	ck_assert_uint_ge(mono_ms() - t0, 140);
	ck_assert_uint_lt(mono_ms() - t0, 5000);	/* bounded, with room for loaded machines */
	fix_free(&f);

	/* HELLO, but the application never decides. */
	fix_init(&f);
	f.srv.hello_mode = HELLO_DEFER;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	peer_server(&f, sv[0], &lim);
	raw_init(&f, sv[1]);
	raw_hello(&f.raw);
	RUN_UNTIL(&f, f.srv.closed, GUARD_MS);
	ck_assert_int_eq(f.srv.nhello, 1);
	ck_assert_int_eq(f.srv.code, MUX_TIMEOUT);
	fix_free(&f);

	/* A client whose server never answers. */
	fix_init(&f);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	raw_init(&f, sv[0]);
	peer_client(&f, sv[1], &lim, true);
	RUN_UNTIL(&f, f.cli.closed, GUARD_MS);
	ck_assert_int_eq(f.cli.code, MUX_TIMEOUT);
	RUN_UNTIL(&f, f.raw.counts[MUX_RESET] == 1, GUARD_MS);
	ck_assert_int_eq(f.raw.counts[MUX_HELLO], 1);
	ck_assert_int_eq(f.raw.reset0_code, MUX_TIMEOUT);
	fix_free(&f);
}
END_TEST

/* A hostile or broken edge, seen from the client. */
START_TEST(test_client_hostile)
{
	struct mux_welcome w = { .max_streams = 4, .initial_window = 65536, .keepalive_ms = 1000 };
	uint8_t buf[512], ping[8] = { 0 }, checkok[8] = { 0, 0, 0, 5, 0, 0, 0, 0 };
	struct fix f;
	int sv[2], n;

	for (int c = 0; c < 4; c++) {
		fix_init(&f);
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		raw_init(&f, sv[0]);
		peer_client(&f, sv[1], NULL, true);
		w.initial_window = c == 1 ? 0 : 65536;
		switch (c) {
		case 0:
			raw_frame(&f.raw, MUX_PING, 0, 0, ping, 8);
			break;
		case 1:
			/* mux_welcome_encode refuses a zero window: write it by hand. */
			memset(buf, 0, sizeof(buf));
			buf[19] = 4, buf[26] = 0x03, buf[27] = 0xe8;
			raw_frame(&f.raw, MUX_WELCOME, 0, 0, buf, 30);
			break;
		case 2:
			n = mux_welcome_encode(&w, buf, sizeof(buf));
			raw_frame(&f.raw, MUX_WELCOME, 0, 0, buf, (size_t)n);
			raw_frame(&f.raw, MUX_CHECK_OK, 0, 0, checkok, sizeof(checkok));
			break;
		case 3:
			n = mux_reason_encode(MUX_AUTH_REVOKED, "tunnel deleted", buf + 4,
			    sizeof(buf) - 4);
			memset(buf, 0, 4);
			raw_frame(&f.raw, MUX_GOAWAY, 0, 0, buf, (size_t)n + 4);
			break;
		}
		RUN_UNTIL(&f, f.cli.closed, GUARD_MS);
		ck_assert_int_eq(f.cli.closed, 1);
		if (c == 3) {
			ck_assert_int_eq(f.cli.code, MUX_AUTH_REVOKED);
			ck_assert_str_eq(f.cli.reason, "tunnel deleted");
		} else
			ck_assert_int_eq(f.cli.code, MUX_PROTOCOL_ERROR);
		ck_assert_int_eq(f.cli.nwelcome, c == 2 ? 1 : 0);
		fix_free(&f);
	}
}
END_TEST

/* --- streams ------------------------------------------------------------------------------- */

START_TEST(test_streams)
{
	struct mux_meta m = { .identity = "token:ci", .client_addr = "127.0.0.1:1" };
	struct tstream *cts, *sts;
	struct mux_counters cc = { 0, 0 }, sc = { 0, 0 };
	struct fix f;

	fix_init(&f);
	fix_pair(&f, NULL, NULL);
	mux_session_set_counters(f.cli.s, &cc);
	mux_session_set_counters(f.srv.s, &sc);
	f.srv.ts_mode = TS_ECHO;
	/* Client -> server, echoed back; data queued before OPEN_OK. */
	cts = ts_new(&f.cli, TS_SINK);
	cts->st = mux_stream_open(f.cli.s, "app.example.com", &m, &ts_cbs, cts);
	ck_assert_ptr_nonnull(cts->st);
	ck_assert_uint_eq(mux_stream_id(cts->st), 1);
	ck_assert_ptr_eq(mux_stream_session(cts->st), f.cli.s);
	ck_assert_ptr_eq(mux_stream_arg(cts->st), cts);
	cts->to_send = 100000;
	cts->fin_after = true;
	ts_send_more(cts);
	ck_assert_uint_eq(cts->sent, 100000);
	ck_assert_uint_eq(mux_stream_queued(cts->st), 100000);
	ck_assert_int_eq(mux_session_nstreams(f.cli.s), 1);
	RUN_UNTIL(&f, cts->closed && f.srv.last != NULL && f.srv.last->closed, GUARD_MS);
	sts = f.srv.last;
	ck_assert(cts->opened);
	ck_assert_int_eq(cts->code, MUX_OK);
	ck_assert_uint_eq(cts->rx, 100000);
	ck_assert_int_eq(cts->bad, 0);
	ck_assert_int_eq(sts->code, MUX_OK);
	ck_assert_uint_eq(sts->rx, 100000);
	ck_assert(sts->fin);
	ck_assert_str_eq(f.srv.open_host, "app.example.com");
	ck_assert_str_eq(f.srv.open_meta.identity, "token:ci");
	ck_assert_str_eq(f.srv.open_meta.client_addr, "127.0.0.1:1");
	ck_assert_int_eq(mux_session_nstreams(f.cli.s), 0);
	ck_assert_int_eq(mux_session_nstreams(f.srv.s), 0);
	/* The counters saw the payload each way, and only the payload. */
	ck_assert_uint_eq(cc.bytes_out, 100000);
	ck_assert_uint_eq(cc.bytes_in, 100000);
	ck_assert_uint_eq(sc.bytes_in, 100000);
	ck_assert_uint_eq(sc.bytes_out, 100000);
	mux_session_set_counters(f.srv.s, NULL);

	/* Server -> client, half-closed first by the server. */
	f.cli.ts_mode = TS_SINK;
	sts = ts_open(&f.srv, "back.example.com", TS_SINK, 50000, true);
	ck_assert_ptr_nonnull(sts->st);
	ck_assert_uint_eq(mux_stream_id(sts->st), 2);
	RUN_UNTIL(&f, sts->closed && f.cli.last != NULL && f.cli.last->closed, GUARD_MS);
	ck_assert_int_eq(sts->code, MUX_OK);
	ck_assert_int_eq(f.cli.last->code, MUX_OK);
	ck_assert_uint_eq(f.cli.last->rx, 50000);
	ck_assert_int_eq(f.cli.last->bad, 0);
	ck_assert_uint_eq(cc.bytes_in, 150000);
	ck_assert_uint_eq(sc.bytes_out, 100000);	/* no longer counted */
	/* Ids increase and are never reused. */
	cts = ts_open(&f.cli, "app.example.com", TS_SINK, 0, true);
	ck_assert_uint_eq(mux_stream_id(cts->st), 3);
	RUN_UNTIL(&f, cts->closed, GUARD_MS);
	ck_assert_int_eq(cts->code, MUX_OK);
	ck_assert_int_eq(f.srv.closed + f.cli.closed, 0);
	fix_free(&f);
}
END_TEST

START_TEST(test_reset_mid_transfer)
{
	struct tstream *cts, *sts;
	struct mux_stream *st;
	struct fix f;

	fix_init(&f);
	fix_pair(&f, NULL, NULL);
	/* The server resets a stream it is receiving. */
	f.srv.reset_after = 100000;
	f.srv.reset_code = MUX_NOT_ALLOWED;
	cts = ts_open(&f.cli, "app.example.com", TS_SINK, 64 << 20, true);
	RUN_UNTIL(&f, cts->closed, GUARD_MS);
	sts = f.srv.last;
	ck_assert_int_eq(cts->code, MUX_NOT_ALLOWED);
	ck_assert_str_eq(cts->reason, "enough");
	ck_assert(sts->closed);
	ck_assert_int_eq(sts->code, MUX_NOT_ALLOWED);
	ck_assert_uint_lt(cts->sent, 64 << 20);
	ck_assert_int_eq(mux_session_nstreams(f.cli.s), 0);
	ck_assert_int_eq(mux_session_nstreams(f.srv.s), 0);

	/* The client resets a stream it is sending: closed at once here, then there. */
	f.srv.reset_after = 0;
	cts = ts_open(&f.cli, "app.example.com", TS_SINK, 64 << 20, true);
	RUN_UNTIL(&f, f.srv.last != sts && f.srv.last->rx > 100000, GUARD_MS);
	sts = f.srv.last;
	st = cts->st;
	mux_stream_reset(st, MUX_CANCEL, "user hung up");
	ck_assert(cts->closed);
	ck_assert_int_eq(cts->code, MUX_CANCEL);
	RUN_UNTIL(&f, sts->closed, GUARD_MS);
	ck_assert_int_eq(sts->code, MUX_CANCEL);
	ck_assert_str_eq(sts->reason, "user hung up");
	ck_assert_int_eq(sts->bad, 0);
	/* The session carries on. */
	cts = ts_open(&f.cli, "app.example.com", TS_SINK, 1000, true);
	RUN_UNTIL(&f, cts->closed, GUARD_MS);
	ck_assert_int_eq(cts->code, MUX_OK);
	ck_assert_int_eq(f.srv.closed + f.cli.closed, 0);
	fix_free(&f);
}
END_TEST

/* A reader that stops: its writer stops after one window, the session does not. */
START_TEST(test_slow_reader)
{
	struct tstream *cts, *cts2, *sts;
	struct evbuffer *in;
	uint64_t sent;
	struct fix f;

	fix_init(&f);
	fix_pair(&f, NULL, NULL);
	f.srv.ts_mode = TS_HOLD;
	cts = ts_open(&f.cli, "slow.example.com", TS_SINK, 8 << 20, true);
	RUN_UNTIL(&f, f.srv.last != NULL &&
	    evbuffer_get_length(mux_stream_input(f.srv.last->st)) == MUX_INITIAL_WINDOW &&
	    mux_stream_write_space(cts->st) == 0, BULK_MS);
	sts = f.srv.last;
	in = mux_stream_input(sts->st);
	sent = cts->sent;
	RUN_FOR(&f, 200);
	ck_assert_uint_eq(evbuffer_get_length(in), MUX_INITIAL_WINDOW);
	ck_assert_uint_eq(cts->sent, sent);
	ck_assert_uint_eq(sent, MUX_INITIAL_WINDOW + MUX_MAX_FRAME);
	ck_assert_uint_eq(mux_stream_queued(cts->st), MUX_MAX_FRAME);
	ck_assert_uint_eq(mux_stream_write_space(cts->st), 0);
	ck_assert_uint_le(evbuffer_get_length(bufferevent_get_output(mux_session_bev(f.cli.s))),
	    MUX_MAX_FRAME);
	ck_assert_int_eq(cts->nwritable, 0);

	/* Another stream flows meanwhile. */
	f.srv.ts_mode = TS_ECHO;
	cts2 = ts_open(&f.cli, "fast.example.com", TS_SINK, 1 << 20, true);
	RUN_UNTIL(&f, cts2->closed, BULK_MS);
	ck_assert_int_eq(cts2->code, MUX_OK);
	ck_assert_uint_eq(cts2->rx, 1 << 20);
	ck_assert_uint_eq(evbuffer_get_length(in), MUX_INITIAL_WINDOW);

	/* The reader resumes: credit flows back and everything arrives. */
	sts->mode = TS_SINK;
	ts_data(sts->st, sts);
	RUN_UNTIL(&f, cts->closed && sts->closed, BULK_MS);
	ck_assert(cts->closed && sts->closed);
	ck_assert_int_gt(cts->nwritable, 0);
	ck_assert_int_eq(cts->code, MUX_OK);
	ck_assert_int_eq(sts->code, MUX_OK);
	ck_assert_uint_eq(sts->rx, 8 << 20);
	ck_assert_int_eq(sts->bad, 0);
	fix_free(&f);
}
END_TEST

START_TEST(test_many_streams)
{
	struct tstream *ts[1000];
	struct fix f;

	fix_init(&f);
	fix_pair(&f, NULL, NULL);
	f.srv.ts_mode = TS_ECHO;
	for (int i = 0; i < 1000; i++) {
		ts[i] = ts_open(&f.cli, "many.example.com", TS_SINK, 4096 + (uint64_t)i, true);
		ck_assert_ptr_nonnull(ts[i]->st);
	}
	ck_assert_int_eq(mux_session_nstreams(f.cli.s), 1000);
	RUN_UNTIL(&f, f.cli.streams_closed == 1000 && f.srv.streams_closed == 1000, BULK_MS);
	ck_assert_int_eq(f.cli.streams_ok, 1000);
	ck_assert_int_eq(f.srv.streams_ok, 1000);
	for (int i = 0; i < 1000; i++) {
		ck_assert_uint_eq(ts[i]->rx, 4096 + (uint64_t)i);
		ck_assert_int_eq(ts[i]->bad, 0);
	}
	ck_assert_int_eq(f.srv.nopen, 1000);
	ck_assert_int_eq(mux_session_nstreams(f.cli.s), 0);
	ck_assert_int_eq(mux_session_nstreams(f.srv.s), 0);
	ck_assert_int_eq(f.srv.closed + f.cli.closed, 0);
	fix_free(&f);
}
END_TEST

START_TEST(test_max_streams)
{
	struct mux_limits lim = { .max_streams = 4 };
	struct tstream *ts;
	struct fix f;

	/* A peer that opens too many gets REFUSED_STREAM for the extra one. */
	fix_init(&f);
	f.srv.open_mode = OPEN_PENDING;
	fix_raw_server(&f, &lim);
	for (uint32_t id = 1; id <= 9; id += 2)
		raw_open(&f.raw, id, "a.example");
	RUN_UNTIL(&f, f.raw.counts[MUX_RESET] == 1, GUARD_MS);
	ck_assert_uint_eq(f.raw.reset_stream, 9);
	ck_assert_int_eq(f.raw.reset_code, MUX_REFUSED_STREAM);
	ck_assert_int_eq(f.srv.nopen, 4);
	ck_assert_int_eq(mux_session_nstreams(f.srv.s), 4);
	ck_assert(mux_session_established(f.srv.s));
	fix_free(&f);

	/* A client keeps to the max_streams of WELCOME. */
	fix_init(&f);
	lim.max_streams = 2;
	fix_pair(&f, &lim, NULL);
	ck_assert_ptr_nonnull(ts_open(&f.cli, "a.example", TS_SINK, 0, false)->st);
	ck_assert_ptr_nonnull(ts_open(&f.cli, "a.example", TS_SINK, 0, false)->st);
	ck_assert_ptr_null(ts_open(&f.cli, "a.example", TS_SINK, 0, false)->st);
	ts = f.ts[0];
	mux_stream_reset(ts->st, MUX_CANCEL, "");
	ck_assert_ptr_nonnull(ts_open(&f.cli, "a.example", TS_SINK, 0, false)->st);
	fix_free(&f);
}
END_TEST

/* Rapid Reset (CVE-2023-44487): open and reset at line rate. */
START_TEST(test_rapid_reset)
{
	struct mux_limits lim = { .reset_burst = 100, .open_burst = 100000 };
	struct fix f;

	for (int c = 0; c < 2; c++) {
		fix_init(&f);
		fix_raw_server(&f, c == 0 ? NULL : &lim);
		for (uint32_t i = 0; i < 3000; i++) {
			raw_open(&f.raw, 2 * i + 1, "a.example");
			raw_reset(&f.raw, 2 * i + 1, MUX_CANCEL);
		}
		RUN_UNTIL(&f, f.srv.closed && f.raw.counts[MUX_GOAWAY] == 1, GUARD_MS);
		ck_assert_int_eq(f.srv.code, MUX_ENHANCE_YOUR_CALM);
		ck_assert_int_eq(f.raw.goaway_code, MUX_ENHANCE_YOUR_CALM);
		if (c == 0) {
			ck_assert_int_ge(f.srv.nopen, 1000);
			ck_assert_int_lt(f.srv.nopen, 1100);
		} else {
			ck_assert_int_ge(f.srv.nopen, 100);
			ck_assert_int_lt(f.srv.nopen, 150);
		}
		fix_free(&f);
	}
}
END_TEST

/* CVE-2019-9512: a PING flood is answered for a while, then the session is closed. */
START_TEST(test_ping_flood)
{
	struct fix f;

	fix_init(&f);
	fix_raw_server(&f, NULL);
	for (int i = 0; i < 3000; i++)
		raw_frame(&f.raw, MUX_PING, 0, 0, "pingpong", 8);
	RUN_UNTIL(&f, f.srv.closed && f.raw.counts[MUX_GOAWAY] == 1, GUARD_MS);
	ck_assert_int_eq(f.srv.code, MUX_ENHANCE_YOUR_CALM);
	ck_assert_int_eq(f.raw.goaway_code, MUX_ENHANCE_YOUR_CALM);
	ck_assert_int_ge(f.raw.ping_acks, 1000);
	ck_assert_int_lt(f.raw.ping_acks, 1100);
	ck_assert_mem_eq(f.raw.ping_payload, "pingpong", 8);
	fix_free(&f);
}
END_TEST

/* Empty DATA frames (CVE-2019-9518) and WINDOWs for closed streams are limited too. */
START_TEST(test_empty_frames_flood)
{
	struct fix f;

	for (int c = 0; c < 2; c++) {
		fix_init(&f);
		f.srv.ts_mode = TS_HOLD;
		fix_raw_server(&f, NULL);
		raw_open(&f.raw, 1, "a.example");
		if (c == 1)
			raw_reset(&f.raw, 1, MUX_CANCEL);
		for (int i = 0; i < 3000; i++) {
			if (c == 0)
				raw_frame(&f.raw, MUX_DATA, 0, 1, NULL, 0);
			else
				raw_u32(&f.raw, MUX_WINDOW, 1, 1);
		}
		RUN_UNTIL(&f, f.srv.closed, GUARD_MS);
		ck_assert_int_eq(f.srv.code, MUX_ENHANCE_YOUR_CALM);
		fix_free(&f);
	}
}
END_TEST

/* Receive-window auto-tuning: a reader that keeps up gets twice the window (the extra comes as
 * credit), up to max_window; a slow one keeps its window; data beyond it is still refused. */
START_TEST(test_window_tuning)
{
	struct mux_limits lim = { .initial_window = 16384, .max_window = 65536 };
	static uint8_t data[16384];
	struct tstream *sts;
	uint64_t want = 0;
	uint32_t win;
	struct fix f;

	fix_init(&f);
	f.srv.ts_mode = TS_HOLD;
	fix_raw_server(&f, &lim);
	raw_open(&f.raw, 1, "a.example");
	/* Fast: each window consumed at once. 16 -> 32 -> 64 KiB, then no further. */
	for (int round = 0, sent = 0; round < 4; round++, sent = 0) {
		win = round == 0 ? 16384 : round == 1 ? 32768 : 65536;
		for (; sent < (int)win; sent += (int)sizeof(data))
			raw_frame(&f.raw, MUX_DATA, 0, 1, data, sizeof(data));
		RUN_UNTIL(&f, f.srv.last != NULL && f.srv.last->st != NULL &&
		    evbuffer_get_length(mux_stream_input(f.srv.last->st)) == win, GUARD_MS);
		sts = f.srv.last;
		ck_assert_uint_eq(mux_stream_window(sts->st), win);
		evbuffer_drain(mux_stream_input(sts->st), win);
		mux_stream_consumed(sts->st, win);
		want += win < 65536 ? 2 * (uint64_t)win : win;	/* the window back, plus growth */
		RUN_UNTIL(&f, f.raw.credit == want, GUARD_MS);
		ck_assert_uint_eq(f.raw.credit, want);
	}
	ck_assert_uint_eq(mux_stream_window(sts->st), 65536);
	/* Beyond even the grown window: reset. */
	for (int i = 0; i < 4; i++)
		raw_frame(&f.raw, MUX_DATA, 0, 1, data, sizeof(data));
	raw_frame(&f.raw, MUX_DATA, 0, 1, data, 1);
	RUN_UNTIL(&f, f.raw.counts[MUX_RESET] == 1, GUARD_MS);
	ck_assert_int_eq(f.raw.reset_code, MUX_FLOW_CONTROL);

	/* Slow: a window consumed after more than 100 ms earns no growth. */
	raw_open(&f.raw, 3, "a.example");
	raw_frame(&f.raw, MUX_DATA, 0, 3, data, sizeof(data));
	RUN_UNTIL(&f, f.srv.last != sts && f.srv.last->st != NULL &&
	    evbuffer_get_length(mux_stream_input(f.srv.last->st)) == 16384, GUARD_MS);
	sts = f.srv.last;
	RUN_FOR(&f, 150);
	want = f.raw.credit + 16384;
	evbuffer_drain(mux_stream_input(sts->st), 16384);
	mux_stream_consumed(sts->st, 16384);
	RUN_UNTIL(&f, f.raw.credit == want, GUARD_MS);
	RUN_FOR(&f, 20);
	ck_assert_uint_eq(f.raw.credit, want);
	ck_assert_uint_eq(mux_stream_window(sts->st), 16384);
	fix_free(&f);
}
END_TEST

START_TEST(test_flow_control)
{
	struct mux_limits lim = { .initial_window = 16384, .max_window = 16384 };
	static uint8_t data[16385];
	struct tstream *sts;
	struct fix f;

	fix_init(&f);
	f.srv.ts_mode = TS_HOLD;
	fix_raw_server(&f, &lim);
	/* A WINDOW taking the send window above 2^31-1 resets the stream. */
	raw_open(&f.raw, 1, "a.example");
	raw_u32(&f.raw, MUX_WINDOW, 1, 0x7fffffff);
	RUN_UNTIL(&f, f.raw.counts[MUX_RESET] == 1, GUARD_MS);
	ck_assert_uint_eq(f.raw.reset_stream, 1);
	ck_assert_int_eq(f.raw.reset_code, MUX_FLOW_CONTROL);
	ck_assert_int_eq(f.srv.last->code, MUX_FLOW_CONTROL);

	/* A full window is fine; credit comes only for what the application consumed. */
	raw_open(&f.raw, 3, "a.example");
	raw_frame(&f.raw, MUX_DATA, 0, 3, data, 16384);
	RUN_UNTIL(&f, f.srv.last->rx == 0 && f.srv.last->st != NULL &&
	    evbuffer_get_length(mux_stream_input(f.srv.last->st)) == 16384, GUARD_MS);
	sts = f.srv.last;
	mux_stream_consumed(sts->st, 1 << 20);	/* nothing left the input: no credit */
	RUN_FOR(&f, 50);
	ck_assert_uint_eq(f.raw.credit, 0);
	evbuffer_drain(mux_stream_input(sts->st), 16384);
	mux_stream_consumed(sts->st, 1 << 20);
	RUN_UNTIL(&f, f.raw.credit == 16384, GUARD_MS);
	ck_assert_uint_eq(f.raw.credit, 16384);
	/* Beyond the window: the stream is reset. */
	raw_frame(&f.raw, MUX_DATA, 0, 3, data, 16384);
	raw_frame(&f.raw, MUX_DATA, 0, 3, data, 1);
	RUN_UNTIL(&f, f.raw.counts[MUX_RESET] == 2, GUARD_MS);
	ck_assert_uint_eq(f.raw.reset_stream, 3);
	ck_assert_int_eq(f.raw.reset_code, MUX_FLOW_CONTROL);
	ck_assert(sts->closed);
	ck_assert_int_eq(sts->code, MUX_FLOW_CONTROL);
	ck_assert(mux_session_established(f.srv.s));
	/* Again: the session is closed. */
	raw_open(&f.raw, 5, "a.example");
	raw_frame(&f.raw, MUX_DATA, 0, 5, data, 16385 - 1);
	raw_frame(&f.raw, MUX_DATA, 0, 5, data, 1);
	RUN_UNTIL(&f, f.srv.closed && f.raw.counts[MUX_GOAWAY] == 1, GUARD_MS);
	ck_assert_int_eq(f.srv.code, MUX_FLOW_CONTROL);
	ck_assert_int_eq(f.raw.goaway_code, MUX_FLOW_CONTROL);
	fix_free(&f);
}
END_TEST

/* Each hostile frame after set-up is a PROTOCOL_ERROR: GOAWAY and close. */
START_TEST(test_protocol_errors)
{
	uint8_t hdr[MUX_HEADER_LEN], ping[8] = { 0 }, open[64], hello[MUX_MAX_HELLO];
	struct mux_hello h;
	struct fix f;
	int n;

	for (int c = 0; c < 16; c++) {
		fix_init(&f);
		f.srv.open_mode = c == 9 ? OPEN_PENDING : OPEN_ACCEPT;
		fix_raw_server(&f, NULL);
		memset(hdr, 0, sizeof(hdr));
		hdr[0] = MUX_VERSION;
		switch (c) {
		case 0:		/* oversized length, header only */
			hdr[1] = MUX_DATA, hdr[7] = 1, hdr[10] = 0x40, hdr[11] = 0x01;
			raw_bytes(&f.raw, hdr, sizeof(hdr));
			break;
		case 1:		/* bad version */
			hdr[0] = 2, hdr[1] = MUX_PING, hdr[11] = 8;
			raw_bytes(&f.raw, hdr, sizeof(hdr));
			raw_bytes(&f.raw, ping, 8);
			break;
		case 2:		/* unknown type */
			hdr[1] = MUX_KEYS + 1;
			raw_bytes(&f.raw, hdr, sizeof(hdr));
			break;
		case 3:		/* DATA on a stream never opened (theirs) */
			raw_frame(&f.raw, MUX_DATA, 0, 1, "x", 1);
			break;
		case 4:		/* DATA on a stream never opened (ours) */
			raw_frame(&f.raw, MUX_DATA, 0, 2, "x", 1);
			break;
		case 5:		/* WINDOW of 0 */
			raw_open(&f.raw, 1, "a.example");
			raw_u32(&f.raw, MUX_WINDOW, 1, 0);
			break;
		case 6:		/* OPEN with an id of the other side */
			raw_open(&f.raw, 2, "a.example");
			break;
		case 7:		/* OPEN ids must increase */
			raw_open(&f.raw, 5, "a.example");
			raw_open(&f.raw, 3, "a.example");
			break;
		case 8:		/* HELLO again */
			client_hello(&h);
			n = mux_hello_encode(&h, hello, sizeof(hello));
			raw_frame(&f.raw, MUX_HELLO, 0, 0, hello, (size_t)n);
			break;
		case 9:		/* DATA before OPEN_OK */
			raw_open(&f.raw, 1, "a.example");
			raw_frame(&f.raw, MUX_DATA, 0, 1, "x", 1);
			break;
		case 10:	/* RESET of a stream never opened */
			raw_reset(&f.raw, 7, MUX_CANCEL);
			break;
		case 11:	/* OPEN_OK for a stream the peer opened itself */
			raw_open(&f.raw, 1, "a.example");
			raw_frame(&f.raw, MUX_OPEN_OK, 0, 1, NULL, 0);
			break;
		case 12:	/* OPEN with a trailing byte */
			n = mux_open_encode("a.example", NULL, open, sizeof(open));
			open[n] = 0;
			raw_frame(&f.raw, MUX_OPEN, 0, 1, open, (size_t)n + 1);
			break;
		case 13:	/* CHECK_OK sent to the server */
			raw_frame(&f.raw, MUX_CHECK_OK, 0, 0, "\0\0\0\1\0\0\0\0", 8);
			break;
		case 14:	/* OPEN for a wildcard hostname */
			open[0] = 0, open[1] = 5;
			memcpy(open + 2, "*.a.b", 5);
			memset(open + 7, 0, 4);
			raw_frame(&f.raw, MUX_OPEN, 0, 1, open, 11);
			break;
		case 15:	/* KEYS sent to the server */
			raw_frame(&f.raw, MUX_KEYS, 0, 0, "{\"keys\":[]}", 11);
			break;
		}
		RUN_UNTIL(&f, f.srv.closed && f.raw.counts[MUX_GOAWAY] == 1, GUARD_MS);
		ck_assert_msg(f.srv.closed == 1 && f.srv.code == MUX_PROTOCOL_ERROR,
		    "case %d: closed %d code %u", c, f.srv.closed, f.srv.code);
		ck_assert_int_eq(f.raw.goaway_code, MUX_PROTOCOL_ERROR);
		fix_free(&f);
	}
}
END_TEST

/* Frames for streams closed recently are ignored; their ids are not reused. */
START_TEST(test_closed_ids)
{
	struct fix f;

	fix_init(&f);
	f.srv.ts_mode = TS_HOLD;
	fix_raw_server(&f, NULL);
	raw_open(&f.raw, 1, "a.example");
	raw_reset(&f.raw, 1, MUX_CANCEL);
	raw_frame(&f.raw, MUX_DATA, 0, 1, "late", 4);
	raw_u32(&f.raw, MUX_WINDOW, 1, 100);
	raw_reset(&f.raw, 1, MUX_CANCEL);
	raw_frame(&f.raw, MUX_DATA, MUX_F_FIN, 1, NULL, 0);
	RUN_FOR(&f, 100);
	ck_assert_int_eq(f.srv.closed, 0);
	ck_assert(f.srv.last->closed);
	ck_assert_int_eq(f.srv.last->code, MUX_CANCEL);
	ck_assert_uint_eq(f.srv.last->rx, 0);
	ck_assert_int_eq(mux_session_nstreams(f.srv.s), 0);
	ck_assert_int_eq(f.raw.counts[MUX_GOAWAY], 0);
	raw_open(&f.raw, 1, "a.example");
	RUN_UNTIL(&f, f.srv.closed, GUARD_MS);
	ck_assert_int_eq(f.srv.code, MUX_PROTOCOL_ERROR);
	fix_free(&f);
}
END_TEST

/* Busy streams of one session take turns in runs of at most four frames (64 KiB): neither
 * one frame each (which made relays write 16 KiB at a time) nor one stream's whole window
 * before the other's first byte. */
START_TEST(test_pump_turns)
{
	struct fix f;
	int run = 0, longest = 0, switches = 0;

	fix_init(&f);
	f.srv.ts_mode = TS_HOLD;
	f.srv.reply_bytes = 200 * 1024;
	fix_raw_server(&f, NULL);
	raw_open(&f.raw, 1, "a.example");
	raw_open(&f.raw, 3, "a.example");
	RUN_UNTIL(&f, f.raw.data_bytes >= 400 * 1024, GUARD_MS);
	ck_assert_uint_eq(f.raw.data_bytes, 400 * 1024);
	ck_assert_int_gt(f.raw.ndata_seq, 24);
	for (int i = 0; i < f.raw.ndata_seq; i++) {
		ck_assert(f.raw.data_seq[i] == 1 || f.raw.data_seq[i] == 3);
		if (i > 0 && f.raw.data_seq[i] != f.raw.data_seq[i - 1]) {
			switches++;
			run = 0;
		}
		if (++run > longest)
			longest = run;
	}
	/* 13 frames per stream (200 KiB): 1111 3333 1111 3333 1111 3333 1 3. */
	ck_assert_msg(longest == 4 && switches >= 5, "longest run %d, %d switches", longest,
	    switches);
	fix_free(&f);
}
END_TEST

static const uint8_t drip_frame[20] = { 1, MUX_PING, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8 };
static int drip_pos;

static void
drip_cb(evutil_socket_t fd, short what, void *arg)
{
	struct raw *r = arg;

	if (drip_pos < (int)sizeof(drip_frame))
		raw_bytes(r, drip_frame + drip_pos++, 1);
}

START_TEST(test_keepalive)
{
	struct mux_limits lim = { .keepalive_ms = 100 };
	struct timeval tv = { 0, 30000 };
	struct event *drip;
	struct fix f;
	uint64_t t0;

	/* A silent peer: PINGed after 100 ms, closed after 200 ms. */
	fix_init(&f);
	fix_raw_server(&f, &lim);
	t0 = mono_ms();
	RUN_UNTIL(&f, f.srv.closed, GUARD_MS);
	ck_assert_int_eq(f.srv.code, MUX_TIMEOUT);
	ck_assert_uint_ge(mono_ms() - t0, 180);
	ck_assert_uint_lt(mono_ms() - t0, 2500);	/* 200 ms, with room for loaded machines */
	ck_assert_int_ge(f.raw.counts[MUX_PING], 1);
	fix_free(&f);

	/* A peer dripping a frame a byte at a time is just as silent. */
	fix_init(&f);
	fix_raw_server(&f, &lim);
	drip_pos = 0;
	drip = event_new(f.base, -1, EV_PERSIST, drip_cb, &f.raw);
	event_add(drip, &tv);
	t0 = mono_ms();
	RUN_UNTIL(&f, f.srv.closed, GUARD_MS);
	ck_assert_int_eq(f.srv.code, MUX_TIMEOUT);
	ck_assert_uint_lt(mono_ms() - t0, 2500);
	ck_assert_int_gt(drip_pos, 3);
	ck_assert_int_lt(drip_pos, (int)sizeof(drip_frame));
	event_free(drip);
	fix_free(&f);

	/* Two live peers keep each other alive with PINGs. */
	fix_init(&f);
	fix_pair(&f, &lim, NULL);
	ck_assert_int_eq(f.cli.welcome.keepalive_ms, 100);
	RUN_FOR(&f, 800);
	ck_assert_int_eq(f.srv.closed + f.cli.closed, 0);
	ck_assert(mux_session_established(f.srv.s));
	ck_assert(mux_session_established(f.cli.s));
	fix_free(&f);
}
END_TEST

START_TEST(test_goaway)
{
	struct tstream *cts;
	struct fix f;

	fix_init(&f);
	fix_pair(&f, NULL, NULL);
	f.srv.ts_mode = TS_ECHO;
	cts = ts_open(&f.cli, "a.example.com", TS_SINK, 2 << 20, false);
	RUN_UNTIL(&f, f.srv.last != NULL && f.srv.last->rx > 0, GUARD_MS);
	mux_goaway(f.srv.s, MUX_SHUTTING_DOWN, "draining");
	RUN_UNTIL(&f, f.cli.ngoaway == 1, GUARD_MS);
	ck_assert_int_eq(f.cli.goaway_code, MUX_SHUTTING_DOWN);
	ck_assert_str_eq(f.cli.goaway_reason, "draining");
	ck_assert(mux_session_draining(f.cli.s));
	ck_assert(mux_session_draining(f.srv.s));
	ck_assert_ptr_null(mux_stream_open(f.cli.s, "b.example.com", NULL, NULL, NULL));
	ck_assert_ptr_null(mux_stream_open(f.srv.s, "b.example.com", NULL, NULL, NULL));
	/* The open stream finishes normally. */
	cts->fin_after = true;
	ts_send_more(cts);
	RUN_UNTIL(&f, cts->closed, BULK_MS);
	ck_assert_int_eq(cts->code, MUX_OK);
	ck_assert_uint_eq(cts->rx, 2 << 20);
	ck_assert_int_eq(cts->bad, 0);
	/* mux_close: GOAWAY with the code, flushed, closed callback later (never inside). */
	f.srv.free_on_close = true;
	mux_close(f.srv.s, MUX_SHUTTING_DOWN, "bye");
	ck_assert_int_eq(f.srv.closed, 0);
	RUN_UNTIL(&f, f.srv.closed && f.cli.closed, GUARD_MS);
	ck_assert_int_eq(f.srv.code, MUX_SHUTTING_DOWN);
	ck_assert_int_eq(f.cli.code, MUX_SHUTTING_DOWN);
	ck_assert_str_eq(f.cli.reason, "bye");
	ck_assert_ptr_null(f.srv.s);
	fix_free(&f);

	/* OPENs crossing our GOAWAY are refused. */
	fix_init(&f);
	fix_raw_server(&f, NULL);
	mux_goaway(f.srv.s, MUX_SHUTTING_DOWN, "draining");
	RUN_UNTIL(&f, f.raw.counts[MUX_GOAWAY] == 1, GUARD_MS);
	ck_assert_uint_eq(f.raw.goaway_last, 0);
	raw_open(&f.raw, 1, "a.example");
	RUN_UNTIL(&f, f.raw.counts[MUX_RESET] == 1, GUARD_MS);
	ck_assert_uint_eq(f.raw.reset_stream, 1);
	ck_assert_int_eq(f.raw.reset_code, MUX_REFUSED_STREAM);
	ck_assert_int_eq(f.srv.nopen, 0);
	fix_free(&f);
}
END_TEST

START_TEST(test_check)
{
	struct mux_limits lim = { .max_checks = 2 };
	uint8_t p[64];
	struct fix f;

	fix_init(&f);
	f.srv.check_answer = true;
	f.srv.check_code = MUX_NOT_ALLOWED;
	fix_pair(&f, NULL, NULL);
	ck_assert_int_eq(mux_check(f.cli.s, 7, "db.example.com"), 0);
	ck_assert_int_eq(mux_check(f.cli.s, 7, "db.example.com"), -1);	/* in flight */
	ck_assert_int_eq(mux_check(f.cli.s, 8, "bad host"), -1);
	ck_assert_int_eq(mux_check(f.srv.s, 1, "db.example.com"), -1);	/* servers answer */
	RUN_UNTIL(&f, f.cli.ncheck_reply == 1, GUARD_MS);
	ck_assert_int_eq(f.srv.ncheck, 1);
	ck_assert_uint_eq(f.srv.check_id, 7);
	ck_assert_str_eq(f.srv.open_host, "db.example.com");
	ck_assert_uint_eq(f.cli.check_id, 7);
	ck_assert_int_eq(f.cli.check_code_got, MUX_NOT_ALLOWED);
	ck_assert_str_eq(f.cli.check_text, "policy says so");
	ck_assert_int_eq(mux_check_reply(f.srv.s, 7, MUX_OK, ""), -1);	/* answered */
	fix_free(&f);

	/* CHECKs in flight are bounded on the server. */
	fix_init(&f);
	fix_raw_server(&f, &lim);
	for (uint32_t id = 1; id <= 3; id++) {
		p[0] = 0, p[1] = 0, p[2] = 0, p[3] = (uint8_t)id, p[4] = 0, p[5] = 9;
		memcpy(p + 6, "a.example", 9);
		raw_frame(&f.raw, MUX_CHECK, 0, 0, p, 15);
	}
	RUN_UNTIL(&f, f.raw.counts[MUX_CHECK_OK] == 1, GUARD_MS);
	ck_assert_uint_eq(f.raw.check_ok_id, 3);
	ck_assert_int_eq(f.raw.check_ok_code, MUX_REFUSED_STREAM);
	ck_assert_int_eq(f.srv.ncheck, 2);
	ck_assert_int_eq(mux_check_reply(f.srv.s, 1, MUX_OK, "ok"), 0);
	RUN_UNTIL(&f, f.raw.counts[MUX_CHECK_OK] == 2, GUARD_MS);
	ck_assert_uint_eq(f.raw.check_ok_id, 1);
	ck_assert_int_eq(f.raw.check_ok_code, MUX_OK);
	fix_free(&f);
}
END_TEST

/* A server and a client that says it is a connector, on a socketpair, established. */
static void
fix_connector_pair(struct fix *f)
{
	struct mux_hello h;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	peer_start(&f->srv, sv[0], true, NULL, false);
	peer_start(&f->cli, sv[1], false, NULL, false);
	connector_hello(&h);
	ck_assert_int_eq(mux_send_hello(f->cli.s, &h), 0);
	RUN_UNTIL(f, f->cli.nwelcome == 1 || f->cli.closed, GUARD_MS);
	ck_assert_int_eq(f->cli.nwelcome, 1);
}

/* KEYS reaches a connector (whole, NUL-terminated); anyone else receiving it fails. */
START_TEST(test_keys)
{
	static char big[MUX_MAX_KEYS + 1];
	static struct mux_meta m;
	struct fix f;

	fix_init(&f);
	fix_connector_pair(&f);
	ck_assert_int_eq(mux_send_keys(f.cli.s, "{}", 2), -1);	/* only the edge sends it */
	ck_assert_int_eq(mux_send_keys(f.srv.s, "", 0), -1);
	ck_assert_int_eq(mux_send_keys(f.srv.s, "{\0}", 3), -1);
	memset(big, ' ', sizeof(big));
	big[0] = '{';
	ck_assert_int_eq(mux_send_keys(f.srv.s, big, MUX_MAX_KEYS + 1), -1);
	ck_assert_int_eq(mux_send_keys(f.srv.s, "{\"keys\":[]}", 11), 0);
	big[MUX_MAX_KEYS - 1] = '}';
	ck_assert_int_eq(mux_send_keys(f.srv.s, big, MUX_MAX_KEYS), 0);
	RUN_UNTIL(&f, f.cli.nkeys == 2, GUARD_MS);
	ck_assert_int_eq(f.cli.nkeys, 2);
	ck_assert_uint_eq(f.cli.keys_len, MUX_MAX_KEYS);
	ck_assert(f.cli.keys_nul);
	ck_assert_str_eq(f.cli.keys_head, "{                              ");
	/* The app token rides on OPEN towards the connector. */
	memset(&m, 0, sizeof(m));
	util_strlcpy(m.identity, "email:alice@example.com", sizeof(m.identity));
	util_strlcpy(m.token, "aaa.bbb.ccc", sizeof(m.token));
	f.cli.open_mode = OPEN_REFUSE;
	f.cli.refuse_code = MUX_INGRESS_REFUSED;
	f.cli.refuse_reason = "no";
	ck_assert_ptr_nonnull(mux_stream_open(f.srv.s, "app.example.com", &m, NULL, NULL));
	RUN_UNTIL(&f, f.cli.nopen == 1, GUARD_MS);
	ck_assert_str_eq(f.cli.open_meta.token, "aaa.bbb.ccc");
	ck_assert_str_eq(f.cli.open_meta.identity, "email:alice@example.com");
	ck_assert_int_eq(f.srv.closed + f.cli.closed, 0);
	fix_free(&f);

	/* A client (not a connector) receiving KEYS: protocol error. */
	fix_init(&f);
	fix_pair(&f, NULL, NULL);
	ck_assert_int_eq(mux_send_keys(f.srv.s, "{\"keys\":[]}", 11), 0);
	RUN_UNTIL(&f, f.cli.closed && f.srv.closed, GUARD_MS);
	ck_assert_int_eq(f.cli.nkeys, 0);
	ck_assert_int_eq(f.cli.code, MUX_PROTOCOL_ERROR);
	ck_assert_int_eq(f.srv.goaway_code, MUX_PROTOCOL_ERROR);	/* the client's GOAWAY */
	fix_free(&f);
}
END_TEST

/* --- splicing ------------------------------------------------------------------------------ */

/* The local application of the 64 MiB test: writes the pattern, reads it back. */
struct user {
	struct bufferevent	*bev;
	uint64_t		 total, sent, rx, tx_fnv, rx_fnv;
	int			 bad;
	bool			 eof, shut;
};

/* The origin: an echo server with back-pressure (le-proxy style). */
struct echo {
	struct bufferevent	*bev;
	uint64_t		 n;
	bool			 eof, shut;
};

struct done_rec {
	int			 n;
	uint16_t		 code;
	char			 reason[MUX_MAX_REASON + 1];
};

struct splice_test {
	struct user		 user;
	struct echo		 echo;
	struct bufferevent	*origin;	/* the connector's side of the origin pair */
	struct done_rec		 cli_done, srv_done;
	size_t			 max_out;
	struct fix		*f;
};

static struct splice_test *splice_test;

static void
done_record(void *arg, uint16_t code, const char *reason)
{
	struct done_rec *d = arg;

	d->n++;
	d->code = code;
	util_strlcpy(d->reason, reason, sizeof(d->reason));
}

/* Writes the pattern while the output is below 512 KiB; shuts down when all is out. */
static void
user_fill(struct user *u)
{
	struct evbuffer *out = bufferevent_get_output(u->bev);
	uint8_t buf[65536];
	size_t n;

	while (u->sent < u->total && evbuffer_get_length(out) < 512 * 1024) {
		n = u->total - u->sent < sizeof(buf) ? (size_t)(u->total - u->sent) : sizeof(buf);
		pat_fill(buf, u->sent, n);
		u->tx_fnv = fnv(u->tx_fnv, buf, n);
		bufferevent_write(u->bev, buf, n);
		u->sent += n;
	}
	if (u->sent == u->total && !u->shut && evbuffer_get_length(out) == 0) {
		u->shut = true;
		shutdown(bufferevent_getfd(u->bev), SHUT_WR);
	}
}

/* Checks the echoed bytes against the pattern. */
static void
user_read_cb(struct bufferevent *bev, void *arg)
{
	struct user *u = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t buf[65536];
	size_t n;

	while ((n = evbuffer_remove(in, buf, sizeof(buf))) > 0 && n != (size_t)-1) {
		for (size_t i = 0; i < n; i++)
			if (buf[i] != pat(u->rx + i))
				u->bad++;
		u->rx_fnv = fnv(u->rx_fnv, buf, n);
		u->rx += n;
	}
}

static void
user_write_cb(struct bufferevent *bev, void *arg)
{
	user_fill(arg);
}

static void
user_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct user *u = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		u->eof = true;
}

static void
echo_read_cb(struct bufferevent *bev, void *arg)
{
	struct echo *e = arg;
	struct evbuffer *in = bufferevent_get_input(bev), *out = bufferevent_get_output(bev);

	e->n += evbuffer_get_length(in);
	evbuffer_add_buffer(out, in);
	if (evbuffer_get_length(out) > 1024 * 1024)
		bufferevent_disable(bev, EV_READ);
}

static void
echo_write_cb(struct bufferevent *bev, void *arg)
{
	struct echo *e = arg;

	if (!e->eof)
		bufferevent_enable(bev, EV_READ);
	else if (!e->shut && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		e->shut = true;
		shutdown(bufferevent_getfd(bev), SHUT_WR);
	}
}

static void
echo_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct echo *e = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		e->eof = true;
		echo_write_cb(bev, arg);
	}
}

/* The connector side: splice every stream to the origin. */
static void
splice_open_hook(struct peer *p, struct mux_stream *st, const char *host)
{
	ck_assert_int_eq(mux_splice_bev(st, splice_test->origin, done_record,
	    &splice_test->srv_done), 0);
	splice_test->origin = NULL;
}

static void
sample_cb(evutil_socket_t fd, short what, void *arg)
{
	struct splice_test *t = arg;
	size_t a = evbuffer_get_length(bufferevent_get_output(mux_session_bev(t->f->srv.s)));
	size_t b = evbuffer_get_length(bufferevent_get_output(mux_session_bev(t->f->cli.s)));

	if (a > t->max_out)
		t->max_out = a;
	if (b > t->max_out)
		t->max_out = b;
}

/* 64 MiB through client app -> splice -> mux -> splice -> echo origin, and back. */
START_TEST(test_splice_bev)
{
	static struct splice_test t;
	struct timeval tv = { 0, 2000 };
	struct mux_stream *st;
	struct event *sample;
	struct fix f;
	int o[2], l[2];

	memset(&t, 0, sizeof(t));
	splice_test = &t;
	t.f = &f;
	fix_init(&f);
	fix_pair(&f, NULL, NULL);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, o), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, l), 0);
	t.origin = sock_bev(&f, o[0]);
	t.echo.bev = sock_bev(&f, o[1]);
	bufferevent_setcb(t.echo.bev, echo_read_cb, echo_write_cb, echo_event_cb, &t.echo);
	bufferevent_setwatermark(t.echo.bev, EV_WRITE, 0, 0);
	bufferevent_enable(t.echo.bev, EV_READ | EV_WRITE);
	t.user.bev = sock_bev(&f, l[1]);
	t.user.total = 64ULL << 20;
	t.user.tx_fnv = t.user.rx_fnv = FNV_INIT;
	bufferevent_setcb(t.user.bev, user_read_cb, user_write_cb, user_event_cb, &t.user);
	bufferevent_setwatermark(t.user.bev, EV_WRITE, 0, 0);
	bufferevent_enable(t.user.bev, EV_READ | EV_WRITE);
	f.srv.open_hook = splice_open_hook;
	st = mux_stream_open(f.cli.s, "origin.example.com", NULL, NULL, NULL);
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(mux_splice_bev(st, sock_bev(&f, l[0]), done_record, &t.cli_done), 0);
	ck_assert_int_eq(mux_splice_bev(st, t.user.bev, done_record, &t.cli_done), -1);
	sample = event_new(f.base, -1, EV_PERSIST, sample_cb, &t);
	event_add(sample, &tv);
	user_fill(&t.user);
	RUN_UNTIL(&f, t.user.eof && t.cli_done.n == 1 && t.srv_done.n == 1, 2 * BULK_MS);
	event_free(sample);
	ck_assert_uint_eq(t.user.rx, t.user.total);
	ck_assert_int_eq(t.user.bad, 0);
	ck_assert_uint_eq(t.user.rx_fnv, t.user.tx_fnv);
	ck_assert_uint_eq(t.echo.n, t.user.total);
	ck_assert_int_eq(t.cli_done.n, 1);
	ck_assert_int_eq(t.cli_done.code, MUX_OK);
	ck_assert_int_eq(t.srv_done.n, 1);
	ck_assert_int_eq(t.srv_done.code, MUX_OK);
	ck_assert(t.echo.shut);
	ck_assert_uint_le(t.max_out, MUX_OUTPUT_HIGH + 2 * MUX_MAX_FRAME);
	ck_assert_int_eq(mux_session_nstreams(f.cli.s), 0);
	ck_assert_int_eq(mux_session_nstreams(f.srv.s), 0);
	bufferevent_free(t.user.bev);
	bufferevent_free(t.echo.bev);
	fix_free(&f);
}
END_TEST

/* A RESET closes the origin connection; an origin error resets the stream. */
START_TEST(test_splice_bev_reset)
{
	static struct splice_test t;
	struct tstream *cts;
	struct mux_stream *st;
	struct fix f;
	int o[2];

	for (int c = 0; c < 2; c++) {
		memset(&t, 0, sizeof(t));
		splice_test = &t;
		t.f = &f;
		fix_init(&f);
		fix_pair(&f, NULL, NULL);
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, o), 0);
		t.origin = sock_bev(&f, o[0]);
		t.echo.bev = sock_bev(&f, o[1]);
		bufferevent_setcb(t.echo.bev, echo_read_cb, echo_write_cb, echo_event_cb, &t.echo);
		bufferevent_enable(t.echo.bev, EV_READ | EV_WRITE);
		f.srv.open_hook = splice_open_hook;
		cts = ts_open(&f.cli, "origin.example.com", TS_SINK, 1 << 20, false);
		RUN_UNTIL(&f, cts->rx > 1000, GUARD_MS);
		if (c == 0) {
			st = cts->st;
			mux_stream_reset(st, MUX_CANCEL, "client went away");
			RUN_UNTIL(&f, t.srv_done.n == 1 && t.echo.eof, GUARD_MS);
			ck_assert_int_eq(t.srv_done.code, MUX_CANCEL);
			ck_assert_str_eq(t.srv_done.reason, "client went away");
			ck_assert(t.echo.eof);	/* the origin connection was closed */
		} else {
			/* The origin vanishes with data unread: an error, never a clean end. */
			bufferevent_free(t.echo.bev);
			t.echo.bev = NULL;
			RUN_UNTIL(&f, cts->closed && t.srv_done.n == 1, GUARD_MS);
			ck_assert_int_ne(cts->code, MUX_OK);
			ck_assert_int_ne(t.srv_done.code, MUX_OK);
		}
		ck_assert_int_eq(t.srv_done.n, 1);
		if (t.echo.bev != NULL)
			bufferevent_free(t.echo.bev);
		fix_free(&f);
	}
}
END_TEST

struct relay {
	struct mux_stream	*a, *b;
	struct done_rec		 done;
};

static struct relay relays[8];
static int nrelays;

/* The edge: joins each client stream to a new stream towards the connector. */
static void
edge_open_hook(struct peer *p, struct mux_stream *st, const char *host)
{
	struct mux_meta m = { .identity = "token:ci", .client_addr = "127.0.0.1:9" };
	struct relay *r = &relays[nrelays++];

	r->a = st;
	r->b = mux_stream_open(p->f->srv2.s, host, &m, NULL, NULL);
	if (r->b == NULL) {
		mux_stream_reset(st, MUX_TUNNEL_DOWN, "no connector");
		return;
	}
	ck_assert_int_eq(mux_splice_streams(st, r->b, done_record, &r->done), 0);
}

/* client <-> edge (relay) <-> connector, with end-to-end back-pressure. */
START_TEST(test_splice_streams)
{
	struct tstream *cts, *kts;
	uint64_t sent;
	struct fix f;

	memset(relays, 0, sizeof(relays));
	nrelays = 0;
	fix_init(&f);
	fix_pair(&f, NULL, NULL);			/* client (cli) <-> edge (srv) */
	pair_up(&f, &f.srv2, &f.cli2, NULL, NULL);	/* connector (cli2) <-> edge (srv2) */
	f.srv.open_hook = edge_open_hook;
	f.cli2.ts_mode = TS_HOLD;
	f.cli2.reply_bytes = 1 << 20;
	cts = ts_open(&f.cli, "app.example.com", TS_SINK, 8 << 20, true);
	/* The connector does not read: everything stops within a few windows. */
	RUN_UNTIL(&f, f.cli2.last != NULL &&
	    evbuffer_get_length(mux_stream_input(f.cli2.last->st)) == MUX_INITIAL_WINDOW &&
	    mux_stream_write_space(cts->st) == 0, BULK_MS);
	kts = f.cli2.last;
	ck_assert(cts->opened);	/* OPEN_OK came through the relay */
	ck_assert_str_eq(f.cli2.open_host, "app.example.com");
	ck_assert_str_eq(f.cli2.open_meta.identity, "token:ci");
	RUN_FOR(&f, 100);
	sent = cts->sent;
	RUN_FOR(&f, 200);
	ck_assert_uint_eq(cts->sent, sent);
	/* Within the windows: the edge's input, its queue towards the connector and the
	 * connector's input (windows that auto-tuning may have grown while data flowed). */
	ck_assert_uint_le(mux_stream_window(relays[0].a), MUX_TUNED_WINDOW);
	ck_assert_uint_eq(mux_stream_window(kts->st), MUX_INITIAL_WINDOW);	/* never read */
	ck_assert_uint_le(sent, mux_stream_window(relays[0].a) + 2 * MUX_INITIAL_WINDOW +
	    MUX_MAX_FRAME);
	ck_assert_uint_le(evbuffer_get_length(mux_stream_input(relays[0].a)),
	    mux_stream_window(relays[0].a));
	ck_assert_uint_le(mux_stream_queued(relays[0].b), MUX_INITIAL_WINDOW + MUX_MAX_FRAME);
	/* It reads again: all of it arrives, the reply comes back, FINs cross, done once. */
	kts->mode = TS_SINK;
	ts_data(kts->st, kts);
	RUN_UNTIL(&f, cts->closed && kts->closed && relays[0].done.n == 1, BULK_MS);
	ck_assert_int_eq(cts->code, MUX_OK);
	ck_assert_int_eq(kts->code, MUX_OK);
	ck_assert_uint_eq(kts->rx, 8 << 20);
	ck_assert_int_eq(kts->bad, 0);
	ck_assert_uint_eq(cts->rx, 1 << 20);
	ck_assert_int_eq(cts->bad, 0);
	ck_assert_int_eq(relays[0].done.code, MUX_OK);
	ck_assert_int_eq(mux_session_nstreams(f.srv.s), 0);
	ck_assert_int_eq(mux_session_nstreams(f.srv2.s), 0);

	/* A RESET crosses the relay with its code and reason. */
	f.cli2.ts_mode = TS_SINK;
	f.cli2.reply_bytes = 0;
	cts = ts_open(&f.cli, "app.example.com", TS_SINK, 0, false);
	RUN_UNTIL(&f, cts->opened, GUARD_MS);
	kts = f.cli2.last;
	mux_stream_reset(cts->st, MUX_NOT_ALLOWED, "user said no");
	RUN_UNTIL(&f, kts->closed && relays[1].done.n == 1, GUARD_MS);
	ck_assert_int_eq(kts->code, MUX_NOT_ALLOWED);
	ck_assert_str_eq(kts->reason, "user said no");
	ck_assert_int_eq(relays[1].done.code, MUX_NOT_ALLOWED);

	/* The connector's refusal reaches the client. */
	f.cli2.open_mode = OPEN_REFUSE;
	f.cli2.refuse_code = MUX_ORIGIN_UNREACHABLE;
	f.cli2.refuse_reason = "connection refused by 10.0.0.1:80";
	cts = ts_open(&f.cli, "app.example.com", TS_SINK, 1000, true);
	RUN_UNTIL(&f, cts->closed && relays[2].done.n == 1, GUARD_MS);
	ck_assert(!cts->opened);
	ck_assert_int_eq(cts->code, MUX_ORIGIN_UNREACHABLE);
	ck_assert_str_eq(cts->reason, "connection refused by 10.0.0.1:80");
	ck_assert_int_eq(relays[2].done.code, MUX_ORIGIN_UNREACHABLE);

	/* The connector's session goes away: relayed streams are reset, not left hanging. */
	f.cli2.open_mode = OPEN_ACCEPT;
	cts = ts_open(&f.cli, "app.example.com", TS_SINK, 0, false);
	RUN_UNTIL(&f, cts->opened, GUARD_MS);
	mux_session_free(f.cli2.s);
	f.cli2.s = NULL;
	RUN_UNTIL(&f, cts->closed && relays[3].done.n == 1, GUARD_MS);
	ck_assert_int_ne(cts->code, MUX_OK);
	ck_assert_int_ne(relays[3].done.code, MUX_OK);
	ck_assert_int_eq(f.srv.closed, 0);
	fix_free(&f);
}
END_TEST

/* --- bounded memory against a peer that does not read -------------------------------------- */

START_TEST(test_peer_not_reading)
{
	struct mux_limits lim = { .initial_window = 8 << 20, .max_control_queue = 8 };
	struct evbuffer *out;
	size_t queued;
	uint64_t t0;
	struct tstream *sts;
	struct fix f;

	fix_init(&f);
	fix_raw_server(&f, &lim);
	sts = ts_open(&f.srv, "c.example.com", TS_HOLD, 8 << 20, false);
	ck_assert_ptr_nonnull(sts->st);
	RUN_UNTIL(&f, f.raw.last_open == 2, GUARD_MS);
	bufferevent_disable(f.raw.bev, EV_READ);
	raw_frame(&f.raw, MUX_OPEN_OK, 0, 2, NULL, 0);
	out = bufferevent_get_output(mux_session_bev(f.srv.s));
	/* Until the socket buffers are full and the output sits between the watermarks. */
	do {
		queued = mux_stream_queued(sts->st);
		RUN_FOR(&f, 100);
	} while (mux_stream_queued(sts->st) != queued);
	/* The writer writes on: the output fills to the high watermark and no further. */
	sts->to_send++;
	ts_send_more(sts);
	RUN_FOR(&f, 100);
	ck_assert_uint_ge(evbuffer_get_length(out), MUX_OUTPUT_HIGH);
	ck_assert_uint_le(evbuffer_get_length(out),
	    MUX_OUTPUT_HIGH + MUX_MAX_FRAME + MUX_HEADER_LEN);
	ck_assert_uint_gt(mux_stream_queued(sts->st), 4 << 20);
	/* Closing flushes for at most a second, then reports. */
	if (_i == 1) {
		t0 = mono_ms();
		mux_close(f.srv.s, MUX_SHUTTING_DOWN, "bye");
		RUN_UNTIL(&f, f.srv.closed, GUARD_MS);
		ck_assert_int_eq(f.srv.code, MUX_SHUTTING_DOWN);
		ck_assert_uint_ge(mono_ms() - t0, 900);
		ck_assert_uint_lt(mono_ms() - t0, 3000);
		fix_free(&f);
		return;
	}
	/* Answers to its PINGs pile up: it is dropped. */
	for (int i = 0; i < 20; i++)
		raw_frame(&f.raw, MUX_PING, 0, 0, "12345678", 8);
	RUN_UNTIL(&f, f.srv.closed, GUARD_MS);
	ck_assert_int_eq(f.srv.code, MUX_ENHANCE_YOUR_CALM);
	ck_assert_ptr_nonnull(strstr(f.srv.reason, "does not read"));
	ck_assert(sts->closed);
	ck_assert_int_eq(sts->code, MUX_ENHANCE_YOUR_CALM);
	fix_free(&f);
}
END_TEST

/* Calls out of place are refused; DATA after FIN resets the stream. */
START_TEST(test_misuse)
{
	struct mux_limits bad = { .initial_window = 0x80000000U };
	static uint8_t big[MUX_INITIAL_WINDOW + 2 * MUX_MAX_FRAME];
	struct tstream *cts, *cts2;
	struct fix f;
	int sv[2];

	fix_init(&f);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* Invalid limits: NULL, and the bufferevent is freed (ASan checks). */
	ck_assert_ptr_null(mux_session_new(f.base, sock_bev(&f, sv[0]), true, &bad, &p_cbs, NULL));
	bad.initial_window = 0;
	bad.keepalive_ms = 5;
	ck_assert_ptr_null(mux_session_new(f.base, sock_bev(&f, sv[1]), false, &bad, &p_cbs, NULL));
	fix_free(&f);

	fix_init(&f);
	fix_pair(&f, NULL, NULL);
	f.srv.open_mode = OPEN_PENDING;
	cts = ts_open(&f.cli, "a.example.com", TS_SINK, 0, false);
	cts2 = ts_open(&f.cli, "b.example.com", TS_SINK, 0, false);
	RUN_UNTIL(&f, f.srv.nopen == 2, GUARD_MS);
	ck_assert_int_eq(mux_stream_accept(cts->st), -1);	/* ours */
	ck_assert_int_eq(mux_stream_accept(f.srv.last->st), 0);
	ck_assert_int_eq(mux_stream_accept(f.srv.last->st), -1);	/* twice */
	ck_assert_int_eq(mux_splice_streams(cts->st, cts->st, NULL, NULL), -1);
	/* More than the write space is refused whole. */
	ck_assert(!mux_stream_write(cts->st, big, sizeof(big)));
	ck_assert_uint_eq(mux_stream_queued(cts->st), 0);
	ck_assert(mux_stream_write(cts->st, big, MUX_INITIAL_WINDOW + MUX_MAX_FRAME));
	ck_assert(!mux_stream_write(cts->st, big, 1));
	mux_stream_shutdown(cts2->st);
	ck_assert(!mux_stream_write(cts2->st, big, 1));	/* after FIN */
	ck_assert_uint_eq(mux_stream_write_space(cts2->st), 0);
	fix_free(&f);

	/* DATA after FIN: that stream is reset, the session goes on. */
	fix_init(&f);
	f.srv.ts_mode = TS_HOLD;
	fix_raw_server(&f, NULL);
	raw_open(&f.raw, 1, "a.example");
	raw_frame(&f.raw, MUX_DATA, MUX_F_FIN, 1, "end", 3);
	raw_frame(&f.raw, MUX_DATA, 0, 1, "more", 4);
	RUN_UNTIL(&f, f.raw.counts[MUX_RESET] == 1, GUARD_MS);
	ck_assert_uint_eq(f.raw.reset_stream, 1);
	ck_assert_int_eq(f.raw.reset_code, MUX_PROTOCOL_ERROR);
	ck_assert(f.srv.last->fin);
	ck_assert_int_eq(f.srv.last->code, MUX_PROTOCOL_ERROR);
	ck_assert(mux_session_established(f.srv.s));
	fix_free(&f);
}
END_TEST

/* --- re-entrancy --------------------------------------------------------------------------- */

START_TEST(test_free_in_callbacks)
{
	struct tstream *cts;
	struct fix f;
	int sv[2];

	/* The server frees its session from a stream's data callback. */
	fix_init(&f);
	fix_pair(&f, NULL, NULL);
	f.srv.free_on_data = true;
	cts = ts_open(&f.cli, "a.example.com", TS_SINK, 1 << 20, true);
	RUN_UNTIL(&f, f.cli.closed, GUARD_MS);
	ck_assert_ptr_null(f.srv.s);
	ck_assert(cts->closed);
	ck_assert_int_ne(cts->code, MUX_OK);
	/* EOF, or ECONNRESET since the server left data unread: never OK. */
	ck_assert(f.cli.code == MUX_CANCEL || f.cli.code == MUX_INTERNAL);
	ck_assert_int_eq(f.cli.streams_closed_at_close, 1);
	fix_free(&f);

	/* The server frees its session from the hello callback. */
	fix_init(&f);
	f.srv.free_in_hello = true;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	peer_server(&f, sv[0], NULL);
	peer_client(&f, sv[1], NULL, true);
	RUN_UNTIL(&f, f.cli.closed, GUARD_MS);
	ck_assert_int_eq(f.srv.nhello, 1);
	ck_assert_ptr_null(f.srv.s);
	ck_assert_int_eq(f.cli.nwelcome, 0);
	fix_free(&f);

	/* A session freed from its closed callback, while streams were open. */
	fix_init(&f);
	fix_pair(&f, NULL, NULL);
	f.srv.ts_mode = TS_HOLD;
	f.srv.free_on_close = f.cli.free_on_close = true;
	cts = ts_open(&f.cli, "a.example.com", TS_SINK, 1 << 20, false);
	RUN_UNTIL(&f, f.srv.last != NULL, GUARD_MS);
	mux_close(f.srv.s, MUX_SHUTTING_DOWN, "maintenance");
	RUN_UNTIL(&f, f.cli.closed && f.srv.closed, GUARD_MS);
	ck_assert_ptr_null(f.cli.s);
	ck_assert_int_eq(cts->code, MUX_SHUTTING_DOWN);
	ck_assert_int_eq(f.srv.last->code, MUX_SHUTTING_DOWN);
	fix_free(&f);
}
END_TEST

/* Secrets of HELLO never reach the log, even at debug level. */
START_TEST(test_no_secret_in_log)
{
	struct tstream *cts;
	char *text = NULL;
	struct fix f;
	FILE *fp;
	long n;

	fp = tmpfile();
	ck_assert_ptr_nonnull(fp);
	log_set_output(fp);
	log_set_level(LOG_LEVEL_DEBUG);
	fix_init(&f);
	fix_pair(&f, NULL, NULL);
	cts = ts_open(&f.cli, "a.example.com", TS_SINK, 1000, true);
	RUN_UNTIL(&f, cts->closed, GUARD_MS);
	fix_free(&f);
	log_set_level(LOG_LEVEL_ERROR);
	log_set_output(NULL);
	fflush(fp);
	n = ftell(fp);
	ck_assert_int_gt(n, 0);
	text = xcalloc(1, (size_t)n + 1);
	rewind(fp);
	ck_assert_uint_eq(fread(text, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	ck_assert_ptr_nonnull(strstr(text, "HELLO from a client"));
	ck_assert_ptr_null(strstr(text, "S3cr3t"));
	free(text);
}
END_TEST

/* The mux suite: codecs, sessions, limits and relays. */
Suite *
mux_suite(void)
{
	Suite *s = suite_create("mux");
	TCase *tc = tcase_create("codec");
	TCase *ts = tcase_create("session");
	TCase *tl = tcase_create("limits");
	TCase *tr = tcase_create("relay");

	/* As the applets do (ev_signals_new): a peer's close must be EPIPE, not death. */
	signal(SIGPIPE, SIG_IGN);
	tcase_add_test(tc, test_pump_turns);
	tcase_add_test(tc, test_frame_parse);
	tcase_add_test(tc, test_record_chain);
	tcase_add_test(tc, test_hello_codec);
	tcase_add_test(tc, test_payload_codecs);
	suite_add_tcase(s, tc);

	tcase_set_timeout(ts, 60);
	tcase_add_test(ts, test_handshake);
	tcase_add_test(ts, test_handshake_refused);
	tcase_add_test(ts, test_before_hello);
	tcase_add_test(ts, test_hello_timeout);
	tcase_add_test(ts, test_client_hostile);
	tcase_add_test(ts, test_streams);
	tcase_add_test(ts, test_reset_mid_transfer);
	tcase_add_test(ts, test_slow_reader);
	tcase_add_test(ts, test_many_streams);
	tcase_add_test(ts, test_keepalive);
	tcase_add_test(ts, test_goaway);
	tcase_add_test(ts, test_check);
	tcase_add_test(ts, test_keys);
	tcase_add_test(ts, test_free_in_callbacks);
	tcase_add_test(ts, test_no_secret_in_log);
	suite_add_tcase(s, ts);

	tcase_set_timeout(tl, 60);
	tcase_add_test(tl, test_max_streams);
	tcase_add_test(tl, test_rapid_reset);
	tcase_add_test(tl, test_ping_flood);
	tcase_add_test(tl, test_empty_frames_flood);
	tcase_add_test(tl, test_flow_control);
	tcase_add_test(tl, test_window_tuning);
	tcase_add_test(tl, test_protocol_errors);
	tcase_add_test(tl, test_closed_ids);
	tcase_add_loop_test(tl, test_peer_not_reading, 0, 2);
	tcase_add_test(tl, test_misuse);
	suite_add_tcase(s, tl);

	tcase_set_timeout(tr, 180);
	tcase_add_test(tr, test_splice_bev);
	tcase_add_test(tr, test_splice_bev_reset);
	tcase_add_test(tr, test_splice_streams);
	suite_add_tcase(s, tr);
	return s;
}
