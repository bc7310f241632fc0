/*
 * Labeling batches: a selection of images not yet labeled in a label set,
 * named batch_YYYYMMDD_HHMMSS (a suffix keeps ids unique within a second),
 * each image under its original name (a suffix before the extension keeps
 * names unique within the batch: that is the name a CVAT task and its COCO
 * export will use).
 */
#ifndef DSFS_CORE_BATCH_H
#define DSFS_CORE_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "store/catalog.h"
#include "util/buf.h"

struct repo;
struct kv;

struct batch_opts {
	const char *label_set;      /* default "default" */
	size_t size;                /* default 10 */
	enum catalog_order order;   /* default newest */
	uint64_t seed;              /* for order=random */
};

/* Fill opts from a control line (label_set= size= order= seed=); -EINVAL with a message. */
int batch_opts_parse(struct batch_opts *out, const struct kv *kv, const struct repo *repo);

/*
 * Create a batch.  `out` gets the new batch.  -ENODATA ("no images to
 * label in 'default': N images, all labeled, excluded or in a batch") when
 * the selection is empty: no empty batch is made.
 */
int batch_create(struct catalog_batch *out, struct repo *repo, const struct batch_opts *opts);

/* Resolve "latest" or an id.  -ENOENT with a message. */
int batch_resolve(struct catalog_batch *out, struct repo *repo, const char *spec);

/* The batch's files, generated (mount_root: the batch's absolute path in the mount). */
int batch_manifest_tsv(struct buf *out, const struct catalog_batch_item *items, size_t n,
		       const char *mount_root);
int batch_filelist(struct buf *out, const struct catalog_batch_item *items, size_t n,
		   const char *mount_root);
int batch_info_yaml(struct buf *out, const struct catalog_batch *b);

#endif
