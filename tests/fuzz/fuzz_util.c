/* fuzz_util: the parsers of util (base64, hex, durations, host:port) and their round trips. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A strict decoder must re-encode to exactly its input. */
static void
roundtrip(ssize_t (*dec)(const char *, size_t, void *, size_t),
    ssize_t (*enc)(const void *, size_t, char *, size_t), bool icase, const char *s, size_t len)
{
	unsigned char bin[4096];
	char text[8192];
	ssize_t n, m;

	if ((n = dec(s, len, bin, sizeof(bin))) < 0)
		return;
	m = enc(bin, (size_t)n, text, sizeof(text));
	if (m < 0 || (size_t)m != len ||
	    (icase ? strncasecmp(text, s, len) : strncmp(text, s, len)) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct util_hostport hp;
	char *s, err[256], buf[64];
	uint64_t ms, ms2;
	uint16_t port;
	long v;

	if (size < 1 || size > 4096)
		return 0;
	s = xstrndup((const char *)data + 1, size - 1);
	switch (data[0] % 6) {
	case 0:
		roundtrip(util_b64url_decode, util_b64url_encode, false, s, strlen(s));
		break;
	case 1:
		roundtrip(util_b64_decode, util_b64_encode, false, s, strlen(s));
		break;
	case 2:
		roundtrip(util_hex_decode, util_hex_encode, true, s, strlen(s));
		break;
	case 3:
		/* Formatting a parsed duration and parsing it again gives the same value. */
		if (util_parse_duration(s, &ms, err, sizeof(err)) == 0) {
			util_format_duration(ms, buf, sizeof(buf));
			if (util_parse_duration(buf, &ms2, err, sizeof(err)) != 0 || ms != ms2)
				abort();
		}
		break;
	case 4:
		if (util_parse_hostport(s, data[0] & 0x80 ? 53 : 0, &hp, err, sizeof(err)) == 0 &&
		    (hp.host[0] == '\0' || hp.port == 0))
			abort();
		break;
	case 5:
		(void)util_parse_long(s, -1000, 1000, &v);
		(void)util_parse_port(s, true, &port);
		break;
	}
	free(s);
	return 0;
}
