/* fuzz_state: feeds arbitrary bytes to the state file parser (anything it accepts must format to
 * a canonical text that parses back to itself), and to verification as "id\nsecret", the
 * credentials a client sends to the edge. */
#include "config.h"

#include <sys/stat.h>

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/state.h"
#include "common/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW	((time_t)1800000000)

static int
fuzz_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* A state with one token (rotated, so with a previous secret) and one tunnel, held in memory
 * only: its directory is removed at once, and state_refresh is never called. */
static struct state *
fuzz_state(void)
{
	const char *tmp = getenv("TMPDIR");
	char dir[512], sub[600], secret[STATE_SECRET_HEX_LEN + 1];
	struct state *st = NULL;

	if (!util_snprintf(dir, sizeof(dir), "%s/fuzz_state.XXXXXX", tmp != NULL && *tmp != '\0' ?
	    tmp : "/tmp") || mkdtemp(dir) == NULL)
		abort();
	snprintf(sub, sizeof(sub), "%s/s", dir);
	if (state_init(sub) == -1 || (st = state_open(sub)) == NULL ||
	    state_token_create(st, "ci", 86400000, FUZZ_NOW, NULL, secret) == -1 ||
	    state_token_rotate(st, "ci", 3600000, FUZZ_NOW, NULL, secret) == -1 ||
	    state_tunnel_create(st, "home", FUZZ_NOW, NULL, secret) == -1)
		abort();
	util_cleanse(secret, sizeof(secret));
	nftw(dir, fuzz_rm, 8, FTW_DEPTH | FTW_PHYS);
	return st;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	static struct state *st;
	struct state_auth auth;
	char *canon = NULL, *again = NULL, *copy, *nl, err[160];

	if (devnull == NULL) {
		if ((devnull = fopen("/dev/null", "w")) == NULL)
			abort();
		/* The parser logs every error it finds; keep the fuzzer's output readable. */
		log_set_output(devnull);
		st = fuzz_state();
	}

	/* As a state file, under any name and under a fixed one. */
	if (state_file_check("fuzz", NULL, (const char *)data, size, &canon) == 0) {
		if (state_file_check("canon", NULL, canon, strlen(canon), &again) == -1 ||
		    strcmp(canon, again) != 0)
			abort();
	}
	free(canon);
	free(again);
	state_file_check("fuzz", "ci", (const char *)data, size, NULL);

	/* As credentials: the first line is the id, the rest the secret; also as a name. */
	copy = xmalloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = '\0';
	state_name_valid(copy, err, sizeof(err));
	nl = strchr(copy, '\n');
	if (nl != NULL)
		*nl = '\0';
	if (state_token_verify(st, copy, nl != NULL ? nl + 1 : "", FUZZ_NOW + 1, &auth) ==
	    STATE_OK)
		abort();	/* nobody knows the random secrets */
	state_token_recheck(st, &auth, FUZZ_NOW + 2);
	if (state_tunnel_verify(st, copy, nl != NULL ? nl + 1 : NULL, FUZZ_NOW, &auth) ==
	    STATE_OK)
		abort();
	state_tunnel_recheck(st, &auth, FUZZ_NOW);
	state_token_by_id(st, copy);
	state_token_by_name(st, copy);
	free(copy);
	return 0;
}
