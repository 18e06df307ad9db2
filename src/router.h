#pragma once
/* router: the decision for one inbound message, in a fixed order: dedupe by MessageSid,
 * opt-out / opt-in words, phone → user, rate limit (help words obey it too), store the
 * inbound (committed), the help text or the user's agent, store the reply; then its answer,
 * once what it stored is durable. One way in (router_submit), one way out (its done). It
 * owns the path to the store: transactions, batches (one writer thread, writer.h) and
 * their durability. No HTTP and no SQL in it. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "agent/agent.h"
#include "phone.h"
#include "ratelimit.h"
#include "store/store.h"
#include "writer.h"

#define ROUTER_MAX_REPLY_CHARS 1600 /* Twilio's Body limit */

struct router;

struct router_options {
	const char *onboarding_text; /* NULL: the default */
	const char *help_text;       /* NULL: the default */
	int onboarding_window_s;     /* 0: 24 h */
	/* The per-sender limit (messages per window from one number; 0 = off). A store that
	 * keeps shared limits (PostgreSQL) counts it, so that it holds across every process
	 * and restart; otherwise the rl given to router_create does. */
	int sender_limit;
	int sender_window_s;
	int global_limit;            /* inbound messages per global_window_s; 0 = off */
	int global_window_s;
	int unknown_limit;           /* messages from unknown senders per window; 0 = off */
	int unknown_window_s;
	bool smart_encoding;         /* replace GSM-7 look-alikes in replies */
	int reply_max_segments;      /* cut replies to this many segments; 0 = off */
	int daily_segment_budget;    /* outbound segments per user per UTC day; 0 = off */
	/* rest replies: routed messages are queued in the outbox (with the inbound row, in
	 * one transaction) instead of calling the agent; an agent that answers at once (the
	 * memo keeper) answers inside that transaction, and its reply is queued to be sent
	 * instead (from whatsapp_from on WhatsApp: TWILIO_WHATSAPP_FROM, NULL: unset).
	 * on_enqueue(ctx) is told after the commit (once per batch). */
	bool rest;
	const char *whatsapp_from;
	void (*on_enqueue)(void *ctx);
	void *on_enqueue_ctx;
	/* SMSROUTER_OPERATOR_URL is set: a message of a user in human mode is recorded for it
	 * (with its inbound row); on_operator(ctx) is told after the commit. Unset: such
	 * messages are only stored. */
	bool operator;
	void (*on_operator)(void *ctx);
	void *on_operator_ctx;
};

/* s, a and rl (the per-sender limit) are borrowed and must outlive the router; the
 * global and unknown-sender limits of o are the router's own. Starts the batching writer
 * thread. -ENOMEM, -EAGAIN. */
int router_create(struct store *s, struct agent *a, struct ratelimit *rl,
		const struct router_options *o, struct router **ret_router);
/* Every submitted message's done must have run. NULL is fine. */
void router_destroy(struct router *r);

struct router_inbound { /* borrowed strings, already validated UTF-8 */
	const char *sid;
	const char *from;
	const char *to;
	const char *body;
	const char *opt_out_type; /* Twilio's OptOutType or NULL */
	const char *media_json;   /* JSON array or NULL */
	int num_segments;         /* Twilio's NumSegments, 0 when absent */
};

enum router_outcome {
	ROUTER_ROUTED,
	ROUTER_UNROUTED,
	ROUTER_RATE_LIMITED,
	ROUTER_OPTED_OUT,
	ROUTER_OPTED_IN,
	ROUTER_HELP,
	ROUTER_BLOCKED,
	ROUTER_DUPLICATE,
	ROUTER_OVER_BUDGET,
	ROUTER_PAUSED, /* the user is in paused mode: stored, not routed, nothing said */
	ROUTER_HUMAN,  /* the user is in human mode: stored and sent to the operator URL */
};

struct router_result {
	enum router_outcome outcome;
	char *reply;          /* NULL: nothing to say ("" with media: pictures only) */
	char *media;          /* the reply's media: a JSON array of URLs, or NULL */
	int64_t outbound_id;  /* the stored reply's id, 0 when none */
	char user_id[STORE_ID_SIZE]; /* "" when the sender is unknown */
	bool agent_failed;    /* the reply is our apology */
};

typedef void (*router_done_cb)(void *ctx, int err, struct router_result *result);
/* Frees what result holds (reply, media) and empties it. */
void router_result_clear(struct router_result *result);

/* One message on its way through the router: the caller's memory (embedded in its request,
 * so that submitting allocates nothing), the router's to read and write from
 * router_submit until done has run. Its fields are the router's. */
struct router_job {
	struct writer_item item; /* the batching writer's queue */
	struct router *r;
	struct router_job *next; /* the list of its batch */
	/* The first of a batch's list: its answers wait for the durability callback and for
	 * the batch's thread to be done with it (parts), then go with durable_err. */
	atomic_int parts;
	int durable_err;
	const struct router_inbound *in;
	router_done_cb done;
	void *ctx;
	int err;                 /* its savepoint failed: nothing of it stays */
	bool has_reply_to_store; /* the agent has answered after the inbound's commit */
	bool calls_agent;        /* its agent is called once the inbound is committed */
	pthread_mutex_t *order;  /* held from its id to its agent call (see order_lock) */
	struct router_result result;
	struct store_user user;
	struct store_message message;
	struct timespec t0;
	/* What its outcome's log line says besides the result, written once it is durable. */
	int64_t agent_ms;
	const char *agent;   /* the agent asked, for its log line */
	bool handoff;        /* the agent handed the user to a person */
	char *reply_media;   /* the agent's media (JSON array of URLs), until store_reply */
	char *operator_json; /* a human-mode message's event for the operator URL */
	char uid[STORE_ID_SIZE]; /* its public id, made by the router */
	const char *limited; /* the limit a rate-limited message is over */
	bool onboarded;      /* an unknown sender was sent the onboarding text */
	/* Its sender as phone_address_parse reads in->from: the channel, the bare number (the
	 * user's key) and the key of its opt-out; refused: no channel reads it (stored
	 * unrouted, answered with nothing). */
	bool refused;
	enum phone_channel channel;
	char number[PHONE_SIZE];
	char optout_key[PHONE_KEY_SIZE];
	struct wait_once *stored; /* signaled once its batch is committed (store_answers) */
	/* Its dedupe and route, looked up with its batch's before the transaction (looked_up:
	 * look_up in router.c), used once in place of its own lookups. */
	bool looked_up;
	struct store_lookup lookup;
};

/* The one way in for an inbound message: decides (dedupe, opt-out words, phone → user,
 * the sender's address read by phone_address_parse: "+E164" on SMS, "whatsapp:+E164" on
 * WhatsApp, each the user who owns the number, opted out per number and channel; any
 * other address is stored unrouted and answered with nothing,
 * limits, budget), stores, asks the help text or the user's agent, stores the reply, then
 * calls done(ctx, err, result) exactly once, on this or another thread, after everything
 * it wrote is durable: err 0 with result (done takes over result->reply), or -EIO /
 * -ENOMEM when nothing was accepted (result is empty; answer so that Twilio retries). in
 * and what it points to are borrowed until done runs; job may be freed inside done.
 *
 * The messages of all threads are stored by one writer thread, many to a transaction,
 * each in its own savepoint, one commit and one fsync a batch (SQLite writes one
 * transaction at a time anyway; on PostgreSQL a commit and its round trips cost more than
 * parallel writers gain). An agent that answers inline (the memo keeper) works inside its
 * message's transaction; any other is called once the inbound row is committed, one
 * user's calls in the order of the messages' ids, and its reply is stored in a later
 * transaction (batched too). */
void router_submit(struct router *r, struct router_job *job, const struct router_inbound *in,
		router_done_cb done, void *ctx);

/* What a reply costs, made cheaper: GSM-7 look-alikes replaced (if configured), then
 * cut on a character boundary to Twilio's 1600 characters and the segment cap. *reply is
 * replaced when it changes; *ret_flags gets STORE_FLAG_… bits. -ENOMEM. */
int router_prepare_reply(struct router *r, char **reply, int *ret_flags);
/* True if reply says nothing: NULL, empty, or white space only, Unicode's too (an empty
 * <Message> is Twilio's error 14103; a blank one would be a paid SMS that says nothing).
 * Such a reply is not sent or stored. */
bool router_reply_blank(const char *reply);

/* Applies a status callback to our outbound message outbound_id (> 0) or Twilio's sid;
 * ErrorCode 21610 marks the recipient `to` opted out on its channel (if phone_address_parse
 * reads it: "+E164" or "whatsapp:+E164"), even when the
 * message is unknown. -ENOENT (unknown message; the opt-out is stored), -EIO. */
int router_status(struct router *r, int64_t outbound_id, const char *sid, const char *status,
		const char *error_code, const char *to);

/* The opt-out / opt-in / help word of a body (trimmed, case-insensitive) or of Twilio's
 * OptOutType when present: 'o', 'i', 'h', or 0 for none. */
char router_keyword(const char *body, const char *opt_out_type);
