/*
 * Remotes on the command line: dsfs remote add NAME URL, dsfs push [NAME],
 * dsfs pull [NAME], dsfs clone URL DIR (sync/remote does the work; the
 * blob list of a push comes from every version's images.tsv).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/repo.h"
#include "core/version.h"
#include "store/blob.h"
#include "store/history.h"
#include "sync/remote.h"
#include "tools/cli.h"
#include "util/err.h"

int cmd_remote(struct cli *cli, int argc, char **argv)
{
	struct repo *repo = NULL;
	struct history *h;
	int error;

	if (cli_wants_help(argc, argv)) {
		printf("usage: dsfs remote add NAME URL\n\n"
		       "Record a remote: a directory (a local path or file:// URL) that holds a bare\n"
		       "git repository git/ and the blob store objects/.  It is created on first push.\n");
		return 0;
	}
	if (argc != 4 || strcmp(argv[1], "add"))
		return cli_usage("remote");
	err_clear();
	if ((error = repo_open(&repo, cli->repo)) == 0 && (error = repo_history(&h, repo)) == 0)
		error = remote_add(h, argv[2], argv[3]);
	if (error)
		cli_error("remote add: %s", err_msg(error));
	repo_free(repo);
	return error ? 1 : 0;
}

int cmd_push(struct cli *cli, int argc, char **argv)
{
	struct remote_push_stats st = { 0, 0, 0 };
	struct blob_id *ids = NULL;
	struct remote *r = NULL, *origin = NULL;
	struct repo *repo = NULL;
	struct history *h;
	size_t n = 0;
	int error;

	if (cli_wants_help(argc, argv)) {
		printf("usage: dsfs push [NAME]\n\n"
		       "Copy to remote NAME (default origin) every blob a version names that it lacks\n"
		       "(each verified by hash on arrival; a clone fetches the ones it lacks from\n"
		       "origin), check they are all there, then send main and the vN tags.\n"
		       "Fast-forward only, checked before any blob is sent: refused if the remote\n"
		       "has versions this dataset lacks (pull first), or has an unrelated history.\n"
		       "One push at a time per remote: a second one waits for the first.\n");
		return 0;
	}
	if (argc > 2)
		return cli_usage("push");
	err_clear();
	/* origin as the fetch hook: a lazy clone's missing blobs come from it on the way. */
	if ((error = repo_open(&repo, cli->repo)) == 0 && (error = repo_history(&h, repo)) == 0 &&
	    (error = version_blob_ids(&ids, &n, repo)) == 0 &&
	    (error = remote_open(&r, h, argc == 2 ? argv[1] : NULL)) == 0 &&
	    (error = version_origin_attach(&origin, repo)) == 0)
		error = remote_push(r, repo->blobs, ids, n, h, NULL, NULL, &st);
	if (error)
		cli_error("push: %s", err_msg(error));
	else if (!cli->quiet)
		printf("pushed to %s: %zu blobs sent (%llu bytes), %zu already there\n", remote_name(r),
		       st.blobs_sent, (unsigned long long)st.bytes_sent, st.blobs_present);
	version_origin_release(origin, repo);
	remote_free(r);
	free(ids);
	repo_free(repo);
	return error ? 1 : 0;
}

int cmd_pull(struct cli *cli, int argc, char **argv)
{
	struct history_fetch_result res;
	struct remote *r = NULL;
	struct repo *repo = NULL;
	struct history *h;
	int error;

	if (cli_wants_help(argc, argv)) {
		printf("usage: dsfs pull [NAME]\n\n"
		       "Fetch main and the vN tags of remote NAME (default origin); main moves by\n"
		       "fast-forward only.  Blobs are not copied: they come on first read.\n");
		return 0;
	}
	if (argc > 2)
		return cli_usage("pull");
	err_clear();
	if ((error = repo_open(&repo, cli->repo)) == 0 && (error = repo_history(&h, repo)) == 0 &&
	    (error = remote_open(&r, h, argc == 2 ? argv[1] : NULL)) == 0 &&
	    (error = remote_pull(r, h, &res)) == 0)
		error = version_reconcile(repo);
	if (error)
		cli_error("pull: %s", err_msg(error));
	else if (!cli->quiet)
		printf("pulled from %s: %u new versions, main %.12s -> %.12s\n", remote_name(r),
		       res.new_tags, *res.old_head ? res.old_head : "(none)", res.new_head);
	remote_free(r);
	repo_free(repo);
	return error ? 1 : 0;
}

int cmd_clone(struct cli *cli, int argc, char **argv)
{
	struct repo *repo = NULL;
	int error;

	(void)cli;
	if (cli_wants_help(argc, argv)) {
		printf("usage: dsfs clone URL DIR\n\n"
		       "Make DIR a dataset with the versions of the remote at URL (remote origin).\n"
		       "No blob is copied: mount DIR and read @vN/...; each image is fetched from\n"
		       "origin the first time it is read.\n");
		return 0;
	}
	if (argc != 3)
		return cli_usage("clone");
	err_clear();
	if ((error = remote_clone(argv[1], argv[2])) == 0 && (error = repo_init(argv[2])) == 0 &&
	    (error = repo_open(&repo, argv[2])) == 0)
		error = version_reconcile(repo);
	if (error)
		cli_error("clone: %s", err_msg(error));
	repo_free(repo);
	return error ? 1 : 0;
}
