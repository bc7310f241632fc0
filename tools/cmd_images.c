/* dsfs images: list the catalog's images (id, ext, bytes, width, height, name, source, ingested_at). */
#include <stdio.h>

#include "core/repo.h"
#include "store/catalog.h"
#include "tools/cli.h"
#include "util/err.h"

static int print_image(const struct catalog_image *img, void *payload)
{
	(void)payload;
	printf("%s\t%s\t%lld\t%lld\t%lld\t%s\t%s\t%s\n", img->id, img->ext, (long long)img->bytes,
	       (long long)img->width, (long long)img->height, img->name, img->source,
	       img->ingested_at);
	return 0;
}

int cmd_images(struct cli *cli, int argc, char **argv)
{
	struct repo *repo = NULL;
	int error;

	if (cli_wants_help(argc, argv)) {
		printf("usage: dsfs images\n\nList every image in the catalog, one per line, tab-separated:\n"
		       "image_id ext bytes width height name source ingested_at\n");
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
