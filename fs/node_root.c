/*
 * The root of the mount: README (generated), and one entry per tree.
 * Later trees plug in by adding an entry to root_entries.
 */
#include "fs_int.h"

#include <errno.h>
#include <string.h>

#include "core/repo.h"
#include "store/catalog.h"
#include "util/err.h"

static int readme_gen(struct fs *fs, struct node *n, struct buf *out)
{
	int64_t n_images = 0;
	int error;

	(void)n;
	if ((error = catalog_image_count(fs->repo->cat, &n_images)) < 0)
		return error;
	return buf_printf(out,
		"dsfs: dataset %s\n"
		"mounted on %s\n"
		"\n"
		"images: %lld\n"
		"\n"
		"What is here:\n"
		"  incoming/             copy JPEG/PNG files here; each is ingested when closed\n"
		"                        (a link to %s/incoming; listing any directory here\n"
		"                        waits for what was closed)\n"
		"  incoming/.rejected/   files that were refused, each with a .reason beside it\n"
		"  images/ab/cd/<id>.<ext>  every image, by content hash (read-only)\n"
		"  ctl/                  control files: write a key=value line to run a step\n"
		"  @vN/                  version N, read-only (images/, exports/, annotations/, VERSION)\n"
		"  versions/log          the versions, newest first\n"
		"\n"
		"Unmount with: dsfs umount %s  (or fusermount3 -u %s)\n",
		fs->repo->dir, fs->mountpoint, (long long)n_images, fs->repo->dir, fs->mountpoint,
		fs->mountpoint);
}

static int readme_make(struct fs *fs, struct node *dir, struct node_spec *out)
{
	(void)fs;
	(void)dir;
	return gen_file_spec(out, readme_gen, NODE_VOLATILE, NULL);
}

static const struct static_entry root_entries[] = {
	{ "README", readme_make },
	{ "batches", batches_dir_make },
	{ "ctl", ctl_dir_make },
	{ "exports", exports_dir_make },
	{ "images", images_dir_make },
	{ "incoming", incoming_dir_make },
	{ NULL, NULL },
};

static int root_lookup(struct fs *fs, struct node *dir, const char *name, struct node_spec *out)
{
	(void)dir;
	for (const struct static_entry *e = root_entries; e->name; e++)
		if (!strcmp(e->name, name))
			return e->make(fs, fs->root, out);
	/* @v3, @HEAD, @<tag>, @<commit>, versions/ */
	return versions_root_lookup(fs, name, out);
}

static int root_list(struct fs *fs, struct node *dir, struct dirlist *out)
{
	(void)dir;
	for (const struct static_entry *e = root_entries; e->name; e++) {
		int error = dirlist_add(out, e->name);
		if (error)
			return error;
	}
	return versions_root_list(fs, out);
}

const struct node_ops root_ops = {
	.kind = "root",
	.lookup = root_lookup,
	.list = root_list,
};
