/*
 * Generic node kinds that many trees reuse:
 *  - a static directory: a fixed table of (name, maker) entries;
 *  - a generated file: read-only bytes produced by a function at read
 *    (README, YAML, label files, COCO JSON), sized by generating them;
 *  - a blob file: an image served from the blob store.
 * The kernel keeps the pages of both across opens (fuse_ops.c).
 */
#include "fs_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/repo.h"
#include "store/blob.h"
#include "util/err.h"

/* ---- static directory ---- */

static int static_lookup(struct fs *fs, struct node *dir, const char *name, struct node_spec *out)
{
	for (const struct static_entry *e = dir->priv; e->name; e++)
		if (!strcmp(e->name, name))
			return e->make(fs, dir, out);
	return -ENOENT;
}

static int static_list(struct fs *fs, struct node *dir, struct dirlist *out)
{
	(void)fs;
	for (const struct static_entry *e = dir->priv; e->name; e++) {
		int error = dirlist_add(out, e->name);
		if (error)
			return error;
	}
	return 0;
}

static const struct node_ops static_dir_ops = {
	.kind = "dir",
	.lookup = static_lookup,
	.list = static_list,
};

int static_dir_spec(struct node_spec *out, const struct static_entry *entries)
{
	out->ops = &static_dir_ops;
	out->mode = S_IFDIR | 0555;
	out->flags = NODE_IMMUTABLE;
	out->priv = (void *)entries;
	return 0;
}

/* ---- generated file ---- */

struct gen_file {
	gen_fn gen;
	void *arg;
	_Atomic int64_t size;   /* immutable nodes: the size once generated, else -1 */
};

static int gen_getattr(struct fs *fs, struct node *n, struct stat *st)
{
	struct gen_file *g = n->priv;
	struct buf b = BUF_INIT;
	int64_t size = atomic_load(&g->size);
	int error;

	/* An immutable file (inside a version) has one size forever: generate it once. */
	if (size >= 0) {
		st->st_size = (off_t)size;
		return 0;
	}
	error = g->gen(fs, n, &b);
	st->st_size = (off_t)b.len;
	if (!error && (n->flags & NODE_IMMUTABLE))
		atomic_store(&g->size, (int64_t)b.len);
	buf_release(&b);
	return error;
}

/*
 * Generated at every READ that misses the kernel's cache: a version never
 * changes, and a working-tree file changes only with the catalog, when the
 * mount drops its cached pages (fs_invalidate_volatile).
 */
static int gen_content(struct fs *fs, struct node *n, struct buf *out)
{
	struct gen_file *g = n->priv;

	return g->gen(fs, n, out);
}

static void gen_destroy(struct node *n)
{
	struct gen_file *g = n->priv;

	if (g)
		free(g->arg);
	free(g);
}

static const struct node_ops gen_file_ops = {
	.kind = "generated",
	.getattr = gen_getattr,
	.content = gen_content,
	.destroy = gen_destroy,
};

int gen_file_spec(struct node_spec *out, gen_fn gen, unsigned flags, void *arg)
{
	struct gen_file *g = malloc(sizeof(*g));

	if (!g)
		return err_set(-ENOMEM, "out of memory");
	g->gen = gen;
	g->arg = arg;
	atomic_init(&g->size, -1);
	out->ops = &gen_file_ops;
	out->mode = S_IFREG | 0444;
	out->flags = flags;
	out->priv = g;
	return 0;
}

void *gen_file_arg(const struct node *n)
{
	return ((const struct gen_file *)n->priv)->arg;
}

/* ---- blob file ---- */

struct blob_file {
	struct blob_id id;
	int64_t bytes;
};

static int blob_getattr(struct fs *fs, struct node *n, struct stat *st)
{
	struct blob_file *b = n->priv;

	(void)fs;
	st->st_size = b->bytes;
	return 0;
}

static int blob_file_open_fd(struct fs *fs, struct node *n, int *fd)
{
	struct blob_file *b = n->priv;

	return blob_open(fd, fs->repo->blobs, &b->id);
}

static void blob_destroy(struct node *n)
{
	free(n->priv);
}

static const struct node_ops blob_file_ops = {
	.kind = "blob",
	.getattr = blob_getattr,
	.open_fd = blob_file_open_fd,
	.destroy = blob_destroy,
};

int blob_file_spec(struct node_spec *out, const char *image_id, int64_t bytes)
{
	struct blob_file *b = malloc(sizeof(*b));
	int error;

	if (!b)
		return err_set(-ENOMEM, "out of memory");
	if ((error = blob_id_parse(&b->id, image_id)) < 0) {
		free(b);
		return error;
	}
	b->bytes = bytes;
	out->ops = &blob_file_ops;
	out->mode = S_IFREG | 0444;
	out->flags = NODE_IMMUTABLE;
	out->priv = b;
	return 0;
}
