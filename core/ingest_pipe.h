/*
 * An ingest pipeline of two stages: while one group is synced, renamed into
 * the store and recorded (ingest_commit, on the pipe's thread, mostly
 * waiting for the disk), the caller's thread stages the next (ingest_stage:
 * probe, hash, spool, CPU and page cache).  Without it the disk idles
 * while a group is staged and the CPUs idle while it is synced.
 *
 * Outcomes come back in push order, on the caller's thread, through the
 * `done` callback: from the push that follows, or from ingest_pipe_close.
 * At most one group is in flight, so a caller needs two item arrays.
 */
#ifndef DSFS_CORE_INGEST_PIPE_H
#define DSFS_CORE_INGEST_PIPE_H

#include <stddef.h>

#include "core/ingest.h"

struct ingest_pipe;

/*
 * A group is finished: `error` < 0 if it failed as a whole (then
 * `message` says why and no image of it was recorded), else per-item
 * outcomes are in items[].
 */
typedef void (*ingest_done_fn)(void *arg, struct ingest_item *items, size_t n, int error,
			       const char *message);

/* A pipe on `repo` (borrowed); -errno with a message. */
int ingest_pipe_open(struct ingest_pipe **out, struct repo *repo, ingest_done_fn done, void *arg);

/*
 * Stage `items` now and commit them in the background.  They stay the
 * caller's and must not be touched until `done` has been called for them.
 * Returns 0, or the error of a group handed back during this call (the
 * one before, or this one if it could not be staged); the pipe goes on and
 * the caller decides whether to push more.
 */
int ingest_pipe_push(struct ingest_pipe *pipe, struct ingest_item *items, size_t n,
		     const char *source);

/* Wait for the group in flight and hand it back; returns its error. */
int ingest_pipe_flush(struct ingest_pipe *pipe);

/* ingest_pipe_flush, then stop the thread and free.  NULL is a no-op. */
int ingest_pipe_close(struct ingest_pipe *pipe);

#endif
