#include "retention.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "ids.h"
#include "log.h"
#include "metrics.h"
#include "wait.h"

#define HOLD_TARGET_US 2000 /* a batch's write-lock hold the sweep aims at */
#define MIN_BATCH 5

struct retention {
	struct retention_options o;
	struct store *store;
	struct wait_bell bell; /* rung to stop */
	atomic_bool stop;
	pthread_t thread;
	bool started;
};

static int64_t now_us(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The batches' write-lock holds so far: how many, their sum and the longest (µs). */
struct holds {
	int64_t batches, sum_us, max_us;
};

static void log_progress(const char *what, const struct retention *rt, const struct holds *h,
		int64_t erased, int64_t t0) {
	int64_t ms = ids_now_ms() - t0;
	log_info(what, LOG_INT("erased", erased), LOG_INT("batches", h->batches),
			LOG_INT("days", rt->o.days),
			LOG_INT("ms", ms), LOG_INT("per_s", ms > 0 ? erased * 1000 / ms : 0),
			LOG_INT("avg_us", h->batches ? h->sum_us / h->batches : 0),
			LOG_INT("max_us", h->max_us));
}

/* One sweep: batches until one comes back short, the stop, or a failure (tried again at
 * the next sweep). Each batch is timed (its transaction holds the write lock throughout);
 * the pause after it is pause_factor times that, at least pause_min_ms. A long sweep logs
 * its progress every ten seconds. */
static void sweep(struct retention *rt) {
	int64_t cutoff = ids_now() - (int64_t)rt->o.days * 86400;
	int64_t t0 = ids_now_ms(), erased = 0, n = 0, next_log = t0 + 10000;
	struct holds h = {0};
	int batch = rt->o.batch, r = 0;

	while (!atomic_load(&rt->stop)) {
		int64_t b0 = now_us();
		r = store_retention_sweep(rt->store, cutoff, batch, &n);
		int64_t took = now_us() - b0;
		if (r < 0) {
			metrics_inc(METRICS_STORE_ERRORS);
			break;
		}
		erased += n;
		h.batches++;
		h.sum_us += took;
		h.max_us = took > h.max_us ? took : h.max_us;
		metrics_add(METRICS_RETENTION_ERASED, (uint64_t)n);
		if (n < batch) {
			break;
		}
		/* Keep each hold near HOLD_TARGET_US whatever a row costs on this disk: a
		 * webhook's write waits at most about that long. */
		if (took > HOLD_TARGET_US && batch > MIN_BATCH) {
			batch = batch * 2 / 3 > MIN_BATCH ? batch * 2 / 3 : MIN_BATCH;
		} else if (took < HOLD_TARGET_US / 2 && batch < rt->o.batch) {
			batch = batch + batch / 4 + 1 < rt->o.batch ? batch + batch / 4 + 1 : rt->o.batch;
		}
		if (ids_now_ms() >= next_log) {
			log_progress("retention.progress", rt, &h, erased, t0);
			next_log += 10000;
		}
		/* Yield: the webhook's writes take the lock meanwhile. */
		int64_t pause = took * rt->o.pause_factor / 1000;
		pause = pause < rt->o.pause_min_ms ? rt->o.pause_min_ms : pause;
		wait_bell_sleep(&rt->bell, pause, wait_bell_rung(&rt->bell), &rt->stop);
	}
	if (r < 0) {
		log_warn("retention.failed", LOG_INT("erased", erased), LOG_INT("error", r));
		return;
	}
	log_progress("retention.swept", rt, &h, erased, t0);
}

static void *loop(void *arg) {
	struct retention *rt = arg;
	while (!atomic_load(&rt->stop)) {
		uint64_t seen = wait_bell_rung(&rt->bell);
		int64_t t0 = ids_now_ms();
		sweep(rt);
		int64_t left = rt->o.interval_ms - (ids_now_ms() - t0);
		if (left > 0) {
			wait_bell_sleep(&rt->bell, left, seen, &rt->stop);
		}
	}
	return NULL;
}

int retention_start(const struct retention_options *o, struct store *s,
		struct retention **ret) {
	struct retention *rt = calloc(1, sizeof(*rt));
	if (!rt) {
		return -ENOMEM;
	}
	rt->o = *o;
	rt->store = s;
	wait_bell_init(&rt->bell);
	atomic_init(&rt->stop, false);
	if (pthread_create(&rt->thread, NULL, loop, rt) != 0) {
		retention_stop(rt);
		return -EIO;
	}
	rt->started = true;
	*ret = rt;
	return 0;
}

void retention_stop(struct retention *rt) {
	if (!rt) {
		return;
	}
	atomic_store(&rt->stop, true);
	wait_bell_ring(&rt->bell);
	if (rt->started) {
		pthread_join(rt->thread, NULL);
	}
	wait_bell_finish(&rt->bell);
	free(rt);
}
