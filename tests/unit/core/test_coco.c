/*
 * Unit tests for core/coco: CVAT's own example parses to the right values,
 * write -> parse is exact (bit for bit, strings included) and write is
 * stable, every structural error names its JSON path, and the id index
 * agrees with a linear search after every kind of insertion.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/coco.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fsutil.h"

/* shared/api/CVAT.md section 7, verbatim. */
static const char cvat_example[] =
	"{\"licenses\":[{\"name\":\"\",\"id\":0,\"url\":\"\"}],\n"
	" \"info\":{\"contributor\":\"\",\"date_created\":\"\",\"description\":\"\",\"url\":\"\",\"version\":\"\",\"year\":\"\"},\n"
	" \"categories\":[{\"id\":1,\"name\":\"car\",\"supercategory\":\"\"},{\"id\":2,\"name\":\"person\",\"supercategory\":\"\"}],\n"
	" \"images\":[\n"
	"  {\"id\":1,\"width\":640,\"height\":480,\"file_name\":\"img_0001.jpg\",\"license\":0,\"flickr_url\":\"\",\"coco_url\":\"\",\"date_captured\":0},\n"
	"  {\"id\":2,\"width\":640,\"height\":480,\"file_name\":\"img_0002.jpg\",\"license\":0,\"flickr_url\":\"\",\"coco_url\":\"\",\"date_captured\":0}],\n"
	" \"annotations\":[\n"
	"  {\"id\":1,\"image_id\":1,\"category_id\":1,\"segmentation\":[],\"area\":5000.0,\"bbox\":[10.0,20.0,100.0,50.0],\n"
	"   \"iscrowd\":0,\"attributes\":{\"occluded\":false,\"rotation\":0.0}},\n"
	"  {\"id\":2,\"image_id\":2,\"category_id\":2,\"segmentation\":[[100.0,100.0,200.0,100.0,200.0,180.0]],\n"
	"   \"area\":4000.0,\"bbox\":[100.0,100.0,100.0,80.0],\"iscrowd\":0,\n"
	"   \"attributes\":{\"pose\":\"side\",\"occluded\":false}}]}\n";

/* The lookups must agree with a plain search of the arrays. */
static void check_lookups(const struct coco *c)
{
	for (size_t i = 0; i < c->n_cats; i++)
		assert_ptr_equal(coco_category(c, c->cats[i].id), &c->cats[i]);
	for (size_t i = 0; i < c->n_images; i++)
		assert_ptr_equal(coco_image(c, c->images[i].id), &c->images[i]);
}

static void assert_same_double(double a, double b)
{
	/* Bit equality: -0.0 vs 0.0 and the last ulp both count. */
	assert_memory_equal(&a, &b, sizeof(double));
}

static void assert_coco_equal(const struct coco *a, const struct coco *b)
{
	assert_int_equal(a->n_cats, b->n_cats);
	assert_int_equal(a->n_images, b->n_images);
	assert_int_equal(a->n_anns, b->n_anns);
	for (size_t i = 0; i < a->n_cats; i++) {
		assert_int_equal(a->cats[i].id, b->cats[i].id);
		assert_string_equal(a->cats[i].name, b->cats[i].name);
	}
	for (size_t i = 0; i < a->n_images; i++) {
		assert_int_equal(a->images[i].id, b->images[i].id);
		assert_string_equal(a->images[i].file_name, b->images[i].file_name);
		assert_int_equal(a->images[i].width, b->images[i].width);
		assert_int_equal(a->images[i].height, b->images[i].height);
	}
	for (size_t i = 0; i < a->n_anns; i++) {
		assert_int_equal(a->anns[i].id, b->anns[i].id);
		assert_int_equal(a->anns[i].image_id, b->anns[i].image_id);
		assert_int_equal(a->anns[i].category_id, b->anns[i].category_id);
		assert_same_double(a->anns[i].x, b->anns[i].x);
		assert_same_double(a->anns[i].y, b->anns[i].y);
		assert_same_double(a->anns[i].w, b->anns[i].w);
		assert_same_double(a->anns[i].h, b->anns[i].h);
	}
}

static void test_parse_cvat_example(void **state)
{
	struct coco c = COCO_INIT;

	(void)state;
	assert_int_equal(coco_parse(&c, cvat_example, strlen(cvat_example)), 0);
	assert_int_equal(c.n_cats, 2);
	assert_int_equal(c.cats[0].id, 1);
	assert_string_equal(c.cats[0].name, "car");
	assert_int_equal(c.cats[1].id, 2);
	assert_string_equal(c.cats[1].name, "person");
	assert_int_equal(c.n_images, 2);
	assert_int_equal(c.images[0].id, 1);
	assert_string_equal(c.images[0].file_name, "img_0001.jpg");
	assert_int_equal(c.images[0].width, 640);
	assert_int_equal(c.images[0].height, 480);
	assert_int_equal(c.images[1].id, 2);
	assert_string_equal(c.images[1].file_name, "img_0002.jpg");
	assert_int_equal(c.n_anns, 2);
	assert_int_equal(c.anns[0].id, 1);
	assert_int_equal(c.anns[0].image_id, 1);
	assert_int_equal(c.anns[0].category_id, 1);
	assert_true(c.anns[0].x == 10.0 && c.anns[0].y == 20.0);
	assert_true(c.anns[0].w == 100.0 && c.anns[0].h == 50.0);
	/* The polygon's bbox is what we keep; its unknown attribute is ignored. */
	assert_int_equal(c.anns[1].image_id, 2);
	assert_int_equal(c.anns[1].category_id, 2);
	assert_true(c.anns[1].x == 100.0 && c.anns[1].y == 100.0);
	assert_true(c.anns[1].w == 100.0 && c.anns[1].h == 80.0);
	check_lookups(&c);
	assert_string_equal(coco_category(&c, 2)->name, "person");
	assert_null(coco_category(&c, 3));
	assert_null(coco_image(&c, 0));
	coco_release(&c);
	/* Released means empty and reusable. */
	assert_null(c.cats);
	assert_int_equal(c.n_anns, 0);
	assert_null(c.priv);
	coco_release(&c);
}

static void test_parse_int_and_float_numbers(void **state)
{
	/* ids as 3.0, sizes as floats, bbox as ints: all legal JSON numbers. */
	static const char j[] =
		"{\"categories\":[{\"id\":3.0,\"name\":\"a\"}],"
		"\"images\":[{\"id\":7,\"file_name\":\"x.png\",\"width\":32.0,\"height\":16}],"
		"\"annotations\":[{\"id\":1,\"image_id\":7.0,\"category_id\":3,\"bbox\":[1,2,3,4]},"
		"{\"id\":2,\"image_id\":9,\"category_id\":99,\"bbox\":[0.5,-1,0,1e3]}],"
		"\"extra\":{\"ignored\":[1,2,3]}}";
	struct coco c = COCO_INIT;

	(void)state;
	assert_int_equal(coco_parse(&c, j, strlen(j)), 0);
	assert_int_equal(c.cats[0].id, 3);
	assert_int_equal(c.images[0].width, 32);
	assert_int_equal(c.anns[0].image_id, 7);
	assert_true(c.anns[0].x == 1 && c.anns[0].y == 2 && c.anns[0].w == 3 && c.anns[0].h == 4);
	/* Content is not judged: a missing image / category and a zero width stay. */
	assert_int_equal(c.anns[1].image_id, 9);
	assert_null(coco_image(&c, 9));
	assert_true(c.anns[1].x == 0.5 && c.anns[1].y == -1 && c.anns[1].w == 0 &&
		    c.anns[1].h == 1000);
	coco_release(&c);
}

static void test_parse_empty_lists(void **state)
{
	static const char j[] = "{\"licenses\":[],\"info\":{},\"categories\":[],\"images\":[],"
				"\"annotations\":[]}";
	struct coco c = COCO_INIT;

	(void)state;
	assert_int_equal(coco_parse(&c, j, strlen(j)), 0);
	assert_int_equal(c.n_cats + c.n_images + c.n_anns, 0);
	assert_null(coco_image(&c, 1));
	coco_release(&c);
}

/* Each malformed input fails with -EINVAL, exactly this message, and an empty result. */
struct bad_case {
	const char *json;
	const char *msg; /* exact, or a prefix when it ends in '*' */
};

static const struct bad_case bad_cases[] = {
	{ "[]", "top level: expected an object" },
	{ "42", "top level: expected an object" },
	{ "{\"images\":[],\"annotations\":[]}", "categories: missing" },
	{ "{\"categories\":{},\"images\":[],\"annotations\":[]}", "categories: expected an array" },
	{ "{\"categories\":[],\"images\":[]}", "annotations: missing" },
	{ "{\"categories\":[],\"images\":[],\"annotations\":null}",
	  "annotations: expected an array" },
	{ "{\"categories\":[7],\"images\":[],\"annotations\":[]}",
	  "categories[0]: expected an object" },
	{ "{\"categories\":[{\"id\":\"1\",\"name\":\"a\"}],\"images\":[],\"annotations\":[]}",
	  "categories[0].id: expected an integer" },
	{ "{\"categories\":[{\"id\":1.5,\"name\":\"a\"}],\"images\":[],\"annotations\":[]}",
	  "categories[0].id: expected an integer" },
	{ "{\"categories\":[{\"id\":1e300,\"name\":\"a\"}],\"images\":[],\"annotations\":[]}",
	  "categories[0].id: expected an integer" },
	{ "{\"categories\":[{\"id\":1}],\"images\":[],\"annotations\":[]}",
	  "categories[0].name: missing" },
	{ "{\"categories\":[{\"id\":1,\"name\":\"\"}],\"images\":[],\"annotations\":[]}",
	  "categories[0].name: expected a non-empty string" },
	{ "{\"categories\":[{\"id\":1,\"name\":\"a\"},{\"id\":2,\"name\":\"b\"},"
	  "{\"id\":1,\"name\":\"c\"}],\"images\":[],\"annotations\":[]}",
	  "categories[2].id: duplicate id 1 (also categories[0])" },
	{ "{\"categories\":[],\"images\":[{\"id\":1,\"file_name\":\"a\",\"width\":1,\"height\":1},"
	  "{\"id\":2,\"width\":1,\"height\":1}],\"annotations\":[]}",
	  "images[1].file_name: missing" },
	{ "{\"categories\":[],\"images\":[{\"id\":1,\"file_name\":5,\"width\":1,\"height\":1}],"
	  "\"annotations\":[]}",
	  "images[0].file_name: expected a non-empty string" },
	{ "{\"categories\":[],\"images\":[{\"id\":1,\"file_name\":\"a\",\"height\":1}],"
	  "\"annotations\":[]}",
	  "images[0].width: missing" },
	{ "{\"categories\":[],\"images\":[{\"id\":1,\"file_name\":\"a\",\"width\":1,\"height\":true}],"
	  "\"annotations\":[]}",
	  "images[0].height: expected an integer" },
	/* Out of order, so the duplicate check must not rely on sorted input. */
	{ "{\"categories\":[],\"images\":[{\"id\":5,\"file_name\":\"a\",\"width\":1,\"height\":1},"
	  "{\"id\":2,\"file_name\":\"b\",\"width\":1,\"height\":1},"
	  "{\"id\":9,\"file_name\":\"c\",\"width\":1,\"height\":1},"
	  "{\"id\":2,\"file_name\":\"d\",\"width\":1,\"height\":1},"
	  "{\"id\":5,\"file_name\":\"e\",\"width\":1,\"height\":1}],\"annotations\":[]}",
	  "images[3].id: duplicate id 2 (also images[1])" },
	{ "{\"categories\":[],\"images\":[],\"annotations\":[{\"id\":1,\"image_id\":1,"
	  "\"category_id\":1,\"bbox\":[1,2,3]}]}",
	  "annotations[0].bbox: expected 4 numbers" },
	{ "{\"categories\":[],\"images\":[],\"annotations\":[{\"id\":1,\"image_id\":1,"
	  "\"category_id\":1,\"bbox\":[1,2,3,4]},{\"id\":2,\"image_id\":1,\"category_id\":1,"
	  "\"bbox\":[1,2,3,4]},{\"id\":3,\"image_id\":1,\"category_id\":1,\"bbox\":[1,2,3,4]},"
	  "{\"id\":4,\"image_id\":1,\"category_id\":1,\"bbox\":[1,\"2\",3,4]}]}",
	  "annotations[3].bbox: expected 4 numbers" },
	{ "{\"categories\":[],\"images\":[],\"annotations\":[{\"id\":1,\"image_id\":1,"
	  "\"category_id\":1,\"bbox\":{}}]}",
	  "annotations[0].bbox: expected 4 numbers" },
	{ "{\"categories\":[],\"images\":[],\"annotations\":[{\"id\":1,\"image_id\":1,"
	  "\"category_id\":1,\"bbox\":[1,2,3,4,5]}]}",
	  "annotations[0].bbox: expected 4 numbers" },
	{ "{\"categories\":[],\"images\":[],\"annotations\":[{\"id\":1,\"image_id\":1,"
	  "\"category_id\":1}]}",
	  "annotations[0].bbox: missing" },
	{ "{\"categories\":[],\"images\":[],\"annotations\":[{\"id\":1,\"category_id\":1,"
	  "\"bbox\":[1,2,3,4]}]}",
	  "annotations[0].image_id: missing" },
	{ "{\"categories\":[],\"images\":[],\"annotations\":[{\"id\":1,\"image_id\":1,"
	  "\"category_id\":null,\"bbox\":[1,2,3,4]}]}",
	  "annotations[0].category_id: expected an integer" },
	{ "{\"categories\":[],\"images\":[],\"annotations\":[[]]}",
	  "annotations[0]: expected an object" },
	/* jansson's position, then its reason. */
	{ "{\"categories\":[],\n\"images\":[", "invalid JSON at line 2, column 10: *" },
	{ "", "invalid JSON at line 1, column 0: *" },
	{ "{\"categories\":[] \"images\":[]}", "invalid JSON at line 1, column 25: *" },
};

static void assert_msg(const char *got, const char *want)
{
	size_t n = strlen(want);

	if (n && want[n - 1] == '*') {
		if (strncmp(got, want, n - 1))
			fail_msg("message '%s' does not start with '%.*s'", got, (int)n - 1, want);
	} else if (strcmp(got, want)) {
		fail_msg("message '%s', expected '%s'", got, want);
	}
}

static void test_parse_malformed(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct coco c = COCO_INIT;
		int rc;

		err_clear();
		rc = coco_parse(&c, bad_cases[i].json, strlen(bad_cases[i].json));
		if (rc != -EINVAL)
			fail_msg("case %zu (%s): rc %d", i, bad_cases[i].json, rc);
		assert_msg(err_last(), bad_cases[i].msg);
		assert_null(c.cats);
		assert_null(c.images);
		assert_null(c.anns);
		assert_null(c.priv);
		assert_int_equal(c.n_cats + c.n_images + c.n_anns, 0);
	}
}

static void test_parse_truncated_everywhere(void **state)
{
	/* Every proper prefix of a valid file is an error, never a crash or a success. */
	size_t n = strlen(cvat_example);

	(void)state;
	while (n > 0 && cvat_example[n - 1] != '}')
		n--;
	for (size_t len = 0; len < n; len++) {
		struct coco c = COCO_INIT;

		err_clear();
		assert_int_equal(coco_parse(&c, cvat_example, len), -EINVAL);
		assert_non_null(strstr(err_last(), "invalid JSON at line"));
		assert_null(c.priv);
	}
}

static const double tricky[] = {
	0.0, -0.0, 1.0, 10.0, 0.1, 1.0 / 3.0, 123456.789, 1e-300, 4.9e-324, 1e20, 1e22,
	9007199254740993.0, 1.7976931348623157e150, -2.5, 640.0, 0.30000000000000004,
};
#define N_TRICKY (sizeof(tricky) / sizeof(tricky[0]))

static void build_sample(struct coco *c)
{
	assert_int_equal(coco_add_category(c, 1, "car"), 0);
	assert_int_equal(coco_add_category(c, 2, "person \"quoted\" \\ back\tslash\n"), 0);
	assert_int_equal(coco_add_category(c, 7, "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x97"), 0);
	assert_int_equal(coco_add_category(c, 3, "ctrl \x01\x1f"), 0);
	assert_int_equal(coco_add_image(c, 1, "a.jpg", 640, 480), 0);
	assert_int_equal(coco_add_image(c, 3, "sub/dir/b c.png", 1, 2), 0);
	assert_int_equal(coco_add_image(c, 2, "\xe6\x97\xa5\xe6\x9c\xac.jpg", 4000, 3000), 0);
	assert_int_equal(coco_add_image(c, -5, "neg.jpg", 0, 0), 0);
	assert_int_equal(coco_add_image(c, INT64_MAX, "big.jpg", INT64_MAX, 1), 0);
	for (size_t i = 0; i < N_TRICKY; i++)
		assert_int_equal(coco_add_ann(c, 1 + (int64_t)(i % 3), 1 + (int64_t)(i % 4),
					      tricky[i], tricky[(i + 1) % N_TRICKY],
					      tricky[(i + 2) % N_TRICKY], tricky[(i + 5) % N_TRICKY]),
				 0);
}

static void test_write_roundtrip(void **state)
{
	struct coco c = COCO_INIT, back = COCO_INIT, again = COCO_INIT;
	struct buf out = BUF_INIT, out2 = BUF_INIT;

	(void)state;
	build_sample(&c);
	for (size_t i = 0; i < c.n_anns; i++)
		assert_int_equal(c.anns[i].id, (int64_t)i + 1);
	check_lookups(&c);
	assert_int_equal(coco_write(&out, &c), 0);
	assert_int_equal(strlen(out.ptr), out.len);
	if (coco_parse(&back, out.ptr, out.len) < 0)
		fail_msg("%s\n%s", err_last(), out.ptr);
	assert_coco_equal(&c, &back);
	check_lookups(&back);
	/* Writing what was read gives the same bytes. */
	assert_int_equal(coco_write(&out2, &back), 0);
	assert_int_equal(out.len, out2.len);
	assert_memory_equal(out.ptr, out2.ptr, out.len);
	/* coco_write appends. */
	assert_int_equal(coco_write(&out2, &back), 0);
	assert_int_equal(out2.len, 2 * out.len);
	/* The parsed struct keeps growing through coco_add_*. */
	assert_int_equal(coco_add_image(&back, 4, "late.jpg", 5, 5), 0);
	assert_int_equal(coco_add_ann(&back, 4, 1, 1, 2, 3, 4), 0);
	assert_int_equal(back.anns[back.n_anns - 1].id, (int64_t)back.n_anns);
	check_lookups(&back);
	/* A file without annotations round-trips too. */
	assert_int_equal(coco_add_category(&again, 1, "x"), 0);
	buf_reset(&out);
	assert_int_equal(coco_write(&out, &again), 0);
	coco_release(&again);
	assert_int_equal(coco_parse(&again, out.ptr, out.len), 0);
	assert_int_equal(again.n_cats, 1);
	assert_int_equal(again.n_anns + again.n_images, 0);
	coco_release(&again);
	coco_release(&back);
	coco_release(&c);
	buf_release(&out);
	buf_release(&out2);
}

static void test_write_layout(void **state)
{
	struct coco c = COCO_INIT;
	struct buf out = BUF_INIT;
	const char *p[5];
	static const char *keys[5] = { "\"licenses\"", "\"info\"", "\"categories\"", "\"images\"",
				       "\"annotations\"" };

	(void)state;
	assert_int_equal(coco_parse(&c, cvat_example, strlen(cvat_example)), 0);
	assert_int_equal(coco_write(&out, &c), 0);
	for (int k = 0; k < 5; k++) {
		assert_non_null(p[k] = strstr(out.ptr, keys[k]));
		if (k)
			assert_true(p[k - 1] < p[k]);
	}
	/* CVAT's number style: floats keep ".0"; ids and sizes are ints. */
	assert_non_null(strstr(out.ptr, "{\"id\":1,\"image_id\":1,\"category_id\":1,"
					 "\"segmentation\":[],\"area\":5000.0,"
					 "\"bbox\":[10.0,20.0,100.0,50.0],\"iscrowd\":0,"
					 "\"attributes\":{\"occluded\":false,\"rotation\":0.0}}"));
	assert_non_null(strstr(out.ptr, "{\"id\":1,\"width\":640,\"height\":480,"
					 "\"file_name\":\"img_0001.jpg\",\"license\":0,"
					 "\"flickr_url\":\"\",\"coco_url\":\"\",\"date_captured\":0}"));
	assert_non_null(strstr(out.ptr, "{\"id\":2,\"name\":\"person\",\"supercategory\":\"\"}"));
	assert_non_null(strstr(out.ptr, "{\"licenses\":[{\"name\":\"\",\"id\":0,\"url\":\"\"}]"));
	coco_release(&c);

	/* Shortest exact numbers, always with a decimal point. */
	assert_int_equal(coco_add_ann(&c, 1, 1, 0.1, -0.0, 1e20, 1e-7), 0);
	buf_reset(&out);
	assert_int_equal(coco_write(&out, &c), 0);
	assert_non_null(strstr(out.ptr, "\"bbox\":[0.1,-0.0,1.0e+20,1.0e-07]"));
	coco_release(&c);
	buf_release(&out);
}

static void test_write_rejects_non_finite(void **state)
{
	struct coco c = COCO_INIT;
	struct buf out = BUF_INIT;

	(void)state;
	assert_int_equal(coco_add_ann(&c, 1, 1, 0, 0, 1, 1), 0);
	assert_int_equal(coco_add_ann(&c, 1, 1, 0, NAN, 1, 1), 0);
	err_clear();
	assert_int_equal(coco_write(&out, &c), -EINVAL);
	assert_string_equal(err_last(), "annotations[1].bbox: not a finite number");
	coco_release(&c);
	assert_int_equal(coco_add_ann(&c, 1, 1, 0, 0, INFINITY, 1), 0);
	assert_int_equal(coco_write(&out, &c), -EINVAL);
	coco_release(&c);
	assert_int_equal(coco_add_ann(&c, 1, 1, 0, 0, 1e200, 1e200), 0);
	assert_int_equal(coco_write(&out, &c), -EINVAL);
	assert_string_equal(err_last(), "annotations[0].area: w*h overflows a double");
	coco_release(&c);
	/* The largest double itself is fine when the area is. */
	assert_int_equal(coco_add_ann(&c, 1, 1, 1.7976931348623157e308, 0, 1, 1), 0);
	buf_reset(&out);
	assert_int_equal(coco_write(&out, &c), 0);
	assert_non_null(strstr(out.ptr, "\"bbox\":[1.7976931348623157e+308,0.0,1.0,1.0]"));
	coco_release(&c);
	buf_release(&out);
}

static void test_add_rules(void **state)
{
	struct coco c = COCO_INIT;

	(void)state;
	assert_int_equal(coco_add_category(&c, 1, "a"), 0);
	err_clear();
	assert_int_equal(coco_add_category(&c, 1, "b"), -EEXIST);
	assert_string_equal(err_last(), "coco: category id 1 already exists");
	assert_int_equal(coco_add_category(&c, 2, ""), -EINVAL);
	assert_int_equal(coco_add_category(&c, 2, NULL), -EINVAL);
	assert_int_equal(coco_add_category(&c, 2, "bad \xc3"), -EINVAL);
	assert_int_equal(coco_add_category(&c, 2, "overlong \xc0\xaf"), -EINVAL);
	assert_int_equal(coco_add_category(&c, 2, "surrogate \xed\xa0\x80"), -EINVAL);
	assert_int_equal(c.n_cats, 1);
	assert_int_equal(coco_add_image(&c, 10, "x.jpg", 1, 1), 0);
	assert_int_equal(coco_add_image(&c, 10, "y.jpg", 1, 1), -EEXIST);
	assert_int_equal(c.n_images, 1);
	check_lookups(&c);
	coco_release(&c);
}

static void test_index_random_order(void **state)
{
	struct coco c = COCO_INIT, parsed = COCO_INIT;
	struct buf out = BUF_INIT;
	char name[32];

	(void)state;
	/* 2000 distinct ids in a scrambled order (multiplication by an odd number mod 2^k). */
	for (int64_t i = 0; i < 2000; i++) {
		int64_t id = (i * 1103 + 17) % 4096 - 1000;
		snprintf(name, sizeof(name), "%" PRId64 ".jpg", id);
		assert_int_equal(coco_add_image(&c, id, name, 1, 1), 0);
	}
	check_lookups(&c);
	for (int64_t id = -1100; id < 3200; id++) {
		const struct coco_image *im = coco_image(&c, id);
		const struct coco_image *lin = NULL;
		for (size_t i = 0; i < c.n_images; i++)
			if (c.images[i].id == id)
				lin = &c.images[i];
		assert_ptr_equal(im, lin);
	}
	assert_int_equal(coco_write(&out, &c), 0);
	assert_int_equal(coco_parse(&parsed, out.ptr, out.len), 0);
	check_lookups(&parsed);
	assert_null(coco_image(&parsed, 5000));
	coco_release(&parsed);
	coco_release(&c);
	buf_release(&out);
}

static void test_hand_filled_struct(void **state)
{
	/* No priv: lookups are linear, and coco_add_* adopts the arrays. */
	struct coco c = COCO_INIT;

	(void)state;
	c.images = calloc(3, sizeof(*c.images));
	c.cats = calloc(1, sizeof(*c.cats));
	assert_non_null(c.images);
	assert_non_null(c.cats);
	for (int i = 0; i < 3; i++) {
		c.images[i].id = 30 - 10 * i;
		c.images[i].file_name = strdup("f.jpg");
	}
	c.n_images = 3;
	c.cats[0].id = 4;
	c.cats[0].name = strdup("c");
	c.n_cats = 1;
	check_lookups(&c);
	assert_null(coco_image(&c, 1));
	assert_int_equal(coco_add_image(&c, 20, "dup.jpg", 1, 1), -EEXIST);
	assert_int_equal(coco_add_image(&c, 15, "new.jpg", 1, 1), 0);
	assert_int_equal(coco_add_category(&c, 4, "dup"), -EEXIST);
	assert_non_null(c.priv);
	check_lookups(&c);
	assert_string_equal(coco_image(&c, 15)->file_name, "new.jpg");
	coco_release(&c);
}

/*
 * The fast reader must agree with jansson: on every input either both
 * accept with the same result (or the same structural message), or jansson
 * rejects and the fast reader defers (-EAGAIN).  The fast reader may also
 * defer on \u escapes it leaves to jansson (surrogates, \u0000).
 */
static int is_syntax_error(int rc)
{
	return rc == -EINVAL && !strncmp(err_last(), "invalid JSON at line ", 21);
}

static void check_agree(const char *in, size_t len)
{
	struct coco a = COCO_INIT, b = COCO_INIT;
	char msg_j[1024];
	int rj, rf, j_syntax;

	err_clear();
	rj = coco__parse_mode(&a, in, len, COCO__JANSSON);
	j_syntax = is_syntax_error(rj);
	snprintf(msg_j, sizeof(msg_j), "%s", err_last());
	err_clear();
	rf = coco__parse_mode(&b, in, len, COCO__FAST);
	if (rf == -EAGAIN) {
		if (!j_syntax && !memmem(in, len, "\\u", 2))
			fail_msg("fast reader deferred on input jansson accepts: rc %d '%s' <%.*s>", rj,
				 msg_j, (int)len, in);
	} else {
		if (j_syntax)
			fail_msg("fast reader accepted input jansson rejects (%s): <%.*s>", msg_j,
				 (int)len, in);
		if (rf != rj)
			fail_msg("rc %d vs jansson %d ('%s' vs '%s') <%.*s>", rf, rj, err_last(), msg_j,
				 (int)len, in);
		if (rf == 0)
			assert_coco_equal(&a, &b);
		else
			assert_string_equal(err_last(), msg_j);
	}
	/* And coco_parse() itself gives jansson's answer. */
	coco_release(&b);
	err_clear();
	assert_int_equal(coco_parse(&b, in, len), rj);
	if (rj == 0)
		assert_coco_equal(&a, &b);
	else
		assert_string_equal(err_last(), msg_j);
	coco_release(&a);
	coco_release(&b);
}

static void test_fast_reader_agrees_with_jansson(void **state)
{
	static const char interesting[] = "{}[]\",:0123456789eE.+-\\/ubfnrtlsa \t\n\r\x01\x1f\x7f\x80\xbf\xc3\xe2\xf0\xff";
	struct coco c = COCO_INIT;
	struct buf sample = BUF_INIT;
	char *m = NULL;
	uint64_t rng = 0x1234567;
	const char *corpus[3];
	size_t corpus_len[3];

	(void)state;
	build_sample(&c);
	assert_int_equal(coco_write(&sample, &c), 0);
	coco_release(&c);
	corpus[0] = cvat_example;
	corpus_len[0] = strlen(cvat_example);
	corpus[1] = sample.ptr;
	corpus_len[1] = sample.len;
	corpus[2] = "{\"categories\":[{\"id\":1,\"name\":\"a\\u00e9\\u20ac\\\"\\/\\b\\f\\n\\r\\t\"}],"
		    "\"images\":[{\"id\":-0,\"file_name\":\"x\",\"width\":1E2,\"height\":0.5e1,"
		    "\"x\":[true,false,null,-1.5e-3,{},[],\"\"]}],\"annotations\":[{\"id\":1,"
		    "\"image_id\":1,\"category_id\":1,\"bbox\":[0,-0.0,1e308,2.5E-310],"
		    "\"id\":2}],\"images\":[]}";
	corpus_len[2] = strlen(corpus[2]);
	for (int k = 0; k < 3; k++)
		check_agree(corpus[k], corpus_len[k]);

	assert_non_null(m = malloc(corpus_len[1] + 64));
	for (int iter = 0; iter < 6000; iter++) {
		int k = iter % 3, n_mut = 1 + (int)((rng >> 20) % 3);
		size_t len = corpus_len[k];

		memcpy(m, corpus[k], len);
		for (int t = 0; t < n_mut; t++) {
			size_t pos, op;

			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			pos = len ? (size_t)(rng >> 33) % len : 0;
			op = (rng >> 8) % 4;
			if (op == 0 && len) { /* replace */
				m[pos] = interesting[(rng >> 40) % (sizeof(interesting) - 1)];
			} else if (op == 1 && len < corpus_len[1] + 60) { /* insert */
				memmove(m + pos + 1, m + pos, len - pos);
				m[pos] = interesting[(rng >> 40) % (sizeof(interesting) - 1)];
				len++;
			} else if (op == 2 && len) { /* delete */
				memmove(m + pos, m + pos + 1, len - pos - 1);
				len--;
			} else { /* truncate, rarely */
				if ((rng >> 50) % 8 == 0)
					len = pos;
			}
		}
		check_agree(m, len);
	}
	free(m);
	buf_release(&sample);
}

static void test_fast_reader_defers(void **state)
{
	/* Cases the fast reader leaves to jansson still parse right. */
	static const char surrogate[] =
		"{\"categories\":[{\"id\":1,\"name\":\"car \\ud83d\\ude97\"}],\"images\":[],"
		"\"annotations\":[]}";
	static const char lone[] =
		"{\"categories\":[{\"id\":1,\"name\":\"x\\udc00\"}],\"images\":[],\"annotations\":[]}";
	static const char nul[] =
		"{\"categories\":[{\"id\":1,\"name\":\"x\\u0000\"}],\"images\":[],\"annotations\":[]}";
	char longnum[512];
	struct coco c = COCO_INIT;

	(void)state;
	assert_int_equal(coco__parse_mode(&c, surrogate, strlen(surrogate), COCO__FAST), -EAGAIN);
	assert_int_equal(coco_parse(&c, surrogate, strlen(surrogate)), 0);
	assert_string_equal(c.cats[0].name, "car \xf0\x9f\x9a\x97");
	coco_release(&c);
	assert_int_equal(coco_parse(&c, lone, strlen(lone)), -EINVAL);
	assert_non_null(strstr(err_last(), "invalid JSON at line 1"));
	assert_int_equal(coco_parse(&c, nul, strlen(nul)), -EINVAL);
	assert_non_null(strstr(err_last(), "invalid JSON at line 1"));

	snprintf(longnum, sizeof(longnum),
		 "{\"categories\":[],\"images\":[],\"annotations\":[{\"id\":1,\"image_id\":1,"
		 "\"category_id\":1,\"bbox\":[0.%0100d1,0,1,1]}]}", 0);
	assert_int_equal(coco__parse_mode(&c, longnum, strlen(longnum), COCO__FAST), -EAGAIN);
	assert_int_equal(coco_parse(&c, longnum, strlen(longnum)), 0);
	assert_true(c.anns[0].x == 1e-101);
	coco_release(&c);
}

static void test_depth_limit(void **state)
{
	/* jansson allows 2048 nested values (scalars count); the fast reader the same. */
	size_t cap = 2 * 2100 + 256;
	char *j = malloc(cap);

	(void)state;
	if (!j) {
		fail();
		return;
	}
	for (int depth = 2045; depth <= 2050; depth++) {
		struct coco c = COCO_INIT;
		/* "x" sits at nesting 2 (root object, then its value). */
		int arrays = depth - 2, n = 0;

		n += sprintf(j + n, "{\"x\":");
		for (int i = 0; i < arrays; i++)
			j[n++] = '[';
		j[n++] = '1';
		for (int i = 0; i < arrays; i++)
			j[n++] = ']';
		n += sprintf(j + n, ",\"categories\":[],\"images\":[],\"annotations\":[]}");
		check_agree(j, (size_t)n);
		assert_int_equal(coco_parse(&c, j, (size_t)n), depth <= 2048 ? 0 : -EINVAL);
		coco_release(&c);
	}
	free(j);
}

static void test_load_file(void **state)
{
	char dir[] = "/tmp/dsfs_coco_XXXXXX", path[64];
	struct coco c = COCO_INIT;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/instances_default.json", dir);
	err_clear();
	assert_true(coco_load_file(&c, path) < 0);
	assert_non_null(strstr(err_last(), path));

	assert_int_equal(fs_write_file_atomic(path, cvat_example, strlen(cvat_example), 0644), 0);
	assert_int_equal(coco_load_file(&c, path), 0);
	assert_int_equal(c.n_anns, 2);
	coco_release(&c);

	assert_int_equal(fs_write_file_atomic(path, "{\"categories\":[]}", 17, 0644), 0);
	err_clear();
	assert_int_equal(coco_load_file(&c, path), -EINVAL);
	{
		char want[128];
		snprintf(want, sizeof(want), "%s: images: missing", path);
		assert_string_equal(err_last(), want);
	}
	assert_int_equal(fs_rm_rf(dir), 0);
}

static void test_large_file(void **state)
{
	/* 20k images, 100k annotations: write, parse, compare, look up. */
	struct coco c = COCO_INIT, back = COCO_INIT;
	struct buf out = BUF_INIT;
	char name[32];

	(void)state;
	for (int k = 1; k <= 3; k++)
		assert_int_equal(coco_add_category(&c, k, k == 1 ? "a" : k == 2 ? "b" : "c"), 0);
	for (int i = 1; i <= 20000; i++) {
		snprintf(name, sizeof(name), "img_%06d.jpg", i);
		assert_int_equal(coco_add_image(&c, i, name, 640, 480), 0);
	}
	for (int i = 0; i < 100000; i++)
		assert_int_equal(coco_add_ann(&c, 1 + i / 5, 1 + i % 3, i % 600 + 0.25, i % 400,
					      10 + i % 97, 5.5 + i % 31),
				 0);
	assert_int_equal(coco_write(&out, &c), 0);
	assert_int_equal(coco_parse(&back, out.ptr, out.len), 0);
	assert_coco_equal(&c, &back);
	for (int i = 1; i <= 20000; i += 997)
		assert_int_equal(coco_image(&back, i)->id, i);
	coco_release(&back);
	coco_release(&c);
	buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_cvat_example),
		cmocka_unit_test(test_parse_int_and_float_numbers),
		cmocka_unit_test(test_parse_empty_lists),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_truncated_everywhere),
		cmocka_unit_test(test_write_roundtrip),
		cmocka_unit_test(test_write_layout),
		cmocka_unit_test(test_write_rejects_non_finite),
		cmocka_unit_test(test_add_rules),
		cmocka_unit_test(test_index_random_order),
		cmocka_unit_test(test_hand_filled_struct),
		cmocka_unit_test(test_fast_reader_agrees_with_jansson),
		cmocka_unit_test(test_fast_reader_defers),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_large_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
