/* metrics: a registry of counters and gauges with fixed label names, rendered in the Prometheus
 * text exposition format 0.0.4 (doc/metrics.md). */
#ifndef ZT_METRICS_H
#define ZT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct metrics;
struct metrics_family;

enum metrics_type {
	METRICS_COUNTER,
	METRICS_GAUGE,
};

#define METRICS_MAX_LABELS	3
#define METRICS_MAX_SERIES	64	/* per family: label values come from small fixed sets */

struct metrics	*metrics_new(void);
void		 metrics_free(struct metrics *m);
/* Registers a family: name (zt_..., counters ending in _total), its help text, and the names of
 * its labels (comma-separated, at most METRICS_MAX_LABELS, or NULL). A family without labels
 * has its one series at 0 from the start. Names are ours: an invalid one is a bug (fatalx). */
struct metrics_family *metrics_family(struct metrics *m, const char *name, enum metrics_type type,
		    const char *help, const char *labels);
/* Adds n to (or, for metrics_set, sets) the series with these label values, one per label
 * name, created at 0 the first time. Beyond METRICS_MAX_SERIES series the value is dropped,
 * with one warning. */
void		 metrics_add(struct metrics_family *f, double n, ...);
void		 metrics_set(struct metrics_family *f, double v, ...);
/* Calls collect(arg) before each rendering, to set the gauges and totals kept elsewhere. */
void		 metrics_set_collect(struct metrics *m, void (*collect)(void *), void *arg);
/* Appends the whole registry in the text format: HELP and TYPE for each family, then its
 * samples, in registration and creation order. */
void		 metrics_render(struct metrics *m, struct evbuffer *out);
/* Whether s is a valid metric or label name ([a-zA-Z_:][a-zA-Z0-9_:]*, no ':' for labels). */
bool		 metrics_name_valid(const char *s, bool label);

#endif
