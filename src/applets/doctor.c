/* doctor: `zt doctor`, a checklist of what a connector or a sidecar on this machine needs to reach
 * the edge (configuration, credentials, clock, DNS, TCP, TLS 1.3 and the pin, ALPN zt/1, HELLO,
 * CHECK; doc/protocol.md), each failure with its fix, as `brew doctor` or `cloudflared tunnel
 * diag` would. It adds nothing to the protocol. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "applets.h"
#include "common/conf.h"
#include "common/conntoken.h"
#include "common/ev.h"
#include "common/ingress.h"
#include "common/log.h"
#include "common/mux.h"
#include "common/tls.h"
#include "common/tunnelconf.h"
#include "common/util.h"

static const char usage[] =
"usage: zt doctor access --hostname HOST [--id ID] [--secret-file FILE]\n"
"                        [--edge HOST:PORT] [--edge-pin PIN | --edge-ca FILE]\n"
"                        [--edge-name NAME] [--url ADDR] [OPTIONS]\n"
"       zt doctor tunnel [--token-file FILE | -c tunnel.ini] [--edge HOST:PORT ...]\n"
"                        [--hostname HOST --url SERVICE] [OPTIONS]\n"
"\n"
"Checks, from this machine, what zt access tcp (access) or zt tunnel run (tunnel) with\n"
"the same flags and environment needs: configuration, credentials, the clock, then for\n"
"each edge: name resolution, TCP, TLS 1.3 with the pin, ALPN zt/1, a HELLO with the\n"
"credentials (and for access a CHECK of HOST). One line per check, with a fix for each\n"
"failure; exit 0 when nothing failed, 1 otherwise, 2 on a usage error. Secrets are never\n"
"printed. A tunnel check registers a connection with the edge for about one round trip\n"
"and refuses any stream the edge sends it then: --no-hello stops after ALPN.\n"
"\n"
"  --json                 one JSON object on stdout instead of the checklist\n"
"  --timeout DURATION     for each network step (default 5s)\n"
"  --no-hello             do not authenticate (no HELLO, no CHECK)\n"
"  --verbose, -v          the log of each step on stderr\n"
"\n"
"access takes the flags and variables of zt access tcp ($ZT_ACCESS_CLIENT_ID,\n"
"$ZT_ACCESS_CLIENT_SECRET, $TUNNEL_SERVICE_TOKEN_ID, $TUNNEL_SERVICE_TOKEN_SECRET, $ZT_EDGE,\n"
"$ZT_EDGE_PIN); tunnel those of zt tunnel run (--token, --token-file, $ZT_TUNNEL_TOKEN,\n"
"$TUNNEL_TOKEN, -c tunnel.ini).\n";

#define DOCTOR_TIMEOUT_MS	5000
#define DOCTOR_CHECK_ID		1
#define DOCTOR_SECRET_MAX	1024

enum status {
	ST_OK = 0,
	ST_WARN,
	ST_SKIP,
	ST_FAIL,
};

static const char *const status_json[] = { "ok", "warn", "skip", "fail" };
static const char *const status_text[] = { " ok ", "warn", "skip", "FAIL" };
static const char *const status_color[] = { "\033[32m", "\033[33m", "\033[2m", "\033[31m" };

struct check {
	char		*name;
	char		*target;	/* the edge or origin it is about, or NULL */
	enum status	 status;
	char		*detail;
	char		*fix;		/* NULL when there is nothing to fix */
};

struct doctor {
	struct check	*checks;
	size_t		 nchecks;
	bool		 json, color, verbose, no_hello;
	uint64_t	 timeout_ms;
	FILE		*logsink;	/* where logs go between captures */

	struct event_base *base;
	struct ev_timer	*timer;
	bool		 timed_out;

	/* One edge at a time. */
	struct bufferevent *bev;
	bool		 tls_done, tls_ok;
	char		 tls_err[512];
	struct mux_session *s;
	bool		 hello_done, welcomed, check_done, closed;
	uint16_t	 code, check_code;
	char		 reason[MUX_MAX_REASON + 1], check_reason[MUX_MAX_REASON + 1];
	struct mux_welcome welcome;
	size_t		 refused_streams;

	/* The clock check, from the first edge certificate seen. */
	bool		 have_validity;
	int64_t		 not_before, not_after;
	char		 validity_from[300];
};

/* --- the checklist ----------------------------------------------------------------------- */

/* Records a check and, in text mode, prints it at once (network steps take time). */
static void __attribute__((format(printf, 6, 7)))
add(struct doctor *d, enum status st, const char *name, const char *target, const char *fix,
    const char *fmt, ...)
{
	struct check *c;
	va_list ap;

	d->checks = xreallocarray(d->checks, d->nchecks + 1, sizeof(*d->checks));
	c = &d->checks[d->nchecks++];
	c->name = xstrdup(name);
	c->target = target != NULL ? xstrdup(target) : NULL;
	c->status = st;
	c->fix = fix != NULL ? xstrdup(fix) : NULL;
	va_start(ap, fmt);
	if (vasprintf(&c->detail, fmt, ap) == -1)
		fatalx("add: out of memory");
	va_end(ap);
	if (d->json)
		return;
	if (d->color)
		printf("[%s%s\033[0m] ", status_color[st], status_text[st]);
	else
		printf("[%s] ", status_text[st]);
	printf("%s%s%s: %s\n", name, target != NULL ? " " : "", target != NULL ? target : "",
	    c->detail);
	if (c->fix != NULL)
		printf("       fix: %s\n", c->fix);
	fflush(stdout);
}

/* add() with a fix that is formatted too. */
static void __attribute__((format(printf, 5, 6)))
fail(struct doctor *d, const char *name, const char *target, const char *detail,
    const char *fixfmt, ...)
{
	char *fix;
	va_list ap;

	va_start(ap, fixfmt);
	if (vasprintf(&fix, fixfmt, ap) == -1)
		fatalx("fail: out of memory");
	va_end(ap);
	add(d, ST_FAIL, name, target, fix, "%s", detail);
	free(fix);
}

static void
json_string(const char *s)
{
	size_t len = strlen(s) * 6 + 3, pos = 0;
	char *buf = xmalloc(len);

	buf[0] = '\0';
	log_json_escape(buf, len, &pos, s);
	printf("\"%s\"", buf);
	free(buf);
}

static void
print_json(const struct doctor *d, const char *command, bool ok)
{
	printf("{\"command\":\"%s\",\"ok\":%s,\"checks\":[", command, ok ? "true" : "false");
	for (size_t i = 0; i < d->nchecks; i++) {
		const struct check *c = &d->checks[i];

		printf("%s{\"name\":", i > 0 ? "," : "");
		json_string(c->name);
		if (c->target != NULL) {
			fputs(",\"target\":", stdout);
			json_string(c->target);
		}
		printf(",\"status\":\"%s\",\"detail\":", status_json[c->status]);
		json_string(c->detail);
		fputs(",\"fix\":", stdout);
		if (c->fix != NULL)
			json_string(c->fix);
		else
			fputs("null", stdout);
		putchar('}');
	}
	puts("]}");
}

/* Prints the summary (or the JSON object) and gives the exit status. */
static int
finish(struct doctor *d, const char *command)
{
	size_t nfail = 0, nwarn = 0;

	for (size_t i = 0; i < d->nchecks; i++) {
		nfail += d->checks[i].status == ST_FAIL;
		nwarn += d->checks[i].status == ST_WARN;
	}
	if (d->json)
		print_json(d, command, nfail == 0);
	else if (nfail > 0)
		printf("\n%zu check%s failed, %zu warning%s: see the fix lines above.\n", nfail,
		    nfail == 1 ? "" : "s", nwarn, nwarn == 1 ? "" : "s");
	else
		printf("\nAll checks passed%s.\n", nwarn > 0 ? " (with warnings)" : "");
	return nfail > 0 ? 1 : 0;
}

static void
checks_free(struct doctor *d)
{
	for (size_t i = 0; i < d->nchecks; i++) {
		free(d->checks[i].name);
		free(d->checks[i].target);
		free(d->checks[i].detail);
		free(d->checks[i].fix);
	}
	free(d->checks);
}

/* --- capturing what common modules log, for a check's detail ------------------------------ */

struct capture {
	FILE	*fp;
};

/* Sends the log to a temporary file (the log writes to a descriptor: no memory stream). */
static void
capture_begin(struct capture *cap)
{
	if ((cap->fp = tmpfile()) == NULL)
		fatal("tmpfile");
	log_set_output(cap->fp);
}

/* Ends a capture: the messages, without time and level, joined by "; " (the caller frees). */
static char *
capture_end(struct doctor *d, struct capture *cap)
{
	char *out, *line, *save = NULL, *buf;
	long size;
	size_t len, pos = 0;

	log_set_output(d->logsink);
	fflush(cap->fp);
	if ((size = ftell(cap->fp)) < 0)
		size = 0;
	buf = xcalloc(1, (size_t)size + 1);
	rewind(cap->fp);
	len = fread(buf, 1, (size_t)size, cap->fp);
	buf[len] = '\0';
	fclose(cap->fp);
	/* At most "; " more per line than the line and its newline: twice the size holds it. */
	out = xcalloc(1, 2 * len + 1);
	for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		/* "TIME APPLET LEVEL: message" */
		char *msg = strchr(line, ' ');

		msg = msg != NULL ? strchr(msg + 1, ' ') : NULL;
		msg = msg != NULL ? strstr(msg, ": ") : NULL;
		msg = msg != NULL ? msg + 2 : line;
		if (d->verbose)
			fprintf(stderr, "%s\n", line);
		pos += (size_t)snprintf(out + pos, 2 * len + 1 - pos, "%s%s", pos > 0 ? "; " : "",
		    msg);
	}
	free(buf);
	return out;
}

/* --- small helpers ------------------------------------------------------------------------ */

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static const char *
getenv2(const char *a, const char *b)
{
	const char *v;

	if ((v = getenv(a)) != NULL && *v != '\0')
		return v;
	if (b != NULL && (v = getenv(b)) != NULL && *v != '\0')
		return v;
	return NULL;
}

static void
format_time(int64_t t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
		util_snprintf(buf, len, "%lld", (long long)t);
}

/* "host:port", or "[v6]:port". */
static void
format_hostport(const char *host, uint16_t port, char *buf, size_t len)
{
	util_snprintf(buf, len, strchr(host, ':') != NULL ? "[%s]:%u" : "%s:%u", host, port);
}

/* The date this zt was built (from __DATE__, "Nov 28 2026"): a clock before it is wrong. */
static int64_t
build_time(void)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	const char *date = __DATE__, *m;
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if ((m = strstr(months, (char[4]){ date[0], date[1], date[2], '\0' })) == NULL)
		return 0;
	tm.tm_mon = (int)(m - months) / 3;
	tm.tm_mday = atoi(date + 4);
	tm.tm_year = atoi(date + 7) - 1900;
	return (int64_t)timegm(&tm);
}

/* A file holding a secret: what zt access tcp or zt tunnel run would say of it. Reads it
 * even when its mode is wrong (after the failure), so that the other checks can go on.
 * Returns the contents (the caller wipes and frees them) or NULL. */
static char *
check_secret_file(struct doctor *d, const char *name, const char *path, size_t maxlen)
{
	struct stat st;
	char *data = NULL, detail[PATH_MAX + 128];
	size_t len;

	if (lstat(path, &st) == -1) {
		util_snprintf(detail, sizeof(detail), "cannot read \"%s\": %s", path,
		    strerror(errno));
		fail(d, name, NULL, detail, "give the path of the file that holds it (zt runs as "
		    "uid %ld here: it must be able to read the file)", (long)geteuid());
		return NULL;
	}
	if (S_ISLNK(st.st_mode)) {
		util_snprintf(detail, sizeof(detail), "\"%s\" is a symbolic link: zt refuses to "
		    "follow it for a secret", path);
		fail(d, name, NULL, detail, "give the path of the file it points to: %s", path);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		util_snprintf(detail, sizeof(detail), "\"%s\" is not a regular file", path);
		fail(d, name, NULL, detail, "give the path of the file that holds it");
		return NULL;
	}
	if (util_read_secret_file(path, maxlen, &data, &len) == 0) {
		add(d, ST_OK, name, NULL, NULL, "%s: mode %04o, owner uid %ld", path,
		    (unsigned int)(st.st_mode & 07777), (long)st.st_uid);
		return data;
	}
	if (errno == EPERM) {
		char fix[PATH_MAX + 16];

		util_snprintf(detail, sizeof(detail), "%s: mode %04o: group or others may read "
		    "it, and zt refuses such a file", path, (unsigned int)(st.st_mode & 07777));
		util_snprintf(fix, sizeof(fix), "chmod 600 %s", path);
		add(d, ST_FAIL, name, NULL, fix, "%s", detail);
		if (util_read_file(path, maxlen, &data, &len) == 0) {
			if (len > 0 && data[len - 1] == '\n')
				data[--len] = '\0';
			if (len > 0 && data[len - 1] == '\r')
				data[--len] = '\0';
			return data;
		}
		return NULL;
	}
	util_snprintf(detail, sizeof(detail), "cannot read \"%s\": %s", path, errno == EFBIG ?
	    "it is too large for a secret" : strerror(errno));
	fail(d, name, NULL, detail, "give the path of the file that holds only the secret");
	return NULL;
}

/* --- the event loop, one step at a time ---------------------------------------------------- */

static void
timer_fired(void *arg)
{
	((struct doctor *)arg)->timed_out = true;
}

/* Runs the loop until *flag is set or the step's time is up; returns *flag. */
static bool
run_until(struct doctor *d, const bool *flag, uint64_t ms)
{
	d->timed_out = false;
	ev_timer_start(d->timer, ms, false);
	while (!*flag && !d->timed_out)
		if (event_base_loop(d->base, EVLOOP_ONCE) == -1)
			break;
	ev_timer_stop(d->timer);
	return *flag;
}

static void
tls_event(struct bufferevent *bev, short what, void *arg)
{
	struct doctor *d = arg;

	d->tls_done = true;
	if (what & BEV_EVENT_CONNECTED) {
		d->tls_ok = true;
		bufferevent_disable(bev, EV_READ | EV_WRITE);
		return;
	}
	tls_bufferevent_error(bev, d->tls_err, sizeof(d->tls_err));
}

static void
session_welcome(struct mux_session *s, const struct mux_welcome *w, void *arg)
{
	struct doctor *d = arg;

	d->welcomed = d->hello_done = true;
	d->welcome = *w;
}

/* The doctor's connection is no connector: a stream the edge routes to it is refused. */
static void
session_open(struct mux_session *s, struct mux_stream *st, const char *hostname,
    const struct mux_meta *meta, void *arg)
{
	struct doctor *d = arg;

	d->refused_streams++;
	mux_stream_reset(st, MUX_REFUSED_STREAM, "zt doctor: a diagnostic connection serves no "
	    "stream");
}

static void
session_check_reply(struct mux_session *s, uint32_t id, uint16_t code, const char *reason,
    void *arg)
{
	struct doctor *d = arg;

	d->check_done = true;
	d->check_code = code;
	util_strlcpy(d->check_reason, reason != NULL ? reason : "", sizeof(d->check_reason));
}

static void
session_closed(struct mux_session *s, uint16_t code, const char *reason, void *arg)
{
	struct doctor *d = arg;

	if (!d->hello_done) {
		d->hello_done = true;
		d->code = code;
		util_strlcpy(d->reason, reason != NULL ? reason : "", sizeof(d->reason));
	}
	if (!d->check_done) {
		d->check_code = code;
		util_strlcpy(d->check_reason, reason != NULL ? reason : "",
		    sizeof(d->check_reason));
	}
	d->closed = true;
	mux_session_free(d->s);
	d->s = NULL;
}

static const struct mux_session_cbs session_cbs = {
	.welcome = session_welcome,
	.open = session_open,
	.check_reply = session_check_reply,
	.closed = session_closed,
};

/* --- one edge ------------------------------------------------------------------------------ */

struct probe {
	const char	*host;		/* as given */
	uint16_t	 port;
	const char	*server_name;	/* checked against the certificate, sent as SNI */
	struct tls_ctx	*tls;
	const char	*trust;		/* how the certificate is verified, for messages */
	struct mux_hello *hello;	/* NULL: no HELLO */
	const char	*hello_skip;	/* why there is no HELLO */
	const char	*check_host;	/* CHECK this app after WELCOME (access), or NULL */
	bool		 connector;
};

/* A non-blocking connect bounded by timeout_ms: the connected socket, or -1 with *err. */
static int
tcp_connect(const struct addrinfo *ai, uint64_t timeout_ms, int *err)
{
	struct pollfd pfd;
	socklen_t len = sizeof(*err);
	int fd, one = 1, n;

	*err = 0;
	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
		*err = errno;
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		*err = errno;
		close(fd);
		return -1;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	while ((n = poll(&pfd, 1, (int)timeout_ms)) == -1 && errno == EINTR)
		;
	if (n == 0)
		*err = ETIMEDOUT;
	else if (n == -1)
		*err = errno;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &len) == -1)
		*err = errno;
	if (*err != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The fix for a TLS failure, from the reason OpenSSL gave. */
static const char *
tls_fix(const char *err, const struct probe *p, char *buf, size_t len)
{
	if (strstr(err, "pinned public key") != NULL)
		util_snprintf(buf, len, "the edge's CA is not the one pinned: give the pin zt edge "
		    "init printed (or compute it on the edge host: openssl x509 -in ca.crt -pubkey "
		    "-noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | "
		    "base64)%s", p->connector ? "; a token made for another edge or before its "
		    "CA changed needs a new one (zt tunnel create)" : "");
	else if (strstr(err, "hostname mismatch") != NULL || strstr(err, "IP address mismatch"))
		util_snprintf(buf, len, "the edge's certificate does not name %s: %s",
		    p->server_name, p->connector ? "the token's server name or edge address is "
		    "not the edge's (make a new token with zt tunnel create)" : "give --edge-name "
		    "with a name the certificate carries (zt edge init --name)");
	else if (strstr(err, "not yet valid") != NULL)
		util_snprintf(buf, len, "this machine's clock is behind the certificate's start: "
		    "set it right (timedatectl status; enable NTP)");
	else if (strstr(err, "expired") != NULL)
		util_snprintf(buf, len, "renew the edge's certificate on the edge host, or set this "
		    "machine's clock right if it is ahead (timedatectl status)");
	else if (strstr(err, "local issuer") != NULL || strstr(err, "self-signed") != NULL ||
	    strstr(err, "self signed") != NULL)
		util_snprintf(buf, len, "the certificate is not signed by a CA this machine trusts: "
		    "give --edge-pin with the pin zt edge init printed, or --edge-ca ca.crt");
	else if (strstr(err, "no application protocol") != NULL)
		util_snprintf(buf, len, "the server at %s:%u refused ALPN zt/1: it is not a zt edge "
		    "(another TLS service on this port?)", p->host, p->port);
	else if (strstr(err, "wrong version number") != NULL || strstr(err, "packet length") !=
	    NULL || strstr(err, "closed") != NULL || strstr(err, "unexpected eof") != NULL ||
	    strstr(err, "record layer") != NULL)
		util_snprintf(buf, len, "the server at %s:%u does not speak TLS (the wrong port, "
		    "or a plain TCP service?): give the edge's port (listen = in edge.ini)",
		    p->host, p->port);
	else if (strstr(err, "protocol version") != NULL)
		util_snprintf(buf, len, "the server does not offer TLS 1.3: it is not a zt edge, "
		    "or a middlebox in between downgrades TLS");
	else
		util_snprintf(buf, len, "run zt doctor --verbose for OpenSSL's own messages");
	return buf;
}

/* The fix for a refused HELLO. */
static const char *
hello_fix(uint16_t code, bool connector)
{
	switch (code) {
	case MUX_AUTH_FAILED:
		return connector ? "the edge knows no tunnel with this id and secret: the tunnel "
		    "was deleted (zt tunnel list on the edge host) or the token is for another "
		    "edge; make a new token with zt tunnel create NAME" :
		    "the edge knows no service token with this Client ID and secret: compare both "
		    "with what zt token create printed (zt token list on the edge host lists the "
		    "ids); after zt token rotate, the old secret ends with its grace period";
	case MUX_AUTH_REVOKED:
		return connector ? "the tunnel's secret changed or the tunnel was deleted: make a "
		    "new token with zt tunnel create" : "the token was revoked: make a new one on "
		    "the edge host (zt token create) and give its Client ID and Secret";
	case MUX_AUTH_EXPIRED:
		return "the token has expired: make a new one on the edge host (zt token create "
		    "--duration ...) or extend it";
	case MUX_HOSTNAME_NOT_ALLOWED:
		return "add an [app HOST] section with tunnel = this tunnel to the edge's edge.ini "
		    "(then reload the edge: SIGHUP), or remove the ingress rule for that hostname";
	case MUX_PROTOCOL_ERROR:
		return "the edge and this zt do not understand each other: use the same zt version "
		    "on both ends";
	case MUX_SHUTTING_DOWN:
		return "the edge is shutting down: try again once it is back";
	default:
		return "see the reason; the edge's log and audit log say more";
	}
}

/* The CHECK result for the app. */
static void
report_check(struct doctor *d, const struct probe *p, const char *target)
{
	char detail[MUX_MAX_REASON + 300];

	if (!d->check_done) {
		if (d->closed)
			util_snprintf(detail, sizeof(detail), "the session ended before the answer: "
			    "%s%s%s", mux_code_name(d->check_code), d->check_reason[0] != '\0' ?
			    ": " : "", d->check_reason);
		else
			util_strlcpy(detail, "the edge did not answer the CHECK in time",
			    sizeof(detail));
		fail(d, "app", p->check_host, detail, "the edge is overloaded or something in "
		    "between holds the connection: try again, with a longer --timeout");
		return;
	}
	if (d->check_code == MUX_OK) {
		add(d, ST_OK, "app", p->check_host, NULL, "the edge allows this token to reach %s",
		    p->check_host);
		return;
	}
	util_snprintf(detail, sizeof(detail), "%s: %s", mux_code_name(d->check_code),
	    d->check_reason[0] != '\0' ? d->check_reason : "no reason given");
	switch (d->check_code) {
	case MUX_NOT_ALLOWED:
		fail(d, "app", p->check_host, detail, "the app's policy does not allow this token: "
		    "add a rule such as policy = allow token:NAME to [app %s] in the edge's "
		    "edge.ini (the edge's audit log names the rule that decided)", p->check_host);
		break;
	case MUX_NO_SUCH_APP:
		fail(d, "app", p->check_host, detail, "the edge has no [app %s]: check the spelling "
		    "of --hostname, or add the app to the edge's edge.ini", p->check_host);
		break;
	default:
		fail(d, "app", p->check_host, detail, "%s", hello_fix(d->check_code, false));
		break;
	}
}

/* The clock: plausible against this build's date and the edge certificate's validity. The
 * protocol carries no time, so the skew against the edge itself cannot be measured. */
static void
check_clock(struct doctor *d)
{
	int64_t now = (int64_t)time(NULL), built = build_time();
	char snow[64], sbuilt[64], nb[64], na[64], detail[800];

	format_time(now, snow, sizeof(snow));
	format_time(built, sbuilt, sizeof(sbuilt));
	if (built != 0 && now < built) {
		util_snprintf(detail, sizeof(detail), "the local clock (%s) is before the date this "
		    "zt was built (%s)", snow, sbuilt);
		fail(d, "clock", NULL, detail, "set the clock right (timedatectl status; enable "
		    "NTP): certificates and token expiry are judged by it");
		return;
	}
	if (!d->have_validity) {
		add(d, ST_OK, "clock", NULL, NULL, "local clock %s, after this zt's build date (%s); "
		    "no edge certificate was seen to compare with; the skew against the edge "
		    "cannot be measured (the protocol carries no time)", snow, sbuilt);
		return;
	}
	format_time(d->not_before, nb, sizeof(nb));
	format_time(d->not_after, na, sizeof(na));
	if (now < d->not_before || now > d->not_after) {
		util_snprintf(detail, sizeof(detail), "the local clock (%s) is outside the validity "
		    "of %s's certificates (%s to %s)", snow, d->validity_from, nb, na);
		fail(d, "clock", NULL, detail, now < d->not_before ? "this machine's clock is "
		    "behind: set it right (timedatectl status; enable NTP)" : "the edge's "
		    "certificate has expired (renew it on the edge host), or this machine's clock "
		    "is ahead: set it right");
		return;
	}
	if (d->not_after - now < 14 * 86400) {
		util_snprintf(detail, sizeof(detail), "local clock %s; the certificates of %s "
		    "expire on %s, in less than 14 days", snow, d->validity_from, na);
		add(d, ST_WARN, "clock", NULL, "renew the edge's certificate on the edge host before "
		    "it expires", "%s", detail);
		return;
	}
	add(d, ST_OK, "clock", NULL, NULL, "local clock %s, after this zt's build date (%s) and "
	    "within the validity of %s's certificates (%s to %s); the skew against the edge "
	    "cannot be measured (the protocol carries no time)", snow, sbuilt, d->validity_from,
	    nb, na);
}

/* DNS, TCP, TLS, ALPN, HELLO (and CHECK) against one edge. Returns false when the edge could
 * not be reached at all. */
static bool
probe_edge(struct doctor *d, const struct probe *p)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct capture cap;
	struct mux_limits lim;
	char target[300], port[8], addrs[512] = "", addr[80], detail[1024], fixbuf[768];
	char alpn[TLS_ALPN_MAX + 1];
	double t0, dt;
	int gai, fd = -1, err = 0;
	bool ok = false;
	size_t pos = 0;

	format_hostport(p->host, p->port, target, sizeof(target));
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%u", p->port);

	/* Name resolution. */
	t0 = now_ms();
	if ((gai = getaddrinfo(p->host, port, &hints, &res)) != 0) {
		util_snprintf(detail, sizeof(detail), "cannot resolve \"%s\": %s", p->host,
		    gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
		fail(d, "dns", target, detail, "check the name (a typo?) and this machine's "
		    "resolver (/etc/resolv.conf, /etc/hosts): getent hosts %s must print an "
		    "address", p->host);
		add(d, ST_SKIP, "tcp", target, NULL, "not tried: the name does not resolve");
		return false;
	}
	dt = now_ms() - t0;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		const char *a = util_sockaddr_str(ai->ai_addr, addr, sizeof(addr));
		size_t alen = strlen(a);

		if (strstr(addrs, a) != NULL || pos + alen + 3 >= sizeof(addrs))
			continue;
		pos += (size_t)snprintf(addrs + pos, sizeof(addrs) - pos, "%s%s", pos > 0 ? ", " :
		    "", a);
	}
	add(d, ST_OK, "dns", target, NULL, "%s in %.1f ms", addrs, dt);

	/* TCP: the addresses in order, as zt does (it takes the first). */
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		t0 = now_ms();
		if ((fd = tcp_connect(ai, d->timeout_ms, &err)) != -1)
			break;
		util_sockaddr_str(ai->ai_addr, addr, sizeof(addr));
		if (ai->ai_next != NULL)
			add(d, ST_WARN, "tcp", target, "zt tunnel run and zt access tcp dial the first "
			    "address only: make the name resolve to reachable addresses first",
			    "%s: %s", addr, strerror(err));
	}
	if (fd == -1) {
		util_snprintf(detail, sizeof(detail), "%s: %s", addr, err == ETIMEDOUT ?
		    "no answer (timed out)" : strerror(err));
		fail(d, "tcp", target, detail, "%s", err == ECONNREFUSED ? "nothing listens there: "
		    "is the edge running (zt edge serve), and is this its port (listen = in "
		    "edge.ini)?" : err == ETIMEDOUT ? "a firewall drops the packets, or the "
		    "address is wrong: the edge's port must be open to this machine" :
		    "check the route to the edge from this machine (ip route get ADDRESS)");
		add(d, ST_SKIP, "tls", target, NULL, "not tried: no TCP connection");
		freeaddrinfo(res);
		return false;
	}
	util_sockaddr_str(ai->ai_addr, addr, sizeof(addr));
	add(d, ST_OK, "tcp", target, NULL, "connected to %s in %.1f ms", addr, now_ms() - t0);
	freeaddrinfo(res);

	/* TLS 1.3, with the pin or the CA. */
	d->tls_done = d->tls_ok = false;
	d->tls_err[0] = '\0';
	capture_begin(&cap);
	d->bev = tls_bufferevent_new(d->base, p->tls, fd, false, p->server_name);
	if (d->bev != NULL) {
		bufferevent_setcb(d->bev, NULL, NULL, tls_event, d);
		bufferevent_enable(d->bev, EV_READ | EV_WRITE);
		t0 = now_ms();
		run_until(d, &d->tls_done, d->timeout_ms);
		dt = now_ms() - t0;
	}
	{
		char *logged = capture_end(d, &cap);

		if (d->bev == NULL)
			util_strlcpy(d->tls_err, logged, sizeof(d->tls_err));
		free(logged);
	}
	if (d->bev != NULL && !d->have_validity &&
	    tls_bufferevent_peer_validity(d->bev, &d->not_before, &d->not_after)) {
		d->have_validity = true;
		util_strlcpy(d->validity_from, target, sizeof(d->validity_from));
	}
	if (!d->tls_ok) {
		if (d->bev != NULL && !d->tls_done)
			util_strlcpy(d->tls_err, "no TLS answer (timed out)", sizeof(d->tls_err));
		util_snprintf(detail, sizeof(detail), "with %s (%s): %s", p->server_name, p->trust,
		    d->tls_err);
		add(d, ST_FAIL, "tls", target, tls_fix(d->tls_err, p, fixbuf, sizeof(fixbuf)), "%s",
		    detail);
		add(d, ST_SKIP, "alpn", target, NULL, "not tried: no TLS session");
		goto out;
	}
	add(d, ST_OK, "tls", target, NULL, "%s with %s in %.1f ms, certificate verified (%s)",
	    tls_bufferevent_version(d->bev), p->server_name, dt, p->trust);

	tls_bufferevent_alpn(d->bev, alpn, sizeof(alpn));
	if (strcmp(alpn, "zt/1") != 0) {
		util_snprintf(detail, sizeof(detail), "the server chose %s%s%s instead of zt/1",
		    alpn[0] != '\0' ? "\"" : "no protocol", alpn, alpn[0] != '\0' ? "\"" : "");
		fail(d, "alpn", target, detail, "the server at %s is a TLS service, not a zt edge: "
		    "give the edge's address and port", target);
		goto out;
	}
	add(d, ST_OK, "alpn", target, NULL, "zt/1");
	ok = true;

	/* HELLO, and CHECK for a client. */
	if (p->hello == NULL) {
		add(d, ST_SKIP, "auth", target, NULL, "not tried: %s", p->hello_skip);
		if (p->check_host != NULL)
			add(d, ST_SKIP, "app", p->check_host, NULL, "not tried: %s", p->hello_skip);
		goto out;
	}
	d->hello_done = d->welcomed = d->check_done = d->closed = false;
	d->code = d->check_code = MUX_OK;
	d->reason[0] = d->check_reason[0] = '\0';
	memset(&lim, 0, sizeof(lim));
	capture_begin(&cap);
	d->s = mux_session_new(d->base, d->bev, false, &lim, &session_cbs, d);
	d->bev = NULL;	/* the session's, freed with it */
	if (d->s != NULL && mux_send_hello(d->s, p->hello) == 0) {
		t0 = now_ms();
		run_until(d, &d->hello_done, d->timeout_ms);
		dt = now_ms() - t0;
		/* A connector's session is closed at once: GOAWAY, so the edge routes nothing
		 * more to it; streams it routed before are refused. */
		if (d->welcomed && p->check_host != NULL && d->s != NULL &&
		    mux_check(d->s, DOCTOR_CHECK_ID, p->check_host) == 0)
			run_until(d, &d->check_done, d->timeout_ms);
		if (d->s != NULL)
			mux_close(d->s, MUX_OK, "zt doctor: checks done");
		run_until(d, &d->closed, 2000);
	} else
		util_strlcpy(d->reason, "cannot send HELLO", sizeof(d->reason));
	free(capture_end(d, &cap));
	if (d->welcomed) {
		if (p->connector)
			add(d, ST_OK, "auth", target, NULL, "edge %s accepted the tunnel's id and "
			    "secret and the %zu hostname%s announced, in %.1f ms; the connection was "
			    "closed at once%s", d->welcome.edge_name[0] != '\0' ?
			    d->welcome.edge_name : "(unnamed)", p->hello->nhostnames,
			    p->hello->nhostnames == 1 ? "" : "s", dt, d->refused_streams > 0 ?
			    " (it refused the streams the edge sent it meanwhile)" : "");
		else
			add(d, ST_OK, "auth", target, NULL, "edge %s accepted the service token %s "
			    "in %.1f ms", d->welcome.edge_name[0] != '\0' ? d->welcome.edge_name :
			    "(unnamed)", p->hello->token_id, dt);
		if (p->check_host != NULL)
			report_check(d, p, target);
	} else {
		if (!d->hello_done)
			util_snprintf(detail, sizeof(detail), "no WELCOME within %llu ms",
			    (unsigned long long)d->timeout_ms);
		else
			util_snprintf(detail, sizeof(detail), "%s: %s", mux_code_name(d->code),
			    d->reason[0] != '\0' ? d->reason : "no reason given");
		add(d, ST_FAIL, "auth", target, !d->hello_done ? "the edge is overloaded, or "
		    "something in between holds the connection: try again with a longer --timeout" :
		    hello_fix(d->code, p->connector), "%s", detail);
		if (p->check_host != NULL)
			add(d, ST_SKIP, "app", p->check_host, NULL, "not tried: not authenticated");
	}
out:
	if (d->s != NULL) {
		mux_session_free(d->s);
		d->s = NULL;
	}
	if (d->bev != NULL) {
		bufferevent_free(d->bev);
		d->bev = NULL;
	}
	return ok;
}

/* Sets up the loop; false after a failure check. */
static bool
doctor_loop(struct doctor *d)
{
	if ((d->base = ev_base_new()) == NULL) {
		add(d, ST_FAIL, "internal", NULL, NULL, "cannot make an event loop");
		return false;
	}
	d->timer = ev_timer_new(d->base, timer_fired, d);
	return true;
}

static void
doctor_free(struct doctor *d)
{
	ev_timer_free(d->timer);
	if (d->base != NULL)
		event_base_free(d->base);
	checks_free(d);
	if (d->logsink != NULL && d->logsink != stderr)
		fclose(d->logsink);
}

/* A client context for the edge: its failure is a check. */
static struct tls_ctx *
make_tls(struct doctor *d, const char *pin, const char *ca)
{
	static const char *const alpn[] = { "zt/1", NULL };
	struct tls_client_opts topts;
	struct tls_ctx *tls;
	struct capture cap;
	char *logged;

	memset(&topts, 0, sizeof(topts));
	topts.pin = pin;
	topts.ca_file = ca;
	topts.alpn = alpn;
	capture_begin(&cap);
	tls = tls_client_new(&topts);
	logged = capture_end(d, &cap);
	if (tls == NULL)
		add(d, ST_FAIL, "trust", NULL, pin != NULL ? "copy the pin zt edge init printed: "
		    "sha256// and 44 base64 characters" : "give a PEM CA certificate with --edge-ca "
		    "or a pin with --edge-pin", "%s", logged);
	free(logged);
	return tls;
}

/* --- zt doctor access ---------------------------------------------------------------------- */

/* "<32 lower-case hex digits>.access", the form of zt token create's Client ID. */
static bool
token_id_ok(const char *id)
{
	if (strlen(id) != 39 || strcmp(id + 32, ".access") != 0)
		return false;
	for (int i = 0; i < 32; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return true;
}

/* The 64-hex Client Secret into hello; false after a failure check. */
static bool
check_secret_text(struct doctor *d, const char *text, struct mux_hello *hello,
    const char *where)
{
	size_t len = strlen(text);
	char detail[256];

	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
		len--;
	if (len != 64 || util_hex_decode(text, len, hello->token_secret,
	    sizeof(hello->token_secret)) != 32) {
		util_snprintf(detail, sizeof(detail), "%s holds %zu characters%s, not the 64 "
		    "hexadecimal characters of a Client Secret", where, len, len == 64 ?
		    " that are not all hexadecimal" : "");
		fail(d, "secret-format", NULL, detail, "put exactly the Client Secret zt token "
		    "create printed there (one line)");
		return false;
	}
	hello->has_token_secret = true;
	add(d, ST_OK, "secret-format", NULL, NULL, "64 hexadecimal characters");
	return true;
}

/* Whether the local address of --url can be listened on. */
static void
check_listen(struct doctor *d, const char *url)
{
	struct util_hostport hp;
	struct sockaddr_storage ss;
	socklen_t sslen;
	char err[256];
	int fd, one = 1;

	if (util_parse_hostport(url, 0, &hp, err, sizeof(err)) == -1 ||
	    util_sockaddr_from(strcmp(hp.host, "localhost") == 0 ? "127.0.0.1" : hp.host, hp.port,
	    &ss, &sslen) == -1) {
		add(d, ST_FAIL, "listen", url, "give an address and port to listen on, e.g. "
		    "127.0.0.1:5432", "--url \"%s\" is not an address and port", url);
		return;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		add(d, ST_WARN, "listen", url, NULL, "cannot make a socket: %s", strerror(errno));
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sslen) == -1) {
		int e = errno;

		if (e == EADDRINUSE)
			add(d, ST_WARN, "listen", url, "if it is not this sidecar already running, "
			    "stop the program that holds the port or choose another --url",
			    "the address is in use (a sidecar already running there?)");
		else
			add(d, ST_FAIL, "listen", url, e == EACCES ? "ports below 1024 need root or "
			    "CAP_NET_BIND_SERVICE: choose a port above 1023" : "give an address of "
			    "this machine", "cannot listen there: %s", strerror(e));
	} else
		add(d, ST_OK, "listen", url, NULL, "the address is free to listen on");
	close(fd);
}

static int
access_cmd(struct doctor *d, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "hostname", required_argument, NULL, 'T' },
		{ "tunnel-host", required_argument, NULL, 'T' },
		{ "url", required_argument, NULL, 'L' },
		{ "listener", required_argument, NULL, 'L' },
		{ "id", required_argument, NULL, 'i' },
		{ "service-token-id", required_argument, NULL, 'i' },
		{ "secret", required_argument, NULL, 's' },
		{ "service-token-secret", required_argument, NULL, 's' },
		{ "secret-file", required_argument, NULL, 'S' },
		{ "edge", required_argument, NULL, 'e' },
		{ "edge-pin", required_argument, NULL, 'p' },
		{ "edge-ca", required_argument, NULL, 'C' },
		{ "edge-name", required_argument, NULL, 'N' },
		{ "listen-early", no_argument, NULL, 'E' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "no-hello", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *url = NULL, *id = NULL, *secret = NULL, *secret_file = NULL, *edge = NULL;
	const char *pin = NULL, *ca = NULL, *hostname = NULL, *edge_name = NULL;
	const char *id_src = NULL, *secret_src = NULL, *edge_src, *pin_src = NULL;
	struct mux_hello hello;
	struct util_hostport hp;
	struct tls_ctx *tls = NULL;
	struct probe p;
	char err[256], trust[128], target[300], *data = NULL;
	bool id_ok = false, secret_ok = false;
	int ch;

	memset(&hello, 0, sizeof(hello));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "T:L:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'T': hostname = optarg; break;
		case 'L': url = optarg; break;
		case 'i': id = optarg; id_src = "--id"; break;
		case 's': secret = optarg; secret_src = "--secret"; break;
		case 'S': secret_file = optarg; break;
		case 'e': edge = optarg; break;
		case 'p': pin = optarg; pin_src = "--edge-pin"; break;
		case 'C': ca = optarg; break;
		case 'N': edge_name = optarg; break;
		case 'E': break;	/* zt access tcp's: nothing to check */
		case 'j': d->json = true; break;
		case 'n': d->no_hello = true; break;
		case 'v': d->verbose = true; break;
		case 't':
			if (util_parse_duration(optarg, &d->timeout_ms, err, sizeof(err)) == -1 ||
			    d->timeout_ms == 0) {
				fprintf(stderr, "zt doctor: --timeout \"%s\": %s\n", optarg,
				    d->timeout_ms == 0 ? "give a duration such as 5s" : err);
				return 2;
			}
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind != argc || hostname == NULL) {
		fputs("zt doctor access: --hostname is required (the app to check)\n", stderr);
		fputs(usage, stderr);
		return 2;
	}
	if (secret != NULL)
		log_redact_add(secret);
	if (!doctor_loop(d))
		return finish(d, "access");

	/* Configuration: where each value comes from, as zt access tcp takes them. */
	if (id == NULL && (id = getenv2("ZT_ACCESS_CLIENT_ID", "TUNNEL_SERVICE_TOKEN_ID")) != NULL)
		id_src = getenv("ZT_ACCESS_CLIENT_ID") != NULL && *getenv("ZT_ACCESS_CLIENT_ID") ?
		    "$ZT_ACCESS_CLIENT_ID" : "$TUNNEL_SERVICE_TOKEN_ID";
	if (secret_file == NULL && secret == NULL && (secret = getenv2("ZT_ACCESS_CLIENT_SECRET",
	    "TUNNEL_SERVICE_TOKEN_SECRET")) != NULL) {
		secret_src = getenv("ZT_ACCESS_CLIENT_SECRET") != NULL &&
		    *getenv("ZT_ACCESS_CLIENT_SECRET") ? "$ZT_ACCESS_CLIENT_SECRET" :
		    "$TUNNEL_SERVICE_TOKEN_SECRET";
		log_redact_add(secret);
	}
	edge_src = edge != NULL ? "--edge" : NULL;
	if (edge == NULL && (edge = getenv2("ZT_EDGE", NULL)) != NULL)
		edge_src = "$ZT_EDGE";
	if (edge == NULL) {
		edge = hostname;
		edge_src = "the app's name (no --edge)";
	}
	if (pin == NULL && (pin = getenv2("ZT_EDGE_PIN", NULL)) != NULL)
		pin_src = "$ZT_EDGE_PIN";
	if (!mux_hostname_valid(hostname, false)) {
		add(d, ST_FAIL, "config", NULL, "give the app's name as in the edge's [app NAME]",
		    "--hostname \"%s\" is not a host name", hostname);
		return finish(d, "access");
	}
	if (util_parse_hostport(edge, 7844, &hp, err, sizeof(err)) == -1) {
		add(d, ST_FAIL, "config", NULL, "give the edge as HOST:PORT, e.g. "
		    "edge.example.com:7844", "edge \"%s\" from %s: %s", edge, edge_src, err);
		return finish(d, "access");
	}
	if (edge_name != NULL && !mux_hostname_valid(edge_name, false)) {
		add(d, ST_FAIL, "config", NULL, "give the name the edge's certificate carries",
		    "--edge-name \"%s\" is not a host name", edge_name);
		return finish(d, "access");
	}
	format_hostport(hp.host, hp.port, target, sizeof(target));
	add(d, ST_OK, "config", NULL, NULL, "app %s; edge %s (from %s); Client ID from %s; "
	    "secret from %s; trust: %s; server name %s%s", hostname, target, edge_src,
	    id_src != NULL ? id_src : "nowhere", secret_file != NULL ? "--secret-file" :
	    secret_src != NULL ? secret_src : "nowhere", pin != NULL && ca != NULL ?
	    "pin and CA file" : pin != NULL ? pin_src : ca != NULL ? "--edge-ca" :
	    "the system's CAs", edge_name != NULL ? edge_name : hp.host, edge_name != NULL ?
	    " (--edge-name)" : "");

	/* Credentials. */
	if (id == NULL)
		fail(d, "client-id", NULL, "no Client ID", "give --id ID (or set "
		    "ZT_ACCESS_CLIENT_ID): the Client ID zt token create printed");
	else if (!token_id_ok(id) || !util_strlcpy(hello.token_id, id, sizeof(hello.token_id))) {
		char detail[160];

		util_snprintf(detail, sizeof(detail), "\"%.64s\" (from %s) is not a Client ID",
		    id, id_src);
		fail(d, "client-id", NULL, detail, "give the Client ID as zt token create printed "
		    "it: 32 hexadecimal digits followed by .access");
	} else {
		id_ok = true;
		add(d, ST_OK, "client-id", NULL, NULL, "%s (from %s)", id, id_src);
	}
	if (secret_file != NULL) {
		if ((data = check_secret_file(d, "secret-file", secret_file, DOCTOR_SECRET_MAX))
		    != NULL) {
			log_redact_add(data);
			secret_ok = check_secret_text(d, data, &hello, secret_file);
			util_cleanse(data, strlen(data));
			free(data);
		}
	} else if (secret != NULL) {
		if (strcmp(secret_src, "--secret") == 0)
			add(d, ST_WARN, "secret", NULL, "put the secret in a file of mode 0600 and give "
			    "--secret-file FILE, or set ZT_ACCESS_CLIENT_SECRET", "given with --secret: "
			    "every user of this machine can read it (ps, /proc)");
		else
			add(d, ST_OK, "secret", NULL, NULL, "from %s", secret_src);
		secret_ok = check_secret_text(d, secret, &hello, secret_src);
	} else
		fail(d, "secret", NULL, "no Client Secret", "give --secret-file FILE (mode 0600) "
		    "or set ZT_ACCESS_CLIENT_SECRET");
	hello.role = MUX_ROLE_CLIENT;
	util_strlcpy(hello.version, "zt/" PACKAGE_VERSION, sizeof(hello.version));

	if (url != NULL)
		check_listen(d, url);

	if ((tls = make_tls(d, pin, ca)) != NULL) {
		util_snprintf(trust, sizeof(trust), "%s", pin != NULL && ca != NULL ?
		    "the pin and the CA file" : pin != NULL ? "the pin" : ca != NULL ?
		    "the CA file" : "the system's CAs");
		memset(&p, 0, sizeof(p));
		p.host = hp.host;
		p.port = hp.port;
		p.server_name = edge_name != NULL ? edge_name : hp.host;
		p.tls = tls;
		p.trust = trust;
		p.check_host = hostname;
		if (d->no_hello)
			p.hello_skip = "--no-hello";
		else if (!id_ok || !secret_ok)
			p.hello_skip = "the credentials above are not usable";
		else
			p.hello = &hello;
		probe_edge(d, &p);
	}
	check_clock(d);
	util_cleanse(&hello, sizeof(hello));
	tls_ctx_free(tls);
	return finish(d, "access");
}

/* --- zt doctor tunnel ---------------------------------------------------------------------- */

/* The ingress rules from --hostname/--url and tunnel.ini, as zt tunnel run builds them;
 * NULL (after a check) when there are none or they are not valid. */
static struct ingress *
check_ingress(struct doctor *d, struct conf *cf, const char *hostname, const char *url)
{
	struct ingress *ing = ingress_new();
	char err[INGRESS_ERR_MAX];
	size_t nrules = cf != NULL ? conf_get_count(cf, "ingress", "rule") : 0;

	if (hostname == NULL && url == NULL && nrules == 0) {
		add(d, ST_SKIP, "ingress", NULL, NULL, "no rules given (-c tunnel.ini or --hostname "
		    "with --url): the HELLO announces no hostname and no origin is checked");
		ingress_free(ing);
		return NULL;
	}
	if (hostname != NULL || url != NULL) {
		if (hostname == NULL || url == NULL) {
			fail(d, "ingress", NULL, "--hostname and --url go together",
			    "give both, or neither and -c tunnel.ini");
			goto fail;
		}
		if (ingress_add(ing, hostname, url, err, sizeof(err)) == -1) {
			fail(d, "ingress", NULL, err, "fix the rule (zt tunnel ingress validate "
			    "checks rules alone)");
			goto fail;
		}
		if (nrules == 0)
			ingress_add(ing, "*", "http_status:404", err, sizeof(err));
	}
	for (size_t i = 0; i < nrules; i++)
		if (ingress_add_line(ing, conf_get_nth(cf, "ingress", "rule", i), err,
		    sizeof(err)) == -1) {
			fail(d, "ingress", NULL, err, "fix the rule in tunnel.ini (zt tunnel ingress "
			    "validate -c tunnel.ini checks them)");
			goto fail;
		}
	if (ingress_validate(ing, err, sizeof(err)) == -1) {
		fail(d, "ingress", NULL, err, "fix the rules (zt tunnel ingress validate checks "
		    "them): the catch-all * comes last, and no rule may hide a later one");
		goto fail;
	}
	add(d, ST_OK, "ingress", NULL, NULL, "%zu rules, valid", ingress_count(ing));
	return ing;
fail:
	ingress_free(ing);
	return NULL;
}

/* Each rule's origin, dialled as zt tunnel run would: a warning when it is down (the edge
 * still accepts the connector; its clients get ORIGIN_UNREACHABLE). */
static void
check_origins(struct doctor *d, const struct ingress *ing)
{
	for (size_t i = 0; i < ingress_count(ing); i++) {
		const struct ingress_rule *r = ingress_rule(ing, i);
		char target[INGRESS_HOST_MAX + 16], detail[512];
		double t0 = now_ms();
		int fd = -1, err = 0;

		if (r->service_kind == INGRESS_SVC_TCP) {
			struct addrinfo hints, *res = NULL;
			char port[8];
			int gai;

			format_hostport(r->host, r->port, target, sizeof(target));
			memset(&hints, 0, sizeof(hints));
			hints.ai_socktype = SOCK_STREAM;
			hints.ai_flags = AI_ADDRCONFIG;
			snprintf(port, sizeof(port), "%u", r->port);
			if ((gai = getaddrinfo(r->host, port, &hints, &res)) != 0) {
				add(d, ST_WARN, "origin", target, "fix the rule's host, or this "
				    "machine's resolver", "rule #%zu (%s): cannot resolve %s: %s", i + 1,
				    r->hostname, r->host, gai_strerror(gai));
				continue;
			}
			fd = tcp_connect(res, d->timeout_ms, &err);
			freeaddrinfo(res);
		} else if (r->service_kind == INGRESS_SVC_UNIX) {
			struct sockaddr_un sun;

			util_snprintf(target, sizeof(target), "unix:%s", r->path);
			memset(&sun, 0, sizeof(sun));
			sun.sun_family = AF_UNIX;
			util_strlcpy(sun.sun_path, r->path, sizeof(sun.sun_path));
			if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
			    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
				err = errno;
				if (fd != -1)
					close(fd);
				fd = -1;
			}
		} else
			continue;	/* hello and http_status dial nothing */
		if (fd != -1) {
			close(fd);
			add(d, ST_OK, "origin", target, NULL, "rule #%zu (%s): connected in %.1f ms",
			    i + 1, r->hostname, now_ms() - t0);
			continue;
		}
		util_snprintf(detail, sizeof(detail), "rule #%zu (%s): %s", i + 1, r->hostname,
		    err == ETIMEDOUT ? "no answer (timed out)" : strerror(err));
		add(d, ST_WARN, "origin", target, "start the service, or fix the rule's address: "
		    "until then the connector answers ORIGIN_UNREACHABLE for it", "%s", detail);
	}
}

static int
tunnel_cmd(struct doctor *d, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "token", required_argument, NULL, 'k' },
		{ "token-file", required_argument, NULL, 'K' },
		{ "config", required_argument, NULL, 'c' },
		{ "hostname", required_argument, NULL, 'H' },
		{ "url", required_argument, NULL, 'u' },
		{ "edge", required_argument, NULL, 'e' },
		{ "ha-connections", required_argument, NULL, 'a' },
		{ "grace-period", required_argument, NULL, 'g' },
		{ "status-file", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "no-hello", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *token_opt = NULL, *token_file = NULL, *config = NULL, *hostname = NULL;
	const char *url = NULL, *token_src = NULL;
	char **edges = NULL, *token = NULL, err[CONNTOKEN_ERR_MAX], idhex[40], trust[64];
	size_t nedges = 0;
	struct conf *cf = NULL;
	struct ingress *ing = NULL;
	struct conntoken tok;
	struct mux_hello hello;
	struct tls_ctx *tls = NULL;
	bool token_ok = false;
	int ch, ret = 2;

	memset(&tok, 0, sizeof(tok));
	memset(&hello, 0, sizeof(hello));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'k': token_opt = optarg; log_redact_add(optarg); break;
		case 'K': token_file = optarg; break;
		case 'c': config = optarg; break;
		case 'H': hostname = optarg; break;
		case 'u': url = optarg; break;
		case 'e':
			edges = xreallocarray(edges, nedges + 1, sizeof(*edges));
			edges[nedges++] = optarg;
			break;
		case 'a': case 'g': case 's': break;	/* zt tunnel run's: nothing to check */
		case 'j': d->json = true; break;
		case 'n': d->no_hello = true; break;
		case 'v': d->verbose = true; break;
		case 't':
			if (util_parse_duration(optarg, &d->timeout_ms, err, sizeof(err)) == -1 ||
			    d->timeout_ms == 0) {
				fprintf(stderr, "zt doctor: --timeout \"%s\": %s\n", optarg,
				    d->timeout_ms == 0 ? "give a duration such as 5s" : err);
				goto out;
			}
			break;
		case 'h':
			fputs(usage, stdout);
			ret = 0;
			goto out;
		default:
			fputs(usage, stderr);
			goto out;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "zt doctor tunnel: unexpected argument \"%s\"\n", argv[optind]);
		fputs(usage, stderr);
		goto out;
	}
	ret = 1;
	if (!doctor_loop(d))
		goto done;

	/* Configuration. */
	if (config != NULL) {
		struct capture cap;
		char *logged;
		int rc;

		cf = conf_new(tunnelconf_table);
		capture_begin(&cap);
		rc = conf_load_file(cf, config);
		logged = capture_end(d, &cap);
		if (rc == -1) {
			add(d, ST_FAIL, "config", config, "fix the file: zt tunnel run refuses it too",
			    "%s", logged);
			conf_free(cf);
			cf = NULL;
		} else
			add(d, ST_OK, "config", config, NULL, "read: %zu ingress rules, %zu edges, "
			    "token_file %s", conf_get_count(cf, "ingress", "rule"),
			    conf_get_count(cf, "tunnel", "edge"), conf_get(cf, "tunnel",
			    "token_file") != NULL ? conf_get(cf, "tunnel", "token_file") : "unset");
		free(logged);
	}
	if (token_file == NULL && cf != NULL && conf_get(cf, "tunnel", "token_file") != NULL) {
		token_file = conf_get(cf, "tunnel", "token_file");
		token_src = "token_file in tunnel.ini";
	} else if (token_file != NULL)
		token_src = "--token-file";

	/* The token: where from, then what it holds. */
	if (token_opt != NULL) {
		add(d, ST_WARN, "token-source", NULL, "put the token in a file of mode 0600 and give "
		    "--token-file FILE, or set ZT_TUNNEL_TOKEN", "given with --token: every user of "
		    "this machine can read it (ps, /proc)");
		token = xstrdup(token_opt);
	} else if (token_file != NULL) {
		if ((token = check_secret_file(d, "token-file", token_file, CONNTOKEN_MAX + 64))
		    != NULL)
			log_redact_add(token);
	} else {
		const char *env = getenv2("ZT_TUNNEL_TOKEN", "TUNNEL_TOKEN");

		if (env != NULL) {
			token_src = getenv("ZT_TUNNEL_TOKEN") != NULL && *getenv("ZT_TUNNEL_TOKEN") ?
			    "$ZT_TUNNEL_TOKEN" : "$TUNNEL_TOKEN";
			add(d, ST_OK, "token-source", NULL, NULL, "%s", token_src);
			token = xstrdup(env);
			log_redact_add(token);
		} else
			fail(d, "token-source", NULL, "no connector token", "give --token-file FILE, "
			    "token_file in tunnel.ini (-c), or set ZT_TUNNEL_TOKEN: the token zt tunnel "
			    "create printed");
	}
	if (token != NULL) {
		if (conntoken_decode(token, &tok, err, sizeof(err)) == -1)
			fail(d, "token", NULL, err, "copy the whole token zt tunnel create printed "
			    "(one line starting with zt1_), or make a new one");
		else {
			token_ok = true;
			util_hex_encode(tok.tunnel_id, sizeof(tok.tunnel_id), idhex, sizeof(idhex));
			add(d, tok.pin[0] != '\0' ? ST_OK : ST_WARN, "token", NULL, tok.pin[0] != '\0' ?
			    NULL : "nothing to do if the edge has a certificate from a public CA; "
			    "otherwise make the token with the edge's ca_file set (zt tunnel create)",
			    "tunnel %s, %zu edge%s, %s%s%s", idhex, tok.nedges, tok.nedges == 1 ? "" :
			    "s", tok.pin[0] != '\0' ? "the edge's CA pinned" : "no pin: the system's "
			    "CAs verify the edge", tok.server_name[0] != '\0' ? ", server name " : "",
			    tok.server_name);
		}
		util_cleanse(token, strlen(token));
		free(token);
		token = NULL;
	}

	/* Ingress rules and their origins. */
	if ((ing = check_ingress(d, cf, hostname, url)) != NULL)
		check_origins(d, ing);

	/* The edges: --edge, then tunnel.ini's, else the token's. */
	if (token_ok && (nedges > 0 || (cf != NULL && conf_get_count(cf, "tunnel", "edge") > 0))) {
		struct conntoken tmp = tok;

		tmp.nedges = 0;
		for (size_t i = 0; i < nedges; i++)
			if (conntoken_add_edge(&tmp, edges[i], 7844, err, sizeof(err)) == -1) {
				add(d, ST_FAIL, "config", edges[i], "give the edge as HOST:PORT",
				    "--edge: %s", err);
				token_ok = false;
			}
		for (size_t i = 0; cf != NULL && i < conf_get_count(cf, "tunnel", "edge"); i++)
			if (conntoken_add_edge(&tmp, conf_get_nth(cf, "tunnel", "edge", i), 7844, err,
			    sizeof(err)) == -1) {
				add(d, ST_FAIL, "config", conf_get_nth(cf, "tunnel", "edge", i),
				    "give the edge as HOST:PORT", "edge = in tunnel.ini: %s", err);
				token_ok = false;
			}
		tok.nedges = tmp.nedges;
		memcpy(tok.edges, tmp.edges, sizeof(tok.edges));
		util_cleanse(&tmp, sizeof(tmp));
	}
	if (!token_ok) {
		add(d, ST_SKIP, "edge", NULL, NULL, "not tried: no usable connector token (it names "
		    "the edges, their pin and the tunnel's credentials)");
		check_clock(d);
		goto done;
	}

	hello.role = MUX_ROLE_CONNECTOR;
	hello.has_tunnel_id = hello.has_tunnel_secret = hello.has_connector_id = true;
	memcpy(hello.tunnel_id, tok.tunnel_id, sizeof(hello.tunnel_id));
	memcpy(hello.tunnel_secret, tok.secret, sizeof(hello.tunnel_secret));
	util_random_bytes(hello.connector_id, sizeof(hello.connector_id));
	util_strlcpy(hello.version, "zt/" PACKAGE_VERSION, sizeof(hello.version));
	/* The hostnames zt tunnel run would announce, so that the edge checks them. */
	for (size_t i = 0; ing != NULL && i < ingress_count(ing) &&
	    hello.nhostnames < MUX_MAX_HOSTNAMES; i++) {
		const struct ingress_rule *r = ingress_rule(ing, i);

		if (r->host_kind != INGRESS_HOST_ANY && r->service_kind != INGRESS_SVC_HTTP_STATUS)
			util_strlcpy(hello.hostnames[hello.nhostnames++], r->hostname,
			    sizeof(hello.hostnames[0]));
	}
	if ((tls = make_tls(d, tok.pin[0] != '\0' ? tok.pin : NULL, NULL)) != NULL) {
		util_strlcpy(trust, tok.pin[0] != '\0' ? "the token's pin" : "the system's CAs",
		    sizeof(trust));
		for (size_t i = 0; i < tok.nedges; i++) {
			struct probe p;

			memset(&p, 0, sizeof(p));
			p.host = tok.edges[i].host;
			p.port = tok.edges[i].port;
			p.server_name = tok.server_name[0] != '\0' ? tok.server_name :
			    tok.edges[i].host;
			p.tls = tls;
			p.trust = trust;
			p.connector = true;
			if (d->no_hello)
				p.hello_skip = "--no-hello";
			else
				p.hello = &hello;
			probe_edge(d, &p);
		}
	}
	check_clock(d);
done:
	ret = finish(d, "tunnel");
out:
	util_cleanse(&hello, sizeof(hello));
	conntoken_clear(&tok);
	tls_ctx_free(tls);
	ingress_free(ing);
	conf_free(cf);
	free(edges);
	return ret;
}

int
doctor_main(int argc, char **argv)
{
	struct doctor d;
	int ret;

	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	memset(&d, 0, sizeof(d));
	d.timeout_ms = DOCTOR_TIMEOUT_MS;
	d.color = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
	/* What common modules log goes into the checks' details, or to stderr with -v. */
	if (strcmp(argv[1], "access") != 0 && strcmp(argv[1], "tunnel") != 0) {
		fprintf(stderr, "zt doctor: unknown command \"%s\": access or tunnel\n", argv[1]);
		fputs(usage, stderr);
		return 2;
	}
	for (int i = 2; i < argc; i++)
		if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0)
			d.verbose = true;
	log_set_format(LOG_FORMAT_TEXT);
	if (d.verbose) {
		log_set_level(LOG_LEVEL_DEBUG);
		d.logsink = stderr;
	} else if ((d.logsink = fopen("/dev/null", "we")) == NULL)
		d.logsink = stderr;
	log_set_output(d.logsink);
	if (strcmp(argv[1], "access") == 0)
		ret = access_cmd(&d, argc - 1, argv + 1);
	else
		ret = tunnel_cmd(&d, argc - 1, argv + 1);
	log_set_output(NULL);
	doctor_free(&d);
	return ret;
}
