#pragma once
/* wait: one thread waits until another says "done", once — the blocking form of a
 * callback API. Knows nothing of the other modules. */
#include <pthread.h>
#include <stdbool.h>

struct wait_once {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
};

#define WAIT_ONCE_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false}

/* Says done. What the signalling thread wrote before is seen by the waiter after. */
void wait_once_signal(struct wait_once *w);
/* Waits until done has been said (at once if it was), then releases w. */
void wait_once_wait(struct wait_once *w);
