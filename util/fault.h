/*
 * Fault injection, after sqlite3FaultSim(): a call site asks
 * fault_sim(FAULT_X) and fails on purpose when a test armed that site.  In a
 * normal build (without -Dfault_injection=true) fault_sim() is the constant 0
 * and the branch compiles away.
 */
#ifndef DSFS_UTIL_FAULT_H
#define DSFS_UTIL_FAULT_H

enum fault_site {
	FAULT_BLOB_BEFORE_RENAME,  /* blob store: crash between tmp write and rename */
	FAULT_BLOB_WRITE,          /* blob store: write fails (ENOSPC) */
	FAULT_CATALOG_BUSY,        /* catalog: a statement returns SQLITE_BUSY */
	FAULT_VK_ALLOC,            /* vk: allocation fails (OUT_OF_DEVICE_MEMORY) */
	FAULT_HISTORY_BEFORE_TAG,  /* history: crash between commit object and tag */
	FAULT_DROPZONE_NO_XATTR,   /* dropzone: the file system refuses user xattrs (ENOTSUP) */
	FAULT_INGEST_REASON,       /* ingest: a rejected file's .reason cannot be written (ENOSPC) */
	FAULT_SITE_COUNT
};

#ifdef DSFS_FAULT_INJECTION
/* Nonzero when `site` is armed; each arm fires `count` times, then disarms. */
int fault_sim(enum fault_site site);
void fault_arm(enum fault_site site, int count);
#else
#define fault_sim(site) 0
static inline void fault_arm(enum fault_site site, int count) { (void)site; (void)count; }
#endif

#endif
