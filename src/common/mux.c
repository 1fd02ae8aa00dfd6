/* mux: the zt multiplexed protocol, version 1 (doc/protocol.md): frames, sessions, streams,
 * flow control, limits, keepalive and splicing, over any bufferevent. */
#include "config.h"

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "ev.h"
#include "log.h"
#include "mux.h"
#include "tls.h"
#include "util.h"

#define MUX_OUTPUT_LOW		(MUX_OUTPUT_HIGH / 2)	/* write low watermark: feed again */
#define MUX_CLOSE_FLUSH_MS	1000
#define MUX_KEEPALIVE_MIN	10
#define MUX_KEEPALIVE_MAX	86400000U
#define MUX_HASH_MIN		16
#define MUX_FLOW_ERRORS_MAX	2	/* the second flow-control error closes the session */
/* Receive-window auto-tuning: a stream whose reader consumed a whole window within
 * MUX_TUNE_MS gets twice the window, up to the max_window limit, while the windows of a
 * session's streams together stay within MUX_TUNE_SESSION beyond the initial ones. */
#define MUX_TUNE_MS		100
#define MUX_TUNE_SESSION	(16U * 1024 * 1024)

#define MUX_DEF_STREAMS_SERVER	1024
#define MUX_DEF_STREAMS_CLIENT	65536
#define MUX_DEF_KEEPALIVE	10000
#define MUX_DEF_HELLO_TIMEOUT	10000
#define MUX_DEF_RATE		200
#define MUX_DEF_BURST		1000
#define MUX_DEF_CONTROL_RATE	100
#define MUX_DEF_CONTROL_BURST	1000
#define MUX_DEF_CONTROL_QUEUE	1024
#define MUX_DEF_CHECKS		16

/* Fixed parts of payloads. */
#define MUX_STR_LEN		2	/* the 16-bit length before a text */
#define MUX_WELCOME_FIXED	(16 + 4 + 4 + 4)
#define MUX_TOKEN_ID_LEN	39	/* 32 hex digits and ".access" */
#define MUX_OPEN_MAX		(4 * MUX_STR_LEN + MUX_MAX_HOSTNAME + MUX_MAX_IDENTITY + \
				    MUX_MAX_ADDR + MUX_MAX_TOKEN)

enum mux_state {
	MUX_S_HELLO,		/* server: waiting for HELLO */
	MUX_S_AUTH,		/* server: HELLO given to the application, waiting for its answer */
	MUX_S_NEW,		/* client: HELLO not sent yet */
	MUX_S_WELCOME,		/* client: HELLO sent, waiting for WELCOME */
	MUX_S_OPEN,		/* established: streams */
	MUX_S_CLOSING,		/* final frame written, flushing it */
	MUX_S_CLOSED,		/* the closed callback was called */
};

enum mux_stream_state {
	MUX_ST_OPENING,		/* ours: OPEN sent, waiting for OPEN_OK */
	MUX_ST_PENDING,		/* theirs: OPEN received, the application has not accepted yet */
	MUX_ST_OPEN,		/* OPEN_OK sent or received: data may flow */
};

/* Kinds of frames that cost us something and tell us nothing: each has its token bucket. */
enum mux_ctl_kind {
	MUX_CTL_PING,
	MUX_CTL_WINDOW,		/* WINDOW for a stream already closed */
	MUX_CTL_EMPTY,		/* DATA without payload or FIN */
	MUX_CTL_GOAWAY,		/* GOAWAY after the first */
	MUX_CTL_KEYS,		/* KEYS */
	MUX_CTL_KINDS,
};

/* A token bucket counting thousandths of a token. */
struct mux_bucket {
	uint64_t	 tokens;
	uint64_t	 last;		/* ms */
	uint32_t	 rate;		/* tokens per second */
	uint32_t	 burst;
};

struct mux_splice;

struct mux_stream {
	struct mux_session	*s;
	struct mux_stream	*hnext;		/* hash chain */
	TAILQ_ENTRY(mux_stream)	 work;		/* data or FIN to send, or maybe finished */
	struct evbuffer		*in;		/* received, not yet read by the application */
	struct evbuffer		*out;		/* written, not yet framed */
	struct mux_stream_cbs	 cbs;
	void			*arg;
	struct mux_splice	*splice;	/* the relay owning the stream, if any */
	uint32_t		 id;
	uint32_t		 send_window;	/* what the peer lets us send */
	uint32_t		 recv_window;	/* what we let the peer send */
	uint32_t		 held;		/* received, not released by mux_stream_consumed */
	uint32_t		 credit;	/* released, not yet announced in a WINDOW */
	uint32_t		 win;		/* our receive window now (auto-tuned) */
	uint32_t		 epoch_bytes;	/* consumed since epoch_ms */
	uint64_t		 epoch_ms;	/* when the current window's worth began */
	int			 refs;
	uint8_t			 state;
	bool			 local;		/* we opened it */
	bool			 fin_queued, fin_sent, fin_recv;
	bool			 blocked;	/* the writer waits for the writable callback */
	bool			 in_work;
	bool			 closed;
};

TAILQ_HEAD(mux_workq, mux_stream);

struct mux_session {
	struct event_base	*base;
	struct bufferevent	*bev;
	struct mux_limits	 lim;
	struct mux_session_cbs	 cbs;
	void			*arg;
	char			 name[24];	/* for logs: "server#3" */
	enum mux_state		 state;
	enum mux_role		 role;		/* dialling side: what its HELLO said */
	bool			 server, welcomed;
	bool			 goaway_sent, goaway_recv, ping_out;
	bool			 fail_pending, fail_send;
	/* The DATA frame read_cb is handling fills the first chain of the input exactly: its
	 * payload may move to the stream's queue without a copy (rx_zc); on_data did (rx_taken). */
	bool			 rx_zc, rx_taken;
	bool			 freed, destroying;
	int			 refs;
	unsigned int		 flow_errors;
	uint64_t		 tuned;		/* windows of live streams beyond the initial one */
	uint16_t		 fail_code, goaway_code;
	char			 fail_reason[MUX_MAX_REASON + 1];
	char			 goaway_reason[MUX_MAX_REASON + 1];
	uint32_t		 next_id;	/* the next id we open; 0 when exhausted */
	uint32_t		 highest_peer;	/* the highest id the peer opened */
	uint32_t		 peer_max_streams;
	size_t			 nlocal, npeer;	/* open streams by who opened them */
	struct mux_stream	**buckets;
	size_t			 nbuckets;
	struct mux_workq	 workq;
	struct evbuffer		*ctrl;		/* control frames waiting for room in the output */
	size_t			 nctrl;		/* of them, frames the peer elicited */
	struct mux_bucket	 opens, resets, ctl[MUX_CTL_KINDS];
	uint64_t		 last_rx;	/* ms: when the last whole frame arrived */
	uint64_t		 ping_at;	/* ms: when our unanswered PING left */
	uint64_t		 ka_due;	/* ms: when the keepalive timer should fire */
	uint64_t		 ping_seq;
	uint32_t		*checks;	/* CHECK ids in flight (max_checks of them) */
	size_t			 nchecks;
	struct event		*hello_ev, *ka_ev, *close_ev, *pump_ev;
	struct event		*werr_ev;	/* a write failed: reported after a last read */
	short			 werr_what;
	int			 werr_errno;
	struct mux_counters	*counters;	/* the application's totals, or NULL */
};

/* A relay: stream <-> bufferevent (st[1] NULL) or stream <-> stream. */
struct mux_splice {
	void			(*done)(void *, uint16_t, const char *);
	void			*arg;
	struct mux_stream	*st[2];		/* NULL once closed */
	struct bufferevent	*bev;
	size_t			 pending;	/* moved into bev's output, not yet credited */
	int			 refs;
	uint16_t		 code;
	char			 reason[MUX_MAX_REASON + 1];
	bool			 to_bev;
	bool			 closed[2], fin_fwd[2];
	bool			 eof;		/* bev reached EOF */
	bool			 peer_fin;	/* FIN from the stream: shut bev's write side */
	bool			 shut;
	bool			 finished;
};

static const char *const mux_code_names[] = {
	[MUX_OK] = "OK",
	[MUX_PROTOCOL_ERROR] = "PROTOCOL_ERROR",
	[MUX_INTERNAL] = "INTERNAL",
	[MUX_FLOW_CONTROL] = "FLOW_CONTROL",
	[MUX_REFUSED_STREAM] = "REFUSED_STREAM",
	[MUX_CANCEL] = "CANCEL",
	[MUX_ENHANCE_YOUR_CALM] = "ENHANCE_YOUR_CALM",
	[MUX_TIMEOUT] = "TIMEOUT",
	[MUX_SHUTTING_DOWN] = "SHUTTING_DOWN",
	[MUX_IDLE] = "IDLE",
	[MUX_AUTH_REQUIRED] = "AUTH_REQUIRED",
	[MUX_AUTH_FAILED] = "AUTH_FAILED",
	[MUX_AUTH_EXPIRED] = "AUTH_EXPIRED",
	[MUX_AUTH_REVOKED] = "AUTH_REVOKED",
	[MUX_HOSTNAME_NOT_ALLOWED] = "HOSTNAME_NOT_ALLOWED",
	[MUX_NO_SUCH_APP] = "NO_SUCH_APP",
	[MUX_NOT_ALLOWED] = "NOT_ALLOWED",
	[MUX_TUNNEL_DOWN] = "TUNNEL_DOWN",
	[MUX_INGRESS_REFUSED] = "INGRESS_REFUSED",
	[MUX_ORIGIN_UNREACHABLE] = "ORIGIN_UNREACHABLE",
};

static const char *const mux_type_names[] = {
	[MUX_HELLO] = "HELLO", [MUX_WELCOME] = "WELCOME", [MUX_OPEN] = "OPEN",
	[MUX_OPEN_OK] = "OPEN_OK", [MUX_DATA] = "DATA", [MUX_WINDOW] = "WINDOW",
	[MUX_RESET] = "RESET", [MUX_PING] = "PING", [MUX_GOAWAY] = "GOAWAY",
	[MUX_CHECK] = "CHECK", [MUX_CHECK_OK] = "CHECK_OK", [MUX_KEYS] = "KEYS",
};

/* Payload bounds per type, checked from the header alone. */
static const struct {
	uint32_t	 min, max;
	bool		 stream0;	/* only on stream 0 (else never on 0, RESET either) */
	uint16_t	 flags;		/* defined flags */
} mux_type_rules[] = {
	[MUX_HELLO] = { 1, MUX_MAX_HELLO, true, 0 },
	[MUX_WELCOME] = { MUX_WELCOME_FIXED + MUX_STR_LEN,
	    MUX_WELCOME_FIXED + MUX_STR_LEN + MUX_MAX_HOSTNAME, true, 0 },
	[MUX_OPEN] = { 3 * MUX_STR_LEN + 1, MUX_OPEN_MAX, false, 0 },
	[MUX_OPEN_OK] = { 0, 0, false, 0 },
	[MUX_DATA] = { 0, MUX_MAX_FRAME, false, MUX_F_FIN },
	[MUX_WINDOW] = { 4, 4, false, 0 },
	[MUX_RESET] = { 4, 4 + MUX_MAX_REASON, false, 0 },
	[MUX_PING] = { 8, 8, true, MUX_F_ACK },
	[MUX_GOAWAY] = { 8, 8 + MUX_MAX_REASON, true, 0 },
	[MUX_CHECK] = { 4 + MUX_STR_LEN + 1, 4 + MUX_STR_LEN + MUX_MAX_HOSTNAME, true, 0 },
	[MUX_CHECK_OK] = { 8, 8 + MUX_MAX_REASON, true, 0 },
	[MUX_KEYS] = { 1, MUX_MAX_KEYS, true, 0 },
};

static unsigned int mux_session_seq;

static void	session_error(struct mux_session *, uint16_t, const char *, bool);
static void	session_finish(struct mux_session *, uint16_t, const char *);
static void	stream_close(struct mux_stream *, uint16_t, const char *);
static void	splice_on_opened(struct mux_splice *, struct mux_stream *);
static void	splice_on_data(struct mux_splice *, struct mux_stream *);
static void	splice_on_writable(struct mux_splice *, struct mux_stream *);
static void	splice_on_closed(struct mux_splice *, struct mux_stream *, uint16_t,
		    const char *);

const char *
mux_code_name(uint16_t code)
{
	if (code < nitems(mux_code_names) && mux_code_names[code] != NULL)
		return mux_code_names[code];
	return "UNKNOWN";
}

/* The name of a frame type for logs. */
static const char *
type_name(uint8_t type)
{
	if (type < nitems(mux_type_names) && mux_type_names[type] != NULL)
		return mux_type_names[type];
	return "UNKNOWN";
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct evbuffer *
xevbuffer_new(void)
{
	struct evbuffer *b;

	if ((b = evbuffer_new()) == NULL)
		fatalx("mux: evbuffer_new: out of memory");
	return b;
}

static void
put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t
get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* --- text and names ------------------------------------------------------------------------ */

/* The length of the UTF-8 character at s[0..n), or 0 if it is invalid or a control character. */
static size_t
utf8_char(const uint8_t *s, size_t n)
{
	uint32_t cp, min;
	size_t need;

	if (s[0] < 0x80)
		return s[0] < 0x20 || s[0] == 0x7f ? 0 : 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 1;
		cp = s[0] & 0x1f;
		min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		need = 2;
		cp = s[0] & 0x0f;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3;
		cp = s[0] & 0x07;
		min = 0x10000;
	} else
		return 0;
	if (n - 1 < need)
		return 0;
	for (size_t i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
	    (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return need + 1;
}

/* True if s[0..n) is wire text: UTF-8 without control characters (so no NUL). */
static bool
text_valid(const uint8_t *s, size_t n)
{
	size_t i = 0, c;

	while (i < n) {
		if ((c = utf8_char(s + i, n - i)) == 0)
			return false;
		i += c;
	}
	return true;
}

/* Copies src into dst (MUX_MAX_REASON + 1 bytes) as wire text: invalid bytes and control
 * characters become '?', and it is cut at a character boundary to fit. */
static void
reason_copy(char *dst, const char *src)
{
	const uint8_t *s = (const uint8_t *)(src != NULL ? src : "");
	size_t n = strlen((const char *)s), i = 0, o = 0, c;

	while (i < n) {
		if ((c = utf8_char(s + i, n - i)) == 0) {
			if (o + 1 > MUX_MAX_REASON)
				break;
			dst[o++] = '?';
			i++;
			continue;
		}
		if (o + c > MUX_MAX_REASON)
			break;
		memcpy(dst + o, s + i, c);
		o += c;
		i += c;
	}
	dst[o] = '\0';
}

static bool
is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Hostname rules of OPEN and HELLO (see mux.h); wildcards only where allowed. */
bool
mux_hostname_valid(const char *s, bool allow_wildcard)
{
	size_t len, label = 0;
	unsigned char prev = '.';

	if (s == NULL)
		return false;
	len = strnlen(s, MUX_MAX_HOSTNAME + 1);
	if (len == 0 || len > MUX_MAX_HOSTNAME)
		return false;
	if (allow_wildcard && s[0] == '*' && s[1] == '.')
		s += 2;
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '.') {
			if (label == 0 || prev == '-')
				return false;
			label = 0;
		} else if (is_alnum(c) || c == '-' || c == '_') {
			if (label == 0 && c == '-')
				return false;
			if (++label > 63)
				return false;
		} else
			return false;
		prev = c;
	}
	return label > 0 && prev != '-';
}

/* True for "<32 lower-case hex digits>.access". */
static bool
token_id_valid(const uint8_t *s, size_t n)
{
	if (n != MUX_TOKEN_ID_LEN || memcmp(s + 32, ".access", 7) != 0)
		return false;
	for (size_t i = 0; i < 32; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* True for a JWT's alphabet: base64url and dots. */
static bool
jwt_chars_valid(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return n > 0;
}

/* --- payload readers and writers ----------------------------------------------------------- */

struct mux_rd {
	const uint8_t	*p;
	size_t		 len, off;
};

struct mux_wr {
	uint8_t		*p;
	size_t		 len, off;
	bool		 bad;
};

static bool
rd_bytes(struct mux_rd *r, size_t n, const uint8_t **v)
{
	if (r->len - r->off < n)
		return false;
	*v = r->p + r->off;
	r->off += n;
	return true;
}

static bool
rd_u8(struct mux_rd *r, uint8_t *v)
{
	const uint8_t *p;

	if (!rd_bytes(r, 1, &p))
		return false;
	*v = p[0];
	return true;
}

static bool
rd_u16(struct mux_rd *r, uint16_t *v)
{
	const uint8_t *p;

	if (!rd_bytes(r, 2, &p))
		return false;
	*v = get_u16(p);
	return true;
}

static bool
rd_u32(struct mux_rd *r, uint32_t *v)
{
	const uint8_t *p;

	if (!rd_bytes(r, 4, &p))
		return false;
	*v = get_u32(p);
	return true;
}

/* Reads a length-prefixed text of at most max bytes into dst (which has room for max + 1). */
static bool
rd_text(struct mux_rd *r, char *dst, size_t max)
{
	const uint8_t *v;
	uint16_t n;

	if (!rd_u16(r, &n) || n > max || !rd_bytes(r, n, &v) || !text_valid(v, n))
		return false;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return true;
}

/* A token: 1..max base64url characters and dots. */
static bool
rd_token(struct mux_rd *r, char *dst, size_t max)
{
	const uint8_t *v;
	uint16_t n;

	if (!rd_u16(r, &n) || n == 0 || n > max || !rd_bytes(r, n, &v) || !jwt_chars_valid(v, n))
		return false;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return true;
}

static bool
rd_end(const struct mux_rd *r)
{
	return r->off == r->len;
}

static void
wr_bytes(struct mux_wr *w, const void *v, size_t n)
{
	if (w->bad || w->len - w->off < n) {
		w->bad = true;
		return;
	}
	if (n > 0)
		memcpy(w->p + w->off, v, n);
	w->off += n;
}

static void
wr_u8(struct mux_wr *w, uint8_t v)
{
	wr_bytes(w, &v, 1);
}

static void
wr_u16(struct mux_wr *w, uint16_t v)
{
	uint8_t b[2];

	put_u16(b, v);
	wr_bytes(w, b, 2);
}

static void
wr_u32(struct mux_wr *w, uint32_t v)
{
	uint8_t b[4];

	put_u32(b, v);
	wr_bytes(w, b, 4);
}

/* Writes a length-prefixed text from a NUL-terminated array of size bytes; marks w bad unless
 * it is wire text of at most max bytes. */
static void
wr_text(struct mux_wr *w, const char *s, size_t size, size_t max)
{
	size_t n = strnlen(s, size);

	if (n == size || n > max || !text_valid((const uint8_t *)s, n)) {
		w->bad = true;
		return;
	}
	wr_u16(w, (uint16_t)n);
	wr_bytes(w, s, n);
}

/* --- frames -------------------------------------------------------------------------------- */

static void
frame_header(uint8_t *h, uint8_t type, uint16_t flags, uint32_t stream, uint32_t len)
{
	h[0] = MUX_VERSION;
	h[1] = type;
	put_u16(h + 2, flags);
	put_u32(h + 4, stream);
	put_u32(h + 8, len);
}

/* Checks what a header alone tells; returns why it is malformed, or NULL. */
static const char *
frame_check(const struct mux_frame *f)
{
	if (f->version != MUX_VERSION)
		return "unsupported protocol version";
	if (f->type < MUX_HELLO || f->type > MUX_KEYS)
		return "unknown frame type";
	if (f->length > MUX_MAX_FRAME)
		return "frame longer than 16384 bytes";
	if (f->length < mux_type_rules[f->type].min || f->length > mux_type_rules[f->type].max)
		return "bad payload length for the frame type";
	if ((f->flags & ~mux_type_rules[f->type].flags) != 0)
		return "undefined flags";
	if (mux_type_rules[f->type].stream0 && f->stream != 0)
		return "frame type only allowed on stream 0";
	if (!mux_type_rules[f->type].stream0 && f->type != MUX_RESET && f->stream == 0)
		return "frame type not allowed on stream 0";
	return NULL;
}

/* Reads a header into f; returns why it is malformed, or NULL. */
static const char *
frame_header_parse(const uint8_t *buf, struct mux_frame *f)
{
	f->version = buf[0];
	f->type = buf[1];
	f->flags = get_u16(buf + 2);
	f->stream = get_u32(buf + 4);
	f->length = get_u32(buf + 8);
	f->payload = NULL;
	return frame_check(f);
}

int
mux_frame_parse(const uint8_t *buf, size_t len, struct mux_frame *f)
{
	if (len < MUX_HEADER_LEN)
		return 0;
	if (frame_header_parse(buf, f) != NULL)
		return -1;
	if (len - MUX_HEADER_LEN < f->length)
		return 0;
	f->payload = buf + MUX_HEADER_LEN;
	return 1;
}

/* --- payload codecs ------------------------------------------------------------------------ */

/* The role a HELLO field belongs to (0: both). */
static const uint8_t mux_field_role[] = {
	[MUX_FIELD_TUNNEL_ID] = MUX_ROLE_CONNECTOR,
	[MUX_FIELD_TUNNEL_SECRET] = MUX_ROLE_CONNECTOR,
	[MUX_FIELD_CONNECTOR_ID] = MUX_ROLE_CONNECTOR,
	[MUX_FIELD_HOSTNAME] = MUX_ROLE_CONNECTOR,
	[MUX_FIELD_VERSION] = 0,
	[MUX_FIELD_TOKEN_ID] = MUX_ROLE_CLIENT,
	[MUX_FIELD_TOKEN_SECRET] = MUX_ROLE_CLIENT,
	[MUX_FIELD_USER_TOKEN] = MUX_ROLE_CLIENT,
};

/* Reads one known HELLO field into h; returns why it is malformed, or NULL. */
static const char *
hello_field(struct mux_hello *h, uint16_t type, const uint8_t *v, uint16_t n)
{
	char *name;

	switch (type) {
	case MUX_FIELD_TUNNEL_ID:
	case MUX_FIELD_CONNECTOR_ID:
		if (n != 16)
			return "an id is not 16 bytes";
		memcpy(type == MUX_FIELD_TUNNEL_ID ? h->tunnel_id : h->connector_id, v, 16);
		if (type == MUX_FIELD_TUNNEL_ID)
			h->has_tunnel_id = true;
		else
			h->has_connector_id = true;
		break;
	case MUX_FIELD_TUNNEL_SECRET:
	case MUX_FIELD_TOKEN_SECRET:
		if (n != 32)
			return "a secret is not 32 bytes";
		memcpy(type == MUX_FIELD_TUNNEL_SECRET ? h->tunnel_secret : h->token_secret, v, 32);
		if (type == MUX_FIELD_TUNNEL_SECRET)
			h->has_tunnel_secret = true;
		else
			h->has_token_secret = true;
		break;
	case MUX_FIELD_HOSTNAME:
		if (h->nhostnames == MUX_MAX_HOSTNAMES)
			return "more than 64 hostnames";
		if (n == 0 || n > MUX_MAX_HOSTNAME)
			return "bad hostname length";
		name = h->hostnames[h->nhostnames];
		memcpy(name, v, n);
		name[n] = '\0';
		if (strlen(name) != n || !mux_hostname_valid(name, true))
			return "invalid hostname";
		for (size_t i = 0; i < h->nhostnames; i++)
			if (strcasecmp(h->hostnames[i], name) == 0)
				return "repeated hostname";
		h->nhostnames++;
		break;
	case MUX_FIELD_VERSION:
		if (n == 0 || n >= sizeof(h->version) || !text_valid(v, n))
			return "invalid version text";
		memcpy(h->version, v, n);
		break;
	case MUX_FIELD_TOKEN_ID:
		if (!token_id_valid(v, n))
			return "invalid token id";
		memcpy(h->token_id, v, n);
		break;
	case MUX_FIELD_USER_TOKEN:
		if (n >= sizeof(h->user_token) || !jwt_chars_valid(v, n))
			return "invalid user token";
		memcpy(h->user_token, v, n);
		break;
	}
	return NULL;
}

/* Parses a HELLO payload; returns why it is malformed, or NULL. */
static const char *
hello_parse(const uint8_t *p, size_t len, struct mux_hello *h)
{
	struct mux_rd r = { p, len, 0 };
	uint32_t seen = 0;
	const char *why;
	uint8_t role;

	memset(h, 0, sizeof(*h));
	if (len > MUX_MAX_HELLO)
		return "HELLO longer than 4096 bytes";
	if (!rd_u8(&r, &role) || (role != MUX_ROLE_CONNECTOR && role != MUX_ROLE_CLIENT))
		return "unknown role";
	h->role = (enum mux_role)role;
	while (!rd_end(&r)) {
		const uint8_t *v;
		uint16_t type, n;

		if (!rd_u16(&r, &type) || !rd_u16(&r, &n) || !rd_bytes(&r, n, &v))
			return "truncated field";
		if (type == 0 || type >= nitems(mux_field_role))
			continue;	/* unknown: forward compatibility */
		if (type != MUX_FIELD_HOSTNAME && (seen & 1U << type) != 0)
			return "repeated field";
		seen |= 1U << type;
		if (mux_field_role[type] != 0 && mux_field_role[type] != role)
			return "field of the other role";
		if ((why = hello_field(h, type, v, n)) != NULL)
			return why;
	}
	if (role == MUX_ROLE_CONNECTOR) {
		if (!h->has_tunnel_id || !h->has_tunnel_secret || !h->has_connector_id)
			return "connector credentials incomplete";
	} else {
		bool pair = h->token_id[0] != '\0' || h->has_token_secret;

		if (pair && h->user_token[0] != '\0')
			return "two kinds of credentials";
		if (pair && (h->token_id[0] == '\0' || !h->has_token_secret))
			return "service token credentials incomplete";
		if (!pair && h->user_token[0] == '\0')
			return "no credentials";
	}
	return NULL;
}

int
mux_hello_parse(const uint8_t *p, size_t len, struct mux_hello *h)
{
	const char *why;

	if ((why = hello_parse(p, len, h)) != NULL) {
		util_cleanse(h, sizeof(*h));
		log_debug("mux_hello_parse: %s", why);
		return -1;
	}
	return 0;
}

/* Writes a HELLO field of n bytes. */
static void
wr_field(struct mux_wr *w, uint16_t type, const void *v, size_t n)
{
	wr_u16(w, type);
	wr_u16(w, (uint16_t)n);
	wr_bytes(w, v, n);
}

/* Writes a text HELLO field from a NUL-terminated array of size bytes, when not empty. */
static void
wr_field_text(struct mux_wr *w, uint16_t type, const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	if (n == size) {
		w->bad = true;
		return;
	}
	if (n > 0)
		wr_field(w, type, s, n);
}

/* Encodes a HELLO, refusing anything mux_hello_parse would refuse. */
int
mux_hello_encode(const struct mux_hello *h, uint8_t *buf, size_t len)
{
	struct mux_wr w = { buf, len, 0, false };
	struct mux_hello *check = NULL;
	const char *why = "too long";
	int ret = -1;

	wr_u8(&w, (uint8_t)h->role);
	if (h->role == MUX_ROLE_CONNECTOR) {
		if (h->has_tunnel_id)
			wr_field(&w, MUX_FIELD_TUNNEL_ID, h->tunnel_id, 16);
		if (h->has_tunnel_secret)
			wr_field(&w, MUX_FIELD_TUNNEL_SECRET, h->tunnel_secret, 32);
		if (h->has_connector_id)
			wr_field(&w, MUX_FIELD_CONNECTOR_ID, h->connector_id, 16);
		if (h->nhostnames > MUX_MAX_HOSTNAMES)
			w.bad = true;
		for (size_t i = 0; i < h->nhostnames && !w.bad; i++)
			wr_field_text(&w, MUX_FIELD_HOSTNAME, h->hostnames[i],
			    sizeof(h->hostnames[i]));
	} else {
		wr_field_text(&w, MUX_FIELD_TOKEN_ID, h->token_id, sizeof(h->token_id));
		if (h->has_token_secret)
			wr_field(&w, MUX_FIELD_TOKEN_SECRET, h->token_secret, 32);
		wr_field_text(&w, MUX_FIELD_USER_TOKEN, h->user_token, sizeof(h->user_token));
	}
	wr_field_text(&w, MUX_FIELD_VERSION, h->version, sizeof(h->version));
	if (w.bad || w.off > MUX_MAX_HELLO)
		goto done;
	/* What we send is exactly what a peer accepts. */
	check = xmalloc(sizeof(*check));
	if ((why = hello_parse(buf, w.off, check)) != NULL)
		goto done;
	ret = (int)w.off;
done:
	if (check != NULL) {
		util_cleanse(check, sizeof(*check));
		free(check);
	}
	if (ret == -1) {
		util_cleanse(buf, w.off);
		log_errorx("mux_hello_encode: the HELLO is not valid: %s", why);
	}
	return ret;
}

/* Parses a WELCOME payload; returns why it is malformed, or NULL. */
static const char *
welcome_parse(const uint8_t *p, size_t len, struct mux_welcome *w)
{
	struct mux_rd r = { p, len, 0 };
	const uint8_t *id;

	memset(w, 0, sizeof(*w));
	if (!rd_bytes(&r, 16, &id) || !rd_u32(&r, &w->max_streams) ||
	    !rd_u32(&r, &w->initial_window) || !rd_u32(&r, &w->keepalive_ms) ||
	    !rd_text(&r, w->edge_name, MUX_MAX_HOSTNAME) || !rd_end(&r))
		return "malformed WELCOME";
	memcpy(w->session_id, id, 16);
	if (w->max_streams == 0)
		return "WELCOME allows no streams";
	if (w->initial_window == 0 || w->initial_window > MUX_MAX_WINDOW)
		return "WELCOME window out of range";
	if (w->keepalive_ms < MUX_KEEPALIVE_MIN || w->keepalive_ms > MUX_KEEPALIVE_MAX)
		return "WELCOME keepalive out of range";
	return NULL;
}

int
mux_welcome_parse(const uint8_t *p, size_t len, struct mux_welcome *w)
{
	const char *why;

	if ((why = welcome_parse(p, len, w)) != NULL) {
		log_debug("mux_welcome_parse: %s", why);
		return -1;
	}
	return 0;
}

/* Encodes a WELCOME whose limits are within the ranges a client accepts. */
int
mux_welcome_encode(const struct mux_welcome *w, uint8_t *buf, size_t len)
{
	struct mux_wr wr = { buf, len, 0, false };

	if (w->max_streams == 0 || w->initial_window == 0 || w->initial_window > MUX_MAX_WINDOW ||
	    w->keepalive_ms < MUX_KEEPALIVE_MIN || w->keepalive_ms > MUX_KEEPALIVE_MAX)
		wr.bad = true;
	wr_bytes(&wr, w->session_id, 16);
	wr_u32(&wr, w->max_streams);
	wr_u32(&wr, w->initial_window);
	wr_u32(&wr, w->keepalive_ms);
	wr_text(&wr, w->edge_name, sizeof(w->edge_name), MUX_MAX_HOSTNAME);
	if (wr.bad) {
		log_errorx("mux_welcome_encode: the WELCOME is not valid");
		return -1;
	}
	return (int)wr.off;
}

/* Parses an OPEN payload; returns why it is malformed, or NULL. */
static const char *
open_parse(const uint8_t *p, size_t len, char *hostname, struct mux_meta *meta)
{
	struct mux_rd r = { p, len, 0 };
	struct mux_meta m;

	if (!rd_text(&r, hostname, MUX_MAX_HOSTNAME) ||
	    !rd_text(&r, m.identity, MUX_MAX_IDENTITY) ||
	    !rd_text(&r, m.client_addr, MUX_MAX_ADDR))
		return "malformed OPEN";
	/* The token is the optional last field (peers before it send three); when present it is
	 * not empty, so that an OPEN has one encoding. */
	m.token[0] = '\0';
	if (!rd_end(&r) && (!rd_token(&r, m.token, MUX_MAX_TOKEN) || m.token[0] == '\0'))
		return "malformed token in OPEN";
	if (!rd_end(&r))
		return "malformed OPEN";
	if (!mux_hostname_valid(hostname, false))
		return "invalid hostname in OPEN";
	if (meta != NULL)
		*meta = m;
	return NULL;
}

int
mux_open_parse(const uint8_t *p, size_t len, char *hostname, struct mux_meta *meta)
{
	const char *why;

	if ((why = open_parse(p, len, hostname, meta)) != NULL) {
		log_debug("mux_open_parse: %s", why);
		return -1;
	}
	return 0;
}

/* Encodes an OPEN: a hostname without wildcard and wire-text metadata. */
int
mux_open_encode(const char *hostname, const struct mux_meta *meta, uint8_t *buf, size_t len)
{
	struct mux_wr w = { buf, len, 0, false };
	static const struct mux_meta none;

	if (meta == NULL)
		meta = &none;
	if (!mux_hostname_valid(hostname, false))
		w.bad = true;
	else
		wr_text(&w, hostname, MUX_MAX_HOSTNAME + 1, MUX_MAX_HOSTNAME);
	wr_text(&w, meta->identity, sizeof(meta->identity), MUX_MAX_IDENTITY);
	wr_text(&w, meta->client_addr, sizeof(meta->client_addr), MUX_MAX_ADDR);
	if (meta->token[0] != '\0') {
		size_t n = strnlen(meta->token, sizeof(meta->token));
		if (n > MUX_MAX_TOKEN || !jwt_chars_valid((const uint8_t *)meta->token, n))
			w.bad = true;
		else
			wr_text(&w, meta->token, sizeof(meta->token), MUX_MAX_TOKEN);
	}
	if (w.bad) {
		log_errorx("mux_open_encode: invalid hostname or metadata for \"%s\"",
		    hostname != NULL && mux_hostname_valid(hostname, false) ? hostname : "?");
		return -1;
	}
	return (int)w.off;
}

int
mux_reason_parse(const uint8_t *p, size_t len, uint16_t *code, char *reason, size_t reasonlen)
{
	struct mux_rd r = { p, len, 0 };
	char text[MUX_MAX_REASON + 1];

	if (!rd_u16(&r, code) || !rd_text(&r, text, MUX_MAX_REASON) || !rd_end(&r) ||
	    !util_strlcpy(reason, text, reasonlen)) {
		log_debug("mux_reason_parse: malformed code and reason");
		return -1;
	}
	return 0;
}

int
mux_reason_encode(uint16_t code, const char *reason, uint8_t *buf, size_t len)
{
	struct mux_wr w = { buf, len, 0, false };

	wr_u16(&w, code);
	wr_text(&w, reason, MUX_MAX_REASON + 1, MUX_MAX_REASON);
	if (w.bad) {
		log_errorx("mux_reason_encode: the reason is not valid text of at most 256 bytes");
		return -1;
	}
	return (int)w.off;
}

int
mux_check_parse(const uint8_t *p, size_t len, uint32_t *id, char *hostname)
{
	struct mux_rd r = { p, len, 0 };

	if (!rd_u32(&r, id) || !rd_text(&r, hostname, MUX_MAX_HOSTNAME) || !rd_end(&r) ||
	    !mux_hostname_valid(hostname, false)) {
		log_debug("mux_check_parse: malformed CHECK");
		return -1;
	}
	return 0;
}

/* Code + reason text as a payload after prefix bytes (GOAWAY, CHECK_OK); the reason is
 * sanitised, so this never fails. Returns the length; buf has 4 + 4 + MUX_MAX_REASON bytes. */
static size_t
reason_payload(uint8_t *buf, const uint8_t *prefix, size_t plen, uint16_t code, const char *reason)
{
	char text[MUX_MAX_REASON + 1];
	size_t n;

	reason_copy(text, reason);
	n = strlen(text);
	if (plen > 0)
		memcpy(buf, prefix, plen);
	put_u16(buf + plen, code);
	put_u16(buf + plen + 2, (uint16_t)n);
	memcpy(buf + plen + 4, text, n);
	return plen + 4 + n;
}

/* --- token buckets ------------------------------------------------------------------------- */

static void
bucket_init(struct mux_bucket *b, uint32_t rate, uint32_t burst, uint64_t now)
{
	b->rate = rate;
	b->burst = burst;
	b->tokens = (uint64_t)burst * 1000;
	b->last = now;
}

/* Takes a token; false when the bucket is empty. */
static bool
bucket_take(struct mux_bucket *b, uint64_t now)
{
	uint64_t cap = (uint64_t)b->burst * 1000;

	if (now > b->last) {
		uint64_t elapsed = now - b->last;

		if (b->rate == 0 || elapsed > cap / b->rate)
			b->tokens = cap;
		else if ((b->tokens += elapsed * b->rate) > cap)
			b->tokens = cap;
		b->last = now;
	}
	if (b->tokens < 1000)
		return false;
	b->tokens -= 1000;
	return true;
}

/* --- the stream table ---------------------------------------------------------------------- */

static size_t
hash_slot(const struct mux_session *s, uint32_t id)
{
	return (size_t)((id * 2654435761U) >> 8) & (s->nbuckets - 1);
}

static struct mux_stream *
stream_find(const struct mux_session *s, uint32_t id)
{
	struct mux_stream *st;

	for (st = s->buckets[hash_slot(s, id)]; st != NULL; st = st->hnext)
		if (st->id == id)
			return st;
	return NULL;
}

/* Doubles the table when it holds more streams than slots. */
static void
hash_grow(struct mux_session *s)
{
	struct mux_stream **old = s->buckets, *st, *next;
	size_t oldn = s->nbuckets;

	s->nbuckets *= 2;
	s->buckets = xcalloc(s->nbuckets, sizeof(*s->buckets));
	for (size_t i = 0; i < oldn; i++) {
		for (st = old[i]; st != NULL; st = next) {
			size_t slot = hash_slot(s, st->id);

			next = st->hnext;
			st->hnext = s->buckets[slot];
			s->buckets[slot] = st;
		}
	}
	free(old);
}

static void
hash_insert(struct mux_session *s, struct mux_stream *st)
{
	size_t slot;

	if (s->nlocal + s->npeer + 1 > s->nbuckets)
		hash_grow(s);
	slot = hash_slot(s, st->id);
	st->hnext = s->buckets[slot];
	s->buckets[slot] = st;
}

static void
hash_remove(struct mux_session *s, struct mux_stream *st)
{
	struct mux_stream **pp;

	for (pp = &s->buckets[hash_slot(s, st->id)]; *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == st) {
			*pp = st->hnext;
			st->hnext = NULL;
			return;
		}
	}
}

/* True if id is of the parity we open: odd for the side that dialled. */
static bool
id_is_local(const struct mux_session *s, uint32_t id)
{
	return (id % 2 == 1) != s->server;
}

/* Whether a stream id was never opened (as opposed to open or closed since). */
static bool
id_never_opened(const struct mux_session *s, uint32_t id)
{
	if (id_is_local(s, id))
		return s->next_id != 0 && id >= s->next_id;
	return id > s->highest_peer;
}

/* --- references ---------------------------------------------------------------------------- */

static void session_destroy(struct mux_session *);

static void
session_ref(struct mux_session *s)
{
	s->refs++;
}

/* Drops a reference; a session freed meanwhile is destroyed with the last one. */
static void
session_unref(struct mux_session *s)
{
	if (--s->refs == 0 && s->freed)
		session_destroy(s);
}

static void
stream_ref(struct mux_stream *st)
{
	st->refs++;
}

static void
stream_unref(struct mux_stream *st)
{
	if (--st->refs > 0)
		return;
	evbuffer_free(st->in);
	evbuffer_free(st->out);
	free(st);
}

/* True while the application may be called back. */
static bool
session_alive(const struct mux_session *s)
{
	return !s->freed && s->state != MUX_S_CLOSED;
}

/* --- output -------------------------------------------------------------------------------- */

static void
frame_add(struct evbuffer *buf, uint8_t type, uint16_t flags, uint32_t stream, const void *p,
    size_t len)
{
	uint8_t h[MUX_HEADER_LEN];

	frame_header(h, type, flags, stream, (uint32_t)len);
	evbuffer_add(buf, h, sizeof(h));
	if (len > 0)
		evbuffer_add(buf, p, len);
}

static size_t
output_len(const struct mux_session *s)
{
	return evbuffer_get_length(bufferevent_get_output(s->bev));
}

/* Moves queued control frames into the output while it is below its high watermark. */
static void
ctrl_flush(struct mux_session *s)
{
	if (evbuffer_get_length(s->ctrl) > 0 && output_len(s) < MUX_OUTPUT_HIGH) {
		evbuffer_add_buffer(bufferevent_get_output(s->bev), s->ctrl);
		s->nctrl = 0;
	}
}

static void
pump_schedule(struct mux_session *s)
{
	if (!s->freed)
		event_active(s->pump_ev, EV_TIMEOUT, 0);
}

/* Queues a control frame: written at once while the output has room, else kept in order.
 * Frames the peer elicits (answers, credit, resets) are counted while they wait: a peer that
 * lets too many pile up is not reading and is dropped. Our own OPEN, CHECK, GOAWAY and PING are
 * bounded by the streams and checks the application makes, and not counted. */
static void
ctrl_frame(struct mux_session *s, uint8_t type, uint16_t flags, uint32_t stream, const void *p,
    size_t len)
{
	bool counted = type != MUX_OPEN && type != MUX_CHECK && type != MUX_GOAWAY &&
	    type != MUX_KEYS &&
	    !(type == MUX_PING && (flags & MUX_F_ACK) == 0);

	if (s->state != MUX_S_OPEN || s->fail_pending || s->freed)
		return;
	frame_add(s->ctrl, type, flags, stream, p, len);
	if (counted && ++s->nctrl > s->lim.max_control_queue) {
		session_error(s, MUX_ENHANCE_YOUR_CALM,
		    "the peer does not read: control queue full", false);
		return;
	}
	ctrl_flush(s);
}

static void
send_reset(struct mux_session *s, uint32_t id, uint16_t code, const char *reason)
{
	uint8_t p[4 + MUX_MAX_REASON];

	ctrl_frame(s, MUX_RESET, 0, id, p, reason_payload(p, NULL, 0, code, reason));
}

/* Counts a reset received, or sent because of the peer, against the reset limit. */
static void
count_reset(struct mux_session *s)
{
	if (!bucket_take(&s->resets, now_ms()))
		session_error(s, MUX_ENHANCE_YOUR_CALM, "too many stream resets", true);
}

/* Counts a frame that costs without telling anything against its limit. */
static void
count_control(struct mux_session *s, enum mux_ctl_kind kind)
{
	static const char *const why[] = {
		[MUX_CTL_PING] = "too many PINGs",
		[MUX_CTL_WINDOW] = "too many WINDOWs for closed streams",
		[MUX_CTL_EMPTY] = "too many empty DATA frames",
		[MUX_CTL_GOAWAY] = "too many GOAWAYs",
		[MUX_CTL_KEYS] = "too many KEYS",
	};

	if (!bucket_take(&s->ctl[kind], now_ms()))
		session_error(s, MUX_ENHANCE_YOUR_CALM, why[kind], true);
}

/* --- streams ------------------------------------------------------------------------------- */

/* A stream in the table with full windows both ways and one reference (the table's). */
static struct mux_stream *
stream_new(struct mux_session *s, uint32_t id, enum mux_stream_state state)
{
	struct mux_stream *st = xcalloc(1, sizeof(*st));

	st->s = s;
	st->id = id;
	st->state = (uint8_t)state;
	st->local = id_is_local(s, id);
	st->refs = 1;
	st->send_window = s->lim.initial_window;
	st->recv_window = s->lim.initial_window;
	st->win = s->lim.initial_window;
	st->epoch_ms = now_ms();
	st->in = xevbuffer_new();
	st->out = xevbuffer_new();
	hash_insert(s, st);
	if (st->local)
		s->nlocal++;
	else
		s->npeer++;
	return st;
}

static bool
stream_sendable(const struct mux_stream *st)
{
	size_t q = evbuffer_get_length(st->out);

	if (st->closed || st->state != MUX_ST_OPEN || st->fin_sent)
		return false;
	return (q > 0 && st->send_window > 0) || (st->fin_queued && q == 0);
}

/* True once both sides sent FIN and everything received was read. */
static bool
stream_done(const struct mux_stream *st)
{
	return !st->closed && st->fin_sent && st->fin_recv && evbuffer_get_length(st->in) == 0;
}

/* Puts the stream on the work queue (data to send or maybe finished) and schedules the pump. */
static void
work_add(struct mux_stream *st)
{
	struct mux_session *s = st->s;

	if (st->closed)
		return;
	if (!st->in_work) {
		TAILQ_INSERT_TAIL(&s->workq, st, work);
		st->in_work = true;
	}
	pump_schedule(s);
}

static void
work_remove(struct mux_stream *st)
{
	if (st->in_work) {
		TAILQ_REMOVE(&st->s->workq, st, work);
		st->in_work = false;
	}
}

static size_t
write_space(const struct mux_stream *st)
{
	size_t room = (size_t)st->send_window + MUX_MAX_FRAME, q = evbuffer_get_length(st->out);

	if (st->closed || st->fin_queued || st->s->state != MUX_S_OPEN || st->s->fail_pending)
		return 0;
	return room > q ? room - q : 0;
}

/* Calls the stream's (or its splice's) callbacks. */
static void
stream_cb_opened(struct mux_stream *st)
{
	if (st->splice != NULL)
		splice_on_opened(st->splice, st);
	else if (session_alive(st->s) && st->cbs.opened != NULL)
		st->cbs.opened(st, st->arg);
}

static void
stream_cb_data(struct mux_stream *st)
{
	if (st->splice != NULL)
		splice_on_data(st->splice, st);
	else if (session_alive(st->s) && st->cbs.data != NULL)
		st->cbs.data(st, st->arg);
}

static void
stream_cb_fin(struct mux_stream *st)
{
	if (st->splice != NULL)
		splice_on_data(st->splice, st);
	else if (session_alive(st->s) && st->cbs.fin != NULL)
		st->cbs.fin(st, st->arg);
}

static void
stream_cb_writable(struct mux_stream *st)
{
	if (st->splice != NULL)
		splice_on_writable(st->splice, st);
	else if (session_alive(st->s) && st->cbs.writable != NULL)
		st->cbs.writable(st, st->arg);
}

/* Ends a stream: out of the table, queued data dropped, the closed callback, then freed once
 * nobody holds it. Sends nothing. */
static void
stream_close(struct mux_stream *st, uint16_t code, const char *reason)
{
	struct mux_session *s = st->s;
	struct mux_splice *sp = st->splice;

	if (st->closed)
		return;
	st->closed = true;
	if (st->win > s->lim.initial_window)
		s->tuned -= st->win - s->lim.initial_window;
	hash_remove(s, st);
	work_remove(st);
	if (st->local)
		s->nlocal--;
	else
		s->npeer--;
	evbuffer_drain(st->out, evbuffer_get_length(st->out));
	log_debug("mux %s: stream %u closed: %s (%s)", s->name, st->id, mux_code_name(code),
	    reason);
	if (sp != NULL) {
		st->splice = NULL;
		splice_on_closed(sp, st, code, reason);
	} else if (!s->freed && st->cbs.closed != NULL)
		st->cbs.closed(st, code, reason, st->arg);
	stream_unref(st);
}

/* Resets a stream because of the peer; counts against the reset limit. */
static void
stream_error(struct mux_stream *st, uint16_t code, const char *reason)
{
	struct mux_session *s = st->s;

	log_debug("mux %s: resetting stream %u: %s (%s)", s->name, st->id, mux_code_name(code),
	    reason);
	send_reset(s, st->id, code, reason);
	count_reset(s);
	stream_close(st, code, reason);
}

/* Closes every stream (callbacks included), e.g. when the session ends. */
static void
streams_close_all(struct mux_session *s, uint16_t code, const char *reason)
{
	if (code == MUX_OK)
		code = MUX_CANCEL;	/* an interrupted stream never ends well */
	for (size_t i = 0; i < s->nbuckets; i++)
		while (s->buckets[i] != NULL)
			stream_close(s->buckets[i], code, reason);
}

/*
 * DATA frames a sender makes: a header and its payload fill one TLS record of MUX_RECORD bytes
 * of plaintext, and MUX_RECORD is what a receiver reserves for each record it reads. It is
 * 48 bytes short of the 16 KiB TLS allows: with the 48 bytes of a libevent chain's header, a
 * chain that holds one such record is one 16 KiB allocation (a full 16 KiB record would take
 * a 32 KiB one: libevent rounds chains up to a power of two). Receivers accept MUX_MAX_FRAME.
 */
#define MUX_DATA_PAYLOAD	(MUX_RECORD - MUX_HEADER_LEN)
/* Bytes a splice reads from or writes to its socket at once: four full frames. */
#define MUX_SOCKET_IO		(4 * MUX_DATA_PAYLOAD)

/*
 * Frames relayed without copies. A full DATA frame arrives as the only content of one chain of
 * the session's input (one record per reservation of MUX_RECORD bytes); on_data moves that
 * chain to the stream's queue, a splice moves it on to the other stream's queue, and
 * stream_send writes the new header into the 12 bytes where the old one was and moves the chain
 * into the session's output, where the TLS layer seals it as one record. A relay then copies a
 * payload once (into OpenSSL's record buffer) instead of three times. Only frames of
 * MUX_ZC_MIN to MUX_RECORD bytes move, so a chain moved is a 16 KiB allocation at most three
 * quarters of which is payload: a queue's memory stays within 4/3 of its bytes.
 */
#define MUX_ZC_MIN	(12 * 1024)

/* The length of b's first contiguous extent (0 when b is empty). */
static size_t
first_extent(struct evbuffer *b)
{
	struct evbuffer_iovec v;

	return evbuffer_peek(b, -1, NULL, &v, 1) >= 1 ? v.iov_len : 0;
}

/* Puts header h in front of the n bytes at data that make q's first chain, in that chain, and
 * moves the chain to out. False, with q as it was, when the chain has no room in front. Besides
 * a relay's chains (above), this takes the last frame of a chain that a splice read from its
 * socket (up to 64 KiB read at once): such a chain stays allocated until the output is
 * written, at most one per four frames of an output kept under MUX_OUTPUT_HIGH. */
static bool
frame_in_place(struct evbuffer *q, const void *data, struct evbuffer *out, const uint8_t *h,
    size_t n)
{
	struct evbuffer_iovec b;

	if (evbuffer_prepend(q, h, MUX_HEADER_LEN) == -1)
		return false;
	if (evbuffer_peek(q, -1, NULL, &b, 1) < 1 || b.iov_len != n + MUX_HEADER_LEN ||
	    (const uint8_t *)b.iov_base + MUX_HEADER_LEN != (const uint8_t *)data) {
		evbuffer_drain(q, MUX_HEADER_LEN);	/* the header went elsewhere: undo */
		return false;
	}
	if (evbuffer_remove_buffer(q, out, n + MUX_HEADER_LEN) != (int)(n + MUX_HEADER_LEN))
		fatalx("frame_in_place: the stream's queue is shorter than it says");
	return true;
}

static void
stream_send(struct mux_stream *st)
{
	struct evbuffer *out = bufferevent_get_output(st->s->bev);
	size_t q = evbuffer_get_length(st->out), n = q;
	uint8_t h[MUX_HEADER_LEN];
	struct evbuffer_iovec v, e[2];
	int ne = evbuffer_peek(st->out, -1, NULL, e, 2);
	bool fin;

	if (n > st->send_window)
		n = st->send_window;
	if (n > MUX_DATA_PAYLOAD)
		n = MUX_DATA_PAYLOAD;
	/* A relay's queue is a row of chains of one frame's payload each (see MUX_ZC_MIN). When
	 * a copy has left the first one short, it goes alone: sent with the start of the next,
	 * every frame after it would straddle two chains and be copied too. */
	if (n == MUX_DATA_PAYLOAD && ne >= 2 && e[0].iov_len < n &&
	    e[1].iov_len == MUX_DATA_PAYLOAD)
		n = e[0].iov_len;
	fin = st->fin_queued && n == q;
	frame_header(h, MUX_DATA, fin ? MUX_F_FIN : 0, st->id, (uint32_t)n);
	if (n >= MUX_ZC_MIN && ne >= 1 && e[0].iov_len == n &&
	    frame_in_place(st->out, e[0].iov_base, out, h, n))
		goto sent;
	/* Header and payload in one contiguous extent: the TLS layer writes one record per
	 * extent of the output, so a frame is one record (not a 12-byte record for the header
	 * and records the size of whatever chunks the payload came in). One copy of at most
	 * 16 KiB costs far less than the records and system calls it saves. */
	if (evbuffer_reserve_space(out, sizeof(h) + n, &v, 1) == 1 &&
	    v.iov_len >= sizeof(h) + n) {
		memcpy(v.iov_base, h, sizeof(h));
		if (n > 0 && evbuffer_remove(st->out, (uint8_t *)v.iov_base + sizeof(h), n) !=
		    (int)n)
			fatalx("stream_send: the stream's queue is shorter than it says");
		v.iov_len = sizeof(h) + n;
		evbuffer_commit_space(out, &v, 1);
	} else {
		evbuffer_add(out, h, sizeof(h));
		if (n > 0)
			evbuffer_remove_buffer(st->out, out, n);
	}
sent:
	if (st->s->counters != NULL)
		st->s->counters->bytes_out += n;
	st->send_window -= (uint32_t)n;
	if (fin) {
		st->fin_sent = true;
		log_debug("mux %s: stream %u: FIN sent", st->s->name, st->id);
	}
}

/* --- the session's close sequence ---------------------------------------------------------- */

/* Records a fatal error: reading stops at once; the close sequence runs from the pump, so that
 * no mux_* call of the application ever calls it back. send: tell the peer. */
static void
session_error(struct mux_session *s, uint16_t code, const char *reason, bool send)
{
	if (s->fail_pending || s->state >= MUX_S_CLOSING || s->freed)
		return;
	s->fail_pending = true;
	s->fail_send = send;
	s->fail_code = code;
	reason_copy(s->fail_reason, reason);
	log_debug("mux %s: closing: %s (%s)", s->name, mux_code_name(code), s->fail_reason);
	bufferevent_disable(s->bev, EV_READ);
	pump_schedule(s);
}

static void
timers_stop(struct mux_session *s)
{
	evtimer_del(s->hello_ev);
	evtimer_del(s->ka_ev);
}

/* The session is over: every stream closed, then the closed callback, once. */
static void
session_finish(struct mux_session *s, uint16_t code, const char *reason)
{
	if (s->state == MUX_S_CLOSED)
		return;
	s->state = MUX_S_CLOSED;
	s->fail_pending = false;
	timers_stop(s);
	evtimer_del(s->close_ev);
	bufferevent_disable(s->bev, EV_READ);
	log_debug("mux %s: closed: %s (%s)", s->name, mux_code_name(code), reason);
	streams_close_all(s, code, reason);
	if (!s->freed && s->cbs.closed != NULL)
		s->cbs.closed(s, code, reason, s->arg);
}

/* Runs a recorded error: the final frame (RESET on stream 0 before WELCOME, else GOAWAY),
 * streams closed, then a bounded flush before the closed callback. */
static void
session_fail(struct mux_session *s)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	uint8_t p[8 + MUX_MAX_REASON], last[4];
	struct timeval tv = { MUX_CLOSE_FLUSH_MS / 1000, MUX_CLOSE_FLUSH_MS % 1000 * 1000 };

	s->fail_pending = false;
	if (s->state >= MUX_S_CLOSING)
		return;
	if (s->fail_send) {
		evbuffer_drain(s->ctrl, evbuffer_get_length(s->ctrl));
		s->nctrl = 0;
		if (s->welcomed) {
			put_u32(last, s->highest_peer);
			frame_add(out, MUX_GOAWAY, 0, 0, p,
			    reason_payload(p, last, 4, s->fail_code, s->fail_reason));
		} else
			frame_add(out, MUX_RESET, 0, 0, p,
			    reason_payload(p, NULL, 0, s->fail_code, s->fail_reason));
	}
	s->state = MUX_S_CLOSING;
	timers_stop(s);
	/* Keep reading (and discarding) so that closing does not turn into a TCP reset. */
	bufferevent_enable(s->bev, EV_READ);
	if (tls_bufferevent_pending(s->bev))
		ev_bufferevent_read_now(s->bev);
	streams_close_all(s, s->fail_code, s->fail_reason);
	if (s->freed || s->state != MUX_S_CLOSING)
		return;
	if (!s->fail_send || evbuffer_get_length(out) == 0) {
		session_finish(s, s->fail_code, s->fail_reason);
		return;
	}
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	evtimer_add(s->close_ev, &tv);
}

/* --- the pump: control frames first, then DATA round-robin while the output has room ------- */

/*
 * Frames a stream may send in a row before the next stream's turn. One frame per turn made
 * the streams of a busy session take turns every 16 KiB: the peer then reads records of
 * different streams mixed, and a relay (the edge) or an endpoint (the connector) writes each
 * stream's socket 16 KiB at a time. Runs of up to 64 KiB give the relays and the origins
 * larger writes (TCP segments per GiB through the path with 8 streams: 180 k -> 152 k) and
 * delay another stream's next frame by at most 64 KiB per busy stream ahead of it.
 */
#define MUX_PUMP_QUANTUM	4

/* Writes waiting control frames, then DATA round-robin (up to MUX_PUMP_QUANTUM frames per
 * stream per turn) while the output is below its high watermark; closes streams that
 * finished. */
static void
pump_run(struct mux_session *s)
{
	struct mux_stream *st;

	if (s->fail_pending) {
		session_fail(s);
		return;
	}
	if (s->state != MUX_S_OPEN)
		return;
	ctrl_flush(s);
	while (!s->freed && !s->fail_pending && s->state == MUX_S_OPEN &&
	    (st = TAILQ_FIRST(&s->workq)) != NULL) {
		if (stream_done(st)) {
			work_remove(st);
			stream_close(st, MUX_OK, "");
			continue;
		}
		if (!stream_sendable(st)) {
			work_remove(st);
			continue;
		}
		if (evbuffer_get_length(s->ctrl) > 0 || output_len(s) >= MUX_OUTPUT_HIGH)
			break;	/* the write callback resumes */
		work_remove(st);
		stream_ref(st);
		for (int k = 0; k < MUX_PUMP_QUANTUM; k++) {
			stream_send(st);
			if (s->freed || s->fail_pending || !stream_sendable(st) ||
			    evbuffer_get_length(s->ctrl) > 0 ||
			    output_len(s) >= MUX_OUTPUT_HIGH)
				break;
		}
		if (stream_done(st))
			stream_close(st, MUX_OK, "");
		else if (stream_sendable(st)) {
			TAILQ_INSERT_TAIL(&s->workq, st, work);
			st->in_work = true;
		}
		stream_unref(st);
	}
	if (s->fail_pending && !s->freed)
		session_fail(s);
}

static void
pump_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mux_session *s = arg;
	bool idle = !s->freed && output_len(s) == 0;

	session_ref(s);
	pump_run(s);
	/* Write the frames now, not after the next epoll_wait reports the socket writable. Only
	 * when the output was empty: otherwise the socket is full and libevent waits for it. */
	if (!s->freed && idle)
		ev_bufferevent_write_now(s->bev);
	session_unref(s);
}

/* --- frame handlers ------------------------------------------------------------------------ */

/* Parses the code and reason of a RESET (or the tail of GOAWAY and CHECK_OK) into reason. */
static bool
reason_read(const uint8_t *p, size_t len, uint16_t *code, char *reason)
{
	struct mux_rd r = { p, len, 0 };

	return rd_u16(&r, code) && rd_text(&r, reason, MUX_MAX_REASON) && rd_end(&r);
}

static void
keepalive_arm(struct mux_session *s, uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000 * 1000) };

	s->ka_due = now_ms() + ms;
	evtimer_add(s->ka_ev, &tv);
}

/* Both sides may now open streams. */
static void
session_established(struct mux_session *s)
{
	s->state = MUX_S_OPEN;
	s->welcomed = true;
	evtimer_del(s->hello_ev);
	s->last_rx = now_ms();
	keepalive_arm(s, s->lim.keepalive_ms);
}

/* Server: a HELLO, parsed and handed to the application; its secrets are wiped after. */
static void
on_hello(struct mux_session *s, const struct mux_frame *f)
{
	struct mux_hello *h = xmalloc(sizeof(*h));
	char why[MUX_MAX_REASON + 1];
	const char *err;

	if ((err = hello_parse(f->payload, f->length, h)) != NULL) {
		snprintf(why, sizeof(why), "malformed HELLO: %s", err);
		session_error(s, MUX_PROTOCOL_ERROR, why, true);
		goto done;
	}
	/* No secret here: role, counts and the version text only. */
	log_debug("mux %s: HELLO from a %s, %zu hostnames, version \"%s\"", s->name,
	    h->role == MUX_ROLE_CONNECTOR ? "connector" : "client", h->nhostnames, h->version);
	s->state = MUX_S_AUTH;
	if (s->cbs.hello == NULL) {
		session_error(s, MUX_AUTH_FAILED, "authentication is not available", true);
		goto done;
	}
	s->cbs.hello(s, h, s->arg);
done:
	util_cleanse(h, sizeof(*h));
	free(h);
}

/* Client: WELCOME; its limits become the session's. */
static void
on_welcome(struct mux_session *s, const struct mux_frame *f)
{
	struct mux_welcome w;
	const char *err;

	if ((err = welcome_parse(f->payload, f->length, &w)) != NULL) {
		session_error(s, MUX_PROTOCOL_ERROR, err, false);
		return;
	}
	s->lim.initial_window = w.initial_window;
	s->lim.keepalive_ms = w.keepalive_ms;
	s->peer_max_streams = w.max_streams;
	session_established(s);
	log_debug("mux %s: WELCOME from \"%s\": %u streams, window %u, keepalive %u ms", s->name,
	    w.edge_name, w.max_streams, w.initial_window, w.keepalive_ms);
	if (s->cbs.welcome != NULL)
		s->cbs.welcome(s, &w, s->arg);
}

/* RESET on stream 0: the peer ends the session; nothing is answered. */
static void
on_reset0(struct mux_session *s, const struct mux_frame *f)
{
	char reason[MUX_MAX_REASON + 1];
	uint16_t code;

	if (!reason_read(f->payload, f->length, &code, reason)) {
		session_finish(s, MUX_PROTOCOL_ERROR, "malformed RESET from the peer");
		return;
	}
	session_finish(s, code, reason);
}

/* GOAWAY before WELCOME: the client gives up on the session with the edge's reason. */
static void
on_goaway_early(struct mux_session *s, const struct mux_frame *f)
{
	char reason[MUX_MAX_REASON + 1];
	uint16_t code;

	if (!reason_read(f->payload + 4, f->length - 4, &code, reason)) {
		session_finish(s, MUX_PROTOCOL_ERROR, "malformed GOAWAY from the peer");
		return;
	}
	session_finish(s, code, reason);
}

/* Refuses an OPEN without creating the stream. */
static void
refuse_open(struct mux_session *s, uint32_t id, uint16_t code, const char *reason)
{
	log_debug("mux %s: refusing stream %u: %s (%s)", s->name, id, mux_code_name(code), reason);
	send_reset(s, id, code, reason);
	count_reset(s);
}

/* The peer opens a stream: id rules, rate and concurrency limits, then the application. */
static void
on_open(struct mux_session *s, const struct mux_frame *f)
{
	char hostname[MUX_MAX_HOSTNAME + 1];
	struct mux_stream *st;
	struct mux_meta meta;
	const char *err;

	if (id_is_local(s, f->stream)) {
		session_error(s, MUX_PROTOCOL_ERROR, "OPEN with a stream id of the other side",
		    true);
		return;
	}
	if (f->stream <= s->highest_peer) {
		session_error(s, MUX_PROTOCOL_ERROR, "OPEN with a stream id not above the last",
		    true);
		return;
	}
	s->highest_peer = f->stream;
	if ((err = open_parse(f->payload, f->length, hostname, &meta)) != NULL) {
		session_error(s, MUX_PROTOCOL_ERROR, err, true);
		return;
	}
	if (!bucket_take(&s->opens, now_ms())) {
		session_error(s, MUX_ENHANCE_YOUR_CALM, "too many stream opens", true);
		return;
	}
	if (s->goaway_sent) {
		refuse_open(s, f->stream, MUX_REFUSED_STREAM, "the session is going away");
		return;
	}
	if (s->npeer >= s->lim.max_streams) {
		refuse_open(s, f->stream, MUX_REFUSED_STREAM, "too many streams");
		return;
	}
	if (s->cbs.open == NULL) {
		refuse_open(s, f->stream, MUX_REFUSED_STREAM, "no streams accepted here");
		return;
	}
	st = stream_new(s, f->stream, MUX_ST_PENDING);
	log_debug("mux %s: stream %u opened by the peer for %s", s->name, st->id, hostname);
	stream_ref(st);
	s->cbs.open(s, st, hostname, &meta, s->arg);
	stream_unref(st);
}

/* Finds the stream of a frame; NULL when it is gone (ignore the frame) or never existed (then
 * the session has failed). */
static struct mux_stream *
frame_stream(struct mux_session *s, const struct mux_frame *f)
{
	struct mux_stream *st;

	if ((st = stream_find(s, f->stream)) != NULL)
		return st;
	if (id_never_opened(s, f->stream))
		session_error(s, MUX_PROTOCOL_ERROR, "frame for a stream never opened", true);
	return NULL;
}

/* The peer accepted a stream of ours: data may flow. */
static void
on_open_ok(struct mux_session *s, const struct mux_frame *f)
{
	struct mux_stream *st;

	if ((st = frame_stream(s, f)) == NULL)
		return;
	if (!st->local || st->state != MUX_ST_OPENING) {
		session_error(s, MUX_PROTOCOL_ERROR, "unexpected OPEN_OK", true);
		return;
	}
	st->state = MUX_ST_OPEN;
	if (stream_sendable(st))
		work_add(st);
	stream_ref(st);
	stream_cb_opened(st);
	stream_unref(st);
}

/* DATA within the window goes to the stream's input; FIN half-closes; beyond it, a reset. */
static void
on_data(struct mux_session *s, const struct mux_frame *f)
{
	bool fin = (f->flags & MUX_F_FIN) != 0;
	struct mux_stream *st;

	if ((st = stream_find(s, f->stream)) == NULL) {
		if (id_never_opened(s, f->stream))
			session_error(s, MUX_PROTOCOL_ERROR, "DATA for a stream never opened",
			    true);
		else if (f->length == 0 && !fin)
			count_control(s, MUX_CTL_EMPTY);
		return;
	}
	if (st->state != MUX_ST_OPEN) {
		session_error(s, MUX_PROTOCOL_ERROR, "DATA before OPEN_OK", true);
		return;
	}
	if (st->fin_recv) {
		stream_error(st, MUX_PROTOCOL_ERROR, "DATA after FIN");
		return;
	}
	if (f->length > st->recv_window) {
		if (++s->flow_errors >= MUX_FLOW_ERRORS_MAX)
			session_error(s, MUX_FLOW_CONTROL, "data beyond the window, again", true);
		else
			stream_error(st, MUX_FLOW_CONTROL, "data beyond the window");
		return;
	}
	if (f->length == 0 && !fin) {
		count_control(s, MUX_CTL_EMPTY);
		return;
	}
	if (s->rx_zc) {
		struct evbuffer *in = bufferevent_get_input(s->bev);

		/* The frame is the first chain of the input, whole: the payload's chain moves to
		 * the queue as it is (libevent moves whole chains), and a relay's stream_send can
		 * put the next header in front of it where this one was. */
		evbuffer_drain(in, MUX_HEADER_LEN);
		if (evbuffer_remove_buffer(in, st->in, f->length) != (int)f->length)
			fatalx("on_data: the input is shorter than the frame it holds");
		s->rx_taken = true;
	} else
		evbuffer_add(st->in, f->payload, f->length);
	if (s->counters != NULL)
		s->counters->bytes_in += f->length;
	st->recv_window -= f->length;
	st->held += f->length;
	if (fin) {
		st->fin_recv = true;
		log_debug("mux %s: stream %u: FIN received", s->name, st->id);
	}
	stream_ref(st);
	if (f->length > 0)
		stream_cb_data(st);
	if (fin && !st->closed)
		stream_cb_fin(st);
	if (stream_done(st) && session_alive(s))
		stream_close(st, MUX_OK, "");
	stream_unref(st);
}

/* Credit for a stream of ours; the writer hears of it if it was waiting. */
static void
on_window(struct mux_session *s, const struct mux_frame *f)
{
	uint32_t inc = get_u32(f->payload);
	struct mux_stream *st;

	if (inc == 0) {
		session_error(s, MUX_PROTOCOL_ERROR, "WINDOW increment of 0", true);
		return;
	}
	if ((st = stream_find(s, f->stream)) == NULL) {
		if (id_never_opened(s, f->stream))
			session_error(s, MUX_PROTOCOL_ERROR, "WINDOW for a stream never opened",
			    true);
		else
			count_control(s, MUX_CTL_WINDOW);
		return;
	}
	if (st->state != MUX_ST_OPEN) {
		session_error(s, MUX_PROTOCOL_ERROR, "WINDOW before OPEN_OK", true);
		return;
	}
	if ((uint64_t)st->send_window + inc > MUX_MAX_WINDOW) {
		stream_error(st, MUX_FLOW_CONTROL, "window above 2^31-1");
		return;
	}
	st->send_window += inc;
	if (stream_sendable(st))
		work_add(st);
	if (st->blocked && write_space(st) > 0) {
		st->blocked = false;
		stream_ref(st);
		stream_cb_writable(st);
		stream_unref(st);
	}
}

/* The peer resets a stream; it ends at once. */
static void
on_reset(struct mux_session *s, const struct mux_frame *f)
{
	char reason[MUX_MAX_REASON + 1];
	struct mux_stream *st;
	uint16_t code;

	if (!reason_read(f->payload, f->length, &code, reason)) {
		session_error(s, MUX_PROTOCOL_ERROR, "malformed RESET", true);
		return;
	}
	count_reset(s);
	if ((st = frame_stream(s, f)) == NULL)
		return;
	log_debug("mux %s: stream %u reset by the peer: %s (%s)", s->name, st->id,
	    mux_code_name(code), reason);
	stream_close(st, code == MUX_OK ? MUX_CANCEL : code, reason);
}

static void
on_ping(struct mux_session *s, const struct mux_frame *f)
{
	count_control(s, MUX_CTL_PING);
	if (s->fail_pending)
		return;
	if ((f->flags & MUX_F_ACK) != 0)
		s->ping_out = false;
	else
		ctrl_frame(s, MUX_PING, MUX_F_ACK, 0, f->payload, 8);
}

/* The peer opens no new streams and accepts none; the first GOAWAY is reported. */
static void
on_goaway(struct mux_session *s, const struct mux_frame *f)
{
	char reason[MUX_MAX_REASON + 1];
	uint16_t code;

	if (!reason_read(f->payload + 4, f->length - 4, &code, reason)) {
		session_error(s, MUX_PROTOCOL_ERROR, "malformed GOAWAY", true);
		return;
	}
	s->goaway_code = code;
	memcpy(s->goaway_reason, reason, sizeof(reason));
	if (s->goaway_recv) {
		count_control(s, MUX_CTL_GOAWAY);
		return;
	}
	s->goaway_recv = true;
	log_debug("mux %s: GOAWAY from the peer (last stream %u): %s (%s)", s->name,
	    get_u32(f->payload), mux_code_name(code), reason);
	if (s->cbs.goaway != NULL)
		s->cbs.goaway(s, code, reason, s->arg);
}

/* The index of a CHECK id in flight, or -1. */
static ssize_t
check_find(const struct mux_session *s, uint32_t id)
{
	for (size_t i = 0; i < s->nchecks; i++)
		if (s->checks[i] == id)
			return (ssize_t)i;
	return -1;
}

static void
check_answer(struct mux_session *s, uint32_t id, uint16_t code, const char *reason)
{
	uint8_t p[8 + MUX_MAX_REASON], rid[4];

	put_u32(rid, id);
	ctrl_frame(s, MUX_CHECK_OK, 0, 0, p, reason_payload(p, rid, 4, code, reason));
}

/* Server: a CHECK, bounded in rate and in number waiting, handed to the application. */
static void
on_check(struct mux_session *s, const struct mux_frame *f)
{
	char hostname[MUX_MAX_HOSTNAME + 1];
	struct mux_rd r = { f->payload, f->length, 0 };
	uint32_t id;

	if (!s->server) {
		session_error(s, MUX_PROTOCOL_ERROR, "CHECK sent to the dialling side", true);
		return;
	}
	if (!rd_u32(&r, &id) || !rd_text(&r, hostname, MUX_MAX_HOSTNAME) || !rd_end(&r) ||
	    !mux_hostname_valid(hostname, false)) {
		session_error(s, MUX_PROTOCOL_ERROR, "malformed CHECK", true);
		return;
	}
	if (!bucket_take(&s->opens, now_ms())) {
		session_error(s, MUX_ENHANCE_YOUR_CALM, "too many CHECKs", true);
		return;
	}
	if (check_find(s, id) != -1) {
		session_error(s, MUX_PROTOCOL_ERROR, "CHECK id already in flight", true);
		return;
	}
	if (s->nchecks >= s->lim.max_checks) {
		check_answer(s, id, MUX_REFUSED_STREAM, "too many CHECKs in flight");
		return;
	}
	if (s->cbs.check == NULL) {
		check_answer(s, id, MUX_INTERNAL, "CHECK is not available here");
		return;
	}
	s->checks[s->nchecks++] = id;
	s->cbs.check(s, id, hostname, s->arg);
}

/* Connector: the edge's JWKS. A server or a client receiving it fails the session. */
static void
on_keys(struct mux_session *s, const struct mux_frame *f)
{
	char *jwks;

	if (s->server || s->role != MUX_ROLE_CONNECTOR) {
		session_error(s, MUX_PROTOCOL_ERROR, "KEYS is sent only to connectors", true);
		return;
	}
	if (memchr(f->payload, '\0', f->length) != NULL) {
		session_error(s, MUX_PROTOCOL_ERROR, "malformed KEYS", true);
		return;
	}
	count_control(s, MUX_CTL_KEYS);
	if (s->fail_pending || s->cbs.keys == NULL)
		return;
	jwks = xmalloc((size_t)f->length + 1);
	memcpy(jwks, f->payload, f->length);
	jwks[f->length] = '\0';
	s->cbs.keys(s, jwks, f->length, s->arg);
	free(jwks);
}

/* Client: the answer to a CHECK in flight. */
static void
on_check_ok(struct mux_session *s, const struct mux_frame *f)
{
	char reason[MUX_MAX_REASON + 1];
	uint32_t id = get_u32(f->payload);
	uint16_t code;
	ssize_t i;

	if (s->server || (i = check_find(s, id)) == -1) {
		session_error(s, MUX_PROTOCOL_ERROR, "CHECK_OK for no CHECK", true);
		return;
	}
	if (!reason_read(f->payload + 4, f->length - 4, &code, reason)) {
		session_error(s, MUX_PROTOCOL_ERROR, "malformed CHECK_OK", true);
		return;
	}
	s->checks[i] = s->checks[--s->nchecks];
	if (s->cbs.check_reply != NULL)
		s->cbs.check_reply(s, id, code, reason, s->arg);
}

/* Handles one whole frame according to the session's state. */
static void
frame_handle(struct mux_session *s, const struct mux_frame *f)
{
	if (f->type == MUX_RESET && f->stream == 0) {
		on_reset0(s, f);
		return;
	}
	switch (s->state) {
	case MUX_S_HELLO:
		if (f->type == MUX_HELLO)
			on_hello(s, f);
		else
			session_error(s, MUX_AUTH_REQUIRED, "the first frame must be HELLO", true);
		return;
	case MUX_S_AUTH:
		session_error(s, MUX_PROTOCOL_ERROR, "frame before WELCOME", true);
		return;
	case MUX_S_NEW:
	case MUX_S_WELCOME:
		if (f->type == MUX_WELCOME && s->state == MUX_S_WELCOME)
			on_welcome(s, f);
		else if (f->type == MUX_GOAWAY)
			on_goaway_early(s, f);
		else
			session_error(s, MUX_PROTOCOL_ERROR, "frame before WELCOME", false);
		return;
	case MUX_S_OPEN:
		break;
	default:
		return;
	}
	switch (f->type) {
	case MUX_OPEN:
		on_open(s, f);
		break;
	case MUX_OPEN_OK:
		on_open_ok(s, f);
		break;
	case MUX_DATA:
		on_data(s, f);
		break;
	case MUX_WINDOW:
		on_window(s, f);
		break;
	case MUX_RESET:
		on_reset(s, f);
		break;
	case MUX_PING:
		on_ping(s, f);
		break;
	case MUX_GOAWAY:
		on_goaway(s, f);
		break;
	case MUX_CHECK:
		on_check(s, f);
		break;
	case MUX_CHECK_OK:
		on_check_ok(s, f);
		break;
	case MUX_KEYS:
		on_keys(s, f);
		break;
	default:
		session_error(s, MUX_PROTOCOL_ERROR, "HELLO or WELCOME after set-up", true);
		break;
	}
}

/* --- bufferevent callbacks ----------------------------------------------------------------- */

/* Parses whole frames out of the input, one at a time, and handles them. */
static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct mux_session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t h[MUX_HEADER_LEN];
	struct mux_frame f;
	const char *err;
	bool any = false, idle = evbuffer_get_length(bufferevent_get_output(bev)) == 0;

	session_ref(s);
	if (s->state == MUX_S_CLOSING) {
		evbuffer_drain(in, evbuffer_get_length(in));
		goto done;
	}
	/* libevent hands over one record per callback: take the others TLS read-ahead holds
	 * now, so that the frames of one read() are relayed together (one write per splice). */
	(void)tls_bufferevent_read_buffered(bev, 64 * 1024);
	while (!s->freed && !s->fail_pending && s->state < MUX_S_CLOSING &&
	    evbuffer_get_length(in) >= MUX_HEADER_LEN) {
		uint8_t *p;
		size_t n;

		evbuffer_copyout(in, h, sizeof(h));
		if ((err = frame_header_parse(h, &f)) != NULL) {
			log_debug("mux %s: bad frame header (%s, length %u): %s", s->name,
			    type_name(f.type), f.length, err);
			session_error(s, MUX_PROTOCOL_ERROR, err, true);
			break;
		}
		n = MUX_HEADER_LEN + (size_t)f.length;
		if (evbuffer_get_length(in) < n)
			break;
		if ((p = evbuffer_pullup(in, (ev_ssize_t)n)) == NULL) {
			session_error(s, MUX_INTERNAL, "out of memory", true);
			break;
		}
		f.payload = p + MUX_HEADER_LEN;
		any = true;
		s->rx_zc = f.type == MUX_DATA && f.length >= MUX_ZC_MIN && n <= MUX_RECORD &&
		    first_extent(in) == n;
		s->rx_taken = false;
		frame_handle(s, &f);
		if (f.type == MUX_HELLO)
			util_cleanse(p, n);	/* the frame held secrets */
		if (!s->rx_taken)
			evbuffer_drain(in, n);
		s->rx_zc = s->rx_taken = false;
	}
	if (any)
		s->last_rx = now_ms();
	/* Records that TLS read-ahead took in with the last read() are not news to epoll: read
	 * them in this turn (one record per turn of the loop, no system call). Control frames the
	 * handlers queued (credit, answers) go out now. */
	if (!s->freed) {
		if (tls_bufferevent_pending(bev))
			ev_bufferevent_read_now(bev);
		if (idle)
			ev_bufferevent_write_now(bev);
	}
done:
	session_unref(s);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct mux_session *s = arg;

	session_ref(s);
	if (s->state == MUX_S_CLOSING) {
		/* Gathered records still to go: this runs again once they are written. */
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0 &&
		    tls_bufferevent_unsent(bev) == 0)
			session_finish(s, s->fail_code, s->fail_reason);
	} else if (s->state == MUX_S_OPEN)
		pump_run(s);
	session_unref(s);
}

static void	session_ended(struct mux_session *, struct bufferevent *, short, int);

/* EOF or error on the connection: the session ends (with the GOAWAY's reason if any). */
static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct mux_session *s = arg;
	int err = EVUTIL_SOCKET_ERROR();

	if ((what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) == 0) {
		/* The handshake is over: the records read ahead with its last message. */
		if ((what & BEV_EVENT_CONNECTED) != 0 && !s->freed &&
		    tls_bufferevent_pending(bev))
			ev_bufferevent_read_now(bev);
		return;
	}
	/* A write failed (the peer closed or reset the connection) while the peer may still
	 * have sent something we have not read: a GOAWAY saying why. epoll would report both
	 * and libevent would read first; a write started before epoll_wait
	 * (ev_bufferevent_write_now) learns of the end first. Read once more, then report. */
	if ((what & (BEV_EVENT_WRITING | BEV_EVENT_TIMEOUT)) == BEV_EVENT_WRITING &&
	    !s->freed && s->state < MUX_S_CLOSING && !s->goaway_recv &&
	    !event_pending(s->werr_ev, EV_TIMEOUT, NULL) &&
	    (bufferevent_get_enabled(bev) & EV_READ) != 0) {
		s->werr_what = what;
		s->werr_errno = err;
		ev_bufferevent_read_now(bev);
		event_active(s->werr_ev, EV_TIMEOUT, 0);	/* after that read */
		return;
	}
	session_ended(s, bev, what, err);
}

/* The deferred report of a failed write (event_cb), unless the session ended meanwhile. */
static void
werr_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mux_session *s = arg;

	session_ended(s, s->bev, s->werr_what, s->werr_errno);
}

static void
session_ended(struct mux_session *s, struct bufferevent *bev, short what, int err)
{
	char reason[MUX_MAX_REASON + 1];

	session_ref(s);
	if (s->state == MUX_S_CLOSED || s->freed)
		goto done;
	if (s->state == MUX_S_CLOSING)
		session_finish(s, s->fail_code, s->fail_reason);
	else if (s->goaway_recv && ((what & BEV_EVENT_EOF) != 0 || s->goaway_code != MUX_OK))
		/* The GOAWAY said why; the end of the connection follows from it. */
		session_finish(s, s->goaway_code, s->goaway_reason[0] != '\0' ? s->goaway_reason :
		    "connection closed after GOAWAY");
	else if ((what & BEV_EVENT_EOF) != 0)
		session_finish(s, MUX_CANCEL, "connection closed by the peer");
	else if (err == 0 && !s->server) {
		/* A TLS failure: the dialling side says which (a certificate that does not
		 * match the pin or the name, no common protocol). The edge does not, for every
		 * scanner that speaks garbage to it. */
		char why[MUX_MAX_REASON - 32];

		tls_bufferevent_error(bev, why, sizeof(why));
		snprintf(reason, sizeof(reason), "TLS: %s", why);
		session_finish(s, MUX_INTERNAL, reason);
	} else {
		snprintf(reason, sizeof(reason), "connection error: %s",
		    err != 0 ? evutil_socket_error_to_string(err) : "TLS or transport failure");
		session_finish(s, MUX_INTERNAL, reason);
	}
done:
	session_unref(s);
}

/* --- timers -------------------------------------------------------------------------------- */

/* The set-up deadline: no HELLO, no decision on it, or no WELCOME in time. */
static void
hello_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mux_session *s = arg;
	char reason[MUX_MAX_REASON + 1];

	session_ref(s);
	if (s->state == MUX_S_HELLO || s->state == MUX_S_AUTH) {
		snprintf(reason, sizeof(reason), "%s within %u ms",
		    s->state == MUX_S_HELLO ? "no HELLO" : "no authentication decision",
		    s->lim.hello_timeout_ms);
		session_error(s, MUX_TIMEOUT, reason, true);
	} else if (s->state == MUX_S_NEW || s->state == MUX_S_WELCOME) {
		snprintf(reason, sizeof(reason), "no WELCOME within %u ms",
		    s->lim.hello_timeout_ms);
		session_error(s, MUX_TIMEOUT, reason, s->state == MUX_S_WELCOME);
	}
	session_unref(s);
}

/* PING after keepalive_ms of silence; dead after twice that, once a PING has had keepalive_ms
 * to be answered. A timer that fires late means our own loop was stalled: the answer may be
 * waiting unread, so the verdict waits for the loop to run again. Only whole frames count. */
static void
keepalive_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mux_session *s = arg;
	uint64_t now = now_ms(), idle, asked, k = s->lim.keepalive_ms, wait;
	bool late = now > s->ka_due + k / 2;
	char reason[MUX_MAX_REASON + 1];
	uint8_t p[8];

	if (s->state != MUX_S_OPEN || s->fail_pending)
		return;
	session_ref(s);
	idle = now > s->last_rx ? now - s->last_rx : 0;
	asked = now > s->ping_at ? now - s->ping_at : 0;
	if (idle < k) {
		s->ping_out = false;
		keepalive_arm(s, k - idle);
	} else if (!s->ping_out) {
		s->ping_out = true;
		s->ping_at = now;
		s->ping_seq++;
		for (int i = 0; i < 8; i++)
			p[i] = (uint8_t)(s->ping_seq >> (56 - 8 * i));
		ctrl_frame(s, MUX_PING, 0, 0, p, sizeof(p));
		keepalive_arm(s, k);	/* idle >= k: by then idle >= 2k and the PING had k */
	} else if (late) {
		keepalive_arm(s, k / 2 > 0 ? k / 2 : 1);
	} else if (idle >= 2 * k && asked >= k) {
		snprintf(reason, sizeof(reason), "nothing received for %llu ms",
		    (unsigned long long)idle);
		session_finish(s, MUX_TIMEOUT, reason);
	} else {
		wait = idle < 2 * k ? 2 * k - idle : 1;
		if (asked < k && k - asked > wait)
			wait = k - asked;
		keepalive_arm(s, wait);
	}
	session_unref(s);
}

static void
close_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mux_session *s = arg;

	session_ref(s);
	session_finish(s, s->fail_code, s->fail_reason);
	session_unref(s);
}

/* --- sessions ------------------------------------------------------------------------------ */

/* Fills zero limits with the defaults; returns why the limits are invalid, or NULL. */
static const char *
limits_resolve(struct mux_limits *l, bool server)
{
	if (l->max_streams == 0)
		l->max_streams = server ? MUX_DEF_STREAMS_SERVER : MUX_DEF_STREAMS_CLIENT;
	if (l->initial_window == 0)
		l->initial_window = MUX_INITIAL_WINDOW;
	if (l->max_window == 0)
		l->max_window = MUX_TUNED_WINDOW;
	if (l->keepalive_ms == 0)
		l->keepalive_ms = MUX_DEF_KEEPALIVE;
	if (l->hello_timeout_ms == 0)
		l->hello_timeout_ms = MUX_DEF_HELLO_TIMEOUT;
	if (l->open_rate == 0)
		l->open_rate = MUX_DEF_RATE;
	if (l->open_burst == 0)
		l->open_burst = MUX_DEF_BURST;
	if (l->reset_rate == 0)
		l->reset_rate = MUX_DEF_RATE;
	if (l->reset_burst == 0)
		l->reset_burst = MUX_DEF_BURST;
	if (l->control_rate == 0)
		l->control_rate = MUX_DEF_CONTROL_RATE;
	if (l->control_burst == 0)
		l->control_burst = MUX_DEF_CONTROL_BURST;
	if (l->max_control_queue == 0)
		l->max_control_queue = MUX_DEF_CONTROL_QUEUE;
	if (l->max_checks == 0)
		l->max_checks = MUX_DEF_CHECKS;
	if (l->initial_window > MUX_MAX_WINDOW)
		return "initial_window above 2^31-1";
	if (l->max_window > MUX_MAX_WINDOW)
		return "max_window above 2^31-1";
	if (l->keepalive_ms < MUX_KEEPALIVE_MIN || l->keepalive_ms > MUX_KEEPALIVE_MAX)
		return "keepalive_ms outside 10..86400000";
	if (l->max_checks > 1024)
		return "max_checks above 1024";
	return NULL;
}

/* A session over bev, waiting for HELLO (server) or for mux_send_hello (client). */
struct mux_session *
mux_session_new(struct event_base *base, struct bufferevent *bev, bool server,
    const struct mux_limits *limits, const struct mux_session_cbs *cbs, void *arg)
{
	struct mux_session *s = NULL;
	struct mux_limits lim = { 0 };
	struct timeval tv;
	const char *err;
	uint64_t now = now_ms();

	if (limits != NULL)
		lim = *limits;
	if (base == NULL || bev == NULL) {
		log_errorx("mux_session_new: no event base or bufferevent");
		goto fail;
	}
	if ((err = limits_resolve(&lim, server)) != NULL) {
		log_errorx("mux_session_new: invalid limits: %s", err);
		goto fail;
	}
	s = xcalloc(1, sizeof(*s));
	s->base = base;
	s->bev = bev;
	s->lim = lim;
	if (cbs != NULL)
		s->cbs = *cbs;
	s->arg = arg;
	s->server = server;
	s->state = server ? MUX_S_HELLO : MUX_S_NEW;
	s->next_id = server ? 2 : 1;
	s->peer_max_streams = UINT32_MAX;
	snprintf(s->name, sizeof(s->name), "%s#%u", server ? "server" : "client",
	    ++mux_session_seq);
	s->nbuckets = MUX_HASH_MIN;
	s->buckets = xcalloc(s->nbuckets, sizeof(*s->buckets));
	TAILQ_INIT(&s->workq);
	s->ctrl = xevbuffer_new();
	s->checks = xcalloc(lim.max_checks, sizeof(*s->checks));
	bucket_init(&s->opens, lim.open_rate, lim.open_burst, now);
	bucket_init(&s->resets, lim.reset_rate, lim.reset_burst, now);
	for (int i = 0; i < MUX_CTL_KINDS; i++)
		bucket_init(&s->ctl[i], lim.control_rate, lim.control_burst, now);
	s->hello_ev = evtimer_new(base, hello_timeout_cb, s);
	s->ka_ev = evtimer_new(base, keepalive_cb, s);
	s->close_ev = evtimer_new(base, close_timeout_cb, s);
	s->pump_ev = event_new(base, -1, 0, pump_cb, s);
	s->werr_ev = event_new(base, -1, 0, werr_cb, s);
	if (s->hello_ev == NULL || s->ka_ev == NULL || s->close_ev == NULL || s->pump_ev == NULL ||
	    s->werr_ev == NULL)
		fatalx("mux_session_new: out of memory for events");
	bufferevent_setcb(bev, read_cb, write_cb, event_cb, s);
	bufferevent_setwatermark(bev, EV_WRITE, MUX_OUTPUT_LOW, 0);
	bufferevent_setwatermark(bev, EV_READ, 0, 0);
	/* One read() for several records; read_cb, event_cb (after the handshake) and
	 * session_fail read what OpenSSL holds beyond the record libevent asked for. */
	tls_bufferevent_read_ahead(bev);
	/* One record per reservation of MUX_RECORD bytes: a full frame is a chain of its own (see
	 * MUX_ZC_MIN). The size of a read() is read-ahead's business, not this. */
	bufferevent_set_max_single_read(bev, MUX_RECORD);
	/* The records of one turn of the loop leave in one write(): full TCP segments, and a
	 * wake-up of the peer per 64 KiB rather than per record. */
	(void)tls_bufferevent_gather(bev);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	if (tls_bufferevent_pending(bev))
		ev_bufferevent_read_now(bev);
	tv.tv_sec = lim.hello_timeout_ms / 1000;
	tv.tv_usec = (suseconds_t)(lim.hello_timeout_ms % 1000 * 1000);
	evtimer_add(s->hello_ev, &tv);
	log_debug("mux %s: new session", s->name);
	return s;
fail:
	if (bev != NULL) {
		tls_bufferevent_flush(bev);
		bufferevent_free(bev);
	}
	return NULL;
}

/* Before WELCOME: new limits (a server learns in HELLO who the peer is); no stream or CHECK
 * exists yet, so only the buckets and the CHECK table are made again. */
int
mux_session_set_limits(struct mux_session *s, const struct mux_limits *limits)
{
	struct mux_limits lim = { 0 };
	const char *err;
	uint64_t now = now_ms();

	if (limits != NULL)
		lim = *limits;
	if (s->fail_pending || s->freed || (s->state != MUX_S_HELLO && s->state != MUX_S_AUTH &&
	    s->state != MUX_S_NEW && s->state != MUX_S_WELCOME)) {
		log_errorx("mux_session_set_limits: limits are set before WELCOME");
		return -1;
	}
	if ((err = limits_resolve(&lim, s->server)) != NULL) {
		log_errorx("mux_session_set_limits: invalid limits: %s", err);
		return -1;
	}
	s->lim = lim;
	free(s->checks);
	s->checks = xcalloc(lim.max_checks, sizeof(*s->checks));
	s->nchecks = 0;
	bucket_init(&s->opens, lim.open_rate, lim.open_burst, now);
	bucket_init(&s->resets, lim.reset_rate, lim.reset_burst, now);
	for (int i = 0; i < MUX_CTL_KINDS; i++)
		bucket_init(&s->ctl[i], lim.control_rate, lim.control_burst, now);
	return 0;
}

/* Frees everything now; splices of the streams are told (their done callbacks run). */
static void
session_destroy(struct mux_session *s)
{
	s->destroying = true;
	s->freed = true;
	for (size_t i = 0; i < s->nbuckets; i++)
		while (s->buckets[i] != NULL)
			stream_close(s->buckets[i], MUX_CANCEL, "session freed");
	log_debug("mux %s: freed", s->name);
	event_free(s->hello_ev);
	event_free(s->ka_ev);
	event_free(s->close_ev);
	event_free(s->pump_ev);
	event_free(s->werr_ev);
	tls_bufferevent_flush(s->bev);
	bufferevent_free(s->bev);
	evbuffer_free(s->ctrl);
	free(s->buckets);
	free(s->checks);
	free(s);
}

/* Frees at once, or when the outermost mux handler returns if called from a callback. */
void
mux_session_free(struct mux_session *s)
{
	if (s == NULL || s->destroying)
		return;
	if (s->refs > 0) {
		/* From inside a callback: destroyed when the outermost handler returns. */
		s->freed = true;
		timers_stop(s);
		evtimer_del(s->close_ev);
		bufferevent_disable(s->bev, EV_READ | EV_WRITE);
		return;
	}
	session_destroy(s);
}

/* Client: sends HELLO, the first frame; the encoded secrets are wiped from the stack. */
int
mux_send_hello(struct mux_session *s, const struct mux_hello *hello)
{
	uint8_t buf[MUX_HEADER_LEN + MUX_MAX_HELLO];
	int n, ret = -1;

	if (s->server || s->state != MUX_S_NEW) {
		log_errorx("mux_send_hello: HELLO is sent once, by the dialling side, first");
		return -1;
	}
	if ((n = mux_hello_encode(hello, buf + MUX_HEADER_LEN, MUX_MAX_HELLO)) == -1)
		goto done;
	frame_header(buf, MUX_HELLO, 0, 0, (uint32_t)n);
	bufferevent_write(s->bev, buf, MUX_HEADER_LEN + (size_t)n);
	s->state = MUX_S_WELCOME;
	s->role = hello->role;
	log_debug("mux %s: HELLO sent", s->name);
	ret = 0;
done:
	util_cleanse(buf, sizeof(buf));
	return ret;
}

/* Server: answers the HELLO waiting with WELCOME carrying the session's own limits. */
int
mux_welcome(struct mux_session *s, const struct mux_welcome *w)
{
	uint8_t buf[MUX_HEADER_LEN + MUX_WELCOME_FIXED + 2 + MUX_MAX_HOSTNAME];
	static const uint8_t zero[16];
	struct mux_welcome ours = *w;
	int n;

	if (s->fail_pending || s->state >= MUX_S_CLOSING || s->freed) {
		log_debug("mux %s: not welcomed: the session is closing", s->name);
		return -1;
	}
	if (!s->server || s->state != MUX_S_AUTH) {
		log_errorx("mux_welcome: no HELLO is waiting for an answer");
		return -1;
	}
	ours.max_streams = s->lim.max_streams;
	ours.initial_window = s->lim.initial_window;
	ours.keepalive_ms = s->lim.keepalive_ms;
	if (memcmp(ours.session_id, zero, sizeof(zero)) == 0 &&
	    util_random_bytes(ours.session_id, sizeof(ours.session_id)) == -1)
		return -1;
	if ((n = mux_welcome_encode(&ours, buf + MUX_HEADER_LEN, sizeof(buf) - MUX_HEADER_LEN)) ==
	    -1)
		return -1;
	frame_header(buf, MUX_WELCOME, 0, 0, (uint32_t)n);
	bufferevent_write(s->bev, buf, MUX_HEADER_LEN + (size_t)n);
	session_established(s);
	log_debug("mux %s: WELCOME sent", s->name);
	return 0;
}

void
mux_close(struct mux_session *s, uint16_t code, const char *reason)
{
	if (s == NULL || s->freed || s->state >= MUX_S_CLOSING)
		return;
	session_error(s, code, reason, true);
}

void
mux_goaway(struct mux_session *s, uint16_t code, const char *reason)
{
	uint8_t p[8 + MUX_MAX_REASON], last[4];

	if (s->state != MUX_S_OPEN || s->goaway_sent || s->fail_pending || s->freed)
		return;
	s->goaway_sent = true;
	put_u32(last, s->highest_peer);
	log_debug("mux %s: sending GOAWAY: %s", s->name, mux_code_name(code));
	ctrl_frame(s, MUX_GOAWAY, 0, 0, p, reason_payload(p, last, 4, code, reason));
}

void
mux_session_set_counters(struct mux_session *s, struct mux_counters *c)
{
	s->counters = c;
}

bool
mux_session_established(const struct mux_session *s)
{
	return s->state == MUX_S_OPEN && !s->fail_pending;
}

bool
mux_session_draining(const struct mux_session *s)
{
	return s->goaway_sent || s->goaway_recv;
}

size_t
mux_session_nstreams(const struct mux_session *s)
{
	return s->nlocal + s->npeer;
}

void *
mux_session_arg(const struct mux_session *s)
{
	return s->arg;
}

void
mux_session_set_arg(struct mux_session *s, void *arg)
{
	s->arg = arg;
}

struct bufferevent *
mux_session_bev(const struct mux_session *s)
{
	return s->bev;
}

/* Client: sends CHECK for hostname; the id stays in flight until CHECK_OK. */
int
mux_check(struct mux_session *s, uint32_t id, const char *hostname)
{
	uint8_t p[4 + MUX_STR_LEN + MUX_MAX_HOSTNAME];
	size_t n;

	if (s->server || !mux_session_established(s)) {
		log_errorx("mux_check: only an established client session sends CHECK");
		return -1;
	}
	if (!mux_hostname_valid(hostname, false)) {
		log_errorx("mux_check: invalid hostname");
		return -1;
	}
	if (check_find(s, id) != -1 || s->nchecks >= s->lim.max_checks) {
		log_errorx("mux_check: CHECK %u already in flight, or too many are", id);
		return -1;
	}
	n = strlen(hostname);
	put_u32(p, id);
	put_u16(p + 4, (uint16_t)n);
	memcpy(p + 6, hostname, n);
	s->checks[s->nchecks++] = id;
	ctrl_frame(s, MUX_CHECK, 0, 0, p, 6 + n);
	return 0;
}

int
mux_check_reply(struct mux_session *s, uint32_t id, uint16_t code, const char *reason)
{
	ssize_t i;

	if (!s->server || (i = check_find(s, id)) == -1) {
		log_errorx("mux_check_reply: no CHECK %u is waiting for an answer", id);
		return -1;
	}
	s->checks[i] = s->checks[--s->nchecks];
	check_answer(s, id, code, reason);
	return 0;
}

/* --- streams: the application's side ------------------------------------------------------- */

/* Server: the edge's JWKS to a connector. */
int
mux_send_keys(struct mux_session *s, const char *jwks, size_t len)
{
	if (!s->server || !mux_session_established(s) || s->freed) {
		log_errorx("mux_send_keys: only an established server session sends KEYS");
		return -1;
	}
	if (len == 0 || len > MUX_MAX_KEYS || memchr(jwks, '\0', len) != NULL) {
		log_errorx("mux_send_keys: a JWKS of %zu bytes does not fit KEYS (1-%d bytes)",
		    len, MUX_MAX_KEYS);
		return -1;
	}
	ctrl_frame(s, MUX_KEYS, 0, 0, jwks, len);
	return 0;
}

/* Opens a stream of ours (next odd or even id); data may be queued before OPEN_OK. */
struct mux_stream *
mux_stream_open(struct mux_session *s, const char *hostname, const struct mux_meta *meta,
    const struct mux_stream_cbs *cbs, void *arg)
{
	uint8_t p[MUX_OPEN_MAX];
	struct mux_stream *st;
	int n;

	if (!mux_session_established(s) || s->freed || mux_session_draining(s) ||
	    s->next_id == 0 || s->nlocal >= s->peer_max_streams) {
		log_debug("mux %s: cannot open a stream now", s->name);
		return NULL;
	}
	if ((n = mux_open_encode(hostname, meta, p, sizeof(p))) == -1)
		return NULL;
	st = stream_new(s, s->next_id, MUX_ST_OPENING);
	s->next_id = s->next_id > UINT32_MAX - 2 ? 0 : s->next_id + 2;
	mux_stream_set_cbs(st, cbs, arg);
	log_debug("mux %s: opening stream %u for %s", s->name, st->id, hostname);
	ctrl_frame(s, MUX_OPEN, 0, st->id, p, (size_t)n);
	return st;
}

void
mux_stream_set_cbs(struct mux_stream *st, const struct mux_stream_cbs *cbs, void *arg)
{
	static const struct mux_stream_cbs none;

	if (st->splice != NULL) {
		log_warnx("mux_stream_set_cbs: stream %u is spliced", st->id);
		return;
	}
	st->cbs = cbs != NULL ? *cbs : none;
	st->arg = arg;
}

int
mux_stream_accept(struct mux_stream *st)
{
	if (st->closed || st->state != MUX_ST_PENDING) {
		log_errorx("mux_stream_accept: stream %u is not waiting to be accepted", st->id);
		return -1;
	}
	st->state = MUX_ST_OPEN;
	ctrl_frame(st->s, MUX_OPEN_OK, 0, st->id, NULL, 0);
	if (stream_sendable(st))
		work_add(st);
	return 0;
}

/* Resets a stream: RESET to the peer, queued data dropped, closed callback at once. */
void
mux_stream_reset(struct mux_stream *st, uint16_t code, const char *reason)
{
	struct mux_session *s = st->s;

	if (st->closed)
		return;
	if (code == MUX_OK)
		code = MUX_CANCEL;
	session_ref(s);
	log_debug("mux %s: stream %u reset: %s", s->name, st->id, mux_code_name(code));
	send_reset(s, st->id, code, reason);
	stream_close(st, code, reason != NULL ? reason : "");
	session_unref(s);
}

/* Queues all of data or nothing, within the write space. */
bool
mux_stream_write(struct mux_stream *st, const void *data, size_t len)
{
	size_t space = write_space(st);

	if (len > space || (space == 0 && len == 0)) {
		st->blocked = true;
		return false;
	}
	evbuffer_add(st->out, data, len);
	if (write_space(st) == 0)
		st->blocked = true;
	if (stream_sendable(st))
		work_add(st);
	return true;
}

/* Moves as much of buf into the stream as the write space allows. */
size_t
mux_stream_write_buffer(struct mux_stream *st, struct evbuffer *buf, size_t len)
{
	size_t space = write_space(st), avail = evbuffer_get_length(buf), n;

	if (len > avail)
		len = avail;
	n = len < space ? len : space;
	if (n < len || space == n)
		st->blocked = true;
	if (n == 0)
		return 0;
	evbuffer_remove_buffer(buf, st->out, n);
	if (stream_sendable(st))
		work_add(st);
	return n;
}

size_t
mux_stream_write_space(const struct mux_stream *st)
{
	return write_space(st);
}

size_t
mux_stream_queued(const struct mux_stream *st)
{
	return evbuffer_get_length(st->out);
}

void
mux_stream_shutdown(struct mux_stream *st)
{
	if (st->closed || st->fin_queued)
		return;
	st->fin_queued = true;
	if (stream_sendable(st))
		work_add(st);
}

struct evbuffer *
mux_stream_input(struct mux_stream *st)
{
	return st->in;
}

/* Returns credit for data that left the input, in WINDOWs of a quarter window or more. */
void
mux_stream_consumed(struct mux_stream *st, size_t n)
{
	struct mux_session *s = st->s;
	size_t released, threshold;
	uint8_t p[4];

	if (st->closed)
		return;
	/* Credit only what has really left the input: memory stays within the window. */
	released = st->held - evbuffer_get_length(st->in);
	if (n > released)
		n = released;
	st->held -= (uint32_t)n;
	st->credit += (uint32_t)n;
	/* A reader that took a whole window within MUX_TUNE_MS is held back by the window, not
	 * by its own pace: give it a larger one (like TCP's receive buffer auto-tuning). The
	 * extra credit is memory the peer may fill, hence the caps. */
	st->epoch_bytes += (uint32_t)n;
	if (st->epoch_bytes >= st->win) {
		uint64_t now = now_ms();

		if (now - st->epoch_ms < MUX_TUNE_MS && st->win <= s->lim.max_window / 2 &&
		    s->tuned + st->win <= MUX_TUNE_SESSION) {
			s->tuned += st->win;
			st->credit += st->win;
			st->win *= 2;
		}
		st->epoch_ms = now;
		st->epoch_bytes = 0;
	}
	threshold = st->win / 4 > 0 ? st->win / 4 : 1;
	if (st->fin_recv)
		st->credit = 0;	/* the peer sends no more: no WINDOW needed */
	else if (st->credit >= threshold) {
		put_u32(p, st->credit);
		ctrl_frame(s, MUX_WINDOW, 0, st->id, p, sizeof(p));
		st->recv_window += st->credit;
		st->credit = 0;
	}
	if (stream_done(st))
		work_add(st);
}

uint32_t
mux_stream_window(const struct mux_stream *st)
{
	return st->win;
}

uint32_t
mux_stream_id(const struct mux_stream *st)
{
	return st->id;
}

struct mux_session *
mux_stream_session(const struct mux_stream *st)
{
	return st->s;
}

void *
mux_stream_arg(const struct mux_stream *st)
{
	return st->arg;
}

/* --- splices ------------------------------------------------------------------------------- */

static void
splice_ref(struct mux_splice *sp)
{
	sp->refs++;
}

static void
splice_unref(struct mux_splice *sp)
{
	if (--sp->refs == 0)
		free(sp);
}

/* The index of st in the splice. */
static int
splice_side(const struct mux_splice *sp, const struct mux_stream *st)
{
	return sp->st[0] == st ? 0 : 1;
}

/* A relay that failed closes its socket with a reset (SO_LINGER 0), not a FIN: the program at
 * the other end sees an error, never a clean end after short data. A non-socket (a pipe in
 * stdio mode) has no such thing and is closed as it is. */
static void
abort_close(struct bufferevent *bev)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	evutil_socket_t fd = bufferevent_getfd(bev);

	if (fd != -1)
		(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/* Ends the relay once: streams still open are reset, bev is freed (a socket with a reset when
 * the relay failed), done is called. */
static void
splice_finish(struct mux_splice *sp, uint16_t code, const char *reason)
{
	if (sp->finished)
		return;
	sp->finished = true;
	splice_ref(sp);
	if ((code != MUX_OK || sp->code == MUX_OK) && reason != sp->reason) {
		sp->code = code;
		reason_copy(sp->reason, reason);
	}
	for (int i = 0; i < 2; i++)
		if (sp->st[i] != NULL)
			mux_stream_reset(sp->st[i], sp->code, sp->reason);
	if (sp->bev != NULL) {
		if (sp->code != MUX_OK)
			abort_close(sp->bev);
		bufferevent_free(sp->bev);
		sp->bev = NULL;
	}
	if (sp->done != NULL)
		sp->done(sp->arg, sp->code, sp->reason);
	sp->refs--;	/* the running relay's reference; ours, taken above, keeps sp alive */
	splice_unref(sp);
}

/* libevent 2.1 reads a socket 4 KiB at a time (EVBUFFER_MAX_READ), and each read would go
 * out as a frame and a TLS record of its own. After one of its reads filled 4 KiB, more is
 * likely waiting: read it now, as far as the stream has room, up to MUX_SOCKET_IO in all.
 * EOF is left to libevent's next read, which sees it again; an error ends the relay. */
static void
sbev_read_more(struct mux_splice *sp)
{
	struct evbuffer *in = bufferevent_get_input(sp->bev);
	struct evbuffer_iovec v[2];
	size_t have = evbuffer_get_length(in), want, got;
	evutil_socket_t fd = bufferevent_getfd(sp->bev);
	ssize_t r;
	int n;

	if (sp->finished || sp->eof || sp->st[0] == NULL || fd == -1 || have < 4096 ||
	    have >= MUX_SOCKET_IO)
		return;
	want = MUX_SOCKET_IO - have;
	if (want > mux_stream_write_space(sp->st[0]))
		want = mux_stream_write_space(sp->st[0]);
	if (want < 4096)
		return;
	/* A bufferevent keeps the end of its input frozen except while it reads itself. */
	evbuffer_unfreeze(in, 0);
	if ((n = evbuffer_reserve_space(in, (ev_ssize_t)want, v, 2)) <= 0) {
		evbuffer_freeze(in, 0);
		return;
	}
	if (v[0].iov_len > want)
		v[0].iov_len = want;
	if (n == 2 && v[0].iov_len + v[1].iov_len > want)
		v[1].iov_len = want - v[0].iov_len;
	r = readv(fd, (struct iovec *)v, n);
	got = r > 0 ? (size_t)r : 0;
	for (int i = 0; i < n; i++) {
		size_t take = got < v[i].iov_len ? got : v[i].iov_len;

		v[i].iov_len = take;
		got -= take;
	}
	evbuffer_commit_space(in, v, n);
	evbuffer_freeze(in, 0);
	if (r == -1 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		/* Reported once: the next read would see a clean EOF. The relay fails here. */
		char reason[MUX_MAX_REASON + 1];

		snprintf(reason, sizeof(reason), "connection error: %s", strerror(errno));
		splice_finish(sp, MUX_CANCEL, reason);
	}
}

/* stream <-> bev: moves what bev read into the stream as far as it has room; bev is read only
 * while the stream can take more. EOF becomes FIN once everything read was moved. */
static void
sbev_pull(struct mux_splice *sp)
{
	struct mux_stream *st = sp->st[0];
	struct evbuffer *in;

	if (sp->finished || st == NULL)
		return;
	in = bufferevent_get_input(sp->bev);
	if (evbuffer_get_length(in) > 0)
		mux_stream_write_buffer(st, in, evbuffer_get_length(in));
	if (sp->eof) {
		if (evbuffer_get_length(in) == 0 && !sp->fin_fwd[0]) {
			sp->fin_fwd[0] = true;
			mux_stream_shutdown(st);
		}
	} else if (evbuffer_get_length(in) > 0 || mux_stream_write_space(st) == 0)
		bufferevent_disable(sp->bev, EV_READ);
	else
		bufferevent_enable(sp->bev, EV_READ);
}

/* stream <-> bev: shuts bev's write side once the peer's FIN and all data went out, and ends
 * the relay when the stream has closed cleanly too. */
static void
sbev_check(struct mux_splice *sp)
{
	struct evbuffer *out;
	evutil_socket_t fd;

	if (sp->finished)
		return;
	out = bufferevent_get_output(sp->bev);
	if (sp->peer_fin && !sp->shut && evbuffer_get_length(out) == 0) {
		sp->shut = true;
		if ((fd = bufferevent_getfd(sp->bev)) != -1)
			shutdown(fd, SHUT_WR);
	}
	if (sp->closed[0] && sp->shut)
		splice_finish(sp, MUX_OK, "");
}

static void
sbev_read_cb(struct bufferevent *bev, void *arg)
{
	struct mux_splice *sp = arg;

	splice_ref(sp);
	sbev_read_more(sp);
	sbev_pull(sp);
	splice_unref(sp);
}

/* bev's output drained below its low watermark: return that much credit to the stream. */
static void
sbev_write_cb(struct bufferevent *bev, void *arg)
{
	struct mux_splice *sp = arg;
	size_t out = evbuffer_get_length(bufferevent_get_output(bev));

	splice_ref(sp);
	if (sp->st[0] != NULL && sp->pending > out) {
		mux_stream_consumed(sp->st[0], sp->pending - out);
		sp->pending = out;
	}
	sbev_check(sp);
	splice_unref(sp);
}

/* bev: EOF becomes FIN (after what was read); an error ends the relay. */
static void
sbev_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct mux_splice *sp = arg;
	char reason[MUX_MAX_REASON + 1];
	int err = EVUTIL_SOCKET_ERROR();

	splice_ref(sp);
	if ((what & BEV_EVENT_EOF) != 0 && (what & BEV_EVENT_WRITING) == 0) {
		sp->eof = true;
		sbev_pull(sp);
		if (sp->st[0] == NULL && !sp->finished)
			splice_finish(sp, sp->code, sp->reason);
	} else if ((what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) != 0) {
		snprintf(reason, sizeof(reason), "connection error: %s",
		    err != 0 ? evutil_socket_error_to_string(err) : "closed");
		splice_finish(sp, MUX_CANCEL, reason);
	}
	splice_unref(sp);
}

/* stream <-> stream: moves data of side i into the other side as far as it has room, credit
 * back to side i as it moves, FIN after the last byte. */
static void
sst_relay(struct mux_splice *sp, int i)
{
	struct mux_stream *x = sp->st[i], *y = sp->st[1 - i];
	struct evbuffer *in;
	size_t moved;

	if (sp->finished || x == NULL || y == NULL)
		return;
	in = mux_stream_input(x);
	if (evbuffer_get_length(in) > 0 &&
	    (moved = mux_stream_write_buffer(y, in, evbuffer_get_length(in))) > 0)
		mux_stream_consumed(x, moved);
	if (x->fin_recv && evbuffer_get_length(in) == 0 && !sp->fin_fwd[i]) {
		sp->fin_fwd[i] = true;
		mux_stream_shutdown(y);
	}
}

/* A stream of ours was accepted: accept the peer's stream waiting on the other side. */
static void
splice_on_opened(struct mux_splice *sp, struct mux_stream *st)
{
	struct mux_stream *other;

	if (sp->to_bev || sp->finished)
		return;
	other = sp->st[1 - splice_side(sp, st)];
	if (other != NULL && !other->closed && other->state == MUX_ST_PENDING)
		mux_stream_accept(other);
}

/* Data or FIN arrived on st. */
static void
splice_on_data(struct mux_splice *sp, struct mux_stream *st)
{
	struct evbuffer *in = mux_stream_input(st);
	size_t n;

	splice_ref(sp);
	if (sp->finished)
		goto done;
	if (!sp->to_bev) {
		sst_relay(sp, splice_side(sp, st));
		goto done;
	}
	if ((n = evbuffer_get_length(in)) > 0) {
		struct evbuffer *out = bufferevent_get_output(sp->bev);
		bool idle = evbuffer_get_length(out) == 0;

		evbuffer_add_buffer(out, in);
		sp->pending += n;
		if (idle)	/* else the socket is full and libevent waits for it */
			ev_bufferevent_write_now(sp->bev);
	}
	if (st->fin_recv && !sp->peer_fin) {
		sp->peer_fin = true;
		sbev_check(sp);
	}
done:
	splice_unref(sp);
}

static void
splice_on_writable(struct mux_splice *sp, struct mux_stream *st)
{
	splice_ref(sp);
	if (sp->to_bev)
		sbev_pull(sp);
	else
		sst_relay(sp, 1 - splice_side(sp, st));
	splice_unref(sp);
}

/* st is closed (it has been detached from the splice). */
static void
splice_on_closed(struct mux_splice *sp, struct mux_stream *st, uint16_t code, const char *reason)
{
	int i = splice_side(sp, st);

	splice_ref(sp);
	sp->st[i] = NULL;
	sp->closed[i] = true;
	if (sp->finished)
		goto done;
	if (code != MUX_OK && sp->code == MUX_OK) {
		sp->code = code;
		reason_copy(sp->reason, reason);
	}
	if (sp->to_bev) {
		if (code != MUX_OK)
			splice_finish(sp, code, reason);
		else
			sbev_check(sp);
	} else if (sp->st[1 - i] == NULL)
		splice_finish(sp, sp->code, sp->reason);
	else if (code != MUX_OK)
		mux_stream_reset(sp->st[1 - i], code, reason);
done:
	splice_unref(sp);
}

/* A new splice owning st (and st2). */
static struct mux_splice *
splice_new(struct mux_stream *st, struct mux_stream *st2,
    void (*done)(void *, uint16_t, const char *), void *arg)
{
	struct mux_splice *sp = xcalloc(1, sizeof(*sp));

	sp->refs = 1;
	sp->done = done;
	sp->arg = arg;
	sp->st[0] = st;
	sp->st[1] = st2;
	st->splice = sp;
	if (st2 != NULL)
		st2->splice = sp;
	return sp;
}

/* Relays between st and a socket bufferevent with back-pressure both ways. */
int
mux_splice_bev(struct mux_stream *st, struct bufferevent *bev,
    void (*done)(void *, uint16_t, const char *), void *arg)
{
	struct mux_splice *sp;
	size_t low;

	if (st->closed || st->splice != NULL || bev == NULL) {
		log_errorx("mux_splice_bev: stream %u is closed or already spliced", st->id);
		return -1;
	}
	if (st->state == MUX_ST_PENDING && mux_stream_accept(st) == -1)
		return -1;
	sp = splice_new(st, NULL, done, arg);
	sp->to_bev = true;
	sp->bev = bev;
	low = st->s->lim.initial_window / 2;
	if (low > 64 * 1024)
		low = 64 * 1024;
	bufferevent_setcb(bev, sbev_read_cb, sbev_write_cb, sbev_event_cb, sp);
	/* libevent reads and writes 4 KiB at a time by default: each read would become a
	 * 4 KiB frame and a 4 KiB TLS record downstream. Whole frames' worth instead. */
	bufferevent_set_max_single_read(bev, MUX_SOCKET_IO);
	bufferevent_set_max_single_write(bev, MUX_SOCKET_IO);
	bufferevent_setwatermark(bev, EV_WRITE, low, 0);
	bufferevent_setwatermark(bev, EV_READ, 0, 0);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	splice_ref(sp);
	splice_on_data(sp, st);
	sbev_pull(sp);
	splice_unref(sp);
	return 0;
}

/* Relays between two streams, OPEN_OK, data, credit, FIN and RESET included. */
int
mux_splice_streams(struct mux_stream *a, struct mux_stream *b,
    void (*done)(void *, uint16_t, const char *), void *arg)
{
	struct mux_splice *sp;

	if (a == b || a->closed || b->closed || a->splice != NULL || b->splice != NULL) {
		log_errorx("mux_splice_streams: streams %u and %u cannot be joined", a->id, b->id);
		return -1;
	}
	sp = splice_new(a, b, done, arg);
	splice_ref(sp);
	for (int i = 0; i < 2; i++) {
		struct mux_stream *x = sp->st[i], *y = sp->st[1 - i];

		if (x != NULL && y != NULL && x->state == MUX_ST_PENDING &&
		    y->state != MUX_ST_OPENING)
			mux_stream_accept(x);
	}
	sst_relay(sp, 0);
	sst_relay(sp, 1);
	splice_unref(sp);
	return 0;
}
