/* state: the edge's state directory (service tokens and tunnels), its file format, verification
 * of credentials in constant time, and the mutations the CLI makes under a lock. */
#ifndef ZT_STATE_H
#define ZT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * Layout (every path below DIR belongs to the edge's user; anything wider is refused):
 *
 *	DIR/			mode 0700, made by state_init (`zt edge init`)
 *	DIR/.lock		empty; flock(2)ed by every read-modify-write of the CLI
 *	DIR/tokens/NAME		mode 0600, one service token
 *	DIR/tunnels/NAME	mode 0600, one tunnel
 *
 * Files are replaced whole with util_write_file_atomic (a temporary NAME.tmp-XXXXXXXXXXXX in the
 * same directory, then rename), so a reader sees the old file or the new one, never a mix. Names
 * starting with '.', temporary files and names that are not valid state names are skipped.
 *
 * A file is printable ASCII text of "key = value" lines (at most STATE_FILE_MAX bytes):
 *
 *	# zt service token: written by 'zt token'; the secret itself is never stored
 *	zt-state = 1
 *	type = token
 *	name = ci-deploy
 *	id = 0123456789abcdef0123456789abcdef.access
 *	secret-sha256 = <64 lower hex: SHA-256 of the 32 secret bytes>
 *	created = 2026-11-27T21:00:00Z
 *	expires = 2027-11-27T21:00:00Z
 *	revoked = 2026-12-01T08:00:00Z			(only once revoked)
 *	previous-sha256 = <64 lower hex>		(only during a rotation,
 *	previous-expires = 2026-11-28T21:00:00Z		 both or neither)
 *
 * and for a tunnel "type = tunnel", name, "id = <32 lower hex>", secret-sha256 and created.
 * "zt-state = 1" must be the first key; blank lines and lines starting with '#' are ignored; every
 * other key must be known and given once; the name must be the file's own name; times are UTC
 * RFC 3339 with a 'Z' and whole seconds. Anything else is an error naming file and line.
 */

/*
 * Use: the edge calls state_open once, then state_refresh every 250 ms from a timer on its
 * event loop (no signal needed), and after each refresh that returns 1 rechecks its open
 * connections with state_*_recheck; it also rechecks each connection at its auth.deadline
 * (expiry and rotation grace are a matter of time, not of files). The CLI opens its own handle
 * and calls the mutations. A struct state belongs to one thread; nothing here is thread-safe.
 * Times are wall-clock seconds (time(NULL)) passed in by the caller, so tests choose them;
 * several edges sharing the directory need synchronised clocks for expiry, as for TLS.
 */

#define STATE_FORMAT_VERSION	1
#define STATE_FILE_MAX		4096
#define STATE_NAME_MAX		64
#define STATE_TOKEN_ID_LEN	39	/* 32 lower hex + ".access" */
#define STATE_TUNNEL_ID_LEN	32	/* 32 lower hex: 16 random bytes */
#define STATE_ID_MAX		STATE_TOKEN_ID_LEN
#define STATE_SECRET_HEX_LEN	64	/* 32 random bytes as lower hex */
#define STATE_FPR_LEN		16	/* hex of the first 8 bytes of SHA-256(secret) */
#define STATE_TIME_LEN		20	/* "2027-11-27T21:00:00Z" */
#define STATE_DURATION_MAX	(100ULL * 365 * 86400 * 1000)	/* ms: a token's longest life */
#define STATE_GRACE_MAX		(30ULL * 86400 * 1000)		/* ms: as Cloudflare's rotation */

struct state;

/* What a caller may know of a service token: never the secret nor its hash. */
struct state_token {
	char	 name[STATE_NAME_MAX + 1];
	char	 id[STATE_TOKEN_ID_LEN + 1];
	time_t	 created;
	time_t	 expires;	/* the token stops working at this second */
	time_t	 revoked;	/* 0: not revoked */
	time_t	 grace_until;	/* 0: no previous secret; else it works until this second */
};

/* What a caller may know of a tunnel. */
struct state_tunnel {
	char	 name[STATE_NAME_MAX + 1];
	char	 id[STATE_TUNNEL_ID_LEN + 1];
	time_t	 created;
};

/* The outcome of a verification. Towards the client, everything but STATE_OK is the same
 * refusal: UNKNOWN and BAD_SECRET must never be told apart outside the audit log. */
enum state_verdict {
	STATE_OK = 0,
	STATE_UNKNOWN,		/* no token or tunnel has this id */
	STATE_BAD_SECRET,	/* the secret is wrong (or a rotated-out one, or malformed) */
	STATE_EXPIRED,		/* right secret, token past its expiry */
	STATE_REVOKED,		/* right secret, token revoked */
};

/* A verification's result, by value so that it outlives any refresh: keep it with the
 * connection, log it, and hand it to state_*_recheck after each change or at its deadline. */
struct state_auth {
	enum state_verdict verdict;
	char	 name[STATE_NAME_MAX + 1];	/* the entry matched by id; "" when unknown */
	char	 id[STATE_ID_MAX + 1];		/* the id as presented when it was well formed */
	char	 fingerprint[STATE_FPR_LEN + 1]; /* of SHA-256(presented secret): loggable */
	bool	 previous;			/* STATE_OK on the previous secret (rotation) */
	time_t	 deadline;			/* STATE_OK until then by time alone; 0: none */
};

/* Creates DIR (0700, with missing parents), DIR/tokens and DIR/tunnels; existing ones are fine
 * if they are directories with no group or other access. Returns 0, or -1 after logging. */
int		 state_init(const char *dir);

/* Loads every token and tunnel of dir. Refuses (NULL after logging every problem, each naming
 * the path and the fix) a missing directory, one that the group or others may access or that
 * another user owns, and any such file or malformed file (naming file:line). */
struct state	*state_open(const char *dir);
/* Frees everything, wiping the hashes; NULL is a no-op. */
void		 state_free(struct state *st);
const char	*state_dir(const struct state *st);

/* Re-reads what changed on disk: the listing of both subdirectories and, per file, a signature
 * (inode, size, mode, owner, mtime and ctime in ns). A file whose signature changed, or that
 * was written in the last two seconds (timestamps are coarse and inodes get reused), is read
 * and compared by its SHA-256, so rewriting the same bytes is no change. A changed file that is
 * malformed or too open keeps its previous entry (a new one is ignored), logged once per
 * problem; a removed file removes its entry. Returns 1 if any entry was added, replaced or
 * removed, 0 if nothing changed, -1 (logged once, until it recovers) if a directory could not
 * be read, in which case everything is kept. Cost: a readdir per subdirectory, an fstatat per
 * file, and a read of the files changed lately (about 15 ms for 5000 entries here). */
int		 state_refresh(struct state *st);
/* Counts changes applied by state_open and state_refresh: unchanged means nothing changed. */
uint64_t	 state_generation(const struct state *st);

/* Lookups. The pointers stay valid until the next state_refresh, mutation or state_free;
 * copy what must live longer. nth goes in name order. */
size_t		 state_token_count(const struct state *st);
const struct state_token *state_token_nth(const struct state *st, size_t i);
const struct state_token *state_token_by_name(const struct state *st, const char *name);
const struct state_token *state_token_by_id(const struct state *st, const char *id);
size_t		 state_tunnel_count(const struct state *st);
const struct state_tunnel *state_tunnel_nth(const struct state *st, size_t i);
const struct state_tunnel *state_tunnel_by_name(const struct state *st, const char *name);
const struct state_tunnel *state_tunnel_by_id(const struct state *st, const char *id);

/* Checks a Client ID and secret (64 hex) at time now. Every call hashes the secret and compares
 * every id and both hashes in constant time, whether or not the id exists; the verdict and auth
 * (may be NULL) say what matched. The secret is neither kept nor logged. */
enum state_verdict state_token_verify(const struct state *st, const char *id, const char *secret,
		    time_t now, struct state_auth *auth);
/* Same for a tunnel id and secret (tunnels neither expire nor rotate: OK, UNKNOWN, BAD_SECRET). */
enum state_verdict state_tunnel_verify(const struct state *st, const char *id, const char *secret,
		    time_t now, struct state_auth *auth);
/* Whether a connection admitted earlier (auth->verdict STATE_OK) may go on at time now: the
 * same token or tunnel still exists with the same secret (or the previous one within its
 * grace), and is neither revoked nor expired. Updates auth (verdict, deadline) and returns the
 * verdict. Call it for open connections after state_refresh returned 1 and at auth->deadline. */
enum state_verdict state_token_recheck(const struct state *st, struct state_auth *auth,
		    time_t now);
enum state_verdict state_tunnel_recheck(const struct state *st, struct state_auth *auth,
		    time_t now);
/* "ok", "unknown id", "bad secret", "expired", "revoked". */
const char	*state_verdict_str(enum state_verdict v);

/* Mutations for the CLI. Each takes DIR/.lock, re-reads the directory, writes one file
 * atomically (mode 0600), re-reads it and releases the lock; st then reflects the result.
 * They return 0 (or as stated), or -1 after logging why (unknown names included). secret
 * receives the new secret as 64 hex characters: the caller shows it once and wipes it. */
/* A new token valid for duration_ms (1 s to STATE_DURATION_MAX); refuses an existing name. */
int		 state_token_create(struct state *st, const char *name, uint64_t duration_ms,
		    time_t now, struct state_token *out, char secret[STATE_SECRET_HEX_LEN + 1]);
/* Revokes a token by name or Client ID: 0 if revoked now, 1 if it already was (out then holds
 * the first revocation time). */
int		 state_token_revoke(struct state *st, const char *name_or_id, time_t now,
		    struct state_token *out);
/* Gives a token a new secret; the current one keeps working until now + grace_ms (0: stops at
 * once; at most STATE_GRACE_MAX), replacing any previous secret still in its grace. Refuses a
 * revoked or expired token. */
int		 state_token_rotate(struct state *st, const char *name_or_id, uint64_t grace_ms,
		    time_t now, struct state_token *out, char secret[STATE_SECRET_HEX_LEN + 1]);
/* A new tunnel with a random id; refuses an existing name. */
int		 state_tunnel_create(struct state *st, const char *name, time_t now,
		    struct state_tunnel *out, char secret[STATE_SECRET_HEX_LEN + 1]);
/* Removes a tunnel by name or id (out, may be NULL, receives what was removed). */
int		 state_tunnel_delete(struct state *st, const char *name_or_id,
		    struct state_tunnel *out);

/* Whether name is 1-64 of [A-Za-z0-9._-], not starting with '.', without ".tmp-" (reserved for
 * temporary files); if not, a reason (quoting name safely) goes into err. */
bool		 state_name_valid(const char *name, char *err, size_t errlen);
/* Formats t as "2027-11-27T21:00:00Z". */
void		 state_format_time(time_t t, char buf[STATE_TIME_LEN + 1]);

/* For tests and fuzzing: parses len bytes as a state file (label names it in messages; when
 * expect_name is not NULL the file must declare that name) and, if canon is not NULL, formats
 * the result again into *canon (the caller frees it). Returns 0, or -1 after logging file:line. */
int		 state_file_check(const char *label, const char *expect_name, const char *data,
		    size_t len, char **canon);

#endif
