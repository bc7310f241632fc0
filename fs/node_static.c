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

/*
 * The bytes last generated are kept, tagged with the catalog generation
 * they were made at, for the requests that follow: a cold read is a
 * GETATTR (for the size) and then one READ per 128 KiB, and generating the
 * whole file for each made reading a large file (a batch's manifest.tsv)
 * quadratic.  A READ that reaches the end drops them; the bytes kept by
 * all generated files of a mount are bounded by GEN_KEEP_BUDGET.
 */
#define GEN_KEEP_BUDGET (64u << 20)

struct gen_file {
	gen_fn gen;
	void *arg;
	_Atomic int64_t size;   /* immutable nodes: the size once generated, else -1 */
	pthread_mutex_t mu;     /* protects the fields below */
	struct buf kept;        /* the last bytes generated, if kept_valid */
	int kept_valid;
	uint64_t kept_gen;      /* the catalog generation they were made at */
	struct fs *fs;          /* whose budget they count against */
};

static void gen_drop(struct gen_file *g)
{
	if (g->kept_valid)
		atomic_fetch_sub(&g->fs->gen_kept_bytes, g->kept.len);
	buf_release(&g->kept);
	g->kept_valid = 0;
}

/* The content at the current generation: in g->kept (valid while g->mu is held) or in tmp. */
static int gen_current(struct fs *fs, struct node *n, struct gen_file *g, struct buf *tmp,
		       const struct buf **out)
{
	uint64_t gen = 0;
	int error;

	/*
	 * The generation the mount last took in: GETATTR of a volatile node
	 * has just brought it up to date (fs_getattr), and a change made
	 * since is noticed by the watcher, which drops the kernel's pages.
	 */
	if (!(n->flags & NODE_IMMUTABLE))
		gen = fs_generation(fs);
	if (g->kept_valid && g->kept_gen == gen) {
		*out = &g->kept;
		return 0;
	}
	gen_drop(g);
	if ((error = g->gen(fs, n, tmp)) < 0)
		return error;
	if (atomic_fetch_add(&fs->gen_kept_bytes, tmp->len) + tmp->len > GEN_KEEP_BUDGET) {
		atomic_fetch_sub(&fs->gen_kept_bytes, tmp->len);
		*out = tmp;   /* over budget: serve it once, keep nothing */
		return 0;
	}
	g->kept = *tmp;
	buf_init(tmp);
	g->kept_valid = 1;
	g->kept_gen = gen;
	g->fs = fs;
	*out = &g->kept;
	return 0;
}

static int gen_getattr(struct fs *fs, struct node *n, struct stat *st)
{
	struct gen_file *g = n->priv;
	struct buf tmp = BUF_INIT;
	const struct buf *b;
	int64_t size = atomic_load(&g->size);
	int error;

	/* An immutable file (inside a version) has one size forever: generate it once. */
	if (size >= 0) {
		st->st_size = (off_t)size;
		return 0;
	}
	pthread_mutex_lock(&g->mu);
	if ((error = gen_current(fs, n, g, &tmp, &b)) == 0) {
		st->st_size = (off_t)b->len;
		if (n->flags & NODE_IMMUTABLE)
			atomic_store(&g->size, (int64_t)b->len);
	}
	pthread_mutex_unlock(&g->mu);
	buf_release(&tmp);
	return error;
}

/*
 * A READ that missed the kernel's cache: a version never changes, and a
 * working-tree file changes only with the catalog, when the mount drops
 * its cached pages (fs_invalidate_volatile).
 */
static int gen_read(struct fs *fs, struct node *n, size_t size, off_t off, struct buf *out)
{
	struct gen_file *g = n->priv;
	struct buf tmp = BUF_INIT;
	const struct buf *b;
	int error;

	pthread_mutex_lock(&g->mu);
	if ((error = gen_current(fs, n, g, &tmp, &b)) == 0 && (uint64_t)off < b->len) {
		size_t len = b->len - (size_t)off < size ? b->len - (size_t)off : size;

		error = buf_put(out, b->ptr + off, len);
	}
	if (error == 0 && (uint64_t)off + size >= b->len)
		gen_drop(g);   /* read to the end: the kernel has the pages now */
	pthread_mutex_unlock(&g->mu);
	buf_release(&tmp);
	return error;
}

static void gen_destroy(struct node *n)
{
	struct gen_file *g = n->priv;

	if (!g)
		return;
	gen_drop(g);
	pthread_mutex_destroy(&g->mu);
	free(g->arg);
	free(g);
}

static const struct node_ops gen_file_ops = {
	.kind = "generated",
	.getattr = gen_getattr,
	.read = gen_read,
	.destroy = gen_destroy,
};

int gen_file_spec(struct node_spec *out, gen_fn gen, unsigned flags, void *arg)
{
	struct gen_file *g = calloc(1, sizeof(*g));

	if (!g)
		return err_set(-ENOMEM, "out of memory");
	g->gen = gen;
	g->arg = arg;
	atomic_init(&g->size, -1);
	pthread_mutex_init(&g->mu, NULL);
	buf_init(&g->kept);
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
	int error = blob_open(fd, fs->repo->blobs, &b->id);

	/*
	 * The file exists (ls and stat show it); its bytes could not be had
	 * (not here, and origin lacks them or is unreachable): an I/O error,
	 * as for a corrupt blob, not ENOENT.
	 */
	return error == -ENOENT ? -EIO : error;
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
