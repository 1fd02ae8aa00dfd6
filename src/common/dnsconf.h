/* dnsconf: reads dnsmasq 2.90 configuration (files, conf-dir, command line) for zt dns serve. */
#ifndef ZT_DNSCONF_H
#define ZT_DNSCONF_H

#include <sys/types.h>
#include <sys/socket.h>

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * The reader accepts exactly what dnsmasq 2.90 accepts for the options below and
 * rejects, with a message naming file, line and option, everything else: options
 * zt does not implement (DHCP, TFTP, DNSSEC, ...), options dnsmasq does not know,
 * and bad values. Supported options:
 *
 *   port interface except-interface listen-address bind-interfaces bind-dynamic
 *   address local server rev-server domain-needed bogus-priv no-resolv resolv-file
 *   strict-order all-servers no-hosts addn-hosts expand-hosts domain (domain-suffix)
 *   host-record cname txt-record srv-host mx-host ptr-record cache-size no-negcache
 *   neg-ttl local-ttl max-ttl min-cache-ttl max-cache-ttl edns-packet-max
 *   dns-forward-max query-port log-queries conf-file conf-dir user group pid-file
 *   keep-in-foreground no-daemon
 *
 * Sources are read in dnsmasq's order: the command line first (every option in
 * turn; the first -C/--conf-file is remembered, any later one is read at once), then
 * the remembered file, or the default file when there was none. conf-file= and
 * conf-dir= inside files are read where they appear; a file already read (same
 * device and inode) is skipped, and "-" (standard input) is read at most once.
 *
 * Repetition follows dnsmasq: list options accumulate, flags may repeat, and the
 * single-valued options (port, cache-size, edns-packet-max, query-port, user, group,
 * pid-file, local-ttl, neg-ttl, max-ttl, min-cache-ttl, max-cache-ttl,
 * dns-forward-max) may appear once on the command line and once in the files, the
 * file value winning; a second occurrence in either place is an error (a file read
 * while the command line is parsed, i.e. a second -C, counts as "the files").
 *
 * Every name (domains, aliases, targets) is stored as dnsmasq's canonicalise() leaves
 * it: one trailing dot removed, lower case; names containing non-ASCII characters are
 * rejected (dnsmasq would convert them with libidn2; give the xn-- form instead).
 */

/* Where a value was read: file (as given, or "stdin") and line, or the command line
 * (file "command line", line 0). The strings belong to the struct dnsconf. */
struct dnsconf_origin {
	const char	*file;
	unsigned	 line;
};

/* An IPv4 or IPv6 address. */
struct dnsconf_addr {
	int		 family;	/* AF_INET or AF_INET6 */
	union {
		struct in_addr	v4;
		struct in6_addr	v6;
	} u;
};

/* An upstream server of a server=, local= or rev-server= line. */
struct dnsconf_upstream {
	/* Address with port (default 53; "ip#" gives 0 as in dnsmasq) and, for IPv6
	 * "ip%if", the interface index in sin6_scope_id. Ready for sendto(). */
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	/* "@src-ip[#port]" or "@iface[#port]": has_source is set and source holds the
	 * address to bind (the unspecified address of the server's family when only an
	 * interface was given) and the port (0: a random port). */
	bool			 has_source;
	struct sockaddr_storage	 source;
	socklen_t		 sourcelen;
	/* "@iface" (SO_BINDTODEVICE), or "" for none. */
	char			 interface[IF_NAMESIZE];
};

/* What a domain rule does. dnsmasq 2.90 picks, among the rules of the longest
 * matching domain, the first kind in this order that applies to the query type
 * (ADDR6 for AAAA/ANY, ADDR4 for A/ANY, ZEROS for A/AAAA/ANY, then RESOLV, then
 * FORWARD, and LOCAL only when the domain has no RESOLV or FORWARD rule; observed:
 * server=/d/ip together with local=/d/ forwards), else it tries shorter domains. */
enum dnsconf_action {
	DNSCONF_ACT_ADDR6 = 0,	/* address=/d/v6: answer AAAA with addr */
	DNSCONF_ACT_ADDR4,	/* address=/d/v4: answer A with addr */
	DNSCONF_ACT_ZEROS,	/* address=/d/#: 0.0.0.0 for A, :: for AAAA */
	DNSCONF_ACT_RESOLV,	/* server=/d/#: use the servers without a domain */
	DNSCONF_ACT_FORWARD,	/* server=/d/ip: forward to upstream */
	DNSCONF_ACT_LOCAL,	/* address=/d/, local=/d/, server=/d/: answer locally */
};

/* The option that produced a rule. */
enum dnsconf_rule_src {
	DNSCONF_SRC_ADDRESS = 0,
	DNSCONF_SRC_SERVER,
	DNSCONF_SRC_LOCAL,
	DNSCONF_SRC_REV_SERVER,	/* one rule per in-addr.arpa/ip6.arpa zone */
	DNSCONF_SRC_DOMAIN,	/* domain=d,cidr,local: local=/d/ and its reverse zones */
};

/*
 * One entry of dnsmasq's domain table, in configuration order (a line naming
 * several domains gives several rules with the same seq). Matching (dnsmasq.md
 * 1.1): domain "" matches every name (address=/#/, server=/#/ip, server=ip) unless
 * nodots is set (server=//ip: names without a dot only; dnsmasq 2.90 consults it
 * only when some server without a domain exists); a wildcard rule ("*" prefix) matches
 * names that end with domain (which may start with a dot: "*.d" = subdomains of
 * d); any other rule matches domain and its subdomains, whole labels only.
 */
struct dnsconf_rule {
	enum dnsconf_action	 action;
	enum dnsconf_rule_src	 src;
	char			*domain;	/* canonical, no leading dots; "" for all */
	bool			 wildcard;
	bool			 nodots;
	struct dnsconf_addr	 addr;		/* ADDR4, ADDR6 */
	struct dnsconf_upstream	 upstream;	/* FORWARD */
	unsigned		 seq;		/* index of the line among rule lines */
	struct dnsconf_origin	 origin;
};

/* A domain= line. The plain form (no range) also sets dnsconf.domain_suffix. */
enum dnsconf_domain_kind {
	DNSCONF_DOM_PLAIN = 0,	/* domain=d */
	DNSCONF_DOM_RANGE,	/* domain=d,start[,end] or domain=d,net/len[,local] */
	DNSCONF_DOM_INTERFACE,	/* domain=d,iface: addresses of that interface */
};

struct dnsconf_domain {
	char			*domain;
	enum dnsconf_domain_kind kind;
	struct dnsconf_addr	 start, end;	/* RANGE, inclusive, same family */
	int			 prefixlen;	/* RANGE given as net/len, else -1 */
	bool			 local;		/* ",local" was given (and acted on) */
	unsigned		 seq;		/* rules with a smaller seq came before it;
						 * local: the seq of the rules it added */
	char			*interface;	/* INTERFACE; NULL when the name was empty */
	struct dnsconf_origin	 origin;
};

/* host-record=n1[,n2...],[v4],[v6][,ttl]. ttl is local-ttl unless given. */
struct dnsconf_host_record {
	char			**names;	/* in order; the first owns the PTR */
	size_t			 nnames;
	bool			 has_v4, has_v6;
	struct in_addr		 v4;
	struct in6_addr		 v6;
	uint32_t		 ttl;
	bool			 ttl_given;
	struct dnsconf_origin	 origin;
};

/* cname=alias[,alias...],target[,ttl]: one entry per alias; aliases are unique
 * (case-insensitively) and have no loops. ttl is local-ttl unless given. */
struct dnsconf_cname {
	char			*alias;
	char			*target;
	uint32_t		 ttl;
	bool			 ttl_given;
	struct dnsconf_origin	 origin;
};

/* txt-record=name[,s1,s2...]: rdata is the RFC 1035 TXT RDATA (length-prefixed
 * strings, each at most 255 bytes; a longer string was split), ready to copy. */
struct dnsconf_txt {
	char			*name;
	uint8_t			*rdata;
	size_t			 rdlen;
	struct dnsconf_origin	 origin;
};

/* srv-host=_svc._proto.dom[,target[,port[,prio[,weight]]]]. A name with exactly one
 * dot got ".domain_suffix" appended when a plain domain= was given (dnsmasq does
 * the same); otherwise it is used as written. target NULL: no target (answer
 * "."); port defaults to 1, prio and weight to 0. */
struct dnsconf_srv {
	char			*name;
	char			*target;
	uint16_t		 port, prio, weight;
	struct dnsconf_origin	 origin;
};

/* mx-host=name[,host[,pref]]: as dnsmasq parses it, a second field is always the
 * host ("mx-host=a,5" means host "5", pref 1). host NULL: this machine's host name. */
struct dnsconf_mx {
	char			*name;
	char			*target;
	uint16_t		 pref;
	struct dnsconf_origin	 origin;
};

/* ptr-record=name[,target]. target NULL: the name exists but has no PTR data. */
struct dnsconf_ptr {
	char			*name;
	char			*target;
	struct dnsconf_origin	 origin;
};

/* A flag of the calling applet, passed through by dnsconf_load (see below). */
struct dnsconf_flag {
	const char	*name;		/* long name without "--" */
	int		 short_name;	/* one character, or 0 */
	bool		 has_arg;	/* takes a value: --n=v, --n v, -cv, -c v */
};

struct dnsconf_flagval {
	const struct dnsconf_flag *flag;
	char		*value;		/* NULL when the flag takes no value */
};

/*
 * The effective configuration. Lists are in configuration order (dnsmasq itself
 * keeps most of them newest first; the resolver decides). Zero TTL limits mean
 * "no limit" as in dnsmasq.
 */
struct dnsconf {
	/* Listening (dnsmasq.md 2.1). port 0 disables DNS. Interface patterns match as
	 * dnsconf_iface_match() says; an empty pattern (interface=) matches nothing. */
	uint16_t		 port;
	char			**interfaces;
	size_t			 ninterfaces;
	char			**except_interfaces;
	size_t			 nexcept_interfaces;
	struct dnsconf_addr	*listen_addrs;
	size_t			 nlisten_addrs;
	bool			 bind_interfaces;
	bool			 bind_dynamic;

	/* Domain table and upstream selection (dnsmasq.md 1.1, 2.2). */
	struct dnsconf_rule	*rules;
	size_t			 nrules;
	bool			 no_resolv;
	char			**resolv_files;	/* default /etc/resolv.conf; may be empty */
	size_t			 nresolv_files;
	bool			 strict_order;
	bool			 all_servers;
	bool			 domain_needed;
	bool			 bogus_priv;

	/* Local data (dnsmasq.md 3.2). */
	bool			 no_hosts;
	bool			 expand_hosts;
	char			**addn_hosts;	/* files or directories */
	size_t			 naddn_hosts;
	char			*domain_suffix;	/* last plain domain= (or its resolv.conf search
						 * for domain=#); NULL if none */
	struct dnsconf_domain	*domains;
	size_t			 ndomains;
	struct dnsconf_host_record *host_records;
	size_t			 nhost_records;
	struct dnsconf_cname	*cnames;
	size_t			 ncnames;
	struct dnsconf_txt	*txts;
	size_t			 ntxts;
	struct dnsconf_srv	*srvs;
	size_t			 nsrvs;
	struct dnsconf_mx	*mxs;
	size_t			 nmxs;
	struct dnsconf_ptr	*ptrs;
	size_t			 nptrs;

	/* Cache and TTLs (dnsmasq.md 3.3), after dnsmasq's clamps. */
	uint32_t		 cache_size;		/* 150; 0 disables; at most 5000000 */
	bool			 no_negcache;
	uint32_t		 neg_ttl;
	uint32_t		 local_ttl;
	uint32_t		 max_ttl;
	uint32_t		 min_cache_ttl;		/* at most 3600 */
	uint32_t		 max_cache_ttl;
	uint16_t		 edns_packet_max;	/* 1232; at least 512 */
	uint32_t		 dns_forward_max;	/* 150 */
	bool			 query_port_set;	/* else a random port per query */
	uint16_t		 query_port;		/* 0: one port chosen by the OS */

	/* Logging and process. */
	bool			 log_queries;
	bool			 log_queries_extra;	/* log-queries=extra */
	char			*log_queries_arg;	/* the value as given, or NULL */
	char			*user;		/* "nobody"; NULL: keep the current user */
	char			*group;		/* NULL: dnsmasq's default ("dip" if it exists,
						 * else the user's group), unless group_set */
	bool			 group_set;	/* group= given; group NULL then means none */
	char			*pid_file;	/* /var/run/dnsmasq.pid; NULL: none */
	bool			 keep_in_foreground;
	bool			 no_daemon;

	/* What was read, in order, and the applet's own flags found on the command line. */
	char			**files_read;
	size_t			 nfiles_read;
	struct dnsconf_flagval	*flags;
	size_t			 nflags;

	/* Interned origin strings (owned). */
	char			**origin_names;
	size_t			 norigin_names;
};

#define DNSCONF_DEFAULT_CONF	"/etc/dnsmasq.conf"
#define DNSCONF_DEFAULT_RESOLV	"/etc/resolv.conf"

/* How to read. A zeroed struct reads no default file and opens files normally. */
struct dnsconf_params {
	/* Read when no -C/--conf-file was given; its absence is not an error.
	 * NULL: none (zt dns serve passes DNSCONF_DEFAULT_CONF). */
	const char		*default_conf;
	/* The default resolv.conf (listed in resolv_files, read only for domain=#).
	 * NULL: DNSCONF_DEFAULT_RESOLV. */
	const char		*default_resolv;
	/* The applet's own command-line flags, ended by an entry with name NULL.
	 * They are matched (exactly) before dnsmasq's options, removed from the
	 * parse and returned in dnsconf.flags in order. NULL: none. */
	const struct dnsconf_flag *flags;
	/* Read for "-C -" or conf-file=-. NULL: stdin. */
	FILE			*stdin_fp;
	/* Never open a file or directory: conf-file (including "-"), conf-dir and
	 * domain=# are checked but what they name is not read (fuzzing). */
	bool			 no_files;
};

/*
 * Reads the command line argv[1..argc-1] (argv[0] is the command's name and is
 * skipped, as getopt does) and every file it leads to, in dnsmasq's syntax: long
 * options --name=value (or --name value when the option requires a value; an
 * optional value must be attached with '='), unambiguous prefixes of long names,
 * dnsmasq's short options (-C FILE, -p53, -dq, ...), and "--" to end options.
 * On success stores a new configuration in *confp and returns 0; otherwise logs
 * the first error (file:line or "command line", option, value, reason) with
 * log_errorx and returns -1 (dnsmasq exits there: 1 for a bad option, 3 for an
 * unreadable file, 5 for domain=# without a search line).
 */
int		 dnsconf_load(const struct dnsconf_params *params, int argc, char **argv,
		    struct dnsconf **confp);
/* Same for len bytes of configuration text read as the file called name (no
 * command line, no default file). */
int		 dnsconf_load_buffer(const struct dnsconf_params *params, const char *name,
		    const char *buf, size_t len, struct dnsconf **confp);
/* Releases everything; NULL is a no-op. */
void		 dnsconf_free(struct dnsconf *conf);

/* Writes the effective configuration to fp in dnsmasq syntax, one option per
 * line with its origin as a comment; it reads back to the same configuration
 * unless quoting made a line longer than the 1024 bytes a line may have.
 * rev-server= appears as the server= or local= rules it produced. */
void		 dnsconf_dump(const struct dnsconf *conf, FILE *fp);

/* dnsmasq's interface pattern match: equal names, or pattern "eth*" matching any
 * name longer than "eth" that starts with it (what precedes the first '*'). */
bool		 dnsconf_iface_match(const char *pattern, const char *ifname);
/* The domain dnsmasq gives addr for expand-hosts: the most recent domain= range
 * containing it, else domain_suffix (NULL if none). Interface ranges are skipped. */
const char	*dnsconf_domain_for(const struct dnsconf *conf, const struct dnsconf_addr *addr);

#endif
