/* fuzz_httpd: the request parser of the HTTP server: no crash, results within their bounds,
 * every prefix of an accepted head asks for more, and the answer never depends on bytes after
 * the head; the form decoder and the cookie parser on the same input: no crash, every
 * decoded field within its bounds, no duplicate names. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/httpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct httpd_form form;

/* The form decoder and cookie parser: invariants of what they accept. */
static void
fuzz_form_cookie(const char *buf, size_t size)
{
	char err[256], out[64];
	int r;

	if (httpd_form_parse(buf, size, &form, err, sizeof(err)) == 0) {
		if (form.n > HTTPD_FORM_MAX)
			abort();
		for (size_t i = 0; i < form.n; i++) {
			if (form.names[i][0] == '\0' || strlen(form.values[i]) > size)
				abort();
			for (size_t k = 0; k < i; k++)
				if (strcmp(form.names[k], form.names[i]) == 0)
					abort();
			if (httpd_form_get(&form, form.names[i]) != form.values[i])
				abort();
		}
	}
	r = httpd_cookie(buf, size, "__Host-zt_session", out, sizeof(out));
	if (r < -1 || r > 1 || (r == 1 && strlen(out) >= sizeof(out)))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct httpd_request req, again;
	const char *buf = (const char *)data;
	int r;

	if (size > 3 * HTTPD_MAX_HEAD)
		return 0;
	fuzz_form_cookie(buf, size);
	r = httpd_parse(buf, size, &req);
	if (r != 0 && r != -400 && r != -405 && r != -413 && r != -414 && r != -417 &&
	    r != -431 && r != -505 && (r < 0 || (size_t)r > size ||
	    r > HTTPD_MAX_HEAD))
		abort();
	if (r > 0) {
		if (strlen(req.path) > HTTPD_MAX_TARGET || req.path[0] != '/' ||
		    strchr(req.path, '?') != NULL || strlen(req.query) >= HTTPD_MAX_TARGET ||
		    (req.minor != 0 && req.minor != 1) || (req.keep_alive && req.minor != 1) ||
		    req.content_length > HTTPD_MAX_BODY || (!req.post && req.content_length > 0) ||
		    (req.head && req.post) || req.nfields > HTTPD_MAX_HEADERS)
			abort();
		for (size_t i = 0; i < req.nfields; i++)
			if (req.fields[i].name < buf || req.fields[i].value + req.fields[i].valuelen >
			    buf + r)
				abort();
		/* The head alone gives the same answer. */
		if (httpd_parse(buf, (size_t)r, &again) != r || strcmp(again.path, req.path) != 0 ||
		    strcmp(again.query, req.query) != 0 ||
		    again.content_length != req.content_length)
			abort();
		/* A strict prefix of a head is never a head. */
		if (httpd_parse(buf, (size_t)r - 1, &again) > 0)
			abort();
	}
	return 0;
}
