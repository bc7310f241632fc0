/*
 * ctl/: control files.  Writing one line of key=value words to ctl/<verb>
 * and closing the file runs the verb; reading the file returns the outcome
 * of its last run.  Verbs plug in through the table below.
 */
#include "fs_int.h"

#include <errno.h>
#include <string.h>

static const struct static_entry ctl_entries[] = {
	{ NULL, NULL },
};

int ctl_dir_make(struct fs *fs, struct node *dir, struct node_spec *out)
{
	(void)fs;
	(void)dir;
	return static_dir_spec(out, ctl_entries);
}
