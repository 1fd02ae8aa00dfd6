/* check_loginfile: put, get, del and list of logins, the file's place and modes, corrupt
 * files reported and kept, RFC 3339 times, and parallel writers (none lost, always valid). */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "common/loginfile.h"
#include "common/util.h"
#include "suites.h"

static char dir[PATH_MAX], file[PATH_MAX];

static void
setup(void)
{
	ck_assert(util_strlcpy(dir, "/tmp/zt-check-loginfile-XXXXXX", sizeof(dir)));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(setenv("XDG_CONFIG_HOME", dir, 1), 0);
	ck_assert(util_snprintf(file, sizeof(file), "%s/zt/logins.json", dir));
}

static void
teardown(void)
{
	char p[PATH_MAX];

	util_snprintf(p, sizeof(p), "%s/zt/logins.json", dir);
	unlink(p);
	util_snprintf(p, sizeof(p), "%s/zt/logins.lock", dir);
	unlink(p);
	util_snprintf(p, sizeof(p), "%s/zt", dir);
	rmdir(p);
	rmdir(dir);
}

static void
rec_make(struct loginfile_rec *r, const char *key, const char *token)
{
	memset(r, 0, sizeof(*r));
	ck_assert(util_strlcpy(r->key, key, sizeof(r->key)));
	ck_assert(util_snprintf(r->edge, sizeof(r->edge), "https://%s", key));
	ck_assert(util_strlcpy(r->token, token, sizeof(r->token)));
	r->expires = 1795813200;	/* 2026-11-27T21:00:00Z */
}

START_TEST(test_put_get_del)
{
	struct loginfile_rec r, got, *list;
	char err[LOGINFILE_ERR_MAX], d[PATH_MAX];
	struct stat st;
	size_t n;

	ck_assert(loginfile_dir(d, sizeof(d)));
	ck_assert(util_snprintf(err, sizeof(err), "%s/zt", dir));
	ck_assert_str_eq(d, err);
	/* Nothing yet: no file and no directory are made by reading. */
	ck_assert_int_eq(loginfile_get("edge.test:443", &got, err, sizeof(err)), 0);
	ck_assert_int_eq(loginfile_del("edge.test:443", err, sizeof(err)), 0);
	ck_assert_int_eq(loginfile_list(&list, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(stat(d, &st), -1);

	rec_make(&r, "edge.test:443", "aaa.bbb.ccc");
	ck_assert(util_strlcpy(r.email, "alice@example.com", sizeof(r.email)));
	ck_assert(util_strlcpy(r.pin, "sha256//AAAA", sizeof(r.pin)));
	ck_assert(util_strlcpy(r.ca_file, "/etc/zt/ca.crt", sizeof(r.ca_file)));
	ck_assert(util_strlcpy(r.edge_name, "edge.test", sizeof(r.edge_name)));
	ck_assert_msg(loginfile_put(&r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(stat(d, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	ck_assert_int_eq(stat(file, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);

	ck_assert_int_eq(loginfile_get("edge.test:443", &got, err, sizeof(err)), 1);
	ck_assert_str_eq(got.key, "edge.test:443");
	ck_assert_str_eq(got.edge, "https://edge.test:443");
	ck_assert_str_eq(got.token, "aaa.bbb.ccc");
	ck_assert_str_eq(got.email, "alice@example.com");
	ck_assert_str_eq(got.pin, "sha256//AAAA");
	ck_assert_str_eq(got.ca_file, "/etc/zt/ca.crt");
	ck_assert_str_eq(got.edge_name, "edge.test");
	ck_assert_int_eq(got.expires, 1795813200);
	{
		char *data;
		size_t len;

		ck_assert_int_eq(util_read_file(file, 65536, &data, &len), 0);
		ck_assert_ptr_nonnull(strstr(data, "\"expires\": \"2026-11-27T21:00:00Z\""));
		free(data);
	}

	/* A second edge, then the first replaced: the other stays. */
	rec_make(&r, "[::1]:7844", "ddd.eee.fff");
	ck_assert_int_eq(loginfile_put(&r, err, sizeof(err)), 0);
	rec_make(&r, "edge.test:443", "ggg.hhh.iii");
	ck_assert_int_eq(loginfile_put(&r, err, sizeof(err)), 0);
	ck_assert_int_eq(loginfile_list(&list, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(list[0].key, "[::1]:7844");
	ck_assert_str_eq(list[1].key, "edge.test:443");
	ck_assert_str_eq(list[1].token, "ggg.hhh.iii");
	ck_assert_str_eq(list[1].email, "");
	ck_assert_str_eq(list[1].pin, "");
	loginfile_list_free(list, n);

	ck_assert_int_eq(loginfile_del("edge.test:443", err, sizeof(err)), 1);
	ck_assert_int_eq(loginfile_del("edge.test:443", err, sizeof(err)), 0);
	ck_assert_int_eq(loginfile_get("edge.test:443", &got, err, sizeof(err)), 0);
	ck_assert_int_eq(loginfile_get("[::1]:7844", &got, err, sizeof(err)), 1);
	ck_assert_int_eq(stat(file, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);

	/* A record without its parts is refused. */
	r.token[0] = '\0';
	ck_assert_int_eq(loginfile_put(&r, err, sizeof(err)), -1);
}
END_TEST

/* Writes text as the login file. */
static void
write_file(const char *text, mode_t mode)
{
	char d[PATH_MAX];

	ck_assert(util_snprintf(d, sizeof(d), "%s/zt", dir));
	ck_assert_int_eq(util_mkdir_p(d, 0700), 0);
	ck_assert_int_eq(util_write_file_atomic(file, text, strlen(text), mode), 0);
}

START_TEST(test_corrupt)
{
	static const struct { const char *text; const char *why; } v[] = {
		{ "{\"a:1\": {\"edge\": ", "line" },
		{ "[]", "not a JSON object" },
		{ "{\"a:1\": {}, \"a:1\": {}}", "duplicate" },
		{ "{\"a:1\": 5}", "not an object" },
		{ "{\"a:1\": {\"edge\": \"https://a:1\", \"expires\": \"2026-11-27T21:00:00Z\"}}",
		  "no \"token\"" },
		{ "{\"a:1\": {\"edge\": \"https://a:1\", \"token\": 1, \"expires\": "
		  "\"2026-11-27T21:00:00Z\"}}", "not a string" },
		{ "{\"a:1\": {\"edge\": \"https://a:1\", \"token\": \"t\", \"expires\": "
		  "\"tomorrow\"}}", "RFC 3339" },
		{ "{\"a:1\": {\"edge\": \"https://a:1\", \"token\": \"t\\u0000x\", \"expires\": "
		  "\"2026-11-27T21:00:00Z\"}}", "corrupt" },
	};
	struct loginfile_rec r, got, *list;
	char err[LOGINFILE_ERR_MAX], *data;
	size_t n, len;

	for (size_t i = 0; i < nitems(v); i++) {
		write_file(v[i].text, 0600);
		err[0] = '\0';
		ck_assert_int_eq(loginfile_get("a:1", &got, err, sizeof(err)), -1);
		ck_assert_msg(strstr(err, file) != NULL && strstr(err, v[i].why) != NULL,
		    "%zu: %s", i, err);
		ck_assert_int_eq(loginfile_list(&list, &n, err, sizeof(err)), -1);
		/* A file that is not JSON at all is never replaced. */
		if (i <= 2) {
			rec_make(&r, "b:2", "x.y.z");
			ck_assert_int_eq(loginfile_put(&r, err, sizeof(err)), -1);
			ck_assert_int_eq(loginfile_del("a:1", err, sizeof(err)), -1);
			ck_assert_int_eq(util_read_file(file, 65536, &data, &len), 0);
			ck_assert_str_eq(data, v[i].text);
			free(data);
		}
	}
	/* A file others may read is refused, not used. */
	write_file("{}", 0644);
	ck_assert_int_eq(loginfile_get("a:1", &got, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "chmod 600") != NULL, "%s", err);
	unlink(file);
}
END_TEST

START_TEST(test_place)
{
	char d[PATH_MAX];

	ck_assert_int_eq(setenv("XDG_CONFIG_HOME", "relative/dir", 1), 0);
	ck_assert_int_eq(setenv("HOME", "/home/someone", 1), 0);
	ck_assert(loginfile_dir(d, sizeof(d)));
	ck_assert_str_eq(d, "/home/someone/.config/zt");
	ck_assert_int_eq(unsetenv("XDG_CONFIG_HOME"), 0);
	ck_assert(loginfile_dir(d, sizeof(d)));
	ck_assert_str_eq(d, "/home/someone/.config/zt");
	ck_assert_int_eq(setenv("XDG_CONFIG_HOME", "/x", 1), 0);
	ck_assert(loginfile_dir(d, sizeof(d)));
	ck_assert_str_eq(d, "/x/zt");
}
END_TEST

START_TEST(test_time)
{
	char buf[32];
	int64_t t;

	ck_assert(loginfile_time_format(0, buf, sizeof(buf)));
	ck_assert_str_eq(buf, "1970-01-01T00:00:00Z");
	ck_assert_int_eq(loginfile_time_parse("2026-11-27T21:00:00Z", &t), 0);
	ck_assert_int_eq(t, 1795813200);
	ck_assert_int_eq(loginfile_time_parse("2024-02-29T23:59:59Z", &t), 0);
	ck_assert_int_eq(loginfile_time_parse("2026-02-30T00:00:00Z", &t), -1);
	ck_assert_int_eq(loginfile_time_parse("2026-11-27T21:00:00", &t), -1);
	ck_assert_int_eq(loginfile_time_parse("2026-11-27 21:00:00Z", &t), -1);
	ck_assert_int_eq(loginfile_time_parse("2026-11-27T21:00:00+01:00", &t), -1);
	ck_assert_int_eq(loginfile_time_parse("2026-11-27T25:00:00Z", &t), -1);
	ck_assert_int_eq(loginfile_time_parse("", &t), -1);
	ck_assert(!loginfile_time_format(-1, buf, sizeof(buf)));
}
END_TEST

#define WRITERS	6
#define EACH	12

START_TEST(test_parallel)
{
	struct loginfile_rec *list;
	char err[LOGINFILE_ERR_MAX];
	pid_t pids[WRITERS];
	int reads = 0, status;
	size_t n;

	for (int w = 0; w < WRITERS; w++) {
		ck_assert_int_ne(pids[w] = fork(), -1);
		if (pids[w] == 0) {
			for (int i = 0; i < EACH; i++) {
				struct loginfile_rec r;
				char key[64], tok[64];

				util_snprintf(key, sizeof(key), "edge-%d-%d.test:443", w, i);
				util_snprintf(tok, sizeof(tok), "tok.%d.%d", w, i);
				rec_make(&r, key, tok);
				if (loginfile_put(&r, err, sizeof(err)) == -1) {
					fprintf(stderr, "writer %d: %s\n", w, err);
					_exit(1);
				}
			}
			_exit(0);
		}
	}
	/* While they write, the file is always valid JSON (read without the lock). */
	for (;;) {
		int done = 0;

		for (int w = 0; w < WRITERS; w++)
			if (pids[w] == 0 || waitpid(pids[w], &status, WNOHANG) == pids[w]) {
				if (pids[w] != 0)
					ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
				pids[w] = 0;
				done++;
			}
		if (access(file, F_OK) == 0) {
			json_error_t je;
			json_t *root = json_load_file(file, JSON_REJECT_DUPLICATES, &je);

			ck_assert_msg(root != NULL && json_is_object(root), "invalid: %s", je.text);
			json_decref(root);
			reads++;
		}
		if (done == WRITERS)
			break;
	}
	ck_assert_int_eq(loginfile_list(&list, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, WRITERS * EACH);
	for (size_t i = 0; i < n; i++) {
		int w, k;

		ck_assert_int_eq(sscanf(list[i].key, "edge-%d-%d.test:443", &w, &k), 2);
		ck_assert(util_snprintf(err, sizeof(err), "tok.%d.%d", w, k));
		ck_assert_str_eq(list[i].token, err);
	}
	loginfile_list_free(list, n);
	ck_assert_int_gt(reads, 0);
}
END_TEST

Suite *
loginfile_suite(void)
{
	Suite *s = suite_create("loginfile");
	TCase *tc = tcase_create("loginfile");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_put_get_del);
	tcase_add_test(tc, test_corrupt);
	tcase_add_test(tc, test_place);
	tcase_add_test(tc, test_time);
	tcase_add_test(tc, test_parallel);
	suite_add_tcase(s, tc);
	return s;
}
