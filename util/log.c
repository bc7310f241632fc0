/*
 * The log sink.  One line per message, prefixed with a UTC timestamp and the
 * level, written with a single fprintf under a lock so lines from the FUSE
 * worker threads never interleave.
 */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <time.h>

int log_level = LOG_NOTICE;
static FILE *log_sink;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_sink(FILE *f)
{
	log_sink = f;
}

void log_set_level(int level)
{
	log_level = level;
}

static const char *level_name(int level)
{
	switch (level) {
	case LOG_EMERG: case LOG_ALERT: case LOG_CRIT: case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
		return "notice";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void log_write(int level, const char *fmt, ...)
{
	FILE *f = log_sink ? log_sink : stderr;
	char msg[2048], stamp[32];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

	pthread_mutex_lock(&log_lock);
	fprintf(f, "%s.%03ldZ dsfs %s: %s\n", stamp, ts.tv_nsec / 1000000,
		level_name(level), msg);
	fflush(f);
	pthread_mutex_unlock(&log_lock);
}
