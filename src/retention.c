#include "retention.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "ids.h"
#include "log.h"
#include "metrics.h"
#include "wait.h"

struct retention {
	struct retention_options o;
	struct store *store;
	struct wait_bell bell; /* rung to stop */
	atomic_bool stop;
	pthread_t thread;
	bool started;
};

/* One sweep: batches until one comes back short, the stop, or a failure (tried again at
 * the next sweep). */
static void sweep(struct retention *rt) {
	int64_t cutoff = ids_now() - (int64_t)rt->o.days * 86400;
	int64_t t0 = ids_now_ms(), erased = 0, batches = 0, n = 0;
	int r = 0;

	while (!atomic_load(&rt->stop)) {
		int64_t b0 = ids_now_ms();
		r = store_retention_sweep(rt->store, cutoff, rt->o.batch, &n);
		if (r < 0) {
			metrics_inc(METRICS_STORE_ERRORS);
			break;
		}
		erased += n;
		batches++;
		metrics_add(METRICS_RETENTION_ERASED, (uint64_t)n);
		if (n < rt->o.batch) {
			break;
		}
		/* Yield: the webhook's writes take the lock meanwhile. */
		int64_t pause = (ids_now_ms() - b0) * rt->o.pause_factor;
		pause = pause < rt->o.pause_min_ms ? rt->o.pause_min_ms : pause;
		wait_bell_sleep(&rt->bell, pause, wait_bell_rung(&rt->bell), &rt->stop);
	}
	if (r < 0) {
		log_warn("retention.failed", LOG_INT("erased", erased), LOG_INT("error", r));
		return;
	}
	log_info("retention.swept", LOG_INT("erased", erased), LOG_INT("batches", batches),
			LOG_INT("days", rt->o.days), LOG_INT("ms", ids_now_ms() - t0));
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
