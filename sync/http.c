/*
 * libcurl behind the policy described in http.h.
 *
 * Each request resets the one CURL handle (curl_easy_reset keeps the
 * connection pool, DNS and TLS session caches, so keep-alive still works)
 * and sets every option again: no option can leak from one request into
 * the next (a POST body into a GET, a file sink into a buffer download).
 *
 * Retries: an attempt is repeated when the transfer failed at the
 * connection level (connect, resolve, send/recv, timeout, empty reply) or
 * the server answered 429 or 5xx.  The delay before attempt n+1 is
 * base * 2^(n-1) capped at retry_max_ms, with "equal jitter" (a random
 * value in [d/2, d]) so many clients that failed together do not come back
 * together; a larger Retry-After from the server wins (still capped).
 * Redirects are not followed: they would carry the Authorization header to
 * wherever the server points.
 */
#include "http.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"
#include "util/log.h"

struct http {
	CURL *curl;
	struct curl_slist *headers; /* caller's headers (secret): never logged */
	struct http_opts opts;
	unsigned int seed;          /* for rand_r() jitter */
	char errbuf[CURL_ERROR_SIZE];
};

/* Per-attempt sinks, handed to the curl callbacks. */
struct xfer {
	struct http *h;
	struct http_response *resp;
	FILE *file;                 /* download target, or NULL for resp->body */
	int write_failed;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

const char *http_method_name(enum http_method m)
{
	switch (m) {
	case HTTP_GET: return "GET";
	case HTTP_POST: return "POST";
	case HTTP_PATCH: return "PATCH";
	case HTTP_DELETE: return "DELETE";
	}
	return "?";
}

void http_response_release(struct http_response *r)
{
	buf_release(&r->body);
	r->status = 0;
	r->attempts = 0;
	r->content_type[0] = '\0';
	r->retry_after[0] = '\0';
}

int http_new(struct http **out, const struct http_opts *opts)
{
	struct http *h;

	*out = NULL;
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return err_set(-EIO, "libcurl initialisation failed: %s",
			       curl_easy_strerror(global_rc));
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	if (opts)
		h->opts = *opts;
	if (h->opts.connect_timeout_s <= 0)
		h->opts.connect_timeout_s = 30;
	if (h->opts.low_speed_time_s <= 0)
		h->opts.low_speed_time_s = 60;
	if (h->opts.low_speed_limit <= 0)
		h->opts.low_speed_limit = 1;
	if (h->opts.max_attempts <= 0)
		h->opts.max_attempts = 5;
	if (h->opts.retry_base_ms <= 0)
		h->opts.retry_base_ms = 1000;
	if (h->opts.retry_max_ms <= 0)
		h->opts.retry_max_ms = 30000;
	h->seed = (unsigned int)time(NULL) ^ (unsigned int)getpid() ^
		  (unsigned int)(uintptr_t)h;
	h->curl = curl_easy_init();
	if (!h->curl) {
		free(h);
		return err_set(-ENOMEM, "curl_easy_init failed");
	}
	*out = h;
	return 0;
}

void http_free(struct http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	curl_slist_free_all(h->headers);
	free(h);
}

int http_set_header(struct http *h, const char *header)
{
	struct curl_slist *l = curl_slist_append(h->headers, header);

	if (!l)
		return -ENOMEM;
	h->headers = l;
	return 0;
}

int http_escape(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int error = 0;

	for (; *s && !error; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~')
			error = buf_put(out, s, 1);
		else
			error = buf_printf(out, "%%%c%c", hex[c >> 4], hex[c & 15]);
	}
	return error;
}

/*
 * "scheme://host[:port]/path" of `url` without user info and query, for
 * error messages; and where the path starts, for DEBUG lines.
 */
static void url_for_msg(char *dst, size_t dstsz, const char *url)
{
	const char *p = strstr(url, "://");
	const char *host = p ? p + 3 : url;
	const char *slash = strchr(host, '/');
	const char *at = strchr(host, '@');
	size_t n;

	if (at && (!slash || at < slash))
		host = at + 1;
	n = strcspn(host, "?#");
	snprintf(dst, dstsz, "%.*s%.*s", p ? (int)(p + 3 - url) : 0, url, (int)n, host);
}

static const char *url_path(const char *url, int *len)
{
	const char *p = strstr(url, "://");
	const char *path = strchr(p ? p + 3 : url, '/');

	if (!path)
		path = "/";
	*len = (int)strcspn(path, "?#");
	return path;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *payload)
{
	struct xfer *x = payload;
	size_t n = size * nmemb;

	if (x->file) {
		if (fwrite(data, 1, n, x->file) != n) {
			x->write_failed = errno ? errno : EIO;
			return 0;
		}
		return n;
	}
	if (buf_put(&x->resp->body, data, n) < 0) {
		x->write_failed = ENOMEM;
		return 0;
	}
	return n;
}

/* Copy the value of header `name` from `line` into dst when it matches. */
static void take_header(const char *line, size_t len, const char *name, char *dst, size_t dstsz)
{
	size_t nl = strlen(name);
	const char *v, *end = line + len;

	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	v = line + nl + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	snprintf(dst, dstsz, "%.*s", (int)(end - v), v);
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *payload)
{
	struct xfer *x = payload;
	size_t n = size * nmemb;

	/* A new status line (100 Continue, then the real one) starts afresh. */
	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		x->resp->content_type[0] = '\0';
		x->resp->retry_after[0] = '\0';
	}
	take_header(data, n, "Content-Type", x->resp->content_type,
		    sizeof(x->resp->content_type));
	take_header(data, n, "Retry-After", x->resp->retry_after,
		    sizeof(x->resp->retry_after));
	return n;
}

static int on_progress(void *payload, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	struct xfer *x = payload;

	(void)dltotal; (void)dlnow; (void)ultotal; (void)ulnow;
	return x->h->opts.cancel && x->h->opts.cancel(x->h->opts.cancel_payload);
}

static int cancelled(struct http *h)
{
	return h->opts.cancel && h->opts.cancel(h->opts.cancel_payload);
}

static int transport_retryable(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
		return 1;
	default:
		return 0;
	}
}

static int status_retryable(long status)
{
	return status == 429 || (status >= 500 && status <= 599);
}

/* Sleep `ms` in small slices so a cancel request is honoured quickly. */
static int backoff_sleep(struct http *h, long ms)
{
	while (ms > 0) {
		long step = ms < 50 ? ms : 50;
		struct timespec ts = { step / 1000, (step % 1000) * 1000000L };

		if (cancelled(h))
			return -ECANCELED;
		nanosleep(&ts, NULL);
		ms -= step;
	}
	return cancelled(h) ? -ECANCELED : 0;
}

static long next_delay(struct http *h, int attempt, const struct http_response *resp)
{
	long d = h->opts.retry_base_ms;
	long half;
	int i;

	for (i = 1; i < attempt && d < h->opts.retry_max_ms; i++)
		d *= 2;
	if (d > h->opts.retry_max_ms)
		d = h->opts.retry_max_ms;
	half = d / 2;
	d = half + (half > 0 ? (long)(rand_r(&h->seed) % (half + 1)) : 0);
	if (resp && resp->retry_after[0]) {
		char *end;
		long ra = strtol(resp->retry_after, &end, 10);

		if (*end == '\0' && ra > 0 && ra * 1000 > d)
			d = ra * 1000 > h->opts.retry_max_ms ? h->opts.retry_max_ms : ra * 1000;
	}
	return d;
}

/*
 * The common loop.  `mime` is set for a multipart POST, `file_path` for a
 * download to a file.
 */
static int perform(struct http *h, struct http_response *resp, enum http_method method,
		   const char *url, const char *json_body, curl_mime *mime,
		   const char *file_path)
{
	const char *mname = http_method_name(method);
	struct curl_slist *hdrs = NULL, *l;
	struct xfer x = { h, resp, NULL, 0 };
	char where[512];
	int plen, attempt, error = 0;
	const char *path = url_path(url, &plen);
	CURLcode rc = CURLE_OK;

	http_response_release(resp);
	url_for_msg(where, sizeof(where), url);

	/* The request's own headers, then the caller's (Authorization...). */
	for (l = h->headers; l; l = l->next)
		if (!(hdrs = curl_slist_append(hdrs, l->data)))
			goto nomem;
	if (!(hdrs = curl_slist_append(hdrs, "Accept: application/vnd.cvat+json")))
		goto nomem;
	if (json_body && !(hdrs = curl_slist_append(hdrs, "Content-Type: application/json")))
		goto nomem;

	for (attempt = 1; attempt <= h->opts.max_attempts; attempt++) {
		CURL *c = h->curl;

		if (attempt > 1) {
			long d = next_delay(h, attempt - 1, rc == CURLE_OK ? resp : NULL);

			LOG_D("http: %s %.*s: retry %d/%d in %ld ms", mname, plen, path,
			      attempt, h->opts.max_attempts, d);
			if ((error = backoff_sleep(h, d)) < 0) {
				error = err_set(error, "%s %s: cancelled", mname, where);
				goto done;
			}
		}
		buf_reset(&resp->body);
		resp->status = 0;
		resp->attempts = attempt;
		resp->content_type[0] = resp->retry_after[0] = '\0';
		x.write_failed = 0;
		if (file_path) {
			if (x.file)
				fclose(x.file);
			x.file = fopen(file_path, "wb");
			if (!x.file) {
				error = err_set(-errno, "%s %s: cannot create %s: %s", mname,
						where, file_path, strerror(errno));
				goto done;
			}
		}

		curl_easy_reset(c);
		h->errbuf[0] = '\0';
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, h->opts.connect_timeout_s);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, h->opts.low_speed_limit);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, h->opts.low_speed_time_s);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, h->opts.insecure ? 0L : 1L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, h->opts.insecure ? 0L : 2L);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		if (mime) {
			curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
		} else if (method == HTTP_POST || method == HTTP_PATCH) {
			const char *b = json_body ? json_body : "";

			curl_easy_setopt(c, CURLOPT_POSTFIELDS, b);
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(b));
			if (method == HTTP_PATCH)
				curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PATCH");
		} else if (method == HTTP_DELETE) {
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
		}

		rc = curl_easy_perform(c);
		if (x.file && fflush(x.file) != 0 && rc == CURLE_OK) {
			x.write_failed = errno ? errno : EIO;
			rc = CURLE_WRITE_ERROR;
		}
		if (rc == CURLE_ABORTED_BY_CALLBACK) {
			error = err_set(-ECANCELED, "%s %s: cancelled", mname, where);
			goto done;
		}
		if (rc == CURLE_WRITE_ERROR && x.write_failed) {
			error = err_set(-x.write_failed, "%s %s: cannot store the response: %s",
					mname, where, strerror(x.write_failed));
			goto done;
		}
		if (rc != CURLE_OK) {
			LOG_D("http: %s %.*s -> %s (attempt %d)", mname, plen, path,
			      curl_easy_strerror(rc), attempt);
			if (transport_retryable(rc))
				continue;
			break;
		}
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
		LOG_D("http: %s %.*s -> %ld", mname, plen, path, resp->status);
		if (!status_retryable(resp->status))
			break;
	}
	if (rc != CURLE_OK) {
		const char *why = h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc);
		int attempts = resp->attempts;

		resp->status = 0;
		error = err_set(rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO,
				"%s %s: %s (%d attempt%s)", mname, where, why, attempts,
				attempts == 1 ? "" : "s");
	}
done:
	if (x.file)
		fclose(x.file);
	curl_slist_free_all(hdrs);
	/* The handle must not keep pointers into this call's headers/mime. */
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h->curl, CURLOPT_MIMEPOST, NULL);
	return error;
nomem:
	curl_slist_free_all(hdrs);
	return -ENOMEM;
}

int http_request(struct http *h, struct http_response *resp, enum http_method method,
		 const char *url, const char *json_body)
{
	return perform(h, resp, method, url, json_body, NULL, NULL);
}

int http_download(struct http *h, struct http_response *resp, const char *url,
		  const char *path)
{
	return perform(h, resp, HTTP_GET, url, NULL, NULL, path);
}

int http_post_multipart(struct http *h, struct http_response *resp, const char *url,
			const struct http_part *parts, size_t nparts)
{
	curl_mime *mime = curl_mime_init(h->curl);
	char where[512];
	size_t i;
	int error = 0;

	if (!mime)
		return -ENOMEM;
	url_for_msg(where, sizeof(where), url);
	for (i = 0; i < nparts; i++) {
		curl_mimepart *p = curl_mime_addpart(mime);
		CURLcode rc;

		if (!p) {
			error = -ENOMEM;
			goto done;
		}
		curl_mime_name(p, parts[i].name);
		if (parts[i].file_path) {
			/* Check now: curl would only notice in the middle of the upload. */
			if (access(parts[i].file_path, R_OK) != 0) {
				error = err_set(-errno, "POST %s: cannot read %s: %s", where,
						parts[i].file_path, strerror(errno));
				goto done;
			}
			rc = curl_mime_filedata(p, parts[i].file_path);
			if (rc == CURLE_OK && parts[i].file_name)
				rc = curl_mime_filename(p, parts[i].file_name);
		} else {
			rc = curl_mime_data(p, parts[i].value ? parts[i].value : "",
					    CURL_ZERO_TERMINATED);
		}
		if (rc != CURLE_OK) {
			error = err_set(rc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EIO,
					"POST %s: part %s: %s", where, parts[i].name,
					curl_easy_strerror(rc));
			goto done;
		}
	}
	error = perform(h, resp, HTTP_POST, url, NULL, mime, NULL);
done:
	curl_mime_free(mime);
	return error;
}
