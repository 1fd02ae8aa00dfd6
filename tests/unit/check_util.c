/* check_util: encodings, durations, addresses, atomic files and small helpers. */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "common/util.h"
#include "suites.h"

START_TEST(test_b64url_vectors)
{
	/* RFC 4648 section 10 vectors, without padding. */
	static const struct { const char *in, *out; } v[] = {
		{ "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" },
	};
	char out[32], back[32];

	for (size_t i = 0; i < nitems(v); i++) {
		ssize_t n = util_b64url_encode(v[i].in, strlen(v[i].in), out, sizeof(out));
		ck_assert_int_eq(n, (ssize_t)strlen(v[i].out));
		ck_assert_str_eq(out, v[i].out);
		n = util_b64url_decode(out, strlen(out), back, sizeof(back));
		ck_assert_int_eq(n, (ssize_t)strlen(v[i].in));
		ck_assert(memcmp(back, v[i].in, (size_t)n) == 0);
	}
}
END_TEST

START_TEST(test_b64url_alphabet_and_strictness)
{
	unsigned char in[] = { 0xfb, 0xff, 0xbf };
	char out[8];
	unsigned char back[8];

	ck_assert_int_eq(util_b64url_encode(in, 3, out, sizeof(out)), 4);
	ck_assert_str_eq(out, "-_-_");
	/* Padding, the standard alphabet, whitespace and a lone char are refused. */
	ck_assert_int_eq(util_b64url_decode("Zg==", 4, back, sizeof(back)), -1);
	ck_assert_int_eq(util_b64url_decode("+/+/", 4, back, sizeof(back)), -1);
	ck_assert_int_eq(util_b64url_decode("Zm 9", 4, back, sizeof(back)), -1);
	ck_assert_int_eq(util_b64url_decode("Z", 1, back, sizeof(back)), -1);
	/* Non-zero trailing bits would give a second spelling of "f". */
	ck_assert_int_eq(util_b64url_decode("Zh", 2, back, sizeof(back)), -1);
	/* Output buffers that are too small are errors, never overflows. */
	ck_assert_int_eq(util_b64url_encode(in, 3, out, 4), -1);
	ck_assert_int_eq(util_b64url_decode("Zm9v", 4, back, 2), -1);
}
END_TEST

START_TEST(test_b64_padded)
{
	char out[16];
	unsigned char back[16];

	ck_assert_int_eq(util_b64_encode("fo", 2, out, sizeof(out)), 4);
	ck_assert_str_eq(out, "Zm8=");
	ck_assert_int_eq(util_b64_decode("Zm8=", 4, back, sizeof(back)), 2);
	ck_assert_int_eq(util_b64_decode("Zm8", 3, back, sizeof(back)), -1);
	ck_assert_int_eq(util_b64_decode("Zm9=", 4, back, sizeof(back)), -1);
	ck_assert_int_eq(util_b64_decode("-_==", 4, back, sizeof(back)), -1);
}
END_TEST

START_TEST(test_hex)
{
	unsigned char in[] = { 0x00, 0xab, 0xff }, back[3];
	char out[7];

	ck_assert_int_eq(util_hex_encode(in, 3, out, sizeof(out)), 6);
	ck_assert_str_eq(out, "00abff");
	ck_assert_int_eq(util_hex_decode("00ABff", 6, back, sizeof(back)), 3);
	ck_assert(memcmp(in, back, 3) == 0);
	ck_assert_int_eq(util_hex_decode("0", 1, back, sizeof(back)), -1);
	ck_assert_int_eq(util_hex_decode("0g", 2, back, sizeof(back)), -1);
	ck_assert_int_eq(util_hex_encode(in, 3, out, 6), -1);
}
END_TEST

START_TEST(test_duration)
{
	static const struct { const char *s; uint64_t ms; } ok[] = {
		{ "30s", 30000 }, { "15m", 900000 }, { "8760h", 31536000000ULL },
		{ "1h30m", 5400000 }, { "250ms", 250 }, { "2d", 172800000 }, { "45", 45000 },
		{ "0s", 0 }, { "1m1s1ms", 61001 },
	};
	static const char *bad[] = { "", "s", "10x", "1.5s", "-1s", "10 s", "1h30",
	    "99999999999999999999s", "18446744073709552h" };
	char err[256], buf[64];
	uint64_t ms;

	for (size_t i = 0; i < nitems(ok); i++) {
		ck_assert_msg(util_parse_duration(ok[i].s, &ms, err, sizeof(err)) == 0,
		    "%s: %s", ok[i].s, err);
		ck_assert_uint_eq(ms, ok[i].ms);
	}
	for (size_t i = 0; i < nitems(bad); i++) {
		err[0] = '\0';
		ck_assert_msg(util_parse_duration(bad[i], &ms, err, sizeof(err)) == -1,
		    "accepted \"%s\"", bad[i]);
		ck_assert_msg(err[0] != '\0', "no reason for \"%s\"", bad[i]);
	}
	util_format_duration(5400000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1h30m");
	util_format_duration(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0s");
	util_format_duration(1500, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1s500ms");
}
END_TEST

START_TEST(test_hostport)
{
	struct util_hostport hp;
	char err[256];

	ck_assert_int_eq(util_parse_hostport("edge.example.com:7844", 0, &hp, err, sizeof(err)), 0);
	ck_assert_str_eq(hp.host, "edge.example.com");
	ck_assert_uint_eq(hp.port, 7844);
	ck_assert_int_eq(util_parse_hostport("[::1]:53", 0, &hp, err, sizeof(err)), 0);
	ck_assert_str_eq(hp.host, "::1");
	ck_assert_uint_eq(hp.port, 53);
	ck_assert_int_eq(util_parse_hostport("fd00::1", 53, &hp, err, sizeof(err)), 0);
	ck_assert_str_eq(hp.host, "fd00::1");
	ck_assert_uint_eq(hp.port, 53);
	ck_assert_int_eq(util_parse_hostport("127.0.0.1", 7844, &hp, err, sizeof(err)), 0);
	ck_assert_uint_eq(hp.port, 7844);

	ck_assert_int_eq(util_parse_hostport("127.0.0.1", 0, &hp, err, sizeof(err)), -1);
	ck_assert(strstr(err, "port is missing") != NULL);
	ck_assert_int_eq(util_parse_hostport("host:0", 0, &hp, err, sizeof(err)), -1);
	ck_assert(strstr(err, "\"0\"") != NULL);
	ck_assert_int_eq(util_parse_hostport("host:65536", 0, &hp, err, sizeof(err)), -1);
	ck_assert_int_eq(util_parse_hostport("host:+53", 0, &hp, err, sizeof(err)), -1);
	ck_assert_int_eq(util_parse_hostport("[::1", 0, &hp, err, sizeof(err)), -1);
	ck_assert_int_eq(util_parse_hostport("[::1]x", 0, &hp, err, sizeof(err)), -1);
	ck_assert_int_eq(util_parse_hostport("[nothex]:1", 0, &hp, err, sizeof(err)), -1);
	ck_assert_int_eq(util_parse_hostport("fe80::1::2", 53, &hp, err, sizeof(err)), -1);
	ck_assert_int_eq(util_parse_hostport(":53", 0, &hp, err, sizeof(err)), -1);
	ck_assert_int_eq(util_parse_hostport("a b:53", 0, &hp, err, sizeof(err)), -1);
	ck_assert_int_eq(util_parse_hostport("", 0, &hp, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_sockaddr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[64];

	ck_assert_int_eq(util_sockaddr_from("127.0.0.1", 5353, &ss, &len), 0);
	ck_assert_str_eq(util_sockaddr_str((struct sockaddr *)&ss, buf, sizeof(buf)),
	    "127.0.0.1:5353");
	ck_assert_int_eq(util_sockaddr_from("::1", 53, &ss, &len), 0);
	ck_assert_str_eq(util_sockaddr_str((struct sockaddr *)&ss, buf, sizeof(buf)), "[::1]:53");
	ck_assert_int_eq(util_sockaddr_from("localhost", 53, &ss, &len), -1);
}
END_TEST

START_TEST(test_parse_long_port)
{
	long v;
	uint16_t port;

	ck_assert_int_eq(util_parse_long("42", 0, 100, &v), 0);
	ck_assert_int_eq(v, 42);
	ck_assert_int_eq(util_parse_long("101", 0, 100, &v), -1);
	ck_assert_int_eq(util_parse_long("4x", 0, 100, &v), -1);
	ck_assert_int_eq(util_parse_long(" 4", 0, 100, &v), -1);
	ck_assert_int_eq(util_parse_long("", 0, 100, &v), -1);
	ck_assert_int_eq(util_parse_port("0", true, &port), 0);
	ck_assert_int_eq(util_parse_port("0", false, &port), -1);
	ck_assert_int_eq(util_parse_port("-1", true, &port), -1);
	ck_assert_int_eq(util_parse_port("65535", false, &port), 0);
	ck_assert_uint_eq(port, 65535);
}
END_TEST

static char tmpdir[] = "/tmp/zt-check-util-XXXXXX";

static void
tmp_setup(void)
{
	strcpy(tmpdir, "/tmp/zt-check-util-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
tmp_teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* The number of entries in dir other than . and .. */
static int
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

START_TEST(test_atomic_write)
{
	char path[256], *data;
	size_t len;
	struct stat st;
	mode_t old = umask(0);

	snprintf(path, sizeof(path), "%s/state.json", tmpdir);
	ck_assert_int_eq(util_write_file_atomic(path, "one", 3, 0600), 0);
	ck_assert_int_eq(util_write_file_atomic(path, "second", 6, 0600), 0);
	umask(old);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(util_read_file(path, 1024, &data, &len), 0);
	ck_assert_uint_eq(len, 6);
	ck_assert_str_eq(data, "second");
	free(data);
	/* No temporary file is left behind. */
	ck_assert_int_eq(count_entries(tmpdir), 1);
	/* A directory that does not exist fails with errno, leaving nothing. */
	snprintf(path, sizeof(path), "%s/missing/x", tmpdir);
	ck_assert_int_eq(util_write_file_atomic(path, "x", 1, 0600), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(test_read_limits_and_secrets)
{
	char path[256], *data;
	size_t len;

	snprintf(path, sizeof(path), "%s/secret", tmpdir);
	ck_assert_int_eq(util_write_file_atomic(path, "s3cret\n", 7, 0600), 0);
	ck_assert_int_eq(util_read_secret_file(path, 1024, &data, &len), 0);
	ck_assert_str_eq(data, "s3cret");
	ck_assert_uint_eq(len, 6);
	free(data);
	ck_assert_int_eq(util_read_file(path, 3, &data, &len), -1);
	ck_assert_int_eq(errno, EFBIG);
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_eq(util_read_secret_file(path, 1024, &data, &len), -1);
	ck_assert_int_eq(errno, EPERM);
}
END_TEST

START_TEST(test_mkdir_p)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/a/b/c", tmpdir);
	ck_assert_int_eq(util_mkdir_p(path, 0700), 0);
	ck_assert_int_eq(util_mkdir_p(path, 0700), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(util_mkdir_p("", 0700), -1);
}
END_TEST

START_TEST(test_dir_lock)
{
	char path[512], missing[256], err[512];
	struct stat st;
	int fd, other;

	fd = util_dir_lock(tmpdir, err, sizeof(err));
	ck_assert_int_ge(fd, 0);
	snprintf(path, sizeof(path), "%s/.lock", tmpdir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	/* Exclusive: another open file description cannot take it until it is closed. */
	ck_assert_int_ge(other = open(path, O_RDWR | O_CLOEXEC), 0);
	ck_assert_int_eq(flock(other, LOCK_EX | LOCK_NB), -1);
	ck_assert_int_eq(errno, EWOULDBLOCK);
	close(fd);
	ck_assert_int_eq(flock(other, LOCK_EX | LOCK_NB), 0);
	close(other);
	/* Taken again once released. */
	ck_assert_int_ge(fd = util_dir_lock(tmpdir, err, sizeof(err)), 0);
	close(fd);

	snprintf(missing, sizeof(missing), "%s/missing", tmpdir);
	ck_assert_int_eq(util_dir_lock(missing, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, ENOENT);
	snprintf(path, sizeof(path), "cannot open the lock %s/.lock: %s", missing,
	    strerror(ENOENT));
	ck_assert_str_eq(err, path);
	/* Not through a symbolic link. */
	snprintf(path, sizeof(path), "%s/.lock", tmpdir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(symlink("elsewhere", path), 0);
	ck_assert_int_eq(util_dir_lock(tmpdir, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, ELOOP);
	ck_assert_ptr_nonnull(strstr(err, "cannot open the lock "));
}
END_TEST

START_TEST(test_time)
{
	static const char *const bad[] = {
		"", "2026-11-27T21:00:00", "2026-11-27T21:00:00Z ", " 2026-11-27T21:00:00Z",
		"2026-11-27 21:00:00Z", "2026-11-27T21:00:00z", "2026-1-27T21:00:00Z0",
		"2026-11-27T21:00:0aZ", "1969-12-31T23:59:59Z", "2026-00-10T00:00:00Z",
		"2026-13-10T00:00:00Z", "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z",
		"2026-04-31T00:00:00Z", "2026-11-00T00:00:00Z", "2026-11-27T24:00:00Z",
		"2026-11-27T23:60:00Z", "2026-11-27T23:59:60Z", "+026-11-27T21:00:00Z",
		"2026-11-27T21:00:00+00:00",
	};
	char buf[UTIL_TIME_LEN + 1];
	time_t t;

	util_time_format(0, buf);
	ck_assert_str_eq(buf, "1970-01-01T00:00:00Z");
	util_time_format(1795813200, buf);
	ck_assert_str_eq(buf, "2026-11-27T21:00:00Z");
	/* Clamped to what the form can say. */
	util_time_format(-5, buf);
	ck_assert_str_eq(buf, "1970-01-01T00:00:00Z");
	util_time_format(UTIL_TIME_MAX + 1, buf);
	ck_assert_str_eq(buf, "9999-12-31T23:59:59Z");

	ck_assert(util_time_parse("2026-11-27T21:00:00Z", &t));
	ck_assert_int_eq(t, 1795813200);
	ck_assert(util_time_parse("1970-01-01T00:00:00Z", &t));
	ck_assert_int_eq(t, 0);
	ck_assert(util_time_parse("9999-12-31T23:59:59Z", &t));
	ck_assert_int_eq(t, UTIL_TIME_MAX);
	ck_assert(util_time_parse("2024-02-29T12:34:56Z", &t));
	util_time_format(t, buf);
	ck_assert_str_eq(buf, "2024-02-29T12:34:56Z");
	for (size_t i = 0; i < nitems(bad); i++) {
		t = 42;
		ck_assert_msg(!util_time_parse(bad[i], &t), "accepted '%s'", bad[i]);
		ck_assert_int_eq(t, 42);
	}
}
END_TEST

START_TEST(test_host_email)
{
	char name[300];

	ck_assert(util_host_name("example.com"));
	ck_assert(util_host_name("a"));
	ck_assert(util_host_name("x-1.y2.Z"));
	ck_assert(!util_host_name(""));
	ck_assert(!util_host_name("example.com."));
	ck_assert(!util_host_name(".example.com"));
	ck_assert(!util_host_name("a..b"));
	ck_assert(!util_host_name("-a.b"));
	ck_assert(!util_host_name("a-.b"));
	ck_assert(!util_host_name("a_b.c"));
	ck_assert(!util_host_name("a b"));
	memset(name, 'a', 63);
	name[63] = '\0';
	ck_assert(util_host_name(name));
	name[63] = 'a';
	name[64] = '\0';
	ck_assert(!util_host_name(name));
	/* 253 characters in all, not 254. */
	for (size_t i = 0; i < 253; i++)
		name[i] = i % 2 == 1 ? '.' : 'a';
	name[253] = '\0';
	ck_assert(util_host_name(name));
	name[253] = '.';
	name[254] = 'a';
	name[255] = '\0';
	ck_assert(!util_host_name(name));

	ck_assert(util_email_valid("alice@example.com", false));
	ck_assert(util_email_valid("Alice.B+tag@Example.COM", true));
	ck_assert(util_email_valid("!#$%&'*+-=?^_`{|}~@x.y", true));
	ck_assert(util_email_valid("a/b@example.com", false));
	ck_assert(!util_email_valid("a/b@example.com", true));
	ck_assert(!util_email_valid("example.com", false));
	ck_assert(!util_email_valid("@example.com", false));
	ck_assert(!util_email_valid("alice@", false));
	ck_assert(!util_email_valid(".alice@example.com", false));
	ck_assert(!util_email_valid("alice.@example.com", false));
	ck_assert(!util_email_valid("al..ice@example.com", false));
	ck_assert(!util_email_valid("al ice@example.com", false));
	ck_assert(!util_email_valid("\"alice\"@example.com", false));
	ck_assert(!util_email_valid("alice@exa_mple.com", false));
	ck_assert(!util_email_valid("alice@[127.0.0.1]", false));
	ck_assert(!util_email_valid("a@b@example.com", false));
	/* A local part of 64, not 65; 254 characters in all, not 255. */
	memset(name, 'l', 64);
	strcpy(name + 64, "@example.com");
	ck_assert(util_email_valid(name, false));
	memset(name, 'l', 65);
	strcpy(name + 65, "@example.com");
	ck_assert(!util_email_valid(name, false));
	memset(name, 'l', 64);
	name[64] = '@';
	for (size_t i = 65; i < 254; i++)
		name[i] = i % 2 == 0 ? '.' : 'd';
	name[254] = '\0';
	ck_assert(util_email_valid(name, false));
	name[254] = '.';
	name[255] = 'd';
	name[256] = '\0';
	ck_assert(!util_email_valid(name, false));
}
END_TEST

START_TEST(test_small_helpers)
{
	char buf[4];
	uint32_t seen = 0;

	ck_assert(util_strlcpy(buf, "abc", sizeof(buf)));
	ck_assert(!util_strlcpy(buf, "abcd", sizeof(buf)));
	ck_assert_str_eq(buf, "abc");
	ck_assert(util_snprintf(buf, sizeof(buf), "%d", 123));
	ck_assert(!util_snprintf(buf, sizeof(buf), "%d", 1234));
	ck_assert(util_ct_equal("abcd", "abcd", 4));
	ck_assert(!util_ct_equal("abcd", "abce", 4));
	ck_assert_uint_eq(util_edit_distance("tunnel", "tunel"), 1);
	ck_assert_uint_eq(util_edit_distance("dns", "dsn"), 2);
	ck_assert_uint_eq(util_edit_distance("", "abc"), 3);
	for (int i = 0; i < 2000; i++) {
		uint32_t r = util_random_uniform(5);
		ck_assert_uint_lt(r, 5);
		seen |= 1u << r;
	}
	ck_assert_uint_eq(seen, 0x1f);
}
END_TEST

/* util_quote: control and non-ASCII bytes hidden, long strings cut with "...", tiny buffers. */
START_TEST(test_quote)
{
	char buf[8], tiny[3];

	ck_assert_str_eq(util_quote("abc", buf, sizeof(buf)), "abc");
	ck_assert_str_eq(util_quote("a\nb\x1b[c\xc3", buf, sizeof(buf)), "a?b?[c?");
	ck_assert_str_eq(util_quote("abcdefgh", buf, sizeof(buf)), "abcd...");
	ck_assert_str_eq(util_quote("abcdefg", buf, sizeof(buf)), "abcdefg");
	ck_assert_str_eq(util_quote("abc", tiny, sizeof(tiny)), "");
}
END_TEST

Suite *
util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("encodings");
	TCase *tf = tcase_create("files");

	tcase_add_test(tc, test_b64url_vectors);
	tcase_add_test(tc, test_b64url_alphabet_and_strictness);
	tcase_add_test(tc, test_b64_padded);
	tcase_add_test(tc, test_hex);
	tcase_add_test(tc, test_duration);
	tcase_add_test(tc, test_hostport);
	tcase_add_test(tc, test_sockaddr);
	tcase_add_test(tc, test_parse_long_port);
	tcase_add_test(tc, test_small_helpers);
	tcase_add_test(tc, test_quote);
	tcase_add_test(tc, test_time);
	tcase_add_test(tc, test_host_email);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tf, tmp_setup, tmp_teardown);
	tcase_add_test(tf, test_atomic_write);
	tcase_add_test(tf, test_read_limits_and_secrets);
	tcase_add_test(tf, test_mkdir_p);
	tcase_add_test(tf, test_dir_lock);
	suite_add_tcase(s, tf);
	return s;
}
