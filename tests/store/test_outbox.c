/* The outbox on every backend: each user's rows in arrival order, the lease, replies,
 * atomic enqueueing, and reviving dead rows. */
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
#include <unistd.h>

#include "store_fixture.h"

/* ---- the outbox ---- */

static void test_outbox_claims_each_users_messages_in_arrival_order(void **state) {
	struct fixture *f = *state;
	struct store_user a, b;
	struct store_outbox o;
	struct seen_outbox ob;
	char sid[STORE_SID_SIZE], status[24];

	add_user1(f->s, "A", "+15550100101", &a);
	add_user1(f->s, "B", "+15550100102", &b);
	int64_t a1 = add_queued(f->s, a.id, "SMa1");
	int64_t b1 = add_queued(f->s, b.id, "SMb1");
	int64_t a2 = add_queued(f->s, a.id, "SMa2");
	add_inbound(f->s, a.id, "SMplain", "not queued", 0);
	int64_t now = ids_now_ms() + 1000;
	assert_int_equal(depth(f->s), 3);

	assert_int_equal(store_outbox_claim_agent(f->s, now, now + 60000, &o), 0);
	assert_int_equal(o.inbound_id, a1);
	assert_string_equal(o.user_id, a.id);
	assert_string_equal(o.state, "agent");
	assert_int_equal(o.attempts, 1);
	assert_int_equal(o.outbound_id, 0);
	assert_null(o.body);
	assert_true(o.created_at_ms > 1600000000000);
	int64_t row_a1 = o.id;
	assert_int_equal(store_outbox_claim_agent(f->s, now, now + 60000, &o), 0);
	assert_int_equal(o.inbound_id, b1);
	int64_t row_b1 = o.id;
	/* a2 waits for a1; a1 and b1 are leased. */
	assert_int_equal(store_outbox_claim_agent(f->s, now, now + 60000, &o), -ENOENT);

	/* The reply is stored; a1 moves to send and still holds a2 back. */
	struct store_message reply =
			message(NULL, "+15550199999", "+15550100101", "r1", "pending", 2, 0);
	reply.reply_to = a1;
	assert_int_equal(store_outbox_replied(f->s, row_a1, a.id, &reply, now), 0);
	assert_int_equal(store_outbox_claim_agent(f->s, now, now + 60000, &o), -ENOENT);
	memset(&ob, 0, sizeof(ob));
	assert_int_equal(store_outbox_ready(f->s, STORE_LANE_REPLIES, now, 10, collect_outbox, &ob), 0);
	assert_int_equal(ob.n, 1);
	assert_int_equal(ob.row[0].id, row_a1);
	assert_string_equal(ob.row[0].state, "send");
	assert_string_equal(ob.body[0], "r1");
	assert_string_equal(ob.row[0].to, "+15550100101");
	assert_string_equal(ob.row[0].from, "+15550199999");
	assert_int_equal(ob.row[0].segments, 2);
	assert_int_equal(ob.row[0].attempts, 0);
	int64_t out = ob.row[0].outbound_id;
	assert_true(out > 0);
	assert_int_equal(store_outbound_state(f->s, out, sid, status), 0);
	assert_string_equal(sid, "");
	assert_string_equal(status, "pending");

	/* A send attempt: sending, due later. */
	assert_int_equal(store_outbox_update(f->s, row_a1, "sending", now + 5000, true, NULL, now),
			0);
	memset(&ob, 0, sizeof(ob));
	assert_int_equal(store_outbox_ready(f->s, STORE_LANE_REPLIES, now, 10, collect_outbox, &ob), 0);
	assert_int_equal(ob.n, 0);
	assert_int_equal(store_outbox_ready(f->s, STORE_LANE_REPLIES, now + 5000, 10, collect_outbox, &ob), 0);
	assert_int_equal(ob.n, 1);
	assert_string_equal(ob.row[0].state, "sending");
	assert_int_equal(ob.row[0].attempts, 1);
	assert_int_equal(ob.row[0].sent_at_ms, now);

	/* Sent: the reply gets its sid, the row is done, and a2 is first in line. */
	assert_int_equal(store_outbox_sent(f->s, row_a1, out, "SMr1", "queued"), 0);
	assert_int_equal(store_outbound_state(f->s, out, sid, status), 0);
	assert_string_equal(sid, "SMr1");
	assert_string_equal(status, "queued");
	assert_int_equal(store_outbox_claim_agent(f->s, now, now + 60000, &o), 0);
	assert_int_equal(o.inbound_id, a2);

	/* No reply: the row is done at once. */
	assert_int_equal(store_outbox_replied(f->s, row_b1, b.id, NULL, now), 0);
	assert_int_equal(depth(f->s), 1);
	list_outbox(f->s, NULL, &ob);
	assert_int_equal(ob.n, 1);
	assert_int_equal(ob.row[0].inbound_id, a2);
	list_outbox(f->s, "done", &ob);
	assert_int_equal(ob.n, 2);
	assert_int_equal(ob.row[0].id, row_a1);
	assert_string_equal(ob.body[0], "r1");
	assert_int_equal(ob.row[1].id, row_b1);
	assert_int_equal(store_outbound_state(f->s, 999999, sid, status), -ENOENT);
}

static void test_outbox_claim_honours_next_at_and_the_lease(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	struct store_outbox o;

	add_user1(f->s, "A", "+15550100101", &a);
	add_queued(f->s, a.id, "SMa1");
	int64_t now = ids_now_ms() + 1000;

	assert_int_equal(store_outbox_claim_agent(f->s, now - 600000, now, &o), -ENOENT);
	assert_int_equal(store_outbox_claim_agent(f->s, now, now + 30000, &o), 0);
	assert_int_equal(o.attempts, 1);
	int64_t id = o.id;
	assert_int_equal(store_outbox_claim_agent(f->s, now + 29999, now + 60000, &o), -ENOENT);
	/* The lease ran out (a crashed worker): the row is due again. */
	assert_int_equal(store_outbox_claim_agent(f->s, now + 30000, now + 60000, &o), 0);
	assert_int_equal(o.id, id);
	assert_int_equal(o.attempts, 2);
	/* A failed agent call: back to agent with an error, due later. */
	assert_int_equal(store_outbox_update(f->s, id, "agent", now + 90000, false, "timeout",
				 now + 30000),
			0);
	assert_int_equal(store_outbox_claim_agent(f->s, now + 89999, now + 100000, &o), -ENOENT);
	assert_int_equal(store_outbox_claim_agent(f->s, now + 90000, now + 100000, &o), 0);
	assert_string_equal(o.last_error, "timeout");
	assert_int_equal(store_outbox_update(f->s, 999999, "dead", now, false, NULL, now), -ENOENT);
}

static void test_outbox_replied_for_another_users_row_is_enoent(void **state) {
	struct fixture *f = *state;
	struct store_user a, b;
	struct store_outbox o;
	struct seen_messages seen;

	add_user1(f->s, "A", "+15550100101", &a);
	add_user1(f->s, "B", "+15550100102", &b);
	int64_t a1 = add_queued(f->s, a.id, "SMa1");
	int64_t now = ids_now_ms() + 1000;
	assert_int_equal(store_outbox_claim_agent(f->s, now, now + 60000, &o), 0);

	struct store_message reply =
			message(NULL, "+15550199999", "+15550100102", "leak?", "pending", 1, 0);
	reply.reply_to = a1;
	assert_int_equal(store_outbox_replied(f->s, o.id, b.id, &reply, now), -ENOENT);
	list_messages(f->s, b.id, 10, &seen);
	assert_int_equal(seen.n, 0); /* the reply was rolled back with it */
	assert_int_equal(store_outbox_replied(f->s, o.id, a.id, &reply, now), 0);
	/* Once replied, the row is no longer waiting for the agent. */
	assert_int_equal(store_outbox_replied(f->s, o.id, a.id, NULL, now), -ENOENT);
}

static void test_outbox_enqueue_is_atomic_with_the_message(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	struct store_message m =
			message("SMa1", "+15550100101", "+15550199999", "again", "received", 1, 0);

	add_user1(f->s, "A", "+15550100101", &a);
	add_queued(f->s, a.id, "SMa1");
	m.enqueue = true;
	assert_int_equal(store_inbound_add(f->s, a.id, &m, NULL), -EEXIST);
	assert_int_equal(depth(f->s), 1);
	/* Unrouted messages are never queued. */
	m.sid = "SMu";
	assert_int_equal(store_inbound_add(f->s, NULL, &m, NULL), 0);
	assert_int_equal(depth(f->s), 1);
}

static void test_outbox_retry_revives_dead_rows_where_they_stopped(void **state) {
	struct fixture *f = *state;
	struct store_user u[3];
	struct store_outbox o;
	struct seen_outbox ob;
	int64_t row[3];
	int n = -1;

	add_user1(f->s, "A", "+15550100101", &u[0]);
	add_user1(f->s, "B", "+15550100102", &u[1]);
	add_user1(f->s, "C", "+15550100103", &u[2]);
	for (int i = 0; i < 3; i++) {
		char sid[16];
		snprintf(sid, sizeof(sid), "SM%d", i);
		add_queued(f->s, u[i].id, sid);
	}
	int64_t now = ids_now_ms() + 1000;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(store_outbox_claim_agent(f->s, now, now + 60000, &o), 0);
		row[i] = o.id;
	}
	/* Row 0 died waiting for the agent, row 1 before a send, row 2 after one. */
	struct store_message reply =
			message(NULL, "+15550199999", "+15550100101", "r", "pending", 1, 0);
	assert_int_equal(store_outbox_replied(f->s, row[1], u[1].id, &reply, now), 0);
	assert_int_equal(store_outbox_replied(f->s, row[2], u[2].id, &reply, now), 0);
	assert_int_equal(store_outbox_update(f->s, row[2], "sending", now, true, NULL, now), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(store_outbox_update(f->s, row[i], "dead", now, false, "gave up",
					 now),
				0);
	}
	assert_int_equal(depth(f->s), 0);
	list_outbox(f->s, "dead", &ob);
	assert_int_equal(ob.n, 3);
	assert_string_equal(ob.row[0].last_error, "gave up");

	assert_int_equal(store_outbox_retry(f->s, row[0], now + 1, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_outbox_retry(f->s, row[0], now + 1, &n), 0);
	assert_int_equal(n, 0); /* not dead any more */
	assert_int_equal(store_outbox_retry(f->s, 0, now + 1, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(depth(f->s), 3);
	list_outbox(f->s, NULL, &ob);
	assert_int_equal(ob.n, 3);
	assert_string_equal(ob.row[0].state, "agent");
	assert_string_equal(ob.row[1].state, "send");
	assert_string_equal(ob.row[2].state, "sending");
	for (int i = 0; i < 3; i++) {
		assert_int_equal(ob.row[i].attempts, 0);
		assert_int_equal(ob.row[i].next_at_ms, now + 1);
	}
	list_outbox(f->s, "dead", &ob);
	assert_int_equal(ob.n, 0);
}

/* A reply-kind message smsrouter sends itself (lane 0, waiting to be sent) to u. */
static void add_reply_send(struct store *s, const struct store_user *u, const char *uid) {
	int64_t now = ids_now();
	struct store_send m = {.user_id = u->id, .uid = uid, .kind = "reply", .channel = "sms",
		.from = "+15550009999", .to = u->phones[0], .optout_key = u->phones[0],
		.body = uid, .encoding = "GSM-7", .segments = 1, .send_at = now,
		.not_before = now, .now = now};
	struct store_send_result res;
	assert_int_equal(store_send_add(s, &m, &res), 0);
	assert_int_equal(res.outcome, STORE_SEND_ADDED);
}

/* The replies lane's due rows: ob, their count returned. */
static size_t ready_replies(struct store *s, int64_t now, struct seen_outbox *ob) {
	memset(ob, 0, sizeof(*ob));
	assert_int_equal(store_outbox_ready(s, STORE_LANE_REPLIES, now, 10, collect_outbox, ob), 0);
	return ob->n;
}

/* Only a user's first pending row is offered (its head, migration 11), and the head moves
 * right whatever ends or revives a row: a dead letter, a retry of an earlier row, an agent
 * answer without a reply, a cancel, the user's erasure; a blocked user's later rows never
 * overtake its first. */
static void test_outbox_heads_move_with_dead_retry_cancel_and_erase(void **state) {
	struct fixture *f = *state;
	struct store_user a, b, c;
	struct store_outbox o;
	struct seen_outbox ob;

	add_user1(f->s, "A", "+15550100101", &a);
	add_user1(f->s, "B", "+15550100102", &b);
	add_user1(f->s, "C", "+15550100103", &c);
	int64_t a1 = add_queued(f->s, a.id, "SMa1");
	int64_t a2 = add_queued(f->s, a.id, "SMa2");
	add_queued(f->s, a.id, "SMa3");
	int64_t now = ids_now_ms() + 1000, later = now + 120000;

	assert_int_equal(store_outbox_claim_agent(f->s, now, now + 60000, &o), 0);
	assert_int_equal(o.inbound_id, a1);
	int64_t row_a1 = o.id;
	assert_int_equal(store_outbox_claim_agent(f->s, now, now + 60000, &o), -ENOENT);

	/* Dead: the next row is first. */
	assert_int_equal(store_outbox_update(f->s, row_a1, "dead", now, false, "gave up", now), 0);
	assert_int_equal(store_outbox_claim_agent(f->s, now, now + 60000, &o), 0);
	assert_int_equal(o.inbound_id, a2);
	int64_t row_a2 = o.id;
	/* Revived, the earlier row is first again: a2 (its lease over) waits behind it. */
	int n = 0;
	assert_int_equal(store_outbox_retry(f->s, row_a1, now, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_outbox_claim_agent(f->s, later, later + 60000, &o), 0);
	assert_int_equal(o.id, row_a1);
	assert_int_equal(store_outbox_claim_agent(f->s, later, later + 60000, &o), -ENOENT);
	/* Answered without a reply: done, a2 is first. */
	assert_int_equal(store_outbox_replied(f->s, row_a1, a.id, NULL, later), 0);
	assert_int_equal(store_outbox_claim_agent(f->s, later, later + 60000, &o), 0);
	assert_int_equal(o.id, row_a2);

	/* Lane 0 sends: b's second waits for its first, which a cancel ends. */
	add_reply_send(f->s, &b, "b1");
	add_reply_send(f->s, &b, "b2");
	assert_int_equal(ready_replies(f->s, later, &ob), 1);
	assert_string_equal(ob.body[0], "b1");
	assert_int_equal(store_send_finish(f->s, b.id, ob.row[0].outbound_id, "canceled", "canceled"),
			0);
	assert_int_equal(ready_replies(f->s, later, &ob), 1);
	assert_string_equal(ob.body[0], "b2");

	/* c's first is being sent and not due: its second is not offered meanwhile. */
	add_reply_send(f->s, &c, "c1");
	add_reply_send(f->s, &c, "c2");
	assert_int_equal(ready_replies(f->s, later, &ob), 2);
	int64_t row_c1 = strcmp(ob.body[0], "c1") == 0 ? ob.row[0].id : ob.row[1].id;
	assert_int_equal(store_outbox_update(f->s, row_c1, "sending", later + 60000, true, NULL,
					 later),
			0);
	assert_int_equal(ready_replies(f->s, later, &ob), 1);
	assert_string_equal(ob.body[0], "b2");
	/* Back to send with an error (HTTP 429), then sent: c2 is next. */
	assert_int_equal(store_outbox_update(f->s, row_c1, "send", later, false, "HTTP 429", later),
			0);
	assert_int_equal(ready_replies(f->s, later, &ob), 2);
	for (size_t i = 0; i < ob.n; i++) {
		assert_string_not_equal(ob.body[i], "c2");
	}
	int64_t out_c1 = ob.row[strcmp(ob.body[0], "c1") == 0 ? 0 : 1].outbound_id;
	assert_int_equal(store_outbox_sent(f->s, row_c1, out_c1, "SMc1", "queued"), 0);
	assert_int_equal(ready_replies(f->s, later, &ob), 2);
	assert_true(strcmp(ob.body[0], "c2") == 0 || strcmp(ob.body[1], "c2") == 0);

	/* b is erased: its rows go, the others' heads stay. */
	assert_int_equal(store_user_delete(f->s, b.id), 0);
	assert_int_equal(ready_replies(f->s, later, &ob), 1);
	assert_string_equal(ob.body[0], "c2");
	assert_int_equal(store_outbox_claim_agent(f->s, later + 60000, later + 120000, &o), 0);
	assert_int_equal(o.id, row_a2);
}

const struct CMUnitTest store_outbox_tests[] = {
	FIXTURE(test_outbox_claims_each_users_messages_in_arrival_order),
	FIXTURE(test_outbox_claim_honours_next_at_and_the_lease),
	FIXTURE(test_outbox_replied_for_another_users_row_is_enoent),
	FIXTURE(test_outbox_enqueue_is_atomic_with_the_message),
	FIXTURE(test_outbox_retry_revives_dead_rows_where_they_stopped),
	FIXTURE(test_outbox_heads_move_with_dead_retry_cancel_and_erase),
};
const size_t store_outbox_tests_count = sizeof(store_outbox_tests) / sizeof(store_outbox_tests[0]);
