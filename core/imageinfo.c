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

/*
 * Whether the marker segments from SOI up to the first scan (SOS) or EOI
 * hold a frame header (SOF0..SOF15 but DHT, JPG, DAC).  Only asked of a
 * stream libjpeg already read, so an odd segment just ends the walk.
 */
static int jpeg_has_sof(const uint8_t *p, size_t len)
{
	size_t i = 2;

	while (i + 1 < len) {
		uint8_t m;

		if (p[i] != 0xff)
			return 0;
		while (i < len && p[i] == 0xff) /* fill bytes */
			i++;
		if (i >= len)
			return 0;
		m = p[i++];
		if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc)
			return 1;
		if (m == 0xda || m == 0xd9)
			return 0;
		if (m == 0x01 || (m >= 0xd0 && m <= 0xd8))
			continue; /* no length */
		if (i + 2 > len)
			return 0;
		i += ((size_t)p[i] << 8 | p[i + 1]);
	}
	return 0;
}

static int probe_jpeg(struct image_info *out, const uint8_t *head, size_t head_len,
		      const uint8_t *tail, size_t tail_len, int *short_head)
{
	tjhandle tj = tjInitDecompress();
	/* Zero: for a stream of tables only (no frame) libjpeg sets no size. */
	int w = 0, h = 0, subsamp, colorspace, rc, found_eoi = 0;

	if (!tj)
		return err_set(-ENOMEM, "cannot start the JPEG decoder");
	rc = tjDecompressHeader3(tj, head, (unsigned long)head_len, &w, &h, &subsamp, &colorspace);
	if (rc != 0) {
		*short_head = 1; /* perhaps a header longer than the bytes read */
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
	if (w <= 0 || h <= 0) {
		if (!jpeg_has_sof(head, head_len))
			return err_set(-EINVAL, "JPEG without a frame header (no SOF marker)");
		return err_set(-EINVAL, "JPEG with zero size (%dx%d)", w, h);
	}
	strcpy(out->ext, "jpg");
	out->width = w;
	out->height = h;
	return 0;
}

/*
 * The PNG probe's state, shared with libpng's callbacks (as both the read
 * and the error pointer).
 */
struct png_probe {
	const uint8_t *p;
	size_t len, off;   /* the bytes we have, and how far libpng read */
	int short_head;    /* libpng wanted more bytes than we have */
	char msg[160];     /* libpng's error */
};

/* The end of the PNG signature and IHDR chunk: an error before it is in the header. */
#define PNG_IHDR_END (8 + 4 + 4 + 13 + 4)

static void png_mem_read(png_structp png, png_bytep dst, size_t n)
{
	struct png_probe *m = png_get_io_ptr(png);

	if (n > m->len - m->off) {
		m->short_head = 1;
		png_error(png, "no more bytes");
	}
	memcpy(dst, m->p + m->off, n);
	m->off += n;
}

/*
 * libpng's error handler keeps the message for ours and jumps back itself:
 * a handler that returns makes libpng print "libpng error: ..." to stderr.
 */
static void png_on_error(png_structp png, png_const_charp msg)
{
	struct png_probe *m = png_get_error_ptr(png);

	snprintf(m->msg, sizeof(m->msg), "%s", msg);
	png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

/* The reason for libpng's error in `m` (size: of the whole file). */
static int png_reason(const struct png_probe *m, uint64_t size)
{
	if (m->short_head && m->len >= size)
		return err_set(-EINVAL, "truncated PNG: the file ends before the image data");
	if (m->short_head)
		return err_set(-EINVAL, "bad PNG header: longer than %zu bytes", m->len);
	if (m->off <= PNG_IHDR_END)
		return err_set(-EINVAL, "bad PNG header (%s)", m->msg);
	if (strstr(m->msg, "IEND") && strstr(m->msg, "out of place"))
		return err_set(-EINVAL, "PNG without image data (IEND before any IDAT chunk)");
	return err_set(-EINVAL, "truncated or corrupt PNG data (%s)", m->msg);
}

static int probe_png(struct image_info *out, const uint8_t *head, size_t head_len,
		     const uint8_t *tail, size_t tail_len, uint64_t size, int *short_head)
{
	struct png_probe m = { head, head_len, 0, 0, "" };
	png_structp png;
	png_infop info = NULL;
	png_uint_32 w = 0, h = 0;
	volatile int error = 0;

	png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &m, png_on_error, png_on_warning);
	if (!png || !(info = png_create_info_struct(png))) {
		png_destroy_read_struct(&png, NULL, NULL);
		return err_set(-ENOMEM, "cannot start the PNG decoder");
	}
	if (setjmp(png_jmpbuf(png))) {
		*short_head = m.short_head;
		error = png_reason(&m, size);
		goto done;
	}
	png_set_read_fn(png, &m, png_mem_read);
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

/*
 * imageinfo_probe; *short_head is set when the header may go on past
 * head_len bytes (worth a second try with more of the file).
 */
static int probe(struct image_info *out, const uint8_t *head, size_t head_len,
		 const uint8_t *tail, size_t tail_len, uint64_t size, int *short_head)
{
	memset(out, 0, sizeof(*out));
	*short_head = 0;
	if (size == 0)
		return err_set(-EINVAL, "empty file");
	if (head_len >= 3 && head[0] == 0xff && head[1] == 0xd8 && head[2] == 0xff)
		return probe_jpeg(out, head, head_len, tail, tail_len, short_head);
	if (head_len >= sizeof(png_sig) && !memcmp(head, png_sig, sizeof(png_sig)))
		return probe_png(out, head, head_len, tail, tail_len, size, short_head);
	return err_set(-EINVAL, "not a JPEG or PNG image (starts with %02x %02x %02x %02x)",
		       head_len > 0 ? head[0] : 0, head_len > 1 ? head[1] : 0,
		       head_len > 2 ? head[2] : 0, head_len > 3 ? head[3] : 0);
}

int imageinfo_probe(struct image_info *out, const uint8_t *head, size_t head_len,
		    const uint8_t *tail, size_t tail_len, uint64_t size)
{
	int short_head;

	return probe(out, head, head_len, tail, tail_len, size, &short_head);
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
	int error, short_head;

	if (!head)
		return err_set(-ENOMEM, "out of memory");
	if ((error = pread_all(fd, head, head_want, 0, &head_len)) < 0 ||
	    (error = pread_all(fd, tail, tail_want, (off_t)(size - tail_want), &tail_len)) < 0)
		goto done;
	error = probe(out, head, head_len, tail, tail_len, size, &short_head);
	if (error == -EINVAL && short_head && head_len == IMAGEINFO_HEAD && size > IMAGEINFO_HEAD) {
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
