/* Ingest of files into the dataset (see ingest.h). */
#include "ingest.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/repo.h"
#include "store/blob.h"
#include "store/blob_hash.h"
#include "util/err.h"
#include "util/fault.h"
#include "util/fsutil.h"
#include "util/log.h"

static void fill_image(struct catalog_image *img, const struct blob_id *id,
		       const struct image_info *info, uint64_t bytes, const char *name,
		       const char *source)
{
	memset(img, 0, sizeof(*img));
	blob_id_hex(img->id, id);
	snprintf(img->ext, sizeof(img->ext), "%s", info->ext);
	img->bytes = (int64_t)bytes;
	img->width = info->width;
	img->height = info->height;
	snprintf(img->source, sizeof(img->source), "%s", source ? source : "");
	fs_iso8601(img->ingested_at, sizeof(img->ingested_at), 0);
	snprintf(img->name, sizeof(img->name), "%s", name);
}

static int copy_file(const char *src, const char *dst)
{
	char buf[65536];
	int in, out, error = 0;
	ssize_t n;

	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return err_set(-errno, "cannot open %s: %s", src, strerror(errno));
	if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0) {
		error = -errno;
		close(in);
		return error == -EEXIST ? error : err_set(error, "cannot create %s: %s", dst, strerror(-error));
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)n) != n) {
			error = err_set(-EIO, "cannot write %s: %s", dst, strerror(errno));
			break;
		}
	}
	if (n < 0)
		error = err_set(-errno, "cannot read %s: %s", src, strerror(errno));
	if (!error && fsync(out) < 0)
		error = err_set(-errno, "fsync %s: %s", dst, strerror(errno));
	close(in);
	close(out);
	if (error)
		unlink(dst);
	return error;
}

#define REASON_EXT ".reason"
/* fs_write_file_atomic writes "<path>.tmp.XXXXXX" first. */
#define ATOMIC_TMP_EXT ".tmp.XXXXXX"

/* FNV-1a: a short tag that tells cut names apart. */
static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

/*
 * Candidate `i` (0, 1, ...) under rejected/ for a file named `name`:
 * "name", then "name.1", "name.2" ...  The name is cut when
 * "<candidate>.reason" (and the temporary it is written through) would not
 * fit in NAME_MAX: the start of the stem, "~" and a hash of the whole name,
 * then the extension, so it still says what it was and stays unique.
 */
static void rejected_name(char out[CATALOG_NAME_MAX], const char *name, int i)
{
	char suffix[16] = "", tag[16];
	size_t len = strlen(name), max, ext = 0, stem;
	const char *dot = strrchr(name, '.');

	if (i)
		snprintf(suffix, sizeof(suffix), ".%d", i);
	max = NAME_MAX - strlen(REASON_EXT ATOMIC_TMP_EXT) - strlen(suffix);
	if (len <= max) {
		snprintf(out, CATALOG_NAME_MAX, "%s%s", name, suffix);
		return;
	}
	if (dot && dot != name && strlen(dot) <= 16)
		ext = strlen(dot);
	snprintf(tag, sizeof(tag), "~%08x", (unsigned)name_hash(name));
	stem = max - ext - strlen(tag);
	while (stem > 0 && ((uint8_t)name[stem] & 0xc0) == 0x80)
		stem--; /* not in the middle of a UTF-8 character */
	snprintf(out, CATALOG_NAME_MAX, "%.*s%s%s%s", (int)stem, name, tag, name + len - ext, suffix);
}

/*
 * Keep a refused file: copy (or, with `move`, rename) `path` to
 * rejected/<kept_as> (see rejected_name) and write the reason beside it in
 * <kept_as>.reason.  The chosen name goes into kept_as[CATALOG_NAME_MAX].
 * All or nothing: when the reason cannot be written, the kept file goes
 * (a moved one back to `path`), so a retry does not keep it twice.
 */
static int keep_rejected(struct repo *repo, const char *path, const char *name,
			 const char *reason, int move, char *kept_as)
{
	char dst[PATH_MAX], rpath[PATH_MAX + 8], text[512];
	int error = -EEXIST;

	/* A ".reason" name of our own must not be shadowed by a user file. */
	for (int i = 0; i < 10000 && error == -EEXIST; i++) {
		rejected_name(kept_as, name, i);
		snprintf(dst, sizeof(dst), "%s/%s", repo->rejected_dir, kept_as);
		snprintf(rpath, sizeof(rpath), "%s" REASON_EXT, dst);
		if (access(rpath, F_OK) == 0 || access(dst, F_OK) == 0) {
			error = -EEXIST;
			continue;
		}
		if (move) {
			error = rename(path, dst) < 0 ? err_set(-errno, "cannot move %s to %s: %s",
							       path, dst, strerror(errno)) : 0;
		} else {
			error = copy_file(path, dst);
		}
	}
	if (error)
		return error;
	snprintf(text, sizeof(text), "%s\n", reason);
	if (fault_sim(FAULT_INGEST_REASON))
		error = err_set(-ENOSPC, "cannot write %s: %s", rpath, strerror(ENOSPC));
	else
		error = fs_write_file_atomic(rpath, text, strlen(text), 0644);
	if (error < 0) {
		if (!move)
			unlink(dst);
		else if (rename(dst, path) < 0)
			LOG_E("ingest: cannot put %s back to %s: %s", dst, path, strerror(errno));
		return error;
	}
	return 0;
}

static int reject(struct ingest_result *res, struct repo *repo, const char *path,
		  const char *name, int move)
{
	res->status = INGEST_REJECTED;
	snprintf(res->reason, sizeof(res->reason), "%s", err_last());
	return keep_rejected(repo, path, name, res->reason, move, res->kept_as);
}

/* Files up to this size are read into memory once for probing, hashing and spooling. */
#define STAGE_IN_MEMORY (32u << 20)

static int read_whole(int fd, char *dst, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, dst + got, len - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		got += (size_t)n;
	}
	return 0;
}

/* Item `it` could not be stored: keep the code and this thread's message. */
static int item_fail(struct ingest_item *it, int error)
{
	it->error = error;
	snprintf(it->message, sizeof(it->message), "%s", err_msg(error));
	return 0;
}

/*
 * Probe item `it` and leave an accepted image spooled in tmp/ with its
 * hash: tmp_path and fill `img`.  Returns 1 if accepted, 0 if rejected or
 * failed (outcome in the item).
 */
static int stage_one(struct ingest_item *it, struct repo *repo, const char *source,
		     const char *dir, char *tmp_path, struct catalog_image *img)
{
	const char *name = it->name ? it->name : fs_basename(it->path);
	struct image_info info;
	struct blob_id id;
	struct stat st;
	uint64_t size;
	char *mem = NULL;
	int fd, error, bad;

	memset(&it->res, 0, sizeof(it->res));
	it->error = 0;
	it->message[0] = '\0';
	err_clear();
	if ((fd = open(it->path, O_RDONLY | O_CLOEXEC)) < 0)
		return item_fail(it, err_set(-errno, "cannot open %s: %s", it->path, strerror(errno)));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return item_fail(it, err_set(-EINVAL, "%s is not a regular file", it->path));
	}
	size = (uint64_t)st.st_size;
	/* Small sources: one read serves the probe, the hash and the copy. */
	if (!it->spooled && size && size <= STAGE_IN_MEMORY && (mem = malloc((size_t)size)) &&
	    read_whole(fd, mem, (size_t)size) < 0) {
		free(mem);
		mem = NULL;
	}
	err_clear();
	if (mem) {
		size_t tail = size < IMAGEINFO_TAIL ? (size_t)size : IMAGEINFO_TAIL;
		bad = imageinfo_probe(&info, (uint8_t *)mem, (size_t)size,
				      (uint8_t *)mem + size - tail, tail, size) < 0;
	} else {
		bad = imageinfo_probe_fd(&info, fd, size) < 0;
	}
	if (bad) {
		free(mem);
		close(fd);
		if ((error = reject(&it->res, repo, it->path, name, it->spooled)) < 0)
			item_fail(it, error);
		return 0;
	}
	if (it->spooled) {
		snprintf(tmp_path, PATH_MAX, "%s", it->path);
		if (it->have_hash)
			id = it->hash;
		else if ((error = blob_hash_fd(&id, fd)) < 0)
			goto fail;
	} else if (mem) {
		if ((error = blob_spool_buf(tmp_path, &id, repo->blobs, dir, mem, (size_t)size)) < 0)
			goto fail;
	} else if ((error = blob_spool_fd(tmp_path, &id, &size, repo->blobs, dir, fd)) < 0) {
		goto fail;
	}
	free(mem);
	close(fd);
	fill_image(img, &id, &info, size, name, source);
	return 1;
fail:
	free(mem);
	close(fd);
	return item_fail(it, error);
}

/* Stage items t, t + INGEST_STAGE_THREADS, ... of the group (staging thread t). */
struct stage_job {
	struct ingest_group *g;
	int t;
	const char *source;
};

static void *stage_worker(void *arg)
{
	struct stage_job *j = arg;
	struct ingest_group *g = j->g;
	const char *dir = g->dirs[j->t][0] ? g->dirs[j->t] : NULL;

	for (size_t i = (size_t)j->t; i < g->n; i += INGEST_STAGE_THREADS)
		g->staged[i] = (char)stage_one(&g->items[i], g->repo, j->source, dir, g->paths[i],
					       &g->imgs[i]);
	return NULL;
}

/* Release the group; its spool dirs are empty by now (adopted or unlinked). */
static void group_free(struct ingest_group *g)
{
	for (int t = 0; t < INGEST_STAGE_THREADS; t++)
		if (g->dirs[t][0] && rmdir(g->dirs[t]) < 0)
			LOG_W("ingest: cannot remove %s: %s", g->dirs[t], strerror(errno));
	free(g->paths);
	free(g->imgs);
	free(g->staged);
	memset(g, 0, sizeof(*g));
}

int ingest_stage(struct ingest_group *g, struct repo *repo, struct ingest_item *items, size_t n,
		 const char *source)
{
	struct stage_job jobs[INGEST_STAGE_THREADS];
	pthread_t th[INGEST_STAGE_THREADS];
	int started[INGEST_STAGE_THREADS] = { 0 };

	memset(g, 0, sizeof(*g));
	g->repo = repo;
	g->items = items;
	g->n = n;
	g->paths = calloc(n + 1, PATH_MAX);
	g->imgs = calloc(n + 1, sizeof(*g->imgs));
	g->staged = calloc(n + 1, 1);
	if (!g->paths || !g->imgs || !g->staged) {
		group_free(g);
		return err_set(-ENOMEM, "out of memory for a group of %zu files", n);
	}
	/*
	 * Each thread spools into a directory of its own, so neither queues on
	 * the other's creates nor on the renames of a group being committed.
	 */
	for (int t = 0; t < INGEST_STAGE_THREADS; t++)
		if (blob_spool_dir(g->dirs[t], repo->blobs) < 0)
			g->dirs[t][0] = '\0';
	/* Two threads: probing, hashing and copying are CPU and page-cache work. */
	for (int t = 0; t < INGEST_STAGE_THREADS; t++) {
		jobs[t] = (struct stage_job){ g, t, source };
		started[t] = n > 1 && t > 0 && pthread_create(&th[t], NULL, stage_worker, &jobs[t]) == 0;
	}
	for (int t = 0; t < INGEST_STAGE_THREADS; t++)
		if (t == 0 || !started[t])
			stage_worker(&jobs[t]);
	for (int t = 0; t < INGEST_STAGE_THREADS; t++)
		if (started[t])
			pthread_join(th[t], NULL);
	return 0;
}

int ingest_commit(struct ingest_group *g)
{
	size_t n = g->n, k = 0, m = 0;
	const char **pathv = calloc(n + 1, sizeof(*pathv));
	struct catalog_image *imgs = calloc(n + 1, sizeof(*imgs));
	struct blob_id *ids = calloc(n + 1, sizeof(*ids));
	size_t *which = calloc(n + 1, sizeof(*which));
	int *results = calloc(n + 1, sizeof(*results)), *added = calloc(n + 1, sizeof(*added));
	int error = 0;

	err_clear();
	if (!pathv || !imgs || !ids || !which || !results || !added) {
		error = err_set(-ENOMEM, "out of memory for a group of %zu files", n);
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		if (!g->staged[i])
			continue;
		pathv[k] = g->paths[i];
		imgs[k] = g->imgs[i];
		blob_id_parse(&ids[k], g->imgs[i].id);
		which[k++] = i;
	}
	if ((error = blob_put_tmpfiles(g->repo->blobs, pathv, ids, k, results)) < 0)
		goto done;
	/* Only stored blobs get a row: the blob always comes before its row. */
	for (size_t j = 0; j < k; j++) {
		struct ingest_item *it = &g->items[which[j]];

		if (results[j] < 0) {
			g->staged[which[j]] = 0;
			item_fail(it, results[j]);
			if (!it->spooled)
				unlink(pathv[j]);
			continue;
		}
		imgs[m] = imgs[j];
		which[m++] = which[j];
	}
	if ((error = catalog_images_add_many(g->repo->cat, imgs, m, added)) < 0)
		goto done;
	for (size_t j = 0; j < m; j++) {
		struct ingest_result *r = &g->items[which[j]].res;

		if (added[j]) {
			r->status = INGEST_ADDED;
			r->img = imgs[j];
		} else {
			r->status = INGEST_DUPLICATE;
			catalog_image_get(g->repo->cat, imgs[j].id, &r->img);
		}
	}
done:
	if (error < 0) {
		for (size_t i = 0; i < n; i++) /* our own copies; spools stay for a retry */
			if (g->staged[i] && !g->items[i].spooled)
				unlink(g->paths[i]);
	}
	free(pathv);
	free(imgs);
	free(ids);
	free(which);
	free(results);
	free(added);
	group_free(g);
	return error;
}

int ingest_batch(struct repo *repo, struct ingest_item *items, size_t n, const char *source)
{
	struct ingest_group g;
	int error = ingest_stage(&g, repo, items, n, source);

	return error < 0 ? error : ingest_commit(&g);
}
