/* edge-user: `zt edge user`, the people of the edge: add, list, del, passwd, groups, totp
 * (doc/identity.md; passwords as scrypt hashes, TOTP per RFC 6238). */
#include "config.h"

#include <sys/prctl.h>

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common/edgeconf.h"
#include "common/log.h"
#include "common/qr.h"
#include "common/users.h"
#include "common/util.h"
#include "edge-user.h"

static const char usage[] =
"usage: zt edge user add EMAIL [--group G]... [-c FILE]\n"
"       zt edge user list [-c FILE]\n"
"       zt edge user del EMAIL [-c FILE]\n"
"       zt edge user passwd EMAIL [-c FILE]\n"
"       zt edge user groups EMAIL [G...] [-c FILE]\n"
"       zt edge user totp EMAIL [-c FILE]\n"
"\n"
"The people who sign in on the edge's login page (zt login), kept in the state\n"
"directory that edge.ini names (DIR/users). Run these on the edge host as the edge's\n"
"user; a running 'zt edge serve' sees every change within a second.\n"
"\n"
"  add EMAIL      a new user; the password (8 to 1024 bytes) is asked twice on the\n"
"                 terminal, or read as one line from standard input when that is\n"
"                 not a terminal; never from the command line\n"
"  list           every user: email, groups, TOTP enrolment, creation time\n"
"  del EMAIL      removes a user (their logins stop within a second)\n"
"  passwd EMAIL   sets a new password, read as for add\n"
"  groups EMAIL [G...]  sets the user's groups (none: no group)\n"
"  totp EMAIL     enrols the user in TOTP: prints the otpauth:// URI and its QR code\n"
"                 for an authenticator app, once; enrolling again replaces it\n"
"\n"
"  -c, --config FILE   edge.ini (default /etc/zt/edge.ini, or $ZT_EDGE_CONFIG)\n"
"  --group G           with add: a group (1-128 printable characters, no space);\n"
"                      repeat for several\n";

/* Keeps passwords and TOTP secrets out of core dumps and ptrace by other processes. */
static void
user_protect(void)
{
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* Reads one line from the terminal on fd without echo, handling erase, kill and ^C itself
 * (so the terminal is restored whatever is typed). 0, 1 when interrupted, -1 on error. */
static int
user_read_tty(int fd, const char *prompt, char *buf, size_t len)
{
	struct termios old, raw;
	size_t n = 0;
	int ret = -1;

	if (tcgetattr(fd, &old) == -1)
		return -1;
	raw = old;
	raw.c_lflag &= ~(tcflag_t)(ECHO | ICANON | ISIG);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	/* The mode first, then the prompt: whatever is typed once the prompt shows is kept
	 * (TCSAFLUSH drops only what was typed before), and never echoed. */
	if (tcsetattr(fd, TCSAFLUSH, &raw) == -1)
		return -1;
	fputs(prompt, stderr);
	fflush(stderr);
	for (;;) {
		unsigned char c;
		ssize_t r = read(fd, &c, 1);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0 || c == 0x03 || (c == 0x04 && n == 0)) {
			ret = 1;	/* end of file or ^C: nothing entered */
			break;
		}
		if (c == '\n' || c == '\r') {
			ret = 0;
			break;
		}
		if (c == 0x7f || c == 0x08) {
			if (n > 0)
				n--;
		} else if (c == 0x15) {
			n = 0;
		} else if (n + 1 < len) {
			buf[n++] = (char)c;
		} else {
			n = len;	/* too long: refused below */
			while (read(fd, &c, 1) == 1 && c != '\n' && c != '\r')
				;
			ret = 0;
			break;
		}
	}
	(void)tcsetattr(fd, TCSADRAIN, &old);
	fputc('\n', stderr);
	if (ret == 0 && n >= len)
		n = len - 1;
	buf[ret == 0 ? n : 0] = '\0';
	return ret;
}

/* The password for EMAIL: asked twice on a terminal, else one line of standard input. 0 with
 * buf filled; else the exit status after saying why. */
static int
user_password(const char *prog, const char *email, char *buf, size_t len)
{
	char again[USERS_PASSWORD_MAX + 2], prompt[USERS_EMAIL_MAX + 64];
	size_t n;
	int rc;

	if (isatty(STDIN_FILENO)) {
		snprintf(prompt, sizeof(prompt), "Password for %s: ", email);
		if ((rc = user_read_tty(STDIN_FILENO, prompt, buf, len)) != 0) {
			fprintf(stderr, "%s: %s\n", prog, rc == 1 ? "no password entered" :
			    strerror(errno));
			return 1;
		}
		if (user_read_tty(STDIN_FILENO, "Again: ", again, sizeof(again)) != 0 ||
		    strcmp(buf, again) != 0) {
			util_cleanse(again, sizeof(again));
			fprintf(stderr, "%s: the two passwords differ: run the command again\n",
			    prog);
			return 1;
		}
		util_cleanse(again, sizeof(again));
	} else {
		if (fgets(buf, (int)len, stdin) == NULL) {
			fprintf(stderr, "%s: standard input is empty: give the password as one "
			    "line on standard input, or run the command on a terminal\n", prog);
			return 1;
		}
		n = strlen(buf);
		if (n > 0 && buf[n - 1] == '\n')
			buf[--n] = '\0';
		else if (!feof(stdin)) {
			fprintf(stderr, "%s: the password is longer than %d bytes\n", prog,
			    USERS_PASSWORD_MAX);
			return 1;
		}
		if (n > 0 && buf[n - 1] == '\r')
			buf[--n] = '\0';
	}
	n = strlen(buf);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f) {
			fprintf(stderr, "%s: the password contains a control character (byte "
			    "%zu): use printable characters\n", prog, i + 1);
			return 1;
		}
	return 0;
}

/* Joins groups with sep into buf. */
static void
user_groups_str(const struct user_info *ui, const char *sep, char *buf, size_t len)
{
	size_t pos = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ui->ngroups; i++) {
		if (!util_snprintf(buf + pos, len - pos, "%s%s", i > 0 ? sep : "", ui->groups[i]))
			return;
		pos += strlen(buf + pos);
	}
}

static int
user_list(const char *dir)
{
	struct users *u;
	struct user_info ui;
	char groups[USERS_GROUPS_MAX * (USERS_GROUP_MAX + 1) + 1];
	size_t w = 5;

	if ((u = users_open(dir)) == NULL)
		return EX_CONFIG;
	for (size_t i = 0; users_nth(u, i, &ui); i++)
		if (strlen(ui.email) > w)
			w = strlen(ui.email);
	printf("%-*s  %-4s  %-20s  %s\n", (int)w, "EMAIL", "TOTP", "CREATED", "GROUPS");
	for (size_t i = 0; users_nth(u, i, &ui); i++) {
		char t[32];
		struct tm tm;

		if (gmtime_r(&ui.created, &tm) == NULL ||
		    strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
			util_strlcpy(t, "?", sizeof(t));
		user_groups_str(&ui, " ", groups, sizeof(groups));
		printf("%-*s  %-4s  %-20s  %s\n", (int)w, ui.email, ui.totp ? "yes" : "no", t,
		    ui.ngroups > 0 ? groups : "-");
	}
	users_free(u);
	return 0;
}

static int
user_totp(const char *dir, const char *email)
{
	char uri[512], err[USERS_ERR_MAX];

	user_protect();
	if (users_totp_enrol(dir, email, uri, sizeof(uri), err, sizeof(err)) == -1) {
		fprintf(stderr, "zt edge user totp: %s\n", err);
		return 1;
	}
	printf("Enrolled %s in TOTP (RFC 6238: SHA-1, 6 digits, 30 s).\n"
	    "Scan the QR code with an authenticator app, or enter this URI:\n\n%s\n\n", email,
	    uri);
	if (qr_print(stdout, uri, qr_locale_utf8()) == -1) {
		util_cleanse(uri, sizeof(uri));
		return 1;
	}
	util_cleanse(uri, sizeof(uri));
	printf("\nThe secret is shown this once: the sign-in page asks for a code from now on.\n"
	    "Enrolling again ('zt edge user totp %s') replaces it.\n", email);
	return 0;
}

int
edge_user_cmd(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "group", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const cmds[] = { "add", "list", "del", "passwd", "groups", "totp" };
	const char *cmd, *config = NULL, *env, **groups = NULL;
	char prog[64], err[USERS_ERR_MAX], email[USERS_EMAIL_MAX + 1], q[300];
	char password[USERS_PASSWORD_MAX + 2], *dir = NULL;
	size_t ngroups = 0, nargs;
	bool known = false;
	int ch, ret = 2;

	password[0] = '\0';
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	cmd = argv[1];
	for (size_t i = 0; i < nitems(cmds); i++)
		known |= strcmp(cmd, cmds[i]) == 0;
	if (!known) {
		fprintf(stderr, "zt edge user: unknown command \"%s\"\n", util_quote(cmd, q,
		    sizeof(q)));
		fputs(usage, stderr);
		return 2;
	}
	snprintf(prog, sizeof(prog), "zt edge user %s", cmd);
	argc--;
	argv++;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'g':
			if (strcmp(cmd, "add") != 0) {
				fprintf(stderr, "%s: --group goes with add; set the groups of an "
				    "existing user with 'zt edge user groups EMAIL G...'\n", prog);
				goto out;
			}
			groups = xreallocarray(groups, ngroups + 1, sizeof(*groups));
			groups[ngroups++] = optarg;
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
	nargs = (size_t)(argc - optind);
	if (strcmp(cmd, "list") == 0 ? nargs != 0 :
	    strcmp(cmd, "groups") == 0 ? nargs < 1 : nargs != 1) {
		fprintf(stderr, "%s: %s\n", prog, strcmp(cmd, "list") == 0 ?
		    "takes no argument" : nargs == 0 ? "give the user's EMAIL" :
		    "unexpected argument after EMAIL");
		fputs(usage, stderr);
		goto out;
	}
	if (nargs > 0 && !users_email_valid(argv[optind], email, sizeof(email))) {
		fprintf(stderr, "%s: '%s' is not an email address such as alice@example.com (a "
		    "dot-atom local part without '/', '@', a DNS domain; at most %d "
		    "characters)\n", prog, util_quote(argv[optind], q, sizeof(q)),
		    USERS_EMAIL_MAX);
		goto out;
	}
	if (config == NULL)
		config = (env = getenv("ZT_EDGE_CONFIG")) != NULL && *env != '\0' ? env :
		    EDGECONF_DEFAULT_PATH;
	if ((dir = edgeconf_state_dir(config)) == NULL) {
		ret = EX_CONFIG;
		goto out;
	}
	if (users_dir_check(dir, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", prog, err);
		ret = EX_CONFIG;
		goto out;
	}
	ret = 1;
	if (strcmp(cmd, "list") == 0) {
		ret = user_list(dir);
	} else if (strcmp(cmd, "add") == 0 || strcmp(cmd, "passwd") == 0) {
		user_protect();
		if ((ret = user_password(prog, email, password, sizeof(password))) != 0)
			goto out;
		ret = 1;
		if ((strcmp(cmd, "add") == 0 ? users_add(dir, email, password, groups, ngroups,
		    time(NULL), err, sizeof(err)) : users_passwd(dir, email, password, err,
		    sizeof(err))) == -1) {
			fprintf(stderr, "%s: %s\n", prog, err);
			goto out;
		}
		printf("%s %s.\n", strcmp(cmd, "add") == 0 ? "Added" : "Set the password of",
		    email);
		ret = 0;
	} else if (strcmp(cmd, "del") == 0) {
		if (users_del(dir, email, err, sizeof(err)) == -1) {
			fprintf(stderr, "%s: %s\n", prog, err);
			goto out;
		}
		printf("Removed %s.\n", email);
		ret = 0;
	} else if (strcmp(cmd, "groups") == 0) {
		if (users_set_groups(dir, email, (const char *const *)argv + optind + 1,
		    nargs - 1, err, sizeof(err)) == -1) {
			fprintf(stderr, "%s: %s\n", prog, err);
			goto out;
		}
		printf("Set the groups of %s:", email);
		for (size_t i = 1; i < nargs; i++)
			printf(" %s", argv[optind + i]);
		printf("%s.\n", nargs > 1 ? "" : " none");
		ret = 0;
	} else {
		ret = user_totp(dir, email);
	}
out:
	util_cleanse(password, sizeof(password));
	free(groups);
	free(dir);
	return ret;
}
