/*
 * UTF-8 checks for names that end up in YAML, JSON and directory names
 * (class names, label sets, file names): a byte string that is not UTF-8
 * makes the YAML of an export unreadable, so it is refused where it comes in.
 */
#ifndef DSFS_UTIL_UTF8_H
#define DSFS_UTIL_UTF8_H

#include <stddef.h>

/*
 * Length (2-4) of the well-formed multi-byte UTF-8 sequence at p, which
 * must end before `end`; 0 if there is none (a byte below 0x80 included).
 */
size_t utf8_seq(const unsigned char *p, const unsigned char *end);

/* 1 if the NUL-terminated `s` is well-formed UTF-8 (no overlong forms, surrogates or values past U+10FFFF). */
int utf8_valid(const char *s);

/* 1 if `s` holds a control character (U+0000-U+001F or U+007F). */
int utf8_has_control(const char *s);

#endif
