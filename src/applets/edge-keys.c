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
#include "common/util.h"

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

/* Makes a new current key and retires the old one, published as long as the longest-lived
 * token it signed may still verify: a login token lives [identity] session_duration, an app
 * token no longer than its login or EDGE_APPTOKEN_LIFE; plus the verifier's leeway (which also
 * covers the second a running edge may go on signing with the old key). */
static int
rotate_keys(const char *config)
{
	struct edgeconf *c;
	char kid[JWT_KID_LEN + 1], life[32], session[32], app[32], leeway[32], until[32];
	uint64_t lifetime;
	time_t now = time(NULL);
	int ret = 1;

	if ((c = edgeconf_load(config)) == NULL)
		return 1;
	lifetime = c->session_duration_s >= EDGE_APPTOKEN_LIFE ? c->session_duration_s :
	    EDGE_APPTOKEN_LIFE;
	lifetime += JWT_LEEWAY;
	if (signkeys_rotate(c->state_dir, now, lifetime, kid) == -1)
		goto out;
	util_format_duration(lifetime * 1000, life, sizeof(life));
	util_format_duration((uint64_t)c->session_duration_s * 1000, session, sizeof(session));
	util_format_duration((uint64_t)EDGE_APPTOKEN_LIFE * 1000, app, sizeof(app));
	util_format_duration((uint64_t)JWT_LEEWAY * 1000, leeway, sizeof(leeway));
	fmt_time(now + (time_t)lifetime, until);
	printf("New signing key %s. The previous key stays published for %s, until %s, so that "
	    "the tokens it signed still verify: ", kid, life, until);
	if (c->session_duration_s >= EDGE_APPTOKEN_LIFE)
		printf("a login lives %s ([identity] session_duration in %s)", session, config);
	else
		printf("an app token lives %s (a login %s: [identity] session_duration in %s)", app,
		    session, config);
	printf(", plus %s of clock leeway.\n", leeway);
	printf("A running edge switches within a second. Connectors pinned to a JWKS file "
	    "(token_keys) need the new one: fetch /.well-known/jwks.json again.\n");
	ret = 0;
out:
	edgeconf_free(c);
	return ret;
}

int
edge_keys_cmd(const char *config, bool rotate)
{
	char *dir;
	int ret;

	if (rotate)
		return rotate_keys(config);
	if ((dir = edgeconf_state_dir(config)) == NULL)
		return 1;
	ret = list_keys(dir);
	free(dir);
	return ret;
}
