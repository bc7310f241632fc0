/* dsfs ingest [--source ID] FILE|DIR...: add images from the local file system. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/ingest.h"
#include "core/ingest_pipe.h"
#include "core/repo.h"
#include "tools/cli.h"
#include "util/array.h"
#include "util/err.h"

struct tally {
	long added, duplicate, rejected, failed;
	int quiet;
};

#define INGEST_GROUP 256

/*
 * Files collected into groups: one is being committed by the pipe while
 * the other fills (ingest_pipe.h).  Item paths are owned (strdup).
 */
struct run {
	struct ingest_pipe *pipe;
	const char *source;
	const char *repo_dir;   /* realpath of the dataset */
	dev_t repo_dev;         /* ...and its identity, met while walking */
	ino_t repo_ino;
	int quiet;
	struct tally t;
	struct ingest_item items[2][INGEST_GROUP];
	size_t n;   /* items filled in items[cur] */
	int cur;
};

/* A group is finished (pipe callback): report and tally each file. */
static void group_done(void *arg, struct ingest_item *items, size_t n, int error,
		       const char *message)
{
	struct tally *t = &((struct run *)arg)->t;
	long before = t->added + t->duplicate;

	for (size_t i = 0; i < n; i++) {
		struct ingest_item *it = &items[i];

		if (error < 0) {
			t->failed++;
		} else if (it->error < 0) {
			cli_error("ingest: %s: %s", it->path, it->message);
			t->failed++;
		} else if (it->res.status == INGEST_REJECTED) {
			t->rejected++;
			cli_error("rejected %s: %s (kept as rejected/%s)", it->path, it->res.reason,
				  it->res.kept_as);
		} else if (it->res.status == INGEST_ADDED) {
			t->added++;
		} else {
			t->duplicate++;
		}
		free((char *)it->path);
	}
	if (error < 0)
		cli_error("ingest: a group of %zu files failed: %s", n, message);
	if (!t->quiet && (t->added + t->duplicate) / 1000 > before / 1000)
		fprintf(stderr, "  ... %ld images\n", t->added + t->duplicate);
}

/* Hand the filled group to the pipe and start filling the other. */
static int flush_group(struct run *r)
{
	int error;

	if (!r->n)
		return 0;
	error = ingest_pipe_push(r->pipe, r->items[r->cur], r->n, r->source);
	r->cur ^= 1;
	r->n = 0;
	return error;
}

static int ingest_one(struct run *r, const char *path)
{
	struct ingest_item *it = &r->items[r->cur][r->n];

	memset(it, 0, sizeof(*it));
	if (!(it->path = strdup(path)))
		return -ENOMEM;
	return ++r->n == INGEST_GROUP ? flush_group(r) : 0;
}

/* Whether `real` (a resolved path) is the dataset or lies inside it. */
static int in_dataset(const struct run *r, const char *real)
{
	size_t len = strlen(r->repo_dir);

	return !strncmp(real, r->repo_dir, len) &&
	       (real[len] == '\0' || real[len] == '/' || !strcmp(r->repo_dir, "/"));
}

/* A path met while walking: told on stderr (unless -q), not a failure. */
static void skipped(const struct run *r, const char *path, const char *why)
{
	if (!r->quiet)
		fprintf(stderr, "dsfs: ingest: skipped %s: %s\n", path, why);
}

/*
 * Files in name order, so ingest order (and so "newest") is predictable.
 * `arg`: `path` was given on the command line; what cannot be ingested
 * there is an error (counted as failed), while inside a directory it is
 * skipped with a note.  The dataset's own tree is never ingested: its
 * files (catalog.db, rejected/, the blobs) are not input.
 */
static int ingest_tree(struct run *r, const char *path, int arg)
{
	struct stat st;
	struct dirent *e;
	char **names = NULL, *real;
	size_t n = 0, cap = 0;
	DIR *d;
	int error = 0, inside, link = 0;

	if (lstat(path, &st) < 0 || ((link = S_ISLNK(st.st_mode)) && stat(path, &st) < 0)) {
		cli_error("ingest: %s: %s", path, strerror(errno));
		r->t.failed++;
		return 0;
	}
	/* Walking from above meets the dataset's root; an argument or a symlink may lead anywhere in it. */
	inside = S_ISDIR(st.st_mode) && st.st_dev == r->repo_dev && st.st_ino == r->repo_ino;
	if (!inside && (arg || link) && (real = realpath(path, NULL))) {
		inside = in_dataset(r, real);
		free(real);
	}
	if (inside && arg) {
		cli_error("ingest: %s is inside the dataset %s: not ingested (copy new files into "
			  "the mount's incoming/, or give a path outside the dataset)", path, r->repo_dir);
		r->t.failed++;
		return 0;
	}
	if (inside) {
		skipped(r, path, "inside the dataset");
		return 0;
	}
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
		if (arg) {
			cli_error("ingest: %s: not a regular file or directory, skipped", path);
			r->t.failed++;
		} else {
			skipped(r, path, "not a regular file or directory");
		}
		return 0;
	}
	if (S_ISREG(st.st_mode))
		return ingest_one(r, path);
	if (!(d = opendir(path))) {
		cli_error("ingest: %s: %s", path, strerror(errno));
		r->t.failed++;
		return 0;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if ((error = array_grow((void **)&names, &cap, n, sizeof(*names))) < 0)
			break;
		if (!(names[n] = malloc(strlen(path) + strlen(e->d_name) + 2))) {
			error = -ENOMEM;
			break;
		}
		sprintf(names[n++], "%s/%s", path, e->d_name);
	}
	closedir(d);
	if (names)
		qsort(names, n, sizeof(*names), array_cmp_str);
	for (size_t i = 0; i < n; i++) {
		if (!error)
			error = ingest_tree(r, names[i], 0);
		free(names[i]);
	}
	free(names);
	return error;
}

int cmd_ingest(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "source", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct repo *repo = NULL;
	struct stat st;
	struct run *r;
	const char *source = "";
	int c, error = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': source = optarg; break;
		case 'h':
			printf("usage: dsfs ingest [--source ID] FILE|DIR...\n\n"
			       "Add JPEG and PNG images (recognized by their bytes, not their names) to\n"
			       "the dataset; directories are walked recursively, hidden files skipped.\n"
			       "Each image is stored once by content hash and keeps its original base\n"
			       "name.  Files that are not images, empty or truncated are reported and\n"
			       "kept in DIR/rejected/ (shown at incoming/.rejected/ in the mount).\n"
			       "The dataset's own directory is never read: a path inside it is refused,\n"
			       "and skipped when met while walking.  Only regular files are read: any\n"
			       "other argument (a FIFO, a device) is an error, and skipped inside a walk.\n"
			       "  --source ID   record where the images came from\n"
			       "Exit status: 0 if every file was ingested, 1 if any was rejected or failed\n"
			       "or an argument was refused.\n");
			return 0;
		default:
			return cli_usage("ingest");
		}
	}
	if (optind >= argc)
		return cli_usage("ingest");
	err_clear();
	if ((error = repo_open(&repo, cli->repo)) < 0) {
		cli_error("ingest: %s", err_msg(error));
		return 1;
	}
	if (!(r = calloc(1, sizeof(*r)))) {
		repo_free(repo);
		cli_error("ingest: out of memory");
		return 1;
	}
	r->source = source;
	r->t.quiet = r->quiet = cli->quiet;
	r->repo_dir = repo->dir;
	if (stat(r->repo_dir, &st) == 0) {
		r->repo_dev = st.st_dev;
		r->repo_ino = st.st_ino;
	}
	if ((error = ingest_pipe_open(&r->pipe, repo, group_done, r)) < 0)
		cli_error("ingest: %s", err_msg(error));
	for (int i = optind; i < argc && !error; i++)
		error = ingest_tree(r, argv[i], 1);
	if (!error)
		error = flush_group(r);
	int e2 = ingest_pipe_close(r->pipe);
	if (!error)
		error = e2;
	for (size_t i = 0; i < r->n; i++) /* collected, never pushed (an earlier group failed) */
		free((char *)r->items[r->cur][i].path);
	struct tally t = r->t;
	free(r);
	repo_free(repo);
	if (error == -ENOMEM)
		cli_error("ingest: out of memory");
	if (!cli->quiet)
		printf("ingested %ld new, %ld already present, %ld rejected, %ld failed\n",
		       t.added, t.duplicate, t.rejected, t.failed);
	return error || t.rejected || t.failed ? 1 : 0;
}
