/* dsfs ingest [--source ID] FILE|DIR...: add images from the local file system. */
#include <dirent.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/ingest.h"
#include "core/repo.h"
#include "tools/cli.h"
#include "util/array.h"
#include "util/err.h"

struct tally {
	long added, duplicate, rejected, failed;
	int quiet;
};

#define INGEST_GROUP 256

/* Files collected for the next group. */
struct pending {
	char *paths[INGEST_GROUP];
	struct ingest_item items[INGEST_GROUP];
	size_t n;
};

/* Ingest the collected group; per-file outcomes are reported and tallied. */
static int flush_group(struct repo *repo, struct pending *p, const char *source, struct tally *t)
{
	int error;

	if (!p->n)
		return 0;
	err_clear();
	error = ingest_batch(repo, p->items, p->n, source);
	for (size_t i = 0; i < p->n; i++) {
		struct ingest_item *it = &p->items[i];

		if (error < 0) {
			t->failed++;
		} else if (it->error < 0) {
			cli_error("ingest: %s: %s", it->path, err_msg(it->error));
			t->failed++;
		} else if (it->res.status == INGEST_REJECTED) {
			t->rejected++;
			fprintf(stderr, "dsfs: rejected %s: %s (kept as rejected/%s)\n", it->path,
				it->res.reason, it->res.kept_as);
		} else if (it->res.status == INGEST_ADDED) {
			t->added++;
		} else {
			t->duplicate++;
		}
		free(p->paths[i]);
	}
	p->n = 0;
	if (error < 0)
		cli_error("ingest: %s", err_msg(error));
	if (!t->quiet && t->added + t->duplicate >= 1000)
		fprintf(stderr, "  ... %ld images\n", t->added + t->duplicate);
	return error;
}

static int ingest_one(struct repo *repo, const char *path, const char *source, struct tally *t,
		      struct pending *p)
{
	struct ingest_item *it = &p->items[p->n];

	memset(it, 0, sizeof(*it));
	if (!(p->paths[p->n] = strdup(path)))
		return -ENOMEM;
	it->path = p->paths[p->n++];
	return p->n == INGEST_GROUP ? flush_group(repo, p, source, t) : 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Files in name order, so ingest order (and so "newest") is predictable. */
static int ingest_tree(struct repo *repo, const char *path, const char *source, struct tally *t,
		       struct pending *p)
{
	struct stat st;
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	DIR *d;
	int error = 0;

	if (stat(path, &st) < 0) {
		cli_error("ingest: %s: %s", path, strerror(errno));
		t->failed++;
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return S_ISREG(st.st_mode) ? ingest_one(repo, path, source, t, p) : 0;
	if (!(d = opendir(path))) {
		cli_error("ingest: %s: %s", path, strerror(errno));
		t->failed++;
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
		qsort(names, n, sizeof(*names), compare_names);
	for (size_t i = 0; i < n; i++) {
		if (!error)
			error = ingest_tree(repo, names[i], source, t, p);
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
	struct tally t = { .quiet = cli->quiet };
	struct repo *repo = NULL;
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
			       "  --source ID   record where the images came from\n"
			       "Exit status: 0 if every file was ingested, 1 if any was rejected or failed.\n");
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
	struct pending *p = calloc(1, sizeof(*p));
	if (!p)
		error = -ENOMEM;
	for (int i = optind; i < argc && !error; i++)
		error = ingest_tree(repo, argv[i], source, &t, p);
	if (p) {
		int e2 = flush_group(repo, p, source, &t);
		if (!error)
			error = e2;
	}
	free(p);
	repo_free(repo);
	if (error == -ENOMEM)
		cli_error("ingest: out of memory");
	if (!cli->quiet)
		printf("ingested %ld new, %ld already present, %ld rejected, %ld failed\n",
		       t.added, t.duplicate, t.rejected, t.failed);
	return error || t.rejected || t.failed ? 1 : 0;
}
