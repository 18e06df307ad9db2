/* proactive: sends in batches — the sends waiting at one moment stored in one transaction
 * by a writer thread (writer.c), a savepoint each, one commit and one fsync for all; each
 * answered once its batch is durable. A send's reads (the user, reply_to, the WhatsApp
 * window, the answer's row) run inside the batch too, on the writer's connection, whose
 * pages stay cached: a request costs no transaction of its own. */
#include "proactive.h"

#include <errno.h>
#include <stdlib.h>

#include "wait.h"

struct proactive_queue {
	struct proactive p;
	void (*on_due)(void *ctx);
	void *on_due_ctx;
	/* One on SQLite (one write transaction at a time anyway); on PostgreSQL a commit's
	 * round trips cost more than a batch's waits. A user's sends go to one of them (by the
	 * user id), so two batches never wait for each other's user locks. */
	struct writer *writer[PROACTIVE_QUEUE_WRITERS];
	int writers;
	struct wait_count batches; /* committed, their answers waiting for durability */
};

/* Answers each job of jobs (linked by next): err < 0, none of them may be acknowledged. */
static void answer(struct proactive_job *jobs, int err) {
	for (struct proactive_job *job = jobs, *next; job; job = next) {
		next = job->next;
		if (err < 0) {
			job->answer = err;
		}
		proactive_prepared_finish(&job->prepared);
		job->done(job->ctx, job);
	}
}

static void on_durable(void *ctx, int err) {
	struct proactive_job *jobs = ctx;
	struct proactive_queue *q = jobs->queue;
	answer(jobs, err < 0 ? -EIO : 0);
	wait_count_done(&q->batches);
}

/* One send in its own savepoint: a send that fails leaves nothing, and the others of its
 * batch stand. */
static void run_one(struct proactive_queue *q, struct proactive_job *job) {
	struct store *s = q->p.store;
	int r = store_tx_begin(s) < 0 ? -EIO : 0;
	if (r == 0) {
		r = proactive_send_prepared(&q->p, &job->rq, &job->prepared, job->id,
				&job->created, &job->refusal);
		if (r == 0 && job->stored) {
			r = job->stored(job->ctx, s, job);
		}
		if (r < 0) {
			store_tx_rollback(s);
		} else if (store_tx_commit(s) < 0) {
			r = -EIO;
		}
	}
	job->answer = r;
}

/* The writer's batch: its items are jobs (item first). */
static void run_batch(void *ctx, struct writer_item *items) {
	struct proactive_queue *q = ctx;
	struct proactive_job *jobs = NULL, **tail = &jobs;
	bool due = false;

	for (struct writer_item *i = items; i; i = i->next) {
		struct proactive_job *job = (struct proactive_job *)i;
		job->next = NULL;
		*tail = job;
		tail = &job->next;
	}
	if (store_tx_begin(q->p.store) < 0) {
		answer(jobs, -EIO);
		return;
	}
	for (struct proactive_job *job = jobs; job; job = job->next) {
		run_one(q, job);
		due |= job->answer == 0 && job->due;
	}
	wait_count_add(&q->batches);
	if (store_tx_commit_then(q->p.store, on_durable, jobs) < 0) {
		/* Not committed, or not known to be: nothing of it is acknowledged. */
		answer(jobs, -EIO);
		wait_count_done(&q->batches);
		return;
	}
	if (due && q->on_due) {
		q->on_due(q->on_due_ctx); /* committed: the sender's claim sees them */
	}
}

int proactive_queue_start(const struct proactive *p, void (*on_due)(void *ctx), void *ctx,
		struct proactive_queue **ret_queue) {
	struct proactive_queue *q = calloc(1, sizeof(*q));
	if (!q) {
		return -ENOMEM;
	}
	q->p = *p;
	q->on_due = on_due;
	q->on_due_ctx = ctx;
	wait_count_init(&q->batches);
	int n = store_single_writer(p->store) ? 1 : PROACTIVE_QUEUE_WRITERS;
	for (; q->writers < n; q->writers++) {
		int e = writer_start(run_batch, q, &q->writer[q->writers]);
		if (e < 0) {
			proactive_queue_stop(q);
			return e;
		}
	}
	*ret_queue = q;
	return 0;
}

void proactive_queue_submit(struct proactive_queue *q, struct proactive_job *job) {
	job->queue = q;
	proactive_prepare(&job->rq, &job->prepared);
	writer_submit_by(q->writer, q->writers, job->rq.user_id, &job->item);
}

void proactive_queue_stop(struct proactive_queue *q) {
	if (!q) {
		return;
	}
	for (int i = 0; i < q->writers; i++) {
		writer_stop(q->writer[i]);
	}
	/* The last batches may still wait for their fsync on the store's flusher. */
	wait_count_zero(&q->batches);
	wait_count_finish(&q->batches);
	free(q);
}
