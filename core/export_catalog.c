/* Export index from the catalog (see export_catalog.h). */
#include "export_catalog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/export.h"
#include "core/repo.h"
#include "store/catalog.h"
#include "store/config.h"
#include "util/array.h"
#include "util/err.h"

struct collect {
	struct export_image *images;
	size_t n_images, cap_images;
	struct export_ann *anns;
	size_t n_anns, cap_anns;
};

static int add_labeled(const struct catalog_image *img, const struct catalog_box *boxes,
		       size_t n_boxes, void *payload)
{
	struct collect *c = payload;
	struct export_image *e;
	int error;

	if ((error = array_grow((void **)&c->images, &c->cap_images, c->n_images,
				sizeof(*c->images))) < 0 ||
	    (n_boxes && (error = array_grow((void **)&c->anns, &c->cap_anns, c->n_anns + n_boxes - 1,
					    sizeof(*c->anns))) < 0))
		return error;
	e = &c->images[c->n_images++];
	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "%s", img->id);
	snprintf(e->ext, sizeof(e->ext), "%s", img->ext);
	e->bytes = img->bytes;
	e->width = img->width;
	e->height = img->height;
	e->first_ann = (uint32_t)c->n_anns;
	e->n_anns = (uint32_t)n_boxes;
	for (size_t i = 0; i < n_boxes; i++) {
		struct export_ann *a = &c->anns[c->n_anns++];
		a->class_id = (uint32_t)boxes[i].class_id;
		a->x_min = boxes[i].x_min;
		a->y_min = boxes[i].y_min;
		a->x_max = boxes[i].x_max;
		a->y_max = boxes[i].y_max;
	}
	return 0;
}

void export_split_config(const struct repo *repo, const char *label_set, double *split,
			 unsigned long long *seed)
{
	char key[300];
	int64_t s = 42;

	*split = 0.8;
	snprintf(key, sizeof(key), "label_sets.%s.split", label_set);
	if (repo->cfg && (config_get_double(repo->cfg, key, 0.8, split) < 0 || *split <= 0 || *split > 1))
		*split = 0.8;
	snprintf(key, sizeof(key), "label_sets.%s.seed", label_set);
	if (repo->cfg && config_get_int(repo->cfg, key, 42, &s) < 0)
		s = 42;
	*seed = (unsigned long long)s;
}

int export_from_catalog(struct export **out, struct repo *repo, const char *label_set,
			const char *root)
{
	struct export_params p = { .label_set = label_set, .version = "working", .root = root };
	struct collect c = { 0 };
	unsigned long long seed;
	char **classes = NULL;
	size_t n_classes = 0;
	int error;

	*out = NULL;
	export_split_config(repo, label_set, &p.split, &seed);
	p.seed = seed;
	if ((error = catalog_labelset_classes(repo->cat, label_set, &classes, &n_classes)) < 0)
		return error;
	if ((error = catalog_labeled_foreach(repo->cat, label_set, add_labeled, &c)) < 0) {
		free(c.images);
		free(c.anns);
		catalog_strings_free(classes, n_classes);
		return error;
	}
	error = export_build(out, &p, (const char *const *)classes, n_classes, c.images, c.n_images,
			     c.anns, c.n_anns);
	catalog_strings_free(classes, n_classes);
	return error;
}
