/* fuzz_conntoken: connector tokens from arbitrary text, and from arbitrary contents. */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/conntoken.h"
#include "common/util.h"

/*
 * The first byte chooses the mode: even, the rest is the token text; odd, the rest is the
 * binary contents (version and fields), to which the harness adds the right checksum and
 * the zt1_ and base64url around it, so that the field parser is reached. A token that decodes
 * must encode again to the same text (there is one spelling) and decode again to the same
 * fields; a refused one leaves the struct wiped and a message that does not show the token.
 */

#define FUZZ_MAX_INPUT	4096
#define FUZZ_B64URL \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether every byte of ct is zero. */
static bool
fuzz_wiped(const struct conntoken *ct)
{
	const uint8_t *p = (const uint8_t *)ct;

	for (size_t i = 0; i < sizeof(*ct); i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* Aborts unless a and b carry the same fields. */
static void
fuzz_same(const struct conntoken *a, const struct conntoken *b)
{
	if (a->nedges != b->nedges || a->nedges == 0 || a->nedges > CONNTOKEN_EDGES_MAX ||
	    strcmp(a->server_name, b->server_name) != 0 || strcmp(a->pin, b->pin) != 0 ||
	    memcmp(a->tunnel_id, b->tunnel_id, CONNTOKEN_ID_LEN) != 0 ||
	    memcmp(a->secret, b->secret, CONNTOKEN_SECRET_LEN) != 0)
		abort();
	for (size_t i = 0; i < a->nedges; i++)
		if (strcmp(a->edges[i].host, b->edges[i].host) != 0 ||
		    a->edges[i].port != b->edges[i].port || a->edges[i].port == 0)
			abort();
}

/* Decodes text and checks the properties above. */
static void
fuzz_decode(const char *text)
{
	struct conntoken ct, back;
	char tok[CONNTOKEN_MAX + 1], err[CONNTOKEN_ERR_MAX];
	const char *s = text + strspn(text, " \t\r\n");
	size_t len = strlen(s);

	while (len > 0 && strchr(" \t\r\n", s[len - 1]) != NULL)
		len--;
	if (conntoken_decode(text, &ct, err, sizeof(err)) != 0) {
		if (!fuzz_wiped(&ct) || err[0] == '\0')
			abort();
		/* No message shows a stretch of the token's base64url. */
		if (len >= 4 + 12 && strspn(s + 4, FUZZ_B64URL) >= 12) {
			char piece[13];

			memcpy(piece, s + 4, 12);
			piece[12] = '\0';
			if (strstr(err, piece) != NULL)
				abort();
		}
		return;
	}
	if (conntoken_encode(&ct, tok, sizeof(tok), err, sizeof(err)) != 0) {
		fprintf(stderr, "a decoded token does not encode: %s\n", err);
		abort();
	}
	if (strlen(tok) != len || strncmp(tok, s, len) != 0)
		abort();
	if (conntoken_decode(tok, &back, err, sizeof(err)) != 0)
		abort();
	fuzz_same(&ct, &back);
	conntoken_clear(&ct);
	conntoken_clear(&back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t bin[FUZZ_MAX_INPUT + 4], md[EVP_MAX_MD_SIZE];
	char text[2 * FUZZ_MAX_INPUT];
	unsigned int mdlen;
	size_t n;

	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	n = size - 1;
	if ((data[0] & 1) == 0) {
		memcpy(text, data + 1, n);
		text[n] = '\0';
	} else {
		memcpy(bin, data + 1, n);
		if (EVP_Digest(bin, n, md, &mdlen, EVP_sha256(), NULL) != 1)
			abort();
		memcpy(bin + n, md, 4);
		memcpy(text, "zt1_", 4);
		if (util_b64url_encode(bin, n + 4, text + 4, sizeof(text) - 4) < 0)
			abort();
	}
	fuzz_decode(text);
	return 0;
}
