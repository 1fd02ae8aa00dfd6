/* web: the edge's web side (doc/identity.md, "HTTP"): sign-in, device approval and sign-out
 * pages, the device authorization grant (RFC 8628), app tokens, revocation (RFC 7009) and the
 * JWKS, served on TLS connections the edge hands over. */
#ifndef ZT_WEB_H
#define ZT_WEB_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct bufferevent;
struct edgeconf;
struct event_base;
struct jwt_keyset;
struct revoked;
struct users;
struct web;

#define WEB_MAX_CONNS		256
#define WEB_HEAD_MS		10000	/* the head within (Slowloris) */
#define WEB_BODY_MS		10000	/* the body within */
#define WEB_SESSIONS_MAX	4096	/* web sessions in memory; the oldest go first */
#define WEB_DEVICES_MAX		1024	/* device codes pending */
#define WEB_DEVICE_TTL		600	/* s: expires_in of a device code */
#define WEB_DEVICE_INTERVAL	5	/* s: the polling interval; slow_down adds as much */
#define WEB_QUEUE_MAX		16	/* password checks waiting for the worker */
#define WEB_USER_CODE_LEN	8
#define WEB_USER_CODE_ALPHABET	"BCDFGHJKLMNPQRSTVWXZ"
#define WEB_CODE_B64_LEN	43	/* base64url of 32 random bytes */
#define WEB_NEXT_MAX		512

/* Writes one audit line for a decision of the web side: event "login", "device" or "token";
 * identity the person's email; app the app's hostname (token for an app) or NULL; from the
 * client's address; reason what decided. */
typedef void	(*web_audit_fn)(void *arg, const char *event, bool allow, const char *identity,
		    const char *app, const char *from, const char *reason);

struct web_config {
	const char	*state_dir;	/* users_check reads DIR/users there, revoked_add writes */
	web_audit_fn	 audit;
	void		*audit_arg;
};

/* Starts the web side on base, with its password-check worker thread. NULL after logging. */
struct web	*web_new(struct event_base *base, const struct web_config *cfg);
void		 web_free(struct web *w);
/* What the web side reads, owned by the edge, which calls this again whenever one of them is
 * replaced (reload, refresh); keys may be NULL (no signing key: token endpoints answer 503). */
void		 web_update(struct web *w, const struct edgeconf *conf, const struct users *users,
		    const struct revoked *revoked, const struct jwt_keyset *keys);
/* Serves HTTP/1.1 on bev (a TLS bufferevent after its handshake) from the client at sa. bev
 * belongs to w from then on; -1 (bev freed) at WEB_MAX_CONNS connections. */
int		 web_serve(struct web *w, struct bufferevent *bev, const struct sockaddr *sa,
		    socklen_t salen);
size_t		 web_conns(const struct web *w);

/* --- the pure parts, for tests ------------------------------------------------------------- */

/* A typed user code: any case, with or without the dash (and spaces around), into the 8
 * canonical letters (out: WEB_USER_CODE_LEN + 1). false when it is not one. */
bool		 web_user_code_normalise(const char *in, char *out);
/* "BCDFGHJK" as "BCDF-GHJK" (out: 10 bytes). */
void		 web_user_code_format(const char *code, char *out);
/* Whether next is a local path to redirect to after sign-in: one '/' then not '/' or '\',
 * printable ASCII, at most WEB_NEXT_MAX bytes. */
bool		 web_next_valid(const char *next);
/* The pre-sign-in CSRF token for the __Host-zt_pre cookie value pre, under key (32 bytes):
 * base64url of HMAC-SHA256 (out: WEB_CODE_B64_LEN + 1). */
void		 web_csrf_token(const uint8_t *key, const char *pre, char *out);
/* Whether token is the CSRF token of pre (constant time). */
bool		 web_csrf_check(const uint8_t *key, const char *pre, const char *token);

/* The device codes (RFC 8628) of one edge, in memory, with the time passed in. */
enum web_poll {
	WEB_POLL_OK = 0,	/* approved: the token is handed out, once */
	WEB_POLL_PENDING,	/* authorization_pending */
	WEB_POLL_SLOW_DOWN,	/* slow_down: the interval grew by WEB_DEVICE_INTERVAL */
	WEB_POLL_EXPIRED,	/* expired_token */
	WEB_POLL_DENIED,	/* access_denied */
	WEB_POLL_INVALID,	/* invalid_grant: unknown or already used */
};
struct web_devices;
struct web_devices *web_devices_new(void);
void		 web_devices_free(struct web_devices *d);
/* A new pending code at now: device_code (WEB_CODE_B64_LEN + 1) and user_code
 * (WEB_USER_CODE_LEN + 1, canonical). -1 when WEB_DEVICES_MAX are pending. */
int		 web_device_start(struct web_devices *d, time_t now, char *device_code,
		    char *user_code);
/* A poll of device_code at now (RFC 8628 3.4, 3.5). WEB_POLL_OK gives the token (malloc'd,
 * the caller frees it) and its expiry. */
enum web_poll	 web_device_poll(struct web_devices *d, const char *device_code, time_t now,
		    char **token, int64_t *exp);
/* Whether the canonical user_code is pending at now. */
bool		 web_device_pending(const struct web_devices *d, const char *user_code, time_t now);
/* Approves (with the token to hand out and its expiry) or denies a pending user_code; -1
 * when it is not pending. */
int		 web_device_decide(struct web_devices *d, const char *user_code, time_t now,
		    bool approve, const char *token, int64_t exp);
size_t		 web_devices_count(const struct web_devices *d);

#endif
