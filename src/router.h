#pragma once
/* router: the decision for one inbound message, in a fixed order: dedupe by MessageSid,
 * opt-out / opt-in words, phone → user, rate limit (help words obey it too), store the
 * inbound (committed), the help text or the user's agent, store the reply. No HTTP and no
 * SQL in it. */
#include <stdbool.h>
#include <stdint.h>

#include "agent/agent.h"
#include "ratelimit.h"
#include "store/store.h"

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
	 * one transaction) instead of calling the agent; on_enqueue(ctx) is told after the commit
	 * (once per batch). */
	bool rest;
	void (*on_enqueue)(void *ctx);
	void *on_enqueue_ctx;
};

/* s, a and rl (the per-sender limit) are borrowed and must outlive the router; the
 * global and unknown-sender limits of o are the router's own. */
int router_create(struct store *s, struct agent *a, struct ratelimit *rl,
		const struct router_options *o, struct router **ret_router);
void router_destroy(struct router *r); /* NULL is fine */

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
};

struct router_result {
	enum router_outcome outcome;
	char *reply;          /* the caller's to free; NULL: nothing to say */
	int64_t outbound_id;  /* the stored reply's id, 0 when none */
	char user_id[STORE_ID_SIZE]; /* "" when the sender is unknown */
	bool agent_failed;    /* the reply is our apology */
};

#define ROUTER_PENDING 1

/* Receives the result of a message whose agent answered later; takes over
 * result->reply. Runs on the agent's thread. */
typedef void (*router_done_cb)(void *ctx, struct router_result *result);

/* Decides and stores. 0: finished, *ret filled (free ret->reply). ROUTER_PENDING: the
 * inbound message is committed and its agent is answering; done(ctx, result) will run
 * once, on another thread, with the final result. -EIO: the store failed before the
 * inbound message was committed, so nothing was accepted; -ENOMEM. */
int router_inbound_start(struct router *r, const struct router_inbound *in,
		struct router_result *ret, router_done_cb done, void *ctx);

/* true when a message is decided and stored at once, in one transaction: the agent
 * answers inline (the memo agent) or rest mode queues the message instead of calling it. */
bool router_batchable(const struct router *r);

/* Several messages of a batchable router in one transaction, in order (a single writer's
 * batch, so that one commit and one fsync serve them all). Each runs in its own savepoint:
 * items[i].err is 0 with items[i].result filled (free its reply), or -errno for a message
 * that failed and left nothing. If the commit fails, every item gets -EIO and the call
 * returns -EIO; else 0. */
struct router_batch_item {
	const struct router_inbound *in;
	struct router_result result;
	int err;
};
int router_inbound_batch(struct router *r, struct router_batch_item *items, size_t n);

/* The same, waiting on this thread for the agent. 0 (with *ret filled) or -errno. */
int router_inbound(struct router *r, const struct router_inbound *in,
		struct router_result *ret);

/* What a reply costs, made cheaper: GSM-7 look-alikes replaced (if configured), then
 * cut on a character boundary to Twilio's 1600 characters and the segment cap. *reply is
 * replaced when it changes; *ret_flags gets STORE_FLAG_… bits. -ENOMEM. */
int router_prepare_reply(struct router *r, char **reply, int *ret_flags);
/* True if reply says nothing: NULL, empty, or white space only, Unicode's too (an empty
 * <Message> is Twilio's error 14103; a blank one would be a paid SMS that says nothing).
 * Such a reply is not sent or stored. */
bool router_reply_blank(const char *reply);

/* Applies a status callback to our outbound message outbound_id (> 0) or Twilio's sid;
 * ErrorCode 21610 marks the recipient `to` opted out (if it is E.164), even when the
 * message is unknown. -ENOENT (unknown message; the opt-out is stored), -EIO. */
int router_status(struct router *r, int64_t outbound_id, const char *sid, const char *status,
		const char *error_code, const char *to);

/* The opt-out / opt-in / help word of a body (trimmed, case-insensitive) or of Twilio's
 * OptOutType when present: 'o', 'i', 'h', or 0 for none. */
char router_keyword(const char *body, const char *opt_out_type);
