/* jwt: ES256 JSON Web Tokens (RFC 7515, 7518 3.4, 7519), JWK/JWKS (RFC 7517, 7518 6.2) and the
 * strict verifier of doc/identity.md "Tokens": anything unusual is refused with its own reason. */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "common/jwt.h"
#include "common/log.h"
#include "common/util.h"

#define JWT_KID_MAX	128	/* a kid from someone else's JWKS; ours are JWT_KID_LEN */
#define JWT_HEADER_MAX	1024	/* decoded header bytes */
#define JWT_AUD_MAX	16	/* entries of an aud array */
#define JWT_COORD	32	/* bytes of a P-256 coordinate, of r and of s */

struct jwt_key {
	char		 kid[JWT_KID_MAX + 1];
	EVP_PKEY	*pkey;
	bool		 signing;	/* has a private half and may sign */
	uint8_t		 x[JWT_COORD], y[JWT_COORD];
};

struct jwt_keyset {
	struct jwt_key	 keys[JWT_KEYS_MAX];
	size_t		 nkeys;
};

/* The order n of P-256 (SEC 2, 2.4.2): r and s must lie in [1, n-1] (FIPS 186-4 6.4). */
static const uint8_t p256_order[JWT_COORD] = {
	0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63,
	0x25, 0x51,
};

static void
jwt_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Writes a reason into err (cut if it must be: reasons are for people). */
static void
jwt_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Appends OpenSSL's first queued error to a reason, clearing the queue. */
static const char *
jwt_ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		util_strlcpy(buf, "unknown OpenSSL error", len);
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

static void
jwt_format_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		util_snprintf(buf, len, "%" PRId64, t);
}

/* --- base64url --------------------------------------------------------------------------- */

size_t
jwt_b64url_encode(const uint8_t *in, size_t len, char *out, size_t outlen)
{
	ssize_t n = util_b64url_encode(in, len, out, outlen);

	if (n < 0) {
		if (outlen > 0)
			out[0] = '\0';
		return 0;
	}
	return (size_t)n;
}

int
jwt_b64url_decode(const char *in, size_t len, uint8_t *out, size_t outlen)
{
	ssize_t n = util_b64url_decode(in, len, out, outlen);

	return n < 0 || n > INT32_MAX ? -1 : (int)n;
}

/* Why in[0..len) is not canonical unpadded base64url (RFC 7515 2, RFC 4648 5 and 3.5). */
static void
jwt_b64url_why(const char *what, const char *in, size_t len, char *err, size_t errlen)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_')
			continue;
		if (c == '=')
			jwt_err(err, errlen, "%s is not canonical base64url: padding '=' is not "
			    "allowed", what);
		else if (c == '+' || c == '/')
			jwt_err(err, errlen, "%s is not base64url: '%c' is standard base64 (use "
			    "'-' and '_')", what, c);
		else if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			jwt_err(err, errlen, "%s is not base64url: it contains whitespace", what);
		else
			jwt_err(err, errlen, "%s is not base64url: byte 0x%02x at offset %zu", what,
			    c, i);
		return;
	}
	if (len % 4 == 1)
		jwt_err(err, errlen, "%s is not base64url: %zu characters is an impossible length",
		    what, len);
	else if (len == 0)
		jwt_err(err, errlen, "%s is empty", what);
	else
		jwt_err(err, errlen, "%s is not canonical base64url: non-zero trailing bits", what);
}

/* Decodes one part of a token into a malloc'd buffer (NUL-terminated), or NULL with why. */
static uint8_t *
jwt_part_decode(const char *what, const char *in, size_t len, size_t maxout, size_t *outlen,
    char *err, size_t errlen)
{
	size_t cap = len / 4 * 3 + 3;
	uint8_t *buf;
	ssize_t n;

	if (len == 0) {
		jwt_err(err, errlen, "%s is empty", what);
		return NULL;
	}
	buf = xmalloc(cap + 1);
	n = util_b64url_decode(in, len, buf, cap);
	if (n < 0) {
		jwt_b64url_why(what, in, len, err, errlen);
		free(buf);
		return NULL;
	}
	if ((size_t)n > maxout) {
		jwt_err(err, errlen, "%s is %zd bytes, more than %zu", what, n, maxout);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*outlen = (size_t)n;
	return buf;
}

void
jwt_random_id(char out[JWT_KID_LEN + 1])
{
	uint8_t b[16];

	if (util_random_bytes(b, sizeof(b)) == -1)
		fatalx("jwt_random_id: no randomness");
	if (jwt_b64url_encode(b, sizeof(b), out, JWT_KID_LEN + 1) != JWT_KID_LEN)
		fatalx("jwt_random_id: encoding");
}

/* --- keys -------------------------------------------------------------------------------- */

struct jwt_keyset *
jwt_keyset_new(void)
{
	return xcalloc(1, sizeof(struct jwt_keyset));
}

void
jwt_keyset_free(struct jwt_keyset *ks)
{
	if (ks == NULL)
		return;
	for (size_t i = 0; i < ks->nkeys; i++)
		EVP_PKEY_free(ks->keys[i].pkey);
	free(ks);
}

size_t
jwt_keyset_count(const struct jwt_keyset *ks)
{
	return ks == NULL ? 0 : ks->nkeys;
}

const char *
jwt_keyset_kid(const struct jwt_keyset *ks, size_t i)
{
	return ks == NULL || i >= ks->nkeys ? NULL : ks->keys[i].kid;
}

static const struct jwt_key *
jwt_keyset_find(const struct jwt_keyset *ks, const char *kid)
{
	for (size_t i = 0; i < ks->nkeys; i++)
		if (strcmp(ks->keys[i].kid, kid) == 0)
			return &ks->keys[i];
	return NULL;
}

/* A kid we accept: 1-128 printable ASCII characters. */
static bool
jwt_kid_valid(const char *kid)
{
	size_t n = strlen(kid);

	if (n == 0 || n > JWT_KID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (kid[i] < 0x21 || kid[i] > 0x7e)
			return false;
	return true;
}

/* Checks that pkey is EC P-256 and takes its public coordinates. */
static int
jwt_key_coords(EVP_PKEY *pkey, uint8_t x[JWT_COORD], uint8_t y[JWT_COORD], char *err,
    size_t errlen)
{
	char group[64], ebuf[160];
	BIGNUM *bx = NULL, *by = NULL;
	int ret = -1;

	if (!EVP_PKEY_is_a(pkey, "EC")) {
		jwt_err(err, errlen, "the key is %s, not EC P-256", EVP_PKEY_get0_type_name(pkey));
		return -1;
	}
	if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
	    sizeof(group), NULL) != 1 || strcmp(group, "prime256v1") != 0) {
		ERR_clear_error();
		jwt_err(err, errlen, "the key is not on the curve P-256 (ES256 needs P-256)");
		return -1;
	}
	if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &bx) != 1 ||
	    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &by) != 1 ||
	    BN_bn2binpad(bx, x, JWT_COORD) != JWT_COORD ||
	    BN_bn2binpad(by, y, JWT_COORD) != JWT_COORD) {
		jwt_err(err, errlen, "cannot read the public key: %s",
		    jwt_ssl_reason(ebuf, sizeof(ebuf)));
		goto out;
	}
	ret = 0;
out:
	BN_free(bx);
	BN_free(by);
	return ret;
}

/* Adds pkey (taking it) under kid. */
static int
jwt_keyset_take(struct jwt_keyset *ks, const char *kid, EVP_PKEY *pkey, bool signing,
    char *err, size_t errlen)
{
	struct jwt_key *k;
	char q[80];

	if (!jwt_kid_valid(kid)) {
		jwt_err(err, errlen, "key id '%s' is not 1-%d printable characters",
		    util_quote(kid, q, sizeof(q)), JWT_KID_MAX);
		goto fail;
	}
	if (jwt_keyset_find(ks, kid) != NULL) {
		jwt_err(err, errlen, "key id '%s' appears twice", util_quote(kid, q, sizeof(q)));
		goto fail;
	}
	if (ks->nkeys == JWT_KEYS_MAX) {
		jwt_err(err, errlen, "more than %d keys", JWT_KEYS_MAX);
		goto fail;
	}
	k = &ks->keys[ks->nkeys];
	memset(k, 0, sizeof(*k));
	if (jwt_key_coords(pkey, k->x, k->y, err, errlen) == -1)
		goto fail;
	util_strlcpy(k->kid, kid, sizeof(k->kid));
	k->pkey = pkey;
	k->signing = signing;
	ks->nkeys++;
	return 0;
fail:
	EVP_PKEY_free(pkey);
	return -1;
}

/* PEM pass phrase callback: never ask (an encrypted key is an error, not a prompt). */
static int
jwt_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

int
jwt_keyset_add_pem(struct jwt_keyset *ks, const char *kid, const char *pem, size_t pemlen,
    bool signing, char *err, size_t errlen)
{
	EVP_PKEY *pkey = NULL;
	BIGNUM *priv = NULL;
	BIO *bio;
	char ebuf[160];
	bool private;

	if (pemlen > INT32_MAX || (bio = BIO_new_mem_buf(pem, (int)pemlen)) == NULL) {
		jwt_err(err, errlen, "cannot read the PEM");
		return -1;
	}
	pkey = PEM_read_bio_PrivateKey(bio, NULL, jwt_no_passphrase, NULL);
	if (pkey == NULL) {
		ERR_clear_error();
		(void)BIO_reset(bio);
		pkey = PEM_read_bio_PUBKEY(bio, NULL, jwt_no_passphrase, NULL);
	}
	BIO_free(bio);
	if (pkey == NULL) {
		jwt_err(err, errlen, "not a PEM private key (PKCS#8 or SEC1) nor public key: %s",
		    jwt_ssl_reason(ebuf, sizeof(ebuf)));
		return -1;
	}
	private = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &priv) == 1;
	BN_clear_free(priv);
	ERR_clear_error();
	if (signing && !private) {
		jwt_err(err, errlen, "a public key cannot sign");
		EVP_PKEY_free(pkey);
		return -1;
	}
	return jwt_keyset_take(ks, kid, pkey, signing, err, errlen);
}

/* An EC P-256 public key from its coordinates (checked to be on the curve). */
static EVP_PKEY *
jwt_key_from_coords(const uint8_t x[JWT_COORD], const uint8_t y[JWT_COORD])
{
	uint8_t point[1 + 2 * JWT_COORD];
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL, *cctx = NULL;
	EVP_PKEY *pkey = NULL;

	point[0] = 0x04;
	memcpy(point + 1, x, JWT_COORD);
	memcpy(point + 1 + JWT_COORD, y, JWT_COORD);
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1",
	    0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point,
	    sizeof(point)) != 1 || (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto fail;
	if ((cctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL ||
	    EVP_PKEY_public_check(cctx) != 1)
		goto fail;
	goto out;
fail:
	EVP_PKEY_free(pkey);
	pkey = NULL;
out:
	EVP_PKEY_CTX_free(cctx);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

/* A string member of a JSON object, NULL if absent; *bad set if present but not a string. */
static const char *
jwt_json_str(json_t *o, const char *name, bool *bad)
{
	json_t *v = json_object_get(o, name);

	if (v == NULL)
		return NULL;
	if (!json_is_string(v)) {
		*bad = true;
		return NULL;
	}
	return json_string_value(v);
}

/* Decodes a JWK coordinate: canonical base64url of exactly 32 bytes. */
static int
jwt_jwk_coord(const char *s, uint8_t out[JWT_COORD])
{
	uint8_t buf[JWT_COORD + 3];

	return s != NULL && jwt_b64url_decode(s, strlen(s), buf, sizeof(buf)) == JWT_COORD &&
	    memcpy(out, buf, JWT_COORD) != NULL ? 0 : -1;
}

struct jwt_keyset *
jwt_keyset_from_jwks(const char *json, size_t len, char *err, size_t errlen)
{
	struct jwt_keyset *ks = NULL;
	json_error_t jerr;
	json_t *doc = NULL, *keys;
	char q[80], sub[JWT_ERR_MAX];

	if (len > JWT_JWKS_MAX) {
		jwt_err(err, errlen, "JWKS is %zu bytes, more than %d", len, JWT_JWKS_MAX);
		return NULL;
	}
	doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL) {
		if (json_error_code(&jerr) == json_error_duplicate_key)
			jwt_err(err, errlen, "JWKS has a duplicate member: %s", jerr.text);
		else
			jwt_err(err, errlen, "JWKS is not JSON: %s at offset %d", jerr.text,
			    jerr.position);
		return NULL;
	}
	if (!json_is_object(doc) || !json_is_array(keys = json_object_get(doc, "keys"))) {
		jwt_err(err, errlen, "JWKS is not an object with a \"keys\" array");
		goto fail;
	}
	ks = jwt_keyset_new();
	for (size_t i = 0; i < json_array_size(keys); i++) {
		json_t *k = json_array_get(keys, i);
		const char *kty, *crv, *alg, *use, *x, *y, *kid;
		uint8_t bx[JWT_COORD], by[JWT_COORD];
		EVP_PKEY *pkey;
		bool bad = false;

		if (!json_is_object(k)) {
			jwt_err(err, errlen, "JWKS key %zu is not an object", i);
			goto fail;
		}
		kty = jwt_json_str(k, "kty", &bad);
		crv = jwt_json_str(k, "crv", &bad);
		alg = jwt_json_str(k, "alg", &bad);
		use = jwt_json_str(k, "use", &bad);
		x = jwt_json_str(k, "x", &bad);
		y = jwt_json_str(k, "y", &bad);
		kid = jwt_json_str(k, "kid", &bad);
		if (bad) {
			jwt_err(err, errlen, "JWKS key %zu: kty, crv, alg, use, x, y and kid must "
			    "be strings", i);
			goto fail;
		}
		if (kty == NULL) {
			jwt_err(err, errlen, "JWKS key %zu has no kty", i);
			goto fail;
		}
		/* RFC 7517 5: keys of other kinds are ignored, not errors. */
		if (strcmp(kty, "EC") != 0 || crv == NULL || strcmp(crv, "P-256") != 0 ||
		    (alg != NULL && strcmp(alg, "ES256") != 0) ||
		    (use != NULL && strcmp(use, "sig") != 0))
			continue;
		if (json_object_get(k, "d") != NULL) {
			jwt_err(err, errlen, "JWKS key %zu holds a private key (\"d\"): publish "
			    "public keys only", i);
			goto fail;
		}
		if (kid == NULL) {
			jwt_err(err, errlen, "JWKS key %zu has no kid", i);
			goto fail;
		}
		if (jwt_jwk_coord(x, bx) == -1 || jwt_jwk_coord(y, by) == -1) {
			jwt_err(err, errlen, "JWKS key '%s': x and y must be 32 bytes each in "
			    "canonical base64url", util_quote(kid, q, sizeof(q)));
			goto fail;
		}
		if ((pkey = jwt_key_from_coords(bx, by)) == NULL) {
			ERR_clear_error();
			jwt_err(err, errlen, "JWKS key '%s' is not a point of P-256",
			    util_quote(kid, q, sizeof(q)));
			goto fail;
		}
		if (jwt_keyset_take(ks, kid, pkey, false, sub, sizeof(sub)) == -1) {
			jwt_err(err, errlen, "JWKS: %s", sub);
			goto fail;
		}
	}
	if (ks->nkeys == 0) {
		jwt_err(err, errlen, "JWKS has no EC P-256 key for ES256");
		goto fail;
	}
	json_decref(doc);
	return ks;
fail:
	json_decref(doc);
	jwt_keyset_free(ks);
	return NULL;
}

char *
jwt_keyset_to_jwks(const struct jwt_keyset *ks)
{
	json_t *doc = json_object(), *keys = json_array();
	char x[64], y[64];
	char *s = NULL;

	if (doc == NULL || keys == NULL)
		goto out;
	for (size_t i = 0; ks != NULL && i < ks->nkeys; i++) {
		const struct jwt_key *k = &ks->keys[i];
		json_t *o = json_object();

		jwt_b64url_encode(k->x, JWT_COORD, x, sizeof(x));
		jwt_b64url_encode(k->y, JWT_COORD, y, sizeof(y));
		if (o == NULL || json_object_set_new(o, "kty", json_string("EC")) == -1 ||
		    json_object_set_new(o, "crv", json_string("P-256")) == -1 ||
		    json_object_set_new(o, "x", json_string(x)) == -1 ||
		    json_object_set_new(o, "y", json_string(y)) == -1 ||
		    json_object_set_new(o, "kid", json_string(k->kid)) == -1 ||
		    json_object_set_new(o, "alg", json_string("ES256")) == -1 ||
		    json_object_set_new(o, "use", json_string("sig")) == -1 ||
		    json_array_append_new(keys, o) == -1) {
			json_decref(o);
			goto out;
		}
	}
	if (json_object_set(doc, "keys", keys) == -1)
		goto out;
	s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
	json_decref(keys);
	json_decref(doc);
	return s;
}

/* --- signing ----------------------------------------------------------------------------- */

static int
jwt_set_str(json_t *o, const char *name, const char *v)
{
	if (v[0] == '\0')
		return 0;
	return json_object_set_new(o, name, json_string(v));
}

/* The claims of c as compact JSON in a stable order; NULL if a string is not UTF-8. */
static char *
jwt_claims_json(const struct jwt_claims *c)
{
	json_t *o = json_object();
	char *s = NULL;

	if (o == NULL || jwt_set_str(o, "iss", c->iss) == -1 ||
	    jwt_set_str(o, "sub", c->sub) == -1 || jwt_set_str(o, "aud", c->aud) == -1 ||
	    jwt_set_str(o, "type", c->type) == -1 || jwt_set_str(o, "email", c->email) == -1 ||
	    jwt_set_str(o, "name", c->name) == -1)
		goto out;
	if (c->ngroups > 0 || strcmp(c->type, "user") == 0) {
		json_t *g = json_array();

		if (json_object_set_new(o, "groups", g) == -1 || c->ngroups > JWT_MAX_GROUPS)
			goto out;
		for (size_t i = 0; i < c->ngroups; i++)
			if (json_array_append_new(g, json_string(c->groups[i])) == -1)
				goto out;
	}
	if (json_object_set_new(o, "iat", json_integer(c->iat)) == -1 ||
	    (c->nbf != 0 && json_object_set_new(o, "nbf", json_integer(c->nbf)) == -1) ||
	    json_object_set_new(o, "exp", json_integer(c->exp)) == -1 ||
	    (c->auth_time != 0 &&
	    json_object_set_new(o, "auth_time", json_integer(c->auth_time)) == -1) ||
	    jwt_set_str(o, "jti", c->jti) == -1)
		goto out;
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
	json_decref(o);
	return s;
}

/* Appends base64url of in to out at *pos, keeping room for the NUL. */
static int
jwt_append_b64(char *out, size_t outlen, size_t *pos, const void *in, size_t len)
{
	ssize_t n = util_b64url_encode(in, len, out + *pos, outlen - *pos);

	if (n < 0)
		return -1;
	*pos += (size_t)n;
	return 0;
}

int
jwt_sign(const struct jwt_keyset *ks, const struct jwt_claims *c, char *out, size_t outlen)
{
	const struct jwt_key *k = NULL;
	EVP_MD_CTX *md = NULL;
	ECDSA_SIG *sig = NULL;
	unsigned char der[80], rs[2 * JWT_COORD];
	const unsigned char *p = der;
	char *header = NULL, *claims = NULL;
	size_t pos = 0, derlen = sizeof(der);
	int ret = -1;

	for (size_t i = 0; ks != NULL && i < ks->nkeys && k == NULL; i++)
		if (ks->keys[i].signing)
			k = &ks->keys[i];
	if (k == NULL || outlen == 0)
		return -1;
	xasprintf(&header, "{\"alg\":\"ES256\",\"kid\":\"%s\",\"typ\":\"JWT\"}", k->kid);
	if ((claims = jwt_claims_json(c)) == NULL ||
	    jwt_append_b64(out, outlen, &pos, header, strlen(header)) == -1 || pos + 1 >= outlen)
		goto out;
	out[pos++] = '.';
	if (jwt_append_b64(out, outlen, &pos, claims, strlen(claims)) == -1)
		goto out;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k->pkey) != 1 ||
	    EVP_DigestSign(md, der, &derlen, (const unsigned char *)out, pos) != 1 ||
	    (sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen)) == NULL ||
	    BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, JWT_COORD) != JWT_COORD ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + JWT_COORD, JWT_COORD) != JWT_COORD) {
		log_ssl_errors("jwt_sign: ECDSA signature");
		goto out;
	}
	if (pos + 1 >= outlen)
		goto out;
	out[pos++] = '.';
	if (jwt_append_b64(out, outlen, &pos, rs, sizeof(rs)) == -1 || pos > JWT_MAX)
		goto out;
	ret = (int)pos;
out:
	if (ret == -1)
		out[0] = '\0';
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	free(header);
	free(claims);
	return ret;
}

/* --- verification ------------------------------------------------------------------------ */

/* Splits a token into its three parts; -1 unless exactly two dots. */
static int
jwt_split(const char *token, size_t len, size_t off[3], size_t plen[3])
{
	const char *d1 = memchr(token, '.', len), *d2;

	if (d1 == NULL)
		return -1;
	d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token));
	if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) != NULL)
		return -1;
	off[0] = 0;
	plen[0] = (size_t)(d1 - token);
	off[1] = plen[0] + 1;
	plen[1] = (size_t)(d2 - d1 - 1);
	off[2] = (size_t)(d2 - token) + 1;
	plen[2] = len - off[2];
	return 0;
}

/* Parses a decoded part as a JSON object with unique members. */
static json_t *
jwt_parse_object(const char *what, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *o = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);

	if (o == NULL) {
		if (json_error_code(&jerr) == json_error_duplicate_key)
			jwt_err(err, errlen, "%s has a duplicate member: %s", what, jerr.text);
		else
			jwt_err(err, errlen, "%s is not JSON: %s", what, jerr.text);
		return NULL;
	}
	if (!json_is_object(o)) {
		jwt_err(err, errlen, "%s is not a JSON object", what);
		json_decref(o);
		return NULL;
	}
	return o;
}

/* 1 if a > b, 0 if equal, -1 if less, for 32-byte big-endian numbers. */
static int
jwt_cmp32(const uint8_t *a, const uint8_t *b)
{
	int c = memcmp(a, b, JWT_COORD);

	return c > 0 ? 1 : c < 0 ? -1 : 0;
}

/* Checks the 64-byte r||s signature over signed[0..len) with key k (RFC 7518 3.4). */
static int
jwt_check_sig(const struct jwt_key *k, const char *signed_part, size_t len,
    const uint8_t rs[2 * JWT_COORD], char *err, size_t errlen)
{
	static const uint8_t zero[JWT_COORD];
	ECDSA_SIG *sig = NULL;
	BIGNUM *r = NULL, *s = NULL;
	EVP_MD_CTX *md = NULL;
	unsigned char *der = NULL;
	char ebuf[160];
	int derlen, v, ret = -1;

	for (int i = 0; i < 2; i++) {
		const uint8_t *n = rs + i * JWT_COORD;
		const char *name = i == 0 ? "r" : "s";

		if (memcmp(n, zero, JWT_COORD) == 0) {
			jwt_err(err, errlen, "bad signature: %s is zero", name);
			return -1;
		}
		if (jwt_cmp32(n, p256_order) >= 0) {
			jwt_err(err, errlen, "bad signature: %s is not below the order of P-256",
			    name);
			return -1;
		}
	}
	if ((sig = ECDSA_SIG_new()) == NULL ||
	    (r = BN_bin2bn(rs, JWT_COORD, NULL)) == NULL ||
	    (s = BN_bin2bn(rs + JWT_COORD, JWT_COORD, NULL)) == NULL ||
	    ECDSA_SIG_set0(sig, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		jwt_err(err, errlen, "cannot check the signature: %s",
		    jwt_ssl_reason(ebuf, sizeof(ebuf)));
		goto out;
	}
	if ((derlen = i2d_ECDSA_SIG(sig, &der)) <= 0 || (md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k->pkey) != 1) {
		jwt_err(err, errlen, "cannot check the signature: %s",
		    jwt_ssl_reason(ebuf, sizeof(ebuf)));
		goto out;
	}
	v = EVP_DigestVerify(md, der, (size_t)derlen, (const unsigned char *)signed_part, len);
	ERR_clear_error();
	if (v != 1) {
		jwt_err(err, errlen, "bad signature (key '%s')", k->kid);
		goto out;
	}
	ret = 0;
out:
	OPENSSL_free(der);
	EVP_MD_CTX_free(md);
	ECDSA_SIG_free(sig);
	return ret;
}

/* Copies the string claim name into dst (size dstlen): -1 with why if it is not a string or
 * too long or empty; 0 if absent (required: an error) or copied. */
static int
jwt_claim_str(json_t *c, const char *name, bool required, char *dst, size_t dstlen, char *err,
    size_t errlen)
{
	json_t *v = json_object_get(c, name);
	const char *s;

	dst[0] = '\0';
	if (v == NULL) {
		if (!required)
			return 0;
		jwt_err(err, errlen, "claim '%s' is missing", name);
		return -1;
	}
	if (!json_is_string(v)) {
		jwt_err(err, errlen, "claim '%s' is not a string", name);
		return -1;
	}
	s = json_string_value(v);
	if (json_string_length(v) != strlen(s) || s[0] == '\0') {
		jwt_err(err, errlen, "claim '%s' is empty or holds a NUL", name);
		return -1;
	}
	if (!util_strlcpy(dst, s, dstlen)) {
		jwt_err(err, errlen, "claim '%s' is longer than %zu bytes", name, dstlen - 1);
		return -1;
	}
	return 0;
}

/* An integer claim (seconds since the epoch, positive). */
static int
jwt_claim_time(json_t *c, const char *name, bool required, int64_t *dst, char *err,
    size_t errlen)
{
	json_t *v = json_object_get(c, name);

	*dst = 0;
	if (v == NULL) {
		if (!required)
			return 0;
		jwt_err(err, errlen, "claim '%s' is missing", name);
		return -1;
	}
	if (!json_is_integer(v)) {
		jwt_err(err, errlen, "claim '%s' is not an integer", name);
		return -1;
	}
	if (json_integer_value(v) <= 0 || json_integer_value(v) > INT64_MAX / 2) {
		jwt_err(err, errlen, "claim '%s' is out of range", name);
		return -1;
	}
	*dst = (int64_t)json_integer_value(v);
	return 0;
}

/* Checks the claims of a token whose signature is good, filling out. */
static int
jwt_check_claims(json_t *c, const char *iss, const char *aud, int64_t now,
    struct jwt_claims *out, char *err, size_t errlen)
{
	char q1[80], q2[80], when[32];
	json_t *a, *g;

	memset(out, 0, sizeof(*out));
	if (jwt_claim_str(c, "iss", true, out->iss, sizeof(out->iss), err, errlen) == -1 ||
	    jwt_claim_str(c, "sub", true, out->sub, sizeof(out->sub), err, errlen) == -1 ||
	    jwt_claim_str(c, "type", true, out->type, sizeof(out->type), err, errlen) == -1 ||
	    jwt_claim_str(c, "email", false, out->email, sizeof(out->email), err, errlen) == -1 ||
	    jwt_claim_str(c, "name", false, out->name, sizeof(out->name), err, errlen) == -1 ||
	    jwt_claim_str(c, "jti", false, out->jti, sizeof(out->jti), err, errlen) == -1 ||
	    jwt_claim_time(c, "exp", true, &out->exp, err, errlen) == -1 ||
	    jwt_claim_time(c, "iat", true, &out->iat, err, errlen) == -1 ||
	    jwt_claim_time(c, "nbf", false, &out->nbf, err, errlen) == -1 ||
	    jwt_claim_time(c, "auth_time", false, &out->auth_time, err, errlen) == -1)
		return -1;

	/* RFC 7519 4.1.3: aud is a string or an array of strings; ours must be in it. */
	if ((a = json_object_get(c, "aud")) == NULL) {
		jwt_err(err, errlen, "claim 'aud' is missing");
		return -1;
	}
	if (json_is_string(a)) {
		if (strcmp(json_string_value(a), aud) != 0) {
			jwt_err(err, errlen, "audience '%s' is not '%s'",
			    util_quote(json_string_value(a), q1, sizeof(q1)),
			    util_quote(aud, q2, sizeof(q2)));
			return -1;
		}
	} else if (json_is_array(a)) {
		bool found = false;

		if (json_array_size(a) == 0 || json_array_size(a) > JWT_AUD_MAX) {
			jwt_err(err, errlen, "claim 'aud' has %zu entries (1-%d allowed)",
			    json_array_size(a), JWT_AUD_MAX);
			return -1;
		}
		for (size_t i = 0; i < json_array_size(a); i++) {
			json_t *e = json_array_get(a, i);

			if (!json_is_string(e)) {
				jwt_err(err, errlen, "claim 'aud' holds something else than "
				    "strings");
				return -1;
			}
			if (strcmp(json_string_value(e), aud) == 0)
				found = true;
		}
		if (!found) {
			jwt_err(err, errlen, "audience '%s' is not among the token's %zu audiences",
			    util_quote(aud, q2, sizeof(q2)), json_array_size(a));
			return -1;
		}
	} else {
		jwt_err(err, errlen, "claim 'aud' is neither a string nor an array of strings");
		return -1;
	}
	util_strlcpy(out->aud, aud, sizeof(out->aud));

	if ((g = json_object_get(c, "groups")) != NULL) {
		if (!json_is_array(g)) {
			jwt_err(err, errlen, "claim 'groups' is not an array");
			return -1;
		}
		if (json_array_size(g) > JWT_MAX_GROUPS) {
			jwt_err(err, errlen, "claim 'groups' has more than %d entries",
			    JWT_MAX_GROUPS);
			return -1;
		}
		for (size_t i = 0; i < json_array_size(g); i++) {
			json_t *e = json_array_get(g, i);

			if (!json_is_string(e) || json_string_length(e) == 0 ||
			    json_string_length(e) != strlen(json_string_value(e)) ||
			    !util_strlcpy(out->groups[i], json_string_value(e),
			    JWT_GROUP_MAX + 1)) {
				jwt_err(err, errlen, "claim 'groups' entry %zu is not a string of "
				    "1-%d bytes", i, JWT_GROUP_MAX);
				return -1;
			}
		}
		out->ngroups = json_array_size(g);
	}

	if (strcmp(out->iss, iss) != 0) {
		jwt_err(err, errlen, "issuer '%s' is not '%s'",
		    util_quote(out->iss, q1, sizeof(q1)), util_quote(iss, q2, sizeof(q2)));
		return -1;
	}
	if (strcmp(out->type, "user") != 0 && strcmp(out->type, "service") != 0) {
		jwt_err(err, errlen, "token type '%s' is neither user nor service",
		    util_quote(out->type, q1, sizeof(q1)));
		return -1;
	}
	/* RFC 7519 4.1.4 and 4.1.5, with JWT_LEEWAY of clock skew. */
	if (now > out->exp + JWT_LEEWAY) {
		jwt_format_time(out->exp, when, sizeof(when));
		jwt_err(err, errlen, "token expired at %s", when);
		return -1;
	}
	if (out->nbf != 0 && out->nbf > now + JWT_LEEWAY) {
		jwt_format_time(out->nbf, when, sizeof(when));
		jwt_err(err, errlen, "token not valid before %s", when);
		return -1;
	}
	if (out->iat > now + JWT_LEEWAY) {
		jwt_format_time(out->iat, when, sizeof(when));
		jwt_err(err, errlen, "token issued in the future (%s)", when);
		return -1;
	}
	return 0;
}

int
jwt_verify(const struct jwt_keyset *ks, const char *token, const char *iss, const char *aud,
    int64_t now, struct jwt_claims *out, char *err, size_t errlen)
{
	struct jwt_claims tmp;
	const struct jwt_key *k;
	const char *alg, *kid, *typ;
	size_t len, off[3], plen[3], hlen, clen, slen;
	uint8_t *hbuf = NULL, *cbuf = NULL, *sbuf = NULL;
	json_t *h = NULL, *c = NULL, *v;
	const char *member;
	char q[80];
	bool bad = false;
	int ret = -1;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (ks == NULL || token == NULL || iss == NULL || aud == NULL) {
		jwt_err(err, errlen, "no token, keys, issuer or audience to check");
		return -1;
	}
	if ((len = strnlen(token, JWT_MAX + 1)) > JWT_MAX) {
		jwt_err(err, errlen, "token is longer than %d bytes", JWT_MAX);
		return -1;
	}
	if (jwt_split(token, len, off, plen) == -1) {
		jwt_err(err, errlen, "token is not three base64url parts separated by two dots");
		return -1;
	}
	if ((hbuf = jwt_part_decode("header", token + off[0], plen[0], JWT_HEADER_MAX, &hlen, err,
	    errlen)) == NULL)
		goto out;

	/* RFC 7515 4.1: the header, strictly: alg ES256, kid, typ JWT; nothing else. */
	if ((h = jwt_parse_object("header", hbuf, hlen, err, errlen)) == NULL)
		goto out;
	json_object_foreach(h, member, v) {
		if (strcmp(member, "alg") != 0 && strcmp(member, "kid") != 0 &&
		    strcmp(member, "typ") != 0) {
			jwt_err(err, errlen, "header member '%s' is not allowed (only alg, kid and "
			    "typ)", util_quote(member, q, sizeof(q)));
			goto out;
		}
	}
	alg = jwt_json_str(h, "alg", &bad);
	kid = jwt_json_str(h, "kid", &bad);
	typ = jwt_json_str(h, "typ", &bad);
	if (bad) {
		jwt_err(err, errlen, "header alg, kid and typ must be strings");
		goto out;
	}
	if (alg == NULL) {
		jwt_err(err, errlen, "header has no alg");
		goto out;
	}
	if (strcmp(alg, "ES256") != 0) {
		jwt_err(err, errlen, "algorithm '%s' is not accepted (only ES256)",
		    util_quote(alg, q, sizeof(q)));
		goto out;
	}
	if (typ != NULL && strcmp(typ, "JWT") != 0) {
		jwt_err(err, errlen, "header typ '%s' is not JWT", util_quote(typ, q, sizeof(q)));
		goto out;
	}
	if (kid == NULL) {
		jwt_err(err, errlen, "header has no kid");
		goto out;
	}
	if ((k = jwt_keyset_find(ks, kid)) == NULL) {
		jwt_err(err, errlen, "unknown key id '%s'", util_quote(kid, q, sizeof(q)));
		goto out;
	}
	if ((cbuf = jwt_part_decode("claims", token + off[1], plen[1], JWT_MAX, &clen, err,
	    errlen)) == NULL ||
	    (sbuf = jwt_part_decode("signature", token + off[2], plen[2], JWT_MAX, &slen, err,
	    errlen)) == NULL)
		goto out;
	if (slen != 2 * JWT_COORD) {
		jwt_err(err, errlen, "signature is %zu bytes, not 64 (ES256 is r||s, RFC 7518 3.4)",
		    slen);
		goto out;
	}
	if (jwt_check_sig(k, token, off[2] - 1, sbuf, err, errlen) == -1)
		goto out;

	if ((c = jwt_parse_object("claims", cbuf, clen, err, errlen)) == NULL ||
	    jwt_check_claims(c, iss, aud, now, out != NULL ? out : &tmp, err, errlen) == -1)
		goto out;
	ret = 0;
out:
	json_decref(h);
	json_decref(c);
	free(hbuf);
	free(cbuf);
	free(sbuf);
	return ret;
}

int64_t
jwt_peek_exp(const char *token)
{
	size_t len, off[3], plen[3], clen;
	uint8_t *cbuf;
	json_t *c, *e;
	int64_t exp = -1;

	if (token == NULL || (len = strnlen(token, JWT_MAX + 1)) > JWT_MAX ||
	    jwt_split(token, len, off, plen) == -1 ||
	    (cbuf = jwt_part_decode("claims", token + off[1], plen[1], JWT_MAX, &clen, NULL,
	    0)) == NULL)
		return -1;
	c = json_loadb((const char *)cbuf, clen, JSON_REJECT_DUPLICATES, NULL);
	free(cbuf);
	if (json_is_object(c) && json_is_integer(e = json_object_get(c, "exp")) &&
	    json_integer_value(e) > 0)
		exp = (int64_t)json_integer_value(e);
	json_decref(c);
	return exp;
}
