/* runner: runs every module's Check suite; `check_zt NAME...` runs only those suites. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "common/log.h"
#include "suites.h"

struct suite_entry {
	const char	*name;
	Suite		*(*make)(void);
};

#define ZT_SUITE_ENTRY(n) { #n, n##_suite },
static const struct suite_entry suites[] = {
	ZT_SUITES(ZT_SUITE_ENTRY)
};

static bool
wanted(const char *name, int argc, char **argv)
{
	if (argc < 2)
		return true;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return true;
	return false;
}

int
main(int argc, char **argv)
{
	SRunner *sr = NULL;
	int failed;

	log_init("check", LOG_LEVEL_ERROR, LOG_FORMAT_TEXT);
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		if (!wanted(suites[i].name, argc, argv))
			continue;
		if (sr == NULL)
			sr = srunner_create(suites[i].make());
		else
			srunner_add_suite(sr, suites[i].make());
	}
	if (sr == NULL) {
		fprintf(stderr, "check_zt: no suite matches the names given\n");
		return 2;
	}
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
