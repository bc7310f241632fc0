/*
 * Parse a control line of `key=value` words, as written to /ctl/<verb> or
 * given on the command line: `label_set=default size=50 message=first labels`.
 * A word without '=' continues the previous value (so a commit message needs
 * no quoting); a value may also be double-quoted.  A key given twice is an
 * error: which of the two was meant would be a guess.
 */
#ifndef DSFS_UTIL_KV_H
#define DSFS_UTIL_KV_H

#include <stddef.h>
#include <stdint.h>

struct kv_pair {
	char *key;
	char *val;
};

struct kv {
	struct kv_pair *items;
	size_t n;
};

#define KV_INIT { NULL, 0 }

/* Parse `line` into `out` (caller releases).  -EINVAL with a message on a bad line. */
int kv_parse(struct kv *out, const char *line);
/* Add or replace `key`.  -ENOMEM. */
int kv_set(struct kv *kv, const char *key, const char *val);
/* The value of `key` (borrowed) or `def` if absent. */
const char *kv_get(const struct kv *kv, const char *key, const char *def);
/*
 * Integer value of `key` into *out (def if absent).  -EINVAL with a message
 * naming the key if the value is not an integer in [min, max].
 */
int kv_get_int(const struct kv *kv, const char *key, int64_t def, int64_t min, int64_t max,
	       int64_t *out);
/* -EINVAL naming the first key not in the NULL-terminated `allowed` list. */
int kv_check(const struct kv *kv, const char *verb, const char *const *allowed);
void kv_release(struct kv *kv);

#endif
