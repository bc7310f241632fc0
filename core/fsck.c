/* dsfs fsck (see fsck.h). */
#include "fsck.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/export.h"
#include "core/manifest.h"
#include "core/repo.h"
#include "core/version.h"
#include "store/history.h"
#include "sync/remote.h"
#include "store/blob.h"
#include "store/catalog.h"
#include "util/array.h"
#include "util/err.h"

struct ctx {
	struct repo *repo;
	struct fsck_report *rep;
	FILE *out;
	struct remote *origin;  /* a clone's origin, or NULL: where absent blobs may be */
	int unreachable;        /* it has one, but it cannot be reached */
	struct blob_id *refs;   /* every blob a version names, sorted (version_blob_ids) */
	size_t n_refs;
};

static int id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct blob_id));
}

/* Does some version name blob `id`? */
static int referenced(const struct ctx *c, const struct blob_id *id)
{
	return c->n_refs && bsearch(id, c->refs, c->n_refs, sizeof(*c->refs), id_cmp) != NULL;
}

static int check_blob(const struct blob_id *id, void *payload)
{
	struct ctx *c = payload;
	struct catalog_image img;
	char hex[BLOB_HEX_LEN + 1];
	int error;

	c->rep->blobs++;
	blob_id_hex(hex, id);
	err_clear();
	if ((error = blob_verify(c->repo->blobs, id)) < 0) {
		fprintf(c->out, "blob %s: %s\n", hex, err_msg(error));
		c->rep->problems++;
	}
	/* A blob a version names (e.g. fetched into a clone) is not an orphan. */
	if (catalog_image_get(c->repo->cat, hex, &img) == -ENOENT && !referenced(c, id))
		c->rep->orphans++;
	return 0;
}

static int check_image(const struct catalog_image *img, void *payload)
{
	struct ctx *c = payload;
	char path[PATH_MAX];
	struct blob_id id;
	struct stat st;

	c->rep->images++;
	if (blob_id_parse(&id, img->id) < 0) {
		fprintf(c->out, "image %s (%s): malformed id in the catalog\n", img->id, img->name);
		c->rep->problems++;
		return 0;
	}
	blob_path(path, sizeof(path), c->repo->blobs, &id);
	if (stat(path, &st) < 0) {
		/* A clone's working state names blobs it fetches on first read. */
		if (errno == ENOENT && c->origin && remote_has_blob(c->origin, &id) == 1) {
			c->rep->remote_only++;
			return 0;
		}
		if (errno == ENOENT && c->unreachable && referenced(c, &id))
			return 0; /* counted in the "origin unreachable" line */
		fprintf(c->out, "image %s (%s): blob missing%s: %s\n", img->id, img->name,
			c->origin ? " here and on origin" : "", strerror(errno));
		c->rep->problems++;
	} else if (st.st_size != img->bytes) {
		fprintf(c->out, "image %s (%s): blob has %lld bytes, catalog says %lld\n", img->id,
			img->name, (long long)st.st_size, (long long)img->bytes);
		c->rep->problems++;
	}
	return 0;
}

/* Collect catalog rows first, then check: check_image must not run under the catalog lock. */
struct rows {
	struct catalog_image *v;
	size_t n, cap;
};

static int collect(const struct catalog_image *img, void *payload)
{
	struct rows *r = payload;
	int error = array_grow((void **)&r->v, &r->cap, r->n, sizeof(*r->v));

	if (error < 0)
		return error;
	r->v[r->n++] = *img;
	return 0;
}

/*
 * Every version: its manifests parse (images, exclusions, each label set's
 * export builds), and every blob its images.tsv names is here with the
 * recorded size, or (in a clone) on origin.
 */
/*
 * Versions are numbered v1..vN without gaps, and main is the newest of
 * them.  A deleted tag breaks that silently otherwise: the log skips the
 * version, and a deleted newest tag would let the next commit take its
 * number, leaving the old commit on main without a name.
 */
static void check_tags(struct ctx *c, struct history *h, const struct history_version *hv, size_t nh)
{
	struct history_version head = HISTORY_VERSION_INIT;
	unsigned expect = 1;

	for (size_t i = 0; i < nh; i++, expect++) {
		for (; expect < hv[i].number; expect++) {
			fprintf(c->out, "version v%u: its tag is missing (deleted?): versions are numbered "
				"without gaps up to %s\n", expect, hv[nh - 1].tag);
			c->rep->problems++;
		}
	}
	if (history_resolve(&head, h, "HEAD") < 0)
		return;   /* no commit yet */
	if (head.number == 0) {
		fprintf(c->out, "main: commit %.12s is not a version (no vN tag): the tag of the newest "
			"version was deleted, or the commit was made outside dsfs\n", head.commit);
		c->rep->problems++;
	}
	history_version_release(&head);
}

static int check_versions(struct ctx *c)
{
	struct history_version *hv = NULL;
	struct history *h;
	struct remote *origin = c->origin;
	size_t nh = 0;
	int error;

	if ((error = repo_history(&h, c->repo)) < 0 || (error = history_versions(&hv, &nh, h)) < 0) {
		fprintf(c->out, "history: %s\n", err_msg(error));
		c->rep->problems++;
		return 0;
	}
	for (size_t i = 0; i < nh; i++) {
		struct version *v = NULL;
		size_t missing = 0;

		c->rep->versions++;
		err_clear();
		if ((error = version_open(&v, c->repo, hv[i].commit)) < 0) {
			fprintf(c->out, "version %s: %s\n", hv[i].tag, err_msg(error));
			c->rep->problems++;
			continue;
		}
		for (size_t k = 0; k < version_label_set_count(v); k++) {
			struct export *ex = NULL;
			err_clear();
			if ((error = version_export(&ex, v, version_label_set_name(v, k), "/")) < 0) {
				fprintf(c->out, "version %s: %s\n", hv[i].tag, err_msg(error));
				c->rep->problems++;
			}
			export_free(ex);
		}
		for (size_t k = 0; k < version_image_count(v); k++) {
			const struct manifest_image *im = version_image_at(v, k);
			char path[PATH_MAX];
			struct blob_id id;
			struct stat st;

			c->rep->version_images++;
			if (blob_id_parse(&id, im->id) < 0)
				continue; /* the parser admits only valid ids */
			blob_path(path, sizeof(path), c->repo->blobs, &id);
			if (stat(path, &st) == 0) {
				if (st.st_size != im->bytes) {
					fprintf(c->out, "version %s: image %s (%s): blob has %lld bytes, manifest says %lld\n",
						hv[i].tag, im->id, im->name, (long long)st.st_size, (long long)im->bytes);
					c->rep->problems++;
				}
				continue;
			}
			if (origin && remote_has_blob(origin, &id) == 1) {
				c->rep->remote_only++;
				continue;
			}
			if (c->unreachable)
				continue; /* counted in the "origin unreachable" line */
			if (missing++ < 10)
				fprintf(c->out, "version %s: image %s (%s): blob missing%s\n", hv[i].tag, im->id,
					im->name, origin ? " here and on origin" : "");
			c->rep->problems++;
		}
		if (missing > 10)
			fprintf(c->out, "version %s: ... %zu more missing blobs\n", hv[i].tag, missing - 10);
		version_free(v);
	}
	check_tags(c, h, hv, nh);
	history_versions_free(hv, nh);
	return 0;
}

int fsck_run(struct fsck_report *rep, struct repo *repo, FILE *out)
{
	struct ctx c = { repo, rep, out, NULL, 0, NULL, 0 };
	struct rows rows = { 0 };
	struct history *h;
	int error;

	memset(rep, 0, sizeof(*rep));
	if (repo_history(&h, repo) == 0 && remote_open(&c.origin, h, REMOTE_DEFAULT_NAME) < 0)
		c.origin = NULL;
	/* Without it (history unreadable, reported below) orphans are judged by the catalog alone. */
	if (version_blob_ids(&c.refs, &c.n_refs, repo) < 0) {
		c.refs = NULL;
		c.n_refs = 0;
	}
	err_clear();
	if (c.origin && remote_probe(c.origin) < 0) {
		/*
		 * Origin unreachable: one line for all the blobs only it could
		 * have, not one per reference.  With every blob here, origin is
		 * not needed: no problem then.
		 */
		size_t unchecked = 0;

		for (size_t i = 0; i < c.n_refs; i++)
			unchecked += !blob_exists(repo->blobs, &c.refs[i]);
		if (unchecked) {
			fprintf(out, "origin unreachable: %s: %zu blobs not checked\n", err_last(),
				unchecked);
			rep->problems++;
		}
		remote_free(c.origin);
		c.origin = NULL;
		c.unreachable = 1;
	}
	err_clear();
	if ((error = blob_foreach(repo->blobs, check_blob, &c)) < 0)
		goto done;
	if ((error = catalog_images_foreach(repo->cat, "", collect, &rows)) < 0)
		goto done;
	for (size_t i = 0; i < rows.n; i++)
		check_image(&rows.v[i], &c);
	error = check_versions(&c);
done:
	remote_free(c.origin);
	free(c.refs);
	free(rows.v);
	return error;
}
