/* Placeholder until store/history.c lands: versions are not available yet. */
#include <errno.h>
#include "store/history.h"
#include "util/err.h"
int history_open(struct history **out, const char *git_dir)
{
	*out = NULL;
	return err_set(-ENOSYS, "versions are not built yet (%s)", git_dir);
}
void history_free(struct history *h) { (void)h; }
