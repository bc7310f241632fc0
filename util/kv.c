/* key=value control lines (see kv.h). */
#include "kv.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"

int kv_set(struct kv *kv, const char *key, const char *val)
{
	struct kv_pair *items;
	char *k, *v;

	for (size_t i = 0; i < kv->n; i++) {
		if (strcmp(kv->items[i].key, key))
			continue;
		if (!(v = strdup(val)))
			return err_set(-ENOMEM, "out of memory");
		free(kv->items[i].val);
		kv->items[i].val = v;
		return 0;
	}
	items = realloc(kv->items, (kv->n + 1) * sizeof(*items));
	if (!items)
		return err_set(-ENOMEM, "out of memory");
	kv->items = items;
	k = strdup(key);
	v = strdup(val);
	if (!k || !v) {
		free(k);
		free(v);
		return err_set(-ENOMEM, "out of memory");
	}
	kv->items[kv->n].key = k;
	kv->items[kv->n].val = v;
	kv->n++;
	return 0;
}

/* Read one word (honouring double quotes) from *p into `w`. */
static void next_word(const char **p, struct buf *w, int *quoted)
{
	const char *s = *p;
	int inq = 0;

	*quoted = 0;
	buf_reset(w);
	while (*s && (inq || !isspace((unsigned char)*s))) {
		if (*s == '"') {
			inq = !inq;
			*quoted = 1;
		} else {
			buf_put(w, s, 1);
		}
		s++;
	}
	*p = s;
}

int kv_parse(struct kv *out, const char *line)
{
	struct buf w = BUF_INIT;
	const char *p = line;
	int error = 0;

	while (*p) {
		int quoted;
		char *eq;

		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		next_word(&p, &w, &quoted);
		eq = strchr(w.ptr, '=');
		if (!eq || eq == w.ptr) {
			struct buf joined = BUF_INIT;
			struct kv_pair *last;

			if (!out->n) {
				error = err_set(-EINVAL, "expected key=value, got '%s'", w.ptr);
				break;
			}
			last = &out->items[out->n - 1];
			buf_printf(&joined, "%s %s", last->val, w.ptr);
			free(last->val);
			last->val = buf_detach(&joined, NULL);
			continue;
		}
		*eq = '\0';
		for (char *k = w.ptr; *k; k++) {
			if (!isalnum((unsigned char)*k) && *k != '_' && *k != '-') {
				error = err_set(-EINVAL, "bad key '%s'", w.ptr);
				goto done;
			}
		}
		if (kv_get(out, w.ptr, NULL)) {
			/* size=3 size=4: which one was meant is a guess; ask. */
			error = err_set(-EINVAL, "%s= given twice", w.ptr);
			goto done;
		}
		if ((error = kv_set(out, w.ptr, eq + 1)) < 0)
			break;
	}
done:
	buf_release(&w);
	return error;
}

const char *kv_get(const struct kv *kv, const char *key, const char *def)
{
	for (size_t i = 0; i < kv->n; i++)
		if (!strcmp(kv->items[i].key, key))
			return kv->items[i].val;
	return def;
}

int kv_get_int(const struct kv *kv, const char *key, int64_t def, int64_t min, int64_t max,
	       int64_t *out)
{
	const char *v = kv_get(kv, key, NULL);
	char *end;
	long long x;

	if (!v) {
		*out = def;
		return 0;
	}
	errno = 0;
	x = strtoll(v, &end, 10);
	if (errno || end == v || *end || x < min || x > max)
		return err_set(-EINVAL, "%s=%s: expected an integer from %lld to %lld", key, v,
			       (long long)min, (long long)max);
	*out = x;
	return 0;
}

int kv_check(const struct kv *kv, const char *verb, const char *const *allowed)
{
	for (size_t i = 0; i < kv->n; i++) {
		const char *const *a;

		for (a = allowed; *a; a++)
			if (!strcmp(*a, kv->items[i].key))
				break;
		if (!*a) {
			struct buf keys = BUF_INIT;
			int error;

			for (a = allowed; *a; a++)
				buf_printf(&keys, "%s%s=", a == allowed ? "" : " ", *a);
			error = err_set(-EINVAL, "%s: unknown key '%s' (known: %s)", verb,
					kv->items[i].key, keys.ptr);
			buf_release(&keys);
			return error;
		}
	}
	return 0;
}

void kv_release(struct kv *kv)
{
	for (size_t i = 0; i < kv->n; i++) {
		free(kv->items[i].key);
		free(kv->items[i].val);
	}
	free(kv->items);
	kv->items = NULL;
	kv->n = 0;
}
