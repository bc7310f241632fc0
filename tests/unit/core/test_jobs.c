/*
 * Unit tests for core/jobs and the jobs table (store/catalog_jobs.c): the
 * key=value record helpers keep every other line intact and refuse what
 * they cannot store; catalog rows round-trip; the compare-and-swap update
 * refuses a stale writer; the id listing skips final states; the status
 * text shows what ctl/jobs/<id> promises; and the runner takes over a job
 * whose owner process is gone -- but never one a live process owns, nor a
 * "resume=0" job -- recording the pipeline's failure in the job.  No
 * network: the configured CVAT url is a closed port, the batch unknown.
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

	assert_int_equal(job_create(a, fx->repo, "cvat", "batch=b1\n", "created"), 0);
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

	assert_int_equal(job_create(a, fx->repo, "cvat", "", "waiting"), 0);
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

	assert_int_equal(job_create(j, fx->repo, "cvat", "batch=b2\nwait=yes\n", "waiting"), 0);
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
	int i;

	assert_int_equal(job_create(orphan, fx->repo, "cvat", args, "created"), 0);
	job_kv_set_int(orphan->result, sizeof(orphan->result), "owner", dead_pid());
	assert_int_equal(job_save(fx->repo, orphan), 0);
	assert_int_equal(job_create(alive, fx->repo, "cvat", args, "created"), 0);
	job_kv_set_int(alive->result, sizeof(alive->result), "owner", getppid());
	assert_int_equal(job_save(fx->repo, alive), 0);
	assert_int_equal(job_create(pinned, fx->repo, "cvat", args, "created"), 0);
	job_kv_set_int(pinned->result, sizeof(pinned->result), "owner", dead_pid());
	job_kv_set(pinned->result, sizeof(pinned->result), "resume", "0");
	assert_int_equal(job_save(fx->repo, pinned), 0);

	assert_int_equal(jobs_start(&runner, fx->repo), 0);
	assert_ptr_equal(fx->repo->jobs, runner);
	jobs_kick(runner);
	for (i = 0; i < 200; i++) {  /* bounded wait for the worker, not a timing assertion */
		assert_int_equal(catalog_job_get(fx->repo->cat, orphan->id, j), 0);
		if (!strcmp(j->state, "failed"))
			break;
		usleep(50000);
	}
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kv_lines),
		cmocka_unit_test(test_final_states),
		cmocka_unit_test_setup_teardown(test_catalog_rows, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_status_text, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_runner_takeover, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
