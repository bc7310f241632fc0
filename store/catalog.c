/*
 * Catalog connection, schema and statement cache (see catalog.h).
 *
 * The schema is a list of migrations; migration i takes user_version i to
 * i+1 and runs in one transaction with the version bump, so a crash leaves
 * the database at a whole version.  Add a migration to change the schema;
 * never edit one that has shipped.
 */
#include "catalog_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/fault.h"
#include "util/log.h"

static const char *const migrations[] = {
	/* 0 -> 1: the whole working state. */
	"CREATE TABLE images("
	"  image_id TEXT PRIMARY KEY,"      /* blob hash, 32 hex */
	"  ext TEXT NOT NULL,"
	"  bytes INTEGER NOT NULL,"
	"  width INTEGER NOT NULL,"
	"  height INTEGER NOT NULL,"
	"  source_id TEXT NOT NULL DEFAULT '',"
	"  ingested_at TEXT NOT NULL,"
	"  name TEXT NOT NULL"               /* original base name */
	") WITHOUT ROWID;"
	"CREATE INDEX images_by_name ON images(name);"
	"CREATE INDEX images_by_time ON images(ingested_at, image_id);"
	"CREATE TABLE label_sets("
	"  name TEXT PRIMARY KEY,"
	"  created_at TEXT NOT NULL);"
	"CREATE TABLE label_classes("        /* ordered class list; ids never change */
	"  label_set TEXT NOT NULL REFERENCES label_sets(name),"
	"  class_id INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  PRIMARY KEY(label_set, class_id),"
	"  UNIQUE(label_set, name));"
	"CREATE TABLE labels("               /* image is labeled in this set (maybe 0 boxes) */
	"  image_id TEXT NOT NULL,"
	"  label_set TEXT NOT NULL,"
	"  batch_id TEXT NOT NULL DEFAULT '',"
	"  source TEXT NOT NULL DEFAULT '',"
	"  labeled_at TEXT NOT NULL,"
	"  PRIMARY KEY(label_set, image_id)) WITHOUT ROWID;"
	"CREATE TABLE annotations("
	"  id INTEGER PRIMARY KEY,"
	"  label_set TEXT NOT NULL,"
	"  image_id TEXT NOT NULL,"
	"  class_id INTEGER NOT NULL,"
	"  x_min REAL NOT NULL, y_min REAL NOT NULL,"
	"  x_max REAL NOT NULL, y_max REAL NOT NULL,"
	"  source_task TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX annotations_by_image ON annotations(label_set, image_id);"
	"CREATE TABLE exclusions("
	"  image_id TEXT NOT NULL,"
	"  label_set TEXT NOT NULL DEFAULT '',"  /* '' = every label set */
	"  reason TEXT NOT NULL,"
	"  created_at TEXT NOT NULL,"
	"  PRIMARY KEY(image_id, label_set)) WITHOUT ROWID;"
	"CREATE TABLE batches("
	"  batch_id TEXT PRIMARY KEY,"
	"  label_set TEXT NOT NULL,"
	"  created_at TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  cvat_task_id INTEGER);"
	"CREATE TABLE batch_items("
	"  batch_id TEXT NOT NULL,"
	"  name TEXT NOT NULL,"              /* unique within the batch */
	"  image_id TEXT NOT NULL,"
	"  PRIMARY KEY(batch_id, name)) WITHOUT ROWID;"
	"CREATE INDEX batch_items_by_image ON batch_items(image_id);"
	"CREATE TABLE jobs("
	"  id INTEGER PRIMARY KEY,"
	"  kind TEXT NOT NULL,"
	"  args TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  progress TEXT NOT NULL DEFAULT '',"
	"  error TEXT NOT NULL DEFAULT '',"
	"  result TEXT NOT NULL DEFAULT '',"
	"  created_at TEXT NOT NULL,"
	"  updated_at TEXT NOT NULL);"
	"CREATE TABLE versions("
	"  number INTEGER PRIMARY KEY,"
	"  tag TEXT NOT NULL,"
	"  commit_id TEXT NOT NULL,"
	"  created_at TEXT NOT NULL,"
	"  message TEXT NOT NULL,"
	"  n_images INTEGER NOT NULL,"
	"  n_labeled INTEGER NOT NULL);"
	"INSERT INTO label_sets(name, created_at) VALUES('default', strftime('%Y-%m-%dT%H:%M:%SZ','now'));",
};

#define N_MIGRATIONS (int)(sizeof(migrations) / sizeof(migrations[0]))

static const char *const stmt_sql[ST_COUNT_] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_DATA_VERSION] = "PRAGMA data_version",
	[ST_IMAGE_ADD] = "INSERT OR IGNORE INTO images(image_id, ext, bytes, width, height,"
			 " source_id, ingested_at, name) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
	[ST_IMAGE_GET] = "SELECT image_id, ext, bytes, width, height, source_id, ingested_at, name"
			 " FROM images WHERE image_id = ?1",
	[ST_IMAGE_COUNT] = "SELECT count(*) FROM images",
	[ST_IMAGE_RANGE] = "SELECT image_id, ext, bytes, width, height, source_id, ingested_at, name"
			   " FROM images WHERE image_id >= ?1 AND image_id < ?2 ORDER BY image_id",
};

int catalog_schema_version(void)
{
	return N_MIGRATIONS;
}

int cat_errno(struct catalog *cat, int rc, const char *what)
{
	int code = rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? -EBUSY
		 : rc == SQLITE_FULL ? -ENOSPC
		 : rc == SQLITE_NOMEM ? -ENOMEM
		 : rc == SQLITE_CONSTRAINT ? -EEXIST
		 : -EIO;

	return err_set(code, "catalog: %s: %s", what,
		       cat && cat->db ? sqlite3_errmsg(cat->db) : sqlite3_errstr(rc));
}

int cat_prep(struct catalog *cat, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(cat->db, sql, -1, st, NULL);

	return rc == SQLITE_OK ? 0 : cat_errno(cat, rc, sql);
}

sqlite3_stmt *cat_stmt(struct catalog *cat, enum stmt_id id)
{
	sqlite3_stmt *st = cat->stmt[id];
	int rc;

	if (!st) {
		rc = sqlite3_prepare_v3(cat->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
					&cat->stmt[id], NULL);
		if (rc != SQLITE_OK) {
			cat_errno(cat, rc, stmt_sql[id]);
			return NULL;
		}
		st = cat->stmt[id];
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

int cat_step_done(struct catalog *cat, sqlite3_stmt *st, const char *what)
{
	int rc = fault_sim(FAULT_CATALOG_BUSY) ? SQLITE_BUSY : sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return cat_errno(cat, rc, what);
	return 0;
}

void cat_col_text(char *dst, size_t size, sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	size_t n = s ? strlen((const char *)s) : 0;

	if (n >= size)
		n = size - 1;
	memcpy(dst, s ? (const char *)s : "", n);
	dst[n] = '\0';
}

int cat_begin(struct catalog *cat)
{
	sqlite3_stmt *st = cat_stmt(cat, ST_BEGIN);
	return st ? cat_step_done(cat, st, "begin transaction") : -EIO;
}

int cat_commit(struct catalog *cat)
{
	sqlite3_stmt *st = cat_stmt(cat, ST_COMMIT);
	int error = st ? cat_step_done(cat, st, "commit") : -EIO;

	if (!error)
		cat->local_writes++;
	return error;
}

void cat_rollback(struct catalog *cat)
{
	sqlite3_stmt *st = cat_stmt(cat, ST_ROLLBACK);

	if (st)
		(void)sqlite3_step(st);
	if (st)
		sqlite3_reset(st);
}

int cat_end(struct catalog *cat, int error)
{
	if (!error && (error = cat_commit(cat)) == 0)
		return 0;
	cat_rollback(cat);
	return error;
}

static int exec(struct catalog *cat, const char *sql, const char *what)
{
	int rc = sqlite3_exec(cat->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : cat_errno(cat, rc, what);
}

static int user_version(struct catalog *cat, int *out)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(cat->db, "PRAGMA user_version", -1, &st, NULL);

	if (rc != SQLITE_OK)
		return cat_errno(cat, rc, "read user_version");
	rc = sqlite3_step(st);
	*out = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : cat_errno(cat, rc, "read user_version");
}

/* Bring the schema up to N_MIGRATIONS, one transaction per step. */
static int migrate(struct catalog *cat)
{
	int version, error;
	char bump[64];

	if ((error = exec(cat, "BEGIN IMMEDIATE", "begin migration")) < 0)
		return error;
	if ((error = user_version(cat, &version)) < 0)
		goto fail;
	if (version > N_MIGRATIONS) {
		error = err_set(-EPROTO, "catalog schema version %d is newer than this dsfs (%d)",
				version, N_MIGRATIONS);
		goto fail;
	}
	for (; version < N_MIGRATIONS; version++) {
		snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", version + 1);
		if ((error = exec(cat, migrations[version], "migrate schema")) < 0 ||
		    (error = exec(cat, bump, "set user_version")) < 0)
			goto fail;
		LOG_I("catalog: migrated schema to version %d", version + 1);
	}
	return exec(cat, "COMMIT", "commit migration");
fail:
	sqlite3_exec(cat->db, "ROLLBACK", NULL, NULL, NULL);
	return error;
}

int catalog_open(struct catalog **out, const char *path)
{
	struct catalog *cat = calloc(1, sizeof(*cat));
	int rc, error;

	*out = NULL;
	if (!cat)
		return err_set(-ENOMEM, "out of memory");
	pthread_mutex_init(&cat->lock, NULL);
	rc = sqlite3_open_v2(path, &cat->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		error = err_set(-EIO, "cannot open catalog %s: %s", path,
				cat->db ? sqlite3_errmsg(cat->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_busy_timeout(cat->db, 10000);
	if ((error = exec(cat, "PRAGMA journal_mode=WAL", "enable WAL")) < 0 ||
	    (error = exec(cat, "PRAGMA synchronous=NORMAL", "set synchronous")) < 0 ||
	    (error = exec(cat, "PRAGMA foreign_keys=ON", "enable foreign keys")) < 0 ||
	    (error = migrate(cat)) < 0)
		goto fail;
	*out = cat;
	return 0;
fail:
	catalog_free(cat);
	return error;
}

void catalog_free(struct catalog *cat)
{
	if (!cat)
		return;
	for (int i = 0; i < ST_COUNT_; i++)
		sqlite3_finalize(cat->stmt[i]);
	sqlite3_close(cat->db);
	pthread_mutex_destroy(&cat->lock);
	free(cat);
}

int catalog_wrote(struct catalog *cat)
{
	int wrote;

	pthread_mutex_lock(&cat->lock);
	wrote = cat->local_writes != 0;
	pthread_mutex_unlock(&cat->lock);
	return wrote;
}

uint64_t catalog_generation(struct catalog *cat)
{
	sqlite3_stmt *st;
	uint64_t dv = 0, gen;

	/*
	 * PRAGMA data_version changes when another connection commits; our
	 * own commits are counted in local_writes.
	 */
	pthread_mutex_lock(&cat->lock);
	if ((st = cat_stmt(cat, ST_DATA_VERSION)) && sqlite3_step(st) == SQLITE_ROW)
		dv = (uint64_t)sqlite3_column_int64(st, 0);
	if (st)
		sqlite3_reset(st);
	gen = (dv << 32) + cat->local_writes;
	pthread_mutex_unlock(&cat->lock);
	return gen;
}
