/* revoked: logins revoked before their expiry (`zt logout`, /oauth/revoke): DIR/revoked/JTI of
 * the edge's state directory, kept until the login would have expired (doc/identity.md). */
#ifndef ZT_REVOKED_H
#define ZT_REVOKED_H

#include <stdbool.h>
#include <time.h>

struct revoked;

/* Records jti (22 base64url characters) as revoked until expires (0600, atomic, under the
 * directory lock). 0, or -1 with the reason in err. */
int		 revoked_add(const char *dir, const char *jti, time_t expires, char *err,
		    size_t errlen);
/* The running edge's view: open, refresh (every 250 ms like state_refresh; 1 when changed;
 * entries past their expiry are dropped and their files removed), and look up. */
struct revoked	*revoked_open(const char *dir);
int		 revoked_refresh(struct revoked *r, time_t now);
bool		 revoked_has(const struct revoked *r, const char *jti);
void		 revoked_free(struct revoked *r);

#endif
