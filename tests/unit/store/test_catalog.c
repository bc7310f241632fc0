/*
 * Unit tests for store/catalog: schema creation and migration from an
 * empty database, refusal of a newer schema, one transaction per change
 * (a failing row leaves nothing behind), label sets that only append,
 * batch candidates, and the merged labeled-image walk the exports use.
 * The invariants are re-checked after each operation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/catalog.h"
#include "util/fault.h"
#include "util/fsutil.h"

struct fx {
	char dir[64];
	char db[96];
	struct catalog *cat;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/dsfs-test-catalog-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->db, sizeof(fx->db), "%s/catalog.db", fx->dir);
	if (catalog_open(&fx->cat, fx->db) < 0)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	catalog_free(fx->cat);
	fs_rm_rf(fx->dir);
	free(fx);
	return 0;
}

static void make_image(struct catalog_image *img, int i, const char *name)
{
	memset(img, 0, sizeof(*img));
	snprintf(img->id, sizeof(img->id), "%02x%030x", i & 0xff, i);
	strcpy(img->ext, "jpg");
	img->bytes = 1000 + i;
	img->width = 640;
	img->height = 480;
	snprintf(img->ingested_at, sizeof(img->ingested_at), "2026-01-01T00:00:%02dZ", i % 60);
	snprintf(img->name, sizeof(img->name), "%s", name);
}

static int64_t count(struct catalog *cat)
{
	int64_t n = -1;
	assert_int_equal(catalog_image_count(cat, &n), 0);
	return n;
}

static int user_version(const char *db)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	int v = -1;

	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

static void test_migrate_from_empty(void **state)
{
	struct fx *fx = *state;
	char **sets;
	size_t n;

	assert_int_equal(user_version(fx->db), catalog_schema_version());
	assert_int_equal(count(fx->cat), 0);
	assert_int_equal(catalog_labelsets(fx->cat, &sets, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(sets[0], "default");
	catalog_strings_free(sets, n);
	/* Reopening migrates nothing and keeps the data. */
	catalog_free(fx->cat);
	assert_int_equal(catalog_open(&fx->cat, fx->db), 0);
	assert_int_equal(user_version(fx->db), catalog_schema_version());
	assert_int_equal(catalog_labelsets(fx->cat, &sets, &n), 0);
	assert_int_equal(n, 1);
	catalog_strings_free(sets, n);
}

static void test_newer_schema_refused(void **state)
{
	struct fx *fx = *state;
	struct catalog *other = NULL;
	sqlite3 *h;
	char sql[64];

	assert_int_equal(sqlite3_open(fx->db, &h), SQLITE_OK);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", catalog_schema_version() + 1);
	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	assert_int_equal(catalog_open(&other, fx->db), -EPROTO);
	assert_null(other);
}

static void test_images_dedup(void **state)
{
	struct fx *fx = *state;
	struct catalog_image img, got;

	make_image(&img, 1, "a.jpg");
	assert_int_equal(catalog_image_add(fx->cat, &img), 0);
	assert_int_equal(catalog_image_add(fx->cat, &img), 1); /* recorded once */
	assert_int_equal(count(fx->cat), 1);
	assert_int_equal(catalog_image_get(fx->cat, img.id, &got), 0);
	assert_string_equal(got.name, "a.jpg");
	assert_int_equal(got.bytes, img.bytes);
	make_image(&img, 0x201, "b.jpg");
	assert_int_equal(catalog_image_add(fx->cat, &img), 0);
	assert_int_equal(catalog_image_get(fx->cat, "ffffffffffffffffffffffffffffffff", &got), -ENOENT);
}

static void test_add_many_is_one_transaction(void **state)
{
	struct fx *fx = *state;
	struct catalog_image imgs[50];
	int added[50];

	for (int i = 0; i < 50; i++)
		make_image(&imgs[i], i + 10, "x.jpg");
	assert_int_equal(catalog_images_add_many(fx->cat, imgs, 25, added), 0);
	assert_int_equal(count(fx->cat), 25);
	assert_int_equal(catalog_images_add_many(fx->cat, imgs, 50, added), 0);
	assert_int_equal(added[0], 0);
	assert_int_equal(added[49], 1);
	assert_int_equal(count(fx->cat), 50);
#ifdef DSFS_FAULT_INJECTION
	/* A statement failing mid-way rolls the whole group back. */
	for (int i = 0; i < 50; i++)
		make_image(&imgs[i], i + 100, "y.jpg");
	fault_arm(FAULT_CATALOG_BUSY, 1);
	assert_true(catalog_images_add_many(fx->cat, imgs, 50, added) < 0);
	assert_int_equal(count(fx->cat), 50);
#endif
}

static void test_exclude_rolls_back_on_unknown_id(void **state)
{
	struct fx *fx = *state;
	struct catalog_image img;
	struct catalog_image *cand;
	size_t n;

	make_image(&img, 1, "a.jpg");
	catalog_image_add(fx->cat, &img);
	const char *ids[] = { img.id, "00000000000000000000000000000bad" };
	assert_int_equal(catalog_exclude(fx->cat, ids, 2, NULL, "blurry"), -ENOENT);
	/* Nothing was excluded: the image is still a candidate. */
	assert_int_equal(catalog_batch_candidates(fx->cat, "default", CATALOG_ORDER_NEWEST, 0, 10, &cand, &n), 0);
	assert_int_equal(n, 1);
	free(cand);
	assert_int_equal(catalog_exclude(fx->cat, ids, 1, NULL, "blurry"), 0);
	assert_int_equal(catalog_batch_candidates(fx->cat, "default", CATALOG_ORDER_NEWEST, 0, 10, &cand, &n), 0);
	assert_int_equal(n, 0);
	free(cand);
	size_t removed = 0;
	assert_int_equal(catalog_include(fx->cat, ids, 1, NULL, &removed), 0);
	assert_int_equal(removed, 1);
}

static void test_classes_only_append(void **state)
{
	struct fx *fx = *state;
	const char *first[] = { "car", "bus" }, *second[] = { "truck", "car" };
	char **cls;
	size_t n, added;

	assert_int_equal(catalog_labelset_add_classes(fx->cat, "vehicles", first, 2, &added), 0);
	assert_int_equal(added, 2);
	assert_int_equal(catalog_labelset_add_classes(fx->cat, "vehicles", second, 2, &added), 0);
	assert_int_equal(added, 1);
	assert_int_equal(catalog_labelset_classes(fx->cat, "vehicles", &cls, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(cls[0], "car");
	assert_string_equal(cls[1], "bus");
	assert_string_equal(cls[2], "truck");
	catalog_strings_free(cls, n);
	assert_int_equal(catalog_labelset_ensure(fx->cat, "bad/name"), -EINVAL);
	assert_int_equal(catalog_labelset_classes(fx->cat, "nope", &cls, &n), -ENOENT);
}

struct walk {
	int images, boxes, negatives;
	char last[CATALOG_ID_LEN + 1];
};

static int walk_fn(const struct catalog_image *img, const struct catalog_box *boxes, size_t n,
		   void *payload)
{
	struct walk *w = payload;

	assert_true(strcmp(w->last, img->id) < 0); /* id order */
	strcpy(w->last, img->id);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(boxes[i].image_id, img->id);
	w->images++;
	w->boxes += (int)n;
	w->negatives += n == 0;
	return 0;
}

static void test_labels_replace_and_walk(void **state)
{
	struct fx *fx = *state;
	struct catalog_image imgs[4];
	struct catalog_box boxes[3];
	struct walk w = { 0 };
	const char *ids[4];
	const char *cls[] = { "a" };

	catalog_labelset_add_classes(fx->cat, "default", cls, 1, NULL);
	for (int i = 0; i < 4; i++) {
		make_image(&imgs[i], 40 - i, "p.jpg");
		catalog_image_add(fx->cat, &imgs[i]);
		ids[i] = imgs[i].id;
	}
	memset(boxes, 0, sizeof(boxes));
	strcpy(boxes[0].image_id, ids[0]);
	strcpy(boxes[1].image_id, ids[0]);
	strcpy(boxes[2].image_id, ids[2]);
	for (int i = 0; i < 3; i++)
		boxes[i].x_max = boxes[i].y_max = 10;
	assert_int_equal(catalog_labels_replace(fx->cat, "default", "", "t", ids, 3, boxes, 3), 0);
	assert_int_equal(catalog_labeled_foreach(fx->cat, "default", walk_fn, &w), 0);
	assert_int_equal(w.images, 3);
	assert_int_equal(w.boxes, 3);
	assert_int_equal(w.negatives, 1);
	/* Replacing again with no boxes leaves labeled negatives, never old boxes. */
	memset(&w, 0, sizeof(w));
	assert_int_equal(catalog_labels_replace(fx->cat, "default", "", "t", ids, 3, NULL, 0), 0);
	assert_int_equal(catalog_labeled_foreach(fx->cat, "default", walk_fn, &w), 0);
	assert_int_equal(w.images, 3);
	assert_int_equal(w.boxes, 0);
	/* Excluded images leave the walk. */
	memset(&w, 0, sizeof(w));
	assert_int_equal(catalog_exclude(fx->cat, ids, 1, "default", "x"), 0);
	assert_int_equal(catalog_labeled_foreach(fx->cat, "default", walk_fn, &w), 0);
	assert_int_equal(w.images, 2);
}

static void test_batches(void **state)
{
	struct fx *fx = *state;
	struct catalog_image img, *cand;
	struct catalog_batch b = { 0 }, got;
	struct catalog_batch_item item;
	size_t n;

	make_image(&img, 7, "z.jpg");
	catalog_image_add(fx->cat, &img);
	strcpy(b.id, "batch_1");
	strcpy(b.label_set, "default");
	strcpy(b.created_at, "2026-01-01T00:00:00Z");
	strcpy(b.state, "open");
	memset(&item, 0, sizeof(item));
	strcpy(item.name, "z.jpg");
	item.img = img;
	assert_int_equal(catalog_batch_add(fx->cat, &b, &item, 1), 0);
	assert_int_equal(catalog_batch_add(fx->cat, &b, &item, 1), -EEXIST);
	assert_int_equal(catalog_batch_latest(fx->cat, &got), 0);
	assert_string_equal(got.id, "batch_1");
	assert_int_equal(got.n_items, 1);
	/* An image in a batch is no longer a candidate for that label set. */
	assert_int_equal(catalog_batch_candidates(fx->cat, "default", CATALOG_ORDER_OLDEST, 0, 10, &cand, &n), 0);
	assert_int_equal(n, 0);
	free(cand);
	assert_int_equal(catalog_batch_set_state(fx->cat, "batch_1", "annotating", 42), 0);
	assert_int_equal(catalog_batch_get(fx->cat, "batch_1", &got), 0);
	assert_int_equal(got.cvat_task_id, 42);
	assert_string_equal(got.state, "annotating");
	assert_int_equal(catalog_batch_get(fx->cat, "nope", &got), -ENOENT);
}

static void test_generation_moves(void **state)
{
	struct fx *fx = *state;
	struct catalog *other;
	struct catalog_image img;
	uint64_t g0 = catalog_generation(fx->cat), g1, g2;

	make_image(&img, 3, "g.jpg");
	catalog_image_add(fx->cat, &img);
	g1 = catalog_generation(fx->cat);
	assert_true(g1 != g0);
	/* A change by another connection (another process) is noticed too. */
	assert_int_equal(catalog_open(&other, fx->db), 0);
	make_image(&img, 4, "h.jpg");
	assert_int_equal(catalog_image_add(other, &img), 0);
	catalog_free(other);
	g2 = catalog_generation(fx->cat);
	assert_true(g2 != g1);
	assert_int_equal(catalog_generation(fx->cat), g2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrate_from_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_images_dedup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_many_is_one_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exclude_rolls_back_on_unknown_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_classes_only_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_labels_replace_and_walk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_generation_moves, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
