/*
 * A dataset repository on disk and the open handles of its modules.
 *
 *   DIR/catalog.db   working state (store/catalog)
 *   DIR/objects/     blobs (store/blob), DIR/tmp/ their staging area
 *   DIR/git/         history (store/history), opened on first use
 *   DIR/dsfs.yaml    configuration (store/config)
 *   DIR/rejected/    files ingest refused, each with a .reason beside it
 *   DIR/incoming/    the drop zone (core/dropzone): files closed here are ingested;
 *                    .rejected -> ../rejected shows what was refused
 *   DIR/dsfs.log     the daemon's log when it runs in the background
 */
#ifndef DSFS_CORE_REPO_H
#define DSFS_CORE_REPO_H

#include <pthread.h>

struct blob_store;
struct catalog;
struct config;
struct history;
struct jobs;

struct repo {
	char *dir;                 /* absolute path */
	struct blob_store *blobs;
	struct catalog *cat;
	struct config *cfg;
	char *rejected_dir;        /* DIR/rejected */
	struct history *hist;      /* opened by repo_history(); protected by hist_lock */
	pthread_mutex_t hist_lock;
	struct jobs *jobs;         /* the mount's job runner (core/jobs); NULL outside a mount */
	int in_mount;              /* this process serves the mount (it tells no mount of its own changes) */
};

/* Create a new dataset at `dir` (created if missing; must not already be a dataset). */
int repo_init(const char *dir);
/* Open the dataset at `dir`.  -ENOENT with a message if it is not one. */
int repo_open(struct repo **out, const char *dir);
/* Close; a command that changed the catalog first tells a running mount (core/mountlink). */
void repo_free(struct repo *repo);
/*
 * Close the catalog before a fork and open it again in the child.  SQLite's
 * locks are POSIX locks, which belong to the process that took them: a
 * connection carried across fork() holds none in the child, and another
 * process then believes itself the last user of the database and deletes
 * its WAL under the mount (SQLite: "do not open a database before fork").
 */
void repo_catalog_close(struct repo *repo);
int repo_catalog_reopen(struct repo *repo);
/*
 * One mount per dataset: take DIR/mount.lock (flock, which, unlike SQLite's
 * POSIX locks, the daemon keeps across its fork) for as long as *fd stays
 * open.  Two mounts would run two drop zones on one incoming/ and lose
 * files between them.  -EBUSY, naming the other mount point, if taken.
 */
int repo_mount_lock(struct repo *repo, int *fd);
/* The history, opened on first call (borrowed from repo). */
int repo_history(struct history **out, struct repo *repo);
/* "<dir>/<rel>" into out[size]; -ENAMETOOLONG. */
int repo_path(char *out, size_t size, const struct repo *repo, const char *rel);

#endif
