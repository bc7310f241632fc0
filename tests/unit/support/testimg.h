/*
 * Real images for the core/ unit tests: small JPEGs (libturbojpeg) and
 * PNGs (libpng) of a given size, their pixels a function of `seed` so
 * different seeds give different bytes.  Failures are cmocka assertions.
 */
#ifndef DSFS_TESTS_TESTIMG_H
#define DSFS_TESTS_TESTIMG_H

#include <stddef.h>

/* A JPEG of w x h into *out (caller frees with testimg_free). */
void make_jpeg(unsigned char **out, unsigned long *len, unsigned w, unsigned h, unsigned seed);
void testimg_free(unsigned char *jpeg);

void write_bytes(const char *path, const void *data, size_t len);
void write_jpeg(const char *path, unsigned w, unsigned h, unsigned seed);
void write_png(const char *path, unsigned w, unsigned h, unsigned seed);

#endif
