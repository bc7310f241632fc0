/*
 * The drop zone (see dropzone.h): inotify on DIR/incoming/ and every
 * directory below it, a claim per closed file, group ingest.
 *
 * Events.  IN_CLOSE_WRITE (a writer closed a file) and IN_MOVED_TO (rsync
 * renames ".name.XXXXXX" to "name"; mv into the tree) name a candidate, and
 * so does IN_CREATE of a hard link (ln: a new name, no close; see
 * linked_in(); the lease still decides whether it is taken).  A
 * new directory (IN_CREATE or IN_MOVED_TO with IN_ISDIR) gets a watch and
 * is then listed, since files may land in it before the watch exists; a
 * directory moved away loses its watches.  IN_Q_OVERFLOW (events were lost)
 * and a failed watch (the inotify watch limit) make the next quiet tick or
 * drain rescan the whole tree.  Events are read only with `lock` held, so
 * a drain that holds the lock sees every event queued before it: the kernel
 * queues IN_CLOSE_WRITE before close(2) returns, which makes "closed before
 * dropzone_drain() was called" deterministic.
 *
 * Claiming.  An event does not prove that nobody writes the file any more
 * (two writers; a file found by a scan while a program still writes it).
 * A read lease does: F_SETLEASE F_RDLCK fails with EAGAIN while anyone has
 * the file open for writing.  Holding it we mark the file with its name
 * (xattr user.dsfs.name, or a "<spool>.name" file where xattrs don't work)
 * and rename it into the store's tmp dir as "incoming-<unique>" (same file
 * system: the spool becomes the blob by rename, no data copy).  Then
 * F_GETLEASE: if the lease is no longer F_RDLCK a writer is opening the
 * file right now (a lease break), so it goes back and its close brings it
 * again.  The mark comes before the rename so that every "incoming-*" in
 * tmp/ without a mark is one this module never finished taking (deleted at
 * the next start; its original is still in incoming/).
 *
 * Not covered by the lease: a writer whose open(2) had resolved the path
 * before our rename and reaches its lease check only after our F_GETLEASE
 * opens the spool.  The window is a few system calls wide and needs two
 * programs writing one name at once.
 *
 * Two races the kernel leaves open, and what closes them:
 *  - close(2) queues IN_CLOSE_WRITE before it drops the file's write count,
 *    so the thread may read the event and find the file still "open for
 *    writing".  Such a file goes to the busy list, retried by every drain
 *    (by then close(2) has returned) and at the thread's quiet ticks.
 *  - a file with other hard links (cp -al, ln) is copied into tmp/ instead
 *    of renamed: renaming it would make the blob share an inode that
 *    someone can still write through (and chmod 0444 their original).
 *    A drop zone on another file system (EXDEV) is copied as well.
 *
 * Without lease support (EINVAL: file system; EACCES: someone else's file
 * without CAP_LEASE) the event is trusted, as the FUSE drop zone did; only
 * a scan can then take a file that is still being written.
 *
 * Lock: `lock` covers all state and is held while a group is ingested, so
 * the thread and drain callers take turns.  The notify hook runs under it.
 */
#include "dropzone.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "core/ingest.h"
#include "core/ingest_pipe.h"
#include "core/repo.h"
#include "store/blob.h"
#include "util/array.h"
#include "util/err.h"
#include "util/fault.h"
#include "util/fsutil.h"
#include "util/log.h"

#define NAME_XATTR "user.dsfs.name"
#define SPOOL_PREFIX "incoming-"
#define REJECTED_LINK ".rejected"

/*
 * A bulk copy is ingested in groups of at least INGEST_GROUP_MIN: each
 * group syncs the file system twice, which stalls a writer that is still
 * writing, so fewer, larger groups are much faster.  A smaller rest goes
 * when somebody drains or after QUIET_MS without a new event.  With the
 * thread running, groups go through an ingest pipe (core/ingest_pipe): one
 * is synced and recorded while the thread takes and hashes the next.
 */
#define INGEST_GROUP_MIN 256
#define INGEST_GROUP_MAX 512
#define QUIET_MS 100
/* How often the thread retries files that were busy (see the design comment). */
#define BUSY_RETRY_MS 1000
/* A trickle of files that never leaves the thread QUIET_MS is still ingested this soon. */
#define MAX_WAIT_MS 1000

#define WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_ONLYDIR | \
		    IN_EXCL_UNLINK)

struct watch {
	int wd;
	char *path;
};

/* A file taken into tmp/, waiting for its group. */
struct upload {
	char *spool;
	char *name;
	int marker_file;            /* marked by "<spool>.name", not an xattr */
};

struct dropzone {
	struct repo *repo;
	char *dir;                  /* DIR/incoming */
	int ino;                    /* inotify descriptor (non-blocking) */
	int wake;                   /* eventfd: wakes the thread to stop */
	pthread_mutex_t lock;       /* everything below */
	struct watch *watches;      /* sorted by wd */
	size_t n_watches, cap_watches;
	int root_wd;
	struct upload *queue;
	size_t n_queued, cap_queued;
	char **busy;                /* paths found open for writing */
	size_t n_busy, cap_busy;
	int rescan;                 /* events were lost or a watch is missing */
	int no_lease_logged;
	unsigned seq;               /* spool names */
	void (*notify)(void *arg);
	void *notify_arg;
	struct ingest_pipe *pipe;   /* with the thread: commits a group while it takes the next */
	int ready;                  /* opened: close may ingest */
	int stopping;
	int running;
	int64_t queued_since;       /* ms (monotonic) when the queue last became non-empty */
	pthread_t thread;
	/* read buffer for events; aligned for struct inotify_event */
	char events[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
};

static void scan_dir(struct dropzone *dz, const char *path);

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *path_join(const char *dir, const char *name)
{
	char *p;

	return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
}

/* rename(2) that never replaces `dst`: -EEXIST if it exists. */
static int rename_noreplace(const char *src, const char *dst)
{
	if (renameat2(AT_FDCWD, src, AT_FDCWD, dst, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
		return -errno;
	if (link(src, dst) < 0) /* no RENAME_NOREPLACE here: link() also refuses to replace */
		return -errno;
	unlink(src);
	return 0;
}

/* ---- the name marker ---- */

/*
 * Mark the file open at `fd` (to be `spool_path`) with its upload name.  An
 * extended attribute costs no inode; a "<spool>.name" file, created
 * exclusively, is the fallback.  *file_out says which.  -EEXIST when that
 * marker file exists (choose another spool name).
 */
static int write_marker(int fd, const char *spool_path, const char *name, int *file_out)
{
	char path[PATH_MAX + 8];
	size_t len = strlen(name);
	int mfd, error = 0;

	*file_out = 0;
	if (fault_sim(FAULT_DROPZONE_NO_XATTR))
		errno = ENOTSUP;
	else if (fsetxattr(fd, NAME_XATTR, name, len, 0) == 0)
		return 0;
	if (errno != ENOTSUP && errno != EOPNOTSUPP && errno != EPERM && errno != EACCES)
		return err_set(-errno, "incoming: cannot mark %s: %s", name, strerror(errno));
	snprintf(path, sizeof(path), "%s.name", spool_path);
	if ((mfd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
		return errno == EEXIST ? -EEXIST :
		       err_set(-errno, "incoming: cannot write %s: %s", path, strerror(errno));
	if (write(mfd, name, len) != (ssize_t)len)
		error = err_set(-EIO, "incoming: cannot write %s", path);
	if (close(mfd) < 0 && !error)
		error = err_set(-EIO, "incoming: cannot write %s", path);
	if (error)
		unlink(path);
	else
		*file_out = 1;
	return error;
}

static void unmark(int fd, const char *spool_path, int file)
{
	char path[PATH_MAX + 8];

	if (file) {
		snprintf(path, sizeof(path), "%s.name", spool_path);
		unlink(path);
	} else {
		fremovexattr(fd, NAME_XATTR);
	}
}

/* The name a spool was marked with ("" if none); 1 if it came from a marker file. */
static int read_marker(char name[CATALOG_NAME_MAX], const char *spool_path)
{
	char path[PATH_MAX + 8];
	ssize_t n = getxattr(spool_path, NAME_XATTR, name, CATALOG_NAME_MAX - 1);
	char *slash;
	int fd, file = 0;

	if (n <= 0) {
		file = 1;
		snprintf(path, sizeof(path), "%s.name", spool_path);
		n = 0;
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
			n = read(fd, name, CATALOG_NAME_MAX - 1);
			close(fd);
		}
	}
	name[n > 0 ? n : 0] = '\0';
	if ((slash = strrchr(name, '/'))) /* never ours; keep only a base name */
		memmove(name, slash + 1, strlen(slash + 1) + 1);
	return file;
}

/*
 * Drop the marker from a file that left tmp/ (a blob, a rejected file).
 * User xattrs follow the write permission, and a blob is 0444: a non-root
 * owner needs the write bit for a moment.
 */
static void unmark_path(const char *path)
{
	struct stat st;

	if (removexattr(path, NAME_XATTR) == 0 || (errno != EACCES && errno != EPERM))
		return;
	if (stat(path, &st) == 0 && chmod(path, (st.st_mode & 07777) | S_IWUSR) == 0) {
		removexattr(path, NAME_XATTR);
		chmod(path, st.st_mode & 07777);
	}
}

/* ---- queue and busy list (lock held) ---- */

static void queue_add(struct dropzone *dz, const char *spool, const char *name, int marker_file)
{
	struct upload *u;
	char *s = strdup(spool), *n = strdup(name);

	if (!s || !n || array_grow((void **)&dz->queue, &dz->cap_queued, dz->n_queued, sizeof(*u)) < 0) {
		/* Marked in tmp/: the next start ingests it. */
		LOG_E("incoming: out of memory; %s waits for the next start", name);
		free(s);
		free(n);
		return;
	}
	if (!dz->n_queued)
		dz->queued_since = now_ms();
	u = &dz->queue[dz->n_queued++];
	u->spool = s;
	u->name = n;
	u->marker_file = marker_file;
}

static void busy_add(struct dropzone *dz, const char *path)
{
	char *p;

	for (size_t i = 0; i < dz->n_busy; i++)
		if (!strcmp(dz->busy[i], path))
			return;
	if (array_grow((void **)&dz->busy, &dz->cap_busy, dz->n_busy, sizeof(*dz->busy)) < 0 ||
	    !(p = strdup(path)))
		return; /* its writer's close brings it back */
	dz->busy[dz->n_busy++] = p;
	LOG_D("incoming: %s is open for writing; later", path);
}

/* ---- claiming a file ---- */

static int copy_fd(int in, int out)
{
	char buf[64 * 1024];
	off_t off = 0;
	ssize_t n;

	for (;;) {
		n = copy_file_range(in, &off, out, NULL, 1 << 30, 0);
		if (n == 0)
			return 0;
		if (n < 0)
			break;
	}
	if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return -errno;
	while ((n = pread(in, buf, sizeof(buf), off)) > 0) {
		for (ssize_t done = 0, w; done < n; done += w)
			if ((w = write(out, buf + done, (size_t)(n - done))) < 0)
				return -errno;
		off += n;
	}
	return n < 0 ? -errno : 0;
}

static int lease_broken(int fd, int leased)
{
	return leased && fcntl(fd, F_GETLEASE) != F_RDLCK;
}

/*
 * Take the file at `path` (open at `fd`) by copying it into tmp/ and
 * removing the original: for a file with other links, or on another file
 * system.  Returns 1 if queued, 0 if left in place.
 */
static int claim_copy(struct dropzone *dz, int fd, const char *path, const char *name, int leased)
{
	char spool[PATH_MAX];
	int out, file = 0, error;

	snprintf(spool, sizeof(spool), "%s/" SPOOL_PREFIX "XXXXXX", blob_tmp_dir(dz->repo->blobs));
	if ((out = mkostemp(spool, O_CLOEXEC)) < 0) {
		LOG_E("incoming: %s: cannot create a file in %s: %s", name,
		      blob_tmp_dir(dz->repo->blobs), strerror(errno));
		return 0;
	}
	if ((error = copy_fd(fd, out)) < 0)
		LOG_E("incoming: cannot copy %s: %s", path, strerror(-error));
	else if ((error = write_marker(out, spool, name, &file)) < 0)
		LOG_E("incoming: %s", err_msg(error));
	else if (lease_broken(fd, leased))
		error = -EAGAIN; /* a writer is opening it: its close brings it back */
	else if (unlink(path) < 0 && errno != ENOENT) {
		error = -errno;
		LOG_E("incoming: cannot remove %s: %s", path, strerror(errno));
	}
	close(out);
	if (error < 0) {
		if (file)
			unmark(-1, spool, 1);
		unlink(spool);
		return 0;
	}
	queue_add(dz, spool, name, file);
	return 1;
}

/*
 * Take the file at `path` under `spool` (marked, renamed; see the design
 * comment).  Returns 1 if queued, 0 if left in place.
 */
static int claim_rename(struct dropzone *dz, int fd, const char *path, const char *name, int leased)
{
	char spool[PATH_MAX];
	int file = 0, error = -EEXIST;

	for (int tries = 0; tries < 1000 && error == -EEXIST; tries++) {
		snprintf(spool, sizeof(spool), "%s/" SPOOL_PREFIX "%08x%08x",
			 blob_tmp_dir(dz->repo->blobs), (unsigned)getpid(), dz->seq++);
		if ((error = write_marker(fd, spool, name, &file)) < 0)
			continue;
		if ((error = rename_noreplace(path, spool)) < 0)
			unmark(fd, spool, file);
	}
	if (error == -EXDEV)
		return claim_copy(dz, fd, path, name, leased);
	if (error == -ENOENT)
		return 0; /* taken through another event, or removed by its owner */
	if (error < 0) {
		LOG_E("incoming: cannot take %s: %s", path, strerror(-error));
		return 0;
	}
	if (lease_broken(fd, leased)) {
		/* A writer is opening it: give it back; its close brings it again. */
		if (rename_noreplace(spool, path) == 0) {
			unmark(fd, spool, file);
			LOG_D("incoming: %s was reopened for writing; left in place", path);
			return 0;
		}
		LOG_W("incoming: %s was reopened for writing while being taken; ingesting it as it was",
		      path);
	}
	queue_add(dz, spool, name, file);
	return 1;
}

/*
 * Take the regular file at `path` (base name `name`, not a dotfile) if no
 * one writes it; one that is open for writing goes to the busy list.
 * Errors are logged: a file that cannot be taken stays where it is.
 */
static void claim(struct dropzone *dz, const char *path, const char *name)
{
	struct stat st;
	int fd, leased = 0;

	/* Never open a device or FIFO (opening one can have effects); symlinks are skipped too. */
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	/* O_NOFOLLOW, O_NONBLOCK: in case it was replaced by a symlink or FIFO since. */
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0) {
		if (errno == EWOULDBLOCK)
			busy_add(dz, path); /* someone else holds a write lease */
		else if (errno != ENOENT && errno != ELOOP && errno != ENXIO)
			LOG_W("incoming: cannot open %s: %s", path, strerror(errno));
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		goto done;
	if (fcntl(fd, F_SETLEASE, F_RDLCK) == 0) {
		leased = 1;
	} else if (errno == EAGAIN) {
		busy_add(dz, path);
		goto done;
	} else if (!dz->no_lease_logged) {
		dz->no_lease_logged = 1;
		LOG_D("incoming: no read lease on %s (%s): trusting close events", path,
		      strerror(errno));
	}
	if (st.st_nlink > 1)
		claim_copy(dz, fd, path, name, leased);
	else
		claim_rename(dz, fd, path, name, leased);
done:
	if (leased)
		fcntl(fd, F_SETLEASE, F_UNLCK);
	close(fd);
}

/* Retry every busy file (lock held). */
static void retry_busy(struct dropzone *dz)
{
	char **list = dz->busy;
	size_t n = dz->n_busy;

	dz->busy = NULL;
	dz->n_busy = dz->cap_busy = 0;
	for (size_t i = 0; i < n; i++) {
		claim(dz, list[i], fs_basename(list[i]));
		free(list[i]);
	}
	free(list);
}

/* ---- watches (lock held) ---- */

static size_t watch_find(const struct dropzone *dz, int wd)
{
	size_t lo = 0, hi = dz->n_watches;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (dz->watches[mid].wd < wd)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const char *watch_path(const struct dropzone *dz, int wd)
{
	size_t i = watch_find(dz, wd);

	return i < dz->n_watches && dz->watches[i].wd == wd ? dz->watches[i].path : NULL;
}

static void watch_forget(struct dropzone *dz, int wd)
{
	size_t i = watch_find(dz, wd);

	if (i >= dz->n_watches || dz->watches[i].wd != wd)
		return;
	free(dz->watches[i].path);
	memmove(&dz->watches[i], &dz->watches[i + 1], (dz->n_watches - i - 1) * sizeof(*dz->watches));
	dz->n_watches--;
}

/* Watch directory `path`; the wd, or -1 (a failure other than "gone" asks for a rescan). */
static int watch_add(struct dropzone *dz, const char *path)
{
	/* Below the root a symlink to a directory is not entered. */
	uint32_t mask = WATCH_MASK | (strcmp(path, dz->dir) ? IN_DONT_FOLLOW : 0);
	int wd = inotify_add_watch(dz->ino, path, mask);
	char *copy;
	size_t i;

	if (wd < 0) {
		if (errno != ENOENT && errno != ENOTDIR) {
			if (!dz->rescan)
				LOG_W("incoming: cannot watch %s: %s (rescanning instead)", path,
				      strerror(errno));
			dz->rescan = 1;
		}
		return -1;
	}
	if (!(copy = strdup(path))) {
		dz->rescan = 1;
		return wd;
	}
	i = watch_find(dz, wd);
	if (i < dz->n_watches && dz->watches[i].wd == wd) {
		free(dz->watches[i].path); /* the same directory, reached by a new path */
		dz->watches[i].path = copy;
		return wd;
	}
	if (array_grow((void **)&dz->watches, &dz->cap_watches, dz->n_watches, sizeof(*dz->watches)) < 0) {
		free(copy);
		dz->rescan = 1;
		return wd;
	}
	memmove(&dz->watches[i + 1], &dz->watches[i], (dz->n_watches - i) * sizeof(*dz->watches));
	dz->watches[i] = (struct watch){ wd, copy };
	dz->n_watches++;
	return wd;
}

/* A directory moved away: stop watching it and everything below it. */
static void watch_drop_tree(struct dropzone *dz, const char *path)
{
	size_t len = strlen(path);

	for (size_t i = 0; i < dz->n_watches;) {
		const char *p = dz->watches[i].path;
		if (!strncmp(p, path, len) && (p[len] == '\0' || p[len] == '/')) {
			inotify_rm_watch(dz->ino, dz->watches[i].wd);
			watch_forget(dz, dz->watches[i].wd);
		} else {
			i++;
		}
	}
}

/* ---- scanning and events (lock held) ---- */

struct entry {
	char *name;
	int dir;
};

/*
 * Take every closed file in the (watched) directory `path` and scan its
 * subdirectories.  Not through a symlink: a directory replaced by one
 * since the event is left alone.
 */
static void scan_contents(struct dropzone *dz, const char *path)
{
	struct entry *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	DIR *d;
	int fd;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
			(strcmp(path, dz->dir) ? O_NOFOLLOW : 0))) < 0)
		return;
	if (!(d = fdopendir(fd))) {
		close(fd);
		return;
	}
	/* Listed first, taken after: the directory changes under us as files leave it. */
	while ((e = readdir(d))) {
		int type = e->d_type;
		char *child;
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		if (type == DT_UNKNOWN && (child = path_join(path, e->d_name))) {
			if (lstat(child, &st) == 0)
				type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : type;
			free(child);
		}
		if (type != DT_DIR && type != DT_REG)
			continue;
		if (array_grow((void **)&v, &cap, n, sizeof(*v)) < 0 || !(v[n].name = strdup(e->d_name))) {
			dz->rescan = 1;
			break;
		}
		v[n++].dir = type == DT_DIR;
	}
	closedir(d);
	for (size_t i = 0; i < n; i++) {
		char *child = path_join(path, v[i].name);

		if (!child)
			dz->rescan = 1;
		else if (v[i].dir)
			scan_dir(dz, child);
		else
			claim(dz, child, v[i].name);
		free(child);
		free(v[i].name);
	}
	free(v);
}

/* Watch `path` first, then scan it: a file that lands after the listing sends an event. */
static void scan_dir(struct dropzone *dz, const char *path)
{
	watch_add(dz, path);
	scan_contents(dz, path);
}

static int ensure_dirs(struct dropzone *dz)
{
	char link[PATH_MAX];
	struct stat st;
	int error;

	if ((error = fs_mkdir_p(dz->dir, 0755)) < 0)
		return error;
	snprintf(link, sizeof(link), "%s/" REJECTED_LINK, dz->dir);
	if (lstat(link, &st) < 0 && symlink("../rejected", link) < 0 && errno != EEXIST)
		return err_set(-errno, "cannot create %s: %s", link, strerror(errno));
	return 0;
}

static void rescan_all(struct dropzone *dz)
{
	int error;

	dz->rescan = 0;
	if ((error = ensure_dirs(dz)) < 0) {
		LOG_E("incoming: %s", err_msg(error));
		dz->rescan = 1;
		return;
	}
	if ((dz->root_wd = watch_add(dz, dz->dir)) < 0) {
		dz->rescan = 1;
		return;
	}
	scan_contents(dz, dz->dir);
}

/*
 * Whether the name an IN_CREATE announced is a link to a file that already
 * has bytes or other links (ln, cp -l, linkat of an O_TMPFILE): that sends
 * no close event.  A file made by open(2) is empty and has one link until
 * its writer, who holds it open, writes to it; such a file is left to its
 * close.  Taking it now could rename it in the moment between the create
 * and the open that writes it, which no lease can see.
 */
static int linked_in(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_nlink > 1 || st.st_size > 0);
}

static void handle_event(struct dropzone *dz, const struct inotify_event *ev)
{
	const char *dir;
	char *path;

	if (ev->mask & IN_Q_OVERFLOW) {
		LOG_I("incoming: too many events at once; rescanning");
		dz->rescan = 1;
		return;
	}
	if (ev->mask & IN_IGNORED) {
		/* The watch is gone (directory removed or moved away). */
		watch_forget(dz, ev->wd);
		if (ev->wd == dz->root_wd) {
			dz->root_wd = -1;
			dz->rescan = 1; /* DIR/incoming itself went: recreate it */
		}
		return;
	}
	if (!ev->len || ev->name[0] == '.' || !(dir = watch_path(dz, ev->wd)))
		return;
	if (!(path = path_join(dir, ev->name))) {
		dz->rescan = 1;
		return;
	}
	if (ev->mask & IN_ISDIR) {
		if (ev->mask & IN_MOVED_FROM)
			watch_drop_tree(dz, path);
		else if (ev->mask & (IN_CREATE | IN_MOVED_TO))
			scan_dir(dz, path);
	} else if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO) ||
		   (ev->mask & IN_CREATE && linked_in(path))) {
		claim(dz, path, ev->name);
	}
	free(path);
}

/* Read and act on every queued event; returns how many reads found some. */
static int read_events(struct dropzone *dz)
{
	int reads = 0;

	for (;;) {
		ssize_t len = read(dz->ino, dz->events, sizeof(dz->events));

		if (len < 0 && errno == EINTR)
			continue;
		if (len <= 0)
			return reads;
		reads++;
		for (char *p = dz->events; p < dz->events + len;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			handle_event(dz, ev);
			p += sizeof(*ev) + ev->len;
		}
	}
}

/* ---- ingest (lock held) ---- */

/* "<spool>.keep" into out[PATH_MAX + 8]. */
static void keep_path(char *out, const char *spool)
{
	snprintf(out, PATH_MAX + 8, "%s.keep", spool);
}

/*
 * After its group: drop the spool's second link, or, if the spool is gone
 * but its bytes are not recorded (the group failed after the blobs were
 * renamed into the store), put the spool back for the next start.
 */
static void settle_keep(const char *spool, int recorded)
{
	char keep[PATH_MAX + 8];
	struct stat st;

	keep_path(keep, spool);
	if (recorded || lstat(spool, &st) == 0 || rename(keep, spool) < 0)
		unlink(keep);
}

/*
 * A group on its way through the ingest pipe: its uploads, taken off the
 * queue, and its items.  Each spool gets a second link, "<spool>.keep",
 * for the length of the group: ingest_commit renames the spools into the
 * store before the catalog transaction, so without it a group that fails
 * there (or a daemon that dies there) would leave blobs that nothing
 * records and nothing re-ingests.
 */
struct dz_group {
	struct upload *up;
	struct ingest_item items[];
};

static struct dz_group *group_new(const struct upload *up, size_t n)
{
	struct dz_group *g = calloc(1, sizeof(*g) + n * sizeof(g->items[0]));
	char path[PATH_MAX + 8];

	if (!g || !(g->up = malloc(n * sizeof(*up)))) {
		free(g);
		return NULL;
	}
	memcpy(g->up, up, n * sizeof(*up));
	for (size_t i = 0; i < n; i++) {
		g->items[i].path = up[i].spool;
		g->items[i].name = up[i].name;
		g->items[i].spooled = 1;
		keep_path(path, up[i].spool);
		if (link(up[i].spool, path) < 0 && errno != EEXIST)
			LOG_D("incoming: cannot link %s: %s", path, strerror(errno));
	}
	return g;
}

static void group_free(struct dz_group *g, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(g->up[i].spool);
		free(g->up[i].name);
	}
	free(g->up);
	free(g);
}

/* A group is through (ingest pipe callback; the drop zone's lock is held). */
static void group_done(void *arg, struct ingest_item *items, size_t n, int error,
		       const char *message)
{
	struct dz_group *g = (struct dz_group *)((char *)items - offsetof(struct dz_group, items));
	struct dropzone *dz = arg;
	size_t added = 0, dups = 0, rejected = 0, failed = 0;
	char path[PATH_MAX + 8];

	if (error < 0) {
		LOG_E("incoming: a group of %zu files failed: %s (kept in tmp/ for the next start)", n,
		      message);
		for (size_t i = 0; i < n; i++)
			settle_keep(g->up[i].spool, items[i].res.status == INGEST_REJECTED);
		group_free(g, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct ingest_item *it = &items[i];
		struct blob_id id;

		settle_keep(g->up[i].spool, it->error == 0);
		if (it->error < 0) {
			LOG_E("incoming: %s: %s (kept in tmp/ for the next start)", it->name,
			      it->message);
			failed++;
			continue;
		}
		if (it->res.status == INGEST_REJECTED) {
			rejected++;
			LOG_W("incoming: rejected %s: %s (kept as rejected/%s)", it->name,
			      it->res.reason, it->res.kept_as);
			snprintf(path, sizeof(path), "%s/%s", dz->repo->rejected_dir, it->res.kept_as);
			unmark_path(path);
		} else {
			/* The spool is the blob now (or was dropped as a duplicate). */
			if (it->res.status == INGEST_ADDED)
				added++;
			else
				dups++;
			LOG_D("incoming: %s -> %s.%s", it->name, it->res.img.id, it->res.img.ext);
			if (blob_id_parse(&id, it->res.img.id) == 0 &&
			    blob_path(path, sizeof(path), dz->repo->blobs, &id) == 0)
				unmark_path(path);
		}
		if (g->up[i].marker_file) {
			snprintf(path, sizeof(path), "%s.name", g->up[i].spool);
			unlink(path);
		}
	}
	LOG_I("incoming: %zu added, %zu duplicates, %zu rejected%s", added, dups, rejected,
	      failed ? ", some failed (kept for the next start)" : "");
	if (added && dz->notify)
		dz->notify(dz->notify_arg);
	group_free(g, n);
}

/*
 * Ingest the queue in groups while at least `min` (>= 1) files wait.  With
 * the thread running, a group goes into the pipe and is committed while the
 * thread takes and stages the next; `min` == 1 (a drain, or a quiet spell)
 * also waits for the last one, so everything queued is ingested on return.
 */
static int ingest_queued(struct dropzone *dz, size_t min)
{
	int error = 0, e;

	while (dz->n_queued && dz->n_queued >= min) {
		size_t n = dz->n_queued < INGEST_GROUP_MAX ? dz->n_queued : INGEST_GROUP_MAX;
		struct dz_group *g = group_new(dz->queue, n);

		if (!g) {
			e = err_set(-ENOMEM, "incoming: out of memory for a group of %zu files", n);
			LOG_E("%s (kept in tmp/ for the next start)", err_msg(e));
			for (size_t i = 0; i < n; i++) {
				free(dz->queue[i].spool);
				free(dz->queue[i].name);
			}
		} else if (dz->pipe) {
			e = ingest_pipe_push(dz->pipe, g->items, n, "incoming");
		} else {
			err_clear();
			e = ingest_batch(dz->repo, g->items, n, "incoming");
			group_done(dz, g->items, n, e, e < 0 ? err_msg(e) : "");
		}
		if (e < 0 && !error)
			error = e;
		memmove(dz->queue, dz->queue + n, (dz->n_queued - n) * sizeof(*dz->queue));
		dz->n_queued -= n;
	}
	if (min == 1 && dz->pipe && (e = ingest_pipe_flush(dz->pipe)) < 0 && !error)
		error = e;
	return error;
}

/* ---- what earlier runs left in tmp/ ---- */

/*
 * Two passes over tmp/: first the "<spool>.keep" links of a group the
 * earlier daemon did not finish (the spool back if it is gone: its bytes
 * may be a blob that no row records; re-ingesting it is a duplicate at
 * worst), then the spools themselves.
 */
static void recover_spools(struct dropzone *dz)
{
	const char *tmp = blob_tmp_dir(dz->repo->blobs);
	char path[PATH_MAX], name[CATALOG_NAME_MAX];
	struct dirent *e;
	struct stat st;
	int file;
	DIR *d;

	if (!(d = opendir(tmp)))
		return;
	for (int pass = 0; pass < 2; pass++, rewinddir(d)) {
		while ((e = readdir(d))) {
			const char *dot = strchr(e->d_name, '.');

			if (strncmp(e->d_name, SPOOL_PREFIX, strlen(SPOOL_PREFIX)) ||
			    (pass == 0) != (dot && !strcmp(dot, ".keep")))
				continue;
			snprintf(path, sizeof(path), "%s/%s", tmp, e->d_name);
			if (pass == 0) {
				path[strlen(path) - 5] = '\0';
				settle_keep(path, 0);
				continue;
			}
			if (dot) {
				/* A fallback marker whose spool is gone: ingested, or never taken. */
				if (!strcmp(dot, ".name")) {
					path[strlen(path) - 5] = '\0';
					if (lstat(path, &st) < 0 && errno == ENOENT) {
						strcat(path, ".name");
						unlink(path);
					}
				}
				continue;
			}
			file = read_marker(name, path);
			if (name[0]) {
				LOG_I("incoming: ingesting %s, taken before an earlier daemon stopped",
				      name);
				queue_add(dz, path, name, file);
			} else if (unlink(path) == 0) {
				/* Never finished being taken (the original is still in incoming/). */
				LOG_W("incoming: removed %s, an unfinished upload left by an earlier daemon",
				      e->d_name);
			}
		}
	}
	closedir(d);
}

/* ---- the thread ---- */

static void *ingester_main(void *arg)
{
	struct dropzone *dz = arg;
	int timeout = -1;

	for (;;) {
		struct pollfd p[2] = { { dz->ino, POLLIN, 0 }, { dz->wake, POLLIN, 0 } };
		int r = poll(p, 2, timeout);

		if (r < 0 && errno != EINTR) {
			LOG_E("incoming: poll: %s", strerror(errno));
			r = 0;
		}
		pthread_mutex_lock(&dz->lock);
		if (dz->stopping) {
			pthread_mutex_unlock(&dz->lock);
			break;
		}
		if (r > 0 && (p[0].revents & POLLIN) && read_events(dz)) {
			ingest_queued(dz, dz->n_queued && now_ms() - dz->queued_since >= MAX_WAIT_MS ?
					  1 : INGEST_GROUP_MIN);
		} else if (r == 0) {
			/* Quiet for a while: the rest goes, and what was busy or missed is looked at again. */
			if (dz->rescan)
				rescan_all(dz);
			retry_busy(dz);
			ingest_queued(dz, 1);
		}
		timeout = dz->n_queued || dz->rescan ? QUIET_MS : dz->n_busy ? BUSY_RETRY_MS : -1;
		pthread_mutex_unlock(&dz->lock);
	}
	return NULL;
}

/* ---- public ---- */

/* Lease breaks are signalled with SIGIO, whose default action ends the process. */
static void sigio_ignore_default(void)
{
	struct sigaction sa;

	if (sigaction(SIGIO, NULL, &sa) == 0 && !(sa.sa_flags & SA_SIGINFO) &&
	    sa.sa_handler == SIG_DFL) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_IGN;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGIO, &sa, NULL);
	}
}

int dropzone_open(struct dropzone **out, struct repo *repo)
{
	struct dropzone *dz;
	int error;

	*out = NULL;
	if (!(dz = calloc(1, sizeof(*dz))))
		return err_set(-ENOMEM, "out of memory");
	pthread_mutex_init(&dz->lock, NULL);
	dz->repo = repo;
	dz->ino = dz->wake = dz->root_wd = -1;
	if (!(dz->dir = path_join(repo->dir, "incoming"))) {
		error = err_set(-ENOMEM, "out of memory");
		goto fail;
	}
	if ((error = ensure_dirs(dz)) < 0)
		goto fail;
	sigio_ignore_default();
	if ((dz->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0 ||
	    (dz->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		error = err_set(-errno, "incoming: cannot watch %s: %s", dz->dir, strerror(errno));
		goto fail;
	}
	recover_spools(dz);
	rescan_all(dz);
	if (dz->root_wd < 0) {
		error = err_set(-EIO, "incoming: cannot watch %s", dz->dir);
		goto fail;
	}
	dz->ready = 1;
	*out = dz;
	return 0;
fail:
	dropzone_close(dz);
	return error;
}

int dropzone_start(struct dropzone *dz)
{
	int error;

	if ((error = ingest_pipe_open(&dz->pipe, dz->repo, group_done, dz)) < 0)
		return error;
	if (pthread_create(&dz->thread, NULL, ingester_main, dz) != 0)
		return err_set(-EAGAIN, "incoming: cannot start the ingest thread");
	dz->running = 1;
	return 0;
}

int dropzone_drain(struct dropzone *dz)
{
	int error;

	pthread_mutex_lock(&dz->lock);
	read_events(dz);
	if (dz->rescan)
		rescan_all(dz);
	retry_busy(dz);
	error = ingest_queued(dz, 1);
	pthread_mutex_unlock(&dz->lock);
	return error;
}

void dropzone_set_notify(struct dropzone *dz, void (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&dz->lock);
	dz->notify = fn;
	dz->notify_arg = arg;
	pthread_mutex_unlock(&dz->lock);
}

const char *dropzone_dir(const struct dropzone *dz)
{
	return dz->dir;
}

void dropzone_close(struct dropzone *dz)
{
	uint64_t one = 1;

	if (!dz)
		return;
	if (dz->running) {
		pthread_mutex_lock(&dz->lock);
		dz->stopping = 1;
		pthread_mutex_unlock(&dz->lock);
		if (write(dz->wake, &one, sizeof(one)) < 0)
			LOG_E("incoming: cannot stop the ingest thread: %s", strerror(errno));
		pthread_join(dz->thread, NULL);
		dz->running = 0;
	}
	if (dz->ready)
		dropzone_drain(dz); /* what writers closed is finished; open files stay */
	ingest_pipe_close(dz->pipe);
	for (size_t i = 0; i < dz->n_queued; i++) {
		free(dz->queue[i].spool);
		free(dz->queue[i].name);
	}
	for (size_t i = 0; i < dz->n_busy; i++)
		free(dz->busy[i]);
	for (size_t i = 0; i < dz->n_watches; i++)
		free(dz->watches[i].path);
	free(dz->queue);
	free(dz->busy);
	free(dz->watches);
	if (dz->ino >= 0)
		close(dz->ino);
	if (dz->wake >= 0)
		close(dz->wake);
	pthread_mutex_destroy(&dz->lock);
	free(dz->dir);
	free(dz);
}
