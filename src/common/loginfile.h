/* loginfile: the logins of zt login, in $XDG_CONFIG_HOME/zt/logins.json (default
 * ~/.config/zt/): an object keyed by the edge's host:port, directory 0700, file 0600, replaced
 * atomically under flock of logins.lock (doc/identity.md, "The client"). */
#ifndef ZT_LOGINFILE_H
#define ZT_LOGINFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOGINFILE_TOKEN_MAX	4095	/* bytes of a login token (the HELLO field holds 4096
					 * with its NUL) */
#define LOGINFILE_MAX		(1024 * 1024)	/* bytes of the whole file */
#define LOGINFILE_ERR_MAX	512

struct loginfile_rec {
	char		 key[300];		/* "host:port", "[v6]:port" */
	char		 edge[1024];		/* the URL given to zt login */
	char		 token[LOGINFILE_TOKEN_MAX + 1];
	char		 email[255];		/* "" when unknown */
	int64_t		 expires;		/* seconds since the epoch */
	char		 ca_file[1024];		/* the trust options of zt login, "" when absent */
	char		 pin[80];
	char		 edge_name[256];
};

/* The directory of the file ($XDG_CONFIG_HOME/zt, else $HOME/.config/zt) into buf; false when
 * neither is set (or an absolute path does not fit). */
bool		 loginfile_dir(char *buf, size_t len);

/* The login for key: 1 found (into rec), 0 none, -1 the file cannot be read or is corrupt
 * (the reason, with the file's path, in err). */
int		 loginfile_get(const char *key, struct loginfile_rec *rec, char *err, size_t errlen);
/* Adds or replaces the login of rec->key, keeping the others as they are. A corrupt file is
 * not replaced: -1 with the reason. */
int		 loginfile_put(const struct loginfile_rec *rec, char *err, size_t errlen);
/* Removes the login of key: 1 removed, 0 there was none, -1 error. */
int		 loginfile_del(const char *key, char *err, size_t errlen);
/* The login of key, or when key is NULL the only login there is: 1 found, 0 none, -1 error
 * (also when key is NULL and there are several: err asks to name the edge). */
int		 loginfile_find(const char *key, struct loginfile_rec *rec, char *err,
		    size_t errlen);
/* Every login, sorted by key, into a malloc'd array (*n of them; free it with
 * loginfile_list_free). 0, or -1 with the reason. */
int		 loginfile_list(struct loginfile_rec **recs, size_t *n, char *err, size_t errlen);
void		 loginfile_list_free(struct loginfile_rec *recs, size_t n);

/* RFC 3339 in UTC ("2026-11-27T21:00:00Z") to and from seconds since the epoch. */
bool		 loginfile_time_format(int64_t t, char *buf, size_t len);
int		 loginfile_time_parse(const char *s, int64_t *t);

#endif
