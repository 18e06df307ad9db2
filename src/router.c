#include "router.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "phone.h"
#include "sms/sms.h"
#include "utf8.h"
#include "wait.h"

#define DEFAULT_ONBOARDING                                                              \
	"This number is not registered with this service yet. Ask the service's "     \
	"administrator to add it."
#define DEFAULT_HELP                                                                    \
	"This is an automated assistant. Reply STOP to unsubscribe, START to "         \
	"resubscribe. Msg&data rates may apply."
#define APOLOGY "Sorry, something went wrong on our side. Please try again in a moment."
/* Locks that keep one user's messages in one order from their ids to the agent's queue
 * (a user's lock is chosen by its id, see order_lock). */
#define ORDER_LOCKS 64

struct router {
	struct store *store;
	struct agent *agent;
	struct ratelimit *rl;
	struct ratelimit *global;  /* NULL: off */
	struct ratelimit *unknown; /* NULL: off */
	bool smart_encoding;
	int max_segments;
	int budget;
	bool rest;
	int sender_limit;
	int sender_window_s;
	void (*on_enqueue)(void *ctx);
	void *on_enqueue_ctx;
	const char *onboarding;
	const char *help;
	int window_s;
	pthread_mutex_t order_mu[ORDER_LOCKS];
};

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
	r->onboarding = o && o->onboarding_text ? o->onboarding_text : DEFAULT_ONBOARDING;
	r->help = o && o->help_text ? o->help_text : DEFAULT_HELP;
	r->window_s = o && o->onboarding_window_s > 0 ? o->onboarding_window_s : 24 * 3600;
	if (o) {
		r->smart_encoding = o->smart_encoding;
		r->max_segments = o->reply_max_segments;
		r->budget = o->daily_segment_budget;
		r->rest = o->rest;
		r->sender_limit = o->sender_limit;
		r->sender_window_s = o->sender_window_s;
		r->on_enqueue = o->on_enqueue;
		r->on_enqueue_ctx = o->on_enqueue_ctx;
		if ((o->global_limit > 0 &&
				    ratelimit_create(o->global_limit, o->global_window_s, &r->global) < 0) ||
				(o->unknown_limit > 0 && ratelimit_create(o->unknown_limit,
								 o->unknown_window_s, &r->unknown) < 0)) {
			router_destroy(r);
			return -ENOMEM;
		}
	}
	*ret_router = r;
	return 0;
}

void router_destroy(struct router *r) {
	if (r) {
		ratelimit_destroy(r->global);
		ratelimit_destroy(r->unknown);
		for (int i = 0; i < ORDER_LOCKS; i++) {
			pthread_mutex_destroy(&r->order_mu[i]);
		}
	}
	free(r);
}

/* The order lock of user_id. An id is random hex (ids.h): its first two digits spread the
 * users over the locks with no hashing. Any other id still gets a lock, only a shared one. */
static pthread_mutex_t *order_lock(struct router *r, const char *user_id) {
	char first[3] = {user_id[0], user_id[0] ? user_id[1] : '\0', '\0'};
	pthread_mutex_t *mu = &r->order_mu[strtoul(first, NULL, 16) % ORDER_LOCKS];
	pthread_mutex_lock(mu);
	return mu;
}

static void order_unlock(pthread_mutex_t *mu) {
	if (mu) {
		pthread_mutex_unlock(mu);
	}
}

/* The length in bytes of the white space character at p[0..len) (utf8_is_space, and the
 * zero-width space and the BOM, which a keyword may also come wrapped in), or 0. */
static size_t space_at(const char *p, size_t len) {
	uint32_t cp;
	int n = utf8_decode((const unsigned char *)p, len, &cp);
	return n > 0 && (utf8_is_space(cp) || cp == 0x200b || cp == 0xfeff) ? (size_t)n : 0;
}

static bool word_in(const char *s, size_t n, const char *const *words) {
	for (; *words; words++) {
		if (strlen(*words) == n && strncasecmp(s, *words, n) == 0) {
			return true;
		}
	}
	return false;
}

char router_keyword(const char *body, const char *opt_out_type) {
	static const char *const out[] = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END",
		"QUIT", "REVOKE", "OPTOUT", NULL};
	static const char *const in[] = {"START", "UNSTOP", "YES", NULL};
	static const char *const help[] = {"HELP", "INFO", NULL};

	/* Twilio's Advanced Opt-Out has matched its own keywords: its verdict decides. */
	if (opt_out_type && *opt_out_type) {
		size_t n = strlen(opt_out_type);
		if (word_in(opt_out_type, n, (const char *const[]){"STOP", NULL})) {
			return 'o';
		}
		if (word_in(opt_out_type, n, (const char *const[]){"START", NULL})) {
			return 'i';
		}
		if (word_in(opt_out_type, n, (const char *const[]){"HELP", NULL})) {
			return 'h';
		}
	}
	if (!body) {
		return 0;
	}
	/* The body trimmed of white space, Unicode's too: "STOP" after a no-break space is
	 * still an opt-out (honouring one that was meant matters more than the odd word). */
	const char *start = NULL;
	const char *end = body;
	size_t len = strlen(body);
	for (size_t i = 0; i < len;) {
		size_t w = space_at(body + i, len - i);
		if (w == 0) {
			start = start ? start : body + i;
			end = body + ++i;
		} else {
			i += w;
		}
	}
	if (!start) {
		return 0;
	}
	body = start;
	size_t n = (size_t)(end - start);
	if (word_in(body, n, out)) {
		return 'o';
	}
	if (word_in(body, n, in)) {
		return 'i';
	}
	if (word_in(body, n, help)) {
		return 'h';
	}
	return 0;
}

static double seconds_since(const struct timespec *t0) {
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Stores reply as the outbound answer to inbound message inbound_id. */
static int store_reply(struct router *r, const char *user_id, const struct router_inbound *in,
		int64_t inbound_id, const char *reply, int flags, int64_t *ret_id) {
	struct sms_count c;
	sms_count(reply, strlen(reply), &c);
	struct store_message m = {
		.from = in->to,
		.to = in->from,
		.body = reply,
		.status = "queued",
		.encoding = sms_encoding_name(c.encoding),
		.segments = c.segments,
		.reply_to = inbound_id,
		.flags = flags,
	};
	return store_outbound_add(r->store, user_id, &m, ret_id);
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

/* A seen MessageSid: the answer given the first time, never a second routing. */
static int duplicate(struct router *r, const char *sid, struct router_result *ret) {
	char *reply = NULL;
	int64_t id = 0;
	int e = store_answer_for(r->store, sid, &reply, &id);
	if (e < 0) {
		return e;
	}
	ret->outcome = ROUTER_DUPLICATE;
	ret->reply = reply;
	ret->outbound_id = id;
	log_info("inbound.duplicate", LOG_STR("sid", sid));
	return 0;
}

bool router_reply_blank(const char *reply) {
	size_t len = reply ? strlen(reply) : 0;
	for (size_t i = 0; i < len;) {
		size_t w = space_at(reply + i, len - i);
		if (w == 0) {
			return false;
		}
		i += w;
	}
	return true;
}

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

/* Step 7: what the reply costs (look-alikes that would force UCS-2 and double the price,
 * Twilio's 1600-character limit, our segment cap, each cut on a character boundary), then
 * the reply is stored. Takes over reply (NULL: nothing to say). */
static int finish_reply(struct router *r, const char *user_id, const char *sid,
		const char *from, const char *to, int64_t inbound_id, char *reply,
		struct router_result *ret) {
	int flags = 0;
	int e;

	if (router_reply_blank(reply)) {
		free(reply);
		return 0;
	}
	e = router_prepare_reply(r, &reply, &flags);
	if (e < 0) {
		free(reply);
		return e;
	}
	struct router_inbound in = {.sid = sid, .from = from, .to = to};
	e = store_reply(r, user_id, &in, inbound_id, reply, flags, &ret->outbound_id);
	if (e < 0) {
		/* The inbound message is committed; the reply still goes out, unrecorded. */
		metrics_inc(METRICS_STORE_ERRORS);
		log_error("outbound.store_failed", LOG_STR("sid", sid), LOG_INT("error", -e));
	}
	ret->reply = reply;
	return 0;
}

/* An agent call in flight. Whichever of router_inbound_start's return and the agent's
 * answer comes second finishes it (state: START → RETURNED or COMPLETED). */
enum { CALL_START, CALL_RETURNED, CALL_COMPLETED };

struct call {
	struct router *r;
	char user_id[STORE_ID_SIZE];
	char *sid;
	char *from;
	char *to;
	int64_t inbound_id;
	struct timespec t0;
	router_done_cb done;
	void *ctx;
	struct router_result result;
	atomic_int state;
};

static void call_free(struct call *c) {
	free(c->sid);
	free(c->from);
	free(c->to);
	free(c);
}

static void on_agent(void *ctx, int err, char *reply) {
	struct call *c = ctx;
	struct router *r = c->r;
	double took = seconds_since(&c->t0);

	metrics_agent_seconds(took);
	if (err < 0) {
		metrics_inc(METRICS_AGENT_FAILURES);
		log_error("agent.failed", LOG_STR("sid", c->sid), LOG_STR("user", c->user_id),
				LOG_STR("error", agent_error_text(err)),
				LOG_INT("agent_ms", (int64_t)(took * 1000)));
		reply = strdup(APOLOGY);
		c->result.agent_failed = true;
	}
	log_info("inbound.routed", LOG_STR("sid", c->sid), LOG_PHONE("from", c->from),
			LOG_STR("user", c->user_id), LOG_INT("agent_ms", (int64_t)(took * 1000)));
	finish_reply(r, c->user_id, c->sid, c->from, c->to, c->inbound_id, reply, &c->result);
	if (atomic_exchange(&c->state, CALL_COMPLETED) == CALL_RETURNED) {
		/* The start has returned ROUTER_PENDING: the answer goes to the callback. */
		c->done(c->ctx, &c->result);
		call_free(c);
	}
}

static int call_agent(struct router *r, const struct store_user *user,
		const struct router_inbound *in, const struct store_message *m,
		struct router_result *ret, router_done_cb done, void *ctx) {
	struct call *c = calloc(1, sizeof(*c));
	if (!c) {
		return -ENOMEM; /* the message is stored; a Twilio retry is answered as seen */
	}
	c->r = r;
	memcpy(c->user_id, user->id, sizeof(c->user_id));
	c->sid = strdup(in->sid);
	c->from = strdup(in->from);
	c->to = strdup(in->to ? in->to : "");
	c->inbound_id = m->id;
	c->done = done;
	c->ctx = ctx;
	c->result = *ret;
	atomic_init(&c->state, CALL_START);
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
	if (!c->sid || !c->from || !c->to) {
		call_free(c);
		return -ENOMEM;
	}
	struct agent_request req = {.user = user, .message = m};
	int e = agent_reply_async(r->agent, &req, on_agent, c);
	if (e < 0) {
		on_agent(c, e, NULL); /* the user still gets the apology */
	}
	if (atomic_exchange(&c->state, CALL_RETURNED) == CALL_COMPLETED) {
		*ret = c->result; /* answered already (the memo agent) */
		call_free(c);
		return 0;
	}
	return ROUTER_PENDING;
}

static int inbound(struct router *r, const struct router_inbound *in,
		struct router_result *ret, router_done_cb done, void *ctx) {
	struct store_user user;
	const char *limited = NULL;
	bool known, opted_out = false;
	const char *status;
	enum router_outcome outcome;
	int64_t inbound_id = 0;
	char *reply = NULL;
	int e;

	memset(ret, 0, sizeof(*ret));

	/* 1. A Twilio retry (or its fallback request) is answered, not routed again. */
	e = duplicate(r, in->sid, ret);
	if (e != -ENOENT) {
		return e;
	}

	/* 2–4. What this is and who sent it. */
	char word = router_keyword(in->body, in->opt_out_type);
	e = store_route_lookup(r->store, in->from, &user, &known, &opted_out);
	if (e < 0) {
		return e;
	}
	if (word == 'o') {
		outcome = ROUTER_OPTED_OUT;
		status = "opt_out";
	} else if (word == 'i') {
		outcome = ROUTER_OPTED_IN;
		status = "opt_in";
	} else if (opted_out) {
		outcome = ROUTER_BLOCKED;
		status = "opted_out";
	} else if ((e = over_limit(r, in->from, known, &limited)) < 0) {
		return e;
	} else if (limited) {
		/* Only opt-out and opt-in words are exempt: a help text costs a send too. */
		outcome = ROUTER_RATE_LIMITED;
		status = "rate_limited";
	} else if (word == 'h') {
		outcome = ROUTER_HELP;
		status = "help";
	} else if (known && r->budget > 0 && (e = budget_spent(r, user.id)) != 0) {
		if (e < 0) {
			return e;
		}
		outcome = ROUTER_OVER_BUDGET;
		status = "over_budget";
	} else if (!known) {
		outcome = ROUTER_UNROUTED;
		status = "unrouted";
	} else {
		outcome = ROUTER_ROUTED;
		status = "received";
	}

	/* Opt-out state first: it is idempotent, and must hold even if what follows fails. */
	if (word == 'o' || word == 'i') {
		e = store_optout_set(r->store, in->from, word == 'o');
		if (e < 0) {
			return e;
		}
	}

	/* 5. Commit the inbound message before anything is answered. */
	struct sms_count c;
	const char *body = in->body ? in->body : "";
	sms_count(body, strlen(body), &c);
	struct store_message m = {
		.sid = in->sid,
		.from = in->from,
		.to = in->to,
		.body = body,
		.status = status,
		.encoding = sms_encoding_name(c.encoding),
		.segments = in->num_segments > 0 ? in->num_segments : c.segments,
		.media_json = in->media_json,
	};
	/* rest replies: the message and its outbox row are committed together. */
	m.enqueue = r->rest && outcome == ROUTER_ROUTED;
	/* An agent called from many threads (twiml mode, an Agent Core): one user's messages
	 * must reach its queue in the order of their ids, which are given here. The writer
	 * and the outbox keep that order themselves. */
	pthread_mutex_t *order = outcome == ROUTER_ROUTED && !router_batchable(r)
			? order_lock(r, user.id) : NULL;
	e = store_inbound_add(r->store, known ? user.id : NULL, &m, &inbound_id);
	if (e == -EEXIST) {
		/* The same MessageSid raced us in on another connection. */
		order_unlock(order);
		return duplicate(r, in->sid, ret);
	}
	if (e < 0) {
		order_unlock(order);
		return e;
	}
	m.id = inbound_id;
	m.created_at = ids_now();
	ret->outcome = outcome;
	if (known) {
		memcpy(ret->user_id, user.id, sizeof(ret->user_id));
	}

	/* 6. Decide the reply. */
	switch (outcome) {
	case ROUTER_ROUTED:
		if (r->rest) {
			/* The outbox is told once this is committed (committed()). */
			log_info("inbound.queued", LOG_STR("sid", in->sid), LOG_PHONE("from", in->from),
					LOG_STR("user", user.id));
			return 0;
		}
		e = call_agent(r, &user, in, &m, ret, done, ctx);
		order_unlock(order);
		return e;
	case ROUTER_UNROUTED:
		e = store_onboarding_claim(r->store, in->from, ids_now(), r->window_s);
		if (e == 0) {
			reply = strdup(r->onboarding);
			metrics_inc(METRICS_ONBOARDING_SENT);
		} else if (e != -EEXIST) {
			metrics_inc(METRICS_STORE_ERRORS);
		}
		log_info("inbound.unrouted", LOG_STR("sid", in->sid), LOG_PHONE("from", in->from),
				LOG_INT("onboarding", e == 0));
		break;
	case ROUTER_HELP:
		reply = strdup(r->help);
		log_info("inbound.help", LOG_STR("sid", in->sid), LOG_PHONE("from", in->from));
		break;
	case ROUTER_OPTED_OUT:
	case ROUTER_OPTED_IN:
		/* Twilio has answered these itself; anything we add would contradict it or be
		 * blocked (21610). */
		log_info(outcome == ROUTER_OPTED_OUT ? "inbound.opt_out" : "inbound.opt_in",
				LOG_STR("sid", in->sid), LOG_PHONE("from", in->from));
		break;
	case ROUTER_BLOCKED:
		log_info("inbound.blocked", LOG_STR("sid", in->sid), LOG_PHONE("from", in->from));
		break;
	case ROUTER_RATE_LIMITED:
		log_warn("inbound.rate_limited", LOG_STR("sid", in->sid),
				LOG_PHONE("from", in->from), LOG_STR("limit", limited));
		break;
	case ROUTER_OVER_BUDGET:
		log_warn("inbound.over_budget", LOG_STR("sid", in->sid), LOG_STR("user", user.id));
		break;
	case ROUTER_DUPLICATE:
		break;
	}

	return finish_reply(r, known ? user.id : NULL, in->sid, in->from, in->to, inbound_id,
			reply, ret);
}

bool router_batchable(const struct router *r) {
	return r->rest || agent_answers_inline(r->agent);
}

/* One message's writes in one transaction (a savepoint inside an open one): one commit,
 * one fsync, and nothing of it stays if any write fails. */
static int inbound_tx(struct router *r, const struct router_inbound *in,
		struct router_result *ret) {
	if (store_tx_begin(r->store) < 0) {
		return -EIO;
	}
	int e = inbound(r, in, ret, NULL, NULL);
	if (e < 0) {
		store_tx_rollback(r->store);
		return e;
	}
	if (store_tx_commit(r->store) < 0) {
		/* Not committed, or (PostgreSQL's connection lost during COMMIT) not known to
		 * be: answer 503 as if nothing had been accepted. Twilio's retry then either
		 * routes it or finds it stored and gets the stored reply. */
		free(ret->reply);
		ret->reply = NULL;
		return -EIO;
	}
	return e;
}

/* Counted once committed: a message refused with 503 and retried counts once. */
static void count(const struct router_result *ret) {
	static const enum metrics_message counted[] = {
		[ROUTER_ROUTED] = METRICS_MSG_ROUTED,
		[ROUTER_UNROUTED] = METRICS_MSG_UNROUTED,
		[ROUTER_RATE_LIMITED] = METRICS_MSG_RATE_LIMITED,
		[ROUTER_OPTED_OUT] = METRICS_MSG_OPTED_OUT,
		[ROUTER_OPTED_IN] = METRICS_MSG_OPTED_IN,
		[ROUTER_HELP] = METRICS_MSG_HELP,
		[ROUTER_BLOCKED] = METRICS_MSG_BLOCKED,
		[ROUTER_DUPLICATE] = METRICS_MSG_DUPLICATE,
		[ROUTER_OVER_BUDGET] = METRICS_MSG_OVER_BUDGET,
	};
	metrics_message(counted[ret->outcome]);
}

/* After the commit: counts, and tells whether it queued a message for the outbox. */
static bool committed(const struct router *r, const struct router_result *ret) {
	count(ret);
	return r->rest && ret->outcome == ROUTER_ROUTED;
}

/* Wakes the outbox, whose claim would not have seen the rows before their commit. */
static void enqueued(const struct router *r) {
	if (r->on_enqueue) {
		r->on_enqueue(r->on_enqueue_ctx);
	}
}

int router_inbound_start(struct router *r, const struct router_inbound *in,
		struct router_result *ret, router_done_cb done, void *ctx) {
	/* With an agent that answers at once (or none to call, in rest mode), all of one
	 * message's writes share one transaction. Otherwise the inbound row commits on its
	 * own and the agent's reply is stored when it comes. */
	int e = router_batchable(r) ? inbound_tx(r, in, ret) : inbound(r, in, ret, done, ctx);
	if (e >= 0 && committed(r, ret)) {
		enqueued(r);
	}
	return e;
}

int router_inbound_batch(struct router *r, struct router_batch_item *items, size_t n) {
	if (store_tx_begin(r->store) < 0) {
		for (size_t i = 0; i < n; i++) {
			memset(&items[i].result, 0, sizeof(items[i].result));
			items[i].err = -EIO;
		}
		return -EIO;
	}
	/* Each message in its own savepoint: one that fails leaves the others whole. */
	for (size_t i = 0; i < n; i++) {
		items[i].err = inbound_tx(r, items[i].in, &items[i].result);
	}
	if (store_tx_commit(r->store) < 0) {
		for (size_t i = 0; i < n; i++) {
			free(items[i].result.reply);
			items[i].result.reply = NULL;
			items[i].err = -EIO;
		}
		return -EIO;
	}
	bool queued = false;
	for (size_t i = 0; i < n; i++) {
		if (items[i].err >= 0 && committed(r, &items[i].result)) {
			queued = true;
		}
	}
	if (queued) {
		enqueued(r);
	}
	return 0;
}

/* The sync form: waits for the agent on this thread. */
struct waiter {
	struct wait_once w;
	struct router_result result;
};

static void wake(void *ctx, struct router_result *result) {
	struct waiter *w = ctx;
	w->result = *result;
	wait_once_signal(&w->w);
}

int router_inbound(struct router *r, const struct router_inbound *in,
		struct router_result *ret) {
	struct waiter w = {.w = WAIT_ONCE_INIT};
	int e = router_inbound_start(r, in, ret, wake, &w);
	if (e != ROUTER_PENDING) {
		return e;
	}
	wait_once_wait(&w.w);
	*ret = w.result;
	return 0;
}

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
	if (error_code && strcmp(error_code, "21610") == 0 && phone_is_valid(to)) {
		int o = store_optout_set(r->store, to, true);
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
