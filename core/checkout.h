/*
 * Checkout: make the working state (the catalog) equal to a version, and
 * tell whether it still is.
 *
 * A version's manifests (core/manifest) describe images, label sets with
 * their classes, labels, annotations and exclusions completely, so the
 * catalog rows can be rebuilt from them: that is what a clone needs (its
 * catalog starts empty), what a pull does when the working state was
 * clean, and what `dsfs checkout V` does.  Blobs are not touched: a clone
 * keeps fetching them on first read.
 *
 * "Clean" means what `dsfs commit` means by "nothing to commit": the
 * manifests built from the catalog are byte for byte the files of the
 * version's tree.  That includes each label set's config.yaml, the split
 * and seed that come from dsfs.yaml (not from the catalog): a checkout
 * cannot change dsfs.yaml, so it warns when the version's split differs.
 */
#ifndef DSFS_CORE_CHECKOUT_H
#define DSFS_CORE_CHECKOUT_H

struct buf;
struct repo;
struct version_info;

/*
 * Replace the working state by version `spec` (what history_resolve()
 * takes: vN, N, a tag, HEAD, a commit prefix) in one catalog transaction:
 * on failure the catalog is as it was.  Batches, jobs and the versions
 * table are kept.  Unconditional: callers that must not lose uncommitted
 * changes ask checkout_is_safe() first.  `out` (may be NULL) gets the
 * version's info.  `warnings` (may be NULL) gets one line per label set
 * whose frozen split or seed differs from dsfs.yaml's (a checkout leaves
 * dsfs.yaml alone, so the next commit would record dsfs.yaml's).
 * Errors: -ENOENT (no such version), -EIO (a corrupt manifest; message
 * names file and line), a catalog error.
 */
int checkout_version(struct version_info *out, struct repo *repo, const char *spec,
		     struct buf *warnings);

/*
 * 1 if the working state equals version `spec` (NULL = HEAD) as a commit
 * would see it, 0 if not, or a negative errno.  With spec NULL and no
 * version yet, the working state is clean when it holds nothing: no image,
 * no label, no class.
 */
int checkout_is_clean(struct repo *repo, const char *spec);

/*
 * 1 if replacing the working state loses nothing: it is clean (equal to
 * HEAD) or holds nothing a user made (no image, label or class: a fresh
 * clone's or init's catalog).  0 if it has uncommitted work, or a negative
 * errno.  What `dsfs checkout` and `dsfs pull` ask before replacing it.
 */
int checkout_is_safe(struct repo *repo);

/*
 * What `dsfs checkout` and ctl/checkout do: checkout_version() unless the
 * working state has uncommitted work (checkout_is_safe() says no) and
 * `force` is 0, which is -EPERM with a message saying how to go on.
 */
int checkout_run(struct version_info *out, struct repo *repo, const char *spec, int force,
		 struct buf *warnings);

#endif
