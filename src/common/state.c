/* state: the edge's state directory: service tokens and tunnels as small files of hashes, read
 * and watched by the edge, written under a lock by the CLI (Cloudflare's service tokens). */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "log.h"
#include "state.h"
#include "util.h"

#define STATE_HASH_LEN		32
#define STATE_SECRET_LEN	32
#define STATE_VALUE_MAX		72	/* longest value a valid file holds is 64 */
/* Files whose mtime or ctime is this recent are compared by content even when their signature
 * is unchanged: timestamps come from a coarse clock, and an inode freed by one rename can be
 * reused by the next file of the same size within the same tick (git's "racily clean" case). */
#define STATE_RACY_NS		(2LL * 1000000000LL)

enum state_kind {
	STATE_KIND_TOKEN = 0,
	STATE_KIND_TUNNEL,
	STATE_NKINDS
};

static const char *const state_subdirs[STATE_NKINDS] = { "tokens", "tunnels" };
static const char *const state_types[STATE_NKINDS] = { "token", "tunnel" };
static const char *const state_what[STATE_NKINDS] = { "service token", "tunnel" };

/* One parsed file: what callers may see, and the hashes they may not. */
struct state_rec {
	enum state_kind	 kind;
	struct state_token tok;		/* kind token */
	struct state_tunnel tun;	/* kind tunnel */
	uint64_t	 idkey[2];	/* the id's 16 random bytes, for constant-time scans */
	uint8_t		 hash[STATE_HASH_LEN];
	uint8_t		 prev_hash[STATE_HASH_LEN];
	bool		 has_prev;
};

/* What tells one version of a file from another without reading it. */
struct state_sig {
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	int64_t		 mtime_ns;
	int64_t		 ctime_ns;
	mode_t		 mode;
	uid_t		 uid;
};

/* A directory entry and the last good version read from it. */
struct state_file {
	char		*name;
	struct state_sig sig;		/* of the version last examined */
	bool		 have_sig;
	uint8_t		 digest[STATE_HASH_LEN];	/* SHA-256 of the bytes last parsed */
	bool		 have_digest;	/* the digest's verdict stands while the bytes do */
	char		*problem;	/* the last problem logged, so that it is logged once */
	struct state_rec *rec;		/* the last good version; NULL if none */
};

struct state_set {
	struct state_file *files;	/* sorted by name */
	size_t		 nfiles;
	struct state_rec **recs;	/* the good ones, in name order */
	size_t		 nrecs;
};

struct state {
	char		*dir;
	struct state_set sets[STATE_NKINDS];
	uint64_t	 generation;
	bool		 failing;	/* the last refresh could not read a directory */
};

/* Compared against when an id is unknown, so that unknown ids cost what known ones do. */
static const uint8_t state_dummy_hash[STATE_HASH_LEN] = {
	0x5a, 0x74, 0x2d, 0x73, 0x74, 0x61, 0x74, 0x65, 0x2d, 0x64, 0x75, 0x6d, 0x6d, 0x79, 0x2d,
	0x68, 0x61, 0x73, 0x68, 0x2d, 0x6e, 0x65, 0x76, 0x65, 0x72, 0x2d, 0x6d, 0x61, 0x74, 0x63,
	0x68, 0x21,
};

/* --- small helpers ------------------------------------------------------------------------ */

/* SHA-256 of len bytes. The secrets hashed here are 32 random bytes (256 bits of entropy), so a
 * fast hash suffices: no guess can be tested faster than 2^256 tries, and a slow KDF would only
 * add latency to every connection (security.md section 4). */
static int
state_sha256(const void *data, size_t len, uint8_t out[STATE_HASH_LEN])
{
	if (EVP_Digest(data, len, out, NULL, EVP_sha256(), NULL) != 1) {
		log_ssl_errors("state_sha256: SHA-256 failed");
		return -1;
	}
	return 0;
}

/* Copies s into buf for a message: bytes outside printable ASCII become '?', long ones end in
 * "...", so that a hostile name cannot forge log lines or flood a terminal. */
static const char *
state_quote(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	for (; *s != '\0' && o + 4 < len; s++)
		buf[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	if (*s != '\0' && len >= 4) {
		o = o > len - 4 ? len - 4 : o;
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	if (len > 0)
		buf[o < len ? o : len - 1] = '\0';
	return buf;
}

bool
state_name_valid(const char *name, char *err, size_t errlen)
{
	char q[96];
	size_t n = strlen(name);

	if (n == 0) {
		snprintf(err, errlen, "a name must not be empty");
		return false;
	}
	if (n > STATE_NAME_MAX) {
		snprintf(err, errlen, "name '%s' is longer than %d characters",
		    state_quote(name, q, sizeof(q)), STATE_NAME_MAX);
		return false;
	}
	if (name[0] == '.') {
		snprintf(err, errlen, "name '%s' must not start with '.'",
		    state_quote(name, q, sizeof(q)));
		return false;
	}
	for (const char *p = name; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '-')
			continue;
		if (c > 0x20 && c < 0x7f)
			snprintf(err, errlen, "name '%s' contains '%c': use letters, digits, '.', "
			    "'_' and '-'", state_quote(name, q, sizeof(q)), c);
		else
			snprintf(err, errlen, "name '%s' contains the byte 0x%02x: use letters, "
			    "digits, '.', '_' and '-'", state_quote(name, q, sizeof(q)), c);
		return false;
	}
	if (strstr(name, ".tmp-") != NULL) {
		snprintf(err, errlen, "name '%s' contains '.tmp-', which is reserved for temporary "
		    "files", name);
		return false;
	}
	return true;
}

_Static_assert(STATE_TIME_LEN == UTIL_TIME_LEN, "state.h's STATE_TIME_LEN is util's");

void
state_format_time(time_t t, char buf[STATE_TIME_LEN + 1])
{
	util_time_format(t, buf);
}

/* Whether s is exactly n lower-case hex digits. */
static bool
state_is_lower_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[i] == '\0';
}

/* Whether id has the form of kind's ids. */
static bool
state_id_valid(enum state_kind kind, const char *id)
{
	if (kind == STATE_KIND_TUNNEL)
		return state_is_lower_hex(id, STATE_TUNNEL_ID_LEN);
	return strlen(id) == STATE_TOKEN_ID_LEN && strspn(id, "0123456789abcdef") == 32 &&
	    strcmp(id + 32, ".access") == 0;
}

/* The 16 bytes a well-formed id (see state_id_valid) stands for, as two words. */
static void
state_id_key(const char *id, uint64_t key[2])
{
	uint8_t b[16];

	if (util_hex_decode(id, 32, b, sizeof(b)) != (ssize_t)sizeof(b))
		memset(b, 0, sizeof(b));
	memcpy(key, b, sizeof(b));
}

static const char *
state_rec_name(const struct state_rec *r)
{
	return r->kind == STATE_KIND_TOKEN ? r->tok.name : r->tun.name;
}

static const char *
state_rec_id(const struct state_rec *r)
{
	return r->kind == STATE_KIND_TOKEN ? r->tok.id : r->tun.id;
}

/* Wipes and frees a record; NULL is a no-op. */
static void
state_rec_free(struct state_rec *r)
{
	if (r == NULL)
		return;
	util_cleanse(r, sizeof(*r));
	free(r);
}

/* --- the file format ---------------------------------------------------------------------- */

enum state_key {
	K_VERSION = 0, K_TYPE, K_NAME, K_ID, K_HASH, K_CREATED, K_EXPIRES, K_REVOKED, K_PREV_HASH,
	K_PREV_EXPIRES, K_COUNT
};

static const char *const state_keys[K_COUNT] = {
	"zt-state", "type", "name", "id", "secret-sha256", "created", "expires", "revoked",
	"previous-sha256", "previous-expires",
};

/* A parse error: the line (0: the whole file) and the reason. */
struct state_perr {
	size_t		 line;
	char		 msg[192];
};

static int
state_perr(struct state_perr *e, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records a parse error; returns -1 for the caller's return. */
static int
state_perr(struct state_perr *e, size_t line, const char *fmt, ...)
{
	va_list ap;

	e->line = line;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* Decodes a value of 64 lower hex digits into a hash. */
static int
state_parse_hash(const char *v, uint8_t out[STATE_HASH_LEN])
{
	if (!state_is_lower_hex(v, STATE_HASH_LEN * 2) ||
	    util_hex_decode(v, STATE_HASH_LEN * 2, out, STATE_HASH_LEN) != STATE_HASH_LEN)
		return -1;
	return 0;
}

/* Splits one line into key and value, checking the characters allowed. Returns 1 for a
 * key/value line, 0 for a blank or comment line, -1 with e set. */
static int
state_split_line(const char *ls, const char *eol, size_t line, char *key, size_t keylen,
    char *val, size_t vallen, struct state_perr *e)
{
	const char *p = ls, *k, *v, *vend;

	for (const char *c = ls; c < eol; c++) {
		unsigned char ch = (unsigned char)*c;
		if (ch == '\r')
			return state_perr(e, line, "carriage return: save the file with Unix line "
			    "endings");
		if ((ch < 0x20 && ch != '\t') || ch >= 0x7f)
			return state_perr(e, line, "byte 0x%02x in column %zu: only printable "
			    "ASCII is allowed", ch, (size_t)(c - ls) + 1);
	}
	while (p < eol && (*p == ' ' || *p == '\t'))
		p++;
	if (p == eol || *p == '#')
		return 0;
	k = p;
	while (p < eol && ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
		p++;
	if (p == k)
		return state_perr(e, line, "expected 'key = value'");
	if ((size_t)(p - k) >= keylen)
		return state_perr(e, line, "unknown key '%.*s...'", (int)keylen - 1, k);
	memcpy(key, k, (size_t)(p - k));
	key[p - k] = '\0';
	while (p < eol && (*p == ' ' || *p == '\t'))
		p++;
	if (p == eol || *p != '=')
		return state_perr(e, line, "expected '=' after '%s'", key);
	p++;
	while (p < eol && (*p == ' ' || *p == '\t'))
		p++;
	v = p;
	vend = eol;
	while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
		vend--;
	if (v == vend)
		return state_perr(e, line, "'%s' has no value", key);
	for (const char *c = v; c < vend; c++)
		if (*c == ' ' || *c == '\t')
			return state_perr(e, line, "the value of '%s' contains a space", key);
	if ((size_t)(vend - v) >= vallen)
		return state_perr(e, line, "the value of '%s' is too long", key);
	memcpy(val, v, (size_t)(vend - v));
	val[vend - v] = '\0';
	return 1;
}

/* Parses one file's bytes into r. The whole grammar is in state.h. */
static int
state_parse(const char *data, size_t len, const char *expect_name, struct state_rec *r,
    struct state_perr *e)
{
	char vals[K_COUNT][STATE_VALUE_MAX + 1];
	size_t lines[K_COUNT] = { 0 };
	const char *p = data, *end = data + len;
	size_t line = 0;
	enum state_kind kind;
	char q[96];
	time_t t;

	memset(r, 0, sizeof(*r));
	if (len > STATE_FILE_MAX)
		return state_perr(e, 0, "larger than %d bytes", STATE_FILE_MAX);
	if (memchr(data, '\0', len) != NULL)
		return state_perr(e, 0, "contains a NUL byte");
	while (p < end) {
		const char *ls = p, *eol = memchr(p, '\n', (size_t)(end - p));
		char key[24], val[STATE_VALUE_MAX + 1];
		int ki, rc;

		if (eol == NULL)
			eol = end;
		p = eol < end ? eol + 1 : end;
		line++;
		rc = state_split_line(ls, eol, line, key, sizeof(key), val, sizeof(val), e);
		if (rc == -1)
			return -1;
		if (rc == 0)
			continue;
		for (ki = 0; ki < K_COUNT; ki++)
			if (strcmp(key, state_keys[ki]) == 0)
				break;
		if (ki == K_COUNT)
			return state_perr(e, line, "unknown key '%s'", key);
		if (lines[K_VERSION] == 0 && ki != K_VERSION)
			return state_perr(e, line, "the first key must be 'zt-state = %d', "
			    "not '%s'", STATE_FORMAT_VERSION, key);
		if (lines[ki] != 0)
			return state_perr(e, line, "'%s' is given twice (first on line %zu)", key,
			    lines[ki]);
		lines[ki] = line;
		memcpy(vals[ki], val, sizeof(val));
		if (ki == K_VERSION && strcmp(val, "1") != 0)
			return state_perr(e, line, "format version '%s' is not supported: this zt "
			    "reads version %d", val, STATE_FORMAT_VERSION);
	}
	if (lines[K_VERSION] == 0)
		return state_perr(e, 0, "empty: a state file starts with 'zt-state = %d'",
		    STATE_FORMAT_VERSION);
	if (lines[K_TYPE] == 0)
		return state_perr(e, 0, "'type' is missing");
	if (strcmp(vals[K_TYPE], "token") == 0)
		kind = STATE_KIND_TOKEN;
	else if (strcmp(vals[K_TYPE], "tunnel") == 0)
		kind = STATE_KIND_TUNNEL;
	else
		return state_perr(e, lines[K_TYPE], "type '%s' is neither 'token' nor 'tunnel'",
		    vals[K_TYPE]);
	r->kind = kind;
	for (int ki = K_NAME; ki < K_COUNT; ki++) {
		bool token_only = ki == K_EXPIRES || ki == K_REVOKED || ki == K_PREV_HASH ||
		    ki == K_PREV_EXPIRES;
		bool required = ki <= K_CREATED || (ki == K_EXPIRES && kind == STATE_KIND_TOKEN);

		if (required && lines[ki] == 0)
			return state_perr(e, 0, "'%s' is missing", state_keys[ki]);
		if (token_only && kind != STATE_KIND_TOKEN && lines[ki] != 0)
			return state_perr(e, lines[ki], "'%s' does not apply to a tunnel",
			    state_keys[ki]);
	}
	if ((lines[K_PREV_HASH] == 0) != (lines[K_PREV_EXPIRES] == 0))
		return state_perr(e, lines[K_PREV_HASH] != 0 ? lines[K_PREV_HASH] :
		    lines[K_PREV_EXPIRES], "'previous-sha256' and 'previous-expires' go together");

	if (!state_name_valid(vals[K_NAME], e->msg, sizeof(e->msg))) {
		e->line = lines[K_NAME];
		return -1;
	}
	if (expect_name != NULL && strcmp(vals[K_NAME], expect_name) != 0)
		return state_perr(e, lines[K_NAME], "name '%s' is not the file's name '%s'",
		    vals[K_NAME], state_quote(expect_name, q, sizeof(q)));
	if (!state_id_valid(kind, vals[K_ID]))
		return state_perr(e, lines[K_ID], "id '%s' is not %s", vals[K_ID],
		    kind == STATE_KIND_TOKEN ? "32 lower-case hex digits and '.access'" :
		    "32 lower-case hex digits");
	if (state_parse_hash(vals[K_HASH], r->hash) == -1)
		return state_perr(e, lines[K_HASH], "'secret-sha256' is not 64 lower-case hex "
		    "digits");
	if (!util_time_parse(vals[K_CREATED], &t))
		return state_perr(e, lines[K_CREATED], "'created' is not a time such as "
		    "2026-11-27T21:00:00Z");
	state_id_key(vals[K_ID], r->idkey);
	if (kind == STATE_KIND_TUNNEL) {
		memcpy(r->tun.name, vals[K_NAME], strlen(vals[K_NAME]) + 1);
		memcpy(r->tun.id, vals[K_ID], STATE_TUNNEL_ID_LEN + 1);
		r->tun.created = t;
		return 0;
	}
	memcpy(r->tok.name, vals[K_NAME], strlen(vals[K_NAME]) + 1);
	memcpy(r->tok.id, vals[K_ID], STATE_TOKEN_ID_LEN + 1);
	r->tok.created = t;
	if (!util_time_parse(vals[K_EXPIRES], &r->tok.expires))
		return state_perr(e, lines[K_EXPIRES], "'expires' is not a time such as "
		    "2027-11-27T21:00:00Z");
	if (r->tok.expires <= r->tok.created)
		return state_perr(e, lines[K_EXPIRES], "'expires' is not after 'created'");
	if (lines[K_REVOKED] != 0 && !util_time_parse(vals[K_REVOKED], &r->tok.revoked))
		return state_perr(e, lines[K_REVOKED], "'revoked' is not a time such as "
		    "2026-12-01T08:00:00Z");
	/* The epoch itself means "not revoked" in memory; no real revocation happens then. */
	if (lines[K_REVOKED] != 0 && r->tok.revoked == 0)
		return state_perr(e, lines[K_REVOKED], "'revoked' cannot be 1970-01-01T00:00:00Z");
	if (lines[K_PREV_HASH] != 0) {
		if (state_parse_hash(vals[K_PREV_HASH], r->prev_hash) == -1)
			return state_perr(e, lines[K_PREV_HASH], "'previous-sha256' is not 64 "
			    "lower-case hex digits");
		if (!util_time_parse(vals[K_PREV_EXPIRES], &r->tok.grace_until) ||
		    r->tok.grace_until == 0)
			return state_perr(e, lines[K_PREV_EXPIRES], "'previous-expires' is not a "
			    "time such as 2026-11-28T21:00:00Z");
		r->has_prev = true;
	}
	return 0;
}

/* Appends to buf; the callers' sizes are far below STATE_FILE_MAX. */
static void
state_append(char *buf, size_t len, size_t *pos, const char *key, const char *value)
{
	int n = snprintf(buf + *pos, len - *pos, "%s = %s\n", key, value);

	if (n < 0 || (size_t)n >= len - *pos)
		fatalx("state_append: a state file outgrew its buffer");
	*pos += (size_t)n;
}

/* The canonical text of r (the caller frees it). */
static char *
state_format(const struct state_rec *r)
{
	char buf[STATE_FILE_MAX], hex[STATE_HASH_LEN * 2 + 1], t[STATE_TIME_LEN + 1];
	char ver[8];
	const char *head;
	size_t pos;
	bool token = r->kind == STATE_KIND_TOKEN;

	head = token ?
	    "# zt service token: written by 'zt token'; the secret itself is never stored\n" :
	    "# zt tunnel: written by 'zt tunnel'; the secret itself is never stored\n";
	pos = strlen(head);
	memcpy(buf, head, pos + 1);
	snprintf(ver, sizeof(ver), "%d", STATE_FORMAT_VERSION);
	state_append(buf, sizeof(buf), &pos, "zt-state", ver);
	state_append(buf, sizeof(buf), &pos, "type", state_types[r->kind]);
	state_append(buf, sizeof(buf), &pos, "name", state_rec_name(r));
	state_append(buf, sizeof(buf), &pos, "id", state_rec_id(r));
	util_hex_encode(r->hash, STATE_HASH_LEN, hex, sizeof(hex));
	state_append(buf, sizeof(buf), &pos, "secret-sha256", hex);
	state_format_time(token ? r->tok.created : r->tun.created, t);
	state_append(buf, sizeof(buf), &pos, "created", t);
	if (token) {
		state_format_time(r->tok.expires, t);
		state_append(buf, sizeof(buf), &pos, "expires", t);
		if (r->tok.revoked != 0) {
			state_format_time(r->tok.revoked, t);
			state_append(buf, sizeof(buf), &pos, "revoked", t);
		}
		if (r->has_prev) {
			util_hex_encode(r->prev_hash, STATE_HASH_LEN, hex, sizeof(hex));
			state_append(buf, sizeof(buf), &pos, "previous-sha256", hex);
			state_format_time(r->tok.grace_until, t);
			state_append(buf, sizeof(buf), &pos, "previous-expires", t);
		}
	}
	return xstrdup(buf);
}

int
state_file_check(const char *label, const char *expect_name, const char *data, size_t len,
    char **canon)
{
	struct state_rec r;
	struct state_perr e;
	int ret = -1;

	if (canon != NULL)
		*canon = NULL;
	if (state_parse(data, len, expect_name, &r, &e) == -1) {
		if (e.line > 0)
			log_errorx("%s:%zu: %s", label, e.line, e.msg);
		else
			log_errorx("%s: %s", label, e.msg);
		goto out;
	}
	if (canon != NULL)
		*canon = state_format(&r);
	ret = 0;
out:
	util_cleanse(&r, sizeof(r));
	return ret;
}

/* --- loading and watching ----------------------------------------------------------------- */

/* Checks that path (a directory of the state) is a directory only its owner, this user, can
 * use; logs why not. */
static int
state_check_dir(const char *path, bool follow)
{
	struct stat sb;
	int r = follow ? stat(path, &sb) : lstat(path, &sb);

	if (r == -1) {
		if (errno == ENOENT)
			log_errorx("state directory '%s' does not exist: create it with 'zt edge "
			    "init' (or give the right --state-dir)", path);
		else
			log_error("state directory '%s'", path);
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		log_errorx("state directory '%s' is not a directory", path);
		return -1;
	}
	if (sb.st_uid != geteuid()) {
		log_errorx("state directory '%s' belongs to uid %u, not to uid %u that runs zt: "
		    "run zt as the edge's user", path, (unsigned)sb.st_uid, (unsigned)geteuid());
		return -1;
	}
	if ((sb.st_mode & 077) != 0) {
		log_errorx("state directory '%s' has mode %04o: group and others must have no "
		    "access; run 'chmod 700 %s'", path, (unsigned)(sb.st_mode & 07777), path);
		return -1;
	}
	return 0;
}

static void
state_sig_from(const struct stat *sb, struct state_sig *sig)
{
	memset(sig, 0, sizeof(*sig));
	sig->dev = sb->st_dev;
	sig->ino = sb->st_ino;
	sig->size = sb->st_size;
	sig->mtime_ns = (int64_t)sb->st_mtim.tv_sec * 1000000000LL + sb->st_mtim.tv_nsec;
	sig->ctime_ns = (int64_t)sb->st_ctim.tv_sec * 1000000000LL + sb->st_ctim.tv_nsec;
	sig->mode = sb->st_mode;
	sig->uid = sb->st_uid;
}

static bool
state_sig_equal(const struct state_sig *a, const struct state_sig *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	    a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns && a->mode == b->mode &&
	    a->uid == b->uid;
}

/* The context of one scan of one subdirectory. */
struct state_scan {
	struct state	*st;
	enum state_kind	 kind;
	const char	*path;		/* DIR/tokens */
	int		 dfd;
	bool		 strict;	/* state_open: every problem is an error */
	int64_t		 now_ns;
	bool		 changed;
	int		 errors;
};

static void
state_problem(struct state_scan *sc, struct state_file *f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reports a problem with f: at open an error, later a warning logged once per problem. */
static void
state_problem(struct state_scan *sc, struct state_file *f, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sc->errors++;
	if (sc->strict)
		log_errorx("%s", msg);
	else if (f->problem == NULL || strcmp(f->problem, msg) != 0)
		log_warnx("%s; %s", msg, f->rec != NULL ? "keeping the version read before" :
		    "ignoring the file");
	free(f->problem);
	f->problem = xstrdup(msg);
}

/* Reads f's current bytes (at most STATE_FILE_MAX + 1) through a descriptor that cannot follow
 * a symbolic link or block on a FIFO. Returns 1 if the file vanished meanwhile. */
static int
state_read(struct state_scan *sc, struct state_file *f, char *buf, size_t *len,
    struct state_sig *sig)
{
	struct stat sb;
	size_t n = 0;
	int fd, ret = -1;

	fd = openat(sc->dfd, f->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT)
			return 1;
		state_problem(sc, f, "%s/%s: cannot open: %s", sc->path, f->name,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1) {
		state_problem(sc, f, "%s/%s: %s", sc->path, f->name, strerror(errno));
		goto out;
	}
	state_sig_from(&sb, sig);
	if (!S_ISREG(sb.st_mode)) {
		state_problem(sc, f, "%s/%s is not a regular file: remove it", sc->path, f->name);
		goto out;
	}
	while (n < STATE_FILE_MAX + 1) {
		ssize_t r = read(fd, buf + n, STATE_FILE_MAX + 1 - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			state_problem(sc, f, "%s/%s: cannot read: %s", sc->path, f->name,
			    strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	ret = 0;
out:
	close(fd);
	return ret;
}

/* Whether another file of the set already holds id. */
static const struct state_file *
state_id_taken(const struct state_set *set, const struct state_file *self, const char *id)
{
	for (size_t i = 0; i < set->nfiles; i++) {
		const struct state_file *o = &set->files[i];
		if (o != self && o->rec != NULL && strcmp(state_rec_id(o->rec), id) == 0)
			return o;
	}
	return NULL;
}

/* Brings f up to date with the file on disk. Returns 1 if the file vanished. */
static int
state_examine(struct state_scan *sc, struct state_set *set, struct state_file *f)
{
	char buf[STATE_FILE_MAX + 1], err[160];
	uint8_t digest[STATE_HASH_LEN];
	const struct state_file *other;
	struct state_sig sig;
	struct state_perr e;
	struct state_rec *r;
	struct stat sb;
	size_t len = 0;
	bool racy;
	int rc;

	if (!state_name_valid(f->name, err, sizeof(err))) {
		/* Editor backups and the like: skipped, and said once. */
		if (f->problem == NULL) {
			log_warnx("%s/%s: ignored: %s", sc->path, f->name, err);
			f->problem = xstrdup(err);
		}
		return 0;
	}
	if (fstatat(sc->dfd, f->name, &sb, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			return 1;
		state_problem(sc, f, "%s/%s: %s", sc->path, f->name, strerror(errno));
		return 0;
	}
	state_sig_from(&sb, &sig);
	racy = sig.mtime_ns >= sc->now_ns - STATE_RACY_NS ||
	    sig.ctime_ns >= sc->now_ns - STATE_RACY_NS;
	if (f->have_sig && state_sig_equal(&sig, &f->sig) && !racy)
		return 0;
	f->sig = sig;
	f->have_sig = true;
	if (!S_ISREG(sb.st_mode)) {
		f->have_digest = false;
		state_problem(sc, f, "%s/%s is not a regular file: remove it", sc->path, f->name);
		return 0;
	}
	if (sb.st_uid != geteuid()) {
		f->have_digest = false;
		state_problem(sc, f, "%s/%s belongs to uid %u, not to uid %u that runs zt: run zt "
		    "as the edge's user, or 'chown %u %s/%s'", sc->path, f->name,
		    (unsigned)sb.st_uid, (unsigned)geteuid(), (unsigned)geteuid(), sc->path,
		    f->name);
		return 0;
	}
	if ((sb.st_mode & 077) != 0) {
		f->have_digest = false;
		state_problem(sc, f, "%s/%s has mode %04o: group and others must have no access; "
		    "run 'chmod 600 %s/%s'", sc->path, f->name, (unsigned)(sb.st_mode & 07777),
		    sc->path, f->name);
		return 0;
	}
	if ((rc = state_read(sc, f, buf, &len, &sig)) != 0) {
		f->have_digest = false;
		return rc == 1 ? 1 : 0;
	}
	/* The descriptor's own signature describes the bytes read (a rename may have come
	 * between fstatat and openat); its mode was checked by the fstatat above or is 0600. */
	f->sig = sig;
	if ((sig.mode & 077) != 0 || sig.uid != geteuid()) {
		f->have_sig = false;
		f->have_digest = false;
		return 0;	/* replaced meanwhile by a file too open: the next scan says so */
	}
	if (state_sha256(buf, len, digest) == -1) {
		f->have_sig = false;
		f->have_digest = false;
		sc->errors++;
		return 0;
	}
	if (f->have_digest && util_ct_equal(digest, f->digest, sizeof(digest))) {
		util_cleanse(buf, len);
		return 0;	/* the same bytes: the same verdict as before */
	}
	memcpy(f->digest, digest, sizeof(digest));
	f->have_digest = true;
	r = xcalloc(1, sizeof(*r));
	rc = state_parse(buf, len, f->name, r, &e);
	util_cleanse(buf, len);
	if (rc == -1) {
		if (e.line > 0)
			state_problem(sc, f, "%s/%s:%zu: %s", sc->path, f->name, e.line, e.msg);
		else
			state_problem(sc, f, "%s/%s: %s", sc->path, f->name, e.msg);
		state_rec_free(r);
		return 0;
	}
	if (r->kind != sc->kind) {
		state_problem(sc, f, "%s/%s: a %s in the directory of %ss: move it", sc->path,
		    f->name, state_what[r->kind], state_types[sc->kind]);
		state_rec_free(r);
		return 0;
	}
	if ((other = state_id_taken(set, f, state_rec_id(r))) != NULL) {
		/* Judged again on every scan: it becomes valid when the other file goes. */
		f->have_digest = false;
		state_problem(sc, f, "%s/%s: id %s is already the id of %s/%s", sc->path, f->name,
		    state_rec_id(r), sc->path, other->name);
		state_rec_free(r);
		return 0;
	}
	if (f->problem != NULL && !sc->strict)
		log_info("%s/%s: read again after the problem was fixed", sc->path, f->name);
	free(f->problem);
	f->problem = NULL;
	state_rec_free(f->rec);
	f->rec = r;
	sc->changed = true;
	return 0;
}

static void
state_file_clear(struct state_file *f)
{
	state_rec_free(f->rec);
	free(f->problem);
	free(f->name);
	memset(f, 0, sizeof(*f));
}

static int
state_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists path's candidate files, sorted; temporary and hidden files are left out. */
static int
state_list(DIR *d, char ***names, size_t *n)
{
	struct dirent *de;

	*names = NULL;
	*n = 0;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strstr(de->d_name, ".tmp-") != NULL)
			continue;
		*names = xreallocarray(*names, *n + 1, sizeof(**names));
		(*names)[(*n)++] = xstrdup(de->d_name);
		errno = 0;
	}
	if (errno != 0)
		return -1;
	if (*n > 1)
		qsort(*names, *n, sizeof(**names), state_name_cmp);
	return 0;
}

/* Rescans one subdirectory, merging its listing with what is known. Returns -1 if the
 * directory cannot be read (everything is then kept). */
static int
state_scan_set(struct state *st, enum state_kind kind, bool strict, int64_t now_ns, bool *changed,
    int *errors)
{
	struct state_set *set = &st->sets[kind];
	struct state_scan sc;
	struct state_file *files;
	char **names = NULL, *path;
	size_t nnames = 0, i = 0, k = 0;
	DIR *d;
	int ret = -1;

	xasprintf(&path, "%s/%s", st->dir, state_subdirs[kind]);
	/* After a failure, quiet until state_refresh sees the directories readable again. */
	if ((d = opendir(path)) == NULL) {
		if (strict || !st->failing)
			log_error("cannot read %s; keeping what was read before", path);
		st->failing = true;
		free(path);
		return -1;
	}
	if (state_list(d, &names, &nnames) == -1) {
		if (strict || !st->failing)
			log_error("cannot list %s; keeping what was read before", path);
		st->failing = true;
		goto out;
	}
	memset(&sc, 0, sizeof(sc));
	sc.st = st;
	sc.kind = kind;
	sc.path = path;
	sc.dfd = dirfd(d);
	sc.strict = strict;
	sc.now_ns = now_ns;

	/* Merge the sorted listing with the sorted known files; the old array's entries move. */
	files = xcalloc(nnames > 0 ? nnames : 1, sizeof(*files));
	for (size_t j = 0; j < nnames; j++) {
		while (i < set->nfiles && strcmp(set->files[i].name, names[j]) < 0) {
			if (set->files[i].rec != NULL)
				sc.changed = true;
			state_file_clear(&set->files[i++]);
		}
		if (i < set->nfiles && strcmp(set->files[i].name, names[j]) == 0) {
			files[k] = set->files[i++];
			free(names[j]);
		} else
			files[k].name = names[j];
		names[j] = NULL;
		k++;
	}
	for (; i < set->nfiles; i++) {
		if (set->files[i].rec != NULL)
			sc.changed = true;
		state_file_clear(&set->files[i]);
	}
	free(set->files);
	set->files = files;
	set->nfiles = k;

	for (i = 0; i < set->nfiles; ) {
		if (state_examine(&sc, set, &set->files[i]) == 1) {
			/* Removed between readdir and now. */
			if (set->files[i].rec != NULL)
				sc.changed = true;
			state_file_clear(&set->files[i]);
			memmove(&set->files[i], &set->files[i + 1],
			    (set->nfiles - i - 1) * sizeof(*set->files));
			set->nfiles--;
			continue;
		}
		i++;
	}
	if (sc.changed) {
		set->recs = xreallocarray(set->recs, set->nfiles > 0 ? set->nfiles : 1,
		    sizeof(*set->recs));
		set->nrecs = 0;
		for (i = 0; i < set->nfiles; i++)
			if (set->files[i].rec != NULL)
				set->recs[set->nrecs++] = set->files[i].rec;
		*changed = true;
	}
	*errors += sc.errors;
	ret = 0;
out:
	for (size_t j = 0; j < nnames; j++)
		free(names[j]);
	free(names);
	closedir(d);
	free(path);
	return ret;
}

static int64_t
state_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct state *
state_open(const char *dir)
{
	struct state *st;
	bool changed = false;
	int errors = 0, bad = 0;

	if (state_check_dir(dir, true) == -1)
		return NULL;
	st = xcalloc(1, sizeof(*st));
	st->dir = xstrdup(dir);
	for (int k = 0; k < STATE_NKINDS; k++) {
		char *sub;

		xasprintf(&sub, "%s/%s", dir, state_subdirs[k]);
		if (access(sub, F_OK) == -1 && errno == ENOENT) {
			log_errorx("state directory '%s' has no %s/: run 'zt edge init' to "
			    "complete it", dir, state_subdirs[k]);
			bad++;
		} else if (state_check_dir(sub, false) == -1)
			bad++;
		free(sub);
	}
	if (bad > 0)
		goto fail;
	for (int k = 0; k < STATE_NKINDS; k++)
		if (state_scan_set(st, (enum state_kind)k, true, state_now_ns(), &changed,
		    &errors) == -1)
			bad++;
	if (bad > 0 || errors > 0) {
		log_errorx("state directory '%s' refused: fix the problems above", dir);
		goto fail;
	}
	st->generation = 1;
	return st;
fail:
	state_free(st);
	return NULL;
}

void
state_free(struct state *st)
{
	if (st == NULL)
		return;
	for (int k = 0; k < STATE_NKINDS; k++) {
		struct state_set *set = &st->sets[k];
		for (size_t i = 0; i < set->nfiles; i++)
			state_file_clear(&set->files[i]);
		free(set->files);
		free(set->recs);
	}
	free(st->dir);
	free(st);
}

const char *
state_dir(const struct state *st)
{
	return st->dir;
}

int
state_refresh(struct state *st)
{
	bool changed = false, was_failing = st->failing;
	int errors = 0, failed = 0;
	int64_t now_ns = state_now_ns();

	for (int k = 0; k < STATE_NKINDS; k++)
		if (state_scan_set(st, (enum state_kind)k, false, now_ns, &changed, &errors) == -1)
			failed++;
	if (failed == 0 && was_failing) {
		log_info("state directory '%s' is readable again", st->dir);
		st->failing = false;
	}
	if (changed)
		st->generation++;
	if (failed > 0)
		return -1;
	return changed ? 1 : 0;
}

uint64_t
state_generation(const struct state *st)
{
	return st->generation;
}

/* --- lookups ------------------------------------------------------------------------------ */

static const struct state_rec *
state_find_name(const struct state *st, enum state_kind kind, const char *name)
{
	const struct state_set *set = &st->sets[kind];
	size_t lo = 0, hi = set->nfiles;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, set->files[mid].name);
		if (c == 0)
			return set->files[mid].rec;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static const struct state_rec *
state_find_id(const struct state *st, enum state_kind kind, const char *id)
{
	const struct state_set *set = &st->sets[kind];

	for (size_t i = 0; i < set->nrecs; i++)
		if (strcmp(state_rec_id(set->recs[i]), id) == 0)
			return set->recs[i];
	return NULL;
}

size_t
state_token_count(const struct state *st)
{
	return st->sets[STATE_KIND_TOKEN].nrecs;
}

const struct state_token *
state_token_nth(const struct state *st, size_t i)
{
	const struct state_set *set = &st->sets[STATE_KIND_TOKEN];

	return i < set->nrecs ? &set->recs[i]->tok : NULL;
}

const struct state_token *
state_token_by_name(const struct state *st, const char *name)
{
	const struct state_rec *r = state_find_name(st, STATE_KIND_TOKEN, name);

	return r != NULL ? &r->tok : NULL;
}

const struct state_token *
state_token_by_id(const struct state *st, const char *id)
{
	const struct state_rec *r = state_find_id(st, STATE_KIND_TOKEN, id);

	return r != NULL ? &r->tok : NULL;
}

size_t
state_tunnel_count(const struct state *st)
{
	return st->sets[STATE_KIND_TUNNEL].nrecs;
}

const struct state_tunnel *
state_tunnel_nth(const struct state *st, size_t i)
{
	const struct state_set *set = &st->sets[STATE_KIND_TUNNEL];

	return i < set->nrecs ? &set->recs[i]->tun : NULL;
}

const struct state_tunnel *
state_tunnel_by_name(const struct state *st, const char *name)
{
	const struct state_rec *r = state_find_name(st, STATE_KIND_TUNNEL, name);

	return r != NULL ? &r->tun : NULL;
}

const struct state_tunnel *
state_tunnel_by_id(const struct state *st, const char *id)
{
	const struct state_rec *r = state_find_id(st, STATE_KIND_TUNNEL, id);

	return r != NULL ? &r->tun : NULL;
}

/* --- verification ------------------------------------------------------------------------- */

const char *
state_verdict_str(enum state_verdict v)
{
	switch (v) {
	case STATE_OK:
		return "ok";
	case STATE_UNKNOWN:
		return "unknown id";
	case STATE_BAD_SECRET:
		return "bad secret";
	case STATE_EXPIRED:
		return "expired";
	case STATE_REVOKED:
		return "revoked";
	}
	return "?";
}

/* The verdict on r for a secret that matched its current (or, with previous, its previous)
 * hash, at now; sets the deadline up to which an OK stands. */
static enum state_verdict
state_judge(const struct state_rec *r, bool previous, time_t now, time_t *deadline)
{
	*deadline = 0;
	if (r->kind == STATE_KIND_TUNNEL)
		return STATE_OK;
	if (r->tok.revoked != 0)
		return STATE_REVOKED;
	if (now >= r->tok.expires)
		return STATE_EXPIRED;
	*deadline = r->tok.expires;
	if (previous && r->tok.grace_until < *deadline)
		*deadline = r->tok.grace_until;
	return STATE_OK;
}

/* Verifies id and secret against kind's entries in constant time (see state.h). */
static enum state_verdict
state_verify(const struct state *st, enum state_kind kind, const char *id, const char *secret,
    time_t now, struct state_auth *auth)
{
	const struct state_set *set = &st->sets[kind];
	const struct state_rec *match = NULL;
	uint8_t raw[STATE_SECRET_LEN], hash[STATE_HASH_LEN];
	const uint8_t *cur, *prev;
	uint64_t want[2] = { 0, 0 };
	size_t found = 0;
	bool id_ok, secret_ok, hash_ok, eq_cur, eq_prev, prev_live;
	enum state_verdict v;
	time_t deadline = 0;

	/* Every entry is compared, without a branch on the result: the time taken depends on the
	 * number of entries, not on whether or where the id is among them. (A malformed id is the
	 * client's own knowledge; it is refused after the same scan.) */
	id_ok = id != NULL && strnlen(id, STATE_ID_MAX + 1) <= STATE_ID_MAX &&
	    state_id_valid(kind, id);
	if (id_ok)
		state_id_key(id, want);
	for (size_t i = 0; i < set->nrecs; i++) {
		const uint64_t *k = set->recs[i]->idkey;
		uint64_t d = (k[0] ^ want[0]) | (k[1] ^ want[1]);
		uint64_t eq = ((d | (0 - d)) >> 63) - 1;	/* all ones iff d == 0 */

		found |= (size_t)((uint64_t)(i + 1) & eq);
	}
	if (id_ok && found != 0)
		match = set->recs[found - 1];

	secret_ok = secret != NULL &&
	    strnlen(secret, STATE_SECRET_HEX_LEN + 1) == STATE_SECRET_HEX_LEN &&
	    util_hex_decode(secret, STATE_SECRET_HEX_LEN, raw, sizeof(raw)) == STATE_SECRET_LEN;
	if (!secret_ok)
		memset(raw, 0, sizeof(raw));
	hash_ok = state_sha256(raw, sizeof(raw), hash) == 0;
	util_cleanse(raw, sizeof(raw));

	/* Both comparisons happen whatever matched, against a dummy where nothing did. */
	cur = match != NULL ? match->hash : state_dummy_hash;
	prev = match != NULL && match->has_prev ? match->prev_hash : state_dummy_hash;
	eq_cur = util_ct_equal(hash, cur, sizeof(hash));
	eq_prev = util_ct_equal(hash, prev, sizeof(hash));
	prev_live = match != NULL && match->has_prev && now < match->tok.grace_until;

	if (match == NULL)
		v = STATE_UNKNOWN;
	else if (!secret_ok || !hash_ok || !(eq_cur || (eq_prev && prev_live)))
		v = STATE_BAD_SECRET;
	else
		v = state_judge(match, !eq_cur, now, &deadline);

	if (auth != NULL) {
		memset(auth, 0, sizeof(*auth));
		auth->verdict = v;
		if (match != NULL)
			util_strlcpy(auth->name, state_rec_name(match), sizeof(auth->name));
		/* Only a well-formed id is kept: the caller logs it. */
		if (id_ok)
			util_strlcpy(auth->id, id, sizeof(auth->id));
		if (secret_ok && hash_ok)
			util_hex_encode(hash, STATE_FPR_LEN / 2, auth->fingerprint,
			    sizeof(auth->fingerprint));
		auth->previous = v == STATE_OK && !eq_cur;
		auth->deadline = deadline;
	}
	util_cleanse(hash, sizeof(hash));
	return v;
}

enum state_verdict
state_token_verify(const struct state *st, const char *id, const char *secret, time_t now,
    struct state_auth *auth)
{
	return state_verify(st, STATE_KIND_TOKEN, id, secret, now, auth);
}

enum state_verdict
state_tunnel_verify(const struct state *st, const char *id, const char *secret, time_t now,
    struct state_auth *auth)
{
	return state_verify(st, STATE_KIND_TUNNEL, id, secret, now, auth);
}

/* Whether the secret auth was admitted with is still hash (by its fingerprint). */
static bool
state_fpr_is(const struct state_auth *auth, const uint8_t hash[STATE_HASH_LEN])
{
	char fpr[STATE_FPR_LEN + 1];

	util_hex_encode(hash, STATE_FPR_LEN / 2, fpr, sizeof(fpr));
	return auth->fingerprint[0] != '\0' && strcmp(fpr, auth->fingerprint) == 0;
}

/* Re-judges a connection admitted earlier against kind's current entries. */
static enum state_verdict
state_recheck(const struct state *st, enum state_kind kind, struct state_auth *auth, time_t now)
{
	const struct state_rec *r = state_find_id(st, kind, auth->id);
	enum state_verdict v;
	time_t deadline = 0;
	bool previous = false;

	if (auth->id[0] == '\0' || r == NULL)
		v = STATE_UNKNOWN;
	else if (state_fpr_is(auth, r->hash))
		v = state_judge(r, false, now, &deadline);
	else if (r->has_prev && now < r->tok.grace_until && state_fpr_is(auth, r->prev_hash)) {
		previous = true;
		v = state_judge(r, true, now, &deadline);
	} else
		v = STATE_BAD_SECRET;
	auth->verdict = v;
	auth->previous = v == STATE_OK && previous;
	auth->deadline = deadline;
	return v;
}

enum state_verdict
state_token_recheck(const struct state *st, struct state_auth *auth, time_t now)
{
	return state_recheck(st, STATE_KIND_TOKEN, auth, now);
}

enum state_verdict
state_tunnel_recheck(const struct state *st, struct state_auth *auth, time_t now)
{
	return state_recheck(st, STATE_KIND_TUNNEL, auth, now);
}

/* --- initialisation and mutations --------------------------------------------------------- */

int
state_init(const char *dir)
{
	char *sub;

	if (util_mkdir_p(dir, 0700) == -1) {
		log_error("cannot create state directory '%s'", dir);
		return -1;
	}
	if (state_check_dir(dir, true) == -1)
		return -1;
	for (int k = 0; k < STATE_NKINDS; k++) {
		int r;

		xasprintf(&sub, "%s/%s", dir, state_subdirs[k]);
		if (mkdir(sub, 0700) == -1 && errno != EEXIST) {
			log_error("cannot create %s", sub);
			free(sub);
			return -1;
		}
		r = state_check_dir(sub, false);
		free(sub);
		if (r == -1)
			return -1;
	}
	return 0;
}

/* Takes DIR/.lock for a read-modify-write; returns the descriptor to close, or -1. */
static int
state_lock(const struct state *st)
{
	char err[PATH_MAX + 128];
	int fd;

	if ((fd = util_dir_lock(st->dir, err, sizeof(err))) == -1)
		log_errorx("%s", err);
	return fd;
}

/* Re-reads the state under the lock before a change; a directory that cannot be read fails. */
static int
state_begin(struct state *st)
{
	int lk;

	if ((lk = state_lock(st)) == -1)
		return -1;
	if (state_refresh(st) == -1) {
		log_errorx("state directory '%s' could not be read; nothing changed", st->dir);
		close(lk);
		return -1;
	}
	return lk;
}

/* Writes r to its file atomically with mode 0600 and reads the directory again. */
static int
state_store(struct state *st, const struct state_rec *r)
{
	char *path, *text = state_format(r);
	int ret = -1;

	xasprintf(&path, "%s/%s/%s", st->dir, state_subdirs[r->kind], state_rec_name(r));
	if (util_write_file_atomic(path, text, strlen(text), 0600) == -1) {
		log_error("cannot write %s", path);
		goto out;
	}
	if (state_refresh(st) == -1)
		goto out;
	if (state_find_name(st, r->kind, state_rec_name(r)) == NULL) {
		log_errorx("%s was written but does not read back", path);
		goto out;
	}
	ret = 0;
out:
	free(path);
	free(text);
	return ret;
}

/* Finds an entry by name, else by id; logs when there is none. */
static const struct state_rec *
state_find(const struct state *st, enum state_kind kind, const char *name_or_id)
{
	const struct state_rec *r = state_find_name(st, kind, name_or_id);
	char q[96];

	if (r == NULL)
		r = state_find_id(st, kind, name_or_id);
	if (r == NULL)
		log_errorx("no %s named '%s' (nor with that id) in %s/%s", state_what[kind],
		    state_quote(name_or_id, q, sizeof(q)), st->dir, state_subdirs[kind]);
	return r;
}

/* Checks that name is valid and free in kind; logs why not. */
static int
state_name_free(const struct state *st, enum state_kind kind, const char *name)
{
	char err[160], *path;
	struct stat sb;
	int ret = 0;

	if (!state_name_valid(name, err, sizeof(err))) {
		log_errorx("%s", err);
		return -1;
	}
	xasprintf(&path, "%s/%s/%s", st->dir, state_subdirs[kind], name);
	if (lstat(path, &sb) == 0 || errno != ENOENT) {
		log_errorx("a %s named '%s' already exists (%s): choose another name",
		    state_what[kind], name, path);
		ret = -1;
	}
	free(path);
	return ret;
}

/* Gives r a new random secret: its hash goes into r, its hex form into secret. */
static int
state_new_secret(struct state_rec *r, char secret[STATE_SECRET_HEX_LEN + 1])
{
	uint8_t raw[STATE_SECRET_LEN];
	int ret = -1;

	if (util_random_bytes(raw, sizeof(raw)) == -1 ||
	    state_sha256(raw, sizeof(raw), r->hash) == -1)
		goto out;
	util_hex_encode(raw, sizeof(raw), secret, STATE_SECRET_HEX_LEN + 1);
	ret = 0;
out:
	util_cleanse(raw, sizeof(raw));
	return ret;
}

/* Gives r a new random id, unused in its kind, and a new secret. */
static int
state_new_credentials(const struct state *st, struct state_rec *r,
    char secret[STATE_SECRET_HEX_LEN + 1])
{
	uint8_t idb[16];
	char id[STATE_ID_MAX + 1];

	do {
		if (util_random_bytes(idb, sizeof(idb)) == -1)
			return -1;
		util_hex_encode(idb, sizeof(idb), id, sizeof(id));
		if (r->kind == STATE_KIND_TOKEN)
			memcpy(id + 32, ".access", sizeof(".access"));
	} while (state_find_id(st, r->kind, id) != NULL);
	state_id_key(id, r->idkey);
	if (r->kind == STATE_KIND_TOKEN)
		memcpy(r->tok.id, id, sizeof(r->tok.id));
	else
		memcpy(r->tun.id, id, sizeof(r->tun.id));
	return state_new_secret(r, secret);
}

int
state_token_create(struct state *st, const char *name, uint64_t duration_ms, time_t now,
    struct state_token *out, char secret[STATE_SECRET_HEX_LEN + 1])
{
	struct state_rec r;
	char d[32];
	int lk, ret = -1;

	memset(&r, 0, sizeof(r));
	secret[0] = '\0';
	if (duration_ms < 1000 || duration_ms > STATE_DURATION_MAX) {
		util_format_duration(duration_ms, d, sizeof(d));
		log_errorx("a token's duration must be between 1s and 876000h (100 years), not %s",
		    d);
		return -1;
	}
	if (now < 0 || now + (time_t)(duration_ms / 1000) > UTIL_TIME_MAX) {
		log_errorx("a token cannot expire after the year 9999");
		return -1;
	}
	if ((lk = state_begin(st)) == -1)
		return -1;
	if (state_name_free(st, STATE_KIND_TOKEN, name) == -1)
		goto out;
	r.kind = STATE_KIND_TOKEN;
	util_strlcpy(r.tok.name, name, sizeof(r.tok.name));
	r.tok.created = now;
	r.tok.expires = now + (time_t)(duration_ms / 1000);
	if (state_new_credentials(st, &r, secret) == -1 || state_store(st, &r) == -1)
		goto out;
	if (out != NULL)
		*out = r.tok;
	ret = 0;
out:
	if (ret == -1)
		util_cleanse(secret, STATE_SECRET_HEX_LEN + 1);
	util_cleanse(&r, sizeof(r));
	close(lk);
	return ret;
}

int
state_token_revoke(struct state *st, const char *name_or_id, time_t now, struct state_token *out)
{
	const struct state_rec *found;
	struct state_rec r;
	int lk, ret = -1;

	memset(&r, 0, sizeof(r));
	if ((lk = state_begin(st)) == -1)
		return -1;
	if ((found = state_find(st, STATE_KIND_TOKEN, name_or_id)) == NULL)
		goto out;
	r = *found;
	if (r.tok.revoked != 0) {
		ret = 1;
	} else {
		/* 0 means "not revoked", and no real revocation happens at the epoch. */
		r.tok.revoked = now > 0 ? now : 1;
		if (state_store(st, &r) == -1)
			goto out;
		ret = 0;
	}
	if (out != NULL)
		*out = r.tok;
out:
	util_cleanse(&r, sizeof(r));
	close(lk);
	return ret;
}

int
state_token_rotate(struct state *st, const char *name_or_id, uint64_t grace_ms, time_t now,
    struct state_token *out, char secret[STATE_SECRET_HEX_LEN + 1])
{
	const struct state_rec *found;
	struct state_rec r;
	char t[STATE_TIME_LEN + 1], d[32];
	int lk, ret = -1;

	memset(&r, 0, sizeof(r));
	secret[0] = '\0';
	if (grace_ms > STATE_GRACE_MAX) {
		util_format_duration(grace_ms, d, sizeof(d));
		log_errorx("a rotation's grace period is at most 720h (30 days), not %s", d);
		return -1;
	}
	if ((lk = state_begin(st)) == -1)
		return -1;
	if ((found = state_find(st, STATE_KIND_TOKEN, name_or_id)) == NULL)
		goto out;
	r = *found;
	if (r.tok.revoked != 0) {
		state_format_time(r.tok.revoked, t);
		log_errorx("service token '%s' was revoked at %s: create a new one instead",
		    r.tok.name, t);
		goto out;
	}
	if (now >= r.tok.expires) {
		state_format_time(r.tok.expires, t);
		log_errorx("service token '%s' expired at %s: create a new one instead",
		    r.tok.name, t);
		goto out;
	}
	r.has_prev = grace_ms >= 1000;
	if (r.has_prev) {
		memcpy(r.prev_hash, r.hash, sizeof(r.hash));
		r.tok.grace_until = now + (time_t)(grace_ms / 1000);
	} else {
		memset(r.prev_hash, 0, sizeof(r.prev_hash));
		r.tok.grace_until = 0;
	}
	if (state_new_secret(&r, secret) == -1 || state_store(st, &r) == -1)
		goto out;
	if (out != NULL)
		*out = r.tok;
	ret = 0;
out:
	if (ret == -1)
		util_cleanse(secret, STATE_SECRET_HEX_LEN + 1);
	util_cleanse(&r, sizeof(r));
	close(lk);
	return ret;
}

int
state_tunnel_create(struct state *st, const char *name, time_t now, struct state_tunnel *out,
    char secret[STATE_SECRET_HEX_LEN + 1])
{
	struct state_rec r;
	int lk, ret = -1;

	memset(&r, 0, sizeof(r));
	secret[0] = '\0';
	if ((lk = state_begin(st)) == -1)
		return -1;
	if (state_name_free(st, STATE_KIND_TUNNEL, name) == -1)
		goto out;
	r.kind = STATE_KIND_TUNNEL;
	util_strlcpy(r.tun.name, name, sizeof(r.tun.name));
	r.tun.created = now;
	if (state_new_credentials(st, &r, secret) == -1 || state_store(st, &r) == -1)
		goto out;
	if (out != NULL)
		*out = r.tun;
	ret = 0;
out:
	if (ret == -1)
		util_cleanse(secret, STATE_SECRET_HEX_LEN + 1);
	util_cleanse(&r, sizeof(r));
	close(lk);
	return ret;
}

int
state_tunnel_delete(struct state *st, const char *name_or_id, struct state_tunnel *out)
{
	const struct state_rec *found;
	struct state_tunnel tun;
	char *path = NULL, *sub = NULL;
	int lk, dfd, ret = -1;

	if ((lk = state_begin(st)) == -1)
		return -1;
	if ((found = state_find(st, STATE_KIND_TUNNEL, name_or_id)) == NULL)
		goto out;
	tun = found->tun;
	xasprintf(&sub, "%s/%s", st->dir, state_subdirs[STATE_KIND_TUNNEL]);
	xasprintf(&path, "%s/%s", sub, tun.name);
	if (unlink(path) == -1) {
		log_error("cannot remove %s", path);
		goto out;
	}
	if ((dfd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(dfd);
		close(dfd);
	}
	if (state_refresh(st) == -1)
		goto out;
	if (out != NULL)
		*out = tun;
	ret = 0;
out:
	free(path);
	free(sub);
	close(lk);
	return ret;
}
