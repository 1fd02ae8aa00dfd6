/* httpc: a small strict HTTPS/1.1 client (one request per connection, a deadline for all of it)
 * for zt login, zt logout and zt access token (doc/identity.md, "The client"). */
#ifndef ZT_HTTPC_H
#define ZT_HTTPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

#define HTTPC_MAX_HEAD		8192		/* status line and header fields, with the CRLFs */
#define HTTPC_MAX_FIELDS	64
#define HTTPC_MAX_BODY		65536
#define HTTPC_ERR_MAX		256
#define HTTPC_URL_MAX		1024

/* An https:// URL of an edge: scheme, host (name, IPv4 or [IPv6]) and port (443 when absent);
 * an empty path or "/" and nothing else. */
struct httpc_url {
	char		 host[256];	/* without brackets */
	uint16_t	 port;
	char		 key[300];	/* "host:port" or "[v6]:port": the login file's key */
	char		 base[300];	/* "https://host[:port]" without the default port */
};

/* Parses url; -1 with the reason in err. */
int		 httpc_url_parse(const char *url, struct httpc_url *u, char *err, size_t errlen);
/* The key of host and port: "host:port", "[v6]:port" for an IPv6 address. */
bool		 httpc_hostport_key(const char *host, uint16_t port, char *buf, size_t len);

/* The login file's key of an edge given as an https:// URL (port 443 by default) or as
 * HOST:PORT (default_port when absent), host names lower-cased; -1 with the reason in err. */
int		 httpc_edge_key(const char *edge, uint16_t default_port, char *key, size_t keylen,
		    char *err, size_t errlen);

struct httpc_request {
	const char	*host;		/* where to connect: a name or numeric address */
	uint16_t	 port;
	const char	*server_name;	/* the name the certificate must carry, and the SNI;
					 * NULL: host */
	const char	*ca_file;	/* trust anchors; NULL with no pin: the system store */
	const char	*pin;		/* "sha256//BASE64" of an SPKI in the server's chain */
	const char	*method;	/* "GET" or "POST" */
	const char	*path;		/* "/oauth/token" */
	const char	*form;		/* POST body, application/x-www-form-urlencoded */
	const char	*bearer;	/* Authorization: Bearer (never logged), or NULL */
	uint64_t	 timeout_ms;	/* for the whole request: resolve, connect, TLS, answer */
	const bool	*stop;		/* when set (by a signal event on base): give up */
};

struct httpc_response {
	int		 status;	/* 200 ... 599 */
	char		 content_type[128];	/* "" when absent */
	char		*body;		/* NUL-terminated (no NUL inside is promised) */
	size_t		 body_len;
	/* internal to the parser */
	size_t		 head_len;
};

/* Appends name=value to a form body in buf (of size len), percent-encoding both (RFC 3986
 * unreserved characters stay, everything else becomes %XX) and adding '&' between pairs.
 * false if it did not fit (buf is then unchanged). */
bool		 httpc_form_add(char *buf, size_t len, const char *name, const char *value);

/* Runs one request on base (a private base when NULL) until the answer is complete, the
 * deadline passes or *req->stop is set. Returns 0 with resp filled (free it with
 * httpc_response_free), or -1 with the reason in err (nothing is logged above debug). */
int		 httpc_do(struct event_base *base, const struct httpc_request *req,
		    struct httpc_response *resp, char *err, size_t errlen);
void		 httpc_response_free(struct httpc_response *resp);

/* An OAuth error answer (RFC 6749 5.2: {"error": CODE, "error_description": TEXT}) into code
 * and desc, each reduced to printable ASCII for a terminal ("" when absent); false when the
 * body is not such a JSON object. */
bool		 httpc_oauth_error(const struct httpc_response *resp, char *code, size_t codelen,
		    char *desc, size_t desclen);

/* Parses what has arrived of a response (buf, len), eof when the server has closed. Returns
 * 1 when the response is complete (resp->status, content_type, head_len and body_len set; the
 * body is buf + head_len, body_len bytes: resp->body is not set), 0 when more is needed, -1
 * when it is malformed or over the limits (the reason in err). Strict: "HTTP/1.1 DDD reason"
 * with CRLF line ends, header names as RFC 9110 tokens, no obs-fold, no field without a colon,
 * at most one Content-Length, no Transfer-Encoding (the edge never chunks), no 1xx status. */
int		 httpc_parse(const char *buf, size_t len, bool eof, struct httpc_response *resp,
		    char *err, size_t errlen);

#endif
