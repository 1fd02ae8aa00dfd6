/* check_dnsconf: the dnsmasq configuration reader, option by option, and against dnsmasq. */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "common/dnsconf.h"
#include "common/log.h"
#include "common/util.h"
#include "suites.h"

#define DNSMASQ	"/usr/sbin/dnsmasq"

static char tmpdir[PATH_MAX];
static FILE *logfp;
static char logbuf[1 << 16];
static struct dnsconf *conf;

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
	util_strlcpy(tmpdir, "/tmp/check_dnsconf.XXXXXX", sizeof(tmpdir));
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	logfp = tmpfile();
	ck_assert_ptr_nonnull(logfp);
	log_set_output(logfp);
	log_set_format(LOG_FORMAT_TEXT);
	conf = NULL;
}

static void
teardown(void)
{
	dnsconf_free(conf);
	conf = NULL;
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

/* Writes text to tmpdir/name and returns the path (in buf). */
static const char *
put_file(const char *name, const char *text, char *buf, size_t len)
{
	FILE *fp;

	ck_assert(util_snprintf(buf, len, "%s/%s", tmpdir, name));
	fp = fopen(buf, "w");
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fputs(text, fp) >= 0, 1);
	ck_assert_int_eq(fclose(fp), 0);
	return buf;
}

/* Loads argv (argv[0] is skipped) with no default file and a resolv.conf in tmpdir. */
static int
load_argv(int argc, char **argv, const struct dnsconf_flag *flags, const char *def)
{
	struct dnsconf_params p;
	char resolv[PATH_MAX];

	memset(&p, 0, sizeof(p));
	ck_assert(util_snprintf(resolv, sizeof(resolv), "%s/resolv.conf", tmpdir));
	p.default_resolv = resolv;
	p.flags = flags;
	p.default_conf = def;
	dnsconf_free(conf);
	conf = NULL;
	log_reset();
	return dnsconf_load(&p, argc, argv, &conf);
}

/* Loads text as the file t.conf given with -C. */
static int
load(const char *text)
{
	char path[PATH_MAX];
	char *argv[] = { "serve", "-C", path, NULL };

	put_file("t.conf", text, path, sizeof(path));
	return load_argv(3, argv, NULL, NULL);
}

/* Loads text and expects success. */
static void
ok(const char *text)
{
	int rc = load(text);

	ck_assert_msg(rc == 0, "rejected: %s\nlog: %s", text, log_text());
	ck_assert_ptr_nonnull(conf);
}

/* Loads text and expects failure with a message containing "t.conf:line:" and each of
 * the NULL-terminated strings. */
static void
bad(const char *text, unsigned line, ...)
{
	char where[64];
	const char *s, *log;
	va_list ap;

	ck_assert_msg(load(text) == -1, "accepted: %s", text);
	ck_assert_ptr_null(conf);
	log = log_text();
	snprintf(where, sizeof(where), "t.conf:%u: ", line);
	ck_assert_msg(strstr(log, where) != NULL, "no \"%s\" in: %s", where, log);
	va_start(ap, line);
	while ((s = va_arg(ap, const char *)) != NULL)
		ck_assert_msg(strstr(log, s) != NULL, "no \"%s\" in: %s", s, log);
	va_end(ap);
}

static const char *
ntop(int af, const void *a)
{
	static char buf[4][INET6_ADDRSTRLEN];
	static int i;

	i = (i + 1) % 4;
	return inet_ntop(af, a, buf[i], sizeof(buf[i]));
}

/* The upstream of a rule as "ip#port". */
static const char *
upstream_str(const struct dnsconf_upstream *u)
{
	static char buf[128];

	ck_assert_ptr_nonnull(util_sockaddr_str((const struct sockaddr *)&u->addr, buf,
	    sizeof(buf)));
	return buf;
}

/* Checks rule i: action, domain and flags. */
static void
rule_is(size_t i, enum dnsconf_action action, const char *domain, bool wildcard, bool nodots)
{
	ck_assert_msg(i < conf->nrules, "rule %zu of %zu", i, conf->nrules);
	ck_assert_int_eq(conf->rules[i].action, action);
	ck_assert_str_eq(conf->rules[i].domain, domain);
	ck_assert_int_eq(conf->rules[i].wildcard, wildcard);
	ck_assert_int_eq(conf->rules[i].nodots, nodots);
}

/* --- defaults and syntax --------------------------------------------------------------- */

START_TEST(test_defaults)
{
	ok("");
	ck_assert_uint_eq(conf->port, 53);
	ck_assert_uint_eq(conf->cache_size, 150);
	ck_assert_uint_eq(conf->edns_packet_max, 1232);
	ck_assert_uint_eq(conf->dns_forward_max, 150);
	ck_assert_uint_eq(conf->local_ttl, 0);
	ck_assert_uint_eq(conf->min_cache_ttl, 0);
	ck_assert_int_eq(conf->query_port_set, false);
	ck_assert_str_eq(conf->user, "nobody");
	ck_assert_ptr_null(conf->group);
	ck_assert_int_eq(conf->group_set, false);
	ck_assert_str_eq(conf->pid_file, "/var/run/dnsmasq.pid");
	ck_assert_uint_eq(conf->nresolv_files, 1);
	ck_assert_ptr_nonnull(strstr(conf->resolv_files[0], "/resolv.conf"));
	ck_assert_uint_eq(conf->nrules, 0);
	ck_assert_ptr_null(conf->domain_suffix);
	ck_assert_int_eq(conf->bogus_priv || conf->domain_needed || conf->no_resolv, false);
	ck_assert_uint_eq(conf->nfiles_read, 1);
}
END_TEST

START_TEST(test_comments_and_whitespace)
{
	ok("# a comment\n\n   \t\n  port = 5353  # trailing\r\naddress=/x/#\n"
	    "address=/y/ #\nbogus-priv\t# tab then comment\n");
	ck_assert_uint_eq(conf->port, 5353);
	ck_assert_uint_eq(conf->nrules, 2);
	rule_is(0, DNSCONF_ACT_ZEROS, "x", false, false);
	rule_is(1, DNSCONF_ACT_LOCAL, "y", false, false);
	ck_assert_int_eq(conf->bogus_priv, true);
	/* '#' right after text is not a comment. */
	bad("address=/x/1.2.3.4# c\n", 1, "address=/x/1.2.3.4# c", "bad address", NULL);
	bad("bogus-priv#x\n", 1, "unknown option \"bogus-priv#x\"",
	    "did you mean \"bogus-priv\"", NULL);
	bad("port==53\n", 1, "port==53", "not a decimal number", NULL);
	bad("=53\n", 1, "missing option name", NULL);
}
END_TEST

START_TEST(test_quoting)
{
	const uint8_t want[] = { 3, 'a', ',', 'b', 3, 'x', '\t', 'y', 4, 'q', '"', '\\', 'e',
	    1, 0x1b, 3, 'c', ' ', 'd' };

	ok("txt-record=t,\"a,b\",\"x\\ty\",\"q\\\"\\\\e\",\"\\e\",c d \n");
	ck_assert_uint_eq(conf->ntxts, 1);
	ck_assert_uint_eq(conf->txts[0].rdlen, sizeof(want));
	ck_assert_mem_eq(conf->txts[0].rdata, want, sizeof(want));
	/* Quotes around a value are removed; a '#' inside quotes is kept. */
	ok("port=\"53\"\nptr-record=p,\"a#b\"\n");
	ck_assert_uint_eq(conf->port, 53);
	ck_assert_str_eq(conf->ptrs[0].target, "a#b");
	/* A '#' after a closing quote starts a comment only after whitespace. */
	ok("txt-record=a, \"b\"#c\ntxt-record=b,\"x\"#y\n");
	ck_assert_mem_eq(conf->txts[0].rdata, "\001b", 2);
	ck_assert_mem_eq(conf->txts[1].rdata, "\003x#y", 4);
	/* Unknown escapes are kept as written. */
	ok("txt-record=a,\"x\\qy\"\n");
	ck_assert_mem_eq(conf->txts[0].rdata, "\004x\\qy", 5);
	bad("txt-record=a,\"b\n", 1, "missing closing '\"'", NULL);
	/* dnsmasq does not see a quote right after a closing quote. */
	bad("txt-record=a,\"b\"\"c\"\n", 1, "missing closing", NULL);
	bad("\"bogus-priv\"\n", 1, "is quoted", NULL);
}
END_TEST

START_TEST(test_line_limits)
{
	char *line = xmalloc(2100);
	size_t pre = strlen("txt-record=a,");

	memcpy(line, "txt-record=a,", pre);
	memset(line + pre, 'x', 1024 - pre);
	memcpy(line + 1024, "\n", 2);
	ok(line);
	ck_assert_uint_eq(conf->txts[0].rdlen, (1024 - pre) + 4);	/* 255+255+255+246 */
	memset(line + pre, 'x', 1025 - pre);
	memcpy(line + 1025, "\n", 2);
	bad(line, 1, "longer than 1024 bytes", NULL);
	free(line);
	bad("port=53\nbogus-priv\001\n", 2, "control character", NULL);
}
END_TEST

START_TEST(test_nul_byte)
{
	struct dnsconf_params p;
	const char text[] = "port=5\0junk\n", good[] = "port=5\n";

	memset(&p, 0, sizeof(p));
	log_reset();
	ck_assert_int_eq(dnsconf_load_buffer(&p, "buf.conf", text, sizeof(text) - 1, &conf), -1);
	ck_assert_ptr_null(conf);
	ck_assert_ptr_nonnull(strstr(log_text(), "buf.conf:1: NUL byte"));
	ck_assert_int_eq(dnsconf_load_buffer(&p, "buf.conf", good, sizeof(good) - 1, &conf), 0);
	ck_assert_uint_eq(conf->port, 5);
	ck_assert_str_eq(conf->files_read[0], "buf.conf");
	dnsconf_free(conf);
	conf = NULL;
	ck_assert_int_eq(dnsconf_load_buffer(&p, "empty", "", 0, &conf), 0);
	ck_assert_uint_eq(conf->port, 53);
}
END_TEST

/* --- unknown and unsupported options --------------------------------------------------- */

START_TEST(test_unknown_unsupported)
{
	bad("port=53\ndhcp-range=10.0.0.2,10.0.0.9\n", 2,
	    "option \"dhcp-range\" is not supported by zt dns (DHCP is out of scope)", NULL);
	bad("adress=/a/10.1.1.1\n", 1, "unknown option \"adress\"; did you mean \"address\"?",
	    NULL);
	bad("frobnicate\n", 1, "unknown option \"frobnicate\"", NULL);
	ck_assert_ptr_null(strstr(log_text(), "did you mean"));
	bad("enable-tftp\n", 1, "\"enable-tftp\"", "TFTP is out of scope", NULL);
	bad("dnssec\n", 1, "DNSSEC", NULL);
	bad("auth-zone=x\n", 1, "authoritative DNS", NULL);
	bad("no-poll\n", 1, "\"no-poll\" is not supported", "not implemented", NULL);
	bad("domain-suffix\n", 1, "\"domain-suffix\" needs a value", NULL);
	/* dnsmasq turns these into bogus-priv inside a file. */
	log_set_level(LOG_LEVEL_WARN);
	ok("version\n");
	ck_assert_int_eq(conf->bogus_priv, true);
	ck_assert_ptr_nonnull(strstr(log_text(), "turns on bogus-priv"));
	log_set_level(LOG_LEVEL_ERROR);
	bad("test=1\n", 1, "\"test\" takes no value", NULL);
}
END_TEST

/* --- listening ------------------------------------------------------------------------- */

START_TEST(test_port)
{
	ok("port=5353\n");
	ck_assert_uint_eq(conf->port, 5353);
	ok("port=0\n");
	ck_assert_uint_eq(conf->port, 0);
	ok("port=\n");	/* dnsmasq reads an empty number as 0 */
	ck_assert_uint_eq(conf->port, 0);
	bad("port=65536\n", 1, "port=65536", "at most 65535", NULL);
	bad("port=5x\n", 1, "port=5x", NULL);
	bad("port\n", 1, "\"port\" needs a value", NULL);
	bad("port=1\n\nport=2\n", 3, "\"port\" given twice", "first at", "t.conf:1", NULL);
	bad("port=4294967349\n", 1, "number too large", NULL);
}
END_TEST

START_TEST(test_interfaces)
{
	ok("interface=eth0,wg*\ninterface=\nexcept-interface=eth1, eth2\n");
	ck_assert_uint_eq(conf->ninterfaces, 3);
	ck_assert_str_eq(conf->interfaces[0], "eth0");
	ck_assert_str_eq(conf->interfaces[1], "wg*");
	ck_assert_str_eq(conf->interfaces[2], "");
	ck_assert_uint_eq(conf->nexcept_interfaces, 2);
	ck_assert_str_eq(conf->except_interfaces[1], "eth2");
	ck_assert(dnsconf_iface_match("wg*", "wg0"));
	ck_assert(!dnsconf_iface_match("wg*", "wg"));
	ck_assert(dnsconf_iface_match("eth0", "eth0"));
	ck_assert(!dnsconf_iface_match("eth0", "eth01"));
	ck_assert(!dnsconf_iface_match("", ""));
	bad("interface\n", 1, "\"interface\" needs a value", NULL);
}
END_TEST

START_TEST(test_listen_address)
{
	ok("listen-address=127.0.0.1, ::1\nlisten-address=10.254.254.254\n");
	ck_assert_uint_eq(conf->nlisten_addrs, 3);
	ck_assert_int_eq(conf->listen_addrs[0].family, AF_INET);
	ck_assert_str_eq(ntop(AF_INET6, &conf->listen_addrs[1].u.v6), "::1");
	ck_assert_str_eq(ntop(AF_INET, &conf->listen_addrs[2].u.v4), "10.254.254.254");
	bad("listen-address=10.1.1\n", 1, "bad address \"10.1.1\"", "listen-address=10.1.1",
	    NULL);
	bad("listen-address=127.0.0.1,\n", 1, "bad address \"\"", NULL);
}
END_TEST

START_TEST(test_bind_modes)
{
	ok("bind-interfaces\n");
	ck_assert_int_eq(conf->bind_interfaces, true);
	ok("bind-dynamic\nbind-dynamic\n");
	ck_assert_int_eq(conf->bind_dynamic, true);
	ck_assert_int_eq(load("bind-interfaces\nbind-dynamic\n"), -1);
	ck_assert_ptr_nonnull(strstr(log_text(),
	    "cannot set --bind-interfaces and --bind-dynamic"));
	bad("bind-dynamic=yes\n", 1, "\"bind-dynamic\" takes no value", NULL);
}
END_TEST

/* --- address= / server= / local= ------------------------------------------------------- */

START_TEST(test_address_forms)
{
	ok("address=/webdevelop.internal/10.130.0.1\n"
	    "address=/a.example/b.example/fd00::1\n"
	    "address=/ads.example/#\n"
	    "address=/blocked.example/\n"
	    "address=/..lead.example/10.0.0.1\n"
	    "address=/*wild.example/10.0.0.2\n"
	    "address=/*.sub.example/10.0.0.3\n"
	    "address=/#/0.0.0.0\n"
	    "address=//10.0.0.4\n"
	    "address=/Upper.EXAMPLE./10.0.0.5\n"
	    "address=/1.2.3.4\n");
	ck_assert_uint_eq(conf->nrules, 12);
	rule_is(0, DNSCONF_ACT_ADDR4, "webdevelop.internal", false, false);
	ck_assert_str_eq(ntop(AF_INET, &conf->rules[0].addr.u.v4), "10.130.0.1");
	ck_assert_int_eq(conf->rules[0].src, DNSCONF_SRC_ADDRESS);
	rule_is(1, DNSCONF_ACT_ADDR6, "a.example", false, false);
	rule_is(2, DNSCONF_ACT_ADDR6, "b.example", false, false);
	ck_assert_uint_eq(conf->rules[1].seq, conf->rules[2].seq);
	ck_assert_str_eq(ntop(AF_INET6, &conf->rules[2].addr.u.v6), "fd00::1");
	rule_is(3, DNSCONF_ACT_ZEROS, "ads.example", false, false);
	rule_is(4, DNSCONF_ACT_LOCAL, "blocked.example", false, false);
	rule_is(5, DNSCONF_ACT_ADDR4, "lead.example", false, false);
	rule_is(6, DNSCONF_ACT_ADDR4, "wild.example", true, false);
	rule_is(7, DNSCONF_ACT_ADDR4, ".sub.example", true, false);
	rule_is(8, DNSCONF_ACT_ADDR4, "", false, false);
	rule_is(9, DNSCONF_ACT_ADDR4, "", false, true);
	rule_is(10, DNSCONF_ACT_ADDR4, "upper.example", false, false);
	/* A single field is both the domain and the address, as in dnsmasq. */
	rule_is(11, DNSCONF_ACT_ADDR4, "1.2.3.4", false, false);
	ck_assert_uint_eq(conf->rules[11].origin.line, 11);
	ck_assert_ptr_nonnull(strstr(conf->rules[11].origin.file, "t.conf"));
	/* address=/x/#/ is local=/x/ plus local= for every name. */
	ok("address=/x/#/\n");
	ck_assert_uint_eq(conf->nrules, 2);
	rule_is(0, DNSCONF_ACT_LOCAL, "x", false, false);
	rule_is(1, DNSCONF_ACT_LOCAL, "", false, false);
	bad("address=/a/10.1.1\n", 1, "bad address \"10.1.1\" in address=/a/10.1.1", NULL);
	bad("address=/a\n", 1, "bad address \"a\"", NULL);
	bad("address=/a-/10.1.1.1\nport=1\naddress=/-A/1.1.1.1\n", 3, "bad domain \"-A\"", NULL);
	{
		char text[128];

		memcpy(text, "address=/", 9);
		memset(text + 9, 'a', 64);
		memcpy(text + 73, "/1.1.1.1\n", 10);
		bad(text, 1, "longer than 63", NULL);
		text[9] = '.';	/* 63 after the leading dot is dropped */
		ok(text);
		ck_assert_uint_eq(strlen(conf->rules[0].domain), 63);
	}
	bad("address=/caf\xc3\xa9.example/1.1.1.1\n", 1, "non-ASCII", NULL);
	bad("address=/a/ b/1.1.1.1\n", 1, "space after '/'", NULL);
}
END_TEST

START_TEST(test_address_space_quirk)
{
	/* dnsmasq turns the space before '/' into an empty (dotless) domain. */
	log_set_level(LOG_LEVEL_WARN);
	ok("address=/a /b/10.0.0.1\n");
	log_set_level(LOG_LEVEL_ERROR);
	ck_assert_uint_eq(conf->nrules, 3);
	rule_is(0, DNSCONF_ACT_ADDR4, "a", false, false);
	rule_is(1, DNSCONF_ACT_ADDR4, "", false, true);
	rule_is(2, DNSCONF_ACT_ADDR4, "b", false, false);
	ck_assert_ptr_nonnull(strstr(log_text(), "names without a dot"));
}
END_TEST

START_TEST(test_server_forms)
{
	const struct sockaddr_in6 *s6;
	const struct sockaddr_in *src;

	ok("server=1.1.1.1\n"
	    "server=9.9.9.9#5353\n"
	    "server=/corp.example/10.0.0.53\n"
	    "server=/corp.example/#\n"
	    "server=/nx.example/\n"
	    "server=//192.168.1.1\n"
	    "local=/lan/\n"
	    "server=10.0.0.1@eth0\n"
	    "server=10.0.0.2@192.168.0.2#1053\n"
	    "server=10.0.0.3@eth1@192.168.0.3\n"
	    "server=::1#54@::1\n"
	    "server=fe80::1%lo\n"
	    "server=1.1.1.1#\n"
	    "local=9.9.9.9\n");
	ck_assert_uint_eq(conf->nrules, 14);
	rule_is(0, DNSCONF_ACT_FORWARD, "", false, false);
	ck_assert_str_eq(upstream_str(&conf->rules[0].upstream), "1.1.1.1:53");
	ck_assert_int_eq(conf->rules[0].src, DNSCONF_SRC_SERVER);
	ck_assert_int_eq(conf->rules[0].upstream.has_source, false);
	ck_assert_str_eq(upstream_str(&conf->rules[1].upstream), "9.9.9.9:5353");
	rule_is(2, DNSCONF_ACT_FORWARD, "corp.example", false, false);
	ck_assert_str_eq(upstream_str(&conf->rules[2].upstream), "10.0.0.53:53");
	rule_is(3, DNSCONF_ACT_RESOLV, "corp.example", false, false);
	rule_is(4, DNSCONF_ACT_LOCAL, "nx.example", false, false);
	rule_is(5, DNSCONF_ACT_FORWARD, "", false, true);
	rule_is(6, DNSCONF_ACT_LOCAL, "lan", false, false);
	ck_assert_int_eq(conf->rules[6].src, DNSCONF_SRC_LOCAL);
	ck_assert_str_eq(conf->rules[7].upstream.interface, "eth0");
	ck_assert_int_eq(conf->rules[7].upstream.has_source, true);
	src = (const struct sockaddr_in *)&conf->rules[8].upstream.source;
	ck_assert_str_eq(ntop(AF_INET, &src->sin_addr), "192.168.0.2");
	ck_assert_uint_eq(ntohs(src->sin_port), 1053);
	ck_assert_str_eq(conf->rules[8].upstream.interface, "");
	ck_assert_str_eq(conf->rules[9].upstream.interface, "eth1");
	src = (const struct sockaddr_in *)&conf->rules[9].upstream.source;
	ck_assert_str_eq(ntop(AF_INET, &src->sin_addr), "192.168.0.3");
	ck_assert_str_eq(upstream_str(&conf->rules[10].upstream), "[::1]:54");
	s6 = (const struct sockaddr_in6 *)&conf->rules[11].upstream.addr;
	ck_assert_uint_eq(s6->sin6_scope_id, if_nametoindex("lo"));
	ck_assert_uint_eq(conf->rules[11].upstream.addrlen, sizeof(*s6));
	ck_assert_str_eq(upstream_str(&conf->rules[12].upstream), "1.1.1.1:0");
	rule_is(13, DNSCONF_ACT_FORWARD, "", false, false);
	/* "/#/" is every name for server= and local= too, as dnsmasq 2.90 answers. */
	ok("server=/#/10.0.0.1\nlocal=/#/\nserver=/a/#/\n");
	ck_assert_uint_eq(conf->nrules, 4);
	rule_is(0, DNSCONF_ACT_FORWARD, "", false, false);
	rule_is(1, DNSCONF_ACT_LOCAL, "", false, false);
	rule_is(2, DNSCONF_ACT_LOCAL, "a", false, false);
	rule_is(3, DNSCONF_ACT_LOCAL, "", false, false);
	ok("server=/#x/10.0.0.1\n");
	rule_is(0, DNSCONF_ACT_FORWARD, "#x", false, false);
	for (size_t i = 1; i < conf->nrules; i++)
		ck_assert_uint_gt(conf->rules[i].seq, conf->rules[i - 1].seq);
	bad("server=dns.google\n", 1, "bad server address \"dns.google\"",
	    "does not resolve host names", NULL);
	bad("server=1.1.1.1#65536\n", 1, "bad port \"65536\"", NULL);
	bad("server=1.1.1.1@::1\n", 1, "IPv4 server address with IPv6 source", NULL);
	bad("server=::1@1.2.3.4\n", 1, "IPv6 server address with IPv4 source", NULL);
	bad("server=1.1.1.1@eth0@eth1\n", 1, "interface can only be specified once", NULL);
	bad("server=fe80::1%nosuchif0\n", 1, "no such interface", NULL);
	bad("server=1.1.1.1@averyverylonginterfacename\n", 1, "at most 15", NULL);
	bad("local=/a/b\n", 1, "local=/a/b", NULL);
}
END_TEST

START_TEST(test_rule_order)
{
	ok("server=/a/1.1.1.1\naddress=/a/10.0.0.1\nlocal=/b/\nrev-server=10.0.0.0/8,2.2.2.2\n"
	    "address=/a/10.0.0.2\n");
	ck_assert_uint_eq(conf->nrules, 5);
	ck_assert_int_eq(conf->rules[0].src, DNSCONF_SRC_SERVER);
	ck_assert_int_eq(conf->rules[1].src, DNSCONF_SRC_ADDRESS);
	ck_assert_int_eq(conf->rules[2].src, DNSCONF_SRC_LOCAL);
	ck_assert_int_eq(conf->rules[3].src, DNSCONF_SRC_REV_SERVER);
	ck_assert_str_eq(conf->rules[3].domain, "10.in-addr.arpa");
	ck_assert_str_eq(ntop(AF_INET, &conf->rules[4].addr.u.v4), "10.0.0.2");
	for (size_t i = 0; i < conf->nrules; i++)
		ck_assert_uint_eq(conf->rules[i].origin.line, i + 1);
}
END_TEST

/* --- rev-server ------------------------------------------------------------------------ */

/* Loads "rev-server=spec" and checks the zones, in order. */
static void
rev_is(const char *spec, const char *const *zones, size_t n)
{
	char text[256];

	ck_assert(util_snprintf(text, sizeof(text), "rev-server=%s\n", spec));
	ok(text);
	ck_assert_msg(conf->nrules == n, "%s: %zu zones", spec, conf->nrules);
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_eq(conf->rules[i].domain, zones[i]);
		ck_assert_int_eq(conf->rules[i].src, DNSCONF_SRC_REV_SERVER);
	}
}

START_TEST(test_rev_server)
{
	static const char *const z24[] = { "3.2.1.in-addr.arpa" };
	static const char *const z32[] = { "4.3.2.1.in-addr.arpa" };
	static const char *const z8[] = { "10.in-addr.arpa" };
	static const char *const z23[] = { "2.2.1.in-addr.arpa", "3.2.1.in-addr.arpa" };
	static const char *const z12[] = { "16.172.in-addr.arpa", "17.172.in-addr.arpa",
	    "18.172.in-addr.arpa", "19.172.in-addr.arpa", "20.172.in-addr.arpa",
	    "21.172.in-addr.arpa", "22.172.in-addr.arpa", "23.172.in-addr.arpa",
	    "24.172.in-addr.arpa", "25.172.in-addr.arpa", "26.172.in-addr.arpa",
	    "27.172.in-addr.arpa", "28.172.in-addr.arpa", "29.172.in-addr.arpa",
	    "30.172.in-addr.arpa", "31.172.in-addr.arpa" };
	static const char *const z6[] = { "0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa" };
	static const char *const z7[] = { "c.f.ip6.arpa", "d.f.ip6.arpa" };
	static const char *const z62[] = { "4.3.2.1.ip6.arpa", "5.3.2.1.ip6.arpa",
	    "6.3.2.1.ip6.arpa", "7.3.2.1.ip6.arpa" };

	rev_is("1.2.3.0/24,10.0.0.1", z24, 1);
	ck_assert_int_eq(conf->rules[0].action, DNSCONF_ACT_FORWARD);
	ck_assert_str_eq(upstream_str(&conf->rules[0].upstream), "10.0.0.1:53");
	rev_is("1.2.3.4", z32, 1);
	ck_assert_int_eq(conf->rules[0].action, DNSCONF_ACT_LOCAL);
	rev_is("10.9.8.7/8,#", z8, 1);
	ck_assert_int_eq(conf->rules[0].action, DNSCONF_ACT_RESOLV);
	/* The host bits of the last printed octet are cleared. */
	rev_is("1.2.3.77/23,10.0.0.1#5353", z23, 2);
	ck_assert_str_eq(upstream_str(&conf->rules[1].upstream), "10.0.0.1:5353");
	rev_is("172.16.0.0/12", z12, 16);
	ck_assert_uint_eq(conf->rules[0].seq, conf->rules[15].seq);
	/* A prefix that is not a number means the full address, as in dnsmasq. */
	rev_is("1.2.3.4/x", z32, 1);
	rev_is("2001:db8::/48,::1", z6, 1);
	rev_is("fc00::/7", z7, 2);
	rev_is("1234::/14", z62, 4);
	bad("rev-server=1.2.3.0/33,1.1.1.1\n", 1, "bad IPv4 prefix length", NULL);
	bad("rev-server=1.2.3.0/0\n", 1, "bad prefix length \"0\"", NULL);
	bad("rev-server=::/129\n", 1, "bad IPv6 prefix length", NULL);
	bad("rev-server=1.2.3\n", 1, "bad address \"1.2.3\" in rev-server=1.2.3", NULL);
	bad("rev-server=1.2.3.0/24,\n", 1, "bad server address", NULL);
}
END_TEST

/* --- flags, lists and numbers ---------------------------------------------------------- */

START_TEST(test_flags)
{
	ok("domain-needed\nbogus-priv\nno-resolv\nstrict-order\nall-servers\nno-hosts\n"
	    "expand-hosts\nno-negcache\nkeep-in-foreground\nno-daemon\n");
	ck_assert(conf->domain_needed && conf->bogus_priv && conf->no_resolv &&
	    conf->strict_order && conf->all_servers && conf->no_hosts && conf->expand_hosts &&
	    conf->no_negcache && conf->keep_in_foreground && conf->no_daemon);
	bad("domain-needed=1\n", 1, "\"domain-needed\" takes no value", NULL);
	bad("no-resolv=\n", 1, "\"no-resolv\" takes no value", NULL);
	bad("strict-order=x\n", 1, "strict-order", NULL);
	bad("all-servers=x\n", 1, "all-servers", NULL);
	bad("no-hosts=x\n", 1, "no-hosts", NULL);
	bad("expand-hosts=x\n", 1, "expand-hosts", NULL);
	bad("no-negcache=x\n", 1, "no-negcache", NULL);
	bad("keep-in-foreground=x\n", 1, "keep-in-foreground", NULL);
	bad("no-daemon=x\n", 1, "no-daemon", NULL);
	bad("bogus-priv=x\n", 1, "bogus-priv", NULL);
}
END_TEST

START_TEST(test_resolv_and_hosts_files)
{
	ok("resolv-file=/run/a.conf\nresolv-file=/run/b.conf\naddn-hosts=/etc/h1\n"
	    "addn-hosts=/etc/hosts.d\n");
	ck_assert_uint_eq(conf->nresolv_files, 2);
	ck_assert_str_eq(conf->resolv_files[0], "/run/a.conf");
	ck_assert_str_eq(conf->resolv_files[1], "/run/b.conf");
	ck_assert_uint_eq(conf->naddn_hosts, 2);
	ck_assert_str_eq(conf->addn_hosts[1], "/etc/hosts.d");
	/* An empty first resolv-file leaves none; a later one adds. */
	ok("resolv-file=\n");
	ck_assert_uint_eq(conf->nresolv_files, 0);
	ok("resolv-file\nresolv-file=/x\n");
	ck_assert_uint_eq(conf->nresolv_files, 1);
	ck_assert_str_eq(conf->resolv_files[0], "/x");
	bad("addn-hosts=\n", 1, "addn-hosts=", "file or directory", NULL);
	bad("addn-hosts\n", 1, "\"addn-hosts\" needs a value", NULL);
}
END_TEST

START_TEST(test_numbers)
{
	ok("cache-size=10000000\nneg-ttl=60\nlocal-ttl=5\nmax-ttl=300\nmin-cache-ttl=99999\n"
	    "max-cache-ttl=600\nedns-packet-max=100\ndns-forward-max=1000\nquery-port=0\n");
	ck_assert_uint_eq(conf->cache_size, 5000000);
	ck_assert_uint_eq(conf->neg_ttl, 60);
	ck_assert_uint_eq(conf->local_ttl, 5);
	ck_assert_uint_eq(conf->max_ttl, 300);
	ck_assert_uint_eq(conf->min_cache_ttl, 3600);
	ck_assert_uint_eq(conf->max_cache_ttl, 600);
	ck_assert_uint_eq(conf->edns_packet_max, 512);
	ck_assert_uint_eq(conf->dns_forward_max, 1000);
	ck_assert_int_eq(conf->query_port_set, true);
	ck_assert_uint_eq(conf->query_port, 0);
	ok("cache-size=0\nedns-packet-max=4096\nquery-port=5300\n");
	ck_assert_uint_eq(conf->cache_size, 0);
	ck_assert_uint_eq(conf->edns_packet_max, 4096);
	ck_assert_uint_eq(conf->query_port, 5300);
	bad("cache-size\n", 1, "cache-size", "a number is required", NULL);
	bad("cache-size=-1\n", 1, "cache-size=-1", NULL);
	bad("neg-ttl=x\n", 1, "neg-ttl=x", NULL);
	bad("local-ttl=1.5\n", 1, "local-ttl=1.5", NULL);
	bad("max-ttl=-5\n", 1, "max-ttl=-5", NULL);
	bad("min-cache-ttl=1h\n", 1, "min-cache-ttl=1h", NULL);
	bad("max-cache-ttl=99999999999\n", 1, "number too large", NULL);
	bad("edns-packet-max=70000\n", 1, "edns-packet-max=70000", "at most 65535", NULL);
	bad("dns-forward-max=many\n", 1, "dns-forward-max=many", NULL);
	bad("query-port=65536\n", 1, "query-port=65536", NULL);
	bad("local-ttl=1\nlocal-ttl=2\n", 2, "\"local-ttl\" given twice", NULL);
}
END_TEST

START_TEST(test_logging_and_process)
{
	ok("log-queries\n");
	ck_assert_int_eq(conf->log_queries, true);
	ck_assert_int_eq(conf->log_queries_extra, false);
	ck_assert_ptr_null(conf->log_queries_arg);
	ok("log-queries=extra\nlog-queries\n");
	ck_assert_int_eq(conf->log_queries_extra, true);
	/* dnsmasq compares the value before unquoting it. */
	ok("log-queries=\"extra\"\n");
	ck_assert_int_eq(conf->log_queries_extra, false);
	ck_assert_str_eq(conf->log_queries_arg, "extra");
	ok("user=dnsmasq\ngroup=dnsmasq\npid-file=/run/zt-dns.pid\n");
	ck_assert_str_eq(conf->user, "dnsmasq");
	ck_assert_str_eq(conf->group, "dnsmasq");
	ck_assert_int_eq(conf->group_set, true);
	ck_assert_str_eq(conf->pid_file, "/run/zt-dns.pid");
	ok("user=\ngroup\npid-file=\n");
	ck_assert_ptr_null(conf->user);
	ck_assert_ptr_null(conf->group);
	ck_assert_int_eq(conf->group_set, true);
	ck_assert_ptr_null(conf->pid_file);
	bad("user=a\nuser=b\n", 2, "\"user\" given twice", NULL);
	bad("group=a\ngroup=b\n", 2, "\"group\" given twice", NULL);
	bad("pid-file=a\npid-file=b\n", 2, "\"pid-file\" given twice", NULL);
	bad("log-queries=extra=1\nfoo\n", 2, "unknown option \"foo\"", NULL);
}
END_TEST

/* --- local data ------------------------------------------------------------------------ */

START_TEST(test_domain)
{
	ok("domain=Lan.Example\ndomain=home,192.168.7.0/24,local\n"
	    "domain=guest,10.1.0.10,10.1.0.20,local\ndomain=wg,wg0\ndomain=v6,fd00::/64\n");
	ck_assert_str_eq(conf->domain_suffix, "lan.example");
	ck_assert_uint_eq(conf->ndomains, 5);
	ck_assert_int_eq(conf->domains[0].kind, DNSCONF_DOM_PLAIN);
	ck_assert_int_eq(conf->domains[1].kind, DNSCONF_DOM_RANGE);
	ck_assert_int_eq(conf->domains[1].prefixlen, 24);
	ck_assert_int_eq(conf->domains[1].local, true);
	ck_assert_str_eq(ntop(AF_INET, &conf->domains[1].end.u.v4), "192.168.7.255");
	/* ",local" after a start,end range is ignored by dnsmasq. */
	ck_assert_int_eq(conf->domains[2].local, false);
	ck_assert_str_eq(ntop(AF_INET, &conf->domains[2].end.u.v4), "10.1.0.20");
	ck_assert_int_eq(conf->domains[3].kind, DNSCONF_DOM_INTERFACE);
	ck_assert_str_eq(conf->domains[3].interface, "wg0");
	ck_assert_str_eq(ntop(AF_INET6, &conf->domains[4].end.u.v6),
	    "fd00::ffff:ffff:ffff:ffff");
	/* local adds local=/7.168.192.in-addr.arpa/ and local=/home/. */
	ck_assert_uint_eq(conf->nrules, 2);
	rule_is(0, DNSCONF_ACT_LOCAL, "7.168.192.in-addr.arpa", false, false);
	rule_is(1, DNSCONF_ACT_LOCAL, "home", false, false);
	ck_assert_int_eq(conf->rules[1].src, DNSCONF_SRC_DOMAIN);
	{
		struct dnsconf_addr a = { .family = AF_INET };

		inet_pton(AF_INET, "10.1.0.15", &a.u.v4);
		ck_assert_str_eq(dnsconf_domain_for(conf, &a), "guest");
		inet_pton(AF_INET, "8.8.8.8", &a.u.v4);
		ck_assert_str_eq(dnsconf_domain_for(conf, &a), "lan.example");
	}
	ok("domain-suffix=a\ndomain=b\n");
	ck_assert_str_eq(conf->domain_suffix, "b");
	bad("domain=x,192.168.0.0/24,lokal\n", 1, "bad range option \"lokal\"", NULL);
	bad("domain=x,192.168.0.0/33\n", 1, "bad prefix length \"33\"", NULL);
	bad("domain=x,10.0.0.1,::1\n", 1, "bad range end \"::1\"", NULL);
	bad("domain=-X\n", 1, "bad domain \"-X\"", NULL);
}
END_TEST

START_TEST(test_domain_from_resolv)
{
	char path[PATH_MAX];

	put_file("resolv.conf", "nameserver 10.0.0.1\nsearch Corp.Example other\n", path,
	    sizeof(path));
	ok("domain=#\nsrv-host=_ldap._tcp,dc1\n");
	ck_assert_str_eq(conf->domain_suffix, "corp.example");
	ck_assert_str_eq(conf->srvs[0].name, "_ldap._tcp.corp.example");
	bad("domain=#\nno-resolv\n", 1, "exactly one resolv.conf", NULL);
	/* A plain domain= given anywhere is replaced by the search domain. */
	ok("domain=plain\ndomain=#\n");
	ck_assert_str_eq(conf->domain_suffix, "corp.example");
	put_file("resolv.conf", "nameserver 10.0.0.1\n", path, sizeof(path));
	bad("domain=#\n", 1, "no search directive", NULL);
	/* ... and kept when there is no search line. */
	ok("domain=#\ndomain=plain\n");
	ck_assert_str_eq(conf->domain_suffix, "plain");
	bad("domain=#\ndomain=x,10.0.0.0/8\n", 1, "no search directive", NULL);
	bad("domain=#\nresolv-file=/nonexistent/resolv.conf\n", 1, "cannot read", NULL);
}
END_TEST

START_TEST(test_host_record)
{
	ok("local-ttl=7\nhost-record=a.lan,b.lan,10.0.0.1,fd00::1\n"
	    "host-record=c.lan,300,10.0.0.2\nhost-record=,\n");
	ck_assert_uint_eq(conf->nhost_records, 3);
	ck_assert_uint_eq(conf->host_records[0].nnames, 2);
	ck_assert_str_eq(conf->host_records[0].names[1], "b.lan");
	ck_assert(conf->host_records[0].has_v4 && conf->host_records[0].has_v6);
	ck_assert_str_eq(ntop(AF_INET6, &conf->host_records[0].v6), "fd00::1");
	ck_assert_uint_eq(conf->host_records[0].ttl, 7);
	ck_assert_int_eq(conf->host_records[0].ttl_given, false);
	ck_assert_uint_eq(conf->host_records[1].ttl, 300);
	ck_assert_int_eq(conf->host_records[1].has_v6, false);
	/* dnsmasq takes an empty field for a TTL of 0. */
	ck_assert_uint_eq(conf->host_records[2].nnames, 0);
	ck_assert_int_eq(conf->host_records[2].ttl_given, true);
	bad("host-record=a\n", 1, "host-record=a", "needs a name and an address", NULL);
	bad("host-record=a,1.2.3.4,-x\nhost-record=b,1.2.3.4,A-\n", 2, "bad name \"A-\"", NULL);
}
END_TEST

START_TEST(test_cname)
{
	ok("local-ttl=9\ncname=www.lan,web.lan,host.lan,60\ncname=a.lan,b.lan\n"
	    "cname=n.lan,300\n");
	ck_assert_uint_eq(conf->ncnames, 4);
	ck_assert_str_eq(conf->cnames[0].alias, "www.lan");
	ck_assert_str_eq(conf->cnames[1].alias, "web.lan");
	ck_assert_str_eq(conf->cnames[1].target, "host.lan");
	ck_assert_uint_eq(conf->cnames[1].ttl, 60);
	ck_assert_uint_eq(conf->cnames[2].ttl, 9);
	ck_assert_int_eq(conf->cnames[2].ttl_given, false);
	/* With two fields the second is the target even when numeric. */
	ck_assert_str_eq(conf->cnames[3].target, "300");
	bad("cname=a.lan,x.lan\ncname=A.LAN,y.lan\n", 2, "bad alias \"a.lan\"",
	    "duplicate CNAME", "first defined at", NULL);
	bad("cname=a,b\ncname=b,a\n", 2, "CNAME loop involving \"b\"", NULL);
	bad("cname=a\n", 1, "cname=a", "needs an alias and a target", NULL);
	bad("cname=-A,b\n", 1, "bad alias \"-A\"", NULL);
	/* dnsmasq's empty alias from a space before a comma collides with the next one. */
	bad("cname=a ,b\ncname=c ,d\n", 2, "duplicate CNAME", NULL);
}
END_TEST

START_TEST(test_txt_record)
{
	char text[400];

	ok("txt-record=a.lan\ntxt-record=b.lan,one,,three\n");
	ck_assert_uint_eq(conf->txts[0].rdlen, 1);
	ck_assert_uint_eq(conf->txts[0].rdata[0], 0);
	ck_assert_uint_eq(conf->txts[1].rdlen, 4 + 1 + 6);
	ck_assert_mem_eq(conf->txts[1].rdata, "\003one\000\005three", 11);
	memcpy(text, "txt-record=long,", 16);
	memset(text + 16, 'z', 300);
	memcpy(text + 316, "\n", 2);
	ok(text);
	ck_assert_uint_eq(conf->txts[0].rdlen, 1 + 255 + 1 + 45);
	ck_assert_uint_eq(conf->txts[0].rdata[0], 255);
	ck_assert_uint_eq(conf->txts[0].rdata[256], 45);
	bad("txt-record=A-,x\n", 1, "bad name \"A-\"", "txt-record=A-,x", NULL);
}
END_TEST

START_TEST(test_srv_host)
{
	ok("domain=example.com\nsrv-host=_http._tcp,web.example.com\n"
	    "srv-host=_x._udp.other.com,t.other.com,5000,10,20\nsrv-host=_none._tcp.a.b\n");
	ck_assert_str_eq(conf->srvs[0].name, "_http._tcp.example.com");
	ck_assert_uint_eq(conf->srvs[0].port, 1);
	ck_assert_uint_eq(conf->srvs[0].prio, 0);
	ck_assert_uint_eq(conf->srvs[0].weight, 0);
	ck_assert_str_eq(conf->srvs[1].name, "_x._udp.other.com");
	ck_assert_uint_eq(conf->srvs[1].port, 5000);
	ck_assert_uint_eq(conf->srvs[1].prio, 10);
	ck_assert_uint_eq(conf->srvs[1].weight, 20);
	ck_assert_ptr_null(conf->srvs[2].target);
	/* Without a domain= the name stays as written. */
	ok("srv-host=_http._tcp,web\n");
	ck_assert_str_eq(conf->srvs[0].name, "_http._tcp");
	bad("srv-host=a,b,65536\n", 1, "bad port \"65536\"", NULL);
	bad("srv-host=a,b,1,x\n", 1, "bad priority \"x\"", NULL);
	bad("srv-host=a,b,1,2,3,4\n", 1, "bad weight \"3,4\"", NULL);
	bad("srv-host=a,-B\n", 1, "bad SRV target", NULL);
}
END_TEST

START_TEST(test_mx_host)
{
	ok("mx-host=example.com\nmx-host=example.com,mail.example.com\n"
	    "mx-host=example.com,mx2.example.com,20\nmx-host=m.test,5\n");
	ck_assert_ptr_null(conf->mxs[0].target);
	ck_assert_uint_eq(conf->mxs[0].pref, 1);
	ck_assert_str_eq(conf->mxs[1].target, "mail.example.com");
	ck_assert_uint_eq(conf->mxs[1].pref, 1);
	ck_assert_uint_eq(conf->mxs[2].pref, 20);
	/* dnsmasq 2.90 reads the second field as the host, not the preference. */
	ck_assert_str_eq(conf->mxs[3].target, "5");
	ck_assert_uint_eq(conf->mxs[3].pref, 1);
	bad("mx-host=a,b,70000\n", 1, "bad MX preference \"70000\"", NULL);
	bad("mx-host=a,b,5,6\n", 1, "bad MX preference \"5,6\"", NULL);
	bad("mx-host=-A\n", 1, "bad MX name", NULL);
}
END_TEST

START_TEST(test_ptr_record)
{
	ok("ptr-record=1.0.0.10.in-addr.arpa,host.lan\nptr-record=_svc._tcp.lan\n");
	ck_assert_str_eq(conf->ptrs[0].name, "1.0.0.10.in-addr.arpa");
	ck_assert_str_eq(conf->ptrs[0].target, "host.lan");
	ck_assert_ptr_null(conf->ptrs[1].target);
	bad("ptr-record=x,A.-B\n", 1, "bad target \"A.-B\"", NULL);
	bad("ptr-record=\" \"\n", 1, "bad name \" \"", NULL);
}
END_TEST

/* --- files ----------------------------------------------------------------------------- */

START_TEST(test_conf_file_include)
{
	char a[PATH_MAX], b[PATH_MAX], text[2 * PATH_MAX + 64];

	put_file("b.conf", "server=2.2.2.2\n", b, sizeof(b));
	put_file("a.conf", "", a, sizeof(a));
	ck_assert(util_snprintf(text, sizeof(text), "server=1.1.1.1\nconf-file=%s\nconf-file=%s\n"
	    "server=4.4.4.4\n", b, b));
	put_file("a.conf", text, a, sizeof(a));
	{
		char *argv[] = { "serve", "-C", a, NULL };

		ck_assert_int_eq(load_argv(3, argv, NULL, NULL), 0);
	}
	ck_assert_uint_eq(conf->nrules, 3);
	ck_assert_str_eq(upstream_str(&conf->rules[1].upstream), "2.2.2.2:53");
	ck_assert_ptr_nonnull(strstr(conf->rules[1].origin.file, "b.conf"));
	ck_assert_uint_eq(conf->nfiles_read, 2);
	/* Including oneself is harmless: a file is read once. */
	ck_assert(util_snprintf(text, sizeof(text), "conf-file=%s\nport=1\n", a));
	put_file("a.conf", text, a, sizeof(a));
	{
		char *argv[] = { "serve", "-C", a, NULL };

		ck_assert_int_eq(load_argv(3, argv, NULL, NULL), 0);
		ck_assert_uint_eq(conf->port, 1);
	}
	bad("conf-file=/nonexistent/zt.conf\n", 1, "cannot read \"/nonexistent/zt.conf\"", NULL);
}
END_TEST

START_TEST(test_conf_dir)
{
	char dir[PATH_MAX], p[PATH_MAX], text[PATH_MAX + 64];

	ck_assert(util_snprintf(dir, sizeof(dir), "%s/d", tmpdir));
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	put_file("d/20.conf", "server=2.2.2.2\n", p, sizeof(p));
	put_file("d/10.conf", "server=1.1.1.1\n", p, sizeof(p));
	put_file("d/30.bak", "server=3.3.3.3\n", p, sizeof(p));
	put_file("d/40.conf~", "junk\n", p, sizeof(p));
	put_file("d/.hidden", "junk\n", p, sizeof(p));
	put_file("d/#50.conf#", "junk\n", p, sizeof(p));
	put_file("d/60", "server=6.6.6.6\n", p, sizeof(p));
	ck_assert(util_snprintf(p, sizeof(p), "%s/d/sub", tmpdir));
	ck_assert_int_eq(mkdir(p, 0700), 0);

	ck_assert(util_snprintf(text, sizeof(text), "conf-dir=%s,.bak\n", dir));
	ok(text);
	ck_assert_uint_eq(conf->nrules, 3);
	ck_assert_str_eq(upstream_str(&conf->rules[0].upstream), "1.1.1.1:53");
	ck_assert_str_eq(upstream_str(&conf->rules[1].upstream), "2.2.2.2:53");
	ck_assert_str_eq(upstream_str(&conf->rules[2].upstream), "6.6.6.6:53");
	ck_assert(util_snprintf(text, sizeof(text), "conf-dir=%s,*.conf\n", dir));
	ok(text);
	ck_assert_uint_eq(conf->nrules, 2);
	/* An excluded suffix must be shorter than the name. */
	ck_assert(util_snprintf(text, sizeof(text), "conf-dir=%s,*.conf,20.conf\n", dir));
	ok(text);
	ck_assert_uint_eq(conf->nrules, 2);
	ck_assert(util_snprintf(text, sizeof(text), "conf-dir=%s,*.conf,0.conf\n", dir));
	ok(text);
	ck_assert_uint_eq(conf->nrules, 0);
	ck_assert(util_snprintf(text, sizeof(text), "conf-dir=%s,*\n", dir));
	ok(text);
	ck_assert_uint_eq(conf->nrules, 4);
	ok("conf-dir=\n");
	ck_assert_uint_eq(conf->nrules, 0);
	bad("conf-dir=/nonexistent/zt.d\n", 1, "cannot access directory", NULL);
	put_file("d/70.conf", "dhcp-range=1,2\n", p, sizeof(p));
	ck_assert(util_snprintf(text, sizeof(text), "conf-dir=%s,*.conf\n", dir));
	ck_assert_int_eq(load(text), -1);
	ck_assert_ptr_nonnull(strstr(log_text(), "d/70.conf:1: option \"dhcp-range\""));
}
END_TEST

START_TEST(test_default_conf)
{
	char def[PATH_MAX], other[PATH_MAX], missing[PATH_MAX];
	char *argv[] = { "serve", NULL };

	put_file("dnsmasq.conf", "port=5300\n", def, sizeof(def));
	ck_assert_int_eq(load_argv(1, argv, NULL, def), 0);
	ck_assert_uint_eq(conf->port, 5300);
	ck_assert_uint_eq(conf->nfiles_read, 1);
	/* Its absence is not an error. */
	ck_assert(util_snprintf(missing, sizeof(missing), "%s/none.conf", tmpdir));
	ck_assert_int_eq(load_argv(1, argv, NULL, missing), 0);
	ck_assert_uint_eq(conf->nfiles_read, 0);
	/* -C replaces it. */
	put_file("other.conf", "port=5400\n", other, sizeof(other));
	{
		char *av[] = { "serve", "-C", other, NULL };

		ck_assert_int_eq(load_argv(3, av, NULL, def), 0);
		ck_assert_uint_eq(conf->port, 5400);
		ck_assert_uint_eq(conf->nfiles_read, 1);
	}
	/* An explicit -C that is missing is an error. */
	{
		char *av[] = { "serve", "-C", missing, NULL };

		ck_assert_int_eq(load_argv(3, av, NULL, def), -1);
		ck_assert_ptr_nonnull(strstr(log_text(), "cannot read"));
	}
}
END_TEST

START_TEST(test_stdin_conf)
{
	struct dnsconf_params p;
	FILE *in = tmpfile();
	char *argv[] = { "serve", "-C", "-", "--conf-file=-", NULL };

	ck_assert_ptr_nonnull(in);
	fputs("server=1.1.1.1\n", in);
	rewind(in);
	memset(&p, 0, sizeof(p));
	p.stdin_fp = in;
	ck_assert_int_eq(dnsconf_load(&p, 4, argv, &conf), 0);
	ck_assert_uint_eq(conf->nrules, 1);
	ck_assert_str_eq(conf->rules[0].origin.file, "stdin");
	fclose(in);
}
END_TEST

/* --- the command line ------------------------------------------------------------------ */

START_TEST(test_cmdline_forms)
{
	char *argv[] = { "serve", "--conf-file=/dev/null", "--port=5353", "--server",
	    "1.1.1.1", "-S", "/lan/10.0.0.1", "-A/x/10.0.0.2", "-dq", "-b", "-DR", "-p53",
	    "--no-resol", "--address", "/y/#", "-7", "", "--interface=lo", "-i", "eth0",
	    "-a127.0.0.1", "-z", "-T", "5", "--domain-s=lan", "-s", "x", "-c0", "-P", "4096",
	    "-Q", "5300", "-0", "10", "-u", "u", "-g", "g", "-x", "/p", "-h", "-H", "/h", "-E",
	    "-N", "-o", "-k", "-I", "eth1", "-r", "/r", "-m", "m", "-W", "s", "-Y", "t", "-C",
	    "/dev/null", "   ", NULL };

	ck_assert_int_eq(load_argv((int)nitems(argv) - 1, argv, NULL, NULL), -1);
	ck_assert_ptr_nonnull(strstr(log_text(), "command line: option --port given twice"));
	argv[11] = "-l";	/* -p53 repeats --port; -l is dnsmasq's dhcp-leasefile */
	ck_assert_int_eq(load_argv((int)nitems(argv) - 1, argv, NULL, NULL), -1);
	ck_assert_ptr_nonnull(strstr(log_text(), "\"--dhcp-leasefile\" is not supported"));
	argv[11] = "-e";
	ck_assert_int_eq(load_argv((int)nitems(argv) - 1, argv, NULL, NULL), -1);
	ck_assert_ptr_nonnull(strstr(log_text(), "\"--selfmx\" is not supported"));
	argv[11] = "-k";
	ck_assert_int_eq(load_argv((int)nitems(argv) - 1, argv, NULL, NULL), 0);
	ck_assert_uint_eq(conf->port, 5353);
	ck_assert_uint_eq(conf->nrules, 4);
	ck_assert_str_eq(upstream_str(&conf->rules[0].upstream), "1.1.1.1:53");
	rule_is(1, DNSCONF_ACT_FORWARD, "lan", false, false);
	rule_is(2, DNSCONF_ACT_ADDR4, "x", false, false);
	rule_is(3, DNSCONF_ACT_ZEROS, "y", false, false);
	ck_assert_str_eq(conf->rules[0].origin.file, "command line");
	ck_assert_uint_eq(conf->rules[0].origin.line, 0);
	ck_assert(conf->no_daemon && conf->log_queries && conf->bogus_priv &&
	    conf->domain_needed && conf->no_resolv && conf->bind_interfaces && conf->no_hosts &&
	    conf->expand_hosts && conf->no_negcache && conf->strict_order &&
	    conf->keep_in_foreground);
	ck_assert_uint_eq(conf->ninterfaces, 2);
	ck_assert_uint_eq(conf->nlisten_addrs, 1);
	ck_assert_uint_eq(conf->local_ttl, 5);
	ck_assert_str_eq(conf->domain_suffix, "x");
	ck_assert_uint_eq(conf->cache_size, 0);
	ck_assert_uint_eq(conf->edns_packet_max, 4096);
	ck_assert_uint_eq(conf->query_port, 5300);
	ck_assert_uint_eq(conf->dns_forward_max, 10);
	ck_assert_str_eq(conf->user, "u");
	ck_assert_str_eq(conf->group, "g");
	ck_assert_str_eq(conf->pid_file, "/p");
	ck_assert_uint_eq(conf->naddn_hosts, 1);
	ck_assert_uint_eq(conf->nexcept_interfaces, 1);
	ck_assert_str_eq(conf->resolv_files[0], "/r");
	ck_assert_uint_eq(conf->nmxs, 1);
	ck_assert_uint_eq(conf->nsrvs, 1);
	ck_assert_uint_eq(conf->ntxts, 1);
	/* Command-line values are not unquoted. */
	{
		char *av[] = { "serve", "-C", "/dev/null", "--txt-record=a,\"b,c\"", NULL };

		ck_assert_int_eq(load_argv(4, av, NULL, NULL), 0);
		ck_assert_mem_eq(conf->txts[0].rdata, "\002\"b\002c\"", 6);
	}
}
END_TEST

START_TEST(test_cmdline_errors)
{
	char *a1[] = { "serve", "--adress=/a/10.0.0.1", NULL };
	char *a2[] = { "serve", "--serv=1.1.1.1", NULL };
	char *a3[] = { "serve", "--port", NULL };
	char *a4[] = { "serve", "--user", "nobody", NULL };
	char *a5[] = { "serve", "--bogus-priv=yes", NULL };
	char *a6[] = { "serve", "-F", "10.0.0.2,10.0.0.9", NULL };
	char *a7[] = { "serve", "--", "--port=5", NULL };
	char *a8[] = { "serve", "-j", NULL };
	char *a9[] = { "serve", "--test", NULL };
	char *a10[] = { "serve", "--port=5x", NULL };

	ck_assert_int_eq(load_argv(2, a1, NULL, NULL), -1);
	ck_assert_ptr_nonnull(strstr(log_text(),
	    "command line: unknown option \"--adress\"; did you mean \"--address\"?"));
	ck_assert_int_eq(load_argv(2, a2, NULL, NULL), -1);
	ck_assert_ptr_nonnull(strstr(log_text(),
	    "\"--serv\" is ambiguous (--server, --servers-file)"));
	ck_assert_int_eq(load_argv(2, a3, NULL, NULL), -1);
	ck_assert_ptr_nonnull(strstr(log_text(), "\"--port\" needs a value"));
	/* An optional value must be attached; dnsmasq calls the rest junk. */
	ck_assert_int_eq(load_argv(3, a4, NULL, NULL), -1);
	ck_assert_ptr_nonnull(strstr(log_text(), "unexpected argument \"nobody\""));
	ck_assert_int_eq(load_argv(2, a5, NULL, NULL), -1);
	ck_assert_ptr_nonnull(strstr(log_text(), "\"--bogus-priv\" takes no value"));
	ck_assert_int_eq(load_argv(3, a6, NULL, NULL), -1);
	ck_assert_ptr_nonnull(strstr(log_text(), "\"--dhcp-range\" is not supported by zt dns "
	    "(DHCP is out of scope)"));
	ck_assert_int_eq(load_argv(3, a7, NULL, NULL), -1);
	ck_assert_ptr_nonnull(strstr(log_text(), "unexpected argument \"--port=5\""));
	ck_assert_int_eq(load_argv(2, a8, NULL, NULL), -1);
	ck_assert_ptr_nonnull(strstr(log_text(), "\"-j\" needs a value"));
	ck_assert_int_eq(load_argv(2, a9, NULL, NULL), -1);
	ck_assert_ptr_nonnull(strstr(log_text(), "\"--test\" is not supported"));
	ck_assert_int_eq(load_argv(2, a10, NULL, NULL), -1);
	ck_assert_ptr_nonnull(strstr(log_text(), "command line: bad number \"5x\" in --port=5x"));
}
END_TEST

START_TEST(test_applet_flags)
{
	static const struct dnsconf_flag flags[] = {
		{ "test", 0, false },
		{ "log-level", 0, true },
		{ "log-format", 0, true },
		{ "version", 'v', false },
		{ NULL, 0, false },
	};
	char *argv[] = { "serve", "--test", "--log-level", "debug", "--port=1",
	    "--log-format=json", "-v", "-C", "/dev/null", NULL };
	char *bad1[] = { "serve", "--test=1", NULL };
	char *bad2[] = { "serve", "--log-level", NULL };

	ck_assert_int_eq(load_argv(9, argv, flags, NULL), 0);
	ck_assert_uint_eq(conf->port, 1);
	ck_assert_uint_eq(conf->nflags, 4);
	ck_assert_str_eq(conf->flags[0].flag->name, "test");
	ck_assert_ptr_null(conf->flags[0].value);
	ck_assert_str_eq(conf->flags[1].flag->name, "log-level");
	ck_assert_str_eq(conf->flags[1].value, "debug");
	ck_assert_str_eq(conf->flags[2].value, "json");
	ck_assert_str_eq(conf->flags[3].flag->name, "version");
	ck_assert_int_eq(load_argv(2, bad1, flags, NULL), -1);
	ck_assert_ptr_nonnull(strstr(log_text(), "\"--test\" takes no value"));
	ck_assert_int_eq(load_argv(2, bad2, flags, NULL), -1);
	ck_assert_ptr_nonnull(strstr(log_text(), "\"--log-level\" needs a value"));
}
END_TEST

START_TEST(test_precedence)
{
	char a[PATH_MAX], b[PATH_MAX], c[PATH_MAX];

	put_file("a.conf", "port=1\nserver=1.1.1.1\n", a, sizeof(a));
	put_file("b.conf", "port=2\nserver=2.2.2.2\n", b, sizeof(b));
	put_file("c.conf", "server=3.3.3.3\n", c, sizeof(c));
	/* The file overrides the command line for single-valued options. */
	{
		char *av[] = { "serve", "-p", "5", "-C", a, NULL };

		ck_assert_int_eq(load_argv(5, av, NULL, NULL), 0);
		ck_assert_uint_eq(conf->port, 1);
	}
	{
		char *av[] = { "serve", "-C", a, "--port=7", "--server=9.9.9.9", NULL };

		ck_assert_int_eq(load_argv(5, av, NULL, NULL), 0);
		ck_assert_uint_eq(conf->port, 1);
		/* List options accumulate: the command line comes first. */
		ck_assert_uint_eq(conf->nrules, 2);
		ck_assert_str_eq(upstream_str(&conf->rules[0].upstream), "9.9.9.9:53");
	}
	/* A second -C is read at once, the first one after the command line. */
	{
		char *av[] = { "serve", "-C", a, "-C", c, "--server=9.9.9.9", NULL };

		ck_assert_int_eq(load_argv(6, av, NULL, NULL), 0);
		ck_assert_uint_eq(conf->nrules, 3);
		ck_assert_str_eq(upstream_str(&conf->rules[0].upstream), "3.3.3.3:53");
		ck_assert_str_eq(upstream_str(&conf->rules[1].upstream), "9.9.9.9:53");
		ck_assert_str_eq(upstream_str(&conf->rules[2].upstream), "1.1.1.1:53");
		ck_assert_uint_eq(conf->nfiles_read, 2);
	}
	/* Twice in files is an error, reported where dnsmasq reports it. */
	{
		char *av[] = { "serve", "-C", a, "-C", b, NULL };

		ck_assert_int_eq(load_argv(5, av, NULL, NULL), -1);
		ck_assert_ptr_nonnull(strstr(log_text(), "a.conf:1: option \"port\" given twice"));
		ck_assert_ptr_nonnull(strstr(log_text(), "b.conf:1"));
	}
	/* A file read during the command line keeps its mark: later command-line values
	 * may repeat, a later file may not. */
	{
		char *av[] = { "serve", "-C", c, "-C", a, "-p", "5", "-p", "6", NULL };

		ck_assert_int_eq(load_argv(9, av, NULL, NULL), 0);
		ck_assert_uint_eq(conf->port, 6);
	}
	{
		char *av[] = { "serve", "-C", b, "-C", a, "-p", "5", NULL };

		ck_assert_int_eq(load_argv(7, av, NULL, NULL), -1);
		ck_assert_ptr_nonnull(strstr(log_text(), "b.conf:1: option \"port\" given twice"));
	}
	/* The same file twice is read once. */
	{
		char *av[] = { "serve", "-C", a, "-C", a, NULL };

		ck_assert_int_eq(load_argv(5, av, NULL, NULL), 0);
		ck_assert_uint_eq(conf->nrules, 1);
	}
}
END_TEST

/* --- the sample configuration and the dump ---------------------------------------------- */

static const char sample[] =
    "interface=lo\n"
    "listen-address=127.0.0.1,10.254.254.254\n"
    "bind-dynamic\n"
    "address=/webdevelop.internal/10.130.0.1\n"
    "address=/kratos.webdevelop.internal/10.130.0.100\n"
    "domain-needed\n"
    "bogus-priv\n"
    "server=1.1.1.1\n"
    "server=8.8.8.8\n";

START_TEST(test_sample_config)
{
	ok(sample);
	ck_assert_uint_eq(conf->ninterfaces, 1);
	ck_assert_str_eq(conf->interfaces[0], "lo");
	ck_assert_uint_eq(conf->nlisten_addrs, 2);
	ck_assert_str_eq(ntop(AF_INET, &conf->listen_addrs[0].u.v4), "127.0.0.1");
	ck_assert_str_eq(ntop(AF_INET, &conf->listen_addrs[1].u.v4), "10.254.254.254");
	ck_assert_int_eq(conf->bind_dynamic, true);
	ck_assert_int_eq(conf->bind_interfaces, false);
	ck_assert_int_eq(conf->domain_needed, true);
	ck_assert_int_eq(conf->bogus_priv, true);
	ck_assert_int_eq(conf->no_resolv, false);
	ck_assert_uint_eq(conf->nresolv_files, 1);
	ck_assert_uint_eq(conf->nrules, 4);
	rule_is(0, DNSCONF_ACT_ADDR4, "webdevelop.internal", false, false);
	ck_assert_str_eq(ntop(AF_INET, &conf->rules[0].addr.u.v4), "10.130.0.1");
	rule_is(1, DNSCONF_ACT_ADDR4, "kratos.webdevelop.internal", false, false);
	ck_assert_str_eq(ntop(AF_INET, &conf->rules[1].addr.u.v4), "10.130.0.100");
	rule_is(2, DNSCONF_ACT_FORWARD, "", false, false);
	ck_assert_str_eq(upstream_str(&conf->rules[2].upstream), "1.1.1.1:53");
	rule_is(3, DNSCONF_ACT_FORWARD, "", false, false);
	ck_assert_str_eq(upstream_str(&conf->rules[3].upstream), "8.8.8.8:53");
	ck_assert_uint_eq(conf->port, 53);
	ck_assert_uint_eq(conf->cache_size, 150);
}
END_TEST

START_TEST(test_dump_roundtrip)
{
	char path[PATH_MAX];
	char *dump = NULL, *dump2 = NULL;
	size_t dlen = 0, dlen2 = 0;
	FILE *fp;
	const char *text =
	    "address=/a.example/10.0.0.1\naddress=/*.w.example/::1\naddress=/#/#\n"
	    "server=/corp/10.0.0.53#5353@eth0\nserver=//192.168.1.1@192.168.1.2#99\n"
	    "server=/nx/\nlocal=/lan/\nserver=/r/#\nrev-server=10.1.0.0/23,1.1.1.1\n"
	    "txt-record=t,\"a,b\",\"x\\ty\",\nptr-record=p.lan,\"a b\"\ncname=c.lan,t.lan,60\n"
	    "mx-host=m.lan,mx.lan,5\nsrv-host=_s._tcp.lan,t.lan,80,1,2\n"
	    "host-record=h.lan,10.0.0.9,fd00::9,30\nlog-queries=extra\nport=5353\n";

	ok(text);
	fp = open_memstream(&dump, &dlen);
	dnsconf_dump(conf, fp);
	fclose(fp);
	ck_assert_ptr_nonnull(strstr(dump, "server=/corp/10.0.0.53#5353@eth0\t# "));
	ck_assert_ptr_nonnull(strstr(dump, "server=/0.1.10.in-addr.arpa/1.1.1.1"));
	ck_assert_ptr_nonnull(strstr(dump, "address=/*.w.example/::1"));
	ck_assert_ptr_nonnull(strstr(dump, "txt-record=t,\"a,b\",\"x\\ty\",\"\""));
	ck_assert_ptr_nonnull(strstr(dump, "local=/lan/"));
	/* The dump reads back to the same configuration. */
	put_file("dump.conf", dump, path, sizeof(path));
	{
		char *argv[] = { "serve", "-C", path, NULL };

		ck_assert_msg(load_argv(3, argv, NULL, NULL) == 0, "%s\n%s", dump, log_text());
	}
	fp = open_memstream(&dump2, &dlen2);
	dnsconf_dump(conf, fp);
	fclose(fp);
	/* Equal except for the origins. */
	ck_assert_uint_eq(conf->nrules, 10);
	{
		char *p = dump, *q = dump2;

		while (*p != '\0' && *q != '\0') {
			size_t lp = strcspn(p, "\t\n"), lq = strcspn(q, "\t\n");

			if (*p != '#')
				ck_assert_msg(lp == lq && strncmp(p, q, lp) == 0, "%.*s vs %.*s",
				    (int)lp, p, (int)lq, q);
			p += strcspn(p, "\n") + (p[strcspn(p, "\n")] != '\0');
			q += strcspn(q, "\n") + (q[strcspn(q, "\n")] != '\0');
		}
	}
	free(dump);
	free(dump2);
}
END_TEST

START_TEST(test_free_null)
{
	dnsconf_free(NULL);
	ok("server=1.1.1.1\ncname=a,b\ntxt-record=t,x\nhost-record=h,1.2.3.4\n");
	ck_assert_uint_eq(conf->nrules, 1);
	ck_assert_uint_eq(conf->ncnames + conf->ntxts + conf->nhost_records, 3);
	/* Freed with everything it holds; LeakSanitizer checks the rest. */
	dnsconf_free(conf);
	conf = NULL;
}
END_TEST

START_TEST(test_no_files_mode)
{
	struct dnsconf_params p;
	const char text[] = "conf-file=/etc/passwd\nconf-dir=/etc,*.conf\nconf-file=-\n"
	    "domain=#\nport=1\n";

	memset(&p, 0, sizeof(p));
	p.no_files = true;
	ck_assert_int_eq(dnsconf_load_buffer(&p, "fuzz", text, sizeof(text) - 1, &conf), 0);
	ck_assert_uint_eq(conf->port, 1);
	ck_assert_uint_eq(conf->nfiles_read, 1);
	ck_assert_ptr_null(conf->domain_suffix);
}
END_TEST

/* --- against dnsmasq ------------------------------------------------------------------- */

/* Configurations that dnsmasq 2.90 and dnsconf must both accept (1) or both reject (0);
 * -1 marks a deliberate difference (dnsmasq accepts, zt refuses). */
static const struct {
	const char	*text;
	int		 accept;
} crosscheck[] = {
	{ "interface=lo\nlisten-address=127.0.0.1,10.254.254.254\nbind-dynamic\n"
	  "address=/webdevelop.internal/10.130.0.1\ndomain-needed\nbogus-priv\n"
	  "server=1.1.1.1\nserver=8.8.8.8\n", 1 },
	{ "port=5353\ncache-size=1000\nneg-ttl=60\nlocal-ttl=1\nmax-ttl=60\n", 1 },
	{ "port=1\nport=2\n", 0 },
	{ "address=/x/#\naddress=/y/ # comment\naddress=/z/\n", 1 },
	{ "address=/x/1.2.3.4# c\n", 0 },
	{ "address=/a/b/fd00::1\naddress=//10.0.0.1\naddress=/#/0.0.0.0\n", 1 },
	{ "address=/a/10.1.1\n", 0 },
	{ "address=/1.2.3.4\n", 1 },
	{ "address=/a / b/1.2.3.4\n", 0 },
	{ "server=/corp/10.0.0.53#5353\nserver=/corp/#\nserver=//1.1.1.1\nlocal=/lan/\n", 1 },
	{ "server=1.1.1.1@lo\nserver=1.1.1.1@127.0.0.1#5353\nserver=::1@::1\n", 1 },
	{ "server=1.1.1.1#65536\n", 0 },
	{ "server=1.1.1.1@::1\n", 0 },
	{ "server=fe80::1%lo\n", 1 },
	{ "server=fe80::1%nosuchif0\n", 0 },
	{ "server=[::1]\n", 0 },
	{ "rev-server=10.1.0.0/20,1.1.1.1\nrev-server=fd00::/7\nrev-server=1.2.3.4/x,#\n", 1 },
	{ "rev-server=1.2.3.0/33,1.1.1.1\n", 0 },
	{ "rev-server=1.2.3.0/24,\n", 0 },
	{ "domain=lan,192.168.0.0/24,local\ndomain=x,10.0.0.1,10.0.0.9,junk\n", 1 },
	{ "domain=x,192.168.0.0/24,lokal\n", 0 },
	{ "domain=#\nresolv-file=/nonexistent/resolv.conf\n", 0 },
	{ "domain=#\nno-resolv\n", 0 },
	{ "host-record=a,b,1.2.3.4,::1,300\nhost-record=,\n", 1 },
	{ "host-record=a\n", 0 },
	{ "cname=a,b,c,10\ncname=x,10\n", 1 },
	{ "cname=a,b\ncname=A,c\n", 0 },
	{ "cname=a,b\ncname=b,a\n", 0 },
	{ "cname=a ,b\ncname=c ,d\n", 0 },
	{ "txt-record=a,\"b,c\",d\ntxt-record=e\n", 1 },
	{ "txt-record=a,\"b\n", 0 },
	{ "srv-host=_a._tcp,t,80,1,2\nmx-host=m,5\nptr-record=p\n", 1 },
	{ "srv-host=a,b,1,2,3,4\n", 0 },
	{ "mx-host=a,b,70000\n", 0 },
	{ "ptr-record=AB--C\n", 0 },
	{ "ptr-record=A.-B\n", 0 },
	{ "bogus-priv=1\n", 0 },
	{ "\"bogus-priv\"\n", 0 },
	{ "adress=/a/1.1.1.1\n", 0 },
	{ "listen-address=1.2.3.4,\n", 0 },
	{ "edns-packet-max=100\nquery-port=0\nmin-cache-ttl=99999\nlog-queries=extra\n", 1 },
	{ "dhcp-range=10.0.0.2,10.0.0.9\n", -1 },
	{ "no-poll\n", -1 },
	{ "bind-interfaces\nbind-dynamic\n", -1 },
};

/* Runs dnsmasq --test on path; returns its exit status or -1. */
static int
dnsmasq_test(const char *path)
{
	char cmd[PATH_MAX + 64], out[512];
	FILE *pp;
	int st;

	snprintf(cmd, sizeof(cmd), DNSMASQ " --test -C '%s' 2>&1", path);
	if ((pp = popen(cmd, "r")) == NULL)
		return -1;
	while (fgets(out, sizeof(out), pp) != NULL)
		;
	st = pclose(pp);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Whether the dnsmasq here is 2.90, the version these answers are for. */
static bool
have_dnsmasq_290(void)
{
	char line[256] = "";
	FILE *pp;

	if (access(DNSMASQ, X_OK) == -1)
		return false;
	if ((pp = popen(DNSMASQ " --version 2>/dev/null", "r")) == NULL)
		return false;
	if (fgets(line, sizeof(line), pp) == NULL)
		line[0] = '\0';
	pclose(pp);
	return strstr(line, "version 2.90 ") != NULL;
}

START_TEST(test_against_dnsmasq)
{
	char path[PATH_MAX], name[32];

	if (!have_dnsmasq_290()) {
		fprintf(stderr, "check_dnsconf: no dnsmasq 2.90 at " DNSMASQ ": cross-check "
		    "skipped\n");
		return;
	}
	for (size_t i = 0; i < nitems(crosscheck); i++) {
		int d, z;

		snprintf(name, sizeof(name), "x%02zu.conf", i);
		put_file(name, crosscheck[i].text, path, sizeof(path));
		d = dnsmasq_test(path);
		{
			char *argv[] = { "serve", "-C", path, NULL };

			z = load_argv(3, argv, NULL, NULL);
		}
		if (crosscheck[i].accept == -1) {
			ck_assert_msg(d == 0 && z == -1, "%s: dnsmasq %d, zt %d (expected the "
			    "known difference)", crosscheck[i].text, d, z);
			continue;
		}
		ck_assert_msg((d == 0) == (crosscheck[i].accept == 1), "dnsmasq changed its "
		    "mind on: %s (status %d)", crosscheck[i].text, d);
		ck_assert_msg((z == 0) == (d == 0), "zt %s but dnsmasq %s: %s\n%s",
		    z == 0 ? "accepts" : "rejects", d == 0 ? "accepts" : "rejects",
		    crosscheck[i].text, log_text());
	}
}
END_TEST

Suite *
dnsconf_suite(void)
{
	Suite *s = suite_create("dnsconf");
	TCase *tc = tcase_create("syntax");
	TCase *opts = tcase_create("options");
	TCase *files = tcase_create("files");
	TCase *cmd = tcase_create("command line");
	TCase *whole = tcase_create("whole");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_comments_and_whitespace);
	tcase_add_test(tc, test_quoting);
	tcase_add_test(tc, test_line_limits);
	tcase_add_test(tc, test_nul_byte);
	tcase_add_test(tc, test_unknown_unsupported);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(opts, setup, teardown);
	tcase_add_test(opts, test_port);
	tcase_add_test(opts, test_interfaces);
	tcase_add_test(opts, test_listen_address);
	tcase_add_test(opts, test_bind_modes);
	tcase_add_test(opts, test_address_forms);
	tcase_add_test(opts, test_address_space_quirk);
	tcase_add_test(opts, test_server_forms);
	tcase_add_test(opts, test_rule_order);
	tcase_add_test(opts, test_rev_server);
	tcase_add_test(opts, test_flags);
	tcase_add_test(opts, test_resolv_and_hosts_files);
	tcase_add_test(opts, test_numbers);
	tcase_add_test(opts, test_logging_and_process);
	tcase_add_test(opts, test_domain);
	tcase_add_test(opts, test_domain_from_resolv);
	tcase_add_test(opts, test_host_record);
	tcase_add_test(opts, test_cname);
	tcase_add_test(opts, test_txt_record);
	tcase_add_test(opts, test_srv_host);
	tcase_add_test(opts, test_mx_host);
	tcase_add_test(opts, test_ptr_record);
	suite_add_tcase(s, opts);

	tcase_add_checked_fixture(files, setup, teardown);
	tcase_add_test(files, test_conf_file_include);
	tcase_add_test(files, test_conf_dir);
	tcase_add_test(files, test_default_conf);
	tcase_add_test(files, test_stdin_conf);
	suite_add_tcase(s, files);

	tcase_add_checked_fixture(cmd, setup, teardown);
	tcase_add_test(cmd, test_cmdline_forms);
	tcase_add_test(cmd, test_cmdline_errors);
	tcase_add_test(cmd, test_applet_flags);
	tcase_add_test(cmd, test_precedence);
	suite_add_tcase(s, cmd);

	tcase_add_checked_fixture(whole, setup, teardown);
	tcase_add_test(whole, test_sample_config);
	tcase_add_test(whole, test_dump_roundtrip);
	tcase_add_test(whole, test_free_null);
	tcase_add_test(whole, test_no_files_mode);
	tcase_add_test(whole, test_against_dnsmasq);
	tcase_set_timeout(whole, 60);
	suite_add_tcase(s, whole);
	return s;
}
