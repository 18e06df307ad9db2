/* The send queue (proactive_queue.c): sends stored in batches, one transaction a batch and
 * a savepoint a send. Run as `proactive_queue`, and as `proactive_queue-postgres` on
 * PostgreSQL (SMSROUTER_TEST_STORE_BACKEND=postgres). To hold many sends in one batch, the
 * first send's stored hook waits until every other is queued: they make the next batch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proactive.h"
#include "store/store_fixture.h"
#include "wait.h"

#define JOBS 40

struct queue_fixture {
	void *store; /* store_fixture.h's fixture */
	struct store *s;
	struct config config;
	struct proactive_queue *q;
	struct store_user ada, bob;
};

static int queue_setup(void **state) {
	struct queue_fixture *f = calloc(1, sizeof(*f));
	if (!f || setup(&f->store) != 0) {
		free(f);
		return -1;
	}
	*state = f;
	f->s = ((struct fixture *)f->store)->s;
	f->config.account_sid = "AC0123456789abcdef0123456789abcdef";
	f->config.twilio_from = "+15550199999";
	f->config.quiet_hours.off = true;
	f->config.default_timezone = "UTC";
	f->config.proactive_window_s = 86400;
	struct proactive p = {.config = &f->config, .store = f->s};
	return tmpstore_add_ada_and_bob(f->s, &f->ada, &f->bob) != 0 ||
			       proactive_queue_start(&p, NULL, NULL, &f->q) != 0
		       ? -1
		       : 0;
}

static int queue_teardown(void **state) {
	struct queue_fixture *f = *state;
	proactive_queue_stop(f->q);
	teardown(&f->store);
	free(f);
	return 0;
}

struct send {
	struct proactive_job job;
	struct wait_once answered;
	atomic_int calls;
	bool fail_stored; /* its stored hook fails: the send must be taken back */
	struct wait_once *hold; /* its stored hook waits for this */
	int stored_calls;
};

static int stored(void *ctx, struct store *s, struct proactive_job *job) {
	struct send *d = ctx;
	(void)s;
	(void)job;
	d->stored_calls++;
	if (d->hold) {
		wait_once_wait(d->hold);
	}
	return d->fail_stored ? -EIO : 0;
}

static void done(void *ctx, struct proactive_job *job) {
	struct send *d = ctx;
	(void)job;
	atomic_fetch_add(&d->calls, 1);
	wait_once_signal(&d->answered);
}

/* Prepares d: a send to user_id of body, with key (or NULL). */
static void prepare(struct send *d, const char *user_id, const char *body, const char *key) {
	memset(d, 0, sizeof(*d));
	d->answered = (struct wait_once)WAIT_ONCE_INIT;
	d->job.rq = (struct proactive_request){.user_id = user_id, .body = body,
		.body_len = strlen(body), .key = key};
	d->job.stored = stored;
	d->job.done = done;
	d->job.ctx = d;
}

/* Submits sends[0], whose stored hook holds its batch until sends[1..n) are queued: those
 * then make one batch. Returns once every one is answered, each exactly once. */
static void run_together(struct queue_fixture *f, struct send *sends, int n) {
	struct wait_once hold = WAIT_ONCE_INIT;
	sends[0].hold = &hold;
	proactive_queue_submit(f->q, &sends[0].job);
	for (int i = 1; i < n; i++) {
		proactive_queue_submit(f->q, &sends[i].job);
	}
	wait_once_signal(&hold);
	for (int i = 0; i < n; i++) {
		wait_once_wait(&sends[i].answered);
	}
	for (int i = 0; i < n; i++) {
		assert_int_equal(atomic_load(&sends[i].calls), 1);
	}
}

static int count_one(void *ctx, const struct store_message *m) {
	(void)m;
	(*(int *)ctx)++;
	return 0;
}

/* How many messages of user_id have public id uid: 0 or 1. */
static int stored_as(struct queue_fixture *f, const char *user_id, const char *uid) {
	int n = 0;
	int r = store_message_by_uid(f->s, user_id, uid, count_one, &n);
	assert_true(r == 0 || r == -ENOENT);
	return n;
}

static int messages_of(struct queue_fixture *f, const struct store_user *u) {
	int n = 0;
	assert_int_equal(store_messages_list(f->s, u->id, 1000, count_one, &n), 0);
	return n;
}

static void test_a_failing_send_takes_back_only_its_own_writes(void **state) {
	struct queue_fixture *f = *state;
	static struct send sends[JOBS];
	char bodies[JOBS][32];

	for (int i = 0; i < JOBS; i++) {
		snprintf(bodies[i], sizeof(bodies[i]), "hello %d", i);
		prepare(&sends[i], i % 2 ? f->bob.id : f->ada.id, bodies[i], NULL);
	}
	sends[17].fail_stored = true; /* Bob's, in the middle of the batch */
	sends[20].job.rq.reply_to = "0123456789abcdef0123456789abcdef"; /* refused: 404 */
	run_together(f, sends, JOBS);
	for (int i = 0; i < JOBS; i++) {
		const char *uid = sends[i].job.rq.user_id;
		if (i == 17) {
			assert_int_equal(sends[i].job.answer, -EIO);
			assert_int_equal(stored_as(f, uid, sends[i].job.id), 0);
		} else if (i == 20) {
			assert_int_equal(sends[i].job.answer, 1);
			assert_int_equal(sends[i].job.refusal.status, 404);
			assert_int_equal(sends[i].stored_calls, 0);
		} else {
			assert_int_equal(sends[i].job.answer, 0);
			assert_true(sends[i].job.created);
			assert_int_equal(stored_as(f, uid, sends[i].job.id), 1);
		}
	}
	assert_int_equal(messages_of(f, &f->ada), JOBS / 2 - 1);
	assert_int_equal(messages_of(f, &f->bob), JOBS / 2 - 1);
}

static void test_one_key_in_one_batch_makes_one_message(void **state) {
	struct queue_fixture *f = *state;
	static struct send sends[JOBS];

	for (int i = 0; i < JOBS; i++) {
		prepare(&sends[i], i % 2 ? f->bob.id : f->ada.id, "exactly once", "order-4711");
	}
	run_together(f, sends, JOBS);
	int created[2] = {0, 0};
	for (int i = 0; i < JOBS; i++) {
		assert_int_equal(sends[i].job.answer, 0);
		created[i % 2] += sends[i].job.created;
		/* Each user's answers all name their user's one message. */
		assert_string_equal(sends[i].job.id, sends[i % 2].job.id);
	}
	assert_int_equal(created[0], 1);
	assert_int_equal(created[1], 1);
	assert_string_not_equal(sends[0].job.id, sends[1].job.id);
	assert_int_equal(messages_of(f, &f->ada), 1);
	assert_int_equal(messages_of(f, &f->bob), 1);
	/* Another body under the same key, in a later batch: a conflict. */
	prepare(&sends[0], f->ada.id, "something else", "order-4711");
	run_together(f, sends, 1);
	assert_int_equal(sends[0].job.answer, 1);
	assert_int_equal(sends[0].job.refusal.status, 409);
}

static void test_the_limit_counts_the_sends_before_it_in_its_batch(void **state) {
	struct queue_fixture *f = *state;
	static struct send sends[JOBS];

	f->config.proactive_limit = 3;
	for (int i = 0; i < JOBS; i++) {
		prepare(&sends[i], i % 2 ? f->bob.id : f->ada.id, "limited", NULL);
	}
	run_together(f, sends, JOBS);
	int accepted[2] = {0, 0}, limited = 0;
	for (int i = 0; i < JOBS; i++) {
		if (sends[i].job.answer == 0) {
			accepted[i % 2]++;
			continue;
		}
		assert_int_equal(sends[i].job.answer, 1);
		assert_int_equal(sends[i].job.refusal.status, 429);
		assert_true(sends[i].job.refusal.retry_after_s >= 1);
		limited++;
	}
	assert_int_equal(accepted[0] + accepted[1] + limited, JOBS);
	assert_int_equal(accepted[0], messages_of(f, &f->ada));
	assert_int_equal(accepted[1], messages_of(f, &f->bob));
	assert_int_equal(accepted[0], 3);
	assert_int_equal(accepted[1], 3);
}

int main(void) {
	if (on_postgres() && !cluster_url()) {
		return 77; /* skipped */
	}
	log_setup(LOG_ERROR, false);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_a_failing_send_takes_back_only_its_own_writes,
				queue_setup, queue_teardown),
		cmocka_unit_test_setup_teardown(test_one_key_in_one_batch_makes_one_message, queue_setup,
				queue_teardown),
		cmocka_unit_test_setup_teardown(test_the_limit_counts_the_sends_before_it_in_its_batch,
				queue_setup, queue_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
