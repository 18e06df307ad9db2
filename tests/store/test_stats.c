/* The hourly stats on every backend: each message stored counts in its UTC hour, by
 * direction and (inbound) the status it was stored with, in the transaction that stores
 * it (a rolled-back message counts nothing); hours sum into UTC days; the range is
 * [since, until); retention and erasing a user leave the counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "store_fixture.h"

#define HOUR 3600
#define DAY 86400
#define T0 1764547200 /* 2025-12-01T00:00:00Z */

static void put(struct store *s, const char *user_id, bool inbound, const char *status,
		int segments, int64_t t) {
	struct store_message m = message(NULL, "+15550100101", "+15550199999", "x", status,
			segments, t);
	if (inbound) {
		assert_int_equal(store_inbound_add(s, user_id, &m, NULL), 0);
	} else {
		assert_int_equal(store_outbound_add(s, user_id, &m, NULL), 0);
	}
}

static void assert_row(const struct seen_stats *seen, size_t i, int64_t t, bool inbound,
		const char *outcome, int64_t messages, int64_t segments) {
	assert_true(i < seen->n);
	assert_int_equal(seen->row[i].t, t);
	assert_int_equal(seen->row[i].inbound, inbound);
	assert_string_equal(seen->row[i].outcome, outcome);
	assert_int_equal(seen->row[i].messages, messages);
	assert_int_equal(seen->row[i].segments, segments);
}

/* Two hours of one day and an hour of the next. */
static void traffic(struct store *s, const char *user_id) {
	put(s, user_id, true, "received", 1, T0 + 5);
	put(s, user_id, true, "received", 3, T0 + HOUR - 1);
	put(s, NULL, true, "unrouted", 1, T0 + 10);
	put(s, user_id, true, "rate_limited", 2, T0 + 20);
	put(s, user_id, false, "queued", 2, T0 + 30);
	put(s, user_id, false, "over_budget", 1, T0 + HOUR);
	put(s, user_id, true, "received", 1, T0 + DAY + 7 * HOUR + 59);
}

static void test_stats_count_each_message_in_its_hour_by_direction_and_outcome(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	struct seen_stats seen;
	add_user1(f->s, "Ann", "+15550100101", &a);
	traffic(f->s, a.id);

	list_stats(f->s, T0, T0 + 2 * DAY, HOUR, &seen);
	assert_int_equal(seen.n, 6);
	assert_row(&seen, 0, T0, true, "rate_limited", 1, 2);
	assert_row(&seen, 1, T0, true, "received", 2, 4);
	assert_row(&seen, 2, T0, true, "unrouted", 1, 1);
	assert_row(&seen, 3, T0, false, "", 1, 2);
	/* Outbound by direction only, whatever its status. */
	assert_row(&seen, 4, T0 + HOUR, false, "", 1, 1);
	assert_row(&seen, 5, T0 + DAY + 7 * HOUR, true, "received", 1, 1);

	list_stats(f->s, T0, T0 + 2 * DAY, DAY, &seen);
	assert_int_equal(seen.n, 5);
	assert_row(&seen, 1, T0, true, "received", 2, 4);
	assert_row(&seen, 3, T0, false, "", 2, 3);
	assert_row(&seen, 4, T0 + DAY, true, "received", 1, 1);

	/* since and until bound it: [T0 + HOUR, T0 + DAY + 7 h) holds only the second hour. */
	list_stats(f->s, T0 + HOUR, T0 + DAY + 7 * HOUR, HOUR, &seen);
	assert_int_equal(seen.n, 1);
	assert_row(&seen, 0, T0 + HOUR, false, "", 1, 1);
	list_stats(f->s, T0 + 2 * DAY, T0 + 3 * DAY, HOUR, &seen);
	assert_int_equal(seen.n, 0);
}

static void test_stats_count_only_what_commits(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	struct seen_stats seen;
	add_user1(f->s, "Ann", "+15550100101", &a);

	assert_int_equal(store_tx_begin(f->s), 0);
	put(f->s, a.id, true, "received", 1, T0);
	store_tx_rollback(f->s);
	list_stats(f->s, T0, T0 + DAY, HOUR, &seen);
	assert_int_equal(seen.n, 0);

	assert_int_equal(store_tx_begin(f->s), 0);
	put(f->s, a.id, true, "received", 1, T0);
	put(f->s, a.id, false, "queued", 1, T0 + 1);
	assert_int_equal(store_tx_commit(f->s), 0);
	list_stats(f->s, T0, T0 + DAY, HOUR, &seen);
	assert_int_equal(seen.n, 2);
	assert_row(&seen, 0, T0, true, "received", 1, 1);
	assert_row(&seen, 1, T0, false, "", 1, 1);
}

/* The router's batch: one transaction, a savepoint per message, some rolled back; more
 * messages than a transaction's log holds (SQLite writes it early, inside the savepoints). */
static void test_stats_of_a_batch_leave_out_its_rolled_back_savepoints(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	struct seen_stats seen;
	int64_t kept = 0, kept_in = 0;
	add_user1(f->s, "Ann", "+15550100101", &a);

	assert_int_equal(store_tx_begin(f->s), 0);
	for (int i = 0; i < 300; i++) {
		assert_int_equal(store_tx_begin(f->s), 0);
		put(f->s, a.id, true, i % 2 ? "received" : "help", 1, T0 + i);
		put(f->s, a.id, false, "queued", 2, T0 + HOUR + i);
		if (i % 3 == 0) {
			/* A savepoint in the savepoint, rolled back; its parent kept. */
			assert_int_equal(store_tx_begin(f->s), 0);
			put(f->s, a.id, true, "received", 1, T0 + i);
			store_tx_rollback(f->s);
		}
		if (i % 7 == 0) {
			store_tx_rollback(f->s);
			continue;
		}
		assert_int_equal(store_tx_commit(f->s), 0);
		kept++;
		kept_in += i % 2;
	}
	assert_int_equal(store_tx_commit(f->s), 0);

	list_stats(f->s, T0, T0 + DAY, HOUR, &seen);
	assert_int_equal(seen.n, 3);
	assert_row(&seen, 0, T0, true, "help", kept - kept_in, kept - kept_in);
	assert_row(&seen, 1, T0, true, "received", kept_in, kept_in);
	assert_row(&seen, 2, T0 + HOUR, false, "", kept, 2 * kept);
}

static void test_stats_outlive_retention_and_a_users_erasure(void **state) {
	struct fixture *f = *state;
	struct store_user a, b;
	struct seen_stats before, after;
	add_user1(f->s, "Ann", "+15550100101", &a);
	add_user1(f->s, "Bob", "+15550100102", &b);
	traffic(f->s, a.id);
	put(f->s, b.id, true, "help", 1, T0 + 2 * HOUR);
	list_stats(f->s, T0, T0 + 2 * DAY, HOUR, &before);

	int64_t erased = 0;
	assert_int_equal(store_retention_sweep(f->s, T0 + DAY, 100, &erased), 0);
	assert_int_equal(erased, 7);
	assert_int_equal(store_user_delete(f->s, a.id), 0);
	list_stats(f->s, T0, T0 + 2 * DAY, HOUR, &after);
	assert_int_equal(after.n, before.n);
	assert_memory_equal(&after, &before, sizeof(before));
}

const struct CMUnitTest store_stats_tests[] = {
	FIXTURE(test_stats_count_each_message_in_its_hour_by_direction_and_outcome),
	FIXTURE(test_stats_count_only_what_commits),
	FIXTURE(test_stats_of_a_batch_leave_out_its_rolled_back_savepoints),
	FIXTURE(test_stats_outlive_retention_and_a_users_erasure),
};
const size_t store_stats_tests_count = sizeof(store_stats_tests) / sizeof(store_stats_tests[0]);
