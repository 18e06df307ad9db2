#include "writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/prctl.h>

struct writer {
	struct router *router;
	struct store *store;
	pthread_t thread;
	pthread_mutex_t mu; /* guards the queue and stopping */
	pthread_cond_t cv;
	struct writer_job *head;
	struct writer_job **tail;
	bool stopping;
	int unanswered; /* batches committed whose done() calls have not all run */
	/* The writer thread's own. */
	struct router_batch_item items[WRITER_BATCH_MAX];
};

/* A finished batch, jobs linked by next: each answered. */
static void batch_done(void *ctx) {
	struct writer_job *j = ctx;
	struct writer *w = j->writer;
	while (j) {
		struct writer_job *next = j->next;
		j->done(j);
		j = next;
	}
	pthread_mutex_lock(&w->mu);
	w->unanswered--;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* The batch's commit is durable (err 0) or cannot be: then nothing of it is answered as
 * stored. */
static void batch_durable(void *ctx, int err) {
	for (struct writer_job *j = ctx; j && err < 0; j = j->next) {
		if (j->err >= 0) {
			free(j->result.reply);
			j->result.reply = NULL;
			j->err = err;
		}
	}
	batch_done(ctx);
}

/* Up to WRITER_BATCH_MAX jobs off the queue, in arrival order, or NULL once stopping and
 * empty. */
static struct writer_job *take(struct writer *w) {
	pthread_mutex_lock(&w->mu);
	while (!w->head && !w->stopping) {
		pthread_cond_wait(&w->cv, &w->mu);
	}
	struct writer_job *batch = w->head;
	struct writer_job **pp = &w->head;
	for (int n = 0; *pp && n < WRITER_BATCH_MAX; n++) {
		pp = &(*pp)->next;
	}
	w->head = *pp;
	*pp = NULL;
	if (!w->head) {
		w->tail = &w->head;
	}
	if (batch) {
		w->unanswered++;
	}
	pthread_mutex_unlock(&w->mu);
	return batch;
}

static void *run(void *arg) {
	struct writer *w = arg;
	struct writer_job *batch;

	prctl(PR_SET_NAME, "sr-writer"); /* the name top and perf show */
	while ((batch = take(w)) != NULL) {
		size_t n = 0;
		for (struct writer_job *j = batch; j; j = j->next) {
			w->items[n++] = (struct router_batch_item){.in = j->in};
		}
		/* Inside our transaction the router's commit is a savepoint's: ours commits the
		 * batch and answers it once on stable storage, without waiting for the fsync. */
		bool outer = store_tx_begin(w->store) == 0;
		int e = router_inbound_batch(w->router, w->items, n);
		n = 0;
		for (struct writer_job *j = batch; j; j = j->next, n++) {
			j->result = w->items[n].result;
			j->err = w->items[n].err;
		}
		if (outer && e < 0) {
			store_tx_rollback(w->store);
		}
		if (!outer || e < 0 || store_tx_commit_then(w->store, batch_durable, batch) < 0) {
			batch_durable(batch, outer && e == 0 ? -EIO : 0);
		}
	}
	return NULL;
}

int writer_start(struct router *r, struct store *s, struct writer **ret_writer) {
	struct writer *w = calloc(1, sizeof(*w));
	if (!w) {
		return -ENOMEM;
	}
	w->router = r;
	w->store = s;
	w->tail = &w->head;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->thread, NULL, run, w) != 0) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		free(w);
		return -EAGAIN;
	}
	*ret_writer = w;
	return 0;
}

void writer_submit(struct writer *w, struct writer_job *job) {
	job->next = NULL;
	job->writer = w;
	pthread_mutex_lock(&w->mu);
	*w->tail = job;
	w->tail = &job->next;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void writer_stop(struct writer *w) {
	if (!w) {
		return;
	}
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	/* The last batches may still wait for their fsync on the store's flusher. */
	pthread_mutex_lock(&w->mu);
	while (w->unanswered > 0) {
		pthread_cond_wait(&w->cv, &w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}
