/* fuzz_jwt: feeds arbitrary bytes to the strict token verifier (a token as a client or an edge
 * would present it) against a fixed keyset, to jwt_peek_exp, and to the JWKS parser; and, signed
 * as the claims of a token with the fixed key, to the claims checks that only a good signature
 * reaches. What the verifier accepts must sign again into a token it accepts; what the JWKS
 * parser accepts must encode into a JWKS it accepts with the same keys. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/jwt.h"
#include "common/log.h"
#include "common/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW	((int64_t)1800000000)
#define FUZZ_ISS	"https://edge.test:7844"
#define FUZZ_AUD	FUZZ_ISS
#define FUZZ_KID	"ZnV6ei1qd3Qta2V5LTAwMQ"

/* A fixed key, so that the seed corpus (tokens signed with it) reaches the claims. Not a secret:
 * it signs nothing but test inputs. */
static const char fuzz_pem[] =
"-----BEGIN PRIVATE KEY-----\n"
"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgD3HBrmfTFJVooP1m\n"
"mjF/MvzWnnEWlIeDBroG1e3obiqhRANCAAQ4k9qJDIx3u+YL0xCu/fFKADICaDp8\n"
"9l9/CdWbk6bjpXYDA23YbPrRIlAvr8QxL1LblxG8PdIM//arrBPO43P+\n"
"-----END PRIVATE KEY-----\n";

static struct jwt_keyset *
fuzz_keyset(void)
{
	static struct jwt_keyset *ks;
	char err[JWT_ERR_MAX];

	if (ks == NULL) {
		log_set_level(LOG_LEVEL_ERROR);
		ks = jwt_keyset_new();
		if (jwt_keyset_add_pem(ks, FUZZ_KID, fuzz_pem, strlen(fuzz_pem), true, err,
		    sizeof(err)) == -1)
			abort();
	}
	return ks;
}

static void
fuzz_token(const char *tok)
{
	struct jwt_keyset *ks = fuzz_keyset();
	struct jwt_claims c, c2;
	char err[JWT_ERR_MAX], again[JWT_MAX + 1];

	memset(err, 0, sizeof(err));
	(void)jwt_peek_exp(tok);
	if (jwt_verify(ks, tok, FUZZ_ISS, FUZZ_AUD, FUZZ_NOW, &c, err, sizeof(err)) == -1) {
		if (err[0] == '\0' || strlen(err) >= sizeof(err))
			abort();	/* every refusal says why */
		return;
	}
	if (strcmp(c.iss, FUZZ_ISS) != 0 || strcmp(c.aud, FUZZ_AUD) != 0 ||
	    c.ngroups > JWT_MAX_GROUPS || FUZZ_NOW > c.exp + JWT_LEEWAY)
		abort();
	if (jwt_sign(ks, &c, again, sizeof(again)) == -1)
		return;		/* it may not fit once re-encoded */
	if (jwt_verify(ks, again, FUZZ_ISS, FUZZ_AUD, FUZZ_NOW, &c2, err, sizeof(err)) == -1 ||
	    memcmp(&c, &c2, sizeof(c)) != 0)
		abort();
}

static void
fuzz_jwks(const char *doc, size_t len)
{
	struct jwt_keyset *ks, *ks2;
	char err[JWT_ERR_MAX], *out;

	if ((ks = jwt_keyset_from_jwks(doc, len, err, sizeof(err))) == NULL)
		return;
	if ((out = jwt_keyset_to_jwks(ks)) == NULL)
		abort();
	ks2 = jwt_keyset_from_jwks(out, strlen(out), err, sizeof(err));
	if (ks2 == NULL || jwt_keyset_count(ks2) != jwt_keyset_count(ks))
		abort();
	for (size_t i = 0; i < jwt_keyset_count(ks); i++)
		if (strcmp(jwt_keyset_kid(ks, i), jwt_keyset_kid(ks2, i)) != 0)
			abort();
	free(out);
	jwt_keyset_free(ks2);
	jwt_keyset_free(ks);
}

/* The bytes as the claims of a token signed with the fixed key. */
static void
fuzz_claims(const uint8_t *data, size_t size)
{
	static const char hdr[] = "{\"alg\":\"ES256\",\"kid\":\"" FUZZ_KID "\"}";
	static EVP_PKEY *key;
	char tok[2 * JWT_MAX];	/* claims of JWT_MAX bytes fit: the verifier refuses them */
	uint8_t der[80], rs[64];
	size_t n, derlen = sizeof(der);
	const uint8_t *p = der;
	EVP_MD_CTX *md;
	ECDSA_SIG *sig;
	ssize_t m;

	if (size > JWT_MAX)
		return;
	if (key == NULL) {
		BIO *b = BIO_new_mem_buf(fuzz_pem, -1);

		key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
		BIO_free(b);
		if (key == NULL)
			abort();
	}
	if ((m = util_b64url_encode(hdr, strlen(hdr), tok, sizeof(tok))) < 0)
		abort();
	n = (size_t)m;
	tok[n++] = '.';
	if ((m = util_b64url_encode(data, size, tok + n, sizeof(tok) - n)) < 0)
		return;
	n += (size_t)m;
	md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, der, &derlen, (const uint8_t *)tok, n) != 1 ||
	    (sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen)) == NULL)
		abort();
	EVP_MD_CTX_free(md);
	if (BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, 32) != 32 ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + 32, 32) != 32)
		abort();
	ECDSA_SIG_free(sig);
	tok[n++] = '.';
	if (util_b64url_encode(rs, sizeof(rs), tok + n, sizeof(tok) - n) < 0)
		abort();
	fuzz_token(tok);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size > 2 * JWT_JWKS_MAX)
		return 0;
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	fuzz_token(s);
	fuzz_jwks(s, size);
	fuzz_claims(data, size);
	free(s);
	return 0;
}
