/* ifaddr: the machine's interface addresses, dnsmasq's interface= rules, and a change watcher. */
#ifndef ZT_IFADDR_H
#define ZT_IFADDR_H

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <net/if.h>

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct ifaddr_watch;

#define IFADDR_F_UP		0x01	/* the interface is administratively up (IFF_UP) */
#define IFADDR_F_LOOPBACK	0x02	/* the interface is a loopback (IFF_LOOPBACK) */
#define IFADDR_F_TENTATIVE	0x04	/* IPv6 duplicate address detection not over */
#define IFADDR_F_DADFAILED	0x08	/* IPv6 duplicate detection failed (also tentative) */
#define IFADDR_F_DEPRECATED	0x10	/* preferred lifetime over; still usable */
#define IFADDR_F_TEMPORARY	0x20	/* IPv6 privacy address (RFC 8981) */

/* The kernel's address scope (rtnetlink's RT_SCOPE_* values). */
enum ifaddr_scope {
	IFADDR_SCOPE_GLOBAL = 0,
	IFADDR_SCOPE_SITE = 200,
	IFADDR_SCOPE_LINK = 253,
	IFADDR_SCOPE_HOST = 254,
	IFADDR_SCOPE_NOWHERE = 255,
};

/* One address of one interface. */
struct ifaddr_entry {
	char		 name[IF_NAMESIZE];	/* interface name: "eth0" */
	char		 label[IF_NAMESIZE];	/* IPv4 label ("eth0:1"); IPv6: the name */
	unsigned int	 index;			/* interface index */
	int		 family;		/* AF_INET or AF_INET6 */
	/* Ready for bind(2): port 0; a link-local IPv6 address has sin6_scope_id = index. */
	union {
		struct sockaddr		sa;
		struct sockaddr_in	sin;
		struct sockaddr_in6	sin6;
	}		 addr;
	socklen_t	 addrlen;
	unsigned int	 prefixlen;
	unsigned int	 flags;			/* IFADDR_F_* */
	enum ifaddr_scope scope;
};

/* Lists every IPv4 and IPv6 address of every interface (rtnetlink dumps of links and addresses)
 * into an array the caller frees with free(3); it is NULL when *naddrs is 0. Returns 0, or -1
 * after logging. */
int	 ifaddr_list(struct ifaddr_entry **addrs, size_t *naddrs);

/* True when a and b are the same address on the same interface: the identity of a socket. */
bool	 ifaddr_same(const struct ifaddr_entry *a, const struct ifaddr_entry *b);

/* The listening options of dnsmasq (reference/dnsmasq.md section 2.1). */
struct ifaddr_rules {
	const char *const *interfaces;		/* interface= names, '*' wildcard */
	size_t		 ninterfaces;
	const char *const *except;		/* except-interface= names, same wildcard */
	size_t		 nexcept;
	const struct sockaddr_storage *listen;	/* listen-address=: family and address only */
	size_t		 nlisten;
};

/* True when dnsmasq 2.90 accepts address a under rules: interface= matches its label (any
 * loopback interface is implied once an interface= is given) or listen-address= its address,
 * and except-interface= does not match its label unless listen-address= matched. With neither
 * interface= nor listen-address=, every address not excepted. dnsmasq binds an accepted address
 * only once it is not IFADDR_F_TENTATIVE; whatever its other flags (even an interface down). */
bool	 ifaddr_match(const struct ifaddr_rules *rules, const struct ifaddr_entry *a);

/* dnsmasq's interface-name wildcard: equal strings, or equal up to a '*' in pattern that is
 * reached before name ends ("eth*" matches "eth0" and "eth0:1" but not "eth"). */
bool	 ifaddr_name_match(const char *pattern, const char *name);

/* Watches the kernel's address and link notifications on base and calls cb(arg) once per burst
 * of changes (100 ms after the first), or when notifications were lost. Create it before the
 * first ifaddr_list so that no change falls in between. cb may free the watcher. Returns NULL
 * after logging. */
struct ifaddr_watch *ifaddr_watch_new(struct event_base *base, void (*cb)(void *), void *arg);
void	 ifaddr_watch_free(struct ifaddr_watch *w);

#endif
