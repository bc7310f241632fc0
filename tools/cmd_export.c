/*
 * dsfs export [--version V] [--label-set NAME] OUTDIR: materialize a YOLO
 * (and COCO) export to a real directory, for tools that cannot read the
 * mount.  Images are copies (reflinks where the file system can); with
 * --link, hard links to the blob store when OUTDIR is on its file system.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "core/repo.h"
#include "core/version.h"
#include "tools/cli.h"
#include "util/err.h"

int cmd_export(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "version", required_argument, NULL, 'V' },
		{ "label-set", required_argument, NULL, 'l' },
		{ "link", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct version_materialize_stats st;
	struct remote *origin = NULL;
	struct repo *repo = NULL;
	const char *version = NULL, *ls = "default";
	int c, error, hard_links = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "V:l:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'V': version = optarg; break;
		case 'l': ls = optarg; break;
		case 'L': hard_links = 1; break;
		case 'h':
			printf("usage: dsfs export [--version V] [--label-set NAME] [--link] OUTDIR\n\n"
			       "Write the YOLO/COCO export of a label set (default: default) as of version V\n"
			       "(default: the working state) to OUTDIR, which must not exist or be empty:\n"
			       "dataset.yaml (path: OUTDIR), images/{train,val}, labels/{train,val}, coco/.\n"
			       "Images are copies (reflinks where the file system shares extents).\n"
			       "  --link   hard links to the blob store instead (same file system): no\n"
			       "           extra space, but each file IS the stored blob, read-only\n"
			       "           (0444); a write through it as root changes every version.\n"
			       "In a clone, blobs not here yet are fetched from origin.\n");
			return 0;
		default:
			return cli_usage("export");
		}
	}
	if (optind + 1 != argc)
		return cli_usage("export");
	err_clear();
	if ((error = repo_open(&repo, cli->repo)) == 0 && (error = version_origin_attach(&origin, repo)) == 0)
		error = version_materialize(&st, repo, version, ls, argv[optind], hard_links);
	if (error) {
		cli_error("export: %s", err_msg(error));
	} else if (!cli->quiet) {
		printf("%s: %zu images (%zu linked, %zu copied), %zu label files\n", argv[optind],
		       st.images_linked + st.images_copied, st.images_linked, st.images_copied, st.labels);
	}
	if (repo)
		version_origin_release(origin, repo);
	repo_free(repo);
	return error ? 1 : 0;
}
