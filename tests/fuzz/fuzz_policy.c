/* fuzz_policy: policy rules from arbitrary lines, evaluated for a few identities. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/policy.h"
#include "common/util.h"

/*
 * Each line of the input is a rule; refused rules are skipped. The policy is evaluated for
 * each identity below, and checked against properties that hold whatever the rules are:
 * - a reason is always given, fits, and agrees with the verdict;
 * - the rule texts parse again into a policy that decides exactly the same;
 * - the deciding rule decides alone: the rules up to it decide the same, the rules before it
 *   allow nothing;
 * - an IPv4-mapped IPv6 client is decided as its IPv4 address;
 * - every token name listed appears in a rule as token:NAME.
 */

#define FUZZ_MAX_INPUT	(32 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const groups[] = { "admins", "dev" };
static struct sockaddr_storage addrs[6];
static struct policy_identity ids[6];
enum { ID_CI = 0, ID_CI_MAPPED = 1 };

/* Sets identity i's address from a numeric host. */
static void
fuzz_addr(int i, const char *host)
{
	socklen_t len;

	if (util_sockaddr_from(host, 1234, &addrs[i], &len) != 0)
		abort();
	ids[i].addr = (struct sockaddr *)&addrs[i];
}

/* The identities every policy is evaluated for. */
static void
fuzz_init(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	ids[0].kind = ids[1].kind = ids[2].kind = ids[5].kind = POLICY_WHO_TOKEN;
	ids[0].token_name = ids[1].token_name = ids[5].token_name = "ci";
	ids[2].token_name = "other";
	ids[3].kind = ids[4].kind = POLICY_WHO_PERSON;
	ids[3].email = "Alice@Example.com";
	ids[3].groups = groups;
	ids[3].ngroups = nitems(groups);
	ids[4].email = "bob@sub.example.com";
	fuzz_addr(0, "10.1.2.3");
	fuzz_addr(1, "::ffff:10.1.2.3");
	fuzz_addr(2, "2001:db8::1");
	fuzz_addr(3, "192.0.2.1");
	fuzz_addr(4, "2001:db8:ffff::2");
	/* ids[5] has no address. */
}

/* A policy of rules [0, n) of p. */
static struct policy *
fuzz_prefix(const struct policy *p, size_t n)
{
	struct policy *q = policy_new();
	char err[POLICY_ERR_MAX];

	for (size_t i = 0; i < n; i++)
		if (policy_add(q, policy_rule(p, i), err, sizeof(err)) != 0) {
			fprintf(stderr, "rule text does not parse again: %s\n", err);
			abort();
		}
	return q;
}

/* Checks the properties above for identity i. */
static void
fuzz_check(const struct policy *p, const struct policy *again, size_t i)
{
	char reason[POLICY_REASON_MAX], r2[POLICY_REASON_MAX];
	enum policy_verdict v, v2;
	size_t n = 0;

	v = policy_eval(p, &ids[i], reason, sizeof(reason));
	if (reason[0] == '\0' || strlen(reason) >= POLICY_REASON_MAX)
		abort();
	if (v == POLICY_ALLOW ? strncmp(reason, "allowed by rule #", 17) != 0 :
	    strncmp(reason, "denied", 6) != 0 && strcmp(reason, "no rule allows") != 0)
		abort();
	v2 = policy_eval(again, &ids[i], r2, sizeof(r2));
	if (v2 != v || strcmp(reason, r2) != 0)
		abort();
	if (sscanf(reason, "allowed by rule #%zu", &n) == 1 ||
	    sscanf(reason, "denied by rule #%zu", &n) == 1 ||
	    sscanf(reason, "denied: rule #%zu", &n) == 1) {
		struct policy *upto, *before;

		if (n == 0 || n > policy_count(p))
			abort();
		upto = fuzz_prefix(p, n);
		before = fuzz_prefix(p, n - 1);
		v2 = policy_eval(upto, &ids[i], r2, sizeof(r2));
		if (v2 != v || strcmp(reason, r2) != 0)
			abort();
		if (policy_eval(before, &ids[i], r2, sizeof(r2)) != POLICY_DENY ||
		    strcmp(r2, "no rule allows") != 0)
			abort();
		policy_free(upto);
		policy_free(before);
	} else if (strcmp(reason, "no rule allows") != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy *p, *again;
	char *text, err[POLICY_ERR_MAX], reason[POLICY_REASON_MAX], r2[POLICY_REASON_MAX];

	fuzz_init();
	if (size > FUZZ_MAX_INPUT)
		return 0;
	text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	p = policy_new();
	for (char *s = text, *nl; s != NULL; s = nl) {
		if ((nl = strchr(s, '\n')) != NULL)
			*nl++ = '\0';
		err[0] = '\0';
		if (policy_add(p, s, err, sizeof(err)) != 0 &&
		    (strncmp(err, "policy \"", 8) != 0 || strlen(err) >= sizeof(err) - 1))
			abort();
	}
	again = fuzz_prefix(p, policy_count(p));
	for (size_t i = 0; i < nitems(ids); i++)
		fuzz_check(p, again, i);
	if (policy_eval(p, &ids[ID_CI], reason, sizeof(reason)) !=
	    policy_eval(p, &ids[ID_CI_MAPPED], r2, sizeof(r2)) || strcmp(reason, r2) != 0)
		abort();
	for (size_t t = 0; t < policy_token_count(p); t++) {
		char want[POLICY_RULE_MAX];
		bool found = false;

		snprintf(want, sizeof(want), "token:%s", policy_token_nth(p, t));
		for (size_t i = 0; i < policy_count(p) && !found; i++)
			found = strstr(policy_rule(p, i), want) != NULL;
		if (!found)
			abort();
	}
	policy_free(again);
	policy_free(p);
	free(text);
	return 0;
}
