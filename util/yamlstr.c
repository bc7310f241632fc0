/*
 * Strings as YAML scalars and comments (see yamlstr.h).  The rules are
 * PyYAML's (YAML 1.1), which is what Ultralytics and most tools read.
 */
#include "yamlstr.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int ieq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;

		if (x != *b)
			return 0;
	}
	return !*a && !*b;
}

/* One code point of valid UTF-8 at `s`; returns its length in bytes. */
static size_t utf8_dec(const char *s, uint32_t *cp)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = p[0] < 0x80 ? 0 : p[0] < 0xe0 ? 1 : p[0] < 0xf0 ? 2 : 3;

	*cp = n ? p[0] & (0x3f >> n) : p[0];
	for (size_t k = 1; k <= n; k++)
		*cp = (*cp << 6) | (p[k] & 0x3f);
	return n + 1;
}

/*
 * Code points a YAML reader will not take as they are: C0/C1 controls and
 * DEL (PyYAML rejects the stream), NEL and the line/paragraph separators
 * (line breaks in YAML 1.1, so folded inside quotes), BOM, U+FFFE/FFFF.
 * They force quoting and are written as escapes.
 */
static int yaml_special(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
	       cp == 0xfeff || cp == 0xfffe || cp == 0xffff;
}

/*
 * Whether `s` must be quoted to read back as this string.  Conservative:
 * quoting a string that did not need it is harmless, the reverse is not.
 * YAML 1.1 (PyYAML) resolves yes/no/on/off/y/n/true/false as booleans,
 * null/~ as null, and anything starting with a digit, sign or dot may be a
 * number or a timestamp; indicators at the start, ':' and '#' anywhere,
 * quotes, outer blanks and special code points all change the parse.
 */
static int yaml_needs_quotes(const char *s)
{
	static const char *const words[] = { "yes", "no", "y", "n", "true", "false", "on",
					     "off", "null", "~", "=", "<<" };
	size_t len = strlen(s), n;
	uint32_t cp;

	if (!len || s[0] == ' ' || s[len - 1] == ' ')
		return 1;
	if (strchr("-?:,[]{}#&*!|>'\"%@`+.0123456789", s[0]))
		return 1;
	for (const char *p = s; *p; p += n) {
		n = utf8_dec(p, &cp);
		if (strchr(":#\"'\\,[]{}", *p) || yaml_special(cp))
			return 1;
	}
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (ieq(s, words[i]))
			return 1;
	return 0;
}

/* `s` (valid UTF-8) as a YAML scalar: plain when that is safe, else double-quoted. */
int yaml_put_str(struct buf *out, const char *s)
{
	int error;

	if (!yaml_needs_quotes(s))
		return buf_puts(out, s);
	if ((error = buf_put(out, "\"", 1)) < 0)
		return error;
	for (const char *p = s; *p;) {
		uint32_t cp;
		size_t n = utf8_dec(p, &cp);

		switch (cp) {
		case '"': error = buf_puts(out, "\\\""); break;
		case '\\': error = buf_puts(out, "\\\\"); break;
		case '\n': error = buf_puts(out, "\\n"); break;
		case '\t': error = buf_puts(out, "\\t"); break;
		case '\r': error = buf_puts(out, "\\r"); break;
		default:
			if (!yaml_special(cp))
				error = buf_put(out, p, n);
			else if (cp <= 0xff)
				error = buf_printf(out, "\\x%02x", (unsigned)cp);
			else
				error = buf_printf(out, "\\u%04x", (unsigned)cp);
		}
		if (error < 0)
			return error;
		p += n;
	}
	return buf_put(out, "\"", 1);
}

/* A YAML comment ends at a line break: print `s` with special code points as '?'. */
int yaml_put_comment(struct buf *out, const char *s)
{
	int error;

	for (const char *p = s; *p;) {
		uint32_t cp;
		size_t n = utf8_dec(p, &cp);

		if ((error = yaml_special(cp) ? buf_put(out, "?", 1) : buf_put(out, p, n)) < 0)
			return error;
		p += n;
	}
	return 0;
}
