#include "ratelimit.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SHARDS 64
#define SHARD_BUCKETS 4096     /* hash slots per shard */
#define SHARD_MAX_ENTRIES 16384 /* beyond it, full (idle) buckets are swept */
#define KEY_MAX 40

struct entry {
	char key[KEY_MAX];
	double tokens;
	int64_t at_ms;
	struct entry *next;
};

struct shard {
	pthread_mutex_t mu;
	struct entry *slot[SHARD_BUCKETS];
	int entries;
};

struct ratelimit {
	double capacity;
	double per_ms; /* refill */
	struct shard shard[SHARDS];
};

int64_t ratelimit_now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ratelimit_create(int count, int window_s, struct ratelimit **ret) {
	struct ratelimit *rl = calloc(1, sizeof(*rl));
	if (!rl) {
		return -ENOMEM;
	}
	rl->capacity = count;
	rl->per_ms = window_s > 0 ? (double)count / (window_s * 1000.0) : 0;
	for (int i = 0; i < SHARDS; i++) {
		pthread_mutex_init(&rl->shard[i].mu, NULL);
	}
	*ret = rl;
	return 0;
}

void ratelimit_destroy(struct ratelimit *rl) {
	if (!rl) {
		return;
	}
	for (int i = 0; i < SHARDS; i++) {
		for (int j = 0; j < SHARD_BUCKETS; j++) {
			for (struct entry *e = rl->shard[i].slot[j], *n; e; e = n) {
				n = e->next;
				free(e);
			}
		}
		pthread_mutex_destroy(&rl->shard[i].mu);
	}
	free(rl);
}

static uint64_t hash(const char *s) {
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++) {
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	}
	return h;
}

static void refill(const struct ratelimit *rl, struct entry *e, int64_t now_ms) {
	if (now_ms > e->at_ms) {
		e->tokens += (double)(now_ms - e->at_ms) * rl->per_ms;
		if (e->tokens > rl->capacity) {
			e->tokens = rl->capacity;
		}
		e->at_ms = now_ms;
	}
}

/* Drops buckets that have refilled completely: forgetting them changes nothing. */
static void sweep(const struct ratelimit *rl, struct shard *sh, int64_t now_ms) {
	for (int j = 0; j < SHARD_BUCKETS; j++) {
		for (struct entry **pp = &sh->slot[j]; *pp;) {
			struct entry *e = *pp;
			refill(rl, e, now_ms);
			if (e->tokens >= rl->capacity) {
				*pp = e->next;
				free(e);
				sh->entries--;
			} else {
				pp = &e->next;
			}
		}
	}
}

bool ratelimit_take(struct ratelimit *rl, const char *key, int64_t now_ms) {
	if (rl->capacity <= 0) {
		return true;
	}
	uint64_t h = hash(key);
	struct shard *sh = &rl->shard[h % SHARDS];
	size_t slot = (size_t)((h / SHARDS) % SHARD_BUCKETS);
	bool ok;

	pthread_mutex_lock(&sh->mu);
	struct entry *e = sh->slot[slot];
	while (e && strncmp(e->key, key, KEY_MAX - 1) != 0) {
		e = e->next;
	}
	if (!e) {
		if (sh->entries >= SHARD_MAX_ENTRIES) {
			sweep(rl, sh, now_ms);
		}
		e = sh->entries < SHARD_MAX_ENTRIES ? calloc(1, sizeof(*e)) : NULL;
		if (!e) {
			/* Table full of active senders (or no memory): refuse rather than grow. */
			pthread_mutex_unlock(&sh->mu);
			return false;
		}
		strncpy(e->key, key, KEY_MAX - 1);
		e->tokens = rl->capacity;
		e->at_ms = now_ms;
		e->next = sh->slot[slot];
		sh->slot[slot] = e;
		sh->entries++;
	}
	refill(rl, e, now_ms);
	ok = e->tokens >= 1.0;
	if (ok) {
		e->tokens -= 1.0;
	}
	pthread_mutex_unlock(&sh->mu);
	return ok;
}
