/*
 * The catalog: the dataset's working state in SQLite (DIR/catalog.db).
 *
 * WAL mode, so the daemon's readers never block a command-line writer; the
 * schema is created and migrated forward through PRAGMA user_version.  Every
 * public function is one unit of work: multi-row changes run in one
 * transaction inside the call, so callers never hold a transaction open.
 * One connection per struct catalog, used under its mutex; prepared
 * statements are cached on it and reused.
 *
 * Only this module (catalog*.c) includes sqlite3.h.
 */
#ifndef DSFS_STORE_CATALOG_H
#define DSFS_STORE_CATALOG_H

#include <stddef.h>
#include <stdint.h>

struct catalog;

#define CATALOG_ID_LEN 32
#define CATALOG_NAME_MAX 256

/* One image row.  Strings are NUL-terminated in place. */
struct catalog_image {
	char id[CATALOG_ID_LEN + 1];   /* blob hash, 32 hex */
	char ext[8];                   /* "jpg" | "png" */
	int64_t bytes;
	int64_t width, height;
	char source[CATALOG_NAME_MAX]; /* source_id given at ingest ("" if none) */
	char ingested_at[24];          /* UTC ISO 8601 */
	char name[CATALOG_NAME_MAX];   /* original base name */
};

/* Open (creating and migrating) the catalog at `path`.  -EIO with a message on failure. */
int catalog_open(struct catalog **out, const char *path);
void catalog_free(struct catalog *cat);

/* The schema version this build writes (PRAGMA user_version). */
int catalog_schema_version(void);

/*
 * A number that changes whenever the catalog changed, by this process or
 * any other (PRAGMA data_version + a local write counter).  Caches keyed by
 * it are fresh while it is unchanged.
 */
uint64_t catalog_generation(struct catalog *cat);

/* Add an image.  Returns 0 if added, 1 if the id was already recorded (row unchanged). */
int catalog_image_add(struct catalog *cat, const struct catalog_image *img);
/* -ENOENT if absent. */
int catalog_image_get(struct catalog *cat, const char *id, struct catalog_image *out);
int catalog_image_count(struct catalog *cat, int64_t *out);

typedef int (*catalog_image_fn)(const struct catalog_image *img, void *payload);
/*
 * Call `fn` for every image whose id starts with `prefix` ("" = all), in id
 * order; a nonzero return stops the walk and is returned.  The catalog lock
 * is held during the walk: `fn` must not call back into the catalog.
 */
int catalog_images_foreach(struct catalog *cat, const char *prefix, catalog_image_fn fn,
			   void *payload);

/*
 * The distinct 2-hex-digit shard names at `depth` (0: id[0..1], 1: id[2..3])
 * under `prefix` (empty for depth 0, 2 hex for depth 1), sorted, as
 * consecutive 3-byte NUL-terminated strings appended to `out`, count in *n.
 */
int catalog_image_shards(struct catalog *cat, const char *prefix, char **out, size_t *n);

#endif
