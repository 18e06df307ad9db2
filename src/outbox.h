#pragma once
/* outbox: durable delivery of rest replies. Agent workers take each user's oldest queued
 * message, call its agent (retrying with backoff) and store the reply; one sender hands
 * replies to Twilio's Messages API at SMSROUTER_SEND_RATE segments a second, shared fairly
 * across users (least recently served first), one user's replies in arrival order. A send
 * that may have reached Twilio (timeout, 5xx) is reconciled — a status callback or
 * Twilio's message list — before it is ever sent again. Knows nothing of the HTTP server. */
#include "agent/agent.h"
#include "router.h"
#include "store/store.h"
#include "twilio/twilio.h"

struct outbox;

struct outbox_options {
	int workers;          /* agent calls at once */
	double send_rate;     /* segments per second */
	int max_attempts;     /* of one stage (agent, send) before the row is dead */
	int agent_timeout_ms;
	const char *public_url; /* for StatusCallback; NULL: no callbacks asked for */
	struct twilio_rest rest;
};

/* Starts the workers. All pointers are borrowed and must outlive the outbox. */
int outbox_start(const struct outbox_options *o, struct store *s, struct agent *a,
		struct router *r, struct outbox **ret);
/* Something was queued: wake the workers (also a router_options.on_enqueue). */
void outbox_notify(void *outbox);
/* Stops the workers, cancelling the agent's calls in flight (agent_shutdown): their rows
 * stay durable and resume at the next start. */
void outbox_stop(struct outbox *ob); /* NULL is fine */
