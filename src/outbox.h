#pragma once
/* outbox: durable delivery of what goes through the Messages API. Agent workers take each
 * user's oldest queued message (rest mode), call its agent (retrying with backoff) and
 * store the reply; one sender hands messages to Twilio at SMSROUTER_SEND_RATE segments a
 * second in two lanes: replies (the agent's, and API messages with reply_to) always before
 * proactive messages. In each lane the users share the pace fairly (least recently served
 * first), one user's replies in arrival order, its proactive messages in due order, never
 * in its quiet hours, never to a number that opted out (suppressed). A send
 * that may have reached Twilio (timeout, 5xx) is reconciled — a status callback or
 * Twilio's message list — before it is ever sent again. Knows nothing of the HTTP server. */
#include "agent/agent.h"
#include "router.h"
#include "store/store.h"
#include "twilio/twilio.h"
#include "tz.h"

struct outbox;

struct outbox_options {
	int workers;          /* agent calls at once */
	double send_rate;     /* segments per second */
	int max_attempts;     /* of one stage (agent, send) before the row is dead */
	int agent_timeout_ms;
	const char *public_url; /* for StatusCallback; NULL: no callbacks asked for */
	/* The WhatsApp sender of replies (E.164, TWILIO_WHATSAPP_FROM); NULL: the number the
	 * message was sent to. */
	const char *whatsapp_from;
	struct twilio_rest rest;
	bool agent_stage; /* rest mode: agent workers answer queued inbound messages */
	/* Messages smsrouter starts itself (store_send_add): quiet hours in the recipient's
	 * zone (default_timezone for a user with none), checked again just before the send,
	 * and the daily segment budget (0: none). */
	struct tz_quiet quiet;
	const char *default_timezone;
	int daily_segment_budget;
};

/* Starts the workers. All pointers are borrowed and must outlive the outbox. */
int outbox_start(const struct outbox_options *o, struct store *s, struct agent *a,
		struct router *r, struct outbox **ret);
/* Something was queued: wake the workers (also a router_options.on_enqueue). */
void outbox_notify(void *outbox);
/* Stops the workers, cancelling the agent's calls in flight (agent_shutdown): their rows
 * stay durable and resume at the next start. */
void outbox_stop(struct outbox *ob); /* NULL is fine */
