/* zt: main and dispatch of the multi-call binary (busybox-style, from src/applets.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applets.h"
#include "common/ev.h"
#include "common/log.h"
#include "common/tls.h"
#include "common/util.h"

static const char usage[] =
"usage: zt APPLET [ARGS...]\n"
"       zt help [APPLET]\n"
"       zt --version\n"
"\n"
"zt is a self-hosted zero-trust network: an edge, outbound-only connectors,\n"
"sidecars and a private resolver, in one program. Each applet also runs as a\n"
"link named zt-APPLET.\n";

struct applet {
	const char	*name;
	int		(*main)(int, char **);
	int		 flags;
	const char	*summary;
};

#define ZT_APPLET_ENTRY(n, f, s) { #n, n##_main, f, s },
static const struct applet applets[] = {
	ZT_APPLETS(ZT_APPLET_ENTRY)
	{ NULL, NULL, 0, NULL }
};
#undef ZT_APPLET_ENTRY

static const struct applet *
applet_find(const char *name)
{
	for (const struct applet *a = applets; a->name != NULL; a++)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

/* Prints the usage and the applet list to fp. */
static void
print_help(FILE *fp)
{
	fputs(usage, fp);
	fputs("\napplets:\n", fp);
	if (applets[0].name == NULL)
		fputs("  (none yet in this build)\n", fp);
	for (const struct applet *a = applets; a->name != NULL; a++)
		fprintf(fp, "  %-8s %s\n", a->name, a->summary);
	fputs("\n'zt help APPLET' or 'zt APPLET --help' describes one applet.\n", fp);
}

static void
print_version(void)
{
	printf("zt %s\n", PACKAGE_VERSION);
	printf("%s\n", tls_version_string());
	printf("libevent %s\n", ev_version_string());
}

/* The closest applet name within two edits, for "did you mean". */
static const char *
applet_suggest(const char *name)
{
	const char *best = NULL;
	size_t bestd = 3;

	for (const struct applet *a = applets; a->name != NULL; a++) {
		size_t d = util_edit_distance(name, a->name);
		if (d < bestd) {
			bestd = d;
			best = a->name;
		}
	}
	return best;
}

static int
unknown_applet(const char *name)
{
	const char *hint = applet_suggest(name);

	fprintf(stderr, "zt: '%s' is not an applet", name);
	if (hint != NULL)
		fprintf(stderr, "; did you mean '%s'?", hint);
	fputs("\nRun 'zt help' for the list.\n", stderr);
	return 127;
}

/* Runs applet a with argv[0] set to its own name, as each subcommand expects. */
static int
run_applet(const struct applet *a, int argc, char **argv)
{
	char *name = (char *)a->name;

	argv[0] = name;
	log_init(a->name, LOG_LEVEL_INFO, LOG_FORMAT_AUTO);
	return a->main(argc, argv);
}

/* Prints the link names make install creates, one per line. */
static void
print_links(void)
{
	for (const struct applet *a = applets; a->name != NULL; a++) {
		printf("zt-%s\n", a->name);
		if (a->flags & APPLET_BARE_LINK)
			printf("%s\n", a->name);
	}
}

int
main(int argc, char **argv)
{
	const char *prog = argv[0] != NULL ? argv[0] : "zt";
	const char *base = strrchr(prog, '/');
	const struct applet *a;

	base = base != NULL ? base + 1 : prog;
	log_init("zt", LOG_LEVEL_INFO, LOG_FORMAT_AUTO);

	/* Called through a link: zt-NAME or NAME. */
	if (strncmp(base, "zt-", 3) == 0) {
		if ((a = applet_find(base + 3)) == NULL)
			return unknown_applet(base + 3);
		return run_applet(a, argc, argv);
	}
	if ((a = applet_find(base)) != NULL)
		return run_applet(a, argc, argv);

	if (argc < 2) {
		print_help(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    (strcmp(argv[1], "help") == 0 && argc == 2)) {
		print_help(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		print_version();
		return 0;
	}
	if (strcmp(argv[1], "--list-links") == 0) {
		print_links();
		return 0;
	}
	if (strcmp(argv[1], "help") == 0) {
		char *hargv[] = { argv[2], "--help", NULL };

		if (argc > 3) {
			fputs("usage: zt help [APPLET]\n", stderr);
			return 2;
		}
		if ((a = applet_find(argv[2])) == NULL)
			return unknown_applet(argv[2]);
		return run_applet(a, 2, hargv);
	}
	if (argv[1][0] == '-') {
		fprintf(stderr, "zt: unknown option '%s'\n", argv[1]);
		print_help(stderr);
		return 2;
	}
	if ((a = applet_find(argv[1])) == NULL)
		return unknown_applet(argv[1]);
	return run_applet(a, argc - 1, argv + 1);
}
