/*
 * Jobs: pipelines that outlive one request (waiting days for annotators),
 * recorded in the catalog's jobs table so that a restarted daemon resumes
 * them.
 *
 * A job is a state machine owned by its kind (core/pipeline.c for "cvat").
 * The kind's step function advances a job by one step and writes the new
 * state to the catalog before returning, so a crash between steps loses
 * nothing; each step is written to be safe to re-run (a step interrupted
 * half-way runs again from its start).
 *
 * Who runs a job: the process named by "owner=<pid>" in the job's result.
 * The daemon's runner (jobs_start, one worker thread per mount) takes over
 * every unfinished job whose owner is itself, 0, or a process that no
 * longer exists -- a daemon killed while waiting, or a `dsfs cvat` in a
 * terminal that was closed.  (A recycled pid can delay a takeover until
 * that process exits; the claim itself is a compare-and-swap, so two
 * runners never both take one job.)  The command line runs its own job in
 * the foreground with job_run_foreground().
 *
 * A job whose result holds "resume=0" is run only by the request that
 * made it (ctl/cvat wait=no runs its steps inside the write); runners
 * never take it over.
 *
 * args and result are "key=value" lines (values end at the newline).
 */
#ifndef DSFS_CORE_JOBS_H
#define DSFS_CORE_JOBS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store/catalog.h"
#include "util/buf.h"

struct repo;
struct jobs;

/* What a step function returns (or a negative errno: see job_kind.step). */
enum job_step_rc {
	JOB_FINAL = 0,   /* the job reached a final state */
	JOB_AGAIN = 1,   /* it moved on: call again now */
	JOB_WAIT = 2,    /* nothing to do before run->wake_at */
};

/* The environment of one step. */
struct job_run {
	struct repo *repo;
	int (*cancel)(void *payload);   /* nonzero = stop soon (-ECANCELED) */
	void *cancel_payload;
	time_t wake_at;                 /* OUT: for JOB_WAIT */
};

struct job_kind {
	const char *name;
	/*
	 * Advance `job` (read fresh from the catalog) by one step and record
	 * the outcome in the catalog (job is updated in memory as well).
	 * Failures of the pipeline itself are recorded as state "failed"
	 * with the reason and return JOB_FINAL; a negative errno means the
	 * step could not run at all (-ECANCELED, the catalog failed) and
	 * left the job as it was.
	 */
	int (*step)(struct job_run *run, struct catalog_job *job);
	/* Is `job` finished (nothing left to run)? */
	int (*is_final)(const struct catalog_job *job);
};

/* The kind named `name`, or NULL. */
const struct job_kind *job_kind_find(const char *name);

/* ---- key=value lines of args/result ---- */

/* Copy the value of `key` into out[size] (""/0 if absent).  Returns 1 if present. */
int job_kv_get(const char *text, const char *key, char *out, size_t size);
int64_t job_kv_int(const char *text, const char *key, int64_t def);
/* Set `key` in text[size] (replacing an old value).  -E2BIG; -EINVAL for a newline in val. */
int job_kv_set(char *text, size_t size, const char *key, const char *val);
int job_kv_set_int(char *text, size_t size, const char *key, int64_t val);

/* ---- records ---- */

/*
 * Record a new job of `kind` with `args` in `state`, owned by this
 * process, its result starting with the key=value lines of `result` (may
 * be NULL).  *out receives the record (with its id).  The record is
 * complete when it appears: a runner may take it at once.
 */
int job_create(struct catalog_job *out, struct repo *repo, const char *kind, const char *args,
	       const char *state, const char *result);
/* Write job's state/progress/error/result to the catalog. */
int job_save(struct repo *repo, struct catalog_job *job);
/* Move the job to "failed" with `reason` (also logged). */
int job_fail(struct repo *repo, struct catalog_job *job, const char *reason);

/*
 * Is the process that owns `job` (owner=<pid> in its result) alive?  A job
 * whose owner is gone is abandoned until a runner takes it over.
 */
int job_owner_alive(const struct catalog_job *job);

/*
 * The status of job `id` as "key: value" lines (ctl/jobs/<id>): id, kind,
 * state, progress, task_id, error, timestamps, then args and result.
 * -ENOENT if there is no such job.
 */
int job_status_text(struct buf *out, struct repo *repo, int64_t id);

/*
 * Run job `id` here until it is final, sleeping between polls and logging
 * each change of state or progress at NOTICE (the command line prints
 * those).  Returns 0 when the job ended well, -EIO with the job's error
 * when it failed.
 */
int job_run_foreground(struct repo *repo, int64_t id);

/* ---- the daemon's runner ---- */

/*
 * Start the worker thread that runs and resumes jobs, and set repo->jobs.
 * Call after the process daemonized (threads do not survive fork).
 */
int jobs_start(struct jobs **out, struct repo *repo);
/* Wake the worker: a job was added. */
void jobs_kick(struct jobs *j);
/*
 * Stop: cancel the step in progress (its job stays in its state, to be
 * resumed by the next runner), join the worker, clear repo->jobs, free.
 * NULL-safe.
 */
void jobs_stop(struct jobs *j);

#endif
