/* mux: the zt multiplexed protocol, version 1 (doc/protocol.md): sessions of many flow-controlled
 * streams over one bufferevent (TLS in production, a socketpair in tests). */
#ifndef ZT_MUX_H
#define ZT_MUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bufferevent;
struct evbuffer;
struct event_base;
struct mux_session;
struct mux_stream;

#define MUX_VERSION		1
#define MUX_HEADER_LEN		12
#define MUX_MAX_FRAME		16384	/* payload bytes */
#define MUX_RECORD		16336	/* header and payload of a full DATA frame (mux.c) */
#define MUX_MAX_HELLO		4096
#define MUX_MAX_HOSTNAME	253
#define MUX_MAX_REASON		256
#define MUX_MAX_IDENTITY	255	/* OPEN metadata: identity text */
#define MUX_MAX_ADDR		63	/* OPEN metadata: client address text */
#define MUX_MAX_TOKEN		4096	/* OPEN metadata: the app token (a JWT), as JWT_MAX */
#define MUX_MAX_KEYS		16384	/* KEYS: a JWKS document, as JWT_JWKS_MAX */
#define MUX_INITIAL_WINDOW	(256 * 1024)
#define MUX_MAX_WINDOW		0x7fffffffU	/* 2^31-1 */
#define MUX_TUNED_WINDOW	(4U * 1024 * 1024)	/* default max_window */
#define MUX_OUTPUT_HIGH		(256 * 1024)	/* session output above this: no more DATA */

/* Frame types. */
enum mux_type {
	MUX_HELLO = 1,
	MUX_WELCOME = 2,
	MUX_OPEN = 3,
	MUX_OPEN_OK = 4,
	MUX_DATA = 5,
	MUX_WINDOW = 6,
	MUX_RESET = 7,
	MUX_PING = 8,
	MUX_GOAWAY = 9,
	MUX_CHECK = 10,
	MUX_CHECK_OK = 11,
	MUX_KEYS = 12,
};

#define MUX_F_FIN	0x0001	/* DATA: the sender's last frame on this stream */
#define MUX_F_ACK	0x0001	/* PING: a reply */

/* Codes of RESET, GOAWAY and CHECK_OK (doc/protocol.md, "Codes"). */
enum mux_code {
	MUX_OK = 0,
	MUX_PROTOCOL_ERROR = 1,
	MUX_INTERNAL = 2,
	MUX_FLOW_CONTROL = 3,
	MUX_REFUSED_STREAM = 4,
	MUX_CANCEL = 5,
	MUX_ENHANCE_YOUR_CALM = 6,
	MUX_TIMEOUT = 7,
	MUX_SHUTTING_DOWN = 8,
	MUX_IDLE = 9,
	MUX_AUTH_REQUIRED = 16,
	MUX_AUTH_FAILED = 17,
	MUX_AUTH_EXPIRED = 18,
	MUX_AUTH_REVOKED = 19,
	MUX_HOSTNAME_NOT_ALLOWED = 20,
	MUX_NO_SUCH_APP = 32,
	MUX_NOT_ALLOWED = 33,
	MUX_TUNNEL_DOWN = 34,
	MUX_INGRESS_REFUSED = 35,
	MUX_ORIGIN_UNREACHABLE = 36,
};

/* The name of a code ("NOT_ALLOWED"), for logs and messages; "UNKNOWN" for others. */
const char	*mux_code_name(uint16_t code);

/* HELLO fields (type numbers on the wire). */
enum mux_role {
	MUX_ROLE_CONNECTOR = 1,
	MUX_ROLE_CLIENT = 2,
};

#define MUX_FIELD_TUNNEL_ID	1	/* 16 bytes */
#define MUX_FIELD_TUNNEL_SECRET	2	/* 32 bytes */
#define MUX_FIELD_CONNECTOR_ID	3	/* 16 bytes */
#define MUX_FIELD_HOSTNAME	4	/* text, repeated */
#define MUX_FIELD_VERSION	5	/* text */
#define MUX_FIELD_TOKEN_ID	6	/* text "<32 hex>.access" */
#define MUX_FIELD_TOKEN_SECRET	7	/* 32 bytes */
#define MUX_FIELD_USER_TOKEN	8	/* text (a login JWT) */

#define MUX_MAX_HOSTNAMES	64

/* A parsed (or to-be-sent) HELLO. Byte fields have has_* set when present, text fields are ""
 * when absent. A connector has tunnel_id, tunnel_secret, connector_id and 0..64 hostnames
 * (wildcards "*.example.com" allowed); a client has token_id with token_secret, or user_token,
 * never both. Secrets are wiped by mux after the hello callback; the callee must not keep
 * pointers into it. */
struct mux_hello {
	enum mux_role	 role;
	bool		 has_tunnel_id, has_tunnel_secret, has_connector_id, has_token_secret;
	uint8_t		 tunnel_id[16];
	uint8_t		 tunnel_secret[32];
	uint8_t		 connector_id[16];
	char		 token_id[64];		/* "" when absent */
	uint8_t		 token_secret[32];
	char		 user_token[4096];	/* "" when absent */
	char		 version[64];
	char		 hostnames[MUX_MAX_HOSTNAMES][MUX_MAX_HOSTNAME + 1];
	size_t		 nhostnames;
};

/* WELCOME: what the edge tells an authenticated peer. Its limits apply to both directions of
 * the session: the client adopts initial_window and keepalive_ms and opens at most
 * max_streams streams at a time. */
struct mux_welcome {
	uint8_t		 session_id[16];
	uint32_t	 max_streams;
	uint32_t	 initial_window;
	uint32_t	 keepalive_ms;
	char		 edge_name[MUX_MAX_HOSTNAME + 1];	/* text, may be "" */
};

/* Metadata carried by OPEN: who the stream is for (the edge fills it towards connectors). */
struct mux_meta {
	char		 identity[MUX_MAX_IDENTITY + 1];	/* "token:NAME", "email:a@b", "" */
	char		 client_addr[MUX_MAX_ADDR + 1];		/* "203.0.113.7:51234", "" */
	char		 token[MUX_MAX_TOKEN + 1];	/* the app token (base64url and dots), "" */
};

/* Limits of a session (doc/protocol.md, "Limits"); zero fields take the defaults (in
 * parentheses). A client takes initial_window and keepalive_ms from WELCOME instead. */
struct mux_limits {
	uint32_t	 max_streams;		/* concurrent streams the peer may open (server
						 * 1024, client 65536) */
	uint32_t	 initial_window;	/* bytes, per stream and direction (256 KiB) */
	uint32_t	 max_window;		/* our receive window of a stream doubles, up to
						 * this, whenever its reader consumed a whole
						 * window within 100 ms (4 MiB); initial_window
						 * or less: fixed windows. Not sent to the peer */
	uint32_t	 keepalive_ms;		/* PING after this much silence, dead after
						 * twice that (10 s) */
	uint32_t	 hello_timeout_ms;	/* HELLO (server) or WELCOME (client) within
						 * this (10 s) */
	uint32_t	 open_rate, open_burst;	/* stream opens and CHECKs per second (200, 1000) */
	uint32_t	 reset_rate, reset_burst;	/* resets received and sent because of the
						 * peer, per second (200, 1000) */
	uint32_t	 control_rate;		/* PINGs, stray WINDOWs, empty DATA, repeated
						 * GOAWAYs per second, each (100) */
	uint32_t	 control_burst;		/* their burst (1000) */
	uint32_t	 max_control_queue;	/* queued control frames before giving up (1024) */
	uint32_t	 max_checks;		/* CHECKs in flight (16, at most 1024) */
};

/* Session callbacks; arg is the session's. Any callback may free the session (mux_close or
 * mux_session_free) or reset streams; mux copes. All are optional. */
struct mux_session_cbs {
	/* Server: the peer's HELLO. Answer with mux_welcome() or mux_close() (now or later, within
	 * hello_timeout_ms). */
	void	(*hello)(struct mux_session *, const struct mux_hello *, void *arg);
	/* Client: the edge accepted us. */
	void	(*welcome)(struct mux_session *, const struct mux_welcome *, void *arg);
	/* The peer opened a stream for hostname: call mux_stream_accept() or mux_stream_reset()
	 * (now or later) after setting the stream's callbacks with mux_stream_set_cbs().
	 * hostname and meta are valid during the call only. Without this callback, opens are
	 * refused (REFUSED_STREAM). */
	void	(*open)(struct mux_session *, struct mux_stream *, const char *hostname,
		    const struct mux_meta *, void *arg);
	/* Server: a CHECK; answer with mux_check_reply() (now or later). */
	void	(*check)(struct mux_session *, uint32_t id, const char *hostname, void *arg);
	/* Client: the answer to mux_check(). */
	void	(*check_reply)(struct mux_session *, uint32_t id, uint16_t code, const char *reason,
		    void *arg);
	/* Connector: the edge's KEYS, a JWKS document of len bytes (NUL-terminated, no NUL
	 * inside; not parsed by mux), valid during the call only. Without this callback KEYS
	 * is ignored; a client (HELLO role client) receiving KEYS fails the session. */
	void	(*keys)(struct mux_session *, const char *jwks, size_t len, void *arg);
	/* The peer sent GOAWAY: no new streams on this session. */
	void	(*goaway)(struct mux_session *, uint16_t code, const char *reason, void *arg);
	/* The session is over (protocol error, peer closed, keepalive timeout, RESET on stream 0,
	 * mux_close). Every stream has had its closed callback before. Called once, never from
	 * inside a mux_* call of the application. The owner frees the session with
	 * mux_session_free (possibly from inside this callback). */
	void	(*closed)(struct mux_session *, uint16_t code, const char *reason, void *arg);
};

/* Stream callbacks; arg is the stream's. All are optional. */
struct mux_stream_cbs {
	/* A stream we opened was accepted (OPEN_OK). */
	void	(*opened)(struct mux_stream *, void *arg);
	/* Data arrived: read it from mux_stream_input() and call mux_stream_consumed(). */
	void	(*data)(struct mux_stream *, void *arg);
	/* The peer will send no more (FIN). */
	void	(*fin)(struct mux_stream *, void *arg);
	/* The stream is gone (RESET either way, or the session ended); it is freed right after
	 * this returns. code MUX_OK means both sides sent FIN and all received data was read out
	 * of mux_stream_input(); any other code means data may have been lost. */
	void	(*closed)(struct mux_stream *, uint16_t code, const char *reason, void *arg);
	/* Room to write again after mux_stream_write_space() reached 0 or a write was refused. */
	void	(*writable)(struct mux_stream *, void *arg);
};

/* A session over bev; bev belongs to the call from then on (also when it fails: it is freed).
 * server: we accepted the connection and wait for HELLO; otherwise we dialled and the caller
 * sends HELLO with mux_send_hello(). Returns NULL after logging (invalid limits). */
struct mux_session *mux_session_new(struct event_base *base, struct bufferevent *bev, bool server,
		    const struct mux_limits *limits, const struct mux_session_cbs *cbs, void *arg);
/* Replaces the limits before WELCOME: a server calls it from its hello callback, once it knows
 * the peer's role, before mux_welcome() sends them (e.g. max_streams 1024 for a client, 65536
 * for a connector). The HELLO deadline keeps running. -1 after logging when invalid or late. */
int		 mux_session_set_limits(struct mux_session *s, const struct mux_limits *limits);
/* Client side: sends HELLO (the first frame). Returns -1 after logging if hello is not valid
 * or HELLO was already sent. */
int		 mux_send_hello(struct mux_session *s, const struct mux_hello *hello);
/* Server side: accepts the peer (sends WELCOME); streams may flow from now on. The limits in
 * w are ignored: the session's own are sent. An all-zero session_id is replaced by a random
 * one. Returns -1 after logging if no HELLO is waiting for an answer. */
int		 mux_welcome(struct mux_session *s, const struct mux_welcome *w);
/* Sends RESET on stream 0 (or GOAWAY when the session was established) with a code and
 * reason, resets every stream, flushes (at most 1 s), then closes the session: the closed
 * callback follows, from the event loop. */
void		 mux_close(struct mux_session *s, uint16_t code, const char *reason);
/* Stops accepting new streams from the peer (GOAWAY; later OPENs are refused with
 * REFUSED_STREAM); open ones continue. We stop opening streams too. */
void		 mux_goaway(struct mux_session *s, uint16_t code, const char *reason);
/* Frees the session and its bufferevent at once, without session or stream callbacks (from a
 * callback, as soon as it returns). Splices of its streams end: their other side is reset
 * (MUX_CANCEL) and their done callbacks run. NULL is a no-op. */
void		 mux_session_free(struct mux_session *s);
/* Stream payload bytes (of DATA frames) a session received from the peer and handed to the
 * output towards it: what the applications' byte counters report. */
struct mux_counters {
	uint64_t	 bytes_in, bytes_out;
};
/* Adds the session's DATA payload bytes to *c from now on (shared totals, e.g. per role);
 * NULL stops counting. c must outlive the session or be unset first. */
void		 mux_session_set_counters(struct mux_session *s, struct mux_counters *c);
bool		 mux_session_established(const struct mux_session *s);
bool		 mux_session_draining(const struct mux_session *s);	/* GOAWAY either way */
size_t		 mux_session_nstreams(const struct mux_session *s);
void		*mux_session_arg(const struct mux_session *s);
void		 mux_session_set_arg(struct mux_session *s, void *arg);
struct bufferevent *mux_session_bev(const struct mux_session *s);

/* Server: sends KEYS (a JWKS document, 1..MUX_MAX_KEYS bytes without NUL) to a connector;
 * -1 after logging when not established, the peer is not a connector (the application knows
 * that; mux does not check it) or the document does not fit. */
int		 mux_send_keys(struct mux_session *s, const char *jwks, size_t len);

/* Client: asks whether hostname may be reached (CHECK); the answer comes to check_reply.
 * -1 after logging when not established, the id is already in flight or max_checks are.
 * Server: answers a CHECK; -1 after logging if that id is not waiting for an answer. */
int		 mux_check(struct mux_session *s, uint32_t id, const char *hostname);
int		 mux_check_reply(struct mux_session *s, uint32_t id, uint16_t code,
		    const char *reason);

/* Opens a stream for hostname with metadata (may be NULL). NULL if the session cannot open
 * streams (not established, draining, as many as the peer allows, ids exhausted) or the
 * hostname is not valid. Data may be written at once; it is sent after OPEN_OK. */
struct mux_stream *mux_stream_open(struct mux_session *s, const char *hostname,
		    const struct mux_meta *meta, const struct mux_stream_cbs *cbs, void *arg);
/* Sets (copies) the callbacks; cbs NULL clears them. Ignored on a spliced stream. */
void		 mux_stream_set_cbs(struct mux_stream *st, const struct mux_stream_cbs *cbs,
		    void *arg);
/* Accepts a stream the peer opened (OPEN_OK). -1 after logging if it is not waiting. */
int		 mux_stream_accept(struct mux_stream *st);
/* Resets the stream with a code (MUX_OK is sent as MUX_CANCEL) and reason; queued data is
 * dropped and the closed callback follows at once, after which st is freed. */
void		 mux_stream_reset(struct mux_stream *st, uint16_t code, const char *reason);
/* Queues data; false if more than mux_stream_write_space() was offered (nothing queued), after
 * FIN, or when the session is closing. */
bool		 mux_stream_write(struct mux_stream *st, const void *data, size_t len);
/* Moves up to len bytes out of buf into the stream, as far as the write space allows (for
 * relays); returns how many. */
size_t		 mux_stream_write_buffer(struct mux_stream *st, struct evbuffer *buf, size_t len);
/* How many bytes may be queued now: the send window plus one frame, less what is queued. 0
 * means: stop reading the source until the writable callback. */
size_t		 mux_stream_write_space(const struct mux_stream *st);
/* Bytes queued and not yet sent as DATA. */
size_t		 mux_stream_queued(const struct mux_stream *st);
/* Sends FIN after the queued data. */
void		 mux_stream_shutdown(struct mux_stream *st);
/* The data received and not yet read (at most one window). */
struct evbuffer	*mux_stream_input(struct mux_stream *st);
/* Tells the peer n more bytes may be sent (after moving them out of the input): credit is
 * capped at what has left the input, and sent in WINDOW frames of at least a quarter window.
 * Never calls back; a stream that finished is closed from the event loop. */
void		 mux_stream_consumed(struct mux_stream *st, size_t n);
/* Our receive window of st now: the initial window, or more after auto-tuning. */
uint32_t	 mux_stream_window(const struct mux_stream *st);
uint32_t	 mux_stream_id(const struct mux_stream *st);
struct mux_session *mux_stream_session(const struct mux_stream *st);
void		*mux_stream_arg(const struct mux_stream *st);

/*
 * Relays between a stream and a plain socket bufferevent (a TCP connection to an origin or from
 * a local client; not TLS), with back-pressure both ways: bev is read only while the stream
 * has room, and the stream's credit is returned only as bev's output drains. EOF on bev sends
 * FIN; FIN from the peer shuts down bev's write side once flushed; an error or RESET closes
 * both. A stream the peer opened and we have not accepted is accepted. The stream's and bev's
 * callbacks belong to the splice from then on. done(arg, code, reason) is called once when both
 * are finished; bev is freed by then (create it with BEV_OPT_CLOSE_ON_FREE). -1 after logging
 * (stream closed or already spliced); bev is then left to the caller.
 */
int		 mux_splice_bev(struct mux_stream *st, struct bufferevent *bev,
		    void (*done)(void *, uint16_t, const char *), void *arg);
/* Relays between two streams (the edge joins a client stream to a connector stream), passing
 * data, FIN, RESET (with its code and reason) and credit through: neither side's buffers grow
 * beyond one window. May be called before OPEN_OK: a stream the peer opened is accepted when
 * the other one, ours, is (OPEN_OK is relayed), and a RESET of ours is relayed as the refusal.
 * done is called once when both streams are closed, with the first code other than MUX_OK. */
int		 mux_splice_streams(struct mux_stream *a, struct mux_stream *b,
		    void (*done)(void *, uint16_t, const char *), void *arg);

/* --- the frame codec (used by mux.c and fuzzed directly) ----------------------------------- */

struct mux_frame {
	uint8_t		 version;
	uint8_t		 type;
	uint16_t	 flags;
	uint32_t	 stream;
	uint32_t	 length;
	const uint8_t	*payload;	/* length bytes */
};

/* Parses one frame header at buf[0..len): 1 with f filled when the whole frame is there, 0 when
 * more bytes are needed, -1 (a protocol error) as soon as the header shows a bad version, an
 * unknown type, undefined flags, a stream id not allowed for the type (0 or not 0), or a length
 * over MUX_MAX_FRAME or outside the bounds of the type. */
int		 mux_frame_parse(const uint8_t *buf, size_t len, struct mux_frame *f);
/* Parses and validates a HELLO payload; -1 on any malformation (missing or repeated fields,
 * fields of the other role, both kinds of client credentials, bad lengths, too many or
 * repeated hostnames, invalid hostnames or text). */
int		 mux_hello_parse(const uint8_t *p, size_t len, struct mux_hello *h);
/* Encodes a HELLO payload into buf (MUX_MAX_HELLO bytes); returns its length or -1 if h would
 * not pass mux_hello_parse. */
int		 mux_hello_encode(const struct mux_hello *h, uint8_t *buf, size_t len);
/* WELCOME payload: session id, max_streams (>= 1), initial_window (1..2^31-1), keepalive_ms
 * (10..86400000), edge name (text). */
int		 mux_welcome_parse(const uint8_t *p, size_t len, struct mux_welcome *w);
int		 mux_welcome_encode(const struct mux_welcome *w, uint8_t *buf, size_t len);
/* OPEN payload: hostname (MUX_MAX_HOSTNAME + 1 bytes, no wildcard) and metadata (may be
 * NULL when parsing or encoding). The token is the optional last field: left out when empty,
 * absent read as "". */
int		 mux_open_parse(const uint8_t *p, size_t len, char *hostname,
		    struct mux_meta *meta);
int		 mux_open_encode(const char *hostname, const struct mux_meta *meta, uint8_t *buf,
		    size_t len);
/* RESET/GOAWAY/CHECK_OK payloads share "code + reason" after their fixed fields (GOAWAY: the
 * last stream id, CHECK_OK: the request id, 4 bytes each). -1 also when the reason does not
 * fit reasonlen (MUX_MAX_REASON + 1 always does). */
int		 mux_reason_parse(const uint8_t *p, size_t len, uint16_t *code, char *reason,
		    size_t reasonlen);
int		 mux_reason_encode(uint16_t code, const char *reason, uint8_t *buf, size_t len);
/* CHECK payload: request id and hostname (MUX_MAX_HOSTNAME + 1 bytes, no wildcard). */
int		 mux_check_parse(const uint8_t *p, size_t len, uint32_t *id, char *hostname);
/* True if s is a valid hostname for OPEN and HELLO: 1-253 bytes of letters, digits, '-', '.',
 * '_' and a leading "*." for wildcards, labels 1-63 bytes not starting or ending with '-', no
 * leading or trailing dot. */
bool		 mux_hostname_valid(const char *s, bool allow_wildcard);

#endif
