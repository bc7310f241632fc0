/*
 * File-system helpers shared by the unit tests: a private temporary
 * directory per fixture and counts of what a directory holds, which is how
 * the tests check that nothing was lost and nothing was left behind.
 * Failures to read a directory that must exist are cmocka assertions.
 */
#ifndef DSFS_TESTS_TESTFS_H
#define DSFS_TESTS_TESTFS_H

#include <stddef.h>

/* mkdtemp /tmp/dsfs-<tag>-XXXXXX into dir[size]: 0, or -1 (for a fixture's set-up). */
int testfs_tmpdir(char *dir, size_t size, const char *tag);

/* Entries of any kind directly in `dir`, which must exist. */
int testfs_entries(const char *dir);

/* Regular files anywhere under `dir`, symbolic links not followed; 0 if `dir` is missing. */
int testfs_files(const char *dir);

#endif
