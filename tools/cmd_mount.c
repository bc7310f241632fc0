/* dsfs mount / dsfs umount. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/repo.h"
#include "fs/fs.h"
#include "tools/cli.h"
#include "util/err.h"

int cmd_mount(struct cli *cli, int argc, char **argv)
{
	struct fs_mount_opts opts = { 0 };
	static const struct option longopts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "options", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct repo *repo = NULL;
	const char *dir;
	int c, error;

	optind = 1;
	while ((c = getopt_long(argc, argv, "fdo:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': opts.foreground = 1; break;
		case 'd': opts.debug = opts.foreground = 1; break;
		case 'o': opts.fuse_opts = optarg; break;
		case 'h':
			printf("usage: dsfs mount [DIR] MOUNTPOINT [-f] [-d] [-o OPTS]\n\n"
			       "Serve the dataset in DIR (default: --repo, $DSFS_REPO or .) at MOUNTPOINT.\n"
			       "Without -f the daemon detaches once the mount is ready and logs to\n"
			       "DIR/dsfs.log; with -f it stays in the foreground and logs to stderr.\n"
			       "  -f, --foreground   do not detach\n"
			       "  -d, --debug        trace FUSE requests (implies -f)\n"
			       "  -o OPTS            extra FUSE mount options (e.g. allow_other)\n"
			       "Unmount with 'dsfs umount MOUNTPOINT'.\n");
			return 0;
		default:
			return cli_usage("mount");
		}
	}
	if (argc - optind == 2) {
		dir = argv[optind];
		opts.mountpoint = argv[optind + 1];
	} else if (argc - optind == 1) {
		dir = cli->repo;
		opts.mountpoint = argv[optind];
	} else {
		return cli_usage("mount");
	}
	err_clear();
	if ((error = repo_open(&repo, dir)) < 0) {
		cli_error("mount: %s", err_msg(error));
		return 1;
	}
	err_clear();
	error = fs_mount_run(repo, &opts);
	if (error < 0)
		cli_error("mount: %s", err_msg(error));
	repo_free(repo);
	return error < 0 ? 1 : 0;
}

int cmd_umount(struct cli *cli, int argc, char **argv)
{
	pid_t pid;
	int status;

	(void)cli;
	if (cli_wants_help(argc, argv)) {
		printf("usage: dsfs umount MOUNTPOINT\n\nUnmount a dataset (runs fusermount3 -u).\n");
		return 0;
	}
	if (argc != 2)
		return cli_usage("umount");
	if ((pid = fork()) < 0) {
		cli_error("umount: fork: %s", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", argv[1], (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		cli_error("umount: fusermount3 -u %s failed", argv[1]);
		return 1;
	}
	return 0;
}
