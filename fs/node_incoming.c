/*
 * incoming/: the drop zone, a symbolic link to the real directory
 * DIR/incoming on the dataset's disk.  Uploads never cross FUSE: `cp` into
 * incoming/ writes at the speed of the disk, and core/dropzone ingests each
 * file when its writer closes it (inotify), by renaming it into the blob
 * store.  Refused files are under incoming/.rejected/ (a link to
 * DIR/rejected).
 *
 * Readers meet the newest state: a lookup or a directory listing anywhere
 * in the mount first ingests every upload closed so far (incoming_drain).
 */
#include "fs_int.h"

#include <errno.h>

#include "core/dropzone.h"
#include "util/err.h"
#include "util/log.h"

static int incoming_readlink(struct fs *fs, struct node *n, struct buf *out)
{
	(void)n;
	return buf_puts(out, dropzone_dir(fs->dropzone));
}

static const struct node_ops incoming_link_ops = {
	.kind = "incoming",
	.readlink = incoming_readlink,
};

int incoming_dir_make(struct fs *fs, struct node *dir, struct node_spec *out)
{
	(void)dir;
	if (!fs->dropzone)
		return -ENOENT;
	out->ops = &incoming_link_ops;
	out->mode = S_IFLNK | 0777;
	out->flags = NODE_IMMUTABLE;
	return 0;
}

void incoming_drain(struct fs *fs)
{
	int error;

	if (fs->dropzone && (error = dropzone_drain(fs->dropzone)) < 0)
		LOG_E("incoming: %s (the files stay for the next try)", err_msg(error));
}
