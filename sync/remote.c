/*
 * Remotes, the generic half (see remote.h): URL parsing, the choice of an
 * implementation, and push/pull/clone written once against struct
 * remote_ops, so a second kind of remote (S3) adds a file and a line in
 * remote_open_url(), and no caller changes.
 */
#include "sync/remote.h"

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/log.h"

static atomic_ulong fetch_counter;

/*
 * The directory a local-path or file:// URL names, absolute and without
 * trailing slashes, into `out` (caller releases).  -ENOTSUP for other
 * schemes.
 */
static int dir_url_root(struct buf *out, const char *url)
{
	const char *p = url;
	size_t len;
	int error;

	if (strncmp(url, "file://", 7) == 0) {
		p = url + 7;
		if (strncmp(p, "localhost/", 10) == 0)
			p += 9;
		if (*p != '/')
			return err_set(-EINVAL, "file URL must be absolute: %s", url);
	} else if (strstr(url, "://")) {
		if (strncmp(url, "s3://", 5) == 0)
			return err_set(-ENOTSUP, "S3 remotes are not implemented yet: %s", url);
		return err_set(-ENOTSUP, "unsupported remote URL scheme: %s", url);
	}
	if (!*p)
		return err_set(-EINVAL, "empty remote URL");
	if (*p != '/') {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)))
			return err_set(-errno, "getcwd: %s", strerror(errno));
		if ((error = buf_printf(out, "%s/", cwd)) < 0)
			return error;
	}
	if ((error = buf_puts(out, p)) < 0)
		return error;
	len = out->len;
	while (len > 1 && out->ptr[len - 1] == '/')
		len--;
	out->len = len;
	out->ptr[len] = '\0';
	return 0;
}

int remote_open_url(struct remote **out, const char *name, const char *url)
{
	struct buf root = BUF_INIT;
	int error;

	*out = NULL;
	/* The one place that knows the kinds of remote. */
	if ((error = dir_url_root(&root, url)) == 0)
		error = remote_dir_open(out, name, url, root.ptr);
	buf_release(&root);
	return error;
}

int remote_add(struct history *h, const char *name, const char *url)
{
	struct buf root = BUF_INIT, git_url = BUF_INIT;
	int error;

	if (!name || !*name)
		return err_set(-EINVAL, "a remote needs a name");
	/* Record the absolute form: a relative path would change meaning with the cwd. */
	if ((error = dir_url_root(&root, url)) < 0 ||
	    (error = buf_printf(&git_url, "%s%s/git", strncmp(url, "file://", 7) ? "" : "file://",
				root.ptr)) < 0)
		goto done;
	error = history_remote_add(h, name, git_url.ptr);
done:
	buf_release(&root);
	buf_release(&git_url);
	return error;
}

int remote_open(struct remote **out, struct history *h, const char *name)
{
	struct buf git_url = BUF_INIT;
	int error;

	*out = NULL;
	if (!name)
		name = REMOTE_DEFAULT_NAME;
	if ((error = history_remote_url(&git_url, h, name)) < 0)
		goto done;
	/* A directory remote is recorded by its git URL, "<url>/git". */
	if (git_url.len < 4 || strcmp(git_url.ptr + git_url.len - 4, "/git") != 0) {
		error = err_set(-ENOTSUP, "remote '%s' (%s) is not a dsfs remote (expected .../git)",
				name, git_url.ptr);
		goto done;
	}
	git_url.len -= 4;
	git_url.ptr[git_url.len] = '\0';
	error = remote_open_url(out, name, git_url.ptr);
done:
	buf_release(&git_url);
	return error;
}

void remote_free(struct remote *r)
{
	if (r)
		r->ops->free(r);
}

int remote_has_blob(struct remote *r, const struct blob_id *id)
{
	return r->ops->has_blob(r, id);
}

int remote_probe(struct remote *r)
{
	return r->ops->probe(r);
}

const char *remote_name(const struct remote *r)
{
	return r->name;
}

const char *remote_url(const struct remote *r)
{
	return r->url;
}

/*
 * Make blob `id` present in `bs` for a push: through the store's fetch hook
 * if it has one (a lazy clone: from its origin), else -ENOENT.
 */
static int push_local_blob(struct remote *r, struct blob_store *bs, const struct blob_id *id)
{
	char hex[BLOB_HEX_LEN + 1], why[512];
	int fd, error;

	if (blob_exists(bs, id))
		return 0;
	err_clear();
	if ((error = blob_open(&fd, bs, id)) == 0) {
		close(fd);
		return 0;
	}
	blob_id_hex(hex, id);
	snprintf(why, sizeof(why), "%s", err_msg(error));
	return err_set(error, "blob %s is neither here nor on %s (%s); cannot push", hex, r->url,
		       why);
}

/* Every blob in `ids` is on the remote, which is still there: the last check before refs. */
static int push_verify(struct remote *r, void *txn, const struct blob_id *ids, size_t n)
{
	char hex[BLOB_HEX_LEN + 1];
	int error;

	if ((error = r->ops->push_alive(r, txn)) < 0)
		return err_set(error, "remote %s disappeared during the push; refs not updated "
				      "(%s)", r->url, err_last());
	for (size_t i = 0; i < n; i++) {
		int has = r->ops->has_blob(r, &ids[i]);

		if (has < 0)
			return has;
		if (!has) {
			blob_id_hex(hex, &ids[i]);
			/* Removed by someone else since we sent it or saw it there. */
			return err_set(-EIO, "blob %s is no longer on %s (removed during the push?); "
					     "refs not updated, push again",
				       hex, r->url);
		}
	}
	return r->ops->push_alive(r, txn) < 0
		       ? err_set(-ENOENT, "remote %s disappeared during the push; refs not updated",
				 r->url)
		       : 0;
}

int remote_push(struct remote *r, struct blob_store *bs, const struct blob_id *ids, size_t n,
		struct history *h, remote_progress_fn progress, void *payload,
		struct remote_push_stats *stats)
{
	struct remote_push_stats st = { 0, 0, 0 };
	char path[PATH_MAX];
	void *txn = NULL;
	int error = 0;

	/* Lock, and refuse a non-fast-forward before sending any blob. */
	if ((error = r->ops->push_begin(r, h, &txn)) < 0)
		goto done;
	for (size_t i = 0; i < n; i++) {
		int has;
		struct stat sb;

		/* A remote removed mid-push: stop soon, rather than recreate it blob by blob. */
		if (i % 256 == 255 && (error = r->ops->push_alive(r, txn)) < 0) {
			error = err_set(error, "remote %s disappeared during the push; refs not "
					       "updated (%s)", r->url, err_last());
			goto done;
		}
		if ((has = r->ops->has_blob(r, &ids[i])) < 0) {
			error = has;
			goto done;
		}
		if (has) {
			st.blobs_present++;
		} else {
			if ((error = blob_path(path, sizeof(path), bs, &ids[i])) < 0 ||
			    (error = push_local_blob(r, bs, &ids[i])) < 0 ||
			    (error = r->ops->put_blob(r, &ids[i], path)) < 0)
				goto done;
			st.blobs_sent++;
			if (stat(path, &sb) == 0)
				st.bytes_sent += (uint64_t)sb.st_size;
		}
		if (progress)
			progress(i + 1, n, st.bytes_sent, payload);
	}
	/* Refs last: the remote must never name a blob it does not hold. */
	if ((error = push_verify(r, txn, ids, n)) < 0)
		goto done;
	error = r->ops->push_refs(r, h, txn);
done:
	r->ops->push_end(r, txn);
	if (stats)
		*stats = st;
	return error;
}

int remote_pull(struct remote *r, struct history *h, struct history_fetch_result *out)
{
	return r->ops->fetch_refs(r, h, out);
}

/* A fresh name under `tmp_dir` for the download of `id`. */
static int fetch_tmp_path(char *out, const char *tmp_dir, const struct blob_id *id)
{
	char hex[BLOB_HEX_LEN + 1];

	blob_id_hex(hex, id);
	if (snprintf(out, PATH_MAX, "%s/fetch-%s-%ld-%lu", tmp_dir, hex, (long)getpid(),
		     atomic_fetch_add(&fetch_counter, 1)) >= PATH_MAX)
		return err_set(-ENAMETOOLONG, "tmp path too long: %s", tmp_dir);
	return 0;
}

int remote_blob_fetch(char *path_out, const char *tmp_dir, const struct blob_id *id,
		      void *payload)
{
	struct remote *r = payload;
	int error;

	path_out[0] = '\0';
	if ((error = fetch_tmp_path(path_out, tmp_dir, id)) < 0)
		return error;
	if ((error = r->ops->get_blob(r, id, path_out)) < 0)
		path_out[0] = '\0'; /* get_blob removed it */
	return error;
}

int remote_fetch_blobs(struct remote *r, struct blob_store *bs, const struct blob_id *ids,
		       size_t n, remote_progress_fn progress, void *payload, size_t *fetched_out)
{
	char path[PATH_MAX];
	size_t fetched = 0;
	uint64_t bytes = 0;
	int error = 0;

	for (size_t i = 0; i < n; i++) {
		if (!blob_exists(bs, &ids[i])) {
			struct stat sb;

			if ((error = fetch_tmp_path(path, blob_tmp_dir(bs), &ids[i])) < 0 ||
			    (error = r->ops->get_blob(r, &ids[i], path)) < 0)
				break;
			if (stat(path, &sb) == 0)
				bytes += (uint64_t)sb.st_size;
			if ((error = blob_put_tmpfile(bs, path, &ids[i])) < 0) {
				unlink(path);
				break;
			}
			fetched++;
		}
		if (progress)
			progress(i + 1, n, bytes, payload);
	}
	if (fetched_out)
		*fetched_out = fetched;
	return error;
}

/* 1 if `dir` is missing, 0 if it is an empty directory, else -EEXIST. */
static int clone_target_state(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int empty = 1;

	if (!d) {
		if (errno == ENOENT)
			return 1;
		return err_set(-errno, "cannot clone into %s: %s", dir, strerror(errno));
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = 0;
	closedir(d);
	return empty ? 0 : err_set(-EEXIST, "cannot clone into %s: not empty", dir);
}

int remote_clone(const char *url, const char *dir)
{
	struct history *h = NULL;
	struct remote *r = NULL;
	struct history_fetch_result res;
	char path[PATH_MAX];
	int created, error;

	if ((created = clone_target_state(dir)) < 0)
		return created;
	if (snprintf(path, sizeof(path), "%s/objects", dir) >= (int)sizeof(path))
		return err_set(-ENAMETOOLONG, "path too long: %s", dir);
	if ((error = fs_mkdir_p(path, 0755)) < 0)
		goto done;
	snprintf(path, sizeof(path), "%s/git", dir);
	if ((error = history_open(&h, path)) < 0 ||
	    (error = remote_add(h, REMOTE_DEFAULT_NAME, url)) < 0 ||
	    (error = remote_open(&r, h, REMOTE_DEFAULT_NAME)) < 0 ||
	    (error = remote_pull(r, h, &res)) < 0)
		goto done;
	LOG_I("cloned %s into %s: %u versions", url, dir, res.new_tags);
done:
	remote_free(r);
	history_free(h);
	if (error < 0) {
		/* Leave the directory as we found it. */
		if (created) {
			fs_rm_rf(dir);
		} else {
			snprintf(path, sizeof(path), "%s/git", dir);
			fs_rm_rf(path);
			snprintf(path, sizeof(path), "%s/objects", dir);
			fs_rm_rf(path);
		}
	}
	return error;
}
