/*
 * Unit tests for store/blob: each test gets a fresh dataset directory
 * (mkdtemp) and checks the on-disk result, not just return codes: how many
 * files exist under objects/ and tmp/, their mode, their bytes.  Assertions
 * run on the main thread only (cmocka longjmps); worker threads record what
 * they saw and the main thread checks it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/blob.h"
#include "util/err.h"
#include "util/fault.h"
#include "util/fsutil.h"
#include "testfs.h"

struct fx {
	char dir[64];
	struct blob_store *store;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	if (testfs_tmpdir(fx->dir, sizeof(fx->dir), "test-blob") < 0 || blob_store_open(&fx->store, fx->dir) < 0) {
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	blob_store_free(fx->store);
	fs_rm_rf(fx->dir);
	free(fx);
	return 0;
}

/* ---- helpers ---- */

/* Regular files anywhere under `sub` of the dataset. */
static int count_files(struct fx *fx, const char *sub)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", fx->dir, sub);
	return testfs_files(path);
}

/* Entries of any kind directly in `sub` (to check objects/ is truly empty). */
static int count_entries(struct fx *fx, const char *sub)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", fx->dir, sub);
	return testfs_entries(path);
}

static void fill_random(unsigned char *p, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)(x >> 24);
	}
}

/* Read the whole blob into a malloc'ed buffer; *len_out gets its size. */
static unsigned char *read_blob(struct fx *fx, const struct blob_id *id, size_t *len_out)
{
	struct buf b = BUF_INIT;
	char path[PATH_MAX];

	assert_int_equal(blob_path(path, sizeof(path), fx->store, id), 0);
	assert_int_equal(fs_read_file(&b, path), 0);
	return (unsigned char *)buf_detach(&b, len_out);
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* ---- ids ---- */

static void test_id_hex_parse(void **state)
{
	struct blob_id id, back;
	char hex[BLOB_HEX_LEN + 1], upper[BLOB_HEX_LEN + 1];

	(void)state;
	blob_id_of(&id, "hello", 5);
	blob_id_hex(hex, &id);
	assert_int_equal(strlen(hex), BLOB_HEX_LEN);
	for (int i = 0; i < BLOB_HEX_LEN; i++)
		assert_non_null(strchr("0123456789abcdef", hex[i]));
	assert_int_equal(blob_id_parse(&back, hex), 0);
	assert_memory_equal(back.b, id.b, 16);
	for (int i = 0; i <= BLOB_HEX_LEN; i++)
		upper[i] = (char)(hex[i] >= 'a' ? hex[i] - 32 : hex[i]);
	assert_int_equal(blob_id_parse(&back, upper), 0);
	assert_memory_equal(back.b, id.b, 16);

	/* Canonical order: the high 64 bits of the XXH3-128 come first.  This is the
	 * published XXH3-128 of the empty input (xxhsum -H2 of /dev/null). */
	blob_id_of(&id, "", 0);
	blob_id_hex(hex, &id);
	assert_string_equal(hex, "99aa06d3014798d86001c324468d497f");

	assert_int_equal(blob_id_parse(&back, "0123"), -EINVAL);
	assert_int_equal(blob_id_parse(&back, "99aa06d3014798d86001c324468d497"), -EINVAL);
	assert_int_equal(blob_id_parse(&back, "99aa06d3014798d86001c324468d497f0"), -EINVAL);
	assert_int_equal(blob_id_parse(&back, "99aa06d3014798d86001c324468d497g"), -EINVAL);
	assert_int_equal(blob_id_parse(&back, ""), -EINVAL);
}

/* ---- put / get ---- */

static void test_put_get(void **state)
{
	struct fx *fx = *state;
	struct blob_id id, want;
	char path[PATH_MAX], hex[BLOB_HEX_LEN + 1], expect[PATH_MAX], got[16] = { 0 };
	struct stat st;
	int fd;

	blob_id_of(&want, "hello", 5);
	assert_int_equal(blob_exists(fx->store, &want), 0);
	assert_int_equal(blob_put_buf(&id, fx->store, "hello", 5), 0);
	assert_memory_equal(id.b, want.b, 16);
	assert_int_equal(blob_exists(fx->store, &id), 1);

	/* Layout: objects/ab/cd/<hex>, mode 0444 */
	blob_id_hex(hex, &id);
	snprintf(expect, sizeof(expect), "%s/objects/%.2s/%.2s/%s", fx->dir, hex, hex + 2, hex);
	assert_int_equal(blob_path(path, sizeof(path), fx->store, &id), 0);
	assert_string_equal(path, expect);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0444);
	assert_int_equal(st.st_size, 5);

	assert_int_equal(blob_open(&fd, fx->store, &id), 0);
	assert_int_equal(read(fd, got, sizeof(got)), 5);
	assert_memory_equal(got, "hello", 5);
	/* read-only descriptor */
	assert_int_equal(write(fd, "x", 1), -1);
	close(fd);
	assert_int_equal(blob_verify(fx->store, &id), 0);
	assert_int_equal(count_files(fx, "tmp"), 0);

	/* blob_path refuses a buffer that is too small */
	assert_int_equal(blob_path(path, 10, fx->store, &id), -ENAMETOOLONG);
}

static void test_missing(void **state)
{
	struct fx *fx = *state;
	struct blob_id id;
	int fd = 123;

	blob_id_of(&id, "absent", 6);
	assert_int_equal(blob_open(&fd, fx->store, &id), -ENOENT);
	assert_int_equal(fd, -1);
	assert_int_equal(blob_verify(fx->store, &id), -ENOENT);
	assert_int_equal(blob_exists(fx->store, &id), 0);
}

static void test_empty_blob(void **state)
{
	struct fx *fx = *state;
	struct blob_id id;
	uint64_t size = 99;
	int fds[2];

	assert_int_equal(pipe(fds), 0);
	close(fds[1]);
	assert_int_equal(blob_put_fd(&id, &size, fx->store, fds[0]), 0);
	close(fds[0]);
	assert_int_equal(size, 0);
	assert_int_equal(blob_exists(fx->store, &id), 1);
	assert_int_equal(blob_verify(fx->store, &id), 0);
}

static void test_dedup(void **state)
{
	struct fx *fx = *state;
	unsigned char data[10000];
	struct blob_id a, b, c;
	char path[PATH_MAX];
	struct stat st1, st2;
	uint64_t size;
	int fd;

	fill_random(data, sizeof(data), 1);
	assert_int_equal(blob_put_buf(&a, fx->store, data, sizeof(data)), 0);
	assert_int_equal(blob_path(path, sizeof(path), fx->store, &a), 0);
	assert_int_equal(stat(path, &st1), 0);

	/* same bytes through the buffer path and through the fd path */
	assert_int_equal(blob_put_buf(&b, fx->store, data, sizeof(data)), 0);
	snprintf(path, sizeof(path), "%s/src", fx->dir);
	write_file(path, data, sizeof(data), 0644);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	assert_int_equal(blob_put_fd(&c, &size, fx->store, fd), 0);
	close(fd);
	unlink(path);

	assert_memory_equal(a.b, b.b, 16);
	assert_memory_equal(a.b, c.b, 16);
	assert_int_equal(size, sizeof(data));
	assert_int_equal(count_files(fx, "objects"), 1);
	assert_int_equal(count_files(fx, "tmp"), 0);
	/* the stored file was not replaced */
	assert_int_equal(blob_path(path, sizeof(path), fx->store, &a), 0);
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
}

/* Put a file under the name of the hash of `real` that holds `planted`. */
static void plant(struct fx *fx, const struct blob_id *id, const char *planted, char *path_out)
{
	char hex[BLOB_HEX_LEN + 1], d[PATH_MAX];

	blob_id_hex(hex, id);
	snprintf(d, sizeof(d), "%s/objects/%.2s/%.2s", fx->dir, hex, hex + 2);
	assert_int_equal(fs_mkdir_p(d, 0755), 0);
	assert_int_equal(blob_path(path_out, PATH_MAX, fx->store, id), 0);
	write_file(path_out, planted, strlen(planted), 0444);
}

static void assert_file_is(const char *path, const char *content)
{
	struct buf b = BUF_INIT;

	assert_int_equal(fs_read_file(&b, path), 0);
	assert_string_equal(b.ptr, content);
	buf_release(&b);
}

static void test_collision_guard(void **state)
{
	struct fx *fx = *state;
	const char *real = "the real bytes", *planted = "PLANTED different bytes";
	char path[PATH_MAX], spool[PATH_MAX];
	struct blob_id id, out;
	uint64_t size;
	int fds[2];

	blob_id_of(&id, real, strlen(real));
	plant(fx, &id, planted, path);

	err_clear();
	assert_int_equal(blob_put_buf(&out, fx->store, real, strlen(real)), -EEXIST);
	assert_non_null(strstr(err_last(), "collision"));
	assert_non_null(strstr(err_last(), path));
	assert_file_is(path, planted);

	/* the streaming path: same refusal, and no tmp file left behind */
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], real, strlen(real)), (ssize_t)strlen(real));
	close(fds[1]);
	assert_int_equal(blob_put_fd(&out, &size, fx->store, fds[0]), -EEXIST);
	close(fds[0]);
	assert_file_is(path, planted);
	assert_int_equal(count_files(fx, "tmp"), 0);

	/* adopting a spooled file: refused, and the caller's file is left alone */
	snprintf(spool, sizeof(spool), "%s/upload", blob_tmp_dir(fx->store));
	write_file(spool, real, strlen(real), 0600);
	assert_int_equal(blob_put_tmpfile(fx->store, spool, &id), -EEXIST);
	assert_file_is(path, planted);
	assert_file_is(spool, real);
	assert_int_equal(count_files(fx, "objects"), 1);

	/* and blob_verify reports the planted file as corrupt */
	assert_int_equal(blob_verify(fx->store, &id), -EIO);
}

static void test_put_tmpfile(void **state)
{
	struct fx *fx = *state;
	char spool[PATH_MAX], path[PATH_MAX];
	const char *data = "spooled upload";
	struct blob_id id;
	struct stat st;

	blob_id_of(&id, data, strlen(data));
	snprintf(spool, sizeof(spool), "%s/upload-1", blob_tmp_dir(fx->store));
	write_file(spool, data, strlen(data), 0600);
	assert_int_equal(blob_put_tmpfile(fx->store, spool, &id), 0);
	assert_int_equal(access(spool, F_OK), -1);
	assert_int_equal(blob_path(path, sizeof(path), fx->store, &id), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0444);
	assert_file_is(path, data);

	/* the same bytes again: dedup, the spooled file is removed */
	write_file(spool, data, strlen(data), 0600);
	assert_int_equal(blob_put_tmpfile(fx->store, spool, &id), 0);
	assert_int_equal(access(spool, F_OK), -1);
	assert_int_equal(count_files(fx, "objects"), 1);
	assert_int_equal(count_files(fx, "tmp"), 0);

	assert_int_equal(blob_put_tmpfile(fx->store, spool, &id), -ENOENT);
}

static void test_crash_before_rename(void **state)
{
#ifdef DSFS_FAULT_INJECTION
	struct fx *fx = *state;
	unsigned char data[5000];
	struct blob_id id, want;
	int fd;

	fill_random(data, sizeof(data), 7);
	blob_id_of(&want, data, sizeof(data));
	fault_arm(FAULT_BLOB_BEFORE_RENAME, 1);
	assert_int_equal(blob_put_buf(&id, fx->store, data, sizeof(data)), -EIO);
	/* what a crash leaves: nothing at all under objects/, the tmp file in tmp/ */
	assert_int_equal(count_entries(fx, "objects"), 0);
	assert_int_equal(count_files(fx, "tmp"), 1);
	assert_int_equal(blob_exists(fx->store, &want), 0);
	assert_int_equal(blob_open(&fd, fx->store, &want), -ENOENT);

	/* the streaming path too */
	{
		char src[PATH_MAX];
		uint64_t size;

		snprintf(src, sizeof(src), "%s/src", fx->dir);
		write_file(src, data, sizeof(data), 0644);
		assert_true((fd = open(src, O_RDONLY)) >= 0);
		fault_arm(FAULT_BLOB_BEFORE_RENAME, 1);
		assert_int_equal(blob_put_fd(&id, &size, fx->store, fd), -EIO);
		close(fd);
		unlink(src);
		assert_int_equal(count_entries(fx, "objects"), 0);
		assert_int_equal(count_files(fx, "tmp"), 2);
	}

	/* recovery: the sweep removes the leftovers, a retry succeeds */
	assert_int_equal(blob_store_sweep_tmp(fx->store), 2);
	assert_int_equal(count_files(fx, "tmp"), 0);
	assert_int_equal(blob_put_buf(&id, fx->store, data, sizeof(data)), 0);
	assert_memory_equal(id.b, want.b, 16);
	assert_int_equal(blob_verify(fx->store, &id), 0);
	assert_int_equal(count_files(fx, "objects"), 1);
#else
	(void)state;
	skip();
#endif
}

static void test_write_enospc(void **state)
{
#ifdef DSFS_FAULT_INJECTION
	struct fx *fx = *state;
	unsigned char *data = malloc(3 << 20);
	struct blob_id id;
	uint64_t size;
	int fds[2];

	assert_non_null(data);
	fill_random(data, 3 << 20, 3);
	fault_arm(FAULT_BLOB_WRITE, 1);
	assert_int_equal(blob_put_buf(&id, fx->store, data, 3 << 20), -ENOSPC);
	assert_int_equal(count_entries(fx, "objects"), 0);
	assert_int_equal(count_files(fx, "tmp"), 0);

	/* the streaming path: the spooled part is removed too */
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], data, 4096), 4096);
	close(fds[1]);
	fault_arm(FAULT_BLOB_WRITE, 1);
	assert_int_equal(blob_put_fd(&id, &size, fx->store, fds[0]), -ENOSPC);
	close(fds[0]);
	assert_int_equal(count_entries(fx, "objects"), 0);
	assert_int_equal(count_files(fx, "tmp"), 0);
	free(data);
#else
	(void)state;
	skip();
#endif
}

/* ---- streaming ---- */

struct feeder {
	int fd;
	const unsigned char *data;
	size_t len;
};

static void *feed(void *arg)
{
	struct feeder *f = arg;
	size_t off = 0;

	/* odd-sized writes so the reader sees short reads */
	while (off < f->len) {
		size_t n = f->len - off < 12345 ? f->len - off : 12345;
		ssize_t w = write(f->fd, f->data + off, n);

		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(f->fd);
	return NULL;
}

static void test_put_from_pipe(void **state)
{
	struct fx *fx = *state;
	size_t len = (3u << 20) + 777;
	unsigned char *data = malloc(len), *back;
	struct feeder f;
	struct blob_id id, want;
	pthread_t t;
	uint64_t size = 0;
	size_t blen;
	int fds[2];

	assert_non_null(data);
	fill_random(data, len, 42);
	blob_id_of(&want, data, len);
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(lseek(fds[0], 0, SEEK_CUR), -1); /* really not seekable */
	f = (struct feeder){ fds[1], data, len };
	assert_int_equal(pthread_create(&t, NULL, feed, &f), 0);
	assert_int_equal(blob_put_fd(&id, &size, fx->store, fds[0]), 0);
	pthread_join(t, NULL);
	close(fds[0]);
	assert_int_equal(size, len);
	assert_memory_equal(id.b, want.b, 16);
	back = read_blob(fx, &id, &blen);
	assert_int_equal(blen, len);
	assert_memory_equal(back, data, len);
	free(back);
	free(data);
}

static void test_large_blob(void **state)
{
	struct fx *fx = *state;
	size_t len = 50u << 20;
	unsigned char *data = malloc(len), *back;
	char src[PATH_MAX];
	struct blob_id id, want;
	uint64_t size;
	size_t blen;
	int fd;

	assert_non_null(data);
	fill_random(data, len, 50);
	blob_id_of(&want, data, len);
	snprintf(src, sizeof(src), "%s/large", fx->dir);
	write_file(src, data, len, 0644);
	assert_true((fd = open(src, O_RDONLY)) >= 0);
	assert_int_equal(blob_put_fd(&id, &size, fx->store, fd), 0);
	close(fd);
	unlink(src);
	assert_int_equal(size, len);
	assert_memory_equal(id.b, want.b, 16);
	assert_int_equal(blob_verify(fx->store, &id), 0);
	back = read_blob(fx, &id, &blen);
	assert_int_equal(blen, len);
	assert_memory_equal(back, data, len);
	free(back);
	free(data);
}

/* ---- verify, foreach ---- */

static void test_verify_flipped_byte(void **state)
{
	struct fx *fx = *state;
	unsigned char data[4096], c;
	char path[PATH_MAX], hex[BLOB_HEX_LEN + 1];
	struct blob_id id;
	int fd;

	fill_random(data, sizeof(data), 9);
	assert_int_equal(blob_put_buf(&id, fx->store, data, sizeof(data)), 0);
	assert_int_equal(blob_verify(fx->store, &id), 0);
	assert_int_equal(blob_path(path, sizeof(path), fx->store, &id), 0);
	assert_int_equal(chmod(path, 0644), 0);
	assert_true((fd = open(path, O_RDWR)) >= 0);
	c = data[1000] ^ 0x01;
	assert_int_equal(pwrite(fd, &c, 1, 1000), 1);
	close(fd);
	err_clear();
	assert_int_equal(blob_verify(fx->store, &id), -EIO);
	blob_id_hex(hex, &id);
	assert_non_null(strstr(err_last(), hex));
}

static int count_cb(const struct blob_id *id, void *payload)
{
	int *n = payload;

	(void)id;
	return ++*n == 5 ? 77 : 0;
}

struct seen {
	struct blob_id ids[32];
	int n;
};

static int collect_cb(const struct blob_id *id, void *payload)
{
	struct seen *s = payload;

	if (s->n < 32)
		s->ids[s->n] = *id;
	s->n++;
	return 0;
}

static void test_foreach(void **state)
{
	struct fx *fx = *state;
	struct blob_id ids[20];
	struct seen seen = { .n = 0 };
	char p[PATH_MAX], hex[BLOB_HEX_LEN + 1];
	int n = 0;

	for (int i = 0; i < 20; i++) {
		char data[32];

		snprintf(data, sizeof(data), "blob number %d", i);
		assert_int_equal(blob_put_buf(&ids[i], fx->store, data, strlen(data)), 0);
	}
	/* junk that is not a blob: skipped */
	snprintf(p, sizeof(p), "%s/objects/README", fx->dir);
	write_file(p, "x", 1, 0644);
	snprintf(p, sizeof(p), "%s/objects/zz", fx->dir);
	assert_int_equal(mkdir(p, 0755), 0);
	blob_id_hex(hex, &ids[0]);
	snprintf(p, sizeof(p), "%s/objects/%.2s/%.2s/not-a-blob", fx->dir, hex, hex + 2);
	write_file(p, "x", 1, 0644);
	/* a valid id name in the wrong shard */
	snprintf(p, sizeof(p), "%s/objects/%.2s/%.2s/%s", fx->dir, hex, hex + 2,
		 "00000000000000000000000000000000");
	write_file(p, "x", 1, 0644);

	assert_int_equal(blob_foreach(fx->store, collect_cb, &seen), 0);
	assert_int_equal(seen.n, 20);
	for (int i = 0; i < 20; i++) {
		int found = 0;

		for (int j = 0; j < seen.n; j++)
			found += !memcmp(seen.ids[j].b, ids[i].b, 16);
		assert_int_equal(found, 1);
	}
	/* a nonzero return stops the walk and is passed back */
	assert_int_equal(blob_foreach(fx->store, count_cb, &n), 77);
	assert_int_equal(n, 5);
}

/* ---- fetch hook ---- */

struct remote {
	char dir[64];
	const unsigned char *data;
	size_t len;
	atomic_int calls;
	int wrong;           /* serve different bytes */
};

static int fetch_hook(char *path_out, const char *tmp_dir, const struct blob_id *id, void *payload)
{
	struct remote *r = payload;
	int fd;

	(void)id;
	atomic_fetch_add(&r->calls, 1);
	/* make the fetch slow enough that the other openers pile up behind it */
	usleep(100 * 1000);
	snprintf(path_out, PATH_MAX, "%s/fetch-XXXXXX", tmp_dir);
	if ((fd = mkstemp(path_out)) < 0)
		return -errno;
	if (r->wrong) {
		if (write(fd, "wrong bytes", 11) != 11) {
			close(fd);
			return -EIO;
		}
	} else if (write(fd, r->data, r->len) != (ssize_t)r->len) {
		close(fd);
		return -EIO;
	}
	close(fd);
	return 0;
}

struct opener {
	struct blob_store *store;
	const struct blob_id *id;
	pthread_barrier_t *barrier;
	int rc;
	size_t got_len;
	unsigned char got[64];
};

static void *open_thread(void *arg)
{
	struct opener *o = arg;
	int fd;

	pthread_barrier_wait(o->barrier);
	o->rc = blob_open(&fd, o->store, o->id);
	if (o->rc == 0) {
		ssize_t n = read(fd, o->got, sizeof(o->got));

		o->got_len = n > 0 ? (size_t)n : 0;
		close(fd);
	}
	return NULL;
}

static void test_fetch_single_flight(void **state)
{
	struct fx *fx = *state;
	static const unsigned char data[] = "bytes that live on the remote";
	struct remote r = { .data = data, .len = sizeof(data) };
	struct opener o[8];
	pthread_t t[8];
	pthread_barrier_t barrier;
	struct blob_id id;

	blob_id_of(&id, data, sizeof(data));
	blob_store_set_fetch(fx->store, fetch_hook, &r);
	pthread_barrier_init(&barrier, NULL, 8);
	for (int i = 0; i < 8; i++) {
		o[i] = (struct opener){ .store = fx->store, .id = &id, .barrier = &barrier };
		assert_int_equal(pthread_create(&t[i], NULL, open_thread, &o[i]), 0);
	}
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&barrier);

	assert_int_equal(atomic_load(&r.calls), 1);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(o[i].rc, 0);
		assert_int_equal(o[i].got_len, sizeof(data));
		assert_memory_equal(o[i].got, data, sizeof(data));
	}
	assert_int_equal(blob_exists(fx->store, &id), 1);
	assert_int_equal(blob_verify(fx->store, &id), 0);
	assert_int_equal(count_files(fx, "tmp"), 0);

	/* present now: no further fetch */
	{
		int fd;

		assert_int_equal(blob_open(&fd, fx->store, &id), 0);
		close(fd);
		assert_int_equal(atomic_load(&r.calls), 1);
	}
}

static void test_fetch_wrong_bytes(void **state)
{
	struct fx *fx = *state;
	static const unsigned char data[] = "what we asked for";
	struct remote r = { .data = data, .len = sizeof(data), .wrong = 1 };
	struct opener o[3];
	pthread_t t[3];
	pthread_barrier_t barrier;
	struct blob_id id;

	blob_id_of(&id, data, sizeof(data));
	blob_store_set_fetch(fx->store, fetch_hook, &r);
	pthread_barrier_init(&barrier, NULL, 3);
	for (int i = 0; i < 3; i++) {
		o[i] = (struct opener){ .store = fx->store, .id = &id, .barrier = &barrier };
		assert_int_equal(pthread_create(&t[i], NULL, open_thread, &o[i]), 0);
	}
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&barrier);
	for (int i = 0; i < 3; i++)
		assert_int_equal(o[i].rc, -EIO);
	/* nothing stored, nothing left in tmp/ */
	assert_int_equal(blob_exists(fx->store, &id), 0);
	assert_int_equal(count_files(fx, "objects"), 0);
	assert_int_equal(count_files(fx, "tmp"), 0);

	/* without a hook a missing blob is just missing */
	{
		int fd;

		blob_store_set_fetch(fx->store, NULL, NULL);
		assert_int_equal(blob_open(&fd, fx->store, &id), -ENOENT);
	}
}

/* ---- concurrent puts ---- */

struct putter {
	struct blob_store *store;
	const unsigned char *data;
	size_t len;
	pthread_barrier_t *barrier;
	int streaming;
	int rc;
	struct blob_id id;
};

static void *put_thread(void *arg)
{
	struct putter *p = arg;
	int fds[2];

	pthread_barrier_wait(p->barrier);
	/* half through the buffer path, half streaming */
	if (!p->streaming) {
		p->rc = blob_put_buf(&p->id, p->store, p->data, p->len);
		return NULL;
	}
	if (pipe(fds) < 0) {
		p->rc = -errno;
		return NULL;
	}
	{
		struct feeder f = { fds[1], p->data, p->len };
		pthread_t t;

		pthread_create(&t, NULL, feed, &f);
		p->rc = blob_put_fd(&p->id, NULL, p->store, fds[0]);
		pthread_join(t, NULL);
		close(fds[0]);
	}
	return NULL;
}

static void test_concurrent_puts(void **state)
{
	struct fx *fx = *state;
	size_t len = 200000;
	unsigned char *data = malloc(len);
	struct putter p[6];
	pthread_t t[6];
	pthread_barrier_t barrier;
	struct blob_id want;

	assert_non_null(data);
	fill_random(data, len, 11);
	blob_id_of(&want, data, len);
	pthread_barrier_init(&barrier, NULL, 6);
	for (int i = 0; i < 6; i++) {
		p[i] = (struct putter){ .store = fx->store, .data = data, .len = len,
					.barrier = &barrier, .streaming = i & 1 };
		assert_int_equal(pthread_create(&t[i], NULL, put_thread, &p[i]), 0);
	}
	for (int i = 0; i < 6; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&barrier);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(p[i].rc, 0);
		assert_memory_equal(p[i].id.b, want.b, 16);
	}
	assert_int_equal(count_files(fx, "objects"), 1);
	assert_int_equal(count_files(fx, "tmp"), 0);
	assert_int_equal(blob_verify(fx->store, &want), 0);
	free(data);
}

/* A shard directory removed behind the store's back is made again. */
static void test_shard_removed(void **state)
{
	struct fx *fx = *state;
	struct blob_id id, again;
	char path[PATH_MAX], hex[BLOB_HEX_LEN + 1], shard[PATH_MAX];

	assert_int_equal(blob_put_buf(&id, fx->store, "shard test", 10), 0);
	assert_int_equal(blob_path(path, sizeof(path), fx->store, &id), 0);
	blob_id_hex(hex, &id);
	snprintf(shard, sizeof(shard), "%s/objects/%.2s", fx->dir, hex);
	assert_int_equal(fs_rm_rf(shard), 0);
	assert_int_not_equal(access(path, F_OK), 0);
	assert_int_equal(blob_put_buf(&again, fx->store, "shard test", 10), 0);
	assert_memory_equal(&id, &again, sizeof(id));
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(blob_verify(fx->store, &id), 0);
}

static void test_sweep_tmp(void **state)
{
	struct fx *fx = *state;
	char p[PATH_MAX];

	assert_int_equal(blob_store_sweep_tmp(fx->store), 0);
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/stale-%d", blob_tmp_dir(fx->store), i);
		write_file(p, "x", 1, 0600);
	}
	/* a closed upload waiting for the drop zone is kept */
	snprintf(p, sizeof(p), "%s/incoming-0001", blob_tmp_dir(fx->store));
	write_file(p, "x", 1, 0600);
	/* a crashed writer's spool directory goes, with its spools */
	char dir[PATH_MAX], spool[PATH_MAX];
	struct blob_id id;
	assert_int_equal(blob_spool_dir(dir, fx->store), 0);
	assert_int_equal(blob_spool_buf(spool, &id, fx->store, dir, "abc", 3), 0);
	assert_ptr_equal(strstr(spool, dir), spool);
	assert_int_equal(blob_spool_buf(spool, &id, fx->store, dir, "def", 3), 0);
	assert_int_equal(blob_store_sweep_tmp(fx->store), 5);
	assert_int_equal(count_entries(fx, "tmp"), 1);
	assert_int_equal(access(dir, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_hex_parse),
		cmocka_unit_test_setup_teardown(test_put_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_blob, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dedup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_collision_guard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_tmpfile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_before_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_enospc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_from_pipe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_blob, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_flipped_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_single_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_wrong_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_puts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep_tmp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shard_removed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
