/* Two-stage ingest pipeline (see ingest_pipe.h). */
#include "ingest_pipe.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/err.h"

struct ingest_pipe {
	ingest_done_fn done;
	void *arg;
	struct repo *repo;
	pthread_t thread;
	int threaded;          /* 0: the thread could not start; commit inline */

	pthread_mutex_t lock;  /* everything below */
	pthread_cond_t cond;
	struct ingest_group group;  /* handed to the thread (released by its commit) */
	struct ingest_item *items;  /* the group's items, for `done` */
	size_t n;
	int busy;              /* group handed over, commit not finished */
	int finished;          /* group committed, `done` not yet called */
	int stop;
	int error;             /* the finished group's result */
	char message[1024];    /* and its message (the thread's own err slot) */
};

static void *committer(void *arg)
{
	struct ingest_pipe *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->busy && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		if (!p->busy)
			break;
		pthread_mutex_unlock(&p->lock);
		int error = ingest_commit(&p->group);
		pthread_mutex_lock(&p->lock);
		p->error = error;
		snprintf(p->message, sizeof(p->message), "%s", error < 0 ? err_msg(error) : "");
		p->busy = 0;
		p->finished = 1;
		pthread_cond_broadcast(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Hand a group's outcome to `done`; returns its error. */
static int report(struct ingest_pipe *p, struct ingest_item *items, size_t n, int error,
		  const char *message)
{
	p->done(p->arg, items, n, error, message);
	return error < 0 ? error : 0;
}

int ingest_pipe_flush(struct ingest_pipe *p)
{
	pthread_mutex_lock(&p->lock);
	while (p->busy)
		pthread_cond_wait(&p->cond, &p->lock);
	int finished = p->finished;
	p->finished = 0;
	pthread_mutex_unlock(&p->lock);
	/* The thread is idle now: group, error and message are ours to read. */
	return finished ? report(p, p->items, p->n, p->error, p->message) : 0;
}

int ingest_pipe_open(struct ingest_pipe **out, struct repo *repo, ingest_done_fn done, void *arg)
{
	struct ingest_pipe *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return err_set(-ENOMEM, "out of memory");
	p->done = done;
	p->arg = arg;
	p->repo = repo;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->threaded = pthread_create(&p->thread, NULL, committer, p) == 0;
	*out = p;
	return 0;
}

int ingest_pipe_push(struct ingest_pipe *p, struct ingest_item *items, size_t n,
		     const char *source)
{
	struct ingest_group g;
	int error, previous;

	err_clear();
	error = ingest_stage(&g, p->repo, items, n, source);
	previous = ingest_pipe_flush(p);
	if (error < 0) {
		error = report(p, items, n, error, err_msg(error));
	} else if (!p->threaded) {
		error = ingest_commit(&g);
		error = report(p, items, n, error, error < 0 ? err_msg(error) : "");
	} else {
		pthread_mutex_lock(&p->lock);
		p->group = g;
		p->items = items;
		p->n = n;
		p->busy = 1;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
	}
	return previous < 0 ? previous : error;
}

int ingest_pipe_close(struct ingest_pipe *p)
{
	int error;

	if (!p)
		return 0;
	error = ingest_pipe_flush(p);
	if (p->threaded) {
		pthread_mutex_lock(&p->lock);
		p->stop = 1;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->thread, NULL);
	}
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
	return error;
}
