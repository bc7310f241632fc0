/*
 * Dataset versions: the working state written as plain-text manifests into
 * a git commit (store/history), tagged v1, v2, ...; read back to serve
 * @vN/ in the mount, diffs and materialized exports.
 */
#ifndef DSFS_CORE_VERSION_H
#define DSFS_CORE_VERSION_H

#include <stddef.h>
#include <stdint.h>

struct repo;

struct version_info {
	unsigned number;         /* N of vN */
	char tag[64];            /* "v3" */
	char commit[41];         /* hex */
	char created_at[24];     /* UTC ISO 8601 */
	char message[512];
	int64_t n_images;
	int64_t n_labeled;       /* labeled images over all label sets */
};

enum version_commit_flags {
	/* Commit even a working state with no image while HEAD has images. */
	VERSION_COMMIT_FORCE = (1 << 0),
};

/*
 * Commit the complete working state with `message` (author from dsfs.yaml
 * author.name/author.email) and tag it v<N+1>; record it in the catalog.
 * -EEXIST ("nothing to commit: same as vN") when nothing changed.
 * -EPERM (message says why and what to run) when the working state has no
 * image but HEAD has some, unless VERSION_COMMIT_FORCE: an empty catalog is
 * far more often a clone or an accident than an intent, and such a commit
 * would read as "every image removed" to everyone who pulls it.
 */
int version_commit(struct version_info *out, struct repo *repo, const char *message,
		   enum version_commit_flags flags);

/*
 * Everything below reads versions back.  A spec is what history_resolve()
 * takes: "v3", "3", a tag, "HEAD", or a commit hex prefix (>= 4 digits).
 * Errors: -ENOENT (no such version; message names the spec), -EIO (a
 * corrupt object or manifest; message names the file and line).
 */
struct version;            /* a version's parsed manifests; immutable, thread-safe to read */
struct export;
struct manifest_image;
struct blob_id;
struct remote;
struct buf;

/* Resolve `spec` and fill `out` (counts from the version's summary.tsv). */
int version_resolve(struct version_info *out, struct repo *repo, const char *spec);

/*
 * Open a version: its images.tsv and exclusions.tsv are read from git and
 * parsed (label sets are read by version_export()).  Never touches blobs.
 * Caller frees with version_free().
 */
int version_open(struct version **out, struct repo *repo, const char *spec);
void version_free(struct version *v);
const struct version_info *version_get_info(const struct version *v);
/* Images, sorted by id (borrowed from v). */
size_t version_image_count(const struct version *v);
const struct manifest_image *version_image_at(const struct version *v, size_t i);
const struct manifest_image *version_image_find(const struct version *v, const char *id);
/* [*first, *first + *count) are the images whose id starts with `prefix`. */
void version_image_range(const struct version *v, const char *prefix, size_t *first, size_t *count);
/* Label set names of the version, sorted (borrowed). */
size_t version_label_set_count(const struct version *v);
const char *version_label_set_name(const struct version *v, size_t i);
/*
 * The export index of `label_set` as of this version (its frozen split and
 * seed; `root` is the export's path for dataset.yaml).  -ENOENT if the
 * version has no such label set.
 */
int version_export(struct export **out, struct version *v, const char *label_set,
		   const char *root);

/*
 * Read and parse label_sets/<label_set>/ of the version into `out` (every
 * labeled image with its batch and source, the boxes of labeled images,
 * classes, frozen split).  Release with manifest_label_set_release().
 * -ENOENT if the version has no such label set, -EIO if corrupt.
 */
struct manifest_label_set;
int version_label_set(struct manifest_label_set *out, struct version *v, const char *label_set);
/* The version's exclusions (borrowed from v). */
struct manifest_exclusions;
const struct manifest_exclusions *version_exclusions(const struct version *v);

/* The VERSION file: id, commit, date, author, message, counts. */
int version_describe(struct buf *out, struct repo *repo, const char *spec);
/* `dsfs log`: one line per version, newest first. */
int version_log(struct buf *out, struct repo *repo);
/* `dsfs diff A B`: images added/removed, per label set classes/labels/annotations changed. */
int version_diff(struct buf *out, struct repo *repo, const char *spec_a, const char *spec_b);

/*
 * Bring the catalog's versions table in line with the tags (the truth):
 * add rows for tags it lacks (a crash between tag and row, a pull, a
 * clone), drop rows whose tag is gone.
 */
int version_reconcile(struct repo *repo);

/* Every blob any version names, sorted and unique; *out malloc'ed (free()). */
int version_blob_ids(struct blob_id **out, size_t *n, struct repo *repo);

struct version_materialize_stats {
	size_t images_linked;   /* hard links to the blob store (hard_links, same file system) */
	size_t images_copied;   /* copies (reflinks where the file system can) */
	size_t labels;          /* label files written */
};

/*
 * Write the YOLO/COCO export of `label_set` as of version `spec` (NULL:
 * the working tree) to a new directory `outdir` (must not exist, or be
 * empty): dataset.yaml (path: outdir), export_info.yaml, images/ (copies,
 * reflinked where the file system can; with `hard_links`, hard links to the
 * blobs when on the same file system), labels/, coco/.  Built in a temporary sibling and renamed into place, so outdir
 * appears complete or not at all.  Missing blobs are fetched through the
 * store's fetch hook if one is set.
 */
int version_materialize(struct version_materialize_stats *stats, struct repo *repo,
			const char *spec, const char *label_set, const char *outdir, int hard_links);

/*
 * If the dataset has a remote "origin", open it and make it the blob
 * store's fetch hook (a clone reads blobs it lacks from there).  *out is
 * NULL when there is no origin; otherwise release it with
 * version_origin_release() once no reader can open blobs any more.
 */
int version_origin_attach(struct remote **out, struct repo *repo);
void version_origin_release(struct remote *r, struct repo *repo);

#endif
