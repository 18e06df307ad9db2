/* Messages on every backend: adding, the stored answer of a MessageSid, lists and
 * history, status callbacks, segments and usage. */
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

/* ---- messages ---- */

static void test_inbound_add_with_a_seen_sid_is_eexist(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	struct seen_messages seen;

	add_user1(f->s, "A", "+15550100101", &a);
	add_inbound(f->s, a.id, "SM00000000000000000000000000000001", "hello", 0);
	struct store_message m = message("SM00000000000000000000000000000001", "+15550100101",
	                                 "+15550199999", "hello again", "received", 1, 0);
	assert_int_equal(store_inbound_add(f->s, a.id, &m, NULL), -EEXIST);

	list_messages(f->s, a.id, 10, &seen);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.body[0], "hello");
}

static void test_answer_for_unseen_sid_is_enoent(void **state) {
	struct fixture *f = *state;
	char *reply = (char *)"untouched";
	int64_t id = -7;

	assert_int_equal(store_answer_for(f->s, "SM404", &reply, &id, NULL), -ENOENT);
	assert_string_equal(reply, "untouched");
	assert_int_equal(id, -7);
}

static void test_answer_for_without_outbound_gives_null_reply(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	char *reply = (char *)"untouched";
	int64_t id = -7;

	add_user1(f->s, "A", "+15550100101", &a);
	add_inbound(f->s, a.id, "SM1", "hello", 0);
	assert_int_equal(store_answer_for(f->s, "SM1", &reply, &id, NULL), 0);
	assert_null(reply);
	assert_int_equal(id, 0);
}

static void test_answer_for_gives_the_reply_body_and_its_id(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	char *reply = NULL;
	int64_t id = 0;

	add_user1(f->s, "A", "+15550100101", &a);
	int64_t in1 = add_inbound(f->s, a.id, "SM1", "first", 0);
	int64_t in2 = add_inbound(f->s, a.id, "SM2", "second", 0);
	int64_t out2 = add_outbound(f->s, a.id, "answer two", in2, 0);
	int64_t out1 = add_outbound(f->s, a.id, "answer one", in1, 0);

	assert_int_equal(store_answer_for(f->s, "SM1", &reply, &id, NULL), 0);
	assert_non_null(reply);
	assert_string_equal(reply, "answer one");
	assert_int_equal(id, out1);
	free(reply);

	assert_int_equal(store_answer_for(f->s, "SM2", &reply, &id, NULL), 0);
	assert_non_null(reply);
	assert_string_equal(reply, "answer two");
	assert_int_equal(id, out2);
	free(reply);
}

static void test_answer_for_works_for_unrouted_messages(void **state) {
	struct fixture *f = *state;
	char *reply = NULL;
	int64_t id = 0;

	int64_t in = add_inbound(f->s, NULL, "SMu", "who?", 0);
	int64_t out = add_outbound(f->s, NULL, "not registered", in, 0);
	assert_int_equal(store_answer_for(f->s, "SMu", &reply, &id, NULL), 0);
	assert_non_null(reply);
	assert_string_equal(reply, "not registered");
	assert_int_equal(id, out);
	free(reply);
}

static void test_messages_list_is_newest_first_and_only_that_users(void **state) {
	struct fixture *f = *state;
	struct store_user a, b;
	struct seen_messages seen;

	add_user1(f->s, "A", "+15550100101", &a);
	add_user1(f->s, "B", "+15550100102", &b);
	add_inbound(f->s, a.id, "SMa1", "a1", 0);
	add_inbound(f->s, b.id, "SMb1", "b1", 0);
	int64_t a2 = add_inbound(f->s, a.id, "SMa2", "a2", 0);
	add_inbound(f->s, b.id, "SMb2", "b2", 0);
	add_outbound(f->s, a.id, "a3", a2, 0);
	add_inbound(f->s, NULL, "SMx", "x", 0);
	add_inbound(f->s, b.id, "SMb3", "b3", 0);

	list_messages(f->s, a.id, 50, &seen);
	assert_int_equal(seen.n, 3);
	assert_string_equal(seen.body[0], "a3");
	assert_int_equal(seen.direction[0], STORE_OUTBOUND);
	assert_int_equal(seen.reply_to[0], a2);
	assert_string_equal(seen.body[1], "a2");
	assert_int_equal(seen.direction[1], STORE_INBOUND);
	assert_string_equal(seen.sid[1], "SMa2");
	assert_string_equal(seen.body[2], "a1");

	list_messages(f->s, b.id, 50, &seen);
	assert_int_equal(seen.n, 3);
	assert_string_equal(seen.body[0], "b3");
	assert_string_equal(seen.body[1], "b2");
	assert_string_equal(seen.body[2], "b1");

	/* limit keeps the newest. */
	list_messages(f->s, b.id, 2, &seen);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.body[0], "b3");
	assert_string_equal(seen.body[1], "b2");
}

static void test_history_is_the_last_n_oldest_first(void **state) {
	struct fixture *f = *state;
	struct store_user a, b;
	struct seen_messages seen = {0};

	add_user1(f->s, "A", "+15550100101", &a);
	add_user1(f->s, "B", "+15550100102", &b);
	add_inbound(f->s, a.id, "SMa1", "a1", 0);
	add_inbound(f->s, b.id, "SMb1", "b1", 0);
	add_inbound(f->s, a.id, "SMa2", "a2", 0);
	add_inbound(f->s, a.id, "SMa3", "a3", 0);
	add_inbound(f->s, b.id, "SMb2", "b2", 0);
	add_inbound(f->s, a.id, "SMa4", "a4", 0);

	assert_int_equal(store_history(f->s, a.id, INT64_MAX, 3, collect_message, &seen), 0);
	assert_int_equal(seen.n, 3);
	assert_string_equal(seen.body[0], "a2");
	assert_string_equal(seen.body[1], "a3");
	assert_string_equal(seen.body[2], "a4");

	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_history(f->s, a.id, INT64_MAX, 20, collect_message, &seen), 0);
	assert_int_equal(seen.n, 4);
	assert_string_equal(seen.body[0], "a1");
	assert_string_equal(seen.body[3], "a4");
}

/* The bodies of store_history(before, limit) for user_id, joined by ' '. */
static void history_of(struct store *s, const char *user_id, int64_t before, int limit,
                       char *out, size_t size) {
	struct seen_messages seen = {0};
	assert_int_equal(store_history(s, user_id, before, limit, collect_message, &seen), 0);
	out[0] = '\0';
	for (size_t i = 0; i < seen.n; i++) {
		snprintf(out + strlen(out), size - strlen(out), "%s%s", i ? " " : "", seen.body[i]);
	}
}

static void test_history_holds_only_what_came_before_the_message(void **state) {
	struct fixture *f = *state;
	struct store_user a, b;
	char h[512];

	/* In arrival order: i1 waits for its (retried) agent call while i2 arrives; i1's
	 * reply is stored after i2, then i2's, then i3 arrives. */
	add_user1(f->s, "A", "+15550100101", &a);
	add_user1(f->s, "B", "+15550100102", &b);
	int64_t i0 = add_inbound(f->s, a.id, "SMi0", "i0", 0);
	add_outbound(f->s, a.id, "o0", i0, 0);
	int64_t i1 = add_inbound(f->s, a.id, "SMi1", "i1", 0);
	add_inbound(f->s, b.id, "SMb1", "b1", 0);
	int64_t i2 = add_inbound(f->s, a.id, "SMi2", "i2", 0);
	add_outbound(f->s, a.id, "o1", i1, 0);
	add_outbound(f->s, a.id, "o2", i2, 0);
	int64_t i3 = add_inbound(f->s, a.id, "SMi3", "i3", 0);

	/* Nothing that arrived after i1, nor i1's own reply. */
	history_of(f->s, a.id, i1, 20, h, sizeof(h));
	assert_string_equal(h, "i0 o0");
	/* i1's reply was stored after i2 arrived, but i1 came before i2: it is part of the
	 * conversation i2 follows. */
	history_of(f->s, a.id, i2, 20, h, sizeof(h));
	assert_string_equal(h, "i0 o0 i1 o1");
	history_of(f->s, a.id, i3, 20, h, sizeof(h));
	assert_string_equal(h, "i0 o0 i1 i2 o1 o2");
	/* The limit keeps the latest of them. */
	history_of(f->s, a.id, i3, 3, h, sizeof(h));
	assert_string_equal(h, "i2 o1 o2");
	history_of(f->s, a.id, i0, 20, h, sizeof(h));
	assert_string_equal(h, "");
	/* Another user's bound never shows this user's messages. */
	history_of(f->s, b.id, i3, 20, h, sizeof(h));
	assert_string_equal(h, "b1");
}

/* ---- status callbacks ---- */

static void test_status_update_only_moves_forward(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	char status[32];
	bool changed = false;

	add_user1(f->s, "A", "+15550100101", &a);
	int64_t in = add_inbound(f->s, a.id, "SM1", "hi", 0);
	int64_t out = add_outbound(f->s, a.id, "hello", in, 0);

	status_of(f->s, a.id, out, status, sizeof(status), NULL, 0);
	assert_string_equal(status, "queued");

	assert_int_equal(store_status_update(f->s, out, NULL, "sent", NULL, &changed), 0);
	assert_true(changed);
	status_of(f->s, a.id, out, status, sizeof(status), NULL, 0);
	assert_string_equal(status, "sent");

	assert_int_equal(store_status_update(f->s, out, NULL, "delivered", NULL, &changed), 0);
	assert_true(changed);
	status_of(f->s, a.id, out, status, sizeof(status), NULL, 0);
	assert_string_equal(status, "delivered");

	/* A late "sent" (or "queued") never overwrites "delivered". */
	changed = true;
	assert_int_equal(store_status_update(f->s, out, NULL, "sent", NULL, &changed), 0);
	assert_false(changed);
	changed = true;
	assert_int_equal(store_status_update(f->s, out, NULL, "queued", NULL, &changed), 0);
	assert_false(changed);
	status_of(f->s, a.id, out, status, sizeof(status), NULL, 0);
	assert_string_equal(status, "delivered");

	assert_int_equal(store_status_update(f->s, out, NULL, "read", NULL, &changed), 0);
	assert_true(changed);
	status_of(f->s, a.id, out, status, sizeof(status), NULL, 0);
	assert_string_equal(status, "read");
}

static void test_status_update_with_an_unknown_status_leaves_it(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	char status[32];
	bool changed = true;

	add_user1(f->s, "A", "+15550100101", &a);
	int64_t out = add_outbound(f->s, a.id, "hello", 0, 0);
	assert_int_equal(store_status_update(f->s, out, NULL, "sent", NULL, &changed), 0);
	assert_int_equal(store_status_update(f->s, out, NULL, "exploded", NULL, &changed), 0);
	assert_false(changed);
	status_of(f->s, a.id, out, status, sizeof(status), NULL, 0);
	assert_string_equal(status, "sent");
	assert_int_equal(store_status_rank("exploded"), 0);
	assert_true(store_status_rank("delivered") > store_status_rank("sent"));
	assert_true(store_status_rank("sent") > store_status_rank("queued"));
}

static void test_status_update_records_the_sid_when_the_row_has_none(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	char status[32], sid[STORE_SID_SIZE];
	bool changed = false;

	add_user1(f->s, "A", "+15550100101", &a);
	int64_t out = add_outbound(f->s, a.id, "hello", 0, 0);
	status_of(f->s, a.id, out, status, sizeof(status), sid, sizeof(sid));
	assert_string_equal(sid, "(null)");

	assert_int_equal(store_status_update(f->s, out, "SMout1", "sent", NULL, &changed), 0);
	assert_true(changed);
	status_of(f->s, a.id, out, status, sizeof(status), sid, sizeof(sid));
	assert_string_equal(sid, "SMout1");

	/* Now Twilio's sid alone finds it. */
	assert_int_equal(store_status_update(f->s, 0, "SMout1", "delivered", NULL, &changed), 0);
	assert_true(changed);
	status_of(f->s, a.id, out, status, sizeof(status), NULL, 0);
	assert_string_equal(status, "delivered");

	/* A sid once recorded is not replaced. */
	assert_int_equal(store_status_update(f->s, out, "SMother", "read", NULL, &changed), 0);
	status_of(f->s, a.id, out, status, sizeof(status), sid, sizeof(sid));
	assert_string_equal(sid, "SMout1");
}

static void test_status_update_of_unknown_id_or_sid_is_enoent(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	bool changed = true;

	add_user1(f->s, "A", "+15550100101", &a);
	int64_t in = add_inbound(f->s, a.id, "SMin", "hi", 0);
	add_outbound(f->s, a.id, "hello", in, 0);

	assert_int_equal(store_status_update(f->s, 999999, NULL, "sent", NULL, &changed), -ENOENT);
	assert_int_equal(store_status_update(f->s, 0, "SMnope", "sent", NULL, &changed), -ENOENT);
	assert_int_equal(store_status_update(f->s, 0, "SMnope", "bogus", NULL, &changed), -ENOENT);
	/* An inbound message takes no status callback. */
	assert_int_equal(store_status_update(f->s, in, NULL, "sent", NULL, &changed), -ENOENT);
	assert_int_equal(store_status_update(f->s, 0, "SMin", "sent", NULL, &changed), -ENOENT);
}

/* ---- usage and counts ---- */

struct usage_seen {
	size_t n;
	char user[8][STORE_ID_SIZE]; /* "" for the NULL row */
	bool null_row[8];
	struct store_usage_row row[8];
};

static int collect_usage(void *ctx, const struct store_usage_row *r) {
	struct usage_seen *c = ctx;
	assert_true(c->n < 8);
	c->null_row[c->n] = r->user_id == NULL;
	snprintf(c->user[c->n], STORE_ID_SIZE, "%s", r->user_id ? r->user_id : "");
	c->row[c->n] = *r;
	c->row[c->n].user_id = NULL;
	c->n++;
	return 0;
}

static const struct store_usage_row *usage_of(const struct usage_seen *c, const char *user_id) {
	for (size_t i = 0; i < c->n; i++) {
		if (!c->null_row[i] && strcmp(c->user[i], user_id) == 0) {
			return &c->row[i];
		}
	}
	return NULL;
}

static void add_msg(struct store *s, const char *user_id, enum store_direction d, const char *sid,
                    int segments, int64_t created_at) {
	struct store_message m =
	                message(sid, "+15550100101", "+15550199999", "x",
	                        d == STORE_INBOUND ? "received" : "queued", segments, created_at);
	if (d == STORE_INBOUND) {
		assert_int_equal(store_inbound_add(s, user_id, &m, NULL), 0);
	} else {
		assert_int_equal(store_outbound_add(s, user_id, &m, NULL), 0);
	}
}

/* A reply that lands after its user was deleted (the agent's call outlived the user) is not
 * stored: erasure leaves nothing behind, and usage does not list the id. */
static void test_a_reply_to_a_deleted_user_is_not_stored(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	struct usage_seen seen = {0};

	add_user1(f->s, "A", "+15550100101", &a);
	add_msg(f->s, a.id, STORE_INBOUND, "SMgone1", 1, 1000);
	assert_int_equal(store_user_delete(f->s, a.id), 0);
	struct store_message m = message(NULL, "+15550199999", "+15550100101", "your words",
	                                 "queued", 1, 1100);
	int64_t id = 0;
	assert_int_equal(store_outbound_add(f->s, a.id, &m, &id), -ENOENT);
	assert_int_equal(store_usage(f->s, 0, collect_usage, &seen), 0);
	assert_null(usage_of(&seen, a.id));
}

static void test_usage_has_a_row_per_user_then_unknown_senders_since(void **state) {
	struct fixture *f = *state;
	struct store_user a, b;
	struct usage_seen seen = {0};
	const struct store_usage_row *r;

	add_user1(f->s, "A", "+15550100101", &a);
	add_user1(f->s, "B", "+15550100102", &b);
	add_msg(f->s, a.id, STORE_INBOUND, "SMa1", 1, 1000);
	add_msg(f->s, a.id, STORE_INBOUND, "SMa2", 2, 1100);
	add_msg(f->s, a.id, STORE_OUTBOUND, NULL, 3, 1200);
	add_msg(f->s, b.id, STORE_INBOUND, "SMb1", 4, 500);
	add_msg(f->s, b.id, STORE_OUTBOUND, NULL, 1, 2000);
	add_msg(f->s, NULL, STORE_INBOUND, "SMx1", 1, 1500);
	add_msg(f->s, NULL, STORE_OUTBOUND, NULL, 2, 1500);

	assert_int_equal(store_usage(f->s, 0, collect_usage, &seen), 0);
	assert_int_equal(seen.n, 3);
	assert_true(seen.null_row[2]); /* unknown senders last */
	assert_false(seen.null_row[0]);
	assert_false(seen.null_row[1]);
	r = usage_of(&seen, a.id);
	assert_non_null(r);
	assert_int_equal(r->inbound, 2);
	assert_int_equal(r->outbound, 1);
	assert_int_equal(r->segments, 6);
	r = usage_of(&seen, b.id);
	assert_non_null(r);
	assert_int_equal(r->inbound, 1);
	assert_int_equal(r->outbound, 1);
	assert_int_equal(r->segments, 5);
	assert_int_equal(seen.row[2].inbound, 1);
	assert_int_equal(seen.row[2].outbound, 1);
	assert_int_equal(seen.row[2].segments, 3);
	int64_t total_in = 0, total_out = 0, total_seg = 0;
	for (size_t i = 0; i < seen.n; i++) {
		total_in += seen.row[i].inbound;
		total_out += seen.row[i].outbound;
		total_seg += seen.row[i].segments;
	}
	assert_int_equal(total_in, 4);
	assert_int_equal(total_out, 3);
	assert_int_equal(total_seg, 14);

	/* since 1100 keeps a2, a's outbound, b's outbound and the unknown pair. */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_usage(f->s, 1100, collect_usage, &seen), 0);
	assert_int_equal(seen.n, 3);
	r = usage_of(&seen, a.id);
	assert_non_null(r);
	assert_int_equal(r->inbound, 1);
	assert_int_equal(r->outbound, 1);
	assert_int_equal(r->segments, 5);
	r = usage_of(&seen, b.id);
	assert_non_null(r);
	assert_int_equal(r->inbound, 0);
	assert_int_equal(r->outbound, 1);
	assert_int_equal(r->segments, 1);
	assert_true(seen.null_row[2]);

	/* since 1600 keeps b's outbound only. */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_usage(f->s, 1600, collect_usage, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_false(seen.null_row[0]);
	assert_string_equal(seen.user[0], b.id);
	assert_int_equal(seen.row[0].segments, 1);

	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_usage(f->s, 3000, collect_usage, &seen), 0);
	assert_int_equal(seen.n, 0);
}


static void test_inbound_add_keeps_media_and_created_at(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	struct seen_messages seen;
	struct store_message m = message("SMm", "+15550100101", "+15550199999", "pic", "received",
			1, 1700000123);

	add_user1(f->s, "A", "+15550100101", &a);
	m.media_json = "[{\"url\":\"https://x/1\",\"content_type\":\"image/jpeg\"}]";
	assert_int_equal(store_inbound_add(f->s, a.id, &m, NULL), 0);
	add_inbound(f->s, a.id, "SMn", "now", 0);
	list_messages(f->s, a.id, 10, &seen);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.media[1], m.media_json);
	assert_int_equal(seen.created_at[1], 1700000123);
	assert_string_equal(seen.media[0], "(null)");
	assert_true(seen.created_at[0] > 1700000123); /* 0 means now */
}

static void test_message_get_finds_only_that_users_message(void **state) {
	struct fixture *f = *state;
	struct store_user a, b;
	struct seen_messages seen = {0};

	add_user1(f->s, "A", "+15550100101", &a);
	add_user1(f->s, "B", "+15550100102", &b);
	int64_t in = add_inbound(f->s, a.id, "SMa1", "a1", 0);

	assert_int_equal(store_message_get(f->s, a.id, in, collect_message, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.body[0], "a1");
	assert_int_equal(seen.id[0], in);
	assert_int_equal(store_message_get(f->s, b.id, in, collect_message, &seen), -ENOENT);
	assert_int_equal(store_message_get(f->s, a.id, in + 1000, collect_message, &seen),
			-ENOENT);
	assert_int_equal(seen.n, 1);
}

static void test_outbound_segments_counts_that_users_replies_since(void **state) {
	struct fixture *f = *state;
	struct store_user a, b;
	int64_t n = -1;

	add_user1(f->s, "A", "+15550100101", &a);
	add_user1(f->s, "B", "+15550100102", &b);
	add_msg(f->s, a.id, STORE_INBOUND, "SMa1", 5, 1000);
	add_msg(f->s, a.id, STORE_OUTBOUND, NULL, 2, 1000);
	add_msg(f->s, a.id, STORE_OUTBOUND, NULL, 3, 2000);
	add_msg(f->s, b.id, STORE_OUTBOUND, NULL, 7, 2000);

	assert_int_equal(store_outbound_segments(f->s, a.id, 0, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(store_outbound_segments(f->s, a.id, 1500, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(store_outbound_segments(f->s, b.id, 0, &n), 0);
	assert_int_equal(n, 7);
	assert_int_equal(store_outbound_segments(f->s, a.id, 3000, &n), 0);
	assert_int_equal(n, 0);
}

const struct CMUnitTest store_messages_tests[] = {
	FIXTURE(test_inbound_add_with_a_seen_sid_is_eexist),
	FIXTURE(test_answer_for_unseen_sid_is_enoent),
	FIXTURE(test_answer_for_without_outbound_gives_null_reply),
	FIXTURE(test_answer_for_gives_the_reply_body_and_its_id),
	FIXTURE(test_answer_for_works_for_unrouted_messages),
	FIXTURE(test_messages_list_is_newest_first_and_only_that_users),
	FIXTURE(test_history_is_the_last_n_oldest_first),
	FIXTURE(test_history_holds_only_what_came_before_the_message),
	FIXTURE(test_status_update_only_moves_forward),
	FIXTURE(test_status_update_with_an_unknown_status_leaves_it),
	FIXTURE(test_status_update_records_the_sid_when_the_row_has_none),
	FIXTURE(test_status_update_of_unknown_id_or_sid_is_enoent),
	FIXTURE(test_usage_has_a_row_per_user_then_unknown_senders_since),
		FIXTURE(test_a_reply_to_a_deleted_user_is_not_stored),
	FIXTURE(test_inbound_add_keeps_media_and_created_at),
	FIXTURE(test_message_get_finds_only_that_users_message),
	FIXTURE(test_outbound_segments_counts_that_users_replies_since),
};
const size_t store_messages_tests_count = sizeof(store_messages_tests) / sizeof(store_messages_tests[0]);
