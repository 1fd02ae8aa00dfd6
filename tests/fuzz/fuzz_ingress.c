/* fuzz_ingress: ingress rules from arbitrary lines, validated and matched against names. */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ingress.h"
#include "common/util.h"

/*
 * Each line of the input is a rule ("HOSTNAME SERVICE [OPTION]") and also a name to match, as are
 * each word of it, the words with "x." in front, upper-cased or with a trailing dot, and a
 * few fixed names. For every name, the rule ingress_match returns (if any) must be the one a
 * plain reference matcher written here picks: the first whose pattern matches, on names
 * that are DNS names; its service must be exactly the service of that configured line. Every
 * rule must format to a line that reads back to the same rule, and a list that validates must
 * match every DNS name.
 */

#define FUZZ_MAX_INPUT	(16 * 1024)
#define FUZZ_MAX_LINES	256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The reference: lower-cases name without one trailing dot into out, or returns false when it
 * is not a DNS name (LDH labels of 1-63, 253 in all). */
static bool
ref_name(const char *name, char *out, size_t outlen)
{
	size_t len = strlen(name), label = 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > 253 || len >= outlen)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		out[i] = c;
		if (c == '.') {
			if (label == 0 || out[i - 1] == '-')
				return false;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
			if ((c == '-' && label == 0) || ++label > 63)
				return false;
		} else
			return false;
	}
	out[len] = '\0';
	return label > 0 && out[len - 1] != '-';
}

/* The reference: whether the rule's pattern matches a normalised name. */
static bool
ref_match(const struct ingress_rule *r, const char *name)
{
	size_t n = strlen(name), s;

	switch (r->host_kind) {
	case INGRESS_HOST_ANY:
		return strcmp(r->hostname, "*") == 0;
	case INGRESS_HOST_EXACT:
		return strcmp(r->hostname, name) == 0;
	case INGRESS_HOST_WILDCARD:
		if (strncmp(r->hostname, "*.", 2) != 0)
			abort();
		s = strlen(r->hostname + 2);
		return n > s + 1 && name[n - s - 1] == '.' &&
		    strcmp(name + n - s, r->hostname + 2) == 0;
	}
	abort();
}

/* Matches name and checks the answer against the reference. */
static void
fuzz_match(const struct ingress *ing, char *const *services, bool valid, const char *name)
{
	const struct ingress_rule *r;
	char norm[256];
	size_t index = SIZE_MAX, want = SIZE_MAX;
	bool isname;

	r = ingress_match(ing, name, &index);
	if ((isname = ref_name(name, norm, sizeof(norm))))
		for (size_t i = 0; i < ingress_count(ing) && want == SIZE_MAX; i++)
			if (ref_match(ingress_rule(ing, i), norm))
				want = i;
	if (want == SIZE_MAX) {
		if (r != NULL || (valid && isname))
			abort();
		return;
	}
	if (r == NULL || index != want || r != ingress_rule(ing, index) ||
	    strcmp(r->service, services[index]) != 0)
		abort();
}

/* Checks what holds of every parsed rule, and its formatted line. */
static void
fuzz_rule(const struct ingress_rule *r)
{
	struct ingress *again = ingress_new();
	const struct ingress_rule *b;
	char line[INGRESS_ERR_MAX], err[INGRESS_ERR_MAX];

	switch (r->service_kind) {
	case INGRESS_SVC_TCP:
		if (r->host[0] == '\0' || r->port == 0)
			abort();
		break;
	case INGRESS_SVC_UNIX:
		if (r->path[0] != '/')
			abort();
		break;
	case INGRESS_SVC_HTTP_STATUS:
		if (r->status < 100 || r->status > 599)
			abort();
		break;
	case INGRESS_SVC_HELLO:
		break;
	default:
		abort();
	}
	if (!ingress_format(r, line, sizeof(line)) ||
	    ingress_add_line(again, line, err, sizeof(err)) != 0)
		abort();
	b = ingress_rule(again, 0);
	if (strcmp(b->hostname, r->hostname) != 0 || strcmp(b->service, r->service) != 0 ||
	    b->host_kind != r->host_kind || b->service_kind != r->service_kind ||
	    strcmp(b->host, r->host) != 0 || b->port != r->port ||
	    strcmp(b->path, r->path) != 0 || b->status != r->status ||
	    b->verify_token != r->verify_token)
		abort();
	if (r->verify_token && r->service_kind == INGRESS_SVC_HTTP_STATUS)
		abort();
	ingress_free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const fixed[] = {
		"db.example.com", "DB.EXAMPLE.COM.", "example.com", "a.b.example.com", "localhost",
		"x", "", ".", "..", "*", "*.example.com", "db.example.com..", "-a.b", "a_b.c",
	};
	struct ingress *ing = ingress_new();
	char *text, *lines[FUZZ_MAX_LINES], *services[FUZZ_MAX_LINES + 1];
	char err[INGRESS_ERR_MAX], buf[600];
	size_t nlines = 0, nservices = 0;
	bool valid;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	for (char *s = text, *nl; s != NULL && nlines < FUZZ_MAX_LINES; s = nl) {
		char *copy, *w1, *w2, *rest;

		if ((nl = strchr(s, '\n')) != NULL)
			*nl++ = '\0';
		lines[nlines++] = s;
		err[0] = '\0';
		if (ingress_add_line(ing, s, err, sizeof(err)) != 0) {
			if (strncmp(err, "rule #", 6) != 0)
				abort();
			continue;
		}
		/* The service as configured: the second word of the line. */
		copy = xstrdup(s);
		if ((w1 = strtok_r(copy, " \t", &rest)) == NULL ||
		    (w2 = strtok_r(NULL, " \t", &rest)) == NULL)
			abort();
		services[nservices++] = xstrdup(w2);
		free(copy);
	}
	if (nservices != ingress_count(ing))
		abort();
	valid = ingress_validate(ing, err, sizeof(err)) == 0;
	if (valid && ingress_rule(ing, ingress_count(ing) - 1)->host_kind != INGRESS_HOST_ANY)
		abort();
	for (size_t i = 0; i < ingress_count(ing); i++)
		fuzz_rule(ingress_rule(ing, i));
	for (size_t i = 0; i < nitems(fixed); i++)
		fuzz_match(ing, services, valid, fixed[i]);
	for (size_t i = 0; i < nlines; i++) {
		char *copy = xstrdup(lines[i]), *rest, *w;

		fuzz_match(ing, services, valid, lines[i]);
		for (w = strtok_r(copy, " \t", &rest); w != NULL;
		    w = strtok_r(NULL, " \t", &rest)) {
			fuzz_match(ing, services, valid, w);
			if (util_snprintf(buf, sizeof(buf), "x.%s",
			    strncmp(w, "*.", 2) == 0 ? w + 2 : w))
				fuzz_match(ing, services, valid, buf);
			if (util_snprintf(buf, sizeof(buf), "%s.", w))
				fuzz_match(ing, services, valid, buf);
			for (char *c = w; *c != '\0'; c++)
				if (*c >= 'a' && *c <= 'z')
					*c = (char)(*c - 'a' + 'A');
			fuzz_match(ing, services, valid, w);
		}
		free(copy);
	}
	for (size_t i = 0; i < nservices; i++)
		free(services[i]);
	ingress_free(ing);
	free(text);
	return 0;
}
