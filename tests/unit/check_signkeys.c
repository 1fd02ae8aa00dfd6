/* check_signkeys: the edge's signing keys in DIR/keys: creation, rotation, loading, pruning,
 * listing, change stamps, refused files and modes, and concurrent rotations under the lock. */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "common/jwt.h"
#include "common/log.h"
#include "common/signkeys.h"
#include "common/util.h"
#include "suites.h"

#define T0	((time_t)1800000000)
#define DAY	86400

static char tmpdir[PATH_MAX], sdir[PATH_MAX], kdir[PATH_MAX];
static char err[512];

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
setup(void)
{
	util_strlcpy(tmpdir, "/tmp/check_signkeys.XXXXXX", sizeof(tmpdir));
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	ck_assert(util_snprintf(sdir, sizeof(sdir), "%s/state", tmpdir));
	ck_assert(util_snprintf(kdir, sizeof(kdir), "%s/keys", sdir));
	ck_assert_int_eq(mkdir(sdir, 0700), 0);
	log_set_level(LOG_LEVEL_ERROR);
}

static void
teardown(void)
{
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Files in DIR/keys. */
static int
nfiles(void)
{
	DIR *d = opendir(kdir);
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static char *
sign_with(struct jwt_keyset *ks, time_t now)
{
	static char tok[JWT_MAX + 1];
	struct jwt_claims c;

	memset(&c, 0, sizeof(c));
	util_strlcpy(c.iss, "https://e", sizeof(c.iss));
	util_strlcpy(c.sub, "a@b", sizeof(c.sub));
	util_strlcpy(c.aud, "https://e", sizeof(c.aud));
	util_strlcpy(c.type, "service", sizeof(c.type));
	c.iat = c.nbf = now;
	c.exp = now + 300;
	ck_assert_int_gt(jwt_sign(ks, &c, tok, sizeof(tok)), 0);
	return tok;
}

static int
verify(struct jwt_keyset *ks, const char *tok, time_t now)
{
	return jwt_verify(ks, tok, "https://e", "https://e", now, NULL, err, sizeof(err));
}

/* Writes text as DIR/keys/name, mode 0600. */
static void
put(const char *name, const char *text)
{
	char path[PATH_MAX];

	ck_assert(util_snprintf(path, sizeof(path), "%s/%s", kdir, name));
	ck_assert_int_eq(util_write_file_atomic(path, text, strlen(text), 0600), 0);
}

START_TEST(test_init_load)
{
	struct jwt_keyset *ks;
	struct signkeys_info *k;
	struct stat sb;
	size_t n;

	ck_assert_ptr_null(signkeys_load(sdir, T0, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "does not exist"));
	ck_assert_int_eq(signkeys_init(sdir), 0);
	ck_assert_int_eq(stat(kdir, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0700);
	ck_assert_int_eq(nfiles(), 1);
	ck_assert_int_eq(signkeys_init(sdir), 0);
	ck_assert_int_eq(nfiles(), 1);
	ks = signkeys_load(sdir, time(NULL), err, sizeof(err));
	ck_assert_msg(ks != NULL, "%s", err);
	ck_assert_uint_eq(jwt_keyset_count(ks), 1);
	ck_assert_uint_eq(strlen(jwt_keyset_kid(ks, 0)), JWT_KID_LEN);
	ck_assert_int_eq(verify(ks, sign_with(ks, T0), T0), 0);
	ck_assert_int_eq(signkeys_list(sdir, time(NULL), &k, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert(k[0].current);
	ck_assert_str_eq(k[0].kid, jwt_keyset_kid(ks, 0));
	ck_assert_int_eq(k[0].retired, 0);
	{
		char path[PATH_MAX];

		ck_assert(util_snprintf(path, sizeof(path), "%s/%s", kdir, k[0].kid));
		ck_assert_int_eq(stat(path, &sb), 0);
		ck_assert_int_eq(sb.st_mode & 0777, 0600);
	}
	free(k);
	jwt_keyset_free(ks);
}
END_TEST

START_TEST(test_rotate)
{
	struct jwt_keyset *ks1, *ks2, *ks3;
	struct signkeys_info *k;
	char kid[JWT_KID_LEN + 1], old[JWT_KID_LEN + 1], tok1[JWT_MAX + 1];
	uint64_t st1, st2;
	size_t n;

	ck_assert_int_eq(signkeys_init(sdir), 0);
	ks1 = signkeys_load(sdir, T0, err, sizeof(err));
	ck_assert_ptr_nonnull(ks1);
	util_strlcpy(old, jwt_keyset_kid(ks1, 0), sizeof(old));
	util_strlcpy(tok1, sign_with(ks1, T0), sizeof(tok1));
	st1 = signkeys_stamp(sdir);
	ck_assert_uint_ne(st1, 0);
	ck_assert_uint_eq(signkeys_stamp(sdir), st1);

	ck_assert_int_eq(signkeys_rotate(sdir, T0, DAY, kid), 0);
	st2 = signkeys_stamp(sdir);
	ck_assert_uint_ne(st2, st1);
	ck_assert_str_ne(kid, old);
	ks2 = signkeys_load(sdir, T0 + 10, err, sizeof(err));
	ck_assert_msg(ks2 != NULL, "%s", err);
	ck_assert_uint_eq(jwt_keyset_count(ks2), 2);
	ck_assert_str_eq(jwt_keyset_kid(ks2, 0), kid);	/* the new key signs */
	ck_assert_str_eq(jwt_keyset_kid(ks2, 1), old);
	ck_assert_ptr_nonnull(strstr(sign_with(ks2, T0 + 10), "eyJhbGciOiJFUzI1NiIsImtpZCI6I"));
	ck_assert_int_eq(verify(ks2, tok1, T0 + 10), 0);	/* old tokens still verify */
	ck_assert_int_eq(verify(ks1, sign_with(ks2, T0 + 10), T0 + 10), -1);
	ck_assert_ptr_nonnull(strstr(err, kid));
	ck_assert_int_eq(signkeys_next_change(sdir, T0 + 10), T0 + DAY);

	ck_assert_int_eq(signkeys_list(sdir, T0 + 10, &k, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(k[0].kid, old);
	ck_assert(!k[0].current);
	ck_assert_int_eq(k[0].retired, T0);
	ck_assert_int_eq(k[0].expires, T0 + DAY);
	ck_assert(k[1].current);
	free(k);

	/* Past its expiry the old key is unpublished and its file removed. */
	ck_assert_int_eq(nfiles(), 2);
	ks3 = signkeys_load(sdir, T0 + DAY, err, sizeof(err));
	ck_assert_ptr_nonnull(ks3);
	ck_assert_uint_eq(jwt_keyset_count(ks3), 1);
	ck_assert_int_eq(nfiles(), 1);
	ck_assert_int_eq(verify(ks3, tok1, T0 + 100), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown key id"));
	ck_assert_int_eq(signkeys_next_change(sdir, T0 + DAY), 0);

	ck_assert_int_eq(signkeys_rotate(sdir, T0, 0, NULL), -1);
	ck_assert_int_eq(signkeys_rotate(sdir, T0, SIGNKEYS_LIFETIME_MAX + 1, NULL), -1);
	/* The longest session_duration (366 days) plus the leeway is taken. */
	ck_assert_int_eq(signkeys_rotate(sdir, T0 + DAY, 366 * DAY + JWT_LEEWAY, NULL), 0);
	jwt_keyset_free(ks1);
	jwt_keyset_free(ks2);
	jwt_keyset_free(ks3);
}
END_TEST

START_TEST(test_limit)
{
	int i;

	ck_assert_int_eq(signkeys_init(sdir), 0);
	for (i = 1; i < JWT_KEYS_MAX; i++)
		ck_assert_int_eq(signkeys_rotate(sdir, T0 + i, DAY, NULL), 0);
	ck_assert_int_eq(nfiles(), JWT_KEYS_MAX);
	ck_assert_int_eq(signkeys_rotate(sdir, T0 + i, DAY, NULL), -1);
	ck_assert_int_eq(nfiles(), JWT_KEYS_MAX);
	/* Once the first retired keys expire, rotation works again. */
	ck_assert_int_eq(signkeys_rotate(sdir, T0 + DAY + 2, DAY, NULL), 0);
	ck_assert_int_eq(nfiles(), JWT_KEYS_MAX - 1);
}
END_TEST

START_TEST(test_refusals)
{
	struct jwt_keyset *ks;
	struct signkeys_info *k;
	char path[PATH_MAX], *text, *p, *bad;
	size_t n, len;
	static const struct {
		const char *from, *to, *why;
	} edits[] = {
		{ "zt-state = 1\n", "zt-state = 2\n", "\"zt-state = 1\" must come first" },
		{ "created = ", "made = ", "unknown or repeated key \"made\"" },
		{ "created = ", "created = x", "is not a UTC time" },
		{ "created = ", "created = 1969-12-31T23:59:59Z\nx = ", "is not a UTC time" },
		{ "-----BEGIN PRIVATE KEY-----", "-----BEGIN EC PRIVATE KEY-----",
		    "does not start with a PEM PKCS#8 private key" },
		{ "zt-state = 1\n", "zt-state = 1\nexpires = 2027-01-01T00:00:00Z\n",
		    "retired and expires go together" },
		{ "zt-state = 1\n", "zt-state=1\n", "not a \"key = value\" line" },
	};

	ck_assert_int_eq(signkeys_init(sdir), 0);
	ck_assert_int_eq(signkeys_list(sdir, T0, &k, &n), 0);
	ck_assert(util_snprintf(path, sizeof(path), "%s/%s", kdir, k[0].kid));
	ck_assert_int_eq(util_read_file(path, 8192, &text, &len), 0);

	/* Modes. */
	ck_assert_int_eq(chmod(path, 0640), 0);
	ck_assert_ptr_null(signkeys_load(sdir, T0, err, sizeof(err)));
	ck_assert_msg(strstr(err, "run 'chmod 600") != NULL, "%s", err);
	ck_assert_int_eq(chmod(path, 0600), 0);
	ck_assert_int_eq(chmod(kdir, 0750), 0);
	ck_assert_ptr_null(signkeys_load(sdir, T0, err, sizeof(err)));
	ck_assert_msg(strstr(err, "run 'chmod 700") != NULL, "%s", err);
	ck_assert_int_eq(signkeys_rotate(sdir, T0, DAY, NULL), -1);
	ck_assert_int_eq(chmod(kdir, 0700), 0);

	/* Malformed files, each refused with file:line and why. */
	for (size_t i = 0; i < nitems(edits); i++) {
		p = strstr(text, edits[i].from);
		ck_assert_ptr_nonnull(p);
		xasprintf(&bad, "%.*s%s%s", (int)(p - text), text, edits[i].to,
		    p + strlen(edits[i].from));
		put(k[0].kid, bad);
		ck_assert_ptr_null(signkeys_load(sdir, T0, err, sizeof(err)));
		ck_assert_msg(strstr(err, edits[i].why) != NULL, "%s: %s", edits[i].to, err);
		ck_assert_ptr_nonnull(strstr(err, path));
		free(bad);
	}
	/* The kid must be the file's name. */
	put(k[0].kid, text);
	put("BBBBBBBBBBBBBBBBBBBBBB", text);
	ck_assert_ptr_null(signkeys_load(sdir, T0, err, sizeof(err)));
	ck_assert_msg(strstr(err, "kid must be the file's name") != NULL, "%s", err);
	ck_assert(util_snprintf(path, sizeof(path), "%s/BBBBBBBBBBBBBBBBBBBBBB", kdir));
	ck_assert_int_eq(unlink(path), 0);
	/* No current key. */
	xasprintf(&bad, "%sretired = 2027-01-01T00:00:00Z\nexpires = 2099-01-01T00:00:00Z\n",
	    text);
	put(k[0].kid, bad);
	ck_assert_ptr_null(signkeys_load(sdir, T0, err, sizeof(err)));
	ck_assert_msg(strstr(err, "no current signing key: run 'zt edge rotate-keys'") != NULL,
	    "%s", err);
	/* init makes a current one again, keeping the retired one published. */
	ck_assert_int_eq(signkeys_init(sdir), 0);
	ks = signkeys_load(sdir, T0, err, sizeof(err));
	ck_assert_msg(ks != NULL, "%s", err);
	ck_assert_uint_eq(jwt_keyset_count(ks), 2);
	jwt_keyset_free(ks);
	free(bad);
	/* Dot files and temporary files are skipped. */
	put(".hidden", "junk");
	put("x.tmp-123456789012", "junk");
	ks = signkeys_load(sdir, T0, err, sizeof(err));
	ck_assert_msg(ks != NULL, "%s", err);
	jwt_keyset_free(ks);
	free(text);
	free(k);
}
END_TEST

START_TEST(test_concurrent_rotations)
{
	struct signkeys_info *k;
	size_t n, current = 0;
	pid_t pids[2];

	ck_assert_int_eq(signkeys_init(sdir), 0);
	for (int i = 0; i < 2; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			for (int j = 0; j < 3; j++)
				if (signkeys_rotate(sdir, T0, DAY, NULL) == -1)
					_exit(1);
			_exit(0);
		}
	}
	for (int i = 0; i < 2; i++) {
		int status;

		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	ck_assert_int_eq(signkeys_list(sdir, T0, &k, &n), 0);
	ck_assert_uint_eq(n, 7);
	for (size_t i = 0; i < n; i++) {
		if (k[i].current) {
			current++;
			ck_assert_int_eq(k[i].retired, 0);
		} else {
			ck_assert_int_eq(k[i].retired, T0);
		}
	}
	ck_assert_uint_eq(current, 1);
	free(k);
}
END_TEST

Suite *
signkeys_suite(void)
{
	Suite *s = suite_create("signkeys");
	TCase *tc = tcase_create("signkeys");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_init_load);
	tcase_add_test(tc, test_rotate);
	tcase_add_test(tc, test_limit);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_concurrent_rotations);
	suite_add_tcase(s, tc);
	return s;
}
