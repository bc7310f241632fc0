/* dsfs fsck (see fsck.h). */
#include "fsck.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/repo.h"
#include "store/blob.h"
#include "store/catalog.h"
#include "util/err.h"

struct ctx {
	struct repo *repo;
	struct fsck_report *rep;
	FILE *out;
};

static int check_blob(const struct blob_id *id, void *payload)
{
	struct ctx *c = payload;
	struct catalog_image img;
	char hex[BLOB_HEX_LEN + 1];
	int error;

	c->rep->blobs++;
	blob_id_hex(hex, id);
	err_clear();
	if ((error = blob_verify(c->repo->blobs, id)) < 0) {
		fprintf(c->out, "blob %s: %s\n", hex, err_msg(error));
		c->rep->problems++;
	}
	if (catalog_image_get(c->repo->cat, hex, &img) == -ENOENT)
		c->rep->orphans++;
	return 0;
}

static int check_image(const struct catalog_image *img, void *payload)
{
	struct ctx *c = payload;
	char path[PATH_MAX];
	struct blob_id id;
	struct stat st;

	c->rep->images++;
	if (blob_id_parse(&id, img->id) < 0) {
		fprintf(c->out, "image %s (%s): malformed id in the catalog\n", img->id, img->name);
		c->rep->problems++;
		return 0;
	}
	blob_path(path, sizeof(path), c->repo->blobs, &id);
	if (stat(path, &st) < 0) {
		fprintf(c->out, "image %s (%s): blob missing: %s\n", img->id, img->name, strerror(errno));
		c->rep->problems++;
	} else if (st.st_size != img->bytes) {
		fprintf(c->out, "image %s (%s): blob has %lld bytes, catalog says %lld\n", img->id,
			img->name, (long long)st.st_size, (long long)img->bytes);
		c->rep->problems++;
	}
	return 0;
}

/* Collect catalog rows first, then check: check_image must not run under the catalog lock. */
struct rows {
	struct catalog_image *v;
	size_t n, cap;
};

static int collect(const struct catalog_image *img, void *payload)
{
	struct rows *r = payload;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 1024;
		struct catalog_image *v = realloc(r->v, cap * sizeof(*v));
		if (!v)
			return err_set(-ENOMEM, "out of memory");
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n++] = *img;
	return 0;
}

int fsck_run(struct fsck_report *rep, struct repo *repo, FILE *out)
{
	struct ctx c = { repo, rep, out };
	struct rows rows = { 0 };
	int error;

	memset(rep, 0, sizeof(*rep));
	if ((error = blob_foreach(repo->blobs, check_blob, &c)) < 0)
		return error;
	if ((error = catalog_images_foreach(repo->cat, "", collect, &rows)) < 0)
		goto done;
	for (size_t i = 0; i < rows.n; i++)
		check_image(&rows.v[i], &c);
done:
	free(rows.v);
	return error;
}
