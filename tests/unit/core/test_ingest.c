/*
 * Unit tests for core/ingest and core/ingest_pipe.
 *
 * A batch of real JPEGs and PNGs, a duplicate, refused files (text named
 * .jpg, empty, truncated) and a missing one: each gets its outcome, the
 * blobs hold the source bytes, the refused ones are kept with a reason and
 * their sources stay, the missing one carries its own message, and tmp/ is
 * left empty (no spool file, no spool directory).  Reasons say what is
 * wrong (a corrupt chunk after a valid PNG header, a PNG without IDAT, a
 * cut PNG, a JPEG without a frame header) and nothing is printed to stderr;
 * names too long for "<name>.reason" are kept shortened, extension kept.  The pipe hands groups
 * back in push order, each only after the next push (or close), counts a
 * repeat from an earlier group as a duplicate, and, with fault injection,
 * reports a group whose catalog transaction fails as a whole (the push
 * that hands it back returns its error) and keeps going.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ingest.h"
#include "core/ingest_pipe.h"
#include "core/repo.h"
#include "store/blob.h"
#include "store/catalog.h"
#include "util/buf.h"
#include "util/fault.h"
#include "util/fsutil.h"
#include "testfs.h"
#include "testimg.h"

struct fx {
	char dir[64];
	char src[128];   /* source files, outside the dataset */
	struct repo *repo;
};

static int fx_setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char ds[128];

	if (!fx || testfs_tmpdir(fx->dir, sizeof(fx->dir), "ingest") < 0)
		return -1;
	snprintf(fx->src, sizeof(fx->src), "%s/src", fx->dir);
	snprintf(ds, sizeof(ds), "%s/ds", fx->dir);
	if (mkdir(fx->src, 0755) < 0 || repo_init(ds) < 0 || repo_open(&fx->repo, ds) < 0)
		return -1;
	*state = fx;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *fx = *state;

	repo_free(fx->repo);
	fs_rm_rf(fx->dir);
	free(fx);
	return 0;
}

static char *src_path(const struct fx *fx, const char *name)
{
	char *p = malloc(PATH_MAX);

	assert_non_null(p);
	snprintf(p, PATH_MAX, "%s/%s", fx->src, name);
	return p;
}

static int64_t n_images(struct fx *fx)
{
	int64_t n = -1;

	assert_int_equal(catalog_image_count(fx->repo->cat, &n), 0);
	return n;
}


/* The stored blob `id` has the bytes of file `path`. */
static void assert_blob_is(struct fx *fx, const char *id, const char *path)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	char blob[PATH_MAX];
	struct blob_id bid;

	assert_int_equal(blob_id_parse(&bid, id), 0);
	assert_int_equal(blob_path(blob, sizeof(blob), fx->repo->blobs, &bid), 0);
	assert_int_equal(fs_read_file(&a, blob), 0);
	assert_int_equal(fs_read_file(&b, path), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.ptr, b.ptr, a.len);
	buf_release(&a);
	buf_release(&b);
}

static void test_batch_outcomes(void **state)
{
	struct fx *fx = *state;
	const char *names[] = { "a.jpg", "b.png", "a-again.jpg", "x.jpg", "empty.jpg",
				"cut.jpg", "missing.jpg" };
	enum { N = 7 };
	struct ingest_item items[N];
	char *paths[N], rej[PATH_MAX + 16];
	unsigned char *jpg;
	unsigned long len;
	struct stat st;

	for (int i = 0; i < N; i++)
		paths[i] = src_path(fx, names[i]);
	make_jpeg(&jpg, &len, 64, 48, 1);
	write_bytes(paths[0], jpg, len);
	write_png(paths[1], 40, 30, 2);
	write_bytes(paths[2], jpg, len);
	write_bytes(paths[3], "not an image\n", 13);
	write_bytes(paths[4], "", 0);
	write_bytes(paths[5], jpg, len / 2);
	testimg_free(jpg);

	memset(items, 0, sizeof(items));
	for (int i = 0; i < N; i++)
		items[i].path = paths[i];
	assert_int_equal(ingest_batch(fx->repo, items, N, "cam1"), 0);

	assert_int_equal(items[0].error, 0);
	assert_int_equal(items[0].res.status, INGEST_ADDED);
	assert_string_equal(items[0].res.img.ext, "jpg");
	assert_int_equal(items[0].res.img.width, 64);
	assert_int_equal(items[0].res.img.height, 48);
	assert_string_equal(items[0].res.img.name, "a.jpg");
	assert_string_equal(items[0].res.img.source, "cam1");
	assert_blob_is(fx, items[0].res.img.id, paths[0]);

	assert_int_equal(items[1].res.status, INGEST_ADDED);
	assert_string_equal(items[1].res.img.ext, "png");
	assert_int_equal(items[1].res.img.width, 40);
	assert_blob_is(fx, items[1].res.img.id, paths[1]);

	/* The same bytes under another name: recorded once, under the first name. */
	assert_int_equal(items[2].error, 0);
	assert_int_equal(items[2].res.status, INGEST_DUPLICATE);
	assert_string_equal(items[2].res.img.id, items[0].res.img.id);
	assert_int_equal(n_images(fx), 2);

	for (int i = 3; i <= 5; i++) {
		assert_int_equal(items[i].error, 0);
		assert_int_equal(items[i].res.status, INGEST_REJECTED);
		assert_true(items[i].res.reason[0] != '\0');
		assert_string_equal(items[i].res.kept_as, names[i]);
		snprintf(rej, sizeof(rej), "%s/%s", fx->repo->rejected_dir, names[i]);
		assert_int_equal(stat(rej, &st), 0);
		strcat(rej, ".reason");
		assert_int_equal(stat(rej, &st), 0);
		assert_int_equal(stat(paths[i], &st), 0); /* a source is copied, not taken */
	}

	/* The missing file's own message, whichever staging thread met it. */
	assert_true(items[6].error < 0);
	assert_non_null(strstr(items[6].message, "missing.jpg"));

	assert_int_equal(testfs_entries(blob_tmp_dir(fx->repo->blobs)), 0);
	for (int i = 0; i < N; i++)
		free(paths[i]);
}

/* ---- reasons ---- */

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
	}
	return c ^ 0xffffffffu;
}

/* Append a PNG chunk of `type` and `len` bytes of `data` at out + *at. */
static void png_chunk(uint8_t *out, size_t *at, const char *type, const uint8_t *data, uint32_t len)
{
	uint8_t *c = out + *at;
	uint32_t crc;

	c[0] = len >> 24, c[1] = len >> 16, c[2] = len >> 8, c[3] = len;
	memcpy(c + 4, type, 4);
	if (len)
		memcpy(c + 8, data, len);
	crc = crc32_of(c + 4, 4 + len);
	c[8 + len] = crc >> 24, c[9 + len] = crc >> 16, c[10 + len] = crc >> 8, c[11 + len] = crc;
	*at += 12 + len;
}

/* The reason a batch of one gives for `path`, which must be rejected. */
static const char *reason_for(struct fx *fx, const char *path, struct ingest_item *it)
{
	memset(it, 0, sizeof(*it));
	it->path = path;
	assert_int_equal(ingest_batch(fx->repo, it, 1, ""), 0);
	assert_int_equal(it->error, 0);
	assert_int_equal(it->res.status, INGEST_REJECTED);
	return it->res.reason;
}

static void assert_has(const char *text, const char *part)
{
	if (!strstr(text, part))
		fail_msg("\"%s\" does not say \"%s\"", text, part);
}

/*
 * Each refused file says what is wrong with it, and nothing reaches
 * stderr (libpng's own messages go into the reason; a rejection is
 * reported by the caller, not logged by ingest).
 */
static void test_reasons(void **state)
{
	static const uint8_t sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	static const uint8_t ihdr[13] = { 0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0, 8, 2, 0, 0, 0 };
	static const uint8_t nosof[] = { 0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1,
					 0, 0, 1, 0, 1, 0, 0, 0xff, 0xd9 };
	struct fx *fx = *state;
	char *badtype = src_path(fx, "badtype.png"), *noidat = src_path(fx, "noidat.png");
	char *cut = src_path(fx, "cut.png"), *nosofp = src_path(fx, "nosof.jpg");
	char *errpath = src_path(fx, "stderr.txt"), r1[256], r2[256], r3[256], r4[256];
	struct buf b = BUF_INIT, err = BUF_INIT;
	struct ingest_item it;
	uint8_t png[64];
	size_t at = 0;
	char *idat;
	int saved, fd;

	write_png(badtype, 20, 10, 3);
	assert_int_equal(fs_read_file(&b, badtype), 0);
	assert_non_null(idat = memmem(b.ptr, b.len, "IDAT", 4));
	idat[3] = '['; /* a chunk type libpng refuses, right after a valid header */
	write_bytes(badtype, b.ptr, b.len);
	write_bytes(cut, b.ptr, 40); /* the signature, IHDR and a piece of the next chunk */
	buf_release(&b);
	memcpy(png, sig, 8);
	at = 8;
	png_chunk(png, &at, "IHDR", ihdr, 13); /* 100000 x 100000, RGB */
	png_chunk(png, &at, "IEND", NULL, 0);
	write_bytes(noidat, png, at);
	write_bytes(nosofp, nosof, sizeof(nosof));

	fflush(stderr);
	saved = dup(2);
	assert_true((fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0);
	assert_true(dup2(fd, 2) == 2);
	close(fd);
	snprintf(r1, sizeof(r1), "%s", reason_for(fx, badtype, &it));
	snprintf(r2, sizeof(r2), "%s", reason_for(fx, noidat, &it));
	snprintf(r3, sizeof(r3), "%s", reason_for(fx, cut, &it));
	snprintf(r4, sizeof(r4), "%s", reason_for(fx, nosofp, &it));
	fflush(stderr);
	dup2(saved, 2);
	close(saved);

	assert_has(r1, "corrupt PNG data");
	assert_has(r1, "invalid chunk type");
	assert_has(r2, "PNG without image data");
	assert_has(r3, "truncated PNG");
	assert_has(r4, "JPEG without a frame header");
	assert_int_equal(fs_read_file(&err, errpath), 0);
	if (err.len)
		fail_msg("stderr got: %.*s", (int)err.len, err.ptr);
	buf_release(&err);
	assert_int_equal(n_images(fx), 0);
	free(badtype);
	free(noidat);
	free(cut);
	free(nosofp);
	free(errpath);
}

/*
 * Names too long for "<name>.reason" in one directory entry (NAME_MAX)
 * are kept under a shorter name that ends in the same extension, each with
 * its reason; a name just short enough stays as it is.
 */
static void test_reject_long_names(void **state)
{
	struct fx *fx = *state;
	char name[NAME_MAX + 1], fits[NAME_MAX + 1], path[PATH_MAX], rpath[PATH_MAX + 16];
	char kept[2][CATALOG_NAME_MAX];
	struct ingest_item it;
	struct stat st;
	const char *end;

	memset(name, 'b', 250);
	strcpy(name + 250, ".jpg");
	/* The longest that is kept unchanged: its reason is written via "<name>.reason.tmp.XXXXXX". */
	memset(fits, 'f', NAME_MAX - 18 - 4);
	strcpy(fits + NAME_MAX - 18 - 4, ".jpg");
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", fx->src, i < 2 ? name : fits);
		write_bytes(path, "junk\n", 5);
		reason_for(fx, path, &it);
		assert_has(it.res.reason, "not a JPEG or PNG");
		assert_true(strlen(it.res.kept_as) + strlen(".reason") <= NAME_MAX);
		/* The second of the same name gets the usual ".1" after its (cut) name. */
		end = i == 1 ? ".jpg.1" : ".jpg";
		assert_string_equal(it.res.kept_as + strlen(it.res.kept_as) - strlen(end), end);
		if (i < 2)
			snprintf(kept[i], sizeof(kept[i]), "%s", it.res.kept_as);
		else
			assert_string_equal(it.res.kept_as, fits);
		snprintf(rpath, sizeof(rpath), "%s/%s.reason", fx->repo->rejected_dir, it.res.kept_as);
		assert_int_equal(stat(rpath, &st), 0);
		assert_int_equal(stat(path, &st), 0); /* copied, not taken */
	}
	assert_string_not_equal(kept[0], kept[1]);
	assert_int_equal(strncmp(kept[0], "bbbb", 4), 0);
	assert_int_equal(testfs_entries(fx->repo->rejected_dir), 6);
}

/* ---- the pipe ---- */

#define GROUPS 5
#define PER_GROUP 7

struct record {
	struct ingest_item *order[GROUPS + 1];
	int calls, added, dups, failed_groups, last_error;
	char last_message[256];
};

static void on_done(void *arg, struct ingest_item *items, size_t n, int error, const char *message)
{
	struct record *r = arg;

	assert_true(r->calls < GROUPS + 1);
	r->order[r->calls++] = items;
	if (error < 0) {
		r->failed_groups++;
		r->last_error = error;
		snprintf(r->last_message, sizeof(r->last_message), "%s", message);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(items[i].error, 0);
		if (items[i].res.status == INGEST_ADDED)
			r->added++;
		else if (items[i].res.status == INGEST_DUPLICATE)
			r->dups++;
	}
}

/*
 * Group g: six new JPEGs (seeds 10g .. 10g+5) and, from the second group
 * on, a repeat of the first image of the group before.
 */
static size_t fill_group(struct fx *fx, struct ingest_item *items, char **paths, int g)
{
	size_t n = 0;
	char name[64];

	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "g%d-%d.jpg", g, i);
		paths[n] = src_path(fx, name);
		write_jpeg(paths[n], 32, 24, (unsigned)(10 * g + i));
		n++;
	}
	if (g > 0) {
		snprintf(name, sizeof(name), "g%d-repeat.jpg", g);
		paths[n] = src_path(fx, name);
		write_jpeg(paths[n], 32, 24, (unsigned)(10 * (g - 1)));
		n++;
	}
	memset(items, 0, n * sizeof(*items));
	for (size_t i = 0; i < n; i++)
		items[i].path = paths[i];
	return n;
}

static void test_pipe_in_order(void **state)
{
	struct fx *fx = *state;
	struct ingest_item items[GROUPS][PER_GROUP];
	char *paths[GROUPS][PER_GROUP] = { { NULL } };
	struct record r;
	struct ingest_pipe *pipe;

	memset(&r, 0, sizeof(r));
	assert_int_equal(ingest_pipe_open(&pipe, fx->repo, on_done, &r), 0);
	for (int g = 0; g < GROUPS; g++) {
		size_t n = fill_group(fx, items[g], paths[g], g);

		assert_int_equal(ingest_pipe_push(pipe, items[g], n, "pipe"), 0);
		/* Group g is in flight; every group before it has been handed back. */
		assert_int_equal(r.calls, g);
	}
	assert_int_equal(ingest_pipe_close(pipe), 0);
	assert_int_equal(r.calls, GROUPS);
	for (int g = 0; g < GROUPS; g++)
		assert_ptr_equal(r.order[g], items[g]);
	assert_int_equal(r.added, 6 * GROUPS);
	assert_int_equal(r.dups, GROUPS - 1);
	assert_int_equal(n_images(fx), 6 * GROUPS);
	assert_int_equal(testfs_entries(blob_tmp_dir(fx->repo->blobs)), 0);
	for (int g = 0; g < GROUPS; g++)
		for (int i = 0; i < PER_GROUP; i++)
			free(paths[g][i]);
}

static void test_pipe_failed_group(void **state)
{
#ifdef DSFS_FAULT_INJECTION
	struct fx *fx = *state;
	struct ingest_item items[3][PER_GROUP];
	char *paths[3][PER_GROUP] = { { NULL } };
	struct record r;
	struct ingest_pipe *pipe;
	size_t n;

	memset(&r, 0, sizeof(r));
	assert_int_equal(ingest_pipe_open(&pipe, fx->repo, on_done, &r), 0);
	n = fill_group(fx, items[0], paths[0], 0);
	/* Armed before the push: only the committer thread's transaction runs a statement. */
	fault_arm(FAULT_CATALOG_BUSY, 1);
	assert_int_equal(ingest_pipe_push(pipe, items[0], n, "pipe"), 0);
	n = fill_group(fx, items[1], paths[1], 1);
	/* This push hands back the failed group and reports its error. */
	assert_true(ingest_pipe_push(pipe, items[1], n, "pipe") < 0);
	fault_arm(FAULT_CATALOG_BUSY, 0);
	assert_int_equal(r.failed_groups, 1);
	assert_true(r.last_message[0] != '\0');
	/* The pipe goes on: the next groups succeed. */
	n = fill_group(fx, items[2], paths[2], 2);
	assert_int_equal(ingest_pipe_push(pipe, items[2], n, "pipe"), 0);
	assert_int_equal(ingest_pipe_close(pipe), 0);
	assert_int_equal(r.calls, 3);
	/* Groups 1 and 2 went in; group 1's repeat of group 0 is new, group 0 being lost. */
	assert_int_equal(r.added, 13);
	assert_int_equal(r.dups, 1);
	assert_int_equal(n_images(fx), 13);
	assert_int_equal(testfs_entries(blob_tmp_dir(fx->repo->blobs)), 0);
	for (int g = 0; g < 3; g++)
		for (int i = 0; i < PER_GROUP; i++)
			free(paths[g][i]);
#else
	(void)state;
	skip();
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_batch_outcomes, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_reasons, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_reject_long_names, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_pipe_in_order, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_pipe_failed_group, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
