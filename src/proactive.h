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
 * stored, *ret_refusal says why. -EIO (the store failed), -ENOMEM. */
int proactive_send(const struct proactive *p, const struct proactive_request *rq,
		char ret_id[STORE_ID_SIZE], bool *ret_created, struct proactive_refusal *ret_refusal);
/* The same without waiting for stable storage when done is not NULL: whenever the answer
 * is 0 or 1, done(ctx, err) runs exactly once (perhaps before this returns) when what was
 * stored is durable (err 0), or can no longer be made so (err -EIO: the message must not
 * be acknowledged); on a negative answer it never runs. Requests that wait together share
 * one fsync. */
int proactive_send_then(const struct proactive *p, const struct proactive_request *rq,
		char ret_id[STORE_ID_SIZE], bool *ret_created, struct proactive_refusal *ret_refusal,
		store_durable_cb done, void *ctx);

/* Cancels user_id's message id if it has not been handed to Twilio: 0 (it is canceled and
 * will never be sent), 1 refused (*ret_refusal: 404 not this user's, 409 already_sent),
 * -EIO. */
int proactive_cancel(const struct proactive *p, const char *user_id, const char *id,
		struct proactive_refusal *ret_refusal);

/* True if key is an acceptable Idempotency-Key: 1 to 255 visible ASCII characters. */
bool proactive_key_is_valid(const char *key);
