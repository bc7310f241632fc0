/*
 * The export index (see export.h) and the generators of its files.
 *
 * Layout: export_build() sorts the image array it was given by (split,
 * image id), so each split is one contiguous, id-ordered run of the same
 * array: train is images[0 .. n_train), val is images[n_train .. n).  That
 * gives export_image_at() in O(1) and export_find() as a binary search
 * without a second allocation, and it fixes the order every generator walks
 * in, which is what makes the output byte-identical for equal inputs no
 * matter in which order the catalog handed the images over.  The boxes are
 * left where they are; images point into them by range.
 *
 * Formats are those the consumers read, not ours to vary:
 *  - labels: Ultralytics YOLO txt, "class cx cy w h" normalized to [0,1]
 *    with 6 decimals, one line per box, an empty file for a negative;
 *  - dataset.yaml: Ultralytics' dataset file (path/train/val/nc/names);
 *    strings that YAML 1.1 (PyYAML, which Ultralytics uses) would read as
 *    something else are double-quoted;
 *  - COCO: CVAT's layout, the exact bytes coco_write() would produce (so
 *    it parses back with coco_parse()), written here without building a
 *    struct coco because 100k images must take well under a second.
 * No generator writes a timestamp or anything else not in the index.
 */
#include "core/export.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/utf8.h"
#include "util/yamlstr.h"

struct export {
	struct export_params params; /* strings point at the copies below */
	char *label_set, *version, *root;
	char **classes;
	size_t n_classes;
	struct export_image *images; /* sorted by (split, id); see top */
	size_t n_images;
	size_t n_split[2];           /* images per split */
	struct export_ann *anns;
	size_t n_anns;
};

/* ---- split ------------------------------------------------------------ */

/*
 * The top 53 bits of the hash as a double in [0, 1): exact (no rounding),
 * so the split of an id is the same on every machine.  Only the id and the
 * seed enter, so adding or removing other images never moves an image.
 */
enum export_split export_split_of(const char *image_id, uint64_t seed, double split)
{
	uint64_t h = XXH64(image_id, strlen(image_id), seed);
	double u = (double)(h >> 11) * 0x1p-53;

	return u < split ? EXPORT_TRAIN : EXPORT_VAL;
}

const char *export_split_name(enum export_split split)
{
	return split == EXPORT_TRAIN ? "train" : "val";
}

int export_split_parse(enum export_split *out, const char *name)
{
	if (!strcmp(name, "train"))
		*out = EXPORT_TRAIN;
	else if (!strcmp(name, "val"))
		*out = EXPORT_VAL;
	else
		return -ENOENT;
	return 0;
}

/* ---- build ------------------------------------------------------------ */

static int id_valid(const char *id)
{
	size_t i;

	for (i = 0; i < 33 && id[i]; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return i == 32;
}

static int ext_valid(const char *ext)
{
	size_t i;

	for (i = 0; i < 8 && ext[i]; i++)
		if (!((ext[i] >= '0' && ext[i] <= '9') || (ext[i] >= 'a' && ext[i] <= 'z')))
			return 0;
	return i > 0 && i < 8;
}

static int cmp_image(const void *a, const void *b)
{
	const struct export_image *x = a, *y = b;

	if (x->split != y->split)
		return x->split < y->split ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* Everything export_build() checks about one image and its boxes. */
static int check_image(const struct export_image *im, size_t i, size_t n_classes,
		       const struct export_ann *anns, size_t n_anns)
{
	if (!id_valid(im->id))
		return err_set(-EINVAL, "export: image %zu: id is not 32 lowercase hex digits", i);
	if (!ext_valid(im->ext))
		return err_set(-EINVAL, "export: image %s: bad extension", im->id);
	if (im->width <= 0 || im->height <= 0)
		return err_set(-EINVAL, "export: image %s: size %" PRId64 "x%" PRId64
				" (boxes cannot be normalized)", im->id, im->width, im->height);
	if ((uint64_t)im->first_ann + im->n_anns > n_anns)
		return err_set(-EINVAL, "export: image %s: boxes [%" PRIu32 ", +%" PRIu32
				") out of range (%zu boxes)", im->id, im->first_ann, im->n_anns,
				n_anns);
	for (uint32_t k = 0; k < im->n_anns; k++) {
		const struct export_ann *a = &anns[im->first_ann + k];

		if (a->class_id >= n_classes)
			return err_set(-EINVAL, "export: image %s: box %" PRIu32 ": class id %" PRIu32
					" out of range (%zu classes)", im->id, k, a->class_id,
					n_classes);
		if (!isfinite(a->x_min) || !isfinite(a->y_min) || !isfinite(a->x_max) ||
		    !isfinite(a->y_max))
			return err_set(-EINVAL, "export: image %s: box %" PRIu32
					": not a finite number", im->id, k);
	}
	return 0;
}

static char *dup_or_null(const char *s, int *error)
{
	char *d = strdup(s);

	if (!d)
		*error = -ENOMEM;
	return d;
}

int export_build(struct export **out, const struct export_params *params,
		 const char *const *classes, size_t n_classes,
		 struct export_image *images, size_t n_images,
		 struct export_ann *anns, size_t n_anns)
{
	struct export *ex = NULL;
	double split = params->split == 0 ? EXPORT_SPLIT_DEFAULT : params->split;
	int error = 0;

	*out = NULL;
	if (!params->label_set || !*params->label_set || !params->root || params->root[0] != '/') {
		error = err_set(-EINVAL, "export: label set and absolute root are required");
		goto fail;
	}
	if (!(split > 0 && split <= 1)) {
		error = err_set(-EINVAL, "export: split %g is not in (0, 1]", params->split);
		goto fail;
	}
	for (size_t c = 0; c < n_classes; c++) {
		if (!classes[c] || !*classes[c] || !utf8_valid(classes[c])) {
			error = err_set(-EINVAL, "export: class %zu: empty or not UTF-8", c);
			goto fail;
		}
	}
	if (!utf8_valid(params->label_set) || !utf8_valid(params->root) ||
	    (params->version && !utf8_valid(params->version))) {
		error = err_set(-EINVAL, "export: label set, version or root is not UTF-8");
		goto fail;
	}
	for (size_t i = 0; i < n_images; i++)
		if ((error = check_image(&images[i], i, n_classes, anns, n_anns)) < 0)
			goto fail;

	if (!(ex = calloc(1, sizeof(*ex))) ||
	    (n_classes && !(ex->classes = calloc(n_classes, sizeof(*ex->classes))))) {
		error = -ENOMEM;
		goto fail;
	}
	ex->images = images;
	ex->n_images = n_images;
	ex->anns = anns;
	ex->n_anns = n_anns;
	images = NULL;
	anns = NULL;
	ex->n_classes = n_classes;
	for (size_t c = 0; c < n_classes; c++)
		if (!(ex->classes[c] = dup_or_null(classes[c], &error)))
			goto fail;
	if (!(ex->label_set = dup_or_null(params->label_set, &error)) ||
	    !(ex->version = dup_or_null(params->version ? params->version : "working", &error)) ||
	    !(ex->root = dup_or_null(params->root, &error)))
		goto fail;
	ex->params.label_set = ex->label_set;
	ex->params.version = ex->version;
	ex->params.root = ex->root;
	ex->params.split = split;
	ex->params.seed = params->seed;

	for (size_t i = 0; i < n_images; i++) {
		struct export_image *im = &ex->images[i];

		im->split = (uint8_t)export_split_of(im->id, params->seed, split);
		ex->n_split[im->split]++;
	}
	if (n_images)
		qsort(ex->images, n_images, sizeof(*ex->images), cmp_image);
	/* Sorted, so a duplicate id (always in one split) is a neighbour. */
	for (size_t i = 1; i < n_images; i++) {
		if (!strcmp(ex->images[i - 1].id, ex->images[i].id)) {
			error = err_set(-EINVAL, "export: image %s listed twice", ex->images[i].id);
			goto fail;
		}
	}
	*out = ex;
	return 0;
fail:
	free(images);
	free(anns);
	export_free(ex);
	return error;
}

void export_free(struct export *ex)
{
	if (!ex)
		return;
	for (size_t c = 0; c < ex->n_classes && ex->classes; c++)
		free(ex->classes[c]);
	free(ex->classes);
	free(ex->images);
	free(ex->anns);
	free(ex->label_set);
	free(ex->version);
	free(ex->root);
	free(ex);
}

/* ---- accessors -------------------------------------------------------- */

static size_t split_base(const struct export *ex, enum export_split split)
{
	return split == EXPORT_TRAIN ? 0 : ex->n_split[EXPORT_TRAIN];
}

size_t export_count(const struct export *ex, enum export_split split)
{
	return split == EXPORT_TRAIN || split == EXPORT_VAL ? ex->n_split[split] : 0;
}

const struct export_image *export_image_at(const struct export *ex, enum export_split split,
					   size_t i)
{
	if (i >= export_count(ex, split))
		return NULL;
	return &ex->images[split_base(ex, split) + i];
}

const struct export_image *export_find(const struct export *ex, enum export_split split,
				       const char *image_id)
{
	size_t lo = 0, hi = export_count(ex, split);
	const struct export_image *base = ex->images + (hi ? split_base(ex, split) : 0);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(base[mid].id, image_id);

		if (!c)
			return &base[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

size_t export_n_classes(const struct export *ex)
{
	return ex->n_classes;
}

const char *export_class_name(const struct export *ex, size_t class_id)
{
	return class_id < ex->n_classes ? ex->classes[class_id] : NULL;
}

const struct export_params *export_params(const struct export *ex)
{
	return &ex->params;
}

/* ---- labels ----------------------------------------------------------- */

/* Into [0, 1]; NaN and -0.0 become 0, so "-0.000000" is never printed. */
static double unit(double v)
{
	if (!(v > 0))
		return 0.0;
	return v < 1 ? v : 1.0;
}

/*
 * " %.6f" of v in [0, 1] into p (10 bytes), without printf: printf costs
 * most of a label file's generation, and `ls` of a 40k-image labels/ dir
 * sizes every file.  v * 1e6 is within 2e-10 of the exact product, so
 * unless its fraction is that close to .5 the rounding is decided and
 * matches printf's (which rounds the exact binary value); near a tie,
 * printf decides.
 */
static char *put_unit6(char *p, double v)
{
	double s = v * 1e6, r = floor(s), frac = s - r;
	uint32_t n;

	if (fabs(frac - 0.5) < 1e-6) {
		char tmp[16];
		snprintf(tmp, sizeof(tmp), " %.6f", v);
		memcpy(p, tmp, 9);
		return p + 9;
	}
	n = (uint32_t)r + (frac > 0.5);
	*p++ = ' ';
	*p++ = n >= 1000000 ? '1' : '0';
	*p++ = '.';
	n %= 1000000;
	for (int i = 5; i >= 0; i--) {
		p[i] = (char)('0' + n % 10);
		n /= 10;
	}
	return p + 6;
}

int export_label_text(struct buf *out, const struct export *ex, const struct export_image *img)
{
	double W = (double)img->width, H = (double)img->height;
	char line[64], *p;
	int error;

	for (uint32_t k = 0; k < img->n_anns; k++) {
		const struct export_ann *a = &ex->anns[img->first_ann + k];

		{
			char digits[12];
			uint32_t c = a->class_id;
			int nd = 0;

			do {
				digits[nd++] = (char)('0' + c % 10);
				c /= 10;
			} while (c);
			for (p = line; nd > 0;)
				*p++ = digits[--nd];
		}
		p = put_unit6(p, unit((a->x_min + a->x_max) / 2 / W));
		p = put_unit6(p, unit((a->y_min + a->y_max) / 2 / H));
		p = put_unit6(p, unit((a->x_max - a->x_min) / W));
		p = put_unit6(p, unit((a->y_max - a->y_min) / H));
		*p++ = '\n';
		if ((error = buf_put(out, line, (size_t)(p - line))) < 0)
			return error;
	}
	return 0;
}

/* ---- YAML ------------------------------------------------------------- */

/* The shortest %.{15,16,17}g that reads back as `v`, with a '.' if integral. */
static int put_double(struct buf *out, double v)
{
	char num[40];

	for (int prec = 15; prec <= 17; prec++) {
		snprintf(num, sizeof(num), "%.*g", prec, v);
		if (strtod(num, NULL) == v)
			break;
	}
	if (!strpbrk(num, ".en"))
		strcat(num, ".0");
	return buf_puts(out, num);
}

int export_dataset_yaml(struct buf *out, const struct export *ex)
{
	int error;

	if ((error = buf_puts(out, "# dsfs export of label set '")) < 0 ||
	    (error = yaml_put_comment(out, ex->label_set)) < 0 ||
	    (error = buf_puts(out, "' (version ")) < 0 ||
	    (error = yaml_put_comment(out, ex->version)) < 0 ||
	    (error = buf_puts(out, ")\npath: ")) < 0 ||
	    (error = yaml_put_str(out, ex->root)) < 0 ||
	    (error = buf_printf(out, "\ntrain: images/train\nval: images/val\nnc: %zu\nnames:%s\n",
				ex->n_classes, ex->n_classes ? "" : " {}")) < 0)
		return error;   /* no classes: an empty mapping ("names:" alone reads as null) */
	for (size_t c = 0; c < ex->n_classes; c++) {
		if ((error = buf_printf(out, "  %zu: ", c)) < 0 ||
		    (error = yaml_put_str(out, ex->classes[c])) < 0 ||
		    (error = buf_put(out, "\n", 1)) < 0)
			return error;
	}
	return 0;
}

int export_info_yaml(struct buf *out, const struct export *ex)
{
	size_t *boxes = NULL; /* [class][split] */
	size_t negatives[2] = { 0, 0 }, total_boxes[2] = { 0, 0 };
	int error;

	if (ex->n_classes && !(boxes = calloc(ex->n_classes * 2, sizeof(*boxes))))
		return -ENOMEM;
	for (size_t i = 0; i < ex->n_images; i++) {
		const struct export_image *im = &ex->images[i];

		negatives[im->split] += im->n_anns == 0;
		total_boxes[im->split] += im->n_anns;
		for (uint32_t k = 0; k < im->n_anns; k++)
			boxes[ex->anns[im->first_ann + k].class_id * 2 + im->split]++;
	}
	if ((error = buf_puts(out, "# dsfs export info (generated from the catalog)\nlabel_set: ")) < 0 ||
	    (error = yaml_put_str(out, ex->label_set)) < 0 ||
	    (error = buf_puts(out, "\nversion: ")) < 0 ||
	    (error = yaml_put_str(out, ex->version)) < 0 ||
	    (error = buf_puts(out, "\nsplit: ")) < 0 ||
	    (error = put_double(out, ex->params.split)) < 0 ||
	    (error = buf_printf(out,
				"\nseed: %" PRIu64 "\nnc: %zu\ncounts:\n"
				"  images:\n    total: %zu\n    train: %zu\n    val: %zu\n"
				"  boxes:\n    total: %zu\n    train: %zu\n    val: %zu\n"
				"  negatives:\n    total: %zu\n    train: %zu\n    val: %zu\n"
				"  classes:\n",
				ex->params.seed, ex->n_classes, ex->n_images, ex->n_split[0],
				ex->n_split[1], total_boxes[0] + total_boxes[1], total_boxes[0],
				total_boxes[1], negatives[0] + negatives[1], negatives[0],
				negatives[1])) < 0)
		goto done;
	for (size_t c = 0; c < ex->n_classes; c++) {
		if ((error = buf_printf(out, "    - id: %zu\n      name: ", c)) < 0 ||
		    (error = yaml_put_str(out, ex->classes[c])) < 0 ||
		    (error = buf_printf(out, "\n      boxes:\n        total: %zu\n"
					"        train: %zu\n        val: %zu\n",
					boxes[c * 2] + boxes[c * 2 + 1], boxes[c * 2],
					boxes[c * 2 + 1])) < 0)
			goto done;
	}
done:
	free(boxes);
	return error;
}

/* ---- COCO ------------------------------------------------------------- */

/*
 * The COCO file is written here rather than through coco_write(): a struct
 * coco costs an allocation per image name, and coco_write()'s printf per
 * record and printf+strtod per number took 1.1-2.0 s for 100k images and
 * 300k boxes, while FUSE must produce the file before answering getattr.
 * The bytes are coco_write()'s, exactly (the unit test compares the two on
 * integral, decimal and awkward values), so the importer reads it back and
 * CVAT's layout is kept.
 */

/* Unsigned decimal at `p`; returns the end. */
static char *put_u64(char *p, uint64_t v)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_lit(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}
#define PUT_LIT(p, s) put_lit((p), (s), sizeof(s) - 1)

/*
 * A double as coco_write() prints it: integral values below 2^53 as
 * "<int>.0", others as the shortest of %.15g/%.16g/%.17g that reads back
 * as `v`, with ".0" added when there is no '.'.  Returns the end, or NULL
 * for a non-finite value.  At most 32 bytes.
 *
 * Fast path for 1e-4 <= |v| < 1e9 with at most 6 decimals (pixel boxes;
 * CVAT rounds them to 2): for the smallest k with r / 10^k == |v|, r an
 * integer, "r with k decimals" reads back as v (IEEE division and strtod
 * both round the exact decimal r/10^k to nearest); it has at most 15
 * significant digits and no trailing zero, so it is the decimal %.15g
 * prints, and %g uses no exponent in this range.  All else goes through
 * printf, as in coco_write().
 */
static char *put_num(char *p, double v)
{
	static const double pow10[] = { 1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6 };
	double a = fabs(v);
	char num[40], *e;
	size_t len;

	if (!isfinite(v))
		return NULL;
	if (a < 9007199254740992.0 && a == (double)(int64_t)a && !(v == 0 && signbit(v))) {
		if (v < 0)
			*p++ = '-';
		p = put_u64(p, (uint64_t)a);
		return PUT_LIT(p, ".0");
	}
	if (a >= 1e-4 && a < 1e9) {
		for (int k = 1; k <= 6; k++) {
			double r = nearbyint(a * pow10[k]);
			uint64_t ir, scale = (uint64_t)pow10[k], frac;

			if (r / pow10[k] != a)
				continue;
			ir = (uint64_t)r;
			frac = ir % scale;
			if (v < 0)
				*p++ = '-';
			p = put_u64(p, ir / scale);
			*p++ = '.';
			for (int d = k - 1; d >= 0; d--) {
				p[d] = (char)('0' + frac % 10);
				frac /= 10;
			}
			return p + k;
		}
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(num, sizeof(num), "%.*g", prec, v);
		if (strtod(num, NULL) == v)
			break;
	}
	len = strlen(num);
	if (strchr(num, '.'))
		return put_lit(p, num, len);
	if ((e = strchr(num, 'e'))) {
		p = put_lit(p, num, (size_t)(e - num));
		p = PUT_LIT(p, ".0");
		return put_lit(p, e, strlen(e));
	}
	p = put_lit(p, num, len);
	return PUT_LIT(p, ".0");
}

/* A JSON string with the escapes coco_write() uses. */
static int put_json_str(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	int error;

	if ((error = buf_put(out, "\"", 1)) < 0)
		return error;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[6] = { '\\', 0 };
		size_t n = 2;

		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			if (c >= 0x20) {
				esc[0] = (char)c;
				n = 1;
			} else {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 15];
				n = 6;
			}
		}
		if ((error = buf_put(out, esc, n)) < 0)
			return error;
	}
	return buf_put(out, "\"", 1);
}

/* Upper bounds of one record, for buf_grow() before writing it in place. */
#define IMAGE_MAX (64 + 3 * 20 + 32 + 1 + 8 + 80)
#define ANN_MAX (160 + 3 * 20 + 5 * 32)

int export_coco_json(struct buf *out, const struct export *ex, enum export_split split)
{
	size_t n = export_count(ex, split), base = n ? split_base(ex, split) : 0;
	uint64_t ann_id = 0;
	size_t m = 0;
	int error;

	/* One allocation for the whole file (records are ~150 and ~190 bytes). */
	for (size_t i = 0; i < n; i++)
		m += ex->images[base + i].n_anns;
	if ((error = buf_grow(out, 512 + ex->n_classes * 64 + n * 160 + m * 200)) < 0 ||
	    (error = buf_puts(out,
			      "{\"licenses\":[{\"name\":\"\",\"id\":0,\"url\":\"\"}],\n"
			      "\"info\":{\"contributor\":\"\",\"date_created\":\"\",\"description\":"
			      "\"\",\"url\":\"\",\"version\":\"\",\"year\":\"\"},\n"
			      "\"categories\":[")) < 0)
		return error;
	for (size_t k = 0; k < ex->n_classes; k++) {
		if ((error = buf_printf(out, "%s\n{\"id\":%zu,\"name\":", k ? "," : "", k + 1)) < 0 ||
		    (error = put_json_str(out, ex->classes[k])) < 0 ||
		    (error = buf_puts(out, ",\"supercategory\":\"\"}")) < 0)
			return error;
	}
	if ((error = buf_puts(out, "],\n\"images\":[")) < 0)
		return error;
	for (size_t i = 0; i < n; i++) {
		const struct export_image *im = &ex->images[base + i];
		char *p;

		if ((error = buf_grow(out, IMAGE_MAX)) < 0)
			return error;
		p = out->ptr + out->len;
		if (i)
			*p++ = ',';
		p = PUT_LIT(p, "\n{\"id\":");
		p = put_u64(p, i + 1);
		p = PUT_LIT(p, ",\"width\":");
		p = put_u64(p, (uint64_t)im->width);
		p = PUT_LIT(p, ",\"height\":");
		p = put_u64(p, (uint64_t)im->height);
		p = PUT_LIT(p, ",\"file_name\":\"");
		p = put_lit(p, im->id, 32);
		*p++ = '.';
		p = put_lit(p, im->ext, strlen(im->ext));
		p = PUT_LIT(p, "\",\"license\":0,\"flickr_url\":\"\",\"coco_url\":\"\","
			       "\"date_captured\":0}");
		*p = '\0';
		out->len = (size_t)(p - out->ptr);
	}
	if ((error = buf_puts(out, "],\n\"annotations\":[")) < 0)
		return error;
	for (size_t i = 0; i < n; i++) {
		const struct export_image *im = &ex->images[base + i];

		for (uint32_t k = 0; k < im->n_anns; k++) {
			const struct export_ann *a = &ex->anns[im->first_ann + k];
			double w = a->x_max - a->x_min, h = a->y_max - a->y_min;
			const double v[5] = { w * h, a->x_min, a->y_min, w, h };
			char *p;

			if ((error = buf_grow(out, ANN_MAX)) < 0)
				return error;
			p = out->ptr + out->len;
			p = ann_id ? PUT_LIT(p, ",\n{\"id\":") : PUT_LIT(p, "\n{\"id\":");
			p = put_u64(p, ++ann_id);
			p = PUT_LIT(p, ",\"image_id\":");
			p = put_u64(p, i + 1);
			p = PUT_LIT(p, ",\"category_id\":");
			p = put_u64(p, (uint64_t)a->class_id + 1);
			p = PUT_LIT(p, ",\"segmentation\":[],\"area\":");
			for (int j = 0; j < 5 && p; j++) {
				if (j == 1)
					p = PUT_LIT(p, ",\"bbox\":[");
				else if (j > 1)
					*p++ = ',';
				p = put_num(p, v[j]);
			}
			if (!p) {
				out->ptr[out->len] = '\0';
				return err_set(-EINVAL, "export: image %s: box %" PRIu32
					       " has a non-finite size", im->id, k);
			}
			p = PUT_LIT(p, "],\"iscrowd\":0,\"attributes\":{\"occluded\":false,"
				       "\"rotation\":0.0}}");
			*p = '\0';
			out->len = (size_t)(p - out->ptr);
		}
	}
	if ((error = buf_puts(out, "]}\n")) < 0)
		return error;
	return 0;
}
