/*
 * exports/<label_set>/: a YOLO and COCO export synthesized from an export
 * index (core/export.h, cached in views.c).  The same node kinds serve the
 * working tree and versions (@v3/exports/...): a node's priv names its
 * version ("" = working), label set, kind and split.
 *
 *   dataset.yaml  export_info.yaml
 *   images/{train,val}/<id>.<ext>     blob files
 *   labels/{train,val}/<id>.txt       generated
 *   coco/instances_{train,val}.json   generated (cached per index)
 */
#include "fs_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/export.h"
#include "core/repo.h"
#include "store/catalog.h"
#include "util/err.h"

enum ex_kind {
	EX_LIST,        /* exports/: one entry per label set */
	EX_ROOT,        /* exports/<ls>/ */
	EX_IMAGES,      /* images/ */
	EX_LABELS,      /* labels/ */
	EX_COCO,        /* coco/ */
	EX_IMAGES_SPLIT,
	EX_LABELS_SPLIT,
	EX_F_DATASET,
	EX_F_INFO,
	EX_F_LABEL,
	EX_F_COCO,
};

struct exn {
	char version[64];
	char ls[128];
	enum ex_kind kind;
	int split;
	char image_id[33]; /* EX_F_LABEL */
};

static const struct node_ops ex_dir_ops;

static struct exn *exn_new(const struct exn *parent, enum ex_kind kind, int split)
{
	struct exn *e = malloc(sizeof(*e));

	if (!e)
		return NULL;
	*e = *parent;
	e->kind = kind;
	e->split = split;
	e->image_id[0] = '\0';
	return e;
}

static unsigned ex_flags(const struct exn *e)
{
	return *e->version ? NODE_IMMUTABLE : NODE_VOLATILE;
}

static int dir_spec(struct node_spec *out, const struct exn *parent, enum ex_kind kind, int split)
{
	struct exn *e = exn_new(parent, kind, split);

	if (!e)
		return -ENOMEM;
	out->ops = &ex_dir_ops;
	out->mode = S_IFDIR | 0555;
	out->flags = ex_flags(e);
	out->priv = e;
	return 0;
}

static int gen_ex_file(struct fs *fs, struct node *n, struct buf *out)
{
	const struct exn *e = gen_file_arg(n);
	struct view_export *v;
	const struct export_image *img;
	const struct buf *coco;
	int error;

	if ((error = views_export_get(fs, e->version, e->ls, &v)) < 0)
		return error;
	switch (e->kind) {
	case EX_F_DATASET:
		error = export_dataset_yaml(out, v->ex);
		break;
	case EX_F_INFO:
		error = export_info_yaml(out, v->ex);
		break;
	case EX_F_LABEL:
		img = export_find(v->ex, (enum export_split)e->split, e->image_id);
		error = img ? export_label_text(out, v->ex, img) : -ENOENT;
		break;
	case EX_F_COCO:
		if ((error = views_coco(v, e->split, &coco)) == 0)
			error = buf_put(out, coco->ptr, coco->len);
		break;
	default:
		error = -EIO;
	}
	views_put(fs, v);
	return error;
}

static int file_spec(struct node_spec *out, const struct exn *parent, enum ex_kind kind, int split,
		     const char *image_id)
{
	struct exn *e = exn_new(parent, kind, split);
	int error;

	if (!e)
		return -ENOMEM;
	if (image_id)
		snprintf(e->image_id, sizeof(e->image_id), "%s", image_id);
	if ((error = gen_file_spec(out, gen_ex_file, ex_flags(e), e)) < 0)
		free(e);
	return error;
}

/* "<32 hex>.<suffix>" -> id; 0 or -ENOENT. */
static int parse_id_name(char id[33], const char *name, const char *suffix)
{
	size_t n = strlen(name);

	if (n != 32 + 1 + strlen(suffix) || name[32] != '.' || strcmp(name + 33, suffix))
		return -ENOENT;
	memcpy(id, name, 32);
	id[32] = '\0';
	return 0;
}

static int ex_lookup(struct fs *fs, struct node *dir, const char *name, struct node_spec *out)
{
	const struct exn *e = dir->priv;
	struct view_export *v = NULL;
	const struct export_image *img;
	enum export_split split;
	char id[33];
	int error = -ENOENT;

	switch (e->kind) {
	case EX_LIST:
		if ((error = views_export_get(fs, e->version, name, &v)) < 0)
			return error;
		views_put(fs, v);
		struct exn tmp = *e;
		snprintf(tmp.ls, sizeof(tmp.ls), "%s", name);
		return dir_spec(out, &tmp, EX_ROOT, 0);
	case EX_ROOT:
		if (!strcmp(name, "dataset.yaml"))
			return file_spec(out, e, EX_F_DATASET, 0, NULL);
		if (!strcmp(name, "export_info.yaml"))
			return file_spec(out, e, EX_F_INFO, 0, NULL);
		if (!strcmp(name, "images"))
			return dir_spec(out, e, EX_IMAGES, 0);
		if (!strcmp(name, "labels"))
			return dir_spec(out, e, EX_LABELS, 0);
		if (!strcmp(name, "coco"))
			return dir_spec(out, e, EX_COCO, 0);
		return -ENOENT;
	case EX_IMAGES:
	case EX_LABELS:
		if (export_split_parse(&split, name) < 0)
			return -ENOENT;
		return dir_spec(out, e, e->kind == EX_IMAGES ? EX_IMAGES_SPLIT : EX_LABELS_SPLIT, (int)split);
	case EX_COCO:
		if (!strcmp(name, "instances_train.json"))
			return file_spec(out, e, EX_F_COCO, EXPORT_TRAIN, NULL);
		if (!strcmp(name, "instances_val.json"))
			return file_spec(out, e, EX_F_COCO, EXPORT_VAL, NULL);
		return -ENOENT;
	case EX_IMAGES_SPLIT:
	case EX_LABELS_SPLIT: {
		const char *dot = strchr(name, '.');
		if (!dot || dot - name != 32)
			return -ENOENT;
		memcpy(id, name, 32);
		id[32] = '\0';
		if ((error = views_export_get(fs, e->version, e->ls, &v)) < 0)
			return error;
		img = export_find(v->ex, (enum export_split)e->split, id);
		if (!img) {
			error = -ENOENT;
		} else if (e->kind == EX_LABELS_SPLIT) {
			error = parse_id_name(id, name, "txt") < 0 ? -ENOENT
				: file_spec(out, e, EX_F_LABEL, e->split, id);
		} else {
			error = parse_id_name(id, name, img->ext) < 0 ? -ENOENT
				: blob_file_spec(out, id, img->bytes);
		}
		views_put(fs, v);
		return error;
	}
	default:
		return -ENOTDIR;
	}
}

static int ex_list(struct fs *fs, struct node *dir, struct dirlist *out)
{
	const struct exn *e = dir->priv;
	struct view_export *v;
	char **names;
	size_t n;
	int error = 0;

	switch (e->kind) {
	case EX_LIST:
		if (*e->version)
			return versions_list_label_sets(fs, e->version, out);
		if ((error = catalog_labelsets(fs->repo->cat, &names, &n)) < 0)
			return error;
		for (size_t i = 0; i < n && !error; i++)
			error = dirlist_add(out, names[i]);
		catalog_strings_free(names, n);
		return error;
	case EX_ROOT:
		if ((error = dirlist_add(out, "dataset.yaml")) || (error = dirlist_add(out, "export_info.yaml")) ||
		    (error = dirlist_add(out, "images")) || (error = dirlist_add(out, "labels")))
			return error;
		return dirlist_add(out, "coco");
	case EX_IMAGES:
	case EX_LABELS:
		if ((error = dirlist_add(out, "train")))
			return error;
		return dirlist_add(out, "val");
	case EX_COCO:
		if ((error = dirlist_add(out, "instances_train.json")))
			return error;
		return dirlist_add(out, "instances_val.json");
	case EX_IMAGES_SPLIT:
	case EX_LABELS_SPLIT: {
		char name[48];
		if ((error = views_export_get(fs, e->version, e->ls, &v)) < 0)
			return error;
		size_t cnt = export_count(v->ex, (enum export_split)e->split);
		for (size_t i = 0; i < cnt && !error; i++) {
			const struct export_image *img = export_image_at(v->ex, (enum export_split)e->split, i);
			snprintf(name, sizeof(name), "%s.%s", img->id,
				 e->kind == EX_LABELS_SPLIT ? "txt" : img->ext);
			error = dirlist_add(out, name);
		}
		views_put(fs, v);
		return error;
	}
	default:
		return -ENOTDIR;
	}
}

static void ex_destroy(struct node *n)
{
	free(n->priv);
}

static const struct node_ops ex_dir_ops = {
	.kind = "export",
	.lookup = ex_lookup,
	.list = ex_list,
	.destroy = ex_destroy,
};

int exports_dir_make(struct fs *fs, struct node *dir, struct node_spec *out)
{
	struct exn root = { .kind = EX_LIST };

	(void)fs;
	(void)dir;
	return dir_spec(out, &root, EX_LIST, 0);
}

int exports_dir_make_version(struct node_spec *out, const char *version)
{
	struct exn root = { .kind = EX_LIST };

	snprintf(root.version, sizeof(root.version), "%s", version);
	return dir_spec(out, &root, EX_LIST, 0);
}
