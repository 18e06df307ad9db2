#pragma once
/* ratelimit: token buckets keyed by a string (a sender's number). Thread-safe: the table
 * is split into shards, each with its own mutex. Memory is bounded: idle buckets are
 * swept when a shard fills. Knows nothing of the other modules. */
#include <stdbool.h>
#include <stdint.h>

struct ratelimit;

/* A bucket holds count tokens and refills count per window_s seconds. count 0: every
 * take succeeds. -ENOMEM. */
int ratelimit_create(int count, int window_s, struct ratelimit **ret);
void ratelimit_destroy(struct ratelimit *rl); /* NULL is fine */

/* Takes one token from key's bucket at time now_ms (monotonic milliseconds). True if
 * there was one. */
bool ratelimit_take(struct ratelimit *rl, const char *key, int64_t now_ms);

/* Monotonic milliseconds, for now_ms. */
int64_t ratelimit_now_ms(void);
