/* fuzz_users: feeds arbitrary bytes to the user file parser (anything it accepts must format
 * to a canonical text that parses back to itself), to the email check that names the files,
 * and as a one-time code to a known TOTP secret. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/users.h"
#include "common/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	char *canon = NULL, *again = NULL, *copy, email[USERS_EMAIL_MAX + 1];
	char email2[USERS_EMAIL_MAX + 1];

	if (devnull == NULL) {
		if ((devnull = fopen("/dev/null", "w")) == NULL)
			abort();
		log_set_output(devnull);
	}

	if (users_file_check("fuzz", NULL, (const char *)data, size, &canon) == 0) {
		if (users_file_check("canon", NULL, canon, strlen(canon), &again) == -1 ||
		    strcmp(canon, again) != 0)
			abort();
	}
	free(canon);
	free(again);
	users_file_check("fuzz", "alice@example.com", (const char *)data, size, NULL);

	/* As an email: a valid one is lower case, a file name, and valid again. */
	copy = xmalloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = '\0';
	if (users_email_valid(copy, email, sizeof(email))) {
		if (strchr(email, '/') != NULL || email[0] == '.' || strlen(email) != strlen(copy) ||
		    !users_email_valid(email, email2, sizeof(email2)) || strcmp(email, email2) != 0)
			abort();
		for (const char *p = email; *p != '\0'; p++)
			if (*p >= 'A' && *p <= 'Z')
				abort();
	}
	free(copy);
	if (size > 0)
		(void)users_totp_code(data, size, size);
	return 0;
}
