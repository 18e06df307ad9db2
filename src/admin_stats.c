/* admin: GET …/admin/stats, the operator console's traffic per hour or UTC day, from the
 * store's hourly counts (store_stats): every bucket from since's to now's, zero-filled, so
 * that a chart needs no gaps filled; at most ADMIN_STATS_MAX_DAYS days back (9,600 hourly
 * buckets), so that an answer stays small and quick. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "ids.h"

#define DEFAULT_DAYS 7

/* The router's outcomes as the inbound message's status records them (router.c's
 * store_inbound), named as the metrics name them. A duplicate is not stored again: it has
 * no count here. */
static const struct {
	const char *status;
	const char *name;
} outcomes[] = {
	{"received", "routed"},
	{"unrouted", "unrouted"},
	{"rate_limited", "rate_limited"},
	{"opt_out", "opted_out"},
	{"opt_in", "opted_in"},
	{"help", "help"},
	{"opted_out", "blocked"},
	{"over_budget", "over_budget"},
	{"paused", "paused"},
	{"human", "human"},
};
#define N_OUTCOMES (sizeof(outcomes) / sizeof(outcomes[0]))
#define OTHER N_OUTCOMES /* a status this build does not know (a newer process's) */

struct bucket {
	int64_t inbound, outbound, segments;
	int64_t outcome[N_OUTCOMES + 1];
};

struct stats_ctx {
	struct bucket *b;
	int64_t start, bucket_s, n;
};

static int add_row(void *ctx, const struct store_stats_row *row) {
	struct stats_ctx *c = ctx;
	int64_t i = (row->t - c->start) / c->bucket_s;
	if (i < 0 || i >= c->n) {
		return 0; /* the store answers only the range asked */
	}
	struct bucket *b = &c->b[i];
	b->segments += row->segments;
	if (!row->inbound) {
		b->outbound += row->messages;
		return 0;
	}
	b->inbound += row->messages;
	size_t k = 0;
	while (k < N_OUTCOMES && strcmp(outcomes[k].status, row->outcome) != 0) {
		k++;
	}
	b->outcome[k] += row->messages;
	return 0;
}

static json_t *bucket_json(const struct sms_price *price, int64_t t, const struct bucket *b) {
	char when[IDS_TIME_SIZE], cost[SMS_COST_SIZE];
	json_t *o = json_object();

	ids_time_format(t, when);
	sms_cost_format(price, b->segments, cost, sizeof(cost));
	for (size_t k = 0; o && k < N_OUTCOMES; k++) {
		if (json_object_set_new(o, outcomes[k].name, json_integer(b->outcome[k])) < 0) {
			json_decref(o);
			o = NULL;
		}
	}
	if (o && b->outcome[OTHER] &&
			json_object_set_new(o, "other", json_integer(b->outcome[OTHER])) < 0) {
		json_decref(o);
		o = NULL;
	}
	if (!o) {
		return NULL;
	}
	return json_pack("{s:s,s:I,s:I,s:I,s:s,s:o}", "t", when, "inbound",
			(json_int_t)b->inbound, "outbound", (json_int_t)b->outbound, "segments",
			(json_int_t)b->segments, "cost", cost, "outcomes", o);
}

/* The answer for the n buckets from start; NULL on ENOMEM. */
static json_t *stats_json(const struct stats_ctx *c, const struct sms_price *price,
		const char *bucket) {
	char when[IDS_TIME_SIZE];
	json_t *series = json_array();

	for (int64_t i = 0; series && i < c->n; i++) {
		if (json_array_append_new(series,
				    bucket_json(price, c->start + i * c->bucket_s, &c->b[i])) < 0) {
			json_decref(series);
			series = NULL;
		}
	}
	ids_time_format(c->start, when);
	return series ? json_pack("{s:s,s:s,s:o}", "since", when, "bucket", bucket, "series",
					series)
		      : NULL;
}

void admin_stats_get(void *ctx, const struct http_request *req, struct http_response *res) {
	static const char *const keys[] = {"since", "bucket"};
	const struct admin *a = ctx;
	const char *q = http_query(req, "since");
	const char *bucket = http_query(req, "bucket");
	int64_t now = ids_now(), since = now - DEFAULT_DAYS * 86400;
	char message[ADMIN_MESSAGE_SIZE];

	const char *unknown = http_query_unknown(req, keys, sizeof(keys) / sizeof(keys[0]));
	if (unknown) {
		snprintf(message, sizeof(message), "Unknown parameter \"%s\": give since and bucket.",
				strlen(unknown) <= 40 ? unknown : "(over 40 bytes)");
		http_json_error(res, 400, "unknown_parameter", message);
		return;
	}
	bucket = bucket ? bucket : "hour";
	if (strcmp(bucket, "hour") != 0 && strcmp(bucket, "day") != 0) {
		admin__invalid_value(res, "bucket", "it must be hour or day");
		return;
	}
	if (q && admin__query_time(q, &since) < 0) {
		admin__invalid_value(res, "since",
				"it must be an RFC 3339 date-time such as 2026-11-01T00:00:00Z");
		return;
	}
	if (since < now - ADMIN_STATS_MAX_DAYS * 86400LL) {
		snprintf(message, sizeof(message), "it must be at most %d days ago",
				ADMIN_STATS_MAX_DAYS);
		admin__invalid_value(res, "since", message);
		return;
	}
	struct stats_ctx c = {.bucket_s = strcmp(bucket, "hour") == 0 ? 3600 : 86400};
	/* From since's bucket (UTC) to now's, both included; none for a since to come. */
	c.start = since - since % c.bucket_s;
	int64_t end = now - now % c.bucket_s + c.bucket_s;
	c.n = since <= now ? (end - c.start) / c.bucket_s : 0;
	c.b = calloc((size_t)c.n + 1, sizeof(*c.b));
	int r = c.b ? store_stats(a->store, c.start, end, c.bucket_s, add_row, &c) : -ENOMEM;
	json_t *j = r == 0 ? stats_json(&c, &a->config->segment_price, bucket) : NULL;
	free(c.b);
	if (r < 0 || !j) {
		admin__store_error(res, r < 0 ? r : -ENOMEM, "");
		return;
	}
	http_json(res, 200, j);
}
