/* logout: `zt logout`, revokes the login token at the edge (RFC 7009) and forgets it
 * (doc/identity.md, "The client"). */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "applets.h"
#include "common/httpc.h"
#include "common/log.h"
#include "common/loginfile.h"
#include "common/util.h"

static const char usage[] =
"usage: zt logout [URL]\n"
"\n"
"Signs out of the edge at URL (https://HOST[:PORT]; without it, the only edge logged in\n"
"to): asks the edge to revoke the login token (POST /oauth/revoke), then removes the login\n"
"from $XDG_CONFIG_HOME/zt/logins.json. The login is removed here even when the edge cannot\n"
"be reached; the message says so (the edge then accepts the token until it expires).\n"
"\n"
"  --log-level LEVEL     error, warn, info (default) or debug\n"
"  --log-format FORMAT   auto, text or json\n";

#define LOGOUT_HTTP_TIMEOUT	10000

int
logout_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "log-format", required_argument, NULL, 'F' },
		{ "log-level", required_argument, NULL, 'G' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct loginfile_rec rec;
	struct httpc_request req;
	struct httpc_response resp;
	char key[300], err[LOGINFILE_ERR_MAX], form[LOGINFILE_TOKEN_MAX * 3 + 16] = "";
	char when[32], why[LOGINFILE_ERR_MAX] = "";
	bool revoked = false;
	int ch, r, ret = 2;

	memset(&rec, 0, sizeof(rec));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'F':
		case 'G':
			if (log_apply_flag("zt logout", ch == 'F', optarg) == -1)
				return 2;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (argc - optind > 1) {
		fputs(usage, stderr);
		return 2;
	}
	if (optind < argc && httpc_edge_key(argv[optind], 443, key, sizeof(key), err,
	    sizeof(err)) == -1) {
		log_errorx("URL \"%s\": %s", argv[optind], err);
		return 2;
	}
	ret = 1;
	if ((r = loginfile_find(optind < argc ? key : NULL, &rec, err, sizeof(err))) == -1) {
		log_errorx("%s", err);
		goto out;
	}
	if (r == 0) {
		if (optind < argc)
			fprintf(stderr, "not logged in to %s: nothing to do\n", argv[optind]);
		else
			fputs("not logged in: nothing to do\n", stderr);
		ret = 0;
		goto out;
	}
	log_redact_add(rec.token);

	/* RFC 7009 2.1: the edge answers 200 whatever the token; anything else is a failure. */
	if (!httpc_form_add(form, sizeof(form), "token", rec.token))
		fatalx("logout: the form does not fit");
	{
		struct util_hostport hp;

		if (util_parse_hostport(rec.key, 443, &hp, err, sizeof(err)) == -1) {
			util_snprintf(why, sizeof(why), "the login's edge \"%s\": %s", rec.key, err);
			goto forget;
		}
		memset(&req, 0, sizeof(req));
		req.host = hp.host;
		req.port = hp.port;
		req.server_name = rec.edge_name[0] != '\0' ? rec.edge_name : NULL;
		req.ca_file = rec.ca_file[0] != '\0' ? rec.ca_file : NULL;
		req.pin = rec.pin[0] != '\0' ? rec.pin : NULL;
		req.method = "POST";
		req.path = "/oauth/revoke";
		req.form = form;
		req.timeout_ms = LOGOUT_HTTP_TIMEOUT;
		if (httpc_do(NULL, &req, &resp, err, sizeof(err)) == -1)
			util_strlcpy(why, err, sizeof(why));
		else {
			if (resp.status == 200)
				revoked = true;
			else
				util_snprintf(why, sizeof(why), "the edge answered %d", resp.status);
			httpc_response_free(&resp);
		}
	}
forget:
	if ((r = loginfile_del(rec.key, err, sizeof(err))) == -1) {
		log_errorx("%s", err);
		goto out;
	}
	if (revoked)
		fprintf(stderr, "Logged out of %s: the edge revoked the login and it is removed "
		    "here.\n", rec.edge);
	else {
		loginfile_time_format(rec.expires, when, sizeof(when));
		fprintf(stderr, "Logged out of %s here (the login is removed), but the edge could "
		    "not revoke it (%s): it accepts the token until %s.\n", rec.edge, why, when);
	}
	ret = 0;
out:
	util_cleanse(&rec, sizeof(rec));
	util_cleanse(form, sizeof(form));
	log_redact_clear();
	return ret;
}
