/* Image type and dimensions from the header (see imageinfo.h). */
#include "imageinfo.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "util/err.h"

static const uint8_t png_sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
static const uint8_t png_iend[12] = { 0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82 };

static int probe_jpeg(struct image_info *out, const uint8_t *head, size_t head_len,
		      const uint8_t *tail, size_t tail_len)
{
	tjhandle tj = tjInitDecompress();
	int w, h, subsamp, colorspace, rc, found_eoi = 0;

	if (!tj)
		return err_set(-ENOMEM, "cannot start the JPEG decoder");
	rc = tjDecompressHeader3(tj, head, (unsigned long)head_len, &w, &h, &subsamp, &colorspace);
	if (rc != 0) {
		rc = err_set(-EINVAL, "bad JPEG header: %s", tjGetErrorStr2(tj));
		tjDestroy(tj);
		return rc;
	}
	tjDestroy(tj);
	/*
	 * Entropy-coded data never holds FF D9 (an FF there is followed by 00
	 * or a restart marker), so an EOI in the tail means the scan ended.
	 * Look for it in the whole tail: some cameras append bytes after it.
	 */
	for (size_t i = tail_len >= 2 ? tail_len - 2 : 0; tail_len >= 2; i--) {
		if (tail[i] == 0xff && tail[i + 1] == 0xd9) {
			found_eoi = 1;
			break;
		}
		if (i == 0)
			break;
	}
	if (!found_eoi)
		return err_set(-EINVAL, "truncated JPEG: no end-of-image marker");
	if (w <= 0 || h <= 0)
		return err_set(-EINVAL, "JPEG with zero size (%dx%d)", w, h);
	strcpy(out->ext, "jpg");
	out->width = w;
	out->height = h;
	return 0;
}

struct png_mem {
	const uint8_t *p;
	size_t len, off;
};

static void png_mem_read(png_structp png, png_bytep dst, size_t n)
{
	struct png_mem *m = png_get_io_ptr(png);

	if (n > m->len - m->off)
		png_error(png, "PNG header is longer than the bytes read");
	memcpy(dst, m->p + m->off, n);
	m->off += n;
}

static void png_quiet(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

static int probe_png(struct image_info *out, const uint8_t *head, size_t head_len,
		     const uint8_t *tail, size_t tail_len)
{
	struct png_mem mem = { head, head_len, 0 };
	png_structp png;
	png_infop info = NULL;
	png_uint_32 w = 0, h = 0;
	char msg[256] = "";
	volatile int error = 0;

	png = png_create_read_struct(PNG_LIBPNG_VER_STRING, msg, png_quiet, png_quiet);
	if (!png || !(info = png_create_info_struct(png))) {
		png_destroy_read_struct(&png, NULL, NULL);
		return err_set(-ENOMEM, "cannot start the PNG decoder");
	}
	if (setjmp(png_jmpbuf(png))) {
		error = err_set(-EINVAL, "bad PNG header");
		goto done;
	}
	png_set_read_fn(png, &mem, png_mem_read);
	png_read_info(png, info);
	w = png_get_image_width(png, info);
	h = png_get_image_height(png, info);
	if (tail_len < sizeof(png_iend) ||
	    memcmp(tail + tail_len - sizeof(png_iend), png_iend, sizeof(png_iend)) != 0) {
		error = err_set(-EINVAL, "truncated PNG: no IEND chunk at the end");
		goto done;
	}
	if (!w || !h) {
		error = err_set(-EINVAL, "PNG with zero size");
		goto done;
	}
	strcpy(out->ext, "png");
	out->width = w;
	out->height = h;
done:
	png_destroy_read_struct(&png, &info, NULL);
	return error;
}

int imageinfo_probe(struct image_info *out, const uint8_t *head, size_t head_len,
		    const uint8_t *tail, size_t tail_len, uint64_t size)
{
	memset(out, 0, sizeof(*out));
	if (size == 0)
		return err_set(-EINVAL, "empty file");
	if (head_len >= 3 && head[0] == 0xff && head[1] == 0xd8 && head[2] == 0xff)
		return probe_jpeg(out, head, head_len, tail, tail_len);
	if (head_len >= sizeof(png_sig) && !memcmp(head, png_sig, sizeof(png_sig)))
		return probe_png(out, head, head_len, tail, tail_len);
	return err_set(-EINVAL, "not a JPEG or PNG image (starts with %02x %02x %02x %02x)",
		       head_len > 0 ? head[0] : 0, head_len > 1 ? head[1] : 0,
		       head_len > 2 ? head[2] : 0, head_len > 3 ? head[3] : 0);
}

static int pread_all(int fd, uint8_t *dst, size_t len, off_t off, size_t *got)
{
	*got = 0;
	while (*got < len) {
		ssize_t n = pread(fd, dst + *got, len - *got, off + (off_t)*got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err_set(-errno, "read error: %s", strerror(errno));
		}
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	return 0;
}

int imageinfo_probe_fd(struct image_info *out, int fd, uint64_t size)
{
	size_t head_want = size < IMAGEINFO_HEAD ? (size_t)size : IMAGEINFO_HEAD;
	size_t tail_want = size < IMAGEINFO_TAIL ? (size_t)size : IMAGEINFO_TAIL;
	uint8_t *head = malloc(head_want + 1), tail[IMAGEINFO_TAIL];
	size_t head_len, tail_len;
	int error;

	if (!head)
		return err_set(-ENOMEM, "out of memory");
	if ((error = pread_all(fd, head, head_want, 0, &head_len)) < 0 ||
	    (error = pread_all(fd, tail, tail_want, (off_t)(size - tail_want), &tail_len)) < 0)
		goto done;
	error = imageinfo_probe(out, head, head_len, tail, tail_len, size);
	if (error == -EINVAL && head_len == IMAGEINFO_HEAD && size > IMAGEINFO_HEAD &&
	    !strncmp(err_last(), "bad ", 4)) {
		/* A header longer than our window (a huge EXIF block): try the whole file. */
		uint8_t *all = realloc(head, (size_t)size);
		if (!all) {
			error = err_set(-ENOMEM, "out of memory");
			goto done;
		}
		head = all;
		if ((error = pread_all(fd, head, (size_t)size, 0, &head_len)) == 0)
			error = imageinfo_probe(out, head, head_len, tail, tail_len, size);
	}
done:
	free(head);
	return error;
}
