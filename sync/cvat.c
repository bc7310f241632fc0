/*
 * The CVAT client (see cvat.h for the contract, shared/api/CVAT.md for the
 * server's).  Every call goes through api(): build the URL from the base,
 * send, map the status to an errno with a message that names the call, and
 * parse the JSON body.  Every field read from an answer is checked for
 * presence and type (get_int/get_str) so a server that returns garbage
 * gives -EPROTO with the call and the field, never a crash.
 *
 * Choices that follow from the contract:
 * - sorting_method=predefined for client uploads, so frame i is file i
 *   without guessing CVAT's sort; the frame map is still read back from
 *   data/meta by the caller that needs it.
 * - Lists loop page=1..ceil(count/page_size) rather than following `next`,
 *   whose host is wrong behind some proxies; result_url gets its
 *   scheme://host replaced by the configured base for the same reason.
 * - rq ids are opaque and percent-encoded as one path segment.
 */
#include "cvat.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sync/http.h"
#include "util/err.h"
#include "util/log.h"

/* An instances JSON larger than this is refused (a zip bomb, not a task). */
#define CVAT_MAX_JSON (1024UL * 1024 * 1024)

struct cvat {
	struct http *http;
	char *base;          /* no trailing slash */
	char *secret_key;    /* "cvat.token" */
	enum cvat_auth auth;
	long poll_ms;
	long wait_timeout_s;
	int page_size;
	int (*cancel)(void *payload);
	void *cancel_payload;
	int have_version;
	int ver[3];
};

/* ---- small helpers --------------------------------------------------- */

static const char *auth_name(enum cvat_auth a)
{
	switch (a) {
	case CVAT_AUTH_BEARER: return "bearer";
	case CVAT_AUTH_TOKEN: return "token";
	case CVAT_AUTH_BASIC: return "basic";
	}
	return "?";
}

static int base64(struct buf *out, const char *s)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(s), i;
	int error = 0;

	for (i = 0; i < n && !error; i += 3) {
		unsigned v = (unsigned char)s[i] << 16;
		char q[4];

		if (i + 1 < n)
			v |= (unsigned char)s[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)s[i + 2];
		q[0] = tab[(v >> 18) & 63];
		q[1] = tab[(v >> 12) & 63];
		q[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? tab[v & 63] : '=';
		error = buf_put(out, q, 4);
	}
	return error;
}

/* Wipe a buffer that held a secret before releasing it. */
static void buf_wipe(struct buf *b)
{
	if (b->cap)
		memset(b->ptr, 0, b->cap);
	buf_release(b);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cancelled(struct cvat *c)
{
	return c->cancel && c->cancel(c->cancel_payload);
}

/* Sleep `ms` in slices, honouring cancel. */
static int poll_sleep(struct cvat *c, long ms)
{
	while (ms > 0) {
		long step = ms < 50 ? ms : 50;
		struct timespec ts = { step / 1000, (step % 1000) * 1000000L };

		if (cancelled(c))
			return -ECANCELED;
		nanosleep(&ts, NULL);
		ms -= step;
	}
	return cancelled(c) ? -ECANCELED : 0;
}

/*
 * A printable excerpt of an error body for a message: at most 160 bytes,
 * control characters replaced, HTML pages summarised.
 */
static void excerpt(char *dst, size_t dstsz, const struct http_response *r)
{
	size_t i, j = 0, n = r->body.len < 160 ? r->body.len : 160;

	if (!r->body.len) {
		snprintf(dst, dstsz, "(empty body)");
		return;
	}
	if (strstr(r->content_type, "html") || (r->body.len && r->body.ptr[0] == '<')) {
		snprintf(dst, dstsz, "(an HTML error page)");
		return;
	}
	for (i = 0; i < n && j + 1 < dstsz; i++) {
		unsigned char ch = (unsigned char)r->body.ptr[i];

		dst[j++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
	}
	dst[j] = '\0';
	if (n < r->body.len && j + 4 < dstsz)
		strcat(dst, "...");
}

/* ---- one API call ---------------------------------------------------- */

enum api_flags {
	API_NO_JSON = (1 << 0),   /* success body is not parsed */
	API_RAW_URL = (1 << 1),   /* `path` is a full URL, not relative to base */
};

struct api_call {
	enum http_method method;
	const char *what;        /* "GET /api/jobs" for messages (no query) */
	long ok[3];              /* accepted statuses, 0-terminated */
	unsigned flags;
	const char *json_body;   /* or NULL */
	const struct http_part *parts; /* multipart when non-NULL */
	size_t nparts;
};

static int status_error(struct cvat *c, const char *what, const struct http_response *r)
{
	char ex[200];

	excerpt(ex, sizeof(ex), r);
	if (r->status == 401)
		return err_set(-EACCES,
			       "CVAT rejected the credentials (401 on %s): check %s_env / "
			       "%s_file in dsfs.yaml (cvat.auth is %s)",
			       what, c->secret_key, c->secret_key, auth_name(c->auth));
	if (r->status == 403)
		return err_set(-EACCES,
			       "CVAT refused access (403 on %s): check the account's permissions "
			       "and cvat.org, or the credentials in %s_env / %s_file in dsfs.yaml",
			       what, c->secret_key, c->secret_key);
	if (r->status == 404)
		return err_set(-ENOENT, "%s: not found (404): %s", what, ex);
	if (r->status == 405)
		return err_set(-ENOTSUP, "%s: not allowed on this server (405): %s", what, ex);
	if (r->status == 406)
		return err_set(-EPROTO, "%s: the server cannot answer in "
			       "application/vnd.cvat+json (406)", what);
	if (r->status == 400 || r->status == 409 || r->status == 413 || r->status == 415)
		return err_set(-EINVAL, "%s: CVAT refused the request (%ld): %s", what,
			       r->status, ex);
	if (r->status == 429 || r->status >= 500)
		return err_set(-EIO, "%s: CVAT answered %ld after %d attempt%s: %s", what,
			       r->status, r->attempts, r->attempts == 1 ? "" : "s", ex);
	return err_set(-EPROTO, "%s: unexpected HTTP status %ld: %s", what, r->status, ex);
}

/*
 * Perform `call` on `path` (relative to base, or a full URL with
 * API_RAW_URL).  On success: *status_out (may be NULL) is the status,
 * *json_out (may be NULL; not set with API_NO_JSON) the parsed body,
 * and resp (may be NULL) keeps the raw answer.
 */
static int api(struct cvat *c, const struct api_call *call, const char *path,
	       long *status_out, json_t **json_out, struct http_response *resp_out)
{
	struct http_response local = HTTP_RESPONSE_INIT, *r = resp_out ? resp_out : &local;
	struct buf url = BUF_INIT;
	json_error_t jerr;
	int error, i, ok = 0;

	if (json_out)
		*json_out = NULL;
	if ((error = (call->flags & API_RAW_URL) ? buf_puts(&url, path)
						 : buf_printf(&url, "%s%s", c->base, path)) < 0)
		goto done;
	if (call->parts)
		error = http_post_multipart(c->http, r, url.ptr, call->parts, call->nparts);
	else
		error = http_request(c->http, r, call->method, url.ptr, call->json_body);
	if (error < 0)
		goto done;
	for (i = 0; i < 3 && call->ok[i]; i++)
		if (r->status == call->ok[i])
			ok = 1;
	if (!ok) {
		error = status_error(c, call->what, r);
		goto done;
	}
	if (status_out)
		*status_out = r->status;
	if (json_out && !(call->flags & API_NO_JSON)) {
		*json_out = json_loadb(r->body.ptr, r->body.len, 0, &jerr);
		if (!*json_out) {
			error = err_set(-EPROTO, "%s: the answer (HTTP %ld) is not valid JSON: %s "
					"(line %d, column %d)", call->what, r->status, jerr.text,
					jerr.line, jerr.column);
			goto done;
		}
		if (!json_is_object(*json_out)) {
			json_decref(*json_out);
			*json_out = NULL;
			error = err_set(-EPROTO, "%s: the answer is JSON but not an object",
					call->what);
			goto done;
		}
	}
done:
	buf_release(&url);
	http_response_release(&local);
	return error;
}

/* Typed field access with messages naming the call and the field. */
static int get_int(json_t *obj, const char *key, int64_t *out, const char *what,
		   const char *ctx)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	if (!json_is_integer(v))
		return err_set(-EPROTO, "%s: %s%s\"%s\" is missing or not an integer", what,
			       ctx ? ctx : "", ctx ? "." : "", key);
	*out = json_integer_value(v);
	return 0;
}

static int get_str(json_t *obj, const char *key, const char **out, const char *what,
		   const char *ctx)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	if (!json_is_string(v))
		return err_set(-EPROTO, "%s: %s%s\"%s\" is missing or not a string", what,
			       ctx ? ctx : "", ctx ? "." : "", key);
	*out = json_string_value(v);
	return 0;
}

/* ---- open / close ---------------------------------------------------- */

int cvat_open(struct cvat **out, const struct cvat_opts *o)
{
	struct http_opts ho = { 0 };
	struct buf hdr = BUF_INIT, b64 = BUF_INIT;
	struct cvat *c;
	size_t n;
	int error;

	*out = NULL;
	if (!o || !o->url || !*o->url)
		return err_set(-EINVAL, "cvat.url is not set in dsfs.yaml");
	if (strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0)
		return err_set(-EINVAL, "cvat.url must start with http:// or https:// (got \"%s\")",
			       o->url);
	if (!o->secret || !*o->secret)
		return err_set(-EINVAL, "no CVAT secret: set %s_env or %s_file in dsfs.yaml",
			       o->secret_key ? o->secret_key : "cvat.token",
			       o->secret_key ? o->secret_key : "cvat.token");
	if (strpbrk(o->secret, "\r\n"))
		return err_set(-EINVAL, "the CVAT secret (%s) contains a line break",
			       o->secret_key ? o->secret_key : "cvat.token");
	if (o->auth == CVAT_AUTH_BASIC && !strchr(o->secret, ':'))
		return err_set(-EINVAL, "cvat.auth is basic but the secret (%s) is not user:password",
			       o->secret_key ? o->secret_key : "cvat.token");
	if (o->org && strpbrk(o->org, "\r\n:"))
		return err_set(-EINVAL, "cvat.org is not a valid organization slug");

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->auth = o->auth;
	c->poll_ms = o->poll_ms > 0 ? o->poll_ms : 3000;
	c->wait_timeout_s = o->wait_timeout_s > 0 ? o->wait_timeout_s : 3600;
	c->page_size = o->page_size > 0 ? o->page_size : 0;
	c->cancel = o->cancel;
	c->cancel_payload = o->cancel_payload;
	c->base = strdup(o->url);
	c->secret_key = strdup(o->secret_key ? o->secret_key : "cvat.token");
	if (!c->base || !c->secret_key) {
		error = -ENOMEM;
		goto done;
	}
	n = strlen(c->base);
	while (n > 0 && c->base[n - 1] == '/')
		c->base[--n] = '\0';

	ho.insecure = o->insecure;
	ho.max_attempts = o->max_attempts;
	ho.retry_base_ms = o->retry_base_ms;
	ho.retry_max_ms = o->retry_max_ms;
	ho.connect_timeout_s = o->connect_timeout_s;
	ho.low_speed_time_s = o->low_speed_time_s;
	ho.cancel = o->cancel;
	ho.cancel_payload = o->cancel_payload;
	if ((error = http_new(&c->http, &ho)) < 0)
		goto done;

	switch (o->auth) {
	case CVAT_AUTH_BEARER:
		error = buf_printf(&hdr, "Authorization: Bearer %s", o->secret);
		break;
	case CVAT_AUTH_TOKEN:
		error = buf_printf(&hdr, "Authorization: Token %s", o->secret);
		break;
	case CVAT_AUTH_BASIC:
		if ((error = base64(&b64, o->secret)) == 0)
			error = buf_printf(&hdr, "Authorization: Basic %s", b64.ptr);
		break;
	default:
		error = err_set(-EINVAL, "cvat.auth must be bearer, token or basic");
	}
	if (error < 0 || (error = http_set_header(c->http, hdr.ptr)) < 0)
		goto done;
	if (o->org) {
		buf_reset(&hdr);
		/* "X-Organization;" sends an empty header (= personal workspace). */
		if ((error = *o->org ? buf_printf(&hdr, "X-Organization: %s", o->org)
				     : buf_puts(&hdr, "X-Organization;")) < 0 ||
		    (error = http_set_header(c->http, hdr.ptr)) < 0)
			goto done;
	}
done:
	buf_wipe(&hdr);
	buf_wipe(&b64);
	if (error < 0) {
		cvat_close(c);
		return error;
	}
	*out = c;
	return 0;
}

void cvat_close(struct cvat *c)
{
	if (!c)
		return;
	http_free(c->http);
	free(c->base);
	free(c->secret_key);
	free(c);
}

/* ---- server ---------------------------------------------------------- */

int cvat_server_version(struct cvat *c, int *major, int *minor, int *patch)
{
	static const struct api_call call = { HTTP_GET, "GET /api/server/about", { 200 }, 0, NULL, NULL, 0 };
	json_t *j = NULL;
	const char *v;
	int error = 0;

	if (!c->have_version) {
		if ((error = api(c, &call, "/api/server/about", NULL, &j, NULL)) < 0 ||
		    (error = get_str(j, "version", &v, call.what, NULL)) < 0)
			goto done;
		c->ver[0] = c->ver[1] = c->ver[2] = 0;
		if (sscanf(v, "%d.%d.%d", &c->ver[0], &c->ver[1], &c->ver[2]) < 2) {
			error = err_set(-EPROTO, "%s: cannot parse version \"%.40s\"", call.what, v);
			goto done;
		}
		c->have_version = 1;
		LOG_D("cvat: server version %d.%d.%d", c->ver[0], c->ver[1], c->ver[2]);
	}
	if (major)
		*major = c->ver[0];
	if (minor)
		*minor = c->ver[1];
	if (patch)
		*patch = c->ver[2];
done:
	json_decref(j);
	return error;
}

/* Is the server at least major.minor? */
static int version_at_least(struct cvat *c, int major, int minor, int *out)
{
	int error = cvat_server_version(c, NULL, NULL, NULL);

	if (error < 0)
		return error;
	*out = c->ver[0] > major || (c->ver[0] == major && c->ver[1] >= minor);
	return 0;
}

int cvat_check_auth(struct cvat *c, struct buf *username_out)
{
	static const struct api_call call = { HTTP_GET, "GET /api/users/self", { 200 }, 0, NULL, NULL, 0 };
	json_t *j = NULL;
	const char *user;
	int error;

	if ((error = api(c, &call, "/api/users/self", NULL, &j, NULL)) < 0 ||
	    (error = get_str(j, "username", &user, call.what, NULL)) < 0)
		goto done;
	if (username_out)
		error = buf_puts(username_out, user);
done:
	json_decref(j);
	return error;
}

/* ---- lists ----------------------------------------------------------- */

typedef int (*item_fn)(json_t *item, size_t index, void *payload);

/*
 * Call `fn` for every item of a paginated list at `path` (which already
 * has a query string).  With page_size 0, one request with page_size=all.
 */
static int list_all(struct cvat *c, const char *what, const char *path, int page_size,
		    item_fn fn, void *payload)
{
	struct api_call call = { HTTP_GET, what, { 200 }, 0, NULL, NULL, 0 };
	struct buf p = BUF_INIT;
	json_t *j = NULL;
	int64_t count = 0, page = 1, pages = 1;
	size_t index = 0;
	int error = 0;

	do {
		json_t *results, *item;
		size_t i;

		buf_reset(&p);
		if (page_size > 0)
			error = buf_printf(&p, "%s&page_size=%d&page=%" PRId64, path, page_size, page);
		else
			error = buf_printf(&p, "%s&page_size=all", path);
		if (error < 0 || (error = api(c, &call, p.ptr, NULL, &j, NULL)) < 0)
			goto done;
		if ((error = get_int(j, "count", &count, what, NULL)) < 0)
			goto done;
		results = json_object_get(j, "results");
		if (!json_is_array(results)) {
			error = err_set(-EPROTO, "%s: \"results\" is missing or not a list", what);
			goto done;
		}
		if (count < 0 || (page_size <= 0 && json_array_size(results) != (size_t)count)) {
			error = err_set(-EPROTO, "%s: count %" PRId64 " but %zu results", what,
					count, json_array_size(results));
			goto done;
		}
		if (page_size > 0) {
			pages = (count + page_size - 1) / page_size;
			if (json_array_size(results) > (size_t)page_size ||
			    (page < pages && json_array_size(results) != (size_t)page_size)) {
				error = err_set(-EPROTO, "%s: page %" PRId64 " has %zu results, "
						"expected %d", what, page, json_array_size(results),
						page_size);
				goto done;
			}
		}
		json_array_foreach(results, i, item) {
			if (!json_is_object(item)) {
				error = err_set(-EPROTO, "%s: results[%zu] is not an object", what, i);
				goto done;
			}
			if ((error = fn(item, index++, payload)) < 0)
				goto done;
		}
		json_decref(j);
		j = NULL;
	} while (page_size > 0 && ++page <= pages);
	if (index != (size_t)count)
		error = err_set(-EPROTO, "%s: count %" PRId64 " but %zu results over the pages "
				"(the list changed while reading?)", what, count, index);
done:
	json_decref(j);
	buf_release(&p);
	return error;
}

/* ---- projects -------------------------------------------------------- */

struct find_project {
	const char *name;
	const char *what;
	int64_t id; /* lowest matching id, or -1 */
};

static int on_project(json_t *item, size_t index, void *payload)
{
	struct find_project *fp = payload;
	const char *name;
	int64_t id;
	char ctx[32];
	int error;

	snprintf(ctx, sizeof(ctx), "results[%zu]", index);
	if ((error = get_str(item, "name", &name, fp->what, ctx)) < 0 ||
	    (error = get_int(item, "id", &id, fp->what, ctx)) < 0)
		return error;
	/* The filter is exact on the server; check anyway (a proxy may drop it). */
	if (strcmp(name, fp->name) == 0 && (fp->id < 0 || id < fp->id))
		fp->id = id;
	return 0;
}

struct have_labels {
	const char *const *labels;
	size_t n;
	unsigned char *have;
	const char *what;
};

static int on_label(json_t *item, size_t index, void *payload)
{
	struct have_labels *hl = payload;
	const char *name;
	char ctx[32];
	size_t i;
	int error;

	snprintf(ctx, sizeof(ctx), "results[%zu]", index);
	if ((error = get_str(item, "name", &name, hl->what, ctx)) < 0)
		return error;
	for (i = 0; i < hl->n; i++)
		if (strcmp(hl->labels[i], name) == 0)
			hl->have[i] = 1;
	return 0;
}

static json_t *labels_json(const char *const *labels, size_t n, const unsigned char *skip)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; arr && i < n; i++) {
		if (skip && skip[i])
			continue;
		if (json_array_append_new(arr, json_pack("{s:s, s:s, s:[]}", "name", labels[i],
							 "type", "rectangle", "attributes")) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

/* Add the labels of `labels` the project lacks (PATCH adds, never removes). */
static int project_add_missing(struct cvat *c, int64_t id, const char *const *labels,
			       size_t nlabels)
{
	struct have_labels hl = { labels, nlabels, NULL, "GET /api/labels" };
	struct api_call patch = { HTTP_PATCH, "PATCH /api/projects/{id}", { 200 }, 0, NULL, NULL, 0 };
	struct buf p = BUF_INIT;
	json_t *body = NULL, *j = NULL;
	char *text = NULL;
	size_t i, missing = 0;
	int error;

	if (!nlabels)
		return 0;
	hl.have = calloc(nlabels, 1);
	if (!hl.have)
		return -ENOMEM;
	if ((error = buf_printf(&p, "/api/labels?project_id=%" PRId64, id)) < 0 ||
	    (error = list_all(c, hl.what, p.ptr, 0, on_label, &hl)) < 0)
		goto done;
	for (i = 0; i < nlabels; i++)
		missing += !hl.have[i];
	if (!missing)
		goto done;
	body = json_pack("{s:o}", "labels", labels_json(labels, nlabels, hl.have));
	if (!body || !(text = json_dumps(body, JSON_COMPACT))) {
		error = -ENOMEM;
		goto done;
	}
	patch.json_body = text;
	buf_reset(&p);
	if ((error = buf_printf(&p, "/api/projects/%" PRId64, id)) < 0 ||
	    (error = api(c, &patch, p.ptr, NULL, &j, NULL)) < 0)
		goto done;
	LOG_I("cvat: added %zu label(s) to project %" PRId64, missing, id);
done:
	free(hl.have);
	free(text);
	json_decref(body);
	json_decref(j);
	buf_release(&p);
	return error;
}

int cvat_project_ensure(struct cvat *c, int64_t *id_out, const char *name,
			const char *const *labels, size_t nlabels)
{
	struct find_project fp = { name, "GET /api/projects", -1 };
	struct api_call create = { HTTP_POST, "POST /api/projects", { 201 }, 0, NULL, NULL, 0 };
	struct buf p = BUF_INIT;
	json_t *body = NULL, *j = NULL;
	char *text = NULL;
	size_t i, k;
	int error;

	*id_out = -1;
	if (!name || !*name || strlen(name) > 256)
		return err_set(-EINVAL, "cvat.project: a project name of 1..256 characters is needed");
	for (i = 0; i < nlabels; i++) {
		if (!labels[i] || !*labels[i] || strlen(labels[i]) > 64)
			return err_set(-EINVAL, "CVAT label names must have 1..64 characters");
		for (k = 0; k < i; k++)
			if (strcmp(labels[i], labels[k]) == 0)
				return err_set(-EINVAL, "label \"%s\" is listed twice", labels[i]);
	}
	if ((error = buf_puts(&p, "/api/projects?name=")) < 0 ||
	    (error = http_escape(&p, name)) < 0 ||
	    (error = list_all(c, fp.what, p.ptr, 0, on_project, &fp)) < 0)
		goto done;
	if (fp.id >= 0) {
		if ((error = project_add_missing(c, fp.id, labels, nlabels)) < 0)
			goto done;
		*id_out = fp.id;
		goto done;
	}
	body = json_pack("{s:s, s:o}", "name", name, "labels", labels_json(labels, nlabels, NULL));
	if (!body || !(text = json_dumps(body, JSON_COMPACT))) {
		error = -ENOMEM;
		goto done;
	}
	create.json_body = text;
	if ((error = api(c, &create, "/api/projects", NULL, &j, NULL)) < 0 ||
	    (error = get_int(j, "id", id_out, create.what, NULL)) < 0)
		goto done;
	LOG_I("cvat: created project %" PRId64 " \"%s\"", *id_out, name);
done:
	free(text);
	json_decref(body);
	json_decref(j);
	buf_release(&p);
	return error;
}

/* ---- tasks ----------------------------------------------------------- */

int cvat_task_create(struct cvat *c, int64_t *id_out, int64_t project_id,
		     const char *name, int segment_size)
{
	struct api_call create = { HTTP_POST, "POST /api/tasks", { 201 }, 0, NULL, NULL, 0 };
	json_t *body = NULL, *j = NULL;
	char *text = NULL;
	int error;

	*id_out = -1;
	if (!name || !*name)
		return err_set(-EINVAL, "a CVAT task needs a name");
	if (segment_size < 0)
		return err_set(-EINVAL, "segment size must be >= 0");
	body = json_pack("{s:s, s:I}", "name", name, "project_id", (json_int_t)project_id);
	if (body && segment_size > 0 &&
	    json_object_set_new(body, "segment_size", json_integer(segment_size)) < 0) {
		error = -ENOMEM;
		goto done;
	}
	if (!body || !(text = json_dumps(body, JSON_COMPACT))) {
		error = -ENOMEM;
		goto done;
	}
	create.json_body = text;
	if ((error = api(c, &create, "/api/tasks", NULL, &j, NULL)) < 0 ||
	    (error = get_int(j, "id", id_out, create.what, NULL)) < 0)
		goto done;
	LOG_I("cvat: created task %" PRId64 " \"%s\" in project %" PRId64, *id_out, name,
	      project_id);
done:
	free(text);
	json_decref(body);
	json_decref(j);
	return error;
}

/* The rq_id of a data/ 202: {"rq_id": "..."} on 2.16+, empty before. */
static int take_rq_id(struct buf *rq_id_out, const char *what, const struct http_response *r)
{
	json_error_t jerr;
	const char *id;
	json_t *j;
	int error;

	buf_reset(rq_id_out);
	if (r->body.len == 0)
		return 0;
	j = json_loadb(r->body.ptr, r->body.len, 0, &jerr);
	if (!j)
		return err_set(-EPROTO, "%s: the answer (HTTP %ld) is not valid JSON: %s",
			       what, r->status, jerr.text);
	if ((error = get_str(j, "rq_id", &id, what, NULL)) == 0) {
		if (!*id)
			error = err_set(-EPROTO, "%s: \"rq_id\" is empty", what);
		else
			error = buf_puts(rq_id_out, id);
	}
	json_decref(j);
	return error;
}

int cvat_task_upload(struct cvat *c, struct buf *rq_id_out, int64_t task_id,
		     const struct cvat_file *files, size_t nfiles, int image_quality)
{
	struct api_call call = { HTTP_POST, "POST /api/tasks/{id}/data/", { 202 }, API_NO_JSON,
				 NULL, NULL, 0 };
	struct http_response r = HTTP_RESPONSE_INIT;
	struct http_part *parts = NULL;
	char (*names)[48] = NULL; /* "client_files[" + 20 digits + "]" */
	char quality[16];
	struct buf p = BUF_INIT;
	size_t i, k;
	int error;

	if (!nfiles)
		return err_set(-EINVAL, "no files to upload to CVAT task %" PRId64, task_id);
	if (image_quality < 0 || image_quality > 100)
		return err_set(-EINVAL, "image quality must be 0..100");
	for (i = 0; i < nfiles; i++) {
		if (!files[i].name || !*files[i].name || strchr(files[i].name, '/') ||
		    strchr(files[i].name, '"') || strpbrk(files[i].name, "\r\n"))
			return err_set(-EINVAL, "upload name \"%s\" must be a plain file name",
				       files[i].name ? files[i].name : "");
		if (!files[i].path)
			return err_set(-EINVAL, "upload \"%s\" has no file", files[i].name);
	}
	/* CVAT merges uploads that share a basename: refuse them here. */
	for (i = 1; i < nfiles; i++)
		for (k = 0; k < i; k++)
			if (strcmp(files[i].name, files[k].name) == 0)
				return err_set(-EINVAL, "upload name \"%s\" is used twice; CVAT "
					       "needs unique file names", files[i].name);

	parts = calloc(nfiles + 2, sizeof(*parts));
	names = calloc(nfiles, sizeof(*names));
	if (!parts || !names) {
		error = -ENOMEM;
		goto done;
	}
	snprintf(quality, sizeof(quality), "%d", image_quality);
	parts[0] = (struct http_part){ "image_quality", quality, NULL, NULL };
	parts[1] = (struct http_part){ "sorting_method", "predefined", NULL, NULL };
	for (i = 0; i < nfiles; i++) {
		snprintf(names[i], sizeof(names[i]), "client_files[%zu]", i);
		parts[i + 2] = (struct http_part){ names[i], NULL, files[i].path, files[i].name };
	}
	call.parts = parts;
	call.nparts = nfiles + 2;
	if ((error = buf_printf(&p, "/api/tasks/%" PRId64 "/data/", task_id)) < 0 ||
	    (error = api(c, &call, p.ptr, NULL, NULL, &r)) < 0 ||
	    (error = take_rq_id(rq_id_out, call.what, &r)) < 0)
		goto done;
	LOG_I("cvat: sent %zu file(s) to task %" PRId64, nfiles, task_id);
done:
	free(parts);
	free(names);
	buf_release(&p);
	http_response_release(&r);
	return error;
}

int cvat_task_attach_share(struct cvat *c, struct buf *rq_id_out, int64_t task_id,
			   const char *const *paths, size_t npaths, int image_quality)
{
	struct api_call call = { HTTP_POST, "POST /api/tasks/{id}/data/", { 202 }, API_NO_JSON,
				 NULL, NULL, 0 };
	struct http_response r = HTTP_RESPONSE_INIT;
	struct buf p = BUF_INIT;
	json_t *body = NULL, *arr;
	char *text = NULL;
	size_t i;
	int error;

	if (!npaths)
		return err_set(-EINVAL, "no files to attach to CVAT task %" PRId64, task_id);
	if (image_quality < 0 || image_quality > 100)
		return err_set(-EINVAL, "image quality must be 0..100");
	body = json_pack("{s:i, s:s, s:[]}", "image_quality", image_quality,
			 "sorting_method", "lexicographical", "server_files");
	arr = body ? json_object_get(body, "server_files") : NULL;
	for (i = 0; arr && i < npaths; i++) {
		if (!paths[i] || !*paths[i] || paths[i][0] == '/' || strstr(paths[i], "..")) {
			error = err_set(-EINVAL, "share path \"%s\" must be relative to cvat.share",
					paths[i] ? paths[i] : "");
			goto done;
		}
		if (json_array_append_new(arr, json_string(paths[i])) < 0)
			arr = NULL;
	}
	if (!arr || !(text = json_dumps(body, JSON_COMPACT))) {
		error = -ENOMEM;
		goto done;
	}
	call.json_body = text;
	if ((error = buf_printf(&p, "/api/tasks/%" PRId64 "/data/", task_id)) < 0 ||
	    (error = api(c, &call, p.ptr, NULL, NULL, &r)) < 0 ||
	    (error = take_rq_id(rq_id_out, call.what, &r)) < 0)
		goto done;
done:
	free(text);
	json_decref(body);
	buf_release(&p);
	http_response_release(&r);
	return error;
}

/* ---- background requests --------------------------------------------- */

/*
 * Poll GET /api/requests/{rq_id} until finished (0) or failed (-EIO with
 * CVAT's message).  result_url_out (may be NULL) gets result_url when set.
 * -ENOENT on 404 so the caller may fall back to a legacy flow.
 */
static int request_wait(struct cvat *c, const char *rq_id, const char *what_for,
			struct buf *result_url_out)
{
	struct api_call call = { HTTP_GET, "GET /api/requests/{rq_id}", { 200 }, 0, NULL, NULL, 0 };
	struct buf p = BUF_INIT;
	double deadline = now_s() + c->wait_timeout_s;
	json_t *j = NULL;
	int error;

	if ((error = buf_puts(&p, "/api/requests/")) < 0 || (error = http_escape(&p, rq_id)) < 0)
		goto done;
	for (;;) {
		const char *status, *msg = NULL;
		json_t *res;

		if ((error = api(c, &call, p.ptr, NULL, &j, NULL)) < 0 ||
		    (error = get_str(j, "status", &status, call.what, NULL)) < 0)
			goto done;
		if (strcmp(status, "finished") == 0) {
			if (result_url_out) {
				res = json_object_get(j, "result_url");
				buf_reset(result_url_out);
				if (json_is_string(res) &&
				    (error = buf_puts(result_url_out, json_string_value(res))) < 0)
					goto done;
			}
			break;
		}
		if (strcmp(status, "failed") == 0) {
			get_str(j, "message", &msg, call.what, NULL);
			error = err_set(-EIO, "CVAT failed to %s: %s", what_for,
					msg && *msg ? msg : "(no message)");
			goto done;
		}
		if (strcmp(status, "queued") != 0 && strcmp(status, "started") != 0) {
			error = err_set(-EPROTO, "%s: unknown status \"%.40s\"", call.what, status);
			goto done;
		}
		json_decref(j);
		j = NULL;
		if (now_s() + c->poll_ms / 1000.0 > deadline) {
			error = err_set(-ETIMEDOUT, "CVAT did not %s within %ld s", what_for,
					c->wait_timeout_s);
			goto done;
		}
		if ((error = poll_sleep(c, c->poll_ms)) < 0) {
			error = err_set(error, "waiting for CVAT to %s: cancelled", what_for);
			goto done;
		}
	}
done:
	json_decref(j);
	buf_release(&p);
	return error;
}

/* Legacy (< 2.16) GET /api/tasks/{id}/status until Finished. */
static int legacy_status_wait(struct cvat *c, int64_t task_id)
{
	struct api_call call = { HTTP_GET, "GET /api/tasks/{id}/status", { 200 }, 0, NULL, NULL, 0 };
	struct buf p = BUF_INIT;
	double deadline = now_s() + c->wait_timeout_s;
	json_t *j = NULL;
	int error;

	if ((error = buf_printf(&p, "/api/tasks/%" PRId64 "/status", task_id)) < 0)
		goto done;
	for (;;) {
		const char *state, *msg = NULL;

		if ((error = api(c, &call, p.ptr, NULL, &j, NULL)) < 0 ||
		    (error = get_str(j, "state", &state, call.what, NULL)) < 0)
			goto done;
		if (strcmp(state, "Finished") == 0)
			break;
		if (strcmp(state, "Failed") == 0) {
			get_str(j, "message", &msg, call.what, NULL);
			error = err_set(-EIO, "CVAT failed to process the data of task %" PRId64
					": %s", task_id, msg && *msg ? msg : "(no message)");
			goto done;
		}
		if (strcmp(state, "Queued") != 0 && strcmp(state, "Started") != 0) {
			error = err_set(-EPROTO, "%s: unknown state \"%.40s\"", call.what, state);
			goto done;
		}
		json_decref(j);
		j = NULL;
		if (now_s() + c->poll_ms / 1000.0 > deadline) {
			error = err_set(-ETIMEDOUT, "CVAT did not process the data of task %"
					PRId64 " within %ld s", task_id, c->wait_timeout_s);
			goto done;
		}
		if ((error = poll_sleep(c, c->poll_ms)) < 0) {
			error = err_set(error, "waiting for task %" PRId64 ": cancelled", task_id);
			goto done;
		}
	}
done:
	json_decref(j);
	buf_release(&p);
	return error;
}

int cvat_task_size(struct cvat *c, int64_t task_id, int64_t *size_out)
{
	struct api_call call = { HTTP_GET, "GET /api/tasks/{id}", { 200 }, 0, NULL, NULL, 0 };
	struct buf p = BUF_INIT;
	json_t *j = NULL;
	int error;

	if ((error = buf_printf(&p, "/api/tasks/%" PRId64, task_id)) < 0 ||
	    (error = api(c, &call, p.ptr, NULL, &j, NULL)) < 0 ||
	    (error = get_int(j, "size", size_out, call.what, NULL)) < 0)
		goto done;
done:
	json_decref(j);
	buf_release(&p);
	return error;
}

int cvat_task_wait_data(struct cvat *c, int64_t task_id, const char *rq_id,
			size_t expected_frames)
{
	char what[96];
	int64_t size;
	int error, modern;

	snprintf(what, sizeof(what), "process the data of task %" PRId64, task_id);
	if (rq_id && *rq_id) {
		error = request_wait(c, rq_id, what, NULL);
		if (error == -ENOENT) {
			/* An unknown/expired rq id: servers < 2.38 still have /status. */
			if ((error = version_at_least(c, 2, 38, &modern)) < 0)
				return error;
			if (modern)
				return err_set(-ENOENT, "CVAT does not know the request for task %"
					       PRId64 " (expired?): check the task in CVAT", task_id);
			error = legacy_status_wait(c, task_id);
		}
	} else {
		error = legacy_status_wait(c, task_id);
	}
	if (error < 0)
		return error;
	if ((error = cvat_task_size(c, task_id, &size)) < 0)
		return error;
	/* /status says Finished even without a record: the size is the truth. */
	if (expected_frames && size != (int64_t)expected_frames)
		return err_set(-EIO, "CVAT task %" PRId64 " has %" PRId64 " frames, %zu were sent",
			       task_id, size, expected_frames);
	return 0;
}

void cvat_frames_free(struct cvat_frame *frames, size_t nframes)
{
	size_t i;

	if (!frames)
		return;
	for (i = 0; i < nframes; i++)
		free(frames[i].name);
	free(frames);
}

int cvat_task_frames(struct cvat *c, int64_t task_id, struct cvat_frame **frames_out,
		     size_t *nframes_out)
{
	struct api_call call = { HTTP_GET, "GET /api/tasks/{id}/data/meta", { 200 }, 0, NULL, NULL, 0 };
	struct cvat_frame *frames = NULL;
	struct buf p = BUF_INIT;
	json_t *j = NULL, *arr, *f;
	size_t i, n = 0;
	int error;

	*frames_out = NULL;
	*nframes_out = 0;
	if ((error = buf_printf(&p, "/api/tasks/%" PRId64 "/data/meta", task_id)) < 0 ||
	    (error = api(c, &call, p.ptr, NULL, &j, NULL)) < 0)
		goto done;
	arr = json_object_get(j, "frames");
	if (!json_is_array(arr)) {
		error = err_set(-EPROTO, "%s: \"frames\" is missing or not a list", call.what);
		goto done;
	}
	frames = calloc(json_array_size(arr) + 1, sizeof(*frames));
	if (!frames) {
		error = -ENOMEM;
		goto done;
	}
	json_array_foreach(arr, i, f) {
		const char *name;
		int64_t w, h;
		char ctx[32];

		snprintf(ctx, sizeof(ctx), "frames[%zu]", i);
		if ((error = get_str(f, "name", &name, call.what, ctx)) < 0 ||
		    (error = get_int(f, "width", &w, call.what, ctx)) < 0 ||
		    (error = get_int(f, "height", &h, call.what, ctx)) < 0)
			goto done;
		if (!(frames[n].name = strdup(name))) {
			error = -ENOMEM;
			goto done;
		}
		frames[n].width = (int)w;
		frames[n].height = (int)h;
		n++;
	}
	*frames_out = frames;
	*nframes_out = n;
	frames = NULL;
done:
	cvat_frames_free(frames, n);
	json_decref(j);
	buf_release(&p);
	return error;
}

/* ---- jobs ------------------------------------------------------------ */

struct job_count {
	enum cvat_done done;
	const char *what;
	int64_t task_id;
	size_t completed, total;
};

static int on_job(json_t *item, size_t index, void *payload)
{
	struct job_count *jc = payload;
	const char *type, *state, *stage;
	int64_t tid;
	char ctx[32];
	int error;

	snprintf(ctx, sizeof(ctx), "results[%zu]", index);
	if ((error = get_str(item, "type", &type, jc->what, ctx)) < 0 ||
	    (error = get_str(item, "state", &state, jc->what, ctx)) < 0 ||
	    (error = get_str(item, "stage", &stage, jc->what, ctx)) < 0 ||
	    (error = get_int(item, "task_id", &tid, jc->what, ctx)) < 0)
		return error;
	/* The server filters; re-check so a dropped filter cannot mislead us. */
	if (tid != jc->task_id || strcmp(type, "annotation") != 0)
		return 0;
	jc->total++;
	if (strcmp(state, "completed") == 0 &&
	    (jc->done == CVAT_DONE_STATE || strcmp(stage, "acceptance") == 0))
		jc->completed++;
	return 0;
}

int cvat_jobs_progress(struct cvat *c, int64_t task_id, enum cvat_done done,
		       size_t *completed_out, size_t *total_out)
{
	struct job_count jc = { done, "GET /api/jobs", task_id, 0, 0 };
	struct buf p = BUF_INIT;
	int64_t size;
	int error;

	*completed_out = *total_out = 0;
	/* /api/jobs?task_id= of a deleted task is an empty list, not a 404. */
	if ((error = cvat_task_size(c, task_id, &size)) < 0)
		goto done;
	if ((error = buf_printf(&p, "/api/jobs?task_id=%" PRId64 "&type=annotation", task_id)) < 0 ||
	    (error = list_all(c, jc.what, p.ptr, c->page_size, on_job, &jc)) < 0)
		goto done;
	*completed_out = jc.completed;
	*total_out = jc.total;
done:
	buf_release(&p);
	return error;
}

/* ---- export ---------------------------------------------------------- */

/*
 * result_url is built from the Host the server saw: keep its path+query and
 * put it under our base URL.  When the base has a path prefix the server
 * did not see (a proxy strips it), add the prefix.
 */
static int rebase_url(struct cvat *c, struct buf *out, const char *result_url)
{
	const char *p = strstr(result_url, "://");
	const char *path = p ? strchr(p + 3, '/') : (result_url[0] == '/' ? result_url : NULL);
	const char *bp = strstr(c->base, "://");
	const char *base_path = strchr(bp + 3, '/');
	size_t origin_len = base_path ? (size_t)(base_path - c->base) : strlen(c->base);

	if (!path)
		return err_set(-EPROTO, "CVAT export: result_url \"%.80s\" has no path", result_url);
	buf_reset(out);
	if (base_path && strncmp(path, base_path, strlen(base_path)) == 0)
		return buf_printf(out, "%.*s%s", (int)origin_len, c->base, path);
	return buf_printf(out, "%s%s", c->base, path);
}

static int download_zip(struct cvat *c, const char *url, const char *what, struct buf *json_out)
{
	struct api_call call = { HTTP_GET, what, { 200 }, API_NO_JSON | API_RAW_URL, NULL, NULL, 0 };
	struct http_response r = HTTP_RESPONSE_INIT;
	int error;

	if ((error = api(c, &call, url, NULL, NULL, &r)) < 0)
		goto done;
	error = cvat_coco_from_zip(json_out, r.body.ptr, r.body.len);
done:
	http_response_release(&r);
	return error;
}

static int export_current(struct cvat *c, int64_t task_id, struct buf *json_out)
{
	struct api_call start = { HTTP_POST, "POST /api/tasks/{id}/dataset/export",
				  { 202, 409 }, 0, NULL, NULL, 0 };
	struct http_response r = HTTP_RESPONSE_INIT;
	struct buf p = BUF_INIT, rq = BUF_INIT, res = BUF_INIT, url = BUF_INIT;
	char what[96];
	int error, attempt;

	snprintf(what, sizeof(what), "export task %" PRId64 " as COCO 1.0", task_id);
	/* A download may answer 404 "expired": export again, once. */
	for (attempt = 0; attempt < 2; attempt++) {
		buf_reset(&p);
		if ((error = buf_printf(&p, "/api/tasks/%" PRId64 "/dataset/export?format=COCO%%201.0"
					"&save_images=false", task_id)) < 0 ||
		    (error = api(c, &start, p.ptr, NULL, NULL, &r)) < 0 ||
		    (error = take_rq_id(&rq, start.what, &r)) < 0)
			goto done;
		if (!rq.len) {
			error = err_set(-EPROTO, "%s: no rq_id in the answer (HTTP %ld)", start.what,
					r.status);
			goto done;
		}
		if ((error = request_wait(c, rq.ptr, what, &res)) < 0)
			goto done;
		if (!res.len) {
			error = err_set(-EPROTO, "GET /api/requests/{rq_id}: the finished export "
					"has no result_url");
			goto done;
		}
		if ((error = rebase_url(c, &url, res.ptr)) < 0)
			goto done;
		error = download_zip(c, url.ptr, "GET {result_url}", json_out);
		if (error != -ENOENT)
			break;
		LOG_I("cvat: export of task %" PRId64 " expired before download; exporting again",
		      task_id);
	}
done:
	http_response_release(&r);
	buf_release(&p);
	buf_release(&rq);
	buf_release(&res);
	buf_release(&url);
	return error;
}

static int export_legacy(struct cvat *c, int64_t task_id, struct buf *json_out)
{
	struct api_call call = { HTTP_GET, "GET /api/tasks/{id}/annotations/?format=",
				 { 201, 202 }, API_NO_JSON, NULL, NULL, 0 };
	struct buf p = BUF_INIT;
	double deadline = now_s() + c->wait_timeout_s;
	long status = 0;
	int error;

	if ((error = buf_printf(&p, "/api/tasks/%" PRId64 "/annotations/?format=COCO%%201.0",
				task_id)) < 0)
		goto done;
	for (;;) {
		if ((error = api(c, &call, p.ptr, &status, NULL, NULL)) < 0)
			goto done;
		if (status == 201)
			break;
		if (now_s() + c->poll_ms / 1000.0 > deadline) {
			error = err_set(-ETIMEDOUT, "CVAT did not export task %" PRId64
					" within %ld s", task_id, c->wait_timeout_s);
			goto done;
		}
		if ((error = poll_sleep(c, c->poll_ms)) < 0) {
			error = err_set(error, "waiting for the export of task %" PRId64
					": cancelled", task_id);
			goto done;
		}
	}
	buf_reset(&p);
	if ((error = buf_printf(&p, "%s/api/tasks/%" PRId64 "/annotations/?format=COCO%%201.0"
				"&action=download", c->base, task_id)) < 0)
		goto done;
	error = download_zip(c, p.ptr, "GET /api/tasks/{id}/annotations/?action=download",
			     json_out);
done:
	buf_release(&p);
	return error;
}

int cvat_export_coco(struct cvat *c, int64_t task_id, struct buf *json_out)
{
	int modern, error;

	buf_reset(json_out);
	if ((error = version_at_least(c, 2, 16, &modern)) < 0)
		return error;
	if (modern) {
		error = export_current(c, task_id, json_out);
		/* CVAT.md: a 404 from /api/requests means no requests API: go legacy. */
		if (error == -ENOENT && !(c->ver[0] > 2 || c->ver[1] >= 32)) {
			LOG_I("cvat: /api/requests unavailable; using the legacy export");
			error = export_legacy(c, task_id, json_out);
		}
	} else {
		error = export_legacy(c, task_id, json_out);
	}
	if (error == 0)
		LOG_I("cvat: exported task %" PRId64 " (%zu bytes of COCO JSON)", task_id,
		      json_out->len);
	return error;
}

/* ---- the archive ----------------------------------------------------- */

static int is_instances(const char *path)
{
	static const char pre[] = "annotations/instances_";
	size_t n = strlen(path);

	return strncmp(path, pre, sizeof(pre) - 1) == 0 && n > sizeof(pre) - 1 + 5 &&
	       strcmp(path + n - 5, ".json") == 0 && !strchr(path + sizeof(pre) - 1, '/');
}

int cvat_coco_from_zip(struct buf *json_out, const void *zip, size_t len)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct buf found = BUF_INIT;  /* names of matching entries, for messages */
	json_error_t jerr;
	json_t *doc = NULL;
	int rc, error = 0, matches = 0;

	buf_reset(json_out);
	if (!a)
		return -ENOMEM;
	if (!len) {
		error = err_set(-EPROTO, "CVAT export archive is empty");
		goto done;
	}
	archive_read_support_format_zip(a);
	if (archive_read_open_memory(a, zip, len) != ARCHIVE_OK) {
		error = err_set(-EPROTO, "CVAT export is not a zip archive: %s",
				archive_error_string(a) ? archive_error_string(a) : "unknown format");
		goto done;
	}
	while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *path = archive_entry_pathname(e);
		char chunk[65536];
		la_ssize_t n;

		if (!path || archive_entry_filetype(e) != AE_IFREG || !is_instances(path)) {
			if (archive_read_data_skip(a) != ARCHIVE_OK)
				goto corrupt;
			continue;
		}
		if (matches++ && (error = buf_puts(&found, ", ")) < 0)
			goto done;
		if ((error = buf_puts(&found, path)) < 0)
			goto done;
		if (matches > 1) {
			if (archive_read_data_skip(a) != ARCHIVE_OK)
				goto corrupt;
			continue;
		}
		while ((n = archive_read_data(a, chunk, sizeof(chunk))) > 0) {
			if (json_out->len + (size_t)n > CVAT_MAX_JSON) {
				error = err_set(-EPROTO, "CVAT export: %s is larger than %lu MiB",
						path, CVAT_MAX_JSON >> 20);
				goto done;
			}
			if ((error = buf_put(json_out, chunk, (size_t)n)) < 0)
				goto done;
		}
		if (n < 0)
			goto corrupt;
	}
	if (rc != ARCHIVE_EOF)
		goto corrupt;
	if (matches == 0) {
		error = err_set(-EPROTO, "CVAT export archive has no annotations/instances_*.json");
		goto done;
	}
	if (matches > 1) {
		error = err_set(-EPROTO, "CVAT export archive has %d instances files (%s); "
				"expected one (is the task split into subsets?)", matches, found.ptr);
		goto done;
	}
	doc = json_loadb(json_out->ptr, json_out->len, 0, &jerr);
	if (!json_is_object(doc)) {
		error = err_set(-EPROTO, "CVAT export: %s is not a JSON object%s%s", found.ptr,
				doc ? "" : ": ", doc ? "" : jerr.text);
		goto done;
	}
	goto done;
corrupt:
	error = err_set(-EPROTO, "CVAT export archive is corrupt or truncated: %s",
			archive_error_string(a) ? archive_error_string(a) : "read error");
done:
	if (error < 0)
		buf_reset(json_out);
	json_decref(doc);
	buf_release(&found);
	archive_read_free(a);
	return error;
}
