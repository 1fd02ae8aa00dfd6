/* check_ifaddr: dnsmasq's interface rules, the address list, and the watcher in private network
 * namespaces, with dnsmasq 2.90 itself as the oracle where it is installed. */
#include "config.h"

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <net/if.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>

#include "common/ifaddr.h"
#include "common/log.h"
#include "common/util.h"
#include "suites.h"

#define DNSMASQ		"/usr/sbin/dnsmasq"
#define DNSMASQ_PORT	5353	/* inside a private namespace: nothing else can hold it */
#define NS_SKIP		77

/* ---- The rules, against the addresses of the namespace in which dnsmasq was observed. ---- */

#define LOOP	(IFADDR_F_UP | IFADDR_F_LOOPBACK)
#define UP	IFADDR_F_UP

static const struct {
	const char	*name, *label, *addr;
	unsigned int	 flags;
} fixture[] = {
	{ "lo", "lo", "127.0.0.1", LOOP },
	{ "lo", "lo", "::1", LOOP },
	{ "lo", "lo", "10.254.254.254", LOOP },
	{ "lo", "lo:1", "10.254.254.253", LOOP },
	{ "eth0", "eth0", "192.0.2.1", UP },
	{ "eth0", "eth0:1", "192.0.2.2", UP },
	{ "eth0", "eth0", "2001:db8::1", UP },
	{ "eth0", "eth0", "fe80::1", UP },
	{ "eth", "eth", "198.51.100.1", UP },
	{ "eth2", "eth2", "203.0.113.1", 0 },	/* interface down: dnsmasq still listens */
	{ "p0", "p0", "fe80::2", UP },
};

#define LO3	"127.0.0.1 ::1 10.254.254.254 "
#define ALL	LO3 "10.254.254.253 192.0.2.1 192.0.2.2 2001:db8::1 fe80::1 198.51.100.1 " \
		"203.0.113.1 fe80::2"

/* Each case with the fixture addresses dnsmasq 2.90 listened on (--bind-dynamic, observed with
 * ss in a namespace holding these addresses; test_dnsmasq_differential repeats it live). */
static const struct rule_case {
	const char	*interfaces[3];
	const char	*except[2];
	const char	*listen[2];
	const char	*expect;
} cases[] = {
	/* No interface= and no listen-address=: everything. */
	{ { NULL }, { NULL }, { NULL }, ALL },
	/* interface=lo: the addresses labelled lo, not the alias lo:1. */
	{ { "lo" }, { NULL }, { NULL }, LO3 },
	/* A trailing '*' needs at least one more character and matches IPv4 labels. */
	{ { "eth*" }, { NULL }, { NULL },
	    LO3 "192.0.2.1 192.0.2.2 2001:db8::1 fe80::1 203.0.113.1" },
	/* interface= implies the loopback and matches labels exactly. */
	{ { "eth0" }, { NULL }, { NULL }, LO3 "192.0.2.1 2001:db8::1 fe80::1" },
	{ { "eth0:1" }, { NULL }, { NULL }, LO3 "192.0.2.2" },
	{ { "lo*" }, { NULL }, { NULL }, LO3 "10.254.254.253" },
	/* A '*' anywhere ends the comparison. */
	{ { "e*0" }, { NULL }, { NULL },
	    LO3 "192.0.2.1 192.0.2.2 2001:db8::1 fe80::1 198.51.100.1 203.0.113.1" },
	{ { "et" }, { NULL }, { NULL }, LO3 },
	{ { "*" }, { NULL }, { NULL }, ALL },
	/* except-interface= alone removes the labels it matches. */
	{ { NULL }, { "eth0" }, { NULL },
	    LO3 "10.254.254.253 192.0.2.2 198.51.100.1 203.0.113.1 fe80::2" },
	{ { NULL }, { "lo" }, { NULL },
	    "10.254.254.253 192.0.2.1 192.0.2.2 2001:db8::1 fe80::1 198.51.100.1 203.0.113.1 "
	    "fe80::2" },
	{ { NULL }, { "eth*" }, { NULL }, LO3 "10.254.254.253 198.51.100.1 fe80::2" },
	/* except-interface= wins over interface=, even over the implied loopback. */
	{ { "eth*" }, { "eth0" }, { NULL }, LO3 "192.0.2.2 203.0.113.1" },
	{ { "eth0" }, { "lo" }, { NULL }, "192.0.2.1 2001:db8::1 fe80::1" },
	{ { "lo" }, { "lo" }, { NULL }, "" },
	{ { "p0" }, { "*" }, { NULL }, "" },
	/* listen-address= alone: exactly those, the loopback is not implied. */
	{ { NULL }, { NULL }, { "192.0.2.1" }, "192.0.2.1" },
	{ { NULL }, { NULL }, { "fe80::1" }, "fe80::1" },
	/* ... and an exact listen-address= is accepted on an excepted interface. */
	{ { NULL }, { "eth0" }, { "192.0.2.1" }, "192.0.2.1" },
	{ { "eth0" }, { "lo" }, { "127.0.0.1" }, "127.0.0.1 192.0.2.1 2001:db8::1 fe80::1" },
	/* interface= and listen-address= together: the union. */
	{ { "lo" }, { NULL }, { "198.51.100.1" }, LO3 "198.51.100.1" },
	{ { "eth0" }, { NULL }, { "10.254.254.253" },
	    LO3 "10.254.254.253 192.0.2.1 2001:db8::1 fe80::1" },
};

/* The rules of one case; listen points into storage of at least two entries. */
static struct ifaddr_rules
case_rules(const struct rule_case *c, struct sockaddr_storage *storage)
{
	struct ifaddr_rules r = { .interfaces = c->interfaces, .except = c->except,
	    .listen = storage };
	socklen_t len;

	while (r.ninterfaces < nitems(c->interfaces) && c->interfaces[r.ninterfaces] != NULL)
		r.ninterfaces++;
	while (r.nexcept < nitems(c->except) && c->except[r.nexcept] != NULL)
		r.nexcept++;
	for (; r.nlisten < nitems(c->listen) && c->listen[r.nlisten] != NULL; r.nlisten++)
		ck_assert_int_eq(util_sockaddr_from(c->listen[r.nlisten], 0,
		    &storage[r.nlisten], &len), 0);
	return r;
}

/* An address entry as ifaddr_list would give it. */
static struct ifaddr_entry
make_entry(const char *name, const char *label, const char *addr, unsigned int flags)
{
	struct ifaddr_entry e = { .flags = flags, .index = 7 };

	ck_assert(util_strlcpy(e.name, name, sizeof(e.name)));
	ck_assert(util_strlcpy(e.label, label, sizeof(e.label)));
	if (inet_pton(AF_INET, addr, &e.addr.sin.sin_addr) == 1) {
		e.family = e.addr.sin.sin_family = AF_INET;
		e.addrlen = sizeof(e.addr.sin);
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, addr, &e.addr.sin6.sin6_addr), 1);
		e.family = e.addr.sin6.sin6_family = AF_INET6;
		e.addrlen = sizeof(e.addr.sin6);
	}
	return e;
}

/* True when word is one of the space-separated words of list. */
static bool
in_list(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

START_TEST(test_name_match)
{
	static const struct { const char *pattern, *name; bool match; } v[] = {
		{ "eth0", "eth0", true }, { "eth0", "eth1", false }, { "eth0", "eth", false },
		{ "eth", "eth0", false }, { "eth0", "eth0:1", false }, { "eth0:1", "eth0:1", true },
		{ "eth*", "eth0", true }, { "eth*", "eth0:1", true }, { "eth*", "eth", false },
		{ "eth*", "et", false }, { "e*0", "eth7", true }, { "*", "lo", true },
		{ "", "lo", false }, { "lo", "", false }, { "ETH0", "eth0", false },
	};

	for (size_t i = 0; i < nitems(v); i++)
		ck_assert_msg(ifaddr_name_match(v[i].pattern, v[i].name) == v[i].match,
		    "pattern '%s', name '%s': expected %s", v[i].pattern, v[i].name,
		    v[i].match ? "a match" : "no match");
}
END_TEST

START_TEST(test_match_table)
{
	struct sockaddr_storage storage[2];

	for (size_t i = 0; i < nitems(cases); i++) {
		struct ifaddr_rules r = case_rules(&cases[i], storage);

		for (size_t j = 0; j < nitems(fixture); j++) {
			struct ifaddr_entry e = make_entry(fixture[j].name, fixture[j].label,
			    fixture[j].addr, fixture[j].flags);
			bool want = in_list(cases[i].expect, fixture[j].addr);

			ck_assert_msg(ifaddr_match(&r, &e) == want,
			    "case %zu (interface=%s except-interface=%s listen-address=%s): %s on "
			    "%s should%s be allowed", i, cases[i].interfaces[0] ?
			    cases[i].interfaces[0] : "-", cases[i].except[0] ?
			    cases[i].except[0] : "-", cases[i].listen[0] ? cases[i].listen[0] : "-",
			    fixture[j].addr, fixture[j].label, want ? "" : " not");
		}
	}
}
END_TEST

START_TEST(test_match_details)
{
	static const char *const lo[] = { "lo" }, *const star[] = { "eth*" };
	struct sockaddr_storage ss[2];
	struct ifaddr_rules r = { .interfaces = lo, .ninterfaces = 1 };
	struct ifaddr_entry e;
	socklen_t len;

	/* The implied loopback is keyed on the loopback flag, not on the name "lo". */
	e = make_entry("lo", "lo", "127.0.0.1", UP);
	r.interfaces = star;
	ck_assert(!ifaddr_match(&r, &e));
	e.flags = LOOP;
	ck_assert(ifaddr_match(&r, &e));
	/* A listen-address matches by address: another family or another address does not. */
	ck_assert_int_eq(util_sockaddr_from("::ffff:192.0.2.1", 53, &ss[0], &len), 0);
	ck_assert_int_eq(util_sockaddr_from("192.0.2.11", 53, &ss[1], &len), 0);
	r = (struct ifaddr_rules){ .listen = ss, .nlisten = 2 };
	e = make_entry("eth0", "eth0", "192.0.2.1", UP);
	ck_assert(!ifaddr_match(&r, &e));
	/* ... whatever the port and the scope id. */
	ck_assert_int_eq(util_sockaddr_from("fe80::1", 53, &ss[0], &len), 0);
	e = make_entry("eth0", "eth0", "fe80::1", UP);
	e.addr.sin6.sin6_scope_id = 3;
	ck_assert(ifaddr_match(&r, &e));
}
END_TEST

START_TEST(test_same)
{
	struct ifaddr_entry a = make_entry("eth0", "eth0", "fe80::1", UP), b;

	a.addr.sin6.sin6_scope_id = 7;
	b = a;
	ck_assert(ifaddr_same(&a, &b));
	/* The same address on another interface is another socket. */
	b.index = 8;
	b.addr.sin6.sin6_scope_id = 8;
	ck_assert(!ifaddr_same(&a, &b));
	b = make_entry("eth0", "eth0", "192.0.2.1", UP);
	ck_assert(!ifaddr_same(&a, &b));
	a = make_entry("eth0", "eth0:1", "192.0.2.1", 0);
	ck_assert(ifaddr_same(&a, &b));
	a.addr.sin.sin_addr.s_addr ^= htonl(1);
	ck_assert(!ifaddr_same(&a, &b));
}
END_TEST

/* ---- The address list of this machine. ---- */

/* The entry of list with this numeric address on this interface (any when ifname is NULL). */
static const struct ifaddr_entry *
find_entry(const struct ifaddr_entry *list, size_t n, const char *addr, const char *ifname)
{
	unsigned char want[sizeof(struct in6_addr)];
	int family = inet_pton(AF_INET, addr, want) == 1 ? AF_INET : AF_INET6;

	if (family == AF_INET6 && inet_pton(AF_INET6, addr, want) != 1)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (list[i].family != family ||
		    (ifname != NULL && strcmp(list[i].name, ifname) != 0))
			continue;
		if (family == AF_INET && memcmp(&list[i].addr.sin.sin_addr, want, 4) == 0)
			return &list[i];
		if (family == AF_INET6 && memcmp(&list[i].addr.sin6.sin6_addr, want, 16) == 0)
			return &list[i];
	}
	return NULL;
}

START_TEST(test_list_loopback)
{
	struct ifaddr_entry *list;
	const struct ifaddr_entry *e;
	size_t n;

	ck_assert_int_eq(ifaddr_list(&list, &n), 0);
	ck_assert_uint_gt(n, 0);
	e = find_entry(list, n, "127.0.0.1", NULL);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->name, "lo");
	ck_assert_str_eq(e->label, "lo");
	ck_assert_uint_eq(e->index, if_nametoindex("lo"));
	ck_assert_uint_eq(e->flags & (IFADDR_F_LOOPBACK | IFADDR_F_UP),
	    IFADDR_F_LOOPBACK | IFADDR_F_UP);
	ck_assert_uint_eq(e->prefixlen, 8);
	ck_assert_int_eq(e->scope, IFADDR_SCOPE_HOST);
	ck_assert_int_eq(e->addr.sin.sin_family, AF_INET);
	ck_assert_uint_eq(e->addr.sin.sin_port, 0);
	ck_assert_uint_eq(e->addrlen, sizeof(struct sockaddr_in));
	for (size_t i = 0; i < n; i++) {
		ck_assert(list[i].family == AF_INET || list[i].family == AF_INET6);
		ck_assert_uint_eq(list[i].addrlen, list[i].family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
		ck_assert_uint_le(list[i].prefixlen, list[i].family == AF_INET ? 32 : 128);
		ck_assert_uint_gt(list[i].index, 0);
		ck_assert_uint_gt(strlen(list[i].name), 0);
		ck_assert_uint_gt(strlen(list[i].label), 0);
	}
	free(list);
}
END_TEST

static void
never_called(void *arg)
{
	(void)arg;
	ck_abort_msg("the watcher called back without a running loop");
}

START_TEST(test_watch_new_free)
{
	struct event_base *base = event_base_new();
	struct ifaddr_watch *w;

	ck_assert_ptr_nonnull(base);
	w = ifaddr_watch_new(base, never_called, NULL);
	ck_assert_ptr_nonnull(w);
	ifaddr_watch_free(w);
	ifaddr_watch_free(NULL);
	event_base_free(base);
}
END_TEST

/* ---- Private network namespaces. ---- */

/* The child reports a failure or a skip through this pipe, then exits. */
static int ns_report = -1;

static void ns_exit(int status, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

/* Ends the namespace child with status after reporting "line N: message" to the parent. */
static void
ns_exit(int status, int line, const char *fmt, ...)
{
	char msg[1024];
	int off;
	va_list ap;

	off = snprintf(msg, sizeof(msg), "line %d: ", line);
	va_start(ap, fmt);
	vsnprintf(msg + off, sizeof(msg) - (size_t)off, fmt, ap);
	va_end(ap);
	if (write(ns_report, msg, strlen(msg)) == -1)
		_exit(3);
	/* _exit: after a failure, what is still allocated is no leak worth reporting. */
	_exit(status);
}

#define NS_ASSERT(cond, ...) do { \
	if (!(cond)) \
		ns_exit(1, __LINE__, __VA_ARGS__); \
} while (0)
#define NS_SKIP_IF(cond, ...) do { \
	if (cond) \
		ns_exit(NS_SKIP, __LINE__, __VA_ARGS__); \
} while (0)

/* Runs fn in a child in a new network namespace with its loopback up. The namespace has no
 * name: the kernel removes it when its last process exits, so no exit path can leak it. */
static void
in_netns(void (*fn)(void))
{
	char msg[1024] = "";
	size_t off = 0;
	ssize_t n;
	int pfd[2], status;
	pid_t pid;

	ck_assert_int_eq(pipe2(pfd, O_CLOEXEC), 0);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		close(pfd[0]);
		ns_report = pfd[1];
		/* If Check kills the test on a timeout, the namespace goes with it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* A failing ip(8) reading our batch must give an error, not kill us. */
		signal(SIGPIPE, SIG_IGN);
		NS_SKIP_IF(unshare(CLONE_NEWNET) == -1, "cannot create a network namespace: %s",
		    strerror(errno));
		status = system("ip link set lo up");
		NS_SKIP_IF(status != 0, "'ip link set lo up' failed (status %d): is iproute2 "
		    "installed?", status);
		fn();
		exit(0);
	}
	close(pfd[1]);
	while (off < sizeof(msg) - 1 && (n = read(pfd[0], msg + off, sizeof(msg) - 1 - off)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			break;
		off += (size_t)n;
	}
	msg[off] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &status, 0) == -1)
		ck_assert_int_eq(errno, EINTR);
	if (WIFEXITED(status) && WEXITSTATUS(status) == NS_SKIP) {
		fprintf(stderr, "check_ifaddr: skipped: %s\n", msg);
		return;
	}
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "namespace child failed (wait status %#x): %s", (unsigned)status, msg);
}

/* True when this namespace has IPv6 on its loopback. */
static bool
ipv6_enabled(void)
{
	FILE *fp = fopen("/proc/sys/net/ipv6/conf/lo/disable_ipv6", "r");
	int c = fp != NULL ? fgetc(fp) : EOF;

	if (fp != NULL)
		fclose(fp);
	return c == '0';
}

/* Runs a shell command in the namespace; returns its exit status. */
static int
sh(const char *cmd)
{
	int status = system(cmd);

	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Feeds ip(8) "addr add|del 10.200.X.Y/32 dev lo" for addresses first..first+count-1 at once. */
static int
ip_batch_lo(const char *verb, int first, int count)
{
	FILE *fp = popen("ip -batch -", "w");

	if (fp == NULL)
		return -1;
	for (int i = first; i < first + count; i++)
		fprintf(fp, "addr %s 10.200.%d.%d/32 dev lo\n", verb, i / 250, i % 250 + 1);
	return pclose(fp);
}

struct watch_ctx {
	struct event_base	*base;
	struct ifaddr_watch	*w;
	struct event		*guard;
	int			 calls;
	bool			 free_in_cb;
};

static void
on_change(void *arg)
{
	struct watch_ctx *c = arg;

	c->calls++;
	if (c->free_in_cb) {
		ifaddr_watch_free(c->w);
		c->w = NULL;
	}
	event_base_loopbreak(c->base);
}

static void
on_guard(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Runs the loop until the watcher calls back or ms pass; true if it called back. */
static bool
wait_change(struct watch_ctx *c, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000 };
	int before = c->calls;

	evtimer_add(c->guard, &tv);
	event_base_dispatch(c->base);
	evtimer_del(c->guard);
	return c->calls > before;
}

/* Runs the loop for ms, whatever happens; returns the number of callbacks meanwhile. */
static int
settle(struct watch_ctx *c, int ms)
{
	int before = c->calls;
	struct timespec end, now;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += ms / 1000;
	end.tv_nsec += ms % 1000 * 1000000L;
	for (;;) {
		long left;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (end.tv_sec - now.tv_sec) * 1000 + (end.tv_nsec - now.tv_nsec) / 1000000;
		if (left <= 0)
			break;
		wait_change(c, (int)left);
	}
	return c->calls - before;
}

static void
watch_start(struct watch_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->base = event_base_new();
	NS_ASSERT(c->base != NULL, "event_base_new failed");
	c->guard = evtimer_new(c->base, on_guard, c->base);
	NS_ASSERT(c->guard != NULL, "evtimer_new failed");
	c->w = ifaddr_watch_new(c->base, on_change, c);
	NS_ASSERT(c->w != NULL, "ifaddr_watch_new failed");
}

static void
watch_stop(struct watch_ctx *c)
{
	ifaddr_watch_free(c->w);
	event_free(c->guard);
	event_base_free(c->base);
}

/* The entry for addr (on ifname if not NULL) in a fresh list, copied into *out. */
static bool
listed(const char *addr, const char *ifname, struct ifaddr_entry *out)
{
	struct ifaddr_entry *list;
	const struct ifaddr_entry *e;
	size_t n;

	NS_ASSERT(ifaddr_list(&list, &n) == 0, "ifaddr_list failed");
	if ((e = find_entry(list, n, addr, ifname)) != NULL && out != NULL)
		*out = *e;
	free(list);
	return e != NULL;
}

/* How many addresses of 10.200.0.0/16 are listed. */
static size_t
count_batch(void)
{
	struct ifaddr_entry *list;
	size_t n, count = 0;

	NS_ASSERT(ifaddr_list(&list, &n) == 0, "ifaddr_list failed");
	for (size_t i = 0; i < n; i++)
		if (list[i].family == AF_INET &&
		    (ntohl(list[i].addr.sin.sin_addr.s_addr) >> 16) == (10 << 8 | 200))
			count++;
	free(list);
	return count;
}

static void
ns_add_del(void)
{
	struct watch_ctx c;
	struct ifaddr_entry e;

	watch_start(&c);
	NS_ASSERT(listed("127.0.0.1", "lo", NULL), "127.0.0.1 is not listed");
	NS_ASSERT(!ipv6_enabled() || listed("::1", "lo", NULL), "::1 is not listed");
	NS_ASSERT(settle(&c, 300) == 0, "a callback while nothing changed");

	NS_ASSERT(sh("ip addr add 10.254.254.254/32 dev lo") == 0, "ip addr add failed");
	NS_ASSERT(wait_change(&c, 2000), "no callback within 2 s of adding an address");
	NS_ASSERT(listed("10.254.254.254", "lo", &e), "10.254.254.254 is not listed");
	NS_ASSERT(strcmp(e.label, "lo") == 0 && e.prefixlen == 32 &&
	    e.scope == IFADDR_SCOPE_GLOBAL && (e.flags & IFADDR_F_LOOPBACK) &&
	    e.index == if_nametoindex("lo"), "wrong entry for 10.254.254.254: label %s "
	    "prefix %u scope %d flags %#x index %u", e.label, e.prefixlen, (int)e.scope,
	    e.flags, e.index);
	/* One message, one callback. */
	NS_ASSERT(settle(&c, 300) == 0, "more than one callback for one address");

	NS_ASSERT(sh("ip addr del 10.254.254.254/32 dev lo") == 0, "ip addr del failed");
	NS_ASSERT(wait_change(&c, 2000), "no callback within 2 s of deleting an address");
	NS_ASSERT(!listed("10.254.254.254", NULL, NULL), "10.254.254.254 is still listed");

	/* Link changes count too: the flags of every address follow the interface. */
	NS_ASSERT(sh("ip link set lo down") == 0, "ip link set lo down failed");
	NS_ASSERT(wait_change(&c, 2000), "no callback within 2 s of setting lo down");
	settle(&c, 200);
	NS_ASSERT(listed("127.0.0.1", "lo", &e) && !(e.flags & IFADDR_F_UP),
	    "127.0.0.1 is not listed on a down lo");
	NS_ASSERT(sh("ip link set lo up") == 0, "ip link set lo up failed");
	NS_ASSERT(wait_change(&c, 2000), "no callback within 2 s of setting lo up");
	settle(&c, 200);
	NS_ASSERT(listed("127.0.0.1", "lo", &e) && (e.flags & IFADDR_F_UP),
	    "127.0.0.1 is not listed up again");

	/* The callback may free the watcher. */
	c.free_in_cb = true;
	NS_ASSERT(sh("ip addr add 10.254.254.254/32 dev lo") == 0, "ip addr add failed");
	NS_ASSERT(wait_change(&c, 2000) && c.w == NULL, "the callback did not free the watcher");
	watch_stop(&c);
}

START_TEST(test_netns_add_del)
{
	in_netns(ns_add_del);
}
END_TEST

static void
ns_burst(void)
{
	struct watch_ctx c;
	char logbuf[8192];
	size_t n;
	int calls;
	FILE *logfp;

	watch_start(&c);
	/* The loop does not run while ip(8) works: every message waits in the socket. */
	NS_ASSERT(ip_batch_lo("add", 0, 20) == 0, "ip -batch failed");
	NS_ASSERT(wait_change(&c, 2000), "no callback within 2 s of adding 20 addresses");
	NS_ASSERT(settle(&c, 300) == 0, "more than one callback for one burst");
	NS_ASSERT(count_batch() == 20, "%zu of 20 addresses listed", count_batch());

	/* Changes a few milliseconds apart while the loop runs: one callback per 100 ms window. */
	calls = c.calls;
	NS_ASSERT(sh("for i in 1 2 3 4 5 6 7 8; do ip addr add 10.201.0.$i/32 dev lo; "
	    "sleep 0.005; done &") == 0, "cannot start the changes");
	NS_ASSERT(wait_change(&c, 2000), "no callback within 2 s of spaced changes");
	settle(&c, 600);
	calls = c.calls - calls;
	/* Even on a slow machine 8 changes span at most a few windows; one call each would be 8. */
	NS_ASSERT(calls <= 3, "%d callbacks for 8 changes a few milliseconds apart", calls);
	NS_ASSERT(listed("10.201.0.8", "lo", NULL), "the last spaced change is not listed");

	/* Far more notifications than the socket buffer holds: the kernel reports ENOBUFS. */
	logfp = tmpfile();
	NS_ASSERT(logfp != NULL, "tmpfile: %s", strerror(errno));
	log_set_output(logfp);
	log_set_level(LOG_LEVEL_DEBUG);
	NS_ASSERT(ip_batch_lo("add", 20, 3980) == 0, "ip -batch failed");
	NS_ASSERT(wait_change(&c, 2000), "no callback within 2 s of adding 4000 addresses");
	settle(&c, 300);
	log_set_output(NULL);
	log_set_level(LOG_LEVEL_ERROR);
	fflush(logfp);
	rewind(logfp);
	n = fread(logbuf, 1, sizeof(logbuf) - 1, logfp);
	logbuf[n] = '\0';
	fclose(logfp);
	NS_ASSERT(strstr(logbuf, "notifications lost") != NULL,
	    "the flood did not overflow the socket (log: %s)", logbuf);
	NS_ASSERT(count_batch() == 4000, "%zu of 4000 addresses listed", count_batch());

	/* The socket still works after the overflow. */
	NS_ASSERT(ip_batch_lo("del", 0, 4000) == 0, "ip -batch failed");
	NS_ASSERT(wait_change(&c, 2000), "no callback within 2 s of deleting 4000 addresses");
	settle(&c, 300);
	NS_ASSERT(count_batch() == 0, "%zu addresses still listed", count_batch());
	NS_ASSERT(sh("ip addr add 10.254.254.254/32 dev lo") == 0, "ip addr add failed");
	NS_ASSERT(wait_change(&c, 2000), "no callback after the overflow");
	NS_ASSERT(settle(&c, 300) == 0, "more than one callback for one address");
	watch_stop(&c);
}

START_TEST(test_netns_burst_enobufs)
{
	in_netns(ns_burst);
}
END_TEST

static void
ns_states(void)
{
	struct watch_ctx c;
	struct ifaddr_entry e, ll;
	struct ifaddr_entry *list;
	size_t n;
	bool found_ll = false, done = false;
	int fd;

	watch_start(&c);
	NS_ASSERT(sh("ip addr add 10.254.254.253/32 dev lo label lo:1") == 0, "ip addr add failed");
	NS_ASSERT(listed("10.254.254.253", "lo", &e), "10.254.254.253 is not listed");
	NS_ASSERT(strcmp(e.label, "lo:1") == 0, "label %s, not lo:1", e.label);

	NS_SKIP_IF(!ipv6_enabled(), "no IPv6 here: its address states are not tested");
	NS_ASSERT(sh("ip addr add 2001:db8::7/128 dev lo nodad preferred_lft 0") == 0,
	    "ip addr add failed");
	NS_ASSERT(listed("2001:db8::7", "lo", &e), "2001:db8::7 is not listed");
	NS_ASSERT((e.flags & (IFADDR_F_DEPRECATED | IFADDR_F_TENTATIVE)) == IFADDR_F_DEPRECATED,
	    "2001:db8::7: flags %#x", e.flags);
	NS_ASSERT(strcmp(e.label, "lo") == 0, "IPv6 label %s", e.label);

	NS_SKIP_IF(sh("ip link add v0 type veth peer name v1") != 0,
	    "no veth interfaces here: IPv6 duplicate address detection is not tested");
	/* 2001:db8::a is already on v1, so its duplicate on v0 fails detection. */
	NS_ASSERT(sh("ip link set v0 up && ip link set v1 up && "
	    "ip addr add 2001:db8::a/64 dev v1 nodad && ip addr add 2001:db8::9/64 dev v0 && "
	    "ip addr add 2001:db8::a/64 dev v0") == 0, "setting up v0 and v1 failed");
	NS_ASSERT(listed("2001:db8::9", "v0", &e), "2001:db8::9 is not listed");
	NS_ASSERT((e.flags & (IFADDR_F_TENTATIVE | IFADDR_F_DADFAILED)) == IFADDR_F_TENTATIVE,
	    "2001:db8::9 right after adding: flags %#x", e.flags);
	settle(&c, 100);
	/* Detection takes a second or two; its end arrives as a notification. */
	for (int i = 0; i < 20 && !done; i++) {
		NS_ASSERT(wait_change(&c, 5000), "no callback within 5 s while detection runs");
		NS_ASSERT(ifaddr_list(&list, &n) == 0, "ifaddr_list failed");
		found_ll = false;
		done = true;
		for (size_t j = 0; j < n; j++) {
			if (strcmp(list[j].name, "v0") != 0 || list[j].family != AF_INET6)
				continue;
			if (IN6_IS_ADDR_LINKLOCAL(&list[j].addr.sin6.sin6_addr)) {
				ll = list[j];
				found_ll = true;
			}
			if ((list[j].flags & IFADDR_F_TENTATIVE) &&
			    !(list[j].flags & IFADDR_F_DADFAILED))
				done = false;
		}
		free(list);
	}
	NS_ASSERT(done, "addresses of v0 stayed tentative");
	NS_ASSERT(listed("2001:db8::9", "v0", &e) && !(e.flags & IFADDR_F_TENTATIVE),
	    "2001:db8::9 after detection: flags %#x", e.flags);
	NS_ASSERT(listed("2001:db8::a", "v0", &e) &&
	    (e.flags & (IFADDR_F_TENTATIVE | IFADDR_F_DADFAILED)) ==
	    (IFADDR_F_TENTATIVE | IFADDR_F_DADFAILED), "2001:db8::a on v0: flags %#x", e.flags);
	NS_ASSERT(listed("2001:db8::a", "v1", &e) && !(e.flags & IFADDR_F_TENTATIVE),
	    "2001:db8::a on v1: flags %#x", e.flags);

	/* A link-local address carries its scope and can be bound as listed. */
	NS_ASSERT(found_ll, "v0 has no link-local address");
	NS_ASSERT(ll.scope == IFADDR_SCOPE_LINK && ll.index == if_nametoindex("v0") &&
	    ll.addr.sin6.sin6_scope_id == ll.index && ll.addrlen == sizeof(struct sockaddr_in6),
	    "link-local entry: scope %d index %u scope id %u", (int)ll.scope, ll.index,
	    ll.addr.sin6.sin6_scope_id);
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	NS_ASSERT(fd != -1, "socket: %s", strerror(errno));
	NS_ASSERT(bind(fd, &ll.addr.sa, ll.addrlen) == 0, "bind to the link-local address: %s",
	    strerror(errno));
	close(fd);
	watch_stop(&c);
}

START_TEST(test_netns_states)
{
	in_netns(ns_states);
}
END_TEST

/* ---- dnsmasq 2.90 as the oracle. ---- */

struct addrset {
	struct {
		int		family;
		unsigned char	addr[16];
	}		 a[64];
	size_t		 n;
};

static void
addrset_add(struct addrset *s, int family, const void *addr)
{
	size_t len = family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < s->n; i++)
		if (s->a[i].family == family && memcmp(s->a[i].addr, addr, len) == 0)
			return;
	NS_ASSERT(s->n < nitems(s->a), "too many addresses");
	memset(s->a[s->n].addr, 0, sizeof(s->a[s->n].addr));
	s->a[s->n].family = family;
	memcpy(s->a[s->n].addr, addr, len);
	s->n++;
}

static bool
addrset_has(const struct addrset *s, int family, const void *addr)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->a[i].family == family &&
		    memcmp(s->a[i].addr, addr, family == AF_INET ? 4 : 16) == 0)
			return true;
	return false;
}

/* The set as text, for messages. */
static void
addrset_str(const struct addrset *s, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < s->n && off < len; i++) {
		char a[INET6_ADDRSTRLEN];

		inet_ntop(s->a[i].family, s->a[i].addr, a, sizeof(a));
		off += (size_t)snprintf(buf + off, len - off, "%s ", a);
	}
}

/* The UDP addresses listening on port in this namespace, from /proc/self/net/udp and udp6. */
static void
bound_udp(uint16_t port, struct addrset *s)
{
	static const char *const files[] = { "/proc/self/net/udp", "/proc/self/net/udp6" };
	char line[512];

	s->n = 0;
	for (size_t f = 0; f < nitems(files); f++) {
		FILE *fp = fopen(files[f], "r");

		NS_ASSERT(fp != NULL, "%s: %s", files[f], strerror(errno));
		while (fgets(line, sizeof(line), fp) != NULL) {
			uint32_t w[4];
			unsigned int p;

			/* "sl: ADDR:PORT": each 32-bit word of the address in host order. */
			if (f == 0 && sscanf(line, " %*u: %8x:%4x", &w[0], &p) == 2 && p == port)
				addrset_add(s, AF_INET, w);
			if (f == 1 && sscanf(line, " %*u: %8x%8x%8x%8x:%4x", &w[0], &w[1], &w[2],
			    &w[3], &p) == 5 && p == port)
				addrset_add(s, AF_INET6, w);
		}
		fclose(fp);
	}
}

/* Starts dnsmasq with the options of case c and waits until it has bound its sockets. */
static pid_t
dnsmasq_start(const struct rule_case *c)
{
	char opts[8][128], buf[4096] = "";
	char *argv[24];
	int argc = 0, nopts = 0, pfd[2];
	size_t off = 0;
	pid_t pid;

	argv[argc++] = DNSMASQ;
	argv[argc++] = "--keep-in-foreground";
	argv[argc++] = "--user=root";
	argv[argc++] = "--conf-file=/dev/null";
	argv[argc++] = "--no-hosts";
	argv[argc++] = "--no-resolv";
	argv[argc++] = "--pid-file=";
	argv[argc++] = "--log-facility=-";
	argv[argc++] = "--bind-dynamic";
	snprintf(opts[nopts], sizeof(opts[nopts]), "--port=%d", DNSMASQ_PORT);
	argv[argc++] = opts[nopts++];
	for (size_t i = 0; i < nitems(c->interfaces) && c->interfaces[i] != NULL; i++) {
		snprintf(opts[nopts], sizeof(opts[nopts]), "--interface=%s", c->interfaces[i]);
		argv[argc++] = opts[nopts++];
	}
	for (size_t i = 0; i < nitems(c->except) && c->except[i] != NULL; i++) {
		snprintf(opts[nopts], sizeof(opts[nopts]), "--except-interface=%s", c->except[i]);
		argv[argc++] = opts[nopts++];
	}
	for (size_t i = 0; i < nitems(c->listen) && c->listen[i] != NULL; i++) {
		snprintf(opts[nopts], sizeof(opts[nopts]), "--listen-address=%s", c->listen[i]);
		argv[argc++] = opts[nopts++];
	}
	argv[argc] = NULL;

	NS_ASSERT(pipe2(pfd, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
	pid = fork();
	NS_ASSERT(pid != -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		/* dnsmasq dies with us, so it cannot keep the namespace alive. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(pfd[1], STDERR_FILENO);
		execv(DNSMASQ, argv);
		_exit(127);
	}
	close(pfd[1]);
	/* Its log reaches "started" once every socket is bound. */
	while (strstr(buf, "started") == NULL && off < sizeof(buf) - 1) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		ssize_t n;

		NS_ASSERT(poll(&p, 1, 5000) == 1, "dnsmasq did not start within 5 s: %s", buf);
		n = read(pfd[0], buf + off, sizeof(buf) - 1 - off);
		NS_ASSERT(n > 0, "dnsmasq exited: %s", buf);
		off += (size_t)n;
		buf[off] = '\0';
	}
	close(pfd[0]);
	return pid;
}

static void
dnsmasq_stop(pid_t pid)
{
	int status;

	kill(pid, SIGTERM);
	while (waitpid(pid, &status, 0) == -1)
		NS_ASSERT(errno == EINTR, "waitpid: %s", strerror(errno));
}

static void
ns_dnsmasq(void)
{
	/* The fixture's addresses, link-local ones made fixed, plus IPv6 states dnsmasq skips. */
	static const char setup[] =
	    "link add eth0 type veth peer name p0\n"
	    "link add eth type veth peer name p1\n"
	    "link add eth2 type veth peer name p2\n"
	    "link set eth0 addrgenmode none\nlink set p0 addrgenmode none\n"
	    "link set eth addrgenmode none\nlink set p1 addrgenmode none\n"
	    "link set eth0 up\nlink set p0 up\nlink set eth up\nlink set p1 up\n"
	    "addr add fe80::1/64 dev eth0 nodad\n"
	    "addr add fe80::2/64 dev p0 nodad\n"
	    "addr add 10.254.254.254/32 dev lo\n"
	    "addr add 10.254.254.253/32 dev lo label lo:1\n"
	    "addr add 192.0.2.1/24 dev eth0\n"
	    "addr add 192.0.2.2/24 dev eth0 label eth0:1\n"
	    "addr add 2001:db8::1/64 dev eth0 nodad\n"
	    "addr add 2001:db8::7/64 dev eth0 nodad preferred_lft 0\n"
	    "addr add 2001:db8::9/64 dev p0 nodad\n"
	    "addr add 2001:db8::9/64 dev eth0\n"
	    "addr add 198.51.100.1/24 dev eth\n"
	    "addr add 203.0.113.1/24 dev eth2\n";
	struct sockaddr_storage storage[2];
	struct ifaddr_entry *list = NULL;
	struct addrset want, got;
	char a[1024], b[1024];
	size_t n = 0;
	bool settled = false;
	FILE *fp;

	NS_SKIP_IF(access(DNSMASQ, X_OK) != 0, "%s is not installed", DNSMASQ);
	NS_SKIP_IF(!ipv6_enabled(), "no IPv6 here: the dnsmasq oracle needs it");
	fp = popen("ip -batch -", "w");
	NS_ASSERT(fp != NULL, "popen: %s", strerror(errno));
	fputs(setup, fp);
	NS_SKIP_IF(pclose(fp) != 0, "cannot build the veth interfaces of the oracle");
	/* Until duplicate address detection ends, what is bound depends on timing. */
	for (int i = 0; i < 100 && !settled; i++) {
		free(list);
		NS_ASSERT(ifaddr_list(&list, &n) == 0, "ifaddr_list failed");
		settled = true;
		for (size_t j = 0; j < n; j++)
			if ((list[j].flags & IFADDR_F_TENTATIVE) &&
			    !(list[j].flags & IFADDR_F_DADFAILED))
				settled = false;
		if (!settled)
			usleep(100000);
	}
	NS_ASSERT(settled, "addresses stayed tentative for 10 s");
	for (size_t i = 0; i < nitems(cases); i++) {
		struct ifaddr_rules r = case_rules(&cases[i], storage);
		pid_t pid;

		want.n = 0;
		for (size_t j = 0; j < n; j++)
			if (ifaddr_match(&r, &list[j]) && !(list[j].flags & IFADDR_F_TENTATIVE))
				addrset_add(&want, list[j].family, list[j].family == AF_INET ?
				    (const void *)&list[j].addr.sin.sin_addr :
				    (const void *)&list[j].addr.sin6.sin6_addr);
		pid = dnsmasq_start(&cases[i]);
		bound_udp(DNSMASQ_PORT, &got);
		dnsmasq_stop(pid);
		addrset_str(&want, a, sizeof(a));
		addrset_str(&got, b, sizeof(b));
		NS_ASSERT(want.n == got.n, "case %zu: ifaddr_match allows %s; dnsmasq bound %s", i,
		    a, b);
		for (size_t j = 0; j < want.n; j++)
			NS_ASSERT(addrset_has(&got, want.a[j].family, want.a[j].addr),
			    "case %zu: ifaddr_match allows %s; dnsmasq bound %s", i, a, b);
		/* The table of test_match_table is what this dnsmasq does. */
		for (size_t j = 0; j < nitems(fixture); j++) {
			struct ifaddr_entry e = make_entry(fixture[j].name, fixture[j].label,
			    fixture[j].addr, 0);
			const void *ip = e.family == AF_INET ? (const void *)&e.addr.sin.sin_addr :
			    (const void *)&e.addr.sin6.sin6_addr;

			NS_ASSERT(addrset_has(&got, e.family, ip) ==
			    in_list(cases[i].expect, fixture[j].addr),
			    "case %zu: the table is wrong about %s: dnsmasq bound %s", i,
			    fixture[j].addr, b);
		}
	}
	free(list);
}

START_TEST(test_dnsmasq_differential)
{
	in_netns(ns_dnsmasq);
}
END_TEST

Suite *
ifaddr_suite(void)
{
	Suite *s = suite_create("ifaddr");
	TCase *tc = tcase_create("rules");

	tcase_add_test(tc, test_name_match);
	tcase_add_test(tc, test_match_table);
	tcase_add_test(tc, test_match_details);
	tcase_add_test(tc, test_same);
	suite_add_tcase(s, tc);

	tc = tcase_create("list");
	tcase_add_test(tc, test_list_loopback);
	tcase_add_test(tc, test_watch_new_free);
	suite_add_tcase(s, tc);

	/* Each runs in a namespace of its own and skips when namespaces are not permitted. */
	tc = tcase_create("netns");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_netns_add_del);
	tcase_add_test(tc, test_netns_burst_enobufs);
	tcase_add_test(tc, test_netns_states);
	tcase_add_test(tc, test_dnsmasq_differential);
	suite_add_tcase(s, tc);
	return s;
}
