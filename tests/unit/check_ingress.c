/* check_ingress: ingress rules as cloudflared reads them: grammar, errors, validation, matching. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "common/ingress.h"
#include "common/util.h"
#include "suites.h"

/* A rule as given and what it must parse to. */
static const struct {
	const char			*hostname;
	const char			*service;
	enum ingress_host_kind		 host_kind;
	const char			*norm;
	enum ingress_service_kind	 kind;
	const char			*host;	/* tcp host, unix path */
	int				 num;	/* tcp port, http status */
} good[] = {
	{ "db.example.com", "tcp://127.0.0.1:5432", INGRESS_HOST_EXACT, "db.example.com",
	    INGRESS_SVC_TCP, "127.0.0.1", 5432 },
	{ "DB.Example.COM.", "tcp://localhost:5432", INGRESS_HOST_EXACT, "db.example.com",
	    INGRESS_SVC_TCP, "localhost", 5432 },
	{ "x-1.a2.example", "TCP://[::1]:22", INGRESS_HOST_EXACT, "x-1.a2.example",
	    INGRESS_SVC_TCP, "::1", 22 },
	{ "localhost", "tcp://[2001:db8::7]:65535", INGRESS_HOST_EXACT, "localhost",
	    INGRESS_SVC_TCP, "2001:db8::7", 65535 },
	{ "a.example.com", "tcp://db.internal.:1", INGRESS_HOST_EXACT, "a.example.com",
	    INGRESS_SVC_TCP, "db.internal.", 1 },
	{ "*.example.com", "unix:/run/app.sock", INGRESS_HOST_WILDCARD, "*.example.com",
	    INGRESS_SVC_UNIX, "/run/app.sock", 0 },
	{ "*.Example.com.", "Unix:/x", INGRESS_HOST_WILDCARD, "*.example.com",
	    INGRESS_SVC_UNIX, "/x", 0 },
	{ "*", "http_status:404", INGRESS_HOST_ANY, "*", INGRESS_SVC_HTTP_STATUS, NULL, 404 },
	{ "", "http_status:100", INGRESS_HOST_ANY, "*", INGRESS_SVC_HTTP_STATUS, NULL, 100 },
	{ NULL, "HTTP_STATUS:599", INGRESS_HOST_ANY, "*", INGRESS_SVC_HTTP_STATUS, NULL, 599 },
	{ "hello.example.com", "hello", INGRESS_HOST_EXACT, "hello.example.com",
	    INGRESS_SVC_HELLO, NULL, 0 },
	{ "h", "HELLO", INGRESS_HOST_EXACT, "h", INGRESS_SVC_HELLO, NULL, 0 },
};

START_TEST(test_grammar)
{
	struct ingress *ing = ingress_new();
	char err[INGRESS_ERR_MAX];

	for (size_t i = 0; i < nitems(good); i++) {
		const struct ingress_rule *r;

		ck_assert_msg(ingress_add(ing, good[i].hostname, good[i].service, err,
		    sizeof(err)) == 0, "%s %s: %s", good[i].hostname, good[i].service, err);
		r = ingress_rule(ing, i);
		ck_assert_ptr_nonnull(r);
		ck_assert_int_eq(r->host_kind, good[i].host_kind);
		ck_assert_str_eq(r->hostname, good[i].norm);
		ck_assert_int_eq(r->service_kind, good[i].kind);
		ck_assert_str_eq(r->service, good[i].service);
		switch (r->service_kind) {
		case INGRESS_SVC_TCP:
			ck_assert_str_eq(r->host, good[i].host);
			ck_assert_int_eq(r->port, good[i].num);
			break;
		case INGRESS_SVC_UNIX:
			ck_assert_str_eq(r->path, good[i].host);
			break;
		case INGRESS_SVC_HTTP_STATUS:
			ck_assert_int_eq(r->status, good[i].num);
			break;
		case INGRESS_SVC_HELLO:
			break;
		}
	}
	ck_assert_uint_eq(ingress_count(ing), nitems(good));
	ck_assert_ptr_null(ingress_rule(ing, nitems(good)));
	ingress_free(ing);
	ingress_free(NULL);
}
END_TEST

/* The option verify_token: on the line or added to the last rule; strict; read back. */
START_TEST(test_verify_token)
{
	struct ingress *ing = ingress_new();
	char err[INGRESS_ERR_MAX], line[INGRESS_ERR_MAX];
	const struct ingress_rule *r;

	ck_assert_int_eq(ingress_add_option(ing, "verify_token", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "option \"verify_token\" needs a rule to apply to");
	ck_assert_int_eq(ingress_add_line(ing, "db.example.com tcp://127.0.0.1:5432 "
	    "verify_token", err, sizeof(err)), 0);
	ck_assert(ingress_rule(ing, 0)->verify_token);
	ck_assert(ingress_verifies_tokens(ing));
	ck_assert_int_eq(ingress_add_option(ing, "verify_token", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "rule #1 \"db.example.com tcp://127.0.0.1:5432 verify_token\": "
	    "verify_token is given twice");
	ck_assert_int_eq(ingress_add(ing, "web.example.com", "hello", err, sizeof(err)), 0);
	ck_assert(!ingress_rule(ing, 1)->verify_token);
	ck_assert_int_eq(ingress_add_option(ing, "verify-token", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "rule #2 \"web.example.com hello\": unknown option "
	    "\"verify-token\": the only option is verify_token");
	ck_assert_int_eq(ingress_add_option(ing, "verify_token", err, sizeof(err)), 0);
	ck_assert(ingress_rule(ing, 1)->verify_token);
	/* A refusal verifies nothing; a bad option leaves no rule behind. */
	ck_assert_int_eq(ingress_add_line(ing, "x.example.com http_status:403 verify_token", err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "rule #3 \"x.example.com http_status:403\": verify_token on an "
	    "http_status rule: it refuses every stream anyway; remove verify_token");
	ck_assert_int_eq(ingress_add_line(ing, "x.example.com hello VERIFY_TOKEN", err,
	    sizeof(err)), -1);
	ck_assert_uint_eq(ingress_count(ing), 2);
	ck_assert_int_eq(ingress_add_line(ing, "* http_status:404", err, sizeof(err)), 0);
	ck_assert_int_eq(ingress_validate(ing, err, sizeof(err)), 0);
	r = ingress_match(ing, "WEB.example.com.", NULL);
	ck_assert(r != NULL && r->verify_token);
	ck_assert(!ingress_match(ing, "other.example.com", NULL)->verify_token);
	ck_assert(ingress_format(ingress_rule(ing, 0), line, sizeof(line)));
	ck_assert_str_eq(line, "db.example.com tcp://127.0.0.1:5432 verify_token");
	ingress_free(ing);
	ing = ingress_new();
	ck_assert_int_eq(ingress_add_line(ing, line, err, sizeof(err)), 0);
	ck_assert(ingress_rule(ing, 0)->verify_token);
	ck_assert(ingress_add_line(ing, "* hello", err, sizeof(err)) == 0);
	ck_assert(ingress_verifies_tokens(ing));
	ingress_free(ing);
	ing = ingress_new();
	ck_assert_int_eq(ingress_add_line(ing, "* hello", err, sizeof(err)), 0);
	ck_assert(!ingress_verifies_tokens(ing));
	ingress_free(ing);
}
END_TEST

START_TEST(test_line_form)
{
	struct ingress *ing = ingress_new();
	char err[INGRESS_ERR_MAX];

	ck_assert_int_eq(ingress_add_line(ing, "  db.example.com \t tcp://127.0.0.1:5432 ", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(ingress_add_line(ing, "* http_status:404", err, sizeof(err)), 0);
	ck_assert_str_eq(ingress_rule(ing, 0)->hostname, "db.example.com");
	ck_assert_str_eq(ingress_rule(ing, 0)->service, "tcp://127.0.0.1:5432");
	ck_assert_int_eq(ingress_rule(ing, 1)->host_kind, INGRESS_HOST_ANY);
	ck_assert_int_eq(ingress_add_line(ing, "http_status:404", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "rule #3 \"http_status:404\": write HOSTNAME SERVICE "
	    "[verify_token] (the catch-all's hostname is *), e.g. db.example.com "
	    "tcp://127.0.0.1:5432");
	ck_assert_int_eq(ingress_add_line(ing, "a b c d", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "write HOSTNAME SERVICE [verify_token]"));
	ck_assert_int_eq(ingress_add_line(ing, "a.example hello c", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "rule #3 \"a.example hello\": unknown option \"c\": the only "
	    "option is verify_token");
	ck_assert_int_eq(ingress_add_line(ing, "", err, sizeof(err)), -1);
	ck_assert_int_eq(ingress_add_line(ing, NULL, err, sizeof(err)), -1);
	ck_assert_int_eq(ingress_add_line(ing, "db:5432 tcp://x:1", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "has a port, scheme or path"));
	ck_assert_uint_eq(ingress_count(ing), 2);
	ingress_free(ing);
}
END_TEST

/* A bad rule and its message (exact, or a part of it). */
static const struct {
	const char	*hostname;
	const char	*service;
	const char	*msg;
	bool		 exact;
} bad[] = {
	{ "db.example.com:5432", "tcp://localhost:5432", "rule #1 \"db.example.com:5432 "
	    "tcp://localhost:5432\": hostname \"db.example.com:5432\" has a port, scheme or path: "
	    "write the name alone, e.g. db.example.com", true },
	{ "tcp://db.example.com", "hello", "has a port, scheme or path", false },
	{ "db.example.com/x", "hello", "has a port, scheme or path", false },
	{ "a.*.com", "hello", "rule #1 \"a.*.com hello\": hostname \"a.*.com\": a wildcard is "
	    "allowed only as the whole first label, as in *.example.com", true },
	{ "*example.com", "hello", "a wildcard is allowed only", false },
	{ "*.*.example.com", "hello", "a wildcard is allowed only", false },
	{ "**", "hello", "a wildcard is allowed only", false },
	{ "db.*", "hello", "a wildcard is allowed only", false },
	{ "*.", "hello", "hostname \"*.\" is not a valid DNS name: it is empty", false },
	{ ".", "hello", "not a valid DNS name: it is empty", false },
	{ "db..example.com", "hello", "rule #1 \"db..example.com hello\": hostname "
	    "\"db..example.com\" is not a valid DNS name: it has an empty label", true },
	{ "db.example.com..", "hello", "it has an empty label", false },
	{ ".db.example.com", "hello", "it has an empty label", false },
	{ "-db.example.com", "hello", "a label starts with '-'", false },
	{ "db-.example.com", "hello", "a label ends with '-'", false },
	{ "db_1.example.com", "hello", "a character other than letters, digits, '-' and '.'",
	    false },
	{ "db example.com", "hello", "a character other than", false },
	{ "d\xc3\xa9.example.com", "hello", "a character other than", false },
	{ "db\n.example.com", "hello", "rule #1 \"db?.example.com hello\"", false },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com", "hello",
	    "a label is longer than 63 characters", false },
	{ "db.example.com", NULL, "rule #1 \"db.example.com \": no service: use tcp://HOST:PORT, "
	    "unix:/PATH, http_status:CODE or hello", true },
	{ "db.example.com", "", "no service", false },
	{ "db.example.com", "http://localhost:8080", "rule #1 \"db.example.com "
	    "http://localhost:8080\": service \"http://localhost:8080\": scheme \"http\" is not "
	    "supported; use tcp://HOST:PORT, unix:/PATH, http_status:CODE or hello", true },
	{ "db.example.com", "ssh://localhost:22", "scheme \"ssh\" is not supported", false },
	{ "db.example.com", "localhost:5432", "unknown service \"localhost:5432\"; use "
	    "tcp://HOST:PORT", false },
	{ "db.example.com", "hello_world", "unknown service \"hello_world\"", false },
	{ "db.example.com", "tcp://localhost:5432/db", "rule #1 \"db.example.com "
	    "tcp://localhost:5432/db\": a service URL has no path, query or fragment: write "
	    "tcp://HOST:PORT", true },
	{ "db.example.com", "tcp://localhost:5432/", "has no path", false },
	{ "db.example.com", "tcp://localhost:5432?x=1", "has no path", false },
	{ "db.example.com", "tcp://localhost:5432#f", "has no path", false },
	{ "db.example.com", "tcp://user@localhost:5432", "a service URL has no user name", false },
	{ "db.example.com", "tcp://localhost", "the port is missing", false },
	{ "db.example.com", "tcp://localhost:", "port \"\" is not a number from 1 to 65535",
	    false },
	{ "db.example.com", "tcp://localhost:0", "rule #1 \"db.example.com tcp://localhost:0\": "
	    "bad address \"localhost:0\": port \"0\" is not a number from 1 to 65535", true },
	{ "db.example.com", "tcp://localhost:65536", "not a number from 1 to 65535", false },
	{ "db.example.com", "tcp://localhost:-1", "not a number from 1 to 65535", false },
	{ "db.example.com", "tcp://localhost:http", "not a number from 1 to 65535", false },
	{ "db.example.com", "tcp://:5432", "the host is missing", false },
	{ "db.example.com", "tcp://", "empty address", false },
	{ "db.example.com", "tcp://::1:22", "rule #1 \"db.example.com tcp://::1:22\": write an "
	    "IPv6 address in brackets: tcp://[ADDRESS]:PORT", true },
	{ "db.example.com", "tcp://host:1:2", "write an IPv6 address in brackets", false },
	{ "db.example.com", "tcp://[::1]", "the port is missing", false },
	{ "db.example.com", "tcp://[1.2.3.4]:22", "is not an IPv6 address", false },
	{ "db.example.com", "tcp://[fe80::1%eth0]:22", "is not an IPv6 address", false },
	{ "db.example.com", "tcp://127.1:22", "\"127.1\" is an unusual spelling of an IPv4 "
	    "address: write it as four decimal numbers, a.b.c.d", false },
	{ "db.example.com", "tcp://2130706433:22", "unusual spelling of an IPv4", false },
	{ "db.example.com", "tcp://0x7f.0.0.1:22", "unusual spelling of an IPv4", false },
	{ "db.example.com", "tcp://010.0.0.1:22", "unusual spelling of an IPv4", false },
	{ "db.example.com", "tcp://db_1:22", "\"db_1\" is neither a DNS name nor an IP address",
	    false },
	{ "db.example.com", "tcp://a..b:22", "neither a DNS name nor an IP address", false },
	{ "db.example.com", "tcp://local host:22", "byte 12 (0x20) of the service is not "
	    "allowed: a service is printable ASCII without spaces", false },
	{ "db.example.com", "unix:run/app.sock", "rule #1 \"db.example.com unix:run/app.sock\": "
	    "service \"unix:run/app.sock\": write unix: and an absolute path, e.g. "
	    "unix:/run/app.sock", true },
	{ "db.example.com", "unix://run/app.sock", "write unix: and an absolute path", false },
	{ "db.example.com", "unix:", "write unix: and an absolute path", false },
	{ "db.example.com", "http_status:", "http_status needs a code from 100 to 599", false },
	{ "db.example.com", "http_status:99", "http_status needs a code from 100 to 599", false },
	{ "db.example.com", "http_status:600", "http_status needs a code", false },
	{ "db.example.com", "http_status:0404", "http_status needs a code", false },
	{ "db.example.com", "http_status:40x", "http_status needs a code", false },
	{ "db.example.com", "http_status:+40", "http_status needs a code", false },
	{ "db.example.com", "hello:80", "unknown service \"hello:80\"", false },
};

START_TEST(test_errors)
{
	struct ingress *ing = ingress_new();
	char err[INGRESS_ERR_MAX];

	for (size_t i = 0; i < nitems(bad); i++) {
		memset(err, 0, sizeof(err));
		ck_assert_msg(ingress_add(ing, bad[i].hostname, bad[i].service, err,
		    sizeof(err)) == -1, "accepted %s %s", bad[i].hostname, bad[i].service);
		if (bad[i].exact)
			ck_assert_str_eq(err, bad[i].msg);
		else
			ck_assert_msg(strstr(err, bad[i].msg) != NULL, "%s %s: got \"%s\"",
			    bad[i].hostname, bad[i].service, err);
	}
	ck_assert_uint_eq(ingress_count(ing), 0);
	/* Rules are numbered by position, and a refused rule takes no number. */
	ck_assert_int_eq(ingress_add(ing, "a.example.com", "hello", err, sizeof(err)), 0);
	ck_assert_int_eq(ingress_add(ing, "b.example.com", "nope", err, sizeof(err)), -1);
	ck_assert_int_eq(strncmp(err, "rule #2 \"b.example.com nope\": ", 30), 0);
	ck_assert_int_eq(ingress_add(ing, "b.example.com", "nope", NULL, 0), -1);
	ck_assert_int_eq(ingress_add(ing, "b.example.com", "nope", err, 3), -1);
	ck_assert_str_eq(err, "ru");
	ingress_free(ing);
}
END_TEST

START_TEST(test_lengths)
{
	struct ingress *ing = ingress_new();
	char err[INGRESS_ERR_MAX], name[300], svc[INGRESS_SERVICE_MAX + 8];

	/* A 253-character name, with or without its trailing dot; 254 is too long. */
	memset(name, 0, sizeof(name));
	for (size_t i = 0; i < 253; i++)
		name[i] = i % 64 == 63 ? '.' : 'a';
	ck_assert_int_eq(ingress_add(ing, name, "hello", err, sizeof(err)), 0);
	name[253] = '.';
	ck_assert_int_eq(ingress_add(ing, name, "hello", err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(ingress_rule(ing, 1)->hostname), 253);
	ck_assert_ptr_nonnull(ingress_match(ing, name, NULL));
	name[253] = 'a';
	ck_assert_int_eq(ingress_add(ing, name, "hello", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "it is longer than 253 characters"));
	ck_assert_ptr_null(ingress_match(ing, name, NULL));
	/* A wildcard's whole pattern is a name of at most 253 characters too. */
	memcpy(name, "*.", 2);
	name[253] = '\0';
	ck_assert_uint_eq(strlen(name), 253);
	ck_assert_int_eq(ingress_add(ing, name, "hello", err, sizeof(err)), 0);
	name[253] = 'a';
	name[254] = '\0';
	ck_assert_int_eq(ingress_add(ing, name, "hello", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "longer than 253"));
	/* A socket path of 107 bytes fits sun_path, 108 does not. */
	memset(svc, 0, sizeof(svc));
	memcpy(svc, "unix:/", 6);
	memset(svc + 6, 'p', 106);
	ck_assert_int_eq(ingress_add(ing, "u", svc, err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(ingress_rule(ing, ingress_count(ing) - 1)->path), 107);
	svc[6 + 106] = 'p';
	ck_assert_int_eq(ingress_add(ing, "u", svc, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "the socket path is longer than 107 bytes"));
	/* A service of 512 bytes is read, 513 are refused before anything else. */
	memset(svc, 'x', INGRESS_SERVICE_MAX + 1);
	svc[INGRESS_SERVICE_MAX + 1] = '\0';
	ck_assert_int_eq(ingress_add(ing, "u", svc, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "the service is longer than 512 bytes"));
	svc[INGRESS_SERVICE_MAX] = '\0';
	ck_assert_int_eq(ingress_add(ing, "u", svc, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown service"));
	/* A long tcp:// address is refused without echoing all of it. */
	memcpy(svc, "tcp://", 6);
	ck_assert_int_eq(ingress_add(ing, "u", svc, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "the address after tcp:// is too long"));
	ingress_free(ing);
	/* 1024 rules, not 1025. */
	ing = ingress_new();
	for (int i = 0; i < INGRESS_RULES_MAX; i++)
		ck_assert_int_eq(ingress_add(ing, "a", "hello", err, sizeof(err)), 0);
	ck_assert_int_eq(ingress_add(ing, "a", "hello", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "rule #1025 \"a hello\": too many rules: at most 1024");
	ingress_free(ing);
}
END_TEST

/* Builds an ingress from "HOSTNAME SERVICE" lines (NULL-terminated); each must parse. */
static struct ingress *
make(const char *const *lines)
{
	struct ingress *ing = ingress_new();
	char err[INGRESS_ERR_MAX];

	for (size_t i = 0; lines[i] != NULL; i++)
		ck_assert_msg(ingress_add_line(ing, lines[i], err, sizeof(err)) == 0, "%s: %s",
		    lines[i], err);
	return ing;
}

/* Rule lists and what ingress_validate says of them (NULL: valid). */
static const struct {
	const char	*lines[5];
	const char	*msg;
} validations[] = {
	{ { NULL }, "no ingress rules: add at least a catch-all rule, e.g. rule = * "
	    "http_status:404" },
	{ { "* http_status:404" }, NULL },
	{ { "* tcp://127.0.0.1:80" }, NULL },
	{ { "db.example.com tcp://127.0.0.1:5432", "* http_status:404" }, NULL },
	{ { "db.example.com tcp://127.0.0.1:5432", "*.example.com unix:/run/a.sock",
	    "*.example.org hello", "* http_status:503" }, NULL },
	{ { "db.example.com tcp://127.0.0.1:5432" }, "rule #1 \"db.example.com "
	    "tcp://127.0.0.1:5432\": the last rule must match every hostname (hostname *): end "
	    "with one such as rule = * http_status:404" },
	{ { "* http_status:404", "db.example.com tcp://127.0.0.1:5432" }, "rule #1 \"* "
	    "http_status:404\": rule #1 matches every hostname, so rules after it would never "
	    "match: move it last" },
	{ { "a.example.com hello", "* http_status:404", "b.example.com hello",
	    "* http_status:404" }, "rule #2 \"* http_status:404\": rule #2 matches every "
	    "hostname, so rules after it would never match: move it last" },
	{ { "db.example.com hello", "DB.example.com. tcp://x:1", "* http_status:404" },
	    "rule #2 \"db.example.com tcp://x:1\": rule #2 would never match: rule #1 "
	    "\"db.example.com hello\" before it matches every name it does; move it before "
	    "rule #1" },
	{ { "*.example.com hello", "db.example.com tcp://x:1", "* http_status:404" },
	    "rule #2 \"db.example.com tcp://x:1\": rule #2 would never match: rule #1 "
	    "\"*.example.com hello\" before it matches every name it does; move it before "
	    "rule #1" },
	{ { "a.b hello", "*.example.com hello", "*.x.example.com hello", "* http_status:404" },
	    "rule #3 \"*.x.example.com hello\": rule #3 would never match: rule #2" },
	{ { "*.example.com hello", "*.example.com tcp://x:1", "* http_status:404" },
	    "rule #2 \"*.example.com tcp://x:1\": rule #2 would never match" },
	/* Not hidden: the wildcard does not match its own base name, nor a name that merely
	 * ends with the same letters, and a narrower wildcard may come first. */
	{ { "*.example.com hello", "example.com hello", "badexample.com hello",
	    "* http_status:404" }, NULL },
	{ { "*.x.example.com hello", "*.example.com hello", "x.example.com hello",
	    "* http_status:404" }, "rule #3 \"x.example.com hello\": rule #3 would never match: "
	    "rule #2" },
	{ { "db.example.com hello", "*.example.com hello", "* http_status:404" }, NULL },
};

START_TEST(test_validate)
{
	char err[INGRESS_ERR_MAX];

	for (size_t i = 0; i < nitems(validations); i++) {
		struct ingress *ing = make(validations[i].lines);
		int rc = ingress_validate(ing, err, sizeof(err));

		if (validations[i].msg == NULL)
			ck_assert_msg(rc == 0, "case %zu: %s", i, err);
		else {
			ck_assert_msg(rc == -1, "case %zu accepted", i);
			ck_assert_msg(strncmp(err, validations[i].msg,
			    strlen(validations[i].msg)) == 0, "case %zu: %s", i, err);
		}
		ck_assert_int_eq(ingress_validate(ing, NULL, 0), rc);
		ingress_free(ing);
	}
}
END_TEST

START_TEST(test_match)
{
	static const char *const lines[] = {
		"db.example.com tcp://127.0.0.1:5432",		/* 0 */
		"*.example.com unix:/run/web.sock",		/* 1 */
		"example.com tcp://127.0.0.1:80",		/* 2 */
		"*.internal hello",				/* 3 */
		"a.b.internal tcp://127.0.0.1:1",		/* 4: hidden, checked below */
		"* http_status:404",				/* 5 */
		NULL,
	};
	static const struct {
		const char	*name;
		long		 index;	/* -1: refused */
	} cases[] = {
		{ "db.example.com", 0 },
		{ "DB.EXAMPLE.COM", 0 },
		{ "db.example.com.", 0 },
		{ "Db.Example.Com.", 0 },
		{ "web.example.com", 1 },
		{ "a.b.c.example.com", 1 },
		{ "x.db.example.com", 1 },
		{ "example.com", 2 },
		{ "EXAMPLE.com.", 2 },
		{ "badexample.com", 5 },
		{ "example.com.evil.net", 5 },
		{ "db.example.co", 5 },
		{ "x.internal", 3 },
		{ "a.b.internal", 3 },
		{ "internal", 5 },
		{ "other.org", 5 },
		{ "localhost", 5 },
		{ "1.2.3.4", 5 },
		/* Not names: refused before matching, even by the catch-all. */
		{ "", -1 },
		{ ".", -1 },
		{ "db.example.com..", -1 },
		{ ".db.example.com", -1 },
		{ "db..example.com", -1 },
		{ "db.example.com:5432", -1 },
		{ "db.example.com/", -1 },
		{ "db.example.com\n", -1 },
		{ "db.example.com ", -1 },
		{ " db.example.com", -1 },
		{ "db.example.com\r", -1 },
		{ "*.example.com", -1 },
		{ "*", -1 },
		{ "x_y.example.com", -1 },
		{ "-x.example.com", -1 },
		{ "x-.example.com", -1 },
		{ "d\xc3\xa9.example.com", -1 },
		{ "db\\.example.com", -1 },
		{ "db%2eexample.com", -1 },
		{ "[::1]", -1 },
	};
	struct ingress *ing = make(lines);
	char err[INGRESS_ERR_MAX];

	/* Rule 4 is hidden by rule 3; matching still works on an unvalidated list. */
	ck_assert_int_eq(ingress_validate(ing, err, sizeof(err)), -1);
	for (size_t i = 0; i < nitems(cases); i++) {
		const struct ingress_rule *r;
		size_t index = 999;

		r = ingress_match(ing, cases[i].name, &index);
		if (cases[i].index < 0) {
			ck_assert_msg(r == NULL, "\"%s\" matched rule %zu", cases[i].name, index);
			ck_assert_uint_eq(index, 999);
		} else {
			ck_assert_msg(r != NULL && (long)index == cases[i].index,
			    "\"%s\": %zu, not %ld", cases[i].name, index, cases[i].index);
			ck_assert_ptr_eq(r, ingress_rule(ing, index));
		}
	}
	ck_assert_ptr_null(ingress_match(ing, NULL, NULL));
	ck_assert_ptr_eq(ingress_match(ing, "db.example.com", NULL), ingress_rule(ing, 0));
	ingress_free(ing);
}
END_TEST

START_TEST(test_match_without_catchall)
{
	static const char *const lines[] = { "db.example.com hello", "*.b.example hello", NULL };
	struct ingress *ing = make(lines);
	size_t index = 7;

	ck_assert_ptr_null(ingress_match(ing, "other.example.com", &index));
	ck_assert_ptr_null(ingress_match(ing, "b.example", &index));
	ck_assert_uint_eq(index, 7);
	ck_assert_ptr_nonnull(ingress_match(ing, "a.b.example", &index));
	ck_assert_uint_eq(index, 1);
	ingress_free(ing);
	ing = ingress_new();
	ck_assert_ptr_null(ingress_match(ing, "db.example.com", NULL));
	ingress_free(ing);
}
END_TEST

START_TEST(test_format_print)
{
	static const char *const lines[] = {
		"DB.Example.com. tcp://[::1]:5432",
		"*.EXAMPLE.com unix:/run/a.sock",
		"* HTTP_STATUS:404",
		NULL,
	};
	static const char printed[] = "rule = db.example.com tcp://[::1]:5432\n"
	    "rule = *.example.com unix:/run/a.sock\n"
	    "rule = * HTTP_STATUS:404\n";
	struct ingress *ing = make(lines), *again = ingress_new();
	char buf[INGRESS_ERR_MAX], err[INGRESS_ERR_MAX], out[512];
	FILE *fp;
	size_t n;

	ck_assert(ingress_format(ingress_rule(ing, 0), buf, sizeof(buf)));
	ck_assert_str_eq(buf, "db.example.com tcp://[::1]:5432");
	ck_assert(!ingress_format(ingress_rule(ing, 0), buf, 10));
	ck_assert_str_eq(buf, "db.exampl");
	/* Each formatted rule reads back to the same rule. */
	for (size_t i = 0; i < ingress_count(ing); i++) {
		const struct ingress_rule *a = ingress_rule(ing, i), *b;

		ck_assert(ingress_format(a, buf, sizeof(buf)));
		ck_assert_int_eq(ingress_add_line(again, buf, err, sizeof(err)), 0);
		b = ingress_rule(again, i);
		ck_assert_str_eq(a->hostname, b->hostname);
		ck_assert_str_eq(a->service, b->service);
		ck_assert_int_eq(a->host_kind, b->host_kind);
		ck_assert_int_eq(a->service_kind, b->service_kind);
	}
	ck_assert_ptr_nonnull(fp = tmpfile());
	ingress_print(ing, fp);
	rewind(fp);
	n = fread(out, 1, sizeof(out) - 1, fp);
	out[n] = '\0';
	fclose(fp);
	ck_assert_str_eq(out, printed);
	ingress_free(ing);
	ingress_free(again);
}
END_TEST


Suite *
ingress_suite(void)
{
	Suite *s = suite_create("ingress");
	TCase *tp = tcase_create("parse");
	TCase *tm = tcase_create("match");

	tcase_add_test(tp, test_grammar);
	tcase_add_test(tp, test_line_form);
	tcase_add_test(tp, test_verify_token);
	tcase_add_test(tp, test_errors);
	tcase_add_test(tp, test_lengths);
	tcase_add_test(tp, test_format_print);
	suite_add_tcase(s, tp);
	tcase_add_test(tm, test_validate);
	tcase_add_test(tm, test_match);
	tcase_add_test(tm, test_match_without_catchall);
	suite_add_tcase(s, tm);
	return s;
}
