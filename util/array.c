#include "array.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

int array_grow(void **v, size_t *cap, size_t n, size_t elem)
{
	size_t ncap;
	void *nv;

	if (n < *cap)
		return 0;
	for (ncap = *cap ? *cap : 16; ncap <= n; ncap *= 2)
		if (ncap > SIZE_MAX / 2 / (elem ? elem : 1))
			return err_set(-ENOMEM, "out of memory (an array of more than %zu elements)", n);
	if (!(nv = realloc(*v, ncap * elem)))
		return err_set(-ENOMEM, "out of memory");
	*v = nv;
	*cap = ncap;
	return 0;
}

int array_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}
