/* router: the batch (router_batch.c) — one transaction, one commit, one fsync for the
 * messages the writer hands over, each in its savepoint, answered once durable; the agent
 * called after the commit, its answers stored with the next batch. */
#include "router.h"
#include "router_private.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "wait.h"

/* ---- the batch: one transaction, one commit, one fsync ---- */

/* One job's writes in its own savepoint: nothing of a message that fails stays, and the
 * others of its batch stand. A late agent answer only stores its reply. */
static void run_one(struct router *r, struct router_job *job) {
	int e = store_tx_begin(r->store) < 0 ? -EIO : 0;
	if (e == 0) {
		char *reply = job->result.reply; /* an agent's late answer */
		job->result.reply = NULL;
		e = job->has_reply_to_store ? router__store_reply(r, job, reply) : router__decide(r, job);
		if (e < 0) {
			store_tx_rollback(r->store);
		} else if (store_tx_commit(r->store) < 0) {
			e = -EIO;
		}
	}
	if (e < 0) {
		router__order_unlock(&job->order);
		job->calls_agent = false;
		router_result_clear(&job->result);
		job->err = e;
	}
}

/* done, once; job is not touched after. err < 0: nothing of it is acknowledged. */
static void finish(struct router_job *job, int err) {
	if (err == 0) {
		router__log_outcome(job, job->r->rest, job->r->operator);
	}
	free(job->reply_media);
	job->reply_media = NULL;
	free(job->lookup.reply); /* a lookup (look_up) its transaction never read */
	free(job->lookup.media);
	job->lookup.reply = job->lookup.media = NULL;
	if (err < 0) {
		router_result_clear(&job->result);
	}
	job->done(job->ctx, err, &job->result);
}

static void fail_all(struct router_job *jobs, int err) {
	while (jobs) {
		struct router_job *next = jobs->next;
		router__order_unlock(&jobs->order);
		finish(jobs, err);
		jobs = next;
	}
}

/* Answers each job of a committed batch (jobs: its waiting list), now that its commit is
 * durable (err 0) or never will be (err -EIO). */
static void answer_batch(struct router_job *jobs, int err) {
	struct router *r = jobs->r;
	for (struct router_job *job = jobs, *next; job; job = next) {
		next = job->next;
		if (err == 0 && job->err == 0 && !job->has_reply_to_store) {
			router__count(&job->result);
		}
		finish(job, err < 0 ? err : job->err);
	}
	wait_count_done(&r->batches);
}

/* One of the two things a batch's answers wait for: its durability (the store's callback)
 * and its thread's work after the commit (the outbox woken first). The second answers. */
static void batch_part_done(struct router_job *jobs) {
	if (atomic_fetch_sub(&jobs->parts, 1) == 1) {
		answer_batch(jobs, jobs->durable_err);
	}
}

static void on_durable(void *ctx, int err) {
	struct router_job *jobs = ctx;
	jobs->durable_err = err;
	batch_part_done(jobs);
}

static void on_answer(void *ctx, int err, struct agent_answer *answer);

/* Calls the agent of a message that is committed (so that the agent's history, read
 * from the store, holds the messages before it). A call that cannot start is answered
 * (the apology) and its reply stored here. */
static void call_agent(struct router *r, struct router_job *job) {
	pthread_mutex_t *order = job->order; /* job may be answered before the call returns */
	struct agent_request req = {.user = &job->user, .message = &job->message};

	router__count(&job->result);
	job->order = NULL;
	clock_gettime(CLOCK_MONOTONIC, &job->t0);
	int e = agent_reply_async(r->agent, &req, on_answer, job);
	if (e < 0) {
		struct agent_answer none = {0};
		job->result.reply = router__agent_answered(job, e, &none);
		job->has_reply_to_store = true;
		job->calls_agent = false;
		job->next = NULL;
		router__run_batch(r, job);
	}
	router__order_unlock(&order);
}

/* The agent's answer, on its thread: kept with the others of its turn until the agent
 * has answered them all (router__store_answers). */
static void on_answer(void *ctx, int err, struct agent_answer *answer) {
	struct router_job *job = ctx;
	struct router *r = job->r;
	job->result.reply = router__agent_answered(job, err, answer);
	job->has_reply_to_store = true;
	job->calls_agent = false;
	pthread_mutex_lock(&r->mu);
	*r->answered_tail = job;
	r->answered_tail = &job->next;
	job->next = NULL;
	pthread_mutex_unlock(&r->mu);
}

/* The agent's answers of one turn, on its thread, committed together in one transaction
 * (one commit, one fsync for all) before this returns: the agent starts these users' next
 * calls when it does, and their history must hold these replies. Each message is answered
 * once the commit is durable, which covers its inbound row, committed before the agent was
 * called (one log, written in order). */
void router__store_answers(void *ctx) {
	struct router *r = ctx;
	pthread_mutex_lock(&r->mu);
	struct router_job *jobs = r->answered;
	r->answered = NULL;
	r->answered_tail = &r->answered;
	pthread_mutex_unlock(&r->mu);
	if (!jobs) {
		return;
	}
	if (r->writers == 0) {
		router__run_batch(r, jobs);
		return;
	}
	/* With the webhooks' batches, on the writer's thread (its connection's page cache
	 * stays warm; one commit, one fsync for all): the last one's commit covers them all.
	 * An agent called after the commit means one writer (router_create). */
	struct wait_once stored = WAIT_ONCE_INIT;
	struct router_job *last = jobs;
	while (last->next) {
		last = last->next;
	}
	last->stored = &stored;
	for (struct router_job *job = jobs, *next; job; job = next) {
		next = job->next;
		writer_submit(r->writer[0], &job->item);
	}
	wait_once_wait(&stored);
}

/* Wakes the outbox, whose claim would not have seen the rows before their commit. */
static void enqueued(const struct router *r) {
	if (r->on_enqueue) {
		r->on_enqueue(r->on_enqueue_ctx);
	}
}

static void nothing_waits(void *ctx, int err) {
	(void)ctx;
	(void)err;
}

/* Runs jobs (linked by next) in one transaction, then answers each once it is durable;
 * the messages whose agent answers later call it once the transaction is committed. */
void router__run_batch(struct router *r, struct router_job *jobs) {
	struct router_job *waiting = NULL, **wait_tail = &waiting;
	struct router_job *calling = NULL, **call_tail = &calling;
	bool queued = false, operator = false;
	struct wait_once *stored = NULL; /* store_answers' (the job may be gone after commit) */

	for (struct router_job *job = jobs; job; job = job->next) {
		if (job->stored) {
			stored = job->stored;
			job->stored = NULL;
		}
	}
	if (store_tx_begin(r->store) < 0) {
		fail_all(jobs, -EIO);
		if (stored) {
			wait_once_signal(stored);
		}
		return;
	}
	for (struct router_job *job = jobs, *next; job; job = next) {
		next = job->next;
		job->next = NULL;
		run_one(r, job);
		queued |= job->err == 0 && job->message.enqueue && !job->has_reply_to_store;
		operator |= job->err == 0 && job->result.outcome == ROUTER_HUMAN && r->operator &&
			    !job->has_reply_to_store;
		struct router_job ***tail = job->calls_agent ? &call_tail : &wait_tail;
		**tail = job;
		*tail = &job->next;
	}
	if (waiting) {
		atomic_init(&waiting->parts, 2);
		wait_count_add(&r->batches);
	}
	if (store_tx_commit_then(r->store, waiting ? on_durable : nothing_waits, waiting) < 0) {
		/* Not committed, or (PostgreSQL's connection lost during COMMIT) not known to
		 * be: answer 503 as if nothing had been accepted. Twilio's retry then either
		 * routes it or finds it stored and gets the stored reply. */
		if (waiting) {
			wait_count_done(&r->batches);
		}
		fail_all(waiting, -EIO);
		fail_all(calling, -EIO);
		if (stored) {
			wait_once_signal(stored);
		}
		return;
	}
	if (stored) {
		wait_once_signal(stored);
	}
	if (queued) {
		enqueued(r);
	}
	if (operator && r->on_operator) {
		r->on_operator(r->on_operator_ctx);
	}
	for (struct router_job *job = calling, *next; job; job = next) {
		next = job->next;
		call_agent(r, job);
	}
	if (waiting) {
		batch_part_done(waiting);
	}
}

