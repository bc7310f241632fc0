/*
 * Recognize an image by its magic bytes (never by its name) and read its
 * dimensions from the header: JPEG through libturbojpeg, PNG through libpng.
 * A file is also checked for truncation from its last bytes (a JPEG must
 * end with the EOI marker, a PNG with the IEND chunk), which catches a
 * partial upload without decoding the whole image.
 */
#ifndef DSFS_CORE_IMAGEINFO_H
#define DSFS_CORE_IMAGEINFO_H

#include <stddef.h>
#include <stdint.h>

struct image_info {
	char ext[8];          /* "jpg" | "png" */
	int64_t width, height;
};

/* How many leading / trailing bytes imageinfo_probe() wants. */
#define IMAGEINFO_HEAD (256 * 1024)
#define IMAGEINFO_TAIL 4096

/*
 * Probe a file of `size` bytes from its first `head_len` and last `tail_len`
 * bytes.  0 and *out filled if it is an acceptable image; -EINVAL with the
 * reason as the message ("not a JPEG or PNG image (starts with 23 69 6e 63)",
 * "truncated JPEG: no end-of-image marker", "empty file") otherwise.
 */
int imageinfo_probe(struct image_info *out, const uint8_t *head, size_t head_len,
		    const uint8_t *tail, size_t tail_len, uint64_t size);

/* Probe an open file (reads its head and tail with pread). */
int imageinfo_probe_fd(struct image_info *out, int fd, uint64_t size);

#endif
