/* tcpbench.c: the TCP origin and load generators of the tunnel and memory comparisons
 * (bench/tunnel.py, bench/memory.py): a small echo server, a round-trip client, a
 * connection-time client and a client that holds many idle connections. Everything is on
 * 127.0.0.1; every mode exits when its parent (the harness) does. Built by the harness at run
 * time with `cc -O2`.
 *
 *     tcpbench echo NPORTS
 *         listens on NPORTS ephemeral ports of 127.0.0.1 and prints them on one line; echoes
 *         every byte back on every connection (epoll, one thread, TCP_NODELAY)
 *     tcpbench rtt PORT SECONDS SIZE
 *         one connection; SIZE bytes there and back, again and again, for SECONDS (after a
 *         warm-up of 200 round trips); prints the count and the percentiles in microseconds
 *     tcpbench connect PORT COUNT PARALLEL SIZE
 *         COUNT new connections, PARALLEL at a time: connect, SIZE bytes there and back, close.
 *         The time of each is from connect() to the last byte of the answer.
 *     tcpbench hold
 *         reads commands on standard input and answers each with one line:
 *           open PORT N CONC RATE   opens N more connections (CONC at a time, at most RATE new
 *                                   ones per second, 0: no limit); each counts once one byte
 *                                   went there and back
 *           check TIMEOUT_MS        one byte there and back on every open connection at once
 *           close                   closes them all
 *
 * Results are one line of key=value pairs; latencies in microseconds. */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_NS	(10ULL * 1000000000ULL)	/* a connection that takes longer failed */

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void *
xrealloc(void *p, size_t n)
{
	if ((p = realloc(p, n)) == NULL) {
		fprintf(stderr, "tcpbench: out of memory\n");
		exit(1);
	}
	return p;
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void
nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static struct sockaddr_in
loopback(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };

	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sin;
}

/* --- latency samples --------------------------------------------------------------------- */

struct samples {
	uint64_t	*v;
	size_t		 n, cap;
};

static void
sample_add(struct samples *s, uint64_t ns)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4096;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = ns;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The nearest-rank percentile p (0-100] of sorted samples, in microseconds. */
static double
pct(const struct samples *s, double p)
{
	size_t k;

	if (s->n == 0)
		return -1;
	k = (size_t)((p * (double)s->n + 99.999999) / 100.0);
	if (k < 1)
		k = 1;
	if (k > s->n)
		k = s->n;
	return (double)s->v[k - 1] / 1000.0;
}

static void
print_samples(const struct samples *s)
{
	double sum = 0;

	qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
	for (size_t i = 0; i < s->n; i++)
		sum += (double)s->v[i];
	printf(" count=%zu p50=%.2f p90=%.2f p99=%.2f p999=%.2f max=%.2f mean=%.2f", s->n,
	    pct(s, 50), pct(s, 90), pct(s, 99), pct(s, 99.9), pct(s, 100),
	    s->n ? sum / (double)s->n / 1000.0 : -1.0);
}

/* --- echo ---------------------------------------------------------------------------------- */

struct pending {
	char		*buf;
	size_t		 len, off;
};

static int
echo_main(int nports)
{
	struct epoll_event ev, evs[256];
	struct pending *pend = NULL;
	size_t npend = 0;
	static char buf[65536];
	int ep, *lfds;

	if (nports < 1 || nports > 64) {
		fprintf(stderr, "tcpbench echo: 1 to 64 ports\n");
		return 2;
	}
	lfds = xrealloc(NULL, sizeof(*lfds) * (size_t)nports);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		perror("epoll_create1");
		return 1;
	}
	for (int i = 0; i < nports; i++) {
		struct sockaddr_in sin = loopback(0);
		socklen_t len = sizeof(sin);
		int one = 1;

		if ((lfds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 ||
		    setsockopt(lfds[i], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
		    bind(lfds[i], (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
		    listen(lfds[i], 4096) == -1 ||
		    getsockname(lfds[i], (struct sockaddr *)&sin, &len) == -1) {
			perror("tcpbench echo: listen");
			return 1;
		}
		ev.events = EPOLLIN;
		ev.data.u64 = (uint64_t)1 << 32 | (uint32_t)lfds[i];
		epoll_ctl(ep, EPOLL_CTL_ADD, lfds[i], &ev);
		printf("%s%u", i ? " " : "", ntohs(sin.sin_port));
	}
	printf("\n");
	fflush(stdout);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		for (int i = 0; i < n; i++) {
			int fd = (int)(uint32_t)evs[i].data.u64;

			if (evs[i].data.u64 >> 32) {
				int c;

				while ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					nodelay(c);
					ev.events = EPOLLIN;
					ev.data.u64 = (uint32_t)c;
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				}
				if (errno == EMFILE || errno == ENFILE)
					fprintf(stderr, "tcpbench echo: accept: %s\n", strerror(errno));
				continue;
			}
			if ((size_t)fd >= npend) {
				size_t nn = (size_t)fd * 2 + 64;
				pend = xrealloc(pend, nn * sizeof(*pend));
				memset(pend + npend, 0, (nn - npend) * sizeof(*pend));
				npend = nn;
			}
			struct pending *p = &pend[fd];
			if (p->len > p->off) {		/* writable again: send what is left */
				ssize_t w = write(fd, p->buf + p->off, p->len - p->off);
				if (w < 0 && errno != EAGAIN)
					goto drop;
				if (w > 0)
					p->off += (size_t)w;
				if (p->off < p->len)
					continue;
				p->len = p->off = 0;
				ev.events = EPOLLIN;
				ev.data.u64 = (uint32_t)fd;
				epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
				continue;
			}
			ssize_t r = read(fd, buf, sizeof(buf));
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
				goto drop;
			if (r < 0)
				continue;
			ssize_t w = write(fd, buf, (size_t)r);
			if (w < 0 && errno != EAGAIN)
				goto drop;
			if (w < 0)
				w = 0;
			if (w < r) {		/* the peer reads slowly: wait, stop reading */
				p->buf = xrealloc(p->buf, (size_t)(r - w));
				memcpy(p->buf, buf + w, (size_t)(r - w));
				p->len = (size_t)(r - w);
				p->off = 0;
				ev.events = EPOLLOUT;
				ev.data.u64 = (uint32_t)fd;
				epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
			}
			continue;
drop:
			if ((size_t)fd < npend) {
				free(pend[fd].buf);
				pend[fd] = (struct pending){ 0 };
			}
			close(fd);
		}
	}
}

/* --- rtt ---------------------------------------------------------------------------------- */

static int
full_io(int fd, char *buf, size_t len, int writing)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = writing ? write(fd, buf + done, len - done) : read(fd, buf + done,
		    len - done);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

static int
rtt_main(int port, double seconds, size_t size)
{
	struct sockaddr_in sin = loopback(port);
	struct samples s = { 0 };
	char *out = xrealloc(NULL, size), *in = xrealloc(NULL, size);
	uint64_t t0, end;
	int fd;

	memset(out, 'x', size);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		perror("tcpbench rtt: connect");
		return 1;
	}
	nodelay(fd);
	for (int i = 0; i < 200; i++)
		if (full_io(fd, out, size, 1) == -1 || full_io(fd, in, size, 0) == -1) {
			fprintf(stderr, "tcpbench rtt: the connection ended during the warm-up\n");
			return 1;
		}
	end = now_ns() + (uint64_t)(seconds * 1e9);
	while ((t0 = now_ns()) < end) {
		if (full_io(fd, out, size, 1) == -1 || full_io(fd, in, size, 0) == -1) {
			fprintf(stderr, "tcpbench rtt: the connection ended\n");
			return 1;
		}
		sample_add(&s, now_ns() - t0);
	}
	close(fd);
	printf("ok=1");
	print_samples(&s);
	printf("\n");
	return 0;
}

/* --- connect -------------------------------------------------------------------------------- */

struct slot {
	int		 fd;
	int		 state;		/* 0 free, 1 connecting, 2 waiting for the answer */
	uint64_t	 t0;
	size_t		 got;
};

static int
slot_start(int ep, struct slot *sl, int idx, const struct sockaddr_in *sin)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = (uint32_t)idx };

	sl->t0 = now_ns();
	sl->got = 0;
	if ((sl->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	nodelay(sl->fd);
	if (connect(sl->fd, (const struct sockaddr *)sin, sizeof(*sin)) == -1 &&
	    errno != EINPROGRESS) {
		close(sl->fd);
		return -1;
	}
	sl->state = 1;
	epoll_ctl(ep, EPOLL_CTL_ADD, sl->fd, &ev);
	return 0;
}

static int
connect_main(int port, long count, int parallel, size_t size)
{
	struct sockaddr_in sin = loopback(port);
	struct samples s = { 0 };
	struct slot *slots;
	struct epoll_event evs[256];
	char *out = xrealloc(NULL, size), buf[65536];
	long started = 0, failed = 0, done = 0, active = 0;
	uint64_t t_begin = now_ns(), t_end;
	int ep = epoll_create1(EPOLL_CLOEXEC);

	memset(out, 'x', size);
	if (parallel < 1)
		parallel = 1;
	if (parallel > count)
		parallel = (int)count;
	slots = calloc((size_t)parallel, sizeof(*slots));
	for (int i = 0; i < parallel && started < count; i++) {
		started++;
		if (slot_start(ep, &slots[i], i, &sin) == -1)
			failed++, done++;
		else
			active++;
	}
	while (active > 0) {
		int n = epoll_wait(ep, evs, 256, 100);
		uint64_t now = now_ns();

		for (int i = 0; i < n; i++) {
			struct slot *sl = &slots[evs[i].data.u32];
			int finished = 0, ok = 0;

			if (sl->state == 1) {
				int err = 0;
				socklen_t len = sizeof(err);
				getsockopt(sl->fd, SOL_SOCKET, SO_ERROR, &err, &len);
				if (err != 0 || write(sl->fd, out, size) != (ssize_t)size)
					finished = 1;
				else {
					struct epoll_event ev = { .events = EPOLLIN,
					    .data.u32 = evs[i].data.u32 };
					sl->state = 2;
					epoll_ctl(ep, EPOLL_CTL_MOD, sl->fd, &ev);
				}
			} else if (sl->state == 2) {
				ssize_t r = read(sl->fd, buf, sizeof(buf));
				if (r > 0) {
					sl->got += (size_t)r;
					if (sl->got >= size)
						finished = ok = 1;
				} else if (r == 0 || errno != EAGAIN)
					finished = 1;
			}
			if (!finished)
				continue;
			if (ok)
				sample_add(&s, now_ns() - sl->t0);
			else
				failed++;
			close(sl->fd);
			sl->state = 0;
			done++;
			active--;
			while (started < count) {
				started++;
				if (slot_start(ep, sl, (int)evs[i].data.u32, &sin) == 0) {
					active++;
					break;
				}
				failed++, done++;
			}
		}
		now = now_ns();
		for (int i = 0; i < parallel; i++) {
			struct slot *sl = &slots[i];
			if (sl->state != 0 && now > sl->t0 + TIMEOUT_NS) {
				close(sl->fd);
				sl->state = 0;
				failed++, done++, active--;
				while (started < count) {
					started++;
					if (slot_start(ep, sl, i, &sin) == 0) {
						active++;
						break;
					}
					failed++, done++;
				}
			}
		}
	}
	t_end = now_ns();
	printf("ok=%zu failed=%ld seconds=%.6f rate=%.1f", s.n, failed,
	    (double)(t_end - t_begin) / 1e9, (double)s.n / ((double)(t_end - t_begin) / 1e9));
	print_samples(&s);
	printf("\n");
	return 0;
}

/* --- hold ----------------------------------------------------------------------------------- */

struct held {
	int		*fd;
	size_t		 n, cap;
	int		 ep;
};

static void
held_add(struct held *h, int fd)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 1024;
		h->fd = xrealloc(h->fd, h->cap * sizeof(*h->fd));
	}
	h->fd[h->n++] = fd;
}

/* Opens n connections to port, conc at a time, at most rate per second. */
static void
hold_open(struct held *h, int port, long n, int conc, double rate)
{
	struct sockaddr_in sin = loopback(port);
	struct epoll_event evs[256];
	struct slot *slots = calloc((size_t)(conc < 1 ? 1 : conc), sizeof(*slots));
	long started = 0, ok = 0, failed = 0, active = 0;
	uint64_t t_begin = now_ns();
	int ep = epoll_create1(EPOLL_CLOEXEC);
	char c = 'h';

	if (conc < 1)
		conc = 1;
	while (started < n || active > 0) {
		uint64_t now = now_ns();

		/* Start what the rate and the concurrency allow. */
		for (int i = 0; i < conc && started < n; i++) {
			if (slots[i].state != 0)
				continue;
			if (rate > 0 && (double)(now - t_begin) / 1e9 * rate < (double)started)
				break;
			started++;
			if (slot_start(ep, &slots[i], i, &sin) == -1)
				failed++;
			else
				active++;
		}
		int k = epoll_wait(ep, evs, 256, rate > 0 ? 2 : 100);
		now = now_ns();
		for (int i = 0; i < k; i++) {
			struct slot *sl = &slots[evs[i].data.u32];
			int finished = 0, good = 0;

			if (sl->state == 1) {
				int err = 0;
				socklen_t len = sizeof(err);
				getsockopt(sl->fd, SOL_SOCKET, SO_ERROR, &err, &len);
				if (err != 0 || write(sl->fd, &c, 1) != 1)
					finished = 1;
				else {
					struct epoll_event ev = { .events = EPOLLIN,
					    .data.u32 = evs[i].data.u32 };
					sl->state = 2;
					epoll_ctl(ep, EPOLL_CTL_MOD, sl->fd, &ev);
				}
			} else if (sl->state == 2) {
				char b;
				ssize_t r = read(sl->fd, &b, 1);
				if (r == 1)
					finished = good = 1;
				else if (r == 0 || errno != EAGAIN)
					finished = 1;
			}
			if (!finished)
				continue;
			epoll_ctl(ep, EPOLL_CTL_DEL, sl->fd, NULL);
			if (good) {
				struct epoll_event ev = { .events = EPOLLIN, .data.fd = sl->fd };
				held_add(h, sl->fd);
				epoll_ctl(h->ep, EPOLL_CTL_ADD, sl->fd, &ev);
				ok++;
			} else {
				close(sl->fd);
				failed++;
			}
			sl->state = 0;
			active--;
		}
		now = now_ns();
		for (int i = 0; i < conc; i++) {
			struct slot *sl = &slots[i];
			if (sl->state != 0 && now > sl->t0 + TIMEOUT_NS) {
				close(sl->fd);
				sl->state = 0;
				failed++, active--;
			}
		}
	}
	close(ep);
	free(slots);
	printf("ok=%ld failed=%ld held=%zu seconds=%.3f\n", ok, failed, h->n,
	    (double)(now_ns() - t_begin) / 1e9);
}

/* One byte there and back on every held connection at once. */
static void
hold_check(struct held *h, long timeout_ms)
{
	struct epoll_event evs[256];
	struct samples s = { 0 };
	long answered = 0, dead = 0;
	uint64_t t0 = now_ns(), deadline = t0 + (uint64_t)timeout_ms * 1000000ULL;
	char c = 'c';
	char *seen = calloc(h->n ? h->n : 1, 1);
	int maxfd = 0;

	for (size_t i = 0; i < h->n; i++)
		if (h->fd[i] > maxfd)
			maxfd = h->fd[i];
	/* fd -> index */
	long *idx = malloc(sizeof(long) * ((size_t)maxfd + 1));
	for (size_t i = 0; i < h->n; i++)
		idx[h->fd[i]] = (long)i;
	for (size_t i = 0; i < h->n; i++)
		if (write(h->fd[i], &c, 1) != 1) {
			seen[i] = 2;
			dead++;
		}
	while (answered + dead < (long)h->n) {
		uint64_t now = now_ns();
		if (now >= deadline)
			break;
		int k = epoll_wait(h->ep, evs, 256, (int)((deadline - now) / 1000000ULL) + 1);
		now = now_ns();
		for (int i = 0; i < k; i++) {
			int fd = evs[i].data.fd;
			char b[16];
			ssize_t r = read(fd, b, sizeof(b));
			long j = idx[fd];
			if (r > 0 && seen[j] == 0) {
				seen[j] = 1;
				answered++;
				sample_add(&s, now - t0);
			} else if ((r == 0 || (r < 0 && errno != EAGAIN)) && seen[j] != 2) {
				if (seen[j] == 1)
					answered--;
				seen[j] = 2;
				dead++;
				epoll_ctl(h->ep, EPOLL_CTL_DEL, fd, NULL);
			}
		}
	}
	printf("held=%zu answered=%ld dead=%ld seconds=%.3f", h->n, answered, dead,
	    (double)(now_ns() - t0) / 1e9);
	print_samples(&s);
	printf("\n");
	free(idx);
	free(seen);
	free(s.v);
}

static int
hold_main(void)
{
	struct held h = { 0 };
	char line[256];

	h.ep = epoll_create1(EPOLL_CLOEXEC);
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		int port, conc;
		long n, t;
		double rate;

		if (sscanf(line, "open %d %ld %d %lf", &port, &n, &conc, &rate) == 4)
			hold_open(&h, port, n, conc, rate);
		else if (sscanf(line, "check %ld", &t) == 1)
			hold_check(&h, t);
		else if (strncmp(line, "close", 5) == 0) {
			for (size_t i = 0; i < h.n; i++)
				close(h.fd[i]);
			printf("closed=%zu\n", h.n);
			h.n = 0;
		} else
			printf("error=unknown-command\n");
	}
	return 0;
}

int
main(int argc, char **argv)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	if (argc == 3 && strcmp(argv[1], "echo") == 0)
		return echo_main(atoi(argv[2]));
	if (argc == 5 && strcmp(argv[1], "rtt") == 0)
		return rtt_main(atoi(argv[2]), atof(argv[3]), (size_t)atol(argv[4]));
	if (argc == 6 && strcmp(argv[1], "connect") == 0)
		return connect_main(atoi(argv[2]), atol(argv[3]), atoi(argv[4]),
		    (size_t)atol(argv[5]));
	if (argc == 2 && strcmp(argv[1], "hold") == 0)
		return hold_main();
	fprintf(stderr, "usage: tcpbench echo NPORTS | rtt PORT SECONDS SIZE | "
	    "connect PORT COUNT PARALLEL SIZE | hold\n");
	return 2;
}
