/*
 * Checkout (see checkout.h): a version's parsed manifests (core/version,
 * core/manifest) turned into one struct catalog_state and loaded with
 * catalog_replace(), one transaction.  The rows borrow the parsed text, so
 * the cost is one small record per row on top of the manifests themselves.
 *
 * The clean test builds the manifests of the working state exactly as a
 * commit would (manifest_build) and compares them file by file with the
 * version's tree: the same bytes and the same set of files is the same
 * tree, which is what makes history_commit() say "nothing to commit".
 */
#include "checkout.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/export_catalog.h"
#include "core/manifest.h"
#include "core/repo.h"
#include "core/version.h"
#include "store/catalog.h"
#include "store/history.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

/* Everything one checkout holds until the catalog has taken it. */
struct load {
	struct version *v;
	struct manifest_label_set *ls;     /* one per label set of v */
	size_t n_ls;
	struct catalog_state_image *images;
	struct catalog_state_label_set *sets;
	struct catalog_state_label *labels;
	struct catalog_state_box *boxes;
	struct catalog_state_exclusion *excl;
	struct catalog_state st;
};

static void load_release(struct load *L)
{
	for (size_t i = 0; i < L->n_ls; i++)
		manifest_label_set_release(&L->ls[i]);
	free(L->ls);
	free(L->images);
	free(L->sets);
	free(L->labels);
	free(L->boxes);
	free(L->excl);
	version_free(L->v);
}

/* calloc that says so; n may be 0. */
static int alloc(void *out, size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		return err_set(-ENOMEM, "out of memory");
	*(void **)out = p;
	return 0;
}

static int corrupt(const struct version *v, const char *what, const char *id)
{
	const struct version_info *info = version_get_info(v);

	return err_set(-EIO, "%s (%.12s): %s names image %s, which images.tsv lacks",
		       *info->tag ? info->tag : "version", info->commit, what, id);
}

static void note_split(struct buf *warnings, struct repo *repo, const char *name,
		       const struct manifest_label_set *ls)
{
	unsigned long long seed;
	double split;

	if (!warnings)
		return;
	export_split_config(repo, name, &split, &seed);
	if (split != ls->split || seed != ls->seed)
		buf_printf(warnings, "label set %s: the version's split is %g seed %" PRIu64
			   ", dsfs.yaml says split %g seed %llu (set label_sets.%s.split/seed in "
			   "dsfs.yaml to keep the version's)\n", name, ls->split, ls->seed, split, seed,
			   name);
}

/* Fill L->st from the open version L->v. */
static int build_state(struct load *L, struct repo *repo, struct buf *warnings)
{
	const struct manifest_exclusions *ex = version_exclusions(L->v);
	size_t ni = version_image_count(L->v), nsets = version_label_set_count(L->v);
	size_t nl = 0, nb = 0;
	int error;

	if ((error = alloc(&L->images, ni, sizeof(*L->images))) < 0 ||
	    (error = alloc(&L->ls, nsets, sizeof(*L->ls))) < 0 ||
	    (error = alloc(&L->sets, nsets, sizeof(*L->sets))) < 0 ||
	    (error = alloc(&L->excl, ex->n, sizeof(*L->excl))) < 0)
		return error;
	for (size_t i = 0; i < ni; i++) {
		const struct manifest_image *im = version_image_at(L->v, i);

		L->images[i] = (struct catalog_state_image){
			.id = im->id, .ext = im->ext, .name = im->name, .source = im->source,
			.ingested_at = im->ingested_at, .bytes = im->bytes, .width = im->width,
			.height = im->height,
		};
	}
	for (size_t k = 0; k < nsets; k++) {
		const char *name = version_label_set_name(L->v, k);

		if ((error = version_label_set(&L->ls[k], L->v, name)) < 0)
			return error;
		L->n_ls++;
		L->sets[k] = (struct catalog_state_label_set){
			.name = name, .classes = (const char *const *)L->ls[k].classes,
			.n_classes = L->ls[k].n_classes,
		};
		nl += L->ls[k].n_labeled;
		nb += L->ls[k].n_boxes;
		note_split(warnings, repo, name, &L->ls[k]);
	}
	if ((error = alloc(&L->labels, nl, sizeof(*L->labels))) < 0 ||
	    (error = alloc(&L->boxes, nb, sizeof(*L->boxes))) < 0)
		return error;
	nl = nb = 0;
	for (size_t k = 0; k < L->n_ls; k++) {
		const struct manifest_label_set *ls = &L->ls[k];
		const char *name = L->sets[k].name;

		for (size_t j = 0; j < ls->n_labeled; j++) {
			if (!version_image_find(L->v, ls->labeled[j]))
				return corrupt(L->v, "a labels.tsv", ls->labeled[j]);
			L->labels[nl++] = (struct catalog_state_label){
				.label_set = name, .image_id = ls->labeled[j],
				.batch_id = ls->batch_id[j], .source = ls->source[j],
			};
			/* A box's source_task is its label's source, as catalog_labels_replace() records it. */
			for (uint32_t b = ls->first_box[j]; b < ls->first_box[j] + ls->n_box[j]; b++) {
				const struct export_ann *a = &ls->boxes[b];

				L->boxes[nb++] = (struct catalog_state_box){
					.label_set = name, .image_id = ls->labeled[j],
					.source_task = ls->source[j], .class_id = a->class_id,
					.x_min = a->x_min, .y_min = a->y_min, .x_max = a->x_max,
					.y_max = a->y_max,
				};
			}
		}
	}
	for (size_t i = 0; i < ex->n; i++) {
		if (!version_image_find(L->v, ex->v[i].id))
			return corrupt(L->v, "exclusions.tsv", ex->v[i].id);
		L->excl[i] = (struct catalog_state_exclusion){
			.image_id = ex->v[i].id, .label_set = ex->v[i].label_set, .reason = ex->v[i].reason,
		};
	}
	L->st = (struct catalog_state){
		.images = L->images, .n_images = ni, .label_sets = L->sets, .n_label_sets = nsets,
		.labels = L->labels, .n_labels = nl, .boxes = L->boxes, .n_boxes = nb,
		.exclusions = L->excl, .n_exclusions = ex->n,
	};
	return 0;
}

int checkout_version(struct version_info *out, struct repo *repo, const char *spec,
		     struct buf *warnings)
{
	struct load L;
	int error;

	memset(&L, 0, sizeof(L));
	if ((error = version_open(&L.v, repo, spec)) < 0 ||
	    (error = build_state(&L, repo, warnings)) < 0 ||
	    (error = catalog_replace(repo->cat, &L.st)) < 0)
		goto done;
	if (out)
		*out = *version_get_info(L.v);
	LOG_I("checked out %s (%.12s): %zu images, %zu labels, %zu boxes, %zu exclusions",
	      version_get_info(L.v)->tag, version_get_info(L.v)->commit, L.st.n_images,
	      L.st.n_labels, L.st.n_boxes, L.st.n_exclusions);
done:
	load_release(&L);
	return error;
}

/* ---- clean ---- */

/* Count the files under `dir` ("" = root) of the commit's tree into *n. */
static int count_files(size_t *n, struct history *h, const char *commit, const char *dir)
{
	struct buf names = BUF_INIT, path = BUF_INIT;
	size_t cnt = 0;
	const char *p;
	int error;

	if ((error = history_list_dir(&names, &cnt, h, commit, dir)) < 0)
		goto done;
	p = names.ptr;
	for (size_t i = 0; i < cnt; i++, p += strlen(p) + 1) {
		int is_dir = 0;

		buf_reset(&path);
		if ((error = buf_printf(&path, "%s%s%s", dir, *dir ? "/" : "", p)) < 0 ||
		    (error = history_stat(h, commit, path.ptr, &is_dir, NULL)) < 0)
			goto done;
		if (is_dir)
			error = count_files(n, h, commit, path.ptr);
		else
			(*n)++;
		if (error < 0)
			goto done;
	}
done:
	buf_release(&names);
	buf_release(&path);
	return error;
}

/* Nothing a user made: no image, no label, no class. */
static int is_empty(const struct manifest_set *m)
{
	if (m->n_images || m->n_labeled)
		return 0;
	for (size_t i = 0; i < m->n; i++) {
		const char *p = m->files[i].path, *slash = strrchr(p, '/');
		if (slash && !strcmp(slash + 1, "classes.txt") && m->files[i].data.len)
			return 0;
	}
	return 1;
}

/* checkout_is_clean() against the built working-state manifests `m`. */
static int clean_against(struct repo *repo, const char *spec, const struct manifest_set *m)
{
	struct history_version hv = HISTORY_VERSION_INIT;
	struct buf b = BUF_INIT;
	struct history *h;
	size_t n_tree = 0;
	int clean, error;

	if ((error = repo_history(&h, repo)) < 0)
		return error;
	if ((error = history_resolve(&hv, h, spec ? spec : "HEAD")) < 0) {
		history_version_release(&hv);
		if (error != -ENOENT || spec)
			return error;
		err_clear(); /* no version yet */
		return is_empty(m);
	}
	if ((error = count_files(&n_tree, h, hv.commit, "")) < 0)
		goto done;
	clean = n_tree == m->n;
	for (size_t i = 0; i < m->n && clean; i++) {
		const struct buf *want = &m->files[i].data;

		buf_reset(&b);
		error = history_read(&b, h, hv.commit, m->files[i].path);
		if (error == -ENOENT) {
			error = 0;
			clean = 0;
		} else if (error < 0) {
			goto done;
		} else {
			clean = b.len == want->len && (!b.len || !memcmp(b.ptr, want->ptr, b.len));
		}
	}
done:
	buf_release(&b);
	history_version_release(&hv);
	return error < 0 ? error : clean;
}

int checkout_is_clean(struct repo *repo, const char *spec)
{
	struct manifest_set m;
	int error;

	if ((error = manifest_build(&m, repo)) < 0)
		return error;
	error = clean_against(repo, spec, &m);
	manifest_set_release(&m);
	return error;
}

int checkout_is_safe(struct repo *repo)
{
	struct manifest_set m;
	int error;

	if ((error = manifest_build(&m, repo)) < 0)
		return error;
	error = is_empty(&m) ? 1 : clean_against(repo, NULL, &m);
	manifest_set_release(&m);
	return error;
}

int checkout_run(struct version_info *out, struct repo *repo, const char *spec, int force,
		 struct buf *warnings)
{
	int safe;

	if (!force) {
		if ((safe = checkout_is_safe(repo)) < 0)
			return safe;
		if (!safe)
			return err_set(-EPERM, "the working state has uncommitted changes (commit them to "
					       "keep them as a version; force drops them)");
	}
	return checkout_version(out, repo, spec, warnings);
}
