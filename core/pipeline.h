/*
 * The labeling pipeline as one control verb (ctl/cvat, `dsfs cvat`):
 * batch -> CVAT task -> wait for the annotators -> pull the COCO export ->
 * import -> commit, recorded as a job ("cvat") so that it survives
 * restarts.
 *
 * Job states, in order (final ones marked *):
 *   created       the job is recorded; nothing sent to CVAT yet
 *   task_created  the task exists (task_id in the result and in the
 *                 batch's info.yaml); its images are being uploaded
 *                 (* with wait=no once the upload is processed)
 *   waiting       polling the task's jobs every cvat.poll_interval until
 *                 all are done (progress "C/T jobs completed"), at most
 *                 cvat.timeout seconds
 *   pulling       exporting COCO 1.0 from CVAT and importing it
 *   imported      the batch's labels are replaced (* with commit=no)
 *   committed *   version_commit() made vN (result: version=vN)
 *   failed *      the reason is in the job's error; the dataset is as it was
 *
 * Errors: a 401/403 fails at once with the config key to fix; connection
 * errors, 429 and 5xx are retried by sync/http (bounded, backoff with
 * jitter), and while waiting a poll that still fails is tried again at the
 * next poll, cvat.poll_errors times in a row at most; malformed answers
 * fail the job.  The CVAT secret is read from the environment or a 0600
 * file at each step and never stored in the job, the log or the dataset.
 */
#ifndef DSFS_CORE_PIPELINE_H
#define DSFS_CORE_PIPELINE_H

#include "util/buf.h"

struct repo;
struct kv;
struct job_run;
struct catalog_job;

/*
 * The verb.  Keys: batch=ID|latest, or label_set= size= order= seed= to make
 * a new batch first; project= (default cvat.project), labels=a,b,c
 * (default: the label set's classes), wait=yes|no (default yes),
 * commit=yes|no (default no), message= (commit message),
 * action=run|pull (pull: export and import the batch's task again, now),
 * new_task=yes (run: a new CVAT task even for a batch that has one).
 *
 * action=run gives a batch a second task only with new_task=yes: a labeled
 * or imported batch is refused (-EEXIST, naming its state and task and the
 * ways on), a batch with a task is resumed on it, a batch in a live job is
 * refused (-EBUSY).  A batch made by the line (size=...) is removed again
 * if its job fails before CVAT has a task for it.
 *
 * In the daemon (repo->jobs set) a waiting run returns at once with
 * "job_id: N"; on the command line it runs in the foreground.  wait=no
 * creates the task and uploads the images, then returns.
 */
int pipeline_cvat_verb(struct repo *repo, const struct kv *args, struct buf *out);

/* The "cvat" job kind (core/jobs.h). */
int pipeline_cvat_step(struct job_run *run, struct catalog_job *job);
int pipeline_cvat_is_final(const struct catalog_job *job);

#endif
