/*
 * The pipeline verbs, one table for both interfaces: a line written to
 * /ctl/<verb> in the mount and `dsfs <verb> key=value...` on the command
 * line run the same function with the same key=value arguments.
 * A verb appends its outcome to `out` as "key: value" lines; on failure it
 * returns a negative errno with the reason as the error message.
 */
#ifndef DSFS_CORE_VERBS_H
#define DSFS_CORE_VERBS_H

#include "util/buf.h"

struct repo;
struct kv;

struct verb {
	const char *name;
	int (*run)(struct repo *repo, const struct kv *args, struct buf *out);
	const char *usage;   /* the keys it takes */
	const char *summary;
};

/* The verb named `name`, or NULL. */
const struct verb *verb_find(const char *name);
/* All verbs, NULL-terminated by name. */
extern const struct verb verbs[];

/*
 * Parse `line` and run verb `name`.  The outcome, or "error: <reason>" on
 * failure, goes to `out`.
 */
int verb_run_line(struct repo *repo, const char *name, const char *line, struct buf *out);

#endif
