/* edge-user: `zt edge user`, the people who sign in on the edge (doc/identity.md). */
#ifndef ZT_EDGE_USER_H
#define ZT_EDGE_USER_H

/* Runs `zt edge user SUBCOMMAND ...`; argv[0] is "user". Returns the exit status. */
int	edge_user_cmd(int argc, char **argv);

#endif
