/* ingress: the connector's rules mapping hostnames to local services, as cloudflared's ingress. */
#ifndef ZT_INGRESS_H
#define ZT_INGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * A rule is a hostname pattern, a service and options (config: rule = HOSTNAME SERVICE
 * [OPTION ...]):
 *
 *	HOSTNAME = NAME			exact, case-insensitive
 *		 | "*." NAME		any name ending in "." NAME (one or more labels before
 *					it), not NAME itself
 *		 | "*"			the catch-all ("" too, in ingress_add)
 *	SERVICE  = "tcp://" HOST ":" PORT	HOST a DNS name (one trailing dot allowed), a
 *						dotted-quad IPv4 address or "[" IPv6 "]"; PORT
 *						1-65535; no path, query or user
 *		 | "unix:" PATH			an absolute path, shorter than 108 bytes
 *		 | "http_status:" CODE		CODE 100-599: a refusal (the connector answers
 *						INGRESS_REFUSED with the code in the reason)
 *		 | "hello"			the built-in test service
 *	OPTION   = "verify_token"		streams must carry a valid app token, signed by
 *						a key the connector trusts, for this hostname
 *						(doc/identity.md); not on an http_status rule
 *
 * NAME is a DNS host name: labels of 1-63 letters, digits and '-' (not first or last), 253
 * characters in all. Case does not matter, and one trailing dot is accepted: names are
 * normalised to lower case without the trailing dot, in rules and in ingress_match alike, so
 * "DB.Example.COM." is db.example.com. A name with any other character, an empty label, two
 * trailing dots or a port is not a name: a rule with one is refused, and ingress_match never
 * matches one. Internationalised names are written in their xn-- (punycode) form. Schemes
 * are case-insensitive. A valid ingress (ingress_validate) ends with the catch-all and has it
 * nowhere else, and has no rule that an earlier rule hides completely.
 */

#define INGRESS_RULES_MAX	1024
#define INGRESS_SERVICE_MAX	512	/* bytes of a service */
#define INGRESS_HOST_MAX	254	/* a tcp:// host: a name and its dot, or IPv6 unbracketed */
#define INGRESS_PATH_MAX	108	/* sizeof(sun_path) on Linux, NUL included */
#define INGRESS_ERR_MAX		1024	/* an err buffer this size holds every message */

enum ingress_host_kind {
	INGRESS_HOST_EXACT = 1,
	INGRESS_HOST_WILDCARD,	/* "*.example.com" */
	INGRESS_HOST_ANY,	/* the catch-all */
};

enum ingress_service_kind {
	INGRESS_SVC_TCP = 1,
	INGRESS_SVC_UNIX,
	INGRESS_SVC_HTTP_STATUS,
	INGRESS_SVC_HELLO,
};

/* One rule, read-only for callers. */
struct ingress_rule {
	enum ingress_host_kind	 host_kind;
	char			*hostname;	/* normalised: "db.example.com",
						 * "*.example.com", "*" (catch-all) */
	enum ingress_service_kind service_kind;
	char			*service;	/* as written */
	char			 host[INGRESS_HOST_MAX + 1];	/* tcp: name or address,
								 * IPv6 without brackets */
	uint16_t		 port;		/* tcp */
	char			 path[INGRESS_PATH_MAX];	/* unix */
	int			 status;	/* http_status */
	bool			 verify_token;	/* option verify_token */
};

struct ingress;

/* An ingress without rules. */
struct ingress	*ingress_new(void);
/* Frees ing; NULL is a no-op. */
void		 ingress_free(struct ingress *ing);
/* Appends a rule for hostname (NULL, "" or "*": the catch-all) and service, as from
 * --hostname H --url U. On error returns -1, ing unchanged, and writes into err a message that
 * names the rule by number and text: rule #2 "db.example.com:5432 tcp://localhost:5432": ... */
int		 ingress_add(struct ingress *ing, const char *hostname, const char *service,
		    char *err, size_t errlen);
/* The same from "HOSTNAME SERVICE [OPTION ...]" (the value of a rule = line): words
 * separated by spaces or tabs; the catch-all is written "*". */
int		 ingress_add_line(struct ingress *ing, const char *line, char *err,
		    size_t errlen);
/* Applies option (e.g. "verify_token", as from --verify-token) to the last rule added. -1 with
 * a message naming the rule when the option is unknown, repeated or does not fit the rule. */
int		 ingress_add_option(struct ingress *ing, const char *option, char *err,
		    size_t errlen);
/* Whether any rule has the option verify_token. */
bool		 ingress_verifies_tokens(const struct ingress *ing);
/* Checks the whole list: at least one rule, the catch-all last and nowhere else, no rule hidden
 * by an earlier one. Returns 0, or -1 with the first problem in err. */
int		 ingress_validate(const struct ingress *ing, char *err, size_t errlen);
/* The first rule matching hostname, and its 0-based index in *index (if index is not NULL).
 * NULL when hostname is not a DNS name (see above) or, before ingress_validate succeeds,
 * when no rule matches: the caller refuses the stream. */
const struct ingress_rule *ingress_match(const struct ingress *ing, const char *hostname,
		    size_t *index);
/* The number of rules, and rule i (0-based), NULL past the end. */
size_t		 ingress_count(const struct ingress *ing);
const struct ingress_rule *ingress_rule(const struct ingress *ing, size_t i);
/* Formats a rule as "HOSTNAME SERVICE [OPTION ...]", the form ingress_add_line reads back to
 * the same rule.
 * Returns false (buf cut, still terminated) if it does not fit; INGRESS_ERR_MAX always does. */
bool		 ingress_format(const struct ingress_rule *rule, char *buf, size_t len);
/* Prints every rule as a configuration line, "rule = HOSTNAME SERVICE [OPTION ...]", in
 * order. */
void		 ingress_print(const struct ingress *ing, FILE *fp);

#endif
