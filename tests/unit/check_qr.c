/* check_qr: QR code matrices (size by version, quiet zone, finder patterns) and their text
 * drawings in UTF-8 half blocks and in ASCII. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "common/log.h"
#include "common/qr.h"
#include "common/util.h"
#include "suites.h"

static const char uri[] = "otpauth://totp/zt:alice%40example.com?secret="
    "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=zt&algorithm=SHA1&digits=6&period=30";

/* Whether the 7x7 finder pattern has its top-left corner at (x, y). */
static bool
finder_at(const uint8_t *m, int n, int x, int y)
{
	for (int dy = 0; dy < 7; dy++)
		for (int dx = 0; dx < 7; dx++) {
			bool ring = dx == 0 || dy == 0 || dx == 6 || dy == 6;
			bool core = dx >= 2 && dx <= 4 && dy >= 2 && dy <= 4;
			if (m[(y + dy) * n + x + dx] != (ring || core))
				return false;
		}
	return true;
}

START_TEST(test_matrix)
{
	uint8_t *m;
	int n = 0, w;

	m = qr_matrix("hello", &n);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(n, 21 + 2 * QR_MARGIN);	/* version 1 */
	free(m);
	m = qr_matrix(uri, &n);
	ck_assert_ptr_nonnull(m);
	w = n - 2 * QR_MARGIN;
	ck_assert_int_eq((w - 17) % 4, 0);	/* 17 + 4 * version modules */
	ck_assert_int_ge((w - 17) / 4, 5);	/* 130 bytes at level M need version 6 */
	for (int i = 0; i < n; i++)
		for (int k = 0; k < QR_MARGIN; k++) {
			ck_assert_int_eq(m[k * n + i], 0);
			ck_assert_int_eq(m[(n - 1 - k) * n + i], 0);
			ck_assert_int_eq(m[i * n + k], 0);
			ck_assert_int_eq(m[i * n + n - 1 - k], 0);
		}
	ck_assert(finder_at(m, n, QR_MARGIN, QR_MARGIN));
	ck_assert(finder_at(m, n, n - QR_MARGIN - 7, QR_MARGIN));
	ck_assert(finder_at(m, n, QR_MARGIN, n - QR_MARGIN - 7));
	ck_assert(!finder_at(m, n, n - QR_MARGIN - 7, n - QR_MARGIN - 7));
	free(m);
	FILE *devnull = fopen("/dev/null", "w");
	ck_assert_ptr_nonnull(devnull);
	log_set_output(devnull);
	ck_assert_ptr_null(qr_matrix("", &n));
	{
		char *big = xmalloc(8000);
		memset(big, 'x', 7999);
		big[7999] = '\0';
		ck_assert_ptr_null(qr_matrix(big, &n));	/* a QR code holds 2953 bytes at most */
		free(big);
	}
	log_set_output(NULL);
	fclose(devnull);
}
END_TEST

/* Draws uri into a string. */
static char *
draw(bool utf8)
{
	FILE *fp = tmpfile();
	char *buf;
	long len;

	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(qr_print(fp, uri, utf8), 0);
	len = ftell(fp);
	rewind(fp);
	buf = xmalloc((size_t)len + 1);
	ck_assert_uint_eq(fread(buf, 1, (size_t)len, fp), (size_t)len);
	buf[len] = '\0';
	fclose(fp);
	return buf;
}

START_TEST(test_print)
{
	uint8_t *m;
	int n, rows = 0;
	char *text, *line, *save = NULL;

	m = qr_matrix(uri, &n);
	ck_assert_ptr_nonnull(m);

	/* ASCII: one line per row, "##" for a light module, no escapes off a terminal. */
	text = draw(false);
	ck_assert_ptr_null(strchr(text, '\033'));
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save), rows++) {
		ck_assert_int_eq((int)strlen(line), 2 * n);
		for (int x = 0; x < n; x++)
			ck_assert_int_eq(line[2 * x] == '#', m[rows * n + x] == 0);
	}
	ck_assert_int_eq(rows, n);
	free(text);

	/* UTF-8: two rows per line, each cell one half-block code point. */
	text = draw(true);
	rows = 0;
	save = NULL;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save), rows++) {
		int cells = 0;
		for (const char *p = line; *p != '\0'; cells++) {
			int y = 2 * rows, x = cells;
			bool top = m[y * n + x] == 0;
			bool bottom = y + 1 >= n || m[(y + 1) * n + x] == 0;
			const char *want = top && bottom ? "\u2588" : top ? "\u2580" :
			    bottom ? "\u2584" : " ";
			ck_assert_msg(strncmp(p, want, strlen(want)) == 0, "row %d cell %d", rows,
			    cells);
			p += strlen(want);
		}
		ck_assert_int_eq(cells, n);
	}
	ck_assert_int_eq(rows, (n + 1) / 2);
	/* The quiet zone: the first line is all light. */
	ck_assert_ptr_nonnull(strstr(text, "\u2588\u2588\u2588\u2588"));
	free(text);
	free(m);
}
END_TEST

Suite *
qr_suite(void)
{
	Suite *s = suite_create("qr");
	TCase *tc = tcase_create("qr");

	tcase_add_test(tc, test_matrix);
	tcase_add_test(tc, test_print);
	suite_add_tcase(s, tc);
	return s;
}
