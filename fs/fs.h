/*
 * The mount: serves a dataset repository through FUSE.  This is the only
 * interface other layers see; everything FUSE is private to fs/.
 */
#ifndef DSFS_FS_FS_H
#define DSFS_FS_FS_H

struct repo;

struct fs_mount_opts {
	const char *mountpoint;
	int foreground;          /* stay attached; log to stderr */
	int debug;               /* libfuse request tracing */
	const char *fuse_opts;   /* extra -o options for libfuse (may be NULL) */
	const char *log_path;    /* log file when daemonized (NULL: DIR/dsfs.log) */
};

/*
 * Mount `repo` and serve requests until unmounted (or SIGINT/SIGTERM).
 * Without `foreground` the process daemonizes after the mount is ready, so
 * the caller's return means the mount is usable.  Returns 0 after a clean
 * unmount, a negative errno (message set) if the mount failed.
 */
int fs_mount_run(struct repo *repo, const struct fs_mount_opts *opts);

#endif
