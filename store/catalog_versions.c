/*
 * Snapshots of the working state for versions, and the versions table
 * (see catalog.h).
 *
 * catalog_dump() reads every table a version records inside one deferred
 * read transaction: in WAL mode all its SELECTs see the same snapshot, and
 * a concurrent writer (the daemon ingesting while `dsfs commit` runs) is
 * neither blocked nor half-seen.
 *
 * catalog_replace() is the inverse: a whole working state (a checked-out
 * version) loaded in one write transaction, the versioned tables emptied
 * first, so a reader sees the old state or the new one, never a mix.
 *
 * The versions table is a cache of the git tags (store/history): the tags
 * are the truth; core/version reconciles this table from them.
 */
#include "catalog_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/array.h"
#include "util/err.h"
#include "util/fsutil.h"

static int dump_images(struct catalog *cat, const struct catalog_dump_ops *ops, void *payload)
{
	sqlite3_stmt *st = NULL;
	struct catalog_image img;
	int rc, error;

	if ((error = cat_prep(cat, "SELECT image_id, ext, bytes, width, height, source_id, ingested_at, name"
			       " FROM images ORDER BY image_id", &st)) < 0)
		return error;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cat_col_text(img.id, sizeof(img.id), st, 0);
		cat_col_text(img.ext, sizeof(img.ext), st, 1);
		img.bytes = sqlite3_column_int64(st, 2);
		img.width = sqlite3_column_int64(st, 3);
		img.height = sqlite3_column_int64(st, 4);
		cat_col_text(img.source, sizeof(img.source), st, 5);
		cat_col_text(img.ingested_at, sizeof(img.ingested_at), st, 6);
		cat_col_text(img.name, sizeof(img.name), st, 7);
		if ((error = ops->image(&img, payload)) != 0)
			goto done;
	}
	if (rc != SQLITE_DONE)
		error = cat_errno(cat, rc, "dump images");
done:
	sqlite3_finalize(st);
	return error;
}

static int dump_label_sets(struct catalog *cat, const struct catalog_dump_ops *ops, void *payload)
{
	sqlite3_stmt *sets = NULL, *cls = NULL;
	const char **names = NULL;
	char *set = NULL;
	size_t n = 0, cap = 0;
	int rc, crc, error;

	if ((error = cat_prep(cat, "SELECT name FROM label_sets ORDER BY name", &sets)) < 0 ||
	    (error = cat_prep(cat, "SELECT name FROM label_classes WHERE label_set = ?1 ORDER BY class_id",
			  &cls)) < 0)
		goto done;
	while ((rc = sqlite3_step(sets)) == SQLITE_ROW) {
		free(set);
		if (!(set = strdup((const char *)sqlite3_column_text(sets, 0)))) {
			error = err_set(-ENOMEM, "out of memory");
			goto done;
		}
		for (size_t i = 0; i < n; i++)
			free((char *)names[i]);
		n = 0;
		sqlite3_reset(cls);
		cat_bind_text(cls, 1, set);
		while ((crc = sqlite3_step(cls)) == SQLITE_ROW) {
			if ((error = array_grow((void **)&names, &cap, n, sizeof(*names))) < 0)
				goto done;
			if (!(names[n] = strdup((const char *)sqlite3_column_text(cls, 0)))) {
				error = err_set(-ENOMEM, "out of memory");
				goto done;
			}
			n++;
		}
		if (crc != SQLITE_DONE) {
			error = cat_errno(cat, crc, "dump classes");
			goto done;
		}
		if ((error = ops->label_set(set, names, n, payload)) != 0)
			goto done;
	}
	if (rc != SQLITE_DONE)
		error = cat_errno(cat, rc, "dump label sets");
done:
	for (size_t i = 0; i < n; i++)
		free((char *)names[i]);
	free(names);
	free(set);
	sqlite3_finalize(sets);
	sqlite3_finalize(cls);
	return error;
}

static int dump_labels(struct catalog *cat, const struct catalog_dump_ops *ops, void *payload)
{
	sqlite3_stmt *st = NULL;
	char ls[CATALOG_NAME_MAX], id[CATALOG_ID_LEN + 1], batch[128], source[CATALOG_NAME_MAX];
	int rc, error;

	if ((error = cat_prep(cat, "SELECT label_set, image_id, batch_id, source FROM labels"
			       " ORDER BY label_set, image_id", &st)) < 0)
		return error;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cat_col_text(ls, sizeof(ls), st, 0);
		cat_col_text(id, sizeof(id), st, 1);
		cat_col_text(batch, sizeof(batch), st, 2);
		cat_col_text(source, sizeof(source), st, 3);
		if ((error = ops->label(ls, id, batch, source, payload)) != 0)
			goto done;
	}
	if (rc != SQLITE_DONE)
		error = cat_errno(cat, rc, "dump labels");
done:
	sqlite3_finalize(st);
	return error;
}

static int dump_boxes(struct catalog *cat, const struct catalog_dump_ops *ops, void *payload)
{
	sqlite3_stmt *st = NULL;
	struct catalog_box b;
	char ls[CATALOG_NAME_MAX];
	int rc, error;

	/* Within an image, insertion order: the order the working export writes them in. */
	if ((error = cat_prep(cat, "SELECT label_set, image_id, class_id, x_min, y_min, x_max, y_max"
			       " FROM annotations ORDER BY label_set, image_id, id", &st)) < 0)
		return error;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cat_col_text(ls, sizeof(ls), st, 0);
		cat_col_text(b.image_id, sizeof(b.image_id), st, 1);
		b.class_id = sqlite3_column_int64(st, 2);
		b.x_min = sqlite3_column_double(st, 3);
		b.y_min = sqlite3_column_double(st, 4);
		b.x_max = sqlite3_column_double(st, 5);
		b.y_max = sqlite3_column_double(st, 6);
		if ((error = ops->box(ls, &b, payload)) != 0)
			goto done;
	}
	if (rc != SQLITE_DONE)
		error = cat_errno(cat, rc, "dump annotations");
done:
	sqlite3_finalize(st);
	return error;
}

static int dump_exclusions(struct catalog *cat, const struct catalog_dump_ops *ops, void *payload)
{
	sqlite3_stmt *st = NULL;
	char id[CATALOG_ID_LEN + 1], ls[CATALOG_NAME_MAX];
	int rc, error;

	if ((error = cat_prep(cat, "SELECT image_id, label_set, reason FROM exclusions"
			       " ORDER BY image_id, label_set", &st)) < 0)
		return error;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cat_col_text(id, sizeof(id), st, 0);
		cat_col_text(ls, sizeof(ls), st, 1);
		if ((error = ops->exclusion(id, ls, (const char *)sqlite3_column_text(st, 2), payload)) != 0)
			goto done;
	}
	if (rc != SQLITE_DONE)
		error = cat_errno(cat, rc, "dump exclusions");
done:
	sqlite3_finalize(st);
	return error;
}

int catalog_dump(struct catalog *cat, const struct catalog_dump_ops *ops, void *payload)
{
	int rc, error = 0;

	pthread_mutex_lock(&cat->lock);
	/* Deferred: a read snapshot that blocks no writer. */
	if ((rc = sqlite3_exec(cat->db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK) {
		error = cat_errno(cat, rc, "begin read transaction");
		goto out;
	}
	if ((ops->image && (error = dump_images(cat, ops, payload)) != 0) ||
	    (ops->label_set && (error = dump_label_sets(cat, ops, payload)) != 0) ||
	    (ops->label && (error = dump_labels(cat, ops, payload)) != 0) ||
	    (ops->box && (error = dump_boxes(cat, ops, payload)) != 0) ||
	    (ops->exclusion && (error = dump_exclusions(cat, ops, payload)) != 0)) {
		/* fall through to end the transaction */
	}
	sqlite3_exec(cat->db, "COMMIT", NULL, NULL, NULL);
out:
	pthread_mutex_unlock(&cat->lock);
	return error;
}

/* ---- loading a working state ---- */

/* The statements of catalog_replace(), in the order they run. */
enum {
	RP_DEL_ANNS, RP_DEL_LABELS, RP_DEL_EXCL, RP_DEL_CLASSES, RP_DEL_SETS, RP_DEL_IMAGES,
	RP_IMAGE, RP_SET, RP_CLASS, RP_LABEL, RP_BOX, RP_EXCL, RP_COUNT_
};

static const char *const replace_sql[RP_COUNT_] = {
	/* Children before parents: label_classes references label_sets. */
	[RP_DEL_ANNS] = "DELETE FROM annotations",
	[RP_DEL_LABELS] = "DELETE FROM labels",
	[RP_DEL_EXCL] = "DELETE FROM exclusions",
	[RP_DEL_CLASSES] = "DELETE FROM label_classes",
	[RP_DEL_SETS] = "DELETE FROM label_sets",
	[RP_DEL_IMAGES] = "DELETE FROM images",
	[RP_IMAGE] = "INSERT INTO images(image_id, ext, bytes, width, height, source_id, ingested_at, name)"
		     " VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
	[RP_SET] = "INSERT INTO label_sets(name, created_at) VALUES(?1, ?2)",
	[RP_CLASS] = "INSERT INTO label_classes(label_set, class_id, name) VALUES(?1, ?2, ?3)",
	[RP_LABEL] = "INSERT INTO labels(image_id, label_set, batch_id, source, labeled_at)"
		     " VALUES(?1, ?2, ?3, ?4, ?5)",
	[RP_BOX] = "INSERT INTO annotations(label_set, image_id, class_id, x_min, y_min, x_max, y_max,"
		   " source_task) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[RP_EXCL] = "INSERT INTO exclusions(image_id, label_set, reason, created_at) VALUES(?1, ?2, ?3, ?4)",
};

#define S(p) ((p) ? (p) : "")

static int replace_rows(struct catalog *cat, sqlite3_stmt **q, const struct catalog_state *st,
			const char *ts)
{
	int error = 0;

	for (int k = RP_DEL_ANNS; k <= RP_DEL_IMAGES && !error; k++)
		error = cat_step_done(cat, q[k], replace_sql[k]);
	for (size_t i = 0; i < st->n_images && !error; i++) {
		const struct catalog_state_image *im = &st->images[i];

		sqlite3_reset(q[RP_IMAGE]);
		cat_bind_text(q[RP_IMAGE], 1, S(im->id));
		cat_bind_text(q[RP_IMAGE], 2, S(im->ext));
		sqlite3_bind_int64(q[RP_IMAGE], 3, im->bytes);
		sqlite3_bind_int64(q[RP_IMAGE], 4, im->width);
		sqlite3_bind_int64(q[RP_IMAGE], 5, im->height);
		cat_bind_text(q[RP_IMAGE], 6, S(im->source));
		cat_bind_text(q[RP_IMAGE], 7, S(im->ingested_at));
		cat_bind_text(q[RP_IMAGE], 8, S(im->name));
		error = cat_step_done(cat, q[RP_IMAGE], "load images");
	}
	for (size_t i = 0; i < st->n_label_sets && !error; i++) {
		const struct catalog_state_label_set *ls = &st->label_sets[i];

		if (!cat_label_set_name_ok(ls->name))
			return err_set(-EINVAL, "bad label set name '%s'", S(ls->name));
		sqlite3_reset(q[RP_SET]);
		cat_bind_text(q[RP_SET], 1, ls->name);
		cat_bind_text(q[RP_SET], 2, ts);
		error = cat_step_done(cat, q[RP_SET], "load label sets");
		for (size_t c = 0; c < ls->n_classes && !error; c++) {
			sqlite3_reset(q[RP_CLASS]);
			cat_bind_text(q[RP_CLASS], 1, ls->name);
			sqlite3_bind_int64(q[RP_CLASS], 2, (sqlite3_int64)c);
			cat_bind_text(q[RP_CLASS], 3, S(ls->classes[c]));
			error = cat_step_done(cat, q[RP_CLASS], "load classes");
		}
	}
	for (size_t i = 0; i < st->n_labels && !error; i++) {
		const struct catalog_state_label *l = &st->labels[i];

		sqlite3_reset(q[RP_LABEL]);
		cat_bind_text(q[RP_LABEL], 1, S(l->image_id));
		cat_bind_text(q[RP_LABEL], 2, S(l->label_set));
		cat_bind_text(q[RP_LABEL], 3, S(l->batch_id));
		cat_bind_text(q[RP_LABEL], 4, S(l->source));
		cat_bind_text(q[RP_LABEL], 5, ts);
		error = cat_step_done(cat, q[RP_LABEL], "load labels");
	}
	/* In array order: annotation ids keep the recorded order within an image. */
	for (size_t i = 0; i < st->n_boxes && !error; i++) {
		const struct catalog_state_box *b = &st->boxes[i];

		sqlite3_reset(q[RP_BOX]);
		cat_bind_text(q[RP_BOX], 1, S(b->label_set));
		cat_bind_text(q[RP_BOX], 2, S(b->image_id));
		sqlite3_bind_int64(q[RP_BOX], 3, b->class_id);
		sqlite3_bind_double(q[RP_BOX], 4, b->x_min);
		sqlite3_bind_double(q[RP_BOX], 5, b->y_min);
		sqlite3_bind_double(q[RP_BOX], 6, b->x_max);
		sqlite3_bind_double(q[RP_BOX], 7, b->y_max);
		cat_bind_text(q[RP_BOX], 8, S(b->source_task));
		error = cat_step_done(cat, q[RP_BOX], "load annotations");
	}
	for (size_t i = 0; i < st->n_exclusions && !error; i++) {
		const struct catalog_state_exclusion *e = &st->exclusions[i];

		sqlite3_reset(q[RP_EXCL]);
		cat_bind_text(q[RP_EXCL], 1, S(e->image_id));
		cat_bind_text(q[RP_EXCL], 2, S(e->label_set));
		cat_bind_text(q[RP_EXCL], 3, S(e->reason));
		cat_bind_text(q[RP_EXCL], 4, ts);
		error = cat_step_done(cat, q[RP_EXCL], "load exclusions");
	}
	return error;
}

#undef S

int catalog_replace(struct catalog *cat, const struct catalog_state *st)
{
	sqlite3_stmt *q[RP_COUNT_] = { NULL };
	char ts[24];
	int error;

	fs_iso8601(ts, sizeof(ts), 0);
	pthread_mutex_lock(&cat->lock);
	if ((error = cat_begin(cat)) < 0)
		goto out;
	for (int k = 0; k < RP_COUNT_ && !error; k++)
		error = cat_prep(cat, replace_sql[k], &q[k]);
	if (!error)
		error = replace_rows(cat, q, st, ts);
	for (int k = 0; k < RP_COUNT_; k++)
		sqlite3_finalize(q[k]);
	error = cat_end(cat, error);
out:
	pthread_mutex_unlock(&cat->lock);
	return error;
}

int catalog_version_put(struct catalog *cat, const struct catalog_version *v)
{
	sqlite3_stmt *st = NULL;
	int error;

	pthread_mutex_lock(&cat->lock);
	if ((error = cat_prep(cat, "INSERT OR REPLACE INTO versions(number, tag, commit_id, created_at,"
			       " message, n_images, n_labeled) VALUES(?1,?2,?3,?4,?5,?6,?7)", &st)) == 0) {
		sqlite3_bind_int64(st, 1, v->number);
		cat_bind_text(st, 2, v->tag);
		cat_bind_text(st, 3, v->commit_id);
		cat_bind_text(st, 4, v->created_at);
		cat_bind_text(st, 5, v->message);
		sqlite3_bind_int64(st, 6, v->n_images);
		sqlite3_bind_int64(st, 7, v->n_labeled);
		if ((error = cat_step_done(cat, st, "record version")) == 0)
			cat->local_writes++;
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&cat->lock);
	return error;
}

int catalog_versions(struct catalog *cat, struct catalog_version **out, size_t *n)
{
	struct catalog_version *v = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *st = NULL;
	int rc, error;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&cat->lock);
	if ((error = cat_prep(cat, "SELECT number, tag, commit_id, created_at, message, n_images, n_labeled"
			       " FROM versions ORDER BY number", &st)) < 0)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((error = array_grow((void **)&v, &cap, cnt, sizeof(*v))) < 0)
			goto out;
		v[cnt].number = sqlite3_column_int64(st, 0);
		cat_col_text(v[cnt].tag, sizeof(v[cnt].tag), st, 1);
		cat_col_text(v[cnt].commit_id, sizeof(v[cnt].commit_id), st, 2);
		cat_col_text(v[cnt].created_at, sizeof(v[cnt].created_at), st, 3);
		cat_col_text(v[cnt].message, sizeof(v[cnt].message), st, 4);
		v[cnt].n_images = sqlite3_column_int64(st, 5);
		v[cnt].n_labeled = sqlite3_column_int64(st, 6);
		cnt++;
	}
	if (rc != SQLITE_DONE)
		error = cat_errno(cat, rc, "list versions");
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&cat->lock);
	if (error) {
		free(v);
		return error;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int catalog_versions_prune(struct catalog *cat, const int64_t *keep, size_t n_keep)
{
	struct catalog_version *v = NULL;
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	int error;

	if ((error = catalog_versions(cat, &v, &n)) < 0)
		return error;
	pthread_mutex_lock(&cat->lock);
	if ((error = cat_prep(cat, "DELETE FROM versions WHERE number = ?1", &st)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		int found = 0;
		for (size_t j = 0; j < n_keep && !found; j++)
			found = keep[j] == v[i].number;
		if (found)
			continue;
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, v[i].number);
		if ((error = cat_step_done(cat, st, "prune version")) < 0)
			goto out;
		cat->local_writes++;
	}
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&cat->lock);
	free(v);
	return error;
}
