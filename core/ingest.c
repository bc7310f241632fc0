/* Ingest of files into the dataset (see ingest.h). */
#include "ingest.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
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
