/* users: the people of the edge as small files in DIR/users: scrypt password hashes (RFC 7914
 * through OpenSSL's EVP_KDF), groups, TOTP second factor (RFC 6238), and the rate limiter of
 * failed sign-ins (doc/identity.md). */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "log.h"
#include "users.h"
#include "util.h"

#define USERS_FILE_MAX		16384	/* 64 groups of 128 characters fit */
#define USERS_SALT_LEN		16
#define USERS_HASH_LEN		32
#define USERS_LN		15	/* N = 2^15 */
#define USERS_R			8
#define USERS_P			1
/* The most memory a hash read from a file may ask of scrypt (128 * r * N * p bytes, plus
 * OpenSSL's own bookkeeping): files from a later zt may use stronger parameters, not absurd
 * ones. OpenSSL's own default limit would allow 1 GiB. */
#define USERS_SCRYPT_MAXMEM	(256ULL * 1024 * 1024 + 4 * 1024 * 1024)
#define USERS_PHC_MAX		128
#define USERS_TOTP_LEN		20	/* bytes of secret (RFC 4226 section 4 recommends 160 bits) */
#define USERS_TOTP_B32_LEN	32
#define USERS_TOTP_STEP		30
#define USERS_TOTP_DIGITS	6
#define USERS_RACY_NS		(2LL * 1000000000LL)

/* One parsed user file, with what callers of users_get never see. */
struct users_rec {
	struct user_info info;
	unsigned	 ln, r, p;
	uint8_t		 salt[USERS_SALT_LEN];
	uint8_t		 hash[USERS_HASH_LEN];
	uint8_t		 totp[USERS_TOTP_LEN];
	bool		 has_last;
	uint64_t	 totp_last;
};

/* A file of DIR/users as last seen by users_refresh. */
struct users_file {
	char		*name;
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	int64_t		 mtime_ns, ctime_ns;
	mode_t		 mode;
	bool		 have_sig;
	char		*problem;	/* logged once */
	struct user_info *info;		/* the last good version; NULL if none */
};

struct users {
	char		*dir;		/* DIR */
	char		*path;		/* DIR/users */
	struct users_file *files;	/* sorted by name */
	size_t		 nfiles;
	struct user_info **list;	/* the good ones, in email order */
	size_t		 nlist;
};

/* Compared against for unknown users, so that they cost what known ones do. */
static const uint8_t users_dummy_salt[USERS_SALT_LEN] = "zt-users-dummy!";
static const uint8_t users_dummy_hash[USERS_HASH_LEN] = "zt: this hash matches nothing!!";

/* --- small helpers -------------------------------------------------------------------- */

static int
users_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Writes a message into err; returns -1 for the caller's return. */
static int
users_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static bool
users_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool
users_email_valid(const char *email, char *out, size_t outlen)
{
	size_t len = strlen(email);

	/* policy's grammar without '/': the address is also a file name. */
	if (len > USERS_EMAIL_MAX || len + 1 > outlen || !util_email_valid(email, true))
		return false;
	for (size_t i = 0; i <= len; i++)
		out[i] = (email[i] >= 'A' && email[i] <= 'Z') ? (char)(email[i] - 'A' + 'a') :
		    email[i];
	/* Reserved for the temporary files of atomic replacement. */
	if (strstr(out, ".tmp-") != NULL)
		return false;
	return true;
}

/* Whether g is a group name: 1-128 printable ASCII characters, no space. */
static bool
users_group_valid(const char *g)
{
	size_t n = strlen(g);

	if (n == 0 || n > USERS_GROUP_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (g[i] <= 0x20 || g[i] >= 0x7f)
			return false;
	return true;
}

/* Checks and copies groups into info, refusing invalid names and duplicates. */
static int
users_set_info_groups(struct user_info *info, const char *const *groups, size_t ngroups,
    char *err, size_t errlen)
{
	char q[160];

	if (ngroups > USERS_GROUPS_MAX)
		return users_err(err, errlen, "%zu groups: a user has at most %d", ngroups,
		    USERS_GROUPS_MAX);
	memset(info->groups, 0, sizeof(info->groups));
	info->ngroups = 0;
	for (size_t i = 0; i < ngroups; i++) {
		if (!users_group_valid(groups[i]))
			return users_err(err, errlen, "group '%s' is not 1-%d printable ASCII "
			    "characters without spaces", util_quote(groups[i], q, sizeof(q)),
			    USERS_GROUP_MAX);
		for (size_t j = 0; j < i; j++)
			if (strcmp(groups[i], groups[j]) == 0)
				return users_err(err, errlen, "group '%s' is given twice",
				    util_quote(groups[i], q, sizeof(q)));
		util_strlcpy(info->groups[info->ngroups++], groups[i], USERS_GROUP_MAX + 1);
	}
	return 0;
}

/* --- base32 (RFC 4648 section 6, upper case, no padding) --------------------------------- */

static const char users_b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* Encodes len bytes (a multiple of 5) into out (8 * len / 5 + 1 bytes). */
static void
users_b32_encode(const uint8_t *in, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i + 5 <= len; i += 5) {
		uint64_t v = 0;
		for (size_t k = 0; k < 5; k++)
			v = (v << 8) | in[i + k];
		for (int k = 7; k >= 0; k--)
			out[o++] = users_b32[(v >> (5 * k)) & 31];
	}
	out[o] = '\0';
}

/* Decodes exactly USERS_TOTP_B32_LEN upper-case base32 characters. */
static int
users_b32_decode(const char *s, uint8_t out[USERS_TOTP_LEN])
{
	if (strlen(s) != USERS_TOTP_B32_LEN)
		return -1;
	for (size_t i = 0; i < USERS_TOTP_B32_LEN; i += 8) {
		uint64_t v = 0;
		for (size_t k = 0; k < 8; k++) {
			const char *c = strchr(users_b32, s[i + k]);
			if (s[i + k] == '\0' || c == NULL)
				return -1;
			v = (v << 5) | (uint64_t)(c - users_b32);
		}
		for (size_t k = 0; k < 5; k++)
			out[i / 8 * 5 + k] = (uint8_t)(v >> (8 * (4 - k)));
	}
	return 0;
}

/* --- scrypt --------------------------------------------------------------------------- */

int
users_scrypt(const void *pw, size_t pwlen, const uint8_t *salt, size_t saltlen, unsigned ln,
    unsigned r, unsigned p, uint8_t *out, size_t outlen)
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *ctx = NULL;
	OSSL_PARAM params[7], *q = params;
	uint64_t n = 1ULL << ln, maxmem = USERS_SCRYPT_MAXMEM;
	uint32_t r32 = r, p32 = p;
	int ret = -1;

	if (ln < 1 || ln > 30)
		return -1;
	/* OpenSSL reads an empty octet string from a non-NULL pointer only. */
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
	    (void *)(pwlen > 0 ? pw : ""), pwlen);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
	    (void *)(saltlen > 0 ? (const void *)salt : ""), saltlen);
	*q++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
	*q++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r32);
	*q++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p32);
	*q++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem);
	*q = OSSL_PARAM_construct_end();
	if ((kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL)) == NULL ||
	    (ctx = EVP_KDF_CTX_new(kdf)) == NULL ||
	    EVP_KDF_derive(ctx, out, outlen, params) != 1) {
		log_ssl_errors("users_scrypt: scrypt (N=2^%u, r=%u, p=%u) failed", ln, r, p);
		goto out;
	}
	ret = 0;
out:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return ret;
}

/* PHC's base64: the standard alphabet without padding. */
static bool
users_b64_nopad(const uint8_t *in, size_t len, char *out, size_t outlen)
{
	ssize_t n = util_b64_encode(in, len, out, outlen);

	if (n < 0)
		return false;
	while (n > 0 && out[n - 1] == '=')
		out[--n] = '\0';
	return true;
}

/* Decodes PHC base64 of exactly len bytes. */
static bool
users_b64_nopad_decode(const char *s, size_t slen, uint8_t *out, size_t len)
{
	char buf[96];
	size_t padded = (slen + 3) / 4 * 4;

	if (slen != (len * 4 + 2) / 3 || padded >= sizeof(buf))
		return false;
	memcpy(buf, s, slen);
	memset(buf + slen, '=', padded - slen);
	buf[padded] = '\0';
	return util_b64_decode(buf, padded, out, len) == (ssize_t)len;
}

/* Hashes password into r with a fresh salt and the current parameters. */
static int
users_hash_new(struct users_rec *r, const char *password)
{
	r->ln = USERS_LN;
	r->r = USERS_R;
	r->p = USERS_P;
	if (util_random_bytes(r->salt, sizeof(r->salt)) == -1)
		return -1;
	return users_scrypt(password, strlen(password), r->salt, sizeof(r->salt), r->ln, r->r,
	    r->p, r->hash, sizeof(r->hash));
}

/* Parses "$scrypt$ln=15,r=8,p=1$SALT$HASH". */
static bool
users_parse_phc(const char *s, struct users_rec *r)
{
	const char *salt, *hash;
	unsigned ln, rr, p;
	int n = 0;

	if (sscanf(s, "$scrypt$ln=%2u,r=%2u,p=%2u$%n", &ln, &rr, &p, &n) != 3 || n == 0)
		return false;
	/* sscanf skips spaces and accepts signs; only the canonical digits print back. */
	{
		char canon[48];
		if (!util_snprintf(canon, sizeof(canon), "$scrypt$ln=%u,r=%u,p=%u$", ln, rr, p) ||
		    strlen(canon) != (size_t)n || memcmp(canon, s, (size_t)n) != 0)
			return false;
	}
	if (ln < 10 || ln > 20 || rr < 1 || rr > 32 || p < 1 || p > 16 ||
	    128ULL * rr * p * (1ULL << ln) > 256ULL * 1024 * 1024)
		return false;
	salt = s + n;
	if ((hash = strchr(salt, '$')) == NULL ||
	    !users_b64_nopad_decode(salt, (size_t)(hash - salt), r->salt, USERS_SALT_LEN))
		return false;
	hash++;
	if (!users_b64_nopad_decode(hash, strlen(hash), r->hash, USERS_HASH_LEN))
		return false;
	r->ln = ln;
	r->r = rr;
	r->p = p;
	return true;
}

static void
users_format_phc(const struct users_rec *r, char out[USERS_PHC_MAX])
{
	char salt[32], hash[64];

	users_b64_nopad(r->salt, sizeof(r->salt), salt, sizeof(salt));
	users_b64_nopad(r->hash, sizeof(r->hash), hash, sizeof(hash));
	snprintf(out, USERS_PHC_MAX, "$scrypt$ln=%u,r=%u,p=%u$%s$%s", r->ln, r->r, r->p, salt,
	    hash);
}

/* --- TOTP (RFC 6238 over RFC 4226) ----------------------------------------------------- */

uint32_t
users_totp_code(const uint8_t *secret, size_t len, uint64_t step)
{
	uint8_t msg[8], mac[EVP_MAX_MD_SIZE];
	size_t maclen = 0;
	unsigned off;
	uint32_t bin;

	for (int i = 7; i >= 0; i--, step >>= 8)
		msg[i] = (uint8_t)step;
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA1", NULL, secret, len, msg, sizeof(msg), mac,
	    sizeof(mac), &maclen) == NULL || maclen != 20) {
		/* Cannot match a code the user types: 7 digits. */
		log_ssl_errors("users_totp_code: HMAC-SHA1 failed");
		return 10000000;
	}
	/* RFC 4226 section 5.3: dynamic truncation. */
	off = mac[19] & 0x0f;
	bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
	    ((uint32_t)mac[off + 2] << 8) | mac[off + 3];
	util_cleanse(mac, sizeof(mac));
	return bin % 1000000;
}

/* --- the file format ------------------------------------------------------------------ */

enum users_key {
	UK_VERSION = 0, UK_TYPE, UK_EMAIL, UK_GROUPS, UK_PASSWORD, UK_TOTP, UK_TOTP_LAST,
	UK_CREATED, UK_COUNT
};

static const char *const users_keys[UK_COUNT] = {
	"zt-state", "type", "email", "groups", "password", "totp", "totp-last", "created",
};

struct users_perr {
	size_t		 line;
	char		 msg[256];
};

static int
users_perr(struct users_perr *e, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
users_perr(struct users_perr *e, size_t line, const char *fmt, ...)
{
	va_list ap;

	e->line = line;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* Parses one file (grammar in doc/identity.md, the rules of state.h) into r. */
static int
users_parse(const char *data, size_t len, const char *expect, struct users_rec *r,
    struct users_perr *e)
{
	/* Values point into a private copy of data, cut at each line's end. */
	char *copy = NULL, *vals[UK_COUNT] = { NULL };
	size_t lines[UK_COUNT] = { 0 }, line = 0;
	char q[96], email[USERS_EMAIL_MAX + 1];
	char *p, *end;
	int ret = -1;

	memset(r, 0, sizeof(*r));
	if (len > USERS_FILE_MAX)
		return users_perr(e, 0, "larger than %d bytes", USERS_FILE_MAX);
	if (memchr(data, '\0', len) != NULL)
		return users_perr(e, 0, "contains a NUL byte");
	copy = xmalloc(len + 1);
	memcpy(copy, data, len);
	copy[len] = '\0';
	p = copy;
	end = copy + len;
	while (p < end) {
		char *ls = p, *eol = memchr(p, '\n', (size_t)(end - p)), *k, *v, *vend;
		size_t klen;
		int ki;

		if (eol == NULL)
			eol = end;
		p = eol < end ? eol + 1 : end;
		line++;
		for (char *c = ls; c < eol; c++) {
			unsigned char ch = (unsigned char)*c;
			if (ch == '\r') {
				users_perr(e, line, "carriage return: save the file with Unix line "
				    "endings");
				goto out;
			}
			if ((ch < 0x20 && ch != '\t') || ch >= 0x7f) {
				users_perr(e, line, "byte 0x%02x in column %zu: only printable ASCII "
				    "is allowed", ch, (size_t)(c - ls) + 1);
				goto out;
			}
		}
		*eol = '\0';
		while (*ls == ' ' || *ls == '\t')
			ls++;
		if (*ls == '\0' || *ls == '#')
			continue;
		k = ls;
		while ((*ls >= 'a' && *ls <= 'z') || *ls == '-' || (*ls >= '0' && *ls <= '9'))
			ls++;
		klen = (size_t)(ls - k);
		if (klen == 0) {
			users_perr(e, line, "expected 'key = value'");
			goto out;
		}
		for (ki = 0; ki < UK_COUNT; ki++)
			if (strlen(users_keys[ki]) == klen && memcmp(k, users_keys[ki], klen) == 0)
				break;
		if (ki == UK_COUNT) {
			users_perr(e, line, "unknown key '%.*s'", klen > 32 ? 32 : (int)klen, k);
			goto out;
		}
		while (*ls == ' ' || *ls == '\t')
			ls++;
		if (*ls != '=') {
			users_perr(e, line, "expected '=' after '%s'", users_keys[ki]);
			goto out;
		}
		ls++;
		while (*ls == ' ' || *ls == '\t')
			ls++;
		v = ls;
		vend = v + strlen(v);
		while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
			vend--;
		*vend = '\0';
		if (*v == '\0') {
			users_perr(e, line, "'%s' has no value", users_keys[ki]);
			goto out;
		}
		if (ki != UK_GROUPS && strpbrk(v, " \t") != NULL) {
			users_perr(e, line, "the value of '%s' contains a space", users_keys[ki]);
			goto out;
		}
		if (lines[UK_VERSION] == 0 && ki != UK_VERSION) {
			users_perr(e, line, "the first key must be 'zt-state = 1', not '%s'",
			    users_keys[ki]);
			goto out;
		}
		if (lines[ki] != 0) {
			users_perr(e, line, "'%s' is given twice (first on line %zu)",
			    users_keys[ki], lines[ki]);
			goto out;
		}
		lines[ki] = line;
		vals[ki] = v;
		if (ki == UK_VERSION && strcmp(v, "1") != 0) {
			users_perr(e, line, "format version '%s' is not supported: this zt reads "
			    "version 1", util_quote(v, q, sizeof(q)));
			goto out;
		}
	}
	if (lines[UK_VERSION] == 0) {
		users_perr(e, 0, "empty: a state file starts with 'zt-state = 1'");
		goto out;
	}
	if (lines[UK_TYPE] != 0 && strcmp(vals[UK_TYPE], "user") != 0) {
		users_perr(e, lines[UK_TYPE], "type '%s' is not 'user'",
		    util_quote(vals[UK_TYPE], q, sizeof(q)));
		goto out;
	}
	/* Every value given is judged before anything missing: the first mistake first. */
	if (vals[UK_EMAIL] != NULL && (!users_email_valid(vals[UK_EMAIL], email, sizeof(email)) ||
	    strcmp(email, vals[UK_EMAIL]) != 0)) {
		users_perr(e, lines[UK_EMAIL], "email '%s' is not a lower-case address such as "
		    "alice@example.com", util_quote(vals[UK_EMAIL], q, sizeof(q)));
		goto out;
	}
	if (vals[UK_EMAIL] != NULL && expect != NULL && strcmp(email, expect) != 0) {
		users_perr(e, lines[UK_EMAIL], "email '%s' is not the file's name '%s'", email,
		    util_quote(expect, q, sizeof(q)));
		goto out;
	}
	if (vals[UK_GROUPS] != NULL) {
		char *g = vals[UK_GROUPS], *save = NULL;

		for (g = strtok_r(g, " \t", &save); g != NULL; g = strtok_r(NULL, " \t", &save)) {
			if (r->info.ngroups == USERS_GROUPS_MAX) {
				users_perr(e, lines[UK_GROUPS], "more than %d groups",
				    USERS_GROUPS_MAX);
				goto out;
			}
			if (!users_group_valid(g)) {
				users_perr(e, lines[UK_GROUPS], "group '%s' is longer than %d "
				    "characters", util_quote(g, q, sizeof(q)), USERS_GROUP_MAX);
				goto out;
			}
			for (size_t j = 0; j < r->info.ngroups; j++)
				if (strcmp(r->info.groups[j], g) == 0) {
					users_perr(e, lines[UK_GROUPS], "group '%s' is given twice",
					    util_quote(g, q, sizeof(q)));
					goto out;
				}
			util_strlcpy(r->info.groups[r->info.ngroups++], g, USERS_GROUP_MAX + 1);
		}
	}
	if (vals[UK_PASSWORD] != NULL && !users_parse_phc(vals[UK_PASSWORD], r)) {
		users_perr(e, lines[UK_PASSWORD], "'password' is not "
		    "$scrypt$ln=N,r=N,p=N$SALT$HASH (16 and 32 bytes in base64 without padding; "
		    "set it again with 'zt edge user passwd')");
		goto out;
	}
	if (vals[UK_TOTP] != NULL) {
		if (users_b32_decode(vals[UK_TOTP], r->totp) == -1) {
			users_perr(e, lines[UK_TOTP], "'totp' is not %d base32 characters (A-Z, "
			    "2-7): enrol again with 'zt edge user totp'", USERS_TOTP_B32_LEN);
			goto out;
		}
		r->info.totp = true;
	}
	if (vals[UK_TOTP_LAST] != NULL) {
		const char *s = vals[UK_TOTP_LAST];

		if (vals[UK_TOTP] == NULL) {
			users_perr(e, lines[UK_TOTP_LAST], "'totp-last' without 'totp'");
			goto out;
		}
		if (strlen(s) > 15 || strspn(s, "0123456789") != strlen(s) ||
		    (s[0] == '0' && s[1] != '\0')) {
			users_perr(e, lines[UK_TOTP_LAST], "'totp-last' is not a time step (a "
			    "decimal number)");
			goto out;
		}
		r->totp_last = strtoull(s, NULL, 10);
		r->has_last = true;
	}
	if (vals[UK_CREATED] != NULL && !util_time_parse(vals[UK_CREATED], &r->info.created)) {
		users_perr(e, lines[UK_CREATED], "'created' is not a time such as "
		    "2026-11-27T21:00:00Z");
		goto out;
	}
	for (int ki = UK_TYPE; ki < UK_COUNT; ki++) {
		if (lines[ki] == 0 && ki != UK_GROUPS && ki != UK_TOTP && ki != UK_TOTP_LAST) {
			users_perr(e, 0, "'%s' is missing", users_keys[ki]);
			goto out;
		}
	}
	util_strlcpy(r->info.email, email, sizeof(r->info.email));
	ret = 0;
out:
	util_cleanse(copy, len + 1);
	free(copy);
	if (ret == -1)
		util_cleanse(r, sizeof(*r));
	return ret;
}

static void
users_append(char *buf, size_t len, size_t *pos, const char *key, const char *value)
{
	int n = snprintf(buf + *pos, len - *pos, "%s = %s\n", key, value);

	if (n < 0 || (size_t)n >= len - *pos)
		fatalx("users_append: a user file outgrew its buffer");
	*pos += (size_t)n;
}

/* The canonical text of r (the caller wipes and frees it). */
static char *
users_format(const struct users_rec *r)
{
	static const char head[] = "# zt user: written by 'zt edge user'; the password itself "
	    "is never stored\n";
	char *buf = xmalloc(USERS_FILE_MAX), phc[USERS_PHC_MAX], b32[USERS_TOTP_B32_LEN + 1];
	char groups[USERS_GROUPS_MAX * (USERS_GROUP_MAX + 1) + 1], t[UTIL_TIME_LEN + 1];
	char last[24];
	size_t pos = sizeof(head) - 1, gpos = 0;

	memcpy(buf, head, sizeof(head));
	users_append(buf, USERS_FILE_MAX, &pos, "zt-state", "1");
	users_append(buf, USERS_FILE_MAX, &pos, "type", "user");
	users_append(buf, USERS_FILE_MAX, &pos, "email", r->info.email);
	groups[0] = '\0';
	for (size_t i = 0; i < r->info.ngroups; i++) {
		size_t n = strlen(r->info.groups[i]);
		if (i > 0)
			groups[gpos++] = ' ';
		memcpy(groups + gpos, r->info.groups[i], n + 1);
		gpos += n;
	}
	if (r->info.ngroups > 0)
		users_append(buf, USERS_FILE_MAX, &pos, "groups", groups);
	users_format_phc(r, phc);
	users_append(buf, USERS_FILE_MAX, &pos, "password", phc);
	if (r->info.totp) {
		users_b32_encode(r->totp, sizeof(r->totp), b32);
		users_append(buf, USERS_FILE_MAX, &pos, "totp", b32);
		util_cleanse(b32, sizeof(b32));
		if (r->has_last) {
			snprintf(last, sizeof(last), "%llu", (unsigned long long)r->totp_last);
			users_append(buf, USERS_FILE_MAX, &pos, "totp-last", last);
		}
	}
	util_time_format(r->info.created, t);
	users_append(buf, USERS_FILE_MAX, &pos, "created", t);
	return buf;
}

int
users_file_check(const char *label, const char *expect_email, const char *data, size_t len,
    char **canon)
{
	struct users_rec r;
	struct users_perr e;

	if (canon != NULL)
		*canon = NULL;
	if (users_parse(data, len, expect_email, &r, &e) == -1) {
		if (e.line > 0)
			log_errorx("%s:%zu: %s", label, e.line, e.msg);
		else
			log_errorx("%s: %s", label, e.msg);
		return -1;
	}
	if (canon != NULL)
		*canon = users_format(&r);
	util_cleanse(&r, sizeof(r));
	return 0;
}

/* --- files ---------------------------------------------------------------------------- */

/* Checks that path is a directory of this user with no group or other access. */
static int
users_check_dir(const char *path, char *err, size_t errlen)
{
	struct stat sb;

	if (stat(path, &sb) == -1) {
		if (errno == ENOENT)
			return users_err(err, errlen, "state directory '%s' does not exist: create "
			    "it with 'zt edge init' (or give the right -c edge.ini)", path);
		return users_err(err, errlen, "state directory '%s': %s", path, strerror(errno));
	}
	if (!S_ISDIR(sb.st_mode))
		return users_err(err, errlen, "state directory '%s' is not a directory", path);
	if (sb.st_uid != geteuid())
		return users_err(err, errlen, "state directory '%s' belongs to uid %u, not to uid "
		    "%u that runs zt: run zt as the edge's user", path, (unsigned)sb.st_uid,
		    (unsigned)geteuid());
	if ((sb.st_mode & 077) != 0)
		return users_err(err, errlen, "state directory '%s' has mode %04o: group and "
		    "others must have no access; run 'chmod 700 %s'", path,
		    (unsigned)(sb.st_mode & 07777), path);
	return 0;
}

/* Checks DIR and DIR/users (creating DIR/users, 0700, when create is set). */
static int
users_check_dirs(const char *dir, bool create, char *err, size_t errlen)
{
	char *path;
	int ret = -1;

	if (users_check_dir(dir, err, errlen) == -1)
		return -1;
	xasprintf(&path, "%s/users", dir);
	if (create && mkdir(path, 0700) == -1 && errno != EEXIST) {
		users_err(err, errlen, "cannot create '%s': %s", path, strerror(errno));
		goto out;
	}
	ret = users_check_dir(path, err, errlen);
out:
	free(path);
	return ret;
}

int
users_dir_check(const char *dir, char *err, size_t errlen)
{
	return users_check_dirs(dir, true, err, errlen);
}

/* Reads and parses DIR/users/EMAIL (email valid and lower case). Returns 0, 1 if there is no
 * such file, or -1 with err naming the file (and line) and the fix. */
static int
users_load(const char *dir, const char *email, struct users_rec *r, char *err, size_t errlen)
{
	char *path, *buf = xmalloc(USERS_FILE_MAX + 1);
	struct users_perr e;
	struct stat sb;
	size_t n = 0;
	int fd, ret = -1;

	xasprintf(&path, "%s/users/%s", dir, email);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT)
			ret = 1;
		else
			users_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &sb) == -1) {
		users_err(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		users_err(err, errlen, "%s is not a regular file: remove it", path);
		goto out;
	}
	if (sb.st_uid != geteuid()) {
		users_err(err, errlen, "%s belongs to uid %u, not to uid %u that runs zt: run zt "
		    "as the edge's user, or 'chown %u %s'", path, (unsigned)sb.st_uid,
		    (unsigned)geteuid(), (unsigned)geteuid(), path);
		goto out;
	}
	if ((sb.st_mode & 077) != 0) {
		users_err(err, errlen, "%s has mode %04o: group and others must have no access; "
		    "run 'chmod 600 %s'", path, (unsigned)(sb.st_mode & 07777), path);
		goto out;
	}
	while (n < USERS_FILE_MAX + 1) {
		ssize_t k = read(fd, buf + n, USERS_FILE_MAX + 1 - n);
		if (k == -1 && errno == EINTR)
			continue;
		if (k == -1) {
			users_err(err, errlen, "%s: cannot read: %s", path, strerror(errno));
			goto out;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	if (users_parse(buf, n, email, r, &e) == -1) {
		if (e.line > 0)
			users_err(err, errlen, "%s:%zu: %s", path, e.line, e.msg);
		else
			users_err(err, errlen, "%s: %s", path, e.msg);
		goto out;
	}
	ret = 0;
out:
	if (fd != -1)
		close(fd);
	util_cleanse(buf, USERS_FILE_MAX + 1);
	free(buf);
	free(path);
	return ret;
}

/* Writes r to DIR/users/EMAIL atomically, mode 0600. */
static int
users_store(const char *dir, const struct users_rec *r, char *err, size_t errlen)
{
	char *path, *text = users_format(r);
	size_t len = strlen(text);
	int ret = 0;

	xasprintf(&path, "%s/users/%s", dir, r->info.email);
	if (util_write_file_atomic(path, text, len, 0600) == -1)
		ret = users_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
	util_cleanse(text, len);
	free(text);
	free(path);
	return ret;
}

/* --- the CLI's mutations -------------------------------------------------------------- */

/* Checks an email for the CLI: err says what is wrong with it. */
static bool
users_email_arg(const char *email, char out[USERS_EMAIL_MAX + 1], char *err, size_t errlen)
{
	char q[300];

	if (users_email_valid(email, out, USERS_EMAIL_MAX + 1))
		return true;
	users_err(err, errlen, "'%s' is not an email address such as alice@example.com (a dot-atom "
	    "local part without '/', '@', a DNS domain; at most %d characters)",
	    util_quote(email, q, sizeof(q)), USERS_EMAIL_MAX);
	return false;
}

static bool
users_password_arg(const char *password, char *err, size_t errlen)
{
	size_t n = strlen(password);

	if (n < USERS_PASSWORD_MIN || n > USERS_PASSWORD_MAX) {
		users_err(err, errlen, "the password has %zu bytes: choose one of %d to %d bytes",
		    n, USERS_PASSWORD_MIN, USERS_PASSWORD_MAX);
		return false;
	}
	return true;
}

int
users_add(const char *dir, const char *email, const char *password, const char *const *groups,
    size_t ngroups, time_t now, char *err, size_t errlen)
{
	struct users_rec r, old;
	char lower[USERS_EMAIL_MAX + 1];
	int lk = -1, ret = -1, rc;

	memset(&r, 0, sizeof(r));
	if (!users_email_arg(email, lower, err, errlen) ||
	    !users_password_arg(password, err, errlen) ||
	    users_set_info_groups(&r.info, groups, ngroups, err, errlen) == -1 ||
	    users_check_dirs(dir, true, err, errlen) == -1)
		goto out;
	util_strlcpy(r.info.email, lower, sizeof(r.info.email));
	r.info.created = now;
	if (users_hash_new(&r, password) == -1) {
		users_err(err, errlen, "hashing the password failed (see the log above)");
		goto out;
	}
	if ((lk = util_dir_lock(dir, err, errlen)) == -1)
		goto out;
	if ((rc = users_load(dir, lower, &old, err, errlen)) != 1) {
		if (rc == 0)
			users_err(err, errlen, "user '%s' exists already: change it with 'zt edge "
			    "user passwd' or 'zt edge user groups', or remove it first with 'zt edge "
			    "user del'", lower);
		goto out;
	}
	ret = users_store(dir, &r, err, errlen);
out:
	if (lk != -1)
		close(lk);
	util_cleanse(&r, sizeof(r));
	util_cleanse(&old, sizeof(old));
	return ret;
}

/* Loads an existing user under the lock for a change; the caller closes *lk. */
static int
users_begin(const char *dir, const char *email, struct users_rec *r, int *lk, char *err,
    size_t errlen)
{
	char lower[USERS_EMAIL_MAX + 1];
	int rc;

	*lk = -1;
	if (!users_email_arg(email, lower, err, errlen) ||
	    users_check_dirs(dir, true, err, errlen) == -1 ||
	    (*lk = util_dir_lock(dir, err, errlen)) == -1)
		return -1;
	if ((rc = users_load(dir, lower, r, err, errlen)) == 1)
		return users_err(err, errlen, "no user '%s' in %s/users: see 'zt edge user list'",
		    lower, dir);
	return rc;
}

int
users_del(const char *dir, const char *email, char *err, size_t errlen)
{
	struct users_rec r;
	char *path = NULL;
	int lk, ret = -1;

	if (users_begin(dir, email, &r, &lk, err, errlen) == 0) {
		xasprintf(&path, "%s/users/%s", dir, r.info.email);
		if (unlink(path) == -1)
			users_err(err, errlen, "cannot remove %s: %s", path, strerror(errno));
		else
			ret = 0;
	}
	if (lk != -1)
		close(lk);
	free(path);
	util_cleanse(&r, sizeof(r));
	return ret;
}

int
users_passwd(const char *dir, const char *email, const char *password, char *err, size_t errlen)
{
	struct users_rec r, fresh;
	int lk = -1, ret = -1;

	memset(&fresh, 0, sizeof(fresh));
	if (!users_password_arg(password, err, errlen))
		goto out;
	/* Hashed before taking the lock: other writers wait for the file only. */
	if (users_hash_new(&fresh, password) == -1) {
		users_err(err, errlen, "hashing the password failed (see the log above)");
		goto out;
	}
	if (users_begin(dir, email, &r, &lk, err, errlen) != 0)
		goto out;
	r.ln = fresh.ln;
	r.r = fresh.r;
	r.p = fresh.p;
	memcpy(r.salt, fresh.salt, sizeof(r.salt));
	memcpy(r.hash, fresh.hash, sizeof(r.hash));
	ret = users_store(dir, &r, err, errlen);
out:
	if (lk != -1)
		close(lk);
	util_cleanse(&r, sizeof(r));
	util_cleanse(&fresh, sizeof(fresh));
	return ret;
}

int
users_set_groups(const char *dir, const char *email, const char *const *groups, size_t ngroups,
    char *err, size_t errlen)
{
	struct users_rec r;
	struct user_info info;
	int lk = -1, ret = -1;

	if (users_set_info_groups(&info, groups, ngroups, err, errlen) == -1)
		return -1;
	if (users_begin(dir, email, &r, &lk, err, errlen) == 0) {
		memcpy(r.info.groups, info.groups, sizeof(info.groups));
		r.info.ngroups = info.ngroups;
		ret = users_store(dir, &r, err, errlen);
	}
	if (lk != -1)
		close(lk);
	util_cleanse(&r, sizeof(r));
	return ret;
}

/* Appends s percent-encoded (RFC 3986: all but unreserved characters). */
static bool
users_pct(char *buf, size_t len, size_t *pos, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		bool plain = users_alnum((char)c) || c == '-' || c == '.' || c == '_' || c == '~';

		if (*pos + (plain ? 1 : 3) >= len)
			return false;
		if (plain) {
			buf[(*pos)++] = (char)c;
		} else {
			buf[(*pos)++] = '%';
			buf[(*pos)++] = hex[c >> 4];
			buf[(*pos)++] = hex[c & 15];
		}
	}
	buf[*pos] = '\0';
	return true;
}

int
users_totp_uri(const char *email, const uint8_t *secret, size_t len, char *uri, size_t urilen)
{
	char b32[USERS_TOTP_B32_LEN + 1];
	size_t pos;
	bool ok;

	if (len != USERS_TOTP_LEN || !util_snprintf(uri, urilen, "otpauth://totp/zt:"))
		return -1;
	pos = strlen(uri);
	users_b32_encode(secret, len, b32);
	ok = users_pct(uri, urilen, &pos, email) && util_snprintf(uri + pos, urilen - pos,
	    "?secret=%s&issuer=zt&algorithm=SHA1&digits=%d&period=%d", b32, USERS_TOTP_DIGITS,
	    USERS_TOTP_STEP);
	util_cleanse(b32, sizeof(b32));
	return ok ? 0 : -1;
}

int
users_totp_enrol(const char *dir, const char *email, char *uri, size_t urilen, char *err,
    size_t errlen)
{
	struct users_rec r;
	int lk = -1, ret = -1;

	if (users_begin(dir, email, &r, &lk, err, errlen) != 0)
		goto out;
	if (util_random_bytes(r.totp, sizeof(r.totp)) == -1) {
		users_err(err, errlen, "the random generator failed");
		goto out;
	}
	r.info.totp = true;
	r.has_last = false;
	r.totp_last = 0;
	if (users_totp_uri(r.info.email, r.totp, sizeof(r.totp), uri, urilen) == -1) {
		users_err(err, errlen, "the otpauth URI does not fit in %zu bytes", urilen);
		goto out;
	}
	if (users_store(dir, &r, err, errlen) == -1) {
		util_cleanse(uri, urilen);
		goto out;
	}
	ret = 0;
out:
	if (lk != -1)
		close(lk);
	util_cleanse(&r, sizeof(r));
	return ret;
}

/* --- sign-in -------------------------------------------------------------------------- */

/* Whether code is exactly six ASCII digits; its value in *out. */
static bool
users_parse_code(const char *code, uint32_t *out)
{
	uint32_t v = 0;

	if (code == NULL || strlen(code) != USERS_TOTP_DIGITS)
		return false;
	for (int i = 0; i < USERS_TOTP_DIGITS; i++) {
		if (code[i] < '0' || code[i] > '9')
			return false;
		v = v * 10 + (uint32_t)(code[i] - '0');
	}
	*out = v;
	return true;
}

/* The step of t-1, t, t+1 whose code is code and that is later than the last accepted one;
 * every candidate is computed and compared, whatever matches. */
static bool
users_totp_match(const struct users_rec *r, uint32_t code, time_t now, uint64_t *step)
{
	uint64_t t = now > 0 ? (uint64_t)now / USERS_TOTP_STEP : 0;
	bool found = false;

	for (int d = -1; d <= 1; d++) {
		uint64_t s;
		uint32_t c;
		bool ok;

		if (d < 0 && t == 0)
			continue;
		s = t + (uint64_t)(int64_t)d;
		c = users_totp_code(r->totp, sizeof(r->totp), s);
		ok = CRYPTO_memcmp(&c, &code, sizeof(c)) == 0 && (!r->has_last || s > r->totp_last);
		if (ok && !found) {
			*step = s;
			found = true;
		}
	}
	return found;
}

enum users_verdict
users_check(const char *dir, const char *email, const char *password, const char *totp,
    time_t now, struct user_info *out)
{
	struct users_rec r, fresh;
	char lower[USERS_EMAIL_MAX + 1], err[USERS_ERR_MAX];
	uint8_t hash[USERS_HASH_LEN];
	enum users_verdict v = USERS_UNKNOWN;
	bool known = false, pw_ok = false;
	uint64_t step = 0;
	uint32_t code = 0;
	int lk = -1, rc;

	memset(&r, 0, sizeof(r));
	memset(&fresh, 0, sizeof(fresh));
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (password == NULL)
		password = "";
	if (email != NULL && users_email_valid(email, lower, sizeof(lower))) {
		rc = users_load(dir, lower, &r, err, sizeof(err));
		if (rc == -1)
			log_warnx("sign-in of %s refused: %s", lower, err);
		known = rc == 0;
	}
	if (known) {
		if (users_scrypt(password, strlen(password), r.salt, sizeof(r.salt), r.ln, r.r,
		    r.p, hash, sizeof(hash)) == 0)
			pw_ok = CRYPTO_memcmp(hash, r.hash, sizeof(hash)) == 0;
	} else {
		/* The same work for nobody: the answer cannot tell who exists. */
		(void)users_scrypt(password, strlen(password), users_dummy_salt,
		    sizeof(users_dummy_salt), USERS_LN, USERS_R, USERS_P, hash, sizeof(hash));
		(void)CRYPTO_memcmp(hash, users_dummy_hash, sizeof(hash));
	}
	if (!known)
		goto out;
	v = USERS_BAD_PASSWORD;
	if (!pw_ok || strlen(password) > USERS_PASSWORD_MAX)
		goto out;
	if (!r.info.totp) {
		v = USERS_OK;
		goto out;
	}
	v = USERS_BAD_TOTP;
	if (!users_parse_code(totp, &code))
		goto out;
	/* The check and the record of the step under the lock, against the file as it is now:
	 * two sign-ins racing with one code cannot both pass. */
	if ((lk = util_dir_lock(dir, err, sizeof(err))) == -1) {
		log_warnx("sign-in of %s: %s", lower, err);
		goto out;
	}
	if (users_load(dir, lower, &fresh, err, sizeof(err)) != 0 || !fresh.info.totp ||
	    CRYPTO_memcmp(fresh.hash, r.hash, sizeof(r.hash)) != 0) {
		/* Removed, re-enrolled or given a new password meanwhile: the old answer stands
		 * for nothing. */
		goto out;
	}
	if (!users_totp_match(&fresh, code, now, &step))
		goto out;
	fresh.has_last = true;
	fresh.totp_last = step;
	if (users_store(dir, &fresh, err, sizeof(err)) == -1) {
		log_warnx("sign-in of %s refused: the code could not be recorded: %s", lower, err);
		goto out;
	}
	memcpy(&r.info, &fresh.info, sizeof(r.info));
	v = USERS_OK;
out:
	if (lk != -1)
		close(lk);
	if (v == USERS_OK && out != NULL)
		memcpy(out, &r.info, sizeof(*out));
	util_cleanse(hash, sizeof(hash));
	util_cleanse(&r, sizeof(r));
	util_cleanse(&fresh, sizeof(fresh));
	return v;
}

/* --- the edge's view: DIR/users, watched ------------------------------------------------ */

static void
users_file_clear(struct users_file *f)
{
	free(f->name);
	free(f->problem);
	free(f->info);
	memset(f, 0, sizeof(*f));
}

static int
users_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
users_info_cmp(const void *a, const void *b)
{
	const struct user_info *x = *(const struct user_info *const *)a;
	const struct user_info *y = *(const struct user_info *const *)b;

	return strcmp(x->email, y->email);
}

/* Brings f up to date with the disk; returns whether its user changed. */
static bool
users_examine(struct users *u, struct users_file *f, bool strict, int64_t now_ns, int *errors)
{
	char lower[USERS_EMAIL_MAX + 1], err[USERS_ERR_MAX];
	struct users_rec r;
	struct stat sb;
	int64_t mt, ct;
	bool changed = false;
	int rc;

	if (!users_email_valid(f->name, lower, sizeof(lower)) || strcmp(lower, f->name) != 0) {
		if (f->problem == NULL) {
			log_warnx("%s/%s: ignored: the name of a user file is its lower-case email "
			    "address", u->path, f->name);
			f->problem = xstrdup("name");
		}
		return false;
	}
	{
		char *path;
		xasprintf(&path, "%s/%s", u->path, f->name);
		rc = lstat(path, &sb);
		free(path);
	}
	if (rc == -1)
		return false;
	mt = (int64_t)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
	ct = (int64_t)sb.st_ctim.tv_sec * 1000000000LL + sb.st_ctim.tv_nsec;
	if (f->have_sig && f->dev == sb.st_dev && f->ino == sb.st_ino && f->size == sb.st_size &&
	    f->mtime_ns == mt && f->ctime_ns == ct && f->mode == sb.st_mode &&
	    mt < now_ns - USERS_RACY_NS && ct < now_ns - USERS_RACY_NS)
		return false;
	f->dev = sb.st_dev;
	f->ino = sb.st_ino;
	f->size = sb.st_size;
	f->mtime_ns = mt;
	f->ctime_ns = ct;
	f->mode = sb.st_mode;
	f->have_sig = true;
	rc = users_load(u->dir, f->name, &r, err, sizeof(err));
	if (rc == 1)
		return false;	/* gone meanwhile: the next listing removes it */
	if (rc == -1) {
		(*errors)++;
		if (strict)
			log_errorx("%s", err);
		else if (f->problem == NULL || strcmp(f->problem, err) != 0)
			log_warnx("%s; %s", err, f->info != NULL ? "keeping the version read before" :
			    "ignoring the file");
		free(f->problem);
		f->problem = xstrdup(err);
		f->have_sig = false;	/* judged again until it is fixed */
		util_cleanse(&r, sizeof(r));
		return false;
	}
	if (f->problem != NULL && !strict)
		log_info("%s/%s: read again after the problem was fixed", u->path, f->name);
	free(f->problem);
	f->problem = NULL;
	if (f->info == NULL || memcmp(f->info, &r.info, sizeof(r.info)) != 0) {
		if (f->info == NULL)
			f->info = xmalloc(sizeof(*f->info));
		memcpy(f->info, &r.info, sizeof(r.info));
		changed = true;
	}
	util_cleanse(&r, sizeof(r));
	return changed;
}

/* Re-lists DIR/users and re-reads what changed; -1 if the directory cannot be read. */
static int
users_scan(struct users *u, bool strict, bool *changed, int *errors)
{
	struct users_file *nf = NULL;
	struct timespec ts;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, j = 0;
	int64_t now_ns;
	DIR *d;

	if ((d = opendir(u->path)) == NULL) {
		log_error("cannot read %s", u->path);
		return -1;
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.' && strstr(de->d_name, ".tmp-") == NULL) {
			names = xreallocarray(names, n + 1, sizeof(*names));
			names[n++] = xstrdup(de->d_name);
		}
		errno = 0;
	}
	if (errno != 0) {
		log_error("cannot read %s", u->path);
		closedir(d);
		for (size_t i = 0; i < n; i++)
			free(names[i]);
		free(names);
		return -1;
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), users_name_cmp);
	clock_gettime(CLOCK_REALTIME, &ts);
	now_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	nf = xcalloc(n > 0 ? n : 1, sizeof(*nf));
	/* Merge the sorted listing with the sorted known files. */
	for (size_t i = 0; i < n; i++) {
		while (j < u->nfiles && strcmp(u->files[j].name, names[i]) < 0) {
			if (u->files[j].info != NULL)
				*changed = true;
			users_file_clear(&u->files[j++]);
		}
		if (j < u->nfiles && strcmp(u->files[j].name, names[i]) == 0) {
			nf[i] = u->files[j];
			memset(&u->files[j++], 0, sizeof(u->files[0]));
			free(names[i]);
		} else {
			nf[i].name = names[i];
		}
		if (users_examine(u, &nf[i], strict, now_ns, errors))
			*changed = true;
	}
	for (; j < u->nfiles; j++) {
		if (u->files[j].info != NULL)
			*changed = true;
		users_file_clear(&u->files[j]);
	}
	free(names);
	free(u->files);
	u->files = nf;
	u->nfiles = n;
	free(u->list);
	u->list = xcalloc(n > 0 ? n : 1, sizeof(*u->list));
	u->nlist = 0;
	for (size_t i = 0; i < n; i++)
		if (nf[i].info != NULL)
			u->list[u->nlist++] = nf[i].info;
	if (u->nlist > 1)
		qsort(u->list, u->nlist, sizeof(*u->list), users_info_cmp);
	return 0;
}

struct users *
users_open(const char *dir)
{
	struct users *u;
	char err[USERS_ERR_MAX];
	bool changed = false;
	int errors = 0;

	if (users_check_dirs(dir, true, err, sizeof(err)) == -1) {
		log_errorx("%s", err);
		return NULL;
	}
	u = xcalloc(1, sizeof(*u));
	u->dir = xstrdup(dir);
	xasprintf(&u->path, "%s/users", dir);
	if (users_scan(u, true, &changed, &errors) == -1 || errors > 0) {
		users_free(u);
		return NULL;
	}
	return u;
}

void
users_free(struct users *u)
{
	if (u == NULL)
		return;
	for (size_t i = 0; i < u->nfiles; i++)
		users_file_clear(&u->files[i]);
	free(u->files);
	free(u->list);
	free(u->dir);
	free(u->path);
	free(u);
}

int
users_refresh(struct users *u)
{
	bool changed = false;
	int errors = 0;

	if (users_scan(u, false, &changed, &errors) == -1)
		return -1;
	return changed ? 1 : 0;
}

bool
users_get(const struct users *u, const char *email, struct user_info *out)
{
	char lower[USERS_EMAIL_MAX + 1];
	size_t lo = 0, hi = u->nlist;

	if (email == NULL || !users_email_valid(email, lower, sizeof(lower)))
		return false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(lower, u->list[mid]->email);
		if (c == 0) {
			if (out != NULL)
				memcpy(out, u->list[mid], sizeof(*out));
			return true;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

size_t
users_count(const struct users *u)
{
	return u->nlist;
}

bool
users_nth(const struct users *u, size_t i, struct user_info *out)
{
	if (i >= u->nlist)
		return false;
	if (out != NULL)
		memcpy(out, u->list[i], sizeof(*out));
	return true;
}

/* --- the rate limiter of failed sign-ins ------------------------------------------------- */

#define LOGINLIMIT_MAX		65536
#define LOGINLIMIT_BUCKETS	131072	/* a power of two */
#define LOGINLIMIT_FREE		5	/* failures in a row before any wait */
#define LOGINLIMIT_FIRST_MS	1000ULL
#define LOGINLIMIT_CAP_MS	(15ULL * 60 * 1000)
#define LOGINLIMIT_FORGET_MS	(24ULL * 3600 * 1000)	/* a quiet day forgets the failures */
#define LOGINLIMIT_KEY_LEN	16

/* The failures of one user or one address (IPv4, or an IPv6 /64). */
struct loginlimit_entry {
	uint8_t		 key[LOGINLIMIT_KEY_LEN];	/* SHA-256 of kind and name, cut */
	uint32_t	 failures;
	uint64_t	 until_ms;	/* no attempt before */
	uint64_t	 last_ms;	/* last failure */
	struct loginlimit_entry *hnext;			/* bucket chain */
	struct loginlimit_entry *older, *newer;		/* by last failure */
};

struct loginlimit {
	struct loginlimit_entry **buckets;
	struct loginlimit_entry *oldest, *newest;
	size_t		 count;
};

struct loginlimit *
loginlimit_new(void)
{
	struct loginlimit *l = xcalloc(1, sizeof(*l));

	l->buckets = xcalloc(LOGINLIMIT_BUCKETS, sizeof(*l->buckets));
	return l;
}

void
loginlimit_free(struct loginlimit *l)
{
	struct loginlimit_entry *e, *next;

	if (l == NULL)
		return;
	for (e = l->oldest; e != NULL; e = next) {
		next = e->newer;
		free(e);
	}
	free(l->buckets);
	free(l);
}

size_t
loginlimit_count(const struct loginlimit *l)
{
	return l->count;
}

/* The keys of a user (lower-cased) and of an address; false for one that is not tracked. */
static bool
loginlimit_key_user(const char *email, uint8_t key[LOGINLIMIT_KEY_LEN])
{
	uint8_t md[32];
	char buf[USERS_EMAIL_MAX + 3];
	size_t n;

	if (email == NULL || *email == '\0')
		return false;
	buf[0] = 'u';
	buf[1] = ':';
	for (n = 0; email[n] != '\0' && n < USERS_EMAIL_MAX; n++)
		buf[n + 2] = (email[n] >= 'A' && email[n] <= 'Z') ? (char)(email[n] - 'A' + 'a') :
		    email[n];
	/* Longer ones are no user's: they may share an entry. */
	if (EVP_Digest(buf, n + 2, md, NULL, EVP_sha256(), NULL) != 1)
		return false;
	memcpy(key, md, LOGINLIMIT_KEY_LEN);
	return true;
}

static bool
loginlimit_key_addr(const struct sockaddr *sa, uint8_t key[LOGINLIMIT_KEY_LEN])
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	uint8_t buf[10], md[32];
	size_t n;

	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		memcpy(buf, "4:", 2);
		memcpy(buf + 2, &in->sin_addr, 4);
		n = 6;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		const uint8_t *a = in6->sin6_addr.s6_addr;
		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			memcpy(buf, "4:", 2);
			memcpy(buf + 2, a + 12, 4);
			n = 6;
		} else {
			/* One site gets a /64: its addresses are one client. */
			memcpy(buf, "6:", 2);
			memcpy(buf + 2, a, 8);
			n = 10;
		}
	} else
		return false;
	if (EVP_Digest(buf, n, md, NULL, EVP_sha256(), NULL) != 1)
		return false;
	memcpy(key, md, LOGINLIMIT_KEY_LEN);
	return true;
}

static size_t
loginlimit_bucket(const uint8_t key[LOGINLIMIT_KEY_LEN])
{
	uint32_t h;

	memcpy(&h, key, sizeof(h));
	return h & (LOGINLIMIT_BUCKETS - 1);
}

static struct loginlimit_entry *
loginlimit_find(const struct loginlimit *l, const uint8_t key[LOGINLIMIT_KEY_LEN])
{
	for (struct loginlimit_entry *e = l->buckets[loginlimit_bucket(key)]; e != NULL;
	    e = e->hnext)
		if (memcmp(e->key, key, LOGINLIMIT_KEY_LEN) == 0)
			return e;
	return NULL;
}

static void
loginlimit_unlink(struct loginlimit *l, struct loginlimit_entry *e)
{
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		l->oldest = e->newer;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		l->newest = e->older;
	e->older = e->newer = NULL;
}

static void
loginlimit_remove(struct loginlimit *l, struct loginlimit_entry *e)
{
	struct loginlimit_entry **pp = &l->buckets[loginlimit_bucket(e->key)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	loginlimit_unlink(l, e);
	free(e);
	l->count--;
}

/* The seconds before the next attempt an entry allows at now (rounded up). */
static unsigned
loginlimit_wait(const struct loginlimit_entry *e, uint64_t now_ms)
{
	if (e == NULL || e->failures < LOGINLIMIT_FREE || now_ms >= e->until_ms ||
	    now_ms - e->last_ms >= LOGINLIMIT_FORGET_MS)
		return 0;
	return (unsigned)((e->until_ms - now_ms + 999) / 1000);
}

unsigned
loginlimit_check(struct loginlimit *l, const char *email, const struct sockaddr *sa,
    uint64_t now_ms)
{
	uint8_t key[LOGINLIMIT_KEY_LEN];
	unsigned wu = 0, wa = 0;

	if (loginlimit_key_user(email, key))
		wu = loginlimit_wait(loginlimit_find(l, key), now_ms);
	if (loginlimit_key_addr(sa, key))
		wa = loginlimit_wait(loginlimit_find(l, key), now_ms);
	return wu > wa ? wu : wa;
}

/* Counts one failure for key. */
static void
loginlimit_fail_key(struct loginlimit *l, const uint8_t key[LOGINLIMIT_KEY_LEN], uint64_t now_ms)
{
	struct loginlimit_entry *e = loginlimit_find(l, key);

	if (e == NULL) {
		if (l->count >= LOGINLIMIT_MAX)
			loginlimit_remove(l, l->oldest);
		e = xcalloc(1, sizeof(*e));
		memcpy(e->key, key, LOGINLIMIT_KEY_LEN);
		e->hnext = l->buckets[loginlimit_bucket(key)];
		l->buckets[loginlimit_bucket(key)] = e;
		l->count++;
	} else {
		loginlimit_unlink(l, e);
		if (now_ms - e->last_ms >= LOGINLIMIT_FORGET_MS)
			e->failures = 0;
	}
	e->older = l->newest;
	if (l->newest != NULL)
		l->newest->newer = e;
	else
		l->oldest = e;
	l->newest = e;
	if (e->failures < UINT32_MAX)
		e->failures++;
	e->last_ms = now_ms;
	if (e->failures >= LOGINLIMIT_FREE) {
		uint32_t k = e->failures - LOGINLIMIT_FREE;
		uint64_t d = k >= 10 ? LOGINLIMIT_CAP_MS : LOGINLIMIT_FIRST_MS << k;
		e->until_ms = now_ms + (d > LOGINLIMIT_CAP_MS ? LOGINLIMIT_CAP_MS : d);
	}
}

void
loginlimit_failed(struct loginlimit *l, const char *email, const struct sockaddr *sa,
    uint64_t now_ms)
{
	uint8_t key[LOGINLIMIT_KEY_LEN];

	if (loginlimit_key_user(email, key))
		loginlimit_fail_key(l, key, now_ms);
	if (loginlimit_key_addr(sa, key))
		loginlimit_fail_key(l, key, now_ms);
}

void
loginlimit_succeeded(struct loginlimit *l, const char *email, const struct sockaddr *sa)
{
	uint8_t key[LOGINLIMIT_KEY_LEN];
	struct loginlimit_entry *e;

	/* Only the user's count: someone who owns one account must not be able to reset the
	 * count of their address between guesses at other accounts. */
	(void)sa;
	if (loginlimit_key_user(email, key) && (e = loginlimit_find(l, key)) != NULL)
		loginlimit_remove(l, e);
}
