#pragma once
/* wait: one thread waits until another says "done", once — the blocking form of a
 * callback API; and a bell that worker threads sleep on between polls, rung when there is
 * work (the outbox, events). Knows nothing of the other modules. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

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

/* A bell: a worker notes how often it has rung (wait_bell_rung), looks for work, and when
 * it found none sleeps until the bell rings again, a timeout passes or it is told to stop;
 * a ring between its look and its sleep is not lost. */
struct wait_bell {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t rung;
};

void wait_bell_init(struct wait_bell *b);
void wait_bell_finish(struct wait_bell *b);
/* Wakes every sleeper. */
void wait_bell_ring(struct wait_bell *b);
uint64_t wait_bell_rung(struct wait_bell *b);
/* Sleeps up to ms, or until the bell has rung more than seen times, or *stop (checked
 * under the bell's lock: set it, then ring). */
void wait_bell_sleep(struct wait_bell *b, int64_t ms, uint64_t seen, const atomic_bool *stop);

/* A count of things under way (batches committed whose durability has not been told yet):
 * a shutdown waits until none is left. */
struct wait_count {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int n;
};

void wait_count_init(struct wait_count *c);
void wait_count_finish(struct wait_count *c);
void wait_count_add(struct wait_count *c);
/* One is over; the last wakes wait_count_zero. */
void wait_count_done(struct wait_count *c);
/* Waits until none is under way. */
void wait_count_zero(struct wait_count *c);
