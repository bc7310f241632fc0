/* TEMPORARY: a weak version_commit until the versions branch lands on main.  Delete then. */
#include "version.h"

#include <errno.h>

#include "util/err.h"

__attribute__((weak)) int version_commit(struct version_info *out, struct repo *repo, const char *message)
{
	(void)out;
	(void)repo;
	(void)message;
	return err_set(-ENOSYS, "versions are not available in this build");
}
