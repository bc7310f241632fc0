/* The pipeline verbs (see verbs.h). */
#include "verbs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/batch.h"
#include "core/checkout.h"
#include "core/labelimport.h"
#include "core/pipeline.h"
#include "core/repo.h"
#include "core/version.h"
#include "store/catalog.h"
#include "util/array.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/kv.h"

static int run_batch(struct repo *repo, const struct kv *args, struct buf *out)
{
	struct batch_opts opts;
	struct catalog_batch b;
	int error;

	if ((error = batch_opts_parse(&opts, args, repo)) < 0 ||
	    (error = batch_create(&b, repo, &opts)) < 0)
		return error;
	return buf_printf(out, "batch_id: %s\nlabel_set: %s\nnum_images: %lld\npath: batches/%s\n", b.id,
			  b.label_set, (long long)b.n_items, b.id);
}

/* Split a comma/space separated list in place into `v` (at most max). */
static size_t split_list(char *s, const char **v, size_t max)
{
	size_t n = 0;

	for (char *tok = strtok(s, ", "); tok && n < max; tok = strtok(NULL, ", "))
		v[n++] = tok;
	return n;
}

/*
 * Split a comma separated list of class names in place into `v` (at most
 * max), trimming the spaces around each: a class name may hold spaces
 * ("traffic light", as in COCO and CVAT).
 */
static size_t split_classes(char *s, const char **v, size_t max)
{
	size_t n = 0;

	for (char *tok = strtok(s, ","); tok && n < max; tok = strtok(NULL, ",")) {
		char *end = tok + strlen(tok);

		while (*tok == ' ')
			tok++;
		while (end > tok && end[-1] == ' ')
			*--end = '\0';
		if (*tok)
			v[n++] = tok;
	}
	return n;
}

/* Sort v[0..n) and drop repeats (an id listed twice counts once); the new n. */
static size_t unique_strings(const char **v, size_t n)
{
	size_t m = 0;

	qsort(v, n, sizeof(*v), array_cmp_str);
	for (size_t i = 0; i < n; i++)
		if (!m || strcmp(v[m - 1], v[i]))
			v[m++] = v[i];
	return m;
}

static int run_exclude_include(struct repo *repo, const struct kv *args, struct buf *out, int exclude)
{
	static const char *const keys_ex[] = { "images", "label_set", "reason", NULL };
	static const char *const keys_in[] = { "images", "label_set", NULL };
	const char *list = kv_get(args, "images", NULL);
	const char *ls = kv_get(args, "label_set", NULL);
	const char *reason = kv_get(args, "reason", NULL);
	const char **ids = NULL;
	char *copy = NULL;
	size_t n, removed = 0;
	int error;

	if ((error = kv_check(args, exclude ? "exclude" : "include", exclude ? keys_ex : keys_in)) < 0)
		return error;
	if (!list || !*list)
		return err_set(-EINVAL, "images= is required (image ids, comma-separated)");
	if (exclude && (!reason || !*reason))
		return err_set(-EINVAL, "reason= is required: say why the images are excluded");
	if (!(copy = strdup(list)) || !(ids = calloc(strlen(list) / 2 + 2, sizeof(*ids)))) {
		free(copy);
		return err_set(-ENOMEM, "out of memory");
	}
	n = unique_strings(ids, split_list(copy, ids, strlen(list) / 2 + 1));
	error = exclude ? catalog_exclude(repo->cat, ids, n, ls, reason)
			: catalog_include(repo->cat, ids, n, ls, &removed);
	if (!error)
		error = exclude ? buf_printf(out, "excluded: %zu\nlabel_set: %s\n", n, ls ? ls : "(all)")
				: buf_printf(out, "included: %zu\n", removed);
	free(ids);
	free(copy);
	return error;
}

static int run_exclude(struct repo *repo, const struct kv *args, struct buf *out)
{
	return run_exclude_include(repo, args, out, 1);
}

static int run_include(struct repo *repo, const struct kv *args, struct buf *out)
{
	return run_exclude_include(repo, args, out, 0);
}

static int run_import(struct repo *repo, const struct kv *args, struct buf *out)
{
	static const char *const keys[] = { "file", "label_set", "batch", NULL };
	const char *file = kv_get(args, "file", NULL), *ls = kv_get(args, "label_set", "default");
	const char *batch = kv_get(args, "batch", NULL);
	struct catalog_batch b;
	struct import_report rep;
	struct buf json = BUF_INIT, source = BUF_INIT;
	int error;

	if ((error = kv_check(args, "import", keys)) < 0)
		return error;
	if (!file || !*file)
		return err_set(-EINVAL, "file= is required (a COCO 1.0 instances JSON file)");
	/*
	 * The mount serves writes from any process: its own working directory
	 * ("/" once daemonized) is not the writer's, so a relative path would
	 * name some other file.  The command line runs where the user is.
	 */
	if (repo->in_mount && file[0] != '/')
		return err_set(-EINVAL, "file= must be an absolute path: the mount does not know your working directory (got '%s')",
			       file);
	if (batch && (error = batch_resolve(&b, repo, batch)) < 0)
		return error;
	if ((error = fs_read_file(&json, file)) < 0)
		return error;
	buf_printf(&source, "coco:%s", fs_basename(file));
	error = import_coco(&rep, repo, json.ptr, json.len, ls, batch ? b.id : NULL, source.ptr);
	if (error == -EINVAL)
		error = err_set(-EINVAL, "%s: %s", file, err_last());
	if (!error)
		error = buf_printf(out, "label_set: %s\n%s%s%s", ls, batch ? "batch: " : "",
				   batch ? b.id : "", batch ? "\n" : "");
	if (!error)
		error = import_report_text(out, &rep);
	buf_release(&json);
	buf_release(&source);
	return error;
}

static int run_labelset(struct repo *repo, const struct kv *args, struct buf *out)
{
	static const char *const keys[] = { "name", "classes", NULL };
	const char *name = kv_get(args, "name", "default"), *list = kv_get(args, "classes", NULL);
	char **classes = NULL;
	size_t n = 0, added = 0;
	int error;

	if ((error = kv_check(args, "labelset", keys)) < 0)
		return error;
	if (list && *list) {
		char *copy = strdup(list);
		const char **v = calloc(strlen(list) / 2 + 2, sizeof(*v));
		if (!copy || !v) {
			free(copy);
			free(v);
			return err_set(-ENOMEM, "out of memory");
		}
		size_t cnt = split_classes(copy, v, strlen(list) / 2 + 1);
		error = catalog_labelset_add_classes(repo->cat, name, v, cnt, &added);
		free(copy);
		free(v);
	} else {
		error = catalog_labelset_ensure(repo->cat, name);
	}
	if (error || (error = catalog_labelset_classes(repo->cat, name, &classes, &n)) < 0)
		return error;
	buf_printf(out, "label_set: %s\nclasses_added: %zu\nclasses:\n", name, added);
	for (size_t i = 0; i < n; i++)
		buf_printf(out, "  %zu: %s\n", i, classes[i]);
	catalog_strings_free(classes, n);
	return 0;
}

static int run_commit(struct repo *repo, const struct kv *args, struct buf *out)
{
	static const char *const keys[] = { "message", "force", NULL };
	const char *msg = kv_get(args, "message", NULL);
	const char *force = kv_get(args, "force", "no");
	struct version_info v;
	int error;

	if ((error = kv_check(args, "commit", keys)) < 0)
		return error;
	if (!msg || !*msg)
		return err_set(-EINVAL, "message= is required (what changed in this version)");
	if (strcmp(force, "yes") && strcmp(force, "no"))
		return err_set(-EINVAL, "force=%s: expected yes or no", force);
	if ((error = version_commit(&v, repo, msg, !strcmp(force, "yes") ? VERSION_COMMIT_FORCE : 0)) < 0)
		return error;
	return buf_printf(out, "version: %s\ncommit: %s\nimages: %lld\nlabeled: %lld\npath: @%s\n", v.tag,
			  v.commit, (long long)v.n_images, (long long)v.n_labeled, v.tag);
}

static int run_checkout(struct repo *repo, const struct kv *args, struct buf *out)
{
	static const char *const keys[] = { "version", "force", NULL };
	const char *spec = kv_get(args, "version", NULL), *force = kv_get(args, "force", "no");
	struct buf warnings = BUF_INIT;
	struct version_info v;
	int error;

	if ((error = kv_check(args, "checkout", keys)) < 0)
		return error;
	if (!spec || !*spec)
		return err_set(-EINVAL, "version= is required (vN, a tag, HEAD or a commit prefix)");
	if (strcmp(force, "yes") && strcmp(force, "no"))
		return err_set(-EINVAL, "force=%s: expected yes or no", force);
	if ((error = checkout_run(&v, repo, spec, !strcmp(force, "yes"), &warnings)) == 0) {
		error = buf_printf(out, "version: %s\ncommit: %s\nimages: %lld\nlabeled: %lld\n",
				   *v.tag ? v.tag : spec, v.commit, (long long)v.n_images,
				   (long long)v.n_labeled);
		for (char *w = warnings.ptr; !error && *w;) {   /* one "warning:" line each */
			size_t n = strcspn(w, "\n");

			error = buf_printf(out, "warning: %.*s\n", (int)n, w);
			w += n + (w[n] == '\n');
		}
	}
	buf_release(&warnings);
	return error;
}

const struct verb verbs[] = {
	{ "batch", run_batch, "[label_set=default] [size=10] [order=newest|oldest|random] [seed=N]",
	  "make a labeling batch of images not yet labeled" },
	{ "commit", run_commit, "message=TEXT [force=yes]",
	  "commit the working state as the next version vN (git commit + tag); force=yes commits an "
	  "empty working state over a HEAD with images" },
	{ "exclude", run_exclude, "images=ID,ID... reason=TEXT [label_set=NAME]",
	  "keep images out of batches and exports" },
	{ "include", run_include, "images=ID,ID... [label_set=NAME]", "undo an exclusion" },
	{ "import", run_import, "file=COCO.json [label_set=default] [batch=ID|latest]",
	  "import COCO 1.0 annotations (replaces the batch's or the matched images' labels)" },
	{ "labelset", run_labelset, "[name=default] [classes=a,b,c]",
	  "create a label set or append classes (ids never change)" },
	{ "checkout", run_checkout, "version=V [force=yes]",
	  "replace the working state by version V (refused over uncommitted changes unless force=yes)" },
	{ "cvat", pipeline_cvat_verb,
	  "[batch=ID|latest | label_set=NAME size=N ...] [project=NAME] [labels=a,b,c] [wait=yes|no]"
	  " [commit=yes|no] [message=TEXT] [action=run|pull]",
	  "label a batch in CVAT: task, wait for the annotators, import, commit (a job)" },
	{ NULL, NULL, NULL, NULL },
};

const struct verb *verb_find(const char *name)
{
	for (const struct verb *v = verbs; v->name; v++)
		if (!strcmp(v->name, name))
			return v;
	return NULL;
}

int verb_run_line(struct repo *repo, const char *name, const char *line, struct buf *out)
{
	const struct verb *v = verb_find(name);
	struct kv args = KV_INIT;
	size_t start = out->len;
	int error;

	err_clear();
	if (!v)
		error = err_set(-EINVAL, "unknown verb '%s'", name);
	else if ((error = kv_parse(&args, line)) == 0)
		error = v->run(repo, &args, out);
	kv_release(&args);
	if (error) {
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s", err_msg(error));
		out->len = start;
		out->ptr[start] = '\0';
		buf_printf(out, "status: error\nerror: %s\n", msg);
		err_set(error, "%s", msg); /* the caller logs it */
	} else {
		char *body = strdup(out->ptr + start);

		out->len = start;
		out->ptr[start] = '\0';
		buf_puts(out, "status: ok\n");
		if (body)
			buf_puts(out, body);
		free(body);
	}
	return error;
}
