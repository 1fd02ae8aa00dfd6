/* tunnelconf: the keys of tunnel.ini (zt tunnel run -c, zt doctor tunnel -c), one table for
 * every reader of the file. */
#ifndef ZT_TUNNELCONF_H
#define ZT_TUNNELCONF_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

#define TUNNELCONF_HA_DEFAULT	4
#define TUNNELCONF_HA_MAX	16	/* connections kept to the edges */

#define TUNNELCONF_ISSUER_MAX	255	/* as a token's iss */

extern const struct conf_entry tunnelconf_table[];

/* Whether v is an issuer URL (https://HOST[:PORT]); false with the reason in err. */
bool		 tunnelconf_issuer_ok(const char *v, char *err, size_t errlen);

#endif
