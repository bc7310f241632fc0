/*
 * Unit tests for core/manifest and core/version: the manifests of a
 * dataset (escaping, round-tripping doubles, stable bytes), commit ->
 * v1 / "nothing to commit" / v2, a version's export byte-identical to the
 * working export of that moment (labels, dataset.yaml but for the path,
 * COCO), exclusions and frozen split, diff text, catalog reconcile after a
 * lost row, strict parsing (errors name file and line), blob ids of all
 * versions, and a materialized export (copies, or hard links with --link;
 * an atomic directory; a dead export's .partial-PID cleared).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <limits.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/export.h"
#include "core/export_catalog.h"
#include "core/manifest.h"
#include "core/repo.h"
#include "core/version.h"
#include "store/blob.h"
#include "store/catalog.h"
#include "store/history.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "testrepo.h"

struct fixture {
	char dir[64];
	struct repo *repo;
	char ids[6][33];
};

/* Image i: a real blob (content "image i"), 100x50 (i even) or 64x64. */
static void add_image(struct fixture *f, int i, const char *name)
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
	img.width = i % 2 ? 64 : 100;
	img.height = i % 2 ? 64 : 50;
	snprintf(img.source, sizeof(img.source), "unit");
	snprintf(img.ingested_at, sizeof(img.ingested_at), "2026-01-0%dT00:00:00Z", i + 1);
	snprintf(img.name, sizeof(img.name), "%s", name);
	assert_true(catalog_image_add(f->repo->cat, &img) >= 0);
	memcpy(f->ids[i], img.id, 33);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *classes[] = { "cat", "dog" };

	assert_int_equal(testrepo_make(f->dir, sizeof(f->dir), "test-version", &f->repo), 0);
	add_image(f, 0, "a.png");
	add_image(f, 1, "tab\there.png");   /* escaped in images.tsv */
	add_image(f, 2, "c.png");
	add_image(f, 3, "d.png");
	assert_int_equal(catalog_labelset_add_classes(f->repo->cat, "default", classes, 2, NULL), 0);
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

static void label(struct fixture *f, int i, const struct catalog_box *boxes, size_t n)
{
	const char *ids[1] = { f->ids[i] };

	assert_int_equal(catalog_labels_replace(f->repo->cat, "default", "b1", "unit", ids, 1, boxes, n), 0);
}

static struct catalog_box box(const char *id, int cls, double x0, double y0, double x1, double y1)
{
	struct catalog_box b = { .class_id = cls, .x_min = x0, .y_min = y0, .x_max = x1, .y_max = y1 };

	memcpy(b.image_id, id, 33);
	return b;
}

/* Every generated file of an export, concatenated (dataset.yaml without its path line). */
static void export_bytes(struct buf *out, const struct export *ex)
{
	struct buf y = BUF_INIT;

	assert_int_equal(export_dataset_yaml(&y, ex), 0);
	buf_puts(out, strstr(y.ptr, "train:"));
	for (int s = 0; s < 2; s++) {
		for (size_t i = 0; i < export_count(ex, (enum export_split)s); i++) {
			const struct export_image *img = export_image_at(ex, (enum export_split)s, i);
			buf_printf(out, "%s %s.%s %lld\n", export_split_name((enum export_split)s), img->id,
				   img->ext, (long long)img->bytes);
			assert_int_equal(export_label_text(out, ex, img), 0);
		}
		assert_int_equal(export_coco_json(out, ex, (enum export_split)s), 0);
	}
	buf_release(&y);
}

static void test_fmt_double(void **state)
{
	const double v[] = { 0, 12.5, 1.0 / 3, 100.0 / 3, 0.1 + 0.2, 1e-300, 123456789.123, -7.25 };
	char s[32];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		manifest_fmt_double(s, v[i]);
		assert_true(strtod(s, NULL) == v[i]);
	}
	manifest_fmt_double(s, 12.5);
	assert_string_equal(s, "12.5");
	manifest_fmt_double(s, 0.1 + 0.2);
	assert_string_equal(s, "0.30000000000000004");
}

/*
 * Coordinates written by manifest_fmt_double read back bit-identical
 * through the annotations parser (which has its own fast decimal path),
 * over random magnitudes; boxes of unlabeled images are dropped.
 */
static void test_coordinates_round_trip(void **state)
{
	const char *id = "0123456789abcdef0123456789abcdef", *other = "1123456789abcdef0123456789abcdef";
	struct manifest_label_set ls;
	struct buf anns = BUF_INIT, labels = BUF_INIT;
	double *want = malloc(4 * 5000 * sizeof(double));
	uint64_t x = 12345;
	char c[4][32];

	(void)state;
	assert_non_null(want);
	buf_printf(&labels, "%s\tb\ts\n", id);
	for (int i = 0; i < 5000; i++) {
		for (int k = 0; k < 4; k++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			double v = (double)(x >> 11) / (double)(1ULL << 53);
			switch (i % 4) {
			case 0: v *= 640; break;                         /* pixels */
			case 1: v = (double)(int)(v * 6400) / 10; break; /* one decimal */
			case 2: v = v * 1e-3; break;                     /* small */
			default: v = (double)(int)(v * 1e6) / 3; break;  /* long fractions */
			}
			want[i * 4 + k] = v;
			manifest_fmt_double(c[k], v);
		}
		buf_printf(&anns, "%s\t0\t%s\t%s\t%s\t%s\n", id, c[0], c[1], c[2], c[3]);
	}
	buf_printf(&anns, "%s\t0\t1\t2\t3\t4\n", other); /* not labeled: dropped */
	{
		size_t llen = labels.len, alen = anns.len;
		char *l = buf_detach(&labels, NULL), *a = buf_detach(&anns, NULL);
		assert_int_equal(manifest_label_set_parse(&ls, "label_sets/t", strdup("a\n"), 2, NULL, 0,
							  l, llen, a, alen), 0);
	}
	assert_int_equal(ls.n_labeled, 1);
	assert_int_equal(ls.n_boxes, 5000);
	assert_int_equal(ls.first_box[0], 0);
	assert_int_equal(ls.n_box[0], 5000);
	for (int i = 0; i < 5000; i++) {
		assert_true(ls.boxes[i].x_min == want[i * 4 + 0]);
		assert_true(ls.boxes[i].y_min == want[i * 4 + 1]);
		assert_true(ls.boxes[i].x_max == want[i * 4 + 2]);
		assert_true(ls.boxes[i].y_max == want[i * 4 + 3]);
	}
	manifest_label_set_release(&ls);
	free(want);
}

static void test_commit_and_read_back(void **state)
{
	struct fixture *f = *state;
	struct catalog_box b0[2] = { box(f->ids[0], 1, 10, 5, 50.5, 40), box(f->ids[0], 0, 1.0 / 3, 2, 3, 4) };
	struct catalog_box b2[1] = { box(f->ids[2], 0, 0, 0, 100, 50) };
	struct version_info v1, v2, info;
	struct export *work = NULL, *ver = NULL;
	struct version *v = NULL;
	struct buf a = BUF_INIT, b = BUF_INIT, text = BUF_INIT;
	const char *excl[1];

	label(f, 0, b0, 2);
	label(f, 1, NULL, 0);              /* a labeled negative */
	label(f, 2, b2, 1);
	excl[0] = f->ids[2];
	assert_int_equal(catalog_exclude(f->repo->cat, excl, 1, "default", "blurry"), 0);

	/* A message must say something, in UTF-8. */
	assert_int_equal(version_commit(&v1, f->repo, " \n\t", 0), -EINVAL);
	assert_int_equal(version_commit(&v1, f->repo, "caf\xe9", 0), -EINVAL);
	assert_int_equal(version_commit(&v1, f->repo, "first: a=b\nsecond \x1b[31mline", 0), 0);
	assert_string_equal(v1.tag, "v1");
	assert_int_equal(v1.number, 1);
	assert_int_equal(v1.n_images, 4);
	assert_int_equal(v1.n_labeled, 3);
	assert_int_equal(strlen(v1.commit), 40);
	/* Same state: no empty version. */
	assert_int_equal(version_commit(&info, f->repo, "again", 0), -EEXIST);
	assert_non_null(strstr(err_last(), "same as v1"));
	/* VERSION quotes the message as YAML; the log shows its first line, no escape bytes. */
	assert_int_equal(version_describe(&text, f->repo, "v1"), 0);
	assert_non_null(strstr(text.ptr, "\nmessage: \"first: a=b\\nsecond \\x1b[31mline\"\n"));
	buf_reset(&text);
	assert_int_equal(version_log(&text, f->repo), 0);
	assert_non_null(strstr(text.ptr, " first: a=b\n"));
	assert_null(strchr(text.ptr, '\x1b'));
	buf_reset(&text);

	/* The working export now equals v1's export, byte for byte. */
	assert_int_equal(export_from_catalog(&work, f->repo, "default", "/w"), 0);
	export_bytes(&a, work);
	assert_int_equal(version_open(&v, f->repo, "v1"), 0);
	assert_int_equal(version_image_count(v), 4);
	assert_string_equal(version_image_find(v, f->ids[1])->name, "tab\there.png");
	assert_int_equal(version_label_set_count(v), 1);
	assert_string_equal(version_label_set_name(v, 0), "default");
	assert_int_equal(version_export(&ver, v, "default", "/v"), 0);
	export_bytes(&b, ver);
	assert_string_equal(a.ptr, b.ptr);
	assert_int_equal(export_count(ver, EXPORT_TRAIN) + export_count(ver, EXPORT_VAL), 2); /* 2 excluded */
	{
		struct export *none = NULL;
		assert_int_equal(version_export(&none, v, "nope", "/v"), -ENOENT);
		assert_null(none);
	}
	export_free(ver);
	ver = NULL;
	version_free(v);
	v = NULL;

	/* Change things: a new image labeled, one relabeled, a class added. */
	{
		struct catalog_box b3[1] = { box(f->ids[3], 2, 1, 1, 2, 2) };
		const char *more[] = { "bird" };
		assert_int_equal(catalog_labelset_add_classes(f->repo->cat, "default", more, 1, NULL), 0);
		label(f, 3, b3, 1);
		label(f, 0, b0, 1);
	}
	assert_int_equal(version_commit(&v2, f->repo, "second", 0), 0);
	assert_string_equal(v2.tag, "v2");

	/* v1 still reads as v1. */
	assert_int_equal(version_open(&v, f->repo, "1"), 0);
	assert_int_equal(version_export(&ver, v, "default", "/v"), 0);
	buf_reset(&b);
	export_bytes(&b, ver);
	assert_string_equal(a.ptr, b.ptr);
	export_free(ver);
	version_free(v);
	export_free(work);

	assert_int_equal(version_diff(&text, f->repo, "v1", "v2"), 0);
	assert_non_null(strstr(text.ptr, "class added: 2 bird"));
	assert_non_null(strstr(text.ptr, "labeled images: 3 -> 4 (+1 -0)"));
	assert_non_null(strstr(text.ptr, "images whose boxes changed: 2"));
	assert_null(strstr(text.ptr, "split:"));   /* unchanged: not listed */
	/* A version against itself: no label set listed at all. */
	buf_reset(&text);
	assert_int_equal(version_diff(&text, f->repo, "v2", "v2"), 0);
	assert_null(strstr(text.ptr, "label set"));
	buf_reset(&text);
	assert_int_equal(version_describe(&text, f->repo, "HEAD"), 0);
	assert_non_null(strstr(text.ptr, "version: v2\n"));
	assert_non_null(strstr(text.ptr, "message: second\n"));
	assert_non_null(strstr(text.ptr, "default: classes=3 labeled=4 annotations=3"));
	assert_int_equal(version_resolve(&info, f->repo, "v999"), -ENOENT);

	buf_release(&a);
	buf_release(&b);
	buf_release(&text);
}

static void test_reconcile(void **state)
{
	struct fixture *f = *state;
	struct catalog_version *rows = NULL;
	struct version_info v1;
	struct buf log = BUF_INIT;
	size_t n = 0;

	assert_int_equal(version_commit(&v1, f->repo, "only", 0), 0);
	/* As if the process died between the tag and the catalog row. */
	assert_int_equal(catalog_versions_prune(f->repo->cat, NULL, 0), 0);
	assert_int_equal(catalog_versions(f->repo->cat, &rows, &n), 0);
	assert_int_equal(n, 0);
	free(rows);
	assert_int_equal(version_log(&log, f->repo), 0);
	assert_non_null(strstr(log.ptr, "v1"));
	assert_non_null(strstr(log.ptr, "images 4"));
	assert_int_equal(catalog_versions(f->repo->cat, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].commit_id, v1.commit);
	assert_int_equal(rows[0].n_images, 4);
	free(rows);
	buf_release(&log);
}

static void test_parse_errors(void **state)
{
	struct manifest_images im;
	struct manifest_exclusions ex;
	struct manifest_label_set ls;
	const char *id = "0123456789abcdef0123456789abcdef";
	char line[256];

	(void)state;
	snprintf(line, sizeof(line), "# header\n%s\tpng\t10\t5\t5\tn\ts\tt\n%s\tpng\tten\t5\t5\tn\ts\tt\n", id, id);
	assert_int_equal(manifest_images_parse(&im, strdup(line), strlen(line), "images.tsv"), -EIO);
	assert_non_null(strstr(err_last(), "images.tsv, line 3"));
	/* unsorted/duplicate */
	snprintf(line, sizeof(line), "%s\tpng\t10\t5\t5\tn\ts\tt\n%s\tpng\t10\t5\t5\tn\ts\tt\n", id, id);
	assert_int_equal(manifest_images_parse(&im, strdup(line), strlen(line), "images.tsv"), -EIO);
	assert_non_null(strstr(err_last(), "line 2"));
	snprintf(line, sizeof(line), "%s\tpng\t10\n", id);
	assert_int_equal(manifest_images_parse(&im, strdup(line), strlen(line), "images.tsv"), -EIO);
	snprintf(line, sizeof(line), "%.31s\tx\n", id);
	assert_int_equal(manifest_exclusions_parse(&ex, strdup(line), strlen(line), "exclusions.tsv"), -EIO);
	/* a box whose class is not in classes.txt */
	snprintf(line, sizeof(line), "%s\t5\t1\t2\t3\t4\n", id);
	assert_int_equal(manifest_label_set_parse(&ls, "label_sets/x", strdup("a\nb\n"), 4, NULL, 0,
						  NULL, 0, strdup(line), strlen(line)), -EIO);
	assert_non_null(strstr(err_last(), "label_sets/x/annotations.tsv, line 1"));
	/* good input parses */
	snprintf(line, sizeof(line), "%s\tpng\t10\t5\t5\tn\\tx\ts\tt\n", id);
	assert_int_equal(manifest_images_parse(&im, strdup(line), strlen(line), "images.tsv"), 0);
	assert_int_equal(im.n, 1);
	assert_string_equal(im.v[0].name, "n\tx");
	manifest_images_release(&im);
}

static void test_blob_ids_and_materialize(void **state)
{
	struct fixture *f = *state;
	struct catalog_box b0[1] = { box(f->ids[0], 1, 10, 5, 50, 40) };
	struct version_materialize_stats st;
	struct version_info v1;
	struct blob_id *ids = NULL;
	struct stat s1, s2;
	struct buf y = BUF_INIT;
	char out[128], path[256], blob[256];
	size_t n = 0;

	label(f, 0, b0, 1);
	label(f, 1, NULL, 0);
	assert_int_equal(version_commit(&v1, f->repo, "m", 0), 0);
	assert_int_equal(version_blob_ids(&ids, &n, f->repo), 0);
	assert_int_equal(n, 4);
	free(ids);

	snprintf(out, sizeof(out), "%s/out", f->dir);
	assert_int_equal(version_materialize(&st, f->repo, "v1", "default", out, 1), 0);
	assert_int_equal(st.images_linked + st.images_copied, 2);
	assert_int_equal(st.labels, 2);
	snprintf(path, sizeof(path), "%s/dataset.yaml", out);
	assert_int_equal(fs_read_file(&y, path), 0);
	snprintf(path, sizeof(path), "path: %s\n", out);
	assert_non_null(strstr(y.ptr, path));
	/* The image is the blob itself (a hard link on one file system). */
	for (int s = 0; s < 2; s++) {
		snprintf(path, sizeof(path), "%s/images/%s/%s.png", out, s ? "val" : "train", f->ids[0]);
		if (stat(path, &s1) == 0)
			break;
	}
	struct blob_id bid;
	blob_id_parse(&bid, f->ids[0]);
	blob_path(blob, sizeof(blob), f->repo->blobs, &bid);
	assert_int_equal(stat(blob, &s2), 0);
	assert_true(s1.st_ino == s2.st_ino);
	/*
	 * Without --link the images are copies: writing one (root may) leaves
	 * the store alone.  And a .partial-PID of a dead export is cleared.
	 */
	{
		char out3[PATH_MAX], stale[PATH_MAX + 32], img3[PATH_MAX + 64];
		pid_t p = fork();

		assert_true(p >= 0);
		if (p == 0)
			_exit(0);
		waitpid(p, NULL, 0);   /* a pid no process has now */
		snprintf(out3, sizeof(out3), "%s/out3", f->dir);
		snprintf(stale, sizeof(stale), "%s.partial-%ld", out3, (long)p);
		assert_int_equal(mkdir(stale, 0755), 0);
		assert_int_equal(version_materialize(&st, f->repo, "v1", "default", out3, 0), 0);
		assert_int_equal(st.images_linked, 0);
		assert_int_equal(st.images_copied, 2);
		assert_int_equal(access(stale, F_OK), -1);
		for (int s = 0; s < 2; s++) {
			snprintf(img3, sizeof(img3), "%s/images/%s/%s.png", out3, s ? "val" : "train", f->ids[0]);
			if (stat(img3, &s1) == 0)
				break;
		}
		assert_true(s1.st_ino != s2.st_ino);
		assert_int_equal(s1.st_size, s2.st_size);
	}
	/* An existing non-empty directory is refused; nothing partial is left. */
	assert_int_equal(version_materialize(&st, f->repo, "v1", "default", out, 0), -EEXIST);
	snprintf(path, sizeof(path), "%s/out2", f->dir);
	assert_int_equal(version_materialize(&st, f->repo, "v1", "nope", path, 0), -ENOENT);
	assert_int_equal(access(path, F_OK), -1);
	buf_release(&y);
}

/*
 * A writer killed while it held ref locks leaves refs/tags/vN.lock,
 * refs/heads/main.lock, packed-refs.lock: the next commit still makes vN.
 */
static void test_stale_ref_locks(void **state)
{
	struct fixture *f = *state;
	struct catalog_box b0[1] = { box(f->ids[0], 1, 10, 5, 50, 40) };
	struct version_info v1, v2;
	const char *locks[] = { "git/refs/tags/v2.lock", "git/refs/heads/main.lock", "git/packed-refs.lock" };
	char path[256];

	assert_int_equal(version_commit(&v1, f->repo, "one", 0), 0);
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, locks[i]);
		assert_int_equal(fs_write_file_atomic(path, "x", 1, 0644), 0);
	}
	label(f, 0, b0, 1);
	assert_int_equal(version_commit(&v2, f->repo, "two", 0), 0);
	assert_string_equal(v2.tag, "v2");
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, locks[i]);
		assert_int_equal(access(path, F_OK), -1);
	}
	snprintf(path, sizeof(path), "%s/git/dsfs.lock", f->dir);
	assert_int_equal(access(path, F_OK), 0);
	{
		struct version_info head;
		assert_int_equal(version_resolve(&head, f->repo, "HEAD"), 0);
		assert_string_equal(head.commit, v2.commit);
	}
}

/* A version whose images.tsv is corrupt: -EIO naming the file and line, nothing leaks or crashes. */
static void test_corrupt_version(void **state)
{
	struct fixture *f = *state;
	struct history *h;
	struct history_version hv = HISTORY_VERSION_INIT;
	struct version *v = NULL;
	struct blob_id *ids = NULL;
	size_t n = 0;
	const char summary[] = "format\t1\nimages\t1\nlabeled\t0\n";
	const char images[] = "# header\nnot-an-id\tjpg\t1\t1\t1\tx\ty\tz\n";
	struct history_file files[] = {
		{ "summary.tsv", summary, sizeof(summary) - 1 },
		{ "images.tsv", images, sizeof(images) - 1 },
	};

	assert_int_equal(repo_history(&h, f->repo), 0);
	assert_int_equal(history_commit(&hv, h, files, 2, "bad", "t", "t@t"), 0);
	history_version_release(&hv);
	assert_int_equal(version_open(&v, f->repo, "v1"), -EIO);
	assert_null(v);
	assert_non_null(strstr(err_last(), "images.tsv, line 2"));
	assert_int_equal(version_blob_ids(&ids, &n, f->repo), -EIO);
	assert_null(ids);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fmt_double),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_coordinates_round_trip),
		cmocka_unit_test_setup_teardown(test_commit_and_read_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconcile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob_ids_and_materialize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_ref_locks, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
