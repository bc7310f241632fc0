/*
 * History commands: dsfs log, dsfs show SPEC, dsfs diff A B.  The text is
 * core/version's, the same the mount shows at /versions/log and
 * /@vN/VERSION.
 */
#include <stdio.h>
#include <string.h>

#include "core/repo.h"
#include "core/version.h"
#include "tools/cli.h"
#include "util/buf.h"
#include "util/err.h"

enum which { LOG, SHOW, DIFF };

static int run(struct cli *cli, int argc, char **argv, enum which w)
{
	static const char *const help[] = {
		[LOG] = "usage: dsfs log\n\nEvery version, newest first: tag, date, commit, counts, message.\n",
		[SHOW] = "usage: dsfs show VERSION\n\nOne version: commit, date, author, message, counts per label set.\n"
			 "VERSION is vN, N, a tag, HEAD or a commit prefix.\n",
		[DIFF] = "usage: dsfs diff VERSION_A VERSION_B\n\nWhat changed from A to B: images added and removed,\n"
			 "per label set the classes added, labeled images and annotations changed.\n"
			 "(`git --git-dir DIR/git diff A B` shows the manifest lines.)\n",
	};
	static const int nargs[] = { [LOG] = 1, [SHOW] = 2, [DIFF] = 3 };
	struct buf out = BUF_INIT;
	struct repo *repo = NULL;
	int error;

	if (cli_wants_help(argc, argv)) {
		fputs(help[w], stdout);
		return 0;
	}
	if (argc != nargs[w])
		return cli_usage(argv[0]);
	err_clear();
	if ((error = repo_open(&repo, cli->repo)) == 0) {
		if (w == LOG)
			error = version_log(&out, repo);
		else if (w == SHOW)
			error = version_describe(&out, repo, argv[1]);
		else
			error = version_diff(&out, repo, argv[1], argv[2]);
	}
	if (error)
		cli_error("%s: %s", argv[0], err_msg(error));
	else
		fputs(out.ptr, stdout);
	buf_release(&out);
	repo_free(repo);
	return error ? 1 : 0;
}

int cmd_log(struct cli *cli, int argc, char **argv)
{
	return run(cli, argc, argv, LOG);
}

int cmd_show(struct cli *cli, int argc, char **argv)
{
	return run(cli, argc, argv, SHOW);
}

int cmd_diff(struct cli *cli, int argc, char **argv)
{
	return run(cli, argc, argv, DIFF);
}
