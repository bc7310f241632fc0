/*
 * Remotes on the command line: dsfs remote add NAME URL, dsfs push [NAME],
 * dsfs pull [NAME], dsfs clone URL DIR (sync/remote does the work; the
 * blob list of a push comes from every version's images.tsv).  Clone and
 * pull also bring the working state along (core/checkout): a clone starts
 * at HEAD, and a pull moves a clean working state to the new HEAD.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/checkout.h"
#include "core/repo.h"
#include "core/version.h"
#include "store/blob.h"
#include "store/history.h"
#include "sync/remote.h"
#include "tools/cli.h"
#include "util/buf.h"
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

/*
 * Progress of a long push on stderr: one line rewritten in place on a
 * terminal, else a line per 5,000 blobs (a log stays readable).
 */
static void push_progress(size_t done, size_t total, uint64_t bytes, void *payload)
{
	int tty = *(int *)payload;

	if (tty && (done % 256 == 0 || done == total))
		fprintf(stderr, "\rpush: %zu/%zu blobs checked or sent (%.1f MB)%s", done, total,
			(double)bytes / 1e6, done == total ? "\n" : "");
	else if (!tty && done % 5000 == 0)
		fprintf(stderr, "push: %zu/%zu blobs checked or sent (%.1f MB)\n", done, total,
			(double)bytes / 1e6);
}

int cmd_push(struct cli *cli, int argc, char **argv)
{
	struct remote_push_stats st = { 0, 0, 0 };
	struct blob_id *ids = NULL;
	struct remote *r = NULL, *origin = NULL;
	struct repo *repo = NULL;
	struct history *h;
	size_t n = 0;
	int error, tty = isatty(STDERR_FILENO);

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
		error = remote_push(r, repo->blobs, ids, n, h, cli->quiet ? NULL : push_progress, &tty, &st);
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

/*
 * After a pull moved main: a working state that was clean (equal to the old
 * HEAD, or empty) moves to the new HEAD; one with uncommitted changes is
 * kept, with a warning, because replacing it would lose work.
 */
static int pull_update_working(struct cli *cli, struct repo *repo, int was_clean)
{
	struct buf warnings = BUF_INIT;
	struct version_info v;
	int error;

	if ((error = version_resolve(&v, repo, "HEAD")) < 0)
		return error;
	if (!was_clean) {
		fprintf(stderr, "dsfs: warning: the working state has uncommitted changes and was kept: it "
			"is not %s, the new HEAD, and committing it would undo what the pulled versions "
			"changed.  'dsfs checkout --force %s' takes %s (dropping your changes).\n",
			v.tag, v.tag, v.tag);
		return 0;
	}
	if ((error = checkout_version(&v, repo, "HEAD", &warnings)) < 0)
		goto done;
	cli_print_warnings(warnings.ptr);
	if (!cli->quiet)
		printf("working state: %s (%lld images, %lld labeled)\n", v.tag, (long long)v.n_images,
		       (long long)v.n_labeled);
done:
	buf_release(&warnings);
	return error;
}

int cmd_pull(struct cli *cli, int argc, char **argv)
{
	struct history_fetch_result res;
	struct remote *r = NULL;
	struct repo *repo = NULL;
	struct history *h;
	int clean = 0, error;

	if (cli_wants_help(argc, argv)) {
		printf("usage: dsfs pull [NAME]\n\n"
		       "Fetch main and the vN tags of remote NAME (default origin); main moves by\n"
		       "fast-forward only.  Blobs are not copied: they come on first read.\n"
		       "When main moved and the working state was clean (equal to the old HEAD, or\n"
		       "empty), it becomes the new HEAD's; one with uncommitted changes is kept, with\n"
		       "a warning "
		       "('dsfs checkout --force vN' takes the new HEAD then).\n");
		return 0;
	}
	if (argc > 2)
		return cli_usage("pull");
	err_clear();
	if ((error = repo_open(&repo, cli->repo)) < 0 || (error = repo_history(&h, repo)) < 0 ||
	    (error = remote_open(&r, h, argc == 2 ? argv[1] : NULL)) < 0)
		goto done;
	/* Before the fetch: clean means equal to the HEAD that is about to become old (or empty). */
	if ((clean = checkout_is_safe(repo)) < 0) {
		error = clean;
		goto done;
	}
	if ((error = remote_pull(r, h, &res)) < 0 || (error = version_reconcile(repo)) < 0)
		goto done;
	if (!cli->quiet)
		printf("pulled from %s: %u new versions, main %.12s -> %.12s\n", remote_name(r),
		       res.new_tags, *res.old_head ? res.old_head : "(none)", res.new_head);
	if (strcmp(res.old_head, res.new_head))
		error = pull_update_working(cli, repo, clean);
done:
	if (error)
		cli_error("pull: %s", err_msg(error));
	remote_free(r);
	repo_free(repo);
	return error ? 1 : 0;
}

int cmd_clone(struct cli *cli, int argc, char **argv)
{
	struct buf warnings = BUF_INIT;
	struct version_info v;
	struct repo *repo = NULL;
	int error;

	if (cli_wants_help(argc, argv)) {
		printf("usage: dsfs clone URL DIR\n\n"
		       "Make DIR a dataset with the versions of the remote at URL (remote origin),\n"
		       "its working state (the catalog) that of HEAD, as after 'dsfs checkout HEAD'.\n"
		       "No blob is copied: mount DIR and read; each image is fetched from origin the\n"
		       "first time it is read.\n");
		return 0;
	}
	if (argc != 3)
		return cli_usage("clone");
	err_clear();
	memset(&v, 0, sizeof(v));
	if ((error = remote_clone(argv[1], argv[2])) == 0 && (error = repo_init(argv[2])) == 0 &&
	    (error = repo_open(&repo, argv[2])) == 0 && (error = version_reconcile(repo)) == 0) {
		error = checkout_version(&v, repo, "HEAD", &warnings);
		if (error == -ENOENT && version_resolve(&v, repo, "HEAD") == -ENOENT)
			error = 0; /* the remote has no version yet: nothing to check out */
	}
	if (error) {
		cli_error("clone: %s", err_msg(error));
	} else {
		cli_print_warnings(warnings.ptr);
		if (!cli->quiet && *v.commit)
			printf("cloned %s into %s: working state %s (%lld images, %lld labeled)\n", argv[1],
			       argv[2], v.tag, (long long)v.n_images, (long long)v.n_labeled);
	}
	buf_release(&warnings);
	repo_free(repo);
	return error ? 1 : 0;
}
