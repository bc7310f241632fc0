/*
 * Consistency check of a dataset: every blob re-hashed, every catalog row
 * and every version's manifest checked against the store.
 */
#ifndef DSFS_CORE_FSCK_H
#define DSFS_CORE_FSCK_H

#include <stdint.h>
#include <stdio.h>

struct repo;

struct fsck_report {
	int64_t blobs;     /* blobs re-hashed */
	int64_t images;    /* catalog rows checked */
	int64_t orphans;   /* blobs neither a catalog row nor a version names */
	int64_t versions;  /* versions whose manifests were checked */
	int64_t version_images;  /* (version, image) references checked */
	int64_t remote_only;     /* references (catalog or version) to blobs absent here but held by origin (a clone) */
	int64_t problems;  /* each printed to `out` */
};

/* Run every check, printing one line per problem to `out`.  Negative errno only if the check itself failed. */
int fsck_run(struct fsck_report *rep, struct repo *repo, FILE *out);

#endif
