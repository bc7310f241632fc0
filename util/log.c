/*
 * The log sink.  One line per message, prefixed with a UTC timestamp and the
 * level, written with a single fprintf under a lock so lines from the FUSE
 * worker threads never interleave.
 *
 * A line identical to the previous one (same level and text) within
 * LOG_REPEAT_WINDOW_MS is not written again but counted, and the count is
 * written as "last message repeated N times" before the next different line
 * (as syslogd does): one failure met by several requests at once (the
 * kernel retries a failed read, for instance) is logged once.
 */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

int log_level = LOG_NOTICE;
static FILE *log_sink;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

#define LOG_REPEAT_WINDOW_MS 2000

/* The last line written, for the repeat check (protected by log_lock). */
static char last_msg[2048];
static int last_level = -1;
static struct timespec last_time;
static unsigned last_repeats;

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
	if (level == last_level && strcmp(msg, last_msg) == 0 &&
	    (ts.tv_sec - last_time.tv_sec) * 1000 + (ts.tv_nsec - last_time.tv_nsec) / 1000000 <
		    LOG_REPEAT_WINDOW_MS) {
		last_repeats++;
		pthread_mutex_unlock(&log_lock);
		return;
	}
	if (last_repeats)
		fprintf(f, "%s.%03ldZ dsfs %s: last message repeated %u time%s\n", stamp,
			ts.tv_nsec / 1000000, level_name(last_level), last_repeats,
			last_repeats == 1 ? "" : "s");
	fprintf(f, "%s.%03ldZ dsfs %s: %s\n", stamp, ts.tv_nsec / 1000000,
		level_name(level), msg);
	fflush(f);
	memcpy(last_msg, msg, sizeof(last_msg));
	last_level = level;
	last_time = ts;
	last_repeats = 0;
	pthread_mutex_unlock(&log_lock);
}
