/*
 * Logging with syslog levels and one sink, set at start-up.  The level is
 * checked before the arguments are evaluated (as redis' serverLog does), so a
 * LOG_DEBUG in a hot path costs one compare when debugging is off.
 */
#ifndef DSFS_UTIL_LOG_H
#define DSFS_UTIL_LOG_H

#include <stdio.h>
#include <syslog.h>

#include "err.h"

/* Current threshold: messages with level <= log_level are written. */
extern int log_level;

/* Send log lines to `f` (stderr or the dataset's dsfs.log); not owned. */
void log_set_sink(FILE *f);
void log_set_level(int level);
void log_write(int level, const char *fmt, ...) ERR_PRINTF(2, 3);

#define LOG_AT(lvl, ...)                                                       \
	do {                                                                   \
		if ((lvl) <= log_level)                                        \
			log_write((lvl), __VA_ARGS__);                         \
	} while (0)

#define LOG_E(...) LOG_AT(LOG_ERR, __VA_ARGS__)
#define LOG_W(...) LOG_AT(LOG_WARNING, __VA_ARGS__)
#define LOG_I(...) LOG_AT(LOG_INFO, __VA_ARGS__)
#define LOG_D(...) LOG_AT(LOG_DEBUG, __VA_ARGS__)

#endif
