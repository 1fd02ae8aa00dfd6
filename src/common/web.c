/* web: the edge's web side (doc/identity.md, "HTTP"): sign-in, device approval and sign-out
 * pages (plain HTML, no JavaScript), the device authorization grant (RFC 8628), app tokens,
 * revocation (RFC 7009) and the JWKS (RFC 7517); password checks on a worker thread. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "edgeconf.h"
#include "httpd.h"
#include "jwt.h"
#include "log.h"
#include "policy.h"
#include "revoked.h"
#include "users.h"
#include "util.h"
#include "web.h"

#define SESSION_COOKIE		"__Host-zt_session"
#define PRE_COOKIE		"__Host-zt_pre"
#define COOKIE_ATTRS		"HttpOnly; Secure; SameSite=Lax; Path=/"
#define PRE_MAX_AGE		3600
#define DEVICE_GRANT		"urn:ietf:params:oauth:grant-type:device_code"
#define FORM_TYPE		"application/x-www-form-urlencoded"

static const char security_headers[] =
    "Content-Security-Policy: default-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "X-Frame-Options: DENY\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "Strict-Transport-Security: max-age=31536000\r\n"
    "Cross-Origin-Opener-Policy: same-origin\r\n";

static const char stylesheet[] =
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;"
    "line-height:1.5;color:#1a1a1a;background:#fff}\n"
    "h1{font-size:1.5rem}\n"
    "label{display:block;margin-top:1rem;font-weight:600}\n"
    "input[type=email],input[type=password],input[type=text]{width:100%;padding:.5rem;"
    "font-size:1rem;box-sizing:border-box;border:1px solid #666;border-radius:4px}\n"
    "button{margin-top:1.25rem;margin-right:.5rem;padding:.5rem 1.25rem;font-size:1rem;"
    "border-radius:4px;border:1px solid #1a4d8f;background:#1a4d8f;color:#fff}\n"
    "button.secondary{background:#fff;color:#1a4d8f}\n"
    ".error{color:#a00;font-weight:600}\n"
    ".code{font-family:monospace;font-size:1.5rem;letter-spacing:.15rem}\n"
    "@media (prefers-color-scheme:dark){body{background:#111;color:#eee}"
    "input{background:#222;color:#eee}}\n";

/* --- device codes ---------------------------------------------------------------------------- */

enum device_state { DEV_PENDING = 0, DEV_APPROVED, DEV_DENIED, DEV_USED };

struct device {
	char		 device_code[WEB_CODE_B64_LEN + 1];
	char		 user_code[WEB_USER_CODE_LEN + 1];
	enum device_state state;
	time_t		 expires;
	time_t		 last_poll;	/* 0: never polled */
	int		 interval;
	char		*token;
	int64_t		 token_exp;
	bool		 used;		/* slot in use */
};

struct web_devices {
	struct device	 v[WEB_DEVICES_MAX];
};

struct web_devices *
web_devices_new(void)
{
	return xcalloc(1, sizeof(struct web_devices));
}

static void
device_clear(struct device *dv)
{
	if (dv->token != NULL) {
		util_cleanse(dv->token, strlen(dv->token));
		free(dv->token);
	}
	memset(dv, 0, sizeof(*dv));
}

void
web_devices_free(struct web_devices *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < WEB_DEVICES_MAX; i++)
		device_clear(&d->v[i]);
	free(d);
}

/* Drops codes expired for longer than a TTL (until then they answer expired_token) and used
 * or denied codes past their expiry. */
static void
devices_gc(struct web_devices *d, time_t now)
{
	for (size_t i = 0; i < WEB_DEVICES_MAX; i++)
		if (d->v[i].used && now >= d->v[i].expires + WEB_DEVICE_TTL)
			device_clear(&d->v[i]);
}

static struct device *
device_by_user_code(struct web_devices *d, const char *code)
{
	for (size_t i = 0; i < WEB_DEVICES_MAX; i++)
		if (d->v[i].used && strcmp(d->v[i].user_code, code) == 0)
			return &d->v[i];
	return NULL;
}

size_t
web_devices_count(const struct web_devices *d)
{
	size_t n = 0;

	for (size_t i = 0; i < WEB_DEVICES_MAX; i++)
		n += d->v[i].used;
	return n;
}

int
web_device_start(struct web_devices *d, time_t now, char *device_code, char *user_code)
{
	static const char alphabet[] = WEB_USER_CODE_ALPHABET;
	struct device *slot = NULL;
	uint8_t raw[32];

	devices_gc(d, now);
	for (size_t i = 0; i < WEB_DEVICES_MAX && slot == NULL; i++)
		if (!d->v[i].used)
			slot = &d->v[i];
	if (slot == NULL) {
		/* Reuse a code that can no longer be approved: expired, denied or used. */
		for (size_t i = 0; i < WEB_DEVICES_MAX && slot == NULL; i++)
			if (d->v[i].state != DEV_PENDING && d->v[i].state != DEV_APPROVED)
				slot = &d->v[i];
		for (size_t i = 0; i < WEB_DEVICES_MAX && slot == NULL; i++)
			if (now >= d->v[i].expires)
				slot = &d->v[i];
		if (slot == NULL)
			return -1;
		device_clear(slot);
	}
	util_random_bytes(raw, sizeof(raw));
	util_b64url_encode(raw, sizeof(raw), slot->device_code, sizeof(slot->device_code));
	do {
		/* 20 letters: 8 of them carry 34.5 bits; tried online at most 5 s apart. */
		for (int i = 0; i < WEB_USER_CODE_LEN; i++)
			slot->user_code[i] = alphabet[util_random_uniform(sizeof(alphabet) - 1)];
		slot->user_code[WEB_USER_CODE_LEN] = '\0';
	} while (device_by_user_code(d, slot->user_code) != NULL);
	slot->used = true;
	slot->state = DEV_PENDING;
	slot->expires = now + WEB_DEVICE_TTL;
	slot->interval = WEB_DEVICE_INTERVAL;
	memcpy(device_code, slot->device_code, sizeof(slot->device_code));
	memcpy(user_code, slot->user_code, sizeof(slot->user_code));
	return 0;
}

enum web_poll
web_device_poll(struct web_devices *d, const char *device_code, time_t now, char **token,
    int64_t *exp)
{
	struct device *dv = NULL;
	size_t n = strlen(device_code);

	*token = NULL;
	if (n != WEB_CODE_B64_LEN)
		return WEB_POLL_INVALID;
	for (size_t i = 0; i < WEB_DEVICES_MAX && dv == NULL; i++)
		if (d->v[i].used && util_ct_equal(d->v[i].device_code, device_code, n))
			dv = &d->v[i];
	if (dv == NULL || dv->state == DEV_USED)
		return WEB_POLL_INVALID;
	if (now >= dv->expires)
		return WEB_POLL_EXPIRED;
	if (dv->state == DEV_DENIED)
		return WEB_POLL_DENIED;
	if (dv->last_poll != 0 && now - dv->last_poll < dv->interval) {
		/* RFC 8628 3.5: the interval grows by 5 s for this and every later request. */
		dv->interval += WEB_DEVICE_INTERVAL;
		dv->last_poll = now;
		return WEB_POLL_SLOW_DOWN;
	}
	dv->last_poll = now;
	if (dv->state == DEV_PENDING)
		return WEB_POLL_PENDING;
	*token = dv->token;
	*exp = dv->token_exp;
	dv->token = NULL;
	dv->state = DEV_USED;
	return WEB_POLL_OK;
}

bool
web_device_pending(const struct web_devices *d, const char *user_code, time_t now)
{
	for (size_t i = 0; i < WEB_DEVICES_MAX; i++)
		if (d->v[i].used && strcmp(d->v[i].user_code, user_code) == 0)
			return d->v[i].state == DEV_PENDING && now < d->v[i].expires;
	return false;
}

int
web_device_decide(struct web_devices *d, const char *user_code, time_t now, bool approve,
    const char *token, int64_t exp)
{
	struct device *dv = device_by_user_code(d, user_code);

	if (dv == NULL || dv->state != DEV_PENDING || now >= dv->expires)
		return -1;
	if (approve) {
		dv->token = xstrdup(token);
		dv->token_exp = exp;
		dv->state = DEV_APPROVED;
	} else
		dv->state = DEV_DENIED;
	return 0;
}

bool
web_user_code_normalise(const char *in, char *out)
{
	size_t n = 0;
	bool dash = false;

	while (*in == ' ' || *in == '\t')
		in++;
	for (; *in != '\0'; in++) {
		char c = *in;

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c == '-' && n == 4 && !dash) {
			dash = true;
			continue;
		}
		if (c == ' ' || c == '\t') {
			while (*in == ' ' || *in == '\t')
				in++;
			if (*in != '\0')
				return false;
			break;
		}
		if (n >= WEB_USER_CODE_LEN || c == '\0' ||
		    strchr(WEB_USER_CODE_ALPHABET, c) == NULL)
			return false;
		out[n++] = c;
	}
	out[n] = '\0';
	return n == WEB_USER_CODE_LEN;
}

void
web_user_code_format(const char *code, char *out)
{
	snprintf(out, 10, "%.4s-%.4s", code, code + 4);
}

bool
web_next_valid(const char *next)
{
	size_t n = strlen(next);

	if (n == 0 || n > WEB_NEXT_MAX || next[0] != '/' || next[1] == '/' || next[1] == '\\')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)next[i] <= 0x20 || (unsigned char)next[i] >= 0x7f ||
		    next[i] == '\\')
			return false;
	return true;
}

void
web_csrf_token(const uint8_t *key, const char *pre, char *out)
{
	uint8_t mac[32];
	unsigned int maclen = sizeof(mac);
	char msg[128];

	snprintf(msg, sizeof(msg), "zt-pre:%s", pre);
	HMAC(EVP_sha256(), key, 32, (const uint8_t *)msg, strlen(msg), mac, &maclen);
	util_b64url_encode(mac, sizeof(mac), out, WEB_CODE_B64_LEN + 1);
}

bool
web_csrf_check(const uint8_t *key, const char *pre, const char *token)
{
	char want[WEB_CODE_B64_LEN + 1];

	if (strlen(pre) != WEB_CODE_B64_LEN || strlen(token) != WEB_CODE_B64_LEN)
		return false;
	web_csrf_token(key, pre, want);
	return util_ct_equal(want, token, WEB_CODE_B64_LEN);
}

/* --- web sessions ---------------------------------------------------------------------------- */

struct session {
	char		 id[WEB_CODE_B64_LEN + 1];
	char		 csrf[WEB_CODE_B64_LEN + 1];
	char		 email[USERS_EMAIL_MAX + 1];
	time_t		 auth_time, expires;
};

/* --- the password worker ----------------------------------------------------------------- */

struct job {
	uint64_t	 req;		/* httpd's id of the deferred request */
	char		 email[USERS_EMAIL_MAX + 1];
	char		 password[USERS_PASSWORD_MAX + 1];
	char		 totp[16];
	char		 next[WEB_NEXT_MAX + 1];
	char		 pre[WEB_CODE_B64_LEN + 1];
	struct sockaddr_storage from;
	char		 addr[64];
	enum users_verdict verdict;
	struct user_info user;
	struct job	*link;
};

struct web {
	struct event_base *base;
	struct httpd	*httpd;
	char		*state_dir;
	web_audit_fn	 audit;
	void		*audit_arg;
	const struct edgeconf *conf;
	const struct users *users;
	const struct revoked *revoked;
	const struct jwt_keyset *keys;
	char		*jwks;		/* of keys, made when keys change */
	struct web_devices *devices;
	struct session	*sessions;
	size_t		 nsessions;
	struct loginlimit *limit;
	uint8_t		 csrf_key[32];
	/* The worker: jobs queued (todo) and answered (done), both under mu. */
	pthread_t	 thread;
	bool		 thread_started, stop;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct job	*todo, *done;
	size_t		 njobs;		/* queued or running */
	int		 pipe[2];	/* the worker wakes the loop */
	struct event	*wake;
};

static void *
worker(void *arg)
{
	struct web *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct job *j;

		while (w->todo == NULL && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->stop)
			break;
		j = w->todo;
		w->todo = j->link;
		pthread_mutex_unlock(&w->mu);
		j->verdict = users_check(w->state_dir, j->email, j->password, j->totp, time(NULL),
		    &j->user);
		util_cleanse(j->password, sizeof(j->password));
		pthread_mutex_lock(&w->mu);
		j->link = w->done;
		w->done = j;
		(void)!write(w->pipe[1], "", 1);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* --- output helpers ------------------------------------------------------------------------ */

static void
html_esc(struct evbuffer *b, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&': evbuffer_add(b, "&amp;", 5); break;
		case '<': evbuffer_add(b, "&lt;", 4); break;
		case '>': evbuffer_add(b, "&gt;", 4); break;
		case '"': evbuffer_add(b, "&quot;", 6); break;
		case '\'': evbuffer_add(b, "&#39;", 5); break;
		default: evbuffer_add(b, s, 1); break;
		}
	}
}

static void
json_str(struct evbuffer *b, const char *s)
{
	evbuffer_add(b, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			evbuffer_add_printf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			evbuffer_add_printf(b, "\\u%04x", c);
		else
			evbuffer_add(b, s, 1);
	}
	evbuffer_add(b, "\"", 1);
}

static void
page_start(struct httpd_response *resp, int status, const char *title)
{
	resp->status = status;
	resp->content_type = "text/html; charset=utf-8";
	evbuffer_add_printf(resp->body, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\">\n<title>");
	html_esc(resp->body, title);
	evbuffer_add_printf(resp->body, " - zt</title>\n<link rel=\"stylesheet\" "
	    "href=\"/static/zt.css\">\n</head>\n<body>\n<main>\n<h1>");
	html_esc(resp->body, title);
	evbuffer_add_printf(resp->body, "</h1>\n");
}

static void
page_end(struct httpd_response *resp)
{
	evbuffer_add_printf(resp->body, "</main>\n</body>\n</html>\n");
}

static void
page_message(struct httpd_response *resp, int status, const char *title, const char *text)
{
	page_start(resp, status, title);
	evbuffer_add_printf(resp->body, "<p%s>", status >= 400 ? " class=\"error\"" : "");
	html_esc(resp->body, text);
	evbuffer_add_printf(resp->body, "</p>\n<p><a href=\"/\">Home</a></p>\n");
	page_end(resp);
}

static void
hidden(struct evbuffer *b, const char *name, const char *value)
{
	evbuffer_add_printf(b, "<input type=\"hidden\" name=\"%s\" value=\"", name);
	html_esc(b, value);
	evbuffer_add_printf(b, "\">\n");
}

/* A JSON error of RFC 6749 5.2. */
static void
json_error(struct httpd_response *resp, int status, const char *code, const char *desc)
{
	resp->status = status;
	resp->content_type = "application/json";
	evbuffer_add_printf(resp->body, "{\"error\":");
	json_str(resp->body, code);
	if (desc != NULL) {
		evbuffer_add_printf(resp->body, ",\"error_description\":");
		json_str(resp->body, desc);
	}
	evbuffer_add_printf(resp->body, "}\n");
}

static void
do_audit(struct web *w, const char *event, bool allow, const char *identity, const char *app,
    const struct sockaddr *from, const char *reason)
{
	char addr[64] = "";

	if (from != NULL)
		util_sockaddr_str(from, addr, sizeof(addr));
	if (w->audit != NULL)
		w->audit(w->audit_arg, event, allow, identity, app, addr, reason);
}

/* --- requests ------------------------------------------------------------------------------ */

/* The value of cookie name in the request (out: WEB_CODE_B64_LEN + 1), or "" when absent or
 * malformed. */
static void
cookie(const struct httpd_request *req, const char *name, char *out)
{
	size_t n;
	const char *h = httpd_header(req, "cookie", &n);

	if (h == NULL || httpd_cookie(h, n, name, out, WEB_CODE_B64_LEN + 1) != 1 ||
	    strlen(out) != WEB_CODE_B64_LEN)
		out[0] = '\0';
}

static struct session *
session_find(struct web *w, const struct httpd_request *req, time_t now)
{
	char id[WEB_CODE_B64_LEN + 1];

	cookie(req, SESSION_COOKIE, id);
	if (id[0] == '\0')
		return NULL;
	for (size_t i = 0; i < w->nsessions; i++) {
		struct session *s = &w->sessions[i];

		if (!util_ct_equal(s->id, id, WEB_CODE_B64_LEN))
			continue;
		if (now >= s->expires)
			return NULL;
		return s;
	}
	return NULL;
}

static void
session_drop(struct web *w, struct session *s)
{
	size_t i = (size_t)(s - w->sessions);

	util_cleanse(s, sizeof(*s));
	memmove(&w->sessions[i], &w->sessions[i + 1], (w->nsessions - i - 1) * sizeof(*s));
	w->nsessions--;
}

/* A new web session for email; the oldest goes when WEB_SESSIONS_MAX are open. */
static struct session *
session_new(struct web *w, const char *email, time_t now)
{
	struct session *s;
	uint8_t raw[32];

	for (size_t i = 0; i < w->nsessions;)
		if (now >= w->sessions[i].expires)
			session_drop(w, &w->sessions[i]);
		else
			i++;
	if (w->nsessions == WEB_SESSIONS_MAX)
		session_drop(w, &w->sessions[0]);
	s = &w->sessions[w->nsessions++];
	memset(s, 0, sizeof(*s));
	util_random_bytes(raw, sizeof(raw));
	util_b64url_encode(raw, sizeof(raw), s->id, sizeof(s->id));
	util_random_bytes(raw, sizeof(raw));
	util_b64url_encode(raw, sizeof(raw), s->csrf, sizeof(s->csrf));
	util_cleanse(raw, sizeof(raw));
	util_strlcpy(s->email, email, sizeof(s->email));
	s->auth_time = now;
	s->expires = now + (time_t)w->conf->session_duration_s;
	return s;
}

/* Whether the request carries a form; decodes it into f. Answers 415/400 itself when not. */
static bool
form(const struct httpd_request *req, struct httpd_response *resp, struct httpd_form *f,
    bool json)
{
	size_t n;
	const char *ct = httpd_header(req, "content-type", &n);
	char err[256];

	if (ct == NULL || n < sizeof(FORM_TYPE) - 1 || strncasecmp(ct, FORM_TYPE,
	    sizeof(FORM_TYPE) - 1) != 0 || (n > sizeof(FORM_TYPE) - 1 &&
	    ct[sizeof(FORM_TYPE) - 1] != ';')) {
		if (json)
			json_error(resp, 400, "invalid_request", "send the form as "
			    FORM_TYPE);
		else
			page_message(resp, 415, "Unsupported form", "Send the form as " FORM_TYPE
			    ".");
		return false;
	}
	if (httpd_form_parse(req->body, req->content_length, f, err, sizeof(err)) == -1) {
		if (json)
			json_error(resp, 400, "invalid_request", err);
		else
			page_message(resp, 400, "Bad form", err);
		return false;
	}
	return true;
}

static const char *
field(const struct httpd_form *f, const char *name)
{
	const char *v = httpd_form_get(f, name);

	return v != NULL ? v : "";
}

/* Sets a fresh __Host-zt_pre cookie when the request has none; out gets its value. */
static void
pre_cookie(const struct httpd_request *req, struct httpd_response *resp, char *out)
{
	uint8_t raw[32];

	cookie(req, PRE_COOKIE, out);
	if (out[0] != '\0')
		return;
	util_random_bytes(raw, sizeof(raw));
	util_b64url_encode(raw, sizeof(raw), out, WEB_CODE_B64_LEN + 1);
	httpd_add_header(resp, "Set-Cookie", PRE_COOKIE "=%s; Max-Age=%d; " COOKIE_ATTRS, out,
	    PRE_MAX_AGE);
}

static void
login_form(struct web *w, struct httpd_response *resp, int status, const char *pre,
    const char *email, const char *next, const char *error)
{
	char csrf[WEB_CODE_B64_LEN + 1];

	web_csrf_token(w->csrf_key, pre, csrf);
	page_start(resp, status, "Sign in");
	if (error != NULL) {
		evbuffer_add_printf(resp->body, "<p class=\"error\" role=\"alert\">");
		html_esc(resp->body, error);
		evbuffer_add_printf(resp->body, "</p>\n");
	}
	evbuffer_add_printf(resp->body, "<form method=\"post\" action=\"/login\">\n"
	    "<label for=\"email\">Email</label>\n<input type=\"email\" id=\"email\" "
	    "name=\"email\" autocomplete=\"username\" required value=\"");
	html_esc(resp->body, email);
	evbuffer_add_printf(resp->body, "\">\n<label for=\"password\">Password</label>\n"
	    "<input type=\"password\" id=\"password\" name=\"password\" "
	    "autocomplete=\"current-password\" required>\n"
	    "<label for=\"totp\">One-time code (only if you enrolled one)</label>\n"
	    "<input type=\"text\" id=\"totp\" name=\"totp\" inputmode=\"numeric\" "
	    "autocomplete=\"one-time-code\" pattern=\"[0-9]{6}\">\n");
	hidden(resp->body, "csrf", csrf);
	hidden(resp->body, "next", next);
	evbuffer_add_printf(resp->body, "<button type=\"submit\">Sign in</button>\n</form>\n");
	page_end(resp);
}

static void
get_login(struct web *w, const struct httpd_request *req, struct httpd_response *resp)
{
	char pre[WEB_CODE_B64_LEN + 1], err[128];
	const char *next = "/";
	struct httpd_form *q = xmalloc(sizeof(*q));

	if (httpd_form_parse(req->query, strlen(req->query), q, err, sizeof(err)) == 0 &&
	    httpd_form_get(q, "next") != NULL && web_next_valid(httpd_form_get(q, "next")))
		next = httpd_form_get(q, "next");
	pre_cookie(req, resp, pre);
	login_form(w, resp, 200, pre, "", next, NULL);
	free(q);
}

static void
post_login(struct web *w, const struct httpd_request *req, struct httpd_response *resp,
    time_t now)
{
	struct httpd_form *f = xmalloc(sizeof(*f));
	char pre[WEB_CODE_B64_LEN + 1], email[USERS_EMAIL_MAX + 1];
	const char *next;
	unsigned wait;
	struct job *j;

	if (!form(req, resp, f, false))
		goto out;
	cookie(req, PRE_COOKIE, pre);
	if (pre[0] == '\0' || !web_csrf_check(w->csrf_key, pre, field(f, "csrf"))) {
		page_message(resp, 403, "Forbidden", "The form has expired or did not come from "
		    "this page: open /login again.");
		goto out;
	}
	next = web_next_valid(field(f, "next")) ? field(f, "next") : "/";
	if (!users_email_valid(field(f, "email"), email, sizeof(email)))
		util_strlcpy(email, "", sizeof(email));
	if ((wait = loginlimit_check(w->limit, email, req->peer, (uint64_t)now * 1000)) > 0) {
		httpd_add_header(resp, "Retry-After", "%u", wait);
		do_audit(w, "login", false, email, NULL, req->peer, "rate limited");
		login_form(w, resp, 429, pre, field(f, "email"), next, "Too many failed sign-ins: "
		    "wait a moment and try again.");
		goto out;
	}
	if (email[0] == '\0' || strlen(field(f, "password")) > USERS_PASSWORD_MAX ||
	    strlen(field(f, "totp")) > 15) {
		loginlimit_failed(w->limit, email, req->peer, (uint64_t)now * 1000);
		do_audit(w, "login", false, field(f, "email"), NULL, req->peer,
		    "not a valid email or password");
		login_form(w, resp, 401, pre, field(f, "email"), next, "Wrong email, password or "
		    "code.");
		goto out;
	}
	pthread_mutex_lock(&w->mu);
	if (w->njobs >= WEB_QUEUE_MAX) {
		pthread_mutex_unlock(&w->mu);
		httpd_add_header(resp, "Retry-After", "1");
		page_message(resp, 503, "Busy", "Too many sign-ins at once: try again in a "
		    "second.");
		goto out;
	}
	w->njobs++;
	pthread_mutex_unlock(&w->mu);
	j = xcalloc(1, sizeof(*j));
	j->req = httpd_defer(resp);
	util_strlcpy(j->email, email, sizeof(j->email));
	util_strlcpy(j->password, field(f, "password"), sizeof(j->password));
	util_strlcpy(j->totp, field(f, "totp"), sizeof(j->totp));
	util_strlcpy(j->next, next, sizeof(j->next));
	util_strlcpy(j->pre, pre, sizeof(j->pre));
	memcpy(&j->from, req->peer, req->peerlen);
	pthread_mutex_lock(&w->mu);
	if (w->todo == NULL)
		w->todo = j;
	else {
		struct job *t = w->todo;

		while (t->link != NULL)
			t = t->link;
		t->link = j;
	}
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
out:
	util_cleanse(f, sizeof(*f));
	free(f);
}

/* A password check is done: answer its request on the loop. */
static void
login_done(struct web *w, struct job *j)
{
	struct httpd_response resp = { 0 };
	const struct sockaddr *from = (const struct sockaddr *)&j->from;
	time_t now = time(NULL);

	resp.body = evbuffer_new();
	resp.headers = evbuffer_new();
	if (j->verdict == USERS_OK) {
		struct session *s = session_new(w, j->user.email, now);

		loginlimit_succeeded(w->limit, j->email, from);
		httpd_add_header(&resp, "Set-Cookie", SESSION_COOKIE "=%s; Max-Age=%u; "
		    COOKIE_ATTRS, s->id, w->conf->session_duration_s);
		httpd_add_header(&resp, "Set-Cookie", PRE_COOKIE "=; Max-Age=0; " COOKIE_ATTRS);
		httpd_add_header(&resp, "Location", "%s", j->next);
		resp.status = 303;
		resp.content_type = "text/plain; charset=utf-8";
		evbuffer_add_printf(resp.body, "signed in\n");
		do_audit(w, "login", true, j->user.email, NULL, from, "password and code correct");
	} else {
		loginlimit_failed(w->limit, j->email, from, (uint64_t)now * 1000);
		do_audit(w, "login", false, j->email, NULL, from, j->verdict == USERS_UNKNOWN ?
		    "no such user" : j->verdict == USERS_BAD_TOTP ? "wrong one-time code" :
		    "wrong password");
		login_form(w, &resp, 401, j->pre, j->email, j->next, "Wrong email, password or "
		    "code.");
	}
	httpd_complete(w->httpd, j->req, &resp);
	evbuffer_free(resp.body);
	evbuffer_free(resp.headers);
}

static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct web *w = arg;
	struct job *done, *next;
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&w->mu);
	done = w->done;
	w->done = NULL;
	pthread_mutex_unlock(&w->mu);
	for (; done != NULL; done = next) {
		next = done->link;
		login_done(w, done);
		pthread_mutex_lock(&w->mu);
		w->njobs--;
		pthread_mutex_unlock(&w->mu);
		util_cleanse(done, sizeof(*done));
		free(done);
	}
}

/* Redirects to /login, to come back to this page after. */
static void
to_login(const struct httpd_request *req, struct httpd_response *resp)
{
	struct evbuffer *loc = evbuffer_new();
	char here[HTTPD_MAX_TARGET * 2 + 2];
	char *s;

	snprintf(here, sizeof(here), "%s%s%s", req->path, req->query[0] != '\0' ? "?" : "",
	    req->query);
	evbuffer_add_printf(loc, "/login?next=");
	for (const char *p = here; *p != '\0' && p < here + WEB_NEXT_MAX; p++) {
		unsigned char c = (unsigned char)*p;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-._~/", c) != NULL)
			evbuffer_add(loc, p, 1);
		else
			evbuffer_add_printf(loc, "%%%02X", c);
	}
	evbuffer_add(loc, "", 1);
	s = (char *)evbuffer_pullup(loc, -1);
	resp->status = 303;
	httpd_add_header(resp, "Location", "%s", s);
	evbuffer_add_printf(resp->body, "sign in first\n");
	evbuffer_free(loc);
}

static void
get_device(struct web *w, const struct httpd_request *req, struct httpd_response *resp,
    time_t now)
{
	struct session *s = session_find(w, req, now);
	struct httpd_form *q = xmalloc(sizeof(*q));
	char code[WEB_USER_CODE_LEN + 1], shown[10], err[128];
	const char *typed = NULL;

	if (s == NULL) {
		to_login(req, resp);
		goto out;
	}
	if (httpd_form_parse(req->query, strlen(req->query), q, err, sizeof(err)) == 0)
		typed = httpd_form_get(q, "user_code");
	if (typed != NULL && web_user_code_normalise(typed, code) &&
	    web_device_pending(w->devices, code, now)) {
		web_user_code_format(code, shown);
		page_start(resp, 200, "Approve a device");
		evbuffer_add_printf(resp->body, "<p>A device asks to sign in to zt as <strong>");
		html_esc(resp->body, s->email);
		evbuffer_add_printf(resp->body, "</strong>. Approve it only if you started "
		    "<code>zt login</code> yourself and it shows this code:</p>\n"
		    "<p class=\"code\">%s</p>\n<form method=\"post\" action=\"/device\">\n", shown);
		hidden(resp->body, "user_code", code);
		hidden(resp->body, "csrf", s->csrf);
		evbuffer_add_printf(resp->body, "<button type=\"submit\" name=\"action\" "
		    "value=\"approve\">Approve</button>\n<button type=\"submit\" name=\"action\" "
		    "value=\"deny\" class=\"secondary\">Deny</button>\n</form>\n");
		page_end(resp);
		goto out;
	}
	page_start(resp, typed != NULL ? 404 : 200, "Approve a device");
	if (typed != NULL)
		evbuffer_add_printf(resp->body, "<p class=\"error\" role=\"alert\">No device is "
		    "waiting with this code: it may have expired (10 minutes) or been used. Run "
		    "<code>zt login</code> again.</p>\n");
	evbuffer_add_printf(resp->body, "<p>Signed in as ");
	html_esc(resp->body, s->email);
	evbuffer_add_printf(resp->body, ".</p>\n<form method=\"get\" action=\"/device\">\n"
	    "<label for=\"user_code\">The code <code>zt login</code> shows</label>\n"
	    "<input type=\"text\" id=\"user_code\" name=\"user_code\" autocomplete=\"off\" "
	    "autocapitalize=\"characters\" required placeholder=\"XXXX-XXXX\">\n"
	    "<button type=\"submit\">Continue</button>\n</form>\n");
	page_end(resp);
out:
	free(q);
}

/* Signs a login token for user, signed in on the page at auth_time. */
static int
sign_login(struct web *w, const struct user_info *u, time_t auth_time, time_t now, char *out,
    size_t outlen, int64_t *exp)
{
	struct jwt_claims c;

	memset(&c, 0, sizeof(c));
	util_strlcpy(c.iss, w->conf->issuer, sizeof(c.iss));
	util_strlcpy(c.sub, u->email, sizeof(c.sub));
	util_strlcpy(c.aud, w->conf->issuer, sizeof(c.aud));
	util_strlcpy(c.type, "user", sizeof(c.type));
	util_strlcpy(c.email, u->email, sizeof(c.email));
	for (size_t i = 0; i < u->ngroups && i < JWT_MAX_GROUPS; i++)
		util_strlcpy(c.groups[c.ngroups++], u->groups[i], sizeof(c.groups[0]));
	jwt_random_id(c.jti);
	c.iat = c.nbf = now;
	c.exp = now + (int64_t)w->conf->session_duration_s;
	c.auth_time = auth_time;
	*exp = c.exp;
	if (w->keys == NULL)
		return -1;
	return jwt_sign(w->keys, &c, out, outlen) < 0 ? -1 : 0;
}

static void
post_device(struct web *w, const struct httpd_request *req, struct httpd_response *resp,
    time_t now)
{
	struct session *s = session_find(w, req, now);
	struct httpd_form *f = xmalloc(sizeof(*f));
	char code[WEB_USER_CODE_LEN + 1], token[JWT_MAX + 1], shown[10];
	const char *action;
	struct user_info u;
	int64_t exp;

	if (!form(req, resp, f, false))
		goto out;
	if (s == NULL || !util_ct_equal(s->csrf, field(f, "csrf"), WEB_CODE_B64_LEN) ||
	    strlen(field(f, "csrf")) != WEB_CODE_B64_LEN) {
		page_message(resp, 403, "Forbidden", "The form has expired or did not come from "
		    "this page: sign in and open /device again.");
		goto out;
	}
	action = field(f, "action");
	if (!web_user_code_normalise(field(f, "user_code"), code) ||
	    (strcmp(action, "approve") != 0 && strcmp(action, "deny") != 0)) {
		page_message(resp, 400, "Bad form", "Give a user code and approve or deny.");
		goto out;
	}
	web_user_code_format(code, shown);
	if (!web_device_pending(w->devices, code, now)) {
		page_message(resp, 404, "Unknown code", "No device is waiting with this code: it "
		    "may have expired or been used. Run zt login again.");
		goto out;
	}
	if (strcmp(action, "deny") == 0) {
		web_device_decide(w->devices, code, now, false, NULL, 0);
		do_audit(w, "device", false, s->email, NULL, req->peer, "denied on the page");
		page_message(resp, 200, "Denied", "The device was not signed in.");
		goto out;
	}
	if (!users_get(w->users, s->email, &u)) {
		session_drop(w, s);
		page_message(resp, 403, "Forbidden", "Your account no longer exists.");
		goto out;
	}
	if (sign_login(w, &u, s->auth_time, now, token, sizeof(token), &exp) == -1) {
		log_errorx("web: cannot sign a login token: the edge has no signing key "
		    "(zt edge rotate-keys makes one)");
		page_message(resp, 503, "Unavailable", "The edge cannot sign tokens now.");
		goto out;
	}
	web_device_decide(w->devices, code, now, true, token, exp);
	util_cleanse(token, sizeof(token));
	do_audit(w, "device", true, s->email, NULL, req->peer, "approved on the page");
	page_message(resp, 200, "Approved", "The device is signed in: return to your terminal.");
out:
	free(f);
}

static void
get_logout(struct web *w, const struct httpd_request *req, struct httpd_response *resp,
    time_t now)
{
	struct session *s = session_find(w, req, now);

	if (s == NULL) {
		page_message(resp, 200, "Sign out", "You are not signed in.");
		return;
	}
	page_start(resp, 200, "Sign out");
	evbuffer_add_printf(resp->body, "<p>Signed in as ");
	html_esc(resp->body, s->email);
	evbuffer_add_printf(resp->body, ".</p>\n<form method=\"post\" action=\"/logout\">\n");
	hidden(resp->body, "csrf", s->csrf);
	evbuffer_add_printf(resp->body, "<button type=\"submit\">Sign out</button>\n</form>\n");
	page_end(resp);
}

static void
post_logout(struct web *w, const struct httpd_request *req, struct httpd_response *resp,
    time_t now)
{
	struct session *s = session_find(w, req, now);
	struct httpd_form *f = xmalloc(sizeof(*f));

	if (!form(req, resp, f, false))
		goto out;
	if (s == NULL || strlen(field(f, "csrf")) != WEB_CODE_B64_LEN ||
	    !util_ct_equal(s->csrf, field(f, "csrf"), WEB_CODE_B64_LEN)) {
		page_message(resp, 403, "Forbidden", "The form has expired or did not come from "
		    "this page.");
		goto out;
	}
	session_drop(w, s);
	httpd_add_header(resp, "Set-Cookie", SESSION_COOKIE "=; Max-Age=0; " COOKIE_ATTRS);
	page_message(resp, 200, "Signed out", "You are signed out of this browser.");
out:
	free(f);
}

static void
get_home(struct web *w, const struct httpd_request *req, struct httpd_response *resp,
    time_t now)
{
	struct session *s = session_find(w, req, now);

	page_start(resp, 200, "zt");
	if (s != NULL) {
		evbuffer_add_printf(resp->body, "<p>Signed in as ");
		html_esc(resp->body, s->email);
		evbuffer_add_printf(resp->body, ".</p>\n<ul>\n<li><a href=\"/device\">Approve a "
		    "device</a></li>\n<li><a href=\"/logout\">Sign out</a></li>\n</ul>\n");
	} else
		evbuffer_add_printf(resp->body, "<p>Not signed in.</p>\n<p><a href=\"/login\">"
		    "Sign in</a></p>\n");
	page_end(resp);
}

static bool
client_ok(const struct httpd_form *f, struct httpd_response *resp)
{
	if (strcmp(field(f, "client_id"), "zt") != 0) {
		json_error(resp, 400, "invalid_client", "client_id must be zt");
		return false;
	}
	return true;
}

static void
post_device_code(struct web *w, const struct httpd_request *req, struct httpd_response *resp,
    time_t now)
{
	struct httpd_form *f = xmalloc(sizeof(*f));
	char dc[WEB_CODE_B64_LEN + 1], uc[WEB_USER_CODE_LEN + 1], shown[10];

	if (!form(req, resp, f, true) || !client_ok(f, resp))
		goto out;
	if (web_device_start(w->devices, now, dc, uc) == -1) {
		httpd_add_header(resp, "Retry-After", "%d", WEB_DEVICE_INTERVAL);
		json_error(resp, 503, "temporarily_unavailable", "too many sign-ins pending: "
		    "try again later");
		goto out;
	}
	web_user_code_format(uc, shown);
	resp->content_type = "application/json";
	evbuffer_add_printf(resp->body, "{\"device_code\":\"%s\",\"user_code\":\"%s\","
	    "\"verification_uri\":", dc, shown);
	{
		char uri[512];

		snprintf(uri, sizeof(uri), "%s/device", w->conf->issuer);
		json_str(resp->body, uri);
		snprintf(uri, sizeof(uri), "%s/device?user_code=%s", w->conf->issuer, shown);
		evbuffer_add_printf(resp->body, ",\"verification_uri_complete\":");
		json_str(resp->body, uri);
	}
	evbuffer_add_printf(resp->body, ",\"expires_in\":%d,\"interval\":%d}\n", WEB_DEVICE_TTL,
	    WEB_DEVICE_INTERVAL);
out:
	free(f);
}

static void
post_token(struct web *w, const struct httpd_request *req, struct httpd_response *resp,
    time_t now)
{
	struct httpd_form *f = xmalloc(sizeof(*f));
	char *token = NULL;
	int64_t exp = 0;

	if (!form(req, resp, f, true))
		goto out;
	if (httpd_form_get(f, "grant_type") == NULL) {
		json_error(resp, 400, "invalid_request", "no grant_type");
		goto out;
	}
	if (strcmp(field(f, "grant_type"), DEVICE_GRANT) != 0) {
		json_error(resp, 400, "unsupported_grant_type", "only " DEVICE_GRANT);
		goto out;
	}
	if (!client_ok(f, resp))
		goto out;
	if (httpd_form_get(f, "device_code") == NULL) {
		json_error(resp, 400, "invalid_request", "no device_code");
		goto out;
	}
	switch (web_device_poll(w->devices, field(f, "device_code"), now, &token, &exp)) {
	case WEB_POLL_OK:
		resp->content_type = "application/json";
		evbuffer_add_printf(resp->body, "{\"access_token\":\"%s\",\"token_type\":"
		    "\"Bearer\",\"expires_in\":%lld}\n", token, (long long)(exp > now ? exp - now :
		    0));
		do_audit(w, "token", true, NULL, NULL, req->peer, "login token handed out");
		util_cleanse(token, strlen(token));
		free(token);
		break;
	case WEB_POLL_PENDING:
		json_error(resp, 400, "authorization_pending", "approve the code on the device "
		    "page");
		break;
	case WEB_POLL_SLOW_DOWN:
		json_error(resp, 400, "slow_down", "polled sooner than the interval: it grew by "
		    "5 s");
		break;
	case WEB_POLL_EXPIRED:
		json_error(resp, 400, "expired_token", "the device code expired: start again");
		break;
	case WEB_POLL_DENIED:
		json_error(resp, 400, "access_denied", "denied on the device page");
		break;
	case WEB_POLL_INVALID:
		json_error(resp, 400, "invalid_grant", "unknown or already used device code");
		break;
	}
out:
	free(f);
}

/* Verifies a login token: signature, issuer, audience, times, not revoked, user still there.
 * false with the reason in err. */
static bool
login_verify(struct web *w, const char *token, time_t now, struct jwt_claims *c,
    struct user_info *u, char *err, size_t errlen)
{
	if (w->keys == NULL) {
		snprintf(err, errlen, "the edge has no keys");
		return false;
	}
	if (jwt_verify(w->keys, token, w->conf->issuer, w->conf->issuer, now, c, err,
	    errlen) == -1)
		return false;
	if (strcmp(c->type, "user") != 0 || c->email[0] == '\0') {
		snprintf(err, errlen, "not a person's login token");
		return false;
	}
	if (w->revoked != NULL && revoked_has(w->revoked, c->jti)) {
		snprintf(err, errlen, "login %s was revoked", c->jti);
		return false;
	}
	if (!users_get(w->users, c->email, u)) {
		snprintf(err, errlen, "user %.200s no longer exists", c->email);
		return false;
	}
	return true;
}

static void
post_token_app(struct web *w, const struct httpd_request *req, struct httpd_response *resp,
    time_t now)
{
	struct httpd_form *f = xmalloc(sizeof(*f));
	struct jwt_claims c, a;
	struct user_info u;
	const struct edgeconf_app *app;
	const char *groups[USERS_GROUPS_MAX];
	struct policy_identity id;
	char err[JWT_ERR_MAX], reason[POLICY_REASON_MAX], token[JWT_MAX + 1], bearer[JWT_MAX + 1];
	const char *auth;
	size_t n;
	int64_t exp;

	memset(&c, 0, sizeof(c));
	bearer[0] = '\0';
	if (!form(req, resp, f, true))
		goto out;
	auth = httpd_header(req, "authorization", &n);
	if (auth == NULL || n <= 7 || strncasecmp(auth, "Bearer ", 7) != 0 || n - 7 > JWT_MAX) {
		httpd_add_header(resp, "WWW-Authenticate", "Bearer");
		json_error(resp, 401, "invalid_token", "send Authorization: Bearer LOGIN_TOKEN");
		goto out;
	}
	memcpy(bearer, auth + 7, n - 7);
	bearer[n - 7] = '\0';
	if (!login_verify(w, bearer, now, &c, &u, err, sizeof(err))) {
		httpd_add_header(resp, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
		json_error(resp, 401, "invalid_token", err);
		do_audit(w, "token", false, c.email[0] != '\0' ? c.email : NULL,
		    field(f, "app"), req->peer, err);
		goto out;
	}
	if ((app = edgeconf_app(w->conf, field(f, "app"))) == NULL) {
		json_error(resp, 404, "unknown_app", "no app has this hostname");
		goto out;
	}
	for (size_t i = 0; i < u.ngroups; i++)
		groups[i] = u.groups[i];
	memset(&id, 0, sizeof(id));
	id.kind = POLICY_WHO_PERSON;
	id.email = u.email;
	id.groups = groups;
	id.ngroups = u.ngroups;
	id.addr = req->peer;
	if (policy_eval(app->policy, &id, reason, sizeof(reason)) != POLICY_ALLOW) {
		json_error(resp, 403, "access_denied", reason);
		do_audit(w, "token", false, u.email, app->hostname, req->peer, reason);
		goto out;
	}
	if (app->session_duration_s > 0 && c.auth_time > 0 &&
	    now - c.auth_time > (int64_t)app->session_duration_s) {
		snprintf(err, sizeof(err), "signed in longer ago than the app's session_duration "
		    "(%us): sign in again: zt login %s", app->session_duration_s, w->conf->issuer);
		httpd_add_header(resp, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
		json_error(resp, 401, "invalid_token", err);
		do_audit(w, "token", false, u.email, app->hostname, req->peer, err);
		goto out;
	}
	memset(&a, 0, sizeof(a));
	util_strlcpy(a.iss, w->conf->issuer, sizeof(a.iss));
	util_strlcpy(a.sub, u.email, sizeof(a.sub));
	util_strlcpy(a.aud, app->hostname, sizeof(a.aud));
	util_strlcpy(a.type, "user", sizeof(a.type));
	util_strlcpy(a.email, u.email, sizeof(a.email));
	for (size_t i = 0; i < u.ngroups && i < JWT_MAX_GROUPS; i++)
		util_strlcpy(a.groups[a.ngroups++], u.groups[i], sizeof(a.groups[0]));
	jwt_random_id(a.jti);
	a.iat = a.nbf = now;
	exp = c.exp;
	if (app->session_duration_s > 0 && c.auth_time > 0 &&
	    c.auth_time + (int64_t)app->session_duration_s < exp)
		exp = c.auth_time + (int64_t)app->session_duration_s;
	a.exp = exp;
	a.auth_time = c.auth_time;
	if (jwt_sign(w->keys, &a, token, sizeof(token)) < 0) {
		json_error(resp, 503, "temporarily_unavailable", "the edge cannot sign tokens now");
		goto out;
	}
	resp->content_type = "application/json";
	evbuffer_add_printf(resp->body, "{\"token\":\"%s\",\"expires_in\":%lld}\n", token,
	    (long long)(exp - now));
	util_cleanse(token, sizeof(token));
	do_audit(w, "token", true, u.email, app->hostname, req->peer, reason);
out:
	util_cleanse(bearer, sizeof(bearer));
	free(f);
}

static void
post_revoke(struct web *w, const struct httpd_request *req, struct httpd_response *resp,
    time_t now)
{
	struct httpd_form *f = xmalloc(sizeof(*f));
	struct jwt_claims c;
	char err[JWT_ERR_MAX];

	if (!form(req, resp, f, true))
		goto out;
	if (httpd_form_get(f, "token") == NULL) {
		json_error(resp, 400, "invalid_request", "no token");
		goto out;
	}
	/* RFC 7009 2.2: 200 whatever the token; only a valid login is recorded. */
	if (w->keys != NULL && jwt_verify(w->keys, field(f, "token"), w->conf->issuer,
	    w->conf->issuer, now, &c, err, sizeof(err)) == 0) {
		if (revoked_add(w->state_dir, c.jti, (time_t)c.exp + JWT_LEEWAY, err,
		    sizeof(err)) == -1) {
			log_errorx("web: cannot revoke login %s: %s", c.jti, err);
			json_error(resp, 503, "temporarily_unavailable", "cannot record the "
			    "revocation: try again");
			goto out;
		}
		do_audit(w, "revoke", true, c.email, NULL, req->peer, "login revoked");
	}
	resp->content_type = "application/json";
	evbuffer_add_printf(resp->body, "{}\n");
out:
	free(f);
}

static void
get_jwks(struct web *w, struct httpd_response *resp)
{
	if (w->jwks == NULL) {
		json_error(resp, 503, "temporarily_unavailable", "no keys");
		return;
	}
	resp->content_type = "application/json";
	resp->cache_control = "public, max-age=300";
	evbuffer_add(resp->body, w->jwks, strlen(w->jwks));
}

static void
web_handle(const struct httpd_request *req, struct httpd_response *resp, void *arg)
{
	struct web *w = arg;
	time_t now = time(NULL);
	const char *p = req->path;
	bool get = !req->post;

	if (w->conf == NULL) {
		page_message(resp, 503, "Unavailable", "The edge is starting.");
		return;
	}
	if (strcmp(p, "/") == 0 && get)
		get_home(w, req, resp, now);
	else if (strcmp(p, "/static/zt.css") == 0 && get) {
		resp->content_type = "text/css; charset=utf-8";
		resp->cache_control = "public, max-age=3600";
		evbuffer_add(resp->body, stylesheet, sizeof(stylesheet) - 1);
	} else if (strcmp(p, "/login") == 0)
		get ? get_login(w, req, resp) : post_login(w, req, resp, now);
	else if (strcmp(p, "/device") == 0)
		get ? get_device(w, req, resp, now) : post_device(w, req, resp, now);
	else if (strcmp(p, "/logout") == 0)
		get ? get_logout(w, req, resp, now) : post_logout(w, req, resp, now);
	else if (strcmp(p, "/oauth/device/code") == 0 && !get)
		post_device_code(w, req, resp, now);
	else if (strcmp(p, "/oauth/token") == 0 && !get)
		post_token(w, req, resp, now);
	else if (strcmp(p, "/oauth/revoke") == 0 && !get)
		post_revoke(w, req, resp, now);
	else if (strcmp(p, "/token/app") == 0 && !get)
		post_token_app(w, req, resp, now);
	else if ((strcmp(p, "/.well-known/jwks.json") == 0 ||
	    strcmp(p, "/cdn-cgi/access/certs") == 0) && get)
		get_jwks(w, resp);
	else if (strcmp(p, "/oauth/device/code") == 0 || strcmp(p, "/oauth/token") == 0 ||
	    strcmp(p, "/oauth/revoke") == 0 || strcmp(p, "/token/app") == 0)
		json_error(resp, 405, "invalid_request", "use POST");
	else if (!get && (strcmp(p, "/") == 0 || strcmp(p, "/static/zt.css") == 0 ||
	    strcmp(p, "/.well-known/jwks.json") == 0 || strcmp(p, "/cdn-cgi/access/certs") == 0))
		page_message(resp, 405, "Method not allowed", "Use GET.");
	else
		page_message(resp, 404, "Not found", "There is no such page.");
}

/* --- the object ---------------------------------------------------------------------------- */

struct web *
web_new(struct event_base *base, const struct web_config *cfg)
{
	struct httpd_opts o = { .max_conns = WEB_MAX_CONNS, .head_ms = WEB_HEAD_MS,
	    .body_ms = WEB_BODY_MS, .post = true, .headers = security_headers };
	struct web *w = xcalloc(1, sizeof(*w));

	w->base = base;
	w->state_dir = xstrdup(cfg->state_dir);
	w->audit = cfg->audit;
	w->audit_arg = cfg->audit_arg;
	w->pipe[0] = w->pipe[1] = -1;
	w->devices = web_devices_new();
	w->sessions = xcalloc(WEB_SESSIONS_MAX, sizeof(*w->sessions));
	w->limit = loginlimit_new();
	util_random_bytes(w->csrf_key, sizeof(w->csrf_key));
	w->httpd = httpd_new_server(base, &o, web_handle, w);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pipe2(w->pipe, O_NONBLOCK | O_CLOEXEC) == -1) {
		log_error("web: cannot make a pipe for the password worker");
		goto fail;
	}
	if ((w->wake = event_new(base, w->pipe[0], EV_READ | EV_PERSIST, on_wake, w)) == NULL ||
	    event_add(w->wake, NULL) == -1) {
		log_errorx("web: cannot watch the worker's pipe");
		goto fail;
	}
	if ((errno = pthread_create(&w->thread, NULL, worker, w)) != 0) {
		log_error("web: cannot start the password worker thread");
		goto fail;
	}
	w->thread_started = true;
	return w;
fail:
	web_free(w);
	return NULL;
}

void
web_free(struct web *w)
{
	struct job *j, *next;

	if (w == NULL)
		return;
	if (w->thread_started) {
		pthread_mutex_lock(&w->mu);
		w->stop = true;
		pthread_cond_signal(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->thread, NULL);
	}
	for (int k = 0; k < 2; k++)
		for (j = k == 0 ? w->todo : w->done; j != NULL; j = next) {
			next = j->link;
			util_cleanse(j, sizeof(*j));
			free(j);
		}
	if (w->wake != NULL)
		event_free(w->wake);
	for (int k = 0; k < 2; k++)
		if (w->pipe[k] != -1)
			close(w->pipe[k]);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	httpd_free(w->httpd);
	loginlimit_free(w->limit);
	web_devices_free(w->devices);
	if (w->sessions != NULL)
		util_cleanse(w->sessions, WEB_SESSIONS_MAX * sizeof(*w->sessions));
	free(w->sessions);
	free(w->jwks);
	free(w->state_dir);
	util_cleanse(w->csrf_key, sizeof(w->csrf_key));
	free(w);
}

void
web_update(struct web *w, const struct edgeconf *conf, const struct users *users,
    const struct revoked *revoked, const struct jwt_keyset *keys)
{
	w->conf = conf;
	w->users = users;
	w->revoked = revoked;
	if (keys != w->keys) {
		free(w->jwks);
		w->jwks = keys != NULL ? jwt_keyset_to_jwks(keys) : NULL;
	}
	w->keys = keys;
}

int
web_serve(struct web *w, struct bufferevent *bev, const struct sockaddr *sa, socklen_t salen)
{
	return httpd_serve(w->httpd, bev, sa, salen);
}

size_t
web_conns(const struct web *w)
{
	return httpd_conns(w->httpd);
}
