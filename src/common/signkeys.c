/* signkeys: the edge's ES256 signing keys, one file each in DIR/keys, rotated by the CLI under
 * the state directory's lock and loaded by the edge (doc/identity.md, "The edge's state"). */
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

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "common/jwt.h"
#include "common/log.h"
#include "common/signkeys.h"
#include "common/util.h"

#define SIGNKEYS_PEM_END	"-----END PRIVATE KEY-----\n"
#define SIGNKEYS_MAX_FILES	64

struct signkeys_rec {
	char	 kid[JWT_KID_LEN + 1];
	time_t	 created, retired, expires;
	char	*pem;
	size_t	 pemlen;
};

static void
signkeys_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
signkeys_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* A kid as we make them: 22 base64url characters. */
static bool
signkeys_kid_valid(const char *s)
{
	uint8_t b[18];

	return strlen(s) == JWT_KID_LEN && jwt_b64url_decode(s, JWT_KID_LEN, b, sizeof(b)) == 16;
}

static void
signkeys_recs_free(struct signkeys_rec *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (r[i].pem != NULL)
			util_cleanse(r[i].pem, r[i].pemlen);
		free(r[i].pem);
	}
	free(r);
}

/* Checks that path is a directory of this user that group and others cannot use. */
static int
signkeys_check_dir(const char *path, char *err, size_t errlen)
{
	struct stat sb;

	if (lstat(path, &sb) == -1) {
		if (errno == ENOENT)
			signkeys_err(err, errlen, "%s does not exist: create it with 'zt edge "
			    "init' or 'zt edge rotate-keys'", path);
		else
			signkeys_err(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		signkeys_err(err, errlen, "%s is not a directory", path);
		return -1;
	}
	if (sb.st_uid != geteuid()) {
		signkeys_err(err, errlen, "%s belongs to uid %u, not to uid %u that runs zt", path,
		    (unsigned)sb.st_uid, (unsigned)geteuid());
		return -1;
	}
	if ((sb.st_mode & 077) != 0) {
		signkeys_err(err, errlen, "%s has mode %04o: group and others must have no access; "
		    "run 'chmod 700 %s'", path, (unsigned)(sb.st_mode & 07777), path);
		return -1;
	}
	return 0;
}

/* Parses one key file (label names it in errors) into r. */
static int
signkeys_parse(const char *label, const char *name, const char *data, size_t len,
    struct signkeys_rec *r, char *err, size_t errlen)
{
	const char *end = strstr(data, SIGNKEYS_PEM_END), *p, *nl;
	bool seen_state = false;
	int line = 0;

	memset(r, 0, sizeof(*r));
	if (strlen(data) != len) {
		signkeys_err(err, errlen, "%s holds a NUL byte", label);
		return -1;
	}
	if (strncmp(data, "-----BEGIN PRIVATE KEY-----\n", 28) != 0 || end == NULL) {
		signkeys_err(err, errlen, "%s does not start with a PEM PKCS#8 private key", label);
		return -1;
	}
	p = end + strlen(SIGNKEYS_PEM_END);
	for (const char *q = data; q < p; q++)
		if (*q == '\n')
			line++;
	for (; *p != '\0'; p = nl + 1) {
		char key[32], value[64];
		const char *eq;
		size_t klen, vlen;

		line++;
		if ((nl = strchr(p, '\n')) == NULL) {
			signkeys_err(err, errlen, "%s:%d: the last line has no newline", label,
			    line);
			return -1;
		}
		if (nl == p || *p == '#')
			continue;
		eq = memchr(p, '=', (size_t)(nl - p));
		if (eq == NULL || eq == p || eq[-1] != ' ' || eq + 1 >= nl || eq[1] != ' ' ||
		    (klen = (size_t)(eq - 1 - p)) >= sizeof(key) ||
		    (vlen = (size_t)(nl - eq - 2)) >= sizeof(value) || vlen == 0) {
			signkeys_err(err, errlen, "%s:%d: not a \"key = value\" line", label, line);
			return -1;
		}
		memcpy(key, p, klen);
		key[klen] = '\0';
		memcpy(value, eq + 2, vlen);
		value[vlen] = '\0';
		for (size_t i = 0; i < vlen; i++)
			if (value[i] < 0x21 || value[i] > 0x7e) {
				signkeys_err(err, errlen, "%s:%d: %s has a character that is not "
				    "printable ASCII", label, line, key);
				return -1;
			}
		if (!seen_state) {
			if (strcmp(key, "zt-state") != 0 || strcmp(value, "1") != 0) {
				signkeys_err(err, errlen, "%s:%d: \"zt-state = 1\" must come first "
				    "after the key", label, line);
				return -1;
			}
			seen_state = true;
		} else if (strcmp(key, "kid") == 0 && r->kid[0] == '\0') {
			if (!signkeys_kid_valid(value) || strcmp(value, name) != 0) {
				signkeys_err(err, errlen, "%s:%d: kid must be the file's name, 22 "
				    "base64url characters", label, line);
				return -1;
			}
			util_strlcpy(r->kid, value, sizeof(r->kid));
		} else if ((strcmp(key, "created") == 0 && r->created == 0) ||
		    (strcmp(key, "retired") == 0 && r->retired == 0) ||
		    (strcmp(key, "expires") == 0 && r->expires == 0)) {
			time_t *t = key[0] == 'c' ? &r->created : key[0] == 'r' ? &r->retired :
			    &r->expires;

			if (!util_time_parse(value, t) || *t == 0) {
				signkeys_err(err, errlen, "%s:%d: %s \"%s\" is not a UTC time like "
				    "2026-11-27T21:00:00Z", label, line, key, value);
				return -1;
			}
		} else {
			signkeys_err(err, errlen, "%s:%d: unknown or repeated key \"%s\"", label,
			    line, key);
			return -1;
		}
	}
	if (r->kid[0] == '\0' || r->created == 0) {
		signkeys_err(err, errlen, "%s: kid and created are required", label);
		return -1;
	}
	if ((r->retired == 0) != (r->expires == 0) || r->expires < r->retired) {
		signkeys_err(err, errlen, "%s: retired and expires go together, expires not before "
		    "retired", label);
		return -1;
	}
	r->pemlen = (size_t)(end + strlen(SIGNKEYS_PEM_END) - data);
	r->pem = xstrndup(data, r->pemlen);
	return 0;
}

/* Reads every key file of DIR/keys (skipping dot files and temporary files). */
static int
signkeys_read(const char *dir, struct signkeys_rec **recs, size_t *nrecs, char *err,
    size_t errlen)
{
	struct signkeys_rec *r = NULL;
	struct dirent *de;
	size_t n = 0;
	char *kdir;
	DIR *d = NULL;
	int dfd = -1, ret = -1;

	*recs = NULL;
	*nrecs = 0;
	xasprintf(&kdir, "%s/keys", dir);
	if (signkeys_check_dir(kdir, err, errlen) == -1)
		goto out;
	if ((dfd = open(kdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1 ||
	    (d = fdopendir(dfd)) == NULL) {
		signkeys_err(err, errlen, "cannot read %s: %s", kdir, strerror(errno));
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		char *label, *data = NULL;
		struct stat sb;
		size_t len = 0;
		ssize_t got;
		int fd;

		if (de->d_name[0] == '.' || strstr(de->d_name, ".tmp-") != NULL)
			continue;
		xasprintf(&label, "%s/%s", kdir, de->d_name);
		if (n == SIGNKEYS_MAX_FILES) {
			signkeys_err(err, errlen, "%s holds more than %d files", kdir,
			    SIGNKEYS_MAX_FILES);
			free(label);
			goto out;
		}
		fd = openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd == -1 || fstat(fd, &sb) == -1) {
			signkeys_err(err, errlen, "cannot read %s: %s", label, strerror(errno));
			goto bad;
		}
		if (!S_ISREG(sb.st_mode)) {
			signkeys_err(err, errlen, "%s is not a regular file", label);
			goto bad;
		}
		if ((sb.st_mode & 077) != 0 || sb.st_uid != geteuid()) {
			signkeys_err(err, errlen, "%s has mode %04o or another owner: it must be "
			    "the edge user's, mode 0600; run 'chmod 600 %s'", label,
			    (unsigned)(sb.st_mode & 07777), label);
			goto bad;
		}
		if (sb.st_size > SIGNKEYS_FILE_MAX) {
			signkeys_err(err, errlen, "%s is larger than %d bytes", label,
			    SIGNKEYS_FILE_MAX);
			goto bad;
		}
		data = xmalloc(SIGNKEYS_FILE_MAX + 1);
		while (len < SIGNKEYS_FILE_MAX + 1 &&
		    (got = read(fd, data + len, SIGNKEYS_FILE_MAX + 1 - len)) != 0) {
			if (got == -1) {
				if (errno == EINTR)
					continue;
				signkeys_err(err, errlen, "cannot read %s: %s", label,
				    strerror(errno));
				goto bad;
			}
			len += (size_t)got;
		}
		if (len > SIGNKEYS_FILE_MAX) {
			signkeys_err(err, errlen, "%s is larger than %d bytes", label,
			    SIGNKEYS_FILE_MAX);
			goto bad;
		}
		data[len] = '\0';
		r = xreallocarray(r, n + 1, sizeof(*r));
		if (signkeys_parse(label, de->d_name, data, len, &r[n], err, errlen) == -1)
			goto bad;
		n++;
		util_cleanse(data, SIGNKEYS_FILE_MAX + 1);
		free(data);
		close(fd);
		free(label);
		continue;
bad:
		if (data != NULL)
			util_cleanse(data, SIGNKEYS_FILE_MAX + 1);
		free(data);
		if (fd != -1)
			close(fd);
		free(label);
		goto out;
	}
	ret = 0;
out:
	if (d != NULL)
		closedir(d);
	else if (dfd != -1)
		close(dfd);
	free(kdir);
	if (ret == -1) {
		signkeys_recs_free(r, n);
		return -1;
	}
	*recs = r;
	*nrecs = n;
	return 0;
}

/* Removes the records (and files) of keys expired at now; logs what it removed. */
static void
signkeys_prune(const char *dir, struct signkeys_rec *r, size_t *n, time_t now)
{
	size_t j = 0;

	for (size_t i = 0; i < *n; i++) {
		if (r[i].retired != 0 && r[i].expires <= now) {
			char *path;

			xasprintf(&path, "%s/keys/%s", dir, r[i].kid);
			if (unlink(path) == -1 && errno != ENOENT)
				log_warn("cannot remove the expired key %s", path);
			else
				log_info("removed the expired signing key %s", r[i].kid);
			free(path);
			util_cleanse(r[i].pem, r[i].pemlen);
			free(r[i].pem);
			continue;
		}
		r[j++] = r[i];
	}
	*n = j;
}

/* The index of the current key (newest created not retired), or -1. */
static ssize_t
signkeys_current(const struct signkeys_rec *r, size_t n)
{
	ssize_t cur = -1;

	for (size_t i = 0; i < n; i++)
		if (r[i].retired == 0 && (cur == -1 || r[i].created > r[cur].created ||
		    (r[i].created == r[cur].created && strcmp(r[i].kid, r[cur].kid) > 0)))
			cur = (ssize_t)i;
	return cur;
}

static int
signkeys_cmp(const void *a, const void *b)
{
	const struct signkeys_rec *x = a, *y = b;

	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return strcmp(x->kid, y->kid);
}

/* Writes r to DIR/keys/KID atomically, mode 0600. */
static int
signkeys_write(const char *dir, const struct signkeys_rec *r)
{
	char created[UTIL_TIME_LEN + 1], retired[UTIL_TIME_LEN + 1], expires[UTIL_TIME_LEN + 1];
	char *text, *path;
	int ret;

	util_time_format(r->created, created);
	util_time_format(r->retired, retired);
	util_time_format(r->expires, expires);
	xasprintf(&text, "%.*szt-state = 1\nkid = %s\ncreated = %s\n%s%s%s%s%s%s",
	    (int)r->pemlen, r->pem, r->kid, created,
	    r->retired != 0 ? "retired = " : "", r->retired != 0 ? retired : "",
	    r->retired != 0 ? "\n" : "", r->retired != 0 ? "expires = " : "",
	    r->retired != 0 ? expires : "", r->retired != 0 ? "\n" : "");
	xasprintf(&path, "%s/keys/%s", dir, r->kid);
	if ((ret = util_write_file_atomic(path, text, strlen(text), 0600)) == -1)
		log_error("cannot write %s", path);
	util_cleanse(text, strlen(text));
	free(text);
	free(path);
	return ret;
}

/* A new P-256 key as a record created at now. */
static int
signkeys_generate(struct signkeys_rec *r, time_t now)
{
	EVP_PKEY *pkey;
	BIO *bio = NULL;
	char *mem;
	long len;
	int ret = -1;

	memset(r, 0, sizeof(*r));
	if ((pkey = EVP_EC_gen("P-256")) == NULL || (bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (len = BIO_get_mem_data(bio, &mem)) <= 0) {
		log_ssl_errors("cannot generate a P-256 signing key");
		goto out;
	}
	r->pem = xstrndup(mem, (size_t)len);
	r->pemlen = (size_t)len;
	util_cleanse(mem, (size_t)len);
	jwt_random_id(r->kid);
	r->created = now;
	ret = 0;
out:
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	return ret;
}

/* Takes DIR/.lock (the state directory's lock, as state.c); the descriptor to close, or -1. */
static int
signkeys_lock(const char *dir)
{
	char err[PATH_MAX + 128];
	int fd;

	if ((fd = util_dir_lock(dir, err, sizeof(err))) == -1)
		log_errorx("%s", err);
	return fd;
}

/* Under the lock: prunes, then adds a new current key when rotating or when none is current. */
static int
signkeys_change(const char *dir, time_t now, bool rotate, uint64_t max_lifetime_s,
    char kid[JWT_KID_LEN + 1])
{
	struct signkeys_rec *r = NULL, fresh;
	char err[512], *kdir;
	size_t n = 0;
	int lk, ret = -1;

	memset(&fresh, 0, sizeof(fresh));
	xasprintf(&kdir, "%s/keys", dir);
	if (util_mkdir_p(kdir, 0700) == -1) {
		log_error("cannot create %s", kdir);
		free(kdir);
		return -1;
	}
	free(kdir);
	if ((lk = signkeys_lock(dir)) == -1)
		return -1;
	if (signkeys_read(dir, &r, &n, err, sizeof(err)) == -1) {
		log_errorx("%s", err);
		goto out;
	}
	signkeys_prune(dir, r, &n, now);
	if (!rotate && signkeys_current(r, n) != -1) {
		ret = 0;
		goto out;
	}
	if (n + 1 > JWT_KEYS_MAX) {
		log_errorx("%s/keys holds %zu keys still published: wait until some expire "
		    "(zt edge keys)", dir, n);
		goto out;
	}
	/* The new key first: between the two writes, it is already the newest not retired. */
	if (signkeys_generate(&fresh, now) == -1 || signkeys_write(dir, &fresh) == -1)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (r[i].retired != 0)
			continue;
		r[i].retired = now;
		r[i].expires = now + (time_t)max_lifetime_s;
		if (signkeys_write(dir, &r[i]) == -1)
			goto out;
		log_info("retired the signing key %s (published until it expires)", r[i].kid);
	}
	log_info("created the signing key %s", fresh.kid);
	if (kid != NULL)
		util_strlcpy(kid, fresh.kid, JWT_KID_LEN + 1);
	ret = 0;
out:
	close(lk);
	if (fresh.pem != NULL)
		util_cleanse(fresh.pem, fresh.pemlen);
	free(fresh.pem);
	signkeys_recs_free(r, n);
	return ret;
}

int
signkeys_init(const char *dir)
{
	return signkeys_change(dir, time(NULL), false, 0, NULL);
}

int
signkeys_rotate(const char *dir, time_t now, uint64_t max_lifetime_s, char kid[JWT_KID_LEN + 1])
{
	if (max_lifetime_s == 0 || max_lifetime_s > SIGNKEYS_LIFETIME_MAX) {
		log_errorx("signkeys_rotate: a token lifetime of %llu s is out of range",
		    (unsigned long long)max_lifetime_s);
		return -1;
	}
	return signkeys_change(dir, now, true, max_lifetime_s, kid);
}

struct jwt_keyset *
signkeys_load(const char *dir, time_t now, char *err, size_t errlen)
{
	struct signkeys_rec *r;
	struct jwt_keyset *ks;
	char sub[JWT_ERR_MAX];
	size_t n;
	ssize_t cur;

	if (signkeys_read(dir, &r, &n, err, errlen) == -1)
		return NULL;
	signkeys_prune(dir, r, &n, now);
	if ((cur = signkeys_current(r, n)) == -1) {
		signkeys_err(err, errlen, "%s/keys has no current signing key: run 'zt edge "
		    "rotate-keys'", dir);
		signkeys_recs_free(r, n);
		return NULL;
	}
	ks = jwt_keyset_new();
	/* The current key first, then the others: jwt_sign uses the first signing key. */
	for (size_t k = 0; k < n; k++) {
		size_t i = k == 0 ? (size_t)cur : k <= (size_t)cur ? k - 1 : k;

		if (jwt_keyset_add_pem(ks, r[i].kid, r[i].pem, r[i].pemlen, k == 0, sub,
		    sizeof(sub)) == -1) {
			signkeys_err(err, errlen, "%s/keys/%s: %s", dir, r[i].kid, sub);
			jwt_keyset_free(ks);
			signkeys_recs_free(r, n);
			return NULL;
		}
	}
	signkeys_recs_free(r, n);
	return ks;
}

int
signkeys_list(const char *dir, time_t now, struct signkeys_info **out, size_t *nout)
{
	struct signkeys_rec *r;
	char err[512];
	size_t n;
	ssize_t cur;

	if (signkeys_read(dir, &r, &n, err, sizeof(err)) == -1) {
		log_errorx("%s", err);
		return -1;
	}
	qsort(r, n, sizeof(*r), signkeys_cmp);
	cur = signkeys_current(r, n);
	*out = xcalloc(n == 0 ? 1 : n, sizeof(**out));
	*nout = 0;
	for (size_t i = 0; i < n; i++) {
		struct signkeys_info *k;

		if (r[i].retired != 0 && r[i].expires <= now)
			continue;
		k = &(*out)[(*nout)++];
		util_strlcpy(k->kid, r[i].kid, sizeof(k->kid));
		k->created = r[i].created;
		k->retired = r[i].retired;
		k->expires = r[i].expires;
		k->current = (ssize_t)i == cur;
	}
	signkeys_recs_free(r, n);
	return 0;
}

uint64_t
signkeys_stamp(const char *dir)
{
	struct dirent *de;
	struct stat sb;
	uint64_t stamp = 0;
	char *kdir;
	DIR *d;

	xasprintf(&kdir, "%s/keys", dir);
	d = opendir(kdir);
	free(kdir);
	if (d == NULL)
		return 0;
	/* Order-independent: each entry's digest is added, so readdir's order does not matter. */
	while ((de = readdir(d)) != NULL) {
		struct {
			uint64_t ino, size, mtime, ctime, mode;
		} sig;
		uint8_t e[SHA256_DIGEST_LENGTH];
		uint64_t v;

		if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &sb,
		    AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		memset(&sig, 0, sizeof(sig));
		sig.ino = (uint64_t)sb.st_ino;
		sig.size = (uint64_t)sb.st_size;
		sig.mtime = (uint64_t)sb.st_mtim.tv_sec * 1000000000ULL +
		    (uint64_t)sb.st_mtim.tv_nsec;
		sig.ctime = (uint64_t)sb.st_ctim.tv_sec * 1000000000ULL +
		    (uint64_t)sb.st_ctim.tv_nsec;
		sig.mode = sb.st_mode;
		SHA256((const uint8_t *)de->d_name, strlen(de->d_name), e);
		memcpy(&v, e, sizeof(v));
		stamp += v;
		SHA256((const uint8_t *)&sig, sizeof(sig), e);
		memcpy(&v, e, sizeof(v));
		stamp += v * 31;
	}
	closedir(d);
	return stamp == 0 ? 1 : stamp;
}

time_t
signkeys_next_change(const char *dir, time_t now)
{
	struct signkeys_rec *r;
	char err[512];
	time_t next = 0;
	size_t n;

	if (signkeys_read(dir, &r, &n, err, sizeof(err)) == -1)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (r[i].retired != 0 && r[i].expires > now && (next == 0 || r[i].expires < next))
			next = r[i].expires;
	signkeys_recs_free(r, n);
	return next;
}
