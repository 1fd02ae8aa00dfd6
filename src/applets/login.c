/* login: `zt login`, a person signs in to an edge with the OAuth 2.0 device authorization grant
 * (RFC 8628) and keeps the login token for zt access (doc/identity.md, "The client"). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "applets.h"
#include "common/ev.h"
#include "common/httpc.h"
#include "common/log.h"
#include "common/loginfile.h"
#include "common/mux.h"
#include "common/qr.h"
#include "common/util.h"

static const char usage[] =
"usage: zt login URL [--edge-ca FILE | --edge-pin PIN] [--edge-name NAME]\n"
"       zt login --status [URL]\n"
"\n"
"Signs in to the edge at URL (https://HOST[:PORT], the edge's name and port) with a code:\n"
"zt login prints a web address and a code, you open the address in any browser (on any\n"
"device), sign in there and approve the code; zt login then keeps the login in\n"
"$XDG_CONFIG_HOME/zt/logins.json (~/.config/zt/), and zt access uses it. It never opens\n"
"a browser itself.\n"
"\n"
"  --edge-ca FILE        the edge's CA certificate (default: the system's CAs)\n"
"  --edge-pin sha256//...  the edge CA's pin (or $ZT_EDGE_PIN)\n"
"  --edge-name NAME      the name the edge's certificate must carry (and the SNI sent);\n"
"                        default the host of URL\n"
"  --status              who is logged in to which edge, until when (exit 1: no valid\n"
"                        login)\n"
"  --log-level LEVEL     error, warn, info (default) or debug\n"
"  --log-format FORMAT   auto, text or json\n"
"\n"
"The trust options are kept with the login: zt access reaches the edge the same way.\n"
"zt logout [URL] signs out.\n";

#define LOGIN_HTTP_TIMEOUT	15000	/* ms, for each request */
#define LOGIN_CODE_MAX		256	/* device_code, user_code */
#define LOGIN_URI_MAX		1024

struct login {
	struct event_base *base;
	struct ev_signals *sig;
	bool		 stop;
	bool		 woke;
	struct httpc_url url;
	struct httpc_request req;
	char		 form[2048];
};

static void
login_on_stop(int signo, int count, void *arg)
{
	struct login *l = arg;

	l->stop = true;
	event_base_loopbreak(l->base);
}

/* SIGHUP: the terminal went away, nobody will approve the code here. */
static void
login_on_hup(void *arg)
{
	login_on_stop(SIGHUP, 1, arg);
}

static void
login_wake(void *arg)
{
	((struct login *)arg)->woke = true;
}

/* Waits ms, or less when a stop signal comes; false when stopped. */
static bool
login_sleep(struct login *l, uint64_t ms)
{
	struct ev_timer *t = ev_timer_new(l->base, login_wake, l);

	l->woke = false;
	ev_timer_start(t, ms, false);
	while (!l->woke && !l->stop)
		event_base_loop(l->base, EVLOOP_ONCE);
	ev_timer_free(t);
	return !l->stop;
}

/* A string member of o made only of printable ASCII (what the edge sends us to print on a
 * terminal): NULL when absent, too long or with anything else. */
static const char *
json_text(json_t *o, const char *name, size_t max)
{
	json_t *v = json_object_get(o, name);
	const char *s;

	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max)
		return NULL;
	s = json_string_value(v);
	for (const char *p = s; *p != '\0'; p++)
		if (*p < 0x21 || *p > 0x7e)
			return NULL;
	if (strlen(s) != json_string_length(v))
		return NULL;
	return s;
}

/* A JWS compact token: three base64url parts, at most LOGINFILE_TOKEN_MAX bytes. */
static bool
token_shape_ok(const char *t)
{
	size_t dots = 0, n = strlen(t);

	if (n == 0 || n > LOGINFILE_TOKEN_MAX)
		return false;
	for (const char *p = t; *p != '\0'; p++) {
		if (*p == '.')
			dots++;
		else if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return false;
	}
	return dots == 2;
}

/* The email and exp claims of a token, read without verifying it (for display and our own
 * bookkeeping: the edge verifies). */
static void
token_peek(const char *token, char *email, size_t emaillen, int64_t *exp)
{
	const char *p1 = strchr(token, '.'), *p2;
	uint8_t payload[LOGINFILE_TOKEN_MAX];
	json_t *root, *v;
	ssize_t n;

	email[0] = '\0';
	*exp = -1;
	if (p1 == NULL || (p2 = strchr(p1 + 1, '.')) == NULL)
		return;
	if ((n = util_b64url_decode(p1 + 1, (size_t)(p2 - p1 - 1), payload, sizeof(payload))) <= 0)
		return;
	if ((root = json_loadb((const char *)payload, (size_t)n, JSON_REJECT_DUPLICATES, NULL)) ==
	    NULL)
		return;
	if (json_is_object(root)) {
		const char *e = json_text(root, "email", emaillen - 1);

		if (e != NULL)
			util_strlcpy(email, e, emaillen);
		if (json_is_integer(v = json_object_get(root, "exp")) && json_integer_value(v) > 0)
			*exp = json_integer_value(v);
	}
	json_decref(root);
}

/* POSTs l->form to path; 0 with resp, or -1 after saying why. */
static int
login_post(struct login *l, const char *path, struct httpc_response *resp)
{
	char err[HTTPC_ERR_MAX];

	l->req.method = "POST";
	l->req.path = path;
	l->req.form = l->form;
	if (httpc_do(l->base, &l->req, resp, err, sizeof(err)) == -1) {
		if (!l->stop)
			log_errorx("%s%s: %s", l->url.base, path, err);
		return -1;
	}
	return 0;
}

/* Says what an unexpected answer of the edge was. */
static void
login_bad_answer(struct login *l, const char *path, const struct httpc_response *r)
{
	char code[64], desc[256];

	if (httpc_oauth_error(r, code, sizeof(code), desc, sizeof(desc)))
		log_errorx("%s%s answered %d: %s%s%s", l->url.base, path, r->status, code,
		    desc[0] != '\0' ? ": " : "", desc);
	else
		log_errorx("%s%s answered %d, not what an edge answers: is this zt's edge, with "
		    "identity set up (doc/identity.md)?", l->url.base, path, r->status);
}

/* Prints the login records (all, or the one of key) for --status; the exit status. */
static int
login_status(const char *url)
{
	struct loginfile_rec *recs = NULL, one;
	char err[LOGINFILE_ERR_MAX], when[32], left[32];
	size_t n = 0;
	int valid = 0, r;
	time_t now = time(NULL);

	if (url != NULL) {
		struct httpc_url u;

		if (httpc_url_parse(url, &u, err, sizeof(err)) == -1) {
			log_errorx("URL \"%s\": %s", url, err);
			return 2;
		}
		if ((r = loginfile_get(u.key, &one, err, sizeof(err))) == -1) {
			log_errorx("%s", err);
			return 1;
		}
		if (r == 0) {
			printf("not logged in to %s\n", u.base);
			return 1;
		}
		recs = xmalloc(sizeof(*recs));
		recs[0] = one;
		util_cleanse(&one, sizeof(one));
		n = 1;
	} else if (loginfile_list(&recs, &n, err, sizeof(err)) == -1) {
		log_errorx("%s", err);
		return 1;
	}
	if (n == 0)
		printf("not logged in\n");
	for (size_t i = 0; i < n; i++) {
		loginfile_time_format(recs[i].expires, when, sizeof(when));
		if (recs[i].expires <= now) {
			printf("%s: %s, expired at %s: run zt login %s\n", recs[i].edge,
			    recs[i].email[0] != '\0' ? recs[i].email : "(no email)", when,
			    recs[i].edge);
			continue;
		}
		valid++;
		util_format_duration((uint64_t)(recs[i].expires - now) * 1000, left, sizeof(left));
		printf("%s: %s until %s (%s left)\n", recs[i].edge, recs[i].email[0] != '\0' ?
		    recs[i].email : "(no email)", when, left);
	}
	loginfile_list_free(recs, n);
	return valid > 0 ? 0 : 1;
}

/* RFC 8628 3.1 and 3.2: asks for a code and shows it; 0, or -1 after saying why. */
static int
device_code(struct login *l, char *device, size_t devlen, uint64_t *interval_ms,
    uint64_t *expires_ms)
{
	struct httpc_response r;
	const char *dc, *uc, *vu, *vuc;
	json_t *root = NULL, *v;
	int ret = -1;

	l->form[0] = '\0';
	httpc_form_add(l->form, sizeof(l->form), "client_id", "zt");
	if (login_post(l, "/oauth/device/code", &r) == -1)
		return -1;
	if (r.status != 200) {
		login_bad_answer(l, "/oauth/device/code", &r);
		goto out;
	}
	if ((root = json_loadb(r.body, r.body_len, JSON_REJECT_DUPLICATES, NULL)) == NULL ||
	    !json_is_object(root) ||
	    (dc = json_text(root, "device_code", LOGIN_CODE_MAX)) == NULL ||
	    (uc = json_text(root, "user_code", 32)) == NULL ||
	    (vu = json_text(root, "verification_uri", LOGIN_URI_MAX)) == NULL ||
	    strncmp(vu, "https://", 8) != 0) {
		log_errorx("%s/oauth/device/code: the answer is not a device authorization "
		    "(RFC 8628 3.2: device_code, user_code, verification_uri)", l->url.base);
		goto out;
	}
	vuc = json_text(root, "verification_uri_complete", LOGIN_URI_MAX);
	if (vuc != NULL && strncmp(vuc, "https://", 8) != 0)
		vuc = NULL;
	*interval_ms = 5000;
	if (json_is_integer(v = json_object_get(root, "interval")) && json_integer_value(v) >= 1 &&
	    json_integer_value(v) <= 300)
		*interval_ms = (uint64_t)json_integer_value(v) * 1000;
	*expires_ms = 600 * 1000;
	if (json_is_integer(v = json_object_get(root, "expires_in")) &&
	    json_integer_value(v) >= 1 && json_integer_value(v) <= 86400)
		*expires_ms = (uint64_t)json_integer_value(v) * 1000;
	util_strlcpy(device, dc, devlen);
	log_redact_add(device);

	fprintf(stderr, "To sign in, open %s and enter code %s\n", vu, uc);
	if (vuc != NULL) {
		fprintf(stderr, "(or open %s)\n", vuc);
		/* A phone's camera reads it off the screen: no typing of the code. */
		if (isatty(STDERR_FILENO))
			qr_print(stderr, vuc, qr_locale_utf8());
	}
	fprintf(stderr, "Waiting for the approval (Ctrl-C to give up)...\n");
	ret = 0;
out:
	json_decref(root);
	httpc_response_free(&r);
	return ret;
}

/* RFC 8628 3.4 and 3.5: polls until the token comes; it goes into token. 0, 1 when stopped,
 * or -1 after saying why. */
static int
device_poll(struct login *l, const char *device, uint64_t interval_ms, uint64_t expires_ms,
    char *token, size_t toklen, int64_t *expires_in)
{
	struct timespec ts;
	uint64_t start, now;
	unsigned failures = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	start = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	for (;;) {
		struct httpc_response r;
		char code[64], desc[256];

		if (!login_sleep(l, interval_ms))
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
		if (now - start > expires_ms + 5000) {
			log_errorx("the code expired before it was approved: run zt login %s again",
			    l->url.base);
			return -1;
		}
		l->form[0] = '\0';
		if (!httpc_form_add(l->form, sizeof(l->form), "grant_type",
		    "urn:ietf:params:oauth:grant-type:device_code") ||
		    !httpc_form_add(l->form, sizeof(l->form), "device_code", device) ||
		    !httpc_form_add(l->form, sizeof(l->form), "client_id", "zt"))
			fatalx("device_poll: the form does not fit");
		if (login_post(l, "/oauth/token", &r) == -1) {
			if (l->stop)
				return 1;
			/* The edge may be restarting: keep trying while the code lives. */
			if (++failures >= 5)
				return -1;
			log_warnx("will ask again");
			continue;
		}
		failures = 0;
		if (r.status == 200) {
			json_t *root = json_loadb(r.body, r.body_len, JSON_REJECT_DUPLICATES, NULL);
			json_t *v;
			const char *t = root != NULL && json_is_object(root) ?
			    json_text(root, "access_token", LOGINFILE_TOKEN_MAX) : NULL;
			bool ok = t != NULL && token_shape_ok(t) && util_strlcpy(token, t, toklen);

			*expires_in = 0;
			if (ok && json_is_integer(v = json_object_get(root, "expires_in")))
				*expires_in = json_integer_value(v);
			json_decref(root);
			httpc_response_free(&r);
			if (!ok) {
				log_errorx("%s/oauth/token: the answer holds no login token",
				    l->url.base);
				return -1;
			}
			log_redact_add(token);
			return 0;
		}
		if (r.status != 400 || !httpc_oauth_error(&r, code, sizeof(code), desc,
		    sizeof(desc))) {
			login_bad_answer(l, "/oauth/token", &r);
			httpc_response_free(&r);
			return -1;
		}
		httpc_response_free(&r);
		if (strcmp(code, "authorization_pending") == 0)
			continue;
		if (strcmp(code, "slow_down") == 0) {
			interval_ms += 5000;
			log_debug("the edge asks to slow down: polling every %llu s",
			    (unsigned long long)(interval_ms / 1000));
			continue;
		}
		if (strcmp(code, "expired_token") == 0)
			log_errorx("the code expired before it was approved: run zt login %s again",
			    l->url.base);
		else if (strcmp(code, "access_denied") == 0)
			log_errorx("the sign-in was denied on the edge's page: not logged in");
		else if (strcmp(code, "invalid_grant") == 0)
			log_errorx("the edge no longer knows this code (used already, or the edge "
			    "restarted): run zt login %s again", l->url.base);
		else
			log_errorx("the edge refused: %s%s%s", code, desc[0] != '\0' ? ": " : "",
			    desc);
		return -1;
	}
}

int
login_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "edge-ca", required_argument, NULL, 'C' },
		{ "edge-pin", required_argument, NULL, 'p' },
		{ "edge-name", required_argument, NULL, 'N' },
		{ "status", no_argument, NULL, 's' },
		{ "log-format", required_argument, NULL, 'F' },
		{ "log-level", required_argument, NULL, 'G' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct login *l = xcalloc(1, sizeof(*l));
	struct loginfile_rec rec;
	const char *url, *ca = NULL, *pin = NULL, *edge_name = NULL;
	char err[LOGINFILE_ERR_MAX], device[LOGIN_CODE_MAX + 1], ca_abs[PATH_MAX];
	uint64_t interval_ms, expires_ms;
	int64_t expires_in = 0;
	bool status = false;
	int ch, r, ret = 2;

	memset(&rec, 0, sizeof(rec));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'C': ca = optarg; break;
		case 'p': pin = optarg; break;
		case 'N': edge_name = optarg; break;
		case 's': status = true; break;
		case 'F':
		case 'G':
			if (log_apply_flag("zt login", ch == 'F', optarg) == -1)
				goto out;
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
	if (status) {
		if (argc - optind > 1 || ca != NULL || pin != NULL || edge_name != NULL) {
			fputs("zt login: --status takes at most the edge's URL\n", stderr);
			fputs(usage, stderr);
			goto out;
		}
		ret = login_status(optind < argc ? argv[optind] : NULL);
		goto out;
	}
	if (argc - optind != 1) {
		fputs("zt login: give the edge's URL, e.g. zt login https://edge.example.com\n",
		    stderr);
		fputs(usage, stderr);
		goto out;
	}
	url = argv[optind];
	if (httpc_url_parse(url, &l->url, err, sizeof(err)) == -1) {
		log_errorx("URL \"%s\": %s", url, err);
		goto out;
	}
	if (pin == NULL && (pin = getenv("ZT_EDGE_PIN")) != NULL && *pin == '\0')
		pin = NULL;
	if (edge_name != NULL && !mux_hostname_valid(edge_name, false)) {
		log_errorx("--edge-name \"%s\" is not a host name", edge_name);
		goto out;
	}
	if (pin != NULL && strlen(pin) >= sizeof(rec.pin)) {
		log_errorx("--edge-pin: \"%.80s\" is not a pin (sha256//BASE64)", pin);
		goto out;
	}
	/* zt access reads the CA from wherever it runs: keep its absolute path. */
	if (ca != NULL) {
		if (realpath(ca, ca_abs) == NULL || access(ca_abs, R_OK) == -1) {
			log_error("--edge-ca \"%s\"", ca);
			goto out;
		}
		if (strlen(ca_abs) >= sizeof(rec.ca_file)) {
			log_errorx("--edge-ca \"%s\": the path is too long", ca);
			goto out;
		}
		ca = ca_abs;
	}
	ret = 1;
	if ((l->base = ev_base_new()) == NULL)
		goto out;
	l->sig = ev_signals_new(l->base, login_on_stop, login_on_hup, NULL, l);
	l->req.host = l->url.host;
	l->req.port = l->url.port;
	l->req.server_name = edge_name;
	l->req.ca_file = ca;
	l->req.pin = pin;
	l->req.timeout_ms = LOGIN_HTTP_TIMEOUT;
	l->req.stop = &l->stop;

	if (device_code(l, device, sizeof(device), &interval_ms, &expires_ms) == -1)
		goto stopped;
	r = device_poll(l, device, interval_ms, expires_ms, rec.token, sizeof(rec.token),
	    &expires_in);
	util_cleanse(device, sizeof(device));
	if (r != 0)
		goto stopped;

	util_strlcpy(rec.key, l->url.key, sizeof(rec.key));
	util_strlcpy(rec.edge, l->url.base, sizeof(rec.edge));
	token_peek(rec.token, rec.email, sizeof(rec.email), &rec.expires);
	if (rec.expires <= 0)
		rec.expires = (int64_t)time(NULL) + (expires_in > 0 ? expires_in : 3600);
	if (ca != NULL)
		util_strlcpy(rec.ca_file, ca, sizeof(rec.ca_file));
	if (pin != NULL)
		util_strlcpy(rec.pin, pin, sizeof(rec.pin));
	if (edge_name != NULL)
		util_strlcpy(rec.edge_name, edge_name, sizeof(rec.edge_name));
	if (loginfile_put(&rec, err, sizeof(err)) == -1) {
		log_errorx("signed in, but the login cannot be kept: %s", err);
		goto out;
	}
	{
		char when[32];

		loginfile_time_format(rec.expires, when, sizeof(when));
		fprintf(stderr, "Logged in to %s as %s until %s.\n", rec.edge,
		    rec.email[0] != '\0' ? rec.email : "(no email in the token)", when);
	}
	ret = 0;
	goto out;
stopped:
	if (l->stop) {
		fputs("zt login: cancelled: not logged in\n", stderr);
		ret = 130;
	}
out:
	util_cleanse(&rec, sizeof(rec));
	util_cleanse(l->form, sizeof(l->form));
	ev_signals_free(l->sig);
	if (l->base != NULL)
		ev_base_free(l->base);
	free(l);
	log_redact_clear();
	return ret;
}
