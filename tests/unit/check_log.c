/* check_log: text and JSON lines, levels, redaction, OpenSSL and libevent messages. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "common/log.h"
#include "common/util.h"
#include "suites.h"

static FILE *out;

static void
capture_setup(void)
{
	out = tmpfile();
	ck_assert_ptr_nonnull(out);
	log_init("testapp", LOG_LEVEL_DEBUG, LOG_FORMAT_JSON);
	log_set_output(out);
}

static void
capture_teardown(void)
{
	log_set_output(NULL);
	log_redact_clear();
	log_init("check", LOG_LEVEL_ERROR, LOG_FORMAT_TEXT);
	fclose(out);
}

/* Everything logged so far (the caller frees it). */
static char *
captured(void)
{
	long len;
	char *buf;

	fflush(out);
	len = ftell(out);
	ck_assert_int_ge(len, 0);
	buf = xmalloc((size_t)len + 1);
	rewind(out);
	ck_assert_uint_eq(fread(buf, 1, (size_t)len, out), (size_t)len);
	buf[len] = '\0';
	return buf;
}

START_TEST(test_json_line)
{
	char *s;

	log_info("hello \"world\"\n\ttab %d", 42);
	s = captured();
	ck_assert_msg(strncmp(s, "{\"time\":\"", 9) == 0, "%s", s);
	ck_assert(strstr(s, "\"level\":\"info\"") != NULL);
	ck_assert(strstr(s, "\"applet\":\"testapp\"") != NULL);
	ck_assert_msg(strstr(s, "\"msg\":\"hello \\\"world\\\"\\n\\ttab 42\"}\n") != NULL, "%s", s);
	/* Exactly one line. */
	ck_assert_ptr_eq(strchr(s, '\n'), s + strlen(s) - 1);
	free(s);
}
END_TEST

START_TEST(test_text_line_and_errno)
{
	char *s;

	log_set_format(LOG_FORMAT_TEXT);
	errno = ENOENT;
	log_warn("open \"%s\"", "/nonexistent");
	s = captured();
	ck_assert_msg(strstr(s, " testapp warn: open \"/nonexistent\": No such file or directory\n")
	    != NULL, "%s", s);
	free(s);
}
END_TEST

START_TEST(test_levels)
{
	char *s;
	enum log_level l;
	enum log_format f;

	log_set_level(LOG_LEVEL_WARN);
	log_debug("invisible-debug");
	log_info("invisible-info");
	log_warnx("visible-warn");
	log_errorx("visible-error");
	s = captured();
	ck_assert(strstr(s, "invisible") == NULL);
	ck_assert(strstr(s, "visible-warn") != NULL);
	ck_assert(strstr(s, "visible-error") != NULL);
	free(s);
	ck_assert_int_eq(log_level_parse("debug", &l), 0);
	ck_assert_int_eq(l, LOG_LEVEL_DEBUG);
	ck_assert_int_eq(log_level_parse("warning", &l), 0);
	ck_assert_int_eq(l, LOG_LEVEL_WARN);
	ck_assert_int_eq(log_level_parse("loud", &l), -1);
	ck_assert_int_eq(log_format_parse("json", &f), 0);
	ck_assert_int_eq(f, LOG_FORMAT_JSON);
	ck_assert_int_eq(log_format_parse("xml", &f), -1);
}
END_TEST

START_TEST(test_redaction)
{
	const char *secret = "0123456789abcdef0123456789abcdef";
	char *s;

	log_redact_add(secret);
	log_redact_add("abc");	/* too short to redact safely: ignored */
	log_info("token secret=%s then %s%s", secret, secret, "tail");
	log_set_format(LOG_FORMAT_TEXT);
	log_warnx("text %s", secret);
	log_info("short abc stays");
	s = captured();
	ck_assert_msg(strstr(s, secret) == NULL, "%s", s);
	ck_assert(strstr(s, "secret=[REDACTED] then [REDACTED]tail") != NULL);
	ck_assert(strstr(s, "text [REDACTED]") != NULL);
	ck_assert(strstr(s, "short abc stays") != NULL);
	free(s);
}
END_TEST

START_TEST(test_ssl_errors_drained)
{
	char *s;

	/* Provoke an OpenSSL error: an unknown digest name. */
	ck_assert_ptr_null(EVP_MD_fetch(NULL, "NO-SUCH-DIGEST", NULL));
	ck_assert_uint_ne(ERR_peek_error(), 0);
	log_ssl_errors("cannot fetch %s", "digest");
	ck_assert_uint_eq(ERR_peek_error(), 0);
	s = captured();
	ck_assert_msg(strstr(s, "openssl: error:") != NULL, "%s", s);
	ck_assert(strstr(s, "cannot fetch digest") != NULL);
	free(s);
}
END_TEST

START_TEST(test_libevent_routed)
{
	char *s;

	/* libevent warns through its log callback when asked to free no base. */
	event_base_free(NULL);
	s = captured();
	ck_assert_msg(strstr(s, "libevent: ") != NULL, "%s", s);
	ck_assert(strstr(s, "\"applet\":\"testapp\"") != NULL);
	free(s);
}
END_TEST

START_TEST(test_long_message_marked)
{
	char big[6000], *s;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_info("%s", big);
	s = captured();
	ck_assert(strstr(s, "[truncated]\"}\n") != NULL);
	free(s);
}
END_TEST

START_TEST(test_json_escape_bounds)
{
	char buf[8];
	size_t pos = 0;

	/* "ab\u0001" does not fit in 8 bytes: nothing partial is left behind. */
	ck_assert(!log_json_escape(buf, sizeof(buf), &pos, "ab\x01"));
	ck_assert_str_eq(buf, "");
	ck_assert_uint_eq(pos, 0);
	pos = 0;
	ck_assert(!log_json_escape(buf, sizeof(buf), &pos, "abcdefgh"));
	pos = 0;
	ck_assert(log_json_escape(buf, sizeof(buf), &pos, "a\"b"));
	ck_assert_str_eq(buf, "a\\\"b");
}
END_TEST

Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("lines");

	tcase_add_checked_fixture(tc, capture_setup, capture_teardown);
	tcase_add_test(tc, test_json_line);
	tcase_add_test(tc, test_text_line_and_errno);
	tcase_add_test(tc, test_levels);
	tcase_add_test(tc, test_redaction);
	tcase_add_test(tc, test_ssl_errors_drained);
	tcase_add_test(tc, test_libevent_routed);
	tcase_add_test(tc, test_long_message_marked);
	tcase_add_test(tc, test_json_escape_bounds);
	suite_add_tcase(s, tc);
	return s;
}
