#pragma once
/* Inside the router (router.c, router_batch.c, router_outcome.c): the router's state and the
 * steps the batch runs. Nothing outside the router includes it. */
#include <pthread.h>

#include "agent/agent.h"
#include "router.h"
#include "wait.h"
#include "writer.h"

/* Locks that keep one user's messages in one order from their ids to the agent's queue
 * when several threads store them (a user's lock is chosen by its id, see order_lock). */
#define ORDER_LOCKS 64
/* PostgreSQL's writers, each a thread with its connection: while one waits for a round
 * trip, another's batch runs. Two since a batch looks its messages up in one round trip
 * (look_up in router.c): with four, batches were half as big, and each message cost the
 * server more (a batch's BEGIN, lookup, stats and COMMIT shared by fewer), most of all
 * with two routers on one database (docs/postgres-performance.md). A sender's messages all
 * go to one writer (by its number), so they are stored in arrival order, as with one. Two
 * batches that lock the same two users in opposite orders meet in a deadlock, which the
 * server ends after deadlock_timeout by failing one statement: that message alone is
 * rolled back to its savepoint and answered 503 (Twilio retries); with many users it is
 * rare. */
#define PG_WRITERS 2

struct router {
	struct store *store;
	struct agent *agent;
	struct ratelimit *rl;
	struct ratelimit *global;  /* NULL: off */
	struct ratelimit *unknown; /* NULL: off */
	bool smart_encoding;
	int max_segments;
	int budget;
	bool rest;
	const char *whatsapp_from; /* borrowed (router_options) */
	int sender_limit;
	int sender_window_s;
	void (*on_enqueue)(void *ctx);
	void *on_enqueue_ctx;
	bool operator;
	void (*on_operator)(void *ctx);
	void *on_operator_ctx;
	const char *onboarding;
	const char *help;
	int window_s;
	pthread_mutex_t order_mu[ORDER_LOCKS];
	/* The threads that store every message, in batches (PG_WRITERS). */
	struct writer *writer[PG_WRITERS];
	int writers;
	bool look_ahead; /* the store looks a batch's messages up at once (look_up in router.c) */
	pthread_mutex_t mu; /* guards answered */
	struct wait_count batches; /* committed, waiting for their durability callback */
	/* The Agent Core's answers of its current turn, oldest first (store_answers). */
	struct router_job *answered;
	struct router_job **answered_tail;
};

/* Steps 1–7 of one message inside the batch's transaction (the agent's answer aside when
 * it comes after the commit). */
int router__decide(struct router *r, struct router_job *job);
/* The reply stored as the answer to job's inbound message; it becomes job's result. Takes
 * over reply (NULL or blank, without media: nothing to say, nothing stored). */
int router__store_reply(struct router *r, struct router_job *job, char *reply);
/* Releases the order lock *mu (if held) and clears it. */
void router__order_unlock(pthread_mutex_t **mu);
/* The agent has answered job's message: counted and logged; its reply, or the apology. */
char *router__agent_answered(struct router_job *job, int err, struct agent_answer *a);
/* Runs jobs (linked by next) in one transaction, then answers each once it is durable. */
void router__run_batch(struct router *r, struct router_job *jobs);
/* The Agent Core's answers of one turn, stored together (agent_on_answers' callback). */
void router__store_answers(void *ctx);
/* ret's outcome counted in the metrics, and job's outcome logged once (rest: the router
 * queues for the outbox; operator: an operator URL is configured). */
void router__count(const struct router_result *ret);
void router__log_outcome(const struct router_job *job, bool rest, bool operator);
