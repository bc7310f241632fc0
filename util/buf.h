/*
 * A growable byte buffer, after git's strbuf.
 *
 * Invariants: after buf_init() or BUF_INIT, `ptr` is never NULL and
 * ptr[len] == '\0', so a buffer can always be used as a C string.
 * buf_detach() is the only way to take ownership of `ptr`.
 */
#ifndef DSFS_UTIL_BUF_H
#define DSFS_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "err.h"

struct buf {
	char *ptr;
	size_t len;
	size_t cap; /* 0 while ptr points at the shared empty string */
};

extern char buf_empty[];
#define BUF_INIT { buf_empty, 0, 0 }

void buf_init(struct buf *b);
/* Free the contents; `b` is left empty and reusable. */
void buf_release(struct buf *b);
/* Take the contents (caller frees with free()); `b` is left empty. */
char *buf_detach(struct buf *b, size_t *len_out);
/* Make room for `extra` more bytes.  -ENOMEM on failure. */
int buf_grow(struct buf *b, size_t extra);
int buf_put(struct buf *b, const void *data, size_t len);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) ERR_PRINTF(2, 3);
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
void buf_reset(struct buf *b); /* len = 0, keeps the allocation */
/* Append `s` as a TSV field: backslash, tab, newline and CR as \\, \t, \n, \r. */
int buf_put_tsv(struct buf *b, const char *s);

#endif
