/*
 * Growing a plain C array (pointer, count, capacity) by doubling: the one
 * loop every module that collects rows, names or queue entries needs.
 */
#ifndef DSFS_UTIL_ARRAY_H
#define DSFS_UTIL_ARRAY_H

#include <stddef.h>

/*
 * Make room for element n of the array *v of elements of `elem` bytes whose
 * capacity is *cap: nothing if n < *cap, else double the capacity (16 at
 * first) until it fits.  On failure (-ENOMEM, with a message) *v and *cap
 * are unchanged.
 */
int array_grow(void **v, size_t *cap, size_t n, size_t elem);

/* qsort/bsearch comparator for an array of C strings (char *), in strcmp order. */
int array_cmp_str(const void *a, const void *b);

#endif
