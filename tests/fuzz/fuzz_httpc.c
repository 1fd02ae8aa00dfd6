/* fuzz_httpc: the client's response parser: no crash, results within their bounds, the
 * answer complete only when it takes every byte (nothing may follow it), and a strict prefix
 * of a complete answer asks for more. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/httpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct httpc_response r, again;
	const char *buf = (const char *)data;
	char err[HTTPC_ERR_MAX];

	if (size > HTTPC_MAX_HEAD + HTTPC_MAX_BODY + 16)
		return 0;
	for (int eof = 0; eof <= 1; eof++) {
		int ret = httpc_parse(buf, size, eof, &r, err, sizeof(err));

		if (ret < -1 || ret > 1 || (eof && ret == 0))
			abort();
		if (ret == -1 && (err[0] == '\0' || strlen(err) >= sizeof(err)))
			abort();
		if (ret != 1)
			continue;
		if (r.status < 200 || r.status > 599 || r.head_len > HTTPC_MAX_HEAD ||
		    r.body_len > HTTPC_MAX_BODY || r.head_len + r.body_len != size ||
		    strlen(r.content_type) >= sizeof(r.content_type))
			abort();
		/* A strict prefix is never complete without eof: it asks for more. */
		if (httpc_parse(buf, size - 1, false, &again, err, sizeof(err)) != 0)
			abort();
	}
	return 0;
}
