/* check_httpc: URLs, form encoding, the strict response parser (valid answers, every prefix,
 * each refusal), and whole requests against a TLS server in a child process: the request
 * sent, CA and pin verification, names, deadlines, bounds. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
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
#include "common/httpc.h"
#include "common/log.h"
#include "common/tls.h"
#include "common/util.h"
#include "suites.h"

#define HOST	"edge.zt.test"

static const char *const server_names[] = { HOST, "127.0.0.1", "::1" };

/* --- URLs and forms ------------------------------------------------------------------------ */

START_TEST(test_url)
{
	struct httpc_url u;
	char err[HTTPC_ERR_MAX];

	ck_assert_int_eq(httpc_url_parse("https://Edge.Example.com", &u, err, sizeof(err)), 0);
	ck_assert_str_eq(u.host, "edge.example.com");
	ck_assert_int_eq(u.port, 443);
	ck_assert_str_eq(u.key, "edge.example.com:443");
	ck_assert_str_eq(u.base, "https://edge.example.com");
	ck_assert_int_eq(httpc_url_parse("https://127.0.0.1:7844/", &u, err, sizeof(err)), 0);
	ck_assert_str_eq(u.key, "127.0.0.1:7844");
	ck_assert_str_eq(u.base, "https://127.0.0.1:7844");
	ck_assert_int_eq(httpc_url_parse("https://[::1]:8443", &u, err, sizeof(err)), 0);
	ck_assert_str_eq(u.host, "::1");
	ck_assert_str_eq(u.key, "[::1]:8443");
	ck_assert_str_eq(u.base, "https://[::1]:8443");
	ck_assert_int_eq(httpc_url_parse("HTTPS://[2001:db8::1]", &u, err, sizeof(err)), 0);
	ck_assert_str_eq(u.base, "https://[2001:db8::1]");

	static const char *const bad[] = {
		"http://edge.example.com", "edge.example.com", "https://", "https://:443",
		"https://edge/login", "https://a@edge", "https://edge?x", "https://edge#f",
		"https://edge:0", "https://edge:65536", "https://edge:", "https://edge:1x",
		"https://[::1", "https://[nothex]:1", "https://[::1]x", "https://ed_ge",
		"https://edge:+1", "https://ed ge", "https://::1",
	};
	for (size_t i = 0; i < nitems(bad); i++) {
		err[0] = '\0';
		ck_assert_msg(httpc_url_parse(bad[i], &u, err, sizeof(err)) == -1, "%s", bad[i]);
		ck_assert_msg(err[0] != '\0', "no reason for %s", bad[i]);
	}
	ck_assert(httpc_hostport_key("fe80::1", 1, err, sizeof(err)));
	ck_assert_str_eq(err, "[fe80::1]:1");
}
END_TEST

START_TEST(test_form)
{
	char buf[128] = "", small[12] = "";

	ck_assert(httpc_form_add(buf, sizeof(buf), "client_id", "zt"));
	ck_assert(httpc_form_add(buf, sizeof(buf), "grant_type",
	    "urn:ietf:params:oauth:grant-type:device_code"));
	ck_assert(httpc_form_add(buf, sizeof(buf), "x y", "a+b&c=d/é~._-"));
	ck_assert_str_eq(buf, "client_id=zt&grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type"
	    "%3Adevice_code&x%20y=a%2Bb%26c%3Dd%2F%C3%A9~._-");
	/* What does not fit leaves the buffer as it was. */
	ck_assert(httpc_form_add(small, sizeof(small), "a", "bcdefgh"));
	ck_assert_str_eq(small, "a=bcdefgh");
	ck_assert(!httpc_form_add(small, sizeof(small), "c", "d"));
	ck_assert_str_eq(small, "a=bcdefgh");
	small[0] = '\0';
	ck_assert(!httpc_form_add(small, sizeof(small), "a", "bcdefghijk"));
	ck_assert_str_eq(small, "");
	ck_assert(!httpc_form_add(small, sizeof(small), "a", "bcdefgh/"));
	ck_assert_str_eq(small, "");
}
END_TEST

/* --- the parser ------------------------------------------------------------------------------ */

static int
parse(const char *s, bool eof, struct httpc_response *r)
{
	char err[HTTPC_ERR_MAX];

	return httpc_parse(s, strlen(s), eof, r, err, sizeof(err));
}

START_TEST(test_parse_valid)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
	    "Cache-Control: no-store\r\ncontent-length:  7 \r\n\r\n{\"a\":1}";
	struct httpc_response r;
	char err[HTTPC_ERR_MAX];

	ck_assert_int_eq(parse(ok, false, &r), 1);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.content_type, "application/json");
	ck_assert_uint_eq(r.body_len, 7);
	ck_assert(memcmp(ok + r.head_len, "{\"a\":1}", 7) == 0);
	/* Every prefix asks for more; with eof it is an error. */
	for (size_t n = 0; n < strlen(ok); n++) {
		ck_assert_int_eq(httpc_parse(ok, n, false, &r, err, sizeof(err)), 0);
		ck_assert_int_eq(httpc_parse(ok, n, true, &r, err, sizeof(err)), -1);
	}
	/* Close-delimited: complete at eof only. */
	ck_assert_int_eq(parse("HTTP/1.1 400 Bad Request\r\n\r\n{\"error\":\"x\"}", false, &r), 0);
	ck_assert_int_eq(parse("HTTP/1.1 400 Bad Request\r\n\r\n{\"error\":\"x\"}", true, &r), 1);
	ck_assert_int_eq(r.status, 400);
	ck_assert_uint_eq(r.body_len, 13);
	ck_assert_str_eq(r.content_type, "");
	ck_assert_int_eq(parse("HTTP/1.0 404\r\nContent-Length: 0\r\n\r\n", false, &r), 1);
	ck_assert_int_eq(r.status, 404);
	ck_assert_int_eq(parse("HTTP/1.1 204 \r\nX: \t\r\n\r\n", false, &r), 1);
	ck_assert_uint_eq(r.body_len, 0);
	ck_assert_int_eq(parse("HTTP/1.1 503 Busy \xc3\xa9\r\nRetry-After: 1\r\n"
	    "Content-Length: 2\r\n\r\nab", false, &r), 1);
	ck_assert_int_eq(r.status, 503);
}
END_TEST

START_TEST(test_parse_refused)
{
	static const char *const bad[] = {
		"HTTP/1.1 200 OK\nContent-Length: 0\n\n\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n",
		"HTTP/2 200 OK\r\n\r\n",
		"http/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 099 OK\r\n\r\n",
		"HTTP/1.1 600 OK\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 200 O\x01K\r\n\r\n",
		"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA: b\r\n\tc\r\n\r\n",
		"HTTP/1.1 200 OK\r\nNo colon\r\n\r\n",
		"HTTP/1.1 200 OK\r\nName : x\r\n\r\n",
		"HTTP/1.1 200 OK\r\n: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA: b\x7f\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1 1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 65537\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab",
		"HTTP/1.1 204 No Content\r\n\r\nx",
	};
	struct httpc_response r;
	char err[HTTPC_ERR_MAX];

	for (size_t i = 0; i < nitems(bad); i++) {
		err[0] = '\0';
		ck_assert_msg(httpc_parse(bad[i], strlen(bad[i]), true, &r, err, sizeof(err)) == -1,
		    "accepted: %s", bad[i]);
		ck_assert_msg(err[0] != '\0', "no reason for: %s", bad[i]);
	}
}
END_TEST

START_TEST(test_parse_limits)
{
	struct httpc_response r;
	char err[HTTPC_ERR_MAX];
	size_t cap = HTTPC_MAX_HEAD + HTTPC_MAX_BODY + 64, n;
	char *buf = xmalloc(cap);

	/* 64 fields pass, 65 do not. */
	for (int fields = 64; fields <= 65; fields++) {
		n = (size_t)snprintf(buf, cap, "HTTP/1.1 200 OK\r\n");
		for (int i = 0; i < fields; i++)
			n += (size_t)snprintf(buf + n, cap - n, "X-%d: v\r\n", i);
		n += (size_t)snprintf(buf + n, cap - n, "\r\n");
		ck_assert_int_eq(httpc_parse(buf, n, true, &r, err, sizeof(err)),
		    fields == 64 ? 1 : -1);
	}
	/* A head of 8 KiB without its end is refused, even before eof. */
	memset(buf, 'a', HTTPC_MAX_HEAD);
	memcpy(buf, "HTTP/1.1 200 OK\r\nX: ", 20);
	ck_assert_int_eq(httpc_parse(buf, HTTPC_MAX_HEAD, false, &r, err, sizeof(err)), -1);
	ck_assert_int_eq(httpc_parse(buf, HTTPC_MAX_HEAD - 1, false, &r, err, sizeof(err)), 0);
	/* A close-delimited body of 64 KiB passes, one byte more does not. */
	n = (size_t)snprintf(buf, cap, "HTTP/1.1 200 OK\r\n\r\n");
	memset(buf + n, 'b', HTTPC_MAX_BODY + 1);
	ck_assert_int_eq(httpc_parse(buf, n + HTTPC_MAX_BODY, true, &r, err, sizeof(err)), 1);
	ck_assert_uint_eq(r.body_len, HTTPC_MAX_BODY);
	ck_assert_int_eq(httpc_parse(buf, n + HTTPC_MAX_BODY + 1, false, &r, err, sizeof(err)),
	    -1);
	free(buf);
}
END_TEST

/* --- whole requests against a TLS server in a child ------------------------------------------ */

static char dir[PATH_MAX];
static char ca_crt[PATH_MAX], ca_key[PATH_MAX], srv_crt[PATH_MAX], srv_key[PATH_MAX];
static char req_file[PATH_MAX];

static void
rm_dir(void)
{
	const char *names[] = { "ca.crt", "ca.key", "srv.crt", "srv.key", "request", "other.crt",
		"other.key" };
	char p[PATH_MAX];

	for (size_t i = 0; i < nitems(names); i++)
		if (util_snprintf(p, sizeof(p), "%s/%s", dir, names[i]))
			unlink(p);
	rmdir(dir);
}

static void
net_setup(void)
{
	ck_assert(util_strlcpy(dir, "/tmp/zt-check-httpc-XXXXXX", sizeof(dir)));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert(util_snprintf(ca_crt, sizeof(ca_crt), "%s/ca.crt", dir));
	ck_assert(util_snprintf(ca_key, sizeof(ca_key), "%s/ca.key", dir));
	ck_assert(util_snprintf(srv_crt, sizeof(srv_crt), "%s/srv.crt", dir));
	ck_assert(util_snprintf(srv_key, sizeof(srv_key), "%s/srv.key", dir));
	ck_assert(util_snprintf(req_file, sizeof(req_file), "%s/request", dir));
	ck_assert_int_eq(tls_ca_generate(ca_crt, ca_key, "zt httpc test CA", 2), 0);
	ck_assert_int_eq(tls_leaf_generate(ca_crt, ca_key, server_names, nitems(server_names),
	    true, 2, srv_crt, srv_key), 0);
}

static void
net_teardown(void)
{
	rm_dir();
}

struct server {
	struct event_base *base;
	const char	*answer;
	size_t		 answer_len;
	bool		 hang;		/* read the request, never answer */
	bool		 answered;
};

static void
srv_written(struct bufferevent *bev, void *arg)
{
	struct server *s = arg;

	if (s->answered) {
		tls_bufferevent_shutdown(bev);
		event_base_loopbreak(s->base);
	}
}

static void
srv_read(struct bufferevent *bev, void *arg)
{
	struct server *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in);
	const char *data = (const char *)evbuffer_pullup(in, -1), *end, *cl;
	size_t head, body = 0;

	if (s->answered || (end = memmem(data, len, "\r\n\r\n", 4)) == NULL)
		return;
	head = (size_t)(end - data) + 4;
	if ((cl = memmem(data, head, "Content-Length: ", 16)) != NULL)
		body = strtoul(cl + 16, NULL, 10);
	if (len < head + body)
		return;
	util_write_file_atomic(req_file, data, len, 0600);
	if (s->hang)
		return;
	s->answered = true;
	bufferevent_write(bev, s->answer, s->answer_len);
}

static void
srv_event(struct bufferevent *bev, short what, void *arg)
{
	struct server *s = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		event_base_loopbreak(s->base);
}

/* Forks a server answering nconn connections on a new port of addr with answer; its pid. */
static pid_t
server_start(const char *addr, const char *answer, size_t answer_len, bool hang, int nconn,
    uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int lfd;
	pid_t pid;

	ck_assert_int_eq(util_sockaddr_from(addr, 0, &ss, &sl), 0);
	ck_assert_int_ne(lfd = socket(ss.ss_family, SOCK_STREAM, 0), -1);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&ss, sl), 0);
	ck_assert_int_eq(listen(lfd, 8), 0);
	sl = sizeof(ss);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&ss, &sl), 0);
	*port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		static const char *const alpn[] = { "http/1.1", NULL };
		struct tls_server_opts so = { .cert_file = srv_crt, .key_file = srv_key,
			.alpn = alpn };
		struct tls_ctx *ctx = tls_server_new(&so);

		alarm(20);
		if (ctx == NULL)
			_exit(3);
		for (int i = 0; i < nconn; i++) {
			struct server s = { .answer = answer, .answer_len = answer_len,
				.hang = hang };
			struct timeval tv = { hang ? 10 : 5, 0 };
			struct bufferevent *bev;
			int fd = accept(lfd, NULL, NULL);

			if (fd == -1)
				_exit(4);
			s.base = event_base_new();
			if ((bev = tls_bufferevent_new(s.base, ctx, fd, true, NULL)) == NULL)
				continue;
			bufferevent_setcb(bev, srv_read, srv_written, srv_event, &s);
			bufferevent_enable(bev, EV_READ | EV_WRITE);
			event_base_loopexit(s.base, &tv);
			event_base_dispatch(s.base);
			bufferevent_free(bev);
			event_base_free(s.base);
		}
		_exit(0);
	}
	close(lfd);
	return pid;
}

static void
server_stop(pid_t pid)
{
	int st;

	/* SIGKILL: the child inherited Check's SIGTERM handler, which signals the group. */
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

static char *
request_text(void)
{
	char *data;
	size_t len;

	ck_assert_int_eq(util_read_file(req_file, 65536, &data, &len), 0);
	return data;
}

START_TEST(test_request_post)
{
	static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
	    "Content-Length: 16\r\nConnection: close\r\n\r\n{\"token\":\"abc\"}\n";
	struct httpc_request req = { .host = "127.0.0.1", .server_name = HOST,
		.ca_file = ca_crt, .method = "POST", .path = "/token/app",
		.form = "app=db.example.com", .bearer = "eyJ.login.token", .timeout_ms = 5000 };
	struct httpc_response r;
	char err[HTTPC_ERR_MAX], *sent;
	pid_t pid = server_start("127.0.0.1", answer, strlen(answer), false, 1, &req.port);

	ck_assert_msg(httpc_do(NULL, &req, &r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.content_type, "application/json");
	ck_assert_str_eq(r.body, "{\"token\":\"abc\"}\n");
	httpc_response_free(&r);
	server_stop(pid);
	sent = request_text();
	{
		char expect[512];

		ck_assert(util_snprintf(expect, sizeof(expect), "POST /token/app HTTP/1.1\r\n"
		    "Host: " HOST ":%u\r\nUser-Agent: zt/" PACKAGE_VERSION "\r\nAccept: "
		    "application/json\r\nConnection: close\r\nAuthorization: Bearer eyJ.login.token"
		    "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 18\r\n"
		    "\r\napp=db.example.com", req.port));
		ck_assert_str_eq(sent, expect);
	}
	free(sent);
}
END_TEST

START_TEST(test_request_get_v6_pin_close)
{
	/* A close-delimited body, over IPv6, verified by pin alone. */
	static const char answer[] = "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json"
	    "\r\n\r\n{\"error\":\"authorization_pending\"}";
	char pin[TLS_PIN_MAX], err[HTTPC_ERR_MAX], *sent;
	struct httpc_request req = { .host = "::1", .pin = pin, .method = "GET", .path = "/x",
		.timeout_ms = 5000 };
	struct httpc_response r;
	int probe;
	pid_t pid;

	if ((probe = socket(AF_INET6, SOCK_STREAM, 0)) == -1)
		return;		/* no IPv6 on this machine */
	close(probe);
	ck_assert_int_eq(tls_spki_pin_file(ca_crt, pin, sizeof(pin)), 0);
	pid = server_start("::1", answer, strlen(answer), false, 1, &req.port);
	ck_assert_msg(httpc_do(NULL, &req, &r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq(r.body, "{\"error\":\"authorization_pending\"}");
	httpc_response_free(&r);
	server_stop(pid);
	sent = request_text();
	ck_assert_ptr_nonnull(strstr(sent, "GET /x HTTP/1.1\r\nHost: [::1]:"));
	ck_assert_ptr_null(strstr(sent, "Authorization"));
	ck_assert_ptr_null(strstr(sent, "Content-Length"));
	free(sent);
}
END_TEST

START_TEST(test_request_refusals)
{
	static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
	char other_crt[PATH_MAX], other_key[PATH_MAX], pin[TLS_PIN_MAX], err[HTTPC_ERR_MAX];
	struct httpc_request req = { .host = "127.0.0.1", .ca_file = ca_crt, .method = "GET",
		.path = "/", .timeout_ms = 5000 };
	struct httpc_response r;
	pid_t pid;

	/* Another CA, another pin, a name the certificate does not carry, the system store. */
	ck_assert(util_snprintf(other_crt, sizeof(other_crt), "%s/other.crt", dir));
	ck_assert(util_snprintf(other_key, sizeof(other_key), "%s/other.key", dir));
	ck_assert_int_eq(tls_ca_generate(other_crt, other_key, "other CA", 1), 0);
	ck_assert_int_eq(tls_spki_pin_file(other_crt, pin, sizeof(pin)), 0);
	pid = server_start("127.0.0.1", answer, strlen(answer), false, 5, &req.port);
	req.ca_file = other_crt;
	ck_assert_int_eq(httpc_do(NULL, &req, &r, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "certificate") != NULL, "%s", err);
	req.ca_file = NULL;
	req.pin = pin;
	ck_assert_int_eq(httpc_do(NULL, &req, &r, err, sizeof(err)), -1);
	req.pin = NULL;
	ck_assert_int_eq(httpc_do(NULL, &req, &r, err, sizeof(err)), -1);
	req.ca_file = ca_crt;
	req.server_name = "other.zt.test";
	ck_assert_int_eq(httpc_do(NULL, &req, &r, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "certificate") != NULL, "%s", err);
	/* The fifth connection: the right CA and name work. */
	req.server_name = HOST;
	ck_assert_msg(httpc_do(NULL, &req, &r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(r.body, "{}");
	httpc_response_free(&r);
	server_stop(pid);

	/* Nothing listens any more. */
	ck_assert_int_eq(httpc_do(NULL, &req, &r, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "refused") != NULL, "%s", err);
	/* Requests that cannot be written. */
	req.path = "/a b";
	ck_assert_int_eq(httpc_do(NULL, &req, &r, err, sizeof(err)), -1);
	req.path = "/";
	req.bearer = "a\r\nX-Injected: 1";
	ck_assert_int_eq(httpc_do(NULL, &req, &r, err, sizeof(err)), -1);
	req.bearer = NULL;
	req.method = "DELETE";
	ck_assert_int_eq(httpc_do(NULL, &req, &r, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_request_deadline_and_bounds)
{
	struct httpc_request req = { .host = "127.0.0.1", .ca_file = ca_crt, .method = "POST",
		.path = "/oauth/token", .form = "a=b", .timeout_ms = 700 };
	struct httpc_response r;
	struct timespec t0, t1;
	char err[HTTPC_ERR_MAX], *big;
	size_t n;
	double dt;
	pid_t pid;

	/* A server that never answers: the deadline holds. */
	pid = server_start("127.0.0.1", "", 0, true, 1, &req.port);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(httpc_do(NULL, &req, &r, err, sizeof(err)), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(dt >= 0.6 && dt < 2.0, "took %.2f s", dt);
	ck_assert_msg(strstr(err, "in time") != NULL, "%s", err);
	server_stop(pid);

	/* An answer over the bounds. */
	big = xmalloc(HTTPC_MAX_BODY + 256);
	n = (size_t)snprintf(big, 256, "HTTP/1.1 200 OK\r\n\r\n");
	memset(big + n, 'x', HTTPC_MAX_BODY + 100);
	req.timeout_ms = 5000;
	pid = server_start("127.0.0.1", big, n + HTTPC_MAX_BODY + 100, false, 1, &req.port);
	ck_assert_int_eq(httpc_do(NULL, &req, &r, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "over") != NULL, "%s", err);
	server_stop(pid);
	free(big);

	/* A stop flag already set gives up at once. */
	{
		bool stop = true;

		pid = server_start("127.0.0.1", "", 0, true, 1, &req.port);
		req.stop = &stop;
		ck_assert_int_eq(httpc_do(NULL, &req, &r, err, sizeof(err)), -1);
		ck_assert_msg(strstr(err, "interrupted") != NULL, "%s", err);
		server_stop(pid);
	}
}
END_TEST

Suite *
httpc_suite(void)
{
	Suite *s = suite_create("httpc");
	TCase *tc = tcase_create("httpc");
	TCase *net = tcase_create("net");

	tcase_add_test(tc, test_url);
	tcase_add_test(tc, test_form);
	tcase_add_test(tc, test_parse_valid);
	tcase_add_test(tc, test_parse_refused);
	tcase_add_test(tc, test_parse_limits);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(net, net_setup, net_teardown);
	tcase_set_timeout(net, 30);
	tcase_add_test(net, test_request_post);
	tcase_add_test(net, test_request_get_v6_pin_close);
	tcase_add_test(net, test_request_refusals);
	tcase_add_test(net, test_request_deadline_and_bounds);
	suite_add_tcase(s, net);
	return s;
}
