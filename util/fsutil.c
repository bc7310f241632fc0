/* File-system helpers (see fsutil.h). */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int fs_read_file(struct buf *out, const char *path)
{
	char chunk[65536];
	ssize_t n;
	int fd, error = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return err_set(-errno, "cannot open %s: %s", path, strerror(errno));
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			error = err_set(-errno, "cannot read %s: %s", path, strerror(errno));
			break;
		}
		if ((error = buf_put(out, chunk, (size_t)n)) < 0)
			break;
	}
	close(fd);
	return error;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int fs_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), error = 0;

	if (fd < 0)
		return err_set(-errno, "cannot open directory %s: %s", path, strerror(errno));
	if (fsync(fd) < 0)
		error = err_set(-errno, "fsync %s: %s", path, strerror(errno));
	close(fd);
	return error;
}

int fs_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char *tmp = NULL, *dir = NULL, *slash;
	int fd = -1, error;

	/* A unique name per writer: two threads may replace the same file at once. */
	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0 || !(dir = strdup(path))) {
		error = err_set(-ENOMEM, "out of memory");
		goto done;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0 || fchmod(fd, mode) < 0) {
		error = err_set(-errno, "cannot create %s: %s", tmp, strerror(errno));
		goto done;
	}
	if ((error = write_all(fd, data, len)) < 0 || (fsync(fd) < 0 && (error = -errno))) {
		err_set(error, "cannot write %s: %s", tmp, strerror(-error));
		goto done;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, path) < 0) {
		error = err_set(-errno, "cannot rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto done;
	}
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	error = fs_fsync_dir(slash ? (*dir ? dir : "/") : ".");
done:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	free(tmp);
	free(dir);
	return error;
}

int fs_mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096];
	size_t len = strlen(path);

	if (len >= sizeof(tmp))
		return err_set(-ENAMETOOLONG, "path too long: %s", path);
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return err_set(-errno, "cannot create %s: %s", tmp, strerror(errno));
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return err_set(-errno, "cannot create %s: %s", tmp, strerror(errno));
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int fs_rm_rf(const char *path)
{
	if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		return err_set(-errno, "cannot remove %s: %s", path, strerror(errno));
	return 0;
}

void fs_iso8601(char *out, size_t outsz, int64_t t)
{
	time_t tt = t ? (time_t)t : time(NULL);
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

const char *fs_basename(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}
