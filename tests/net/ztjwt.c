/* ztjwt: a tests-only front end to common/jwt and common/signkeys, so that shell tests can sign
 * tokens with an edge's keys, print its JWKS and verify tokens (tests/integration/jwt-interop.sh
 * and the identity tests). Built by `make check` (or `make tests/net/ztjwt`); not installed. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/jwt.h"
#include "common/log.h"
#include "common/signkeys.h"
#include "common/util.h"

static const char usage[] =
"usage: ztjwt sign DIR                 claims JSON on stdin; prints a token signed with the\n"
"                                      current key of the state directory DIR\n"
"       ztjwt jwks DIR                 prints the JWKS of DIR's keys\n"
"       ztjwt verify JWKSFILE ISS AUD  token on stdin; prints its claims as JSON (exit 0) or\n"
"                                      \"refused: REASON\" (exit 1)\n"
"sign fills in what the claims leave out: iat = now, nbf = iat, exp = iat + 300, a jti.\n";

static char *
read_stdin(size_t max, size_t *len)
{
	char *buf = xmalloc(max + 1);
	size_t n = fread(buf, 1, max + 1, stdin);

	if (n > max) {
		fprintf(stderr, "ztjwt: standard input is longer than %zu bytes\n", max);
		exit(2);
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	*len = n;
	return buf;
}

static void
copy_str(json_t *o, const char *name, char *dst, size_t len)
{
	json_t *v = json_object_get(o, name);

	if (v == NULL)
		return;
	if (!json_is_string(v) || !util_strlcpy(dst, json_string_value(v), len)) {
		fprintf(stderr, "ztjwt: claim %s must be a string of less than %zu bytes\n", name,
		    len);
		exit(2);
	}
}

static int64_t
get_int(json_t *o, const char *name, int64_t dflt)
{
	json_t *v = json_object_get(o, name);

	if (v == NULL)
		return dflt;
	if (!json_is_integer(v)) {
		fprintf(stderr, "ztjwt: claim %s must be an integer\n", name);
		exit(2);
	}
	return (int64_t)json_integer_value(v);
}

static int
cmd_sign(const char *dir)
{
	struct jwt_claims c;
	struct jwt_keyset *ks;
	json_error_t jerr;
	json_t *o, *g;
	char err[512], tok[JWT_MAX + 1], *in;
	size_t len;

	if ((ks = signkeys_load(dir, time(NULL), err, sizeof(err))) == NULL) {
		fprintf(stderr, "ztjwt: %s\n", err);
		return 1;
	}
	in = read_stdin(65536, &len);
	if ((o = json_loadb(in, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL ||
	    !json_is_object(o)) {
		fprintf(stderr, "ztjwt: the claims on stdin are not a JSON object: %s\n",
		    jerr.text);
		return 2;
	}
	memset(&c, 0, sizeof(c));
	copy_str(o, "iss", c.iss, sizeof(c.iss));
	copy_str(o, "sub", c.sub, sizeof(c.sub));
	copy_str(o, "aud", c.aud, sizeof(c.aud));
	copy_str(o, "type", c.type, sizeof(c.type));
	copy_str(o, "email", c.email, sizeof(c.email));
	copy_str(o, "name", c.name, sizeof(c.name));
	copy_str(o, "jti", c.jti, sizeof(c.jti));
	if ((g = json_object_get(o, "groups")) != NULL) {
		if (!json_is_array(g) || json_array_size(g) > JWT_MAX_GROUPS) {
			fprintf(stderr, "ztjwt: groups must be an array of at most %d strings\n",
			    JWT_MAX_GROUPS);
			return 2;
		}
		for (size_t i = 0; i < json_array_size(g); i++) {
			json_t *e = json_array_get(g, i);

			if (!json_is_string(e) || !util_strlcpy(c.groups[i], json_string_value(e),
			    sizeof(c.groups[i]))) {
				fprintf(stderr, "ztjwt: groups entry %zu is not a short string\n",
				    i);
				return 2;
			}
		}
		c.ngroups = json_array_size(g);
	}
	c.iat = get_int(o, "iat", (int64_t)time(NULL));
	c.nbf = get_int(o, "nbf", c.iat);
	c.exp = get_int(o, "exp", c.iat + 300);
	c.auth_time = get_int(o, "auth_time", 0);
	if (c.jti[0] == '\0')
		jwt_random_id(c.jti);
	if (jwt_sign(ks, &c, tok, sizeof(tok)) == -1) {
		fprintf(stderr, "ztjwt: cannot sign these claims\n");
		return 1;
	}
	puts(tok);
	json_decref(o);
	free(in);
	jwt_keyset_free(ks);
	return 0;
}

static int
cmd_jwks(const char *dir)
{
	struct jwt_keyset *ks;
	char err[512], *s;

	if ((ks = signkeys_load(dir, time(NULL), err, sizeof(err))) == NULL) {
		fprintf(stderr, "ztjwt: %s\n", err);
		return 1;
	}
	s = jwt_keyset_to_jwks(ks);
	puts(s);
	free(s);
	jwt_keyset_free(ks);
	return 0;
}

static void
put_str(json_t *o, const char *name, const char *v)
{
	if (v[0] != '\0')
		json_object_set_new(o, name, json_string(v));
}

static int
cmd_verify(const char *file, const char *iss, const char *aud)
{
	struct jwt_claims c;
	struct jwt_keyset *ks;
	char err[512], *jwks, *tok, *s;
	size_t len, toklen;
	json_t *o, *g;

	if (util_read_file(file, JWT_JWKS_MAX, &jwks, &len) == -1) {
		fprintf(stderr, "ztjwt: cannot read %s\n", file);
		return 2;
	}
	if ((ks = jwt_keyset_from_jwks(jwks, len, err, sizeof(err))) == NULL) {
		fprintf(stderr, "ztjwt: %s: %s\n", file, err);
		return 2;
	}
	tok = read_stdin(2 * JWT_MAX, &toklen);
	if (jwt_verify(ks, tok, iss, aud, (int64_t)time(NULL), &c, err, sizeof(err)) == -1) {
		printf("refused: %s\n", err);
		return 1;
	}
	o = json_object();
	put_str(o, "iss", c.iss);
	put_str(o, "sub", c.sub);
	put_str(o, "aud", c.aud);
	put_str(o, "type", c.type);
	put_str(o, "email", c.email);
	put_str(o, "name", c.name);
	if (c.ngroups > 0) {
		g = json_array();
		for (size_t i = 0; i < c.ngroups; i++)
			json_array_append_new(g, json_string(c.groups[i]));
		json_object_set_new(o, "groups", g);
	}
	json_object_set_new(o, "iat", json_integer(c.iat));
	json_object_set_new(o, "nbf", json_integer(c.nbf));
	json_object_set_new(o, "exp", json_integer(c.exp));
	if (c.auth_time != 0)
		json_object_set_new(o, "auth_time", json_integer(c.auth_time));
	put_str(o, "jti", c.jti);
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	puts(s);
	free(s);
	json_decref(o);
	free(tok);
	free(jwks);
	jwt_keyset_free(ks);
	return 0;
}

int
main(int argc, char **argv)
{
	log_set_level(LOG_LEVEL_WARN);
	if (argc == 3 && strcmp(argv[1], "sign") == 0)
		return cmd_sign(argv[2]);
	if (argc == 3 && strcmp(argv[1], "jwks") == 0)
		return cmd_jwks(argv[2]);
	if (argc == 5 && strcmp(argv[1], "verify") == 0)
		return cmd_verify(argv[2], argv[3], argv[4]);
	fputs(usage, stderr);
	return 2;
}
