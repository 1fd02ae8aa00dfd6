/* ev: the event loop over libevent 2.1: base, signals as events, timers, listeners. */
#ifndef ZT_EV_H
#define ZT_EV_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stdint.h>

struct bufferevent;
struct event_base;
struct ev_signals;
struct ev_timer;
struct ev_listener;

/* A new event base with libevent's messages routed to the log. */
struct event_base *ev_base_new(void);
/* For the applets that relay streams (edge, tunnel, access): glibc keeps up to 4 MiB of freed
 * heap instead of giving it back and faulting it in again every few records. Not for
 * `zt dns serve`, whose memory is measured against dnsmasq's. */
void		 ev_heap_for_streams(void);
/* Frees base after letting the work that libevent deferred run (a bufferevent freed from one
 * of its callbacks is finalised in a later turn of the loop: without that turn its socket,
 * TLS state and buffers would never be released). Call it once everything of ours that used
 * the base is freed. NULL is a no-op. */
void		 ev_base_free(struct event_base *base);
/* Runs bev's write callback in this turn of the loop, as if its socket had been reported
 * writable: libevent 2.1's socket and TLS bufferevents otherwise wait for the next epoll_wait
 * before writing what was added to their output. Nothing when writing is disabled or the
 * output is empty; a socket that is not writable just makes the write wait as before. */
void		 ev_bufferevent_write_now(struct bufferevent *bev);
/* Runs bev's read callback in this turn of the loop (when reading is enabled): for data that
 * a layer below the socket already holds (TLS read-ahead, tls_bufferevent_pending). */
void		 ev_bufferevent_read_now(struct bufferevent *bev);
/* The libevent version string this process runs with. */
const char	*ev_version_string(void);

/* SIGINT/SIGTERM call stop with the number of stop signals seen so far (1: drain gracefully,
 * 2 or more: the caller should stop at once); SIGHUP calls reload; SIGUSR1 calls info (when not
 * NULL; dnsmasq logs statistics there); SIGPIPE and SIGUSR2 are ignored. */
struct ev_signals *ev_signals_new(struct event_base *base, void (*stop)(int signo, int count, void *),
		    void (*reload)(void *), void (*info)(void *), void *arg);
void		 ev_signals_free(struct ev_signals *sig);

/* A timer calling cb(arg); one-shot unless ev_timer_start was given repeat. */
struct ev_timer	*ev_timer_new(struct event_base *base, void (*cb)(void *), void *arg);
void		 ev_timer_start(struct ev_timer *t, uint64_t ms, bool repeat);
void		 ev_timer_stop(struct ev_timer *t);
bool		 ev_timer_pending(const struct ev_timer *t);
void		 ev_timer_free(struct ev_timer *t);

/* A TCP listener (IPv6 sockets are IPv6-only) on sa calling accept_cb with each new non-blocking, close-on-exec socket.
 * When the process runs out of descriptors it pauses accepting with back-off instead of spinning.
 * Returns NULL after logging. */
struct ev_listener *ev_listener_new(struct event_base *base, const struct sockaddr *sa,
		    socklen_t salen, int backlog,
		    void (*accept_cb)(int fd, const struct sockaddr *peer, socklen_t peerlen, void *),
		    void *arg);
/* The bound address (useful with port 0). */
int		 ev_listener_address(const struct ev_listener *l, struct sockaddr_storage *ss,
		    socklen_t *len);
void		 ev_listener_enable(struct ev_listener *l, bool on);
void		 ev_listener_free(struct ev_listener *l);

#endif
