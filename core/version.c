/*
 * Dataset versions (see version.h): commit the working state as manifests
 * (core/manifest) into git (store/history), and read versions back for the
 * mount, log/diff/show, push, fsck and materialized exports.
 *
 * Atomicity of a commit: history_commit() makes the tag the moment a
 * version exists (objects first, tag, then main).  The catalog row comes
 * after the tag; a crash in between leaves a tag without a row, which
 * version_reconcile() adds back from the tag and its summary.tsv.  So a
 * crash leaves either no new version or a complete one.
 *
 * A version read back never changes (its commit is immutable), so parsed
 * versions and their exports are cached by callers (fs/node_versions.c).
 */
#include "version.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/export.h"
#include "core/export_catalog.h"
#include "core/manifest.h"
#include "core/repo.h"
#include "store/blob.h"
#include "store/catalog.h"
#include "store/config.h"
#include "store/history.h"
#include "sync/remote.h"
#include "util/array.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/utf8.h"
#include "util/yamlstr.h"

struct version {
	struct repo *repo;               /* borrowed */
	struct version_info info;
	struct manifest_images images;
	struct manifest_exclusions excl;
	char **label_sets;
	size_t n_label_sets;
};

/*
 * Prefix the current error message with "<tag> (<commit>): ".  err_last()
 * points into the slot err_set() writes, so the message is copied first.
 */
static int err_wrap(int code, const char *tag, const char *commit)
{
	char msg[1024];

	snprintf(msg, sizeof(msg), "%s", err_last());
	return err_set(code, "%s (%.12s): %s", tag, commit, msg);
}

static void info_from(struct version_info *out, const struct history_version *hv)
{
	memset(out, 0, sizeof(*out));
	out->number = hv->number;
	snprintf(out->tag, sizeof(out->tag), "%s", hv->tag);
	snprintf(out->commit, sizeof(out->commit), "%s", hv->commit);
	fs_iso8601(out->created_at, sizeof(out->created_at), hv->time ? hv->time : 1);
	snprintf(out->message, sizeof(out->message), "%s", hv->message ? hv->message : "");
}

/* A whole file of the commit's tree as a malloc'ed NUL-terminated string.  -ENOENT if absent. */
static int read_file(char **out, size_t *len, struct history *h, const char *commit, const char *path)
{
	struct buf b = BUF_INIT;
	int error;

	*out = NULL;
	*len = 0;
	if ((error = history_read(&b, h, commit, path)) < 0) {
		buf_release(&b);
		return error;
	}
	if (!b.cap && (error = buf_grow(&b, 1)) < 0) /* an empty file: own the allocation */
		return error;
	*out = buf_detach(&b, len);
	return 0;
}

static int read_summary(struct version_info *info, struct history *h)
{
	struct manifest_summary s;
	char *text;
	size_t len;
	int error;

	if ((error = read_file(&text, &len, h, info->commit, "summary.tsv")) < 0) {
		if (error == -ENOENT)
			error = err_set(-EIO, "version %s (%.12s) has no summary.tsv: not a dsfs version",
					*info->tag ? info->tag : "?", info->commit);
		return error;
	}
	error = manifest_summary_parse(&s, text, len, "summary.tsv");
	free(text);
	if (error)
		return error;
	info->n_images = s.n_images;
	info->n_labeled = s.n_labeled;
	return 0;
}

int version_resolve(struct version_info *out, struct repo *repo, const char *spec)
{
	struct history_version hv = HISTORY_VERSION_INIT;
	struct history *h;
	int error;

	if ((error = repo_history(&h, repo)) < 0 || (error = history_resolve(&hv, h, spec)) < 0)
		return error;
	info_from(out, &hv);
	history_version_release(&hv);
	return read_summary(out, h);
}

/* ---- commit ---- */

/*
 * The safety net of version_commit(): a working state without images
 * while HEAD has some is refused unless forced.
 */
static int check_not_emptied(struct repo *repo, const struct manifest_set *m)
{
	struct version_info head;

	if (m->n_images > 0)
		return 0;
	if (version_resolve(&head, repo, "HEAD") < 0) {
		err_clear();
		return 0; /* no version yet (or an unreadable one: history_commit says so) */
	}
	if (head.n_images == 0)
		return 0;
	return err_set(-EPERM, "the working state is empty but %s has %" PRId64 " images: run "
		       "'dsfs checkout %s' first to get them, or force=yes (dsfs commit --force) to "
		       "commit an empty dataset", *head.tag ? head.tag : head.commit, head.n_images,
		       *head.tag ? head.tag : head.commit);
}

int version_commit(struct version_info *out, struct repo *repo, const char *message,
		   enum version_commit_flags flags)
{
	struct manifest_set m;
	struct history_file *files = NULL;
	struct history_version hv = HISTORY_VERSION_INIT;
	struct catalog_version row;
	struct history *h;
	int error;

	if (out)
		memset(out, 0, sizeof(*out));
	if (!message || !message[strspn(message, " \t\n")])
		return err_set(-EINVAL, "a version needs a message that says what changed (it is empty)");
	if (!utf8_valid(message))
		return err_set(-EINVAL, "the message is not UTF-8 text");
	if ((error = repo_history(&h, repo)) < 0)
		return error;
	if ((error = manifest_build(&m, repo)) < 0)
		return error;
	if (!(flags & VERSION_COMMIT_FORCE) && (error = check_not_emptied(repo, &m)) < 0)
		goto done;
	if (!(files = calloc(m.n, sizeof(*files)))) {
		error = err_set(-ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < m.n; i++)
		files[i] = (struct history_file){ m.files[i].path, m.files[i].data.ptr, m.files[i].data.len };
	if ((error = history_commit(&hv, h, files, m.n, message && *message ? message : "dsfs version",
				    config_get(repo->cfg, "author.name", "dsfs"),
				    config_get(repo->cfg, "author.email", "dsfs@localhost"))) < 0)
		goto done;
	/* The version exists (tagged).  The catalog row is a cache of it. */
	memset(&row, 0, sizeof(row));
	row.number = hv.number;
	snprintf(row.tag, sizeof(row.tag), "%s", hv.tag);
	snprintf(row.commit_id, sizeof(row.commit_id), "%s", hv.commit);
	fs_iso8601(row.created_at, sizeof(row.created_at), hv.time);
	snprintf(row.message, sizeof(row.message), "%s", hv.message ? hv.message : "");
	row.n_images = m.n_images;
	row.n_labeled = m.n_labeled;
	if (catalog_version_put(repo->cat, &row) < 0)
		LOG_W("%s committed, but the catalog did not record it (repaired on next log): %s",
		      hv.tag, err_last());
	if (out) {
		info_from(out, &hv);
		out->n_images = m.n_images;
		out->n_labeled = m.n_labeled;
	}
	LOG_I("committed %s (%.12s): %" PRId64 " images, %" PRId64 " labeled", hv.tag, hv.commit,
	      m.n_images, m.n_labeled);
done:
	history_version_release(&hv);
	free(files);
	manifest_set_release(&m);
	return error;
}

/* ---- reading a version ---- */

int version_open(struct version **out, struct repo *repo, const char *spec)
{
	struct version *v;
	struct history *h;
	struct history_version hv = HISTORY_VERSION_INIT;
	struct buf names = BUF_INIT;
	char *text = NULL;
	size_t len, n = 0;
	int error;

	*out = NULL;
	if ((error = repo_history(&h, repo)) < 0 || (error = history_resolve(&hv, h, spec)) < 0)
		return error;
	if (!(v = calloc(1, sizeof(*v)))) {
		history_version_release(&hv);
		return err_set(-ENOMEM, "out of memory");
	}
	v->repo = repo;
	info_from(&v->info, &hv);
	history_version_release(&hv);
	if ((error = read_summary(&v->info, h)) < 0)
		goto fail;
	if ((error = read_file(&text, &len, h, v->info.commit, "images.tsv")) < 0)
		goto fail_msg;
	error = manifest_images_parse(&v->images, text, len, "images.tsv");
	text = NULL; /* consumed */
	if (error < 0)
		goto fail_msg;
	error = read_file(&text, &len, h, v->info.commit, "exclusions.tsv");
	if (error == -ENOENT) {
		error = (text = strdup("")) ? 0 : err_set(-ENOMEM, "out of memory");
		len = 0;
	}
	if (error < 0)
		goto fail_msg;
	error = manifest_exclusions_parse(&v->excl, text, len, "exclusions.tsv");
	text = NULL; /* consumed */
	if (error < 0)
		goto fail_msg;
	error = history_list_dir(&names, &n, h, v->info.commit, "label_sets");
	if (error == -ENOENT) {
		error = 0;
		n = 0;
	}
	if (error < 0)
		goto fail_msg;
	if (n && !(v->label_sets = calloc(n, sizeof(char *)))) {
		error = err_set(-ENOMEM, "out of memory");
		goto fail;
	}
	for (const char *p = names.ptr; v->n_label_sets < n; p += strlen(p) + 1) {
		if (!(v->label_sets[v->n_label_sets] = strdup(p))) {
			error = err_set(-ENOMEM, "out of memory");
			goto fail;
		}
		v->n_label_sets++;
	}
	qsort(v->label_sets, v->n_label_sets, sizeof(char *), array_cmp_str);
	buf_release(&names);
	*out = v;
	return 0;
fail_msg:
	if (error == -EIO)
		err_wrap(-EIO, *v->info.tag ? v->info.tag : spec, v->info.commit);
fail:
	free(text);
	buf_release(&names);
	version_free(v);
	return error;
}

void version_free(struct version *v)
{
	if (!v)
		return;
	manifest_images_release(&v->images);
	manifest_exclusions_release(&v->excl);
	for (size_t i = 0; i < v->n_label_sets; i++)
		free(v->label_sets[i]);
	free(v->label_sets);
	free(v);
}

const struct version_info *version_get_info(const struct version *v)
{
	return &v->info;
}

size_t version_image_count(const struct version *v)
{
	return v->images.n;
}

const struct manifest_image *version_image_at(const struct version *v, size_t i)
{
	return i < v->images.n ? &v->images.v[i] : NULL;
}

const struct manifest_image *version_image_find(const struct version *v, const char *id)
{
	return manifest_image_find(&v->images, id);
}

void version_image_range(const struct version *v, const char *prefix, size_t *first, size_t *count)
{
	size_t plen = strlen(prefix), lo = 0, hi = v->images.n, start;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strncmp(v->images.v[mid].id, prefix, plen) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	start = lo;
	hi = v->images.n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strncmp(v->images.v[mid].id, prefix, plen) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*first = start;
	*count = lo - start;
}

size_t version_label_set_count(const struct version *v)
{
	return v->n_label_sets;
}

const char *version_label_set_name(const struct version *v, size_t i)
{
	return i < v->n_label_sets ? v->label_sets[i] : NULL;
}

/* Read and parse label_sets/<name>/ of the version. */
static int load_label_set(struct manifest_label_set *out, struct version *v, const char *name)
{
	static const char *const files[] = { "classes.txt", "config.yaml", "labels.tsv", "annotations.tsv" };
	struct history *h;
	char *text[4] = { NULL, NULL, NULL, NULL };
	size_t len[4] = { 0, 0, 0, 0 };
	char dir[300], path[340];
	int found = 0, error;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < v->n_label_sets; i++)
		found |= !strcmp(v->label_sets[i], name);
	if (!found)
		return err_set(-ENOENT, "version %s has no label set '%s'", v->info.tag, name);
	if ((error = repo_history(&h, v->repo)) < 0)
		return error;
	snprintf(dir, sizeof(dir), "label_sets/%s", name);
	for (int k = 0; k < 4; k++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[k]);
		if ((error = read_file(&text[k], &len[k], h, v->info.commit, path)) < 0 && error != -ENOENT)
			break;
		error = 0;
	}
	if (error) {
		for (int k = 0; k < 4; k++)
			free(text[k]);
		return error;
	}
	return manifest_label_set_parse(out, dir, text[0], len[0], text[1], len[1], text[2], len[2],
					text[3], len[3]);
}

int version_label_set(struct manifest_label_set *out, struct version *v, const char *label_set)
{
	int error = load_label_set(out, v, label_set);

	if (error == -EIO)
		err_wrap(-EIO, *v->info.tag ? v->info.tag : "version", v->info.commit);
	return error;
}

const struct manifest_exclusions *version_exclusions(const struct version *v)
{
	return &v->excl;
}

int version_export(struct export **out, struct version *v, const char *label_set, const char *root)
{
	struct manifest_label_set ls;
	struct export_params p = { .label_set = label_set, .version = v->info.tag, .root = root };
	struct export_image *images = NULL;
	struct export_ann *anns;
	size_t ni = 0, na;
	int error;

	*out = NULL;
	if (!*v->info.tag)
		p.version = v->info.commit;
	if ((error = load_label_set(&ls, v, label_set)) < 0) {
		if (error == -EIO)
			err_wrap(-EIO, v->info.tag, v->info.commit);
		return error;
	}
	p.split = ls.split;
	p.seed = ls.seed;
	if (ls.n_labeled && !(images = malloc(ls.n_labeled * sizeof(*images)))) {
		error = err_set(-ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < ls.n_labeled; i++) {
		const char *id = ls.labeled[i];
		const struct manifest_image *im = manifest_image_find(&v->images, id);
		struct export_image *e;

		if (!im) {
			error = err_set(-EIO, "%s (%.12s): label_sets/%s/labels.tsv names image %s, "
					"which images.tsv lacks", v->info.tag, v->info.commit, label_set, id);
			goto fail;
		}
		if (manifest_excluded(&v->excl, id, label_set))
			continue; /* its boxes stay in the array, unreferenced */
		e = &images[ni++];
		memset(e, 0, sizeof(*e));
		memcpy(e->id, im->id, sizeof(e->id));
		memcpy(e->ext, im->ext, sizeof(e->ext));
		e->bytes = im->bytes;
		e->width = im->width;
		e->height = im->height;
		e->first_ann = ls.first_box[i];
		e->n_anns = ls.n_box[i];
	}
	/* The boxes go to the index as they are: no copy. */
	anns = ls.boxes;
	na = ls.n_boxes;
	ls.boxes = NULL;
	error = export_build(out, &p, (const char *const *)ls.classes, ls.n_classes, images, ni, anns, na);
	if (error == -EINVAL)
		error = err_wrap(-EIO, v->info.tag, v->info.commit);
	manifest_label_set_release(&ls);
	return error;
fail:
	free(images);
	manifest_label_set_release(&ls);
	return error;
}

/*
 * A commit message (or author) in our text outputs: as a YAML string in
 * VERSION (`oneline` 0), or its first line with control characters shown
 * as '?' in the log (`oneline` 1: one line per version, and no terminal
 * escapes).  Bytes that are not UTF-8 (git takes any) become '?' first.
 */
static int put_text(struct buf *out, const char *text, int oneline)
{
	char *s = strdup(text);
	int error;

	if (!s)
		return err_set(-ENOMEM, "out of memory");
	if (oneline)
		s[strcspn(s, "\n")] = '\0';
	if (!utf8_valid(s))
		for (char *c = s; *c; c++)
			if ((unsigned char)*c >= 0x80)
				*c = '?';
	error = oneline ? yaml_put_comment(out, s) : yaml_put_str(out, s);
	free(s);
	return error;
}

/* ---- text: VERSION, log, diff ---- */

int version_describe(struct buf *out, struct repo *repo, const char *spec)
{
	struct history_version hv = HISTORY_VERSION_INIT;
	struct version_info info;
	struct history *h;
	char *text = NULL;
	size_t len;
	int error;

	if ((error = repo_history(&h, repo)) < 0 || (error = history_resolve(&hv, h, spec)) < 0)
		return error;
	info_from(&info, &hv);
	if ((error = read_file(&text, &len, h, info.commit, "summary.tsv")) < 0 ||
	    (error = read_summary(&info, h)) < 0)
		goto done;
	buf_printf(out, "version: %s\ncommit: %s\ndate: %s\nauthor: ", *info.tag ? info.tag : "(untagged)",
		   info.commit, info.created_at);
	put_text(out, hv.author ? hv.author : "", 0);
	buf_puts(out, "\nmessage: ");
	put_text(out, info.message, 0);
	buf_printf(out, "\nimages: %" PRId64 "\nlabeled: %" PRId64 "\nlabel_sets:\n", info.n_images,
		   info.n_labeled);
	/* "label_set<TAB>name<TAB>classes=3 labeled=300 annotations=812" lines of summary.tsv */
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char *name, *rest;
		if (strncmp(line, "label_set\t", 10))
			continue;
		name = line + 10;
		if (!(rest = strchr(name, '\t')))
			continue;
		*rest++ = '\0';
		buf_printf(out, "  %s: %s\n", name, rest);
	}
done:
	free(text);
	history_version_release(&hv);
	return error;
}

int version_reconcile(struct repo *repo)
{
	struct history_version *hv = NULL;
	struct catalog_version *rows = NULL, row;
	struct history *h;
	int64_t *keep = NULL;
	size_t nh = 0, nr = 0;
	int error;

	if ((error = repo_history(&h, repo)) < 0 || (error = history_versions(&hv, &nh, h)) < 0 ||
	    (error = catalog_versions(repo->cat, &rows, &nr)) < 0)
		goto done;
	if (nh && !(keep = malloc(nh * sizeof(*keep)))) {
		error = err_set(-ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < nh; i++) {
		struct version_info info;
		int have = 0;

		keep[i] = hv[i].number;
		for (size_t j = 0; j < nr && !have; j++)
			have = rows[j].number == (int64_t)hv[i].number && !strcmp(rows[j].commit_id, hv[i].commit);
		if (have)
			continue;
		info_from(&info, &hv[i]);
		if (read_summary(&info, h) < 0)
			LOG_W("%s: %s", hv[i].tag, err_last()); /* recorded with zero counts */
		memset(&row, 0, sizeof(row));
		row.number = hv[i].number;
		snprintf(row.tag, sizeof(row.tag), "%s", hv[i].tag);
		snprintf(row.commit_id, sizeof(row.commit_id), "%s", hv[i].commit);
		snprintf(row.created_at, sizeof(row.created_at), "%s", info.created_at);
		snprintf(row.message, sizeof(row.message), "%s", info.message);
		row.n_images = info.n_images;
		row.n_labeled = info.n_labeled;
		if ((error = catalog_version_put(repo->cat, &row)) < 0)
			goto done;
		LOG_I("catalog: recorded %s from its tag", row.tag);
	}
	if (nr > nh || nh == 0)
		error = catalog_versions_prune(repo->cat, keep, nh);
done:
	history_versions_free(hv, nh);
	free(rows);
	free(keep);
	return error;
}

int version_log(struct buf *out, struct repo *repo)
{
	struct catalog_version *rows = NULL;
	size_t n = 0;
	int error;

	if ((error = version_reconcile(repo)) < 0 || (error = catalog_versions(repo->cat, &rows, &n)) < 0)
		return error;
	if (!n)
		buf_puts(out, "no versions yet (dsfs commit -m MESSAGE makes v1)\n");
	for (size_t i = n; i-- > 0;) {
		buf_printf(out, "%-5s %s  %.12s  images %-7" PRId64 " labeled %-7" PRId64 " ",
			   rows[i].tag, rows[i].created_at, rows[i].commit_id, rows[i].n_images,
			   rows[i].n_labeled);
		put_text(out, rows[i].message, 1);
		buf_puts(out, "\n");
	}
	free(rows);
	return 0;
}

/* Up to this many ids are listed per change in a diff; the rest are counted. */
#define DIFF_LIST_MAX 20

static void diff_list(struct buf *out, const char *sign, char (*ids)[33], size_t n,
		      const struct manifest_images *names)
{
	for (size_t i = 0; i < n && i < DIFF_LIST_MAX; i++) {
		const struct manifest_image *im = names ? manifest_image_find(names, ids[i]) : NULL;
		buf_printf(out, "    %s %s%s%s\n", sign, ids[i], im ? "  " : "", im ? im->name : "");
	}
	if (n > DIFF_LIST_MAX)
		buf_printf(out, "    ... and %zu more\n", n - DIFF_LIST_MAX);
}

/* Sorted-id set difference: ids in a not in b, into *out (malloc'ed). */
static int id_minus(char (**out)[33], size_t *n_out, const char (*a)[33], size_t na, size_t stride_a,
		    const char (*b)[33], size_t nb, size_t stride_b)
{
	char (*res)[33] = malloc((na ? na : 1) * sizeof(*res));
	size_t i = 0, j = 0, n = 0;

	if (!res)
		return err_set(-ENOMEM, "out of memory");
#define AT(p, k, s) ((const char *)(p) + (k) * (s))
	while (i < na) {
		int c = j < nb ? strcmp(AT(a, i, stride_a), AT(b, j, stride_b)) : -1;
		if (c < 0)
			memcpy(res[n++], AT(a, i++, stride_a), 33);
		else if (c > 0)
			j++;
		else
			i++, j++;
	}
#undef AT
	*out = res;
	*n_out = n;
	return 0;
}

/* How many images have different boxes in a and b (present in one only counts too). */
static size_t changed_images(const struct manifest_label_set *a, const struct manifest_label_set *b)
{
	size_t i = 0, j = 0, changed = 0;

	while (i < a->n_labeled || j < b->n_labeled) {
		int c = i == a->n_labeled ? 1 : j == b->n_labeled ? -1 : strcmp(a->labeled[i], b->labeled[j]);

		if (c < 0) {
			changed += a->n_box[i] > 0;
			i++;
		} else if (c > 0) {
			changed += b->n_box[j] > 0;
			j++;
		} else {
			const struct export_ann *x = &a->boxes[a->first_box[i]], *y = &b->boxes[b->first_box[j]];
			int differ = a->n_box[i] != b->n_box[j];

			for (size_t k = 0; !differ && k < a->n_box[i]; k++)
				differ = x[k].class_id != y[k].class_id || x[k].x_min != y[k].x_min ||
					 x[k].y_min != y[k].y_min || x[k].x_max != y[k].x_max ||
					 x[k].y_max != y[k].y_max;
			changed += differ;
			i++;
			j++;
		}
	}
	return changed;
}

static int diff_label_set(struct buf *out, struct version *va, struct version *vb, const char *name)
{
	struct manifest_label_set a, b;
	struct buf body = BUF_INIT;
	char (*added)[33] = NULL, (*removed)[33] = NULL;
	size_t na = 0, nr = 0, changed;
	int ea, eb, error = 0;

	ea = load_label_set(&a, va, name);
	if (ea < 0 && ea != -ENOENT)
		return ea;
	eb = load_label_set(&b, vb, name);
	if (eb < 0 && eb != -ENOENT) {
		manifest_label_set_release(&a);
		return eb;
	}
	for (size_t k = a.n_classes; k < b.n_classes; k++)
		buf_printf(&body, "  class added: %zu %s\n", k, b.classes[k]);
	for (size_t k = 0; k < a.n_classes && k < b.n_classes; k++)
		if (strcmp(a.classes[k], b.classes[k]))
			buf_printf(&body, "  class %zu renamed: %s -> %s\n", k, a.classes[k], b.classes[k]);
	if ((error = id_minus(&added, &na, (const char (*)[33])b.labeled, b.n_labeled, 33,
			      (const char (*)[33])a.labeled, a.n_labeled, 33)) < 0 ||
	    (error = id_minus(&removed, &nr, (const char (*)[33])a.labeled, a.n_labeled, 33,
			      (const char (*)[33])b.labeled, b.n_labeled, 33)) < 0)
		goto done;
	changed = changed_images(&a, &b);
	if (na || nr)
		buf_printf(&body, "  labeled images: %zu -> %zu (+%zu -%zu)\n", a.n_labeled, b.n_labeled,
			   na, nr);
	if (a.n_boxes != b.n_boxes || changed)
		buf_printf(&body, "  annotations: %zu -> %zu, images whose boxes changed: %zu\n",
			   a.n_boxes, b.n_boxes, changed);
	/* The split of a label set on one side only is not a change of split. */
	if (ea == 0 && eb == 0 && (a.split != b.split || a.seed != b.seed))
		buf_printf(&body, "  split: %g seed %" PRIu64 " -> %g seed %" PRIu64 "\n", a.split,
			   a.seed, b.split, b.seed);
	/* A label set the same on both sides is left out. */
	if (body.len || ea == -ENOENT || eb == -ENOENT) {
		buf_printf(out, "label set %s%s:\n", name,
			   ea == -ENOENT ? " (new)" : eb == -ENOENT ? " (removed)" : "");
		buf_put(out, body.ptr, body.len);
	}
done:
	buf_release(&body);
	free(added);
	free(removed);
	manifest_label_set_release(&a);
	manifest_label_set_release(&b);
	return error;
}

int version_diff(struct buf *out, struct repo *repo, const char *spec_a, const char *spec_b)
{
	struct version *va = NULL, *vb = NULL;
	char (*added)[33] = NULL, (*removed)[33] = NULL;
	size_t na = 0, nr = 0;
	int error;

	if ((error = version_open(&va, repo, spec_a)) < 0 || (error = version_open(&vb, repo, spec_b)) < 0)
		goto done;
	buf_printf(out, "diff %s (%.12s) -> %s (%.12s)\n", *va->info.tag ? va->info.tag : spec_a,
		   va->info.commit, *vb->info.tag ? vb->info.tag : spec_b, vb->info.commit);
	if ((error = id_minus(&added, &na, (const char (*)[33])vb->images.v->id, vb->images.n,
			      sizeof(struct manifest_image), (const char (*)[33])va->images.v->id,
			      va->images.n, sizeof(struct manifest_image))) < 0 ||
	    (error = id_minus(&removed, &nr, (const char (*)[33])va->images.v->id, va->images.n,
			      sizeof(struct manifest_image), (const char (*)[33])vb->images.v->id,
			      vb->images.n, sizeof(struct manifest_image))) < 0)
		goto done;
	buf_printf(out, "images: %zu -> %zu (+%zu -%zu)\n", va->images.n, vb->images.n, na, nr);
	diff_list(out, "+", added, na, &vb->images);
	diff_list(out, "-", removed, nr, &va->images);
	/* Every label set of either side, in name order. */
	for (size_t i = 0, j = 0; i < va->n_label_sets || j < vb->n_label_sets;) {
		const char *x = i < va->n_label_sets ? va->label_sets[i] : NULL;
		const char *y = j < vb->n_label_sets ? vb->label_sets[j] : NULL;
		int c = !x ? 1 : !y ? -1 : strcmp(x, y);
		if ((error = diff_label_set(out, va, vb, c <= 0 ? x : y)) < 0)
			goto done;
		i += c <= 0;
		j += c >= 0;
	}
	buf_printf(out, "exclusions: %zu -> %zu\n", va->excl.n, vb->excl.n);
done:
	free(added);
	free(removed);
	version_free(va);
	version_free(vb);
	return error;
}

/* ---- blobs of every version ---- */

static int cmp_blob(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct blob_id));
}

int version_blob_ids(struct blob_id **out, size_t *n, struct repo *repo)
{
	struct history_version *hv = NULL;
	struct history *h;
	struct blob_id *ids = NULL;
	size_t nh = 0, cnt = 0, cap = 0;
	int error;

	*out = NULL;
	*n = 0;
	if ((error = repo_history(&h, repo)) < 0 || (error = history_versions(&hv, &nh, h)) < 0)
		return error;
	for (size_t i = 0; i < nh; i++) {
		struct manifest_images im;
		char *text;
		size_t len;

		if ((error = read_file(&text, &len, h, hv[i].commit, "images.tsv")) < 0 ||
		    (error = manifest_images_parse(&im, text, len, "images.tsv")) < 0) {
			err_wrap(error, hv[i].tag, hv[i].commit);
			goto done;
		}
		if (cnt + im.n > cap) {
			struct blob_id *nv;
			cap = (cnt + im.n) * 2;
			if (!(nv = realloc(ids, cap * sizeof(*ids)))) {
				manifest_images_release(&im);
				error = err_set(-ENOMEM, "out of memory");
				goto done;
			}
			ids = nv;
		}
		for (size_t k = 0; k < im.n; k++)
			blob_id_parse(&ids[cnt++], im.v[k].id);
		manifest_images_release(&im);
	}
	if (cnt)
		qsort(ids, cnt, sizeof(*ids), cmp_blob);
	{
		size_t u = 0;
		for (size_t i = 0; i < cnt; i++)
			if (!u || memcmp(&ids[u - 1], &ids[i], sizeof(*ids)))
				ids[u++] = ids[i];
		cnt = u;
	}
done:
	history_versions_free(hv, nh);
	if (error) {
		free(ids);
		return error;
	}
	*out = ids;
	*n = cnt;
	return 0;
}

/* ---- materialize ---- */

static int write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	size_t off = 0;

	if (fd < 0)
		return err_set(-errno, "%s: %s", path, strerror(errno));
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0) {
			int e = errno;
			close(fd);
			return err_set(-e, "%s: %s", path, strerror(e));
		}
		off += (size_t)w;
	}
	if (close(fd) < 0)
		return err_set(-errno, "%s: %s", path, strerror(errno));
	return 0;
}

/* A copy of the blob open at `src`: a reflink where the file system shares extents (btrfs, XFS), else bytes. */
static int copy_fd(int src, const char *dst)
{
	char buf[1 << 16];
	int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	ssize_t r;
	int error = 0;

	if (fd < 0)
		return err_set(-errno, "%s: %s", dst, strerror(errno));
	if (ioctl(fd, FICLONE, src) == 0)
		goto done;
	while ((r = read(src, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < r;) {
			ssize_t w = write(fd, buf + off, (size_t)(r - off));
			if (w < 0) {
				error = err_set(-errno, "%s: %s", dst, strerror(errno));
				goto done;
			}
			off += w;
		}
	}
	if (r < 0)
		error = err_set(-errno, "read blob: %s", strerror(errno));
done:
	if (close(fd) < 0 && !error)
		error = err_set(-errno, "%s: %s", dst, strerror(errno));
	return error;
}

/*
 * Put image `img` at `dst`: a hard link to the blob if *try_link (set by
 * --link; cleared at the first link that crosses file systems), else a copy.
 * A hard link is the blob itself: writing to it (root may) would change
 * every version, so it is only made when asked for.
 */
static int place_image(struct version_materialize_stats *st, struct repo *repo,
		       const struct export_image *img, const char *dst, int *try_link)
{
	struct blob_id id;
	char src[PATH_MAX];
	int fd, error;

	if ((error = blob_id_parse(&id, img->id)) < 0 ||
	    (error = blob_path(src, sizeof(src), repo->blobs, &id)) < 0)
		return error;
	/* blob_open fetches a missing blob through the hook (a clone). */
	if ((error = blob_open(&fd, repo->blobs, &id)) < 0)
		return error;
	if (*try_link) {
		if (link(src, dst) == 0) {
			close(fd);
			st->images_linked++;
			return 0;
		}
		if (errno != EXDEV && errno != EPERM && errno != EMLINK && errno != ENOTSUP) {
			error = err_set(-errno, "link %s: %s", dst, strerror(errno));
			close(fd);
			return error;
		}
		*try_link = 0; /* another file system: copy from now on */
	}
	error = copy_fd(fd, dst);
	close(fd);
	if (!error)
		st->images_copied++;
	return error;
}

static int materialize_into(struct version_materialize_stats *st, struct repo *repo,
			    const struct export *ex, const char *tmp, int hard_links)
{
	static const char *const dirs[] = { "images/train", "images/val", "labels/train", "labels/val", "coco" };
	struct buf b = BUF_INIT;
	char path[PATH_MAX + 160]; /* tmp (< PATH_MAX + 32) + "/images/train/<id>.<ext>" */
	int try_link = hard_links, error = 0;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && !error; i++) {
		snprintf(path, sizeof(path), "%s/%s", tmp, dirs[i]);
		error = fs_mkdir_p(path, 0755);
	}
	if (error)
		return error;
	if ((error = export_dataset_yaml(&b, ex)) < 0)
		goto done;
	snprintf(path, sizeof(path), "%s/dataset.yaml", tmp);
	if ((error = write_file(path, b.ptr, b.len)) < 0)
		goto done;
	buf_reset(&b);
	if ((error = export_info_yaml(&b, ex)) < 0)
		goto done;
	snprintf(path, sizeof(path), "%s/export_info.yaml", tmp);
	if ((error = write_file(path, b.ptr, b.len)) < 0)
		goto done;
	for (int s = EXPORT_TRAIN; s <= EXPORT_VAL; s++) {
		const char *sname = export_split_name((enum export_split)s);
		size_t n = export_count(ex, (enum export_split)s);

		for (size_t i = 0; i < n; i++) {
			const struct export_image *img = export_image_at(ex, (enum export_split)s, i);

			snprintf(path, sizeof(path), "%s/images/%s/%s.%s", tmp, sname, img->id, img->ext);
			if ((error = place_image(st, repo, img, path, &try_link)) < 0)
				goto done;
			buf_reset(&b);
			if ((error = export_label_text(&b, ex, img)) < 0)
				goto done;
			snprintf(path, sizeof(path), "%s/labels/%s/%s.txt", tmp, sname, img->id);
			if ((error = write_file(path, b.ptr, b.len)) < 0)
				goto done;
			st->labels++;
		}
		buf_reset(&b);
		if ((error = export_coco_json(&b, ex, (enum export_split)s)) < 0)
			goto done;
		snprintf(path, sizeof(path), "%s/coco/instances_%s.json", tmp, sname);
		if ((error = write_file(path, b.ptr, b.len)) < 0)
			goto done;
	}
done:
	buf_release(&b);
	return error;
}

/* Remove OUTDIR.partial-PID left by an export whose process died (killed, or the machine went down). */
static void remove_dead_partials(const char *abs)
{
	char dir[PATH_MAX], path[PATH_MAX + 300], prefix[300];
	const char *base = fs_basename(abs);
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof(dir), "%.*s", (int)(base - abs), abs);
	snprintf(prefix, sizeof(prefix), "%s.partial-", base);
	if (!(d = opendir(*dir ? dir : ".")))
		return;
	while ((e = readdir(d))) {
		char *end;
		long pid;

		if (strncmp(e->d_name, prefix, strlen(prefix)))
			continue;
		pid = strtol(e->d_name + strlen(prefix), &end, 10);
		if (*end || pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "%s%s", dir, e->d_name);
		LOG_W("export: removing %s, left by an export that did not finish", path);
		fs_rm_rf(path);
	}
	closedir(d);
}

int version_materialize(struct version_materialize_stats *stats, struct repo *repo,
			const char *spec, const char *label_set, const char *outdir, int hard_links)
{
	struct version_materialize_stats st = { 0, 0, 0 };
	struct version *v = NULL;
	struct export *ex = NULL;
	char abs[PATH_MAX], tmp[PATH_MAX + 32], parent[PATH_MAX];
	struct stat sb;
	const char *base;
	int error;

	if (stats)
		*stats = st;
	/* The final absolute path goes into dataset.yaml, so resolve the parent first. */
	snprintf(parent, sizeof(parent), "%s", outdir);
	{
		char *slash = strrchr(parent, '/');
		if (slash == parent)
			parent[1] = '\0';
		else if (slash)
			*slash = '\0';
		else
			snprintf(parent, sizeof(parent), ".");
	}
	base = fs_basename(outdir);
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return err_set(-EINVAL, "bad output directory '%s'", outdir);
	if (!realpath(parent, abs))
		return err_set(-errno, "%s: %s", parent, strerror(errno));
	if (strlen(abs) + strlen(base) + 2 > sizeof(abs) - 128)
		return err_set(-ENAMETOOLONG, "path too long: %s", outdir);
	strcat(strcmp(abs, "/") ? strcat(abs, "/") : abs, base);
	if (lstat(abs, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode) || rmdir(abs) < 0)
			return err_set(-EEXIST, "%s exists and is not an empty directory", abs);
	}
	snprintf(tmp, sizeof(tmp), "%s.partial-%ld", abs, (long)getpid());
	remove_dead_partials(abs);
	if (spec) {
		if ((error = version_open(&v, repo, spec)) < 0 ||
		    (error = version_export(&ex, v, label_set, abs)) < 0)
			goto done;
	} else if ((error = export_from_catalog(&ex, repo, label_set, abs)) < 0) {
		goto done;
	}
	fs_rm_rf(tmp);
	if ((error = materialize_into(&st, repo, ex, tmp, hard_links)) < 0)
		goto done;
	if (rename(tmp, abs) < 0)
		error = err_set(-errno, "rename %s -> %s: %s", tmp, abs, strerror(errno));
done:
	if (error)
		fs_rm_rf(tmp);
	if (stats)
		*stats = st;
	export_free(ex);
	version_free(v);
	return error;
}

/* ---- origin as the blob fetch hook ---- */

int version_origin_attach(struct remote **out, struct repo *repo)
{
	struct history *h;
	struct remote *r = NULL;
	int error;

	*out = NULL;
	if ((error = repo_history(&h, repo)) < 0)
		return error;
	if ((error = remote_open(&r, h, REMOTE_DEFAULT_NAME)) < 0)
		return error == -ENOENT ? 0 : error;
	blob_store_set_fetch(repo->blobs, remote_blob_fetch, r);
	LOG_I("missing blobs are fetched from %s (%s)", remote_name(r), remote_url(r));
	*out = r;
	return 0;
}

void version_origin_release(struct remote *r, struct repo *repo)
{
	if (!r)
		return;
	blob_store_set_fetch(repo->blobs, NULL, NULL);
	remote_free(r);
}
