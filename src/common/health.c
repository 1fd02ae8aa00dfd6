/* health: the operational surface of the long-running applets: /metrics (Prometheus text
 * format 0.0.4), /ready, /healthz, sd_notify(3) messages and the watchdog. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "ev.h"
#include "health.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "mux.h"
#include "sdnotify.h"
#include "util.h"

#define HEALTH_TICK_MS		1000
#define HEALTH_PROBE_MS		2000
#define HEALTH_TEXT		256

struct health {
	struct event_base *base;
	struct health_ops ops;
	void		*arg;
	struct metrics	*m;
	struct metrics_family *ready_f, *reloads_f;
	struct httpd	*httpd;
	struct sdnotify	*notify;
	struct ev_timer	*tick, *watchdog;
	bool		 ever_ready, stopping;
	char		 status[HEALTH_TEXT];	/* the last STATUS= sent */
};

/* Readiness now, with the reason when not ready. */
static bool
health_ready(struct health *h, char *why, size_t len)
{
	bool ok;

	why[0] = '\0';
	ok = h->ops.ready(h->arg, why, len);
	if (h->stopping) {
		if (ok || why[0] == '\0')
			util_strlcpy(why, "stopping", len);
		return false;
	}
	if (!ok && why[0] == '\0')
		util_strlcpy(why, "not ready", len);
	return ok;
}

static void
health_status(struct health *h, char *buf, size_t len)
{
	buf[0] = '\0';
	if (h->ops.status != NULL)
		h->ops.status(h->arg, buf, len);
}

void
health_update(struct health *h)
{
	char why[HEALTH_TEXT], status[HEALTH_TEXT];
	bool ok;

	if (h == NULL)
		return;
	ok = health_ready(h, why, sizeof(why));
	health_status(h, status, sizeof(status));
	if (h->stopping)
		return;
	if (ok && !h->ever_ready) {
		h->ever_ready = true;
		log_debug("health: ready (%s)", status);
		sdnotify_send(h->notify, "READY=1\nSTATUS=%s", status);
		util_strlcpy(h->status, status, sizeof(h->status));
		return;
	}
	if (!ok)
		util_snprintf(status, sizeof(status), "not ready: %s", why);
	if (strcmp(status, h->status) != 0) {
		sdnotify_send(h->notify, "STATUS=%s", status);
		util_strlcpy(h->status, status, sizeof(h->status));
	}
}

static void
health_tick(void *arg)
{
	health_update(arg);
}

static void
health_watchdog(void *arg)
{
	struct health *h = arg;

	sdnotify_send(h->notify, "WATCHDOG=1");
}

/* A JSON object {"KEY":BOOL,"TEXTKEY":"TEXT"} into body. */
static void
json_line(struct evbuffer *body, bool ready, const char *key, const char *text)
{
	char esc[2 * HEALTH_TEXT + 8];
	size_t pos = 0;

	esc[0] = '\0';
	log_json_escape(esc, sizeof(esc), &pos, text);
	evbuffer_add_printf(body, "{\"ready\":%s,\"%s\":\"%s\"}\n", ready ? "true" : "false", key,
	    esc);
}

static void
health_handle(const struct httpd_request *req, struct httpd_response *resp, void *arg)
{
	struct health *h = arg;
	char why[HEALTH_TEXT], status[HEALTH_TEXT];

	if (strcmp(req->path, "/metrics") == 0) {
		resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
		metrics_render(h->m, resp->body);
	} else if (strcmp(req->path, "/ready") == 0) {
		resp->content_type = "application/json";
		if (health_ready(h, why, sizeof(why))) {
			health_status(h, status, sizeof(status));
			json_line(resp->body, true, "status", status);
		} else {
			resp->status = 503;
			json_line(resp->body, false, "reason", why);
		}
	} else if (strcmp(req->path, "/healthz") == 0) {
		resp->content_type = "application/json";
		evbuffer_add_printf(resp->body, "{\"status\":\"ok\"}\n");
	} else {
		resp->status = 404;
		evbuffer_add_printf(resp->body, "404 Not Found: the endpoints are /metrics, /ready "
		    "and /healthz\n");
	}
}

static void
health_collect(void *arg)
{
	struct health *h = arg;
	char why[HEALTH_TEXT];

	metrics_set(h->ready_f, health_ready(h, why, sizeof(why)) ? 1 : 0);
	if (h->ops.collect != NULL)
		h->ops.collect(h->arg);
}

struct health *
health_new(struct event_base *base, const struct health_ops *ops, void *arg)
{
	struct health *h = xcalloc(1, sizeof(*h));
	struct metrics_family *f;
	uint64_t wd;

	h->base = base;
	h->ops = *ops;
	h->arg = arg;
	h->m = metrics_new();
	metrics_set_collect(h->m, health_collect, h);
	f = metrics_family(h->m, "zt_build_info", METRICS_GAUGE,
	    "The version of zt and the applet this process runs; always 1.", "version,applet");
	metrics_set(f, 1, PACKAGE_VERSION, ops->applet);
	f = metrics_family(h->m, "zt_start_time_seconds", METRICS_GAUGE,
	    "When the process started, in seconds since the Unix epoch.", NULL);
	metrics_set(f, (double)time(NULL));
	h->ready_f = metrics_family(h->m, "zt_ready", METRICS_GAUGE,
	    "1 when the applet can do its job (/ready answers 200), else 0.", NULL);
	h->reloads_f = metrics_family(h->m, "zt_reloads_total", METRICS_COUNTER,
	    "Configuration reloads (SIGHUP), by whether the new configuration was taken.",
	    "result");
	metrics_add(h->reloads_f, 0, "ok");
	metrics_add(h->reloads_f, 0, "error");
	h->notify = sdnotify_open();
	h->tick = ev_timer_new(base, health_tick, h);
	ev_timer_start(h->tick, HEALTH_TICK_MS, true);
	if ((wd = sdnotify_watchdog_usec(h->notify)) > 0) {
		uint64_t ms = wd / 2000;

		h->watchdog = ev_timer_new(base, health_watchdog, h);
		ev_timer_start(h->watchdog, ms > 0 ? ms : 1, true);
		log_debug("health: watchdog every %llu ms", (unsigned long long)(ms > 0 ? ms : 1));
	}
	return h;
}

void
health_free(struct health *h)
{
	if (h == NULL)
		return;
	httpd_free(h->httpd);
	ev_timer_free(h->tick);
	ev_timer_free(h->watchdog);
	sdnotify_free(h->notify);
	metrics_free(h->m);
	free(h);
}

struct metrics *
health_metrics(struct health *h)
{
	return h->m;
}

int
health_listen(struct health *h, const char *addr, bool *config_error)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char err[256];

	*config_error = false;
	if (httpd_parse_addr(addr, &ss, &len, err, sizeof(err)) == -1) {
		log_errorx("--metrics \"%s\": %s", addr, err);
		*config_error = true;
		return -1;
	}
	if ((h->httpd = httpd_new(h->base, (struct sockaddr *)&ss, len, health_handle, h)) == NULL)
		return -1;
	log_info("metrics, /ready and /healthz on http://%s", util_sockaddr_str(
	    (struct sockaddr *)&ss, err, sizeof(err)));
	return 0;
}

void
health_reloading(struct health *h)
{
	if (h == NULL)
		return;
	sdnotify_send(h->notify, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)sdnotify_monotonic_usec());
}

void
health_reloaded(struct health *h, bool ok)
{
	char status[HEALTH_TEXT];

	if (h == NULL)
		return;
	metrics_add(h->reloads_f, 1, ok ? "ok" : "error");
	if (h->stopping)
		return;
	health_status(h, status, sizeof(status));
	if (h->ever_ready) {
		sdnotify_send(h->notify, "READY=1\nSTATUS=%s", status);
		util_strlcpy(h->status, status, sizeof(h->status));
	} else
		health_update(h);
}

void
health_stopping(struct health *h)
{
	if (h == NULL || h->stopping)
		return;
	h->stopping = true;
	sdnotify_send(h->notify, "STOPPING=1\nSTATUS=stopping");
}

bool
health_is_stopping(const struct health *h)
{
	return h != NULL && h->stopping;
}

int
health_probe(const char *prog, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char err[256], body[1024];
	int status;

	if (httpd_parse_addr(addr, &ss, &len, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: --metrics \"%s\": %s\n", prog, addr, err);
		return 2;
	}
	status = httpd_get((struct sockaddr *)&ss, len, "/ready", HEALTH_PROBE_MS, body,
	    sizeof(body));
	body[strcspn(body, "\r\n")] = '\0';
	if (status == -1) {
		fprintf(stderr, "%s: no answer from http://%s/ready: %s (is it running, with "
		    "--metrics %s?)\n", prog, util_sockaddr_str((struct sockaddr *)&ss, err,
		    sizeof(err)), body, addr);
		return 1;
	}
	if (status != 200) {
		fprintf(stderr, "%s: not ready (%d): %s\n", prog, status, body);
		return 1;
	}
	printf("%s\n", body);
	return 0;
}

const char *
health_result(uint16_t code, char *buf, size_t len)
{
	const char *name = code == MUX_OK ? "ok" : mux_code_name(code);
	size_t i;

	for (i = 0; name[i] != '\0' && i + 1 < len; i++)
		buf[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
	buf[i] = '\0';
	return buf;
}
