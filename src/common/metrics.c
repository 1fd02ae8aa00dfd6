/* metrics: counters and gauges for the /metrics endpoint, in the Prometheus text exposition
 * format 0.0.4 (HELP, TYPE, samples; label values escaped as the format says). */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "log.h"
#include "metrics.h"
#include "util.h"

struct metrics_series {
	char		*values[METRICS_MAX_LABELS];
	double		 v;
};

struct metrics_family {
	char		*name, *help;
	enum metrics_type type;
	char		*labels[METRICS_MAX_LABELS];
	size_t		 nlabels;
	struct metrics_series series[METRICS_MAX_SERIES];
	size_t		 nseries;
	bool		 warned;
	struct metrics_family *next;
};

struct metrics {
	struct metrics_family *first, **last;
	void		(*collect)(void *);
	void		*arg;
};

bool
metrics_name_valid(const char *s, bool label)
{
	if (s == NULL || *s == '\0')
		return false;
	for (size_t i = 0; s[i] != '\0'; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		    (c == ':' && !label) || (i > 0 && c >= '0' && c <= '9');
		if (!ok)
			return false;
	}
	return true;
}

struct metrics *
metrics_new(void)
{
	struct metrics *m = xcalloc(1, sizeof(*m));

	m->last = &m->first;
	return m;
}

void
metrics_free(struct metrics *m)
{
	struct metrics_family *f, *next;

	if (m == NULL)
		return;
	for (f = m->first; f != NULL; f = next) {
		next = f->next;
		for (size_t i = 0; i < f->nseries; i++)
			for (size_t j = 0; j < f->nlabels; j++)
				free(f->series[i].values[j]);
		for (size_t j = 0; j < f->nlabels; j++)
			free(f->labels[j]);
		free(f->name);
		free(f->help);
		free(f);
	}
	free(m);
}

struct metrics_family *
metrics_family(struct metrics *m, const char *name, enum metrics_type type, const char *help,
    const char *labels)
{
	struct metrics_family *f;

	if (!metrics_name_valid(name, false))
		fatalx("metrics_family: invalid metric name \"%s\"", name);
	f = xcalloc(1, sizeof(*f));
	f->name = xstrdup(name);
	f->help = xstrdup(help);
	f->type = type;
	if (labels != NULL) {
		const char *p = labels;

		while (*p != '\0') {
			size_t n = strcspn(p, ",");

			if (f->nlabels == METRICS_MAX_LABELS)
				fatalx("metrics_family: %s: too many labels", name);
			f->labels[f->nlabels] = xstrndup(p, n);
			if (!metrics_name_valid(f->labels[f->nlabels], true))
				fatalx("metrics_family: %s: invalid label \"%s\"", name,
				    f->labels[f->nlabels]);
			f->nlabels++;
			p += n;
			if (*p == ',')
				p++;
		}
	} else
		f->nseries = 1;	/* the one series, at 0 */
	*m->last = f;
	m->last = &f->next;
	return f;
}

/* The series for the label values in ap, created when new; NULL when the family is full. */
static struct metrics_series *
series_find(struct metrics_family *f, va_list ap)
{
	const char *v[METRICS_MAX_LABELS];
	struct metrics_series *s;

	for (size_t j = 0; j < f->nlabels; j++) {
		v[j] = va_arg(ap, const char *);
		if (v[j] == NULL)
			v[j] = "";
	}
	for (size_t i = 0; i < f->nseries; i++) {
		size_t j;

		for (j = 0; j < f->nlabels; j++)
			if (strcmp(f->series[i].values[j], v[j]) != 0)
				break;
		if (j == f->nlabels)
			return &f->series[i];
	}
	if (f->nseries == METRICS_MAX_SERIES) {
		if (!f->warned)
			log_warnx("metrics: %s has %d series already: new label values are "
			    "dropped", f->name, METRICS_MAX_SERIES);
		f->warned = true;
		return NULL;
	}
	s = &f->series[f->nseries++];
	for (size_t j = 0; j < f->nlabels; j++)
		s->values[j] = xstrdup(v[j]);
	s->v = 0;
	return s;
}

void
metrics_add(struct metrics_family *f, double n, ...)
{
	struct metrics_series *s;
	va_list ap;

	va_start(ap, n);
	s = series_find(f, ap);
	va_end(ap);
	if (s != NULL)
		s->v += n;
}

void
metrics_set(struct metrics_family *f, double v, ...)
{
	struct metrics_series *s;
	va_list ap;

	va_start(ap, v);
	s = series_find(f, ap);
	va_end(ap);
	if (s != NULL)
		s->v = v;
}

void
metrics_set_collect(struct metrics *m, void (*collect)(void *), void *arg)
{
	m->collect = collect;
	m->arg = arg;
}

/* Appends s with the escapes of the format: backslash and newline, and double quotes in
 * label values. */
static void
escape(struct evbuffer *out, const char *s, bool quote)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			evbuffer_add(out, "\\\\", 2);
		else if (*s == '\n')
			evbuffer_add(out, "\\n", 2);
		else if (*s == '"' && quote)
			evbuffer_add(out, "\\\"", 2);
		else
			evbuffer_add(out, s, 1);
	}
}

/* A value as the format wants it: integers without exponent or fraction. */
static void
value(struct evbuffer *out, double v)
{
	if (isnan(v))
		evbuffer_add_printf(out, "NaN");
	else if (isinf(v))
		evbuffer_add_printf(out, v > 0 ? "+Inf" : "-Inf");
	else if (v > -9007199254740992.0 && v < 9007199254740992.0 &&	/* 2^53: exact */
	    v == (double)(long long)v)
		evbuffer_add_printf(out, "%.0f", v);
	else
		evbuffer_add_printf(out, "%.17g", v);
}

void
metrics_render(struct metrics *m, struct evbuffer *out)
{
	if (m->collect != NULL)
		m->collect(m->arg);
	for (struct metrics_family *f = m->first; f != NULL; f = f->next) {
		evbuffer_add_printf(out, "# HELP %s ", f->name);
		escape(out, f->help, false);
		evbuffer_add_printf(out, "\n# TYPE %s %s\n", f->name,
		    f->type == METRICS_COUNTER ? "counter" : "gauge");
		for (size_t i = 0; i < f->nseries; i++) {
			evbuffer_add_printf(out, "%s", f->name);
			for (size_t j = 0; j < f->nlabels; j++) {
				evbuffer_add_printf(out, "%s%s=\"", j == 0 ? "{" : ",",
				    f->labels[j]);
				escape(out, f->series[i].values[j], true);
				evbuffer_add(out, "\"", 1);
			}
			evbuffer_add(out, f->nlabels > 0 ? "} " : " ", f->nlabels > 0 ? 2 : 1);
			value(out, f->series[i].v);
			evbuffer_add(out, "\n", 1);
		}
	}
}
