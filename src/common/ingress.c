/* ingress: the connector's rules mapping hostnames to local services, as cloudflared's ingress. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ingress.h"
#include "util.h"

#define INGRESS_NAME_MAX	253	/* a DNS name without its trailing dot */
#define INGRESS_QUOTE_MAX	100	/* characters of a rule quoted in a message */
#define INGRESS_ADDR_MAX	300	/* a tcp:// address handed to util_parse_hostport */
#define INGRESS_SERVICES \
	"use tcp://HOST:PORT, unix:/PATH, http_status:CODE or hello"

_Static_assert(INGRESS_PATH_MAX == sizeof(((struct sockaddr_un *)0)->sun_path),
    "INGRESS_PATH_MAX must be the size of sun_path");

struct ingress {
	struct ingress_rule	*rules;
	size_t			 nrules;
};

/* Writes 'rule #N "TEXT": ' and the formatted message into err. */
static void __attribute__((format(printf, 5, 6)))
ingress_err(char *err, size_t errlen, size_t num, const char *text, const char *fmt, ...)
{
	char q[INGRESS_QUOTE_MAX + 1];
	va_list ap;
	int n;

	if (err == NULL || errlen == 0)
		return;
	n = snprintf(err, errlen, "rule #%zu \"%s\": ", num, util_quote(text, q, sizeof(q)));
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static bool
ingress_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/*
 * Normalises the DNS host name in into out (INGRESS_NAME_MAX + 1 bytes): lower case, one
 * trailing dot dropped. Returns NULL, or why in is not a name.
 */
static const char *
ingress_name(const char *in, char *out)
{
	size_t len = strlen(in), label = 0;

	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0)
		return "it is empty";
	if (len > INGRESS_NAME_MAX)
		return "it is longer than 253 characters";
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? in[i] : '\0';

		if (c == '.' || c == '\0') {
			if (label == 0)
				return "it has an empty label";
			if (out[i - 1] == '-')
				return "a label ends with '-'";
			label = 0;
		} else if (ingress_alnum(c) || c == '-') {
			if (c == '-' && label == 0)
				return "a label starts with '-'";
			if (++label > 63)
				return "a label is longer than 63 characters";
		} else
			return "it has a character other than letters, digits, '-' and '.'";
		out[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	return NULL;
}

/* Parses a hostname pattern into r; on error writes err and returns -1. */
static int
ingress_parse_host(size_t num, const char *text, const char *hostname, struct ingress_rule *r,
    char *err, size_t errlen)
{
	char name[INGRESS_NAME_MAX + 1], q[INGRESS_QUOTE_MAX + 1];
	const char *why, *base = hostname;

	if (hostname == NULL || hostname[0] == '\0' || strcmp(hostname, "*") == 0) {
		r->host_kind = INGRESS_HOST_ANY;
		r->hostname = xstrdup("*");
		return 0;
	}
	util_quote(hostname, q, sizeof(q));
	if (strpbrk(hostname, ":/") != NULL) {
		ingress_err(err, errlen, num, text, "hostname \"%s\" has a port, scheme or path: "
		    "write the name alone, e.g. db.example.com", q);
		return -1;
	}
	r->host_kind = INGRESS_HOST_EXACT;
	if (strncmp(hostname, "*.", 2) == 0) {
		r->host_kind = INGRESS_HOST_WILDCARD;
		base = hostname + 2;
	}
	if (strchr(base, '*') != NULL) {
		ingress_err(err, errlen, num, text, "hostname \"%s\": a wildcard is allowed only "
		    "as the whole first label, as in *.example.com", q);
		return -1;
	}
	if ((why = ingress_name(base, name)) != NULL ||
	    (r->host_kind == INGRESS_HOST_WILDCARD && strlen(name) > INGRESS_NAME_MAX - 2)) {
		ingress_err(err, errlen, num, text, "hostname \"%s\" is not a valid DNS name: %s",
		    q, why != NULL ? why : "it is longer than 253 characters");
		return -1;
	}
	if (r->host_kind == INGRESS_HOST_WILDCARD)
		xasprintf(&r->hostname, "*.%s", name);
	else
		r->hostname = xstrdup(name);
	return 0;
}

/* Parses the host:port of a tcp:// service into r; on error writes err and returns -1. */
static int
ingress_parse_tcp(size_t num, const char *text, const char *addr, struct ingress_rule *r,
    char *err, size_t errlen)
{
	struct util_hostport hp;
	struct in_addr a4;
	char e[INGRESS_ERR_MAX], name[INGRESS_NAME_MAX + 1];
	const char *why;

	if (strpbrk(addr, "/?#") != NULL) {
		ingress_err(err, errlen, num, text, "a service URL has no path, query or fragment: "
		    "write tcp://HOST:PORT");
		return -1;
	}
	if (strchr(addr, '@') != NULL) {
		ingress_err(err, errlen, num, text, "a service URL has no user name: write "
		    "tcp://HOST:PORT");
		return -1;
	}
	if (strlen(addr) > INGRESS_ADDR_MAX) {
		ingress_err(err, errlen, num, text, "the address after tcp:// is too long");
		return -1;
	}
	if (addr[0] != '[' && strchr(addr, ':') != strrchr(addr, ':')) {
		ingress_err(err, errlen, num, text, "write an IPv6 address in brackets: "
		    "tcp://[ADDRESS]:PORT");
		return -1;
	}
	if (util_parse_hostport(addr, 0, &hp, e, sizeof(e)) == -1) {
		ingress_err(err, errlen, num, text, "%s", e);
		return -1;
	}
	if (addr[0] != '[' && inet_pton(AF_INET, hp.host, &a4) != 1) {
		if (inet_aton(hp.host, &a4) != 0) {
			ingress_err(err, errlen, num, text, "\"%s\" is an unusual spelling of "
			    "an IPv4 address: write it as four decimal numbers, a.b.c.d", hp.host);
			return -1;
		}
		if ((why = ingress_name(hp.host, name)) != NULL) {
			ingress_err(err, errlen, num, text, "\"%s\" is neither a DNS name nor "
			    "an IP address (write IPv6 addresses in brackets): %s", hp.host, why);
			return -1;
		}
	}
	if (!util_strlcpy(r->host, hp.host, sizeof(r->host))) {
		ingress_err(err, errlen, num, text, "the host is longer than %d characters",
		    INGRESS_HOST_MAX);
		return -1;
	}
	r->port = hp.port;
	return 0;
}

/* Parses a service into r; on error writes err and returns -1. */
static int
ingress_parse_service(size_t num, const char *text, const char *svc, struct ingress_rule *r,
    char *err, size_t errlen)
{
	char q[INGRESS_QUOTE_MAX + 1];
	const char *p;
	size_t len;

	if (svc == NULL || svc[0] == '\0') {
		ingress_err(err, errlen, num, text, "no service: " INGRESS_SERVICES);
		return -1;
	}
	if ((len = strlen(svc)) > INGRESS_SERVICE_MAX) {
		ingress_err(err, errlen, num, text, "the service is longer than %d bytes",
		    INGRESS_SERVICE_MAX);
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		if (svc[i] <= 0x20 || svc[i] >= 0x7f) {
			ingress_err(err, errlen, num, text, "byte %zu (0x%02x) of the service is "
			    "not allowed: a service is printable ASCII without spaces", i + 1,
			    (unsigned char)svc[i]);
			return -1;
		}
	util_quote(svc, q, sizeof(q));
	if (strncasecmp(svc, "tcp://", 6) == 0) {
		r->service_kind = INGRESS_SVC_TCP;
		if (ingress_parse_tcp(num, text, svc + 6, r, err, errlen) == -1)
			return -1;
	} else if (strncasecmp(svc, "unix:", 5) == 0) {
		p = svc + 5;
		r->service_kind = INGRESS_SVC_UNIX;
		if (p[0] != '/' || p[1] == '/') {
			ingress_err(err, errlen, num, text, "service \"%s\": write unix: and an "
			    "absolute path, e.g. unix:/run/app.sock", q);
			return -1;
		}
		if (!util_strlcpy(r->path, p, sizeof(r->path))) {
			ingress_err(err, errlen, num, text, "the socket path is longer than %d "
			    "bytes", INGRESS_PATH_MAX - 1);
			return -1;
		}
	} else if (strncasecmp(svc, "http_status:", 12) == 0) {
		p = svc + 12;
		r->service_kind = INGRESS_SVC_HTTP_STATUS;
		if (strlen(p) != 3 || strspn(p, "0123456789") != 3 || p[0] < '1' || p[0] > '5') {
			ingress_err(err, errlen, num, text, "service \"%s\": http_status needs a "
			    "code from 100 to 599", q);
			return -1;
		}
		r->status = atoi(p);
	} else if (strcasecmp(svc, "hello") == 0)
		r->service_kind = INGRESS_SVC_HELLO;
	else if ((p = strstr(svc, "://")) != NULL) {
		ingress_err(err, errlen, num, text, "service \"%s\": scheme \"%.*s\" is not "
		    "supported; " INGRESS_SERVICES, q, (int)(p - svc < 32 ? p - svc : 32), svc);
		return -1;
	} else {
		ingress_err(err, errlen, num, text, "unknown service \"%s\"; " INGRESS_SERVICES, q);
		return -1;
	}
	r->service = xstrdup(svc);
	return 0;
}

/* Frees what a rule owns. */
static void
ingress_rule_clear(struct ingress_rule *r)
{
	free(r->hostname);
	free(r->service);
	memset(r, 0, sizeof(*r));
}

struct ingress *
ingress_new(void)
{
	return xcalloc(1, sizeof(struct ingress));
}

void
ingress_free(struct ingress *ing)
{
	if (ing == NULL)
		return;
	for (size_t i = 0; i < ing->nrules; i++)
		ingress_rule_clear(&ing->rules[i]);
	free(ing->rules);
	free(ing);
}

/* Parses one rule from its two parts and appends it; ing is unchanged on error. */
int
ingress_add(struct ingress *ing, const char *hostname, const char *service, char *err,
    size_t errlen)
{
	struct ingress_rule r;
	char *text = NULL;
	size_t num = ing->nrules + 1;
	int ret = -1;

	memset(&r, 0, sizeof(r));
	xasprintf(&text, "%s %s", hostname != NULL && hostname[0] != '\0' ? hostname : "*",
	    service != NULL ? service : "");
	if (ing->nrules >= INGRESS_RULES_MAX) {
		ingress_err(err, errlen, num, text, "too many rules: at most %d",
		    INGRESS_RULES_MAX);
		goto out;
	}
	if (ingress_parse_host(num, text, hostname, &r, err, errlen) == -1 ||
	    ingress_parse_service(num, text, service, &r, err, errlen) == -1)
		goto out;
	ing->rules = xreallocarray(ing->rules, ing->nrules + 1, sizeof(*ing->rules));
	ing->rules[ing->nrules++] = r;
	memset(&r, 0, sizeof(r));
	ret = 0;
out:
	ingress_rule_clear(&r);
	free(text);
	return ret;
}

/* Applies an option to the last rule; the rule is unchanged on error. */
int
ingress_add_option(struct ingress *ing, const char *option, char *err, size_t errlen)
{
	struct ingress_rule *r;
	char text[INGRESS_ERR_MAX], q[INGRESS_QUOTE_MAX + 1];

	if (ing->nrules == 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "option \"%s\" needs a rule to apply to",
			    util_quote(option != NULL ? option : "", q, sizeof(q)));
		return -1;
	}
	r = &ing->rules[ing->nrules - 1];
	ingress_format(r, text, sizeof(text));
	if (option == NULL || strcmp(option, "verify_token") != 0) {
		ingress_err(err, errlen, ing->nrules, text, "unknown option \"%s\": the only "
		    "option is verify_token", util_quote(option != NULL ? option : "", q,
		    sizeof(q)));
		return -1;
	}
	if (r->verify_token) {
		ingress_err(err, errlen, ing->nrules, text, "verify_token is given twice");
		return -1;
	}
	if (r->service_kind == INGRESS_SVC_HTTP_STATUS) {
		ingress_err(err, errlen, ing->nrules, text, "verify_token on an http_status rule: "
		    "it refuses every stream anyway; remove verify_token");
		return -1;
	}
	r->verify_token = true;
	return 0;
}

bool
ingress_verifies_tokens(const struct ingress *ing)
{
	for (size_t i = 0; i < ing->nrules; i++)
		if (ing->rules[i].verify_token)
			return true;
	return false;
}

/* Splits "HOSTNAME SERVICE [OPTION ...]" and adds the rule with its options. */
int
ingress_add_line(struct ingress *ing, const char *line, char *err, size_t errlen)
{
	char *copy, *words[4];
	size_t n = 0;
	int ret = -1;

	copy = xstrdup(line != NULL ? line : "");
	for (char *s = copy; n < nitems(words);) {
		s += strspn(s, " \t");
		if (*s == '\0')
			break;
		words[n++] = s;
		s += strcspn(s, " \t");
		if (*s != '\0')
			*s++ = '\0';
	}
	if (n < 2 || n > 3) {
		ingress_err(err, errlen, ing->nrules + 1, line != NULL ? line : "", "write "
		    "HOSTNAME SERVICE [verify_token] (the catch-all's hostname is *), e.g. "
		    "db.example.com tcp://127.0.0.1:5432");
		goto out;
	}
	if ((ret = ingress_add(ing, words[0], words[1], err, errlen)) == 0 && n == 3 &&
	    (ret = ingress_add_option(ing, words[2], err, errlen)) == -1) {
		/* The rule goes with its bad option: ing is unchanged on error. */
		ingress_rule_clear(&ing->rules[--ing->nrules]);
	}
out:
	free(copy);
	return ret;
}

/* Whether every name rule b matches is matched by rule a too. */
static bool
ingress_covers(const struct ingress_rule *a, const struct ingress_rule *b)
{
	size_t alen, blen;

	switch (a->host_kind) {
	case INGRESS_HOST_ANY:
		return true;
	case INGRESS_HOST_EXACT:
		return b->host_kind == INGRESS_HOST_EXACT && strcmp(a->hostname, b->hostname) == 0;
	case INGRESS_HOST_WILDCARD:
		if (b->host_kind == INGRESS_HOST_ANY)
			return false;
		/* a's suffix ".example.com" ends b's name, or b's own suffix. */
		alen = strlen(a->hostname + 1);
		blen = strlen(b->hostname + (b->host_kind == INGRESS_HOST_WILDCARD));
		return blen >= alen + (b->host_kind == INGRESS_HOST_EXACT) &&
		    strcmp(b->hostname + strlen(b->hostname) - alen, a->hostname + 1) == 0;
	}
	return false;
}

/* Formats rule i (0-based) for a message into buf. */
static const char *
ingress_text(const struct ingress *ing, size_t i, char *buf, size_t len)
{
	ingress_format(&ing->rules[i], buf, len);
	return buf;
}

/* Checks what cloudflared checks of a whole list, and that no rule is hidden by an earlier one. */
int
ingress_validate(const struct ingress *ing, char *err, size_t errlen)
{
	char a[INGRESS_ERR_MAX], b[INGRESS_ERR_MAX];
	size_t n = ing->nrules;

	if (n == 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "no ingress rules: add at least a catch-all rule, "
			    "e.g. rule = * http_status:404");
		return -1;
	}
	for (size_t i = 0; i + 1 < n; i++)
		if (ing->rules[i].host_kind == INGRESS_HOST_ANY) {
			ingress_err(err, errlen, i + 1, ingress_text(ing, i, a, sizeof(a)),
			    "rule #%zu matches every hostname, so rules after it would never "
			    "match: move it last", i + 1);
			return -1;
		}
	if (ing->rules[n - 1].host_kind != INGRESS_HOST_ANY) {
		ingress_err(err, errlen, n, ingress_text(ing, n - 1, a, sizeof(a)), "the last rule "
		    "must match every hostname (hostname *): end with one such as "
		    "rule = * http_status:404");
		return -1;
	}
	for (size_t j = 1; j + 1 < n; j++)
		for (size_t i = 0; i < j; i++)
			if (ingress_covers(&ing->rules[i], &ing->rules[j])) {
				char q[INGRESS_QUOTE_MAX + 1];

				util_quote(ingress_text(ing, i, b, sizeof(b)), q, sizeof(q));
				ingress_err(err, errlen, j + 1, ingress_text(ing, j, a, sizeof(a)),
				    "rule #%zu would never match: rule #%zu \"%s\" before it "
				    "matches every name it does; move it before rule #%zu", j + 1,
				    i + 1, q, i + 1);
				return -1;
			}
	return 0;
}

/* Whether the rule matches the normalised name. */
static bool
ingress_rule_matches(const struct ingress_rule *r, const char *name, size_t len)
{
	size_t slen;

	switch (r->host_kind) {
	case INGRESS_HOST_ANY:
		return true;
	case INGRESS_HOST_EXACT:
		return strcmp(r->hostname, name) == 0;
	case INGRESS_HOST_WILDCARD:
		/* "*.example.com" matches "x.example.com": name ends with ".example.com". */
		slen = strlen(r->hostname + 1);
		return len > slen && strcmp(name + len - slen, r->hostname + 1) == 0;
	}
	return false;
}

/* The first rule whose pattern matches hostname, after normalising it. */
const struct ingress_rule *
ingress_match(const struct ingress *ing, const char *hostname, size_t *index)
{
	char name[INGRESS_NAME_MAX + 1];
	size_t len;

	if (hostname == NULL || ingress_name(hostname, name) != NULL)
		return NULL;
	len = strlen(name);
	for (size_t i = 0; i < ing->nrules; i++)
		if (ingress_rule_matches(&ing->rules[i], name, len)) {
			if (index != NULL)
				*index = i;
			return &ing->rules[i];
		}
	return NULL;
}

size_t
ingress_count(const struct ingress *ing)
{
	return ing->nrules;
}

const struct ingress_rule *
ingress_rule(const struct ingress *ing, size_t i)
{
	return i < ing->nrules ? &ing->rules[i] : NULL;
}

bool
ingress_format(const struct ingress_rule *rule, char *buf, size_t len)
{
	return util_snprintf(buf, len, "%s %s%s", rule->hostname, rule->service,
	    rule->verify_token ? " verify_token" : "");
}

void
ingress_print(const struct ingress *ing, FILE *fp)
{
	for (size_t i = 0; i < ing->nrules; i++)
		fprintf(fp, "rule = %s %s%s\n", ing->rules[i].hostname, ing->rules[i].service,
		    ing->rules[i].verify_token ? " verify_token" : "");
}
