/* edge-keys: `zt edge rotate-keys` and `zt edge keys`, the token signing keys in the state
 * directory's keys/ (doc/identity.md; RFC 7517 key ids, RFC 7518 3.4 ES256). */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "applets/edge-cmds.h"
#include "common/edgeconf.h"
#include "common/log.h"
#include "common/signkeys.h"

/* The longest life of a token the edge signs: the login session_duration's default. Retired
 * keys stay published this long so that every token they signed still verifies. */
#define EDGE_KEYS_MAX_LIFETIME	SIGNKEYS_DEFAULT_LIFETIME

static void
fmt_time(time_t t, char buf[32])
{
	struct tm tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, 32, "-");
}

/* Prints the keys still published, oldest first. */
static int
list_keys(const char *dir)
{
	struct signkeys_info *k;
	char c[32], r[32], e[32];
	size_t n;

	if (signkeys_list(dir, time(NULL), &k, &n) == -1)
		return 1;
	printf("%-22s  %-20s  %-20s  %-20s  %s\n", "KID", "CREATED", "RETIRED", "EXPIRES",
	    "CURRENT");
	for (size_t i = 0; i < n; i++) {
		fmt_time(k[i].created, c);
		fmt_time(k[i].retired, r);
		fmt_time(k[i].expires, e);
		printf("%-22s  %-20s  %-20s  %-20s  %s\n", k[i].kid, c, r, e,
		    k[i].current ? "yes" : "no");
	}
	free(k);
	return 0;
}

int
edge_keys_cmd(const char *config, bool rotate)
{
	char kid[JWT_KID_LEN + 1];
	char *dir;
	int ret = 1;

	if ((dir = edgeconf_state_dir(config)) == NULL)
		return 1;
	if (!rotate) {
		ret = list_keys(dir);
		goto out;
	}
	if (signkeys_rotate(dir, time(NULL), EDGE_KEYS_MAX_LIFETIME, kid) == -1)
		goto out;
	printf("New signing key %s; the previous key stays published for %d h so that the tokens "
	    "it signed still verify.\n", kid, EDGE_KEYS_MAX_LIFETIME / 3600);
	printf("A running edge switches within a second. Connectors pinned to a JWKS file "
	    "(token_keys) need the new one: fetch /.well-known/jwks.json again.\n");
	ret = 0;
out:
	free(dir);
	return ret;
}
