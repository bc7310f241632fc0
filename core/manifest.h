/*
 * Manifests: the dataset's working state as plain text, the content of a
 * version's git tree.  Line-oriented, tab-separated, sorted and stable, so
 * that `git diff v1 v2` reads as a dataset diff and the same state always
 * gives the same bytes (and so the same tree: "nothing to commit").
 *
 *   summary.tsv                          format, counts (read by log/VERSION)
 *   images.tsv                           id ext bytes width height name source ingested_at, by id
 *   exclusions.tsv                       image_id label_set reason ("" label_set = all), by id
 *   label_sets/<ls>/classes.txt          one class name per line, in class-id order
 *   label_sets/<ls>/config.yaml          split and seed at commit time (a version's split is frozen)
 *   label_sets/<ls>/labels.tsv           image_id batch_id source: labeled images (maybe 0 boxes), by id
 *   label_sets/<ls>/annotations.tsv      image_id class_id x_min y_min x_max y_max (pixels), by
 *                                        image id, then in the order they were recorded
 *
 * Lines starting with '#' are comments (each .tsv opens with one naming the
 * columns).  Text fields escape '\\', tab and newline as \\\\, \\t, \\n.
 * Coordinates use the shortest decimal that reads back as the same double.
 *
 * Parsing is strict: a malformed line, an unsorted or duplicate id, or a
 * reference to an image that images.tsv lacks is -EIO with a message
 * naming the file and line.  Parsed structures are immutable afterwards.
 */
#ifndef DSFS_CORE_MANIFEST_H
#define DSFS_CORE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "core/export.h"
#include "util/buf.h"

struct repo;

#define MANIFEST_FORMAT 1

/* ---- writing ---- */

struct manifest_file {
	char path[300];
	struct buf data;
};

struct manifest_set {
	struct manifest_file *files;
	size_t n;
	int64_t n_images;
	int64_t n_labeled;       /* labeled images summed over label sets */
};

/* Write the working state of `repo` (one consistent catalog snapshot) into `out`. */
int manifest_build(struct manifest_set *out, struct repo *repo);
void manifest_set_release(struct manifest_set *m);

/* Shortest "%.Ng" (N = 15..17) that strtod() reads back as `v`; out >= 32 bytes. */
void manifest_fmt_double(char *out, double v);

/* ---- reading ---- */

struct manifest_image {
	char id[33];
	char ext[8];
	int64_t bytes, width, height;
	const char *name;         /* point into the parsed text (unescaped in place) */
	const char *source;
	const char *ingested_at;
};

struct manifest_images {
	struct manifest_image *v; /* sorted by id */
	size_t n;
	char *text;               /* owned: the file, fields NUL-terminated in place */
};

/* Parse images.tsv; takes `text` (malloc'ed, NUL-terminated, len bytes; freed also on failure).  `path` names it in errors. */
int manifest_images_parse(struct manifest_images *out, char *text, size_t len, const char *path);
void manifest_images_release(struct manifest_images *m);
/* Binary search; NULL if absent. */
const struct manifest_image *manifest_image_find(const struct manifest_images *m, const char *id);

struct manifest_exclusion {
	char id[33];
	const char *label_set;    /* "" = every label set; points into text */
	const char *reason;
};

struct manifest_exclusions {
	struct manifest_exclusion *v; /* sorted by (id, label_set) */
	size_t n;
	char *text;
};

int manifest_exclusions_parse(struct manifest_exclusions *out, char *text, size_t len,
			      const char *path);
void manifest_exclusions_release(struct manifest_exclusions *m);
/* 1 if image `id` is excluded from `label_set` (directly or for all sets). */
int manifest_excluded(const struct manifest_exclusions *m, const char *id, const char *label_set);

/*
 * One label set of a version.  Boxes are export_ann records (core/export.h)
 * so an export takes the array as it is; only boxes of labeled images are
 * kept (the working export ignores the others too).
 */
struct manifest_label_set {
	char **classes;           /* owned strings */
	size_t n_classes;
	double split;
	uint64_t seed;
	char (*labeled)[33];      /* sorted image ids */
	const char **batch_id;    /* per labeled image: its batch ("" if none) and */
	const char **source;      /*   where its labels came from; point into labels_text */
	char *labels_text;        /* owned: labels.tsv, fields NUL-terminated in place */
	uint32_t *first_box;      /* per labeled image: its boxes are */
	uint32_t *n_box;          /*   boxes[first_box[i] .. + n_box[i]) */
	size_t n_labeled;
	struct export_ann *boxes; /* by image id, recorded order within one */
	size_t n_boxes;
};

/*
 * Parse the files of one label set (each malloc'ed and NUL-terminated; all
 * four are consumed, any may be NULL = absent = empty / defaults).
 * `dir` ("label_sets/<ls>") names them in errors.
 */
int manifest_label_set_parse(struct manifest_label_set *out, const char *dir,
			     char *classes, size_t classes_len, char *config, size_t config_len,
			     char *labels, size_t labels_len, char *anns, size_t anns_len);
void manifest_label_set_release(struct manifest_label_set *ls);

/* summary.tsv: counts. */
struct manifest_summary {
	int format;
	int64_t n_images;
	int64_t n_labeled;
	int64_t n_exclusions;
};
int manifest_summary_parse(struct manifest_summary *out, const char *text, size_t len,
			   const char *path);

#endif
