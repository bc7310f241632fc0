/*
 * COCO 1.0 instances files, as CVAT exports them (shared/api/CVAT.md sec. 7):
 * categories with 1-based ids matched by name, images with file_name, width,
 * height, and annotations with bbox [x, y, w, h] in pixels (JSON floats).
 *
 * coco_parse() validates the structure strictly and reports the first
 * problem with its JSON path ("annotations[3].bbox: expected 4 numbers");
 * it does not judge the content (degenerate boxes, unknown category ids,
 * annotations pointing at missing images are kept as they are, so the
 * importer can count and report them).  Unknown keys are tolerated.
 */
#ifndef DSFS_CORE_COCO_H
#define DSFS_CORE_COCO_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct coco_category {
	int64_t id;
	char *name;
};

struct coco_image {
	int64_t id;
	char *file_name;
	int64_t width, height;
};

struct coco_ann {
	int64_t id;
	int64_t image_id;
	int64_t category_id;
	double x, y, w, h; /* bbox, pixels, top-left corner */
};

struct coco {
	struct coco_category *cats;
	size_t n_cats;
	struct coco_image *images;
	size_t n_images;
	struct coco_ann *anns;
	size_t n_anns;
	/*
	 * Private to coco.c: array capacities and the sorted id index behind
	 * coco_category()/coco_image().  Change the arrays only through
	 * coco_add_*(); a struct filled by hand (priv == NULL) still works,
	 * with linear lookups.
	 */
	struct coco_priv *priv;
};

#define COCO_INIT { NULL, 0, NULL, 0, NULL, 0, NULL }

/*
 * Parse `len` bytes of JSON into `out` (overwritten, not released first;
 * caller releases).  On error `out` is left empty.  -EINVAL with a message:
 * "invalid JSON at line L, column C: <jansson's reason>" for bad syntax, the
 * JSON path for bad structure, "images[3].id: duplicate id 7 (also
 * images[1])" for repeated image or category ids (annotation ids are not
 * checked).  -ENOMEM.  A 100k-annotation file takes ~0.25 s.
 */
int coco_parse(struct coco *out, const char *json, size_t len);
/* Read and parse a file; the message is prefixed with the path. */
int coco_load_file(struct coco *out, const char *path);
void coco_release(struct coco *c);

/*
 * Semi-private, for tests: coco_parse() with its JSON reader chosen.
 * COCO__AUTO is coco_parse(); COCO__JANSSON always parses with jansson;
 * COCO__FAST only with the fast reader (-EAGAIN where it would defer to
 * jansson: any syntax error and a few rare constructs).
 */
enum { COCO__AUTO, COCO__JANSSON, COCO__FAST };
int coco__parse_mode(struct coco *out, const char *json, size_t len, int mode);

/*
 * Append to a coco under construction (used by exporters and the generator).
 * Strings are copied.  -EEXIST for an id already present (category, image),
 * -EINVAL for a NULL/empty or non-UTF-8 string, -ENOMEM.  Adding ids in
 * ascending order is O(1) each; out of order costs a sorted insert.
 */
int coco_add_category(struct coco *c, int64_t id, const char *name);
int coco_add_image(struct coco *c, int64_t id, const char *file_name, int64_t w, int64_t h);
int coco_add_ann(struct coco *c, int64_t image_id, int64_t category_id, double x, double y,
		 double w, double h); /* id = n_anns + 1 */

/*
 * Serialize in CVAT's layout and key order (licenses, info, categories,
 * images, annotations; each annotation with segmentation [], area w*h,
 * iscrowd 0, attributes {occluded: false, rotation: 0.0}).  Numbers are
 * written exactly enough to round-trip a double (the shortest of %.15g,
 * %.16g, %.17g that reads back to the same value, always with a decimal
 * point, so 10 prints as 10.0), so coco_parse(coco_write(c)) == c.
 * Appends to `out`; -EINVAL (message) for a non-finite bbox value or an
 * area w*h that overflows.
 */
int coco_write(struct buf *out, const struct coco *c);

/*
 * Lookups by id: O(log n) through the index kept by coco_parse() and
 * coco_add_*(), linear for a hand-filled struct.  NULL if absent.  Borrowed
 * until the next coco_add_*() or coco_release().
 */
const struct coco_category *coco_category(const struct coco *c, int64_t id);
const struct coco_image *coco_image(const struct coco *c, int64_t id);

#endif
