#include "router.h"
#include "router_private.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "phone.h"
#include "sms/sms.h"
#include "wait.h"

#define DEFAULT_ONBOARDING                                                              \
	"This number is not registered with this service yet. Ask the service's "     \
	"administrator to add it."
#define DEFAULT_HELP                                                                    \
	"This is an automated assistant. Reply STOP to unsubscribe, START to "         \
	"resubscribe. Msg&data rates may apply."
#define APOLOGY "Sorry, something went wrong on our side. Please try again in a moment."
/* The most messages of a batch looked up at once (look_up): each is compared with those
 * before it. */
#define LOOK_AHEAD 256

/* Whether job's sender or MessageSid is that of a message before it in its batch (from
 * first): what that one writes (an opt-out, its own row) the later one must see. */
static bool seen_in_batch(const struct router_job *first, const struct router_job *job) {
	for (const struct router_job *o = first; o != job; o = o->next) {
		if (!o->has_reply_to_store && (strcmp(o->in->from, job->in->from) == 0 ||
							  strcmp(o->in->sid, job->in->sid) == 0)) {
			return true;
		}
	}
	return false;
}

/* The store's round trips are the cost (PostgreSQL): the dedupe and route lookups of a
 * batch's new messages all go in one, before its transaction (store_lookup_many), in place
 * of two each inside it (one message alone too: one round trip, not two). Only a sender's
 * first message of the batch, and a MessageSid's first: a later one looks up in the
 * transaction, after what the earlier one wrote, as before. A lookup that fails is made
 * again in the transaction. A message routed with a lookup made a moment before its
 * transaction is one that came in that moment earlier. */
static void look_up(struct router *r, struct router_job *jobs) {
	struct store_lookup l[LOOK_AHEAD];
	struct router_job *of[LOOK_AHEAD];
	size_t n = 0;

	for (struct router_job *job = jobs; job && n < LOOK_AHEAD; job = job->next) {
		if (job->has_reply_to_store || seen_in_batch(jobs, job)) {
			continue;
		}
		bool phone = phone_address_parse(job->in->from, &job->channel, job->number) == 0;
		l[n] = (struct store_lookup){
			.sid = job->in->sid, .phone = phone ? job->number : NULL, .user = &job->user};
		of[n++] = job;
	}
	if (store_lookup_many(r->store, l, n) == -ENOTSUP) {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		of[i]->looked_up = l[i].err == 0;
		of[i]->lookup = l[i];
	}
}

/* The writer's batch: its items are jobs (item first). */
static void run_writer_batch(void *ctx, struct writer_item *items) {
	struct router *r = ctx;
	struct router_job *jobs = (struct router_job *)items;
	for (struct writer_item *i = items; i; i = i->next) {
		((struct router_job *)i)->next = (struct router_job *)i->next;
	}
	if (r->look_ahead) {
		look_up(r, jobs);
	}
	router__run_batch(r, jobs);
}

int router_create(struct store *s, struct agent *a, struct ratelimit *rl,
		const struct router_options *o, struct router **ret_router) {
	struct router *r = calloc(1, sizeof(*r));
	if (!r) {
		return -ENOMEM;
	}
	r->store = s;
	r->agent = a;
	r->rl = rl;
	for (int i = 0; i < ORDER_LOCKS; i++) {
		pthread_mutex_init(&r->order_mu[i], NULL);
	}
	pthread_mutex_init(&r->mu, NULL);
	wait_count_init(&r->batches);
	r->answered_tail = &r->answered;
	r->look_ahead = store_lookup_many(s, NULL, 0) == 0;
	if (a && !agent_answers_inline(a)) {
		agent_on_answers(a, router__store_answers, r);
	}
	r->onboarding = o && o->onboarding_text ? o->onboarding_text : DEFAULT_ONBOARDING;
	r->help = o && o->help_text ? o->help_text : DEFAULT_HELP;
	r->window_s = o && o->onboarding_window_s > 0 ? o->onboarding_window_s : 24 * 3600;
	if (o) {
		r->smart_encoding = o->smart_encoding;
		r->max_segments = o->reply_max_segments;
		r->budget = o->daily_segment_budget;
		r->rest = o->rest;
		r->whatsapp_from = o->whatsapp_from;
		r->sender_limit = o->sender_limit;
		r->sender_window_s = o->sender_window_s;
		r->on_enqueue = o->on_enqueue;
		r->on_enqueue_ctx = o->on_enqueue_ctx;
		r->operator = o->operator;
		r->on_operator = o->on_operator;
		r->on_operator_ctx = o->on_operator_ctx;
		if ((o->global_limit > 0 &&
				    ratelimit_create(o->global_limit, o->global_window_s, &r->global) < 0) ||
				(o->unknown_limit > 0 && ratelimit_create(o->unknown_limit,
								 o->unknown_window_s, &r->unknown) < 0)) {
			router_destroy(r);
			return -ENOMEM;
		}
	}
	/* Writer threads write the messages, a batch per transaction, one commit and one
	 * fsync for all of them: SQLite writes one transaction at a time anyway (one thread);
	 * on PostgreSQL a commit costs more than a batch's waits (PG_WRITERS). An agent called
	 * after the commit (an Agent Core in twiml mode) takes one user's messages in the order
	 * of their ids, which one writer gives; several would need the order lock held across
	 * a batch, where two writers could each wait for the other's. In rest mode one too:
	 * the first message through each of several idle writers pays for its connection, late
	 * enough that the sender's round robin saw one user's rows before others' that came
	 * first (test_rest's fairness test). */
	bool later = !r->rest && !agent_answers_inline(a);
	int n = store_single_writer(s) || later || r->rest ? 1 : PG_WRITERS;
	for (; r->writers < n; r->writers++) {
		int e = writer_start(run_writer_batch, r, &r->writer[r->writers]);
		if (e < 0) {
			router_destroy(r);
			return e;
		}
	}
	*ret_router = r;
	return 0;
}

void router_destroy(struct router *r) {
	if (!r) {
		return;
	}
	for (int i = 0; i < r->writers; i++) {
		writer_stop(r->writer[i]);
	}
	/* The last batches may still wait for their fsync on the store's flusher. */
	wait_count_zero(&r->batches);
	ratelimit_destroy(r->global);
	ratelimit_destroy(r->unknown);
	for (int i = 0; i < ORDER_LOCKS; i++) {
		pthread_mutex_destroy(&r->order_mu[i]);
	}
	pthread_mutex_destroy(&r->mu);
	wait_count_finish(&r->batches);
	free(r);
}

/* ---- the way in ---- */

void router_result_clear(struct router_result *result) {
	free(result->reply);
	free(result->media);
	*result = (struct router_result){0};
}

void router_submit(struct router *r, struct router_job *job, const struct router_inbound *in,
		router_done_cb done, void *ctx) {
	memset(job, 0, sizeof(*job));
	job->r = r;
	job->in = in;
	job->done = done;
	job->ctx = ctx;
	/* Stored with the others of its batch, by its sender's writer. */
	writer_submit_by(r->writer, r->writers, in->from, &job->item);
}

/* ---- steps 1–4: what the message is and who sent it ---- */

/* A seen MessageSid: the answer given the first time, never a second routing. */
static int duplicate(struct router *r, struct router_job *job) {
	char *reply = job->lookup.reply; /* looked up with its batch (look_up) */
	char *media = job->lookup.media;
	int64_t id = job->lookup.outbound_id;
	int e = job->looked_up ? (job->lookup.seen ? 0 : -ENOENT)
			       : store_answer_for(r->store, job->in->sid, &reply, &id, &media);
	job->lookup.reply = job->lookup.media = NULL;
	if (e < 0) {
		return e;
	}
	job->result.outcome = ROUTER_DUPLICATE;
	job->result.reply = reply;
	job->result.media = media;
	job->result.outbound_id = id;
	return 0;
}

/* 1 if `from` may send one more message now (and it is counted), 0 if it is over its
 * limit, or a negative errno. The store's shared count if it keeps one, else this
 * process's. */
static int sender_take(struct router *r, const char *from, int64_t now) {
	if (r->sender_limit > 0) {
		int e = store_sender_take(r->store, from, r->sender_limit, r->sender_window_s);
		if (e != -ENOTSUP) {
			return e;
		}
	}
	return ratelimit_take(r->rl, from, now) ? 1 : 0;
}

/* The limit a message from `from` is over ("sender", "global", "unknown_senders"), or
 * NULL, in *ret_limited; 0 or a negative errno. Each bucket is only charged when the ones
 * before it had room. The global and unknown-sender limits guard this process: they are
 * its own. */
static int over_limit(struct router *r, const char *from, bool known, const char **ret_limited) {
	int64_t now = ratelimit_now_ms();
	int e = sender_take(r, from, now);
	*ret_limited = NULL;
	if (e <= 0) {
		*ret_limited = e == 0 ? "sender" : NULL;
		return e;
	}
	if (r->global && !ratelimit_take(r->global, "*", now)) {
		*ret_limited = "global";
	} else if (!known && r->unknown && !ratelimit_take(r->unknown, "*", now)) {
		*ret_limited = "unknown_senders";
	}
	return 0;
}

/* 1 if user_id's replies today (UTC) have used the daily segment budget, 0 if not, or a
 * negative errno. */
static int budget_spent(struct router *r, const char *user_id) {
	int64_t now = ids_now();
	int64_t used = 0;
	int e = store_outbound_segments(r->store, user_id, now - now % 86400, &used);
	if (e < 0) {
		return e;
	}
	return used >= r->budget ? 1 : 0;
}

/* What a message is, from its words, its sender and the limits. */
struct verdict {
	enum router_outcome outcome;
	char word;           /* router_keyword's */
	bool known;          /* the sender is a user (job->user) */
	const char *limited; /* the limit a rate-limited message is over */
};

/* Steps 2–4: keyword, phone → user (and its opt-out), limits, budget. */
static int classify(struct router *r, struct router_job *job, struct verdict *v) {
	const struct router_inbound *in = job->in;
	bool opted_out = false;
	int e;

	if (phone_address_parse(in->from, &job->channel, job->number) < 0) {
		/* No channel of ours: no user, no words, no opt-out, no onboarding text; stored
		 * unrouted (the limits still hold, as for any unknown sender). */
		job->refused = true;
		e = over_limit(r, in->from, false, &v->limited);
		v->outcome = v->limited ? ROUTER_RATE_LIMITED : ROUTER_UNROUTED;
		return e;
	}
	phone_optout_key(job->channel, job->number, job->optout_key);
	v->word = router_keyword(in->body, in->opt_out_type);
	v->known = job->lookup.known; /* looked up with its batch (look_up) */
	opted_out = job->lookup.opted_out;
	e = job->looked_up ? 0
			   : store_route_lookup(r->store, job->number, &job->user, &v->known,
					     &opted_out);
	if (e == 0 && job->channel != PHONE_CHANNEL_SMS) {
		/* The lookup answers for the number on SMS; another channel has its own opt-out. */
		e = store_optout_get(r->store, job->optout_key, &opted_out);
	}
	if (e < 0) {
		return e;
	}
	if (v->word == 'o' || v->word == 'i') {
		v->outcome = v->word == 'o' ? ROUTER_OPTED_OUT : ROUTER_OPTED_IN;
		return 0;
	}
	if (opted_out) {
		v->outcome = ROUTER_BLOCKED;
		return 0;
	}
	e = over_limit(r, in->from, v->known, &v->limited);
	if (e < 0) {
		return e;
	}
	/* The user's mode after the words, which work in every mode, and the limits. */
	bool paused = v->known && strcmp(job->user.mode, "paused") == 0;
	bool human = v->known && strcmp(job->user.mode, "human") == 0;
	/* Only opt-out and opt-in words are exempt: a help text costs a send too. */
	e = v->limited || v->word == 'h' || !v->known || paused || human || r->budget <= 0
			? 0
			: budget_spent(r, job->user.id);
	if (e < 0) {
		return e;
	}
	v->outcome = v->limited        ? ROUTER_RATE_LIMITED
		     : v->word == 'h'  ? ROUTER_HELP
		     : !v->known       ? ROUTER_UNROUTED
		     : paused          ? ROUTER_PAUSED
		     : human           ? ROUTER_HUMAN
		     : e == 1          ? ROUTER_OVER_BUDGET
				       : ROUTER_ROUTED;
	return 0;
}

/* ---- step 5: the inbound row ---- */

/* The order lock of user_id. An id is random hex (ids.h): its first two digits spread the
 * users over the locks with no hashing. Any other id still gets a lock, only a shared one. */
static pthread_mutex_t *order_lock(struct router *r, const char *user_id) {
	char first[3] = {user_id[0], user_id[0] ? user_id[1] : '\0', '\0'};
	pthread_mutex_t *mu = &r->order_mu[strtoul(first, NULL, 16) % ORDER_LOCKS];
	pthread_mutex_lock(mu);
	return mu;
}

void router__order_unlock(pthread_mutex_t **mu) {
	if (*mu) {
		pthread_mutex_unlock(*mu);
		*mu = NULL;
	}
}

/* The message.inbound event of job's message for the operator URL, recorded with it: its
 * user and message as the Agent Core is given them, the message with its public id, which
 * an operator's answer names in reply_to. -ENOMEM, -EIO. */
static int for_operator(struct router_job *job) {
	job->message.created_at = ids_now();
	struct agent_request req = {.user = &job->user, .message = &job->message};
	int e = agent_operator_json(&req, &job->operator_json);
	job->message.operator_json = e == 0 ? job->operator_json : NULL;
	return e;
}

/* Stores the inbound message with the status of its verdict (in rest mode a routed one
 * with its outbox row, atomically). A message whose agent is called after the commit takes
 * its user's order lock first when messages are stored on several threads, so that one
 * user's messages reach the agent in the order of their ids; the writer thread, alone,
 * keeps that order by itself. -EEXIST: the same MessageSid came in on another connection. */
static int store_inbound(struct router *r, struct router_job *job, const struct verdict *v) {
	static const char *const status[] = {
		[ROUTER_ROUTED] = "received",
		[ROUTER_UNROUTED] = "unrouted",
		[ROUTER_RATE_LIMITED] = "rate_limited",
		[ROUTER_OPTED_OUT] = "opt_out",
		[ROUTER_OPTED_IN] = "opt_in",
		[ROUTER_HELP] = "help",
		[ROUTER_BLOCKED] = "opted_out",
		[ROUTER_OVER_BUDGET] = "over_budget",
		[ROUTER_PAUSED] = "paused",
		[ROUTER_HUMAN] = "human",
	};
	const struct router_inbound *in = job->in;
	const char *body = in->body ? in->body : "";
	bool routed = v->outcome == ROUTER_ROUTED;
	struct sms_count c;
	int64_t id = 0;

	sms_count(body, strlen(body), &c);
	job->message = (struct store_message){
		.sid = in->sid,
		.from = in->from,
		.to = in->to,
		.body = body,
		.status = status[v->outcome],
		.encoding = sms_encoding_name(c.encoding),
		.segments = in->num_segments > 0 ? in->num_segments : c.segments,
		.media_json = in->media_json,
		/* for its agent; one that answers at once has answered by the commit */
		.enqueue = r->rest && routed && !agent_answers_inline(r->agent),
	};
	/* Its public id, made here: the agent sees it (message.id) and its media links name
	 * it (docs/media.md). */
	if (ids_ordered_hex(job->uid) < 0) {
		return -EIO;
	}
	job->message.uid = job->uid;
	int e = v->outcome == ROUTER_HUMAN && r->operator ? for_operator(job) : 0;
	if (e < 0) {
		return e;
	}
	job->calls_agent = routed && !r->rest && !agent_answers_inline(r->agent);
	if (job->calls_agent && r->writers > 1) { /* none such yet: see router_create */
		job->order = order_lock(r, job->user.id);
	}
	e = store_inbound_add(r->store, v->known ? job->user.id : NULL, &job->message, &id);
	free(job->operator_json);
	job->operator_json = NULL;
	job->message.operator_json = NULL;
	if (e < 0) {
		router__order_unlock(&job->order);
		job->calls_agent = false;
		return e;
	}
	job->message.id = id;
	job->message.created_at = ids_now();
	job->result.outcome = v->outcome;
	if (v->known) {
		memcpy(job->result.user_id, job->user.id, sizeof(job->result.user_id));
	}
	return 0;
}

/* ---- step 6: the answer ---- */

static double seconds_since(const struct timespec *t0) {
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* The agent has answered job's message: counted and logged, by agent; its reply, or the
 * apology when it failed. */
char *router__agent_answered(struct router_job *job, int err, struct agent_answer *a) {
	double took = seconds_since(&job->t0);
	int64_t agent_ms = (int64_t)(took * 1000);
	char *reply = a->reply;

	metrics_agent_call(a->agent, took, err < 0);
	job->agent = a->agent;
	if (err < 0) {
		log_error("agent.failed", LOG_STR("sid", job->in->sid),
				LOG_STR("user", job->result.user_id), LOG_STR("agent", a->agent),
				LOG_STR("error", agent_error_text(err)), LOG_INT("agent_ms", agent_ms));
		reply = strdup(APOLOGY);
		job->result.agent_failed = true;
	}
	free(job->reply_media);
	job->reply_media = err == 0 ? a->media : NULL;
	if (err < 0) {
		free(a->media);
	}
	a->media = NULL;
	job->handoff = err == 0 && a->handoff;
	job->agent_ms = agent_ms;
	return reply;
}

/* The answer of an agent that answers at once, before agent_reply_async returns. */
static void on_inline_answer(void *ctx, int err, struct agent_answer *answer) {
	struct router_job *job = ctx;
	job->result.reply = router__agent_answered(job, err, answer);
}

/* Asks job's user's agent; answered(job, …) runs exactly once. */
static void ask_agent(struct router *r, struct router_job *job, agent_done_cb answered) {
	struct agent_request req = {.user = &job->user, .message = &job->message};

	clock_gettime(CLOCK_MONOTONIC, &job->t0);
	int e = agent_reply_async(r->agent, &req, answered, job);
	if (e < 0) {
		struct agent_answer none = {0};
		answered(job, e, &none); /* the user still gets the apology */
	}
}

/* An agent that answers at once (the memo keeper) does so here, on this thread, inside the
 * message's transaction. Its reply (NULL: none). */
static char *ask_inline(struct router *r, struct router_job *job) {
	ask_agent(r, job, on_inline_answer);
	char *reply = job->result.reply;
	job->result.reply = NULL;
	return reply;
}

/* The reply of a message whose answer does not wait for the commit (NULL: none); what was
 * decided is logged once it is durable (log_outcome). */
static char *answer_now(struct router *r, struct router_job *job, const struct verdict *v) {
	const struct router_inbound *in = job->in;
	char *reply = NULL;
	int e;

	switch (v->outcome) {
	case ROUTER_ROUTED:
		/* An agent that answers at once does so now, in rest mode too (its reply is
		 * queued to be sent: store_reply). In rest mode any other is called by the
		 * outbox once this is committed, else by the router after the commit. */
		return job->message.enqueue || job->calls_agent ? NULL : ask_inline(r, job);
	case ROUTER_UNROUTED:
		if (job->refused) {
			return NULL; /* an address no channel of ours reads: nothing to send it */
		}
		e = store_onboarding_claim(r->store, in->from, ids_now(), r->window_s);
		if (e == 0) {
			reply = strdup(r->onboarding);
			metrics_inc(METRICS_ONBOARDING_SENT);
		} else if (e != -EEXIST) {
			metrics_inc(METRICS_STORE_ERRORS);
		}
		job->onboarded = e == 0;
		return reply;
	case ROUTER_HELP:
		return strdup(r->help);
	case ROUTER_OPTED_OUT:
	case ROUTER_OPTED_IN:
		/* Twilio has answered these itself; anything we add would contradict it or be
		 * blocked (21610). */
	case ROUTER_BLOCKED:
	case ROUTER_OVER_BUDGET:
	case ROUTER_DUPLICATE:
	case ROUTER_PAUSED:
	case ROUTER_HUMAN:
		return NULL;
	case ROUTER_RATE_LIMITED:
		job->limited = v->limited;
		return NULL;
	}
	return NULL;
}

/* ---- step 7: the reply ---- */

int router_prepare_reply(struct router *r, char **reply, int *ret_flags) {
	int flags = 0;
	if (r->smart_encoding) {
		char *gsm = sms_smart_encode(*reply);
		if (!gsm) {
			return -ENOMEM;
		}
		if (strcmp(gsm, *reply) != 0) {
			free(*reply);
			*reply = gsm;
			flags |= STORE_FLAG_SMART_ENCODED;
			metrics_inc(METRICS_REPLIES_SMART_ENCODED);
		} else {
			free(gsm);
		}
	}
	size_t len = strlen(*reply);
	size_t fit = sms_fit_chars(*reply, len, ROUTER_MAX_REPLY_CHARS);
	if (r->max_segments > 0) {
		size_t seg_fit = sms_fit_segments(*reply, fit, r->max_segments);
		fit = seg_fit < fit ? seg_fit : fit;
	}
	if (fit < len) {
		(*reply)[fit] = '\0';
		flags |= STORE_FLAG_TRUNCATED;
		metrics_inc(METRICS_REPLIES_TRUNCATED);
	}
	*ret_flags = flags;
	return 0;
}

/* What the reply costs (look-alikes that would force UCS-2 and double the price, Twilio's
 * 1600-character limit, our segment cap, each cut on a character boundary), then the reply
 * is stored as the answer to job's inbound message; it becomes job's result. Takes over
 * reply (NULL or blank: nothing to say, nothing stored). */
int router__store_reply(struct router *r, struct router_job *job, char *reply) {
	const char *user_id = job->result.user_id[0] ? job->result.user_id : NULL;
	struct sms_count c;
	int flags = 0;
	int e;

	/* The hand-off moves the user in the transaction that stores the agent's reply. */
	if (job->handoff && user_id) {
		job->handoff = false;
		e = store_user_mode_set(r->store, user_id, "human");
		if (e < 0 && e != -ENOENT) {
			free(reply);
			return e;
		}
		log_info("agent.handoff", LOG_STR("sid", job->in->sid), LOG_STR("user", user_id),
				LOG_STR("agent", job->agent));
	}
	char *media = job->reply_media; /* the agent's pictures, sent with the reply */
	job->reply_media = NULL;
	if (router_reply_blank(reply)) {
		free(reply);
		reply = media ? strdup("") : NULL;
		if (!reply) {
			free(media);
			return media ? -ENOMEM : 0;
		}
	}
	e = router_prepare_reply(r, &reply, &flags);
	if (e < 0) {
		free(reply);
		free(media);
		return e;
	}
	sms_count(reply, strlen(reply), &c);
	/* In rest mode an agent's reply (it answered at once) goes through the Messages API,
	 * queued with it, and the webhook answers empty TwiML; any other reply (HELP, the
	 * onboarding text) is the webhook's answer. */
	bool queued = r->rest && job->result.outcome == ROUTER_ROUTED && user_id;
	char from[PHONE_KEY_SIZE];
	struct store_message m = {
		.from = queued ? phone_reply_from(job->in->from, job->in->to, r->whatsapp_from, from)
			       : job->in->to,
		.to = job->in->from,
		.body = reply,
		.status = queued ? "pending" : "queued",
		.encoding = sms_encoding_name(c.encoding),
		.segments = c.segments,
		.media_json = media,
		.reply_to = job->message.id,
		.flags = flags | (queued ? STORE_FLAG_SENT_BY_API : 0),
		.enqueue = queued,
	};
	e = store_outbound_add(r->store, user_id, &m, &job->result.outbound_id);
	if (queued && e == 0) {
		job->message.enqueue = true; /* the outbox is told after the commit */
		free(reply);
		free(media);
		return 0;
	}
	if (e == -ENOENT) {
		/* The user was deleted during the agent's call: erased means nothing of theirs is
		 * stored, and their reply is not sent either. */
		log_info("outbound.user_deleted", LOG_STR("sid", job->in->sid), LOG_STR("user", user_id));
		free(reply);
		free(media);
		return 0;
	}
	if (e < 0) {
		/* The inbound message is stored; the reply still goes out, unrecorded. */
		metrics_inc(METRICS_STORE_ERRORS);
		log_error("outbound.store_failed", LOG_STR("sid", job->in->sid), LOG_INT("error", -e));
	}
	job->result.reply = reply;
	job->result.media = media;
	return 0;
}

/* Steps 1–7 of one message inside the batch's transaction (the agent's answer aside when
 * it comes after the commit). */
int router__decide(struct router *r, struct router_job *job) {
	struct verdict v = {0};

	/* 1. A Twilio retry (or its fallback request) is answered, not routed again. */
	int e = duplicate(r, job);
	if (e != -ENOENT) {
		return e;
	}
	e = classify(r, job, &v);
	if (e < 0) {
		return e;
	}
	/* Opt-out state first: it is idempotent, and holds whatever the message's answer. */
	if (v.word == 'o' || v.word == 'i') {
		e = store_optout_set(r->store, job->optout_key, v.word == 'o');
		if (e < 0) {
			return e;
		}
	}
	e = store_inbound(r, job, &v);
	if (e == -EEXIST) {
		job->looked_up = false; /* stored since: look again */
		return duplicate(r, job);
	}
	if (e < 0) {
		return e;
	}
	return router__store_reply(r, job, answer_now(r, job, &v));
}

/* ---- status callbacks ---- */

int router_status(struct router *r, int64_t outbound_id, const char *sid, const char *status,
		const char *error_code, const char *to) {
	bool changed = false;
	int e = store_status_update(r->store, outbound_id, sid, status, error_code, &changed);
	if (e < 0 && e != -ENOENT) {
		return e;
	}
	/* 21610: the recipient has opted out (STOP); never send to it again until START. It
	 * holds for the number even when the message is not ours (sent by another system on
	 * this account, or deleted with its user). */
	enum phone_channel ch;
	char number[PHONE_SIZE];
	char key[PHONE_KEY_SIZE];
	if (error_code && strcmp(error_code, "21610") == 0 &&
			phone_address_parse(to, &ch, number) == 0) {
		phone_optout_key(ch, number, key); /* that number on that channel only */
		int o = store_optout_set(r->store, key, true);
		if (o < 0) {
			return o;
		}
		log_info("status.opted_out", LOG_PHONE("to", to));
	}
	if (e < 0) {
		return e;
	}
	metrics_inc(METRICS_STATUS_CALLBACKS);
	log_info("status.update", LOG_STR("sid", sid ? sid : ""), LOG_INT("outbound", outbound_id),
			LOG_STR("status", status), LOG_INT("changed", changed));
	return 0;
}
