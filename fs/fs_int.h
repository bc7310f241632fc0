/*
 * Internals of the mount, shared by the .c files of fs/.
 *
 * Nodes.  Every file or directory the kernel knows is a struct node, and
 * its FUSE inode number is the node pointer.  A node is identified by
 * (parent, name); the node table maps that pair to the one live node, so
 * a path keeps its inode number while the kernel remembers it.  What a
 * node is (a shard directory, a blob-backed image, a generated YAML file,
 * a control file) is its `ops` vtable plus `priv`, filled by the parent's
 * lookup; the FUSE adapters in fuse_ops.c never switch on a node's kind.
 *
 * References.  node->refs counts kernel lookups (dropped by forget), child
 * nodes, and open handles.  At zero the node leaves the table, its parent
 * loses a reference and ops->destroy frees priv.
 *
 * Locking.  fs->lock protects the node table and every refs field.  It is
 * never held while a node op runs; node ops protect their own caches.
 * Lock order: fs->lock before any module lock (catalog, export caches).
 */
#ifndef DSFS_FS_FS_INT_H
#define DSFS_FS_FS_INT_H

#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "util/buf.h"

struct fs;
struct node;
struct repo;

/* Entries of one directory listing, built by ops->list. */
struct dirlist {
	struct buf names;   /* NUL-terminated names, one after another */
	size_t n;
};

enum node_flags {
	NODE_IMMUTABLE = (1 << 0), /* content never changes: long kernel cache timeouts */
	NODE_WRITABLE = (1 << 1),  /* access(W_OK) succeeds (ctl/ files) */
	NODE_VOLATILE = (1 << 2),  /* depends on the catalog: invalidated when it changes */
	NODE_LIVE = (1 << 3),      /* changes on its own (control results, jobs): no caching */
};

/* What a lookup found: the child's kind and data, before it becomes a node. */
struct node_spec {
	const struct node_ops *ops;
	mode_t mode;        /* S_IFDIR | 0555, S_IFREG | 0444, ... */
	unsigned flags;     /* enum node_flags */
	void *priv;         /* owned by the node; freed by ops->destroy */
};

struct node_ops {
	const char *kind;   /* for logs */
	/* Directories: find child `name`.  -ENOENT if absent. */
	int (*lookup)(struct fs *fs, struct node *dir, const char *name, struct node_spec *out);
	/* Directories: every child name, in a stable order. */
	int (*list)(struct fs *fs, struct node *dir, struct dirlist *out);
	/* Size and times; mode/ino/nlink are filled by the caller. */
	int (*getattr)(struct fs *fs, struct node *n, struct stat *st);
	/*
	 * Files have no open handles: the kernel opens and closes them without
	 * asking the mount (see fuse_ops.c), and every READ names the node.  A
	 * file gives its bytes one of two ways:
	 *  - open_fd: a descriptor of a real file to read (closed by the caller);
	 *  - read: the bytes [off, off + size) into out, fewer at the end;
	 *  - content: the whole content, generated; a READ serves its slice.
	 */
	int (*open_fd)(struct fs *fs, struct node *n, int *fd);
	int (*read)(struct fs *fs, struct node *n, size_t size, off_t off, struct buf *out);
	int (*content)(struct fs *fs, struct node *n, struct buf *out);
	/* Control files: one write(2); it carries one whole command line. */
	int (*write)(struct fs *fs, struct node *n, const char *src, size_t size, off_t off);
	/* Symbolic links: the target. */
	int (*readlink)(struct fs *fs, struct node *n, struct buf *out);
	void (*destroy)(struct node *n);
};

struct node {
	const struct node_ops *ops;
	struct node *parent;   /* NULL for the root */
	char *name;
	mode_t mode;
	unsigned flags;
	void *priv;
	uint64_t refs;         /* protected by fs->lock */
	uint64_t listed_gen;   /* protected by fs->lock: 1 + the generation the kernel cached its listing at, or 0 */
	struct node *hnext;    /* protected by fs->lock: node table chain */
};

struct fs {
	struct repo *repo;
	void *se;                     /* struct fuse_session * (fuse_ops.c) */
	pthread_mutex_t lock;
	struct node **table;          /* protected by lock */
	size_t table_size, n_nodes;   /* protected by lock */
	struct node *root;
	uint64_t gen;                 /* catalog generation last served; protected by gen_lock */
	int inval_pending;            /* protected by gen_lock: the watcher must notify the kernel */
	pthread_mutex_t gen_lock;
	_Atomic size_t gen_kept_bytes; /* bytes generated files keep for their next READ (node_static.c) */
	struct dropzone *dropzone;    /* incoming/: core/dropzone, started once daemonized */
	struct fs_views *views;       /* caches of generated trees (exports, versions) */
	struct images_index *images;  /* node_images.c: the catalog's images; protected by images_lock */
	pthread_mutex_t images_lock;
	struct fs_versions *versions; /* node_versions.c: parsed versions (LRU), origin remote */
	struct jobs *jobs;            /* the job runner (core/jobs), started once daemonized */
	struct mountlink *link;       /* commands that change the catalog tell us (core/mountlink) */
	pthread_t watcher;
	int watcher_running, stopping;
	int no_open;                  /* the kernel opens files without asking (fs_open) */
	pthread_cond_t watcher_cond;
	time_t mounted_at;
	uid_t uid;                    /* owner shown on every node: the mounting user */
	gid_t gid;
	char *mountpoint;             /* absolute */
};

/* Node table (node.c). */
int node_table_init(struct fs *fs);
void node_table_release(struct fs *fs);
/* The live node for (dir, name), made from `spec` if none; takes one reference.  Consumes spec->priv. */
struct node *node_get(struct fs *fs, struct node *dir, const char *name, struct node_spec *spec);
void node_ref(struct fs *fs, struct node *n);
void node_unref(struct fs *fs, struct node *n, uint64_t count);
/* Call fn for each live node (under fs->lock: fn must not take it or call node ops). */
void node_foreach(struct fs *fs, void (*fn)(struct node *n, void *payload), void *payload);
/* "/a/b" path of a node inside the mount into `out` (for generated paths). */
int node_path(struct buf *out, const struct node *n);

/* Directory listings. */
int dirlist_add(struct dirlist *dl, const char *name);
void dirlist_release(struct dirlist *dl);

/*
 * Notice a catalog change: the watcher thread then tells the kernel to drop
 * its cached entries and pages of volatile nodes.  Safe inside handlers.
 */
void fs_check_generation(struct fs *fs);
/*
 * The catalog generation the mount last took in (no SQLite call): caches
 * built at it are current, since every change moves it and invalidates
 * the kernel's views (see fs_check_generation).
 */
uint64_t fs_generation(struct fs *fs);
/*
 * Notice a change and, if there is one, invalidate the kernel's caches now,
 * before answering.  Only from handlers that hold no directory lock in the
 * kernel (open, getattr, a control file's write): never from lookup,
 * readdir, create, unlink or rename.
 */
void fs_sync_invalidate(struct fs *fs);
/* Invalidate the kernel's view of every volatile node (see fs_sync_invalidate for where). */
void fs_invalidate_volatile(struct fs *fs);

/* Shared node kinds. */
extern const struct node_ops root_ops;
/* A directory whose children are a fixed table (see node_static.c). */
struct static_entry {
	const char *name;
	int (*make)(struct fs *fs, struct node *dir, struct node_spec *out);
};
int static_dir_spec(struct node_spec *out, const struct static_entry *entries);
/*
 * A read-only file whose bytes come from `gen`, called again once the
 * catalog generation moved (immutable nodes: once); owns `arg` (free()d).
 */
typedef int (*gen_fn)(struct fs *fs, struct node *n, struct buf *out);
int gen_file_spec(struct node_spec *out, gen_fn gen, unsigned flags, void *arg);
void *gen_file_arg(const struct node *n);
/* A regular file backed by a blob. */
int blob_file_spec(struct node_spec *out, const char *image_id, int64_t bytes);

/* Children of the root, one maker per top-level entry. */
int images_dir_make(struct fs *fs, struct node *dir, struct node_spec *out);
void images_index_release(struct fs *fs);
int incoming_dir_make(struct fs *fs, struct node *dir, struct node_spec *out);
int ctl_dir_make(struct fs *fs, struct node *dir, struct node_spec *out);
/* ctl/jobs/ (node_jobs.c) */
int jobs_dir_make(struct fs *fs, struct node *dir, struct node_spec *out);
int batches_dir_make(struct fs *fs, struct node *dir, struct node_spec *out);
int exports_dir_make(struct fs *fs, struct node *dir, struct node_spec *out);
/* exports/ of version `version` (a view key: "v3", or a commit prefix). */
int exports_dir_make_version(struct node_spec *out, const char *version);

/*
 * Versions (node_versions.c): /@<spec>/ snapshots and /versions/.
 * versions_init() also sets the views' version builder and, in a dataset
 * with a remote "origin", the blob store's fetch hook.
 */
int versions_init(struct fs *fs);
void versions_release(struct fs *fs);
/* Root entries: "versions", and any name starting with '@'. */
int versions_root_lookup(struct fs *fs, const char *name, struct node_spec *out);
/* Append "versions" and one "@vN" per version to a root listing. */
int versions_root_list(struct fs *fs, struct dirlist *out);
/* The label sets of version `version` (exports/ of a version). */
int versions_list_label_sets(struct fs *fs, const char *version, struct dirlist *out);

/*
 * Export indexes of the mount, cached per (version, label set) and rebuilt
 * when the catalog changes (views.c).  version "" is the working tree.
 */
struct export;
struct view_export {
	struct export *ex;
	char version[64];
	char label_set[128];
	uint64_t gen;             /* catalog generation it was built from (working tree) */
	unsigned refs;            /* protected by the views lock */
	pthread_mutex_t mu;       /* protects coco[] */
	struct buf coco[2];       /* generated COCO JSON per split, built on first use */
	int coco_built[2];
};
int views_init(struct fs *fs);
void views_release(struct fs *fs);
/* A referenced export (release with views_put); -ENOENT for an unknown label set/version. */
int views_export_get(struct fs *fs, const char *version, const char *label_set,
		     struct view_export **out);
void views_put(struct fs *fs, struct view_export *v);
/* The COCO JSON of a split (built once per index); borrowed while `v` is held. */
int views_coco(struct view_export *v, int split, const struct buf **out);
/*
 * Hook for versions: build the export of `label_set` at `version`
 * (set by the versions tree; NULL until then).
 */
typedef int (*views_version_builder)(struct fs *fs, const char *version, const char *label_set,
				     const char *root, struct export **out);
void views_set_version_builder(struct fs *fs, views_version_builder fn);
/* Ingest every upload closed in incoming/ so far, so a reader sees it (node_incoming.c). */
void incoming_drain(struct fs *fs);

#endif
