/* Fault injection switchboard (see fault.h); empty in normal builds. */
#include "fault.h"

#ifdef DSFS_FAULT_INJECTION
#include <stdatomic.h>

static atomic_int armed[FAULT_SITE_COUNT];

int fault_sim(enum fault_site site)
{
	int n = atomic_load(&armed[site]);

	while (n > 0) {
		if (atomic_compare_exchange_weak(&armed[site], &n, n - 1))
			return 1;
	}
	return 0;
}

void fault_arm(enum fault_site site, int count)
{
	atomic_store(&armed[site], count);
}
#else
typedef int fault_unused; /* ISO C wants a translation unit to declare something */
#endif
