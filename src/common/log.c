/* log: leveled messages as text on a terminal or JSON lines, with secret redaction. */
#include "config.h"

#include <sys/time.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>

#include "log.h"
#include "util.h"

#define LOG_LINE_MAX	4096
#define LOG_REDACT_MAX	64
#define LOG_REDACT_MIN	4	/* shorter strings would redact ordinary words */

static const char *log_applet = "zt";
static enum log_level log_level = LOG_LEVEL_INFO;
static enum log_format log_format = LOG_FORMAT_AUTO;
static FILE *log_fp;
static char *log_secrets[LOG_REDACT_MAX];
static size_t log_nsecrets;

static const char *const log_level_names[] = { "error", "warn", "info", "debug" };

static void log_libevent(int severity, const char *msg);
static void log_libevent_fatal(int err) __attribute__((noreturn));

/* Sets the applet name carried by every line and routes libevent's messages here. */
void
log_init(const char *applet, enum log_level level, enum log_format format)
{
	log_applet = applet != NULL ? applet : "zt";
	log_level = level;
	log_format = format;
	event_set_log_callback(log_libevent);
	event_set_fatal_callback(log_libevent_fatal);
}

void
log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level
log_get_level(void)
{
	return log_level;
}

void
log_set_format(enum log_format format)
{
	log_format = format;
}

void
log_set_output(FILE *fp)
{
	log_fp = fp;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < nitems(log_level_names); i++) {
		if (strcmp(s, log_level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcmp(s, "warning") == 0) {
		*out = LOG_LEVEL_WARN;
		return 0;
	}
	return -1;
}

int
log_format_parse(const char *s, enum log_format *out)
{
	if (strcmp(s, "auto") == 0)
		*out = LOG_FORMAT_AUTO;
	else if (strcmp(s, "text") == 0)
		*out = LOG_FORMAT_TEXT;
	else if (strcmp(s, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return -1;
	return 0;
}

int
log_apply_flag(const char *prog, bool format, const char *value)
{
	enum log_format f;
	enum log_level l;

	if (format) {
		if (log_format_parse(value, &f) == -1) {
			fprintf(stderr, "%s: --log-format \"%s\": use text or json\n", prog, value);
			return -1;
		}
		log_set_format(f);
	} else {
		if (log_level_parse(value, &l) == -1) {
			fprintf(stderr, "%s: --log-level \"%s\": use error, warn, info or debug\n",
			    prog, value);
			return -1;
		}
		log_set_level(l);
	}
	return 0;
}

/* Registers a secret: any later line containing it shows "[REDACTED]" instead. */
void
log_redact_add(const char *secret)
{
	if (secret == NULL || strlen(secret) < LOG_REDACT_MIN)
		return;
	for (size_t i = 0; i < log_nsecrets; i++)
		if (strcmp(log_secrets[i], secret) == 0)
			return;
	if (log_nsecrets == LOG_REDACT_MAX) {
		/* Forget the oldest: a full table must never stop new secrets being hidden. */
		util_cleanse(log_secrets[0], strlen(log_secrets[0]));
		free(log_secrets[0]);
		memmove(log_secrets, log_secrets + 1, (LOG_REDACT_MAX - 1) * sizeof(*log_secrets));
		log_nsecrets--;
	}
	log_secrets[log_nsecrets++] = xstrdup(secret);
}

void
log_redact_clear(void)
{
	for (size_t i = 0; i < log_nsecrets; i++) {
		util_cleanse(log_secrets[i], strlen(log_secrets[i]));
		free(log_secrets[i]);
		log_secrets[i] = NULL;
	}
	log_nsecrets = 0;
}

/* Copies msg into out (of size len) with every registered secret replaced by a marker. */
static void
log_redact(const char *msg, char *out, size_t len)
{
	static const char marker[] = "[REDACTED]";
	size_t o = 0;

	while (*msg != '\0' && o + 1 < len) {
		size_t i;

		for (i = 0; i < log_nsecrets; i++) {
			size_t slen = strlen(log_secrets[i]);
			if (strncmp(msg, log_secrets[i], slen) == 0)
				break;
		}
		if (i < log_nsecrets) {
			size_t mlen = sizeof(marker) - 1;
			if (o + mlen >= len)
				break;
			memcpy(out + o, marker, mlen);
			o += mlen;
			msg += strlen(log_secrets[i]);
		} else
			out[o++] = *msg++;
	}
	out[o] = '\0';
}

/* Appends s to buf as the body of a JSON string; false if it did not fit. */
bool
log_json_escape(char *buf, size_t len, size_t *pos, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t p = *pos;

	for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++) {
		char esc[7];
		size_t n = 0;

		switch (*c) {
		case '"':  esc[n++] = '\\'; esc[n++] = '"'; break;
		case '\\': esc[n++] = '\\'; esc[n++] = '\\'; break;
		case '\n': esc[n++] = '\\'; esc[n++] = 'n'; break;
		case '\r': esc[n++] = '\\'; esc[n++] = 'r'; break;
		case '\t': esc[n++] = '\\'; esc[n++] = 't'; break;
		default:
			if (*c < 0x20 || *c == 0x7f) {
				esc[n++] = '\\'; esc[n++] = 'u'; esc[n++] = '0'; esc[n++] = '0';
				esc[n++] = hex[*c >> 4]; esc[n++] = hex[*c & 0xf];
			} else
				esc[n++] = (char)*c;
		}
		if (p + n >= len) {
			buf[*pos] = '\0';
			return false;
		}
		memcpy(buf + p, esc, n);
		p += n;
	}
	buf[p] = '\0';
	*pos = p;
	return true;
}

/* Writes one complete line with a single write so concurrent writers do not interleave. */
static void
log_write(const char *line, size_t len)
{
	FILE *fp = log_fp != NULL ? log_fp : stderr;
	int fd = fileno(fp);

	fflush(fp);
	while (len > 0) {
		ssize_t n = write(fd, line, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		line += n;
		len -= (size_t)n;
	}
}

void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char raw[LOG_LINE_MAX], msg[LOG_LINE_MAX], line[LOG_LINE_MAX * 2], ts[40];
	struct timeval tv;
	struct tm tm;
	enum log_format format = log_format;
	int saved_errno = errno;
	int n;
	size_t pos;

	if (level > log_level)
		return;
	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	if (n < 0)
		util_strlcpy(raw, "(unformattable message)", sizeof(raw));
	else if ((size_t)n >= sizeof(raw))
		memcpy(raw + sizeof(raw) - 16, " [truncated]", sizeof(" [truncated]"));
	log_redact(raw, msg, sizeof(msg));
	if (log_nsecrets > 0)
		util_cleanse(raw, sizeof(raw));

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = (int)strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - (size_t)n, ".%03ldZ", (long)(tv.tv_usec / 1000));

	if (format == LOG_FORMAT_AUTO)
		format = isatty(fileno(log_fp != NULL ? log_fp : stderr)) ? LOG_FORMAT_TEXT :
		    LOG_FORMAT_JSON;
	if (format == LOG_FORMAT_TEXT) {
		n = snprintf(line, sizeof(line), "%s %s %s: %s\n", ts, log_applet,
		    log_level_names[level], msg);
		if (n < 0)
			goto out;
		pos = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
		line[pos - 1] = '\n';
	} else {
		n = snprintf(line, sizeof(line), "{\"time\":\"%s\",\"level\":\"%s\",\"applet\":\"",
		    ts, log_level_names[level]);
		pos = (size_t)n;
		/* The buffer is twice the message: the escapes of a 4 KiB message always fit
		 * except for control characters, which are cut at the end of the buffer. */
		log_json_escape(line, sizeof(line) - 8, &pos, log_applet);
		memcpy(line + pos, "\",\"msg\":\"", 9);
		pos += 9;
		line[pos] = '\0';
		log_json_escape(line, sizeof(line) - 4, &pos, msg);
		memcpy(line + pos, "\"}\n", 4);
		pos += 3;
	}
	log_write(line, pos);
out:
	errno = saved_errno;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

/* Logs fmt followed by ": strerror(errno)". */
static void
log_verrno(enum log_level level, const char *fmt, va_list ap)
{
	char buf[LOG_LINE_MAX];
	int saved_errno = errno;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	log_msg(level, "%s: %s", buf, strerror(saved_errno));
	errno = saved_errno;
}

#define LOG_FN(name, level)				\
	void name(const char *fmt, ...)			\
	{						\
		va_list ap;				\
		va_start(ap, fmt);			\
		log_vmsg(level, fmt, ap);		\
		va_end(ap);				\
	}
#define LOG_FN_ERRNO(name, level)			\
	void name(const char *fmt, ...)			\
	{						\
		va_list ap;				\
		va_start(ap, fmt);			\
		log_verrno(level, fmt, ap);		\
		va_end(ap);				\
	}

LOG_FN_ERRNO(log_error, LOG_LEVEL_ERROR)
LOG_FN(log_errorx, LOG_LEVEL_ERROR)
LOG_FN_ERRNO(log_warn, LOG_LEVEL_WARN)
LOG_FN(log_warnx, LOG_LEVEL_WARN)
LOG_FN(log_info, LOG_LEVEL_INFO)
LOG_FN(log_debug, LOG_LEVEL_DEBUG)

/* Logs every entry of OpenSSL's error queue (draining it), then the message. */
void
log_ssl_errors(const char *fmt, ...)
{
	const char *file, *func, *data;
	unsigned long e;
	int line, flags;
	char buf[256];
	va_list ap;

	while ((e = ERR_get_error_all(&file, &line, &func, &data, &flags)) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_errorx("openssl: %s%s%s", buf,
		    (flags & ERR_TXT_STRING) && data != NULL ? ": " : "",
		    (flags & ERR_TXT_STRING) && data != NULL ? data : "");
	}
	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_verrno(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}

static void
log_libevent(int severity, const char *msg)
{
	enum log_level level;

	switch (severity) {
	case EVENT_LOG_DEBUG:	level = LOG_LEVEL_DEBUG; break;
	case EVENT_LOG_MSG:	level = LOG_LEVEL_INFO; break;
	case EVENT_LOG_WARN:	level = LOG_LEVEL_WARN; break;
	default:		level = LOG_LEVEL_ERROR; break;
	}
	log_msg(level, "libevent: %s", msg);
}

static void
log_libevent_fatal(int err)
{
	fatalx("libevent: fatal error %d", err);
}
