#include "events.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/rand.h>

#include "curlbody.h"
#include "hmac.h"
#include "ids.h"
#include "log.h"
#include "metrics.h"
#include "wait.h"

#define BATCH 32            /* users' heads claimed, and POSTed, at once */
#define POLL_MS 500         /* when nothing is due: how long before looking again */
#define LEASE_MARGIN_MS 10000 /* a lease outlasts its POST's deadline by this */
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_CAP_MS (10 * 60 * 1000)
#define MAX_ANSWER 4096 /* the receiver's answer is read this far and dropped */

/* One event being delivered. */
struct delivery {
	struct store_event e;
	CURL *h;
	struct curl_slist *hdr;
	char *body;
	struct curlbody answer;
	bool done;
};

struct events {
	struct events_options o;
	struct store *store;
	CURLM *multi;
	pthread_t thread;
	bool started;
	struct wait_bell bell; /* rung by events_notify */
	atomic_bool stop;
	/* the thread's own */
	struct delivery batch[BATCH];
	int n;
};

/* ---- the body ---- */

#define AT_SIZE (IDS_TIME_SIZE + 16)

/* RFC 3339 with milliseconds: "2026-11-24T14:15:07.250Z". */
static void format_at(int64_t ms, char out[AT_SIZE]) {
	char s[IDS_TIME_SIZE];
	int64_t sec = ms / 1000 - (ms % 1000 < 0);
	ids_time_format(sec, s);
	s[strlen(s) - 1] = '\0'; /* the 'Z' */
	snprintf(out, AT_SIZE, "%s.%03dZ", s, (int)(ms - sec * 1000));
}

/* What an event of e's type carries beside its id, type, time and user. */
static json_t *subject(const struct store_event *e) {
	if (strcmp(e->type, "message.status") == 0) {
		return json_pack("{s:{s:s,s:s?,s:s,s:s?}}", "message", "id", e->message_id, "sid",
				e->sid[0] ? e->sid : NULL, "status", e->status, "error_code",
				e->error_code[0] ? e->error_code : NULL);
	}
	if (strcmp(e->type, "user.mode") == 0) {
		return json_pack("{s:s}", "mode", e->mode);
	}
	if (strcmp(e->type, "message.inbound") == 0) {
		return json_loads(e->body, 0, NULL); /* {"user": …, "message": …}, as recorded */
	}
	return json_pack("{s:s}", "phone", e->phone); /* user.opted_out, user.opted_in */
}

int events_json(const struct store_event *e, char **ret_json) {
	char at[AT_SIZE];
	format_at(e->at_ms, at);
	json_t *j = json_pack("{s:s,s:s,s:s,s:{s:s}}", "id", e->uid, "type", e->type, "at", at,
			"user", "id", e->user_id);
	json_t *rest = subject(e);
	char *text = NULL;
	if (j && rest && json_object_update(j, rest) == 0) {
		text = json_dumps(j, JSON_COMPACT);
	}
	json_decref(rest);
	json_decref(j);
	if (!text) {
		return -ENOMEM;
	}
	*ret_json = text;
	return 0;
}

void events_notify(void *p) {
	struct events *ev = p;
	wait_bell_ring(&ev->bell);
}

/* Full jitter: random in [0, base], base = 1 s · 2^(attempts - 1), at most 10 min. */
static int64_t backoff_ms(int attempts) {
	int64_t base = BACKOFF_FIRST_MS;
	for (int i = 1; i < attempts && base < BACKOFF_CAP_MS; i++) {
		base *= 2;
	}
	if (base > BACKOFF_CAP_MS) {
		base = BACKOFF_CAP_MS;
	}
	uint32_t r = 0;
	RAND_bytes((unsigned char *)&r, sizeof(r));
	return (int64_t)(r % (uint32_t)(base + 1));
}

/* ---- one delivery ---- */

static int take(void *ctx, const struct store_event *e) {
	struct events *ev = ctx;
	if (ev->n == BATCH) {
		return 1; /* cannot happen: the claim asks for BATCH at most */
	}
	ev->batch[ev->n++] = (struct delivery){.e = *e};
	return 0;
}

/* Puts d's POST on the multi handle: a message.inbound to the operator URL, the others to
 * the events URL. -ENOMEM, -EIO, -ENOENT (that URL is not set: tried again later). */
static int start(struct events *ev, struct delivery *d) {
	const char *url =
			strcmp(d->e.type, "message.inbound") == 0 ? ev->o.operator_url : ev->o.url;
	if (!url) {
		return -ENOENT;
	}
	int r = events_json(&d->e, &d->body);
	if (r < 0) {
		return r;
	}
	d->h = curl_easy_init();
	d->hdr = hmac_json_headers(ev->o.secret, d->body);
	if (!d->h || !d->hdr) {
		return -ENOMEM;
	}
	curl_easy_setopt(d->h, CURLOPT_URL, url);
	curl_easy_setopt(d->h, CURLOPT_HTTPHEADER, d->hdr);
	curl_easy_setopt(d->h, CURLOPT_POSTFIELDS, d->body);
	curl_easy_setopt(d->h, CURLOPT_TIMEOUT_MS, (long)ev->o.timeout_ms);
	curl_easy_setopt(d->h, CURLOPT_CONNECTTIMEOUT_MS, (long)ev->o.timeout_ms);
	curl_easy_setopt(d->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(d->h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(d->h, CURLOPT_PRIVATE, d);
	if (curlbody_attach(d->h, &d->answer, MAX_ANSWER) < 0 ||
			curl_multi_add_handle(ev->multi, d->h) != CURLM_OK) {
		return -EIO;
	}
	return 0;
}

/* Records what became of d: why is NULL when the receiver took it (2xx). */
static void outcome(struct events *ev, struct delivery *d, const char *why) {
	const struct store_event *e = &d->e;
	int64_t now = ids_now_ms();
	int r;

	d->done = true;
	if (!why) {
		r = store_event_delivered(ev->store, e->id);
		metrics_inc(METRICS_EVENTS_DELIVERED);
		log_info("events.delivered", LOG_STR("event_id", e->uid), LOG_STR("type", e->type),
				LOG_STR("user", e->user_id), LOG_INT("attempts", e->attempts));
	} else if (now - e->created_at_ms >= ev->o.give_up_ms) {
		r = store_event_failed(ev->store, e->id, -1, why);
		metrics_inc(METRICS_EVENTS_FAILED);
		log_error("events.dead", LOG_STR("event_id", e->uid), LOG_STR("type", e->type),
				LOG_STR("user", e->user_id), LOG_STR("error", why),
				LOG_INT("attempts", e->attempts));
	} else {
		int64_t wait = backoff_ms(e->attempts);
		r = store_event_failed(ev->store, e->id, now + wait, why);
		metrics_inc(METRICS_EVENTS_RETRIES);
		log_warn("events.retry", LOG_STR("event_id", e->uid), LOG_STR("type", e->type),
				LOG_STR("user", e->user_id), LOG_STR("error", why),
				LOG_INT("attempts", e->attempts), LOG_INT("retry_in_ms", wait));
	}
	if (r < 0) {
		/* The lease runs out and the event is delivered again: at least once. */
		metrics_inc(METRICS_STORE_ERRORS);
		log_warn("events.store_failed", LOG_STR("event_id", e->uid));
	}
}

static void completed(struct events *ev, struct delivery *d, CURLcode cr) {
	char why[80];
	long status = 0;

	/* An answer longer than MAX_ANSWER is cut off, its status stands. */
	bool answered = cr == CURLE_OK || (cr == CURLE_WRITE_ERROR && d->answer.too_big);
	curl_easy_getinfo(d->h, CURLINFO_RESPONSE_CODE, &status);
	if (answered && status >= 200 && status < 300) {
		outcome(ev, d, NULL);
		return;
	}
	if (answered) {
		snprintf(why, sizeof(why), "HTTP %ld", status);
	} else {
		snprintf(why, sizeof(why), "%s", curl_easy_strerror(cr));
	}
	outcome(ev, d, why);
}

/* POSTs the batch at once and records each outcome. Stopping cuts what is in flight: those
 * events are due again at once (their attempt was counted by the claim). */
static void deliver(struct events *ev) {
	int running = 0;
	for (int i = 0; i < ev->n; i++) {
		int e = start(ev, &ev->batch[i]);
		if (e < 0) {
			outcome(ev, &ev->batch[i], e == -ENOENT ? "no URL for it" : "out of memory");
		} else {
			running++;
		}
	}
	while (running > 0 && !atomic_load(&ev->stop)) {
		int still = 0;
		curl_multi_perform(ev->multi, &still);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(ev->multi, &left)) != NULL) {
			char *d = NULL;
			if (msg->msg != CURLMSG_DONE) {
				continue;
			}
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &d);
			completed(ev, (struct delivery *)(void *)d, msg->data.result);
			running--;
		}
		if (running > 0) {
			curl_multi_poll(ev->multi, NULL, 0, 1000, NULL);
		}
	}
	for (int i = 0; i < ev->n; i++) {
		struct delivery *d = &ev->batch[i];
		if (!d->done) {
			store_event_failed(ev->store, d->e.id, ids_now_ms(), NULL);
		}
		if (d->h) {
			curl_multi_remove_handle(ev->multi, d->h);
			curl_easy_cleanup(d->h);
		}
		curl_slist_free_all(d->hdr);
		free(d->body);
		free(d->answer.s);
	}
	ev->n = 0;
}

static void *loop(void *arg) {
	struct events *ev = arg;
	while (!atomic_load(&ev->stop)) {
		uint64_t seen = wait_bell_rung(&ev->bell);
		int64_t now = ids_now_ms();
		int r = store_events_claim(ev->store, now, now + ev->o.timeout_ms + LEASE_MARGIN_MS,
				BATCH, take, ev);
		if (r < 0) {
			metrics_inc(METRICS_STORE_ERRORS);
		}
		int claimed = ev->n;
		if (claimed > 0) {
			deliver(ev); /* what was claimed before a failure too */
		}
		if (claimed < BATCH) {
			wait_bell_sleep(&ev->bell, r < 0 ? 1000 : POLL_MS, seen, &ev->stop);
		}
	}
	return NULL;
}

int events_start(const struct events_options *o, struct store *s, struct events **ret) {
	struct events *ev = calloc(1, sizeof(*ev));
	if (!ev) {
		return -ENOMEM;
	}
	ev->o = *o;
	ev->store = s;
	ev->multi = curl_multi_init();
	if (!ev->multi) {
		free(ev);
		return -ENOMEM;
	}
	wait_bell_init(&ev->bell);
	atomic_init(&ev->stop, false);
	if (pthread_create(&ev->thread, NULL, loop, ev) != 0) {
		events_stop(ev);
		return -EIO;
	}
	ev->started = true;
	*ret = ev;
	return 0;
}

void events_stop(struct events *ev) {
	if (!ev) {
		return;
	}
	atomic_store(&ev->stop, true);
	events_notify(ev);
	curl_multi_wakeup(ev->multi);
	if (ev->started) {
		pthread_join(ev->thread, NULL);
	}
	curl_multi_cleanup(ev->multi);
	wait_bell_finish(&ev->bell);
	free(ev);
}
