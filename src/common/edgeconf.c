/* edgeconf: edge.ini, the edge's declarative configuration: listeners, certificates, the state
 * directory, the audit log, and the apps with their tunnels and policies. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "edgeconf.h"
#include "log.h"
#include "policy.h"
#include "util.h"

static bool edgeconf_name_ok(const char *v, char *err, size_t errlen);
static bool edgeconf_policy_ok(const char *v, char *err, size_t errlen);
static bool edgeconf_tunnel_ok(const char *v, char *err, size_t errlen);
static bool edgeconf_issuer_ok(const char *v, char *err, size_t errlen);

static const struct conf_entry edge_table[] = {
	{ "edge", "name", CONF_STRING, NULL, "ZT_EDGE_NAME", CONF_F_REQUIRED, 0, 0, NULL,
	    edgeconf_name_ok, "the edge's name, as in its certificate" },
	{ "edge", "listen", CONF_HOSTPORT, "0.0.0.0:7844", NULL, CONF_F_MULTI,
	    EDGECONF_DEFAULT_PORT, 0, NULL, NULL, "address and port to listen on (repeatable)" },
	{ "edge", "public", CONF_HOSTPORT, NULL, NULL, CONF_F_MULTI, EDGECONF_DEFAULT_PORT, 0, NULL,
	    NULL, "address:port connectors dial, put in tunnel tokens (default: name:port)" },
	{ "edge", "cert_file", CONF_PATH, NULL, NULL, CONF_F_REQUIRED, 0, 0, NULL, NULL,
	    "the edge's certificate chain (PEM)" },
	{ "edge", "key_file", CONF_PATH, NULL, NULL, CONF_F_REQUIRED, 0, 0, NULL, NULL,
	    "its private key (PEM, mode 0600)" },
	{ "edge", "ca_file", CONF_PATH, NULL, NULL, 0, 0, 0, NULL, NULL,
	    "the private CA whose pin tunnel tokens carry" },
	{ "edge", "state_dir", CONF_PATH, "/var/lib/zt", "ZT_STATE_DIR", 0, 0, 0, NULL, NULL,
	    "tunnels and service tokens" },
	{ "edge", "audit_log", CONF_PATH, "-", NULL, 0, 0, 0, NULL, NULL,
	    "where decisions are written as JSON lines (- for standard output)" },
	{ "edge", "keepalive", CONF_DURATION, "10s", NULL, 0, 0, 0, NULL, NULL,
	    "PING after this much silence; a session silent twice as long is dead" },
	{ "edge", "handshake_timeout", CONF_DURATION, "10s", NULL, 0, 0, 0, NULL, NULL,
	    "TLS handshake and HELLO must be done within this" },
	{ "edge", "idle_timeout", CONF_DURATION, "10m", NULL, 0, 0, 0, NULL, NULL,
	    "a client session with no stream is closed after this" },
	{ "edge", "max_streams_client", CONF_INT, "1024", NULL, 0, 1, 1000000, NULL, NULL,
	    "concurrent streams per client session" },
	{ "edge", "max_streams_connector", CONF_INT, "65536", NULL, 0, 1, 1000000, NULL, NULL,
	    "concurrent streams per connector session" },
	{ "identity", "issuer", CONF_STRING, NULL, NULL, 0, 0, 0, NULL, edgeconf_issuer_ok,
	    "the URL in the iss claim of the edge's tokens (default https://NAME[:PORT])" },
	{ "identity", "session_duration", CONF_DURATION, "24h", NULL, 0, 0, 0, NULL, NULL,
	    "how long a login (zt login, the login page) lasts" },
	{ "app *", "tunnel", CONF_STRING, NULL, NULL, 0, 0, 0, NULL, edgeconf_tunnel_ok,
	    "the tunnel that serves this app" },
	{ "app *", "policy", CONF_STRING, NULL, NULL, CONF_F_MULTI, 0, 0, NULL, edgeconf_policy_ok,
	    "an access rule: allow|deny SELECTOR... (first that applies decides; default deny)" },
	{ "app *", "session_duration", CONF_DURATION, NULL, NULL, 0, 0, 0, NULL, NULL,
	    "people who signed in longer ago than this are asked to sign in again (default: the login's)" },
	{ NULL, NULL, 0, NULL, NULL, 0, 0, 0, NULL, NULL, NULL },
};

/* A DNS name of letters, digits, '-' and '_' in labels of 1-63, at most 253 bytes. */
static bool
hostname_ok(const char *v)
{
	size_t len = strlen(v), label = 0;

	if (len == 0 || len > 253 || v[0] == '.' || v[len - 1] == '.')
		return false;
	for (const char *p = v; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

static bool
edgeconf_name_ok(const char *v, char *err, size_t errlen)
{
	if (hostname_ok(v))
		return true;
	snprintf(err, errlen, "not a host name: write the name clients use, e.g. edge.example.com");
	return false;
}

static bool
edgeconf_tunnel_ok(const char *v, char *err, size_t errlen)
{
	size_t len = strlen(v);

	if (len == 0 || len > 64 || v[0] == '.')
		goto bad;
	for (const char *p = v; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			goto bad;
	return true;
bad:
	snprintf(err, errlen, "tunnel names are 1-64 letters, digits, '.', '-' or '_'");
	return false;
}

/* https://HOST[:PORT] with no path, query or fragment (a trailing slash is refused too: iss is
 * compared exactly). */
static bool
edgeconf_issuer_ok(const char *v, char *err, size_t errlen)
{
	const char *host = v + 8, *colon;
	char name[254];
	size_t len;

	if (strncmp(v, "https://", 8) != 0)
		goto bad;
	colon = strchr(host, ':');
	len = colon != NULL ? (size_t)(colon - host) : strlen(host);
	if (len == 0 || len >= sizeof(name))
		goto bad;
	memcpy(name, host, len);
	name[len] = '\0';
	if (!hostname_ok(name))
		goto bad;
	if (colon != NULL) {
		char *end;
		long port;

		errno = 0;
		port = strtol(colon + 1, &end, 10);
		if (colon[1] == '\0' || *end != '\0' || errno != 0 || port < 1 || port > 65535)
			goto bad;
	}
	return true;
bad:
	snprintf(err, errlen, "not an issuer URL: write https://HOST or https://HOST:PORT "
	    "(no path), the address people reach the edge's login page at");
	return false;
}

static bool
edgeconf_policy_ok(const char *v, char *err, size_t errlen)
{
	struct policy *p = policy_new();
	bool ok = policy_add(p, v, err, errlen) == 0;

	policy_free(p);
	return ok;
}

/* path resolved against the directory of base when it is relative. */
static char *
resolve(const char *base, const char *path)
{
	const char *slash;
	char *out;

	if (path == NULL)
		return NULL;
	if (path[0] == '/' || strcmp(path, "-") == 0 || (slash = strrchr(base, '/')) == NULL)
		return xstrdup(path);
	xasprintf(&out, "%.*s/%s", (int)(slash - base), base, path);
	return out;
}

static char **
copy_multi(const struct conf *cf, const char *section, const char *key, size_t *n)
{
	size_t count = conf_get_count(cf, section, key);
	char **v = xcalloc(count + 1, sizeof(*v));

	for (size_t i = 0; i < count; i++)
		v[i] = xstrdup(conf_get_nth(cf, section, key, i));
	*n = count;
	return v;
}

static struct conf *
load_conf(const char *path)
{
	struct conf *cf = conf_new(edge_table);

	if (conf_load_file(cf, path) == -1 || conf_load_env(cf) == -1 || conf_check(cf) == -1) {
		conf_free(cf);
		return NULL;
	}
	return cf;
}

struct edgeconf *
edgeconf_load(const char *path)
{
	struct conf *cf;
	struct edgeconf *c;
	size_t napps;
	bool ok = true;

	if ((cf = load_conf(path)) == NULL)
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->path = xstrdup(path);
	c->name = xstrdup(conf_get(cf, "edge", "name"));
	c->listens = copy_multi(cf, "edge", "listen", &c->nlistens);
	c->publics = copy_multi(cf, "edge", "public", &c->npublics);
	if (c->npublics == 0) {
		struct util_hostport hp;
		char err[256];

		util_parse_hostport(c->listens[0], EDGECONF_DEFAULT_PORT, &hp, err, sizeof(err));
		free(c->publics);
		c->publics = xcalloc(2, sizeof(*c->publics));
		xasprintf(&c->publics[0], "%s:%u", c->name, hp.port);
		c->npublics = 1;
	}
	c->cert_file = resolve(path, conf_get(cf, "edge", "cert_file"));
	c->key_file = resolve(path, conf_get(cf, "edge", "key_file"));
	c->ca_file = resolve(path, conf_get(cf, "edge", "ca_file"));
	c->state_dir = resolve(path, conf_get(cf, "edge", "state_dir"));
	c->audit_log = resolve(path, conf_get(cf, "edge", "audit_log"));
	c->keepalive_ms = (uint32_t)conf_get_duration(cf, "edge", "keepalive");
	c->handshake_timeout_ms = (uint32_t)conf_get_duration(cf, "edge", "handshake_timeout");
	c->idle_timeout_ms = (uint32_t)conf_get_duration(cf, "edge", "idle_timeout");
	c->max_streams_client = (uint32_t)conf_get_int(cf, "edge", "max_streams_client");
	c->max_streams_connector = (uint32_t)conf_get_int(cf, "edge", "max_streams_connector");
	c->session_duration_s = (uint32_t)(conf_get_duration(cf, "identity", "session_duration") /
	    1000);
	if (conf_get(cf, "identity", "issuer") != NULL)
		c->issuer = xstrdup(conf_get(cf, "identity", "issuer"));
	else {
		struct util_hostport hp;
		char err[256];

		util_parse_hostport(c->publics[0], EDGECONF_DEFAULT_PORT, &hp, err, sizeof(err));
		if (hp.port == 443)
			xasprintf(&c->issuer, "https://%s", c->name);
		else
			xasprintf(&c->issuer, "https://%s:%u", c->name, hp.port);
	}
	if (c->session_duration_s < 60 || c->session_duration_s > 366 * 86400) {
		log_errorx("%s: [identity] session_duration must be between 1m and 366d", path);
		ok = false;
	}
	if (c->keepalive_ms < 100 || c->handshake_timeout_ms < 100) {
		log_errorx("%s: keepalive and handshake_timeout must be at least 100ms", path);
		ok = false;
	}

	napps = conf_section_count(cf, "app");
	c->apps = xcalloc(napps + 1, sizeof(*c->apps));
	for (size_t i = 0; i < napps; i++) {
		const char *section = conf_section_nth(cf, "app", i);
		const char *host = conf_section_name(section);
		const char *tunnel = conf_get(cf, section, "tunnel");
		struct edgeconf_app *a = &c->apps[c->napps];
		char err[POLICY_ERR_MAX];

		if (host == NULL || !hostname_ok(host)) {
			log_errorx("%s: [%s]: \"%s\" is not a host name; write [app db.example.com]",
			    path, section, host != NULL ? host : "");
			ok = false;
			continue;
		}
		if (tunnel == NULL) {
			log_errorx("%s: [%s]: no tunnel = ...: name the tunnel that serves this app",
			    path, section);
			ok = false;
			continue;
		}
		if (edgeconf_app(c, host) != NULL) {
			log_errorx("%s: [%s] appears twice", path, section);
			ok = false;
			continue;
		}
		a->hostname = xstrdup(host);
		for (char *p = a->hostname; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		a->tunnel = xstrdup(tunnel);
		a->policy = policy_new();
		a->session_duration_s = c->session_duration_s;
		if (conf_get(cf, section, "session_duration") != NULL) {
			uint64_t ms = conf_get_duration(cf, section, "session_duration");

			if (ms < 60000 || ms / 1000 > c->session_duration_s) {
				log_errorx("%s: [%s]: session_duration must be between 1m and "
				    "[identity] session_duration (%us)", path, section,
				    c->session_duration_s);
				ok = false;
			}
			a->session_duration_s = (uint32_t)(ms / 1000);
		}
		for (size_t j = 0; j < conf_get_count(cf, section, "policy"); j++)
			if (policy_add(a->policy, conf_get_nth(cf, section, "policy", j), err,
			    sizeof(err)) == -1) {
				log_errorx("%s: [%s]: %s", path, section, err);
				ok = false;
			}
		if (policy_count(a->policy) == 0)
			log_warnx("%s: [%s] has no policy: every stream to it is denied", path,
			    section);
		c->napps++;
	}
	conf_free(cf);
	if (!ok) {
		edgeconf_free(c);
		return NULL;
	}
	return c;
}

void
edgeconf_free(struct edgeconf *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nlistens; i++)
		free(c->listens[i]);
	for (size_t i = 0; i < c->npublics; i++)
		free(c->publics[i]);
	free(c->listens);
	free(c->publics);
	for (size_t i = 0; i < c->napps; i++) {
		free(c->apps[i].hostname);
		free(c->apps[i].tunnel);
		policy_free(c->apps[i].policy);
	}
	free(c->apps);
	free(c->path);
	free(c->name);
	free(c->cert_file);
	free(c->key_file);
	free(c->ca_file);
	free(c->state_dir);
	free(c->audit_log);
	free(c->issuer);
	free(c);
}

const struct edgeconf_app *
edgeconf_app(const struct edgeconf *c, const char *hostname)
{
	size_t len = strlen(hostname);

	if (len > 0 && hostname[len - 1] == '.')
		len--;
	for (size_t i = 0; i < c->napps; i++)
		if (strlen(c->apps[i].hostname) == len &&
		    strncasecmp(c->apps[i].hostname, hostname, len) == 0)
			return &c->apps[i];
	return NULL;
}

int
edgeconf_dump(const char *path, FILE *fp)
{
	struct conf *cf;

	if ((cf = load_conf(path)) == NULL)
		return -1;
	conf_dump(cf, fp);
	conf_free(cf);
	return 0;
}

char *
edgeconf_state_dir(const char *path)
{
	struct conf *cf;
	char *dir;

	if ((cf = load_conf(path)) == NULL)
		return NULL;
	dir = resolve(path, conf_get(cf, "edge", "state_dir"));
	conf_free(cf);
	return dir;
}

int
edgeconf_write_template(const char *path, const char *name, const char *listen)
{
	char *text;
	int fd, ret;

	xasprintf(&text,
"; edge.ini: the configuration of a zt edge (zt-edge(8)). Paths are relative to this file.\n"
"; Reload with SIGHUP: a file with an error is refused and the running configuration kept.\n"
"\n"
"[edge]\n"
"; The name clients and connectors use; the certificate is made for it.\n"
"name = %s\n"
"; Where to listen (repeatable); one TLS 1.3 port for connectors and clients.\n"
"listen = %s\n"
"; What tunnel tokens tell connectors to dial (repeatable; default name:port).\n"
";public = %s:7844\n"
"cert_file = edge.crt\n"
"key_file = edge.key\n"
"; The private CA: its pin goes into tunnel tokens; clients use it with --edge-pin.\n"
"ca_file = ca.crt\n"
"; Tunnels and service tokens (zt tunnel create, zt token create).\n"
"state_dir = state\n"
"; Every allow and deny as a JSON line (- for standard output).\n"
"audit_log = audit.log\n"
";keepalive = 10s\n"
";handshake_timeout = 10s\n"
"\n"
"; One section per app: the hostname clients ask for, the tunnel that serves it, and rules\n"
"; evaluated in order (the first that applies decides; nothing applies: denied).\n"
"; Rule: allow|deny SELECTOR..., where a selector is token:NAME, any-token, everyone,\n"
"; email:ADDR, email-domain:DOMAIN, group:NAME or ip:CIDR; +SELECTOR is required,\n"
"; -SELECTOR excludes.\n"
";[app db.example.com]\n"
";tunnel = db\n"
";policy = allow token:cloud-run-db\n",
	    name, listen, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		log_error("cannot create \"%s\"", path);
		free(text);
		return -1;
	}
	ret = write(fd, text, strlen(text)) == (ssize_t)strlen(text) && fsync(fd) == 0 ? 0 : -1;
	if (ret == -1)
		log_error("cannot write \"%s\"", path);
	close(fd);
	free(text);
	return ret;
}
