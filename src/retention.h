#pragma once
/* retention: the sweep of SMSROUTER_RETENTION_DAYS (CONTRACT.md "Retention"). One thread
 * erases the messages older than the setting, at start and then every interval, in small
 * batches (store_retention_sweep: one short transaction each, their counts kept as daily
 * totals) with a pause after each batch, so that the webhook's writes never wait long
 * behind it. Logs one line per sweep (counts only) and counts what it erased. Knows nothing
 * of HTTP. */
#include <stdint.h>

#include "store/store.h"

struct retention;

struct retention_options {
	int days;            /* > 0 */
	int batch;           /* messages per transaction at most (fewer while a hold is long) */
	int64_t interval_ms; /* between the starts of two sweeps */
	/* After a batch, the thread sleeps pause_factor times as long as the batch took, and
	 * at least pause_min_ms: the sweep holds the store's write lock a small share of the
	 * time whatever the disk's speed. */
	int pause_factor;
	int pause_min_ms;
};

/* Starts the thread; s is borrowed and must outlive it. 0, -ENOMEM or -EIO. */
int retention_start(const struct retention_options *o, struct store *s,
		struct retention **ret);
/* Stops the thread (a batch in progress finishes first) and frees it. NULL is fine. */
void retention_stop(struct retention *rt);
