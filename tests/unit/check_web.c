/* check_web: the pure parts of the edge's web side: user codes (format, normalisation), next
 * paths, the pre-sign-in CSRF token, and the device flow (RFC 8628) with the time passed in:
 * pending, slow_down, approval handed out once, denial, expiry, capacity. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "common/util.h"
#include "common/web.h"
#include "suites.h"

START_TEST(test_user_code)
{
	static const struct { const char *in, *out; } ok[] = {
		{ "BCDF-GHJK", "BCDFGHJK" },
		{ "bcdfghjk", "BCDFGHJK" },
		{ "bcdf-GHjk", "BCDFGHJK" },
		{ "  BCDF-GHJK  ", "BCDFGHJK" },
		{ "ZZZZZZZZ", "ZZZZZZZZ" },
	};
	static const char *const bad[] = {
		"", "BCDF-GHJ", "BCDF-GHJKL", "BCDFGHJKB", "ABCD-FGHJ" /* A is no consonant */,
		"BCD-FGHJK", "BCDF--GHJK", "BCDF GHJK", "BCDF-GHJ1", "BCDF-GHJ\xc3\x89",
		"-BCDFGHJK", "BCDFGHJK-",
	};
	char out[WEB_USER_CODE_LEN + 1], shown[10];

	for (size_t i = 0; i < nitems(ok); i++) {
		ck_assert_msg(web_user_code_normalise(ok[i].in, out), "\"%s\"", ok[i].in);
		ck_assert_str_eq(out, ok[i].out);
	}
	for (size_t i = 0; i < nitems(bad); i++)
		ck_assert_msg(!web_user_code_normalise(bad[i], out), "\"%s\" accepted", bad[i]);
	web_user_code_format("BCDFGHJK", shown);
	ck_assert_str_eq(shown, "BCDF-GHJK");
}
END_TEST

START_TEST(test_next)
{
	static const char *const ok[] = { "/", "/device", "/device?user_code=BCDF-GHJK",
	    "/a/b%2F?x=1" };
	static const char *const bad[] = { "", "device", "//evil.example", "/\\evil.example",
	    "https://evil.example/", "/a b", "/a\tb", "/a\r\nLocation: x", "/\x7f",
	    "/a\\b", "javascript:alert(1)" };
	char big[WEB_NEXT_MAX + 2];

	for (size_t i = 0; i < nitems(ok); i++)
		ck_assert_msg(web_next_valid(ok[i]), "\"%s\" refused", ok[i]);
	for (size_t i = 0; i < nitems(bad); i++)
		ck_assert_msg(!web_next_valid(bad[i]), "\"%s\" accepted", bad[i]);
	memset(big, 'a', sizeof(big));
	big[0] = '/';
	big[WEB_NEXT_MAX] = '\0';
	ck_assert(web_next_valid(big));
	big[WEB_NEXT_MAX] = 'a';
	big[WEB_NEXT_MAX + 1] = '\0';
	ck_assert(!web_next_valid(big));
}
END_TEST

START_TEST(test_csrf)
{
	uint8_t key[32], other[32];
	const char *pre = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	const char *pre2 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB";
	char t[WEB_CODE_B64_LEN + 1], bad[WEB_CODE_B64_LEN + 1];

	memset(key, 7, sizeof(key));
	memset(other, 8, sizeof(other));
	web_csrf_token(key, pre, t);
	ck_assert_uint_eq(strlen(t), WEB_CODE_B64_LEN);
	ck_assert(web_csrf_check(key, pre, t));
	ck_assert(!web_csrf_check(other, pre, t));	/* another edge process */
	ck_assert(!web_csrf_check(key, pre2, t));	/* another browser's cookie */
	ck_assert(!web_csrf_check(key, pre, ""));
	ck_assert(!web_csrf_check(key, "", t));
	memcpy(bad, t, sizeof(bad));
	bad[10] = bad[10] == 'A' ? 'B' : 'A';
	ck_assert(!web_csrf_check(key, pre, bad));
	bad[WEB_CODE_B64_LEN - 1] = '\0';
	ck_assert(!web_csrf_check(key, pre, bad));
}
END_TEST

START_TEST(test_device_flow)
{
	struct web_devices *d = web_devices_new();
	char dc[WEB_CODE_B64_LEN + 1], uc[WEB_USER_CODE_LEN + 1], norm[WEB_USER_CODE_LEN + 1];
	char *tok;
	int64_t exp;
	time_t t = 1000000;

	ck_assert_int_eq(web_device_start(d, t, dc, uc), 0);
	ck_assert_uint_eq(strlen(dc), WEB_CODE_B64_LEN);
	ck_assert(web_user_code_normalise(uc, norm));
	ck_assert_str_eq(norm, uc);
	ck_assert(web_device_pending(d, uc, t));
	/* The first poll at once is fine; the next 4 s later is too soon: slow_down, and the
	 * interval is 10 s from then on. */
	ck_assert_int_eq(web_device_poll(d, dc, t, &tok, &exp), WEB_POLL_PENDING);
	ck_assert_int_eq(web_device_poll(d, dc, t + 4, &tok, &exp), WEB_POLL_SLOW_DOWN);
	ck_assert_int_eq(web_device_poll(d, dc, t + 13, &tok, &exp), WEB_POLL_SLOW_DOWN);
	ck_assert_int_eq(web_device_poll(d, dc, t + 28, &tok, &exp), WEB_POLL_PENDING);
	ck_assert_int_eq(web_device_poll(d, dc, t + 42, &tok, &exp), WEB_POLL_SLOW_DOWN);
	ck_assert_int_eq(web_device_poll(d, dc, t + 62, &tok, &exp), WEB_POLL_PENDING);
	/* Approved: handed out once, then the code is used. */
	ck_assert_int_eq(web_device_decide(d, uc, t + 70, true, "TOKEN", t + 9999), 0);
	ck_assert(!web_device_pending(d, uc, t + 70));
	ck_assert_int_eq(web_device_decide(d, uc, t + 70, false, NULL, 0), -1);
	ck_assert_int_eq(web_device_poll(d, dc, t + 90, &tok, &exp), WEB_POLL_OK);
	ck_assert_str_eq(tok, "TOKEN");
	ck_assert_int_eq(exp, t + 9999);
	free(tok);
	ck_assert_int_eq(web_device_poll(d, dc, t + 200, &tok, &exp), WEB_POLL_INVALID);
	ck_assert_ptr_null(tok);
	/* Unknown codes. */
	ck_assert_int_eq(web_device_poll(d, "x", t, &tok, &exp), WEB_POLL_INVALID);
	ck_assert_int_eq(web_device_poll(d, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", t, &tok,
	    &exp), WEB_POLL_INVALID);
	/* Denied. */
	ck_assert_int_eq(web_device_start(d, t, dc, uc), 0);
	ck_assert_int_eq(web_device_decide(d, uc, t + 1, false, NULL, 0), 0);
	ck_assert_int_eq(web_device_poll(d, dc, t + 10, &tok, &exp), WEB_POLL_DENIED);
	/* Expired: neither approvable nor pending after 600 s. */
	ck_assert_int_eq(web_device_start(d, t, dc, uc), 0);
	ck_assert(web_device_pending(d, uc, t + WEB_DEVICE_TTL - 1));
	ck_assert(!web_device_pending(d, uc, t + WEB_DEVICE_TTL));
	ck_assert_int_eq(web_device_decide(d, uc, t + WEB_DEVICE_TTL, true, "T", 0), -1);
	ck_assert_int_eq(web_device_poll(d, dc, t + WEB_DEVICE_TTL, &tok, &exp),
	    WEB_POLL_EXPIRED);
	web_devices_free(d);
}
END_TEST

START_TEST(test_device_capacity)
{
	struct web_devices *d = web_devices_new();
	char dc[WEB_CODE_B64_LEN + 1], uc[WEB_USER_CODE_LEN + 1], first[WEB_USER_CODE_LEN + 1];
	time_t t = 5000;

	for (int i = 0; i < WEB_DEVICES_MAX; i++) {
		ck_assert_int_eq(web_device_start(d, t, dc, uc), 0);
		if (i == 0)
			memcpy(first, uc, sizeof(first));
	}
	ck_assert_uint_eq(web_devices_count(d), WEB_DEVICES_MAX);
	ck_assert_int_eq(web_device_start(d, t + 1, dc, uc), -1);	/* all pending */
	/* A denied one makes room. */
	ck_assert_int_eq(web_device_decide(d, first, t + 1, false, NULL, 0), 0);
	ck_assert_int_eq(web_device_start(d, t + 1, dc, uc), 0);
	ck_assert_int_eq(web_device_start(d, t + 1, dc, uc), -1);
	/* Once they expired, new ones come. */
	ck_assert_int_eq(web_device_start(d, t + WEB_DEVICE_TTL, dc, uc), 0);
	web_devices_free(d);
	web_devices_free(NULL);
}
END_TEST

Suite *
web_suite(void)
{
	Suite *s = suite_create("web");
	TCase *tc = tcase_create("pure");

	tcase_add_test(tc, test_user_code);
	tcase_add_test(tc, test_next);
	tcase_add_test(tc, test_csrf);
	tcase_add_test(tc, test_device_flow);
	tcase_add_test(tc, test_device_capacity);
	suite_add_tcase(s, tc);
	return s;
}
