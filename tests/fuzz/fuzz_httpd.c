/* fuzz_httpd: the request parser of the operational endpoints: no crash, results within their
 * bounds, every prefix of an accepted head asks for more, and the answer never depends on
 * bytes after the head. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/httpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct httpd_request req, again;
	const char *buf = (const char *)data;
	int r;

	if (size > 3 * HTTPD_MAX_HEAD)
		return 0;
	r = httpd_parse(buf, size, &req);
	if (r != 0 && r != -400 && r != -405 && r != -414 && r != -431 && r != -505 &&
	    (r < 0 || (size_t)r > size || r > HTTPD_MAX_HEAD))
		abort();
	if (r > 0) {
		if (strlen(req.path) > HTTPD_MAX_TARGET || req.path[0] != '/' ||
		    strchr(req.path, '?') != NULL || (req.minor != 0 && req.minor != 1) ||
		    (req.keep_alive && req.minor != 1))
			abort();
		/* The head alone gives the same answer. */
		if (httpd_parse(buf, (size_t)r, &again) != r || strcmp(again.path, req.path) != 0)
			abort();
		/* A strict prefix of a head is never a head. */
		if (httpd_parse(buf, (size_t)r - 1, &again) > 0)
			abort();
	}
	return 0;
}
