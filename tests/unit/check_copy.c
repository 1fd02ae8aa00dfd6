/* check_copy: copy_forward against a byte-by-byte reference over sizes and both alignments,
 * the guard bytes around it untouched; which copies copy_avoid_rep_movsb takes; and, where zt
 * overrides them (src/memcpy.c, linked here too), memcpy and memmove of this process. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "common/copy.h"
#include "suites.h"

#define AREA	(80 * 1024)
#define GUARD	0xEE

static unsigned char *
area(void)
{
	unsigned char *p = aligned_alloc(4096, AREA);

	ck_assert_ptr_nonnull(p);
	return p;
}

/* src[i] for the pattern: not periodic in any power of two a copy bug could hide behind. */
static unsigned char
pat(size_t i)
{
	return (unsigned char)((i * 2654435761u) >> 13);
}

/* The first byte of [p, p + n) that is not c, or n. */
static size_t
not_c(const unsigned char *p, size_t n, unsigned char c)
{
	size_t i;

	for (i = 0; i < n && p[i] == c; i++)
		;
	return i;
}

/* Copies n bytes from s + so to d + dof with fn and checks the copy and the bytes around it
 * (one assertion per check: Check marks a point, a system call, for every passing one). */
static void
one(void *(*fn)(void *, const void *, size_t), unsigned char *s, unsigned char *d, size_t so,
    size_t dof, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		s[so + i] = pat(i + so);
	memset(d, GUARD, dof + n + 128);
	ck_assert_ptr_eq(fn(d + dof, s + so, n), d + dof);
	i = not_c(d, dof, GUARD);
	ck_assert_msg(i == dof, "n %zu src +%zu dst +%zu: byte %zu before", n, so, dof, i);
	for (i = 0; i < n && d[dof + i] == pat(i + so); i++)
		;
	ck_assert_msg(i == n, "n %zu src +%zu dst +%zu: byte %zu", n, so, dof, i);
	i = not_c(d + dof + n, 128, GUARD);
	ck_assert_msg(i == 128, "n %zu src +%zu dst +%zu: byte %zu after", n, so, dof, i);
}

static const size_t sizes[] = { 64, 65, 79, 80, 95, 127, 128, 129, 191, 255, 1000, 2111, 2112,
	2113, 4095, 4096, 4097, 16384, 16389, 65536 + 7 };

START_TEST(test_forward)
{
	unsigned char *s = area(), *d = area();
	size_t i, so, dof;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (so = 0; so < 20; so += 3)
			for (dof = 0; dof < 70; dof += (sizes[i] > 5000 ? 13 : 1))
				one(copy_forward, s, d, so, dof, sizes[i]);
	free(s);
	free(d);
}
END_TEST

START_TEST(test_which)
{
	unsigned char *p = area();

	/* The destination 1..63 bytes past the source modulo 4 KiB, 2112 bytes to 1 MiB apart. */
	ck_assert(copy_avoid_rep_movsb(p + 8192 + 5, p, 4096));
	ck_assert(copy_avoid_rep_movsb(p + 8192 + 1, p, COPY_MIN));
	ck_assert(copy_avoid_rep_movsb(p + 8192 + 63, p, 4096));
	ck_assert(copy_avoid_rep_movsb(p + 3 * 4096 + 31, p, 8192));
	ck_assert(copy_avoid_rep_movsb((char *)p + (1u << 30) + 5, p, COPY_MAX));
	ck_assert(!copy_avoid_rep_movsb(p + 8192 + 5, p, COPY_MIN - 1));
	ck_assert(!copy_avoid_rep_movsb((char *)p + (1u << 30) + 5, p, COPY_MAX + 1));
	ck_assert(!copy_avoid_rep_movsb(p + 8192, p, 4096));		/* same offset */
	ck_assert(!copy_avoid_rep_movsb(p + 8192 + 64, p, 4096));	/* far enough */
	ck_assert(!copy_avoid_rep_movsb(p + 8192 - 5, p, 4096));	/* behind */
	ck_assert(copy_avoid_rep_movsb(p + 8192 + 5, p + 16384, 4096));	/* 2 pages - 5 behind */
	ck_assert(!copy_avoid_rep_movsb(p + 5, p, 4096));		/* overlap: glibc's */
	/* Overlap the other way (the destination 4096 + 4091 bytes below): a forward move. */
	ck_assert(copy_avoid_rep_movsb(p, p + 4096 + 4091, 8192));
	ck_assert(copy_avoid_rep_movsb(p, p + 16358, 3 * 16358));
	ck_assert(!copy_avoid_rep_movsb(p, p + 16358 + 64, 3 * 16358));	/* far enough */
	free(p);
}
END_TEST

#ifdef ZT_COPY_OVERRIDE
static void *
call_memcpy(void *d, const void *s, size_t n)
{
	void *(*volatile fn)(void *, const void *, size_t) = memcpy;

	return fn(d, s, n);
}

static void *
call_memmove(void *d, const void *s, size_t n)
{
	void *(*volatile fn)(void *, const void *, size_t) = memmove;

	return fn(d, s, n);
}

/* Distances of moves to the front whose destination is 26, 26, 1 and 63 bytes past the source
 * modulo 4 KiB: all slow for glibc. 16358 is a record of 16336 bytes of plaintext on the wire. */
static const size_t fronts[] = { 4070, 16358, 8191, 4033 };

/* This process's memcpy and memmove are src/memcpy.c's: every case, slow or not, is right. */
START_TEST(test_override)
{
	unsigned char *s = area(), *d = area(), *ref = area();
	size_t i, n, so, dof;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (so = 0; so < 64; so += 9)
			for (dof = 0; dof < 70; dof += 7) {
				one(call_memcpy, s, d, so, dof, sizes[i]);
				one(call_memmove, s, d, so, dof, sizes[i]);
			}
	/* Overlapping moves, both ways, at the distances the override looks at. */
	for (n = COPY_MIN; n < 20000; n += 4999)
		for (dof = 1; dof < 70; dof += 5) {
			for (i = 0; i < n + dof; i++)
				s[i] = ref[i] = pat(i);
			ck_assert_ptr_eq(call_memmove(s + dof, s, n), s + dof);
			ck_assert_msg(memcmp(s + dof, ref, n) == 0, "up %zu by %zu", n, dof);
			for (i = 0; i < n + dof; i++)
				s[i] = ref[i] = pat(i);
			ck_assert_ptr_eq(call_memmove(s, s + dof, n), s);
			ck_assert_msg(memcmp(s, ref + dof, n) == 0, "down %zu by %zu", n, dof);
		}
	/* Moves to the front by a record's length, whose distance modulo 4 KiB is in the slow
	 * range (copy_forward, overlapping): what OpenSSL's read-ahead buffer does. */
	for (i = 0; i < sizeof(fronts) / sizeof(fronts[0]); i++)
		for (n = COPY_MIN; n + fronts[i] <= AREA; n += 7919) {
			size_t k, back = fronts[i];

			for (k = 0; k < n + back; k++)
				s[k] = ref[k] = pat(k);
			ck_assert(copy_avoid_rep_movsb(s, s + back, n));
			ck_assert_ptr_eq(call_memmove(s, s + back, n), s);
			ck_assert_msg(memcmp(s, ref + back, n) == 0, "front %zu by %zu", n, back);
		}
	free(s);
	free(d);
	free(ref);
}
END_TEST
#endif

Suite *
copy_suite(void)
{
	Suite *s = suite_create("copy");
	TCase *tc = tcase_create("copy");

	tcase_add_test(tc, test_forward);
	tcase_add_test(tc, test_which);
#ifdef ZT_COPY_OVERRIDE
	tcase_add_test(tc, test_override);
#endif
	suite_add_tcase(s, tc);
	return s;
}
