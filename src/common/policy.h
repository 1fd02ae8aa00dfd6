/* policy: the access rules of one app, evaluated as Cloudflare Access evaluates a policy list. */
#ifndef ZT_POLICY_H
#define ZT_POLICY_H

#include <stdbool.h>
#include <stddef.h>

struct sockaddr;

/*
 * One rule per string (edge.ini repeats the key "policy" once per rule, in order):
 *
 *   rule     = ACTION SELECTOR [SELECTOR ...]    words separated by spaces or tabs
 *   ACTION   = "allow" | "deny"
 *   SELECTOR = [ "+" | "-" ] KIND   no prefix: include; "+": require; "-": exclude
 *   KIND     = "token:" NAME        the service token named NAME, exact and case-sensitive;
 *                                   NAME is 1-64 of A-Z a-z 0-9 . _ -, the first alphanumeric
 *            | "any-token"          any valid service token
 *            | "everyone"           any authenticated identity
 *            | "email:" ADDR        that address (LOCAL@DOMAIN, LOCAL a dot-atom),
 *                                   compared case-insensitively
 *            | "email-domain:" DOM  addresses whose domain is exactly DOM, compared
 *                                   case-insensitively: email-domain:example.com matches
 *                                   a@example.com, not a@sub.example.com
 *            | "group:" NAME        a group of the person, exact and case-sensitive; NAME is
 *                                   1-128 printable ASCII characters
 *            | "ip:" CIDR           the client's address is in CIDR, v4 or v6; a bare address
 *                                   is /32 or /128; host bits must be zero
 *
 * A rule applies when at least one include matches, every require matches and no exclude
 * matches; a rule without an include would never apply and is refused. Rules are evaluated in
 * order and the first that applies decides; when none applies the answer is deny. Token
 * selectors match only service tokens, email and group selectors only people. Rules are
 * printable ASCII, at most POLICY_RULE_MAX bytes with at most POLICY_SELECTORS_MAX selectors.
 * An IPv4-mapped IPv6 client address (::ffff:a.b.c.d) is matched as the IPv4 address.
 */

#define POLICY_RULES_MAX	256	/* rules in one policy */
#define POLICY_RULE_MAX		1024	/* bytes of one rule */
#define POLICY_SELECTORS_MAX	64	/* selectors in one rule */
/* An err buffer of POLICY_ERR_MAX holds every message; a reason buffer of POLICY_REASON_MAX
 * (the protocol's limit on reason text) every reason, rule text being cut to fit. */
#define POLICY_ERR_MAX		512
#define POLICY_REASON_MAX	256

enum policy_verdict {
	POLICY_DENY = 0,
	POLICY_ALLOW,
};

enum policy_who {
	POLICY_WHO_NONE = 0,	/* nothing matches it: a zeroed identity is denied */
	POLICY_WHO_TOKEN,	/* a service token */
	POLICY_WHO_PERSON,	/* a person who logged in */
};

/* The identity a stream is opened with; the policy only reads it. */
struct policy_identity {
	enum policy_who		 kind;
	const char		*token_name;	/* POLICY_WHO_TOKEN: what token: matches */
	const char		*token_id;	/* POLICY_WHO_TOKEN: client id, never matched */
	const char		*email;		/* POLICY_WHO_PERSON */
	const char *const	*groups;	/* POLICY_WHO_PERSON: ngroups names */
	size_t			 ngroups;
	const struct sockaddr	*addr;		/* the client, AF_INET or AF_INET6; NULL if
						 * unknown: a rule with an ip: selector
						 * then denies, whatever its action */
};

struct policy;

/* An empty policy (it denies everything). */
struct policy	*policy_new(void);
/* Frees p; NULL is a no-op. */
void		 policy_free(struct policy *p);
/* Parses rule and appends it. On error returns -1, p unchanged, and writes into err a message
 * naming the rule and what is wrong, e.g. policy "allow tokn:x": unknown selector "tokn:x";
 * use token:NAME, any-token, everyone, email:, email-domain:, group: or ip: */
int		 policy_add(struct policy *p, const char *rule, char *err, size_t errlen);
/* The number of rules, and the text of rule i (0-based; words joined by one space), NULL past
 * the end. */
size_t		 policy_count(const struct policy *p);
const char	*policy_rule(const struct policy *p, size_t i);
/* Decides whether id may reach the app. reason (POLICY_REASON_MAX bytes) receives what decided,
 * for the audit log and the client: allowed by rule #1 "allow token:ci", denied by rule #2
 * "deny ip:10.0.0.0/8", no rule allows, ... (rules are numbered from 1). */
enum policy_verdict policy_eval(const struct policy *p, const struct policy_identity *id,
		    char *reason, size_t reasonlen);
/* The distinct token names the rules mention (in include, require or exclude), in order of
 * first appearance: how many, and the i-th (NULL past the end). */
size_t		 policy_token_count(const struct policy *p);
const char	*policy_token_nth(const struct policy *p, size_t i);

#endif
