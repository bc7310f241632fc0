/*
 * Content-addressed blob store.
 *
 * A blob's name is the XXH3-128 of its bytes, written as 32 lowercase hex
 * digits (high 64 bits first, the canonical XXH128 byte order).  Blobs live
 * at DIR/objects/ab/cd/<32 hex> (ab, cd = the first two byte pairs of the
 * hex), mode 0444, and are written to DIR/tmp/ first: write, fsync, rename,
 * fsync of the shard directory.  A put whose hash already exists compares the
 * bytes with the stored blob: equal -> dedup (nothing written), different ->
 * -EEXIST with a loud message; a stored blob is never overwritten.
 *
 * A store may have a fetch hook (a remote): a blob that is missing locally
 * is fetched through it on blob_open()/blob_path_ready() and then kept.
 *
 * Thread safety: every function may be called from several threads at once
 * on one store (FUSE workers read while ingest writes).
 */
#ifndef DSFS_STORE_BLOB_H
#define DSFS_STORE_BLOB_H

#include <stddef.h>
#include <stdint.h>

#define BLOB_HEX_LEN 32
/* "ab/cd/<32 hex>" */
#define BLOB_REL_PATH_LEN (6 + BLOB_HEX_LEN)

struct blob_id {
	uint8_t b[16];
};

struct blob_store;

/* Write the 32 hex digits and a NUL into `out`. */
void blob_id_hex(char out[BLOB_HEX_LEN + 1], const struct blob_id *id);
/* Parse exactly 32 hex digits (either case).  -EINVAL otherwise. */
int blob_id_parse(struct blob_id *out, const char *hex);
/* The hash of a memory buffer. */
void blob_id_of(struct blob_id *out, const void *data, size_t len);

/*
 * Open the store of dataset directory `dir` (uses dir/objects and dir/tmp,
 * creating them if missing).  Caller frees with blob_store_free().
 */
int blob_store_open(struct blob_store **out, const char *dir);
void blob_store_free(struct blob_store *store);

/*
 * Copy everything readable from `fd` into the store, hashing while copying
 * (the source is read once).  *size_out (may be NULL) gets the byte count.
 * -EEXIST on a hash collision with different bytes, -ENOSPC/-EIO on write
 * failure; nothing partial is ever visible under objects/.
 */
int blob_put_fd(struct blob_id *out, uint64_t *size_out, struct blob_store *store, int fd);
int blob_put_buf(struct blob_id *out, struct blob_store *store, const void *data, size_t len);

/*
 * Adopt an already written temporary file (e.g. an upload spooled in
 * DIR/tmp/) whose hash the caller computed: fsync it, then rename it into
 * place (or, if the blob exists with equal bytes, unlink it).  The file must
 * be on the same file system as the store (use blob_tmp_dir()).
 */
int blob_put_tmpfile(struct blob_store *store, const char *tmp_path, const struct blob_id *id);

/*
 * Remove every file in DIR/tmp/ and in its spool directories (leftovers of
 * crashed puts and fetches) except the drop zone's "incoming-*" spools, closed uploads it has yet to
 * ingest.  tmp/ also holds in-flight writes, so call this only
 * when no put, upload or fetch is running on this dataset: at mount start
 * before serving, and from fsck.  Returns the number of files removed, or a
 * negative errno.
 */
int blob_store_sweep_tmp(struct blob_store *store);

/*
 * Copy everything readable from `fd` into a new file in `dir` (NULL: tmp/;
 * else a blob_spool_dir), hashing on the way, without syncing: the first
 * half of a batched put.  The path goes to tmp_path[PATH_MAX]; adopt it
 * with blob_put_tmpfiles().
 */
int blob_spool_fd(char *tmp_path, struct blob_id *out, uint64_t *size_out, struct blob_store *store,
		  const char *dir, int fd);

/* The same for bytes already in memory. */
int blob_spool_buf(char *tmp_path, struct blob_id *out, struct blob_store *store, const char *dir,
		   const void *data, size_t len);

/*
 * A private directory for one writer's spools, tmp/spool-XXXXXX, path into
 * dir_out[PATH_MAX].  Creating a file in a directory and renaming one out of
 * it both take that directory's lock, and on ext4 a create holds it for the
 * inode allocation; writers that spool in parallel, or while spools are
 * being adopted, each take their own so they do not queue on tmp/.  The
 * caller removes it (rmdir) once its spools are adopted; a crash's are
 * removed by blob_store_sweep_tmp.
 */
int blob_spool_dir(char *dir_out, const struct blob_store *store);

/*
 * Adopt many spooled files at once with the same guarantees as
 * blob_put_tmpfile(), paying two syncfs() calls for the group instead of
 * two fsyncs per file: the spooled bytes are made durable, then each file
 * is renamed into place (or deduplicated), then the renames are made
 * durable.  results[i] is each file's outcome (0 or a negative errno, as
 * blob_put_tmpfile).  Returns a negative errno only if a sync failed, in
 * which case no result may be trusted as durable.
 */
int blob_put_tmpfiles(struct blob_store *store, const char *const *tmp_paths,
		      const struct blob_id *ids, size_t n, int *results);

/* DIR/tmp (borrowed): where callers spool files they will adopt. */
const char *blob_tmp_dir(const struct blob_store *store);

/* Absolute path of the blob into `out` (whether or not it exists). */
int blob_path(char *out, size_t outsz, const struct blob_store *store, const struct blob_id *id);

/* 1 if the blob is present locally, 0 if not (no fetch). */
int blob_exists(const struct blob_store *store, const struct blob_id *id);

/*
 * Open the blob read-only; *fd_out belongs to the caller.  A missing blob is
 * fetched through the fetch hook if one is set (blocking), else -ENOENT.
 */
int blob_open(int *fd_out, struct blob_store *store, const struct blob_id *id);

/*
 * Re-hash the stored blob.  0 if intact, -ENOENT if missing, -EIO (message
 * names the blob) if its bytes no longer hash to its name.
 */
int blob_verify(struct blob_store *store, const struct blob_id *id);

/* Call `cb` for every blob under objects/ (order unspecified); stops at the first nonzero return. */
int blob_foreach(struct blob_store *store, int (*cb)(const struct blob_id *id, void *payload),
		 void *payload);

/*
 * The fetch hook: called with the store's tmp dir and the wanted id; it must
 * write the bytes to a file it creates under tmp_dir and return its path in
 * `path_out` (size PATH_MAX).  The store then verifies the hash and adopts it.
 * Concurrent opens of the same missing blob fetch it once.
 */
typedef int (*blob_fetch_fn)(char *path_out, const char *tmp_dir, const struct blob_id *id,
			     void *payload);
void blob_store_set_fetch(struct blob_store *store, blob_fetch_fn fn, void *payload);

#endif
