/* File-system helpers for the unit tests (see testfs.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testfs.h"

int testfs_tmpdir(char *dir, size_t size, const char *tag)
{
	if ((size_t)snprintf(dir, size, "/tmp/dsfs-%s-XXXXXX", tag) >= size)
		return -1;
	return mkdtemp(dir) ? 0 : -1;
}

static int is_dot(const char *name)
{
	return !strcmp(name, ".") || !strcmp(name, "..");
}

int testfs_entries(const char *dir)
{
	struct dirent *e;
	int n = 0;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((e = readdir(d)))
		n += !is_dot(e->d_name);
	closedir(d);
	return n;
}

int testfs_files(const char *dir)
{
	struct dirent *e;
	int n = 0;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char path[PATH_MAX];
		struct stat st;

		if (is_dot(e->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		assert_int_equal(lstat(path, &st), 0);
		if (S_ISDIR(st.st_mode))
			n += testfs_files(path);
		else if (S_ISREG(st.st_mode))
			n++;
	}
	closedir(d);
	return n;
}
