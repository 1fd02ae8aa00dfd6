/* check_conntoken: connector tokens: the wire format, round trips and every refusal. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <openssl/evp.h>

#include "common/conntoken.h"
#include "common/util.h"
#include "suites.h"

#define PIN "sha256//QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8="

/* A token with every field: two edges, a server name, a pin. */
static void
full(struct conntoken *ct)
{
	char err[CONNTOKEN_ERR_MAX];

	memset(ct, 0, sizeof(*ct));
	ck_assert_int_eq(conntoken_add_edge(ct, "edge.example.com:7844", 0, err, sizeof(err)), 0);
	ck_assert_int_eq(conntoken_add_edge(ct, "[2001:db8::1]:443", 0, err, sizeof(err)), 0);
	util_strlcpy(ct->server_name, "edge.internal", sizeof(ct->server_name));
	for (int i = 0; i < CONNTOKEN_ID_LEN; i++)
		ct->tunnel_id[i] = (uint8_t)i;
	for (int i = 0; i < CONNTOKEN_SECRET_LEN; i++)
		ct->secret[i] = (uint8_t)(0x20 + i);
	util_strlcpy(ct->pin, PIN, sizeof(ct->pin));
}

/* Asserts that two tokens carry the same fields. */
static void
same(const struct conntoken *a, const struct conntoken *b)
{
	ck_assert_uint_eq(a->nedges, b->nedges);
	for (size_t i = 0; i < a->nedges; i++) {
		ck_assert_str_eq(a->edges[i].host, b->edges[i].host);
		ck_assert_uint_eq(a->edges[i].port, b->edges[i].port);
	}
	ck_assert_str_eq(a->server_name, b->server_name);
	ck_assert_mem_eq(a->tunnel_id, b->tunnel_id, CONNTOKEN_ID_LEN);
	ck_assert_mem_eq(a->secret, b->secret, CONNTOKEN_SECRET_LEN);
	ck_assert_str_eq(a->pin, b->pin);
}

/* Whether every byte of ct is zero (a refused or cleared token). */
static bool
wiped(const struct conntoken *ct)
{
	const uint8_t *p = (const uint8_t *)ct;

	for (size_t i = 0; i < sizeof(*ct); i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* Makes "zt1_" + base64url of bin and its checksum (a wrong one when bad_sum). */
static void
craft(const uint8_t *bin, size_t len, bool bad_sum, char *out, size_t outlen)
{
	uint8_t buf[2048], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;

	ck_assert_uint_le(len + 4, sizeof(buf));
	memcpy(buf, bin, len);
	ck_assert_int_eq(EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL), 1);
	memcpy(buf + len, md, 4);
	if (bad_sum)
		buf[len] ^= 1;
	memcpy(out, "zt1_", 4);
	ck_assert_int_ge(util_b64url_encode(buf, len + 4, out + 4, outlen - 4), 0);
}

START_TEST(test_round_trip)
{
	struct conntoken ct, back;
	char tok[CONNTOKEN_MAX + 1], tok2[CONNTOKEN_MAX + 1], err[CONNTOKEN_ERR_MAX];
	char *padded;

	full(&ct);
	ck_assert_int_eq(conntoken_encode(&ct, tok, sizeof(tok), err, sizeof(err)), 0);
	ck_assert_int_eq(strncmp(tok, "zt1_", 4), 0);
	ck_assert_int_eq(conntoken_decode(tok, &back, err, sizeof(err)), 0);
	same(&ct, &back);
	ck_assert_str_eq(back.edges[0].host, "edge.example.com");
	ck_assert_uint_eq(back.edges[0].port, 7844);
	ck_assert_str_eq(back.edges[1].host, "2001:db8::1");
	ck_assert_uint_eq(back.edges[1].port, 443);
	ck_assert_str_eq(back.pin, PIN);
	/* There is one spelling: encoding what was decoded gives the same text. */
	ck_assert_int_eq(conntoken_encode(&back, tok2, sizeof(tok2), err, sizeof(err)), 0);
	ck_assert_str_eq(tok, tok2);
	/* Spaces and line breaks around the token are ignored. */
	xasprintf(&padded, " \t\r\n%s\r\n ", tok);
	ck_assert_int_eq(conntoken_decode(padded, &back, err, sizeof(err)), 0);
	same(&ct, &back);
	free(padded);
	/* The fewest fields: one edge, no server name, no pin. */
	ct.nedges = 1;
	ct.server_name[0] = '\0';
	ct.pin[0] = '\0';
	ck_assert_int_eq(conntoken_encode(&ct, tok, sizeof(tok), err, sizeof(err)), 0);
	ck_assert_int_eq(conntoken_decode(tok, &back, err, sizeof(err)), 0);
	same(&ct, &back);
	/* An IP address as the server name. */
	util_strlcpy(ct.server_name, "192.0.2.1", sizeof(ct.server_name));
	ck_assert_int_eq(conntoken_encode(&ct, tok, sizeof(tok), err, sizeof(err)), 0);
	ck_assert_int_eq(conntoken_decode(tok, &back, err, sizeof(err)), 0);
	same(&ct, &back);
	conntoken_clear(&ct);
	conntoken_clear(&back);
	util_cleanse(tok, sizeof(tok));
}
END_TEST

START_TEST(test_wire_format)
{
	struct conntoken ct;
	uint8_t want[1 + 6 + 19 + 35 + 4], got[sizeof(want) + 8], md[EVP_MAX_MD_SIZE];
	char tok[CONNTOKEN_MAX + 1], err[CONNTOKEN_ERR_MAX];
	unsigned int mdlen;
	size_t n = 0;
	ssize_t glen;

	memset(&ct, 0, sizeof(ct));
	ck_assert_int_eq(conntoken_add_edge(&ct, "e:258", 0, err, sizeof(err)), 0);
	memset(ct.tunnel_id, 0x11, sizeof(ct.tunnel_id));
	memset(ct.secret, 0x22, sizeof(ct.secret));
	ck_assert_int_eq(conntoken_encode(&ct, tok, sizeof(tok), err, sizeof(err)), 0);
	/* version, EDGE (port 258, "e"), TUNNEL_ID, SECRET, SHA-256[0..4) */
	want[n++] = 1;
	memcpy(want + n, "\x01\x00\x03\x01\x02" "e", 6);
	n += 6;
	memcpy(want + n, "\x03\x00\x10", 3);
	memset(want + n + 3, 0x11, 16);
	n += 19;
	memcpy(want + n, "\x04\x00\x20", 3);
	memset(want + n + 3, 0x22, 32);
	n += 35;
	ck_assert_int_eq(EVP_Digest(want, n, md, &mdlen, EVP_sha256(), NULL), 1);
	memcpy(want + n, md, 4);
	n += 4;
	glen = util_b64url_decode(tok + 4, strlen(tok + 4), got, sizeof(got));
	ck_assert_int_eq(glen, (ssize_t)n);
	ck_assert_mem_eq(got, want, n);
	conntoken_clear(&ct);
}
END_TEST

START_TEST(test_add_edge)
{
	struct conntoken ct;
	char err[CONNTOKEN_ERR_MAX];

	memset(&ct, 0, sizeof(ct));
	ck_assert_int_eq(conntoken_add_edge(&ct, "edge.example.com", 7844, err, sizeof(err)), 0);
	ck_assert_uint_eq(ct.edges[0].port, 7844);
	ck_assert_int_eq(conntoken_add_edge(&ct, "2001:db8::2", 7844, err, sizeof(err)), 0);
	ck_assert_str_eq(ct.edges[1].host, "2001:db8::2");
	ck_assert_int_eq(conntoken_add_edge(&ct, "192.0.2.9:1", 0, err, sizeof(err)), 0);
	ck_assert_int_eq(conntoken_add_edge(&ct, "edge.example.com", 0, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "the port is missing"));
	ck_assert_int_eq(conntoken_add_edge(&ct, "edge.example.com:0", 0, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "is not a number from 1 to 65535"));
	ck_assert_int_eq(conntoken_add_edge(&ct, "bad_host:1", 0, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "edge address \"bad_host:1\": the host is neither a DNS name nor "
	    "an IP address");
	ck_assert_int_eq(conntoken_add_edge(&ct, "127.1:1", 0, err, sizeof(err)), -1);
	ck_assert_int_eq(conntoken_add_edge(&ct, "edge.example.com.:1", 0, err, sizeof(err)), -1);
	ck_assert_int_eq(conntoken_add_edge(&ct, "-edge.example.com:1", 0, err, sizeof(err)), -1);
	ck_assert_int_eq(conntoken_add_edge(&ct, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaa.com:1", 0, err, sizeof(err)), -1);
	ck_assert_int_eq(conntoken_add_edge(&ct, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaa.com:1", 0, err, sizeof(err)), 0);
	ct.nedges--;
	ck_assert_uint_eq(ct.nedges, 3);
	for (int i = 3; i < CONNTOKEN_EDGES_MAX; i++)
		ck_assert_int_eq(conntoken_add_edge(&ct, "e:1", 0, err, sizeof(err)), 0);
	ck_assert_int_eq(conntoken_add_edge(&ct, "e:1", 0, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "too many edge addresses: a token holds at most 8");
	ck_assert_uint_eq(ct.nedges, CONNTOKEN_EDGES_MAX);
}
END_TEST

START_TEST(test_encode_errors)
{
	struct conntoken ct;
	char tok[CONNTOKEN_MAX + 1], err[CONNTOKEN_ERR_MAX], name[CONNTOKEN_NAME_MAX + 1];

	full(&ct);
	ct.nedges = 0;
	ck_assert_int_eq(conntoken_encode(&ct, tok, sizeof(tok), err, sizeof(err)), -1);
	ck_assert_str_eq(err, "a token needs 1 to 8 edge addresses, not 0");
	ck_assert_str_eq(tok, "");
	ct.nedges = 9;
	ck_assert_int_eq(conntoken_encode(&ct, tok, sizeof(tok), err, sizeof(err)), -1);
	full(&ct);
	ct.edges[1].port = 0;
	ck_assert_int_eq(conntoken_encode(&ct, tok, sizeof(tok), err, sizeof(err)), -1);
	ck_assert_str_eq(err, "edge address 2 is not a DNS name or IP address with a port from 1 "
	    "to 65535");
	full(&ct);
	util_strlcpy(ct.edges[0].host, "a b", sizeof(ct.edges[0].host));
	ck_assert_int_eq(conntoken_encode(&ct, tok, sizeof(tok), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "edge address 1 is not"));
	full(&ct);
	memset(ct.edges[0].host, 'a', sizeof(ct.edges[0].host));
	ck_assert_int_eq(conntoken_encode(&ct, tok, sizeof(tok), err, sizeof(err)), -1);
	full(&ct);
	util_strlcpy(ct.server_name, "edge_internal", sizeof(ct.server_name));
	ck_assert_int_eq(conntoken_encode(&ct, tok, sizeof(tok), err, sizeof(err)), -1);
	ck_assert_str_eq(err, "the server name is not a DNS name or IP address");
	full(&ct);
	util_strlcpy(ct.pin, "sha1//QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8=", sizeof(ct.pin));
	ck_assert_int_eq(conntoken_encode(&ct, tok, sizeof(tok), err, sizeof(err)), -1);
	ck_assert_str_eq(err, "the CA pin is not \"sha256//\" followed by the base64 of a SHA-256 "
	    "digest (44 characters)");
	util_strlcpy(ct.pin, "sha256//QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8", sizeof(ct.pin));
	ck_assert_int_eq(conntoken_encode(&ct, tok, sizeof(tok), err, sizeof(err)), -1);
	util_strlcpy(ct.pin, "sha256//QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8==",
	    sizeof(ct.pin));
	ck_assert_int_eq(conntoken_encode(&ct, tok, sizeof(tok), err, sizeof(err)), -1);
	util_strlcpy(ct.pin, "sha256//QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl-=",
	    sizeof(ct.pin));
	ck_assert_int_eq(conntoken_encode(&ct, tok, sizeof(tok), err, sizeof(err)), -1);
	/* A buffer too small is wiped, not left with half a token. */
	full(&ct);
	memset(tok, 'x', sizeof(tok));
	ck_assert_int_eq(conntoken_encode(&ct, tok, 40, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "the output buffer is too small for the token");
	for (int i = 0; i < 40; i++)
		ck_assert_int_eq(tok[i], 0);
	/* Eight edges of 253 characters do not fit in 2048 characters. */
	memset(name, 0, sizeof(name));
	for (size_t i = 0; i < CONNTOKEN_NAME_MAX; i++)
		name[i] = i % 50 == 49 ? '.' : 'a';
	ct.nedges = CONNTOKEN_EDGES_MAX;
	for (size_t i = 0; i < ct.nedges; i++) {
		util_strlcpy(ct.edges[i].host, name, sizeof(ct.edges[i].host));
		ct.edges[i].port = 7844;
	}
	ck_assert_int_eq(conntoken_encode(&ct, tok, sizeof(tok), err, sizeof(err)), -1);
	ck_assert_str_eq(err, "the token would be longer than 2048 characters: give fewer or "
	    "shorter edge addresses");
	/* Five fit, and decode again. */
	ct.nedges = 5;
	ck_assert_int_eq(conntoken_encode(&ct, tok, sizeof(tok), err, sizeof(err)), 0);
	ck_assert_uint_le(strlen(tok), CONNTOKEN_MAX);
	conntoken_clear(&ct);
	ck_assert_int_eq(conntoken_decode(tok, &ct, err, sizeof(err)), 0);
	ck_assert_uint_eq(ct.nedges, 5);
	ck_assert_str_eq(ct.edges[4].host, name);
	conntoken_clear(&ct);
}
END_TEST

/* Writes a valid DNS name of len characters (labels of 49) into name. */
static void
make_name(char *name, size_t len)
{
	for (size_t i = 0; i < len; i++)
		name[i] = i % 50 == 49 && i + 1 < len ? '.' : 'a';
	name[len] = '\0';
}

START_TEST(test_size_limit)
{
	struct conntoken ct, back;
	char tok[CONNTOKEN_MAX + 1], err[CONNTOKEN_ERR_MAX];

	/* 1 + 4 * (5 + 253) + (5 + 146) + (3 + 253) + 19 + 35 + 35 + 4 = 1533 bytes, whose
	 * base64url is 2044 characters: with zt1_, exactly CONNTOKEN_MAX. */
	full(&ct);
	ct.nedges = 5;
	for (size_t i = 0; i < ct.nedges; i++) {
		make_name(ct.edges[i].host, i < 4 ? 253 : 146);
		ct.edges[i].port = (uint16_t)(7844 + i);
	}
	make_name(ct.server_name, 253);
	ck_assert_int_eq(conntoken_encode(&ct, tok, sizeof(tok), err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(tok), CONNTOKEN_MAX);
	ck_assert_int_eq(conntoken_decode(tok, &back, err, sizeof(err)), 0);
	same(&ct, &back);
	/* One byte more does not fit, in either direction. */
	make_name(ct.edges[4].host, 147);
	ck_assert_int_eq(conntoken_encode(&ct, tok, sizeof(tok), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "longer than 2048 characters"));
	ck_assert_int_eq(conntoken_encode(&ct, tok, CONNTOKEN_MAX, err, sizeof(err)), -1);
	conntoken_clear(&ct);
	conntoken_clear(&back);
}
END_TEST

/* Text refused before any decoding, with the exact message. */
static const struct {
	const char	*text;
	const char	*msg;
} texts[] = {
	{ "", "the token is empty" },
	{ " \r\n\t", "the token is empty" },
	{ "hello", "token is not a zt connector token (it should start with zt1_)" },
	{ "ZT1_AAAA", "token is not a zt connector token (it should start with zt1_)" },
	{ "zt1", "token is not a zt connector token (it should start with zt1_)" },
	{ "zt_AAAA", "token is not a zt connector token (it should start with zt1_)" },
	{ "zt2_AAAAAAAA", "token has the format zt2_, and this zt reads only zt1_: upgrade zt" },
	{ "zt10_AAAAAAAA", "token has the format zt10_, and this zt reads only zt1_: upgrade zt" },
	{ "eyJhIjoiYiJ9", "token is not a zt connector token (it should start with zt1_)" },
	{ "zt1_AAAA AAAA", "token is damaged: character 9 is a space or line break: copy the "
	    "token again as one line" },
	{ "zt1_AAAA\nAAAA", "token is damaged: character 9 is a space or line break: copy the "
	    "token again as one line" },
	{ "zt1_AAAA=", "token is damaged: character 9 ('=') is not base64url (A-Z, a-z, 0-9, "
	    "'-', '_')" },
	{ "zt1_AA+A", "token is damaged: character 7 ('+') is not base64url (A-Z, a-z, 0-9, "
	    "'-', '_')" },
	{ "zt1_AA/A", "token is damaged: character 7 ('/') is not base64url (A-Z, a-z, 0-9, "
	    "'-', '_')" },
	{ "zt1_A\xc3\xa9", "token is damaged: character 6 (byte 0xc3) is not base64url (A-Z, "
	    "a-z, 0-9, '-', '_')" },
	{ "zt1_", "token is damaged: it is too short (was it cut short when copied?)" },
	{ "zt1_AAAAAA", "token is damaged: it is too short (was it cut short when copied?)" },
	{ "zt1_AAAAA", "token is damaged: its length or last character is wrong (was it cut "
	    "short when copied?)" },
	{ "zt1_AAAAAAB", "token is damaged: its length or last character is wrong (was it cut "
	    "short when copied?)" },
	{ "zt1_AAAAAAAA", "token is damaged: its checksum does not match (cut short or changed "
	    "when copied? copy the whole token again)" },
};

START_TEST(test_text_errors)
{
	struct conntoken ct;
	char err[CONNTOKEN_ERR_MAX], *longtok;

	for (size_t i = 0; i < nitems(texts); i++) {
		memset(&ct, 0xa5, sizeof(ct));
		ck_assert_msg(conntoken_decode(texts[i].text, &ct, err, sizeof(err)) == -1,
		    "accepted \"%s\"", texts[i].text);
		ck_assert_msg(strcmp(err, texts[i].msg) == 0, "\"%s\": %s", texts[i].text, err);
		ck_assert(wiped(&ct));
	}
	ck_assert_int_eq(conntoken_decode(NULL, &ct, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "no token given");
	ck_assert_int_eq(conntoken_decode("hello", &ct, NULL, 0), -1);
	/* 2048 characters are read (and fail on the checksum), 2049 are too many. */
	longtok = xmalloc(CONNTOKEN_MAX + 2);
	memcpy(longtok, "zt1_", 4);
	memset(longtok + 4, 'A', CONNTOKEN_MAX - 4);
	longtok[CONNTOKEN_MAX] = '\0';
	ck_assert_int_eq(conntoken_decode(longtok, &ct, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "checksum does not match"));
	longtok[CONNTOKEN_MAX] = 'A';
	longtok[CONNTOKEN_MAX + 1] = '\0';
	ck_assert_int_eq(conntoken_decode(longtok, &ct, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "token is too long (2049 characters, at most 2048): is it a zt "
	    "connector token?");
	free(longtok);
}
END_TEST

START_TEST(test_truncated_and_flipped)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	struct conntoken ct, back;
	char tok[CONNTOKEN_MAX + 1], copy[CONNTOKEN_MAX + 1], err[CONNTOKEN_ERR_MAX];
	char secret_b64[64];
	size_t len;

	full(&ct);
	ck_assert_int_eq(conntoken_encode(&ct, tok, sizeof(tok), err, sizeof(err)), 0);
	util_b64url_encode(ct.secret, 12, secret_b64, sizeof(secret_b64));
	len = strlen(tok);
	/* Every truncation is reported as damage, and no message shows the token. */
	for (size_t cut = 4; cut < len; cut++) {
		memcpy(copy, tok, cut);
		copy[cut] = '\0';
		ck_assert_int_eq(conntoken_decode(copy, &back, err, sizeof(err)), -1);
		ck_assert_msg(strncmp(err, "token is damaged: ", 18) == 0, "cut %zu: %s", cut, err);
		ck_assert_ptr_null(strstr(err, "zt1_"));
		ck_assert_ptr_null(strstr(err, secret_b64));
		ck_assert(wiped(&back));
	}
	for (size_t cut = 0; cut < 4; cut++) {
		memcpy(copy, tok, cut);
		copy[cut] = '\0';
		ck_assert_int_eq(conntoken_decode(copy, &back, err, sizeof(err)), -1);
	}
	/* Every character changed to every other is caught (by the checksum, or for the last
	 * character by its trailing bits). */
	for (size_t i = 4; i < len; i++)
		for (const char *a = alphabet; *a != '\0'; a++) {
			if (*a == tok[i])
				continue;
			memcpy(copy, tok, len + 1);
			copy[i] = *a;
			ck_assert_msg(conntoken_decode(copy, &back, err, sizeof(err)) == -1,
			    "changed character %zu accepted", i);
			ck_assert_msg(strncmp(err, "token is damaged: ", 18) == 0, "%s", err);
		}
	/* Two characters swapped too. */
	memcpy(copy, tok, len + 1);
	copy[10] = tok[11];
	copy[11] = tok[10];
	if (tok[10] != tok[11])
		ck_assert_int_eq(conntoken_decode(copy, &back, err, sizeof(err)), -1);
	conntoken_clear(&ct);
}
END_TEST

/* Binary contents with a correct checksum, and the message each gets. */
#define ID16	"\x03\x00\x10" "0123456789abcdef"
#define SEC32	"\x04\x00\x20" "0123456789abcdef0123456789abcdef"
#define EDGE	"\x01\x00\x07\x1e\xa4" "e.com"
static const struct {
	const char	*bin;
	size_t		 len;
	const char	*msg;
} bins[] = {
#define B(s) s, sizeof(s) - 1
	{ B("\x02" EDGE ID16 SEC32), "token has version 2, and this zt reads only version 1: "
	    "upgrade zt" },
	{ B("\x00" EDGE ID16 SEC32), "token has version 0" },
	{ B("\x01"), "token is invalid: it has no edge address" },
	{ B("\x01" ID16 SEC32), "token is invalid: it has no edge address" },
	{ B("\x01" EDGE SEC32), "token is invalid: it has no tunnel id" },
	{ B("\x01" EDGE ID16), "token is invalid: it has no secret" },
	{ B("\x01" EDGE ID16 SEC32 "\x06\x00\x00"), "token is invalid: unknown field type 6 "
	    "(was it made by a newer zt?)" },
	{ B("\x01\x00\x00\x00" EDGE ID16 SEC32), "token is invalid: unknown field type 0" },
	{ B("\x01" EDGE ID16 SEC32 "\xff\x00\x00"), "unknown field type 255" },
	{ B("\x01" EDGE ID16 SEC32 "\x05"), "token is invalid: a field header is cut at byte 65" },
	{ B("\x01" EDGE ID16 SEC32 "\x05\x00"), "a field header is cut" },
	{ B("\x01" EDGE ID16 SEC32 "\x05\x00\x20" "0123"), "token is invalid: the CA pin field "
	    "at byte 65 is longer than the rest of the token" },
	{ B("\x01" EDGE ID16 "\x04\xff\xff" "x"), "the secret field at byte 30 is longer" },
	{ B("\x01" EDGE ID16 ID16 SEC32), "token is invalid: the tunnel id field appears twice" },
	{ B("\x01" EDGE ID16 SEC32 SEC32), "token is invalid: the secret field appears twice" },
	{ B("\x01" EDGE "\x02\x00\x01x\x02\x00\x01x" ID16 SEC32), "the server name field appears "
	    "twice" },
	{ B("\x01" EDGE SEC32 ID16), "token is invalid: the tunnel id field comes after the "
	    "secret field" },
	{ B("\x01" ID16 EDGE SEC32), "token is invalid: the edge address field comes after the "
	    "tunnel id field" },
	{ B("\x01" EDGE ID16 SEC32 EDGE), "the edge address field comes after the secret" },
	{ B("\x01" EDGE "\x03\x00\x0f" "0123456789abcde" SEC32), "token is invalid: the tunnel "
	    "id field has 15 bytes instead of 16" },
	{ B("\x01" EDGE ID16 "\x04\x00\x21" "0123456789abcdef0123456789abcdef0"), "the secret "
	    "field has 33 bytes instead of 32" },
	{ B("\x01" EDGE ID16 SEC32 "\x05\x00\x1f" "0123456789abcdef0123456789abcde"), "the CA "
	    "pin field has 31 bytes instead of 32" },
	{ B("\x01" "\x01\x00\x02\x1e\xa4" ID16 SEC32), "token is invalid: edge address 1 has a "
	    "bad length or a NUL byte" },
	{ B("\x01" EDGE "\x01\x00\x07\x1e\xa4" "e\0com" ID16 SEC32), "token is invalid: edge "
	    "address 2 has a bad length or a NUL byte" },
	{ B("\x01" "\x01\x00\x07\x00\x00" "e.com" ID16 SEC32), "token is invalid: edge address 1 "
	    "is not a DNS name or IP address with a port from 1 to 65535" },
	{ B("\x01" "\x01\x00\x07\x1e\xa4" "e_com" ID16 SEC32), "edge address 1 is not a DNS name" },
	{ B("\x01" "\x01\x00\x07\x1e\xa4" "127.1" ID16 SEC32), "edge address 1 is not" },
	{ B("\x01" "\x01\x00\x09\x1e\xa4" "0x7f.01" ID16 SEC32), "edge address 1 is not" },
	{ B("\x01" "\x01\x00\x0e\x1e\xa4" "[2001:db8::]" ID16 SEC32), "edge address 1 is not" },
	{ B("\x01" "\x01\x00\x0a\x1e\xa4" "e.com.\0\0" ID16 SEC32), "edge address 1 has a bad "
	    "length" },
	{ B("\x01" "\x01\x00\x08\x1e\xa4" "e.com." ID16 SEC32), "edge address 1 is not" },
	{ B("\x01" EDGE "\x02\x00\x00" ID16 SEC32), "token is invalid: the server name has a bad "
	    "length or a NUL byte" },
	{ B("\x01" EDGE "\x02\x00\x03" "a b" ID16 SEC32), "token is invalid: the server name is "
	    "not a DNS name or IP address" },
	{ B("\x01" EDGE EDGE EDGE EDGE EDGE EDGE EDGE EDGE EDGE ID16 SEC32), "token is invalid: "
	    "more than 8 edge addresses" },
#undef B
};

START_TEST(test_content_errors)
{
	struct conntoken ct;
	char tok[CONNTOKEN_MAX + 1], err[CONNTOKEN_ERR_MAX];
	static const char valid[] = "\x01" EDGE EDGE EDGE EDGE EDGE EDGE EDGE EDGE
	    "\x02\x00\x05" "e.net" ID16 SEC32 "\x05\x00\x20" "0123456789abcdef0123456789abcdef";

	for (size_t i = 0; i < nitems(bins); i++) {
		craft((const uint8_t *)bins[i].bin, bins[i].len, false, tok, sizeof(tok));
		memset(&ct, 0xa5, sizeof(ct));
		ck_assert_msg(conntoken_decode(tok, &ct, err, sizeof(err)) == -1, "case %zu "
		    "accepted", i);
		ck_assert_msg(strncmp(err, bins[i].msg, strlen(bins[i].msg)) == 0 ||
		    strstr(err, bins[i].msg) != NULL, "case %zu: %s", i, err);
		ck_assert(wiped(&ct));
	}
	/* The same contents with a correct checksum decode, with a wrong one do not. */
	craft((const uint8_t *)valid, sizeof(valid) - 1, false, tok, sizeof(tok));
	ck_assert_int_eq(conntoken_decode(tok, &ct, err, sizeof(err)), 0);
	ck_assert_uint_eq(ct.nedges, 8);
	ck_assert_str_eq(ct.edges[7].host, "e.com");
	ck_assert_uint_eq(ct.edges[7].port, 7844);
	ck_assert_str_eq(ct.server_name, "e.net");
	ck_assert_mem_eq(ct.tunnel_id, "0123456789abcdef", 16);
	ck_assert_str_eq(ct.pin, "sha256//MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=");
	craft((const uint8_t *)valid, sizeof(valid) - 1, true, tok, sizeof(tok));
	ck_assert_int_eq(conntoken_decode(tok, &ct, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "checksum does not match"));
	ck_assert(wiped(&ct));
}
END_TEST

START_TEST(test_clear)
{
	struct conntoken ct;

	full(&ct);
	ck_assert(!wiped(&ct));
	conntoken_clear(&ct);
	ck_assert(wiped(&ct));
	conntoken_clear(NULL);
}
END_TEST


Suite *
conntoken_suite(void)
{
	Suite *s = suite_create("conntoken");
	TCase *tc = tcase_create("format");
	TCase *te = tcase_create("errors");

	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_wire_format);
	tcase_add_test(tc, test_add_edge);
	tcase_add_test(tc, test_clear);
	tcase_add_test(tc, test_size_limit);
	suite_add_tcase(s, tc);
	tcase_add_test(te, test_encode_errors);
	tcase_add_test(te, test_text_errors);
	tcase_add_test(te, test_truncated_and_flipped);
	tcase_add_test(te, test_content_errors);
	suite_add_tcase(s, te);
	return s;
}
