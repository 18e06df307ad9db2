/* Retention and the export's readers on every backend: the sweep erases only old messages,
 * a batch at a time, and keeps users, phones, opt-outs and notes; usage since any UTC
 * midnight is the same before and after it; a user's messages read in pages after a
 * cursor; a user's opt-outs on both channels. */
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

#define DAY 86400

/* A message of user_id (NULL: an unknown sender) at t: inbound, or outbound with flags and
 * kind (NULL: an agent reply). */
static void put(struct store *s, const char *user_id, enum store_direction d, int segments,
		int flags, const char *kind, const char *status, int64_t t) {
	struct store_message m = message(NULL, "+15550100101", "+15550199999", "x", status,
			segments, t);
	m.flags = flags;
	m.kind = kind;
	m.channel = kind ? "sms" : NULL;
	if (d == STORE_INBOUND) {
		assert_int_equal(store_inbound_add(s, user_id, &m, NULL), 0);
	} else {
		assert_int_equal(store_outbound_add(s, user_id, &m, NULL), 0);
	}
}

/* Sweeps everything before cutoff, limit at a time; the number of batches that erased
 * something, and *ret_erased in all. */
static int sweep_all(struct store *s, int64_t cutoff, int limit, int64_t *ret_erased) {
	int batches = 0;
	int64_t all = 0, n;
	do {
		assert_int_equal(store_retention_sweep(s, cutoff, limit, &n), 0);
		assert_true(n <= limit);
		all += n;
		batches += n > 0;
	} while (n == limit);
	*ret_erased = all;
	return batches;
}

static void test_retention_erases_only_old_messages_in_batches_and_keeps_the_rest(
		void **state) {
	struct fixture *f = *state;
	struct store_user a, b;
	int64_t now = ids_now();
	add_user1(f->s, "Ann", "+15550100101", &a);
	add_user1(f->s, "Bob", "+15550100102", &b);
	for (int i = 0; i < 7; i++) {
		add_inbound(f->s, i % 2 ? a.id : b.id, NULL, "old", now - 40 * DAY + i);
	}
	put(f->s, NULL, STORE_INBOUND, 1, 0, NULL, "received", now - 40 * DAY); /* unknown */
	int64_t keep_a = add_inbound(f->s, a.id, NULL, "new", now - 29 * DAY);
	int64_t keep_b = add_inbound(f->s, b.id, NULL, "new", now);
	assert_int_equal(store_note_add(f->s, a.id, "a note"), 0);
	assert_int_equal(store_optout_set(f->s, "+15550100102", true), 0);

	int64_t erased = 0;
	int batches = sweep_all(f->s, now - 30 * DAY, 3, &erased);
	assert_int_equal(erased, 8);
	assert_int_equal(batches, 3); /* 3 + 3 + 2 */

	struct seen_messages seen;
	list_messages(f->s, a.id, MAX_SEEN, &seen);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.id[0], keep_a);
	list_messages(f->s, b.id, MAX_SEEN, &seen);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.id[0], keep_b);

	struct store_user u;
	assert_int_equal(store_user_get(f->s, a.id, &u), 0);
	assert_int_equal(u.nphones, 1);
	assert_int_equal(store_user_by_phone(f->s, "+15550100102", &u), 0);
	assert_true(u.opted_out);
	struct seen_notes notes;
	list_notes(f->s, a.id, &notes);
	assert_int_equal(notes.n, 1);
	assert_string_equal(notes.text[0], "a note");
	/* Nothing older is left: a second sweep erases nothing. */
	assert_int_equal(store_retention_sweep(f->s, now - 30 * DAY, 3, &erased), 0);
	assert_int_equal(erased, 0);
}

static void test_retention_keeps_a_message_whose_outbox_row_is_not_finished(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	int64_t old = ids_now() - 40 * DAY;
	add_user1(f->s, "Ann", "+15550100101", &a);
	struct store_message m = message("SMq", "+15550100101", "+15550199999", "wait",
			"received", 1, old);
	m.enqueue = true; /* an outbox row in state agent */
	int64_t waiting = 0;
	assert_int_equal(store_inbound_add(f->s, a.id, &m, &waiting), 0);
	add_inbound(f->s, a.id, "SMr", "gone", old);

	int64_t erased = 0;
	sweep_all(f->s, old + DAY, 10, &erased);
	assert_int_equal(erased, 1);
	struct seen_messages seen;
	list_messages(f->s, a.id, MAX_SEEN, &seen);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.id[0], waiting);
	int64_t depth = 0;
	assert_int_equal(store_outbox_depth(f->s, &depth), 0);
	assert_int_equal(depth, 1);
}

/* ---- usage before and after ---- */

#define MAX_ROWS 8

struct usage_rows {
	size_t n;
	char user[MAX_ROWS][STORE_ID_SIZE]; /* "-" for unknown senders */
	struct store_usage_row row[MAX_ROWS];
};

static int collect_row(void *ctx, const struct store_usage_row *r) {
	struct usage_rows *c = ctx;
	assert_true(c->n < MAX_ROWS);
	snprintf(c->user[c->n], STORE_ID_SIZE, "%s", r->user_id ? r->user_id : "-");
	c->row[c->n] = *r;
	c->row[c->n].user_id = NULL;
	c->n++;
	return 0;
}

#define WINDOWS 9

static void usage_windows(struct store *s, int64_t base, struct usage_rows out[WINDOWS]) {
	for (int w = 0; w < WINDOWS; w++) {
		memset(&out[w], 0, sizeof(out[w]));
		/* Window 0: all time; then each midnight from base - 1 day on. */
		int64_t since = w == 0 ? 0 : base + (w - 2) * DAY;
		assert_int_equal(store_usage(s, since, collect_row, &out[w]), 0);
	}
}

static void test_retention_leaves_usage_since_any_midnight_unchanged(void **state) {
	struct fixture *f = *state;
	struct store_user a, b;
	/* Seven days at base (a UTC midnight ten days ago) and after, three users' worth. */
	int64_t base = (ids_now() / DAY - 10) * DAY;
	add_user1(f->s, "Ann", "+15550100101", &a);
	add_user1(f->s, "Bob", "+15550100102", &b);
	for (int d = 0; d < 7; d++) {
		int64_t t = base + d * DAY;
		put(f->s, a.id, STORE_INBOUND, 1, 0, NULL, "received", t + 10);
		put(f->s, a.id, STORE_OUTBOUND, 2 + d, STORE_FLAG_TRUNCATED, NULL, "queued",
				t + 20);
		put(f->s, a.id, STORE_OUTBOUND, 1, 0, "proactive", "queued", t + 43000);
		put(f->s, b.id, STORE_INBOUND, 3, 0, NULL, d % 2 ? "over_budget" : "received",
				t + 50000);
		put(f->s, b.id, STORE_OUTBOUND, 1, STORE_FLAG_SMART_ENCODED, NULL, "queued",
				t + DAY - 1);
		put(f->s, NULL, STORE_INBOUND, 1, 0, NULL, "received", t + 3600);
	}
	struct usage_rows before[WINDOWS], after[WINDOWS];
	usage_windows(f->s, base, before);
	assert_int_equal(before[0].n, 3);

	/* In the middle of day 3, in batches of 4, twice (the second finds nothing new). */
	int64_t erased = 0;
	sweep_all(f->s, base + 3 * DAY + 43200, 4, &erased);
	assert_int_equal(erased, 3 * 6 + 4);
	sweep_all(f->s, base + 3 * DAY + 43200, 4, &erased);
	assert_int_equal(erased, 0);
	usage_windows(f->s, base, after);
	/* Then the rest of the days. */
	struct usage_rows later[WINDOWS];
	sweep_all(f->s, base + 8 * DAY, 5, &erased);
	assert_int_equal(erased, 7 * 6 - (3 * 6 + 4));
	usage_windows(f->s, base, later);

	for (int w = 0; w < WINDOWS; w++) {
		const struct usage_rows *x[2] = {&after[w], &later[w]};
		for (int k = 0; k < 2; k++) {
			assert_int_equal(x[k]->n, before[w].n);
			for (size_t i = 0; i < before[w].n; i++) {
				assert_string_equal(x[k]->user[i], before[w].user[i]);
				if (memcmp(&x[k]->row[i], &before[w].row[i], sizeof(before[w].row[i]))) {
					fail_msg("window %d, row %zu (%s): usage changed by the sweep", w, i,
							before[w].user[i]);
				}
			}
		}
	}
	/* The figures themselves, all time, for Ann: 7 in, 14 out, 7 + 35 + 7 segments. */
	struct store_usage_row ann;
	assert_int_equal(store_usage_user(f->s, a.id, 0, &ann), 0);
	assert_int_equal(ann.inbound, 7);
	assert_int_equal(ann.outbound, 14);
	assert_int_equal(ann.segments, 7 + (2 + 3 + 4 + 5 + 6 + 7 + 8) + 7);
	assert_int_equal(ann.truncated, 7);
	assert_int_equal(ann.proactive, 7);
	struct store_usage_row bob;
	assert_int_equal(store_usage_user(f->s, b.id, base + 4 * DAY, &bob), 0);
	assert_int_equal(bob.inbound, 3);
	assert_int_equal(bob.over_budget, 1);
	assert_int_equal(bob.smart_encoded, 3);
}

static void test_retention_user_delete_erases_its_daily_totals(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	int64_t old = ids_now() - 40 * DAY;
	add_user1(f->s, "Ann", "+15550100101", &a);
	add_inbound(f->s, a.id, NULL, "old", old);
	int64_t erased = 0;
	sweep_all(f->s, old + DAY, 10, &erased);
	assert_int_equal(erased, 1);
	struct usage_rows rows = {0};
	assert_int_equal(store_usage(f->s, 0, collect_row, &rows), 0);
	assert_int_equal(rows.n, 1);
	assert_int_equal(store_user_delete(f->s, a.id), 0);
	memset(&rows, 0, sizeof(rows));
	assert_int_equal(store_usage(f->s, 0, collect_row, &rows), 0);
	assert_int_equal(rows.n, 0);
}

/* ---- the export's readers ---- */

static void test_messages_after_pages_one_users_messages_oldest_first(void **state) {
	struct fixture *f = *state;
	struct store_user a, b;
	int64_t mine[7];
	add_user1(f->s, "Ann", "+15550100101", &a);
	add_user1(f->s, "Bob", "+15550100102", &b);
	for (int i = 0; i < 7; i++) {
		mine[i] = add_inbound(f->s, a.id, NULL, "a", 1000 + i);
		add_inbound(f->s, b.id, NULL, "b", 1000 + i);
	}
	int64_t cursor = 0;
	size_t got = 0, pages = 0;
	for (;;) {
		struct seen_messages page = {0};
		assert_int_equal(store_messages_after(f->s, a.id, cursor, 3, collect_message, &page),
				0);
		if (page.n == 0) {
			break;
		}
		pages++;
		for (size_t i = 0; i < page.n; i++) {
			assert_int_equal(page.id[i], mine[got++]);
			assert_string_equal(page.body[i], "a");
		}
		cursor = page.id[page.n - 1];
	}
	assert_int_equal(got, 7);
	assert_int_equal(pages, 3);
}

struct optouts_seen {
	size_t n;
	char phone[4][STORE_ADDR_SIZE];
};

static int collect_optout(void *ctx, const char *phone, int64_t at) {
	struct optouts_seen *c = ctx;
	assert_true(c->n < 4);
	assert_true(at > 0);
	snprintf(c->phone[c->n++], STORE_ADDR_SIZE, "%s", phone);
	return 0;
}

static void test_user_optouts_lists_its_numbers_on_both_channels_only(void **state) {
	struct fixture *f = *state;
	struct store_user a, b;
	add_user1(f->s, "Ann", "+15550100101", &a);
	add_user1(f->s, "Bob", "+15550100102", &b);
	assert_int_equal(store_optout_set(f->s, "+15550100101", true), 0);
	assert_int_equal(store_optout_set(f->s, "whatsapp:+15550100101", true), 0);
	assert_int_equal(store_optout_set(f->s, "+15550100102", true), 0);
	struct optouts_seen seen = {0};
	assert_int_equal(store_user_optouts(f->s, a.id, collect_optout, &seen), 0);
	assert_int_equal(seen.n, 2);
	bool sms = false, wa = false;
	for (size_t i = 0; i < seen.n; i++) {
		sms |= strcmp(seen.phone[i], "+15550100101") == 0;
		wa |= strcmp(seen.phone[i], "whatsapp:+15550100101") == 0;
	}
	assert_true(sms && wa);
}

const struct CMUnitTest store_retention_tests[] = {
	FIXTURE(test_retention_erases_only_old_messages_in_batches_and_keeps_the_rest),
	FIXTURE(test_retention_keeps_a_message_whose_outbox_row_is_not_finished),
	FIXTURE(test_retention_leaves_usage_since_any_midnight_unchanged),
	FIXTURE(test_retention_user_delete_erases_its_daily_totals),
	FIXTURE(test_messages_after_pages_one_users_messages_oldest_first),
	FIXTURE(test_user_optouts_lists_its_numbers_on_both_channels_only),
};
const size_t store_retention_tests_count =
	sizeof(store_retention_tests) / sizeof(store_retention_tests[0]);
