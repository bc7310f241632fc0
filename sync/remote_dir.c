/*
 * The directory remote: a dataset-shaped directory on a path the machine
 * can reach (another disk, an NFS mount, a USB stick).
 *
 *   ROOT/git/                      bare git repository (history)
 *   ROOT/objects/ab/cd/<32 hex>    blobs, mode 0444, the layout of store/blob.h
 *   ROOT/tmp/                      uploads in flight
 *
 * A blob is uploaded to ROOT/tmp, fsync'ed, re-read and re-hashed, and only
 * then renamed into objects/: a reader of the remote never sees a partial
 * or wrong blob, and a crash leaves at most a stray file in tmp/.  A
 * download is hashed while it is copied and refused (-EIO) when the remote's
 * bytes do not match the name: the remote is not trusted.
 *
 * Nothing here is mutable after open, so every operation may run in
 * several threads at once; a push's state (the remote's lock) is its txn.
 */
#include "sync/remote.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/blob_hash.h"
#include "util/err.h"
#include "util/fsutil.h"

struct dir_remote {
	struct remote base; /* first: a struct remote * is a struct dir_remote * */
	char *root;
	char *git;          /* ROOT/git */
	char *objects;      /* ROOT/objects */
	char *tmp;          /* ROOT/tmp */
};

static atomic_ulong tmp_counter;

static struct dir_remote *dir_of(struct remote *r)
{
	return (struct dir_remote *)r;
}

static int blob_rel(char *out, size_t outsz, const char *base, const struct blob_id *id)
{
	char hex[BLOB_HEX_LEN + 1];

	blob_id_hex(hex, id);
	if (snprintf(out, outsz, "%s/%.2s/%.2s/%s", base, hex, hex + 2, hex) >= (int)outsz)
		return err_set(-ENAMETOOLONG, "remote path too long under %s", base);
	return 0;
}

static int dir_probe(struct remote *r)
{
	struct dir_remote *d = dir_of(r);
	char head[PATH_MAX];
	struct stat st;

	snprintf(head, sizeof(head), "%s/HEAD", d->git);
	if (stat(head, &st) < 0)
		return err_set(-errno, "remote %s is unreachable (%s: %s)", r->url, head,
			       strerror(errno));
	return 0;
}

static int dir_has_blob(struct remote *r, const struct blob_id *id)
{
	char path[PATH_MAX];
	struct stat st;
	int error;

	if ((error = blob_rel(path, sizeof(path), dir_of(r)->objects, id)) < 0)
		return error;
	if (stat(path, &st) == 0)
		return 1;
	if (errno == ENOENT || errno == ENOTDIR)
		return 0;
	return err_set(-errno, "remote %s: cannot stat %s: %s", r->url, path, strerror(errno));
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Copy `src` to `dst` (open fds); if `hasher` is set, feed it the bytes.
 * Returns 0 or a negative errno (no message).
 */
static int copy_fd(int dst, int src, struct blob_hasher *hasher)
{
	static const size_t chunk = 1 << 17;
	char *buf = malloc(chunk);
	ssize_t n;
	int error = 0;

	if (!buf)
		return -ENOMEM;
	while ((n = read(src, buf, chunk)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			error = -errno;
			break;
		}
		if (hasher)
			blob_hasher_update(hasher, buf, (size_t)n);
		if ((error = write_all(dst, buf, (size_t)n)) < 0)
			break;
	}
	free(buf);
	return error;
}

static int dir_get_blob(struct remote *r, const struct blob_id *id, const char *dst_path)
{
	char src[PATH_MAX], hex[BLOB_HEX_LEN + 1], ghex[BLOB_HEX_LEN + 1];
	struct blob_hasher *hasher = NULL;
	struct blob_id got;
	int in = -1, out = -1, error;

	blob_id_hex(hex, id);
	if ((error = blob_rel(src, sizeof(src), dir_of(r)->objects, id)) < 0)
		return error;
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT) {
			/* Not "lacks the blob" when the whole remote is gone (unmounted, removed). */
			if ((error = dir_probe(r)) < 0)
				return err_set(-EIO, "cannot fetch blob %s: %s", hex, err_last());
			return err_set(-ENOENT, "remote %s has no blob %s", r->url, hex);
		}
		return err_set(-EIO, "remote %s: cannot open %s: %s", r->url, src, strerror(errno));
	}
	if ((out = open(dst_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0) {
		error = err_set(-errno, "cannot create %s: %s", dst_path, strerror(errno));
		close(in);
		return error;
	}
	if ((error = blob_hasher_new(&hasher)) < 0)
		goto fail;
	if ((error = copy_fd(out, in, hasher)) < 0) {
		error = err_set(error == -ENOMEM ? error : -EIO, "copying blob %s from %s: %s", hex,
				r->url, strerror(-error));
		goto fail;
	}
	blob_hasher_digest(hasher, &got);
	if (memcmp(&got, id, sizeof(got)) != 0) {
		blob_id_hex(ghex, &got);
		error = err_set(-EIO, "remote %s: blob %s is corrupt (its bytes hash to %s); refused",
				r->url, hex, ghex);
		goto fail;
	}
	if (close(out) < 0) {
		out = -1;
		error = err_set(-EIO, "cannot write %s: %s", dst_path, strerror(errno));
		goto fail;
	}
	close(in);
	blob_hasher_free(hasher);
	return 0;
fail:
	blob_hasher_free(hasher);
	if (out >= 0)
		close(out);
	close(in);
	unlink(dst_path);
	return error;
}

static int dir_put_blob(struct remote *r, const struct blob_id *id, const char *src_path)
{
	struct dir_remote *d = dir_of(r);
	char tmp[PATH_MAX], dst[PATH_MAX], shard[PATH_MAX], hex[BLOB_HEX_LEN + 1];
	struct blob_id got;
	int in = -1, out = -1, error;

	blob_id_hex(hex, id);
	if ((error = blob_rel(dst, sizeof(dst), d->objects, id)) < 0)
		return error;
	snprintf(shard, sizeof(shard), "%s/%.2s/%.2s", d->objects, hex, hex + 2);
	if (snprintf(tmp, sizeof(tmp), "%s/put-%s-%ld-%lu", d->tmp, hex, (long)getpid(),
		     atomic_fetch_add(&tmp_counter, 1)) >= (int)sizeof(tmp))
		return err_set(-ENAMETOOLONG, "remote path too long: %s", d->tmp);
	if ((error = fs_mkdir_p(d->tmp, 0755)) < 0 || (error = fs_mkdir_p(shard, 0755)) < 0)
		return error;
	if ((in = open(src_path, O_RDONLY | O_CLOEXEC)) < 0)
		return err_set(errno == ENOENT ? -ENOENT : -EIO, "cannot open blob %s: %s", src_path,
			       strerror(errno));
	if ((out = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0) {
		error = err_set(-errno, "remote %s: cannot create %s: %s", r->url, tmp,
				strerror(errno));
		close(in);
		return error;
	}
	if ((error = copy_fd(out, in, NULL)) < 0 || (fsync(out) < 0 && (error = -errno))) {
		error = err_set(error, "remote %s: writing blob %s: %s", r->url, hex,
				strerror(-error));
		goto fail;
	}
	/* Re-read what landed on the remote, not what we meant to send. */
	if ((error = blob_hash_fd(&got, out)) < 0)
		goto fail;
	if (memcmp(&got, id, sizeof(got)) != 0) {
		char ghex[BLOB_HEX_LEN + 1];

		blob_id_hex(ghex, &got);
		error = err_set(-EIO, "blob %s arrived at %s hashing to %s (local copy corrupt, or "
				      "the remote's storage); not stored",
				hex, r->url, ghex);
		goto fail;
	}
	if (fchmod(out, 0444) < 0 || rename(tmp, dst) < 0) {
		error = err_set(-errno, "remote %s: cannot store blob %s: %s", r->url, hex,
				strerror(errno));
		goto fail;
	}
	close(out);
	close(in);
	return fs_fsync_dir(shard);
fail:
	close(out);
	close(in);
	unlink(tmp);
	return error;
}

/*
 * A push holds ROOT/git/dsfs.lock (store/history's writers' lock, the one
 * a dataset's own commits take) from the fast-forward check through the
 * blobs to the refs: pushes to one remote take turns, and only the lock's
 * holder removes ref lock files (those of a pusher that died).
 */
static int dir_push_begin(struct remote *r, struct history *h, void **txn)
{
	struct dir_remote *d = dir_of(r);
	struct history_lock *l = NULL;
	int error;

	*txn = NULL;
	if ((error = history_lock_dir(&l, d->git)) < 0)
		return err_set(error, "remote %s: %s", r->url, err_last());
	if ((error = history_push_check(h, l)) < 0) {
		history_unlock_dir(l);
		return error;
	}
	*txn = l;
	return 0;
}

static int dir_push_alive(struct remote *r, void *txn)
{
	(void)r;
	return history_lock_check(txn);
}

static int dir_push_refs(struct remote *r, struct history *h, void *txn)
{
	struct dir_remote *d = dir_of(r);
	int error;

	if ((error = fs_mkdir_p(d->objects, 0755)) < 0)
		return error;
	return history_push_locked(h, txn);
}

static void dir_push_end(struct remote *r, void *txn)
{
	(void)r;
	history_unlock_dir(txn);
}

static int dir_fetch_refs(struct remote *r, struct history *h, struct history_fetch_result *out)
{
	struct dir_remote *d = dir_of(r);
	char head[PATH_MAX];
	struct stat st;

	snprintf(head, sizeof(head), "%s/HEAD", d->git);
	if (stat(head, &st) < 0)
		return err_set(-ENOENT, "no dataset history at %s (missing %s)", r->url, d->git);
	return history_fetch_url(out, h, r->name[0] ? r->name : REMOTE_DEFAULT_NAME, d->git);
}

static void dir_free(struct remote *r)
{
	struct dir_remote *d = dir_of(r);

	free(d->root);
	free(d->git);
	free(d->objects);
	free(d->tmp);
	free(d->base.name);
	free(d->base.url);
	free(d);
}

static const struct remote_ops dir_ops = {
	.version = REMOTE_OPS_VERSION,
	.kind = "dir",
	.probe = dir_probe,
	.has_blob = dir_has_blob,
	.get_blob = dir_get_blob,
	.put_blob = dir_put_blob,
	.push_begin = dir_push_begin,
	.push_alive = dir_push_alive,
	.push_refs = dir_push_refs,
	.push_end = dir_push_end,
	.fetch_refs = dir_fetch_refs,
	.free = dir_free,
};

int remote_dir_open(struct remote **out, const char *name, const char *url, const char *root)
{
	struct dir_remote *d = calloc(1, sizeof(*d));

	*out = NULL;
	if (!d)
		return err_set(-ENOMEM, "out of memory");
	d->base.ops = &dir_ops;
	if (!(d->base.name = strdup(name ? name : "")) || !(d->base.url = strdup(url)) ||
	    !(d->root = strdup(root)) || asprintf(&d->git, "%s/git", root) < 0 ||
	    asprintf(&d->objects, "%s/objects", root) < 0 ||
	    asprintf(&d->tmp, "%s/tmp", root) < 0) {
		dir_free(&d->base);
		return err_set(-ENOMEM, "out of memory");
	}
	*out = &d->base;
	return 0;
}
