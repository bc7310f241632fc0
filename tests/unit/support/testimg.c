/* Real test images (see testimg.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "testimg.h"

static void fill_rgb(uint8_t *rgb, unsigned w, unsigned h, unsigned seed)
{
	for (unsigned y = 0; y < h; y++)
		for (unsigned x = 0; x < w; x++) {
			uint8_t *p = rgb + 3 * ((size_t)y * w + x);
			p[0] = (uint8_t)(x * 7 + seed * 13);
			p[1] = (uint8_t)(y * 5 + seed * 29);
			p[2] = (uint8_t)((x ^ y) + seed);
		}
}

void make_jpeg(unsigned char **out, unsigned long *len, unsigned w, unsigned h, unsigned seed)
{
	uint8_t *rgb = malloc((size_t)w * h * 3);
	tjhandle tj = tjInitCompress();

	assert_non_null(rgb);
	assert_non_null(tj);
	fill_rgb(rgb, w, h, seed);
	*out = NULL;
	assert_int_equal(tjCompress2(tj, rgb, (int)w, 0, (int)h, TJPF_RGB, out, len, TJSAMP_420, 90, 0), 0);
	tjDestroy(tj);
	free(rgb);
}

void write_bytes(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

void write_jpeg(const char *path, unsigned w, unsigned h, unsigned seed)
{
	unsigned char *jpg;
	unsigned long len;

	make_jpeg(&jpg, &len, w, h, seed);
	write_bytes(path, jpg, len);
	tjFree(jpg);
}

void write_png(const char *path, unsigned w, unsigned h, unsigned seed)
{
	png_image img;
	uint8_t *rgb = malloc((size_t)w * h * 3);
	void *mem = NULL;
	png_alloc_size_t len = 0;

	assert_non_null(rgb);
	fill_rgb(rgb, w, h, seed);
	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	img.width = w;
	img.height = h;
	img.format = PNG_FORMAT_RGB;
	assert_true(png_image_write_to_memory(&img, NULL, &len, 0, rgb, 0, NULL));
	assert_non_null(mem = malloc(len));
	assert_true(png_image_write_to_memory(&img, mem, &len, 0, rgb, 0, NULL));
	write_bytes(path, mem, len);
	free(mem);
	free(rgb);
}

void testimg_free(unsigned char *jpeg)
{
	tjFree(jpeg);
}
