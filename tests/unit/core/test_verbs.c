/*
 * Unit tests for core/verbs: the control lines that ctl/<verb> and the
 * command line run, here labelset's class lists (names with spaces, as in
 * COCO's "traffic light"; bytes that are not UTF-8 text refused before any
 * change) and an unknown key; exclude/include name existing images and
 * label sets, and an id listed twice counts once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/batch.h"
#include "core/repo.h"
#include "core/verbs.h"
#include "store/catalog.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "testfs.h"
#include "testrepo.h"

struct fx {
	char dir[64];
	struct repo *repo;
};

static int fx_setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx || testrepo_make(fx->dir, sizeof(fx->dir), "verbs", &fx->repo) < 0)
		return -1;
	*state = fx;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *fx = *state;

	testrepo_remove(fx->dir, fx->repo);
	free(fx);
	return 0;
}

/* The classes of label set `name`, joined with '|'. */
static void classes_of(struct fx *fx, const char *name, char *out, size_t size)
{
	char **cls;
	size_t n;

	out[0] = '\0';
	assert_int_equal(catalog_labelset_classes(fx->repo->cat, name, &cls, &n), 0);
	for (size_t i = 0; i < n; i++)
		snprintf(out + strlen(out), size - strlen(out), "%s%s", i ? "|" : "", cls[i]);
	catalog_strings_free(cls, n);
}

static void test_labelset_class_names(void **state)
{
	struct fx *fx = *state;
	struct buf out = BUF_INIT;
	char got[256];

	assert_int_equal(verb_run_line(fx->repo, "labelset",
				       "name=street classes=traffic light, fire hydrant ,car", &out), 0);
	classes_of(fx, "street", got, sizeof(got));
	assert_string_equal(got, "traffic light|fire hydrant|car");
	assert_non_null(strstr(out.ptr, "classes_added: 3"));

	/* Quoted, and empty items between commas skipped. */
	buf_reset(&out);
	assert_int_equal(verb_run_line(fx->repo, "labelset", "name=street classes=\"stop sign\",,car", &out), 0);
	classes_of(fx, "street", got, sizeof(got));
	assert_string_equal(got, "traffic light|fire hydrant|car|stop sign");
	buf_release(&out);
}

static void test_labelset_refuses_non_text(void **state)
{
	struct fx *fx = *state;
	struct buf out = BUF_INIT;

	/* Not UTF-8: refused, and the label set is not even created. */
	assert_true(verb_run_line(fx->repo, "labelset", "name=utf classes=ok,\xff\xfe", &out) < 0);
	assert_non_null(strstr(out.ptr, "status: error"));
	assert_non_null(strstr(out.ptr, "bad class name"));
	assert_false(catalog_labelset_exists(fx->repo->cat, "utf"));
	/* A control character inside a name. */
	buf_reset(&out);
	assert_true(verb_run_line(fx->repo, "labelset", "name=ctl classes=a\x01b", &out) < 0);
	assert_false(catalog_labelset_exists(fx->repo->cat, "ctl"));
	/* An unknown key names itself. */
	buf_reset(&out);
	assert_true(verb_run_line(fx->repo, "labelset", "name=x colour=red", &out) < 0);
	assert_non_null(strstr(out.ptr, "colour"));
	buf_release(&out);
}

static void add_image(struct fx *fx, char c, char *id_out)
{
	struct catalog_image img;

	memset(&img, 0, sizeof(img));
	memset(img.id, c, 32);
	strcpy(img.ext, "jpg");
	img.bytes = 10;
	img.width = img.height = 8;
	strcpy(img.ingested_at, "2026-01-01T00:00:00Z");
	snprintf(img.name, sizeof(img.name), "%c.jpg", c);
	assert_true(catalog_image_add(fx->repo->cat, &img) >= 0);
	strcpy(id_out, img.id);
}

static void test_exclude_include_targets(void **state)
{
	struct fx *fx = *state;
	struct buf out = BUF_INIT;
	char a[33], b[33], line[256];

	add_image(fx, 'a', a);
	add_image(fx, 'b', b);
	/* An id given twice counts once. */
	snprintf(line, sizeof(line), "images=%s,%s,%s reason=blurry", a, b, a);
	assert_int_equal(verb_run_line(fx->repo, "exclude", line, &out), 0);
	assert_non_null(strstr(out.ptr, "excluded: 2\n"));
	/* A label set that does not exist, or an unknown image: refused, nothing changes. */
	buf_reset(&out);
	snprintf(line, sizeof(line), "images=%s reason=x label_set=nope", a);
	assert_true(verb_run_line(fx->repo, "exclude", line, &out) < 0);
	assert_non_null(strstr(out.ptr, "no label set 'nope'"));
	buf_reset(&out);
	snprintf(line, sizeof(line), "images=%s,%s", b, "cccccccccccccccccccccccccccccccc");
	assert_true(verb_run_line(fx->repo, "include", line, &out) < 0);
	assert_non_null(strstr(out.ptr, "no image cccc"));
	/* ... so b is still excluded, and including it counts it once. */
	buf_reset(&out);
	snprintf(line, sizeof(line), "images=%s,%s", b, b);
	assert_int_equal(verb_run_line(fx->repo, "include", line, &out), 0);
	assert_non_null(strstr(out.ptr, "included: 1\n"));
	buf_release(&out);
}

/* A name with a newline or tab (legal in a file name) stays one line in the batch's lists. */
static void test_batch_names_one_line(void **state)
{
	struct fx *fx = *state;
	struct catalog_batch_item *items = NULL;
	struct buf out = BUF_INIT, list = BUF_INIT;
	char id[33], batch_id[64];
	size_t n = 0;

	add_image(fx, 'a', id);
	{
		struct catalog_image img;

		memset(&img, 0, sizeof(img));
		memset(img.id, 'b', 32);
		strcpy(img.ext, "jpg");
		img.bytes = 10;
		img.width = img.height = 8;
		strcpy(img.ingested_at, "2026-01-02T00:00:00Z");
		strcpy(img.name, "new\nline\t.jpg");
		assert_true(catalog_image_add(fx->repo->cat, &img) >= 0);
	}
	assert_int_equal(verb_run_line(fx->repo, "batch", "size=2", &out), 0);
	assert_non_null(strstr(out.ptr, "batch_id: "));
	assert_int_equal(sscanf(strstr(out.ptr, "batch_id: "), "batch_id: %63s", batch_id), 1);
	assert_int_equal(catalog_batch_items(fx->repo->cat, batch_id, &items, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(batch_filelist(&list, items, n, "/mnt/ds/batches/b"), 0);
	assert_non_null(strstr(list.ptr, "/images/new_line_.jpg\n"));
	/* Exactly one line per image. */
	size_t lines = 0;
	for (const char *c = list.ptr; *c; c++)
		lines += *c == '\n';
	assert_int_equal(lines, 2);
	free(items);
	buf_release(&list);
	buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_labelset_class_names, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_labelset_refuses_non_text, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_exclude_include_targets, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_batch_names_one_line, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
