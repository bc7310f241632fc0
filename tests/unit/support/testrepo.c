/* A dataset for a unit test's fixture (see testrepo.h). */
#include "testrepo.h"

#include "core/repo.h"
#include "testfs.h"
#include "util/fsutil.h"

int testrepo_make(char *dir, size_t size, const char *tag, struct repo **out)
{
	*out = NULL;
	if (testfs_tmpdir(dir, size, tag) < 0)
		return -1;
	if (repo_init(dir) < 0 || repo_open(out, dir) < 0) {
		fs_rm_rf(dir);
		return -1;
	}
	return 0;
}

void testrepo_remove(const char *dir, struct repo *repo)
{
	repo_free(repo);
	fs_rm_rf(dir);
}
