/*
 * dsfs checkout [--force] VERSION: make the working state (the catalog)
 * version VERSION's.  Refused while the working state differs from HEAD
 * and is not empty (uncommitted changes would be lost) unless --force.  main does not move:
 * checking out an older version and committing records it again as a new
 * version, as a revert does in git.  A running mount is told through
 * repo_free() (core/mountlink), so its working tree shows the version.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "core/checkout.h"
#include "core/repo.h"
#include "core/version.h"
#include "tools/cli.h"
#include "util/buf.h"
#include "util/err.h"

int cmd_checkout(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct buf warnings = BUF_INIT;
	struct version_info v;
	struct repo *repo = NULL;
	int c, force = 0, error;

	optind = 1;
	while ((c = getopt_long(argc, argv, "fh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			force = 1;
			break;
		case 'h':
			printf("usage: dsfs checkout [--force] VERSION\n\n"
			       "Replace the working state (images, label sets and classes, labels,\n"
			       "annotations, exclusions: the catalog) by VERSION's (vN, N, a tag, HEAD or\n"
			       "a commit prefix), in one transaction.  Blobs are not copied: a clone\n"
			       "fetches them on first read.  Batches and jobs are kept.\n"
			       "Refused when the working state differs from HEAD and is not empty\n"
			       "(uncommitted changes); --force drops them.  main does not move: committing after checking out an\n"
			       "older version makes it the next version again (a revert).\n");
			return 0;
		default:
			return cli_usage("checkout");
		}
	}
	if (optind + 1 != argc)
		return cli_usage("checkout");
	err_clear();
	if ((error = repo_open(&repo, cli->repo)) < 0 ||
	    (error = checkout_run(&v, repo, argv[optind], force, &warnings)) < 0)
		goto done;
	cli_print_warnings(warnings.ptr);
	if (!cli->quiet)
		printf("working state: %s (%.12s), %lld images, %lld labeled\n", *v.tag ? v.tag : argv[optind],
		       v.commit, (long long)v.n_images, (long long)v.n_labeled);
done:
	if (error)
		cli_error("checkout: %s", err_msg(error));
	repo_free(repo);
	buf_release(&warnings);
	return error ? 1 : 0;
}
