/* Messages smsrouter starts itself, on every backend: stored with their outbox row; the
 * idempotency key (same hash: the first message, another: a conflict, forgotten after its
 * days); the opt-out and the proactive limit refusing with nothing stored; replies ahead
 * of proactive messages; each user's proactive messages in due order, one user's many not
 * hiding another's one; a finish and a send, of which one wins; quiet-hour holds; the list
 * of what waits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_fixture.h"

/* A proactive message for u due at not_before (unix seconds), with key (may be NULL). */
static struct store_send proactive(const struct store_user *u, const char *uid,
		const char *body, int64_t not_before, const char *key) {
	int64_t now = ids_now();
	return (struct store_send){
		.user_id = u->id,
		.uid = uid,
		.kind = "proactive",
		.channel = "sms",
		.from = "+15550009999",
		.to = u->phones[0],
		.optout_key = u->phones[0],
		.body = body,
		.encoding = "GSM-7",
		.segments = 1,
		.send_at = not_before,
		.not_before = not_before,
		.now = now,
		.key = key,
		.key_hash = key ? body : NULL, /* the body stands for the request */
		.key_since = now - 7 * 86400,
	};
}

static struct store_send_result send_ok(struct store *s, const struct store_send *m) {
	struct store_send_result res;
	assert_int_equal(store_send_add(s, m, &res), 0);
	return res;
}

struct status_seen {
	char status[24];
	char kind[12];
	int64_t id;
	int64_t not_before;
};

static int seen_status_of(void *ctx, const struct store_message *m) {
	struct status_seen *st = ctx;
	snprintf(st->status, sizeof(st->status), "%s", m->status);
	snprintf(st->kind, sizeof(st->kind), "%s", m->kind ? m->kind : "");
	st->id = m->id;
	st->not_before = m->not_before;
	return 0;
}

static struct status_seen send_message_of(struct store *s, const char *user_id, const char *uid) {
	struct status_seen st = {0};
	assert_int_equal(store_message_by_uid(s, user_id, uid, seen_status_of, &st), 0);
	return st;
}

static struct seen_outbox ready(struct store *s, int lane, int64_t now_ms) {
	struct seen_outbox ob;
	memset(&ob, 0, sizeof(ob));
	assert_int_equal(store_outbox_ready(s, lane, now_ms, MAX_SEEN, collect_outbox, &ob), 0);
	return ob;
}

static void test_a_send_is_stored_queued_or_scheduled_with_its_row(void **state) {
	struct fixture *f = *state;
	struct store_user u;
	add_user1(f->s, "Ann", "+15550100101", &u);
	int64_t now = ids_now();

	struct store_send m = proactive(&u, "u1", "now", now, NULL);
	struct store_send_result res = send_ok(f->s, &m);
	assert_int_equal(res.outcome, STORE_SEND_ADDED);
	assert_string_equal(res.uid, "u1");
	m = proactive(&u, "u2", "later", now + 3600, NULL);
	send_ok(f->s, &m);

	struct status_seen a = send_message_of(f->s, u.id, "u1"), b = send_message_of(f->s, u.id, "u2");
	assert_string_equal(a.status, "queued");
	assert_string_equal(b.status, "scheduled");
	assert_string_equal(a.kind, "proactive");
	assert_int_equal(b.not_before, now + 3600);
	/* Only the due one is ready, in the proactive lane, with its kind and uid. */
	struct seen_outbox ob = ready(f->s, STORE_LANE_PROACTIVE, ids_now_ms() + 10);
	assert_int_equal(ob.n, 1);
	assert_string_equal(ob.body[0], "now");
	assert_string_equal(ob.row[0].uid, "u1");
	assert_string_equal(ob.row[0].kind, "proactive");
	assert_int_equal(ob.row[0].lane, STORE_LANE_PROACTIVE);
	assert_int_equal(ready(f->s, STORE_LANE_REPLIES, ids_now_ms() + 10).n, 0);
	int64_t d = -1;
	assert_int_equal(store_scheduled_depth(f->s, ids_now_ms() + 10, &d), 0);
	assert_int_equal(d, 1);
	/* Another user cannot see them. */
	struct store_user other;
	add_user1(f->s, "Bob", "+15550100102", &other);
	struct status_seen st;
	assert_int_equal(store_message_by_uid(f->s, other.id, "u1", seen_status_of, &st), -ENOENT);
}

static void test_a_key_answers_its_first_message_or_a_conflict(void **state) {
	struct fixture *f = *state;
	struct store_user u, v;
	add_user1(f->s, "Ann", "+15550100101", &u);
	add_user1(f->s, "Bob", "+15550100102", &v);
	int64_t now = ids_now();

	struct store_send m = proactive(&u, "first", "hello", now, "k");
	assert_int_equal(send_ok(f->s, &m).outcome, STORE_SEND_ADDED);
	m = proactive(&u, "second", "hello", now, "k");
	struct store_send_result res = send_ok(f->s, &m);
	assert_int_equal(res.outcome, STORE_SEND_REPLAYED);
	assert_string_equal(res.uid, "first");
	m = proactive(&u, "third", "other text", now, "k");
	assert_int_equal(send_ok(f->s, &m).outcome, STORE_SEND_CONFLICT);
	/* Nothing more stored: one message, one row. */
	assert_int_equal(ready(f->s, STORE_LANE_PROACTIVE, ids_now_ms() + 10).n, 1);
	struct status_seen st;
	assert_int_equal(store_message_by_uid(f->s, u.id, "second", seen_status_of, &st), -ENOENT);
	/* A key is the user's own: the same key for another user is a new message. */
	m = proactive(&v, "bobs", "hello", now, "k");
	assert_int_equal(send_ok(f->s, &m).outcome, STORE_SEND_ADDED);
	/* Forgotten after its days: used again, it makes a new message. */
	m = proactive(&u, "fourth", "other text", now, "k");
	m.key_since = now + 1;
	assert_int_equal(send_ok(f->s, &m).outcome, STORE_SEND_ADDED);
}

struct racer {
	struct store *s;
	const struct store_user *u;
	char uid[STORE_ID_SIZE];
	struct store_send_result res;
	int r;
};

static void *race(void *arg) {
	struct racer *r = arg;
	struct store_send m = proactive(r->u, r->uid, "same", ids_now(), "race-key");
	r->r = store_send_add(r->s, &m, &r->res);
	return NULL;
}

static void test_twenty_requests_with_one_key_at_once_store_one_message(void **state) {
	struct fixture *f = *state;
	struct store_user u;
	struct racer r[20];
	pthread_t t[20];
	add_user1(f->s, "Ann", "+15550100101", &u);

	for (int i = 0; i < 20; i++) {
		r[i] = (struct racer){.s = f->s, .u = &u};
		snprintf(r[i].uid, sizeof(r[i].uid), "uid%d", i);
		assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
	}
	int added = 0;
	for (int i = 0; i < 20; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(r[i].r, 0);
		added += r[i].res.outcome == STORE_SEND_ADDED;
		assert_true(r[i].res.outcome == STORE_SEND_ADDED ||
				r[i].res.outcome == STORE_SEND_REPLAYED);
	}
	assert_int_equal(added, 1);
	for (int i = 1; i < 20; i++) {
		assert_string_equal(r[i].res.uid, r[0].res.uid);
	}
	assert_int_equal(ready(f->s, STORE_LANE_PROACTIVE, ids_now_ms() + 10).n, 1);
}

static void test_opt_out_and_limit_refuse_with_nothing_stored(void **state) {
	struct fixture *f = *state;
	struct store_user u, v;
	add_user1(f->s, "Ann", "+15550100101", &u);
	add_user1(f->s, "Bob", "+15550100102", &v);
	int64_t now = ids_now();

	assert_int_equal(store_optout_set(f->s, "+15550100102", true), 0);
	struct store_send m = proactive(&v, "x", "hi", now, NULL);
	assert_int_equal(send_ok(f->s, &m).outcome, STORE_SEND_OPTED_OUT);

	for (int i = 0; i < 3; i++) {
		char uid[8];
		snprintf(uid, sizeof(uid), "p%d", i);
		m = proactive(&u, uid, "hi", now, NULL);
		m.limit = 2;
		m.limit_window_s = 3600;
		struct store_send_result res = send_ok(f->s, &m);
		assert_int_equal(res.outcome, i < 2 ? STORE_SEND_ADDED : STORE_SEND_LIMITED);
		if (i == 2) {
			assert_true(res.retry_after_s > 3500 && res.retry_after_s <= 3600);
		}
	}
	/* A canceled one gives its place back; a reply never counts. */
	struct status_seen p0 = send_message_of(f->s, u.id, "p0");
	assert_int_equal(store_send_finish(f->s, u.id, p0.id, "canceled", "canceled"), 0);
	m = proactive(&u, "p3", "hi", now, NULL);
	m.limit = 2;
	m.limit_window_s = 3600;
	assert_int_equal(send_ok(f->s, &m).outcome, STORE_SEND_ADDED);
	m = proactive(&u, "r1", "a reply", now, NULL);
	m.kind = "reply";
	m.limit = 2;
	m.limit_window_s = 3600;
	assert_int_equal(send_ok(f->s, &m).outcome, STORE_SEND_ADDED);
	struct status_seen st;
	assert_int_equal(store_message_by_uid(f->s, v.id, "x", seen_status_of, &st), -ENOENT);
	assert_int_equal(store_message_by_uid(f->s, u.id, "p2", seen_status_of, &st), -ENOENT);
	/* No such user: nothing. */
	struct store_user ghost = u;
	snprintf(ghost.id, sizeof(ghost.id), "nobody");
	m = proactive(&ghost, "g", "hi", now, NULL);
	struct store_send_result res;
	assert_int_equal(store_send_add(f->s, &m, &res), -ENOENT);
}

static void test_replies_go_first_and_users_share_the_proactive_lane(void **state) {
	struct fixture *f = *state;
	struct store_user a, b;
	add_user1(f->s, "A", "+15550100101", &a);
	add_user1(f->s, "B", "+15550100102", &b);
	int64_t now = ids_now();

	/* A has five due, the latest-made due first; B has one. */
	for (int i = 0; i < 5; i++) {
		char uid[8], body[8];
		snprintf(uid, sizeof(uid), "a%d", i);
		snprintf(body, sizeof(body), "a%d", i);
		struct store_send m = proactive(&a, uid, body, now - i, NULL);
		send_ok(f->s, &m);
	}
	struct store_send m = proactive(&b, "b0", "b0", now, NULL);
	send_ok(f->s, &m);
	struct seen_outbox ob = ready(f->s, STORE_LANE_PROACTIVE, ids_now_ms() + 10);
	/* One head per user: A's earliest due (a4), and B's. */
	assert_int_equal(ob.n, 2);
	assert_string_equal(ob.body[0], "a4");
	assert_string_equal(ob.body[1], "b0");

	/* A reply stored after them is in the replies lane, ready on its own. */
	m = proactive(&a, "r", "reply", now, NULL);
	m.kind = "reply";
	send_ok(f->s, &m);
	ob = ready(f->s, STORE_LANE_REPLIES, ids_now_ms() + 10);
	assert_int_equal(ob.n, 1);
	assert_string_equal(ob.body[0], "reply");

	/* While a4 is being sent (ambiguous), A's others wait; B's does not. */
	struct seen_outbox p = ready(f->s, STORE_LANE_PROACTIVE, ids_now_ms() + 10);
	int64_t t = ids_now_ms() + 10;
	assert_int_equal(store_outbox_update(f->s, p.row[0].id, "sending", t + 60000, true, NULL, t),
			0);
	ob = ready(f->s, STORE_LANE_PROACTIVE, ids_now_ms() + 10);
	assert_int_equal(ob.n, 1);
	assert_string_equal(ob.body[0], "b0");
}

static void test_finish_and_send_one_wins_and_holds_keep_it_waiting(void **state) {
	struct fixture *f = *state;
	struct store_user u;
	add_user1(f->s, "Ann", "+15550100101", &u);
	int64_t now = ids_now();

	struct store_send m = proactive(&u, "c", "cancel me", now + 60, NULL);
	send_ok(f->s, &m);
	struct status_seen st = send_message_of(f->s, u.id, "c");
	assert_int_equal(store_send_finish(f->s, u.id, st.id, "canceled", "canceled"), 0);
	assert_string_equal(send_message_of(f->s, u.id, "c").status, "canceled");
	assert_int_equal(store_send_finish(f->s, u.id, st.id, "suppressed", "x"), -EALREADY);
	assert_int_equal(ready(f->s, STORE_LANE_PROACTIVE, ids_now_ms() + 120000).n, 0);

	/* Taken for a send: a cancel comes too late. */
	m = proactive(&u, "s", "sent", now, NULL);
	send_ok(f->s, &m);
	struct seen_outbox ob = ready(f->s, STORE_LANE_PROACTIVE, ids_now_ms() + 10);
	assert_int_equal(ob.n, 1);
	int64_t t = ids_now_ms() + 10;
	assert_int_equal(store_outbox_update(f->s, ob.row[0].id, "sending", t + 5000, true, NULL, t),
			0);
	st = send_message_of(f->s, u.id, "s");
	assert_int_equal(store_send_finish(f->s, u.id, st.id, "canceled", "canceled"), -EALREADY);
	assert_string_equal(send_message_of(f->s, u.id, "s").status, "queued");

	/* Held for quiet hours: not ready until then. */
	m = proactive(&u, "h", "held", now, NULL);
	send_ok(f->s, &m);
	assert_int_equal(store_outbox_update(f->s, ob.row[0].id, "done", t, false, NULL, t), 0);
	ob = ready(f->s, STORE_LANE_PROACTIVE, ids_now_ms() + 10);
	assert_int_equal(ob.n, 1);
	int64_t until = ids_now_ms() + 3600 * 1000;
	assert_int_equal(store_outbox_hold(f->s, u.id, ob.row[0].id, until), 0);
	assert_int_equal(ready(f->s, STORE_LANE_PROACTIVE, ids_now_ms() + 10).n, 0);
	assert_int_equal(ready(f->s, STORE_LANE_PROACTIVE, until).n, 1);
}

struct listed {
	int n;
	char uid[4][STORE_ID_SIZE];
};

static int list_one(void *ctx, const struct store_scheduled_row *r) {
	struct listed *l = ctx;
	if (l->n < 4) {
		snprintf(l->uid[l->n], STORE_ID_SIZE, "%s", r->uid);
	}
	l->n++;
	return 0;
}

static void test_scheduled_lists_what_waits_due_first(void **state) {
	struct fixture *f = *state;
	struct store_user a, b;
	struct listed l = {0};
	add_user1(f->s, "A", "+15550100101", &a);
	add_user1(f->s, "B", "+15550100102", &b);
	int64_t now = ids_now();

	struct store_send m = proactive(&a, "late", "x", now + 7200, NULL);
	send_ok(f->s, &m);
	m = proactive(&b, "soon", "x", now + 60, NULL);
	send_ok(f->s, &m);
	assert_int_equal(store_scheduled(f->s, NULL, 10, list_one, &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.uid[0], "soon");
	assert_string_equal(l.uid[1], "late");
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_scheduled(f->s, a.id, 10, list_one, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.uid[0], "late");
	/* A deleted user's messages and keys go with it. */
	assert_int_equal(store_user_delete(f->s, a.id), 0);
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_scheduled(f->s, NULL, 10, list_one, &l), 0);
	assert_int_equal(l.n, 1);
}

const struct CMUnitTest store_sends_tests[] = {
	FIXTURE(test_a_send_is_stored_queued_or_scheduled_with_its_row),
	FIXTURE(test_a_key_answers_its_first_message_or_a_conflict),
	FIXTURE(test_twenty_requests_with_one_key_at_once_store_one_message),
	FIXTURE(test_opt_out_and_limit_refuse_with_nothing_stored),
	FIXTURE(test_replies_go_first_and_users_share_the_proactive_lane),
	FIXTURE(test_finish_and_send_one_wins_and_holds_keep_it_waiting),
	FIXTURE(test_scheduled_lists_what_waits_due_first),
};
const size_t store_sends_tests_count = sizeof(store_sends_tests) / sizeof(store_sends_tests[0]);
