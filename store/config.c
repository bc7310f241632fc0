/*
 * dsfs.yaml reader (see config.h).
 *
 * libyaml's event parser drives a small stack of open collections; each
 * scalar value is stored under the dotted path of the collections above it
 * ("cvat.url", "train.classes.0").  The table is sorted once at the end and
 * searched with bsearch, so a lookup is O(log n) and the struct is read-only
 * (hence safe to share between threads) after config_load() returns.
 *
 * Choices worth knowing:
 *  - a plain null value (`key:`, `key: ~`, `key: null`) is not stored, so the
 *    caller's default applies; a quoted "" is stored as the empty string;
 *  - a duplicate key, an alias, a non-scalar key or a top level that is not
 *    a mapping is an error with the position of the offending node;
 *  - only the first YAML document is read.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "util/array.h"
#include "util/buf.h"
#include "util/err.h"

struct config_entry {
	char *key;
	char *val;
};

struct config {
	struct config_entry *items; /* sorted by key after load */
	size_t n, cap;
	char *dir;                  /* directory of the file; relative secret files start here */
};

/* One open collection while parsing. */
struct frame {
	int is_seq;
	size_t idx;        /* sequences: index of the next item */
	char *key;         /* mappings: the pending key, NULL while a key is expected */
	yaml_mark_t key_mark; /* where that key is, for a duplicate-key error */
	size_t path_len;   /* length of the path prefix of this collection */
};

struct parse {
	const char *file;
	struct config *cfg;
	struct frame *stack;
	size_t depth, cap;
	struct buf path;   /* dotted path of the innermost open collection */
};

int config_new(struct config **out)
{
	if (!(*out = calloc(1, sizeof(**out))))
		return err_set(-ENOMEM, "out of memory");
	return 0;
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n; i++) {
		free(cfg->items[i].key);
		free(cfg->items[i].val);
	}
	free(cfg->items);
	free(cfg->dir);
	free(cfg);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct config_entry *)a)->key, ((const struct config_entry *)b)->key);
}

static const struct config_entry *find(const struct config *cfg, const char *key)
{
	struct config_entry k = { (char *)key, NULL };

	if (!cfg || !cfg->n)
		return NULL;
	return bsearch(&k, cfg->items, cfg->n, sizeof(k), cmp_entry);
}

static int mark_err(const struct parse *p, int code, const yaml_mark_t *m, const char *fmt,
		    const char *arg)
{
	char what[512];

	snprintf(what, sizeof(what), fmt, arg);
	return err_set(code, "%s:%zu:%zu: %s", p->file, m->line + 1, m->column + 1, what);
}

/* The dotted path of the current slot of the innermost collection, into p->path. */
static int slot_path(struct parse *p)
{
	struct frame *f = &p->stack[p->depth - 1];
	int error;

	p->path.len = f->path_len;
	p->path.ptr[p->path.len] = '\0';
	if (p->path.len && (error = buf_puts(&p->path, ".")) < 0)
		return error;
	if (f->is_seq)
		return buf_printf(&p->path, "%zu", f->idx);
	return buf_puts(&p->path, f->key);
}

/* The current slot was filled: move to the next one. */
static void slot_done(struct parse *p)
{
	struct frame *f;

	if (!p->depth)
		return;
	f = &p->stack[p->depth - 1];
	if (f->is_seq) {
		f->idx++;
	} else {
		free(f->key);
		f->key = NULL;
	}
}

static int push(struct parse *p, int is_seq, const yaml_mark_t *m)
{
	size_t path_len = 0;
	int error;

	if (p->depth) {
		if ((error = slot_path(p)) < 0)
			return error;
		path_len = p->path.len;
	} else if (is_seq) {
		return mark_err(p, -EINVAL, m, "%s", "the top level must be a mapping");
	}
	if ((error = array_grow((void **)&p->stack, &p->cap, p->depth, sizeof(*p->stack))) < 0)
		return error;
	p->stack[p->depth++] = (struct frame){ .is_seq = is_seq, .path_len = path_len };
	return 0;
}

static void pop(struct parse *p)
{
	free(p->stack[p->depth - 1].key);
	p->depth--;
	slot_done(p);
}

static int is_plain_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

static int add(struct parse *p, const char *key, const char *val, const yaml_mark_t *m)
{
	struct config *cfg = p->cfg;
	char *k, *v;
	int error;

	/* Duplicates are found by a linear scan: dsfs.yaml has tens of keys. */
	for (size_t i = 0; i < cfg->n; i++)
		if (!strcmp(cfg->items[i].key, key))
			return mark_err(p, -EINVAL, m, "duplicate key '%s'", key);
	if ((error = array_grow((void **)&cfg->items, &cfg->cap, cfg->n, sizeof(*cfg->items))) < 0)
		return error;
	k = strdup(key);
	v = strdup(val);
	if (!k || !v) {
		free(k);
		free(v);
		return err_set(-ENOMEM, "out of memory");
	}
	cfg->items[cfg->n].key = k;
	cfg->items[cfg->n].val = v;
	cfg->n++;
	return 0;
}

static int on_scalar(struct parse *p, const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	struct frame *f;
	int error;

	if (!p->depth) {
		if (is_plain_null(ev))
			return 0; /* an empty document */
		return mark_err(p, -EINVAL, &ev->start_mark, "%s", "the top level must be a mapping");
	}
	f = &p->stack[p->depth - 1];
	if (!f->is_seq && !f->key) {
		if (!*v)
			return mark_err(p, -EINVAL, &ev->start_mark, "%s", "empty key");
		if (!(f->key = strdup(v)))
			return err_set(-ENOMEM, "out of memory");
		f->key_mark = ev->start_mark;
		return 0;
	}
	if (!is_plain_null(ev)) {
		if ((error = slot_path(p)) < 0 ||
		    (error = add(p, p->path.ptr, v, f->is_seq ? &ev->start_mark : &f->key_mark)) < 0)
			return error;
	}
	slot_done(p);
	return 0;
}

static int parse_events(struct parse *p, yaml_parser_t *parser)
{
	int error = 0, docs = 0;

	for (;;) {
		yaml_event_t ev;

		if (!yaml_parser_parse(parser, &ev)) {
			const char *problem = parser->problem ? parser->problem : "invalid YAML";

			if (parser->context)
				return err_set(-EINVAL, "%s:%zu:%zu: %s %s", p->file,
					       parser->problem_mark.line + 1,
					       parser->problem_mark.column + 1, problem,
					       parser->context);
			return err_set(-EINVAL, "%s:%zu:%zu: %s", p->file,
				       parser->problem_mark.line + 1,
				       parser->problem_mark.column + 1, problem);
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			yaml_event_delete(&ev);
			return 0;
		case YAML_DOCUMENT_START_EVENT:
			/* Read the first document only; the rest of the stream is ignored. */
			if (docs++) {
				yaml_event_delete(&ev);
				return 0;
			}
			break;
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			if (p->depth && !p->stack[p->depth - 1].is_seq && !p->stack[p->depth - 1].key)
				error = mark_err(p, -EINVAL, &ev.start_mark, "%s",
						 "a key must be a plain value");
			else
				error = push(p, ev.type == YAML_SEQUENCE_START_EVENT, &ev.start_mark);
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			pop(p);
			break;
		case YAML_SCALAR_EVENT:
			error = on_scalar(p, &ev);
			break;
		case YAML_ALIAS_EVENT:
			error = mark_err(p, -EINVAL, &ev.start_mark, "%s",
					 "aliases (*name) are not supported");
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (error < 0)
			return error;
	}
}

int config_load(struct config **out, const char *path)
{
	struct parse p = { .file = path, .path = BUF_INIT };
	struct config *cfg = NULL;
	yaml_parser_t parser;
	int parser_ok = 0, error;
	FILE *f;

	*out = NULL;
	if (!(f = fopen(path, "rbe"))) {
		if (errno == ENOENT)
			return config_new(out);
		return err_set(-errno, "cannot open %s: %s", path, strerror(errno));
	}
	if ((error = config_new(&cfg)) < 0)
		goto done;
	p.cfg = cfg;
	{
		const char *slash = strrchr(path, '/');

		if (slash && !(cfg->dir = strndup(path, slash == path ? 1 : (size_t)(slash - path)))) {
			error = err_set(-ENOMEM, "out of memory");
			goto done;
		}
	}
	if (!yaml_parser_initialize(&parser)) {
		error = err_set(-ENOMEM, "out of memory");
		goto done;
	}
	parser_ok = 1;
	yaml_parser_set_input_file(&parser, f);
	if ((error = parse_events(&p, &parser)) < 0)
		goto done;
	if (cfg->n)
		qsort(cfg->items, cfg->n, sizeof(*cfg->items), cmp_entry);
	*out = cfg;
	cfg = NULL;
done:
	while (p.depth)
		pop(&p);
	free(p.stack);
	buf_release(&p.path);
	if (parser_ok)
		yaml_parser_delete(&parser);
	fclose(f);
	config_free(cfg);
	return error;
}

const char *config_get(const struct config *cfg, const char *key, const char *def)
{
	const struct config_entry *e = find(cfg, key);

	return e ? e->val : def;
}

int config_get_int(const struct config *cfg, const char *key, int64_t def, int64_t *out)
{
	const char *v = config_get(cfg, key, NULL);
	const char *s;
	char *end;
	long long x;

	if (!v) {
		*out = def;
		return 0;
	}
	s = v;
	if (*s == '+' || *s == '-')
		s++;
	errno = 0;
	/* Decimal, or 0x hex; never octal from a leading 0 ("010" is ten). */
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		x = strtoll(v, &end, 16);
	else
		x = strtoll(v, &end, 10);
	if (!isdigit((unsigned char)*s) || *end || errno == ERANGE)
		return err_set(-EINVAL, "dsfs.yaml: %s: expected an integer, got '%s'", key, v);
	*out = x;
	return 0;
}

int config_get_double(const struct config *cfg, const char *key, double def, double *out)
{
	const char *v = config_get(cfg, key, NULL);
	char *end;
	double x;

	if (!v) {
		*out = def;
		return 0;
	}
	errno = 0;
	x = strtod(v, &end);
	if (!*v || isspace((unsigned char)*v) || *end || errno == ERANGE || !isfinite(x))
		return err_set(-EINVAL, "dsfs.yaml: %s: expected a number, got '%s'", key, v);
	*out = x;
	return 0;
}

int config_get_bool(const struct config *cfg, const char *key, int def, int *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	const char *v = config_get(cfg, key, NULL);

	if (!v) {
		*out = def;
		return 0;
	}
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(v, yes[i])) {
			*out = 1;
			return 0;
		}
		if (!strcasecmp(v, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return err_set(-EINVAL, "dsfs.yaml: %s: expected true or false, got '%s'", key, v);
}

/* First line of the secret file at `path`, refusing one others can read. */
static int secret_from_file(char **out, const char *key, const char *path)
{
	char data[4096];
	struct stat st;
	ssize_t n;
	size_t len;
	int fd, error = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return err_set(-errno, "secret %s: cannot open %s_file %s: %s", key, key, path,
			       strerror(errno));
	/* fstat on the open file: the mode checked is the mode of the file read. */
	if (fstat(fd, &st) < 0) {
		error = err_set(-errno, "secret %s: cannot stat %s: %s", key, path, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		error = err_set(-EINVAL, "secret %s: %s is not a regular file", key, path);
		goto done;
	}
	if (st.st_mode & 077) {
		error = err_set(-EACCES,
				"secret %s: %s is readable by group or others (mode %04o); "
				"run chmod 600 on it",
				key, path, (unsigned)(st.st_mode & 07777));
		goto done;
	}
	do
		n = read(fd, data, sizeof(data) - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		error = err_set(-errno, "secret %s: cannot read %s: %s", key, path, strerror(errno));
		goto done;
	}
	data[n] = '\0';
	len = strcspn(data, "\n");
	if (len && data[len - 1] == '\r')
		len--;
	if (!len) {
		error = err_set(-EINVAL, "secret %s: %s is empty", key, path);
		goto done;
	}
	if (!(*out = strndup(data, len)))
		error = err_set(-ENOMEM, "out of memory");
done:
	/* The secret must not linger on the stack. */
	explicit_bzero(data, sizeof(data));
	close(fd);
	return error;
}

int config_secret(char **out, const struct config *cfg, const char *key)
{
	char name[256];
	const char *env_name, *file, *v;

	*out = NULL;
	if (snprintf(name, sizeof(name), "%s_env", key) >= (int)sizeof(name))
		return err_set(-EINVAL, "secret key too long: %.64s", key);
	env_name = config_get(cfg, name, NULL);
	if (env_name && (v = getenv(env_name)) && *v) {
		if (!(*out = strdup(v)))
			return err_set(-ENOMEM, "out of memory");
		return 0;
	}
	snprintf(name, sizeof(name), "%s_file", key);
	file = config_get(cfg, name, NULL);
	if (file) {
		char full[4096];

		/* Relative to dsfs.yaml, not to the cwd (a daemon's cwd is "/"). */
		if (file[0] != '/' && cfg->dir &&
		    snprintf(full, sizeof(full), "%s/%s", cfg->dir, file) < (int)sizeof(full))
			return secret_from_file(out, key, full);
		return secret_from_file(out, key, file);
	}
	if (env_name)
		return err_set(-ENOENT, "secret %s: environment variable %s is not set and no %s_file "
			       "is configured", key, env_name, key);
	return err_set(-ENOENT, "secret %s: dsfs.yaml has neither %s_env nor %s_file", key, key,
		       key);
}
