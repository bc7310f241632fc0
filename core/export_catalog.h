/*
 * Build an export index (core/export.h) of a label set from the working
 * catalog, with the split ratio and seed of dsfs.yaml
 * (label_sets.<name>.split, .seed; defaults 0.8 and 42).
 */
#ifndef DSFS_CORE_EXPORT_CATALOG_H
#define DSFS_CORE_EXPORT_CATALOG_H

struct export;
struct repo;

/* `root`: the export's absolute path inside the mount (for dataset.yaml). */
int export_from_catalog(struct export **out, struct repo *repo, const char *label_set,
			const char *root);

/* The split ratio and seed configured for a label set. */
void export_split_config(const struct repo *repo, const char *label_set, double *split,
			 unsigned long long *seed);

#endif
