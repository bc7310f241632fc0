/*
 * Unit tests for core/checkout and the commit safety net: a checkout
 * rebuilds the catalog exactly (a dump of images, label sets + classes,
 * labels with batch and source, boxes in recorded order, exclusions equals
 * the dump at commit time), also into a fresh empty catalog (a clone);
 * "clean" agrees with commit's "nothing to commit"; a failed load changes
 * nothing (one transaction); an empty working state over a HEAD with
 * images is refused unless forced; a split that dsfs.yaml no longer has is
 * reported.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/checkout.h"
#include "core/manifest.h"
#include "core/repo.h"
#include "core/version.h"
#include "store/blob.h"
#include "store/catalog.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fsutil.h"

struct fixture {
	char dir[64];
	struct repo *repo;
	char ids[5][33];
};

static void add_image(struct fixture *f, int i, const char *name, const char *source)
{
	struct catalog_image img;
	struct blob_id id;
	char data[32];

	memset(&img, 0, sizeof(img));
	snprintf(data, sizeof(data), "checkout image %d", i);
	assert_int_equal(blob_put_buf(&id, f->repo->blobs, data, strlen(data)), 0);
	blob_id_hex(img.id, &id);
	snprintf(img.ext, sizeof(img.ext), "%s", i % 2 ? "jpg" : "png");
	img.bytes = (int64_t)strlen(data);
	img.width = 100 + i;
	img.height = 50 + i;
	snprintf(img.source, sizeof(img.source), "%s", source);
	snprintf(img.ingested_at, sizeof(img.ingested_at), "2026-02-0%dT10:00:0%dZ", i + 1, i);
	snprintf(img.name, sizeof(img.name), "%s", name);
	assert_int_equal(catalog_image_add(f->repo->cat, &img), 0);
	memcpy(f->ids[i], img.id, 33);
}

static struct catalog_box box(const char *id, int cls, double x0, double y0, double x1, double y1)
{
	struct catalog_box b = { .class_id = cls, .x_min = x0, .y_min = y0, .x_max = x1, .y_max = y1 };

	memcpy(b.image_id, id, 33);
	return b;
}

static void label(struct fixture *f, const char *ls, const char *batch, const char *source, int i,
		  const struct catalog_box *boxes, size_t n)
{
	const char *ids[1] = { f->ids[i] };

	assert_int_equal(catalog_labels_replace(f->repo->cat, ls, batch, source, ids, 1, boxes, n), 0);
}

/* A working state with something in every table a version records. */
static void populate(struct fixture *f)
{
	const char *classes[] = { "cat", "dog", "traffic light" };
	const char *extra[] = { "x" };
	struct catalog_box b0[3] = { box(f->ids[0], 2, 10, 5, 50.5, 40), box(f->ids[0], 0, 1.0 / 3, 2, 3, 4),
				     box(f->ids[0], 1, 0.1 + 0.2, 7, 8, 9) };
	struct catalog_box b2[1] = { box(f->ids[2], 1, 0, 0, 100, 50) };
	struct catalog_box bx[1] = { box(f->ids[1], 0, 1, 1, 2, 2) };
	const char *ex1[1], *ex2[1];

	assert_int_equal(catalog_labelset_add_classes(f->repo->cat, "default", classes, 3, NULL), 0);
	assert_int_equal(catalog_labelset_add_classes(f->repo->cat, "extra", extra, 1, NULL), 0);
	assert_int_equal(catalog_labelset_ensure(f->repo->cat, "empty"), 0);
	label(f, "default", "batch_1", "cvat:task 7", 0, b0, 3);
	label(f, "default", "", "coco\tfile.json", 1, NULL, 0); /* a negative, escaped source */
	label(f, "default", "batch_1", "cvat:task 7", 2, b2, 1);
	label(f, "extra", "b2", "manual", 1, bx, 1);
	ex1[0] = f->ids[3];
	assert_int_equal(catalog_exclude(f->repo->cat, ex1, 1, NULL, "blurry\nreally"), 0);
	ex2[0] = f->ids[2];
	assert_int_equal(catalog_exclude(f->repo->cat, ex2, 1, "extra", "not for extra"), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/dsfs-test-checkout.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(repo_init(f->dir), 0);
	assert_int_equal(repo_open(&f->repo, f->dir), 0);
	add_image(f, 0, "a.png", "cam1");
	add_image(f, 1, "tab\there.jpg", "");
	add_image(f, 2, "c.png", "cam2");
	add_image(f, 3, "d.jpg", "cam1");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	repo_free(f->repo);
	fs_rm_rf(f->dir);
	free(f);
	return 0;
}

/* ---- a textual dump of every versioned table ---- */

static int d_image(const struct catalog_image *img, void *p)
{
	return buf_printf(p, "image %s|%s|%" PRId64 "|%" PRId64 "x%" PRId64 "|%s|%s|%s\n", img->id, img->ext,
			  img->bytes, img->width, img->height, img->name, img->source, img->ingested_at);
}

static int d_set(const char *name, const char *const *classes, size_t n, void *p)
{
	buf_printf(p, "label_set %s:", name);
	for (size_t i = 0; i < n; i++)
		buf_printf(p, " %zu=%s", i, classes[i]);
	return buf_puts(p, "\n");
}

static int d_label(const char *ls, const char *id, const char *batch, const char *source, void *p)
{
	return buf_printf(p, "label %s %s batch=%s source=%s\n", ls, id, batch, source);
}

static int d_box(const char *ls, const struct catalog_box *b, void *p)
{
	return buf_printf(p, "box %s %s %" PRId64 " %.17g %.17g %.17g %.17g\n", ls, b->image_id, b->class_id,
			  b->x_min, b->y_min, b->x_max, b->y_max);
}

static int d_excl(const char *id, const char *ls, const char *reason, void *p)
{
	return buf_printf(p, "exclusion %s [%s] %s\n", id, ls, reason);
}

static void dump(struct buf *out, struct repo *repo)
{
	static const struct catalog_dump_ops ops = { d_image, d_set, d_label, d_box, d_excl };

	buf_reset(out);
	assert_int_equal(catalog_dump(repo->cat, &ops, out), 0);
}

/* Reopen the repository (to read a changed dsfs.yaml, or after replacing the catalog file). */
static void reopen(struct fixture *f)
{
	repo_free(f->repo);
	f->repo = NULL;
	assert_int_equal(repo_open(&f->repo, f->dir), 0);
}

/* ---- tests ---- */

static void test_checkout_reproduces_catalog(void **state)
{
	struct fixture *f = *state;
	struct buf before = BUF_INIT, after = BUF_INIT, warn = BUF_INIT;
	struct version_info v1, info;
	struct catalog_box nb[1];
	const char *more[] = { "bird" }, *inc[1];

	populate(f);
	dump(&before, f->repo);
	assert_int_equal(checkout_is_clean(f->repo, NULL), 0); /* nothing committed, not empty */
	assert_int_equal(version_commit(&v1, f->repo, "one", 0), 0);
	assert_int_equal(checkout_is_clean(f->repo, NULL), 1);
	assert_int_equal(checkout_is_clean(f->repo, "v1"), 1);
	assert_int_equal(checkout_is_safe(f->repo), 1);

	/* Change every table, then go back. */
	add_image(f, 4, "new.png", "cam3");
	nb[0] = box(f->ids[4], 3, 1, 2, 3, 4);
	assert_int_equal(catalog_labelset_add_classes(f->repo->cat, "default", more, 1, NULL), 0);
	label(f, "default", "batch_2", "cvat:task 8", 4, nb, 1);
	label(f, "default", "batch_2", "cvat:task 8", 0, NULL, 0); /* boxes of image 0 dropped */
	inc[0] = f->ids[3];
	assert_int_equal(catalog_include(f->repo->cat, inc, 1, NULL, NULL), 0);
	assert_int_equal(catalog_labelset_ensure(f->repo->cat, "later"), 0);
	dump(&after, f->repo);
	assert_string_not_equal(before.ptr, after.ptr);
	assert_int_equal(checkout_is_clean(f->repo, NULL), 0);
	assert_int_equal(checkout_is_safe(f->repo), 0); /* uncommitted work */

	memset(&info, 0, sizeof(info));
	assert_int_equal(checkout_version(&info, f->repo, "v1", &warn), 0);
	assert_string_equal(info.tag, "v1");
	assert_string_equal(info.commit, v1.commit);
	assert_int_equal(info.n_images, 4);
	assert_int_equal(warn.len, 0); /* same split as dsfs.yaml */
	dump(&after, f->repo);
	assert_string_equal(before.ptr, after.ptr);
	assert_int_equal(checkout_is_clean(f->repo, NULL), 1);
	assert_int_equal(version_commit(&info, f->repo, "again", 0), -EEXIST);
	/* Checking out the version the working state already is changes nothing. */
	assert_int_equal(checkout_version(NULL, f->repo, "HEAD", NULL), 0);
	dump(&after, f->repo);
	assert_string_equal(before.ptr, after.ptr);
	buf_release(&before);
	buf_release(&after);
	buf_release(&warn);
}

/* A clone: a fresh, empty catalog next to the history gets HEAD's rows. */
static void test_checkout_into_empty_catalog(void **state)
{
	struct fixture *f = *state;
	struct buf before = BUF_INIT, after = BUF_INIT;
	struct version_info v1, info;
	char path[128];

	populate(f);
	dump(&before, f->repo);
	assert_int_equal(version_commit(&v1, f->repo, "one", 0), 0);
	repo_free(f->repo);
	f->repo = NULL;
	for (const char *const *s = (const char *const[]){ "", "-wal", "-shm", NULL }; *s; s++) {
		snprintf(path, sizeof(path), "%s/catalog.db%s", f->dir, *s);
		unlink(path);
	}
	assert_int_equal(repo_init(f->dir), 0);
	reopen(f);
	dump(&after, f->repo);
	assert_string_equal(after.ptr, "label_set default:\n"); /* what init makes */
	assert_int_equal(checkout_is_clean(f->repo, NULL), 0);
	assert_int_equal(checkout_is_safe(f->repo), 1); /* nothing to lose */

	/* The safety net: an empty working state over a HEAD with images. */
	err_clear();
	assert_int_equal(version_commit(&info, f->repo, "wipe", 0), -EPERM);
	assert_non_null(strstr(err_last(), "the working state is empty but v1 has 4 images"));
	assert_non_null(strstr(err_last(), "dsfs checkout v1"));

	assert_int_equal(checkout_version(&info, f->repo, "HEAD", NULL), 0);
	assert_string_equal(info.tag, "v1");
	dump(&after, f->repo);
	assert_string_equal(before.ptr, after.ptr);
	assert_int_equal(checkout_is_clean(f->repo, NULL), 1);
	assert_int_equal(version_commit(&info, f->repo, "clone", 0), -EEXIST);
	buf_release(&before);
	buf_release(&after);
}

static void test_clean_without_versions(void **state)
{
	struct fixture *f = *state;
	struct repo *fresh = NULL;
	char dir[64];
	const char *cls[] = { "a" };

	/* The fixture has images: not empty. */
	assert_int_equal(checkout_is_clean(f->repo, NULL), 0);
	assert_int_equal(checkout_is_clean(f->repo, "v1"), -ENOENT);
	assert_int_equal(checkout_version(NULL, f->repo, "v1", NULL), -ENOENT);

	snprintf(dir, sizeof(dir), "/tmp/dsfs-test-checkout-fresh.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(repo_init(dir), 0);
	assert_int_equal(repo_open(&fresh, dir), 0);
	assert_int_equal(checkout_is_clean(fresh, NULL), 1);
	assert_int_equal(checkout_is_safe(fresh), 1);
	assert_int_equal(catalog_labelset_add_classes(fresh->cat, "default", cls, 1, NULL), 0);
	assert_int_equal(checkout_is_clean(fresh, NULL), 0); /* a class is work */
	assert_int_equal(checkout_is_safe(fresh), 0);
	repo_free(fresh);
	fs_rm_rf(dir);
}

/* A load that fails half-way leaves the catalog exactly as it was. */
static void test_replace_is_one_transaction(void **state)
{
	struct fixture *f = *state;
	struct buf before = BUF_INIT, after = BUF_INIT;
	struct catalog_state_image im[2] = {
		{ .id = "00000000000000000000000000000001", .ext = "png", .name = "x", .source = "",
		  .ingested_at = "2026-01-01T00:00:00Z", .bytes = 1, .width = 1, .height = 1 },
		{ .id = "00000000000000000000000000000001", .ext = "png", .name = "dup", .source = "",
		  .ingested_at = "2026-01-01T00:00:00Z", .bytes = 1, .width = 1, .height = 1 },
	};
	struct catalog_state_label_set bad = { .name = "../bad", .classes = NULL, .n_classes = 0 };
	struct catalog_state st = { .images = im, .n_images = 2 };

	populate(f);
	dump(&before, f->repo);
	assert_int_equal(catalog_replace(f->repo->cat, &st), -EEXIST);
	dump(&after, f->repo);
	assert_string_equal(before.ptr, after.ptr);
	st.n_images = 1;
	st.label_sets = &bad;
	st.n_label_sets = 1;
	assert_int_equal(catalog_replace(f->repo->cat, &st), -EINVAL);
	dump(&after, f->repo);
	assert_string_equal(before.ptr, after.ptr);
	/* An empty state empties every versioned table. */
	memset(&st, 0, sizeof(st));
	assert_int_equal(catalog_replace(f->repo->cat, &st), 0);
	dump(&after, f->repo);
	assert_string_equal(after.ptr, "");
	buf_release(&before);
	buf_release(&after);
}

static void test_commit_safety_net(void **state)
{
	struct fixture *f = *state;
	struct catalog_state empty;
	struct version_info v1, v2, info;

	assert_int_equal(version_commit(&v1, f->repo, "one", 0), 0);
	memset(&empty, 0, sizeof(empty));
	assert_int_equal(catalog_replace(f->repo->cat, &empty), 0);
	err_clear();
	assert_int_equal(version_commit(&info, f->repo, "wipe", 0), -EPERM);
	assert_non_null(strstr(err_last(), "force=yes"));
	assert_int_equal(version_resolve(&info, f->repo, "HEAD"), 0);
	assert_string_equal(info.tag, "v1"); /* nothing committed */
	assert_int_equal(version_commit(&v2, f->repo, "wipe on purpose", VERSION_COMMIT_FORCE), 0);
	assert_string_equal(v2.tag, "v2");
	assert_int_equal(v2.n_images, 0);
	/* HEAD has no image now: an empty working state is just "nothing to commit". */
	assert_int_equal(version_commit(&info, f->repo, "again", 0), -EEXIST);
	/* And back to v1. */
	assert_int_equal(checkout_version(&info, f->repo, "v1", NULL), 0);
	assert_int_equal(checkout_is_clean(f->repo, "v1"), 1);
	assert_int_equal(checkout_is_clean(f->repo, NULL), 0); /* HEAD is v2 */
}

static void test_split_drift_warning(void **state)
{
	struct fixture *f = *state;
	struct buf warn = BUF_INIT;
	struct version_info v1;
	char path[128];
	const char yaml[] = "label_sets:\n  default:\n    split: 0.5\n    seed: 7\n";

	populate(f);
	assert_int_equal(version_commit(&v1, f->repo, "one", 0), 0);
	snprintf(path, sizeof(path), "%s/dsfs.yaml", f->dir);
	assert_int_equal(fs_write_file_atomic(path, yaml, sizeof(yaml) - 1, 0644), 0);
	reopen(f);
	assert_int_equal(checkout_is_clean(f->repo, NULL), 0); /* config.yaml would change */
	assert_int_equal(checkout_version(NULL, f->repo, "v1", &warn), 0);
	assert_non_null(strstr(warn.ptr, "label set default: the version's split is 0.8 seed 42, "
					 "dsfs.yaml says split 0.5 seed 7"));
	assert_null(strstr(warn.ptr, "label set extra")); /* its split is unchanged */
	buf_release(&warn);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_checkout_reproduces_catalog, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkout_into_empty_catalog, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clean_without_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace_is_one_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_safety_net, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_drift_warning, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
