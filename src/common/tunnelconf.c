/* tunnelconf: the keys of tunnel.ini (doc/tunnel.ini.5). */
#include "config.h"

#include <stddef.h>

#include "conf.h"
#include "tunnelconf.h"

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
	{ "ingress", "rule", CONF_STRING, NULL, NULL, CONF_F_MULTI, 0, 0, NULL, NULL,
	    "HOSTNAME SERVICE, matched in order; the last must be the catch-all *" },
	{ NULL, NULL, 0, NULL, NULL, 0, 0, 0, NULL, NULL, NULL },
};
