/* Tests of the token-bucket rate limiter, with explicit now_ms values: count 0, capacity,
 * refill over time, independent keys, many keys, and that a full table sweeps the buckets
 * that have refilled instead of refusing new senders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"

#define T0 1000000 /* an arbitrary monotonic start, in ms */

static struct ratelimit *create(int count, int window_s) {
	struct ratelimit *rl = NULL;
	assert_int_equal(ratelimit_create(count, window_s, &rl), 0);
	assert_non_null(rl);
	return rl;
}

static void test_count_zero_always_allows(void **state) {
	(void)state;
	struct ratelimit *rl = create(0, 60);

	for (int i = 0; i < 10000; i++) {
		assert_true(ratelimit_take(rl, "+15550100101", T0));
	}
	ratelimit_destroy(rl);
}

static void test_takes_capacity_tokens_then_refuses(void **state) {
	(void)state;
	struct ratelimit *rl = create(3, 60);

	assert_true(ratelimit_take(rl, "+15550100101", T0));
	assert_true(ratelimit_take(rl, "+15550100101", T0 + 1));
	assert_true(ratelimit_take(rl, "+15550100101", T0 + 2));
	assert_false(ratelimit_take(rl, "+15550100101", T0 + 3));
	assert_false(ratelimit_take(rl, "+15550100101", T0 + 4));
	ratelimit_destroy(rl);
}

static void test_refills_count_per_window(void **state) {
	(void)state;
	/* 2 per 60 s: one token every 30 s. */
	struct ratelimit *rl = create(2, 60);
	const char *k = "+15550100101";

	assert_true(ratelimit_take(rl, k, T0));
	assert_true(ratelimit_take(rl, k, T0));
	assert_false(ratelimit_take(rl, k, T0));
	assert_false(ratelimit_take(rl, k, T0 + 29000)); /* 0.97 of a token */
	assert_true(ratelimit_take(rl, k, T0 + 31000));  /* 1.03: one */
	assert_false(ratelimit_take(rl, k, T0 + 31000));
	assert_false(ratelimit_take(rl, k, T0 + 45000)); /* 0.53 */

	/* A long idle time refills to the capacity, not beyond. */
	int64_t later = T0 + 3600 * 1000;
	assert_true(ratelimit_take(rl, k, later));
	assert_true(ratelimit_take(rl, k, later));
	assert_false(ratelimit_take(rl, k, later));
	ratelimit_destroy(rl);
}

static void test_time_going_backwards_adds_nothing(void **state) {
	(void)state;
	struct ratelimit *rl = create(1, 1);
	const char *k = "+15550100101";

	assert_true(ratelimit_take(rl, k, T0 + 5000));
	assert_false(ratelimit_take(rl, k, T0));
	assert_false(ratelimit_take(rl, k, T0 + 4000));
	assert_true(ratelimit_take(rl, k, T0 + 6100));
	ratelimit_destroy(rl);
}

static void test_keys_are_independent(void **state) {
	(void)state;
	struct ratelimit *rl = create(1, 60);

	assert_true(ratelimit_take(rl, "+15550100101", T0));
	assert_false(ratelimit_take(rl, "+15550100101", T0));
	assert_true(ratelimit_take(rl, "+15550100102", T0));
	assert_true(ratelimit_take(rl, "+442071838750", T0));
	assert_false(ratelimit_take(rl, "+15550100102", T0));
	/* A key that is a prefix of another is another key. */
	assert_true(ratelimit_take(rl, "+1555010010", T0));
	assert_true(ratelimit_take(rl, "whatsapp:+15550100101", T0));
	ratelimit_destroy(rl);
}

static void test_many_distinct_keys_keep_their_own_buckets(void **state) {
	(void)state;
	enum { KEYS = 100000 };
	struct ratelimit *rl = create(1, 1);
	char key[32];
	int refused = 0, allowed_again = 0, allowed_later = 0;

	for (int i = 0; i < KEYS; i++) {
		snprintf(key, sizeof(key), "+1555%07d", i);
		refused += !ratelimit_take(rl, key, T0);
	}
	assert_int_equal(refused, 0);
	for (int i = 0; i < KEYS; i++) {
		snprintf(key, sizeof(key), "+1555%07d", i);
		allowed_again += ratelimit_take(rl, key, T0 + 10);
	}
	assert_int_equal(allowed_again, 0);
	for (int i = 0; i < KEYS; i++) {
		snprintf(key, sizeof(key), "+1555%07d", i);
		allowed_later += ratelimit_take(rl, key, T0 + 2000);
	}
	assert_int_equal(allowed_later, KEYS);
	ratelimit_destroy(rl);
}

/* White box: the table is split in 64 shards by FNV-1a of the key, and a shard sweeps its
 * refilled buckets when it holds 16384. These keys all land in one shard, so the sweep is
 * what lets a new sender in once the others have gone quiet. */
static uint64_t fnv1a(const char *s) {
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++) {
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	}
	return h;
}

#define SHARD_FILL 16384

static void test_full_shard_sweeps_refilled_buckets_and_keeps_active_ones(void **state) {
	(void)state;
	enum { NKEYS = SHARD_FILL + 1 };
	char(*keys)[24] = calloc(NKEYS, sizeof(*keys));
	struct ratelimit *rl = create(1, 1);
	int n = 0, refused = 0, allowed = 0;

	assert_non_null(keys);
	for (long i = 0; n < NKEYS; i++) {
		char k[24];
		snprintf(k, sizeof(k), "+1%013ld", i);
		if (fnv1a(k) % 64 == 5) {
			memcpy(keys[n++], k, sizeof(k));
		}
	}
	/* Fill the shard with senders that have just used their token. */
	for (int i = 0; i < SHARD_FILL; i++) {
		refused += !ratelimit_take(rl, keys[i], T0);
	}
	assert_int_equal(refused, 0);

	/* 3 s later the even half speaks again (their buckets are empty once more). */
	int64_t t1 = T0 + 3000;
	for (int i = 0; i < SHARD_FILL; i += 2) {
		allowed += ratelimit_take(rl, keys[i], t1);
	}
	assert_int_equal(allowed, SHARD_FILL / 2);

	/* A new sender: the odd half (refilled, idle) is swept to make room. */
	assert_true(ratelimit_take(rl, keys[SHARD_FILL], t1));
	assert_false(ratelimit_take(rl, keys[SHARD_FILL], t1));

	/* The active half was not forgotten: still no token for them. */
	allowed = 0;
	for (int i = 0; i < SHARD_FILL; i += 2) {
		allowed += ratelimit_take(rl, keys[i], t1);
	}
	assert_int_equal(allowed, 0);

	/* And the swept ones come back with a full bucket. */
	allowed = 0;
	for (int i = 1; i < 200; i += 2) {
		allowed += ratelimit_take(rl, keys[i], t1);
	}
	assert_int_equal(allowed, 100);

	ratelimit_destroy(rl);
	free(keys);
}

struct taker {
	struct ratelimit *rl;
	int allowed;
};

static void *take_many(void *p) {
	struct taker *t = p;
	for (int i = 0; i < 1000; i++) {
		t->allowed += ratelimit_take(t->rl, "+15550100101", T0);
	}
	return NULL;
}

static void test_concurrent_takes_never_exceed_the_capacity(void **state) {
	(void)state;
	struct ratelimit *rl = create(500, 3600);
	pthread_t th[8];
	struct taker t[8];
	int total = 0;

	for (int i = 0; i < 8; i++) {
		t[i] = (struct taker){.rl = rl};
		assert_int_equal(pthread_create(&th[i], NULL, take_many, &t[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		total += t[i].allowed;
	}
	assert_int_equal(total, 500);
	ratelimit_destroy(rl);
}

static void test_now_ms_is_monotonic(void **state) {
	(void)state;
	int64_t a = ratelimit_now_ms();
	int64_t b = ratelimit_now_ms();
	assert_true(a > 0);
	assert_true(b >= a);
}

static void test_destroy_accepts_null(void **state) {
	(void)state;
	ratelimit_destroy(NULL);
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count_zero_always_allows),
		cmocka_unit_test(test_takes_capacity_tokens_then_refuses),
		cmocka_unit_test(test_refills_count_per_window),
		cmocka_unit_test(test_time_going_backwards_adds_nothing),
		cmocka_unit_test(test_keys_are_independent),
		cmocka_unit_test(test_many_distinct_keys_keep_their_own_buckets),
		cmocka_unit_test(test_full_shard_sweeps_refilled_buckets_and_keeps_active_ones),
		cmocka_unit_test(test_concurrent_takes_never_exceed_the_capacity),
		cmocka_unit_test(test_now_ms_is_monotonic),
		cmocka_unit_test(test_destroy_accepts_null),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
