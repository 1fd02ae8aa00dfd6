/* token: `zt token`, service tokens on the edge host: create, list, revoke, rotate (Cloudflare
 * Access service tokens: cloudflared.md 4.1; secret handling: security.md section 4). */
#include "config.h"

#include <sys/prctl.h>

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "applets.h"
#include "common/log.h"
#include "common/edgeconf.h"
#include "common/state.h"
#include "common/util.h"

static const char usage[] =
"usage: zt token create NAME [--duration 8760h] [--state-dir DIR | -c EDGE.INI]\n"
"       zt token list [--json] [--state-dir DIR]\n"
"       zt token revoke NAME|ID [--state-dir DIR]\n"
"       zt token rotate NAME|ID [--grace 24h] [--state-dir DIR]\n"
"\n"
"Service tokens let programs (sidecars, jobs) reach applications behind the edge\n"
"without a browser login, as Cloudflare Access service tokens do: a Client ID\n"
"(32 hex characters and \".access\") and a Client Secret (64 hex characters). The\n"
"edge keeps only a SHA-256 hash of each secret, so create and rotate show it once.\n"
"Run these commands on the edge host as the edge's user; a running 'zt edge serve'\n"
"sees every change within a second.\n"
"\n"
"  create NAME       a new token; NAME is 1-64 of A-Z a-z 0-9 . _ - and does\n"
"                    not start with '.'\n"
"  list              every token and its status; never secrets\n"
"  revoke NAME|ID    stops a token at once, open connections included\n"
"  rotate NAME|ID    a new secret; the old one works until the grace period ends\n"
"\n"
"  --state-dir DIR   the edge's state directory (default: $ZT_STATE_DIR, else\n"
"                    /var/lib/zt)\n"
"  -c, --config FILE the edge's edge.ini: use the state directory it names\n"
"  --duration D      how long a new token works: 8760h (the default, a year),\n"
"                    30d, 90m...; at most 876000h\n"
"  --grace D         how long the old secret still works after a rotation\n"
"                    (default 24h; 0 stops it at once; at most 720h)\n"
"  --json            list as one JSON array\n";

#define TOKEN_DEFAULT_DIR	"/var/lib/zt"
#define TOKEN_DEFAULT_DURATION	"8760h"
#define TOKEN_DEFAULT_GRACE	"24h"
#define TOKEN_EXPIRING_SECS	(7 * 86400)	/* Cloudflare warns a week ahead */

/* The options a subcommand may take besides --state-dir and --help. */
#define TOKEN_O_DURATION	0x01
#define TOKEN_O_GRACE		0x02
#define TOKEN_O_JSON		0x04

enum {
	TOKEN_OPT_STATE_DIR = 256,
	TOKEN_OPT_CONFIG,
	TOKEN_OPT_DURATION,
	TOKEN_OPT_GRACE,
	TOKEN_OPT_JSON,
};

static const struct option token_longopts[] = {
	{ "state-dir", required_argument, NULL, TOKEN_OPT_STATE_DIR },
	{ "config", required_argument, NULL, TOKEN_OPT_CONFIG },
	{ "duration", required_argument, NULL, TOKEN_OPT_DURATION },
	{ "grace", required_argument, NULL, TOKEN_OPT_GRACE },
	{ "json", no_argument, NULL, TOKEN_OPT_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct token_opts {
	const char	*state_dir;
	uint64_t	 duration_ms;
	uint64_t	 grace_ms;
	bool		 json;
	const char	*arg;		/* NAME or ID */
	time_t		 now;
};

struct token_cmd {
	const char	*name;
	int		(*run)(struct state *, const struct token_opts *);
	int		 opts;		/* TOKEN_O_* */
	bool		 takes_arg;
	const char	*arg_name;
};

static int	token_create(struct state *, const struct token_opts *);
static int	token_list(struct state *, const struct token_opts *);
static int	token_revoke(struct state *, const struct token_opts *);
static int	token_rotate(struct state *, const struct token_opts *);

static const struct token_cmd token_cmds[] = {
	{ "create", token_create, TOKEN_O_DURATION, true, "NAME" },
	{ "list", token_list, TOKEN_O_JSON, false, NULL },
	{ "revoke", token_revoke, 0, true, "NAME|ID" },
	{ "rotate", token_rotate, TOKEN_O_GRACE, true, "NAME|ID" },
};

/* Keeps the secret out of core dumps and ptrace by other processes of this user. */
static void
token_protect(void)
{
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static int
token_create(struct state *st, const struct token_opts *o)
{
	struct state_token tok;
	char secret[STATE_SECRET_HEX_LEN + 1], exp[STATE_TIME_LEN + 1];

	token_protect();
	if (state_token_create(st, o->arg, o->duration_ms, o->now, &tok, secret) == -1)
		return 1;
	log_redact_add(secret);
	state_format_time(tok.expires, exp);
	printf("Created service token '%s'.\n", tok.name);
	printf("Client ID:     %s\n", tok.id);
	printf("Client Secret: %s\n", secret);
	printf("Expires:       %s\n", exp);
	printf("\nThe secret is shown this once: the edge stores only its SHA-256 hash. Save it\n"
	    "now in a file only its user can read (chmod 600).\n");
	printf("Give these to the sidecar: zt access tcp --hostname HOST --url 127.0.0.1:PORT "
	    "--id %s --secret-file FILE\n", tok.id);
	fflush(stdout);
	util_cleanse(secret, sizeof(secret));
	return ferror(stdout) ? 1 : 0;
}

/* The status of t at now: a short code for JSON and words for the table. */
static const char *
token_status(const struct state_token *t, time_t now, char *words, size_t len)
{
	char when[STATE_TIME_LEN + 1];
	time_t left;

	if (t->revoked != 0) {
		state_format_time(t->revoked, when);
		snprintf(words, len, "revoked %s", when);
		return "revoked";
	}
	if (now >= t->expires) {
		util_strlcpy(words, "expired", len);
		return "expired";
	}
	if (t->grace_until > now) {
		state_format_time(t->grace_until, when);
		snprintf(words, len, "rotating until %s", when);
		return "rotating";
	}
	if ((left = t->expires - now) < TOKEN_EXPIRING_SECS) {
		long long d = left / 86400, h = left % 86400 / 3600, m = left % 3600 / 60;
		if (d > 0 && h > 0)
			snprintf(words, len, "expiring in %lldd%lldh", d, h);
		else if (d > 0)
			snprintf(words, len, "expiring in %lldd", d);
		else if (h > 0)
			snprintf(words, len, "expiring in %lldh%lldm", h, m);
		else
			snprintf(words, len, "expiring in %lldm", m > 0 ? m : 1);
		return "expiring";
	}
	util_strlcpy(words, "active", len);
	return "active";
}

/* Appends s to buf (of size len, used so far *pos); false if it did not fit. */
static bool
token_put(char *buf, size_t len, size_t *pos, const char *s)
{
	size_t n = strlen(s);

	if (*pos + n >= len)
		return false;
	memcpy(buf + *pos, s, n + 1);
	*pos += n;
	return true;
}

/* Appends "key": "value" (null when value is NULL) to a JSON object being built. */
static bool
token_json_field(char *buf, size_t len, size_t *pos, const char *key, const char *value,
    bool last)
{
	if (!token_put(buf, len, pos, "\"") || !token_put(buf, len, pos, key) ||
	    !token_put(buf, len, pos, "\": "))
		return false;
	if (value == NULL) {
		if (!token_put(buf, len, pos, "null"))
			return false;
	} else if (!token_put(buf, len, pos, "\"") || !log_json_escape(buf, len, pos, value) ||
	    !token_put(buf, len, pos, "\""))
		return false;
	return last || token_put(buf, len, pos, ", ");
}

static int
token_list_json(struct state *st, const struct token_opts *o)
{
	size_t n = state_token_count(st);

	fputs("[", stdout);
	for (size_t i = 0; i < n; i++) {
		const struct state_token *t = state_token_nth(st, i);
		char line[1024], words[64], c[STATE_TIME_LEN + 1], e[STATE_TIME_LEN + 1];
		char r[STATE_TIME_LEN + 1], g[STATE_TIME_LEN + 1];
		const char *code = token_status(t, o->now, words, sizeof(words));
		size_t pos = 0;

		state_format_time(t->created, c);
		state_format_time(t->expires, e);
		state_format_time(t->revoked, r);
		state_format_time(t->grace_until, g);
		line[0] = '\0';
		if (!token_json_field(line, sizeof(line), &pos, "name", t->name, false) ||
		    !token_json_field(line, sizeof(line), &pos, "client_id", t->id, false) ||
		    !token_json_field(line, sizeof(line), &pos, "created", c, false) ||
		    !token_json_field(line, sizeof(line), &pos, "expires", e, false) ||
		    !token_json_field(line, sizeof(line), &pos, "revoked",
		    t->revoked != 0 ? r : NULL, false) ||
		    !token_json_field(line, sizeof(line), &pos, "rotating_until",
		    t->grace_until > o->now ? g : NULL, false) ||
		    !token_json_field(line, sizeof(line), &pos, "status", code, true)) {
			log_errorx("token_list_json: an entry outgrew its buffer");
			return 1;
		}
		printf("%s\n  {%s}", i == 0 ? "" : ",", line);
	}
	fputs(n > 0 ? "\n]\n" : "]\n", stdout);
	fflush(stdout);
	return ferror(stdout) ? 1 : 0;
}

static int
token_list(struct state *st, const struct token_opts *o)
{
	size_t n = state_token_count(st);
	int w = 4;

	if (o->json)
		return token_list_json(st, o);
	if (n == 0) {
		printf("No service tokens in %s yet: create one with 'zt token create NAME'.\n",
		    state_dir(st));
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		int l = (int)strlen(state_token_nth(st, i)->name);
		if (l > w)
			w = l;
	}
	printf("%-*s  %-*s  %-*s  %-*s  %s\n", w, "NAME", STATE_TOKEN_ID_LEN, "CLIENT ID",
	    STATE_TIME_LEN, "CREATED", STATE_TIME_LEN, "EXPIRES", "STATUS");
	for (size_t i = 0; i < n; i++) {
		const struct state_token *t = state_token_nth(st, i);
		char words[64], c[STATE_TIME_LEN + 1], e[STATE_TIME_LEN + 1];

		token_status(t, o->now, words, sizeof(words));
		state_format_time(t->created, c);
		state_format_time(t->expires, e);
		printf("%-*s  %-*s  %s  %s  %s\n", w, t->name, STATE_TOKEN_ID_LEN, t->id, c, e,
		    words);
	}
	fflush(stdout);
	return ferror(stdout) ? 1 : 0;
}

static int
token_revoke(struct state *st, const struct token_opts *o)
{
	struct state_token tok;
	char when[STATE_TIME_LEN + 1];
	int r;

	if ((r = state_token_revoke(st, o->arg, o->now, &tok)) == -1)
		return 1;
	state_format_time(tok.revoked, when);
	if (r == 1)
		printf("Service token '%s' (Client ID %s) was already revoked at %s.\n",
		    tok.name, tok.id, when);
	else
		printf("Revoked service token '%s' (Client ID %s) at %s: a running edge refuses "
		    "it and closes its connections within a second.\n", tok.name, tok.id, when);
	fflush(stdout);
	return ferror(stdout) ? 1 : 0;
}

static int
token_rotate(struct state *st, const struct token_opts *o)
{
	struct state_token tok;
	char secret[STATE_SECRET_HEX_LEN + 1], when[STATE_TIME_LEN + 1];
	char grace[32];

	token_protect();
	if (state_token_rotate(st, o->arg, o->grace_ms, o->now, &tok, secret) == -1)
		return 1;
	log_redact_add(secret);
	printf("Rotated service token '%s'.\n", tok.name);
	printf("Client ID:     %s (unchanged)\n", tok.id);
	printf("Client Secret: %s\n", secret);
	state_format_time(tok.expires, when);
	printf("Expires:       %s (unchanged)\n", when);
	if (tok.grace_until != 0) {
		util_format_duration(o->grace_ms, grace, sizeof(grace));
		state_format_time(tok.grace_until, when);
		printf("\nThe previous secret keeps working until %s (%s from now), then stops.\n",
		    when, grace);
	} else
		printf("\nThe previous secret stopped working at once.\n");
	printf("The new secret is shown this once: the edge stores only its SHA-256 hash.\n");
	fflush(stdout);
	util_cleanse(secret, sizeof(secret));
	return ferror(stdout) ? 1 : 0;
}

/* Parses a duration option within [min, max] ms; false after saying why. */
static bool
token_duration(const char *cmd, const char *opt, const char *value, uint64_t min, uint64_t max,
    uint64_t *ms)
{
	char err[160], lo[32], hi[32];

	if (util_parse_duration(value, ms, err, sizeof(err)) == -1) {
		fprintf(stderr, "zt token %s: %s: %s\n", cmd, opt, err);
		return false;
	}
	if (*ms < min || *ms > max) {
		util_format_duration(min, lo, sizeof(lo));
		util_format_duration(max, hi, sizeof(hi));
		fprintf(stderr, "zt token %s: %s \"%s\" is out of range: give between %s and "
		    "%s\n", cmd, opt, value, lo, hi);
		return false;
	}
	return true;
}

static int
token_usage_error(void)
{
	fputs(usage, stderr);
	return 2;
}

int
token_main(int argc, char **argv)
{
	const struct token_cmd *cmd = NULL;
	struct token_opts o;
	const char *duration = TOKEN_DEFAULT_DURATION, *grace = TOKEN_DEFAULT_GRACE;
	const char *env, *config = NULL;
	char *config_dir = NULL;
	struct state *st;
	char err[160];
	int c, given = 0, ret;

	if (argc < 2)
		return token_usage_error();
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	for (size_t i = 0; i < nitems(token_cmds); i++)
		if (strcmp(argv[1], token_cmds[i].name) == 0)
			cmd = &token_cmds[i];
	if (cmd == NULL) {
		fprintf(stderr, "zt token: unknown %s '%s'\n", argv[1][0] == '-' ? "option" :
		    "command", argv[1]);
		return token_usage_error();
	}

	memset(&o, 0, sizeof(o));
	argc--;
	argv++;
	opterr = 0;
	optind = 0;	/* glibc: 0 also resets getopt's state for this new argv */
	while ((c = getopt_long(argc, argv, ":hc:", token_longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage, stdout);
			return 0;
		case TOKEN_OPT_STATE_DIR:
			o.state_dir = optarg;
			break;
		case 'c':
		case TOKEN_OPT_CONFIG:
			config = optarg;
			break;
		case TOKEN_OPT_DURATION:
			duration = optarg;
			given |= TOKEN_O_DURATION;
			break;
		case TOKEN_OPT_GRACE:
			grace = optarg;
			given |= TOKEN_O_GRACE;
			break;
		case TOKEN_OPT_JSON:
			o.json = true;
			given |= TOKEN_O_JSON;
			break;
		case ':':
			fprintf(stderr, "zt token %s: '%s' needs a value\n", cmd->name,
			    argv[optind - 1]);
			return token_usage_error();
		default:
			if (optopt > 0 && optopt < 256)
				fprintf(stderr, "zt token %s: unknown option '-%c'\n", cmd->name,
				    optopt);
			else
				fprintf(stderr, "zt token %s: unknown option '%s'\n", cmd->name,
				    argv[optind - 1]);
			return token_usage_error();
		}
	}
	if ((given & ~cmd->opts) != 0) {
		fprintf(stderr, "zt token %s: --%s does not apply to %s\n", cmd->name,
		    (given & ~cmd->opts & TOKEN_O_DURATION) ? "duration" :
		    (given & ~cmd->opts & TOKEN_O_GRACE) ? "grace" : "json", cmd->name);
		return token_usage_error();
	}
	if (cmd->takes_arg && optind == argc) {
		fprintf(stderr, "zt token %s: %s is missing\n", cmd->name, cmd->arg_name);
		return token_usage_error();
	}
	if (argc - optind > (cmd->takes_arg ? 1 : 0)) {
		fprintf(stderr, "zt token %s: unexpected argument '%s'\n", cmd->name,
		    argv[optind + (cmd->takes_arg ? 1 : 0)]);
		return token_usage_error();
	}
	if (cmd->takes_arg)
		o.arg = argv[optind];
	if (strcmp(cmd->name, "create") == 0 && !state_name_valid(o.arg, err, sizeof(err))) {
		fprintf(stderr, "zt token create: %s\n", err);
		return 2;
	}
	if (((cmd->opts & TOKEN_O_DURATION) && !token_duration(cmd->name, "--duration", duration,
	    1000, STATE_DURATION_MAX, &o.duration_ms)) ||
	    ((cmd->opts & TOKEN_O_GRACE) && !token_duration(cmd->name, "--grace", grace, 0,
	    STATE_GRACE_MAX, &o.grace_ms)))
		return 2;
	if (o.state_dir == NULL && config != NULL) {
		/* -c edge.ini: the state directory the edge uses. */
		if ((config_dir = edgeconf_state_dir(config)) == NULL)
			return EX_CONFIG;
		o.state_dir = config_dir;
	}
	if (o.state_dir == NULL)
		o.state_dir = (env = getenv("ZT_STATE_DIR")) != NULL && *env != '\0' ? env :
		    TOKEN_DEFAULT_DIR;
	if (*o.state_dir == '\0') {
		fprintf(stderr, "zt token %s: --state-dir needs a directory\n", cmd->name);
		return 2;
	}
	o.now = time(NULL);

	/* A state directory that is missing or unsafe is a configuration error. */
	if ((st = state_open(o.state_dir)) == NULL) {
		free(config_dir);
		return EX_CONFIG;
	}
	ret = cmd->run(st, &o);
	state_free(st);
	free(config_dir);
	log_redact_clear();
	return ret;
}
