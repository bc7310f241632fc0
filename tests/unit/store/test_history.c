/*
 * Unit tests for store/history: versions as tagged commits in a bare git
 * repository.  Every test works in its own mkdtemp() directory.  After each
 * operation check_invariants() re-checks what history.h promises: tags are
 * v1..vN without gaps, main (HEAD) is the newest tag, versions ascend.
 * Where the git command line is installed, it cross-checks what libgit2
 * wrote (log, tags, fsck, file contents).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/history.h"
#include "util/err.h"
#include "util/fault.h"
#include "util/fsutil.h"

struct fixture {
	char dir[64];
	char git_dir[128];
	struct history *h;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/dsfs-test-history-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->git_dir, sizeof(f->git_dir), "%s/git", f->dir);
	assert_int_equal(history_open(&f->h, f->git_dir), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	history_free(f->h);
	fs_rm_rf(f->dir);
	free(f);
	return 0;
}

#define FILE_(p, s) { (p), (s), sizeof(s) - 1 }

static const struct history_file files_a[] = {
	FILE_("images.tsv", "ab\tjpg\n"),
	FILE_("label_sets/default/classes.txt", "cat\ndog\n"),
	FILE_("label_sets/default/annotations.tsv", "ab\tcat\t0\t0\t1\t1\n"),
};

static const struct history_file files_b[] = {
	FILE_("images.tsv", "ab\tjpg\ncd\tpng\n"),
	FILE_("label_sets/default/classes.txt", "cat\ndog\n"),
	FILE_("label_sets/default/annotations.tsv", "ab\tcat\t0\t0\t1\t1\n"),
};

/* What history.h promises after every operation. */
static void check_invariants(struct history *h)
{
	struct history_version *v = NULL, head = HISTORY_VERSION_INIT;
	size_t n = 0;

	assert_int_equal(history_versions(&v, &n, h), 0);
	for (size_t i = 0; i < n; i++) {
		char tag[16];

		assert_int_equal(v[i].number, i + 1);
		snprintf(tag, sizeof(tag), "v%u", (unsigned)(i + 1));
		assert_string_equal(v[i].tag, tag);
		assert_int_equal(strlen(v[i].commit), 40);
		assert_non_null(v[i].message);
		assert_non_null(v[i].author);
	}
	if (n) {
		assert_int_equal(history_resolve(&head, h, "HEAD"), 0);
		assert_string_equal(head.commit, v[n - 1].commit);
		assert_int_equal(head.number, n);
		history_version_release(&head);
	} else {
		assert_int_equal(history_resolve(&head, h, "HEAD"), -ENOENT);
	}
	history_versions_free(v, n);
}

static size_t n_versions(struct history *h)
{
	struct history_version *v;
	size_t n;

	assert_int_equal(history_versions(&v, &n, h), 0);
	history_versions_free(v, n);
	return n;
}

static int have_git_cli(void)
{
	return system("git --version >/dev/null 2>&1") == 0;
}

/* Output of a shell command into `out` (NUL-terminated); returns the exit status. */
static int run(char *out, size_t outsz, const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	FILE *p;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, outsz - 1, p);
	out[n] = '\0';
	return pclose(p);
}

static void test_commit_versions(void **state)
{
	struct fixture *f = *state;
	struct history_version v1 = HISTORY_VERSION_INIT, v2 = HISTORY_VERSION_INIT, again;
	struct history_version *all;
	size_t n;
	struct stat st;
	char path[256];

	/* A fresh repository: bare, HEAD -> main, no versions. */
	snprintf(path, sizeof(path), "%s/HEAD", f->git_dir);
	assert_int_equal(stat(path, &st), 0);
	check_invariants(f->h);

	assert_int_equal(history_commit(&v1, f->h, files_a, 3, "first labels", "Ann", "ann@x.org"),
			 0);
	assert_int_equal(v1.number, 1);
	assert_string_equal(v1.tag, "v1");
	assert_string_equal(v1.message, "first labels");
	assert_string_equal(v1.author, "Ann <ann@x.org>");
	assert_true(v1.time > 1600000000);
	check_invariants(f->h);

	/* The same tree again: refused, nothing written. */
	err_clear();
	assert_int_equal(history_commit(&again, f->h, files_a, 3, "again", NULL, NULL), -EEXIST);
	assert_non_null(strstr(err_last(), "same as v1"));
	assert_int_equal(n_versions(f->h), 1);
	check_invariants(f->h);

	assert_int_equal(history_commit(&v2, f->h, files_b, 3, "more images", NULL, NULL), 0);
	assert_int_equal(v2.number, 2);
	assert_string_equal(v2.author, "dsfs <dsfs@localhost>");
	assert_string_not_equal(v1.commit, v2.commit);
	check_invariants(f->h);

	assert_int_equal(history_versions(&all, &n, f->h), 0);
	assert_int_equal(n, 2);
	assert_string_equal(all[0].commit, v1.commit);
	assert_string_equal(all[0].message, "first labels");
	assert_string_equal(all[1].commit, v2.commit);
	assert_string_equal(all[1].message, "more images");
	assert_true(all[1].time >= all[0].time);
	history_versions_free(all, n);

	/* The git command line sees an ordinary repository. */
	if (have_git_cli()) {
		char out[4096], expect[64];

		assert_int_equal(run(out, sizeof(out), "git --git-dir=%s log --oneline main | wc -l",
				     f->git_dir), 0);
		assert_int_equal(atoi(out), 2);
		assert_int_equal(run(out, sizeof(out), "git --git-dir=%s tag", f->git_dir), 0);
		assert_string_equal(out, "v1\nv2\n");
		assert_int_equal(run(out, sizeof(out), "git --git-dir=%s rev-parse v1 main",
				     f->git_dir), 0);
		snprintf(expect, sizeof(expect), "%s\n", v1.commit);
		assert_memory_equal(out, expect, 41);
		assert_memory_equal(out + 41, v2.commit, 40);
		assert_int_equal(run(out, sizeof(out), "git --git-dir=%s cat-file -p v2:images.tsv",
				     f->git_dir), 0);
		assert_string_equal(out, "ab\tjpg\ncd\tpng\n");
		assert_int_equal(run(out, sizeof(out), "git --git-dir=%s symbolic-ref HEAD",
				     f->git_dir), 0);
		assert_string_equal(out, "refs/heads/main\n");
		assert_int_equal(run(out, sizeof(out), "git --git-dir=%s fsck --strict 2>&1",
				     f->git_dir), 0);

		/* After git gc everything is packed: still readable, tags and all. */
		assert_int_equal(run(out, sizeof(out), "git --git-dir=%s gc -q --prune=now 2>&1",
				     f->git_dir), 0);
		history_free(f->h);
		assert_int_equal(history_open(&f->h, f->git_dir), 0);
		check_invariants(f->h);
		{
			struct buf b = BUF_INIT;
			struct history_version r;

			assert_int_equal(history_read(&b, f->h, v1.commit, "images.tsv"), 0);
			assert_string_equal(b.ptr, "ab\tjpg\n");
			buf_release(&b);
			snprintf(expect, sizeof(expect), "%.8s", v2.commit);
			assert_int_equal(history_resolve(&r, f->h, expect), 0);
			assert_int_equal(r.number, 2);
			history_version_release(&r);
		}
	}
	history_version_release(&v1);
	history_version_release(&v2);
}

static void test_bad_file_lists(void **state)
{
	struct fixture *f = *state;
	static const struct history_file dup[] = { FILE_("a", "1"), FILE_("a", "2") };
	static const struct history_file df[] = { FILE_("a", "1"), FILE_("a/b", "2") };
	static const struct history_file dotdot[] = { FILE_("../x", "1") };
	static const struct history_file abs[] = { FILE_("/x", "1") };
	static const struct history_file dslash[] = { FILE_("a//b", "1") };
	static const struct history_file trail[] = { FILE_("a/", "1") };
	struct history_version v = HISTORY_VERSION_INIT;

	assert_int_equal(history_commit(&v, f->h, dup, 2, "m", NULL, NULL), -EINVAL);
	assert_int_equal(history_commit(&v, f->h, df, 2, "m", NULL, NULL), -EINVAL);
	assert_int_equal(history_commit(&v, f->h, dotdot, 1, "m", NULL, NULL), -EINVAL);
	assert_int_equal(history_commit(&v, f->h, abs, 1, "m", NULL, NULL), -EINVAL);
	assert_int_equal(history_commit(&v, f->h, dslash, 1, "m", NULL, NULL), -EINVAL);
	assert_int_equal(history_commit(&v, f->h, trail, 1, "m", NULL, NULL), -EINVAL);
	assert_int_equal(n_versions(f->h), 0);
	check_invariants(f->h);
	/* An empty tree is a valid first version. */
	assert_int_equal(history_commit(&v, f->h, NULL, 0, "empty", NULL, NULL), 0);
	assert_int_equal(v.number, 1);
	history_version_release(&v);
	check_invariants(f->h);
}

/* Split a list_dir result into an array of names. */
static void expect_names(const struct buf *b, size_t n, const char *const *names, size_t n_exp)
{
	const char *p = b->ptr;

	assert_int_equal(n, n_exp);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(p, names[i]);
		p += strlen(p) + 1;
	}
	assert_ptr_equal(p, b->ptr + b->len);
}

static void test_read_list_stat(void **state)
{
	struct fixture *f = *state;
	struct history_version v1 = HISTORY_VERSION_INIT, v2 = HISTORY_VERSION_INIT;
	struct buf b = BUF_INIT;
	static const char *const root[] = { "images.tsv", "label_sets" };
	static const char *const ls[] = { "annotations.tsv", "classes.txt" };
	size_t n;
	uint64_t size = 99;
	int is_dir = -1;

	assert_int_equal(history_commit(&v1, f->h, files_a, 3, "one", NULL, NULL), 0);
	assert_int_equal(history_commit(&v2, f->h, files_b, 3, "two", NULL, NULL), 0);

	assert_int_equal(history_read(&b, f->h, v1.commit, "images.tsv"), 0);
	assert_string_equal(b.ptr, "ab\tjpg\n");
	buf_reset(&b);
	assert_int_equal(history_read(&b, f->h, v2.commit, "images.tsv"), 0);
	assert_string_equal(b.ptr, "ab\tjpg\ncd\tpng\n");
	buf_reset(&b);
	/* history_read appends. */
	assert_int_equal(history_read(&b, f->h, v1.commit, "label_sets/default/classes.txt"), 0);
	assert_int_equal(history_read(&b, f->h, v1.commit, "label_sets/default/classes.txt"), 0);
	assert_string_equal(b.ptr, "cat\ndog\ncat\ndog\n");
	buf_reset(&b);

	assert_int_equal(history_read(&b, f->h, v1.commit, "nope.txt"), -ENOENT);
	assert_int_equal(history_read(&b, f->h, v1.commit, "label_sets/nope/x"), -ENOENT);
	assert_int_equal(history_read(&b, f->h, v1.commit, "label_sets"), -EISDIR);
	assert_int_equal(history_read(&b, f->h, "0123456789012345678901234567890123456789", "x"),
			 -ENOENT);
	assert_int_equal(history_read(&b, f->h, "v1", "images.tsv"), -EINVAL);
	assert_int_equal(b.len, 0);

	assert_int_equal(history_list_dir(&b, &n, f->h, v1.commit, ""), 0);
	expect_names(&b, n, root, 2);
	buf_reset(&b);
	assert_int_equal(history_list_dir(&b, &n, f->h, v1.commit, "label_sets/default"), 0);
	expect_names(&b, n, ls, 2);
	buf_reset(&b);
	assert_int_equal(history_list_dir(&b, &n, f->h, v1.commit, "images.tsv"), -ENOTDIR);
	assert_int_equal(history_list_dir(&b, &n, f->h, v1.commit, "nope"), -ENOENT);

	assert_int_equal(history_stat(f->h, v2.commit, "images.tsv", &is_dir, &size), 0);
	assert_int_equal(is_dir, 0);
	assert_int_equal(size, strlen("ab\tjpg\ncd\tpng\n"));
	assert_int_equal(history_stat(f->h, v2.commit, "label_sets", &is_dir, &size), 0);
	assert_int_equal(is_dir, 1);
	assert_int_equal(history_stat(f->h, v2.commit, "", &is_dir, NULL), 0);
	assert_int_equal(is_dir, 1);
	assert_int_equal(history_stat(f->h, v2.commit, "x/y", &is_dir, NULL), -ENOENT);

	buf_release(&b);
	history_version_release(&v1);
	history_version_release(&v2);
}

/* A 4-digit prefix shared by two loose objects, or "" if none. */
static void find_ambiguous_prefix(char out[5], const char *git_dir)
{
	char path[256], seen_first[65536];
	struct dirent *de;
	DIR *d;

	memset(seen_first, 0, sizeof(seen_first));
	out[0] = '\0';
	for (int a = 0; a < 256 && !out[0]; a++) {
		snprintf(path, sizeof(path), "%s/objects/%02x", git_dir, a);
		if (!(d = opendir(path)))
			continue;
		while ((de = readdir(d))) {
			unsigned key;

			if (strlen(de->d_name) != 38 || sscanf(de->d_name, "%2x", &key) != 1)
				continue;
			key |= (unsigned)a << 8;
			if (seen_first[key]++) {
				snprintf(out, 5, "%02x%.2s", a, de->d_name);
				break;
			}
		}
		closedir(d);
	}
}

static void test_resolve(void **state)
{
	struct fixture *f = *state;
	struct history_version v1 = HISTORY_VERSION_INIT, v2 = HISTORY_VERSION_INIT;
	struct history_version r = HISTORY_VERSION_INIT;
	struct history_file many[1000];
	char names[1000][16], datas[1000][16], path[256], prefix[8], amb[5];

	assert_int_equal(history_commit(&v1, f->h, files_a, 3, "one", NULL, NULL), 0);
	assert_int_equal(history_commit(&v2, f->h, files_b, 3, "two", NULL, NULL), 0);

	assert_int_equal(history_resolve(&r, f->h, "v1"), 0);
	assert_string_equal(r.commit, v1.commit);
	assert_int_equal(r.number, 1);
	assert_string_equal(r.tag, "v1");
	assert_string_equal(r.message, "one");
	history_version_release(&r);

	assert_int_equal(history_resolve(&r, f->h, "2"), 0);
	assert_string_equal(r.commit, v2.commit);
	history_version_release(&r);

	assert_int_equal(history_resolve(&r, f->h, "HEAD"), 0);
	assert_string_equal(r.commit, v2.commit);
	assert_int_equal(r.number, 2);
	history_version_release(&r);

	snprintf(prefix, sizeof(prefix), "%.7s", v1.commit);
	assert_int_equal(history_resolve(&r, f->h, prefix), 0);
	assert_string_equal(r.commit, v1.commit);
	assert_int_equal(r.number, 1);
	history_version_release(&r);
	assert_int_equal(history_resolve(&r, f->h, v2.commit), 0);
	assert_string_equal(r.tag, "v2");
	history_version_release(&r);

	/* Any tag: a loose ref written the way git writes one. */
	snprintf(path, sizeof(path), "%s/refs/tags/release-1", f->git_dir);
	{
		char line[64];

		snprintf(line, sizeof(line), "%s\n", v1.commit);
		assert_int_equal(fs_write_file_atomic(path, line, strlen(line), 0644), 0);
	}
	assert_int_equal(history_resolve(&r, f->h, "release-1"), 0);
	assert_string_equal(r.commit, v1.commit);
	assert_int_equal(r.number, 1); /* it is also v1 */
	history_version_release(&r);

	err_clear();
	assert_int_equal(history_resolve(&r, f->h, "v3"), -ENOENT);
	assert_non_null(strstr(err_last(), "v3"));
	assert_int_equal(history_resolve(&r, f->h, "3"), -ENOENT);
	assert_int_equal(history_resolve(&r, f->h, "nope"), -ENOENT);
	assert_int_equal(history_resolve(&r, f->h, ""), -ENOENT);
	snprintf(prefix, sizeof(prefix), "%.3s", v1.commit);
	assert_int_equal(history_resolve(&r, f->h, prefix), -ENOENT); /* too short */
	assert_int_equal(history_resolve(&r, f->h, "v1/../v2"), -ENOENT);
	assert_int_equal(history_resolve(&r, f->h, "ffffffffffffffffffffffffffffffffffffffff"), -ENOENT);

	/* 1000 distinct blobs make a shared 4-digit prefix all but certain. */
	for (int i = 0; i < 1000; i++) {
		snprintf(names[i], sizeof(names[i]), "f%04d", i);
		snprintf(datas[i], sizeof(datas[i]), "data %d\n", i);
		many[i] = (struct history_file){ names[i], datas[i], strlen(datas[i]) };
	}
	assert_int_equal(history_commit(NULL, f->h, many, 1000, "many", NULL, NULL), 0);
	find_ambiguous_prefix(amb, f->git_dir);
	assert_int_equal(strlen(amb), 4);
	err_clear();
	assert_int_equal(history_resolve(&r, f->h, amb), -ENOENT);
	assert_non_null(strstr(err_last(), "ambiguous"));
	check_invariants(f->h);

	history_version_release(&v1);
	history_version_release(&v2);
}

static void test_fault_before_tag(void **state)
{
#ifdef DSFS_FAULT_INJECTION
	struct fixture *f = *state;
	struct history_version v1 = HISTORY_VERSION_INIT, v = HISTORY_VERSION_INIT;
	struct history_version head = HISTORY_VERSION_INIT;

	assert_int_equal(history_commit(&v1, f->h, files_a, 3, "one", NULL, NULL), 0);
	fault_arm(FAULT_HISTORY_BEFORE_TAG, 1);
	assert_int_equal(history_commit(&v, f->h, files_b, 3, "two", NULL, NULL), -EIO);
	/* No new tag, main unchanged, even after a reopen. */
	assert_int_equal(n_versions(f->h), 1);
	assert_int_equal(history_resolve(&head, f->h, "HEAD"), 0);
	assert_string_equal(head.commit, v1.commit);
	history_version_release(&head);
	history_free(f->h);
	assert_int_equal(history_open(&f->h, f->git_dir), 0);
	assert_int_equal(n_versions(f->h), 1);
	check_invariants(f->h);

	/* The retry works and gets the next number. */
	assert_int_equal(history_commit(&v, f->h, files_b, 3, "two", NULL, NULL), 0);
	assert_int_equal(v.number, 2);
	history_version_release(&v);
	check_invariants(f->h);
	history_version_release(&v1);
#else
	(void)state;
	skip();
#endif
}

/* Simulate a crash between tag and main: put main back on v1 by hand. */
static void test_main_lagging_repaired(void **state)
{
	struct fixture *f = *state;
	struct history_version v1 = HISTORY_VERSION_INIT, v2 = HISTORY_VERSION_INIT;
	struct history_version head = HISTORY_VERSION_INIT, v3 = HISTORY_VERSION_INIT;
	char path[256], line[64];
	struct buf b = BUF_INIT;

	assert_int_equal(history_commit(&v1, f->h, files_a, 3, "one", NULL, NULL), 0);
	assert_int_equal(history_commit(&v2, f->h, files_b, 3, "two", NULL, NULL), 0);
	history_free(f->h);
	f->h = NULL;

	snprintf(path, sizeof(path), "%s/refs/heads/main", f->git_dir);
	snprintf(line, sizeof(line), "%s\n", v1.commit);
	assert_int_equal(fs_write_file_atomic(path, line, strlen(line), 0644), 0);

	assert_int_equal(history_open(&f->h, f->git_dir), 0);
	assert_int_equal(history_resolve(&head, f->h, "HEAD"), 0);
	assert_string_equal(head.commit, v2.commit);
	history_version_release(&head);
	assert_int_equal(fs_read_file(&b, path), 0);
	assert_memory_equal(b.ptr, v2.commit, 40);
	buf_release(&b);
	check_invariants(f->h);

	/* main missing entirely (crash on the very first commit) is repaired too. */
	history_free(f->h);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(history_open(&f->h, f->git_dir), 0);
	check_invariants(f->h);

	/* And the next commit continues from v2. */
	{
		static const struct history_file c[] = { FILE_("images.tsv", "x\n") };

		assert_int_equal(history_commit(&v3, f->h, c, 1, "three", NULL, NULL), 0);
	}
	assert_int_equal(v3.number, 3);
	check_invariants(f->h);
	history_version_release(&v1);
	history_version_release(&v2);
	history_version_release(&v3);
}

struct reader_arg {
	struct history *h;
	const char *c1, *c2;
	int failures;
};

static void *reader(void *p)
{
	struct reader_arg *a = p;
	struct buf b = BUF_INIT;
	struct history_version r;
	size_t n;

	for (int i = 0; i < 200; i++) {
		const char *want = i % 2 ? "ab\tjpg\ncd\tpng\n" : "ab\tjpg\n";

		buf_reset(&b);
		if (history_read(&b, a->h, i % 2 ? a->c2 : a->c1, "images.tsv") != 0 ||
		    strcmp(b.ptr, want) != 0)
			a->failures++;
		buf_reset(&b);
		if (history_list_dir(&b, &n, a->h, a->c1, "label_sets/default") != 0 || n != 2)
			a->failures++;
		if (history_resolve(&r, a->h, i % 2 ? "v2" : "1") != 0 ||
		    strcmp(r.commit, i % 2 ? a->c2 : a->c1) != 0)
			a->failures++;
		history_version_release(&r);
	}
	buf_release(&b);
	return NULL;
}

static void test_concurrent_reads(void **state)
{
	struct fixture *f = *state;
	struct history_version v1 = HISTORY_VERSION_INIT, v2 = HISTORY_VERSION_INIT;
	struct reader_arg args[4];
	pthread_t t[4];

	assert_int_equal(history_commit(&v1, f->h, files_a, 3, "one", NULL, NULL), 0);
	assert_int_equal(history_commit(&v2, f->h, files_b, 3, "two", NULL, NULL), 0);
	for (int i = 0; i < 4; i++) {
		args[i] = (struct reader_arg){ f->h, v1.commit, v2.commit, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, reader, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(args[i].failures, 0);
	}
	history_version_release(&v1);
	history_version_release(&v2);
}

static void truncate_object(const char *git_dir, const char *hex)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/objects/%.2s/%s", git_dir, hex, hex + 2);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(truncate(path, st.st_size / 2), 0);
}

static void test_corrupt_objects(void **state)
{
	struct fixture *f = *state;
	struct history_version v1 = HISTORY_VERSION_INIT, v2 = HISTORY_VERSION_INIT;
	struct history_version r = HISTORY_VERSION_INIT, *all;
	static const struct history_file only[] = { FILE_("only/one.txt", "unique content 42\n") };
	struct buf b = BUF_INIT;
	char dir[256], hex[41];
	struct dirent *de;
	size_t n;
	DIR *d;

	/* v1's commit object corrupt: everything touching v1 says -EIO. */
	assert_int_equal(history_commit(&v1, f->h, files_a, 3, "one", NULL, NULL), 0);
	history_free(f->h);
	truncate_object(f->git_dir, v1.commit);
	assert_int_equal(history_open(&f->h, f->git_dir), 0); /* opens; the repair only warns */
	err_clear();
	assert_int_equal(history_read(&b, f->h, v1.commit, "images.tsv"), -EIO);
	assert_true(strlen(err_last()) > 0);
	assert_int_equal(history_resolve(&r, f->h, "v1"), -EIO);
	assert_int_equal(history_versions(&all, &n, f->h), -EIO);
	assert_int_equal(history_commit(&v2, f->h, files_b, 3, "two", NULL, NULL), -EIO);
	history_free(f->h);
	f->h = NULL;
	fs_rm_rf(f->git_dir);

	/* A fresh repository with one version: corrupt its tree and blobs. */
	assert_int_equal(history_open(&f->h, f->git_dir), 0);
	assert_int_equal(history_commit(&v2, f->h, only, 1, "one", NULL, NULL), 0);
	history_free(f->h);
	for (int a = 0; a < 256; a++) {
		snprintf(dir, sizeof(dir), "%s/objects/%02x", f->git_dir, a);
		if (!(d = opendir(dir)))
			continue;
		while ((de = readdir(d))) {
			if (strlen(de->d_name) != 38)
				continue;
			snprintf(hex, sizeof(hex), "%02x%s", a, de->d_name);
			if (strcmp(hex, v2.commit) != 0)
				truncate_object(f->git_dir, hex);
		}
		closedir(d);
	}
	assert_int_equal(history_open(&f->h, f->git_dir), 0);
	assert_int_equal(history_read(&b, f->h, v2.commit, "only/one.txt"), -EIO);
	assert_int_equal(history_list_dir(&b, &n, f->h, v2.commit, ""), -EIO);
	assert_int_equal(history_stat(f->h, v2.commit, "only", NULL, NULL), -EIO);
	assert_int_equal(b.len, 0);
	/* The commit itself is intact. */
	assert_int_equal(history_resolve(&r, f->h, "v1"), 0);
	assert_string_equal(r.commit, v2.commit);
	history_version_release(&r);

	buf_release(&b);
	history_version_release(&v1);
	history_version_release(&v2);
}

static void test_open_not_a_repo(void **state)
{
	struct fixture *f = *state;
	struct history *h = NULL;
	char path[256];

	/* A directory with a HEAD file that is not a repository. */
	snprintf(path, sizeof(path), "%s/junk", f->dir);
	assert_int_equal(fs_mkdir_p(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/junk/HEAD", f->dir);
	assert_int_equal(fs_write_file_atomic(path, "garbage", 7, 0644), 0);
	snprintf(path, sizeof(path), "%s/junk", f->dir);
	assert_true(history_open(&h, path) < 0);
	assert_null(h);
	/* Opening an existing repository twice is fine. */
	assert_int_equal(history_open(&h, f->git_dir), 0);
	assert_string_equal(history_git_dir(h), f->git_dir);
	history_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_commit_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_file_lists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_list_stat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_before_tag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_main_lagging_repaired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_objects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_not_a_repo, setup, teardown),
	};

	return cmocka_run_group_tests_name("history", tests, NULL, NULL);
}
