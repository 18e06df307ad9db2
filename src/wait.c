#include "wait.h"

#include <time.h>

void wait_once_signal(struct wait_once *w) {
	pthread_mutex_lock(&w->mu);
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void wait_once_wait(struct wait_once *w) {
	pthread_mutex_lock(&w->mu);
	while (!w->done) {
		pthread_cond_wait(&w->cv, &w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
}

void wait_bell_init(struct wait_bell *b) {
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	b->rung = 0;
}

void wait_bell_finish(struct wait_bell *b) {
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
}

void wait_bell_ring(struct wait_bell *b) {
	pthread_mutex_lock(&b->mu);
	b->rung++;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

uint64_t wait_bell_rung(struct wait_bell *b) {
	pthread_mutex_lock(&b->mu);
	uint64_t n = b->rung;
	pthread_mutex_unlock(&b->mu);
	return n;
}

void wait_bell_sleep(struct wait_bell *b, int64_t ms, uint64_t seen, const atomic_bool *stop) {
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&b->mu);
	while (!atomic_load(stop) && b->rung == seen) {
		if (pthread_cond_timedwait(&b->cv, &b->mu, &ts) != 0) {
			break;
		}
	}
	pthread_mutex_unlock(&b->mu);
}

void wait_count_init(struct wait_count *c) {
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	c->n = 0;
}

void wait_count_finish(struct wait_count *c) {
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
}

void wait_count_add(struct wait_count *c) {
	pthread_mutex_lock(&c->mu);
	c->n++;
	pthread_mutex_unlock(&c->mu);
}

void wait_count_done(struct wait_count *c) {
	pthread_mutex_lock(&c->mu);
	if (--c->n == 0) {
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
}

void wait_count_zero(struct wait_count *c) {
	pthread_mutex_lock(&c->mu);
	while (c->n > 0) {
		pthread_cond_wait(&c->cv, &c->mu);
	}
	pthread_mutex_unlock(&c->mu);
}
