/* resolver: dnsmasq 2.90's query pipeline: local data, the cache, the domain table, and the
 * decision to forward (reference/dnsmasq.md section 1). Pure: no sockets, time passed in. */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns.h"
#include "dnscache.h"
#include "dnsconf.h"
#include "log.h"
#include "resolver.h"
#include "util.h"

#define RESOLVER_CNAME_DEPTH	10	/* CNAMEs followed through local data */
#define RESOLVER_VERSION	"zt-" PACKAGE_VERSION

/* A small chained hash map from lower-case text names to values. Keys come from the
 * configuration and hosts files (trusted), so a fixed hash is enough. */
struct nmap_entry {
	struct nmap_entry *next;
	uint64_t	 hash;		/* nmap_hash of key */
	char		*key;
	void		*value;
};

struct nmap {
	struct nmap_entry **buckets;
	size_t		 nbuckets;
	size_t		 count;
};

/* An address of a hosts line or host-record. */
struct haddr {
	int		 family;
	uint8_t		 addr[16];
	uint32_t	 ttl;
	const char	*source;	/* file name, or "config" */
};

/* Kinds of local data a name has (dnsmasq "knows" a name with any of them). */
#define LN_HOSTS	0x01	/* hosts file or host-record addresses */
#define LN_CNAME	0x02
#define LN_TXT		0x04
#define LN_SRV		0x08
#define LN_MX		0x10
#define LN_PTR		0x20
#define LN_CHAOS	0x40	/* the *.bind names of CHAOS TXT */

struct lname {
	uint32_t	 kinds;
	struct haddr	*addrs;
	size_t		 naddrs;
	const struct dnsconf_cname *cname;
};

/* The owner of a reverse (PTR) entry built from hosts or host-record. */
struct rname {
	char		*target;
	uint32_t	 ttl;
	const char	*source;
};

/* All rules of the domain table for one domain string and kind of match. */
struct ruleset {
	const char	*domain;
	size_t		 dlen;
	bool		 wildcard;
	bool		 nodots;
	bool		 has[DNSCONF_ACT_LOCAL + 1];
	size_t		 group;		/* FORWARD: its upstream group */
	const struct dnsconf_rule **rules;
	size_t		 nrules;
};

struct resolver {
	const struct dnsconf *conf;
	struct dnscache	*cache;
	char		*hosts_file;

	struct nmap	 names;		/* name -> struct lname */
	struct nmap	 reverse;	/* "4:a.b.c.d" / "6:..." -> struct rname */
	char		**sources;	/* interned file names */
	size_t		 nsources;

	struct ruleset	*sets;		/* plain domains (looked up by suffix) */
	size_t		 nsets;
	struct nmap	 setmap;	/* domain -> index + 1 into sets (plain only) */
	size_t		*wild;		/* indices of wildcard and nodots sets */
	size_t		 nwild;
	bool		 has_address_rules;

	struct resolver_group *groups;
	size_t		 ngroups;
	size_t		 nconf_default;	/* servers of group 0 that came from server= */

	void		(*server_stats)(const struct dnsconf_upstream *,
			    struct resolver_server_stats *, void *);
	void		*server_stats_arg;
};

/* --- the name map -------------------------------------------------------------------- */

/*
 * FNV-1a over the key from its last character to its first, so that the hashes of all the
 * suffixes of a name come out of one pass over it (domain_lookup); nmap_hash_step adds the
 * character before the part hashed so far, nmap_hash_end finishes.
 */
#define NMAP_HASH_INIT	1469598103934665603ULL

static inline uint64_t
nmap_hash_step(uint64_t h, char c)
{
	return (h ^ (unsigned char)c) * 1099511628211ULL;
}

static inline uint64_t
nmap_hash_end(uint64_t h)
{
	return h ^ (h >> 29);
}

static uint64_t
nmap_hash(const char *s)
{
	uint64_t h = NMAP_HASH_INIT;

	for (size_t i = strlen(s); i-- > 0;)
		h = nmap_hash_step(h, s[i]);
	return nmap_hash_end(h);
}

static void
nmap_init(struct nmap *m, size_t hint)
{
	size_t n = 64;

	while (n < hint * 2 && n < (1u << 24))
		n *= 2;
	m->buckets = xcalloc(n, sizeof(*m->buckets));
	m->nbuckets = n;
	m->count = 0;
}

/* The value of key, whose nmap_hash is h, or NULL. */
static void *
nmap_get_hashed(const struct nmap *m, const char *key, uint64_t h)
{
	struct nmap_entry *e;

	if (m->nbuckets == 0)
		return NULL;
	for (e = m->buckets[h & (m->nbuckets - 1)]; e != NULL; e = e->next)
		if (e->hash == h && strcmp(e->key, key) == 0)
			return e->value;
	return NULL;
}

static void *
nmap_get(const struct nmap *m, const char *key)
{
	/* An empty map (no local names: no hosts files) is not worth hashing the key for. */
	if (m->count == 0)
		return NULL;
	return nmap_get_hashed(m, key, nmap_hash(key));
}

/* Doubles the buckets when the map gets crowded. */
static void
nmap_grow(struct nmap *m)
{
	struct nmap_entry **old = m->buckets;
	size_t oldn = m->nbuckets;

	m->nbuckets *= 2;
	m->buckets = xcalloc(m->nbuckets, sizeof(*m->buckets));
	for (size_t i = 0; i < oldn; i++) {
		struct nmap_entry *e, *next;
		for (e = old[i]; e != NULL; e = next) {
			size_t b = e->hash & (m->nbuckets - 1);
			next = e->next;
			e->next = m->buckets[b];
			m->buckets[b] = e;
		}
	}
	free(old);
}

/* Inserts key (copied) with value; the caller has checked it is absent. */
static void
nmap_put(struct nmap *m, const char *key, void *value)
{
	struct nmap_entry *e = xcalloc(1, sizeof(*e));
	size_t b;

	if (m->count >= m->nbuckets)
		nmap_grow(m);
	e->hash = nmap_hash(key);
	b = e->hash & (m->nbuckets - 1);
	e->key = xstrdup(key);
	e->value = value;
	e->next = m->buckets[b];
	m->buckets[b] = e;
	m->count++;
}

static void
nmap_clear(struct nmap *m, void (*freefn)(void *))
{
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct nmap_entry *e, *next;
		for (e = m->buckets[i]; e != NULL; e = next) {
			next = e->next;
			if (freefn != NULL)
				freefn(e->value);
			free(e->key);
			free(e);
		}
	}
	free(m->buckets);
	m->buckets = NULL;
	m->nbuckets = m->count = 0;
}

static void
lname_free(void *p)
{
	struct lname *ln = p;

	free(ln->addrs);
	free(ln);
}

static void
rname_free(void *p)
{
	struct rname *rn = p;

	free(rn->target);
	free(rn);
}

/* --- names --------------------------------------------------------------------------- */

/* The suffixes of a query's key at label boundaries and their nmap hashes, shortest ("")
 * first: what domain_lookup looks up, and (the last) the whole key. */
#define KEY_SUFFIX_MAX	(DNS_MAXNAME / 2 + 1)	/* 127 labels at most, and "" */
struct key_suffixes {
	size_t		 n;
	uint16_t	 off[KEY_SUFFIX_MAX];	/* where the suffix starts in the key */
	uint64_t	 hash[KEY_SUFFIX_MAX];	/* nmap_hash(key + off) */
};

/* What name_key writes for a byte of a label: letters lower-cased, digits, '-' and '_' as
 * they are; 0 for the bytes that dns_name_to_text escapes or that the key lower-cases
 * otherwise (then name_key takes the slow path). */
static const uint8_t key_bytes[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '-', 0, 0,
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 0, 0, 0, 0, 0, 0,
	0, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
	'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 0, 0, 0, 0, '_',
	0, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
	'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/*
 * The lower-case text of a name without the trailing dot ("" for the root). Names of letters,
 * digits, '-' and '_' (nearly all) are written here in one pass from the right that also
 * hashes their suffixes into *sx (true); any other byte (escaped in text) takes
 * dns_name_to_text, and then sx->n is 0 (false).
 */
static bool
name_key(const struct dns_name *n, char *buf, size_t len, struct key_suffixes *sx)
{
	uint8_t starts[KEY_SUFFIX_MAX];
	uint64_t h = NMAP_HASH_INIT;
	size_t nl = 0, i = 0, o;

	sx->n = 0;
	if (len <= n->len)
		goto slow;
	for (; i < n->len && n->wire[i] != 0; i += (size_t)n->wire[i] + 1) {
		if (n->wire[i] > DNS_MAXLABEL || i + 1 + n->wire[i] >= n->len ||
		    nl == nitems(starts))
			goto slow;
		starts[nl++] = (uint8_t)i;
	}
	if (i + 1 != n->len)
		goto slow;
	/* The labels' bytes and the dots between them: the wire form less its length bytes
	 * and the root. */
	o = nl == 0 ? 0 : (size_t)n->len - 2;
	buf[o] = '\0';
	sx->off[0] = (uint16_t)o;
	sx->hash[0] = nmap_hash_end(h);
	sx->n = 1;
	for (size_t l = nl; l-- > 0;) {
		size_t first = (size_t)starts[l] + 1;

		for (size_t j = first + n->wire[starts[l]]; j-- > first;) {
			uint8_t c = key_bytes[n->wire[j]];

			if (c == 0)
				goto slow;
			buf[--o] = (char)c;
			h = nmap_hash_step(h, (char)c);
		}
		sx->off[sx->n] = (uint16_t)o;
		sx->hash[sx->n++] = nmap_hash_end(h);
		if (l > 0) {
			buf[--o] = '.';
			h = nmap_hash_step(h, '.');
		}
	}
	return true;
slow:
	sx->n = 0;
	if (dns_name_to_text(n, buf, len) < 0 || strcmp(buf, ".") == 0)
		buf[0] = '\0';
	for (char *p = buf; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return false;
}

/* A name from configuration text; false if it is not a valid name. */
static bool
name_from(const char *text, struct dns_name *n)
{
	return dns_name_from_text(text[0] == '\0' ? "." : text, n) == 0;
}

static const char *
intern_source(struct resolver *r, const char *s)
{
	for (size_t i = 0; i < r->nsources; i++)
		if (strcmp(r->sources[i], s) == 0)
			return r->sources[i];
	r->sources = xreallocarray(r->sources, r->nsources + 1, sizeof(*r->sources));
	r->sources[r->nsources] = xstrdup(s);
	return r->sources[r->nsources++];
}

static struct lname *
lname_get(struct resolver *r, const char *key, bool create)
{
	struct lname *ln = nmap_get(&r->names, key);

	if (ln == NULL && create) {
		ln = xcalloc(1, sizeof(*ln));
		nmap_put(&r->names, key, ln);
	}
	return ln;
}

static void
addr_key(int family, const uint8_t *addr, char *buf, size_t len)
{
	char text[INET6_ADDRSTRLEN];

	inet_ntop(family, addr, text, sizeof(text));
	snprintf(buf, len, "%c:%s", family == AF_INET ? '4' : '6', text);
}

/* Adds an address to a name's local data, dropping exact duplicates as dnsmasq does. */
static void
add_host_addr(struct resolver *r, const char *name, int family, const uint8_t *addr,
    uint32_t ttl, const char *source)
{
	char key[DNS_MAXTEXT];
	struct lname *ln;
	struct haddr *h;
	size_t alen = family == AF_INET ? 4 : 16;

	util_strlcpy(key, name, sizeof(key));
	for (char *p = key; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	ln = lname_get(r, key, true);
	for (size_t i = 0; i < ln->naddrs; i++)
		if (ln->addrs[i].family == family && memcmp(ln->addrs[i].addr, addr, alen) == 0)
			return;
	ln->kinds |= LN_HOSTS;
	ln->addrs = xreallocarray(ln->addrs, ln->naddrs + 1, sizeof(*ln->addrs));
	h = &ln->addrs[ln->naddrs++];
	memset(h, 0, sizeof(*h));
	h->family = family;
	memcpy(h->addr, addr, alen);
	h->ttl = ttl;
	h->source = source;
}

/* Makes target the PTR owner of addr unless an earlier line already owns it. */
static void
add_reverse(struct resolver *r, int family, const uint8_t *addr, const char *target,
    uint32_t ttl, const char *source)
{
	char key[64];
	struct rname *rn;

	addr_key(family, addr, key, sizeof(key));
	if (nmap_get(&r->reverse, key) != NULL)
		return;
	rn = xcalloc(1, sizeof(*rn));
	rn->target = xstrdup(target);
	rn->ttl = ttl;
	rn->source = source;
	nmap_put(&r->reverse, key, rn);
}

/* dnsmasq's legal_hostname: letters, digits, '-', '_' and dots, no empty label. */
static bool
legal_hostname(const char *s)
{
	struct dns_name n;

	if (*s == '\0' || *s == '.' || strstr(s, "..") != NULL)
		return false;
	for (const char *p = s; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return false;
	return name_from(s, &n);
}

/* Reads one hosts file; bad lines are logged and skipped as dnsmasq does. */
static int
read_hosts_file(struct resolver *r, const char *path)
{
	const struct dnsconf *c = r->conf;
	const char *source = intern_source(r, path);
	FILE *fp;
	char *line = NULL;
	size_t cap = 0, lineno = 0, count = 0;

	if ((fp = fopen(path, "r")) == NULL) {
		log_warn("cannot read hosts file \"%s\"", path);
		return -1;
	}
	while (getline(&line, &cap, fp) != -1) {
		char *save = NULL, *tok, *hash;
		uint8_t addr[16];
		int family;

		lineno++;
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		if ((tok = strtok_r(line, " \t\r\n", &save)) == NULL)
			continue;
		if (inet_pton(AF_INET, tok, addr) == 1)
			family = AF_INET;
		else if (inet_pton(AF_INET6, tok, addr) == 1)
			family = AF_INET6;
		else {
			log_warnx("bad address at %s line %zu", path, lineno);
			continue;
		}
		while ((tok = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
			struct dnsconf_addr da;
			const char *dom;
			char *fqdn = NULL;
			size_t tlen = strlen(tok);

			if (tlen > 0 && tok[tlen - 1] == '.')
				tok[--tlen] = '\0';
			if (!legal_hostname(tok)) {
				log_warnx("bad name at %s line %zu", path, lineno);
				continue;
			}
			add_host_addr(r, tok, family, addr, c->local_ttl, source);
			count++;
			memset(&da, 0, sizeof(da));
			da.family = family;
			memcpy(family == AF_INET ? (void *)&da.u.v4 : (void *)&da.u.v6, addr,
			    family == AF_INET ? 4 : 16);
			if (c->expand_hosts && strchr(tok, '.') == NULL &&
			    (dom = dnsconf_domain_for(c, &da)) != NULL) {
				xasprintf(&fqdn, "%s.%s", tok, dom);
				if (legal_hostname(fqdn))
					add_host_addr(r, fqdn, family, addr, c->local_ttl, source);
			}
			/* The first name of an address owns its PTR; expanded when it can be. */
			add_reverse(r, family, addr, fqdn != NULL ? fqdn : tok, c->local_ttl, source);
			free(fqdn);
		}
	}
	free(line);
	fclose(fp);
	log_debug("read %s - %zu names", path, count);
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads a hosts file, or every file of a directory in alphabetical order. */
static int
read_hosts_path(struct resolver *r, const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;
	int ret = 0;

	if (stat(path, &st) == -1) {
		log_warn("cannot read hosts file \"%s\"", path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return read_hosts_file(r, path);
	if ((d = opendir(path)) == NULL) {
		log_warn("cannot read hosts directory \"%s\"", path);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		/* dnsmasq skips dot files, editor backups and emacs lock files. */
		if (de->d_name[0] == '.' || (l > 0 && de->d_name[l - 1] == '~') ||
		    (de->d_name[0] == '#' && l > 1 && de->d_name[l - 1] == '#'))
			continue;
		names = xreallocarray(names, n + 1, sizeof(*names));
		xasprintf(&names[n++], "%s/%s", path, de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode) &&
		    read_hosts_file(r, names[i]) == -1)
			ret = -1;
		free(names[i]);
	}
	free(names);
	return ret;
}

/* Indexes the configuration's own records: host-record (before hosts files, as dnsmasq reads
 * it), cname, txt-record, srv-host, mx-host, ptr-record, and the CHAOS names. */
static void
index_config_records(struct resolver *r)
{
	static const char *const chaos[] = { "version.bind", "authors.bind", "copyright.bind",
	    "cachesize.bind", "insertions.bind", "evictions.bind", "misses.bind", "hits.bind",
	    "auth.bind", "servers.bind" };
	const struct dnsconf *c = r->conf;
	const char *config = intern_source(r, "config");

	for (size_t i = 0; i < c->nhost_records; i++) {
		const struct dnsconf_host_record *h = &c->host_records[i];
		uint32_t ttl = h->ttl_given ? h->ttl : c->local_ttl;

		for (size_t j = 0; j < h->nnames; j++) {
			if (h->has_v4)
				add_host_addr(r, h->names[j], AF_INET, (const uint8_t *)&h->v4, ttl,
				    config);
			if (h->has_v6)
				add_host_addr(r, h->names[j], AF_INET6, (const uint8_t *)&h->v6, ttl,
				    config);
		}
		if (h->nnames > 0 && h->has_v4)
			add_reverse(r, AF_INET, (const uint8_t *)&h->v4, h->names[0], ttl, config);
		if (h->nnames > 0 && h->has_v6)
			add_reverse(r, AF_INET6, (const uint8_t *)&h->v6, h->names[0], ttl, config);
	}
	for (size_t i = 0; i < c->ncnames; i++) {
		struct lname *ln = lname_get(r, c->cnames[i].alias, true);
		ln->kinds |= LN_CNAME;
		ln->cname = &c->cnames[i];
	}
	for (size_t i = 0; i < c->ntxts; i++)
		lname_get(r, c->txts[i].name, true)->kinds |= LN_TXT;
	for (size_t i = 0; i < c->nsrvs; i++)
		lname_get(r, c->srvs[i].name, true)->kinds |= LN_SRV;
	for (size_t i = 0; i < c->nmxs; i++)
		lname_get(r, c->mxs[i].name, true)->kinds |= LN_MX;
	for (size_t i = 0; i < c->nptrs; i++)
		lname_get(r, c->ptrs[i].name, true)->kinds |= LN_PTR;
	for (size_t i = 0; i < nitems(chaos); i++)
		lname_get(r, chaos[i], true)->kinds |= LN_CHAOS;
}

int
resolver_reload_hosts(struct resolver *r)
{
	const struct dnsconf *c = r->conf;
	int ret = 0;

	nmap_clear(&r->names, lname_free);
	nmap_clear(&r->reverse, rname_free);
	nmap_init(&r->names, 256);
	nmap_init(&r->reverse, 256);
	index_config_records(r);
	if (!c->no_hosts &&
	    read_hosts_path(r, r->hosts_file != NULL ? r->hosts_file : "/etc/hosts") == -1)
		ret = -1;
	for (size_t i = 0; i < c->naddn_hosts; i++)
		if (read_hosts_path(r, c->addn_hosts[i]) == -1)
			ret = -1;
	return ret;
}

/* --- the domain table and upstream groups -------------------------------------------- */

/* The ruleset for (domain, wildcard, nodots), created on first use. */
static size_t
ruleset_for(struct resolver *r, const struct dnsconf_rule *rule)
{
	for (size_t i = 0; i < r->nsets; i++) {
		struct ruleset *s = &r->sets[i];
		if (s->wildcard == rule->wildcard && s->nodots == rule->nodots &&
		    strcmp(s->domain, rule->domain) == 0)
			return i;
	}
	r->sets = xreallocarray(r->sets, r->nsets + 1, sizeof(*r->sets));
	memset(&r->sets[r->nsets], 0, sizeof(r->sets[r->nsets]));
	r->sets[r->nsets].domain = rule->domain;
	r->sets[r->nsets].dlen = strlen(rule->domain);
	r->sets[r->nsets].wildcard = rule->wildcard;
	r->sets[r->nsets].nodots = rule->nodots;
	return r->nsets++;
}

static void
group_add_server(struct resolver_group *g, const struct dnsconf_upstream *u)
{
	g->servers = xreallocarray(g->servers, g->nservers + 1, sizeof(*g->servers));
	g->servers[g->nservers++] = *u;
}

/* Builds the rulesets of the domain table and one upstream group per domain of server= lines;
 * group 0 holds the servers without a domain (then those of resolv.conf). */
static void
build_domain_table(struct resolver *r)
{
	const struct dnsconf *c = r->conf;

	r->groups = xcalloc(1, sizeof(*r->groups));
	r->groups[0].domain = xstrdup("");
	r->ngroups = 1;
	for (size_t i = 0; i < c->nrules; i++) {
		const struct dnsconf_rule *rule = &c->rules[i];
		struct ruleset *s;
		size_t si;

		if (rule->action <= DNSCONF_ACT_ZEROS)
			r->has_address_rules = true;
		/* server=ip (no domain): the default group, not a ruleset. */
		if (rule->action == DNSCONF_ACT_FORWARD && rule->domain[0] == '\0' &&
		    !rule->wildcard && !rule->nodots) {
			group_add_server(&r->groups[0], &rule->upstream);
			continue;
		}
		si = ruleset_for(r, rule);
		s = &r->sets[si];
		s->rules = xreallocarray(s->rules, s->nrules + 1, sizeof(*s->rules));
		s->rules[s->nrules++] = rule;
		s->has[rule->action] = true;
		if (rule->action == DNSCONF_ACT_FORWARD) {
			if (s->group == 0) {
				r->groups = xreallocarray(r->groups, r->ngroups + 1,
				    sizeof(*r->groups));
				memset(&r->groups[r->ngroups], 0, sizeof(r->groups[0]));
				xasprintf(&r->groups[r->ngroups].domain, "%s%s%s",
				    rule->wildcard ? "*" : "", rule->nodots ? "(dotless)" : "",
				    rule->domain);
				s->group = r->ngroups++;
			}
			group_add_server(&r->groups[s->group], &rule->upstream);
		}
	}
	r->nconf_default = r->groups[0].nservers;
	nmap_init(&r->setmap, r->nsets);
	for (size_t i = 0; i < r->nsets; i++) {
		if (r->sets[i].wildcard || r->sets[i].nodots) {
			r->wild = xreallocarray(r->wild, r->nwild + 1, sizeof(*r->wild));
			r->wild[r->nwild++] = i;
		} else
			nmap_put(&r->setmap, r->sets[i].domain, (void *)(uintptr_t)(i + 1));
	}
}

void
resolver_set_resolv_servers(struct resolver *r, const struct sockaddr_storage *addrs,
    size_t naddrs)
{
	struct resolver_group *g = &r->groups[0];

	g->nservers = r->nconf_default;
	for (size_t i = 0; i < naddrs; i++) {
		struct dnsconf_upstream u;

		memset(&u, 0, sizeof(u));
		memcpy(&u.addr, &addrs[i], sizeof(addrs[i]));
		u.addrlen = addrs[i].ss_family == AF_INET ? sizeof(struct sockaddr_in) :
		    sizeof(struct sockaddr_in6);
		group_add_server(g, &u);
	}
}

size_t
resolver_group_count(const struct resolver *r)
{
	return r->ngroups;
}

const struct resolver_group *
resolver_group(const struct resolver *r, size_t i)
{
	return i < r->ngroups ? &r->groups[i] : NULL;
}

void
resolver_set_server_stats(struct resolver *r,
    void (*fn)(const struct dnsconf_upstream *, struct resolver_server_stats *, void *), void *arg)
{
	r->server_stats = fn;
	r->server_stats_arg = arg;
}

/* What the domain table says about a name and type. */
enum dt_kind {
	DT_NONE = 0,	/* no rule applies: the default servers */
	DT_ADDR,	/* answer with the addresses of set (address= literals or #) */
	DT_LOCAL,	/* answer locally: NXDOMAIN, or NODATA when nodata is set */
	DT_FORWARD,	/* forward to group */
};

struct dt_result {
	enum dt_kind	 kind;
	const struct ruleset *set;
	size_t		 group;
	bool		 nodata;
	bool		 covered;	/* an address= literal or # covers the name */
	bool		 specific;	/* a rule with a domain matched (bogus-priv yields) */
};

struct dt_candidate {
	const struct ruleset *set;
};

static int
candidate_cmp(const void *a, const void *b)
{
	const struct ruleset *x = ((const struct dt_candidate *)a)->set;
	const struct ruleset *y = ((const struct dt_candidate *)b)->set;

	if (x->dlen != y->dlen)
		return x->dlen > y->dlen ? -1 : 1;
	/* At equal length the plain form wins over the wildcard. */
	return (int)x->wildcard - (int)y->wildcard;
}

static bool
set_has_address(const struct ruleset *s)
{
	return s->has[DNSCONF_ACT_ADDR4] || s->has[DNSCONF_ACT_ADDR6] || s->has[DNSCONF_ACT_ZEROS];
}

/* Looks name (lower-case text) up in the domain table for qtype: the longest matching domain
 * first, and within it the first kind of rule that applies to the type (dnsmasq 2.90). */
static void
domain_lookup(const struct resolver *r, const char *name, const struct key_suffixes *sx,
    uint16_t qtype, bool known, struct dt_result *res)
{
	struct dt_candidate cand[DNS_MAXNAME / 2 + 64];
	size_t ncand = 0, nlen = strlen(name);
	bool a = qtype == DNS_T_A, aaaa = qtype == DNS_T_AAAA, any = qtype == DNS_T_ANY;
	uint64_t h = NMAP_HASH_INIT;
	uintptr_t v;

	memset(res, 0, sizeof(*res));
	/* Plain domains: "" (every name), then every suffix at a label boundary, their hashes
	 * taken in one pass from the right (by name_key when sx has them). */
	for (size_t i = 0; sx != NULL && i < sx->n; i++)
		if ((v = (uintptr_t)nmap_get_hashed(&r->setmap, name + sx->off[i],
		    sx->hash[i])) != 0 && ncand < nitems(cand))
			cand[ncand++].set = &r->sets[v - 1];
	for (size_t i = nlen; sx == NULL || sx->n == 0; i--) {
		if ((i == nlen || i == 0 || name[i - 1] == '.') &&
		    (v = (uintptr_t)nmap_get_hashed(&r->setmap, name + i,
		    nmap_hash_end(h))) != 0 && ncand < nitems(cand))
			cand[ncand++].set = &r->sets[v - 1];
		if (i == 0)
			break;
		h = nmap_hash_step(h, name[i - 1]);
	}
	for (size_t i = 0; i < r->nwild && ncand < nitems(cand); i++) {
		const struct ruleset *s = &r->sets[r->wild[i]];
		if (s->nodots) {
			if (strchr(name, '.') == NULL && *name != '\0')
				cand[ncand++].set = s;
		} else if (s->dlen <= nlen && strcmp(name + nlen - s->dlen, s->domain) == 0)
			cand[ncand++].set = s;
	}
	if (ncand > 1)
		qsort(cand, ncand, sizeof(*cand), candidate_cmp);
	for (size_t i = 0; i < ncand; i++)
		if (set_has_address(cand[i].set))
			res->covered = true;
	for (size_t i = 0; i < ncand; i++) {
		const struct ruleset *s = cand[i].set;

		if (s->dlen > 0 || s->wildcard || s->nodots)
			res->specific = true;
		res->set = s;
		if (((aaaa || any) && s->has[DNSCONF_ACT_ADDR6]) ||
		    ((a || any) && s->has[DNSCONF_ACT_ADDR4]) ||
		    ((a || aaaa || any) && s->has[DNSCONF_ACT_ZEROS])) {
			res->kind = DT_ADDR;
			return;
		}
		if (s->has[DNSCONF_ACT_RESOLV]) {
			res->kind = DT_FORWARD;
			res->group = 0;
			return;
		}
		if (s->has[DNSCONF_ACT_FORWARD]) {
			res->kind = DT_FORWARD;
			res->group = s->group;
			return;
		}
		if (s->has[DNSCONF_ACT_LOCAL]) {
			res->kind = DT_LOCAL;
			res->nodata = set_has_address(s) || known;
			return;
		}
	}
	res->set = NULL;
	res->kind = DT_NONE;
}

/* --- building replies ---------------------------------------------------------------- */

/* A client query, parsed leniently as dnsmasq 2.90 reads queries. */
struct query {
	const uint8_t	*buf;
	size_t		 len;
	uint16_t	 id, flags;
	struct dns_name	 qname;		/* as sent */
	uint16_t	 qtype, qclass;
	size_t		 qend;		/* end of the question */
	bool		 edns;
	uint16_t	 udp_size;
	uint16_t	 edns_flags;
	bool		 tcp;
	char		 key[DNS_MAXTEXT];	/* lower-case name, no trailing dot */
	struct key_suffixes keysx;	/* its suffixes' hashes (none: n is 0) */
	size_t		 limit;		/* largest reply the client accepts */
};

struct reply {
	struct dns_builder b;
	const struct query *q;
	bool		 aa;
	unsigned int	 rcode;
	uint32_t	 local_ttl;
};

static void
reply_start(struct reply *rp, const struct resolver *r, const struct query *q, uint8_t *out,
    size_t outcap)
{
	size_t size = q->limit < outcap ? q->limit : outcap;

	/* Not a memset of the builder's label table: dns_builder_init clears what is used. */
	rp->q = q;
	rp->aa = false;
	rp->rcode = 0;
	rp->local_ttl = r->conf->local_ttl;
	dns_builder_init(&rp->b, out, size, q->id, 0);
	if (q->edns)
		dns_builder_reserve(&rp->b, DNS_OPT_FIXED);
	dns_build_question(&rp->b, &q->qname, q->qtype, q->qclass);
}

/* Appends an RR to the answer section; false if the message is full (then truncated). */
static bool
reply_rr(struct reply *rp, enum dns_section sec, const struct dns_name *owner, uint16_t type,
    uint16_t rclass, uint32_t ttl, const uint8_t *rdata, size_t rdlen)
{
	if (rp->b.truncated)
		return false;
	return dns_build_rr(&rp->b, sec, owner, type, rclass, ttl, rdata, rdlen) == 0;
}

/* Finishes the reply: header flags as dnsmasq sets them, truncation, the OPT RR. */
static size_t
reply_finish(struct reply *rp, const struct resolver *r)
{
	const struct query *q = rp->q;
	uint16_t flags;

	if (rp->b.truncated)
		dns_builder_truncate(&rp->b);
	flags = DNS_F_QR | (q->flags & (DNS_F_OPCODE | DNS_F_RD | DNS_F_CD)) | DNS_F_RA |
	    (uint16_t)(rp->rcode & 0xf);
	if (rp->aa)
		flags |= DNS_F_AA;
	if (rp->b.truncated)
		flags |= DNS_F_TC;
	if (q->edns)
		dns_build_opt(&rp->b, r->conf->edns_packet_max, 0, 0,
		    q->edns_flags & DNS_EDNS_DO, NULL, 0);
	dns_set_flags(rp->b.buf, rp->b.len, flags, 0xffff);
	return dns_builder_finish(&rp->b);
}

static bool
add_addr_rr(struct reply *rp, const struct dns_name *owner, int family, const void *addr,
    uint32_t ttl)
{
	return reply_rr(rp, DNS_SEC_ANSWER, owner, family == AF_INET ? DNS_T_A : DNS_T_AAAA,
	    DNS_C_IN, ttl, addr, family == AF_INET ? 4 : 16);
}

static bool
add_name_rr(struct reply *rp, const struct dns_name *owner, uint16_t type, uint32_t ttl,
    const char *target)
{
	struct dns_name t;

	if (!name_from(target, &t))
		return false;
	return reply_rr(rp, DNS_SEC_ANSWER, owner, type, DNS_C_IN, ttl, t.wire, t.len);
}

/* --- CHAOS --------------------------------------------------------------------------- */

static bool
add_txt_string(struct reply *rp, const struct dns_name *owner, uint16_t rclass, const char *s)
{
	uint8_t rd[256];
	size_t n = strlen(s);

	if (n > 255)
		n = 255;
	rd[0] = (uint8_t)n;
	memcpy(rd + 1, s, n);
	return reply_rr(rp, DNS_SEC_ANSWER, owner, DNS_T_TXT, rclass, 0, rd, n + 1);
}

/* Answers the CHAOS TXT names dnsmasq answers; false for other *.bind names (NOTIMP). */
static bool
answer_chaos(struct resolver *r, struct reply *rp)
{
	const struct query *q = rp->q;
	struct dnscache_stats st;
	char buf[128];

	dnscache_stats(r->cache, &st);
	if (strcmp(q->key, "version.bind") == 0)
		util_strlcpy(buf, RESOLVER_VERSION, sizeof(buf));
	else if (strcmp(q->key, "authors.bind") == 0)
		util_strlcpy(buf, "The zt developers", sizeof(buf));
	else if (strcmp(q->key, "copyright.bind") == 0)
		util_strlcpy(buf, "ISC licence; see the LICENSE file", sizeof(buf));
	else if (strcmp(q->key, "cachesize.bind") == 0)
		snprintf(buf, sizeof(buf), "%u", r->conf->cache_size);
	else if (strcmp(q->key, "insertions.bind") == 0)
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)st.insertions);
	else if (strcmp(q->key, "evictions.bind") == 0)
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)st.evictions);
	else if (strcmp(q->key, "misses.bind") == 0)
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)st.misses);
	else if (strcmp(q->key, "hits.bind") == 0)
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)st.hits);
	else if (strcmp(q->key, "auth.bind") == 0)
		util_strlcpy(buf, "0", sizeof(buf));
	else if (strcmp(q->key, "servers.bind") == 0) {
		/* One string per server: "address#port queries failed", as dnsmasq. */
		for (size_t g = 0; g < r->ngroups; g++) {
			for (size_t i = 0; i < r->groups[g].nservers; i++) {
				const struct dnsconf_upstream *u = &r->groups[g].servers[i];
				struct resolver_server_stats ss = { 0, 0 };
				char addr[80], *hash;

				util_sockaddr_str((const struct sockaddr *)&u->addr, addr,
				    sizeof(addr));
				/* "1.2.3.4:53" -> "1.2.3.4#53" */
				if ((hash = strrchr(addr, ':')) != NULL)
					*hash = '#';
				if (r->server_stats != NULL)
					r->server_stats(u, &ss, r->server_stats_arg);
				snprintf(buf, sizeof(buf), "%s %llu %llu", addr,
				    (unsigned long long)ss.queries, (unsigned long long)ss.failed);
				add_txt_string(rp, &q->qname, DNS_C_CH, buf);
			}
		}
		rp->aa = true;
		return true;
	} else
		return false;
	add_txt_string(rp, &q->qname, DNS_C_CH, buf);
	rp->aa = true;
	return true;
}

/* --- local data ---------------------------------------------------------------------- */

/* Appends the address records of name (lname ln) for qtype; returns how many. */
static size_t
add_host_answers(struct reply *rp, const struct dns_name *owner, const struct lname *ln,
    uint16_t qtype, const char **source)
{
	size_t n = 0;

	if (ln == NULL || !(ln->kinds & LN_HOSTS))
		return 0;
	for (size_t i = 0; i < ln->naddrs; i++) {
		const struct haddr *h = &ln->addrs[i];
		if ((h->family == AF_INET && (qtype == DNS_T_A || qtype == DNS_T_ANY)) ||
		    (h->family == AF_INET6 && (qtype == DNS_T_AAAA || qtype == DNS_T_ANY))) {
			add_addr_rr(rp, owner, h->family, h->addr, h->ttl);
			*source = h->source;
			n++;
		}
	}
	return n;
}

/* Answers qtype for name from the configuration and hosts data, following configured CNAMEs;
 * returns the number of records written (a CNAME counts). */
static size_t
answer_local_name(struct resolver *r, struct reply *rp, const struct dns_name *owner,
    const char *key, uint16_t qtype, int depth, const char **source)
{
	const struct dnsconf *c = r->conf;
	const struct lname *ln = nmap_get(&r->names, key);
	size_t n = 0;

	if (ln == NULL)
		return 0;
	if ((ln->kinds & LN_CNAME) && depth < RESOLVER_CNAME_DEPTH) {
		const struct dnsconf_cname *cn = ln->cname;
		uint32_t ttl = cn->ttl_given ? cn->ttl : c->local_ttl;
		struct dns_name target;

		*source = "config";
		if (!name_from(cn->target, &target) ||
		    !reply_rr(rp, DNS_SEC_ANSWER, owner, DNS_T_CNAME, DNS_C_IN, ttl, target.wire,
		    target.len))
			return 1;
		if (qtype == DNS_T_CNAME)
			return 1;
		return 1 + answer_local_name(r, rp, &target, cn->target, qtype, depth + 1, source);
	}
	if ((ln->kinds & LN_TXT) && (qtype == DNS_T_TXT || qtype == DNS_T_ANY)) {
		for (size_t i = 0; i < c->ntxts; i++) {
			if (strcmp(c->txts[i].name, key) != 0)
				continue;
			reply_rr(rp, DNS_SEC_ANSWER, owner, DNS_T_TXT, DNS_C_IN, c->local_ttl,
			    c->txts[i].rdata, c->txts[i].rdlen);
			*source = "config";
			n++;
		}
	}
	if ((ln->kinds & LN_PTR) && (qtype == DNS_T_PTR || qtype == DNS_T_ANY)) {
		for (size_t i = 0; i < c->nptrs; i++) {
			if (strcmp(c->ptrs[i].name, key) != 0 || c->ptrs[i].target == NULL)
				continue;
			add_name_rr(rp, owner, DNS_T_PTR, c->local_ttl, c->ptrs[i].target);
			*source = "config";
			n++;
		}
	}
	n += add_host_answers(rp, owner, ln, qtype, source);
	if ((ln->kinds & LN_MX) && (qtype == DNS_T_MX || qtype == DNS_T_ANY)) {
		for (size_t i = 0; i < c->nmxs; i++) {
			const struct dnsconf_mx *mx = &c->mxs[i];
			uint8_t rd[2 + DNS_MAXNAME];
			struct dns_name t;
			char host[256];

			if (strcmp(mx->name, key) != 0)
				continue;
			if (mx->target == NULL) {
				if (gethostname(host, sizeof(host)) == -1)
					continue;
				host[sizeof(host) - 1] = '\0';
			} else
				util_strlcpy(host, mx->target, sizeof(host));
			if (!name_from(host, &t))
				continue;
			rd[0] = (uint8_t)(mx->pref >> 8);
			rd[1] = (uint8_t)mx->pref;
			memcpy(rd + 2, t.wire, t.len);
			reply_rr(rp, DNS_SEC_ANSWER, owner, DNS_T_MX, DNS_C_IN, c->local_ttl, rd,
			    2u + t.len);
			*source = "config";
			n++;
		}
	}
	if ((ln->kinds & LN_SRV) && (qtype == DNS_T_SRV || qtype == DNS_T_ANY)) {
		for (size_t i = 0; i < c->nsrvs; i++) {
			const struct dnsconf_srv *s = &c->srvs[i];
			uint8_t rd[6 + DNS_MAXNAME];
			struct dns_name t;

			if (strcmp(s->name, key) != 0)
				continue;
			if (!name_from(s->target != NULL ? s->target : "", &t))
				continue;
			rd[0] = (uint8_t)(s->prio >> 8);
			rd[1] = (uint8_t)s->prio;
			rd[2] = (uint8_t)(s->weight >> 8);
			rd[3] = (uint8_t)s->weight;
			rd[4] = (uint8_t)(s->port >> 8);
			rd[5] = (uint8_t)s->port;
			memcpy(rd + 6, t.wire, t.len);
			reply_rr(rp, DNS_SEC_ANSWER, owner, DNS_T_SRV, DNS_C_IN, c->local_ttl, rd,
			    6u + t.len);
			*source = "config";
			n++;
		}
	}
	return n;
}

/* bogus-priv: the private and special ranges whose reverse names dnsmasq 2.90 never forwards. */
static bool
private_address(int family, const uint8_t *a)
{
	if (family == AF_INET) {
		return a[0] == 127 || a[0] == 0 || a[0] == 10 ||
		    (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168) ||
		    (a[0] == 169 && a[1] == 254) ||
		    (a[0] == 192 && a[1] == 0 && a[2] == 2) ||
		    (a[0] == 198 && a[1] == 51 && a[2] == 100) ||
		    (a[0] == 203 && a[1] == 0 && a[2] == 113) ||
		    (a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255);
	}
	static const uint8_t zero[16], one[16] = { [15] = 1 };
	if (memcmp(a, zero, 16) == 0 || memcmp(a, one, 16) == 0)
		return true;
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)	/* fe80::/10 */
		return true;
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)	/* fec0::/10 */
		return true;
	if (a[0] == 0xfd)				/* fd00::/8 */
		return true;
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
		return true;
	/* IPv4-mapped private addresses. */
	if (memcmp(a, zero, 10) == 0 && a[10] == 0xff && a[11] == 0xff)
		return private_address(AF_INET, a + 12);
	return false;
}

/* PTR for a reverse name from hosts/host-record data. */
static bool
answer_reverse(struct resolver *r, struct reply *rp, int family, const uint8_t *addr,
    unsigned int parts, const char **source)
{
	char key[64];
	const struct rname *rn;

	if (parts != (family == AF_INET ? 4u : 32u))
		return false;
	addr_key(family, addr, key, sizeof(key));
	if ((rn = nmap_get(&r->reverse, key)) == NULL)
		return false;
	add_name_rr(rp, &rp->q->qname, DNS_T_PTR, rn->ttl, rn->target);
	*source = rn->source;
	return true;
}

static bool
cache_in_use(const struct dnscache *cache)
{
	return dnscache_records(cache) > 0;
}

/* --- the pipeline -------------------------------------------------------------------- */

size_t
resolver_client_limit(const struct resolver *r, const struct dns_msg *msg, bool tcp)
{
	size_t limit;

	if (tcp)
		return DNS_MAXMSG;
	if (!msg->edns.present)
		return DNS_UDP_MIN;
	limit = msg->edns.udp_size;
	if (limit > r->conf->edns_packet_max)
		limit = r->conf->edns_packet_max;
	if (limit < DNS_UDP_MIN)
		limit = DNS_UDP_MIN;
	return limit;
}

static size_t
limit_for(const struct resolver *r, const struct query *q)
{
	size_t limit;

	if (q->tcp)
		return DNS_MAXMSG;
	if (!q->edns)
		return DNS_UDP_MIN;
	limit = q->udp_size > r->conf->edns_packet_max ? r->conf->edns_packet_max : q->udp_size;
	return limit < DNS_UDP_MIN ? DNS_UDP_MIN : limit;
}

/*
 * Reads a query as dnsmasq 2.90 does: the header, one question, the RRs the counts announce
 * (any unreadable one drops the query) with the first OPT of the additional section taken as
 * EDNS (an OPT whose RDATA runs past the end is ignored, not fatal); trailing bytes ignored.
 * Returns 0, -1 to drop silently, or the rcode to answer with (NOTIMP, REFUSED).
 */
static int
parse_query(const struct resolver *r, const uint8_t *buf, size_t len, bool tcp, struct query *q)
{
	size_t pos;
	uint16_t qd, an, ns, ar;

	/* Not the name buffer (1 KB): name_key below writes it. */
	memset(q, 0, offsetof(struct query, key));
	q->key[0] = '\0';
	q->keysx.n = 0;
	q->limit = 0;
	q->buf = buf;
	q->len = len;
	q->tcp = tcp;
	if (len < DNS_HEADER_LEN)
		return -1;
	q->id = (uint16_t)(buf[0] << 8 | buf[1]);
	q->flags = (uint16_t)(buf[2] << 8 | buf[3]);
	qd = (uint16_t)(buf[4] << 8 | buf[5]);
	an = (uint16_t)(buf[6] << 8 | buf[7]);
	ns = (uint16_t)(buf[8] << 8 | buf[9]);
	ar = (uint16_t)(buf[10] << 8 | buf[11]);
	if ((q->flags & DNS_F_QR) || qd == 0)
		return -1;
	pos = DNS_HEADER_LEN;
	if (dns_name_read(buf, len, &pos, &q->qname) != 0 || len - pos < 4)
		return -1;
	q->qtype = (uint16_t)(buf[pos] << 8 | buf[pos + 1]);
	q->qclass = (uint16_t)(buf[pos + 2] << 8 | buf[pos + 3]);
	pos += 4;
	q->qend = pos;
	name_key(&q->qname, q->key, sizeof(q->key), &q->keysx);
	/* Walk the remaining questions and the RRs; remember the first OPT. */
	for (unsigned int i = 1; i < qd; i++) {
		struct dns_name n;
		if (dns_name_read(buf, len, &pos, &n) != 0 || len - pos < 4)
			return -1;
		pos += 4;
	}
	for (unsigned int i = 0; i < (unsigned int)an + ns + ar; i++) {
		struct dns_name n;
		uint16_t type, rdlen;

		if (dns_name_read(buf, len, &pos, &n) != 0 || len - pos < 10)
			return -1;
		type = (uint16_t)(buf[pos] << 8 | buf[pos + 1]);
		rdlen = (uint16_t)(buf[pos + 8] << 8 | buf[pos + 9]);
		if (type == DNS_T_OPT && i < (unsigned int)an + ns)
			return -1;	/* an OPT outside the additional section (RFC 6891 6.1.1) */
		if (type == DNS_T_OPT && i >= (unsigned int)an + ns && !q->edns &&
		    len - pos - 10 >= rdlen) {
			q->edns = true;
			q->udp_size = (uint16_t)(buf[pos + 2] << 8 | buf[pos + 3]);
			q->edns_flags = (uint16_t)(buf[pos + 6] << 8 | buf[pos + 7]);
		}
		if (len - pos - 10 < rdlen) {
			pos = len;	/* an RDATA running past the end ends the walk */
			break;
		}
		pos += 10u + rdlen;
	}
	/* Bytes after the last record are ignored, as dnsmasq 2.90 does (RFC 1035 does not
	 * forbid them). */
	q->limit = limit_for(r, q);
	/* dnsmasq 2.91's rules for what 2.90 forwarded blindly (doc/dns-compat.md). */
	if (DNS_OPCODE(q->flags) != DNS_OP_QUERY)
		return DNS_R_NOTIMP;
	if (qd != 1 || an != 0 || ns != 0)
		return DNS_R_REFUSED;
	return 0;
}

size_t
resolver_error_reply(const struct resolver *r, const uint8_t *buf, size_t len,
    unsigned int rcode, bool tcp, uint8_t *out, size_t outcap)
{
	struct query q;
	struct reply rp;

	if (parse_query(r, buf, len, tcp, &q) == -1)
		return 0;
	reply_start(&rp, r, &q, out, outcap);
	rp.rcode = rcode;
	return reply_finish(&rp, r);
}

/* Sets res to answer with the reply being built. */
static void
done_reply(struct resolver *r, struct reply *rp, struct resolver_result *res, const char *source)
{
	res->action = RESOLVER_REPLY;
	res->len = reply_finish(rp, r);
	res->source = source;
	res->rcode = rp->rcode;
}

void
resolver_query(struct resolver *r, const uint8_t *buf, size_t len, bool tcp, time_t now,
    uint8_t *out, size_t outcap, struct resolver_result *res)
{
	const struct dnsconf *c = r->conf;
	const char *source = "config";
	struct query q;
	struct reply rp;
	struct dt_result dt;
	const struct lname *ln;
	bool known, dotless, in;
	int rc;

	memset(res, 0, sizeof(*res));
	res->action = RESOLVER_DROP;
	if ((rc = parse_query(r, buf, len, tcp, &q)) == -1)
		return;
	res->info.id = q.id;
	res->info.flags = q.flags;
	res->info.qname.len = q.qname.len;
	memcpy(res->info.qname.wire, q.qname.wire, q.qname.len);
	res->info.qtype = q.qtype;
	res->info.qclass = q.qclass;
	res->info.edns = q.edns;
	res->info.edns_flags = q.edns_flags;
	reply_start(&rp, r, &q, out, outcap);
	if (rc > 0) {
		rp.rcode = (unsigned int)rc;
		done_reply(r, &rp, res, "error");
		return;
	}
	in = q.qclass == DNS_C_IN;
	ln = q.keysx.n > 0 ? nmap_get_hashed(&r->names, q.key, q.keysx.hash[q.keysx.n - 1]) :
	    nmap_get(&r->names, q.key);
	known = ln != NULL;

	/* CHAOS: the *.bind TXT names; other *.bind names are NOTIMP. */
	if (q.qclass == DNS_C_CH && (strcmp(q.key, "bind") == 0 ||
	    (strlen(q.key) > 5 && strcmp(q.key + strlen(q.key) - 5, ".bind") == 0))) {
		if (q.qtype != DNS_T_TXT || !answer_chaos(r, &rp))
			rp.rcode = DNS_R_NOTIMP;
		done_reply(r, &rp, res, "config");
		return;
	}

	if (in) {
		/* Local data: configured records, hosts files and host-record. */
		if (known && answer_local_name(r, &rp, &q.qname, q.key, q.qtype, 0, &source) > 0) {
			rp.aa = true;
			done_reply(r, &rp, res, source);
			return;
		}
		if (q.qtype == DNS_T_PTR || q.qtype == DNS_T_ANY) {
			int family;
			uint8_t addr[16];
			unsigned int parts;

			if (dns_reverse_name_to_addr(&q.qname, &family, addr, &parts) == 0) {
				if (answer_reverse(r, &rp, family, addr, parts, &source)) {
					rp.aa = true;
					done_reply(r, &rp, res, source);
					return;
				}
				domain_lookup(r, q.key, &q.keysx, q.qtype, known, &dt);
				if (c->bogus_priv && !dt.specific && private_address(family, addr)) {
					rp.aa = true;
					rp.rcode = DNS_R_NXDOMAIN;
					done_reply(r, &rp, res, "bogus-priv");
					return;
				}
			}
		}
	}

	/* The domain table: address=, local=, server=/d/, rev-server=. It comes before the cache
	 * (dnsmasq looks in its cache first) because a name address= or local= answers can only be
	 * in the cache through an upstream's CNAME chain, and then the configuration should win;
	 * it also keeps the cache lookup off the path of every address= answer. */
	domain_lookup(r, q.key, &q.keysx, q.qtype, known, &dt);
	if ((!in || dt.kind != DT_ADDR) && dt.kind != DT_LOCAL)
		goto cache;
	if (in && dt.kind == DT_ADDR) {
		const struct ruleset *s = dt.set;
		bool a = q.qtype == DNS_T_A || q.qtype == DNS_T_ANY;
		bool aaaa = q.qtype == DNS_T_AAAA || q.qtype == DNS_T_ANY;
		static const uint8_t zeros[16];

		/* With both literals an ANY query gets the IPv6 ones only, as dnsmasq 2.90. */
		if (aaaa && s->has[DNSCONF_ACT_ADDR6]) {
			for (size_t i = s->nrules; i-- > 0;)
				if (s->rules[i]->action == DNSCONF_ACT_ADDR6)
					add_addr_rr(&rp, &q.qname, AF_INET6,
					    &s->rules[i]->addr.u.v6, c->local_ttl);
		} else if (a && s->has[DNSCONF_ACT_ADDR4]) {
			for (size_t i = s->nrules; i-- > 0;)
				if (s->rules[i]->action == DNSCONF_ACT_ADDR4)
					add_addr_rr(&rp, &q.qname, AF_INET,
					    &s->rules[i]->addr.u.v4, c->local_ttl);
		} else {
			if (a)
				add_addr_rr(&rp, &q.qname, AF_INET, zeros, c->local_ttl);
			if (aaaa)
				add_addr_rr(&rp, &q.qname, AF_INET6, zeros, c->local_ttl);
		}
		rp.aa = true;
		done_reply(r, &rp, res, "config");
		return;
	}
	if (dt.kind == DT_LOCAL) {
		rp.rcode = dt.nodata ? DNS_R_NOERROR : DNS_R_NXDOMAIN;
		done_reply(r, &rp, res, "config");
		return;
	}

cache:
	/* The cache: only for queries with RD set and without DO, as dnsmasq 2.90 (an empty cache
	 * is not searched). */
	if (r->cache != NULL && (q.flags & DNS_F_RD) && !(q.edns && (q.edns_flags & DNS_EDNS_DO)) &&
	    cache_in_use(r->cache)) {
		struct dnscache_reply cr;

		if (dnscache_answer(r->cache, &q.qname, q.qtype, q.qclass, now, c->max_ttl, &rp.b,
		    &cr) != DNSCACHE_MISS) {
			rp.rcode = cr.rcode;
			done_reply(r, &rp, res, "cached");
			return;
		}
	}


	/* domain-needed: A, AAAA and ANY for names without a dot never leave the machine. */
	dotless = q.key[0] != '\0' && strchr(q.key, '.') == NULL;
	if (c->domain_needed && dotless &&
	    (q.qtype == DNS_T_A || q.qtype == DNS_T_AAAA || q.qtype == DNS_T_ANY)) {
		rp.rcode = known ? DNS_R_NOERROR : DNS_R_NXDOMAIN;
		done_reply(r, &rp, res, "config");
		return;
	}

	res->action = RESOLVER_FORWARD;
	res->group = dt.kind == DT_FORWARD ? dt.group : 0;
	/* An upstream NXDOMAIN for a name dnsmasq knows becomes NODATA with AA (2.86+); 2.90 also
	 * treats the root name so. */
	res->rewrite_nx = known || dt.covered || (q.key[0] == '\0' && r->has_address_rules);
	res->cache_ok = !(q.flags & DNS_F_CD);
}

size_t
resolver_forwarded_reply(struct resolver *r, const uint8_t *qbuf, size_t qlen, bool tcp,
    const uint8_t *up, size_t uplen, const struct dns_msg *upmsg, bool rewrite_nx, bool cache_ok,
    time_t now, uint8_t *out, size_t outcap)
{
	static uint8_t full[DNS_MAXMSG];
	const struct dnsconf *c = r->conf;
	struct query q;
	struct dns_builder b;
	struct dns_msg fm;
	size_t pos, n;
	unsigned int rcode = DNS_RCODE(upmsg->flags);
	uint16_t flags;
	bool aa = (upmsg->flags & DNS_F_AA) != 0;
	struct dns_rr rr;
	int rc;

	if (parse_query(r, qbuf, qlen, tcp, &q) != 0)
		return 0;
	if (rewrite_nx && rcode == DNS_R_NXDOMAIN) {
		rcode = DNS_R_NOERROR;
		aa = true;
	}
	/* The whole answer first (it is what the cache keeps), then fitted to the client. */
	dns_builder_init(&b, full, sizeof(full), q.id, 0);
	if (q.edns)
		dns_builder_reserve(&b, DNS_OPT_FIXED);
	dns_build_question(&b, &q.qname, q.qtype, q.qclass);
	pos = upmsg->sec_off[DNS_SEC_ANSWER];
	while ((rc = dns_rr_next(upmsg, up, uplen, &pos, &rr)) == 1) {
		if (rr.type == DNS_T_OPT)
			continue;
		if (rr.ttl >= 0x80000000u)	/* RFC 2181 section 8 */
			rr.ttl = 0;
		if (dns_build_rr_copy(&b, rr.section, up, uplen, &rr) != 0)
			break;
	}
	if (rc < 0)
		return 0;
	flags = DNS_F_QR | (q.flags & (DNS_F_OPCODE | DNS_F_RD | DNS_F_CD)) | DNS_F_RA |
	    (uint16_t)rcode | (upmsg->flags & DNS_F_TC);
	if (aa)
		flags |= DNS_F_AA;
	if (b.truncated) {
		dns_builder_truncate(&b);
		flags |= DNS_F_TC;
	}
	if (q.edns)
		dns_build_opt(&b, c->edns_packet_max, upmsg->edns.present ? upmsg->edns.ext_rcode : 0,
		    0, q.edns_flags & DNS_EDNS_DO, NULL, 0);
	dns_set_flags(full, b.len, flags, 0xffff);
	n = dns_builder_finish(&b);
	/* The cache keeps the real TTLs; max-ttl caps what the client is told (dnsmasq). */
	if (dns_parse(full, n, &fm) == 0) {
		if (cache_ok && r->cache != NULL && !(flags & DNS_F_TC))
			dnscache_store(r->cache, &fm, full, n, now);
		if (c->max_ttl != 0) {
			pos = fm.sec_off[DNS_SEC_ANSWER];
			while (dns_rr_next(&fm, full, n, &pos, &rr) == 1)
				if (rr.type != DNS_T_OPT && rr.ttl > c->max_ttl)
					dns_rr_set_ttl(full, n, &rr, c->max_ttl);
		}
	}
	if (n <= q.limit && n <= outcap) {
		memcpy(out, full, n);
		return n;
	}
	/* Too big for this client: TC and no records, as dnsmasq 2.90. */
	dns_builder_init(&b, out, q.limit < outcap ? q.limit : outcap, q.id, 0);
	if (q.edns)
		dns_builder_reserve(&b, DNS_OPT_FIXED);
	dns_build_question(&b, &q.qname, q.qtype, q.qclass);
	if (q.edns)
		dns_build_opt(&b, c->edns_packet_max, 0, 0, q.edns_flags & DNS_EDNS_DO, NULL, 0);
	dns_set_flags(out, b.len, flags | DNS_F_TC, 0xffff);
	return dns_builder_finish(&b);
}

/* --- life cycle ---------------------------------------------------------------------- */

struct resolver *
resolver_new(const struct dnsconf *conf, struct dnscache *cache, const char *hosts_file)
{
	struct resolver *r = xcalloc(1, sizeof(*r));

	r->conf = conf;
	r->cache = cache;
	if (hosts_file != NULL)
		r->hosts_file = xstrdup(hosts_file);
	build_domain_table(r);
	/* A hosts file that cannot be read is logged and the resolver runs without it. */
	(void)resolver_reload_hosts(r);
	return r;
}

void
resolver_free(struct resolver *r)
{
	if (r == NULL)
		return;
	nmap_clear(&r->names, lname_free);
	nmap_clear(&r->reverse, rname_free);
	nmap_clear(&r->setmap, NULL);
	for (size_t i = 0; i < r->nsets; i++)
		free(r->sets[i].rules);
	free(r->sets);
	free(r->wild);
	for (size_t i = 0; i < r->ngroups; i++) {
		free(r->groups[i].domain);
		free(r->groups[i].servers);
	}
	free(r->groups);
	for (size_t i = 0; i < r->nsources; i++)
		free(r->sources[i]);
	free(r->sources);
	free(r->hosts_file);
	free(r);
}
