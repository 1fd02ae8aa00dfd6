/* check_httpd: the request parser (valid heads, every prefix, each refusal), addresses, and the
 * server on an event base: answers, keep-alive, errors, limits. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/ev.h"
#include "common/httpd.h"
#include "common/util.h"
#include "suites.h"

static int
parse(const char *s, struct httpd_request *req)
{
	return httpd_parse(s, strlen(s), req);
}

START_TEST(test_parse_valid)
{
	static const char get[] = "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n";
	struct httpd_request req;

	ck_assert_int_eq(parse(get, &req), (int)strlen(get));
	ck_assert_str_eq(req.path, "/metrics");
	ck_assert(!req.head);
	ck_assert_int_eq(req.minor, 1);
	ck_assert(req.keep_alive);
	/* Every prefix asks for more. */
	for (size_t n = 0; n < strlen(get); n++)
		ck_assert_int_eq(httpd_parse(get, n, &req), 0);
	/* Trailing bytes (a pipelined request) are not part of the head. */
	ck_assert_int_eq(httpd_parse("HEAD /ready HTTP/1.1\r\nhost:x\r\n\r\nGET", 35, &req), 32);
	ck_assert(req.head);
	ck_assert_int_gt(parse("GET / HTTP/1.0\r\n\r\n", &req), 0);
	ck_assert(!req.keep_alive);
	ck_assert_int_gt(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\n",
	    &req), 0);
	ck_assert(!req.keep_alive);
	ck_assert_int_gt(parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nX: \t\r\n\r\n",
	    &req), 0);
	/* POST: the body's length, the query, the fields. */
	ck_assert_int_gt(parse("POST /login?next=%2F HTTP/1.1\r\nHost: a\r\nContent-Length: 16384"
	    "\r\nCookie: a=b\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n", &req), 0);
	ck_assert(req.post && req.has_length);
	ck_assert_uint_eq(req.content_length, 16384);
	ck_assert_str_eq(req.path, "/login");
	ck_assert_str_eq(req.query, "next=%2F");
	{
		size_t n;
		const char *v = httpd_header(&req, "content-TYPE", &n);

		ck_assert_ptr_nonnull(v);
		ck_assert_uint_eq(n, 33);
		ck_assert(strncmp(v, "application/x-www-form-urlencoded", n) == 0);
		ck_assert_ptr_null(httpd_header(&req, "authorization", &n));
	}
	ck_assert_int_gt(parse("POST / HTTP/1.1\r\nHost: a\r\n\r\n", &req), 0);
	ck_assert(req.post && !req.has_length);
	ck_assert_int_gt(parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n"
	    "Content-Length: 2\r\n\r\n", &req), 0);
	ck_assert(req.expect_continue);
}
END_TEST

START_TEST(test_parse_refused)
{
	static const struct { const char *s; int r; } v[] = {
		{ "GET / HTTP/1.1\nHost: a\n\n", -400 },		/* bare LF */
		{ "GET / HTTP/1.1\r\nHost: a\n\r\n", -400 },
		{ "GET /\r HTTP/1.1\r\n", -400 },
		{ "GET / HTTP/1.1\r\n\r\n", -400 },			/* no Host */
		{ "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost : a\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\n: a\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", -400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", -400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
		    -400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
		    -400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n", -400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n", -400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 16385\r\n\r\n", -413 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999\r\n\r\n", -400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nExpect: x\r\n\r\n", -417 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nCookie: a=b\r\nCookie: c=d\r\n\r\n", -400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nAuthorization: x\r\nauthorization: y\r\n\r\n",
		    -400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Type: x\r\nContent-type: y\r\n\r\n", -400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n folded\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", -400 },
		{ "GET metrics HTTP/1.1\r\n", -400 },
		{ "GET /a#b HTTP/1.1\r\n", -400 },
		{ "GET  / HTTP/1.1\r\n", -400 },
		{ "GET / HTTP/1.1 \r\n", -400 },
		{ "GET / http/1.1\r\n", -400 },
		{ "G(T / HTTP/1.1\r\n", -400 },
		{ "\r\n", -400 },
		{ "GET / HTTP/2.0\r\nHost: a\r\n\r\n", -505 },
		{ "GET / HTTP/1.2\r\n", -505 },
		{ "DELETE / HTTP/1.1\r\n", -405 },
		{ "get / HTTP/1.1\r\n", -405 },
	};
	struct httpd_request req;

	for (size_t i = 0; i < nitems(v); i++)
		ck_assert_msg(parse(v[i].s, &req) == v[i].r, "\"%s\": %d, not %d", v[i].s,
		    parse(v[i].s, &req), v[i].r);
}
END_TEST

START_TEST(test_parse_limits)
{
	struct httpd_request req;
	char *buf = xmalloc(3 * HTTPD_MAX_HEAD);
	size_t n;

	/* A target one byte too long is 414, as soon as it is seen. */
	n = (size_t)snprintf(buf, 64, "GET /");
	memset(buf + n, 'a', HTTPD_MAX_TARGET);
	buf[n + HTTPD_MAX_TARGET] = '\0';
	ck_assert_int_eq(parse(buf, &req), -414);
	buf[n + HTTPD_MAX_TARGET - 1] = '\0';
	ck_assert_int_eq(parse(buf, &req), 0);
	/* 64 headers pass, 65 do not. */
	n = (size_t)snprintf(buf, 64, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 1; i < HTTPD_MAX_HEADERS; i++)
		n += (size_t)snprintf(buf + n, 64, "X-%d: y\r\n", i);
	memcpy(buf + n, "\r\n", 3);
	ck_assert_int_eq(parse(buf, &req), (int)n + 2);
	memcpy(buf + n, "Z: z\r\n\r\n", 9);
	ck_assert_int_eq(parse(buf, &req), -431);
	/* A head over 8 KiB is 431, complete or not. */
	n = (size_t)snprintf(buf, 64, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
	memset(buf + n, 'v', HTTPD_MAX_HEAD);
	ck_assert_int_eq(httpd_parse(buf, n + HTTPD_MAX_HEAD, &req), -431);
	memcpy(buf + HTTPD_MAX_HEAD + n, "\r\n\r\n", 4);
	ck_assert_int_eq(httpd_parse(buf, n + HTTPD_MAX_HEAD + 4, &req), -431);
	free(buf);
}
END_TEST

START_TEST(test_form)
{
	static const struct { const char *s; bool ok; } v[] = {
		{ "", true },
		{ "a=1", true },
		{ "a=", true },
		{ "a=1&b=%41%2f+x", true },
		{ "a", false },			/* no '=' */
		{ "=1", false },		/* no name */
		{ "a=1&", false },		/* empty pair */
		{ "&a=1", false },
		{ "a=1&&b=2", false },
		{ "a=1&a=2", false },		/* duplicate */
		{ "a=%4", false },		/* short escape */
		{ "a=%", false },
		{ "a=%G0", false },
		{ "a=%00", false },		/* NUL */
		{ "a=b c", false },		/* raw space */
		{ "a=\xc3\xa9", false },		/* raw non-ASCII */
		{ "a=\x01", false },
		{ "%61=1&a=2", false },		/* duplicate once decoded */
	};
	struct httpd_form *f = xmalloc(sizeof(*f));
	char err[256], big[64 * 8];
	size_t n = 0;

	for (size_t i = 0; i < nitems(v); i++)
		ck_assert_msg((httpd_form_parse(v[i].s, strlen(v[i].s), f, err, sizeof(err)) == 0) ==
		    v[i].ok, "\"%s\"", v[i].s);
	ck_assert_int_eq(httpd_form_parse("a=1&b=%41%2f+x&c=%C3%A9", 23, f, err, sizeof(err)), 0);
	ck_assert_uint_eq(f->n, 3);
	ck_assert_str_eq(httpd_form_get(f, "a"), "1");
	ck_assert_str_eq(httpd_form_get(f, "b"), "A/ x");
	ck_assert_str_eq(httpd_form_get(f, "c"), "\xc3\xa9");
	ck_assert_ptr_null(httpd_form_get(f, "d"));
	ck_assert_ptr_null(httpd_form_get(f, "A"));
	ck_assert_int_eq(httpd_form_parse("a=1&b=%4", 8, f, err, sizeof(err)), -1);
	ck_assert(strstr(err, "hex") != NULL);
	/* HTTPD_FORM_MAX fields pass, one more does not. */
	for (int i = 0; i < HTTPD_FORM_MAX; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "%sf%d=%d", i > 0 ? "&" : "", i, i);
	ck_assert_int_eq(httpd_form_parse(big, n, f, err, sizeof(err)), 0);
	ck_assert_uint_eq(f->n, HTTPD_FORM_MAX);
	n += (size_t)snprintf(big + n, sizeof(big) - n, "&x=1");
	ck_assert_int_eq(httpd_form_parse(big, n, f, err, sizeof(err)), -1);
	/* The largest body decodes in place. */
	{
		char *b = xmalloc(HTTPD_MAX_BODY + 1);

		memset(b, 'v', HTTPD_MAX_BODY);
		b[0] = 'a';
		b[1] = '=';
		ck_assert_int_eq(httpd_form_parse(b, HTTPD_MAX_BODY, f, err, sizeof(err)), 0);
		ck_assert_uint_eq(strlen(httpd_form_get(f, "a")), HTTPD_MAX_BODY - 2);
		ck_assert_int_eq(httpd_form_parse(b, HTTPD_MAX_BODY + 1, f, err, sizeof(err)), -1);
		free(b);
	}
	free(f);
}
END_TEST

START_TEST(test_cookie)
{
	char out[64];
	const char *h;

	h = "a=1; __Host-zt_session=abc_-; b=\"q\"";
	ck_assert_int_eq(httpd_cookie(h, strlen(h), "__Host-zt_session", out, sizeof(out)), 1);
	ck_assert_str_eq(out, "abc_-");
	ck_assert_int_eq(httpd_cookie(h, strlen(h), "b", out, sizeof(out)), 1);
	ck_assert_str_eq(out, "q");
	ck_assert_int_eq(httpd_cookie(h, strlen(h), "c", out, sizeof(out)), 0);
	ck_assert_int_eq(httpd_cookie(h, strlen(h), "a", out, 1), -1);	/* does not fit */
	h = "a=1; a=2";
	ck_assert_int_eq(httpd_cookie(h, strlen(h), "a", out, sizeof(out)), -1);	/* twice */
	h = "a=1;b=2";
	ck_assert_int_eq(httpd_cookie(h, strlen(h), "b", out, sizeof(out)), -1);
	h = "a=1; ";
	ck_assert_int_eq(httpd_cookie(h, strlen(h), "a", out, sizeof(out)), -1);
	h = "a=x y";
	ck_assert_int_eq(httpd_cookie(h, strlen(h), "a", out, sizeof(out)), -1);
	h = "a=x,y";
	ck_assert_int_eq(httpd_cookie(h, strlen(h), "a", out, sizeof(out)), -1);
	h = "=1";
	ck_assert_int_eq(httpd_cookie(h, strlen(h), "a", out, sizeof(out)), -1);
	h = "a=";
	ck_assert_int_eq(httpd_cookie(h, strlen(h), "a", out, sizeof(out)), 1);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(httpd_cookie("", 0, "a", out, sizeof(out)), 0);
}
END_TEST

START_TEST(test_parse_addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char err[256], s[80];

	ck_assert_int_eq(httpd_parse_addr("9090", &ss, &len, err, sizeof(err)), 0);
	ck_assert_str_eq(util_sockaddr_str((struct sockaddr *)&ss, s, sizeof(s)),
	    "127.0.0.1:9090");
	ck_assert_int_eq(httpd_parse_addr("0.0.0.0:1", &ss, &len, err, sizeof(err)), 0);
	ck_assert_int_eq(httpd_parse_addr("[::1]:9", &ss, &len, err, sizeof(err)), 0);
	ck_assert_str_eq(util_sockaddr_str((struct sockaddr *)&ss, s, sizeof(s)), "[::1]:9");
	ck_assert_int_eq(httpd_parse_addr("0", &ss, &len, err, sizeof(err)), -1);
	ck_assert_int_eq(httpd_parse_addr("70000", &ss, &len, err, sizeof(err)), -1);
	ck_assert_int_eq(httpd_parse_addr("localhost:9090", &ss, &len, err, sizeof(err)), -1);
	ck_assert(strstr(err, "numeric") != NULL);
	ck_assert_int_eq(httpd_parse_addr("127.0.0.1", &ss, &len, err, sizeof(err)), -1);
	ck_assert_int_eq(httpd_parse_addr("", &ss, &len, err, sizeof(err)), -1);
}
END_TEST

/* --- the server ------------------------------------------------------------------------- */

struct srv {
	struct event_base *base;
	struct httpd	*h;
	struct sockaddr_storage ss;
	socklen_t	 len;
	int		 calls;
};

static void
handler(const struct httpd_request *req, struct httpd_response *resp, void *arg)
{
	struct srv *s = arg;

	s->calls++;
	if (strcmp(req->path, "/hello") == 0)
		evbuffer_add_printf(resp->body, "hello\n");
	else {
		resp->status = 404;
		evbuffer_add_printf(resp->body, "no\n");
	}
}

static void
srv_start(struct srv *s)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_storage ss;
	int fd;

	memset(s, 0, sizeof(*s));
	s->base = event_base_new();
	/* A free port: bind 0, read it, close, listen there. */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	s->len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&s->ss, &s->len);
	close(fd);
	s->h = httpd_new(s->base, (struct sockaddr *)&s->ss, s->len, handler, s);
	ck_assert_ptr_nonnull(s->h);
}

static void
srv_stop(struct srv *s)
{
	httpd_free(s->h);
	event_base_free(s->base);
}

static int
client(struct srv *s)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	ck_assert_int_ne(fd, -1);
	ck_assert(connect(fd, (struct sockaddr *)&s->ss, s->len) == 0 || errno == EINPROGRESS);
	return fd;
}

/* Runs the loop until fd has closed or ms passed; what it received goes into out. */
static size_t
exchange(struct srv *s, int fd, const char *send_, char *out, size_t outlen, int ms)
{
	struct timespec t0, t;
	size_t got = 0;

	for (int i = 0; i < 20; i++)
		event_base_loop(s->base, EVLOOP_NONBLOCK);
	if (send_ != NULL)
		ck_assert_int_eq(send(fd, send_, strlen(send_), MSG_NOSIGNAL), (ssize_t)strlen(send_));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		ssize_t n;

		event_base_loop(s->base, EVLOOP_NONBLOCK | EVLOOP_ONCE);
		n = recv(fd, out + got, outlen - 1 - got, 0);
		if (n == 0 || (n < 0 && errno != EAGAIN))
			break;
		if (n > 0)
			got += (size_t)n;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > ms)
			break;
		usleep(1000);
	}
	out[got] = '\0';
	return got;
}

START_TEST(test_server)
{
	struct srv s;
	char out[4096];
	int fd;

	srv_start(&s);
	/* Keep-alive: two requests on one connection, the second pipelined with a third. */
	fd = client(&s);
	exchange(&s, fd, "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n", out, sizeof(out), 300);
	ck_assert(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0);
	ck_assert(strstr(out, "Content-Length: 6\r\n") != NULL);
	ck_assert(strstr(out, "\r\n\r\nhello\n") != NULL);
	ck_assert(strstr(out, "Connection: keep-alive") != NULL);
	exchange(&s, fd, "HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n"
	    "Connection: close\r\n\r\n", out, sizeof(out), 2000);
	ck_assert(strstr(out, "Connection: keep-alive\r\n\r\nHTTP/1.1 404 Not Found") != NULL);
	ck_assert(strstr(out, "hello") == NULL);	/* HEAD: no body */
	ck_assert(strstr(out, "\r\n\r\nno\n") != NULL);
	ck_assert_int_eq(s.calls, 3);
	close(fd);
	/* Errors are answered, then the connection closes; the handler never sees them. */
	fd = client(&s);
	exchange(&s, fd, "POST / HTTP/1.1\r\nHost: a\r\n\r\n", out, sizeof(out), 2000);
	ck_assert(strncmp(out, "HTTP/1.1 405 ", 13) == 0);
	ck_assert(strstr(out, "Allow: GET, HEAD\r\n") != NULL);
	close(fd);
	fd = client(&s);
	exchange(&s, fd, "GARBAGE\r\n\r\n", out, sizeof(out), 2000);
	ck_assert(strncmp(out, "HTTP/1.1 400 ", 13) == 0);
	close(fd);
	ck_assert_int_eq(s.calls, 3);
	/* A head that never ends: 431 once 8 KiB are in. */
	{
		char *big = xmalloc(HTTPD_MAX_HEAD + 64);
		int n = snprintf(big, 64, "GET / HTTP/1.1\r\nX: ");

		memset(big + n, 'v', HTTPD_MAX_HEAD);
		big[n + HTTPD_MAX_HEAD] = '\0';
		fd = client(&s);
		exchange(&s, fd, big, out, sizeof(out), 2000);
		ck_assert(strncmp(out, "HTTP/1.1 431 ", 13) == 0);
		close(fd);
		free(big);
	}
	/* Still serving. */
	fd = client(&s);
	exchange(&s, fd, "GET /hello HTTP/1.0\r\n\r\n", out, sizeof(out), 2000);
	ck_assert(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0);
	ck_assert(strstr(out, "Connection: close") != NULL);
	close(fd);
	srv_stop(&s);
}
END_TEST

START_TEST(test_server_limits)
{
	struct srv s;
	char out[256];
	int fds[HTTPD_MAX_CONNS + 1], fd;

	srv_start(&s);
	/* The connection over the limit is closed at once, the others stay. */
	for (int i = 0; i <= HTTPD_MAX_CONNS; i++)
		fds[i] = client(&s);
	ck_assert_uint_eq(exchange(&s, fds[HTTPD_MAX_CONNS], NULL, out, sizeof(out), 1000), 0);
	ck_assert_int_eq(recv(fds[0], out, 1, 0), -1);
	ck_assert_int_eq(errno, EAGAIN);
	for (int i = 0; i <= HTTPD_MAX_CONNS; i++)
		close(fds[i]);
	/* A slow client (part of a head) is closed after HTTPD_HEAD_MS, with no answer. */
	fd = client(&s);
	ck_assert_uint_eq(exchange(&s, fd, "GET / HTTP/1.1\r\nHo", out, sizeof(out),
	    HTTPD_HEAD_MS + 2000), 0);
	close(fd);
	srv_stop(&s);
}
END_TEST

static uint64_t deferred_id;

static void
post_handler(const struct httpd_request *req, struct httpd_response *resp, void *arg)
{
	struct srv *s = arg;

	s->calls++;
	if (strcmp(req->path, "/later") == 0) {
		deferred_id = httpd_defer(resp);
		return;
	}
	httpd_add_header(resp, "Set-Cookie", "a=b; Path=/");
	ck_assert(!httpd_add_header(resp, "X", "bad\r\nInjected: 1"));
	ck_assert(!httpd_add_header(resp, "X Y", "v"));
	resp->cache_control = "public, max-age=300";
	evbuffer_add_printf(resp->body, "%s %s [%.*s] from %d\n", req->post ? "POST" : "GET",
	    req->query, (int)req->content_length, req->body, req->peer != NULL ?
	    req->peer->sa_family : -1);
}

/* A server without a listener, fed a socketpair through httpd_serve; returns the client end. */
static int
serve_pair(struct srv *s, int head_ms)
{
	struct httpd_opts o = { .max_conns = 2, .head_ms = head_ms, .post = true };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct bufferevent *bev;
	int sv[2];

	if (s->h == NULL)
		s->h = httpd_new_server(s->base, &o, post_handler, s);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	bev = bufferevent_socket_new(s->base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	ck_assert_int_eq(httpd_serve(s->h, bev, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return sv[1];
}

START_TEST(test_server_post)
{
	struct srv s;
	struct httpd_response r;
	char out[4096];
	int fd;

	memset(&s, 0, sizeof(s));
	s.base = event_base_new();
	fd = serve_pair(&s, 1000);
	exchange(&s, fd, "POST /x?q=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab", out,
	    sizeof(out), 100);
	ck_assert_str_eq(out, "");	/* the body is not all there */
	exchange(&s, fd, "cdeGET /y HTTP/1.1\r\nHost: a\r\n\r\n", out, sizeof(out), 300);
	ck_assert(strstr(out, "\r\n\r\nPOST q=1 [abcde] from 2\n") != NULL);
	ck_assert(strstr(out, "\r\nSet-Cookie: a=b; Path=/\r\n") != NULL);
	ck_assert(strstr(out, "\r\nCache-Control: public, max-age=300\r\n") != NULL);
	ck_assert(strstr(out, "Injected") == NULL);
	ck_assert(strstr(out, "\r\n\r\nGET  [] from 2\n") != NULL);	/* pipelined */
	/* A deferred answer comes when the caller completes it. */
	exchange(&s, fd, "POST /later HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", out,
	    sizeof(out), 100);
	ck_assert_str_eq(out, "");
	memset(&r, 0, sizeof(r));
	r.status = 429;
	r.body = evbuffer_new();
	r.headers = evbuffer_new();
	evbuffer_add_printf(r.body, "later\n");
	httpd_add_header(&r, "Retry-After", "%d", 3);
	ck_assert(httpd_complete(s.h, deferred_id, &r));
	ck_assert(!httpd_complete(s.h, deferred_id, &r));	/* once */
	exchange(&s, fd, NULL, out, sizeof(out), 100);
	ck_assert(strstr(out, "HTTP/1.1 429 Too Many Requests\r\n") == out);
	ck_assert(strstr(out, "Retry-After: 3\r\n") != NULL);
	ck_assert(strstr(out, "\r\n\r\nlater\n") != NULL);
	close(fd);
	/* Refusals: no length, chunked, too large, and a body that never comes (closed after
	 * the timeout, no answer). */
	fd = serve_pair(&s, 1000);
	exchange(&s, fd, "POST / HTTP/1.1\r\nHost: a\r\n\r\n", out, sizeof(out), 1000);
	ck_assert(strncmp(out, "HTTP/1.1 411 ", 13) == 0);
	close(fd);
	fd = serve_pair(&s, 1000);
	exchange(&s, fd, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
	    "\r\n", out, sizeof(out), 1000);
	ck_assert(strncmp(out, "HTTP/1.1 400 ", 13) == 0);
	close(fd);
	fd = serve_pair(&s, 1000);
	exchange(&s, fd, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 20000\r\n\r\n", out,
	    sizeof(out), 1000);
	ck_assert(strncmp(out, "HTTP/1.1 413 ", 13) == 0);
	close(fd);
	fd = serve_pair(&s, 300);
	ck_assert_uint_eq(exchange(&s, fd, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n"
	    "\r\nab", out, sizeof(out), 2000), 0);
	close(fd);
	for (int i = 0; i < 20; i++)
		event_base_loop(s.base, EVLOOP_NONBLOCK);
	ck_assert_uint_eq(httpd_conns(s.h), 0);
	evbuffer_free(r.body);
	evbuffer_free(r.headers);
	srv_stop(&s);
}
END_TEST

Suite *
httpd_suite(void)
{
	Suite *s = suite_create("httpd");
	TCase *tp = tcase_create("parser");
	TCase *ts = tcase_create("server");

	tcase_add_test(tp, test_parse_valid);
	tcase_add_test(tp, test_parse_refused);
	tcase_add_test(tp, test_parse_limits);
	tcase_add_test(tp, test_parse_addr);
	tcase_add_test(tp, test_form);
	tcase_add_test(tp, test_cookie);
	tcase_add_test(ts, test_server);
	tcase_add_test(ts, test_server_limits);
	tcase_add_test(ts, test_server_post);
	tcase_set_timeout(ts, 30);
	suite_add_tcase(s, tp);
	suite_add_tcase(s, ts);
	return s;
}
