/*
 * Unit tests for core/dropzone: real JPEGs and PNGs closed in DIR/incoming
 * are in the catalog once each, under their base names and with their
 * sizes, when dropzone_drain() returns; incoming/ is then empty and no blob
 * keeps the name marker.  Refused files (not an image, empty, truncated)
 * land in DIR/rejected with a reason, reachable through incoming/.rejected.
 * A file that someone still has open for writing is not taken (read
 * lease), even when an event or a scan names it, and is taken once closed.
 * Subdirectories made after the start, rsync's rename of a temporary,
 * dotfiles (never taken), hard links (copied, the other link untouched;
 * also an ln while running, which sends no close event), a refused file
 * whose name leaves no room for its .reason (kept once, under a shorter
 * name) and one whose reason cannot be written (kept once, at the next
 * start),
 * leftovers of an earlier run (files in incoming/, marked spools in tmp/,
 * an unmarked one deleted, the spare link of an unfinished group), a group
 * that fails (fault injection), duplicates, four threads draining while 300
 * files arrive, the ingester thread, the notify hook and close with a file
 * pending.  No sleeps: every check follows a drain.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "core/dropzone.h"
#include "core/repo.h"
#include "store/blob.h"
#include "store/catalog.h"
#include "util/buf.h"
#include "util/fault.h"
#include "util/fsutil.h"
#include "testfs.h"
#include "testimg.h"
#include "testrepo.h"

#define MARKER "user.dsfs.name"

struct fx {
	char dir[64];
	char in[128];     /* DIR/incoming */
	struct repo *repo;
	struct dropzone *dz;
};

static int fx_setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx || testrepo_make(fx->dir, sizeof(fx->dir), "dz", &fx->repo) < 0)
		return -1;
	snprintf(fx->in, sizeof(fx->in), "%s/incoming", fx->repo->dir);
	*state = fx;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *fx = *state;

	dropzone_close(fx->dz);
	testrepo_remove(fx->dir, fx->repo);
	free(fx);
	return 0;
}

static void fx_open(struct fx *fx)
{
	assert_int_equal(dropzone_open(&fx->dz, fx->repo), 0);
	assert_string_equal(dropzone_dir(fx->dz), fx->in);
}

static void at(char *out, const struct fx *fx, const char *rel)
{
	snprintf(out, PATH_MAX, "%s/%s", fx->in, rel);
}

/* ---- checks ---- */

static int64_t n_images(struct fx *fx)
{
	int64_t n = -1;

	assert_int_equal(catalog_image_count(fx->repo->cat, &n), 0);
	return n;
}

/* `name` is in the catalog exactly once, w x h, of type ext; its blob has no marker. */
static void assert_image(struct fx *fx, const char *name, int64_t w, int64_t h, const char *ext)
{
	struct catalog_image *imgs = NULL;
	char path[PATH_MAX], val[256];
	struct blob_id id;
	size_t n = 0;

	assert_int_equal(catalog_images_by_name(fx->repo->cat, name, &imgs, &n), 0);
	if (n != 1)
		fail_msg("%s is in the catalog %zu times", name, n);
	assert_int_equal(imgs[0].width, w);
	assert_int_equal(imgs[0].height, h);
	assert_string_equal(imgs[0].ext, ext);
	assert_string_equal(imgs[0].source, "incoming");
	assert_int_equal(blob_id_parse(&id, imgs[0].id), 0);
	assert_int_equal(blob_path(path, sizeof(path), fx->repo->blobs, &id), 0);
	assert_int_equal(access(path, R_OK), 0);
	assert_true(getxattr(path, MARKER, val, sizeof(val)) < 0 && errno == ENODATA);
	free(imgs);
}

static size_t n_named(struct fx *fx, const char *name)
{
	struct catalog_image *imgs = NULL;
	size_t n = 0;

	assert_int_equal(catalog_images_by_name(fx->repo->cat, name, &imgs, &n), 0);
	free(imgs);
	return n;
}


static int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Nothing of ours is left in tmp/ (no spool, no marker file). */
static void assert_tmp_clean(struct fx *fx)
{
	DIR *d = opendir(blob_tmp_dir(fx->repo->blobs));
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "incoming-", 9))
			fail_msg("left in tmp/: %s", e->d_name);
	closedir(d);
}

/* ---- tests ---- */

static void test_layout(void **state)
{
	struct fx *fx = *state;
	char path[PATH_MAX], target[64];
	ssize_t n;

	/* repo_init made the drop zone and the link to rejected/. */
	at(path, fx, ".rejected");
	assert_true((n = readlink(path, target, sizeof(target) - 1)) > 0);
	target[n] = '\0';
	assert_string_equal(target, "../rejected");
	/* An older dataset without them gets both from dropzone_open. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(fx->in), 0);
	fx_open(fx);
	assert_true((n = readlink(path, target, sizeof(target) - 1)) > 0);
	assert_int_equal(dropzone_drain(fx->dz), 0);
	assert_int_equal(n_images(fx), 0);
}

static void test_images(void **state)
{
	struct fx *fx = *state;
	char path[PATH_MAX];

	fx_open(fx);
	at(path, fx, "a.jpg");
	write_jpeg(path, 64, 48, 1);
	at(path, fx, "b.jpeg");
	write_jpeg(path, 33, 17, 2);
	at(path, fx, "c.png");
	write_png(path, 40, 30, 3);
	at(path, fx, "d.PNG");
	write_png(path, 5, 70, 4);
	at(path, fx, "no-extension");
	write_jpeg(path, 20, 20, 5);
	assert_int_equal(dropzone_drain(fx->dz), 0);
	assert_int_equal(n_images(fx), 5);
	assert_image(fx, "a.jpg", 64, 48, "jpg");
	assert_image(fx, "b.jpeg", 33, 17, "jpg");
	assert_image(fx, "c.png", 40, 30, "png");
	assert_image(fx, "d.PNG", 5, 70, "png");
	assert_image(fx, "no-extension", 20, 20, "jpg");
	assert_int_equal(testfs_files(fx->in), 0);
	assert_int_equal(testfs_files(fx->repo->rejected_dir), 0);
	assert_tmp_clean(fx);
	/* A drain with nothing new is a no-op. */
	assert_int_equal(dropzone_drain(fx->dz), 0);
	assert_int_equal(n_images(fx), 5);
}

static void assert_rejected(struct fx *fx, const char *name, const char *reason_part)
{
	char path[PATH_MAX], val[256];
	struct buf reason = BUF_INIT;

	snprintf(path, sizeof(path), "%s/%s", fx->repo->rejected_dir, name);
	assert_true(exists(path));
	assert_true(getxattr(path, MARKER, val, sizeof(val)) < 0 && errno == ENODATA);
	/* The same file through the drop zone's link. */
	snprintf(path, sizeof(path), "%s/.rejected/%s.reason", fx->in, name);
	assert_int_equal(fs_read_file(&reason, path), 0);
	if (!strstr(reason.ptr, reason_part))
		fail_msg("reason for %s: %s", name, reason.ptr);
	buf_release(&reason);
	assert_int_equal(n_named(fx, name), 0);
}

static void test_rejects(void **state)
{
	struct fx *fx = *state;
	char path[PATH_MAX], content[64];
	unsigned char *jpg;
	unsigned long len;

	fx_open(fx);
	at(path, fx, "x.jpg");
	write_bytes(path, "this is text, not a JPEG\n", 25);
	at(path, fx, "empty.jpg");
	write_bytes(path, "", 0);
	make_jpeg(&jpg, &len, 64, 64, 9);
	at(path, fx, "cut.jpg");
	write_bytes(path, jpg, len / 2);
	testimg_free(jpg);
	assert_int_equal(dropzone_drain(fx->dz), 0);
	assert_int_equal(n_images(fx), 0);
	assert_rejected(fx, "x.jpg", "not a JPEG or PNG");
	assert_rejected(fx, "empty.jpg", "empty");
	assert_rejected(fx, "cut.jpg", "truncated JPEG");
	snprintf(path, sizeof(path), "%s/.rejected/x.jpg", fx->in);
	struct buf b = BUF_INIT;
	assert_int_equal(fs_read_file(&b, path), 0);
	assert_int_equal(b.len, 25);
	memcpy(content, b.ptr, 25);
	assert_memory_equal(content, "this is text, not a JPEG\n", 25);
	buf_release(&b);
	assert_int_equal(testfs_files(fx->in), 0);
	assert_tmp_clean(fx);
}

/*
 * Two writers: the one that closes first sends IN_CLOSE_WRITE while the
 * other still writes; a file open for writing before the start is found by
 * the scan.  Neither may be taken until the last writer closed it.
 */
static void test_open_writer(void **state)
{
	struct fx *fx = *state;
	char early[PATH_MAX], shared[PATH_MAX], other[PATH_MAX];
	unsigned char *jpg;
	unsigned long len;
	int fd_early, fd_a, fd_b;

	make_jpeg(&jpg, &len, 50, 40, 11);
	at(early, fx, "early.jpg");
	assert_true((fd_early = open(early, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0);
	assert_int_equal(write(fd_early, jpg, len / 2), (ssize_t)(len / 2));
	fx_open(fx); /* its scan sees early.jpg, half written */

	at(shared, fx, "shared.jpg");
	assert_true((fd_a = open(shared, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0);
	assert_true((fd_b = open(shared, O_WRONLY)) >= 0);
	assert_int_equal(write(fd_a, jpg, len / 2), (ssize_t)(len / 2));
	assert_int_equal(close(fd_b), 0); /* IN_CLOSE_WRITE; fd_a still writes */
	at(other, fx, "other.jpg");
	write_jpeg(other, 10, 10, 12);

	assert_int_equal(dropzone_drain(fx->dz), 0);
	assert_image(fx, "other.jpg", 10, 10, "jpg");
	assert_true(exists(early));
	assert_true(exists(shared));
	assert_int_equal(n_images(fx), 1);
	assert_int_equal(testfs_files(fx->repo->rejected_dir), 0);
	/* Still not, however often one asks. */
	assert_int_equal(dropzone_drain(fx->dz), 0);
	assert_true(exists(shared));

	assert_int_equal(write(fd_a, jpg + len / 2, len - len / 2), (ssize_t)(len - len / 2));
	assert_int_equal(close(fd_a), 0);
	assert_int_equal(write(fd_early, jpg + len / 2, len - len / 2), (ssize_t)(len - len / 2));
	assert_int_equal(close(fd_early), 0);
	testimg_free(jpg);
	assert_int_equal(dropzone_drain(fx->dz), 0);
	assert_false(exists(early));
	assert_false(exists(shared));
	/* Same bytes under two names: one image (the first name taken). */
	assert_int_equal(n_images(fx), 2);
	assert_int_equal(n_named(fx, "early.jpg") + n_named(fx, "shared.jpg"), 1);
	assert_int_equal(testfs_files(fx->repo->rejected_dir), 0);
	assert_int_equal(testfs_files(fx->in), 0);
	assert_tmp_clean(fx);
}

static void test_subdirs(void **state)
{
	struct fx *fx = *state;
	char path[PATH_MAX];

	fx_open(fx);
	at(path, fx, "photos");
	assert_int_equal(mkdir(path, 0755), 0);
	at(path, fx, "photos/2024");
	assert_int_equal(mkdir(path, 0755), 0);
	at(path, fx, "photos/2024/deep");
	assert_int_equal(mkdir(path, 0755), 0);
	at(path, fx, "photos/p1.jpg");
	write_jpeg(path, 31, 32, 21);
	at(path, fx, "photos/2024/p2.png");
	write_png(path, 8, 9, 22);
	at(path, fx, "photos/2024/deep/p3.jpg");
	write_jpeg(path, 12, 13, 23);
	at(path, fx, "empty");
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(dropzone_drain(fx->dz), 0);
	assert_int_equal(n_images(fx), 3);
	assert_image(fx, "p1.jpg", 31, 32, "jpg");
	assert_image(fx, "p2.png", 8, 9, "png");
	assert_image(fx, "p3.jpg", 12, 13, "jpg");
	assert_int_equal(testfs_files(fx->in), 0);
	/* Directories stay; empty ones are left alone. */
	at(path, fx, "photos/2024/deep");
	assert_true(exists(path));
	at(path, fx, "empty");
	assert_true(exists(path));

	/* A directory moved in whole (mv), with files written before the move. */
	char outside[PATH_MAX], file[PATH_MAX + 16];
	snprintf(outside, sizeof(outside), "%s/outside", fx->dir);
	assert_int_equal(mkdir(outside, 0755), 0);
	snprintf(file, sizeof(file), "%s/m.jpg", outside);
	write_jpeg(file, 14, 15, 24);
	at(path, fx, "photos/moved");
	assert_int_equal(rename(outside, path), 0);
	/* ...and a file into the directory after it moved. */
	at(path, fx, "photos/moved/n.jpg");
	write_jpeg(path, 16, 17, 25);
	assert_int_equal(dropzone_drain(fx->dz), 0);
	assert_image(fx, "m.jpg", 14, 15, "jpg");
	assert_image(fx, "n.jpg", 16, 17, "jpg");
	assert_int_equal(testfs_files(fx->in), 0);
}

static void test_rsync_and_dotfiles(void **state)
{
	struct fx *fx = *state;
	char tmp[PATH_MAX], final[PATH_MAX], hidden[PATH_MAX], hdir[PATH_MAX];

	fx_open(fx);
	at(tmp, fx, ".a.jpg.XyZ123");
	write_jpeg(tmp, 24, 25, 31);
	at(hidden, fx, ".hidden.jpg");
	write_jpeg(hidden, 26, 27, 32);
	at(hdir, fx, ".git");
	assert_int_equal(mkdir(hdir, 0755), 0);
	at(hdir, fx, ".git/inside.jpg");
	write_jpeg(hdir, 28, 29, 33);
	/* The temporary is complete and closed, but a dotfile: not taken. */
	assert_int_equal(dropzone_drain(fx->dz), 0);
	assert_int_equal(n_images(fx), 0);
	assert_true(exists(tmp));
	at(final, fx, "a.jpg");
	assert_int_equal(rename(tmp, final), 0);
	assert_int_equal(dropzone_drain(fx->dz), 0);
	assert_int_equal(n_images(fx), 1);
	assert_image(fx, "a.jpg", 24, 25, "jpg");
	assert_int_equal(n_named(fx, ".a.jpg.XyZ123"), 0);
	assert_true(exists(hidden));
	assert_true(exists(hdir));
	assert_int_equal(testfs_files(fx->in), 2); /* the two dotfiles */
	/* Symlinks and FIFOs are left as they are. */
	char link[PATH_MAX], fifo[PATH_MAX];
	at(link, fx, "link.jpg");
	assert_int_equal(symlink(hidden, link), 0);
	at(fifo, fx, "fifo.jpg");
	assert_int_equal(mkfifo(fifo, 0644), 0);
	dropzone_close(fx->dz);
	fx->dz = NULL;
	fx_open(fx); /* the start scan meets both */
	assert_int_equal(dropzone_drain(fx->dz), 0);
	assert_true(exists(link));
	assert_true(exists(fifo));
	assert_int_equal(n_images(fx), 1);
}

/* A file with another link is copied: the blob never shares an inode with a user's file. */
static void test_hard_link(void **state)
{
	struct fx *fx = *state;
	char orig[PATH_MAX], in[PATH_MAX], val[64];
	struct stat st;

	snprintf(orig, sizeof(orig), "%s/mine.jpg", fx->dir);
	write_jpeg(orig, 18, 19, 41);
	at(in, fx, "linked.jpg");
	assert_int_equal(link(orig, in), 0); /* no close event: the start's scan finds it */
	fx_open(fx);
	assert_int_equal(dropzone_drain(fx->dz), 0);
	assert_false(exists(in));
	assert_image(fx, "linked.jpg", 18, 19, "jpg");
	assert_int_equal(stat(orig, &st), 0);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_true(getxattr(orig, MARKER, val, sizeof(val)) < 0 && errno == ENODATA);
	assert_tmp_clean(fx);
}

/*
 * ln into the watched tree while the drop zone runs: IN_CREATE and no
 * close event.  Taken at the next drain, at the top and in a subdirectory,
 * also when the other name is gone by then; the user's own link is left.
 * A file a writer created but has not written yet is left to its close.
 */
static void test_hard_link_running(void **state)
{
	struct fx *fx = *state;
	char orig[PATH_MAX], orig2[PATH_MAX], in[PATH_MAX], val[64];
	struct stat st;
	int fd;

	fx_open(fx);
	at(in, fx, "sub");
	assert_int_equal(mkdir(in, 0755), 0);
	assert_int_equal(dropzone_drain(fx->dz), 0); /* sub is watched from now on */

	snprintf(orig, sizeof(orig), "%s/hl.jpg", fx->dir);
	write_jpeg(orig, 21, 22, 42);
	at(in, fx, "hl2.jpg");
	assert_int_equal(link(orig, in), 0);
	assert_int_equal(dropzone_drain(fx->dz), 0);
	assert_false(exists(in));
	assert_image(fx, "hl2.jpg", 21, 22, "jpg");
	assert_int_equal(stat(orig, &st), 0);
	assert_int_equal(st.st_nlink, 1);
	assert_true(getxattr(orig, MARKER, val, sizeof(val)) < 0 && errno == ENODATA);

	at(in, fx, "sub/hl3.png");
	snprintf(orig2, sizeof(orig2), "%s/hl3.png", fx->dir);
	write_png(orig2, 23, 24, 43);
	assert_int_equal(link(orig2, in), 0);
	assert_int_equal(dropzone_drain(fx->dz), 0);
	assert_false(exists(in));
	assert_image(fx, "hl3.png", 23, 24, "png");
	assert_int_equal(stat(orig2, &st), 0);
	assert_int_equal(st.st_nlink, 1);

	/* ln, then rm of the other name before the drop zone looks: one link left. */
	write_jpeg(orig2, 25, 26, 44);
	at(in, fx, "sub/solo.jpg");
	assert_int_equal(link(orig2, in), 0);
	assert_int_equal(unlink(orig2), 0);
	assert_int_equal(dropzone_drain(fx->dz), 0);
	assert_false(exists(in));
	assert_image(fx, "solo.jpg", 25, 26, "jpg");

	/* Created, not yet written: neither taken nor rejected as empty. */
	at(in, fx, "late.jpg");
	assert_true((fd = open(in, O_WRONLY | O_CREAT | O_EXCL, 0644)) >= 0);
	assert_int_equal(dropzone_drain(fx->dz), 0);
	assert_true(exists(in));
	assert_int_equal(testfs_files(fx->repo->rejected_dir), 0);
	assert_int_equal(close(fd), 0);
	write_jpeg(in, 27, 28, 45);
	assert_int_equal(dropzone_drain(fx->dz), 0);
	assert_image(fx, "late.jpg", 27, 28, "jpg");
	assert_int_equal(n_images(fx), 4);
	assert_int_equal(testfs_files(fx->in), 0);
	assert_int_equal(testfs_files(fx->repo->rejected_dir), 0);
	assert_tmp_clean(fx);
}

/* Kept files (not .reason) in rejected/ named `prefix`...; the k-th in name order into out. */
static int find_kept(char out[NAME_MAX + 1], struct fx *fx, const char *prefix, int k)
{
	struct dirent **v = NULL;
	int n = scandir(fx->repo->rejected_dir, &v, NULL, alphasort), found = 0;

	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		const char *d = v[i]->d_name;
		size_t len = strlen(d);

		if (!strncmp(d, prefix, strlen(prefix)) &&
		    !(len > 7 && !strcmp(d + len - 7, ".reason")) && found++ == k)
			snprintf(out, NAME_MAX + 1, "%s", d);
		free(v[i]);
	}
	free(v);
	return found;
}

/*
 * A refused file whose name leaves no room for "<name>.reason" (NAME_MAX):
 * kept under a shorter name with its extension, the reason beside it, once;
 * a restart adds nothing.  Two such names that differ only at the end are
 * kept apart.
 */
static void test_reject_long_name(void **state)
{
	struct fx *fx = *state;
	char name[NAME_MAX + 1], name2[NAME_MAX + 1], path[PATH_MAX], kept[NAME_MAX + 1];
	char kept2[NAME_MAX + 1];

	memset(name, 'b', 250);
	strcpy(name + 250, ".jpg");
	memcpy(name2, name, sizeof(name));
	name2[249] = 'c';
	fx_open(fx);
	at(path, fx, name);
	write_bytes(path, "junk\n", 5);
	at(path, fx, name2);
	write_bytes(path, "junk\n", 5);
	assert_int_equal(dropzone_drain(fx->dz), 0);
	assert_int_equal(testfs_files(fx->in), 0);
	assert_tmp_clean(fx);
	assert_int_equal(testfs_entries(fx->repo->rejected_dir), 4);
	assert_int_equal(find_kept(kept, fx, "bbbb", 0), 2);
	assert_int_equal(find_kept(kept2, fx, "bbbb", 1), 2);
	assert_string_not_equal(kept, kept2);
	assert_true(strlen(kept) + strlen(".reason") <= NAME_MAX);
	assert_string_equal(kept + strlen(kept) - 4, ".jpg");
	assert_rejected(fx, kept, "not a JPEG or PNG");
	assert_rejected(fx, kept2, "not a JPEG or PNG");

	/* The same name again: another kept name, also with room for its reason. */
	at(path, fx, name);
	write_bytes(path, "junk\n", 5);
	assert_int_equal(dropzone_drain(fx->dz), 0);
	assert_int_equal(testfs_entries(fx->repo->rejected_dir), 6);

	dropzone_close(fx->dz);
	fx->dz = NULL;
	fx_open(fx);
	assert_int_equal(dropzone_drain(fx->dz), 0);
	assert_int_equal(testfs_entries(fx->repo->rejected_dir), 6);
	assert_int_equal(n_images(fx), 0);
	assert_tmp_clean(fx);
}

/*
 * The reason of a refused file cannot be written (ENOSPC): the file stays
 * in tmp/ instead of being kept half (no reason), and the next start keeps
 * it once, with its reason.
 */
static void test_reject_reason_fails(void **state)
{
#ifdef DSFS_FAULT_INJECTION
	struct fx *fx = *state;
	char path[PATH_MAX];

	fx_open(fx);
	at(path, fx, "x.jpg");
	write_bytes(path, "text\n", 5);
	fault_arm(FAULT_INGEST_REASON, 1);
	assert_int_equal(dropzone_drain(fx->dz), 0);
	fault_arm(FAULT_INGEST_REASON, 0);
	assert_int_equal(testfs_entries(fx->repo->rejected_dir), 0);
	assert_int_equal(testfs_files(fx->in), 0);
	assert_int_equal(testfs_files(blob_tmp_dir(fx->repo->blobs)), 1);

	dropzone_close(fx->dz);
	fx->dz = NULL;
	fx_open(fx);
	assert_int_equal(dropzone_drain(fx->dz), 0);
	assert_int_equal(testfs_entries(fx->repo->rejected_dir), 2);
	assert_rejected(fx, "x.jpg", "not a JPEG or PNG");
	assert_tmp_clean(fx);
	dropzone_close(fx->dz);
	fx->dz = NULL;
	fx_open(fx);
	assert_int_equal(dropzone_drain(fx->dz), 0);
	assert_int_equal(testfs_entries(fx->repo->rejected_dir), 2);
#else
	(void)state;
	skip();
#endif
}

/* What an earlier run left: files in incoming/, marked and unmarked spools in tmp/. */
static void test_leftovers(void **state)
{
	struct fx *fx = *state;
	const char *tmp = blob_tmp_dir(fx->repo->blobs);
	char path[PATH_MAX + 8], marked[PATH_MAX], byfile[PATH_MAX], unmarked[PATH_MAX],
		orphan[PATH_MAX];

	at(path, fx, "before.jpg");
	write_jpeg(path, 44, 45, 51);
	at(path, fx, "sub");
	assert_int_equal(mkdir(path, 0755), 0);
	at(path, fx, "sub/before2.png");
	write_png(path, 46, 47, 52);
	snprintf(marked, sizeof(marked), "%s/incoming-aaaaaa", tmp);
	write_jpeg(marked, 48, 49, 53);
	assert_int_equal(setxattr(marked, MARKER, "spooled.jpg", 11, 0), 0);
	snprintf(byfile, sizeof(byfile), "%s/incoming-bbbbbb", tmp);
	write_png(byfile, 50, 51, 54);
	snprintf(path, sizeof(path), "%s.name", byfile);
	write_bytes(path, "fallback.png", 12);
	snprintf(unmarked, sizeof(unmarked), "%s/incoming-cccccc", tmp);
	write_jpeg(unmarked, 52, 53, 55);
	snprintf(orphan, sizeof(orphan), "%s/incoming-dddddd.name", tmp);
	write_bytes(orphan, "gone.jpg", 8);
	/* The second link of a spool whose group never finished (the spool itself gone). */
	snprintf(path, sizeof(path), "%s/incoming-eeeeee.keep", tmp);
	write_jpeg(path, 54, 55, 56);
	assert_int_equal(setxattr(path, MARKER, "kept.jpg", 8, 0), 0);

	fx_open(fx);
	/* Queued, not ingested; the unfinished spool and the stray marker are gone. */
	assert_int_equal(n_images(fx), 0);
	assert_false(exists(unmarked));
	assert_false(exists(orphan));
	assert_int_equal(dropzone_drain(fx->dz), 0);
	assert_int_equal(n_images(fx), 5);
	assert_image(fx, "kept.jpg", 54, 55, "jpg");
	assert_image(fx, "before.jpg", 44, 45, "jpg");
	assert_image(fx, "before2.png", 46, 47, "png");
	assert_image(fx, "spooled.jpg", 48, 49, "jpg");
	assert_image(fx, "fallback.png", 50, 51, "png");
	assert_int_equal(testfs_files(fx->in), 0);
	assert_tmp_clean(fx);
}

static void test_duplicates(void **state)
{
	struct fx *fx = *state;
	char a[PATH_MAX], b[PATH_MAX], c[PATH_MAX];
	unsigned char *jpg;
	unsigned long len;

	fx_open(fx);
	make_jpeg(&jpg, &len, 30, 20, 61);
	at(a, fx, "one.jpg");
	write_bytes(a, jpg, len);
	at(b, fx, "two.jpg");
	write_bytes(b, jpg, len);
	assert_int_equal(dropzone_drain(fx->dz), 0);
	assert_int_equal(n_images(fx), 1);
	assert_int_equal(n_named(fx, "one.jpg") + n_named(fx, "two.jpg"), 1);
	at(c, fx, "three.jpg");
	write_bytes(c, jpg, len);
	testimg_free(jpg);
	assert_int_equal(dropzone_drain(fx->dz), 0);
	assert_int_equal(n_images(fx), 1);
	assert_int_equal(testfs_files(fx->in), 0);
	assert_int_equal(testfs_files(fx->repo->rejected_dir), 0);
	assert_tmp_clean(fx);
}

#define N_ARRIVING 300
#define N_DRAINERS 4

struct drainer {
	struct dropzone *dz;
	int *done;             /* protected by mu */
	pthread_mutex_t *mu;
	int errors;
};

static void *drainer_main(void *arg)
{
	struct drainer *d = arg;
	int done;

	do {
		pthread_mutex_lock(d->mu);
		done = *d->done;
		pthread_mutex_unlock(d->mu);
		if (dropzone_drain(d->dz) < 0)
			d->errors++;
	} while (!done);
	return NULL;
}

static void notify_count(void *arg)
{
	(*(int *)arg)++;
}

static void test_many_drainers(void **state)
{
	struct fx *fx = *state;
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	struct drainer d[N_DRAINERS];
	pthread_t th[N_DRAINERS];
	char path[PATH_MAX], name[32];
	int done = 0, notified = 0;

	fx_open(fx);
	dropzone_set_notify(fx->dz, notify_count, &notified);
	for (int t = 0; t < N_DRAINERS; t++) {
		d[t] = (struct drainer){ fx->dz, &done, &mu, 0 };
		assert_int_equal(pthread_create(&th[t], NULL, drainer_main, &d[t]), 0);
	}
	for (int i = 0; i < N_ARRIVING; i++) {
		/* Distinct sizes, hence distinct bytes. */
		snprintf(name, sizeof(name), "f%03d.jpg", i);
		at(path, fx, name);
		write_jpeg(path, 16 + (unsigned)i % 50, 16 + (unsigned)i / 50, (unsigned)i);
	}
	pthread_mutex_lock(&mu);
	done = 1;
	pthread_mutex_unlock(&mu);
	for (int t = 0; t < N_DRAINERS; t++) {
		assert_int_equal(pthread_join(th[t], NULL), 0);
		assert_int_equal(d[t].errors, 0);
	}
	/* Each drainer's last drain started after the last close. */
	assert_int_equal(n_images(fx), N_ARRIVING);
	for (int i = 0; i < N_ARRIVING; i++) {
		snprintf(name, sizeof(name), "f%03d.jpg", i);
		assert_image(fx, name, 16 + i % 50, 16 + i / 50, "jpg");
	}
	assert_true(notified >= 1);
	assert_int_equal(testfs_files(fx->in), 0);
	assert_tmp_clean(fx);
}

static void test_thread(void **state)
{
	struct fx *fx = *state;
	char path[PATH_MAX], name[32];
	int notified = 0;

	fx_open(fx);
	dropzone_set_notify(fx->dz, notify_count, &notified);
	assert_int_equal(dropzone_start(fx->dz), 0);
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "t%02d.png", i);
		at(path, fx, name);
		write_png(path, 10 + (unsigned)i, 11, (unsigned)i);
	}
	assert_int_equal(dropzone_drain(fx->dz), 0);
	assert_int_equal(n_images(fx), 40);
	assert_true(notified >= 1);
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "t%02d.png", i);
		assert_image(fx, name, 10 + i, 11, "png");
	}
	/* Close with the thread running and a file just closed. */
	at(path, fx, "last.jpg");
	write_jpeg(path, 19, 18, 99);
	dropzone_close(fx->dz);
	fx->dz = NULL;
	assert_image(fx, "last.jpg", 19, 18, "jpg");
	assert_int_equal(testfs_files(fx->in), 0);
	assert_tmp_clean(fx);
}

static void test_close_pending(void **state)
{
	struct fx *fx = *state;
	char path[PATH_MAX], open_path[PATH_MAX];
	int fd;

	fx_open(fx);
	at(path, fx, "pending.jpg");
	write_jpeg(path, 21, 22, 71);
	at(open_path, fx, "writing.jpg");
	assert_true((fd = open(open_path, O_WRONLY | O_CREAT, 0644)) >= 0);
	assert_int_equal(write(fd, "\xff\xd8", 2), 2);
	dropzone_close(fx->dz);
	fx->dz = NULL;
	assert_image(fx, "pending.jpg", 21, 22, "jpg");
	/* Still open for writing: stays for the next start. */
	assert_true(exists(open_path));
	assert_int_equal(n_images(fx), 1);
	assert_int_equal(testfs_files(fx->repo->rejected_dir), 0);
	assert_int_equal(close(fd), 0);
}

/*
 * Where xattrs don't work the marker is a "<spool>.name" file; a group that
 * fails as a whole (the catalog transaction) leaves its marked spools in
 * tmp/, and the next start ingests them under their names.
 */
static void test_marker_file_and_group_failure(void **state)
{
#ifdef DSFS_FAULT_INJECTION
	struct fx *fx = *state;
	const char *tmp = blob_tmp_dir(fx->repo->blobs);
	char path[PATH_MAX];
	struct dirent *e;
	int spools = 0, markers = 0;
	DIR *d;

	fx_open(fx);
	at(path, fx, "m1.jpg");
	write_jpeg(path, 34, 35, 81);
	at(path, fx, "m2.png");
	write_png(path, 36, 37, 82);
	fault_arm(FAULT_DROPZONE_NO_XATTR, 2);
	fault_arm(FAULT_CATALOG_BUSY, 1);
	assert_true(dropzone_drain(fx->dz) < 0);
	fault_arm(FAULT_CATALOG_BUSY, 0);
	assert_int_equal(n_images(fx), 0);
	assert_int_equal(testfs_files(fx->in), 0);
	assert_non_null(d = opendir(tmp));
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "incoming-", 9))
			continue;
		if (strstr(e->d_name, ".name"))
			markers++;
		else
			spools++;
	}
	closedir(d);
	assert_int_equal(spools, 2);
	assert_int_equal(markers, 2);

	dropzone_close(fx->dz);
	fx->dz = NULL;
	fx_open(fx);
	assert_int_equal(n_images(fx), 0);
	assert_int_equal(dropzone_drain(fx->dz), 0);
	assert_image(fx, "m1.jpg", 34, 35, "jpg");
	assert_image(fx, "m2.png", 36, 37, "png");
	assert_tmp_clean(fx);
#else
	(void)state;
	skip();
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_layout, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_images, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rejects, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_open_writer, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_subdirs, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rsync_and_dotfiles, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_hard_link, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_hard_link_running, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_reject_long_name, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_reject_reason_fails, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_leftovers, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_duplicates, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_many_drainers, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_thread, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_close_pending, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_marker_file_and_group_failure, fx_setup,
						fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
