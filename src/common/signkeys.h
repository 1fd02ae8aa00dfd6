/* signkeys: the edge's token signing keys in DIR/keys (doc/identity.md): create, load, rotate,
 * prune expired ones, and notice changes cheaply. */
#ifndef ZT_SIGNKEYS_H
#define ZT_SIGNKEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/jwt.h"

/*
 * DIR/keys/KID, mode 0600, replaced atomically, written under flock(DIR/.lock):
 *
 *	-----BEGIN PRIVATE KEY-----		(PKCS#8 of an EC P-256 key)
 *	...
 *	-----END PRIVATE KEY-----
 *	zt-state = 1
 *	kid = <22 base64url characters: 16 random bytes; the file's name>
 *	created = 2026-11-27T21:00:00Z
 *	retired = 2026-12-01T08:00:00Z		(once rotated out: no longer signs)
 *	expires = 2026-12-02T08:01:00Z		(with retired: no longer published)
 *
 * The current key is the newest (by created) that is not retired; a key is published in the
 * JWKS until it expires; expired files are removed by signkeys_load and signkeys_rotate.
 */

#define SIGNKEYS_FILE_MAX	4096
/* s: the longest token lifetime signkeys_rotate takes: a login's session_duration (at most
 * 366 days) plus the verifier's leeway. */
#define SIGNKEYS_LIFETIME_MAX		(367 * 86400)

struct signkeys_info {
	char	 kid[JWT_KID_LEN + 1];
	time_t	 created;
	time_t	 retired;	/* 0: not retired */
	time_t	 expires;	/* 0: not retired */
	bool	 current;	/* the key that signs */
};

/* Creates DIR/keys (0700) and, when no key is current, a first one. dir is the state directory
 * (it must exist). Returns 0, or -1 after logging. */
int		 signkeys_init(const char *dir);
/* The keys of DIR/keys not expired at now, the current one first and signing; removes expired
 * key files. NULL with the reason in err (a file too open or malformed, no current key). */
struct jwt_keyset *signkeys_load(const char *dir, time_t now, char *err, size_t errlen);
/* Makes a new current key and retires the others at now, publishing them until now +
 * max_lifetime_s (the longest life of a token the edge signs). kid (may be NULL) receives the
 * new kid. Returns 0, or -1 after logging. */
int		 signkeys_rotate(const char *dir, time_t now, uint64_t max_lifetime_s,
		    char kid[JWT_KID_LEN + 1]);
/* The keys not expired at now, oldest first, in a malloc'd array (*n entries). -1 after
 * logging. */
int		 signkeys_list(const char *dir, time_t now, struct signkeys_info **out, size_t *n);
/* A stamp of DIR/keys (names, inodes, sizes, times of its files): call it every 250 ms and
 * signkeys_load when it changes. 0 when the directory cannot be read. */
uint64_t	 signkeys_stamp(const char *dir);
/* The earliest time after now at which the set of published keys changes by time alone
 * (an expiry), or 0: reload then even if the stamp did not change. */
time_t		 signkeys_next_change(const char *dir, time_t now);

#endif
