/* tunnelconf: the keys of tunnel.ini (doc/tunnel.ini.5). */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "tunnelconf.h"

/* https://HOST[:PORT], no path: the edge's issuer is compared exactly (doc/identity.md). */
bool
tunnelconf_issuer_ok(const char *v, char *err, size_t errlen)
{
	size_t len = strlen(v);

	if (strncmp(v, "https://", 8) == 0 && len > 8 && len <= TUNNELCONF_ISSUER_MAX &&
	    strcspn(v + 8, "/?#@ \t") == len - 8) {
		bool printable = true;

		for (size_t i = 0; i < len; i++)
			printable = printable && v[i] > 0x20 && v[i] < 0x7f;
		if (printable)
			return true;
	}
	snprintf(err, errlen, "not an issuer URL: write the edge's issuer, https://HOST or "
	    "https://HOST:PORT (no path), as its edge.ini [identity] issuer says");
	return false;
}

const struct conf_entry tunnelconf_table[] = {
	{ "tunnel", "token_file", CONF_PATH, NULL, NULL, 0, 0, 0, NULL, NULL,
	    "a file holding the connector token" },
	{ "tunnel", "ha_connections", CONF_INT, "4", NULL, 0, 1, TUNNELCONF_HA_MAX, NULL, NULL,
	    "connections kept to the edge(s)" },
	{ "tunnel", "grace_period", CONF_DURATION, "30s", NULL, 0, 0, 0, NULL, NULL,
	    "on SIGTERM, open streams get this long to finish" },
	{ "tunnel", "edge", CONF_HOSTPORT, NULL, NULL, CONF_F_MULTI, 7844, 0, NULL, NULL,
	    "edges to dial instead of those in the token" },
	{ "tunnel", "status_file", CONF_PATH, NULL, NULL, 0, 0, 0, NULL, NULL,
	    "where zt tunnel ready finds the connector's state" },
	{ "tunnel", "token_issuer", CONF_STRING, NULL, NULL, 0, 0, 0, NULL, tunnelconf_issuer_ok,
	    "the edge's issuer URL: app tokens must name it (needed by verify_token)" },
	{ "tunnel", "token_keys", CONF_PATH, NULL, NULL, 0, 0, 0, NULL, NULL,
	    "a JWKS file: verify app tokens with these keys, not those the edge sends" },
	{ "ingress", "rule", CONF_STRING, NULL, NULL, CONF_F_MULTI, 0, 0, NULL, NULL,
	    "HOSTNAME SERVICE [verify_token], matched in order; the last must be the catch-all *" },
	{ NULL, NULL, 0, NULL, NULL, 0, 0, 0, NULL, NULL, NULL },
};
