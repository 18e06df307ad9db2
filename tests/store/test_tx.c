/* Transactions around several calls on every backend: one commit for all, a rollback
 * that keeps nothing, nesting (a failed call inside keeps the rest), and committing
 * without waiting (store_tx_commit_then tells once, when durable). */
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
#include <time.h>
#include <unistd.h>

#include "store_fixture.h"

static void test_tx_commits_one_messages_writes_together(void **state) {
	struct fixture *f = *state;
	struct store *other = NULL;
	struct store_user a;
	struct seen_messages seen;
	struct seen_notes notes;
	bool out = false;

	add_user1(f->s, "A", "+15550100101", &a);
	assert_int_equal(store_open(f->url, NULL, &other), 0);

	assert_int_equal(store_tx_begin(f->s), 0);
	int64_t in = add_inbound(f->s, a.id, "SM1", "remember milk", 0);
	assert_int_equal(store_note_add(f->s, a.id, "milk"), 0);
	add_outbound(f->s, a.id, "Noted.", in, 0);
	assert_int_equal(store_optout_set(f->s, "+15550100777", true), 0);
	/* Inside, this thread sees its writes; another connection does not, yet. */
	list_messages(f->s, a.id, 10, &seen);
	assert_int_equal(seen.n, 2);
	list_messages(other, a.id, 10, &seen);
	assert_int_equal(seen.n, 0);
	assert_int_equal(store_optout_get(other, "+15550100777", &out), 0);
	assert_false(out);
	assert_int_equal(store_tx_commit(f->s), 0);

	list_messages(other, a.id, 10, &seen);
	assert_int_equal(seen.n, 2);
	list_notes(other, a.id, &notes);
	assert_int_equal(notes.n, 1);
	assert_int_equal(store_optout_get(other, "+15550100777", &out), 0);
	assert_true(out);
	assert_int_equal(store_tx_commit(f->s), -EIO); /* none open */
	store_close(other);
}

static void test_tx_rollback_keeps_nothing_and_frees_the_sid(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	struct seen_messages seen;
	struct seen_notes notes;
	char *reply = NULL;
	int64_t id = 0;

	add_user1(f->s, "A", "+15550100101", &a);
	assert_int_equal(store_tx_begin(f->s), 0);
	add_queued(f->s, a.id, "SM1");
	assert_int_equal(store_note_add(f->s, a.id, "gone"), 0);
	store_tx_rollback(f->s);

	list_messages(f->s, a.id, 10, &seen);
	assert_int_equal(seen.n, 0);
	list_notes(f->s, a.id, &notes);
	assert_int_equal(notes.n, 0);
	assert_int_equal(depth(f->s), 0);
	assert_int_equal(store_answer_for(f->s, "SM1", &reply, &id, NULL), -ENOENT);
	add_inbound(f->s, a.id, "SM1", "again", 0);
	store_tx_rollback(f->s); /* none open: nothing happens */
	list_messages(f->s, a.id, 10, &seen);
	assert_int_equal(seen.n, 1);
}

static void test_tx_survives_a_failed_call_inside_it(void **state) {
	struct fixture *f = *state;
	struct store_user a, b;
	struct seen_messages seen;
	struct seen_notes notes;

	add_user1(f->s, "A", "+15550100101", &a);
	add_user1(f->s, "B", "+15550100102", &b);
	assert_int_equal(store_tx_begin(f->s), 0);
	add_inbound(f->s, a.id, "SM1", "first", 0);
	struct store_message m =
			message("SM1", "+15550100101", "+15550199999", "dup", "received", 1, 0);
	assert_int_equal(store_inbound_add(f->s, a.id, &m, NULL), -EEXIST);
	/* Each call is scoped to its own user inside the one transaction. */
	assert_int_equal(store_note_add(f->s, a.id, "a note"), 0);
	assert_int_equal(store_note_add(f->s, b.id, "b note"), 0);
	list_notes(f->s, a.id, &notes);
	assert_int_equal(notes.n, 1);
	assert_string_equal(notes.text[0], "a note");
	list_messages(f->s, b.id, 10, &seen);
	assert_int_equal(seen.n, 0);
	assert_int_equal(store_tx_commit(f->s), 0);

	list_messages(f->s, a.id, 10, &seen);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.body[0], "first");
	list_notes(f->s, b.id, &notes);
	assert_int_equal(notes.n, 1);
	assert_string_equal(notes.text[0], "b note");
}

/* ---- commit without waiting: store_tx_commit_then ---- */

struct durable_seen {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int calls;
	int err;
};

static void on_durable(void *ctx, int err) {
	struct durable_seen *d = ctx;
	pthread_mutex_lock(&d->mu);
	d->calls++;
	d->err = err;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

/* Waits up to 10 s for the first call; then a moment more, in case of a second. */
static int durable_calls(struct durable_seen *d) {
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	pthread_mutex_lock(&d->mu);
	while (d->calls == 0 && pthread_cond_timedwait(&d->cv, &d->mu, &ts) == 0) {
	}
	pthread_mutex_unlock(&d->mu);
	usleep(50 * 1000);
	pthread_mutex_lock(&d->mu);
	int n = d->calls;
	pthread_mutex_unlock(&d->mu);
	return n;
}

static void test_commit_then_commits_and_tells_once_when_durable(void **state) {
	struct fixture *f = *state;
	struct durable_seen d = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, -1};
	struct store *other = NULL;
	struct seen_messages seen;
	struct store_user a;

	add_user1(f->s, "A", "+15550100101", &a);
	assert_int_equal(store_tx_begin(f->s), 0);
	add_inbound(f->s, a.id, "SM1", "hello", 0);
	assert_int_equal(store_tx_commit_then(f->s, on_durable, &d), 0);
	assert_int_equal(durable_calls(&d), 1);
	assert_int_equal(d.err, 0);
	/* Committed: another handle sees it, and a retry of the sid is a duplicate. */
	assert_int_equal(store_open(f->url, NULL, &other), 0);
	list_messages(other, a.id, 10, &seen);
	assert_int_equal(seen.n, 1);
	store_close(other);
	struct store_message m =
	                message("SM1", "+15550100101", "+15550199999", "again", "received", 1, 0);
	assert_int_equal(store_inbound_add(f->s, a.id, &m, NULL), -EEXIST);
}

static void test_commit_then_without_a_transaction_fails_and_never_tells(void **state) {
	struct fixture *f = *state;
	struct durable_seen d = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, -1};

	assert_int_equal(store_tx_commit_then(f->s, on_durable, &d), -EIO);
	usleep(50 * 1000);
	assert_int_equal(d.calls, 0);
}

const struct CMUnitTest store_tx_tests[] = {
	FIXTURE(test_tx_commits_one_messages_writes_together),
	FIXTURE(test_tx_rollback_keeps_nothing_and_frees_the_sid),
	FIXTURE(test_tx_survives_a_failed_call_inside_it),
	FIXTURE(test_commit_then_commits_and_tells_once_when_durable),
	FIXTURE(test_commit_then_without_a_transaction_fails_and_never_tells),
};
const size_t store_tx_tests_count = sizeof(store_tx_tests) / sizeof(store_tx_tests[0]);
