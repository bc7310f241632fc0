/*
 * A YOLO/COCO export of one label set, as an in-memory index from which
 * every file of exports/<label_set>/ is generated on demand:
 *
 *   dataset.yaml                  path (absolute, inside the mount), train/val, nc, names
 *   export_info.yaml              label set, split, seed, version, counts per split and class
 *   images/{train,val}/<id>.<ext> blob bytes (the caller serves them)
 *   labels/{train,val}/<id>.txt   "class cx cy w h" normalized, 6 decimals; empty = negative
 *   coco/instances_{train,val}.json  COCO 1.0 in CVAT's layout
 *
 * The index holds one small record per image and per box, never file
 * contents, so a 100k-image export costs a few MB.  The split of an image
 * is a pure function of (seed, image_id): adding images never moves one.
 *
 * Thread safety: an index is immutable after export_build(); any number of
 * threads may read it.
 */
#ifndef DSFS_CORE_EXPORT_H
#define DSFS_CORE_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

enum export_split {
	EXPORT_TRAIN = 0,
	EXPORT_VAL = 1,
};

/* One labeled, non-excluded image. */
struct export_image {
	char id[33];          /* blob hash, 32 hex */
	char ext[8];          /* "jpg" | "png" */
	int64_t bytes;
	int64_t width, height;
	uint32_t first_ann;   /* index of its first box in the ann array */
	uint32_t n_anns;      /* 0: a labeled negative (empty label file) */
	uint8_t split;        /* enum export_split; set by export_build() */
};

/* One box, in pixels (corners), already clipped to the image. */
struct export_ann {
	uint32_t class_id;    /* 0-based index into the class list */
	double x_min, y_min, x_max, y_max;
};

/* Defaults the config layer applies (export_build() maps split 0 to 0.8). */
#define EXPORT_SPLIT_DEFAULT 0.8
#define EXPORT_SEED_DEFAULT 42

struct export_params {
	const char *label_set;
	double split;         /* fraction of images in train, (0, 1]; default 0.8 */
	uint64_t seed;        /* default 42 */
	const char *version;  /* "working", or the version tag ("v3") */
	const char *root;     /* absolute path of this export dir inside the mount */
};

struct export;

/*
 * Build an index.  Takes ownership of `images` and `anns` (malloc'ed
 * arrays; freed by export_free, also on failure), copies `classes`.  Images
 * may come in any order, each image's boxes contiguous at
 * anns[first_ann .. first_ann + n_anns).  -EINVAL for a box whose class_id
 * is >= n_classes or an ann range out of bounds.
 *
 * Also -EINVAL (with a message) for: an id that is not 32 lowercase hex
 * digits, an ext that is not 1-7 of [a-z0-9], width or height <= 0, a
 * non-finite box coordinate, an id listed twice, a NULL/empty/non-UTF-8
 * class name, a missing label_set, a root not starting with '/', params
 * strings that are not UTF-8, a split outside (0, 1] (0 means
 * EXPORT_SPLIT_DEFAULT).  version NULL means "working".  The params strings
 * are copied.  -ENOMEM.
 */
int export_build(struct export **out, const struct export_params *params,
		 const char *const *classes, size_t n_classes,
		 struct export_image *images, size_t n_images,
		 struct export_ann *anns, size_t n_anns);
void export_free(struct export *ex);

/* The split of an image: XXH64 of the id with the seed, scaled to [0,1), < split -> train. */
enum export_split export_split_of(const char *image_id, uint64_t seed, double split);
/* "train" / "val". */
const char *export_split_name(enum export_split split);
/* Parse "train"/"val": 0 or -ENOENT. */
int export_split_parse(enum export_split *out, const char *name);

size_t export_count(const struct export *ex, enum export_split split);
/* The i-th image of a split, in image id order (borrowed). */
const struct export_image *export_image_at(const struct export *ex, enum export_split split, size_t i);
/* The image with this id in this split, or NULL (binary search; borrowed). */
const struct export_image *export_find(const struct export *ex, enum export_split split,
				       const char *image_id);
size_t export_n_classes(const struct export *ex);
const char *export_class_name(const struct export *ex, size_t class_id);
const struct export_params *export_params(const struct export *ex);

/*
 * File generators; each appends to `out`.  Output is a pure function of the
 * index (byte-identical for equal inputs, whatever order the images were
 * given in).  Errors: -ENOMEM; export_coco_json() also -EINVAL if a box's
 * area overflows to infinity (coordinates beyond ~1e154).
 */
int export_label_text(struct buf *out, const struct export *ex, const struct export_image *img);
int export_dataset_yaml(struct buf *out, const struct export *ex);
int export_info_yaml(struct buf *out, const struct export *ex);
int export_coco_json(struct buf *out, const struct export *ex, enum export_split split);

#endif
