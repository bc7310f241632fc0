/* dsfs init DIR: create an empty dataset repository. */
#include <stdio.h>
#include <string.h>

#include "core/repo.h"
#include "tools/cli.h"
#include "util/err.h"

int cmd_init(struct cli *cli, int argc, char **argv)
{
	const char *dir;
	int error;

	if (cli_wants_help(argc, argv)) {
		printf("usage: dsfs init [DIR]\n\n"
		       "Create an empty dataset in DIR (created if missing): catalog.db, objects/,\n"
		       "dsfs.yaml with defaults, and the label set 'default'.  Without DIR: --repo,\n"
		       "else $DSFS_REPO, else the current directory.\n");
		return 0;
	}
	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		cli_error("init: %s", argc > 2 ? "one DIR at most" : "unknown option");
		return cli_usage("init");
	}
	dir = argc == 2 ? argv[1] : cli->repo;
	err_clear();
	if ((error = repo_init(dir)) < 0) {
		cli_error("init: %s", err_msg(error));
		return 1;
	}
	if (!cli->quiet)
		printf("initialized empty dsfs dataset in %s\n", dir);
	return 0;
}
