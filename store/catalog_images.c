/* The images table (see catalog.h). */
#include "catalog_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

static void read_image(struct catalog_image *img, sqlite3_stmt *st)
{
	cat_col_text(img->id, sizeof(img->id), st, 0);
	cat_col_text(img->ext, sizeof(img->ext), st, 1);
	img->bytes = sqlite3_column_int64(st, 2);
	img->width = sqlite3_column_int64(st, 3);
	img->height = sqlite3_column_int64(st, 4);
	cat_col_text(img->source, sizeof(img->source), st, 5);
	cat_col_text(img->ingested_at, sizeof(img->ingested_at), st, 6);
	cat_col_text(img->name, sizeof(img->name), st, 7);
}

int catalog_images_add_many(struct catalog *cat, const struct catalog_image *imgs, size_t n,
			    int *added)
{
	sqlite3_stmt *st;
	int error;

	pthread_mutex_lock(&cat->lock);
	if ((error = cat_begin(cat)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct catalog_image *img = &imgs[i];

		if (!(st = cat_stmt(cat, ST_IMAGE_ADD))) {
			error = -EIO;
			goto end;
		}
		cat_bind_text(st, 1, img->id);
		cat_bind_text(st, 2, img->ext);
		sqlite3_bind_int64(st, 3, img->bytes);
		sqlite3_bind_int64(st, 4, img->width);
		sqlite3_bind_int64(st, 5, img->height);
		cat_bind_text(st, 6, img->source);
		cat_bind_text(st, 7, img->ingested_at);
		cat_bind_text(st, 8, img->name);
		if ((error = cat_step_done(cat, st, "add image")) < 0)
			goto end;
		if (added)
			added[i] = sqlite3_changes(cat->db) > 0;
	}
end:
	error = cat_end(cat, error);
out:
	pthread_mutex_unlock(&cat->lock);
	return error;
}

int catalog_image_add(struct catalog *cat, const struct catalog_image *img)
{
	int added = 0, error = catalog_images_add_many(cat, img, 1, &added);

	return error < 0 ? error : !added;
}

int catalog_image_get(struct catalog *cat, const char *id, struct catalog_image *out)
{
	sqlite3_stmt *st;
	int rc, error = 0;

	pthread_mutex_lock(&cat->lock);
	if (!(st = cat_stmt(cat, ST_IMAGE_GET))) {
		error = -EIO;
		goto done;
	}
	cat_bind_text(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_image(out, st);
	else if (rc == SQLITE_DONE)
		error = -ENOENT;
	else
		error = cat_errno(cat, rc, "get image");
	sqlite3_reset(st);
done:
	pthread_mutex_unlock(&cat->lock);
	return error;
}

int catalog_image_count(struct catalog *cat, int64_t *out)
{
	sqlite3_stmt *st;
	int rc, error = 0;

	pthread_mutex_lock(&cat->lock);
	if (!(st = cat_stmt(cat, ST_IMAGE_COUNT))) {
		error = -EIO;
		goto done;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else
		error = cat_errno(cat, rc, "count images");
	sqlite3_reset(st);
done:
	pthread_mutex_unlock(&cat->lock);
	return error;
}

/* The smallest string greater than every string starting with `prefix` ("" -> "~"). */
static void prefix_end(char *out, size_t size, const char *prefix)
{
	size_t n = strlen(prefix);

	if (!n || n >= size) {
		snprintf(out, size, "~");
		return;
	}
	memcpy(out, prefix, n + 1);
	out[n - 1]++;
}

int catalog_images_foreach(struct catalog *cat, const char *prefix, catalog_image_fn fn,
			   void *payload)
{
	struct catalog_image img;
	char end[CATALOG_ID_LEN + 2];
	sqlite3_stmt *st;
	int rc, error = 0;

	prefix_end(end, sizeof(end), prefix);
	pthread_mutex_lock(&cat->lock);
	if (!(st = cat_stmt(cat, ST_IMAGE_RANGE))) {
		error = -EIO;
		goto done;
	}
	cat_bind_text(st, 1, prefix);
	cat_bind_text(st, 2, end);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_image(&img, st);
		if ((error = fn(&img, payload)) != 0)
			break;
	}
	if (!error && rc != SQLITE_DONE)
		error = cat_errno(cat, rc, "list images");
	sqlite3_reset(st);
done:
	pthread_mutex_unlock(&cat->lock);
	return error;
}

