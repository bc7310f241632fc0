/*
 * Errors: every function that can fail returns 0 or a negative errno and,
 * where the errno alone would not tell a user what went wrong, leaves a
 * message in a thread-local slot with err_set().  The caller that handles the
 * error reads it with err_last() (and logs it, once, there).
 */
#ifndef DSFS_UTIL_ERR_H
#define DSFS_UTIL_ERR_H

#include <errno.h>

#if defined(__GNUC__)
#define ERR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ERR_PRINTF(a, b)
#endif

/* Store a formatted message for this thread and return `code` (a negative errno). */
int err_set(int code, const char *fmt, ...) ERR_PRINTF(2, 3);

/*
 * The last message set on this thread, or strerror(-code) of the last code
 * when no message was set since err_clear().  Never NULL; borrowed until the
 * next err_* call on this thread.
 */
const char *err_last(void);

/* Forget the last message (call before an operation whose error you will report). */
void err_clear(void);

/* Message for `code`: err_last() if a message is set, else strerror(-code). */
const char *err_msg(int code);

#endif
