/*
 * The FUSE low-level adapters and the session.
 *
 * Each fs_<op> decodes its arguments, asks the node's ops (fs_int.h), and
 * sends exactly one reply.  Missing ops map to errors here, in one place:
 * no lookup/list -> ENOTDIR, no open on a directory -> EISDIR, and any
 * write to a node that does not take writes -> EROFS.  The inode number
 * is the node pointer.
 */
#define FUSE_USE_VERSION 312 /* 3.12: fuse_session_loop_mt takes the fuse_loop_cfg_* config */
#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "core/dropzone.h"
#include "core/jobs.h"
#include "core/mountlink.h"
#include "core/repo.h"
#include "fs.h"
#include "fs_int.h"
#include "store/catalog.h"
#include "util/err.h"
#include "util/log.h"

_Static_assert(sizeof(fuse_ino_t) >= sizeof(uintptr_t), "inode numbers hold node pointers");

#define IMMUTABLE_TIMEOUT 86400.0

static struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct node *node_of(struct fs *fs, fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? fs->root : (struct node *)(uintptr_t)ino;
}

static fuse_ino_t ino_of(struct fs *fs, struct node *n)
{
	return n == fs->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)n;
}

/*
 * Immutable nodes, and volatile ones the mount itself invalidates when the
 * catalog changes (fs_sync_invalidate, the watcher), keep the kernel's cache
 * for long.  Live files (control results, jobs) are asked for their
 * attributes at every read; their mtime is the time of asking, so the
 * kernel drops their cached pages each time (FUSE_CAP_AUTO_INVAL_DATA).
 */
static double timeout_of(const struct node *n)
{
	return n->flags & NODE_LIVE ? 0.0 : IMMUTABLE_TIMEOUT;
}

static int do_getattr(struct fs *fs, struct node *n, struct stat *st)
{
	int error = 0;

	memset(st, 0, sizeof(*st));
	st->st_ino = ino_of(fs, n);
	st->st_mode = n->mode;
	st->st_nlink = S_ISDIR(n->mode) ? 2 : 1;
	st->st_uid = fs->uid; /* not getuid() per call: readdirplus of 40k entries paid 40% in those syscalls */
	st->st_gid = fs->gid;
	st->st_blksize = 65536;
	st->st_mtime = st->st_ctime = st->st_atime = fs->mounted_at;
	if (n->flags & NODE_LIVE)
		clock_gettime(CLOCK_REALTIME, &st->st_mtim);
	if (n->ops->getattr)
		error = n->ops->getattr(fs, n, st);
	st->st_blocks = (st->st_size + 511) / 512;
	return error;
}

/* Look up `name` in `dir`; on success the child holds one new reference (the kernel's). */
static int do_lookup(struct fs *fs, struct node *dir, const char *name, struct fuse_entry_param *e)
{
	struct node_spec spec = { 0 };
	struct node *n;
	int error;

	if (!dir->ops->lookup)
		return -ENOTDIR;
	/*
	 * No draining of uploads and no catalog check here: a lookup must cost
	 * no system call beyond the reply (find, readdirplus of 20k entries).
	 * Directory listings and control verbs do both (fs_opendir).
	 */
	if ((error = dir->ops->lookup(fs, dir, name, &spec)) < 0)
		return error;
	if (!(n = node_get(fs, dir, name, &spec)))
		return -ENOMEM;
	memset(e, 0, sizeof(*e));
	if ((error = do_getattr(fs, n, &e->attr)) < 0) {
		node_unref(fs, n, 1);
		return error;
	}
	e->ino = ino_of(fs, n);
	e->attr_timeout = e->entry_timeout = timeout_of(n);
	return 0;
}

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs *fs = userdata;

	/*
	 * Splice blob bytes into the reply, but do not let the kernel move the
	 * pipe's pages into the file's cache (SPLICE_MOVE): warm reads of a
	 * cache filled that way measured 0.82x of reading the blobs directly,
	 * against 1.00x when the bytes are copied into the cache's own folios
	 * (two mounts of one dataset read alternately, nine times each).  The
	 * moved pages are single 4 KiB pages; ext4's cache uses large folios.
	 */
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	fs->no_open = !!(conn->capable & FUSE_CAP_NO_OPEN_SUPPORT);
	/* O_TRUNC as a SETATTR, not a flag of the OPEN the kernel no longer sends. */
	conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
	/*
	 * The kernel keeps link targets (incoming -> DIR/incoming is read at
	 * every path through it: a round trip per file `cp` writes); links
	 * that move (@HEAD) are volatile, so a catalog change drops them.
	 */
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	/* Live files rely on it: a changed mtime at getattr drops cached pages. */
	if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	conn->max_write = 1 << 20;
	conn->max_readahead = 1 << 20;
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct fuse_entry_param e;
	int error = do_lookup(fs, node_of(fs, parent), name, &e);

	if (error)
		fuse_reply_err(req, -error);
	else
		fuse_reply_entry(req, &e);
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct fs *fs = fs_of(req);

	node_unref(fs, node_of(fs, ino), nlookup);
	fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct fs *fs = fs_of(req);

	for (size_t i = 0; i < count; i++)
		node_unref(fs, node_of(fs, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct node *n = node_of(fs, ino);
	struct stat st;
	int error;

	(void)fi;
	if (n->flags & NODE_VOLATILE) {
		incoming_drain(fs);
		fs_sync_invalidate(fs);
	}
	if ((error = do_getattr(fs, n, &st)) < 0)
		fuse_reply_err(req, -error);
	else
		fuse_reply_attr(req, &st, timeout_of(n));
}

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct node *n = node_of(fs, ino);
	struct stat st;
	int error = 0;

	if (!(n->flags & NODE_WRITABLE)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	/*
	 * A control file's content is the last outcome, not what was written:
	 * the truncate of `echo cmd > ctl/verb`, modes and times are accepted
	 * and not kept.
	 */
	(void)attr;
	(void)to_set;
	(void)fi;
	error = do_getattr(fs, n, &st);
	if (error)
		fuse_reply_err(req, -error);
	else
		fuse_reply_attr(req, &st, timeout_of(n));
}

static void fs_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct fs *fs = fs_of(req);
	struct node *n = node_of(fs, ino);

	/* Root too: tools decide whether to write beside the data with access(W_OK). */
	if ((mask & W_OK) && !(n->flags & NODE_WRITABLE))
		fuse_reply_err(req, EROFS);
	else if ((mask & X_OK) && !S_ISDIR(n->mode))
		fuse_reply_err(req, EACCES);
	else
		fuse_reply_err(req, 0);
}

/*
 * Files have no handles.  The first OPEN is answered ENOSYS, after which
 * the kernel opens and closes files without asking (FUSE "no open"); and
 * FLUSH is not implemented, so close() does not ask either.  A warm read of
 * a cached file then costs no round trip at all, which is what makes the
 * mount as fast as the disk for repeated reads.  Writes into incoming/ go
 * to a real directory (it is a symbolic link), so nothing here needs to
 * know when a file is closed; control files act at write(2).
 */
static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct node *n = node_of(fs, ino);

	if (S_ISDIR(n->mode)) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (fs->no_open) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	/* A kernel without "no open": the same, with one round trip. */
	fi->fh = 0;
	fi->keep_cache = 1;
	fi->noflush = 1;
	fuse_reply_open(req, fi);
}

static void reply_slice(fuse_req_t req, const struct buf *b, size_t size, off_t off)
{
	size_t len = b->len;

	if ((uint64_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, b->ptr + off, size < len - (size_t)off ? size : len - (size_t)off);
}

/*
 * No cache invalidation here: the reader holds the pages being filled
 * locked until this reply, so invalidating this inode now would deadlock.
 */
static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct node *n = node_of(fs, ino);
	int error, fd;

	(void)fi;
	err_clear();
	if (n->ops->open_fd) {
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);

		if ((error = n->ops->open_fd(fs, n, &fd)) < 0) {
			LOG_W("read %s: %s", n->name, err_msg(error));
			fuse_reply_err(req, -error);
			return;
		}
		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = fd;
		bv.buf[0].pos = off;
		fuse_reply_data(req, &bv, 0);
		close(fd);
	} else if (n->ops->read || n->ops->content) {
		struct buf b = BUF_INIT;

		/* read gives just the slice; content the whole file, sliced here. */
		error = n->ops->read ? n->ops->read(fs, n, size, off, &b) : n->ops->content(fs, n, &b);
		if (error < 0) {
			LOG_W("read %s: %s", n->name, err_msg(error));
			fuse_reply_err(req, -error);
		} else if (n->ops->read) {
			fuse_reply_buf(req, b.ptr, b.len);
		} else {
			reply_slice(req, &b, size, off);
		}
		buf_release(&b);
	} else {
		fuse_reply_err(req, S_ISDIR(n->mode) ? EISDIR : EACCES);
	}
}

static void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct node *n = node_of(fs, ino);
	int error;

	(void)fi;
	if (!(n->flags & NODE_WRITABLE) || !n->ops->write) {
		fuse_reply_err(req, EROFS);
		return;
	}
	err_clear();
	if ((error = n->ops->write(fs, n, buf, size, off)) < 0)
		fuse_reply_err(req, -error);
	else
		fuse_reply_write(req, size);
}

/*
 * Directory handles hold a snapshot of the listing, so offsets stay stable.
 * It is made at the first READDIR: when the kernel has the listing cached
 * it does not ask at all.
 */
struct dirh {
	struct node *dir;
	int listed;
	struct dirlist list;
	const char **names; /* index into list.names */
};

static void dirh_free(struct dirh *d)
{
	dirlist_release(&d->list);
	free(d->names);
	free(d);
}

/*
 * Whether the kernel may keep this directory's listing between opens.  A
 * listing is a function of the catalog generation (images/, exports/,
 * batches/, versions), so the kernel keeps it as long as the generation
 * it was made at is current.  Not the root (its @vN entries follow the
 * history) nor live directories (ctl/jobs).
 */
static int listing_cacheable(struct fs *fs, const struct node *n)
{
	return n != fs->root && !(n->flags & NODE_LIVE);
}

static int dirh_list(struct fs *fs, struct dirh *d)
{
	const char *p;
	int error;

	d->listed = 1;
	err_clear();
	if ((error = d->dir->ops->list(fs, d->dir, &d->list)) < 0 ||
	    !(d->names = malloc((d->list.n + 1) * sizeof(*d->names)))) {
		error = error ? error : -ENOMEM;
		LOG_W("list %s: %s", d->dir->name, err_msg(error));
		dirlist_release(&d->list);
		d->list.n = 0;
		return error;
	}
	p = d->list.names.ptr;
	for (size_t i = 0; i < d->list.n; i++, p += strlen(p) + 1)
		d->names[i] = p;
	return 0;
}

static void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct node *n = node_of(fs, ino);
	struct dirh *d;
	uint64_t stamp;
	int error;

	if (!n->ops->list) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	/*
	 * Listing a directory is where a reader meets the newest state:
	 * uploads closed so far are ingested and stale cached views dropped
	 * (the kernel holds no lock of this directory during OPENDIR).
	 */
	incoming_drain(fs);
	fs_sync_invalidate(fs);
	if (!(d = calloc(1, sizeof(*d)))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	buf_init(&d->list.names);
	node_ref(fs, n);
	d->dir = n;
	fi->fh = (uint64_t)(uintptr_t)d;
	stamp = fs_generation(fs) + 1;
	if (listing_cacheable(fs, n)) {
		pthread_mutex_lock(&fs->lock);
		fi->keep_cache = n->listed_gen == stamp; /* else the kernel drops what it cached */
		pthread_mutex_unlock(&fs->lock);
	}
	/* The listing is made now, so its errors reach opendir(), unless the kernel keeps its own. */
	if (!fi->keep_cache) {
		if ((error = dirh_list(fs, d)) < 0) {
			node_unref(fs, n, 1);
			dirh_free(d);
			fuse_reply_err(req, -error);
			return;
		}
		pthread_mutex_lock(&fs->lock);
		n->listed_gen = stamp;
		pthread_mutex_unlock(&fs->lock);
	}
	/*
	 * An empty listing is not cached: it has no pages to drop, and the
	 * kernel would keep serving it when entries arrive.
	 */
	fi->cache_readdir = listing_cacheable(fs, n) && (fi->keep_cache || d->list.n > 0);
	if (fuse_reply_open(req, fi) == -ENOENT) {
		node_unref(fs, n, 1);
		dirh_free(d);
	}
}

/* The kernel serializes READDIRs of one handle (the file's position lock). */
static void do_readdir(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi, int plus)
{
	struct fs *fs = fs_of(req);
	struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;
	char *buf, *p;
	size_t rem = size;
	int error;

	if (!d->listed && (error = dirh_list(fs, d)) < 0) {
		fuse_reply_err(req, -error);
		return;
	}
	if (!(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	p = buf;
	for (size_t i = (size_t)off; i < d->list.n; i++) {
		const char *name = d->names[i];
		size_t need;

		if (plus) {
			struct fuse_entry_param e;

			if (do_lookup(fs, d->dir, name, &e) < 0)
				continue; /* vanished since opendir */
			need = fuse_add_direntry_plus(req, p, rem, name, &e, (off_t)i + 1);
			if (need > rem) {
				node_unref(fs, node_of(fs, e.ino), 1);
				break;
			}
		} else {
			struct stat st = { .st_ino = 0 };

			st.st_mode = S_IFREG; /* the type is refined by the lookup that follows */
			need = fuse_add_direntry(req, p, rem, name, &st, (off_t)i + 1);
			if (need > rem)
				break;
		}
		p += need;
		rem -= need;
	}
	fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)ino;
	do_readdir(req, size, off, fi, 0);
}

static void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	(void)ino;
	do_readdir(req, size, off, fi, 1);
}

static void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;

	(void)ino;
	node_unref(fs, d->dir, 1);
	dirh_free(d);
	fuse_reply_err(req, 0);
}

static void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	(void)parent; (void)name; (void)mode; (void)fi;
	fuse_reply_err(req, EROFS);
}

static void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	struct node *n = node_of(fs, ino);
	struct buf target = BUF_INIT;
	int error;

	if (!n->ops->readlink) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if ((error = n->ops->readlink(fs, n, &target)) < 0)
		fuse_reply_err(req, -error);
	else
		fuse_reply_readlink(req, target.ptr);
	buf_release(&target);
}

static void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	(void)parent; (void)name; (void)mode; (void)rdev;
	fuse_reply_err(req, EROFS);
}

static void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)parent; (void)name; (void)mode;
	fuse_reply_err(req, EROFS);
}

static void fs_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
{
	(void)target; (void)parent; (void)name;
	fuse_reply_err(req, EROFS);   /* not ENOSYS: nothing here takes new names */
}

static void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char *name)
{
	(void)ino; (void)parent; (void)name;
	fuse_reply_err(req, EROFS);
}

static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent; (void)name;
	fuse_reply_err(req, EROFS);
}

static void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent; (void)name;
	fuse_reply_err(req, EROFS);
}

static void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	(void)parent; (void)name; (void)newparent; (void)newname; (void)flags;
	fuse_reply_err(req, EROFS);
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	struct statvfs sv;

	(void)ino;
	if (statvfs(fs->repo->dir, &sv) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_init,
	.lookup = fs_lookup,
	.forget = fs_forget,
	.forget_multi = fs_forget_multi,
	.getattr = fs_getattr,
	.setattr = fs_setattr,
	.access = fs_access,
	.readlink = fs_readlink,
	.open = fs_open,
	.read = fs_read,
	.write = fs_write,
	.opendir = fs_opendir,
	.readdir = fs_readdir,
	.readdirplus = fs_readdirplus,
	.releasedir = fs_releasedir,
	.create = fs_create,
	.mknod = fs_mknod,
	.mkdir = fs_mkdir,
	.symlink = fs_symlink,
	.link = fs_link,
	.unlink = fs_unlink,
	.rmdir = fs_rmdir,
	.rename = fs_rename,
	.statfs = fs_statfs,
};

/* ---- invalidation ---- */

struct inval_list {
	fuse_ino_t *parent;
	char **name;
	fuse_ino_t *ino;
	size_t n, cap;
};

static void collect_volatile(struct node *n, void *payload)
{
	struct inval_list *l = payload;

	if (!(n->flags & NODE_VOLATILE) || l->n == l->cap)
		return;
	l->ino[l->n] = (fuse_ino_t)(uintptr_t)n;
	l->parent[l->n] = n->parent && n->parent->parent ? (fuse_ino_t)(uintptr_t)n->parent
							  : FUSE_ROOT_ID;
	l->name[l->n] = strdup(n->name);
	if (!l->name[l->n])
		return;
	n->refs++; /* keep it alive until notified; called under fs->lock */
	l->n++;
}

void fs_invalidate_volatile(struct fs *fs)
{
	struct inval_list l = { 0 };

	if (!fs->se)
		return;
	pthread_mutex_lock(&fs->lock);
	l.cap = fs->n_nodes;
	pthread_mutex_unlock(&fs->lock);
	l.parent = calloc(l.cap + 1, sizeof(*l.parent));
	l.name = calloc(l.cap + 1, sizeof(*l.name));
	l.ino = calloc(l.cap + 1, sizeof(*l.ino));
	if (l.parent && l.name && l.ino)
		node_foreach(fs, collect_volatile, &l);
	for (size_t i = 0; i < l.n; i++) {
		fuse_lowlevel_notify_inval_inode(fs->se, l.ino[i], 0, 0);
		fuse_lowlevel_notify_inval_entry(fs->se, l.parent[i], l.name[i], strlen(l.name[i]));
		node_unref(fs, (struct node *)(uintptr_t)l.ino[i], 1);
		free(l.name[i]);
	}
	free(l.parent);
	free(l.name);
	free(l.ino);
}

/* ---- session ---- */

static void *watcher_main(void *arg);

/* A command changed the catalog and waits until the kernel forgot the old views. */
static void link_notified(void *arg)
{
	fs_sync_invalidate(arg);
}

/* The drop zone ingested a group: the watcher drops what the kernel cached. */
static void dropzone_changed(void *arg)
{
	fs_check_generation(arg);
}

static FILE *open_log(struct repo *repo, const struct fs_mount_opts *opts)
{
	char path[PATH_MAX];

	if (opts->log_path)
		snprintf(path, sizeof(path), "%s", opts->log_path);
	else
		repo_path(path, sizeof(path), repo, "dsfs.log");
	return fopen(path, "a");
}

static void fuse_log_sink(enum fuse_log_level level, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	LOG_AT((int)level, "fuse: %s", msg);
}

int fs_mount_run(struct repo *repo, const struct fs_mount_opts *opts)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *loop = NULL;
	struct fs fs = { .repo = repo };
	struct node root = { 0 };
	FILE *logf = NULL;
	char fsname[PATH_MAX + 16];
	int error = 0, lock_fd = -1;

	fuse_set_log_func(fuse_log_sink);
	pthread_mutex_init(&fs.lock, NULL);
	pthread_mutex_init(&fs.gen_lock, NULL);
	pthread_mutex_init(&fs.images_lock, NULL);
	pthread_cond_init(&fs.watcher_cond, NULL);
	fs.mounted_at = time(NULL);
	repo->in_mount = 1;
	fs.uid = getuid();
	fs.gid = getgid();
	if (!(fs.mountpoint = realpath(opts->mountpoint, NULL))) {
		error = err_set(-errno, "mount point %s: %s", opts->mountpoint, strerror(errno));
		goto done;
	}
	if ((error = repo_mount_lock(repo, &lock_fd)) < 0)
		goto done;
	if ((error = node_table_init(&fs)) < 0 || (error = dropzone_open(&fs.dropzone, repo)) < 0 ||
	    (error = views_init(&fs)) < 0 || (error = versions_init(&fs)) < 0)
		goto done;
	root.ops = &root_ops;
	root.mode = S_IFDIR | 0555;
	root.flags = NODE_IMMUTABLE;
	root.name = "";
	root.refs = 1;
	fs.root = &root;

	snprintf(fsname, sizeof(fsname), "-ofsname=dsfs:%s,subtype=dsfs", repo->dir);
	if (fuse_opt_add_arg(&args, "dsfs") || fuse_opt_add_arg(&args, fsname) ||
	    (opts->debug && fuse_opt_add_arg(&args, "-odebug")) ||
	    (opts->fuse_opts && *opts->fuse_opts && (fuse_opt_add_arg(&args, "-o") ||
						     fuse_opt_add_arg(&args, opts->fuse_opts)))) {
		error = err_set(-ENOMEM, "out of memory");
		goto done;
	}
	fs.se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), &fs);
	if (!fs.se) {
		error = err_set(-EINVAL, "cannot start a FUSE session (bad -o options?)");
		goto done;
	}
	if (fuse_set_signal_handlers(fs.se) != 0) {
		error = err_set(-EIO, "cannot install signal handlers");
		goto done;
	}
	if (fuse_session_mount(fs.se, fs.mountpoint) != 0) {
		error = err_set(-EIO, "cannot mount on %s (is /dev/fuse available, and the mount point an empty directory?)",
				fs.mountpoint);
		goto done;
	}
	if (!opts->foreground) {
		if (!(logf = open_log(repo, opts))) {
			error = err_set(-errno, "cannot open the log file: %s", strerror(errno));
			fuse_session_unmount(fs.se);
			goto done;
		}
		log_set_sink(logf);
	}
	/* The daemon's catalog connection is opened in the daemon (see repo_catalog_close). */
	if (!opts->foreground)
		repo_catalog_close(repo);
	if (fuse_daemonize(opts->foreground) != 0) {
		error = err_set(-EIO, "cannot daemonize");
		fuse_session_unmount(fs.se);
		goto done;
	}
	if ((error = repo_catalog_reopen(repo)) < 0) {
		LOG_E("%s", err_last());
		fuse_session_unmount(fs.se);
		goto done;
	}
	fs.gen = catalog_generation(repo->cat);
	log_write(LOG_NOTICE, "mounted %s on %s", repo->dir, fs.mountpoint);
	dropzone_set_notify(fs.dropzone, dropzone_changed, &fs);
	if ((error = dropzone_start(fs.dropzone)) < 0) {
		fuse_session_unmount(fs.se);
		goto done;
	}
	if (pthread_create(&fs.watcher, NULL, watcher_main, &fs) == 0)
		fs.watcher_running = 1;
	/* After fuse_daemonize: threads do not survive its fork. */
	if (mountlink_listen(&fs.link, repo->dir, link_notified, &fs) < 0)
		LOG_W("%s: changes made by dsfs commands show within a second, not at once", err_last());
	if (jobs_start(&fs.jobs, repo) < 0)
		LOG_E("%s: jobs will not run or resume in this mount", err_last());

	loop = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(loop, 1);
	fuse_loop_cfg_set_max_threads(loop, 16);
	/* Idle workers never exit: creating a worker (with its cloned /dev/fuse fd) costs far more than a request. */
	fuse_loop_cfg_set_idle_threads(loop, 16);
	error = fuse_session_loop_mt(fs.se, loop);
	if (error > 0)
		error = 0; /* terminated by a signal */
	fuse_loop_cfg_destroy(loop);
	jobs_stop(fs.jobs);
	fs.jobs = NULL;
	mountlink_close(fs.link);
	fs.link = NULL;

	if (fs.watcher_running) {
		pthread_mutex_lock(&fs.gen_lock);
		fs.stopping = 1;
		pthread_cond_signal(&fs.watcher_cond);
		pthread_mutex_unlock(&fs.gen_lock);
		pthread_join(fs.watcher, NULL);
	}
	fuse_session_unmount(fs.se);
	log_write(LOG_NOTICE, "unmounted %s", fs.mountpoint);
done:
	if (fs.se) {
		fuse_remove_signal_handlers(fs.se);
		fuse_session_destroy(fs.se);
	}
	fuse_opt_free_args(&args);
	node_table_release(&fs);
	dropzone_close(fs.dropzone); /* ingests what was closed before the unmount */
	fs.dropzone = NULL;
	if (lock_fd >= 0)
		close(lock_fd);   /* after the drop zone's last ingest: the next mount may start */
	views_release(&fs);
	versions_release(&fs);
	images_index_release(&fs);
	free(fs.mountpoint);
	if (logf) {
		log_set_sink(NULL);
		fclose(logf);
	}
	pthread_cond_destroy(&fs.watcher_cond);
	pthread_mutex_destroy(&fs.gen_lock);
	pthread_mutex_destroy(&fs.images_lock);
	pthread_mutex_destroy(&fs.lock);
	return error;
}

/*
 * The watcher notices changes made by other processes (the dsfs command
 * line writing the catalog) even while nobody asks the mount anything,
 * and tells the kernel to drop what it cached.  Kernel notifications go
 * out from this thread only: sent from inside a request handler they could
 * deadlock on the directory the kernel has locked for that request.
 */
static void *watcher_main(void *arg)
{
	struct fs *fs = arg;
	struct timespec until;
	int pending;

	pthread_mutex_lock(&fs->gen_lock);
	while (!fs->stopping) {
		if (!fs->inval_pending) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += 200 * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&fs->watcher_cond, &fs->gen_lock, &until);
		}
		if (fs->stopping)
			break;
		pending = fs->inval_pending;
		fs->inval_pending = 0;
		pthread_mutex_unlock(&fs->gen_lock);
		if (!pending)
			fs_check_generation(fs); /* may set inval_pending for the next turn */
		else
			fs_invalidate_volatile(fs);
		pthread_mutex_lock(&fs->gen_lock);
	}
	pthread_mutex_unlock(&fs->gen_lock);
	return NULL;
}

void fs_sync_invalidate(struct fs *fs)
{
	int pending;

	fs_check_generation(fs);
	pthread_mutex_lock(&fs->gen_lock);
	pending = fs->inval_pending;
	fs->inval_pending = 0;
	pthread_mutex_unlock(&fs->gen_lock);
	if (pending)
		fs_invalidate_volatile(fs);
}

uint64_t fs_generation(struct fs *fs)
{
	uint64_t gen;

	pthread_mutex_lock(&fs->gen_lock);
	gen = fs->gen;
	pthread_mutex_unlock(&fs->gen_lock);
	return gen;
}

void fs_check_generation(struct fs *fs)
{
	uint64_t gen = catalog_generation(fs->repo->cat);

	pthread_mutex_lock(&fs->gen_lock);
	if (gen != fs->gen) {
		LOG_D("catalog changed (generation %llu): invalidating", (unsigned long long)gen);
		fs->gen = gen;
		fs->inval_pending = 1;
		pthread_cond_signal(&fs->watcher_cond);
	}
	pthread_mutex_unlock(&fs->gen_lock);
}
