/* httpd: a strict HTTP/1.1 server for the operational endpoints (RFC 9110, RFC 9112: GET and
 * HEAD, bounded heads, timeouts against slow clients), on the applet's event loop. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
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

struct httpd_conn {
	struct httpd	*h;
	struct bufferevent *bev;
	struct ev_timer	*deadline;
	unsigned int	 nrequests;
	bool		 writing;	/* an answer is in the output: read nothing more */
	bool		 closing;	/* close once the answer is out */
	bool		 eof;
	struct httpd_conn *next, *prev;
};

struct httpd {
	struct event_base *base;
	struct ev_listener *l;
	httpd_handler	 handler;
	void		*arg;
	struct httpd_conn *conns;
	size_t		 nconns;
};

const char *
httpd_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
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
	else if (!(m == 3 && strncmp(s, "GET", 3) == 0))
		return -405;
	memcpy(req->path, s + m + 1, t);
	req->path[t] = '\0';
	req->path[strcspn(req->path, "?")] = '\0';
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
	size_t nhost = 0;
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
#define IS(name) ((size_t)(colon - line) == sizeof(name) - 1 && \
    strncasecmp(line, name, sizeof(name) - 1) == 0)
		if (IS("host"))
			nhost++;
		else if (IS("transfer-encoding"))
			return -400;	/* no bodies here, and no smuggling */
		else if (IS("content-length")) {
			if (v == ve)
				return -400;
			for (const char *p = v; p < ve; p++)
				if (*p != '0')
					return -400;
		} else if (IS("connection"))
			close = close || list_has(v, (size_t)(ve - v), "close");
#undef IS
	}
	if (nhost > 1 || (req->minor == 1 && nhost == 0))
		return -400;
	req->keep_alive = req->minor == 1 && !close;
	return (int)pos;
}

/* --- the server ---------------------------------------------------------------------------- */

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

/* Queues an answer; keep: the connection stays open for the next request. */
static void
conn_answer(struct httpd_conn *c, int status, const char *ctype, struct evbuffer *body,
    bool head, bool keep)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t blen = body != NULL ? evbuffer_get_length(body) : 0;

	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n%sConnection: %s\r\n\r\n", status, httpd_reason(status),
	    ctype, blen, status == 405 ? "Allow: GET, HEAD\r\n" : "", keep ? "keep-alive" :
	    "close");
	if (body != NULL && !head)
		evbuffer_add_buffer(out, body);
	c->writing = true;
	c->closing = !keep;
	ev_timer_stop(c->deadline);
	bufferevent_disable(c->bev, EV_READ);
}

static void
conn_error(struct httpd_conn *c, int status)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL) {
		conn_free(c);
		return;
	}
	evbuffer_add_printf(b, "%d %s\n", status, httpd_reason(status));
	conn_answer(c, status, "text/plain; charset=utf-8", b, false, false);
	evbuffer_free(b);
}

/* Answers the request at the head of the input, if it is all there. */
static void
conn_process(struct httpd_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t n = evbuffer_get_length(in);
	struct httpd_request req;
	struct httpd_response resp;
	const char *data;
	int r;

	if (c->writing || c->closing)
		return;
	if (n > HTTPD_MAX_HEAD)
		n = HTTPD_MAX_HEAD;
	if (n == 0) {
		if (c->eof)
			conn_free(c);
		return;
	}
	data = (const char *)evbuffer_pullup(in, (ssize_t)n);
	if ((r = httpd_parse(data, n, &req)) == 0) {
		if (c->eof)
			conn_error(c, 400);	/* the client stopped in the middle of a head */
		return;
	}
	if (r < 0) {
		log_debug("httpd: answering %d to a request", -r);
		conn_error(c, -r);
		return;
	}
	evbuffer_drain(in, (size_t)r);
	c->nrequests++;
	memset(&resp, 0, sizeof(resp));
	resp.status = 200;
	resp.content_type = "text/plain; charset=utf-8";
	if ((resp.body = evbuffer_new()) == NULL) {
		conn_free(c);
		return;
	}
	c->h->handler(&req, &resp, c->h->arg);
	conn_answer(c, resp.status, resp.content_type, resp.body, req.head, req.keep_alive &&
	    !c->eof && c->nrequests < HTTPD_MAX_REQUESTS);
	evbuffer_free(resp.body);
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

	if (!c->writing)
		return;
	c->writing = false;
	if (c->closing) {
		conn_free(c);
		return;
	}
	ev_timer_start(c->deadline, HTTPD_HEAD_MS, false);
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

/* The head did not come in time (or the connection idled): close it. */
static void
conn_deadline(void *arg)
{
	struct httpd_conn *c = arg;

	log_debug("httpd: no complete request within %d ms: closing", HTTPD_HEAD_MS);
	conn_free(c);
}

static void
httpd_accept(int fd, const struct sockaddr *sa, socklen_t salen, void *arg)
{
	struct httpd *h = arg;
	struct timeval wt = { HTTPD_WRITE_MS / 1000, (HTTPD_WRITE_MS % 1000) * 1000 };
	struct httpd_conn *c;

	if (h->nconns >= HTTPD_MAX_CONNS) {
		log_debug("httpd: %d connections already: closing a new one", HTTPD_MAX_CONNS);
		close(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->h = h;
	if ((c->bev = bufferevent_socket_new(h->base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		close(fd);
		free(c);
		return;
	}
	c->deadline = ev_timer_new(h->base, conn_deadline, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, HTTPD_MAX_HEAD);
	bufferevent_setcb(c->bev, conn_read, conn_written, conn_event, c);
	bufferevent_set_timeouts(c->bev, NULL, &wt);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	ev_timer_start(c->deadline, HTTPD_HEAD_MS, false);
	c->next = h->conns;
	if (c->next != NULL)
		c->next->prev = c;
	h->conns = c;
	h->nconns++;
}

struct httpd *
httpd_new(struct event_base *base, const struct sockaddr *sa, socklen_t salen,
    httpd_handler handler, void *arg)
{
	struct httpd *h = xcalloc(1, sizeof(*h));

	h->base = base;
	h->handler = handler;
	h->arg = arg;
	if ((h->l = ev_listener_new(base, sa, salen, 16, httpd_accept, h)) == NULL) {
		free(h);
		return NULL;
	}
	return h;
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
