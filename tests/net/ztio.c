/* ztio: the traffic helper of the path tests (tests/integration/path-*.sh): an origin server
 * and clients that move deterministic pseudo-random bytes and compare SHA-256 digests of what
 * was sent and what arrived. Built by the tests with `cc ztio.c -lcrypto`. */
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

static const char usage[] =
"usage: ztio serve PORTFILE\n"
"       ztio up|down|echo HOST PORT BYTES SEED [--rate BYTES/S] [--progress FILE AFTER\n"
"                                                 [--hold FILE]]\n"
"       ztio many HOST PORT STREAMS BYTES\n"
"       ztio rtt HOST PORT COUNT\n"
"\n"
"serve   an origin on 127.0.0.1 (port written to PORTFILE); each connection starts with a\n"
"        line: \"sink SEED\" (reply \"BYTES SHA256\" at EOF,\n"
"        and log how the upload ended), \"source BYTES SEED\", or \"echo\"\n"
"up      send BYTES to a sink and compare its digest with ours\n"
"down    read BYTES from a source and compare digests\n"
"echo    send BYTES to an echo while reading them back, compare digests\n"
"many    STREAMS echo connections at once, each with its own seed\n"
"--progress FILE AFTER   create FILE once AFTER bytes went (up) or came back (down, echo);\n"
"--hold FILE             then pause until FILE exists\n"
"rtt     COUNT round trips of 100 bytes through an echo: prints the median in ms\n"
"\n"
"Clients exit 0 when the digests match, 1 on a mismatch, 2 when they cannot connect,\n"
"3 on a connection error (reset) before the end, 4 on a clean EOF before the end\n"
"(silent truncation).\n";

enum {
	E_OK = 0,
	E_MISMATCH = 1,
	E_CONNECT = 2,
	E_ERROR = 3,
	E_SHORT = 4,
	E_USAGE = 64,
};

#define CHUNK	(64 * 1024)

/* --- the byte stream: xorshift64* from a seed, the same at both ends ------------------- */

struct gen {
	uint64_t	 x;
	uint8_t		 buf[8];
	size_t		 left;
};

static void
gen_init(struct gen *g, uint64_t seed)
{
	g->x = seed * 0x9e3779b97f4a7c15ULL + 0x2545f4914f6cdd1dULL;
	if (g->x == 0)
		g->x = 1;
	g->left = 0;
}

static void
gen_fill(struct gen *g, uint8_t *p, size_t n)
{
	while (n > 0 && g->left > 0) {
		*p++ = g->buf[8 - g->left--];
		n--;
	}
	while (n >= 8) {
		g->x ^= g->x >> 12;
		g->x ^= g->x << 25;
		g->x ^= g->x >> 27;
		uint64_t v = g->x * 0x2545f4914f6cdd1dULL;
		memcpy(p, &v, 8);
		p += 8;
		n -= 8;
	}
	if (n > 0) {
		g->x ^= g->x >> 12;
		g->x ^= g->x << 25;
		g->x ^= g->x >> 27;
		uint64_t v = g->x * 0x2545f4914f6cdd1dULL;
		memcpy(g->buf, &v, 8);
		g->left = 8;
		while (n-- > 0)
			*p++ = g->buf[8 - g->left--];
	}
}

/* --- SHA-256 ---------------------------------------------------------------------------- */

struct digest {
	EVP_MD_CTX	*ctx;
	uint64_t	 bytes;
};

static void
digest_init(struct digest *d)
{
	if ((d->ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL) != 1) {
		fprintf(stderr, "ztio: cannot set up SHA-256\n");
		exit(E_USAGE);
	}
	d->bytes = 0;
}

static void
digest_add(struct digest *d, const void *p, size_t n)
{
	EVP_DigestUpdate(d->ctx, p, n);
	d->bytes += n;
}

/* Finishes d into hex (65 bytes). */
static void
digest_hex(struct digest *d, char *hex)
{
	unsigned char md[32];
	unsigned int len = 0;

	EVP_DigestFinal_ex(d->ctx, md, &len);
	EVP_MD_CTX_free(d->ctx);
	d->ctx = NULL;
	for (unsigned int i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
}

/* The digest of the first n bytes of the stream of seed. */
static void
expected_hex(uint64_t seed, uint64_t n, char *hex)
{
	static uint8_t buf[CHUNK];
	struct digest d;
	struct gen g;

	gen_init(&g, seed);
	digest_init(&d);
	while (n > 0) {
		size_t k = n < CHUNK ? (size_t)n : CHUNK;
		gen_fill(&g, buf, k);
		digest_add(&d, buf, k);
		n -= k;
	}
	digest_hex(&d, hex);
}

/* --- helpers ---------------------------------------------------------------------------- */

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool
parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno == 0 && end != s && *end == '\0';
}

static bool
write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return false;
		}
		c += w;
		n -= (size_t)w;
	}
	return true;
}

/* Sleeps as long as needed to keep done bytes since start at or below rate per second. */
static void
pace(double start, uint64_t done, uint64_t rate)
{
	double ahead;

	if (rate == 0)
		return;
	ahead = (double)done / (double)rate - (now() - start);
	if (ahead > 0)
		usleep((useconds_t)(ahead * 1e6));
}

struct opts {
	uint64_t	 rate;
	const char	*progress;
	uint64_t	 after;
	bool		 progressed;
	const char	*hold;
};

/* Past AFTER bytes: writes the progress file, then (--hold) waits for the hold file. */
static void
progress(struct opts *o, uint64_t done)
{
	FILE *f;

	if (o->progress == NULL || o->progressed || done < o->after)
		return;
	o->progressed = true;
	if ((f = fopen(o->progress, "w")) != NULL) {
		fprintf(f, "%" PRIu64 "\n", done);
		fclose(f);
	}
	/* Not forever: a test that failed before creating the file must not leave us behind. */
	for (int i = 0; o->hold != NULL && access(o->hold, F_OK) != 0; i++) {
		if (i == 6000) {
			printf("hold: %s did not appear within 120 s\n", o->hold);
			exit(E_USAGE);
		}
		usleep(20000);
	}
}

/* --- the origin ------------------------------------------------------------------------- */

static void
serve_conn(int fd)
{
	static uint8_t buf[CHUNK];
	char line[128], hex[65];
	size_t len = 0;
	uint64_t n, seed;

	/* The command line, read byte by byte so that no data after it is taken. */
	for (;;) {
		ssize_t r = read(fd, line + len, 1);
		if (r <= 0)
			_exit(1);
		if (line[len] == '\n')
			break;
		if (++len >= sizeof(line) - 1)
			_exit(1);
	}
	line[len] = '\0';
	if (sscanf(line, "sink %" SCNu64, &seed) == 1) {
		struct digest d;
		ssize_t r;

		digest_init(&d);
		while ((r = read(fd, buf, sizeof(buf))) > 0)
			digest_add(&d, buf, (size_t)r);
		/* What the origin saw of an upload that did not finish: an error or an EOF. */
		if (r == -1) {
			fprintf(stderr, "sink %" PRIu64 ": error after %" PRIu64 " bytes: %s\n",
			    seed, d.bytes, strerror(errno));
			_exit(1);
		}
		fprintf(stderr, "sink %" PRIu64 ": EOF after %" PRIu64 " bytes\n", seed, d.bytes);
		n = d.bytes;
		digest_hex(&d, hex);
		len = (size_t)snprintf(line, sizeof(line), "%" PRIu64 " %s\n", n, hex);
		write_all(fd, line, len);
	} else if (sscanf(line, "source %" SCNu64 " %" SCNu64, &n, &seed) == 2) {
		struct gen g;

		gen_init(&g, seed);
		while (n > 0) {
			size_t k = n < sizeof(buf) ? (size_t)n : sizeof(buf);
			gen_fill(&g, buf, k);
			if (!write_all(fd, buf, k))
				_exit(1);
			n -= k;
		}
	} else if (strcmp(line, "echo") == 0) {
		ssize_t r;

		while ((r = read(fd, buf, sizeof(buf))) > 0)
			if (!write_all(fd, buf, (size_t)r))
				_exit(1);
	} else
		_exit(1);
	shutdown(fd, SHUT_WR);
	/* Wait for the peer's close so the FIN is not followed by a reset. */
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	_exit(0);
}

static int
serve(const char *portfile)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	char tmp[4096];
	FILE *f;
	int lfd, one = 1;

	signal(SIGCHLD, SIG_IGN);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd == -1 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 512) == -1 || getsockname(lfd, (struct sockaddr *)&sin, &slen) == -1) {
		perror("ztio serve");
		return 1;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
	if ((f = fopen(tmp, "w")) == NULL || fprintf(f, "%u\n", ntohs(sin.sin_port)) < 0 ||
	    fclose(f) != 0 || rename(tmp, portfile) == -1) {
		perror(portfile);
		return 1;
	}
	for (;;) {
		int fd = accept(lfd, NULL, NULL);

		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("ztio accept");
			return 1;
		}
		switch (fork()) {
		case -1:
			perror("ztio fork");
			close(fd);
			break;
		case 0:
			close(lfd);
			serve_conn(fd);
			break;
		default:
			close(fd);
		}
	}
}

/* --- clients ---------------------------------------------------------------------------- */

static int
dial(const char *host, const char *port)
{
	struct sockaddr_in sin;
	uint64_t p;
	int fd, one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1 || !parse_u64(port, &p) || p == 0 ||
	    p > 65535) {
		fprintf(stderr, "ztio: give a numeric IPv4 address and a port\n");
		exit(E_USAGE);
	}
	sin.sin_port = htons((uint16_t)p);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		printf("connect %s:%s: %s\n", host, port, strerror(errno));
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* What a read that ended early means: 3 for an error, 4 for a clean EOF. */
static int
early_end(const char *what, ssize_t r, uint64_t got, uint64_t want)
{
	if (r == 0) {
		printf("%s: clean EOF after %" PRIu64 " of %" PRIu64 " bytes (silent "
		    "truncation)\n", what, got, want);
		return E_SHORT;
	}
	printf("%s: error after %" PRIu64 " of %" PRIu64 " bytes: %s\n", what, got, want,
	    strerror(errno));
	return E_ERROR;
}

static int
run_up(int fd, uint64_t n, uint64_t seed, struct opts *o)
{
	static uint8_t buf[CHUNK];
	char reply[128], hex[65], theirs[65];
	struct digest d;
	struct gen g;
	uint64_t sent = 0, count;
	size_t len = 0;
	double start = now();
	ssize_t r;

	len = (size_t)snprintf(reply, sizeof(reply), "sink %" PRIu64 "\n", seed);
	if (!write_all(fd, reply, len))
		return early_end("up", -1, 0, n);
	len = 0;
	gen_init(&g, seed);
	digest_init(&d);
	while (sent < n) {
		size_t k = n - sent < sizeof(buf) ? (size_t)(n - sent) : sizeof(buf);
		gen_fill(&g, buf, k);
		digest_add(&d, buf, k);
		if (!write_all(fd, buf, k)) {
			printf("up: write error after %" PRIu64 " of %" PRIu64 " bytes: %s\n",
			    sent, n, strerror(errno));
			return E_ERROR;
		}
		sent += k;
		progress(o, sent);
		pace(start, sent, o->rate);
	}
	digest_hex(&d, hex);
	shutdown(fd, SHUT_WR);
	while (len < sizeof(reply) - 1 && (r = read(fd, reply + len, sizeof(reply) - 1 - len)) > 0)
		len += (size_t)r;
	reply[len] = '\0';
	if (len == 0)
		return early_end("up: the sink's digest", r, 0, 1);
	if (sscanf(reply, "%" SCNu64 " %64s", &count, theirs) != 2) {
		printf("up: a bad reply from the sink: %.64s\n", reply);
		return E_MISMATCH;
	}
	if (count != n || strcmp(theirs, hex) != 0) {
		printf("up: MISMATCH: sent %" PRIu64 " bytes sha256 %s, the origin got %" PRIu64
		    " sha256 %s\n", n, hex, count, theirs);
		return E_MISMATCH;
	}
	printf("up: %" PRIu64 " bytes sha256 %s match (%.1f s)\n", n, hex, now() - start);
	return E_OK;
}

static int
run_down(int fd, uint64_t n, uint64_t seed, struct opts *o)
{
	static uint8_t buf[CHUNK];
	char cmd[80], hex[65], want[65];
	struct digest d;
	double start = now();
	ssize_t r = 0;
	int len;

	len = snprintf(cmd, sizeof(cmd), "source %" PRIu64 " %" PRIu64 "\n", n, seed);
	if (!write_all(fd, cmd, (size_t)len))
		return early_end("down", -1, 0, n);
	digest_init(&d);
	for (;;) {
		size_t k = sizeof(buf);
		if (o->rate != 0 && k > o->rate / 20 + 1)
			k = o->rate / 20 + 1;
		if ((r = read(fd, buf, k)) <= 0)
			break;
		digest_add(&d, buf, (size_t)r);
		progress(o, d.bytes);
		pace(start, d.bytes, o->rate);
	}
	if (r == -1 || d.bytes < n)
		return early_end("down", r, d.bytes, n);
	digest_hex(&d, hex);
	expected_hex(seed, n, want);
	if (d.bytes != n || strcmp(hex, want) != 0) {
		printf("down: MISMATCH: got %" PRIu64 " bytes sha256 %s, the origin sent %" PRIu64
		    " sha256 %s\n", d.bytes, hex, n, want);
		return E_MISMATCH;
	}
	printf("down: %" PRIu64 " bytes sha256 %s match (%.1f s)\n", n, hex, now() - start);
	return E_OK;
}

/* Sends n bytes to an echo while reading them back (poll: neither side blocks the other).
 * With --progress, no more than AFTER bytes are sent until they all came back: a held stream
 * has nothing in flight and has not sent its FIN, however large the buffers on the way. */
static int
run_echo(int fd, uint64_t n, uint64_t seed, struct opts *o)
{
	static uint8_t out[CHUNK], in[CHUNK];
	char hex_out[65], hex_in[65];
	struct digest dout, din;
	struct gen g;
	uint64_t sent = 0;
	size_t olen = 0, ooff = 0;
	bool shut = false;
	double start = now();

	if (!write_all(fd, "echo\n", 5))
		return early_end("echo", -1, 0, n);
	gen_init(&g, seed);
	digest_init(&dout);
	digest_init(&din);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t limit = n;
		ssize_t r;

		if (o->progress != NULL && !o->progressed && o->after < n)
			limit = o->after;
		if (!shut && sent == n && ooff == olen) {
			shutdown(fd, SHUT_WR);
			shut = true;
		}
		if (!shut && (sent < limit || ooff < olen))
			p.events |= POLLOUT;
		if (poll(&p, 1, -1) == -1) {
			if (errno == EINTR)
				continue;
			return early_end("echo", -1, din.bytes, n);
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			r = read(fd, in, sizeof(in));
			if (r == -1 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r <= 0) {
				if (r == 0 && din.bytes == n && shut)
					break;
				return early_end("echo", r, din.bytes, n);
			}
			digest_add(&din, in, (size_t)r);
			progress(o, din.bytes);
			pace(start, din.bytes, o->rate);
		}
		if (!shut && (p.revents & POLLOUT) && (sent < limit || ooff < olen)) {
			if (ooff == olen) {
				olen = limit - sent < sizeof(out) ? (size_t)(limit - sent) : sizeof(out);
				gen_fill(&g, out, olen);
				digest_add(&dout, out, olen);
				sent += olen;
				ooff = 0;
			}
			r = send(fd, out + ooff, olen - ooff, MSG_DONTWAIT);
			if (r == -1 && errno != EAGAIN && errno != EINTR) {
				printf("echo: write error after %" PRIu64 " bytes: %s\n", sent,
				    strerror(errno));
				return E_ERROR;
			}
			if (r > 0)
				ooff += (size_t)r;
		}
	}
	digest_hex(&dout, hex_out);
	digest_hex(&din, hex_in);
	if (strcmp(hex_out, hex_in) != 0) {
		printf("echo: MISMATCH: sent %" PRIu64 " bytes sha256 %s, got back sha256 %s\n", n,
		    hex_out, hex_in);
		return E_MISMATCH;
	}
	printf("echo: %" PRIu64 " bytes sha256 %s match (%.1f s)\n", n, hex_out, now() - start);
	return E_OK;
}

static int
client(const char *mode, const char *host, const char *port, uint64_t n, uint64_t seed,
    struct opts *o)
{
	int fd, ret;

	if ((fd = dial(host, port)) == -1)
		return E_CONNECT;
	if (strcmp(mode, "up") == 0)
		ret = run_up(fd, n, seed, o);
	else if (strcmp(mode, "down") == 0)
		ret = run_down(fd, n, seed, o);
	else
		ret = run_echo(fd, n, seed, o);
	close(fd);
	return ret;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* COUNT round trips of 100 bytes through an echo, one at a time; prints the median in ms. */
static int
rtt(const char *host, const char *port, uint64_t count)
{
	uint8_t buf[100];
	double *t = calloc(count, sizeof(*t));
	int fd;

	if (t == NULL || count == 0)
		return E_USAGE;
	if ((fd = dial(host, port)) == -1)
		return E_CONNECT;
	if (!write_all(fd, "echo\n", 5))
		return early_end("rtt", -1, 0, count);
	memset(buf, 'x', sizeof(buf));
	for (uint64_t i = 0; i < count; i++) {
		double start = now();
		size_t got = 0;

		if (!write_all(fd, buf, sizeof(buf)))
			return early_end("rtt", -1, i, count);
		while (got < sizeof(buf)) {
			ssize_t r = read(fd, buf, sizeof(buf) - got);
			if (r <= 0)
				return early_end("rtt", r, i, count);
			got += (size_t)r;
		}
		t[i] = (now() - start) * 1000;
	}
	close(fd);
	qsort(t, count, sizeof(*t), cmp_double);
	printf("%.3f\n", t[count / 2]);
	free(t);
	return E_OK;
}

/* STREAMS echo clients at once, one process each; 0 when all match. */
static int
many(const char *host, const char *port, uint64_t streams, uint64_t n)
{
	struct opts o = { 0 };
	pid_t *pids = calloc(streams, sizeof(*pids));
	uint64_t ok = 0;
	int worst = E_OK;

	if (pids == NULL)
		return E_USAGE;
	fflush(stdout);
	for (uint64_t i = 0; i < streams; i++) {
		if ((pids[i] = fork()) == 0) {
			/* One line per stream only when it fails. */
			if (freopen("/dev/null", "w", stdout) == NULL)
				_exit(E_USAGE);
			int fd = dial(host, port);
			if (fd == -1)
				_exit(E_CONNECT);
			int ret = run_echo(fd, n, i + 1, &o);
			_exit(ret);
		}
		if (pids[i] == -1) {
			perror("ztio fork");
			return E_USAGE;
		}
	}
	for (uint64_t i = 0; i < streams; i++) {
		int st;

		if (waitpid(pids[i], &st, 0) == -1 || !WIFEXITED(st)) {
			printf("many: stream %" PRIu64 " died\n", i + 1);
			worst = E_ERROR;
			continue;
		}
		if (WEXITSTATUS(st) == E_OK)
			ok++;
		else {
			printf("many: stream %" PRIu64 " failed (status %d)\n", i + 1,
			    WEXITSTATUS(st));
			if (worst == E_OK || WEXITSTATUS(st) == E_MISMATCH)
				worst = WEXITSTATUS(st);
		}
	}
	printf("many: %" PRIu64 " of %" PRIu64 " streams of %" PRIu64 " bytes echoed with "
	    "matching sha256\n", ok, streams, n);
	free(pids);
	return worst;
}

int
main(int argc, char **argv)
{
	struct opts o = { 0 };
	uint64_t n, seed;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && strcmp(argv[1], "serve") == 0)
		return serve(argv[2]);
	if (argc == 5 && strcmp(argv[1], "rtt") == 0 && parse_u64(argv[4], &n))
		return rtt(argv[2], argv[3], n);
	if (argc == 6 && strcmp(argv[1], "many") == 0 && parse_u64(argv[4], &seed) &&
	    parse_u64(argv[5], &n) && seed > 0)
		return many(argv[2], argv[3], seed, n);
	if (argc < 6 || (strcmp(argv[1], "up") != 0 && strcmp(argv[1], "down") != 0 &&
	    strcmp(argv[1], "echo") != 0) || !parse_u64(argv[4], &n) ||
	    !parse_u64(argv[5], &seed))
		goto usage;
	for (int i = 6; i < argc; i++) {
		if (strcmp(argv[i], "--rate") == 0 && i + 1 < argc && parse_u64(argv[i + 1], &o.rate))
			i++;
		else if (strcmp(argv[i], "--progress") == 0 && i + 2 < argc &&
		    parse_u64(argv[i + 2], &o.after)) {
			o.progress = argv[i + 1];
			i += 2;
		} else if (strcmp(argv[i], "--hold") == 0 && i + 1 < argc)
			o.hold = argv[++i];
		else
			goto usage;
	}
	if (o.hold != NULL && o.progress == NULL)
		goto usage;
	return client(argv[1], argv[2], argv[3], n, seed, &o);
usage:
	fputs(usage, stderr);
	return E_USAGE;
}
