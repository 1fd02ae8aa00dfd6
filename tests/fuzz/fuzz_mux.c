/* fuzz_mux: arbitrary bytes as the stream arriving on a mux session (server, or client after a
 * valid WELCOME) over an in-memory bufferevent pair, and through the payload codecs. */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/mux.h"
#include "common/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the module failed: crash so that the fuzzer keeps the input. */
#define FUZZ_CHECK(x) do { \
	if (!(x)) \
		abort(); \
} while (0)

#define FUZZ_MAX_INPUT	(1024 * 1024)
#define FUZZ_MAX_ROUNDS	4096

/*
 * Input layout:
 *   byte 0: what to fuzz (low 3 bits): 0-3 a server session, 4 a client session after a
 *           valid WELCOME, 5 a connector session from its HELLO on (it takes KEYS), 6 frame
 *           and HELLO codecs, 7
 *           the other payload codecs; bit 3: small windows (1 KiB); bit 4: the application
 *           answers HELLO and OPENs after each chunk instead of at once; bit 5: it holds data
 *           instead of echoing it; bit 6: it closes the session at the end; bit 7: it sends
 *           GOAWAY after the first chunk.
 *   byte 1: bit 7: the peer does not read what the session sends; bits 0-6: chunk size for
 *           feeding the session (0: all at once, else 1..127 bytes).
 *   the rest: the bytes.
 */

struct fz {
	struct event_base	*base;
	struct mux_session	*s;
	struct mux_stream	*pending[8];	/* streams to accept later */
	int			 npending;
	bool			 later, hold, hello, welcomed, closed;
};

/* The application: echoes what the window allows and consumes the rest, unless holding. */
static void
fz_data(struct mux_stream *st, void *arg)
{
	struct fz *z = arg;
	struct evbuffer *in = mux_stream_input(st);
	size_t n;

	if (z->hold)
		return;
	/* Echo what the window allows, consume the rest. */
	n = mux_stream_write_buffer(st, in, evbuffer_get_length(in));
	n += evbuffer_get_length(in);
	evbuffer_drain(in, evbuffer_get_length(in));
	mux_stream_consumed(st, n);
}

static void
fz_fin(struct mux_stream *st, void *arg)
{
	mux_stream_shutdown(st);
}

static void
fz_stream_closed(struct mux_stream *st, uint16_t code, const char *reason, void *arg)
{
	struct fz *z = arg;

	FUZZ_CHECK(reason != NULL && strlen(reason) <= MUX_MAX_REASON);
	for (int i = 0; i < z->npending; i++)
		if (z->pending[i] == st)
			z->pending[i] = NULL;
}

static const struct mux_stream_cbs fz_stream_cbs = {
	.data = fz_data,
	.fin = fz_fin,
	.closed = fz_stream_closed,
	.writable = fz_data,
};

static void
fz_hello(struct mux_session *s, const struct mux_hello *h, void *arg)
{
	struct fz *z = arg;
	struct mux_welcome w = { .edge_name = "edge.fuzz" };

	FUZZ_CHECK(h->role == MUX_ROLE_CLIENT || h->role == MUX_ROLE_CONNECTOR);
	FUZZ_CHECK(h->nhostnames <= MUX_MAX_HOSTNAMES);
	z->hello = true;
	if (!z->later)
		FUZZ_CHECK(mux_welcome(s, &w) == 0);
}

/* The application: accepts at once or later; refuses hostnames starting with "r". */
static void
fz_open(struct mux_session *s, struct mux_stream *st, const char *hostname,
    const struct mux_meta *meta, void *arg)
{
	struct fz *z = arg;

	FUZZ_CHECK(mux_hostname_valid(hostname, false));
	mux_stream_set_cbs(st, &fz_stream_cbs, z);
	if (z->later && z->npending < (int)nitems(z->pending)) {
		z->pending[z->npending++] = st;
		return;
	}
	if (hostname[0] == 'r')
		mux_stream_reset(st, MUX_NO_SUCH_APP, "no app for this name");
	else
		FUZZ_CHECK(mux_stream_accept(st) == 0);
}

static void
fz_check(struct mux_session *s, uint32_t id, const char *hostname, void *arg)
{
	FUZZ_CHECK(mux_check_reply(s, id, hostname[0] == 'n' ? MUX_NOT_ALLOWED : MUX_OK,
	    "checked") == 0);
}

static void
fz_closed(struct mux_session *s, uint16_t code, const char *reason, void *arg)
{
	struct fz *z = arg;

	FUZZ_CHECK(!z->closed);
	FUZZ_CHECK(mux_session_nstreams(s) == 0);
	z->closed = true;
}

/* Client: welcomed; a stream is opened from inside the callback. */
static void
fz_welcome(struct mux_session *s, const struct mux_welcome *w, void *arg)
{
	struct mux_stream *st;

	FUZZ_CHECK(w->max_streams > 0 && w->initial_window > 0);
	st = mux_stream_open(s, "app.example.com", NULL, &fz_stream_cbs, arg);
	FUZZ_CHECK(st != NULL && mux_stream_id(st) == 1);
	FUZZ_CHECK(mux_stream_write(st, "hi", 2));
}

/* Connector: the edge's JWKS, NUL-terminated, never longer than a frame. */
static void
fz_keys(struct mux_session *s, const char *jwks, size_t len, void *arg)
{
	FUZZ_CHECK(len >= 1 && len <= MUX_MAX_KEYS && strlen(jwks) == len);
}

static const struct mux_session_cbs fz_cbs = {
	.hello = fz_hello,
	.keys = fz_keys,
	.welcome = fz_welcome,
	.open = fz_open,
	.check = fz_check,
	.closed = fz_closed,
};

/* The fuzzer's end of the pair: what the session sends is discarded. */
static void
peer_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);

	evbuffer_drain(in, evbuffer_get_length(in));
}

/* Runs the loop until no event is active (bounded). */
static void
run_quiet(struct event_base *base)
{
	int i = 0;

	do
		event_base_loop(base, EVLOOP_NONBLOCK);
	while (event_base_get_num_events(base, EVENT_BASE_COUNT_ACTIVE) > 0 &&
	    ++i < FUZZ_MAX_ROUNDS);
}

static void
write_frame(struct bufferevent *bev, uint8_t type, uint32_t stream, const uint8_t *p, size_t n)
{
	uint8_t h[MUX_HEADER_LEN] = { MUX_VERSION, type, 0, 0, (uint8_t)(stream >> 24),
	    (uint8_t)(stream >> 16), (uint8_t)(stream >> 8), (uint8_t)stream,
	    (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n };

	bufferevent_write(bev, h, sizeof(h));
	bufferevent_write(bev, p, n);
}

/* A client session: HELLO out, a valid WELCOME in, three streams (one writing as much as it
 * may when windows are small) and a CHECK of ours. */
static void
client_start(struct fz *z, struct bufferevent *peer, uint32_t window)
{
	static uint8_t fill[MUX_MAX_FRAME + 1024];
	struct mux_welcome w = { .max_streams = 16, .initial_window = window,
	    .keepalive_ms = 10000, .edge_name = "edge.fuzz" };
	uint8_t buf[512];
	struct mux_stream *st;
	int n;

	n = mux_welcome_encode(&w, buf, sizeof(buf));
	FUZZ_CHECK(n > 0);
	write_frame(peer, MUX_WELCOME, 0, buf, (size_t)n);
	run_quiet(z->base);
	FUZZ_CHECK(mux_session_established(z->s));
	for (int i = 1; i < 3; i++) {
		st = mux_stream_open(z->s, "app.example.com", NULL, &fz_stream_cbs, z);
		FUZZ_CHECK(st != NULL && mux_stream_id(st) == (uint32_t)(2 * i + 1));
		FUZZ_CHECK(mux_stream_write(st, "hello", 5));
		if (i == 2 && window <= sizeof(fill) - MUX_MAX_FRAME)
			FUZZ_CHECK(mux_stream_write(st, fill, mux_stream_write_space(st)));
	}
	FUZZ_CHECK(mux_check(z->s, 1, "app.example.com") == 0);
	run_quiet(z->base);
}

/* Feeds the bytes to a session in chunks, running the loop until quiet after each. */
static void
fuzz_session(const uint8_t *data, size_t size, uint8_t sel, uint8_t feed)
{
	struct mux_limits lim = { .initial_window = (sel & 8) ? 1024 : 0, .max_streams = 8,
	    .max_control_queue = 64 };
	struct bufferevent *pair[2];
	struct fz z = { 0 };
	struct mux_hello h = { .role = MUX_ROLE_CLIENT, .has_token_secret = true,
	    .token_id = "0123456789abcdef0123456789abcdef.access" };
	bool server = (sel & 7) < 4;
	size_t chunk = feed & 0x7f;

	z.later = (sel & 16) != 0;
	z.hold = (sel & 32) != 0;
	z.base = event_base_new();
	FUZZ_CHECK(z.base != NULL);
	FUZZ_CHECK(bufferevent_pair_new(z.base, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS,
	    pair) == 0);
	bufferevent_setcb(pair[1], peer_read, NULL, NULL, NULL);
	bufferevent_enable(pair[1], (feed & 0x80) ? EV_WRITE : EV_READ | EV_WRITE);
	z.s = mux_session_new(z.base, pair[0], server, &lim, &fz_cbs, &z);
	FUZZ_CHECK(z.s != NULL);
	if ((sel & 7) == 5) {
		memset(&h, 0, sizeof(h));
		h.role = MUX_ROLE_CONNECTOR;
		h.has_tunnel_id = h.has_tunnel_secret = h.has_connector_id = true;
	}
	if (!server)
		FUZZ_CHECK(mux_send_hello(z.s, &h) == 0);
	if ((sel & 7) == 4)
		client_start(&z, pair[1], (sel & 8) ? 1024 : MUX_INITIAL_WINDOW);
	for (size_t off = 0; off < size && !z.closed;) {
		size_t n = chunk == 0 || size - off < chunk ? size - off : chunk;

		bufferevent_write(pair[1], data + off, n);
		off += n;
		run_quiet(z.base);
		if ((sel & 128) != 0 && off == n && !z.closed) {
			mux_goaway(z.s, MUX_SHUTTING_DOWN, "draining");
			FUZZ_CHECK(!mux_session_established(z.s) || mux_session_draining(z.s));
		}
		/* Answers that come later, between two chunks: WELCOME, then held streams. */
		if (z.later && z.hello && !z.welcomed && !z.closed) {
			struct mux_welcome w = { .edge_name = "edge.fuzz" };

			/* Refused if the session failed meanwhile (it may still be closing). */
			z.welcomed = true;
			(void)mux_welcome(z.s, &w);
			run_quiet(z.base);
		}
		for (int i = 0; i < z.npending && !z.closed; i++) {
			if (z.pending[i] != NULL) {
				struct mux_stream *st = z.pending[i];

				z.pending[i] = NULL;
				FUZZ_CHECK(mux_stream_accept(st) == 0);
			}
		}
		run_quiet(z.base);
	}
	run_quiet(z.base);
	if (!z.closed && (sel & 64) != 0) {
		/* An orderly close from our side too. */
		mux_close(z.s, MUX_SHUTTING_DOWN, "fuzz over");
		run_quiet(z.base);
	}
	mux_session_free(z.s);
	bufferevent_free(pair[1]);
	event_base_free(z.base);
}

/* Frame headers and HELLO: parse, re-encode, parse again to the same thing. */
static void
fuzz_hello(const uint8_t *data, size_t size)
{
	static struct mux_hello h, h2;
	static uint8_t buf[MUX_MAX_HELLO];
	struct mux_frame f;
	int r, n;

	r = mux_frame_parse(data, size, &f);
	FUZZ_CHECK(r >= -1 && r <= 1);
	if (r == 1)
		FUZZ_CHECK(f.length <= MUX_MAX_FRAME && f.payload == data + MUX_HEADER_LEN &&
		    MUX_HEADER_LEN + (size_t)f.length <= size);
	if (mux_hello_parse(data, size, &h) != 0)
		return;
	FUZZ_CHECK(size <= MUX_MAX_HELLO);
	n = mux_hello_encode(&h, buf, sizeof(buf));
	FUZZ_CHECK(n > 0 && (size_t)n <= size);
	FUZZ_CHECK(mux_hello_parse(buf, (size_t)n, &h2) == 0);
	FUZZ_CHECK(memcmp(&h, &h2, sizeof(h)) == 0);
	for (size_t i = 0; i < h.nhostnames; i++)
		FUZZ_CHECK(mux_hostname_valid(h.hostnames[i], true));
}

/* The other payloads are canonical: what parses re-encodes to the same bytes. */
static void
fuzz_payloads(const uint8_t *data, size_t size)
{
	char host[MUX_MAX_HOSTNAME + 1], reason[MUX_MAX_REASON + 1], *s;
	static uint8_t buf[MUX_MAX_FRAME];
	static struct mux_meta m;
	struct mux_welcome w;
	uint16_t code;
	uint32_t id;
	int n;

	if (mux_welcome_parse(data, size, &w) == 0) {
		n = mux_welcome_encode(&w, buf, sizeof(buf));
		FUZZ_CHECK(n >= 0 && (size_t)n == size && memcmp(buf, data, size) == 0);
	}
	if (mux_open_parse(data, size, host, &m) == 0) {
		FUZZ_CHECK(mux_hostname_valid(host, false));
		n = mux_open_encode(host, &m, buf, sizeof(buf));
		FUZZ_CHECK(n >= 0 && (size_t)n == size && memcmp(buf, data, size) == 0);
	}
	if (mux_reason_parse(data, size, &code, reason, sizeof(reason)) == 0) {
		n = mux_reason_encode(code, reason, buf, sizeof(buf));
		FUZZ_CHECK(n >= 0 && (size_t)n == size && memcmp(buf, data, size) == 0);
	}
	if (mux_check_parse(data, size, &id, host) == 0)
		FUZZ_CHECK(mux_hostname_valid(host, false) && size == 6 + strlen(host));
	s = xstrndup((const char *)data, size);
	if (mux_hostname_valid(s, true))
		FUZZ_CHECK(strlen(s) >= 1 && strlen(s) <= MUX_MAX_HOSTNAME);
	if (mux_hostname_valid(s, false))
		FUZZ_CHECK(mux_hostname_valid(s, true) && strchr(s, '*') == NULL);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > FUZZ_MAX_INPUT)
		return 0;
	switch (data[0] & 7) {
	case 6:
		fuzz_hello(data + 2, size - 2);
		break;
	case 7:
		fuzz_payloads(data + 2, size - 2);
		break;
	default:
		fuzz_session(data + 2, size - 2, data[0], data[1]);
		break;
	}
	return 0;
}
