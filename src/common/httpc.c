/* httpc: a small strict HTTPS/1.1 client (RFC 9110, 9112) over tls.c's client contexts: one
 * request per connection, bounded answers, a deadline for the whole of it. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>

#include "common/httpc.h"
#include "common/ev.h"
#include "common/log.h"
#include "common/tls.h"
#include "common/util.h"

/* --- URLs and forms -------------------------------------------------------------------- */

static int
httpc_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (err != NULL && errlen > 0)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static bool
httpc_name_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '.';
}

bool
httpc_hostport_key(const char *host, uint16_t port, char *buf, size_t len)
{
	if (strchr(host, ':') != NULL)
		return util_snprintf(buf, len, "[%s]:%u", host, port);
	return util_snprintf(buf, len, "%s:%u", host, port);
}

int
httpc_url_parse(const char *url, struct httpc_url *u, char *err, size_t errlen)
{
	char auth[300], *slash, *p;
	const char *rest;
	long port = 443;
	struct in6_addr a6;

	memset(u, 0, sizeof(*u));
	if (strncasecmp(url, "https://", 8) != 0) {
		util_snprintf(err, errlen, "it does not start with https:// (the edge speaks "
		    "HTTPS only)");
		return -1;
	}
	rest = url + 8;
	if (!util_strlcpy(auth, rest, sizeof(auth))) {
		util_snprintf(err, errlen, "it is too long");
		return -1;
	}
	if ((slash = strchr(auth, '/')) != NULL) {
		if (strcmp(slash, "/") != 0) {
			util_snprintf(err, errlen, "give the edge's address alone, without a path, "
			    "query or fragment (https://HOST[:PORT])");
			return -1;
		}
		*slash = '\0';
	}
	if (strpbrk(auth, "@?# \t") != NULL) {
		util_snprintf(err, errlen, "give the edge's address alone, without user, query or "
		    "fragment (https://HOST[:PORT])");
		return -1;
	}
	p = auth;
	if (*p == '[') {
		char *end = strchr(p, ']');

		if (end == NULL || (size_t)(end - p - 1) >= sizeof(u->host)) {
			util_snprintf(err, errlen, "an IPv6 address is written [ADDRESS]");
			return -1;
		}
		memcpy(u->host, p + 1, (size_t)(end - p - 1));
		u->host[end - p - 1] = '\0';
		if (inet_pton(AF_INET6, u->host, &a6) != 1) {
			util_snprintf(err, errlen, "\"%s\" is not an IPv6 address", u->host);
			return -1;
		}
		p = end + 1;
		if (*p != '\0' && *p != ':') {
			util_snprintf(err, errlen, "only :PORT may follow the IPv6 address");
			return -1;
		}
	} else {
		size_t n = strcspn(p, ":");

		if (n == 0 || n >= sizeof(u->host) || n > 253) {
			util_snprintf(err, errlen, "no host name");
			return -1;
		}
		for (size_t i = 0; i < n; i++)
			if (!httpc_name_char((unsigned char)p[i])) {
				util_snprintf(err, errlen, "the host is not a DNS name or an IPv4 "
				    "address");
				return -1;
			}
		memcpy(u->host, p, n);
		u->host[n] = '\0';
		for (char *q = u->host; *q != '\0'; q++)
			*q = (char)tolower((unsigned char)*q);
		p += n;
	}
	if (*p == ':') {
		if (p[1] == '\0' || strspn(p + 1, "0123456789") != strlen(p + 1) ||
		    util_parse_long(p + 1, 1, 65535, &port) == -1) {
			util_snprintf(err, errlen, "the port must be a number from 1 to 65535");
			return -1;
		}
	}
	u->port = (uint16_t)port;
	httpc_hostport_key(u->host, u->port, u->key, sizeof(u->key));
	{
		const char *l = strchr(u->host, ':') != NULL ? "[" : "";
		const char *r = *l != '\0' ? "]" : "";

		if (u->port == 443)
			util_snprintf(u->base, sizeof(u->base), "https://%s%s%s", l, u->host, r);
		else
			util_snprintf(u->base, sizeof(u->base), "https://%s%s%s:%u", l, u->host, r,
			    u->port);
	}
	return 0;
}

int
httpc_edge_key(const char *edge, uint16_t default_port, char *key, size_t keylen, char *err,
    size_t errlen)
{
	struct httpc_url u;
	struct util_hostport hp;

	if (strncasecmp(edge, "https://", 8) == 0) {
		if (httpc_url_parse(edge, &u, err, errlen) == -1)
			return -1;
		if (!util_strlcpy(key, u.key, keylen))
			return httpc_fail(err, errlen, "it is too long");
		return 0;
	}
	if (util_parse_hostport(edge, default_port, &hp, err, errlen) == -1)
		return -1;
	for (char *q = hp.host; *q != '\0'; q++)
		*q = (char)tolower((unsigned char)*q);
	if (!httpc_hostport_key(hp.host, hp.port, key, keylen))
		return httpc_fail(err, errlen, "it is too long");
	return 0;
}

/* Appends s percent-encoded at buf + *pos; false when it does not fit. */
static bool
httpc_encode(char *buf, size_t len, size_t *pos, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			if (*pos + 1 >= len)
				return false;
			buf[(*pos)++] = (char)c;
		} else {
			if (*pos + 3 >= len)
				return false;
			buf[(*pos)++] = '%';
			buf[(*pos)++] = hex[c >> 4];
			buf[(*pos)++] = hex[c & 15];
		}
	}
	return true;
}

bool
httpc_form_add(char *buf, size_t len, const char *name, const char *value)
{
	size_t pos = strnlen(buf, len), start = pos;

	if (pos >= len)
		return false;
	if ((pos > 0 && (pos + 1 >= len || (buf[pos++] = '&', false))) ||
	    !httpc_encode(buf, len, &pos, name) || pos + 1 >= len ||
	    (buf[pos++] = '=', !httpc_encode(buf, len, &pos, value))) {
		buf[start] = '\0';
		return false;
	}
	buf[pos] = '\0';
	return true;
}

/* --- the response parser --------------------------------------------------------------- */

/* RFC 9110 5.6.2 tchar. */
static bool
httpc_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* A field value or reason phrase byte: VCHAR, SP, HTAB, obs-text. */
static bool
httpc_vchar(unsigned char c)
{
	return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

/* The index of the CRLFCRLF ending the head within buf[0..n), or -1. */
static long
httpc_head_end(const char *buf, size_t n)
{
	for (size_t i = 0; i + 3 < n; i++)
		if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n')
			return (long)i;
	return -1;
}

int
httpc_parse(const char *buf, size_t len, bool eof, struct httpc_response *resp, char *err,
    size_t errlen)
{
	size_t scan = len < HTTPC_MAX_HEAD ? len : HTTPC_MAX_HEAD;
	long end = httpc_head_end(buf, scan);
	size_t head, i, nfields = 0;
	bool have_cl = false;
	unsigned long cl = 0;

	memset(resp, 0, sizeof(*resp));
	if (end < 0) {
		if (len >= HTTPC_MAX_HEAD)
			return httpc_fail(err, errlen, "the answer's head is over %d bytes",
			    HTTPC_MAX_HEAD);
		if (eof)
			return httpc_fail(err, errlen, "the server closed the connection before "
			    "the end of the answer's head");
		return 0;
	}
	head = (size_t)end + 4;

	/* status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF */
	if (head < 14 || (memcmp(buf, "HTTP/1.1 ", 9) != 0 && memcmp(buf, "HTTP/1.0 ", 9) != 0))
		return httpc_fail(err, errlen, "the answer does not start with HTTP/1.1 (is this "
		    "an HTTPS server?)");
	for (i = 9; i < 12; i++)
		if (buf[i] < '0' || buf[i] > '9')
			return httpc_fail(err, errlen, "malformed status code");
	resp->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	if (resp->status < 100 || resp->status > 599)
		return httpc_fail(err, errlen, "status %d is not an HTTP status", resp->status);
	if (resp->status < 200)
		return httpc_fail(err, errlen, "unexpected informational answer %d",
		    resp->status);
	i = 12;
	if (buf[i] == ' ') {
		for (i++; buf[i] != '\r'; i++)
			if (!httpc_vchar((unsigned char)buf[i]))
				return httpc_fail(err, errlen, "a control character in the "
				    "status line");
	}
	if (buf[i] != '\r' || buf[i + 1] != '\n')
		return httpc_fail(err, errlen, "malformed status line");
	i += 2;

	/* field-line = field-name ":" OWS field-value OWS CRLF */
	while (i < (size_t)end + 2) {
		size_t name = i, nlen, vstart, vend;

		if (buf[i] == ' ' || buf[i] == '\t')
			return httpc_fail(err, errlen, "a folded header line (obs-fold)");
		while (httpc_tchar((unsigned char)buf[i]))
			i++;
		nlen = i - name;
		if (nlen == 0 || buf[i] != ':')
			return httpc_fail(err, errlen, "a malformed header field name");
		if (++nfields > HTTPC_MAX_FIELDS)
			return httpc_fail(err, errlen, "more than %d header fields",
			    HTTPC_MAX_FIELDS);
		i++;
		while (buf[i] == ' ' || buf[i] == '\t')
			i++;
		vstart = i;
		while (buf[i] != '\r') {
			if (!httpc_vchar((unsigned char)buf[i]))
				return httpc_fail(err, errlen, "a control character in a header "
				    "field");
			i++;
		}
		if (buf[i + 1] != '\n')
			return httpc_fail(err, errlen, "a bare CR in the head");
		vend = i;
		while (vend > vstart && (buf[vend - 1] == ' ' || buf[vend - 1] == '\t'))
			vend--;
		i += 2;

		if (nlen == 14 && strncasecmp(buf + name, "Content-Length", 14) == 0) {
			if (have_cl)
				return httpc_fail(err, errlen, "more than one Content-Length");
			have_cl = true;
			if (vend == vstart || vend - vstart > 9)
				return httpc_fail(err, errlen, "a malformed Content-Length");
			for (size_t k = vstart; k < vend; k++) {
				if (buf[k] < '0' || buf[k] > '9')
					return httpc_fail(err, errlen, "a malformed Content-Length");
				cl = cl * 10 + (unsigned long)(buf[k] - '0');
			}
			if (cl > HTTPC_MAX_BODY)
				return httpc_fail(err, errlen, "the answer's body (%lu bytes) is over "
				    "%d bytes", cl, HTTPC_MAX_BODY);
		} else if (nlen == 17 && strncasecmp(buf + name, "Transfer-Encoding", 17) == 0) {
			return httpc_fail(err, errlen, "the answer uses Transfer-Encoding, which "
			    "this client does not accept");
		} else if (nlen == 12 && strncasecmp(buf + name, "Content-Type", 12) == 0) {
			if (vend - vstart >= sizeof(resp->content_type))
				return httpc_fail(err, errlen, "a Content-Type over %zu bytes",
				    sizeof(resp->content_type) - 1);
			memcpy(resp->content_type, buf + vstart, vend - vstart);
			resp->content_type[vend - vstart] = '\0';
		}
	}
	resp->head_len = head;

	if (resp->status == 204 || resp->status == 304) {
		if (len > head)
			return httpc_fail(err, errlen, "bytes after an answer without a body");
		return 1;
	}
	if (have_cl) {
		if (len - head > cl)
			return httpc_fail(err, errlen, "bytes after the answer's body");
		if (len - head < cl) {
			if (eof)
				return httpc_fail(err, errlen, "the server closed the connection "
				    "%zu bytes into a body of %lu", len - head, cl);
			return 0;
		}
		resp->body_len = cl;
		return 1;
	}
	if (len - head > HTTPC_MAX_BODY)
		return httpc_fail(err, errlen, "the answer's body is over %d bytes",
		    HTTPC_MAX_BODY);
	if (!eof)
		return 0;
	resp->body_len = len - head;
	return 1;
}

bool
httpc_oauth_error(const struct httpc_response *resp, char *code, size_t codelen, char *desc,
    size_t desclen)
{
	json_t *root, *v;
	bool ok = false;

	code[0] = desc[0] = '\0';
	if (resp->body == NULL || (root = json_loadb(resp->body, resp->body_len,
	    JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return false;
	if (json_is_object(root) && json_is_string(v = json_object_get(root, "error"))) {
		util_quote(json_string_value(v), code, codelen);
		if (json_is_string(v = json_object_get(root, "error_description")))
			util_quote(json_string_value(v), desc, desclen);
		ok = true;
	}
	json_decref(root);
	return ok;
}

void
httpc_response_free(struct httpc_response *resp)
{
	if (resp == NULL)
		return;
	if (resp->body != NULL) {
		util_cleanse(resp->body, resp->body_len);
		free(resp->body);
	}
	resp->body = NULL;
	resp->body_len = 0;
}

/* --- the connection -------------------------------------------------------------------- */

struct httpc_conn {
	struct event_base *base;
	const struct httpc_request *req;
	struct httpc_response *resp;
	struct bufferevent *bev;
	struct event	*connect_ev;
	int		 fd;
	bool		 connected;	/* TCP */
	bool		 done;		/* answer complete or failed */
	bool		 failed;
	char		 err[HTTPC_ERR_MAX];
	char		*request;
	size_t		 request_len;
};

static uint64_t
httpc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
httpc_finish(struct httpc_conn *c, bool ok, const char *fmt, ...)
{
	va_list ap;

	if (c->done)
		return;
	c->done = true;
	c->failed = !ok;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(c->err, sizeof(c->err), fmt, ap);
		va_end(ap);
	}
	if (c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
}

/* Parses what arrived; finishes on a complete or malformed answer. */
static void
httpc_try_parse(struct httpc_conn *c, bool eof)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t len = evbuffer_get_length(in);
	char why[HTTPC_ERR_MAX];
	const char *data;
	int r;

	if (len > HTTPC_MAX_HEAD + HTTPC_MAX_BODY) {
		httpc_finish(c, false, "the answer is over %d bytes",
		    HTTPC_MAX_HEAD + HTTPC_MAX_BODY);
		return;
	}
	data = len > 0 ? (const char *)evbuffer_pullup(in, -1) : "";
	r = httpc_parse(data, len, eof, c->resp, why, sizeof(why));
	if (r == -1) {
		httpc_finish(c, false, "malformed answer: %s", why);
		return;
	}
	if (r == 0)
		return;
	c->resp->body = xmalloc(c->resp->body_len + 1);
	memcpy(c->resp->body, data + c->resp->head_len, c->resp->body_len);
	c->resp->body[c->resp->body_len] = '\0';
	httpc_finish(c, true, NULL);
}

static void
httpc_read(struct bufferevent *bev, void *arg)
{
	httpc_try_parse(arg, false);
}

static void
httpc_event(struct bufferevent *bev, short what, void *arg)
{
	struct httpc_conn *c = arg;
	char alpn[TLS_ALPN_MAX + 1];

	if (what & BEV_EVENT_CONNECTED) {
		tls_bufferevent_alpn(bev, alpn, sizeof(alpn));
		if (alpn[0] != '\0' && strcmp(alpn, "http/1.1") != 0) {
			httpc_finish(c, false, "the server chose the protocol \"%s\", not http/1.1",
			    alpn);
			return;
		}
		if (bufferevent_write(bev, c->request, c->request_len) == -1)
			httpc_finish(c, false, "out of memory");
		return;
	}
	if (what & BEV_EVENT_EOF) {
		httpc_try_parse(c, true);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		char why[HTTPC_ERR_MAX];

		/* A server that closes without close_notify after a complete answer: the
		 * answer stands if it is complete (close-delimited bodies need close_notify). */
		tls_bufferevent_error(bev, why, sizeof(why));
		if (evbuffer_get_length(bufferevent_get_input(bev)) > 0) {
			httpc_try_parse(c, false);
			if (c->done)
				return;
		}
		httpc_finish(c, false, "%s", why[0] != '\0' ? why : "connection failed");
	}
}

static void
httpc_connected(evutil_socket_t fd, short what, void *arg)
{
	struct httpc_conn *c = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		errno = err;
		c->connected = false;
		c->done = true;		/* this address; the caller tries the next */
		c->failed = true;
		util_snprintf(c->err, sizeof(c->err), "%s", strerror(err));
		return;
	}
	c->connected = true;
	c->done = true;
}

static void
httpc_wake(evutil_socket_t fd, short what, void *arg)
{
}

/* Runs the loop until c->done, the deadline or *stop; false when not done. */
static bool
httpc_run(struct httpc_conn *c, uint64_t deadline)
{
	while (!c->done) {
		uint64_t now = httpc_now_ms();
		struct event *t;
		struct timeval tv;

		if (c->req->stop != NULL && *c->req->stop) {
			util_strlcpy(c->err, "interrupted", sizeof(c->err));
			return false;
		}
		if (now >= deadline) {
			util_strlcpy(c->err, "no answer in time", sizeof(c->err));
			return false;
		}
		tv.tv_sec = (time_t)((deadline - now) / 1000);
		tv.tv_usec = (suseconds_t)((deadline - now) % 1000 * 1000);
		/* The timer only wakes the loop up: EVLOOP_ONCE returns after it. */
		if ((t = evtimer_new(c->base, httpc_wake, NULL)) == NULL)
			fatalx("httpc_run: out of memory");
		event_add(t, &tv);
		event_base_loop(c->base, EVLOOP_ONCE);
		event_free(t);
	}
	return true;
}

/* The request's text: head and body. */
static char *
httpc_request_text(const struct httpc_request *req, size_t *len)
{
	const char *name = req->server_name != NULL ? req->server_name : req->host;
	const bool v6 = strchr(name, ':') != NULL;
	char host[300], *s;
	int n;

	if (req->port == 443)
		util_snprintf(host, sizeof(host), "%s%s%s", v6 ? "[" : "", name, v6 ? "]" : "");
	else
		util_snprintf(host, sizeof(host), "%s%s%s:%u", v6 ? "[" : "", name, v6 ? "]" : "",
		    req->port);
	if (req->form != NULL)
		n = xasprintf(&s, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: zt/%s\r\n"
		    "Accept: application/json\r\nConnection: close\r\n%s%s%s"
		    "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n"
		    "\r\n%s", req->method, req->path, host, PACKAGE_VERSION,
		    req->bearer != NULL ? "Authorization: Bearer " : "",
		    req->bearer != NULL ? req->bearer : "", req->bearer != NULL ? "\r\n" : "",
		    strlen(req->form), req->form);
	else
		n = xasprintf(&s, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: zt/%s\r\n"
		    "Accept: application/json\r\nConnection: close\r\n%s%s%s\r\n", req->method,
		    req->path, host, PACKAGE_VERSION,
		    req->bearer != NULL ? "Authorization: Bearer " : "",
		    req->bearer != NULL ? req->bearer : "", req->bearer != NULL ? "\r\n" : "");
	*len = (size_t)n;
	return s;
}

/* Checks what goes into the request line and fields: no CR, LF or other controls. */
static bool
httpc_request_ok(const struct httpc_request *req, char *err, size_t errlen)
{
	const char *v[] = { req->method, req->path, req->bearer, req->form, req->server_name };

	if (req->host == NULL || req->method == NULL || req->path == NULL || req->path[0] != '/' ||
	    (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0)) {
		httpc_fail(err, errlen, "httpc: a request needs a host, GET or POST and a path");
		return false;
	}
	for (size_t i = 0; i < nitems(v); i++)
		for (const char *p = v[i]; p != NULL && *p != '\0'; p++)
			if ((unsigned char)*p <= ' ' || *p == 0x7f) {
				httpc_fail(err, errlen, "httpc: a control character or space in "
				    "the request");
				return false;
			}
	return true;
}

int
httpc_do(struct event_base *base, const struct httpc_request *req, struct httpc_response *resp,
    char *err, size_t errlen)
{
	static const char *const alpn[] = { "http/1.1", NULL };
	struct httpc_conn c;
	struct tls_client_opts topts;
	struct tls_ctx *tls = NULL;
	struct event_base *own = NULL;
	struct addrinfo hints, *res = NULL, *ai;
	uint64_t deadline = httpc_now_ms() + (req->timeout_ms > 0 ? req->timeout_ms : 15000);
	char port[8], where[320];
	int gai, one = 1, ret = -1;

	memset(resp, 0, sizeof(*resp));
	memset(&c, 0, sizeof(c));
	c.fd = -1;
	c.req = req;
	c.resp = resp;
	if (!httpc_request_ok(req, err, errlen))
		return -1;
	httpc_hostport_key(req->host, req->port, where, sizeof(where));
	if (base == NULL && (base = own = ev_base_new()) == NULL) {
		httpc_fail(err, errlen, "cannot make an event loop");
		return -1;
	}
	c.base = base;

	memset(&topts, 0, sizeof(topts));
	topts.ca_file = req->ca_file;
	topts.pin = req->pin;
	topts.alpn = alpn;
	if ((tls = tls_client_new(&topts)) == NULL) {
		httpc_fail(err, errlen, "cannot make the TLS context (see the messages above)");
		goto out;
	}

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	snprintf(port, sizeof(port), "%u", req->port);
	if ((gai = getaddrinfo(req->host, port, &hints, &res)) != 0) {
		httpc_fail(err, errlen, "cannot resolve %s: %s", req->host, gai_strerror(gai));
		goto out;
	}
	/* Each address in turn until one connects. */
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		c.fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c.fd == -1)
			continue;
		if (connect(c.fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno != EINPROGRESS) {
			util_snprintf(c.err, sizeof(c.err), "%s", strerror(errno));
			close(c.fd);
			c.fd = -1;
			continue;
		}
		c.done = c.failed = c.connected = false;
		if ((c.connect_ev = event_new(base, c.fd, EV_WRITE, httpc_connected, &c)) == NULL)
			fatalx("httpc_do: out of memory");
		event_add(c.connect_ev, NULL);
		if (!httpc_run(&c, deadline)) {
			httpc_fail(err, errlen, "cannot connect to %s: %s", where, c.err);
			goto out;
		}
		event_free(c.connect_ev);
		c.connect_ev = NULL;
		if (c.connected)
			break;
		close(c.fd);
		c.fd = -1;
	}
	if (c.fd == -1) {
		httpc_fail(err, errlen, "cannot connect to %s: %s", where, c.err[0] != '\0' ?
		    c.err : "no address");
		goto out;
	}
	setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	c.request = httpc_request_text(req, &c.request_len);
	c.bev = tls_bufferevent_new(base, tls, c.fd,
	    false, req->server_name != NULL ? req->server_name : req->host);
	c.fd = -1;	/* the bufferevent's now, or closed */
	if (c.bev == NULL) {
		httpc_fail(err, errlen, "cannot start TLS with %s (see the messages above)", where);
		goto out;
	}
	c.done = c.failed = false;
	c.err[0] = '\0';
	bufferevent_setcb(c.bev, httpc_read, NULL, httpc_event, &c);
	bufferevent_setwatermark(c.bev, EV_READ, 0, HTTPC_MAX_HEAD + HTTPC_MAX_BODY + 1);
	bufferevent_enable(c.bev, EV_READ | EV_WRITE);
	if (!httpc_run(&c, deadline)) {
		httpc_fail(err, errlen, "%s: %s", where, c.err);
		goto out;
	}
	if (c.failed) {
		httpc_fail(err, errlen, "%s: %s", where, c.err);
		goto out;
	}
	log_debug("httpc: %s %s%s -> %d (%zu bytes)", req->method, where, req->path,
	    resp->status, resp->body_len);
	ret = 0;
out:
	if (ret == -1)
		httpc_response_free(resp);
	if (c.connect_ev != NULL)
		event_free(c.connect_ev);
	if (c.fd != -1)
		close(c.fd);
	if (c.bev != NULL)
		bufferevent_free(c.bev);
	if (c.request != NULL) {
		util_cleanse(c.request, c.request_len);
		free(c.request);
	}
	if (res != NULL)
		freeaddrinfo(res);
	tls_ctx_free(tls);
	if (own != NULL)
		ev_base_free(own);
	return ret;
}
