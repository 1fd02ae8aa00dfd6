/* conntoken: the connector token that zt tunnel create prints and zt tunnel run --token reads. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "conntoken.h"
#include "util.h"

#define CONNTOKEN_VERSION	1
#define CONNTOKEN_SUM_LEN	4
#define CONNTOKEN_PREFIX_LEN	(sizeof(CONNTOKEN_PREFIX) - 1)
/* The most bytes CONNTOKEN_MAX characters of base64url carry. */
#define CONNTOKEN_BIN_MAX	((CONNTOKEN_MAX - CONNTOKEN_PREFIX_LEN) / 4 * 3)
#define CONNTOKEN_PIN_PREFIX	"sha256//"
#define CONNTOKEN_PIN_LEN	32
#define CONNTOKEN_PIN_B64_LEN	44
#define CONNTOKEN_CUT		"was it cut short when copied?"

enum conntoken_type {
	CONNTOKEN_EDGE = 1,
	CONNTOKEN_SERVER_NAME,
	CONNTOKEN_TUNNEL_ID,
	CONNTOKEN_SECRET,
	CONNTOKEN_PIN,
};

static const char *const conntoken_field_names[] = {
	[CONNTOKEN_EDGE] = "edge address",
	[CONNTOKEN_SERVER_NAME] = "server name",
	[CONNTOKEN_TUNNEL_ID] = "tunnel id",
	[CONNTOKEN_SECRET] = "secret",
	[CONNTOKEN_PIN] = "CA pin",
};

/* Writes the formatted message into err, if there is one. */
static void __attribute__((format(printf, 3, 4)))
conntoken_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool
conntoken_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Whether s is a DNS host name (LDH labels of 1-63, 253 in all, no trailing dot) or an IP
 * address in its usual form (dotted-quad IPv4, IPv6 without brackets). */
static bool
conntoken_host_ok(const char *s)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, s, &a4) == 1 || inet_pton(AF_INET6, s, &a6) == 1)
		return true;
	/* "127.1" and "0x7f.0.0.1" would be dialled as addresses: not names. */
	return strlen(s) <= CONNTOKEN_NAME_MAX && inet_aton(s, &a4) == 0 && util_host_name(s);
}

/* The first CONNTOKEN_SUM_LEN bytes of SHA-256 of data into sum. */
static int
conntoken_sum(const uint8_t *data, size_t len, uint8_t sum[CONNTOKEN_SUM_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen < CONNTOKEN_SUM_LEN)
		return -1;
	memcpy(sum, md, CONNTOKEN_SUM_LEN);
	return 0;
}

/* Parses an edge address as util_parse_hostport does and appends it, refusing odd hosts. */
int
conntoken_add_edge(struct conntoken *ct, const char *hostport, uint16_t default_port, char *err,
    size_t errlen)
{
	struct util_hostport hp;
	char e[512];

	if (ct->nedges >= CONNTOKEN_EDGES_MAX) {
		conntoken_err(err, errlen, "too many edge addresses: a token holds at most %d",
		    CONNTOKEN_EDGES_MAX);
		return -1;
	}
	if (util_parse_hostport(hostport, default_port, &hp, e, sizeof(e)) == -1) {
		conntoken_err(err, errlen, "%s", e);
		return -1;
	}
	if (!conntoken_host_ok(hp.host)) {
		conntoken_err(err, errlen, "edge address \"%.*s\": the host is neither a DNS name "
		    "nor an IP address", 300, hostport);
		return -1;
	}
	util_strlcpy(ct->edges[ct->nedges].host, hp.host, sizeof(ct->edges[0].host));
	ct->edges[ct->nedges++].port = hp.port;
	return 0;
}

/* Appends a field to buf (of size CONNTOKEN_BIN_MAX, used *pos); false if it does not fit. */
static bool
conntoken_put(uint8_t *buf, size_t *pos, enum conntoken_type type, const void *a, size_t alen,
    const void *b, size_t blen)
{
	size_t len = alen + blen;

	if (len > UINT16_MAX || CONNTOKEN_BIN_MAX - *pos < 3 + len)
		return false;
	buf[(*pos)++] = (uint8_t)type;
	buf[(*pos)++] = (uint8_t)(len >> 8);
	buf[(*pos)++] = (uint8_t)len;
	if (alen > 0)
		memcpy(buf + *pos, a, alen);
	if (blen > 0)
		memcpy(buf + *pos + alen, b, blen);
	*pos += len;
	return true;
}

/* Checks ct's fields as conntoken_decode would; the pin's digest goes into pin. */
static int
conntoken_check(const struct conntoken *ct, uint8_t pin[CONNTOKEN_PIN_LEN], char *err,
    size_t errlen)
{
	size_t plen = sizeof(CONNTOKEN_PIN_PREFIX) - 1;

	if (ct->nedges == 0 || ct->nedges > CONNTOKEN_EDGES_MAX) {
		conntoken_err(err, errlen, "a token needs 1 to %d edge addresses, not %zu",
		    CONNTOKEN_EDGES_MAX, ct->nedges);
		return -1;
	}
	for (size_t i = 0; i < ct->nedges; i++)
		if (memchr(ct->edges[i].host, '\0', sizeof(ct->edges[i].host)) == NULL ||
		    !conntoken_host_ok(ct->edges[i].host) || ct->edges[i].port == 0) {
			conntoken_err(err, errlen, "edge address %zu is not a DNS name or IP "
			    "address with a port from 1 to 65535", i + 1);
			return -1;
		}
	if (memchr(ct->server_name, '\0', sizeof(ct->server_name)) == NULL ||
	    (ct->server_name[0] != '\0' && !conntoken_host_ok(ct->server_name))) {
		conntoken_err(err, errlen, "the server name is not a DNS name or IP address");
		return -1;
	}
	if (memchr(ct->pin, '\0', sizeof(ct->pin)) == NULL ||
	    (ct->pin[0] != '\0' && (strncmp(ct->pin, CONNTOKEN_PIN_PREFIX, plen) != 0 ||
	    strlen(ct->pin + plen) != CONNTOKEN_PIN_B64_LEN ||
	    util_b64_decode(ct->pin + plen, CONNTOKEN_PIN_B64_LEN, pin, CONNTOKEN_PIN_LEN) !=
	    CONNTOKEN_PIN_LEN))) {
		conntoken_err(err, errlen, "the CA pin is not \"sha256//\" followed by the base64 "
		    "of a SHA-256 digest (%d characters)", CONNTOKEN_PIN_B64_LEN);
		return -1;
	}
	return 0;
}

/* Builds the binary token, checksum included, and writes it as zt1_ and base64url. */
int
conntoken_encode(const struct conntoken *ct, char *out, size_t outlen, char *err, size_t errlen)
{
	uint8_t bin[CONNTOKEN_BIN_MAX], pin[CONNTOKEN_PIN_LEN];
	size_t pos = 0;
	bool fit = true;
	int ret = -1;

	if (outlen > 0)
		out[0] = '\0';
	if (conntoken_check(ct, pin, err, errlen) == -1)
		goto out;
	bin[pos++] = CONNTOKEN_VERSION;
	for (size_t i = 0; i < ct->nedges; i++) {
		uint8_t port[2] = { (uint8_t)(ct->edges[i].port >> 8), (uint8_t)ct->edges[i].port };

		fit = fit && conntoken_put(bin, &pos, CONNTOKEN_EDGE, port, sizeof(port),
		    ct->edges[i].host, strlen(ct->edges[i].host));
	}
	if (ct->server_name[0] != '\0')
		fit = fit && conntoken_put(bin, &pos, CONNTOKEN_SERVER_NAME, ct->server_name,
		    strlen(ct->server_name), NULL, 0);
	fit = fit && conntoken_put(bin, &pos, CONNTOKEN_TUNNEL_ID, ct->tunnel_id,
	    CONNTOKEN_ID_LEN, NULL, 0);
	fit = fit && conntoken_put(bin, &pos, CONNTOKEN_SECRET, ct->secret, CONNTOKEN_SECRET_LEN,
	    NULL, 0);
	if (ct->pin[0] != '\0')
		fit = fit && conntoken_put(bin, &pos, CONNTOKEN_PIN, pin, CONNTOKEN_PIN_LEN, NULL,
		    0);
	if (!fit || CONNTOKEN_BIN_MAX - pos < CONNTOKEN_SUM_LEN) {
		conntoken_err(err, errlen, "the token would be longer than %d characters: give "
		    "fewer or shorter edge addresses", CONNTOKEN_MAX);
		goto out;
	}
	if (conntoken_sum(bin, pos, bin + pos) == -1) {
		conntoken_err(err, errlen, "cannot compute SHA-256 for the token's checksum");
		goto out;
	}
	pos += CONNTOKEN_SUM_LEN;
	if (outlen < CONNTOKEN_PREFIX_LEN + 1 ||
	    util_b64url_encode(bin, pos, out + CONNTOKEN_PREFIX_LEN,
	    outlen - CONNTOKEN_PREFIX_LEN) < 0) {
		conntoken_err(err, errlen, "the output buffer is too small for the token");
		goto out;
	}
	memcpy(out, CONNTOKEN_PREFIX, CONNTOKEN_PREFIX_LEN);
	ret = 0;
out:
	if (ret == -1)
		util_cleanse(out, outlen);
	util_cleanse(bin, sizeof(bin));
	return ret;
}

/* Whether c is a character of the base64url alphabet. */
static bool
conntoken_b64url_char(char c)
{
	return conntoken_alnum(c) || c == '-' || c == '_';
}

/* Checks the text around the base64url and returns where it starts and how long it is. */
static int
conntoken_text(const char *text, const char **b64, size_t *b64len, char *err, size_t errlen)
{
	static const char space[] = " \t\r\n";
	const char *s;
	size_t len, digits;

	if (text == NULL) {
		conntoken_err(err, errlen, "no token given");
		return -1;
	}
	s = text + strspn(text, space);
	len = strlen(s);
	while (len > 0 && strchr(space, s[len - 1]) != NULL)
		len--;
	if (len == 0) {
		conntoken_err(err, errlen, "the token is empty");
		return -1;
	}
	if (len < CONNTOKEN_PREFIX_LEN || strncmp(s, CONNTOKEN_PREFIX, CONNTOKEN_PREFIX_LEN) != 0) {
		digits = len > 2 ? strspn(s + 2, "0123456789") : 0;
		if (strncmp(s, "zt", 2) == 0 && digits > 0 && digits < 4 && s[2 + digits] == '_')
			conntoken_err(err, errlen, "token has the format zt%.*s_, and this zt "
			    "reads only zt1_: upgrade zt", (int)digits, s + 2);
		else
			conntoken_err(err, errlen, "token is not a zt connector token (it should "
			    "start with " CONNTOKEN_PREFIX ")");
		return -1;
	}
	if (len > CONNTOKEN_MAX) {
		conntoken_err(err, errlen, "token is too long (%zu characters, at most %d): is it "
		    "a zt connector token?", len, CONNTOKEN_MAX);
		return -1;
	}
	for (size_t i = CONNTOKEN_PREFIX_LEN; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (conntoken_b64url_char(s[i]))
			continue;
		if (strchr(space, c) != NULL)
			conntoken_err(err, errlen, "token is damaged: character %zu is a space or "
			    "line break: copy the token again as one line", i + 1);
		else if (c > 0x20 && c < 0x7f)
			conntoken_err(err, errlen, "token is damaged: character %zu ('%c') is not "
			    "base64url (A-Z, a-z, 0-9, '-', '_')", i + 1, c);
		else
			conntoken_err(err, errlen, "token is damaged: character %zu (byte 0x%02x) "
			    "is not base64url (A-Z, a-z, 0-9, '-', '_')", i + 1, c);
		return -1;
	}
	*b64 = s + CONNTOKEN_PREFIX_LEN;
	*b64len = len - CONNTOKEN_PREFIX_LEN;
	return 0;
}

/* Reads an EDGE value into the next edge of ct. */
static int
conntoken_edge(const uint8_t *v, size_t len, struct conntoken *ct, char *err, size_t errlen)
{
	struct conntoken_edge *e;

	if (ct->nedges == CONNTOKEN_EDGES_MAX) {
		conntoken_err(err, errlen, "token is invalid: more than %d edge addresses",
		    CONNTOKEN_EDGES_MAX);
		return -1;
	}
	e = &ct->edges[ct->nedges];
	if (len < 3 || len > 2 + CONNTOKEN_NAME_MAX || memchr(v + 2, '\0', len - 2) != NULL) {
		conntoken_err(err, errlen, "token is invalid: edge address %zu has a bad length "
		    "or a NUL byte", ct->nedges + 1);
		return -1;
	}
	e->port = (uint16_t)(v[0] << 8 | v[1]);
	memcpy(e->host, v + 2, len - 2);
	e->host[len - 2] = '\0';
	if (e->port == 0 || !conntoken_host_ok(e->host)) {
		conntoken_err(err, errlen, "token is invalid: edge address %zu is not a DNS name "
		    "or IP address with a port from 1 to 65535", ct->nedges + 1);
		return -1;
	}
	ct->nedges++;
	return 0;
}

/* Reads the value of one field (its type known and in order) into ct. */
static int
conntoken_field(unsigned int type, const uint8_t *v, size_t len, struct conntoken *ct,
    char *err, size_t errlen)
{
	size_t want, plen = sizeof(CONNTOKEN_PIN_PREFIX) - 1;

	switch (type) {
	case CONNTOKEN_EDGE:
		return conntoken_edge(v, len, ct, err, errlen);
	case CONNTOKEN_SERVER_NAME:
		if (len == 0 || len > CONNTOKEN_NAME_MAX || memchr(v, '\0', len) != NULL) {
			conntoken_err(err, errlen, "token is invalid: the server name has a bad "
			    "length or a NUL byte");
			return -1;
		}
		memcpy(ct->server_name, v, len);
		ct->server_name[len] = '\0';
		if (!conntoken_host_ok(ct->server_name)) {
			conntoken_err(err, errlen, "token is invalid: the server name is not a DNS "
			    "name or IP address");
			return -1;
		}
		return 0;
	}
	want = type == CONNTOKEN_TUNNEL_ID ? CONNTOKEN_ID_LEN :
	    type == CONNTOKEN_SECRET ? CONNTOKEN_SECRET_LEN : CONNTOKEN_PIN_LEN;
	if (len != want) {
		conntoken_err(err, errlen, "token is invalid: the %s field has %zu bytes instead "
		    "of %zu", conntoken_field_names[type], len, want);
		return -1;
	}
	if (type == CONNTOKEN_TUNNEL_ID)
		memcpy(ct->tunnel_id, v, len);
	else if (type == CONNTOKEN_SECRET)
		memcpy(ct->secret, v, len);
	else {
		memcpy(ct->pin, CONNTOKEN_PIN_PREFIX, plen);
		util_b64_encode(v, len, ct->pin + plen, sizeof(ct->pin) - plen);
	}
	return 0;
}

/* Reads the fields of bin[1..len) into ct, checking their order and that none is missing. */
static int
conntoken_fields(const uint8_t *bin, size_t len, struct conntoken *ct, char *err, size_t errlen)
{
	bool seen[CONNTOKEN_PIN + 1] = { false };
	unsigned int type, last = 0;
	size_t pos = 1, flen;

	for (; pos < len; pos += 3 + flen) {
		if (len - pos < 3) {
			conntoken_err(err, errlen, "token is invalid: a field header is cut at "
			    "byte %zu", pos);
			return -1;
		}
		type = bin[pos];
		flen = (size_t)bin[pos + 1] << 8 | bin[pos + 2];
		if (type < CONNTOKEN_EDGE || type > CONNTOKEN_PIN) {
			conntoken_err(err, errlen, "token is invalid: unknown field type %u (was "
			    "it made by a newer zt?)", type);
			return -1;
		}
		if (flen > len - pos - 3) {
			conntoken_err(err, errlen, "token is invalid: the %s field at byte %zu is "
			    "longer than the rest of the token", conntoken_field_names[type], pos);
			return -1;
		}
		if (type == last && type != CONNTOKEN_EDGE) {
			conntoken_err(err, errlen, "token is invalid: the %s field appears twice",
			    conntoken_field_names[type]);
			return -1;
		}
		if (type < last) {
			conntoken_err(err, errlen, "token is invalid: the %s field comes after the "
			    "%s field", conntoken_field_names[type], conntoken_field_names[last]);
			return -1;
		}
		if (conntoken_field(type, bin + pos + 3, flen, ct, err, errlen) == -1)
			return -1;
		seen[type] = true;
		last = type;
	}
	for (type = CONNTOKEN_EDGE; type <= CONNTOKEN_SECRET; type++)
		if (!seen[type] && type != CONNTOKEN_SERVER_NAME) {
			conntoken_err(err, errlen, "token is invalid: it has no %s",
			    conntoken_field_names[type]);
			return -1;
		}
	return 0;
}

/* Decodes base64url, verifies the checksum and the version, then reads the fields. */
int
conntoken_decode(const char *text, struct conntoken *ct, char *err, size_t errlen)
{
	uint8_t bin[CONNTOKEN_BIN_MAX], sum[CONNTOKEN_SUM_LEN];
	const char *b64;
	size_t b64len, len;
	ssize_t n;
	int ret = -1;

	memset(ct, 0, sizeof(*ct));
	if (conntoken_text(text, &b64, &b64len, err, errlen) == -1)
		goto out;
	if (b64len % 4 == 1 || (n = util_b64url_decode(b64, b64len, bin, sizeof(bin))) < 0) {
		conntoken_err(err, errlen, "token is damaged: its length or last character is "
		    "wrong (" CONNTOKEN_CUT ")");
		goto out;
	}
	len = (size_t)n;
	if (len < 1 + CONNTOKEN_SUM_LEN) {
		conntoken_err(err, errlen, "token is damaged: it is too short (" CONNTOKEN_CUT ")");
		goto out;
	}
	len -= CONNTOKEN_SUM_LEN;
	if (conntoken_sum(bin, len, sum) == -1) {
		conntoken_err(err, errlen, "cannot compute SHA-256 to verify the token");
		goto out;
	}
	if (!util_ct_equal(sum, bin + len, CONNTOKEN_SUM_LEN)) {
		conntoken_err(err, errlen, "token is damaged: its checksum does not match (cut "
		    "short or changed when copied? copy the whole token again)");
		goto out;
	}
	if (bin[0] != CONNTOKEN_VERSION) {
		conntoken_err(err, errlen, "token has version %u, and this zt reads only version "
		    "%d: upgrade zt", bin[0], CONNTOKEN_VERSION);
		goto out;
	}
	if (conntoken_fields(bin, len, ct, err, errlen) == -1)
		goto out;
	ret = 0;
out:
	if (ret == -1)
		conntoken_clear(ct);
	util_cleanse(bin, sizeof(bin));
	return ret;
}

void
conntoken_clear(struct conntoken *ct)
{
	if (ct != NULL)
		util_cleanse(ct, sizeof(*ct));
}
