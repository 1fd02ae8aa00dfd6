/* check_policy: the policy grammar, its errors, and evaluation as Cloudflare Access does it. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "common/policy.h"
#include "common/util.h"
#include "suites.h"

/* Identities the tables refer to by letter. */
enum who {
	CI,		/* token "ci" from 10.1.2.3 */
	CI6,		/* token "ci" from 2001:db8::5 */
	CIMAP,		/* token "ci" from ::ffff:10.1.2.3 */
	OTHER,		/* token "other" from 192.0.2.7 */
	ALICE,		/* person Alice@Example.COM in groups admins, dev, from 10.9.9.9 */
	BOB,		/* person bob@sub.example.com, no groups, from 2001:db8:1::1 */
	NOADDR,		/* token "ci" with no address */
	NWHO,
};

static struct sockaddr_storage addrs[NWHO];
static struct policy_identity ids[NWHO];
static const char *const alice_groups[] = { "admins", "dev" };

static void
set_addr(enum who w, const char *host)
{
	socklen_t len;

	ck_assert_int_eq(util_sockaddr_from(host, 4242, &addrs[w], &len), 0);
	ids[w].addr = (struct sockaddr *)&addrs[w];
}

static void
setup(void)
{
	memset(ids, 0, sizeof(ids));
	for (int w = CI; w <= NOADDR; w++)
		if (w == CI || w == CI6 || w == CIMAP || w == NOADDR) {
			ids[w].kind = POLICY_WHO_TOKEN;
			ids[w].token_name = "ci";
			ids[w].token_id = "0123456789abcdef0123456789abcdef.access";
		}
	ids[OTHER].kind = POLICY_WHO_TOKEN;
	ids[OTHER].token_name = "other";
	ids[ALICE].kind = POLICY_WHO_PERSON;
	ids[ALICE].email = "Alice@Example.COM";
	ids[ALICE].groups = alice_groups;
	ids[ALICE].ngroups = nitems(alice_groups);
	ids[BOB].kind = POLICY_WHO_PERSON;
	ids[BOB].email = "bob@sub.example.com";
	set_addr(CI, "10.1.2.3");
	set_addr(CI6, "2001:db8::5");
	set_addr(CIMAP, "::ffff:10.1.2.3");
	set_addr(OTHER, "192.0.2.7");
	set_addr(ALICE, "10.9.9.9");
	set_addr(BOB, "2001:db8:1::1");
}

/* A policy of the rules (NULL-terminated), each of which must parse. */
static struct policy *
make(const char *const *rules)
{
	struct policy *p = policy_new();
	char err[POLICY_ERR_MAX];

	for (size_t i = 0; rules[i] != NULL; i++)
		ck_assert_msg(policy_add(p, rules[i], err, sizeof(err)) == 0, "%s: %s", rules[i],
		    err);
	return p;
}

/* Evaluates p for w and returns the verdict; the reason goes into reason. */
static enum policy_verdict
eval(const struct policy *p, enum who w, char *reason)
{
	memset(reason, 'x', POLICY_REASON_MAX);
	return policy_eval(p, &ids[w], reason, POLICY_REASON_MAX);
}

START_TEST(test_grammar)
{
	static const char *const ok[] = {
		"allow token:ci",
		"allow token:A.b_c-9",
		"deny any-token",
		"allow everyone",
		"allow email:alice@example.com",
		"allow email:first.last+tag@mail.example.com",
		"allow email-domain:example.com",
		"allow email-domain:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
		"allow group:admins",
		"allow group:Team/Ops:eu",
		"allow ip:10.0.0.0/8",
		"allow ip:10.1.2.3",
		"allow ip:0.0.0.0/0",
		"allow ip:2001:db8::/32",
		"allow ip:::1",
		"allow ip:::/0",
		"allow ip:::fffe:0:0/96",
		"allow ip:::ff00:0:0/95",
		"allow everyone +token:ci -ip:192.0.2.0/24",
		"deny -email:a@b.c everyone +group:x",
		NULL,
	};
	struct policy *p = make(ok);

	ck_assert_uint_eq(policy_count(p), nitems(ok) - 1);
	for (size_t i = 0; ok[i] != NULL; i++)
		ck_assert_str_eq(policy_rule(p, i), ok[i]);
	ck_assert_ptr_null(policy_rule(p, nitems(ok)));
	policy_free(p);
}
END_TEST

START_TEST(test_text_normalised)
{
	struct policy *p = policy_new();
	char err[POLICY_ERR_MAX];

	ck_assert_int_eq(policy_add(p, "  allow\t token:ci \t +ip:10.0.0.0/8  ", err,
	    sizeof(err)), 0);
	ck_assert_str_eq(policy_rule(p, 0), "allow token:ci +ip:10.0.0.0/8");
	policy_free(p);
	policy_free(NULL);
}
END_TEST

/* Each bad rule and the message it gets (exactly, or a part of it when partial). */
static const struct {
	const char	*rule;
	const char	*msg;
	bool		 exact;
} bad[] = {
	{ "allow tokn:x", "policy \"allow tokn:x\": unknown selector \"tokn:x\"; use token:NAME, "
	    "any-token, everyone, email:, email-domain:, group: or ip:", true },
	{ "", "policy \"\": empty rule: write ACTION SELECTOR..., e.g. allow token:NAME", true },
	{ "   \t ", "empty rule", false },
	{ "permit token:ci", "policy \"permit token:ci\": unknown action \"permit\": a rule "
	    "starts with allow or deny", true },
	{ "Allow token:ci", "unknown action \"Allow\"", false },
	{ "block everyone", "unknown action \"block\"", false },
	{ "allow", "policy \"allow\": no selector after allow: use token:NAME, any-token, "
	    "everyone, email:, email-domain:, group: or ip:", true },
	{ "deny +token:ci", "policy \"deny +token:ci\": no include selector (one without '+' "
	    "or '-'), so the rule would never apply: add one, e.g. everyone", true },
	{ "allow -ip:10.0.0.0/8", "no include selector", false },
	{ "allow token:", "bad token name in \"token:\"", false },
	{ "allow token:-x", "bad token name in \"token:-x\"", false },
	{ "allow token:a/b", "bad token name", false },
	{ "allow token:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "bad token name", false },
	{ "allow token", "policy \"allow token\": selector \"token\" needs a value: write "
	    "token:VALUE", true },
	{ "allow +email", "selector \"+email\" needs a value", false },
	{ "allow ip", "selector \"ip\" needs a value", false },
	{ "allow everyone:x", "unknown selector \"everyone:x\"", false },
	{ "allow +", "unknown selector \"+\"", false },
	{ "allow +-token:x", "unknown selector \"+-token:x\"", false },
	{ "allow Token:x", "unknown selector \"Token:x\"", false },
	{ "allow email:", "bad email address in \"email:\"", false },
	{ "allow email:alice", "policy \"allow email:alice\": bad email address in "
	    "\"email:alice\": write email:NAME@DOMAIN", true },
	{ "allow email:@example.com", "bad email address", false },
	{ "allow email:a@b@example.com", "bad email address", false },
	{ "allow email:a..b@example.com", "bad email address", false },
	{ "allow email:.a@example.com", "bad email address", false },
	{ "allow email:a@example..com", "bad email address", false },
	{ "allow email:a@-example.com", "bad email address", false },
	{ "allow email:a(b)@example.com", "bad email address", false },
	{ "allow email-domain:@example.com", "policy \"allow email-domain:@example.com\": bad "
	    "domain in \"email-domain:@example.com\": write email-domain:example.com (no '@', "
	    "no wildcard; it matches that domain only, not its subdomains)", true },
	{ "allow email-domain:*.example.com", "bad domain", false },
	{ "allow email-domain:example.com.", "bad domain", false },
	{ "allow email-domain:", "bad domain", false },
	{ "allow email-domain:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
	    "bad domain", false },
	{ "allow group:", "bad group name in \"group:\"", false },
	{ "allow ip:", "policy \"allow ip:\": ip: is not an IPv4 or IPv6 address or range (write "
	    "ip:192.0.2.0/24, ip:2001:db8::/32 or a bare address)", true },
	{ "allow ip:10.0.0/8", "ip:10.0.0/8 is not an IPv4 or IPv6 address", false },
	{ "allow ip:010.0.0.0/8", "is not an IPv4 or IPv6 address", false },
	{ "allow ip:example.com", "is not an IPv4 or IPv6 address", false },
	{ "allow ip:fe80::1%eth0", "is not an IPv4 or IPv6 address", false },
	{ "allow ip:/8", "is not an IPv4 or IPv6 address", false },
	{ "allow ip:10.0.0.0/", "bad prefix length in ip:10.0.0.0/: write a number from 0 to 32 "
	    "after '/'", false },
	{ "allow ip:10.0.0.0/33", "from 0 to 32", false },
	{ "allow ip:10.0.0.0/08", "bad prefix length", false },
	{ "allow ip:10.0.0.0/-1", "bad prefix length", false },
	{ "allow ip:10.0.0.0/8/8", "bad prefix length", false },
	{ "allow ip:2001:db8::/129", "from 0 to 128", false },
	{ "allow ip:10.1.2.3/8", "policy \"allow ip:10.1.2.3/8\": ip:10.1.2.3/8 has address bits "
	    "set beyond the prefix length: write ip:10.0.0.0/8", true },
	{ "allow ip:2001:db8::1/32", "write ip:2001:db8::/32", false },
	{ "allow ip:::ffff:10.0.0.0/104", "is an IPv4-mapped range: write it as IPv4", false },
	{ "allow ip:::ffff:10.1.2.3", "IPv4-mapped", false },
	{ "allow ip:::ffff:0.0.0.0/96", "IPv4-mapped", false },
	{ "allow\x01 everyone", "policy \"allow? everyone\": byte 6 (0x01) is not allowed: a rule "
	    "is printable ASCII", true },
	{ "allow group:d\xc3\xa9v", "byte 14 (0xc3) is not allowed", false },
	{ "allow everyone\n", "byte 15 (0x0a)", false },
};

START_TEST(test_errors)
{
	struct policy *p = policy_new();
	char err[POLICY_ERR_MAX];

	ck_assert_int_eq(policy_add(p, "allow token:keep", err, sizeof(err)), 0);
	for (size_t i = 0; i < nitems(bad); i++) {
		memset(err, 0, sizeof(err));
		ck_assert_msg(policy_add(p, bad[i].rule, err, sizeof(err)) == -1, "accepted %s",
		    bad[i].rule);
		if (bad[i].exact)
			ck_assert_str_eq(err, bad[i].msg);
		else
			ck_assert_msg(strstr(err, bad[i].msg) != NULL, "\"%s\": got \"%s\"",
			    bad[i].rule, err);
	}
	/* A refused rule leaves the policy as it was. */
	ck_assert_uint_eq(policy_count(p), 1);
	ck_assert_uint_eq(policy_token_count(p), 1);
	ck_assert_int_eq(policy_add(p, "allow token:x tokn:y", err, sizeof(err)), -1);
	ck_assert_uint_eq(policy_token_count(p), 1);
	/* A NULL or tiny err buffer is fine. */
	ck_assert_int_eq(policy_add(p, "allow tokn:x", NULL, 0), -1);
	ck_assert_int_eq(policy_add(p, "allow tokn:x", err, 4), -1);
	ck_assert_str_eq(err, "pol");
	ck_assert_int_eq(policy_add(p, NULL, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "empty rule"));
	policy_free(p);
}
END_TEST

START_TEST(test_limits)
{
	struct policy *p = policy_new();
	char err[POLICY_ERR_MAX], rule[POLICY_RULE_MAX + 64];
	size_t n;

	/* 64 selectors are fine, 65 are not. */
	n = (size_t)snprintf(rule, sizeof(rule), "allow");
	for (int i = 0; i < POLICY_SELECTORS_MAX; i++)
		n += (size_t)snprintf(rule + n, sizeof(rule) - n, " token:t%d", i);
	ck_assert_int_eq(policy_add(p, rule, err, sizeof(err)), 0);
	ck_assert_uint_eq(policy_token_count(p), POLICY_SELECTORS_MAX);
	snprintf(rule + n, sizeof(rule) - n, " everyone");
	ck_assert_int_eq(policy_add(p, rule, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "more than 64 selectors in one rule"));
	/* The message quotes a long rule cut short. */
	ck_assert_ptr_nonnull(strstr(err, "...\": "));
	/* 1024 bytes are fine, 1025 are not. */
	memset(rule, ' ', sizeof(rule));
	memcpy(rule, "allow everyone", 14);
	rule[POLICY_RULE_MAX] = '\0';
	ck_assert_int_eq(policy_add(p, rule, err, sizeof(err)), 0);
	rule[POLICY_RULE_MAX] = ' ';
	rule[POLICY_RULE_MAX + 1] = '\0';
	ck_assert_int_eq(policy_add(p, rule, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "longer than 1024 bytes"));
	policy_free(p);
	/* 256 rules are fine, 257 are not. */
	p = policy_new();
	for (int i = 0; i < POLICY_RULES_MAX; i++)
		ck_assert_int_eq(policy_add(p, "deny everyone", err, sizeof(err)), 0);
	ck_assert_int_eq(policy_add(p, "deny everyone", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "policy \"deny everyone\": too many rules: a policy has at most "
	    "256");
	policy_free(p);
}
END_TEST

/* Rules, the identity, and the verdict and reason expected. */
static const struct {
	const char		*rules[4];
	enum who		 who;
	enum policy_verdict	 verdict;
	const char		*reason;
} evals[] = {
	/* Default deny. */
	{ { NULL }, CI, POLICY_DENY, "no rule allows" },
	{ { "allow token:other" }, CI, POLICY_DENY, "no rule allows" },
	/* Include: any one is enough. */
	{ { "allow token:ci" }, CI, POLICY_ALLOW, "allowed by rule #1 \"allow token:ci\"" },
	{ { "allow token:x token:ci" }, CI, POLICY_ALLOW, "allowed by rule #1 \"allow token:x "
	    "token:ci\"" },
	{ { "allow token:CI" }, CI, POLICY_DENY, "no rule allows" },
	{ { "allow any-token" }, OTHER, POLICY_ALLOW, "allowed by rule #1 \"allow any-token\"" },
	{ { "allow any-token" }, ALICE, POLICY_DENY, "no rule allows" },
	{ { "allow everyone" }, ALICE, POLICY_ALLOW, "allowed by rule #1 \"allow everyone\"" },
	{ { "allow everyone" }, OTHER, POLICY_ALLOW, "allowed by rule #1 \"allow everyone\"" },
	/* Require: every one must match. */
	{ { "allow everyone +token:ci +ip:10.0.0.0/8" }, CI, POLICY_ALLOW,
	    "allowed by rule #1 \"allow everyone +token:ci +ip:10.0.0.0/8\"" },
	{ { "allow everyone +token:ci +ip:10.0.0.0/8" }, OTHER, POLICY_DENY, "no rule allows" },
	{ { "allow token:ci +ip:192.0.2.0/24" }, CI, POLICY_DENY, "no rule allows" },
	{ { "allow any-token +token:ci +token:other" }, CI, POLICY_DENY, "no rule allows" },
	/* Exclude: none may match. */
	{ { "allow any-token -token:other" }, CI, POLICY_ALLOW,
	    "allowed by rule #1 \"allow any-token -token:other\"" },
	{ { "allow any-token -token:other" }, OTHER, POLICY_DENY, "no rule allows" },
	{ { "allow everyone -ip:10.0.0.0/8 -ip:192.0.2.0/24" }, OTHER, POLICY_DENY,
	    "no rule allows" },
	{ { "allow everyone -ip:10.0.0.0/8 -ip:192.0.2.0/24" }, BOB, POLICY_ALLOW,
	    "allowed by rule #1 \"allow everyone -ip:10.0.0.0/8 -ip:192.0.2.0/24\"" },
	/* Include, require and exclude together. */
	{ { "allow email-domain:example.com +group:admins -ip:10.9.0.0/16" }, ALICE, POLICY_DENY,
	    "no rule allows" },
	{ { "allow email-domain:example.com +group:admins -ip:10.8.0.0/16" }, ALICE,
	    POLICY_ALLOW, "allowed by rule #1 \"allow email-domain:example.com +group:admins "
	    "-ip:10.8.0.0/16\"" },
	/* Order: the first rule that applies decides. */
	{ { "deny token:ci", "allow any-token" }, CI, POLICY_DENY,
	    "denied by rule #1 \"deny token:ci\"" },
	{ { "deny token:ci", "allow any-token" }, OTHER, POLICY_ALLOW,
	    "allowed by rule #2 \"allow any-token\"" },
	{ { "allow any-token", "deny token:ci" }, CI, POLICY_ALLOW,
	    "allowed by rule #1 \"allow any-token\"" },
	{ { "deny everyone +ip:192.0.2.0/24", "allow token:x", "allow everyone" }, OTHER,
	    POLICY_DENY, "denied by rule #1 \"deny everyone +ip:192.0.2.0/24\"" },
	{ { "deny everyone +ip:192.0.2.0/24", "allow token:x", "allow everyone" }, CI,
	    POLICY_ALLOW, "allowed by rule #3 \"allow everyone\"" },
	/* A deny that does not apply lets later rules decide; with none left, deny. */
	{ { "deny token:other" }, CI, POLICY_DENY, "no rule allows" },
	/* Kinds: token selectors never match people, email and group never match tokens. */
	{ { "allow token:ci email:alice@example.com" }, BOB, POLICY_DENY, "no rule allows" },
	{ { "allow email-domain:example.com group:admins" }, CI, POLICY_DENY, "no rule allows" },
	{ { "allow any-token -email:alice@example.com" }, CI, POLICY_ALLOW,
	    "allowed by rule #1 \"allow any-token -email:alice@example.com\"" },
	/* Emails and domains: case-insensitive, the domain exact. */
	{ { "allow email:alice@example.com" }, ALICE, POLICY_ALLOW,
	    "allowed by rule #1 \"allow email:alice@example.com\"" },
	{ { "allow email:ALICE@EXAMPLE.com" }, ALICE, POLICY_ALLOW,
	    "allowed by rule #1 \"allow email:ALICE@EXAMPLE.com\"" },
	{ { "allow email:alic@example.com" }, ALICE, POLICY_DENY, "no rule allows" },
	{ { "allow email-domain:EXAMPLE.com" }, ALICE, POLICY_ALLOW,
	    "allowed by rule #1 \"allow email-domain:EXAMPLE.com\"" },
	{ { "allow email-domain:example.com" }, BOB, POLICY_DENY, "no rule allows" },
	{ { "allow email-domain:sub.example.com" }, BOB, POLICY_ALLOW,
	    "allowed by rule #1 \"allow email-domain:sub.example.com\"" },
	{ { "allow email-domain:ample.com" }, ALICE, POLICY_DENY, "no rule allows" },
	/* Groups: exact. */
	{ { "allow group:dev" }, ALICE, POLICY_ALLOW, "allowed by rule #1 \"allow group:dev\"" },
	{ { "allow group:Dev" }, ALICE, POLICY_DENY, "no rule allows" },
	{ { "allow group:dev" }, BOB, POLICY_DENY, "no rule allows" },
	/* Addresses: v4 and v6 ranges, bare addresses, /0, IPv4-mapped clients as IPv4. */
	{ { "allow ip:10.1.2.3" }, CI, POLICY_ALLOW, "allowed by rule #1 \"allow ip:10.1.2.3\"" },
	{ { "allow ip:10.1.2.4" }, CI, POLICY_DENY, "no rule allows" },
	{ { "allow ip:10.1.2.0/31" }, CI, POLICY_DENY, "no rule allows" },
	{ { "allow ip:10.1.2.2/31" }, CI, POLICY_ALLOW,
	    "allowed by rule #1 \"allow ip:10.1.2.2/31\"" },
	{ { "allow ip:10.0.0.0/15" }, CI, POLICY_ALLOW,
	    "allowed by rule #1 \"allow ip:10.0.0.0/15\"" },
	{ { "allow ip:0.0.0.0/0" }, OTHER, POLICY_ALLOW,
	    "allowed by rule #1 \"allow ip:0.0.0.0/0\"" },
	{ { "allow ip:0.0.0.0/0" }, CI6, POLICY_DENY, "no rule allows" },
	{ { "allow ip:::/0" }, CI, POLICY_DENY, "no rule allows" },
	{ { "allow ip:::/0" }, CI6, POLICY_ALLOW, "allowed by rule #1 \"allow ip:::/0\"" },
	{ { "allow ip:2001:db8::/32" }, BOB, POLICY_ALLOW,
	    "allowed by rule #1 \"allow ip:2001:db8::/32\"" },
	{ { "allow ip:2001:db8::/48" }, BOB, POLICY_DENY, "no rule allows" },
	{ { "allow ip:2001:db8::5" }, CI6, POLICY_ALLOW,
	    "allowed by rule #1 \"allow ip:2001:db8::5\"" },
	{ { "allow ip:2001:db8::4/127" }, CI6, POLICY_ALLOW,
	    "allowed by rule #1 \"allow ip:2001:db8::4/127\"" },
	{ { "allow ip:2001:db8::6/127" }, CI6, POLICY_DENY, "no rule allows" },
	{ { "allow ip:10.0.0.0/8" }, CIMAP, POLICY_ALLOW,
	    "allowed by rule #1 \"allow ip:10.0.0.0/8\"" },
	{ { "allow any-token -ip:10.1.2.3" }, CIMAP, POLICY_DENY, "no rule allows" },
	{ { "allow ip:::/0" }, CIMAP, POLICY_DENY, "no rule allows" },
	/* An unknown address denies at the first rule that needs it, whatever its action. */
	{ { "allow any-token -ip:10.0.0.0/8" }, NOADDR, POLICY_DENY,
	    "denied: rule #1 \"allow any-token -ip:10.0.0.0/8\" needs the client's address, "
	    "which is unknown" },
	{ { "deny ip:10.0.0.0/8", "allow everyone" }, NOADDR, POLICY_DENY,
	    "denied: rule #1 \"deny ip:10.0.0.0/8\" needs the client's address, which is "
	    "unknown" },
	{ { "allow token:ci", "deny ip:10.0.0.0/8" }, NOADDR, POLICY_ALLOW,
	    "allowed by rule #1 \"allow token:ci\"" },
};

START_TEST(test_eval_table)
{
	char reason[POLICY_REASON_MAX];

	for (size_t i = 0; i < nitems(evals); i++) {
		struct policy *p = make(evals[i].rules);

		ck_assert_msg(eval(p, evals[i].who, reason) == evals[i].verdict,
		    "case %zu (%s): wrong verdict, reason \"%s\"", i,
		    evals[i].rules[0] != NULL ? evals[i].rules[0] : "", reason);
		ck_assert_msg(strcmp(reason, evals[i].reason) == 0, "case %zu: \"%s\"", i, reason);
		policy_free(p);
	}
}
END_TEST

START_TEST(test_eval_odd_identities)
{
	static const char *const rules[] = { "allow everyone", NULL };
	static const char *const nullgroup[] = { NULL, "admins" };
	struct policy *p = make(rules);
	struct policy_identity id;
	struct sockaddr_storage ss;
	char reason[POLICY_REASON_MAX];

	/* Nothing matches a zeroed identity, not even everyone. */
	memset(&id, 0, sizeof(id));
	ck_assert_int_eq(policy_eval(p, &id, reason, sizeof(reason)), POLICY_DENY);
	ck_assert_str_eq(reason, "no identity");
	ck_assert_int_eq(policy_eval(p, NULL, reason, sizeof(reason)), POLICY_DENY);
	ck_assert_int_eq(policy_eval(p, &ids[CI], NULL, 0), POLICY_ALLOW);
	policy_free(p);
	/* A person without an email, a token without a name, a NULL group. */
	p = policy_new();
	ck_assert_int_eq(policy_add(p, "allow email-domain:example.com token:ci group:admins",
	    reason, sizeof(reason)), 0);
	memset(&id, 0, sizeof(id));
	id.kind = POLICY_WHO_PERSON;
	ck_assert_int_eq(policy_eval(p, &id, reason, sizeof(reason)), POLICY_DENY);
	id.email = "@example.com";
	ck_assert_int_eq(policy_eval(p, &id, reason, sizeof(reason)), POLICY_DENY);
	id.groups = nullgroup;
	id.ngroups = 2;
	ck_assert_int_eq(policy_eval(p, &id, reason, sizeof(reason)), POLICY_ALLOW);
	id.kind = POLICY_WHO_TOKEN;
	ck_assert_int_eq(policy_eval(p, &id, reason, sizeof(reason)), POLICY_DENY);
	/* An address of another family is unknown. */
	policy_free(p);
	p = policy_new();
	ck_assert_int_eq(policy_add(p, "allow ip:0.0.0.0/0", reason, sizeof(reason)), 0);
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	id = ids[CI];
	id.addr = (struct sockaddr *)&ss;
	ck_assert_int_eq(policy_eval(p, &id, reason, sizeof(reason)), POLICY_DENY);
	ck_assert_ptr_nonnull(strstr(reason, "which is unknown"));
	ck_assert_int_eq(policy_eval(NULL, &ids[CI], reason, sizeof(reason)), POLICY_DENY);
	ck_assert_str_eq(reason, "no rule allows");
	policy_free(p);
}
END_TEST

START_TEST(test_reason_fits)
{
	struct policy *p = policy_new();
	char rule[600], err[POLICY_ERR_MAX], reason[POLICY_REASON_MAX], small[24];
	size_t n;

	n = (size_t)snprintf(rule, sizeof(rule), "allow");
	while (n < 500)
		n += (size_t)snprintf(rule + n, sizeof(rule) - n, " group:g%zu", n);
	snprintf(rule + n, sizeof(rule) - n, " token:ci");
	ck_assert_int_eq(policy_add(p, rule, err, sizeof(err)), 0);
	ck_assert_int_eq(eval(p, CI, reason), POLICY_ALLOW);
	ck_assert_uint_eq(strlen(reason), POLICY_REASON_MAX - 1);
	ck_assert_ptr_nonnull(strstr(reason, "allowed by rule #1 \"allow group:g5 "));
	ck_assert_str_eq(reason + strlen(reason) - 4, "...\"");
	/* Too small for any rule text: the number alone. */
	ck_assert_int_eq(policy_eval(p, &ids[CI], small, sizeof(small)), POLICY_ALLOW);
	ck_assert_str_eq(small, "allowed by rule #1");
	policy_free(p);
}
END_TEST

START_TEST(test_token_names)
{
	static const char *const rules[] = {
		"allow token:b token:a",
		"deny any-token -token:c",
		"allow everyone +token:a +token:d",
		"allow token:B",
		NULL,
	};
	static const char *const want[] = { "b", "a", "c", "d", "B" };
	struct policy *p = make(rules);

	ck_assert_uint_eq(policy_token_count(p), nitems(want));
	for (size_t i = 0; i < nitems(want); i++)
		ck_assert_str_eq(policy_token_nth(p, i), want[i]);
	ck_assert_ptr_null(policy_token_nth(p, nitems(want)));
	policy_free(p);
	p = policy_new();
	ck_assert_uint_eq(policy_token_count(p), 0);
	ck_assert_uint_eq(policy_count(p), 0);
	policy_free(p);
}
END_TEST


Suite *
policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tp = tcase_create("parse");
	TCase *te = tcase_create("eval");

	tcase_add_test(tp, test_grammar);
	tcase_add_test(tp, test_text_normalised);
	tcase_add_test(tp, test_errors);
	tcase_add_test(tp, test_limits);
	tcase_add_test(tp, test_token_names);
	suite_add_tcase(s, tp);
	tcase_add_checked_fixture(te, setup, NULL);
	tcase_add_test(te, test_eval_table);
	tcase_add_test(te, test_eval_odd_identities);
	tcase_add_test(te, test_reason_fits);
	suite_add_tcase(s, te);
	return s;
}
