/*
 * Manifests: writing the working state as text, and parsing it back
 * (see manifest.h for the format).
 *
 * Writing goes through one catalog_dump() (one read snapshot); the dump's
 * orders are the manifests' orders, so nothing is sorted here.  Parsing
 * tokenizes the file in place (fields are NUL-terminated inside the text
 * the caller hands over), so a 50k-image images.tsv costs one array of
 * small records on top of the file itself.
 */
#include "manifest.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/export_catalog.h"
#include "core/repo.h"
#include "store/catalog.h"
#include "util/err.h"

/* ---- writing ---- */

void manifest_fmt_double(char *out, double v)
{
	for (int p = 15; p <= 17; p++) {
		snprintf(out, 32, "%.*g", p, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

struct ls_out {
	char name[CATALOG_NAME_MAX];
	struct buf classes, config, labels, anns;
	int64_t n_labeled, n_boxes;
	size_t n_classes;
};

struct writer {
	struct repo *repo;
	struct buf images, exclusions;
	struct ls_out *ls;
	size_t n_ls;
	size_t last;
	int64_t n_images, n_labeled, n_exclusions;
};

static struct ls_out *find_ls(struct writer *w, const char *name)
{
	if (w->last < w->n_ls && !strcmp(w->ls[w->last].name, name))
		return &w->ls[w->last];
	for (size_t i = 0; i < w->n_ls; i++)
		if (!strcmp(w->ls[i].name, name))
			return &w->ls[w->last = i];
	return NULL;
}

static int on_image(const struct catalog_image *img, void *payload)
{
	struct writer *w = payload;
	struct buf *b = &w->images;
	int error;

	w->n_images++;
	if ((error = buf_printf(b, "%s\t%s\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t", img->id, img->ext,
				img->bytes, img->width, img->height)) < 0 ||
	    (error = buf_put_tsv(b, img->name)) < 0 || (error = buf_puts(b, "\t")) < 0 ||
	    (error = buf_put_tsv(b, img->source)) < 0)
		return error;
	return buf_printf(b, "\t%s\n", img->ingested_at);
}

static int on_label_set(const char *name, const char *const *classes, size_t n, void *payload)
{
	struct writer *w = payload;
	struct ls_out *l;
	unsigned long long seed;
	double split;
	char num[32];
	int error = 0;

	if (!(l = realloc(w->ls, (w->n_ls + 1) * sizeof(*l))))
		return err_set(-ENOMEM, "out of memory");
	w->ls = l;
	l = &w->ls[w->n_ls++];
	memset(l, 0, sizeof(*l));
	snprintf(l->name, sizeof(l->name), "%s", name);
	buf_init(&l->classes);
	buf_init(&l->config);
	buf_init(&l->labels);
	buf_init(&l->anns);
	l->n_classes = n;
	for (size_t i = 0; i < n && !error; i++)
		if ((error = buf_put_tsv(&l->classes, classes[i])) == 0)
			error = buf_puts(&l->classes, "\n");
	/* The split as configured now: a version keeps it even if dsfs.yaml changes later. */
	export_split_config(w->repo, name, &split, &seed);
	manifest_fmt_double(num, split);
	if (!error)
		error = buf_printf(&l->config, "# the train/val split of this label set when the version was made\n"
					       "split: %s\nseed: %llu\n", num, seed);
	if (!error)
		error = buf_puts(&l->labels, "# image_id\tbatch_id\tsource\n");
	if (!error)
		error = buf_puts(&l->anns, "# image_id\tclass_id\tx_min\ty_min\tx_max\ty_max\n");
	return error;
}

static int on_label(const char *ls, const char *image_id, const char *batch_id, const char *source,
		    void *payload)
{
	struct writer *w = payload;
	struct ls_out *l = find_ls(w, ls);
	int error;

	if (!l)
		return 0; /* a label in a set that does not exist: not exported either */
	l->n_labeled++;
	w->n_labeled++;
	if ((error = buf_printf(&l->labels, "%s\t", image_id)) < 0 ||
	    (error = buf_put_tsv(&l->labels, batch_id)) < 0 || (error = buf_puts(&l->labels, "\t")) < 0 ||
	    (error = buf_put_tsv(&l->labels, source)) < 0)
		return error;
	return buf_puts(&l->labels, "\n");
}

static int on_box(const char *ls, const struct catalog_box *b, void *payload)
{
	struct writer *w = payload;
	struct ls_out *l = find_ls(w, ls);
	char c[4][32];

	if (!l)
		return 0;
	l->n_boxes++;
	manifest_fmt_double(c[0], b->x_min);
	manifest_fmt_double(c[1], b->y_min);
	manifest_fmt_double(c[2], b->x_max);
	manifest_fmt_double(c[3], b->y_max);
	return buf_printf(&l->anns, "%s\t%" PRId64 "\t%s\t%s\t%s\t%s\n", b->image_id, b->class_id, c[0],
			  c[1], c[2], c[3]);
}

static int on_exclusion(const char *id, const char *ls, const char *reason, void *payload)
{
	struct writer *w = payload;
	int error;

	w->n_exclusions++;
	if ((error = buf_printf(&w->exclusions, "%s\t", id)) < 0 ||
	    (error = buf_put_tsv(&w->exclusions, ls)) < 0 ||
	    (error = buf_puts(&w->exclusions, "\t")) < 0 ||
	    (error = buf_put_tsv(&w->exclusions, reason ? reason : "")) < 0)
		return error;
	return buf_puts(&w->exclusions, "\n");
}

/* Move `data` into a new file of `m` at `path`. */
static int add_file(struct manifest_set *m, const char *path, struct buf *data)
{
	struct manifest_file *f = realloc(m->files, (m->n + 1) * sizeof(*f));

	if (!f)
		return err_set(-ENOMEM, "out of memory");
	m->files = f;
	f = &m->files[m->n++];
	snprintf(f->path, sizeof(f->path), "%s", path);
	f->data = *data;
	buf_init(data);
	return 0;
}

int manifest_build(struct manifest_set *out, struct repo *repo)
{
	static const struct catalog_dump_ops ops = {
		.image = on_image,
		.label_set = on_label_set,
		.label = on_label,
		.box = on_box,
		.exclusion = on_exclusion,
	};
	struct writer w = { .repo = repo };
	struct buf summary = BUF_INIT;
	char path[300];
	int error;

	memset(out, 0, sizeof(*out));
	buf_init(&w.images);
	buf_init(&w.exclusions);
	if ((error = buf_puts(&w.images, "# id\text\tbytes\twidth\theight\tname\tsource\tingested_at\n")) < 0 ||
	    (error = buf_puts(&w.exclusions, "# image_id\tlabel_set (empty: all)\treason\n")) < 0 ||
	    (error = catalog_dump(repo->cat, &ops, &w)) < 0)
		goto done;
	buf_printf(&summary, "# dsfs dataset manifest\nformat\t%d\nimages\t%" PRId64 "\nlabeled\t%" PRId64
		   "\nexclusions\t%" PRId64 "\n", MANIFEST_FORMAT, w.n_images, w.n_labeled,
		   w.n_exclusions);
	for (size_t i = 0; i < w.n_ls; i++)
		buf_printf(&summary, "label_set\t%s\tclasses=%zu labeled=%" PRId64 " annotations=%" PRId64 "\n",
			   w.ls[i].name, w.ls[i].n_classes, w.ls[i].n_labeled, w.ls[i].n_boxes);
	if ((error = add_file(out, "summary.tsv", &summary)) < 0 ||
	    (error = add_file(out, "images.tsv", &w.images)) < 0 ||
	    (error = add_file(out, "exclusions.tsv", &w.exclusions)) < 0)
		goto done;
	for (size_t i = 0; i < w.n_ls; i++) {
		struct ls_out *l = &w.ls[i];
		static const char *const names[] = { "classes.txt", "config.yaml", "labels.tsv",
						     "annotations.tsv" };
		struct buf *bufs[] = { &l->classes, &l->config, &l->labels, &l->anns };
		for (int k = 0; k < 4; k++) {
			snprintf(path, sizeof(path), "label_sets/%s/%s", l->name, names[k]);
			if ((error = add_file(out, path, bufs[k])) < 0)
				goto done;
		}
	}
	out->n_images = w.n_images;
	out->n_labeled = w.n_labeled;
done:
	buf_release(&summary);
	buf_release(&w.images);
	buf_release(&w.exclusions);
	for (size_t i = 0; i < w.n_ls; i++) {
		buf_release(&w.ls[i].classes);
		buf_release(&w.ls[i].config);
		buf_release(&w.ls[i].labels);
		buf_release(&w.ls[i].anns);
	}
	free(w.ls);
	if (error)
		manifest_set_release(out);
	return error;
}

void manifest_set_release(struct manifest_set *m)
{
	for (size_t i = 0; i < m->n; i++)
		buf_release(&m->files[i].data);
	free(m->files);
	memset(m, 0, sizeof(*m));
}

/* ---- reading ---- */

/* A line cursor over text being tokenized in place. */
struct lines {
	char *p, *end;
	const char *path;
	size_t lineno;
};

/*
 * The next non-comment, non-empty line split at tabs into f[0..max), each
 * unescaped in place.  Returns the number of fields, 0 at the end.
 */
static size_t next_line(struct lines *L, char **f, size_t max)
{
	for (;;) {
		char *s = L->p, *nl;
		size_t n = 0;

		if (s >= L->end)
			return 0;
		L->lineno++;
		nl = memchr(s, '\n', (size_t)(L->end - s));
		if (!nl)
			nl = L->end;
		*nl = '\0';
		L->p = nl + 1;
		if (!*s || *s == '#')
			continue;
		for (;;) {
			char *tab = strchr(s, '\t');
			if (n < max)
				f[n] = s;
			n++;
			if (!tab)
				break;
			*tab = '\0';
			s = tab + 1;
		}
		for (size_t i = 0; i < n && i < max; i++) {
			char *r = f[i], *wp = f[i];
			for (; *r; r++) {
				if (*r == '\\' && r[1]) {
					r++;
					*wp++ = *r == 't' ? '\t' : *r == 'n' ? '\n' : *r == 'r' ? '\r' : *r;
				} else {
					*wp++ = *r;
				}
			}
			*wp = '\0';
		}
		return n;
	}
}

static int bad(const struct lines *L, const char *what)
{
	return err_set(-EIO, "corrupt manifest %s, line %zu: %s", L->path, L->lineno, what);
}

static int is_id(const char *s)
{
	if (strlen(s) != 32)
		return 0;
	for (int i = 0; i < 32; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return 0;
	return 1;
}

static int parse_i64(const char *s, int64_t *out)
{
	char *end;

	if (!*s)
		return -1;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*end || errno)
		return -1;
	*out = v;
	return 0;
}

/*
 * Clinger's fast path: a decimal with at most 15 significant digits and at
 * most 22 fraction digits is (integer mantissa) / 10^k with both operands
 * exact doubles, so one IEEE division gives the correctly rounded value,
 * the same strtod() returns.  Anything else goes to strtod().
 */
static int parse_dbl(const char *s, double *out)
{
	static const double pow10[23] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
					  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };
	const char *p = s;
	uint64_t m = 0;
	int digits = 0, frac = -1, neg = 0;
	char *end;

	if (*p == '-') {
		neg = 1;
		p++;
	}
	for (; *p; p++) {
		if (*p >= '0' && *p <= '9') {
			if (m || *p != '0')
				digits++;
			m = m * 10 + (uint64_t)(*p - '0');
			if (frac >= 0)
				frac++;
			if (digits > 15 || frac > 22)
				break;
		} else if (*p == '.' && frac < 0) {
			frac = 0;
		} else {
			break;
		}
	}
	if (!*p && p > s + neg && p[-1] != '.' && !(p == s + neg + 1 && frac == 0)) {
		double v = (double)m / pow10[frac > 0 ? frac : 0];
		*out = neg ? -v : v;
		return 0;
	}
	if (!*s)
		return -1;
	*out = strtod(s, &end);
	return *end || !isfinite(*out) ? -1 : 0;
}

static size_t count_lines(const char *text, size_t len)
{
	size_t n = 1;

	for (const char *p = text; (p = memchr(p, '\n', len - (size_t)(p - text))); p++)
		n++;
	return n;
}

int manifest_images_parse(struct manifest_images *out, char *text, size_t len, const char *path)
{
	struct lines L = { text, text + len, path, 0 };
	char *f[9];
	size_t nf;
	int error = 0;

	memset(out, 0, sizeof(*out));
	out->text = text; /* consumed, also on failure */
	if (!(out->v = malloc(count_lines(text, len) * sizeof(*out->v)))) {
		free(text);
		out->text = NULL;
		return err_set(-ENOMEM, "out of memory");
	}
	while ((nf = next_line(&L, f, 9)) > 0) {
		struct manifest_image *im = &out->v[out->n];
		size_t el;

		if (nf != 8) {
			error = bad(&L, "expected 8 tab-separated fields");
			break;
		}
		if (!is_id(f[0])) {
			error = bad(&L, "bad image id");
			break;
		}
		el = strlen(f[1]);
		if (el < 1 || el > 7 || parse_i64(f[2], &im->bytes) || parse_i64(f[3], &im->width) ||
		    parse_i64(f[4], &im->height) || im->bytes < 0 || im->width <= 0 || im->height <= 0) {
			error = bad(&L, "bad ext, bytes, width or height");
			break;
		}
		if (out->n && strcmp(out->v[out->n - 1].id, f[0]) >= 0) {
			error = bad(&L, "image ids not sorted or repeated");
			break;
		}
		memcpy(im->id, f[0], 33);
		memcpy(im->ext, f[1], el + 1);
		im->name = f[5];
		im->source = f[6];
		im->ingested_at = f[7];
		out->n++;
	}
	if (error)
		manifest_images_release(out);
	return error;
}

void manifest_images_release(struct manifest_images *m)
{
	free(m->v);
	free(m->text);
	memset(m, 0, sizeof(*m));
}

const struct manifest_image *manifest_image_find(const struct manifest_images *m, const char *id)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->v[mid].id, id);
		if (!c)
			return &m->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int manifest_exclusions_parse(struct manifest_exclusions *out, char *text, size_t len,
			      const char *path)
{
	struct lines L = { text, text + len, path, 0 };
	char *f[4];
	size_t nf;
	int error = 0;

	memset(out, 0, sizeof(*out));
	out->text = text; /* consumed, also on failure */
	if (!(out->v = malloc(count_lines(text, len) * sizeof(*out->v)))) {
		free(text);
		out->text = NULL;
		return err_set(-ENOMEM, "out of memory");
	}
	while ((nf = next_line(&L, f, 4)) > 0) {
		struct manifest_exclusion *e = &out->v[out->n];

		if (nf != 3 || !is_id(f[0])) {
			error = bad(&L, "expected image_id, label_set, reason");
			break;
		}
		if (out->n) {
			const struct manifest_exclusion *p = &out->v[out->n - 1];
			int c = strcmp(p->id, f[0]);
			if (c > 0 || (!c && strcmp(p->label_set, f[1]) >= 0)) {
				error = bad(&L, "exclusions not sorted or repeated");
				break;
			}
		}
		memcpy(e->id, f[0], 33);
		e->label_set = f[1];
		e->reason = f[2];
		out->n++;
	}
	if (error)
		manifest_exclusions_release(out);
	return error;
}

void manifest_exclusions_release(struct manifest_exclusions *m)
{
	free(m->v);
	free(m->text);
	memset(m, 0, sizeof(*m));
}

int manifest_excluded(const struct manifest_exclusions *m, const char *id, const char *label_set)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) { /* first entry with id >= `id` */
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(m->v[mid].id, id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < m->n && !strcmp(m->v[lo].id, id); lo++)
		if (!*m->v[lo].label_set || !strcmp(m->v[lo].label_set, label_set))
			return 1;
	return 0;
}

static int parse_classes(struct manifest_label_set *out, char *text, size_t len, const char *path)
{
	struct lines L = { text, text + len, path, 0 };
	char *f[2];
	size_t nf;

	if (!(out->classes = calloc(count_lines(text, len), sizeof(char *))))
		return err_set(-ENOMEM, "out of memory");
	while ((nf = next_line(&L, f, 2)) > 0) {
		if (nf != 1)
			return bad(&L, "a class name may not contain a tab");
		if (!(out->classes[out->n_classes] = strdup(f[0])))
			return err_set(-ENOMEM, "out of memory");
		out->n_classes++;
	}
	return 0;
}

static int parse_config(struct manifest_label_set *out, char *text, size_t len, const char *path)
{
	struct lines L = { text, text + len, path, 0 };
	char *f[2];

	while (next_line(&L, f, 2) > 0) {
		char *colon = strchr(f[0], ':'), *val;
		int64_t seed;

		if (!colon)
			return bad(&L, "expected 'key: value'");
		*colon = '\0';
		for (val = colon + 1; *val == ' '; val++)
			;
		if (!strcmp(f[0], "split")) {
			if (parse_dbl(val, &out->split) || out->split <= 0 || out->split > 1)
				return bad(&L, "split must be in (0, 1]");
		} else if (!strcmp(f[0], "seed")) {
			if (parse_i64(val, &seed))
				return bad(&L, "seed must be an integer");
			out->seed = (uint64_t)seed;
		}
	}
	return 0;
}

static int parse_labels(struct manifest_label_set *out, char *text, size_t len, const char *path)
{
	struct lines L = { text, text + len, path, 0 };
	size_t cap = count_lines(text, len);
	char *f[4];
	size_t nf;

	if (!(out->labeled = malloc(cap * sizeof(*out->labeled))) ||
	    !(out->batch_id = malloc(cap * sizeof(*out->batch_id))) ||
	    !(out->source = malloc(cap * sizeof(*out->source))) ||
	    !(out->first_box = calloc(cap, sizeof(*out->first_box))) ||
	    !(out->n_box = calloc(cap, sizeof(*out->n_box))))
		return err_set(-ENOMEM, "out of memory");
	while ((nf = next_line(&L, f, 4)) > 0) {
		if (nf != 3 || !is_id(f[0]))
			return bad(&L, "expected image_id, batch_id, source");
		if (out->n_labeled && strcmp(out->labeled[out->n_labeled - 1], f[0]) >= 0)
			return bad(&L, "image ids not sorted or repeated");
		out->batch_id[out->n_labeled] = f[1];
		out->source[out->n_labeled] = f[2];
		memcpy(out->labeled[out->n_labeled++], f[0], 33);
	}
	return 0;
}

/* Boxes merge with the sorted labeled ids: one pass, no per-box search. */
static int parse_anns(struct manifest_label_set *out, char *text, size_t len, const char *path)
{
	struct lines L = { text, text + len, path, 0 };
	char prev[33] = "";
	size_t j = 0;
	char *f[7];
	size_t nf;

	if (!(out->boxes = malloc(count_lines(text, len) * sizeof(*out->boxes))))
		return err_set(-ENOMEM, "out of memory");
	while ((nf = next_line(&L, f, 7)) > 0) {
		struct export_ann *b = &out->boxes[out->n_boxes];
		int64_t cls;
		int c;

		if (nf != 6 || !is_id(f[0]) || parse_i64(f[1], &cls) || cls < 0 ||
		    (size_t)cls >= out->n_classes || parse_dbl(f[2], &b->x_min) ||
		    parse_dbl(f[3], &b->y_min) || parse_dbl(f[4], &b->x_max) || parse_dbl(f[5], &b->y_max))
			return bad(&L, "expected image_id, class_id (< number of classes), 4 finite coordinates");
		if ((c = strcmp(prev, f[0])) > 0)
			return bad(&L, "image ids not sorted");
		if (c)
			memcpy(prev, f[0], 33);
		while (j < out->n_labeled && strcmp(out->labeled[j], f[0]) < 0)
			j++;
		if (j == out->n_labeled || strcmp(out->labeled[j], f[0]))
			continue; /* a box of an image that is not labeled: never exported */
		if (!out->n_box[j])
			out->first_box[j] = (uint32_t)out->n_boxes;
		out->n_box[j]++;
		b->class_id = (uint32_t)cls;
		out->n_boxes++;
	}
	return 0;
}

int manifest_label_set_parse(struct manifest_label_set *out, const char *dir,
			     char *classes, size_t classes_len, char *config, size_t config_len,
			     char *labels, size_t labels_len, char *anns, size_t anns_len)
{
	char path[320];
	int error = 0;

	memset(out, 0, sizeof(*out));
	out->split = 0.8;
	out->seed = 42;
	if (classes) {
		snprintf(path, sizeof(path), "%s/classes.txt", dir);
		error = parse_classes(out, classes, classes_len, path);
	}
	if (!error && config) {
		snprintf(path, sizeof(path), "%s/config.yaml", dir);
		error = parse_config(out, config, config_len, path);
	}
	if (!error) {
		static char empty[1];
		snprintf(path, sizeof(path), "%s/labels.tsv", dir);
		error = parse_labels(out, labels ? labels : empty, labels ? labels_len : 0, path);
		/* batch_id[] and source[] point into it: kept with the label set. */
		out->labels_text = labels;
		labels = NULL;
	}
	if (!error && anns) {
		snprintf(path, sizeof(path), "%s/annotations.tsv", dir);
		error = parse_anns(out, anns, anns_len, path);
	}
	free(classes);
	free(config);
	free(labels);
	free(anns);
	if (error)
		manifest_label_set_release(out);
	return error;
}

void manifest_label_set_release(struct manifest_label_set *ls)
{
	for (size_t i = 0; ls->classes && i < ls->n_classes; i++)
		free(ls->classes[i]);
	free(ls->classes);
	free(ls->labeled);
	free(ls->batch_id);
	free(ls->source);
	free(ls->labels_text);
	free(ls->first_box);
	free(ls->n_box);
	free(ls->boxes);
	memset(ls, 0, sizeof(*ls));
}

int manifest_summary_parse(struct manifest_summary *out, const char *text, size_t len,
			   const char *path)
{
	char *copy = malloc(len + 1);
	struct lines L;
	char *f[3];
	size_t nf;
	int error = 0;

	memset(out, 0, sizeof(*out));
	if (!copy)
		return err_set(-ENOMEM, "out of memory");
	memcpy(copy, text, len);
	copy[len] = '\0';
	L = (struct lines){ copy, copy + len, path, 0 };
	while (!error && (nf = next_line(&L, f, 3)) > 0) {
		int64_t v = 0;

		if (!strcmp(f[0], "label_set"))
			continue;
		if (nf != 2 || parse_i64(f[1], &v) || v < 0) {
			error = bad(&L, "expected 'key<TAB>count'");
			break;
		}
		if (!strcmp(f[0], "format"))
			out->format = (int)v;
		else if (!strcmp(f[0], "images"))
			out->n_images = v;
		else if (!strcmp(f[0], "labeled"))
			out->n_labeled = v;
		else if (!strcmp(f[0], "exclusions"))
			out->n_exclusions = v;
	}
	if (!error && out->format != MANIFEST_FORMAT)
		error = err_set(-EIO, "manifest %s: format %d, this dsfs reads format %d", path,
				out->format, MANIFEST_FORMAT);
	free(copy);
	return error;
}
