/* check_metrics: the registry and its text exposition format (HELP, TYPE, labels, escapes). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <event2/buffer.h>

#include "common/metrics.h"
#include "common/util.h"
#include "suites.h"

static int collected;

static void
collect(void *arg)
{
	metrics_set(arg, 7);
	collected++;
}

static char *
render(struct metrics *m)
{
	struct evbuffer *b = evbuffer_new();
	size_t n;
	char *s;

	metrics_render(m, b);
	n = evbuffer_get_length(b);
	s = xmalloc(n + 1);
	evbuffer_remove(b, s, n);
	s[n] = '\0';
	evbuffer_free(b);
	return s;
}

START_TEST(test_render)
{
	struct metrics *m = metrics_new();
	struct metrics_family *c, *g, *l;
	char *s;

	c = metrics_family(m, "zt_x_bytes_total", METRICS_COUNTER, "Bytes.", NULL);
	g = metrics_family(m, "zt_x_open", METRICS_GAUGE, "Open now.", NULL);
	l = metrics_family(m, "zt_x_streams_total", METRICS_COUNTER, "Streams, by result.",
	    "result,role");
	metrics_family(m, "zt_x_empty", METRICS_GAUGE, "Help with \\ and\nnewline.", "a");
	metrics_set_collect(m, collect, g);
	metrics_add(c, 1e15);
	metrics_add(c, 5);
	metrics_add(l, 1, "ok", "client");
	metrics_add(l, 2, "not_allowed", "client");
	metrics_add(l, 1, "ok", "client");
	metrics_add(l, 0, "we\"ird\\\n", NULL);
	s = render(m);
	ck_assert_str_eq(s,
	    "# HELP zt_x_bytes_total Bytes.\n"
	    "# TYPE zt_x_bytes_total counter\n"
	    "zt_x_bytes_total 1000000000000005\n"
	    "# HELP zt_x_open Open now.\n"
	    "# TYPE zt_x_open gauge\n"
	    "zt_x_open 7\n"
	    "# HELP zt_x_streams_total Streams, by result.\n"
	    "# TYPE zt_x_streams_total counter\n"
	    "zt_x_streams_total{result=\"ok\",role=\"client\"} 2\n"
	    "zt_x_streams_total{result=\"not_allowed\",role=\"client\"} 2\n"
	    "zt_x_streams_total{result=\"we\\\"ird\\\\\\n\",role=\"\"} 0\n"
	    "# HELP zt_x_empty Help with \\\\ and\\nnewline.\n"
	    "# TYPE zt_x_empty gauge\n");
	ck_assert_int_eq(collected, 1);
	free(s);
	metrics_set(g, 0.5);
	metrics_set_collect(m, NULL, NULL);
	s = render(m);
	ck_assert(strstr(s, "zt_x_open 0.5\n") != NULL);
	free(s);
	metrics_free(m);
	metrics_free(NULL);
}
END_TEST

START_TEST(test_series_cap)
{
	struct metrics *m = metrics_new();
	struct metrics_family *f = metrics_family(m, "zt_x_total", METRICS_COUNTER, "X.", "k");
	char v[16], *s;

	for (int i = 0; i < METRICS_MAX_SERIES + 5; i++) {
		snprintf(v, sizeof(v), "v%d", i);
		metrics_add(f, 1, v);
	}
	s = render(m);
	ck_assert(strstr(s, "zt_x_total{k=\"v63\"} 1\n") != NULL);
	ck_assert(strstr(s, "v64") == NULL);
	free(s);
	metrics_free(m);
}
END_TEST

START_TEST(test_names)
{
	ck_assert(metrics_name_valid("zt_a:b_total", false));
	ck_assert(!metrics_name_valid("zt_a:b", true));
	ck_assert(!metrics_name_valid("1zt", false));
	ck_assert(!metrics_name_valid("zt-x", false));
	ck_assert(!metrics_name_valid("", false));
	ck_assert(metrics_name_valid("_x9", true));
}
END_TEST

Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("registry");

	tcase_add_test(tc, test_render);
	tcase_add_test(tc, test_series_cap);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);
	return s;
}
