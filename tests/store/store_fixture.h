#pragma once
/* The fixture and helpers of the store tests that run on every backend (test_store.c,
 * test_users.c, test_messages.c, test_outbox.c, test_tx.c: one executable, run as `store`
 * on SQLite and as `store-postgres` on PostgreSQL). Each test gets a fresh database:
 * SQLite in its own temporary directory, or (SMSROUTER_TEST_STORE_BACKEND=postgres) a new
 * database on the private cluster named by SMSROUTER_TEST_PG_URL. Include after cmocka.h. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_testdb.h"
#include "store/store.h"
#include "../tmpstore.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct fixture {
	char dir[64];
	char db[40]; /* PostgreSQL: the test's database */
	char url[512];
	struct store *s;
};

static inline bool on_postgres(void) {
	const char *b = getenv("SMSROUTER_TEST_STORE_BACKEND");
	return b && strcmp(b, "postgres") == 0;
}

static inline int setup(void **state) {
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f) {
		return -1;
	}
	if (on_postgres()) {
		if (create_db(f->db, f->url, sizeof(f->url)) < 0 ||
				store_open(f->url, NULL, &f->s) != 0) {
			if (f->db[0]) {
				drop_db(f->db);
			}
			free(f);
			return -1;
		}
		*state = f;
		return 0;
	}
	if (tmpstore_open("store", f->dir, f->url, &f->s) != 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static inline int teardown(void **state) {
	struct fixture *f = *state;
	store_close(f->s);
	if (f->db[0]) {
		drop_db(f->db);
	} else {
		tmpstore_remove(f->dir);
	}
	free(f);
	return 0;
}

/* Adds a user with the given phones, asserting success. */
static inline void add_user(struct store *s, const char *name, const char *const *phones, size_t n,
                     struct store_user *ret) {
	size_t bad = 999;
	int r = store_user_add(s, name, phones, n, ret, &bad);
	assert_int_equal(r, 0);
	assert_int_equal(bad, 999); /* written only on -EEXIST */
}

static inline void add_user1(struct store *s, const char *name, const char *phone,
                      struct store_user *ret) {
	const char *phones[] = {phone};
	add_user(s, name, phones, 1, ret);
}

static inline struct store_message message(const char *sid, const char *from, const char *to,
                                    const char *body, const char *status, int segments,
                                    int64_t created_at) {
	struct store_message m = {
	                .sid = sid,
	                .from = from,
	                .to = to,
	                .body = body,
	                .status = status,
	                .encoding = "GSM-7",
	                .segments = segments,
	                .created_at = created_at,
	};
	return m;
}

static inline int64_t add_inbound(struct store *s, const char *user_id, const char *sid, const char *body,
                           int64_t created_at) {
	struct store_message m = message(sid, "+15550100101", "+15550199999", body, "received", 1,
	                                 created_at);
	int64_t id = 0;
	assert_int_equal(store_inbound_add(s, user_id, &m, &id), 0);
	assert_true(id > 0);
	return id;
}

static inline int64_t add_outbound(struct store *s, const char *user_id, const char *body,
                            int64_t reply_to, int64_t created_at) {
	struct store_message m = message(NULL, "+15550199999", "+15550100101", body, "queued", 1,
	                                 created_at);
	m.reply_to = reply_to;
	int64_t id = 0;
	assert_int_equal(store_outbound_add(s, user_id, &m, &id), 0);
	assert_true(id > 0);
	return id;
}

/* ---- collecting callbacks ---- */

#define MAX_SEEN 64

struct seen_messages {
	size_t n;
	int64_t id[MAX_SEEN];
	char body[MAX_SEEN][64];
	char status[MAX_SEEN][32];
	char sid[MAX_SEEN][STORE_SID_SIZE];
	char media[MAX_SEEN][128];
	enum store_direction direction[MAX_SEEN];
	int64_t reply_to[MAX_SEEN];
	int64_t created_at[MAX_SEEN];
};

static inline int collect_message(void *ctx, const struct store_message *m) {
	struct seen_messages *c = ctx;
	assert_true(c->n < MAX_SEEN);
	c->id[c->n] = m->id;
	snprintf(c->body[c->n], sizeof(c->body[0]), "%s", m->body);
	snprintf(c->status[c->n], sizeof(c->status[0]), "%s", m->status);
	snprintf(c->sid[c->n], sizeof(c->sid[0]), "%s", m->sid ? m->sid : "(null)");
	snprintf(c->media[c->n], sizeof(c->media[0]), "%s",
	         m->media_json ? m->media_json : "(null)");
	c->direction[c->n] = m->direction;
	c->reply_to[c->n] = m->reply_to;
	c->created_at[c->n] = m->created_at;
	c->n++;
	return 0;
}

static inline void list_messages(struct store *s, const char *user_id, int limit,
                          struct seen_messages *out) {
	memset(out, 0, sizeof(*out));
	assert_int_equal(store_messages_list(s, user_id, limit, collect_message, out), 0);
}

/* The status of the outbound message id of user_id, as listed. */
static inline void status_of(struct store *s, const char *user_id, int64_t id, char *out, size_t size,
                      char *sid_out, size_t sid_size) {
	struct seen_messages seen;
	list_messages(s, user_id, MAX_SEEN, &seen);
	for (size_t i = 0; i < seen.n; i++) {
		if (seen.id[i] == id) {
			snprintf(out, size, "%s", seen.status[i]);
			if (sid_out) {
				snprintf(sid_out, sid_size, "%s", seen.sid[i]);
			}
			return;
		}
	}
	fail_msg("message %lld not listed", (long long)id);
}

struct seen_notes {
	size_t n;
	int index[MAX_SEEN];
	char text[MAX_SEEN][64];
};

static inline int collect_note(void *ctx, int index, const char *text) {
	struct seen_notes *c = ctx;
	assert_true(c->n < MAX_SEEN);
	c->index[c->n] = index;
	snprintf(c->text[c->n], sizeof(c->text[0]), "%s", text);
	c->n++;
	return 0;
}

static inline void list_notes(struct store *s, const char *user_id, struct seen_notes *out) {
	memset(out, 0, sizeof(*out));
	assert_int_equal(store_notes_list(s, user_id, collect_note, out), 0);
}

struct seen_users {
	size_t n;
	char id[MAX_SEEN][STORE_ID_SIZE];
	int stop_after; /* 0: never */
};

static inline int collect_user(void *ctx, const struct store_user *u) {
	struct seen_users *c = ctx;
	assert_true(c->n < MAX_SEEN);
	memcpy(c->id[c->n], u->id, STORE_ID_SIZE);
	c->n++;
	return c->stop_after > 0 && (int)c->n == c->stop_after ? 77 : 0;
}

static inline bool seen_user(const struct seen_users *c, const char *id) {
	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->id[i], id) == 0) {
			return true;
		}
	}
	return false;
}

static inline void assert_counts(struct store *s, int64_t users, int64_t phones) {
	int64_t u = -1, p = -1;
	assert_int_equal(store_counts(s, &u, &p), 0);
	assert_int_equal(u, users);
	assert_int_equal(p, phones);
}

/* An inbound message that is also queued in the outbox (rest replies). */
static inline int64_t add_queued(struct store *s, const char *user_id, const char *sid) {
	struct store_message m =
	                message(sid, "+15550100101", "+15550199999", sid, "received", 1, 0);
	int64_t id = 0;
	m.enqueue = true;
	assert_int_equal(store_inbound_add(s, user_id, &m, &id), 0);
	assert_true(id > 0);
	return id;
}

struct seen_outbox {
	size_t n;
	struct store_outbox row[MAX_SEEN];
	char body[MAX_SEEN][64];
};

static inline int collect_outbox(void *ctx, const struct store_outbox *o) {
	struct seen_outbox *c = ctx;
	assert_true(c->n < MAX_SEEN);
	c->row[c->n] = *o;
	snprintf(c->body[c->n], sizeof(c->body[0]), "%s", o->body ? o->body : "(null)");
	c->row[c->n].body = NULL;
	c->n++;
	return 0;
}

static inline void list_outbox(struct store *s, const char *state, struct seen_outbox *out) {
	memset(out, 0, sizeof(*out));
	assert_int_equal(store_outbox_list(s, state, MAX_SEEN, collect_outbox, out), 0);
}

static inline int64_t depth(struct store *s) {
	int64_t d = -1;
	assert_int_equal(store_outbox_depth(s, &d), 0);
	return d;
}

struct listed_phones {
	const char *id;
	struct store_user u;
	bool found;
};

static inline int find_listed(void *ctx, const struct store_user *u) {
	struct listed_phones *c = ctx;
	if (strcmp(u->id, c->id) == 0) {
		c->u = *u;
		c->found = true;
	}
	return 0;
}

/* Asserts that every way of reading user id gives exactly these phones, in this order. */
static inline void assert_phones(struct store *s, const char *id, const char *const *want, int n) {
	struct store_user got[3];
	struct listed_phones listed = {.id = id};

	assert_int_equal(store_user_get(s, id, &got[0]), 0);
	assert_int_equal(store_user_by_phone(s, want[n - 1], &got[1]), 0);
	assert_int_equal(store_user_list(s, find_listed, &listed), 0);
	assert_true(listed.found);
	got[2] = listed.u;
	for (int k = 0; k < 3; k++) {
		assert_string_equal(got[k].id, id);
		assert_int_equal(got[k].nphones, n);
		for (int i = 0; i < n; i++) {
			if (strcmp(got[k].phones[i], want[i]) != 0) {
				fail_msg("read %d, phone %d: got %s, want %s", k, i, got[k].phones[i],
				         want[i]);
			}
		}
	}
}

/* Each test runs on its own fresh store. */
/* store_stats's counts, a row per bucket, direction and outcome (rows that share one
 * summed), in the order they first come. */
#define MAX_STATS 32
struct seen_stats {
	size_t n;
	struct {
		int64_t t;
		bool inbound;
		char outcome[24];
		int64_t messages, segments;
	} row[MAX_STATS];
};

static inline int collect_stats(void *ctx, const struct store_stats_row *r) {
	struct seen_stats *c = ctx;
	for (size_t i = 0; i < c->n; i++) {
		if (c->row[i].t == r->t && c->row[i].inbound == r->inbound &&
				strcmp(c->row[i].outcome, r->outcome) == 0) {
			c->row[i].messages += r->messages;
			c->row[i].segments += r->segments;
			return 0;
		}
	}
	assert_true(c->n < MAX_STATS);
	c->row[c->n].t = r->t;
	c->row[c->n].inbound = r->inbound;
	snprintf(c->row[c->n].outcome, sizeof(c->row[c->n].outcome), "%s", r->outcome);
	c->row[c->n].messages = r->messages;
	c->row[c->n].segments = r->segments;
	c->n++;
	return 0;
}

static inline void list_stats(struct store *s, int64_t since, int64_t until, int64_t bucket,
		struct seen_stats *out) {
	memset(out, 0, sizeof(*out));
	assert_int_equal(store_stats(s, since, until, bucket, collect_stats, out), 0);
}

#define FIXTURE(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* The groups, one per file. */
extern const struct CMUnitTest store_users_tests[];
extern const size_t store_users_tests_count;
extern const struct CMUnitTest store_messages_tests[];
extern const size_t store_messages_tests_count;
extern const struct CMUnitTest store_outbox_tests[];
extern const size_t store_outbox_tests_count;
extern const struct CMUnitTest store_tx_tests[];
extern const size_t store_tx_tests_count;
extern const struct CMUnitTest store_attributes_tests[];
extern const size_t store_attributes_tests_count;
extern const struct CMUnitTest store_sends_tests[];
extern const size_t store_sends_tests_count;
extern const struct CMUnitTest store_events_tests[];
extern const size_t store_events_tests_count;
extern const struct CMUnitTest store_retention_tests[];
extern const size_t store_retention_tests_count;
extern const struct CMUnitTest store_stats_tests[];
extern const size_t store_stats_tests_count;
