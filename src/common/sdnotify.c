/* sdnotify: the systemd notification protocol (sd_notify(3), systemd.service(5) Type=notify
 * and notify-reload) spoken without libsystemd. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sdnotify.h"
#include "util.h"

#define SDNOTIFY_MAX	4096	/* one datagram */

struct sdnotify {
	int		 fd;
	struct sockaddr_un sun;
	socklen_t	 sunlen;
	uint64_t	 watchdog_usec;
};

/* Fills sun from a $NOTIFY_SOCKET value; -1 when it is not a usable address. */
static int
sdnotify_address(const char *v, struct sockaddr_un *sun, socklen_t *len)
{
	size_t n = strlen(v);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (n < 2 || n >= sizeof(sun->sun_path) || (v[0] != '/' && v[0] != '@'))
		return -1;
	memcpy(sun->sun_path, v, n);
	if (v[0] == '@') {
		/* Abstract: a leading NUL and no terminating one counted in the length. */
		sun->sun_path[0] = '\0';
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

struct sdnotify *
sdnotify_open(void)
{
	const char *sock = getenv("NOTIFY_SOCKET"), *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	struct sdnotify *n = NULL;
	long l;

	if (sock == NULL || *sock == '\0')
		goto out;
	n = xcalloc(1, sizeof(*n));
	if (sdnotify_address(sock, &n->sun, &n->sunlen) == -1) {
		log_warnx("NOTIFY_SOCKET \"%s\" is not a socket path or @abstract name: systemd "
		    "is not notified", sock);
		free(n);
		n = NULL;
		goto out;
	}
	if ((n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1) {
		log_warn("sdnotify: socket");
		free(n);
		n = NULL;
		goto out;
	}
	/* Connected now, while the socket may be reached: zt dns serve drops its privileges
	 * later, and a send is then checked against the socket file's permissions no more. */
	if (connect(n->fd, (struct sockaddr *)&n->sun, n->sunlen) == -1)
		log_debug("sdnotify: connect %s: %s (will try each send)", sock, strerror(errno));
	if (usec != NULL && *usec != '\0') {
		char *end;
		unsigned long long u;

		errno = 0;
		u = strtoull(usec, &end, 10);
		if (errno != 0 || *end != '\0' || u == 0)
			log_warnx("WATCHDOG_USEC \"%s\" is not a number of microseconds: no "
			    "watchdog", usec);
		else if (pid != NULL && *pid != '\0' && (util_parse_long(pid, 1, 0x7fffffffL,
		    &l) == -1 || (pid_t)l != getpid()))
			log_debug("sdnotify: WATCHDOG_PID %s is not ours: no watchdog", pid);
		else
			n->watchdog_usec = u;
	}
out:
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	return n;
}

void
sdnotify_free(struct sdnotify *n)
{
	if (n == NULL)
		return;
	close(n->fd);
	free(n);
}

int
sdnotify_send(struct sdnotify *n, const char *fmt, ...)
{
	char buf[SDNOTIFY_MAX];
	va_list ap;
	int len;

	if (n == NULL)
		return 0;
	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof(buf)) {
		log_debug("sdnotify_send: a message of %d bytes does not fit a datagram", len);
		return -1;
	}
	if (send(n->fd, buf, (size_t)len, MSG_NOSIGNAL) == -1 && sendto(n->fd, buf, (size_t)len,
	    MSG_NOSIGNAL, (struct sockaddr *)&n->sun, n->sunlen) == -1) {
		log_debug("sdnotify_send: %s", strerror(errno));
		return -1;
	}
	return 0;
}

uint64_t
sdnotify_watchdog_usec(const struct sdnotify *n)
{
	return n != NULL ? n->watchdog_usec : 0;
}

uint64_t
sdnotify_monotonic_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}
