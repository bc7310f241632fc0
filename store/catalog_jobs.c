/*
 * The jobs table (see catalog.h): long pipelines recorded with their state
 * so that they survive a restart.  A job row is written often (every poll
 * of a CVAT task), so these writes deliberately leave local_writes alone:
 * the mount keys its export caches on catalog_generation(), and a progress
 * line is no reason to rebuild an export.
 */
#include "catalog_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/array.h"
#include "util/err.h"
#include "util/fsutil.h"

#define JOB_COLS "id, kind, args, state, progress, error, result, created_at, updated_at"

static int check_sizes(const struct catalog_job *job)
{
	/* The struct's fields are the limits a reader can hold: refuse what it could not read back. */
	if (strnlen(job->args, sizeof(job->args)) >= sizeof(job->args) ||
	    strnlen(job->result, sizeof(job->result)) >= sizeof(job->result) ||
	    strnlen(job->kind, sizeof(job->kind)) >= sizeof(job->kind) ||
	    strnlen(job->state, sizeof(job->state)) >= sizeof(job->state) ||
	    strnlen(job->progress, sizeof(job->progress)) >= sizeof(job->progress) ||
	    strnlen(job->error, sizeof(job->error)) >= sizeof(job->error))
		return err_set(-E2BIG, "job record too long");
	return 0;
}

int catalog_job_add(struct catalog *cat, struct catalog_job *job, int64_t *id_out)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = check_sizes(job)) < 0)
		return error;
	fs_iso8601(job->created_at, sizeof(job->created_at), 0);
	memcpy(job->updated_at, job->created_at, sizeof(job->updated_at));
	pthread_mutex_lock(&cat->lock);
	if ((error = cat_prep(cat, "INSERT INTO jobs(kind, args, state, progress, error, result, created_at,"
			       " updated_at) VALUES(?1,?2,?3,?4,?5,?6,?7,?7)", &st)) == 0) {
		cat_bind_text(st, 1, job->kind);
		cat_bind_text(st, 2, job->args);
		cat_bind_text(st, 3, job->state);
		cat_bind_text(st, 4, job->progress);
		cat_bind_text(st, 5, job->error);
		cat_bind_text(st, 6, job->result);
		cat_bind_text(st, 7, job->created_at);
		if ((error = cat_step_done(cat, st, "add job")) == 0)
			job->id = sqlite3_last_insert_rowid(cat->db);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&cat->lock);
	if (!error && id_out)
		*id_out = job->id;
	return error;
}

int catalog_job_get(struct catalog *cat, int64_t id, struct catalog_job *out)
{
	sqlite3_stmt *st = NULL;
	int rc, error;

	pthread_mutex_lock(&cat->lock);
	if ((error = cat_prep(cat, "SELECT " JOB_COLS " FROM jobs WHERE id = ?1", &st)) == 0) {
		sqlite3_bind_int64(st, 1, id);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			out->id = sqlite3_column_int64(st, 0);
			cat_col_text(out->kind, sizeof(out->kind), st, 1);
			cat_col_text(out->args, sizeof(out->args), st, 2);
			cat_col_text(out->state, sizeof(out->state), st, 3);
			cat_col_text(out->progress, sizeof(out->progress), st, 4);
			cat_col_text(out->error, sizeof(out->error), st, 5);
			cat_col_text(out->result, sizeof(out->result), st, 6);
			cat_col_text(out->created_at, sizeof(out->created_at), st, 7);
			cat_col_text(out->updated_at, sizeof(out->updated_at), st, 8);
		} else {
			error = rc == SQLITE_DONE ? err_set(-ENOENT, "no job %lld", (long long)id)
						  : cat_errno(cat, rc, "read job");
		}
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&cat->lock);
	return error;
}

int catalog_job_update(struct catalog *cat, const struct catalog_job *job, const char *expect_result)
{
	sqlite3_stmt *st = NULL;
	char ts[24];
	int error;

	if ((error = check_sizes(job)) < 0)
		return error;
	fs_iso8601(ts, sizeof(ts), 0);
	pthread_mutex_lock(&cat->lock);
	if ((error = cat_prep(cat, "UPDATE jobs SET state = ?2, progress = ?3, error = ?4, result = ?5,"
			       " updated_at = ?6 WHERE id = ?1 AND (?7 IS NULL OR result = ?7)", &st)) == 0) {
		sqlite3_bind_int64(st, 1, job->id);
		cat_bind_text(st, 2, job->state);
		cat_bind_text(st, 3, job->progress);
		cat_bind_text(st, 4, job->error);
		cat_bind_text(st, 5, job->result);
		cat_bind_text(st, 6, ts);
		if (expect_result)
			cat_bind_text(st, 7, expect_result);
		error = cat_step_done(cat, st, "update job");
		if (!error && !sqlite3_changes(cat->db))
			error = expect_result ? err_set(-EAGAIN, "job %lld changed meanwhile", (long long)job->id)
					      : err_set(-ENOENT, "no job %lld", (long long)job->id);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&cat->lock);
	return error;
}

int catalog_job_ids(struct catalog *cat, const char *const *skip, int64_t **ids, size_t *n)
{
	sqlite3_stmt *st = NULL;
	int64_t *v = NULL;
	size_t cnt = 0, cap = 0;
	int rc, error;

	*ids = NULL;
	*n = 0;
	pthread_mutex_lock(&cat->lock);
	if ((error = cat_prep(cat, "SELECT id, state FROM jobs ORDER BY id", &st)) < 0)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *state = (const char *)sqlite3_column_text(st, 1);
		int skipped = 0;

		for (size_t i = 0; skip && skip[i] && !skipped; i++)
			skipped = state && !strcmp(state, skip[i]);
		if (skipped)
			continue;
		if ((error = array_grow((void **)&v, &cap, cnt, sizeof(*v))) < 0)
			goto out;
		v[cnt++] = sqlite3_column_int64(st, 0);
	}
	if (rc != SQLITE_DONE)
		error = cat_errno(cat, rc, "list jobs");
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&cat->lock);
	if (error) {
		free(v);
		return error;
	}
	*ids = v;
	*n = cnt;
	return 0;
}
