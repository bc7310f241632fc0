/*
 * Cache of export indexes, per (version, label set).  The working tree's
 * entries are rebuilt when the catalog generation moves; a version's never
 * change.  The cache is bounded (VIEWS_MAX entries, least recently used
 * goes); an entry in use stays alive through its reference count.
 */
#include "fs_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/export.h"
#include "core/export_catalog.h"
#include "core/repo.h"
#include "store/catalog.h"
#include "util/err.h"
#include "util/log.h"

#define VIEWS_MAX 16

struct fs_views {
	pthread_mutex_t lock;          /* protects slots, refs, stamps */
	pthread_mutex_t build_lock;    /* one build at a time: builds are big */
	struct view_export *slots[VIEWS_MAX];
	uint64_t stamp[VIEWS_MAX];
	uint64_t clock;
	views_version_builder version_builder;
};

static void view_free(struct view_export *v)
{
	if (!v)
		return;
	export_free(v->ex);
	buf_release(&v->coco[0]);
	buf_release(&v->coco[1]);
	pthread_mutex_destroy(&v->mu);
	free(v);
}

int views_init(struct fs *fs)
{
	struct fs_views *vs = calloc(1, sizeof(*vs));

	if (!vs)
		return err_set(-ENOMEM, "out of memory");
	pthread_mutex_init(&vs->lock, NULL);
	pthread_mutex_init(&vs->build_lock, NULL);
	fs->views = vs;
	return 0;
}

void views_release(struct fs *fs)
{
	struct fs_views *vs = fs->views;

	if (!vs)
		return;
	for (int i = 0; i < VIEWS_MAX; i++)
		view_free(vs->slots[i]);
	pthread_mutex_destroy(&vs->lock);
	pthread_mutex_destroy(&vs->build_lock);
	free(vs);
	fs->views = NULL;
}

void views_set_version_builder(struct fs *fs, views_version_builder fn)
{
	fs->views->version_builder = fn;
}

/* Caller holds vs->lock.  A fresh cached entry, referenced, or NULL. */
static struct view_export *lookup(struct fs_views *vs, const char *version, const char *ls, uint64_t gen)
{
	for (int i = 0; i < VIEWS_MAX; i++) {
		struct view_export *v = vs->slots[i];
		if (!v || strcmp(v->version, version) || strcmp(v->label_set, ls))
			continue;
		if (!*version && v->gen != gen)
			continue;
		v->refs++;
		vs->stamp[i] = ++vs->clock;
		return v;
	}
	return NULL;
}

/* Caller holds vs->lock.  Put `v` in a slot (replacing a stale twin or the LRU). */
static void insert(struct fs_views *vs, struct view_export *v)
{
	int slot = -1;

	for (int i = 0; i < VIEWS_MAX && slot < 0; i++)
		if (vs->slots[i] && !strcmp(vs->slots[i]->version, v->version) &&
		    !strcmp(vs->slots[i]->label_set, v->label_set))
			slot = i;
	for (int i = 0; i < VIEWS_MAX && slot < 0; i++)
		if (!vs->slots[i])
			slot = i;
	if (slot < 0) {
		slot = 0;
		for (int i = 1; i < VIEWS_MAX; i++)
			if (vs->stamp[i] < vs->stamp[slot])
				slot = i;
	}
	if (vs->slots[slot] && --vs->slots[slot]->refs == 0)
		view_free(vs->slots[slot]);
	v->refs++; /* the cache's */
	vs->slots[slot] = v;
	vs->stamp[slot] = ++vs->clock;
}

int views_export_get(struct fs *fs, const char *version, const char *label_set,
		     struct view_export **out)
{
	struct fs_views *vs = fs->views;
	struct view_export *v;
	struct buf root = BUF_INIT;
	uint64_t gen = *version ? 0 : fs_generation(fs);
	int error;

	pthread_mutex_lock(&vs->lock);
	v = lookup(vs, version, label_set, gen);
	pthread_mutex_unlock(&vs->lock);
	if (v) {
		*out = v;
		return 0;
	}
	pthread_mutex_lock(&vs->build_lock);
	pthread_mutex_lock(&vs->lock);
	v = lookup(vs, version, label_set, gen); /* built while we waited? */
	pthread_mutex_unlock(&vs->lock);
	if (v) {
		pthread_mutex_unlock(&vs->build_lock);
		*out = v;
		return 0;
	}
	if (!(v = calloc(1, sizeof(*v)))) {
		pthread_mutex_unlock(&vs->build_lock);
		return err_set(-ENOMEM, "out of memory");
	}
	pthread_mutex_init(&v->mu, NULL);
	buf_init(&v->coco[0]);
	buf_init(&v->coco[1]);
	snprintf(v->version, sizeof(v->version), "%s", version);
	snprintf(v->label_set, sizeof(v->label_set), "%s", label_set);
	v->gen = gen;
	buf_printf(&root, "%s%s%s/exports/%s", fs->mountpoint, *version ? "/@" : "", version, label_set);
	if (!*version)
		error = export_from_catalog(&v->ex, fs->repo, label_set, root.ptr);
	else if (vs->version_builder)
		error = vs->version_builder(fs, version, label_set, root.ptr, &v->ex);
	else
		error = -ENOENT;
	buf_release(&root);
	if (error) {
		pthread_mutex_unlock(&vs->build_lock);
		view_free(v);
		return error;
	}
	pthread_mutex_lock(&vs->lock);
	v->refs = 1; /* the caller's */
	insert(vs, v);
	pthread_mutex_unlock(&vs->lock);
	pthread_mutex_unlock(&vs->build_lock);
	LOG_D("export %s%s%s built: %zu train, %zu val", label_set, *version ? "@" : "", version,
	      export_count(v->ex, EXPORT_TRAIN), export_count(v->ex, EXPORT_VAL));
	*out = v;
	return 0;
}

void views_put(struct fs *fs, struct view_export *v)
{
	struct fs_views *vs = fs->views;
	int last;

	if (!v)
		return;
	pthread_mutex_lock(&vs->lock);
	last = --v->refs == 0;
	pthread_mutex_unlock(&vs->lock);
	if (last)
		view_free(v);
}

int views_coco(struct view_export *v, int split, const struct buf **out)
{
	int error = 0;

	pthread_mutex_lock(&v->mu);
	if (!v->coco_built[split]) {
		buf_reset(&v->coco[split]);
		error = export_coco_json(&v->coco[split], v->ex, (enum export_split)split);
		v->coco_built[split] = !error;
	}
	pthread_mutex_unlock(&v->mu);
	*out = &v->coco[split];
	return error;
}
