/* Incremental and whole-file XXH3-128 (see blob_hash.h). */
#include "blob_hash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "util/err.h"

struct blob_hasher {
	XXH3_state_t *st;
};

int blob_hasher_new(struct blob_hasher **out)
{
	struct blob_hasher *h = calloc(1, sizeof(*h));

	if (!h || !(h->st = XXH3_createState())) {
		free(h);
		return err_set(-ENOMEM, "out of memory");
	}
	XXH3_128bits_reset(h->st);
	*out = h;
	return 0;
}

void blob_hasher_update(struct blob_hasher *h, const void *data, size_t len)
{
	XXH3_128bits_update(h->st, data, len);
}

void blob_hasher_digest(const struct blob_hasher *h, struct blob_id *out)
{
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(h->st));
	memcpy(out->b, c.digest, sizeof(out->b));
}

void blob_hasher_free(struct blob_hasher *h)
{
	if (!h)
		return;
	XXH3_freeState(h->st);
	free(h);
}

int blob_hash_fd(struct blob_id *out, int fd)
{
	struct blob_hasher *h;
	size_t bufsize = 1 << 20;
	char *buf = malloc(bufsize);
	off_t off = 0;
	int error;

	if (!buf)
		return err_set(-ENOMEM, "out of memory");
	if ((error = blob_hasher_new(&h)) < 0) {
		free(buf);
		return error;
	}
	for (;;) {
		ssize_t n = pread(fd, buf, bufsize, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			error = err_set(-errno, "read error while hashing: %s", strerror(errno));
			break;
		}
		if (n == 0)
			break;
		blob_hasher_update(h, buf, (size_t)n);
		off += n;
	}
	if (!error)
		blob_hasher_digest(h, out);
	blob_hasher_free(h);
	free(buf);
	return error;
}
