/*
 * Synthetic shapes images (see shapes.h).
 *
 * Determinism: every random choice comes from splitmix64 streams seeded
 * from the image seed, and all geometry is integer arithmetic (doubled
 * coordinates so pixel centres are integers too), so no libm call and no
 * floating-point rounding mode or FMA contraction can change a pixel from
 * one machine or compiler to the next.
 *
 * Background: a muted base colour, a linear gradient, two octaves of value
 * noise (bilinear with a smoothstep table) and per-pixel grain.  All of it
 * is added equally to R, G and B, so the background keeps the small
 * saturation of its base tint; the grain gives JPEGs a realistic size
 * (about 100 KB for 640x480 at quality 90) instead of a few KB for flat
 * colour, which matters because the generator feeds I/O benchmarks.
 *
 * Shapes: flat saturated colours, placed without overlapping or touching
 * each other, each fully inside the image.  The box is measured from the
 * pixels the rasteriser actually set, so it is tight by construction.  That
 * is also what makes them checkable from the pixels alone (shapes.h).
 *
 * shapes_generate_ex() renders and encodes on N threads (images are
 * independent); the main thread works too and is the only one to call the
 * progress callback.  The COCO file is built afterwards in id order, so the
 * output does not depend on the thread count.
 */
#include "core/shapes.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "core/coco.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fsutil.h"

const char *const shapes_class_names[SHAPES_N_CLASSES] = { "rectangle", "ellipse", "triangle" };

enum { CLS_RECT, CLS_ELLIPSE, CLS_TRIANGLE };

/* ---- random numbers --------------------------------------------------- */

static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi] (inclusive), by multiply-high: no modulo bias worth naming. */
static inline int rng_range(uint64_t *s, int lo, int hi)
{
	uint64_t span = (uint64_t)(hi - lo) + 1;

	return lo + (int)(((rng_next(s) >> 32) * span) >> 32);
}

/* ---- background ------------------------------------------------------- */

#define GRAIN 17          /* per-pixel grain amplitude, +-; sets the JPEG size */
#define TINT 18          /* per-channel offset of the base colour, +- */

struct octave {
	int cell;        /* grid spacing in pixels */
	int gw, gh;      /* grid points per row / column */
	int *grid;       /* gh x gw values in [-amp, amp] */
	int *sw;         /* per offset in a cell: smoothstep weight 0..256 */
	int *colv;       /* per grid column: the current row's vertical blend (x256) */
};

/* smoothstep((i + 0.5) / cell) * 256, in integers. */
static int smooth_weight(int i, int cell)
{
	int64_t t = 2 * (int64_t)i + 1, d = 2 * (int64_t)cell;

	return (int)(256 * t * t * (3 * d - 2 * t) / (d * d * d));
}

static int octave_init(struct octave *o, unsigned w, unsigned h, int cell, int amp, uint64_t *rng)
{
	o->cell = cell;
	o->gw = (int)w / cell + 2;
	o->gh = (int)h / cell + 2;
	o->grid = malloc(sizeof(int) * (size_t)o->gw * (size_t)o->gh);
	o->sw = malloc(sizeof(int) * (size_t)cell);
	o->colv = malloc(sizeof(int) * (size_t)o->gw);
	if (!o->grid || !o->sw || !o->colv)
		return err_set(-ENOMEM, "shapes: out of memory");
	for (int i = 0; i < o->gw * o->gh; i++)
		o->grid[i] = rng_range(rng, -amp, amp);
	for (int i = 0; i < cell; i++)
		o->sw[i] = smooth_weight(i, cell);
	return 0;
}

static void octave_release(struct octave *o)
{
	free(o->grid);
	free(o->sw);
	free(o->colv);
}

/* Blend the two grid rows around `y` into colv (values x256). */
static void octave_row(struct octave *o, unsigned y)
{
	int ky = (int)y / o->cell, wy = o->sw[(int)y % o->cell];
	const int *g0 = o->grid + ky * o->gw, *g1 = g0 + o->gw;

	for (int k = 0; k < o->gw; k++)
		o->colv[k] = g0[k] * (256 - wy) + g1[k] * wy;
}

/*
 * Add the octave's value along the current row to lum[0..w).  Cell by cell,
 * so the inner loop has constant end points and a contiguous weight table
 * (the compiler vectorises it).  colv is x256 and the weight another x256,
 * hence >> 16 (an arithmetic shift: floor).
 */
static void octave_add(const struct octave *o, int *lum, unsigned w)
{
	for (int k = 0, x0 = 0; x0 < (int)w; k++, x0 += o->cell) {
		int a = o->colv[k], b = o->colv[k + 1];
		int n = (int)w - x0 < o->cell ? (int)w - x0 : o->cell;
		int *l = lum + x0;

		for (int i = 0; i < n; i++)
			l[i] += (a * (256 - o->sw[i]) + b * o->sw[i]) >> 16;
	}
}

static inline uint8_t clamp8(int v)
{
	return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/*
 * Bound on |luminance offset|: gradient 80 (40 per axis), octaves 32 + 12,
 * grain, plus 1 per term for floor rounding; the colour table below covers
 * it with room to spare.
 */
#define DMAX 192
_Static_assert(80 + 32 + 12 + GRAIN + 4 < DMAX, "colour table too small");

static int render_background(uint8_t *rgb, unsigned w, unsigned h, uint64_t seed)
{
	uint64_t rng = seed, grain = seed ^ 0x677261696e000000ull;
	struct octave o1 = { 0 }, o2 = { 0 };
	unsigned side = w > h ? w : h;
	int base[3], gray, gx, gy, error, *lum = NULL;
	uint8_t *gb = NULL, lut[2 * DMAX + 1][3];

	gray = rng_range(&rng, 70, 180);
	for (int c = 0; c < 3; c++)
		base[c] = gray + rng_range(&rng, -TINT, TINT);
	/* The pixel for each offset d, clamped once here rather than per pixel. */
	for (int d = -DMAX; d <= DMAX; d++)
		for (int c = 0; c < 3; c++)
			lut[d + DMAX][c] = clamp8(base[c] + d);
	/* Gradient: total change over the image, in 16.16 per pixel. */
	gx = rng_range(&rng, -40, 40) * 65536 / (int)w;
	gy = rng_range(&rng, -40, 40) * 65536 / (int)h;
	if ((error = octave_init(&o1, w, h, (int)(side / 5 > 4 ? side / 5 : 4), 32, &rng)) < 0 ||
	    (error = octave_init(&o2, w, h, (int)(side / 24 > 4 ? side / 24 : 4), 12, &rng)) < 0)
		goto done;
	if (!(lum = malloc(sizeof(int) * w)) || !(gb = malloc(w + 8))) {
		error = err_set(-ENOMEM, "shapes: out of memory");
		goto done;
	}
	for (unsigned y = 0; y < h; y++) {
		uint8_t *p = rgb + (size_t)y * w * 3;

		for (unsigned x = 0; x < w; x++)
			lum[x] = (gy * (int)y + gx * (int)x) >> 16;
		octave_row(&o1, y);
		octave_row(&o2, y);
		octave_add(&o1, lum, w);
		octave_add(&o2, lum, w);
		/* Grain: one 64-bit draw per 8 pixels, low byte first. */
		for (unsigned x = 0; x < w; x += 8) {
			uint64_t bits = rng_next(&grain);
			for (int j = 0; j < 8; j++)
				gb[x + (unsigned)j] = (uint8_t)(bits >> (8 * j));
		}
		for (unsigned x = 0; x < w; x++, p += 3) {
			int d = lum[x] + (int)((gb[x] * (2 * GRAIN + 1)) >> 8) - GRAIN;
			memcpy(p, lut[d + DMAX], 3);
		}
	}
done:
	free(lum);
	free(gb);
	octave_release(&o1);
	octave_release(&o2);
	return error;
}

/* ---- shapes ----------------------------------------------------------- */

struct rect {
	int x0, y0, w, h;
};

/* Tight bounds of the pixels a shape set. */
struct bounds {
	int x0, y0, x1, y1; /* inclusive; x0 > x1 while empty */
};

static inline void put_span(uint8_t *rgb, unsigned w, int y, int xa, int xb, const uint8_t *col,
			    struct bounds *b)
{
	uint8_t *p = rgb + ((size_t)y * w + (size_t)xa) * 3;

	for (int x = xa; x <= xb; x++, p += 3) {
		p[0] = col[0];
		p[1] = col[1];
		p[2] = col[2];
	}
	if (xa < b->x0)
		b->x0 = xa;
	if (xb > b->x1)
		b->x1 = xb;
	if (y < b->y0)
		b->y0 = y;
	if (y > b->y1)
		b->y1 = y;
}

static void draw_rect(uint8_t *rgb, unsigned w, const struct rect *r, const uint8_t *col,
		      struct bounds *b)
{
	for (int y = r->y0; y < r->y0 + r->h; y++)
		put_span(rgb, w, y, r->x0, r->x0 + r->w - 1, col, b);
}

/*
 * The ellipse inscribed in r.  Doubled coordinates: pixel centre
 * (2x+1, 2y+1), centre (2x0+w, 2y0+h), radii (w, h); inside when
 * dx^2 h^2 + dy^2 w^2 <= w^2 h^2 (fits int64 for sides up to 2^15).
 */
static void draw_ellipse(uint8_t *rgb, unsigned w, const struct rect *r, const uint8_t *col,
			 struct bounds *b)
{
	int64_t cx = 2 * (int64_t)r->x0 + r->w, cy = 2 * (int64_t)r->y0 + r->h;
	int64_t rx2 = (int64_t)r->w * r->w, ry2 = (int64_t)r->h * r->h, lim = rx2 * ry2;

	for (int y = r->y0; y < r->y0 + r->h; y++) {
		int64_t dy = 2 * (int64_t)y + 1 - cy, rest = lim - dy * dy * rx2;
		int xa = -1, xb = -1;

		if (rest < 0)
			continue;
		/* The row's span is symmetric around cx: find its left end. */
		for (int x = r->x0; x < r->x0 + r->w; x++) {
			int64_t dx = 2 * (int64_t)x + 1 - cx;
			if (dx * dx * ry2 <= rest) {
				xa = x;
				xb = (int)((cx - 1 - (2 * (int64_t)x + 1 - cx)) / 2);
				break;
			}
		}
		if (xa >= 0)
			put_span(rgb, w, y, xa, xb, col, b);
	}
}

static inline int64_t edge(int64_t ax, int64_t ay, int64_t bx, int64_t by, int64_t px, int64_t py)
{
	return (bx - ax) * (py - ay) - (by - ay) * (px - ax);
}

/*
 * A triangle with its base on one side of r and its apex on the opposite
 * side, in doubled coordinates; a pixel is in if its centre is on the inner
 * side of (or on) all three edges.
 */
static void draw_triangle(uint8_t *rgb, unsigned w, const struct rect *r, int orient, int apex,
			  const uint8_t *col, struct bounds *b)
{
	int64_t x0 = 2 * (int64_t)r->x0, y0 = 2 * (int64_t)r->y0;
	int64_t x1 = x0 + 2 * r->w, y1 = y0 + 2 * r->h, vx[3], vy[3], area;

	switch (orient) {
	case 0: /* apex on top */
		vx[0] = x0 + 2 * (int64_t)apex * r->w / 256, vy[0] = y0;
		vx[1] = x0, vy[1] = y1, vx[2] = x1, vy[2] = y1;
		break;
	case 1: /* apex at the bottom */
		vx[0] = x0 + 2 * (int64_t)apex * r->w / 256, vy[0] = y1;
		vx[1] = x0, vy[1] = y0, vx[2] = x1, vy[2] = y0;
		break;
	case 2: /* apex on the left */
		vx[0] = x0, vy[0] = y0 + 2 * (int64_t)apex * r->h / 256;
		vx[1] = x1, vy[1] = y0, vx[2] = x1, vy[2] = y1;
		break;
	default: /* apex on the right */
		vx[0] = x1, vy[0] = y0 + 2 * (int64_t)apex * r->h / 256;
		vx[1] = x0, vy[1] = y0, vx[2] = x0, vy[2] = y1;
		break;
	}
	area = edge(vx[0], vy[0], vx[1], vy[1], vx[2], vy[2]);
	for (int y = r->y0; y < r->y0 + r->h; y++) {
		int64_t py = 2 * (int64_t)y + 1;
		int xa = -1, xb = -2;

		for (int x = r->x0; x < r->x0 + r->w; x++) {
			int64_t px = 2 * (int64_t)x + 1;
			int64_t e0 = edge(vx[0], vy[0], vx[1], vy[1], px, py);
			int64_t e1 = edge(vx[1], vy[1], vx[2], vy[2], px, py);
			int64_t e2 = edge(vx[2], vy[2], vx[0], vy[0], px, py);
			int in = area > 0 ? (e0 >= 0 && e1 >= 0 && e2 >= 0)
					  : (e0 <= 0 && e1 <= 0 && e2 <= 0);
			/* A convex shape: each row is one span. */
			if (in) {
				if (xa < 0)
					xa = x;
				xb = x;
			} else if (xa >= 0) {
				break;
			}
		}
		if (xa >= 0)
			put_span(rgb, w, y, xa, xb, col, b);
	}
}

/* A saturated colour: max - min channel >= 120, so never a background colour. */
static void pick_colour(uint64_t *rng, uint8_t *col)
{
	static const int perm[6][3] = { { 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 },
					{ 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 } };
	int hi = rng_range(rng, 180, 255), lo = rng_range(rng, 0, hi - 120);
	int mid = rng_range(rng, lo, hi), v[3] = { hi, mid, lo };
	const int *pm = perm[rng_range(rng, 0, 5)];

	for (int c = 0; c < 3; c++)
		col[pm[c]] = (uint8_t)v[c];
}

static int apart(const struct rect *a, const struct rect *b)
{
	const int gap = 2;

	return a->x0 >= b->x0 + b->w + gap || b->x0 >= a->x0 + a->w + gap ||
	       a->y0 >= b->y0 + b->h + gap || b->y0 >= a->y0 + a->h + gap;
}

static void render_shapes(struct shapes_image *img, uint64_t seed)
{
	int W = (int)img->width, H = (int)img->height;
	int minw = W / 12 > 2 ? W / 12 : 2, maxw = W / 2;
	int minh = H / 12 > 2 ? H / 12 : 2, maxh = H / 2;
	struct rect placed[SHAPES_MAX_BOXES];
	uint64_t rng = seed;
	int want = rng_range(&rng, 1, SHAPES_MAX_BOXES);

	img->n_boxes = 0;
	for (int k = 0; k < want; k++) {
		int cls = rng_range(&rng, 0, SHAPES_N_CLASSES - 1), ok = 0;
		struct bounds bd = { W, H, -1, -1 };
		struct shapes_box *box;
		struct rect r;
		uint8_t col[3];

		/* Rejection sampling; a crowded image just gets fewer shapes. */
		for (int attempt = 0; attempt < 40 && !ok; attempt++) {
			r.w = rng_range(&rng, minw, maxw);
			r.h = rng_range(&rng, minh, maxh);
			r.x0 = rng_range(&rng, 0, W - r.w);
			r.y0 = rng_range(&rng, 0, H - r.h);
			ok = 1;
			for (int i = 0; i < img->n_boxes && ok; i++)
				ok = apart(&r, &placed[i]);
		}
		if (!ok)
			continue;
		for (int dup = 1; dup;) {
			pick_colour(&rng, col);
			dup = 0;
			for (int i = 0; i < img->n_boxes; i++)
				dup |= !memcmp(col, img->boxes[i].rgb, 3);
		}
		switch (cls) {
		case CLS_RECT:
			draw_rect(img->rgb, img->width, &r, col, &bd);
			break;
		case CLS_ELLIPSE:
			draw_ellipse(img->rgb, img->width, &r, col, &bd);
			break;
		default: {
			int orient = rng_range(&rng, 0, 3), apex = rng_range(&rng, 0, 256);
			draw_triangle(img->rgb, img->width, &r, orient, apex, col, &bd);
		}
		}
		if (bd.x1 < bd.x0) /* drew nothing (not seen in practice) */
			continue;
		placed[img->n_boxes] = r;
		box = &img->boxes[img->n_boxes++];
		box->cls = cls;
		box->x = bd.x0;
		box->y = bd.y0;
		box->w = bd.x1 - bd.x0 + 1;
		box->h = bd.y1 - bd.y0 + 1;
		memcpy(box->rgb, col, 3);
	}
}

/* Fill img->rgb (allocated, width x height set) from `seed`. */
static int render_into(struct shapes_image *img, uint64_t seed)
{
	uint64_t s = seed ^ 0x7368617065730000ull; /* "shapes" */
	uint64_t bg_seed = rng_next(&s), shape_seed = rng_next(&s);
	int error;

	if ((error = render_background(img->rgb, img->width, img->height, bg_seed)) < 0)
		return error;
	render_shapes(img, shape_seed);
	return 0;
}

static int check_size(unsigned width, unsigned height)
{
	if (width < SHAPES_MIN_SIDE || height < SHAPES_MIN_SIDE || width > SHAPES_MAX_SIDE ||
	    height > SHAPES_MAX_SIDE)
		return err_set(-EINVAL, "image size %ux%u out of range (%d..%d per side)", width,
			       height, SHAPES_MIN_SIDE, SHAPES_MAX_SIDE);
	return 0;
}

int shapes_render(struct shapes_image *out, unsigned width, unsigned height, uint64_t seed)
{
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = check_size(width, height)) < 0)
		return error;
	if (!(out->rgb = malloc((size_t)width * height * 3)))
		return err_set(-ENOMEM, "shapes: out of memory");
	out->width = width;
	out->height = height;
	if ((error = render_into(out, seed)) < 0)
		shapes_image_release(out);
	return error;
}

void shapes_image_release(struct shapes_image *img)
{
	if (!img)
		return;
	free(img->rgb);
	memset(img, 0, sizeof(*img));
}

/* ---- generation ------------------------------------------------------- */

struct gen {
	const char *outdir;
	unsigned count, width, height;
	uint64_t seed;
	struct shapes_image *meta; /* count entries: boxes only, rgb NULL */
	atomic_uint next;          /* next image index to claim (0-based) */
	atomic_uint done;
	atomic_int stop;
	atomic_ullong bytes;
	pthread_mutex_t lock;      /* protects error, msg */
	int error;
	char msg[512];
};

static void gen_fail(struct gen *g, int error)
{
	pthread_mutex_lock(&g->lock);
	if (!g->error) {
		g->error = error;
		snprintf(g->msg, sizeof(g->msg), "%s", err_msg(error));
	}
	pthread_mutex_unlock(&g->lock);
	atomic_store(&g->stop, 1);
}

static int write_all(const char *path, const void *data, size_t len)
{
	const char *p = data;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), error = 0;

	if (fd < 0)
		return err_set(-errno, "cannot create %s: %s", path, strerror(errno));
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			error = err_set(-errno, "cannot write %s: %s", path, strerror(errno));
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) < 0 && !error)
		error = err_set(-errno, "cannot write %s: %s", path, strerror(errno));
	return error;
}

/*
 * Render, encode and write images until none is left.  Per-thread state:
 * the encoder, one pixel buffer and one JPEG buffer, reused for every image
 * (no allocation per image).  On the calling thread (`main_thread`), report
 * progress after each image.
 */
static int gen_work(struct gen *g, int main_thread, struct shapes_gen_opts *opts)
{
	struct shapes_image img = { 0 };
	unsigned long jpeg_cap = tjBufSize((int)g->width, (int)g->height, TJSAMP_420);
	unsigned char *jpeg = NULL;
	tjhandle tj = NULL;
	char *path = NULL;
	int error = 0;

	img.width = g->width;
	img.height = g->height;
	if (!(tj = tjInitCompress()) || !(jpeg = tjAlloc((int)jpeg_cap)) ||
	    !(img.rgb = malloc((size_t)g->width * g->height * 3)) ||
	    !(path = malloc(strlen(g->outdir) + 64))) {
		error = err_set(-ENOMEM, "shapes: cannot set up a JPEG encoder");
		goto done;
	}
	while (!atomic_load(&g->stop)) {
		unsigned i = atomic_fetch_add(&g->next, 1);
		unsigned long size = jpeg_cap;

		if (i >= g->count)
			break;
		if ((error = render_into(&img, g->seed * 1000003u + (uint64_t)i + 1)) < 0)
			goto done;
		if (tjCompress2(tj, img.rgb, (int)g->width, 0, (int)g->height, TJPF_RGB, &jpeg,
				&size, TJSAMP_420, 90, TJFLAG_NOREALLOC) < 0) {
			error = err_set(-EIO, "JPEG encoder: %s", tjGetErrorStr2(tj));
			goto done;
		}
		sprintf(path, "%s/images/shape_%06u.jpg", g->outdir, i + 1);
		if ((error = write_all(path, jpeg, size)) < 0)
			goto done;
		memcpy(g->meta[i].boxes, img.boxes, sizeof(img.boxes));
		g->meta[i].n_boxes = img.n_boxes;
		atomic_fetch_add(&g->bytes, size);
		atomic_fetch_add(&g->done, 1);
		if (main_thread && opts && opts->progress)
			opts->progress(atomic_load(&g->done), g->count, opts->payload);
	}
done:
	if (error < 0)
		gen_fail(g, error);
	free(path);
	free(img.rgb);
	tjFree(jpeg);
	if (tj)
		tjDestroy(tj);
	return error;
}

static void *gen_thread(void *arg)
{
	gen_work(arg, 0, NULL);
	return NULL;
}

static int write_coco(const struct gen *g)
{
	struct coco c = COCO_INIT;
	struct buf json = BUF_INIT;
	char name[32], *path = NULL;
	int error = 0;

	for (int k = 0; k < SHAPES_N_CLASSES && !error; k++)
		error = coco_add_category(&c, k + 1, shapes_class_names[k]);
	for (unsigned i = 0; i < g->count && !error; i++) {
		const struct shapes_image *m = &g->meta[i];

		snprintf(name, sizeof(name), "shape_%06u.jpg", i + 1);
		error = coco_add_image(&c, (int64_t)i + 1, name, g->width, g->height);
		for (int b = 0; b < m->n_boxes && !error; b++)
			error = coco_add_ann(&c, (int64_t)i + 1, m->boxes[b].cls + 1, m->boxes[b].x,
					     m->boxes[b].y, m->boxes[b].w, m->boxes[b].h);
	}
	if (error < 0 || (error = coco_write(&json, &c)) < 0)
		goto done;
	if (asprintf(&path, "%s/instances_default.json", g->outdir) < 0) {
		path = NULL;
		error = err_set(-ENOMEM, "shapes: out of memory");
		goto done;
	}
	error = fs_write_file_atomic(path, json.ptr, json.len, 0644);
done:
	free(path);
	buf_release(&json);
	coco_release(&c);
	return error;
}

int shapes_generate_ex(const char *outdir, unsigned count, unsigned width, unsigned height,
		       uint64_t seed, struct shapes_gen_opts *opts)
{
	struct gen g = { .outdir = outdir, .count = count, .width = width, .height = height,
			 .seed = seed };
	pthread_t tids[8];
	unsigned n_threads, started = 0;
	char *dir = NULL;
	int error;

	if (opts)
		opts->bytes = 0;
	if (count == 0)
		return err_set(-EINVAL, "count must be at least 1");
	if ((error = check_size(width, height)) < 0)
		return error;
	if (asprintf(&dir, "%s/images", outdir) < 0)
		return err_set(-ENOMEM, "shapes: out of memory");
	error = fs_mkdir_p(dir, 0755);
	free(dir);
	if (error < 0)
		return error;
	if (!(g.meta = calloc(count, sizeof(*g.meta))))
		return err_set(-ENOMEM, "shapes: out of memory for %u images", count);
	pthread_mutex_init(&g.lock, NULL);

	n_threads = opts && opts->threads ? opts->threads : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	if (n_threads < 1)
		n_threads = 1;
	if (n_threads > 8)
		n_threads = 8;
	if (n_threads > count)
		n_threads = count;
	for (unsigned t = 1; t < n_threads; t++) {
		if (pthread_create(&tids[started], NULL, gen_thread, &g) != 0)
			break; /* fewer threads is fine */
		started++;
	}
	gen_work(&g, 1, opts);
	for (unsigned t = 0; t < started; t++)
		pthread_join(tids[t], NULL);

	if (g.error) {
		error = err_set(g.error, "%s", g.msg);
		goto done;
	}
	if (opts) {
		opts->bytes = atomic_load(&g.bytes);
		if (opts->progress)
			opts->progress(count, count, opts->payload);
	}
	error = write_coco(&g);
done:
	pthread_mutex_destroy(&g.lock);
	free(g.meta);
	return error;
}

int shapes_generate(const char *outdir, unsigned count, unsigned width, unsigned height,
		    uint64_t seed)
{
	return shapes_generate_ex(outdir, count, width, height, seed, NULL);
}
