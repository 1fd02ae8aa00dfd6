/* health: what every long-running applet shares for operations (doc/metrics.md): the
 * /metrics, /ready and /healthz endpoints, systemd notifications and the readiness probe. */
#ifndef ZT_HEALTH_H
#define ZT_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct health;
struct metrics;

/* What the applet tells: all callbacks get the applet's arg. */
struct health_ops {
	const char	*applet;	/* "edge", "tunnel", ... */
	/* Whether it can do its job now; when not, a short reason into why. */
	bool		(*ready)(void *arg, char *why, size_t len);
	/* A line for STATUS= and /ready, e.g. "4 connections to the edge, 2 streams". */
	void		(*status)(void *arg, char *buf, size_t len);
	/* Sets the applet's gauges and totals just before /metrics is rendered (optional). */
	void		(*collect)(void *arg);
};

/* Takes $NOTIFY_SOCKET and the watchdog (started at once), creates the registry with the
 * families every applet has, and re-checks readiness every second. */
struct health	*health_new(struct event_base *base, const struct health_ops *ops, void *arg);
void		 health_free(struct health *h);
/* The registry, for the applet's own families. */
struct metrics	*health_metrics(struct health *h);
/* Serves the endpoints on addr (doc/metrics.md's ADDR). -1 after logging: a bad address
 * sets *config_error, a port that cannot be bound does not. */
int		 health_listen(struct health *h, const char *addr, bool *config_error);
/* Checks readiness now (after a change): READY=1 the first time, STATUS= when it changed. */
void		 health_update(struct health *h);
/* SIGHUP: RELOADING=1 before reading the configuration, then health_reloaded with whether
 * the new configuration was taken (READY=1 again, zt_reloads_total). */
void		 health_reloading(struct health *h);
void		 health_reloaded(struct health *h, bool ok);
/* SIGTERM: /ready answers 503 from now on, STOPPING=1. */
void		 health_stopping(struct health *h);
bool		 health_is_stopping(const struct health *h);

/* The label of a stream's result: "ok", or the code's name in lower case ("not_allowed"). */
const char	*health_result(uint16_t code, char *buf, size_t len);

/* `zt APPLET ready --metrics ADDR`: asks /ready; 0 when it said 200, 1 when not (or no
 * answer), 2 when ADDR is not an address. Messages start with prog. */
int		 health_probe(const char *prog, const char *addr);

#endif
