/*
 * mountlink: see mountlink.h.  One request is one byte ('c': the catalog
 * changed); the answer is one byte ('k') once the mount has acted on it.
 */
#include "core/mountlink.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <xxhash.h>

#include "util/err.h"
#include "util/log.h"

#define NOTIFY_TIMEOUT_S 60 /* a mount that does not answer in this long is wedged */

struct mountlink {
	int fd;
	pthread_t thread;
	void (*fn)(void *arg);
	void *arg;
};

/* "\0dsfs-<hash of the path>": abstract names have no length trouble and no file. */
static socklen_t link_address(struct sockaddr_un *sa, const char *repo_dir)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "dsfs-%016llx",
		     (unsigned long long)XXH3_64bits(repo_dir, strlen(repo_dir)));
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

static void *serve(void *arg)
{
	struct mountlink *ml = arg;
	int c;

	while ((c = accept4(ml->fd, NULL, NULL, SOCK_CLOEXEC)) >= 0 || errno == EINTR ||
	       errno == ECONNABORTED) {
		char req;

		if (c < 0)
			continue;
		while (read(c, &req, 1) == 1) {
			ml->fn(ml->arg);
			if (write(c, "k", 1) != 1)
				break;
		}
		close(c);
	}
	return NULL; /* shut down by mountlink_close */
}

int mountlink_listen(struct mountlink **out, const char *repo_dir, void (*fn)(void *arg),
		     void *arg)
{
	struct mountlink *ml = calloc(1, sizeof(*ml));
	struct sockaddr_un sa;
	socklen_t len = link_address(&sa, repo_dir);
	int error;

	*out = NULL;
	if (!ml)
		return err_set(-ENOMEM, "out of memory");
	ml->fn = fn;
	ml->arg = arg;
	if ((ml->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		error = err_set(-errno, "mountlink: socket: %s", strerror(errno));
		goto fail;
	}
	if (bind(ml->fd, (struct sockaddr *)&sa, len) < 0) {
		error = errno == EADDRINUSE
			? err_set(-EADDRINUSE, "mountlink: %s is mounted already", repo_dir)
			: err_set(-errno, "mountlink: bind: %s", strerror(errno));
		goto fail;
	}
	if (listen(ml->fd, 16) < 0) {
		error = err_set(-errno, "mountlink: listen: %s", strerror(errno));
		goto fail;
	}
	if (pthread_create(&ml->thread, NULL, serve, ml) != 0) {
		error = err_set(-EAGAIN, "mountlink: cannot start its thread");
		goto fail;
	}
	*out = ml;
	return 0;
fail:
	if (ml->fd >= 0)
		close(ml->fd);
	free(ml);
	return error;
}

void mountlink_close(struct mountlink *ml)
{
	if (!ml)
		return;
	shutdown(ml->fd, SHUT_RDWR); /* accept() in the thread returns */
	pthread_join(ml->thread, NULL);
	close(ml->fd);
	free(ml);
}

int mountlink_notify(const char *repo_dir)
{
	struct timeval tv = { .tv_sec = NOTIFY_TIMEOUT_S };
	struct sockaddr_un sa;
	socklen_t len = link_address(&sa, repo_dir);
	char ack = 0;
	int fd, error = 0;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return err_set(-errno, "mountlink: socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, len) < 0) {
		close(fd);
		return 0; /* no mount of this dataset */
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (write(fd, "c", 1) != 1 || read(fd, &ack, 1) != 1 || ack != 'k')
		error = err_set(-ETIMEDOUT, "the mount of %s did not take the change in (it will within a second)",
				repo_dir);
	else
		LOG_D("mountlink: the mount took the change in");
	close(fd);
	return error;
}
