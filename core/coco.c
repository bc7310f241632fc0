/*
 * COCO 1.0 instances files in CVAT's layout (see coco.h and
 * shared/api/CVAT.md sec. 7).
 *
 * Parsing: a small JSON reader of our own builds a tree of only the keys
 * COCO needs (see "a small read-only JSON tree" below for why not jansson's
 * tree: 0.23 s instead of 1.8 s for 100k annotations); jansson parses
 * whenever that reader is unsure, which includes every syntax error, so
 * messages about bad JSON are jansson's.  The tree is walked once and
 * copied into flat arrays.  Every structural check names the JSON path of
 * the offending value, because the user fixing a hand-edited or
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
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/array.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/utf8.h"

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
	return need ? array_grow((void **)&ix->ents, &ix->cap, need - 1, sizeof(*ix->ents)) : 0;
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

/* ---- building --------------------------------------------------------- */

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
	if ((error = array_grow((void **)&c->cats, &p->cap_cats, c->n_cats, sizeof(*c->cats))) < 0 ||
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
	if ((error = array_grow((void **)&c->images, &p->cap_images, c->n_images,
				sizeof(*c->images))) < 0 ||
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
	    (error = array_grow((void **)&c->anns, &p->cap_anns, c->n_anns, sizeof(*c->anns))) < 0)
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

/* ---- a small read-only JSON tree -------------------------------------- */

/*
 * jansson spends most of a large file's load time in malloc (a hashtable
 * per object, a node per value): 1.8 s for 100k annotations here.  So the
 * common case goes through a minimal reader instead: values in an arena,
 * strings pointing into the input when they have no escapes, objects as
 * arrays of (key, value) pairs searched linearly (COCO objects have ~10
 * keys).  It accepts exactly strict JSON as jansson does; whenever it is
 * not sure (any syntax error, very long numbers, surrogate escapes, a
 * locale whose decimal point is not '.') it gives up and jansson parses the
 * input instead: jansson's message is what the user sees for bad JSON, and
 * jansson's tree, converted, is what gets validated in the odd cases.  The
 * structural checks below therefore exist once, on this tree.
 */

enum { JV_NULL, JV_FALSE, JV_TRUE, JV_INT, JV_REAL, JV_STR, JV_ARR, JV_OBJ };

struct jv {
	int type;
	size_t n; /* string length; array items; object pairs */
	union {
		int64_t i;
		double d;
		const char *s;     /* n bytes, not NUL-terminated, no NUL inside */
		struct jv *items;  /* array: n values; object: 2n (key, value) */
	} u;
};

struct arena_blk {
	struct arena_blk *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

struct arena {
	struct arena_blk *head;
	size_t next_cap; /* 4 KiB doubling to 1 MiB: small files stay small */
};

static void *arena_alloc(struct arena *a, size_t size)
{
	struct arena_blk *b = a->head;

	size = (size + 15) & ~(size_t)15;
	if (!b || b->cap - b->used < size) {
		size_t cap = a->next_cap < 4096 ? 4096 : a->next_cap;
		if (cap < ((size_t)1 << 20))
			a->next_cap = 2 * cap;
		if (cap < size)
			cap = size;
		if (!(b = malloc(sizeof(*b) + cap)))
			return NULL;
		b->next = a->head;
		b->used = 0;
		b->cap = cap;
		a->head = b;
	}
	b->used += size;
	return b->data + b->used - size;
}

static void arena_release(struct arena *a)
{
	while (a->head) {
		struct arena_blk *next = a->head->next;
		free(a->head);
		a->head = next;
	}
}

#define JP_MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH */

enum { JP_UNSURE = 1 }; /* parse result: let jansson decide */

struct jp {
	const unsigned char *p, *end;
	struct arena *arena;
	struct jv *stack; /* children of the open arrays/objects */
	size_t sp, cap;
	int depth;
	int skip;         /* > 0 inside a value nobody reads: check it, keep nothing */
};

/*
 * The only keys coco_parse() reads.  Values of other keys (segmentation,
 * attributes, area, licenses, ...) are checked for syntax but not stored,
 * which halves the tree of a CVAT file.
 */
static const char *const wanted_keys[] = {
	"categories", "images", "annotations", "id", "name", "file_name", "width", "height",
	"image_id", "category_id", "bbox", NULL
};

static int wanted(const struct jv *key)
{
	for (const char *const *k = wanted_keys; *k; k++)
		if (strlen(*k) == key->n && !memcmp(*k, key->u.s, key->n))
			return 1;
	return 0;
}

static void jp_ws(struct jp *jp)
{
	while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\n' || *jp->p == '\r' || *jp->p == '\t'))
		jp->p++;
}

static int jp_push(struct jp *jp, const struct jv *v)
{
	if (array_grow((void **)&jp->stack, &jp->cap, jp->sp, sizeof(*jp->stack)) < 0)
		return -ENOMEM;
	jp->stack[jp->sp++] = *v;
	return 0;
}

static int hex4(const unsigned char *p, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++) {
		unsigned c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	*out = v;
	return 0;
}

static int jp_string(struct jp *jp, struct jv *out)
{
	const unsigned char *start = ++jp->p, *q = start;
	unsigned char *dst = NULL;
	size_t dn = 0;
	int escapes = 0;

	for (;;) {
		size_t n;

		if (q >= jp->end)
			return JP_UNSURE;
		if (*q == '"')
			break;
		if (*q == '\\') {
			escapes = 1;
			if (++q >= jp->end)
				return JP_UNSURE;
			q++;
		} else if (*q < 0x20) {
			return JP_UNSURE;
		} else if (*q < 0x80) {
			q++;
		} else if ((n = utf8_seq(q, jp->end))) {
			q += n;
		} else {
			return JP_UNSURE;
		}
	}
	jp->p = q + 1;
	out->type = JV_STR;
	if (!escapes) {
		out->u.s = (const char *)start;
		out->n = (size_t)(q - start);
		return 0;
	}
	/*
	 * Decoding never grows the text: \uXXXX (6 bytes) is at most 3.  When
	 * skipping, the loop only checks the escapes (d counts, writes nothing).
	 */
	if (!jp->skip && !(dst = arena_alloc(jp->arena, (size_t)(q - start))))
		return -ENOMEM;
	for (const unsigned char *s = start; s < q;) {
		uint32_t cp;
		unsigned char u8[3];
		size_t n;

		if (*s != '\\') {
			if (dst)
				dst[dn] = *s;
			dn++;
			s++;
			continue;
		}
		n = 1;
		switch (s[1]) {
		case '"': u8[0] = '"'; break;
		case '\\': u8[0] = '\\'; break;
		case '/': u8[0] = '/'; break;
		case 'b': u8[0] = '\b'; break;
		case 'f': u8[0] = '\f'; break;
		case 'n': u8[0] = '\n'; break;
		case 'r': u8[0] = '\r'; break;
		case 't': u8[0] = '\t'; break;
		case 'u':
			/* NUL and surrogates (paired or not): jansson's call. */
			if (q - s < 6 || hex4(s + 2, &cp) < 0 || cp == 0 ||
			    (cp >= 0xd800 && cp <= 0xdfff))
				return JP_UNSURE;
			if (cp < 0x80) {
				u8[0] = (unsigned char)cp;
			} else if (cp < 0x800) {
				u8[0] = (unsigned char)(0xc0 | cp >> 6);
				u8[1] = (unsigned char)(0x80 | (cp & 0x3f));
				n = 2;
			} else {
				u8[0] = (unsigned char)(0xe0 | cp >> 12);
				u8[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
				u8[2] = (unsigned char)(0x80 | (cp & 0x3f));
				n = 3;
			}
			s += 4;
			break;
		default:
			return JP_UNSURE;
		}
		if (dst)
			memcpy(dst + dn, u8, n);
		dn += n;
		s += 2;
	}
	out->u.s = (const char *)dst;
	out->n = dn;
	return 0;
}

static int is_digit(const unsigned char *p, const unsigned char *end)
{
	return p < end && *p >= '0' && *p <= '9';
}

/* jansson's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int jp_number(struct jp *jp, struct jv *out)
{
	const unsigned char *s = jp->p, *q = s, *end = jp->end;
	char tmp[64];
	int real = 0;

	if (q < end && *q == '-')
		q++;
	if (!is_digit(q, end))
		return JP_UNSURE;
	if (*q++ == '0') {
		if (is_digit(q, end))
			return JP_UNSURE;
	} else {
		while (is_digit(q, end))
			q++;
	}
	if (q < end && *q == '.') {
		real = 1;
		if (!is_digit(++q, end))
			return JP_UNSURE;
		while (is_digit(q, end))
			q++;
	}
	if (q < end && (*q == 'e' || *q == 'E')) {
		real = 1;
		q++;
		if (q < end && (*q == '+' || *q == '-'))
			q++;
		if (!is_digit(q, end))
			return JP_UNSURE;
		while (is_digit(q, end))
			q++;
	}
	if ((size_t)(q - s) >= sizeof(tmp))
		return JP_UNSURE;
	memcpy(tmp, s, (size_t)(q - s));
	tmp[q - s] = '\0';
	errno = 0;
	if (!real) {
		long long v = strtoll(tmp, NULL, 10);
		if (errno)
			return JP_UNSURE; /* "too big integer" */
		out->type = JV_INT;
		out->u.i = v;
	} else {
		double d = strtod(tmp, NULL);
		if ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE)
			return JP_UNSURE; /* "real number overflow" */
		out->type = JV_REAL;
		out->u.d = d;
	}
	jp->p = q;
	return 0;
}

static int jp_literal(struct jp *jp, const char *word, int type, struct jv *out)
{
	size_t n = strlen(word);

	if ((size_t)(jp->end - jp->p) < n || memcmp(jp->p, word, n))
		return JP_UNSURE;
	jp->p += n;
	out->type = type;
	return 0;
}

static int jp_value(struct jp *jp, struct jv *out);

/*
 * An array or object: children go on the stack, then into one arena block.
 * Pairs whose key is not wanted are parsed with jp->skip raised and dropped.
 */
static int jp_container(struct jp *jp, struct jv *out)
{
	int obj = *jp->p == '{', keep = !jp->skip, error;
	size_t base = jp->sp, n;
	struct jv v, key;

	jp->p++;
	jp_ws(jp);
	if (jp->p < jp->end && *jp->p == (obj ? '}' : ']')) {
		jp->p++;
	} else {
		for (;;) {
			int drop = 0;

			if (obj) {
				if (jp->p >= jp->end || *jp->p != '"')
					return JP_UNSURE;
				if ((error = jp_string(jp, &key)))
					return error;
				drop = keep && !wanted(&key);
				if (keep && !drop && (error = jp_push(jp, &key)))
					return error;
				jp_ws(jp);
				if (jp->p >= jp->end || *jp->p != ':')
					return JP_UNSURE;
				jp->p++;
				jp_ws(jp);
			}
			jp->skip += drop;
			error = jp_value(jp, &v);
			jp->skip -= drop;
			if (error || (keep && !drop && (error = jp_push(jp, &v))))
				return error;
			jp_ws(jp);
			if (jp->p < jp->end && *jp->p == ',') {
				jp->p++;
				jp_ws(jp);
				continue;
			}
			if (jp->p < jp->end && *jp->p == (obj ? '}' : ']')) {
				jp->p++;
				break;
			}
			return JP_UNSURE;
		}
	}
	n = jp->sp - base;
	out->type = obj ? JV_OBJ : JV_ARR;
	out->n = obj ? n / 2 : n;
	out->u.items = NULL;
	if (keep && n) {
		if (!(out->u.items = arena_alloc(jp->arena, n * sizeof(struct jv))))
			return -ENOMEM;
		memcpy(out->u.items, jp->stack + base, n * sizeof(struct jv));
	}
	jp->sp = base;
	return 0;
}

static int jp_value(struct jp *jp, struct jv *out)
{
	int error;

	/* jansson counts every value, scalars included, against its limit. */
	if (jp->p >= jp->end || ++jp->depth > JP_MAX_DEPTH)
		return JP_UNSURE;
	switch (*jp->p) {
	case '{':
	case '[':
		error = jp_container(jp, out);
		break;
	case '"':
		error = jp_string(jp, out);
		break;
	case 't':
		error = jp_literal(jp, "true", JV_TRUE, out);
		break;
	case 'f':
		error = jp_literal(jp, "false", JV_FALSE, out);
		break;
	case 'n':
		error = jp_literal(jp, "null", JV_NULL, out);
		break;
	default:
		error = jp_number(jp, out);
		break;
	}
	jp->depth--;
	return error;
}

/* 0, JP_UNSURE (not strict JSON, or a case left to jansson), or -ENOMEM. */
static int jv_parse_fast(struct arena *a, const char *json, size_t len, struct jv *out)
{
	struct jp jp = { (const unsigned char *)json, (const unsigned char *)json + len, a,
			 NULL, 0, 0, 0, 0 };
	int error;

	/* strtod() follows the locale; jansson works around that, we defer. */
	if (localeconv()->decimal_point[0] != '.' || localeconv()->decimal_point[1])
		return JP_UNSURE;
	jp_ws(&jp);
	if (!(error = jp_value(&jp, out))) {
		jp_ws(&jp);
		if (jp.p != jp.end)
			error = JP_UNSURE;
	}
	free(jp.stack);
	return error;
}

/* Copy jansson's tree into a jv tree in `a`. */
static int jv_from_jansson(struct arena *a, json_t *j, struct jv *out)
{
	size_t i = 0;
	const char *key;
	json_t *v;
	int error;

	memset(out, 0, sizeof(*out));
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		out->type = JV_OBJ;
		out->n = json_object_size(j);
		if (out->n && !(out->u.items = arena_alloc(a, 2 * out->n * sizeof(struct jv))))
			return -ENOMEM;
		json_object_foreach(j, key, v) {
			struct jv *k = &out->u.items[2 * i];
			k->type = JV_STR;
			k->u.s = key;
			k->n = strlen(key);
			if ((error = jv_from_jansson(a, v, k + 1)) < 0)
				return error;
			i++;
		}
		return 0;
	case JSON_ARRAY:
		out->type = JV_ARR;
		out->n = json_array_size(j);
		if (out->n && !(out->u.items = arena_alloc(a, out->n * sizeof(struct jv))))
			return -ENOMEM;
		json_array_foreach(j, i, v)
			if ((error = jv_from_jansson(a, v, &out->u.items[i])) < 0)
				return error;
		return 0;
	case JSON_STRING:
		out->type = JV_STR;
		out->u.s = json_string_value(j);
		out->n = json_string_length(j);
		return 0;
	case JSON_INTEGER:
		out->type = JV_INT;
		out->u.i = (int64_t)json_integer_value(j);
		return 0;
	case JSON_REAL:
		out->type = JV_REAL;
		out->u.d = json_real_value(j);
		return 0;
	case JSON_TRUE:
		out->type = JV_TRUE;
		return 0;
	case JSON_FALSE:
		out->type = JV_FALSE;
		return 0;
	default:
		out->type = JV_NULL;
		return 0;
	}
}

/* The value of `key` in object `o` (the last one if repeated, as jansson), or NULL. */
static const struct jv *jv_get(const struct jv *o, const char *key)
{
	size_t n = strlen(key);

	for (size_t i = o->n; i-- > 0;) {
		const struct jv *k = &o->u.items[2 * i];
		if (k->n == n && !memcmp(k->u.s, key, n))
			return k + 1;
	}
	return NULL;
}

/* ---- parsing ---------------------------------------------------------- */

enum { GET_OK, GET_MISSING, GET_WRONG };

/*
 * An integer field.  CVAT writes ids and sizes as JSON ints, but other tools
 * (and Python's json for numpy values) may write 3.0; an integral float in
 * int64 range is accepted.
 */
static int get_int(const struct jv *obj, const char *key, int64_t *out)
{
	const struct jv *v = jv_get(obj, key);
	double d;

	if (!v)
		return GET_MISSING;
	if (v->type == JV_INT) {
		*out = v->u.i;
		return GET_OK;
	}
	if (v->type != JV_REAL)
		return GET_WRONG;
	d = v->u.d;
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

static int need_int(const struct jv *obj, const char *arr, size_t i, const char *key,
		    int64_t *out)
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

/* A copy of string field `key` (caller frees). */
static int need_str(const struct jv *obj, const char *arr, size_t i, const char *key, char **out)
{
	const struct jv *v = jv_get(obj, key);

	if (!v)
		return bad(arr, i, key, "missing");
	if (v->type != JV_STR || v->n == 0)
		return bad(arr, i, key, "expected a non-empty string");
	if (!(*out = strndup(v->u.s, v->n)))
		return err_set(-ENOMEM, "coco: out of memory");
	return 0;
}

static int need_array(const struct jv *root, const char *key, const struct jv **out)
{
	const struct jv *v = jv_get(root, key);

	if (!v)
		return err_set(-EINVAL, "%s: missing", key);
	if (v->type != JV_ARR)
		return err_set(-EINVAL, "%s: expected an array", key);
	*out = v;
	return 0;
}

static int need_object(const struct jv *arr, const char *name, size_t i, const struct jv **out)
{
	const struct jv *v = &arr->u.items[i];

	if (v->type != JV_OBJ)
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

static int parse_categories(struct coco *c, const struct jv *arr)
{
	size_t n = arr->n;
	int error;

	if (n && !(c->cats = calloc(n, sizeof(*c->cats))))
		return err_set(-ENOMEM, "coco: out of memory");
	c->priv->cap_cats = n;
	for (size_t i = 0; i < n; i++) {
		struct coco_category *cat = &c->cats[i];
		const struct jv *o = NULL;

		if ((error = need_object(arr, "categories", i, &o)) < 0 ||
		    (error = need_int(o, "categories", i, "id", &cat->id)) < 0 ||
		    (error = need_str(o, "categories", i, "name", &cat->name)) < 0)
			return error;
		c->n_cats++;
	}
	return dup_check(&c->priv->cats, c->cats, sizeof(*c->cats),
			 offsetof(struct coco_category, id), c->n_cats, "categories");
}

static int parse_images(struct coco *c, const struct jv *arr)
{
	size_t n = arr->n;
	int error;

	if (n && !(c->images = calloc(n, sizeof(*c->images))))
		return err_set(-ENOMEM, "coco: out of memory");
	c->priv->cap_images = n;
	for (size_t i = 0; i < n; i++) {
		struct coco_image *im = &c->images[i];
		const struct jv *o = NULL;

		/* n_images counts the entries whose file_name is ours to free. */
		if ((error = need_object(arr, "images", i, &o)) < 0 ||
		    (error = need_int(o, "images", i, "id", &im->id)) < 0 ||
		    (error = need_str(o, "images", i, "file_name", &im->file_name)) < 0)
			return error;
		c->n_images++;
		if ((error = need_int(o, "images", i, "width", &im->width)) < 0 ||
		    (error = need_int(o, "images", i, "height", &im->height)) < 0)
			return error;
	}
	return dup_check(&c->priv->images, c->images, sizeof(*c->images),
			 offsetof(struct coco_image, id), c->n_images, "images");
}

static int parse_annotations(struct coco *c, const struct jv *arr)
{
	size_t n = arr->n;
	int error;

	if (n && !(c->anns = calloc(n, sizeof(*c->anns))))
		return err_set(-ENOMEM, "coco: out of memory");
	c->priv->cap_anns = n;
	for (size_t i = 0; i < n; i++) {
		struct coco_ann *a = &c->anns[i];
		const struct jv *o = NULL, *bb;
		double v[4];

		if ((error = need_object(arr, "annotations", i, &o)) < 0 ||
		    (error = need_int(o, "annotations", i, "id", &a->id)) < 0 ||
		    (error = need_int(o, "annotations", i, "image_id", &a->image_id)) < 0 ||
		    (error = need_int(o, "annotations", i, "category_id", &a->category_id)) < 0)
			return error;
		if (!(bb = jv_get(o, "bbox")))
			return bad("annotations", i, "bbox", "missing");
		if (bb->type != JV_ARR || bb->n != 4)
			return bad("annotations", i, "bbox", "expected 4 numbers");
		for (size_t k = 0; k < 4; k++) {
			const struct jv *e = &bb->u.items[k];
			if (e->type == JV_INT)
				v[k] = (double)e->u.i;
			else if (e->type == JV_REAL)
				v[k] = e->u.d;
			else
				return bad("annotations", i, "bbox", "expected 4 numbers");
		}
		a->x = v[0];
		a->y = v[1];
		a->w = v[2];
		a->h = v[3];
		c->n_anns++;
	}
	return 0;
}

static int parse_tree(struct coco *out, const struct jv *root)
{
	struct coco c = COCO_INIT;
	const struct jv *cats, *images, *anns;
	int error;

	if (root->type != JV_OBJ)
		return err_set(-EINVAL, "top level: expected an object");
	if ((error = need_array(root, "categories", &cats)) < 0 ||
	    (error = need_array(root, "images", &images)) < 0 ||
	    (error = need_array(root, "annotations", &anns)) < 0)
		return error;
	if (!(c.priv = calloc(1, sizeof(*c.priv))))
		return err_set(-ENOMEM, "coco: out of memory");
	if ((error = parse_categories(&c, cats)) < 0 || (error = parse_images(&c, images)) < 0 ||
	    (error = parse_annotations(&c, anns)) < 0) {
		coco_release(&c);
		return error;
	}
	*out = c;
	return 0;
}

int coco__parse_mode(struct coco *out, const char *json, size_t len, int mode)
{
	struct arena arena = { NULL, 0 };
	json_t *root = NULL;
	json_error_t jerr;
	struct jv tree;
	int error = JP_UNSURE;

	*out = (struct coco)COCO_INIT;
	if (mode != COCO__JANSSON && (error = jv_parse_fast(&arena, json, len, &tree)) < 0) {
		error = err_set(error, "coco: out of memory");
		goto done;
	}
	if (error == JP_UNSURE) {
		if (mode == COCO__FAST) {
			error = err_set(-EAGAIN, "coco: left to jansson");
			goto done;
		}
		arena_release(&arena);
		/*
		 * DECODE_ANY so that "[...]" or "42" parses and gets our own
		 * message instead of jansson's less helpful one.
		 */
		if (!(root = json_loadb(json, len, JSON_DECODE_ANY, &jerr))) {
			error = err_set(-EINVAL, "invalid JSON at line %d, column %d: %s",
					jerr.line, jerr.column, jerr.text);
			goto done;
		}
		if ((error = jv_from_jansson(&arena, root, &tree)) < 0) {
			error = err_set(error, "coco: out of memory");
			goto done;
		}
	}
	error = parse_tree(out, &tree);
done:
	json_decref(root);
	arena_release(&arena);
	return error;
}

int coco_parse(struct coco *out, const char *json, size_t len)
{
	return coco__parse_mode(out, json, len, COCO__AUTO);
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

static char *put_u64(char *p, uint64_t v)
{
	char t[20];
	int n = 0;

	do
		t[n++] = (char)('0' + v % 10);
	while (v /= 10);
	while (n)
		*p++ = t[--n];
	return p;
}

static char *put_i64(char *p, int64_t v)
{
	if (v < 0) {
		*p++ = '-';
		return put_u64(p, 0 - (uint64_t)v);
	}
	return put_u64(p, (uint64_t)v);
}

static char *put_lit(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

/*
 * The shortest of %.15g/%.16g/%.17g that reads back as `v` (finite), with a
 * decimal point (CVAT writes floats as 10.0).  Integral values below 2^53
 * take a fast path: the generator's boxes are all integers.  Writes at most
 * 32 bytes at p; returns the end.
 */
static char *put_double(char *p, double v)
{
	char tmp[40], *e;
	size_t n;

	if (fabs(v) < 9007199254740992.0 && v == (double)(int64_t)v && !(v == 0 && signbit(v)))
		return put_lit(put_i64(p, (int64_t)v), ".0");
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	if (!strchr(tmp, '.')) {
		if ((e = strchr(tmp, 'e'))) { /* 1e+20 -> 1.0e+20 */
			memmove(e + 2, e, strlen(e) + 1);
			e[0] = '.';
			e[1] = '0';
		} else {
			strcat(tmp, ".0");
		}
	}
	n = strlen(tmp);
	memcpy(p, tmp, n);
	return p + n;
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
	char line[512], *p = line; /* 3 ids <= 60, 5 numbers <= 160, text < 200 */

	for (int k = 4; k >= 0; k--)
		if (!isfinite(v[k]))
			return err_set(-EINVAL, k ? "annotations[%zu].bbox: not a finite number"
						  : "annotations[%zu].area: w*h overflows a double",
				       i);
	p = put_i64(put_lit(p, "{\"id\":"), a->id);
	p = put_i64(put_lit(p, ",\"image_id\":"), a->image_id);
	p = put_i64(put_lit(p, ",\"category_id\":"), a->category_id);
	p = put_double(put_lit(p, ",\"segmentation\":[],\"area\":"), v[0]);
	p = put_double(put_lit(p, ",\"bbox\":["), v[1]);
	for (int k = 2; k < 5; k++)
		p = put_double(put_lit(p, ","), v[k]);
	p = put_lit(p, "],\"iscrowd\":0,\"attributes\":{\"occluded\":false,\"rotation\":0.0}}");
	return buf_put(b, line, (size_t)(p - line));
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
