/* check_sdnotify: datagrams to a path and an abstract socket, the environment cleared, the
 * watchdog's interval and WATCHDOG_PID. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "common/sdnotify.h"
#include "suites.h"

/* A datagram socket bound at name ("@x" abstract); returns its fd. */
static int
receiver(const char *name)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	ck_assert_int_ne(fd, -1);
	memcpy(sun.sun_path, name, strlen(name));
	if (name[0] == '@') {
		sun.sun_path[0] = '\0';
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
	} else {
		unlink(name);
		len = sizeof(sun);
	}
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, len), 0);
	return fd;
}

static void
expect(int fd, const char *want)
{
	char buf[512];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_str_eq(buf, want);
}

START_TEST(test_path)
{
	char path[64];
	struct sdnotify *n;
	int fd;

	snprintf(path, sizeof(path), "/tmp/zt-sdnotify-%ld", (long)getpid());
	fd = receiver(path);
	setenv("NOTIFY_SOCKET", path, 1);
	setenv("WATCHDOG_USEC", "3000000", 1);
	unsetenv("WATCHDOG_PID");
	n = sdnotify_open();
	ck_assert_ptr_nonnull(n);
	ck_assert_ptr_null(getenv("NOTIFY_SOCKET"));
	ck_assert_ptr_null(getenv("WATCHDOG_USEC"));
	ck_assert_uint_eq(sdnotify_watchdog_usec(n), 3000000);
	ck_assert_int_eq(sdnotify_send(n, "READY=1\nSTATUS=%d connections", 4), 0);
	expect(fd, "READY=1\nSTATUS=4 connections");
	sdnotify_free(n);
	/* Another process's watchdog is not ours. */
	setenv("NOTIFY_SOCKET", path, 1);
	setenv("WATCHDOG_USEC", "3000000", 1);
	setenv("WATCHDOG_PID", "1", 1);
	n = sdnotify_open();
	ck_assert_uint_eq(sdnotify_watchdog_usec(n), 0);
	ck_assert_ptr_null(getenv("WATCHDOG_PID"));
	sdnotify_free(n);
	close(fd);
	unlink(path);
}
END_TEST

START_TEST(test_abstract_and_none)
{
	char name[64];
	struct sdnotify *n;
	int fd;

	snprintf(name, sizeof(name), "@zt-sdnotify-%ld", (long)getpid());
	fd = receiver(name);
	setenv("NOTIFY_SOCKET", name, 1);
	unsetenv("WATCHDOG_USEC");
	n = sdnotify_open();
	ck_assert_uint_eq(sdnotify_watchdog_usec(n), 0);
	ck_assert_int_eq(sdnotify_send(n, "STOPPING=1"), 0);
	expect(fd, "STOPPING=1");
	sdnotify_free(n);
	close(fd);
	/* No socket, or one that is not an address: nothing is sent, nothing fails. */
	unsetenv("NOTIFY_SOCKET");
	ck_assert_ptr_null(sdnotify_open());
	ck_assert_int_eq(sdnotify_send(NULL, "READY=1"), 0);
	setenv("NOTIFY_SOCKET", "relative", 1);
	ck_assert_ptr_null(sdnotify_open());
	ck_assert_ptr_null(getenv("NOTIFY_SOCKET"));
	ck_assert_uint_gt(sdnotify_monotonic_usec(), 0);
	sdnotify_free(NULL);
}
END_TEST

Suite *
sdnotify_suite(void)
{
	Suite *s = suite_create("sdnotify");
	TCase *tc = tcase_create("notify");

	tcase_add_test(tc, test_path);
	tcase_add_test(tc, test_abstract_and_none);
	suite_add_tcase(s, tc);
	return s;
}
