/* edge-cmds: subcommands of `zt edge` kept in files of their own (so that edge.c stays the
 * server), called from edge_main's dispatch. */
#ifndef ZT_EDGE_CMDS_H
#define ZT_EDGE_CMDS_H

#include <stdbool.h>

#define EDGE_APPTOKEN_LIFE	300	/* s: an app token attached to a stream */

/* `zt edge rotate-keys` (rotate true) and `zt edge keys` for the edge.ini at config: an exit
 * status. */
int	 edge_keys_cmd(const char *config, bool rotate);

#endif
