/* Tests of the router over a real SQLite store (temp dir), the memo agent and a rate
 * limiter: routing, dedupe by MessageSid, onboarding of unknown senders, opt-out / opt-in
 * / help words and Twilio's OptOutType, the sender rate limit, the 1600-character reply
 * cut, and status callbacks with error 21610. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "log.h"
#include "ratelimit.h"
#include "router.h"
#include "sms/sms.h"
#include "store/store.h"
#include "tmpstore.h"
#include "wait.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define ADA_PHONE TMPSTORE_ADA_PHONE
#define BOB_PHONE TMPSTORE_BOB_PHONE
#define STRANGER "+15550100999"
#define OUR_NUMBER "+15550199999"
#define ONBOARDING "You are not registered here yet."
#define HELP "Automated memo service. Reply STOP to unsubscribe."

struct fixture {
	char dir[64];
	struct store *s;
	struct agent *a;
	struct ratelimit *rl;
	struct router *r;
	struct store_user ada;
	struct store_user bob;
	int next_sid;
};

static int setup(void **state) {
	struct fixture *f = calloc(1, sizeof(*f));
	const struct router_options o = {.onboarding_text = ONBOARDING, .help_text = HELP};

	if (!f) {
		return -1;
	}
	if (tmpstore_open("router", f->dir, NULL, &f->s) != 0 ||
	    agent_memo_create(f->s, &f->a) != 0 ||
	    ratelimit_create(0, 60, &f->rl) != 0 ||
	    router_create(f->s, f->a, f->rl, &o, &f->r) != 0 ||
	    tmpstore_add_ada_and_bob(f->s, &f->ada, &f->bob) != 0) {
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state) {
	struct fixture *f = *state;
	router_destroy(f->r);
	ratelimit_destroy(f->rl);
	agent_destroy(f->a);
	store_close(f->s);
	tmpstore_remove(f->dir);
	free(f);
	return 0;
}

/* One message on its way through router_submit, and what its done was given. */
struct waited {
	struct router_job job;
	struct wait_once w;
	atomic_int calls;
	int err;
	struct router_result result;
};

static void on_done(void *ctx, int err, struct router_result *result) {
	struct waited *d = ctx;
	d->err = err;
	d->result = *result;
	atomic_fetch_add(&d->calls, 1);
	wait_once_signal(&d->w);
}

static void submit(struct router *r, struct waited *d, const struct router_inbound *in) {
	*d = (struct waited){.w = WAIT_ONCE_INIT};
	router_submit(r, &d->job, in, on_done, d);
}

/* Waits for d's done: the error it got, with *ret its result. */
static int wait_done(struct waited *d, struct router_result *ret) {
	wait_once_wait(&d->w);
	*ret = d->result;
	return d->err;
}

/* One message through r, waiting for its answer as the webhook does. */
static int route_sync(struct router *r, const struct router_inbound *in,
                      struct router_result *ret) {
	struct waited d;
	submit(r, &d, in);
	return wait_done(&d, ret);
}

/* Several messages submitted at once (the writer takes in as many to a batch as are
 * queued, as with Twilio's concurrent webhooks), then each one's answer: d[i]. */
static void route_together(struct router *r, const struct router_inbound *in, size_t n,
                           struct waited *d) {
	for (size_t i = 0; i < n; i++) {
		submit(r, &d[i], &in[i]);
	}
	for (size_t i = 0; i < n; i++) {
		struct router_result ignored;
		wait_done(&d[i], &ignored);
		assert_int_equal(atomic_load(&d[i].calls), 1);
	}
}

/* Routes one message through r with the given sid (NULL: a fresh one); asserts success. */
static struct router_result route_on(struct fixture *f, struct router *r, const char *sid,
                                     const char *from, const char *body, const char *opt_out_type) {
	char fresh[STORE_SID_SIZE];
	if (!sid) {
		snprintf(fresh, sizeof(fresh), "SM%032d", ++f->next_sid);
		sid = fresh;
	}
	struct router_inbound in = {
	                .sid = sid,
	                .from = from,
	                .to = OUR_NUMBER,
	                .body = body,
	                .opt_out_type = opt_out_type,
	};
	struct router_result res;
	memset(&res, 0x5a, sizeof(res));
	int e = route_sync(r, &in, &res);
	if (e != 0) {
		fail_msg("router_submit(\"%s\") gave %d", body ? body : "(null)", e);
	}
	return res;
}

static struct router_result route(struct fixture *f, const char *sid, const char *from,
                                  const char *body) {
	return route_on(f, f->r, sid, from, body, NULL);
}

static const char *outcome_name(enum router_outcome o) {
	switch (o) {
	case ROUTER_ROUTED:
		return "ROUTED";
	case ROUTER_UNROUTED:
		return "UNROUTED";
	case ROUTER_RATE_LIMITED:
		return "RATE_LIMITED";
	case ROUTER_OPTED_OUT:
		return "OPTED_OUT";
	case ROUTER_OPTED_IN:
		return "OPTED_IN";
	case ROUTER_HELP:
		return "HELP";
	case ROUTER_BLOCKED:
		return "BLOCKED";
	case ROUTER_DUPLICATE:
		return "DUPLICATE";
	default:
		return "other";
	}
}

static void assert_outcome(const struct router_result *res, enum router_outcome expected,
                           const char *what) {
	if (res->outcome != expected) {
		fail_msg("%s: outcome %s, expected %s", what, outcome_name(res->outcome),
		         outcome_name(expected));
	}
}

/* Asserts the reply (NULL: none, and no stored outbound) and frees it. */
static void assert_reply(struct router_result *res, const char *expected, const char *what) {
	if (expected == NULL) {
		if (res->reply != NULL) {
			fail_msg("%s: expected no reply, got \"%s\"", what, res->reply);
		}
		assert_int_equal(res->outbound_id, 0);
		return;
	}
	if (res->reply == NULL || strcmp(res->reply, expected) != 0) {
		fail_msg("%s: expected reply \"%s\", got \"%s\"", what, expected,
		         res->reply ? res->reply : "(null)");
	}
	free(res->reply);
	res->reply = NULL;
}

static bool opted_out(struct fixture *f, const char *phone) {
	bool out = false;
	assert_int_equal(store_optout_get(f->s, phone, &out), 0);
	return out;
}

static int count_note(void *ctx, int index, const char *text) {
	(void)index;
	(void)text;
	(*(int *)ctx)++;
	return 0;
}

static int notes_of(struct fixture *f, const struct store_user *u) {
	int n = 0;
	assert_int_equal(store_notes_list(f->s, u->id, count_note, &n), 0);
	return n;
}

struct newest {
	int n;
	int64_t id[8];
	enum store_direction direction[8];
	char status[8][32];
	char body[8][64];
	int64_t reply_to[8];
};

static int collect_newest(void *ctx, const struct store_message *m) {
	struct newest *c = ctx;
	if (c->n < 8) {
		c->id[c->n] = m->id;
		c->direction[c->n] = m->direction;
		snprintf(c->status[c->n], sizeof(c->status[0]), "%s", m->status);
		snprintf(c->body[c->n], sizeof(c->body[0]), "%s", m->body);
		c->reply_to[c->n] = m->reply_to;
	}
	c->n++;
	return 0;
}

/* user's newest messages (up to 8), newest first. */
static struct newest newest_of(struct fixture *f, const struct store_user *u) {
	struct newest c;
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_messages_list(f->s, u->id, 8, collect_newest, &c), 0);
	return c;
}

struct usage_one {
	const char *user_id;
	bool found;
	struct store_usage_row row;
};

static int usage_one_row(void *ctx, const struct store_usage_row *r) {
	struct usage_one *u = ctx;
	if (r->user_id && strcmp(r->user_id, u->user_id) == 0) {
		u->found = true;
		u->row = *r;
		u->row.user_id = NULL;
	}
	return 0;
}

static struct store_usage_row usage_of(struct fixture *f, const struct store_user *user) {
	struct usage_one u = {.user_id = user->id};
	assert_int_equal(store_usage(f->s, 0, usage_one_row, &u), 0);
	assert_true(u.found);
	return u.row;
}

/* ---- routing ---- */

static void test_known_sender_gets_the_agents_reply_and_both_are_stored(void **state) {
	struct fixture *f = *state;

	struct router_result res = route(f, "SMroute1", ADA_PHONE, "remember milk");
	assert_outcome(&res, ROUTER_ROUTED, "remember milk");
	assert_string_equal(res.user_id, f->ada.id);
	assert_false(res.agent_failed);
	assert_true(res.outbound_id > 0);
	int64_t out_id = res.outbound_id;
	assert_reply(&res, "Noted.", "remember milk");
	assert_int_equal(notes_of(f, &f->ada), 1);

	struct newest m = newest_of(f, &f->ada);
	assert_int_equal(m.n, 2);
	assert_int_equal(m.direction[0], STORE_OUTBOUND);
	assert_int_equal(m.id[0], out_id);
	assert_string_equal(m.body[0], "Noted.");
	assert_string_equal(m.status[0], "queued");
	assert_int_equal(m.reply_to[0], m.id[1]);
	assert_int_equal(m.direction[1], STORE_INBOUND);
	assert_string_equal(m.body[1], "remember milk");
	assert_string_equal(m.status[1], "received");

	res = route(f, NULL, ADA_PHONE, "recall");
	assert_outcome(&res, ROUTER_ROUTED, "recall");
	assert_reply(&res, "Your notes:\n1. milk", "recall");
}

static void test_each_user_reaches_only_its_own_notes(void **state) {
	struct fixture *f = *state;

	struct router_result res = route(f, NULL, ADA_PHONE, "remember ada only");
	assert_reply(&res, "Noted.", "ada remember");
	res = route(f, NULL, BOB_PHONE, "recall");
	assert_outcome(&res, ROUTER_ROUTED, "bob recall");
	assert_string_equal(res.user_id, f->bob.id);
	assert_reply(&res, "You have no notes.", "bob recall");
	res = route(f, NULL, BOB_PHONE, "hi");
	assert_reply(&res, "Hi Bob. Text \"remember <note>\", \"recall\" or \"forget\".", "bob hi");
}

static void test_duplicate_sid_returns_the_stored_answer_without_rerunning_the_agent(void **state) {
	struct fixture *f = *state;

	struct router_result first = route(f, "SMdup1", ADA_PHONE, "remember once");
	assert_outcome(&first, ROUTER_ROUTED, "first");
	int64_t out_id = first.outbound_id;
	assert_reply(&first, "Noted.", "first");

	struct router_result again = route(f, "SMdup1", ADA_PHONE, "remember once");
	assert_outcome(&again, ROUTER_DUPLICATE, "retry");
	assert_int_equal(again.outbound_id, out_id);
	assert_reply(&again, "Noted.", "retry");

	assert_int_equal(notes_of(f, &f->ada), 1);
	struct newest m = newest_of(f, &f->ada);
	assert_int_equal(m.n, 2); /* nothing stored by the retry */
}

static void test_duplicate_of_a_message_without_reply_has_no_reply(void **state) {
	struct fixture *f = *state;

	struct router_result res = route(f, "SMdupstop", ADA_PHONE, "STOP");
	assert_outcome(&res, ROUTER_OPTED_OUT, "stop");
	assert_reply(&res, NULL, "stop");
	res = route(f, "SMdupstop", ADA_PHONE, "STOP");
	assert_outcome(&res, ROUTER_DUPLICATE, "stop retry");
	assert_reply(&res, NULL, "stop retry");
}

/* ---- unknown senders ---- */

struct usage_null {
	int64_t inbound;
	int64_t outbound;
};

static int usage_null_row(void *ctx, const struct store_usage_row *r) {
	struct usage_null *u = ctx;
	if (r->user_id == NULL) {
		u->inbound = r->inbound;
		u->outbound = r->outbound;
	}
	return 0;
}

static void test_unknown_sender_gets_onboarding_once_then_nothing(void **state) {
	struct fixture *f = *state;
	struct usage_null u = {0, 0};

	struct router_result res = route(f, "SMunk1", STRANGER, "hello?");
	assert_outcome(&res, ROUTER_UNROUTED, "first");
	assert_string_equal(res.user_id, "");
	assert_true(res.outbound_id > 0);
	assert_reply(&res, ONBOARDING, "first");

	res = route(f, "SMunk2", STRANGER, "hello again?");
	assert_outcome(&res, ROUTER_UNROUTED, "second");
	assert_reply(&res, NULL, "second");

	res = route(f, "SMunk3", STRANGER, "remember x");
	assert_outcome(&res, ROUTER_UNROUTED, "third");
	assert_reply(&res, NULL, "third");

	/* Another unknown number has its own window. */
	res = route(f, "SMunk4", "+15550100998", "hi");
	assert_outcome(&res, ROUTER_UNROUTED, "other stranger");
	assert_reply(&res, ONBOARDING, "other stranger");

	/* Every one of them was stored, unrouted. */
	assert_int_equal(store_usage(f->s, 0, usage_null_row, &u), 0);
	assert_int_equal(u.inbound, 4);
	assert_int_equal(u.outbound, 2);
	char *reply = NULL;
	int64_t id = -1;
	assert_int_equal(store_answer_for(f->s, "SMunk2", &reply, &id), 0);
	assert_null(reply);
}

static void test_default_onboarding_and_help_texts_are_not_empty(void **state) {
	struct fixture *f = *state;
	struct router *r = NULL;

	assert_int_equal(router_create(f->s, f->a, f->rl, NULL, &r), 0);
	struct router_result res = route_on(f, r, NULL, STRANGER, "hi", NULL);
	assert_outcome(&res, ROUTER_UNROUTED, "default onboarding");
	assert_non_null(res.reply);
	assert_true(strlen(res.reply) > 10);
	free(res.reply);

	res = route_on(f, r, NULL, ADA_PHONE, "HELP", NULL);
	assert_outcome(&res, ROUTER_HELP, "default help");
	assert_non_null(res.reply);
	assert_non_null(strstr(res.reply, "STOP"));
	free(res.reply);
	router_destroy(r);
}

/* ---- opt-out, opt-in, help ---- */

static void test_opt_out_words_opt_out_without_reply_and_start_opts_in(void **state) {
	struct fixture *f = *state;
	static const char *const words[] = {
	                "STOP",        "stop",   " Stop ", "REVOKE", "OPTOUT",     "stopall",
	                "Unsubscribe", "cancel", "END",    "quit",   "\tSTOP\r\n",
	};

	for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
		struct router_result res = route(f, NULL, ADA_PHONE, words[i]);
		assert_outcome(&res, ROUTER_OPTED_OUT, words[i]);
		assert_reply(&res, NULL, words[i]);
		if (!opted_out(f, ADA_PHONE)) {
			fail_msg("\"%s\" did not opt out", words[i]);
		}
		res = route(f, NULL, ADA_PHONE, "START");
		assert_outcome(&res, ROUTER_OPTED_IN, "START");
		assert_reply(&res, NULL, "START");
		assert_false(opted_out(f, ADA_PHONE));
	}
}

static void test_opted_out_number_is_blocked_without_agent_call(void **state) {
	struct fixture *f = *state;
	struct store_user u;

	struct router_result res = route(f, NULL, ADA_PHONE, "STOP");
	assert_outcome(&res, ROUTER_OPTED_OUT, "STOP");
	assert_reply(&res, NULL, "STOP");
	assert_int_equal(store_user_get(f->s, f->ada.id, &u), 0);
	assert_true(u.opted_out);

	res = route(f, NULL, ADA_PHONE, "remember secret");
	assert_outcome(&res, ROUTER_BLOCKED, "after STOP");
	assert_reply(&res, NULL, "after STOP");
	assert_int_equal(notes_of(f, &f->ada), 0); /* the agent never saw it */
	struct newest m = newest_of(f, &f->ada);
	assert_int_equal(m.direction[0], STORE_INBOUND);
	assert_string_equal(m.body[0], "remember secret");
	assert_string_equal(m.status[0], "opted_out");

	/* Bob is not affected. */
	res = route(f, NULL, BOB_PHONE, "remember bob");
	assert_outcome(&res, ROUTER_ROUTED, "bob");
	assert_reply(&res, "Noted.", "bob");

	res = route(f, NULL, ADA_PHONE, "start");
	assert_outcome(&res, ROUTER_OPTED_IN, "start");
	assert_reply(&res, NULL, "start");
	res = route(f, NULL, ADA_PHONE, "remember back");
	assert_outcome(&res, ROUTER_ROUTED, "after START");
	assert_reply(&res, "Noted.", "after START");
	assert_int_equal(notes_of(f, &f->ada), 1);
}

static void test_unstop_and_yes_opt_back_in(void **state) {
	struct fixture *f = *state;
	static const char *const words[] = {"UNSTOP", "yes", " Start "};

	for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
		struct router_result res = route(f, NULL, ADA_PHONE, "stop");
		assert_reply(&res, NULL, "stop");
		assert_true(opted_out(f, ADA_PHONE));
		res = route(f, NULL, ADA_PHONE, words[i]);
		assert_outcome(&res, ROUTER_OPTED_IN, words[i]);
		assert_reply(&res, NULL, words[i]);
		if (opted_out(f, ADA_PHONE)) {
			fail_msg("\"%s\" did not opt back in", words[i]);
		}
	}
}

static void test_opt_out_from_an_unknown_number_is_honoured(void **state) {
	struct fixture *f = *state;

	struct router_result res = route(f, NULL, STRANGER, "STOP");
	assert_outcome(&res, ROUTER_OPTED_OUT, "stranger STOP");
	assert_reply(&res, NULL, "stranger STOP");
	assert_true(opted_out(f, STRANGER));
	/* No onboarding text to a number that said STOP. */
	res = route(f, NULL, STRANGER, "hello");
	assert_outcome(&res, ROUTER_BLOCKED, "stranger after STOP");
	assert_reply(&res, NULL, "stranger after STOP");
}

static void test_opt_out_type_decides_over_the_body(void **state) {
	struct fixture *f = *state;

	struct router_result res = route_on(f, f->r, NULL, ADA_PHONE, "remember x", "STOP");
	assert_outcome(&res, ROUTER_OPTED_OUT, "OptOutType STOP");
	assert_reply(&res, NULL, "OptOutType STOP");
	assert_true(opted_out(f, ADA_PHONE));
	assert_int_equal(notes_of(f, &f->ada), 0);

	res = route_on(f, f->r, NULL, ADA_PHONE, "STOP", "START");
	assert_outcome(&res, ROUTER_OPTED_IN, "OptOutType START");
	assert_reply(&res, NULL, "OptOutType START");
	assert_false(opted_out(f, ADA_PHONE));

	res = route_on(f, f->r, NULL, ADA_PHONE, "remember y", "HELP");
	assert_outcome(&res, ROUTER_HELP, "OptOutType HELP");
	assert_reply(&res, HELP, "OptOutType HELP");
	assert_int_equal(notes_of(f, &f->ada), 0);
}

static void test_help_and_info_answer_the_help_text_without_agent(void **state) {
	struct fixture *f = *state;
	static const char *const words[] = {"HELP", "help", " Info ", "INFO"};

	for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
		struct router_result res = route(f, NULL, ADA_PHONE, words[i]);
		assert_outcome(&res, ROUTER_HELP, words[i]);
		assert_true(res.outbound_id > 0);
		assert_reply(&res, HELP, words[i]);
	}
	struct router_result res = route(f, NULL, STRANGER, "help");
	assert_outcome(&res, ROUTER_HELP, "stranger help");
	assert_reply(&res, HELP, "stranger help");
	/* A help word inside a sentence is just a message. */
	res = route(f, NULL, ADA_PHONE, "help me");
	assert_outcome(&res, ROUTER_ROUTED, "help me");
	assert_reply(&res, "Hi Ada. Text \"remember <note>\", \"recall\" or \"forget\".",
	             "help me");
	assert_false(opted_out(f, ADA_PHONE));
}

static void test_stop_inside_a_sentence_is_not_an_opt_out(void **state) {
	struct fixture *f = *state;

	struct router_result res = route(f, NULL, ADA_PHONE, "remember stop at the bakery");
	assert_outcome(&res, ROUTER_ROUTED, "sentence");
	assert_reply(&res, "Noted.", "sentence");
	assert_false(opted_out(f, ADA_PHONE));
}

/* ---- rate limit ---- */

static void test_sender_over_the_rate_limit_is_stored_not_routed(void **state) {
	struct fixture *f = *state;
	struct ratelimit *rl = NULL;
	struct router *r = NULL;

	assert_int_equal(ratelimit_create(2, 60, &rl), 0);
	assert_int_equal(router_create(f->s, f->a, rl, NULL, &r), 0);

	struct router_result res = route_on(f, r, NULL, ADA_PHONE, "remember 1", NULL);
	assert_outcome(&res, ROUTER_ROUTED, "1st");
	assert_reply(&res, "Noted.", "1st");
	res = route_on(f, r, NULL, ADA_PHONE, "remember 2", NULL);
	assert_outcome(&res, ROUTER_ROUTED, "2nd");
	assert_reply(&res, "Noted.", "2nd");
	res = route_on(f, r, NULL, ADA_PHONE, "remember 3", NULL);
	assert_outcome(&res, ROUTER_RATE_LIMITED, "3rd");
	assert_string_equal(res.user_id, f->ada.id);
	assert_reply(&res, NULL, "3rd");

	assert_int_equal(notes_of(f, &f->ada), 2);
	struct newest m = newest_of(f, &f->ada);
	assert_int_equal(m.direction[0], STORE_INBOUND);
	assert_string_equal(m.body[0], "remember 3");
	assert_string_equal(m.status[0], "rate_limited");

	/* Another sender has its own bucket. */
	res = route_on(f, r, NULL, BOB_PHONE, "remember b", NULL);
	assert_outcome(&res, ROUTER_ROUTED, "bob");
	assert_reply(&res, "Noted.", "bob");

	router_destroy(r);
	ratelimit_destroy(rl);
}

static void test_stop_and_start_are_honoured_over_the_rate_limit(void **state) {
	struct fixture *f = *state;
	struct ratelimit *rl = NULL;
	struct router *r = NULL;

	assert_int_equal(ratelimit_create(2, 60, &rl), 0);
	assert_int_equal(router_create(f->s, f->a, rl, NULL, &r), 0);

	for (int i = 0; i < 2; i++) {
		struct router_result res = route_on(f, r, NULL, ADA_PHONE, "hi", NULL);
		assert_outcome(&res, ROUTER_ROUTED, "within limit");
		free(res.reply);
	}
	struct router_result res = route_on(f, r, NULL, ADA_PHONE, "hi", NULL);
	assert_outcome(&res, ROUTER_RATE_LIMITED, "over limit");
	assert_reply(&res, NULL, "over limit");

	res = route_on(f, r, NULL, ADA_PHONE, "STOP", NULL);
	assert_outcome(&res, ROUTER_OPTED_OUT, "STOP over limit");
	assert_reply(&res, NULL, "STOP over limit");
	assert_true(opted_out(f, ADA_PHONE));

	res = route_on(f, r, NULL, ADA_PHONE, "START", NULL);
	assert_outcome(&res, ROUTER_OPTED_IN, "START over limit");
	assert_reply(&res, NULL, "START over limit");
	assert_false(opted_out(f, ADA_PHONE));

	router_destroy(r);
	ratelimit_destroy(rl);
}

static void test_help_counts_against_and_obeys_the_rate_limit(void **state) {
	struct fixture *f = *state;
	struct ratelimit *rl = NULL;
	struct router *r = NULL;
	const struct router_options o = {.onboarding_text = ONBOARDING, .help_text = HELP};

	assert_int_equal(ratelimit_create(2, 60, &rl), 0);
	assert_int_equal(router_create(f->s, f->a, rl, &o, &r), 0);

	/* Two help words use up the limit... */
	struct router_result res = route_on(f, r, NULL, ADA_PHONE, "HELP", NULL);
	assert_outcome(&res, ROUTER_HELP, "1st HELP");
	assert_reply(&res, HELP, "1st HELP");
	res = route_on(f, r, NULL, ADA_PHONE, "info", NULL);
	assert_outcome(&res, ROUTER_HELP, "2nd INFO");
	assert_reply(&res, HELP, "2nd INFO");
	/* ...so an ordinary message is over it, */
	res = route_on(f, r, NULL, ADA_PHONE, "remember x", NULL);
	assert_outcome(&res, ROUTER_RATE_LIMITED, "message after two helps");
	assert_reply(&res, NULL, "message after two helps");
	/* and so are help words and Twilio's OptOutType=HELP: no help text. */
	res = route_on(f, r, NULL, ADA_PHONE, "HELP", NULL);
	assert_outcome(&res, ROUTER_RATE_LIMITED, "HELP over limit");
	assert_reply(&res, NULL, "HELP over limit");
	struct newest m = newest_of(f, &f->ada);
	assert_int_equal(m.direction[0], STORE_INBOUND);
	assert_string_equal(m.body[0], "HELP");
	assert_string_equal(m.status[0], "rate_limited");
	res = route_on(f, r, NULL, ADA_PHONE, "anything", "HELP");
	assert_outcome(&res, ROUTER_RATE_LIMITED, "OptOutType HELP over limit");
	assert_reply(&res, NULL, "OptOutType HELP over limit");
	res = route_on(f, r, NULL, STRANGER, "HELP", NULL);
	assert_outcome(&res, ROUTER_HELP, "another sender's HELP");
	assert_reply(&res, HELP, "another sender's HELP");

	router_destroy(r);
	ratelimit_destroy(rl);
}

/* ---- reply length ---- */

/* Number of code points of valid UTF-8 s, or -1 if s is not valid UTF-8. */
static long utf8_code_points(const char *s) {
	const unsigned char *p = (const unsigned char *)s;
	long n = 0;
	while (*p) {
		int extra;
		if (*p < 0x80) {
			extra = 0;
		} else if ((*p & 0xe0) == 0xc0) {
			extra = 1;
		} else if ((*p & 0xf0) == 0xe0) {
			extra = 2;
		} else if ((*p & 0xf8) == 0xf0) {
			extra = 3;
		} else {
			return -1;
		}
		p++;
		for (int i = 0; i < extra; i++, p++) {
			if ((*p & 0xc0) != 0x80) {
				return -1;
			}
		}
		n++;
	}
	return n;
}

static void test_reply_over_1600_characters_is_cut_on_a_character_boundary(void **state) {
	struct fixture *f = *state;
	const char *euro = "\xe2\x82\xac"; /* 3 bytes, one code point */
	char body[1024];
	char *full = calloc(1, 16384);
	size_t full_len = 0;

	assert_non_null(full);
	full_len += (size_t)sprintf(full + full_len, "Your notes:");
	for (int i = 1; i <= 10; i++) {
		size_t n = (size_t)sprintf(body, "remember ");
		/* 199 euro signs and a marker: each note is 201 code points. */
		for (int k = 0; k < 199; k++) {
			n += (size_t)sprintf(body + n, "%s", euro);
		}
		sprintf(body + n, "#%d", i % 10);
		struct router_result res = route(f, NULL, ADA_PHONE, body);
		assert_reply(&res, "Noted.", "long note");
		full_len += (size_t)sprintf(full + full_len, "\n%d. %s", i, body + 9);
	}
	assert_true(utf8_code_points(full) > 2000);

	struct router_result res = route(f, "SMlongrecall", ADA_PHONE, "recall");
	assert_outcome(&res, ROUTER_ROUTED, "recall");
	assert_non_null(res.reply);
	assert_int_equal(utf8_code_points(res.reply), ROUTER_MAX_REPLY_CHARS);
	/* A prefix of the full answer. */
	size_t len = strlen(res.reply);
	assert_true(len < full_len);
	assert_memory_equal(res.reply, full, len);
	/* The cut falls inside the euro run, not inside a euro sign. */
	assert_true(len >= 3);
	assert_memory_equal(res.reply + len - 3, euro, 3);

	/* What was stored is what was sent. */
	char *stored = NULL;
	int64_t id = 0;
	assert_int_equal(store_answer_for(f->s, "SMlongrecall", &stored, &id), 0);
	assert_non_null(stored);
	assert_string_equal(stored, res.reply);
	assert_int_equal(id, res.outbound_id);
	assert_int_equal(usage_of(f, &f->ada).truncated, 1);
	free(stored);
	free(res.reply);
	free(full);
}

static void test_reply_of_exactly_1600_characters_is_kept_whole(void **state) {
	struct fixture *f = *state;
	/* "Your notes:\n1. " is 15 code points; a 1585-character note makes 1600. */
	char *body = malloc(9 + 1585 * 2 + 1);
	size_t n = (size_t)sprintf(body, "remember ");

	assert_non_null(body);
	for (int k = 0; k < 1585; k++) {
		body[n++] = '\xc3';
		body[n++] = '\xa9'; /* é */
	}
	body[n] = '\0';
	struct router_result res = route(f, NULL, ADA_PHONE, body);
	assert_reply(&res, "Noted.", "note");

	res = route(f, NULL, ADA_PHONE, "recall");
	assert_non_null(res.reply);
	assert_int_equal(utf8_code_points(res.reply), 1600);
	assert_memory_equal(res.reply, "Your notes:\n1. ", 15);
	assert_string_equal(res.reply + 15, body + 9);
	assert_int_equal(usage_of(f, &f->ada).truncated, 0);
	free(res.reply);
	free(body);
}

/* ---- status callbacks ---- */

static void test_status_error_21610_marks_the_number_opted_out(void **state) {
	struct fixture *f = *state;

	struct router_result res = route(f, NULL, ADA_PHONE, "hello");
	assert_outcome(&res, ROUTER_ROUTED, "hello");
	int64_t out = res.outbound_id;
	free(res.reply);
	assert_true(out > 0);

	assert_int_equal(router_status(f->r, out, "SMout21610", "sent", "30007", ADA_PHONE), 0);
	assert_false(opted_out(f, ADA_PHONE));
	assert_int_equal(router_status(f->r, out, "SMout21610", "failed", "21610", ADA_PHONE), 0);
	assert_true(opted_out(f, ADA_PHONE));

	res = route(f, NULL, ADA_PHONE, "remember z");
	assert_outcome(&res, ROUTER_BLOCKED, "after 21610");
	assert_reply(&res, NULL, "after 21610");
	assert_int_equal(notes_of(f, &f->ada), 0);

	struct newest m = newest_of(f, &f->ada);
	/* newest: the blocked inbound, then the reply whose status moved to failed. */
	assert_int_equal(m.id[1], out);
	assert_string_equal(m.status[1], "failed");
}

static void test_status_of_unknown_message_is_enoent(void **state) {
	struct fixture *f = *state;

	assert_int_equal(router_status(f->r, 0, "SMnosuch", "delivered", NULL, ADA_PHONE), -ENOENT);
	assert_int_equal(router_status(f->r, 987654, NULL, "delivered", NULL, ADA_PHONE), -ENOENT);
}

static void test_status_error_21610_of_unknown_message_still_opts_out(void **state) {
	struct fixture *f = *state;

	/* A To that is not E.164 is ignored: nothing is stored under it. */
	assert_int_equal(router_status(f->r, 0, "SMnosuch1", "failed", "21610",
	                                 "whatsapp:" BOB_PHONE),
	                 -ENOENT);
	assert_false(opted_out(f, "whatsapp:" BOB_PHONE));
	assert_false(opted_out(f, BOB_PHONE));

	assert_int_equal(router_status(f->r, 0, "SMnosuch2", "failed", "21610", ADA_PHONE), -ENOENT);
	assert_true(opted_out(f, ADA_PHONE));
	assert_int_equal(router_status(f->r, 987654, NULL, "undelivered", "21610", BOB_PHONE),
	                 -ENOENT);
	assert_true(opted_out(f, BOB_PHONE));

	struct router_result res = route(f, NULL, ADA_PHONE, "remember z");
	assert_outcome(&res, ROUTER_BLOCKED, "after 21610 of an unknown message");
	assert_reply(&res, NULL, "after 21610 of an unknown message");
	assert_int_equal(notes_of(f, &f->ada), 0);
}

/* ---- cost controls ---- */

static void test_daily_segment_budget_stops_routing_once_spent(void **state) {
	struct fixture *f = *state;
	struct router *r = NULL;
	const struct router_options o = {.daily_segment_budget = 2};

	assert_int_equal(router_create(f->s, f->a, f->rl, &o, &r), 0);
	struct router_result res = route_on(f, r, NULL, ADA_PHONE, "remember a", NULL);
	assert_outcome(&res, ROUTER_ROUTED, "1st");
	assert_reply(&res, "Noted.", "1st");
	res = route_on(f, r, NULL, ADA_PHONE, "remember b", NULL);
	assert_outcome(&res, ROUTER_ROUTED, "2nd");
	assert_reply(&res, "Noted.", "2nd");

	res = route_on(f, r, NULL, ADA_PHONE, "remember c", NULL);
	assert_outcome(&res, ROUTER_OVER_BUDGET, "3rd");
	assert_reply(&res, NULL, "3rd");
	assert_int_equal(notes_of(f, &f->ada), 2);
	struct newest m = newest_of(f, &f->ada);
	assert_string_equal(m.body[0], "remember c");
	assert_string_equal(m.status[0], "over_budget");
	struct store_usage_row u = usage_of(f, &f->ada);
	assert_int_equal(u.over_budget, 1);
	assert_int_equal(u.outbound, 2);

	/* Another user has a budget of its own; STOP is still honoured. */
	res = route_on(f, r, NULL, BOB_PHONE, "remember b", NULL);
	assert_outcome(&res, ROUTER_ROUTED, "bob");
	assert_reply(&res, "Noted.", "bob");
	res = route_on(f, r, NULL, ADA_PHONE, "STOP", NULL);
	assert_outcome(&res, ROUTER_OPTED_OUT, "STOP over budget");
	assert_reply(&res, NULL, "STOP over budget");
	assert_true(opted_out(f, ADA_PHONE));
	router_destroy(r);
}

static void test_reply_segment_cap_cuts_the_reply_to_fit(void **state) {
	struct fixture *f = *state;
	struct router *r = NULL;
	const struct router_options o = {.reply_max_segments = 1};
	struct sms_count c;

	assert_int_equal(router_create(f->s, f->a, f->rl, &o, &r), 0);
	for (int i = 0; i < 10; i++) {
		struct router_result res = route_on(
		                f, r, NULL, ADA_PHONE,
		                "remember a note long enough to need several segments", NULL);
		assert_reply(&res, "Noted.", "note");
	}
	struct router_result res = route_on(f, r, NULL, ADA_PHONE, "recall", NULL);
	assert_outcome(&res, ROUTER_ROUTED, "recall");
	assert_non_null(res.reply);
	sms_count(res.reply, strlen(res.reply), &c);
	assert_int_equal(c.segments, 1);
	assert_int_equal(strlen(res.reply), 160); /* GSM-7: one segment is 160 characters */
	assert_memory_equal(res.reply, "Your notes:\n1. a note long", 26);
	free(res.reply);
	struct store_usage_row u = usage_of(f, &f->ada);
	assert_int_equal(u.truncated, 1);
	router_destroy(r);
}

static void test_smart_encoding_replaces_look_alikes_only_when_all_become_gsm7(void **state) {
	struct fixture *f = *state;
	struct router *r = NULL;
	const struct router_options o = {.smart_encoding = true};

	assert_int_equal(router_create(f->s, f->a, f->rl, &o, &r), 0);
	/* \u2018hi\u2019 \u2014 ok */
	struct router_result res =
	                route_on(f, r, NULL, ADA_PHONE,
	                         "remember \xe2\x80\x98hi\xe2\x80\x99 \xe2\x80\x94 ok", NULL);
	assert_reply(&res, "Noted.", "note");
	res = route_on(f, r, NULL, ADA_PHONE, "recall", NULL);
	assert_reply(&res, "Your notes:\n1. 'hi' - ok", "recall");
	assert_int_equal(usage_of(f, &f->ada).smart_encoded, 1);

	/* An emoji keeps it UCS-2: nothing is replaced. */
	res = route_on(f, r, NULL, ADA_PHONE, "remember \xf0\x9f\x98\x80", NULL);
	assert_reply(&res, "Noted.", "emoji note");
	res = route_on(f, r, NULL, ADA_PHONE, "recall", NULL);
	assert_reply(&res,
	             "Your notes:\n1. \xe2\x80\x98hi\xe2\x80\x99 \xe2\x80\x94 ok\n2. "
	             "\xf0\x9f\x98\x80",
	             "recall with emoji");
	assert_int_equal(usage_of(f, &f->ada).smart_encoded, 1);
	router_destroy(r);
}

/* ---- concurrency ---- */

#define RACERS 8

struct racer {
	struct fixture *f;
	const char *sid; /* NULL: a sid of its own per message */
	const char *from;
	int index;
	int count;
	int errors;
	int routed;
	int duplicate;
	int other;
};

static void *race(void *p) {
	struct racer *w = p;
	char sid[STORE_SID_SIZE], body[64];

	for (int i = 0; i < w->count; i++) {
		if (w->sid) {
			snprintf(sid, sizeof(sid), "%s", w->sid);
			snprintf(body, sizeof(body), "remember raced");
		} else {
			snprintf(sid, sizeof(sid), "SMrace%02d%05d", w->index, i);
			snprintf(body, sizeof(body), "remember %d/%d", w->index, i);
		}
		struct router_inbound in = {
		                .sid = sid, .from = w->from, .to = OUR_NUMBER, .body = body};
		struct router_result res;
		if (route_sync(w->f->r, &in, &res) != 0) {
			w->errors++;
			continue;
		}
		if (res.outcome == ROUTER_ROUTED) {
			w->routed++;
		} else if (res.outcome == ROUTER_DUPLICATE) {
			w->duplicate++;
		} else {
			w->other++;
		}
		free(res.reply);
	}
	return NULL;
}

static void test_same_sid_from_many_threads_is_routed_once(void **state) {
	struct fixture *f = *state;
	pthread_t t[RACERS];
	struct racer w[RACERS];
	int routed = 0, duplicate = 0;

	for (int i = 0; i < RACERS; i++) {
		w[i] = (struct racer){.f = f,
		                      .sid = "SMsamesid",
		                      .from = ADA_PHONE,
		                      .index = i,
		                      .count = 1};
		assert_int_equal(pthread_create(&t[i], NULL, race, &w[i]), 0);
	}
	for (int i = 0; i < RACERS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].errors, 0);
		assert_int_equal(w[i].other, 0);
		routed += w[i].routed;
		duplicate += w[i].duplicate;
	}
	assert_int_equal(routed, 1);
	assert_int_equal(duplicate, RACERS - 1);
	assert_int_equal(notes_of(f, &f->ada), 1);
	struct newest m = newest_of(f, &f->ada);
	assert_int_equal(m.n, 2); /* one inbound, one reply */
}

static int note_owner_check(void *ctx, int index, const char *text) {
	(void)index;
	const char *prefix = ctx;
	return strncmp(text, prefix, strlen(prefix)) == 0 ? 0 : -1;
}

static void test_concurrent_users_each_keep_their_own_notes(void **state) {
	struct fixture *f = *state;
	enum { PER = 30 };
	pthread_t t[2];
	struct racer w[2];
	const char *phones[2] = {ADA_PHONE, BOB_PHONE};
	const struct store_user *users[2] = {&f->ada, &f->bob};

	for (int i = 0; i < 2; i++) {
		w[i] = (struct racer){.f = f, .from = phones[i], .index = i, .count = PER};
		assert_int_equal(pthread_create(&t[i], NULL, race, &w[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].errors, 0);
		assert_int_equal(w[i].routed, PER);
	}
	for (int i = 0; i < 2; i++) {
		char prefix[8];
		snprintf(prefix, sizeof(prefix), "%d/", i);
		assert_int_equal(notes_of(f, users[i]), PER);
		assert_int_equal(store_notes_list(f->s, users[i]->id, note_owner_check, prefix), 0);
	}
}

/* ---- batches: messages submitted together share transactions (the writer) ---- */

static struct router_inbound msg(const char *sid, const char *from, const char *body) {
	return (struct router_inbound){.sid = sid, .from = from, .to = OUR_NUMBER, .body = body};
}

static void test_a_batch_routes_each_message_in_order_as_if_one_by_one(void **state) {
	struct fixture *f = *state;
	struct router_inbound in[] = {
		msg("SMb1", ADA_PHONE, "remember ada's"),
		msg("SMb2", BOB_PHONE, "remember bob's"),
		msg("SMb1", ADA_PHONE, "remember ada's"), /* Twilio's retry in the same batch */
		msg("SMb3", ADA_PHONE, "recall"),         /* sees the note stored just before */
		msg("SMb4", STRANGER, "hello"),
		msg("SMb5", STRANGER, "hello again"),     /* onboarding once */
	};
	struct waited items[ARRAY_SIZE(in)];

	route_together(f->r, in, ARRAY_SIZE(in), items);
	for (size_t i = 0; i < ARRAY_SIZE(items); i++) {
		assert_int_equal(items[i].err, 0);
	}
	assert_outcome(&items[0].result, ROUTER_ROUTED, "ada remember");
	assert_string_equal(items[0].result.user_id, f->ada.id);
	assert_outcome(&items[1].result, ROUTER_ROUTED, "bob remember");
	assert_string_equal(items[1].result.user_id, f->bob.id);
	assert_outcome(&items[2].result, ROUTER_DUPLICATE, "retry");
	assert_int_equal(items[2].result.outbound_id, items[0].result.outbound_id);
	assert_outcome(&items[4].result, ROUTER_UNROUTED, "stranger");
	assert_outcome(&items[5].result, ROUTER_UNROUTED, "stranger again");
	assert_reply(&items[0].result, "Noted.", "ada remember");
	assert_reply(&items[1].result, "Noted.", "bob remember");
	assert_reply(&items[2].result, "Noted.", "retry");
	assert_reply(&items[3].result, "Your notes:\n1. ada's", "recall");
	assert_reply(&items[4].result, ONBOARDING, "stranger");
	assert_reply(&items[5].result, NULL, "stranger again");

	/* Committed: another connection sees it all, each message stored once. */
	assert_int_equal(notes_of(f, &f->ada), 1);
	assert_int_equal(notes_of(f, &f->bob), 1);
	assert_int_equal(newest_of(f, &f->ada).n, 4);
	struct router_result again = route(f, "SMb3", ADA_PHONE, "recall");
	assert_outcome(&again, ROUTER_DUPLICATE, "recall retried later");
	assert_reply(&again, "Your notes:\n1. ada's", "recall retried later");
}

static void test_a_failing_message_leaves_nothing_and_its_batch_stands(void **state) {
	struct fixture *f = *state;
	/* No To: the store refuses the inbound row (NOT NULL) after the STOP was recorded. */
	struct router_inbound bad = msg("SMbad", ADA_PHONE, "STOP");
	bad.to = NULL;
	struct router_inbound in[] = {
		msg("SMok1", BOB_PHONE, "remember before"),
		bad,
		msg("SMok2", BOB_PHONE, "remember after"),
	};
	struct waited items[ARRAY_SIZE(in)];

	route_together(f->r, in, ARRAY_SIZE(in), items);
	assert_int_equal(items[0].err, 0);
	assert_true(items[1].err < 0);
	assert_null(items[1].result.reply);
	assert_int_equal(items[2].err, 0);
	assert_reply(&items[0].result, "Noted.", "before");
	assert_reply(&items[2].result, "Noted.", "after");
	/* The failed message's opt-out went with it; a retry routes it afresh. */
	assert_false(opted_out(f, ADA_PHONE));
	assert_int_equal(newest_of(f, &f->ada).n, 0);
	assert_int_equal(notes_of(f, &f->bob), 2);
	struct router_result res = route(f, "SMbad", ADA_PHONE, "STOP");
	assert_outcome(&res, ROUTER_OPTED_OUT, "retried STOP");
	assert_true(opted_out(f, ADA_PHONE));
}

/* rest mode: the outbox is woken once the rows it is woken for are committed, so that
 * its next claim finds them (a wake-up before the commit costs the reply its idle wait). */
struct wake_check {
	struct store *s;
	int calls;
	int64_t depth_seen; /* the outbox depth another connection read when woken */
};

static void *read_depth(void *arg) {
	struct wake_check *w = arg;
	if (store_outbox_depth(w->s, &w->depth_seen) < 0) {
		w->depth_seen = -1;
	}
	return NULL;
}

static void on_enqueue_check(void *ctx) {
	struct wake_check *w = ctx;
	pthread_t t;
	w->calls++;
	/* Another thread reads on its own connection: it sees only what is committed. */
	assert_int_equal(pthread_create(&t, NULL, read_depth, w), 0);
	pthread_join(t, NULL);
}

static void test_rest_mode_wakes_the_outbox_after_the_commit(void **state) {
	struct fixture *f = *state;
	struct wake_check w = {.s = f->s};
	const struct router_options o = {.onboarding_text = ONBOARDING, .help_text = HELP,
		.rest = true, .on_enqueue = on_enqueue_check, .on_enqueue_ctx = &w};
	struct router *r = NULL;
	assert_int_equal(router_create(f->s, f->a, f->rl, &o, &r), 0);

	/* One message on its own. */
	struct router_result res = route_on(f, r, NULL, ADA_PHONE, "remember one", NULL);
	assert_outcome(&res, ROUTER_ROUTED, "alone");
	assert_null(res.reply);
	assert_int_equal(w.calls, 1);
	assert_int_equal(w.depth_seen, 1);

	/* Submitted together: a wake-up for each batch that queued one, after its commit (they
	 * may share one batch or not). */
	struct router_inbound in[] = {
		msg("SMw1", ADA_PHONE, "remember two"),
		msg("SMw2", BOB_PHONE, "remember three"),
		msg("SMw3", STRANGER, "hello"), /* nothing for the outbox */
	};
	struct waited items[ARRAY_SIZE(in)];
	route_together(r, in, ARRAY_SIZE(in), items);
	for (size_t i = 0; i < ARRAY_SIZE(items); i++) {
		assert_int_equal(items[i].err, 0);
		free(items[i].result.reply);
	}
	assert_in_range(w.calls, 2, 3);
	assert_int_equal(w.depth_seen, 3);

	/* Nothing queued: no wake-up. */
	int calls = w.calls;
	res = route_on(f, r, NULL, STRANGER, "hello again", NULL);
	assert_outcome(&res, ROUTER_UNROUTED, "stranger");
	free(res.reply);
	assert_int_equal(w.calls, calls);
	router_destroy(r);
}

/* Messages from several threads at once: each answered once, nothing lost. */
enum { SUBMITTERS = 4, PER_SUBMITTER = 150 };

struct submitted {
	struct waited d;
	struct router_inbound in;
	char sid[STORE_SID_SIZE];
	char body[32];
};

struct submitter {
	struct router *r;
	struct submitted *jobs;
};

static void *submit_all(void *arg) {
	struct submitter *t = arg;
	for (int i = 0; i < PER_SUBMITTER; i++) {
		submit(t->r, &t->jobs[i].d, &t->jobs[i].in);
	}
	return NULL;
}

static void test_messages_from_many_threads_are_each_answered_once_and_stored(void **state) {
	struct fixture *f = *state;
	static struct submitted jobs[SUBMITTERS][PER_SUBMITTER];
	pthread_t t[SUBMITTERS];
	struct submitter sub[SUBMITTERS];

	memset(jobs, 0, sizeof(jobs));
	for (int k = 0; k < SUBMITTERS; k++) {
		for (int i = 0; i < PER_SUBMITTER; i++) {
			struct submitted *s = &jobs[k][i];
			snprintf(s->sid, sizeof(s->sid), "SMw%d_%d", k, i);
			snprintf(s->body, sizeof(s->body), "remember %d/%d", k, i);
			s->in = msg(s->sid, k % 2 ? BOB_PHONE : ADA_PHONE, s->body);
		}
	}
	for (int k = 0; k < SUBMITTERS; k++) {
		sub[k] = (struct submitter){.r = f->r, .jobs = jobs[k]};
		assert_int_equal(pthread_create(&t[k], NULL, submit_all, &sub[k]), 0);
	}
	for (int k = 0; k < SUBMITTERS; k++) {
		assert_int_equal(pthread_join(t[k], NULL), 0);
	}
	for (int k = 0; k < SUBMITTERS; k++) {
		for (int i = 0; i < PER_SUBMITTER; i++) {
			struct submitted *s = &jobs[k][i];
			struct router_result res;
			assert_int_equal(wait_done(&s->d, &res), 0);
			assert_int_equal(atomic_load(&s->d.calls), 1);
			assert_outcome(&res, ROUTER_ROUTED, s->body);
			/* Each submitter's messages were stored in the order it sent them. */
			if (i > 0) {
				assert_true(res.outbound_id > jobs[k][i - 1].d.result.outbound_id);
			}
		}
		for (int i = 0; i < PER_SUBMITTER; i++) {
			assert_reply(&jobs[k][i].d.result, "Noted.", jobs[k][i].body);
		}
	}
	assert_int_equal(notes_of(f, &f->ada), SUBMITTERS / 2 * PER_SUBMITTER);
	assert_int_equal(notes_of(f, &f->bob), SUBMITTERS / 2 * PER_SUBMITTER);
}

/* ---- keyword table ---- */

struct keyword_case {
	const char *body;
	const char *opt_out_type;
	char expected;
};

static const struct keyword_case keyword_cases[] = {
                {"STOP", NULL, 'o'},
                {"stop", NULL, 'o'},
                {" Stop ", NULL, 'o'},
                {"\r\nSTOP\t", NULL, 'o'},
                {"STOPALL", NULL, 'o'},
                {"UNSUBSCRIBE", NULL, 'o'},
                {"CANCEL", NULL, 'o'},
                {"END", NULL, 'o'},
                {"QUIT", NULL, 'o'},
                {"REVOKE", NULL, 'o'},
                {"optout", NULL, 'o'},
                {"START", NULL, 'i'},
                {"unstop", NULL, 'i'},
                {"Yes", NULL, 'i'},
                {"HELP", NULL, 'h'},
                {"info", NULL, 'h'},
                {"", NULL, 0},
                {"   ", NULL, 0},
                {"\u00a0STOP\u00a0", NULL, 'o'},  /* no-break spaces */
                {"\u3000STOP", NULL, 'o'},        /* ideographic space */
                {"STOP\v\f", NULL, 'o'},
                {"\ufeffSTOP\u200b", NULL, 'o'}, /* BOM, zero-width space */
                {"\u00a0\u3000", NULL, 0},
                {"ST\u00a0OP", NULL, 0},          /* inside the word: not a word */
                {"\uff33\uff34\uff2f\uff30", NULL, 0}, /* fullwidth STOP: a look-alike */
                {NULL, NULL, 0},
                {"STOP please", NULL, 0},
                {"please stop", NULL, 0},
                {"STOPP", NULL, 0},
                {"STO", NULL, 0},
                {"OPT OUT", NULL, 0},
                {"S T O P", NULL, 0},
                {"yes!", NULL, 0},
                {"helpme", NULL, 0},
                {"remember STOP", NULL, 0},
                {"hello", "STOP", 'o'},
                {"START", "STOP", 'o'},
                {"STOP", "START", 'i'},
                {"hello", "start", 'i'},
                {"STOP", "HELP", 'h'},
                {NULL, "STOP", 'o'},
                {"STOP", "", 'o'},
                {"STOP", "SOMETHING", 'o'},
                {"hello", "SOMETHING", 0},
};

static void test_reply_blank_is_white_space_only(void **state) {
	(void)state;

	assert_true(router_reply_blank(NULL));
	assert_true(router_reply_blank(""));
	assert_true(router_reply_blank(" \t\r\n\v\f"));
	assert_true(router_reply_blank("\u00a0\u3000\u200b"));
	assert_false(router_reply_blank(" ."));
	assert_false(router_reply_blank("\u00a0x"));
	assert_false(router_reply_blank("\u00e9")); /* é: a letter, not a space */
}

static void test_keyword_table(void **state) {
	(void)state;
	int failures = 0;

	for (size_t i = 0; i < ARRAY_SIZE(keyword_cases); i++) {
		const struct keyword_case *c = &keyword_cases[i];
		char got = router_keyword(c->body, c->opt_out_type);
		if (got != c->expected) {
			print_error("router_keyword(\"%s\", %s%s%s) = '%c' (%d), expected '%c' "
			            "(%d)\n",
			            c->body ? c->body : "(null)", c->opt_out_type ? "\"" : "",
			            c->opt_out_type ? c->opt_out_type : "NULL",
			            c->opt_out_type ? "\"" : "", got ? got : '0', got,
			            c->expected ? c->expected : '0', c->expected);
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

/* Each test runs on its own fresh store. */
#define FIXTURE(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
	log_setup(LOG_ERROR, false);
	const struct CMUnitTest tests[] = {
		FIXTURE(test_known_sender_gets_the_agents_reply_and_both_are_stored),
		FIXTURE(test_each_user_reaches_only_its_own_notes),
		FIXTURE(test_duplicate_sid_returns_the_stored_answer_without_rerunning_the_agent),
		FIXTURE(test_duplicate_of_a_message_without_reply_has_no_reply),
		FIXTURE(test_unknown_sender_gets_onboarding_once_then_nothing),
		FIXTURE(test_default_onboarding_and_help_texts_are_not_empty),
		FIXTURE(test_opt_out_words_opt_out_without_reply_and_start_opts_in),
		FIXTURE(test_opted_out_number_is_blocked_without_agent_call),
		FIXTURE(test_unstop_and_yes_opt_back_in),
		FIXTURE(test_opt_out_from_an_unknown_number_is_honoured),
		FIXTURE(test_opt_out_type_decides_over_the_body),
		FIXTURE(test_help_and_info_answer_the_help_text_without_agent),
		FIXTURE(test_stop_inside_a_sentence_is_not_an_opt_out),
		FIXTURE(test_sender_over_the_rate_limit_is_stored_not_routed),
		FIXTURE(test_stop_and_start_are_honoured_over_the_rate_limit),
		FIXTURE(test_help_counts_against_and_obeys_the_rate_limit),
		FIXTURE(test_reply_over_1600_characters_is_cut_on_a_character_boundary),
		FIXTURE(test_reply_of_exactly_1600_characters_is_kept_whole),
		FIXTURE(test_status_error_21610_marks_the_number_opted_out),
		FIXTURE(test_status_of_unknown_message_is_enoent),
		FIXTURE(test_status_error_21610_of_unknown_message_still_opts_out),
		FIXTURE(test_daily_segment_budget_stops_routing_once_spent),
		FIXTURE(test_reply_segment_cap_cuts_the_reply_to_fit),
		FIXTURE(test_smart_encoding_replaces_look_alikes_only_when_all_become_gsm7),
		FIXTURE(test_same_sid_from_many_threads_is_routed_once),
		FIXTURE(test_concurrent_users_each_keep_their_own_notes),
		FIXTURE(test_a_batch_routes_each_message_in_order_as_if_one_by_one),
		FIXTURE(test_rest_mode_wakes_the_outbox_after_the_commit),
		FIXTURE(test_a_failing_message_leaves_nothing_and_its_batch_stands),
		FIXTURE(test_messages_from_many_threads_are_each_answered_once_and_stored),
		cmocka_unit_test(test_keyword_table),
		cmocka_unit_test(test_reply_blank_is_white_space_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
