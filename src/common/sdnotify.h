/* sdnotify: the systemd notification protocol (sd_notify(3)) without libsystemd: datagrams of
 * newline-separated KEY=VALUE lines to $NOTIFY_SOCKET, and the watchdog's interval. */
#ifndef ZT_SDNOTIFY_H
#define ZT_SDNOTIFY_H

#include <stdbool.h>
#include <stdint.h>

struct sdnotify;

/* Reads $NOTIFY_SOCKET (a path, or "@name" for an abstract socket), $WATCHDOG_USEC and
 * $WATCHDOG_PID, then removes all three from the environment so that no child inherits them.
 * NULL when there is no socket to notify (every call below then does nothing); an unusable
 * address is logged and treated as none. */
struct sdnotify	*sdnotify_open(void);
void		 sdnotify_free(struct sdnotify *n);
/* Sends one datagram (e.g. "READY=1\nSTATUS=4 connections"); never blocks. -1 after logging
 * at debug level when it could not be sent; NULL n is a no-op that returns 0. */
int		 sdnotify_send(struct sdnotify *n, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* The watchdog interval in microseconds when $WATCHDOG_USEC asked for one and
 * $WATCHDOG_PID was unset or this process's pid; 0 otherwise. */
uint64_t	 sdnotify_watchdog_usec(const struct sdnotify *n);
/* CLOCK_MONOTONIC in microseconds (for MONOTONIC_USEC= with RELOADING=1). */
uint64_t	 sdnotify_monotonic_usec(void);

#endif
