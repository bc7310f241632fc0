/*
 * incoming/: the drop zone.  A file created here is spooled to the store's
 * tmp dir as it is written (hashed on the way when the writes arrive in
 * order, which they do for cp and rsync), and ingested when its writer
 * closes it: the spool file is renamed into the store, so an upload costs
 * one write of its bytes.  A refused file moves to rejected/ with its
 * reason and shows under incoming/.rejected/.
 *
 * rsync writes ".name.XXXXXX" and renames it to "name" when complete; such
 * temporary names are ingested at the rename, under the final name.
 *
 * A name just ingested stays reachable by lookup (not listed) for the
 * next INCOMING_GHOSTS ingests, so a tool that sets times or mode on the
 * path after closing it (rsync, cp -p) succeeds.
 *
 * Group commit.  Closing a file queues its spool (with its name in the
 * spool's "user.dsfs.name" extended attribute, or a "<spool>.name" file
 * where xattrs are not supported, so a daemon killed right after the close
 * re-ingests it at the next mount) and returns; an ingester thread takes
 * whatever is queued and ingests it as one group (core/ingest_batch: two
 * syncfs calls and one catalog transaction per group instead of two fsyncs
 * and a transaction per file).  Every view of the dataset in the mount
 * (images/, exports/, README, ctl verbs, .rejected/) first waits for the
 * queue to drain (incoming_drain), so what a writer closed is what the next
 * reader sees.
 */
#include "fs_int.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "core/ingest.h"
#include "core/repo.h"
#include "store/blob.h"
#include "store/blob_hash.h"
#include "util/err.h"
#include "util/log.h"

#define INCOMING_GHOSTS 4096
#define REJECTED_DIR ".rejected"

struct spool {
	char *name;                 /* protected by incoming->lock */
	char path[PATH_MAX];
	int fd;                     /* the writers' descriptor */
	off_t size;                 /* protected by mu */
	struct blob_hasher *hasher; /* protected by mu; NULL once writes went out of order */
	off_t hashed;               /* protected by mu */
	int writers;                /* protected by incoming->lock */
	int wrote;                  /* protected by mu */
	unsigned refs;              /* protected by incoming->lock: the list, handles, nodes */
	struct incoming *in;
	pthread_mutex_t mu;
	struct spool *next;         /* protected by incoming->lock */
};

struct ghost {
	char name[CATALOG_NAME_MAX];
	int64_t size;
};

/* A closed upload waiting for the ingester. */
struct queued {
	char path[PATH_MAX];        /* the spool file */
	char name[CATALOG_NAME_MAX];
	int have_hash;
	struct blob_id hash;
};

#define INGEST_GROUP_MAX 512
/*
 * A bulk copy is ingested in groups of at least this many; a smaller rest
 * goes when a reader needs it (incoming_drain), at the watcher's next tick,
 * or at unmount.  Syncing the file system while the writer is still
 * writing stalls the writer, so fewer, larger groups are much faster.
 */
#define INGEST_GROUP_MIN 256

struct incoming {
	pthread_mutex_t lock;       /* before any spool->mu */
	struct spool *spools;
	struct ghost *ghosts;       /* ring of INCOMING_GHOSTS */
	size_t ghost_next;
	/* the ingest queue, protected by lock */
	struct queued *queue;
	size_t n_queued, cap_queued;
	int busy;                   /* the ingester holds a group */
	int flush;                  /* somebody waits: ingest a partial group now */
	size_t seen_at_tick;        /* n_queued at the watcher's last tick */
	int stopping;
	pthread_cond_t work;        /* signalled when something is queued or at stop */
	pthread_cond_t drained;     /* signalled when a group is done */
	pthread_t thread;
	int running;
	struct fs *fs;
};

static int spool_start(struct fs *fs, const char *name, struct spool **out);
static const struct node_ops incoming_dir_ops, spool_ops, ghost_ops, rejected_dir_ops,
	rejected_file_ops;

static void spool_unref(struct incoming *in, struct spool *s)
{
	int last;

	pthread_mutex_lock(&in->lock);
	last = --s->refs == 0;
	pthread_mutex_unlock(&in->lock);
	if (!last)
		return;
	if (s->fd >= 0)
		close(s->fd);
	blob_hasher_free(s->hasher);
	pthread_mutex_destroy(&s->mu);
	free(s->name);
	free(s);
}

/* Caller holds in->lock.  The spool named `name`, or NULL. */
static struct spool *find_spool(struct incoming *in, const char *name, struct spool ***link)
{
	struct spool **pp;

	for (pp = &in->spools; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->name, name)) {
			if (link)
				*link = pp;
			return *pp;
		}
	}
	return NULL;
}

static const struct ghost *find_ghost(struct incoming *in, const char *name)
{
	for (size_t i = 0; i < INCOMING_GHOSTS; i++)
		if (in->ghosts[i].name[0] && !strcmp(in->ghosts[i].name, name))
			return &in->ghosts[i];
	return NULL;
}

static void add_ghost(struct incoming *in, const char *name, int64_t size)
{
	struct ghost *g = &in->ghosts[in->ghost_next++ % INCOMING_GHOSTS];

	snprintf(g->name, sizeof(g->name), "%s", name);
	g->size = size;
}

/* rsync's temporary names: ".<name>.XXXXXX". */
static int is_rsync_temp(const char *name)
{
	size_t n = strlen(name);
	const char *dot = strrchr(name, '.');

	if (name[0] != '.' || n < 9 || !dot || dot == name || (size_t)(name + n - dot) != 7)
		return 0;
	for (const char *p = dot + 1; *p; p++)
		if (!isalnum((unsigned char)*p))
			return 0;
	return 1;
}

#define NAME_XATTR "user.dsfs.name"

/*
 * Remember a closed upload's name beside its bytes.  An extended attribute
 * on the spool costs no inode (a marker file per upload made ext4's inode
 * allocator crawl over the ones just deleted); a file is the fallback.
 */
static int write_marker(int spool_fd, const char *spool_path, const char *name)
{
	char path[PATH_MAX + 8];
	FILE *f;

	if (fsetxattr(spool_fd, NAME_XATTR, name, strlen(name), 0) == 0)
		return 0;
	if (errno != ENOTSUP && errno != EOPNOTSUPP)
		return err_set(-errno, "incoming: cannot mark %s: %s", spool_path, strerror(errno));
	snprintf(path, sizeof(path), "%s.name", spool_path);
	if (!(f = fopen(path, "we")))
		return err_set(-errno, "incoming: cannot write %s: %s", path, strerror(errno));
	fputs(name, f);
	return fclose(f) == 0 ? 0 : err_set(-EIO, "incoming: cannot write %s", path);
}

/* The name a spool was closed under ("" if it never was). */
static void read_marker(char name[CATALOG_NAME_MAX], const char *spool_path)
{
	char path[PATH_MAX + 8];
	ssize_t n = getxattr(spool_path, NAME_XATTR, name, CATALOG_NAME_MAX - 1);
	FILE *f;

	name[n > 0 ? n : 0] = '\0';
	if (n > 0)
		return;
	snprintf(path, sizeof(path), "%s.name", spool_path);
	if ((f = fopen(path, "re"))) {
		if (!fgets(name, CATALOG_NAME_MAX, f))
			name[0] = '\0';
		fclose(f);
	}
}

/* Caller holds in->lock. */
static int enqueue_locked(struct incoming *in, const char *path, const char *name, int have_hash,
			  const struct blob_id *hash)
{
	struct queued *q;

	if (in->n_queued == in->cap_queued) {
		size_t cap = in->cap_queued ? in->cap_queued * 2 : 256;
		if (!(q = realloc(in->queue, cap * sizeof(*q))))
			return err_set(-ENOMEM, "out of memory");
		in->queue = q;
		in->cap_queued = cap;
	}
	q = &in->queue[in->n_queued++];
	snprintf(q->path, sizeof(q->path), "%s", path);
	snprintf(q->name, sizeof(q->name), "%s", name);
	q->have_hash = have_hash;
	if (have_hash)
		q->hash = *hash;
	pthread_cond_signal(&in->work);
	return 0;
}

/*
 * A closed upload: drop the spool from the list (its name becomes a ghost)
 * and queue it for the ingester.
 */
static int ingest_now(struct fs *fs, struct spool *s, const char *name)
{
	struct incoming *in = fs->incoming;
	struct blob_id id;
	struct spool **link;
	int have_hash, error;

	pthread_mutex_lock(&s->mu);
	have_hash = s->hasher && s->hashed == s->size;
	if (have_hash)
		blob_hasher_digest(s->hasher, &id);
	pthread_mutex_unlock(&s->mu);
	if ((error = write_marker(s->fd, s->path, name)) < 0) {
		LOG_E("%s", err_last());
		return error;
	}
	pthread_mutex_lock(&in->lock);
	if (find_spool(in, s->name, &link) == s) {
		*link = s->next;
		s->refs--; /* the list's reference */
	}
	add_ghost(in, name, (int64_t)s->size);
	error = enqueue_locked(in, s->path, name, have_hash, &id);
	pthread_mutex_unlock(&in->lock);
	return error;
}

/* Ingest one group taken from the queue (no lock held). */
static void ingest_group(struct fs *fs, struct queued *q, size_t n)
{
	struct ingest_item *items = calloc(n, sizeof(*items));
	char marker[PATH_MAX + 8];
	int error;

	if (!items) {
		LOG_E("incoming: out of memory for a group of %zu uploads (kept for the next mount)", n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		items[i].path = q[i].path;
		items[i].name = q[i].name;
		items[i].spooled = 1;
		items[i].have_hash = q[i].have_hash;
		items[i].hash = q[i].hash;
	}
	err_clear();
	if ((error = ingest_batch(fs->repo, items, n, "incoming")) < 0)
		LOG_E("incoming: a group of %zu uploads failed: %s (kept for the next mount)", n,
		      err_msg(error));
	for (size_t i = 0; i < n && !error; i++) {
		struct ingest_item *it = &items[i];

		if (it->error < 0) {
			LOG_E("incoming: %s: %s (kept for the next mount)", it->name, err_msg(it->error));
			continue;
		}
		if (it->res.status == INGEST_ADDED) {
			struct blob_id id;
			char blob[PATH_MAX];

			LOG_I("incoming: %s ingested as %s.%s", it->name, it->res.img.id, it->res.img.ext);
			/* The spool is the blob now: the upload's name goes (it is in the catalog). */
			if (blob_id_parse(&id, it->res.img.id) == 0 &&
			    blob_path(blob, sizeof(blob), fs->repo->blobs, &id) == 0)
				removexattr(blob, NAME_XATTR);
		}
		snprintf(marker, sizeof(marker), "%s.name", q[i].path);
		unlink(marker); /* the fallback marker, if xattrs were not supported */
	}
	free(items);
	fs_check_generation(fs);
}

static void *ingester_main(void *arg)
{
	struct incoming *in = arg;
	struct queued *group = malloc(INGEST_GROUP_MAX * sizeof(*group));
	size_t n;

	pthread_mutex_lock(&in->lock);
	while (group) {
		while (!in->stopping && in->n_queued < INGEST_GROUP_MIN && !(in->flush && in->n_queued))
			pthread_cond_wait(&in->work, &in->lock);
		if (!in->n_queued)
			break; /* stopping, and nothing left */
		n = in->n_queued < INGEST_GROUP_MAX ? in->n_queued : INGEST_GROUP_MAX;
		memcpy(group, in->queue, n * sizeof(*group));
		memmove(in->queue, in->queue + n, (in->n_queued - n) * sizeof(*group));
		in->n_queued -= n;
		in->busy = 1;
		pthread_mutex_unlock(&in->lock);
		ingest_group(in->fs, group, n);
		pthread_mutex_lock(&in->lock);
		in->busy = 0;
		if (!in->n_queued)
			in->flush = 0;
		pthread_cond_broadcast(&in->drained);
	}
	pthread_mutex_unlock(&in->lock);
	free(group);
	return NULL;
}

void incoming_drain(struct fs *fs)
{
	struct incoming *in = fs->incoming;

	if (!in || !in->running)
		return;
	pthread_mutex_lock(&in->lock);
	if (in->n_queued) {
		in->flush = 1;
		pthread_cond_signal(&in->work);
	}
	while (in->n_queued || in->busy)
		pthread_cond_wait(&in->drained, &in->lock);
	pthread_mutex_unlock(&in->lock);
}

void incoming_kick(struct fs *fs)
{
	struct incoming *in = fs->incoming;

	if (!in || !in->running)
		return;
	/* Only when uploads stopped coming since the last tick: never inside a bulk copy. */
	pthread_mutex_lock(&in->lock);
	if (in->n_queued && in->n_queued == in->seen_at_tick) {
		in->flush = 1;
		pthread_cond_signal(&in->work);
	}
	in->seen_at_tick = in->n_queued;
	pthread_mutex_unlock(&in->lock);
}

/* ---- spool files ---- */

static int spool_getattr(struct fs *fs, struct node *n, struct stat *st)
{
	struct spool *s = n->priv;

	(void)fs;
	pthread_mutex_lock(&s->mu);
	st->st_size = s->size;
	pthread_mutex_unlock(&s->mu);
	st->st_mtime = time(NULL);
	return 0;
}

static int spool_open(struct fs *fs, struct node *n, struct fh *fh)
{
	struct spool *s = n->priv;
	struct incoming *in = fs->incoming;
	int present;

	pthread_mutex_lock(&in->lock);
	present = find_spool(in, n->name, NULL) == s;
	if (present) {
		s->refs++;
		if (fh->writable)
			s->writers++;
	}
	pthread_mutex_unlock(&in->lock);
	if (!present)
		return -ENOENT;
	fh->priv = s;
	fh->direct_io = 1;
	return 0;
}

static int spool_read(struct fs *fs, struct fh *fh, char *dst, size_t size, off_t off, size_t *got)
{
	struct spool *s = fh->priv;
	ssize_t r = pread(s->fd, dst, size, off);

	(void)fs;
	if (r < 0)
		return -errno;
	*got = (size_t)r;
	return 0;
}

static int spool_write(struct fs *fs, struct fh *fh, const char *src, size_t size, off_t off)
{
	struct spool *s = fh->priv;
	size_t done = 0;

	(void)fs;
	while (done < size) {
		ssize_t w = pwrite(s->fd, src + done, size - done, off + (off_t)done);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			LOG_E("incoming: writing %s: %s", s->name, strerror(errno));
			return -errno;
		}
		done += (size_t)w;
	}
	pthread_mutex_lock(&s->mu);
	if (s->hasher && off == s->hashed) {
		blob_hasher_update(s->hasher, src, size);
		s->hashed += (off_t)size;
	} else if (s->hasher && off + (off_t)size > s->hashed) {
		blob_hasher_free(s->hasher); /* out of order: hash the file at close */
		s->hasher = NULL;
	}
	if (off + (off_t)size > s->size)
		s->size = off + (off_t)size;
	s->wrote = 1;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static int spool_truncate(struct fs *fs, struct node *n, struct fh *fh, off_t size)
{
	struct spool *s = fh ? fh->priv : n->priv;

	(void)fs;
	if (ftruncate(s->fd, size) < 0)
		return -errno;
	pthread_mutex_lock(&s->mu);
	s->size = size;
	if (s->hasher && size < s->hashed) {
		blob_hasher_free(s->hasher);
		s->hasher = NULL;
	}
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/*
 * Whether closing `fh` should ingest its spool now: its last writer is
 * closing, it is still listed, and its name is final (rsync's temporary
 * files are ingested at their rename).  Fills `name`.
 */
static int ready_to_ingest(struct incoming *in, struct spool *s, struct fh *fh, char *name)
{
	int ready;

	pthread_mutex_lock(&in->lock);
	ready = fh->writable && s->writers == 1 && find_spool(in, s->name, NULL) == s &&
		!is_rsync_temp(s->name);
	snprintf(name, CATALOG_NAME_MAX, "%s", s->name);
	pthread_mutex_unlock(&in->lock);
	return ready;
}

/*
 * close(2): ingest once something was written, so the writer's close()
 * returns after the image is in the catalog.  A close before any write
 * (a shell's `> file` closes a dup'ed descriptor first) does nothing.
 */
static int spool_flush(struct fs *fs, struct fh *fh)
{
	struct spool *s = fh->priv;
	char name[CATALOG_NAME_MAX];
	int wrote;

	pthread_mutex_lock(&s->mu);
	wrote = s->wrote;
	pthread_mutex_unlock(&s->mu);
	if (!wrote || !ready_to_ingest(fs->incoming, s, fh, name))
		return 0;
	return ingest_now(fs, s, name);
}

static void spool_release(struct fs *fs, struct fh *fh)
{
	struct spool *s = fh->priv;
	struct incoming *in = fs->incoming;
	char name[CATALOG_NAME_MAX];

	if (!s)
		return;
	/* A file closed without a write (empty) is ingested, i.e. rejected, here. */
	if (ready_to_ingest(in, s, fh, name))
		ingest_now(fs, s, name);
	pthread_mutex_lock(&in->lock);
	if (fh->writable)
		s->writers--;
	pthread_mutex_unlock(&in->lock);
	spool_unref(in, s);
}

static void spool_destroy(struct node *n)
{
	struct spool *s = n->priv;

	spool_unref(s->in, s); /* the node's reference */
}

static const struct node_ops spool_ops = {
	.kind = "incoming-file",
	.getattr = spool_getattr,
	.open = spool_open,
	.read = spool_read,
	.write = spool_write,
	.flush = spool_flush,
	.release = spool_release,
	.truncate = spool_truncate,
	.destroy = spool_destroy,
};

/* ---- ghosts: names ingested a moment ago ---- */

static int ghost_getattr(struct fs *fs, struct node *n, struct stat *st)
{
	(void)fs;
	st->st_size = (off_t)(intptr_t)n->priv;
	return 0;
}

static int ghost_truncate(struct fs *fs, struct node *n, struct fh *fh, off_t size)
{
	/* Through an open handle it is the new upload's spool; by path, nothing to cut. */
	return fh && fh->priv ? spool_truncate(fs, n, fh, size) : size == 0 ? 0 : -EROFS;
}

/* Writing a just-ingested name again (cp of a second file with that name) starts a new upload. */
static int ghost_open(struct fs *fs, struct node *n, struct fh *fh)
{
	if (!fh->writable)
		return -EACCES; /* the bytes live in images/ now */
	fh->direct_io = 1;
	return spool_start(fs, n->name, (struct spool **)&fh->priv);
}

static const struct node_ops ghost_ops = {
	.kind = "incoming-done",
	.getattr = ghost_getattr,
	.open = ghost_open,
	.read = spool_read,
	.write = spool_write,
	.flush = spool_flush,
	.release = spool_release,
	.truncate = ghost_truncate,
};

/* ---- the incoming directory ---- */

static int rejected_dir_make(struct node_spec *out)
{
	out->ops = &rejected_dir_ops;
	out->mode = S_IFDIR | 0555;
	out->flags = NODE_VOLATILE;
	return 0;
}

static int incoming_lookup(struct fs *fs, struct node *dir, const char *name, struct node_spec *out)
{
	struct incoming *in = fs->incoming;
	const struct ghost *g;
	struct spool *s;
	int error = -ENOENT;

	(void)dir;
	if (!strcmp(name, REJECTED_DIR))
		return rejected_dir_make(out);
	pthread_mutex_lock(&in->lock);
	if ((s = find_spool(in, name, NULL))) {
		s->refs++; /* the node's; dropped by spool_destroy */
		out->ops = &spool_ops;
		out->mode = S_IFREG | 0644;
		out->flags = NODE_WRITABLE;
		out->priv = s;
		error = 0;
	} else if ((g = find_ghost(in, name))) {
		out->ops = &ghost_ops;
		out->mode = S_IFREG | 0444;
		out->flags = NODE_WRITABLE | NODE_VOLATILE;
		out->priv = (void *)(intptr_t)g->size;
		error = 0;
	}
	pthread_mutex_unlock(&in->lock);
	return error;
}

static int incoming_list(struct fs *fs, struct node *dir, struct dirlist *out)
{
	struct incoming *in = fs->incoming;
	int error;

	(void)dir;
	if ((error = dirlist_add(out, REJECTED_DIR)) < 0)
		return error;
	pthread_mutex_lock(&in->lock);
	for (struct spool *s = in->spools; s && !error; s = s->next)
		error = dirlist_add(out, s->name);
	pthread_mutex_unlock(&in->lock);
	return error;
}

/* Start a spool for `name` and list it; the caller gets one reference (its handle's). */
static int spool_start(struct fs *fs, const char *name, struct spool **out)
{
	struct incoming *in = fs->incoming;
	struct spool *s, **link;
	int error;

	if (!strcmp(name, REJECTED_DIR) || strlen(name) >= CATALOG_NAME_MAX)
		return -EINVAL;
	if (!(s = calloc(1, sizeof(*s))) || !(s->name = strdup(name))) {
		free(s);
		return -ENOMEM;
	}
	pthread_mutex_init(&s->mu, NULL);
	s->in = in;
	s->refs = 1;
	snprintf(s->path, sizeof(s->path), "%s/incoming-XXXXXX", blob_tmp_dir(fs->repo->blobs));
	if ((s->fd = mkstemp(s->path)) < 0) {
		error = err_set(-errno, "incoming: cannot create a spool file: %s", strerror(errno));
		LOG_E("%s", err_last());
		spool_unref(in, s);
		return error;
	}
	if ((error = blob_hasher_new(&s->hasher)) < 0) {
		unlink(s->path);
		spool_unref(in, s);
		return error;
	}
	pthread_mutex_lock(&in->lock);
	struct spool *old = find_spool(in, name, &link);
	if (old) {
		/* O_CREAT without O_EXCL on a file still being written: replace it. */
		*link = old->next;
		unlink(old->path);
	}
	s->refs = 2; /* the list and the handle */
	s->writers = 1;
	s->next = in->spools;
	in->spools = s;
	pthread_mutex_unlock(&in->lock);
	if (old)
		spool_unref(in, old);
	*out = s;
	return 0;
}

static int incoming_create(struct fs *fs, struct node *dir, const char *name, mode_t mode,
			   struct node_spec *out, struct fh *fh)
{
	struct spool *s;
	int error;

	(void)dir;
	(void)mode;
	if ((error = spool_start(fs, name, &s)) < 0)
		return error;
	pthread_mutex_lock(&fs->incoming->lock);
	s->refs++; /* the node's; dropped by spool_destroy */
	pthread_mutex_unlock(&fs->incoming->lock);
	out->ops = &spool_ops;
	out->mode = S_IFREG | 0644;
	out->flags = NODE_WRITABLE;
	out->priv = s;
	fh->priv = s;
	fh->direct_io = 1;
	return 0;
}

static int incoming_unlink(struct fs *fs, struct node *dir, const char *name)
{
	struct incoming *in = fs->incoming;
	struct spool *s, **link;
	struct ghost *g;

	(void)dir;
	pthread_mutex_lock(&in->lock);
	if ((s = find_spool(in, name, &link))) {
		*link = s->next;
		unlink(s->path);
		pthread_mutex_unlock(&in->lock);
		spool_unref(in, s);
		return 0;
	}
	if ((g = (struct ghost *)find_ghost(in, name))) {
		g->name[0] = '\0'; /* the image stays in the dataset */
		pthread_mutex_unlock(&in->lock);
		return 0;
	}
	pthread_mutex_unlock(&in->lock);
	return -ENOENT;
}

static int incoming_rename(struct fs *fs, struct node *dir, const char *name, struct node *newdir,
			   const char *newname)
{
	struct incoming *in = fs->incoming;
	struct spool *s, *other, **link;
	char *copy;
	int ingest;

	(void)dir;
	(void)newdir;
	if (!strcmp(newname, REJECTED_DIR) || strlen(newname) >= CATALOG_NAME_MAX)
		return -EINVAL;
	if (!(copy = strdup(newname)))
		return -ENOMEM;
	pthread_mutex_lock(&in->lock);
	if (!(s = find_spool(in, name, NULL))) {
		pthread_mutex_unlock(&in->lock);
		free(copy);
		return -ENOENT;
	}
	if ((other = find_spool(in, newname, &link)) && other != s) {
		*link = other->next; /* replaced, as rename(2) does */
		unlink(other->path);
	} else {
		other = NULL;
	}
	free(s->name);
	s->name = copy;
	s->refs++;
	ingest = s->writers == 0 && !is_rsync_temp(newname);
	pthread_mutex_unlock(&in->lock);
	if (other)
		spool_unref(in, other);
	if (ingest)
		ingest_now(fs, s, newname);
	spool_unref(in, s);
	return 0;
}

static const struct node_ops incoming_dir_ops = {
	.kind = "incoming",
	.lookup = incoming_lookup,
	.list = incoming_list,
	.create = incoming_create,
	.unlink = incoming_unlink,
	.rename = incoming_rename,
};

int incoming_dir_make(struct fs *fs, struct node *dir, struct node_spec *out)
{
	(void)fs;
	(void)dir;
	out->ops = &incoming_dir_ops;
	out->mode = S_IFDIR | 0755;
	out->flags = NODE_WRITABLE;
	return 0;
}

/* ---- incoming/.rejected: the real rejected/ directory, read-only ---- */

static int rejected_lookup(struct fs *fs, struct node *dir, const char *name, struct node_spec *out)
{
	char path[PATH_MAX];
	struct stat st;

	(void)dir;
	incoming_drain(fs);
	if (strchr(name, '/') ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", fs->repo->rejected_dir, name) >= sizeof(path) ||
	    stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return -ENOENT;
	out->ops = &rejected_file_ops;
	out->mode = S_IFREG | 0444;
	out->flags = NODE_VOLATILE;
	return 0;
}

static int rejected_list(struct fs *fs, struct node *dir, struct dirlist *out)
{
	struct dirent *e;
	int error = 0;
	DIR *d;

	(void)dir;
	incoming_drain(fs);
	d = opendir(fs->repo->rejected_dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while (!error && (e = readdir(d)))
		if (e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")))
			error = dirlist_add(out, e->d_name);
	closedir(d);
	return error;
}

static int rejected_unlink(struct fs *fs, struct node *dir, const char *name)
{
	char path[PATH_MAX];

	(void)dir;
	snprintf(path, sizeof(path), "%s/%s", fs->repo->rejected_dir, name);
	return unlink(path) < 0 ? -errno : 0;
}

static const struct node_ops rejected_dir_ops = {
	.kind = "rejected",
	.lookup = rejected_lookup,
	.list = rejected_list,
	.unlink = rejected_unlink,
};

static int rejected_path(char *path, size_t size, struct fs *fs, struct node *n)
{
	if ((size_t)snprintf(path, size, "%s/%s", fs->repo->rejected_dir, n->name) >= size)
		return -ENAMETOOLONG;
	return 0;
}

static int rejected_getattr(struct fs *fs, struct node *n, struct stat *st)
{
	char path[PATH_MAX];
	struct stat real;

	if (rejected_path(path, sizeof(path), fs, n) < 0 || stat(path, &real) < 0)
		return -ENOENT;
	st->st_size = real.st_size;
	st->st_mtime = real.st_mtime;
	return 0;
}

static int rejected_open(struct fs *fs, struct node *n, struct fh *fh)
{
	char path[PATH_MAX];

	if (rejected_path(path, sizeof(path), fs, n) < 0 ||
	    (fh->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -ENOENT;
	return 0;
}

static const struct node_ops rejected_file_ops = {
	.kind = "rejected-file",
	.getattr = rejected_getattr,
	.open = rejected_open,
};

/* ---- state ---- */

int incoming_init(struct fs *fs)
{
	struct incoming *in = calloc(1, sizeof(*in));
	const char *tmp = blob_tmp_dir(fs->repo->blobs);
	struct dirent *e;
	DIR *d;

	if (!in || !(in->ghosts = calloc(INCOMING_GHOSTS, sizeof(*in->ghosts)))) {
		free(in);
		return err_set(-ENOMEM, "out of memory");
	}
	pthread_mutex_init(&in->lock, NULL);
	pthread_cond_init(&in->work, NULL);
	pthread_cond_init(&in->drained, NULL);
	in->fs = fs;
	fs->incoming = in;
	/*
	 * What an earlier daemon left: closed uploads (with a .name marker) are
	 * ingested now; unfinished ones (no marker) were never acknowledged to
	 * their writers, so they go.
	 */
	if ((d = opendir(tmp))) {
		while ((e = readdir(d))) {
			char path[PATH_MAX], marker[PATH_MAX + 8], name[CATALOG_NAME_MAX];

			if (strncmp(e->d_name, "incoming-", 9) || strchr(e->d_name, '.'))
				continue;
			snprintf(path, sizeof(path), "%s/%s", tmp, e->d_name);
			snprintf(marker, sizeof(marker), "%s.name", path);
			read_marker(name, path);
			if (name[0]) {
				LOG_W("incoming: ingesting %s, closed before an earlier daemon stopped", name);
				enqueue_locked(in, path, name, 0, NULL);
			} else if (unlink(path) == 0) {
				unlink(marker);
				LOG_W("incoming: removed an unfinished upload left by an earlier daemon (%s)", e->d_name);
			}
		}
		closedir(d);
	}
	return 0;
}

int incoming_start(struct fs *fs)
{
	struct incoming *in = fs->incoming;

	if (pthread_create(&in->thread, NULL, ingester_main, in) != 0)
		return err_set(-EAGAIN, "cannot start the ingest thread");
	in->running = 1;
	return 0;
}

void incoming_release(struct fs *fs)
{
	struct incoming *in = fs->incoming;
	struct spool *s, *next;

	if (!in)
		return;
	if (in->running) {
		/* Finish what was acknowledged to writers before the daemon exits. */
		pthread_mutex_lock(&in->lock);
		in->stopping = 1;
		pthread_cond_signal(&in->work);
		pthread_mutex_unlock(&in->lock);
		pthread_join(in->thread, NULL);
	}
	for (s = in->spools; s; s = next) {
		next = s->next;
		LOG_W("incoming: %s was still being written at unmount; discarded", s->name);
		unlink(s->path);
		s->refs = 1;
		spool_unref(in, s);
	}
	pthread_cond_destroy(&in->work);
	pthread_cond_destroy(&in->drained);
	pthread_mutex_destroy(&in->lock);
	free(in->queue);
	free(in->ghosts);
	free(in);
	fs->incoming = NULL;
}
