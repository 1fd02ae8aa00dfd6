/* loginfile: zt login's logins in $XDG_CONFIG_HOME/zt/logins.json: read, add, remove, list,
 * each read-modify-write under flock of logins.lock and each write an atomic replacement. */
#include "config.h"

#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/loginfile.h"
#include "common/log.h"
#include "common/util.h"

struct loginfile_paths {
	char	dir[PATH_MAX];
	char	file[PATH_MAX];
	char	lock[PATH_MAX];
};

static int
loginfile_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (err != NULL && errlen > 0)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

bool
loginfile_dir(char *buf, size_t len)
{
	const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

	/* The XDG Base Directory specification: a relative value is ignored. */
	if (x != NULL && x[0] == '/')
		return util_snprintf(buf, len, "%s/zt", x);
	if (home == NULL || home[0] != '/') {
		struct passwd *pw = getpwuid(getuid());

		home = pw != NULL ? pw->pw_dir : NULL;
	}
	if (home == NULL || home[0] != '/')
		return false;
	return util_snprintf(buf, len, "%s/.config/zt", home);
}

static int
loginfile_paths(struct loginfile_paths *p, char *err, size_t errlen)
{
	if (!loginfile_dir(p->dir, sizeof(p->dir)))
		return loginfile_fail(err, errlen, "no place for the login file: set HOME or "
		    "XDG_CONFIG_HOME to an absolute path");
	if (!util_snprintf(p->file, sizeof(p->file), "%s/logins.json", p->dir) ||
	    !util_snprintf(p->lock, sizeof(p->lock), "%s/logins.lock", p->dir))
		return loginfile_fail(err, errlen, "the path of the login file is too long");
	return 0;
}

/* Creates the directory (0700) and takes the lock; the descriptor, or -1. */
static int
loginfile_lock(const struct loginfile_paths *p, bool exclusive, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if (util_mkdir_p(p->dir, 0700) == -1)
		return loginfile_fail(err, errlen, "cannot create the directory %s: %s", p->dir,
		    strerror(errno));
	if (stat(p->dir, &st) == 0 && st.st_uid == getuid() && (st.st_mode & 077) != 0 &&
	    chmod(p->dir, 0700) == -1)
		return loginfile_fail(err, errlen, "cannot make %s private (chmod 700): %s",
		    p->dir, strerror(errno));
	if ((fd = open(p->lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) == -1)
		return loginfile_fail(err, errlen, "cannot open the lock file %s: %s", p->lock,
		    strerror(errno));
	while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) == -1) {
		if (errno == EINTR)
			continue;
		loginfile_fail(err, errlen, "cannot lock %s: %s", p->lock, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* The file's JSON object (a new empty one when there is no file), or NULL with the reason. */
static json_t *
loginfile_load(const struct loginfile_paths *p, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root;
	char *data;
	size_t len;

	if (util_read_secret_file(p->file, LOGINFILE_MAX, &data, &len) == -1) {
		if (errno == ENOENT)
			return json_object();
		if (errno == EPERM)
			loginfile_fail(err, errlen, "%s is readable by group or others: chmod 600 %s "
			    "(and run zt login again if others may have read the tokens)", p->file,
			    p->file);
		else if (errno == EFBIG)
			loginfile_fail(err, errlen, "%s is over %d bytes: it is not a login file",
			    p->file, LOGINFILE_MAX);
		else
			loginfile_fail(err, errlen, "cannot read %s: %s", p->file,
			    strerror(errno));
		return NULL;
	}
	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	util_cleanse(data, len);
	free(data);
	if (root == NULL) {
		loginfile_fail(err, errlen, "%s is corrupt (line %d, column %d: %s): fix it or "
		    "remove it, then zt login again", p->file, je.line, je.column, je.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		loginfile_fail(err, errlen, "%s is corrupt (not a JSON object): fix it or remove "
		    "it, then zt login again", p->file);
		return NULL;
	}
	return root;
}

/* Replaces the file with root (0600). */
static int
loginfile_store(const struct loginfile_paths *p, json_t *root, char *err, size_t errlen)
{
	char *text;
	int ret = 0;

	if ((text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL)
		return loginfile_fail(err, errlen, "out of memory");
	if (util_write_file_atomic(p->file, text, strlen(text), 0600) == -1)
		ret = loginfile_fail(err, errlen, "cannot write %s: %s", p->file, strerror(errno));
	util_cleanse(text, strlen(text));
	free(text);
	return ret;
}

/* Copies member name of o (a string, or absent or null for optional ones) into buf. */
static int
loginfile_str(json_t *o, const char *name, bool required, char *buf, size_t len,
    const char *file, const char *key, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, name);

	buf[0] = '\0';
	if (v == NULL || json_is_null(v)) {
		if (required)
			return loginfile_fail(err, errlen, "%s is corrupt: the login of \"%s\" has "
			    "no \"%s\": fix or remove it, then zt login again", file, key, name);
		return 0;
	}
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
	    !util_strlcpy(buf, json_string_value(v), len)) {
		buf[0] = '\0';
		return loginfile_fail(err, errlen, "%s is corrupt: \"%s\" of the login of \"%s\" "
		    "is not a string of at most %zu bytes", file, name, key, len - 1);
	}
	return 0;
}

/* Fills rec from the entry o of key. */
static int
loginfile_decode(json_t *o, const char *key, const char *file, struct loginfile_rec *rec,
    char *err, size_t errlen)
{
	char expires[64];

	memset(rec, 0, sizeof(*rec));
	if (!json_is_object(o))
		return loginfile_fail(err, errlen, "%s is corrupt: the login of \"%s\" is not an "
		    "object: fix or remove it, then zt login again", file, key);
	if (!util_strlcpy(rec->key, key, sizeof(rec->key)))
		return loginfile_fail(err, errlen, "%s is corrupt: a key is too long", file);
	if (loginfile_str(o, "edge", true, rec->edge, sizeof(rec->edge), file, key, err,
	    errlen) == -1 ||
	    loginfile_str(o, "token", true, rec->token, sizeof(rec->token), file, key, err,
	    errlen) == -1 ||
	    loginfile_str(o, "expires", true, expires, sizeof(expires), file, key, err,
	    errlen) == -1 ||
	    loginfile_str(o, "email", false, rec->email, sizeof(rec->email), file, key, err,
	    errlen) == -1 ||
	    loginfile_str(o, "ca_file", false, rec->ca_file, sizeof(rec->ca_file), file, key, err,
	    errlen) == -1 ||
	    loginfile_str(o, "pin", false, rec->pin, sizeof(rec->pin), file, key, err,
	    errlen) == -1 ||
	    loginfile_str(o, "edge_name", false, rec->edge_name, sizeof(rec->edge_name), file,
	    key, err, errlen) == -1)
		goto fail;
	if (loginfile_time_parse(expires, &rec->expires) == -1) {
		loginfile_fail(err, errlen, "%s is corrupt: \"expires\" of the login of \"%s\" is "
		    "not an RFC 3339 time in UTC (2026-11-27T21:00:00Z)", file, key);
		goto fail;
	}
	return 0;
fail:
	util_cleanse(rec->token, sizeof(rec->token));
	return -1;
}

int
loginfile_get(const char *key, struct loginfile_rec *rec, char *err, size_t errlen)
{
	struct loginfile_paths p;
	json_t *root, *o;
	int fd, ret;

	if (loginfile_paths(&p, err, errlen) == -1)
		return -1;
	if (access(p.file, F_OK) == -1 && errno == ENOENT)
		return 0;
	if ((fd = loginfile_lock(&p, false, err, errlen)) == -1)
		return -1;
	if ((root = loginfile_load(&p, err, errlen)) == NULL)
		ret = -1;
	else if ((o = json_object_get(root, key)) == NULL)
		ret = 0;
	else
		ret = loginfile_decode(o, key, p.file, rec, err, errlen) == -1 ? -1 : 1;
	json_decref(root);
	close(fd);
	return ret;
}

int
loginfile_put(const struct loginfile_rec *rec, char *err, size_t errlen)
{
	struct loginfile_paths p;
	char expires[64];
	json_t *root, *o;
	int fd, ret = -1;

	if (rec->key[0] == '\0' || rec->edge[0] == '\0' || rec->token[0] == '\0' ||
	    !loginfile_time_format(rec->expires, expires, sizeof(expires)))
		return loginfile_fail(err, errlen, "loginfile_put: a login needs its edge, token "
		    "and expiry");
	if (loginfile_paths(&p, err, errlen) == -1)
		return -1;
	if ((fd = loginfile_lock(&p, true, err, errlen)) == -1)
		return -1;
	if ((root = loginfile_load(&p, err, errlen)) == NULL)
		goto out;
	o = json_object();
	json_object_set_new(o, "edge", json_string(rec->edge));
	json_object_set_new(o, "token", json_string(rec->token));
	json_object_set_new(o, "expires", json_string(expires));
	json_object_set_new(o, "email", rec->email[0] != '\0' ? json_string(rec->email) :
	    json_null());
	json_object_set_new(o, "ca_file", rec->ca_file[0] != '\0' ? json_string(rec->ca_file) :
	    json_null());
	json_object_set_new(o, "pin", rec->pin[0] != '\0' ? json_string(rec->pin) : json_null());
	json_object_set_new(o, "edge_name", rec->edge_name[0] != '\0' ?
	    json_string(rec->edge_name) : json_null());
	/* json_string refuses invalid UTF-8: a member left out is an error, not a gap. */
	if (json_object_size(o) != 7 || json_object_get(o, "edge") == NULL ||
	    json_object_get(o, "token") == NULL || (rec->email[0] != '\0' &&
	    !json_is_string(json_object_get(o, "email"))) || (rec->ca_file[0] != '\0' &&
	    !json_is_string(json_object_get(o, "ca_file"))) || (rec->edge_name[0] != '\0' &&
	    !json_is_string(json_object_get(o, "edge_name"))) || (rec->pin[0] != '\0' &&
	    !json_is_string(json_object_get(o, "pin")))) {
		json_decref(o);
		loginfile_fail(err, errlen, "the login cannot be stored: a value is not UTF-8");
		goto out;
	}
	if (json_object_set_new(root, rec->key, o) == -1) {
		loginfile_fail(err, errlen, "the login cannot be stored: the key is not UTF-8");
		goto out;
	}
	ret = loginfile_store(&p, root, err, errlen);
out:
	json_decref(root);
	close(fd);
	return ret;
}

int
loginfile_del(const char *key, char *err, size_t errlen)
{
	struct loginfile_paths p;
	json_t *root;
	int fd, ret = -1;

	if (loginfile_paths(&p, err, errlen) == -1)
		return -1;
	if (access(p.file, F_OK) == -1 && errno == ENOENT)
		return 0;
	if ((fd = loginfile_lock(&p, true, err, errlen)) == -1)
		return -1;
	if ((root = loginfile_load(&p, err, errlen)) == NULL)
		goto out;
	if (json_object_get(root, key) == NULL)
		ret = 0;
	else {
		json_object_del(root, key);
		ret = loginfile_store(&p, root, err, errlen) == -1 ? -1 : 1;
	}
out:
	json_decref(root);
	close(fd);
	return ret;
}

static int
loginfile_cmp(const void *a, const void *b)
{
	return strcmp(((const struct loginfile_rec *)a)->key,
	    ((const struct loginfile_rec *)b)->key);
}

int
loginfile_list(struct loginfile_rec **recs, size_t *n, char *err, size_t errlen)
{
	struct loginfile_paths p;
	const char *key;
	json_t *root, *o;
	size_t i = 0;
	int fd, ret = -1;

	*recs = NULL;
	*n = 0;
	if (loginfile_paths(&p, err, errlen) == -1)
		return -1;
	if (access(p.file, F_OK) == -1 && errno == ENOENT)
		return 0;
	if ((fd = loginfile_lock(&p, false, err, errlen)) == -1)
		return -1;
	if ((root = loginfile_load(&p, err, errlen)) == NULL)
		goto out;
	*recs = xcalloc(json_object_size(root) + 1, sizeof(**recs));
	json_object_foreach(root, key, o) {
		if (loginfile_decode(o, key, p.file, &(*recs)[i], err, errlen) == -1) {
			loginfile_list_free(*recs, i);
			*recs = NULL;
			goto out;
		}
		i++;
	}
	qsort(*recs, i, sizeof(**recs), loginfile_cmp);
	*n = i;
	ret = 0;
out:
	json_decref(root);
	close(fd);
	return ret;
}

int
loginfile_find(const char *key, struct loginfile_rec *rec, char *err, size_t errlen)
{
	struct loginfile_rec *recs;
	size_t n;

	if (key != NULL)
		return loginfile_get(key, rec, err, errlen);
	if (loginfile_list(&recs, &n, err, errlen) == -1)
		return -1;
	if (n == 1)
		*rec = recs[0];
	else if (n > 1)
		loginfile_fail(err, errlen, "logged in to %zu edges: name one (zt login --status "
		    "lists them)", n);
	loginfile_list_free(recs, n);
	return n == 1 ? 1 : n == 0 ? 0 : -1;
}

void
loginfile_list_free(struct loginfile_rec *recs, size_t n)
{
	if (recs == NULL)
		return;
	util_cleanse(recs, n * sizeof(*recs));
	free(recs);
}

bool
loginfile_time_format(int64_t t, char *buf, size_t len)
{
	char tmp[UTIL_TIME_LEN + 1];

	/* Refused rather than clamped: a login's times are not moved. */
	if (t < 0 || t > (int64_t)UTIL_TIME_MAX || len < sizeof(tmp))
		return false;
	util_time_format((time_t)t, tmp);
	memcpy(buf, tmp, sizeof(tmp));
	return true;
}

int
loginfile_time_parse(const char *s, int64_t *t)
{
	time_t v;

	if (!util_time_parse(s, &v))
		return -1;
	*t = (int64_t)v;
	return 0;
}
