/*
 * Strings written into YAML (dataset.yaml, export_info.yaml, a version's
 * VERSION file) so that a YAML 1.1 reader such as PyYAML reads back the
 * same string: plain when safe, else double-quoted with escapes.  Input
 * must be valid UTF-8 (see utf8.h).
 */
#ifndef DSFS_UTIL_YAMLSTR_H
#define DSFS_UTIL_YAMLSTR_H

#include "util/buf.h"

/* `s` as a YAML scalar: plain when that is safe, else double-quoted. */
int yaml_put_str(struct buf *out, const char *s);

/* `s` inside a YAML comment, which ends at a line break: special code points become '?'. */
int yaml_put_comment(struct buf *out, const char *s);

#endif
