/*
 * batches/<batch_id>/: manifest.tsv, filelist.txt, info.yaml and images/
 * with every image under its batch name (the name CVAT will see).
 */
#include "fs_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/batch.h"
#include "core/repo.h"
#include "store/catalog.h"
#include "util/err.h"

enum bt_kind { BT_LIST, BT_BATCH, BT_IMAGES, BT_F_MANIFEST, BT_F_FILELIST, BT_F_INFO };

struct btn {
	enum bt_kind kind;
	char id[64];
};

static const struct node_ops bt_dir_ops;

static int bt_dir(struct node_spec *out, enum bt_kind kind, const char *id)
{
	struct btn *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->kind = kind;
	snprintf(b->id, sizeof(b->id), "%s", id);
	out->ops = &bt_dir_ops;
	out->mode = S_IFDIR | 0555;
	out->flags = NODE_VOLATILE;
	out->priv = b;
	return 0;
}

static int gen_bt_file(struct fs *fs, struct node *n, struct buf *out)
{
	const struct btn *b = gen_file_arg(n);
	struct catalog_batch batch;
	struct catalog_batch_item *items = NULL;
	struct buf root = BUF_INIT;
	size_t cnt = 0;
	int error;

	if ((error = catalog_batch_get(fs->repo->cat, b->id, &batch)) < 0)
		return error;
	if (b->kind == BT_F_INFO)
		return batch_info_yaml(out, &batch);
	if ((error = catalog_batch_items(fs->repo->cat, b->id, &items, &cnt)) < 0)
		return error;
	buf_printf(&root, "%s/batches/%s", fs->mountpoint, b->id);
	error = b->kind == BT_F_MANIFEST ? batch_manifest_tsv(out, items, cnt, root.ptr)
					 : batch_filelist(out, items, cnt, root.ptr);
	buf_release(&root);
	free(items);
	return error;
}

static int bt_file(struct node_spec *out, enum bt_kind kind, const char *id)
{
	struct btn *b = calloc(1, sizeof(*b));
	int error;

	if (!b)
		return -ENOMEM;
	b->kind = kind;
	snprintf(b->id, sizeof(b->id), "%s", id);
	if ((error = gen_file_spec(out, gen_bt_file, NODE_VOLATILE, b)) < 0)
		free(b);
	return error;
}

static int bt_lookup(struct fs *fs, struct node *dir, const char *name, struct node_spec *out)
{
	const struct btn *b = dir->priv;
	struct catalog_batch batch;
	struct catalog_batch_item *items = NULL;
	size_t cnt = 0;
	int error;

	switch (b->kind) {
	case BT_LIST:
		if ((error = catalog_batch_get(fs->repo->cat, name, &batch)) < 0)
			return -ENOENT;
		return bt_dir(out, BT_BATCH, name);
	case BT_BATCH:
		if (!strcmp(name, "manifest.tsv"))
			return bt_file(out, BT_F_MANIFEST, b->id);
		if (!strcmp(name, "filelist.txt"))
			return bt_file(out, BT_F_FILELIST, b->id);
		if (!strcmp(name, "info.yaml"))
			return bt_file(out, BT_F_INFO, b->id);
		if (!strcmp(name, "images"))
			return bt_dir(out, BT_IMAGES, b->id);
		return -ENOENT;
	case BT_IMAGES:
		if ((error = catalog_batch_items(fs->repo->cat, b->id, &items, &cnt)) < 0)
			return error;
		error = -ENOENT;
		for (size_t i = 0; i < cnt; i++) {
			if (!strcmp(items[i].name, name)) {
				error = blob_file_spec(out, items[i].img.id, items[i].img.bytes);
				break;
			}
		}
		free(items);
		return error;
	default:
		return -ENOTDIR;
	}
}

static int bt_list(struct fs *fs, struct node *dir, struct dirlist *out)
{
	const struct btn *b = dir->priv;
	struct catalog_batch *batches = NULL;
	struct catalog_batch_item *items = NULL;
	size_t cnt = 0;
	int error = 0;

	switch (b->kind) {
	case BT_LIST:
		if ((error = catalog_batches(fs->repo->cat, &batches, &cnt)) < 0)
			return error;
		for (size_t i = 0; i < cnt && !error; i++)
			error = dirlist_add(out, batches[i].id);
		free(batches);
		return error;
	case BT_BATCH:
		for (const char *const *n = (const char *const[]){ "info.yaml", "manifest.tsv", "filelist.txt",
								     "images", NULL }; *n && !error; n++)
			error = dirlist_add(out, *n);
		return error;
	case BT_IMAGES:
		if ((error = catalog_batch_items(fs->repo->cat, b->id, &items, &cnt)) < 0)
			return error;
		for (size_t i = 0; i < cnt && !error; i++)
			error = dirlist_add(out, items[i].name);
		free(items);
		return error;
	default:
		return -ENOTDIR;
	}
}

static void bt_destroy(struct node *n)
{
	free(n->priv);
}

static const struct node_ops bt_dir_ops = {
	.kind = "batch",
	.lookup = bt_lookup,
	.list = bt_list,
	.destroy = bt_destroy,
};

int batches_dir_make(struct fs *fs, struct node *dir, struct node_spec *out)
{
	(void)fs;
	(void)dir;
	return bt_dir(out, BT_LIST, "");
}
