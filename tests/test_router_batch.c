/* The router with many threads at once, batches of messages in one transaction, and rest
 * mode's outbox wake-up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "router_fixture.h"

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

/* A sender's opt-out holds for its next message in the same batch, and its opt-in too:
 * that message sees what the one before it wrote (on PostgreSQL a batch's senders are
 * looked up before its transaction, each sender's first message only). */
static void test_an_opt_out_holds_for_the_senders_next_message_in_its_batch(void **state) {
	struct fixture *f = *state;
	struct router_inbound in[] = {
		msg("SMo1", ADA_PHONE, "STOP"),
		msg("SMo2", ADA_PHONE, "remember this"),
		msg("SMo3", BOB_PHONE, "remember bob's"),
		msg("SMo4", ADA_PHONE, "START"),
		msg("SMo5", ADA_PHONE, "remember that"),
	};
	struct waited items[ARRAY_SIZE(in)];

	route_together(f->r, in, ARRAY_SIZE(in), items);
	for (size_t i = 0; i < ARRAY_SIZE(items); i++) {
		assert_int_equal(items[i].err, 0);
	}
	assert_outcome(&items[0].result, ROUTER_OPTED_OUT, "stop");
	assert_outcome(&items[1].result, ROUTER_BLOCKED, "after stop");
	assert_reply(&items[1].result, NULL, "after stop");
	assert_outcome(&items[2].result, ROUTER_ROUTED, "bob");
	assert_outcome(&items[3].result, ROUTER_OPTED_IN, "start");
	assert_outcome(&items[4].result, ROUTER_ROUTED, "after start");
	assert_reply(&items[4].result, "Noted.", "after start");
	assert_int_equal(notes_of(f, &f->ada), 1); /* "that", not "this" */
	for (size_t i = 0; i < ARRAY_SIZE(items); i++) {
		router_result_clear(&items[i].result);
	}
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

const struct CMUnitTest router_batch_tests[] = {
	FIXTURE(test_same_sid_from_many_threads_is_routed_once),
	FIXTURE(test_concurrent_users_each_keep_their_own_notes),
	FIXTURE(test_a_batch_routes_each_message_in_order_as_if_one_by_one),
	FIXTURE(test_a_failing_message_leaves_nothing_and_its_batch_stands),
	FIXTURE(test_an_opt_out_holds_for_the_senders_next_message_in_its_batch),
	FIXTURE(test_rest_mode_wakes_the_outbox_after_the_commit),
	FIXTURE(test_messages_from_many_threads_are_each_answered_once_and_stored),
};
const size_t router_batch_tests_count = ARRAY_SIZE(router_batch_tests);
