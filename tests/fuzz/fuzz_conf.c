/* fuzz_conf: feeds arbitrary bytes to conf's ini parser over a table of every type, then reads
 * every value back and dumps the result. */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_levels[] = { "error", "warn", "info", "debug", NULL };
static const char *const fuzz_protocols[] = { "tcp", "http", "ssh", NULL };

/* Rejects values containing '!', so that validator failures are reached too. */
static bool
fuzz_no_bang(const char *value, char *err, size_t errlen)
{
	if (strchr(value, '!') != NULL) {
		snprintf(err, errlen, "'!' is not allowed in %s", value);
		return false;
	}
	return true;
}

static const struct conf_entry fuzz_table[] = {
	{ "", "log_level", CONF_ENUM, "info", "ZT_FUZZ_LOG_LEVEL", 0, 0, 0, fuzz_levels, NULL,
	    "log level" },
	{ "", "name", CONF_STRING, NULL, NULL, 0, 0, 0, NULL, fuzz_no_bang, "a name" },
	{ "edge", "port", CONF_INT, "7000", "ZT_FUZZ_PORT", 0, 1, 65535, NULL, NULL, "port" },
	{ "edge", "debug", CONF_BOOL, "no", NULL, 0, 0, 0, NULL, NULL, "debug" },
	{ "edge", "timeout", CONF_DURATION, "30s", NULL, 0, 0, 0, NULL, NULL, "timeout" },
	{ "edge", "listen", CONF_HOSTPORT, "0.0.0.0:443", NULL, 0, 443, 0, NULL, NULL, "listen" },
	{ "edge", "token", CONF_STRING, NULL, NULL, CONF_F_SECRET | CONF_F_REQUIRED, 0, 0, NULL,
	    NULL, "token" },
	{ "edge", "token_file", CONF_PATH, NULL, NULL, 0, 0, 0, NULL, NULL, "token file" },
	{ "edge", "peer", CONF_HOSTPORT, NULL, NULL, CONF_F_MULTI, 0, 0, NULL, NULL, "peers" },
	{ "edge", "offset", CONF_INT, "0", NULL, 0, 0, 0, NULL, NULL, "any long" },
	{ "app *", "url", CONF_HOSTPORT, NULL, NULL, CONF_F_REQUIRED, 80, 0, NULL, NULL, "url" },
	{ "app *", "protocol", CONF_ENUM, "tcp", NULL, 0, 0, 0, fuzz_protocols, NULL, "protocol" },
	{ "app *", "header", CONF_STRING, NULL, NULL, CONF_F_MULTI, 0, 0, NULL, fuzz_no_bang,
	    "headers" },
	{ "app *", "secret", CONF_STRING, NULL, NULL, CONF_F_SECRET, 0, 0, NULL, fuzz_no_bang,
	    "secret" },
	{ NULL, NULL, 0, NULL, NULL, 0, 0, 0, NULL, NULL, NULL },
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct conf *conf;
	size_t n;

	if (devnull == NULL) {
		if ((devnull = fopen("/dev/null", "w")) == NULL)
			abort();
		/* conf logs every error it finds; keep the fuzzer's output readable. */
		log_set_output(devnull);
	}
	conf = conf_new(fuzz_table);
	conf_load_buffer(conf, "fuzz.ini", (const char *)data, size);
	conf_check(conf);
	for (const struct conf_entry *e = fuzz_table; e->key != NULL; e++) {
		if (strcmp(e->section, "app *") == 0)
			continue;
		conf_get(conf, e->section, e->key);
		conf_get_int(conf, e->section, e->key);
		conf_get_bool(conf, e->section, e->key);
		conf_get_duration(conf, e->section, e->key);
		n = conf_get_count(conf, e->section, e->key);
		for (size_t i = 0; i <= n; i++)
			conf_get_nth(conf, e->section, e->key, i);
	}
	n = conf_section_count(conf, "app");
	for (size_t i = 0; i <= n; i++) {
		const char *s = conf_section_nth(conf, "app", i);
		if (s == NULL)
			continue;
		conf_section_name(s);
		conf_get(conf, s, "url");
		conf_get_count(conf, s, "header");
	}
	/* A flag over a named value from the input: flags must win without leaking either. */
	if (n > 0)
		conf_set_flag(conf, conf_section_nth(conf, "app", 0), "header", "X-Fuzz: 1",
		    "--header");
	conf_dump(conf, devnull);
	/* A reload of the same input exercises replacing (or keeping) the file's values. */
	conf_load_buffer(conf, "fuzz.ini", (const char *)data, size);
	conf_dump(conf, devnull);
	conf_free(conf);
	return 0;
}
