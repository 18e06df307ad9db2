#pragma once
/* proactive: a message smsrouter starts itself (the agent or an operator speaks first, or
 * answers a given message), checked and stored once for both the admin API and the command
 * line: the contract's validation (each refusal naming its field), the channel, quiet hours
 * in the recipient's zone (not_before), the idempotency key, the opt-out and the proactive
 * limit. The stored message waits in the store's outbox for the sender (outbox.c). Knows
 * nothing of HTTP. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "store/store.h"
#include "writer.h"

#define PROACTIVE_MAX_BODY 1600     /* characters */
#define PROACTIVE_MAX_MEDIA 10
#define PROACTIVE_MAX_AHEAD_S (35 * 86400)
#define PROACTIVE_KEY_DAYS 7
#define PROACTIVE_WINDOW_S (24 * 3600) /* WhatsApp's session window */

/* One request. Pointers are borrowed. */
struct proactive_request {
	const char *user_id;
	const char *body; /* NULL: "" (then media is required) */
	size_t body_len;  /* its bytes (a body may not hold a NUL) */
	const char *const *media;
	size_t nmedia;
	const char *send_at;  /* RFC 3339, or NULL: now */
	const char *channel;  /* "auto" (NULL), "sms" or "whatsapp" */
	const char *to;       /* one of the user's phones, or NULL: the first */
	const char *reply_to; /* the id of one of the user's inbound messages, or NULL */
	const char *key;      /* Idempotency-Key, or NULL */
};

/* Why a request was refused: the HTTP status the contract gives it, the error's code and
 * one sentence, and for a 429 the seconds to wait. */
struct proactive_refusal {
	int status;
	char code[40];
	char message[160];
	int64_t retry_after_s;
};

/* What it needs; borrowed, outlives every call. */
struct proactive {
	const struct config *config;
	struct store *store;
};

/* Checks and stores request rq. 0: stored (*ret_created true: a new message; false: the
 * key's first message, sent nothing more), its public id in ret_id. 1: refused with nothing
 * stored, *ret_refusal says why. -EIO (the store failed), -ENOMEM. Inside a transaction the
 * caller opened (store_tx_begin), what it stores is that transaction's. */
int proactive_send(const struct proactive *p, const struct proactive_request *rq,
		char ret_id[STORE_ID_SIZE], bool *ret_created, struct proactive_refusal *ret_refusal);

/* What proactive_send works out of the request alone (its checks, its key's hash, the new
 * message's id, segments and media), on any thread before the store is asked: the send
 * queue's batch thread then does only what needs the store. */
struct proactive_prepared {
	int64_t now, send_at; /* unix seconds: the request's time, and when it is due */
	int checked;          /* 0, or 1: refused (refusal), told once the user is found */
	struct proactive_refusal refusal;
	int made;             /* the hash, the id and the media: 0, -EIO or -ENOMEM */
	char hash[65];        /* SHA-256 of the request, hex */
	char uid[STORE_ID_SIZE];
	const char *encoding; /* borrowed constant */
	int segments;
	char *media; /* a JSON array, or NULL */
};
void proactive_prepare(const struct proactive_request *rq, struct proactive_prepared *ret);
void proactive_prepared_finish(struct proactive_prepared *pp); /* frees its media */
/* proactive_send with rq prepared (pp, of rq): the same answers, in the same order. */
int proactive_send_prepared(const struct proactive *p, const struct proactive_request *rq,
		const struct proactive_prepared *pp, char ret_id[STORE_ID_SIZE], bool *ret_created,
		struct proactive_refusal *ret_refusal);
/* Cancels user_id's message id if it has not been handed to Twilio: 0 (it is canceled and
 * will never be sent), 1 refused (*ret_refusal: 404 not this user's, 409 already_sent),
 * -EIO. */
int proactive_cancel(const struct proactive *p, const char *user_id, const char *id,
		struct proactive_refusal *ret_refusal);

/* ---- sends in batches (proactive_queue.c) ----
 * The sends waiting at one moment are stored in one transaction, each in its own savepoint
 * (one that fails takes only its own writes back), with one commit and one fsync for the
 * batch; each is answered once its batch is durable. A user's sends always go through the
 * same thread, in the order they came. */
struct proactive_queue;
struct proactive_job;

/* On the batch's thread, inside the send's savepoint, once it is stored (answer 0): reads
 * what the answer needs (store s sees the send's writes). 0, or < 0: the send is taken
 * back and answered with that error. */
typedef int (*proactive_stored_fn)(void *ctx, struct store *s, struct proactive_job *job);
/* Once, on any thread, when the batch is durable or can no longer be made so; the job is
 * the caller's again. */
typedef void (*proactive_done_fn)(void *ctx, struct proactive_job *job);

struct proactive_job { /* the caller's memory; the queue's from submit until done */
	struct writer_item item; /* first: the writer's while queued */
	struct proactive_request rq; /* borrowed until done */
	struct proactive_prepared prepared; /* proactive_queue_submit's */
	proactive_stored_fn stored;  /* NULL: nothing to read */
	proactive_done_fn done;
	void *ctx;
	/* The outcome, when done runs: proactive_send's answer (0 durable, 1 refused, or < 0:
	 * nothing of it may be acknowledged), and its results. */
	int answer;
	char id[STORE_ID_SIZE];
	bool created;
	struct proactive_refusal refusal;
	bool due; /* set by stored: a message due now, for on_due */
	struct proactive_job *next; /* the queue's */
	struct proactive_queue *queue;
};

/* Starts the queue's threads (one on SQLite, PROACTIVE_QUEUE_WRITERS on PostgreSQL). p is
 * copied; on_due(ctx) runs on a queue thread after a commit that stored a message due now
 * (NULL: nothing to wake). -ENOMEM, -EAGAIN. */
#define PROACTIVE_QUEUE_WRITERS 4
int proactive_queue_start(const struct proactive *p, void (*on_due)(void *ctx), void *ctx,
		struct proactive_queue **ret_queue);
/* Prepares job->rq on the calling thread, then queues job: job->rq, stored, done and ctx
 * set. */
void proactive_queue_submit(struct proactive_queue *q, struct proactive_job *job);
/* Stores every job queued, waits until each is answered, then stops. NULL is fine. */
void proactive_queue_stop(struct proactive_queue *q);

/* True if key is an acceptable Idempotency-Key: 1 to 255 visible ASCII characters. */
bool proactive_key_is_valid(const char *key);
