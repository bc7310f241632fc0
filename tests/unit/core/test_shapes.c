/*
 * Unit tests for core/shapes: rendering is a pure function of (size, seed)
 * and matches golden hashes (so a change to the generator, or a machine that
 * renders differently, is caught); every box is exactly the bounds of its
 * shape's pixels; the generator writes decodable JPEGs of those images and
 * a COCO file with exactly shapes_render()'s boxes, independent of the
 * thread count.
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
#include <sys/stat.h>
#include <turbojpeg.h>

#include "core/coco.h"
#include "core/shapes.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fsutil.h"

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* A hash of the pixels and the boxes (fields hashed one by one: no padding). */
static uint64_t image_hash(const struct shapes_image *img)
{
	uint64_t h = fnv1a(0xcbf29ce484222325ull, img->rgb, (size_t)img->width * img->height * 3);

	for (int i = 0; i < img->n_boxes; i++) {
		const struct shapes_box *b = &img->boxes[i];
		int64_t v[5] = { b->cls, (int64_t)b->x, (int64_t)b->y, (int64_t)b->w, (int64_t)b->h };
		h = fnv1a(h, v, sizeof(v));
		h = fnv1a(h, b->rgb, 3);
	}
	return h;
}

static void test_render_deterministic(void **state)
{
	struct shapes_image a, b, c;

	(void)state;
	assert_int_equal(shapes_render(&a, 640, 480, 1), 0);
	assert_int_equal(shapes_render(&b, 640, 480, 1), 0);
	assert_int_equal(shapes_render(&c, 640, 480, 2), 0);
	assert_int_equal(a.width, 640);
	assert_int_equal(a.height, 480);
	assert_memory_equal(a.rgb, b.rgb, 640 * 480 * 3);
	assert_int_equal(a.n_boxes, b.n_boxes);
	assert_memory_equal(a.boxes, b.boxes, sizeof(a.boxes[0]) * (size_t)a.n_boxes);
	assert_memory_not_equal(a.rgb, c.rgb, 640 * 480 * 3);
	shapes_image_release(&a);
	shapes_image_release(&b);
	shapes_image_release(&c);
	/* Released means zeroed; releasing twice is harmless. */
	assert_null(a.rgb);
	assert_int_equal(a.n_boxes, 0);
	shapes_image_release(&a);
	shapes_image_release(NULL);
}

/*
 * The promise of shapes.h: the same arguments give the same pixels and boxes
 * on every machine.  If this fails after an intended change to the
 * generator, update the hashes (and say so: benchmarks and trained models
 * made with the old images are not comparable any more).
 */
static void test_render_golden(void **state)
{
	static const struct {
		unsigned w, h;
		uint64_t seed, hash;
	} golden[] = {
		{ 640, 480, 1, 0x3578fc4859e2d0cbull },
		{ 96, 64, 7, 0x84ee8df657f9de4bull },
		{ 33, 47, 123456789, 0x5c707b58b130b1f9ull },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(golden) / sizeof(golden[0]); i++) {
		struct shapes_image img;
		uint64_t h;

		assert_int_equal(shapes_render(&img, golden[i].w, golden[i].h, golden[i].seed), 0);
		h = image_hash(&img);
		if (h != golden[i].hash)
			fail_msg("%ux%u seed %llu: hash 0x%016llx, expected 0x%016llx", golden[i].w,
				 golden[i].h, (unsigned long long)golden[i].seed,
				 (unsigned long long)h, (unsigned long long)golden[i].hash);
		shapes_image_release(&img);
	}
}

/*
 * Check every documented property of one image: boxes inside and
 * non-degenerate, integral, apart; colours saturated and distinct; and the
 * pixels of each box's colour span exactly its box.  Background pixels are
 * unsaturated (so they can't be mistaken for a shape).
 */
static void check_image(const struct shapes_image *img)
{
	int n = img->n_boxes, bx0[SHAPES_MAX_BOXES], by0[SHAPES_MAX_BOXES];
	int bx1[SHAPES_MAX_BOXES], by1[SHAPES_MAX_BOXES];

	assert_true(n >= 1 && n <= SHAPES_MAX_BOXES);
	for (int i = 0; i < n; i++) {
		const struct shapes_box *b = &img->boxes[i];
		int hi = 0, lo = 255;

		assert_true(b->cls >= 0 && b->cls < SHAPES_N_CLASSES);
		assert_true(b->x >= 0 && b->y >= 0 && b->w >= 1 && b->h >= 1);
		assert_true(b->x + b->w <= img->width && b->y + b->h <= img->height);
		assert_true(b->x == (int)b->x && b->y == (int)b->y && b->w == (int)b->w &&
			    b->h == (int)b->h);
		for (int c = 0; c < 3; c++) {
			hi = b->rgb[c] > hi ? b->rgb[c] : hi;
			lo = b->rgb[c] < lo ? b->rgb[c] : lo;
		}
		assert_true(hi - lo >= 120);
		for (int j = 0; j < i; j++) {
			const struct shapes_box *o = &img->boxes[j];
			assert_memory_not_equal(b->rgb, o->rgb, 3);
			/* Apart: no shared or touching pixel. */
			assert_true(b->x >= o->x + o->w + 1 || o->x >= b->x + b->w + 1 ||
				    b->y >= o->y + o->h + 1 || o->y >= b->y + b->h + 1);
		}
		bx0[i] = by0[i] = INT32_MAX;
		bx1[i] = by1[i] = -1;
	}
	for (unsigned y = 0; y < img->height; y++) {
		for (unsigned x = 0; x < img->width; x++) {
			const uint8_t *p = img->rgb + ((size_t)y * img->width + x) * 3;
			int i, hi, lo;

			for (i = 0; i < n; i++)
				if (!memcmp(p, img->boxes[i].rgb, 3))
					break;
			if (i < n) {
				bx0[i] = (int)x < bx0[i] ? (int)x : bx0[i];
				by0[i] = (int)y < by0[i] ? (int)y : by0[i];
				bx1[i] = (int)x > bx1[i] ? (int)x : bx1[i];
				by1[i] = (int)y > by1[i] ? (int)y : by1[i];
				continue;
			}
			hi = p[0] > p[1] ? p[0] : p[1];
			hi = p[2] > hi ? p[2] : hi;
			lo = p[0] < p[1] ? p[0] : p[1];
			lo = p[2] < lo ? p[2] : lo;
			if (hi - lo > 40)
				fail_msg("background pixel (%u,%u) too saturated: %d %d %d", x, y, p[0],
					 p[1], p[2]);
		}
	}
	for (int i = 0; i < n; i++) {
		const struct shapes_box *b = &img->boxes[i];
		if (bx0[i] != (int)b->x || by0[i] != (int)b->y || bx1[i] != (int)(b->x + b->w) - 1 ||
		    by1[i] != (int)(b->y + b->h) - 1)
			fail_msg("box %d (cls %d) is %g,%g %gx%g but its pixels span %d,%d..%d,%d", i,
				 b->cls, b->x, b->y, b->w, b->h, bx0[i], by0[i], bx1[i], by1[i]);
	}
}

static void test_boxes_tight(void **state)
{
	static const unsigned sizes[][2] = { { 32, 32 }, { 33, 47 }, { 100, 80 }, { 64, 200 },
					     { 257, 129 } };
	int seen_cls[SHAPES_N_CLASSES] = { 0 }, seen_n[SHAPES_MAX_BOXES + 1] = { 0 };

	(void)state;
	for (uint64_t seed = 0; seed < 400; seed++) {
		const unsigned *sz = sizes[seed % 5];
		struct shapes_image img;

		assert_int_equal(shapes_render(&img, sz[0], sz[1], seed * 7919), 0);
		check_image(&img);
		seen_n[img.n_boxes]++;
		for (int i = 0; i < img.n_boxes; i++)
			seen_cls[img.boxes[i].cls]++;
		shapes_image_release(&img);
	}
	for (uint64_t seed = 1; seed <= 6; seed++) {
		struct shapes_image img;

		assert_int_equal(shapes_render(&img, 640, 480, seed), 0);
		check_image(&img);
		shapes_image_release(&img);
	}
	for (int k = 0; k < SHAPES_N_CLASSES; k++)
		assert_true(seen_cls[k] > 100);
	/* Both ends of 1..6 occur. */
	assert_true(seen_n[1] > 0);
	assert_true(seen_n[SHAPES_MAX_BOXES] > 0);
}

static void test_render_bad_size(void **state)
{
	struct shapes_image img;

	(void)state;
	err_clear();
	assert_int_equal(shapes_render(&img, 31, 100, 1), -EINVAL);
	assert_null(img.rgb);
	assert_non_null(strstr(err_last(), "31x100"));
	assert_int_equal(shapes_render(&img, 100, 31, 1), -EINVAL);
	assert_int_equal(shapes_render(&img, SHAPES_MAX_SIDE + 1, 100, 1), -EINVAL);
	assert_int_equal(shapes_render(&img, 0, 0, 1), -EINVAL);
	assert_null(img.rgb);
	assert_string_equal(shapes_class_names[0], "rectangle");
	assert_string_equal(shapes_class_names[1], "ellipse");
	assert_string_equal(shapes_class_names[2], "triangle");
}

struct progress_log {
	unsigned calls, last, total;
	int backwards;
};

static void on_progress(unsigned done, unsigned total, void *payload)
{
	struct progress_log *p = payload;

	if (done < p->last)
		p->backwards = 1;
	p->calls++;
	p->last = done;
	p->total = total;
}

/* Decode `path`; check size and 4:2:0; return the mean absolute error against `ref`. */
static double check_jpeg(const char *path, const struct shapes_image *ref, off_t *size_out)
{
	struct buf b = BUF_INIT;
	tjhandle tj = tjInitDecompress();
	int w, h, sub, cs;
	uint8_t *px;
	double sum = 0;

	assert_non_null(tj);
	assert_int_equal(fs_read_file(&b, path), 0);
	*size_out = (off_t)b.len;
	assert_int_equal(tjDecompressHeader3(tj, (unsigned char *)b.ptr, b.len, &w, &h, &sub, &cs),
			 0);
	assert_int_equal(w, ref->width);
	assert_int_equal(h, ref->height);
	assert_int_equal(sub, TJSAMP_420);
	assert_non_null(px = malloc((size_t)w * h * 3));
	assert_int_equal(tjDecompress2(tj, (unsigned char *)b.ptr, b.len, px, w, 0, h, TJPF_RGB, 0),
			 0);
	for (size_t i = 0; i < (size_t)w * h * 3; i++)
		sum += abs((int)px[i] - (int)ref->rgb[i]);
	free(px);
	tjDestroy(tj);
	buf_release(&b);
	return sum / ((double)w * h * 3);
}

static void test_generate(void **state)
{
	char dir[] = "/tmp/dsfs_shapes_XXXXXX", path[128];
	struct shapes_gen_opts opts = SHAPES_GEN_OPTS_INIT;
	struct progress_log log = { 0 };
	struct coco c = COCO_INIT;
	const unsigned n = 20, W = 160, H = 120;
	const uint64_t seed = 5;
	uint64_t total = 0;
	size_t ann = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	opts.threads = 2;
	opts.progress = on_progress;
	opts.payload = &log;
	if (shapes_generate_ex(dir, n, W, H, seed, &opts) < 0)
		fail_msg("%s", err_last());
	assert_true(log.calls >= 1);
	assert_int_equal(log.last, n);
	assert_int_equal(log.total, n);
	assert_false(log.backwards);

	snprintf(path, sizeof(path), "%s/instances_default.json", dir);
	if (coco_load_file(&c, path) < 0)
		fail_msg("%s", err_last());
	assert_int_equal(c.n_cats, 3);
	for (int k = 0; k < 3; k++) {
		assert_int_equal(c.cats[k].id, k + 1);
		assert_string_equal(c.cats[k].name, shapes_class_names[k]);
	}
	assert_int_equal(c.n_images, n);
	for (unsigned i = 1; i <= n; i++) {
		const struct coco_image *im = coco_image(&c, i);
		struct shapes_image ref;
		char name[32];
		off_t size;

		assert_non_null(im);
		snprintf(name, sizeof(name), "shape_%06u.jpg", i);
		assert_string_equal(im->file_name, name);
		assert_int_equal(im->width, W);
		assert_int_equal(im->height, H);
		assert_int_equal(shapes_render(&ref, W, H, seed * 1000003 + i), 0);
		/* The annotations of image i, in order, are its rendered boxes. */
		for (int b = 0; b < ref.n_boxes; b++, ann++) {
			const struct coco_ann *a = &c.anns[ann];
			assert_true(ann < c.n_anns);
			assert_int_equal(a->id, (int64_t)ann + 1);
			assert_int_equal(a->image_id, i);
			assert_int_equal(a->category_id, ref.boxes[b].cls + 1);
			assert_true(a->x == ref.boxes[b].x && a->y == ref.boxes[b].y &&
				    a->w == ref.boxes[b].w && a->h == ref.boxes[b].h);
		}
		snprintf(path, sizeof(path), "%s/images/%s", dir, name);
		/* JPEG q90 of this very image: small error (a wrong image is ~50). */
		assert_true(check_jpeg(path, &ref, &size) < 6.0);
		total += (uint64_t)size;
		shapes_image_release(&ref);
	}
	assert_int_equal(ann, c.n_anns);
	assert_int_equal(opts.bytes, total);
	coco_release(&c);
	assert_int_equal(fs_rm_rf(dir), 0);
}

static void test_generate_thread_independent(void **state)
{
	char d1[] = "/tmp/dsfs_shapes_XXXXXX", d2[] = "/tmp/dsfs_shapes_XXXXXX", p[128];
	struct shapes_gen_opts o1 = SHAPES_GEN_OPTS_INIT, o2 = SHAPES_GEN_OPTS_INIT;
	struct buf a = BUF_INIT, b = BUF_INIT;

	(void)state;
	assert_non_null(mkdtemp(d1));
	assert_non_null(mkdtemp(d2));
	o1.threads = 1;
	o2.threads = 3;
	assert_int_equal(shapes_generate_ex(d1, 7, 64, 48, 99, &o1), 0);
	assert_int_equal(shapes_generate_ex(d2, 7, 64, 48, 99, &o2), 0);
	assert_int_equal(o1.bytes, o2.bytes);
	snprintf(p, sizeof(p), "%s/instances_default.json", d1);
	assert_int_equal(fs_read_file(&a, p), 0);
	snprintf(p, sizeof(p), "%s/instances_default.json", d2);
	assert_int_equal(fs_read_file(&b, p), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.ptr, b.ptr, a.len);
	for (unsigned i = 1; i <= 7; i++) {
		buf_reset(&a);
		buf_reset(&b);
		snprintf(p, sizeof(p), "%s/images/shape_%06u.jpg", d1, i);
		assert_int_equal(fs_read_file(&a, p), 0);
		snprintf(p, sizeof(p), "%s/images/shape_%06u.jpg", d2, i);
		assert_int_equal(fs_read_file(&b, p), 0);
		assert_int_equal(a.len, b.len);
		assert_memory_equal(a.ptr, b.ptr, a.len);
	}
	/* shapes_generate() is the same with default threads. */
	assert_int_equal(shapes_generate(d2, 7, 64, 48, 99), 0);
	buf_reset(&b);
	snprintf(p, sizeof(p), "%s/images/shape_000007.jpg", d2);
	assert_int_equal(fs_read_file(&b, p), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.ptr, b.ptr, a.len);
	buf_release(&a);
	buf_release(&b);
	assert_int_equal(fs_rm_rf(d1), 0);
	assert_int_equal(fs_rm_rf(d2), 0);
}

static void test_generate_errors(void **state)
{
	char dir[] = "/tmp/dsfs_shapes_XXXXXX", path[128];
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	err_clear();
	assert_int_equal(shapes_generate(dir, 0, 64, 64, 1), -EINVAL);
	assert_string_equal(err_last(), "count must be at least 1");
	assert_int_equal(shapes_generate(dir, 1, 16, 64, 1), -EINVAL);
	assert_non_null(strstr(err_last(), "16x64"));
	/* Nothing was written for a rejected call. */
	snprintf(path, sizeof(path), "%s/images", dir);
	assert_int_equal(stat(path, &st), -1);

	/* OUTDIR below a regular file: a clear errno and message, no JSON. */
	snprintf(path, sizeof(path), "%s/file", dir);
	assert_int_equal(fs_write_file_atomic(path, "x", 1, 0644), 0);
	snprintf(path, sizeof(path), "%s/file/out", dir);
	err_clear();
	assert_int_equal(shapes_generate(path, 2, 64, 64, 1), -ENOTDIR);
	assert_non_null(strstr(err_last(), "file"));

	/* images/ unwritable after creation: the first write fails, no JSON. */
	snprintf(path, sizeof(path), "%s/ro/images/shape_000001.jpg", dir);
	assert_int_equal(fs_mkdir_p(path, 0755), 0); /* a directory where a JPEG goes */
	snprintf(path, sizeof(path), "%s/ro", dir);
	err_clear();
	assert_int_equal(shapes_generate(path, 3, 64, 64, 1), -EISDIR);
	assert_non_null(strstr(err_last(), "shape_000001.jpg"));
	snprintf(path, sizeof(path), "%s/ro/instances_default.json", dir);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(fs_rm_rf(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_deterministic),
		cmocka_unit_test(test_render_golden),
		cmocka_unit_test(test_boxes_tight),
		cmocka_unit_test(test_render_bad_size),
		cmocka_unit_test(test_generate),
		cmocka_unit_test(test_generate_thread_independent),
		cmocka_unit_test(test_generate_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
