#pragma once
/* The table each backend fills; only store.c calls through it. */
#include <pthread.h>

#include "store/store.h"

struct store_ops {
	void (*close)(struct store *s);
	int (*ping)(struct store *s);
	/* NULL: every commit is durable when it returns. */
	int (*durable)(struct store *s, void (*done)(void *ctx), void *ctx);
	/* Writers take turns (one write transaction at a time in the process): a single
	 * writer thread committing batches loses no parallelism. */
	bool single_writer;
	int (*counts)(struct store *s, int64_t *ret_users, int64_t *ret_phones);
	int (*schema_version)(struct store *s, int *ret_version);
	int (*user_add)(struct store *s, const char *id, const char *name,
			const char *const *phones, size_t nphones, int64_t now, size_t *reterr_index);
	int (*user_get)(struct store *s, const char *id, struct store_user *ret_user);
	int (*user_by_phone)(struct store *s, const char *phone, struct store_user *ret_user);
	int (*user_delete)(struct store *s, const char *id);
	int (*route_lookup)(struct store *s, const char *phone, struct store_user *ret_user,
			bool *ret_known, bool *ret_opted_out);
	int (*tx_begin)(struct store *s);
	int (*tx_commit)(struct store *s);
	void (*tx_rollback)(struct store *s);
	int (*user_list)(struct store *s, store_user_cb cb, void *ctx);
	int (*phone_add)(struct store *s, const char *id, const char *phone);
	int (*phone_remove)(struct store *s, const char *id, const char *phone);
	int (*import)(struct store *s, const struct store_import_row *rows, size_t n,
			char (*ids)[STORE_ID_SIZE], int64_t now, size_t *reterr_row);
	int (*answer_for)(struct store *s, const char *sid, char **ret_reply, int64_t *ret_id);
	int (*message_add)(struct store *s, const char *user_id, const struct store_message *m,
			int64_t *ret_id);
	int (*status_update)(struct store *s, int64_t id, const char *sid, const char *status,
			int rank, const char *error_code, bool *ret_changed);
	int (*message_get)(struct store *s, const char *user_id, int64_t id, store_message_cb cb,
			void *ctx);
	int (*messages_list)(struct store *s, const char *user_id, int limit, store_message_cb cb,
			void *ctx);
	int (*history)(struct store *s, const char *user_id, int64_t before_id, int limit,
			store_message_cb cb, void *ctx);
	int (*note_add)(struct store *s, const char *user_id, const char *text, int64_t now);
	int (*notes_list)(struct store *s, const char *user_id, store_note_cb cb, void *ctx);
	int (*notes_clear)(struct store *s, const char *user_id);
	int (*optout_set)(struct store *s, const char *phone, bool opted_out, int64_t now);
	int (*optout_get)(struct store *s, const char *phone, bool *ret);
	int (*onboarding_claim)(struct store *s, const char *phone, int64_t now, int window_s);
	/* NULL: the backend keeps no shared limits (store_sender_take is -ENOTSUP). */
	int (*sender_take)(struct store *s, const char *phone, int count, int window_s);
	int (*outbound_segments)(struct store *s, const char *user_id, int64_t since,
			int64_t *ret_segments);
	int (*outbox_claim_agent)(struct store *s, int64_t now_ms, int64_t lease_until_ms,
			struct store_outbox *ret);
	int (*outbox_replied)(struct store *s, int64_t id, const char *user_id,
			const struct store_message *reply, int64_t now_ms);
	int (*outbox_ready)(struct store *s, int64_t now_ms, int limit, store_outbox_cb cb,
			void *ctx);
	int (*outbox_update)(struct store *s, int64_t id, const char *state, int64_t next_at_ms,
			bool attempt, const char *error, int64_t now_ms);
	int (*outbox_sent)(struct store *s, int64_t id, int64_t outbound_id, const char *sid,
			const char *status);
	int (*outbox_list)(struct store *s, const char *state, int limit, store_outbox_cb cb,
			void *ctx);
	int (*outbox_retry)(struct store *s, int64_t id, int64_t now_ms, int *ret_count);
	int (*outbox_depth)(struct store *s, int64_t *ret_depth);
	int (*outbound_state)(struct store *s, int64_t id, char *sid, char *status);
	int (*usage)(struct store *s, int64_t since, store_usage_cb cb, void *ctx);
};

struct store {
	const struct store_ops *ops;
};

/* Per-thread connections, for a backend: each thread makes its own on first use and keeps
 * it; it is freed when the thread ends, or when the store closes. A backend's connection
 * struct begins with a struct store_conn. */
struct store_conn {
	struct store_conn *next;
	struct store_conns *owner;
};

struct store_conns {
	pthread_key_t key;
	pthread_mutex_t mu; /* guards head */
	struct store_conn *head;
	void (*free_conn)(struct store_conn *c);
};

/* 0 or -ENOMEM. */
int store_conns_init(struct store_conns *r, void (*free_conn)(struct store_conn *c));
/* This thread's connection, or NULL before it has one. */
struct store_conn *store_conns_mine(struct store_conns *r);
/* Makes c this thread's connection. 0, or -ENOMEM with c left unregistered (the caller's
 * to free). */
int store_conns_add(struct store_conns *r, struct store_conn *c);
/* Frees every connection: the store is closing, and no thread uses it any more. */
void store_conns_destroy(struct store_conns *r);

int store_sqlite_open(const char *path, const struct store_options *o, struct store **ret);
int store_postgres_open(const char *url, const struct store_options *o, struct store **ret);
