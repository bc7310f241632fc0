/*
 * sync/cvat (and sync/http under it) against the fake CVAT server
 * tests/fakes/cvat_server.py, started as a subprocess on a free port for
 * each test (so tests share no server state and may run in parallel).
 * The fake's /_fake/ hooks inject faults and play the annotator; its
 * /_fake/log shows what the client really sent.  Exits 77 (SKIP) when
 * python3 or the fake is missing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sync/cvat.h"
#include "sync/http.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/log.h"

#define TOKEN "S3CRET-tok-4f1c9a"

struct fake {
	pid_t pid;
	char url[64];
	struct http *http;  /* for the /_fake/ hooks */
	char dir[64];       /* temp dir for files */
};

static const char *fake_script;
static const char *python;

/* Fakes still running: stopped by the teardown even when an assert fails. */
static struct fake *running[4];

static void fake_stop(struct fake *f);

static int teardown_fakes(void **state)
{
	(void)state;
	for (size_t i = 0; i < 4; i++)
		if (running[i])
			fake_stop(running[i]);
	return 0;
}

/* Start the fake with extra CLI args (NULL-terminated); fills f. */
static void fake_start(struct fake *f, ...)
{
	const char *argv[32];
	int n = 0, fds[2];
	char line[32];
	size_t got = 0;
	va_list ap;
	struct pollfd pfd;

	memset(f, 0, sizeof(*f));
	argv[n++] = python;
	argv[n++] = fake_script;
	argv[n++] = "--port";
	argv[n++] = "0";
	argv[n++] = "--token";
	argv[n++] = TOKEN;
	va_start(ap, f);
	for (const char *a; (a = va_arg(ap, const char *)) && n < 30;)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;

	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);  /* never outlive the test */
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execvp(python, (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	while (got < sizeof(line) - 1 && !memchr(line, '\n', got)) {
		ssize_t r;

		assert_true(poll(&pfd, 1, 20000) == 1);
		r = read(fds[0], line + got, sizeof(line) - 1 - got);
		assert_true(r > 0);
		got += (size_t)r;
		line[got] = '\0';
	}
	close(fds[0]);
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", atoi(line));
	assert_int_equal(http_new(&f->http, NULL), 0);
	strcpy(f->dir, "/tmp/dsfs-cvat-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	for (size_t i = 0; i < 4; i++)
		if (!running[i]) {
			running[i] = f;
			break;
		}
}

static void fake_stop(struct fake *f)
{
	int st;

	for (size_t i = 0; i < 4; i++)
		if (running[i] == f)
			running[i] = NULL;
	kill(f->pid, SIGTERM);
	waitpid(f->pid, &st, 0);
	http_free(f->http);
	f->http = NULL;
	fs_rm_rf(f->dir);
}

/* Call a /_fake/ hook; returns the parsed JSON answer (caller decrefs). */
static json_t *hook(struct fake *f, enum http_method m, const char *path, const char *body)
{
	struct http_response r = HTTP_RESPONSE_INIT;
	char url[256];
	json_t *j;

	snprintf(url, sizeof(url), "%s%s", f->url, path);
	assert_int_equal(http_request(f->http, &r, m, url, body), 0);
	assert_true(r.status >= 200 && r.status < 300);
	j = json_loadb(r.body.ptr, r.body.len, 0, NULL);
	assert_non_null(j);
	http_response_release(&r);
	return j;
}

static void fault(struct fake *f, const char *json)
{
	json_decref(hook(f, HTTP_POST, "/_fake/faults", json));
}

/* How many logged requests had this method and path (exact). */
static size_t log_count(struct fake *f, const char *method, const char *path)
{
	json_t *log = hook(f, HTTP_GET, "/_fake/log", NULL), *e;
	size_t i, n = 0;

	json_array_foreach(log, i, e) {
		if (strcmp(json_string_value(json_object_get(e, "method")), method) == 0 &&
		    strcmp(json_string_value(json_object_get(e, "path")), path) == 0)
			n++;
	}
	json_decref(log);
	return n;
}

static void base_opts(struct cvat_opts *o, const struct fake *f)
{
	memset(o, 0, sizeof(*o));
	o->url = f->url;
	o->auth = CVAT_AUTH_BEARER;
	o->secret = TOKEN;
	o->poll_ms = 5;
	o->wait_timeout_s = 60;
	o->max_attempts = 5;
	o->retry_base_ms = 2;
	o->retry_max_ms = 20;
}

/* A file with a PNG signature + IHDR of w x h (enough for CVAT's size probe). */
static void write_png(const char *dir, const char *name, unsigned w, unsigned h, char *path_out)
{
	unsigned char b[64] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
	FILE *fp;

	b[16] = w >> 24; b[17] = w >> 16; b[18] = w >> 8; b[19] = w;
	b[20] = h >> 24; b[21] = h >> 16; b[22] = h >> 8; b[23] = h;
	sprintf(path_out, "%s/%s", dir, name);
	fp = fopen(path_out, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(b, 1, sizeof(b), fp), sizeof(b));
	fclose(fp);
}

static const char *const labels[] = { "car", "person" };
static const char *const names[] = { "img_3.png", "img_1.png", "img_10.png", "img_2.png",
				     "img_0.png" };
#define NFILES 5

/* Project + task + 5 uploads, data processed.  Returns the task id. */
static int64_t make_task(struct fake *f, struct cvat *c, int segment_size)
{
	static char paths[NFILES][256];
	struct cvat_file files[NFILES];
	struct buf rq = BUF_INIT;
	int64_t pid, tid;
	int i;

	for (i = 0; i < NFILES; i++) {
		write_png(f->dir, names[i], 100 + i, 50 + i, paths[i]);
		files[i].name = names[i];
		files[i].path = paths[i];
	}
	assert_int_equal(cvat_project_ensure(c, &pid, "cars", labels, 2), 0);
	assert_int_equal(cvat_task_create(c, &tid, pid, "batch-0001", segment_size), 0);
	assert_int_equal(cvat_task_upload(c, &rq, tid, files, NFILES, 70), 0);
	assert_int_equal(cvat_task_wait_data(c, tid, rq.ptr, NFILES), 0);
	buf_release(&rq);
	return tid;
}

/* Boxes the "annotator" draws: file name, category, bbox. */
static const char annot_coco[] =
	"{\"images\":[{\"id\":11,\"file_name\":\"img_1.png\"},{\"id\":12,\"file_name\":\"img_0.png\"}],"
	"\"categories\":[{\"id\":7,\"name\":\"person\"},{\"id\":8,\"name\":\"car\"}],"
	"\"annotations\":[{\"id\":1,\"image_id\":11,\"category_id\":8,\"bbox\":[10,20,30,40]},"
	"{\"id\":2,\"image_id\":12,\"category_id\":7,\"bbox\":[1.5,2.25,3,4]}]}";

/* The export must hold both boxes on the right images with the right names. */
static void check_export(const struct buf *json)
{
	json_t *doc = json_loadb(json->ptr, json->len, 0, NULL), *cats, *imgs, *anns, *a;
	const char *cat_name[3] = { NULL, NULL, NULL };
	const char *img_name[NFILES + 1] = { NULL };
	size_t i;
	int seen = 0;

	assert_non_null(doc);
	cats = json_object_get(doc, "categories");
	imgs = json_object_get(doc, "images");
	anns = json_object_get(doc, "annotations");
	assert_int_equal(json_array_size(cats), 2);
	assert_int_equal(json_array_size(imgs), NFILES);
	assert_int_equal(json_array_size(anns), 2);
	json_array_foreach(cats, i, a)
		cat_name[json_integer_value(json_object_get(a, "id"))] =
			json_string_value(json_object_get(a, "name"));
	assert_string_equal(cat_name[1], "car");
	assert_string_equal(cat_name[2], "person");
	json_array_foreach(imgs, i, a) {
		json_int_t id = json_integer_value(json_object_get(a, "id"));

		assert_true(id >= 1 && id <= NFILES);
		img_name[id] = json_string_value(json_object_get(a, "file_name"));
		/* predefined order: image i+1 is upload i */
		assert_string_equal(img_name[id], names[id - 1]);
	}
	json_array_foreach(anns, i, a) {
		json_t *bb = json_object_get(a, "bbox");
		const char *img = img_name[json_integer_value(json_object_get(a, "image_id"))];
		const char *cat = cat_name[json_integer_value(json_object_get(a, "category_id"))];

		assert_int_equal(json_array_size(bb), 4);
		if (strcmp(img, "img_1.png") == 0) {
			assert_string_equal(cat, "car");
			assert_true(json_number_value(json_array_get(bb, 0)) == 10.0);
			assert_true(json_number_value(json_array_get(bb, 3)) == 40.0);
			seen |= 1;
		} else {
			assert_string_equal(img, "img_0.png");
			assert_string_equal(cat, "person");
			assert_true(json_number_value(json_array_get(bb, 1)) == 2.25);
			seen |= 2;
		}
	}
	assert_int_equal(seen, 3);
	json_decref(doc);
}

/* ---- tests ----------------------------------------------------------- */

static void test_full_flow(void **state)
{
	static struct fake f;  /* static: the teardown may stop it after an assert */
	struct cvat_opts o;
	struct cvat *c;
	struct cvat_frame *frames;
	struct buf user = BUF_INIT, json = BUF_INIT;
	struct http_response r = HTTP_RESPONSE_INIT;
	size_t nframes, done, total, i;
	int64_t pid1, pid2, tid;
	int maj, min, pat;
	json_t *st, *log, *e;
	char url[256];

	(void)state;
	/* public-host: result_url points at a host we cannot reach (a proxy) */
	fake_start(&f, "--auto-complete", "--public-host", "cvat.internal.invalid:8080", NULL);
	base_opts(&o, &f);
	o.page_size = 2;  /* 3 jobs over 2 pages */
	assert_int_equal(cvat_open(&c, &o), 0);

	assert_int_equal(cvat_server_version(c, &maj, &min, &pat), 0);
	assert_int_equal(maj, 2);
	assert_int_equal(min, 52);
	assert_int_equal(pat, 0);
	assert_int_equal(cvat_check_auth(c, &user), 0);
	assert_string_equal(user.ptr, "admin");

	/* find-or-create twice: one project */
	assert_int_equal(cvat_project_ensure(c, &pid1, "cars", labels, 2), 0);
	assert_int_equal(cvat_project_ensure(c, &pid2, "cars", labels, 2), 0);
	assert_true(pid1 == pid2);
	st = hook(&f, HTTP_GET, "/_fake/state", NULL);
	assert_int_equal(json_array_size(json_object_get(st, "projects")), 1);
	assert_int_equal(json_array_size(json_object_get(st, "labels")), 2);
	json_decref(st);

	tid = make_task(&f, c, 2);
	assert_int_equal(cvat_task_frames(c, tid, &frames, &nframes), 0);
	assert_int_equal(nframes, NFILES);
	for (i = 0; i < nframes; i++) {
		assert_string_equal(frames[i].name, names[i]);
		assert_int_equal(frames[i].width, 100 + (int)i);
		assert_int_equal(frames[i].height, 50 + (int)i);
	}
	cvat_frames_free(frames, nframes);

	/* 5 frames / segment 2 = 3 jobs; first look: none done, then auto-complete */
	assert_int_equal(cvat_jobs_progress(c, tid, CVAT_DONE_STATE, &done, &total), 0);
	assert_int_equal(total, 3);
	assert_int_equal(done, 0);
	assert_int_equal(cvat_jobs_progress(c, tid, CVAT_DONE_STATE, &done, &total), 0);
	assert_int_equal(total, 3);
	assert_int_equal(done, 3);
	/* "accepted" also needs stage acceptance, which the annotator did not set */
	assert_int_equal(cvat_jobs_progress(c, tid, CVAT_DONE_ACCEPTED, &done, &total), 0);
	assert_int_equal(done, 0);
	snprintf(url, sizeof(url), "/_fake/tasks/%lld/complete", (long long)tid);
	json_decref(hook(&f, HTTP_POST, url, "{\"stage\":\"acceptance\"}"));
	assert_int_equal(cvat_jobs_progress(c, tid, CVAT_DONE_ACCEPTED, &done, &total), 0);
	assert_int_equal(done, 3);

	snprintf(url, sizeof(url), "/_fake/tasks/%lld/annotate", (long long)tid);
	json_decref(hook(&f, HTTP_POST, url, annot_coco));

	/* someone else already started the same export: the client gets 409 */
	snprintf(url, sizeof(url), "%s/api/tasks/%lld/dataset/export?format=COCO%%201.0",
		 f.url, (long long)tid);
	{
		struct http *h;

		assert_int_equal(http_new(&h, NULL), 0);
		assert_int_equal(http_set_header(h, "Authorization: Bearer " TOKEN), 0);
		assert_int_equal(http_request(h, &r, HTTP_POST, url, NULL), 0);
		assert_int_equal(r.status, 202);
		http_free(h);
	}
	assert_int_equal(cvat_export_coco(c, tid, &json), 0);
	check_export(&json);

	/* the wire: every /api call had the CVAT Accept and Bearer auth */
	log = hook(&f, HTTP_GET, "/_fake/log", NULL);
	json_array_foreach(log, i, e) {
		const char *path = json_string_value(json_object_get(e, "path"));

		if (strncmp(path, "/api/", 5) != 0)
			continue;
		assert_string_equal(json_string_value(json_object_get(e, "accept")),
				    "application/vnd.cvat+json");
		assert_string_equal(json_string_value(json_object_get(e, "auth")), "Bearer");
	}
	json_decref(log);
	/* the rq_id went out percent-encoded as one segment, the 409 was seen */
	assert_true(log_count(&f, "POST", "/api/tasks/1/dataset/export") == 2);
	assert_true(log_count(&f, "GET", "/api/requests/action%3Dexport%26target%3Dtask"
			      "%26target_id%3D1%26format%3DCOCO%201.0%26subresource%3D"
			      "annotations%26user_id%3D1") >= 2);
	assert_true(log_count(&f, "GET", "/api/tasks/1/dataset/download") == 1);

	http_response_release(&r);
	buf_release(&user);
	buf_release(&json);
	cvat_close(c);
	fake_stop(&f);
}

static void test_legacy_flow(void **state)
{
	static struct fake f;  /* static: the teardown may stop it after an assert */
	struct cvat_opts o;
	struct cvat *c;
	struct buf json = BUF_INIT, rq = BUF_INIT;
	char coco[128], paths[NFILES][256];
	struct cvat_file files[NFILES];
	size_t done, total;
	int64_t pid, tid;
	int i, maj, min;
	FILE *fp;

	(void)state;
	snprintf(coco, sizeof(coco), "/tmp/dsfs-cvat-coco-%d.json", (int)getpid());
	fp = fopen(coco, "w");
	assert_non_null(fp);
	fputs(annot_coco, fp);
	fclose(fp);
	fake_start(&f, "--version", "2.10.0", "--auto-annotate", coco, "--auto-complete",
		   "--polls", "3", NULL);
	base_opts(&o, &f);
	o.auth = CVAT_AUTH_TOKEN;
	assert_int_equal(cvat_open(&c, &o), 0);
	assert_int_equal(cvat_server_version(c, &maj, &min, NULL), 0);
	assert_int_equal(min, 10);

	for (i = 0; i < NFILES; i++) {
		write_png(f.dir, names[i], 64, 48, paths[i]);
		files[i].name = names[i];
		files[i].path = paths[i];
	}
	assert_int_equal(cvat_project_ensure(c, &pid, "cars", labels, 2), 0);
	assert_int_equal(cvat_task_create(c, &tid, pid, "legacy", 0), 0);
	assert_int_equal(cvat_task_upload(c, &rq, tid, files, NFILES, 70), 0);
	assert_int_equal(rq.len, 0);  /* < 2.16: no rq_id */
	assert_int_equal(cvat_task_wait_data(c, tid, rq.ptr, NFILES), 0);
	assert_true(log_count(&f, "GET", "/api/tasks/1/status") >= 3);

	assert_int_equal(cvat_jobs_progress(c, tid, CVAT_DONE_STATE, &done, &total), 0);
	assert_int_equal(total, 1);  /* no segment size: one job */
	assert_int_equal(done, 0);
	assert_int_equal(cvat_jobs_progress(c, tid, CVAT_DONE_STATE, &done, &total), 0);
	assert_int_equal(done, 1);

	assert_int_equal(cvat_export_coco(c, tid, &json), 0);
	check_export(&json);
	assert_true(log_count(&f, "GET", "/api/tasks/1/annotations/") >= 4);
	assert_int_equal(log_count(&f, "POST", "/api/tasks/1/dataset/export"), 0);

	buf_release(&json);
	buf_release(&rq);
	cvat_close(c);
	fake_stop(&f);
	unlink(coco);
}

/* 2.16..2.37: the requests API with old-style rq ids (':' and spaces); org header. */
static void test_v2_20(void **state)
{
	static struct fake f;  /* static: the teardown may stop it after an assert */
	struct cvat_opts o;
	struct cvat *c;
	struct buf json = BUF_INIT;
	json_t *log, *e;
	int64_t tid;
	size_t i, n = 0;

	(void)state;
	fake_start(&f, "--version", "2.20.1", NULL);
	base_opts(&o, &f);
	o.org = "acme";
	assert_int_equal(cvat_open(&c, &o), 0);
	tid = make_task(&f, c, 0);
	assert_int_equal(log_count(&f, "GET", "/api/requests/create%3Atask-1"), 2);
	assert_int_equal(cvat_export_coco(c, tid, &json), 0);
	assert_true(log_count(&f, "GET", "/api/requests/export%3Atask-1-COCO%201.0-"
			      "annotations-1") >= 2);
	log = hook(&f, HTTP_GET, "/_fake/log", NULL);
	json_array_foreach(log, i, e) {
		if (strncmp(json_string_value(json_object_get(e, "path")), "/api/", 5) != 0)
			continue;
		assert_string_equal(json_string_value(json_object_get(e, "x_organization")), "acme");
		n++;
	}
	assert_true(n > 5);
	json_decref(log);
	buf_release(&json);
	cvat_close(c);

	/* org "" = personal workspace: the header is sent, empty */
	o.org = "";
	assert_int_equal(cvat_open(&c, &o), 0);
	assert_int_equal(cvat_check_auth(c, NULL), 0);
	log = hook(&f, HTTP_GET, "/_fake/log", NULL);
	e = json_array_get(log, json_array_size(log) - 2);  /* the last before this GET */
	assert_string_equal(json_string_value(json_object_get(e, "path")), "/api/users/self");
	assert_string_equal(json_string_value(json_object_get(e, "x_organization")), "");
	json_decref(log);
	cvat_close(c);
	fake_stop(&f);
}

static void test_server_files(void **state)
{
	static struct fake f;  /* static: the teardown may stop it after an assert */
	struct cvat_opts o;
	struct cvat *c;
	struct cvat_frame *frames;
	struct buf rq = BUF_INIT;
	char share[128], path[256], scratch[512];
	const char *rel[] = { "ds/b.png", "ds/a.png" };
	size_t n;
	int64_t pid, tid;

	(void)state;
	strcpy(share, "/tmp/dsfs-cvat-share-XXXXXX");
	assert_non_null(mkdtemp(share));
	snprintf(path, sizeof(path), "%s/ds", share);
	assert_int_equal(mkdir(path, 0755), 0);
	write_png(path, "b.png", 8, 8, scratch);
	write_png(path, "a.png", 9, 7, scratch);
	fake_start(&f, "--share", share, NULL);
	base_opts(&o, &f);
	assert_int_equal(cvat_open(&c, &o), 0);
	assert_int_equal(cvat_project_ensure(c, &pid, "share", labels, 2), 0);
	assert_int_equal(cvat_task_create(c, &tid, pid, "from-share", 0), 0);
	assert_int_equal(cvat_task_attach_share(c, &rq, tid, rel, 2, 90), 0);
	assert_true(rq.len > 0);
	assert_int_equal(cvat_task_wait_data(c, tid, rq.ptr, 2), 0);
	assert_int_equal(cvat_task_frames(c, tid, &frames, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(frames[0].name, "ds/a.png");  /* lexicographic */
	assert_int_equal(frames[0].width, 9);
	assert_string_equal(frames[1].name, "ds/b.png");
	cvat_frames_free(frames, n);
	/* a path escaping the share is refused before anything is sent */
	{
		const char *bad[] = { "../etc/passwd" };

		assert_int_equal(cvat_task_attach_share(c, &rq, tid, bad, 1, 90), -EINVAL);
	}
	buf_release(&rq);
	cvat_close(c);
	fake_stop(&f);
	fs_rm_rf(share);
}

static void test_retry_then_success(void **state)
{
	static struct fake f;  /* static: the teardown may stop it after an assert */
	struct cvat_opts o;
	struct cvat *c;

	(void)state;
	fake_start(&f, NULL);
	fault(&f, "{\"kind\":\"status\",\"status\":500,\"count\":3,\"path\":\"^/api/users/self\"}");
	fault(&f, "{\"kind\":\"status\",\"status\":429,\"count\":1,\"path\":\"^/api/server/about\"}");
	fault(&f, "{\"kind\":\"reset\",\"count\":2,\"path\":\"^/api/projects\"}");
	base_opts(&o, &f);
	assert_int_equal(cvat_open(&c, &o), 0);
	assert_int_equal(cvat_check_auth(c, NULL), 0);
	assert_int_equal(log_count(&f, "GET", "/api/users/self"), 4);
	assert_int_equal(cvat_server_version(c, NULL, NULL, NULL), 0);
	assert_int_equal(log_count(&f, "GET", "/api/server/about"), 2);
	{
		int64_t pid;

		/* two dropped connections, then the list and the create */
		assert_int_equal(cvat_project_ensure(c, &pid, "p", labels, 2), 0);
		assert_true(pid > 0);
	}
	cvat_close(c);
	fake_stop(&f);
}

static void test_permanent_500(void **state)
{
	static struct fake f;  /* static: the teardown may stop it after an assert */
	struct cvat_opts o;
	struct cvat *c;

	(void)state;
	fake_start(&f, NULL);
	fault(&f, "{\"kind\":\"status\",\"status\":503,\"count\":-1,\"path\":\"^/api/server/about\"}");
	base_opts(&o, &f);
	assert_int_equal(cvat_open(&c, &o), 0);
	err_clear();
	assert_int_equal(cvat_server_version(c, NULL, NULL, NULL), -EIO);
	assert_non_null(strstr(err_last(), "GET /api/server/about"));
	assert_non_null(strstr(err_last(), "503"));
	assert_non_null(strstr(err_last(), "5 attempts"));
	assert_non_null(strstr(err_last(), "HTML error page"));
	assert_int_equal(log_count(&f, "GET", "/api/server/about"), 5);
	cvat_close(c);
	fake_stop(&f);

	/* nothing listens: connection errors are bounded too */
	memset(&o, 0, sizeof(o));
	o.url = "http://127.0.0.1:1";
	o.secret = TOKEN;
	o.max_attempts = 3;
	o.retry_base_ms = 1;
	assert_int_equal(cvat_open(&c, &o), 0);
	err_clear();
	assert_int_equal(cvat_check_auth(c, NULL), -EIO);
	assert_non_null(strstr(err_last(), "3 attempts"));
	assert_non_null(strstr(err_last(), "127.0.0.1:1/api/users/self"));
	cvat_close(c);
}

static void test_401(void **state)
{
	static struct fake f;  /* static: the teardown may stop it after an assert */
	struct cvat_opts o;
	struct cvat *c;
	size_t done, total;

	(void)state;
	fake_start(&f, NULL);
	base_opts(&o, &f);
	o.secret = "wrong-token";
	assert_int_equal(cvat_open(&c, &o), 0);
	err_clear();
	assert_int_equal(cvat_check_auth(c, NULL), -EACCES);
	assert_non_null(strstr(err_last(), "CVAT rejected the credentials (401"));
	assert_non_null(strstr(err_last(), "cvat.token_env / cvat.token_file"));
	assert_int_equal(log_count(&f, "GET", "/api/users/self"), 1); /* not retried */
	cvat_close(c);

	/* basic auth with a wrong password; secret key named as configured */
	o.auth = CVAT_AUTH_BASIC;
	o.secret = "admin:nope";
	o.secret_key = "cvat.password";
	assert_int_equal(cvat_open(&c, &o), 0);
	assert_int_equal(cvat_check_auth(c, NULL), -EACCES);
	assert_non_null(strstr(err_last(), "cvat.password_env / cvat.password_file"));
	cvat_close(c);
	o.secret = "admin:" TOKEN;  /* the fake's default password is the token */
	assert_int_equal(cvat_open(&c, &o), 0);
	assert_int_equal(cvat_check_auth(c, NULL), 0);

	/* a 401 in the middle of a flow is not retried either */
	fault(&f, "{\"kind\":\"status\",\"status\":401,\"count\":-1,\"path\":\"^/api/tasks/\"}");
	assert_int_equal(cvat_jobs_progress(c, 1, CVAT_DONE_STATE, &done, &total), -EACCES);
	assert_int_equal(log_count(&f, "GET", "/api/tasks/1"), 1);
	cvat_close(c);
	fake_stop(&f);
}

static void test_garbage(void **state)
{
	static struct fake f;  /* static: the teardown may stop it after an assert */
	struct cvat_opts o;
	struct cvat *c;
	size_t done, total;
	int64_t tid;

	(void)state;
	fake_start(&f, NULL);
	base_opts(&o, &f);
	assert_int_equal(cvat_open(&c, &o), 0);
	tid = make_task(&f, c, 0);

	fault(&f, "{\"kind\":\"garbage\",\"count\":1,\"path\":\"^/api/jobs\"}");
	err_clear();
	assert_int_equal(cvat_jobs_progress(c, tid, CVAT_DONE_STATE, &done, &total), -EPROTO);
	assert_non_null(strstr(err_last(), "GET /api/jobs"));
	assert_non_null(strstr(err_last(), "not valid JSON"));

	/* valid JSON, missing field */
	fault(&f, "{\"kind\":\"body\",\"count\":1,\"path\":\"^/api/tasks/1$\",\"body\":\"{\\\"id\\\":1}\"}");
	assert_int_equal(cvat_jobs_progress(c, tid, CVAT_DONE_STATE, &done, &total), -EPROTO);
	assert_non_null(strstr(err_last(), "GET /api/tasks/{id}"));
	assert_non_null(strstr(err_last(), "\"size\" is missing"));

	/* a job without "state" */
	fault(&f, "{\"kind\":\"body\",\"count\":1,\"path\":\"^/api/jobs\",\"body\":"
		  "\"{\\\"count\\\":1,\\\"next\\\":null,\\\"previous\\\":null,\\\"results\\\":"
		  "[{\\\"id\\\":1,\\\"type\\\":\\\"annotation\\\",\\\"task_id\\\":1}]}\"}");
	assert_int_equal(cvat_jobs_progress(c, tid, CVAT_DONE_STATE, &done, &total), -EPROTO);
	assert_non_null(strstr(err_last(), "results[0].\"state\""));

	/* count does not match the results */
	fault(&f, "{\"kind\":\"body\",\"count\":1,\"path\":\"^/api/jobs\",\"body\":"
		  "\"{\\\"count\\\":7,\\\"results\\\":[]}\"}");
	assert_int_equal(cvat_jobs_progress(c, tid, CVAT_DONE_STATE, &done, &total), -EPROTO);

	/* a JSON array where an object belongs */
	fault(&f, "{\"kind\":\"body\",\"count\":1,\"path\":\"^/api/server/about\",\"body\":\"[1,2]\"}");
	assert_int_equal(cvat_server_version(c, NULL, NULL, NULL), -EPROTO);

	/* an unknown request status */
	fault(&f, "{\"kind\":\"body\",\"count\":1,\"path\":\"^/api/requests/\",\"body\":"
		  "\"{\\\"status\\\":\\\"exploded\\\"}\"}");
	{
		struct buf json = BUF_INIT;

		assert_int_equal(cvat_export_coco(c, tid, &json), -EPROTO);
		assert_non_null(strstr(err_last(), "unknown status"));
		assert_int_equal(json.len, 0);
		/* everything fine again afterwards */
		assert_int_equal(cvat_export_coco(c, tid, &json), 0);
		buf_release(&json);
	}
	/* the server still works after all that */
	assert_int_equal(cvat_jobs_progress(c, tid, CVAT_DONE_STATE, &done, &total), 0);
	assert_int_equal(total, 1);
	cvat_close(c);
	fake_stop(&f);
}

static void test_truncated_zip(void **state)
{
	static struct fake f;  /* static: the teardown may stop it after an assert */
	struct cvat_opts o;
	struct cvat *c;
	struct buf json = BUF_INIT;
	int64_t tid;

	(void)state;
	fake_start(&f, NULL);
	base_opts(&o, &f);
	assert_int_equal(cvat_open(&c, &o), 0);
	tid = make_task(&f, c, 0);
	fault(&f, "{\"kind\":\"truncated_zip\",\"count\":1}");
	err_clear();
	assert_int_equal(cvat_export_coco(c, tid, &json), -EPROTO);
	assert_non_null(strstr(err_last(), "CVAT export"));
	assert_int_equal(json.len, 0);
	assert_int_equal(cvat_export_coco(c, tid, &json), 0);
	assert_true(json.len > 0);
	buf_release(&json);
	cvat_close(c);
	fake_stop(&f);
}

static int cancel_after(void *payload)
{
	int *n = payload;

	return --*n < 0;
}

static void test_cancel(void **state)
{
	static struct fake f;  /* static: the teardown may stop it after an assert */
	struct cvat_opts o;
	struct cvat *c;
	struct buf rq = BUF_INIT;
	char paths[1][256];
	struct cvat_file file = { "x.png", paths[0] };
	int64_t pid, tid;
	int budget = 1000000;

	(void)state;
	fake_start(&f, "--polls", "1000000", NULL);
	base_opts(&o, &f);
	o.cancel = cancel_after;
	o.cancel_payload = &budget;
	assert_int_equal(cvat_open(&c, &o), 0);
	write_png(f.dir, "x.png", 4, 4, paths[0]);
	assert_int_equal(cvat_project_ensure(c, &pid, "p", labels, 1), 0);
	assert_int_equal(cvat_task_create(c, &tid, pid, "t", 0), 0);
	assert_int_equal(cvat_task_upload(c, &rq, tid, &file, 1, 70), 0);
	budget = 40;  /* the wait never ends on its own */
	assert_int_equal(cvat_task_wait_data(c, tid, rq.ptr, 1), -ECANCELED);
	assert_non_null(strstr(err_last(), "cancelled"));
	cvat_close(c);

	/* ... nor does it end by timeout */
	o.cancel = NULL;
	o.wait_timeout_s = 1;
	o.poll_ms = 100;
	assert_int_equal(cvat_open(&c, &o), 0);
	assert_int_equal(cvat_task_wait_data(c, tid, rq.ptr, 1), -ETIMEDOUT);
	assert_non_null(strstr(err_last(), "within 1 s"));
	buf_release(&rq);
	cvat_close(c);
	fake_stop(&f);
}

static void test_bad_args(void **state)
{
	struct cvat_opts o;
	struct cvat *c;
	static struct fake f;  /* static: the teardown may stop it after an assert */
	struct buf rq = BUF_INIT;
	struct cvat_file dup[2] = { { "a.png", "/nonexistent/a" }, { "a.png", "/nonexistent/b" } };
	struct cvat_file missing[1] = { { "a.png", "/nonexistent/a" } };
	struct cvat_file slash[1] = { { "d/a.png", "/nonexistent/a" } };
	const char *dup_labels[] = { "x", "x" };
	int64_t id;

	(void)state;
	memset(&o, 0, sizeof(o));
	assert_int_equal(cvat_open(&c, &o), -EINVAL);
	assert_non_null(strstr(err_last(), "cvat.url"));
	o.url = "ftp://x";
	o.secret = "t";
	assert_int_equal(cvat_open(&c, &o), -EINVAL);
	o.url = "http://x";
	o.secret = "";
	assert_int_equal(cvat_open(&c, &o), -EINVAL);
	assert_non_null(strstr(err_last(), "cvat.token_env"));
	o.secret = "tok\r\nX-Evil: 1";
	assert_int_equal(cvat_open(&c, &o), -EINVAL);
	o.auth = CVAT_AUTH_BASIC;
	o.secret = "no-colon";
	assert_int_equal(cvat_open(&c, &o), -EINVAL);

	fake_start(&f, NULL);
	base_opts(&o, &f);
	assert_int_equal(cvat_open(&c, &o), 0);
	assert_int_equal(cvat_task_upload(c, &rq, 1, dup, 2, 70), -EINVAL);
	assert_non_null(strstr(err_last(), "used twice"));
	assert_int_equal(cvat_task_upload(c, &rq, 1, slash, 1, 70), -EINVAL);
	assert_int_equal(cvat_task_upload(c, &rq, 1, missing, 1, 101), -EINVAL);
	assert_int_equal(cvat_project_ensure(c, &id, "p", dup_labels, 2), -EINVAL);
	/* a file that cannot be read fails before sending */
	assert_int_equal(cvat_project_ensure(c, &id, "p", labels, 2), 0);
	assert_int_equal(cvat_task_create(c, &id, id, "t", 0), 0);
	assert_int_equal(cvat_task_upload(c, &rq, id, missing, 1, 70), -ENOENT);
	assert_non_null(strstr(err_last(), "/nonexistent/a"));
	assert_int_equal(log_count(&f, "POST", "/api/tasks/1/data/"), 0);
	/* a task that does not exist */
	{
		size_t d, t;

		assert_int_equal(cvat_jobs_progress(c, 999, CVAT_DONE_STATE, &d, &t), -ENOENT);
	}
	/* a project that lacks a label gets it added */
	{
		const char *more[] = { "car", "person", "truck" };
		int64_t again;
		json_t *st;

		assert_int_equal(cvat_project_ensure(c, &again, "p", more, 3), 0);
		st = hook(&f, HTTP_GET, "/_fake/state", NULL);
		assert_int_equal(json_array_size(json_object_get(st, "labels")), 3);
		assert_int_equal(json_array_size(json_object_get(st, "projects")), 1);
		json_decref(st);
	}
	buf_release(&rq);
	cvat_close(c);
	fake_stop(&f);
}

/* http_download to a file: a retried attempt leaves one copy, not two. */
static void test_http_download(void **state)
{
	static struct fake f;  /* static: the teardown may stop it after an assert */
	struct http_response r = HTTP_RESPONSE_INIT;
	struct http_opts ho = { 0 };
	struct buf txt = BUF_INIT, url = BUF_INIT, esc = BUF_INIT;
	struct http *h;
	char path[128];

	(void)state;
	fake_start(&f, NULL);
	ho.retry_base_ms = 1;
	assert_int_equal(http_new(&h, &ho), 0);
	assert_int_equal(buf_printf(&url, "%s/api/server/about", f.url), 0);
	snprintf(path, sizeof(path), "%s/about.json", f.dir);
	fault(&f, "{\"kind\":\"body\",\"status\":503,\"count\":1,\"body\":\"{\\\"x\\\":1}\"}");
	assert_int_equal(http_download(h, &r, url.ptr, path), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.attempts, 2);
	assert_int_equal(r.body.len, 0);
	assert_string_equal(r.content_type, "application/vnd.cvat+json");
	assert_int_equal(fs_read_file(&txt, path), 0);
	assert_non_null(strstr(txt.ptr, "\"version\": \"2.52.0\""));
	assert_null(strstr(txt.ptr, "\"x\""));
	assert_int_equal(txt.ptr[0], '{');
	assert_null(strchr(txt.ptr + 1, '{'));  /* one document */
	/* to memory */
	assert_int_equal(http_download(h, &r, url.ptr, NULL), 0);
	assert_string_equal(r.body.ptr, txt.ptr);
	/* 4xx: not retried */
	buf_reset(&url);
	assert_int_equal(buf_printf(&url, "%s/api/nope", f.url), 0);
	assert_int_equal(http_request(h, &r, HTTP_GET, url.ptr, NULL), 0);
	assert_int_equal(r.status, 404);
	assert_int_equal(r.attempts, 1);
	/* escaping: one path segment */
	assert_int_equal(http_escape(&esc, "a=b&c d/e:f~g.h_i-j"), 0);
	assert_string_equal(esc.ptr, "a%3Db%26c%20d%2Fe%3Af~g.h_i-j");
	buf_release(&esc);
	buf_release(&url);
	buf_release(&txt);
	http_response_release(&r);
	http_free(h);
	fake_stop(&f);
}

/* Build a zip in memory with the given (name, content) entries. */
static void make_zip(struct buf *out, const char *const *entries, size_t n)
{
	struct archive *a = archive_write_new();
	static char mem[65536];
	size_t used = 0, i;

	assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, mem, sizeof(mem), &used), ARCHIVE_OK);
	for (i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		size_t len = strlen(entries[2 * i + 1]);

		archive_entry_set_pathname(e, entries[2 * i]);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)len);
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		assert_int_equal(archive_write_data(a, entries[2 * i + 1], len), (la_ssize_t)len);
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	buf_reset(out);
	assert_int_equal(buf_put(out, mem, used), 0);
}

static void test_zip(void **state)
{
	const char *one[] = { "annotations/instances_Train.json", "{\"images\":[]}",
			      "images/Train/a.jpg", "xx" };
	const char *two[] = { "annotations/instances_a.json", "{}",
			      "annotations/instances_b.json", "{}" };
	const char *none[] = { "annotations/person_keypoints_default.json", "{}" };
	const char *notjson[] = { "annotations/instances_default.json", "[1," };
	struct buf zip = BUF_INIT, json = BUF_INIT;

	(void)state;
	make_zip(&zip, one, 2);
	assert_int_equal(cvat_coco_from_zip(&json, zip.ptr, zip.len), 0);
	assert_string_equal(json.ptr, "{\"images\":[]}");
	make_zip(&zip, two, 2);
	assert_int_equal(cvat_coco_from_zip(&json, zip.ptr, zip.len), -EPROTO);
	assert_non_null(strstr(err_last(), "2 instances files"));
	make_zip(&zip, none, 1);
	assert_int_equal(cvat_coco_from_zip(&json, zip.ptr, zip.len), -EPROTO);
	assert_non_null(strstr(err_last(), "no annotations/instances_*.json"));
	make_zip(&zip, notjson, 1);
	assert_int_equal(cvat_coco_from_zip(&json, zip.ptr, zip.len), -EPROTO);
	assert_int_equal(cvat_coco_from_zip(&json, "PK\3\4garbage", 11), -EPROTO);
	assert_int_equal(cvat_coco_from_zip(&json, "<html>", 6), -EPROTO);
	assert_int_equal(cvat_coco_from_zip(&json, "", 0), -EPROTO);
	/* every truncation of a good archive fails cleanly or still yields the JSON */
	make_zip(&zip, one, 2);
	for (size_t cut = 0; cut < zip.len; cut++) {
		int rc = cvat_coco_from_zip(&json, zip.ptr, cut);

		assert_true(rc == -EPROTO || (rc == 0 && strcmp(json.ptr, "{\"images\":[]}") == 0));
	}
	buf_release(&zip);
	buf_release(&json);
}

static void test_secret_not_logged(void **state)
{
	static struct fake f;  /* static: the teardown may stop it after an assert */
	struct cvat_opts o;
	struct cvat *c;
	struct buf logtxt = BUF_INIT, json = BUF_INIT, b64 = BUF_INIT;
	char logpath[64];
	FILE *sink;
	int64_t tid;
	int saved = log_level;

	(void)state;
	snprintf(logpath, sizeof(logpath), "/tmp/dsfs-cvat-log-%d", (int)getpid());
	sink = fopen(logpath, "w");
	assert_non_null(sink);
	log_set_sink(sink);
	log_set_level(LOG_DEBUG);

	fake_start(&f, "--auto-complete", NULL);
	fault(&f, "{\"kind\":\"status\",\"status\":502,\"count\":2}");
	base_opts(&o, &f);
	assert_int_equal(cvat_open(&c, &o), 0);
	tid = make_task(&f, c, 0);
	assert_int_equal(cvat_export_coco(c, tid, &json), 0);
	cvat_close(c);
	/* failures log too, and their messages must not carry the secret */
	o.auth = CVAT_AUTH_BASIC;
	o.secret = "admin:" TOKEN "x";
	assert_int_equal(cvat_open(&c, &o), 0);
	assert_int_equal(cvat_check_auth(c, NULL), -EACCES);
	LOG_E("%s", err_last());
	assert_null(strstr(err_last(), TOKEN));
	cvat_close(c);
	fake_stop(&f);

	log_set_sink(NULL);
	log_set_level(saved);
	fclose(sink);
	assert_int_equal(fs_read_file(&logtxt, logpath), 0);
	unlink(logpath);
	/* the log has the requests (so the check below means something) ... */
	assert_non_null(strstr(logtxt.ptr, "GET /api/users/self -> 401"));
	assert_non_null(strstr(logtxt.ptr, "POST /api/tasks/1/data/ -> 202"));
	assert_non_null(strstr(logtxt.ptr, "retry"));
	/* ... and neither the token nor its basic-auth encoding */
	assert_null(strstr(logtxt.ptr, TOKEN));
	assert_null(strstr(logtxt.ptr, "S3CRET"));
	assert_null(strstr(logtxt.ptr, "Authorization"));
	{
		/* base64("admin:S3CRET-tok-4f1c9ax") */
		static const char tab[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		const char *s = "admin:" TOKEN "x";
		size_t n = strlen(s);

		for (size_t i = 0; i + 2 < n; i += 3) {
			unsigned v = (unsigned char)s[i] << 16 | (unsigned char)s[i + 1] << 8 |
				     (unsigned char)s[i + 2];
			char q[4] = { tab[v >> 18 & 63], tab[v >> 12 & 63], tab[v >> 6 & 63],
				      tab[v & 63] };
			buf_put(&b64, q, 4);
		}
		assert_true(b64.len >= 12);
		b64.ptr[12] = '\0';  /* a 12-char prefix is enough to recognise it */
		assert_null(strstr(logtxt.ptr, b64.ptr));
	}
	buf_release(&b64);
	buf_release(&logtxt);
	buf_release(&json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_zip, teardown_fakes),
		cmocka_unit_test_teardown(test_http_download, teardown_fakes),
		cmocka_unit_test_teardown(test_bad_args, teardown_fakes),
		cmocka_unit_test_teardown(test_full_flow, teardown_fakes),
		cmocka_unit_test_teardown(test_legacy_flow, teardown_fakes),
		cmocka_unit_test_teardown(test_v2_20, teardown_fakes),
		cmocka_unit_test_teardown(test_server_files, teardown_fakes),
		cmocka_unit_test_teardown(test_retry_then_success, teardown_fakes),
		cmocka_unit_test_teardown(test_permanent_500, teardown_fakes),
		cmocka_unit_test_teardown(test_401, teardown_fakes),
		cmocka_unit_test_teardown(test_garbage, teardown_fakes),
		cmocka_unit_test_teardown(test_truncated_zip, teardown_fakes),
		cmocka_unit_test_teardown(test_cancel, teardown_fakes),
		cmocka_unit_test_teardown(test_secret_not_logged, teardown_fakes),
	};

	fake_script = getenv("CVAT_FAKE");
	if (!fake_script || access(fake_script, R_OK) != 0) {
		fprintf(stderr, "CVAT_FAKE not set or unreadable: skipping\n");
		return 77;
	}
	python = getenv("PYTHON3") ? getenv("PYTHON3") : "python3";
	{
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "%s -c pass >/dev/null 2>&1", python);
		if (system(cmd) != 0)
			python = NULL;
	}
	if (!python) {
		fprintf(stderr, "python3 not found: skipping\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
