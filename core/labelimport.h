/*
 * Annotation import from a COCO 1.0 instances file as CVAT exports it.
 *
 * COCO images are matched by the base name of file_name: within a batch by
 * the batch's names; without one, by original name across the catalog, or
 * by "<image_id>.<ext>".  An ambiguous name is an error listing the
 * candidates.  Categories map to the label set's classes by name; new ones
 * are appended (ids never change meaning).  The import replaces the labels
 * of the matched images in one transaction, so it is safe to re-run;
 * images without boxes become labeled negatives.  Boxes are clipped to the
 * image; degenerate boxes, unknown image names and unknown categories are
 * counted and reported, never silently dropped.
 *
 * Missing information never makes a negative: batch images the file does
 * not list, and images whose every box has an unknown category, keep their
 * labels (or stay unlabeled).  A file that can only be a mistake is an
 * error that changes nothing: malformed; no image matched; two images
 * with one (base) name, or two names for one dataset image; annotations
 * none of which has a category of the file.  A partial match is not an
 * error (an export of some of a batch's jobs is legitimate); the report
 * counts it.
 */
#ifndef DSFS_CORE_LABELIMPORT_H
#define DSFS_CORE_LABELIMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct repo;

struct import_report {
	size_t images_in_file;     /* images listed in the file */
	size_t images_matched;     /* of those, matching a dataset (or batch) image */
	size_t images_labeled;     /* images whose labels were replaced */
	size_t negatives;          /* of those, with no box */
	size_t boxes;              /* boxes stored */
	size_t clipped;            /* boxes cut to the image bounds */
	size_t degenerate;         /* dropped: w or h <= 0 (after clipping) */
	size_t unknown_images;     /* COCO images matching no dataset image */
	size_t unknown_categories; /* boxes whose category_id is not in categories */
	size_t unchanged_unknown_category; /* matched images left as they were: every box unknown category */
	size_t batch_not_in_file;  /* batch images the file does not list, left as they were */
	size_t orphan_boxes;       /* boxes of unknown images or missing image ids */
	size_t classes_added;
	char first_unknown[256];   /* the first unknown image name, for the message */
};

/*
 * Import `len` bytes of COCO JSON into `label_set` (created if missing),
 * restricted to batch `batch_id` if not NULL/"".  `source` is recorded with
 * the boxes (e.g. "coco:file.json" or "cvat:task/42").  -EINVAL with a
 * message for a malformed file, an ambiguous name or a file that can
 * only be a mistake (see above), -ENOENT for an unknown batch; nothing is
 * changed then.
 */
int import_coco(struct import_report *rep, struct repo *repo, const char *json, size_t len,
		const char *label_set, const char *batch_id, const char *source);

/*
 * "key: value" lines describing the report, for ctl files and the command
 * line; a "warning:" line when most of the file's images matched nothing.
 */
int import_report_text(struct buf *out, const struct import_report *rep);

#endif
