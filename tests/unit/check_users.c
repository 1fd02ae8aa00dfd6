/* check_users: DIR/users: scrypt known answers (RFC 7914), TOTP test vectors (RFC 6238
 * appendix B), add/check/del, second factor and replay, file modes, malformed files, the
 * edge's watching view, and the login rate limiter. */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "common/log.h"
#include "common/users.h"
#include "common/util.h"
#include "suites.h"

#define T0	((time_t)1800000000)	/* 2027-01-15T08:00:00Z, step 60000000 */
#define PW	"correct horse battery"

static char tmpdir[PATH_MAX];
static char sdir[PATH_MAX];
static FILE *logfp;
static char logbuf[65536];

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
	util_strlcpy(tmpdir, "/tmp/check_users.XXXXXX", sizeof(tmpdir));
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	ck_assert(util_snprintf(sdir, sizeof(sdir), "%s/state", tmpdir));
	ck_assert_int_eq(mkdir(sdir, 0700), 0);
	logfp = tmpfile();
	ck_assert_ptr_nonnull(logfp);
	log_set_output(logfp);
	log_set_format(LOG_FORMAT_TEXT);
	log_set_level(LOG_LEVEL_DEBUG);
}

static void
teardown(void)
{
	log_set_level(LOG_LEVEL_ERROR);
	log_set_output(NULL);
	fclose(logfp);
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *
log_text(void)
{
	ssize_t n;

	fflush(logfp);
	n = pread(fileno(logfp), logbuf, sizeof(logbuf) - 1, 0);
	logbuf[n > 0 ? n : 0] = '\0';
	return logbuf;
}

static const char *
upath(char *buf, size_t len, const char *email)
{
	ck_assert(util_snprintf(buf, len, "%s/users/%s", sdir, email));
	return buf;
}

static void
add_ok(const char *email, const char *const *groups, size_t ngroups)
{
	char err[USERS_ERR_MAX];

	ck_assert_msg(users_add(sdir, email, PW, groups, ngroups, T0, err, sizeof(err)) == 0,
	    "users_add: %s", err);
}

/* The value of key in DIR/users/EMAIL, or "" if absent. */
static void
file_value(const char *email, const char *key, char *out, size_t outlen)
{
	char p[PATH_MAX], *data, *line, *save = NULL;
	size_t len, klen = strlen(key);

	ck_assert_int_eq(util_read_file(upath(p, sizeof(p), email), 65536, &data, &len), 0);
	out[0] = '\0';
	for (line = strtok_r(data, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, key, klen) == 0 && strncmp(line + klen, " = ", 3) == 0)
			util_strlcpy(out, line + klen + 3, outlen);
	free(data);
}

/* A base32 decoder independent of users.c's. */
static size_t
b32dec(const char *s, uint8_t *out, size_t outlen)
{
	uint64_t acc = 0;
	int bits = 0;
	size_t n = 0;

	for (; *s != '\0' && *s != '&'; s++) {
		const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", *c = strchr(a, *s);
		ck_assert_ptr_nonnull(c);
		acc = (acc << 5) | (uint64_t)(c - a);
		bits += 5;
		if (bits >= 8) {
			ck_assert_uint_lt(n, outlen);
			out[n++] = (uint8_t)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	return n;
}

static void
code_str(uint32_t code, char buf[7])
{
	snprintf(buf, 7, "%06u", code);
}

/* --- known answers ---------------------------------------------------------------------- */

START_TEST(test_totp_rfc6238)
{
	/* RFC 6238 appendix B, SHA-1, seed "12345678901234567890": the 8-digit table's last
	 * six digits (the same truncated number modulo 10^6). */
	static const struct { uint64_t t; uint32_t code; } v[] = {
		{ 59, 287082 }, { 1111111109, 81804 }, { 1111111111, 50471 },
		{ 1234567890, 5924 }, { 2000000000, 279037 }, { 20000000000ULL, 353130 },
	};
	const uint8_t *seed = (const uint8_t *)"12345678901234567890";

	for (size_t i = 0; i < nitems(v); i++)
		ck_assert_uint_eq(users_totp_code(seed, 20, v[i].t / 30), v[i].code);
}
END_TEST

START_TEST(test_scrypt_rfc7914)
{
	static const char *const want[] = {
		"77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442"
		"fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906",
		"fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
		"2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640",
	};
	uint8_t out[64];
	char hex[129];

	ck_assert_int_eq(users_scrypt("", 0, (const uint8_t *)"", 0, 4, 1, 1, out, 64), 0);
	util_hex_encode(out, 64, hex, sizeof(hex));
	ck_assert_str_eq(hex, want[0]);
	ck_assert_int_eq(users_scrypt("password", 8, (const uint8_t *)"NaCl", 4, 10, 8, 16, out,
	    64), 0);
	util_hex_encode(out, 64, hex, sizeof(hex));
	ck_assert_str_eq(hex, want[1]);
}
END_TEST

/* --- add, check, del --------------------------------------------------------------------- */

START_TEST(test_round_trip)
{
	const char *groups[] = { "dev", "ops" };
	struct user_info ui;
	struct timespec a, b;
	char p[PATH_MAX], err[USERS_ERR_MAX], v[256];
	struct stat sb;
	double t_known, t_unknown;

	add_ok("Alice@Example.COM", groups, 2);
	ck_assert_int_eq(stat(upath(p, sizeof(p), "alice@example.com"), &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0600);
	ck_assert_int_eq(stat(p, &sb), 0);
	ck_assert_int_eq(stat(tmpdir, &sb), 0);
	ck_assert(util_snprintf(p, sizeof(p), "%s/users", sdir));
	ck_assert_int_eq(stat(p, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0700);
	file_value("alice@example.com", "password", v, sizeof(v));
	ck_assert_msg(strncmp(v, "$scrypt$ln=15,r=8,p=1$", 22) == 0, "%s", v);
	ck_assert_uint_eq(strlen(v), 22 + 22 + 1 + 43);
	ck_assert_ptr_null(strstr(v, PW));
	file_value("alice@example.com", "groups", v, sizeof(v));
	ck_assert_str_eq(v, "dev ops");
	file_value("alice@example.com", "created", v, sizeof(v));
	ck_assert_str_eq(v, "2027-01-15T08:00:00Z");

	clock_gettime(CLOCK_MONOTONIC, &a);
	ck_assert_int_eq(users_check(sdir, "ALICE@example.com", PW, NULL, T0, &ui), USERS_OK);
	clock_gettime(CLOCK_MONOTONIC, &b);
	t_known = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	ck_assert_str_eq(ui.email, "alice@example.com");
	ck_assert_uint_eq(ui.ngroups, 2);
	ck_assert_str_eq(ui.groups[1], "ops");
	ck_assert(!ui.totp);
	ck_assert_int_eq(ui.created, T0);
	ck_assert_int_eq(users_check(sdir, "alice@example.com", PW "x", "", T0, &ui),
	    USERS_BAD_PASSWORD);
	ck_assert_str_eq(ui.email, "");		/* nothing told on failure */
	ck_assert_int_eq(users_check(sdir, "alice@example.com", "", NULL, T0, NULL),
	    USERS_BAD_PASSWORD);
	clock_gettime(CLOCK_MONOTONIC, &a);
	ck_assert_int_eq(users_check(sdir, "bob@example.com", PW, NULL, T0, NULL), USERS_UNKNOWN);
	clock_gettime(CLOCK_MONOTONIC, &b);
	t_unknown = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	/* The unknown user spends a scrypt too: not a hundredth of the time. */
	ck_assert_msg(t_unknown > t_known / 3, "known %.3f s, unknown %.3f s", t_known,
	    t_unknown);
	ck_assert_int_eq(users_check(sdir, "not an email", PW, NULL, T0, NULL), USERS_UNKNOWN);
	ck_assert_int_eq(users_check(sdir, NULL, NULL, NULL, T0, NULL), USERS_UNKNOWN);

	/* Duplicates, whatever the case. */
	ck_assert_int_eq(users_add(sdir, "alice@EXAMPLE.com", PW, NULL, 0, T0, err, sizeof(err)),
	    -1);
	ck_assert_msg(strstr(err, "'alice@example.com' exists already") != NULL, "%s", err);

	/* passwd and groups keep the rest. */
	ck_assert_int_eq(users_passwd(sdir, "alice@example.com", "new password", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(users_check(sdir, "alice@example.com", PW, NULL, T0, NULL),
	    USERS_BAD_PASSWORD);
	ck_assert_int_eq(users_check(sdir, "alice@example.com", "new password", NULL, T0, &ui),
	    USERS_OK);
	ck_assert_uint_eq(ui.ngroups, 2);
	{
		const char *g2[] = { "admins" };
		ck_assert_int_eq(users_set_groups(sdir, "alice@example.com", g2, 1, err,
		    sizeof(err)), 0);
		ck_assert_int_eq(users_set_groups(sdir, "alice@example.com", NULL, 0, err,
		    sizeof(err)), 0);
		file_value("alice@example.com", "groups", v, sizeof(v));
		ck_assert_str_eq(v, "");
		ck_assert_int_eq(users_set_groups(sdir, "alice@example.com", g2, 1, err,
		    sizeof(err)), 0);
		file_value("alice@example.com", "groups", v, sizeof(v));
		ck_assert_str_eq(v, "admins");
	}

	ck_assert_int_eq(users_del(sdir, "alice@example.com", err, sizeof(err)), 0);
	ck_assert_int_eq(access(upath(p, sizeof(p), "alice@example.com"), F_OK), -1);
	ck_assert_int_eq(users_check(sdir, "alice@example.com", "new password", NULL, T0, NULL),
	    USERS_UNKNOWN);
	ck_assert_int_eq(users_del(sdir, "alice@example.com", err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "no user 'alice@example.com'") != NULL, "%s", err);
}
END_TEST

START_TEST(test_arguments)
{
	const char *bad_groups[] = { "a b" }, *dup[] = { "x", "x" };
	char err[USERS_ERR_MAX], out[USERS_EMAIL_MAX + 1], longpw[USERS_PASSWORD_MAX + 2];

	ck_assert(users_email_valid("a.b+c@sub.example.com", out, sizeof(out)));
	ck_assert(!users_email_valid("a/b@example.com", out, sizeof(out)));
	ck_assert(!users_email_valid(".a@example.com", out, sizeof(out)));
	ck_assert(!users_email_valid("a..b@example.com", out, sizeof(out)));
	ck_assert(!users_email_valid("a@-example.com", out, sizeof(out)));
	ck_assert(!users_email_valid("a@", out, sizeof(out)));
	ck_assert(!users_email_valid("a.tmp-x@example.com", out, sizeof(out)));
	ck_assert_int_eq(users_add(sdir, "bad email", PW, NULL, 0, T0, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "'bad email' is not an email address") != NULL, "%s", err);
	ck_assert_int_eq(users_add(sdir, "a@example.com", "short", NULL, 0, T0, err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "5 bytes: choose one of 8 to 1024") != NULL, "%s", err);
	memset(longpw, 'x', sizeof(longpw) - 1);
	longpw[sizeof(longpw) - 1] = '\0';
	ck_assert_int_eq(users_add(sdir, "a@example.com", longpw, NULL, 0, T0, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(users_add(sdir, "a@example.com", PW, bad_groups, 1, T0, err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "group 'a b'") != NULL, "%s", err);
	ck_assert_int_eq(users_add(sdir, "a@example.com", PW, dup, 2, T0, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "given twice") != NULL, "%s", err);
	ck_assert_int_eq(users_passwd(sdir, "nobody@example.com", PW, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "no user 'nobody@example.com'") != NULL, "%s", err);
	/* A state directory that others may read is refused. */
	ck_assert_int_eq(chmod(sdir, 0755), 0);
	ck_assert_int_eq(users_add(sdir, "a@example.com", PW, NULL, 0, T0, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "has mode 0755") != NULL, "%s", err);
	ck_assert_ptr_null(users_open(sdir));
	ck_assert_int_eq(chmod(sdir, 0700), 0);
}
END_TEST

/* --- TOTP ------------------------------------------------------------------------------- */

START_TEST(test_totp)
{
	char err[USERS_ERR_MAX], uri[512], code[7], v[64], sec[33];
	uint8_t secret[32];
	struct user_info ui;
	uint64_t t = (uint64_t)T0 / 30;

	add_ok("carol@example.com", NULL, 0);
	ck_assert_int_eq(users_totp_enrol(sdir, "carol@example.com", uri, sizeof(uri), err,
	    sizeof(err)), 0);
	ck_assert_msg(strncmp(uri, "otpauth://totp/zt:carol%40example.com?secret=", 45) == 0,
	    "%s", uri);
	ck_assert_ptr_nonnull(strstr(uri, "&issuer=zt&algorithm=SHA1&digits=6&period=30"));
	util_strlcpy(sec, strstr(uri, "secret=") + 7, sizeof(sec));
	ck_assert_uint_eq(b32dec(sec, secret, sizeof(secret)), 20);
	file_value("carol@example.com", "totp", v, sizeof(v));
	ck_assert_uint_eq(strlen(v), 32);
	ck_assert(strncmp(v, sec, 32) == 0);

	/* Required, wrong, right, replayed. */
	ck_assert_int_eq(users_check(sdir, "carol@example.com", PW, NULL, T0, NULL),
	    USERS_BAD_TOTP);
	ck_assert_int_eq(users_check(sdir, "carol@example.com", PW, "", T0, NULL),
	    USERS_BAD_TOTP);
	code_str((users_totp_code(secret, 20, t) + 1) % 1000000, code);
	ck_assert_int_eq(users_check(sdir, "carol@example.com", PW, code, T0, NULL),
	    USERS_BAD_TOTP);
	code_str(users_totp_code(secret, 20, t), code);
	ck_assert_int_eq(users_check(sdir, "carol@example.com", "wrong password", code, T0,
	    NULL), USERS_BAD_PASSWORD);
	ck_assert_int_eq(users_check(sdir, "carol@example.com", PW, code, T0, &ui), USERS_OK);
	ck_assert(ui.totp);
	file_value("carol@example.com", "totp-last", v, sizeof(v));
	ck_assert_uint_eq(strtoull(v, NULL, 10), t);
	ck_assert_int_eq(users_check(sdir, "carol@example.com", PW, code, T0, NULL),
	    USERS_BAD_TOTP);
	/* An earlier step after a later one is a replay too. */
	code_str(users_totp_code(secret, 20, t - 1), code);
	ck_assert_int_eq(users_check(sdir, "carol@example.com", PW, code, T0, NULL),
	    USERS_BAD_TOTP);
	/* The window: t+1 is accepted at t, t+2 is not; t-1 at t+2 is too old. */
	code_str(users_totp_code(secret, 20, t + 2), code);
	ck_assert_int_eq(users_check(sdir, "carol@example.com", PW, code, T0, NULL),
	    USERS_BAD_TOTP);
	code_str(users_totp_code(secret, 20, t + 1), code);
	ck_assert_int_eq(users_check(sdir, "carol@example.com", PW, code, T0 + 5, NULL),
	    USERS_OK);
	code_str(users_totp_code(secret, 20, t + 3), code);
	ck_assert_int_eq(users_check(sdir, "carol@example.com", PW, code, T0 + 4 * 30, NULL),
	    USERS_OK);	/* t+4 now, t+3 the previous step */
	code_str(users_totp_code(secret, 20, t + 10), code);
	ck_assert_int_eq(users_check(sdir, "carol@example.com", PW, "12345", T0 + 300, NULL),
	    USERS_BAD_TOTP);
	ck_assert_int_eq(users_check(sdir, "carol@example.com", PW, "1234567", T0 + 300, NULL),
	    USERS_BAD_TOTP);
	ck_assert_int_eq(users_check(sdir, "carol@example.com", PW, code, T0 + 300, NULL),
	    USERS_OK);

	/* Enrolling again makes a new secret and forgets the last step. */
	ck_assert_int_eq(users_totp_enrol(sdir, "carol@example.com", uri, sizeof(uri), err,
	    sizeof(err)), 0);
	file_value("carol@example.com", "totp-last", v, sizeof(v));
	ck_assert_str_eq(v, "");
	ck_assert(strncmp(strstr(uri, "secret=") + 7, sec, 32) != 0);
	ck_assert_int_eq(users_totp_enrol(sdir, "nobody@example.com", uri, sizeof(uri), err,
	    sizeof(err)), -1);
}
END_TEST

/* --- files ------------------------------------------------------------------------------ */

static const char good_file[] =
    "zt-state = 1\n"
    "type = user\n"
    "email = dave@example.com\n"
    "groups = a b\n"
    "password = $scrypt$ln=15,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
    "created = 2026-11-27T21:00:00Z\n";

START_TEST(test_bad_files)
{
	static const struct { const char *text; const char *want; } bad[] = {
		{ "type = user\n", ":1: the first key must be 'zt-state = 1'" },
		{ "zt-state = 1\ntype = token\n", ":2: type 'token' is not 'user'" },
		{ "zt-state = 1\ntype = user\nemail = DAVE@example.com\n", ":3: email" },
		{ "zt-state = 1\ntype = user\nemail = eve@example.com\n",
		  ":3: email 'eve@example.com' is not the file's name" },
		{ "zt-state = 1\ntype = user\ntype = user\n", ":3: 'type' is given twice" },
		{ "zt-state = 1\r\n", ":1: carriage return" },
		{ "zt-state = 1\nfoo = bar\n", ":2: unknown key 'foo'" },
		{ "zt-state = 1\ntype = user\nemail = dave@example.com\npassword = x\n"
		  "created = 2026-11-27T21:00:00Z\n", ":4: 'password' is not" },
		{ "zt-state = 1\ntype = user\nemail = dave@example.com\ngroups = a a\n",
		  ":4: group 'a' is given twice" },
		{ "zt-state = 2\n", ":1: format version '2'" },
		{ "", ": empty" },
	};
	char p[PATH_MAX], *canon = NULL, *again = NULL;
	struct users *u;

	for (size_t i = 0; i < nitems(bad); i++) {
		char tag[64];
		snprintf(tag, sizeof(tag), "bad%zu.txt", i);
		ck_assert_int_eq(users_file_check(tag, "dave@example.com", bad[i].text,
		    strlen(bad[i].text), NULL), -1);
		ck_assert_msg(strstr(log_text(), bad[i].want) != NULL, "case %zu: want '%s' in "
		    "%s", i, bad[i].want, log_text());
	}
	ck_assert_int_eq(users_file_check("good", "dave@example.com", good_file,
	    strlen(good_file), &canon), 0);
	ck_assert_int_eq(users_file_check("canon", NULL, canon, strlen(canon), &again), 0);
	ck_assert_str_eq(canon, again);
	free(canon);
	free(again);

	/* In the directory: users_open refuses, naming file:line; a too open file too. */
	ck_assert(util_snprintf(p, sizeof(p), "%s/users", sdir));
	ck_assert_int_eq(mkdir(p, 0700), 0);
	ck_assert_int_eq(util_write_file_atomic(upath(p, sizeof(p), "dave@example.com"),
	    bad[6].text, strlen(bad[6].text), 0600), 0);
	ck_assert_ptr_null(users_open(sdir));
	ck_assert_msg(strstr(log_text(), "/users/dave@example.com:2: unknown key 'foo'") != NULL,
	    "%s", log_text());
	ck_assert_int_eq(util_write_file_atomic(p, good_file, strlen(good_file), 0640), 0);
	ck_assert_ptr_null(users_open(sdir));
	ck_assert_msg(strstr(log_text(), "has mode 0640") != NULL, "%s", log_text());
	ck_assert_int_eq(users_check(sdir, "dave@example.com", PW, NULL, T0, NULL),
	    USERS_UNKNOWN);
	ck_assert_int_eq(chmod(p, 0600), 0);
	u = users_open(sdir);
	ck_assert_ptr_nonnull(u);
	ck_assert_uint_eq(users_count(u), 1);
	users_free(u);
}
END_TEST

START_TEST(test_watch)
{
	const char *g[] = { "dev" }, *g2[] = { "ops" };
	char err[USERS_ERR_MAX], p[PATH_MAX];
	struct user_info ui;
	struct users *u;

	u = users_open(sdir);
	ck_assert_ptr_nonnull(u);
	ck_assert_uint_eq(users_count(u), 0);
	ck_assert_int_eq(users_refresh(u), 0);
	add_ok("bob@example.com", g, 1);
	add_ok("alice@example.com", NULL, 0);
	ck_assert_int_eq(users_refresh(u), 1);
	ck_assert_uint_eq(users_count(u), 2);
	ck_assert(users_nth(u, 0, &ui));
	ck_assert_str_eq(ui.email, "alice@example.com");
	ck_assert(!users_nth(u, 2, &ui));
	ck_assert(users_get(u, "BOB@example.com", &ui));
	ck_assert_str_eq(ui.groups[0], "dev");
	ck_assert_int_eq(users_set_groups(sdir, "bob@example.com", g2, 1, err, sizeof(err)), 0);
	ck_assert_int_eq(users_refresh(u), 1);
	ck_assert(users_get(u, "bob@example.com", &ui));
	ck_assert_str_eq(ui.groups[0], "ops");
	ck_assert_int_eq(users_refresh(u), 0);
	/* A broken file keeps the version read before. */
	ck_assert_int_eq(util_write_file_atomic(upath(p, sizeof(p), "bob@example.com"),
	    "zt-state = 1\nbogus\n", 19, 0600), 0);
	ck_assert_int_eq(users_refresh(u), 0);
	ck_assert(users_get(u, "bob@example.com", &ui));
	ck_assert_msg(strstr(log_text(), "keeping the version read before") != NULL, "%s",
	    log_text());
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_int_eq(users_refresh(u), 1);
	ck_assert(!users_get(u, "bob@example.com", NULL));
	ck_assert_uint_eq(users_count(u), 1);
	users_free(u);
	users_free(NULL);
}
END_TEST

/* --- the rate limiter ------------------------------------------------------------------- */

static struct sockaddr_in
v4(const char *a)
{
	struct sockaddr_in in;

	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, a, &in.sin_addr), 1);
	return in;
}

static struct sockaddr_in6
v6(const char *a)
{
	struct sockaddr_in6 in6;

	memset(&in6, 0, sizeof(in6));
	in6.sin6_family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, a, &in6.sin6_addr), 1);
	return in6;
}

START_TEST(test_limiter)
{
	struct loginlimit *l = loginlimit_new();
	struct sockaddr_in a = v4("192.0.2.1"), b = v4("192.0.2.2");
	struct sockaddr_in6 c = v6("2001:db8::1"), d = v6("2001:db8::ffff:2"),
	    e = v6("2001:db8:0:1::1"), m = v6("::ffff:192.0.2.1");
	const struct sockaddr *sa = (const struct sockaddr *)&a;
	uint64_t now = 1000000;

	/* Four failures cost nothing; the fifth asks for 1 s, then 2, 4, ... up to 15 min. */
	for (int i = 0; i < 4; i++) {
		loginlimit_failed(l, "alice@example.com", sa, now);
		ck_assert_uint_eq(loginlimit_check(l, "alice@example.com", sa, now), 0);
	}
	loginlimit_failed(l, "alice@example.com", sa, now);
	ck_assert_uint_eq(loginlimit_check(l, "alice@example.com", sa, now), 1);
	ck_assert_uint_eq(loginlimit_check(l, "ALICE@example.com", NULL, now), 1);
	ck_assert_uint_eq(loginlimit_check(l, "other@example.com", sa, now), 1);	/* by address */
	ck_assert_uint_eq(loginlimit_check(l, "other@example.com", (struct sockaddr *)&b, now),
	    0);
	ck_assert_uint_eq(loginlimit_check(l, "alice@example.com", sa, now + 1000), 0);
	loginlimit_failed(l, "alice@example.com", sa, now + 1000);
	ck_assert_uint_eq(loginlimit_check(l, "alice@example.com", sa, now + 1000), 2);
	ck_assert_uint_eq(loginlimit_check(l, "alice@example.com", sa, now + 2500), 1);
	loginlimit_failed(l, "alice@example.com", sa, now + 3000);
	ck_assert_uint_eq(loginlimit_check(l, "alice@example.com", sa, now + 3000), 4);
	for (int i = 0; i < 40; i++)
		loginlimit_failed(l, "alice@example.com", sa, now + 4000);
	ck_assert_uint_eq(loginlimit_check(l, "alice@example.com", sa, now + 4000), 900);
	/* The IPv4-mapped form is the same client. */
	ck_assert_uint_eq(loginlimit_check(l, NULL, (struct sockaddr *)&m, now + 4000), 900);

	/* A success clears the user's count, not the address's. */
	loginlimit_succeeded(l, "alice@example.com", sa);
	ck_assert_uint_eq(loginlimit_check(l, "alice@example.com", NULL, now + 4000), 0);
	ck_assert_uint_eq(loginlimit_check(l, NULL, sa, now + 4000), 900);

	/* IPv6 by /64. */
	for (int i = 0; i < 5; i++)
		loginlimit_failed(l, NULL, (struct sockaddr *)&c, now);
	ck_assert_uint_eq(loginlimit_check(l, NULL, (struct sockaddr *)&d, now), 1);
	ck_assert_uint_eq(loginlimit_check(l, NULL, (struct sockaddr *)&e, now), 0);

	/* Bounded: the oldest entries go first. */
	for (uint32_t i = 0; i < 70000; i++) {
		struct sockaddr_in x;
		memset(&x, 0, sizeof(x));
		x.sin_family = AF_INET;
		x.sin_addr.s_addr = htonl(0x0a000000 + i);
		loginlimit_failed(l, NULL, (struct sockaddr *)&x, now + 5000);
	}
	ck_assert_uint_eq(loginlimit_count(l), 65536);
	ck_assert_uint_eq(loginlimit_check(l, NULL, (struct sockaddr *)&c, now), 0);
	loginlimit_free(l);
	loginlimit_free(NULL);
}
END_TEST

Suite *
users_suite(void)
{
	Suite *s = suite_create("users");
	TCase *tc = tcase_create("users");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_totp_rfc6238);
	tcase_add_test(tc, test_scrypt_rfc7914);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_arguments);
	tcase_add_test(tc, test_totp);
	tcase_add_test(tc, test_bad_files);
	tcase_add_test(tc, test_watch);
	tcase_add_test(tc, test_limiter);
	suite_add_tcase(s, tc);
	return s;
}
