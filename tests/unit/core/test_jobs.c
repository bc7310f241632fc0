/*
 * Unit tests for core/jobs and the jobs table (store/catalog_jobs.c): the
 * key=value record helpers keep every other line intact and refuse what
 * they cannot store; catalog rows round-trip; the compare-and-swap update
 * refuses a stale writer; the id listing skips final states; the status
 * text shows what ctl/jobs/<id> promises; and the runner takes over a job
 * whose owner process is gone -- but never one a live process owns, nor a
 * "resume=0" job -- recording the pipeline's failure in the job.
 *
 * The cvat verb's guards (core/pipeline.c): a labeled or imported batch is
 * never sent to CVAT again (only new_task=yes does that); a batch that has
 * a task is resumed on that task, not given a second one; a batch another
 * live job works on is refused, an abandoned job's work is taken over; and
 * a batch the verb made for a job that fails before CVAT has a task is
 * removed again, in every way the job can run (wait=no, foreground, the
 * runner).  No network: the configured CVAT url is a closed port, so every
 * job that reaches CVAT fails at its first request.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/jobs.h"
#include "core/pipeline.h"
#include "core/repo.h"
#include "store/catalog.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/kv.h"

struct fx {
	char dir[64];
	struct repo *repo;
};

static int fx_setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char path[128];
	static const char yaml[] =
		"cvat:\n  url: http://127.0.0.1:1\n  token_env: DSFS_TEST_JOBS_TOKEN\n"
		"  poll_interval: 1\n  retries: 1\n";

	strcpy(fx->dir, "/tmp/dsfs-jobs-XXXXXX");
	if (!mkdtemp(fx->dir) || repo_init(fx->dir) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/dsfs.yaml", fx->dir);
	if (fs_write_file_atomic(path, yaml, sizeof(yaml) - 1, 0644) < 0 || repo_open(&fx->repo, fx->dir) < 0)
		return -1;
	setenv("DSFS_TEST_JOBS_TOKEN", "t0ken-unit", 1);
	*state = fx;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *fx = *state;

	repo_free(fx->repo);
	fs_rm_rf(fx->dir);
	free(fx);
	return 0;
}

/*
 * Wait until job `id` has failed (read into j).  Bounded only by the
 * test's own timeout: the worker's CVAT connect and retries under ASan on
 * a busy machine take what they take, and the test asserts the outcome,
 * never how soon it came.
 */
static void wait_failed(struct fx *fx, int64_t id, struct catalog_job *j)
{
	for (;;) {
		assert_int_equal(catalog_job_get(fx->repo->cat, id, j), 0);
		if (!strcmp(j->state, "failed"))
			return;
		usleep(20000);
	}
}

static void test_kv_lines(void **state)
{
	char text[64] = "";
	char v[16];

	(void)state;
	assert_int_equal(job_kv_set(text, sizeof(text), "a", "1"), 0);
	assert_int_equal(job_kv_set(text, sizeof(text), "ab", "two"), 0);
	assert_int_equal(job_kv_set_int(text, sizeof(text), "c", -3), 0);
	assert_string_equal(text, "a=1\nab=two\nc=-3\n");
	/* Replacing moves the key to the end and keeps the others byte for byte. */
	assert_int_equal(job_kv_set(text, sizeof(text), "a", "x y"), 0);
	assert_string_equal(text, "ab=two\nc=-3\na=x y\n");
	assert_int_equal(job_kv_get(text, "a", v, sizeof(v)), 1);
	assert_string_equal(v, "x y");
	assert_int_equal(job_kv_get(text, "b", v, sizeof(v)), 0); /* a prefix of "ab" is not "ab" */
	assert_string_equal(v, "");
	assert_int_equal(job_kv_int(text, "c", 0), -3);
	assert_int_equal(job_kv_int(text, "ab", 7), 7);            /* not a number: the default */
	assert_int_equal(job_kv_set(text, sizeof(text), "n", "a\nb"), -EINVAL);
	assert_int_equal(job_kv_set(text, sizeof(text), "long", "0123456789012345678901234567890123456789"), -E2BIG);
	assert_string_equal(text, "ab=two\nc=-3\na=x y\n");      /* a refused set changes nothing */
	/* Truncated reads stay terminated. */
	assert_int_equal(job_kv_get(text, "ab", v, 3), 1);
	assert_string_equal(v, "tw");
}

static void test_catalog_rows(void **state)
{
	struct fx *fx = *state;
	struct catalog_job *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	static const char *const skip[] = { "failed", "committed", NULL };
	int64_t *ids = NULL, id;
	size_t n = 0;
	char old[CATALOG_JOB_TEXT];

	assert_int_equal(job_create(a, fx->repo, "cvat", "batch=b1\n", "created", NULL), 0);
	id = a->id;
	assert_true(id > 0);
	assert_int_equal(catalog_job_get(fx->repo->cat, id, b), 0);
	assert_string_equal(b->kind, "cvat");
	assert_string_equal(b->args, "batch=b1\n");
	assert_string_equal(b->state, "created");
	assert_int_equal(job_kv_int(b->result, "owner", 0), getpid());
	assert_string_equal(b->created_at, a->created_at);

	/* Compare-and-swap: the second writer with a stale result loses. */
	snprintf(old, sizeof(old), "%s", b->result);
	job_kv_set(a->result, sizeof(a->result), "task_id", "9");
	assert_int_equal(catalog_job_update(fx->repo->cat, a, old), 0);
	job_kv_set(b->result, sizeof(b->result), "task_id", "10");
	assert_int_equal(catalog_job_update(fx->repo->cat, b, old), -EAGAIN);
	assert_int_equal(catalog_job_get(fx->repo->cat, id, b), 0);
	assert_int_equal(job_kv_int(b->result, "task_id", 0), 9);

	assert_int_equal(job_create(a, fx->repo, "cvat", "", "waiting", NULL), 0);
	assert_int_equal(job_fail(fx->repo, a, "boom"), 0);
	assert_int_equal(catalog_job_ids(fx->repo->cat, NULL, &ids, &n), 0);
	assert_int_equal(n, 2);
	free(ids);
	assert_int_equal(catalog_job_ids(fx->repo->cat, skip, &ids, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], id);
	free(ids);
	assert_int_equal(catalog_job_get(fx->repo->cat, 999, b), -ENOENT);

	/* Oversized records are refused, not cut. */
	memset(a->error, 'x', sizeof(a->error));
	assert_int_equal(catalog_job_update(fx->repo->cat, a, NULL), -E2BIG);
	free(a);
	free(b);
}

static void test_status_text(void **state)
{
	struct fx *fx = *state;
	struct catalog_job *j = calloc(1, sizeof(*j));
	struct buf out = BUF_INIT;

	assert_int_equal(job_create(j, fx->repo, "cvat", "batch=b2\nwait=yes\n", "waiting", NULL), 0);
	job_kv_set(j->result, sizeof(j->result), "task_id", "42");
	snprintf(j->progress, sizeof(j->progress), "1/3 jobs completed");
	assert_int_equal(job_save(fx->repo, j), 0);
	assert_int_equal(job_status_text(&out, fx->repo, j->id), 0);
	assert_non_null(strstr(out.ptr, "\nstate: waiting\n"));
	assert_non_null(strstr(out.ptr, "\nprogress: 1/3 jobs completed\n"));
	assert_non_null(strstr(out.ptr, "\ntask_id: 42\n"));
	assert_non_null(strstr(out.ptr, "\nargs:\n  batch: b2\n  wait: yes\n"));
	assert_non_null(strstr(out.ptr, "\ncreated_at: "));
	buf_release(&out);
	assert_int_equal(job_status_text(&out, fx->repo, 12345), -ENOENT);
	buf_release(&out);
	free(j);
}

/* A pid that certainly belongs to no process: a child that exited and was reaped. */
static int64_t dead_pid(void)
{
	pid_t p = fork();
	int st;

	if (p == 0)
		_exit(0);
	waitpid(p, &st, 0);
	return p;
}

static void test_runner_takeover(void **state)
{
	struct fx *fx = *state;
	struct catalog_job *orphan = calloc(1, sizeof(*orphan)), *alive = calloc(1, sizeof(*alive));
	struct catalog_job *pinned = calloc(1, sizeof(*pinned)), *j = calloc(1, sizeof(*j));
	static const char args[] = "action=run\nbatch=no_such_batch\nlabel_set=default\nproject=p\n"
				   "labels=a\nwait=yes\ncommit=no\n";
	struct jobs *runner = NULL;

	assert_int_equal(job_create(orphan, fx->repo, "cvat", args, "created", NULL), 0);
	job_kv_set_int(orphan->result, sizeof(orphan->result), "owner", dead_pid());
	assert_int_equal(job_save(fx->repo, orphan), 0);
	assert_int_equal(job_create(alive, fx->repo, "cvat", args, "created", NULL), 0);
	job_kv_set_int(alive->result, sizeof(alive->result), "owner", getppid());
	assert_int_equal(job_save(fx->repo, alive), 0);
	assert_int_equal(job_create(pinned, fx->repo, "cvat", args, "created", NULL), 0);
	job_kv_set_int(pinned->result, sizeof(pinned->result), "owner", dead_pid());
	job_kv_set(pinned->result, sizeof(pinned->result), "resume", "0");
	assert_int_equal(job_save(fx->repo, pinned), 0);

	assert_int_equal(jobs_start(&runner, fx->repo), 0);
	assert_ptr_equal(fx->repo->jobs, runner);
	jobs_kick(runner);
	wait_failed(fx, orphan->id, j);
	jobs_stop(runner);
	assert_null(fx->repo->jobs);
	assert_string_equal(j->state, "failed");
	assert_int_equal(job_kv_int(j->result, "owner", 0), getpid());
	assert_non_null(strstr(j->error, "no_such_batch"));
	assert_true(pipeline_cvat_is_final(j));

	assert_int_equal(catalog_job_get(fx->repo->cat, alive->id, j), 0);
	assert_string_equal(j->state, "created");
	assert_int_equal(job_kv_int(j->result, "owner", 0), getppid());
	assert_int_equal(catalog_job_get(fx->repo->cat, pinned->id, j), 0);
	assert_string_equal(j->state, "created");
	assert_false(pipeline_cvat_is_final(j));
	free(orphan);
	free(alive);
	free(pinned);
	free(j);
}

static void test_final_states(void **state)
{
	struct catalog_job *j = calloc(1, sizeof(*j));

	(void)state;
	snprintf(j->args, sizeof(j->args), "wait=no\ncommit=no\n");
	snprintf(j->state, sizeof(j->state), "task_created");
	assert_false(pipeline_cvat_is_final(j));         /* not uploaded yet */
	job_kv_set(j->result, sizeof(j->result), "uploaded", "1");
	assert_true(pipeline_cvat_is_final(j));
	snprintf(j->args, sizeof(j->args), "wait=yes\ncommit=yes\n");
	assert_false(pipeline_cvat_is_final(j));
	snprintf(j->state, sizeof(j->state), "imported");
	assert_false(pipeline_cvat_is_final(j));         /* commit still to do */
	snprintf(j->args, sizeof(j->args), "wait=yes\ncommit=no\n");
	assert_true(pipeline_cvat_is_final(j));
	snprintf(j->state, sizeof(j->state), "waiting");
	assert_false(pipeline_cvat_is_final(j));
	free(j);
}

/* ---- the cvat verb's guards ---- */

/* n fake image rows (no blobs: these jobs never get as far as an upload). */
static void add_images(struct fx *fx, int n)
{
	static const char *const classes[] = { "a", "b" };
	struct catalog_image img;

	assert_int_equal(catalog_labelset_add_classes(fx->repo->cat, "default", classes, 2, NULL), 0);
	for (int i = 0; i < n; i++) {
		memset(&img, 0, sizeof(img));
		snprintf(img.id, sizeof(img.id), "%032x", i + 1);
		snprintf(img.ext, sizeof(img.ext), "jpg");
		snprintf(img.name, sizeof(img.name), "img%d.jpg", i);
		snprintf(img.ingested_at, sizeof(img.ingested_at), "2026-01-01T00:00:%02dZ", i);
		img.width = 64;
		img.height = 48;
		assert_int_equal(catalog_image_add(fx->repo->cat, &img), 0);
	}
}

/* A batch `id` of images [first, first+n) made at `at`, then in `state` with `task`. */
static void add_batch(struct fx *fx, const char *id, const char *at, int first, int n, const char *state,
		      int64_t task)
{
	struct catalog_batch b;
	struct catalog_batch_item items[8];

	memset(&b, 0, sizeof(b));
	memset(items, 0, sizeof(items));
	snprintf(b.id, sizeof(b.id), "%s", id);
	snprintf(b.label_set, sizeof(b.label_set), "default");
	snprintf(b.created_at, sizeof(b.created_at), "%s", at);
	snprintf(b.state, sizeof(b.state), "open");
	for (int i = 0; i < n; i++) {
		snprintf(items[i].name, sizeof(items[i].name), "img%d.jpg", first + i);
		snprintf(items[i].img.id, sizeof(items[i].img.id), "%032x", first + i + 1);
	}
	assert_int_equal(catalog_batch_add(fx->repo->cat, &b, items, (size_t)n), 0);
	if (strcmp(state, "open") || task)
		assert_int_equal(catalog_batch_set_state(fx->repo->cat, id, state, task), 0);
}

static int verb(struct fx *fx, const char *line, struct buf *out)
{
	struct kv kv = KV_INIT;
	int error;

	buf_reset(out);
	assert_int_equal(kv_parse(&kv, line), 0);
	err_clear();
	error = pipeline_cvat_verb(fx->repo, &kv, out);
	kv_release(&kv);
	return error;
}

static size_t count_jobs(struct fx *fx)
{
	int64_t *ids = NULL;
	size_t n = 0;

	assert_int_equal(catalog_job_ids(fx->repo->cat, NULL, &ids, &n), 0);
	free(ids);
	return n;
}

static void assert_batch(struct fx *fx, const char *id, const char *state, int64_t task)
{
	struct catalog_batch b;

	assert_int_equal(catalog_batch_get(fx->repo->cat, id, &b), 0);
	assert_string_equal(b.state, state);
	assert_int_equal(b.cvat_task_id, task);
}

/* The newest job (they are made in order). */
static void last_job(struct fx *fx, struct catalog_job *j)
{
	int64_t *ids = NULL;
	size_t n = 0;

	assert_int_equal(catalog_job_ids(fx->repo->cat, NULL, &ids, &n), 0);
	assert_true(n > 0);
	assert_int_equal(catalog_job_get(fx->repo->cat, ids[n - 1], j), 0);
	free(ids);
}

static void test_labeled_batch_not_resent(void **state)
{
	struct fx *fx = *state;
	struct catalog_job *j = calloc(1, sizeof(*j));
	struct buf out = BUF_INIT;

	add_images(fx, 6);
	add_batch(fx, "b_imp", "2026-01-01T00:00:00Z", 0, 2, "imported", 0);
	add_batch(fx, "b_lab", "2026-01-02T00:00:00Z", 2, 2, "labeled", 2);

	/* The QA repro: batch=latest wait=no on a labeled batch with task 2. */
	assert_int_equal(verb(fx, "batch=latest wait=no", &out), -EEXIST);
	assert_non_null(strstr(err_last(), "the latest batch b_lab is already labeled (state labeled, CVAT task 2)"));
	assert_non_null(strstr(err_last(), "action=pull batch=b_lab"));
	assert_non_null(strstr(err_last(), "new_task=yes"));
	assert_int_equal(verb(fx, "batch=b_lab", &out), -EEXIST);  /* wait=yes too */
	/* Labeled by an import, without a task: refused, and no pull offered. */
	assert_int_equal(verb(fx, "batch=b_imp", &out), -EEXIST);
	assert_non_null(strstr(err_last(), "batch b_imp is already labeled (state imported, no CVAT task)"));
	assert_null(strstr(err_last(), "action=pull"));
	assert_int_equal(count_jobs(fx), 0);
	assert_batch(fx, "b_lab", "labeled", 2);
	assert_batch(fx, "b_imp", "imported", 0);

	/* new_task=yes: deliberately a new task (here CVAT is unreachable: the job fails at the project). */
	assert_int_equal(verb(fx, "batch=b_lab new_task=yes wait=no", &out), -EIO);
	last_job(fx, j);
	assert_string_equal(j->state, "failed");
	assert_non_null(strstr(j->error, "CVAT project"));
	assert_batch(fx, "b_lab", "labeled", 2);     /* a batch the user named is never removed */
	assert_int_equal(verb(fx, "action=pull batch=b_lab new_task=yes", &out), -EINVAL);
	buf_release(&out);
	free(j);
}

static void test_task_resumed(void **state)
{
	struct fx *fx = *state;
	struct catalog_job *j = calloc(1, sizeof(*j));
	struct buf out = BUF_INIT;
	char v[16];

	add_images(fx, 4);
	add_batch(fx, "b_ann", "2026-01-01T00:00:00Z", 0, 2, "annotating", 7);
	/* A run that failed while the annotators worked, run again: the same task, no new one. */
	assert_int_equal(verb(fx, "batch=latest wait=no", &out), -EIO);
	last_job(fx, j);
	assert_string_equal(j->state, "failed");
	assert_int_equal(job_kv_int(j->result, "task_id", 0), 7);
	assert_int_equal(job_kv_get(j->result, "task_reused", v, sizeof(v)), 1);
	/* It went straight to the task (GET /api/tasks/7), never to the project or a POST /api/tasks. */
	assert_non_null(strstr(j->error, "CVAT task:"));
	assert_null(strstr(j->error, "CVAT project"));
	assert_batch(fx, "b_ann", "annotating", 7);
	buf_release(&out);
	free(j);
}

static void test_batch_in_a_job(void **state)
{
	struct fx *fx = *state;
	struct catalog_job *other = calloc(1, sizeof(*other)), *j = calloc(1, sizeof(*j));
	static const char args[] = "action=run\nbatch=b_open\nlabel_set=default\nproject=p\n"
				   "labels=a\nwait=yes\ncommit=no\n";
	struct buf out = BUF_INIT;
	char msg[64];

	add_images(fx, 4);
	add_batch(fx, "b_open", "2026-01-01T00:00:00Z", 0, 2, "open", 0);
	/* A live process's job works on the batch: refused, naming the job. */
	assert_int_equal(job_create(other, fx->repo, "cvat", args, "created", NULL), 0);
	job_kv_set_int(other->result, sizeof(other->result), "owner", getppid());
	assert_int_equal(job_save(fx->repo, other), 0);
	assert_int_equal(verb(fx, "batch=b_open wait=no", &out), -EBUSY);
	snprintf(msg, sizeof(msg), "CVAT job %" PRId64 " (state created", other->id);
	assert_non_null(strstr(err_last(), msg));
	assert_int_equal(count_jobs(fx), 1);

	/* Its process died after CVAT made task 9 (the batch never learned it): the new run takes over task 9. */
	job_kv_set_int(other->result, sizeof(other->result), "owner", dead_pid());
	job_kv_set_int(other->result, sizeof(other->result), "task_id", 9);
	snprintf(other->state, sizeof(other->state), "task_created");
	assert_int_equal(job_save(fx->repo, other), 0);
	assert_int_equal(verb(fx, "batch=b_open wait=no", &out), -EIO);
	assert_int_equal(catalog_job_get(fx->repo->cat, other->id, j), 0);
	assert_string_equal(j->state, "failed");
	assert_non_null(strstr(j->error, "abandoned in state task_created"));
	assert_int_equal(job_kv_int(j->result, "owner", 0), getpid());  /* no runner can claim it now */
	last_job(fx, j);
	assert_true(j->id > other->id);
	assert_int_equal(job_kv_int(j->result, "task_id", 0), 9);
	assert_batch(fx, "b_open", "annotating", 9);
	buf_release(&out);
	free(other);
	free(j);
}

static size_t count_batches(struct fx *fx)
{
	struct catalog_batch *v = NULL;
	size_t n = 0;

	assert_int_equal(catalog_batches(fx->repo->cat, &v, &n), 0);
	free(v);
	return n;
}

static void test_failed_new_batch_removed(void **state)
{
	struct fx *fx = *state;
	struct catalog_job *j = calloc(1, sizeof(*j));
	struct catalog_image *cand = NULL;
	struct buf out = BUF_INIT;
	struct jobs *runner = NULL;
	size_t n = 0;

	add_images(fx, 6);
	/* In the write (wait=no), in the foreground (the command line): no batch is left. */
	assert_int_equal(verb(fx, "size=4 wait=no", &out), -EIO);
	assert_non_null(strstr(err_last(), "made by this job, was removed"));
	assert_int_equal(count_batches(fx), 0);
	assert_int_equal(verb(fx, "size=4", &out), -EIO);
	assert_int_equal(count_batches(fx), 0);
	last_job(fx, j);
	assert_string_equal(j->state, "failed");
	assert_non_null(strstr(j->error, "CVAT project"));

	/* In a mount the verb returns at once; the runner's failed job removes the batch. */
	assert_int_equal(jobs_start(&runner, fx->repo), 0);
	assert_int_equal(verb(fx, "size=4", &out), 0);
	assert_non_null(strstr(out.ptr, "job_id: "));
	assert_int_equal(count_batches(fx), 1);
	last_job(fx, j);
	wait_failed(fx, j->id, j);
	jobs_stop(runner);
	assert_string_equal(j->state, "failed");
	assert_string_equal(j->result + strlen(j->result) - strlen("batch_made=removed\n"), "batch_made=removed\n");
	assert_int_equal(count_batches(fx), 0);
	/* Every image is free for the next batch. */
	assert_int_equal(catalog_batch_candidates(fx->repo->cat, "default", CATALOG_ORDER_NEWEST, 0, 10, &cand, &n), 0);
	assert_int_equal(n, 6);
	free(cand);

	/* A batch the user named stays when its job fails. */
	add_batch(fx, "b_user", "2026-01-01T00:00:00Z", 0, 2, "open", 0);
	assert_int_equal(verb(fx, "batch=b_user wait=no", &out), -EIO);
	assert_batch(fx, "b_user", "open", 0);
	buf_release(&out);
	free(j);
}

static void test_batch_remove_unused(void **state)
{
	struct fx *fx = *state;
	struct catalog_batch_item *items = NULL;
	size_t n = 1;

	add_images(fx, 6);
	add_batch(fx, "b1", "2026-01-01T00:00:00Z", 0, 2, "open", 0);
	add_batch(fx, "b2", "2026-01-01T00:00:01Z", 2, 2, "annotating", 3);
	add_batch(fx, "b3", "2026-01-01T00:00:02Z", 4, 2, "labeled", 0);
	assert_int_equal(catalog_batch_remove_unused(fx->repo->cat, "b2"), -EBUSY);
	assert_non_null(strstr(err_last(), "CVAT task 3"));
	assert_int_equal(catalog_batch_remove_unused(fx->repo->cat, "b3"), -EBUSY);
	assert_int_equal(catalog_batch_remove_unused(fx->repo->cat, "nope"), -ENOENT);
	assert_int_equal(catalog_batch_remove_unused(fx->repo->cat, "b1"), 0);
	assert_int_equal(catalog_batch_get(fx->repo->cat, "b1", &(struct catalog_batch){ 0 }), -ENOENT);
	assert_int_equal(catalog_batch_items(fx->repo->cat, "b1", &items, &n), 0);
	assert_int_equal(n, 0);
	free(items);
	assert_int_equal(count_batches(fx), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kv_lines),
		cmocka_unit_test(test_final_states),
		cmocka_unit_test_setup_teardown(test_catalog_rows, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_status_text, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_runner_takeover, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_labeled_batch_not_resent, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_task_resumed, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_batch_in_a_job, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_failed_new_batch_removed, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_batch_remove_unused, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
