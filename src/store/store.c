#include "store/store.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "store/backend.h"
#include "utf8.h"
#include "wait.h"

int store_open(const char *url, const struct store_options *o, struct store **ret_store) {
	static const struct store_options defaults = {.sync = STORE_SYNC_GROUP};
	if (!o) {
		o = &defaults;
	}
	if (strncmp(url, "sqlite:", 7) == 0) {
		return store_sqlite_open(url + 7, o, ret_store);
	}
	if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
		return store_postgres_open(url, o, ret_store);
	}
	return -EINVAL;
}

void store_close(struct store *s) {
	if (s) {
		s->ops->close(s);
	}
}

int store_durable(struct store *s, void (*done)(void *ctx), void *ctx) {
	return s->ops->durable ? s->ops->durable(s, done, ctx) : 1;
}

bool store_single_writer(const struct store *s) {
	return s->ops->single_writer;
}

static void durable_wake(void *ctx) {
	wait_once_signal(ctx);
}

void store_durable_wait(struct store *s) {
	struct wait_once w = WAIT_ONCE_INIT;
	if (store_durable(s, durable_wake, &w) != 0) {
		return; /* durable already, or no memory to wait: the commit itself stands */
	}
	wait_once_wait(&w);
}

int store_ping(struct store *s) {
	return s->ops->ping(s);
}

int store_counts(struct store *s, int64_t *ret_users, int64_t *ret_phones) {
	return s->ops->counts(s, ret_users, ret_phones);
}

int store_schema_version(struct store *s, int *ret_version) {
	return s->ops->schema_version(s, ret_version);
}

int store_name_check(const char *name, const char **reterr_why) {
	const unsigned char *u = (const unsigned char *)name;
	size_t len = strlen(name);
	const char *why = NULL;
	bool blank = true;

	if (len >= STORE_NAME_SIZE) {
		why = "the name is longer than 200 bytes";
	}
	for (size_t i = 0; !why && i < len;) {
		uint32_t cp;
		int n = utf8_decode(u + i, len - i, &cp);
		if (n < 0) {
			why = "the name is not valid UTF-8";
		} else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
			/* A tab or a newline would also break user list's tab-separated lines. */
			why = "the name has a control character";
		} else {
			blank = blank && utf8_is_space(cp); /* controls are refused above */
			i += (size_t)n;
		}
	}
	if (!why && blank) {
		why = "the name is empty or only white space";
	}
	if (why && reterr_why) {
		*reterr_why = why;
	}
	return why ? -EINVAL : 0;
}

int store_user_add(struct store *s, const char *name, const char *const *phones, size_t nphones,
		struct store_user *ret_user, size_t *reterr_index) {
	char id[STORE_ID_SIZE];
	size_t bad = 0;
	int r;

	if (store_name_check(name, NULL) < 0) {
		return -EINVAL;
	}
	if (nphones > STORE_MAX_PHONES) {
		return -ENOSPC;
	}
	r = ids_random_hex("", 16, id, sizeof(id));
	if (r < 0) {
		return r;
	}
	r = s->ops->user_add(s, id, name, phones, nphones, ids_now(), &bad);
	if (r == -EEXIST && reterr_index) {
		*reterr_index = bad;
	}
	if (r < 0) {
		return r;
	}
	return ret_user ? s->ops->user_get(s, id, ret_user) : 0;
}

int store_user_get(struct store *s, const char *id, struct store_user *ret_user) {
	return s->ops->user_get(s, id, ret_user);
}

int store_user_by_phone(struct store *s, const char *phone, struct store_user *ret_user) {
	return s->ops->user_by_phone(s, phone, ret_user);
}

int store_route_lookup(struct store *s, const char *phone, struct store_user *ret_user,
		bool *ret_known, bool *ret_opted_out) {
	return s->ops->route_lookup(s, phone, ret_user, ret_known, ret_opted_out);
}

int store_tx_begin(struct store *s) {
	return s->ops->tx_begin(s);
}

int store_tx_commit(struct store *s) {
	return s->ops->tx_commit(s);
}

void store_tx_rollback(struct store *s) {
	s->ops->tx_rollback(s);
}

/* Transitional: until the store waits for durability inside every commit, the same as
 * store_tx_commit followed by store_durable. */
struct commit_then {
	store_durable_cb done;
	void *ctx;
};

static void commit_then_fire(void *vctx) {
	struct commit_then *c = vctx;
	c->done(c->ctx, 0);
	free(c);
}

int store_tx_commit_then(struct store *s, store_durable_cb done, void *ctx) {
	int r = store_tx_commit(s);
	if (r < 0) {
		return r;
	}
	struct commit_then *c = malloc(sizeof(*c));
	if (!c) {
		store_durable_wait(s);
		done(ctx, 0);
		return 0;
	}
	c->done = done;
	c->ctx = ctx;
	r = store_durable(s, commit_then_fire, c);
	if (r != 0) {
		if (r < 0) {
			store_durable_wait(s);
		}
		commit_then_fire(c);
	}
	return 0;
}

int store_user_delete(struct store *s, const char *id) {
	return s->ops->user_delete(s, id);
}

int store_user_list(struct store *s, store_user_cb cb, void *ctx) {
	return s->ops->user_list(s, cb, ctx);
}

int store_phone_add(struct store *s, const char *id, const char *phone) {
	return s->ops->phone_add(s, id, phone);
}

int store_phone_remove(struct store *s, const char *id, const char *phone) {
	return s->ops->phone_remove(s, id, phone);
}

int store_import(struct store *s, const struct store_import_row *rows, size_t n,
		size_t *reterr_row) {
	char(*ids)[STORE_ID_SIZE];
	size_t bad = 0;
	int r = 0;

	ids = calloc(n ? n : 1, sizeof(*ids));
	if (!ids) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		if (store_name_check(rows[i].name, NULL) < 0) {
			bad = i;
			r = -EINVAL;
		} else if (rows[i].nphones > STORE_MAX_PHONES) {
			bad = i;
			r = -ENOSPC;
		} else {
			r = ids_random_hex("", 16, ids[i], sizeof(ids[i]));
		}
	}
	if (r == 0) {
		r = s->ops->import(s, rows, n, ids, ids_now(), &bad);
	}
	if (r < 0 && reterr_row) {
		*reterr_row = bad;
	}
	free(ids);
	return r;
}

int store_answer_for(struct store *s, const char *sid, char **ret_reply,
		int64_t *ret_outbound_id) {
	return s->ops->answer_for(s, sid, ret_reply, ret_outbound_id);
}

int store_inbound_add(struct store *s, const char *user_id, const struct store_message *m,
		int64_t *ret_id) {
	struct store_message copy = *m;
	copy.direction = STORE_INBOUND;
	return s->ops->message_add(s, user_id, &copy, ret_id);
}

int store_outbound_add(struct store *s, const char *user_id, const struct store_message *m,
		int64_t *ret_id) {
	struct store_message copy = *m;
	copy.direction = STORE_OUTBOUND;
	return s->ops->message_add(s, user_id, &copy, ret_id);
}

int store_status_rank(const char *status) {
	static const struct {
		const char *name;
		int rank;
	} ranks[] = {
		{"accepted", 1}, {"scheduled", 1}, {"queued", 2}, {"sending", 3},
		{"sent", 4}, {"partially_delivered", 5}, {"delivered", 6}, {"undelivered", 6},
		{"failed", 6}, {"canceled", 6}, {"read", 7},
	};
	for (size_t i = 0; i < sizeof(ranks) / sizeof(ranks[0]); i++) {
		if (strcmp(status, ranks[i].name) == 0) {
			return ranks[i].rank;
		}
	}
	return 0;
}

int store_status_update(struct store *s, int64_t outbound_id, const char *sid,
		const char *status, const char *error_code, bool *ret_changed) {
	return s->ops->status_update(s, outbound_id, sid, status, store_status_rank(status),
			error_code, ret_changed);
}

/* A status update by SID that changes nothing (rank 0) is the backends' lookup of it. */
int store_outbound_sid_known(struct store *s, const char *sid) {
	bool changed;
	return s->ops->status_update(s, 0, sid, "", 0, NULL, &changed);
}

int store_message_get(struct store *s, const char *user_id, int64_t id, store_message_cb cb,
		void *ctx) {
	return s->ops->message_get(s, user_id, id, cb, ctx);
}

int store_messages_list(struct store *s, const char *user_id, int limit, store_message_cb cb,
		void *ctx) {
	return s->ops->messages_list(s, user_id, limit, cb, ctx);
}

int store_history(struct store *s, const char *user_id, int64_t before_id, int limit,
		store_message_cb cb, void *ctx) {
	return s->ops->history(s, user_id, before_id, limit, cb, ctx);
}

int store_note_add(struct store *s, const char *user_id, const char *text) {
	return s->ops->note_add(s, user_id, text, ids_now());
}

int store_notes_list(struct store *s, const char *user_id, store_note_cb cb, void *ctx) {
	return s->ops->notes_list(s, user_id, cb, ctx);
}

int store_notes_clear(struct store *s, const char *user_id) {
	return s->ops->notes_clear(s, user_id);
}

int store_optout_set(struct store *s, const char *phone, bool opted_out) {
	return s->ops->optout_set(s, phone, opted_out, ids_now());
}

int store_optout_get(struct store *s, const char *phone, bool *ret_opted_out) {
	return s->ops->optout_get(s, phone, ret_opted_out);
}

int store_onboarding_claim(struct store *s, const char *phone, int64_t now, int window_s) {
	return s->ops->onboarding_claim(s, phone, now, window_s);
}

int store_sender_take(struct store *s, const char *phone, int count, int window_s) {
	return s->ops->sender_take ? s->ops->sender_take(s, phone, count, window_s) : -ENOTSUP;
}

int store_outbound_segments(struct store *s, const char *user_id, int64_t since,
		int64_t *ret_segments) {
	return s->ops->outbound_segments(s, user_id, since, ret_segments);
}

int store_outbox_claim_agent(struct store *s, int64_t now_ms, int64_t lease_until_ms,
		struct store_outbox *ret) {
	return s->ops->outbox_claim_agent(s, now_ms, lease_until_ms, ret);
}

int store_outbox_replied(struct store *s, int64_t id, const char *user_id,
		const struct store_message *reply, int64_t now_ms) {
	return s->ops->outbox_replied(s, id, user_id, reply, now_ms);
}

int store_outbox_ready(struct store *s, int64_t now_ms, int limit, store_outbox_cb cb,
		void *ctx) {
	return s->ops->outbox_ready(s, now_ms, limit, cb, ctx);
}

int store_outbox_update(struct store *s, int64_t id, const char *state, int64_t next_at_ms,
		bool attempt, const char *error, int64_t now_ms) {
	return s->ops->outbox_update(s, id, state, next_at_ms, attempt, error, now_ms);
}

int store_outbox_sent(struct store *s, int64_t id, int64_t outbound_id, const char *sid,
		const char *status) {
	return s->ops->outbox_sent(s, id, outbound_id, sid, status);
}

int store_outbox_list(struct store *s, const char *state, int limit, store_outbox_cb cb,
		void *ctx) {
	return s->ops->outbox_list(s, state, limit, cb, ctx);
}

int store_outbox_retry(struct store *s, int64_t id, int64_t now_ms, int *ret_count) {
	return s->ops->outbox_retry(s, id, now_ms, ret_count);
}

int store_outbox_depth(struct store *s, int64_t *ret_depth) {
	return s->ops->outbox_depth(s, ret_depth);
}

int store_outbound_state(struct store *s, int64_t id, char sid[STORE_SID_SIZE],
		char status[24]) {
	return s->ops->outbound_state(s, id, sid, status);
}

int store_usage(struct store *s, int64_t since, store_usage_cb cb, void *ctx) {
	return s->ops->usage(s, since, cb, ctx);
}

/* ---- per-thread connections ---- */

/* A thread ended: its connection goes with it. */
static void conn_release(void *p) {
	struct store_conn *c = p;
	struct store_conns *r = c->owner;

	pthread_mutex_lock(&r->mu);
	for (struct store_conn **pp = &r->head; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	pthread_mutex_unlock(&r->mu);
	r->free_conn(c);
}

int store_conns_init(struct store_conns *r, void (*free_conn)(struct store_conn *c)) {
	memset(r, 0, sizeof(*r));
	if (pthread_key_create(&r->key, conn_release) != 0) {
		return -ENOMEM;
	}
	pthread_mutex_init(&r->mu, NULL);
	r->free_conn = free_conn;
	return 0;
}

struct store_conn *store_conns_mine(struct store_conns *r) {
	return pthread_getspecific(r->key);
}

int store_conns_add(struct store_conns *r, struct store_conn *c) {
	c->owner = r;
	if (pthread_setspecific(r->key, c) != 0) {
		return -ENOMEM;
	}
	pthread_mutex_lock(&r->mu);
	c->next = r->head;
	r->head = c;
	pthread_mutex_unlock(&r->mu);
	return 0;
}

void store_conns_destroy(struct store_conns *r) {
	pthread_key_delete(r->key);
	for (struct store_conn *c = r->head, *next; c; c = next) {
		next = c->next;
		r->free_conn(c);
	}
	r->head = NULL;
	pthread_mutex_destroy(&r->mu);
}
