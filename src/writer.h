#pragma once
/* writer: one thread that decides and stores webhooks in batches, for a store with one
 * writer at a time (SQLite) and a batchable router (store_single_writer, router_batchable).
 *
 * The HTTP threads verify a webhook and hand it over (writer_submit); the writer takes
 * every message queued at that moment, up to WRITER_BATCH_MAX, and runs them in one
 * transaction (router_inbound_batch: a savepoint each, one commit). One commit then writes
 * each hot index page once per batch rather than once per message, and one fsync makes
 * the whole batch durable. While that fsync runs, the writer already works on the next
 * batch. A job's done() runs once its message is durable, or has failed. */
#include "router.h"
#include "store/store.h"

#define WRITER_BATCH_MAX 256

struct writer;

struct writer_job {
	const struct router_inbound *in; /* borrowed until done */
	/* Filled before done runs: err 0 with result (its reply is the job's to free), or
	 * -errno when nothing was stored. */
	struct router_result result;
	int err;
	/* Runs once, on the writer's thread or the store's flusher, when the stored
	 * message is on stable storage (or has failed). */
	void (*done)(struct writer_job *job);
	struct writer_job *next; /* the writer's */
	struct writer *writer;   /* the writer's */
};

/* Starts the thread. r and s are borrowed and must outlive the writer. -ENOMEM, -EAGAIN. */
int writer_start(struct router *r, struct store *s, struct writer **ret_writer);
/* Queues job; job->done will run. */
void writer_submit(struct writer *w, struct writer_job *job);
/* Finishes every job queued (each done() has returned), then stops the thread. NULL is
 * fine. */
void writer_stop(struct writer *w);
