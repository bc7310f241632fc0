/*
 * Unit tests for core/labelimport (COCO import into the catalog) and the
 * import verb's path rule.  A dataset of five images (a.png..e.png), a
 * batch of the four oldest (a..d), and labels on a and b before each test.
 * Every file that can only be a mistake (no image matched, an empty image
 * list, all categories unknown, duplicate names) must fail with a message
 * naming the cause and leave the catalog exactly as it was; a partial
 * match or a partly unknown category set imports what it can without
 * turning images the file says nothing about into negatives.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/batch.h"
#include "core/labelimport.h"
#include "core/repo.h"
#include "core/verbs.h"
#include "store/blob.h"
#include "store/catalog.h"
#include "testfs.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "testrepo.h"

#define N_IMAGES 5

struct fixture {
	char dir[256];
	struct repo *repo;
	char ids[N_IMAGES][CATALOG_ID_LEN + 1];
	struct catalog_batch batch; /* a.png .. d.png */
};

static const char *const names[N_IMAGES] = { "a.png", "b.png", "c.png", "d.png", "e.png" };

static void add_image(struct fixture *f, int i)
{
	struct catalog_image img;
	struct blob_id id;
	char data[32];

	memset(&img, 0, sizeof(img));
	snprintf(data, sizeof(data), "image %d", i);
	assert_int_equal(blob_put_buf(&id, f->repo->blobs, data, strlen(data)), 0);
	blob_id_hex(img.id, &id);
	snprintf(img.ext, sizeof(img.ext), "png");
	img.bytes = (int64_t)strlen(data);
	img.width = 100;
	img.height = 50;
	snprintf(img.source, sizeof(img.source), "unit");
	snprintf(img.ingested_at, sizeof(img.ingested_at), "2026-01-0%uT00:00:00Z", (unsigned)(i + 1) % 10u);
	snprintf(img.name, sizeof(img.name), "%s", names[i]);
	assert_true(catalog_image_add(f->repo->cat, &img) >= 0);
	memcpy(f->ids[i], img.id, sizeof(f->ids[i]));
}

/* One box of class `cls` on image i. */
static void label_one(struct fixture *f, int i, int cls)
{
	const char *ids[1] = { f->ids[i] };
	struct catalog_box b = { .class_id = cls, .x_min = 1, .y_min = 2, .x_max = 3, .y_max = 4 };

	memcpy(b.image_id, f->ids[i], sizeof(b.image_id));
	assert_int_equal(catalog_labels_replace(f->repo->cat, "default", f->batch.id, "unit", ids, 1, &b, 1), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *classes[] = { "cat", "dog" };
	struct batch_opts opts = { .label_set = "default", .size = 4, .order = CATALOG_ORDER_OLDEST };

	assert_non_null(f);
	assert_int_equal(testrepo_make(f->dir, sizeof(f->dir), "labelimport", &f->repo), 0);
	for (int i = 0; i < N_IMAGES; i++)
		add_image(f, i);
	assert_int_equal(catalog_labelset_add_classes(f->repo->cat, "default", classes, 2, NULL), 0);
	assert_int_equal(batch_create(&f->batch, f->repo, &opts), 0);
	assert_int_equal(f->batch.n_items, 4);
	label_one(f, 0, 0); /* a: a cat */
	label_one(f, 1, 1); /* b: a dog */
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	testrepo_remove(f->dir, f->repo);
	free(f);
	return 0;
}

/* ---- reading the catalog back ------------------------------------------ */

static int dump_one(const struct catalog_image *img, const struct catalog_box *boxes, size_t n,
		    void *payload)
{
	struct buf *out = payload;

	buf_printf(out, "%s:", img->name);
	for (size_t k = 0; k < n; k++)
		buf_printf(out, " %lld@%g,%g,%g,%g", (long long)boxes[k].class_id, boxes[k].x_min,
			   boxes[k].y_min, boxes[k].x_max, boxes[k].y_max);
	buf_puts(out, "\n");
	return 0;
}

/* Everything an import may change: labels and boxes, classes, the batch's state. */
static void snapshot(struct fixture *f, struct buf *out)
{
	struct catalog_batch b;
	char **classes = NULL;
	size_t n = 0;

	buf_reset(out);
	assert_int_equal(catalog_labeled_foreach(f->repo->cat, "default", dump_one, out), 0);
	assert_int_equal(catalog_labelset_classes(f->repo->cat, "default", &classes, &n), 0);
	for (size_t i = 0; i < n; i++)
		buf_printf(out, "class %zu %s\n", i, classes[i]);
	catalog_strings_free(classes, n);
	assert_int_equal(catalog_batch_get(f->repo->cat, f->batch.id, &b), 0);
	buf_printf(out, "state %s\n", b.state);
}

struct find {
	const char *id;
	int n; /* -1: not labeled */
	int64_t cls[8];
};

static int find_one(const struct catalog_image *img, const struct catalog_box *boxes, size_t n,
		    void *payload)
{
	struct find *fd = payload;

	if (strcmp(img->id, fd->id))
		return 0;
	fd->n = (int)n;
	for (size_t k = 0; k < n && k < 8; k++)
		fd->cls[k] = boxes[k].class_id;
	return 0;
}

/* Boxes of image i (-1 if it is not labeled); the first class in *cls0. */
static int boxes_of(struct fixture *f, int i, int64_t *cls0)
{
	struct find fd = { .id = f->ids[i], .n = -1 };

	assert_int_equal(catalog_labeled_foreach(f->repo->cat, "default", find_one, &fd), 0);
	if (cls0 && fd.n > 0)
		*cls0 = fd.cls[0];
	return fd.n;
}

/* ---- COCO files ---------------------------------------------------------- */

/* `{"categories":[CATS],"images":[IMAGES],"annotations":[ANNS]}` */
static void coco_json(struct buf *out, const char *cats, const char *images, const char *anns)
{
	buf_reset(out);
	buf_printf(out, "{\"categories\":[%s],\"images\":[%s],\"annotations\":[%s]}", cats, images, anns);
}

#define CATS_CAT_DOG "{\"id\":1,\"name\":\"cat\"},{\"id\":2,\"name\":\"dog\"}"
#define IMG(id, name) "{\"id\":" #id ",\"file_name\":\"" name "\",\"width\":100,\"height\":50}"
#define ANN(id, img, cat) \
	"{\"id\":" #id ",\"image_id\":" #img ",\"category_id\":" #cat ",\"bbox\":[10,10,20,20]}"

/* Import into the fixture's batch (or across the catalog if !batch). */
static int import(struct fixture *f, struct import_report *rep, const struct buf *json, int batch)
{
	err_clear();
	return import_coco(rep, f->repo, json->ptr, json->len, "default", batch ? f->batch.id : NULL,
			   "coco:unit.json");
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("'%s' not in '%s'", needle, hay);
}

/* The import fails with -EINVAL, a message with each of `want` (NULL-ended), and no change. */
static void assert_refused(struct fixture *f, const struct buf *json, int batch, ...)
{
	struct buf before = BUF_INIT, after = BUF_INIT;
	struct import_report rep;
	const char *want;
	va_list ap;

	snapshot(f, &before);
	assert_int_equal(import(f, &rep, json, batch), -EINVAL);
	va_start(ap, batch);
	while ((want = va_arg(ap, const char *)))
		assert_contains(err_last(), want);
	va_end(ap);
	snapshot(f, &after);
	assert_string_equal(before.ptr, after.ptr);
	buf_release(&before);
	buf_release(&after);
}

/* ---- tests ---------------------------------------------------------------- */

/* The control case: a matching file replaces the batch's labels. */
static void test_full_match(void **state)
{
	struct fixture *f = *state;
	struct buf json = BUF_INIT;
	struct import_report rep;
	int64_t cls = -1;

	coco_json(&json, CATS_CAT_DOG,
		  IMG(1, "a.png") "," IMG(2, "b.png") "," IMG(3, "c.png") "," IMG(4, "d.png"),
		  ANN(1, 1, 2) "," ANN(2, 3, 1));
	assert_int_equal(import(f, &rep, &json, 1), 0);
	assert_int_equal(rep.images_in_file, 4);
	assert_int_equal(rep.images_matched, 4);
	assert_int_equal(rep.images_labeled, 4);
	assert_int_equal(rep.boxes, 2);
	assert_int_equal(rep.negatives, 2);
	assert_int_equal(rep.batch_not_in_file, 0);
	assert_int_equal(boxes_of(f, 0, &cls), 1);
	assert_int_equal(cls, 1);          /* a: dog now */
	assert_int_equal(boxes_of(f, 1, NULL), 0); /* b: a negative */
	assert_int_equal(boxes_of(f, 2, NULL), 1);
	assert_int_equal(boxes_of(f, 3, NULL), 0);
	assert_int_equal(boxes_of(f, 4, NULL), -1); /* e: not in the batch */
	buf_release(&json);
}

/* Another batch's export: no file_name is in the batch. */
static void test_wrong_file_for_batch(void **state)
{
	struct fixture *f = *state;
	struct buf json = BUF_INIT;

	coco_json(&json, CATS_CAT_DOG, IMG(1, "x/shape_000061.jpg") "," IMG(2, "shape_000062.jpg"),
		  ANN(1, 1, 1));
	assert_refused(f, &json, 1, "no image of the file is in batch", f->batch.id, "'shape_000061.jpg'",
		       "a.png", NULL);
	/* e.png exists in the dataset but not in the batch: still no match. */
	coco_json(&json, CATS_CAT_DOG, IMG(1, "e.png"), "");
	assert_refused(f, &json, 1, "no image of the file is in batch", "'e.png'", NULL);
	buf_release(&json);
}

static void test_wrong_file_no_batch(void **state)
{
	struct fixture *f = *state;
	struct buf json = BUF_INIT;

	coco_json(&json, CATS_CAT_DOG, IMG(1, "nothere.png"), ANN(1, 1, 1));
	assert_refused(f, &json, 0, "no image of the file is in the dataset", "'nothere.png'", NULL);
	buf_release(&json);
}

/* An empty image list would make the batch negatives. */
static void test_no_images(void **state)
{
	struct fixture *f = *state;
	struct buf json = BUF_INIT;

	coco_json(&json, CATS_CAT_DOG, "", "");
	assert_refused(f, &json, 1, "the file lists no images", NULL);
	assert_refused(f, &json, 0, "the file lists no images", NULL);
	buf_release(&json);
}

/*
 * A file of which most images are unknown: imported (a subset is
 * legitimate), the outcome says so, and batch images the file does not
 * list keep their labels.
 */
static void test_partial_match(void **state)
{
	struct fixture *f = *state;
	struct buf json = BUF_INIT, text = BUF_INIT;
	struct import_report rep;
	int64_t cls = -1;

	coco_json(&json, CATS_CAT_DOG,
		  IMG(1, "c.png") "," IMG(2, "q1.png") "," IMG(3, "q2.png") "," IMG(4, "q3.png"),
		  ANN(1, 1, 2) "," ANN(2, 2, 1));
	assert_int_equal(import(f, &rep, &json, 1), 0);
	assert_int_equal(rep.images_in_file, 4);
	assert_int_equal(rep.images_matched, 1);
	assert_int_equal(rep.unknown_images, 3);
	assert_int_equal(rep.images_labeled, 1);
	assert_int_equal(rep.negatives, 0);
	assert_int_equal(rep.batch_not_in_file, 3);
	assert_int_equal(rep.orphan_boxes, 1);
	assert_int_equal(boxes_of(f, 2, &cls), 1);  /* c: the dog */
	assert_int_equal(cls, 1);
	assert_int_equal(boxes_of(f, 0, &cls), 1);  /* a: its cat, untouched */
	assert_int_equal(cls, 0);
	assert_int_equal(boxes_of(f, 1, &cls), 1);  /* b: its dog, untouched */
	assert_int_equal(cls, 1);
	assert_int_equal(boxes_of(f, 3, NULL), -1); /* d: still unlabeled, not a negative */

	assert_int_equal(import_report_text(&text, &rep), 0);
	assert_contains(text.ptr, "images_in_file: 4\nimages_matched: 1\n");
	assert_contains(text.ptr, "batch_images_not_in_file: 3\n");
	assert_contains(text.ptr, "first_unknown_image: q1.png\n");
	assert_contains(text.ptr, "warning: only 1 of the 4 images in the file matched");

	/* Half or more matched: counted, no warning. */
	coco_json(&json, CATS_CAT_DOG, IMG(1, "c.png") "," IMG(2, "d.png") "," IMG(3, "q1.png"), "");
	assert_int_equal(import(f, &rep, &json, 1), 0);
	buf_reset(&text);
	assert_int_equal(import_report_text(&text, &rep), 0);
	assert_contains(text.ptr, "unknown_images: 1\n");
	assert_null(strstr(text.ptr, "warning"));
	buf_release(&text);
	buf_release(&json);
}

/* `"categories": []` while annotations name category ids: refused. */
static void test_all_categories_unknown(void **state)
{
	struct fixture *f = *state;
	struct buf json = BUF_INIT;

	coco_json(&json, "", IMG(1, "a.png") "," IMG(2, "b.png") "," IMG(3, "c.png"),
		  ANN(1, 1, 3) "," ANN(2, 2, 1));
	assert_refused(f, &json, 1, "none of the 2 annotations has a category of the file",
		       "category_id is 3", "categories has 0 entries", NULL);
	assert_refused(f, &json, 0, "none of the 2 annotations", NULL);
	/* Categories present but none of the ids used. */
	coco_json(&json, "{\"id\":7,\"name\":\"bird\"}", IMG(1, "a.png"), ANN(1, 1, 1));
	assert_refused(f, &json, 1, "none of the 1 annotations", NULL);
	/* A missing categories key is a malformed file. */
	buf_reset(&json);
	buf_puts(&json, "{\"images\":[" IMG(1, "a.png") "],\"annotations\":[" ANN(1, 1, 1) "]}");
	assert_refused(f, &json, 1, "categories: missing", NULL);
	buf_release(&json);
}

/*
 * Some categories unknown: an image that lost every box to an unknown
 * category keeps its labels; one with a known box too gets that box; one
 * without annotations is a negative.
 */
static void test_some_categories_unknown(void **state)
{
	struct fixture *f = *state;
	struct buf json = BUF_INIT, text = BUF_INIT;
	struct import_report rep;
	int64_t cls = -1;

	coco_json(&json, "{\"id\":2,\"name\":\"dog\"}",
		  IMG(1, "a.png") "," IMG(2, "b.png") "," IMG(3, "c.png") "," IMG(4, "d.png"),
		  ANN(1, 1, 1) "," ANN(2, 1, 9) ","  /* a: only unknown categories */
		  ANN(3, 2, 1) "," ANN(4, 2, 2) ","  /* b: one unknown, one dog */
		  ANN(5, 3, 1));                     /* c: only unknown (was unlabeled) */
	assert_int_equal(import(f, &rep, &json, 1), 0);
	assert_int_equal(rep.unknown_categories, 4);
	assert_int_equal(rep.unchanged_unknown_category, 2);
	assert_int_equal(rep.images_matched, 4);
	assert_int_equal(rep.images_labeled, 2);
	assert_int_equal(rep.negatives, 1);
	assert_int_equal(rep.boxes, 1);
	assert_int_equal(boxes_of(f, 0, &cls), 1);  /* a: still its cat */
	assert_int_equal(cls, 0);
	assert_int_equal(boxes_of(f, 1, &cls), 1);  /* b: the known dog */
	assert_int_equal(cls, 1);
	assert_int_equal(boxes_of(f, 2, NULL), -1); /* c: not made a negative */
	assert_int_equal(boxes_of(f, 3, NULL), 0);  /* d: no annotation: a negative */
	assert_int_equal(import_report_text(&text, &rep), 0);
	assert_contains(text.ptr, "images_unchanged_unknown_category: 2\n");
	buf_release(&text);
	buf_release(&json);
}

static void test_duplicate_file_name(void **state)
{
	struct fixture *f = *state;
	struct buf json = BUF_INIT;

	coco_json(&json, CATS_CAT_DOG, IMG(1, "a.png") "," IMG(2, "b.png") "," IMG(3, "a.png"),
		  ANN(1, 1, 1) "," ANN(2, 3, 2));
	assert_refused(f, &json, 1, "images[2].file_name: duplicate file_name 'a.png' (also images[0])",
		       NULL);
	assert_refused(f, &json, 0, "duplicate file_name 'a.png'", NULL);
	/* Same base name in two directories: one dataset image, refused as well. */
	coco_json(&json, CATS_CAT_DOG, IMG(1, "b.png") "," IMG(2, "x/a.png") "," IMG(3, "y/a.png"), "");
	assert_refused(f, &json, 1, "images[2].file_name: 'y/a.png' has the same name as 'x/a.png' (images[1])",
		       NULL);
	buf_release(&json);
}

/* Without a batch, a name and "<id>.<ext>" for the same image would merge too. */
static void test_two_names_one_image(void **state)
{
	struct fixture *f = *state;
	struct buf json = BUF_INIT, images = BUF_INIT;

	buf_printf(&images, IMG(1, "a.png") ",{\"id\":2,\"file_name\":\"%s.png\",\"width\":100,\"height\":50}",
		   f->ids[0]);
	coco_json(&json, CATS_CAT_DOG, images.ptr, ANN(1, 1, 1) "," ANN(2, 2, 2));
	assert_refused(f, &json, 0, "two images of the file are the same dataset image", f->ids[0], NULL);
	buf_release(&images);
	buf_release(&json);
}

/* ctl/import (in the mount) refuses a relative file=; the command line resolves it. */
static void test_verb_relative_path(void **state)
{
	struct fixture *f = *state;
	struct buf json = BUF_INIT, out = BUF_INIT, path = BUF_INIT, line = BUF_INIT;
	char cwd[4096];
	int64_t cls = -1;

	coco_json(&json, CATS_CAT_DOG, IMG(1, "d.png"), ANN(1, 1, 2));
	buf_printf(&path, "%s/rel.json", f->dir);
	assert_int_equal(fs_write_file_atomic(path.ptr, json.ptr, json.len, 0644), 0);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(f->dir), 0);

	f->repo->in_mount = 1;
	assert_int_equal(verb_run_line(f->repo, "import", "file=rel.json batch=latest", &out), -EINVAL);
	assert_contains(out.ptr, "status: error\n");
	assert_contains(out.ptr, "file= must be an absolute path: the mount does not know your working directory");
	assert_int_equal(boxes_of(f, 3, NULL), -1);
	buf_reset(&out);
	assert_int_equal(verb_run_line(f->repo, "import", "file=./rel.json batch=latest", &out), -EINVAL);
	assert_int_equal(boxes_of(f, 3, NULL), -1);

	buf_reset(&out);
	buf_printf(&line, "file=%s batch=latest", path.ptr);
	assert_int_equal(verb_run_line(f->repo, "import", line.ptr, &out), 0);
	assert_contains(out.ptr, "status: ok\n");
	assert_int_equal(boxes_of(f, 3, &cls), 1);
	assert_int_equal(cls, 1);

	f->repo->in_mount = 0; /* the command line */
	coco_json(&json, CATS_CAT_DOG, IMG(1, "d.png"), "");
	assert_int_equal(fs_write_file_atomic("rel.json", json.ptr, json.len, 0644), 0);
	buf_reset(&out);
	assert_int_equal(verb_run_line(f->repo, "import", "file=rel.json batch=latest", &out), 0);
	assert_int_equal(boxes_of(f, 3, NULL), 0);

	assert_int_equal(chdir(cwd), 0);
	buf_release(&line);
	buf_release(&path);
	buf_release(&out);
	buf_release(&json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_full_match, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_file_for_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_file_no_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_images, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_match, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_categories_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_some_categories_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_file_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_names_one_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verb_relative_path, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
