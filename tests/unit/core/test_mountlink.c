/* core/mountlink: a command's notification reaches the mount and waits for it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "core/mountlink.h"

struct counter {
	pthread_mutex_t mu;
	int calls;
};

static void on_change(void *arg)
{
	struct counter *c = arg;

	pthread_mutex_lock(&c->mu);
	c->calls++;
	pthread_mutex_unlock(&c->mu);
}

/* A unique dataset path per test process, so parallel runs never share a socket. */
static void repo_name(char *out, size_t size, const char *tag)
{
	snprintf(out, size, "/tmp/mountlink-test-%ld-%s", (long)getpid(), tag);
}

static void test_no_mount(void **state)
{
	char dir[128];

	(void)state;
	repo_name(dir, sizeof(dir), "none");
	assert_int_equal(mountlink_notify(dir), 0);
}

static void test_notify_waits_for_the_mount(void **state)
{
	struct counter c = { PTHREAD_MUTEX_INITIALIZER, 0 };
	struct mountlink *ml;
	char dir[128], other[128];

	(void)state;
	repo_name(dir, sizeof(dir), "a");
	repo_name(other, sizeof(other), "b");
	assert_int_equal(mountlink_listen(&ml, dir, on_change, &c), 0);
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(mountlink_notify(dir), 0);
		/* the callback has run by the time notify returns */
		assert_int_equal(c.calls, i);
	}
	/* another dataset's notification does not reach this mount */
	assert_int_equal(mountlink_notify(other), 0);
	assert_int_equal(c.calls, 3);
	mountlink_close(ml);
	assert_int_equal(mountlink_notify(dir), 0); /* gone with the mount */
	assert_int_equal(c.calls, 3);
}

static void test_second_mount_refused(void **state)
{
	struct counter c = { PTHREAD_MUTEX_INITIALIZER, 0 };
	struct mountlink *ml, *ml2;
	char dir[128];

	(void)state;
	repo_name(dir, sizeof(dir), "c");
	assert_int_equal(mountlink_listen(&ml, dir, on_change, &c), 0);
	assert_int_equal(mountlink_listen(&ml2, dir, on_change, &c), -EADDRINUSE);
	assert_null(ml2);
	mountlink_close(ml);
	assert_int_equal(mountlink_listen(&ml, dir, on_change, &c), 0);
	mountlink_close(ml);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_mount),
		cmocka_unit_test(test_notify_waits_for_the_mount),
		cmocka_unit_test(test_second_mount_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
