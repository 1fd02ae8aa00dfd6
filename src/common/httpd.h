/* httpd: a small, strict HTTP/1.1 server for the operational endpoints (/metrics, /ready,
 * /healthz) on an applet's event loop, and the client its probes use (doc/metrics.md); also
 * the edge's web side (doc/identity.md): requests handed over on a TLS bufferevent, POST
 * bodies, forms and cookies. */
#ifndef ZT_HTTPD_H
#define ZT_HTTPD_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bufferevent;
struct event_base;
struct evbuffer;
struct httpd;

#define HTTPD_MAX_HEAD		8192	/* request line and header fields */
#define HTTPD_MAX_HEADERS	64
#define HTTPD_MAX_TARGET	2048
#define HTTPD_MAX_CONNS		32
#define HTTPD_HEAD_MS		5000	/* the request head arrives within (and keep-alive idle) */
#define HTTPD_WRITE_MS		5000	/* the answer is taken within */
#define HTTPD_MAX_REQUESTS	100	/* per connection */
#define HTTPD_MAX_BODY		16384	/* a POST body (Content-Length only) */
#define HTTPD_FORM_MAX		16	/* fields of a form or query */

/* A header field of a request: pointers into the head it was parsed from. */
struct httpd_field {
	const char	*name, *value;
	size_t		 namelen, valuelen;
};

struct httpd_request {
	bool		 head;		/* HEAD */
	bool		 post;		/* POST; neither: GET */
	int		 minor;		/* HTTP/1.minor: 0 or 1 */
	bool		 keep_alive;
	bool		 has_length;	/* a Content-Length came */
	bool		 expect_continue;	/* Expect: 100-continue */
	size_t		 content_length;
	char		 path[HTTPD_MAX_TARGET + 1];	/* the target without its query */
	char		 query[HTTPD_MAX_TARGET + 1];	/* after '?', "" when none */
	struct httpd_field fields[HTTPD_MAX_HEADERS];
	size_t		 nfields;
	/* Filled by the server for its handler: */
	const char	*body;		/* content_length bytes */
	const struct sockaddr *peer;	/* the client */
	socklen_t	 peerlen;
};

/*
 * Parses a request head at buf[0..len). Returns its length (through the empty line) when it is
 * complete and valid, 0 when more bytes are needed, or minus the status of the answer:
 * -400 (syntax: CRLF line ends, token names, no obs-fold, one Host in HTTP/1.1, a body on GET
 * or HEAD, Content-Length not one plain decimal, several Content-Length, Content-Type,
 * Authorization or Cookie fields, any Transfer-Encoding: no chunked bodies, no smuggling),
 * -405 (a method other than GET, HEAD and POST), -413 (a body
 * over HTTPD_MAX_BODY), -414 (target over HTTPD_MAX_TARGET), -417 (an Expect other than
 * 100-continue), -431 (head over HTTPD_MAX_HEAD or HTTPD_MAX_HEADERS), -505 (a version other
 * than HTTP/1.0 and 1.1). req->fields point into buf.
 */
int		 httpd_parse(const char *buf, size_t len, struct httpd_request *req);

/* The value of the header field name (case-insensitive) and its length, or NULL. */
const char	*httpd_header(const struct httpd_request *req, const char *name, size_t *len);

/* A decoded application/x-www-form-urlencoded body or query string. */
struct httpd_form {
	size_t		 n;
	const char	*names[HTTPD_FORM_MAX], *values[HTTPD_FORM_MAX];
	char		 buf[HTTPD_MAX_BODY + 2 * HTTPD_FORM_MAX + 2];
};

/* Decodes s[0..len) strictly: NAME=VALUE pairs joined by '&', '+' for space, %XX with two hex
 * digits, raw bytes printable ASCII, no empty pair or name, no duplicate name, no NUL, at most
 * HTTPD_FORM_MAX pairs and HTTPD_MAX_BODY bytes. 0, or -1 with the reason in err. */
int		 httpd_form_parse(const char *s, size_t len, struct httpd_form *f, char *err,
		    size_t errlen);
/* The value of field name (exact), or NULL. */
const char	*httpd_form_get(const struct httpd_form *f, const char *name);

/* Finds cookie name in a Cookie header value (RFC 6265 5.4: NAME=VALUE pairs joined by "; ").
 * 1 with its value in out, 0 when absent, -1 when the header is malformed, the cookie is
 * there twice, or its value does not fit in outlen (with the NUL). */
int		 httpd_cookie(const char *hdr, size_t len, const char *name, char *out,
		    size_t outlen);

/* What a handler answers: status, content type and body (empty when it is called); headers
 * gets extra "Name: value\r\n" lines (httpd_add_header); cache_control defaults to no-store. */
struct httpd_response {
	int		 status;
	const char	*content_type;
	const char	*cache_control;
	struct evbuffer	*body;
	struct evbuffer	*headers;
	uint64_t	 deferred;	/* set by httpd_defer */
	void		*conn_;		/* the server's */
};

/* Adds a header line; false (nothing added) when name is not a token or value holds a
 * control character. */
bool		 httpd_add_header(struct httpd_response *resp, const char *name, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));

/* Called by a handler that answers later (e.g. after a worker thread): returns the request's
 * id for httpd_complete; what the handler put in resp is dropped. */
uint64_t	 httpd_defer(struct httpd_response *resp);
/* Answers the deferred request id with resp (status, content_type, cache_control, body and
 * headers; the evbuffers stay the caller's). false when its connection has gone meanwhile. */
bool		 httpd_complete(struct httpd *h, uint64_t id, struct httpd_response *resp);

typedef void	(*httpd_handler)(const struct httpd_request *, struct httpd_response *, void *);

/* Listens on sa and answers each valid request with handler. NULL after logging. */
struct httpd	*httpd_new(struct event_base *base, const struct sockaddr *sa, socklen_t salen,
		    httpd_handler handler, void *arg);
void		 httpd_free(struct httpd *h);

/* A server without a listener: connections come through httpd_serve. */
struct httpd_opts {
	size_t		 max_conns;	/* 0: HTTPD_MAX_CONNS */
	int		 head_ms;	/* the head (and keep-alive idle) within; 0: HTTPD_HEAD_MS */
	int		 body_ms;	/* the body within; 0: head_ms */
	bool		 post;		/* POST is served (else 405) */
	const char	*headers;	/* "Name: value\r\n" lines for every answer, or NULL */
};
struct httpd	*httpd_new_server(struct event_base *base, const struct httpd_opts *opts,
		    httpd_handler handler, void *arg);
/* Serves requests on bev (a connected socket or TLS bufferevent, whose callbacks it takes over)
 * from the client at sa. bev belongs to h from then on; -1 (bev freed) when h has max_conns. */
int		 httpd_serve(struct httpd *h, struct bufferevent *bev, const struct sockaddr *sa,
		    socklen_t salen);
size_t		 httpd_conns(const struct httpd *h);

/* Parses ADDR: "HOST:PORT", "[V6]:PORT" with a numeric host, or a bare "PORT" for
 * 127.0.0.1. -1 with the reason in err. */
int		 httpd_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len,
		    char *err, size_t errlen);

/* The probes' client: GET path from sa within timeout_ms. Returns the status, or -1 with the
 * reason in body when no answer came; body gets up to len - 1 bytes of the answer's body. */
int		 httpd_get(const struct sockaddr *sa, socklen_t salen, const char *path,
		    int timeout_ms, char *body, size_t len);

/* The reason phrase of a status ("Not Found"). */
const char	*httpd_reason(int status);

#endif
