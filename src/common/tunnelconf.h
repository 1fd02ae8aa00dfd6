/* tunnelconf: the keys of tunnel.ini (zt tunnel run -c, zt doctor tunnel -c), one table for
 * every reader of the file. */
#ifndef ZT_TUNNELCONF_H
#define ZT_TUNNELCONF_H

#include "conf.h"

#define TUNNELCONF_HA_DEFAULT	4
#define TUNNELCONF_HA_MAX	16	/* connections kept to the edges */

extern const struct conf_entry tunnelconf_table[];

#endif
