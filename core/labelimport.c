/* COCO annotation import (see labelimport.h). */
#include "labelimport.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/batch.h"
#include "core/coco.h"
#include "core/repo.h"
#include "store/catalog.h"
#include "util/array.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/log.h"

/* A matched COCO image: its dataset image, or NULL. */
struct match {
	const struct catalog_image *img;
};

static int is_image_id_name(const char *name, char id[CATALOG_ID_LEN + 1])
{
	const char *dot = strchr(name, '.');

	if (!dot || dot - name != CATALOG_ID_LEN)
		return 0;
	for (int i = 0; i < CATALOG_ID_LEN; i++)
		if (!strchr("0123456789abcdef", name[i]))
			return 0;
	memcpy(id, name, CATALOG_ID_LEN);
	id[CATALOG_ID_LEN] = '\0';
	return 1;
}

/* Match by name across the catalog; a unique hit is copied to *out (1), none -> 0. */
static int match_global(struct catalog_image *out, struct repo *repo, const char *name)
{
	struct catalog_image *hits = NULL;
	char id[CATALOG_ID_LEN + 1];
	size_t n = 0;
	int error;

	if (is_image_id_name(name, id) && catalog_image_get(repo->cat, id, out) == 0)
		return 1;
	if ((error = catalog_images_by_name(repo->cat, name, &hits, &n)) < 0)
		return error;
	if (n == 1)
		*out = hits[0];
	if (n > 1) {
		struct buf list = BUF_INIT;
		for (size_t i = 0; i < n && i < 10; i++)
			buf_printf(&list, "%s%s.%s", i ? ", " : "", hits[i].id, hits[i].ext);
		error = err_set(-EINVAL, "ambiguous image name '%s': %zu images have it (%s%s); import with batch= or name files <image_id>.<ext>",
				name, n, list.ptr, n > 10 ? ", ..." : "");
		buf_release(&list);
		free(hits);
		return error;
	}
	free(hits);
	return n == 1;
}

static int cmp_item_name(const void *key, const void *elem)
{
	return strcmp(key, ((const struct catalog_batch_item *)elem)->name);
}

/* A COCO image's name as matched (the base name) and its position in the file. */
struct named {
	const char *base;
	size_t pos;
};

static int cmp_named(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	int c = strcmp(x->base, y->base);

	return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

/*
 * Two COCO images with the same base name would both match one dataset
 * image and their boxes would be merged: refuse the file, naming the
 * repeat that comes first in the file and the entry it repeats.
 */
static int check_unique_names(const struct coco *coco)
{
	struct named *v = malloc((coco->n_images + 1) * sizeof(*v));
	size_t dup = SIZE_MAX, orig = 0, run = 0;

	if (!v)
		return err_set(-ENOMEM, "out of memory");
	for (size_t i = 0; i < coco->n_images; i++)
		v[i] = (struct named){ fs_basename(coco->images[i].file_name), i };
	qsort(v, coco->n_images, sizeof(*v), cmp_named);
	for (size_t k = 1; k < coco->n_images; k++) {
		if (strcmp(v[k - 1].base, v[k].base)) {
			run = k;
			continue;
		}
		if (v[k].pos < dup) {
			dup = v[k].pos;
			orig = v[run].pos;
		}
	}
	free(v);
	if (dup == SIZE_MAX)
		return 0;
	if (!strcmp(coco->images[dup].file_name, coco->images[orig].file_name))
		return err_set(-EINVAL, "images[%zu].file_name: duplicate file_name '%s' (also images[%zu]); "
			       "each image may appear once", dup, coco->images[dup].file_name, orig);
	return err_set(-EINVAL, "images[%zu].file_name: '%s' has the same name as '%s' (images[%zu]); "
		       "images are matched by the name without its directory, so each may appear once",
		       dup, coco->images[dup].file_name, coco->images[orig].file_name, orig);
}

int import_coco(struct import_report *rep, struct repo *repo, const char *json, size_t len,
		const char *label_set, const char *batch_id, const char *source)
{
	struct coco coco = COCO_INIT;
	struct catalog_batch batch;
	struct catalog_batch_item *items = NULL;
	struct catalog_image *matched = NULL;   /* per COCO image; id[0] == 0 if unmatched */
	size_t *kept = NULL;                    /* per COCO image: boxes kept */
	unsigned char *unknown_cat = NULL;      /* per COCO image: a box had an unknown category */
	int64_t *class_of = NULL;               /* per COCO category index: class id */
	const char **scope = NULL;
	struct catalog_box *boxes = NULL;
	char **classes = NULL, **cat_names = NULL;
	size_t n_items = 0, n_scope = 0, n_boxes = 0, n_classes = 0, n_matched = 0, n_known = 0;
	int use_batch = batch_id && *batch_id;
	int error;

	memset(rep, 0, sizeof(*rep));
	if ((error = coco_parse(&coco, json, len)) < 0)
		return error;
	rep->images_in_file = coco.n_images;
	if (use_batch) {
		if ((error = catalog_batch_get(repo->cat, batch_id, &batch)) < 0 ||
		    (error = catalog_batch_items(repo->cat, batch_id, &items, &n_items)) < 0)
			goto done;
		if (strcmp(batch.label_set, label_set)) {
			error = err_set(-EINVAL, "batch %s belongs to label set '%s', not '%s'", batch_id,
					batch.label_set, label_set);
			goto done;
		}
	}
	if ((error = check_unique_names(&coco)) < 0)
		goto done;
	matched = calloc(coco.n_images + 1, sizeof(*matched));
	kept = calloc(coco.n_images + 1, sizeof(*kept));
	unknown_cat = calloc(coco.n_images + 1, sizeof(*unknown_cat));
	class_of = calloc(coco.n_cats + 1, sizeof(*class_of));
	cat_names = calloc(coco.n_cats + 1, sizeof(*cat_names));
	boxes = calloc(coco.n_anns + 1, sizeof(*boxes));
	scope = calloc(coco.n_images + 1, sizeof(*scope));
	if (!matched || !kept || !unknown_cat || !class_of || !cat_names || !boxes || !scope) {
		error = err_set(-ENOMEM, "out of memory");
		goto done;
	}

	/* 1. Match every COCO image (all checks before any change). */
	for (size_t i = 0; i < coco.n_images; i++) {
		const char *base = fs_basename(coco.images[i].file_name);

		if (use_batch) {
			/* items come sorted by name (strcmp order) from the catalog */
			const struct catalog_batch_item *it =
				bsearch(base, items, n_items, sizeof(*items), cmp_item_name);
			if (it)
				matched[i] = it->img;
		} else if ((error = match_global(&matched[i], repo, base)) < 0) {
			goto done;
		}
		if (matched[i].id[0]) {
			scope[n_matched++] = matched[i].id;
		} else if (!rep->unknown_images++) {
			snprintf(rep->first_unknown, sizeof(rep->first_unknown), "%s", base);
		}
	}
	rep->images_matched = n_matched;
	/*
	 * A file of which no image is in scope is the wrong file (another
	 * batch's export, say): importing it would only turn the batch into
	 * negatives.  A partial match is legitimate (an export of some jobs).
	 */
	if (!n_matched) {
		if (!coco.n_images)
			error = err_set(-EINVAL, "no image to import: the file lists no images");
		else if (use_batch)
			error = err_set(-EINVAL, "no image of the file is in batch %s: none of its %zu file_name values is "
					"a name in the batch (the file's first: '%s'; the batch's first: '%s'); "
					"is this the export of another batch?", batch_id, coco.n_images,
					rep->first_unknown, n_items ? items[0].name : "(empty batch)");
		else
			error = err_set(-EINVAL, "no image of the file is in the dataset: none of its %zu file_name "
					"values is an original name or <image_id>.<ext> (the first: '%s')",
					coco.n_images, rep->first_unknown);
		goto done;
	}
	/* Two file names for one dataset image (its name and <id>.<ext>): their boxes would merge. */
	qsort(scope, n_matched, sizeof(*scope), array_cmp_str);
	for (size_t k = 1; k < n_matched; k++) {
		if (strcmp(scope[k - 1], scope[k]))
			continue;
		error = err_set(-EINVAL, "two images of the file are the same dataset image %s; each may appear once",
				scope[k]);
		goto done;
	}
	/* Annotations none of which has a category of the file: categories missing or wrong. */
	for (size_t a = 0; a < coco.n_anns; a++)
		n_known += coco_category(&coco, coco.anns[a].category_id) != NULL;
	if (coco.n_anns && !n_known) {
		error = err_set(-EINVAL, "none of the %zu annotations has a category of the file "
				"(annotations[0].category_id is %lld; categories has %zu entries)",
				coco.n_anns, (long long)coco.anns[0].category_id, coco.n_cats);
		goto done;
	}

	/* 2. Classes by name: existing ids kept, new names appended in category order. */
	for (size_t c = 0; c < coco.n_cats; c++)
		cat_names[c] = coco.cats[c].name;
	if ((error = catalog_labelset_add_classes(repo->cat, label_set, (const char *const *)cat_names,
						  coco.n_cats, &rep->classes_added)) < 0 ||
	    (error = catalog_labelset_classes(repo->cat, label_set, &classes, &n_classes)) < 0)
		goto done;
	for (size_t c = 0; c < coco.n_cats; c++) {
		class_of[c] = -1;
		for (size_t k = 0; k < n_classes; k++)
			if (!strcmp(classes[k], coco.cats[c].name))
				class_of[c] = (int64_t)k;
	}

	/* 3. Boxes: category known, image matched, clipped, non-degenerate. */
	for (size_t a = 0; a < coco.n_anns; a++) {
		const struct coco_ann *an = &coco.anns[a];
		const struct coco_category *cc = coco_category(&coco, an->category_id);
		const struct coco_image *ci = coco_image(&coco, an->image_id);
		const struct catalog_image *img;
		double x0, y0, x1, y1;

		if (!cc) {
			rep->unknown_categories++;
			if (ci)
				unknown_cat[ci - coco.images] = 1;
			continue;
		}
		if (!ci || !matched[ci - coco.images].id[0]) {
			rep->orphan_boxes++;
			continue;
		}
		img = &matched[ci - coco.images];
		if (an->w <= 0 || an->h <= 0) {
			rep->degenerate++;
			continue;
		}
		x0 = an->x < 0 ? 0 : an->x;
		y0 = an->y < 0 ? 0 : an->y;
		x1 = an->x + an->w > (double)img->width ? (double)img->width : an->x + an->w;
		y1 = an->y + an->h > (double)img->height ? (double)img->height : an->y + an->h;
		if (x1 <= x0 || y1 <= y0) {
			rep->degenerate++;
			continue;
		}
		if (x0 != an->x || y0 != an->y || x1 != an->x + an->w || y1 != an->y + an->h)
			rep->clipped++;
		snprintf(boxes[n_boxes].image_id, sizeof(boxes[n_boxes].image_id), "%s", img->id);
		boxes[n_boxes].class_id = class_of[cc - coco.cats];
		boxes[n_boxes].x_min = x0;
		boxes[n_boxes].y_min = y0;
		boxes[n_boxes].x_max = x1;
		boxes[n_boxes].y_max = y1;
		n_boxes++;
		kept[ci - coco.images]++;
	}

	/*
	 * 4. Scope: the matched images, except those that lost every box to an
	 * unknown category (the file does not say they show nothing).  Batch
	 * images the file does not list are left as they are.
	 */
	for (size_t i = 0; i < coco.n_images; i++) {
		if (!matched[i].id[0])
			continue;
		if (unknown_cat[i] && !kept[i]) {
			rep->unchanged_unknown_category++;
			continue;
		}
		scope[n_scope++] = matched[i].id;
		rep->negatives += !kept[i];
	}
	if (use_batch)
		rep->batch_not_in_file = n_items - n_matched;
	if (n_scope && (error = catalog_labels_replace(repo->cat, label_set, use_batch ? batch_id : "",
						       source, scope, n_scope, boxes, n_boxes)) < 0)
		goto done;
	rep->images_labeled = n_scope;
	rep->boxes = n_boxes;
	if (use_batch && n_scope)
		catalog_batch_set_state(repo->cat, batch_id, "imported", 0);
	if (rep->unknown_images > rep->images_matched)
		LOG_W("import into %s%s%s: only %zu of the file's %zu images matched (first unmatched: %s)",
		      label_set, use_batch ? " batch " : "", use_batch ? batch_id : "", rep->images_matched,
		      rep->images_in_file, rep->first_unknown);
	LOG_I("import into %s%s%s: %zu images, %zu boxes, %zu degenerate, %zu unknown images, %zu unknown categories",
	      label_set, use_batch ? " batch " : "", use_batch ? batch_id : "", rep->images_labeled,
	      rep->boxes, rep->degenerate, rep->unknown_images, rep->unknown_categories);
done:
	catalog_strings_free(classes, n_classes);
	free(cat_names);
	free(matched);
	free(kept);
	free(unknown_cat);
	free(class_of);
	free(boxes);
	free(scope);
	free(items);
	coco_release(&coco);
	return error;
}

int import_report_text(struct buf *out, const struct import_report *rep)
{
	int error = buf_printf(out,
			       "images_in_file: %zu\n"
			       "images_matched: %zu\n"
			       "images_labeled: %zu\n"
			       "negatives: %zu\n"
			       "boxes: %zu\n"
			       "clipped: %zu\n"
			       "degenerate_dropped: %zu\n"
			       "unknown_images: %zu\n"
			       "unknown_categories: %zu\n"
			       "images_unchanged_unknown_category: %zu\n"
			       "batch_images_not_in_file: %zu\n"
			       "boxes_of_unknown_images: %zu\n"
			       "classes_added: %zu\n",
			       rep->images_in_file, rep->images_matched, rep->images_labeled,
			       rep->negatives, rep->boxes, rep->clipped, rep->degenerate,
			       rep->unknown_images, rep->unknown_categories,
			       rep->unchanged_unknown_category, rep->batch_not_in_file,
			       rep->orphan_boxes, rep->classes_added);

	if (!error && rep->unknown_images)
		error = buf_printf(out, "first_unknown_image: %s\n", rep->first_unknown);
	/* Most of the file matching nothing is how a wrong file looks: say so. */
	if (!error && rep->unknown_images > rep->images_matched)
		error = buf_printf(out, "warning: only %zu of the %zu images in the file matched (first "
				   "unmatched: %s); is this the right file?\n", rep->images_matched,
				   rep->images_in_file, rep->first_unknown);
	return error;
}
