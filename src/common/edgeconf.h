/* edgeconf: edge.ini, the edge's declarative configuration: listeners, certificates, the state
 * directory, the audit log, and the apps with their tunnels and policies. */
#ifndef ZT_EDGECONF_H
#define ZT_EDGECONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct policy;

#define EDGECONF_DEFAULT_PATH	"/etc/zt/edge.ini"
#define EDGECONF_DEFAULT_PORT	7844

/* One [app HOSTNAME] section. */
struct edgeconf_app {
	char		*hostname;	/* lower case, no trailing dot */
	char		*tunnel;	/* the tunnel that serves it */
	struct policy	*policy;	/* its rules (default deny) */
	uint32_t	 session_duration_s;	/* people signed in longer ago are refused */
};

struct edgeconf {
	char		*path;		/* the file read */
	char		*name;		/* [edge] name: the edge's name in its certificate */
	char		**listens;	/* host:port to listen on */
	size_t		 nlistens;
	char		**publics;	/* host:port that connector tokens carry */
	size_t		 npublics;
	char		*cert_file, *key_file, *ca_file;	/* ca_file may be NULL */
	char		*state_dir;
	char		*audit_log;	/* a file, or "-" for standard output */
	uint32_t	 keepalive_ms;
	uint32_t	 handshake_timeout_ms;
	uint32_t	 idle_timeout_ms;
	uint32_t	 max_streams_client;
	uint32_t	 max_streams_connector;
	char		*issuer;	/* [identity] issuer: iss of the edge's tokens */
	uint32_t	 session_duration_s;	/* [identity] session_duration: a login's life */
	struct edgeconf_app *apps;
	size_t		 napps;
};

/* Reads path (paths inside it are relative to its directory). Every problem is logged with
 * file, line and key; then NULL. */
struct edgeconf	*edgeconf_load(const char *path);
void		 edgeconf_free(struct edgeconf *c);
/* The app for hostname (case-insensitive, a trailing dot ignored), or NULL. */
const struct edgeconf_app *edgeconf_app(const struct edgeconf *c, const char *hostname);
/* Prints the effective configuration with the source of each value. */
int		 edgeconf_dump(const char *path, FILE *fp);
/* Writes a starter edge.ini for `zt edge init` (mode 0600, refusing to overwrite). */
int		 edgeconf_write_template(const char *path, const char *name, const char *listen);
/* The state directory edge.ini at path names (for the CLI), as a new string; NULL after
 * logging. */
char		*edgeconf_state_dir(const char *path);

#endif
