/* jwt: JSON Web Tokens signed ES256 (RFC 7515, 7518, 7519), the JWK/JWKS encoding of their
 * public keys (RFC 7517), and the one strict verifier the edge and the connector share
 * (doc/identity.md, "Tokens"). */
#ifndef ZT_JWT_H
#define ZT_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JWT_MAX			4096	/* bytes of a token, as the HELLO field */
#define JWT_KID_LEN		22	/* base64url of 16 random bytes */
#define JWT_LEEWAY		60	/* seconds of clock skew accepted on exp and nbf */
#define JWT_MAX_GROUPS		64
#define JWT_GROUP_MAX		128
#define JWT_EMAIL_MAX		254
#define JWT_TEXT_MAX		255	/* iss, sub, aud, name */
#define JWT_JWKS_MAX		16384	/* bytes of a JWKS document we accept or produce */
#define JWT_KEYS_MAX		16	/* keys in a keyset */
#define JWT_ERR_MAX		256

struct jwt_claims {
	char		 iss[JWT_TEXT_MAX + 1];
	char		 sub[JWT_TEXT_MAX + 1];
	char		 aud[JWT_TEXT_MAX + 1];
	char		 type[16];			/* "user" or "service" */
	char		 email[JWT_EMAIL_MAX + 1];	/* "" for service tokens */
	char		 name[JWT_TEXT_MAX + 1];	/* service token's name; "" for people */
	char		 groups[JWT_MAX_GROUPS][JWT_GROUP_MAX + 1];
	size_t		 ngroups;
	char		 jti[JWT_KID_LEN + 1];
	int64_t		 iat, nbf, exp, auth_time;	/* auth_time 0 when absent */
};

/* A set of P-256 keys, each with its kid; private halves optional. The first key added with a
 * private half that is not retired is the one jwt_sign uses. */
struct jwt_keyset;

struct jwt_keyset *jwt_keyset_new(void);
void		 jwt_keyset_free(struct jwt_keyset *ks);
/* Adds a key from PEM (a PKCS#8 or SEC1 private key, or a SubjectPublicKeyInfo public key).
 * signing: this key may sign (only with a private half). -1 with the reason in err. */
int		 jwt_keyset_add_pem(struct jwt_keyset *ks, const char *kid, const char *pem,
		    size_t pemlen, bool signing, char *err, size_t errlen);
size_t		 jwt_keyset_count(const struct jwt_keyset *ks);
const char	*jwt_keyset_kid(const struct jwt_keyset *ks, size_t i);
/* Parses a JWKS document ({"keys":[...]}); keys that are not EC P-256 with alg ES256 (or no
 * alg) and use sig (or no use) are skipped; duplicate members and kids are errors. NULL with
 * the reason in err. */
struct jwt_keyset *jwt_keyset_from_jwks(const char *json, size_t len, char *err, size_t errlen);
/* The public JWKS of ks, as a NUL-terminated malloc'd string; NULL on allocation failure. */
char		*jwt_keyset_to_jwks(const struct jwt_keyset *ks);

/* Signs c with the signing key of ks into out (NUL-terminated). Empty strings, nbf 0 and
 * auth_time 0 are left out of the claims; ngroups 0 leaves groups out unless type is
 * "user". Returns the length, or -1 (no signing key, does not fit in outlen). */
int		 jwt_sign(const struct jwt_keyset *ks, const struct jwt_claims *c, char *out,
		    size_t outlen);

/* Verifies token against ks: ES256 only, a known kid, signature, exp and nbf against now with
 * JWT_LEEWAY, iss and aud equal to the expected strings (aud may be a string or an array that
 * contains it), type "user" or "service". Fills out (may be NULL). Returns 0, or -1 with the
 * reason in err (at most JWT_ERR_MAX), e.g. "token expired at 2026-11-27T21:00:00Z". */
int		 jwt_verify(const struct jwt_keyset *ks, const char *token, const char *iss,
		    const char *aud, int64_t now, struct jwt_claims *out, char *err, size_t errlen);

/* The expiry of a token without verifying it (for a client's own bookkeeping); -1 if it
 * cannot be read. */
int64_t		 jwt_peek_exp(const char *token);

/* base64url without padding (RFC 4648 5). encode: returns the length written (out gets a
 * NUL; 0 when out is too small); decode: strict (no padding, no other alphabet, zero
 * trailing bits), returns the length, or -1. */
size_t		 jwt_b64url_encode(const uint8_t *in, size_t len, char *out, size_t outlen);
int		 jwt_b64url_decode(const char *in, size_t len, uint8_t *out, size_t outlen);

/* A fresh random 16-byte id in base64url (kid, jti). */
void		 jwt_random_id(char out[JWT_KID_LEN + 1]);

#endif
