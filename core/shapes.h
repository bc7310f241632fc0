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
};

struct shapes_image {
	unsigned width, height;
	uint8_t *rgb;         /* width*height*3 bytes, row-major RGB */
	struct shapes_box boxes[SHAPES_MAX_BOXES];
	int n_boxes;          /* 1..SHAPES_MAX_BOXES */
};

/* Render one image.  Caller releases.  -ENOMEM / -EINVAL (size < 32x32). */
int shapes_render(struct shapes_image *out, unsigned width, unsigned height, uint64_t seed);
void shapes_image_release(struct shapes_image *img);

/*
 * Write `count` JPEGs (quality 90) to OUTDIR/images/shape_NNNNNN.jpg and
 * their true boxes to OUTDIR/instances_default.json (COCO 1.0, CVAT layout,
 * categories 1..3 in shapes_class_names order).  Image i uses seed
 * (seed * 1000003 + i).  Prints nothing; progress is the caller's business.
 */
int shapes_generate(const char *outdir, unsigned count, unsigned width, unsigned height,
		    uint64_t seed);

#endif
