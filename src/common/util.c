/* util: allocation, encodings, randomness, durations, addresses and atomic files. */
#include "config.h"

#include <sys/types.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "log.h"
#include "util.h"

void *
xmalloc(size_t size)
{
	void *p;

	if (size == 0)
		size = 1;
	if ((p = malloc(size)) == NULL)
		fatal("xmalloc: allocating %zu bytes", size);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p;

	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	if ((p = calloc(nmemb, size)) == NULL)
		fatal("xcalloc: allocating %zu * %zu bytes", nmemb, size);
	return p;
}

void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	size_t total;
	void *p;

	if (__builtin_mul_overflow(nmemb, size, &total))
		fatalx("xreallocarray: %zu * %zu bytes overflows", nmemb, size);
	if (total == 0)
		total = 1;
	if ((p = realloc(ptr, total)) == NULL)
		fatal("xreallocarray: allocating %zu bytes", total);
	return p;
}

char *
xstrdup(const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		fatal("xstrdup");
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char *p;

	if ((p = strndup(s, n)) == NULL)
		fatal("xstrndup");
	return p;
}

int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(ret, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("xasprintf");
	return n;
}

/* Copies src into dst; false (dst still terminated) if it did not fit. */
bool
util_strlcpy(char *dst, const char *src, size_t dstsize)
{
	size_t len = strlen(src);

	if (dstsize == 0)
		return false;
	if (len >= dstsize) {
		memcpy(dst, src, dstsize - 1);
		dst[dstsize - 1] = '\0';
		return false;
	}
	memcpy(dst, src, len + 1);
	return true;
}

bool
util_snprintf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < len;
}

void
util_cleanse(void *p, size_t len)
{
	if (p != NULL && len > 0)
		OPENSSL_cleanse(p, len);
}

bool
util_ct_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Encodes in base64 over alphabet, with '=' padding when pad is set. */
static ssize_t
b64_encode(const char *alphabet, bool pad, const void *in, size_t inlen, char *out,
    size_t outlen)
{
	const unsigned char *p = in;
	size_t o = 0, need;

	need = inlen / 3 * 4;
	if (inlen % 3 != 0)
		need += pad ? 4 : inlen % 3 + 1;
	if (inlen > SIZE_MAX / 2 || need + 1 > outlen)
		return -1;
	for (size_t i = 0; i + 2 < inlen; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = alphabet[v & 63];
	}
	if (inlen % 3 == 1) {
		uint32_t v = (uint32_t)p[inlen - 1] << 16;
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		if (pad) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (inlen % 3 == 2) {
		uint32_t v = (uint32_t)p[inlen - 2] << 16 | (uint32_t)p[inlen - 1] << 8;
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return (ssize_t)o;
}

static int
b64_value(const char *alphabet, char c)
{
	const char *p;

	if (c == '\0' || (p = strchr(alphabet, c)) == NULL)
		return -1;
	return (int)(p - alphabet);
}

/* Decodes strictly: exact alphabet, padding only when pad, zero trailing bits. */
static ssize_t
b64_decode(const char *alphabet, bool pad, const char *in, size_t inlen, void *out,
    size_t outlen)
{
	unsigned char *o = out;
	size_t n = 0, rem;
	uint32_t acc = 0;
	int bits = 0;

	if (pad) {
		if (inlen % 4 != 0)
			return -1;
		if (inlen >= 1 && in[inlen - 1] == '=')
			inlen--;
		if (inlen >= 1 && in[inlen - 1] == '=')
			inlen--;
	}
	rem = inlen % 4;
	if (rem == 1)
		return -1;
	for (size_t i = 0; i < inlen; i++) {
		int v = b64_value(alphabet, in[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n >= outlen)
				return -1;
			o[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)	/* non-zero trailing bits: a second spelling of the same bytes */
		return -1;
	return (ssize_t)n;
}

ssize_t
util_b64url_encode(const void *in, size_t inlen, char *out, size_t outlen)
{
	return b64_encode(b64url_alphabet, false, in, inlen, out, outlen);
}

ssize_t
util_b64url_decode(const char *in, size_t inlen, void *out, size_t outlen)
{
	return b64_decode(b64url_alphabet, false, in, inlen, out, outlen);
}

ssize_t
util_b64_encode(const void *in, size_t inlen, char *out, size_t outlen)
{
	return b64_encode(b64_alphabet, true, in, inlen, out, outlen);
}

ssize_t
util_b64_decode(const char *in, size_t inlen, void *out, size_t outlen)
{
	return b64_decode(b64_alphabet, true, in, inlen, out, outlen);
}

ssize_t
util_hex_encode(const void *in, size_t inlen, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = in;

	if (inlen > (SIZE_MAX - 1) / 2 || inlen * 2 + 1 > outlen)
		return -1;
	for (size_t i = 0; i < inlen; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 15];
	}
	out[inlen * 2] = '\0';
	return (ssize_t)(inlen * 2);
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

ssize_t
util_hex_decode(const char *in, size_t inlen, void *out, size_t outlen)
{
	unsigned char *o = out;

	if (inlen % 2 != 0 || inlen / 2 > outlen)
		return -1;
	for (size_t i = 0; i < inlen; i += 2) {
		int hi = hex_value(in[i]), lo = hex_value(in[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		o[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	return (ssize_t)(inlen / 2);
}

int
util_random_bytes(void *buf, size_t len)
{
	if (len > INT_MAX || RAND_bytes(buf, (int)len) != 1) {
		log_ssl_errors("util_random_bytes: the random generator failed");
		return -1;
	}
	return 0;
}

/* A uniform value in [0, bound), rejecting the biased low range as arc4random_uniform does. */
uint32_t
util_random_uniform(uint32_t bound)
{
	uint32_t r, min;

	if (bound < 2)
		return 0;
	min = -bound % bound;
	do {
		if (util_random_bytes(&r, sizeof(r)) == -1)
			fatalx("util_random_uniform: no randomness");
	} while (r < min);
	return r % bound;
}

/* Parses durations such as "30s", "1h30m", "250ms"; a bare number is seconds. */
int
util_parse_duration(const char *s, uint64_t *ms, char *err, size_t errlen)
{
	static const struct {
		const char	*unit;
		uint64_t	 ms;
	} units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 },
	};
	const char *p = s;
	uint64_t total = 0;

	if (*p == '\0') {
		snprintf(err, errlen, "empty duration: write e.g. 30s, 15m or 8760h");
		return -1;
	}
	/* A bare number means seconds, as sleep(1) and most configuration files read it. */
	if (strspn(s, "0123456789") == strlen(s)) {
		long v;
		if (util_parse_long(s, 0, (long)(UINT64_MAX / 1000 > LONG_MAX ? LONG_MAX :
		    UINT64_MAX / 1000), &v) == -1) {
			snprintf(err, errlen, "duration \"%s\" is too large", s);
			return -1;
		}
		*ms = (uint64_t)v * 1000;
		return 0;
	}
	while (*p != '\0') {
		uint64_t v = 0, part;
		size_t i, digits = 0;

		while (isdigit((unsigned char)*p)) {
			if (__builtin_mul_overflow(v, 10, &v) ||
			    __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
				goto toolarge;
			p++;
			digits++;
		}
		if (digits == 0) {
			snprintf(err, errlen, "bad duration \"%s\": expected a number at \"%s\" "
			    "(write e.g. 30s, 15m, 1h30m, 8760h)", s, p);
			return -1;
		}
		for (i = 0; i < nitems(units); i++) {
			size_t ulen = strlen(units[i].unit);
			if (strncmp(p, units[i].unit, ulen) == 0 &&
			    !isalpha((unsigned char)p[ulen]))
				break;
		}
		if (i == nitems(units)) {
			snprintf(err, errlen, "bad duration \"%s\": unknown unit at \"%s\" "
			    "(use ms, s, m, h or d)", s, p);
			return -1;
		}
		p += strlen(units[i].unit);
		if (__builtin_mul_overflow(v, units[i].ms, &part) ||
		    __builtin_add_overflow(total, part, &total))
			goto toolarge;
	}
	*ms = total;
	return 0;
toolarge:
	snprintf(err, errlen, "duration \"%s\" is too large", s);
	return -1;
}

void
util_format_duration(uint64_t ms, char *buf, size_t len)
{
	static const struct {
		const char	*unit;
		uint64_t	 ms;
	} units[] = {
		{ "h", 3600000 }, { "m", 60000 }, { "s", 1000 }, { "ms", 1 },
	};
	size_t pos = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (ms == 0) {
		util_strlcpy(buf, "0s", len);
		return;
	}
	for (size_t i = 0; i < nitems(units); i++) {
		uint64_t n = ms / units[i].ms;
		int w;

		if (n == 0)
			continue;
		ms -= n * units[i].ms;
		w = snprintf(buf + pos, len - pos, "%llu%s", (unsigned long long)n, units[i].unit);
		if (w < 0 || (size_t)w >= len - pos)
			return;
		pos += (size_t)w;
	}
}

int
util_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
util_parse_port(const char *s, bool allow_zero, uint16_t *port)
{
	long v;

	if (strspn(s, "0123456789") != strlen(s) ||
	    util_parse_long(s, allow_zero ? 0 : 1, 65535, &v) == -1)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* Parses host:port, [v6]:port, a bare v6 address or a bare host (with a default port). */
int
util_parse_hostport(const char *s, uint16_t default_port, struct util_hostport *hp,
    char *err, size_t errlen)
{
	const char *host, *port = NULL;
	size_t hostlen;
	struct in6_addr a6;

	memset(hp, 0, sizeof(*hp));
	if (s == NULL || *s == '\0') {
		snprintf(err, errlen, "empty address: write host:port");
		return -1;
	}
	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL) {
			snprintf(err, errlen, "bad address \"%s\": missing ']'", s);
			return -1;
		}
		host = s + 1;
		hostlen = (size_t)(close - host);
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0') {
			snprintf(err, errlen, "bad address \"%s\": expected ':' after ']'", s);
			return -1;
		}
		{
			char tmp[INET6_ADDRSTRLEN + 1];
			if (hostlen == 0 || hostlen >= sizeof(tmp)) {
				snprintf(err, errlen, "bad address \"%s\": not an IPv6 address", s);
				return -1;
			}
			memcpy(tmp, host, hostlen);
			tmp[hostlen] = '\0';
			if (inet_pton(AF_INET6, tmp, &a6) != 1) {
				snprintf(err, errlen, "bad address \"%s\": \"%s\" is not an IPv6 "
				    "address", s, tmp);
				return -1;
			}
		}
	} else {
		const char *colon = strrchr(s, ':');
		host = s;
		if (colon != NULL && strchr(s, ':') != colon) {
			/* Several colons: a bare IPv6 address without brackets, so no port. */
			if (inet_pton(AF_INET6, s, &a6) != 1) {
				snprintf(err, errlen, "bad address \"%s\": write IPv6 addresses with "
				    "a port as [addr]:port", s);
				return -1;
			}
			hostlen = strlen(s);
		} else if (colon != NULL) {
			hostlen = (size_t)(colon - s);
			port = colon + 1;
		} else
			hostlen = strlen(s);
		for (size_t i = 0; i < hostlen; i++) {
			unsigned char c = (unsigned char)host[i];
			if (!isalnum(c) && c != '-' && c != '.' && c != '_' && c != ':') {
				snprintf(err, errlen, "bad address \"%s\": character '%c' is not "
				    "allowed in a host name", s, isprint(c) ? c : '?');
				return -1;
			}
		}
	}
	if (hostlen == 0) {
		snprintf(err, errlen, "bad address \"%s\": the host is missing", s);
		return -1;
	}
	if (hostlen >= sizeof(hp->host)) {
		snprintf(err, errlen, "bad address: the host is longer than %zu bytes",
		    sizeof(hp->host) - 1);
		return -1;
	}
	memcpy(hp->host, host, hostlen);
	hp->host[hostlen] = '\0';
	if (port == NULL) {
		if (default_port == 0) {
			snprintf(err, errlen, "bad address \"%s\": the port is missing "
			    "(write host:port)", s);
			return -1;
		}
		hp->port = default_port;
	} else if (util_parse_port(port, false, &hp->port) == -1) {
		snprintf(err, errlen, "bad address \"%s\": port \"%s\" is not a number from 1 "
		    "to 65535", s, port);
		return -1;
	}
	return 0;
}

int
util_sockaddr_from(const char *host, uint16_t port, struct sockaddr_storage *ss,
    socklen_t *sslen)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*sslen = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*sslen = sizeof(*sin6);
		return 0;
	}
	return -1;
}

const char *
util_sockaddr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
	} else if (sa->sa_family == AF_UNIX)
		snprintf(buf, len, "unix");
	else
		snprintf(buf, len, "(family %d)", sa->sa_family);
	return buf;
}

/* Writes data to path via a temporary file, fsync and rename, so readers never see half a file. */
int
util_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char *tmp = NULL, *dir = NULL, *slash;
	const char *p = data;
	int fd = -1, dfd = -1, ret = -1, saved;
	unsigned char rnd[6];
	char rhex[sizeof(rnd) * 2 + 1];

	if (util_random_bytes(rnd, sizeof(rnd)) == -1) {
		errno = EIO;
		return -1;
	}
	util_hex_encode(rnd, sizeof(rnd), rhex, sizeof(rhex));
	xasprintf(&tmp, "%s.tmp-%s", path, rhex);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd == -1)
		goto out;
	if (fchmod(fd, mode) == -1)	/* the umask must not loosen or tighten it */
		goto out;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) == -1)
		goto out;
	free(tmp);
	tmp = NULL;
	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL) {
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
	} else {
		free(dir);
		dir = xstrdup(".");
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1)
		(void)fsync(dfd);
	ret = 0;
out:
	saved = errno;
	if (fd != -1)
		close(fd);
	if (dfd != -1)
		close(dfd);
	if (tmp != NULL)
		unlink(tmp);
	free(tmp);
	free(dir);
	errno = saved;
	return ret;
}

/* Reads from fd to EOF, at most maxlen bytes. */
static int
read_fd(int fd, size_t maxlen, char **data, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = xmalloc(cap + 1);

	for (;;) {
		ssize_t r;

		if (n == cap) {
			if (cap > maxlen) {
				util_cleanse(buf, n);
				free(buf);
				errno = EFBIG;
				return -1;
			}
			cap *= 2;
			buf = xreallocarray(buf, cap + 1, 1);
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			util_cleanse(buf, n);
			free(buf);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > maxlen) {
		util_cleanse(buf, n);
		free(buf);
		errno = EFBIG;
		return -1;
	}
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
}

int
util_read_file(const char *path, size_t maxlen, char **data, size_t *len)
{
	int fd, ret, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	ret = read_fd(fd, maxlen, data, len);
	saved = errno;
	close(fd);
	errno = saved;
	return ret;
}

/* Reads a secret file that only its owner may read, without one trailing newline. */
int
util_read_secret_file(const char *path, size_t maxlen, char **data, size_t *len)
{
	struct stat st;
	int fd, ret = -1, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto out;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		errno = EPERM;
		goto out;
	}
	if ((ret = read_fd(fd, maxlen, data, len)) == 0) {
		if (*len > 0 && (*data)[*len - 1] == '\n')
			(*data)[--*len] = '\0';
		if (*len > 0 && (*data)[*len - 1] == '\r')
			(*data)[--*len] = '\0';
	}
out:
	saved = errno;
	close(fd);
	errno = saved;
	return ret;
}

int
util_mkdir_p(const char *path, mode_t mode)
{
	char *p;
	int ret = -1;

	if (*path == '\0') {
		errno = ENOENT;
		return -1;
	}
	p = xstrdup(path);
	for (char *s = p + 1; ; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			if (mkdir(p, mode) == -1 && errno != EEXIST)
				goto out;
			*s = c;
			if (c == '\0')
				break;
		}
	}
	ret = 0;
out:
	free(p);
	return ret;
}

int
util_dir_lock(const char *dir, char *err, size_t errlen)
{
	char *path;
	int fd, saved;

	xasprintf(&path, "%s/.lock", dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) == -1) {
		saved = errno;
		snprintf(err, errlen, "cannot open the lock %s: %s", path, strerror(saved));
		free(path);
		errno = saved;
		return -1;
	}
	while (flock(fd, LOCK_EX) == -1) {
		if (errno == EINTR)
			continue;
		saved = errno;
		snprintf(err, errlen, "cannot lock %s: %s", path, strerror(saved));
		close(fd);
		free(path);
		errno = saved;
		return -1;
	}
	free(path);
	return fd;
}

void
util_time_format(time_t t, char buf[UTIL_TIME_LEN + 1])
{
	struct tm tm;

	if (t < 0)
		t = 0;
	if (t > UTIL_TIME_MAX)
		t = UTIL_TIME_MAX;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, UTIL_TIME_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm) != UTIL_TIME_LEN)
		memcpy(buf, "1970-01-01T00:00:00Z", UTIL_TIME_LEN + 1);
}

bool
util_time_parse(const char *s, time_t *out)
{
	static const char pattern[] = "dddd-dd-ddTdd:dd:ddZ";
	char back[UTIL_TIME_LEN + 1];
	struct tm tm;
	time_t t;
	int v[6], k = 0, acc = 0;

	if (strlen(s) != UTIL_TIME_LEN)
		return false;
	for (size_t i = 0; i < UTIL_TIME_LEN; i++) {
		if (pattern[i] == 'd') {
			if (s[i] < '0' || s[i] > '9')
				return false;
			acc = acc * 10 + (s[i] - '0');
		} else {
			if (s[i] != pattern[i])
				return false;
			v[k++] = acc;
			acc = 0;
		}
	}
	if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 ||
	    v[4] > 59 || v[5] > 59)
		return false;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	if ((t = timegm(&tm)) == (time_t)-1)
		return false;
	/* timegm normalises February 30 into March: only a date that prints back is real. */
	util_time_format(t, back);
	if (strcmp(back, s) != 0)
		return false;
	*out = t;
	return true;
}

static bool
util_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool
util_host_name(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (s[i] == '.' || s[i] == '\0') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
		} else if (util_alnum(s[i]) || (s[i] == '-' && label > 0)) {
			if (++label > 63)
				return false;
		} else
			return false;
	}
	return true;
}

bool
util_email_valid(const char *s, bool file_name)
{
	static const char atext[] = "!#$%&'*+-/=?^_`{|}~";
	const char *at = strchr(s, '@');
	size_t llen;

	if (at == NULL || strlen(s) > 254)
		return false;
	llen = (size_t)(at - s);
	if (llen == 0 || llen > 64 || s[0] == '.' || at[-1] == '.')
		return false;
	for (size_t i = 0; i < llen; i++) {
		if (s[i] == '.' && s[i + 1] == '.')
			return false;
		if (file_name && s[i] == '/')
			return false;
		if (!util_alnum(s[i]) && s[i] != '.' && strchr(atext, s[i]) == NULL)
			return false;
	}
	return util_host_name(at + 1);
}

size_t
util_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[64];

	if (la >= nitems(row) || lb >= nitems(row))
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t best = prev + cost;
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

const char *
util_quote(const char *s, char *buf, size_t len)
{
	size_t n = 0, max = len - 1;

	if (len < 4) {
		if (len > 0)
			buf[0] = '\0';
		return buf;
	}
	if (strlen(s) > max)
		max -= 3;
	for (; s[n] != '\0' && n < max; n++)
		buf[n] = s[n] >= 0x20 && s[n] < 0x7f ? s[n] : '?';
	buf[n] = '\0';
	if (s[n] != '\0')
		memcpy(buf + n, "...", 4);
	return buf;
}
