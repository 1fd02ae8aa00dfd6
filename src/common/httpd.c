/* httpd: a strict HTTP/1.1 server for the operational endpoints (RFC 9110, RFC 9112: GET and
 * HEAD, bounded heads, timeouts against slow clients), on the applet's event loop. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdarg.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "ev.h"
#include "httpd.h"
#include "log.h"
#include "util.h"

#define HTTPD_MAX_METHOD	16

const char *
httpd_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 303: return "See Other";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

/* --- the parser ---------------------------------------------------------------------------- */

/* tchar of RFC 9110 section 5.6.2. */
static bool
tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Checks a request line of n bytes (without CRLF; when !complete, the bytes so far). 0 when
 * valid (or a valid prefix), else minus the status. */
static int
request_line(const char *s, size_t n, bool complete, struct httpd_request *req)
{
	static const char version[] = "HTTP/1.";
	size_t i = 0, m, t;
	char *q;

	for (m = 0; i < n && s[i] != ' '; i++, m++)
		if (!tchar((unsigned char)s[i]) || m >= HTTPD_MAX_METHOD)
			return -400;
	if (i == n)
		return complete ? -400 : 0;
	if (m == 0)
		return -400;
	i++;	/* SP */
	for (t = 0; i < n && s[i] != ' '; i++, t++) {
		unsigned char c = (unsigned char)s[i];

		if ((t == 0 && c != '/') || c <= 0x20 || c >= 0x7f || c == '#')
			return -400;
		if (t >= HTTPD_MAX_TARGET)
			return -414;
	}
	if (i == n)
		return complete ? -400 : 0;
	if (t == 0)
		return -400;
	i++;	/* SP */
	/* HTTP-version: "HTTP/" DIGIT "." DIGIT; other than 1.0 and 1.1 is 505. */
	for (size_t k = 0; i + k < n; k++) {
		char c = s[i + k];

		if (k >= 8)
			return -400;
		if (k < 5 && c != "HTTP/"[k])
			return -400;
		if ((k == 5 || k == 7) && (c < '0' || c > '9'))
			return -400;
		if (k == 6 && c != '.')
			return -400;
	}
	if (!complete)
		return 0;
	if (n - i != 8)
		return -400;
	if (strncmp(s + i, version, 7) != 0 || (s[i + 7] != '0' && s[i + 7] != '1'))
		return -505;
	req->minor = s[i + 7] - '0';
	if (m == 4 && strncmp(s, "HEAD", 4) == 0)
		req->head = true;
	else if (m == 4 && strncmp(s, "POST", 4) == 0)
		req->post = true;
	else if (!(m == 3 && strncmp(s, "GET", 3) == 0))
		return -405;
	memcpy(req->path, s + m + 1, t);
	req->path[t] = '\0';
	if ((q = strchr(req->path, '?')) != NULL) {
		memcpy(req->query, q + 1, strlen(q + 1) + 1);
		*q = '\0';
	}
	return 0;
}

/* Whether the comma-separated list v (n bytes) holds token tok, in any case. */
static bool
list_has(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok), i = 0;

	while (i < n) {
		size_t j;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		for (j = i; j < n && v[j] != ',' && v[j] != ' ' && v[j] != '\t'; j++)
			;
		if (j - i == tl && strncasecmp(v + i, tok, tl) == 0)
			return true;
		i = j;
	}
	return false;
}

int
httpd_parse(const char *buf, size_t len, struct httpd_request *req)
{
	size_t limit = len < HTTPD_MAX_HEAD ? len : HTTPD_MAX_HEAD, pos, nheaders = 0;
	size_t nhost = 0, nlength = 0, nctype = 0, nauth = 0, ncookie = 0;
	const char *eol;
	bool close = false;
	int r;

	memset(req, 0, sizeof(*req));
	if (len == 0)
		return 0;
	if ((eol = memchr(buf, '\n', limit)) == NULL) {
		const char *cr = memchr(buf, '\r', limit);

		if (cr != NULL && cr != buf + limit - 1)
			return -400;	/* a CR not followed by LF */
		if ((r = request_line(buf, limit - (limit > 0 && buf[limit - 1] == '\r'), false,
		    req)) < 0)
			return r;
		return len >= HTTPD_MAX_HEAD ? -431 : 0;
	}
	if (eol == buf || eol[-1] != '\r' || memchr(buf, '\r', (size_t)(eol - buf) - 1) != NULL)
		return -400;
	if ((r = request_line(buf, (size_t)(eol - buf) - 1, true, req)) < 0)
		return r;
	pos = (size_t)(eol - buf) + 1;
	for (;;) {
		const char *line = buf + pos, *colon, *v, *ve;
		size_t n;

		if ((eol = memchr(line, '\n', limit - pos)) == NULL)
			return len >= HTTPD_MAX_HEAD ? -431 : 0;
		n = (size_t)(eol - line);
		if (n == 0 || line[n - 1] != '\r')
			return -400;	/* bare LF */
		n--;
		pos += n + 2;
		if (n == 0)
			break;		/* the empty line: the head is complete */
		if (++nheaders > HTTPD_MAX_HEADERS)
			return -431;
		if (line[0] == ' ' || line[0] == '\t')
			return -400;	/* obs-fold */
		if ((colon = memchr(line, ':', n)) == NULL || colon == line)
			return -400;
		for (const char *p = line; p < colon; p++)
			if (!tchar((unsigned char)*p))
				return -400;
		for (v = colon + 1; v < line + n && (*v == ' ' || *v == '\t'); v++)
			;
		for (ve = line + n; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
			;
		for (const char *p = v; p < ve; p++) {
			unsigned char c = (unsigned char)*p;
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return -400;
		}
		req->fields[req->nfields++] = (struct httpd_field){ .name = line,
		    .namelen = (size_t)(colon - line), .value = v, .valuelen = (size_t)(ve - v) };
#define IS(name) ((size_t)(colon - line) == sizeof(name) - 1 && \
    strncasecmp(line, name, sizeof(name) - 1) == 0)
		if (IS("host"))
			nhost++;
		else if (IS("transfer-encoding"))
			return -400;	/* Content-Length only: no chunked bodies, no smuggling */
		else if (IS("content-length")) {
			size_t cl = 0;

			if (v == ve || ve - v > 9 || nlength++ > 0)
				return -400;	/* RFC 9112 6.3: one plain decimal, once */
			for (const char *p = v; p < ve; p++) {
				if (*p < '0' || *p > '9')
					return -400;
				cl = cl * 10 + (size_t)(*p - '0');
			}
			req->content_length = cl;
			req->has_length = true;
		} else if (IS("connection"))
			close = close || list_has(v, (size_t)(ve - v), "close");
		else if (IS("content-type"))
			nctype++;
		else if (IS("authorization"))
			nauth++;
		else if (IS("cookie"))
			ncookie++;
		else if (IS("expect")) {
			if ((size_t)(ve - v) != 12 || strncasecmp(v, "100-continue", 12) != 0)
				return -417;
			req->expect_continue = true;
		}
#undef IS
	}
	if (nhost > 1 || (req->minor == 1 && nhost == 0) || nctype > 1 || nauth > 1 ||
	    ncookie > 1)
		return -400;
	if (!req->post && req->content_length > 0)
		return -400;	/* GET and HEAD carry no body */
	if (req->content_length > HTTPD_MAX_BODY)
		return -413;
	req->keep_alive = req->minor == 1 && !close;
	return (int)pos;
}

/* --- header fields, forms, cookies --------------------------------------------------------- */

const char *
httpd_header(const struct httpd_request *req, const char *name, size_t *len)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < req->nfields; i++) {
		const struct httpd_field *f = &req->fields[i];

		if (f->namelen == n && strncasecmp(f->name, name, n) == 0) {
			if (len != NULL)
				*len = f->valuelen;
			return f->value;
		}
	}
	return NULL;
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes s[0..n) (a name or a value) into out; false with the reason in err. */
static bool
form_decode(const char *s, size_t n, char *out, size_t *o, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n || (hi = hexval((unsigned char)s[i + 1])) < 0 ||
			    (lo = hexval((unsigned char)s[i + 2])) < 0) {
				snprintf(err, errlen, "a %% not followed by two hex digits");
				return false;
			}
			c = (unsigned char)(hi << 4 | lo);
			if (c == '\0') {
				snprintf(err, errlen, "a NUL byte (%%00)");
				return false;
			}
			i += 2;
		} else if (c == '+')
			c = ' ';
		else if (c <= 0x20 || c >= 0x7f) {
			snprintf(err, errlen, "a raw byte 0x%02x: encode it as %%%02X", c, c);
			return false;
		}
		out[(*o)++] = (char)c;
	}
	out[(*o)++] = '\0';
	return true;
}

int
httpd_form_parse(const char *s, size_t len, struct httpd_form *f, char *err, size_t errlen)
{
	size_t i = 0, o = 0;

	f->n = 0;
	if (len > HTTPD_MAX_BODY) {
		snprintf(err, errlen, "over %d bytes", HTTPD_MAX_BODY);
		return -1;
	}
	while (i < len) {
		const char *pair = s + i, *amp = memchr(pair, '&', len - i), *eq;
		size_t n = amp != NULL ? (size_t)(amp - pair) : len - i;

		if (n == 0) {
			snprintf(err, errlen, "an empty field");
			return -1;
		}
		if (f->n >= HTTPD_FORM_MAX) {
			snprintf(err, errlen, "more than %d fields", HTTPD_FORM_MAX);
			return -1;
		}
		if ((eq = memchr(pair, '=', n)) == NULL || eq == pair) {
			snprintf(err, errlen, "a field that is not NAME=VALUE");
			return -1;
		}
		f->names[f->n] = f->buf + o;
		if (!form_decode(pair, (size_t)(eq - pair), f->buf, &o, err, errlen))
			return -1;
		f->values[f->n] = f->buf + o;
		if (!form_decode(eq + 1, n - (size_t)(eq - pair) - 1, f->buf, &o, err, errlen))
			return -1;
		for (size_t k = 0; k < f->n; k++)
			if (strcmp(f->names[k], f->names[f->n]) == 0) {
				snprintf(err, errlen, "field \"%.64s\" given twice", f->names[k]);
				return -1;
			}
		f->n++;
		i += n + (amp != NULL);
		if (amp != NULL && i == len) {
			snprintf(err, errlen, "an empty field");
			return -1;
		}
	}
	return 0;
}

const char *
httpd_form_get(const struct httpd_form *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->names[i], name) == 0)
			return f->values[i];
	return NULL;
}

/* cookie-octet of RFC 6265 4.1.1. */
static bool
cookie_octet(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) ||
	    (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

int
httpd_cookie(const char *hdr, size_t len, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name), i = 0;
	int found = 0;

	while (i < len) {
		size_t ns = i, ne, vs, ve;

		while (i < len && tchar((unsigned char)hdr[i]))
			i++;
		ne = i;
		if (ne == ns || i >= len || hdr[i] != '=')
			return -1;
		vs = ++i;
		if (i < len && hdr[i] == '"') {
			for (vs = ++i; i < len && cookie_octet((unsigned char)hdr[i]); i++)
				;
			if (i >= len || hdr[i] != '"')
				return -1;
			ve = i++;
		} else {
			while (i < len && cookie_octet((unsigned char)hdr[i]))
				i++;
			ve = i;
		}
		if (ne - ns == nl && memcmp(hdr + ns, name, nl) == 0) {
			if (found++ > 0 || ve - vs >= outlen)
				return -1;
			memcpy(out, hdr + vs, ve - vs);
			out[ve - vs] = '\0';
		}
		if (i == len)
			break;
		if (len - i < 3 || hdr[i] != ';' || hdr[i + 1] != ' ')
			return -1;
		i += 2;
	}
	return found;
}

/* --- the server ---------------------------------------------------------------------------- */

struct httpd_conn {
	struct httpd	*h;
	struct bufferevent *bev;
	struct ev_timer	*deadline;
	unsigned int	 nrequests;
	bool		 writing;	/* an answer is in the output: read nothing more */
	bool		 closing;	/* close once the answer is out */
	bool		 eof;
	bool		 in_body;	/* the head is in, the body is coming */
	uint64_t	 deferred;	/* a handler answers later: the request's id */
	bool		 deferred_head, deferred_keep;
	struct httpd_request req;	/* the request being read (in_body) */
	char		 head[HTTPD_MAX_HEAD + 1];	/* its head: req.fields point here */
	struct sockaddr_storage peer;
	socklen_t	 peerlen;
	struct httpd_conn *next, *prev;
};

struct httpd {
	struct event_base *base;
	struct ev_listener *l;
	httpd_handler	 handler;
	void		*arg;
	struct httpd_opts opts;
	struct httpd_conn *conns;
	size_t		 nconns;
	uint64_t	 next_id;
};

static void conn_process(struct httpd_conn *c);

static void
conn_free(struct httpd_conn *c)
{
	struct httpd *h = c->h;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		h->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	h->nconns--;
	ev_timer_free(c->deadline);
	bufferevent_free(c->bev);
	free(c);
}

bool
httpd_add_header(struct httpd_response *resp, const char *name, const char *fmt, ...)
{
	char value[2048];
	va_list ap;
	int n;

	for (const char *p = name; *p != '\0'; p++)
		if (!tchar((unsigned char)*p))
			return false;
	va_start(ap, fmt);
	n = vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(value) || *name == '\0')
		return false;
	for (const char *p = value; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	evbuffer_add_printf(resp->headers, "%s: %s\r\n", name, value);
	return true;
}

/* Queues an answer; keep: the connection stays open for the next request. */
static void
conn_answer(struct httpd_conn *c, const struct httpd_response *r, bool head, bool keep)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t blen = r->body != NULL ? evbuffer_get_length(r->body) : 0;

	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "Cache-Control: %s\r\n%s", r->status, httpd_reason(r->status), r->content_type, blen,
	    r->cache_control != NULL ? r->cache_control : "no-store", r->status == 405 ?
	    (c->h->opts.post ? "Allow: GET, HEAD, POST\r\n" : "Allow: GET, HEAD\r\n") : "");
	if (c->h->opts.headers != NULL)
		evbuffer_add(out, c->h->opts.headers, strlen(c->h->opts.headers));
	if (r->headers != NULL)
		evbuffer_add_buffer(out, r->headers);
	evbuffer_add_printf(out, "Connection: %s\r\n\r\n", keep ? "keep-alive" : "close");
	if (r->body != NULL && !head)
		evbuffer_add_buffer(out, r->body);
	c->writing = true;
	c->closing = !keep;
	ev_timer_stop(c->deadline);
	bufferevent_disable(c->bev, EV_READ);
}

static void
conn_error(struct httpd_conn *c, int status)
{
	struct httpd_response r = { .status = status,
	    .content_type = "text/plain; charset=utf-8" };

	if ((r.body = evbuffer_new()) == NULL) {
		conn_free(c);
		return;
	}
	evbuffer_add_printf(r.body, "%d %s\n", status, httpd_reason(status));
	conn_answer(c, &r, false, false);
	evbuffer_free(r.body);
}

uint64_t
httpd_defer(struct httpd_response *resp)
{
	struct httpd_conn *c = resp->conn_;

	resp->deferred = c->deferred = ++c->h->next_id;
	return resp->deferred;
}

bool
httpd_complete(struct httpd *h, uint64_t id, struct httpd_response *resp)
{
	for (struct httpd_conn *c = h->conns; c != NULL; c = c->next) {
		if (c->deferred != id || id == 0)
			continue;
		c->deferred = 0;
		if (resp->content_type == NULL)
			resp->content_type = "text/plain; charset=utf-8";
		conn_answer(c, resp, c->deferred_head, c->deferred_keep);
		return true;
	}
	return false;
}

/* Hands a complete request (head in c->head, body at the head of the input) to the handler. */
static void
conn_dispatch(struct httpd_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct httpd_request *req = &c->req;
	struct httpd_response resp;
	bool keep;

	c->in_body = false;
	c->nrequests++;
	req->peer = (const struct sockaddr *)&c->peer;
	req->peerlen = c->peerlen;
	req->body = "";
	if (req->content_length > 0)
		req->body = (const char *)evbuffer_pullup(in, (ssize_t)req->content_length);
	memset(&resp, 0, sizeof(resp));
	resp.status = 200;
	resp.content_type = "text/plain; charset=utf-8";
	resp.conn_ = c;
	resp.body = evbuffer_new();
	resp.headers = evbuffer_new();
	if (resp.body == NULL || resp.headers == NULL) {
		if (resp.body != NULL)
			evbuffer_free(resp.body);
		if (resp.headers != NULL)
			evbuffer_free(resp.headers);
		conn_free(c);
		return;
	}
	keep = req->keep_alive && !c->eof && c->nrequests < HTTPD_MAX_REQUESTS;
	c->h->handler(req, &resp, c->h->arg);
	evbuffer_drain(in, req->content_length);
	if (resp.deferred != 0) {
		/* Read nothing more until the answer is out. */
		c->deferred_head = req->head;
		c->deferred_keep = keep;
		c->writing = true;
		ev_timer_stop(c->deadline);
		bufferevent_disable(c->bev, EV_READ);
	} else
		conn_answer(c, &resp, req->head, keep);
	evbuffer_free(resp.body);
	evbuffer_free(resp.headers);
}

/* Answers the request at the head of the input, if it is all there. */
static void
conn_process(struct httpd_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t n = evbuffer_get_length(in);
	const char *data;
	int r;

	if (c->writing || c->closing)
		return;
	if (c->in_body) {
		if (n >= c->req.content_length)
			conn_dispatch(c);
		else if (c->eof)
			conn_error(c, 400);	/* the client stopped in the middle of a body */
		return;
	}
	if (n > HTTPD_MAX_HEAD)
		n = HTTPD_MAX_HEAD;
	if (n == 0) {
		if (c->eof)
			conn_free(c);
		return;
	}
	data = (const char *)evbuffer_pullup(in, (ssize_t)n);
	if ((r = httpd_parse(data, n, &c->req)) == 0) {
		if (c->eof)
			conn_error(c, 400);	/* the client stopped in the middle of a head */
		return;
	}
	if (r > 0 && c->req.post && !c->h->opts.post)
		r = -405;
	else if (r > 0 && c->req.post && !c->req.has_length)
		r = -411;
	if (r < 0) {
		log_debug("httpd: answering %d to a request", -r);
		conn_error(c, -r);
		return;
	}
	/* Keep the head (the fields point into it) and parse again there. */
	memcpy(c->head, data, (size_t)r);
	c->head[r] = '\0';
	httpd_parse(c->head, (size_t)r, &c->req);
	evbuffer_drain(in, (size_t)r);
	if (c->req.content_length > 0) {
		c->in_body = true;
		ev_timer_start(c->deadline, c->h->opts.body_ms, false);
		bufferevent_setwatermark(c->bev, EV_READ, 0, HTTPD_MAX_BODY);
		if (c->req.expect_continue && evbuffer_get_length(in) == 0)
			evbuffer_add_printf(bufferevent_get_output(c->bev),
			    "HTTP/1.1 100 Continue\r\n\r\n");
		conn_process(c);
		return;
	}
	conn_dispatch(c);
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
	conn_process(arg);
}

/* The answer is out: close, or wait for the next request (which may be here already). */
static void
conn_written(struct bufferevent *bev, void *arg)
{
	struct httpd_conn *c = arg;

	if (!c->writing || c->deferred != 0)
		return;
	c->writing = false;
	if (c->closing) {
		conn_free(c);
		return;
	}
	ev_timer_start(c->deadline, c->h->opts.head_ms, false);
	bufferevent_setwatermark(c->bev, EV_READ, 0, HTTPD_MAX_HEAD);
	bufferevent_enable(c->bev, EV_READ);
	conn_process(c);
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct httpd_conn *c = arg;

	if ((what & BEV_EVENT_EOF) != 0 && (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) == 0 &&
	    !c->writing) {
		/* The client has sent all it will send: answer what is there, then close. */
		c->eof = true;
		bufferevent_disable(bev, EV_READ);
		conn_process(c);
		return;
	}
	if ((what & BEV_EVENT_EOF) != 0 && c->writing && (what & BEV_EVENT_ERROR) == 0) {
		c->eof = true;
		c->closing = true;
		return;
	}
	conn_free(c);
}

/* The head or body did not come in time (or the connection idled): close it. */
static void
conn_deadline(void *arg)
{
	struct httpd_conn *c = arg;

	log_debug("httpd: no complete request within %d ms: closing", c->in_body ?
	    c->h->opts.body_ms : c->h->opts.head_ms);
	conn_free(c);
}

int
httpd_serve(struct httpd *h, struct bufferevent *bev, const struct sockaddr *sa,
    socklen_t salen)
{
	struct timeval wt = { HTTPD_WRITE_MS / 1000, (HTTPD_WRITE_MS % 1000) * 1000 };
	struct httpd_conn *c;

	if (h->nconns >= h->opts.max_conns) {
		log_debug("httpd: %zu connections already: closing a new one", h->opts.max_conns);
		bufferevent_free(bev);
		return -1;
	}
	c = xcalloc(1, sizeof(*c));
	c->h = h;
	c->bev = bev;
	if (sa != NULL && salen <= sizeof(c->peer)) {
		memcpy(&c->peer, sa, salen);
		c->peerlen = salen;
	}
	c->deadline = ev_timer_new(h->base, conn_deadline, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, HTTPD_MAX_HEAD);
	bufferevent_setcb(c->bev, conn_read, conn_written, conn_event, c);
	bufferevent_set_timeouts(c->bev, NULL, &wt);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	ev_timer_start(c->deadline, h->opts.head_ms, false);
	c->next = h->conns;
	if (c->next != NULL)
		c->next->prev = c;
	h->conns = c;
	h->nconns++;
	/* Bytes that came with the handshake are read now, not at the next read event. */
	if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		conn_process(c);
	return 0;
}

static void
httpd_accept(int fd, const struct sockaddr *sa, socklen_t salen, void *arg)
{
	struct httpd *h = arg;
	struct bufferevent *bev;

	if (h->nconns >= h->opts.max_conns) {
		log_debug("httpd: %zu connections already: closing a new one", h->opts.max_conns);
		close(fd);
		return;
	}
	if ((bev = bufferevent_socket_new(h->base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		close(fd);
		return;
	}
	httpd_serve(h, bev, sa, salen);
}

struct httpd *
httpd_new_server(struct event_base *base, const struct httpd_opts *opts, httpd_handler handler,
    void *arg)
{
	struct httpd *h = xcalloc(1, sizeof(*h));

	h->base = base;
	h->handler = handler;
	h->arg = arg;
	if (opts != NULL)
		h->opts = *opts;
	if (h->opts.max_conns == 0)
		h->opts.max_conns = HTTPD_MAX_CONNS;
	if (h->opts.head_ms <= 0)
		h->opts.head_ms = HTTPD_HEAD_MS;
	if (h->opts.body_ms <= 0)
		h->opts.body_ms = h->opts.head_ms;
	return h;
}

struct httpd *
httpd_new(struct event_base *base, const struct sockaddr *sa, socklen_t salen,
    httpd_handler handler, void *arg)
{
	struct httpd *h = httpd_new_server(base, NULL, handler, arg);

	if ((h->l = ev_listener_new(base, sa, salen, 16, httpd_accept, h)) == NULL) {
		free(h);
		return NULL;
	}
	return h;
}

size_t
httpd_conns(const struct httpd *h)
{
	return h->nconns;
}

void
httpd_free(struct httpd *h)
{
	if (h == NULL)
		return;
	while (h->conns != NULL)
		conn_free(h->conns);
	ev_listener_free(h->l);
	free(h);
}

int
httpd_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len, char *err,
    size_t errlen)
{
	struct util_hostport hp;
	uint16_t port;

	if (s[0] != '\0' && strspn(s, "0123456789") == strlen(s)) {
		if (util_parse_port(s, false, &port) == -1) {
			snprintf(err, errlen, "\"%s\" is not a port (1-65535)", s);
			return -1;
		}
		return util_sockaddr_from("127.0.0.1", port, ss, len);
	}
	if (util_parse_hostport(s, 0, &hp, err, errlen) == -1)
		return -1;
	if (hp.port == 0) {
		snprintf(err, errlen, "\"%s\" has no port (1-65535)", s);
		return -1;
	}
	if (util_sockaddr_from(hp.host, hp.port, ss, len) == -1) {
		snprintf(err, errlen, "\"%s\" is not a numeric address: give e.g. 127.0.0.1:9090 "
		    "or [::1]:9090", hp.host);
		return -1;
	}
	return 0;
}

/* --- the probes' client -------------------------------------------------------------------- */

static int
ms_left(const struct timespec *deadline)
{
	struct timespec now;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms > 0 ? (int)ms : 0;
}

/* Waits for events on fd until the deadline; false (errno ETIMEDOUT) when it passed. */
static bool
wait_fd(int fd, short events, const struct timespec *deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int r;

	do
		r = poll(&pfd, 1, ms_left(deadline));
	while (r == -1 && errno == EINTR);
	if (r == 0)
		errno = ETIMEDOUT;
	return r > 0;
}

int
httpd_get(const struct sockaddr *sa, socklen_t salen, const char *path, int timeout_ms,
    char *body, size_t len)
{
	char req[HTTPD_MAX_TARGET + 128], resp[16384];
	struct timespec deadline;
	size_t got = 0, sent = 0, reqlen;
	int fd, err = 0, status = -1;
	socklen_t elen = sizeof(err);
	const char *b;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	if (!util_snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: zt\r\nConnection: close\r\n"
	    "User-Agent: zt/" PACKAGE_VERSION "\r\n\r\n", path)) {
		snprintf(body, len, "the path is too long");
		return -1;
	}
	reqlen = strlen(req);
	if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		goto fail;
	if (connect(fd, sa, salen) == -1) {
		if (errno != EINPROGRESS || !wait_fd(fd, POLLOUT, &deadline))
			goto fail;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == -1 || err != 0) {
			errno = err;
			goto fail;
		}
	}
	while (sent < reqlen) {
		ssize_t n = send(fd, req + sent, reqlen - sent, MSG_NOSIGNAL);

		if (n > 0)
			sent += (size_t)n;
		else if (n == -1 && errno == EAGAIN) {
			if (!wait_fd(fd, POLLOUT, &deadline))
				goto fail;
		} else if (n == -1 && errno != EINTR)
			goto fail;
	}
	while (got < sizeof(resp) - 1) {
		ssize_t n = recv(fd, resp + got, sizeof(resp) - 1 - got, 0);

		if (n > 0)
			got += (size_t)n;
		else if (n == 0)
			break;
		else if (errno == EAGAIN) {
			if (!wait_fd(fd, POLLIN, &deadline))
				goto fail;
		} else if (errno != EINTR)
			goto fail;
	}
	close(fd);
	resp[got] = '\0';
	if (got < 12 || strncmp(resp, "HTTP/1.", 7) != 0 || resp[8] != ' ' ||
	    sscanf(resp + 9, "%3d", &status) != 1 || status < 100 || status > 599) {
		snprintf(body, len, "not an HTTP answer");
		return -1;
	}
	b = strstr(resp, "\r\n\r\n");
	snprintf(body, len, "%s", b != NULL ? b + 4 : "");
	return status;
fail:
	snprintf(body, len, "%s", strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}
