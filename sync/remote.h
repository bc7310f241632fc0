/*
 * Remotes: where a dataset's history and blobs are pushed to and pulled
 * from.  A remote has two halves: the git history (refs/heads/main and the
 * vN tags, through store/history's ref transport) and the blobs the
 * manifests name (content-addressed, so "does the remote have it" is a
 * lookup by name and a blob, once there, never changes).
 *
 * Callers use only the remote_* functions below.  Each kind of remote is a
 * `struct remote_ops` vtable (a versioned table, like libgit2's ODB
 * backends); remote_open() picks one by the URL's scheme:
 *   - a local path or file:// URL: the directory remote (remote_dir.c),
 *     DIR/git (bare repository) + DIR/objects/ab/cd/<32 hex> (the layout of
 *     store/blob.h) + DIR/tmp (uploads in flight);
 *   - s3:// is reserved for an S3-compatible object store: same blob names
 *     under a key prefix, refs carried some other way; -ENOTSUP until then.
 *
 * Remotes are recorded as git remotes in the dataset's DIR/git config (so
 * `git --git-dir=DIR/git fetch NAME` works for a directory remote); the git
 * URL of a directory remote is "<its URL>/git".
 *
 * Order of a push, all under the remote's writers' lock (so two pushes to
 * one remote take turns): check that the refs would fast-forward (a
 * refused push sends nothing), copy the blobs the remote lacks, check that
 * every blob the versions name is (still) on the remote, then the refs.  So
 * a remote never has a version whose blobs it lacks.  Pull moves refs only; blobs arrive later, either
 * on demand through the fetch hook (a clone can be mounted at once) or all
 * at once with remote_fetch_blobs().
 *
 * Errors: -ENOENT (no such remote / blob), -ENOTSUP (unknown URL scheme),
 * -EAGAIN (histories diverged: push refused because the remote has versions
 * we lack, or pull cannot fast-forward), -EIO (a blob's bytes do not hash to
 * its name, on either side; I/O failure), with a message in err_last().
 *
 * Thread safety: a struct remote may be used by several threads at once
 * (the fetch hook runs in FUSE workers); the directory remote keeps no
 * mutable state.
 */
#ifndef DSFS_SYNC_REMOTE_H
#define DSFS_SYNC_REMOTE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "store/blob.h"
#include "store/history.h"

struct remote;

#define REMOTE_OPS_VERSION 2
#define REMOTE_DEFAULT_NAME "origin"

/*
 * One kind of remote.  Every slot is required.  The blob slots are called
 * concurrently.
 */
struct remote_ops {
	int version;        /* REMOTE_OPS_VERSION */
	const char *kind;   /* "dir", "s3", ... (for messages) */

	/*
	 * 0 if the remote can be reached and holds a dataset's history, else a
	 * negative errno (-ENOENT: nothing there) with a message.
	 */
	int (*probe)(struct remote *r);

	/* 1 if the remote holds blob `id`, 0 if not, or a negative errno. */
	int (*has_blob)(struct remote *r, const struct blob_id *id);

	/*
	 * Copy blob `id` into a new file `dst_path` (created exclusively; on
	 * failure it is removed).  The bytes are re-hashed on the way: -EIO if
	 * they do not hash to `id` or the remote cannot be reached, -ENOENT if
	 * the remote (reachable) lacks the blob.
	 */
	int (*get_blob)(struct remote *r, const struct blob_id *id, const char *dst_path);

	/*
	 * Store the file `src_path` on the remote as blob `id`, atomically (a
	 * reader never sees a partial blob), verifying on arrival that the
	 * stored bytes hash to `id` (-EIO if not; nothing is stored then).
	 */
	int (*put_blob)(struct remote *r, const struct blob_id *id, const char *src_path);

	/*
	 * Start a push: take the remote's writers' lock (waiting while another
	 * push or a commit there holds it; held until push_end) and check that
	 * main and the vN tags of `h` would fast-forward (-EAGAIN with the
	 * reason if not), before any blob is sent.  *txn goes to the calls below.
	 */
	int (*push_begin)(struct remote *r, struct history *h, void **txn);

	/*
	 * 0 if the remote is still the one push_begin locked; -ENOENT if it
	 * disappeared (or was replaced) since.
	 */
	int (*push_alive)(struct remote *r, void *txn);

	/* Send main and the vN tags of `h` (fast-forward only, else -EAGAIN). */
	int (*push_refs)(struct remote *r, struct history *h, void *txn);

	/* Release the lock and `txn` (also after a failure; txn may be NULL). */
	void (*push_end)(struct remote *r, void *txn);

	/* Bring the remote's main and vN tags into `h` (see history_fetch_url). */
	int (*fetch_refs)(struct remote *r, struct history *h, struct history_fetch_result *out);

	/* Free the implementation's state and `r` itself. */
	void (*free)(struct remote *r);
};

/*
 * The part every implementation embeds first.  Callers treat it as opaque;
 * implementations fill it in their open function.
 */
struct remote {
	const struct remote_ops *ops;
	char *name;  /* owned: "origin", or "" for an unnamed remote */
	char *url;   /* owned: as the user gave it (dsfs-level URL, not the git URL) */
};

/* Called after each blob: `done` of `total` blobs, `bytes` copied so far. */
typedef void (*remote_progress_fn)(size_t done, size_t total, uint64_t bytes, void *payload);

struct remote_push_stats {
	size_t blobs_sent;     /* copied to the remote */
	size_t blobs_present;  /* the remote had them already */
	uint64_t bytes_sent;
};

/*
 * Record remote `name` -> `url` in `h`'s repository.  `url` is a path
 * (made absolute here), a file:// URL, or (later) s3://.  -EEXIST if the
 * name is taken, -ENOTSUP for an unknown scheme, -EINVAL for a bad name.
 */
int remote_add(struct history *h, const char *name, const char *url);

/*
 * Open the remote recorded as `name` (NULL = "origin") in `h`'s
 * repository.  Caller frees with remote_free().  -ENOENT if not recorded.
 */
int remote_open(struct remote **out, struct history *h, const char *name);

/* Open a remote by URL without recording it (`name` may be NULL). */
int remote_open_url(struct remote **out, const char *name, const char *url);

void remote_free(struct remote *r);

/* 1 if the remote holds blob `id`, 0 if not, or a negative errno. */
int remote_has_blob(struct remote *r, const struct blob_id *id);

/* 0 if the remote can be reached and holds a history, else a negative errno with a message. */
int remote_probe(struct remote *r);

/* The remote's name and URL (borrowed from `r`). */
const char *remote_name(const struct remote *r);
const char *remote_url(const struct remote *r);

/*
 * Push: under the remote's lock, refuse (-EAGAIN, nothing sent) unless main
 * and the vN tags of `h` fast-forward the remote's; copy to the remote each
 * of the `n` blobs `ids` that it lacks (the caller lists the blobs its
 * versions name, e.g. from the manifests); check that all `n` are on the
 * remote (-EIO if one vanished meanwhile, -ENOENT if the remote itself
 * did); then push main and every vN tag.  A blob missing locally is
 * opened through `bs`'s fetch hook if it has one (a lazy clone pushing to a
 * second remote fetches from its origin); without one, or if that fails,
 * it is an error (-ENOENT) unless the remote already has it.  Refs are not
 * pushed if any of this failed.  `progress` and `stats` may be NULL.
 */
int remote_push(struct remote *r, struct blob_store *bs, const struct blob_id *ids, size_t n,
		struct history *h, remote_progress_fn progress, void *payload,
		struct remote_push_stats *stats /* OUT */);

/*
 * Pull: fetch the remote's main and vN tags into `h`; main moves by
 * fast-forward only (-EAGAIN, nothing changed, if the histories diverged).
 * Blobs are not copied (see remote_fetch_blobs and the fetch hook).
 */
int remote_pull(struct remote *r, struct history *h, struct history_fetch_result *out /* OUT */);

/*
 * Copy the blobs among `ids` that `bs` lacks from the remote, verifying
 * each.  *fetched_out (may be NULL) gets the number copied.
 */
int remote_fetch_blobs(struct remote *r, struct blob_store *bs, const struct blob_id *ids,
		       size_t n, remote_progress_fn progress, void *payload,
		       size_t *fetched_out /* OUT */);

/*
 * A blob_fetch_fn (store/blob.h) with a struct remote * as payload:
 *   blob_store_set_fetch(bs, remote_blob_fetch, r);
 * makes a missing blob come from the remote on first open.  Writes the
 * blob to a new file under `tmp_dir` (name in `path_out`, PATH_MAX bytes),
 * re-hashed: -EIO on a mismatch or when the remote cannot be reached,
 * -ENOENT if the remote lacks it too.
 */
int remote_blob_fetch(char *path_out, const char *tmp_dir, const struct blob_id *id,
		      void *payload);

/*
 * Clone: create dataset directory `dir` (must not exist, or be empty) with
 * the minimum history needs: DIR/git, a bare repository holding the
 * remote's main and vN tags, with remote "origin" -> `url`, and an empty
 * DIR/objects.  `dsfs init` makes the rest.  On failure `dir` is removed
 * again if this call created it.
 */
int remote_clone(const char *url, const char *dir);

/* Implementations (remote_dir.c): open a directory remote at path `root`. */
int remote_dir_open(struct remote **out, const char *name, const char *url, const char *root);

#endif
