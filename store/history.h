/*
 * Dataset history in a bare git repository (libgit2), DIR/git/.
 *
 * A version is a commit on refs/heads/main whose tree holds the dataset's
 * plain-text manifests (written by core/, opaque here), tagged v1, v2, ...
 * in order (lightweight tags refs/tags/vN).  Tags are the source of truth
 * for which versions exist.
 *
 * Atomicity: history_commit() writes the blobs, tree and commit objects
 * first (unreferenced objects are harmless), then creates the tag, then
 * moves main.  A crash before the tag leaves no version; a crash between
 * tag and main is repaired by the next history_open() (main is moved to the
 * newest tag).
 *
 * Thread safety: one mutex per struct history serializes libgit2 calls, so
 * FUSE workers may read versions concurrently.
 */
#ifndef DSFS_STORE_HISTORY_H
#define DSFS_STORE_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct history;

struct history_file {
	const char *path;   /* inside the tree, e.g. "label_sets/default/classes.txt" */
	const char *data;
	size_t len;
};

struct history_version {
	unsigned number;    /* N of tag vN; 0 for a commit without a vN tag */
	char tag[64];       /* "v3" ("" if none) */
	char commit[41];    /* hex oid */
	int64_t time;       /* commit time, seconds since the epoch (UTC) */
	char *message;      /* owned; release with history_version_release() */
	char *author;       /* "name <email>", owned */
};

#define HISTORY_VERSION_INIT { 0, "", "", 0, NULL, NULL }

/* Open (creating if missing) the bare repository at `git_dir`. */
int history_open(struct history **out, const char *git_dir);
void history_free(struct history *h);

/*
 * Commit `files` as the complete tree (paths may contain '/': subtrees are
 * built) on main with `message` and the author, and tag it v<N+1>, N being
 * the highest existing vN.  -EEXIST ("nothing to commit: same as vN") when
 * the tree equals the tree of main's head; nothing is written then.
 */
int history_commit(struct history_version *out, struct history *h,
		   const struct history_file *files, size_t n_files, const char *message,
		   const char *author_name, const char *author_email);

/*
 * Resolve a version spec: "v3", "3" (as v3), any tag name, "HEAD", or a
 * commit hex prefix (>= 4 digits, unique).  -ENOENT (message names the spec)
 * when nothing matches or a prefix is ambiguous.
 */
int history_resolve(struct history_version *out, struct history *h, const char *spec);

/*
 * Append the file `path` of commit `commit_hex`'s tree to `out`.  -ENOENT if
 * the commit has no such file, -EIO (message) if the object store is corrupt.
 */
int history_read(struct buf *out, struct history *h, const char *commit_hex, const char *path);

/*
 * The names (not paths) directly under directory `dir` ("" = root) of the
 * commit's tree, each NUL-terminated and appended to `out` one after the
 * other; *n_out gets the count.  -ENOENT if no such directory.
 */
int history_list_dir(struct buf *out, size_t *n_out, struct history *h, const char *commit_hex,
		     const char *dir);

/* All vN versions, ascending by N.  Caller frees with history_versions_free(). */
int history_versions(struct history_version **out, size_t *n_out, struct history *h);
void history_versions_free(struct history_version *v, size_t n);
void history_version_release(struct history_version *v);

/* The git directory path (borrowed); remotes use it. */
const char *history_git_dir(const struct history *h);

/*
 * What `path` is in the commit's tree: *is_dir_out = 1 for a directory
 * (size 0), else 0 and *size_out = the file's byte count (either OUT may be
 * NULL).  "" is the root directory.  -ENOENT if absent, -EIO if corrupt.
 */
int history_stat(struct history *h, const char *commit_hex, const char *path,
		 int *is_dir_out /* OUT */, uint64_t *size_out /* OUT */);

/*
 * Git ref transport, for sync/remote (all libgit2 use stays in this module).
 * `url` is anything libgit2's transports accept; the directory remote uses a
 * local path or a file:// URL of a bare repository.
 */

/* Record remote `name` -> `url` in the repository's config.  -EEXIST, -EINVAL (bad name/url). */
int history_remote_add(struct history *h, const char *name, const char *url);

/* Append the URL of remote `name` to `out`.  -ENOENT if there is no such remote. */
int history_remote_url(struct buf *out, struct history *h, const char *name);

/*
 * Push refs/heads/main and every refs/tags/vN to `url` (objects travel as
 * a pack).  Fast-forward only: -EAGAIN (message) when the remote's main or
 * a remote vN is not an ancestor of ours (pull first); refs already equal
 * are left alone.  Takes no lock on the remote (see history_push_locked).
 */
int history_push_url(struct history *h, const char *url);

/*
 * Pushing into a repository on this machine (a directory remote) under
 * that repository's own writers' lock: flock on <git_dir>/dsfs.lock, the
 * lock its commits and fetches take.  So two pushes (or a push and a
 * commit there) never write refs at once, and a ref lock file
 * (refs/tags/vN.lock, ...) found while holding the lock was left by a
 * writer that died, and is removed.
 */
struct history_lock;

/*
 * Take that lock, creating `git_dir` if missing (not the repository in it).
 * Blocks while another process holds it (logging once that it waits).
 */
int history_lock_dir(struct history_lock **out, const char *git_dir);

/*
 * 0 while the lock file still is the one we locked; -ENOENT (message) if
 * the directory was removed or replaced meanwhile (our lock guards nothing).
 */
int history_lock_check(const struct history_lock *l);

void history_unlock_dir(struct history_lock *l);

/*
 * Would pushing `h` to the locked repository fast-forward main and every vN
 * tag?  0 if so (also when there is no repository yet); -EAGAIN with the
 * reason otherwise: the remote is ahead (pull first), the histories
 * diverged, or they are unrelated (no common version).  Downloads the
 * remote's objects into `h` to compare (no ref of `h` changes).
 */
int history_push_check(struct history *h, const struct history_lock *l);

/* history_push_url() to the locked repository, creating it first if it does not exist. */
int history_push_locked(struct history *h, const struct history_lock *l);

struct history_fetch_result {
	char old_head[41];   /* main before ("" if it did not exist) */
	char new_head[41];   /* main after */
	unsigned new_tags;   /* vN tags created locally */
	unsigned remote_max; /* highest vN on the remote (0 if none) */
};

/*
 * Fetch main and the vN tags of `url` into refs/remotes/<name>/ (main) and
 * refs/remotes/<name>/tags/ (tags), then create the vN tags missing locally
 * and fast-forward main (tags first, then main: the same order as a commit).
 * -EAGAIN (message), with no local tag or main changed, when the histories
 * diverged: main is not an ancestor of the remote's and not a descendant, or
 * a vN exists on both sides with different commits.  `out` may be NULL.
 */
int history_fetch_url(struct history_fetch_result *out, struct history *h, const char *name,
		      const char *url);

#endif
