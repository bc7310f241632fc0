/*
 * dsfs fsck [DIR]: re-hash every blob and check the catalog against the
 * store.  Reports every problem and exits non-zero if there was any.
 * Blobs no catalog row refers to (an ingest interrupted between the blob
 * and its row) are counted, not errors: a re-ingest adopts them.
 */
#include <stdio.h>
#include <string.h>

#include "core/fsck.h"
#include "core/repo.h"
#include "tools/cli.h"
#include "util/err.h"

int cmd_fsck(struct cli *cli, int argc, char **argv)
{
	struct fsck_report rep;
	struct repo *repo = NULL;
	const char *dir;
	int error;

	if (cli_wants_help(argc, argv)) {
		printf("usage: dsfs fsck [DIR]\n\n"
		       "Verify a dataset: re-hash every blob under objects/, check that every\n"
		       "image in the catalog and every image referenced by a version has its\n"
		       "blob, with the recorded size.  Prints each problem; exit status 1 if any.\n");
		return 0;
	}
	if (argc > 2)
		return cli_usage("fsck");
	dir = argc == 2 ? argv[1] : cli->repo;
	err_clear();
	if ((error = repo_open(&repo, dir)) < 0) {
		cli_error("fsck: %s", err_msg(error));
		return 1;
	}
	error = fsck_run(&rep, repo, stdout);
	repo_free(repo);
	if (error < 0) {
		cli_error("fsck: %s", err_msg(error));
		return 1;
	}
	printf("fsck: %lld blobs checked, %lld catalog images, %lld unreferenced blobs, "
	       "%lld versions (%lld image references, %lld only on origin), %lld problems\n",
	       (long long)rep.blobs, (long long)rep.images, (long long)rep.orphans,
	       (long long)rep.versions, (long long)rep.version_images, (long long)rep.remote_only,
	       (long long)rep.problems);
	return rep.problems ? 1 : 0;
}
