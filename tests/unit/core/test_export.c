/*
 * Unit tests for core/export: the split function (formula, ratio, stability
 * when images are added), the exact bytes of label files, dataset.yaml and
 * export_info.yaml, the COCO file read back through coco_parse(), lookups
 * by split, input validation (inputs are freed on failure too: ASan/valgrind
 * check that), byte-identical output for a shuffled input, and a 20k-image
 * index generated end to end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/coco.h"
#include "core/export.h"
#include "util/buf.h"

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void random_id(char out[33], uint64_t *s)
{
	snprintf(out, 33, "%016llx%016llx", (unsigned long long)splitmix(s),
		 (unsigned long long)splitmix(s));
}

static const struct export_params params_default = {
	.label_set = "default", .split = 0.8, .seed = 42, .version = "working",
	.root = "/mnt/ds/exports/default",
};

/*
 * A synthetic set: n images from `seed`, image i has i % 4 boxes (0 = a
 * negative), classes cycling through n_classes; images are 640x480 or
 * 320x240.  Returns malloc'ed arrays as export_build() wants them.
 */
static void make_set(size_t n, uint64_t seed, size_t n_classes, struct export_image **images_out,
		     struct export_ann **anns_out, size_t *n_anns_out)
{
	struct export_image *im = calloc(n ? n : 1, sizeof(*im));
	struct export_ann *an = calloc(n ? n * 3 : 1, sizeof(*an));
	size_t m = 0;

	assert_non_null(im);
	assert_non_null(an);
	for (size_t i = 0; i < n; i++) {
		random_id(im[i].id, &seed);
		strcpy(im[i].ext, i % 3 ? "jpg" : "png");
		im[i].width = i % 2 ? 640 : 320;
		im[i].height = i % 2 ? 480 : 240;
		im[i].bytes = 1000 + (int64_t)i;
		im[i].first_ann = (uint32_t)m;
		im[i].n_anns = (uint32_t)(i % 4);
		for (uint32_t k = 0; k < im[i].n_anns; k++, m++) {
			double x = (double)(splitmix(&seed) % 200), y = (double)(splitmix(&seed) % 100);

			an[m] = (struct export_ann){ (uint32_t)((i + k) % n_classes), x + 0.25, y,
						     x + 40.5, y + 33.125 };
		}
	}
	*images_out = im;
	*anns_out = an;
	*n_anns_out = m;
}

static struct export *build_set(size_t n, uint64_t seed, const struct export_params *p)
{
	static const char *const classes[] = { "rectangle", "ellipse", "triangle" };
	struct export_image *im;
	struct export_ann *an;
	struct export *ex;
	size_t m;

	make_set(n, seed, 3, &im, &an, &m);
	assert_int_equal(export_build(&ex, p, classes, 3, im, n, an, m), 0);
	return ex;
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp(((const struct export_image *)a)->id, ((const struct export_image *)b)->id);
}

/* ---- split ------------------------------------------------------------ */

static void test_split_formula(void **state)
{
	uint64_t s = 7;
	char id[33];

	(void)state;
	for (int i = 0; i < 1000; i++) {
		random_id(id, &s);
		uint64_t h = XXH64(id, 32, 1234);
		double u = (double)(h >> 11) / 9007199254740992.0;

		assert_int_equal(export_split_of(id, 1234, 0.3), u < 0.3 ? EXPORT_TRAIN : EXPORT_VAL);
		/* Pure: the same answer again. */
		assert_int_equal(export_split_of(id, 1234, 0.3), export_split_of(id, 1234, 0.3));
	}
	/* split 1.0 puts everything in train ([0,1) < 1). */
	assert_int_equal(export_split_of(id, 99, 1.0), EXPORT_TRAIN);
}

static void test_split_ratio(void **state)
{
	uint64_t s = 12345;
	size_t train = 0, differ = 0;
	char id[33];

	(void)state;
	for (int i = 0; i < 10000; i++) {
		random_id(id, &s);
		enum export_split a = export_split_of(id, 42, 0.8);

		train += a == EXPORT_TRAIN;
		differ += a != export_split_of(id, 43, 0.8);
	}
	assert_in_range(train, 7800, 8200);
	/* Another seed is another split (two independent 80/20 draws differ on ~32%). */
	assert_in_range(differ, 2500, 3900);
}

static void test_split_names(void **state)
{
	enum export_split sp = EXPORT_VAL;

	(void)state;
	assert_string_equal(export_split_name(EXPORT_TRAIN), "train");
	assert_string_equal(export_split_name(EXPORT_VAL), "val");
	assert_int_equal(export_split_parse(&sp, "train"), 0);
	assert_int_equal(sp, EXPORT_TRAIN);
	assert_int_equal(export_split_parse(&sp, "val"), 0);
	assert_int_equal(sp, EXPORT_VAL);
	assert_int_equal(export_split_parse(&sp, "test"), -ENOENT);
	assert_int_equal(export_split_parse(&sp, "Train"), -ENOENT);
}

/* Images 0..999 keep their split when 1000 more join (same generator prefix). */
static void test_adding_images_moves_none(void **state)
{
	struct export *small, *big;

	(void)state;
	small = build_set(1000, 5, &params_default);
	big = build_set(2000, 5, &params_default);
	assert_int_equal(export_count(small, EXPORT_TRAIN) + export_count(small, EXPORT_VAL), 1000);
	assert_int_equal(export_count(big, EXPORT_TRAIN) + export_count(big, EXPORT_VAL), 2000);
	for (int sp = EXPORT_TRAIN; sp <= EXPORT_VAL; sp++) {
		for (size_t i = 0; i < export_count(small, sp); i++) {
			const struct export_image *a = export_image_at(small, sp, i);
			const struct export_image *b = export_find(big, sp, a->id);

			assert_non_null(b);
			assert_int_equal(b->split, sp);
			assert_int_equal(b->n_anns, a->n_anns);
			assert_null(export_find(big, 1 - sp, a->id));
		}
	}
	export_free(small);
	export_free(big);
}

/* ---- lookups ---------------------------------------------------------- */

static void test_order_and_find(void **state)
{
	struct export *ex = build_set(500, 9, &params_default);
	size_t seen = 0;

	(void)state;
	assert_int_equal(export_n_classes(ex), 3);
	assert_string_equal(export_class_name(ex, 2), "triangle");
	assert_null(export_class_name(ex, 3));
	assert_string_equal(export_params(ex)->label_set, "default");
	assert_string_equal(export_params(ex)->version, "working");
	assert_int_equal(export_params(ex)->seed, 42);
	for (int sp = EXPORT_TRAIN; sp <= EXPORT_VAL; sp++) {
		size_t n = export_count(ex, sp);

		assert_true(n > 0);
		assert_null(export_image_at(ex, sp, n));
		for (size_t i = 0; i < n; i++) {
			const struct export_image *im = export_image_at(ex, sp, i);

			assert_int_equal(im->split, sp);
			assert_int_equal(export_split_of(im->id, 42, 0.8), sp);
			if (i)
				assert_true(strcmp(export_image_at(ex, sp, i - 1)->id, im->id) < 0);
			assert_ptr_equal(export_find(ex, sp, im->id), im);
			assert_null(export_find(ex, 1 - sp, im->id));
			seen++;
		}
	}
	assert_int_equal(seen, 500);
	assert_null(export_find(ex, EXPORT_TRAIN, "00000000000000000000000000000000"));
	assert_null(export_find(ex, EXPORT_VAL, "ffffffffffffffffffffffffffffffff"));
	assert_null(export_find(ex, EXPORT_VAL, ""));
	export_free(ex);
}

/* ---- labels ----------------------------------------------------------- */

static struct export_image one_image(const char *id, int64_t w, int64_t h, uint32_t first,
				     uint32_t n)
{
	struct export_image im = { .width = w, .height = h, .first_ann = first, .n_anns = n };

	strcpy(im.id, id);
	strcpy(im.ext, "jpg");
	return im;
}

/* The image in whichever split it landed (`im` was freed into the index). */
static const struct export_image *find_any(const struct export *ex, const char *id)
{
	const struct export_image *im = export_find(ex, EXPORT_TRAIN, id);

	if (!im)
		im = export_find(ex, EXPORT_VAL, id);
	assert_non_null(im);
	return im;
}

static void test_label_text(void **state)
{
	static const char *const classes[] = { "a", "b", "c" };
	struct export_image *im = malloc(2 * sizeof(*im));
	struct export_ann *an = malloc(5 * sizeof(*an));
	struct buf b = BUF_INIT;
	struct export *ex;

	(void)state;
	im[0] = one_image("0123456789abcdef0123456789abcdef", 640, 480, 0, 5);
	im[1] = one_image("fedcba9876543210fedcba9876543210", 640, 480, 0, 0);
	an[0] = (struct export_ann){ 2, 10, 20, 110, 70 };
	/* Centre past the right edge: cx clamps to 1. */
	an[1] = (struct export_ann){ 0, 600, 0, 700, 480 };
	/* A centre of -0.0 and one a hair above 0: both print 0.000000, never "-0.000000". */
	an[2] = (struct export_ann){ 1, -0.0, -2e-9, -0.0, 1e-9 };
	/* Inverted box: width and height clamp to 0. */
	an[3] = (struct export_ann){ 1, 50, 50, 40, 45 };
	/* Larger than the image. */
	an[4] = (struct export_ann){ 0, -10, -10, 1000, 1000 };
	assert_int_equal(export_build(&ex, &params_default, classes, 3, im, 2, an, 5), 0);

	assert_int_equal(export_label_text(&b, ex, find_any(ex, "0123456789abcdef0123456789abcdef")),
			 0);
	assert_string_equal(b.ptr,
			    "2 0.093750 0.093750 0.156250 0.104167\n"
			    "0 1.000000 0.500000 0.156250 1.000000\n"
			    "1 0.000000 0.000000 0.000000 0.000000\n"
			    "1 0.070312 0.098958 0.000000 0.000000\n"
			    "0 0.773438 1.000000 1.000000 1.000000\n");
	assert_null(strstr(b.ptr, "-0"));

	/* The negative: an empty file, and appending adds nothing. */
	buf_reset(&b);
	assert_int_equal(export_label_text(&b, ex, find_any(ex, "fedcba9876543210fedcba9876543210")),
			 0);
	assert_int_equal(b.len, 0);
	buf_release(&b);
	export_free(ex);
}

/* ---- YAML ------------------------------------------------------------- */

static void test_dataset_yaml(void **state)
{
	static const char *const classes[] = {
		"rectangle", "a: b", "yes", "1", " pad", "say \"hi\"\\", "tab\there", "No",
		"null", "#tag", "-dash", "3.5e2", "caf\xc3\xa9", "in-between", "x#y",
		"nel\xc2\x85x", "ls\xe2\x80\xa8", "~", "2001-12-14", "a b",
	};
	struct export_image *im = calloc(1, sizeof(*im));
	struct export_ann *an = calloc(1, sizeof(*an));
	struct export_params p = params_default;
	struct buf b = BUF_INIT;
	struct export *ex;

	(void)state;
	p.version = "v3";
	p.root = "/mnt/ds/@v3/exports/default";
	assert_int_equal(export_build(&ex, &p, classes, sizeof(classes) / sizeof(classes[0]), im, 0,
				      an, 0),
			 0);
	assert_int_equal(export_dataset_yaml(&b, ex), 0);
	assert_string_equal(b.ptr,
			    "# dsfs export of label set 'default' (version v3)\n"
			    "path: /mnt/ds/@v3/exports/default\n"
			    "train: images/train\n"
			    "val: images/val\n"
			    "nc: 20\n"
			    "names:\n"
			    "  0: rectangle\n"
			    "  1: \"a: b\"\n"
			    "  2: \"yes\"\n"
			    "  3: \"1\"\n"
			    "  4: \" pad\"\n"
			    "  5: \"say \\\"hi\\\"\\\\\"\n"
			    "  6: \"tab\\there\"\n"
			    "  7: \"No\"\n"
			    "  8: \"null\"\n"
			    "  9: \"#tag\"\n"
			    "  10: \"-dash\"\n"
			    "  11: \"3.5e2\"\n"
			    "  12: caf\xc3\xa9\n"
			    "  13: in-between\n"
			    "  14: \"x#y\"\n"
			    "  15: \"nel\\x85x\"\n"
			    "  16: \"ls\\u2028\"\n"
			    "  17: \"~\"\n"
			    "  18: \"2001-12-14\"\n"
			    "  19: a b\n");
	buf_release(&b);
	export_free(ex);
}

/* A label set without classes: "names: {}" (a bare "names:" reads as null, and len(None) fails). */
static void test_dataset_yaml_no_classes(void **state)
{
	struct export_image *im = calloc(1, sizeof(*im));
	struct export_ann *an = calloc(1, sizeof(*an));
	struct export_params p = params_default;
	struct buf b = BUF_INIT;
	struct export *ex;

	(void)state;
	assert_int_equal(export_build(&ex, &p, NULL, 0, im, 0, an, 0), 0);
	assert_int_equal(export_dataset_yaml(&b, ex), 0);
	assert_non_null(strstr(b.ptr, "\nnc: 0\nnames: {}\n"));
	buf_release(&b);
	export_free(ex);
}

/* The example of the brief, byte for byte, and the same bytes twice. */
static void test_dataset_yaml_plain(void **state)
{
	struct export *ex = build_set(10, 1, &params_default);
	struct buf a = BUF_INIT, b = BUF_INIT;

	(void)state;
	assert_int_equal(export_dataset_yaml(&a, ex), 0);
	assert_string_equal(a.ptr,
			    "# dsfs export of label set 'default' (version working)\n"
			    "path: /mnt/ds/exports/default\n"
			    "train: images/train\n"
			    "val: images/val\n"
			    "nc: 3\n"
			    "names:\n"
			    "  0: rectangle\n"
			    "  1: ellipse\n"
			    "  2: triangle\n");
	assert_int_equal(export_dataset_yaml(&b, ex), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.ptr, b.ptr, a.len);
	buf_release(&a);
	buf_release(&b);
	export_free(ex);
}

static void test_info_yaml(void **state)
{
	static const char *const classes[] = { "car", "on" };
	struct export_image *im = calloc(4, sizeof(*im));
	struct export_ann *an = calloc(4, sizeof(*an));
	struct export_params p = params_default;
	char ids[4][33];
	struct buf b = BUF_INIT;
	struct export *ex;
	uint64_t s = 77;

	(void)state;
	p.split = 0.5;
	p.seed = 3;
	/* Pick ids until both splits have two, so the counts below are known. */
	for (size_t have[2] = { 0, 0 }; have[0] + have[1] < 4;) {
		char id[33];
		enum export_split sp;

		random_id(id, &s);
		sp = export_split_of(id, 3, 0.5);
		if (have[sp] == 2)
			continue;
		strcpy(ids[sp * 2 + have[sp]++], id);
	}
	/* train: ids[0] 2 boxes (car, car), ids[1] negative; val: ids[2] 1 car, ids[3] 1 on. */
	im[0] = one_image(ids[0], 100, 100, 0, 2);
	im[1] = one_image(ids[1], 100, 100, 0, 0);
	im[2] = one_image(ids[2], 100, 100, 2, 1);
	im[3] = one_image(ids[3], 100, 100, 3, 1);
	an[0] = (struct export_ann){ 0, 0, 0, 10, 10 };
	an[1] = (struct export_ann){ 0, 0, 0, 10, 10 };
	an[2] = (struct export_ann){ 0, 0, 0, 10, 10 };
	an[3] = (struct export_ann){ 1, 0, 0, 10, 10 };
	assert_int_equal(export_build(&ex, &p, classes, 2, im, 4, an, 4), 0);
	assert_int_equal(export_info_yaml(&b, ex), 0);
	assert_string_equal(b.ptr,
			    "# dsfs export info (generated from the catalog)\n"
			    "label_set: default\n"
			    "version: working\n"
			    "split: 0.5\n"
			    "seed: 3\n"
			    "nc: 2\n"
			    "counts:\n"
			    "  images:\n    total: 4\n    train: 2\n    val: 2\n"
			    "  boxes:\n    total: 4\n    train: 2\n    val: 2\n"
			    "  negatives:\n    total: 1\n    train: 1\n    val: 0\n"
			    "  classes:\n"
			    "    - id: 0\n      name: car\n"
			    "      boxes:\n        total: 3\n        train: 2\n        val: 1\n"
			    "    - id: 1\n      name: \"on\"\n"
			    "      boxes:\n        total: 1\n        train: 0\n        val: 1\n");
	buf_release(&b);
	export_free(ex);

	/* An integral split still reads as a float. */
	p.split = 1.0;
	ex = build_set(5, 2, &p);
	assert_int_equal(export_info_yaml(&b, ex), 0);
	assert_non_null(strstr(b.ptr, "\nsplit: 1.0\n"));
	assert_non_null(strstr(b.ptr, "    train: 5\n    val: 0\n"));
	buf_release(&b);
	export_free(ex);
}

/* ---- COCO ------------------------------------------------------------- */

static void check_coco(const struct export *ex, enum export_split sp)
{
	struct buf b = BUF_INIT;
	struct buf lab = BUF_INIT;
	struct coco c = COCO_INIT;
	size_t n = export_count(ex, sp), m = 0;
	const char *line;

	assert_int_equal(export_coco_json(&b, ex, sp), 0);
	assert_int_equal(coco_parse(&c, b.ptr, b.len), 0);
	assert_int_equal(strncmp(b.ptr, "{\"licenses\":[{\"name\":\"\",\"id\":0,\"url\":\"\"}]", 41), 0);
	assert_int_equal(c.n_cats, export_n_classes(ex));
	for (size_t k = 0; k < c.n_cats; k++) {
		assert_int_equal(c.cats[k].id, (int64_t)k + 1);
		assert_string_equal(c.cats[k].name, export_class_name(ex, k));
	}
	assert_int_equal(c.n_images, n);
	for (size_t i = 0; i < n; i++) {
		const struct export_image *im = export_image_at(ex, sp, i);
		char name[48];

		snprintf(name, sizeof(name), "%s.%s", im->id, im->ext);
		assert_int_equal(c.images[i].id, (int64_t)i + 1);
		assert_string_equal(c.images[i].file_name, name);
		assert_int_equal(c.images[i].width, im->width);
		assert_int_equal(c.images[i].height, im->height);
		/* Each box agrees with its label line (the other path to the same box). */
		buf_reset(&lab);
		assert_int_equal(export_label_text(&lab, ex, im), 0);
		line = lab.ptr;
		for (uint32_t k = 0; k < im->n_anns; k++, m++) {
			const struct coco_ann *a = &c.anns[m];
			unsigned cls;
			double cx, cy, w, h;
			int used = 0;

			assert_true(m < c.n_anns);
			assert_int_equal(a->id, (int64_t)m + 1);
			assert_int_equal(a->image_id, (int64_t)i + 1);
			assert_int_equal(sscanf(line, "%u %lf %lf %lf %lf\n%n", &cls, &cx, &cy, &w, &h,
						&used), 5);
			assert_true(used > 0);
			line += used;
			assert_int_equal(a->category_id, (int64_t)cls + 1);
			assert_true(fabs(cx - (a->x + a->w / 2) / (double)im->width) < 1e-6);
			assert_true(fabs(cy - (a->y + a->h / 2) / (double)im->height) < 1e-6);
			assert_true(fabs(w - a->w / (double)im->width) < 1e-6);
			assert_true(fabs(h - a->h / (double)im->height) < 1e-6);
		}
		assert_int_equal(*line, '\0');
	}
	assert_int_equal(c.n_anns, m);
	coco_release(&c);
	buf_release(&b);
	buf_release(&lab);
}

/* Exact boxes through the COCO file: a hand-made set whose boxes we know. */
static void test_coco_roundtrip(void **state)
{
	static const char *const classes[] = { "car", "say \"hi\"", "caf\xc3\xa9" };
	struct export_image *im = calloc(3, sizeof(*im));
	struct export_ann *an = calloc(4, sizeof(*an));
	const struct export_ann boxes[4] = {
		{ 0, 10, 20, 110, 70 },
		{ 2, 0.1, 0.2, 33.3, 44.4 },
		{ 1, 1.0 / 3, 2.0 / 3, 100.0 / 7, 200.0 / 9 },
		{ 0, 0, 0, 640, 480 },
	};
	const char *ids[3] = { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
			       "cccccccccccccccccccccccccccccccc" };
	struct export_params p = params_default;
	struct export *ex;

	(void)state;
	p.split = 1.0; /* everything in train, in id order: a, b, c */
	/* Given out of order; c is a negative, a has boxes 2..3, b has 0..1. */
	im[0] = one_image(ids[2], 640, 480, 0, 0);
	im[1] = one_image(ids[1], 640, 480, 0, 2);
	im[2] = one_image(ids[0], 640, 480, 2, 2);
	memcpy(an, boxes, sizeof(boxes));
	assert_int_equal(export_build(&ex, &p, classes, 3, im, 3, an, 4), 0);
	assert_int_equal(export_count(ex, EXPORT_VAL), 0);
	check_coco(ex, EXPORT_TRAIN);
	check_coco(ex, EXPORT_VAL);

	struct buf b = BUF_INIT;
	struct coco c = COCO_INIT;
	/* Annotation order: image a (boxes[2], boxes[3]), then b (boxes[0], boxes[1]). */
	const struct export_ann *order[4] = { &boxes[2], &boxes[3], &boxes[0], &boxes[1] };
	const int64_t image_of[4] = { 1, 1, 2, 2 };

	assert_int_equal(export_coco_json(&b, ex, EXPORT_TRAIN), 0);
	assert_int_equal(coco_parse(&c, b.ptr, b.len), 0);
	assert_int_equal(c.n_anns, 4);
	assert_string_equal(c.images[0].file_name, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.jpg");
	assert_string_equal(c.images[2].file_name, "cccccccccccccccccccccccccccccccc.jpg");
	assert_string_equal(c.cats[1].name, "say \"hi\"");
	for (int k = 0; k < 4; k++) {
		assert_int_equal(c.anns[k].image_id, image_of[k]);
		assert_int_equal(c.anns[k].category_id, (int64_t)order[k]->class_id + 1);
		assert_true(fabs(c.anns[k].x - order[k]->x_min) <= 1e-9);
		assert_true(fabs(c.anns[k].y - order[k]->y_min) <= 1e-9);
		assert_true(fabs(c.anns[k].w - (order[k]->x_max - order[k]->x_min)) <= 1e-9);
		assert_true(fabs(c.anns[k].h - (order[k]->y_max - order[k]->y_min)) <= 1e-9);
	}
	/* CVAT's per-annotation layout. */
	assert_non_null(strstr(b.ptr, "{\"id\":2,\"image_id\":1,\"category_id\":1,\"segmentation\":[],"
				      "\"area\":307200.0,\"bbox\":[0.0,0.0,640.0,480.0],\"iscrowd\":0,"
				      "\"attributes\":{\"occluded\":false,\"rotation\":0.0}}"));
	assert_non_null(strstr(b.ptr, "{\"id\":3,\"width\":640,\"height\":480,\"file_name\":"
				      "\"cccccccccccccccccccccccccccccccc.jpg\",\"license\":0,"
				      "\"flickr_url\":\"\",\"coco_url\":\"\",\"date_captured\":0}"));
	coco_release(&c);
	buf_release(&b);

	/* The empty split is still a valid file with every section. */
	assert_int_equal(export_coco_json(&b, ex, EXPORT_VAL), 0);
	assert_int_equal(coco_parse(&c, b.ptr, b.len), 0);
	assert_int_equal(c.n_images, 0);
	assert_int_equal(c.n_anns, 0);
	assert_int_equal(c.n_cats, 3);
	coco_release(&c);
	buf_release(&b);
	export_free(ex);
}

/*
 * export_coco_json() writes its own bytes for speed; they must be
 * coco_write()'s.  The same content is built through coco_add_*() and both
 * serializations compared, on values that take every formatting path:
 * integral, short decimals, negative, -0.0, tiny, huge, full precision.
 */
static void test_coco_matches_coco_write(void **state)
{
	static const char *const classes[] = { "car", "q\"uote\\", "tab\there", "\x1f" "ctl",
					       "caf\xc3\xa9" };
	static const double awkward[] = {
		0, -0.0, 1, -7, 0.5, 0.1, 0.25, 1.0 / 3, 2.0 / 3, 123.45, 99.99, 1e-5, 1.5e-4,
		0.0001, 123456789.5, 999999999.999999, 1e9, 1e12, 1e15 + 0.5, 9007199254740993.0,
		3.14159265358979, 1e-300, 640, 479.75, -0.001, 0.1 + 0.2, 1e21, 12345.678901,
	};
	const size_t n_aw = sizeof(awkward) / sizeof(awkward[0]), n = 200;
	struct export_image *im = calloc(n, sizeof(*im));
	struct export_ann *an = calloc(n * 4, sizeof(*an));
	struct export_params p = params_default;
	struct coco c = COCO_INIT;
	struct buf mine = BUF_INIT, ref = BUF_INIT;
	struct export *ex;
	uint64_t s = 31337;
	size_t m = 0;

	(void)state;
	assert_non_null(im);
	assert_non_null(an);
	p.split = 1.0;
	for (size_t i = 0; i < n; i++) {
		random_id(im[i].id, &s);
		strcpy(im[i].ext, i % 2 ? "png" : "jpg");
		im[i].width = 640 + (int64_t)i;
		im[i].height = 480;
		im[i].first_ann = (uint32_t)m;
		im[i].n_anns = (uint32_t)(i % 5);
		for (uint32_t k = 0; k < im[i].n_anns; k++, m++) {
			double v[4];

			for (int j = 0; j < 4; j++) {
				uint64_t r = splitmix(&s);

				switch (r % 3) {
				case 0: v[j] = awkward[(r >> 8) % n_aw]; break;
				case 1: v[j] = (double)((r >> 8) % 100000) / 100; break;
				default: v[j] = (double)(r >> 11) * 0x1p-53 * 1000; break;
				}
			}
			an[m] = (struct export_ann){ (uint32_t)(splitmix(&s) % 5), v[0], v[1],
						     v[0] + v[2], v[1] + v[3] };
		}
	}
	/* The reference, in the index's order: split 1.0 puts all in train, by id. */
	qsort(im, n, sizeof(*im), cmp_id);
	for (size_t k = 0; k < 5; k++)
		assert_int_equal(coco_add_category(&c, (int64_t)k + 1, classes[k]), 0);
	for (size_t i = 0; i < n; i++) {
		char name[48];

		snprintf(name, sizeof(name), "%s.%s", im[i].id, im[i].ext);
		assert_int_equal(coco_add_image(&c, (int64_t)i + 1, name, im[i].width, im[i].height), 0);
		for (uint32_t k = 0; k < im[i].n_anns; k++) {
			const struct export_ann *a = &an[im[i].first_ann + k];

			assert_int_equal(coco_add_ann(&c, (int64_t)i + 1, (int64_t)a->class_id + 1,
						      a->x_min, a->y_min, a->x_max - a->x_min,
						      a->y_max - a->y_min),
					 0);
		}
	}
	assert_int_equal(coco_write(&ref, &c), 0);
	assert_int_equal(export_build(&ex, &p, classes, 5, im, n, an, m), 0);
	assert_int_equal(export_coco_json(&mine, ex, EXPORT_TRAIN), 0);
	assert_int_equal(mine.len, strlen(mine.ptr));
	if (mine.len != ref.len || memcmp(mine.ptr, ref.ptr, ref.len)) {
		size_t at = 0;

		while (at < mine.len && at < ref.len && mine.ptr[at] == ref.ptr[at])
			at++;
		fail_msg("differs at byte %zu:\n mine: %.80s\n  ref: %.80s", at,
			 mine.ptr + (at > 20 ? at - 20 : 0), ref.ptr + (at > 20 ? at - 20 : 0));
	}
	buf_release(&mine);
	buf_release(&ref);
	coco_release(&c);
	export_free(ex);
}

/* ---- validation ------------------------------------------------------- */

static int try_build(const char *id, const char *ext, int64_t w, uint32_t first, uint32_t n,
		     uint32_t class_id, double x_max, const struct export_params *p)
{
	static const char *const classes[] = { "a", "b" };
	struct export_image *im = calloc(2, sizeof(*im));
	struct export_ann *an = calloc(2, sizeof(*an));
	struct export *ex = NULL;
	int rc;

	assert_non_null(im);
	assert_non_null(an);
	im[0] = one_image("11111111111111111111111111111111", 10, 10, 0, 1);
	im[1] = one_image(id, w, 10, first, n);
	strcpy(im[1].ext, ext);
	an[0] = (struct export_ann){ 0, 1, 1, 2, 2 };
	an[1] = (struct export_ann){ class_id, 1, 1, x_max, 2 };
	rc = export_build(&ex, p, classes, 2, im, 2, an, 2);
	if (rc == 0)
		export_free(ex);
	else
		assert_null(ex);
	return rc;
}

static void test_invalid(void **state)
{
	const char *good = "0123456789abcdef0123456789abcdef";
	struct export_params p = params_default;

	(void)state;
	assert_int_equal(try_build(good, "jpg", 10, 1, 1, 1, 2, &p), 0);
	/* Class id out of range. */
	assert_int_equal(try_build(good, "jpg", 10, 1, 1, 2, 2, &p), -EINVAL);
	assert_int_equal(try_build(good, "jpg", 10, 1, 1, UINT32_MAX, 2, &p), -EINVAL);
	/* Ann range out of bounds, including a wrapping one. */
	assert_int_equal(try_build(good, "jpg", 10, 1, 2, 1, 2, &p), -EINVAL);
	assert_int_equal(try_build(good, "jpg", 10, 2, 1, 1, 2, &p), -EINVAL);
	assert_int_equal(try_build(good, "jpg", 10, UINT32_MAX, 2, 1, 2, &p), -EINVAL);
	/* Not a box, not an id, not an ext, no size. */
	assert_int_equal(try_build(good, "jpg", 10, 1, 1, 1, NAN, &p), -EINVAL);
	assert_int_equal(try_build(good, "jpg", 10, 1, 1, 1, INFINITY, &p), -EINVAL);
	assert_int_equal(try_build("0123456789ABCDEF0123456789abcdef", "jpg", 10, 1, 1, 1, 2, &p),
			 -EINVAL);
	assert_int_equal(try_build("0123", "jpg", 10, 1, 1, 1, 2, &p), -EINVAL);
	assert_int_equal(try_build(good, "", 10, 1, 1, 1, 2, &p), -EINVAL);
	assert_int_equal(try_build(good, "j/g", 10, 1, 1, 1, 2, &p), -EINVAL);
	assert_int_equal(try_build(good, "jpg", 0, 1, 1, 1, 2, &p), -EINVAL);
	/* The same id twice. */
	assert_int_equal(try_build("11111111111111111111111111111111", "jpg", 10, 1, 1, 1, 2, &p),
			 -EINVAL);
	/* Params. */
	p.split = 1.5;
	assert_int_equal(try_build(good, "jpg", 10, 1, 1, 1, 2, &p), -EINVAL);
	p.split = -0.1;
	assert_int_equal(try_build(good, "jpg", 10, 1, 1, 1, 2, &p), -EINVAL);
	p.split = NAN;
	assert_int_equal(try_build(good, "jpg", 10, 1, 1, 1, 2, &p), -EINVAL);
	p = params_default;
	p.root = "relative/dir";
	assert_int_equal(try_build(good, "jpg", 10, 1, 1, 1, 2, &p), -EINVAL);
	p = params_default;
	p.label_set = NULL;
	assert_int_equal(try_build(good, "jpg", 10, 1, 1, 1, 2, &p), -EINVAL);

	/* Defaults: split 0 is 0.8, version NULL is "working". */
	p = params_default;
	p.split = 0;
	p.version = NULL;
	struct export *ex = build_set(50, 3, &p);
	assert_true(export_params(ex)->split == 0.8);
	assert_string_equal(export_params(ex)->version, "working");
	export_free(ex);

	/* A bad class name. */
	static const char *const bad[] = { "ok", "\xff\xfe" };
	static const char *const empty[] = { "ok", "" };
	struct export_image *im = calloc(1, sizeof(*im));
	struct export_ann *an = calloc(1, sizeof(*an));
	assert_int_equal(export_build(&ex, &params_default, bad, 2, im, 0, an, 0), -EINVAL);
	im = calloc(1, sizeof(*im));
	an = calloc(1, sizeof(*an));
	assert_int_equal(export_build(&ex, &params_default, empty, 2, im, 0, an, 0), -EINVAL);
}

/* ---- determinism and size --------------------------------------------- */

static void generate_all(struct buf *out, const struct export *ex)
{
	assert_int_equal(export_dataset_yaml(out, ex), 0);
	assert_int_equal(export_info_yaml(out, ex), 0);
	for (int sp = EXPORT_TRAIN; sp <= EXPORT_VAL; sp++) {
		assert_int_equal(export_coco_json(out, ex, sp), 0);
		for (size_t i = 0; i < export_count(ex, sp); i++)
			assert_int_equal(export_label_text(out, ex, export_image_at(ex, sp, i)), 0);
	}
}

/* The same set given in another order gives the same bytes. */
static void test_byte_identical(void **state)
{
	static const char *const classes[] = { "rectangle", "ellipse", "triangle" };
	struct export_image *im, *im2;
	struct export_ann *an, *an2;
	struct export *ex, *ex2;
	struct buf a = BUF_INIT, b = BUF_INIT;
	size_t n = 300, m;

	(void)state;
	make_set(n, 11, 3, &im, &an, &m);
	im2 = malloc(n * sizeof(*im2));
	an2 = malloc(m * sizeof(*an2));
	assert_non_null(im2);
	assert_non_null(an2);
	/* Reverse the images and store their boxes in the reversed order too. */
	for (size_t i = 0, at = 0; i < n; i++) {
		im2[i] = im[n - 1 - i];
		memcpy(&an2[at], &an[im2[i].first_ann], im2[i].n_anns * sizeof(*an2));
		im2[i].first_ann = (uint32_t)at;
		at += im2[i].n_anns;
	}
	assert_int_equal(export_build(&ex, &params_default, classes, 3, im, n, an, m), 0);
	assert_int_equal(export_build(&ex2, &params_default, classes, 3, im2, n, an2, m), 0);
	generate_all(&a, ex);
	generate_all(&b, ex2);
	assert_true(a.len > 10000);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.ptr, b.ptr, a.len);
	buf_release(&a);
	buf_release(&b);
	export_free(ex);
	export_free(ex2);
}

/* A 20k-image set end to end: counts add up and each COCO file parses. */
static void test_large(void **state)
{
	struct export *ex = build_set(20000, 99, &params_default);
	size_t boxes = 0, lines = 0;
	struct buf b = BUF_INIT;

	(void)state;
	assert_int_equal(export_count(ex, EXPORT_TRAIN) + export_count(ex, EXPORT_VAL), 20000);
	assert_in_range(export_count(ex, EXPORT_TRAIN), 15600, 16400);
	for (int sp = EXPORT_TRAIN; sp <= EXPORT_VAL; sp++) {
		struct coco c = COCO_INIT;

		buf_reset(&b);
		assert_int_equal(export_coco_json(&b, ex, sp), 0);
		assert_int_equal(coco_parse(&c, b.ptr, b.len), 0);
		assert_int_equal(c.n_images, export_count(ex, sp));
		boxes += c.n_anns;
		coco_release(&c);
		for (size_t i = 0; i < export_count(ex, sp); i++) {
			const struct export_image *im = export_image_at(ex, sp, i);

			buf_reset(&b);
			assert_int_equal(export_label_text(&b, ex, im), 0);
			for (size_t k = 0; k < b.len; k++)
				lines += b.ptr[k] == '\n';
		}
	}
	/* i % 4 boxes for image i: 0+1+2+3 per 4 images. */
	assert_int_equal(boxes, 30000);
	assert_int_equal(lines, 30000);
	buf_reset(&b);
	assert_int_equal(export_info_yaml(&b, ex), 0);
	assert_non_null(strstr(b.ptr, "  boxes:\n    total: 30000\n"));
	assert_non_null(strstr(b.ptr, "  negatives:\n    total: 5000\n"));
	buf_release(&b);
	export_free(ex);
}

/*
 * Label lines are formatted without printf; they must equal printf's
 * "%u %.6f %.6f %.6f %.6f" for every value, ties and near-ties included.
 */
static void test_label_format_matches_printf(void **state)
{
	uint64_t seed = 99;
	const double special[] = { 0, 1, 0.5, 0.0078125, 0.0000005, 0.0000015, 0.9999995, 0.9999994999,
				   0.1234565, 0.25, 1e-7, 0.333333333333, 2.5e-7, 0.9999999 };
	size_t n = 200000 + sizeof(special) / sizeof(special[0]);
	struct export_image *im = calloc(1, sizeof(*im));
	struct export_ann *an = calloc(n, sizeof(*an));
	struct export *ex = NULL;
	const char *classes[] = { "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l" };
	struct buf got = BUF_INIT, want = BUF_INIT;

	(void)state;
	assert_non_null(im);
	assert_non_null(an);
	/* W = H = 1: the normalized values are the box coordinates themselves. */
	memcpy(im->id, "00000000000000000000000000000000", 33);
	memcpy(im->ext, "png", 4);
	im->width = im->height = 1;
	im->n_anns = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		double v[4];
		for (int k = 0; k < 4; k++) {
			if (i < sizeof(special) / sizeof(special[0])) {
				v[k] = special[i];
			} else {
				double u = (double)(splitmix(&seed) >> 11) / (double)(1ULL << 53);
				/* dense near 6-digit ties too */
				v[k] = (i % 3) ? u : (double)(int64_t)(u * 2e6) / 2e6 + (double)(int)(k - 2) * 1e-17;
			}
		}
		an[i].class_id = (uint32_t)(i % 12);
		/* x_min + x_max = 2 cx, x_max - x_min = w, with w = v[2] (exact when cx = w/2 + x_min). */
		an[i].x_min = 0;
		an[i].x_max = v[2];
		an[i].y_min = 0;
		an[i].y_max = v[3];
		buf_printf(&want, "%u %.6f %.6f %.6f %.6f\n", an[i].class_id,
			   v[2] / 2 > 0 ? (v[2] / 2 < 1 ? v[2] / 2 : 1.0) : 0.0,
			   v[3] / 2 > 0 ? (v[3] / 2 < 1 ? v[3] / 2 : 1.0) : 0.0,
			   v[2] > 0 ? (v[2] < 1 ? v[2] : 1.0) : 0.0, v[3] > 0 ? (v[3] < 1 ? v[3] : 1.0) : 0.0);
	}
	assert_int_equal(export_build(&ex, &params_default, classes, 12, im, 1, an, n), 0);
	assert_int_equal(export_label_text(&got, ex, export_image_at(ex, export_count(ex, EXPORT_TRAIN) ? EXPORT_TRAIN : EXPORT_VAL, 0)), 0);
	assert_int_equal(got.len, want.len);
	assert_string_equal(got.ptr, want.ptr);
	export_free(ex);
	buf_release(&got);
	buf_release(&want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label_format_matches_printf),
		cmocka_unit_test(test_split_formula),
		cmocka_unit_test(test_split_ratio),
		cmocka_unit_test(test_split_names),
		cmocka_unit_test(test_adding_images_moves_none),
		cmocka_unit_test(test_order_and_find),
		cmocka_unit_test(test_label_text),
		cmocka_unit_test(test_dataset_yaml),
		cmocka_unit_test(test_dataset_yaml_plain),
		cmocka_unit_test(test_dataset_yaml_no_classes),
		cmocka_unit_test(test_info_yaml),
		cmocka_unit_test(test_coco_roundtrip),
		cmocka_unit_test(test_coco_matches_coco_write),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_byte_identical),
		cmocka_unit_test(test_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
