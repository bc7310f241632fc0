/* COCO annotation import (see labelimport.h). */
#include "labelimport.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/batch.h"
#include "core/coco.h"
#include "core/repo.h"
#include "store/catalog.h"
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

static int cmp_str_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_box_image(const void *a, const void *b)
{
	return strcmp(((const struct catalog_box *)a)->image_id, ((const struct catalog_box *)b)->image_id);
}

static int cmp_key_box(const void *key, const void *elem)
{
	return strcmp(key, ((const struct catalog_box *)elem)->image_id);
}

int import_coco(struct import_report *rep, struct repo *repo, const char *json, size_t len,
		const char *label_set, const char *batch_id, const char *source)
{
	struct coco coco = COCO_INIT;
	struct catalog_batch batch;
	struct catalog_batch_item *items = NULL;
	struct catalog_image *matched = NULL;   /* per COCO image; id[0] == 0 if unmatched */
	int64_t *class_of = NULL;               /* per COCO category index: class id */
	const char **scope = NULL;
	struct catalog_box *boxes = NULL;
	char **classes = NULL, **cat_names = NULL;
	size_t n_items = 0, n_scope = 0, n_boxes = 0, n_classes = 0;
	int use_batch = batch_id && *batch_id;
	int error;

	memset(rep, 0, sizeof(*rep));
	if ((error = coco_parse(&coco, json, len)) < 0)
		return error;
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
	matched = calloc(coco.n_images + 1, sizeof(*matched));
	class_of = calloc(coco.n_cats + 1, sizeof(*class_of));
	cat_names = calloc(coco.n_cats + 1, sizeof(*cat_names));
	boxes = calloc(coco.n_anns + 1, sizeof(*boxes));
	scope = calloc((use_batch ? n_items : coco.n_images) + 1, sizeof(*scope));
	if (!matched || !class_of || !cat_names || !boxes || !scope) {
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
		if (!matched[i].id[0]) {
			if (!rep->unknown_images++)
				snprintf(rep->first_unknown, sizeof(rep->first_unknown), "%s", base);
		}
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
	}

	/* 4. Scope: the whole batch, or the matched images (each once). */
	if (use_batch) {
		for (size_t j = 0; j < n_items; j++)
			scope[n_scope++] = items[j].img.id;
	} else {
		for (size_t i = 0; i < coco.n_images; i++)
			if (matched[i].id[0])
				scope[n_scope++] = matched[i].id;
		qsort(scope, n_scope, sizeof(*scope), cmp_str_ptr);
		size_t u = 0;
		for (size_t k = 0; k < n_scope; k++)
			if (!u || strcmp(scope[u - 1], scope[k]))
				scope[u++] = scope[k];
		n_scope = u;
	}
	if ((error = catalog_labels_replace(repo->cat, label_set, use_batch ? batch_id : "", source,
					    scope, n_scope, boxes, n_boxes)) < 0)
		goto done;
	rep->images_labeled = n_scope;
	rep->boxes = n_boxes;
	qsort(boxes, n_boxes, sizeof(*boxes), cmp_box_image);
	for (size_t k = 0; k < n_scope; k++)
		rep->negatives += !bsearch(scope[k], boxes, n_boxes, sizeof(*boxes), cmp_key_box);
	if (use_batch)
		catalog_batch_set_state(repo->cat, batch_id, "imported", 0);
	LOG_I("import into %s%s%s: %zu images, %zu boxes, %zu degenerate, %zu unknown images, %zu unknown categories",
	      label_set, use_batch ? " batch " : "", use_batch ? batch_id : "", rep->images_labeled,
	      rep->boxes, rep->degenerate, rep->unknown_images, rep->unknown_categories);
done:
	catalog_strings_free(classes, n_classes);
	free(cat_names);
	free(matched);
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
			       "images_labeled: %zu\n"
			       "negatives: %zu\n"
			       "boxes: %zu\n"
			       "clipped: %zu\n"
			       "degenerate_dropped: %zu\n"
			       "unknown_images: %zu\n"
			       "unknown_categories: %zu\n"
			       "boxes_of_unknown_images: %zu\n"
			       "classes_added: %zu\n",
			       rep->images_labeled, rep->negatives, rep->boxes, rep->clipped,
			       rep->degenerate, rep->unknown_images, rep->unknown_categories,
			       rep->orphan_boxes, rep->classes_added);

	if (!error && rep->unknown_images)
		error = buf_printf(out, "first_unknown_image: %s\n", rep->first_unknown);
	return error;
}
