/*
 * Content-addressed blob store (see blob.h for the on-disk layout).
 *
 * Write path.  Every new blob is first written in full to a private file in
 * DIR/tmp/ (mkostemp: the file needs a name, because on a hash hit it is
 * compared byte for byte with the stored blob, and blob_put_tmpfile() adopts
 * files spooled by others).  The tmp file is fsync'ed and made 0444, then
 * linked into objects/ab/cd/ with renameat2(RENAME_NOREPLACE) (link() +
 * unlink() where the file system lacks it): a rename that would replace an
 * existing name fails with EEXIST instead, so two writers racing on one hash
 * can never overwrite a stored blob; the loser goes down the compare path.
 * The shard directory is fsync'ed last so the new name survives a crash.  A
 * crash at any point leaves either nothing or a complete blob under objects/
 * plus, perhaps, a stray file in tmp/ (blob_store_sweep_tmp() removes those).
 *
 * Fetching.  A missing blob with a fetch hook set is fetched once even when
 * several threads open it at once: the first opener puts an `inflight`
 * record on store->inflight and fetches without holding the lock; later
 * openers of the same id find the record, wait on store->cond and share its
 * result.  The fetched file is re-hashed before it is adopted, so a remote
 * that returns the wrong bytes cannot poison the store.
 *
 * Lock order: store->lock is a leaf lock, never held across I/O or callbacks.
 * Everything else in the struct is immutable after blob_store_open().
 */
#include "blob.h"

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "util/err.h"
#include "util/fault.h"
#include "util/fsutil.h"
#include "util/log.h"

/* Read/write chunk: big enough that syscalls don't dominate a 50 MiB put. */
#define CHUNK (1u << 20)

/* Private spool directories under tmp/ (blob_spool_dir). */
#define SPOOL_DIR_PREFIX "spool-"

struct inflight {
	struct blob_id id;
	int done;               /* protected by store->lock */
	int result;             /* valid once done */
	int refs;               /* the fetcher + each waiter */
	char msg[256];          /* the fetcher's error message, for the waiters */
	struct inflight *next;
};

struct blob_store {
	char *dir;              /* immutable after open */
	char *objects;
	char *tmp;
	pthread_mutex_t lock;
	pthread_cond_t cond;    /* signalled when an inflight fetch finishes */
	blob_fetch_fn fetch;    /* protected by lock */
	void *fetch_payload;    /* protected by lock */
	struct inflight *inflight; /* protected by lock */
	/*
	 * Shard directories objects/ab/cd known to exist, one bit per ab/cd:
	 * adopting a blob then costs no mkdir calls (three of the ~17 system
	 * calls of a batched ingest per file).  Set once seen; a shard removed
	 * behind our back shows as ENOENT at the rename, which re-makes it.
	 */
	_Atomic uint8_t shard_known[65536 / 8];
};

static const char hexdig[] = "0123456789abcdef";

void blob_id_hex(char out[BLOB_HEX_LEN + 1], const struct blob_id *id)
{
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hexdig[id->b[i] >> 4];
		out[2 * i + 1] = hexdig[id->b[i] & 15];
	}
	out[BLOB_HEX_LEN] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int blob_id_parse(struct blob_id *out, const char *hex)
{
	struct blob_id id;

	if (!hex)
		return err_set(-EINVAL, "blob id: NULL");
	for (int i = 0; i < 16; i++) {
		int hi = hexval(hex[2 * i]), lo;

		/* hex[2i] is checked before hex[2i+1] is read: no overrun on a short string */
		if (hi < 0 || (lo = hexval(hex[2 * i + 1])) < 0)
			return err_set(-EINVAL, "not a blob id (32 hex digits): '%.40s'", hex);
		id.b[i] = (uint8_t)(hi << 4 | lo);
	}
	if (hex[BLOB_HEX_LEN] != '\0')
		return err_set(-EINVAL, "not a blob id (32 hex digits): '%.40s'", hex);
	*out = id;
	return 0;
}

static void id_from_hash(struct blob_id *out, XXH128_hash_t h)
{
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, h);
	memcpy(out->b, c.digest, sizeof(out->b));
}

void blob_id_of(struct blob_id *out, const void *data, size_t len)
{
	id_from_hash(out, XXH3_128bits(data, len));
}

static int id_eq(const struct blob_id *a, const struct blob_id *b)
{
	return !memcmp(a->b, b->b, sizeof(a->b));
}

/* ---- small I/O helpers ---- */

static ssize_t read_full(int fd, void *dst, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)dst + got, len - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n;

		if (fault_sim(FAULT_BLOB_WRITE))
			return -ENOSPC;
		n = write(fd, p, len);
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

/* The header promises -ENOSPC (out of space or quota) or -EIO for a failed write. */
static int write_error(int error, const char *path)
{
	int code = error == -ENOSPC || error == -EDQUOT ? -ENOSPC : -EIO;

	return err_set(code, "cannot write %s: %s", path, strerror(-error));
}

/* Hash the whole file open at `fd` from its current offset. */
static int hash_fd(struct blob_id *out, uint64_t *size_out, int fd)
{
	XXH3_state_t *st = XXH3_createState();
	char *chunk = malloc(CHUNK);
	uint64_t total = 0;
	ssize_t n;
	int error = 0;

	if (!st || !chunk) {
		error = err_set(-ENOMEM, "out of memory");
		goto done;
	}
	XXH3_128bits_reset(st);
	while ((n = read_full(fd, chunk, CHUNK)) > 0) {
		XXH3_128bits_update(st, chunk, (size_t)n);
		total += (uint64_t)n;
	}
	if (n < 0) {
		error = (int)n;
		goto done;
	}
	id_from_hash(out, XXH3_128bits_digest(st));
	if (size_out)
		*size_out = total;
done:
	XXH3_freeState(st);
	free(chunk);
	return error;
}

/*
 * 1 if the files at fds a and b (both at offset 0) hold the same bytes, 0 if
 * not, negative errno on a read error.
 */
static int same_bytes_fd(int a, int b)
{
	char *ba = malloc(CHUNK), *bb = malloc(CHUNK);
	struct stat sa, sb;
	int result = 1;

	if (!ba || !bb) {
		result = -ENOMEM;
		goto done;
	}
	if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0) {
		result = -errno;
		goto done;
	}
	if (sa.st_size != sb.st_size) {
		result = 0;
		goto done;
	}
	for (;;) {
		ssize_t na = read_full(a, ba, CHUNK), nb = read_full(b, bb, CHUNK);

		if (na < 0 || nb < 0) {
			result = na < 0 ? (int)na : (int)nb;
			break;
		}
		if (na != nb || memcmp(ba, bb, (size_t)na)) {
			result = 0;
			break;
		}
		if (na == 0)
			break;
	}
done:
	free(ba);
	free(bb);
	return result;
}

/* Same, for a memory buffer against a file. */
static int same_bytes_mem(int fd, const void *data, size_t len)
{
	char *chunk = malloc(CHUNK);
	const char *p = data;
	size_t off = 0;
	int result = 1;

	if (!chunk)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read_full(fd, chunk, CHUNK);

		if (n < 0) {
			result = (int)n;
			break;
		}
		if ((size_t)n > len - off || memcmp(chunk, p + off, (size_t)n)) {
			result = 0;
			break;
		}
		off += (size_t)n;
		if (n == 0) {
			result = off == len;
			break;
		}
	}
	free(chunk);
	return result;
}

/* ---- store ---- */

int blob_store_open(struct blob_store **out, const char *dir)
{
	struct blob_store *s;
	int error;

	*out = NULL;
	if (!(s = calloc(1, sizeof(*s))))
		return err_set(-ENOMEM, "out of memory");
	if (asprintf(&s->objects, "%s/objects", dir) < 0) {
		s->objects = NULL;
		goto oom;
	}
	if (asprintf(&s->tmp, "%s/tmp", dir) < 0) {
		s->tmp = NULL;
		goto oom;
	}
	if (!(s->dir = strdup(dir)))
		goto oom;
	if ((error = fs_mkdir_p(s->objects, 0755)) < 0 || (error = fs_mkdir_p(s->tmp, 0700)) < 0) {
		free(s->dir);
		free(s->objects);
		free(s->tmp);
		free(s);
		return error;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	*out = s;
	return 0;
oom:
	free(s->dir);
	free(s->objects);
	free(s->tmp);
	free(s);
	return err_set(-ENOMEM, "out of memory");
}

void blob_store_free(struct blob_store *store)
{
	if (!store)
		return;
	/* Every blob_open() has returned by now, so no inflight record remains. */
	pthread_mutex_destroy(&store->lock);
	pthread_cond_destroy(&store->cond);
	free(store->dir);
	free(store->objects);
	free(store->tmp);
	free(store);
}

const char *blob_tmp_dir(const struct blob_store *store)
{
	return store->tmp;
}

int blob_path(char *out, size_t outsz, const struct blob_store *store, const struct blob_id *id)
{
	char hex[BLOB_HEX_LEN + 1];
	int n;

	blob_id_hex(hex, id);
	n = snprintf(out, outsz, "%s/%.2s/%.2s/%s", store->objects, hex, hex + 2, hex);
	if (n < 0 || (size_t)n >= outsz)
		return err_set(-ENAMETOOLONG, "blob path too long under %s", store->objects);
	return 0;
}

int blob_exists(const struct blob_store *store, const struct blob_id *id)
{
	char path[PATH_MAX];
	struct stat st;

	if (blob_path(path, sizeof(path), store, id) < 0)
		return 0;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

void blob_store_set_fetch(struct blob_store *store, blob_fetch_fn fn, void *payload)
{
	pthread_mutex_lock(&store->lock);
	store->fetch = fn;
	store->fetch_payload = payload;
	pthread_mutex_unlock(&store->lock);
}

/* mkdir that treats "already there" (another thread won the race) as success; 1 if created. */
static int mkdir_once(const char *path)
{
	if (mkdir(path, 0755) == 0)
		return 1;
	if (errno == EEXIST)
		return 0;
	return err_set(-errno, "cannot create %s: %s", path, strerror(errno));
}

static unsigned shard_index(const struct blob_id *id)
{
	return (unsigned)id->b[0] << 8 | id->b[1];
}

/* The shard of `id` exists and its name is durable: later puts skip the mkdirs. */
static void shard_mark_known(struct blob_store *store, const struct blob_id *id)
{
	unsigned k = shard_index(id);

	atomic_fetch_or(&store->shard_known[k >> 3], (uint8_t)(1u << (k & 7)));
}

/*
 * Make objects/ab and objects/ab/cd exist; a directory created here is made
 * durable by fsync'ing its parent (unless `batched`: the caller's syncfs
 * covers it, and marks the shard known after it).
 */
static int make_shard(struct blob_store *store, const struct blob_id *id, const char *hex,
		      int batched)
{
	char d1[PATH_MAX], d2[PATH_MAX];
	unsigned k = shard_index(id);
	int c1, c2, error = 0;

	if (atomic_load(&store->shard_known[k >> 3]) & (1u << (k & 7)))
		return 0;
	snprintf(d1, sizeof(d1), "%s/%.2s", store->objects, hex);
	snprintf(d2, sizeof(d2), "%s/%.2s/%.2s", store->objects, hex, hex + 2);
	if ((c1 = mkdir_once(d1)) < 0)
		return c1;
	if ((c2 = mkdir_once(d2)) < 0)
		return c2;
	if (batched)
		return 0;
	if (c1 && (error = fs_fsync_dir(store->objects)) < 0)
		return error;
	if (c2 && (error = fs_fsync_dir(d1)) < 0)
		return error;
	shard_mark_known(store, id);
	return 0;
}

/* Move tmp to dst unless dst exists (-EEXIST then, dst untouched). */
static int rename_noreplace(const char *tmp, const char *dst)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dst, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
		return -errno;
	/* The file system lacks RENAME_NOREPLACE: link() also refuses to replace. */
	if (link(tmp, dst) < 0)
		return -errno;
	unlink(tmp);
	return 0;
}

/*
 * Compare the stored blob at `path` with the file open at `fd` (the
 * candidate; `what` names it for the message).  0 if equal, -EEXIST if not.
 */
static int check_existing_fd(const char *path, int fd, const char *what, const struct blob_id *id)
{
	char hex[BLOB_HEX_LEN + 1];
	int sfd, same;

	if ((sfd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return err_set(-errno, "cannot open stored blob %s: %s", path, strerror(errno));
	if (lseek(fd, 0, SEEK_SET) < 0) {
		same = -errno;
	} else {
		same = same_bytes_fd(sfd, fd);
	}
	close(sfd);
	if (same < 0)
		return err_set(same, "cannot compare %s with stored blob %s: %s", what, path,
			       strerror(-same));
	if (!same) {
		blob_id_hex(hex, id);
		LOG_E("XXH3-128 collision on %s: %s differs from stored blob %s; kept the stored one",
		      hex, what, path);
		return err_set(-EEXIST,
			       "hash collision: %s and stored blob %s share XXH3-128 %s but differ; "
			       "the stored blob was kept",
			       what, path, hex);
	}
	return 0;
}

/*
 * Adopt the complete file `tmp_path` (open at `fd`, which this function does
 * not close) as blob `id`.  On success the tmp file is gone (renamed or, on
 * dedup, unlinked).  On failure it is left for the caller to decide; *crashed
 * (may be NULL) is set when the failure is the simulated crash before the
 * rename, after which the tmp file must stay, as a real crash would leave it.
 */
static int adopt(struct blob_store *store, const char *tmp_path, int fd, const struct blob_id *id,
		 const char *what, int *crashed, int batched)
{
	char hex[BLOB_HEX_LEN + 1], path[PATH_MAX], shard[PATH_MAX];
	int error;

	blob_id_hex(hex, id);
	if ((error = blob_path(path, sizeof(path), store, id)) < 0)
		return error;

	if (access(path, F_OK) == 0)
		goto existing;

	if (fchmod(fd, 0444) < 0)
		return err_set(-errno, "chmod %s: %s", tmp_path, strerror(errno));
	/* Batched: the caller synced the file system before (and syncs after). */
	if (!batched && fsync(fd) < 0)
		return err_set(-errno, "fsync %s: %s", tmp_path, strerror(errno));
	if (fault_sim(FAULT_BLOB_BEFORE_RENAME)) {
		if (crashed)
			*crashed = 1;
		return err_set(-EIO, "blob %s: simulated crash before rename (fault injection)", hex);
	}
	if ((error = make_shard(store, id, hex, batched)) < 0)
		return error;
	error = rename_noreplace(tmp_path, path);
	if (error == -ENOENT) {
		/* The shard went away since we saw it: make it again. */
		unsigned k = shard_index(id);

		atomic_fetch_and(&store->shard_known[k >> 3], (uint8_t)~(1u << (k & 7)));
		if ((error = make_shard(store, id, hex, batched)) < 0)
			return error;
		error = rename_noreplace(tmp_path, path);
	}
	if (error == -EEXIST)
		goto existing;   /* another writer got there between access() and here */
	if (error < 0)
		return err_set(error, "cannot move %s to %s: %s", tmp_path, path, strerror(-error));
	if (batched)
		return 0;
	snprintf(shard, sizeof(shard), "%s/%.2s/%.2s", store->objects, hex, hex + 2);
	return fs_fsync_dir(shard);

existing:
	if ((error = check_existing_fd(path, fd, what, id)) < 0)
		return error;
	unlink(tmp_path);
	return 0;
}

/* A new private file in `dir` (NULL: tmp/): path into `path_out` (PATH_MAX), fd returned. */
static int make_tmp(char *path_out, const struct blob_store *store, const char *dir,
		    const char *prefix)
{
	int fd;

	dir = dir ? dir : store->tmp;
	snprintf(path_out, PATH_MAX, "%s/%s-XXXXXX", dir, prefix);
	if ((fd = mkostemp(path_out, O_CLOEXEC)) < 0)
		return err_set(-errno, "cannot create a temporary file in %s: %s", dir,
			       strerror(errno));
	return fd;
}

int blob_spool_dir(char *dir_out, const struct blob_store *store)
{
	snprintf(dir_out, PATH_MAX, "%s/" SPOOL_DIR_PREFIX "XXXXXX", store->tmp);
	if (!mkdtemp(dir_out))
		return err_set(-errno, "cannot create a spool directory in %s: %s", store->tmp,
			       strerror(errno));
	return 0;
}

int blob_spool_fd(char *tmp_path, struct blob_id *out, uint64_t *size_out, struct blob_store *store,
		  const char *dir, int fd)
{
	XXH3_state_t *st = NULL;
	char *chunk = NULL;
	uint64_t total = 0;
	int tfd = -1, error = 0;
	ssize_t n;

	tmp_path[0] = '\0';
	if (!(st = XXH3_createState()) || !(chunk = malloc(CHUNK))) {
		error = err_set(-ENOMEM, "out of memory");
		goto done;
	}
	XXH3_128bits_reset(st);
	if ((tfd = make_tmp(tmp_path, store, dir, "put")) < 0) {
		error = tfd;
		tmp_path[0] = '\0';
		goto done;
	}
	/* One pass over the source: hash and spool each chunk as it arrives. */
	while ((n = read_full(fd, chunk, CHUNK)) > 0) {
		XXH3_128bits_update(st, chunk, (size_t)n);
		if ((error = write_all(tfd, chunk, (size_t)n)) < 0) {
			error = write_error(error, tmp_path);
			goto done;
		}
		total += (uint64_t)n;
	}
	if (n < 0) {
		error = err_set((int)n, "cannot read the blob source: %s", strerror((int)-n));
		goto done;
	}
	id_from_hash(out, XXH3_128bits_digest(st));
	if (size_out)
		*size_out = total;
done:
	if (tfd >= 0)
		close(tfd);
	if (error < 0 && tmp_path[0]) {
		unlink(tmp_path);
		tmp_path[0] = '\0';
	}
	XXH3_freeState(st);
	free(chunk);
	return error;
}

int blob_spool_buf(char *tmp_path, struct blob_id *out, struct blob_store *store, const char *dir,
		   const void *data, size_t len)
{
	int tfd, error;

	if ((tfd = make_tmp(tmp_path, store, dir, "put")) < 0) {
		tmp_path[0] = '\0';
		return tfd;
	}
	blob_id_of(out, data, len);
	if ((error = write_all(tfd, data, len)) < 0) {
		error = write_error(error, tmp_path);
		close(tfd);
		unlink(tmp_path);
		tmp_path[0] = '\0';
		return error;
	}
	close(tfd);
	return 0;
}

int blob_put_fd(struct blob_id *out, uint64_t *size_out, struct blob_store *store, int fd)
{
	char tmp_path[PATH_MAX], what[64];
	uint64_t total = 0;
	struct blob_id id;
	int tfd, error, keep_tmp = 0;

	if ((error = blob_spool_fd(tmp_path, &id, &total, store, NULL, fd)) < 0)
		return error;
	if ((tfd = open(tmp_path, O_RDONLY | O_CLOEXEC)) < 0) {
		error = err_set(-errno, "cannot reopen %s: %s", tmp_path, strerror(errno));
		unlink(tmp_path);
		return error;
	}
	snprintf(what, sizeof(what), "new data (%" PRIu64 " bytes)", total);
	error = adopt(store, tmp_path, tfd, &id, what, &keep_tmp, 0);
	close(tfd);
	if (error < 0) {
		if (!keep_tmp)
			unlink(tmp_path);
		return error;
	}
	*out = id;
	if (size_out)
		*size_out = total;
	return 0;
}

static int syncfs_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), error = 0;

	if (fd < 0)
		return err_set(-errno, "cannot open %s: %s", dir, strerror(errno));
	if (syncfs(fd) < 0)
		error = err_set(-errno, "syncfs %s: %s", dir, strerror(errno));
	close(fd);
	return error;
}

int blob_put_tmpfiles(struct blob_store *store, const char *const *tmp_paths,
		      const struct blob_id *ids, size_t n, int *results)
{
	int error;

	if (!n)
		return 0;
	/* 1. Every spooled byte on disk (one journal commit for the whole group). */
	if ((error = syncfs_dir(store->tmp)) < 0)
		return error;
	/* 2. Rename each into place (or dedup against the stored copy). */
	for (size_t i = 0; i < n; i++) {
		int fd = open(tmp_paths[i], O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			results[i] = err_set(-errno, "cannot open %s: %s", tmp_paths[i], strerror(errno));
			continue;
		}
		results[i] = adopt(store, tmp_paths[i], fd, &ids[i], tmp_paths[i], NULL, 1);
		close(fd);
	}
	/* 3. The renames (and any new shard directories) on disk. */
	if ((error = syncfs_dir(store->objects)) < 0)
		return error;
	for (size_t i = 0; i < n; i++)
		if (results[i] == 0)
			shard_mark_known(store, &ids[i]);
	return 0;
}

int blob_put_buf(struct blob_id *out, struct blob_store *store, const void *data, size_t len)
{
	char path[PATH_MAX], tmp_path[PATH_MAX], what[64];
	struct blob_id id;
	int fd, tfd = -1, error, same, keep_tmp = 0;

	blob_id_of(&id, data, len);
	if ((error = blob_path(path, sizeof(path), store, &id)) < 0)
		return error;
	/* Already stored: compare in memory and write nothing. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		same = same_bytes_mem(fd, data, len);
		close(fd);
		if (same < 0)
			return err_set(same, "cannot read stored blob %s: %s", path, strerror(-same));
		if (!same) {
			char hex[BLOB_HEX_LEN + 1];

			blob_id_hex(hex, &id);
			LOG_E("XXH3-128 collision on %s: new data (%zu bytes) differs from stored blob %s",
			      hex, len, path);
			return err_set(-EEXIST,
				       "hash collision: new data (%zu bytes) and stored blob %s share "
				       "XXH3-128 %s but differ; the stored blob was kept",
				       len, path, hex);
		}
		*out = id;
		return 0;
	}
	if ((tfd = make_tmp(tmp_path, store, NULL, "put")) < 0)
		return tfd;
	if ((error = write_all(tfd, data, len)) < 0) {
		error = write_error(error, tmp_path);
		goto done;
	}
	snprintf(what, sizeof(what), "new data (%zu bytes)", len);
	error = adopt(store, tmp_path, tfd, &id, what, &keep_tmp, 0);
	if (error == 0)
		*out = id;
done:
	close(tfd);
	if (error < 0 && !keep_tmp)
		unlink(tmp_path);
	return error;
}

int blob_put_tmpfile(struct blob_store *store, const char *tmp_path, const struct blob_id *id)
{
	int fd, error;

	/* O_RDWR is not needed: fsync and fchmod work on a read-only descriptor. */
	if ((fd = open(tmp_path, O_RDONLY | O_CLOEXEC)) < 0)
		return err_set(-errno, "cannot open %s: %s", tmp_path, strerror(errno));
	error = adopt(store, tmp_path, fd, id, tmp_path, NULL, 0);
	close(fd);
	return error;
}

/* ---- reading, fetching ---- */

/* Fetch `id` through the hook, check its hash, adopt it.  No lock held. */
static int fetch_one(struct blob_store *store, blob_fetch_fn fn, void *payload,
		     const struct blob_id *id)
{
	char path[PATH_MAX], hex[BLOB_HEX_LEN + 1];
	struct blob_id got;
	int fd, error;

	blob_id_hex(hex, id);
	path[0] = '\0';
	if ((error = fn(path, store->tmp, id, payload)) < 0) {
		if (path[0])
			unlink(path);
		return error;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return err_set(-EIO, "fetched blob %s: cannot open %s: %s", hex, path, strerror(errno));
	if ((error = hash_fd(&got, NULL, fd)) < 0) {
		error = err_set(-EIO, "fetched blob %s: cannot read %s: %s", hex, path,
				strerror(-error));
		goto fail;
	}
	if (!id_eq(&got, id)) {
		char ghex[BLOB_HEX_LEN + 1];

		blob_id_hex(ghex, &got);
		LOG_E("fetched blob %s has the wrong content (hashes to %s); discarded", hex, ghex);
		error = err_set(-EIO, "fetched blob %s has the wrong content (hashes to %s)", hex,
				ghex);
		goto fail;
	}
	error = adopt(store, path, fd, id, path, NULL, 0);
	if (error < 0)
		goto fail;
	close(fd);
	return 0;
fail:
	close(fd);
	unlink(path);
	return error;
}

/*
 * Make a missing blob present through the fetch hook, once per id however
 * many threads ask at the same time.
 */
static int fetch_single_flight(struct blob_store *store, const struct blob_id *id)
{
	struct inflight *f, **pp;
	blob_fetch_fn fn;
	void *payload;
	int error;

	pthread_mutex_lock(&store->lock);
	fn = store->fetch;
	payload = store->fetch_payload;
	if (!fn) {
		char hex[BLOB_HEX_LEN + 1];

		pthread_mutex_unlock(&store->lock);
		blob_id_hex(hex, id);
		return err_set(-ENOENT, "blob %s is not in the store", hex);
	}
	for (f = store->inflight; f; f = f->next)
		if (id_eq(&f->id, id))
			break;
	if (f) {
		/* Someone is fetching it: wait and share the outcome. */
		f->refs++;
		while (!f->done)
			pthread_cond_wait(&store->cond, &store->lock);
		error = f->result;
		if (error < 0)
			err_set(error, "%s", f->msg);
		if (--f->refs == 0)
			free(f);
		pthread_mutex_unlock(&store->lock);
		return error;
	}
	if (!(f = calloc(1, sizeof(*f)))) {
		pthread_mutex_unlock(&store->lock);
		return err_set(-ENOMEM, "out of memory");
	}
	f->id = *id;
	f->refs = 1;
	f->next = store->inflight;
	store->inflight = f;
	pthread_mutex_unlock(&store->lock);

	/*
	 * A fetch that finished between the caller's failed open() and our
	 * registration has already stored the blob: don't fetch it again.
	 */
	err_clear();
	error = blob_exists(store, id) ? 0 : fetch_one(store, fn, payload, id);

	pthread_mutex_lock(&store->lock);
	for (pp = &store->inflight; *pp != f; pp = &(*pp)->next)
		;
	*pp = f->next;
	f->done = 1;
	f->result = error;
	if (error < 0)
		snprintf(f->msg, sizeof(f->msg), "%s", err_msg(error));
	pthread_cond_broadcast(&store->cond);
	if (--f->refs == 0)
		free(f);
	pthread_mutex_unlock(&store->lock);
	return error;
}

int blob_open(int *fd_out, struct blob_store *store, const struct blob_id *id)
{
	char path[PATH_MAX];
	int fd, error;

	*fd_out = -1;
	if ((error = blob_path(path, sizeof(path), store, id)) < 0)
		return error;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		*fd_out = fd;
		return 0;
	}
	if (errno != ENOENT)
		return err_set(-errno, "cannot open %s: %s", path, strerror(errno));
	if ((error = fetch_single_flight(store, id)) < 0)
		return error;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return err_set(-errno, "cannot open %s: %s", path, strerror(errno));
	*fd_out = fd;
	return 0;
}

int blob_verify(struct blob_store *store, const struct blob_id *id)
{
	char path[PATH_MAX], hex[BLOB_HEX_LEN + 1], ghex[BLOB_HEX_LEN + 1];
	struct blob_id got;
	int fd, error;

	blob_id_hex(hex, id);
	if ((error = blob_path(path, sizeof(path), store, id)) < 0)
		return error;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return err_set(-ENOENT, "blob %s is missing", hex);
		return err_set(-EIO, "blob %s: cannot open %s: %s", hex, path, strerror(errno));
	}
	error = hash_fd(&got, NULL, fd);
	close(fd);
	if (error < 0)
		return err_set(-EIO, "blob %s: cannot read %s: %s", hex, path, strerror(-error));
	if (!id_eq(&got, id)) {
		blob_id_hex(ghex, &got);
		return err_set(-EIO, "blob %s is corrupt: its bytes hash to %s (%s)", hex, ghex, path);
	}
	return 0;
}

static int is_hex_name(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (hexval(s[i]) < 0 || (s[i] >= 'A' && s[i] <= 'F'))
			return 0;
	return s[len] == '\0';
}

int blob_foreach(struct blob_store *store, int (*cb)(const struct blob_id *id, void *payload),
		 void *payload)
{
	char p1[PATH_MAX], p2[PATH_MAX];
	DIR *d0 = NULL, *d1 = NULL, *d2 = NULL;
	struct dirent *e0, *e1, *e2;
	int error = 0;

	if (!(d0 = opendir(store->objects)))
		return err_set(-errno, "cannot read %s: %s", store->objects, strerror(errno));
	while (!error && (e0 = readdir(d0))) {
		if (!is_hex_name(e0->d_name, 2))
			continue;
		if (snprintf(p1, sizeof(p1), "%s/%s", store->objects, e0->d_name) >= (int)sizeof(p1) ||
		    !(d1 = opendir(p1)))
			continue;   /* not a directory: not ours, skip */
		while (!error && (e1 = readdir(d1))) {
			if (!is_hex_name(e1->d_name, 2))
				continue;
			if (snprintf(p2, sizeof(p2), "%s/%s", p1, e1->d_name) >= (int)sizeof(p2) ||
			    !(d2 = opendir(p2)))
				continue;
			while (!error && (e2 = readdir(d2))) {
				struct blob_id id;

				/* Only names that belong in this shard count as blobs. */
				if (!is_hex_name(e2->d_name, BLOB_HEX_LEN) ||
				    memcmp(e2->d_name, e0->d_name, 2) ||
				    memcmp(e2->d_name + 2, e1->d_name, 2) ||
				    blob_id_parse(&id, e2->d_name) < 0)
					continue;
				error = cb(&id, payload);
			}
			closedir(d2);
			d2 = NULL;
		}
		closedir(d1);
		d1 = NULL;
	}
	closedir(d0);
	return error;
}

/* Remove `path`: a file, or a spool directory with the files in it. */
static int sweep_entry(const char *path, int is_spool_dir)
{
	char sub[PATH_MAX + 256];
	struct dirent *e;
	int removed = 0;
	DIR *d;

	if (!is_spool_dir)
		return unlink(path) == 0 ? 1 : errno == ENOENT ? 0 : -errno;
	if ((d = opendir(path))) {
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
			if (unlink(sub) == 0)
				removed++;
		}
		closedir(d);
	}
	return rmdir(path) == 0 || errno == ENOENT ? removed : -errno;
}

int blob_store_sweep_tmp(struct blob_store *store)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int removed = 0, n;

	if (!(d = opendir(store->tmp)))
		return err_set(-errno, "cannot read %s: %s", store->tmp, strerror(errno));
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		/* Closed uploads waiting for the drop zone (core/dropzone) are not leftovers. */
		if (!strncmp(e->d_name, "incoming-", 9))
			continue;
		snprintf(path, sizeof(path), "%s/%s", store->tmp, e->d_name);
		n = sweep_entry(path, !strncmp(e->d_name, SPOOL_DIR_PREFIX, strlen(SPOOL_DIR_PREFIX)));
		if (n >= 0)
			removed += n;
		else
			LOG_W("blob store: cannot remove %s: %s", path, strerror(-n));
	}
	closedir(d);
	return removed;
}
