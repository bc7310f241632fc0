/*
 * Dataset history in a bare git repository, written with libgit2 (see
 * history.h for the contract).  This is the only file that includes git2.h:
 * every libgit2 error is turned into a negative errno and an err_set()
 * message here, in ver_errno(), and nowhere else.
 *
 * Refs are the only mutable state.  A commit writes objects first (blobs,
 * trees, the commit: unreferenced objects are harmless), then creates the
 * tag refs/tags/v<N+1> without force (so two writers cannot both get the
 * same number: the loser fails with -EBUSY), then moves refs/heads/main with
 * a compare-and-swap on its old value.  The tags are the truth about which
 * versions exist; main is repaired (moved forward to the newest tag) by
 * history_open() and before each commit when a crash left it behind.
 *
 * libgit2 is initialised once per process (pthread_once) and never shut
 * down: other modules may hold repositories in other threads, and a refcount
 * that reaches zero would free libgit2's global state under them.  Each
 * struct history has one mutex held around every libgit2 call on its
 * repository, since a git_repository must not be used by two threads at once.
 *
 * Writers' lock: every ref change dsfs makes (commit, fetch, repairing
 * main) runs under flock() on DIR/git/dsfs.lock, across processes.  The
 * kernel drops an flock when its holder dies, so whoever holds it knows
 * that a ref lock file (refs/heads/main.lock, refs/tags/vN.lock,
 * packed-refs.lock) still there was left by a writer killed mid-update,
 * and removes it: libgit2 would otherwise refuse to write that ref ever
 * again ("failed to lock file"), and a dataset killed during a commit
 * could not commit vN any more.
 *
 * Loose-object guard: libgit2 1.5 loops forever inflating a truncated loose
 * object (libgit2 issue #7342, fixed upstream in 2026).  A corrupt object
 * must give -EIO, not hang a FUSE worker, so every repository gets an extra
 * read-only ODB backend, consulted before libgit2's own, that reads loose
 * objects with zlib and treats any stream that does not end cleanly as
 * corruption.  Objects are always read by full id (prefixes are resolved
 * with git_odb_exists_prefix(), which only looks at names), so libgit2's
 * loose reader is never reached for a loose object.
 */
#include "store/history.h"

#include <git2.h>
#include <git2/sys/odb_backend.h>
#include <zlib.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/array.h"
#include "util/err.h"
#include "util/fault.h"
#include "util/fsutil.h"
#include "util/log.h"

#define MAIN_REF "refs/heads/main"
#define VTAG_PREFIX "refs/tags/v"

struct history {
	pthread_mutex_t lock;  /* held around every use of `repo` */
	git_repository *repo;  /* protected by lock */
	char *git_dir;         /* immutable after open */
};

/* Remove the *.lock files of directory `dir` (relative to `git_dir`). */
static void clear_lock_files(const char *git_dir, const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", git_dir, dir);
	if (!(d = opendir(path)))
		return;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n > 5 && !strcmp(de->d_name + n - 5, ".lock") &&
		    unlinkat(dirfd(d), de->d_name, 0) == 0)
			LOG_W("history %s: removed %s/%s left by an interrupted writer", git_dir, dir,
			      de->d_name);
	}
	closedir(d);
}

/*
 * Take the writers' lock of the repository at `git_dir` (see the top of the
 * file) and clear stale ref locks.  *fd_out = -1 on failure.  If another
 * process holds it and `waiting` is set, log "<waiting> <git_dir>" once
 * before blocking.
 */
static int lock_git_dir(const char *git_dir, const char *waiting, int *fd_out)
{
	char path[PATH_MAX];
	int fd, nb = waiting ? LOCK_NB : 0;

	*fd_out = -1;
	if (snprintf(path, sizeof(path), "%s/dsfs.lock", git_dir) >= (int)sizeof(path))
		return err_set(-ENAMETOOLONG, "git directory path too long: %s", git_dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return err_set(-errno, "%s: %s", path, strerror(errno));
	while (flock(fd, LOCK_EX | nb) < 0) {
		if (errno == EWOULDBLOCK && nb) {
			LOG_W("%s %s", waiting, git_dir);
			nb = 0;
		} else if (errno != EINTR) {
			int e = errno;
			close(fd);
			return err_set(-e, "lock %s: %s", path, strerror(e));
		}
	}
	clear_lock_files(git_dir, "refs/heads");
	clear_lock_files(git_dir, "refs/tags");
	/* Not a scan of the git dir: dsfs.lock itself must stay. */
	for (const char *const *f = (const char *const[]){ "packed-refs.lock", "HEAD.lock", NULL }; *f; f++) {
		snprintf(path, sizeof(path), "%s/%s", git_dir, *f);
		if (unlink(path) == 0)
			LOG_W("history %s: removed %s left by an interrupted writer", git_dir, *f);
	}
	*fd_out = fd;
	return 0;
}

static int writer_lock(const struct history *h, int *fd_out)
{
	return lock_git_dir(h->git_dir, NULL, fd_out);
}

static void writer_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* drops the flock */
}

/* A vN tag and the commit it names. */
struct vtag {
	unsigned n;
	git_oid oid;
};

static pthread_once_t git_once = PTHREAD_ONCE_INIT;
static int git_init_rc;

static void git_init_once(void)
{
	git_init_rc = git_libgit2_init();
	/* Refs and objects must survive a power cut once a commit returns. */
	if (git_init_rc >= 0)
		git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
}

/*
 * Map a libgit2 return code to a negative errno and keep libgit2's message,
 * prefixed with `what`.  The single place where library codes are converted.
 */
static int ver_errno(int rc, const char *what)
{
	const git_error *e = git_error_last();
	const char *msg = e && e->message ? e->message : "unknown libgit2 error";
	int code;

	switch (rc) {
	case GIT_ENOTFOUND:
	case GIT_EAMBIGUOUS:
		code = -ENOENT;
		break;
	case GIT_EEXISTS:
		code = -EEXIST;
		break;
	case GIT_ENONFASTFORWARD:
		code = -EAGAIN;
		break;
	case GIT_ELOCKED:
	case GIT_EMODIFIED:
		code = -EBUSY;
		break;
	case GIT_EINVALIDSPEC:
	case GIT_EINVALID:
		code = -EINVAL;
		break;
	default:
		code = e && e->klass == GIT_ERROR_NOMEMORY ? -ENOMEM : -EIO;
		break;
	}
	return err_set(code, "%s: %s", what, msg);
}

/* Keep the current message but return `code` (err_set() cannot take err_last() directly). */
static int err_recode(int code, const char *prefix)
{
	char msg[1024];

	snprintf(msg, sizeof(msg), "%s", err_last());
	return err_set(code, "%s%s", prefix, msg);
}

/* Like ver_errno, but any failure is corruption: the object must exist. */
static int ver_corrupt(int rc, const char *what)
{
	int code = ver_errno(rc, what);

	return code == -ENOMEM ? code : err_recode(-EIO, "object store corrupt? ");
}

/* ---- loose-object guard backend ----------------------------------------- */

struct guard_backend {
	git_odb_backend parent;
	char *objects_dir;
};

static int guard_corrupt(const git_oid *oid, const char *why)
{
	char hex[GIT_OID_HEXSZ + 1];

	git_error_set(GIT_ERROR_ODB, "loose object %s is corrupt: %s",
		      git_oid_tostr(hex, sizeof(hex), oid), why);
	return -1;
}

/* Read the whole file at `path` into a malloc'ed buffer (one read for the common case). */
static int slurp(char **out, size_t *len_out, const char *path)
{
	struct stat st;
	size_t cap, len = 0;
	char *p = NULL, *np;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? GIT_ENOTFOUND : -1;
	cap = fstat(fd, &st) == 0 && st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
	for (;;) {
		if (len == cap || !p) {
			cap = p ? cap * 2 : cap;
			if (!(np = realloc(p, cap)))
				goto fail;
			p = np;
		}
		n = read(fd, p + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	*out = p;
	*len_out = len;
	return 0;
fail:
	git_error_set(GIT_ERROR_OS, "cannot read %s: %s", path, strerror(errno));
	free(p);
	close(fd);
	return -1;
}

/*
 * Read loose object `oid`: its type and size, and (unless data_out is NULL)
 * its bytes, inflated straight into a buffer from git_odb_backend_data_alloc.
 * GIT_ENOTFOUND if it is not a loose object (the pack backend answers then);
 * -1 with a libgit2 error if the stream is corrupt or ends early.  With all
 * input given and output space offered, zlib making no progress means the
 * stream is truncated: that is the state libgit2 1.5 spins in.
 */
static int guard_load(void **data_out, size_t *len_out, git_object_t *type_out,
		      struct guard_backend *g, const git_oid *oid)
{
	char hex[GIT_OID_HEXSZ + 1], path[PATH_MAX], hdr[64], tname[16];
	char *file = NULL, *data = NULL, *nul, *sp, *end;
	size_t file_len = 0, hdr_len, have, size;
	unsigned long long sz;
	z_stream zs;
	int zrc, error;

	git_oid_tostr(hex, sizeof(hex), oid);
	snprintf(path, sizeof(path), "%s/%.2s/%s", g->objects_dir, hex, hex + 2);
	if ((error = slurp(&file, &file_len, path)) < 0)
		return error;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit(&zs) != Z_OK) {
		free(file);
		git_error_set_oom();
		return -1;
	}
	zs.next_in = (Bytef *)file;
	zs.avail_in = (uInt)file_len;
	zs.next_out = (Bytef *)hdr;
	zs.avail_out = sizeof(hdr);
	/* The header "<type> <size>\0" fits in 64 bytes; anything longer is junk. */
	do {
		zrc = inflate(&zs, Z_NO_FLUSH);
		have = sizeof(hdr) - zs.avail_out;
		nul = memchr(hdr, '\0', have);
	} while (!nul && zrc == Z_OK && zs.avail_out > 0);
	if (!nul) {
		error = guard_corrupt(oid, "no header");
		goto done;
	}
	sp = memchr(hdr, ' ', (size_t)(nul - hdr));
	if (!sp || (size_t)(sp - hdr) >= sizeof(tname)) {
		error = guard_corrupt(oid, "bad header");
		goto done;
	}
	memcpy(tname, hdr, (size_t)(sp - hdr));
	tname[sp - hdr] = '\0';
	errno = 0;
	sz = strtoull(sp + 1, &end, 10);
	if ((*type_out = git_object_string2type(tname)) == GIT_OBJECT_INVALID || end != nul ||
	    errno || sz > SIZE_MAX / 2) {
		error = guard_corrupt(oid, "bad header");
		goto done;
	}
	size = (size_t)sz;
	*len_out = size;
	if (!data_out)
		goto done;
	hdr_len = (size_t)(nul - hdr) + 1;
	if (have - hdr_len > size) {
		error = guard_corrupt(oid, "longer than its header says");
		goto done;
	}
	if (!(data = git_odb_backend_data_alloc(&g->parent, size + 1))) {
		error = -1;
		goto done;
	}
	memcpy(data, hdr + hdr_len, have - hdr_len);
	zs.next_out = (Bytef *)data + (have - hdr_len);
	zs.avail_out = (uInt)(size + 1 - (have - hdr_len)); /* +1 to notice excess bytes */
	while (zrc == Z_OK) {
		uInt before = zs.avail_out;

		zrc = inflate(&zs, Z_FINISH);
		if (zrc != Z_STREAM_END && zs.avail_out == before)
			break;
		if (zrc == Z_BUF_ERROR && zs.avail_out > 0)
			break;
		if (zrc == Z_BUF_ERROR)
			zrc = Z_OK;
	}
	if (zrc != Z_STREAM_END) {
		error = guard_corrupt(oid, "truncated or damaged zlib stream");
		goto done;
	}
	if (zs.avail_out != 1) {
		error = guard_corrupt(oid, "size differs from its header");
		goto done;
	}
	*data_out = data;
	data = NULL;
done:
	inflateEnd(&zs);
	git_odb_backend_data_free(&g->parent, data);
	free(file);
	return error;
}

static int guard_read(void **data_out, size_t *len_out, git_object_t *type_out,
		      git_odb_backend *be, const git_oid *oid)
{
	return guard_load(data_out, len_out, type_out, (struct guard_backend *)be, oid);
}

static int guard_read_header(size_t *len_out, git_object_t *type_out, git_odb_backend *be,
			     const git_oid *oid)
{
	return guard_load(NULL, len_out, type_out, (struct guard_backend *)be, oid);
}

static void guard_free(git_odb_backend *be)
{
	struct guard_backend *g = (struct guard_backend *)be;

	free(g->objects_dir);
	free(g);
}

/* Put the guard in front of libgit2's loose backend in `repo`'s object database. */
static int guard_install(git_repository *repo)
{
	struct guard_backend *g;
	git_odb *odb = NULL;
	int rc;

	if (!(g = calloc(1, sizeof(*g))) ||
	    asprintf(&g->objects_dir, "%sobjects", git_repository_path(repo)) < 0) {
		free(g);
		return err_set(-ENOMEM, "out of memory");
	}
	git_odb_init_backend(&g->parent, GIT_ODB_BACKEND_VERSION);
	g->parent.read = guard_read;
	g->parent.read_header = guard_read_header;
	g->parent.free = guard_free;
	if ((rc = git_repository_odb(&odb, repo)) < 0 ||
	    (rc = git_odb_add_backend(odb, &g->parent, 100)) < 0) {
		git_odb_free(odb);
		guard_free(&g->parent);
		return ver_errno(rc, "cannot set up the object database");
	}
	git_odb_free(odb);
	return 0;
}

/* N of "vN" (canonical decimal, N >= 1), else 0. */
static unsigned parse_vname(const char *s)
{
	unsigned long n;
	char *end;

	if (s[0] != 'v' || s[1] < '1' || s[1] > '9')
		return 0;
	errno = 0;
	n = strtoul(s + 1, &end, 10);
	if (*end || errno || n > UINT_MAX)
		return 0;
	return (unsigned)n;
}

static int vtag_cmp(const void *a, const void *b)
{
	const struct vtag *x = a, *y = b;

	return x->n < y->n ? -1 : x->n > y->n;
}

/* All vN tags (peeled to commits), ascending.  Caller frees *out. */
static int collect_vtags(struct vtag **out, size_t *n_out, git_repository *repo)
{
	git_reference_iterator *it = NULL;
	git_reference *ref = NULL;
	git_object *obj = NULL;
	struct vtag *v = NULL;
	size_t n = 0, cap = 0;
	int rc, error = 0;

	*out = NULL;
	*n_out = 0;
	if ((rc = git_reference_iterator_glob_new(&it, repo, VTAG_PREFIX "*")) < 0)
		return ver_errno(rc, "cannot list tags");
	while ((rc = git_reference_next(&ref, it)) == 0) {
		unsigned num = parse_vname(git_reference_name(ref) + strlen("refs/tags/"));

		if (num) {
			if ((rc = git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT)) < 0) {
				error = ver_corrupt(rc, git_reference_name(ref));
				goto done;
			}
			if ((error = array_grow((void **)&v, &cap, n, sizeof(*v))) < 0)
				goto done;
			v[n].n = num;
			git_oid_cpy(&v[n].oid, git_object_id(obj));
			n++;
			git_object_free(obj);
			obj = NULL;
		}
		git_reference_free(ref);
		ref = NULL;
	}
	if (rc != GIT_ITEROVER) {
		error = ver_errno(rc, "cannot list tags");
		goto done;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), vtag_cmp);
done:
	git_object_free(obj);
	git_reference_free(ref);
	git_reference_iterator_free(it);
	if (error < 0) {
		free(v);
		return error;
	}
	*out = v;
	*n_out = n;
	return 0;
}

/* The highest N among the vN tags naming `oid`, or 0. */
static unsigned vtag_of(const struct vtag *v, size_t n, const git_oid *oid)
{
	unsigned best = 0;

	for (size_t i = 0; i < n; i++)
		if (git_oid_equal(&v[i].oid, oid) && v[i].n > best)
			best = v[i].n;
	return best;
}

/* main's commit into *oid: 0, 1 if main does not exist yet, or -errno. */
static int main_oid(git_oid *oid, git_repository *repo)
{
	int rc = git_reference_name_to_id(oid, repo, MAIN_REF);

	if (rc == GIT_ENOTFOUND)
		return 1;
	if (rc < 0)
		return ver_corrupt(rc, "cannot read " MAIN_REF);
	return 0;
}

/*
 * Move main forward to the newest vN tag when a crash left it behind (the
 * tag was created, main not yet moved).  A main that is ahead of the tags or
 * unrelated to them is left alone with a warning: that is someone else's
 * work, not a half-finished commit.
 */
static int repair_main(struct history *h)
{
	struct vtag *v = NULL;
	size_t n = 0;
	git_oid head;
	git_reference *ref = NULL;
	int rc, unborn, error;

	if ((error = collect_vtags(&v, &n, h->repo)) < 0 || n == 0)
		goto done;
	if ((unborn = main_oid(&head, h->repo)) < 0) {
		error = unborn;
		goto done;
	}
	if (!unborn) {
		if (git_oid_equal(&head, &v[n - 1].oid))
			goto done;
		rc = git_graph_descendant_of(h->repo, &v[n - 1].oid, &head);
		if (rc < 0) {
			error = ver_corrupt(rc, "cannot compare main with the newest tag");
			goto done;
		}
		if (rc == 0) {
			LOG_W("history %s: main is not behind v%u; left as it is", h->git_dir,
			      v[n - 1].n);
			goto done;
		}
	}
	rc = git_reference_create_matching(&ref, h->repo, MAIN_REF, &v[n - 1].oid, 1,
					   unborn ? NULL : &head, "dsfs: repair main");
	if (rc < 0) {
		error = ver_errno(rc, "cannot move main to the newest tag");
		goto done;
	}
	LOG_W("history %s: main was behind v%u (interrupted commit); moved forward", h->git_dir,
	      v[n - 1].n);
done:
	git_reference_free(ref);
	free(v);
	return error;
}

int history_open(struct history **out, const char *git_dir)
{
	struct history *h = NULL;
	git_repository_init_options opts;
	struct stat st;
	char head_path[PATH_MAX];
	int rc, error = 0;

	*out = NULL;
	pthread_once(&git_once, git_init_once);
	/* The _init() functions, not the macros: the macros leave fields implicit. */
	git_repository_init_options_init(&opts, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	if (git_init_rc < 0)
		return err_set(-EIO, "libgit2 failed to initialise");
	if (!(h = calloc(1, sizeof(*h))) || !(h->git_dir = strdup(git_dir))) {
		free(h);
		return err_set(-ENOMEM, "out of memory");
	}
	pthread_mutex_init(&h->lock, NULL);

	if (snprintf(head_path, sizeof(head_path), "%s/HEAD", git_dir) >= (int)sizeof(head_path)) {
		error = err_set(-ENAMETOOLONG, "git directory path too long: %s", git_dir);
		goto done;
	}
	if (stat(head_path, &st) < 0 && errno == ENOENT) {
		opts.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH |
			     GIT_REPOSITORY_INIT_NO_REINIT;
		opts.initial_head = "main";
		rc = git_repository_init_ext(&h->repo, git_dir, &opts);
		/* Lost a race with another process creating it: open theirs. */
		if (rc == GIT_EEXISTS)
			rc = git_repository_open_bare(&h->repo, git_dir);
	} else {
		rc = git_repository_open_bare(&h->repo, git_dir);
	}
	if (rc < 0) {
		error = ver_errno(rc, git_dir);
		if (error == -ENOENT)
			error = err_recode(-EIO, "not a git repository: ");
		goto done;
	}
	if ((error = guard_install(h->repo)) < 0)
		goto done;
	/*
	 * A repair that cannot run (a corrupt tag or commit) must not make the
	 * whole dataset unreadable: reads still work on intact versions, and
	 * history_commit() retries the repair and refuses to commit if it fails.
	 */
	{
		int wfd;

		if (writer_lock(h, &wfd) < 0 || repair_main(h) < 0)
			LOG_W("history %s: cannot check main against the tags: %s", git_dir, err_last());
		writer_unlock(wfd);
	}
done:
	if (error < 0) {
		history_free(h);
		return error;
	}
	*out = h;
	return 0;
}

void history_free(struct history *h)
{
	if (!h)
		return;
	git_repository_free(h->repo);
	pthread_mutex_destroy(&h->lock);
	free(h->git_dir);
	free(h);
}

const char *history_git_dir(const struct history *h)
{
	return h->git_dir;
}

void history_version_release(struct history_version *v)
{
	if (!v)
		return;
	free(v->message);
	free(v->author);
	*v = (struct history_version)HISTORY_VERSION_INIT;
}

void history_versions_free(struct history_version *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		history_version_release(&v[i]);
	free(v);
}

/* Fill `out` from `commit`, tagged vN (N = 0: untagged). */
static int fill_version(struct history_version *out, const git_commit *commit, unsigned n)
{
	const git_signature *a = git_commit_author(commit);
	const char *msg = git_commit_message(commit);
	size_t len = strlen(msg);

	*out = (struct history_version)HISTORY_VERSION_INIT;
	out->number = n;
	if (n)
		snprintf(out->tag, sizeof(out->tag), "v%u", n);
	git_oid_tostr(out->commit, sizeof(out->commit), git_commit_id(commit));
	out->time = (int64_t)git_commit_time(commit);
	while (len && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
		len--;
	if (!(out->message = strndup(msg, len)) ||
	    asprintf(&out->author, "%s <%s>", a->name, a->email) < 0) {
		out->author = NULL;
		history_version_release(out);
		return err_set(-ENOMEM, "out of memory");
	}
	return 0;
}

/* Paths are relative, '/'-separated, without empty, "." or ".." components. */
static int check_path(const char *p)
{
	const char *c = p;

	if (!*p)
		return err_set(-EINVAL, "empty path in a commit");
	while (*c) {
		const char *e = strchr(c, '/');
		size_t len = e ? (size_t)(e - c) : strlen(c);

		if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
			return err_set(-EINVAL, "invalid path in a commit: '%s'", p);
		c += len;
		if (*c == '/' && !*++c)
			return err_set(-EINVAL, "invalid path in a commit: '%s'", p);
	}
	return 0;
}

/*
 * Write the blobs and the nested trees for `files` and put the root tree's
 * id into `tree_out`.  An in-memory index sorts the paths and builds the
 * subtrees; it silently replaces duplicates and file/directory clashes, so
 * the entry count tells us whether the list was a valid tree.
 */
static int build_tree(git_oid *tree_out, git_repository *repo, const struct history_file *files,
		      size_t n)
{
	git_index *idx = NULL;
	int rc, error = 0;

	if ((rc = git_index_new(&idx)) < 0)
		return ver_errno(rc, "cannot create an index");
	for (size_t i = 0; i < n; i++) {
		git_index_entry e;

		if ((error = check_path(files[i].path)) < 0)
			goto done;
		memset(&e, 0, sizeof(e));
		e.mode = GIT_FILEMODE_BLOB;
		e.path = files[i].path;
		e.file_size = (uint32_t)files[i].len;
		if ((rc = git_blob_create_from_buffer(&e.id, repo, files[i].data, files[i].len)) < 0) {
			error = ver_errno(rc, "cannot write a manifest blob");
			goto done;
		}
		if ((rc = git_index_add(idx, &e)) < 0) {
			error = ver_errno(rc, files[i].path);
			if (error == -EIO)
				error = err_recode(-EINVAL, "");
			goto done;
		}
	}
	if (git_index_entrycount(idx) != n) {
		error = err_set(-EINVAL, "commit file list has a duplicate path or a path that is "
					 "both a file and a directory");
		goto done;
	}
	if ((rc = git_index_write_tree_to(tree_out, idx, repo)) < 0)
		error = ver_errno(rc, "cannot write the tree");
done:
	git_index_free(idx);
	return error;
}

int history_commit(struct history_version *out, struct history *h,
		   const struct history_file *files, size_t n_files, const char *message,
		   const char *author_name, const char *author_email)
{
	git_signature *sig = NULL;
	git_commit *head_commit = NULL, *commit = NULL;
	git_tree *tree = NULL;
	git_reference *ref = NULL;
	struct vtag *v = NULL;
	size_t nv = 0;
	git_oid head, tree_oid, commit_oid;
	char tag_ref[64], *msg = NULL;
	unsigned next;
	int rc, unborn, wfd = -1, error;

	if (out)
		*out = (struct history_version)HISTORY_VERSION_INIT;
	pthread_mutex_lock(&h->lock);
	if ((error = writer_lock(h, &wfd)) < 0 || (error = repair_main(h)) < 0)
		goto done;
	if ((unborn = main_oid(&head, h->repo)) < 0) {
		error = unborn;
		goto done;
	}
	if ((error = build_tree(&tree_oid, h->repo, files, n_files)) < 0 ||
	    (error = collect_vtags(&v, &nv, h->repo)) < 0)
		goto done;
	if (!unborn) {
		if ((rc = git_commit_lookup(&head_commit, h->repo, &head)) < 0) {
			error = ver_corrupt(rc, "cannot read main's commit");
			goto done;
		}
		if (git_oid_equal(git_commit_tree_id(head_commit), &tree_oid)) {
			unsigned hn = vtag_of(v, nv, &head);
			char hex[GIT_OID_HEXSZ + 1];

			git_oid_tostr(hex, sizeof(hex), &head);
			error = hn ? err_set(-EEXIST, "nothing to commit: same as v%u", hn)
				   : err_set(-EEXIST, "nothing to commit: same as %.12s", hex);
			goto done;
		}
	}
	next = nv ? v[nv - 1].n + 1 : 1;
	if (next == 0) {
		error = err_set(-EOVERFLOW, "version numbers exhausted");
		goto done;
	}
	if (asprintf(&msg, "%s\n", message && *message ? message : "dsfs version") < 0) {
		msg = NULL;
		error = err_set(-ENOMEM, "out of memory");
		goto done;
	}
	rc = git_signature_now(&sig, author_name && *author_name ? author_name : "dsfs",
			       author_email && *author_email ? author_email : "dsfs@localhost");
	if (rc < 0) {
		error = ver_errno(rc, "bad author");
		if (error == -EIO)
			error = err_recode(-EINVAL, "");
		goto done;
	}
	if ((rc = git_tree_lookup(&tree, h->repo, &tree_oid)) < 0) {
		error = ver_corrupt(rc, "cannot read the new tree");
		goto done;
	}
	rc = git_commit_create(&commit_oid, h->repo, NULL, sig, sig, NULL, msg, tree,
			       unborn ? 0 : 1, (const git_commit **)&head_commit);
	if (rc < 0) {
		error = ver_errno(rc, "cannot write the commit");
		goto done;
	}
	if (fault_sim(FAULT_HISTORY_BEFORE_TAG)) {
		error = err_set(-EIO, "injected fault: commit written, v%u not tagged", next);
		goto done;
	}
	snprintf(tag_ref, sizeof(tag_ref), VTAG_PREFIX "%u", next);
	if ((rc = git_reference_create(&ref, h->repo, tag_ref, &commit_oid, 0, NULL)) < 0) {
		error = ver_errno(rc, "cannot create the version tag");
		if (error == -EEXIST)
			error = err_set(-EBUSY, "v%u was created by a concurrent commit; try again",
					next);
		goto done;
	}
	git_reference_free(ref);
	ref = NULL;
	/*
	 * The version exists now.  If main cannot move (another writer moved
	 * it), the tag still stands and repair_main() fixes main later, so this
	 * is a warning, not a failed commit.
	 */
	rc = git_reference_create_matching(&ref, h->repo, MAIN_REF, &commit_oid, 1,
					   unborn ? NULL : &head, "dsfs: commit");
	if (rc < 0) {
		ver_errno(rc, "cannot move main");
		LOG_W("history %s: v%u tagged but %s", h->git_dir, next, err_last());
	}
	if (out) {
		if ((rc = git_commit_lookup(&commit, h->repo, &commit_oid)) < 0) {
			error = ver_corrupt(rc, "cannot read the new commit");
			goto done;
		}
		error = fill_version(out, commit, next);
	}
done:
	writer_unlock(wfd);
	pthread_mutex_unlock(&h->lock);
	git_reference_free(ref);
	git_commit_free(commit);
	git_commit_free(head_commit);
	git_tree_free(tree);
	git_signature_free(sig);
	free(msg);
	free(v);
	return error;
}

static int is_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		      (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

/* Commit named by `spec` into *oid (locked).  -ENOENT with a message naming the spec. */
static int resolve_locked(git_oid *oid, struct history *h, const char *spec)
{
	git_reference *ref = NULL;
	git_object *obj = NULL;
	char name[256];
	size_t len = strlen(spec);
	int rc, valid = 0, error = 0;

	if (len == 0)
		return err_set(-ENOENT, "empty version spec");
	if (strcmp(spec, "HEAD") == 0) {
		rc = main_oid(oid, h->repo);
		return rc == 1 ? err_set(-ENOENT, "HEAD: no version committed yet") : rc;
	}
	/* "3" means v3; otherwise a tag name, then a hex prefix. */
	if (spec[0] >= '1' && spec[0] <= '9' && strspn(spec, "0123456789") == len)
		snprintf(name, sizeof(name), VTAG_PREFIX "%s", spec);
	else if (snprintf(name, sizeof(name), "refs/tags/%s", spec) >= (int)sizeof(name))
		name[0] = '\0';
	if (name[0] && git_reference_name_is_valid(&valid, name) == 0 && valid) {
		rc = git_reference_lookup(&ref, h->repo, name);
		if (rc == 0) {
			if ((rc = git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT)) < 0) {
				error = ver_corrupt(rc, spec);
				goto done;
			}
			git_oid_cpy(oid, git_object_id(obj));
			goto done;
		}
		if (rc != GIT_ENOTFOUND) {
			error = ver_errno(rc, spec);
			goto done;
		}
	}
	if (len >= 4 && len <= GIT_OID_HEXSZ && is_hex(spec, len)) {
		git_oid prefix, full;
		git_odb *odb = NULL;

		/* Names only (see the guard above), then a read by full id. */
		if ((rc = git_oid_fromstrn(&prefix, spec, len)) == 0 &&
		    (rc = git_repository_odb(&odb, h->repo)) == 0)
			rc = git_odb_exists_prefix(&full, odb, &prefix, len);
		git_odb_free(odb);
		if (rc == 0)
			rc = git_object_lookup(&obj, h->repo, &full, GIT_OBJECT_ANY);
		if (rc == 0 && git_object_type(obj) != GIT_OBJECT_COMMIT)
			rc = GIT_ENOTFOUND;
		if (rc < 0) {
			if (rc == GIT_EAMBIGUOUS)
				error = err_set(-ENOENT, "'%s' is ambiguous: several objects start with "
							 "it; give more digits", spec);
			else if (rc == GIT_ENOTFOUND)
				error = err_set(-ENOENT, "no version or commit '%s'", spec);
			else
				error = ver_errno(rc, spec);
			goto done;
		}
		git_oid_cpy(oid, git_object_id(obj));
		goto done;
	}
	error = err_set(-ENOENT, "no version '%s' (a version is vN, a tag, HEAD, or a commit id of 4 "
				 "or more hex digits)", spec);
done:
	git_object_free(obj);
	git_reference_free(ref);
	return error;
}

int history_resolve(struct history_version *out, struct history *h, const char *spec)
{
	git_commit *commit = NULL;
	struct vtag *v = NULL;
	size_t nv = 0;
	git_oid oid;
	int rc, error;

	*out = (struct history_version)HISTORY_VERSION_INIT;
	pthread_mutex_lock(&h->lock);
	if ((error = resolve_locked(&oid, h, spec)) < 0 ||
	    (error = collect_vtags(&v, &nv, h->repo)) < 0)
		goto done;
	if ((rc = git_commit_lookup(&commit, h->repo, &oid)) < 0) {
		error = ver_corrupt(rc, spec);
		goto done;
	}
	error = fill_version(out, commit, vtag_of(v, nv, &oid));
done:
	pthread_mutex_unlock(&h->lock);
	git_commit_free(commit);
	free(v);
	return error;
}

/* The tree of commit `hex` (40 digits).  -EINVAL, -ENOENT (no such commit), -EIO. */
static int commit_tree(git_tree **out, struct history *h, const char *hex)
{
	git_commit *commit = NULL;
	git_oid oid;
	int rc;

	*out = NULL;
	if (!hex || strlen(hex) != GIT_OID_HEXSZ || !is_hex(hex, GIT_OID_HEXSZ) ||
	    git_oid_fromstr(&oid, hex) < 0)
		return err_set(-EINVAL, "not a full commit id: '%s'", hex ? hex : "(null)");
	rc = git_commit_lookup(&commit, h->repo, &oid);
	if (rc == GIT_ENOTFOUND)
		return err_set(-ENOENT, "no commit %s", hex);
	if (rc < 0)
		return ver_corrupt(rc, hex);
	rc = git_commit_tree(out, commit);
	git_commit_free(commit);
	return rc < 0 ? ver_corrupt(rc, hex) : 0;
}

/*
 * The tree entry for `path` in `tree` (borrowed from *owned, which the
 * caller frees; NULL for the root).  -ENOENT if absent.
 */
static int find_entry(git_tree_entry **owned, git_tree *tree, const char *path, const char *hex)
{
	int rc;

	*owned = NULL;
	while (*path == '/')
		path++;
	if (!*path)
		return 0;
	rc = git_tree_entry_bypath(owned, tree, path);
	if (rc == GIT_ENOTFOUND)
		return err_set(-ENOENT, "%s: no '%s' in this version", hex, path);
	return rc < 0 ? ver_corrupt(rc, path) : 0;
}

int history_read(struct buf *out, struct history *h, const char *commit_hex, const char *path)
{
	git_tree *tree = NULL;
	git_tree_entry *e = NULL;
	git_blob *blob = NULL;
	int rc, error;

	pthread_mutex_lock(&h->lock);
	if ((error = commit_tree(&tree, h, commit_hex)) < 0 ||
	    (error = find_entry(&e, tree, path, commit_hex)) < 0)
		goto done;
	if (!e || git_tree_entry_type(e) != GIT_OBJECT_BLOB) {
		error = err_set(-EISDIR, "%s: '%s' is a directory", commit_hex, path);
		goto done;
	}
	if ((rc = git_blob_lookup(&blob, h->repo, git_tree_entry_id(e))) < 0) {
		error = ver_corrupt(rc, path);
		goto done;
	}
	error = buf_put(out, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob));
done:
	pthread_mutex_unlock(&h->lock);
	git_blob_free(blob);
	git_tree_entry_free(e);
	git_tree_free(tree);
	return error;
}

int history_stat(struct history *h, const char *commit_hex, const char *path, int *is_dir_out,
		 uint64_t *size_out)
{
	git_tree *tree = NULL;
	git_tree_entry *e = NULL;
	git_odb *odb = NULL;
	size_t size = 0;
	git_object_t type;
	int rc, is_dir = 1, error;

	pthread_mutex_lock(&h->lock);
	if ((error = commit_tree(&tree, h, commit_hex)) < 0 ||
	    (error = find_entry(&e, tree, path, commit_hex)) < 0)
		goto done;
	if (e && git_tree_entry_type(e) == GIT_OBJECT_BLOB) {
		is_dir = 0;
		if ((rc = git_repository_odb(&odb, h->repo)) < 0 ||
		    (rc = git_odb_read_header(&size, &type, odb, git_tree_entry_id(e))) < 0) {
			error = ver_corrupt(rc, path);
			goto done;
		}
	} else if (e && git_tree_entry_type(e) != GIT_OBJECT_TREE) {
		error = err_set(-EIO, "%s: '%s' is neither a file nor a directory", commit_hex, path);
		goto done;
	}
	if (is_dir_out)
		*is_dir_out = is_dir;
	if (size_out)
		*size_out = size;
done:
	pthread_mutex_unlock(&h->lock);
	git_odb_free(odb);
	git_tree_entry_free(e);
	git_tree_free(tree);
	return error;
}

int history_list_dir(struct buf *out, size_t *n_out, struct history *h, const char *commit_hex,
		     const char *dir)
{
	git_tree *tree = NULL, *sub = NULL;
	git_tree_entry *e = NULL;
	size_t n, i;
	int rc, error;

	*n_out = 0;
	pthread_mutex_lock(&h->lock);
	if ((error = commit_tree(&tree, h, commit_hex)) < 0 ||
	    (error = find_entry(&e, tree, dir ? dir : "", commit_hex)) < 0)
		goto done;
	if (e) {
		if (git_tree_entry_type(e) != GIT_OBJECT_TREE) {
			error = err_set(-ENOTDIR, "%s: '%s' is not a directory", commit_hex, dir);
			goto done;
		}
		if ((rc = git_tree_lookup(&sub, h->repo, git_tree_entry_id(e))) < 0) {
			error = ver_corrupt(rc, dir);
			goto done;
		}
	}
	n = git_tree_entrycount(sub ? sub : tree);
	for (i = 0; i < n; i++) {
		const char *name = git_tree_entry_name(git_tree_entry_byindex(sub ? sub : tree, i));

		if ((error = buf_put(out, name, strlen(name) + 1)) < 0)
			goto done;
	}
	*n_out = n;
done:
	pthread_mutex_unlock(&h->lock);
	git_tree_free(sub);
	git_tree_entry_free(e);
	git_tree_free(tree);
	return error;
}

int history_versions(struct history_version **out, size_t *n_out, struct history *h)
{
	struct history_version *res = NULL;
	struct vtag *v = NULL;
	git_commit *commit = NULL;
	size_t nv = 0, i = 0;
	int rc, error;

	*out = NULL;
	*n_out = 0;
	pthread_mutex_lock(&h->lock);
	if ((error = collect_vtags(&v, &nv, h->repo)) < 0)
		goto done;
	if (nv && !(res = calloc(nv, sizeof(*res)))) {
		error = err_set(-ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < nv; i++) {
		if ((rc = git_commit_lookup(&commit, h->repo, &v[i].oid)) < 0) {
			error = ver_corrupt(rc, "cannot read a version's commit");
			goto done;
		}
		if ((error = fill_version(&res[i], commit, v[i].n)) < 0)
			goto done;
		git_commit_free(commit);
		commit = NULL;
	}
done:
	pthread_mutex_unlock(&h->lock);
	git_commit_free(commit);
	free(v);
	if (error < 0) {
		history_versions_free(res, i);
		return error;
	}
	*out = res;
	*n_out = nv;
	return 0;
}

/* ---- ref transport (sync/remote) ---------------------------------------- */

/*
 * An anonymous remote for `url`, with url.<base>.insteadOf rewriting
 * skipped: that scan goes through libgit2 1.5's regex config iterator,
 * which leaks its pcre2 match data on every call (seen with valgrind and
 * LeakSanitizer); dsfs never writes insteadOf rules.  Named remotes are
 * written to the config directly (history_remote_add).
 */
static int remote_create(git_remote **out, git_repository *repo, const char *url)
{
	git_remote_create_options opts;

	git_remote_create_options_init(&opts, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	opts.repository = repo;
	opts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF;
	return git_remote_create_with_opts(out, url, &opts);
}

int history_remote_add(struct history *h, const char *name, const char *url)
{
	git_config *cfg = NULL, *snap = NULL;
	git_buf dummy = GIT_BUF_INIT;
	char key[256], fetch[300];
	int rc, valid = 0, error = 0;

	/*
	 * The config keys git_remote_create() would write, written directly:
	 * git_remote_create() re-reads the remote through git_remote_lookup()
	 * and its leaking insteadOf scan (see remote_create).
	 */
	if (git_remote_name_is_valid(&valid, name) < 0 || !valid ||
	    snprintf(key, sizeof(key), "remote.%s.url", name) >= (int)sizeof(key))
		return err_set(-EINVAL, "'%s' is not a valid remote name", name);
	if (!url || !*url)
		return err_set(-EINVAL, "remote '%s': empty URL", name);
	snprintf(fetch, sizeof(fetch), "+refs/heads/*:refs/remotes/%s/*", name);
	pthread_mutex_lock(&h->lock);
	if ((rc = git_repository_config(&cfg, h->repo)) < 0 ||
	    (rc = git_config_snapshot(&snap, cfg)) < 0) {
		error = ver_errno(rc, "cannot read the repository config");
		goto done;
	}
	rc = git_config_get_string_buf(&dummy, snap, key);
	if (rc == 0) {
		error = err_set(-EEXIST, "remote '%s' already exists", name);
		goto done;
	}
	if (rc != GIT_ENOTFOUND) {
		error = ver_errno(rc, "cannot read the repository config");
		goto done;
	}
	if ((rc = git_config_set_string(cfg, key, url)) < 0) {
		error = ver_errno(rc, "cannot record the remote");
		goto done;
	}
	snprintf(key, sizeof(key), "remote.%s.fetch", name);
	if ((rc = git_config_set_string(cfg, key, fetch)) < 0)
		error = ver_errno(rc, "cannot record the remote");
done:
	pthread_mutex_unlock(&h->lock);
	git_buf_dispose(&dummy);
	git_config_free(snap);
	git_config_free(cfg);
	return error;
}

int history_remote_url(struct buf *out, struct history *h, const char *name)
{
	git_config *cfg = NULL;
	const char *url;
	char key[256];
	int rc, error;

	/*
	 * Straight from the config, not git_remote_lookup(): that applies
	 * insteadOf rules through the leaking regex iterator (see remote_create).
	 */
	if (snprintf(key, sizeof(key), "remote.%s.url", name) >= (int)sizeof(key))
		return err_set(-ENOENT, "no remote '%s'", name);
	pthread_mutex_lock(&h->lock);
	rc = git_repository_config_snapshot(&cfg, h->repo);
	if (rc == 0)
		rc = git_config_get_string(&url, cfg, key);
	if (rc == GIT_ENOTFOUND)
		error = err_set(-ENOENT, "no remote '%s'", name);
	else if (rc < 0)
		error = ver_errno(rc, name);
	else
		error = buf_puts(out, url);
	pthread_mutex_unlock(&h->lock);
	git_config_free(cfg);
	return error;
}

/* Payload of the push callbacks: the first ref the remote refused. */
struct push_status {
	char ref[128];
	char why[256];
};

static int on_push_update(const char *refname, const char *status, void *data)
{
	struct push_status *ps = data;

	if (status && !ps->ref[0]) {
		snprintf(ps->ref, sizeof(ps->ref), "%s", refname);
		snprintf(ps->why, sizeof(ps->why), "%s", status);
	}
	return 0;
}

int history_push_url(struct history *h, const char *url)
{
	git_remote *remote = NULL;
	git_push_options opts;
	git_strarray specs = { NULL, 0 };
	struct push_status ps;
	struct vtag *v = NULL;
	size_t nv = 0, i;
	git_oid head;
	int rc, unborn, error;

	memset(&ps, 0, sizeof(ps));
	git_push_options_init(&opts, GIT_PUSH_OPTIONS_VERSION);
	pthread_mutex_lock(&h->lock);
	if ((unborn = main_oid(&head, h->repo)) < 0) {
		error = unborn;
		goto done;
	}
	if ((error = collect_vtags(&v, &nv, h->repo)) < 0)
		goto done;
	/* libgit2's push takes no globs: one explicit refspec per tag. */
	if (!(specs.strings = calloc(nv + 1, sizeof(char *)))) {
		error = err_set(-ENOMEM, "out of memory");
		goto done;
	}
	if (!unborn && !(specs.strings[specs.count++] = strdup(MAIN_REF ":" MAIN_REF))) {
		error = err_set(-ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < nv; i++) {
		if (asprintf(&specs.strings[specs.count], VTAG_PREFIX "%u:" VTAG_PREFIX "%u", v[i].n,
			     v[i].n) < 0) {
			specs.strings[specs.count] = NULL;
			error = err_set(-ENOMEM, "out of memory");
			goto done;
		}
		specs.count++;
	}
	if (specs.count == 0)
		goto done;
	if ((rc = remote_create(&remote, h->repo, url)) < 0) {
		error = ver_errno(rc, url);
		goto done;
	}
	opts.callbacks.push_update_reference = on_push_update;
	opts.callbacks.payload = &ps;
	if ((rc = git_remote_push(remote, &specs, &opts)) < 0) {
		/* One message: libgit2's own ("cannot push because...") would repeat it. */
		if (rc == GIT_ENONFASTFORWARD)
			error = err_set(-EAGAIN, "refused: %s has versions this dataset lacks "
						 "(pull first)", url);
		else
			error = ver_errno(rc, url);
		goto done;
	}
	if (ps.ref[0])
		error = err_set(-EAGAIN, "%s refused %s: %s", url, ps.ref, ps.why);
done:
	pthread_mutex_unlock(&h->lock);
	git_remote_free(remote);
	for (i = 0; i < specs.count; i++)
		free(specs.strings[i]);
	free(specs.strings);
	free(v);
	return error;
}

struct history_lock {
	int fd;        /* holds the flock on git_dir/dsfs.lock */
	dev_t dev;     /* the lock file's identity when locked */
	ino_t ino;
	char *git_dir;
};

int history_lock_dir(struct history_lock **out, const char *git_dir)
{
	struct history_lock *l;
	struct stat st;
	int error;

	*out = NULL;
	if (!(l = calloc(1, sizeof(*l))) || !(l->git_dir = strdup(git_dir))) {
		free(l);
		return err_set(-ENOMEM, "out of memory");
	}
	l->fd = -1;
	if ((error = fs_mkdir_p(git_dir, 0755)) < 0 ||
	    (error = lock_git_dir(git_dir, "waiting for another writer to finish with", &l->fd)) < 0)
		goto fail;
	if (fstat(l->fd, &st) < 0) {
		error = err_set(-errno, "%s/dsfs.lock: %s", git_dir, strerror(errno));
		goto fail;
	}
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	*out = l;
	return 0;
fail:
	history_unlock_dir(l);
	return error;
}

int history_lock_check(const struct history_lock *l)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/dsfs.lock", l->git_dir);
	/* Removed (rm -rf of the remote) or replaced: our flock guards nothing any more. */
	if (stat(path, &st) < 0 || st.st_dev != l->dev || st.st_ino != l->ino)
		return err_set(-ENOENT, "%s was removed or replaced while we held its lock", l->git_dir);
	return 0;
}

void history_unlock_dir(struct history_lock *l)
{
	if (!l)
		return;
	writer_unlock(l->fd);
	free(l->git_dir);
	free(l);
}

/* 1 if `git_dir` has no repository yet. */
static int no_repository(const char *git_dir)
{
	char head[PATH_MAX];
	struct stat st;

	snprintf(head, sizeof(head), "%s/HEAD", git_dir);
	return stat(head, &st) < 0 && errno == ENOENT;
}

int history_push_check(struct history *h, const struct history_lock *l)
{
	git_remote *remote = NULL;
	git_fetch_options opts;
	const git_remote_head **heads = NULL;
	struct vtag *local = NULL;
	size_t n_local = 0, n_heads = 0, i;
	git_oid head, rhead, base;
	char *specv[2] = { "+" MAIN_REF ":refs/dsfs/push-check/main",
			   "+" VTAG_PREFIX "*:refs/dsfs/push-check/tags/v*" };
	git_strarray specs = { specv, 2 };
	int rc, unborn, error = 0;

	if ((error = history_lock_check(l)) < 0)
		return error;
	if (no_repository(l->git_dir))
		return 0; /* a new remote: anything fast-forwards */
	git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
	opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	pthread_mutex_lock(&h->lock);
	if ((rc = remote_create(&remote, h->repo, l->git_dir)) < 0) {
		error = ver_errno(rc, l->git_dir);
		goto done;
	}
	/*
	 * Objects only (no ref of ours changes): the remote's commits must be
	 * here to tell "ahead" from "diverged" from "unrelated".  They stay as
	 * unreferenced objects, which are harmless.
	 */
	if ((rc = git_remote_download(remote, &specs, &opts)) < 0 ||
	    (rc = git_remote_ls(&heads, &n_heads, remote)) < 0) {
		error = ver_errno(rc, l->git_dir);
		goto done;
	}
	if ((unborn = main_oid(&head, h->repo)) < 0) {
		error = unborn;
		goto done;
	}
	if ((error = collect_vtags(&local, &n_local, h->repo)) < 0)
		goto done;
	for (i = 0; i < n_heads; i++) {
		const char *rn = heads[i]->name;
		unsigned num;

		if (strcmp(rn, MAIN_REF) == 0) {
			git_oid_cpy(&rhead, &heads[i]->oid);
			if (unborn || git_oid_equal(&rhead, &head))
				continue; /* nothing of ours moves main (unborn: no versions to send) */
			if ((rc = git_graph_descendant_of(h->repo, &head, &rhead)) == 1)
				continue;
			if (rc == 0 && (rc = git_graph_descendant_of(h->repo, &rhead, &head)) == 1) {
				error = err_set(-EAGAIN, "refused: %s has versions this dataset lacks "
							 "(pull first)", l->git_dir);
				goto done;
			}
			if (rc == 0 && (rc = git_merge_base(&base, h->repo, &head, &rhead)) == 0) {
				error = err_set(-EAGAIN, "refused: histories diverged: %s and this "
							 "dataset both have versions the other lacks",
						l->git_dir);
				goto done;
			}
			if (rc == GIT_ENOTFOUND) {
				error = err_set(-EAGAIN, "refused: unrelated history: the remote's main "
							 "does not contain this dataset's versions nor the "
							 "reverse (%s)", l->git_dir);
				goto done;
			}
			error = ver_corrupt(rc, "cannot compare main with the remote's");
			goto done;
		} else if (strncmp(rn, "refs/tags/", 10) == 0 && (num = parse_vname(rn + 10))) {
			git_object *obj = NULL, *c = NULL;

			rc = git_object_lookup(&obj, h->repo, &heads[i]->oid, GIT_OBJECT_ANY);
			if (rc == 0)
				rc = git_object_peel(&c, obj, GIT_OBJECT_COMMIT);
			for (size_t j = 0; rc == 0 && j < n_local; j++) {
				if (local[j].n == num && !git_oid_equal(&local[j].oid, git_object_id(c))) {
					error = err_set(-EAGAIN, "refused: v%u differs between this "
								 "dataset and %s: histories diverged",
							num, l->git_dir);
					break;
				}
			}
			git_object_free(c);
			git_object_free(obj);
			if (rc < 0)
				error = ver_corrupt(rc, rn);
			if (error < 0)
				goto done;
		}
	}
done:
	pthread_mutex_unlock(&h->lock);
	git_remote_free(remote);
	free(local);
	return error;
}

int history_push_locked(struct history *h, const struct history_lock *l)
{
	git_repository_init_options opts;
	git_repository *repo = NULL;
	int rc, error;

	if ((error = history_lock_check(l)) < 0)
		return error;
	if (no_repository(l->git_dir)) {
		/* Under the remote's lock, so two first pushes cannot both init it. */
		git_repository_init_options_init(&opts, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
		opts.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH |
			     GIT_REPOSITORY_INIT_NO_REINIT;
		opts.initial_head = "main";
		rc = git_repository_init_ext(&repo, l->git_dir, &opts);
		error = rc < 0 ? ver_errno(rc, l->git_dir) : 0;
		git_repository_free(repo);
		if (error < 0)
			return error;
	}
	return history_push_url(h, l->git_dir);
}

int history_fetch_url(struct history_fetch_result *out, struct history *h, const char *name,
		      const char *url)
{
	git_remote *remote = NULL;
	git_fetch_options opts;
	const git_remote_head **heads = NULL;
	git_reference *ref = NULL;
	struct history_fetch_result res;
	struct vtag *local = NULL, *theirs = NULL;
	size_t n_local = 0, n_theirs = 0, n_heads = 0, i;
	git_oid head, rhead;
	char spec_main[200], spec_tags[200], *specv[2] = { spec_main, spec_tags };
	git_strarray specs = { specv, 2 };
	int rc, unborn, have_remote_main = 0, ff = 0, wfd = -1, error = 0;

	memset(&res, 0, sizeof(res));
	git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
	if (snprintf(spec_main, sizeof(spec_main), "+" MAIN_REF ":refs/remotes/%s/main", name) >=
		    (int)sizeof(spec_main) ||
	    snprintf(spec_tags, sizeof(spec_tags), "+" VTAG_PREFIX "*:refs/remotes/%s/tags/v*",
		     name) >= (int)sizeof(spec_tags))
		return err_set(-EINVAL, "remote name too long: %s", name);
	pthread_mutex_lock(&h->lock);
	if ((error = writer_lock(h, &wfd)) < 0)
		goto done;
	if ((rc = remote_create(&remote, h->repo, url)) < 0) {
		error = ver_errno(rc, url);
		goto done;
	}
	opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	if ((rc = git_remote_fetch(remote, &specs, &opts, "dsfs: fetch")) < 0) {
		error = ver_errno(rc, "fetch");
		if (error == -ENOENT)
			error = err_recode(-ENOENT, "fetch: ");
		goto done;
	}
	/* The advertised refs stay readable after the fetch disconnected. */
	if ((rc = git_remote_ls(&heads, &n_heads, remote)) < 0) {
		error = ver_errno(rc, "fetch");
		goto done;
	}
	if (n_heads && !(theirs = calloc(n_heads, sizeof(*theirs)))) {
		error = err_set(-ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < n_heads; i++) {
		const char *rn = heads[i]->name;
		unsigned num;

		if (strcmp(rn, MAIN_REF) == 0) {
			git_oid_cpy(&rhead, &heads[i]->oid);
			have_remote_main = 1;
		} else if (strncmp(rn, "refs/tags/", 10) == 0 && (num = parse_vname(rn + 10))) {
			git_object *obj = NULL;

			/* Peel in our own odb: the fetch brought the objects. */
			rc = git_object_lookup(&obj, h->repo, &heads[i]->oid, GIT_OBJECT_ANY);
			if (rc == 0) {
				git_object *c = NULL;

				rc = git_object_peel(&c, obj, GIT_OBJECT_COMMIT);
				if (rc == 0)
					git_oid_cpy(&theirs[n_theirs].oid, git_object_id(c));
				git_object_free(c);
			}
			git_object_free(obj);
			if (rc < 0) {
				error = ver_corrupt(rc, rn);
				goto done;
			}
			theirs[n_theirs++].n = num;
		}
	}
	if (n_theirs > 1)
		qsort(theirs, n_theirs, sizeof(*theirs), vtag_cmp);
	res.remote_max = n_theirs ? theirs[n_theirs - 1].n : 0;

	if ((unborn = main_oid(&head, h->repo)) < 0) {
		error = unborn;
		goto done;
	}
	if (!unborn)
		git_oid_tostr(res.old_head, sizeof(res.old_head), &head);
	if (have_remote_main && (unborn || !git_oid_equal(&head, &rhead))) {
		rc = unborn ? 1 : git_graph_descendant_of(h->repo, &rhead, &head);
		if (rc < 0) {
			error = ver_corrupt(rc, "cannot compare main with the remote's");
			goto done;
		}
		ff = rc;
		if (!ff && (rc = git_graph_descendant_of(h->repo, &head, &rhead)) <= 0) {
			error = rc < 0 ? ver_corrupt(rc, "cannot compare main with the remote's")
				       : err_set(-EAGAIN, "main and %s's main have diverged; "
							  "cannot fast-forward",
						 name);
			goto done;
		}
	}
	/* Check every tag before changing any, so a refusal changes nothing. */
	if ((error = collect_vtags(&local, &n_local, h->repo)) < 0)
		goto done;
	for (i = 0; i < n_theirs; i++) {
		for (size_t j = 0; j < n_local; j++) {
			if (local[j].n == theirs[i].n && !git_oid_equal(&local[j].oid, &theirs[i].oid)) {
				error = err_set(-EAGAIN, "v%u differs between this dataset and %s: "
							 "histories diverged",
						theirs[i].n, name);
				goto done;
			}
		}
	}
	for (i = 0; i < n_theirs; i++) {
		char tag_ref[64];

		snprintf(tag_ref, sizeof(tag_ref), VTAG_PREFIX "%u", theirs[i].n);
		rc = git_reference_create(&ref, h->repo, tag_ref, &theirs[i].oid, 0, "dsfs: fetch");
		git_reference_free(ref);
		ref = NULL;
		if (rc == GIT_EEXISTS)
			continue;
		if (rc < 0) {
			error = ver_errno(rc, tag_ref);
			goto done;
		}
		res.new_tags++;
	}
	if (ff) {
		rc = git_reference_create_matching(&ref, h->repo, MAIN_REF, &rhead, 1,
						   unborn ? NULL : &head, "dsfs: fast-forward");
		if (rc < 0) {
			error = ver_errno(rc, "cannot fast-forward main");
			goto done;
		}
		git_oid_tostr(res.new_head, sizeof(res.new_head), &rhead);
	} else {
		snprintf(res.new_head, sizeof(res.new_head), "%s", res.old_head);
	}
	error = 0;
done:
	writer_unlock(wfd);
	pthread_mutex_unlock(&h->lock);
	git_reference_free(ref);
	git_remote_free(remote);
	free(local);
	free(theirs);
	if (error == 0 && out)
		*out = res;
	return error;
}
