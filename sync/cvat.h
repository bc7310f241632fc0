/*
 * A client for the CVAT REST API (the v2.52 contract in shared/api/CVAT.md),
 * covering one annotation round trip: find or create a project with
 * rectangle labels, create a task, attach images, wait for CVAT to process
 * them, watch the jobs until annotators are done, export "COCO 1.0" and
 * return the instances JSON.
 *
 * The client is synchronous and keeps no state beyond one HTTP connection
 * and the server version, so a caller that persists task ids and rq ids can
 * resume any step after a restart.  Long waits (data processing, export) poll
 * every `poll_ms` up to `wait_timeout_s` and honour `cancel`; watching the
 * jobs is a single check (cvat_jobs_progress) so the caller owns that loop
 * and its much longer interval.
 *
 * Errors: every function returns 0 or a negative errno with a message
 * (err_last()) that names the call and what went wrong:
 *   -EACCES     CVAT rejected the credentials (401) or the access (403); the
 *               message names the config keys to check.  Never retried.
 *   -ENOENT     the task/request is gone (404).
 *   -EINVAL     CVAT refused a request (400), or bad arguments.
 *   -ENOTSUP    the export format is disabled on the server (405).
 *   -EPROTO     the answer was not what the contract says: malformed JSON,
 *               a missing field, an unexpected status, a corrupt archive.
 *   -EIO        the server kept failing (5xx/429 after every retry) or the
 *               connection did; -ETIMEDOUT when a wait ran out of time;
 *               -ECANCELED when `cancel` asked to stop.
 * The secret never appears in a message or a log line.
 *
 * Thread safety: a `struct cvat` is used by one thread at a time.
 */
#ifndef DSFS_SYNC_CVAT_H
#define DSFS_SYNC_CVAT_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct cvat;

enum cvat_auth {
	CVAT_AUTH_BEARER, /* "Authorization: Bearer <token>" (API access token, 2.48+) */
	CVAT_AUTH_TOKEN,  /* "Authorization: Token <key>" (legacy key) */
	CVAT_AUTH_BASIC,  /* "Authorization: Basic base64(user:pass)"; secret = "user:pass" */
};

/* When is an annotation job finished? (cvat.done in dsfs.yaml) */
enum cvat_done {
	CVAT_DONE_STATE,    /* state == "completed" (annotator pressed "Finish") */
	CVAT_DONE_ACCEPTED, /* stage == "acceptance" && state == "completed" (reviewed) */
};

struct cvat_opts {
	const char *url;          /* "https://cvat.example.com" (a trailing / is ignored) */
	enum cvat_auth auth;
	const char *secret;       /* token, or "user:pass" for basic; copied, never logged */
	const char *secret_key;   /* config key named in auth errors; NULL = "cvat.token" */
	const char *org;          /* org slug; NULL = no org context; "" = personal only */
	int insecure;             /* 1 = do not verify TLS certificates */
	long poll_ms;             /* background request polling; 0 = 3000 */
	long wait_timeout_s;      /* bound on one data/export wait; 0 = 3600 */
	int page_size;            /* jobs listing page size; 0 = "all" */
	/* HTTP policy (0 = http.h defaults) */
	int max_attempts;
	long retry_base_ms;
	long retry_max_ms;
	long connect_timeout_s;
	long low_speed_time_s;
	/* Polled during waits and transfers; nonzero = stop with -ECANCELED. */
	int (*cancel)(void *payload);
	void *cancel_payload;
};

/* One upload: the name CVAT will know the frame by, and the file to send. */
struct cvat_file {
	const char *name;  /* a basename, unique within the upload */
	const char *path;  /* file on disk, streamed */
};

/* One frame of a task, in frame order (from GET /api/tasks/{id}/data/meta). */
struct cvat_frame {
	char *name;
	int width;
	int height;
};

/* Connect nothing yet; validate and copy `opts`.  -EINVAL naming a bad option. */
int cvat_open(struct cvat **out, const struct cvat_opts *opts);
void cvat_close(struct cvat *c);

/*
 * GET /api/server/about: the server version ("2.52.0" -> 2, 52, 0), cached
 * and used to pick the export and status flows.  Any OUT may be NULL.
 */
int cvat_server_version(struct cvat *c, int *major, int *minor, int *patch);

/* GET /api/users/self: are the credentials good?  username_out may be NULL. */
int cvat_check_auth(struct cvat *c, struct buf *username_out);

/*
 * The id of the project named exactly `name`, created with `labels` (type
 * rectangle) when missing.  An existing project that lacks some of `labels`
 * gets them added (PATCH).  With several projects of that name the lowest
 * id wins (CVAT allows duplicates).
 */
int cvat_project_ensure(struct cvat *c, int64_t *id_out, const char *name,
			const char *const *labels, size_t nlabels);

/* POST /api/tasks in `project_id`; segment_size 0 = server default (one job). */
int cvat_task_create(struct cvat *c, int64_t *id_out, int64_t project_id,
		     const char *name, int segment_size);

/*
 * Attach `files` to the task in one multipart request, streamed from disk,
 * sorting_method=predefined so frame i is files[i].  Names must be unique
 * basenames (CVAT keeps only the basename and merges duplicates): -EINVAL
 * otherwise.  On success *rq_id_out holds the request id to wait for
 * (empty on servers < 2.16, which have none).
 */
int cvat_task_upload(struct cvat *c, struct buf *rq_id_out, int64_t task_id,
		     const struct cvat_file *files, size_t nfiles, int image_quality);

/*
 * Same with files already on the server's share: `paths` are relative to
 * the share root (cvat.share), frame order = lexicographic order of paths
 * (sorting_method=lexicographical; read the truth back with cvat_task_frames).
 */
int cvat_task_attach_share(struct cvat *c, struct buf *rq_id_out, int64_t task_id,
			   const char *const *paths, size_t npaths, int image_quality);

/*
 * Wait until CVAT finished processing the task's data (rq_id from the
 * upload; NULL/"" = the legacy /status endpoint), then confirm the task
 * size equals `expected_frames` (skipped when 0).  -EIO with CVAT's message
 * when processing failed.
 */
int cvat_task_wait_data(struct cvat *c, int64_t task_id, const char *rq_id,
			size_t expected_frames);

/* Frames of the task in frame order.  Free with cvat_frames_free(). */
int cvat_task_frames(struct cvat *c, int64_t task_id, struct cvat_frame **frames_out,
		     size_t *nframes_out);
void cvat_frames_free(struct cvat_frame *frames, size_t nframes);

/* GET /api/tasks/{id}: the task's size in frames.  -ENOENT if deleted. */
int cvat_task_size(struct cvat *c, int64_t task_id, int64_t *size_out);

/*
 * One check of the task's annotation jobs (ground-truth and consensus jobs
 * are ignored): how many satisfy `done`, out of how many.  Follows
 * pagination.  -ENOENT if the task was deleted.
 */
int cvat_jobs_progress(struct cvat *c, int64_t task_id, enum cvat_done done,
		       size_t *completed_out, size_t *total_out);

/*
 * Export the task's annotations as "COCO 1.0" (without images), wait, download
 * and unzip; *json_out receives the bytes of annotations/instances_*.json.
 * Uses POST .../dataset/export + /api/requests on servers >= 2.16, the
 * legacy GET .../annotations/?format= flow before.
 */
int cvat_export_coco(struct cvat *c, int64_t task_id, struct buf *json_out);

/*
 * Pull the one annotations/instances_*.json out of a CVAT COCO export
 * archive in memory.  -EPROTO for a corrupt/truncated archive, none or
 * several instances files, or a file that is not a JSON object.
 */
int cvat_coco_from_zip(struct buf *json_out, const void *zip, size_t len);

#endif
