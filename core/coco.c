/*
 * COCO 1.0 instances files in CVAT's layout (see coco.h and
 * shared/api/CVAT.md sec. 7).
 *
 * Parsing goes through jansson's tree: a 100k-annotation file is ~20 MB of
 * JSON and loads in a fraction of a second, so a streaming parser would buy
 * little.  The tree is walked once and copied into flat arrays; jansson
 * types never leave this file.  Every structural check names the JSON path
 * of the offending value, because the user fixing a hand-edited or
 * third-party file needs to find it.
 *
 * Writing does not build a jansson tree: it prints straight into a buf,
 * which is several times faster for large files and lets us control the
 * number format (shortest exact double, always with a decimal point, like
 * CVAT's Python writer) and the key order.
 *
 * Lookups by id: categories and images carry a sorted (id, position) index
 * in the private part of struct coco.  coco_parse() builds it with one sort
 * (which is also how duplicate ids are found), coco_add_*() keep it sorted
 * (an append when ids come in ascending order, as they always do from CVAT
 * and from our own exporters).
 */
#include "core/coco.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/fsutil.h"

struct id_ent {
	int64_t id;
	size_t pos; /* index into the coco array */
};

/* Sorted by (id, pos); valid only while n equals the array's length. */
struct id_index {
	struct id_ent *ents;
	size_t n, cap;
};

struct coco_priv {
	size_t cap_cats, cap_images, cap_anns;
	struct id_index cats, images;
};

/* ---- index ------------------------------------------------------------ */

static int ent_cmp(const void *a, const void *b)
{
	const struct id_ent *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* First entry with id >= `id` (== n if none). */
static size_t idx_lower_bound(const struct id_index *ix, int64_t id)
{
	size_t lo = 0, hi = ix->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ix->ents[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Position of `id` in the indexed array, or (size_t)-1. */
static size_t idx_find(const struct id_index *ix, int64_t id)
{
	size_t i = idx_lower_bound(ix, id);

	return i < ix->n && ix->ents[i].id == id ? ix->ents[i].pos : (size_t)-1;
}

static int idx_reserve(struct id_index *ix, size_t need)
{
	struct id_ent *p;
	size_t cap;

	if (need <= ix->cap)
		return 0;
	cap = ix->cap ? ix->cap : 16;
	while (cap < need) {
		if (cap > SIZE_MAX / 2 / sizeof(*p))
			return err_set(-ENOMEM, "coco: index too large");
		cap *= 2;
	}
	if (!(p = realloc(ix->ents, cap * sizeof(*p))))
		return err_set(-ENOMEM, "coco: out of memory");
	ix->ents = p;
	ix->cap = cap;
	return 0;
}

/* Insert (id, pos) keeping the order; the caller checked id is new. */
static int idx_insert(struct id_index *ix, int64_t id, size_t pos)
{
	size_t at;
	int error;

	if ((error = idx_reserve(ix, ix->n + 1)) < 0)
		return error;
	at = ix->n && ix->ents[ix->n - 1].id > id ? idx_lower_bound(ix, id) : ix->n;
	memmove(ix->ents + at + 1, ix->ents + at, (ix->n - at) * sizeof(*ix->ents));
	ix->ents[at].id = id;
	ix->ents[at].pos = pos;
	ix->n++;
	return 0;
}

/*
 * Rebuild `ix` from `n` ids read through `get`.  If two entries share an id,
 * *dup_pos is the position of the first repeat in array order and *first_pos
 * the earlier entry it repeats; otherwise *dup_pos = (size_t)-1.
 */
static int idx_build(struct id_index *ix, const void *arr, size_t elem, size_t id_off, size_t n,
		     size_t *dup_pos, size_t *first_pos)
{
	int error;

	ix->n = 0;
	*dup_pos = (size_t)-1;
	if ((error = idx_reserve(ix, n)) < 0)
		return error;
	for (size_t i = 0; i < n; i++) {
		memcpy(&ix->ents[i].id, (const char *)arr + i * elem + id_off, sizeof(int64_t));
		ix->ents[i].pos = i;
	}
	ix->n = n;
	/* CVAT writes ids 1..N in order: skip the sort when already sorted. */
	for (size_t i = 1; i < n; i++) {
		if (ent_cmp(&ix->ents[i - 1], &ix->ents[i]) > 0) {
			qsort(ix->ents, n, sizeof(*ix->ents), ent_cmp);
			break;
		}
	}
	for (size_t i = 1; i < n; i++) {
		if (ix->ents[i].id == ix->ents[i - 1].id && ix->ents[i].pos < *dup_pos) {
			*dup_pos = ix->ents[i].pos;
			*first_pos = ix->ents[i - 1].pos;
		}
	}
	return 0;
}

static int priv_get(struct coco *c, struct coco_priv **out)
{
	struct coco_priv *p = c->priv;
	size_t dup, first;
	int error;

	if (p) {
		*out = p;
		return 0;
	}
	/* A struct filled by hand: adopt its arrays (capacity = length). */
	if (!(p = calloc(1, sizeof(*p))))
		return err_set(-ENOMEM, "coco: out of memory");
	p->cap_cats = c->n_cats;
	p->cap_images = c->n_images;
	p->cap_anns = c->n_anns;
	if ((error = idx_build(&p->cats, c->cats, sizeof(*c->cats),
			       offsetof(struct coco_category, id), c->n_cats, &dup, &first)) < 0 ||
	    (error = idx_build(&p->images, c->images, sizeof(*c->images),
			       offsetof(struct coco_image, id), c->n_images, &dup, &first)) < 0) {
		free(p->cats.ents);
		free(p->images.ents);
		free(p);
		return error;
	}
	c->priv = p;
	*out = p;
	return 0;
}

/* Grow `*arr` (of `elem`-byte items, `n` used, `*cap` allocated) for one more. */
static int grow(void **arr, size_t elem, size_t n, size_t *cap)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap : 16;
	while (ncap <= n) {
		if (ncap > SIZE_MAX / 2 / elem)
			return err_set(-ENOMEM, "coco: too many entries");
		ncap *= 2;
	}
	if (!(p = realloc(*arr, ncap * elem)))
		return err_set(-ENOMEM, "coco: out of memory");
	*arr = p;
	*cap = ncap;
	return 0;
}

/* ---- building --------------------------------------------------------- */

static int utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned c = *p, n;
		uint32_t cp;

		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return 0;
		for (unsigned i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		p += n + 1;
	}
	return 1;
}

static int check_str(const char *what, const char *s)
{
	if (!s || !*s)
		return err_set(-EINVAL, "coco: %s must be a non-empty string", what);
	if (!utf8_valid(s))
		return err_set(-EINVAL, "coco: %s is not valid UTF-8", what);
	return 0;
}

int coco_add_category(struct coco *c, int64_t id, const char *name)
{
	struct coco_priv *p;
	char *copy;
	int error;

	if ((error = check_str("category name", name)) < 0 || (error = priv_get(c, &p)) < 0)
		return error;
	if (p->cats.n == c->n_cats && idx_find(&p->cats, id) != (size_t)-1)
		return err_set(-EEXIST, "coco: category id %" PRId64 " already exists", id);
	if ((error = grow((void **)&c->cats, sizeof(*c->cats), c->n_cats, &p->cap_cats)) < 0 ||
	    (error = idx_reserve(&p->cats, p->cats.n + 1)) < 0)
		return error;
	if (!(copy = strdup(name)))
		return err_set(-ENOMEM, "coco: out of memory");
	if (p->cats.n == c->n_cats)
		idx_insert(&p->cats, id, c->n_cats); /* cannot fail: reserved */
	c->cats[c->n_cats].id = id;
	c->cats[c->n_cats].name = copy;
	c->n_cats++;
	return 0;
}

int coco_add_image(struct coco *c, int64_t id, const char *file_name, int64_t w, int64_t h)
{
	struct coco_priv *p;
	struct coco_image *im;
	char *copy;
	int error;

	if ((error = check_str("image file_name", file_name)) < 0 ||
	    (error = priv_get(c, &p)) < 0)
		return error;
	if (p->images.n == c->n_images && idx_find(&p->images, id) != (size_t)-1)
		return err_set(-EEXIST, "coco: image id %" PRId64 " already exists", id);
	if ((error = grow((void **)&c->images, sizeof(*c->images), c->n_images,
			  &p->cap_images)) < 0 ||
	    (error = idx_reserve(&p->images, p->images.n + 1)) < 0)
		return error;
	if (!(copy = strdup(file_name)))
		return err_set(-ENOMEM, "coco: out of memory");
	if (p->images.n == c->n_images)
		idx_insert(&p->images, id, c->n_images);
	im = &c->images[c->n_images++];
	im->id = id;
	im->file_name = copy;
	im->width = w;
	im->height = h;
	return 0;
}

static int add_ann_id(struct coco *c, int64_t id, int64_t image_id, int64_t category_id,
		      double x, double y, double w, double h)
{
	struct coco_priv *p;
	struct coco_ann *a;
	int error;

	if ((error = priv_get(c, &p)) < 0 ||
	    (error = grow((void **)&c->anns, sizeof(*c->anns), c->n_anns, &p->cap_anns)) < 0)
		return error;
	a = &c->anns[c->n_anns++];
	a->id = id;
	a->image_id = image_id;
	a->category_id = category_id;
	a->x = x;
	a->y = y;
	a->w = w;
	a->h = h;
	return 0;
}

int coco_add_ann(struct coco *c, int64_t image_id, int64_t category_id, double x, double y,
		 double w, double h)
{
	return add_ann_id(c, (int64_t)c->n_anns + 1, image_id, category_id, x, y, w, h);
}

void coco_release(struct coco *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_cats; i++)
		free(c->cats[i].name);
	for (size_t i = 0; i < c->n_images; i++)
		free(c->images[i].file_name);
	free(c->cats);
	free(c->images);
	free(c->anns);
	if (c->priv) {
		free(c->priv->cats.ents);
		free(c->priv->images.ents);
		free(c->priv);
	}
	*c = (struct coco)COCO_INIT;
}

/* ---- lookups ---------------------------------------------------------- */

const struct coco_category *coco_category(const struct coco *c, int64_t id)
{
	size_t i;

	if (c->priv && c->priv->cats.n == c->n_cats) {
		i = idx_find(&c->priv->cats, id);
		return i == (size_t)-1 ? NULL : &c->cats[i];
	}
	for (i = 0; i < c->n_cats; i++)
		if (c->cats[i].id == id)
			return &c->cats[i];
	return NULL;
}

const struct coco_image *coco_image(const struct coco *c, int64_t id)
{
	size_t i;

	if (c->priv && c->priv->images.n == c->n_images) {
		i = idx_find(&c->priv->images, id);
		return i == (size_t)-1 ? NULL : &c->images[i];
	}
	/* Hand-filled: CVAT's ids are 1..N, so try the obvious slot first. */
	if (id >= 1 && (uint64_t)id <= c->n_images && c->images[id - 1].id == id)
		return &c->images[id - 1];
	for (i = 0; i < c->n_images; i++)
		if (c->images[i].id == id)
			return &c->images[i];
	return NULL;
}

/* ---- parsing ---------------------------------------------------------- */

enum { GET_OK, GET_MISSING, GET_WRONG };

/*
 * An integer field.  CVAT writes ids and sizes as JSON ints, but other tools
 * (and Python's json for numpy values) may write 3.0; an integral float in
 * int64 range is accepted.
 */
static int get_int(json_t *obj, const char *key, int64_t *out)
{
	json_t *v = json_object_get(obj, key);
	double d;

	if (!v)
		return GET_MISSING;
	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
		return GET_OK;
	}
	if (!json_is_real(v))
		return GET_WRONG;
	d = json_real_value(v);
	/* 2^63 is exact as a double; the range check comes before the cast. */
	if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) ||
	    (double)(int64_t)d != d)
		return GET_WRONG;
	*out = (int64_t)d;
	return GET_OK;
}

static int bad(const char *arr, size_t i, const char *key, const char *what)
{
	return err_set(-EINVAL, "%s[%zu].%s: %s", arr, i, key, what);
}

static int need_int(json_t *obj, const char *arr, size_t i, const char *key, int64_t *out)
{
	switch (get_int(obj, key, out)) {
	case GET_OK:
		return 0;
	case GET_MISSING:
		return bad(arr, i, key, "missing");
	default:
		return bad(arr, i, key, "expected an integer");
	}
}

static int need_str(json_t *obj, const char *arr, size_t i, const char *key, const char **out)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return bad(arr, i, key, "missing");
	if (!json_is_string(v) || json_string_length(v) == 0)
		return bad(arr, i, key, "expected a non-empty string");
	*out = json_string_value(v);
	return 0;
}

static int need_array(json_t *root, const char *key, json_t **out)
{
	json_t *v = json_object_get(root, key);

	if (!v)
		return err_set(-EINVAL, "%s: missing", key);
	if (!json_is_array(v))
		return err_set(-EINVAL, "%s: expected an array", key);
	*out = v;
	return 0;
}

static int need_object(json_t *arr, const char *name, size_t i, json_t **out)
{
	json_t *v = json_array_get(arr, i);

	if (!json_is_object(v))
		return err_set(-EINVAL, "%s[%zu]: expected an object", name, i);
	*out = v;
	return 0;
}

static int dup_check(struct id_index *ix, const void *arr, size_t elem, size_t id_off, size_t n,
		     const char *name)
{
	size_t dup, first;
	int64_t id;
	int error;

	if ((error = idx_build(ix, arr, elem, id_off, n, &dup, &first)) < 0)
		return error;
	if (dup == (size_t)-1)
		return 0;
	memcpy(&id, (const char *)arr + dup * elem + id_off, sizeof(id));
	return err_set(-EINVAL, "%s[%zu].id: duplicate id %" PRId64 " (also %s[%zu])", name, dup,
		       id, name, first);
}

static int parse_categories(struct coco *c, json_t *arr)
{
	size_t n = json_array_size(arr);
	int error;

	if (n && !(c->cats = calloc(n, sizeof(*c->cats))))
		return err_set(-ENOMEM, "coco: out of memory");
	c->priv->cap_cats = n;
	for (size_t i = 0; i < n; i++) {
		struct coco_category *cat = &c->cats[i];
		const char *name;
		json_t *o = NULL;

		if ((error = need_object(arr, "categories", i, &o)) < 0 ||
		    (error = need_int(o, "categories", i, "id", &cat->id)) < 0 ||
		    (error = need_str(o, "categories", i, "name", &name)) < 0)
			return error;
		if (!(cat->name = strdup(name)))
			return err_set(-ENOMEM, "coco: out of memory");
		c->n_cats++;
	}
	return dup_check(&c->priv->cats, c->cats, sizeof(*c->cats),
			 offsetof(struct coco_category, id), c->n_cats, "categories");
}

static int parse_images(struct coco *c, json_t *arr)
{
	size_t n = json_array_size(arr);
	int error;

	if (n && !(c->images = calloc(n, sizeof(*c->images))))
		return err_set(-ENOMEM, "coco: out of memory");
	c->priv->cap_images = n;
	for (size_t i = 0; i < n; i++) {
		struct coco_image *im = &c->images[i];
		const char *name;
		json_t *o = NULL;

		if ((error = need_object(arr, "images", i, &o)) < 0 ||
		    (error = need_int(o, "images", i, "id", &im->id)) < 0 ||
		    (error = need_str(o, "images", i, "file_name", &name)) < 0 ||
		    (error = need_int(o, "images", i, "width", &im->width)) < 0 ||
		    (error = need_int(o, "images", i, "height", &im->height)) < 0)
			return error;
		if (!(im->file_name = strdup(name)))
			return err_set(-ENOMEM, "coco: out of memory");
		c->n_images++;
	}
	return dup_check(&c->priv->images, c->images, sizeof(*c->images),
			 offsetof(struct coco_image, id), c->n_images, "images");
}

static int parse_annotations(struct coco *c, json_t *arr)
{
	size_t n = json_array_size(arr);
	int error;

	if (n && !(c->anns = calloc(n, sizeof(*c->anns))))
		return err_set(-ENOMEM, "coco: out of memory");
	c->priv->cap_anns = n;
	for (size_t i = 0; i < n; i++) {
		struct coco_ann *a = &c->anns[i];
		double v[4];
		json_t *o = NULL, *bb;

		if ((error = need_object(arr, "annotations", i, &o)) < 0 ||
		    (error = need_int(o, "annotations", i, "id", &a->id)) < 0 ||
		    (error = need_int(o, "annotations", i, "image_id", &a->image_id)) < 0 ||
		    (error = need_int(o, "annotations", i, "category_id", &a->category_id)) < 0)
			return error;
		if (!(bb = json_object_get(o, "bbox")))
			return bad("annotations", i, "bbox", "missing");
		if (!json_is_array(bb) || json_array_size(bb) != 4)
			return bad("annotations", i, "bbox", "expected 4 numbers");
		for (size_t k = 0; k < 4; k++) {
			json_t *e = json_array_get(bb, k);
			if (!json_is_number(e))
				return bad("annotations", i, "bbox", "expected 4 numbers");
			v[k] = json_number_value(e);
		}
		a->x = v[0];
		a->y = v[1];
		a->w = v[2];
		a->h = v[3];
		c->n_anns++;
	}
	return 0;
}

int coco_parse(struct coco *out, const char *json, size_t len)
{
	struct coco c = COCO_INIT;
	json_error_t jerr;
	json_t *root, *cats, *images, *anns;
	int error;

	*out = (struct coco)COCO_INIT;
	/*
	 * DECODE_ANY so that "[...]" or "42" parses and gets our own message
	 * instead of jansson's less helpful one.
	 */
	if (!(root = json_loadb(json, len, JSON_DECODE_ANY, &jerr)))
		return err_set(-EINVAL, "invalid JSON at line %d, column %d: %s", jerr.line,
			       jerr.column, jerr.text);
	if (!json_is_object(root)) {
		error = err_set(-EINVAL, "top level: expected an object");
		goto done;
	}
	if ((error = need_array(root, "categories", &cats)) < 0 ||
	    (error = need_array(root, "images", &images)) < 0 ||
	    (error = need_array(root, "annotations", &anns)) < 0)
		goto done;
	if (!(c.priv = calloc(1, sizeof(*c.priv)))) {
		error = err_set(-ENOMEM, "coco: out of memory");
		goto done;
	}
	if ((error = parse_categories(&c, cats)) < 0 || (error = parse_images(&c, images)) < 0 ||
	    (error = parse_annotations(&c, anns)) < 0)
		goto done;
	*out = c;
	c = (struct coco)COCO_INIT;
done:
	coco_release(&c);
	json_decref(root);
	return error;
}

int coco_load_file(struct coco *out, const char *path)
{
	struct buf b = BUF_INIT;
	char msg[768];
	int error;

	*out = (struct coco)COCO_INIT;
	if ((error = fs_read_file(&b, path)) < 0)
		goto done;
	if ((error = coco_parse(out, b.ptr, b.len)) < 0) {
		/* err_last() points into the slot err_set() writes: copy it first. */
		snprintf(msg, sizeof(msg), "%s", err_last());
		err_set(error, "%s: %s", path, msg);
	}
done:
	buf_release(&b);
	return error;
}

/* ---- writing ---------------------------------------------------------- */

/*
 * The shortest of %.15g/%.16g/%.17g that reads back as `v`, with a decimal
 * point (CVAT writes floats as 10.0).  Integral values below 2^53 take a
 * fast path: the generator's boxes are all integers.  `out` >= 40 bytes.
 */
static void fmt_double(char *out, size_t outsz, double v)
{
	char *e;

	if (fabs(v) < 9007199254740992.0 && v == (double)(int64_t)v && !(v == 0 && signbit(v))) {
		snprintf(out, outsz, "%" PRId64 ".0", (int64_t)v);
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(out, outsz, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			break;
	}
	if (strchr(out, '.'))
		return;
	if ((e = strchr(out, 'e'))) {
		size_t tail = strlen(e);
		memmove(e + 2, e, tail + 1);
		e[0] = '.';
		e[1] = '0';
	} else {
		strcat(out, ".0");
	}
}

static int put_str(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;
	int error = 0;

	if ((error = buf_put(b, "\"", 1)) < 0)
		return error;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		char esc[6];
		size_t n = 2;

		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		if ((error = buf_put(b, run, (size_t)(s - run))) < 0)
			return error;
		run = s + 1;
		esc[0] = '\\';
		switch (ch) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[ch >> 4];
			esc[5] = hex[ch & 15];
			n = 6;
		}
		if ((error = buf_put(b, esc, n)) < 0)
			return error;
	}
	if ((error = buf_put(b, run, (size_t)(s - run))) < 0)
		return error;
	return buf_put(b, "\"", 1);
}

static int write_ann(struct buf *b, const struct coco_ann *a, size_t i)
{
	const double v[5] = { a->w * a->h, a->x, a->y, a->w, a->h };
	char num[5][40];

	for (int k = 0; k < 5; k++) {
		if (!isfinite(v[k]))
			return err_set(-EINVAL, "annotations[%zu].bbox: not a finite number", i);
		fmt_double(num[k], sizeof(num[k]), v[k]);
	}
	return buf_printf(b,
			  "{\"id\":%" PRId64 ",\"image_id\":%" PRId64 ",\"category_id\":%" PRId64
			  ",\"segmentation\":[],\"area\":%s,\"bbox\":[%s,%s,%s,%s],\"iscrowd\":0,"
			  "\"attributes\":{\"occluded\":false,\"rotation\":0.0}}",
			  a->id, a->image_id, a->category_id, num[0], num[1], num[2], num[3],
			  num[4]);
}

int coco_write(struct buf *out, const struct coco *c)
{
	int error;

	/* ~200 bytes per annotation and image: one allocation for big files. */
	if ((error = buf_grow(out, 512 + (c->n_anns + c->n_images) * 200 + c->n_cats * 64)) < 0 ||
	    (error = buf_puts(out,
			      "{\"licenses\":[{\"name\":\"\",\"id\":0,\"url\":\"\"}],\n"
			      "\"info\":{\"contributor\":\"\",\"date_created\":\"\",\"description\":"
			      "\"\",\"url\":\"\",\"version\":\"\",\"year\":\"\"},\n"
			      "\"categories\":[")) < 0)
		return error;
	for (size_t i = 0; i < c->n_cats; i++) {
		if ((error = buf_printf(out, "%s\n{\"id\":%" PRId64 ",\"name\":", i ? "," : "",
					c->cats[i].id)) < 0 ||
		    (error = put_str(out, c->cats[i].name)) < 0 ||
		    (error = buf_puts(out, ",\"supercategory\":\"\"}")) < 0)
			return error;
	}
	if ((error = buf_puts(out, "],\n\"images\":[")) < 0)
		return error;
	for (size_t i = 0; i < c->n_images; i++) {
		const struct coco_image *im = &c->images[i];

		if ((error = buf_printf(out,
					"%s\n{\"id\":%" PRId64 ",\"width\":%" PRId64
					",\"height\":%" PRId64 ",\"file_name\":",
					i ? "," : "", im->id, im->width, im->height)) < 0 ||
		    (error = put_str(out, im->file_name)) < 0 ||
		    (error = buf_puts(out, ",\"license\":0,\"flickr_url\":\"\",\"coco_url\":\"\","
					   "\"date_captured\":0}")) < 0)
			return error;
	}
	if ((error = buf_puts(out, "],\n\"annotations\":[")) < 0)
		return error;
	for (size_t i = 0; i < c->n_anns; i++) {
		if ((error = buf_puts(out, i ? ",\n" : "\n")) < 0 ||
		    (error = write_ann(out, &c->anns[i], i)) < 0)
			return error;
	}
	return buf_puts(out, "]}\n");
}
