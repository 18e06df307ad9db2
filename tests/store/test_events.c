/* Events on every backend: recorded with the change they tell of and only then, each
 * user's head claimed in order, the outcome of a delivery, and (PostgreSQL) a head another
 * claimer holds skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "store_fixture.h"

#define MAX_EVENTS 16

/* Reopens f's store recording events (the fixture opens it without). */
static void events_on(struct fixture *f) {
	struct store_options o = {.sync = STORE_SYNC_GROUP, .events = true};
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->url, &o, &f->s), 0);
}

/* events_on, then Ada (+15550100101). */
static void events_on_with_ada(struct fixture *f, struct store_user *ada) {
	events_on(f);
	add_user1(f->s, "Ada", "+15550100101", ada);
}

static void mode(struct store *s, const struct store_user *u, const char *m) {
	assert_int_equal(store_event_user_mode(s, u->id, m), 0);
}

struct seen_events {
	size_t n;
	struct store_event e[MAX_EVENTS];
};

/* Keeps the events in their store order (a claim returns its users' heads in any). */
static int collect_event(void *ctx, const struct store_event *e) {
	struct seen_events *c = ctx;
	assert_true(c->n < MAX_EVENTS);
	size_t i = c->n++;
	for (; i > 0 && c->e[i - 1].id > e->id; i--) {
		c->e[i] = c->e[i - 1];
	}
	c->e[i] = *e;
	return 0;
}

/* Claims every due head now, leased for a minute. */
static size_t claim(struct store *s, struct seen_events *out) {
	int64_t now = ids_now_ms();
	memset(out, 0, sizeof(*out));
	assert_int_equal(store_events_claim(s, now, now + 60000, MAX_EVENTS, collect_event, out), 0);
	return out->n;
}

static int64_t pending(struct store *s) {
	int64_t n = -1;
	assert_int_equal(store_events_pending(s, &n), 0);
	return n;
}

/* An outbound message of user_id (NULL: an unknown sender's) with status "pending". */
static int64_t add_sent(struct store *s, const char *user_id, int flags) {
	struct store_message m =
			message(NULL, "+15550199999", "+15550100101", "hello", "pending", 1, 0);
	m.flags = flags;
	int64_t id = 0;
	assert_int_equal(store_outbound_add(s, user_id, &m, &id), 0);
	return id;
}

static void status(struct store *s, int64_t id, const char *sid, const char *st,
		const char *error, bool moves) {
	bool changed = !moves;
	assert_int_equal(store_status_update(s, id, sid, st, error, &changed), 0);
	assert_int_equal(changed, moves);
}

static int copy_uid(void *ctx, const struct store_message *m) {
	snprintf(ctx, STORE_ID_SIZE, "%s", m->uid);
	return 0;
}

static void test_events_a_status_move_records_the_status_it_moved_to(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	struct seen_events ev;
	char id_text[STORE_ID_SIZE];

	events_on_with_ada(f, &a);
	int64_t m = add_sent(f->s, a.id, STORE_FLAG_SENT_BY_API);
	assert_int_equal(pending(f->s), 0);
	status(f->s, m, "SM1", "sent", NULL, true);
	status(f->s, m, "SM1", "sent", NULL, false);
	status(f->s, m, "SM1", "queued", NULL, false); /* backwards: nothing moves */
	status(f->s, 0, "SM1", "undelivered", "30003", true);
	assert_int_equal(pending(f->s), 2);

	/* One head: the second waits for the first. */
	assert_int_equal(claim(f->s, &ev), 1);
	struct store_event first = ev.e[0];
	assert_string_equal(first.type, "message.status");
	assert_string_equal(first.user_id, a.id);
	/* The message's public id, as the API gives it. */
	assert_int_equal(store_message_get(f->s, a.id, m, copy_uid, id_text), 0);
	assert_string_equal(first.message_id, id_text);
	assert_string_equal(first.sid, "SM1");
	assert_string_equal(first.status, "sent");
	assert_string_equal(first.error_code, "");
	assert_int_equal(first.attempts, 1);
	assert_int_equal(strncmp(first.uid, "evt_", 4), 0);
	assert_true(first.at_ms > 1600000000000);
	assert_int_equal(claim(f->s, &ev), 0);

	assert_int_equal(store_event_delivered(f->s, first.id), 0);
	assert_int_equal(claim(f->s, &ev), 1);
	assert_string_equal(ev.e[0].status, "undelivered");
	assert_string_equal(ev.e[0].error_code, "30003");
	assert_string_not_equal(ev.e[0].uid, first.uid);
	assert_int_equal(store_event_delivered(f->s, ev.e[0].id), 0);
	assert_int_equal(pending(f->s), 0);
}

static void test_events_only_for_api_messages_of_a_user(void **state) {
	struct fixture *f = *state;
	struct store_user a;

	events_on_with_ada(f, &a);
	int64_t twiml = add_sent(f->s, a.id, 0);
	int64_t unknown = add_sent(f->s, NULL, STORE_FLAG_SENT_BY_API);
	status(f->s, twiml, "SM1", "delivered", NULL, true);
	status(f->s, unknown, "SM2", "delivered", NULL, true);
	assert_int_equal(pending(f->s), 0);
	bool changed = true;
	assert_int_equal(store_status_update(f->s, 0, "SMnone", "delivered", NULL, &changed),
			-ENOENT);
	assert_int_equal(pending(f->s), 0);
}

static void test_events_are_not_recorded_when_off(void **state) {
	struct fixture *f = *state;
	struct store_user a;

	add_user1(f->s, "Ada", "+15550100101", &a);
	int64_t m = add_sent(f->s, a.id, STORE_FLAG_SENT_BY_API);
	status(f->s, m, "SM1", "delivered", NULL, true);
	assert_int_equal(store_optout_set(f->s, "+15550100101", true), 0);
	assert_int_equal(store_outbox_sent(f->s, 0, m, "SM1", "read"), 0);
	mode(f->s, &a, "human");
	assert_int_equal(pending(f->s), 0);
	events_on(f);
	assert_int_equal(pending(f->s), 0);
}

static void test_events_outbox_sent_records_only_a_move(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	struct seen_events ev;

	events_on_with_ada(f, &a);
	int64_t m = add_sent(f->s, a.id, STORE_FLAG_SENT_BY_API);
	assert_int_equal(store_outbox_sent(f->s, 0, m, "SM1", "queued"), 0);
	assert_int_equal(pending(f->s), 1);
	status(f->s, m, "SM1", "delivered", NULL, true);
	/* A reconciled send that learns less than a callback told: no move, no event. */
	assert_int_equal(store_outbox_sent(f->s, 0, m, "SM1", "queued"), 0);
	assert_int_equal(pending(f->s), 2);
	assert_int_equal(claim(f->s, &ev), 1);
	assert_string_equal(ev.e[0].status, "queued");
	assert_string_equal(ev.e[0].sid, "SM1");
}

static void test_events_opt_out_and_in_are_recorded_on_change_only(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	struct seen_events ev;

	events_on_with_ada(f, &a);
	assert_int_equal(store_optout_set(f->s, "+15550100101", true), 0);
	assert_int_equal(store_optout_set(f->s, "+15550100101", true), 0);
	assert_int_equal(store_optout_set(f->s, "+15550100777", true), 0); /* nobody's */
	assert_int_equal(pending(f->s), 1);
	assert_int_equal(store_optout_set(f->s, "+15550100101", false), 0);
	assert_int_equal(store_optout_set(f->s, "+15550100101", false), 0);
	assert_int_equal(pending(f->s), 2);

	assert_int_equal(claim(f->s, &ev), 1);
	assert_string_equal(ev.e[0].type, "user.opted_out");
	assert_string_equal(ev.e[0].user_id, a.id);
	assert_string_equal(ev.e[0].phone, "+15550100101");
	assert_string_equal(ev.e[0].message_id, "");
	assert_int_equal(store_event_delivered(f->s, ev.e[0].id), 0);
	assert_int_equal(claim(f->s, &ev), 1);
	assert_string_equal(ev.e[0].type, "user.opted_in");
	assert_string_equal(ev.e[0].phone, "+15550100101");
}

static void test_events_claim_takes_each_users_head_in_order(void **state) {
	struct fixture *f = *state;
	struct store_user a, b;
	struct seen_events ev;

	events_on_with_ada(f, &a);
	add_user1(f->s, "Bob", "+15550100102", &b);
	mode(f->s, &a, "a1");
	mode(f->s, &b, "b1");
	mode(f->s, &a, "a2");
	mode(f->s, &b, "b2");
	assert_int_equal(pending(f->s), 4);

	assert_int_equal(claim(f->s, &ev), 2);
	assert_string_equal(ev.e[0].mode, "a1");
	assert_string_equal(ev.e[0].type, "user.mode");
	assert_string_equal(ev.e[1].mode, "b1");
	struct store_event a1 = ev.e[0], b1 = ev.e[1];
	assert_int_equal(claim(f->s, &ev), 0); /* leased, and they hold their users' next */

	/* a1 fails and is due again: the same event, its attempt counted; a2 still waits. */
	assert_int_equal(store_event_failed(f->s, a1.id, ids_now_ms() - 1, "HTTP 500"), 0);
	assert_int_equal(claim(f->s, &ev), 1);
	assert_string_equal(ev.e[0].uid, a1.uid);
	assert_int_equal(ev.e[0].attempts, 2);
	/* A retry due later is not claimed before its time. */
	assert_int_equal(store_event_failed(f->s, a1.id, ids_now_ms() + 60000, NULL), 0);
	assert_int_equal(claim(f->s, &ev), 0);

	/* b1 is given up: b2 is Bob's head now; a1 delivered makes a2 Ada's. */
	assert_int_equal(store_event_failed(f->s, b1.id, -1, "gave up"), 0);
	assert_int_equal(pending(f->s), 3);
	assert_int_equal(store_event_delivered(f->s, a1.id), 0);
	assert_int_equal(claim(f->s, &ev), 2);
	assert_string_equal(ev.e[0].mode, "a2");
	assert_string_equal(ev.e[1].mode, "b2");
}

static void count_record(void *ctx) {
	(*(int *)ctx)++;
}

static void test_events_recording_tells_the_listener(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	int told = 0;

	events_on(f);
	store_events_on_record(f->s, count_record, &told);
	add_user1(f->s, "Ada", "+15550100101", &a);
	assert_int_equal(store_optout_set(f->s, "+15550100777", true), 0); /* nobody's */
	assert_int_equal(told, 0);
	assert_int_equal(store_optout_set(f->s, "+15550100101", true), 0);
	assert_int_equal(told, 1);
}

static void test_events_a_failed_change_leaves_no_event(void **state) {
	struct fixture *f = *state;
	struct store_user a;

	events_on_with_ada(f, &a);
	int64_t m = add_sent(f->s, a.id, STORE_FLAG_SENT_BY_API);
	/* The caller's transaction rolls back: neither the move nor its event stays. */
	assert_int_equal(store_tx_begin(f->s), 0);
	status(f->s, m, "SM1", "delivered", NULL, true);
	store_tx_rollback(f->s);
	assert_int_equal(pending(f->s), 0);
	status(f->s, m, "SM1", "delivered", NULL, true);
	assert_int_equal(pending(f->s), 1);
}

static void test_events_user_delete_erases_its_events(void **state) {
	struct fixture *f = *state;
	struct store_user a, b;

	events_on_with_ada(f, &a);
	add_user1(f->s, "Bob", "+15550100102", &b);
	mode(f->s, &a, "x");
	mode(f->s, &b, "y");
	assert_int_equal(store_user_delete(f->s, a.id), 0);
	assert_int_equal(pending(f->s), 1);
}

/* Two routers on one database: a head the other holds (its claim not yet committed) is
 * skipped, and its user's next event is not taken in its place. */
static void test_events_claim_skips_a_head_another_claimer_holds(void **state) {
	struct fixture *f = *state;
	struct store_user a, b;
	struct store *other = NULL;
	struct seen_events mine, theirs;

	if (!on_postgres()) {
		skip(); /* SQLite: one process, one writer at a time */
	}
	events_on_with_ada(f, &a);
	add_user1(f->s, "Bob", "+15550100102", &b);
	mode(f->s, &a, "a1");
	mode(f->s, &a, "a2");
	mode(f->s, &b, "b1");
	assert_int_equal(store_open(f->url, NULL, &other), 0);

	int64_t now = ids_now_ms();
	memset(&theirs, 0, sizeof(theirs));
	assert_int_equal(store_tx_begin(other), 0);
	assert_int_equal(store_events_claim(other, now, now + 60000, 1, collect_event, &theirs), 0);
	assert_int_equal(theirs.n, 1);
	assert_string_equal(theirs.e[0].mode, "a1");

	assert_int_equal(claim(f->s, &mine), 1);
	assert_string_equal(mine.e[0].mode, "b1");
	store_tx_rollback(other); /* the other crashed before committing its lease */
	assert_int_equal(claim(f->s, &mine), 1);
	assert_string_equal(mine.e[0].mode, "a1");
	store_close(other);
}

/* A mode change records user.mode in its transaction, once per change: setting the mode a
 * user has records nothing, and a patch's mode records it as store_user_mode_set does. */
static void test_events_a_mode_change_records_user_mode_once(void **state) {
	struct fixture *f = *state;
	struct seen_events got;
	struct store_user a, u;
	struct store_user_patch p = {.mode = "paused"};

	events_on_with_ada(f, &a);
	assert_int_equal(store_user_mode_set(f->s, a.id, "agent"), 0); /* already */
	assert_int_equal(pending(f->s), 0);
	assert_int_equal(store_user_mode_set(f->s, a.id, "human"), 0);
	assert_int_equal(store_user_mode_set(f->s, a.id, "human"), 0);
	assert_int_equal(claim(f->s, &got), 1);
	assert_string_equal(got.e[0].type, "user.mode");
	assert_string_equal(got.e[0].mode, "human");
	assert_string_equal(got.e[0].user_id, a.id);
	assert_int_equal(store_event_delivered(f->s, got.e[0].id), 0);
	/* Rolled back with its change. */
	assert_int_equal(store_tx_begin(f->s), 0);
	assert_int_equal(store_user_mode_set(f->s, a.id, "agent"), 0);
	store_tx_rollback(f->s);
	assert_int_equal(pending(f->s), 0);
	assert_int_equal(store_user_get(f->s, a.id, &u), 0);
	assert_string_equal(u.mode, "human");
	assert_int_equal(store_user_set(f->s, a.id, &p, &u), 0);
	assert_int_equal(claim(f->s, &got), 1);
	assert_string_equal(got.e[0].mode, "paused");
}

/* A message of a user in human mode is recorded for the operator URL with the inbound row,
 * even when the store records no other events, and in order after the user's earlier
 * ones. */
static void test_events_an_operator_message_comes_with_its_inbound_row(void **state) {
	struct fixture *f = *state;
	struct seen_events got;
	struct store_user a;
	const char *json = "{\"user\":{\"id\":\"x\"},\"message\":{\"body\":\"hi\"}}";

	add_user1(f->s, "Ada", "+15550100101", &a); /* events off */
	struct store_message m =
			message("SM0001", "+15550100101", "+15550199999", "hi", "received", 1, 0);
	m.operator_json = json;
	assert_int_equal(store_inbound_add(f->s, a.id, &m, NULL), 0);
	m.sid = "SM0002";
	assert_int_equal(store_inbound_add(f->s, a.id, &m, NULL), 0);
	assert_int_equal(pending(f->s), 2);
	assert_int_equal(claim(f->s, &got), 1); /* one user's head at a time */
	assert_string_equal(got.e[0].type, "message.inbound");
	assert_string_equal(got.e[0].user_id, a.id);
	assert_string_equal(got.e[0].body, json);
	/* A duplicate sid stores nothing, and records nothing. */
	m.sid = "SM0001";
	assert_int_equal(store_inbound_add(f->s, a.id, &m, NULL), -EEXIST);
	assert_int_equal(pending(f->s), 2);
}

const struct CMUnitTest store_events_tests[] = {
	FIXTURE(test_events_a_mode_change_records_user_mode_once),
	FIXTURE(test_events_an_operator_message_comes_with_its_inbound_row),
	FIXTURE(test_events_a_status_move_records_the_status_it_moved_to),
	FIXTURE(test_events_only_for_api_messages_of_a_user),
	FIXTURE(test_events_are_not_recorded_when_off),
	FIXTURE(test_events_outbox_sent_records_only_a_move),
	FIXTURE(test_events_opt_out_and_in_are_recorded_on_change_only),
	FIXTURE(test_events_claim_takes_each_users_head_in_order),
	FIXTURE(test_events_recording_tells_the_listener),
	FIXTURE(test_events_a_failed_change_leaves_no_event),
	FIXTURE(test_events_user_delete_erases_its_events),
	FIXTURE(test_events_claim_skips_a_head_another_claimer_holds),
};
const size_t store_events_tests_count = sizeof(store_events_tests) / sizeof(store_events_tests[0]);
