#define _GNU_SOURCE /* open_memstream */
#include "metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATUS_MAX 600

static const char *const route_names[METRICS_ROUTE_COUNT] = {
	"webhook_sms", "webhook_status", "health", "ready", "metrics", "admin", "media", "console",
	"none",
};
static const char *const message_names[METRICS_MSG_COUNT] = {
	"routed", "unrouted", "rate_limited", "opted_out", "opted_in", "help", "blocked",
	"duplicate", "over_budget", "paused", "human",
};
static const char *const reject_names[METRICS_REJECT_COUNT] = {
	"signature", "account_sid", "malformed", "too_large",
};
static const char *const media_names[METRICS_MEDIA_COUNT] = {
	"ok", "refused", "not_found", "too_large", "upstream_error", "unreachable",
	"client_gone", "busy",
};
static const struct {
	const char *name;
	const char *help;
} counter_info[METRICS_COUNTER_COUNT] = {
	{"smsrouter_store_errors_total", "Store operations that failed."},
	{"smsrouter_onboarding_sent_total", "Onboarding texts sent to unknown senders."},
	{"smsrouter_status_callbacks_total", "Status callbacks applied."},
	{"smsrouter_replies_truncated_total",
		"Replies cut to Twilio's 1600-character limit or SMSROUTER_REPLY_MAX_SEGMENTS."},
	{"smsrouter_replies_smart_encoded_total",
		"Replies whose look-alike characters were replaced to stay GSM-7."},
	{"smsrouter_outbox_sent_total", "Replies the Messages API accepted (rest mode)."},
	{"smsrouter_outbox_retries_total", "Agent calls and sends tried again (rest mode)."},
	{"smsrouter_outbox_dead_total", "Outbox rows given up on (dead-lettered)."},
	{"smsrouter_outbox_reconciled_total",
		"Ambiguous sends found to have reached Twilio (not sent again)."},
	{"smsrouter_http_connections_refused_total",
		"Connections closed on arrival: SMSROUTER_PER_IP_CONNECTIONS (or, in a race, "
		"SMSROUTER_MAX_CONNECTIONS) was reached."},
	{"smsrouter_http_timeouts_total",
		"Requests closed because the client sent nothing for SMSROUTER_CONNECTION_TIMEOUT "
		"(slow or stalled clients)."},
	{"smsrouter_quiet_hour_holds_total",
		"Proactive messages held at their send until the end of the recipient's quiet "
		"hours."},
	{"smsrouter_sends_stopped_total",
		"API messages ended unsent: the number opted out (suppressed) or the daily "
		"segment budget was spent (over_budget)."},
	{"smsrouter_events_delivered_total", "Events the events URL answered with a 2xx."},
	{"smsrouter_events_failed_total",
		"Events given up on: no 2xx within 24 hours of being recorded."},
	{"smsrouter_events_retries_total",
		"Event deliveries that failed (timeout, refused, not 2xx) and will be tried again."},
	{"smsrouter_retention_erased_total",
		"Messages erased by the retention sweep (SMSROUTER_RETENTION_DAYS)."},
};

static const struct {
	const char *kind, *lane;
} send_labels[METRICS_SEND_COUNT] = {
	{"agent_reply", "replies"},
	{"reply", "replies"},
	{"proactive", "proactive"},
};

static const double bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
	0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600};
#define NBOUNDS (sizeof(bounds) / sizeof(bounds[0]))

struct histogram {
	atomic_uint_fast64_t bucket[NBOUNDS + 1]; /* last: +Inf */
	atomic_uint_fast64_t sum_us;
	atomic_uint_fast64_t count;
};

static atomic_uint_fast64_t requests[METRICS_ROUTE_COUNT][STATUS_MAX];
static atomic_uint_fast64_t messages[METRICS_MSG_COUNT];
static atomic_uint_fast64_t rejects[METRICS_REJECT_COUNT];
static atomic_uint_fast64_t media[METRICS_MEDIA_COUNT];
static atomic_uint_fast64_t counters[METRICS_COUNTER_COUNT];
static atomic_uint_fast64_t sends[METRICS_SEND_COUNT];
static struct histogram webhook_hist;
/* Agent calls by agent: a slot per name, taken at its first call (default's from the
 * start, so that the families are there before any call). */
#define AGENT_SLOTS 32
#define AGENT_NAME_SIZE 33
/* Slots below agent_count are written once, before the count covers them. */
static char agent_names[AGENT_SLOTS][AGENT_NAME_SIZE] = {"default"};
static atomic_int agent_count = 1;
static pthread_mutex_t agent_mu = PTHREAD_MUTEX_INITIALIZER;
static struct histogram agent_hist[AGENT_SLOTS];
static atomic_uint_fast64_t agent_failures[AGENT_SLOTS];
static struct histogram outbox_hist;

void metrics_request(enum metrics_route route, int status) {
	if (status < 0 || status >= STATUS_MAX) {
		status = 0;
	}
	atomic_fetch_add_explicit(&requests[route][status], 1, memory_order_relaxed);
}

void metrics_message(enum metrics_message what) {
	atomic_fetch_add_explicit(&messages[what], 1, memory_order_relaxed);
}

void metrics_media(enum metrics_media what) {
	atomic_fetch_add_explicit(&media[what], 1, memory_order_relaxed);
}

const char *metrics_media_name(enum metrics_media what) {
	return media_names[what];
}

void metrics_reject(enum metrics_reject why) {
	atomic_fetch_add_explicit(&rejects[why], 1, memory_order_relaxed);
}

static atomic_int_fast64_t open_connections;

void metrics_connections(int delta) {
	atomic_fetch_add_explicit(&open_connections, delta, memory_order_relaxed);
}

void metrics_inc(enum metrics_counter c) {
	metrics_add(c, 1);
}

void metrics_add(enum metrics_counter c, uint64_t n) {
	atomic_fetch_add_explicit(&counters[c], n, memory_order_relaxed);
}

void metrics_send(enum metrics_send kind) {
	atomic_fetch_add_explicit(&sends[kind], 1, memory_order_relaxed);
}

static void observe(struct histogram *h, double seconds) {
	size_t i = 0;
	while (i < NBOUNDS && seconds > bounds[i]) {
		i++;
	}
	atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, (uint_fast64_t)(seconds * 1e6), memory_order_relaxed);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

void metrics_webhook_seconds(double seconds) {
	observe(&webhook_hist, seconds);
}

static int agent_find(const char *name) {
	int n = atomic_load(&agent_count);
	for (int i = 0; i < n; i++) {
		if (strcmp(agent_names[i], name) == 0) {
			return i;
		}
	}
	return -1;
}

/* name's slot, taken at its first call; -1 when every slot is taken. */
static int agent_slot(const char *name) {
	int i = agent_find(name);
	if (i >= 0) {
		return i;
	}
	pthread_mutex_lock(&agent_mu);
	i = agent_find(name);
	int n = atomic_load(&agent_count);
	if (i < 0 && n < AGENT_SLOTS) {
		snprintf(agent_names[n], AGENT_NAME_SIZE, "%s", name);
		atomic_store(&agent_count, n + 1);
		i = n;
	}
	pthread_mutex_unlock(&agent_mu);
	return i;
}

void metrics_agent_call(const char *agent, double seconds, bool failed) {
	int i = agent_slot(agent ? agent : "default");
	if (i < 0) {
		return;
	}
	observe(&agent_hist[i], seconds);
	if (failed) {
		atomic_fetch_add_explicit(&agent_failures[i], 1, memory_order_relaxed);
	}
}

void metrics_outbox_wait_seconds(double seconds) {
	observe(&outbox_hist, seconds);
}

static unsigned long long load(atomic_uint_fast64_t *a) {
	return (unsigned long long)atomic_load_explicit(a, memory_order_relaxed);
}

/* One histogram's samples; label is "" or 'agent="x",' (each sample's first labels). */
static void render_samples(FILE *f, const char *name, const char *label, struct histogram *h) {
	unsigned long long cum = 0;
	for (size_t i = 0; i <= NBOUNDS; i++) {
		cum += load(&h->bucket[i]);
		if (i < NBOUNDS) {
			fprintf(f, "%s_bucket{%sle=\"%g\"} %llu\n", name, label, bounds[i], cum);
		} else {
			fprintf(f, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, label, cum);
		}
	}
	size_t n = strlen(label);
	const char *open = n ? "{" : "", *close = n ? "}" : "";
	int len = n ? (int)n - 1 : 0; /* without its trailing comma */
	fprintf(f, "%s_sum%s%.*s%s %.6f\n%s_count%s%.*s%s %llu\n", name, open, len, label, close,
			(double)load(&h->sum_us) / 1e6, name, open, len, label, close, load(&h->count));
}

static void render_histogram(FILE *f, const char *name, const char *help, struct histogram *h) {
	fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	render_samples(f, name, "", h);
}

/* The agent calls' latency and failures, a series per agent. */
static void render_agents(FILE *f) {
	static const char hist[] = "smsrouter_agent_duration_seconds";
	char label[64];
	fprintf(f, "# HELP %s Time an agent call took, by agent.\n# TYPE %s histogram\n", hist,
			hist);
	int n = atomic_load(&agent_count);
	for (int i = 0; i < n; i++) {
		snprintf(label, sizeof(label), "agent=\"%.32s\",", agent_names[i]);
		render_samples(f, hist, label, &agent_hist[i]);
	}
	fprintf(f, "# HELP smsrouter_agent_failures_total Agent calls that timed out, failed or "
		   "answered badly, by agent.\n# TYPE smsrouter_agent_failures_total counter\n");
	for (int i = 0; i < n; i++) {
		fprintf(f, "smsrouter_agent_failures_total{agent=\"%s\"} %llu\n", agent_names[i],
				load(&agent_failures[i]));
	}
}

/* A gauge, when the caller read it (v >= 0). */
static void render_gauge(FILE *f, const char *name, const char *help, int64_t v) {
	if (v >= 0) {
		fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", name, help, name, name,
				(long long)v);
	}
}

int metrics_render(const struct metrics_gauges *g, char **ret_text) {
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f) {
		return -ENOMEM;
	}
	fprintf(f, "# HELP smsrouter_build_info Build information.\n"
		   "# TYPE smsrouter_build_info gauge\n"
		   "smsrouter_build_info{version=\"%s\"} 1\n",
			SMSROUTER_VERSION);
	fprintf(f, "# HELP smsrouter_http_requests_total HTTP requests by route and status.\n"
		   "# TYPE smsrouter_http_requests_total counter\n");
	for (int r = 0; r < METRICS_ROUTE_COUNT; r++) {
		for (int s = 0; s < STATUS_MAX; s++) {
			unsigned long long v = load(&requests[r][s]);
			if (v) {
				fprintf(f, "smsrouter_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
						route_names[r], s, v);
			}
		}
	}
	fprintf(f, "# HELP smsrouter_messages_total Inbound messages by outcome.\n"
		   "# TYPE smsrouter_messages_total counter\n");
	for (int i = 0; i < METRICS_MSG_COUNT; i++) {
		fprintf(f, "smsrouter_messages_total{outcome=\"%s\"} %llu\n", message_names[i],
				load(&messages[i]));
	}
	fprintf(f, "# HELP smsrouter_webhooks_rejected_total Webhooks refused, by reason.\n"
		   "# TYPE smsrouter_webhooks_rejected_total counter\n");
	for (int i = 0; i < METRICS_REJECT_COUNT; i++) {
		fprintf(f, "smsrouter_webhooks_rejected_total{reason=\"%s\"} %llu\n",
				reject_names[i], load(&rejects[i]));
	}
	fprintf(f, "# HELP smsrouter_media_fetches_total Requests of media links, by result.\n"
		   "# TYPE smsrouter_media_fetches_total counter\n");
	for (int i = 0; i < METRICS_MEDIA_COUNT; i++) {
		fprintf(f, "smsrouter_media_fetches_total{result=\"%s\"} %llu\n", media_names[i],
				load(&media[i]));
	}
	for (int i = 0; i < METRICS_COUNTER_COUNT; i++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", counter_info[i].name,
				counter_info[i].help, counter_info[i].name, counter_info[i].name,
				load(&counters[i]));
	}
	render_histogram(f, "smsrouter_webhook_duration_seconds",
			"Time from a webhook's full body to its answer.", &webhook_hist);
	render_agents(f);
	render_histogram(f, "smsrouter_outbox_wait_seconds",
			"Time a rest reply waited from its message's arrival to Twilio's acceptance.",
			&outbox_hist);
	fprintf(f, "# HELP smsrouter_http_open_connections Connections open now (at "
		   "SMSROUTER_MAX_CONNECTIONS, new ones wait in the kernel's queue).\n"
		   "# TYPE smsrouter_http_open_connections gauge\nsmsrouter_http_open_connections "
		   "%lld\n",
			(long long)atomic_load_explicit(&open_connections, memory_order_relaxed));
	fprintf(f, "# HELP smsrouter_sends_total Messages handed to Twilio's Messages API, by "
		   "kind and lane.\n# TYPE smsrouter_sends_total counter\n");
	for (int i = 0; i < METRICS_SEND_COUNT; i++) {
		fprintf(f, "smsrouter_sends_total{kind=\"%s\",lane=\"%s\"} %llu\n",
				send_labels[i].kind, send_labels[i].lane, load(&sends[i]));
	}
	render_gauge(f, "smsrouter_outbox_depth", "Outbox rows not yet done or dead.",
			g->outbox_depth);
	render_gauge(f, "smsrouter_scheduled_depth",
			"Proactive messages waiting for their time (send_at or quiet hours).",
			g->scheduled_depth);
	render_gauge(f, "smsrouter_events_pending",
			"Events not yet delivered nor given up (SMSROUTER_EVENTS_URL).", g->events_pending);
	render_gauge(f, "smsrouter_users", "Registered users.", g->users);
	render_gauge(f, "smsrouter_phones", "Registered phone numbers.", g->phones);
	if (fclose(f) != 0) {
		free(text);
		return -ENOMEM;
	}
	*ret_text = text;
	return 0;
}
