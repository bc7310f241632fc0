/*
 * The node table: (parent, name) -> live node, with reference counting
 * (see fs_int.h for the rules).  A chained hash table that doubles when
 * the load passes 1.
 */
#include "fs_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"

static size_t hash(const struct node *parent, const char *name, size_t size)
{
	uint64_t h = (uint64_t)(uintptr_t)parent * 0x9e3779b97f4a7c15ULL;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	return (size_t)(h ^ (h >> 29)) & (size - 1);
}

int node_table_init(struct fs *fs)
{
	fs->table_size = 1024;
	fs->table = calloc(fs->table_size, sizeof(*fs->table));
	return fs->table ? 0 : err_set(-ENOMEM, "out of memory");
}

static void free_node(struct node *n)
{
	if (n->ops->destroy)
		n->ops->destroy(n);
	free(n->name);
	free(n);
}

void node_table_release(struct fs *fs)
{
	for (size_t i = 0; i < fs->table_size; i++) {
		struct node *n = fs->table[i], *next;
		for (; n; n = next) {
			next = n->hnext;
			free_node(n);
		}
	}
	free(fs->table);
	fs->table = NULL;
}

static void grow(struct fs *fs)
{
	size_t size = fs->table_size * 2;
	struct node **t = calloc(size, sizeof(*t));

	if (!t)
		return; /* keep the longer chains; correctness does not depend on it */
	for (size_t i = 0; i < fs->table_size; i++) {
		struct node *n = fs->table[i], *next;
		for (; n; n = next) {
			size_t h = hash(n->parent, n->name, size);
			next = n->hnext;
			n->hnext = t[h];
			t[h] = n;
		}
	}
	free(fs->table);
	fs->table = t;
	fs->table_size = size;
}

struct node *node_get(struct fs *fs, struct node *dir, const char *name, struct node_spec *spec)
{
	struct node *n;
	size_t h;

	pthread_mutex_lock(&fs->lock);
	h = hash(dir, name, fs->table_size);
	for (n = fs->table[h]; n; n = n->hnext) {
		if (n->parent == dir && !strcmp(n->name, name) && n->ops == spec->ops)
			break;
	}
	if (n) {
		n->refs++;
		pthread_mutex_unlock(&fs->lock);
		/* The existing node already owns equivalent data. */
		if (spec->priv && spec->ops->destroy) {
			struct node tmp = { .ops = spec->ops, .priv = spec->priv };
			spec->ops->destroy(&tmp);
		}
		spec->priv = NULL;
		return n;
	}
	if (!(n = calloc(1, sizeof(*n))) || !(n->name = strdup(name))) {
		pthread_mutex_unlock(&fs->lock);
		free(n);
		return NULL;
	}
	n->ops = spec->ops;
	n->mode = spec->mode;
	n->flags = spec->flags;
	n->priv = spec->priv;
	spec->priv = NULL;
	n->parent = dir;
	n->refs = 1;
	if (dir)
		dir->refs++;
	n->hnext = fs->table[h];
	fs->table[h] = n;
	if (++fs->n_nodes > fs->table_size)
		grow(fs);
	pthread_mutex_unlock(&fs->lock);
	return n;
}

void node_ref(struct fs *fs, struct node *n)
{
	pthread_mutex_lock(&fs->lock);
	n->refs++;
	pthread_mutex_unlock(&fs->lock);
}

/* Caller holds fs->lock.  Returns the parent to drop next, or NULL. */
static struct node *drop(struct fs *fs, struct node *n, uint64_t count, struct node **dead)
{
	struct node **pp;

	if (n->refs < count) {
		LOG_E("node %s: dropping %llu references of %llu", n->name,
		      (unsigned long long)count, (unsigned long long)n->refs);
		count = n->refs;
	}
	n->refs -= count;
	if (n->refs || n == fs->root)
		return NULL;
	for (pp = &fs->table[hash(n->parent, n->name, fs->table_size)]; *pp; pp = &(*pp)->hnext) {
		if (*pp == n) {
			*pp = n->hnext;
			break;
		}
	}
	fs->n_nodes--;
	n->hnext = *dead;
	*dead = n;
	return n->parent;
}

void node_unref(struct fs *fs, struct node *n, uint64_t count)
{
	struct node *dead = NULL, *next;

	pthread_mutex_lock(&fs->lock);
	while (n && (n = drop(fs, n, count, &dead)))
		count = 1;
	pthread_mutex_unlock(&fs->lock);
	for (; dead; dead = next) {
		next = dead->hnext;
		free_node(dead);
	}
}

void node_foreach(struct fs *fs, void (*fn)(struct node *n, void *payload), void *payload)
{
	pthread_mutex_lock(&fs->lock);
	for (size_t i = 0; i < fs->table_size; i++)
		for (struct node *n = fs->table[i]; n; n = n->hnext)
			fn(n, payload);
	pthread_mutex_unlock(&fs->lock);
}

static int path_rec(struct buf *out, const struct node *n)
{
	int error;

	if (!n->parent)
		return 0;
	if ((error = path_rec(out, n->parent)) < 0)
		return error;
	if ((error = buf_puts(out, "/")) < 0)
		return error;
	return buf_puts(out, n->name);
}

int node_path(struct buf *out, const struct node *n)
{
	return n->parent ? path_rec(out, n) : buf_puts(out, "/");
}

int dirlist_add(struct dirlist *dl, const char *name)
{
	int error = buf_put(&dl->names, name, strlen(name) + 1);

	if (!error)
		dl->n++;
	return error;
}

void dirlist_release(struct dirlist *dl)
{
	buf_release(&dl->names);
	dl->n = 0;
}
