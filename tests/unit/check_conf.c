/* check_conf: conf's sources and their precedence, every error message, named sections, dumps. */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/util.h"
#include "suites.h"

static const char *const levels[] = { "error", "warn", "info", "debug", NULL };
static const char *const modes[] = { "auto", "http2", "quic", NULL };

/* Tokens are at least 8 characters: a validator that sees secrets. */
static bool
token_ok(const char *value, char *err, size_t errlen)
{
	if (strlen(value) < 8) {
		snprintf(err, errlen, "too short (\"%s\"): a token has at least 8 characters",
		    value);
		return false;
	}
	return true;
}

/* Names have no blanks. */
static bool
name_ok(const char *value, char *err, size_t errlen)
{
	if (strchr(value, ' ') != NULL) {
		snprintf(err, errlen, "a name has no blanks");
		return false;
	}
	return true;
}

static const struct conf_entry table[] = {
	{ "", "log_level", CONF_ENUM, "info", "ZT_TEST_LOG_LEVEL", 0, 0, 0, levels, NULL,
	    "how much to log" },
	{ "edge", "port", CONF_INT, "7000", "ZT_TEST_PORT", 0, 1, 65535, NULL, NULL,
	    "port to listen on" },
	{ "edge", "debug", CONF_BOOL, "no", "ZT_TEST_DEBUG", 0, 0, 0, NULL, NULL, "debug mode" },
	{ "edge", "timeout", CONF_DURATION, "30s", "ZT_TEST_TIMEOUT", 0, 0, 0, NULL, NULL,
	    "idle timeout" },
	{ "edge", "listen", CONF_HOSTPORT, "0.0.0.0:443", NULL, 0, 443, 0, NULL, NULL,
	    "address to listen on" },
	{ "edge", "mode", CONF_ENUM, "auto", NULL, 0, 0, 0, modes, NULL, "transport" },
	{ "edge", "token", CONF_STRING, NULL, "ZT_TEST_TOKEN", CONF_F_SECRET | CONF_F_REQUIRED,
	    0, 0, NULL, token_ok, "tunnel token" },
	{ "edge", "token_file", CONF_PATH, NULL, NULL, 0, 0, 0, NULL, NULL, "file with the token" },
	{ "edge", "peer", CONF_HOSTPORT, NULL, "ZT_TEST_PEER", CONF_F_MULTI, 0, 0, NULL, NULL,
	    "peers" },
	{ "edge", "name", CONF_STRING, NULL, NULL, 0, 0, 0, NULL, name_ok, "display name" },
	{ "edge", "retries", CONF_INT, "3", NULL, 0, 0, 0, NULL, NULL, "any number" },
	{ "app *", "url", CONF_HOSTPORT, NULL, "ZT_TEST_NEVER", CONF_F_REQUIRED, 80, 0, NULL,
	    NULL, "origin" },
	{ "app *", "header", CONF_STRING, NULL, NULL, CONF_F_MULTI, 0, 0, NULL, NULL,
	    "extra headers" },
	{ "app *", "secret", CONF_STRING, NULL, NULL, CONF_F_SECRET, 0, 0, NULL, NULL,
	    "shared secret" },
	{ NULL, NULL, 0, NULL, NULL, 0, 0, 0, NULL, NULL, NULL },
};

static const char *const test_env[] = {
	"ZT_TEST_LOG_LEVEL", "ZT_TEST_PORT", "ZT_TEST_DEBUG", "ZT_TEST_TIMEOUT", "ZT_TEST_TOKEN",
	"ZT_TEST_PEER", "ZT_TEST_NEVER",
};

static char tmpdir[64];
static FILE *logfp;
static struct conf *conf;

/* A fresh directory, a captured log, a clean environment and an empty conf per test. */
static void
setup(void)
{
	util_strlcpy(tmpdir, "/tmp/check_conf.XXXXXX", sizeof(tmpdir));
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	ck_assert_ptr_nonnull(logfp = tmpfile());
	log_set_format(LOG_FORMAT_TEXT);
	log_set_output(logfp);
	for (size_t i = 0; i < nitems(test_env); i++)
		unsetenv(test_env[i]);
	conf = conf_new(table);
}

/* Removes what setup made and every file the test wrote. */
static void
teardown(void)
{
	DIR *d;
	struct dirent *de;

	conf_free(conf);
	conf = NULL;
	log_set_output(NULL);
	fclose(logfp);
	for (size_t i = 0; i < nitems(test_env); i++)
		unsetenv(test_env[i]);
	if ((d = opendir(tmpdir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			char *path;
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			xasprintf(&path, "%s/%s", tmpdir, de->d_name);
			unlink(path);
			free(path);
		}
		closedir(d);
	}
	rmdir(tmpdir);
}

/* Writes text to name in the test directory; returns the path (freed by the caller). */
static char *
write_file(const char *name, const char *text)
{
	char *path;

	xasprintf(&path, "%s/%s", tmpdir, name);
	ck_assert_int_eq(util_write_file_atomic(path, text, strlen(text), 0600), 0);
	return path;
}

/* Everything logged since the last log_clear (freed by the caller). */
static char *
log_text(void)
{
	struct stat st;
	char *buf;
	ssize_t n;

	fflush(logfp);
	ck_assert_int_eq(fstat(fileno(logfp), &st), 0);
	buf = xmalloc((size_t)st.st_size + 1);
	n = pread(fileno(logfp), buf, (size_t)st.st_size, 0);
	ck_assert_int_eq(n, st.st_size);
	buf[n] = '\0';
	return buf;
}

/* Forgets what was logged so far. */
static void
log_clear(void)
{
	fflush(logfp);
	ck_assert_int_eq(ftruncate(fileno(logfp), 0), 0);
	ck_assert_int_eq((int)lseek(fileno(logfp), 0, SEEK_SET), 0);
}

/* Asserts that the log holds the formatted text. */
static void
assert_logged(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void
assert_logged(const char *fmt, ...)
{
	char *needle, *log = log_text();
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&needle, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(n, 0);
	ck_assert_msg(strstr(log, needle) != NULL, "the log lacks <%s>; it holds:\n%s", needle,
	    log);
	free(needle);
	free(log);
}

/* Asserts that the log does not hold the formatted text. */
static void
assert_not_logged(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void
assert_not_logged(const char *fmt, ...)
{
	char *needle, *log = log_text();
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&needle, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(n, 0);
	ck_assert_msg(strstr(log, needle) == NULL, "the log should not hold <%s>; it holds:\n%s",
	    needle, log);
	free(needle);
	free(log);
}

/* The number of lines logged. */
static int
log_lines(void)
{
	char *log = log_text();
	int n = 0;

	for (char *c = log; *c != '\0'; c++)
		n += *c == '\n';
	free(log);
	return n;
}

/* Writes text to bad.ini, asserts that loading it fails, and returns its path. */
static char *
load_bad(const char *text)
{
	char *path = write_file("bad.ini", text);

	ck_assert_int_eq(conf_load_file(conf, path), -1);
	return path;
}

/* What conf_dump prints (freed by the caller). */
static char *
dump(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(fp);
	conf_dump(conf, fp);
	ck_assert_int_eq(fclose(fp), 0);
	return buf;
}

START_TEST(test_defaults)
{
	ck_assert_str_eq(conf_get(conf, "edge", "port"), "7000");
	ck_assert_int_eq(conf_get_int(conf, "edge", "port"), 7000);
	ck_assert_int_eq(conf_get_source(conf, "edge", "port"), CONF_SRC_DEFAULT);
	ck_assert(!conf_get_bool(conf, "edge", "debug"));
	ck_assert_uint_eq(conf_get_duration(conf, "edge", "timeout"), 30000);
	ck_assert_str_eq(conf_get(conf, NULL, "log_level"), "info");
	ck_assert_str_eq(conf_get(conf, "", "log_level"), "info");
	/* Unset without a default. */
	ck_assert_ptr_null(conf_get(conf, "edge", "name"));
	ck_assert_int_eq(conf_get_source(conf, "edge", "name"), CONF_SRC_UNSET);
	ck_assert_int_eq(conf_get_int(conf, "edge", "token"), 0);
	ck_assert(!conf_get_bool(conf, "edge", "token"));
	ck_assert_uint_eq(conf_get_duration(conf, "edge", "token"), 0);
	ck_assert_uint_eq(conf_get_count(conf, "edge", "peer"), 0);
	ck_assert_ptr_null(conf_get_nth(conf, "edge", "peer", 0));
	/* A default counts as one value. */
	ck_assert_uint_eq(conf_get_count(conf, "edge", "port"), 1);
	ck_assert_ptr_null(conf_get_nth(conf, "edge", "port", 1));
	/* Keys the table lacks. */
	ck_assert_ptr_null(conf_get(conf, "edge", "nope"));
	ck_assert_ptr_null(conf_get(conf, "nope", "port"));
	ck_assert_int_eq(conf_get_source(conf, "edge", "nope"), CONF_SRC_UNSET);
	ck_assert_uint_eq(conf_section_count(conf, "app"), 0);
	ck_assert_ptr_null(conf_section_nth(conf, "app", 0));
}
END_TEST

START_TEST(test_source_names)
{
	ck_assert_str_eq(conf_source_name(CONF_SRC_UNSET), "unset");
	ck_assert_str_eq(conf_source_name(CONF_SRC_DEFAULT), "default");
	ck_assert_str_eq(conf_source_name(CONF_SRC_FILE), "file");
	ck_assert_str_eq(conf_source_name(CONF_SRC_ENV), "env");
	ck_assert_str_eq(conf_source_name(CONF_SRC_FLAG), "flag");
	ck_assert_str_eq(conf_section_name("app db.example.com"), "db.example.com");
	ck_assert_ptr_null(conf_section_name("edge"));
	ck_assert_ptr_null(conf_section_name(NULL));
	conf_free(NULL);
}
END_TEST

START_TEST(test_file_every_type)
{
	char *path = write_file("edge.ini",
	    "log_level = debug\n"
	    "[edge]\n"
	    "port = 8443\n"
	    "debug = on\n"
	    "timeout = 1h30m\n"
	    "listen = example.com\n"
	    "mode = quic\n"
	    "token = s3cr3t-token-value\n"
	    "token_file = /etc/zt/token\n"
	    "peer = a.example.com:7000\n"
	    "peer = [2001:db8::1]:7000\n"
	    "name = edge-1\n"
	    "retries = -5\n");

	ck_assert_int_eq(conf_load_file(conf, path), 0);
	ck_assert_int_eq(log_lines(), 0);
	ck_assert_str_eq(conf_get(conf, "", "log_level"), "debug");
	ck_assert_int_eq(conf_get_int(conf, "edge", "port"), 8443);
	ck_assert_int_eq(conf_get_source(conf, "edge", "port"), CONF_SRC_FILE);
	ck_assert(conf_get_bool(conf, "edge", "debug"));
	ck_assert_uint_eq(conf_get_duration(conf, "edge", "timeout"), 5400000);
	ck_assert_str_eq(conf_get(conf, "edge", "listen"), "example.com");
	ck_assert_str_eq(conf_get(conf, "edge", "mode"), "quic");
	ck_assert_str_eq(conf_get(conf, "edge", "token"), "s3cr3t-token-value");
	ck_assert_str_eq(conf_get(conf, "edge", "token_file"), "/etc/zt/token");
	ck_assert_uint_eq(conf_get_count(conf, "edge", "peer"), 2);
	ck_assert_str_eq(conf_get_nth(conf, "edge", "peer", 0), "a.example.com:7000");
	ck_assert_str_eq(conf_get_nth(conf, "edge", "peer", 1), "[2001:db8::1]:7000");
	ck_assert_ptr_null(conf_get_nth(conf, "edge", "peer", 2));
	ck_assert_str_eq(conf_get(conf, "edge", "peer"), "a.example.com:7000");
	ck_assert_str_eq(conf_get(conf, "edge", "name"), "edge-1");
	ck_assert_int_eq(conf_get_int(conf, "edge", "retries"), -5);
	ck_assert_int_eq(conf_check(conf), 0);
	free(path);
}
END_TEST

START_TEST(test_file_syntax_variants)
{
	/* A BOM, CRLF, indented keys (never continuation lines), both comment styles, inline
	 * comments, ':' as separator, and a header split over two blocks. */
	char *path = write_file("variants.ini",
	    "\xef\xbb\xbf; a comment\r\n"
	    "# another\r\n"
	    "[edge]\r\n"
	    "    port = 9000 ; inline\r\n"
	    "    debug = yes\r\n"
	    "\tmode: http2\r\n"
	    "\r\n"
	    "   \r\n"
	    "[app web]\n"
	    "  url = 127.0.0.1:8080\n"
	    "[edge]\n"
	    "name = semi;colon\n");

	ck_assert_int_eq(conf_load_file(conf, path), 0);
	ck_assert_int_eq(conf_get_int(conf, "edge", "port"), 9000);
	ck_assert(conf_get_bool(conf, "edge", "debug"));
	ck_assert_str_eq(conf_get(conf, "edge", "mode"), "http2");
	ck_assert_str_eq(conf_get(conf, "edge", "name"), "semi;colon");
	ck_assert_str_eq(conf_get(conf, "app web", "url"), "127.0.0.1:8080");
	ck_assert_int_eq(log_lines(), 0);
	free(path);
}
END_TEST

START_TEST(test_bool_spellings)
{
	static const struct {
		const char	*text;
		bool		 value;
	} cases[] = {
		{ "yes", true }, { "no", false }, { "true", true }, { "false", false },
		{ "on", true }, { "off", false }, { "1", true }, { "0", false },
		{ "YES", true }, { "Off", false },
	};

	for (size_t i = 0; i < nitems(cases); i++) {
		char *text;
		xasprintf(&text, "[edge]\ndebug = %s\n", cases[i].text);
		ck_assert_int_eq(conf_load_string(conf, "bool.ini", text), 0);
		ck_assert_msg(conf_get_bool(conf, "edge", "debug") == cases[i].value, "%s",
		    cases[i].text);
		free(text);
	}
}
END_TEST

START_TEST(test_unknown_section)
{
	char *path = load_bad("[edge]\nport = 1\n[edgee]\nport = 2\n[zzz]\nport = 3\n");

	assert_logged("%s:3: unknown section [edgee]; did you mean [edge]?", path);
	assert_logged("%s:5: unknown section [zzz]; the sections are [edge], [app NAME]", path);
	/* Keys of a reported section are not reported again. */
	assert_not_logged("%s:4:", path);
	assert_not_logged("%s:6:", path);
	assert_logged("%s: 2 errors: nothing from this file was applied", path);
	ck_assert_int_eq(conf_get_source(conf, "edge", "port"), CONF_SRC_DEFAULT);
	free(path);
}
END_TEST

START_TEST(test_named_section_errors)
{
	char *path = load_bad("[app]\nurl = a:1\n[apps db]\n[app ]\n[]\n");

	assert_logged("%s:1: section [app] needs an instance name: write [app NAME]", path);
	assert_logged("%s:3: unknown section [apps db]; did you mean [app db]?", path);
	assert_logged("%s:4: section [app ] needs an instance name", path);
	assert_logged("%s:5: empty section name []", path);
	free(path);
	log_clear();
	path = load_bad("[app  two]\n");
	assert_logged("%s:1: section [app  two]: the instance name after \"app \" must not "
	    "contain blanks", path);
	free(path);
}
END_TEST

START_TEST(test_unknown_key)
{
	char *path = load_bad("url = x:1\n[edge]\nprot = 80\nzzzzzz = 1\ntokne = supersecret1\n");

	assert_logged("%s:1: url = \"x:1\": unknown key here; it belongs in a [app NAME] "
	    "section", path);
	assert_logged("%s:3: [edge] prot = \"80\": unknown key; did you mean \"port\"?", path);
	assert_logged("%s:4: [edge] zzzzzz = \"1\": unknown key; the keys here are port, debug, "
	    "timeout", path);
	/* A misspelt secret keeps its value hidden. */
	assert_logged("%s:5: [edge] tokne = (hidden): unknown key; did you mean \"token\"?",
	    path);
	assert_not_logged("supersecret1");
	free(path);
}
END_TEST

START_TEST(test_missing_key_name)
{
	char *path = load_bad("[edge]\n= 5\n");

	assert_logged("%s:2: [edge]  = \"5\": missing key name", path);
	free(path);
}
END_TEST

START_TEST(test_bad_int)
{
	char *path = load_bad("[edge]\nport = abc\nport = 70000\nretries = "
	    "99999999999999999999999\n");

	assert_logged("%s:2: [edge] port = \"abc\": not a decimal integer: write a whole number "
	    "between 1 and 65535", path);
	assert_logged("%s:3: [edge] port = \"70000\": out of range: write a whole number between "
	    "1 and 65535", path);
	assert_logged("%s:4: [edge] retries = \"99999999999999999999999\": out of range", path);
	free(path);
}
END_TEST

START_TEST(test_bad_bool)
{
	char *path = load_bad("[edge]\ndebug = maybe\n");

	assert_logged("%s:2: [edge] debug = \"maybe\": not a boolean: write yes or no (or "
	    "true/false, on/off, 1/0)", path);
	free(path);
}
END_TEST

START_TEST(test_bad_duration)
{
	char *path = load_bad("[edge]\n\ntimeout = 5 parsecs\n");

	assert_logged("%s:3: [edge] timeout = \"5 parsecs\": bad duration", path);
	assert_logged("unknown unit");
	free(path);
}
END_TEST

START_TEST(test_bad_enum)
{
	char *path = load_bad("log_level = loud\n[edge]\nmode = http3\n");

	assert_logged("%s:1: log_level = \"loud\": not one of the choices: write one of error, "
	    "warn, info, debug", path);
	assert_logged("%s:3: [edge] mode = \"http3\": not one of the choices: write one of auto, "
	    "http2, quic", path);
	free(path);
}
END_TEST

START_TEST(test_bad_hostport)
{
	char *path = load_bad("[edge]\npeer = a.example.com\nlisten = a b\n[app x]\nurl = "
	    "h:99999\n");

	assert_logged("%s:2: [edge] peer = \"a.example.com\": bad address", path);
	assert_logged("the port is missing (write host:port)");
	assert_logged("%s:3: [edge] listen = \"a b\": bad address", path);
	assert_logged("%s:5: [app x] url = \"h:99999\": bad address", path);
	free(path);
}
END_TEST

START_TEST(test_bad_path)
{
	char *path = load_bad("[edge]\ntoken_file =\n");

	assert_logged("%s:2: [edge] token_file = \"\": empty path", path);
	free(path);
}
END_TEST

START_TEST(test_validator)
{
	char *path = load_bad("[edge]\nname = two words\ntoken = s3cr\n");

	assert_logged("%s:2: [edge] name = \"two words\": a name has no blanks", path);
	/* The validator's reason quotes the value: it is hidden there too. */
	assert_logged("%s:3: [edge] token = (hidden): too short (\"(hidden)\"): a token has at "
	    "least 8 characters", path);
	assert_not_logged("s3cr");
	free(path);
}
END_TEST

START_TEST(test_repeated_key)
{
	char *path = load_bad("[edge]\nport = 1\nport = 2\ntoken = abcdefgh-one\n\ntoken = "
	    "abcdefgh-two\n[app a]\nurl = a:1\n[app a]\nurl = a:2\n");

	assert_logged("%s:3: [edge] port = \"2\": already set at line 2; port takes one value",
	    path);
	assert_logged("%s:6: [edge] token = (hidden): already set at line 4", path);
	assert_not_logged("abcdefgh");
	/* A named section given twice is one section. */
	assert_logged("%s:10: [app a] url = \"a:2\": already set at line 8", path);
	free(path);
}
END_TEST

START_TEST(test_syntax_errors)
{
	char *path = load_bad("[edge\nport = 1\n[edge]\njust words\nport ; = 5\n[edge ;x]\n");

	assert_logged("%s:1: section header \"[edge\": it has no closing ']'", path);
	assert_logged("%s:4: cannot read \"just words\": write key = value, [section], or a "
	    "comment", path);
	assert_logged("%s:5: cannot read \"port ; = 5\"", path);
	assert_logged("%s:6: section header \"[edge ;x]\"", path);
	/* Keys after a broken header are not blamed on the previous section. */
	assert_not_logged("%s:2:", path);
	assert_logged("%s: 4 errors", path);
	free(path);
}
END_TEST

START_TEST(test_every_error_reported)
{
	char *path = load_bad("[edge]\nport = x\ndebug = x\ntimeout = x\nmode = x\npeer = x\n"
	    "nope = x\n[nope]\n");

	for (int line = 2; line <= 8; line++)
		assert_logged("%s:%d: ", path, line);
	assert_logged("%s: 7 errors: nothing from this file was applied", path);
	ck_assert_int_eq(log_lines(), 8);
	free(path);
}
END_TEST

START_TEST(test_long_line)
{
	char line[512], *text, *path;

	/* 199 bytes, then what a naive reader would take for the next line. */
	memset(line, 'x', sizeof(line));
	memcpy(line, "name = ", 7);
	memcpy(line + 199, "zzz = 1", 8);
	xasprintf(&text, "[edge]\n%s\nport = abc\n", line);
	path = load_bad(text);
	assert_logged("%s:2: line is longer than 199 bytes (inih's limit): put long values such "
	    "as tokens or keys in their own file and name it with a *_file key", path);
	/* The rest of the long line is skipped and the numbering stays right. */
	assert_not_logged("zzz");
	assert_logged("%s:3: [edge] port = \"abc\"", path);
	assert_logged("%s: 2 errors", path);
	free(text);
	free(path);
}
END_TEST

START_TEST(test_long_header)
{
	char line[256], *text, *path;

	/* The keys after an over-long header are not blamed on the section before it. */
	memset(line, 'h', sizeof(line));
	memcpy(line, "  [app ", 7);
	memcpy(line + 240, "]", 2);
	xasprintf(&text, "[edge]\n%s\nurl = x:1\n", line);
	path = load_bad(text);
	assert_logged("%s:2: line is longer than 199 bytes", path);
	assert_not_logged("%s:3:", path);
	assert_logged("%s: 1 error:", path);
	free(text);
	free(path);
}
END_TEST

START_TEST(test_named_section_limit)
{
	char *text = NULL, *p;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(fp);
	for (int i = 0; i <= 4096; i++)
		fprintf(fp, "[app a%d]\n", i);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(conf_load_string(conf, "many.ini", text), -1);
	assert_logged("many.ini:4097: more than 4096 named sections");
	/* One fewer is fine. */
	p = strstr(text, "[app a4096]");
	ck_assert_ptr_nonnull(p);
	*p = '\0';
	ck_assert_int_eq(conf_load_string(conf, "many.ini", text), 0);
	ck_assert_uint_eq(conf_section_count(conf, "app"), 4096);
	ck_assert_str_eq(conf_section_nth(conf, "app", 4095), "app a4095");
	free(text);
}
END_TEST

START_TEST(test_line_limit_boundary)
{
	char line[256], *text;

	/* 198 bytes and a newline fit; 199 and a newline do not. */
	memset(line, 'y', sizeof(line));
	memcpy(line, "name = ", 7);
	line[198] = '\0';
	xasprintf(&text, "[edge]\n%s\n", line);
	ck_assert_int_eq(conf_load_string(conf, "edge.ini", text), 0);
	ck_assert_uint_eq(strlen(conf_get(conf, "edge", "name")), 191);
	free(text);
	line[198] = 'y';
	line[199] = '\0';
	xasprintf(&text, "[edge]\n%s\n", line);
	ck_assert_int_eq(conf_load_string(conf, "edge.ini", text), -1);
	assert_logged("edge.ini:2: line is longer than 199 bytes");
	free(text);
}
END_TEST

START_TEST(test_nul_byte)
{
	static const char text[] = "[edge]\nport = 1\0\n";

	ck_assert_int_eq(conf_load_buffer(conf, "bin.ini", text, sizeof(text) - 1), -1);
	assert_logged("bin.ini:2: the line contains a NUL byte");
	ck_assert_int_eq(conf_get_source(conf, "edge", "port"), CONF_SRC_DEFAULT);
}
END_TEST

START_TEST(test_missing_file)
{
	char *path;

	xasprintf(&path, "%s/absent.ini", tmpdir);
	ck_assert_int_eq(conf_load_file(conf, path), -1);
	assert_logged("cannot read configuration file %s: No such file", path);
	free(path);
}
END_TEST

START_TEST(test_load_string_name)
{
	ck_assert_int_eq(conf_load_string(conf, "inline.ini", "[edge]\nport = x\n"), -1);
	assert_logged("inline.ini:2: [edge] port = \"x\"");
	ck_assert_int_eq(conf_load_string(conf, "inline.ini", ""), 0);
	ck_assert_int_eq(conf_load_buffer(conf, "empty", NULL, 0), 0);
}
END_TEST

START_TEST(test_failed_reload_keeps_old)
{
	char *good = write_file("good.ini", "[edge]\nport = 8000\npeer = a:1\npeer = b:2\n"
	    "[app one]\nurl = one:1\n");
	char *bad;

	ck_assert_int_eq(conf_load_file(conf, good), 0);
	bad = load_bad("[edge]\nport = 9000\npeer = c:3\nbogus = 1\n[app two]\nurl = two:2\n");
	ck_assert_int_eq(conf_get_int(conf, "edge", "port"), 8000);
	ck_assert_uint_eq(conf_get_count(conf, "edge", "peer"), 2);
	ck_assert_str_eq(conf_get_nth(conf, "edge", "peer", 1), "b:2");
	ck_assert_uint_eq(conf_section_count(conf, "app"), 1);
	ck_assert_str_eq(conf_section_nth(conf, "app", 0), "app one");
	/* A good reload replaces the file's values whole: what it leaves out reverts. */
	free(good);
	good = write_file("good.ini", "[app two]\nurl = two:2\n");
	ck_assert_int_eq(conf_load_file(conf, good), 0);
	ck_assert_int_eq(conf_get_int(conf, "edge", "port"), 7000);
	ck_assert_int_eq(conf_get_source(conf, "edge", "port"), CONF_SRC_DEFAULT);
	ck_assert_uint_eq(conf_get_count(conf, "edge", "peer"), 0);
	ck_assert_uint_eq(conf_section_count(conf, "app"), 1);
	ck_assert_str_eq(conf_section_nth(conf, "app", 0), "app two");
	free(good);
	free(bad);
}
END_TEST

START_TEST(test_precedence)
{
	char *path = write_file("edge.ini", "[edge]\nport = 1000\ntimeout = 1m\n");

	ck_assert_int_eq(conf_load_file(conf, path), 0);
	ck_assert_int_eq(conf_get_int(conf, "edge", "port"), 1000);
	ck_assert_int_eq(conf_get_source(conf, "edge", "port"), CONF_SRC_FILE);
	/* Environment over file. */
	setenv("ZT_TEST_PORT", "2000", 1);
	ck_assert_int_eq(conf_load_env(conf), 0);
	ck_assert_int_eq(conf_get_int(conf, "edge", "port"), 2000);
	ck_assert_int_eq(conf_get_source(conf, "edge", "port"), CONF_SRC_ENV);
	/* Flags over environment. */
	ck_assert_int_eq(conf_set_flag(conf, "edge", "port", "3000", "--port"), 0);
	ck_assert_int_eq(conf_get_int(conf, "edge", "port"), 3000);
	ck_assert_int_eq(conf_get_source(conf, "edge", "port"), CONF_SRC_FLAG);
	/* A single key takes the last flag. */
	ck_assert_int_eq(conf_set_flag(conf, "edge", "port", "3001", "--port"), 0);
	ck_assert_int_eq(conf_get_int(conf, "edge", "port"), 3001);
	/* Untouched keys keep their file value or default. */
	ck_assert_uint_eq(conf_get_duration(conf, "edge", "timeout"), 60000);
	ck_assert_int_eq(conf_get_source(conf, "edge", "mode"), CONF_SRC_DEFAULT);
	/* An empty variable counts as unset; reloading the environment forgets old values. */
	setenv("ZT_TEST_TIMEOUT", "", 1);
	unsetenv("ZT_TEST_PORT");
	ck_assert_int_eq(conf_load_env(conf), 0);
	ck_assert_int_eq(conf_get_source(conf, "edge", "timeout"), CONF_SRC_FILE);
	conf_free(conf);
	conf = conf_new(table);
	setenv("ZT_TEST_PORT", "2000", 1);
	ck_assert_int_eq(conf_load_env(conf), 0);
	ck_assert_int_eq(conf_load_file(conf, path), 0);
	ck_assert_int_eq(conf_get_int(conf, "edge", "port"), 2000);
	free(path);
}
END_TEST

START_TEST(test_env_errors)
{
	setenv("ZT_TEST_TIMEOUT", "5s", 1);
	ck_assert_int_eq(conf_load_env(conf), 0);
	setenv("ZT_TEST_PORT", "abc", 1);
	setenv("ZT_TEST_DEBUG", "maybe", 1);
	setenv("ZT_TEST_TOKEN", "s3cr", 1);
	setenv("ZT_TEST_TIMEOUT", "9s", 1);
	ck_assert_int_eq(conf_load_env(conf), -1);
	assert_logged("environment variable ZT_TEST_PORT=\"abc\" ([edge] port): not a decimal "
	    "integer");
	assert_logged("environment variable ZT_TEST_DEBUG=\"maybe\" ([edge] debug): not a "
	    "boolean");
	assert_logged("environment variable ZT_TEST_TOKEN=(hidden) ([edge] token): too short");
	assert_not_logged("s3cr");
	/* The environment layer is unchanged: the earlier good value stays. */
	ck_assert_uint_eq(conf_get_duration(conf, "edge", "timeout"), 5000);
	ck_assert_int_eq(conf_get_source(conf, "edge", "port"), CONF_SRC_DEFAULT);
}
END_TEST

START_TEST(test_flag_errors)
{
	ck_assert_int_eq(conf_set_flag(conf, "edge", "port", "x", "--port"), -1);
	assert_logged("--port \"x\" ([edge] port): not a decimal integer");
	ck_assert_int_eq(conf_set_flag(conf, "edge", "token", "tiny", "--token"), -1);
	assert_logged("--token (hidden) ([edge] token): too short");
	assert_not_logged("tiny");
	ck_assert_int_eq(conf_set_flag(conf, "edge", "nope", "1", "--nope"), -1);
	assert_logged("--nope: the configuration has no key [edge] nope");
	ck_assert_int_eq(conf_set_flag(conf, NULL, "log_level", "loud", "--log-level"), -1);
	assert_logged("--log-level \"loud\" (log_level): not one of the choices");
	ck_assert_int_eq(conf_get_source(conf, "edge", "port"), CONF_SRC_DEFAULT);
	ck_assert_int_eq(conf_get_source(conf, "edge", "token"), CONF_SRC_UNSET);
}
END_TEST

START_TEST(test_multi)
{
	ck_assert_int_eq(conf_load_string(conf, "multi.ini",
	    "[edge]\npeer = a:1\npeer = b:2\npeer = c:3\n"), 0);
	ck_assert_uint_eq(conf_get_count(conf, "edge", "peer"), 3);
	ck_assert_str_eq(conf_get_nth(conf, "edge", "peer", 0), "a:1");
	ck_assert_str_eq(conf_get_nth(conf, "edge", "peer", 2), "c:3");
	/* The environment's single value replaces the file's three. */
	setenv("ZT_TEST_PEER", "e:5", 1);
	ck_assert_int_eq(conf_load_env(conf), 0);
	ck_assert_uint_eq(conf_get_count(conf, "edge", "peer"), 1);
	ck_assert_str_eq(conf_get_nth(conf, "edge", "peer", 0), "e:5");
	ck_assert_int_eq(conf_get_source(conf, "edge", "peer"), CONF_SRC_ENV);
	/* Flags replace both and collect in order. */
	ck_assert_int_eq(conf_set_flag(conf, "edge", "peer", "f:6", "--peer"), 0);
	ck_assert_int_eq(conf_set_flag(conf, "edge", "peer", "g:7", "--peer"), 0);
	ck_assert_uint_eq(conf_get_count(conf, "edge", "peer"), 2);
	ck_assert_str_eq(conf_get_nth(conf, "edge", "peer", 0), "f:6");
	ck_assert_str_eq(conf_get_nth(conf, "edge", "peer", 1), "g:7");
	ck_assert_ptr_null(conf_get_nth(conf, "edge", "peer", 2));
}
END_TEST

START_TEST(test_named_sections)
{
	char *path = write_file("apps.ini",
	    "[app b]\nurl = b:1\n"
	    "[edge]\nport = 1\n"
	    "[app a.example.com]\nurl = a:2\nheader = X-One: 1\nheader = X-Two: 2\n"
	    "[app c]\n"
	    "[app b]\nsecret = hush-hush\n");

	ck_assert_int_eq(conf_load_file(conf, path), 0);
	ck_assert_uint_eq(conf_section_count(conf, "app"), 3);
	ck_assert_uint_eq(conf_section_count(conf, "ap"), 0);
	ck_assert_str_eq(conf_section_nth(conf, "app", 0), "app b");
	ck_assert_str_eq(conf_section_nth(conf, "app", 1), "app a.example.com");
	ck_assert_str_eq(conf_section_nth(conf, "app", 2), "app c");
	ck_assert_ptr_null(conf_section_nth(conf, "app", 3));
	ck_assert_str_eq(conf_section_name(conf_section_nth(conf, "app", 1)), "a.example.com");
	ck_assert_str_eq(conf_get(conf, "app a.example.com", "url"), "a:2");
	ck_assert_uint_eq(conf_get_count(conf, "app a.example.com", "header"), 2);
	ck_assert_str_eq(conf_get_nth(conf, "app a.example.com", "header", 1), "X-Two: 2");
	ck_assert_str_eq(conf_get(conf, "app b", "secret"), "hush-hush");
	ck_assert_ptr_null(conf_get(conf, "app c", "url"));
	/* A named section without its required key fails the check, naming the instance. */
	ck_assert_int_eq(conf_check(conf), -1);
	assert_logged("required key url is not set in [app c]: add \"url = ...\" under [app c]");
	assert_not_logged("[app b]");
	assert_not_logged("ZT_TEST_NEVER");
	/* A flag may name an instance the file lacks: it comes after the file's. */
	ck_assert_int_eq(conf_set_flag(conf, "app z", "url", "z:9", "--url"), 0);
	ck_assert_int_eq(conf_set_flag(conf, "app b", "url", "bb:9", "--url"), 0);
	ck_assert_uint_eq(conf_section_count(conf, "app"), 4);
	ck_assert_str_eq(conf_section_nth(conf, "app", 3), "app z");
	ck_assert_str_eq(conf_get(conf, "app b", "url"), "bb:9");
	ck_assert_int_eq(conf_set_flag(conf, "app ", "url", "z:9", "--url"), -1);
	free(path);
}
END_TEST

START_TEST(test_required)
{
	ck_assert_int_eq(conf_check(conf), -1);
	assert_logged("required key token is not set in [edge]: add \"token = ...\" under [edge] "
	    "in the configuration file or set ZT_TEST_TOKEN");
	setenv("ZT_TEST_TOKEN", "a-long-enough-token", 1);
	ck_assert_int_eq(conf_load_env(conf), 0);
	ck_assert_int_eq(conf_check(conf), 0);
}
END_TEST

START_TEST(test_bad_default)
{
	static const struct conf_entry bad[] = {
		{ "edge", "port", CONF_INT, "abc", NULL, 0, 1, 65535, NULL, NULL, NULL },
		{ "edge", "mode", CONF_ENUM, "x", NULL, 0, 0, 0, NULL, NULL, NULL },
		{ NULL, NULL, 0, NULL, NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	struct conf *c = conf_new(bad);

	ck_assert_int_eq(conf_check(c), -1);
	assert_logged("default of [edge] port = \"abc\" in the configuration table: not a "
	    "decimal integer");
	assert_logged("default of [edge] mode = \"x\" in the configuration table: the "
	    "configuration table lists no choices");
	conf_free(c);
}
END_TEST

START_TEST(test_dump)
{
	char *path = write_file("edge.ini",
	    "[edge]\n"
	    "port = 8000\n"
	    "timeout = 1m\n"
	    "token = file-secret-token\n"
	    "peer = a:1\n"
	    "peer = b:2\n"
	    "[app second]\nurl = s:1\nsecret = app-secret-value\n"
	    "[app first]\nurl = f:1\n");
	char *out, *pos_second, *pos_first, *line;

	ck_assert_int_eq(conf_load_file(conf, path), 0);
	setenv("ZT_TEST_DEBUG", "yes", 1);
	ck_assert_int_eq(conf_load_env(conf), 0);
	ck_assert_int_eq(conf_set_flag(conf, "edge", "port", "3000", "--port"), 0);
	out = dump();
	/* The top section first, without a header. */
	ck_assert_msg(strncmp(out, "# how much to log\nlog_level = info  # default\n", 46) == 0,
	    "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "\n[edge]\n"));
	ck_assert_ptr_nonnull(strstr(out, "\nport = 3000  # flag --port\n"));
	ck_assert_ptr_nonnull(strstr(out, "\ndebug = yes  # env ZT_TEST_DEBUG\n"));
	xasprintf(&line, "\ntimeout = 1m  # file %s:3\n", path);
	ck_assert_msg(strstr(out, line) != NULL, "%s", out);
	free(line);
	xasprintf(&line, "\ntoken = (hidden)  # file %s:4\n", path);
	ck_assert_msg(strstr(out, line) != NULL, "%s", out);
	free(line);
	xasprintf(&line, "\npeer = a:1  # file %s:5\npeer = b:2  # file %s:6\n", path, path);
	ck_assert_msg(strstr(out, line) != NULL, "%s", out);
	free(line);
	ck_assert_ptr_nonnull(strstr(out, "\nmode = auto  # default\n"));
	ck_assert_ptr_nonnull(strstr(out, "\n# name =  # unset\n"));
	ck_assert_ptr_nonnull(strstr(out, "\n# display name\n"));
	ck_assert_ptr_nonnull(strstr(out, "\nsecret = (hidden)  # file "));
	ck_assert_ptr_null(strstr(out, "file-secret-token"));
	ck_assert_ptr_null(strstr(out, "app-secret-value"));
	/* Named sections in file order, after [edge] as in the table. */
	pos_second = strstr(out, "\n[app second]\n");
	pos_first = strstr(out, "\n[app first]\n");
	ck_assert_ptr_nonnull(pos_second);
	ck_assert_ptr_nonnull(pos_first);
	ck_assert(strstr(out, "\n[edge]\n") < pos_second);
	ck_assert(pos_second < pos_first);
	free(out);
	/* A hidden secret from the environment, and a default. */
	setenv("ZT_TEST_TOKEN", "env-secret-token", 1);
	ck_assert_int_eq(conf_load_env(conf), 0);
	out = dump();
	ck_assert_ptr_nonnull(strstr(out, "\ntoken = (hidden)  # env ZT_TEST_TOKEN\n"));
	ck_assert_ptr_null(strstr(out, "env-secret-token"));
	free(out);
	free(path);
}
END_TEST

Suite *
conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("conf");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_source_names);
	tcase_add_test(tc, test_file_every_type);
	tcase_add_test(tc, test_file_syntax_variants);
	tcase_add_test(tc, test_bool_spellings);
	tcase_add_test(tc, test_unknown_section);
	tcase_add_test(tc, test_named_section_errors);
	tcase_add_test(tc, test_unknown_key);
	tcase_add_test(tc, test_missing_key_name);
	tcase_add_test(tc, test_bad_int);
	tcase_add_test(tc, test_bad_bool);
	tcase_add_test(tc, test_bad_duration);
	tcase_add_test(tc, test_bad_enum);
	tcase_add_test(tc, test_bad_hostport);
	tcase_add_test(tc, test_bad_path);
	tcase_add_test(tc, test_validator);
	tcase_add_test(tc, test_repeated_key);
	tcase_add_test(tc, test_syntax_errors);
	tcase_add_test(tc, test_every_error_reported);
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_long_header);
	tcase_add_test(tc, test_named_section_limit);
	tcase_add_test(tc, test_line_limit_boundary);
	tcase_add_test(tc, test_nul_byte);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_load_string_name);
	tcase_add_test(tc, test_failed_reload_keeps_old);
	tcase_add_test(tc, test_precedence);
	tcase_add_test(tc, test_env_errors);
	tcase_add_test(tc, test_flag_errors);
	tcase_add_test(tc, test_multi);
	tcase_add_test(tc, test_named_sections);
	tcase_add_test(tc, test_required);
	tcase_add_test(tc, test_bad_default);
	tcase_add_test(tc, test_dump);
	suite_add_tcase(s, tc);
	return s;
}
