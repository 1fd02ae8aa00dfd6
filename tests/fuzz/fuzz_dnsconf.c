/* fuzz_dnsconf: the dnsmasq configuration reader on arbitrary files and command lines. */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dnsconf.h"
#include "common/log.h"
#include "common/util.h"

/*
 * The first byte chooses the mode: even, the rest is a configuration file; odd, the
 * rest is a command line, one argument per line. Files are never opened (no_files),
 * so conf-file=, conf-dir=, -C and domain=# cannot reach the filesystem. A
 * configuration that loads is dumped and the dump must load again to the same
 * shape (unless escaping made a dumped line longer than 1024 bytes).
 */

#define FUZZ_MAX_INPUT	(64 * 1024)
#define FUZZ_MAX_ARGS	128

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct dnsconf_flag fuzz_flags[] = {
	{ "test", 0, false },
	{ "log-level", 0, true },
	{ "log-format", 'F', true },
	{ NULL, 0, false },
};

/* Logs go to memory: the target may log anything, and nothing is written anywhere. */
static void
fuzz_init(void)
{
	static bool done;
	static char *buf;
	static size_t len;
	FILE *fp;

	if (done)
		return;
	done = true;
	log_init("fuzz-dnsconf", LOG_LEVEL_ERROR, LOG_FORMAT_TEXT);
	if ((fp = open_memstream(&buf, &len)) != NULL)
		log_set_output(fp);
}

/* Dumps conf and reads the dump back; the shape must survive. */
static void
fuzz_roundtrip(const struct dnsconf *conf)
{
	struct dnsconf_params p;
	struct dnsconf *again = NULL;
	char *dump = NULL;
	size_t len = 0;
	FILE *fp;

	if ((fp = open_memstream(&dump, &len)) == NULL)
		return;
	dnsconf_dump(conf, fp);
	fclose(fp);
	/* Escapes can make a value that filled a line longer than a line may be. */
	for (const char *l = dump; *l != '\0'; ) {
		size_t n = strcspn(l, "\n");

		if (n > 1024)
			goto done;
		l += n + (l[n] != '\0');
	}
	memset(&p, 0, sizeof(p));
	p.no_files = true;
	if (dnsconf_load_buffer(&p, "dump", dump, len, &again) == -1) {
		fprintf(stderr, "dump does not load again:\n%s\n", dump);
		abort();
	}
	if (again->nrules != conf->nrules || again->ncnames != conf->ncnames ||
	    again->ntxts != conf->ntxts || again->nsrvs != conf->nsrvs ||
	    again->nmxs != conf->nmxs || again->nptrs != conf->nptrs ||
	    again->nhost_records != conf->nhost_records || again->port != conf->port ||
	    again->cache_size != conf->cache_size) {
		fprintf(stderr, "dump loads to another configuration:\n%s\n", dump);
		abort();
	}
	for (size_t i = 0; i < conf->ntxts; i++)
		if (again->txts[i].rdlen != conf->txts[i].rdlen ||
		    memcmp(again->txts[i].rdata, conf->txts[i].rdata, conf->txts[i].rdlen) != 0) {
			fprintf(stderr, "TXT %zu changed in:\n%s\n", i, dump);
			abort();
		}
	for (size_t i = 0; i < conf->nrules; i++)
		if (again->rules[i].action != conf->rules[i].action ||
		    again->rules[i].wildcard != conf->rules[i].wildcard ||
		    again->rules[i].nodots != conf->rules[i].nodots ||
		    strcmp(again->rules[i].domain, conf->rules[i].domain) != 0) {
			fprintf(stderr, "rule %zu changed in:\n%s\n", i, dump);
			abort();
		}
done:
	dnsconf_free(again);
	free(dump);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dnsconf_params p;
	struct dnsconf *conf = NULL;
	char *text, *argv[FUZZ_MAX_ARGS + 2];
	int argc = 0, rc;

	fuzz_init();
	if (size == 0 || size > FUZZ_MAX_INPUT)
		return 0;
	memset(&p, 0, sizeof(p));
	p.no_files = true;
	p.flags = fuzz_flags;
	if ((data[0] & 1) == 0)
		rc = dnsconf_load_buffer(&p, "fuzz.conf", (const char *)data + 1, size - 1,
		    &conf);
	else {
		text = xmalloc(size);
		memcpy(text, data + 1, size - 1);
		text[size - 1] = '\0';
		argv[argc++] = "serve";
		for (char *s = text, *nl; s != NULL && argc <= FUZZ_MAX_ARGS; s = nl) {
			if ((nl = strchr(s, '\n')) != NULL)
				*nl++ = '\0';
			argv[argc++] = s;
		}
		argv[argc] = NULL;
		rc = dnsconf_load(&p, argc, argv, &conf);
		free(text);
	}
	if (rc == 0)
		fuzz_roundtrip(conf);
	dnsconf_free(conf);
	return 0;
}
