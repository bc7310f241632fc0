/*
 * Ingest: turn a file into a cataloged image, or keep it as rejected.
 *
 * An accepted file (JPEG or PNG by magic bytes, header readable, not
 * truncated) becomes a blob named by its hash and an images row with its
 * original base name; the same bytes twice are recorded once.  A refused
 * file is never lost: it is kept in DIR/rejected/<name> with
 * DIR/rejected/<name>.reason beside it (the mount shows both under
 * incoming/.rejected/); a name too long for "<name>.reason" is cut, keeping
 * its extension and adding a hash ("<start>~1a2b3c4d.jpg").  The caller
 * reports the rejection (ingest_result.reason, .kept_as): ingest does not
 * log it, so it is told once.
 *
 * The blob is written before the catalog row, so a crash at any point
 * leaves at worst an unreferenced blob, which a re-ingest adopts.
 */
#ifndef DSFS_CORE_INGEST_H
#define DSFS_CORE_INGEST_H

#include <limits.h>
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

/* One file of a batch (ingest_batch). */
struct ingest_item {
	const char *path;          /* the source file, or a spool file in tmp/ when spooled */
	const char *name;          /* base name to record (NULL: the path's base name) */
	int spooled;               /* path is a spool file: consumed (store or rejected/) */
	int have_hash;             /* hash is the spool's name, computed while it was written */
	struct blob_id hash;
	struct ingest_result res;  /* OUT */
	int error;                 /* OUT: negative errno if this file could not be stored */
	char message[256];         /* OUT: what went wrong, when error is set */
};

/*
 * Ingest many files as one group: each is probed and spooled (or already
 * is), then all accepted blobs are made durable and renamed into the store
 * with two syncfs() calls for the group (instead of two fsyncs per file),
 * then recorded in one catalog transaction.  Per-file outcomes go to
 * items[i].res / items[i].error.  Returns a negative errno only when the
 * group as a whole failed (a sync or the catalog transaction); no image of
 * the group is then recorded.  The same as ingest_stage + ingest_commit.
 */
int ingest_batch(struct repo *repo, struct ingest_item *items, size_t n, const char *source);

#define INGEST_STAGE_THREADS 2

/* A group between its two halves: staged, not yet committed. */
struct ingest_group {
	struct repo *repo;
	struct ingest_item *items;
	size_t n;
	char (*paths)[PATH_MAX];     /* the spool of each accepted item */
	struct catalog_image *imgs;  /* the row of each accepted item */
	char *staged;                /* 1 if item i was accepted and spooled */
	char dirs[INGEST_STAGE_THREADS][PATH_MAX]; /* each thread's spool dir ("": tmp/) */
};

/*
 * First half: probe, hash and spool every item (CPU and page-cache work,
 * on two threads); rejections are settled here.  Nothing is durable yet.
 * Fails only for lack of memory; otherwise `g` must go to ingest_commit.
 */
int ingest_stage(struct ingest_group *g, struct repo *repo, struct ingest_item *items, size_t n,
		 const char *source);

/*
 * Second half: sync the spools, rename them into the store, sync again and
 * record the rows (mostly waiting for the disk).  Releases `g`; returns as
 * ingest_batch.  May run on another thread than ingest_stage, and while
 * the next group is being staged (core/ingest_pipe).
 */
int ingest_commit(struct ingest_group *g);

#endif
