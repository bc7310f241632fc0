/*
 * Versions in the mount: /@vN/ is the dataset as of version N, read-only,
 * with no checkout and no copy; /versions/log lists them.
 *
 *   /@vN/VERSION                       id, commit, date, message, counts
 *   /@vN/images/ab/cd/<id>.<ext>       blob files, from the version's images.tsv
 *   /@vN/exports/<ls>/...              the same export tree as the working one
 *                                      (node_exports.c), built from the version
 *   /@vN/annotations/<ls>/<file>       the label set's manifests, as committed
 *   /@HEAD, /@<N>, /@<tag>, /@<commit prefix>  symbolic links to @vN
 *   /versions/log                      `dsfs log`
 *
 * Only @vN is listed in the root; any other '@' name is resolved when it is
 * looked up (history_resolve).  Names that move (HEAD, a tag) are symbolic
 * links resolved at every readlink, so a path through them always means
 * the version they name now, while @vN itself never changes: its nodes are
 * NODE_IMMUTABLE and the kernel caches them.  A commit with no vN tag is
 * served as a directory of its own under the name it was looked up by.
 *
 * Parsed versions (images.tsv and exclusions.tsv, never blobs) are cached
 * by commit in a small LRU; export indexes are cached by views.c, which
 * calls build_export() below.  A corrupt manifest makes the paths that
 * need it fail with EIO (the reason is logged); other paths keep working.
 */
#include "fs_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/export.h"
#include "core/manifest.h"
#include "core/repo.h"
#include "core/version.h"
#include "store/history.h"
#include "util/err.h"
#include "util/log.h"

#define VCACHE_MAX 4

struct vcache_entry {
	char commit[41];
	struct version *v;
	unsigned refs;        /* protected by fs_versions.lock; the cache holds one */
	uint64_t stamp;
};

struct fs_versions {
	pthread_mutex_t lock;       /* protects slots, refs, stamps, clock */
	pthread_mutex_t load_lock;  /* one parse at a time: a parse is big */
	struct vcache_entry *slots[VCACHE_MAX];
	uint64_t clock;
	struct remote *origin;      /* the blob fetch hook's payload, or NULL */
};

static void entry_unref_locked(struct vcache_entry *e, struct vcache_entry **dead)
{
	if (--e->refs == 0)
		*dead = e;
}

static void entry_free(struct vcache_entry *e)
{
	if (e) {
		version_free(e->v);
		free(e);
	}
}

/* The parsed version of `commit` (40 hex), referenced; release with vcache_put. */
static int vcache_get(struct fs *fs, const char *commit, struct vcache_entry **out)
{
	struct fs_versions *vs = fs->versions;
	struct vcache_entry *e = NULL, *dead = NULL;
	struct version *v = NULL;
	int slot = -1, error;

	*out = NULL;
	for (int pass = 0; pass < 2; pass++) {
		pthread_mutex_lock(&vs->lock);
		for (int i = 0; i < VCACHE_MAX && !e; i++)
			if (vs->slots[i] && !strcmp(vs->slots[i]->commit, commit)) {
				e = vs->slots[i];
				e->refs++;
				e->stamp = ++vs->clock;
			}
		pthread_mutex_unlock(&vs->lock);
		if (e) {
			if (pass)
				pthread_mutex_unlock(&vs->load_lock);
			*out = e;
			return 0;
		}
		if (!pass)
			pthread_mutex_lock(&vs->load_lock); /* then look again: loaded while we waited? */
	}
	err_clear();
	if ((error = version_open(&v, fs->repo, commit)) < 0) {
		pthread_mutex_unlock(&vs->load_lock);
		if (error != -ENOENT)
			LOG_E("version %.12s: %s", commit, err_msg(error));
		return error;
	}
	if (!(e = calloc(1, sizeof(*e)))) {
		pthread_mutex_unlock(&vs->load_lock);
		version_free(v);
		return -ENOMEM;
	}
	snprintf(e->commit, sizeof(e->commit), "%s", commit);
	e->v = v;
	e->refs = 2; /* the cache's and the caller's */
	pthread_mutex_lock(&vs->lock);
	for (int i = 0; i < VCACHE_MAX && slot < 0; i++)
		if (!vs->slots[i])
			slot = i;
	if (slot < 0) {
		slot = 0;
		for (int i = 1; i < VCACHE_MAX; i++)
			if (vs->slots[i]->stamp < vs->slots[slot]->stamp)
				slot = i;
		entry_unref_locked(vs->slots[slot], &dead);
	}
	e->stamp = ++vs->clock;
	vs->slots[slot] = e;
	pthread_mutex_unlock(&vs->lock);
	pthread_mutex_unlock(&vs->load_lock);
	entry_free(dead);
	LOG_D("version %.12s loaded: %zu images", commit, version_image_count(v));
	*out = e;
	return 0;
}

static void vcache_put(struct fs *fs, struct vcache_entry *e)
{
	struct vcache_entry *dead = NULL;

	if (!e)
		return;
	pthread_mutex_lock(&fs->versions->lock);
	entry_unref_locked(e, &dead);
	pthread_mutex_unlock(&fs->versions->lock);
	entry_free(dead);
}

/* The commit a view key ("v3", a commit prefix) names.  -ENOENT. */
static int key_commit(struct fs *fs, const char *key, char commit[41])
{
	struct history_version hv = HISTORY_VERSION_INIT;
	struct history *h;
	int error;

	if ((error = repo_history(&h, fs->repo)) < 0 || (error = history_resolve(&hv, h, key)) < 0)
		return error;
	memcpy(commit, hv.commit, 41);
	history_version_release(&hv);
	return 0;
}

static int build_export(struct fs *fs, const char *version, const char *label_set, const char *root,
			struct export **out)
{
	struct vcache_entry *e;
	char commit[41];
	int error;

	if ((error = key_commit(fs, version, commit)) < 0 || (error = vcache_get(fs, commit, &e)) < 0)
		return error;
	err_clear();
	error = version_export(out, e->v, label_set, root);
	if (error < 0 && error != -ENOENT)
		LOG_E("@%s/exports/%s: %s", version, label_set, err_msg(error));
	vcache_put(fs, e);
	return error;
}

int versions_list_label_sets(struct fs *fs, const char *version, struct dirlist *out)
{
	struct vcache_entry *e;
	char commit[41];
	int error;

	if ((error = key_commit(fs, version, commit)) < 0 || (error = vcache_get(fs, commit, &e)) < 0)
		return error;
	for (size_t i = 0; i < version_label_set_count(e->v) && !error; i++)
		error = dirlist_add(out, version_label_set_name(e->v, i));
	vcache_put(fs, e);
	return error;
}

/* ---- nodes ---- */

enum vkind {
	V_ROOT,          /* @vN/ */
	V_SHARD,         /* images/, images/ab/, images/ab/cd/ (prefix "", "ab", "abcd") */
	V_ANN,           /* annotations/ */
	V_ANN_SET,       /* annotations/<ls>/ */
	V_F_VERSION,     /* VERSION */
	V_F_MANIFEST,    /* annotations/<ls>/<file> */
};

struct vnode {
	enum vkind kind;
	char commit[41];
	char key[64];        /* the view key: "v3", or the commit prefix it was looked up by */
	char prefix[8];      /* V_SHARD */
	char path[320];      /* V_ANN_SET: "label_sets/<ls>"; V_F_MANIFEST: the file */
};

static const struct node_ops vdir_ops;

static struct vnode *vnode_new(const struct vnode *parent, enum vkind kind)
{
	struct vnode *v = malloc(sizeof(*v));

	if (v) {
		*v = *parent;
		v->kind = kind;
	}
	return v;
}

static int vdir_spec(struct node_spec *out, const struct vnode *parent, enum vkind kind,
		     const char *prefix, const char *path)
{
	struct vnode *v = vnode_new(parent, kind);

	if (!v)
		return err_set(-ENOMEM, "out of memory");
	if (prefix)
		snprintf(v->prefix, sizeof(v->prefix), "%s", prefix);
	if (path)
		snprintf(v->path, sizeof(v->path), "%s", path);
	out->ops = &vdir_ops;
	out->mode = S_IFDIR | 0555;
	out->flags = NODE_IMMUTABLE;
	out->priv = v;
	return 0;
}

static int gen_vfile(struct fs *fs, struct node *n, struct buf *out)
{
	const struct vnode *v = gen_file_arg(n);
	struct history *h;
	int error;

	err_clear();
	if (v->kind == V_F_VERSION)
		error = version_describe(out, fs->repo, v->commit);
	else if ((error = repo_history(&h, fs->repo)) == 0)
		error = history_read(out, h, v->commit, v->path);
	if (error < 0 && error != -ENOENT)
		LOG_E("@%s: %s", v->key, err_msg(error));
	return error;
}

static int vfile_spec(struct node_spec *out, const struct vnode *parent, enum vkind kind,
		      const char *path)
{
	struct vnode *v = vnode_new(parent, kind);
	int error;

	if (!v)
		return err_set(-ENOMEM, "out of memory");
	if (path)
		snprintf(v->path, sizeof(v->path), "%s", path);
	if ((error = gen_file_spec(out, gen_vfile, NODE_IMMUTABLE, v)) < 0)
		free(v);
	return error;
}

static int is_hex2(const char *s)
{
	return strlen(s) == 2 && strspn(s, "0123456789abcdef") == 2;
}

static int vdir_lookup(struct fs *fs, struct node *dir, const char *name, struct node_spec *out)
{
	const struct vnode *v = dir->priv;
	struct vcache_entry *e;
	int error = -ENOENT;

	switch (v->kind) {
	case V_ROOT:
		if (!strcmp(name, "VERSION"))
			return vfile_spec(out, v, V_F_VERSION, NULL);
		if (!strcmp(name, "images"))
			return vdir_spec(out, v, V_SHARD, "", NULL);
		if (!strcmp(name, "annotations"))
			return vdir_spec(out, v, V_ANN, NULL, NULL);
		if (!strcmp(name, "exports"))
			return exports_dir_make_version(out, v->key);
		return -ENOENT;
	case V_SHARD: {
		size_t plen = strlen(v->prefix), first, count;
		char prefix[8];

		if ((error = vcache_get(fs, v->commit, &e)) < 0)
			return error;
		if (plen < 4) {
			if (is_hex2(name)) {
				snprintf(prefix, sizeof(prefix), "%s%s", v->prefix, name);
				version_image_range(e->v, prefix, &first, &count);
				error = count ? vdir_spec(out, v, V_SHARD, prefix, NULL) : -ENOENT;
			}
		} else {
			const char *dot = strchr(name, '.');
			char id[33];
			const struct manifest_image *im;

			if (dot && dot - name == 32 && !strncmp(name, v->prefix, 4)) {
				memcpy(id, name, 32);
				id[32] = '\0';
				im = version_image_find(e->v, id);
				if (im && !strcmp(dot + 1, im->ext))
					error = blob_file_spec(out, id, im->bytes);
			}
		}
		vcache_put(fs, e);
		return error;
	}
	case V_ANN: {
		char path[320];
		int is_dir = 0;
		struct history *h;

		if (strchr(name, '/') || name[0] == '.')
			return -ENOENT;
		snprintf(path, sizeof(path), "label_sets/%s", name);
		if ((error = repo_history(&h, fs->repo)) < 0 ||
		    (error = history_stat(h, v->commit, path, &is_dir, NULL)) < 0)
			return error;
		return is_dir ? vdir_spec(out, v, V_ANN_SET, NULL, path) : -ENOENT;
	}
	case V_ANN_SET: {
		char path[340];
		int is_dir = 1;
		struct history *h;

		if (strchr(name, '/') || name[0] == '.')
			return -ENOENT;
		snprintf(path, sizeof(path), "%s/%s", v->path, name);
		if ((error = repo_history(&h, fs->repo)) < 0 ||
		    (error = history_stat(h, v->commit, path, &is_dir, NULL)) < 0)
			return error;
		return is_dir ? -ENOENT : vfile_spec(out, v, V_F_MANIFEST, path);
	}
	default:
		return -ENOTDIR;
	}
}

static int list_git_dir(struct fs *fs, const char *commit, const char *path, struct dirlist *out)
{
	struct buf names = BUF_INIT;
	struct history *h;
	size_t n = 0;
	const char *p;
	int error;

	if ((error = repo_history(&h, fs->repo)) < 0 ||
	    (error = history_list_dir(&names, &n, h, commit, path)) < 0) {
		buf_release(&names);
		return error == -ENOENT && !strcmp(path, "label_sets") ? 0 : error;
	}
	p = names.ptr;
	for (size_t i = 0; i < n && !error; i++, p += strlen(p) + 1)
		error = dirlist_add(out, p);
	buf_release(&names);
	return error;
}

static int vdir_list(struct fs *fs, struct node *dir, struct dirlist *out)
{
	const struct vnode *v = dir->priv;
	struct vcache_entry *e;
	char name[48];
	int error = 0;

	switch (v->kind) {
	case V_ROOT:
		for (const char *const *s = (const char *const[]){ "VERSION", "annotations", "exports",
								    "images", NULL }; *s && !error; s++)
			error = dirlist_add(out, *s);
		return error;
	case V_SHARD: {
		size_t plen = strlen(v->prefix), first, count;

		if ((error = vcache_get(fs, v->commit, &e)) < 0)
			return error;
		version_image_range(e->v, v->prefix, &first, &count);
		for (size_t i = first; i < first + count && !error; i++) {
			const struct manifest_image *im = version_image_at(e->v, i);
			if (plen == 4) {
				snprintf(name, sizeof(name), "%s.%s", im->id, im->ext);
			} else {
				snprintf(name, sizeof(name), "%.2s", im->id + plen);
				/* images are sorted: skip the rest of this shard */
				char next[8];
				size_t f2, c2;
				snprintf(next, sizeof(next), "%.*s", (int)plen + 2, im->id);
				version_image_range(e->v, next, &f2, &c2);
				i = f2 + c2 - 1;
			}
			error = dirlist_add(out, name);
		}
		vcache_put(fs, e);
		return error;
	}
	case V_ANN:
		return list_git_dir(fs, v->commit, "label_sets", out);
	case V_ANN_SET:
		return list_git_dir(fs, v->commit, v->path, out);
	default:
		return -ENOTDIR;
	}
}

static void vnode_destroy(struct node *n)
{
	free(n->priv);
}

static const struct node_ops vdir_ops = {
	.kind = "version",
	.lookup = vdir_lookup,
	.list = vdir_list,
	.destroy = vnode_destroy,
};

/* ---- symbolic links: @HEAD, @3, @<tag>, @<commit of a vN> ---- */

static int vlink_target(struct fs *fs, const char *spec, struct buf *out)
{
	struct history_version hv = HISTORY_VERSION_INIT;
	struct history *h;
	int error;

	if ((error = repo_history(&h, fs->repo)) < 0 || (error = history_resolve(&hv, h, spec)) < 0)
		return error;
	error = hv.number ? buf_printf(out, "@%s", hv.tag) : -ENOENT;
	history_version_release(&hv);
	return error;
}

static int vlink_readlink(struct fs *fs, struct node *n, struct buf *out)
{
	return vlink_target(fs, n->priv, out);
}

static int vlink_getattr(struct fs *fs, struct node *n, struct stat *st)
{
	struct buf b = BUF_INIT;
	int error = vlink_target(fs, n->priv, &b);

	st->st_size = (off_t)b.len;
	buf_release(&b);
	return error;
}

static void vlink_destroy(struct node *n)
{
	free(n->priv);
}

static const struct node_ops vlink_ops = {
	.kind = "version-link",
	.getattr = vlink_getattr,
	.readlink = vlink_readlink,
	.destroy = vlink_destroy,
};

/* ---- versions/ ---- */

static int log_gen(struct fs *fs, struct node *n, struct buf *out)
{
	(void)n;
	return version_log(out, fs->repo);
}

static int log_make(struct fs *fs, struct node *dir, struct node_spec *out)
{
	(void)fs;
	(void)dir;
	return gen_file_spec(out, log_gen, NODE_VOLATILE, NULL);
}

static const struct static_entry versions_entries[] = {
	{ "log", log_make },
	{ NULL, NULL },
};

/* ---- root entries ---- */

/* "v<digits>" exactly as history names tags. */
static int is_vname(const char *s)
{
	return s[0] == 'v' && s[1] >= '1' && s[1] <= '9' && strspn(s + 1, "0123456789") == strlen(s + 1);
}

int versions_root_lookup(struct fs *fs, const char *name, struct node_spec *out)
{
	struct history_version hv = HISTORY_VERSION_INIT;
	struct history *h;
	const char *spec = name + 1;
	int error;

	if (!strcmp(name, "versions"))
		return static_dir_spec(out, versions_entries);
	if (name[0] != '@' || !*spec || strlen(spec) >= 64)
		return -ENOENT;
	err_clear();
	if ((error = repo_history(&h, fs->repo)) < 0 || (error = history_resolve(&hv, h, spec)) < 0) {
		if (error == -ENOENT)
			LOG_D("lookup %s: %s", name, err_msg(error));
		else
			LOG_E("lookup %s: %s", name, err_msg(error));
		return error;
	}
	if (hv.number && !is_vname(spec)) {
		/* Another name for vN: a link, resolved again at every readlink. */
		char *s = strdup(spec);

		history_version_release(&hv);
		if (!s)
			return -ENOMEM;
		out->ops = &vlink_ops;
		out->mode = S_IFLNK | 0777;
		out->flags = NODE_VOLATILE;
		out->priv = s;
		return 0;
	}
	{
		struct vnode root = { .kind = V_ROOT };

		snprintf(root.commit, sizeof(root.commit), "%s", hv.commit);
		snprintf(root.key, sizeof(root.key), "%s", spec);
		history_version_release(&hv);
		return vdir_spec(out, &root, V_ROOT, NULL, NULL);
	}
}

int versions_root_list(struct fs *fs, struct dirlist *out)
{
	struct history_version *hv = NULL;
	struct history *h;
	char name[80];
	size_t n = 0;
	int error;

	if ((error = dirlist_add(out, "versions")) < 0)
		return error;
	if ((error = repo_history(&h, fs->repo)) < 0 || (error = history_versions(&hv, &n, h)) < 0) {
		LOG_W("listing versions: %s", err_last());
		return 0; /* the working tree stays listable */
	}
	for (size_t i = 0; i < n && !error; i++) {
		snprintf(name, sizeof(name), "@%s", hv[i].tag);
		error = dirlist_add(out, name);
	}
	history_versions_free(hv, n);
	return error;
}

int versions_init(struct fs *fs)
{
	struct fs_versions *vs = calloc(1, sizeof(*vs));
	int error;

	if (!vs)
		return err_set(-ENOMEM, "out of memory");
	pthread_mutex_init(&vs->lock, NULL);
	pthread_mutex_init(&vs->load_lock, NULL);
	fs->versions = vs;
	views_set_version_builder(fs, build_export);
	/* A clone reads the blobs it lacks from origin, on first open. */
	if ((error = version_origin_attach(&vs->origin, fs->repo)) < 0)
		LOG_W("remote origin: %s (missing blobs will not be fetched)", err_msg(error));
	return 0;
}

void versions_release(struct fs *fs)
{
	struct fs_versions *vs = fs->versions;

	if (!vs)
		return;
	for (int i = 0; i < VCACHE_MAX; i++)
		entry_free(vs->slots[i]);
	version_origin_release(vs->origin, fs->repo);
	pthread_mutex_destroy(&vs->lock);
	pthread_mutex_destroy(&vs->load_lock);
	free(vs);
	fs->versions = NULL;
}
