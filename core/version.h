/*
 * Dataset versions: the working state written as plain-text manifests into
 * a git commit (store/history), tagged v1, v2, ...; read back to serve
 * @vN/ in the mount, diffs and materialized exports.
 */
#ifndef DSFS_CORE_VERSION_H
#define DSFS_CORE_VERSION_H

#include <stdint.h>

struct repo;

struct version_info {
	unsigned number;         /* N of vN */
	char tag[64];            /* "v3" */
	char commit[41];         /* hex */
	char created_at[24];     /* UTC ISO 8601 */
	char message[512];
	int64_t n_images;
	int64_t n_labeled;       /* labeled images over all label sets */
};

/*
 * Commit the complete working state with `message` (author from dsfs.yaml
 * author.name/author.email) and tag it v<N+1>; record it in the catalog.
 * -EEXIST ("nothing to commit: same as vN") when nothing changed.
 */
int version_commit(struct version_info *out, struct repo *repo, const char *message);

#endif
