/* check_jwt: ES256 tokens: sign and verify, and the strict verifier's negative matrix (issue 7):
 * every refusal is asserted with its own reason. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "common/jwt.h"
#include "common/util.h"
#include "suites.h"

#define NOW	((int64_t)1800000000)
#define ISS	"https://edge.test:7844"
#define AUD	ISS
#define KID	"AAAAAAAAAAAAAAAAAAAAAA"
#define KID2	"BBBBBBBBBBBBBBBBBBBBBB"

static EVP_PKEY *key1, *key2;
static char pem1[1024], pem2[1024], pub1[512];
static struct jwt_keyset *ks;	/* KID (key1, signing) and KID2 (key2, public only) */
static char err[JWT_ERR_MAX];

/* --- helpers -------------------------------------------------------------------------------- */

static void
to_pem(EVP_PKEY *k, bool priv, char *out, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;

	ck_assert(priv ? PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1 :
	    PEM_write_bio_PUBKEY(b, k) == 1);
	n = BIO_get_mem_data(b, &p);
	ck_assert((size_t)n < len);
	memcpy(out, p, (size_t)n);
	out[n] = '\0';
	BIO_free(b);
}

static void
setup(void)
{
	if (key1 == NULL) {
		key1 = EVP_EC_gen("P-256");
		key2 = EVP_EC_gen("P-256");
		ck_assert(key1 != NULL && key2 != NULL);
		to_pem(key1, true, pem1, sizeof(pem1));
		to_pem(key2, true, pem2, sizeof(pem2));
		to_pem(key1, false, pub1, sizeof(pub1));
	}
	ks = jwt_keyset_new();
	ck_assert_int_eq(jwt_keyset_add_pem(ks, KID, pem1, strlen(pem1), true, err, sizeof(err)),
	    0);
	ck_assert_int_eq(jwt_keyset_add_pem(ks, KID2, pem2, strlen(pem2), false, err,
	    sizeof(err)), 0);
	err[0] = '\0';
}

static void
teardown(void)
{
	jwt_keyset_free(ks);
	ks = NULL;
}

static void
b64(const void *in, size_t len, char *out, size_t outlen)
{
	ck_assert(util_b64url_encode(in, len, out, outlen) >= 0);
}

/* A token of header and claims (JSON texts) with signature bytes sig (len slen). */
static char *
assemble(const char *header, const char *claims, const uint8_t *sig, size_t slen)
{
	static char tok[3 * JWT_MAX];
	size_t n;

	b64(header, strlen(header), tok, sizeof(tok));
	n = strlen(tok);
	tok[n++] = '.';
	b64(claims, strlen(claims), tok + n, sizeof(tok) - n);
	n = strlen(tok);
	tok[n++] = '.';
	b64(sig, slen, tok + n, sizeof(tok) - n);
	return tok;
}

/* The r||s ES256 signature of header.claims with k. */
static void
es256(EVP_PKEY *k, const char *signing_input, uint8_t rs[64], uint8_t *der, size_t *derlen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t buf[80];
	size_t len = sizeof(buf);
	const uint8_t *p = buf;
	ECDSA_SIG *sig;

	ck_assert(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) == 1);
	ck_assert(EVP_DigestSign(md, buf, &len, (const uint8_t *)signing_input,
	    strlen(signing_input)) == 1);
	EVP_MD_CTX_free(md);
	if (der != NULL) {
		memcpy(der, buf, len);
		*derlen = len;
	}
	sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
	ck_assert(sig != NULL);
	ck_assert_int_eq(BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, 32), 32);
	ck_assert_int_eq(BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + 32, 32), 32);
	ECDSA_SIG_free(sig);
}

/* header.claims signed ES256 with key1, as a token. */
static char *
signed_raw(const char *header, const char *claims)
{
	static char tok[3 * JWT_MAX];
	uint8_t rs[64];
	char *t = assemble(header, claims, (const uint8_t *)"", 0);

	util_strlcpy(tok, t, sizeof(tok));
	/* tok ends with "." (the empty signature): the signing input is what precedes it. */
	tok[strlen(tok) - 1] = '\0';
	es256(key1, tok, rs, NULL, NULL);
	tok[strlen(tok) + 1] = '\0';
	tok[strlen(tok)] = '.';
	b64(rs, sizeof(rs), tok + strlen(tok), sizeof(tok) - strlen(tok));
	return tok;
}

#define HDR	"{\"alg\":\"ES256\",\"kid\":\"" KID "\",\"typ\":\"JWT\"}"
#define CLAIMS_FMT "{\"iss\":\"" ISS "\",\"sub\":\"alice@example.com\",\"aud\":%s," \
	"\"type\":\"user\",\"email\":\"alice@example.com\",\"groups\":[\"dev\"],\"iat\":%lld," \
	"\"nbf\":%lld,\"exp\":%lld,\"jti\":\"CCCCCCCCCCCCCCCCCCCCCC\"}"

static char *
claims_text(const char *aud, int64_t nbf, int64_t exp)
{
	static char buf[1024];

	ck_assert(util_snprintf(buf, sizeof(buf), CLAIMS_FMT, aud, (long long)nbf, (long long)nbf,
	    (long long)exp));
	return buf;
}

static void
fill(struct jwt_claims *c, int64_t iat, int64_t exp)
{
	memset(c, 0, sizeof(*c));
	util_strlcpy(c->iss, ISS, sizeof(c->iss));
	util_strlcpy(c->sub, "alice@example.com", sizeof(c->sub));
	util_strlcpy(c->aud, AUD, sizeof(c->aud));
	util_strlcpy(c->type, "user", sizeof(c->type));
	util_strlcpy(c->email, "alice@example.com", sizeof(c->email));
	util_strlcpy(c->groups[0], "dev", sizeof(c->groups[0]));
	util_strlcpy(c->groups[1], "ops", sizeof(c->groups[1]));
	c->ngroups = 2;
	c->iat = c->nbf = iat;
	c->exp = exp;
	c->auth_time = iat - 10;
	jwt_random_id(c->jti);
}

/* A good token from jwt_sign. */
static char *
good(void)
{
	static char tok[JWT_MAX + 1];
	struct jwt_claims c;

	fill(&c, NOW, NOW + 300);
	ck_assert_int_gt(jwt_sign(ks, &c, tok, sizeof(tok)), 0);
	return tok;
}

/* Asserts that token is refused with a reason containing want. */
#define REFUSED(tok, want) do {							\
	err[0] = '\0';								\
	ck_assert_int_eq(jwt_verify(ks, (tok), ISS, AUD, NOW, NULL, err,		\
	    sizeof(err)), -1);							\
	ck_assert_msg(strstr(err, (want)) != NULL, "reason \"%s\", expected \"%s\"", err,	\
	    (want));								\
} while (0)

#define ACCEPTED(tok) do {							\
	err[0] = '\0';								\
	ck_assert_msg(jwt_verify(ks, (tok), ISS, AUD, NOW, NULL, err, sizeof(err)) == 0,	\
	    "refused: %s", err);						\
} while (0)

/* --- positive cases ------------------------------------------------------------------------ */

START_TEST(test_round_trip)
{
	struct jwt_claims c, out;
	char tok[JWT_MAX + 1];
	int n;

	fill(&c, NOW, NOW + 300);
	util_strlcpy(c.name, "", sizeof(c.name));
	n = jwt_sign(ks, &c, tok, sizeof(tok));
	ck_assert_int_gt(n, 0);
	ck_assert_uint_eq(strlen(tok), (size_t)n);
	ck_assert_int_eq(jwt_verify(ks, tok, ISS, AUD, NOW, &out, err, sizeof(err)), 0);
	ck_assert_str_eq(out.iss, ISS);
	ck_assert_str_eq(out.sub, "alice@example.com");
	ck_assert_str_eq(out.aud, AUD);
	ck_assert_str_eq(out.type, "user");
	ck_assert_str_eq(out.email, "alice@example.com");
	ck_assert_str_eq(out.name, "");
	ck_assert_uint_eq(out.ngroups, 2);
	ck_assert_str_eq(out.groups[1], "ops");
	ck_assert_str_eq(out.jti, c.jti);
	ck_assert_int_eq(out.iat, NOW);
	ck_assert_int_eq(out.nbf, NOW);
	ck_assert_int_eq(out.exp, NOW + 300);
	ck_assert_int_eq(out.auth_time, NOW - 10);
	ck_assert_int_eq(jwt_peek_exp(tok), NOW + 300);
	/* Stable: the same claims give the same claims part. */
	{
		char tok2[JWT_MAX + 1];

		ck_assert_int_gt(jwt_sign(ks, &c, tok2, sizeof(tok2)), 0);
		ck_assert(strncmp(tok, tok2, (size_t)(strrchr(tok, '.') - tok)) == 0);
	}
	/* A service token: no email, no groups. */
	memset(&c, 0, sizeof(c));
	util_strlcpy(c.iss, ISS, sizeof(c.iss));
	util_strlcpy(c.sub, "0123456789abcdef0123456789abcdef.access", sizeof(c.sub));
	util_strlcpy(c.aud, "db.test", sizeof(c.aud));
	util_strlcpy(c.type, "service", sizeof(c.type));
	util_strlcpy(c.name, "ci", sizeof(c.name));
	c.iat = c.nbf = NOW;
	c.exp = NOW + 60;
	ck_assert_int_gt(jwt_sign(ks, &c, tok, sizeof(tok)), 0);
	ck_assert_int_eq(jwt_verify(ks, tok, ISS, "db.test", NOW, &out, err, sizeof(err)), 0);
	ck_assert_str_eq(out.name, "ci");
	ck_assert_str_eq(out.email, "");
	ck_assert_uint_eq(out.ngroups, 0);
	/* Too small a buffer is an error, not a truncated token. */
	ck_assert_int_eq(jwt_sign(ks, &c, tok, 100), -1);
}
END_TEST

START_TEST(test_aud_array)
{
	char *t = signed_raw(HDR, claims_text("[\"other.test\",\"" AUD "\"]", NOW, NOW + 300));

	ACCEPTED(t);
	t = signed_raw(HDR, claims_text("[\"other.test\"]", NOW, NOW + 300));
	REFUSED(t, "is not among the token's 1 audiences");
	t = signed_raw(HDR, claims_text("[1]", NOW, NOW + 300));
	REFUSED(t, "claim 'aud' holds something else than strings");
	t = signed_raw(HDR, claims_text("[]", NOW, NOW + 300));
	REFUSED(t, "claim 'aud' has 0 entries");
}
END_TEST

START_TEST(test_leeway)
{
	ACCEPTED(signed_raw(HDR, claims_text("\"" AUD "\"", NOW - 400, NOW - 59)));
	ACCEPTED(signed_raw(HDR, claims_text("\"" AUD "\"", NOW - 400, NOW - 60)));
	REFUSED(signed_raw(HDR, claims_text("\"" AUD "\"", NOW - 400, NOW - 61)),
	    "token expired at 2027-01-15T07:58:59Z");
	ACCEPTED(signed_raw(HDR, claims_text("\"" AUD "\"", NOW + 59, NOW + 400)));
	REFUSED(signed_raw(HDR, claims_text("\"" AUD "\"", NOW + 61, NOW + 400)),
	    "token not valid before 2027-01-15T08:01:01Z");
}
END_TEST

START_TEST(test_jwks_round_trip)
{
	struct jwt_keyset *pub;
	char *doc, *tok = good();

	doc = jwt_keyset_to_jwks(ks);
	ck_assert_ptr_nonnull(doc);
	ck_assert_ptr_nonnull(strstr(doc, "\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\""));
	ck_assert_ptr_nonnull(strstr(doc, "\"kid\":\"" KID "\",\"alg\":\"ES256\",\"use\":\"sig\""));
	ck_assert_ptr_null(strstr(doc, "\"d\""));
	pub = jwt_keyset_from_jwks(doc, strlen(doc), err, sizeof(err));
	ck_assert_msg(pub != NULL, "%s", err);
	ck_assert_uint_eq(jwt_keyset_count(pub), 2);
	ck_assert_str_eq(jwt_keyset_kid(pub, 0), KID);
	ck_assert_str_eq(jwt_keyset_kid(pub, 1), KID2);
	ck_assert_int_eq(jwt_verify(pub, tok, ISS, AUD, NOW, NULL, err, sizeof(err)), 0);
	/* A public keyset cannot sign. */
	{
		struct jwt_claims c;
		char t[JWT_MAX + 1];

		fill(&c, NOW, NOW + 10);
		ck_assert_int_eq(jwt_sign(pub, &c, t, sizeof(t)), -1);
	}
	jwt_keyset_free(pub);
	free(doc);
}
END_TEST

START_TEST(test_retired_key_verifies)
{
	struct jwt_keyset *old = jwt_keyset_new(), *now;
	struct jwt_claims c;
	char tok[JWT_MAX + 1];

	/* Yesterday KID2 signed; today KID does, and KID2 is still published (not signing). */
	ck_assert_int_eq(jwt_keyset_add_pem(old, KID2, pem2, strlen(pem2), true, err,
	    sizeof(err)), 0);
	fill(&c, NOW, NOW + 300);
	ck_assert_int_gt(jwt_sign(old, &c, tok, sizeof(tok)), 0);
	ck_assert_ptr_nonnull(strstr(tok, "eyJhbGciOiJFUzI1NiIsImtpZCI6IkJCQkJC"));
	ACCEPTED(tok);
	/* Once unpublished, refused. */
	now = jwt_keyset_new();
	ck_assert_int_eq(jwt_keyset_add_pem(now, KID, pem1, strlen(pem1), true, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(jwt_verify(now, tok, ISS, AUD, NOW, NULL, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "unknown key id '" KID2 "'");
	jwt_keyset_free(old);
	jwt_keyset_free(now);
}
END_TEST

START_TEST(test_keyset_errors)
{
	struct jwt_keyset *k = jwt_keyset_new();
	EVP_PKEY *p384 = EVP_EC_gen("P-384");
	char pem[1024];

	ck_assert_int_eq(jwt_keyset_add_pem(k, KID, pub1, strlen(pub1), true, err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "a public key cannot sign");
	ck_assert_int_eq(jwt_keyset_add_pem(k, KID, pub1, strlen(pub1), false, err, sizeof(err)),
	    0);
	ck_assert_int_eq(jwt_keyset_add_pem(k, KID, pem1, strlen(pem1), false, err, sizeof(err)),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "appears twice"));
	ck_assert_int_eq(jwt_keyset_add_pem(k, KID2, "junk", 4, false, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a PEM private key"));
	to_pem(p384, true, pem, sizeof(pem));
	ck_assert_int_eq(jwt_keyset_add_pem(k, KID2, pem, strlen(pem), true, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not on the curve P-256"));
	ck_assert_int_eq(jwt_keyset_add_pem(k, "", pem1, strlen(pem1), true, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "is not 1-128 printable"));
	/* An encrypted key is refused without asking for a pass phrase. */
	{
		BIO *b = BIO_new(BIO_s_mem());
		char *p;
		long n;

		ck_assert(PEM_write_bio_PKCS8PrivateKey(b, key1, EVP_aes_128_cbc(), NULL, 0, NULL,
		    (void *)"secret-pass") == 1);
		n = BIO_get_mem_data(b, &p);
		ck_assert_int_eq(jwt_keyset_add_pem(k, KID2, p, (size_t)n, true, err, sizeof(err)),
		    -1);
		ck_assert_ptr_nonnull(strstr(err, "not a PEM private key"));
		BIO_free(b);
	}
	EVP_PKEY_free(p384);
	jwt_keyset_free(k);
}
END_TEST

START_TEST(test_jwks_errors)
{
	static const struct {
		const char *doc, *why;
	} bad[] = {
		{ "[]", "not an object with a \"keys\" array" },
		{ "{\"keys\":{}}", "not an object with a \"keys\" array" },
		{ "{\"keys\":[],\"keys\":[]}", "duplicate member" },
		{ "{\"keys\":[]}", "has no EC P-256 key" },
		{ "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\",\"kid\":\"r\"}]}",
		    "has no EC P-256 key" },
		{ "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"a\",\"x\":\"AA\","
		    "\"y\":\"AA\"}]}", "x and y must be 32 bytes" },
		{ "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"a\",\"x\":\""
		    "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"y\":\""
		    "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}", "is not a point of P-256" },
		{ "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":1}]}", "must be strings" },
		{ "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"a\",\"kid\":\"b\"}]}",
		    "duplicate member" },
		{ "{\"keys\":[1]}", "key 0 is not an object" },
		{ "{\"keys\":", "is not JSON" },
	};
	struct jwt_keyset *pub;
	char *doc = jwt_keyset_to_jwks(ks), *p, *twice;

	for (size_t i = 0; i < nitems(bad); i++) {
		err[0] = '\0';
		ck_assert_ptr_null(jwt_keyset_from_jwks(bad[i].doc, strlen(bad[i].doc), err,
		    sizeof(err)));
		ck_assert_msg(strstr(err, bad[i].why) != NULL, "%s: \"%s\"", bad[i].doc, err);
	}
	/* A private half is refused; the same key twice too. */
	p = strstr(doc, "\"use\":\"sig\"");
	xasprintf(&twice, "%.*s\"d\":\"AA\",%s", (int)(p - doc), doc, p);
	ck_assert_ptr_null(jwt_keyset_from_jwks(twice, strlen(twice), err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "holds a private key"));
	free(twice);
	p = strchr(doc, '[');
	xasprintf(&twice, "{\"keys\":[%.*s,%s", (int)(strchr(p, '}') - p), p + 1, p + 1);
	ck_assert_ptr_null(jwt_keyset_from_jwks(twice, strlen(twice), err, sizeof(err)));
	ck_assert_msg(strstr(err, "appears twice") != NULL, "%s", err);
	free(twice);
	/* Keys for something else are skipped, not errors. */
	xasprintf(&twice, "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-384\",\"kid\":\"x\"},"
	    "{\"kty\":\"oct\",\"k\":\"AA\"},%s", strchr(doc, '[') + 1);
	pub = jwt_keyset_from_jwks(twice, strlen(twice), err, sizeof(err));
	ck_assert_msg(pub != NULL, "%s", err);
	ck_assert_uint_eq(jwt_keyset_count(pub), 2);
	jwt_keyset_free(pub);
	free(twice);
	free(doc);
}
END_TEST

/* --- the negative matrix -------------------------------------------------------------------- */

START_TEST(test_alg_none)
{
	static const char *const spellings[] = { "none", "None", "NONE", "nOnE" };
	char hdr[128], want[128];

	for (size_t i = 0; i < nitems(spellings); i++) {
		ck_assert(util_snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"" KID
		    "\",\"typ\":\"JWT\"}", spellings[i]));
		ck_assert(util_snprintf(want, sizeof(want), "algorithm '%s' is not accepted",
		    spellings[i]));
		/* Unsigned (empty signature), and with a real ES256 signature attached. */
		REFUSED(assemble(hdr, claims_text("\"" AUD "\"", NOW, NOW + 300),
		    (const uint8_t *)"", 0), want);
		REFUSED(signed_raw(hdr, claims_text("\"" AUD "\"", NOW, NOW + 300)), want);
	}
	REFUSED(assemble("{\"kid\":\"" KID "\"}", claims_text("\"" AUD "\"", NOW, NOW + 300),
	    (const uint8_t *)"", 0), "header has no alg");
}
END_TEST

START_TEST(test_hs256_with_public_key)
{
	const char *hdr = "{\"alg\":\"HS256\",\"kid\":\"" KID "\",\"typ\":\"JWT\"}";
	char *doc = jwt_keyset_to_jwks(ks), input[2048];
	const char *secrets[] = { doc, pub1 };
	uint8_t mac[32];
	unsigned int maclen;

	for (size_t i = 0; i < nitems(secrets); i++) {
		char *t = assemble(hdr, claims_text("\"" AUD "\"", NOW, NOW + 300),
		    (const uint8_t *)"", 0);

		util_strlcpy(input, t, sizeof(input));
		input[strlen(input) - 1] = '\0';	/* drop the trailing dot */
		ck_assert_ptr_nonnull(HMAC(EVP_sha256(), secrets[i], (int)strlen(secrets[i]),
		    (const uint8_t *)input, strlen(input), mac, &maclen));
		REFUSED(assemble(hdr, claims_text("\"" AUD "\"", NOW, NOW + 300), mac, maclen),
		    "algorithm 'HS256' is not accepted (only ES256)");
	}
	free(doc);
	REFUSED(signed_raw("{\"alg\":\"ES384\",\"kid\":\"" KID "\"}",
	    claims_text("\"" AUD "\"", NOW, NOW + 300)), "algorithm 'ES384' is not accepted");
	REFUSED(signed_raw("{\"alg\":\"RS256\",\"kid\":\"" KID "\"}",
	    claims_text("\"" AUD "\"", NOW, NOW + 300)), "algorithm 'RS256' is not accepted");
}
END_TEST

START_TEST(test_header_members)
{
	static const char *const extra[] = {
		"\"jwk\":{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}",
		"\"jku\":\"https://evil.test/jwks.json\"",
		"\"x5u\":\"https://evil.test/cert.pem\"",
		"\"x5c\":[\"MIIB\"]",
		"\"crit\":[\"exp\"]",
		"\"cty\":\"JWT\"",
	};
	char hdr[256], want[128];

	for (size_t i = 0; i < nitems(extra); i++) {
		ck_assert(util_snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"kid\":\"" KID
		    "\",%s}", extra[i]));
		ck_assert(util_snprintf(want, sizeof(want), "header member '%.3s",
		    extra[i] + 1));
		REFUSED(signed_raw(hdr, claims_text("\"" AUD "\"", NOW, NOW + 300)), want);
		REFUSED(signed_raw(hdr, claims_text("\"" AUD "\"", NOW, NOW + 300)),
		    "is not allowed (only alg, kid and typ)");
	}
	/* typ is optional; if present, JWT. */
	ACCEPTED(signed_raw("{\"alg\":\"ES256\",\"kid\":\"" KID "\"}",
	    claims_text("\"" AUD "\"", NOW, NOW + 300)));
	REFUSED(signed_raw("{\"alg\":\"ES256\",\"kid\":\"" KID "\",\"typ\":\"JOSE\"}",
	    claims_text("\"" AUD "\"", NOW, NOW + 300)), "header typ 'JOSE' is not JWT");
	REFUSED(signed_raw("{\"alg\":\"ES256\"}", claims_text("\"" AUD "\"", NOW, NOW + 300)),
	    "header has no kid");
	REFUSED(signed_raw("{\"alg\":\"ES256\",\"kid\":\"nosuchkey\"}",
	    claims_text("\"" AUD "\"", NOW, NOW + 300)), "unknown key id 'nosuchkey'");
	REFUSED(signed_raw("{\"alg\":\"ES256\",\"kid\":7}", claims_text("\"" AUD "\"", NOW,
	    NOW + 300)), "header alg, kid and typ must be strings");
	REFUSED(signed_raw("[\"ES256\"]", claims_text("\"" AUD "\"", NOW, NOW + 300)),
	    "header is not a JSON object");
	REFUSED(signed_raw("{\"alg\":\"ES256\",\"kid\":\"" KID "\",\"alg\":\"ES256\"}",
	    claims_text("\"" AUD "\"", NOW, NOW + 300)), "header has a duplicate member");
}
END_TEST

START_TEST(test_claims)
{
	char c[1024];

	REFUSED(signed_raw(HDR, claims_text("\"app.test\"", NOW, NOW + 300)),
	    "audience 'app.test' is not '" AUD "'");
	REFUSED(signed_raw(HDR, "{\"iss\":\"https://evil.test\",\"sub\":\"a\",\"aud\":\"" AUD
	    "\",\"type\":\"user\",\"iat\":1800000000,\"exp\":1800000300}"),
	    "issuer 'https://evil.test' is not '" ISS "'");
	REFUSED(signed_raw(HDR, "{\"iss\":\"" ISS "\",\"sub\":\"a\",\"aud\":\"" AUD
	    "\",\"type\":\"admin\",\"iat\":1800000000,\"exp\":1800000300}"),
	    "token type 'admin' is neither user nor service");
	REFUSED(signed_raw(HDR, "{\"iss\":\"" ISS "\",\"sub\":\"a\",\"aud\":\"" AUD
	    "\",\"type\":\"user\",\"iat\":1800000000,\"exp\":\"1800000300\"}"),
	    "claim 'exp' is not an integer");
	REFUSED(signed_raw(HDR, "{\"iss\":\"" ISS "\",\"sub\":\"a\",\"aud\":\"" AUD
	    "\",\"type\":\"user\",\"iat\":1800000000,\"exp\":1800000300.0}"),
	    "claim 'exp' is not an integer");
	REFUSED(signed_raw(HDR, "{\"iss\":\"" ISS "\",\"sub\":\"a\",\"aud\":\"" AUD
	    "\",\"type\":\"user\",\"iat\":1800000000}"), "claim 'exp' is missing");
	REFUSED(signed_raw(HDR, "{\"iss\":\"" ISS "\",\"sub\":[],\"aud\":\"" AUD
	    "\",\"type\":\"user\",\"iat\":1800000000,\"exp\":1800000300}"),
	    "claim 'sub' is not a string");
	REFUSED(signed_raw(HDR, "{\"iss\":\"" ISS "\",\"sub\":\"a\",\"aud\":\"" AUD
	    "\",\"type\":\"user\",\"groups\":\"dev\",\"iat\":1800000000,\"exp\":1800000300}"),
	    "claim 'groups' is not an array");
	REFUSED(signed_raw(HDR, "{\"iss\":\"" ISS "\",\"sub\":\"a\",\"aud\":\"" AUD
	    "\",\"type\":\"user\",\"groups\":[1],\"iat\":1800000000,\"exp\":1800000300}"),
	    "claim 'groups' entry 0 is not a string");
	REFUSED(signed_raw(HDR, "{\"iss\":\"" ISS "\",\"sub\":\"a\",\"aud\":7,"
	    "\"type\":\"user\",\"iat\":1800000000,\"exp\":1800000300}"),
	    "claim 'aud' is neither a string nor an array");
	/* Duplicates: at the top level and nested. */
	ck_assert(util_snprintf(c, sizeof(c), "{\"iss\":\"" ISS "\",\"sub\":\"a\",\"aud\":\"" AUD
	    "\",\"type\":\"user\",\"iat\":1800000000,\"exp\":1800000300,\"exp\":1900000000}"));
	REFUSED(signed_raw(HDR, c), "claims has a duplicate member");
	REFUSED(signed_raw(HDR, "{\"iss\":\"" ISS "\",\"sub\":\"a\",\"aud\":\"" AUD
	    "\",\"type\":\"user\",\"iat\":1800000000,\"exp\":1800000300,\"x\":{\"a\":1,\"a\":2}}"),
	    "claims has a duplicate member");
	REFUSED(signed_raw(HDR, "{\"iss\":\"" ISS "\"} "), "claim 'sub' is missing");
	REFUSED(signed_raw(HDR, "{\"iss\":\"" ISS "\"} x"), "claims is not JSON");
	REFUSED(signed_raw(HDR, "{\"iss\":\"a\\u0000b\"}"), "claims is not JSON");
}
END_TEST

START_TEST(test_signature)
{
	char *tok = good(), t[JWT_MAX + 1], *sig, input[JWT_MAX];
	uint8_t rs[64], bad[80], der[80];
	size_t derlen;

	/* One bit flipped in the signature. */
	util_strlcpy(t, tok, sizeof(t));
	sig = strrchr(t, '.') + 1;
	ck_assert_int_eq(util_b64url_decode(sig, strlen(sig), rs, sizeof(rs)), 64);
	rs[40] ^= 0x01;
	b64(rs, 64, sig, sizeof(t) - (size_t)(sig - t));
	REFUSED(t, "bad signature (key '" KID "')");
	/* One bit flipped in the claims (as a JSON-valid change: "dev" to "deu"). */
	{
		char *hdr = HDR, *claims = claims_text("\"" AUD "\"", NOW, NOW + 300), *p;
		char *good_tok = signed_raw(hdr, claims);
		char forged[JWT_MAX + 1];

		util_strlcpy(forged, good_tok, sizeof(forged));
		p = strstr(claims, "\"dev\"");
		p[3] ^= 0x03;
		t[0] = '\0';
		util_strlcpy(t, assemble(hdr, claims, (const uint8_t *)"", 0), sizeof(t));
		util_strlcpy(t + strlen(t), strrchr(forged, '.') + 1, sizeof(t) - strlen(t));
		REFUSED(t, "bad signature");
	}

	/* r = s = 0, r or s = n, r = n + 1 (above n). */
	ck_assert(util_snprintf(input, sizeof(input), "%s", assemble(HDR,
	    claims_text("\"" AUD "\"", NOW, NOW + 300), (const uint8_t *)"", 0)));
	memset(bad, 0, sizeof(bad));
	REFUSED(assemble(HDR, claims_text("\"" AUD "\"", NOW, NOW + 300), bad, 64),
	    "bad signature: r is zero");
	input[strlen(input) - 1] = '\0';
	es256(key1, input, rs, der, &derlen);
	{
		static const uint8_t n[32] = {
			0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
			0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
			0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
		};

		memcpy(bad, n, 32);
		memcpy(bad + 32, rs + 32, 32);
		REFUSED(assemble(HDR, claims_text("\"" AUD "\"", NOW, NOW + 300), bad, 64),
		    "bad signature: r is not below the order of P-256");
		memcpy(bad, rs, 32);
		memcpy(bad + 32, n, 32);
		REFUSED(assemble(HDR, claims_text("\"" AUD "\"", NOW, NOW + 300), bad, 64),
		    "bad signature: s is not below the order of P-256");
		memset(bad + 32, 0, 32);
		REFUSED(assemble(HDR, claims_text("\"" AUD "\"", NOW, NOW + 300), bad, 64),
		    "bad signature: s is zero");
		memset(bad, 0xff, 64);
		REFUSED(assemble(HDR, claims_text("\"" AUD "\"", NOW, NOW + 300), bad, 64),
		    "bad signature: r is not below");
	}
	/* The genuine signature, for reference, is accepted. */
	ACCEPTED(assemble(HDR, claims_text("\"" AUD "\"", NOW, NOW + 300), rs, 64));
	/* Wrong lengths, and DER instead of r||s. */
	memcpy(bad, rs, 64);
	bad[64] = 0;
	REFUSED(assemble(HDR, claims_text("\"" AUD "\"", NOW, NOW + 300), bad, 63),
	    "signature is 63 bytes, not 64");
	REFUSED(assemble(HDR, claims_text("\"" AUD "\"", NOW, NOW + 300), bad, 65),
	    "signature is 65 bytes, not 64");
	ck_assert(util_snprintf(input, sizeof(input), "signature is %zu bytes, not 64", derlen));
	REFUSED(assemble(HDR, claims_text("\"" AUD "\"", NOW, NOW + 300), der, derlen), input);
	REFUSED(assemble(HDR, claims_text("\"" AUD "\"", NOW, NOW + 300), (const uint8_t *)"", 0),
	    "signature is empty");
	/* Signed by the other key of the set under this kid. */
	{
		char hdr2[] = "{\"alg\":\"ES256\",\"kid\":\"" KID2 "\",\"typ\":\"JWT\"}";
		char *t2 = signed_raw(hdr2, claims_text("\"" AUD "\"", NOW, NOW + 300));

		REFUSED(t2, "bad signature (key '" KID2 "')");
	}
}
END_TEST

START_TEST(test_base64url)
{
	char *tok = good(), t[JWT_MAX + 8], *sig;
	size_t n;
	uint8_t v;
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

	/* Padding on the signature (64 bytes: 86 characters, "==" in padded base64). */
	ck_assert(util_snprintf(t, sizeof(t), "%s==", tok));
	REFUSED(t, "signature is not canonical base64url: padding '=' is not allowed");
	/* Padding on the header. */
	{
		char *dot = strchr(tok, '.');

		ck_assert(util_snprintf(t, sizeof(t), "%.*s=%s", (int)(dot - tok), tok, dot));
		REFUSED(t, "header is not canonical base64url: padding");
	}
	/* '+' and '/' of standard base64. */
	util_strlcpy(t, tok, sizeof(t));
	sig = strrchr(t, '.') + 1;
	sig[5] = '+';
	REFUSED(t, "signature is not base64url: '+' is standard base64");
	sig[5] = '/';
	REFUSED(t, "signature is not base64url: '/' is standard base64");
	util_strlcpy(t, tok, sizeof(t));
	t[3] = '+';
	REFUSED(t, "header is not base64url: '+'");
	/* Non-zero trailing bits: 86 characters carry 516 bits for 512. */
	util_strlcpy(t, tok, sizeof(t));
	sig = strrchr(t, '.') + 1;
	n = strlen(sig);
	ck_assert_uint_eq(n, 86);
	v = (uint8_t)(strchr(alphabet, sig[n - 1]) - alphabet);
	ck_assert_int_eq(v & 0x0f, 0);
	sig[n - 1] = alphabet[v | 0x01];
	REFUSED(t, "signature is not canonical base64url: non-zero trailing bits");
	/* Whitespace. */
	util_strlcpy(t, tok, sizeof(t));
	sig = strrchr(t, '.') + 1;
	memmove(sig + 11, sig + 10, strlen(sig + 10) + 1);
	sig[10] = ' ';
	REFUSED(t, "signature is not base64url: it contains whitespace");
	sig[10] = '\n';
	REFUSED(t, "signature is not base64url: it contains whitespace");
	ck_assert(util_snprintf(t, sizeof(t), "%s\n", tok));
	REFUSED(t, "it contains whitespace");
	/* An impossible length. */
	ck_assert(util_snprintf(t, sizeof(t), "%sAAA", tok));
	REFUSED(t, "signature is not base64url: 89 characters is an impossible length");
	/* The decoder alone. */
	{
		uint8_t out[8];

		ck_assert_int_eq(jwt_b64url_decode("AQ", 2, out, sizeof(out)), 1);
		ck_assert_int_eq(jwt_b64url_decode("AR", 2, out, sizeof(out)), -1);
		ck_assert_int_eq(jwt_b64url_decode("AQ==", 4, out, sizeof(out)), -1);
		ck_assert_int_eq(jwt_b64url_decode("-_8", 3, out, sizeof(out)), 2);
		ck_assert_int_eq(jwt_b64url_decode("+/8", 3, out, sizeof(out)), -1);
		ck_assert_uint_eq(jwt_b64url_encode((const uint8_t *)"\xfb\xff", 2, t, sizeof(t)),
		    3);
		ck_assert_str_eq(t, "-_8");
		ck_assert_uint_eq(jwt_b64url_encode((const uint8_t *)"\xfb\xff", 2, t, 3), 0);
	}
}
END_TEST

START_TEST(test_structure)
{
	char *tok = good(), t[JWT_MAX + 64], *big;
	char *dot2 = strrchr(tok, '.');

	/* Two dots: missing and extra. */
	REFUSED("", "not three base64url parts separated by two dots");
	REFUSED("abc", "not three base64url parts separated by two dots");
	ck_assert(util_snprintf(t, sizeof(t), "%.*s", (int)(dot2 - tok), tok));
	REFUSED(t, "not three base64url parts separated by two dots");
	ck_assert(util_snprintf(t, sizeof(t), "%s.", tok));
	REFUSED(t, "not three base64url parts separated by two dots");
	ck_assert(util_snprintf(t, sizeof(t), "%s.AAAA", tok));
	REFUSED(t, "not three base64url parts separated by two dots");
	REFUSED("..", "header is empty");
	ck_assert(util_snprintf(t, sizeof(t), "%.*s.%s", (int)(strchr(tok, '.') - tok), tok,
	    dot2));
	REFUSED(t, "claims is empty");
	/* Over JWT_MAX, and exactly at the limit of a padded claims part. */
	big = xmalloc(JWT_MAX + 2);
	memset(big, 'A', JWT_MAX + 1);
	big[JWT_MAX + 1] = '\0';
	REFUSED(big, "token is longer than 4096 bytes");
	free(big);
	{
		/* A well-signed token of 4097 bytes is refused too (claims padded out). */
		char claims[4096], pad[3200];

		memset(pad, 'x', sizeof(pad) - 1);
		pad[sizeof(pad) - 1] = '\0';
		ck_assert(util_snprintf(claims, sizeof(claims), "{\"iss\":\"" ISS "\","
		    "\"sub\":\"a\",\"aud\":\"" AUD "\",\"type\":\"user\",\"iat\":1800000000,"
		    "\"exp\":1800000300,\"pad\":\"%s\"}", pad));
		REFUSED(signed_raw(HDR, claims), "token is longer than 4096 bytes");
	}
	ck_assert_int_eq(jwt_peek_exp("x.y"), -1);
	ck_assert_int_eq(jwt_peek_exp(t), -1);
}
END_TEST

Suite *
jwt_suite(void)
{
	Suite *s = suite_create("jwt");
	TCase *tc = tcase_create("jwt");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_aud_array);
	tcase_add_test(tc, test_leeway);
	tcase_add_test(tc, test_jwks_round_trip);
	tcase_add_test(tc, test_retired_key_verifies);
	tcase_add_test(tc, test_keyset_errors);
	tcase_add_test(tc, test_jwks_errors);
	tcase_add_test(tc, test_alg_none);
	tcase_add_test(tc, test_hs256_with_public_key);
	tcase_add_test(tc, test_header_members);
	tcase_add_test(tc, test_claims);
	tcase_add_test(tc, test_signature);
	tcase_add_test(tc, test_base64url);
	tcase_add_test(tc, test_structure);
	suite_add_tcase(s, tc);
	return s;
}
