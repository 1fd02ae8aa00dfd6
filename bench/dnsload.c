/* dnsload.c: a closed-loop DNS load generator over UDP that costs far less CPU per query than
 * the servers it measures, so that on a small machine the server, not the generator, sets the
 * rate (dnsperf 2.10 needs about 5 us of CPU per query and tops out near 215,000 q/s on one core
 * here; see doc/performance.md). Built by bench/dns.py at run time with `cc -O2`.
 *
 *     dnsload [-s ADDR] -p PORT -d FILE [-c SOCKETS] [-q OUTSTANDING] [-l SECONDS]
 *             [-t TIMEOUT] [-b BATCH] [-a ADDRESS] [-Q RATE]
 *
 *     -s ADDR         the server (default 127.0.0.1; IPv4 or IPv6 literal)
 *     -p PORT         its port
 *     -d FILE         the queries: one "NAME TYPE" a line, as dnsperf's data files (TYPE: A,
 *                     AAAA, NS, CNAME, SOA, PTR, MX, TXT, SRV, ANY or a number; default A);
 *                     asked in order, round and round
 *     -c SOCKETS      UDP sockets, each connected to the server from its own port (default 4)
 *     -q OUTSTANDING  queries in flight at every moment, spread over the sockets (default 128)
 *     -l SECONDS      how long to send (default 10); then it waits up to TIMEOUT for the
 *                     answers still in flight
 *     -t TIMEOUT      seconds after which a query without an answer is lost and its slot asks
 *                     the next name (default 2)
 *     -b BATCH        at most this many datagrams per recvmmsg/sendmmsg (default 64)
 *     -a ADDRESS      also check that every NOERROR answer holds an A record with this address
 *     -Q RATE         send at most RATE queries a second (default: as fast as answers come);
 *                     a free slot waits until the rate allows its next query, which is then
 *                     timed from when it is sent
 *
 * Closed loop: each socket has OUTSTANDING/SOCKETS slots; a slot sends a query, and when its
 * answer arrives (or it times out) sends the next name. Answers are matched by socket and ID
 * (slot = ID mod slots of the socket; the rest of the ID is a generation, so a late answer to a
 * query that timed out is not taken for the next one) and by the question section, which must
 * be the one asked. Every readable socket is drained with recvmmsg and the freed slots are sent
 * again with one sendmmsg, so a saturated server costs this program a few system calls per
 * batch, not per query. Times are taken once per batch (after recvmmsg, before sendmmsg).
 *
 * Output: one JSON object on stdout: counts (sent, answered, lost, late or unmatched answers,
 * wrong answers, response codes), queries per second, latency percentiles in microseconds and
 * this program's own CPU time (getrusage) per answered query. Exit status 0, 1 on an error, 2
 * on a usage error. It exits when its parent does. */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MAXBATCH	256
#define RBUFSZ		1500		/* larger answers are counted, their tail is not read */
#define HIST_US		200000		/* latency histogram: 1 us buckets up to 200 ms */
#define SCAN_NS		10000000ULL	/* look for timed-out queries every 10 ms */

struct question {			/* one query's question section, pre-encoded */
	uint8_t		*wire;
	size_t		 len;
};

struct slot {
	uint64_t	 sent_ns;	/* 0: free */
	uint32_t	 q;		/* index of the question */
	uint16_t	 id;
	uint16_t	 gen;
};

struct sock {
	int		 fd;
	unsigned	 nslots;
	unsigned	 ngen;		/* IDs are slot + nslots * gen, gen < ngen */
	struct slot	*slots;
	unsigned	*todo;		/* slots to send, ntodo of them */
	unsigned	 ntodo;
	unsigned	*idle;		/* with -Q: free slots waiting for the rate, nidle */
	unsigned	 nidle;
	uint8_t		(*hdr)[12];	/* the 12-byte header each slot sends */
};

static struct question *qs;
static size_t nqs, nextq;
static struct sock *socks;
static unsigned nsocks, batch = 64;
static uint64_t timeout_ns = 2000000000ULL;
static double rate;			/* -Q; 0: no limit */
static uint64_t rate_t0, released;	/* queries the rate has let go since rate_t0 */
static int check_addr;
static uint8_t want_addr[4];

static uint64_t hist[HIST_US + 1];	/* the last bucket: 200 ms or more */
static uint64_t sent, send_failed, answered, lost, unmatched, wrong, truncated, rcodes[16];
static uint64_t lat_sum_us, lat_max_us;

static struct mmsghdr smsg[MAXBATCH], rmsg[MAXBATCH];
static struct iovec siov[MAXBATCH][2], riov[MAXBATCH];
static uint8_t rbuf[MAXBATCH][RBUFSZ];

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void *
xcalloc(size_t n, size_t size)
{
	void *p;

	if ((p = calloc(n ? n : 1, size)) == NULL) {
		fprintf(stderr, "dnsload: out of memory\n");
		exit(1);
	}
	return p;
}

static void
usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "dnsload: %s\n", why);
	fprintf(stderr, "usage: dnsload [-s ADDR] -p PORT -d FILE [-c SOCKETS] [-q OUTSTANDING] "
	    "[-l SECONDS] [-t TIMEOUT] [-b BATCH] [-a ADDRESS] [-Q RATE]\n");
	exit(2);
}

static int
type_code(const char *t)
{
	static const struct { const char *name; int code; } types[] = {
		{ "A", 1 }, { "NS", 2 }, { "CNAME", 5 }, { "SOA", 6 }, { "PTR", 12 },
		{ "MX", 15 }, { "TXT", 16 }, { "AAAA", 28 }, { "SRV", 33 }, { "ANY", 255 },
	};
	char *end;
	long v;

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(t, types[i].name) == 0)
			return types[i].code;
	if (strncasecmp(t, "TYPE", 4) == 0)
		t += 4;
	v = strtol(t, &end, 10);
	if (*t == '\0' || *end != '\0' || v < 1 || v > 65535)
		return -1;
	return (int)v;
}

/* Encodes "NAME" and its type as a question section (class IN); 0 on success. */
static int
encode(const char *name, int type, struct question *q)
{
	uint8_t buf[256 + 4];
	size_t off = 0;
	const char *p = name, *dot;

	if (strcmp(name, ".") != 0) {
		while (*p != '\0') {
			size_t n;

			dot = strchr(p, '.');
			n = dot ? (size_t)(dot - p) : strlen(p);
			if (n == 0 || n > 63 || off + n + 2 > 255)
				return -1;
			buf[off++] = (uint8_t)n;
			memcpy(buf + off, p, n);
			off += n;
			p += n;
			if (*p == '.')
				p++;
		}
	}
	buf[off++] = 0;
	buf[off++] = (uint8_t)(type >> 8);
	buf[off++] = (uint8_t)type;
	buf[off++] = 0;
	buf[off++] = 1;
	q->wire = xcalloc(1, off);
	memcpy(q->wire, buf, off);
	q->len = off;
	return 0;
}

static void
read_names(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	size_t cap = 0, lineno = 0;

	if (f == NULL) {
		fprintf(stderr, "dnsload: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *name, *type, *save = NULL;
		int code = 1;

		lineno++;
		if ((name = strtok_r(line, " \t\r\n", &save)) == NULL || *name == '#' || *name == ';')
			continue;
		if ((type = strtok_r(NULL, " \t\r\n", &save)) != NULL &&
		    (code = type_code(type)) < 0) {
			fprintf(stderr, "dnsload: %s:%zu: unknown query type \"%s\" (a name such as A "
			    "or AAAA, or a number)\n", path, lineno, type);
			exit(1);
		}
		if (nqs == cap) {
			cap = cap ? 2 * cap : 1024;
			if ((qs = realloc(qs, cap * sizeof(*qs))) == NULL) {
				fprintf(stderr, "dnsload: out of memory\n");
				exit(1);
			}
		}
		if (encode(name, code, &qs[nqs]) != 0) {
			fprintf(stderr, "dnsload: %s:%zu: \"%s\" is not a valid domain name (labels of "
			    "1-63 bytes, 255 in all)\n", path, lineno, name);
			exit(1);
		}
		nqs++;
	}
	fclose(f);
	if (nqs == 0) {
		fprintf(stderr, "dnsload: %s: no queries (one \"NAME TYPE\" a line)\n", path);
		exit(1);
	}
}

/* Skips a (possibly compressed) name at off; returns the offset after it or 0. */
static size_t
skip_name(const uint8_t *m, size_t len, size_t off)
{
	while (off < len) {
		uint8_t n = m[off];

		if ((n & 0xc0) == 0xc0)
			return off + 2 <= len ? off + 2 : 0;
		if (n & 0xc0)
			return 0;
		if (n == 0)
			return off + 1;
		off += (size_t)n + 1;
	}
	return 0;
}

/* Whether the answer section of m holds an A record with want_addr. */
static int
has_addr(const uint8_t *m, size_t len, size_t off)
{
	unsigned an = (unsigned)(m[6] << 8 | m[7]);

	for (unsigned i = 0; i < an; i++) {
		size_t rdlen;

		if ((off = skip_name(m, len, off)) == 0 || off + 10 > len)
			return 0;
		rdlen = (size_t)(m[off + 8] << 8 | m[off + 9]);
		if (off + 10 + rdlen > len)
			return 0;
		if (m[off] == 0 && m[off + 1] == 1 && m[off + 2] == 0 && m[off + 3] == 1 &&
		    rdlen == 4 && memcmp(m + off + 10, want_addr, 4) == 0)
			return 1;
		off += 10 + rdlen;
	}
	return 0;
}

static void prepare(struct sock *, unsigned);

static void
record_latency(uint64_t ns)
{
	uint64_t us = ns / 1000;

	hist[us < HIST_US ? us : HIST_US]++;
	lat_sum_us += us;
	if (us > lat_max_us)
		lat_max_us = us;
}

/* Gives slot i of s its next question and queues it for sending (with -Q: for release()). */
static void
queue(struct sock *s, unsigned i)
{
	struct slot *sl = &s->slots[i];

	if (rate > 0) {
		sl->sent_ns = 0;
		s->idle[s->nidle++] = i;
		return;
	}
	prepare(s, i);
}

static void
flush(struct sock *s);

/* With -Q: sends as many waiting slots as the rate allows at time t, round robin. */
static void
release(uint64_t t)
{
	uint64_t allowed = (uint64_t)((double)(t - rate_t0) / 1e9 * rate);
	int more = 1;

	while (more && released < allowed) {
		more = 0;
		for (unsigned j = 0; j < nsocks && released < allowed; j++) {
			struct sock *s = &socks[j];

			if (s->nidle == 0)
				continue;
			prepare(s, s->idle[--s->nidle]);
			released++;
			more = 1;
		}
	}
	for (unsigned j = 0; j < nsocks; j++)
		flush(&socks[j]);
}

static void
prepare(struct sock *s, unsigned i)
{
	struct slot *sl = &s->slots[i];

	sl->gen = (uint16_t)((sl->gen + 1) % s->ngen);
	sl->id = (uint16_t)(i + s->nslots * sl->gen);
	sl->q = (uint32_t)nextq;
	sl->sent_ns = 0;
	if (++nextq == nqs)
		nextq = 0;
	s->hdr[i][0] = (uint8_t)(sl->id >> 8);
	s->hdr[i][1] = (uint8_t)sl->id;
	s->todo[s->ntodo++] = i;
}

static void
flush(struct sock *s)
{
	unsigned done = 0;
	uint64_t t;

	if (s->ntodo == 0)
		return;
	t = now_ns();
	while (done < s->ntodo) {
		unsigned n = s->ntodo - done < batch ? s->ntodo - done : batch;
		int m;

		for (unsigned k = 0; k < n; k++) {
			unsigned i = s->todo[done + k];

			s->slots[i].sent_ns = t;
			siov[k][0] = (struct iovec){ .iov_base = s->hdr[i], .iov_len = 12 };
			siov[k][1] = (struct iovec){ .iov_base = qs[s->slots[i].q].wire,
			    .iov_len = qs[s->slots[i].q].len };
			smsg[k].msg_hdr = (struct msghdr){ .msg_iov = siov[k], .msg_iovlen = 2 };
		}
		m = sendmmsg(s->fd, smsg, n, 0);
		if (m <= 0) {
			if (m < 0 && errno != EAGAIN && errno != ENOBUFS && errno != EINTR &&
			    errno != ECONNREFUSED) {
				fprintf(stderr, "dnsload: sendmmsg: %s\n", strerror(errno));
				exit(1);
			}
			/* Not sent: these slots time out like lost queries. */
			send_failed += n;
			done += n;
			continue;
		}
		sent += (uint64_t)m;
		done += (unsigned)m;
	}
	s->ntodo = 0;
}

/* Reads every answer waiting on s; frees and (if sending) requeues the slots answered. */
static void
drain(struct sock *s, int sending)
{
	for (;;) {
		int n;
		uint64_t t;

		for (unsigned k = 0; k < batch; k++) {
			riov[k] = (struct iovec){ .iov_base = rbuf[k], .iov_len = RBUFSZ };
			rmsg[k].msg_hdr = (struct msghdr){ .msg_iov = &riov[k], .msg_iovlen = 1 };
		}
		n = recvmmsg(s->fd, rmsg, batch, MSG_DONTWAIT, NULL);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EINTR && errno != ECONNREFUSED) {
				fprintf(stderr, "dnsload: recvmmsg: %s\n", strerror(errno));
				exit(1);
			}
			return;
		}
		t = now_ns();
		for (int k = 0; k < n; k++) {
			const uint8_t *m = rbuf[k];
			size_t len = rmsg[k].msg_len, qend;
			unsigned id, i;
			struct slot *sl;
			const struct question *q;

			if (rmsg[k].msg_hdr.msg_flags & MSG_TRUNC) {
				truncated++;
				len = RBUFSZ;
			}
			if (len < 12 || !(m[2] & 0x80)) {
				unmatched++;
				continue;
			}
			id = (unsigned)(m[0] << 8 | m[1]);
			i = id % s->nslots;
			sl = &s->slots[i];
			if (id >= s->nslots * s->ngen || sl->sent_ns == 0 || sl->id != id) {
				unmatched++;
				continue;
			}
			q = &qs[sl->q];
			qend = 12 + q->len;
			if (m[4] != 0 || m[5] != 1 || len < qend ||
			    memcmp(m + 12, q->wire, q->len) != 0) {
				unmatched++;
				continue;
			}
			answered++;
			rcodes[m[3] & 0x0f]++;
			if (check_addr && (m[3] & 0x0f) == 0 && !has_addr(m, len, qend))
				wrong++;
			record_latency(t - sl->sent_ns);
			sl->sent_ns = 0;
			if (sending)
				queue(s, i);
		}
		if (sending)
			flush(s);
		if ((unsigned)n < batch)
			return;
	}
}

/* Counts the queries older than the timeout as lost; requeues their slots if sending. */
static void
expire(uint64_t t, int sending)
{
	for (unsigned j = 0; j < nsocks; j++) {
		struct sock *s = &socks[j];

		for (unsigned i = 0; i < s->nslots; i++) {
			if (s->slots[i].sent_ns != 0 && t - s->slots[i].sent_ns >= timeout_ns) {
				lost++;
				s->slots[i].sent_ns = 0;
				if (sending)
					queue(s, i);
			}
		}
		if (sending)
			flush(s);
	}
}

static unsigned
in_flight(void)
{
	unsigned n = 0;

	for (unsigned j = 0; j < nsocks; j++)
		for (unsigned i = 0; i < socks[j].nslots; i++)
			n += socks[j].slots[i].sent_ns != 0;
	return n;
}

static uint64_t
percentile(double p)
{
	uint64_t rank, seen = 0;

	if (answered == 0)
		return 0;
	rank = (uint64_t)((p / 100.0) * (double)answered + 0.999999);
	if (rank < 1)
		rank = 1;
	for (uint64_t us = 0; us <= HIST_US; us++) {
		seen += hist[us];
		if (seen >= rank)
			return us;
	}
	return HIST_US;
}

static double
arg_num(int opt, const char *v, double min, double max)
{
	char *end;
	double d = strtod(v, &end);

	if (*v == '\0' || *end != '\0' || !(d >= min && d <= max)) {
		fprintf(stderr, "dnsload: -%c %s: expected a number from %g to %g\n", opt, v, min,
		    max);
		exit(2);
	}
	return d;
}

int
main(int argc, char **argv)
{
	static const char *rcode_names[16] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
	    "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE" };
	const char *server = "127.0.0.1", *port = NULL, *file = NULL;
	unsigned outstanding = 128, per, extra;
	double seconds = 10;
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST |
	    AI_NUMERICSERV }, *ai;
	struct rusage ru;
	uint64_t t0, t_end, t_stop, t_last_scan, t_done;
	int ep, opt, rc, buf = 4 << 20, first;
	double user, sys, elapsed;

	nsocks = 4;
	while ((opt = getopt(argc, argv, "s:p:d:c:q:l:t:b:a:Q:h")) != -1) {
		switch (opt) {
		case 's': server = optarg; break;
		case 'p': port = optarg; arg_num(opt, optarg, 1, 65535); break;
		case 'd': file = optarg; break;
		case 'c': nsocks = (unsigned)arg_num(opt, optarg, 1, 1024); break;
		case 'q': outstanding = (unsigned)arg_num(opt, optarg, 1, 1 << 20); break;
		case 'l': seconds = arg_num(opt, optarg, 0.01, 86400); break;
		case 't':
			timeout_ns = (uint64_t)(arg_num(opt, optarg, 0.001, 60) * 1e9);
			break;
		case 'b': batch = (unsigned)arg_num(opt, optarg, 1, MAXBATCH); break;
		case 'Q': rate = arg_num(opt, optarg, 1, 1e8); break;
		case 'a':
			if (inet_pton(AF_INET, optarg, want_addr) != 1)
				usage("-a: expected an IPv4 address");
			check_addr = 1;
			break;
		default: usage(NULL);
		}
	}
	if (optind != argc)
		usage("unexpected arguments");
	if (port == NULL || file == NULL)
		usage("-p PORT and -d FILE are required");
	if (outstanding < nsocks)
		usage("-q must be at least -c (every socket needs a query in flight)");
	if (outstanding / nsocks + 1 > 32768)
		usage("-q / -c must be at most 32767 (16-bit query IDs per socket)");
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		return 1;
	read_names(file);
	if ((rc = getaddrinfo(server, port, &hints, &ai)) != 0) {
		fprintf(stderr, "dnsload: -s %s: %s (an IPv4 or IPv6 address)\n", server,
		    gai_strerror(rc));
		return 2;
	}
	if ((ep = epoll_create1(0)) == -1) {
		perror("dnsload: epoll_create1");
		return 1;
	}
	socks = xcalloc(nsocks, sizeof(*socks));
	per = outstanding / nsocks;
	extra = outstanding % nsocks;
	for (unsigned j = 0; j < nsocks; j++) {
		struct sock *s = &socks[j];
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = j };

		s->nslots = per + (j < extra);
		s->ngen = 65536 / s->nslots;
		s->slots = xcalloc(s->nslots, sizeof(*s->slots));
		s->todo = xcalloc(s->nslots, sizeof(*s->todo));
		s->hdr = xcalloc(s->nslots, sizeof(*s->hdr));
		s->idle = xcalloc(s->nslots, sizeof(*s->idle));
		for (unsigned i = 0; i < s->nslots; i++) {
			/* RD, one question, nothing else: what dnsperf sends without -e */
			static const uint8_t h[12] = { 0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };

			memcpy(s->hdr[i], h, 12);
			s->slots[i].gen = (uint16_t)(j % s->ngen);
		}
		if ((s->fd = socket(ai->ai_family, SOCK_DGRAM, 0)) == -1 ||
		    connect(s->fd, ai->ai_addr, ai->ai_addrlen) == -1) {
			fprintf(stderr, "dnsload: %s port %s: %s\n", server, port, strerror(errno));
			return 1;
		}
		setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
		setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
		if (epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev) == -1) {
			perror("dnsload: epoll_ctl");
			return 1;
		}
	}
	freeaddrinfo(ai);

	t0 = now_ns();
	t_stop = t0 + (uint64_t)(seconds * 1e9);
	t_last_scan = t0;
	rate_t0 = t0;
	for (unsigned j = 0; j < nsocks; j++) {
		for (unsigned i = 0; i < socks[j].nslots; i++)
			queue(&socks[j], i);
		flush(&socks[j]);
	}
	/* Sending until t_stop, then waiting for what is in flight until t_stop + timeout. */
	t_end = t_stop + timeout_ns;
	for (;;) {
		struct epoll_event evs[64];
		uint64_t t = now_ns();
		int sending = t < t_stop, n, wait_ms;

		if (!sending && (t >= t_end || in_flight() == 0))
			break;
		if (t - t_last_scan >= SCAN_NS) {
			expire(t, sending);
			t_last_scan = t;
		}
		if (sending && rate > 0)
			release(t);
		wait_ms = (int)(((sending ? t_stop : t_end) - t) / 1000000ULL) + 1;
		if (wait_ms > 10)
			wait_ms = 10;
		if (sending && rate > 0)
			wait_ms = 1;
		n = epoll_wait(ep, evs, 64, wait_ms);
		if (n < 0 && errno != EINTR) {
			perror("dnsload: epoll_wait");
			return 1;
		}
		for (int k = 0; k < n; k++)
			drain(&socks[evs[k].data.u32], sending);
	}
	t_done = now_ns();
	lost += in_flight();
	getrusage(RUSAGE_SELF, &ru);
	user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	elapsed = (double)(t_done - t0) / 1e9;

	printf("{\"server\": \"%s\", \"port\": %s, \"queries_file\": %zu, \"sockets\": %u, "
	    "\"outstanding\": %u, \"batch\": %u, \"rate\": %g, \"seconds\": %.6f, "
	    "\"send_seconds\": %g, \"timeout\": %g,\n", server, port, nqs, nsocks, outstanding,
	    batch, rate, elapsed, seconds, (double)timeout_ns / 1e9);
	printf(" \"sent\": %llu, \"send_failed\": %llu, \"answered\": %llu, \"lost\": %llu, "
	    "\"unmatched\": %llu, \"truncated\": %llu, ", (unsigned long long)sent,
	    (unsigned long long)send_failed, (unsigned long long)answered,
	    (unsigned long long)lost, (unsigned long long)unmatched,
	    (unsigned long long)truncated);
	if (check_addr)
		printf("\"wrong_address\": %llu,\n", (unsigned long long)wrong);
	else
		printf("\"wrong_address\": null,\n");
	printf(" \"rcodes\": {");
	first = 1;
	for (int r = 0; r < 16; r++) {
		if (rcodes[r] == 0)
			continue;
		if (rcode_names[r] != NULL)
			printf("%s\"%s\": %llu", first ? "" : ", ", rcode_names[r],
			    (unsigned long long)rcodes[r]);
		else
			printf("%s\"RCODE%d\": %llu", first ? "" : ", ", r,
			    (unsigned long long)rcodes[r]);
		first = 0;
	}
	printf("},\n \"qps\": %.1f,\n", elapsed > 0 ? (double)answered / elapsed : 0.0);
	printf(" \"latency_us\": {\"p50\": %llu, \"p90\": %llu, \"p99\": %llu, \"p999\": %llu, "
	    "\"max\": %llu, \"mean\": %.1f},\n", (unsigned long long)percentile(50),
	    (unsigned long long)percentile(90), (unsigned long long)percentile(99),
	    (unsigned long long)percentile(99.9), (unsigned long long)lat_max_us,
	    answered ? (double)lat_sum_us / (double)answered : 0.0);
	printf(" \"cpu\": {\"user\": %.3f, \"system\": %.3f, \"us_per_query\": %.3f}}\n", user, sys,
	    answered ? (user + sys) * 1e6 / (double)answered : 0.0);
	return 0;
}
