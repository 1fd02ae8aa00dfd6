/*
 * copy: a memory copy for the one case glibc's x86-64 memcpy makes slow on AMD Zen 3 and 4.
 *
 * glibc (2.36, Debian 12) copies 2112 bytes and more with `rep movsb` on CPUs that announce FSRM.
 * On Zen 3/4 that instruction runs about 15 times slower (1.5-2.6 instead of 25-35 GB/s here)
 * when the destination is 1 to 31 bytes past the source modulo 4 KiB (glibc bug 30994 and
 * its relatives), and buffer-to-buffer copies of a data path land there often: two heap
 * buffers at the same page offset, one shifted by a record or frame header. copy_forward is a
 * plain SSE2 loop that is as fast as `rep movsb` at its best; src/memcpy.c routes the slow case
 * to it for every memcpy/memmove of the process (OpenSSL's and libevent's included).
 */
#ifndef ZT_COPY_H
#define ZT_COPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sizes the override considers: glibc 2.36 uses `rep movsb` from 2112 bytes on CPUs with FSRM
 * (its x86_rep_movsb_threshold), below that a vector loop; 1 MiB bounds what we take over. */
#define COPY_MIN	2112
#define COPY_MAX	(1024 * 1024)
/* Page-offset distances (destination - source, modulo 4 KiB) routed to copy_forward: the slow
 * ones measured are 1-31; up to 63 for margin (copy_forward is no slower than glibc there). */
#define COPY_DIST_MAX	63

/* True for a copy glibc would make with a slow `rep movsb`: COPY_MIN <= n <= COPY_MAX, the
 * destination 1..COPY_DIST_MAX bytes past the source modulo 4096, and either no overlap or the
 * destination at least 64 bytes below the source (a move towards the front of a buffer, which
 * glibc's memmove also makes with a forward `rep movsb`: OpenSSL's read-ahead buffer moves
 * what follows a record to the front, up to 48 KiB at a time). */
static inline bool
copy_avoid_rep_movsb(const void *dst, const void *src, size_t n)
{
	uintptr_t d = (uintptr_t)dst, s = (uintptr_t)src;

	if (n < COPY_MIN || n > COPY_MAX)
		return false;
	if (((d - s) & 4095) - 1 >= COPY_DIST_MAX)
		return false;
	return (d - s >= n && s - d >= n) || (d < s && s - d >= 64);
}

/* Copies n >= 64 bytes from src to dst with 16-byte vector loads and stores (aligned stores);
 * returns dst. The two must not overlap, or dst must be at least 64 bytes below src (every
 * block is loaded before the stores that could reach it). A vector loop where SSE2 is (every
 * x86-64), a byte loop elsewhere. */
void	*copy_forward(void *dst, const void *src, size_t n);

#endif
