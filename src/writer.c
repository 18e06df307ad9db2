#include "writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/prctl.h>

struct writer {
	writer_batch_fn run;
	void *ctx;
	pthread_t thread;
	pthread_mutex_t mu; /* guards the queue and stopping */
	pthread_cond_t cv;
	struct writer_item *head;
	struct writer_item **tail;
	bool stopping;
};

/* Up to WRITER_BATCH_MAX items off the queue, in arrival order, or NULL once stopping and
 * empty. */
static struct writer_item *take(struct writer *w) {
	pthread_mutex_lock(&w->mu);
	while (!w->head && !w->stopping) {
		pthread_cond_wait(&w->cv, &w->mu);
	}
	struct writer_item *batch = w->head;
	struct writer_item **pp = &w->head;
	for (int n = 0; *pp && n < WRITER_BATCH_MAX; n++) {
		pp = &(*pp)->next;
	}
	w->head = *pp;
	*pp = NULL;
	if (!w->head) {
		w->tail = &w->head;
	}
	pthread_mutex_unlock(&w->mu);
	return batch;
}

static void *loop(void *arg) {
	struct writer *w = arg;
	struct writer_item *batch;

	prctl(PR_SET_NAME, "sr-writer"); /* the name top and perf show */
	while ((batch = take(w)) != NULL) {
		w->run(w->ctx, batch);
	}
	return NULL;
}

int writer_start(writer_batch_fn run, void *ctx, struct writer **ret_writer) {
	struct writer *w = calloc(1, sizeof(*w));
	if (!w) {
		return -ENOMEM;
	}
	w->run = run;
	w->ctx = ctx;
	w->tail = &w->head;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->thread, NULL, loop, w) != 0) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		free(w);
		return -EAGAIN;
	}
	*ret_writer = w;
	return 0;
}

void writer_submit(struct writer *w, struct writer_item *item) {
	item->next = NULL;
	pthread_mutex_lock(&w->mu);
	*w->tail = item;
	w->tail = &item->next;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void writer_submit_by(struct writer *const *w, int n, const char *key, struct writer_item *item) {
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const char *c = key ? key : ""; *c; c++) {
		h = (h ^ (unsigned char)*c) * 16777619u;
	}
	writer_submit(w[h % (uint32_t)n], item);
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
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}
