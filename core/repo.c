/* Opening and creating dataset repositories (see repo.h). */
#include "repo.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mountlink.h"
#include "store/blob.h"
#include "store/catalog.h"
#include "store/config.h"
#include "store/history.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/log.h"

static const char default_config[] =
	"# dsfs dataset configuration.  Secrets never go here: name an environment\n"
	"# variable (*_env) or a 0600 file (*_file) instead.\n"
	"author:\n"
	"  name: dsfs\n"
	"  email: dsfs@localhost\n"
	"batch:\n"
	"  size: 10\n"
	"  order: newest\n"
	"label_sets:\n"
	"  default:\n"
	"    split: 0.8\n"
	"    seed: 42\n";

int repo_path(char *out, size_t size, const struct repo *repo, const char *rel)
{
	if ((size_t)snprintf(out, size, "%s/%s", repo->dir, rel) >= size)
		return err_set(-ENAMETOOLONG, "path too long: %s/%s", repo->dir, rel);
	return 0;
}

int repo_init(const char *dir)
{
	char path[PATH_MAX];
	struct catalog *cat = NULL;
	int error;

	snprintf(path, sizeof(path), "%s/catalog.db", dir);
	if (access(path, F_OK) == 0)
		return err_set(-EEXIST, "%s is already a dsfs dataset", dir);
	if ((error = fs_mkdir_p(dir, 0755)) < 0)
		return error;
	for (const char *const *d = (const char *const[]){ "objects", "tmp", "rejected", "incoming",
							    NULL }; *d; d++) {
		snprintf(path, sizeof(path), "%s/%s", dir, *d);
		if ((error = fs_mkdir_p(path, 0755)) < 0)
			return error;
	}
	/* Refused uploads, seen from the drop zone (core/dropzone). */
	snprintf(path, sizeof(path), "%s/incoming/.rejected", dir);
	if (symlink("../rejected", path) < 0 && errno != EEXIST)
		return err_set(-errno, "cannot create %s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "%s/dsfs.yaml", dir);
	if (access(path, F_OK) != 0 &&
	    (error = fs_write_file_atomic(path, default_config, sizeof(default_config) - 1, 0644)) < 0)
		return error;
	/* The catalog last: its presence is what makes DIR a dataset. */
	snprintf(path, sizeof(path), "%s/catalog.db", dir);
	if ((error = catalog_open(&cat, path)) < 0)
		return error;
	catalog_free(cat);
	return 0;
}

int repo_open(struct repo **out, const char *dir)
{
	struct repo *repo;
	char path[PATH_MAX];
	int error;

	*out = NULL;
	if (!(repo = calloc(1, sizeof(*repo))))
		return err_set(-ENOMEM, "out of memory");
	pthread_mutex_init(&repo->hist_lock, NULL);
	if (!(repo->dir = realpath(dir, NULL))) {
		error = err_set(-ENOENT, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/catalog.db", repo->dir);
	if (access(path, F_OK) != 0) {
		error = err_set(-ENOENT, "%s is not a dsfs dataset (no catalog.db; run 'dsfs init %s')",
				dir, dir);
		goto fail;
	}
	if ((error = catalog_open(&repo->cat, path)) < 0 ||
	    (error = blob_store_open(&repo->blobs, repo->dir)) < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/dsfs.yaml", repo->dir);
	if ((error = config_load(&repo->cfg, path)) < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/rejected", repo->dir);
	if ((error = fs_mkdir_p(path, 0755)) < 0 || !(repo->rejected_dir = strdup(path))) {
		error = error ? error : err_set(-ENOMEM, "out of memory");
		goto fail;
	}
	*out = repo;
	return 0;
fail:
	repo_free(repo);
	return error;
}

void repo_catalog_close(struct repo *repo)
{
	catalog_free(repo->cat);
	repo->cat = NULL;
}

int repo_catalog_reopen(struct repo *repo)
{
	char path[PATH_MAX];

	if (repo->cat)
		return 0;
	snprintf(path, sizeof(path), "%s/catalog.db", repo->dir);
	return catalog_open(&repo->cat, path);
}

/* Where dataset `dir` is mounted, from /proc/mounts (fsname "dsfs:DIR"), into out[size]; 1 if found. */
static int find_mountpoint(char *out, size_t size, const char *dir)
{
	char line[2 * PATH_MAX + 64], want[PATH_MAX + 8];
	FILE *f = fopen("/proc/mounts", "re");
	int found = 0;

	snprintf(want, sizeof(want), "dsfs:%s ", dir);
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		char *mp = line + strlen(want), *end;

		if (strncmp(line, want, strlen(want)) || !(end = strchr(mp, ' ')))
			continue;
		snprintf(out, size, "%.*s", (int)(end - mp), mp);
		found = 1;
	}
	fclose(f);
	return found;
}

int repo_mount_lock(struct repo *repo, int *fd)
{
	char path[PATH_MAX], where[PATH_MAX];
	int lfd;

	*fd = -1;
	snprintf(path, sizeof(path), "%s/mount.lock", repo->dir);
	if ((lfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return err_set(-errno, "cannot open %s: %s", path, strerror(errno));
	while (flock(lfd, LOCK_EX | LOCK_NB) < 0) {
		int error = errno;

		if (error == EWOULDBLOCK && !find_mountpoint(where, sizeof(where), repo->dir)) {
			/* Unmounted, and its daemon still ingests what was closed before: wait for it. */
			LOG_AT(LOG_NOTICE, "waiting for the previous mount's daemon of %s to finish", repo->dir);
			if (flock(lfd, LOCK_EX) == 0)
				break;
			error = errno;
		}
		close(lfd);
		if (error != EWOULDBLOCK)
			return err_set(-error, "cannot lock %s: %s", path, strerror(error));
		return err_set(-EBUSY, "%s is mounted already, on %s: unmount it first "
			       "(dsfs umount %s)", repo->dir, where, where);
	}
	*fd = lfd;
	return 0;
}

int repo_history(struct history **out, struct repo *repo)
{
	char path[PATH_MAX];
	int error = 0;

	pthread_mutex_lock(&repo->hist_lock);
	if (!repo->hist) {
		snprintf(path, sizeof(path), "%s/git", repo->dir);
		error = history_open(&repo->hist, path);
	}
	*out = repo->hist;
	pthread_mutex_unlock(&repo->hist_lock);
	return error;
}

void repo_free(struct repo *repo)
{
	if (!repo)
		return;
	if (!repo->in_mount && repo->cat && catalog_wrote(repo->cat) &&
	    mountlink_notify(repo->dir) < 0)
		LOG_W("%s", err_last());
	history_free(repo->hist);
	config_free(repo->cfg);
	blob_store_free(repo->blobs);
	catalog_free(repo->cat);
	pthread_mutex_destroy(&repo->hist_lock);
	free(repo->rejected_dir);
	free(repo->dir);
	free(repo);
}
