/*
 * A dataset for a unit test's fixture: a private temporary directory made
 * into a dataset (repo_init) and opened, and its removal.
 */
#ifndef DSFS_TESTS_TESTREPO_H
#define DSFS_TESTS_TESTREPO_H

#include <stddef.h>

struct repo;

/* /tmp/dsfs-<tag>-XXXXXX into dir[size], initialized and opened into *out: 0, or -1. */
int testrepo_make(char *dir, size_t size, const char *tag, struct repo **out);

/* Close `repo` (may be NULL) and remove `dir` with everything in it. */
void testrepo_remove(const char *dir, struct repo *repo);

#endif
