/*
 * Small file-system helpers shared by every layer: whole-file reads, atomic
 * whole-file writes, mkdir -p, and UTC timestamps.
 */
#ifndef DSFS_UTIL_FSUTIL_H
#define DSFS_UTIL_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

/* Append the whole file at `path` to `out`.  -errno on failure (message set). */
int fs_read_file(struct buf *out, const char *path);

/*
 * Write `len` bytes to `path` atomically: a temporary file beside it, fsync,
 * rename, fsync of the directory.  A crash leaves the old file or the new
 * one, never a mix.
 */
int fs_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* mkdir -p with `mode` for the directories it creates. */
int fs_mkdir_p(const char *path, mode_t mode);

/* fsync the directory `path` (makes a rename inside it durable). */
int fs_fsync_dir(const char *path);

/* Remove a directory tree (like rm -rf); missing is not an error. */
int fs_rm_rf(const char *path);

/* "2026-11-27T09:00:00Z" for `t` (0 = now) into `out` (>= 21 bytes). */
void fs_iso8601(char *out, size_t outsz, int64_t t);

/* The base name of `path` (pointer into `path`). */
const char *fs_basename(const char *path);

#endif
