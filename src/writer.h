#pragma once
/* writer: one thread that runs queued work in batches, for a store that writes one
 * transaction at a time anyway (SQLite). Callers queue items from any thread; the thread
 * takes every item queued at that moment, up to WRITER_BATCH_MAX, in arrival order, and
 * hands them to the batch function as one list. Knows nothing of what an item is (the
 * router's messages) or of the store. */
#include <stddef.h>

#define WRITER_BATCH_MAX 256

struct writer;

struct writer_item { /* embedded in the caller's item; the writer's while queued */
	struct writer_item *next;
};

/* Runs one batch on the writer's thread: items linked by next, at least one. The items
 * are the batch function's from then on. */
typedef void (*writer_batch_fn)(void *ctx, struct writer_item *batch);

/* Starts the thread. ctx is borrowed and must outlive the writer. -ENOMEM, -EAGAIN. */
int writer_start(writer_batch_fn run, void *ctx, struct writer **ret_writer);
/* Queues item (any thread, also the writer's own from inside a batch). */
void writer_submit(struct writer *w, struct writer_item *item);
/* Queues item on one of the n writers of w, always the same one for the same key (NULL:
 * ""): the items of one key are run in the order they were queued. */
void writer_submit_by(struct writer *const *w, int n, const char *key, struct writer_item *item);
/* Runs every batch queued, then stops the thread. NULL is fine. */
void writer_stop(struct writer *w);
