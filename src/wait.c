#include "wait.h"

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
