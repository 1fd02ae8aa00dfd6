/* ifaddr: the machine's interface addresses over rtnetlink, dnsmasq's interface= rules, and a
 * change watcher (reference/dnsmasq.md section 2.1; rtnetlink(7)). */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <event2/event.h>

#include "ifaddr.h"
#include "log.h"
#include "util.h"

#define IFADDR_DUMP_TRIES	4	/* dumps interrupted by concurrent changes are retried */
#define IFADDR_RECV_MIN		32768	/* first receive buffer, grown to fit */
#define IFADDR_COALESCE_MS	100
#define IFADDR_WATCH_BATCH	64	/* reads per readiness: a flood cannot starve others */
#define IFADDR_WATCH_BUFLEN	8192

_Static_assert((int)IFADDR_SCOPE_GLOBAL == (int)RT_SCOPE_UNIVERSE, "scope values are rtnetlink's");
_Static_assert((int)IFADDR_SCOPE_SITE == (int)RT_SCOPE_SITE, "scope values are rtnetlink's");
_Static_assert((int)IFADDR_SCOPE_LINK == (int)RT_SCOPE_LINK, "scope values are rtnetlink's");
_Static_assert((int)IFADDR_SCOPE_HOST == (int)RT_SCOPE_HOST, "scope values are rtnetlink's");
_Static_assert((int)IFADDR_SCOPE_NOWHERE == (int)RT_SCOPE_NOWHERE, "scope values are rtnetlink's");
_Static_assert(IF_NAMESIZE == IFNAMSIZ, "labels and names share one size");

struct ifaddr_watch {
	int		 fd;
	struct event	*ev_read;
	struct event	*ev_timer;
	void		(*cb)(void *);
	void		*arg;
	_Alignas(struct nlmsghdr) unsigned char buf[IFADDR_WATCH_BUFLEN];
};

/* One interface of the link dump: what an address needs from its interface. */
struct ifaddr_link {
	unsigned int	 index;
	unsigned int	 flags;		/* IFF_* */
	char		 name[IF_NAMESIZE];
};

/* The state of one ifaddr_list call. */
struct ifaddr_dump {
	int		 fd;
	uint32_t	 seq;
	unsigned char	*buf;
	size_t		 buflen;
	bool		 interrupted;	/* NLM_F_DUMP_INTR: the dump may be inconsistent */
	struct ifaddr_link *links;
	size_t		 nlinks, linkcap;
	struct ifaddr_entry *addrs;
	size_t		 naddrs, addrcap;
};

/* The next whole netlink message of buf[*off, len), advancing *off; NULL at the end. */
static const struct nlmsghdr *
ifaddr_next_msg(const unsigned char *buf, size_t len, size_t *off)
{
	const struct nlmsghdr *nh;

	if (*off > len || len - *off < sizeof(*nh))
		return NULL;
	nh = (const struct nlmsghdr *)(const void *)(buf + *off);
	if (nh->nlmsg_len < sizeof(*nh) || nh->nlmsg_len > len - *off)
		return NULL;
	*off += NLMSG_ALIGN(nh->nlmsg_len);
	return nh;
}

/* Copies a NUL-terminated attribute string of at most IF_NAMESIZE bytes into dst. */
static bool
ifaddr_attr_name(const struct rtattr *rta, char dst[IF_NAMESIZE])
{
	const char *s = RTA_DATA(rta);
	size_t len = RTA_PAYLOAD(rta);
	const char *nul = memchr(s, '\0', len);

	if (nul == NULL || nul == s || (size_t)(nul - s) >= IF_NAMESIZE)
		return false;
	memcpy(dst, s, (size_t)(nul - s) + 1);
	return true;
}

/* Records the name and flags of one RTM_NEWLINK message of the link dump. */
static int
ifaddr_parse_link(struct ifaddr_dump *d, const struct nlmsghdr *nh)
{
	const struct ifinfomsg *ifi;
	const struct rtattr *rta;
	struct ifaddr_link link = { 0 };
	bool named = false;
	int len;

	if (nh->nlmsg_type != RTM_NEWLINK)
		return 0;
	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi))) {
		log_warnx("short link message (%u bytes) in the kernel's interface list",
		    nh->nlmsg_len);
		return -1;
	}
	ifi = NLMSG_DATA(nh);
	/* int, as the RTA_ macros expect: an unpadded last attribute must end the walk. */
	len = (int)(nh->nlmsg_len - NLMSG_LENGTH(sizeof(*ifi)));
	for (rta = IFLA_RTA(ifi); RTA_OK(rta, len); rta = RTA_NEXT(rta, len))
		if (rta->rta_type == IFLA_IFNAME)
			named = ifaddr_attr_name(rta, link.name);
	if (!named || ifi->ifi_index <= 0) {
		log_debug("ifaddr_list: skipping link %d without a valid name", ifi->ifi_index);
		return 0;
	}
	link.index = (unsigned int)ifi->ifi_index;
	link.flags = ifi->ifi_flags;
	if (d->nlinks == d->linkcap) {
		d->linkcap = d->linkcap == 0 ? 16 : d->linkcap * 2;
		d->links = xreallocarray(d->links, d->linkcap, sizeof(*d->links));
	}
	d->links[d->nlinks++] = link;
	return 0;
}

/* The interface of the link dump with this index, or NULL. */
static const struct ifaddr_link *
ifaddr_find_link(const struct ifaddr_dump *d, unsigned int index)
{
	for (size_t i = 0; i < d->nlinks; i++)
		if (d->links[i].index == index)
			return &d->links[i];
	return NULL;
}

/* Turns the kernel's IFA_F_* and the interface's IFF_* flags into IFADDR_F_*. */
static unsigned int
ifaddr_flags(int family, uint32_t ifa_flags, unsigned int if_flags)
{
	unsigned int flags = 0;

	if (if_flags & IFF_UP)
		flags |= IFADDR_F_UP;
	if (if_flags & IFF_LOOPBACK)
		flags |= IFADDR_F_LOOPBACK;
	if (ifa_flags & IFA_F_TENTATIVE)
		flags |= IFADDR_F_TENTATIVE;
	if (ifa_flags & IFA_F_DADFAILED)
		flags |= IFADDR_F_DADFAILED;
	if (ifa_flags & IFA_F_DEPRECATED)
		flags |= IFADDR_F_DEPRECATED;
	/* The same bit means "secondary" for IPv4. */
	if (family == AF_INET6 && (ifa_flags & IFA_F_TEMPORARY))
		flags |= IFADDR_F_TEMPORARY;
	return flags;
}

/* Appends the address of one RTM_NEWADDR message of the address dump. */
static int
ifaddr_parse_addr(struct ifaddr_dump *d, const struct nlmsghdr *nh)
{
	const struct ifaddrmsg *ifa;
	const struct rtattr *rta;
	const struct rtattr *local = NULL, *address = NULL, *label = NULL;
	const struct ifaddr_link *link;
	struct ifaddr_entry a = { 0 };
	uint32_t ifa_flags;
	size_t alen;
	int len;

	if (nh->nlmsg_type != RTM_NEWADDR)
		return 0;
	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa))) {
		log_warnx("short address message (%u bytes) in the kernel's interface list",
		    nh->nlmsg_len);
		return -1;
	}
	ifa = NLMSG_DATA(nh);
	if (ifa->ifa_family == AF_INET)
		alen = sizeof(struct in_addr);
	else if (ifa->ifa_family == AF_INET6)
		alen = sizeof(struct in6_addr);
	else
		return 0;
	ifa_flags = ifa->ifa_flags;
	len = (int)(nh->nlmsg_len - NLMSG_LENGTH(sizeof(*ifa)));
	for (rta = IFA_RTA(ifa); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		switch (rta->rta_type) {
		case IFA_LOCAL:
			local = rta;
			break;
		case IFA_ADDRESS:
			address = rta;
			break;
		case IFA_LABEL:
			label = rta;
			break;
		case IFA_FLAGS:
			/* Extends the 8-bit ifa_flags (rtnetlink(7)). */
			if (RTA_PAYLOAD(rta) >= sizeof(uint32_t))
				memcpy(&ifa_flags, RTA_DATA(rta), sizeof(ifa_flags));
			break;
		}
	}
	/* On point-to-point links IFA_ADDRESS is the peer and IFA_LOCAL our own address. */
	if (local == NULL)
		local = address;
	if (local == NULL || RTA_PAYLOAD(local) != alen)
		return 0;
	if ((link = ifaddr_find_link(d, ifa->ifa_index)) == NULL) {
		/* Created after the link dump: its RTM_NEWLINK tells any watcher to list again. */
		log_debug("ifaddr_list: skipping an address of unknown interface %u",
		    ifa->ifa_index);
		return 0;
	}
	memcpy(a.name, link->name, sizeof(a.name));
	if (label == NULL || ifa->ifa_family != AF_INET || !ifaddr_attr_name(label, a.label))
		memcpy(a.label, link->name, sizeof(a.label));
	a.index = ifa->ifa_index;
	a.family = ifa->ifa_family;
	a.prefixlen = ifa->ifa_prefixlen;
	a.scope = (enum ifaddr_scope)ifa->ifa_scope;
	a.flags = ifaddr_flags(a.family, ifa_flags, link->flags);
	if (a.family == AF_INET) {
		a.addr.sin.sin_family = AF_INET;
		memcpy(&a.addr.sin.sin_addr, RTA_DATA(local), alen);
		a.addrlen = sizeof(a.addr.sin);
	} else {
		a.addr.sin6.sin6_family = AF_INET6;
		memcpy(&a.addr.sin6.sin6_addr, RTA_DATA(local), alen);
		/* As dnsmasq does: the kernel needs the scope to bind a link-local address. */
		if (IN6_IS_ADDR_LINKLOCAL(&a.addr.sin6.sin6_addr))
			a.addr.sin6.sin6_scope_id = a.index;
		a.addrlen = sizeof(a.addr.sin6);
	}
	if (d->naddrs == d->addrcap) {
		d->addrcap = d->addrcap == 0 ? 16 : d->addrcap * 2;
		d->addrs = xreallocarray(d->addrs, d->addrcap, sizeof(*d->addrs));
	}
	d->addrs[d->naddrs++] = a;
	return 0;
}

/* Receives one datagram from the kernel into d->buf, growing it to fit; returns its length. */
static ssize_t
ifaddr_recv(struct ifaddr_dump *d)
{
	struct sockaddr_nl snl;
	struct iovec iov;
	struct msghdr msg;
	ssize_t n;

	for (;;) {
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = d->buf;
		iov.iov_len = d->buflen;
		msg.msg_name = &snl;
		msg.msg_namelen = sizeof(snl);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		/* MSG_TRUNC makes a peek return the real length of the datagram. */
		if ((n = recvmsg(d->fd, &msg, MSG_PEEK | MSG_TRUNC)) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("cannot receive the interface list from the kernel");
			return -1;
		}
		if ((size_t)n > d->buflen) {
			d->buflen = (size_t)n;
			d->buf = xreallocarray(d->buf, 1, d->buflen);
			continue;
		}
		if ((n = recvmsg(d->fd, &msg, 0)) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("cannot receive the interface list from the kernel");
			return -1;
		}
		if (msg.msg_flags & MSG_TRUNC) {
			log_warnx("the kernel's interface list arrived truncated");
			return -1;
		}
		/* Only the kernel (port 0) answers dumps. */
		if (msg.msg_namelen != sizeof(snl) || snl.nl_family != AF_NETLINK ||
		    snl.nl_pid != 0)
			continue;
		return n;
	}
}

/* Runs one dump of type RTM_GETLINK or RTM_GETADDR, handing each message to its parser. */
static int
ifaddr_dump_run(struct ifaddr_dump *d, uint16_t type)
{
	struct {
		struct nlmsghdr	nh;
		union {
			struct ifinfomsg ifi;
			struct ifaddrmsg ifa;
		} u;
	} req;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	const struct nlmsghdr *nh;
	const struct nlmsgerr *err;
	size_t off;
	ssize_t n;
	int ret = -1;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = type == RTM_GETLINK ? NLMSG_LENGTH(sizeof(req.u.ifi)) :
	    NLMSG_LENGTH(sizeof(req.u.ifa));
	req.nh.nlmsg_type = type;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nh.nlmsg_seq = ++d->seq;
	/* ifi_family and ifa_family are AF_UNSPEC: every family. */
	if (sendto(d->fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&kernel,
	    sizeof(kernel)) == -1) {
		log_warn("cannot ask the kernel for the interface list");
		goto cleanup;
	}
	for (;;) {
		if ((n = ifaddr_recv(d)) == -1)
			goto cleanup;
		off = 0;
		while ((nh = ifaddr_next_msg(d->buf, (size_t)n, &off)) != NULL) {
			if (nh->nlmsg_seq != d->seq)
				continue;
			if (nh->nlmsg_flags & NLM_F_DUMP_INTR)
				d->interrupted = true;
			if (nh->nlmsg_type == NLMSG_DONE) {
				/* A dump may end with an error code in place of the last part. */
				if (nh->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
					int code;

					memcpy(&code, NLMSG_DATA(nh), sizeof(code));
					if (code < 0) {
						errno = -code;
						log_warn("the kernel's interface list ended with "
						    "an error");
						goto cleanup;
					}
				}
				ret = 0;
				goto cleanup;
			}
			if (nh->nlmsg_type == NLMSG_ERROR) {
				err = NLMSG_DATA(nh);
				if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*err))) {
					log_warnx("short error message in the kernel's "
					    "interface list");
					goto cleanup;
				}
				errno = -err->error;
				log_warn("the kernel refused to list interfaces");
				goto cleanup;
			}
			if ((type == RTM_GETLINK ? ifaddr_parse_link(d, nh) :
			    ifaddr_parse_addr(d, nh)) == -1)
				goto cleanup;
		}
	}
cleanup:
	return ret;
}

int
ifaddr_list(struct ifaddr_entry **addrs, size_t *naddrs)
{
	struct ifaddr_dump d = { .fd = -1 };
	int ret = -1;

	*addrs = NULL;
	*naddrs = 0;
	if ((d.fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) == -1) {
		log_warn("cannot open a netlink socket to list interface addresses");
		goto cleanup;
	}
	d.buflen = IFADDR_RECV_MIN;
	d.buf = xmalloc(d.buflen);
	for (int try = 0; try < IFADDR_DUMP_TRIES; try++) {
		d.interrupted = false;
		d.nlinks = d.naddrs = 0;
		/* Links first: an address whose link is missing belongs to a newer link. */
		if (ifaddr_dump_run(&d, RTM_GETLINK) == -1 ||
		    ifaddr_dump_run(&d, RTM_GETADDR) == -1)
			goto cleanup;
		if (!d.interrupted)
			break;
	}
	/* Each change that kept interrupting also notified any watcher, which will list again. */
	if (d.interrupted)
		log_debug("ifaddr_list: dumps kept changing, using the last of %d",
		    IFADDR_DUMP_TRIES);
	*addrs = d.addrs;
	*naddrs = d.naddrs;
	d.addrs = NULL;
	ret = 0;
cleanup:
	free(d.addrs);
	free(d.links);
	free(d.buf);
	if (d.fd != -1)
		close(d.fd);
	return ret;
}

bool
ifaddr_same(const struct ifaddr_entry *a, const struct ifaddr_entry *b)
{
	if (a->family != b->family || a->index != b->index)
		return false;
	if (a->family == AF_INET)
		return a->addr.sin.sin_addr.s_addr == b->addr.sin.sin_addr.s_addr;
	return IN6_ARE_ADDR_EQUAL(&a->addr.sin6.sin6_addr, &b->addr.sin6.sin6_addr) &&
	    a->addr.sin6.sin6_scope_id == b->addr.sin6.sin6_scope_id;
}

/* dnsmasq's wildcard_match(): a '*' ends the comparison with a match, but only if it is
 * reached before the name runs out. */
bool
ifaddr_name_match(const char *pattern, const char *name)
{
	while (*pattern != '\0' && *name != '\0') {
		if (*pattern == '*')
			return true;
		if (*pattern != *name)
			return false;
		pattern++;
		name++;
	}
	return *pattern == *name;
}

/* True when listen-address ss is the address of a (dnsmasq ignores port and scope). */
static bool
ifaddr_listen_match(const struct sockaddr_storage *ss, const struct ifaddr_entry *a)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family != a->family)
		return false;
	if (a->family == AF_INET)
		return sin->sin_addr.s_addr == a->addr.sin.sin_addr.s_addr;
	if (a->family == AF_INET6)
		return IN6_ARE_ADDR_EQUAL(&sin6->sin6_addr, &a->addr.sin6.sin6_addr);
	return false;
}

/* dnsmasq 2.90's iface_allowed() and iface_check() for one address. */
bool
ifaddr_match(const struct ifaddr_rules *rules, const struct ifaddr_entry *a)
{
	bool allowed = true, by_address = false;

	if (rules->ninterfaces > 0 || rules->nlisten > 0) {
		allowed = false;
		for (size_t i = 0; i < rules->ninterfaces; i++)
			if (ifaddr_name_match(rules->interfaces[i], a->label))
				allowed = true;
		/* dnsmasq appends the loopback interface's name, not its label, to interface=: an
		 * IPv4 alias such as lo:1 is not implied. */
		if (rules->ninterfaces > 0 && (a->flags & IFADDR_F_LOOPBACK) &&
		    ifaddr_name_match(a->name, a->label))
			allowed = true;
		for (size_t i = 0; i < rules->nlisten; i++)
			if (ifaddr_listen_match(&rules->listen[i], a))
				allowed = by_address = true;
	}
	if (!by_address)
		for (size_t i = 0; i < rules->nexcept; i++)
			if (ifaddr_name_match(rules->except[i], a->label))
				allowed = false;
	return allowed;
}

/* Calls the user's callback once the burst of notifications is over. */
static void
ifaddr_watch_fire(evutil_socket_t fd, short what, void *arg)
{
	struct ifaddr_watch *w = arg;

	(void)fd;
	(void)what;
	/* Last: the callback may free the watcher. */
	w->cb(w->arg);
}

/* Reads pending notifications and arms the coalescing timer if any of them matters. */
static void
ifaddr_watch_read(evutil_socket_t fd, short what, void *arg)
{
	struct ifaddr_watch *w = arg;
	struct timeval tv = { .tv_sec = 0, .tv_usec = IFADDR_COALESCE_MS * 1000 };
	const struct nlmsghdr *nh;
	struct sockaddr_nl snl;
	struct iovec iov;
	struct msghdr msg;
	bool changed = false;
	size_t off;
	ssize_t n;

	(void)what;
	for (int i = 0; i < IFADDR_WATCH_BATCH; i++) {
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = w->buf;
		iov.iov_len = sizeof(w->buf);
		msg.msg_name = &snl;
		msg.msg_namelen = sizeof(snl);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		if ((n = recvmsg(fd, &msg, MSG_DONTWAIT)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == ENOBUFS) {
				/* The socket overflowed: what was lost is unknown. */
				log_debug("ifaddr_watch: notifications lost, listing again");
				changed = true;
				continue;
			}
			log_warn("cannot read the kernel's interface address changes");
			changed = true;
			break;
		}
		if (msg.msg_namelen != sizeof(snl) || snl.nl_pid != 0)
			continue;
		if (msg.msg_flags & MSG_TRUNC) {
			changed = true;
			continue;
		}
		off = 0;
		while ((nh = ifaddr_next_msg(w->buf, (size_t)n, &off)) != NULL)
			switch (nh->nlmsg_type) {
			case RTM_NEWADDR:
			case RTM_DELADDR:
			case RTM_NEWLINK:
			case RTM_DELLINK:
				changed = true;
				break;
			}
	}
	if (changed && !evtimer_pending(w->ev_timer, NULL))
		evtimer_add(w->ev_timer, &tv);
}

struct ifaddr_watch *
ifaddr_watch_new(struct event_base *base, void (*cb)(void *), void *arg)
{
	struct ifaddr_watch *w = xcalloc(1, sizeof(*w));
	struct sockaddr_nl snl = { .nl_family = AF_NETLINK,
	    .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR };
	struct ifaddr_watch *ret = NULL;

	w->cb = cb;
	w->arg = arg;
	if ((w->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    NETLINK_ROUTE)) == -1) {
		log_warn("cannot open a netlink socket to follow interface address changes");
		goto cleanup;
	}
	if (bind(w->fd, (struct sockaddr *)&snl, sizeof(snl)) == -1) {
		log_warn("cannot subscribe to the kernel's interface address changes");
		goto cleanup;
	}
	if ((w->ev_timer = evtimer_new(base, ifaddr_watch_fire, w)) == NULL ||
	    (w->ev_read = event_new(base, w->fd, EV_READ | EV_PERSIST, ifaddr_watch_read,
	    w)) == NULL) {
		log_errorx("ifaddr_watch_new: cannot create the netlink events");
		goto cleanup;
	}
	if (event_add(w->ev_read, NULL) == -1) {
		log_errorx("ifaddr_watch_new: cannot add the netlink event");
		goto cleanup;
	}
	ret = w;
	w = NULL;
cleanup:
	ifaddr_watch_free(w);
	return ret;
}

void
ifaddr_watch_free(struct ifaddr_watch *w)
{
	if (w == NULL)
		return;
	if (w->ev_read != NULL)
		event_free(w->ev_read);
	if (w->ev_timer != NULL)
		event_free(w->ev_timer);
	if (w->fd != -1)
		close(w->fd);
	free(w);
}
