/*
 * The catalog: the dataset's working state in SQLite (DIR/catalog.db).
 *
 * WAL mode, so the daemon's readers never block a command-line writer; the
 * schema is created and migrated forward through PRAGMA user_version.  Every
 * public function is one unit of work: multi-row changes run in one
 * transaction inside the call, so callers never hold a transaction open.
 * One connection per struct catalog, used under its mutex; prepared
 * statements are cached on it and reused.
 *
 * Only this module (catalog*.c) includes sqlite3.h.
 */
#ifndef DSFS_STORE_CATALOG_H
#define DSFS_STORE_CATALOG_H

#include <stddef.h>
#include <stdint.h>

struct catalog;

#define CATALOG_ID_LEN 32
#define CATALOG_NAME_MAX 256

/* One image row.  Strings are NUL-terminated in place. */
struct catalog_image {
	char id[CATALOG_ID_LEN + 1];   /* blob hash, 32 hex */
	char ext[8];                   /* "jpg" | "png" */
	int64_t bytes;
	int64_t width, height;
	char source[CATALOG_NAME_MAX]; /* source_id given at ingest ("" if none) */
	char ingested_at[24];          /* UTC ISO 8601 */
	char name[CATALOG_NAME_MAX];   /* original base name */
};

/* Open (creating and migrating) the catalog at `path`.  -EIO with a message on failure. */
int catalog_open(struct catalog **out, const char *path);
void catalog_free(struct catalog *cat);

/* The schema version this build writes (PRAGMA user_version). */
int catalog_schema_version(void);

/*
 * A number that changes whenever the catalog changed, by this process or
 * any other (PRAGMA data_version + a local write counter).  Caches keyed by
 * it are fresh while it is unchanged.
 */
uint64_t catalog_generation(struct catalog *cat);
/* Whether this connection committed a change since it was opened. */
int catalog_wrote(struct catalog *cat);

/* Add an image.  Returns 0 if added, 1 if the id was already recorded (row unchanged). */
int catalog_image_add(struct catalog *cat, const struct catalog_image *img);
/*
 * Add many images in one transaction; added[i] (may be NULL) gets 1 if
 * image i was new, 0 if its id was already recorded.
 */
int catalog_images_add_many(struct catalog *cat, const struct catalog_image *imgs, size_t n,
			    int *added);
/* -ENOENT if absent. */
int catalog_image_get(struct catalog *cat, const char *id, struct catalog_image *out);
int catalog_image_count(struct catalog *cat, int64_t *out);

typedef int (*catalog_image_fn)(const struct catalog_image *img, void *payload);
/*
 * Call `fn` for every image whose id starts with `prefix` ("" = all), in id
 * order; a nonzero return stops the walk and is returned.  The catalog lock
 * is held during the walk: `fn` must not call back into the catalog.
 */
int catalog_images_foreach(struct catalog *cat, const char *prefix, catalog_image_fn fn,
			   void *payload);

/* ---- label sets (catalog_labels.c) ---- */

/* Create the label set if missing.  -EINVAL for a bad name. */
int catalog_labelset_ensure(struct catalog *cat, const char *name);
/* 1 if it exists, 0 if not. */
int catalog_labelset_exists(struct catalog *cat, const char *name);
/*
 * The ordered class list: *out is a malloc'ed array of malloc'ed names
 * (free with catalog_strings_free), in class-id order.  -ENOENT if the set
 * does not exist.
 */
int catalog_labelset_classes(struct catalog *cat, const char *name, char ***out, size_t *n);
/*
 * Append the classes of `names` not already in the set, keeping existing
 * ids (class ids never change meaning).  *added (may be NULL) gets how many
 * were new.  Creates the set if missing.
 */
int catalog_labelset_add_classes(struct catalog *cat, const char *name, const char *const *names,
				 size_t n, size_t *added);
/* All label set names, sorted.  Free with catalog_strings_free. */
int catalog_labelsets(struct catalog *cat, char ***out, size_t *n);
void catalog_strings_free(char **v, size_t n);

/* ---- exclusions ---- */

/*
 * Exclude images (from every label set when label_set is "" or NULL).
 * All ids must exist (-ENOENT naming the first unknown one); one transaction.
 */
int catalog_exclude(struct catalog *cat, const char *const *ids, size_t n, const char *label_set,
		    const char *reason);
/* Undo; *removed gets the number of exclusions dropped. */
int catalog_include(struct catalog *cat, const char *const *ids, size_t n, const char *label_set,
		    size_t *removed);

/* ---- batches ---- */

enum catalog_order {
	CATALOG_ORDER_NEWEST,
	CATALOG_ORDER_OLDEST,
	CATALOG_ORDER_RANDOM,
};

struct catalog_batch {
	char id[64];
	char label_set[CATALOG_NAME_MAX];
	char created_at[24];
	char state[32];
	int64_t cvat_task_id;  /* 0 if none */
	int64_t n_items;
};

struct catalog_batch_item {
	char name[CATALOG_NAME_MAX];  /* unique within the batch */
	struct catalog_image img;
};

/*
 * Up to `limit` candidates for a new batch of `label_set`: images not
 * labeled in it, not excluded (for it or for all), and not in another batch
 * of it, in the given order (random: shuffled by `seed`).  *out is
 * malloc'ed; the caller frees it.
 */
int catalog_batch_candidates(struct catalog *cat, const char *label_set, enum catalog_order order,
			     uint64_t seed, size_t limit, struct catalog_image **out, size_t *n);
/*
 * Record a batch and its items in one transaction.  -EEXIST if the id is
 * taken (the caller picks another).
 */
int catalog_batch_add(struct catalog *cat, const struct catalog_batch *b,
		      const struct catalog_batch_item *items, size_t n);
int catalog_batch_get(struct catalog *cat, const char *id, struct catalog_batch *out);
/* The newest batch (by created_at, then id).  -ENOENT if there is none. */
int catalog_batch_latest(struct catalog *cat, struct catalog_batch *out);
/* All batches, oldest first; *out malloc'ed. */
int catalog_batches(struct catalog *cat, struct catalog_batch **out, size_t *n);
/* The items in name order; *out malloc'ed. */
int catalog_batch_items(struct catalog *cat, const char *id, struct catalog_batch_item **out,
			size_t *n);
int catalog_batch_set_state(struct catalog *cat, const char *id, const char *state,
			    int64_t cvat_task_id);
/*
 * Remove a batch that was never used, with its items, in one transaction:
 * only an "open" batch with no CVAT task and no labels imported from it
 * (-EBUSY naming what it has otherwise; -ENOENT if there is no such batch).
 * For a caller that made the batch and failed before using it.
 */
int catalog_batch_remove_unused(struct catalog *cat, const char *id);

/* ---- annotations ---- */

struct catalog_box {
	char image_id[CATALOG_ID_LEN + 1];
	int64_t class_id;
	double x_min, y_min, x_max, y_max;  /* pixels, clipped */
};

/*
 * Replace the labels of `image_ids` in `label_set` in one transaction: each
 * listed image becomes labeled (from `batch_id`, "" if none; `source`
 * says where the labels came from), its old boxes are deleted and `boxes`
 * (whose image_id must be among image_ids) inserted.  An image with no box
 * becomes a labeled negative.  Classes must already exist in the set.
 */
int catalog_labels_replace(struct catalog *cat, const char *label_set, const char *batch_id,
			   const char *source, const char *const *image_ids, size_t n_images,
			   const struct catalog_box *boxes, size_t n_boxes);

/* Images whose original name is `name`; *out malloc'ed. */
int catalog_images_by_name(struct catalog *cat, const char *name, struct catalog_image **out,
			   size_t *n);

/*
 * The export view of a label set: every labeled, non-excluded image in id
 * order with its boxes.  `fn` is called once per image with its boxes
 * (n_boxes may be 0); the catalog lock is held during the walk.
 */
typedef int (*catalog_labeled_fn)(const struct catalog_image *img, const struct catalog_box *boxes,
				  size_t n_boxes, void *payload);
int catalog_labeled_foreach(struct catalog *cat, const char *label_set, catalog_labeled_fn fn,
			    void *payload);
/* Counts for README and log: labeled images in the set. */
int catalog_labeled_count(struct catalog *cat, const char *label_set, int64_t *out);

/* ---- snapshots and versions (catalog_versions.c) ---- */

/*
 * Everything a version records, read in one read transaction, so the rows
 * are one consistent state even while another process writes.  Each
 * callback may be NULL; a nonzero return stops the dump and is returned.
 * The catalog lock is held throughout: callbacks must not call the catalog.
 * Order: images by id; label sets by name, each with its classes in id
 * order; labels by (label set, image id); boxes by (label set, image id,
 * insertion order); exclusions by (image id, label set).
 */
struct catalog_dump_ops {
	int (*image)(const struct catalog_image *img, void *payload);
	int (*label_set)(const char *name, const char *const *classes, size_t n_classes,
			 void *payload);
	int (*label)(const char *label_set, const char *image_id, const char *batch_id,
		     const char *source, void *payload);
	int (*box)(const char *label_set, const struct catalog_box *box, void *payload);
	int (*exclusion)(const char *image_id, const char *label_set /* "" = all */,
			 const char *reason, void *payload);
};
int catalog_dump(struct catalog *cat, const struct catalog_dump_ops *ops, void *payload);

/*
 * A complete working state, the inverse of catalog_dump(): what
 * catalog_replace() loads.  Every string is borrowed from the caller.
 * Field-usage:
 *   images        every image row (id, ext, bytes, width, height, source,
 *                 ingested_at, name as catalog_image has them)
 *   label_sets    every label set with its classes in class-id order
 *                 (class i gets id i)
 *   labels        (label set, image) labeled, with batch id and source
 *   boxes         annotations in recorded order (order of `boxes` within
 *                 one (label set, image) is kept); source_task may be ""
 *   exclusions    (image, label set or "" for all, reason)
 */
struct catalog_state_image {
	const char *id, *ext, *name, *source, *ingested_at;
	int64_t bytes, width, height;
};
struct catalog_state_label_set {
	const char *name;
	const char *const *classes;
	size_t n_classes;
};
struct catalog_state_label {
	const char *label_set, *image_id, *batch_id, *source;
};
struct catalog_state_box {
	const char *label_set, *image_id, *source_task;
	int64_t class_id;
	double x_min, y_min, x_max, y_max;
};
struct catalog_state_exclusion {
	const char *image_id, *label_set, *reason;
};
struct catalog_state {
	const struct catalog_state_image *images;
	size_t n_images;
	const struct catalog_state_label_set *label_sets;
	size_t n_label_sets;
	const struct catalog_state_label *labels;
	size_t n_labels;
	const struct catalog_state_box *boxes;
	size_t n_boxes;
	const struct catalog_state_exclusion *exclusions;
	size_t n_exclusions;
};

/*
 * Replace the working state (images, label sets, classes, labels,
 * annotations, exclusions) by `st` in one transaction: on any error
 * nothing changed.  Batches, jobs and the versions table are not part of
 * a version and are kept (a batch item naming an image that is gone is
 * simply not listed).  Timestamps the state lacks (labeled_at, created_at
 * of label sets and exclusions) are set to now.  -EEXIST for a duplicate
 * row (message names the table), -EINVAL for a bad label set name.
 */
int catalog_replace(struct catalog *cat, const struct catalog_state *st);

/* A row of the versions table: what the catalog knows of version vN. */
struct catalog_version {
	int64_t number;
	char tag[64];
	char commit_id[41];
	char created_at[24];
	char message[512];
	int64_t n_images;
	int64_t n_labeled;
};

/* Record (or replace) version row `v->number`. */
int catalog_version_put(struct catalog *cat, const struct catalog_version *v);
/* All version rows ascending by number; *out malloc'ed (free()). */
int catalog_versions(struct catalog *cat, struct catalog_version **out, size_t *n);
/* Delete the rows whose number is not among `keep` (sorted ascending). */
int catalog_versions_prune(struct catalog *cat, const int64_t *keep, size_t n_keep);
/* ---- jobs (catalog_jobs.c) ---- */

/*
 * One row of the jobs table: a long-running pipeline (core/jobs) recorded
 * so that a restarted daemon can resume it.  `args` and `result` are
 * key=value lines owned by the job's kind; the catalog stores them as text.
 * Strings are NUL-terminated in place; longer values are refused (-E2BIG).
 */
#define CATALOG_JOB_TEXT 2048
struct catalog_job {
	int64_t id;
	char kind[32];
	char args[CATALOG_JOB_TEXT];
	char state[32];
	char progress[128];
	char error[1024];
	char result[CATALOG_JOB_TEXT];
	char created_at[24];   /* UTC ISO 8601 */
	char updated_at[24];
};

/*
 * Record a new job from job->kind, args, state, progress, result; *id_out
 * gets its id (also written to job->id), and the timestamps are set.
 */
int catalog_job_add(struct catalog *cat, struct catalog_job *job, int64_t *id_out);
/* -ENOENT ("no job N") if absent. */
int catalog_job_get(struct catalog *cat, int64_t id, struct catalog_job *out);
/*
 * Write state, progress, error and result of job->id (and updated_at).
 * With `expect_result` not NULL the write happens only if the stored result
 * still equals it (-EAGAIN otherwise): a compare-and-swap that lets two
 * processes race to claim a job.  Unlike other catalog writes this does not
 * advance catalog_generation() for this process: progress updates must not
 * make the mount drop its export caches.
 */
int catalog_job_update(struct catalog *cat, const struct catalog_job *job, const char *expect_result);
/*
 * Ids of jobs, ascending, whose state is not in the NULL-terminated `skip`
 * list (NULL = all jobs).  *ids is malloc'ed; the caller frees it.
 */
int catalog_job_ids(struct catalog *cat, const char *const *skip, int64_t **ids, size_t *n);

#endif
