/*
 * ctl/: control files, one per verb of core/verbs.c.  Writing one line of
 * key=value words to ctl/<verb> runs the verb: the write(2) returns once
 * it is done (EINVAL if the command failed, with the reason in the file
 * and the log).  Reading the file returns the outcome of the last run, as
 * "key: value" lines.  ctl/jobs/<id> shows the jobs
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

static int ctl_content(struct fs *fs, struct node *n, struct buf *out)
{
	struct ctl_slot *s = slot_of(n);
	int error;

	(void)fs;
	pthread_mutex_lock(&s->mu);
	error = buf_put(out, s->last.ptr, s->last.len);
	pthread_mutex_unlock(&s->mu);
	return error;
}

/*
 * One write(2) is one command: the mount is not told when the file is
 * closed, and shells report errors of write but ignore those of close.
 * A trailing newline is optional; a second line is refused.
 */
static int ctl_write(struct fs *fs, struct node *n, const char *src, size_t size, off_t off)
{
	const struct verb *v = n->priv;
	struct ctl_slot *s = slot_of(n);
	struct buf line = BUF_INIT, out = BUF_INIT;
	const char *nl = memchr(src, '\n', size);
	int error;

	(void)off; /* `echo cmd >> ctl/verb` writes past the old content */
	err_clear();
	if (nl && (size_t)(nl - src) + 1 < size)
		error = err_set(-EINVAL, "more than one line in one write: write one command per write(2)");
	else if (memchr(src, '\0', size))
		error = err_set(-EINVAL, "a NUL byte in the command line");
	else
		error = buf_put(&line, src, nl ? (size_t)(nl - src) : size);
	if (error < 0) {
		/* Refused before it ran: the outcome says why, as for a verb's own errors. */
		pthread_mutex_lock(&s->mu);
		buf_reset(&s->last);
		buf_printf(&s->last, "status: error\nerror: %s\n", err_msg(error));
		pthread_mutex_unlock(&s->mu);
		LOG_W("ctl/%s: %s", v->name, err_msg(error));
		return -EINVAL;
	}
	incoming_drain(fs); /* a verb sees every upload closed before it */
	pthread_mutex_lock(&s->mu);
	error = verb_run_line(fs->repo, v->name, line.ptr, &out);
	buf_reset(&s->last);
	buf_put(&s->last, out.ptr, out.len);
	pthread_mutex_unlock(&s->mu);
	buf_release(&out);
	buf_release(&line);
	if (error) {
		LOG_W("ctl/%s: %s", v->name, err_last());
		error = -EINVAL;
	} else {
		LOG_I("ctl/%s: done", v->name);
	}
	fs_sync_invalidate(fs); /* readers after this write see its effect */
	return error;
}

static const struct node_ops ctl_file_ops = {
	.kind = "ctl",
	.getattr = ctl_getattr,
	.content = ctl_content,
	.write = ctl_write,
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
	out->flags = NODE_WRITABLE | NODE_LIVE; /* not volatile: invalidating it inside its own WRITE would deadlock */
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
