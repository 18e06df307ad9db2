#include "outbox.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "log.h"
#include "phone.h"
#include "metrics.h"
#include "sms/sms.h"
#include "wait.h"

#define MAX_WORKERS 64
#define CANDIDATES 256
#define AGENT_BATCH 32 /* rows an inline agent answers in one transaction */
#define IDLE_WAIT_MS 500
#define BACKOFF_CAP_MS (5 * 60 * 1000)
#define RECONCILE_FIRST_MS 5000
#define SERVED_SLOTS 4096

struct served { /* when a user was last given a send slot */
	char user_id[STORE_ID_SIZE];
	uint64_t tick;
};

struct outbox {
	struct outbox_options o;
	struct store *store;
	struct agent *agent;
	struct router *router;
	pthread_t workers[MAX_WORKERS];
	int nworkers;
	pthread_t sender;
	bool sender_started;
	struct wait_bell bell; /* rung by outbox_notify */
	atomic_bool stop;
	/* sender's own state */
	double tokens;
	int64_t tokens_at_ms;
	struct served served[SERVED_SLOTS];
	uint64_t tick;
};

/* Full-jitter exponential backoff: random in [base/2, base], base = 1 s · 2^(attempt-1). */
static int64_t backoff_ms(int attempt, int64_t first_ms) {
	int64_t base = first_ms;
	for (int i = 1; i < attempt && base < BACKOFF_CAP_MS; i++) {
		base *= 2;
	}
	if (base > BACKOFF_CAP_MS) {
		base = BACKOFF_CAP_MS;
	}
	unsigned int r = 0;
	RAND_bytes((unsigned char *)&r, sizeof(r));
	return base / 2 + (int64_t)(r % (unsigned int)(base / 2 + 1));
}

void outbox_notify(void *p) {
	struct outbox *ob = p;
	wait_bell_ring(&ob->bell);
}

/* ---- agent stage ---- */

struct inbound_copy {
	struct store_message m;
	char *sid, *from, *to, *body, *media, *uid;
};

static int copy_message(void *ctx, const struct store_message *m) {
	struct inbound_copy *c = ctx;
	c->m = *m;
	c->sid = m->sid ? strdup(m->sid) : NULL;
	c->from = strdup(m->from);
	c->to = strdup(m->to);
	c->body = strdup(m->body);
	c->media = m->media_json ? strdup(m->media_json) : NULL;
	c->uid = m->uid ? strdup(m->uid) : NULL;
	/* Only what is copied is kept: the rest pointed into the store's row. */
	c->m = (struct store_message){.id = m->id, .direction = m->direction,
		.created_at = m->created_at, .segments = m->segments, .uid = c->uid};
	c->m.sid = c->sid;
	c->m.from = c->from;
	c->m.to = c->to;
	c->m.body = c->body;
	c->m.media_json = c->media;
	return c->from && c->to && c->body ? 0 : -ENOMEM;
}

static void free_copy(struct inbound_copy *c) {
	free(c->sid);
	free(c->from);
	free(c->to);
	free(c->body);
	free(c->media);
	free(c->uid);
}

/* Gives row up (its stage: "agent" or "send"): dead-lettered, counted, logged. */
/* attempts: the row's, this one's included (the store's count, as outbox list shows it). */
static void dead(struct outbox *ob, const struct store_outbox *row, const char *stage,
		const char *why, int attempts) {
	int64_t now = ids_now_ms();
	store_outbox_update(ob->store, row->id, "dead", now, false, why, now);
	metrics_inc(METRICS_OUTBOX_DEAD);
	log_error("outbox.dead", LOG_INT("outbox", row->id), LOG_STR("user", row->user_id),
			LOG_STR("stage", stage), LOG_STR("error", why), LOG_INT("attempts", attempts));
}

/* One claimed row: its agent's answer stored, or a retry or the dead letter. */
static void work_agent(struct outbox *ob, const struct store_outbox *row) {
	struct store_user user;
	struct inbound_copy in = {0};
	struct agent_answer answer = {0};
	char *reply = NULL;
	const char *why;
	int e;

	e = store_user_get(ob->store, row->user_id, &user);
	if (e == 0) {
		e = store_message_get(ob->store, row->user_id, row->inbound_id, copy_message, &in);
	}
	if (e < 0) {
		why = e == -ENOENT ? "message gone" : "store";
		goto failed;
	}
	bool opted_out = false;
	if (store_optout_get(ob->store, in.m.from, &opted_out) == 0 && opted_out) {
		/* Nothing may be sent to it: the agent is not asked. */
		store_outbox_update(ob->store, row->id, "dead", ids_now_ms(), false, "opted_out",
				ids_now_ms());
		log_info("outbox.opted_out", LOG_INT("outbox", row->id), LOG_STR("user", row->user_id));
		free_copy(&in);
		return;
	}
	struct agent_request req = {.user = &user, .message = &in.m};
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	e = agent_reply(ob->agent, &req, &answer);
	reply = answer.reply;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	metrics_agent_call(answer.agent,
			(double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, e < 0);
	if (e < 0) {
		why = agent_error_text(e);
		goto failed;
	}
	if (router_reply_blank(reply)) {
		free(reply);
		/* Pictures alone are a message too. */
		reply = answer.media ? strdup("") : NULL;
		if (answer.media && !reply) {
			why = "out of memory";
			goto failed;
		}
	}
	int flags = 0;
	if (reply && router_prepare_reply(ob->router, &reply, &flags) < 0) {
		why = "out of memory";
		goto failed;
	}
	/* The reply goes back on the channel the message came on. */
	char from[PHONE_KEY_SIZE];
	const char *reply_from = phone_reply_from(in.m.from, in.m.to, ob->o.whatsapp_from, from);
	struct store_message out = {0};
	if (reply) {
		struct sms_count c;
		sms_count(reply, strlen(reply), &c);
		out = (struct store_message){
			.from = reply_from,
			.to = in.m.from,
			.body = reply,
			.status = "pending",
			.encoding = sms_encoding_name(c.encoding),
			.segments = c.segments,
			.media_json = answer.media,
			.reply_to = row->inbound_id,
			.flags = flags | STORE_FLAG_SENT_BY_API,
		};
	}
	e = store_outbox_replied(ob->store, row->id, row->user_id, reply ? &out : NULL,
			ids_now_ms());
	if (e == 0 && answer.handoff) {
		/* Right after the reply (not in its transaction: the outbox's own is scoped to
		 * the row): a crash between them sends the reply and keeps the user in agent
		 * mode, the agent's next answer may hand off again. */
		int m = store_user_mode_set(ob->store, row->user_id, "human");
		if (m < 0 && m != -ENOENT) {
			metrics_inc(METRICS_STORE_ERRORS);
			log_error("outbox.handoff_failed", LOG_STR("user", row->user_id));
		}
	}
	if (e < 0 && e != -ENOENT) {
		why = "store";
		goto failed;
	}
	log_info("outbox.agent_answered", LOG_INT("outbox", row->id), LOG_STR("user", row->user_id),
			LOG_STR("agent", answer.agent), LOG_INT("reply", reply != NULL),
			LOG_INT("handoff", answer.handoff));
	free(reply);
	free(answer.media);
	free_copy(&in);
	outbox_notify(ob);
	return;

failed:
	free(reply);
	free(answer.media);
	free_copy(&in);
	int64_t now = ids_now_ms();
	if (row->attempts >= ob->o.max_attempts || strcmp(why, "message gone") == 0) {
		dead(ob, row, "agent", why, row->attempts); /* the claim counted this one */
		return;
	}
	/* The claim counted the attempt; a shutdown's cancel is not the agent's fault. */
	int64_t next = now + (strcmp(why, "shutting down") == 0 ? 0 : backoff_ms(row->attempts, 1000));
	store_outbox_update(ob->store, row->id, "agent", next, false, why, now);
	metrics_inc(METRICS_OUTBOX_RETRIES);
	log_warn("outbox.agent_retry", LOG_INT("outbox", row->id), LOG_STR("user", row->user_id),
			LOG_STR("error", why), LOG_INT("attempts", row->attempts),
			LOG_INT("retry_in_ms", next - now));
}

/* Claims a due row and works it: 0, or -ENOENT when none is due, or the store's error. */
static int agent_one(struct outbox *ob) {
	struct store_outbox row;
	int64_t now = ids_now_ms();
	/* The lease outlasts the agent's deadline: a crash makes the row due again. */
	int e = store_outbox_claim_agent(ob->store, now, now + ob->o.agent_timeout_ms + 5000, &row);
	if (e == 0) {
		work_agent(ob, &row);
	}
	return e;
}

/* An agent that answers at once (the memo keeper): after a first row, up to AGENT_BATCH
 * more are claimed, answered and stored in one transaction (one commit, one fsync). A
 * failed commit leaves them as they were, due again. The first claim's answer. */
static int agent_batch(struct outbox *ob) {
	int e = agent_one(ob);
	if (e < 0 || store_tx_begin(ob->store) < 0) {
		return e;
	}
	for (int n = 0; n < AGENT_BATCH && !atomic_load(&ob->stop); n++) {
		if (agent_one(ob) < 0) {
			break;
		}
	}
	store_tx_commit(ob->store);
	return 0;
}

static void *agent_worker(void *arg) {
	struct outbox *ob = arg;
	bool inline_agent = agent_answers_inline(ob->agent);
	while (!atomic_load(&ob->stop)) {
		uint64_t seen = wait_bell_rung(&ob->bell);
		int e = inline_agent ? agent_batch(ob) : agent_one(ob);
		if (e < 0) {
			wait_bell_sleep(&ob->bell, e == -ENOENT ? IDLE_WAIT_MS : 1000, seen, &ob->stop);
		}
	}
	return NULL;
}

/* ---- send stage ---- */

struct candidate {
	struct store_outbox row;
	char *body;
	char *media;
};

struct candidates {
	struct candidate c[CANDIDATES];
	int n;
};

static int collect(void *ctx, const struct store_outbox *o) {
	struct candidates *cs = ctx;
	if (cs->n == CANDIDATES) {
		return 1;
	}
	struct candidate *c = &cs->c[cs->n];
	c->row = *o;
	c->body = strdup(o->body ? o->body : "");
	c->media = o->media ? strdup(o->media) : NULL;
	if (!c->body || (o->media && !c->media)) {
		free(c->body);
		free(c->media);
		return -ENOMEM;
	}
	c->row.body = c->body;
	c->row.media = c->media;
	cs->n++;
	return 0;
}

static void release(struct candidates *cs) {
	for (int i = 0; i < cs->n; i++) {
		free(cs->c[i].body);
		free(cs->c[i].media);
	}
	cs->n = 0;
}

static struct served *served_slot(struct outbox *ob, const char *user_id) {
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = user_id; *p; p++) {
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	}
	return &ob->served[h % SERVED_SLOTS];
}

static uint64_t last_served(struct outbox *ob, const char *user_id) {
	struct served *s = served_slot(ob, user_id);
	return strcmp(s->user_id, user_id) == 0 ? s->tick : 0;
}

/* Fair share of the one number: the candidate whose user was served least recently. Each
 * user offers only its oldest reply, so a user with 500 queued replies takes one slot in
 * turn with everyone else. */
static struct candidate *pick(struct outbox *ob, struct candidates *cs) {
	struct candidate *best = NULL;
	uint64_t best_tick = 0;
	for (int i = 0; i < cs->n; i++) {
		uint64_t t = last_served(ob, cs->c[i].row.user_id);
		if (!best || t < best_tick) {
			best = &cs->c[i];
			best_tick = t;
		}
	}
	return best;
}

/* Waits until the pace allows segments more; false if stopping. */
static bool take_tokens(struct outbox *ob, int segments) {
	double burst = ob->o.send_rate < 1 ? 1 : ob->o.send_rate;
	for (;;) {
		int64_t now = ids_now_ms();
		ob->tokens += (double)(now - ob->tokens_at_ms) * ob->o.send_rate / 1000.0;
		if (ob->tokens > burst) {
			ob->tokens = burst;
		}
		ob->tokens_at_ms = now;
		if (ob->tokens >= segments || (segments > burst && ob->tokens >= burst)) {
			ob->tokens -= segments;
			return true;
		}
		if (atomic_load(&ob->stop)) {
			return false;
		}
		double need = (segments > burst ? burst : segments) - ob->tokens;
		int64_t ms = (int64_t)(need * 1000.0 / ob->o.send_rate) + 1;
		struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
		nanosleep(&ts, NULL);
	}
}

static void sent(struct outbox *ob, const struct store_outbox *row, const char *sid,
		const char *status, bool reconciled) {
	store_outbox_sent(ob->store, row->id, row->outbound_id, sid, status);
	metrics_inc(reconciled ? METRICS_OUTBOX_RECONCILED : METRICS_OUTBOX_SENT);
	metrics_send(row->lane == STORE_LANE_PROACTIVE ? METRICS_SEND_PROACTIVE
			: row->kind[0] ? METRICS_SEND_REPLY : METRICS_SEND_AGENT_REPLY);
	metrics_outbox_wait_seconds((double)(ids_now_ms() - row->created_at_ms) / 1000.0);
	log_info(reconciled ? "outbox.reconciled" : "outbox.sent", LOG_INT("outbox", row->id),
			LOG_STR("user", row->user_id), LOG_STR("sid", sid),
			LOG_INT("segments", row->segments));
}

/* A SID one of our outbound messages has already: that message is not the one sought. */
static int sid_known(void *ctx, const char *sid) {
	struct outbox *ob = ctx;
	int e = store_outbound_sid_known(ob->store, sid);
	return e == -ENOENT ? 0 : e == 0 ? 1 : e;
}

/* A send may have reached Twilio: a status callback or Twilio's list says whether. True if
 * it did (the row is done), false if it certainly did not (send again). */
static int reconcile(struct outbox *ob, const struct store_outbox *row) {
	char sid[STORE_SID_SIZE] = "";
	char status[24] = "";
	if (store_outbound_state(ob->store, row->outbound_id, sid, status) == 0 && sid[0]) {
		sent(ob, row, sid, status, true);
		return 1;
	}
	char found[65] = "";
	int e = twilio_rest_find(&ob->o.rest, row->to, row->from, row->body, row->sent_at_ms / 1000,
			sid_known, ob, found);
	if (e == 0) {
		sent(ob, row, found, "queued", true);
		return 1;
	}
	return e == -ENOENT ? 0 : e;
}

/* The midnight (UTC) that began today, unix seconds. */
static int64_t today_utc(void) {
	int64_t now = ids_now();
	return now - now % 86400;
}

/* An API message (store_send_add) that must not go now: ended unsent (the number opted
 * out: suppressed; the daily segment budget is spent: over_budget) or, proactive, held to
 * the end of its user's quiet hours (its zone may have changed since the 202). True if it
 * was stopped. */
static bool stopped(struct outbox *ob, const struct store_outbox *row) {
	const char *status = NULL;
	bool opted_out = false;
	int64_t used = 0;

	if (store_optout_get(ob->store, row->to, &opted_out) == 0 && opted_out) {
		status = "suppressed";
	} else if (ob->o.daily_segment_budget > 0 &&
			store_outbound_segments(ob->store, row->user_id, today_utc(), &used) == 0 &&
			used - row->segments >= ob->o.daily_segment_budget) {
		status = "over_budget";
	}
	bool stop = status != NULL;
	int64_t now = ids_now_ms(), until = now;
	if (!stop && row->lane == STORE_LANE_PROACTIVE) {
		const char *zone = row->timezone[0] ? row->timezone : ob->o.default_timezone;
		if (tz_not_before(zone, &ob->o.quiet, now, &until) < 0 &&
				tz_not_before(ob->o.default_timezone, &ob->o.quiet, now, &until) < 0) {
			until = now;
		}
		stop = until > now;
	}
	/* A row reconciled as never sent waits in sending: back to send first, where a
	 * finish or a hold (each only for a waiting row) can take it. */
	if (stop && strcmp(row->state, "sending") == 0) {
		store_outbox_update(ob->store, row->id, "send", now, false, NULL, now);
	}
	if (status) {
		store_send_finish(ob->store, row->user_id, row->outbound_id, status, status);
		metrics_inc(METRICS_SENDS_STOPPED);
		log_info("outbox.not_sent", LOG_INT("outbox", row->id), LOG_STR("user", row->user_id),
				LOG_STR("status", status));
		return true;
	}
	if (!stop) {
		return false;
	}
	store_outbox_hold(ob->store, row->user_id, row->id, until);
	metrics_inc(METRICS_QUIET_HOLDS);
	log_info("outbox.quiet_hours", LOG_INT("outbox", row->id), LOG_STR("user", row->user_id),
			LOG_INT("hold_ms", until - now));
	return true;
}

/* The message's media: at most TWILIO_MAX_MEDIA URLs of the JSON array (borrowed from
 * j, the caller's to json_decref). */
static size_t media_urls(const char *media_json, json_t **j,
		const char *urls[TWILIO_MAX_MEDIA]) {
	size_t n = 0, i;
	json_t *v;
	*j = media_json ? json_loads(media_json, 0, NULL) : NULL;
	json_array_foreach(*j, i, v) {
		if (json_is_string(v) && n < TWILIO_MAX_MEDIA) {
			urls[n++] = json_string_value(v);
		}
	}
	return n;
}

static void send_one(struct outbox *ob, const struct store_outbox *row) {
	char callback[600];
	struct twilio_send_result res;
	bool opted_out = false;

	if (row->kind[0] && stopped(ob, row)) {
		return;
	}
	if (!row->kind[0] && store_optout_get(ob->store, row->to, &opted_out) == 0 && opted_out) {
		bool changed;
		store_status_update(ob->store, row->outbound_id, NULL, "canceled", NULL, &changed);
		dead(ob, row, "send", "opted_out", row->attempts);
		return;
	}
	if (row->attempts >= ob->o.max_attempts) {
		dead(ob, row, "send", "send attempts exhausted", row->attempts);
		return;
	}
	if (!take_tokens(ob, row->segments > 0 ? row->segments : 1)) {
		return;
	}
	int64_t started = ids_now_ms();
	/* Durable before the POST (the store's commit returns once it is): after a crash (or
	 * a power loss) this row is known to be ambiguous, never sent twice. */
	if (store_outbox_update(ob->store, row->id, "sending", started + RECONCILE_FIRST_MS, true,
			    NULL, started) < 0) {
		return;
	}
	if (ob->o.public_url) {
		snprintf(callback, sizeof(callback), "%s/sms-router/webhook/status?ob=%lld",
				ob->o.public_url, (long long)row->outbound_id);
	}
	const char *urls[TWILIO_MAX_MEDIA];
	json_t *media;
	struct twilio_message m = {
		.to = row->to,
		.from = row->from,
		.body = row->body,
		.media = urls,
		.nmedia = media_urls(row->media, &media, urls),
		.status_callback = ob->o.public_url ? callback : NULL,
	};
	int e = twilio_rest_send(&ob->o.rest, &m, &res);
	json_decref(media);
	if (e < 0) {
		store_outbox_update(ob->store, row->id, "send", ids_now_ms() + 1000, false, "no memory",
				started);
		return;
	}
	int attempt = row->attempts + 1;
	int64_t now = ids_now_ms();
	char err[64];
	if (res.http_status == 200 || res.http_status == 201) {
		sent(ob, row, res.sid, res.status, false);
	} else if (res.http_status == 429 || (res.http_status == 0 && !res.maybe_sent)) {
		/* Never processed: safe to send again, after Retry-After if Twilio gave one. */
		int64_t wait = res.retry_after_ms >= 0 ? res.retry_after_ms : backoff_ms(attempt, 1000);
		snprintf(err, sizeof(err), res.http_status ? "HTTP 429" : "no connection");
		store_outbox_update(ob->store, row->id, "send", now + wait, false, err, now);
		metrics_inc(METRICS_OUTBOX_RETRIES);
		log_warn("outbox.send_retry", LOG_INT("outbox", row->id), LOG_STR("error", err),
				LOG_INT("retry_in_ms", wait));
	} else if (res.maybe_sent) {
		/* Ambiguous: it may have been sent. Reconcile before any new attempt. */
		int64_t wait = backoff_ms(attempt, RECONCILE_FIRST_MS);
		snprintf(err, sizeof(err), res.http_status ? "HTTP %ld" : "timeout", res.http_status);
		store_outbox_update(ob->store, row->id, "sending", now + wait, false, err, started);
		metrics_inc(METRICS_OUTBOX_RETRIES);
		log_warn("outbox.send_ambiguous", LOG_INT("outbox", row->id), LOG_STR("error", err),
				LOG_INT("reconcile_in_ms", wait));
	} else {
		/* A 4xx other than 429: Twilio refused it; sending again cannot help. */
		char code[16];
		snprintf(code, sizeof(code), "%d", res.error_code);
		bool changed;
		store_status_update(ob->store, row->outbound_id, NULL, "failed",
				res.error_code ? code : NULL, &changed);
		if (res.error_code == 21610) {
			store_optout_set(ob->store, row->to, true);
		}
		snprintf(err, sizeof(err), "HTTP %ld, Twilio error %d", res.http_status, res.error_code);
		dead(ob, row, "send", err, attempt); /* "sending" counted this POST */
	}
}

static void *sender(void *arg) {
	struct outbox *ob = arg;
	struct candidates *cs = calloc(1, sizeof(*cs));
	if (!cs) {
		log_error("outbox.sender_failed", LOG_STR("error", "out of memory"));
		return NULL;
	}
	ob->tokens_at_ms = ids_now_ms();
	ob->tokens = ob->o.send_rate < 1 ? 1 : ob->o.send_rate;
	while (!atomic_load(&ob->stop)) {
		uint64_t seen = wait_bell_rung(&ob->bell);
		struct candidate *c = NULL;
		int e = 0;
		/* Replies first: a proactive message goes only when no reply is due. */
		for (int lane = STORE_LANE_REPLIES; !c && e >= 0 && lane <= STORE_LANE_PROACTIVE;
				lane++) {
			release(cs);
			e = store_outbox_ready(ob->store, lane, ids_now_ms(), CANDIDATES, collect, cs);
			c = e >= 0 ? pick(ob, cs) : NULL;
		}
		if (c) {
			struct served *slot = served_slot(ob, c->row.user_id);
			memcpy(slot->user_id, c->row.user_id, sizeof(slot->user_id));
			slot->tick = ++ob->tick;
			int done = strcmp(c->row.state, "sending") == 0 ? reconcile(ob, &c->row) : 0;
			if (done == 0) {
				send_one(ob, &c->row);
			} else if (done < 0) {
				int64_t now = ids_now_ms();
				store_outbox_update(ob->store, c->row.id, "sending",
						now + backoff_ms(c->row.attempts + 1, RECONCILE_FIRST_MS), false,
						"reconcile failed", c->row.sent_at_ms);
			}
		}
		release(cs);
		if (!c) {
			wait_bell_sleep(&ob->bell, e < 0 ? 1000 : IDLE_WAIT_MS, seen, &ob->stop);
		}
	}
	free(cs);
	return NULL;
}

int outbox_start(const struct outbox_options *o, struct store *s, struct agent *a,
		struct router *r, struct outbox **ret) {
	struct outbox *ob = calloc(1, sizeof(*ob));
	if (!ob) {
		return -ENOMEM;
	}
	ob->o = *o;
	ob->store = s;
	ob->agent = a;
	ob->router = r;
	if (ob->o.workers < 1) {
		ob->o.workers = 1;
	}
	if (ob->o.workers > MAX_WORKERS) {
		ob->o.workers = MAX_WORKERS;
	}
	/* An agent that answers at once on a store that writes one transaction at a time:
	 * more workers would only wait for each other's (and the webhooks') write lock. */
	if (a && agent_answers_inline(a) && store_single_writer(s)) {
		ob->o.workers = 1;
	}
	if (ob->o.max_attempts < 1) {
		ob->o.max_attempts = 1;
	}
	wait_bell_init(&ob->bell);
	atomic_init(&ob->stop, false);
	for (int i = 0; ob->o.agent_stage && i < ob->o.workers; i++) {
		if (pthread_create(&ob->workers[i], NULL, agent_worker, ob) != 0) {
			outbox_stop(ob);
			return -EIO;
		}
		ob->nworkers++;
	}
	if (pthread_create(&ob->sender, NULL, sender, ob) != 0) {
		outbox_stop(ob);
		return -EIO;
	}
	ob->sender_started = true;
	*ret = ob;
	return 0;
}

void outbox_stop(struct outbox *ob) {
	if (!ob) {
		return;
	}
	atomic_store(&ob->stop, true);
	outbox_notify(ob);
	/* Agent calls in flight end now (-ECANCELED); their rows stay queued. */
	agent_shutdown(ob->agent);
	for (int i = 0; i < ob->nworkers; i++) {
		pthread_join(ob->workers[i], NULL);
	}
	if (ob->sender_started) {
		pthread_join(ob->sender, NULL);
	}
	wait_bell_finish(&ob->bell);
	free(ob);
}
