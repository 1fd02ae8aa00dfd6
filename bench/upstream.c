/* upstream.c: a minimal fast UDP upstream for the DNS benchmark; answers every IN A query with one
 * fixed address (RFC 1035 section 4.1), everything else with an empty NOERROR, in batches of
 * recvmmsg/sendmmsg so that it costs the machine far less than the servers it feeds.
 *
 *     upstream PORT TTL ADDRESS      (PORT 0: an ephemeral port, printed on stdout)
 *
 * It binds 127.0.0.1 only and exits when its parent does. Built by bench/dns.py at run time. */
#define _GNU_SOURCE
#include <sys/prctl.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH	64
#define BUFSZ	1536

static uint8_t	bufs[BATCH][BUFSZ];
static struct iovec iov[BATCH];
static struct sockaddr_in peers[BATCH];
static struct mmsghdr msgs[BATCH];

/* Turns the query in p (len bytes) into its answer in place; returns the answer's length or 0 to
 * drop the packet. */
static size_t
answer(uint8_t *p, size_t len, uint32_t ttl, const uint8_t addr[4])
{
	size_t off = 12;
	uint16_t qtype, qclass;
	int a;

	if (len < 12 || (p[2] & 0x80) || (p[2] & 0x78) != 0 || p[4] != 0 || p[5] != 1)
		return 0;
	while (off < len && p[off] != 0) {
		if ((p[off] & 0xc0) != 0)
			return 0;
		off += p[off] + 1;
	}
	if (off + 5 > len)
		return 0;
	off++;
	qtype = (uint16_t)(p[off] << 8 | p[off + 1]);
	qclass = (uint16_t)(p[off + 2] << 8 | p[off + 3]);
	off += 4;
	a = qtype == 1 && qclass == 1;
	if (a && off + 16 > BUFSZ)
		return 0;
	p[2] = (uint8_t)(0x80 | (p[2] & 0x01));	/* QR, keep RD */
	p[3] = 0x80;				/* RA, NOERROR */
	p[6] = 0;
	p[7] = (uint8_t)a;
	p[8] = p[9] = p[10] = p[11] = 0;	/* no authority, no OPT */
	if (!a)
		return off;
	p[off++] = 0xc0;
	p[off++] = 12;
	p[off++] = 0;
	p[off++] = 1;
	p[off++] = 0;
	p[off++] = 1;
	p[off++] = (uint8_t)(ttl >> 24);
	p[off++] = (uint8_t)(ttl >> 16);
	p[off++] = (uint8_t)(ttl >> 8);
	p[off++] = (uint8_t)ttl;
	p[off++] = 0;
	p[off++] = 4;
	memcpy(p + off, addr, 4);
	return off + 4;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);
	uint8_t addr[4];
	uint32_t ttl;
	int fd, n, rcv = 4 << 20;

	if (argc != 4 || inet_pton(AF_INET, argv[3], addr) != 1) {
		fprintf(stderr, "usage: upstream PORT TTL ADDRESS\n");
		return 2;
	}
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		return 1;
	ttl = (uint32_t)strtoul(argv[2], NULL, 10);
	sin.sin_port = htons((uint16_t)atoi(argv[1]));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &slen) == -1) {
		perror("upstream: socket");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &rcv, sizeof(rcv));
	printf("%u\n", ntohs(sin.sin_port));
	fflush(stdout);
	for (;;) {
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ .iov_base = bufs[i], .iov_len = BUFSZ };
			msgs[i].msg_hdr = (struct msghdr){ .msg_name = &peers[i],
			    .msg_namelen = sizeof(peers[i]), .msg_iov = &iov[i], .msg_iovlen = 1 };
		}
		if ((n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL)) <= 0)
			continue;
		int out = 0;
		for (int i = 0; i < n; i++) {
			size_t len = answer(bufs[i], msgs[i].msg_len, ttl, addr);
			if (len == 0)
				continue;
			iov[i].iov_len = len;
			msgs[out].msg_hdr = msgs[i].msg_hdr;
			msgs[out].msg_hdr.msg_iov = &iov[i];
			out++;
		}
		for (int done = 0; done < out;) {
			int m = sendmmsg(fd, msgs + done, (unsigned int)(out - done), 0);
			if (m <= 0)
				break;
			done += m;
		}
	}
}
