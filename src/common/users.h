/* users: the people of the edge (DIR/users, doc/identity.md): scrypt password hashes, groups,
 * TOTP second factor (RFC 6238), and the rate limiter of failed sign-ins. */
#ifndef ZT_USERS_H
#define ZT_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct sockaddr;

#define USERS_EMAIL_MAX		254
#define USERS_GROUPS_MAX	64
#define USERS_GROUP_MAX		128
#define USERS_PASSWORD_MIN	8
#define USERS_PASSWORD_MAX	1024
#define USERS_ERR_MAX		512

struct user_info {
	char		 email[USERS_EMAIL_MAX + 1];
	char		 groups[USERS_GROUPS_MAX][USERS_GROUP_MAX + 1];
	size_t		 ngroups;
	bool		 totp;		/* enrolled in TOTP */
	time_t		 created;
};

enum users_verdict {
	USERS_OK = 0,
	USERS_UNKNOWN,		/* no such user (the caller still spends a hash: see below) */
	USERS_BAD_PASSWORD,
	USERS_BAD_TOTP,		/* right password, wrong, missing or replayed code */
};

struct users;

/* Opens DIR/users of the state directory dir (creating DIR/users, 0700, if missing). NULL
 * after logging. A struct users belongs to one thread, except users_check (see there). */
struct users	*users_open(const char *dir);
void		 users_free(struct users *u);
/* Re-reads DIR/users when it changed; 1 if anything changed, 0 if not, -1 after logging (the
 * old contents stay). */
int		 users_refresh(struct users *u);
/* The user with this email (case-insensitive), copied into out; false if none. */
bool		 users_get(const struct users *u, const char *email, struct user_info *out);
size_t		 users_count(const struct users *u);
bool		 users_nth(const struct users *u, size_t i, struct user_info *out);

/* Checks a sign-in: password (and the TOTP code when the user is enrolled; totp may be "" or
 * NULL otherwise) at time now. Slow by design (scrypt): call it off the event loop. It reads
 * only dir and its files, so it is safe on a worker thread with its own arguments. An unknown
 * user costs the same scrypt as a known one. On USERS_OK with TOTP, the accepted time step is
 * recorded in the user's file (a code is accepted once). out (may be NULL) gets the user. */
enum users_verdict users_check(const char *dir, const char *email, const char *password,
		    const char *totp, time_t now, struct user_info *out);

/* CLI mutations, under the directory lock; -1 with a message in err naming what is wrong. */
int		 users_add(const char *dir, const char *email, const char *password,
		    const char *const *groups, size_t ngroups, time_t now, char *err, size_t errlen);
int		 users_del(const char *dir, const char *email, char *err, size_t errlen);
int		 users_passwd(const char *dir, const char *email, const char *password, char *err,
		    size_t errlen);
int		 users_set_groups(const char *dir, const char *email, const char *const *groups,
		    size_t ngroups, char *err, size_t errlen);
/* Enrols email in TOTP with a new random secret; uri (at least 512 bytes) gets the otpauth://
 * URI (issuer "zt"). */
int		 users_totp_enrol(const char *dir, const char *email, char *uri, size_t urilen,
		    char *err, size_t errlen);
/* Checks the state directory dir (it exists, is this user's, no group or other access) and
 * creates DIR/users (0700) when missing: 0, or -1 with the problem and its fix in err. */
int		 users_dir_check(const char *dir, char *err, size_t errlen);
/* A valid email for a user (LOCAL@DOMAIN as in policy's email:); lower-cases it into out. */
bool		 users_email_valid(const char *email, char *out, size_t outlen);

/* RFC 6238 TOTP (HMAC-SHA1, 6 digits, 30 s): the code for time step t of secret. */
uint32_t	 users_totp_code(const uint8_t *secret, size_t len, uint64_t step);
/* The otpauth:// URI (issuer zt) of a 20-byte secret for email; -1 if it does not fit. */
int		 users_totp_uri(const char *email, const uint8_t *secret, size_t len, char *uri,
		    size_t urilen);
/* scrypt (RFC 7914) of pw with N = 2^ln, r, p through OpenSSL's EVP_KDF: the one function the
 * password hashes use (exported for its known-answer tests). 0, or -1 after logging. */
int		 users_scrypt(const void *pw, size_t pwlen, const uint8_t *salt, size_t saltlen,
		    unsigned ln, unsigned r, unsigned p, uint8_t *out, size_t outlen);
/* For tests and fuzzing: parses len bytes as a user file (label names it in messages; when
 * expect_email is not NULL the file must be that user's) and, if canon is not NULL, formats
 * it again into *canon (the caller frees it). 0, or -1 after logging file:line. */
int		 users_file_check(const char *label, const char *expect_email, const char *data,
		    size_t len, char **canon);

/* The rate limiter of failed sign-ins, per user and per client address (doc/identity.md):
 * after 5 failures in a row, 1 s before the next attempt, doubling per further failure up to
 * 15 minutes. Bounded memory: at most 65536 entries, the oldest dropped first. */
struct loginlimit;
struct loginlimit *loginlimit_new(void);
void		 loginlimit_free(struct loginlimit *l);
/* 0 if an attempt may go ahead now, else the seconds to wait (Retry-After). */
unsigned	 loginlimit_check(struct loginlimit *l, const char *email, const struct sockaddr *sa,
		    uint64_t now_ms);
void		 loginlimit_failed(struct loginlimit *l, const char *email, const struct sockaddr *sa,
		    uint64_t now_ms);
void		 loginlimit_succeeded(struct loginlimit *l, const char *email,
		    const struct sockaddr *sa);
/* The entries held (for tests of the bound). */
size_t		 loginlimit_count(const struct loginlimit *l);

#endif
