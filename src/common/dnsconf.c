/* dnsconf: reads dnsmasq 2.90 configuration (files, conf-dir, command line) for zt dns serve. */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnsconf.h"
#include "log.h"
#include "util.h"

/*
 * The parser follows dnsmasq 2.90's option.c step by step (its string surgery
 * included: split_chr(), the hiding of quoted characters, the order of checks) so
 * that the same text is accepted or rejected and means the same thing; where the
 * source and dnsmasq 2.90 disagreed, the binary's behaviour was followed. Deliberate
 * differences, each an error where dnsmasq silently does something surprising:
 * lines over 1024 bytes (dnsmasq splits them), NUL bytes (it ignores the rest of the
 * line), control bytes that its unquoting would turn into digits or letters,
 * numbers above INT_MAX (it wraps them), edns-packet-max above 65535 (it wraps),
 * non-ASCII names (it converts them with libidn2), upstream host names (it resolves
 * them), interface names over 15 bytes (it truncates) or with '/' or spaces,
 * empty addn-hosts= (it fails to read "(null)" later), bind-interfaces with
 * bind-dynamic (it fails only when starting), and files nested deeper than
 * DC_DEPTH_MAX. Upper-case xn-- labels are accepted without checking the punycode.
 */

#define DC_LINE_MAX	1024	/* dnsmasq reads lines with fgets(buf, MAXDNAME) */
#define DC_MAXDNAME	1025
#define DC_MAXLABEL	63
#define DC_IDN_MAXNAME	253	/* what libidn2 allows when a name has upper case */
#define DC_DEPTH_MAX	32
#define DC_CACHE_MAX	5000000
#define DC_TTL_FLOOR_MAX 3600
#define DC_PACKETSZ	512
#define DC_CMDLINE	"command line"
/* dnsmasq's getopt string: a short option takes a value when followed by ':'. */
#define DC_OPTSTRING	"951yZDNLERKzowefnbvhdkqr:m:p:c:l:s:i:t:u:g:a:x:S:C:A:T:H:Q:I:B:F:G:O:M:" \
			"X:V:U:j:P:J:W:Y:2:4:6:7:8:0:3:"

enum dc_id {
	DC_UNSUPPORTED = 0,
	DC_ADDN_HOSTS, DC_ADDRESS, DC_ALL_SERVERS, DC_BIND_DYNAMIC, DC_BIND_INTERFACES,
	DC_BOGUS_PRIV, DC_CACHE_SIZE, DC_CNAME, DC_CONF_DIR, DC_CONF_FILE,
	DC_DNS_FORWARD_MAX, DC_DOMAIN, DC_DOMAIN_NEEDED, DC_EDNS_PACKET_MAX,
	DC_EXCEPT_INTERFACE, DC_EXPAND_HOSTS, DC_GROUP, DC_HOST_RECORD, DC_INTERFACE,
	DC_KEEP_IN_FOREGROUND, DC_LISTEN_ADDRESS, DC_LOCAL, DC_LOCAL_TTL, DC_LOG_QUERIES,
	DC_MAX_CACHE_TTL, DC_MAX_TTL, DC_MIN_CACHE_TTL, DC_MX_HOST, DC_NEG_TTL,
	DC_NO_DAEMON, DC_NO_HOSTS, DC_NO_NEGCACHE, DC_NO_RESOLV, DC_PID_FILE, DC_PORT,
	DC_PTR_RECORD, DC_QUERY_PORT, DC_RESOLV_FILE, DC_REV_SERVER, DC_SERVER,
	DC_SRV_HOST, DC_STRICT_ORDER, DC_TXT_RECORD, DC_USER,
	DC_NIDS
};

enum dc_cat {
	DC_CAT_OK = 0,
	DC_CAT_DHCP,
	DC_CAT_TFTP,
	DC_CAT_DNSSEC,
	DC_CAT_AUTH,
	DC_CAT_APPLET,
	DC_CAT_OTHER,
};

/* One of dnsmasq 2.90's long options: has_arg as in its getopt table (0 none,
 * 1 required, 2 optional), its short form, and what zt does with it. */
struct dc_opt {
	const char	*name;
	int		 has_arg;
	int		 short_name;
	enum dc_id	 id;
	enum dc_cat	 cat;
};

/* Every long option dnsmasq 2.90 knows (`dnsmasq --help` plus the aliases
 * dhcp-lease and domain-suffix). */
static const struct dc_opt dc_opts[] = {
	{ "add-cpe-id", 1, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "add-mac", 2, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "add-subnet", 2, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "addn-hosts", 1, 'H', DC_ADDN_HOSTS, DC_CAT_OK },
	{ "address", 1, 'A', DC_ADDRESS, DC_CAT_OK },
	{ "alias", 1, 'V', DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "all-servers", 0, 0, DC_ALL_SERVERS, DC_CAT_OK },
	{ "auth-peer", 1, 0, DC_UNSUPPORTED, DC_CAT_AUTH },
	{ "auth-sec-servers", 1, 0, DC_UNSUPPORTED, DC_CAT_AUTH },
	{ "auth-server", 1, 0, DC_UNSUPPORTED, DC_CAT_AUTH },
	{ "auth-soa", 1, 0, DC_UNSUPPORTED, DC_CAT_AUTH },
	{ "auth-ttl", 1, 0, DC_UNSUPPORTED, DC_CAT_AUTH },
	{ "auth-zone", 1, 0, DC_UNSUPPORTED, DC_CAT_AUTH },
	{ "bind-dynamic", 0, 0, DC_BIND_DYNAMIC, DC_CAT_OK },
	{ "bind-interfaces", 0, 'z', DC_BIND_INTERFACES, DC_CAT_OK },
	{ "bogus-nxdomain", 1, 'B', DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "bogus-priv", 0, 'b', DC_BOGUS_PRIV, DC_CAT_OK },
	{ "bootp-dynamic", 2, '3', DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "bridge-interface", 1, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "caa-record", 1, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "cache-rr", 1, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "cache-size", 2, 'c', DC_CACHE_SIZE, DC_CAT_OK },
	{ "clear-on-reload", 0, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "cname", 1, 0, DC_CNAME, DC_CAT_OK },
	{ "conf-dir", 1, '7', DC_CONF_DIR, DC_CAT_OK },
	{ "conf-file", 2, 'C', DC_CONF_FILE, DC_CAT_OK },
	{ "conf-script", 1, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "connmark-allowlist", 1, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "connmark-allowlist-enable", 2, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "conntrack", 0, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "dhcp-alternate-port", 2, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-authoritative", 0, 'K', DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-boot", 1, 'M', DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-broadcast", 2, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-circuitid", 1, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-client-update", 0, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-duid", 1, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-fqdn", 0, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-generate-names", 2, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-host", 1, 'G', DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-hostsdir", 1, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-hostsfile", 1, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-ignore", 1, 'J', DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-ignore-clid", 0, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-ignore-names", 2, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-lease", 1, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-lease-max", 1, 'X', DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-leasefile", 2, 'l', DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-luascript", 1, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-mac", 1, '4', DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-match", 1, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-name-match", 1, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-no-override", 0, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-option", 1, 'O', DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-option-force", 1, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-optsdir", 1, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-optsfile", 1, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-proxy", 2, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-pxe-vendor", 1, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-range", 1, 'F', DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-rapid-commit", 0, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-relay", 1, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-remoteid", 1, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-reply-delay", 1, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-script", 1, '6', DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-scriptuser", 1, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-sequential-ip", 0, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-subscrid", 1, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-ttl", 1, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-userclass", 1, 'j', DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dhcp-vendorclass", 1, 'U', DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "dns-forward-max", 1, '0', DC_DNS_FORWARD_MAX, DC_CAT_OK },
	{ "dns-loop-detect", 0, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "dns-rr", 1, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "dnssec", 0, 0, DC_UNSUPPORTED, DC_CAT_DNSSEC },
	{ "dnssec-check-unsigned", 2, 0, DC_UNSUPPORTED, DC_CAT_DNSSEC },
	{ "dnssec-debug", 0, 0, DC_UNSUPPORTED, DC_CAT_DNSSEC },
	{ "dnssec-limits", 1, 0, DC_UNSUPPORTED, DC_CAT_DNSSEC },
	{ "dnssec-no-timecheck", 0, 0, DC_UNSUPPORTED, DC_CAT_DNSSEC },
	{ "dnssec-timestamp", 1, 0, DC_UNSUPPORTED, DC_CAT_DNSSEC },
	{ "domain", 1, 's', DC_DOMAIN, DC_CAT_OK },
	{ "domain-needed", 0, 'D', DC_DOMAIN_NEEDED, DC_CAT_OK },
	{ "domain-suffix", 1, 0, DC_DOMAIN, DC_CAT_OK },
	{ "dumpfile", 1, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "dumpmask", 1, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "dynamic-host", 1, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "edns-packet-max", 1, 'P', DC_EDNS_PACKET_MAX, DC_CAT_OK },
	{ "enable-dbus", 2, '1', DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "enable-ra", 0, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "enable-tftp", 2, 0, DC_UNSUPPORTED, DC_CAT_TFTP },
	{ "enable-ubus", 2, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "except-interface", 1, 'I', DC_EXCEPT_INTERFACE, DC_CAT_OK },
	{ "expand-hosts", 0, 'E', DC_EXPAND_HOSTS, DC_CAT_OK },
	{ "fast-dns-retry", 2, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "filter-A", 0, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "filter-AAAA", 0, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "filter-rr", 1, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "filterwin2k", 0, 'f', DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "group", 2, 'g', DC_GROUP, DC_CAT_OK },
	{ "help", 0, 'w', DC_UNSUPPORTED, DC_CAT_APPLET },
	{ "host-record", 1, 0, DC_HOST_RECORD, DC_CAT_OK },
	{ "hostsdir", 1, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "ignore-address", 1, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "interface", 1, 'i', DC_INTERFACE, DC_CAT_OK },
	{ "interface-name", 1, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "ipset", 1, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "keep-in-foreground", 0, 'k', DC_KEEP_IN_FOREGROUND, DC_CAT_OK },
	{ "leasefile-ro", 0, '9', DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "listen-address", 1, 'a', DC_LISTEN_ADDRESS, DC_CAT_OK },
	{ "local", 1, 0, DC_LOCAL, DC_CAT_OK },
	{ "local-service", 2, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "local-ttl", 1, 'T', DC_LOCAL_TTL, DC_CAT_OK },
	{ "localise-queries", 0, 'y', DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "localmx", 0, 'L', DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "log-async", 2, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "log-debug", 0, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "log-dhcp", 0, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "log-facility", 1, '8', DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "log-queries", 2, 'q', DC_LOG_QUERIES, DC_CAT_OK },
	{ "max-cache-ttl", 1, 0, DC_MAX_CACHE_TTL, DC_CAT_OK },
	{ "max-port", 1, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "max-tcp-connections", 1, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "max-ttl", 1, 0, DC_MAX_TTL, DC_CAT_OK },
	{ "min-cache-ttl", 1, 0, DC_MIN_CACHE_TTL, DC_CAT_OK },
	{ "min-port", 1, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "mx-host", 1, 'm', DC_MX_HOST, DC_CAT_OK },
	{ "mx-target", 1, 't', DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "naptr-record", 1, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "neg-ttl", 1, 0, DC_NEG_TTL, DC_CAT_OK },
	{ "nftset", 1, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "no-daemon", 0, 'd', DC_NO_DAEMON, DC_CAT_OK },
	{ "no-dhcp-interface", 1, '2', DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "no-dhcpv4-interface", 1, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "no-dhcpv6-interface", 1, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "no-hosts", 0, 'h', DC_NO_HOSTS, DC_CAT_OK },
	{ "no-ident", 0, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "no-negcache", 0, 'N', DC_NO_NEGCACHE, DC_CAT_OK },
	{ "no-ping", 0, '5', DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "no-poll", 0, 'n', DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "no-resolv", 0, 'R', DC_NO_RESOLV, DC_CAT_OK },
	{ "no-round-robin", 0, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "pid-file", 2, 'x', DC_PID_FILE, DC_CAT_OK },
	{ "port", 1, 'p', DC_PORT, DC_CAT_OK },
	{ "port-limit", 1, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "proxy-dnssec", 0, 0, DC_UNSUPPORTED, DC_CAT_DNSSEC },
	{ "ptr-record", 1, 0, DC_PTR_RECORD, DC_CAT_OK },
	{ "pxe-prompt", 1, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "pxe-service", 1, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "query-port", 1, 'Q', DC_QUERY_PORT, DC_CAT_OK },
	{ "quiet-dhcp", 0, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "quiet-dhcp6", 0, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "quiet-ra", 0, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "quiet-tftp", 0, 0, DC_UNSUPPORTED, DC_CAT_TFTP },
	{ "ra-param", 1, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "read-ethers", 0, 'Z', DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "rebind-domain-ok", 1, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "rebind-localhost-ok", 0, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "resolv-file", 2, 'r', DC_RESOLV_FILE, DC_CAT_OK },
	{ "rev-server", 1, 0, DC_REV_SERVER, DC_CAT_OK },
	{ "script-arp", 0, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "script-on-renewal", 0, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "selfmx", 0, 'e', DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "server", 1, 'S', DC_SERVER, DC_CAT_OK },
	{ "servers-file", 1, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "shared-network", 1, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "srv-host", 1, 'W', DC_SRV_HOST, DC_CAT_OK },
	{ "stop-dns-rebind", 0, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "strict-order", 0, 'o', DC_STRICT_ORDER, DC_CAT_OK },
	{ "strip-mac", 0, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "strip-subnet", 0, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "synth-domain", 1, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "tag-if", 1, 0, DC_UNSUPPORTED, DC_CAT_DHCP },
	{ "test", 0, 0, DC_UNSUPPORTED, DC_CAT_APPLET },
	{ "tftp-lowercase", 0, 0, DC_UNSUPPORTED, DC_CAT_TFTP },
	{ "tftp-max", 1, 0, DC_UNSUPPORTED, DC_CAT_TFTP },
	{ "tftp-mtu", 1, 0, DC_UNSUPPORTED, DC_CAT_TFTP },
	{ "tftp-no-blocksize", 0, 0, DC_UNSUPPORTED, DC_CAT_TFTP },
	{ "tftp-no-fail", 0, 0, DC_UNSUPPORTED, DC_CAT_TFTP },
	{ "tftp-port-range", 1, 0, DC_UNSUPPORTED, DC_CAT_TFTP },
	{ "tftp-root", 1, 0, DC_UNSUPPORTED, DC_CAT_TFTP },
	{ "tftp-secure", 0, 0, DC_UNSUPPORTED, DC_CAT_TFTP },
	{ "tftp-single-port", 0, 0, DC_UNSUPPORTED, DC_CAT_TFTP },
	{ "tftp-unique-root", 2, 0, DC_UNSUPPORTED, DC_CAT_TFTP },
	{ "trust-anchor", 1, 0, DC_UNSUPPORTED, DC_CAT_DNSSEC },
	{ "txt-record", 1, 'Y', DC_TXT_RECORD, DC_CAT_OK },
	{ "umbrella", 2, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "use-stale-cache", 2, 0, DC_UNSUPPORTED, DC_CAT_OTHER },
	{ "user", 2, 'u', DC_USER, DC_CAT_OK },
	{ "version", 0, 'v', DC_UNSUPPORTED, DC_CAT_APPLET },
};

static const char *const dc_cat_reason[] = {
	[DC_CAT_OK] = "",
	[DC_CAT_DHCP] = "DHCP is out of scope",
	[DC_CAT_TFTP] = "TFTP is out of scope",
	[DC_CAT_DNSSEC] = "DNSSEC validation is not implemented",
	[DC_CAT_AUTH] = "authoritative DNS is out of scope",
	[DC_CAT_APPLET] = "the zt dns command handles it, not the configuration",
	[DC_CAT_OTHER] = "not implemented",
};

/* Whether a single-valued option was already set on the command line or in a file. */
enum dc_once {
	DC_ONCE_FREE = 0,
	DC_ONCE_CL,
	DC_ONCE_FILE,
};

struct dc_fileid {
	dev_t	dev;
	ino_t	ino;
};

/* Parser state for one dnsconf_load call. */
struct dc_state {
	struct dnsconf			*conf;
	const struct dnsconf_params	*params;
	struct dnsconf_origin		 origin;	/* of the line being read */
	bool				 command_line;
	const char			*optname;	/* for messages */
	char				*optshow;	/* the value as given, for messages */
	enum dc_once			 once[DC_NIDS];
	struct dnsconf_origin		 once_origin[DC_NIDS];
	struct dc_fileid		*seen;
	size_t				 nseen;
	bool				 stdin_read;
	bool				 resolv_default;	/* resolv_files is the default */
	bool				 resolv_domain;		/* domain=# */
	struct dnsconf_origin		 resolv_domain_origin;
	unsigned			 depth;
	unsigned			 rule_seq;
};

/*
 * dnsmasq hides quoted characters by mapping them to their index in this string
 * so that split_chr() and friends do not see them; the index of '\t', '\n', '\b',
 * '\r' and '\033' is the character itself.
 */
static const char dc_meta[] = "\000123456 \b\t\n78\r90abcdefABCDE\033F:,.";
#define DC_NMETA	(sizeof(dc_meta) - 1)

static int	dc_one_file(struct dc_state *, const char *, bool);

/* --- messages ------------------------------------------------------------------------ */

/* Copies s into buf as printable text (C escapes), cut with "..." if it does not fit. */
static const char *
dc_vis(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	if (s == NULL)
		s = "";
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		char tmp[5];
		size_t n;

		if (*p == '"' || *p == '\\') {
			tmp[0] = '\\';
			tmp[1] = (char)*p;
			n = 2;
		} else if (*p < 0x20 || *p == 0x7f) {
			snprintf(tmp, sizeof(tmp), "\\x%02x", *p);
			n = 4;
		} else {
			tmp[0] = (char)*p;
			n = 1;
		}
		if (o + n + 4 > len) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(buf + o, tmp, n);
		o += n;
	}
	buf[o] = '\0';
	return buf;
}

/* Formats "file:line" or "command line" for the current position into buf. */
static const char *
dc_where(const struct dnsconf_origin *o, char *buf, size_t len)
{
	char vis[512];

	if (o->file == NULL)
		snprintf(buf, len, "configuration");
	else if (o->line == 0)
		snprintf(buf, len, "%s", dc_vis(o->file, vis, sizeof(vis)));
	else
		snprintf(buf, len, "%s:%u", dc_vis(o->file, vis, sizeof(vis)), o->line);
	return buf;
}

/* Logs "WHERE: message" for the current position and returns -1. */
static int __attribute__((format(printf, 2, 3)))
dc_err(struct dc_state *st, const char *fmt, ...)
{
	char msg[3072], where[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_errorx("%s: %s", dc_where(&st->origin, where, sizeof(where)), msg);
	return -1;
}

/* Logs "WHERE: message" as a warning. */
static void __attribute__((format(printf, 2, 3)))
dc_warn(struct dc_state *st, const char *fmt, ...)
{
	char msg[3072], where[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s: %s", dc_where(&st->origin, where, sizeof(where)), msg);
}

/* Logs "WHERE: bad WHAT "VALUE" in OPTION=ARG: WHY" and returns -1. */
static int
dc_bad(struct dc_state *st, const char *what, const char *value, const char *why)
{
	char v[1100], a[1100];

	return dc_err(st, "bad %s \"%s\" in %s%s=%s: %s", what, dc_vis(value, v, sizeof(v)),
	    st->command_line ? "--" : "", st->optname, dc_vis(st->optshow, a, sizeof(a)), why);
}

/* Logs "WHERE: OPTION=ARG: WHY" and returns -1. */
static int
dc_badopt(struct dc_state *st, const char *why)
{
	char a[1100];

	return dc_err(st, "%s%s=%s: %s", st->command_line ? "--" : "", st->optname,
	    dc_vis(st->optshow, a, sizeof(a)), why);
}

/* --- dnsmasq's string primitives ------------------------------------------------------ */

static char
dc_hide(char c)
{
	for (size_t i = 0; i < DC_NMETA; i++)
		if (c == dc_meta[i])
			return (char)i;
	return c;
}

static char
dc_unhide_char(char c)
{
	unsigned char u = (unsigned char)c;

	return u < DC_NMETA ? dc_meta[u] : c;
}

/* Restores hidden characters of s in place (dnsmasq's unhide_metas). */
static void
dc_unhide(char *s)
{
	if (s != NULL)
		for (; *s != '\0'; s++)
			*s = dc_unhide_char(*s);
}

/* Cuts s at the first c, trimming the spaces around it; returns what follows or NULL
 * (dnsmasq's split_chr). */
static char *
dc_split_chr(char *s, char c)
{
	char *comma, *p;

	if (s == NULL || (comma = strchr(s, c)) == NULL)
		return NULL;
	p = comma;
	*comma = ' ';
	while (*comma == ' ')
		comma++;
	for (;;) {
		if (*p != ' ')
			break;
		*p = '\0';
		if (p == s)
			break;
		p--;
	}
	return comma;
}

static char *
dc_split(char *s)
{
	return dc_split_chr(s, ',');
}

/* An unhidden copy of s, or NULL when s is NULL or empty (dnsmasq's opt_string_alloc). */
static char *
dc_string(const char *s)
{
	char *r;

	if (s == NULL || *s == '\0')
		return NULL;
	r = xstrdup(s);
	dc_unhide(r);
	return r;
}

/* dnsmasq's atoi_check after unhiding a in place: digits only, "" is 0. Unlike
 * dnsmasq (which wraps), values above max are refused. */
static int
dc_number(char *a, long max, long *out, const char **why)
{
	long v = 0;

	if (a == NULL) {
		*why = "a number is required";
		return -1;
	}
	dc_unhide(a);
	for (const char *p = a; *p != '\0'; p++) {
		if (*p < '0' || *p > '9') {
			*why = "not a decimal number";
			return -1;
		}
		if (v > (INT_MAX - (*p - '0')) / 10) {
			*why = "number too large";
			return -1;
		}
		v = v * 10 + (*p - '0');
	}
	if (v > max) {
		*why = max == 65535 ? "must be at most 65535" : "number too large";
		return -1;
	}
	*out = v;
	return 0;
}

/* Whether s (unhidden) is all digits, as dnsmasq's numeric_check ("" is). */
static bool
dc_digits(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/*
 * Checks and normalises a name as dnsmasq's canonicalise(): one trailing dot
 * removed, labels of at most 63 bytes, no control characters, not only spaces.
 * dnsmasq hands names with upper case to libidn2, which lower-cases them and also
 * rejects hyphens at the start or end of a label or in its third and fourth place
 * (except for xn-- labels) and names over 253 bytes; that is done here too.
 * Non-ASCII names are refused (libidn2 is not used). Returns a new string or NULL.
 */
static char *
dc_canon_name(const char *in, const char **why)
{
	size_t l = strlen(in), gap = 0;
	bool nowhite = false, upper = false;
	char *s, *label;

	if (l == 0 || l > DC_MAXDNAME) {
		*why = l == 0 ? "empty name" : "name too long";
		return NULL;
	}
	s = xstrdup(in);
	if (s[l - 1] == '.') {
		s[--l] = '\0';
		nowhite = true;
	}
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '.')
			gap = 0;
		else if (++gap > DC_MAXLABEL) {
			*why = "a label is longer than 63 characters";
			goto fail;
		} else if (*p < 0x20 || *p == 0x7f) {
			*why = "control character in name";
			goto fail;
		} else if (*p >= 0x80) {
			*why = "non-ASCII name (zt does not convert IDNs: give the xn-- form)";
			goto fail;
		} else if (*p != ' ') {
			nowhite = true;
			if (*p >= 'A' && *p <= 'Z')
				upper = true;
		}
	}
	if (!nowhite) {
		*why = "name is only spaces";
		goto fail;
	}
	if (!upper)
		return s;
	if (l > DC_IDN_MAXNAME) {
		*why = "name with upper case longer than 253 characters (libidn2 refuses it)";
		goto fail;
	}
	for (char *p = s; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	for (label = s; label != NULL; ) {
		char *dot = strchr(label, '.');
		size_t ll = dot != NULL ? (size_t)(dot - label) : strlen(label);

		if (ll >= 4 && strncmp(label, "xn--", 4) == 0)
			;
		else if (ll > 0 && (label[0] == '-' || label[ll - 1] == '-')) {
			*why = "a label starts or ends with '-' (libidn2 refuses it)";
			goto fail;
		} else if (ll >= 4 && label[2] == '-' && label[3] == '-') {
			*why = "a label has \"--\" in third and fourth place (libidn2 refuses it)";
			goto fail;
		}
		label = dot != NULL ? dot + 1 : NULL;
	}
	return s;
fail:
	free(s);
	return NULL;
}

/* dnsmasq's canonicalise_opt: unhides s in place; "" stays "" (an empty name). */
static char *
dc_canon_opt(char *s, const char **why)
{
	if (s == NULL) {
		*why = "missing name";
		return NULL;
	}
	if (*s == '\0')
		return xstrdup("");
	dc_unhide(s);
	return dc_canon_name(s, why);
}

/* Parses a numeric IPv4 or IPv6 address. */
static bool
dc_inet(const char *s, struct dnsconf_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, &a->u.v4) == 1) {
		a->family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, &a->u.v6) == 1) {
		a->family = AF_INET6;
		return true;
	}
	return false;
}

/* --- building the configuration ------------------------------------------------------- */

/* Appends a zeroed element to the array arr of n elements; evaluates to its address. */
#define DC_PUSH(arr, n)							\
	((arr) = xreallocarray((arr), (n) + 1, sizeof(*(arr))),		\
	    memset(&(arr)[(n)], 0, sizeof(*(arr))), &(arr)[(n)++])

static void
dc_push_str(char ***arr, size_t *n, char *s)
{
	*DC_PUSH(*arr, *n) = s;
}

/* Returns a copy of name owned by conf, for origins. */
static const char *
dc_intern(struct dnsconf *conf, const char *name)
{
	for (size_t i = 0; i < conf->norigin_names; i++)
		if (strcmp(conf->origin_names[i], name) == 0)
			return conf->origin_names[i];
	dc_push_str(&conf->origin_names, &conf->norigin_names, xstrdup(name));
	return conf->origin_names[conf->norigin_names - 1];
}

/*
 * Adds a domain rule the way dnsmasq's add_update_server() does: leading dots are
 * dropped, a leading '*' makes a wildcard (a lone '*' means every name), the rest
 * is canonicalised. Returns -1 with *why set when the domain is not a name.
 */
static int
dc_add_rule(struct dc_state *st, enum dnsconf_action action, enum dnsconf_rule_src src,
    const char *domain, bool nodots, const struct dnsconf_addr *addr,
    const struct dnsconf_upstream *up, const char **why)
{
	struct dnsconf_rule *r;
	bool wildcard = false;
	char *canon;

	if (domain == NULL)
		domain = "";
	if (*domain == '.') {
		while (*domain == '.')
			domain++;
	} else if (*domain == '*') {
		domain++;
		if (*domain != '\0')
			wildcard = true;
	}
	if (*domain == '\0')
		canon = xstrdup("");
	else if ((canon = dc_canon_name(domain, why)) == NULL)
		return -1;
	r = DC_PUSH(st->conf->rules, st->conf->nrules);
	r->action = action;
	r->src = src;
	r->domain = canon;
	r->wildcard = wildcard;
	r->nodots = nodots;
	if (addr != NULL)
		r->addr = *addr;
	if (up != NULL)
		r->upstream = *up;
	r->seq = st->rule_seq;
	r->origin = st->origin;
	return 0;
}

/* --- upstream servers ----------------------------------------------------------------- */

/* Fills sa with addr (a v4 or v6 address), port and scope. */
static void
dc_sockaddr(struct sockaddr_storage *ss, socklen_t *len, const struct dnsconf_addr *a,
    uint16_t port, uint32_t scope)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr = a->u.v4;
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sin6->sin6_addr = a->u.v6;
		sin6->sin6_scope_id = scope;
		*len = sizeof(*sin6);
	}
}

/* Copies an interface name, refusing one that no Linux interface can have (dnsmasq
 * truncates long names and accepts the rest, failing later when it binds). */
static int
dc_ifname(struct dc_state *st, char *dst, const char *name)
{
	if (strlen(name) >= IF_NAMESIZE)
		return dc_bad(st, "interface", name, "interface names have at most 15 characters");
	for (const char *p = name; *p != '\0'; p++)
		if (*p == '/' || isspace((unsigned char)*p))
			return dc_bad(st, "interface", name,
			    "interface names cannot contain '/' or spaces");
	memcpy(dst, name, strlen(name) + 1);
	return 0;
}

/*
 * Parses dnsmasq's server syntax (parse_server() and parse_server_addr()):
 * "#" (use the default servers: *resolv set) or ip[%scope][#port][@iface][@src[#port]].
 * arg is unhidden and is cut up. Host names are refused: zt does not resolve them.
 */
static int
dc_parse_server(struct dc_state *st, char *arg, struct dnsconf_upstream *up, bool *resolv)
{
	char *source, *portno, *scope, *iface_opt = NULL;
	struct dnsconf_addr a, sa;
	long port = 53, sport = 0;
	uint32_t scope_id = 0;
	const char *why;

	memset(up, 0, sizeof(*up));
	*resolv = false;
	if (strcmp(arg, "#") == 0) {
		*resolv = true;
		return 0;
	}
	if ((source = dc_split_chr(arg, '@')) != NULL &&
	    (portno = dc_split_chr(source, '#')) != NULL &&
	    dc_number(portno, 65535, &sport, &why) == -1)
		return dc_bad(st, "source port", portno, why);
	if ((portno = dc_split_chr(arg, '#')) != NULL &&
	    dc_number(portno, 65535, &port, &why) == -1)
		return dc_bad(st, "port", portno, why);
	scope = dc_split_chr(arg, '%');
	if (source != NULL && (iface_opt = dc_split_chr(source, '@')) != NULL) {
		if (dc_ifname(st, up->interface, source) == -1)
			return -1;
		source = iface_opt;
	}
	if (!dc_inet(arg, &a))
		return dc_bad(st, "server address", arg,
		    "not an IPv4 or IPv6 address (zt dns does not resolve host names)");
	if (a.family == AF_INET6 && scope != NULL &&
	    (scope_id = if_nametoindex(scope)) == 0)
		return dc_bad(st, "interface name", scope, "no such interface");
	dc_sockaddr(&up->addr, &up->addrlen, &a, (uint16_t)port, scope_id);
	if (source == NULL)
		return 0;
	up->has_source = true;
	if (dc_inet(source, &sa)) {
		if (sa.family != a.family)
			return dc_bad(st, "source address", source, a.family == AF_INET ?
			    "cannot use IPv4 server address with IPv6 source address" :
			    "cannot use IPv6 server address with IPv4 source address");
	} else {
		if (iface_opt != NULL)
			return dc_bad(st, "source", source, "interface can only be specified once");
		if (dc_ifname(st, up->interface, source) == -1)
			return -1;
		memset(&sa, 0, sizeof(sa));
		sa.family = a.family;
	}
	dc_sockaddr(&up->source, &up->sourcelen, &sa, (uint16_t)sport, 0);
	return 0;
}

/* --- options: listening, servers, rules ----------------------------------------------- */

/* interface=, except-interface=: comma lists; an empty item is kept as "". */
static void
dc_opt_iflist(char *arg, char ***list, size_t *n)
{
	char *comma, *name;

	do {
		comma = dc_split(arg);
		name = dc_string(arg);
		dc_push_str(list, n, name != NULL ? name : xstrdup(""));
		arg = comma;
	} while (arg != NULL);
}

/* listen-address=: comma list of IPv4/IPv6 addresses. */
static int
dc_opt_listen(struct dc_state *st, char *arg)
{
	struct dnsconf_addr a, *slot;
	char *comma;

	do {
		comma = dc_split(arg);
		dc_unhide(arg);
		if (!dc_inet(arg, &a))
			return dc_bad(st, "address", arg, "not an IPv4 or IPv6 address");
		slot = DC_PUSH(st->conf->listen_addrs, st->conf->nlisten_addrs);
		*slot = a;
		arg = comma;
	} while (arg != NULL);
	return 0;
}

/*
 * address=, server=, local=: [/d1/d2/.../][value]. As in dnsmasq, the last
 * '/'-separated field is the value; with a single field it is both domain and value;
 * an empty field in the domain list means names without a dot (server=//ip) and, for
 * address=, server= and local=, "#" means every name. The rules of one line share a
 * sequence number.
 */
static int
dc_opt_server(struct dc_state *st, enum dc_id id, char *arg)
{
	enum dnsconf_rule_src src = id == DC_ADDRESS ? DNSCONF_SRC_ADDRESS :
	    id == DC_LOCAL ? DNSCONF_SRC_LOCAL : DNSCONF_SRC_SERVER;
	char *domain = NULL, *lastdomain = NULL, *cur, *last, **comps = NULL;
	enum dnsconf_action action;
	struct dnsconf_upstream up;
	struct dnsconf_addr addr;
	size_t ncomps = 0;
	const char *why;
	bool resolv;
	int rc = -1;

	memset(&addr, 0, sizeof(addr));
	memset(&up, 0, sizeof(up));
	dc_unhide(arg);
	if (arg != NULL && *arg == '/') {
		domain = lastdomain = ++arg;
		*DC_PUSH(comps, ncomps) = domain;
		while ((last = dc_split_chr(arg, '/')) != NULL) {
			lastdomain = arg;
			arg = last;
			*DC_PUSH(comps, ncomps) = arg;
		}
		ncomps--;	/* the last field is the value */
	}
	if (arg == NULL || *arg == '\0')
		action = DNSCONF_ACT_LOCAL;
	else if (id == DC_ADDRESS) {
		if (strcmp(arg, "#") == 0)
			action = DNSCONF_ACT_ZEROS;
		else if (dc_inet(arg, &addr))
			action = addr.family == AF_INET ? DNSCONF_ACT_ADDR4 : DNSCONF_ACT_ADDR6;
		else {
			dc_bad(st, "address", arg, "not an IPv4 or IPv6 address, \"#\" or empty");
			goto cleanup;
		}
	} else {
		if (dc_parse_server(st, arg, &up, &resolv) == -1)
			goto cleanup;
		action = resolv ? DNSCONF_ACT_RESOLV : DNSCONF_ACT_FORWARD;
	}
	st->rule_seq++;
	if (lastdomain == NULL) {
		(void)dc_add_rule(st, action, src, "", false, &addr, &up, &why);
		rc = 0;
		goto cleanup;
	}
	/* dnsmasq walks the cut-up list string: spaces before a '/' leave empty domains
	 * behind, and a space after one makes it read past the list (and fail). */
	for (cur = domain; ; cur += strlen(cur) + 1) {
		bool nodots = *cur == '\0', real = false;

		for (size_t i = 0; i < ncomps; i++)
			if (comps[i] == cur)
				real = true;
		if (cur > lastdomain) {
			dc_bad(st, "domain list", st->optshow,
			    "a space after '/' (dnsmasq reads past the list)");
			goto cleanup;
		}
		if (nodots && !real)
			dc_warn(st, "%s=%s: a space before '/' makes an empty domain, which "
			    "matches names without a dot (as in dnsmasq)", st->optname,
			    st->optshow);
		/* "#" is every name, for server= and local= too (observed on 2.90). */
		if (strcmp(cur, "#") == 0)
			cur[0] = '\0';
		if (dc_add_rule(st, action, src, cur, nodots, &addr, &up, &why) == -1) {
			dc_bad(st, "domain", cur, why);
			goto cleanup;
		}
		if (cur == lastdomain)
			break;
	}
	rc = 0;
cleanup:
	free(comps);
	return rc;
}

/*
 * Adds the in-addr.arpa zones of addr/size as dnsmasq's domain_rev4() does: a
 * prefix that is not a multiple of 8 gives 2^(8 - size % 8) zones. up NULL makes
 * them local= zones. Returns -1 with *why set for a bad prefix length.
 */
static int
dc_rev4(struct dc_state *st, enum dnsconf_rule_src src, enum dnsconf_action action,
    const struct dnsconf_upstream *up, struct in_addr a4, int size, const char **why)
{
	uint8_t *b = (uint8_t *)&a4;
	int rem, count = 1, msize;

	if (size > 32 || size < 1) {
		*why = "bad IPv4 prefix length";
		return -1;
	}
	rem = size & 7;
	b[3 - ((32 - size) >> 3)] &= (uint8_t)~((1u << ((32 - size) & 7)) - 1);
	size &= ~7;
	if (rem != 0)
		count = 1 << (8 - rem);
	msize = size / 8;
	for (int i = 0; i < count; i++) {
		char zone[32];
		size_t o = 0;

		for (int j = rem == 0 ? msize - 1 : msize; j >= 0; j--) {
			int dig = b[j] + (j == msize ? i : 0);

			o += (size_t)snprintf(zone + o, sizeof(zone) - o, "%d.", dig);
		}
		snprintf(zone + o, sizeof(zone) - o, "in-addr.arpa");
		if (dc_add_rule(st, action, src, zone, false, NULL, up, why) == -1)
			return -1;
	}
	return 0;
}

/* The ip6.arpa version (dnsmasq's domain_rev6()): nibble zones, 2^(4 - size % 4). */
static int
dc_rev6(struct dc_state *st, enum dnsconf_rule_src src, enum dnsconf_action action,
    const struct dnsconf_upstream *up, struct in6_addr a6, int size, const char **why)
{
	int rem, count = 1, msize;

	if (size > 128 || size < 1) {
		*why = "bad IPv6 prefix length";
		return -1;
	}
	rem = size & 3;
	a6.s6_addr[15 - ((128 - size) >> 3)] &= (uint8_t)~((1u << ((128 - size) & 7)) - 1);
	size &= ~3;
	if (rem != 0)
		count = 1 << (4 - rem);
	msize = size / 4;
	for (int i = 0; i < count; i++) {
		char zone[80];
		size_t o = 0;

		for (int j = rem == 0 ? msize - 1 : msize; j >= 0; j--) {
			int dig = a6.s6_addr[j >> 1];

			dig = (j & 1) ? dig & 15 : dig >> 4;
			if (j == msize)
				dig += i;
			o += (size_t)snprintf(zone + o, sizeof(zone) - o, "%x.", dig);
		}
		snprintf(zone + o, sizeof(zone) - o, "ip6.arpa");
		if (dc_add_rule(st, action, src, zone, false, NULL, up, why) == -1)
			return -1;
	}
	return 0;
}

/* rev-server=addr[/len][,server]: forward (or, without a server, answer locally)
 * the reverse zones of a network. A prefix that is not a number means /32 (/128). */
static int
dc_opt_rev_server(struct dc_state *st, char *arg)
{
	struct dnsconf_upstream up, *upp = NULL;
	enum dnsconf_action action = DNSCONF_ACT_LOCAL;
	struct dnsconf_addr a;
	char *comma, *slash;
	const char *why;
	long size = -1;
	bool resolv;

	dc_unhide(arg);
	comma = dc_split(arg);
	if ((slash = dc_split_chr(arg, '/')) == NULL || !dc_digits(slash))
		size = -1;
	else if (dc_number(slash, INT_MAX, &size, &why) == -1)
		return dc_bad(st, "prefix length", slash, why);
	if (!dc_inet(arg, &a))
		return dc_bad(st, "address", arg, "not an IPv4 or IPv6 address");
	if (comma != NULL) {
		if (dc_parse_server(st, comma, &up, &resolv) == -1)
			return -1;
		upp = &up;
		action = resolv ? DNSCONF_ACT_RESOLV : DNSCONF_ACT_FORWARD;
	}
	st->rule_seq++;
	if (a.family == AF_INET) {
		if (dc_rev4(st, DNSCONF_SRC_REV_SERVER, action, upp, a.u.v4,
		    size == -1 ? 32 : (int)size, &why) == -1)
			return dc_bad(st, "prefix length", slash != NULL ? slash : "", why);
	} else if (dc_rev6(st, DNSCONF_SRC_REV_SERVER, action, upp, a.u.v6,
	    size == -1 ? 128 : (int)size, &why) == -1)
		return dc_bad(st, "prefix length", slash != NULL ? slash : "", why);
	return 0;
}

/* --- options: local data -------------------------------------------------------------- */

/* The range of domain=d,range[,local] (unhidden, cut up here) into tmp; d_raw is the
 * domain as written, for the local=/d/ rule. */
static int
dc_domain_range(struct dc_state *st, char *comma, const char *d_raw,
    struct dnsconf_domain *tmp)
{
	char *netpart, *rest;
	const char *why;
	long msize;

	if ((netpart = dc_split_chr(comma, '/')) == NULL) {
		rest = dc_split(comma);
		(void)dc_split(rest);	/* dnsmasq ignores a third field here */
		if (!dc_inet(comma, &tmp->start)) {
			tmp->kind = DNSCONF_DOM_INTERFACE;
			tmp->interface = dc_string(comma);
			return 0;
		}
		tmp->kind = DNSCONF_DOM_RANGE;
		tmp->end = tmp->start;
		if (rest != NULL && (!dc_inet(rest, &tmp->end) ||
		    tmp->end.family != tmp->start.family))
			return dc_bad(st, "range end", rest, tmp->start.family == AF_INET ?
			    "not an IPv4 address" : "not an IPv6 address");
		return 0;
	}
	rest = dc_split(netpart);
	if (dc_number(netpart, INT_MAX, &msize, &why) == -1)
		return dc_bad(st, "prefix length", netpart, why);
	tmp->kind = DNSCONF_DOM_RANGE;
	if (!dc_inet(comma, &tmp->start))
		return dc_bad(st, "network", comma, "not an IPv4 or IPv6 address");
	tmp->end = tmp->start;
	if (tmp->start.family == AF_INET) {
		/* dnsmasq computes (1 << (32 - len)) - 1; len 0 shifts by 32, which x86
		 * treats as 0, giving an empty mask. */
		uint32_t mask, a;

		if (msize > 32)
			return dc_bad(st, "prefix length", netpart, "must be at most 32");
		mask = msize == 0 ? 0 : (uint32_t)((1ull << (32 - msize)) - 1);
		a = ntohl(tmp->start.u.v4.s_addr) & ~mask;
		tmp->start.u.v4.s_addr = htonl(a);
		tmp->end.u.v4.s_addr = htonl(a | mask);
	} else {
		/* Only the low 64 bits are masked, as in dnsmasq. */
		uint64_t mask, lo = 0;

		if (msize > 128)
			return dc_bad(st, "prefix length", netpart, "must be at most 128");
		mask = msize <= 64 ? UINT64_MAX : (1ull << (128 - msize)) - 1;
		for (int i = 8; i < 16; i++)
			lo = lo << 8 | tmp->start.u.v6.s6_addr[i];
		for (int i = 15; i >= 8; i--) {
			tmp->start.u.v6.s6_addr[i] = (uint8_t)((lo & ~mask) >> (8 * (15 - i)));
			tmp->end.u.v6.s6_addr[i] = (uint8_t)((lo | mask) >> (8 * (15 - i)));
		}
	}
	tmp->prefixlen = (int)msize;
	if (rest == NULL)
		return 0;
	if (strcmp(rest, "local") != 0)
		return dc_bad(st, "range option", rest, "only \"local\" may follow a network");
	tmp->local = true;
	tmp->seq = ++st->rule_seq;
	/* dnsmasq ignores the result of both (a /0 network makes no zone). */
	if (tmp->start.family == AF_INET)
		(void)dc_rev4(st, DNSCONF_SRC_DOMAIN, DNSCONF_ACT_LOCAL, NULL, tmp->start.u.v4,
		    (int)msize, &why);
	else
		(void)dc_rev6(st, DNSCONF_SRC_DOMAIN, DNSCONF_ACT_LOCAL, NULL, tmp->start.u.v6,
		    (int)msize, &why);
	(void)dc_add_rule(st, DNSCONF_ACT_LOCAL, DNSCONF_SRC_DOMAIN, d_raw, false, NULL, NULL,
	    &why);
	return 0;
}

/*
 * domain=d[,range[,local]] (and domain-suffix=): "#" takes the domain from the
 * search line of the resolv.conf; a range is start[,end], net/len or an interface
 * name; ",local" (only after net/len) adds local=/d/ and local= for the reverse
 * zones, as dnsmasq does. Only the plain form sets domain_suffix.
 */
static int
dc_opt_domain(struct dc_state *st, char *arg)
{
	struct dnsconf_domain tmp;
	char *d_raw = arg, *comma;
	const char *why;

	memset(&tmp, 0, sizeof(tmp));
	if (strcmp(arg, "#") == 0) {
		st->resolv_domain = true;
		st->resolv_domain_origin = st->origin;
		return 0;
	}
	comma = dc_split(arg);
	if ((tmp.domain = dc_canon_opt(d_raw, &why)) == NULL)
		return dc_bad(st, "domain", d_raw, why);
	tmp.origin = st->origin;
	tmp.prefixlen = -1;
	tmp.seq = st->rule_seq;
	if (comma == NULL) {
		tmp.kind = DNSCONF_DOM_PLAIN;
		free(st->conf->domain_suffix);
		st->conf->domain_suffix = xstrdup(tmp.domain);
	} else {
		dc_unhide(comma);
		if (dc_domain_range(st, comma, d_raw, &tmp) == -1) {
			free(tmp.domain);
			free(tmp.interface);
			return -1;
		}
	}
	*DC_PUSH(st->conf->domains, st->conf->ndomains) = tmp;
	return 0;
}

/* host-record=: names, an IPv4 and an IPv6 address and a TTL in any order (the
 * last of each kind wins); an all-digit field (even empty) is the TTL. */
static int
dc_opt_host_record(struct dc_state *st, char *arg)
{
	struct dnsconf_host_record hr, *slot;
	char *comma;
	const char *why;
	int rc = -1;

	memset(&hr, 0, sizeof(hr));
	hr.origin = st->origin;
	if ((comma = dc_split(arg)) == NULL)
		return dc_badopt(st, "needs a name and an address (host-record=name,address)");
	while (arg != NULL) {
		const char *dig;
		struct in_addr a4;
		struct in6_addr a6;

		for (dig = arg; *dig != '\0'; dig++)
			if (*dig < '0' || *dig > '9')
				break;
		if (*dig == '\0') {
			long ttl;

			if (dc_number(arg, INT_MAX, &ttl, &why) == -1) {
				dc_bad(st, "TTL", arg, why);
				goto cleanup;
			}
			hr.ttl = (uint32_t)ttl;
			hr.ttl_given = true;
		} else if (inet_pton(AF_INET, arg, &a4) == 1) {
			hr.v4 = a4;
			hr.has_v4 = true;
		} else if (inet_pton(AF_INET6, arg, &a6) == 1) {
			hr.v6 = a6;
			hr.has_v6 = true;
		} else {
			char *name = dc_canon_opt(arg, &why);

			if (name == NULL) {
				dc_bad(st, "name", arg, why);
				goto cleanup;
			}
			dc_push_str(&hr.names, &hr.nnames, name);
		}
		arg = comma;
		comma = dc_split(arg);
	}
	slot = DC_PUSH(st->conf->host_records, st->conf->nhost_records);
	*slot = hr;
	hr.names = NULL;
	hr.nnames = 0;
	rc = 0;
cleanup:
	for (size_t i = 0; i < hr.nnames; i++)
		free(hr.names[i]);
	free(hr.names);
	return rc;
}

/* cname=alias[,alias...],target[,ttl]: with three fields or more a numeric last one
 * is the TTL. Each alias must be new. Spaces before a comma make dnsmasq add an
 * empty alias, which is kept (and collides with the next one). */
static int
dc_opt_cname(struct dc_state *st, char *arg)
{
	char *comma, *last = NULL, *pen = NULL, *target = NULL;
	const char *why;
	long ttl = -1;
	int rc = -1;

	for (comma = arg; comma != NULL; comma = dc_split(comma)) {
		pen = last;
		last = comma;
	}
	if (pen == NULL)
		return dc_badopt(st, "needs an alias and a target (cname=alias,target)");
	if (pen != arg) {
		dc_unhide(last);
		if (dc_digits(last)) {
			if (dc_number(last, INT_MAX, &ttl, &why) == -1)
				return dc_bad(st, "TTL", last, why);
			last = pen;
		}
	}
	while (arg != last) {
		size_t arglen = strlen(arg);
		struct dnsconf_cname *cn;
		char *alias;

		if (arg > last) {
			dc_badopt(st, "malformed alias list");
			goto cleanup;
		}
		if ((alias = dc_canon_opt(arg, &why)) == NULL) {
			dc_bad(st, "alias", arg, why);
			goto cleanup;
		}
		if (target == NULL && (target = dc_canon_opt(last, &why)) == NULL) {
			dc_bad(st, "target", last, why);
			free(alias);
			goto cleanup;
		}
		for (size_t i = 0; i < st->conf->ncnames; i++) {
			char where[600], msg[700];

			if (strcmp(st->conf->cnames[i].alias, alias) == 0) {
				snprintf(msg, sizeof(msg), "duplicate CNAME (first defined at %s)",
				    dc_where(&st->conf->cnames[i].origin, where, sizeof(where)));
				dc_bad(st, "alias", alias, msg);
				free(alias);
				goto cleanup;
			}
		}
		cn = DC_PUSH(st->conf->cnames, st->conf->ncnames);
		cn->alias = alias;
		cn->target = xstrdup(target);
		cn->ttl_given = ttl >= 0;
		cn->ttl = ttl >= 0 ? (uint32_t)ttl : 0;
		cn->origin = st->origin;
		for (arg += arglen + 1; *arg != '\0' && isspace((unsigned char)*arg); arg++)
			;
	}
	rc = 0;
cleanup:
	free(target);
	return rc;
}

/* ptr-record=name[,target]. */
static int
dc_opt_ptr(struct dc_state *st, char *arg)
{
	struct dnsconf_ptr *p;
	char *comma, *name, *target = NULL;
	const char *why;

	comma = dc_split(arg);
	if ((name = dc_canon_opt(arg, &why)) == NULL)
		return dc_bad(st, "name", arg, why);
	if (comma != NULL && (target = dc_canon_opt(comma, &why)) == NULL) {
		free(name);
		return dc_bad(st, "target", comma, why);
	}
	p = DC_PUSH(st->conf->ptrs, st->conf->nptrs);
	p->name = name;
	p->target = target;
	p->origin = st->origin;
	return 0;
}

/* txt-record=name[,s1,s2...]: unquoted commas separate strings; a string of more
 * than 255 bytes continues in the next one. */
static int
dc_opt_txt(struct dc_state *st, char *arg)
{
	struct dnsconf_txt *t;
	char *comma, *name;
	const char *why;
	uint8_t *p, *cnt, *rdata;
	size_t len;

	comma = dc_split(arg);
	if ((name = dc_canon_opt(arg, &why)) == NULL)
		return dc_bad(st, "name", arg, why);
	len = comma != NULL ? strlen(comma) : 0;
	len += len / 255 + 1;
	rdata = p = xmalloc(len);
	cnt = p++;
	*cnt = 0;
	while (comma != NULL && *comma != '\0') {
		char c = *comma++;

		if (c == ',' || *cnt == 255) {
			if (c != ',')
				comma--;
			cnt = p++;
			*cnt = 0;
		} else {
			*p++ = (uint8_t)dc_unhide_char(c);
			(*cnt)++;
		}
	}
	t = DC_PUSH(st->conf->txts, st->conf->ntxts);
	t->name = name;
	t->rdata = rdata;
	t->rdlen = (size_t)(p - rdata);
	t->origin = st->origin;
	return 0;
}

/* srv-host=name[,target[,port[,prio[,weight]]]]. */
static int
dc_opt_srv(struct dc_state *st, char *arg)
{
	struct dnsconf_srv srv, *slot;
	char *comma;
	const char *why;
	long v;
	int rc = -1;

	memset(&srv, 0, sizeof(srv));
	srv.port = 1;
	srv.origin = st->origin;
	comma = dc_split(arg);
	if ((srv.name = dc_canon_opt(arg, &why)) == NULL)
		return dc_bad(st, "SRV name", arg, why);
	if (comma != NULL) {
		arg = comma;
		comma = dc_split(arg);
		if ((srv.target = dc_canon_opt(arg, &why)) == NULL) {
			dc_bad(st, "SRV target", arg, why);
			goto cleanup;
		}
		if (comma != NULL) {
			arg = comma;
			comma = dc_split(arg);
			if (dc_number(arg, 65535, &v, &why) == -1) {
				dc_bad(st, "port", arg, why);
				goto cleanup;
			}
			srv.port = (uint16_t)v;
			if (comma != NULL) {
				arg = comma;
				comma = dc_split(arg);
				if (dc_number(arg, 65535, &v, &why) == -1) {
					dc_bad(st, "priority", arg, why);
					goto cleanup;
				}
				srv.prio = (uint16_t)v;
				if (comma != NULL) {
					if (dc_number(comma, 65535, &v, &why) == -1) {
						dc_bad(st, "weight", comma, why);
						goto cleanup;
					}
					srv.weight = (uint16_t)v;
				}
			}
		}
	}
	slot = DC_PUSH(st->conf->srvs, st->conf->nsrvs);
	*slot = srv;
	srv.name = srv.target = NULL;
	rc = 0;
cleanup:
	free(srv.name);
	free(srv.target);
	return rc;
}

/* mx-host=name[,host[,pref]]. */
static int
dc_opt_mx(struct dc_state *st, char *arg)
{
	struct dnsconf_mx *mx;
	char *comma, *prefstr, *name = NULL, *target = NULL;
	const char *why;
	long pref = 1;

	if ((comma = dc_split(arg)) != NULL && (prefstr = dc_split(comma)) != NULL &&
	    dc_number(prefstr, 65535, &pref, &why) == -1)
		return dc_bad(st, "MX preference", prefstr, why);
	if ((name = dc_canon_opt(arg, &why)) == NULL)
		return dc_bad(st, "MX name", arg, why);
	if (comma != NULL && (target = dc_canon_opt(comma, &why)) == NULL) {
		free(name);
		return dc_bad(st, "MX host", comma, why);
	}
	mx = DC_PUSH(st->conf->mxs, st->conf->nmxs);
	mx->name = name;
	mx->target = target;
	mx->pref = (uint16_t)pref;
	mx->origin = st->origin;
	return 0;
}

/* resolv-file=[path]: the first one replaces the default (an empty one leaves none). */
static int
dc_opt_resolv_file(struct dc_state *st, char *arg)
{
	struct dnsconf *conf = st->conf;
	char *name = dc_string(arg);

	if (st->resolv_default) {
		for (size_t i = 0; i < conf->nresolv_files; i++)
			free(conf->resolv_files[i]);
		conf->nresolv_files = 0;
		st->resolv_default = false;
	}
	if (name != NULL)
		dc_push_str(&conf->resolv_files, &conf->nresolv_files, name);
	return 0;
}

/* --- options: files ------------------------------------------------------------------- */

static int
dc_strcmp_p(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether name (of length len) ends with one of the suffixes, strictly longer. */
static bool
dc_suffix_in(const char *name, size_t len, char **sfx, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t ls = strlen(sfx[i]);

		if (len > ls && strcmp(sfx[i], name + len - ls) == 0)
			return true;
	}
	return false;
}

/*
 * conf-dir=dir[,ext...]: reads the regular files of dir in name order, skipping
 * names ending in '~', starting with '.' or of the form #...#, those ending in an
 * excluded extension and, when *ext items are given, those matching none of them.
 */
static int
dc_opt_conf_dir(struct dc_state *st, char *arg)
{
	char *comma, *dir, **ignore = NULL, **match = NULL, **files = NULL;
	size_t nignore = 0, nmatch = 0, nfiles = 0;
	struct dirent *de;
	DIR *d = NULL;
	int rc = -1;

	comma = dc_split(arg);
	if ((dir = dc_string(arg)) == NULL)
		return 0;
	for (arg = comma; arg != NULL; arg = comma) {
		comma = dc_split(arg);
		if (*arg == '\0')
			continue;
		if (*arg == '*') {
			if (arg[1] != '\0')
				dc_push_str(&match, &nmatch, dc_string(arg + 1));
		} else
			dc_push_str(&ignore, &nignore, dc_string(arg));
	}
	if (st->params->no_files) {
		rc = 0;
		goto cleanup;
	}
	if ((d = opendir(dir)) == NULL) {
		char v[600];

		dc_err(st, "cannot access directory \"%s\" (conf-dir): %s",
		    dc_vis(dir, v, sizeof(v)), strerror(errno));
		goto cleanup;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		struct stat sb;
		char *path;

		if (len == 0 || de->d_name[len - 1] == '~' || de->d_name[0] == '.' ||
		    (de->d_name[0] == '#' && de->d_name[len - 1] == '#'))
			continue;
		if (nmatch > 0 && !dc_suffix_in(de->d_name, len, match, nmatch))
			continue;
		if (dc_suffix_in(de->d_name, len, ignore, nignore))
			continue;
		xasprintf(&path, "%s/%s", dir, de->d_name);
		if (stat(path, &sb) == -1) {
			char v[600];

			dc_err(st, "cannot access \"%s\" (conf-dir): %s",
			    dc_vis(path, v, sizeof(v)), strerror(errno));
			free(path);
			goto cleanup;
		}
		if (S_ISREG(sb.st_mode))
			dc_push_str(&files, &nfiles, path);
		else
			free(path);
	}
	closedir(d);
	d = NULL;
	if (nfiles > 0)
		qsort(files, nfiles, sizeof(*files), dc_strcmp_p);
	for (size_t i = 0; i < nfiles; i++)
		if (dc_one_file(st, files[i], false) == -1)
			goto cleanup;
	rc = 0;
cleanup:
	if (d != NULL)
		closedir(d);
	for (size_t i = 0; i < nignore; i++)
		free(ignore[i]);
	for (size_t i = 0; i < nmatch; i++)
		free(match[i]);
	for (size_t i = 0; i < nfiles; i++)
		free(files[i]);
	free(ignore);
	free(match);
	free(files);
	free(dir);
	return rc;
}

/* --- one option ------------------------------------------------------------------------ */

static bool
dc_is_once(enum dc_id id)
{
	switch (id) {
	case DC_PORT: case DC_CACHE_SIZE: case DC_EDNS_PACKET_MAX: case DC_QUERY_PORT:
	case DC_USER: case DC_GROUP: case DC_PID_FILE: case DC_LOCAL_TTL: case DC_NEG_TTL:
	case DC_MAX_TTL: case DC_MIN_CACHE_TTL: case DC_MAX_CACHE_TTL: case DC_DNS_FORWARD_MAX:
		return true;
	default:
		return false;
	}
}

/* Sets a numeric option: dnsmasq's atoi_check (or atoi_check16 when max is 65535). */
static int
dc_set_number(struct dc_state *st, char *arg, long max, long *out)
{
	const char *why;

	if (dc_number(arg, max, out, &why) == -1)
		return dc_bad(st, "number", arg != NULL ? arg : "", why);
	return 0;
}

/*
 * Applies option o with value arg (NULL when none was given; hidden characters
 * intact when it comes from a file), as dnsmasq's one_opt(): first the rule that a
 * single-valued option is set at most once per place (the file overriding the
 * command line), then the value.
 */
static int
dc_apply(struct dc_state *st, const struct dc_opt *o, char *arg)
{
	struct dnsconf *conf = st->conf;
	const char *saved_name = st->optname;
	char *saved_show = st->optshow;
	long v;
	int rc = -1;

	st->optname = o->name;
	st->optshow = arg != NULL ? xstrdup(arg) : xstrdup("");
	dc_unhide(st->optshow);
	if (dc_is_once(o->id)) {
		enum dc_once *once = &st->once[o->id];
		char where[600];

		if (st->command_line && *once == DC_ONCE_CL) {
			dc_err(st, "option --%s given twice (dnsmasq allows it once on the command "
			    "line)", o->name);
			goto cleanup;
		}
		if (!st->command_line && *once == DC_ONCE_FILE) {
			dc_err(st, "option \"%s\" given twice in the configuration files (first at "
			    "%s; dnsmasq allows it once)", o->name,
			    dc_where(&st->once_origin[o->id], where, sizeof(where)));
			goto cleanup;
		}
		/* As dnsmasq's usage[].rept: the command line only marks an unset option. */
		if (!st->command_line || *once == DC_ONCE_FREE) {
			*once = st->command_line ? DC_ONCE_CL : DC_ONCE_FILE;
			st->once_origin[o->id] = st->origin;
		}
	}
	switch (o->id) {
	case DC_UNSUPPORTED:
		if (o->cat == DC_CAT_APPLET && !st->command_line) {
			/* dnsmasq's one_opt() sets option bit 0 for these: bogus-priv. */
			dc_warn(st, "\"%s\" does nothing in a configuration file but turns on "
			    "bogus-priv, as in dnsmasq", o->name);
			conf->bogus_priv = true;
			break;
		}
		dc_err(st, "option \"%s%s\" is not supported by zt dns (%s)",
		    st->command_line ? "--" : "", o->name, dc_cat_reason[o->cat]);
		goto cleanup;
	case DC_ADDN_HOSTS: {
		char *s = dc_string(arg);

		if (s == NULL) {
			dc_badopt(st, "needs a file or directory name");
			goto cleanup;
		}
		dc_push_str(&conf->addn_hosts, &conf->naddn_hosts, s);
		break;
	}
	case DC_ADDRESS:
	case DC_LOCAL:
	case DC_SERVER:
		if (dc_opt_server(st, o->id, arg) == -1)
			goto cleanup;
		break;
	case DC_ALL_SERVERS:
		conf->all_servers = true;
		break;
	case DC_BIND_DYNAMIC:
		conf->bind_dynamic = true;
		break;
	case DC_BIND_INTERFACES:
		conf->bind_interfaces = true;
		break;
	case DC_BOGUS_PRIV:
		conf->bogus_priv = true;
		break;
	case DC_CACHE_SIZE:
		if (dc_set_number(st, arg, INT_MAX, &v) == -1)
			goto cleanup;
		conf->cache_size = v > DC_CACHE_MAX ? DC_CACHE_MAX : (uint32_t)v;
		break;
	case DC_CNAME:
		if (dc_opt_cname(st, arg) == -1)
			goto cleanup;
		break;
	case DC_CONF_DIR:
		if (dc_opt_conf_dir(st, arg) == -1)
			goto cleanup;
		break;
	case DC_CONF_FILE: {
		char *file = dc_string(arg);

		rc = file != NULL ? dc_one_file(st, file, false) : 0;
		free(file);
		if (rc == -1)
			goto cleanup;
		break;
	}
	case DC_DNS_FORWARD_MAX:
		if (dc_set_number(st, arg, INT_MAX, &v) == -1)
			goto cleanup;
		conf->dns_forward_max = (uint32_t)v;
		break;
	case DC_DOMAIN:
		if (dc_opt_domain(st, arg) == -1)
			goto cleanup;
		break;
	case DC_DOMAIN_NEEDED:
		conf->domain_needed = true;
		break;
	case DC_EDNS_PACKET_MAX:
		if (dc_set_number(st, arg, 65535, &v) == -1)
			goto cleanup;
		conf->edns_packet_max = (uint16_t)v;
		break;
	case DC_EXCEPT_INTERFACE:
		dc_opt_iflist(arg, &conf->except_interfaces, &conf->nexcept_interfaces);
		break;
	case DC_EXPAND_HOSTS:
		conf->expand_hosts = true;
		break;
	case DC_GROUP:
		free(conf->group);
		conf->group = dc_string(arg);
		conf->group_set = true;
		break;
	case DC_HOST_RECORD:
		if (dc_opt_host_record(st, arg) == -1)
			goto cleanup;
		break;
	case DC_INTERFACE:
		dc_opt_iflist(arg, &conf->interfaces, &conf->ninterfaces);
		break;
	case DC_KEEP_IN_FOREGROUND:
		conf->keep_in_foreground = true;
		break;
	case DC_LISTEN_ADDRESS:
		if (dc_opt_listen(st, arg) == -1)
			goto cleanup;
		break;
	case DC_LOCAL_TTL:
	case DC_NEG_TTL:
	case DC_MAX_TTL:
	case DC_MIN_CACHE_TTL:
	case DC_MAX_CACHE_TTL:
		if (dc_set_number(st, arg, INT_MAX, &v) == -1)
			goto cleanup;
		if (o->id == DC_LOCAL_TTL)
			conf->local_ttl = (uint32_t)v;
		else if (o->id == DC_NEG_TTL)
			conf->neg_ttl = (uint32_t)v;
		else if (o->id == DC_MAX_TTL)
			conf->max_ttl = (uint32_t)v;
		else if (o->id == DC_MIN_CACHE_TTL)
			conf->min_cache_ttl = v > DC_TTL_FLOOR_MAX ? DC_TTL_FLOOR_MAX : (uint32_t)v;
		else
			conf->max_cache_ttl = (uint32_t)v;
		break;
	case DC_LOG_QUERIES:
		conf->log_queries = true;
		/* Compared before unhiding, as dnsmasq does: a quoted "extra" is not it. */
		if (arg != NULL && strcmp(arg, "extra") == 0)
			conf->log_queries_extra = true;
		free(conf->log_queries_arg);
		conf->log_queries_arg = arg != NULL ? xstrdup(st->optshow) : NULL;
		break;
	case DC_MX_HOST:
		if (dc_opt_mx(st, arg) == -1)
			goto cleanup;
		break;
	case DC_NO_DAEMON:
		conf->no_daemon = true;
		break;
	case DC_NO_HOSTS:
		conf->no_hosts = true;
		break;
	case DC_NO_NEGCACHE:
		conf->no_negcache = true;
		break;
	case DC_NO_RESOLV:
		conf->no_resolv = true;
		break;
	case DC_PID_FILE:
		free(conf->pid_file);
		conf->pid_file = dc_string(arg);
		break;
	case DC_PORT:
		if (dc_set_number(st, arg, 65535, &v) == -1)
			goto cleanup;
		conf->port = (uint16_t)v;
		break;
	case DC_PTR_RECORD:
		if (dc_opt_ptr(st, arg) == -1)
			goto cleanup;
		break;
	case DC_QUERY_PORT:
		if (dc_set_number(st, arg, 65535, &v) == -1)
			goto cleanup;
		conf->query_port = (uint16_t)v;
		conf->query_port_set = true;
		break;
	case DC_RESOLV_FILE:
		dc_opt_resolv_file(st, arg);
		break;
	case DC_REV_SERVER:
		if (dc_opt_rev_server(st, arg) == -1)
			goto cleanup;
		break;
	case DC_SRV_HOST:
		if (dc_opt_srv(st, arg) == -1)
			goto cleanup;
		break;
	case DC_STRICT_ORDER:
		conf->strict_order = true;
		break;
	case DC_TXT_RECORD:
		if (dc_opt_txt(st, arg) == -1)
			goto cleanup;
		break;
	case DC_USER:
		free(conf->user);
		conf->user = dc_string(arg);
		break;
	case DC_NIDS:
		break;
	}
	rc = 0;
cleanup:
	free(st->optshow);
	st->optname = saved_name;
	st->optshow = saved_show;	/* conf-file and conf-dir nest */
	return rc;
}

/* --- files ---------------------------------------------------------------------------- */

/* Finds dnsmasq's option called name (exactly). */
static const struct dc_opt *
dc_find(const char *name)
{
	for (size_t i = 0; i < nitems(dc_opts); i++)
		if (strcmp(dc_opts[i].name, name) == 0)
			return &dc_opts[i];
	return NULL;
}

/* The closest option name to name, if close enough to suggest. */
static const char *
dc_suggest(const char *name)
{
	size_t best = SIZE_MAX, len = strlen(name);
	const char *s = NULL;

	for (size_t i = 0; i < nitems(dc_opts); i++) {
		size_t d = util_edit_distance(name, dc_opts[i].name);

		if (d < best) {
			best = d;
			s = dc_opts[i].name;
		}
	}
	if (best == 0 || best > (len >= 4 ? 2u : 1u))
		return NULL;
	return s;
}

/* Logs the error for an option name dnsmasq does not know. */
static int
dc_unknown(struct dc_state *st, const char *prefix, const char *name)
{
	const char *s = dc_suggest(name);
	char v[600];

	if (s != NULL)
		return dc_err(st, "unknown option \"%s%s\"; did you mean \"%s%s\"?", prefix,
		    dc_vis(name, v, sizeof(v)), prefix, s);
	return dc_err(st, "unknown option \"%s%s\"", prefix, dc_vis(name, v, sizeof(v)));
}

/*
 * Applies dnsmasq's line rules in place: '"' quotes (with \\ \" \t \n \e \b \r)
 * hide what they enclose, other whitespace becomes a space, and '#' at the start
 * or after whitespace starts a comment. Returns -1 with *why set.
 */
static int
dc_prep_line(char *buf, const char **why)
{
	bool white = true;

	for (char *p = buf; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 && !isspace(c) && dc_meta[c] != (char)c) {
			*why = "control character";
			return -1;
		}
		if (*p == '"') {
			memmove(p, p + 1, strlen(p + 1) + 1);
			for (; *p != '\0' && *p != '"'; p++) {
				c = (unsigned char)*p;
				if (c < 0x20 && dc_meta[c] != (char)c) {
					*why = "control character";
					return -1;
				}
				if (*p == '\\' && p[1] != '\0' &&
				    strchr("\"tnebr\\", p[1]) != NULL) {
					if (p[1] == 't')
						p[1] = '\t';
					else if (p[1] == 'n')
						p[1] = '\n';
					else if (p[1] == 'b')
						p[1] = '\b';
					else if (p[1] == 'r')
						p[1] = '\r';
					else if (p[1] == 'e')
						p[1] = '\033';
					memmove(p, p + 1, strlen(p + 1) + 1);
				}
				*p = dc_hide(*p);
			}
			if (*p == '\0') {
				*why = "missing closing '\"'";
				return -1;
			}
			memmove(p, p + 1, strlen(p + 1) + 1);
			/* dnsmasq does not look at the character after a closing quote as a
			 * quote, and reads past the end when there is none. */
			if (*p == '\0')
				break;
			c = (unsigned char)*p;
			if (c < 0x20 && !isspace(c) && dc_meta[c] != (char)c) {
				*why = "control character";
				return -1;
			}
		}
		if (isspace((unsigned char)*p)) {
			*p = ' ';
			white = true;
		} else {
			if (white && *p == '#') {
				*p = '\0';
				break;
			}
			white = false;
		}
	}
	return 0;
}

/* Reads one line of a configuration file (NUL-terminated, newline removed). */
static int
dc_line(struct dc_state *st, char *buf)
{
	const struct dc_opt *o;
	char *start, *p, *arg;
	const char *why;
	size_t len;

	if (dc_prep_line(buf, &why) == -1)
		return dc_err(st, "%s", why);
	for (start = buf; *start == ' '; start++)
		;
	for (len = strlen(start); len != 0 && start[len - 1] == ' '; len--)
		;
	if (len == 0)
		return 0;
	start[len] = '\0';
	if ((p = strchr(start, '=')) != NULL) {
		for (arg = p + 1; *arg == ' '; arg++)
			;
		for (;;) {
			if (*p != ' ' && *p != '=')
				break;
			*p = '\0';
			if (p == start)
				break;
			p--;
		}
	} else
		arg = NULL;
	if ((o = dc_find(start)) == NULL) {
		char *shown = xstrdup(start);
		int rc;

		dc_unhide(shown);
		if (*shown == '\0')
			rc = dc_err(st, "missing option name before '='");
		else if (strcmp(shown, start) != 0 && dc_find(shown) != NULL)
			rc = dc_err(st, "option name \"%s\" is quoted: dnsmasq does not recognise "
			    "it then (remove the quotes)", shown);
		else
			rc = dc_unknown(st, "", shown);
		free(shown);
		return rc;
	}
	if (o->id != DC_UNSUPPORTED || o->cat == DC_CAT_APPLET) {
		if (o->has_arg == 0 && arg != NULL) {
			char v[1100];

			return dc_err(st, "option \"%s\" takes no value (got \"%s\")", o->name,
			    dc_vis(arg, v, sizeof(v)));
		}
		if (o->has_arg == 1 && arg == NULL)
			return dc_err(st, "option \"%s\" needs a value (%s=...)", o->name, o->name);
	}
	return dc_apply(st, o, arg);
}

/* Reads the lines of fp, which is called name. */
static int
dc_read_fp(struct dc_state *st, FILE *fp, const char *name)
{
	struct dnsconf_origin saved = st->origin;
	bool saved_cl = st->command_line;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = -1;

	st->command_line = false;
	st->origin.file = dc_intern(st->conf, name);
	st->origin.line = 0;
	dc_push_str(&st->conf->files_read, &st->conf->nfiles_read, xstrdup(name));
	while ((n = getline(&line, &cap, fp)) != -1) {
		size_t len = (size_t)n;

		st->origin.line++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > DC_LINE_MAX) {
			dc_err(st, "line longer than %d bytes (dnsmasq would cut it in two)",
			    DC_LINE_MAX);
			goto cleanup;
		}
		if (memchr(line, '\0', len) != NULL) {
			dc_err(st, "NUL byte in line");
			goto cleanup;
		}
		if (dc_line(st, line) == -1)
			goto cleanup;
	}
	if (ferror(fp)) {
		dc_err(st, "read error: %s", strerror(errno));
		goto cleanup;
	}
	rc = 0;
cleanup:
	free(line);
	st->origin = saved;
	st->command_line = saved_cl;
	return rc;
}

/*
 * Reads one configuration file as dnsmasq's one_file(): "-" is standard input (read
 * once), a file already read is skipped, and a missing file is an error unless
 * nofile_ok (the default file).
 */
static int
dc_one_file(struct dc_state *st, const char *path, bool nofile_ok)
{
	struct stat sb;
	FILE *fp = NULL;
	char v[600];
	int rc = -1;

	if (st->depth >= DC_DEPTH_MAX)
		return dc_err(st, "configuration files nested more than %d deep at \"%s\"",
		    DC_DEPTH_MAX, dc_vis(path, v, sizeof(v)));
	st->depth++;
	if (st->params->no_files) {
		rc = 0;
		goto cleanup;
	}
	if (strcmp(path, "-") == 0) {
		if (!st->stdin_read) {
			st->stdin_read = true;
			rc = dc_read_fp(st, st->params->stdin_fp != NULL ?
			    st->params->stdin_fp : stdin, "stdin");
		} else
			rc = 0;
		goto cleanup;
	}
	if (stat(path, &sb) == 0) {
		struct dc_fileid *id;

		for (size_t i = 0; i < st->nseen; i++)
			if (st->seen[i].dev == sb.st_dev && st->seen[i].ino == sb.st_ino) {
				rc = 0;
				goto cleanup;
			}
		id = DC_PUSH(st->seen, st->nseen);
		id->dev = sb.st_dev;
		id->ino = sb.st_ino;
	}
	if ((fp = fopen(path, "re")) == NULL) {
		if (errno == ENOENT && nofile_ok)
			rc = 0;
		else
			dc_err(st, "cannot read \"%s\": %s", dc_vis(path, v, sizeof(v)),
			    strerror(errno));
		goto cleanup;
	}
	if (fstat(fileno(fp), &sb) == 0 && S_ISDIR(sb.st_mode)) {
		log_warnx("\"%s\" is a directory: dnsmasq reads nothing from it (use conf-dir)",
		    dc_vis(path, v, sizeof(v)));
		rc = 0;
		goto cleanup;
	}
	rc = dc_read_fp(st, fp, path);
cleanup:
	if (fp != NULL)
		fclose(fp);
	st->depth--;
	return rc;
}

/* --- the command line ----------------------------------------------------------------- */

/* Refuses control bytes that dnsmasq would turn into other characters. */
static int
dc_check_cmdline_value(struct dc_state *st, const char *flag, const char *value)
{
	char v[600];

	if (value == NULL)
		return 0;
	for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++)
		if (*p < 0x20 && dc_meta[*p] != (char)*p)
			return dc_err(st, "control character in the value of %s: \"%s\"", flag,
			    dc_vis(value, v, sizeof(v)));
	return 0;
}

/* Records an applet flag (and its value) for the caller. */
static void
dc_push_flag(struct dnsconf *conf, const struct dnsconf_flag *f, const char *value)
{
	struct dnsconf_flagval *fv = DC_PUSH(conf->flags, conf->nflags);

	fv->flag = f;
	fv->value = value != NULL ? xstrdup(value) : NULL;
}

/* Finds a long option as getopt_long does: an exact name, else the only option (or
 * the only one up to aliases) of which it is a prefix. */
static int
dc_find_long(struct dc_state *st, const char *name, size_t len, const struct dc_opt **op)
{
	const struct dc_opt *found = NULL;
	bool ambiguous = false;
	char list[512], v[600];
	size_t o = 0;

	for (size_t i = 0; i < nitems(dc_opts); i++)
		if (strlen(dc_opts[i].name) == len && strncmp(dc_opts[i].name, name, len) == 0) {
			*op = &dc_opts[i];
			return 0;
		}
	list[0] = '\0';
	for (size_t i = 0; i < nitems(dc_opts); i++) {
		const struct dc_opt *c = &dc_opts[i];

		if (strncmp(c->name, name, len) != 0)
			continue;
		if (o + strlen(c->name) + 5 < sizeof(list))
			o += (size_t)snprintf(list + o, sizeof(list) - o, "%s--%s",
			    o > 0 ? ", " : "", c->name);
		if (found == NULL)
			found = c;
		else if (found->has_arg != c->has_arg || found->id != c->id ||
		    found->id == DC_UNSUPPORTED)
			ambiguous = true;
	}
	if (found == NULL) {
		char *tmp = xstrndup(name, len);

		dc_unknown(st, "--", tmp);
		free(tmp);
		return -1;
	}
	if (ambiguous) {
		char *tmp = xstrndup(name, len);

		dc_err(st, "option \"--%s\" is ambiguous (%s)", dc_vis(tmp, v, sizeof(v)), list);
		free(tmp);
		return -1;
	}
	*op = found;
	return 0;
}

/* The applet flag called name (len bytes) or with short name c. */
static const struct dnsconf_flag *
dc_find_flag(const struct dnsconf_params *p, const char *name, size_t len, int c)
{
	if (p->flags == NULL)
		return NULL;
	for (const struct dnsconf_flag *f = p->flags; f->name != NULL; f++) {
		if (name != NULL && strlen(f->name) == len && strncmp(f->name, name, len) == 0)
			return f;
		if (name == NULL && c != 0 && f->short_name == c)
			return f;
	}
	return NULL;
}

/* Applies one command-line option; -C/--conf-file is remembered or read as dnsmasq does. */
static int
dc_cmdline_opt(struct dc_state *st, const struct dc_opt *o, const char *value,
    char **conffile)
{
	char flag[64], *arg;
	int rc;

	snprintf(flag, sizeof(flag), "--%s", o->name);
	if (dc_check_cmdline_value(st, flag, value) == -1)
		return -1;
	if (o->id == DC_CONF_FILE) {
		char *file = dc_string(value);

		if (*conffile == NULL) {
			*conffile = file;
			return 0;
		}
		rc = file != NULL ? dc_one_file(st, file, false) : 0;
		free(file);
		return rc;
	}
	arg = value != NULL ? xstrdup(value) : NULL;
	rc = dc_apply(st, o, arg);
	free(arg);
	return rc;
}

/*
 * Reads the command line like dnsmasq's getopt_long() loop; arguments that are not
 * options (GNU getopt moves them to the end) are refused unless blank.
 */
static int
dc_cmdline(struct dc_state *st, int argc, char **argv, char **conffile)
{
	const char *junk = NULL;
	bool done = false;
	char v[600];

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!done && strcmp(a, "--") == 0) {
			done = true;
			continue;
		}
		if (!done && a[0] == '-' && a[1] == '-') {
			const char *name = a + 2, *eq = strchr(name, '=');
			size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
			const struct dnsconf_flag *f = dc_find_flag(st->params, name, len, 0);
			const struct dc_opt *o;
			const char *value = eq != NULL ? eq + 1 : NULL;

			if (f != NULL) {
				if (!f->has_arg && eq != NULL)
					return dc_err(st, "option \"--%s\" takes no value",
					    f->name);
				if (f->has_arg && eq == NULL) {
					if (i + 1 >= argc)
						return dc_err(st, "option \"--%s\" needs a value",
						    f->name);
					value = argv[++i];
				}
				dc_push_flag(st->conf, f, value);
				continue;
			}
			if (dc_find_long(st, name, len, &o) == -1)
				return -1;
			if (o->id == DC_UNSUPPORTED)
				return dc_apply(st, o, NULL);
			if (o->has_arg == 0 && eq != NULL)
				return dc_err(st, "option \"--%s\" takes no value (got \"%s\")",
				    o->name, dc_vis(value, v, sizeof(v)));
			if (o->has_arg == 1 && eq == NULL) {
				if (i + 1 >= argc)
					return dc_err(st, "option \"--%s\" needs a value "
					    "(--%s=...)", o->name, o->name);
				value = argv[++i];
			}
			if (dc_cmdline_opt(st, o, value, conffile) == -1)
				return -1;
			continue;
		}
		if (!done && a[0] == '-' && a[1] != '\0') {
			for (const char *p = a + 1; *p != '\0'; p++) {
				const struct dnsconf_flag *f = dc_find_flag(st->params, NULL, 0,
				    (unsigned char)*p);
				const struct dc_opt *o = NULL;
				const char *os = strchr(DC_OPTSTRING, *p), *value = NULL;
				bool needs = false;

				if (f != NULL)
					needs = f->has_arg;
				else if (*p != ':' && os != NULL) {
					needs = os[1] == ':';
					for (size_t k = 0; k < nitems(dc_opts); k++)
						if (dc_opts[k].short_name == *p)
							o = &dc_opts[k];
				}
				if (f == NULL && o == NULL)
					return dc_err(st, "unknown option \"-%s\"",
					    dc_vis((char[]){ *p, '\0' }, v, sizeof(v)));
				if (needs) {
					if (p[1] != '\0')
						value = p + 1;
					else if (i + 1 < argc)
						value = argv[++i];
					else
						return dc_err(st, "option \"-%c\" needs a value",
						    *p);
				}
				if (f != NULL)
					dc_push_flag(st->conf, f, value);
				else if (dc_cmdline_opt(st, o, value, conffile) == -1)
					return -1;
				if (needs)
					break;
			}
			continue;
		}
		for (const char *p = a; *p != '\0'; p++)
			if (!isspace((unsigned char)*p)) {
				if (junk == NULL)
					junk = a;
				break;
			}
	}
	if (junk != NULL)
		return dc_err(st, "unexpected argument \"%s\" (dnsmasq: junk found in command "
		    "line)", dc_vis(junk, v, sizeof(v)));
	return 0;
}

/* --- finishing ------------------------------------------------------------------------ */

/* domain=#: the first valid "search" domain of the only resolv.conf, which replaces
 * a plain domain=; as in dnsmasq, a search domain that is not a name clears it, and
 * finding none is an error only when no plain domain= was given. */
static int
dc_resolv_domain(struct dc_state *st)
{
	struct dnsconf *conf = st->conf;
	char *line = NULL, v[600];
	size_t cap = 0;
	FILE *fp;
	int rc = -1;

	st->origin = st->resolv_domain_origin;
	if (conf->no_resolv || conf->nresolv_files != 1)
		return dc_err(st, "domain=#: must have exactly one resolv.conf to read the "
		    "domain from");
	if (st->params->no_files)
		return 0;
	if ((fp = fopen(conf->resolv_files[0], "re")) == NULL)
		return dc_err(st, "domain=#: cannot read \"%s\": %s",
		    dc_vis(conf->resolv_files[0], v, sizeof(v)), strerror(errno));
	while (getline(&line, &cap, fp) != -1) {
		char *save, *tok = strtok_r(line, " \t\n\r", &save);
		const char *why;

		if (tok == NULL || strcmp(tok, "search") != 0 ||
		    (tok = strtok_r(NULL, " \t\n\r", &save)) == NULL)
			continue;
		free(conf->domain_suffix);
		if ((conf->domain_suffix = dc_canon_opt(tok, &why)) != NULL)
			break;
	}
	fclose(fp);
	if (conf->domain_suffix == NULL) {
		dc_err(st, "domain=#: no search directive found in \"%s\"",
		    dc_vis(conf->resolv_files[0], v, sizeof(v)));
		goto cleanup;
	}
	rc = 0;
cleanup:
	free(line);
	return rc;
}

/* The checks and defaults dnsmasq applies once everything is read. */
static int
dc_finish(struct dc_state *st)
{
	struct dnsconf *conf = st->conf;
	unsigned char *flag = NULL;
	size_t *target = NULL, n = conf->ncnames;
	int rc = -1;

	st->origin.file = NULL;
	st->origin.line = 0;
	if (conf->bind_interfaces && conf->bind_dynamic)
		return dc_err(st, "cannot set --bind-interfaces and --bind-dynamic");
	for (size_t i = 0; i < conf->nhost_records; i++)
		if (!conf->host_records[i].ttl_given)
			conf->host_records[i].ttl = conf->local_ttl;
	for (size_t i = 0; i < n; i++)
		if (!conf->cnames[i].ttl_given)
			conf->cnames[i].ttl = conf->local_ttl;
	/* CNAME loops, found in dnsmasq's order (its list is newest first). */
	if (n > 0) {
		flag = xcalloc(n, 1);
		target = xcalloc(n, sizeof(*target));
		for (size_t i = 0; i < n; i++) {
			target[i] = SIZE_MAX;
			for (size_t j = n; j-- > 0; )
				if (strcmp(conf->cnames[i].target, conf->cnames[j].alias) == 0) {
					target[i] = j;
					break;
				}
		}
		for (size_t i = n; i-- > 0; ) {
			size_t c2, c3;

			for (c2 = target[i]; c2 != SIZE_MAX; c2 = target[c2]) {
				if (flag[c2] == 1)
					break;
				if (flag[c2] == 2) {
					st->origin = conf->cnames[i].origin;
					dc_err(st, "CNAME loop involving \"%s\"",
					    conf->cnames[i].alias);
					goto cleanup;
				}
				flag[c2] = 2;
			}
			for (c3 = target[i]; c3 != c2; c3 = target[c3])
				flag[c3] = 1;
		}
	}
	if (st->resolv_domain && dc_resolv_domain(st) == -1)
		goto cleanup;
	if (conf->domain_suffix != NULL)
		for (size_t i = 0; i < conf->nsrvs; i++) {
			char *name = conf->srvs[i].name, *dot = strchr(name, '.'), *full;

			if (dot != NULL && dot == strrchr(name, '.')) {
				xasprintf(&full, "%s.%s", name, conf->domain_suffix);
				free(name);
				conf->srvs[i].name = full;
			}
		}
	if (conf->edns_packet_max < DC_PACKETSZ)
		conf->edns_packet_max = DC_PACKETSZ;
	rc = 0;
cleanup:
	free(flag);
	free(target);
	return rc;
}

/* A configuration holding dnsmasq's defaults. */
static struct dnsconf *
dc_new(const struct dnsconf_params *p)
{
	struct dnsconf *conf = xcalloc(1, sizeof(*conf));

	conf->port = 53;
	conf->cache_size = 150;
	conf->edns_packet_max = 1232;
	conf->dns_forward_max = 150;
	conf->user = xstrdup("nobody");
	conf->pid_file = xstrdup("/var/run/dnsmasq.pid");
	dc_push_str(&conf->resolv_files, &conf->nresolv_files,
	    xstrdup(p->default_resolv != NULL ? p->default_resolv : DNSCONF_DEFAULT_RESOLV));
	return conf;
}

static void
dc_state_init(struct dc_state *st, const struct dnsconf_params *p)
{
	memset(st, 0, sizeof(*st));
	st->params = p;
	st->conf = dc_new(p);
	st->resolv_default = true;
}

/* Finishes a load: on success hands the configuration over, else frees it. */
static int
dc_done(struct dc_state *st, int rc, struct dnsconf **confp)
{
	if (rc == 0)
		rc = dc_finish(st);
	free(st->seen);
	if (rc == -1) {
		dnsconf_free(st->conf);
		*confp = NULL;
		return -1;
	}
	*confp = st->conf;
	return 0;
}

int
dnsconf_load(const struct dnsconf_params *params, int argc, char **argv,
    struct dnsconf **confp)
{
	static const struct dnsconf_params none;
	struct dc_state st;
	char *conffile = NULL;
	int rc;

	dc_state_init(&st, params != NULL ? params : &none);
	st.command_line = true;
	st.origin.file = DC_CMDLINE;
	rc = dc_cmdline(&st, argc, argv, &conffile);
	st.command_line = false;
	if (rc == 0) {
		if (conffile != NULL)
			rc = dc_one_file(&st, conffile, false);
		else if (st.params->default_conf != NULL)
			rc = dc_one_file(&st, st.params->default_conf, true);
	}
	free(conffile);
	return dc_done(&st, rc, confp);
}

int
dnsconf_load_buffer(const struct dnsconf_params *params, const char *name, const char *buf,
    size_t len, struct dnsconf **confp)
{
	static const struct dnsconf_params none;
	struct dc_state st;
	FILE *fp;
	int rc = -1;

	dc_state_init(&st, params != NULL ? params : &none);
	if (len == 0)
		rc = 0;
	else if ((fp = fmemopen((void *)(uintptr_t)buf, len, "r")) == NULL)
		log_error("dnsconf_load_buffer: fmemopen");
	else {
		rc = dc_read_fp(&st, fp, name);
		fclose(fp);
	}
	return dc_done(&st, rc, confp);
}

/* --- freeing and helpers -------------------------------------------------------------- */

static void
dc_free_strs(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
dnsconf_free(struct dnsconf *conf)
{
	if (conf == NULL)
		return;
	dc_free_strs(conf->interfaces, conf->ninterfaces);
	dc_free_strs(conf->except_interfaces, conf->nexcept_interfaces);
	free(conf->listen_addrs);
	for (size_t i = 0; i < conf->nrules; i++)
		free(conf->rules[i].domain);
	free(conf->rules);
	dc_free_strs(conf->resolv_files, conf->nresolv_files);
	dc_free_strs(conf->addn_hosts, conf->naddn_hosts);
	free(conf->domain_suffix);
	for (size_t i = 0; i < conf->ndomains; i++) {
		free(conf->domains[i].domain);
		free(conf->domains[i].interface);
	}
	free(conf->domains);
	for (size_t i = 0; i < conf->nhost_records; i++)
		dc_free_strs(conf->host_records[i].names, conf->host_records[i].nnames);
	free(conf->host_records);
	for (size_t i = 0; i < conf->ncnames; i++) {
		free(conf->cnames[i].alias);
		free(conf->cnames[i].target);
	}
	free(conf->cnames);
	for (size_t i = 0; i < conf->ntxts; i++) {
		free(conf->txts[i].name);
		free(conf->txts[i].rdata);
	}
	free(conf->txts);
	for (size_t i = 0; i < conf->nsrvs; i++) {
		free(conf->srvs[i].name);
		free(conf->srvs[i].target);
	}
	free(conf->srvs);
	for (size_t i = 0; i < conf->nmxs; i++) {
		free(conf->mxs[i].name);
		free(conf->mxs[i].target);
	}
	free(conf->mxs);
	for (size_t i = 0; i < conf->nptrs; i++) {
		free(conf->ptrs[i].name);
		free(conf->ptrs[i].target);
	}
	free(conf->ptrs);
	free(conf->log_queries_arg);
	free(conf->user);
	free(conf->group);
	free(conf->pid_file);
	dc_free_strs(conf->files_read, conf->nfiles_read);
	for (size_t i = 0; i < conf->nflags; i++)
		free(conf->flags[i].value);
	free(conf->flags);
	dc_free_strs(conf->origin_names, conf->norigin_names);
	free(conf);
}

bool
dnsconf_iface_match(const char *pattern, const char *ifname)
{
	if (*pattern == '\0')
		return false;
	while (*pattern != '\0' && *ifname != '\0') {
		if (*pattern == '*')
			return true;
		if (*pattern != *ifname)
			return false;
		pattern++;
		ifname++;
	}
	return *pattern == *ifname;
}

const char *
dnsconf_domain_for(const struct dnsconf *conf, const struct dnsconf_addr *addr)
{
	for (size_t i = conf->ndomains; i-- > 0; ) {
		const struct dnsconf_domain *d = &conf->domains[i];

		if (d->kind != DNSCONF_DOM_RANGE || d->start.family != addr->family)
			continue;
		if (addr->family == AF_INET) {
			uint32_t a = ntohl(addr->u.v4.s_addr);

			if (a >= ntohl(d->start.u.v4.s_addr) && a <= ntohl(d->end.u.v4.s_addr))
				return d->domain;
		} else if (memcmp(addr->u.v6.s6_addr, d->start.u.v6.s6_addr, 8) == 0 &&
		    memcmp(addr->u.v6.s6_addr + 8, d->start.u.v6.s6_addr + 8, 8) >= 0 &&
		    memcmp(addr->u.v6.s6_addr + 8, d->end.u.v6.s6_addr + 8, 8) <= 0)
			return d->domain;
	}
	return conf->domain_suffix;
}

/* --- dump ----------------------------------------------------------------------------- */

/* Writes s, in dnsmasq quotes when it holds characters the reader would change or
 * when force is set (quoted digits are neither numbers nor addresses to dnsmasq). */
static void
dc_put_q(FILE *fp, const char *s, bool force)
{
	bool quote = force && *s != '\0';

	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p <= ' ' || *p == '"' || *p == '\\' || *p == '#' || *p == ',' ||
		    *p == 0x7f)
			quote = true;
	if (!quote) {
		fputs(s, fp);
		return;
	}
	fputc('"', fp);
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		switch (*p) {
		case '"':	fputs("\\\"", fp); break;
		case '\\':	fputs("\\\\", fp); break;
		case '\t':	fputs("\\t", fp); break;
		case '\n':	fputs("\\n", fp); break;
		case '\r':	fputs("\\r", fp); break;
		case '\b':	fputs("\\b", fp); break;
		case '\033':	fputs("\\e", fp); break;
		default:	fputc(*p, fp); break;
		}
	}
	fputc('"', fp);
}

static void
dc_put(FILE *fp, const char *s)
{
	dc_put_q(fp, s, false);
}

/* Writes a name so that dnsmasq's canonicalise() gives it back: it drops one
 * trailing dot, so a name that still ends with one gets another, as does one ending
 * in a space (split_chr() would trim it; "x ." was its origin). */
static void
dc_put_name(FILE *fp, const char *s, bool force)
{
	size_t len = strlen(s);
	char *t;

	if (len == 0 || (s[len - 1] != '.' && s[len - 1] != ' ')) {
		dc_put_q(fp, s, force);
		return;
	}
	xasprintf(&t, "%s.", s);
	dc_put_q(fp, t, force);
	free(t);
}

/* Whether dnsmasq would read s as a number or an address rather than a name. */
static bool
dc_not_a_name(const char *s)
{
	struct dnsconf_addr a;

	return dc_digits(s) || dc_inet(s, &a);
}

static void
dc_put_origin(FILE *fp, const struct dnsconf_origin *o)
{
	char buf[600];

	fprintf(fp, "\t# %s\n", dc_where(o, buf, sizeof(buf)));
}

static const char *
dc_ntop(const struct dnsconf_addr *a, char *buf, size_t len)
{
	return inet_ntop(a->family, &a->u, buf, (socklen_t)len);
}

/* Writes an upstream in server= syntax: ip[%if][#port][@iface][@src[#port]]. */
static void
dc_put_upstream(FILE *fp, const struct dnsconf_upstream *u)
{
	char buf[INET6_ADDRSTRLEN], ifn[IF_NAMESIZE];
	const struct sockaddr *sa = (const struct sockaddr *)&u->addr;
	uint16_t port, sport = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
		port = ntohs(sin->sin_port);
		fputs(buf, fp);
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
		port = ntohs(sin6->sin6_port);
		fputs(buf, fp);
		if (sin6->sin6_scope_id != 0 && if_indextoname(sin6->sin6_scope_id, ifn) != NULL)
			fprintf(fp, "%%%s", ifn);
	}
	if (port != 53)
		fprintf(fp, "#%u", port);
	if (!u->has_source)
		return;
	if (u->source.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&u->source;

		inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
		sport = ntohs(sin->sin_port);
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&u->source;

		inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
		sport = ntohs(sin6->sin6_port);
	}
	fputc('@', fp);
	if (u->interface[0] != '\0') {
		dc_put(fp, u->interface);
		if (strcmp(buf, "0.0.0.0") == 0 || strcmp(buf, "::") == 0) {
			if (sport != 0)
				fprintf(fp, "#%u", sport);
			return;
		}
		fputc('@', fp);
	}
	fputs(buf, fp);
	if (sport != 0)
		fprintf(fp, "#%u", sport);
}

/* Writes one domain rule as an address=, server= or local= line. */
static void
dc_put_rule(FILE *fp, const struct dnsconf_rule *r)
{
	char buf[INET6_ADDRSTRLEN];
	const char *opt = r->action <= DNSCONF_ACT_ZEROS || r->src == DNSCONF_SRC_ADDRESS ?
	    "address" : r->src == DNSCONF_SRC_LOCAL ? "local" : "server";

	fprintf(fp, "%s=", opt);
	if (r->nodots)
		fputs("//", fp);
	else if (r->domain[0] != '\0' || r->wildcard) {
		fputc('/', fp);
		/* Written ".*d" and ".#", the names "*d" and "#" stay literal ("*d" would be
		 * a wildcard, "#" every name); a wildcard on nothing came from "*." (a lone
		 * "*" means every name). */
		if (r->wildcard || r->domain[0] == '*' || strcmp(r->domain, "#") == 0)
			fputc(r->wildcard ? '*' : '.', fp);
		if (r->wildcard && r->domain[0] == '\0')
			fputc('.', fp);
		dc_put_name(fp, r->domain, false);
		fputc('/', fp);
	} else if (r->action <= DNSCONF_ACT_ZEROS ||
	    (r->action == DNSCONF_ACT_LOCAL && r->src == DNSCONF_SRC_ADDRESS))
		fputs("/#/", fp);
	switch (r->action) {
	case DNSCONF_ACT_ADDR4:
	case DNSCONF_ACT_ADDR6:
		fputs(dc_ntop(&r->addr, buf, sizeof(buf)), fp);
		break;
	case DNSCONF_ACT_ZEROS:
	case DNSCONF_ACT_RESOLV:
		fputc('#', fp);
		break;
	case DNSCONF_ACT_FORWARD:
		dc_put_upstream(fp, &r->upstream);
		break;
	case DNSCONF_ACT_LOCAL:
		break;
	}
	dc_put_origin(fp, &r->origin);
}

/* Writes a domain= line. */
static void
dc_put_domain(FILE *fp, const struct dnsconf_domain *d)
{
	char buf[INET6_ADDRSTRLEN], b2[INET6_ADDRSTRLEN];

	fputs("domain=", fp);
	dc_put_name(fp, d->domain, false);
	if (d->kind == DNSCONF_DOM_RANGE && d->prefixlen >= 0)
		fprintf(fp, ",%s/%d%s", dc_ntop(&d->start, buf, sizeof(buf)), d->prefixlen,
		    d->local ? ",local" : "");
	else if (d->kind == DNSCONF_DOM_RANGE)
		fprintf(fp, ",%s,%s", dc_ntop(&d->start, buf, sizeof(buf)),
		    dc_ntop(&d->end, b2, sizeof(b2)));
	else if (d->kind == DNSCONF_DOM_INTERFACE) {
		fputc(',', fp);
		dc_put(fp, d->interface != NULL ? d->interface : "");
	}
	dc_put_origin(fp, &d->origin);
}

static void
dc_put_list(FILE *fp, const char *opt, char **v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fprintf(fp, "%s=", opt);
		dc_put(fp, v[i]);
		fputc('\n', fp);
	}
}

static void
dc_put_flag(FILE *fp, const char *opt, bool on)
{
	if (on)
		fprintf(fp, "%s\n", opt);
}

void
dnsconf_dump(const struct dnsconf *c, FILE *fp)
{
	char buf[INET6_ADDRSTRLEN], vis[600];

	fprintf(fp, "# zt dns: effective configuration (%zu file%s read)\n", c->nfiles_read,
	    c->nfiles_read == 1 ? "" : "s");
	for (size_t i = 0; i < c->nfiles_read; i++)
		fprintf(fp, "#   %s\n", dc_vis(c->files_read[i], vis, sizeof(vis)));
	fprintf(fp, "port=%u\n", c->port);
	dc_put_list(fp, "interface", c->interfaces, c->ninterfaces);
	dc_put_list(fp, "except-interface", c->except_interfaces, c->nexcept_interfaces);
	for (size_t i = 0; i < c->nlisten_addrs; i++)
		fprintf(fp, "listen-address=%s\n", dc_ntop(&c->listen_addrs[i], buf, sizeof(buf)));
	dc_put_flag(fp, "bind-interfaces", c->bind_interfaces);
	dc_put_flag(fp, "bind-dynamic", c->bind_dynamic);
	dc_put_flag(fp, "no-resolv", c->no_resolv);
	if (c->nresolv_files == 0)
		fputs("resolv-file=\n", fp);
	dc_put_list(fp, "resolv-file", c->resolv_files, c->nresolv_files);
	dc_put_flag(fp, "strict-order", c->strict_order);
	dc_put_flag(fp, "all-servers", c->all_servers);
	dc_put_flag(fp, "domain-needed", c->domain_needed);
	dc_put_flag(fp, "bogus-priv", c->bogus_priv);
	/* domain= lines go between the rules where they were; the rules of a
	 * domain=...,local line are written as that line (its domain may hold a '/',
	 * which server= cannot). */
	for (size_t i = 0, k = 0; i < c->nrules || k < c->ndomains; i++) {
		const struct dnsconf_rule *r = i < c->nrules ? &c->rules[i] : NULL;
		bool start = r != NULL && (i == 0 || c->rules[i - 1].seq != r->seq);

		while (k < c->ndomains && (r == NULL || (start && c->domains[k].seq < r->seq)))
			dc_put_domain(fp, &c->domains[k++]);
		if (r == NULL)
			break;
		if (r->src != DNSCONF_SRC_DOMAIN)
			dc_put_rule(fp, r);
		else if (start && k < c->ndomains && c->domains[k].local &&
		    c->domains[k].seq == r->seq)
			dc_put_domain(fp, &c->domains[k++]);
	}
	dc_put_flag(fp, "no-hosts", c->no_hosts);
	dc_put_list(fp, "addn-hosts", c->addn_hosts, c->naddn_hosts);
	dc_put_flag(fp, "expand-hosts", c->expand_hosts);
	if (c->domain_suffix != NULL) {
		fputs("# domain suffix: ", fp);
		dc_put(fp, c->domain_suffix);
		fputc('\n', fp);
	}
	for (size_t i = 0; i < c->nhost_records; i++) {
		const struct dnsconf_host_record *h = &c->host_records[i];
		size_t nf = h->nnames + h->has_v4 + h->has_v6 + h->ttl_given;

		/* dnsmasq needs two fields; a lone address or TTL is written twice. */
		for (int rep = nf == 1 ? 2 : 1; rep > 0; rep--) {
			bool first = rep == 1;

			fputs(first && nf == 1 ? "," : "host-record=", fp);
			for (size_t j = 0; j < h->nnames; j++) {
				fputs(j > 0 ? "," : "", fp);
				dc_put_name(fp, h->names[j], dc_not_a_name(h->names[j]));
			}
			if (h->has_v4)
				fprintf(fp, "%s%s", h->nnames > 0 ? "," : "",
				    inet_ntop(AF_INET, &h->v4, buf, sizeof(buf)));
			if (h->has_v6)
				fprintf(fp, "%s%s", h->nnames + h->has_v4 > 0 ? "," : "",
				    inet_ntop(AF_INET6, &h->v6, buf, sizeof(buf)));
			if (h->ttl_given)
				fprintf(fp, "%s%u", nf > 1 ? "," : "", h->ttl);
			if (nf == 0)
				fputc(',', fp);
		}
		dc_put_origin(fp, &h->origin);
	}
	for (size_t i = 0; i < c->ncnames; i++) {
		fputs("cname=", fp);
		dc_put_name(fp, c->cnames[i].alias, false);
		fputc(',', fp);
		dc_put_name(fp, c->cnames[i].target, dc_digits(c->cnames[i].target));
		if (c->cnames[i].ttl_given)
			fprintf(fp, ",%u", c->cnames[i].ttl);
		dc_put_origin(fp, &c->cnames[i].origin);
	}
	for (size_t i = 0; i < c->ntxts; i++) {
		const struct dnsconf_txt *t = &c->txts[i];

		fputs("txt-record=", fp);
		dc_put_name(fp, t->name, false);
		for (size_t o = 0; o < t->rdlen; o += 1 + t->rdata[o]) {
			char *s = xstrndup((const char *)t->rdata + o + 1, t->rdata[o]);

			fputc(',', fp);
			fputs(*s == '\0' ? "\"\"" : "", fp);
			dc_put(fp, s);
			free(s);
		}
		dc_put_origin(fp, &t->origin);
	}
	for (size_t i = 0; i < c->nsrvs; i++) {
		const struct dnsconf_srv *s = &c->srvs[i];

		fputs("srv-host=", fp);
		dc_put_name(fp, s->name, false);
		if (s->target != NULL) {
			fputc(',', fp);
			dc_put_name(fp, s->target, false);
			fprintf(fp, ",%u,%u,%u", s->port, s->prio, s->weight);
		}
		dc_put_origin(fp, &s->origin);
	}
	for (size_t i = 0; i < c->nmxs; i++) {
		fputs("mx-host=", fp);
		dc_put_name(fp, c->mxs[i].name, false);
		if (c->mxs[i].target != NULL) {
			fputc(',', fp);
			dc_put_name(fp, c->mxs[i].target, false);
			fprintf(fp, ",%u", c->mxs[i].pref);
		}
		dc_put_origin(fp, &c->mxs[i].origin);
	}
	for (size_t i = 0; i < c->nptrs; i++) {
		fputs("ptr-record=", fp);
		dc_put_name(fp, c->ptrs[i].name, false);
		if (c->ptrs[i].target != NULL) {
			fputc(',', fp);
			dc_put_name(fp, c->ptrs[i].target, false);
		}
		dc_put_origin(fp, &c->ptrs[i].origin);
	}
	fprintf(fp, "cache-size=%u\n", c->cache_size);
	dc_put_flag(fp, "no-negcache", c->no_negcache);
	fprintf(fp, "neg-ttl=%u\nlocal-ttl=%u\nmax-ttl=%u\nmin-cache-ttl=%u\nmax-cache-ttl=%u\n",
	    c->neg_ttl, c->local_ttl, c->max_ttl, c->min_cache_ttl, c->max_cache_ttl);
	fprintf(fp, "edns-packet-max=%u\ndns-forward-max=%u\n", c->edns_packet_max,
	    c->dns_forward_max);
	if (c->query_port_set)
		fprintf(fp, "query-port=%u\n", c->query_port);
	if (c->log_queries) {
		/* "extra" sticks once given; a quoted "extra" is not it. */
		fputs(c->log_queries_extra ? "log-queries=extra" : "log-queries", fp);
		if (!c->log_queries_extra && c->log_queries_arg != NULL) {
			fputc('=', fp);
			dc_put_q(fp, c->log_queries_arg, strcmp(c->log_queries_arg, "extra") == 0);
		}
		fputc('\n', fp);
	}
	fputs("user=", fp);
	dc_put(fp, c->user != NULL ? c->user : "");
	fputc('\n', fp);
	if (c->group_set) {
		fputs("group=", fp);
		dc_put(fp, c->group != NULL ? c->group : "");
		fputc('\n', fp);
	}
	fputs("pid-file=", fp);
	dc_put(fp, c->pid_file != NULL ? c->pid_file : "");
	fputc('\n', fp);
	dc_put_flag(fp, "keep-in-foreground", c->keep_in_foreground);
	dc_put_flag(fp, "no-daemon", c->no_daemon);
	for (size_t i = 0; i < c->nflags; i++)
		fprintf(fp, "# applet flag --%s%s%s\n", c->flags[i].flag->name,
		    c->flags[i].value != NULL ? "=" : "",
		    c->flags[i].value != NULL ? c->flags[i].value : "");
}
