/*
 * ctl/jobs/: one read-only file per job of the catalog's jobs table
 * (core/jobs), named by its id, showing state, progress, the CVAT task,
 * the last error, timestamps and the result as "key: value" lines.  The
 * text is generated at every stat and read (live files, never cached):
 * a job moves on while nothing else in the catalog changes.
 */
#include "fs_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jobs.h"
#include "core/repo.h"
#include "store/catalog.h"
#include "util/err.h"

/* "17" -> 17; the one place a job file name is parsed.  0 if not a job name. */
static int64_t job_id_of(const char *name)
{
	char *end;
	long long id;

	if (!*name || *name == '0' || strlen(name) > 18)
		return 0;
	id = strtoll(name, &end, 10);
	return *end || id <= 0 ? 0 : (int64_t)id;
}

static int64_t node_job_id(const struct node *n)
{
	return (int64_t)(intptr_t)n->priv;
}

static int jobfile_getattr(struct fs *fs, struct node *n, struct stat *st)
{
	struct buf b = BUF_INIT;
	int error = job_status_text(&b, fs->repo, node_job_id(n));

	st->st_size = (off_t)b.len;
	buf_release(&b);
	return error;
}

static int jobfile_content(struct fs *fs, struct node *n, struct buf *out)
{
	return job_status_text(out, fs->repo, node_job_id(n));
}

static const struct node_ops jobfile_ops = {
	.kind = "job",
	.getattr = jobfile_getattr,
	.content = jobfile_content,
};

static int jobs_lookup(struct fs *fs, struct node *dir, const char *name, struct node_spec *out)
{
	struct catalog_job *job;
	int64_t id = job_id_of(name);
	int error;

	(void)dir;
	if (!id)
		return -ENOENT;
	if (!(job = malloc(sizeof(*job))))
		return -ENOMEM;
	error = catalog_job_get(fs->repo->cat, id, job);
	free(job);
	if (error)
		return error == -ENOENT ? -ENOENT : error;
	out->ops = &jobfile_ops;
	out->mode = S_IFREG | 0444;
	out->flags = NODE_VOLATILE | NODE_LIVE;
	out->priv = (void *)(intptr_t)id;
	return 0;
}

static int jobs_list(struct fs *fs, struct node *dir, struct dirlist *out)
{
	int64_t *ids = NULL;
	size_t n = 0;
	char name[24];
	int error;

	(void)dir;
	if ((error = catalog_job_ids(fs->repo->cat, NULL, &ids, &n)) < 0)
		return error;
	for (size_t i = 0; i < n && !error; i++) {
		snprintf(name, sizeof(name), "%" PRId64, ids[i]);
		error = dirlist_add(out, name);
	}
	free(ids);
	return error;
}

static const struct node_ops jobs_dir_ops = {
	.kind = "jobs-dir",
	.lookup = jobs_lookup,
	.list = jobs_list,
};

int jobs_dir_make(struct fs *fs, struct node *dir, struct node_spec *out)
{
	(void)fs;
	(void)dir;
	out->ops = &jobs_dir_ops;
	out->mode = S_IFDIR | 0555;
	out->flags = NODE_VOLATILE | NODE_LIVE;
	out->priv = NULL;
	return 0;
}
