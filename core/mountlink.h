/*
 * The link between a mounted dataset and the command line acting on it.
 *
 * The mount caches views of the catalog in the kernel for long (that is
 * what makes warm reads cost no round trip), so a change made by another
 * process must reach it before that process returns: a `dsfs` command
 * that changed the catalog tells the mount (mountlink_notify, called from
 * repo_free) and waits until the mount has dropped what it cached.
 *
 * The channel is an abstract unix socket named after the dataset's
 * absolute path, so it needs no file in the dataset and vanishes with the
 * daemon, even one killed with -9.
 */
#ifndef DSFS_CORE_MOUNTLINK_H
#define DSFS_CORE_MOUNTLINK_H

struct mountlink;

/*
 * Mount side: answer notifications for the dataset at `repo_dir` by calling
 * fn(arg) from a thread of its own; the notifier waits for fn to return.
 * -EADDRINUSE if another mount of the same dataset listens already.
 */
int mountlink_listen(struct mountlink **out, const char *repo_dir, void (*fn)(void *arg),
		     void *arg);
void mountlink_close(struct mountlink *ml);

/*
 * Command side: tell the mount of `repo_dir`, if one runs, that the catalog
 * changed, and wait until it has taken the change in.  0 when there is no
 * mount; a negative errno (with a message) when one did not answer.
 */
int mountlink_notify(const char *repo_dir);

#endif
