/* replay: runs a fuzz target's seed corpus (or the files named) through it, as a plain test. */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feeds one file to the target; returns -1 if it cannot be read. */
static int
replay_file(const char *path)
{
	char *data;
	size_t len;
	uint8_t *copy;

	if (util_read_file(path, 16 * 1024 * 1024, &data, &len) == -1) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	/* An exact-size copy, so ASan sees reads past the end of the input. */
	copy = xmalloc(len);
	memcpy(copy, data, len);
	free(data);
	LLVMFuzzerTestOneInput(copy, len);
	free(copy);
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays every regular file of dir in name order; returns the number replayed or -1. */
static long
replay_dir(const char *dir)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;
	long count = 0;

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		names = xreallocarray(names, n + 1, sizeof(*names));
		xasprintf(&names[n++], "%s/%s", dir, de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
			if (replay_file(names[i]) == -1)
				count = -1;
			else if (count >= 0)
				count++;
		}
		free(names[i]);
	}
	free(names);
	return count;
}

int
main(int argc, char **argv)
{
	const char *srcdir = getenv("top_srcdir");
	char *dir;
	long n;

	log_init("fuzz-" FUZZ_NAME, LOG_LEVEL_ERROR, LOG_FORMAT_TEXT);
	/* Targets log what they reject; the replay only cares that nothing crashes. */
	log_set_output(fopen("/dev/null", "w"));
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			if (replay_file(argv[i]) == -1)
				return 1;
		return 0;
	}
	xasprintf(&dir, "%s/tests/fuzz/corpus/%s", srcdir != NULL ? srcdir : ".", FUZZ_NAME);
	n = replay_dir(dir);
	if (n <= 0) {
		fprintf(stderr, "replay: no seed corpus in %s\n", dir);
		free(dir);
		return 1;
	}
	printf("replayed %ld inputs from %s\n", n, dir);
	free(dir);
	return 0;
}
