#pragma once
/* events: delivery of the events the store records (SMSROUTER_EVENTS_URL; CONTRACT.md
 * "Events"), and of the messages of users in human mode (message.inbound, to
 * SMSROUTER_OPERATOR_URL: the same table, the same order per user, the same retries). One thread claims the due head of each user (store_events_claim: a user's
 * events go one at a time, in order), POSTs each as JSON signed with
 * X-SMSRouter-Signature, all users' at once on one libcurl multi handle, and records the
 * outcome: a 2xx deletes the event; anything else is tried again after a full-jitter
 * backoff (1 s doubling, at most 10 min) until give_up_ms after the event was recorded,
 * then given up (dead). Routing never waits for it: the events are in the store, and a
 * delivery that hangs is cut at timeout_ms. Knows nothing of the HTTP server. */
#include <stdint.h>

#include "store/store.h"

struct events;

struct events_options {
	const char *url;          /* http(s); NULL: no events but the operator's */
	const char *operator_url; /* message.inbound's (SMSROUTER_OPERATOR_URL); may be NULL */
	const char *secret; /* SMSROUTER_AGENT_SECRET */
	int timeout_ms;     /* one POST, its connection included */
	int64_t give_up_ms; /* after an event was recorded */
};

/* Starts the delivery thread. All pointers are borrowed and must outlive the events. 0,
 * -ENOMEM or -EIO. */
int events_start(const struct events_options *o, struct store *s, struct events **ret);
/* An event was recorded: deliver now rather than at the next poll (also a
 * store_events_on_record callback). */
void events_notify(void *events);
/* Stops the thread; deliveries in flight are cut and their events due again at once. */
void events_stop(struct events *ev); /* NULL is fine */

/* The JSON body of event e, as the contract has it. *ret_json is the caller's to free().
 * 0 or -ENOMEM. */
int events_json(const struct store_event *e, char **ret_json);
