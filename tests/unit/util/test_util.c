/*
 * Unit tests for util/buf, util/kv and util/fsutil.  As git's u-strbuf.c
 * does, the buffer tests re-check the documented invariants of struct buf
 * (ptr never NULL, ptr[len] == '\0', len < cap once allocated) after every
 * operation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/array.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/utf8.h"
#include "util/fsutil.h"
#include "util/kv.h"
#include "util/log.h"
#include "testfs.h"

/* ---- buf ---- */

static void check_buf(const struct buf *b)
{
	assert_non_null(b->ptr);
	assert_int_equal(b->ptr[b->len], '\0');
	if (b->cap)
		assert_true(b->len < b->cap);
	else
		assert_int_equal(b->len, 0);
}

/* A message that wraps the last one (err_set(.., "%s: %s", file, err_last())) keeps both. */
static void test_err_wraps_last(void **state)
{
	(void)state;
	err_clear();
	assert_int_equal(err_set(-EINVAL, "line %d, column %d: premature end of input", 149, 119), -EINVAL);
	assert_int_equal(err_set(-EINVAL, "%s: %s", "coco/trunc.json", err_last()), -EINVAL);
	assert_string_equal(err_last(), "coco/trunc.json: line 149, column 119: premature end of input");
	assert_int_equal(err_set(-EIO, "%s (%s)", err_last(), "again"), -EIO);
	assert_string_equal(err_msg(-EIO),
			    "coco/trunc.json: line 149, column 119: premature end of input (again)");
	err_clear();
	assert_string_equal(err_msg(-ENOENT), strerror(ENOENT));
}

static void test_utf8(void **state)
{
	(void)state;
	assert_true(utf8_valid(""));
	assert_true(utf8_valid("traffic light"));
	assert_true(utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x88"));  /* 2-, 3- and 4-byte forms */
	assert_false(utf8_valid("\xff\xfe"));
	assert_false(utf8_valid("\xc0\xaf"));          /* overlong '/' */
	assert_false(utf8_valid("\xe0\x80\xaf"));      /* overlong, 3 bytes */
	assert_false(utf8_valid("\xed\xa0\x80"));      /* a surrogate */
	assert_false(utf8_valid("\xf4\x90\x80\x80"));  /* past U+10FFFF */
	assert_false(utf8_valid("\xc3"));              /* cut short */
	assert_false(utf8_has_control("a b"));
	assert_true(utf8_has_control("a\tb"));
	assert_true(utf8_has_control("a\x7f"));
}

static void test_buf_invariants(void **state)
{
	struct buf b = BUF_INIT, c;
	char *p, big[5000];
	size_t len;

	(void)state;
	check_buf(&b);
	assert_string_equal(b.ptr, "");

	assert_int_equal(buf_puts(&b, "abc"), 0);
	check_buf(&b);
	assert_string_equal(b.ptr, "abc");
	assert_int_equal(buf_put(&b, "de\0f", 4), 0); /* embedded NUL kept in len */
	check_buf(&b);
	assert_int_equal(b.len, 7);
	assert_memory_equal(b.ptr, "abcde\0f", 7);

	buf_reset(&b);
	check_buf(&b);
	assert_int_equal(b.len, 0);
	assert_true(b.cap > 0); /* reset keeps the allocation */

	/* printf both within the current capacity and past it */
	assert_int_equal(buf_printf(&b, "%d-%s", 42, "x"), 0);
	check_buf(&b);
	assert_string_equal(b.ptr, "42-x");
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(buf_printf(&b, "[%s]", big), 0);
	check_buf(&b);
	assert_int_equal(b.len, 4 + 2 + sizeof(big) - 1);
	assert_int_equal(b.ptr[4], '[');
	assert_int_equal(b.ptr[b.len - 1], ']');

	/* grow reserves room without changing the contents */
	len = b.len;
	assert_int_equal(buf_grow(&b, 100000), 0);
	check_buf(&b);
	assert_int_equal(b.len, len);
	assert_true(b.cap >= len + 100000 + 1);
	/* an impossible size fails cleanly and leaves the buffer intact */
	assert_int_equal(buf_grow(&b, SIZE_MAX - 3), -ENOMEM);
	check_buf(&b);
	assert_int_equal(b.len, len);

	p = buf_detach(&b, &len);
	check_buf(&b);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	assert_int_equal(len, 4 + 2 + sizeof(big) - 1);
	assert_memory_equal(p, "42-x[", 5);
	free(p);

	/* detaching an empty, never-allocated buffer still gives a free()able "" */
	p = buf_detach(&b, &len);
	assert_non_null(p);
	assert_string_equal(p, "");
	assert_int_equal(len, 0);
	assert_true(p != buf_empty);
	free(p);
	check_buf(&b);

	/* release on an empty buffer is a no-op, and the buffer stays usable */
	buf_release(&b);
	check_buf(&b);
	assert_int_equal(buf_puts(&b, "again"), 0);
	check_buf(&b);
	buf_release(&b);
	check_buf(&b);
	assert_true(b.ptr == buf_empty);

	buf_init(&c);
	check_buf(&c);
	assert_int_equal(buf_printf(&c, "%s", ""), 0);
	check_buf(&c);
	buf_release(&c);
	/* the shared empty string was never written */
	assert_int_equal(buf_empty[0], '\0');
}

static void test_buf_many_appends(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	for (int i = 0; i < 10000; i++) {
		assert_int_equal(buf_printf(&b, "%d,", i % 10), 0);
		check_buf(&b);
	}
	assert_int_equal(b.len, 20000);
	for (size_t i = 0; i < b.len; i += 2)
		assert_int_equal(b.ptr[i], '0' + (int)((i / 2) % 10));
	buf_release(&b);
}

/* ---- kv ---- */

static void test_kv_parse(void **state)
{
	struct kv kv = KV_INIT;

	(void)state;
	assert_int_equal(kv_parse(&kv, "label_set=default size=50 message=first labels here"), 0);
	assert_int_equal(kv.n, 3);
	assert_string_equal(kv_get(&kv, "label_set", NULL), "default");
	assert_string_equal(kv_get(&kv, "size", NULL), "50");
	/* words without '=' continue the previous value */
	assert_string_equal(kv_get(&kv, "message", NULL), "first labels here");
	assert_string_equal(kv_get(&kv, "absent", "dflt"), "dflt");
	kv_release(&kv);
	assert_int_equal(kv.n, 0);
	assert_null(kv.items);

	/* quoted values keep their spaces; empty value; surrounding blanks */
	assert_int_equal(kv_parse(&kv, "  a=\"x  y\"   b=   c=\"\"  \n"), 0);
	assert_string_equal(kv_get(&kv, "a", NULL), "x  y");
	assert_string_equal(kv_get(&kv, "b", NULL), "");
	assert_string_equal(kv_get(&kv, "c", NULL), "");
	kv_release(&kv);

	/* kv_set replaces a value (a line that repeats a key is refused: test_kv_errors) */
	assert_int_equal(kv_parse(&kv, "k=2"), 0);
	assert_int_equal(kv.n, 1);
	assert_string_equal(kv_get(&kv, "k", NULL), "2");
	assert_int_equal(kv_set(&kv, "k", "3"), 0);
	assert_int_equal(kv_set(&kv, "new", "v"), 0);
	assert_int_equal(kv.n, 2);
	assert_string_equal(kv_get(&kv, "k", NULL), "3");
	assert_string_equal(kv_get(&kv, "new", NULL), "v");
	kv_release(&kv);

	/* an empty line is no pairs, not an error */
	assert_int_equal(kv_parse(&kv, ""), 0);
	assert_int_equal(kv.n, 0);
	assert_int_equal(kv_parse(&kv, "   \t\n"), 0);
	assert_int_equal(kv.n, 0);
	kv_release(&kv);
}

static void test_kv_errors(void **state)
{
	struct kv kv = KV_INIT;

	(void)state;
	/* a leading word with nothing to continue */
	err_clear();
	assert_int_equal(kv_parse(&kv, "hello size=3"), -EINVAL);
	assert_non_null(strstr(err_last(), "hello"));
	kv_release(&kv);

	err_clear();
	assert_int_equal(kv_parse(&kv, "good=1 ba$d=2"), -EINVAL);
	assert_non_null(strstr(err_last(), "ba$d"));
	kv_release(&kv);

	/* a key given twice: which one was meant is not guessed */
	err_clear();
	assert_int_equal(kv_parse(&kv, "size=3 label_set=a size=4"), -EINVAL);
	assert_non_null(strstr(err_last(), "size= given twice"));
	kv_release(&kv);

	/* dashes and underscores are fine in keys */
	assert_int_equal(kv_parse(&kv, "dry-run=1 label_set=x"), 0);
	assert_int_equal(kv.n, 2);
	kv_release(&kv);
}

static void test_kv_get_int(void **state)
{
	struct kv kv = KV_INIT;
	int64_t v;

	(void)state;
	assert_int_equal(kv_parse(&kv, "n=50 neg=-5 word=abc tail=5x empty= big=99999999999999999999"),
			 0);
	assert_int_equal(kv_get_int(&kv, "n", 0, 1, 100, &v), 0);
	assert_int_equal(v, 50);
	/* boundaries are inclusive */
	assert_int_equal(kv_get_int(&kv, "n", 0, 50, 50, &v), 0);
	assert_int_equal(v, 50);
	err_clear();
	assert_int_equal(kv_get_int(&kv, "n", 0, 51, 100, &v), -EINVAL);
	assert_non_null(strstr(err_last(), "n=50"));
	assert_int_equal(kv_get_int(&kv, "n", 0, 0, 49, &v), -EINVAL);
	assert_int_equal(kv_get_int(&kv, "neg", 0, -10, 10, &v), 0);
	assert_int_equal(v, -5);
	assert_int_equal(kv_get_int(&kv, "neg", 0, 0, 10, &v), -EINVAL);
	assert_int_equal(kv_get_int(&kv, "word", 0, 0, 10, &v), -EINVAL);
	assert_int_equal(kv_get_int(&kv, "tail", 0, 0, 10, &v), -EINVAL);
	assert_int_equal(kv_get_int(&kv, "empty", 0, 0, 10, &v), -EINVAL);
	assert_int_equal(kv_get_int(&kv, "big", 0, INT64_MIN, INT64_MAX, &v), -EINVAL);
	/* absent: the default, even outside the range (the caller chose it) */
	v = 0;
	assert_int_equal(kv_get_int(&kv, "absent", 7, 0, 10, &v), 0);
	assert_int_equal(v, 7);
	kv_release(&kv);
}

static void test_kv_check(void **state)
{
	static const char *const allowed[] = { "label_set", "size", NULL };
	struct kv kv = KV_INIT;

	(void)state;
	assert_int_equal(kv_parse(&kv, "label_set=a size=3"), 0);
	assert_int_equal(kv_check(&kv, "batch", allowed), 0);
	kv_release(&kv);

	assert_int_equal(kv_parse(&kv, "size=3 colour=red"), 0);
	err_clear();
	assert_int_equal(kv_check(&kv, "batch", allowed), -EINVAL);
	assert_non_null(strstr(err_last(), "batch"));
	assert_non_null(strstr(err_last(), "colour"));
	/* the message lists what is allowed */
	assert_non_null(strstr(err_last(), "label_set="));
	assert_non_null(strstr(err_last(), "size="));
	kv_release(&kv);
}

/* ---- fsutil ---- */

struct fx {
	char dir[64];
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	if (testfs_tmpdir(fx->dir, sizeof(fx->dir), "test-util") < 0) {
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	fs_rm_rf(fx->dir);
	free(fx);
	return 0;
}


static void test_fs_atomic_write(void **state)
{
	struct fx *fx = *state;
	char path[PATH_MAX];
	struct buf b = BUF_INIT;
	struct stat st;

	snprintf(path, sizeof(path), "%s/file.txt", fx->dir);
	assert_int_equal(fs_write_file_atomic(path, "first\n", 6, 0644), 0);
	assert_int_equal(fs_read_file(&b, path), 0);
	assert_string_equal(b.ptr, "first\n");
	buf_reset(&b);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 6);

	/* replace: new contents, and no temporary file left beside it */
	assert_int_equal(fs_write_file_atomic(path, "second version\n", 15, 0600), 0);
	assert_int_equal(fs_read_file(&b, path), 0);
	assert_string_equal(b.ptr, "second version\n");
	buf_reset(&b);
	assert_int_equal(testfs_entries(fx->dir), 1);

	/* empty file */
	assert_int_equal(fs_write_file_atomic(path, "", 0, 0644), 0);
	assert_int_equal(fs_read_file(&b, path), 0);
	assert_int_equal(b.len, 0);
	check_buf(&b);

	/* fs_read_file appends */
	assert_int_equal(buf_puts(&b, "pre:"), 0);
	assert_int_equal(fs_write_file_atomic(path, "x", 1, 0644), 0);
	assert_int_equal(fs_read_file(&b, path), 0);
	assert_string_equal(b.ptr, "pre:x");
	buf_release(&b);

	/* into a missing directory: an error, the message names the path */
	snprintf(path, sizeof(path), "%s/no/such/dir/f", fx->dir);
	err_clear();
	assert_int_equal(fs_write_file_atomic(path, "x", 1, 0644), -ENOENT);
	assert_non_null(strstr(err_last(), "no/such/dir"));
	assert_int_equal(fs_read_file(&b, path), -ENOENT);
	check_buf(&b);
	buf_release(&b);
}

static void test_fs_mkdir_p_rm_rf(void **state)
{
	struct fx *fx = *state;
	char path[PATH_MAX], f[PATH_MAX + 16], top[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/a/b/c/d", fx->dir);
	assert_int_equal(fs_mkdir_p(path, 0755), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* existing: fine; trailing slash: fine */
	assert_int_equal(fs_mkdir_p(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/a/b/e/", fx->dir);
	assert_int_equal(fs_mkdir_p(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/a/b/e", fx->dir);
	assert_int_equal(stat(path, &st), 0);

	/* a file in the way */
	snprintf(f, sizeof(f), "%s/a/file", fx->dir);
	assert_int_equal(fs_write_file_atomic(f, "x", 1, 0644), 0);
	snprintf(path, sizeof(path), "%s/a/file/sub", fx->dir);
	assert_true(fs_mkdir_p(path, 0755) < 0);

	/* rm -rf removes a tree with files, read-only files included */
	snprintf(f, sizeof(f), "%s/a/b/c/d/ro", fx->dir);
	assert_int_equal(fs_write_file_atomic(f, "x", 1, 0444), 0);
	snprintf(top, sizeof(top), "%s/a", fx->dir);
	assert_int_equal(fs_rm_rf(top), 0);
	assert_int_equal(stat(top, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(testfs_entries(fx->dir), 0);
	/* missing is not an error */
	assert_int_equal(fs_rm_rf(top), 0);

	/* a single file */
	snprintf(f, sizeof(f), "%s/lone", fx->dir);
	assert_int_equal(fs_write_file_atomic(f, "x", 1, 0644), 0);
	assert_int_equal(fs_rm_rf(f), 0);
	assert_int_equal(access(f, F_OK), -1);
}

/*
 * The same line logged several times in a row (one failure met by several
 * requests) is written once, then counted; the count comes out before the
 * next different line.  (The three calls are microseconds apart, well
 * inside the 2 s window; the invariant checked is that nothing is lost.)
 */
static void test_log_repeats(void **state)
{
	FILE *f = tmpfile();
	char line[512];
	unsigned same = 0, repeated = 0, other = 0, n;

	(void)state;
	assert_non_null(f);
	log_set_sink(f);
	for (int i = 0; i < 3; i++)
		log_write(LOG_WARNING, "read %s: remote gone", "x.jpg");
	log_write(LOG_WARNING, "something else");
	log_set_sink(NULL);
	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		const char *p;

		if (strstr(line, "dsfs warning: read x.jpg: remote gone\n"))
			same++;
		else if ((p = strstr(line, "dsfs warning: last message repeated ")) &&
			 sscanf(p + strlen("dsfs warning: last message repeated "), "%u", &n) == 1)
			repeated += n;
		else if (strstr(line, "dsfs warning: something else\n"))
			other++;
		else
			fail_msg("unexpected log line: %s", line);
	}
	fclose(f);
	assert_int_equal(same + repeated, 3);
	assert_true(same < 3);
	assert_int_equal(other, 1);
}

static void test_fs_misc(void **state)
{
	char ts[32];

	(void)state;
	fs_iso8601(ts, sizeof(ts), 1700000000);
	assert_string_equal(ts, "2023-11-14T22:13:20Z");
	fs_iso8601(ts, sizeof(ts), 0);
	assert_int_equal(strlen(ts), 20);
	assert_int_equal(ts[19], 'Z');
	assert_string_equal(fs_basename("/a/b/c.txt"), "c.txt");
	assert_string_equal(fs_basename("c.txt"), "c.txt");
	assert_string_equal(fs_basename("/a/b/"), "");
}

/* array_grow: room for element n, doubling; contents kept; an impossible size refused. */
static void test_array_grow(void **state)
{
	int *v = NULL;
	size_t cap = 0, n;
	char *big = NULL;
	size_t big_cap = 0;

	(void)state;
	for (n = 0; n < 1000; n++) {
		assert_int_equal(array_grow((void **)&v, &cap, n, sizeof(*v)), 0);
		assert_true(cap > n);
		v[n] = (int)n;
	}
	for (n = 0; n < 1000; n++)
		assert_int_equal(v[n], (int)n);
	assert_int_equal(cap, 1024); /* 16 doubled six times */
	assert_int_equal(array_grow((void **)&v, &cap, 5000, sizeof(*v)), 0); /* far past the end */
	assert_int_equal(cap, 8192);
	assert_int_equal(v[999], 999);
	assert_int_equal(array_grow((void **)&big, &big_cap, SIZE_MAX / 2, 4), -ENOMEM);
	assert_null(big);
	assert_int_equal(big_cap, 0);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_err_wraps_last),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_array_grow),
		cmocka_unit_test(test_buf_invariants),
		cmocka_unit_test(test_buf_many_appends),
		cmocka_unit_test(test_kv_parse),
		cmocka_unit_test(test_kv_errors),
		cmocka_unit_test(test_kv_get_int),
		cmocka_unit_test(test_kv_check),
		cmocka_unit_test_setup_teardown(test_fs_atomic_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fs_mkdir_p_rm_rf, setup, teardown),
		cmocka_unit_test(test_fs_misc),
		cmocka_unit_test(test_log_repeats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
