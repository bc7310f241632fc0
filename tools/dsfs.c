/*
 * dsfs: the command-line entry point.  Dispatches to one command per file
 * through the table below; see cli.h for the conventions.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "util/log.h"

static const struct cli_cmd commands[] = {
	{ "init", cmd_init, "[DIR]", "create an empty dataset repository (default: --repo, $DSFS_REPO or .)" },
	{ "mount", cmd_mount, "[DIR] MOUNTPOINT [-f] [-d] [-o OPTS]", "serve a dataset as a file system" },
	{ "umount", cmd_umount, "MOUNTPOINT", "unmount a dataset" },
	{ "ingest", cmd_ingest, "[--source ID] FILE|DIR...", "add JPEG/PNG images to the dataset" },
	{ "images", cmd_images, "", "list the images in the catalog" },
	{ "batch", cmd_verb, "[--label-set NAME] [--size N] [--order newest|oldest|random] [--seed N]",
	  "make a labeling batch (same as ctl/batch)" },
	{ "exclude", cmd_verb, "IMAGE_ID... --reason TEXT [--label-set NAME]",
	  "keep images out of batches and exports (same as ctl/exclude)" },
	{ "include", cmd_verb, "IMAGE_ID... [--label-set NAME]", "undo an exclusion (same as ctl/include)" },
	{ "import-coco", cmd_verb, "FILE [--label-set NAME] [--batch ID|latest]",
	  "import COCO 1.0 annotations (same as ctl/import)" },
	{ "labelset", cmd_verb, "[--name NAME] [--classes a,b,c]",
	  "create a label set or append classes (same as ctl/labelset)" },
	{ "commit", cmd_commit, "-m MESSAGE [--force]", "commit the working state as the next version vN" },
	{ "checkout", cmd_checkout, "[--force] VERSION",
	  "make the working state a version's (refused over uncommitted changes unless --force)" },
	{ "log", cmd_log, "", "list the versions, newest first" },
	{ "show", cmd_show, "VERSION", "describe one version (vN, N, tag, HEAD, commit prefix)" },
	{ "diff", cmd_diff, "VERSION_A VERSION_B", "what changed between two versions" },
	{ "export", cmd_export, "[--version V] [--label-set NAME] [--link] OUTDIR",
	  "materialize a YOLO/COCO export to a directory (copies; --link: hard links to blobs)" },
	{ "remote", cmd_remote, "add NAME URL", "record a remote (directory or file:// URL)" },
	{ "push", cmd_push, "[NAME]", "send missing blobs, then versions, to a remote (default origin)" },
	{ "pull", cmd_pull, "[NAME]",
	  "fetch a remote's versions; a clean working state moves to the new HEAD (blobs come on first read)" },
	{ "clone", cmd_clone, "URL DIR",
	  "a new dataset with a remote's versions, HEAD checked out, blobs fetched lazily" },
	{ "cvat", cmd_verb, "[pull] [batch=ID|latest | size=N ...] [project=NAME] [labels=a,b,c] [wait=yes|no] [commit=yes|no] [new_task=yes]",
	  "label a batch in CVAT and import the result, in the foreground (same as ctl/cvat)" },
	{ "jobs", cmd_jobs, "[ID]", "list the jobs, or show one (same as ctl/jobs/ID)" },
	{ "fsck", cmd_fsck, "[DIR]", "re-hash every blob and check the catalog against the store" },
	{ "bench-ops", cmd_bench_ops, "[--reps N] [--sweep] [--quick] [--pass P] [--cputime T]",
	  "measure the Vulkan training engine (SGEMM, conv passes, a training step)" },
	{ "gen-shapes", cmd_gen_shapes, "OUTDIR --count N [--size WxH] [--seed S]",
	  "generate synthetic shape images with a COCO file of their boxes" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("dsfs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cli_print_warnings(const char *lines)
{
	while (lines && *lines) {
		const char *nl = strchr(lines, '\n');
		int len = nl ? (int)(nl - lines) : (int)strlen(lines);

		fprintf(stderr, "dsfs: warning: %.*s\n", len, lines);
		lines += len + (nl != NULL);
	}
}

int cli_usage(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			fprintf(stderr, "usage: dsfs %s %s\n", name, commands[i].usage);
	return 2;
}

int cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return 1;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: dsfs [--repo DIR] [-v|-q] COMMAND [ARGS]\n\n"
		   "A dataset platform for computer vision behind a FUSE mount.\n"
		   "--repo DIR defaults to $DSFS_REPO, else the current directory.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-12s %s\n               dsfs %s %s\n", commands[i].name,
			commands[i].summary, commands[i].name, commands[i].usage);
	fprintf(f, "\n'dsfs COMMAND --help' describes one command.\n");
}

/* Remove the global options from argv wherever they appear (before "--"). */
static int take_global_options(struct cli *cli, int *argc, char **argv)
{
	int out = 1;

	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (!strcmp(a, "--repo")) {
			if (i + 1 >= *argc) {
				cli_error("--repo needs a directory");
				return -1;
			}
			cli->repo = argv[++i];
		} else if (!strncmp(a, "--repo=", 7)) {
			cli->repo = a + 7;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			cli->verbose++;
		} else if (!strcmp(a, "-vv")) {
			cli->verbose += 2;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			cli->quiet = 1;
		} else {
			argv[out++] = argv[i];
		}
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

int main(int argc, char **argv)
{
	struct cli cli = { 0 };
	const char *env;

	if (take_global_options(&cli, &argc, argv) < 0)
		return 2;
	if (!cli.repo)
		cli.repo = (env = getenv("DSFS_REPO")) && *env ? env : ".";
	log_set_level(cli.quiet ? LOG_ERR : cli.verbose >= 2 ? LOG_DEBUG
				 : cli.verbose ? LOG_INFO : LOG_NOTICE);

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("dsfs %s\n", DSFS_VERSION);
		return 0;
	}
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!strcmp(commands[i].name, argv[1]))
			return commands[i].fn(&cli, argc - 1, argv + 1);
	cli_error("unknown command '%s' (see 'dsfs --help')", argv[1]);
	return 2;
}
