/*
 * Synthetic "shapes" images for tests, benchmarks and the demo: 1-6 filled
 * rectangles, ellipses or triangles of random colour and size on a textured
 * background, with their exact bounding boxes.  Fully determined by
 * (width, height, seed): the same arguments give the same pixels and boxes
 * on every machine.
 */
#ifndef DSFS_CORE_SHAPES_H
#define DSFS_CORE_SHAPES_H

#include <stddef.h>
#include <stdint.h>

#define SHAPES_MAX_BOXES 6
#define SHAPES_N_CLASSES 3

/* Class names in class-id order: "rectangle", "ellipse", "triangle". */
extern const char *const shapes_class_names[SHAPES_N_CLASSES];

struct shapes_box {
	int cls;              /* 0..SHAPES_N_CLASSES-1 */
	double x, y, w, h;    /* tight box in pixels, top-left corner, inside the image */
	/*
	 * Flat fill colour of the shape.  Shapes are saturated (max - min
	 * channel >= 120), the background never is (<= 40), shapes in one
	 * image have distinct colours and never overlap or touch (>= 2 px
	 * apart), so the shape's pixels in `rgb` are exactly the pixels of
	 * this colour, and their bounds are exactly the box.
	 */
	uint8_t rgb[3];
};

struct shapes_image {
	unsigned width, height;
	uint8_t *rgb;         /* width*height*3 bytes, row-major RGB */
	struct shapes_box boxes[SHAPES_MAX_BOXES];
	int n_boxes;          /* 1..SHAPES_MAX_BOXES */
};

#define SHAPES_MIN_SIDE 32
#define SHAPES_MAX_SIDE 16384

/*
 * Render one image into `out` (overwritten; caller releases).  -ENOMEM, or
 * -EINVAL for a side below SHAPES_MIN_SIDE or above SHAPES_MAX_SIDE.
 */
int shapes_render(struct shapes_image *out, unsigned width, unsigned height, uint64_t seed);
void shapes_image_release(struct shapes_image *img);

/*
 * Write `count` JPEGs (quality 90, 4:2:0) to OUTDIR/images/shape_NNNNNN.jpg and
 * their true boxes to OUTDIR/instances_default.json (COCO 1.0, CVAT layout,
 * categories 1..3 in shapes_class_names order).  Image id i (1..count) is
 * file shape_%06u.jpg of i and uses seed (seed * 1000003 + i), so it equals
 * shapes_render(w, h, seed * 1000003 + i).  Existing files are overwritten;
 * the JSON is written atomically, last.  Prints nothing; progress is the
 * caller's business (see shapes_generate_ex).  -EINVAL (count 0, bad size),
 * -errno of a failed write, -ENOMEM, -EIO (JPEG encoder), message set.
 */
int shapes_generate(const char *outdir, unsigned count, unsigned width, unsigned height,
		    uint64_t seed);

struct shapes_gen_opts {
	unsigned threads;  /* worker threads; 0 = one per online CPU (at most 8) */
	/*
	 * Optional.  Called on the calling thread only, after some images are
	 * done (done counts finished images, in any order), and a last time
	 * with done == total before the JSON is written.
	 */
	void (*progress)(unsigned done, unsigned total, void *payload);
	void *payload;
	uint64_t bytes;    /* OUT: total size of the JPEGs written */
};
#define SHAPES_GEN_OPTS_INIT { 0, NULL, NULL, 0 }

/* shapes_generate() with threads, progress and a byte count (`opts` may be NULL). */
int shapes_generate_ex(const char *outdir, unsigned count, unsigned width, unsigned height,
		       uint64_t seed, struct shapes_gen_opts *opts);

#endif
