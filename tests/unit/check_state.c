/* check_state: the state directory: tokens and tunnels, verification, rotation, permissions,
 * malformed files, watching for changes, and concurrent writers. */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "common/log.h"
#include "common/state.h"
#include "common/util.h"
#include "suites.h"

#define T0	((time_t)1800000000)	/* 2027-01-15T08:00:00Z: tests choose the time */
#define HOUR	3600ULL
#define DAY	(24 * HOUR)
#define MS	1000ULL

static char tmpdir[PATH_MAX];
static char sdir[PATH_MAX];	/* tmpdir/state */
static FILE *logfp;
static char logbuf[65536];

/* --- fixture and helpers --------------------------------------------------------------- */

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
	util_strlcpy(tmpdir, "/tmp/check_state.XXXXXX", sizeof(tmpdir));
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	ck_assert(util_snprintf(sdir, sizeof(sdir), "%s/state", tmpdir));
	logfp = tmpfile();
	ck_assert_ptr_nonnull(logfp);
	log_set_output(logfp);
	log_set_format(LOG_FORMAT_TEXT);
	log_set_level(LOG_LEVEL_DEBUG);
	ck_assert_int_eq(state_init(sdir), 0);
}

static void
teardown(void)
{
	log_set_level(LOG_LEVEL_ERROR);
	log_set_output(NULL);
	fclose(logfp);
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Everything logged since the last log_reset(). */
static const char *
log_text(void)
{
	ssize_t n = pread(fileno(logfp), logbuf, sizeof(logbuf) - 1, 0);

	logbuf[n > 0 ? n : 0] = '\0';
	return logbuf;
}

static void
log_reset(void)
{
	fflush(logfp);
	ck_assert_int_eq(ftruncate(fileno(logfp), 0), 0);
	ck_assert_int_eq(lseek(fileno(logfp), 0, SEEK_SET), 0);
	rewind(logfp);
}

static bool
logged(const char *needle)
{
	return strstr(log_text(), needle) != NULL;
}

/* How many times needle was logged. */
static int
logged_count(const char *needle)
{
	const char *p = log_text();
	int n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return n;
}

/* DIR/sub/name into buf. */
static const char *
spath(char *buf, size_t len, const char *sub, const char *name)
{
	ck_assert(util_snprintf(buf, len, "%s/%s/%s", sdir, sub, name));
	return buf;
}

static void
put_file(const char *sub, const char *name, const char *text, mode_t mode)
{
	char p[PATH_MAX];

	ck_assert_int_eq(util_write_file_atomic(spath(p, sizeof(p), sub, name), text,
	    strlen(text), mode), 0);
}

static mode_t
mode_of(const char *path)
{
	struct stat sb;

	ck_assert_int_eq(stat(path, &sb), 0);
	return sb.st_mode & 07777;
}

static struct state *
open_ok(void)
{
	struct state *st = state_open(sdir);

	ck_assert_msg(st != NULL, "state_open failed: %s", log_text());
	return st;
}

/* Creates token name at now; its secret goes to secret. */
static struct state_token
make_token(struct state *st, const char *name, uint64_t dur_ms, time_t now, char *secret)
{
	struct state_token t;

	ck_assert_int_eq(state_token_create(st, name, dur_ms, now, &t, secret), 0);
	return t;
}

static const char good_token[] =
"# comment\n"
"zt-state = 1\n"
"type = token\n"
"name = ci\n"
"id = 0123456789abcdef0123456789abcdef.access\n"
"secret-sha256 = 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
"created = 2027-01-15T08:00:00Z\n"
"expires = 2028-01-15T08:00:00Z\n";

/* --- names and the file format --------------------------------------------------------- */

START_TEST(test_names)
{
	static const char *const good[] = { "a", "ci-deploy", "A.b_c-1", "x.", "tmp-x", "a..b",
	    "0123456789012345678901234567890123456789012345678901234567890123" };
	static const struct { const char *name, *why; } bad[] = {
		{ "", "empty" }, { ".hidden", "start with '.'" }, { "a/b", "'/'" },
		{ "a b", "0x20" }, { "a\nb", "0x0a" }, { "caf\xc3\xa9", "0xc3" },
		{ "x.tmp-0123", "reserved" }, { "..", "start with '.'" },
		{ "01234567890123456789012345678901234567890123456789012345678901234",
		    "longer than 64" },
	};
	char err[160];

	for (size_t i = 0; i < nitems(good); i++)
		ck_assert_msg(state_name_valid(good[i], err, sizeof(err)), "%s: %s", good[i],
		    err);
	for (size_t i = 0; i < nitems(bad); i++) {
		ck_assert_msg(!state_name_valid(bad[i].name, err, sizeof(err)), "%s accepted",
		    bad[i].name);
		ck_assert_msg(strstr(err, bad[i].why) != NULL, "'%s': %s", bad[i].name, err);
		/* The message never carries raw control bytes. */
		for (const char *c = err; *c != '\0'; c++)
			ck_assert((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f);
	}
}
END_TEST

START_TEST(test_format_roundtrip)
{
	static const char loose[] =
	    "zt-state=1\n\n  # indented comment\ncreated =\t2027-01-15T08:00:00Z  \n"
	    "expires = 2028-01-15T08:00:00Z\ntype = token\nname = ci\n"
	    "secret-sha256 = 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
	    "id = 0123456789abcdef0123456789abcdef.access";
	char *canon = NULL, *again = NULL;

	ck_assert_int_eq(state_file_check("t", "ci", good_token, strlen(good_token), &canon), 0);
	ck_assert_int_eq(state_file_check("t", "ci", canon, strlen(canon), &again), 0);
	ck_assert_str_eq(canon, again);
	ck_assert_ptr_nonnull(strstr(canon, "\nzt-state = 1\ntype = token\nname = ci\n"));
	free(again);
	/* Whitespace, order and a missing final newline may vary; the canonical form does not. */
	ck_assert_int_eq(state_file_check("t", NULL, loose, strlen(loose), &again), 0);
	ck_assert_str_eq(canon, again);
	free(canon);
	free(again);
}
END_TEST

START_TEST(test_format_errors)
{
	static const struct { const char *text, *where, *why; } cases[] = {
		{ "", "t: ", "empty" },
		{ "type = token\n", "t:1:", "first key must be 'zt-state" },
		{ "zt-state = 2\n", "t:1:", "version '2' is not supported" },
		{ "zt-state = 1\nzt-state = 1\n", "t:2:", "given twice (first on line 1)" },
		{ "zt-state = 1\ncolour = red\n", "t:2:", "unknown key 'colour'" },
		{ "zt-state = 1\n\nnonsense\n", "t:3:", "expected '='" },
		{ "zt-state = 1\n= 3\n", "t:2:", "expected 'key = value'" },
		{ "zt-state = 1\ntype =\n", "t:2:", "has no value" },
		{ "zt-state = 1\ntype = to ken\n", "t:2:", "contains a space" },
		{ "zt-state = 1\r\n", "t:1:", "carriage return" },
		{ "zt-state = 1\ntype = t\x01oken\n", "t:2:", "byte 0x01" },
		{ "zt-state = 1\ntype = user\n", "t:2:", "neither 'token' nor 'tunnel'" },
		{ "zt-state = 1\ntype = token\n", "t: ", "'name' is missing" },
	};
	char text[STATE_FILE_MAX * 2];

	for (size_t i = 0; i < nitems(cases); i++) {
		log_reset();
		ck_assert_int_eq(state_file_check("t", NULL, cases[i].text, strlen(cases[i].text),
		    NULL), -1);
		ck_assert_msg(logged(cases[i].where) && logged(cases[i].why), "case %zu: %s", i,
		    log_text());
	}
	/* Field by field, from the good file: each line replaced by a bad one. */
	static const struct { const char *from, *to, *where, *why; } edits[] = {
		{ "name = ci", "name = other", "t:4:", "not the file's name 'ci'" },
		{ "name = ci", "name = .ci", "t:4:", "must not start with '.'" },
		{ "id = 0123456789abcdef0123456789abcdef.access",
		    "id = 0123456789ABCDEF0123456789abcdef.access", "t:5:", "lower-case hex" },
		{ "id = 0123456789abcdef0123456789abcdef.access",
		    "id = 0123456789abcdef0123456789abcdef", "t:5:", "'.access'" },
		{ "secret-sha256 = 00", "secret-sha256 = 0g", "t:6:", "64 lower-case hex" },
		{ "created = 2027-01-15T08:00:00Z", "created = 2027-02-30T08:00:00Z", "t:7:",
		    "'created' is not a time" },
		{ "created = 2027-01-15T08:00:00Z", "created = 2027-01-15 08:00:00", "t:7:",
		    "contains a space" },
		{ "created = 2027-01-15T08:00:00Z", "created = 2027-01-15T08:00:00+01:00", "t:7:",
		    "'created' is not a time" },
		{ "expires = 2028-01-15T08:00:00Z", "expires = 2027-01-15T08:00:00Z", "t:8:",
		    "not after 'created'" },
		{ "expires = 2028-01-15T08:00:00Z",
		    "expires = 2028-01-15T08:00:00Z\nprevious-sha256 = "
		    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "t:9:",
		    "go together" },
		{ "expires = 2028-01-15T08:00:00Z", "revoked = 2027-03-01T00:00:00Z", "t: ",
		    "'expires' is missing" },
		{ "type = token", "type = tunnel", "t:8:", "does not apply to a tunnel" },
	};
	for (size_t i = 0; i < nitems(edits); i++) {
		const char *at = strstr(good_token, edits[i].from);
		size_t pre = (size_t)(at - good_token);

		ck_assert_ptr_nonnull(at);
		ck_assert(util_snprintf(text, sizeof(text), "%.*s%s%s", (int)pre, good_token,
		    edits[i].to, at + strlen(edits[i].from)));
		log_reset();
		ck_assert_int_eq(state_file_check("t", "ci", text, strlen(text), NULL), -1);
		ck_assert_msg(logged(edits[i].where) && logged(edits[i].why), "edit %zu: %s", i,
		    log_text());
	}
	/* A tunnel takes no token keys; a NUL byte and an oversized file are refused whole. */
	log_reset();
	ck_assert(util_snprintf(text, sizeof(text), "zt-state = 1\ntype = tunnel\nname = x\n"
	    "id = 0123456789abcdef0123456789abcdef\nsecret-sha256 = "
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
	    "created = 2027-01-15T08:00:00Z\nexpires = 2028-01-15T08:00:00Z\n"));
	ck_assert_int_eq(state_file_check("t", NULL, text, strlen(text), NULL), -1);
	ck_assert(logged("t:7: 'expires' does not apply to a tunnel"));
	ck_assert_int_eq(state_file_check("t", NULL, "zt-state = 1\0", 13, NULL), -1);
	ck_assert(logged("NUL byte"));
	memset(text, '#', sizeof(text));
	ck_assert_int_eq(state_file_check("t", NULL, text, STATE_FILE_MAX + 1, NULL), -1);
	ck_assert(logged("larger than 4096 bytes"));
}
END_TEST

/* --- directories and permissions ------------------------------------------------------- */

START_TEST(test_init_and_modes)
{
	struct state *st;
	char p[PATH_MAX], secret[STATE_SECRET_HEX_LEN + 1];
	struct state_tunnel tun;

	ck_assert_uint_eq(mode_of(sdir), 0700);
	ck_assert_uint_eq(mode_of(spath(p, sizeof(p), "tokens", "")), 0700);
	ck_assert_uint_eq(mode_of(spath(p, sizeof(p), "tunnels", "")), 0700);
	ck_assert_int_eq(state_init(sdir), 0);	/* again: fine */
	umask(0);	/* the files' modes must not depend on the umask */
	st = open_ok();
	make_token(st, "ci", 8760 * HOUR * MS, T0, secret);
	ck_assert_int_eq(state_tunnel_create(st, "home", T0, &tun, secret), 0);
	ck_assert_uint_eq(mode_of(spath(p, sizeof(p), "tokens", "ci")), 0600);
	ck_assert_uint_eq(mode_of(spath(p, sizeof(p), "tunnels", "home")), 0600);
	ck_assert(util_snprintf(p, sizeof(p), "%s/.lock", sdir));
	ck_assert_uint_eq(mode_of(p), 0600);
	state_free(st);
	umask(022);

	/* An existing directory that is too open is refused, never silently changed. */
	ck_assert_int_eq(chmod(sdir, 0755), 0);
	log_reset();
	ck_assert_int_eq(state_init(sdir), -1);
	ck_assert(logged("chmod 700"));
	ck_assert_uint_eq(mode_of(sdir), 0755);
	state_free(NULL);
}
END_TEST

START_TEST(test_open_refuses_open_dirs)
{
	char p[PATH_MAX];

	ck_assert_int_eq(chmod(sdir, 0750), 0);
	log_reset();
	ck_assert_ptr_null(state_open(sdir));
	ck_assert(logged(sdir) && logged("mode 0750") && logged("chmod 700"));
	ck_assert_int_eq(chmod(sdir, 0700), 0);

	ck_assert_int_eq(chmod(spath(p, sizeof(p), "tunnels", ""), 0701), 0);
	log_reset();
	ck_assert_ptr_null(state_open(sdir));
	ck_assert(logged("tunnels") && logged("chmod 700"));
	ck_assert_int_eq(chmod(p, 0700), 0);

	ck_assert_int_eq(rmdir(spath(p, sizeof(p), "tokens", "")), 0);
	log_reset();
	ck_assert_ptr_null(state_open(sdir));
	ck_assert(logged("has no tokens/") && logged("zt edge init"));

	log_reset();
	ck_assert_ptr_null(state_open("/nonexistent/zt-state"));
	ck_assert(logged("'/nonexistent/zt-state' does not exist"));
}
END_TEST

START_TEST(test_open_refuses_open_files)
{
	struct state *st = open_ok();
	char p[PATH_MAX], secret[STATE_SECRET_HEX_LEN + 1];

	make_token(st, "ci", DAY * MS, T0, secret);
	state_free(st);
	ck_assert_int_eq(chmod(spath(p, sizeof(p), "tokens", "ci"), 0640), 0);
	log_reset();
	ck_assert_ptr_null(state_open(sdir));
	ck_assert(logged(p) && logged("mode 0640"));
	ck_assert(logged("chmod 600"));
	ck_assert(logged("refused"));
	ck_assert_int_eq(chmod(p, 0604), 0);
	ck_assert_ptr_null(state_open(sdir));
	ck_assert_int_eq(chmod(p, 0600), 0);
	st = open_ok();
	state_free(st);
}
END_TEST

START_TEST(test_open_refuses_malformed)
{
	char text[1024], where[PATH_MAX + 16];

	put_file("tokens", "ok", "zt-state = 1\ntype = token\nname = ok\n"
	    "id = 0123456789abcdef0123456789abcdef.access\nsecret-sha256 = "
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
	    "created = 2027-01-15T08:00:00Z\nexpires = 2028-01-15T08:00:00Z\n", 0600);
	ck_assert(util_snprintf(text, sizeof(text), "%s", good_token));
	memcpy(strstr(text, "expires"), "expirez", 7);
	put_file("tokens", "ci", text, 0600);
	log_reset();
	ck_assert_ptr_null(state_open(sdir));
	ck_assert(util_snprintf(where, sizeof(where), "%s/tokens/ci:8: unknown key 'expirez'",
	    sdir));
	ck_assert_msg(logged(where), "%s", log_text());

	/* A file in the wrong directory, and two files with one id. */
	put_file("tokens", "ci", good_token, 0600);
	put_file("tunnels", "t", "zt-state = 1\ntype = token\nname = t\n"
	    "id = 0123456789abcdef0123456789abcdee.access\nsecret-sha256 = "
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
	    "created = 2027-01-15T08:00:00Z\nexpires = 2028-01-15T08:00:00Z\n", 0600);
	log_reset();
	ck_assert_ptr_null(state_open(sdir));
	ck_assert(logged("tunnels/t: a service token in the directory of tunnels"));
	ck_assert(logged("tokens/ok: id 0123456789abcdef0123456789abcdef.access is already the "
	    "id of") || logged("tokens/ci: id 0123456789abcdef0123456789abcdef.access is "
	    "already the id of"));
}
END_TEST

START_TEST(test_skipped_files)
{
	struct state *st;
	char p[PATH_MAX];

	put_file("tokens", "ci", good_token, 0600);
	/* Temporary files of util_write_file_atomic, hidden files: silently skipped. */
	put_file("tokens", "ci.tmp-0123456789ab", "half a fi", 0600);
	put_file("tokens", ".ci.swp", "\x01\x02", 0644);
	/* A name no state file can have: skipped, said once. */
	put_file("tokens", "ci~", good_token, 0644);
	log_reset();
	st = open_ok();
	ck_assert_uint_eq(state_token_count(st), 1);
	ck_assert(logged("ci~: ignored"));
	ck_assert_int_eq(state_refresh(st), 0);
	ck_assert_int_eq(logged_count("ci~: ignored"), 1);
	/* A symbolic link is not a regular file. */
	ck_assert_int_eq(symlink("ci", spath(p, sizeof(p), "tokens", "link")), 0);
	ck_assert_int_eq(state_refresh(st), 0);
	ck_assert(logged("tokens/link is not a regular file"));
	state_free(st);
}
END_TEST

/* --- tokens ---------------------------------------------------------------------------- */

START_TEST(test_token_create_verify)
{
	struct state *st = open_ok();
	struct state_token t, t2;
	struct state_auth a;
	char secret[STATE_SECRET_HEX_LEN + 1], secret2[STATE_SECRET_HEX_LEN + 1];
	char p[PATH_MAX], *text;
	size_t len;

	t = make_token(st, "ci", 8760 * HOUR * MS, T0, secret);
	ck_assert_uint_eq(strlen(t.id), STATE_TOKEN_ID_LEN);
	ck_assert_uint_eq(strspn(t.id, "0123456789abcdef"), 32);
	ck_assert_str_eq(t.id + 32, ".access");
	ck_assert_uint_eq(strlen(secret), 64);
	ck_assert_uint_eq(strspn(secret, "0123456789abcdef"), 64);
	ck_assert_int_eq(t.created, T0);
	ck_assert_int_eq(t.expires, T0 + 8760 * 3600);
	ck_assert_int_eq(t.revoked, 0);

	/* Lookups by name and id, counting and iteration in name order. */
	t2 = make_token(st, "a-first", DAY * MS, T0, secret2);
	ck_assert_uint_eq(state_token_count(st), 2);
	ck_assert_str_eq(state_token_nth(st, 0)->name, "a-first");
	ck_assert_str_eq(state_token_nth(st, 1)->name, "ci");
	ck_assert_ptr_null(state_token_nth(st, 2));
	ck_assert_str_eq(state_token_by_name(st, "ci")->id, t.id);
	ck_assert_str_eq(state_token_by_id(st, t2.id)->name, "a-first");
	ck_assert_ptr_null(state_token_by_name(st, "nope"));
	ck_assert_ptr_null(state_token_by_id(st, "nope"));
	ck_assert_str_ne(t.id, t2.id);
	ck_assert_str_ne(secret, secret2);

	ck_assert_int_eq(state_token_verify(st, t.id, secret, T0 + 1, &a), STATE_OK);
	ck_assert_str_eq(a.name, "ci");
	ck_assert_str_eq(a.id, t.id);
	ck_assert_uint_eq(strlen(a.fingerprint), STATE_FPR_LEN);
	ck_assert(!a.previous);
	ck_assert_int_eq(a.deadline, t.expires);
	/* Upper-case hex is the same secret. */
	for (char *c = secret; *c != '\0'; c++)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 'a' + 'A');
	ck_assert_int_eq(state_token_verify(st, t.id, secret, T0 + 1, NULL), STATE_OK);
	/* One token's secret does not open another. */
	ck_assert_int_eq(state_token_verify(st, t.id, secret2, T0 + 1, &a), STATE_BAD_SECRET);
	ck_assert_str_eq(a.name, "ci");

	/* The file holds the hash, never the secret. */
	ck_assert_int_eq(util_read_file(spath(p, sizeof(p), "tokens", "ci"), 4096, &text, &len),
	    0);
	for (char *c = secret; *c != '\0'; c++)
		if (*c >= 'A' && *c <= 'F')
			*c = (char)(*c - 'A' + 'a');
	ck_assert_ptr_null(strstr(text, secret));
	ck_assert_ptr_nonnull(strstr(text, "secret-sha256 = "));
	free(text);
	ck_assert(!logged(secret) && !logged(secret2));

	/* Names are refused before anything is written; so are taken names. */
	ck_assert_int_eq(state_token_create(st, "ci", DAY * MS, T0, &t, secret), -1);
	ck_assert(logged("a service token named 'ci' already exists"));
	ck_assert_int_eq(secret[0], '\0');
	ck_assert_int_eq(state_token_create(st, "../x", DAY * MS, T0, &t, secret), -1);
	ck_assert_int_eq(state_token_create(st, "d", 999, T0, &t, secret), -1);
	ck_assert_int_eq(state_token_create(st, "d", STATE_DURATION_MAX + 1, T0, &t, secret),
	    -1);
	ck_assert_uint_eq(state_token_count(st), 2);
	state_free(st);
}
END_TEST

START_TEST(test_unknown_and_bad_secret_alike)
{
	struct state *st = open_ok();
	struct state_token t;
	struct state_auth a, b;
	char secret[STATE_SECRET_HEX_LEN + 1], wrong[STATE_SECRET_HEX_LEN + 1];
	char longid[256];
	enum state_verdict vu, vb;

	t = make_token(st, "ci", DAY * MS, T0, secret);
	memcpy(wrong, secret, sizeof(wrong));
	wrong[0] = wrong[0] == '0' ? '1' : '0';
	vu = state_token_verify(st, "ffffffffffffffffffffffffffffffff.access", wrong, T0, &a);
	vb = state_token_verify(st, t.id, wrong, T0, &b);
	ck_assert_int_eq(vu, STATE_UNKNOWN);
	ck_assert_int_eq(vb, STATE_BAD_SECRET);
	/* Both are refusals, both hashed the secret (same fingerprint), neither has a deadline. */
	ck_assert_int_ne(vu, STATE_OK);
	ck_assert_int_ne(vb, STATE_OK);
	ck_assert_str_eq(a.fingerprint, b.fingerprint);
	ck_assert_int_eq(a.deadline, 0);
	ck_assert_int_eq(b.deadline, 0);
	ck_assert_str_eq(a.name, "");
	/* The right secret under an unknown id is still unknown. */
	ck_assert_int_eq(state_token_verify(st, "ffffffffffffffffffffffffffffffff.access",
	    secret, T0, NULL), STATE_UNKNOWN);
	/* Malformed input: short, long, non-hex, NULL, over-long ids. */
	ck_assert_int_eq(state_token_verify(st, t.id, "abc", T0, &a), STATE_BAD_SECRET);
	ck_assert_str_eq(a.fingerprint, "");
	ck_assert_int_eq(state_token_verify(st, t.id, NULL, T0, NULL), STATE_BAD_SECRET);
	ck_assert(util_snprintf(longid, sizeof(longid), "%sx", secret));
	ck_assert_int_eq(state_token_verify(st, t.id, longid, T0, NULL), STATE_BAD_SECRET);
	memcpy(longid, secret, sizeof(secret));
	longid[10] = 'g';
	ck_assert_int_eq(state_token_verify(st, t.id, longid, T0, NULL), STATE_BAD_SECRET);
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	ck_assert_int_eq(state_token_verify(st, longid, secret, T0, &a), STATE_UNKNOWN);
	ck_assert_str_eq(a.id, "");
	ck_assert_int_eq(state_token_verify(st, NULL, secret, T0, NULL), STATE_UNKNOWN);
	/* An id with a control byte is not echoed into auth (which the edge logs). */
	ck_assert_int_eq(state_token_verify(st, "a\nb", secret, T0, &a), STATE_UNKNOWN);
	ck_assert_str_eq(a.id, "");
	/* A tunnel id is not a token id. */
	ck_assert_int_eq(state_tunnel_verify(st, t.id, secret, T0, NULL), STATE_UNKNOWN);
	state_free(st);
}
END_TEST

/* Nanoseconds for n verifications of id and secret. */
static int64_t
verify_time(struct state *st, const char *id, const char *secret, int n)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++)
		(void)state_token_verify(st, id, secret, T0, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (int64_t)(b.tv_sec - a.tv_sec) * 1000000000 + (b.tv_nsec - a.tv_nsec);
}

START_TEST(test_unknown_id_costs_a_hash)
{
	struct state *st = open_ok();
	struct state_token t;
	char secret[STATE_SECRET_HEX_LEN + 1], wrong[STATE_SECRET_HEX_LEN + 1];
	int64_t unknown = INT64_MAX, bad = INT64_MAX;
	double ratio;

	t = make_token(st, "ci", DAY * MS, T0, secret);
	for (int i = 0; i < 20; i++) {
		char name[16];
		snprintf(name, sizeof(name), "other%d", i);
		make_token(st, name, DAY * MS, T0, wrong);
	}
	memcpy(wrong, secret, sizeof(wrong));
	wrong[5] = wrong[5] == '0' ? '1' : '0';
	/* Coarse by design: an early exit for unknown ids skips SHA-256 and the comparisons and
	 * runs several times faster. Short interleaved batches, keeping the fastest of each, see
	 * the same load on a busy machine. */
	for (int round = 0; round < 41; round++) {
		int64_t u = verify_time(st, "ffffffffffffffffffffffffffffffff.access", wrong, 200);
		int64_t b = verify_time(st, t.id, wrong, 200);
		if (u < unknown)
			unknown = u;
		if (b < bad)
			bad = b;
	}
	ratio = (double)unknown / (double)bad;
	ck_assert_msg(ratio > 0.5 && ratio < 2.0, "unknown %lld ns, bad secret %lld ns",
	    (long long)unknown, (long long)bad);
	state_free(st);
}
END_TEST

START_TEST(test_token_expiry)
{
	struct state *st = open_ok();
	struct state_token t;
	char secret[STATE_SECRET_HEX_LEN + 1], wrong[STATE_SECRET_HEX_LEN + 1];

	t = make_token(st, "ci", 2 * HOUR * MS, T0, secret);
	ck_assert_int_eq(t.expires, T0 + 7200);
	ck_assert_int_eq(state_token_verify(st, t.id, secret, T0 + 7199, NULL), STATE_OK);
	ck_assert_int_eq(state_token_verify(st, t.id, secret, T0 + 7200, NULL), STATE_EXPIRED);
	/* Expiry is only told to those who hold the secret. */
	memcpy(wrong, secret, sizeof(wrong));
	wrong[63] = wrong[63] == '0' ? '1' : '0';
	ck_assert_int_eq(state_token_verify(st, t.id, wrong, T0 + 9000, NULL), STATE_BAD_SECRET);
	/* Rotating an expired token is refused. */
	ck_assert_int_eq(state_token_rotate(st, "ci", HOUR * MS, T0 + 7200, NULL, wrong), -1);
	ck_assert(logged("expired at 2027-01-15T10:00:00Z"));
	state_free(st);
}
END_TEST

START_TEST(test_token_revoke)
{
	struct state *st = open_ok();
	struct state_token t, r;
	char secret[STATE_SECRET_HEX_LEN + 1], s2[STATE_SECRET_HEX_LEN + 1];

	t = make_token(st, "ci", DAY * MS, T0, secret);
	make_token(st, "other", DAY * MS, T0, s2);
	ck_assert_int_eq(state_token_revoke(st, "ci", T0 + 10, &r), 0);
	ck_assert_int_eq(r.revoked, T0 + 10);
	ck_assert_str_eq(r.id, t.id);
	ck_assert_int_eq(state_token_verify(st, t.id, secret, T0 + 11, NULL), STATE_REVOKED);
	ck_assert_int_eq(state_token_by_name(st, "ci")->revoked, T0 + 10);
	/* Again, by id: already revoked, and the first time stays. */
	ck_assert_int_eq(state_token_revoke(st, t.id, T0 + 20, &r), 1);
	ck_assert_int_eq(r.revoked, T0 + 10);
	/* Unknown names fail and say so; the other token is untouched. */
	log_reset();
	ck_assert_int_eq(state_token_revoke(st, "nope", T0, NULL), -1);
	ck_assert(logged("no service token named 'nope'"));
	ck_assert_int_eq(state_token_verify(st, state_token_by_name(st, "other")->id, s2, T0 + 11,
	    NULL), STATE_OK);
	/* A revoked token cannot be rotated back to life. */
	ck_assert_int_eq(state_token_rotate(st, "ci", HOUR * MS, T0 + 30, NULL, s2), -1);
	ck_assert(logged("was revoked at"));
	/* It stays revoked across a reopen. */
	state_free(st);
	st = open_ok();
	ck_assert_int_eq(state_token_verify(st, t.id, secret, T0 + 11, NULL), STATE_REVOKED);
	state_free(st);
}
END_TEST

START_TEST(test_token_rotate_grace)
{
	struct state *st = open_ok();
	struct state_token t, r;
	struct state_auth a;
	char s1[STATE_SECRET_HEX_LEN + 1], s2[STATE_SECRET_HEX_LEN + 1];
	char s3[STATE_SECRET_HEX_LEN + 1];
	time_t rot = T0 + 100, end = T0 + 100 + 3600;

	t = make_token(st, "ci", 30 * DAY * MS, T0, s1);
	ck_assert_int_eq(state_token_rotate(st, "ci", HOUR * MS, rot, &r, s2), 0);
	ck_assert_str_ne(s1, s2);
	ck_assert_str_eq(r.id, t.id);
	ck_assert_int_eq(r.expires, t.expires);
	ck_assert_int_eq(r.grace_until, end);
	ck_assert_int_eq(state_token_by_name(st, "ci")->grace_until, end);
	/* During the grace both work; the old one says so and ends with the grace. */
	ck_assert_int_eq(state_token_verify(st, t.id, s2, rot, &a), STATE_OK);
	ck_assert(!a.previous);
	ck_assert_int_eq(a.deadline, t.expires);
	ck_assert_int_eq(state_token_verify(st, t.id, s1, end - 1, &a), STATE_OK);
	ck_assert(a.previous);
	ck_assert_int_eq(a.deadline, end);
	/* After it, only the new one. */
	ck_assert_int_eq(state_token_verify(st, t.id, s1, end, NULL), STATE_BAD_SECRET);
	ck_assert_int_eq(state_token_verify(st, t.id, s2, end, NULL), STATE_OK);

	/* A second rotation within the grace: the first secret stops, the second is previous. */
	ck_assert_int_eq(state_token_rotate(st, t.id, 2 * HOUR * MS, rot + 10, &r, s3), 0);
	ck_assert_int_eq(state_token_verify(st, t.id, s1, rot + 11, NULL), STATE_BAD_SECRET);
	ck_assert_int_eq(state_token_verify(st, t.id, s2, rot + 11, NULL), STATE_OK);
	ck_assert_int_eq(state_token_verify(st, t.id, s3, rot + 11, NULL), STATE_OK);

	/* Grace 0: the old secret stops at once. */
	ck_assert_int_eq(state_token_rotate(st, "ci", 0, rot + 20, &r, s1), 0);
	ck_assert_int_eq(r.grace_until, 0);
	ck_assert_int_eq(state_token_verify(st, t.id, s3, rot + 20, NULL), STATE_BAD_SECRET);
	ck_assert_int_eq(state_token_verify(st, t.id, s1, rot + 20, NULL), STATE_OK);
	/* More than 30 days of grace is refused. */
	ck_assert_int_eq(state_token_rotate(st, "ci", STATE_GRACE_MAX + 1, rot + 30, &r, s2), -1);
	ck_assert_int_eq(state_token_verify(st, t.id, s1, rot + 30, NULL), STATE_OK);
	ck_assert(!logged(s1) && !logged(s3));
	state_free(st);
}
END_TEST

/* --- tunnels --------------------------------------------------------------------------- */

START_TEST(test_tunnels)
{
	struct state *st = open_ok();
	struct state_tunnel t, d;
	struct state_auth a;
	char secret[STATE_SECRET_HEX_LEN + 1], s2[STATE_SECRET_HEX_LEN + 1];

	ck_assert_int_eq(state_tunnel_create(st, "home", T0, &t, secret), 0);
	ck_assert_uint_eq(strlen(t.id), 32);
	ck_assert_uint_eq(strspn(t.id, "0123456789abcdef"), 32);
	ck_assert_int_eq(t.created, T0);
	ck_assert_uint_eq(state_tunnel_count(st), 1);
	ck_assert_str_eq(state_tunnel_nth(st, 0)->name, "home");
	ck_assert_ptr_null(state_tunnel_nth(st, 1));
	ck_assert_str_eq(state_tunnel_by_id(st, t.id)->name, "home");
	ck_assert_str_eq(state_tunnel_by_name(st, "home")->id, t.id);
	ck_assert_int_eq(state_tunnel_create(st, "home", T0, &d, s2), -1);
	/* Tokens and tunnels have separate names. */
	make_token(st, "home", DAY * MS, T0, s2);
	ck_assert_uint_eq(state_token_count(st), 1);

	ck_assert_int_eq(state_tunnel_verify(st, t.id, secret, T0 + 99999999, &a), STATE_OK);
	ck_assert_str_eq(a.name, "home");
	ck_assert_int_eq(a.deadline, 0);
	ck_assert_int_eq(state_tunnel_verify(st, t.id, s2, T0, NULL), STATE_BAD_SECRET);
	ck_assert_int_eq(state_tunnel_verify(st, "0123456789abcdef0123456789abcdef", secret, T0,
	    NULL), STATE_UNKNOWN);

	ck_assert_int_eq(state_tunnel_delete(st, "home", &d), 0);
	ck_assert_str_eq(d.id, t.id);
	ck_assert_uint_eq(state_tunnel_count(st), 0);
	ck_assert_int_eq(state_tunnel_verify(st, t.id, secret, T0, NULL), STATE_UNKNOWN);
	ck_assert_int_eq(state_tunnel_recheck(st, &a, T0), STATE_UNKNOWN);
	ck_assert_int_eq(state_tunnel_delete(st, "home", NULL), -1);
	ck_assert(logged("no tunnel named 'home'"));
	/* Re-created under the same name, it is a new tunnel: the old credentials stay dead. */
	ck_assert_int_eq(state_tunnel_create(st, "home", T0, &d, s2), 0);
	ck_assert_str_ne(d.id, t.id);
	ck_assert_int_eq(state_tunnel_verify(st, t.id, secret, T0, NULL), STATE_UNKNOWN);
	ck_assert_int_eq(state_tunnel_delete(st, d.id, NULL), 0);
	state_free(st);
}
END_TEST

/* --- watching -------------------------------------------------------------------------- */

START_TEST(test_refresh_sees_changes)
{
	struct state *reader = open_ok(), *cli = open_ok();
	struct state_token t;
	struct state_tunnel tun;
	struct state_auth a, ta;
	char secret[STATE_SECRET_HEX_LEN + 1], s2[STATE_SECRET_HEX_LEN + 1];
	uint64_t gen = state_generation(reader);

	ck_assert_int_eq(state_refresh(reader), 0);
	ck_assert_uint_eq(state_generation(reader), gen);

	t = make_token(cli, "ci", DAY * MS, T0, secret);
	ck_assert_int_eq(state_token_verify(reader, t.id, secret, T0, NULL), STATE_UNKNOWN);
	ck_assert_int_eq(state_refresh(reader), 1);
	ck_assert_uint_gt(state_generation(reader), gen);
	ck_assert_int_eq(state_token_verify(reader, t.id, secret, T0, &a), STATE_OK);
	ck_assert_int_eq(state_refresh(reader), 0);

	/* Revocation reaches admitted connections through recheck. */
	ck_assert_int_eq(state_token_recheck(reader, &a, T0 + 1), STATE_OK);
	ck_assert_int_eq(state_token_revoke(cli, "ci", T0 + 5, NULL), 0);
	ck_assert_int_eq(state_refresh(reader), 1);
	ck_assert_int_eq(state_token_recheck(reader, &a, T0 + 6), STATE_REVOKED);
	ck_assert_int_eq(state_token_verify(reader, t.id, secret, T0 + 6, NULL), STATE_REVOKED);

	/* Quick successive rewrites of the same size, each seen by the next refresh (the
	 * signature alone could miss a reused inode within one timestamp tick). */
	t = make_token(cli, "rot", 30 * DAY * MS, T0, secret);
	ck_assert_int_eq(state_refresh(reader), 1);
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(state_token_rotate(cli, "rot", HOUR * MS, T0 + 10, NULL, s2), 0);
		ck_assert_int_eq(state_refresh(reader), 1);
		ck_assert_int_eq(state_token_verify(reader, t.id, s2, T0 + 11, NULL), STATE_OK);
		memcpy(secret, s2, sizeof(secret));
	}
	/* An admitted connection on the secret before the last rotation lives out the grace. */
	ck_assert_int_eq(state_token_verify(reader, t.id, secret, T0 + 11, &a), STATE_OK);
	ck_assert_int_eq(state_token_rotate(cli, "rot", HOUR * MS, T0 + 20, NULL, s2), 0);
	ck_assert_int_eq(state_refresh(reader), 1);
	ck_assert_int_eq(state_token_recheck(reader, &a, T0 + 21), STATE_OK);
	ck_assert(a.previous);
	ck_assert_int_eq(a.deadline, T0 + 20 + 3600);
	ck_assert_int_eq(state_token_recheck(reader, &a, a.deadline), STATE_BAD_SECRET);

	/* A deleted tunnel disappears from the reader. */
	ck_assert_int_eq(state_tunnel_create(cli, "home", T0, &tun, s2), 0);
	ck_assert_int_eq(state_refresh(reader), 1);
	ck_assert_int_eq(state_tunnel_verify(reader, tun.id, s2, T0, &ta), STATE_OK);
	ck_assert_int_eq(state_tunnel_delete(cli, "home", NULL), 0);
	ck_assert_int_eq(state_refresh(reader), 1);
	ck_assert_int_eq(state_tunnel_recheck(reader, &ta, T0), STATE_UNKNOWN);
	ck_assert_uint_eq(state_tunnel_count(reader), 0);
	state_free(reader);
	state_free(cli);
}
END_TEST

START_TEST(test_refresh_keeps_old_on_bad_change)
{
	struct state *st = open_ok();
	struct state_token t;
	char secret[STATE_SECRET_HEX_LEN + 1], p[PATH_MAX];

	t = make_token(st, "ci", DAY * MS, T0, secret);
	log_reset();
	put_file("tokens", "ci", "zt-state = 1\ntype = token\ngarbage\n", 0600);
	ck_assert_int_eq(state_refresh(st), 0);
	ck_assert(logged("tokens/ci:3: expected '=' after 'garbage'; keeping the version read "
	    "before"));
	ck_assert_int_eq(state_token_verify(st, t.id, secret, T0, NULL), STATE_OK);
	/* Said once, not every 250 ms. */
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(state_refresh(st), 0);
	ck_assert_int_eq(logged_count("tokens/ci:3:"), 1);

	/* A file made readable by others is not read; the old version stays. */
	put_file("tokens", "ci", good_token, 0600);
	ck_assert_int_eq(chmod(spath(p, sizeof(p), "tokens", "ci"), 0644), 0);
	ck_assert_int_eq(state_refresh(st), 0);
	ck_assert(logged("mode 0644") && logged("chmod 600"));
	ck_assert_int_eq(state_token_verify(st, t.id, secret, T0, NULL), STATE_OK);
	/* Fixed: the new contents replace the old. */
	ck_assert_int_eq(chmod(p, 0600), 0);
	ck_assert_int_eq(state_refresh(st), 1);
	ck_assert(logged("read again after the problem was fixed"));
	ck_assert_int_eq(state_token_verify(st, t.id, secret, T0, NULL), STATE_UNKNOWN);
	ck_assert_str_eq(state_token_by_name(st, "ci")->id,
	    "0123456789abcdef0123456789abcdef.access");

	/* A new file that is malformed is ignored, a removed one removed. */
	put_file("tokens", "new", "zt-state = 1\n", 0600);
	ck_assert_int_eq(state_refresh(st), 0);
	ck_assert(logged("tokens/new: 'type' is missing; ignoring the file"));
	ck_assert_int_eq(unlink(spath(p, sizeof(p), "tokens", "ci")), 0);
	ck_assert_int_eq(state_refresh(st), 1);
	ck_assert_uint_eq(state_token_count(st), 0);

	/* A directory gone: everything kept, said once, and recovered from. */
	make_token(st, "ci", DAY * MS, T0, secret);
	ck_assert(util_snprintf(p, sizeof(p), "%s.moved", sdir));
	ck_assert_int_eq(rename(sdir, p), 0);
	log_reset();
	ck_assert_int_eq(state_refresh(st), -1);
	ck_assert_int_eq(state_refresh(st), -1);
	ck_assert_uint_eq(state_token_count(st), 1);
	ck_assert_int_eq(logged_count("cannot read"), 1);
	ck_assert_int_eq(rename(p, sdir), 0);
	ck_assert_int_eq(state_refresh(st), 0);
	ck_assert(logged("readable again"));
	state_free(st);
}
END_TEST

/* Creates count tokens named prefix0.. and tries "same"; exits 0/2 (2: got "same"), 1 on error. */
static void
child_creates(const char *prefix, int count)
{
	struct state *st = state_open(sdir);
	char name[32], secret[STATE_SECRET_HEX_LEN + 1];
	int got_same;

	if (st == NULL)
		_exit(1);
	got_same = state_token_create(st, "same", DAY * MS, T0, NULL, secret) == 0;
	for (int i = 0; i < count; i++) {
		snprintf(name, sizeof(name), "%s%d", prefix, i);
		if (state_token_create(st, name, DAY * MS, T0, NULL, secret) == -1)
			_exit(1);
		if (i % 3 == 0 && state_token_revoke(st, name, T0 + 1, NULL) != 0)
			_exit(1);
	}
	state_free(st);
	_exit(got_same ? 2 : 0);
}

START_TEST(test_concurrent_writers)
{
	struct state *st;
	pid_t a, b;
	int sa, sb;

	if ((a = fork()) == 0)
		child_creates("a", 25);
	if ((b = fork()) == 0)
		child_creates("b", 25);
	ck_assert_int_gt(a, 0);
	ck_assert_int_gt(b, 0);
	ck_assert_int_eq(waitpid(a, &sa, 0), a);
	ck_assert_int_eq(waitpid(b, &sb, 0), b);
	ck_assert(WIFEXITED(sa) && WIFEXITED(sb));
	ck_assert_msg(WEXITSTATUS(sa) != 1 && WEXITSTATUS(sb) != 1, "%s", log_text());
	/* Exactly one of them got the contested name. */
	ck_assert_int_eq(WEXITSTATUS(sa) + WEXITSTATUS(sb), 2);
	st = open_ok();
	ck_assert_uint_eq(state_token_count(st), 51);
	for (int i = 0; i < 25; i++) {
		char n[16];
		snprintf(n, sizeof(n), "a%d", i);
		ck_assert_ptr_nonnull(state_token_by_name(st, n));
		ck_assert_int_eq(state_token_by_name(st, n)->revoked != 0, i % 3 == 0);
		snprintf(n, sizeof(n), "b%d", i);
		ck_assert_ptr_nonnull(state_token_by_name(st, n));
	}
	state_free(st);
}
END_TEST

Suite *
state_suite(void)
{
	Suite *s = suite_create("state");
	TCase *format = tcase_create("format");
	TCase *dirs = tcase_create("dirs");
	TCase *tokens = tcase_create("tokens");
	TCase *tunnels = tcase_create("tunnels");
	TCase *watch = tcase_create("watch");

	tcase_add_checked_fixture(format, setup, teardown);
	tcase_add_test(format, test_names);
	tcase_add_test(format, test_format_roundtrip);
	tcase_add_test(format, test_format_errors);
	suite_add_tcase(s, format);

	tcase_add_checked_fixture(dirs, setup, teardown);
	tcase_add_test(dirs, test_init_and_modes);
	tcase_add_test(dirs, test_open_refuses_open_dirs);
	tcase_add_test(dirs, test_open_refuses_open_files);
	tcase_add_test(dirs, test_open_refuses_malformed);
	tcase_add_test(dirs, test_skipped_files);
	suite_add_tcase(s, dirs);

	tcase_add_checked_fixture(tokens, setup, teardown);
	tcase_add_test(tokens, test_token_create_verify);
	tcase_add_test(tokens, test_unknown_and_bad_secret_alike);
	tcase_add_test(tokens, test_unknown_id_costs_a_hash);
	tcase_add_test(tokens, test_token_expiry);
	tcase_add_test(tokens, test_token_revoke);
	tcase_add_test(tokens, test_token_rotate_grace);
	tcase_set_timeout(tokens, 60);
	suite_add_tcase(s, tokens);

	tcase_add_checked_fixture(tunnels, setup, teardown);
	tcase_add_test(tunnels, test_tunnels);
	suite_add_tcase(s, tunnels);

	tcase_add_checked_fixture(watch, setup, teardown);
	tcase_add_test(watch, test_refresh_sees_changes);
	tcase_add_test(watch, test_refresh_keeps_old_on_bad_change);
	tcase_add_test(watch, test_concurrent_writers);
	tcase_set_timeout(watch, 60);
	suite_add_tcase(s, watch);
	return s;
}
