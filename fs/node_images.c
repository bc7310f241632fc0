/*
 * images/ab/cd/<id>.<ext>: every image by content hash.  Two levels of
 * shard directories keep each listing small; names are parsed here only.
 */
#include "fs_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/repo.h"
#include "store/catalog.h"
#include "util/err.h"

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
	struct catalog_image img;
	char id[CATALOG_ID_LEN + 1], prefix[8];
	int error;

	if (strlen(s->prefix) < 4) {
		if (!is_hex2(name))
			return -ENOENT;
		snprintf(prefix, sizeof(prefix), "%s%s", s->prefix, name);
		/* A shard exists only if some image lives under it. */
		if ((error = catalog_image_prefix_exists(fs->repo->cat, prefix)) < 0)
			return error;
		return error ? shard_spec(out, prefix) : -ENOENT;
	}
	if (parse_image_name(id, name) < 0 || strncmp(id, s->prefix, 4) != 0)
		return -ENOENT;
	if ((error = catalog_image_get(fs->repo->cat, id, &img)) < 0)
		return error;
	if (strcmp(name + CATALOG_ID_LEN + 1, img.ext) != 0)
		return -ENOENT;
	return blob_file_spec(out, id, img.bytes);
}

struct list_ctx {
	struct dirlist *out;
	char name[CATALOG_ID_LEN + 16];
};

static int add_image(const struct catalog_image *img, void *payload)
{
	struct list_ctx *c = payload;

	snprintf(c->name, sizeof(c->name), "%s.%s", img->id, img->ext);
	return dirlist_add(c->out, c->name);
}

static int shard_list(struct fs *fs, struct node *dir, struct dirlist *out)
{
	struct shard *s = dir->priv;
	struct list_ctx c = { .out = out };
	char *names;
	size_t n;
	int error;

	if (strlen(s->prefix) == 4)
		return catalog_images_foreach(fs->repo->cat, s->prefix, add_image, &c);
	if ((error = catalog_image_shards(fs->repo->cat, s->prefix, &names, &n)) < 0)
		return error;
	for (size_t i = 0; i < n && !error; i++)
		error = dirlist_add(out, names + i * 3);
	free(names);
	return error;
}

static void shard_destroy(struct node *n)
{
	free(n->priv);
}

/*
 * Shard directories are immutable as nodes, but their listings grow; a
 * listing is rebuilt at every opendir, so nothing stale is served.
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
