/*
 * A small HTTP client over libcurl, the only file in dsfs that includes
 * curl.h.  It exists so sync/cvat (and later other REST clients) speak HTTP
 * through one policy: one reusable CURL handle per `struct http` (connections
 * and TLS sessions are kept between calls; a `struct http` is used by one
 * thread at a time, so callers keep one per thread), connect and low-speed
 * timeouts, TLS verification on unless `insecure` is set explicitly, no
 * cookie engine, and bounded retries with exponential backoff and jitter on
 * connection errors, 429 and 5xx -- never on other 4xx.
 *
 * Secrets: headers set with http_set_header() (the Authorization header)
 * are sent with every request and never logged.  Requests are logged at
 * DEBUG as "METHOD /path -> status" with the query string dropped.
 *
 * Every request function returns 0 once the server answered with any
 * status (the caller decides what a 404 means), after the retry policy was
 * applied: a 503 that persists through every attempt comes back as
 * resp->status == 503 with resp->attempts == max_attempts.  A transport
 * failure that persists returns -EIO (-ETIMEDOUT for a timeout) with a
 * message naming the request and curl's reason; -ECANCELED when the cancel
 * callback asked to stop.
 */
#ifndef DSFS_SYNC_HTTP_H
#define DSFS_SYNC_HTTP_H

#include <stddef.h>

#include "util/buf.h"

struct http;

struct http_opts {
	long connect_timeout_s;  /* 0 = 30 */
	long low_speed_time_s;   /* abort a transfer slower than low_speed_limit */
	long low_speed_limit;    /* bytes/s over low_speed_time_s; 0 = 60 s at 1 B/s */
	int insecure;            /* 1 = skip TLS peer and host verification */
	int max_attempts;        /* total tries of a retryable request; 0 = 5 */
	long retry_base_ms;      /* first backoff delay; doubles each time; 0 = 1000 */
	long retry_max_ms;       /* cap on one delay; 0 = 30000 */
	/* Polled during transfers and backoff sleeps; nonzero = stop (-ECANCELED). */
	int (*cancel)(void *payload);
	void *cancel_payload;
};

enum http_method {
	HTTP_GET,
	HTTP_POST,
	HTTP_PATCH,
	HTTP_DELETE,
};

/* One answer.  Init with HTTP_RESPONSE_INIT; http_response_release() frees. */
struct http_response {
	long status;           /* HTTP status of the last attempt */
	int attempts;          /* how many attempts were made */
	struct buf body;       /* the body (empty when downloaded to a file) */
	char content_type[128]; /* Content-Type header, "" if none */
	char retry_after[32];  /* Retry-After header, "" if none */
};
#define HTTP_RESPONSE_INIT { 0, 0, BUF_INIT, "", "" }

void http_response_release(struct http_response *r);

/* One multipart field: a plain value, or a file streamed from `file_path`. */
struct http_part {
	const char *name;      /* form field name, e.g. "client_files[0]" */
	const char *value;     /* text value (NULL for a file part) */
	const char *file_path; /* file to stream (NULL for a text part) */
	const char *file_name; /* filename= sent for the file (NULL = basename) */
};

/* Create a client.  `opts` may be NULL for defaults.  -ENOMEM / -EIO. */
int http_new(struct http **out, const struct http_opts *opts);
void http_free(struct http *h);

/*
 * Add a header ("Name: value") sent on every request, e.g. the
 * Authorization header.  Its value is treated as secret: never logged.
 */
int http_set_header(struct http *h, const char *header);

/*
 * `method` `url` with an optional JSON body (NULL = no body; sent with
 * Content-Type: application/json).  The answer goes to *resp (reset first).
 */
int http_request(struct http *h, struct http_response *resp, enum http_method method,
		 const char *url, const char *json_body);

/*
 * POST a multipart/form-data body.  File parts are streamed from disk by
 * libcurl (never loaded into memory) and re-read from the start on a retry.
 * A file that cannot be opened fails before anything is sent (-ENOENT...).
 */
int http_post_multipart(struct http *h, struct http_response *resp, const char *url,
			const struct http_part *parts, size_t nparts);

/*
 * GET `url`.  With `path` == NULL the body goes to resp->body; otherwise it
 * is written to `path` (created or truncated; truncated again before each
 * retry) and resp->body stays empty.
 */
int http_download(struct http *h, struct http_response *resp, const char *url,
		  const char *path);

/* Percent-encode `s` as one URL component (everything but [A-Za-z0-9-._~]). */
int http_escape(struct buf *out, const char *s);

/* "GET" etc. */
const char *http_method_name(enum http_method m);

#endif
