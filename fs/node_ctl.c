/*
 * ctl/: control files, one per verb of core/verbs.c.  Writing one line of
 * key=value words to ctl/<verb> and closing the file runs the verb: the
 * close returns once it is done (EINVAL if the command failed, with the
 * reason in the file and the log).  Reading the file returns the outcome
 * of the last run, as "key: value" lines.  ctl/jobs/<id> shows the jobs
 * that long verbs (ctl/cvat) start (node_jobs.c).
 */
#include "fs_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/verbs.h"
#include "util/err.h"
#include "util/log.h"

/* The last outcome of each verb (static table, one slot per verb). */
struct ctl_slot {
	pthread_mutex_t mu;   /* protects last; also serializes runs of one verb */
	struct buf last;
};

#define CTL_MAX 32
static struct ctl_slot slots[CTL_MAX]; /* indexed like verbs[]; process-wide like the verbs table */
static pthread_once_t slots_once = PTHREAD_ONCE_INIT;

static void slots_init(void)
{
	for (int i = 0; i < CTL_MAX; i++) {
		pthread_mutex_init(&slots[i].mu, NULL);
		buf_init(&slots[i].last);
	}
}

static struct ctl_slot *slot_of(const struct node *n)
{
	return &slots[(const struct verb *)n->priv - verbs];
}

static int ctl_getattr(struct fs *fs, struct node *n, struct stat *st)
{
	struct ctl_slot *s = slot_of(n);

	(void)fs;
	pthread_mutex_lock(&s->mu);
	st->st_size = (off_t)s->last.len;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static int ctl_open(struct fs *fs, struct node *n, struct fh *fh)
{
	struct ctl_slot *s = slot_of(n);

	(void)fs;
	fh->direct_io = 1;
	if (!fh->writable) {
		pthread_mutex_lock(&s->mu);
		buf_put(&fh->data, s->last.ptr, s->last.len);
		pthread_mutex_unlock(&s->mu);
	}
	return 0;
}

static int ctl_run(struct fs *fs, struct fh *fh);

/*
 * A complete line runs at once, so the write(2) itself fails on a bad
 * command: shells report errors of write but ignore those of close.
 */
static int ctl_write(struct fs *fs, struct fh *fh, const char *src, size_t size, off_t off)
{
	int error;

	if ((size_t)off < fh->data.len || fh->data.len + size > 65536)
		return -EINVAL; /* one short line, written in order */
	if ((error = buf_put(&fh->data, src, size)) < 0)
		return error;
	return memchr(fh->data.ptr, '\n', fh->data.len) ? ctl_run(fs, fh) : 0;
}

/* close(2): a line without its newline runs here. */
static int ctl_flush(struct fs *fs, struct fh *fh)
{
	return ctl_run(fs, fh);
}

static int ctl_run(struct fs *fs, struct fh *fh)
{
	const struct verb *v = fh->node->priv;
	struct ctl_slot *s = slot_of(fh->node);
	struct buf out = BUF_INIT;
	char *nl;
	int error;

	if (!fh->writable || !fh->data.len)
		return 0;
	if ((nl = memchr(fh->data.ptr, '\n', fh->data.len)))
		*nl = '\0';
	incoming_drain(fs); /* a verb sees every upload closed before it */
	pthread_mutex_lock(&s->mu);
	error = verb_run_line(fs->repo, v->name, fh->data.ptr, &out);
	buf_reset(&s->last);
	buf_put(&s->last, out.ptr, out.len);
	pthread_mutex_unlock(&s->mu);
	buf_release(&out);
	buf_reset(&fh->data);
	if (error) {
		LOG_W("ctl/%s: %s", v->name, err_last());
		error = -EINVAL;
	} else {
		LOG_I("ctl/%s: done", v->name);
	}
	fs_sync_invalidate(fs); /* readers after this write see its effect */
	return error;
}

static int ctl_truncate(struct fs *fs, struct node *n, struct fh *fh, off_t size)
{
	(void)fs;
	(void)n;
	if (fh && size == 0)
		buf_reset(&fh->data);
	return 0;
}

static const struct node_ops ctl_file_ops = {
	.kind = "ctl",
	.getattr = ctl_getattr,
	.open = ctl_open,
	.write = ctl_write,
	.flush = ctl_flush,
	.truncate = ctl_truncate,
};

static int ctl_lookup(struct fs *fs, struct node *dir, const char *name, struct node_spec *out)
{
	const struct verb *v = verb_find(name);

	if (!strcmp(name, "jobs"))
		return jobs_dir_make(fs, dir, out);
	if (!v || v - verbs >= CTL_MAX)
		return -ENOENT;
	pthread_once(&slots_once, slots_init);
	out->ops = &ctl_file_ops;
	out->mode = S_IFREG | 0644;
	out->flags = NODE_WRITABLE | NODE_VOLATILE;
	out->priv = (void *)v;
	return 0;
}

static int ctl_list(struct fs *fs, struct node *dir, struct dirlist *out)
{
	int error = 0;

	(void)fs;
	(void)dir;
	for (const struct verb *v = verbs; v->name && !error; v++)
		error = dirlist_add(out, v->name);
	return error ? error : dirlist_add(out, "jobs");
}

static const struct node_ops ctl_dir_ops = {
	.kind = "ctl-dir",
	.lookup = ctl_lookup,
	.list = ctl_list,
};

int ctl_dir_make(struct fs *fs, struct node *dir, struct node_spec *out)
{
	(void)fs;
	(void)dir;
	out->ops = &ctl_dir_ops;
	out->mode = S_IFDIR | 0755;
	out->flags = NODE_IMMUTABLE | NODE_WRITABLE;
	return 0;
}
