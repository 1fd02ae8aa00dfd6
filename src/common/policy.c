/* policy: the access rules of one app, evaluated as Cloudflare Access evaluates a policy list. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy.h"
#include "util.h"

#define POLICY_QUOTE_MAX	80	/* characters of a rule or word quoted in a message */
#define POLICY_TOKEN_NAME_MAX	64
#define POLICY_GROUP_MAX	128
#define POLICY_SELECTOR_LIST \
	"use token:NAME, any-token, everyone, email:, email-domain:, group: or ip:"

enum policy_kind {
	POLICY_SEL_TOKEN,
	POLICY_SEL_ANY_TOKEN,
	POLICY_SEL_EVERYONE,
	POLICY_SEL_EMAIL,
	POLICY_SEL_EMAIL_DOMAIN,
	POLICY_SEL_GROUP,
	POLICY_SEL_IP,
};

enum policy_role {
	POLICY_INCLUDE,
	POLICY_REQUIRE,
	POLICY_EXCLUDE,
};

struct policy_sel {
	enum policy_kind	 kind;
	enum policy_role	 role;
	char			*value;		/* token or group; email or domain lower-cased */
	int			 family;	/* ip: AF_INET or AF_INET6 */
	uint8_t			 net[16];	/* ip: the network, host bits zero */
	unsigned int		 plen;		/* ip: prefix length */
};

struct policy_rule {
	bool			 allow;
	char			*text;
	struct policy_sel	*sels;
	size_t			 nsels;
};

struct policy {
	struct policy_rule	*rules;
	size_t			 nrules;
	char			**tokens;
	size_t			 ntokens;
};

/* Writes 'policy "RULE": ' and the formatted message into err. */
static void __attribute__((format(printf, 4, 5)))
policy_err(char *err, size_t errlen, const char *rule, const char *fmt, ...)
{
	char q[POLICY_QUOTE_MAX + 1];
	va_list ap;
	int n;

	if (err == NULL || errlen == 0)
		return;
	n = snprintf(err, errlen, "policy \"%s\": ", util_quote(rule, q, sizeof(q)));
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static bool
policy_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Whether s is a token name: 1-64 of A-Z a-z 0-9 . _ -, the first a letter or digit. */
static bool
policy_token_name(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > POLICY_TOKEN_NAME_MAX || !policy_alnum(s[0]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!policy_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

/* Lower-cases an ASCII string in place. */
static void
policy_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* Whether bit i (from the most significant of addr[0]) is set. */
static bool
policy_bit(const uint8_t *addr, unsigned int i)
{
	return (addr[i / 8] >> (7 - i % 8) & 1) != 0;
}

/* Parses the CIDR of an ip: selector into sel; on error writes err and returns -1. */
static int
policy_parse_cidr(const char *rule, const char *cidr, struct policy_sel *sel, char *err,
    size_t errlen)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	char addr[INET6_ADDRSTRLEN + 1], q[POLICY_QUOTE_MAX + 1], net[INET6_ADDRSTRLEN];
	const char *slash = strchr(cidr, '/');
	size_t alen = slash != NULL ? (size_t)(slash - cidr) : strlen(cidr);
	unsigned int max;

	util_quote(cidr, q, sizeof(q));
	if (alen == 0 || alen >= sizeof(addr))
		goto badaddr;
	memcpy(addr, cidr, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, sel->net) == 1) {
		sel->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, sel->net) == 1) {
		sel->family = AF_INET6;
		max = 128;
	} else
		goto badaddr;
	sel->plen = max;
	if (slash != NULL) {
		const char *d = slash + 1;
		size_t dlen = strlen(d);

		if (dlen == 0 || dlen > 3 || strspn(d, "0123456789") != dlen ||
		    (d[0] == '0' && dlen > 1) || (unsigned int)atoi(d) > max) {
			policy_err(err, errlen, rule, "bad prefix length in ip:%s: write a number "
			    "from 0 to %u after '/'", q, max);
			return -1;
		}
		sel->plen = (unsigned int)atoi(d);
	}
	for (unsigned int i = sel->plen; i < max; i++) {
		if (policy_bit(sel->net, i)) {
			for (unsigned int j = sel->plen; j < max; j++)
				sel->net[j / 8] &= (uint8_t)~(0x80u >> j % 8);
			inet_ntop(sel->family, sel->net, net, sizeof(net));
			policy_err(err, errlen, rule, "ip:%s has address bits set beyond the "
			    "prefix length: write ip:%s/%u", q, net, sel->plen);
			return -1;
		}
	}
	if (sel->family == AF_INET6 && sel->plen >= 96 && memcmp(sel->net, mapped, 12) == 0) {
		policy_err(err, errlen, rule, "ip:%s is an IPv4-mapped range: write it as IPv4 "
		    "(such clients are matched by their IPv4 address)", q);
		return -1;
	}
	return 0;
badaddr:
	policy_err(err, errlen, rule, "ip:%s is not an IPv4 or IPv6 address or range (write "
	    "ip:192.0.2.0/24, ip:2001:db8::/32 or a bare address)", q);
	return -1;
}

/* Returns the part of s after prefix, or NULL if s does not start with it. */
static const char *
policy_after(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

/* Parses one selector word into sel; on error writes err and returns -1. */
static int
policy_parse_sel(const char *rule, const char *word, struct policy_sel *sel, char *err,
    size_t errlen)
{
	static const char *const keys[] = { "token", "email", "email-domain", "group", "ip" };
	char q[POLICY_QUOTE_MAX + 1];
	const char *body = word, *v;

	util_quote(word, q, sizeof(q));
	sel->role = POLICY_INCLUDE;
	if (*body == '+') {
		sel->role = POLICY_REQUIRE;
		body++;
	} else if (*body == '-') {
		sel->role = POLICY_EXCLUDE;
		body++;
	}
	if (strcmp(body, "everyone") == 0) {
		sel->kind = POLICY_SEL_EVERYONE;
		return 0;
	}
	if (strcmp(body, "any-token") == 0) {
		sel->kind = POLICY_SEL_ANY_TOKEN;
		return 0;
	}
	if ((v = policy_after(body, "token:")) != NULL) {
		if (!policy_token_name(v)) {
			policy_err(err, errlen, rule, "bad token name in \"%s\": a name is 1 to %d "
			    "letters, digits, '.', '_' or '-', starting with a letter or digit", q,
			    POLICY_TOKEN_NAME_MAX);
			return -1;
		}
		sel->kind = POLICY_SEL_TOKEN;
	} else if ((v = policy_after(body, "email:")) != NULL) {
		if (!util_email_valid(v, false)) {
			policy_err(err, errlen, rule, "bad email address in \"%s\": write "
			    "email:NAME@DOMAIN", q);
			return -1;
		}
		sel->kind = POLICY_SEL_EMAIL;
	} else if ((v = policy_after(body, "email-domain:")) != NULL) {
		if (!util_host_name(v)) {
			policy_err(err, errlen, rule, "bad domain in \"%s\": write "
			    "email-domain:example.com (no '@', no wildcard; it matches that domain "
			    "only, not its subdomains)", q);
			return -1;
		}
		sel->kind = POLICY_SEL_EMAIL_DOMAIN;
	} else if ((v = policy_after(body, "group:")) != NULL) {
		if (*v == '\0' || strlen(v) > POLICY_GROUP_MAX) {
			policy_err(err, errlen, rule, "bad group name in \"%s\": a name is 1 to %d "
			    "printable characters without spaces", q, POLICY_GROUP_MAX);
			return -1;
		}
		sel->kind = POLICY_SEL_GROUP;
	} else if ((v = policy_after(body, "ip:")) != NULL) {
		sel->kind = POLICY_SEL_IP;
		return policy_parse_cidr(rule, v, sel, err, errlen);
	} else {
		for (size_t i = 0; i < nitems(keys); i++)
			if (strcmp(body, keys[i]) == 0) {
				policy_err(err, errlen, rule, "selector \"%s\" needs a value: "
				    "write %s:VALUE", q, keys[i]);
				return -1;
			}
		policy_err(err, errlen, rule, "unknown selector \"%s\"; " POLICY_SELECTOR_LIST, q);
		return -1;
	}
	sel->value = xstrdup(v);
	if (sel->kind == POLICY_SEL_EMAIL || sel->kind == POLICY_SEL_EMAIL_DOMAIN)
		policy_lower(sel->value);
	return 0;
}

/* Frees what a rule owns. */
static void
policy_rule_clear(struct policy_rule *r)
{
	for (size_t i = 0; i < r->nsels; i++)
		free(r->sels[i].value);
	free(r->sels);
	free(r->text);
	memset(r, 0, sizeof(*r));
}

struct policy *
policy_new(void)
{
	return xcalloc(1, sizeof(struct policy));
}

void
policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nrules; i++)
		policy_rule_clear(&p->rules[i]);
	free(p->rules);
	for (size_t i = 0; i < p->ntokens; i++)
		free(p->tokens[i]);
	free(p->tokens);
	free(p);
}

/* Adds name to the list of token names unless it is there already. */
static void
policy_note_token(struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->ntokens; i++)
		if (strcmp(p->tokens[i], name) == 0)
			return;
	p->tokens = xreallocarray(p->tokens, p->ntokens + 1, sizeof(*p->tokens));
	p->tokens[p->ntokens++] = xstrdup(name);
}

/* Parses one rule and appends it to p; p is unchanged on error. */
int
policy_add(struct policy *p, const char *rule, char *err, size_t errlen)
{
	struct policy_rule r = { 0 };
	char *copy = NULL, *words[POLICY_SELECTORS_MAX + 1], q[POLICY_QUOTE_MAX + 1];
	size_t nwords = 0, len, pos = 0;
	bool include = false;
	int ret = -1;

	if (rule == NULL)
		rule = "";
	if (p->nrules >= POLICY_RULES_MAX) {
		policy_err(err, errlen, rule, "too many rules: a policy has at most %d",
		    POLICY_RULES_MAX);
		goto out;
	}
	if ((len = strlen(rule)) > POLICY_RULE_MAX) {
		policy_err(err, errlen, rule, "the rule is longer than %d bytes", POLICY_RULE_MAX);
		goto out;
	}
	for (size_t i = 0; i < len; i++)
		if ((rule[i] < 0x20 || rule[i] >= 0x7f) && rule[i] != '\t') {
			policy_err(err, errlen, rule, "byte %zu (0x%02x) is not allowed: a rule is "
			    "printable ASCII", i + 1, (unsigned char)rule[i]);
			goto out;
		}
	copy = xstrdup(rule);
	for (char *s = copy;;) {
		s += strspn(s, " \t");
		if (*s == '\0')
			break;
		if (nwords == nitems(words)) {
			policy_err(err, errlen, rule, "more than %d selectors in one rule",
			    POLICY_SELECTORS_MAX);
			goto out;
		}
		words[nwords++] = s;
		s += strcspn(s, " \t");
		if (*s != '\0')
			*s++ = '\0';
	}
	if (nwords == 0) {
		policy_err(err, errlen, rule, "empty rule: write ACTION SELECTOR..., e.g. "
		    "allow token:NAME");
		goto out;
	}
	if (strcmp(words[0], "allow") == 0)
		r.allow = true;
	else if (strcmp(words[0], "deny") != 0) {
		policy_err(err, errlen, rule, "unknown action \"%s\": a rule starts with allow or "
		    "deny", util_quote(words[0], q, sizeof(q)));
		goto out;
	}
	if (nwords == 1) {
		policy_err(err, errlen, rule, "no selector after %s: " POLICY_SELECTOR_LIST,
		    words[0]);
		goto out;
	}
	r.sels = xcalloc(nwords - 1, sizeof(*r.sels));
	for (size_t i = 1; i < nwords; i++) {
		if (policy_parse_sel(rule, words[i], &r.sels[r.nsels], err, errlen) == -1)
			goto out;
		if (r.sels[r.nsels++].role == POLICY_INCLUDE)
			include = true;
	}
	if (!include) {
		policy_err(err, errlen, rule, "no include selector (one without '+' or '-'), so "
		    "the rule would never apply: add one, e.g. everyone");
		goto out;
	}
	r.text = xmalloc(len + 1);
	for (size_t i = 0; i < nwords; i++) {
		size_t n = strlen(words[i]);

		if (i > 0)
			r.text[pos++] = ' ';
		memcpy(r.text + pos, words[i], n);
		pos += n;
	}
	r.text[pos] = '\0';
	for (size_t i = 0; i < r.nsels; i++)
		if (r.sels[i].kind == POLICY_SEL_TOKEN)
			policy_note_token(p, r.sels[i].value);
	p->rules = xreallocarray(p->rules, p->nrules + 1, sizeof(*p->rules));
	p->rules[p->nrules++] = r;
	memset(&r, 0, sizeof(r));
	ret = 0;
out:
	policy_rule_clear(&r);
	free(copy);
	return ret;
}

size_t
policy_count(const struct policy *p)
{
	return p->nrules;
}

const char *
policy_rule(const struct policy *p, size_t i)
{
	return i < p->nrules ? p->rules[i].text : NULL;
}

size_t
policy_token_count(const struct policy *p)
{
	return p->ntokens;
}

const char *
policy_token_nth(const struct policy *p, size_t i)
{
	return i < p->ntokens ? p->tokens[i] : NULL;
}

/* The client's address as family and bytes, an IPv4-mapped IPv6 address as IPv4. */
static bool
policy_client(const struct sockaddr *sa, int *family, uint8_t addr[16])
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		*family = AF_INET;
		memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family != AF_INET6)
		return false;
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		*family = AF_INET;
		memcpy(addr, sin6->sin6_addr.s6_addr + 12, 4);
	} else {
		*family = AF_INET6;
		memcpy(addr, sin6->sin6_addr.s6_addr, 16);
	}
	return true;
}

/* Whether the selector matches id (whose address, if known, is family/addr). */
static bool
policy_sel_match(const struct policy_sel *s, const struct policy_identity *id, int family,
    const uint8_t *addr)
{
	const char *at;

	switch (s->kind) {
	case POLICY_SEL_EVERYONE:
		return true;
	case POLICY_SEL_ANY_TOKEN:
		return id->kind == POLICY_WHO_TOKEN;
	case POLICY_SEL_TOKEN:
		return id->kind == POLICY_WHO_TOKEN && id->token_name != NULL &&
		    strcmp(id->token_name, s->value) == 0;
	case POLICY_SEL_EMAIL:
		return id->kind == POLICY_WHO_PERSON && id->email != NULL &&
		    strcasecmp(id->email, s->value) == 0;
	case POLICY_SEL_EMAIL_DOMAIN:
		return id->kind == POLICY_WHO_PERSON && id->email != NULL &&
		    (at = strrchr(id->email, '@')) != NULL && at != id->email &&
		    strcasecmp(at + 1, s->value) == 0;
	case POLICY_SEL_GROUP:
		if (id->kind != POLICY_WHO_PERSON || id->groups == NULL)
			return false;
		for (size_t i = 0; i < id->ngroups; i++)
			if (id->groups[i] != NULL && strcmp(id->groups[i], s->value) == 0)
				return true;
		return false;
	case POLICY_SEL_IP:
		if (family != s->family)
			return false;
		for (unsigned int i = 0; i < s->plen; i++)
			if (policy_bit(addr, i) != policy_bit(s->net, i))
				return false;
		return true;
	}
	return false;
}

/* Whether the rule applies to id: an include matches, every require does, no exclude does. */
static bool
policy_rule_applies(const struct policy_rule *r, const struct policy_identity *id, int family,
    const uint8_t *addr)
{
	bool include = false;

	for (size_t i = 0; i < r->nsels; i++) {
		bool m = policy_sel_match(&r->sels[i], id, family, addr);

		switch (r->sels[i].role) {
		case POLICY_INCLUDE:
			include = include || m;
			break;
		case POLICY_REQUIRE:
			if (!m)
				return false;
			break;
		case POLICY_EXCLUDE:
			if (m)
				return false;
			break;
		}
	}
	return include;
}

/* Writes 'WHAT rule #N "TEXT"TAIL' into reason, cutting the rule text to fit. */
static void
policy_reason(char *reason, size_t len, const char *what, size_t n, const char *text,
    const char *tail)
{
	char q[POLICY_REASON_MAX];
	int fixed;

	if (reason == NULL || len == 0)
		return;
	fixed = snprintf(NULL, 0, "%s rule #%zu \"\"%s", what, n, tail);
	if (fixed < 0 || (size_t)fixed + 4 >= len || (size_t)fixed + 4 >= sizeof(q)) {
		snprintf(reason, len, "%s rule #%zu%s", what, n, tail);
		return;
	}
	util_quote(text, q, len - (size_t)fixed < sizeof(q) ? len - (size_t)fixed : sizeof(q));
	snprintf(reason, len, "%s rule #%zu \"%s\"%s", what, n, q, tail);
}

/* Evaluates the rules in order; the first that applies decides, and none means deny. */
enum policy_verdict
policy_eval(const struct policy *p, const struct policy_identity *id, char *reason,
    size_t reasonlen)
{
	uint8_t addr[16] = { 0 };
	int family = AF_UNSPEC;
	bool known;

	if (id == NULL || (id->kind != POLICY_WHO_TOKEN && id->kind != POLICY_WHO_PERSON)) {
		if (reason != NULL && reasonlen > 0)
			snprintf(reason, reasonlen, "no identity");
		return POLICY_DENY;
	}
	known = policy_client(id->addr, &family, addr);
	for (size_t i = 0; p != NULL && i < p->nrules; i++) {
		const struct policy_rule *r = &p->rules[i];

		if (!known)
			for (size_t j = 0; j < r->nsels; j++)
				if (r->sels[j].kind == POLICY_SEL_IP) {
					policy_reason(reason, reasonlen, "denied:", i + 1, r->text,
					    " needs the client's address, which is unknown");
					return POLICY_DENY;
				}
		if (policy_rule_applies(r, id, family, addr)) {
			policy_reason(reason, reasonlen, r->allow ? "allowed by" : "denied by",
			    i + 1, r->text, "");
			return r->allow ? POLICY_ALLOW : POLICY_DENY;
		}
	}
	if (reason != NULL && reasonlen > 0)
		snprintf(reason, reasonlen, "no rule allows");
	return POLICY_DENY;
}
