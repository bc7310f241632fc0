/*
 * dsfs commit -m MSG: commit the working state as the next version (the
 * same as writing "message=MSG" to ctl/commit in the mount).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "core/repo.h"
#include "core/version.h"
#include "tools/cli.h"
#include "util/buf.h"
#include "util/err.h"

int cmd_commit(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "message", required_argument, NULL, 'm' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct buf msg = BUF_INIT;
	struct version_info v;
	struct repo *repo = NULL;
	enum version_commit_flags flags = 0;
	int c, error;

	optind = 1;
	while ((c = getopt_long(argc, argv, "m:fh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			flags |= VERSION_COMMIT_FORCE;
			break;
		case 'm':
			/* Several -m are paragraphs, as in git. */
			buf_printf(&msg, "%s%s", msg.len ? "\n\n" : "", optarg);
			break;
		case 'h':
			printf("usage: dsfs commit -m MESSAGE [--force]\n\n"
			       "Write the complete working state (images, label sets, labels, annotations,\n"
			       "exclusions) as manifests into a git commit on main in DIR/git and tag it\n"
			       "v<N+1>.  The version is then mounted read-only at /@vN/.  Nothing changed\n"
			       "since the last version: no new version, exit status 1.\n"
			       "A working state without images is refused while the last version has\n"
			       "images (run 'dsfs checkout vN' to get them); --force commits it anyway.\n");
			buf_release(&msg);
			return 0;
		default:
			buf_release(&msg);
			return cli_usage("commit");
		}
	}
	if (!msg.len || optind != argc) {
		cli_error("commit: %s", optind != argc ? "unexpected argument (quote the message: -m \"...\")"
						       : "-m MESSAGE is required (what changed in this version)");
		buf_release(&msg);
		return cli_usage("commit");
	}
	err_clear();
	if ((error = repo_open(&repo, cli->repo)) < 0 ||
	    (error = version_commit(&v, repo, msg.ptr, flags)) < 0) {
		cli_error("commit: %s", err_msg(error));
	} else if (!cli->quiet) {
		printf("%s %.12s: %lld images, %lld labeled\n", v.tag, v.commit, (long long)v.n_images,
		       (long long)v.n_labeled);
	}
	repo_free(repo);
	buf_release(&msg);
	return error ? 1 : 0;
}
