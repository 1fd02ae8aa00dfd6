/* qr: QR codes (ISO/IEC 18004 through libqrencode) drawn with text for terminals. */
#include "config.h"

#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <qrencode.h>

#include "log.h"
#include "qr.h"
#include "util.h"

uint8_t *
qr_matrix(const char *text, int *size)
{
	QRcode *qr;
	uint8_t *m;
	int w, n;

	if (text == NULL || *text == '\0') {
		log_errorx("qr_matrix: nothing to encode");
		return NULL;
	}
	if ((qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1)) == NULL) {
		log_errorx("cannot draw a QR code of %zu bytes: %s", strlen(text),
		    errno == ERANGE ? "too long for a QR code" : strerror(errno));
		return NULL;
	}
	w = qr->width;
	n = w + 2 * QR_MARGIN;
	m = xcalloc((size_t)n * (size_t)n, 1);
	for (int y = 0; y < w; y++)
		for (int x = 0; x < w; x++)
			m[(size_t)(y + QR_MARGIN) * (size_t)n + (size_t)(x + QR_MARGIN)] =
			    qr->data[y * w + x] & 1;
	QRcode_free(qr);
	*size = n;
	return m;
}

int
qr_print(FILE *fp, const char *text, bool utf8)
{
	/* Light modules are ink: indexed by (top light) | (bottom light) << 1. */
	static const char *const halves[4] = { " ", "\u2580", "\u2584", "\u2588" };
	const char *term = getenv("TERM");
	bool colour = isatty(fileno(fp)) && term != NULL && strcmp(term, "dumb") != 0;
	uint8_t *m;
	int n;

	if ((m = qr_matrix(text, &n)) == NULL)
		return -1;
	for (int y = 0; y < n; y += utf8 ? 2 : 1) {
		if (colour)
			fputs("\033[40;97m", fp);
		for (int x = 0; x < n; x++) {
			bool top = !m[(size_t)y * (size_t)n + (size_t)x];
			/* An odd last row pairs with a light row below: the quiet zone grows. */
			bool bottom = y + 1 >= n || !m[(size_t)(y + 1) * (size_t)n + (size_t)x];

			if (utf8)
				fputs(halves[(top ? 1 : 0) | (bottom ? 2 : 0)], fp);
			else
				fputs(top ? "##" : "  ", fp);
		}
		if (colour)
			fputs("\033[0m", fp);
		fputc('\n', fp);
	}
	free(m);
	if (fflush(fp) == EOF || ferror(fp)) {
		log_error("cannot write the QR code");
		return -1;
	}
	return 0;
}

bool
qr_locale_utf8(void)
{
	locale_t l = newlocale(LC_CTYPE_MASK, "", (locale_t)0);
	const char *cs;
	bool utf8;

	if (l == (locale_t)0)
		return false;	/* an unknown locale: the C locale, ASCII */
	cs = nl_langinfo_l(CODESET, l);
	utf8 = cs != NULL && (strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "utf8") == 0);
	freelocale(l);
	return utf8;
}
