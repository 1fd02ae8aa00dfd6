/* revoked: logins revoked before their expiry, DIR/revoked/JTI (doc/identity.md): written by
 * /oauth/revoke under the directory lock, read by the running edge every 250 ms. */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "revoked.h"
#include "util.h"

#define REVOKED_JTI_LEN		22
#define REVOKED_MAX		65536	/* entries the edge keeps in memory */
#define REVOKED_FILE_MAX	512

struct revoked_entry {
	char	 jti[REVOKED_JTI_LEN + 1];
	time_t	 expires;
};

struct revoked {
	char	*dir;		/* DIR/revoked */
	struct revoked_entry *v;
	size_t	 n;
	struct timespec mtime;	/* of the directory when last read */
	bool	 read;
};

/* Whether s is REVOKED_JTI_LEN base64url characters. */
static bool
jti_valid(const char *s)
{
	size_t n = strlen(s);

	return n == REVOKED_JTI_LEN && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_") == n;
}

int
revoked_add(const char *dir, const char *jti, time_t expires, char *err, size_t errlen)
{
	char *rdir = NULL, *path = NULL, text[256], ts[UTIL_TIME_LEN + 1];
	int lk = -1, ret = -1;

	if (!jti_valid(jti)) {
		snprintf(err, errlen, "jti \"%.40s\" is not 22 base64url characters", jti);
		return -1;
	}
	xasprintf(&rdir, "%s/revoked", dir);
	xasprintf(&path, "%s/%s", rdir, jti);
	if (util_mkdir_p(rdir, 0700) == -1) {
		snprintf(err, errlen, "cannot create %s: %s", rdir, strerror(errno));
		goto out;
	}
	if ((lk = util_dir_lock(dir, err, errlen)) == -1)
		goto out;
	util_time_format(expires, ts);
	snprintf(text, sizeof(text), "zt-state = 1\ntype = revoked\njti = %s\nexpires = %s\n", jti,
	    ts);
	if (util_write_file_atomic(path, text, strlen(text), 0600) == -1) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (lk != -1)
		close(lk);
	free(rdir);
	free(path);
	return ret;
}

struct revoked *
revoked_open(const char *dir)
{
	struct revoked *r = xcalloc(1, sizeof(*r));

	xasprintf(&r->dir, "%s/revoked", dir);
	if (util_mkdir_p(r->dir, 0700) == -1) {
		log_error("cannot create %s", r->dir);
		revoked_free(r);
		return NULL;
	}
	return r;
}

/* Reads one file; false when it is not a revocation of its own name. */
static bool
read_entry(const char *path, const char *name, struct revoked_entry *e)
{
	char *data = NULL, *line, *save = NULL;
	size_t len;
	bool head = false, type = false, jti = false, exp = false;

	if (util_read_file(path, REVOKED_FILE_MAX, &data, &len) == -1)
		return false;
	for (line = strtok_r(data, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strstr(line, " = ");

		if (eq == NULL)
			break;
		*eq = '\0';
		if (!head) {
			if (strcmp(line, "zt-state") != 0 || strcmp(eq + 3, "1") != 0)
				break;
			head = true;
		} else if (strcmp(line, "type") == 0)
			type = strcmp(eq + 3, "revoked") == 0;
		else if (strcmp(line, "jti") == 0)
			jti = strcmp(eq + 3, name) == 0;
		else if (strcmp(line, "expires") == 0)
			exp = util_time_parse(eq + 3, &e->expires);
	}
	free(data);
	if (!(head && type && jti && exp))
		return false;
	util_strlcpy(e->jti, name, sizeof(e->jti));
	return true;
}

int
revoked_refresh(struct revoked *r, time_t now)
{
	struct revoked_entry *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	struct stat st;
	bool expired = false;
	DIR *d;

	for (size_t i = 0; i < r->n; i++)
		expired = expired || r->v[i].expires <= now;
	if (stat(r->dir, &st) == -1) {
		log_error("cannot read %s", r->dir);
		return -1;
	}
	if (r->read && !expired && st.st_mtim.tv_sec == r->mtime.tv_sec &&
	    st.st_mtim.tv_nsec == r->mtime.tv_nsec)
		return 0;
	if ((d = opendir(r->dir)) == NULL) {
		log_error("cannot read %s", r->dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		struct revoked_entry e;
		char *path;

		if (!jti_valid(de->d_name))
			continue;
		xasprintf(&path, "%s/%s", r->dir, de->d_name);
		if (!read_entry(path, de->d_name, &e))
			log_warnx("%s: not a revocation (zt-state = 1, type = revoked, jti, "
			    "expires): ignored", path);
		else if (e.expires <= now)
			unlink(path);	/* the login has expired anyway */
		else if (n < REVOKED_MAX) {
			if (n == cap) {
				cap = cap ? 2 * cap : 16;
				v = xreallocarray(v, cap, sizeof(*v));
			}
			v[n++] = e;
		}
		free(path);
	}
	closedir(d);
	free(r->v);
	r->v = v;
	r->n = n;
	r->mtime = st.st_mtim;
	r->read = true;
	return 1;
}

bool
revoked_has(const struct revoked *r, const char *jti)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->v[i].jti, jti) == 0)
			return true;
	return false;
}

void
revoked_free(struct revoked *r)
{
	if (r == NULL)
		return;
	free(r->v);
	free(r->dir);
	free(r);
}
