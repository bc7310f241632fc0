/*
 * Ingest: turn a file into a cataloged image, or keep it as rejected.
 *
 * An accepted file (JPEG or PNG by magic bytes, header readable, not
 * truncated) becomes a blob named by its hash and an images row with its
 * original base name; the same bytes twice are recorded once.  A refused
 * file is never lost: it is kept in DIR/rejected/<name> with
 * DIR/rejected/<name>.reason beside it (the mount shows both under
 * incoming/.rejected/), and the reason is logged.
 *
 * The blob is written before the catalog row, so a crash at any point
 * leaves at worst an unreferenced blob, which a re-ingest adopts.
 */
#ifndef DSFS_CORE_INGEST_H
#define DSFS_CORE_INGEST_H

#include <stdint.h>

#include "core/imageinfo.h"
#include "store/blob.h"
#include "store/catalog.h"

struct repo;

enum ingest_status {
	INGEST_ADDED,
	INGEST_DUPLICATE,  /* same bytes already in the catalog */
	INGEST_REJECTED,   /* kept in rejected/, see reason */
};

struct ingest_result {
	enum ingest_status status;
	struct catalog_image img;   /* filled when added or duplicate */
	char reason[256];           /* filled when rejected */
	char kept_as[CATALOG_NAME_MAX]; /* name under rejected/ when rejected */
};

/*
 * Ingest the file at `path` under base name `name` (NULL: the path's base
 * name) with `source` ("" if none).  The source file is read once and left
 * where it is (a rejected file is copied into rejected/).  Returns 0 with
 * `res` filled for every outcome, including rejection; a negative errno
 * only when the dataset itself could not be written (no space, I/O error).
 */
int ingest_path(struct ingest_result *res, struct repo *repo, const char *path,
		const char *name, const char *source);

/*
 * Ingest a spooled file the caller wrote under the store's tmp dir (an
 * upload through the mount).  `hash` is its name if the caller hashed it
 * while writing, else NULL.  The spool file is consumed: renamed into the
 * store, or into rejected/.
 */
int ingest_spool(struct ingest_result *res, struct repo *repo, const char *spool_path,
		 const char *name, const char *source, const struct blob_id *hash);

/* One file of a batch (ingest_batch). */
struct ingest_item {
	const char *path;          /* the source file, or a spool file in tmp/ when spooled */
	const char *name;          /* base name to record (NULL: the path's base name) */
	int spooled;               /* path is a spool file: consumed (store or rejected/) */
	int have_hash;             /* hash is the spool's name, computed while it was written */
	struct blob_id hash;
	struct ingest_result res;  /* OUT */
	int error;                 /* OUT: negative errno if this file could not be stored */
};

/*
 * Ingest many files as one group: each is probed and spooled (or already
 * is), then all accepted blobs are made durable and renamed into the store
 * with two syncfs() calls for the group (instead of two fsyncs per file),
 * then recorded in one catalog transaction.  Per-file outcomes go to
 * items[i].res / items[i].error.  Returns a negative errno only when the
 * group as a whole failed (a sync or the catalog transaction); no image of
 * the group is then recorded.
 */
int ingest_batch(struct repo *repo, struct ingest_item *items, size_t n, const char *source);

/*
 * Keep a refused file: copy (or, with `move`, rename) `path` to
 * rejected/<name> (a numeric suffix keeps names unique) and write the
 * reason beside it.  The chosen name goes into kept_as[CATALOG_NAME_MAX].
 */
int ingest_keep_rejected(struct repo *repo, const char *path, const char *name,
			 const char *reason, int move, char *kept_as);

#endif
