/*
 * Internals shared by the catalog's .c files (catalog.c: connection,
 * schema, statement cache; catalog_*.c: one file per group of tables).
 */
#ifndef DSFS_STORE_CATALOG_INT_H
#define DSFS_STORE_CATALOG_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#include "catalog.h"

/* Cached statements; each is prepared once (SQLITE_PREPARE_PERSISTENT). */
enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_DATA_VERSION,
	ST_IMAGE_ADD,
	ST_IMAGE_GET,
	ST_IMAGE_COUNT,
	ST_IMAGE_RANGE,
	ST_COUNT_
};

struct catalog {
	sqlite3 *db;
	pthread_mutex_t lock;        /* serializes all use of db and stmt[] */
	sqlite3_stmt *stmt[ST_COUNT_]; /* protected by lock */
	uint64_t local_writes;       /* protected by lock */
};

/* The cached statement `id`, reset and with bindings cleared.  NULL on error (message set). */
sqlite3_stmt *cat_stmt(struct catalog *cat, enum stmt_id id);
/* Prepare a one-off statement (caller finalizes).  Negative errno with a message. */
int cat_prep(struct catalog *cat, const char *sql, sqlite3_stmt **st);
/* Map an SQLite result code to a negative errno with a message naming `what`. */
int cat_errno(struct catalog *cat, int rc, const char *what);
/* Transaction helpers; caller holds cat->lock. */
int cat_begin(struct catalog *cat);
int cat_commit(struct catalog *cat);
void cat_rollback(struct catalog *cat);
/* End a cat_begin() transaction: commit if `error` is 0, else (or if the commit fails) roll back. */
int cat_end(struct catalog *cat, int error);
/* Run a statement that returns no rows to completion; resets it. */
int cat_step_done(struct catalog *cat, sqlite3_stmt *st, const char *what);
/* Bind a NUL-terminated string (SQLITE_STATIC: must outlive the step). */
#define cat_bind_text(st, i, s) sqlite3_bind_text((st), (i), (s), -1, SQLITE_STATIC)
/* 1 if `name` may name a label set (letters, digits, _ - ., not leading '.'), else 0 (catalog_labels.c). */
int cat_label_set_name_ok(const char *name);
/* Copy column `i` as text into dst[size]. */
void cat_col_text(char *dst, size_t size, sqlite3_stmt *st, int i);

#endif
