/* dsfs images: list the catalog's images (id, ext, bytes, width, height, name, source, ingested_at). */
#include <stdio.h>

#include "core/repo.h"
#include "store/catalog.h"
#include "tools/cli.h"
#include "util/buf.h"
#include "util/err.h"

/* One line per image; the name and source escaped as in the manifests (a name may hold a tab or newline). */
static int print_image(const struct catalog_image *img, void *payload)
{
	struct buf name = BUF_INIT, source = BUF_INIT;
	int error;

	(void)payload;
	if ((error = buf_put_tsv(&name, img->name)) == 0 && (error = buf_put_tsv(&source, img->source)) == 0)
		printf("%s\t%s\t%lld\t%lld\t%lld\t%s\t%s\t%s\n", img->id, img->ext,
		       (long long)img->bytes, (long long)img->width, (long long)img->height, name.ptr,
		       source.ptr, img->ingested_at);
	buf_release(&name);
	buf_release(&source);
	return error;
}

int cmd_images(struct cli *cli, int argc, char **argv)
{
	struct repo *repo = NULL;
	int error;

	if (cli_wants_help(argc, argv)) {
		printf("usage: dsfs images\n\nList every image in the catalog, one per line, tab-separated:\n"
		       "image_id ext bytes width height name source ingested_at\n"
		       "(a backslash, tab or newline in a name or source is written \\\\, \\t, \\n).\n");
		return 0;
	}
	if (argc != 1)
		return cli_usage("images");
	err_clear();
	if ((error = repo_open(&repo, cli->repo)) < 0 ||
	    (error = catalog_images_foreach(repo->cat, "", print_image, NULL)) < 0)
		cli_error("images: %s", err_msg(error));
	repo_free(repo);
	return error < 0 ? 1 : 0;
}
