#pragma once
/* metrics: counters and histograms as atomics (no lock on the hot path), rendered in
 * the Prometheus text exposition format 0.0.4. Knows nothing of the other modules. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum metrics_route {
	METRICS_ROUTE_WEBHOOK_SMS,
	METRICS_ROUTE_WEBHOOK_STATUS,
	METRICS_ROUTE_HEALTH,
	METRICS_ROUTE_READY,
	METRICS_ROUTE_METRICS,
	METRICS_ROUTE_ADMIN,
	METRICS_ROUTE_MEDIA,
	METRICS_ROUTE_CONSOLE,
	METRICS_ROUTE_OTHER, /* no route matched */
	METRICS_ROUTE_COUNT,
};

enum metrics_message { /* what became of an inbound message */
	METRICS_MSG_ROUTED,
	METRICS_MSG_UNROUTED,
	METRICS_MSG_RATE_LIMITED,
	METRICS_MSG_OPTED_OUT,  /* an opt-out word */
	METRICS_MSG_OPTED_IN,   /* an opt-in word */
	METRICS_MSG_HELP,
	METRICS_MSG_BLOCKED,    /* from an opted-out number: stored, not routed */
	METRICS_MSG_DUPLICATE,  /* a MessageSid seen before */
	METRICS_MSG_OVER_BUDGET, /* the user's daily segment budget was spent */
	METRICS_MSG_PAUSED,     /* a user in paused mode: stored, not routed */
	METRICS_MSG_HUMAN,      /* a user in human mode: stored, sent to the operator URL */
	METRICS_MSG_COUNT,
};

enum metrics_reject { /* why a webhook was refused */
	METRICS_REJECT_SIGNATURE,
	METRICS_REJECT_ACCOUNT,
	METRICS_REJECT_MALFORMED,
	METRICS_REJECT_TOO_LARGE,
	METRICS_REJECT_COUNT,
};

enum metrics_counter {
	METRICS_STORE_ERRORS,
	METRICS_ONBOARDING_SENT,
	METRICS_STATUS_CALLBACKS,
	METRICS_REPLIES_TRUNCATED,
	METRICS_REPLIES_SMART_ENCODED,
	METRICS_OUTBOX_SENT,
	METRICS_OUTBOX_RETRIES,
	METRICS_OUTBOX_DEAD,
	METRICS_OUTBOX_RECONCILED,
	METRICS_HTTP_REFUSED,  /* a connection closed at once: a connection limit was reached */
	METRICS_HTTP_TIMEOUTS, /* a request whose client went quiet past the timeout */
	METRICS_QUIET_HOLDS,   /* a proactive message held at its send for quiet hours */
	METRICS_SENDS_STOPPED, /* an API message ended unsent: suppressed or over budget */
	METRICS_EVENTS_DELIVERED, /* events the events URL took (2xx) */
	METRICS_EVENTS_FAILED,    /* events given up on after 24 h of retries */
	METRICS_EVENTS_RETRIES,   /* failed deliveries to be tried again */
	METRICS_RETENTION_ERASED, /* messages the retention sweep erased */
	METRICS_COUNTER_COUNT,
};

enum metrics_send { /* a message handed to Twilio's Messages API, by kind and lane */
	METRICS_SEND_AGENT_REPLY, /* the agent's reply in rest mode (lane replies) */
	METRICS_SEND_REPLY,       /* an API message with reply_to (lane replies) */
	METRICS_SEND_PROACTIVE,   /* lane proactive */
	METRICS_SEND_COUNT,
};

enum metrics_media { /* what became of a media link's request (media.c) */
	METRICS_MEDIA_OK,             /* streamed whole */
	METRICS_MEDIA_REFUSED,        /* a link tampered with, expired or malformed; not Twilio's */
	METRICS_MEDIA_NOT_FOUND,      /* no such message or index, or Twilio's 404 */
	METRICS_MEDIA_TOO_LARGE,      /* over 5 MiB: refused, or cut */
	METRICS_MEDIA_UPSTREAM_ERROR, /* Twilio answered another status */
	METRICS_MEDIA_UNREACHABLE,    /* Twilio down, too slow, or the body cut */
	METRICS_MEDIA_CLIENT_GONE,    /* the client left before the end */
	METRICS_MEDIA_BUSY,           /* too many fetches at once, or stopping */
	METRICS_MEDIA_COUNT,
};

void metrics_request(enum metrics_route route, int status);
void metrics_media(enum metrics_media what);
const char *metrics_media_name(enum metrics_media what); /* its label: "ok", "refused", … */
void metrics_message(enum metrics_message what);
void metrics_reject(enum metrics_reject why);
void metrics_inc(enum metrics_counter c);
void metrics_add(enum metrics_counter c, uint64_t n);
void metrics_send(enum metrics_send kind);
void metrics_connections(int delta); /* +1 as a connection opens, -1 as it closes */
void metrics_webhook_seconds(double seconds);
/* One agent call of agent (a name that lives as long as the process; NULL: default). */
void metrics_agent_call(const char *agent, double seconds, bool failed);
void metrics_outbox_wait_seconds(double seconds); /* queued → handed to Twilio */

/* The Content-Type of metrics_render's text (Prometheus' text exposition format). */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The gauges the caller read from the store (each negative: left out). */
struct metrics_gauges {
	int64_t users;
	int64_t phones;
	int64_t outbox_depth;
	int64_t scheduled_depth; /* proactive messages waiting for their time */
	int64_t events_pending;
};

/* Renders every metric and the gauges g. *ret_text is the caller's to free(). 0 or
 * -ENOMEM. */
int metrics_render(const struct metrics_gauges *g, char **ret_text);
