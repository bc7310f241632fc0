/* dsfs jobs [ID]: the jobs table (what ctl/jobs/ shows in a mount). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/jobs.h"
#include "core/repo.h"
#include "store/catalog.h"
#include "tools/cli.h"
#include "util/err.h"

static int list_jobs(struct repo *repo)
{
	struct catalog_job *job = malloc(sizeof(*job));
	int64_t *ids = NULL;
	size_t n = 0;
	int error;

	if (!job)
		return err_set(-ENOMEM, "out of memory");
	if ((error = catalog_job_ids(repo->cat, NULL, &ids, &n)) == 0) {
		for (size_t i = 0; i < n && !error; i++)
			if ((error = catalog_job_get(repo->cat, ids[i], job)) == 0)
				printf("%" PRId64 "\t%s\t%s\t%s\t%s\t%s\n", job->id, job->kind, job->state,
				       job->progress, job->updated_at, job->error);
	}
	free(ids);
	free(job);
	return error;
}

int cmd_jobs(struct cli *cli, int argc, char **argv)
{
	struct repo *repo = NULL;
	struct buf out = BUF_INIT;
	char *end = NULL;
	long long id = 0;
	int error;

	if (cli_wants_help(argc, argv)) {
		printf("usage: dsfs jobs [ID]\n\nWithout ID, one line per job, tab-separated:\n"
		       "id kind state progress updated_at error\n"
		       "With ID, that job's status (what ctl/jobs/ID shows in a mount).\n");
		return 0;
	}
	if (argc > 2 || (argc == 2 && ((id = strtoll(argv[1], &end, 10)) <= 0 || *end))) {
		cli_error("jobs: %s", argc > 2 ? "one job id at most" : "a job id is a positive number");
		return cli_usage("jobs");
	}
	err_clear();
	if ((error = repo_open(&repo, cli->repo)) == 0) {
		if (argc == 2 && (error = job_status_text(&out, repo, id)) == 0)
			fputs(out.ptr, stdout);
		else if (argc == 1)
			error = list_jobs(repo);
	}
	if (error)
		cli_error("jobs: %s", err_msg(error));
	buf_release(&out);
	repo_free(repo);
	return error < 0 ? 1 : 0;
}
