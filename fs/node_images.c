/*
 * images/ab/cd/<id>.<ext>: every image by content hash.  Two levels of
 * shard directories keep each listing small; names are parsed here only.
 *
 * Lookups and listings are answered from an in-memory index of the
 * catalog's images (sorted by id), rebuilt on first use after the catalog
 * changed.  Asking SQLite instead cost ~25 system calls per lookup (its
 * file locks and size checks for every read transaction), which made
 * `find images/` spend most of its time in the daemon's lock calls.
 */
#include "fs_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/repo.h"
#include "store/catalog.h"
#include "util/array.h"
#include "util/err.h"

struct image_entry {
	char id[CATALOG_ID_LEN + 1];
	char ext[8];
	int64_t bytes;
};

struct images_index {
	uint64_t gen;               /* the mount's catalog generation it was built at */
	struct image_entry *e;      /* sorted by id */
	size_t n, cap;
	unsigned refs;              /* protected by fs->images_lock */
};

static void index_put(struct fs *fs, struct images_index *ix)
{
	int last;

	if (!ix)
		return;
	pthread_mutex_lock(&fs->images_lock);
	last = --ix->refs == 0;
	pthread_mutex_unlock(&fs->images_lock);
	if (last) {
		free(ix->e);
		free(ix);
	}
}

static int add_entry(const struct catalog_image *img, void *payload)
{
	struct images_index *ix = payload;
	int error = array_grow((void **)&ix->e, &ix->cap, ix->n, sizeof(*ix->e));

	if (error < 0)
		return error;
	memcpy(ix->e[ix->n].id, img->id, sizeof(ix->e[ix->n].id));
	memcpy(ix->e[ix->n].ext, img->ext, sizeof(ix->e[ix->n].ext));
	ix->e[ix->n++].bytes = img->bytes;
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct image_entry *)a)->id, ((const struct image_entry *)b)->id);
}

/* The current index, referenced (release with index_put). */
static int index_get(struct fs *fs, struct images_index **out)
{
	uint64_t gen = fs_generation(fs);
	struct images_index *ix = NULL;
	int error;

	pthread_mutex_lock(&fs->images_lock);
	if ((ix = fs->images) && ix->gen == gen) {
		ix->refs++;
		pthread_mutex_unlock(&fs->images_lock);
		*out = ix;
		return 0;
	}
	pthread_mutex_unlock(&fs->images_lock);
	/* Built outside the lock; two threads may both build, the last one stays. */
	if (!(ix = calloc(1, sizeof(*ix))))
		return err_set(-ENOMEM, "out of memory");
	ix->gen = gen;
	if ((error = catalog_images_foreach(fs->repo->cat, "", add_entry, ix)) < 0) {
		free(ix->e);
		free(ix);
		return error;
	}
	if (ix->n)
		qsort(ix->e, ix->n, sizeof(*ix->e), cmp_entry);
	ix->refs = 2; /* the mount's and the caller's */
	pthread_mutex_lock(&fs->images_lock);
	struct images_index *old = fs->images;
	fs->images = ix;
	pthread_mutex_unlock(&fs->images_lock);
	index_put(fs, old);
	*out = ix;
	return 0;
}

void images_index_release(struct fs *fs)
{
	struct images_index *ix = fs->images;

	fs->images = NULL;
	index_put(fs, ix);
}

/* The first entry whose id is >= prefix. */
static size_t lower_bound(const struct images_index *ix, const char *prefix)
{
	size_t lo = 0, hi = ix->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(ix->e[mid].id, prefix) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int has_prefix(const struct images_index *ix, size_t i, const char *prefix, size_t len)
{
	return i < ix->n && !strncmp(ix->e[i].id, prefix, len);
}

/* priv of a shard directory: its id prefix, "" (images/), "ab" or "abcd". */
struct shard {
	char prefix[8];
};

static int is_hex2(const char *s)
{
	return strlen(s) == 2 && isxdigit((unsigned char)s[0]) && isxdigit((unsigned char)s[1]) &&
	       !isupper((unsigned char)s[0]) && !isupper((unsigned char)s[1]);
}

static const struct node_ops shard_ops;

static int shard_spec(struct node_spec *out, const char *prefix)
{
	struct shard *s = malloc(sizeof(*s));

	if (!s)
		return err_set(-ENOMEM, "out of memory");
	snprintf(s->prefix, sizeof(s->prefix), "%s", prefix);
	out->ops = &shard_ops;
	out->mode = S_IFDIR | 0555;
	out->flags = NODE_IMMUTABLE;
	out->priv = s;
	return 0;
}

/* "<32 hex>.<ext>" -> id; 0 or -ENOENT. */
static int parse_image_name(char id[CATALOG_ID_LEN + 1], const char *name)
{
	const char *dot = strchr(name, '.');

	if (!dot || dot - name != CATALOG_ID_LEN)
		return -ENOENT;
	for (int i = 0; i < CATALOG_ID_LEN; i++)
		if (!isxdigit((unsigned char)name[i]) || isupper((unsigned char)name[i]))
			return -ENOENT;
	memcpy(id, name, CATALOG_ID_LEN);
	id[CATALOG_ID_LEN] = '\0';
	return 0;
}

static int shard_lookup(struct fs *fs, struct node *dir, const char *name, struct node_spec *out)
{
	struct shard *s = dir->priv;
	struct images_index *ix = NULL;
	char id[CATALOG_ID_LEN + 1], prefix[8];
	size_t i;
	int error;

	if (strlen(s->prefix) < 4) {
		if (!is_hex2(name))
			return -ENOENT;
		snprintf(prefix, sizeof(prefix), "%s%s", s->prefix, name);
		/* A shard exists only if some image lives under it. */
		if ((error = index_get(fs, &ix)) < 0)
			return error;
		error = has_prefix(ix, lower_bound(ix, prefix), prefix, strlen(prefix))
			? shard_spec(out, prefix) : -ENOENT;
		index_put(fs, ix);
		return error;
	}
	if (parse_image_name(id, name) < 0 || strncmp(id, s->prefix, 4) != 0)
		return -ENOENT;
	if ((error = index_get(fs, &ix)) < 0)
		return error;
	i = lower_bound(ix, id);
	if (i < ix->n && !strcmp(ix->e[i].id, id) && !strcmp(name + CATALOG_ID_LEN + 1, ix->e[i].ext))
		error = blob_file_spec(out, id, ix->e[i].bytes);
	else
		error = -ENOENT;
	index_put(fs, ix);
	return error;
}

static int shard_list(struct fs *fs, struct node *dir, struct dirlist *out)
{
	struct shard *s = dir->priv;
	struct images_index *ix = NULL;
	size_t len = strlen(s->prefix), i;
	char name[CATALOG_ID_LEN + 16], last[3] = "";
	int error;

	if ((error = index_get(fs, &ix)) < 0)
		return error;
	for (i = lower_bound(ix, s->prefix); !error && has_prefix(ix, i, s->prefix, len); i++) {
		const struct image_entry *e = &ix->e[i];

		if (len == 4) {
			snprintf(name, sizeof(name), "%s.%s", e->id, e->ext);
			error = dirlist_add(out, name);
		} else if (strncmp(e->id + len, last, 2) != 0) {
			/* the next shard below this one */
			memcpy(last, e->id + len, 2);
			error = dirlist_add(out, last);
		}
	}
	index_put(fs, ix);
	return error;
}

static void shard_destroy(struct node *n)
{
	free(n->priv);
}

/*
 * Shard directories are immutable as nodes, but their listings grow; a
 * listing is made at every opendir (which first brings the mount's
 * generation up to date), so nothing stale is served.
 */
static const struct node_ops shard_ops = {
	.kind = "shard",
	.lookup = shard_lookup,
	.list = shard_list,
	.destroy = shard_destroy,
};

int images_dir_make(struct fs *fs, struct node *dir, struct node_spec *out)
{
	(void)fs;
	(void)dir;
	return shard_spec(out, "");
}
