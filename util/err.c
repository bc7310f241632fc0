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
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err_buf, sizeof(err_buf), fmt, ap);
	va_end(ap);
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
