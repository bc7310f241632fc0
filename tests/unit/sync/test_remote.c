/*
 * Unit tests for sync/remote with the directory remote: push copies only
 * missing blobs and then the refs, pull fast-forwards or refuses, clone plus
 * the fetch hook brings exactly the blobs asked for, and corrupt blobs are
 * refused in both directions.  Each test has its own mkdtemp() tree:
 * BASE/a and BASE/b (datasets: objects/, tmp/, git/) and BASE/remote.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/blob.h"
#include "store/history.h"
#include "sync/remote.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "testfs.h"

#define NBLOBS 6

struct side {
	char dir[160];
	char git[192];
	struct blob_store *bs;
	struct history *h;
};

struct fixture {
	char base[64];
	char remote[128];
	struct side a;
	struct blob_id ids[NBLOBS];
	char data[NBLOBS][64];
};

static void side_open(struct side *s, const char *base, const char *name)
{
	snprintf(s->dir, sizeof(s->dir), "%s/%s", base, name);
	snprintf(s->git, sizeof(s->git), "%s/git", s->dir);
	assert_int_equal(blob_store_open(&s->bs, s->dir), 0);
	assert_int_equal(history_open(&s->h, s->git), 0);
}

static void side_close(struct side *s)
{
	history_free(s->h);
	blob_store_free(s->bs);
	s->h = NULL;
	s->bs = NULL;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->base, "/tmp/dsfs-test-remote-XXXXXX");
	assert_non_null(mkdtemp(f->base));
	snprintf(f->remote, sizeof(f->remote), "%s/remote", f->base);
	side_open(&f->a, f->base, "a");
	for (int i = 0; i < NBLOBS; i++) {
		snprintf(f->data[i], sizeof(f->data[i]), "image bytes number %d\n", i);
		assert_int_equal(blob_put_buf(&f->ids[i], f->a.bs, f->data[i], strlen(f->data[i])),
				 0);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	side_close(&f->a);
	fs_rm_rf(f->base);
	free(f);
	return 0;
}

/* Commit a manifest naming blobs [0, n) (plus `extra`, to make trees differ). */
static void commit_manifest(struct history *h, const struct blob_id *ids, size_t n,
			    const char *extra, struct history_version *out)
{
	struct buf m = BUF_INIT;
	struct history_file files[2];
	char hex[BLOB_HEX_LEN + 1];

	for (size_t i = 0; i < n; i++) {
		blob_id_hex(hex, &ids[i]);
		assert_int_equal(buf_printf(&m, "%s\tjpg\n", hex), 0);
	}
	files[0] = (struct history_file){ "images.tsv", m.ptr, m.len };
	files[1] = (struct history_file){ "note.txt", extra, strlen(extra) };
	assert_int_equal(history_commit(out, h, files, 2, extra, NULL, NULL), 0);
	buf_release(&m);
}


static void remote_blob_path(char *out, size_t outsz, const char *remote, const struct blob_id *id)
{
	char hex[BLOB_HEX_LEN + 1];

	blob_id_hex(hex, id);
	snprintf(out, outsz, "%s/objects/%.2s/%.2s/%s", remote, hex, hex + 2, hex);
}

static void expect_versions(struct history *h, size_t n, const char *head_commit)
{
	struct history_version *v, head;
	size_t got;

	assert_int_equal(history_versions(&v, &got, h), 0);
	assert_int_equal(got, n);
	history_versions_free(v, got);
	if (head_commit) {
		assert_int_equal(history_resolve(&head, h, "HEAD"), 0);
		assert_string_equal(head.commit, head_commit);
		history_version_release(&head);
	}
}

static void test_push_copies_only_missing(void **state)
{
	struct fixture *f = *state;
	struct history_version v1, v2;
	struct remote_push_stats st;
	struct remote *r = NULL;
	struct history *rh = NULL;
	struct buf b = BUF_INIT;
	char path[256];
	struct stat sb;

	commit_manifest(f->a.h, f->ids, 4, "v1", &v1);
	assert_int_equal(remote_add(f->a.h, "backup", f->remote), 0);
	assert_int_equal(remote_open(&r, f->a.h, "backup"), 0);
	assert_string_equal(remote_name(r), "backup");
	assert_string_equal(remote_url(r), f->remote);

	assert_int_equal(remote_push(r, f->a.bs, f->ids, 4, f->a.h, NULL, NULL, &st), 0);
	assert_int_equal(st.blobs_sent, 4);
	assert_int_equal(st.blobs_present, 0);
	assert_true(st.bytes_sent > 0);
	for (int i = 0; i < 4; i++) {
		remote_blob_path(path, sizeof(path), f->remote, &f->ids[i]);
		assert_int_equal(stat(path, &sb), 0);
		assert_int_equal(sb.st_mode & 0777, 0444);
		buf_reset(&b);
		assert_int_equal(fs_read_file(&b, path), 0);
		assert_string_equal(b.ptr, f->data[i]);
	}
	snprintf(path, sizeof(path), "%s/objects", f->remote);
	assert_int_equal(testfs_files(path), 4);
	snprintf(path, sizeof(path), "%s/tmp", f->remote);
	assert_int_equal(testfs_files(path), 0);

	/* The second push has nothing to copy. */
	assert_int_equal(remote_push(r, f->a.bs, f->ids, 4, f->a.h, NULL, NULL, &st), 0);
	assert_int_equal(st.blobs_sent, 0);
	assert_int_equal(st.blobs_present, 4);

	/* Refs and tags arrived. */
	snprintf(path, sizeof(path), "%s/git", f->remote);
	assert_int_equal(history_open(&rh, path), 0);
	expect_versions(rh, 1, v1.commit);
	buf_reset(&b);
	assert_int_equal(history_read(&b, rh, v1.commit, "note.txt"), 0);
	assert_string_equal(b.ptr, "v1");
	history_free(rh);

	/* A new version sends one new blob. */
	commit_manifest(f->a.h, f->ids, 5, "v2", &v2);
	assert_int_equal(remote_push(r, f->a.bs, f->ids, 5, f->a.h, NULL, NULL, &st), 0);
	assert_int_equal(st.blobs_sent, 1);
	assert_int_equal(st.blobs_present, 4);
	assert_int_equal(history_open(&rh, path), 0);
	expect_versions(rh, 2, v2.commit);
	history_free(rh);

	if (system("git --version >/dev/null 2>&1") == 0) {
		char cmd[512], out[256];
		FILE *p;
		size_t n;

		snprintf(cmd, sizeof(cmd), "git --git-dir=%s/git tag; git --git-dir=%s/git "
					   "rev-parse main; git --git-dir=%s/git fsck --strict 2>&1",
			 f->remote, f->remote, f->remote);
		assert_non_null(p = popen(cmd, "r"));
		n = fread(out, 1, sizeof(out) - 1, p);
		out[n] = '\0';
		assert_int_equal(pclose(p), 0);
		assert_memory_equal(out, "v1\nv2\n", 6);
		assert_memory_equal(out + 6, v2.commit, 40);
		/* The recorded remote is an ordinary git remote. */
		snprintf(cmd, sizeof(cmd), "git --git-dir=%s remote get-url backup", f->a.git);
		assert_non_null(p = popen(cmd, "r"));
		n = fread(out, 1, sizeof(out) - 1, p);
		out[n] = '\0';
		assert_int_equal(pclose(p), 0);
		snprintf(cmd, sizeof(cmd), "%s/git\n", f->remote);
		assert_string_equal(out, cmd);
	}

	buf_release(&b);
	remote_free(r);
	history_version_release(&v1);
	history_version_release(&v2);
}

static void test_push_refuses_bad_blobs(void **state)
{
	struct fixture *f = *state;
	struct history_version v1;
	struct blob_id missing, ids[2];
	struct remote *r = NULL;
	char path[256];
	int fd;

	commit_manifest(f->a.h, f->ids, 2, "v1", &v1);
	assert_int_equal(remote_open_url(&r, NULL, f->remote), 0);

	/* A blob neither here nor there: error, and no refs are pushed. */
	blob_id_of(&missing, "not stored", 10);
	ids[0] = f->ids[0];
	ids[1] = missing;
	assert_int_equal(remote_push(r, f->a.bs, ids, 2, f->a.h, NULL, NULL, NULL), -ENOENT);
	snprintf(path, sizeof(path), "%s/git/HEAD", f->remote);
	assert_int_equal(access(path, F_OK), -1);

	/* A local blob whose bytes changed is refused on arrival. */
	assert_int_equal(blob_path(path, sizeof(path), f->a.bs, &f->ids[1]), 0);
	assert_int_equal(chmod(path, 0644), 0);
	assert_true((fd = open(path, O_WRONLY)) >= 0);
	assert_int_equal(pwrite(fd, "X", 1, 0), 1);
	close(fd);
	err_clear();
	assert_int_equal(remote_push(r, f->a.bs, f->ids + 1, 1, f->a.h, NULL, NULL, NULL), -EIO);
	assert_non_null(strstr(err_last(), "not stored"));
	remote_blob_path(path, sizeof(path), f->remote, &f->ids[1]);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/tmp", f->remote);
	assert_int_equal(testfs_files(path), 0);
	snprintf(path, sizeof(path), "%s/git/HEAD", f->remote);
	assert_int_equal(access(path, F_OK), -1);

	remote_free(r);
	history_version_release(&v1);
}

static void test_fetch_hook_rejects_corrupt(void **state)
{
	struct fixture *f = *state;
	struct history_version v1;
	struct remote *r = NULL;
	struct side b;
	char path[PATH_MAX], rpath[256];
	int fd;

	commit_manifest(f->a.h, f->ids, 3, "v1", &v1);
	assert_int_equal(remote_open_url(&r, "origin", f->remote), 0);
	assert_int_equal(remote_push(r, f->a.bs, f->ids, 3, f->a.h, NULL, NULL, NULL), 0);

	/* Same length, different bytes on the remote. */
	remote_blob_path(rpath, sizeof(rpath), f->remote, &f->ids[0]);
	assert_int_equal(chmod(rpath, 0644), 0);
	assert_true((fd = open(rpath, O_WRONLY)) >= 0);
	assert_int_equal(pwrite(fd, "J", 1, 0), 1);
	close(fd);

	side_open(&b, f->base, "b");
	err_clear();
	assert_int_equal(remote_blob_fetch(path, blob_tmp_dir(b.bs), &f->ids[0], r), -EIO);
	assert_non_null(strstr(err_last(), "corrupt"));
	assert_string_equal(path, "");
	assert_int_equal(testfs_files(blob_tmp_dir(b.bs)), 0);

	/* Through the store: the open fails, nothing is adopted. */
	blob_store_set_fetch(b.bs, remote_blob_fetch, r);
	assert_int_equal(blob_open(&fd, b.bs, &f->ids[0]), -EIO);
	assert_int_equal(blob_exists(b.bs, &f->ids[0]), 0);

	/* An intact one comes through; an unknown one is -ENOENT. */
	assert_int_equal(remote_blob_fetch(path, blob_tmp_dir(b.bs), &f->ids[1], r), 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(remote_blob_fetch(path, blob_tmp_dir(b.bs), &f->ids[5], r), -ENOENT);

	side_close(&b);
	remote_free(r);
	history_version_release(&v1);
}

static void test_clone_and_lazy_fetch(void **state)
{
	struct fixture *f = *state;
	struct history_version v1, v2;
	struct remote *r = NULL, *origin = NULL;
	struct buf b = BUF_INIT, url = BUF_INIT;
	char clone_dir[256], path[512], file_url[200];
	struct side c;
	size_t fetched;
	int fd;

	commit_manifest(f->a.h, f->ids, 2, "v1", &v1);
	commit_manifest(f->a.h, f->ids, 4, "v2", &v2);
	assert_int_equal(remote_open_url(&r, "origin", f->remote), 0);
	assert_int_equal(remote_push(r, f->a.bs, f->ids, 4, f->a.h, NULL, NULL, NULL), 0);

	/* Clone by file:// URL. */
	snprintf(clone_dir, sizeof(clone_dir), "%s/c", f->base);
	snprintf(file_url, sizeof(file_url), "file://%s", f->remote);
	assert_int_equal(remote_clone(file_url, clone_dir), 0);
	snprintf(path, sizeof(path), "%s/objects", clone_dir);
	assert_int_equal(testfs_files(path), 0);

	side_open(&c, f->base, "c");
	expect_versions(c.h, 2, v2.commit);
	assert_int_equal(history_read(&b, c.h, v1.commit, "note.txt"), 0);
	assert_string_equal(b.ptr, "v1");
	assert_int_equal(history_remote_url(&url, c.h, "origin"), 0);
	snprintf(path, sizeof(path), "file://%s/git", f->remote);
	assert_string_equal(url.ptr, path);

	/* Mounted before its blobs: each open brings exactly that blob. */
	assert_int_equal(remote_open(&origin, c.h, NULL), 0);
	assert_string_equal(remote_url(origin), file_url);
	blob_store_set_fetch(c.bs, remote_blob_fetch, origin);
	assert_int_equal(blob_open(&fd, c.bs, &f->ids[2]), 0);
	buf_reset(&b);
	{
		char got[64];
		ssize_t n = read(fd, got, sizeof(got) - 1);

		assert_true(n > 0);
		got[n] = '\0';
		assert_string_equal(got, f->data[2]);
	}
	close(fd);
	snprintf(path, sizeof(path), "%s/objects", clone_dir);
	assert_int_equal(testfs_files(path), 1);
	assert_int_equal(blob_exists(c.bs, &f->ids[2]), 1);
	assert_int_equal(blob_exists(c.bs, &f->ids[0]), 0);

	/* Prefetch the rest of v2's blobs: 3 more, the one present is skipped. */
	assert_int_equal(remote_fetch_blobs(origin, c.bs, f->ids, 4, NULL, NULL, &fetched), 0);
	assert_int_equal(fetched, 3);
	assert_int_equal(testfs_files(path), 4);
	assert_int_equal(blob_verify(c.bs, &f->ids[0]), 0);
	assert_int_equal(testfs_files(blob_tmp_dir(c.bs)), 0);

	/* Into a non-empty directory: refused; from nowhere: nothing left behind. */
	assert_int_equal(remote_clone(f->remote, clone_dir), -EEXIST);
	snprintf(path, sizeof(path), "%s/nowhere", f->base);
	snprintf(clone_dir, sizeof(clone_dir), "%s/d", f->base);
	assert_int_equal(remote_clone(path, clone_dir), -ENOENT);
	assert_int_equal(access(clone_dir, F_OK), -1);

	buf_release(&b);
	buf_release(&url);
	side_close(&c);
	remote_free(origin);
	remote_free(r);
	history_version_release(&v1);
	history_version_release(&v2);
}

static void test_pull_fast_forward_and_diverged(void **state)
{
	struct fixture *f = *state;
	struct history_version v1, v2, a3, b3;
	struct history_fetch_result res;
	struct remote *ra = NULL, *rb = NULL;
	char b_dir[200];
	struct side b;

	commit_manifest(f->a.h, f->ids, 1, "v1", &v1);
	assert_int_equal(remote_add(f->a.h, "origin", f->remote), 0);
	assert_int_equal(remote_open(&ra, f->a.h, NULL), 0);
	assert_int_equal(remote_push(ra, f->a.bs, f->ids, 1, f->a.h, NULL, NULL, NULL), 0);

	snprintf(b_dir, sizeof(b_dir), "%s/b", f->base);
	assert_int_equal(remote_clone(f->remote, b_dir), 0);
	side_open(&b, f->base, "b");
	assert_int_equal(remote_open(&rb, b.h, "origin"), 0);

	/* Nothing new: a no-op. */
	assert_int_equal(remote_pull(rb, b.h, &res), 0);
	assert_int_equal(res.new_tags, 0);
	assert_string_equal(res.old_head, res.new_head);

	/* A moves on; B fast-forwards. */
	commit_manifest(f->a.h, f->ids, 2, "v2", &v2);
	assert_int_equal(remote_push(ra, f->a.bs, f->ids, 2, f->a.h, NULL, NULL, NULL), 0);
	assert_int_equal(remote_pull(rb, b.h, &res), 0);
	assert_int_equal(res.new_tags, 1);
	assert_int_equal(res.remote_max, 2);
	assert_string_equal(res.old_head, v1.commit);
	assert_string_equal(res.new_head, v2.commit);
	expect_versions(b.h, 2, v2.commit);

	/* Both commit a different v3: B can neither pull nor push. */
	commit_manifest(f->a.h, f->ids, 3, "a3", &a3);
	assert_int_equal(remote_push(ra, f->a.bs, f->ids, 3, f->a.h, NULL, NULL, NULL), 0);
	commit_manifest(b.h, f->ids, 1, "b3", &b3);
	assert_int_equal(b3.number, 3);
	err_clear();
	assert_int_equal(remote_pull(rb, b.h, &res), -EAGAIN);
	assert_non_null(strstr(err_last(), "diverged"));
	expect_versions(b.h, 3, b3.commit);
	assert_int_equal(remote_push(rb, b.bs, NULL, 0, b.h, NULL, NULL, NULL), -EAGAIN);
	/* The remote still has A's history. */
	{
		struct history *rh;
		char path[256];

		snprintf(path, sizeof(path), "%s/git", f->remote);
		assert_int_equal(history_open(&rh, path), 0);
		expect_versions(rh, 3, a3.commit);
		history_free(rh);
	}

	side_close(&b);
	remote_free(ra);
	remote_free(rb);
	history_version_release(&v1);
	history_version_release(&v2);
	history_version_release(&a3);
	history_version_release(&b3);
}

static void test_remote_config_errors(void **state)
{
	struct fixture *f = *state;
	struct remote *r = NULL;

	assert_int_equal(remote_add(f->a.h, "origin", f->remote), 0);
	assert_int_equal(remote_add(f->a.h, "origin", f->remote), -EEXIST);
	assert_int_equal(remote_add(f->a.h, "s3", "s3://bucket/prefix"), -ENOTSUP);
	assert_int_equal(remote_add(f->a.h, "web", "https://example.org/x"), -ENOTSUP);
	assert_int_equal(remote_add(f->a.h, "", f->remote), -EINVAL);
	assert_int_equal(remote_add(f->a.h, "bad name", f->remote), -EINVAL);
	assert_int_equal(remote_open(&r, f->a.h, "nope"), -ENOENT);
	assert_null(r);
	assert_int_equal(remote_open_url(&r, NULL, "s3://bucket"), -ENOTSUP);
	/* Pulling from an empty location is -ENOENT, not a crash. */
	assert_int_equal(remote_open(&r, f->a.h, "origin"), 0);
	assert_int_equal(remote_pull(r, f->a.h, NULL), -ENOENT);
	remote_free(r);
}

static size_t remote_blob_count(const struct fixture *f)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/objects", f->remote);
	return access(path, F_OK) == 0 ? (size_t)testfs_files(path) : 0;
}

/*
 * A refused push sends no blob, and says why in one message: the remote
 * ahead (pull first), diverged, or an unrelated history (no "pull first").
 */
static void test_push_refused_before_blobs(void **state)
{
	struct fixture *f = *state;
	struct history_version v1, v2, b2, c1;
	struct remote_push_stats st;
	struct remote *ra = NULL, *rb = NULL, *rc = NULL;
	char b_dir[200];
	struct side b, c;

	commit_manifest(f->a.h, f->ids, 1, "v1", &v1);
	assert_int_equal(remote_open_url(&ra, "origin", f->remote), 0);
	assert_int_equal(remote_push(ra, f->a.bs, f->ids, 1, f->a.h, NULL, NULL, NULL), 0);
	snprintf(b_dir, sizeof(b_dir), "%s/b", f->base);
	assert_int_equal(remote_clone(f->remote, b_dir), 0);
	side_open(&b, f->base, "b");
	assert_int_equal(remote_open(&rb, b.h, NULL), 0);
	commit_manifest(f->a.h, f->ids, 2, "v2", &v2);
	assert_int_equal(remote_push(ra, f->a.bs, f->ids, 2, f->a.h, NULL, NULL, NULL), 0);
	assert_int_equal(remote_blob_count(f), 2);

	/* B is behind: refused ("pull first") before its blob is sent. */
	assert_int_equal(blob_put_buf(&f->ids[4], b.bs, f->data[4], strlen(f->data[4])), 0);
	st.blobs_sent = 99;
	err_clear();
	assert_int_equal(remote_push(rb, b.bs, f->ids + 4, 1, b.h, NULL, NULL, &st), -EAGAIN);
	assert_int_equal(st.blobs_sent, 0);
	assert_non_null(strstr(err_last(), "has versions this dataset lacks (pull first)"));
	assert_null(strstr(err_last(), "push"));
	assert_int_equal(remote_blob_count(f), 2);

	/* B makes its own v2: diverged.  Refused before any blob moves. */
	assert_int_equal(blob_put_buf(&f->ids[5], b.bs, f->data[5], strlen(f->data[5])), 0);
	{
		struct blob_id bids[2] = { f->ids[0], f->ids[5] };

		commit_manifest(b.h, bids, 2, "b2", &b2);
		err_clear();
		assert_int_equal(remote_push(rb, b.bs, bids, 2, b.h, NULL, NULL, &st), -EAGAIN);
	}
	assert_int_equal(st.blobs_sent, 0);
	assert_non_null(strstr(err_last(), "diverged"));
	assert_null(strstr(err_last(), "push"));
	assert_int_equal(remote_blob_count(f), 2);

	/* A dataset with its own history: unrelated, and pulling would not help. */
	side_open(&c, f->base, "c");
	assert_int_equal(blob_put_buf(&f->ids[5], c.bs, f->data[5], strlen(f->data[5])), 0);
	commit_manifest(c.h, f->ids + 5, 1, "c1", &c1);
	assert_int_equal(remote_open_url(&rc, NULL, f->remote), 0);
	err_clear();
	assert_int_equal(remote_push(rc, c.bs, f->ids + 5, 1, c.h, NULL, NULL, &st), -EAGAIN);
	assert_int_equal(st.blobs_sent, 0);
	assert_non_null(strstr(err_last(), "unrelated history: the remote's main does not contain "
					   "this dataset's versions nor the reverse"));
	assert_null(strstr(err_last(), "pull first"));
	assert_null(strstr(err_last(), "push"));
	assert_int_equal(remote_blob_count(f), 2);

	side_close(&b);
	side_close(&c);
	remote_free(ra);
	remote_free(rb);
	remote_free(rc);
	history_version_release(&v1);
	history_version_release(&v2);
	history_version_release(&b2);
	history_version_release(&c1);
}

struct vanish {
	const struct fixture *f;
	size_t at;       /* progress count at which to strike */
	int whole;       /* remove the whole remote, not one blob */
};

static void vanish_progress(size_t done, size_t total, uint64_t bytes, void *payload)
{
	struct vanish *v = payload;
	char path[256];

	(void)total;
	(void)bytes;
	if (done != v->at)
		return;
	if (v->whole) {
		fs_rm_rf(v->f->remote);
		return;
	}
	remote_blob_path(path, sizeof(path), v->f->remote, &v->f->ids[0]);
	assert_int_equal(unlink(path), 0);
}

/* A blob (or the whole remote) removed during the push: an error, and no refs move. */
static void test_push_verifies_before_refs(void **state)
{
	struct fixture *f = *state;
	struct history_version v1, v2;
	struct remote_push_stats st;
	struct remote *r = NULL;
	struct vanish vn = { f, 3, 0 };
	char path[256];

	commit_manifest(f->a.h, f->ids, 3, "v1", &v1);
	assert_int_equal(remote_open_url(&r, NULL, f->remote), 0);
	err_clear();
	assert_int_equal(remote_push(r, f->a.bs, f->ids, 3, f->a.h, vanish_progress, &vn, &st), -EIO);
	assert_int_equal(st.blobs_sent, 3);
	assert_non_null(strstr(err_last(), "is no longer on"));
	snprintf(path, sizeof(path), "%s/git/HEAD", f->remote);
	assert_int_equal(access(path, F_OK), -1);

	/* Pushed again: the blob goes back, and the refs with it. */
	assert_int_equal(remote_push(r, f->a.bs, f->ids, 3, f->a.h, NULL, NULL, &st), 0);
	assert_int_equal(st.blobs_sent, 1);
	assert_int_equal(st.blobs_present, 2);

	/* The blob of an existing version removed while v2 is pushed: v2 is not. */
	commit_manifest(f->a.h, f->ids, 4, "v2", &v2);
	vn.at = 1;
	err_clear();
	assert_int_equal(remote_push(r, f->a.bs, f->ids, 4, f->a.h, vanish_progress, &vn, &st), -EIO);
	{
		struct history *rh;

		snprintf(path, sizeof(path), "%s/git", f->remote);
		assert_int_equal(history_open(&rh, path), 0);
		expect_versions(rh, 1, v1.commit);
		history_free(rh);
	}

	/* The whole remote removed mid-push: a clear error, and nothing recreated. */
	vn.at = 2;
	vn.whole = 1;
	err_clear();
	assert_int_equal(remote_push(r, f->a.bs, f->ids, 4, f->a.h, vanish_progress, &vn, &st), -ENOENT);
	assert_non_null(strstr(err_last(), "disappeared during the push"));
	snprintf(path, sizeof(path), "%s/git/HEAD", f->remote);
	assert_int_equal(access(path, F_OK), -1);

	remote_free(r);
	history_version_release(&v1);
	history_version_release(&v2);
}

/*
 * Pushes to one remote take turns on its git/dsfs.lock: a push waits for a
 * holder (here a child process playing a pusher mid-update, with a live
 * refs/tags/v1.lock) instead of failing or removing the holder's lock file;
 * a lock file left by a dead pusher is removed.  Then several processes
 * pushing the same versions to a fresh remote at once all succeed.
 */
static void test_push_lock(void **state)
{
	struct fixture *f = *state;
	struct history_version v1;
	struct remote *r = NULL;
	char git[256], live[300], tags[300], go;
	int ready[2], status;
	pid_t pid, kids[4];

	commit_manifest(f->a.h, f->ids, 3, "v1", &v1);
	snprintf(git, sizeof(git), "%s/git", f->remote);
	snprintf(live, sizeof(live), "%s/refs/tags/v1.lock", git);

	/* A dead pusher's leftovers: removed by the next push (which holds the lock). */
	assert_int_equal(fs_mkdir_p(git, 0755), 0);
	snprintf(tags, sizeof(tags), "%s/refs/tags", git);
	assert_int_equal(fs_mkdir_p(tags, 0755), 0);
	assert_int_equal(fs_write_file_atomic(live, "x", 1, 0644), 0);
	assert_int_equal(remote_open_url(&r, NULL, f->remote), 0);
	assert_int_equal(remote_push(r, f->a.bs, f->ids, 3, f->a.h, NULL, NULL, NULL), 0);
	assert_int_equal(access(live, F_OK), -1);
	{
		struct history *rh;

		assert_int_equal(history_open(&rh, git), 0);
		expect_versions(rh, 1, v1.commit);
		history_free(rh);
	}
	fs_rm_rf(f->remote);

	/* A live holder: the push waits, and leaves the holder's lock file alone. */
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char lockp[300];
		int ok, lfd;

		close(ready[0]);
		snprintf(tags, sizeof(tags), "%s/refs/tags", git);
		/* The convention, spelled out: flock on git/dsfs.lock (as store/history's commits). */
		snprintf(lockp, sizeof(lockp), "%s/dsfs.lock", git);
		if (fs_mkdir_p(tags, 0755) < 0 ||
		    (lfd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0 ||
		    flock(lfd, LOCK_EX) < 0 || fs_write_file_atomic(live, "x", 1, 0644) < 0)
			_exit(2);
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		usleep(300 * 1000); /* the parent's push starts meanwhile, or not: either way */
		ok = access(live, F_OK) == 0 && unlink(live) == 0;
		close(lfd);
		_exit(ok ? 0 : 1);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &go, 1), 1);
	close(ready[0]);
	assert_int_equal(remote_push(r, f->a.bs, f->ids, 3, f->a.h, NULL, NULL, NULL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0); /* its lock file was still there */
	fs_rm_rf(f->remote);

	/* Four first pushes at once to a fresh remote. */
	for (int k = 0; k < 4; k++) {
		kids[k] = fork();
		assert_true(kids[k] >= 0);
		if (kids[k] == 0) {
			struct blob_store *bs = NULL;
			struct history *h = NULL;
			struct remote *cr = NULL;
			int rc = blob_store_open(&bs, f->a.dir) < 0 || history_open(&h, f->a.git) < 0 ||
				 remote_open_url(&cr, NULL, f->remote) < 0 ||
				 remote_push(cr, bs, f->ids, 3, h, NULL, NULL, NULL) < 0;

			if (rc)
				fprintf(stderr, "child push: %s\n", err_last());
			_exit(rc);
		}
	}
	for (int k = 0; k < 4; k++) {
		assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	{
		struct history *rh;

		assert_int_equal(history_open(&rh, git), 0);
		expect_versions(rh, 1, v1.commit);
		history_free(rh);
	}
	assert_int_equal(remote_blob_count(f), 3);

	remote_free(r);
	history_version_release(&v1);
}

/* A lazy clone pushes to a second remote: blobs it lacks come from origin on the way. */
static void test_clone_pushes_elsewhere(void **state)
{
	struct fixture *f = *state;
	struct history_version v1;
	struct remote_push_stats st;
	struct remote *r = NULL, *origin = NULL, *second = NULL;
	char clone_dir[256], second_dir[256];
	struct side c;

	commit_manifest(f->a.h, f->ids, 3, "v1", &v1);
	assert_int_equal(remote_open_url(&r, "origin", f->remote), 0);
	assert_int_equal(remote_push(r, f->a.bs, f->ids, 3, f->a.h, NULL, NULL, NULL), 0);
	snprintf(clone_dir, sizeof(clone_dir), "%s/c", f->base);
	assert_int_equal(remote_clone(f->remote, clone_dir), 0);
	side_open(&c, f->base, "c");
	snprintf(second_dir, sizeof(second_dir), "%s/second", f->base);
	assert_int_equal(remote_add(c.h, "second", second_dir), 0);
	assert_int_equal(remote_open(&second, c.h, "second"), 0);

	/* Without a fetch hook: refused, saying the blob is in neither place. */
	err_clear();
	assert_int_equal(remote_push(second, c.bs, f->ids, 3, c.h, NULL, NULL, &st), -ENOENT);
	assert_non_null(strstr(err_last(), "is neither here nor on"));
	{
		char head[300];

		snprintf(head, sizeof(head), "%s/git/HEAD", second_dir);
		assert_int_equal(access(head, F_OK), -1);
	}

	/* With origin as the fetch hook (as `dsfs push` sets it): fetched and sent. */
	assert_int_equal(remote_open(&origin, c.h, NULL), 0);
	blob_store_set_fetch(c.bs, remote_blob_fetch, origin);
	assert_int_equal(remote_push(second, c.bs, f->ids, 3, c.h, NULL, NULL, &st), 0);
	assert_int_equal(st.blobs_sent, 3);
	for (int i = 0; i < 3; i++) {
		char path[400];

		remote_blob_path(path, sizeof(path), second_dir, &f->ids[i]);
		assert_int_equal(access(path, F_OK), 0);
	}
	{
		struct history *rh;
		char git[300];

		snprintf(git, sizeof(git), "%s/git", second_dir);
		assert_int_equal(history_open(&rh, git), 0);
		expect_versions(rh, 1, v1.commit);
		history_free(rh);
	}
	blob_store_set_fetch(c.bs, NULL, NULL);

	side_close(&c);
	remote_free(second);
	remote_free(origin);
	remote_free(r);
	history_version_release(&v1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_push_copies_only_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_refuses_bad_blobs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_hook_rejects_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clone_and_lazy_fetch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pull_fast_forward_and_diverged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remote_config_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_refused_before_blobs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_verifies_before_refs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clone_pushes_elsewhere, setup, teardown),
	};

	return cmocka_run_group_tests_name("remote", tests, NULL, NULL);
}
