/* log: leveled messages as text on a terminal or JSON lines, with secret redaction. */
#ifndef ZT_LOG_H
#define ZT_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

enum log_format {
	LOG_FORMAT_AUTO = 0,	/* text on a terminal, JSON lines otherwise */
	LOG_FORMAT_TEXT,
	LOG_FORMAT_JSON,
};

/* Sets the applet name carried by every line and routes libevent's messages here. */
void	log_init(const char *applet, enum log_level level, enum log_format format);
void	log_set_level(enum log_level level);
enum log_level log_get_level(void);
void	log_set_format(enum log_format format);
/* Sends lines to fp instead of stderr (NULL restores stderr); the caller keeps fp open. */
void	log_set_output(FILE *fp);
/* Parses "error|warn|info|debug"; returns -1 on anything else. */
int	log_level_parse(const char *s, enum log_level *out);
/* Parses "auto|text|json"; returns -1 on anything else. */
int	log_format_parse(const char *s, enum log_format *out);
/* Applies the value of a --log-format (format true) or --log-level flag of program prog
 * ("zt tunnel"); -1 after saying on stderr what the flag takes. */
int	log_apply_flag(const char *prog, bool format, const char *value);

/* Registers a secret: any later line containing it shows "[REDACTED]" instead. */
void	log_redact_add(const char *secret);
/* Forgets and wipes all registered secrets. */
void	log_redact_clear(void);

void	log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));	/* + strerror(errno) */
void	log_errorx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));	/* + strerror(errno) */
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void	log_vmsg(enum log_level level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Logs every entry of OpenSSL's error queue (draining it), then the message, at error level. */
void	log_ssl_errors(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* For invariants only: logs and exits with status 1. */
void	fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));	/* + strerror */
void	fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Appends s to buf (of size len, used so far *pos) as a JSON string body with escapes.
 * Returns false if it did not fit (buf is then left NUL-terminated at the old end). */
bool	log_json_escape(char *buf, size_t len, size_t *pos, const char *s);

#endif
