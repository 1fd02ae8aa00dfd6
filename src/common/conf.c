/* conf: table-driven configuration over inih, with flags > environment > file > defaults. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "conf.h"
#include "log.h"
#include "util.h"

#define CONF_FILE_MAX	(1024 * 1024)	/* larger is not a configuration file */
#define CONF_NAMED_MAX	4096		/* named sections per file: lookups are linear */
#define CONF_REASON_MAX	1024
#define CONF_QUOTE_MAX	512		/* a quoted value in a message; cut beyond */
#define CONF_QLINE_MAX	96		/* a quoted line in a syntax error */
#define CONF_HIDDEN	"(hidden)"
#define CONF_BOM	"\xef\xbb\xbf"

/* Sources that hold values, as indexes into struct conf's layers, lowest precedence first. */
enum {
	CONF_LAYER_FILE = 0,
	CONF_LAYER_ENV,
	CONF_LAYER_FLAG,
	CONF_NLAYERS,
};

/* One value and where it came from. */
struct conf_val {
	char	*value;
	char	*origin;	/* file name, environment variable or flag as typed */
	int	 line;		/* in the file; 0 for other sources */
};

/* The values one source gives one key of one section. */
struct conf_item {
	const struct conf_entry	*entry;
	char			*section;	/* full name: "", "edge", "app db" */
	struct conf_val		*vals;
	size_t			 nvals;
};

/* Everything one source sets. */
struct conf_layer {
	struct conf_item	*items;
	size_t			 nitems;
	char			**sections;	/* named instances, in order of appearance */
	size_t			 nsections;
};

struct conf {
	const struct conf_entry	*table;
	struct conf_layer	 layers[CONF_NLAYERS];
};

/* Where a value comes from, for messages. */
struct conf_where {
	enum conf_source	 src;
	const char		*name;	/* file, variable or flag */
	int			 line;
};

/* The state of one parse: the input the reader hands inih line by line, and the scratch layer
 * that replaces the file layer only if the whole input is free of errors. */
struct conf_parse {
	const struct conf	*conf;
	const char		*name;
	const char		*buf;
	size_t			 len;
	size_t			 pos;
	int			 line;
	int			 nerrors;
	int			 first_syntax;	/* line of our first syntax error */
	char			*section;	/* the current section, as inih reads it */
	bool			 section_ok;	/* false: header reported, skip its keys */
	struct conf_layer	 scratch;
};

/* A growing string for lists in messages. */
struct conf_str {
	char	*s;
	size_t	 len;
	size_t	 cap;
};

static void	conf_str_add(struct conf_str *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	conf_value_error(const struct conf_where *, const char *, const char *,
		    const char *, bool, const char *, ...) __attribute__((format(printf, 6, 7)));

/* Appends formatted text to b. */
static void
conf_str_add(struct conf_str *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (b->len + (size_t)n + 1 > b->cap) {
		b->cap = b->len + (size_t)n + 64;
		b->s = xreallocarray(b->s, b->cap, 1);
	}
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* Makes room to append to an array of n elements, doubling it when n reaches a power of two
 * so that appends cost O(1) amortized. */
static void *
conf_grow(void *p, size_t n, size_t size)
{
	if (n == 0 || (n & (n - 1)) == 0)
		return xreallocarray(p, n == 0 ? 1 : n * 2, size);
	return p;
}

/* Copies s into buf with control characters, quotes and backslashes escaped, in double quotes
 * when quoted, cut with "..." when it does not fit; returns buf. */
static const char *
conf_escape(const char *s, bool quoted, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (quoted)
		buf[o++] = '"';
	for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++) {
		char esc[4];
		size_t n = 0;

		if (*c < 0x20 || *c == 0x7f) {
			esc[n++] = '\\';
			esc[n++] = 'x';
			esc[n++] = hex[*c >> 4];
			esc[n++] = hex[*c & 0xf];
		} else if (quoted && (*c == '"' || *c == '\\')) {
			esc[n++] = '\\';
			esc[n++] = (char)*c;
		} else
			esc[n++] = (char)*c;
		/* Room for this, "...", the closing quote and the NUL. */
		if (o + n + 5 > len) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(buf + o, esc, n);
		o += n;
	}
	if (quoted)
		buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* Replaces in reason every occurrence of a secret value with "(hidden)". */
static void
conf_scrub(char *reason, size_t len, const char *value)
{
	char out[CONF_REASON_MAX];
	size_t vlen = strlen(value), o = 0;
	const char *r = reason;

	if (vlen == 0)
		return;
	while (*r != '\0' && o + 1 < sizeof(out)) {
		if (strncmp(r, value, vlen) == 0) {
			size_t hlen = sizeof(CONF_HIDDEN) - 1;
			if (o + hlen + 1 > sizeof(out))
				break;
			memcpy(out + o, CONF_HIDDEN, hlen);
			o += hlen;
			r += vlen;
		} else
			out[o++] = *r++;
	}
	out[o] = '\0';
	util_strlcpy(reason, out, len);
	util_cleanse(out, sizeof(out));
}

/* Logs a problem with one value: where it came from, the section, key and value (or
 * "(hidden)"), then the reason. */
static void
conf_value_error(const struct conf_where *w, const char *section, const char *key,
    const char *value, bool hide, const char *fmt, ...)
{
	char reason[CONF_REASON_MAX], qs[CONF_QUOTE_MAX], qk[CONF_QUOTE_MAX], qv[CONF_QUOTE_MAX];
	const char *lb = *section != '\0' ? "[" : "", *rb = *section != '\0' ? "] " : "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (hide) {
		conf_scrub(reason, sizeof(reason), value);
		util_strlcpy(qv, CONF_HIDDEN, sizeof(qv));
	} else
		conf_escape(value, true, qv, sizeof(qv));
	conf_escape(section, false, qs, sizeof(qs));
	conf_escape(key, false, qk, sizeof(qk));
	switch (w->src) {
	case CONF_SRC_FILE:
		log_errorx("%s:%d: %s%s%s%s = %s: %s", w->name, w->line, lb, qs, rb, qk, qv,
		    reason);
		break;
	case CONF_SRC_ENV:
		log_errorx("environment variable %s=%s (%s%s%s%s): %s", w->name, qv, lb, qs, rb,
		    qk, reason);
		break;
	case CONF_SRC_FLAG:
		log_errorx("%s %s (%s%s%s%s): %s", w->name, qv, lb, qs, rb, qk, reason);
		break;
	default:
		log_errorx("default of %s%s%s%s = %s in the configuration table: %s", lb, qs, rb,
		    qk, qv, reason);
		break;
	}
}

/* Whether name is a valid instance name for a named section: non-empty, no blanks or
 * control characters. */
static bool
conf_instance_valid(const char *name)
{
	if (*name == '\0')
		return false;
	for (const unsigned char *c = (const unsigned char *)name; *c != '\0'; c++)
		if (*c <= ' ' || *c == 0x7f)
			return false;
	return true;
}

/* For a named section pattern ("app *"), the length of its type ("app"); 0 otherwise. */
static size_t
conf_named_type_len(const char *pattern)
{
	size_t len = strlen(pattern);

	if (len > 2 && strcmp(pattern + len - 2, " *") == 0)
		return len - 2;
	return 0;
}

/* Whether section (a full name) is pattern or, for a named pattern, one of its instances. */
static bool
conf_section_match(const char *pattern, const char *section)
{
	size_t tlen = conf_named_type_len(pattern);

	if (tlen == 0)
		return strcmp(pattern, section) == 0;
	return strncmp(pattern, section, tlen) == 0 && section[tlen] == ' ' &&
	    conf_instance_valid(section + tlen + 1);
}

/* Whether section is an instance of the named type of length tlen starting type. */
static bool
conf_section_of_type(const char *section, const char *type, size_t tlen)
{
	return strncmp(section, type, tlen) == 0 && section[tlen] == ' ';
}

/* The table entry for key in section (a full name), or NULL. */
static const struct conf_entry *
conf_entry_find(const struct conf_entry *table, const char *section, const char *key)
{
	for (const struct conf_entry *e = table; e->key != NULL; e++)
		if (strcmp(e->key, key) == 0 && conf_section_match(e->section, section))
			return e;
	return NULL;
}

/* Whether an earlier entry of the table has the same section as e. */
static bool
conf_section_seen(const struct conf_entry *table, const struct conf_entry *e)
{
	for (const struct conf_entry *o = table; o != e; o++)
		if (strcmp(o->section, e->section) == 0)
			return true;
	return false;
}

/* Whether an edit distance d is close enough to candidate to suggest it. */
static bool
conf_close(size_t d, const char *candidate)
{
	size_t limit = (strlen(candidate) + 2) / 3;

	if (limit < 1)
		limit = 1;
	if (limit > 3)
		limit = 3;
	return d <= limit;
}

/* Parses a boolean in any of its spellings; -1 if it is none. */
static int
conf_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < nitems(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* Checks an integer against e's bounds; writes a reason into err. */
static bool
conf_int_ok(const struct conf_entry *e, const char *value, char *err, size_t errlen)
{
	long min = e->min, max = e->max, v;
	const char *digits = value + (*value == '-' || *value == '+');

	if (min == 0 && max == 0) {
		min = LONG_MIN;
		max = LONG_MAX;
	}
	if (util_parse_long(value, LONG_MIN, LONG_MAX, &v) == -1) {
		if (*digits != '\0' && strspn(digits, "0123456789") == strlen(digits))
			snprintf(err, errlen, "out of range: write a whole number between %ld "
			    "and %ld", min, max);
		else
			snprintf(err, errlen, "not a decimal integer: write a whole number "
			    "between %ld and %ld", min, max);
		return false;
	}
	if (v < min || v > max) {
		snprintf(err, errlen, "out of range: write a whole number between %ld and %ld",
		    min, max);
		return false;
	}
	return true;
}

/* Checks a CONF_ENUM value against the choices; writes them all into err if it is none. */
static bool
conf_enum_ok(const struct conf_entry *e, const char *value, char *err, size_t errlen)
{
	struct conf_str list = { NULL, 0, 0 };

	if (e->choices == NULL) {
		snprintf(err, errlen, "the configuration table lists no choices for this key");
		return false;
	}
	for (size_t i = 0; e->choices[i] != NULL; i++)
		if (strcmp(value, e->choices[i]) == 0)
			return true;
	for (size_t i = 0; e->choices[i] != NULL; i++)
		conf_str_add(&list, "%s%s", i > 0 ? ", " : "", e->choices[i]);
	snprintf(err, errlen, "not one of the choices: write one of %s",
	    list.s != NULL ? list.s : "(none)");
	free(list.s);
	return false;
}

/* Checks value against e's type, bounds, choices and validator; writes a reason into err. */
static bool
conf_value_ok(const struct conf_entry *e, const char *value, char *err, size_t errlen)
{
	struct util_hostport hp;
	uint64_t ms;
	uint16_t port;
	bool b;

	err[0] = '\0';
	switch (e->type) {
	case CONF_STRING:
		break;
	case CONF_PATH:
		if (*value == '\0') {
			snprintf(err, errlen, "empty path: write a file name");
			return false;
		}
		break;
	case CONF_INT:
		if (!conf_int_ok(e, value, err, errlen))
			return false;
		break;
	case CONF_BOOL:
		if (conf_parse_bool(value, &b) == -1) {
			snprintf(err, errlen, "not a boolean: write yes or no (or true/false, "
			    "on/off, 1/0)");
			return false;
		}
		break;
	case CONF_DURATION:
		if (util_parse_duration(value, &ms, err, errlen) == -1)
			return false;
		break;
	case CONF_ENUM:
		if (!conf_enum_ok(e, value, err, errlen))
			return false;
		break;
	case CONF_HOSTPORT:
		port = e->min > 0 && e->min <= 65535 ? (uint16_t)e->min : 0;
		if (util_parse_hostport(value, port, &hp, err, errlen) == -1)
			return false;
		break;
	default:
		snprintf(err, errlen, "the configuration table gives this key an unknown type %d",
		    (int)e->type);
		return false;
	}
	if (e->validate != NULL && !e->validate(value, err, errlen)) {
		if (err[0] == '\0')
			snprintf(err, errlen, "rejected by its validator");
		return false;
	}
	return true;
}

/* Checks value for e; if it is bad, logs why (hiding secrets) and returns false. */
static bool
conf_value_check(const struct conf_where *w, const struct conf_entry *e, const char *section,
    const char *value)
{
	char err[CONF_REASON_MAX];
	bool hide = (e->flags & CONF_F_SECRET) != 0, ok;

	if ((ok = conf_value_ok(e, value, err, sizeof(err))) == false)
		conf_value_error(w, section, e->key, value, hide, "%s", err);
	if (hide)
		util_cleanse(err, sizeof(err));
	return ok;
}

/* Frees one value, wiping it first if e is secret. */
static void
conf_val_clear(const struct conf_entry *e, struct conf_val *v)
{
	if (v->value != NULL && (e->flags & CONF_F_SECRET))
		util_cleanse(v->value, strlen(v->value));
	free(v->value);
	free(v->origin);
	v->value = v->origin = NULL;
}

/* Frees every value of an item, keeping the item. */
static void
conf_item_clear(struct conf_item *it)
{
	for (size_t i = 0; i < it->nvals; i++)
		conf_val_clear(it->entry, &it->vals[i]);
	free(it->vals);
	it->vals = NULL;
	it->nvals = 0;
}

/* Frees everything a layer holds and empties it. */
static void
conf_layer_free(struct conf_layer *l)
{
	for (size_t i = 0; i < l->nitems; i++) {
		conf_item_clear(&l->items[i]);
		free(l->items[i].section);
	}
	free(l->items);
	for (size_t i = 0; i < l->nsections; i++)
		free(l->sections[i]);
	free(l->sections);
	memset(l, 0, sizeof(*l));
}

/* The item of l for e in section, or NULL. Newest first: a file's keys follow their header. */
static struct conf_item *
conf_layer_find(const struct conf_layer *l, const struct conf_entry *e, const char *section)
{
	for (size_t i = l->nitems; i > 0; i--)
		if (l->items[i - 1].entry == e && strcmp(l->items[i - 1].section, section) == 0)
			return &l->items[i - 1];
	return NULL;
}

/* The item of l for e in section, created empty if needed. */
static struct conf_item *
conf_layer_item(struct conf_layer *l, const struct conf_entry *e, const char *section)
{
	struct conf_item *it;

	if ((it = conf_layer_find(l, e, section)) != NULL)
		return it;
	l->items = conf_grow(l->items, l->nitems, sizeof(*l->items));
	it = &l->items[l->nitems++];
	memset(it, 0, sizeof(*it));
	it->entry = e;
	it->section = xstrdup(section);
	return it;
}

/* Whether l lists the named section instance section. */
static bool
conf_layer_has_section(const struct conf_layer *l, const char *section)
{
	for (size_t i = 0; i < l->nsections; i++)
		if (strcmp(l->sections[i], section) == 0)
			return true;
	return false;
}

/* Records a named section instance in l, once, in order of appearance. */
static void
conf_layer_add_section(struct conf_layer *l, const char *section)
{
	if (conf_layer_has_section(l, section))
		return;
	l->sections = conf_grow(l->sections, l->nsections, sizeof(*l->sections));
	l->sections[l->nsections++] = xstrdup(section);
}

/* Appends a value with its origin to an item. */
static void
conf_item_add(struct conf_item *it, const char *value, const char *origin, int line)
{
	struct conf_val *v;

	it->vals = conf_grow(it->vals, it->nvals, sizeof(*it->vals));
	v = &it->vals[it->nvals++];
	v->value = xstrdup(value);
	v->origin = xstrdup(origin);
	v->line = line;
}

/* Replaces layer dst with src (emptied), freeing what dst held. */
static void
conf_layer_commit(struct conf_layer *dst, struct conf_layer *src)
{
	conf_layer_free(dst);
	*dst = *src;
	memset(src, 0, sizeof(*src));
}

/* The values that win for e in section: the item of the highest source that has any (into
 * *itp), else NULL and the default, if any. */
static enum conf_source
conf_effective(const struct conf *conf, const struct conf_entry *e, const char *section,
    const struct conf_item **itp)
{
	for (int l = CONF_NLAYERS - 1; l >= 0; l--) {
		const struct conf_item *it = conf_layer_find(&conf->layers[l], e, section);
		if (it != NULL && it->nvals > 0) {
			*itp = it;
			return (enum conf_source)(CONF_SRC_FILE + l);
		}
	}
	*itp = NULL;
	return e->def != NULL ? CONF_SRC_DEFAULT : CONF_SRC_UNSET;
}

/* Walks the instances of type (tlen bytes): the file's in order, then those only flags named.
 * Returns the i-th (NULL past the end) and stores how many there are in *count. */
static const char *
conf_instance(const struct conf *conf, const char *type, size_t tlen, size_t i, size_t *count)
{
	const struct conf_layer *file = &conf->layers[CONF_LAYER_FILE];
	const struct conf_layer *flag = &conf->layers[CONF_LAYER_FLAG];
	size_t n = 0;
	const char *found = NULL;

	for (size_t j = 0; j < file->nsections; j++) {
		if (!conf_section_of_type(file->sections[j], type, tlen))
			continue;
		if (n++ == i)
			found = file->sections[j];
	}
	for (size_t j = 0; j < flag->nsections; j++) {
		if (!conf_section_of_type(flag->sections[j], type, tlen) ||
		    conf_layer_has_section(file, flag->sections[j]))
			continue;
		if (n++ == i)
			found = flag->sections[j];
	}
	*count = n;
	return found;
}

/* An empty configuration over table: every key at its default. */
struct conf *
conf_new(const struct conf_entry *table)
{
	struct conf *conf = xcalloc(1, sizeof(*conf));

	conf->table = table;
	return conf;
}

/* Frees every layer, wiping secrets; NULL is a no-op. */
void
conf_free(struct conf *conf)
{
	if (conf == NULL)
		return;
	for (int l = 0; l < CONF_NLAYERS; l++)
		conf_layer_free(&conf->layers[l]);
	free(conf);
}

/* Logs a syntax error at the current line of p. */
static void
conf_syntax_error(struct conf_parse *p, const char *what, const char *text, size_t len,
    const char *todo)
{
	char *copy = xstrndup(text, len), q[CONF_QLINE_MAX];

	log_errorx("%s:%d: %s %s: %s", p->name, p->line, what, conf_escape(copy, true, q,
	    sizeof(q)), todo);
	free(copy);
	if (p->first_syntax == 0)
		p->first_syntax = p->line;
	p->nerrors++;
}

/* Logs an unknown section header with the closest known section, or the list of them. */
static void
conf_unknown_section(struct conf_parse *p, const char *name)
{
	const struct conf_entry *table = p->conf->table;
	struct conf_str known = { NULL, 0, 0 }, hint = { NULL, 0, 0 };
	size_t best = SIZE_MAX;
	char qn[CONF_QUOTE_MAX];

	for (const struct conf_entry *e = table; e->key != NULL; e++) {
		size_t tlen = conf_named_type_len(e->section), d;

		if (*e->section == '\0' || conf_section_seen(table, e))
			continue;
		if (tlen > 0) {
			const char *sp = strchr(name, ' ');
			size_t wlen = sp != NULL ? (size_t)(sp - name) : strlen(name);
			char *word = xstrndup(name, wlen);
			char *type = xstrndup(e->section, tlen);

			conf_str_add(&known, "%s[%s NAME]", known.len > 0 ? ", " : "", type);
			d = util_edit_distance(word, type);
			if (d < best && conf_close(d, type)) {
				best = d;
				hint.len = 0;
				conf_str_add(&hint, "[%s %s]", type, sp != NULL &&
				    conf_instance_valid(sp + 1) ? sp + 1 : "NAME");
			}
			free(word);
			free(type);
		} else {
			conf_str_add(&known, "%s[%s]", known.len > 0 ? ", " : "", e->section);
			d = util_edit_distance(name, e->section);
			if (d < best && conf_close(d, e->section)) {
				best = d;
				hint.len = 0;
				conf_str_add(&hint, "[%s]", e->section);
			}
		}
	}
	conf_escape(name, false, qn, sizeof(qn));
	if (hint.s != NULL)
		log_errorx("%s:%d: unknown section [%s]; did you mean %s?", p->name, p->line, qn,
		    hint.s);
	else if (known.s != NULL)
		log_errorx("%s:%d: unknown section [%s]; the sections are %s", p->name, p->line,
		    qn, known.s);
	else
		log_errorx("%s:%d: unknown section [%s]; this file takes no sections: put every "
		    "key before the first [section]", p->name, p->line, qn);
	free(known.s);
	free(hint.s);
}

/* Starts section name (from a header line): checks it against the table, records named
 * instances, and reports a bad one once so that its keys can be skipped. */
static void
conf_section_begin(struct conf_parse *p, const char *name)
{
	const struct conf_entry *table = p->conf->table;
	char qn[CONF_QUOTE_MAX];

	free(p->section);
	p->section = xstrdup(name);
	p->section_ok = false;
	if (*name == '\0') {
		log_errorx("%s:%d: empty section name []: write [name]", p->name, p->line);
		p->nerrors++;
		return;
	}
	for (const struct conf_entry *e = table; e->key != NULL; e++) {
		size_t tlen = conf_named_type_len(e->section);

		if (conf_section_match(e->section, name)) {
			if (tlen > 0 && !conf_layer_has_section(&p->scratch, name)) {
				if (p->scratch.nsections == CONF_NAMED_MAX) {
					log_errorx("%s:%d: more than %d named sections: zt reads "
					    "no more from one file", p->name, p->line,
					    CONF_NAMED_MAX);
					p->nerrors++;
					return;
				}
				conf_layer_add_section(&p->scratch, name);
			}
			p->section_ok = true;
			return;
		}
		if (tlen > 0 && strncmp(name, e->section, tlen) == 0 &&
		    (name[tlen] == '\0' || name[tlen] == ' ')) {
			conf_escape(name, false, qn, sizeof(qn));
			if (name[tlen] == '\0' || name[tlen + 1] == '\0')
				log_errorx("%s:%d: section [%s] needs an instance name: write "
				    "[%.*s NAME]", p->name, p->line, qn, (int)tlen, e->section);
			else
				log_errorx("%s:%d: section [%s]: the instance name after \"%.*s \" "
				    "must not contain blanks or control characters", p->name,
				    p->line, qn, (int)tlen, e->section);
			p->nerrors++;
			return;
		}
	}
	conf_unknown_section(p, name);
	p->nerrors++;
}

/* Follows inih's reading of a line (which never continues the previous one: the reader strips
 * leading blanks) to track the section and report syntax errors at their own line. */
static void
conf_scan_line(struct conf_parse *p, const char *line)
{
	const char *start = line, *end, *c;
	bool was_space = false;

	if (p->line == 1 && strncmp(start, CONF_BOM, 3) == 0)
		start += 3;
	end = start + strlen(start);
	while (end > start && isspace((unsigned char)end[-1]))
		end--;
	while (start < end && isspace((unsigned char)*start))
		start++;
	if (start == end || *start == ';' || *start == '#')
		return;
	if (*start == '[') {
		/* As inih: a ';' after a blank starts a comment, even inside the brackets. */
		for (c = start + 1; c < end && *c != ']' && !(was_space && *c == ';'); c++)
			was_space = isspace((unsigned char)*c);
		if (c < end && *c == ']') {
			char *name = xstrndup(start + 1, (size_t)(c - start - 1));
			conf_section_begin(p, name);
			free(name);
		} else {
			conf_syntax_error(p, "section header", start, (size_t)(end - start),
			    "it has no closing ']' (before any ';' comment): write [name]");
			p->section_ok = false;
		}
		return;
	}
	for (c = start; c < end && *c != '=' && *c != ':' && !(was_space && *c == ';'); c++)
		was_space = isspace((unsigned char)*c);
	if (c == end || *c == ';')
		conf_syntax_error(p, "cannot read", start, (size_t)(end - start),
		    "write key = value, [section], or a comment starting with ';' or '#'");
}

/* inih's reader: hands over one line at a time so that we know the line number, report lines
 * over inih's limit (handing over an empty line so the rest is not read as a new line), and
 * strip leading blanks so that inih never reads an indented key as a continuation line. */
static char *
conf_reader(char *str, int num, void *stream)
{
	struct conf_parse *p = stream;
	const char *s, *nl, *start, *end;
	size_t rawlen, limit = num > 1 ? (size_t)num - 1 : 0;

	if (p->pos >= p->len) {
		/* inih's line buffer held every line, secrets included. */
		if (num > 0)
			util_cleanse(str, (size_t)num);
		return NULL;
	}
	p->line++;
	s = p->buf + p->pos;
	nl = memchr(s, '\n', p->len - p->pos);
	rawlen = nl != NULL ? (size_t)(nl - s) + 1 : p->len - p->pos;
	p->pos += rawlen;
	if (num < 1)
		return NULL;
	str[0] = '\0';
	start = s;
	end = s + rawlen;
	if (p->line == 1 && rawlen >= 3 && memcmp(start, CONF_BOM, 3) == 0)
		start += 3;
	while (start < end && *start != '\n' && isspace((unsigned char)*start))
		start++;
	if (rawlen > limit) {
		log_errorx("%s:%d: line is longer than %zu bytes (inih's limit): put long values "
		    "such as tokens or keys in their own file and name it with a *_file key",
		    p->name, p->line, limit);
		p->nerrors++;
		/* Keys after an unreadable header would be blamed on the section before. */
		if (start < end && *start == '[')
			p->section_ok = false;
		return str;
	}
	memcpy(str, start, (size_t)(end - start));
	str[end - start] = '\0';
	conf_scan_line(p, str);
	return str;
}

/* Logs an unknown key with the closest key of its section, the section it belongs in, or the
 * keys the section takes. The value is hidden if the key looks like a misspelt secret. */
static void
conf_unknown_key(struct conf_parse *p, const char *key, const char *value)
{
	const struct conf_entry *table = p->conf->table, *hint = NULL, *elsewhere = NULL;
	struct conf_where w = { CONF_SRC_FILE, p->name, p->line };
	struct conf_str keys = { NULL, 0, 0 };
	size_t best = SIZE_MAX;

	for (const struct conf_entry *e = table; e->key != NULL; e++) {
		if (!conf_section_match(e->section, p->section)) {
			if (elsewhere == NULL && strcmp(e->key, key) == 0)
				elsewhere = e;
			continue;
		}
		size_t d = util_edit_distance(key, e->key);
		if (d < best && conf_close(d, e->key)) {
			best = d;
			hint = e;
		}
		conf_str_add(&keys, "%s%s", keys.len > 0 ? ", " : "", e->key);
	}
	if (hint != NULL)
		conf_value_error(&w, p->section, key, value, (hint->flags & CONF_F_SECRET) != 0,
		    "unknown key; did you mean \"%s\"?", hint->key);
	else if (elsewhere != NULL) {
		size_t tlen = conf_named_type_len(elsewhere->section);
		if (tlen > 0)
			conf_value_error(&w, p->section, key, value,
			    (elsewhere->flags & CONF_F_SECRET) != 0, "unknown key here; it "
			    "belongs in a [%.*s NAME] section", (int)tlen, elsewhere->section);
		else
			conf_value_error(&w, p->section, key, value,
			    (elsewhere->flags & CONF_F_SECRET) != 0, "unknown key here; it "
			    "belongs %s%s%s", *elsewhere->section != '\0' ? "in [" : "before any "
			    "[section]", elsewhere->section, *elsewhere->section != '\0' ? "]" :
			    "");
	} else if (keys.s != NULL)
		conf_value_error(&w, p->section, key, value, false, "unknown key; the keys here "
		    "are %s", keys.s);
	else
		conf_value_error(&w, p->section, key, value, false, "unknown key; no key goes "
		    "here: put it under a [section]");
	free(keys.s);
	p->nerrors++;
}

/* inih's handler: checks one key = value of the current line and files it in the scratch
 * layer. Errors are counted here, not returned: every line gets its own message. */
static int
conf_handler(void *user, const char *section, const char *key, const char *value)
{
	struct conf_parse *p = user;
	struct conf_where w = { CONF_SRC_FILE, p->name, p->line };
	const struct conf_entry *e;
	struct conf_item *it;
	char qs[CONF_QUOTE_MAX], qp[CONF_QUOTE_MAX];

	/* inih cuts long section names; anything else means it reads lines differently. */
	if (strncmp(section, p->section, strlen(section)) != 0) {
		log_errorx("%s:%d: inih read this line in section [%s], not [%s]: it was built "
		    "with options zt does not expect", p->name, p->line,
		    conf_escape(section, false, qs, sizeof(qs)),
		    conf_escape(p->section, false, qp, sizeof(qp)));
		p->nerrors++;
		return 1;
	}
	if (!p->section_ok)
		return 1;
	if (*key == '\0') {
		conf_value_error(&w, p->section, key, value, false, "missing key name: write "
		    "key = value");
		p->nerrors++;
		return 1;
	}
	if ((e = conf_entry_find(p->conf->table, p->section, key)) == NULL) {
		conf_unknown_key(p, key, value);
		return 1;
	}
	if (!conf_value_check(&w, e, p->section, value)) {
		p->nerrors++;
		return 1;
	}
	it = conf_layer_item(&p->scratch, e, p->section);
	if (it->nvals > 0 && !(e->flags & CONF_F_MULTI)) {
		conf_value_error(&w, p->section, key, value, (e->flags & CONF_F_SECRET) != 0,
		    "already set at line %d; %s takes one value: keep one of the two lines",
		    it->vals[0].line, e->key);
		p->nerrors++;
		return 1;
	}
	conf_item_add(it, value, p->name, p->line);
	return 1;
}

/* Parses data into a scratch layer and commits it as the file layer only if it had no error. */
int
conf_load_buffer(struct conf *conf, const char *name, const char *data, size_t len)
{
	struct conf_parse p;
	const char *nul;
	int r, ret = -1;

	memset(&p, 0, sizeof(p));
	if (len > 0 && (nul = memchr(data, '\0', len)) != NULL) {
		int line = 1;
		for (const char *c = data; c < nul; c++)
			line += *c == '\n';
		log_errorx("%s:%d: the line contains a NUL byte: this is not a text configuration "
		    "file", name, line);
		goto out;
	}
	p.conf = conf;
	p.name = name;
	p.buf = data;
	p.len = len;
	p.section = xstrdup("");
	p.section_ok = true;
	r = ini_parse_stream(conf_reader, &p, conf_handler, &p);
	if (r > 0 && r != p.first_syntax) {
		/* Our scan follows inih's; this only fires if inih was built differently. */
		log_errorx("%s:%d: inih could not parse this line: write key = value or [section]",
		    name, r);
		p.nerrors++;
	} else if (r < 0) {
		log_errorx("%s: inih failed (%d) before reading the whole file", name, r);
		p.nerrors++;
	}
	if (p.nerrors > 0) {
		log_errorx("%s: %d error%s: nothing from this file was applied", name, p.nerrors,
		    p.nerrors > 1 ? "s" : "");
		goto out;
	}
	conf_layer_commit(&conf->layers[CONF_LAYER_FILE], &p.scratch);
	ret = 0;
out:
	conf_layer_free(&p.scratch);
	free(p.section);
	return ret;
}

/* conf_load_buffer over a NUL-terminated string. */
int
conf_load_string(struct conf *conf, const char *name, const char *text)
{
	return conf_load_buffer(conf, name, text, strlen(text));
}

/* Reads path whole (wiping the copy afterwards) and parses it. */
int
conf_load_file(struct conf *conf, const char *path)
{
	char *data = NULL;
	size_t len = 0;
	int ret = -1;

	if (util_read_file(path, CONF_FILE_MAX, &data, &len) == -1) {
		if (errno == EFBIG)
			log_errorx("%s: larger than %d bytes: is this the configuration file?",
			    path, CONF_FILE_MAX);
		else
			log_error("cannot read configuration file %s", path);
		goto out;
	}
	ret = conf_load_buffer(conf, path, data, len);
out:
	if (data != NULL) {
		util_cleanse(data, len);
		free(data);
	}
	return ret;
}

/* Rebuilds the environment layer from the variables of the table, if all are valid. */
int
conf_load_env(struct conf *conf)
{
	struct conf_layer scratch;
	int nerrors = 0, ret = -1;

	memset(&scratch, 0, sizeof(scratch));
	for (const struct conf_entry *e = conf->table; e->key != NULL; e++) {
		struct conf_where w = { CONF_SRC_ENV, e->env, 0 };
		const char *v;

		if (e->env == NULL || conf_named_type_len(e->section) > 0)
			continue;
		if ((v = getenv(e->env)) == NULL || *v == '\0')
			continue;
		if (!conf_value_check(&w, e, e->section, v)) {
			nerrors++;
			continue;
		}
		conf_item_add(conf_layer_item(&scratch, e, e->section), v, e->env, 0);
	}
	if (nerrors > 0)
		goto out;
	conf_layer_commit(&conf->layers[CONF_LAYER_ENV], &scratch);
	ret = 0;
out:
	conf_layer_free(&scratch);
	return ret;
}

/* Checks value and files it in the flag layer: replacing a single key, appending to a multi. */
int
conf_set_flag(struct conf *conf, const char *section, const char *key, const char *value,
    const char *origin)
{
	struct conf_where w = { CONF_SRC_FLAG, origin, 0 };
	struct conf_layer *l = &conf->layers[CONF_LAYER_FLAG];
	const struct conf_entry *e;
	struct conf_item *it;
	char qs[CONF_QUOTE_MAX];

	if (section == NULL)
		section = "";
	if ((e = conf_entry_find(conf->table, section, key)) == NULL) {
		log_errorx("%s: the configuration has no key %s%s%s%s", origin,
		    *section != '\0' ? "[" : "", conf_escape(section, false, qs, sizeof(qs)),
		    *section != '\0' ? "] " : "", key);
		return -1;
	}
	if (!conf_value_check(&w, e, section, value))
		return -1;
	it = conf_layer_item(l, e, section);
	if (!(e->flags & CONF_F_MULTI))
		conf_item_clear(it);
	conf_item_add(it, value, origin, 0);
	if (conf_named_type_len(e->section) > 0)
		conf_layer_add_section(l, section);
	return 0;
}

/* Logs that required e is not set in section. */
static void
conf_missing(const struct conf_entry *e, const char *section)
{
	if (*section == '\0')
		log_errorx("required key %s is not set: add \"%s = ...\" before any [section] of "
		    "the configuration file%s%s", e->key, e->key, e->env != NULL ? " or set " : "",
		    e->env != NULL ? e->env : "");
	else
		log_errorx("required key %s is not set in [%s]: add \"%s = ...\" under [%s] in "
		    "the configuration file%s%s", e->key, section, e->key, section,
		    e->env != NULL && conf_named_type_len(e->section) == 0 ? " or set " : "",
		    e->env != NULL && conf_named_type_len(e->section) == 0 ? e->env : "");
}

/* Checks the table's defaults and that every required key has a value, per named instance. */
int
conf_check(const struct conf *conf)
{
	const struct conf_item *it;
	int ret = 0;

	for (const struct conf_entry *e = conf->table; e->key != NULL; e++) {
		size_t tlen = conf_named_type_len(e->section), n;

		if (e->def != NULL) {
			struct conf_where w = { CONF_SRC_DEFAULT, NULL, 0 };
			if (!conf_value_check(&w, e, e->section, e->def))
				ret = -1;
		}
		if (!(e->flags & CONF_F_REQUIRED))
			continue;
		if (tlen == 0) {
			if (conf_effective(conf, e, e->section, &it) == CONF_SRC_UNSET) {
				conf_missing(e, e->section);
				ret = -1;
			}
			continue;
		}
		conf_instance(conf, e->section, tlen, SIZE_MAX, &n);
		for (size_t i = 0; i < n; i++) {
			const char *s = conf_instance(conf, e->section, tlen, i, &n);
			if (conf_effective(conf, e, s, &it) == CONF_SRC_UNSET) {
				conf_missing(e, s);
				ret = -1;
			}
		}
	}
	return ret;
}

/* The entry for key in section, treating NULL as the top section. */
static const struct conf_entry *
conf_lookup(const struct conf *conf, const char **section, const char *key)
{
	if (*section == NULL)
		*section = "";
	if (conf == NULL || key == NULL)
		return NULL;
	return conf_entry_find(conf->table, *section, key);
}

/* The first effective value. */
const char *
conf_get(const struct conf *conf, const char *section, const char *key)
{
	return conf_get_nth(conf, section, key, 0);
}

/* The effective value as a long (validated when set). */
long
conf_get_int(const struct conf *conf, const char *section, const char *key)
{
	const char *v = conf_get(conf, section, key);
	long n;

	if (v == NULL || util_parse_long(v, LONG_MIN, LONG_MAX, &n) == -1)
		return 0;
	return n;
}

/* The effective value as a boolean (validated when set). */
bool
conf_get_bool(const struct conf *conf, const char *section, const char *key)
{
	const char *v = conf_get(conf, section, key);
	bool b;

	if (v == NULL || conf_parse_bool(v, &b) == -1)
		return false;
	return b;
}

/* The effective value in milliseconds (validated when set). */
uint64_t
conf_get_duration(const struct conf *conf, const char *section, const char *key)
{
	const char *v = conf_get(conf, section, key);
	char err[CONF_REASON_MAX];
	uint64_t ms;

	if (v == NULL || util_parse_duration(v, &ms, err, sizeof(err)) == -1)
		return 0;
	return ms;
}

/* Which source the effective value comes from. */
enum conf_source
conf_get_source(const struct conf *conf, const char *section, const char *key)
{
	const struct conf_entry *e = conf_lookup(conf, &section, key);
	const struct conf_item *it;

	if (e == NULL)
		return CONF_SRC_UNSET;
	return conf_effective(conf, e, section, &it);
}

/* How many effective values there are: a default counts as one. */
size_t
conf_get_count(const struct conf *conf, const char *section, const char *key)
{
	const struct conf_entry *e = conf_lookup(conf, &section, key);
	const struct conf_item *it;

	if (e == NULL)
		return 0;
	switch (conf_effective(conf, e, section, &it)) {
	case CONF_SRC_UNSET:
		return 0;
	case CONF_SRC_DEFAULT:
		return 1;
	default:
		return it->nvals;
	}
}

/* The i-th effective value, or NULL past the end. */
const char *
conf_get_nth(const struct conf *conf, const char *section, const char *key, size_t i)
{
	const struct conf_entry *e = conf_lookup(conf, &section, key);
	const struct conf_item *it;

	if (e == NULL)
		return NULL;
	switch (conf_effective(conf, e, section, &it)) {
	case CONF_SRC_UNSET:
		return NULL;
	case CONF_SRC_DEFAULT:
		return i == 0 ? e->def : NULL;
	default:
		return i < it->nvals ? it->vals[i].value : NULL;
	}
}

/* How many instances of the named section type there are. */
size_t
conf_section_count(const struct conf *conf, const char *type)
{
	size_t n = 0;

	if (conf != NULL && type != NULL)
		conf_instance(conf, type, strlen(type), SIZE_MAX, &n);
	return n;
}

/* The full name of the i-th instance of type. */
const char *
conf_section_nth(const struct conf *conf, const char *type, size_t i)
{
	size_t n;

	if (conf == NULL || type == NULL)
		return NULL;
	return conf_instance(conf, type, strlen(type), i, &n);
}

/* The instance name after the type, or NULL. */
const char *
conf_section_name(const char *section)
{
	const char *sp;

	if (section == NULL || (sp = strchr(section, ' ')) == NULL)
		return NULL;
	return sp + 1;
}

/* A source as conf_dump names it. */
const char *
conf_source_name(enum conf_source src)
{
	switch (src) {
	case CONF_SRC_DEFAULT:
		return "default";
	case CONF_SRC_FILE:
		return "file";
	case CONF_SRC_ENV:
		return "env";
	case CONF_SRC_FLAG:
		return "flag";
	default:
		return "unset";
	}
}

/* Prints e's effective value(s) in section as ini lines with their sources. */
static void
conf_dump_entry(const struct conf *conf, FILE *fp, const struct conf_entry *e,
    const char *section)
{
	bool hide = (e->flags & CONF_F_SECRET) != 0;
	const struct conf_item *it;
	enum conf_source src;

	if (e->help != NULL)
		fprintf(fp, "# %s\n", e->help);
	switch ((src = conf_effective(conf, e, section, &it))) {
	case CONF_SRC_UNSET:
		fprintf(fp, "# %s =  # unset\n", e->key);
		return;
	case CONF_SRC_DEFAULT:
		fprintf(fp, "%s = %s  # default\n", e->key, hide ? CONF_HIDDEN : e->def);
		return;
	default:
		break;
	}
	for (size_t i = 0; i < it->nvals; i++) {
		const struct conf_val *v = &it->vals[i];
		const char *value = hide ? CONF_HIDDEN : v->value;

		if (v->line > 0)
			fprintf(fp, "%s = %s  # file %s:%d\n", e->key, value, v->origin, v->line);
		else
			fprintf(fp, "%s = %s  # %s %s\n", e->key, value, conf_source_name(src),
			    v->origin);
	}
}

/* Prints the header of section (none for the top) and the keys of its table section. */
static void
conf_dump_section(const struct conf *conf, FILE *fp, const char *pattern, const char *section,
    bool *first)
{
	if (*section != '\0')
		fprintf(fp, "%s[%s]\n", *first ? "" : "\n", section);
	*first = false;
	for (const struct conf_entry *e = conf->table; e->key != NULL; e++)
		if (strcmp(e->section, pattern) == 0)
			conf_dump_entry(conf, fp, e, section);
}

/* Prints the top section, then every table section in table order, named ones per instance. */
void
conf_dump(const struct conf *conf, FILE *fp)
{
	const struct conf_entry *table;
	bool first = true;

	if (conf == NULL || fp == NULL)
		return;
	table = conf->table;
	/* Keys of the top section must come before any header. */
	for (const struct conf_entry *e = table; e->key != NULL; e++) {
		if (*e->section == '\0') {
			conf_dump_section(conf, fp, "", "", &first);
			break;
		}
	}
	for (const struct conf_entry *e = table; e->key != NULL; e++) {
		size_t tlen = conf_named_type_len(e->section), n;

		if (*e->section == '\0' || conf_section_seen(table, e))
			continue;
		if (tlen == 0) {
			conf_dump_section(conf, fp, e->section, e->section, &first);
			continue;
		}
		conf_instance(conf, e->section, tlen, SIZE_MAX, &n);
		for (size_t i = 0; i < n; i++)
			conf_dump_section(conf, fp, e->section,
			    conf_instance(conf, e->section, tlen, i, &n), &first);
	}
}
