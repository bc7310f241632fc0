/*
 * The dsfs command line: one binary, one subcommand per file
 * (tools/cmd_<name>.c).  Global options (--repo DIR, -v, -q) are taken out
 * of argv by main() wherever they appear, so each command parses only its
 * own options.  A command returns the process exit status: 0 success,
 * 1 failure (message already printed), 2 usage error.
 */
#ifndef DSFS_TOOLS_CLI_H
#define DSFS_TOOLS_CLI_H

struct cli {
	const char *repo;  /* --repo, else $DSFS_REPO, else "." */
	int verbose;       /* -v count */
	int quiet;         /* -q */
};

typedef int (*cli_cmd_fn)(struct cli *cli, int argc, char **argv);

struct cli_cmd {
	const char *name;
	cli_cmd_fn fn;
	const char *usage;   /* one line: arguments */
	const char *summary; /* one line: what it does */
};

/* Print "dsfs: <msg>" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print each line of `lines` (may be NULL) to stderr as "dsfs: warning: <line>". */
void cli_print_warnings(const char *lines);
/* Print the usage line of `name` to stderr and return 2. */
int cli_usage(const char *name);
/* True if argv[1..] holds -h or --help (then the command prints its help). */
int cli_wants_help(int argc, char **argv);

/* Commands (one file each). */
int cmd_init(struct cli *cli, int argc, char **argv);
int cmd_mount(struct cli *cli, int argc, char **argv);
int cmd_umount(struct cli *cli, int argc, char **argv);
int cmd_ingest(struct cli *cli, int argc, char **argv);
int cmd_images(struct cli *cli, int argc, char **argv);
int cmd_verb(struct cli *cli, int argc, char **argv);
int cmd_commit(struct cli *cli, int argc, char **argv);
int cmd_log(struct cli *cli, int argc, char **argv);
int cmd_show(struct cli *cli, int argc, char **argv);
int cmd_diff(struct cli *cli, int argc, char **argv);
int cmd_export(struct cli *cli, int argc, char **argv);
int cmd_remote(struct cli *cli, int argc, char **argv);
int cmd_push(struct cli *cli, int argc, char **argv);
int cmd_pull(struct cli *cli, int argc, char **argv);
int cmd_clone(struct cli *cli, int argc, char **argv);
int cmd_checkout(struct cli *cli, int argc, char **argv);
int cmd_jobs(struct cli *cli, int argc, char **argv);
int cmd_fsck(struct cli *cli, int argc, char **argv);
int cmd_gen_shapes(struct cli *cli, int argc, char **argv);
int cmd_bench_ops(struct cli *cli, int argc, char **argv);

#endif
