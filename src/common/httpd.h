/* httpd: a small, strict HTTP/1.1 server for the operational endpoints (/metrics, /ready,
 * /healthz) on an applet's event loop, and the client its probes use (doc/metrics.md). */
#ifndef ZT_HTTPD_H
#define ZT_HTTPD_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>

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

struct httpd_request {
	bool		 head;		/* HEAD; else GET */
	int		 minor;		/* HTTP/1.minor: 0 or 1 */
	bool		 keep_alive;
	char		 path[HTTPD_MAX_TARGET + 1];	/* the target without its query */
};

/*
 * Parses a request head at buf[0..len). Returns its length (through the empty line) when it is
 * complete and valid, 0 when more bytes are needed, or minus the status of the answer:
 * -400 (syntax: CRLF line ends, token names, no obs-fold, no body, one Host in HTTP/1.1),
 * -405 (a method other than GET and HEAD), -414 (target over HTTPD_MAX_TARGET), -431 (head
 * over HTTPD_MAX_HEAD or HTTPD_MAX_HEADERS), -505 (a version other than HTTP/1.0 and 1.1).
 */
int		 httpd_parse(const char *buf, size_t len, struct httpd_request *req);

/* What a handler answers: status, content type and body (empty when it is called). */
struct httpd_response {
	int		 status;
	const char	*content_type;
	struct evbuffer	*body;
};

typedef void	(*httpd_handler)(const struct httpd_request *, struct httpd_response *, void *);

/* Listens on sa and answers each valid request with handler. NULL after logging. */
struct httpd	*httpd_new(struct event_base *base, const struct sockaddr *sa, socklen_t salen,
		    httpd_handler handler, void *arg);
void		 httpd_free(struct httpd *h);

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
