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

/* Record the image; fills res->status (added / duplicate) and res->img. */
static int record(struct ingest_result *res, struct repo *repo, const struct catalog_image *img)
{
	int rc = catalog_image_add(repo->cat, img);

	if (rc < 0)
		return rc;
	if (rc == 1) {
		res->status = INGEST_DUPLICATE;
		return catalog_image_get(repo->cat, img->id, &res->img);
	}
	res->status = INGEST_ADDED;
	res->img = *img;
	LOG_D("ingest: %s -> %s.%s (%lldx%lld)", img->name, img->id, img->ext,
	      (long long)img->width, (long long)img->height);
	return 0;
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

int ingest_keep_rejected(struct repo *repo, const char *path, const char *name,
			 const char *reason, int move, char *kept_as)
{
	char dst[PATH_MAX], rpath[PATH_MAX + 8], text[512];
	int error = -EEXIST;

	/* A ".reason" name of our own must not be shadowed by a user file. */
	for (int i = 0; i < 10000 && error == -EEXIST; i++) {
		if (i == 0)
			snprintf(kept_as, CATALOG_NAME_MAX, "%s", name);
		else
			snprintf(kept_as, CATALOG_NAME_MAX, "%s.%d", name, i);
		snprintf(dst, sizeof(dst), "%s/%s", repo->rejected_dir, kept_as);
		snprintf(rpath, sizeof(rpath), "%s.reason", dst);
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
	if ((error = fs_write_file_atomic(rpath, text, strlen(text), 0644)) < 0)
		return error;
	LOG_W("ingest: rejected %s: %s (kept as rejected/%s)", name, reason, kept_as);
	return 0;
}

static int reject(struct ingest_result *res, struct repo *repo, const char *path,
		  const char *name, int move)
{
	res->status = INGEST_REJECTED;
	snprintf(res->reason, sizeof(res->reason), "%s", err_last());
	return ingest_keep_rejected(repo, path, name, res->reason, move, res->kept_as);
}

int ingest_path(struct ingest_result *res, struct repo *repo, const char *path,
		const char *name, const char *source)
{
	struct image_info info;
	struct blob_id id;
	struct stat st;
	uint64_t size;
	int fd, error = 0;

	memset(res, 0, sizeof(*res));
	if (!name)
		name = fs_basename(path);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return err_set(-errno, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(-EINVAL, "%s is not a regular file", path);
	}
	err_clear();
	if (imageinfo_probe_fd(&info, fd, (uint64_t)st.st_size) < 0) {
		close(fd);
		return reject(res, repo, path, name, 0);
	}
	if (lseek(fd, 0, SEEK_SET) < 0 ||
	    (error = blob_put_fd(&id, &size, repo->blobs, fd)) < 0) {
		error = error ? error : err_set(-errno, "seek %s: %s", path, strerror(errno));
		close(fd);
		return error;
	}
	close(fd);
	fill_image(&res->img, &id, &info, size, name, source);
	return record(res, repo, &res->img);
}

int ingest_spool(struct ingest_result *res, struct repo *repo, const char *spool_path,
		 const char *name, const char *source, const struct blob_id *hash)
{
	struct catalog_image img;
	struct image_info info;
	struct blob_id id;
	struct stat st;
	int fd, error;

	memset(res, 0, sizeof(*res));
	if ((fd = open(spool_path, O_RDONLY | O_CLOEXEC)) < 0)
		return err_set(-errno, "cannot open %s: %s", spool_path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		error = err_set(-errno, "stat %s: %s", spool_path, strerror(errno));
		close(fd);
		return error;
	}
	err_clear();
	if (imageinfo_probe_fd(&info, fd, (uint64_t)st.st_size) < 0) {
		close(fd);
		return reject(res, repo, spool_path, name, 1);
	}
	if (hash)
		id = *hash;
	else if ((error = blob_hash_fd(&id, fd)) < 0) {
		close(fd);
		return error;
	}
	close(fd);
	if ((error = blob_put_tmpfile(repo->blobs, spool_path, &id)) < 0)
		return error;
	fill_image(&img, &id, &info, (uint64_t)st.st_size, name, source);
	return record(res, repo, &img);
}

/*
 * Probe item `it` and leave an accepted image spooled in tmp/ with its
 * hash: tmp_path and fill `img`.  Returns 1 if accepted, 0 if rejected or
 * failed (outcome in the item).
 */
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

/*
 * Probe item `it` and leave an accepted image spooled in tmp/ with its
 * hash: tmp_path and fill `img`.  Returns 1 if accepted, 0 if rejected or
 * failed (outcome in the item).
 */
static int stage_one(struct ingest_item *it, struct repo *repo, const char *source,
		     char *tmp_path, struct catalog_image *img)
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
	if ((fd = open(it->path, O_RDONLY | O_CLOEXEC)) < 0) {
		it->error = err_set(-errno, "cannot open %s: %s", it->path, strerror(errno));
		return 0;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		it->error = err_set(-EINVAL, "%s is not a regular file", it->path);
		return 0;
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
			it->error = error;
		return 0;
	}
	if (it->spooled) {
		snprintf(tmp_path, PATH_MAX, "%s", it->path);
		if (it->have_hash)
			id = it->hash;
		else if ((error = blob_hash_fd(&id, fd)) < 0)
			goto fail;
	} else if (mem) {
		if ((error = blob_spool_buf(tmp_path, &id, repo->blobs, mem, (size_t)size)) < 0)
			goto fail;
	} else if ((error = blob_spool_fd(tmp_path, &id, &size, repo->blobs, fd)) < 0) {
		goto fail;
	}
	free(mem);
	close(fd);
	fill_image(img, &id, &info, size, name, source);
	return 1;
fail:
	free(mem);
	close(fd);
	it->error = error;
	return 0;
}

/* Stage items [i0, n) step `step` (one of the staging threads). */
struct stage_job {
	struct repo *repo;
	struct ingest_item *items;
	size_t n, first, step;
	const char *source;
	char (*paths)[PATH_MAX];
	struct catalog_image *imgs;
	char *ok;
};

static void *stage_worker(void *arg)
{
	struct stage_job *j = arg;

	for (size_t i = j->first; i < j->n; i += j->step)
		j->ok[i] = (char)stage_one(&j->items[i], j->repo, j->source, j->paths[i], &j->imgs[i]);
	return NULL;
}

#define STAGE_THREADS 2

int ingest_batch(struct repo *repo, struct ingest_item *items, size_t n, const char *source)
{
	char (*paths)[PATH_MAX] = calloc(n + 1, PATH_MAX);
	const char **pathv = calloc(n + 1, sizeof(*pathv));
	struct catalog_image *staged = calloc(n + 1, sizeof(*staged));
	struct catalog_image *imgs = calloc(n + 1, sizeof(*imgs));
	struct blob_id *ids = calloc(n + 1, sizeof(*ids));
	size_t *which = calloc(n + 1, sizeof(*which));
	int *results = calloc(n + 1, sizeof(*results)), *added = calloc(n + 1, sizeof(*added));
	char *ok = calloc(n + 1, 1);
	struct stage_job jobs[STAGE_THREADS];
	pthread_t th[STAGE_THREADS];
	int started[STAGE_THREADS] = { 0 };
	size_t k = 0, m = 0;
	int error = 0;

	if (!paths || !pathv || !staged || !imgs || !ids || !which || !results || !added || !ok) {
		error = err_set(-ENOMEM, "out of memory");
		goto done;
	}
	/* Stage on two threads: probing, hashing and copying are CPU and page-cache work. */
	for (int t = 0; t < STAGE_THREADS; t++) {
		jobs[t] = (struct stage_job){ repo, items, n, (size_t)t, STAGE_THREADS, source,
					      paths, staged, ok };
		started[t] = n > 1 && t > 0 && pthread_create(&th[t], NULL, stage_worker, &jobs[t]) == 0;
	}
	for (int t = 0; t < STAGE_THREADS; t++)
		if (t == 0 || !started[t])
			stage_worker(&jobs[t]);
	for (int t = 0; t < STAGE_THREADS; t++)
		if (started[t])
			pthread_join(th[t], NULL);
	for (size_t i = 0; i < n; i++) {
		if (!ok[i])
			continue;
		pathv[k] = paths[i];
		imgs[k] = staged[i];
		blob_id_parse(&ids[k], staged[i].id);
		which[k++] = i;
	}
	if ((error = blob_put_tmpfiles(repo->blobs, pathv, ids, k, results)) < 0)
		goto done;
	/* Only stored blobs get a row: the blob always comes before its row. */
	for (size_t j = 0; j < k; j++) {
		if (results[j] < 0) {
			items[which[j]].error = results[j];
			if (!items[which[j]].spooled)
				unlink(pathv[j]);
			continue;
		}
		imgs[m] = imgs[j];
		which[m++] = which[j];
	}
	if ((error = catalog_images_add_many(repo->cat, imgs, m, added)) < 0)
		goto done;
	for (size_t j = 0; j < m; j++) {
		struct ingest_result *r = &items[which[j]].res;

		if (added[j]) {
			r->status = INGEST_ADDED;
			r->img = imgs[j];
		} else {
			r->status = INGEST_DUPLICATE;
			catalog_image_get(repo->cat, imgs[j].id, &r->img);
		}
	}
done:
	if (error < 0 && ok) {
		for (size_t i = 0; i < n; i++) /* our own copies; spools stay for a retry */
			if (ok[i] && !items[i].spooled)
				unlink(paths[i]);
	}
	free(paths);
	free(pathv);
	free(staged);
	free(imgs);
	free(ids);
	free(which);
	free(results);
	free(added);
	free(ok);
	return error;
}
