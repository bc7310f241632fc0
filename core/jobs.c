/*
 * Job records, the foreground runner and the daemon's runner (see jobs.h).
 *
 * The daemon's runner is one worker thread.  It scans the unfinished jobs
 * every few seconds (and at once when kicked), runs each one that is due
 * until it has to wait, and sleeps until the earliest wake-up.  Waiting
 * jobs cost nothing between polls: their next poll time lives in memory
 * (`sched`), and after a restart every job is simply due at once.
 */
#include "jobs.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/pipeline.h"
#include "core/repo.h"
#include "util/array.h"
#include "util/err.h"
#include "util/log.h"

#define RESCAN_S 5          /* look for new or orphaned jobs this often */
#define RETRY_S 30          /* a step that could not run (catalog busy) is retried after this */

static const struct job_kind kinds[] = {
	{ "cvat", pipeline_cvat_step, pipeline_cvat_is_final },
};

const struct job_kind *job_kind_find(const char *name)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kinds[i].name, name))
			return &kinds[i];
	return NULL;
}

/* ---- key=value lines ---- */

/* The line of `key` in text: start of the line, or NULL. */
static const char *kv_line(const char *text, const char *key)
{
	size_t klen = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, klen) && p[klen] == '=')
			return p;
	return NULL;
}

int job_kv_get(const char *text, const char *key, char *out, size_t size)
{
	const char *p = kv_line(text, key), *v, *end;
	size_t n;

	if (size)
		out[0] = '\0';
	if (!p)
		return 0;
	v = p + strlen(key) + 1;
	end = strchr(v, '\n');
	n = end ? (size_t)(end - v) : strlen(v);
	if (size) {
		if (n >= size)
			n = size - 1;
		memcpy(out, v, n);
		out[n] = '\0';
	}
	return 1;
}

int64_t job_kv_int(const char *text, const char *key, int64_t def)
{
	char v[32], *end;
	long long x;

	if (!job_kv_get(text, key, v, sizeof(v)) || !v[0])
		return def;
	x = strtoll(v, &end, 10);
	return *end ? def : (int64_t)x;
}

int job_kv_set(char *text, size_t size, const char *key, const char *val)
{
	const char *old = kv_line(text, key), *end = old ? strchr(old, '\n') : NULL;
	size_t len = strlen(text);
	size_t from = old ? (size_t)(old - text) : len, to = end ? (size_t)(end - text) + 1 : len;

	if (strchr(val, '\n') || strchr(key, '\n') || strchr(key, '='))
		return err_set(-EINVAL, "job %s: a value may not hold a newline", key);
	/* Check the room first: a refused set leaves the text as it was. */
	if (len - (to - from) + strlen(key) + 1 + strlen(val) + 1 >= size)
		return err_set(-E2BIG, "job record too long (%s)", key);
	memmove(text + from, text + to, len - to + 1);
	len -= to - from;
	snprintf(text + len, size - len, "%s=%s\n", key, val);
	return 0;
}

int job_kv_set_int(char *text, size_t size, const char *key, int64_t val)
{
	char v[32];

	snprintf(v, sizeof(v), "%" PRId64, val);
	return job_kv_set(text, size, key, v);
}

/* ---- records ---- */

int job_create(struct catalog_job *out, struct repo *repo, const char *kind, const char *args,
	       const char *state, const char *result)
{
	memset(out, 0, sizeof(*out));
	if (strlen(args) >= sizeof(out->args) || (result && strlen(result) >= sizeof(out->result) - 32))
		return err_set(-E2BIG, "job arguments too long");
	if (result)
		snprintf(out->result, sizeof(out->result), "%s", result);
	snprintf(out->kind, sizeof(out->kind), "%s", kind);
	snprintf(out->args, sizeof(out->args), "%s", args);
	snprintf(out->state, sizeof(out->state), "%s", state);
	job_kv_set_int(out->result, sizeof(out->result), "owner", (int64_t)getpid());
	return catalog_job_add(repo->cat, out, NULL);
}

int job_save(struct repo *repo, struct catalog_job *job)
{
	return catalog_job_update(repo->cat, job, NULL);
}

int job_fail(struct repo *repo, struct catalog_job *job, const char *reason)
{
	LOG_E("job %" PRId64 " (%s) failed in state %s: %s", job->id, job->kind, job->state, reason);
	snprintf(job->error, sizeof(job->error), "%s", reason);
	snprintf(job->state, sizeof(job->state), "failed");
	return job_save(repo, job);
}

/* Append `text`'s key=value lines as indented "key: value" lines. */
static void kv_yaml(struct buf *out, const char *text)
{
	for (const char *p = text; *p;) {
		const char *end = strchr(p, '\n'), *eq;
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if ((eq = memchr(p, '=', n)))
			buf_printf(out, "  %.*s: %.*s\n", (int)(eq - p), p, (int)(n - (size_t)(eq - p) - 1), eq + 1);
		p += n + (end ? 1 : 0);
	}
}

int job_status_text(struct buf *out, struct repo *repo, int64_t id)
{
	struct catalog_job *job = malloc(sizeof(*job));
	char task[32];
	int error;

	if (!job)
		return err_set(-ENOMEM, "out of memory");
	if ((error = catalog_job_get(repo->cat, id, job)) == 0) {
		buf_printf(out, "id: %" PRId64 "\nkind: %s\nstate: %s\nprogress: %s\n", job->id, job->kind,
			   job->state, job->progress);
		if (job_kv_get(job->result, "task_id", task, sizeof(task)))
			buf_printf(out, "task_id: %s\n", task);
		buf_printf(out, "error: %s\ncreated_at: %s\nupdated_at: %s\nargs:\n", job->error,
			   job->created_at, job->updated_at);
		kv_yaml(out, job->args);
		buf_puts(out, "result:\n");
		kv_yaml(out, job->result);
	}
	free(job);
	return error;
}

/* ---- ownership ---- */

/* Is process `pid` alive (a zombie is not: it will never run a step again)? */
static int process_alive(int64_t pid)
{
	char path[64], buf[256];
	FILE *f;
	char *paren;

	if (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno == ESRCH))
		return 0;
	snprintf(path, sizeof(path), "/proc/%" PRId64 "/stat", pid);
	if (!(f = fopen(path, "r")))
		return 1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	paren = strrchr(buf, ')');
	return !(paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X'));
}

int job_owner_alive(const struct catalog_job *job)
{
	return process_alive(job_kv_int(job->result, "owner", 0));
}

/*
 * May this process run `job`?  Takes it over (compare-and-swap on the
 * result) when its owner is gone.  1 = yes, 0 = another live process runs it.
 */
static int job_claim(struct repo *repo, struct catalog_job *job)
{
	int64_t me = getpid(), owner = job_kv_int(job->result, "owner", 0);
	char *old;
	int error;

	if (owner == me)
		return 1;
	if (job_kv_int(job->result, "resume", 1) == 0)
		return 0;
	if (process_alive(owner))
		return 0;
	if (!(old = strdup(job->result)))
		return 0;
	job_kv_set_int(job->result, sizeof(job->result), "owner", me);
	error = catalog_job_update(repo->cat, job, old);
	free(old);
	if (error) {
		LOG_D("job %" PRId64 ": not claimed: %s", job->id, err_msg(error));
		return 0;
	}
	LOG_AT(LOG_NOTICE, "job %" PRId64 ": resumed in state %s (its runner, pid %" PRId64 ", is gone)",
	       job->id, job->state, owner);
	return 1;
}

/* ---- foreground ---- */

static void report_change(const struct catalog_job *job, char *last, size_t size)
{
	char now[sizeof(job->state) + sizeof(job->progress) + 2];

	snprintf(now, sizeof(now), "%s%s%s", job->state, job->progress[0] ? ": " : "", job->progress);
	if (strcmp(now, last)) {
		LOG_AT(LOG_NOTICE, "job %" PRId64 ": %s", job->id, now);
		snprintf(last, size, "%s", now);
	}
}

int job_run_foreground(struct repo *repo, int64_t id)
{
	struct catalog_job *job = malloc(sizeof(*job));
	const struct job_kind *kind;
	struct job_run run = { .repo = repo };
	char last[256] = "";
	int error, rc;

	if (!job)
		return err_set(-ENOMEM, "out of memory");
	for (;;) {
		if ((error = catalog_job_get(repo->cat, id, job)) < 0)
			break;
		if (!(kind = job_kind_find(job->kind))) {
			error = err_set(-EINVAL, "job %" PRId64 ": unknown kind '%s'", id, job->kind);
			break;
		}
		report_change(job, last, sizeof(last));
		if (kind->is_final(job)) {
			error = strcmp(job->state, "failed") ? 0
				: err_set(-EIO, "job %" PRId64 " failed: %s", id, job->error);
			break;
		}
		if (!job_claim(repo, job)) {
			error = err_set(-EBUSY, "job %" PRId64 " is run by process %" PRId64, id,
					job_kv_int(job->result, "owner", 0));
			break;
		}
		rc = kind->step(&run, job);
		if (rc < 0) {
			error = rc;
			break;
		}
		if (rc == JOB_WAIT) {
			report_change(job, last, sizeof(last));
			while (time(NULL) < run.wake_at)
				sleep(1);
		}
	}
	free(job);
	return error;
}

/* ---- the daemon's runner ---- */

struct sched {
	int64_t id;
	time_t next;   /* not due before */
};

struct jobs {
	struct repo *repo;
	pthread_t thread;
	int running;
	pthread_mutex_t mu;
	pthread_cond_t cond;     /* CLOCK_MONOTONIC */
	atomic_int stopping;     /* read by the cancel callback without mu */
	int kicked;              /* protected by mu */
	struct sched *sched;     /* worker thread only */
	size_t nsched, capsched;
};

static int runner_cancel(void *payload)
{
	struct jobs *j = payload;
	return atomic_load(&j->stopping);
}

static struct sched *sched_get(struct jobs *j, int64_t id)
{
	for (size_t i = 0; i < j->nsched; i++)
		if (j->sched[i].id == id)
			return &j->sched[i];
	if (array_grow((void **)&j->sched, &j->capsched, j->nsched, sizeof(*j->sched)) < 0)
		return NULL;
	j->sched[j->nsched] = (struct sched){ id, 0 };
	return &j->sched[j->nsched++];
}

/* Run job `id` if due, until it waits or ends; lower *next to its wake-up. */
static void runner_job(struct jobs *j, struct catalog_job *job, int64_t id, time_t *next)
{
	struct sched *s = sched_get(j, id);
	const struct job_kind *kind;
	struct job_run run = { .repo = j->repo, .cancel = runner_cancel, .cancel_payload = j };
	int rc;

	if (!s)
		return;
	if (s->next > time(NULL)) {
		if (s->next < *next)
			*next = s->next;
		return;
	}
	if (catalog_job_get(j->repo->cat, id, job) < 0 || !(kind = job_kind_find(job->kind)) ||
	    kind->is_final(job) || job_kv_int(job->result, "resume", 1) == 0 ||
	    !job_claim(j->repo, job))
		return;
	do {
		err_clear();
		rc = kind->step(&run, job);
	} while (rc == JOB_AGAIN && !atomic_load(&j->stopping));
	if (rc == JOB_WAIT) {
		s->next = run.wake_at;
	} else if (rc < 0 && rc != -ECANCELED) {
		LOG_W("job %" PRId64 ": %s; trying again in %d s", id, err_msg(rc), RETRY_S);
		s->next = time(NULL) + RETRY_S;
	}
	if (s->next > time(NULL) && s->next < *next)
		*next = s->next;
}

static void *runner_main(void *arg)
{
	static const char *const finished[] = { "failed", "committed", NULL };
	struct jobs *j = arg;
	struct catalog_job *job = malloc(sizeof(*job));
	struct timespec until;
	int64_t *ids;
	size_t n;

	if (!job) {
		LOG_E("jobs: out of memory; jobs will not run");
		return NULL;
	}
	while (!atomic_load(&j->stopping)) {
		time_t now = time(NULL), next = now + RESCAN_S;

		if (catalog_job_ids(j->repo->cat, finished, &ids, &n) == 0) {
			for (size_t i = 0; i < n && !atomic_load(&j->stopping); i++)
				runner_job(j, job, ids[i], &next);
			free(ids);
		} else {
			LOG_W("jobs: %s", err_last());
		}
		now = time(NULL);
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += next > now ? next - now : 0;
		pthread_mutex_lock(&j->mu);
		while (!j->kicked && !atomic_load(&j->stopping) &&
		       pthread_cond_timedwait(&j->cond, &j->mu, &until) != ETIMEDOUT)
			;
		j->kicked = 0;
		pthread_mutex_unlock(&j->mu);
	}
	free(job);
	return NULL;
}

int jobs_start(struct jobs **out, struct repo *repo)
{
	struct jobs *j = calloc(1, sizeof(*j));
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	if (!j)
		return err_set(-ENOMEM, "out of memory");
	j->repo = repo;
	atomic_init(&j->stopping, 0);
	pthread_mutex_init(&j->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cond, &ca);
	pthread_condattr_destroy(&ca);
	if ((rc = pthread_create(&j->thread, NULL, runner_main, j)) != 0) {
		jobs_stop(j);
		return err_set(-rc, "cannot start the job runner: %s", strerror(rc));
	}
	j->running = 1;
	repo->jobs = j;
	*out = j;
	return 0;
}

void jobs_kick(struct jobs *j)
{
	if (!j)
		return;
	pthread_mutex_lock(&j->mu);
	j->kicked = 1;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->mu);
}

void jobs_stop(struct jobs *j)
{
	if (!j)
		return;
	pthread_mutex_lock(&j->mu);
	atomic_store(&j->stopping, 1);
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->mu);
	if (j->running)
		pthread_join(j->thread, NULL);
	if (j->repo->jobs == j)
		j->repo->jobs = NULL;
	pthread_cond_destroy(&j->cond);
	pthread_mutex_destroy(&j->mu);
	free(j->sched);
	free(j);
}
