/*
 * Label sets, exclusions, batches and annotations (see catalog.h).
 *
 * These run rarely compared with image lookups, so each call prepares its
 * statements once and reuses them for every row it touches; every change
 * is one transaction.
 */
#include "catalog_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/array.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/utf8.h"

static void now(char out[24])
{
	fs_iso8601(out, 24, 0);
}

static int valid_name(const char *name)
{
	if (!name || !*name || strlen(name) >= 128 || name[0] == '.')
		return 0;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_-.", *p))
			return 0;
	return 1;
}

int cat_label_set_name_ok(const char *name)
{
	return valid_name(name);
}

void catalog_strings_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* Collect column 0 of every row of `st` as strings. */
static int collect_strings(struct catalog *cat, sqlite3_stmt *st, char ***out, size_t *n)
{
	char **v = NULL;
	size_t cnt = 0, cap = 0;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *s = (const char *)sqlite3_column_text(st, 0);
		if (array_grow((void **)&v, &cap, cnt, sizeof(*v)) < 0)
			goto nomem;
		if (!(v[cnt] = strdup(s ? s : "")))
			goto nomem;
		cnt++;
	}
	if (rc != SQLITE_DONE) {
		catalog_strings_free(v, cnt);
		return cat_errno(cat, rc, "read rows");
	}
	*out = v;
	*n = cnt;
	return 0;
nomem:
	catalog_strings_free(v, cnt);
	return err_set(-ENOMEM, "out of memory");
}

static int labelset_ensure_locked(struct catalog *cat, const char *name)
{
	sqlite3_stmt *st = NULL;
	char ts[24];
	int error;

	if (!valid_name(name))
		return err_set(-EINVAL, "bad label set name '%s' (1-127 ASCII letters, digits, _ - ., "
			       "not starting with '.': it names a directory under exports/)", name ? name : "");
	now(ts);
	if ((error = cat_prep(cat, "INSERT OR IGNORE INTO label_sets(name, created_at) VALUES(?1, ?2)", &st)) < 0)
		return error;
	cat_bind_text(st, 1, name);
	cat_bind_text(st, 2, ts);
	error = cat_step_done(cat, st, "create label set");
	if (!error && sqlite3_changes(cat->db))
		cat->local_writes++;
	sqlite3_finalize(st);
	return error;
}

int catalog_labelset_ensure(struct catalog *cat, const char *name)
{
	int error;

	pthread_mutex_lock(&cat->lock);
	error = labelset_ensure_locked(cat, name);
	pthread_mutex_unlock(&cat->lock);
	return error;
}

static int labelset_exists_locked(struct catalog *cat, const char *name)
{
	sqlite3_stmt *st = NULL;
	int found = 0;

	if (cat_prep(cat, "SELECT 1 FROM label_sets WHERE name = ?1", &st) == 0) {
		cat_bind_text(st, 1, name);
		found = sqlite3_step(st) == SQLITE_ROW;
	}
	sqlite3_finalize(st);
	return found;
}

int catalog_labelset_exists(struct catalog *cat, const char *name)
{
	int found;

	pthread_mutex_lock(&cat->lock);
	found = labelset_exists_locked(cat, name);
	pthread_mutex_unlock(&cat->lock);
	return found;
}

int catalog_labelset_classes(struct catalog *cat, const char *name, char ***out, size_t *n)
{
	sqlite3_stmt *st = NULL;
	int error;

	*out = NULL;
	*n = 0;
	if (!catalog_labelset_exists(cat, name))
		return err_set(-ENOENT, "no label set '%s'", name);
	pthread_mutex_lock(&cat->lock);
	if ((error = cat_prep(cat, "SELECT name FROM label_classes WHERE label_set = ?1 ORDER BY class_id", &st)) == 0) {
		cat_bind_text(st, 1, name);
		error = collect_strings(cat, st, out, n);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&cat->lock);
	return error;
}

int catalog_labelset_add_classes(struct catalog *cat, const char *name, const char *const *names,
				 size_t n, size_t *added)
{
	sqlite3_stmt *ins = NULL;
	size_t count = 0;
	int error;

	for (size_t i = 0; i < n; i++) {
		if (!names[i][0] || strlen(names[i]) > 64 || !utf8_valid(names[i]) ||
		    utf8_has_control(names[i]))
			return err_set(-EINVAL, "bad class name '%s' (1-64 bytes of UTF-8 text, no tabs, "
				       "newlines or other control characters)", names[i]);
	}
	pthread_mutex_lock(&cat->lock);
	if ((error = cat_begin(cat)) < 0)
		goto out;
	if ((error = labelset_ensure_locked(cat, name)) < 0 ||
	    (error = cat_prep(cat, "INSERT OR IGNORE INTO label_classes(label_set, class_id, name)"
			       " SELECT ?1, coalesce(max(class_id) + 1, 0), ?2 FROM label_classes"
			       " WHERE label_set = ?1", &ins)) < 0)
		goto end;
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(ins);
		cat_bind_text(ins, 1, name);
		cat_bind_text(ins, 2, names[i]);
		if ((error = cat_step_done(cat, ins, "add class")) < 0)
			goto end;
		count += (size_t)sqlite3_changes(cat->db);
	}
end:
	sqlite3_finalize(ins);
	if ((error = cat_end(cat, error)) == 0 && added)
		*added = count;
out:
	pthread_mutex_unlock(&cat->lock);
	return error;
}

int catalog_labelsets(struct catalog *cat, char ***out, size_t *n)
{
	sqlite3_stmt *st = NULL;
	int error;

	pthread_mutex_lock(&cat->lock);
	if ((error = cat_prep(cat, "SELECT name FROM label_sets ORDER BY name", &st)) == 0)
		error = collect_strings(cat, st, out, n);
	sqlite3_finalize(st);
	pthread_mutex_unlock(&cat->lock);
	return error;
}

/* ---- exclusions ---- */

/*
 * The arguments of an exclude or include name what exists: each image, and
 * the label set if one is given (a row for a label set that does not exist
 * would sit there unseen and apply to one created later).
 */
static int check_targets(struct catalog *cat, const char *const *ids, size_t n, const char *label_set)
{
	sqlite3_stmt *chk = NULL;
	int error;

	if (label_set && *label_set && !labelset_exists_locked(cat, label_set))
		return err_set(-ENOENT, "no label set '%s'", label_set);
	if ((error = cat_prep(cat, "SELECT 1 FROM images WHERE image_id = ?1", &chk)) < 0)
		return error;
	for (size_t i = 0; i < n && !error; i++) {
		sqlite3_reset(chk);
		cat_bind_text(chk, 1, ids[i]);
		if (sqlite3_step(chk) != SQLITE_ROW)
			error = err_set(-ENOENT, "no image %s", ids[i]);
	}
	sqlite3_finalize(chk);
	return error;
}

int catalog_exclude(struct catalog *cat, const char *const *ids, size_t n, const char *label_set,
		    const char *reason)
{
	sqlite3_stmt *ins = NULL;
	char ts[24];
	int error;

	now(ts);
	if (!label_set)
		label_set = "";
	pthread_mutex_lock(&cat->lock);
	if ((error = cat_begin(cat)) < 0)
		goto out;
	if ((error = check_targets(cat, ids, n, label_set)) < 0 ||
	    (error = cat_prep(cat, "INSERT OR REPLACE INTO exclusions(image_id, label_set, reason, created_at)"
			       " VALUES(?1, ?2, ?3, ?4)", &ins)) < 0)
		goto end;
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(ins);
		cat_bind_text(ins, 1, ids[i]);
		cat_bind_text(ins, 2, label_set);
		cat_bind_text(ins, 3, reason);
		cat_bind_text(ins, 4, ts);
		if ((error = cat_step_done(cat, ins, "exclude")) < 0)
			goto end;
	}
end:
	sqlite3_finalize(ins);
	error = cat_end(cat, error);
out:
	pthread_mutex_unlock(&cat->lock);
	return error;
}

int catalog_include(struct catalog *cat, const char *const *ids, size_t n, const char *label_set,
		    size_t *removed)
{
	sqlite3_stmt *del = NULL;
	size_t count = 0;
	int error;

	pthread_mutex_lock(&cat->lock);
	if ((error = cat_begin(cat)) < 0)
		goto out;
	if ((error = check_targets(cat, ids, n, label_set)) < 0 ||
	    (error = cat_prep(cat, "DELETE FROM exclusions WHERE image_id = ?1 AND (?2 IS NULL OR label_set = ?2)",
			      &del)) < 0)
		goto end;
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(del);
		cat_bind_text(del, 1, ids[i]);
		if (label_set)
			cat_bind_text(del, 2, label_set);
		else
			sqlite3_bind_null(del, 2);
		if ((error = cat_step_done(cat, del, "include")) < 0)
			goto end;
		count += (size_t)sqlite3_changes(cat->db);
	}
end:
	sqlite3_finalize(del);
	if ((error = cat_end(cat, error)) == 0 && removed)
		*removed = count;
out:
	pthread_mutex_unlock(&cat->lock);
	return error;
}

/* ---- batches ---- */

#define IMAGE_COLS "i.image_id, i.ext, i.bytes, i.width, i.height, i.source_id, i.ingested_at, i.name"

static void read_image_at(struct catalog_image *img, sqlite3_stmt *st, int c)
{
	cat_col_text(img->id, sizeof(img->id), st, c + 0);
	cat_col_text(img->ext, sizeof(img->ext), st, c + 1);
	img->bytes = sqlite3_column_int64(st, c + 2);
	img->width = sqlite3_column_int64(st, c + 3);
	img->height = sqlite3_column_int64(st, c + 4);
	cat_col_text(img->source, sizeof(img->source), st, c + 5);
	cat_col_text(img->ingested_at, sizeof(img->ingested_at), st, c + 6);
	cat_col_text(img->name, sizeof(img->name), st, c + 7);
}

int catalog_batch_candidates(struct catalog *cat, const char *label_set, enum catalog_order order,
			     uint64_t seed, size_t limit, struct catalog_image **out, size_t *n)
{
	static const char *const sql[] = {
		[CATALOG_ORDER_NEWEST] = " ORDER BY i.ingested_at DESC, i.image_id DESC",
		[CATALOG_ORDER_OLDEST] = " ORDER BY i.ingested_at ASC, i.image_id ASC",
		/* Shuffled below, from a stable base order. */
		[CATALOG_ORDER_RANDOM] = " ORDER BY i.image_id",
	};
	struct catalog_image *v = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *st = NULL;
	char q[1024];
	int rc, error;

	*out = NULL;
	*n = 0;
	snprintf(q, sizeof(q),
		 "SELECT " IMAGE_COLS " FROM images i"
		 " WHERE NOT EXISTS (SELECT 1 FROM labels l WHERE l.label_set = ?1 AND l.image_id = i.image_id)"
		 " AND NOT EXISTS (SELECT 1 FROM exclusions e WHERE e.image_id = i.image_id"
		 "                 AND e.label_set IN ('', ?1))"
		 " AND NOT EXISTS (SELECT 1 FROM batch_items bi JOIN batches b ON b.batch_id = bi.batch_id"
		 "                 WHERE bi.image_id = i.image_id AND b.label_set = ?1)"
		 "%s LIMIT ?2", sql[order]);
	pthread_mutex_lock(&cat->lock);
	if ((error = cat_prep(cat, q, &st)) < 0)
		goto out;
	cat_bind_text(st, 1, label_set);
	sqlite3_bind_int64(st, 2, order == CATALOG_ORDER_RANDOM ? -1 : (sqlite3_int64)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((error = array_grow((void **)&v, &cap, cnt, sizeof(*v))) < 0)
			goto out;
		read_image_at(&v[cnt++], st, 0);
	}
	if (rc != SQLITE_DONE)
		error = cat_errno(cat, rc, "select batch candidates");
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&cat->lock);
	if (error) {
		free(v);
		return error;
	}
	if (order == CATALOG_ORDER_RANDOM) {
		/* Fisher-Yates with splitmix64 from the seed: the same seed, the same batch. */
		uint64_t x = seed;
		for (size_t i = cnt; i > 1; i--) {
			uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
			z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
			z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
			z ^= z >> 31;
			size_t j = (size_t)(z % i);
			struct catalog_image t = v[i - 1];
			v[i - 1] = v[j];
			v[j] = t;
		}
		if (cnt > limit)
			cnt = limit;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int catalog_batch_add(struct catalog *cat, const struct catalog_batch *b,
		      const struct catalog_batch_item *items, size_t n)
{
	sqlite3_stmt *hb = NULL, *hi = NULL;
	int error;

	pthread_mutex_lock(&cat->lock);
	if ((error = cat_begin(cat)) < 0)
		goto out;
	if ((error = cat_prep(cat, "INSERT INTO batches(batch_id, label_set, created_at, state)"
			       " VALUES(?1, ?2, ?3, ?4)", &hb)) < 0 ||
	    (error = cat_prep(cat, "INSERT INTO batch_items(batch_id, name, image_id) VALUES(?1, ?2, ?3)",
			  &hi)) < 0)
		goto end;
	cat_bind_text(hb, 1, b->id);
	cat_bind_text(hb, 2, b->label_set);
	cat_bind_text(hb, 3, b->created_at);
	cat_bind_text(hb, 4, b->state);
	if ((error = cat_step_done(cat, hb, "add batch")) < 0)
		goto end;
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(hi);
		cat_bind_text(hi, 1, b->id);
		cat_bind_text(hi, 2, items[i].name);
		cat_bind_text(hi, 3, items[i].img.id);
		if ((error = cat_step_done(cat, hi, "add batch item")) < 0)
			goto end;
	}
end:
	sqlite3_finalize(hb);
	sqlite3_finalize(hi);
	error = cat_end(cat, error);
out:
	pthread_mutex_unlock(&cat->lock);
	return error;
}

#define BATCH_SELECT "SELECT b.batch_id, b.label_set, b.created_at, b.state, coalesce(b.cvat_task_id, 0)," \
		     " (SELECT count(*) FROM batch_items bi WHERE bi.batch_id = b.batch_id) FROM batches b"

static void read_batch(struct catalog_batch *b, sqlite3_stmt *st)
{
	cat_col_text(b->id, sizeof(b->id), st, 0);
	cat_col_text(b->label_set, sizeof(b->label_set), st, 1);
	cat_col_text(b->created_at, sizeof(b->created_at), st, 2);
	cat_col_text(b->state, sizeof(b->state), st, 3);
	b->cvat_task_id = sqlite3_column_int64(st, 4);
	b->n_items = sqlite3_column_int64(st, 5);
}

static int batch_one(struct catalog *cat, const char *sql, const char *id, struct catalog_batch *out)
{
	sqlite3_stmt *st = NULL;
	int rc, error;

	pthread_mutex_lock(&cat->lock);
	if ((error = cat_prep(cat, sql, &st)) == 0) {
		if (id)
			cat_bind_text(st, 1, id);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			read_batch(out, st);
		else
			error = rc == SQLITE_DONE ? err_set(-ENOENT, id ? "no batch '%s'" : "no batches yet%s", id ? id : "")
						  : cat_errno(cat, rc, "read batch");
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&cat->lock);
	return error;
}

int catalog_batch_get(struct catalog *cat, const char *id, struct catalog_batch *out)
{
	return batch_one(cat, BATCH_SELECT " WHERE b.batch_id = ?1", id, out);
}

int catalog_batch_latest(struct catalog *cat, struct catalog_batch *out)
{
	return batch_one(cat, BATCH_SELECT " ORDER BY b.created_at DESC, b.batch_id DESC LIMIT 1", NULL, out);
}

int catalog_batches(struct catalog *cat, struct catalog_batch **out, size_t *n)
{
	struct catalog_batch *v = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *st = NULL;
	int rc, error;

	pthread_mutex_lock(&cat->lock);
	if ((error = cat_prep(cat, BATCH_SELECT " ORDER BY b.created_at, b.batch_id", &st)) < 0)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((error = array_grow((void **)&v, &cap, cnt, sizeof(*v))) < 0)
			goto out;
		read_batch(&v[cnt++], st);
	}
	if (rc != SQLITE_DONE)
		error = cat_errno(cat, rc, "list batches");
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

int catalog_batch_items(struct catalog *cat, const char *id, struct catalog_batch_item **out,
			size_t *n)
{
	struct catalog_batch_item *v = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *st = NULL;
	int rc, error;

	pthread_mutex_lock(&cat->lock);
	if ((error = cat_prep(cat, "SELECT bi.name, " IMAGE_COLS " FROM batch_items bi"
			       " JOIN images i ON i.image_id = bi.image_id"
			       " WHERE bi.batch_id = ?1 ORDER BY bi.name", &st)) < 0)
		goto out;
	cat_bind_text(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((error = array_grow((void **)&v, &cap, cnt, sizeof(*v))) < 0)
			goto out;
		cat_col_text(v[cnt].name, sizeof(v[cnt].name), st, 0);
		read_image_at(&v[cnt].img, st, 1);
		cnt++;
	}
	if (rc != SQLITE_DONE)
		error = cat_errno(cat, rc, "list batch items");
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

int catalog_batch_set_state(struct catalog *cat, const char *id, const char *state,
			    int64_t cvat_task_id)
{
	sqlite3_stmt *st = NULL;
	int error;

	pthread_mutex_lock(&cat->lock);
	if ((error = cat_prep(cat, "UPDATE batches SET state = ?2,"
			       " cvat_task_id = CASE WHEN ?3 > 0 THEN ?3 ELSE cvat_task_id END"
			       " WHERE batch_id = ?1", &st)) == 0) {
		cat_bind_text(st, 1, id);
		cat_bind_text(st, 2, state);
		sqlite3_bind_int64(st, 3, cvat_task_id);
		error = cat_step_done(cat, st, "update batch");
		if (!error && !sqlite3_changes(cat->db))
			error = err_set(-ENOENT, "no batch '%s'", id);
		if (!error)
			cat->local_writes++;
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&cat->lock);
	return error;
}

int catalog_batch_remove_unused(struct catalog *cat, const char *id)
{
	sqlite3_stmt *q = NULL, *di = NULL, *db = NULL;
	char state[32] = "";
	int64_t task = 0, labels = 0;
	int rc, error;

	pthread_mutex_lock(&cat->lock);
	if ((error = cat_begin(cat)) < 0)
		goto out;
	/* Read and delete in the same transaction: nothing can start using it in between. */
	if ((error = cat_prep(cat, "SELECT state, coalesce(cvat_task_id, 0),"
			       " (SELECT count(*) FROM labels l WHERE l.batch_id = ?1)"
			       " FROM batches WHERE batch_id = ?1", &q)) < 0 ||
	    (error = cat_prep(cat, "DELETE FROM batch_items WHERE batch_id = ?1", &di)) < 0 ||
	    (error = cat_prep(cat, "DELETE FROM batches WHERE batch_id = ?1", &db)) < 0)
		goto end;
	cat_bind_text(q, 1, id);
	if ((rc = sqlite3_step(q)) != SQLITE_ROW) {
		error = rc == SQLITE_DONE ? err_set(-ENOENT, "no batch '%s'", id) : cat_errno(cat, rc, "read batch");
		goto end;
	}
	cat_col_text(state, sizeof(state), q, 0);
	task = sqlite3_column_int64(q, 1);
	labels = sqlite3_column_int64(q, 2);
	if (strcmp(state, "open") || task > 0 || labels > 0) {
		error = err_set(-EBUSY, "batch %s is in use (state %s, CVAT task %lld, %lld labels): not removed",
				id, state, (long long)task, (long long)labels);
		goto end;
	}
	cat_bind_text(di, 1, id);
	cat_bind_text(db, 1, id);
	if ((error = cat_step_done(cat, di, "remove batch items")) < 0 ||
	    (error = cat_step_done(cat, db, "remove batch")) < 0)
		goto end;
end:
	sqlite3_finalize(q);
	sqlite3_finalize(di);
	sqlite3_finalize(db);
	error = cat_end(cat, error);
out:
	pthread_mutex_unlock(&cat->lock);
	return error;
}

/* ---- annotations ---- */

int catalog_labels_replace(struct catalog *cat, const char *label_set, const char *batch_id,
			   const char *source, const char *const *image_ids, size_t n_images,
			   const struct catalog_box *boxes, size_t n_boxes)
{
	sqlite3_stmt *del = NULL, *lab = NULL, *ins = NULL;
	char ts[24];
	int error;

	now(ts);
	pthread_mutex_lock(&cat->lock);
	if ((error = cat_begin(cat)) < 0)
		goto out;
	if ((error = labelset_ensure_locked(cat, label_set)) < 0 ||
	    (error = cat_prep(cat, "DELETE FROM annotations WHERE label_set = ?1 AND image_id = ?2", &del)) < 0 ||
	    (error = cat_prep(cat, "INSERT OR REPLACE INTO labels(image_id, label_set, batch_id, source, labeled_at)"
			       " VALUES(?2, ?1, ?3, ?4, ?5)", &lab)) < 0 ||
	    (error = cat_prep(cat, "INSERT INTO annotations(label_set, image_id, class_id, x_min, y_min, x_max,"
			       " y_max, source_task) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", &ins)) < 0)
		goto end;
	for (size_t i = 0; i < n_images; i++) {
		sqlite3_reset(del);
		cat_bind_text(del, 1, label_set);
		cat_bind_text(del, 2, image_ids[i]);
		if ((error = cat_step_done(cat, del, "delete old boxes")) < 0)
			goto end;
		sqlite3_reset(lab);
		cat_bind_text(lab, 1, label_set);
		cat_bind_text(lab, 2, image_ids[i]);
		cat_bind_text(lab, 3, batch_id ? batch_id : "");
		cat_bind_text(lab, 4, source ? source : "");
		cat_bind_text(lab, 5, ts);
		if ((error = cat_step_done(cat, lab, "mark labeled")) < 0)
			goto end;
	}
	for (size_t i = 0; i < n_boxes; i++) {
		const struct catalog_box *b = &boxes[i];
		sqlite3_reset(ins);
		cat_bind_text(ins, 1, label_set);
		cat_bind_text(ins, 2, b->image_id);
		sqlite3_bind_int64(ins, 3, b->class_id);
		sqlite3_bind_double(ins, 4, b->x_min);
		sqlite3_bind_double(ins, 5, b->y_min);
		sqlite3_bind_double(ins, 6, b->x_max);
		sqlite3_bind_double(ins, 7, b->y_max);
		cat_bind_text(ins, 8, source ? source : "");
		if ((error = cat_step_done(cat, ins, "insert box")) < 0)
			goto end;
	}
end:
	sqlite3_finalize(del);
	sqlite3_finalize(lab);
	sqlite3_finalize(ins);
	error = cat_end(cat, error);
out:
	pthread_mutex_unlock(&cat->lock);
	return error;
}

int catalog_images_by_name(struct catalog *cat, const char *name, struct catalog_image **out,
			   size_t *n)
{
	struct catalog_image *v = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *st = NULL;
	int rc, error;

	pthread_mutex_lock(&cat->lock);
	if ((error = cat_prep(cat, "SELECT " IMAGE_COLS " FROM images i WHERE i.name = ?1 ORDER BY i.image_id",
			  &st)) < 0)
		goto out;
	cat_bind_text(st, 1, name);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((error = array_grow((void **)&v, &cap, cnt, sizeof(*v))) < 0)
			goto out;
		read_image_at(&v[cnt++], st, 0);
	}
	if (rc != SQLITE_DONE)
		error = cat_errno(cat, rc, "find images by name");
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

int catalog_labeled_foreach(struct catalog *cat, const char *label_set, catalog_labeled_fn fn,
			    void *payload)
{
	sqlite3_stmt *imgs = NULL, *anns = NULL;
	struct catalog_box *boxes = NULL;
	size_t cap = 0;
	int rc = SQLITE_DONE, arc, error;
	int have_ann = 0;
	struct catalog_box next = { 0 };

	pthread_mutex_lock(&cat->lock);
	/* Two ordered scans merged by image id: no per-image query. */
	if ((error = cat_prep(cat, "SELECT " IMAGE_COLS " FROM labels l JOIN images i ON i.image_id = l.image_id"
			       " WHERE l.label_set = ?1 AND NOT EXISTS (SELECT 1 FROM exclusions e"
			       " WHERE e.image_id = l.image_id AND e.label_set IN ('', ?1))"
			       " ORDER BY l.image_id", &imgs)) < 0 ||
	    (error = cat_prep(cat, "SELECT image_id, class_id, x_min, y_min, x_max, y_max FROM annotations"
			       " WHERE label_set = ?1 ORDER BY image_id, id", &anns)) < 0)
		goto out;
	cat_bind_text(imgs, 1, label_set);
	cat_bind_text(anns, 1, label_set);
#define READ_ANN()                                                                             \
	do {                                                                                   \
		arc = sqlite3_step(anns);                                                      \
		have_ann = arc == SQLITE_ROW;                                                  \
		if (have_ann) {                                                                \
			cat_col_text(next.image_id, sizeof(next.image_id), anns, 0);           \
			next.class_id = sqlite3_column_int64(anns, 1);                         \
			next.x_min = sqlite3_column_double(anns, 2);                           \
			next.y_min = sqlite3_column_double(anns, 3);                           \
			next.x_max = sqlite3_column_double(anns, 4);                           \
			next.y_max = sqlite3_column_double(anns, 5);                           \
		} else if (arc != SQLITE_DONE) {                                               \
			error = cat_errno(cat, arc, "read annotations");                       \
			goto out;                                                              \
		}                                                                              \
	} while (0)
	READ_ANN();
	while ((rc = sqlite3_step(imgs)) == SQLITE_ROW) {
		struct catalog_image img;
		size_t nb = 0;

		read_image_at(&img, imgs, 0);
		while (have_ann && strcmp(next.image_id, img.id) < 0)
			READ_ANN(); /* boxes of excluded images */
		while (have_ann && !strcmp(next.image_id, img.id)) {
			if ((error = array_grow((void **)&boxes, &cap, nb, sizeof(*boxes))) < 0)
				goto out;
			boxes[nb++] = next;
			READ_ANN();
		}
		if ((error = fn(&img, boxes, nb, payload)) != 0)
			goto out;
	}
#undef READ_ANN
	if (rc != SQLITE_DONE)
		error = cat_errno(cat, rc, "read labeled images");
out:
	sqlite3_finalize(imgs);
	sqlite3_finalize(anns);
	pthread_mutex_unlock(&cat->lock);
	free(boxes);
	return error;
}

int catalog_labeled_count(struct catalog *cat, const char *label_set, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int error;

	pthread_mutex_lock(&cat->lock);
	if ((error = cat_prep(cat, "SELECT count(*) FROM labels WHERE label_set = ?1", &st)) == 0) {
		cat_bind_text(st, 1, label_set);
		if (sqlite3_step(st) == SQLITE_ROW)
			*out = sqlite3_column_int64(st, 0);
		else
			error = cat_errno(cat, SQLITE_ERROR, "count labels");
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&cat->lock);
	return error;
}
