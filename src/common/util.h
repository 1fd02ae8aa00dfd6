/* util: allocation, encodings, randomness, durations, addresses and atomic files. */
#ifndef ZT_UTIL_H
#define ZT_UTIL_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation wrappers: they never return NULL (they call fatal on exhaustion). */
void	*xmalloc(size_t size);
void	*xcalloc(size_t nmemb, size_t size);
void	*xreallocarray(void *ptr, size_t nmemb, size_t size);
char	*xstrdup(const char *s);
char	*xstrndup(const char *s, size_t n);
int	 xasprintf(char **ret, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Copies src into dst of size dstsize; returns false (dst still terminated) if src did not fit. */
bool	 util_strlcpy(char *dst, const char *src, size_t dstsize);
/* snprintf that returns false on truncation or error instead of a length. */
bool	 util_snprintf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Wipes memory in a way the compiler cannot remove. */
void	 util_cleanse(void *p, size_t len);
/* Constant-time comparison of two buffers of the same length: true if equal. */
bool	 util_ct_equal(const void *a, const void *b, size_t len);

/* base64url without padding (RFC 4648 section 5). Encoding needs 4*ceil(n/3)+1 bytes.
 * Decoding is strict: no padding, no whitespace, no '+' or '/', zero trailing bits.
 * Both return the output length, or -1 if the output does not fit or the input is invalid. */
ssize_t	 util_b64url_encode(const void *in, size_t inlen, char *out, size_t outlen);
ssize_t	 util_b64url_decode(const char *in, size_t inlen, void *out, size_t outlen);
/* Standard base64 with padding (RFC 4648 section 4), same conventions. */
ssize_t	 util_b64_encode(const void *in, size_t inlen, char *out, size_t outlen);
ssize_t	 util_b64_decode(const char *in, size_t inlen, void *out, size_t outlen);
/* Lower-case hex. Decoding accepts either case and needs an even length. */
ssize_t	 util_hex_encode(const void *in, size_t inlen, char *out, size_t outlen);
ssize_t	 util_hex_decode(const char *in, size_t inlen, void *out, size_t outlen);

/* Fills buf with len cryptographically secure random bytes (OpenSSL's RAND_bytes). */
int	 util_random_bytes(void *buf, size_t len);
/* A uniformly distributed random number in [0, bound). */
uint32_t util_random_uniform(uint32_t bound);

/* Parses a duration such as "30s", "15m", "8760h", "1h30m", "250ms", "2d" into milliseconds.
 * A bare number is seconds. On error returns -1 and writes a reason into err. */
int	 util_parse_duration(const char *s, uint64_t *ms, char *err, size_t errlen);
/* Formats milliseconds as the shortest exact form ("90s" -> "1m30s"). */
void	 util_format_duration(uint64_t ms, char *buf, size_t len);

/* A parsed "host:port" or "[v6]:port". host is a name or numeric address. */
struct util_hostport {
	char		host[256];
	uint16_t	port;
};
/* Parses host:port, [v6]:port, a bare v6 address or (if default_port is nonzero) a bare host.
 * On error returns -1 and writes a reason into err. */
int	 util_parse_hostport(const char *s, uint16_t default_port, struct util_hostport *hp,
	    char *err, size_t errlen);
/* Parses a port number 1..65535 (0 allowed when allow_zero). */
int	 util_parse_port(const char *s, bool allow_zero, uint16_t *port);
/* Converts a numeric host and a port into a sockaddr; returns -1 if host is not numeric. */
int	 util_sockaddr_from(const char *host, uint16_t port, struct sockaddr_storage *ss,
	    socklen_t *sslen);
/* Formats a sockaddr as "1.2.3.4:53" or "[::1]:53" into buf (at least 64 bytes). */
const char *util_sockaddr_str(const struct sockaddr *sa, char *buf, size_t len);
/* Parses a decimal integer in [min, max] with no trailing garbage. */
int	 util_parse_long(const char *s, long min, long max, long *out);

/* Writes data to path atomically: a temporary file in the same directory, fsync, rename,
 * fsync of the directory. The file gets mode (e.g. 0600). Returns 0, or -1 with errno set. */
int	 util_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Reads a whole file of at most maxlen bytes into a NUL-terminated buffer the caller frees.
 * Returns -1 with errno set (EFBIG when it is larger than maxlen). */
int	 util_read_file(const char *path, size_t maxlen, char **data, size_t *len);
/* Reads a secret from a file, refusing it when group or others may read it (EPERM), and
 * strips one trailing newline. */
int	 util_read_secret_file(const char *path, size_t maxlen, char **data, size_t *len);
/* Creates a directory (and parents) with the given mode; existing directories are fine. */
int	 util_mkdir_p(const char *path, mode_t mode);

/* Takes DIR/.lock, the state directory's lock (open, then flock LOCK_EX, retried on EINTR).
 * Returns the descriptor to close, or -1 with "cannot open the lock PATH: WHY" or
 * "cannot lock PATH: WHY" in err (errno kept). */
int	 util_dir_lock(const char *dir, char *err, size_t errlen);

/* Times in files as exactly "YYYY-MM-DDTHH:MM:SSZ" (UTC, years 1970-9999). */
#define UTIL_TIME_LEN	20				/* "2027-11-27T21:00:00Z" */
#define UTIL_TIME_MAX	((time_t)253402300799LL)	/* 9999-12-31T23:59:59Z */
/* Formats t, clamped to [0, UTIL_TIME_MAX] so that every value prints and parses back. */
void	 util_time_format(time_t t, char buf[UTIL_TIME_LEN + 1]);
/* Parses exactly that form and a real calendar date (it must format back to itself). */
bool	 util_time_parse(const char *s, time_t *out);

/* Whether s is a DNS host name: LDH labels of 1-63 characters, 253 in all, no trailing dot. */
bool	 util_host_name(const char *s);
/* Whether s is LOCAL@DOMAIN of at most 254 characters: a dot-atom local part of at most 64
 * (RFC 5322 section 3.2.3, RFC 5321 section 4.5.3.1) and a host name. With file_name, '/' is
 * refused too (the address names a file). */
bool	 util_email_valid(const char *s, bool file_name);

/* Levenshtein distance between two short strings (for "did you mean"). */
size_t	 util_edit_distance(const char *a, const char *b);

/* Copies s into buf (len bytes) for a message: bytes outside printable ASCII become '?', and a
 * string too long is cut with "...". Returns buf. */
const char	*util_quote(const char *s, char *buf, size_t len);

#endif
