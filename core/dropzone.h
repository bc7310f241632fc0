/*
 * The drop zone: DIR/incoming/, a real directory on the dataset's disk.
 * Whatever a writer closes there (at any depth, so `cp -r photos` works) is
 * ingested (core/ingest_batch) and disappears from it; a refused file goes
 * to DIR/rejected/<name> with a .reason beside it, which is also reachable
 * as DIR/incoming/.rejected/<name> (a relative symlink to ../rejected).
 * Writes never cross FUSE: the mount shows `incoming` as a symlink here.
 *
 * Rules, in order:
 *  - a name starting with '.' is never ingested, and a directory whose name
 *    starts with '.' is not entered (rsync's ".name.XXXXXX" temporaries,
 *    .rejected, hidden files; the rename to the final name brings it in);
 *  - only regular files are ingested (symlinks, FIFOs, devices are left);
 *  - the name recorded is the file's base name, not its path under incoming/;
 *  - a hard link made there (ln) is taken as well, though no one closes it;
 *  - a file is taken only while no one has it open for writing (a read
 *    lease proves it, see dropzone.c); one still being written stays and is
 *    taken when its writer closes it;
 *  - empty directories are left alone.
 *
 * A file taken is renamed into the store's tmp dir with its name in an
 * extended attribute (no data copy: the same file becomes the blob), so a
 * daemon stopped at any point re-ingests it at the next start.
 *
 * Process-wide effect: lease breaks are signalled with SIGIO, whose default
 * action kills the process; dropzone_open() sets SIGIO to SIG_IGN if it is
 * at its default (a handler installed by the program is left as it is).
 */
#ifndef DSFS_CORE_DROPZONE_H
#define DSFS_CORE_DROPZONE_H

struct dropzone;
struct repo;

/*
 * Watch DIR/incoming/ of `repo` (created if missing, with the .rejected
 * symlink) and queue what earlier runs left: files already in it (at any
 * depth) and closed uploads in the store's tmp dir ("incoming-*" carrying a
 * name marker; unmarked ones are unfinished and deleted).  Nothing is
 * ingested yet.  `repo` is borrowed and must outlive the drop zone.
 * Caller frees with dropzone_close().  -errno with a message.
 */
int dropzone_open(struct dropzone **out, struct repo *repo);

/*
 * Start the ingester thread and its ingest pipe's thread (after the daemon
 * forked): it takes files as their writers close them and ingests them in
 * groups of INGEST_GROUP_MIN or more, or the rest once no new event came
 * for ~100 ms.  -errno with a message.
 */
int dropzone_start(struct dropzone *dz);

/*
 * Every file whose writer closed it before this call is ingested (or
 * rejected) when it returns, with or without the thread.  Safe from many
 * threads at once (they take turns).  Returns 0, or the negative errno of a
 * group that failed as a whole (its files stay queued on disk for the next
 * start; message set).
 */
int dropzone_drain(struct dropzone *dz);

/*
 * `fn(arg)` is called after each group that added images to the catalog,
 * from whichever thread ingested it, with the drop zone's lock held: it
 * must not call back into the drop zone (dropping caches is its job).
 * Called before the dropzone_drain() that ingested the group returns.
 */
void dropzone_set_notify(struct dropzone *dz, void (*fn)(void *arg), void *arg);

/* Absolute path of DIR/incoming (borrowed). */
const char *dropzone_dir(const struct dropzone *dz);

/*
 * Stop the thread, ingest every complete file, free.  Files still open for
 * writing stay in DIR/incoming for the next start.  NULL-safe.
 */
void dropzone_close(struct dropzone *dz);

#endif
