/* qr: a QR code (libqrencode) drawn in a terminal, for enrolling an authenticator app and for
 * `zt login`'s verification URL. */
#ifndef ZT_QR_H
#define ZT_QR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define QR_MARGIN	2	/* modules of quiet zone on each side */

/* The modules of text's QR code (byte mode, error correction level M, the smallest version
 * that fits) with QR_MARGIN light modules around: *size rows of *size bytes, 1 = dark. The
 * caller frees it. NULL after logging (text too long for a QR code, or empty). */
uint8_t		*qr_matrix(const char *text, int *size);

/* Draws text's QR code on fp. The light modules and the quiet zone are drawn in ink (the
 * terminal's foreground) and the dark modules are left blank, so the code reads right on a
 * light-on-dark terminal; when fp is a terminal, the lines are also coloured white on black
 * (ANSI) so that it reads right on light-background terminals too. utf8: two modules per
 * character cell with Unicode half blocks (U+2580, U+2584, U+2588); else "##" per light
 * module, one line per row. 0, or -1 after logging. */
int		 qr_print(FILE *fp, const char *text, bool utf8);

/* Whether the environment's locale (LC_ALL, LC_CTYPE, LANG) uses UTF-8: what qr_print's utf8
 * should be (nl_langinfo(CODESET) of that locale; the process's own locale is untouched). */
bool		 qr_locale_utf8(void);

#endif
