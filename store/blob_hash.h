/*
 * Blob names computed outside a put: incremental hashing for data that
 * arrives in pieces (files written through the mount are hashed as the
 * writes come in, so closing them costs no second read), and hashing of a
 * whole file.  Same XXH3-128 and byte order as store/blob.h.
 */
#ifndef DSFS_STORE_BLOB_HASH_H
#define DSFS_STORE_BLOB_HASH_H

#include <stddef.h>

#include "blob.h"

struct blob_hasher;

int blob_hasher_new(struct blob_hasher **out);
void blob_hasher_update(struct blob_hasher *h, const void *data, size_t len);
/* The name of everything fed so far (the hasher may be fed further). */
void blob_hasher_digest(const struct blob_hasher *h, struct blob_id *out);
void blob_hasher_free(struct blob_hasher *h);

/* Hash the whole file behind `fd` (read with pread from offset 0). */
int blob_hash_fd(struct blob_id *out, int fd);

#endif
