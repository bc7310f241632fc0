/*
 * The CVAT labeling pipeline (see pipeline.h).
 *
 * Every step reads what it needs from the job record (args: what the user
 * asked, resolved at submission; result: what earlier steps learned --
 * project_id, task_id, upload_rq, waiting_since) and writes its outcome
 * back before returning, so any step can be re-run after a restart.  The
 * dataset changes in exactly two places, both all-or-nothing: import_coco
 * (one transaction) and version_commit.  Everything before them only talks
 * to CVAT, so a failure anywhere leaves the dataset as it was -- except for
 * a batch the verb made for the job (size=...), which the failing job
 * removes again as long as CVAT has no task for it (unmake_batch).
 *
 * One task per batch: the verb refuses to send a labeled batch again and
 * resumes a batch's existing task instead of making another (run_guard);
 * only new_task=yes asks for a second task on purpose.
 */
#include "pipeline.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/batch.h"
#include "core/jobs.h"
#include "core/labelimport.h"
#include "core/repo.h"
#include "core/version.h"
#include "store/blob.h"
#include "store/catalog.h"
#include "store/config.h"
#include "sync/cvat.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/kv.h"
#include "util/log.h"

/* The job's arguments, as resolved at submission. */
struct pargs {
	char action[8];                   /* run | pull */
	char batch[64];
	char label_set[CATALOG_NAME_MAX];
	char project[256];
	char labels[1024];                /* comma-separated */
	char message[512];
	int wait, commit;
};

static void pargs_read(struct pargs *a, const struct catalog_job *job)
{
	char v[8];

	job_kv_get(job->args, "action", a->action, sizeof(a->action));
	job_kv_get(job->args, "batch", a->batch, sizeof(a->batch));
	job_kv_get(job->args, "label_set", a->label_set, sizeof(a->label_set));
	job_kv_get(job->args, "project", a->project, sizeof(a->project));
	job_kv_get(job->args, "labels", a->labels, sizeof(a->labels));
	job_kv_get(job->args, "message", a->message, sizeof(a->message));
	job_kv_get(job->args, "wait", v, sizeof(v));
	a->wait = strcmp(v, "no") != 0;
	job_kv_get(job->args, "commit", v, sizeof(v));
	a->commit = !strcmp(v, "yes");
}

/* Settings from dsfs.yaml that the steps need (not the client's). */
struct psettings {
	int64_t poll_interval;   /* s between checks of the task's jobs */
	int64_t timeout;         /* s of waiting before giving up */
	int64_t poll_errors;     /* failed polls in a row before giving up */
	enum cvat_done done;
	int64_t segment_size;
	int64_t image_quality;
};

static int settings_read(struct psettings *s, const struct config *cfg)
{
	const char *done = config_get(cfg, "cvat.done", "state");
	int error;

	if ((error = config_get_int(cfg, "cvat.poll_interval", 60, &s->poll_interval)) < 0 ||
	    (error = config_get_int(cfg, "cvat.timeout", 7 * 24 * 3600, &s->timeout)) < 0 ||
	    (error = config_get_int(cfg, "cvat.poll_errors", 10, &s->poll_errors)) < 0 ||
	    (error = config_get_int(cfg, "cvat.segment_size", 0, &s->segment_size)) < 0 ||
	    (error = config_get_int(cfg, "cvat.image_quality", 70, &s->image_quality)) < 0)
		return error;
	if (s->poll_interval < 1)
		return err_set(-EINVAL, "cvat.poll_interval must be at least 1 (seconds)");
	if (s->image_quality < 0 || s->image_quality > 100)
		return err_set(-EINVAL, "cvat.image_quality must be 0..100");
	if (!strcmp(done, "state"))
		s->done = CVAT_DONE_STATE;
	else if (!strcmp(done, "accepted"))
		s->done = CVAT_DONE_ACCEPTED;
	else
		return err_set(-EINVAL, "cvat.done: expected state or accepted, got '%s'", done);
	return 0;
}

/*
 * The secret named by dsfs.yaml (caller frees with free_secret).  A missing
 * one is an access error that names the keys to set.
 */
static int secret_read(char **out, const struct config *cfg)
{
	int error = config_secret(out, cfg, "cvat.token");

	if (error == -ENOENT)
		return err_set(-EACCES, "no CVAT credentials: set cvat.token_env (an environment variable)"
					" or cvat.token_file (a 0600 file) in dsfs.yaml");
	return error;
}

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* A CVAT client configured from dsfs.yaml (cvat.*). */
static int client_open(struct cvat **out, struct repo *repo, const struct job_run *run,
		       const struct psettings *ps)
{
	const struct config *cfg = repo->cfg;
	const char *url = config_get(cfg, "cvat.url", NULL), *auth = config_get(cfg, "cvat.auth", "bearer");
	struct cvat_opts o = { 0 };
	int64_t attempts, base_ms, max_ms, req_timeout;
	int insecure, error;
	char *secret = NULL;

	*out = NULL;
	if (!url || !*url)
		return err_set(-EINVAL, "cvat.url is not set in dsfs.yaml");
	if (!strcmp(auth, "bearer"))
		o.auth = CVAT_AUTH_BEARER;
	else if (!strcmp(auth, "token"))
		o.auth = CVAT_AUTH_TOKEN;
	else if (!strcmp(auth, "basic"))
		o.auth = CVAT_AUTH_BASIC;
	else
		return err_set(-EINVAL, "cvat.auth: expected bearer, token or basic, got '%s'", auth);
	if ((error = config_get_bool(cfg, "cvat.insecure", 0, &insecure)) < 0 ||
	    (error = config_get_int(cfg, "cvat.retries", 5, &attempts)) < 0 ||
	    (error = config_get_int(cfg, "cvat.retry_base_ms", 1000, &base_ms)) < 0 ||
	    (error = config_get_int(cfg, "cvat.retry_max_ms", 30000, &max_ms)) < 0 ||
	    (error = config_get_int(cfg, "cvat.request_timeout", 3600, &req_timeout)) < 0)
		return error;
	if (attempts < 1 || attempts > 20 || base_ms < 1 || max_ms < base_ms)
		return err_set(-EINVAL, "cvat.retries must be 1..20 and 1 <= cvat.retry_base_ms <= cvat.retry_max_ms");
	if ((error = secret_read(&secret, cfg)) < 0)
		return error;
	o.url = url;
	o.secret = secret;
	o.secret_key = "cvat.token";
	o.org = config_get(cfg, "cvat.org", NULL);
	o.insecure = insecure;
	/* CVAT's background requests (upload, export) take seconds: poll them at most every 3 s. */
	o.poll_ms = ps->poll_interval * 1000 < 3000 ? (long)ps->poll_interval * 1000 : 3000;
	o.wait_timeout_s = (long)req_timeout;
	o.max_attempts = (int)attempts;
	o.retry_base_ms = (long)base_ms;
	o.retry_max_ms = (long)max_ms;
	o.cancel = run->cancel;
	o.cancel_payload = run->cancel_payload;
	error = cvat_open(out, &o);
	free_secret(secret);
	return error;
}

/*
 * The job is failing before CVAT has a task for its batch: if the job made
 * that batch itself (batch_made=1, a size= run), remove it again so that its
 * images are free for the next batch -- a failed job leaves the dataset as
 * it was.  Never a batch the user named, nor one that got a task or labels
 * (catalog_batch_remove_unused checks that in its transaction).  Says so
 * at the end of msg.
 */
static void unmake_batch(struct repo *repo, struct catalog_job *job, char *msg, size_t size)
{
	char batch[64];
	size_t len = strlen(msg);
	int error;

	if (strcmp(job->state, "created") || job_kv_int(job->result, "batch_made", 0) != 1 ||
	    job_kv_int(job->result, "task_id", 0) > 0 || !job_kv_get(job->args, "batch", batch, sizeof(batch)))
		return;
	if ((error = catalog_batch_remove_unused(repo->cat, batch)) < 0) {
		LOG_W("job %" PRId64 ": the batch it made, %s, stays: %s", job->id, batch, err_msg(error));
		return;
	}
	job_kv_set(job->result, sizeof(job->result), "batch_made", "removed");
	LOG_I("job %" PRId64 ": removed batch %s (made by this job, never sent to CVAT)", job->id, batch);
	if (len < size)
		snprintf(msg + len, size - len, " (batch %s, made by this job, was removed)", batch);
}

/*
 * A step failed with `error` while doing `what`: record the job as failed
 * (JOB_FINAL), or hand a cancellation back untouched.
 */
static int step_failed(struct job_run *run, struct catalog_job *job, const char *what, int error)
{
	char msg[sizeof(job->error)];
	int rc;

	if (error == -ECANCELED)
		return -ECANCELED;
	snprintf(msg, sizeof(msg), "%s: %s", what, err_msg(error));
	unmake_batch(run->repo, job, msg, sizeof(msg));
	if ((rc = job_fail(run->repo, job, msg)) < 0)
		return rc;
	return JOB_FINAL;
}

/* Set state (and progress) and save. */
static int move_to(struct job_run *run, struct catalog_job *job, const char *state, const char *progress)
{
	if (strcmp(job->state, state)) {
		/* When each step was reached: <state>_at=ISO 8601 in the result. */
		char key[48], ts[24];

		snprintf(key, sizeof(key), "%s_at", state);
		fs_iso8601(ts, sizeof(ts), 0);
		job_kv_set(job->result, sizeof(job->result), key, ts);
	}
	snprintf(job->state, sizeof(job->state), "%s", state);
	snprintf(job->progress, sizeof(job->progress), "%s", progress ? progress : "");
	job->error[0] = '\0';
	return job_save(run->repo, job);
}

/* Split "a,b,c" (spaces allowed) into v[] (pointers into s, at most max). */
static size_t split_labels(char *s, const char **v, size_t max)
{
	size_t n = 0;
	char *save = NULL;

	for (char *t = strtok_r(s, ", ", &save); t && n < max; t = strtok_r(NULL, ", ", &save))
		v[n++] = t;
	return n;
}

/* created -> task_created: project and task in CVAT. */
static int step_create(struct job_run *run, struct catalog_job *job, const struct pargs *a,
		       struct cvat *c, const struct psettings *ps)
{
	char labels[sizeof(a->labels)];
	const char *v[256];
	struct catalog_batch b;
	int64_t project_id, task_id;
	size_t nl;
	int error;

	snprintf(labels, sizeof(labels), "%s", a->labels);
	nl = split_labels(labels, v, 256);
	if ((error = catalog_batch_get(run->repo->cat, a->batch, &b)) < 0)
		return step_failed(run, job, "batch", error);
	if (b.n_items == 0)
		return step_failed(run, job, "batch", err_set(-EINVAL, "batch %s is empty", b.id));
	if ((error = cvat_project_ensure(c, &project_id, a->project, v, nl)) < 0)
		return step_failed(run, job, "CVAT project", error);
	if ((error = cvat_task_create(c, &task_id, project_id, b.id, (int)ps->segment_size)) < 0)
		return step_failed(run, job, "CVAT task", error);
	/* Record the task at once: from here on every step refers to it. */
	if ((error = job_kv_set_int(job->result, sizeof(job->result), "project_id", project_id)) < 0 ||
	    (error = job_kv_set_int(job->result, sizeof(job->result), "task_id", task_id)) < 0)
		return step_failed(run, job, "job record", error);
	if ((error = move_to(run, job, "task_created", "uploading images")) < 0) {
		LOG_E("job %" PRId64 ": CVAT task %" PRId64 " created but not recorded: %s", job->id,
		      task_id, err_msg(error));
		return error;
	}
	if ((error = catalog_batch_set_state(run->repo->cat, b.id, "annotating", task_id)) < 0)
		LOG_W("job %" PRId64 ": batch %s: %s", job->id, b.id, err_msg(error));
	LOG_I("job %" PRId64 ": CVAT task %" PRId64 " for batch %s (project '%s')", job->id, task_id,
	      b.id, a->project);
	return JOB_AGAIN;
}

/* Upload the batch's images to the task, streamed from the blob store. */
static int upload(struct job_run *run, const struct pargs *a, struct cvat *c,
		  const struct psettings *ps, int64_t task_id, struct buf *rq)
{
	struct catalog_batch_item *items = NULL;
	struct cvat_file *files = NULL;
	char *paths = NULL;
	size_t n = 0;
	int error;

	if ((error = catalog_batch_items(run->repo->cat, a->batch, &items, &n)) < 0)
		return error;
	files = calloc(n ? n : 1, sizeof(*files));
	paths = calloc(n ? n : 1, PATH_MAX);
	if (!files || !paths) {
		error = err_set(-ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		struct blob_id id;
		int fd;

		/* blob_open fetches a blob a clone does not have yet. */
		if ((error = blob_id_parse(&id, items[i].img.id)) < 0 ||
		    (error = blob_open(&fd, run->repo->blobs, &id)) < 0)
			goto done;
		close(fd);
		if ((error = blob_path(paths + i * PATH_MAX, PATH_MAX, run->repo->blobs, &id)) < 0)
			goto done;
		files[i].name = items[i].name;
		files[i].path = paths + i * PATH_MAX;
	}
	error = cvat_task_upload(c, rq, task_id, files, n, (int)ps->image_quality);
done:
	free(paths);
	free(files);
	free(items);
	return error;
}

/* task_created: upload and wait until CVAT processed the images; then waiting. */
static int step_upload(struct job_run *run, struct catalog_job *job, const struct pargs *a,
		       struct cvat *c, const struct psettings *ps)
{
	int64_t task_id = job_kv_int(job->result, "task_id", 0), size = 0;
	struct catalog_batch b;
	struct buf rq = BUF_INIT;
	char rq_id[256] = "";
	int error, have_rq;

	if ((error = catalog_batch_get(run->repo->cat, a->batch, &b)) < 0)
		return step_failed(run, job, "batch", error);
	have_rq = job_kv_get(job->result, "upload_rq", rq_id, sizeof(rq_id));
	if (!have_rq) {
		/* Resumed after a crash during the upload: CVAT may have the data already. */
		if ((error = cvat_task_size(c, task_id, &size)) == -ENOENT)
			error = err_set(-ENOENT, "CVAT has no task %" PRId64 " (deleted?): send batch %s "
					"again as a new task with new_task=yes", task_id, a->batch);
		if (error < 0)
			return step_failed(run, job, "CVAT task", error);
		if (size == 0) {
			if ((error = upload(run, a, c, ps, task_id, &rq)) < 0) {
				buf_release(&rq);
				return step_failed(run, job, "uploading images", error);
			}
			snprintf(rq_id, sizeof(rq_id), "%s", rq.ptr);
			buf_release(&rq);
			if ((error = job_kv_set(job->result, sizeof(job->result), "upload_rq", rq_id)) < 0 ||
			    (error = job_save(run->repo, job)) < 0)
				return error;
		}
	}
	if (size == 0 && (error = cvat_task_wait_data(c, task_id, rq_id, (size_t)b.n_items)) < 0)
		return step_failed(run, job, "CVAT processing the images", error);
	if ((error = job_kv_set(job->result, sizeof(job->result), "uploaded", "1")) < 0)
		return step_failed(run, job, "job record", error);
	if (!a->wait)
		return (error = move_to(run, job, "task_created", "images uploaded (wait=no)")) < 0 ? error : JOB_FINAL;
	if ((error = job_kv_set_int(job->result, sizeof(job->result), "waiting_since", (int64_t)time(NULL))) < 0)
		return step_failed(run, job, "job record", error);
	return (error = move_to(run, job, "waiting", "")) < 0 ? error : JOB_AGAIN;
}

/* waiting: one check of the task's jobs. */
static int step_wait(struct job_run *run, struct catalog_job *job, struct cvat *c,
		     const struct psettings *ps)
{
	int64_t task_id = job_kv_int(job->result, "task_id", 0);
	int64_t since = job_kv_int(job->result, "waiting_since", (int64_t)time(NULL));
	int64_t fails = job_kv_int(job->result, "poll_errors", 0);
	size_t done = 0, total = 0;
	char progress[sizeof(job->progress)];
	int error;

	error = cvat_jobs_progress(c, task_id, ps->done, &done, &total);
	if (error == -EIO || error == -ETIMEDOUT) {
		/* CVAT is down or overloaded: days of waiting should not end on one bad minute. */
		if (++fails >= ps->poll_errors)
			return step_failed(run, job, "checking the CVAT jobs", error);
		snprintf(job->error, sizeof(job->error), "poll %" PRId64 " of %" PRId64 " failed: %s", fails,
			 ps->poll_errors, err_msg(error));
		if ((error = job_kv_set_int(job->result, sizeof(job->result), "poll_errors", fails)) < 0 ||
		    (error = job_save(run->repo, job)) < 0)
			return error;
		run->wake_at = time(NULL) + ps->poll_interval;
		return JOB_WAIT;
	}
	if (error < 0)
		return step_failed(run, job, "checking the CVAT jobs", error);
	job_kv_set_int(job->result, sizeof(job->result), "poll_errors", 0);
	snprintf(progress, sizeof(progress), "%zu/%zu jobs completed", done, total);
	if (total > 0 && done == total)
		return (error = move_to(run, job, "pulling", progress)) < 0 ? error : JOB_AGAIN;
	if (time(NULL) - since >= ps->timeout)
		return step_failed(run, job, "waiting for the annotators",
				   err_set(-ETIMEDOUT, "CVAT task %" PRId64 " not done after %" PRId64
						       " s (%s; cvat.timeout)", task_id, ps->timeout, progress));
	if ((error = move_to(run, job, "waiting", progress)) < 0)
		return error;
	run->wake_at = time(NULL) + ps->poll_interval;
	return JOB_WAIT;
}

/* pulling: export COCO from CVAT and replace the batch's labels with it. */
static int step_pull(struct job_run *run, struct catalog_job *job, const struct pargs *a, struct cvat *c)
{
	int64_t task_id = job_kv_int(job->result, "task_id", 0);
	struct import_report rep;
	struct buf json = BUF_INIT;
	char source[64], progress[sizeof(job->progress)];
	int error;

	if ((error = cvat_export_coco(c, task_id, &json)) < 0) {
		buf_release(&json);
		return step_failed(run, job, "CVAT export", error);
	}
	snprintf(source, sizeof(source), "cvat:task/%" PRId64, task_id);
	error = import_coco(&rep, run->repo, json.ptr, json.len, a->label_set, a->batch, source);
	buf_release(&json);
	if (error < 0)
		return step_failed(run, job, "importing the CVAT annotations", error);
	if ((error = catalog_batch_set_state(run->repo->cat, a->batch, "labeled", task_id)) < 0)
		LOG_W("job %" PRId64 ": batch %s: %s", job->id, a->batch, err_msg(error));
	job_kv_set_int(job->result, sizeof(job->result), "images_labeled", (int64_t)rep.images_labeled);
	job_kv_set_int(job->result, sizeof(job->result), "boxes", (int64_t)rep.boxes);
	job_kv_set_int(job->result, sizeof(job->result), "negatives", (int64_t)rep.negatives);
	job_kv_set_int(job->result, sizeof(job->result), "unknown_images", (int64_t)rep.unknown_images);
	snprintf(progress, sizeof(progress), "%zu images, %zu boxes imported", rep.images_labeled, rep.boxes);
	LOG_I("job %" PRId64 ": batch %s: %s from CVAT task %" PRId64, job->id, a->batch, progress, task_id);
	if ((error = move_to(run, job, "imported", progress)) < 0)
		return error;
	return a->commit ? JOB_AGAIN : JOB_FINAL;
}

/* imported -> committed: a new version. */
static int step_commit(struct job_run *run, struct catalog_job *job, const struct pargs *a)
{
	struct version_info vi;
	char msg[sizeof(a->message) + 128];
	int error;

	if (a->message[0])
		snprintf(msg, sizeof(msg), "%s", a->message);
	else
		snprintf(msg, sizeof(msg), "labels of %s from CVAT task %" PRId64, a->batch,
			 job_kv_int(job->result, "task_id", 0));
	memset(&vi, 0, sizeof(vi));
	error = version_commit(&vi, run->repo, msg, 0);
	if (error == -EEXIST) {
		/* Same labels as the last version (a re-pull): that version already holds them. */
		job_kv_set(job->result, sizeof(job->result), "commit", err_last());
	} else if (error < 0) {
		return step_failed(run, job, "commit", error);
	} else {
		job_kv_set(job->result, sizeof(job->result), "version", vi.tag);
		LOG_I("job %" PRId64 ": committed %s", job->id, vi.tag);
	}
	return (error = move_to(run, job, "committed", vi.tag[0] ? vi.tag : "")) < 0 ? error : JOB_FINAL;
}

int pipeline_cvat_is_final(const struct catalog_job *job)
{
	struct pargs a;

	if (!strcmp(job->state, "failed") || !strcmp(job->state, "committed"))
		return 1;
	pargs_read(&a, job);
	if (!strcmp(job->state, "imported"))
		return !a.commit;
	if (!strcmp(job->state, "task_created"))
		return !a.wait && job_kv_int(job->result, "uploaded", 0) == 1;
	return 0;
}

int pipeline_cvat_step(struct job_run *run, struct catalog_job *job)
{
	struct psettings ps;
	struct pargs a;
	struct cvat *c = NULL;
	int error, rc;

	pargs_read(&a, job);
	if ((error = settings_read(&ps, run->repo->cfg)) < 0)
		return step_failed(run, job, "dsfs.yaml", error);
	if (!strcmp(job->state, "imported"))
		return a.commit ? step_commit(run, job, &a) : JOB_FINAL;
	if ((error = client_open(&c, run->repo, run, &ps)) < 0)
		return step_failed(run, job, "CVAT", error);
	if (!strcmp(job->state, "created"))
		rc = step_create(run, job, &a, c, &ps);
	else if (!strcmp(job->state, "task_created"))
		rc = step_upload(run, job, &a, c, &ps);
	else if (!strcmp(job->state, "waiting"))
		rc = step_wait(run, job, c, &ps);
	else if (!strcmp(job->state, "pulling"))
		rc = step_pull(run, job, &a, c);
	else
		rc = JOB_FINAL;
	cvat_close(c);
	return rc;
}

/* ---- the verb ---- */

static int yes_no(const struct kv *args, const char *key, int def, int *out)
{
	const char *v = kv_get(args, key, NULL);

	if (!v)
		*out = def;
	else if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
		*out = 1;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
		*out = 0;
	else
		return err_set(-EINVAL, "%s=%s: expected yes or no", key, v);
	return 0;
}

/* The label set's classes, comma-joined. */
static int labelset_labels(struct buf *out, struct repo *repo, const char *label_set)
{
	char **classes = NULL;
	size_t n = 0;
	int error = catalog_labelset_classes(repo->cat, label_set, &classes, &n);

	for (size_t i = 0; i < n && !error; i++)
		error = buf_printf(out, "%s%s", i ? "," : "", classes[i]);
	catalog_strings_free(classes, n);
	return error;
}

/* A new batch from the batch keys of the line (label_set= size= order= seed=). */
static int new_batch(struct catalog_batch *b, struct repo *repo, const struct kv *args)
{
	static const char *const keys[] = { "label_set", "size", "order", "seed", NULL };
	struct kv sub = KV_INIT;
	struct batch_opts opts;
	int error = 0;

	for (const char *const *k = keys; *k && !error; k++)
		if (kv_get(args, *k, NULL))
			error = kv_set(&sub, *k, kv_get(args, *k, NULL));
	if (!error && !(error = batch_opts_parse(&opts, &sub, repo)))
		error = batch_create(b, repo, &opts);
	kv_release(&sub);
	return error;
}

/*
 * The unfinished cvat jobs of batch `id` (action=run or pull).  A job whose
 * process is alive is running it: -EBUSY naming the job.  With `take` set,
 * an abandoned one (its process is gone) is marked failed -- the new job
 * does its work -- and *task_out gets the task it had recorded, if any.
 * The takeover is a compare-and-swap that also changes the owner, so a
 * runner that read the job before cannot claim it afterwards.
 */
static int batch_jobs(struct repo *repo, const char *id, int take, int64_t *task_out)
{
	static const char *const finished[] = { "failed", "committed", NULL };
	struct catalog_job *job = malloc(sizeof(*job));
	char batch[64], old[CATALOG_JOB_TEXT];
	int64_t *ids = NULL;
	size_t n = 0;
	int error;

	if (!job)
		return err_set(-ENOMEM, "out of memory");
	if ((error = catalog_job_ids(repo->cat, finished, &ids, &n)) < 0)
		goto done;
	for (size_t i = 0; i < n && !error; i++) {
		if (catalog_job_get(repo->cat, ids[i], job) < 0 || strcmp(job->kind, "cvat") ||
		    !job_kv_get(job->args, "batch", batch, sizeof(batch)) || strcmp(batch, id) ||
		    pipeline_cvat_is_final(job))
			continue;
		if (job_owner_alive(job)) {
			error = err_set(-EBUSY, "batch %s is in CVAT job %" PRId64 " (state %s, process %" PRId64
					"): wait for it (ctl/jobs/%" PRId64 ", dsfs jobs %" PRId64 ")", id, job->id,
					job->state, job_kv_int(job->result, "owner", 0), job->id, job->id);
			break;
		}
		if (!take)
			continue;
		if (job_kv_int(job->result, "task_id", 0) > 0)
			*task_out = job_kv_int(job->result, "task_id", 0);
		snprintf(old, sizeof(old), "%s", job->result);
		job_kv_set_int(job->result, sizeof(job->result), "owner", (int64_t)getpid());
		snprintf(job->error, sizeof(job->error), "abandoned in state %s (its process is gone); a new run of "
			 "batch %s took over", job->state, id);
		snprintf(job->state, sizeof(job->state), "failed");
		if ((error = catalog_job_update(repo->cat, job, old)) == -EAGAIN)
			error = err_set(-EBUSY, "batch %s: job %" PRId64 " was just resumed by another process "
					"(ctl/jobs/%" PRId64 ")", id, job->id, job->id);
		else if (!error)
			LOG_I("job %" PRId64 ": %s", job->id, job->error);
	}
done:
	free(ids);
	free(job);
	return error;
}

/*
 * action=run on an existing batch: never a second CVAT task for it unless
 * asked (new_task=yes).  A batch that is labeled or imported is refused;
 * one that has a task (annotating: a run that failed or was cut off while
 * the annotators work) is resumed: *task_out = that task, and the job only
 * uploads what is missing, waits and pulls.
 */
static int run_guard(struct repo *repo, const struct catalog_batch *b, const char *spec, int new_task,
		     int64_t *task_out)
{
	char pull[160] = "", task[48] = "no CVAT task";
	int64_t job_task = 0;
	int error;

	*task_out = 0;
	if ((error = batch_jobs(repo, b->id, 0, NULL)) < 0)
		return error;
	if (!new_task && (!strcmp(b->state, "labeled") || !strcmp(b->state, "imported"))) {
		if (b->cvat_task_id > 0)
			snprintf(task, sizeof(task), "CVAT task %" PRId64, b->cvat_task_id);
		if (b->cvat_task_id > 0)
			snprintf(pull, sizeof(pull), "action=pull batch=%s fetches its annotations from task %" PRId64
				 " again; ", b->id, b->cvat_task_id);
		return err_set(-EEXIST, "%sbatch %s is already labeled (state %s, %s): not sent to CVAT again. "
			       "%ssize=N makes a new batch; new_task=yes sends this one again as a new task",
			       !spec || !*spec || !strcmp(spec, "latest") ? "the latest " : "", b->id, b->state,
			       task, pull);
	}
	if ((error = batch_jobs(repo, b->id, 1, &job_task)) < 0)
		return error;
	if (!new_task)
		*task_out = b->cvat_task_id > 0 ? b->cvat_task_id : job_task;
	return 0;
}

/* Append the job's outcome lines. */
static void job_summary(struct buf *out, const struct catalog_job *job)
{
	char v[128];

	buf_printf(out, "state: %s\n", job->state);
	if (job->progress[0])
		buf_printf(out, "progress: %s\n", job->progress);
	if (job_kv_get(job->result, "task_id", v, sizeof(v)))
		buf_printf(out, "task_id: %s\n", v);
	if (job_kv_get(job->result, "version", v, sizeof(v)))
		buf_printf(out, "version: %s\n", v);
}

int pipeline_cvat_verb(struct repo *repo, const struct kv *args, struct buf *out)
{
	static const char *const keys[] = { "batch", "label_set", "size", "order", "seed", "project",
					    "labels", "wait", "commit", "message", "action", "new_task", NULL };
	const char *action = kv_get(args, "action", "run"), *ls = kv_get(args, "label_set", NULL);
	const char *batch = kv_get(args, "batch", NULL), *labels = kv_get(args, "labels", NULL);
	const char *project = kv_get(args, "project", NULL), *message = kv_get(args, "message", "");
	const char *url = config_get(repo->cfg, "cvat.url", NULL);
	int making = kv_get(args, "size", NULL) || kv_get(args, "order", NULL) || kv_get(args, "seed", NULL);
	struct catalog_job *job = NULL;
	struct catalog_batch b;
	struct psettings ps;
	struct buf lab = BUF_INIT;
	char jargs[CATALOG_JOB_TEXT] = "", *secret = NULL;
	int64_t resume_task = 0;
	int wait, commit, pull, new_task, made = 0, error;

	if ((error = kv_check(args, "cvat", keys)) < 0 || (error = yes_no(args, "wait", 1, &wait)) < 0 ||
	    (error = yes_no(args, "commit", 0, &commit)) < 0 || (error = yes_no(args, "new_task", 0, &new_task)) < 0)
		return error;
	if (strcmp(action, "run") && strcmp(action, "pull"))
		return err_set(-EINVAL, "action=%s: expected run or pull", action);
	pull = !strcmp(action, "pull");
	if (pull && new_task)
		return err_set(-EINVAL, "new_task=yes is for action=run (a pull fetches the batch's existing task)");
	if (making && (batch || pull))
		return err_set(-EINVAL, "give batch=ID, or size=/order=/seed= to make a new batch, not both");
	if (strchr(message, '\n'))
		return err_set(-EINVAL, "message= must be one line");
	/* Check the configuration before anything changes (a new batch, a job). */
	if (!url || !*url)
		return err_set(-EINVAL, "cvat.url is not set in dsfs.yaml");
	if ((error = settings_read(&ps, repo->cfg)) < 0 || (error = secret_read(&secret, repo->cfg)) < 0)
		return error;
	free_secret(secret);

	if (!making && (error = batch_resolve(&b, repo, batch)) < 0)
		return error;
	if (!making && ls && strcmp(ls, b.label_set))
		return err_set(-EINVAL, "batch %s belongs to label set '%s', not '%s'", b.id, b.label_set, ls);
	if (pull && b.cvat_task_id <= 0)
		return err_set(-EINVAL, "batch %s has no CVAT task yet (run ctl/cvat batch=%s first)", b.id, b.id);
	if (making)
		snprintf(b.label_set, sizeof(b.label_set), "%s", ls ? ls : "default");
	if ((!labels || !*labels) && (error = labelset_labels(&lab, repo, b.label_set)) < 0)
		goto done;
	if (!labels || !*labels)
		labels = lab.ptr;
	if (!*labels && !pull) {
		error = err_set(-EINVAL, "no labels for the CVAT project: give labels=a,b,c or add classes to label set '%s' (ctl/labelset)",
				b.label_set);
		goto done;
	}
	/* Never a second task for a batch by accident (run_guard); then make the new batch. */
	if (!making && !pull && (error = run_guard(repo, &b, batch, new_task, &resume_task)) < 0)
		goto done;
	if (making) {
		if ((error = new_batch(&b, repo, args)) < 0)
			goto done;
		made = 1;
	}
	if (!project || !*project)
		project = config_get(repo->cfg, "cvat.project", "dsfs");
	if ((error = job_kv_set(jargs, sizeof(jargs), "action", action)) < 0 ||
	    (error = job_kv_set(jargs, sizeof(jargs), "batch", b.id)) < 0 ||
	    (error = job_kv_set(jargs, sizeof(jargs), "label_set", b.label_set)) < 0 ||
	    (error = job_kv_set(jargs, sizeof(jargs), "project", project)) < 0 ||
	    (error = job_kv_set(jargs, sizeof(jargs), "labels", labels)) < 0 ||
	    (error = job_kv_set(jargs, sizeof(jargs), "wait", wait ? "yes" : "no")) < 0 ||
	    (error = job_kv_set(jargs, sizeof(jargs), "commit", commit ? "yes" : "no")) < 0 ||
	    (error = job_kv_set(jargs, sizeof(jargs), "message", message)) < 0)
		goto done;
	if (!(job = malloc(sizeof(*job)))) {
		error = err_set(-ENOMEM, "out of memory");
		goto done;
	}
	if ((error = job_create(job, repo, "cvat", jargs, pull ? "pulling" : resume_task ? "task_created" : "created")) < 0)
		goto done;
	if (pull && ((error = job_kv_set_int(job->result, sizeof(job->result), "task_id", b.cvat_task_id)) < 0 ||
		     (error = job_save(repo, job)) < 0))
		goto done;
	if (resume_task &&
	    ((error = job_kv_set_int(job->result, sizeof(job->result), "task_id", resume_task)) < 0 ||
	     (error = job_kv_set(job->result, sizeof(job->result), "task_reused", "1")) < 0 ||
	     (error = job_save(repo, job)) < 0))
		goto done;
	if (resume_task && b.cvat_task_id != resume_task &&
	    (error = catalog_batch_set_state(repo->cat, b.id, "annotating", resume_task)) < 0)
		goto done;
	/* From here on a failure of the job itself removes the batch it made (unmake_batch). */
	if (made && ((error = job_kv_set(job->result, sizeof(job->result), "batch_made", "1")) < 0 ||
		     (error = job_save(repo, job)) < 0))
		goto done;
	made = 0;
	LOG_I("job %" PRId64 ": cvat %s batch %s (label set %s)", job->id, action, b.id, b.label_set);
	if (resume_task)
		LOG_AT(LOG_NOTICE, "batch %s already has CVAT task %" PRId64 ": resuming it, no new task", b.id,
		       resume_task);
	buf_printf(out, "job_id: %" PRId64 "\nbatch_id: %s\nlabel_set: %s\n", job->id, b.id, b.label_set);
	if (resume_task)
		buf_printf(out, "resumed_task: %" PRId64 "\n", resume_task);

	if (!pull && !wait) {
		/* wait=no: create the task and upload here, then leave it to the annotators. */
		struct job_run run = { .repo = repo };
		int rc;

		if ((error = job_kv_set(job->result, sizeof(job->result), "resume", "0")) < 0 ||
		    (error = job_save(repo, job)) < 0)
			goto done;
		while ((rc = pipeline_cvat_step(&run, job)) == JOB_AGAIN)
			;
		if (rc < 0) {
			error = rc;
			goto done;
		}
	} else if (repo->jobs) {
		jobs_kick(repo->jobs);
		buf_printf(out, "state: %s\nstatus: ctl/jobs/%" PRId64 "\n", job->state, job->id);
		goto done;
	} else if ((error = job_run_foreground(repo, job->id)) < 0) {
		goto done;
	}
	if ((error = catalog_job_get(repo->cat, job->id, job)) < 0)
		goto done;
	if (!strcmp(job->state, "failed"))
		error = err_set(-EIO, "job %" PRId64 " failed: %s", job->id, job->error);
	else
		job_summary(out, job);
done:
	if (made && error < 0) {
		/* The batch was made for this line, but no job took it on: take it back. */
		if (job && job->id > 0)
			job_fail(repo, job, err_msg(error));
		if (catalog_batch_remove_unused(repo->cat, b.id) < 0)
			LOG_W("batch %s stays: %s", b.id, err_last());
	}
	free(job);
	buf_release(&lab);
	return error;
}
