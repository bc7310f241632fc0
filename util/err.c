/*
 * Thread-local error message slot (see err.h).  A fixed buffer: error paths
 * must not allocate, since ENOMEM is one of the errors they report.
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char err_buf[1024];
static _Thread_local int err_has_msg;

int err_set(int code, const char *fmt, ...)
{
	char msg[sizeof(err_buf)];
	va_list ap;

	/* Formatted aside first: the arguments may be err_last() itself ("%s: %s", file, err_last()). */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	memcpy(err_buf, msg, sizeof(err_buf));
	err_has_msg = 1;
	return code;
}

const char *err_last(void)
{
	return err_has_msg ? err_buf : "no error message";
}

void err_clear(void)
{
	err_has_msg = 0;
	err_buf[0] = '\0';
}

const char *err_msg(int code)
{
	if (err_has_msg)
		return err_buf;
	return strerror(code < 0 ? -code : code);
}
