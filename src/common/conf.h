/* conf: table-driven configuration over inih, with flags > environment > file > defaults. */
#ifndef ZT_CONF_H
#define ZT_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum conf_type {
	CONF_STRING = 0,
	CONF_INT,	/* decimal, within [min, max] (both 0: any long) */
	CONF_BOOL,	/* yes/no, true/false, on/off, 1/0, in any case */
	CONF_DURATION,	/* util_parse_duration, stored as milliseconds */
	CONF_ENUM,	/* one of choices[] */
	CONF_HOSTPORT,	/* util_parse_hostport with default port min (0: port required) */
	CONF_PATH,	/* a non-empty path; *_file keys hold secrets or long values */
};

enum conf_source {
	CONF_SRC_UNSET = 0,
	CONF_SRC_DEFAULT,
	CONF_SRC_FILE,
	CONF_SRC_ENV,
	CONF_SRC_FLAG,
};

#define CONF_F_MULTI	0x01	/* the key may repeat; every value is kept, in order */
#define CONF_F_REQUIRED	0x02	/* conf_check fails when no source sets it */
#define CONF_F_SECRET	0x04	/* never printed: conf_dump and messages show "(hidden)" */

struct conf_entry {
	/* "" for keys before any section; "name" for [name]; "name *" for named sections
	 * such as [app db.example.com] (the instance name is the part after the space). */
	const char	*section;
	const char	*key;
	enum conf_type	 type;
	const char	*def;		/* default, written as in the file; NULL for none */
	const char	*env;		/* environment variable or NULL (not for named sections) */
	int		 flags;
	long		 min, max;	/* CONF_INT bounds; CONF_HOSTPORT: default port in min */
	const char *const *choices;	/* CONF_ENUM: NULL-terminated */
	/* Extra validation: return false and write a reason into err to reject value. */
	bool		(*validate)(const char *value, char *err, size_t errlen);
	const char	*help;		/* one line, for conf_dump and documentation */
};

struct conf;

/* A configuration over table (terminated by an entry with key NULL); the table must outlive it. */
struct conf	*conf_new(const struct conf_entry *table);
/* Frees everything, wiping secret values first; NULL is a no-op. */
void		 conf_free(struct conf *conf);

/* Reads an ini file, replacing every value and named section a previous file gave. Unknown
 * sections or keys, bad values, repeated single keys, syntax errors and lines over inih's limit
 * are errors naming file, line, key and value; all are logged, then -1 with conf unchanged. */
int		 conf_load_file(struct conf *conf, const char *path);
/* Same over len bytes of data (a NUL byte is an error); name is used in messages. */
int		 conf_load_buffer(struct conf *conf, const char *name, const char *data,
		    size_t len);
/* Same over a string (name is used in messages). */
int		 conf_load_string(struct conf *conf, const char *name, const char *text);
/* Reads every entry's environment variable that is set and not empty (for named sections:
 * never), replacing what a previous call read; on any error logs each, -1, conf unchanged. */
int		 conf_load_env(struct conf *conf);
/* Sets a value from a command-line flag; origin (e.g. "--port") is used in messages. A single
 * key takes the last flag given; a CONF_F_MULTI key collects every flag in order. */
int		 conf_set_flag(struct conf *conf, const char *section, const char *key,
		    const char *value, const char *origin);
/* Checks required keys and the table's defaults; logs each problem and returns -1. */
int		 conf_check(const struct conf *conf);

/* Effective values (highest-precedence source). section is the full section name
 * ("" or NULL for the top, "app db.example.com" for a named one). Unset without a default, or
 * a key the table lacks: NULL / 0 / false. Strings stay valid until the value is replaced
 * (a later load of the same source, conf_set_flag on the same key) or conf_free. */
const char	*conf_get(const struct conf *conf, const char *section, const char *key);
long		 conf_get_int(const struct conf *conf, const char *section, const char *key);
bool		 conf_get_bool(const struct conf *conf, const char *section, const char *key);
uint64_t	 conf_get_duration(const struct conf *conf, const char *section, const char *key);
enum conf_source conf_get_source(const struct conf *conf, const char *section, const char *key);
/* For CONF_F_MULTI keys: the number of values, and the i-th one (NULL past the end). The values
 * of the highest source that has any win whole: flags replace file values, never append. */
size_t		 conf_get_count(const struct conf *conf, const char *section,
		    const char *key);
const char	*conf_get_nth(const struct conf *conf, const char *section, const char *key,
		    size_t i);
/* Instances of a named section type ("app"), in file order (then those only flags named): count
 * and the i-th full name ("app db.example.com"); conf_section_name gives the part after the
 * type ("db.example.com"), or NULL for a section without one. */
size_t		 conf_section_count(const struct conf *conf, const char *type);
const char	*conf_section_nth(const struct conf *conf, const char *type, size_t i);
const char	*conf_section_name(const char *section);

/* Prints the effective configuration as ini text, each value followed by its source
 * ("# default", "# file edge.ini:12", "# env ZT_PORT", "# flag --port"); secrets hidden;
 * unset keys commented out ("# key =  # unset"). */
void		 conf_dump(const struct conf *conf, FILE *fp);
/* "unset", "default", "file", "env" or "flag". */
const char	*conf_source_name(enum conf_source src);

#endif
