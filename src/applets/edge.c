/* edge: `zt edge`, the one public endpoint: TLS 1.3, authentication of connectors and clients,
 * app policies, and the joining of client streams to connector streams (doc/protocol.md). */
#include "config.h"

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "applets.h"
#include "common/edgeconf.h"
#include "common/ev.h"
#include "common/health.h"
#include "common/jwt.h"
#include "common/log.h"
#include "applets/edge-cmds.h"
#include "common/metrics.h"
#include "common/mux.h"
#include "common/policy.h"
#include "common/revoked.h"
#include "common/signkeys.h"
#include "common/state.h"
#include "common/tls.h"
#include "common/users.h"
#include "common/util.h"
#include "edge-user.h"
#include "common/web.h"

static const char usage[] =
"usage: zt edge init DIR --name NAME [--name NAME ...] [--listen ADDR] [--days N]\n"
"       zt edge serve [-c FILE] [--log-format=text|json] [--log-level=LEVEL]\n"
"       zt edge check [-c FILE]\n"
"       zt edge ready --metrics ADDR\n"
"       zt edge rotate-keys [-c FILE]\n"
"       zt edge keys [-c FILE]\n"
"       zt edge user add|list|del|passwd|groups|totp ... (zt edge user --help)\n"
"\n"
"The edge is the one public endpoint of a zt network: connectors (zt tunnel run) and\n"
"clients (zt access) dial it over TLS 1.3, it authenticates them, applies each app's\n"
"policy and joins client streams to connector streams.\n"
"\n"
"  init DIR     create a private CA, the edge's certificate for the --name(s), a state\n"
"               directory and a starter DIR/edge.ini; prints the CA's pin\n"
"  serve        run the edge (SIGHUP reloads edge.ini and the state directory)\n"
"  check        validate edge.ini and print the effective configuration\n"
"  ready        exit 0 when the edge serving --metrics ADDR is ready (for probes)\n"
"  rotate-keys  make a new token signing key; the previous one stays published 24 h\n"
"  keys         list the token signing keys (kid, created, retired, expires, current)\n"
"  user         the people who sign in on the edge (doc/identity.md)\n"
"\n"
"  -c, --config FILE   edge.ini (default /etc/zt/edge.ini, or $ZT_EDGE_CONFIG)\n"
"  --metrics ADDR      serve /metrics, /ready and /healthz on ADDR (PORT means\n"
"                      127.0.0.1:PORT; doc/metrics.md)\n";

#define EDGE_ALPN		"zt/1"
#define EDGE_ALPN_HTTP		"http/1.1"	/* and no ALPN: the web side */
#define EDGE_REFRESH_MS		250	/* the state directory is re-read this often */
#define EDGE_DRAIN_MS		10000	/* SIGTERM: sessions get this long to finish */
#define EDGE_BACKLOG		512
#define EDGE_APPTOKEN_REUSE	60	/* s: a cached one is reused while it has more left */
#define EDGE_APPTOKEN_CACHE	8	/* apps per session with a cached token */

enum peer_state {
	PEER_HELLO = 0,		/* TLS handshake and HELLO pending */
	PEER_CLIENT,
	PEER_CONNECTOR,
};

struct edge;

/* An app token signed for one session and app, reused while it has time left. */
struct apptoken {
	char		 app[MUX_MAX_HOSTNAME + 1];
	char		 token[JWT_MAX + 1];
	int64_t		 exp;
};

/* One TLS connection: a client or a connector. */
struct peer {
	TAILQ_ENTRY(peer) entry;
	struct edge	*e;
	struct mux_session *s;
	enum peer_state	 state;
	char		 addr[64];
	struct sockaddr_storage ss;
	struct state_auth auth;		/* what admitted it */
	char		 tunnel[STATE_NAME_MAX + 1];	/* connector: its tunnel */
	char		 connector_id[33];
	char		 session_id[33];
	size_t		 streams;	/* streams in progress on our side */
	time_t		 idle_since;	/* a client with no stream: since when */
	bool		 hello;		/* its HELLO came: the decision is audited */
	/* a person (HELLO USER_TOKEN): the login token, rechecked as DIR changes */
	bool		 person;
	char		*login;		/* the login token (wiped when freed) */
	struct jwt_claims *claims;	/* its claims when it was verified */
	struct apptoken	*apptok;	/* EDGE_APPTOKEN_CACHE entries, or NULL */
	size_t		 napptok;
};

/* A TLS connection whose handshake is in progress: its ALPN decides mux or web. */
struct handshake {
	TAILQ_ENTRY(handshake) entry;
	struct edge	*e;
	struct bufferevent *bev;
	struct sockaddr_storage ss;
	socklen_t	 sslen;
};

/* A client stream on its way to a connector, then joined to it. */
struct join {
	struct edge	*e;
	struct mux_stream *client, *origin;
	struct peer	*cpeer, *opeer;
	char		 app[MUX_MAX_HOSTNAME + 1];
	bool		 spliced;
};

struct edge {
	struct event_base *base;
	char		*config_path;
	struct edgeconf	*conf;
	struct state	*state;
	struct users	*users;
	struct revoked	*revoked;
	struct jwt_keyset *keys;	/* signing keys (DIR/keys): the current one signs */
	char		*jwks;		/* their public JWKS, as KEYS sends it */
	uint64_t	 keys_stamp;
	time_t		 keys_next;	/* reload then even without a change: an expiry */
	struct jwt_claims scratch;	/* claims of the token being signed */
	struct tls_ctx	*tls;
	struct ev_listener **listeners;
	size_t		 nlisteners;
	FILE		*audit;
	struct ev_signals *sig;
	struct ev_timer	*refresh;
	struct ev_timer	*drain;
	TAILQ_HEAD(, peer) peers;
	size_t		 npeers;
	/* the web side (doc/identity.md) */
	TAILQ_HEAD(, handshake) handshakes;
	struct web	*web;
	size_t		 nstreams;	/* client streams in progress */
	bool		 stopping;
	/* operations (doc/metrics.md) */
	struct health	*health;
	struct mux_counters bytes[2];	/* by role: connector, client */
	struct metrics_family *m_conns, *m_conns_total, *m_auth, *m_open, *m_streams;
	struct metrics_family *m_rx, *m_tx, *m_apps;
};

static void peer_closed(struct mux_session *, uint16_t, const char *, void *);

/* --- audit log ------------------------------------------------------------------------ */

/* Appends key and a JSON string value to buf. */
static void
audit_field(char *buf, size_t len, size_t *pos, const char *key, const char *value)
{
	if (value == NULL || *value == '\0' || *pos + strlen(key) + 6 >= len)
		return;
	*pos += (size_t)snprintf(buf + *pos, len - *pos, ",\"%s\":\"", key);
	if (!log_json_escape(buf, len - 3, pos, value))
		return;
	buf[(*pos)++] = '"';
	buf[*pos] = '\0';
}

/* Writes one decision as a JSON line to the audit log (never a secret: ids and names only). */
static void
audit(struct edge *e, const char *event, bool allow, const struct peer *p, const char *app,
    const char *identity, const char *reason, uint16_t code)
{
	char buf[2048], ts[40];
	struct timespec now;
	struct tm tm;
	size_t pos;

	metrics_add(e->m_auth, 1, event, allow ? "allow" : "deny");
	if (e->audit == NULL)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	pos = (size_t)snprintf(buf, sizeof(buf),
	    "{\"time\":\"%s.%03ldZ\",\"event\":\"%s\",\"decision\":\"%s\"", ts,
	    now.tv_nsec / 1000000, event, allow ? "allow" : "deny");
	audit_field(buf, sizeof(buf), &pos, "app", app);
	audit_field(buf, sizeof(buf), &pos, "identity", identity);
	if (p != NULL) {
		audit_field(buf, sizeof(buf), &pos, "role", p->state == PEER_CONNECTOR ?
		    "connector" : p->state == PEER_CLIENT ? "client" : NULL);
		audit_field(buf, sizeof(buf), &pos, "id", p->auth.id);
		if (p->person && p->claims != NULL) {
			audit_field(buf, sizeof(buf), &pos, "email", p->claims->email);
			audit_field(buf, sizeof(buf), &pos, "login", p->claims->jti);
		} else if (p->state == PEER_CLIENT)
			audit_field(buf, sizeof(buf), &pos, "token", p->auth.name);
		audit_field(buf, sizeof(buf), &pos, "secret_fingerprint", p->auth.fingerprint);
		audit_field(buf, sizeof(buf), &pos, "tunnel", p->tunnel);
		audit_field(buf, sizeof(buf), &pos, "from", p->addr);
		audit_field(buf, sizeof(buf), &pos, "session", p->session_id);
	}
	audit_field(buf, sizeof(buf), &pos, "reason", reason);
	if (code != MUX_OK)
		audit_field(buf, sizeof(buf), &pos, "code", mux_code_name(code));
	if (pos + 3 < sizeof(buf)) {
		buf[pos++] = '}';
		buf[pos++] = '\n';
		buf[pos] = '\0';
	}
	fputs(buf, e->audit);
	fflush(e->audit);
}

static const char *
peer_identity(const struct peer *p, char *buf, size_t len)
{
	if (p->person && p->claims != NULL)
		snprintf(buf, len, "email:%.240s", p->claims->email);
	else if (p->state == PEER_CONNECTOR || p->tunnel[0] != '\0')
		snprintf(buf, len, "tunnel:%s", p->tunnel);
	else if (p->auth.name[0] != '\0')
		snprintf(buf, len, "token:%s", p->auth.name);
	else
		snprintf(buf, len, "token id %s", p->auth.id[0] != '\0' ? p->auth.id : "(none)");
	return buf;
}

/* --- peers ---------------------------------------------------------------------------- */

static void
peer_free(struct peer *p)
{
	struct edge *e = p->e;

	TAILQ_REMOVE(&e->peers, p, entry);
	e->npeers--;
	mux_session_free(p->s);
	util_cleanse(&p->auth, sizeof(p->auth));
	if (p->login != NULL) {
		util_cleanse(p->login, strlen(p->login));
		free(p->login);
	}
	free(p->claims);
	free(p->apptok);
	free(p);
	if (e->stopping && e->npeers == 0)
		event_base_loopbreak(e->base);
}

/* The live connection of tunnel with the fewest streams (spreads new streams), or NULL. */
static struct peer *
pick_connector(struct edge *e, const char *tunnel)
{
	struct peer *p, *best = NULL;

	TAILQ_FOREACH(p, &e->peers, entry) {
		if (p->state != PEER_CONNECTOR || strcmp(p->tunnel, tunnel) != 0 ||
		    !mux_session_established(p->s) || mux_session_draining(p->s))
			continue;
		if (best == NULL || mux_session_nstreams(p->s) < mux_session_nstreams(best->s))
			best = p;
	}
	return best;
}

/* Whether a connector of tunnel may announce hostname: an app of that tunnel has this name,
 * or (for a wildcard announcement) matches it. */
static bool
hostname_allowed(const struct edgeconf *c, const char *tunnel, const char *hostname)
{
	if (strncmp(hostname, "*.", 2) == 0) {
		size_t sl = strlen(hostname + 1);
		for (size_t i = 0; i < c->napps; i++) {
			size_t hl = strlen(c->apps[i].hostname);
			if (strcmp(c->apps[i].tunnel, tunnel) == 0 && hl > sl &&
			    strcasecmp(c->apps[i].hostname + hl - sl, hostname + 1) == 0)
				return true;
		}
		return false;
	}
	const struct edgeconf_app *a = edgeconf_app(c, hostname);
	return a != NULL && strcmp(a->tunnel, tunnel) == 0;
}

static uint16_t
verdict_code(enum state_verdict v)
{
	switch (v) {
	case STATE_EXPIRED:	return MUX_AUTH_EXPIRED;
	case STATE_REVOKED:	return MUX_AUTH_REVOKED;
	default:		return MUX_AUTH_FAILED;
	}
}

/* What a refused client is told: unknown ids and wrong secrets are one refusal. */
static const char *
verdict_reason(enum state_verdict v, bool tunnel)
{
	switch (v) {
	case STATE_EXPIRED:	return "the service token has expired";
	case STATE_REVOKED:	return "the service token was revoked";
	default:		return tunnel ? "unknown tunnel or wrong secret" :
				    "unknown service token or wrong secret";
	}
}

/* The limits of a session: max_streams is the role's, once HELLO has told it. */
static void
peer_limits(const struct edge *e, struct mux_limits *lim, uint32_t max_streams)
{
	memset(lim, 0, sizeof(*lim));
	lim->max_streams = max_streams;
	lim->keepalive_ms = e->conf->keepalive_ms;
	lim->hello_timeout_ms = e->conf->handshake_timeout_ms;
}

/* Checks a login token (HELLO USER_TOKEN) now: signed by one of our keys for us (aud = iss =
 * the issuer), not expired, a person's, not revoked, the user still there. Returns MUX_OK or
 * the refusal code, with what the client is told in reason and the detail for the audit log
 * in detail. c gets the claims (meaningful when the signature held: c->email set). */
static uint16_t
login_check(struct edge *e, const char *token, time_t now, struct jwt_claims *c, char *reason,
    size_t rlen, char *detail, size_t dlen)
{
	char err[JWT_ERR_MAX];
	const char *iss = e->conf->issuer;

	memset(c, 0, sizeof(*c));
	if (jwt_verify(e->keys, token, iss, iss, (int64_t)now, c, err, sizeof(err)) == -1) {
		bool expired = strncmp(err, "token expired", 13) == 0;

		memset(c, 0, sizeof(*c));
		snprintf(detail, dlen, "login token: %s", err);
		snprintf(reason, rlen, "%s (%.120s): run zt login %s", expired ?
		    "the login has expired" : "the login token is not valid", err, iss);
		return expired ? MUX_AUTH_EXPIRED : MUX_AUTH_FAILED;
	}
	if (strcmp(c->type, "user") != 0 || c->email[0] == '\0') {
		memset(c, 0, sizeof(*c));
		snprintf(detail, dlen, "login token: not a person's (type %s)", c->type);
		snprintf(reason, rlen, "not a login token: run zt login %s", iss);
		return MUX_AUTH_FAILED;
	}
	if (revoked_has(e->revoked, c->jti)) {
		snprintf(detail, dlen, "login %s was revoked", c->jti);
		snprintf(reason, rlen, "this login was revoked (zt logout): run zt login %s", iss);
		return MUX_AUTH_REVOKED;
	}
	if (!users_get(e->users, c->email, NULL)) {
		snprintf(detail, dlen, "user %.200s does not exist (any more)", c->email);
		snprintf(reason, rlen, "the user %.200s does not exist on this edge (any more)",
		    c->email);
		return MUX_AUTH_REVOKED;
	}
	snprintf(detail, dlen, "login token verified (login %s)", c->jti);
	return MUX_OK;
}

/* Forgets every cached app token (the keys or the people's groups changed). */
static void
apptokens_drop(struct edge *e)
{
	struct peer *p;

	TAILQ_FOREACH(p, &e->peers, entry)
		p->napptok = 0;
}

/* The app token for a stream of p to app (doc/identity.md): aud the app's hostname, 5 minutes,
 * the person (with u's current groups) or the service token. One is signed per session and
 * app and reused while it has more than a minute left: an ECDSA signature per stream costs.
 * NULL after logging when it cannot be signed. */
static const char *
app_token(struct edge *e, struct peer *p, const char *app, const struct user_info *u)
{
	struct jwt_claims *c = &e->scratch;
	struct apptoken *t = NULL;
	int64_t now = (int64_t)time(NULL);

	for (size_t i = 0; i < p->napptok; i++)
		if (strcmp(p->apptok[i].app, app) == 0) {
			if (p->apptok[i].exp - now > EDGE_APPTOKEN_REUSE)
				return p->apptok[i].token;
			t = &p->apptok[i];
			break;
		}
	if (t == NULL) {
		if (p->apptok == NULL)
			p->apptok = xcalloc(EDGE_APPTOKEN_CACHE, sizeof(*p->apptok));
		if (p->napptok < EDGE_APPTOKEN_CACHE)
			t = &p->apptok[p->napptok++];
		else {
			t = &p->apptok[0];
			for (size_t i = 1; i < p->napptok; i++)
				if (p->apptok[i].exp < t->exp)
					t = &p->apptok[i];
		}
	}
	memset(c, 0, sizeof(*c));
	util_strlcpy(c->iss, e->conf->issuer, sizeof(c->iss));
	util_strlcpy(c->aud, app, sizeof(c->aud));
	if (p->person) {
		util_strlcpy(c->type, "user", sizeof(c->type));
		util_strlcpy(c->sub, u->email, sizeof(c->sub));
		util_strlcpy(c->email, u->email, sizeof(c->email));
		for (size_t i = 0; i < u->ngroups && i < JWT_MAX_GROUPS; i++)
			util_strlcpy(c->groups[c->ngroups++], u->groups[i], sizeof(c->groups[0]));
		c->auth_time = p->claims->auth_time;
	} else {
		util_strlcpy(c->type, "service", sizeof(c->type));
		util_strlcpy(c->sub, p->auth.id, sizeof(c->sub));
		util_strlcpy(c->name, p->auth.name, sizeof(c->name));
	}
	c->iat = c->nbf = now;
	c->exp = now + EDGE_APPTOKEN_LIFE;
	jwt_random_id(c->jti);
	t->app[0] = '\0';
	if (jwt_sign(e->keys, c, t->token, sizeof(t->token)) == -1) {
		log_errorx("cannot sign an app token for %s", app);
		return NULL;
	}
	util_strlcpy(t->app, app, sizeof(t->app));
	t->exp = c->exp;
	return t->token;
}

/* HELLO: authenticates the peer and, for a connector, checks what it announces. */
static void
peer_hello(struct mux_session *s, const struct mux_hello *h, void *arg)
{
	struct peer *p = arg;
	struct edge *e = p->e;
	char alpn[32], idhex[STATE_ID_MAX + 1], secret[STATE_SECRET_HEX_LEN + 1], who[128];
	struct mux_welcome w;
	struct mux_limits lim;
	enum state_verdict v;
	time_t now = time(NULL);

	p->hello = true;
	tls_bufferevent_alpn(mux_session_bev(s), alpn, sizeof(alpn));
	if (strcmp(alpn, EDGE_ALPN) != 0) {
		audit(e, "session", false, p, NULL, NULL, "the client did not negotiate ALPN zt/1",
		    MUX_PROTOCOL_ERROR);
		mux_close(s, MUX_PROTOCOL_ERROR, "negotiate ALPN zt/1");
		return;
	}
	memset(&w, 0, sizeof(w));
	util_random_bytes(w.session_id, sizeof(w.session_id));
	util_hex_encode(w.session_id, sizeof(w.session_id), p->session_id, sizeof(p->session_id));
	w.keepalive_ms = e->conf->keepalive_ms;
	w.initial_window = MUX_INITIAL_WINDOW;
	util_strlcpy(w.edge_name, e->conf->name, sizeof(w.edge_name));

	if (h->role == MUX_ROLE_CONNECTOR) {
		if (!h->has_tunnel_id || !h->has_tunnel_secret) {
			audit(e, "session", false, p, NULL, NULL, "no tunnel id or secret",
			    MUX_AUTH_FAILED);
			mux_close(s, MUX_AUTH_FAILED, "a connector must send its tunnel id and secret");
			return;
		}
		util_hex_encode(h->tunnel_id, sizeof(h->tunnel_id), idhex, sizeof(idhex));
		util_hex_encode(h->tunnel_secret, sizeof(h->tunnel_secret), secret, sizeof(secret));
		v = state_tunnel_verify(e->state, idhex, secret, now, &p->auth);
		util_cleanse(secret, sizeof(secret));
		if (v != STATE_OK) {
			audit(e, "session", false, p, NULL, peer_identity(p, who, sizeof(who)),
			    state_verdict_str(v), MUX_AUTH_FAILED);
			mux_close(s, MUX_AUTH_FAILED, verdict_reason(v, true));
			return;
		}
		util_strlcpy(p->tunnel, p->auth.name, sizeof(p->tunnel));
		if (h->has_connector_id)
			util_hex_encode(h->connector_id, sizeof(h->connector_id), p->connector_id,
			    sizeof(p->connector_id));
		for (size_t i = 0; i < h->nhostnames; i++) {
			if (!hostname_allowed(e->conf, p->tunnel, h->hostnames[i])) {
				char reason[MUX_MAX_REASON];

				snprintf(reason, sizeof(reason), "tunnel %s may not serve %s: no app "
				    "of edge.ini names this tunnel for it", p->tunnel, h->hostnames[i]);
				audit(e, "session", false, p, h->hostnames[i],
				    peer_identity(p, who, sizeof(who)), reason,
				    MUX_HOSTNAME_NOT_ALLOWED);
				mux_close(s, MUX_HOSTNAME_NOT_ALLOWED, reason);
				return;
			}
		}
		w.max_streams = e->conf->max_streams_connector;
		p->state = PEER_CONNECTOR;
		mux_session_set_counters(s, &e->bytes[0]);
		audit(e, "session", true, p, NULL, peer_identity(p, who, sizeof(who)),
		    "tunnel secret verified", MUX_OK);
		log_info("tunnel %s: connection from %s registered (connector %s)", p->tunnel,
		    p->addr, p->connector_id[0] != '\0' ? p->connector_id : "?");
	} else if (h->role == MUX_ROLE_CLIENT && h->user_token[0] != '\0') {
		char reason[MUX_MAX_REASON], detail[JWT_ERR_MAX + 64];
		uint16_t code;

		p->claims = xcalloc(1, sizeof(*p->claims));
		code = login_check(e, h->user_token, now, p->claims, reason, sizeof(reason), detail,
		    sizeof(detail));
		if (code != MUX_OK) {
			char id[JWT_EMAIL_MAX + 8];

			snprintf(id, sizeof(id), "email:%s", p->claims->email);
			audit(e, "session", false, p, NULL, p->claims->email[0] != '\0' ? id : NULL,
			    detail, code);
			mux_close(s, code, reason);
			return;
		}
		p->person = true;
		p->login = xstrdup(h->user_token);
		/* At expiry (with the verifier's leeway) the session is cut. */
		p->auth.deadline = (time_t)(p->claims->exp + JWT_LEEWAY + 1);
		w.max_streams = e->conf->max_streams_client;
		p->state = PEER_CLIENT;
		mux_session_set_counters(s, &e->bytes[1]);
		audit(e, "session", true, p, NULL, peer_identity(p, who, sizeof(who)), detail,
		    MUX_OK);
	} else if (h->role == MUX_ROLE_CLIENT) {
		if (h->token_id[0] == '\0' || !h->has_token_secret) {
			audit(e, "session", false, p, NULL, NULL, "no service token",
			    MUX_AUTH_FAILED);
			mux_close(s, MUX_AUTH_FAILED,
			    "a client must send a service token id and secret, or a login token");
			return;
		}
		util_hex_encode(h->token_secret, sizeof(h->token_secret), secret, sizeof(secret));
		v = state_token_verify(e->state, h->token_id, secret, now, &p->auth);
		util_cleanse(secret, sizeof(secret));
		if (v != STATE_OK) {
			audit(e, "session", false, p, NULL, peer_identity(p, who, sizeof(who)),
			    state_verdict_str(v), verdict_code(v));
			mux_close(s, verdict_code(v), verdict_reason(v, false));
			return;
		}
		w.max_streams = e->conf->max_streams_client;
		p->state = PEER_CLIENT;
		mux_session_set_counters(s, &e->bytes[1]);
		audit(e, "session", true, p, NULL, peer_identity(p, who, sizeof(who)),
		    p->auth.previous ? "service token verified (previous secret, in its grace)" :
		    "service token verified", MUX_OK);
	} else {
		audit(e, "session", false, p, NULL, NULL, "unknown role", MUX_PROTOCOL_ERROR);
		mux_close(s, MUX_PROTOCOL_ERROR, "unknown role");
		return;
	}
	/* WELCOME carries the role's stream limit: a client learns it may open 1024 streams at
	 * a time (max_streams_client), not the connectors' 65536. */
	peer_limits(e, &lim, w.max_streams);
	p->idle_since = now;
	if (mux_session_set_limits(s, &lim) == -1 || mux_welcome(s, &w) == -1)
		mux_close(s, MUX_INTERNAL, "cannot send WELCOME");
	else if (p->state == PEER_CONNECTOR && e->jwks != NULL &&
	    mux_send_keys(s, e->jwks, strlen(e->jwks)) == -1)
		mux_close(s, MUX_INTERNAL, "cannot send KEYS");
}

/* Formats a number of seconds as "1d2h", "1h30m", "10m" or "42s" (zero parts left out). */
static void
format_age(int64_t s, char *buf, size_t len)
{
	static const struct { int64_t n; char unit; } units[] = {
		{ 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' },
	};
	size_t pos = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < nitems(units) && pos + 24 < len; i++)
		if (s >= units[i].n) {
			pos += (size_t)snprintf(buf + pos, len - pos, "%lld%c",
			    (long long)(s / units[i].n), units[i].unit);
			s %= units[i].n;
		}
	if (pos == 0)
		util_strlcpy(buf, "0s", len);
}

/* Decides whether client peer p may reach hostname: the app, its policy (a person with the
 * groups DIR/users gives now, filled into u), the app's session_duration. Returns MUX_OK or
 * the refusal code, with the reason in reason (for the audit log and the client). */
static uint16_t
decide(struct edge *e, struct peer *p, const char *hostname, const struct edgeconf_app **appp,
    struct user_info *u, char *reason, size_t len)
{
	const struct edgeconf_app *app = edgeconf_app(e->conf, hostname);
	const char *groups[USERS_GROUPS_MAX];
	struct policy_identity id;
	int64_t now = (int64_t)time(NULL), since;
	char age[32], limit[32];

	*appp = app;
	if (app == NULL) {
		snprintf(reason, len, "no app is named %s on this edge", hostname);
		return MUX_NO_SUCH_APP;
	}
	memset(&id, 0, sizeof(id));
	id.addr = (const struct sockaddr *)&p->ss;
	if (p->person) {
		if (!users_get(e->users, p->claims->email, u)) {
			snprintf(reason, len, "the user %.200s does not exist on this edge (any more)",
			    p->claims->email);
			return MUX_AUTH_REVOKED;
		}
		id.kind = POLICY_WHO_PERSON;
		id.email = u->email;
		for (size_t i = 0; i < u->ngroups; i++)
			groups[i] = u->groups[i];
		id.groups = groups;
		id.ngroups = u->ngroups;
	} else {
		id.kind = POLICY_WHO_TOKEN;
		id.token_name = p->auth.name;
		id.token_id = p->auth.id;
	}
	if (policy_eval(app->policy, &id, reason, len) != POLICY_ALLOW)
		return MUX_NOT_ALLOWED;
	if (p->person) {
		/* App session lifetimes count from the sign-in on the login page. */
		since = p->claims->auth_time != 0 ? p->claims->auth_time : p->claims->iat;
		if (now - since > (int64_t)app->session_duration_s) {
			format_age(now - since, age, sizeof(age));
			format_age(app->session_duration_s, limit, sizeof(limit));
			snprintf(reason, len, "signed in %s ago; app %s asks for a sign-in within "
			    "%s: sign in again: zt login %s", age, app->hostname, limit,
			    e->conf->issuer);
			return MUX_AUTH_EXPIRED;
		}
	}
	return MUX_OK;
}

/* What a refused client is told: the audit log has which rule decided, the client only that
 * the policy said no (the rules are the operator's business). */
static const char *
client_reason(uint16_t code, const char *reason)
{
	return code == MUX_NOT_ALLOWED ? "not allowed by the app's policy" : reason;
}

static void
peer_check(struct mux_session *s, uint32_t id, const char *hostname, void *arg)
{
	struct peer *p = arg;
	const struct edgeconf_app *app;
	char reason[POLICY_REASON_MAX], who[MUX_MAX_IDENTITY + 1];
	struct user_info u;
	uint16_t code;

	if (p->state != PEER_CLIENT) {
		mux_check_reply(s, id, MUX_PROTOCOL_ERROR, "only clients may ask");
		return;
	}
	code = decide(p->e, p, hostname, &app, &u, reason, sizeof(reason));
	audit(p->e, "check", code == MUX_OK, p, hostname, peer_identity(p, who, sizeof(who)),
	    reason, code);
	mux_check_reply(s, id, code, client_reason(code, reason));
}

/* A client stream ended or was refused with code. */
static void
count_stream(struct edge *e, uint16_t code)
{
	char label[32];

	metrics_add(e->m_streams, 1, health_result(code, label, sizeof(label)));
}

static void
join_free(struct join *j)
{
	if (j->cpeer != NULL && --j->cpeer->streams == 0)
		j->cpeer->idle_since = time(NULL);
	j->e->nstreams--;
	free(j);
}

static void
join_done(void *arg, uint16_t code, const char *reason)
{
	struct join *j = arg;

	count_stream(j->e, code);
	log_debug("edge: stream for %s ended: %s%s%s", j->app, mux_code_name(code),
	    reason != NULL && *reason != '\0' ? ": " : "", reason != NULL ? reason : "");
	join_free(j);
}

/* The connector accepted: accept the client's stream and join the two. */
static void
origin_opened(struct mux_stream *st, void *arg)
{
	struct join *j = arg;

	if (mux_stream_accept(j->client) == -1 ||
	    mux_splice_streams(j->client, j->origin, join_done, j) == -1) {
		mux_stream_reset(j->origin, MUX_INTERNAL, "cannot join the streams");
		return;
	}
	j->spliced = true;
}

/* The connector refused (or its session went) before accepting: tell the client why. */
static void
origin_closed(struct mux_stream *st, uint16_t code, const char *reason, void *arg)
{
	struct join *j = arg;

	if (j->spliced)
		return;	/* the splice owns both streams now */
	j->origin = NULL;
	count_stream(j->e, code == MUX_OK ? MUX_CANCEL : code);
	if (j->client != NULL) {
		mux_stream_set_cbs(j->client, NULL, NULL);
		mux_stream_reset(j->client, code == MUX_OK ? MUX_CANCEL : code,
		    reason != NULL ? reason : "");
	}
	join_free(j);
}

/* The client gave up before the connector answered. */
static void
client_closed(struct mux_stream *st, uint16_t code, const char *reason, void *arg)
{
	struct join *j = arg;

	if (j->spliced)
		return;
	j->client = NULL;
	count_stream(j->e, code == MUX_OK ? MUX_CANCEL : code);
	if (j->origin != NULL) {
		struct mux_stream *o = j->origin;
		j->origin = NULL;
		mux_stream_set_cbs(o, NULL, NULL);
		mux_stream_reset(o, MUX_CANCEL, "the client went away");
	}
	join_free(j);
}

static const struct mux_stream_cbs origin_cbs = {
	.opened = origin_opened,
	.closed = origin_closed,
};

static const struct mux_stream_cbs client_wait_cbs = {
	.closed = client_closed,
};

/* A client opened a stream: decide, pick a connection of the app's tunnel, open there. */
static void
peer_open(struct mux_session *s, struct mux_stream *st, const char *hostname,
    const struct mux_meta *meta, void *arg)
{
	struct peer *p = arg, *cp;
	struct edge *e = p->e;
	const struct edgeconf_app *app;
	char reason[POLICY_REASON_MAX], who[MUX_MAX_IDENTITY + 1];
	static struct mux_meta m;
	struct user_info u;
	const char *token;
	struct join *j;
	uint16_t code;

	if (p->state != PEER_CLIENT) {
		mux_stream_reset(st, MUX_REFUSED_STREAM, "connectors do not open streams");
		return;
	}
	if (p->streams >= e->conf->max_streams_client) {
		mux_stream_reset(st, MUX_REFUSED_STREAM, "too many streams on this session");
		count_stream(e, MUX_REFUSED_STREAM);
		return;
	}
	peer_identity(p, who, sizeof(who));
	if ((code = decide(e, p, hostname, &app, &u, reason, sizeof(reason))) != MUX_OK) {
		audit(e, "stream", false, p, hostname, who, reason, code);
		mux_stream_reset(st, code, client_reason(code, reason));
		count_stream(e, code);
		return;
	}
	if ((cp = pick_connector(e, app->tunnel)) == NULL) {
		snprintf(reason, sizeof(reason), "app %s: tunnel %s has no live connection",
		    app->hostname, app->tunnel);
		audit(e, "stream", false, p, hostname, who, reason, MUX_TUNNEL_DOWN);
		mux_stream_reset(st, MUX_TUNNEL_DOWN, reason);
		count_stream(e, MUX_TUNNEL_DOWN);
		return;
	}
	if ((token = app_token(e, p, app->hostname, &u)) == NULL) {
		audit(e, "stream", false, p, hostname, who, "cannot sign the app token",
		    MUX_INTERNAL);
		mux_stream_reset(st, MUX_INTERNAL, "the edge cannot sign an app token");
		count_stream(e, MUX_INTERNAL);
		return;
	}
	audit(e, "stream", true, p, hostname, who, reason, MUX_OK);
	j = xcalloc(1, sizeof(*j));
	j->e = e;
	j->client = st;
	j->cpeer = p;
	j->opeer = cp;
	util_strlcpy(j->app, app->hostname, sizeof(j->app));
	p->streams++;
	e->nstreams++;
	memset(&m, 0, sizeof(m));
	util_strlcpy(m.identity, who, sizeof(m.identity));
	util_strlcpy(m.client_addr, p->addr, sizeof(m.client_addr));
	util_strlcpy(m.token, token, sizeof(m.token));
	mux_stream_set_cbs(st, &client_wait_cbs, j);
	if ((j->origin = mux_stream_open(cp->s, app->hostname, &m, &origin_cbs, j)) == NULL) {
		snprintf(reason, sizeof(reason), "app %s: tunnel %s cannot take a stream now",
		    app->hostname, app->tunnel);
		mux_stream_set_cbs(st, NULL, NULL);
		mux_stream_reset(st, MUX_TUNNEL_DOWN, reason);
		count_stream(e, MUX_TUNNEL_DOWN);
		join_free(j);
	}
}

static void
peer_goaway(struct mux_session *s, uint16_t code, const char *reason, void *arg)
{
	struct peer *p = arg;

	if (p->state == PEER_CONNECTOR)
		log_info("tunnel %s: connection from %s is draining (%s)", p->tunnel, p->addr,
		    reason);
}

static void
peer_closed(struct mux_session *s, uint16_t code, const char *reason, void *arg)
{
	struct peer *p = arg;

	if (p->state == PEER_CONNECTOR)
		log_info("tunnel %s: connection from %s closed: %s%s%s", p->tunnel, p->addr,
		    mux_code_name(code), reason != NULL && *reason != '\0' ? ": " : "",
		    reason != NULL ? reason : "");
	else if (p->state == PEER_HELLO) {
		char why[MUX_MAX_REASON + 64];

		snprintf(why, sizeof(why), "closed before it authenticated: %s%s%s",
		    mux_code_name(code), reason != NULL && *reason != '\0' ? ": " : "",
		    reason != NULL ? reason : "");
		log_info("connection from %s %s", p->addr, why);
		/* Refusals after HELLO are audited where they are decided; these are the
		 * connections that never got that far (not TLS, no HELLO in time, bad frames). */
		if (!p->hello)
			audit(p->e, "session", false, p, NULL, NULL, why,
			    code == MUX_OK ? MUX_CANCEL : code);
	} else
		log_debug("client session from %s closed: %s", p->addr, mux_code_name(code));
	peer_free(p);
}

static const struct mux_session_cbs peer_cbs = {
	.hello = peer_hello,
	.open = peer_open,
	.check = peer_check,
	.goaway = peer_goaway,
	.closed = peer_closed,
};

/* A mux session for a TLS connection that negotiated zt/1. */
static void
peer_start(struct edge *e, struct bufferevent *bev, const struct sockaddr_storage *ss,
    socklen_t sslen)
{
	struct mux_limits lim;
	struct peer *p;

	p = xcalloc(1, sizeof(*p));
	p->e = e;
	memcpy(&p->ss, ss, sslen < sizeof(p->ss) ? sslen : sizeof(p->ss));
	util_sockaddr_str((const struct sockaddr *)ss, p->addr, sizeof(p->addr));
	peer_limits(e, &lim, e->conf->max_streams_client);
	if ((p->s = mux_session_new(e->base, bev, true, &lim, &peer_cbs, p)) == NULL) {
		free(p);
		return;
	}
	TAILQ_INSERT_TAIL(&e->peers, p, entry);
	e->npeers++;
	/* A HELLO that came with the handshake is read now, not at the next read event. */
	if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		bufferevent_trigger(bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS);
}

static void
handshake_free(struct handshake *hs, bool free_bev)
{
	TAILQ_REMOVE(&hs->e->handshakes, hs, entry);
	if (free_bev)
		bufferevent_free(hs->bev);
	free(hs);
}

/* The handshake is over: zt/1 goes to the mux, http/1.1 or no ALPN to the web side. */
static void
handshake_event(struct bufferevent *bev, short what, void *arg)
{
	struct handshake *hs = arg;
	struct edge *e = hs->e;
	struct peer fake;
	char alpn[32], why[MUX_MAX_REASON + 64], err[200];

	if ((what & BEV_EVENT_CONNECTED) != 0) {
		bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
		bufferevent_set_timeouts(bev, NULL, NULL);
		tls_bufferevent_alpn(bev, alpn, sizeof(alpn));
		if (strcmp(alpn, EDGE_ALPN) == 0)
			peer_start(e, bev, &hs->ss, hs->sslen);
		else if (web_serve(e->web, bev, (struct sockaddr *)&hs->ss, hs->sslen) == -1)
			log_info("web: %d connections already: closing one from %s",
			    WEB_MAX_CONNS, util_sockaddr_str((struct sockaddr *)&hs->ss, err,
			    sizeof(err)));
		handshake_free(hs, false);
		return;
	}
	memset(&fake, 0, sizeof(fake));
	util_sockaddr_str((struct sockaddr *)&hs->ss, fake.addr, sizeof(fake.addr));
	if ((what & BEV_EVENT_TIMEOUT) != 0)
		snprintf(why, sizeof(why), "closed before it authenticated: TIMEOUT: no TLS "
		    "handshake within %u ms", e->conf->handshake_timeout_ms);
	else {
		tls_bufferevent_error(bev, err, sizeof(err));
		snprintf(why, sizeof(why), "closed before it authenticated: PROTOCOL_ERROR: TLS "
		    "handshake failed%s%s", err[0] != '\0' ? ": " : "", err);
	}
	log_info("connection from %s %s", fake.addr, why);
	audit(e, "session", false, &fake, NULL, NULL, why, (what & BEV_EVENT_TIMEOUT) != 0 ?
	    MUX_TIMEOUT : MUX_PROTOCOL_ERROR);
	handshake_free(hs, true);
}

static void
edge_accept(int fd, const struct sockaddr *sa, socklen_t salen, void *arg)
{
	struct edge *e = arg;
	struct timeval tv = { e->conf->handshake_timeout_ms / 1000,
	    (e->conf->handshake_timeout_ms % 1000) * 1000 };
	struct bufferevent *bev;
	struct handshake *hs;
	int one = 1;

	if (e->stopping) {
		close(fd);
		return;
	}
	/* Frames are relayed as they come: Nagle's wait for an ACK (delayed up to 40 ms by
	 * the peer) would be paid on each hop of every request and reply. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((bev = tls_bufferevent_new(e->base, e->tls, fd, true, NULL)) == NULL)
		return;	/* fd is closed by tls_bufferevent_new */
	hs = xcalloc(1, sizeof(*hs));
	hs->e = e;
	hs->bev = bev;
	memcpy(&hs->ss, sa, salen < sizeof(hs->ss) ? salen : sizeof(hs->ss));
	hs->sslen = salen < sizeof(hs->ss) ? salen : sizeof(hs->ss);
	TAILQ_INSERT_TAIL(&e->handshakes, hs, entry);
	bufferevent_setcb(bev, NULL, NULL, handshake_event, hs);
	bufferevent_set_timeouts(bev, &tv, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	metrics_add(e->m_conns_total, 1);
}

/* The web side's audit lines, in the edge's audit log. */
static void
web_audit(void *arg, const char *event, bool allow, const char *identity, const char *app,
    const char *from, const char *reason)
{
	struct peer fake;
	char who[USERS_EMAIL_MAX + 8] = "";

	memset(&fake, 0, sizeof(fake));
	util_strlcpy(fake.addr, from != NULL ? from : "", sizeof(fake.addr));
	if (identity != NULL && *identity != '\0')
		snprintf(who, sizeof(who), "email:%s", identity);
	audit(arg, event, allow, &fake, app, who, reason, MUX_OK);
}

/* --- state, reload, stop -------------------------------------------------------------- */

/* A person's session after DIR changed or at the login's expiry: the login token again (keys,
 * expiry), its revocation, the user. Closes the session when any fails. */
static void
recheck_person(struct edge *e, struct peer *p, time_t now)
{
	struct jwt_claims *c = xcalloc(1, sizeof(*c));
	char reason[MUX_MAX_REASON], detail[JWT_ERR_MAX + 64], who[128];
	uint16_t code;

	code = login_check(e, p->login, now, c, reason, sizeof(reason), detail, sizeof(detail));
	free(c);
	if (code == MUX_OK)
		return;
	audit(e, "revoke", false, p, NULL, peer_identity(p, who, sizeof(who)), detail, code);
	mux_close(p->s, code, reason);
}

/* Re-checks every admitted session after the state directory changed or a deadline passed:
 * revoked, expired, deleted or rotated-out credentials close their sessions at once. */
static void
recheck_sessions(struct edge *e, bool changed)
{
	struct peer *p, *next;
	time_t now = time(NULL);
	char who[128];

	for (p = TAILQ_FIRST(&e->peers); p != NULL; p = next) {
		enum state_verdict v;
		const char *why;
		uint16_t code;

		next = TAILQ_NEXT(p, entry);
		if (p->state == PEER_HELLO || (!changed && (p->auth.deadline == 0 ||
		    now < p->auth.deadline)))
			continue;
		if (p->person) {
			recheck_person(e, p, now);
			continue;
		}
		v = p->state == PEER_CLIENT ? state_token_recheck(e->state, &p->auth, now) :
		    state_tunnel_recheck(e->state, &p->auth, now);
		if (v == STATE_OK)
			continue;
		/* A rotated-out secret is a wrong secret now; a deleted token or tunnel is as
		 * good as revoked. */
		code = v == STATE_EXPIRED ? MUX_AUTH_EXPIRED : v == STATE_BAD_SECRET &&
		    p->state == PEER_CLIENT ? MUX_AUTH_FAILED : MUX_AUTH_REVOKED;
		if (p->state != PEER_CLIENT)
			why = "the tunnel was deleted or its secret changed";
		else if (v == STATE_BAD_SECRET)
			why = "the service token's secret was rotated: this secret is no longer "
			    "valid (its grace period is over)";
		else if (v == STATE_UNKNOWN)
			why = "the service token was deleted";
		else
			why = verdict_reason(v, false);
		audit(e, "revoke", false, p, NULL, peer_identity(p, who, sizeof(who)),
		    state_verdict_str(v), code);
		mux_close(p->s, code, why);
	}
}

/* Client sessions with no stream for idle_timeout are told to go (GOAWAY IDLE): a sidecar
 * reconnects when it next needs the edge. */
static void
close_idle(struct edge *e)
{
	struct peer *p, *next;
	time_t now = time(NULL);
	uint32_t limit = e->conf->idle_timeout_ms;

	if (limit == 0)
		return;
	for (p = TAILQ_FIRST(&e->peers); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (p->state != PEER_CLIENT || p->streams > 0 || now < p->idle_since ||
		    (uint64_t)(now - p->idle_since) * 1000 < limit)
			continue;
		log_info("client session from %s: no stream for %u s: closing it (IDLE)", p->addr,
		    limit / 1000);
		mux_close(p->s, MUX_IDLE, "no stream for the idle timeout");
	}
}

/* Stopping: sessions whose streams have all ended are closed now (the peers reconnect
 * elsewhere, or to the next edge on this port); the edge exits when the last one is gone. */
static void
close_drained(struct edge *e)
{
	struct peer *p, *next;

	if (!e->stopping)
		return;
	for (p = TAILQ_FIRST(&e->peers); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (mux_session_nstreams(p->s) == 0)
			mux_close(p->s, MUX_SHUTTING_DOWN, "the edge is shutting down");
	}
}

/* (Re)loads the signing keys when DIR/keys changed or one expires; a new published set goes to
 * every connector (KEYS) before its key signs anything. 1 when the keys changed, 0 when not,
 * -1 after logging (the keys in force stay). */
static int
keys_refresh(struct edge *e, time_t now, bool force)
{
	const char *dir = e->conf->state_dir;
	uint64_t stamp = signkeys_stamp(dir);
	struct jwt_keyset *ks;
	char err[JWT_ERR_MAX], *jwks;
	struct peer *p;

	if (!force && e->keys != NULL && stamp == e->keys_stamp &&
	    (e->keys_next == 0 || now < e->keys_next))
		return 0;
	e->keys_stamp = stamp;
	e->keys_next = signkeys_next_change(dir, now);
	if ((ks = signkeys_load(dir, now, err, sizeof(err))) == NULL) {
		log_errorx("token signing keys: %s%s", err, e->keys != NULL ?
		    ": keeping the keys in force" : "");
		return -1;
	}
	if ((jwks = jwt_keyset_to_jwks(ks)) == NULL || strlen(jwks) > MUX_MAX_KEYS) {
		log_errorx("token signing keys: the JWKS of %zu keys does not fit KEYS (%d bytes)",
		    jwt_keyset_count(ks), MUX_MAX_KEYS);
		free(jwks);
		jwt_keyset_free(ks);
		return -1;
	}
	jwt_keyset_free(e->keys);
	e->keys = ks;
	if (e->jwks != NULL && strcmp(e->jwks, jwks) == 0) {
		free(jwks);
		return 1;
	}
	free(e->jwks);
	e->jwks = jwks;
	log_info("token signing keys: %zu published, %s signs", jwt_keyset_count(ks),
	    jwt_keyset_kid(ks, 0));
	TAILQ_FOREACH(p, &e->peers, entry)
		if (p->state == PEER_CONNECTOR && mux_session_established(p->s))
			(void)mux_send_keys(p->s, e->jwks, strlen(e->jwks));
	return 1;
}

static void
refresh_state(void *arg)
{
	struct edge *e = arg;
	time_t now = time(NULL);
	int changed = state_refresh(e->state);
	int users = users_refresh(e->users), revoked = revoked_refresh(e->revoked, now);
	int keys = keys_refresh(e, now, false);

	/* Cached app tokens carry groups and a key: new ones are signed after a change. */
	if (users == 1 || keys == 1)
		apptokens_drop(e);
	/* The web side reads the same users, revocations, keys and (after a reload) edge.ini. */
	web_update(e->web, e->conf, e->users, e->revoked, e->keys);
	recheck_sessions(e, changed == 1 || users == 1 || revoked == 1 || keys == 1);
	close_idle(e);
	close_drained(e);
}

/* Whether two lists of listen addresses differ. */
static bool
listens_differ(const struct edgeconf *a, const struct edgeconf *b)
{
	if (a->nlistens != b->nlistens)
		return true;
	for (size_t i = 0; i < a->nlistens; i++)
		if (strcmp(a->listens[i], b->listens[i]) != 0)
			return true;
	return false;
}

#define SWAP(a, b) do { __typeof__(a) tmp_ = (a); (a) = (b); (b) = tmp_; } while (0)

/* Opens the audit log (append, 0600): "-" is standard output. NULL after logging. */
static FILE *
audit_open(const char *path)
{
	FILE *f;
	int fd;

	if (strcmp(path, "-") == 0)
		return stdout;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd == -1 || (f = fdopen(fd, "a")) == NULL) {
		log_error("cannot open the audit log \"%s\"", path);
		if (fd != -1)
			close(fd);
		return NULL;
	}
	return f;
}

/* SIGHUP: the audit log is opened again (after logrotate moved it), edge.ini and the state
 * directory are read again. What only a restart changes keeps its old value, with a warning
 * naming each key that changed. */
static void
on_reload(void *arg)
{
	struct edge *e = arg;
	struct edgeconf *c;
	FILE *f;

	health_reloading(e->health);
	log_info("SIGHUP: reading %s and the state directory again", e->config_path);
	if (e->audit != stdout && (f = audit_open(e->conf->audit_log)) != NULL) {
		fclose(e->audit);
		e->audit = f;
	}
	if ((c = edgeconf_load(e->config_path)) == NULL) {
		log_errorx("%s has errors: keeping the configuration in force", e->config_path);
		health_reloaded(e->health, false);
		return;
	}
	if (listens_differ(c, e->conf))
		log_warnx("%s: listen changed: it takes effect at the next start", e->config_path);
	if (strcmp(c->cert_file, e->conf->cert_file) != 0 ||
	    strcmp(c->key_file, e->conf->key_file) != 0)
		log_warnx("%s: cert_file or key_file changed: they take effect at the next start",
		    e->config_path);
	if (strcmp(c->state_dir, e->conf->state_dir) != 0)
		log_warnx("%s: state_dir changed: it takes effect at the next start",
		    e->config_path);
	if (strcmp(c->audit_log, e->conf->audit_log) != 0)
		log_warnx("%s: audit_log changed: it takes effect at the next start",
		    e->config_path);
	/* Existing streams keep going; new streams see the new apps and policies. Listeners,
	 * the certificate, the state directory and the audit log stay until a restart. */
	SWAP(c->listens, e->conf->listens);
	SWAP(c->nlistens, e->conf->nlistens);
	SWAP(c->cert_file, e->conf->cert_file);
	SWAP(c->key_file, e->conf->key_file);
	SWAP(c->state_dir, e->conf->state_dir);
	SWAP(c->audit_log, e->conf->audit_log);
	edgeconf_free(e->conf);
	e->conf = c;
	apptokens_drop(e);	/* they carry the issuer */
	refresh_state(e);
	log_info("configuration reloaded: %zu apps", c->napps);
	health_reloaded(e->health, true);
}

static void
drain_expired(void *arg)
{
	struct edge *e = arg;

	log_info("drain time is over: closing %zu sessions", e->npeers);
	event_base_loopbreak(e->base);
}

static void
on_stop(int signo, int count, void *arg)
{
	struct edge *e = arg;
	struct peer *p;

	/* /ready says 503 before anything else changes. */
	health_stopping(e->health);
	if (count > 1 || e->npeers == 0) {
		event_base_loopbreak(e->base);
		return;
	}
	log_info("stopping: no new connections; %zu sessions are told to go away", e->npeers);
	e->stopping = true;
	for (size_t i = 0; i < e->nlisteners; i++)
		ev_listener_enable(e->listeners[i], false);
	TAILQ_FOREACH(p, &e->peers, entry)
		mux_goaway(p->s, MUX_SHUTTING_DOWN, "the edge is shutting down");
	e->drain = ev_timer_new(e->base, drain_expired, e);
	ev_timer_start(e->drain, EDGE_DRAIN_MS, false);
	close_drained(e);
}

/* --- operations: /ready, /metrics, systemd ------------------------------------------------- */

static bool
edge_ready(void *arg, char *why, size_t len)
{
	struct edge *e = arg;

	/* Serving means edge.ini was loaded: only stopping makes the edge not ready. */
	if (e->stopping) {
		util_strlcpy(why, "stopping", len);
		return false;
	}
	return true;
}

/* Open connections by role. */
static void
edge_count(struct edge *e, size_t n[3])
{
	struct peer *p;

	n[0] = n[1] = n[2] = 0;
	TAILQ_FOREACH(p, &e->peers, entry)
		n[p->state == PEER_CONNECTOR ? 1 : p->state == PEER_CLIENT ? 2 : 0]++;
}

static void
edge_status(void *arg, char *buf, size_t len)
{
	struct edge *e = arg;
	size_t n[3];

	edge_count(e, n);
	snprintf(buf, len, "%zu apps, %zu connector connections, %zu client sessions, %zu streams",
	    e->conf->napps, n[1], n[2], e->nstreams);
}

static void
edge_collect(void *arg)
{
	struct edge *e = arg;
	size_t n[3];

	edge_count(e, n);
	metrics_set(e->m_conns, (double)n[0], "handshake");
	metrics_set(e->m_conns, (double)n[1], "connector");
	metrics_set(e->m_conns, (double)n[2], "client");
	metrics_set(e->m_open, (double)e->nstreams);
	metrics_set(e->m_rx, (double)e->bytes[0].bytes_in, "connector");
	metrics_set(e->m_rx, (double)e->bytes[1].bytes_in, "client");
	metrics_set(e->m_tx, (double)e->bytes[0].bytes_out, "connector");
	metrics_set(e->m_tx, (double)e->bytes[1].bytes_out, "client");
	metrics_set(e->m_apps, (double)e->conf->napps);
}

static const struct health_ops edge_health = {
	.applet = "edge",
	.ready = edge_ready,
	.status = edge_status,
	.collect = edge_collect,
};

/* The families of doc/metrics.md for the edge. */
static void
edge_metrics(struct edge *e)
{
	static const char *const events[] = { "session", "stream", "check", "revoke" };
	struct metrics *m = health_metrics(e->health);

	e->m_conns = metrics_family(m, "zt_edge_connections", METRICS_GAUGE,
	    "TLS connections open now, by role (handshake: before HELLO was accepted).", "role");
	e->m_conns_total = metrics_family(m, "zt_edge_connections_total", METRICS_COUNTER,
	    "TLS connections accepted.", NULL);
	e->m_auth = metrics_family(m, "zt_edge_auth_decisions_total", METRICS_COUNTER,
	    "Authentication and policy decisions (those of the audit log), by event and result.",
	    "event,result");
	for (size_t i = 0; i < nitems(events); i++) {
		metrics_add(e->m_auth, 0, events[i], "allow");
		metrics_add(e->m_auth, 0, events[i], "deny");
	}
	e->m_open = metrics_family(m, "zt_edge_streams_open", METRICS_GAUGE,
	    "Client streams in progress.", NULL);
	e->m_streams = metrics_family(m, "zt_edge_streams_total", METRICS_COUNTER,
	    "Client streams that ended, by result (ok or the code, in lower case).", "result");
	metrics_add(e->m_streams, 0, "ok");
	e->m_rx = metrics_family(m, "zt_edge_stream_bytes_received_total", METRICS_COUNTER,
	    "Stream payload bytes received, by the sender's role.", "role");
	e->m_tx = metrics_family(m, "zt_edge_stream_bytes_sent_total", METRICS_COUNTER,
	    "Stream payload bytes sent, by the receiver's role.", "role");
	e->m_apps = metrics_family(m, "zt_edge_apps", METRICS_GAUGE, "Apps in edge.ini.", NULL);
}

/* --- commands ------------------------------------------------------------------------- */

static const char *
config_path(const char *opt)
{
	const char *env;

	if (opt != NULL)
		return opt;
	if ((env = getenv("ZT_EDGE_CONFIG")) != NULL && *env != '\0')
		return env;
	return EDGECONF_DEFAULT_PATH;
}

static int
open_listeners(struct edge *e)
{
	e->listeners = xcalloc(e->conf->nlistens, sizeof(*e->listeners));
	for (size_t i = 0; i < e->conf->nlistens; i++) {
		struct util_hostport hp;
		struct sockaddr_storage ss;
		socklen_t len;
		char err[256];

		if (util_parse_hostport(e->conf->listens[i], EDGECONF_DEFAULT_PORT, &hp, err,
		    sizeof(err)) == -1 || util_sockaddr_from(hp.host, hp.port, &ss, &len) == -1) {
			log_errorx("%s: listen = %s: give a numeric address and a port",
			    e->config_path, e->conf->listens[i]);
			return -1;
		}
		if ((e->listeners[i] = ev_listener_new(e->base, (struct sockaddr *)&ss, len,
		    EDGE_BACKLOG, edge_accept, e)) == NULL)
			return -1;
		e->nlisteners++;
		log_info("listening on %s", e->conf->listens[i]);
	}
	return 0;
}

static int
serve(const char *path, const char *metrics_addr)
{
	static const char *const alpn[] = { EDGE_ALPN, EDGE_ALPN_HTTP, NULL };
	struct web_config wcfg;
	struct handshake *hs;
	struct tls_server_opts topts;
	struct edge *e = xcalloc(1, sizeof(*e));
	struct peer *p;
	bool config_error;
	int ret = EX_CONFIG;

	TAILQ_INIT(&e->peers);
	TAILQ_INIT(&e->handshakes);
	e->config_path = xstrdup(path);
	if ((e->conf = edgeconf_load(path)) == NULL)
		goto out;
	if ((e->state = state_open(e->conf->state_dir)) == NULL ||
	    (e->users = users_open(e->conf->state_dir)) == NULL ||
	    (e->revoked = revoked_open(e->conf->state_dir)) == NULL)
		goto out;
	/* A state directory from before people had logins gets its first signing key. */
	if (signkeys_init(e->conf->state_dir) == -1 || keys_refresh(e, time(NULL), true) == -1)
		goto out;
	memset(&topts, 0, sizeof(topts));
	topts.cert_file = e->conf->cert_file;
	topts.key_file = e->conf->key_file;
	topts.alpn = alpn;
	if ((e->tls = tls_server_new(&topts)) == NULL)
		goto out;
	if ((e->audit = audit_open(e->conf->audit_log)) == NULL)
		goto out;
	ret = 1;
	ev_heap_for_streams();
	if ((e->base = ev_base_new()) == NULL)
		goto out;
	e->health = health_new(e->base, &edge_health, e);
	edge_metrics(e);
	if (metrics_addr != NULL && health_listen(e->health, metrics_addr, &config_error) == -1) {
		ret = config_error ? EX_CONFIG : 1;
		goto out;
	}
	memset(&wcfg, 0, sizeof(wcfg));
	wcfg.state_dir = e->conf->state_dir;
	wcfg.audit = web_audit;
	wcfg.audit_arg = e;
	if ((e->web = web_new(e->base, &wcfg)) == NULL)
		goto out;
	web_update(e->web, e->conf, e->users, e->revoked, e->keys);
	if (open_listeners(e) == -1)
		goto out;
	e->sig = ev_signals_new(e->base, on_stop, on_reload, NULL, e);
	e->refresh = ev_timer_new(e->base, refresh_state, e);
	ev_timer_start(e->refresh, EDGE_REFRESH_MS, true);
	log_info("edge %s ready: %zu apps, %zu tunnels, %zu service tokens", e->conf->name,
	    e->conf->napps, state_tunnel_count(e->state), state_token_count(e->state));
	health_update(e->health);
	event_base_dispatch(e->base);
	ret = 0;
out:
	while ((p = TAILQ_FIRST(&e->peers)) != NULL)
		peer_free(p);
	while ((hs = TAILQ_FIRST(&e->handshakes)) != NULL)
		handshake_free(hs, true);
	web_free(e->web);
	for (size_t i = 0; i < e->nlisteners; i++)
		ev_listener_free(e->listeners[i]);
	free(e->listeners);
	ev_timer_free(e->refresh);
	ev_timer_free(e->drain);
	ev_signals_free(e->sig);
	health_free(e->health);
	if (e->audit != NULL && e->audit != stdout)
		fclose(e->audit);
	tls_ctx_free(e->tls);
	state_free(e->state);
	users_free(e->users);
	revoked_free(e->revoked);
	jwt_keyset_free(e->keys);
	free(e->jwks);
	edgeconf_free(e->conf);
	if (e->base != NULL)
		ev_base_free(e->base);
	free(e->config_path);
	free(e);
	return ret;
}

/* `zt edge init DIR --name NAME...`: a CA, the edge's certificate, state, edge.ini. */
static int
init(const char *dir, char **names, size_t nnames, const char *listen, int days)
{
	char *ca_crt, *ca_key, *crt, *key, *ini, *state, pin[TLS_PIN_MAX + 1], cn[300];
	struct stat st;
	int ret = 1;

	xasprintf(&ca_crt, "%s/ca.crt", dir);
	xasprintf(&ca_key, "%s/ca.key", dir);
	xasprintf(&crt, "%s/edge.crt", dir);
	xasprintf(&key, "%s/edge.key", dir);
	xasprintf(&ini, "%s/edge.ini", dir);
	xasprintf(&state, "%s/state", dir);
	if (stat(ini, &st) == 0 || stat(ca_key, &st) == 0) {
		log_errorx("%s already holds an edge (edge.ini or ca.key): pick another directory",
		    dir);
		goto out;
	}
	if (util_mkdir_p(dir, 0700) == -1) {
		log_error("cannot create \"%s\"", dir);
		goto out;
	}
	snprintf(cn, sizeof(cn), "zt edge CA for %s", names[0]);
	if (tls_ca_generate(ca_crt, ca_key, cn, 3650) == -1 ||
	    tls_leaf_generate(ca_crt, ca_key, (const char *const *)names, nnames, true, days, crt,
	    key) == -1 || state_init(state) == -1 || signkeys_init(state) == -1 ||
	    edgeconf_write_template(ini, names[0], listen) == -1 ||
	    tls_spki_pin_file(ca_crt, pin, sizeof(pin)) == -1)
		goto out;
	printf("Created the edge in %s:\n", dir);
	printf("  %-10s the configuration; add [app ...] sections\n", "edge.ini");
	printf("  %-10s the private CA (keep ca.key offline once you are done)\n", "ca.crt");
	printf("  %-10s the edge's certificate for %s\n", "edge.crt", names[0]);
	printf("  %-10s tunnels and service tokens\n", "state/");
	printf("\nCA pin (clients and connectors use it instead of a CA file):\n  %s\n", pin);
	printf("\nNext: zt tunnel create NAME -c %s; zt token create NAME --state-dir %s;\n"
	    "      zt edge serve -c %s\n", ini, state, ini);
	ret = 0;
out:
	free(ca_crt);
	free(ca_key);
	free(crt);
	free(key);
	free(ini);
	free(state);
	return ret;
}

int
edge_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "name", required_argument, NULL, 'n' },
		{ "listen", required_argument, NULL, 'l' },
		{ "days", required_argument, NULL, 'd' },
		{ "metrics", required_argument, NULL, 'M' },
		{ "log-format", required_argument, NULL, 'F' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd, *config = NULL, *listen = "0.0.0.0:7844", *metrics_addr = NULL;
	char **names = NULL;
	size_t nnames = 0;
	long days = 825;
	int ch, ret = 2;

	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(cmd, "user") == 0)
		return edge_user_cmd(argc - 1, argv + 1);
	argc--;
	argv++;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'n':
			names = xreallocarray(names, nnames + 1, sizeof(*names));
			names[nnames++] = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'M':
			metrics_addr = optarg;
			break;
		case 'd':
			if (util_parse_long(optarg, 1, 3650, &days) == -1) {
				fprintf(stderr, "zt edge: --days \"%s\": a number of days, 1-3650\n",
				    optarg);
				goto out;
			}
			break;
		case 'F':
		case 'L':
			if (log_apply_flag("zt edge", ch == 'F', optarg) == -1)
				goto out;
			break;
		case 'h':
			fputs(usage, stdout);
			ret = 0;
			goto out;
		default:
			fputs(usage, stderr);
			goto out;
		}
	}
	if (strcmp(cmd, "init") == 0) {
		if (optind != argc - 1 || nnames == 0) {
			fputs("zt edge init: give a directory and at least one --name\n", stderr);
			fputs(usage, stderr);
			goto out;
		}
		ret = init(argv[optind], names, nnames, listen, (int)days);
	} else if (strcmp(cmd, "serve") == 0 && optind == argc) {
		ret = serve(config_path(config), metrics_addr);
	} else if (strcmp(cmd, "ready") == 0 && optind == argc && metrics_addr != NULL) {
		ret = health_probe("zt edge ready", metrics_addr);
	} else if (strcmp(cmd, "rotate-keys") == 0 && optind == argc) {
		ret = edge_keys_cmd(config_path(config), true);
	} else if (strcmp(cmd, "keys") == 0 && optind == argc) {
		ret = edge_keys_cmd(config_path(config), false);
	} else if (strcmp(cmd, "check") == 0 && optind == argc) {
		struct edgeconf *c = edgeconf_load(config_path(config));
		if (c == NULL) {
			ret = EX_CONFIG;
			goto out;
		}
		edgeconf_free(c);
		ret = edgeconf_dump(config_path(config), stdout) == 0 ? 0 : 1;
	} else {
		fprintf(stderr, "zt edge: unknown command \"%s\" or extra arguments\n", cmd);
		fputs(usage, stderr);
	}
out:
	free(names);
	return ret;
}
