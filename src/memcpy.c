/*
 * memcpy and memmove for the whole zt process (its own code, OpenSSL's and libevent's: an
 * executable's definitions come first in the dynamic linker's lookup), built when configure
 * finds x86-64 glibc and neither sanitizers nor fuzzers are on (--disable-copy-override turns
 * it off). Every call goes to glibc's own implementation, except the copies glibc would make
 * with a slow `rep movsb` on AMD Zen 3 and 4 (see common/copy.h): those take copy_forward.
 * On a zt data path that is up to a fifth of the edge's CPU time (doc/performance.md).
 */
#undef _FORTIFY_SOURCE
#include "config.h"

#ifdef ZT_COPY_OVERRIDE

#include <stddef.h>
#include <string.h>

#include "common/copy.h"

/* glibc's own copies, under C names the compiler does not take for its builtins (it would turn
 * them back into calls to memcpy/memmove: these ones). __memcpy_chk (GLIBC_2.3.4) runs glibc's
 * memcpy after a size check that (size_t)-1 always passes; bcopy (src and dst swapped) jumps
 * straight to glibc's memmove. Not __memmove_chk: valgrind 3.19 checks that one as a memcpy and
 * reports every overlapping move as an error. */
extern void	*zt_glibc_memcpy_chk(void *, const void *, size_t, size_t)
		    __asm__("__memcpy_chk");
extern void	 zt_glibc_bcopy(const void *, void *, size_t) __asm__("bcopy");

void *
memcpy(void *restrict dst, const void *restrict src, size_t n)
{
	if (__builtin_expect(!copy_avoid_rep_movsb(dst, src, n), 1))
		return zt_glibc_memcpy_chk(dst, src, n, (size_t)-1);
	return copy_forward(dst, src, n);
}

void *
memmove(void *dst, const void *src, size_t n)
{
	if (__builtin_expect(!copy_avoid_rep_movsb(dst, src, n), 1)) {
		zt_glibc_bcopy(src, dst, n);
		return dst;
	}
	return copy_forward(dst, src, n);
}

#endif
