/* Labeling batches (see batch.h). */
#include "batch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/repo.h"
#include "store/config.h"
#include "util/err.h"
#include "util/kv.h"
#include "util/log.h"

int batch_opts_parse(struct batch_opts *out, const struct kv *kv, const struct repo *repo)
{
	static const char *const keys[] = { "label_set", "size", "order", "seed", NULL };
	const char *order;
	int64_t size, seed, def_size = 10;
	int error;

	if ((error = kv_check(kv, "batch", keys)) < 0)
		return error;
	if (repo && repo->cfg)
		config_get_int(repo->cfg, "batch.size", 10, &def_size);
	out->label_set = kv_get(kv, "label_set", "default");
	if ((error = kv_get_int(kv, "size", def_size, 1, 1000000, &size)) < 0 ||
	    (error = kv_get_int(kv, "seed", 0, 0, INT64_MAX, &seed)) < 0)
		return error;
	out->size = (size_t)size;
	out->seed = (uint64_t)seed;
	order = kv_get(kv, "order", repo && repo->cfg ? config_get(repo->cfg, "batch.order", "newest")
						      : "newest");
	if (!strcmp(order, "newest"))
		out->order = CATALOG_ORDER_NEWEST;
	else if (!strcmp(order, "oldest"))
		out->order = CATALOG_ORDER_OLDEST;
	else if (!strcmp(order, "random"))
		out->order = CATALOG_ORDER_RANDOM;
	else
		return err_set(-EINVAL, "order=%s: expected newest, oldest or random", order);
	return 0;
}

/*
 * Give items[i].name a unique name: "a.jpg", then "a_1.jpg", "a_2.jpg", ...
 * Control characters (a newline in an uploaded file's name) become '_':
 * the name is a path in filelist.txt and manifest.tsv, one per line.
 */
static void unique_names(struct catalog_batch_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char orig[sizeof(items[i].name)];
		const char *dot;

		snprintf(orig, sizeof(orig), "%s", items[i].img.name);
		for (char *c = orig; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = '_';
		dot = strrchr(orig, '.');
		size_t stem = dot && dot != orig ? (size_t)(dot - orig) : strlen(orig);

		snprintf(items[i].name, sizeof(items[i].name), "%s", orig);
		for (int k = 1;; k++) {
			int clash = 0;
			for (size_t j = 0; j < i && !clash; j++)
				clash = !strcmp(items[j].name, items[i].name);
			if (!clash)
				break;
			snprintf(items[i].name, sizeof(items[i].name), "%.*s_%d%s", (int)stem, orig, k,
				 dot && dot != orig ? dot : "");
		}
	}
}

int batch_create(struct catalog_batch *out, struct repo *repo, const struct batch_opts *opts)
{
	struct catalog_image *cand = NULL;
	struct catalog_batch_item *items = NULL;
	char stamp[32];
	struct tm tm;
	time_t t = time(NULL);
	size_t n = 0;
	int64_t total = 0;
	int error;

	memset(out, 0, sizeof(*out));
	if (!catalog_labelset_exists(repo->cat, opts->label_set))
		return err_set(-ENOENT, "no label set '%s' (create it with ctl/labelset or an import)",
			       opts->label_set);
	if ((error = catalog_batch_candidates(repo->cat, opts->label_set, opts->order, opts->seed,
					      opts->size, &cand, &n)) < 0)
		return error;
	if (n == 0) {
		catalog_image_count(repo->cat, &total);
		return err_set(-ENODATA, "no images to label in '%s': %lld images, all labeled, excluded or already in a batch",
			       opts->label_set, (long long)total);
	}
	if (!(items = calloc(n, sizeof(*items)))) {
		free(cand);
		return err_set(-ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++)
		items[i].img = cand[i];
	free(cand);
	unique_names(items, n);

	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "batch_%Y%m%d_%H%M%S", &tm);
	snprintf(out->label_set, sizeof(out->label_set), "%s", opts->label_set);
	strftime(out->created_at, sizeof(out->created_at), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(out->state, sizeof(out->state), "open");
	out->n_items = (int64_t)n;
	for (int k = 1; k < 1000; k++) {
		if (k == 1)
			snprintf(out->id, sizeof(out->id), "%s", stamp);
		else
			snprintf(out->id, sizeof(out->id), "%s_%d", stamp, k);
		error = catalog_batch_add(repo->cat, out, items, n);
		if (error != -EEXIST)
			break;
	}
	free(items);
	if (!error)
		LOG_I("batch %s: %zu images of label set %s", out->id, n, opts->label_set);
	return error;
}

int batch_resolve(struct catalog_batch *out, struct repo *repo, const char *spec)
{
	if (!spec || !*spec || !strcmp(spec, "latest"))
		return catalog_batch_latest(repo->cat, out);
	return catalog_batch_get(repo->cat, spec, out);
}

int batch_manifest_tsv(struct buf *out, const struct catalog_batch_item *items, size_t n,
		       const char *mount_root)
{
	int error = buf_puts(out, "image_id\tpath\tname\n");

	for (size_t i = 0; i < n && !error; i++)
		error = buf_printf(out, "%s\t%s/images/%s\t%s\n", items[i].img.id, mount_root,
				   items[i].name, items[i].name);
	return error;
}

int batch_filelist(struct buf *out, const struct catalog_batch_item *items, size_t n,
		   const char *mount_root)
{
	int error = 0;

	for (size_t i = 0; i < n && !error; i++)
		error = buf_printf(out, "%s/images/%s\n", mount_root, items[i].name);
	return error;
}

int batch_info_yaml(struct buf *out, const struct catalog_batch *b)
{
	int error = buf_printf(out,
			       "batch_id: %s\n"
			       "label_set: %s\n"
			       "created_at: %s\n"
			       "num_images: %lld\n"
			       "state: %s\n",
			       b->id, b->label_set, b->created_at, (long long)b->n_items, b->state);

	if (!error && b->cvat_task_id > 0)
		error = buf_printf(out, "cvat_task_id: %lld\n", (long long)b->cvat_task_id);
	return error;
}
