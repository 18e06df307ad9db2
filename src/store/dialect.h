#pragma once
/* The store's dialect layer, internal to src/store: what the operations (users.c,
 * messages.c, notes.c, numbers.c, outbox.c) need of a database, and what each dialect
 * (sqlite.c, postgres.c) provides. The operations are written once over it: they name a
 * statement of the catalogue (catalogue.c: one entry per statement, a text per dialect
 * only where it must differ), bind typed parameters, run it, read typed columns, and
 * group statements in transactions, scoped to one user where the rows are that user's
 * (PostgreSQL's row-level security; nothing to do on SQLite).
 *
 * Durability belongs here too: a commit that ends the outermost transaction, or a write
 * outside any transaction, returns once it is durable (SQLite's group commit waits for the
 * flusher inside the dialect); commit with a callback is the one way not to wait. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* The statement catalogue (catalogue.c). */
enum store__st {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_SCOPE,
	ST_PING,
	ST_VERSION,
	ST_COUNTS,
	ST_USER_INSERT,
	ST_PHONE_INSERT,
	ST_USER_GET,
	ST_USER_BY_PHONE,
	ST_ROUTE,
	ST_USER_LIST,
	ST_USER_SET,
	ST_TAG_INSERT,
	ST_DEL_TAGS,
	ST_USER_PAGE,
	ST_USER_PAGE_TAG,
	ST_USER_LOCK,
	ST_DEL_NOTES,
	ST_DEL_OUTBOX,
	ST_DEL_MESSAGES,
	ST_DEL_PHONES,
	ST_DEL_USER,
	ST_PHONE_MINE,
	ST_PHONE_COUNT,
	ST_PHONE_DELETE,
	ST_ANSWER_FOR,
	ST_MESSAGE_INSERT,
	ST_STATUS_SID,
	ST_STATUS_SET,
	ST_STATUS_EXISTS,
	ST_MESSAGE_GET,
	ST_MESSAGES_NEWEST,
	ST_MESSAGES_HISTORY,
	ST_NOTE_INSERT,
	ST_NOTES_LIST,
	ST_NOTES_CLEAR,
	ST_OPTOUT_INSERT,
	ST_OPTOUT_DELETE,
	ST_OPTOUT_GET,
	ST_ONBOARDING,
	ST_SENDER_TAKE,
	ST_SENDER_SWEEP,
	ST_USAGE,
	ST_OUT_SEGMENTS,
	ST_OB_INSERT,
	ST_OB_CLAIM,
	ST_OB_LEASE,
	ST_OB_REPLIED,
	ST_OB_READY,
	ST_OB_UPDATE,
	ST_OB_MSG_SENT,
	ST_OB_DONE,
	ST_OB_LIST,
	ST_OB_RETRY,
	ST_OB_DEPTH,
	ST_OUTBOUND_STATE,
	ST_OB_READY_P,
	ST_OB_SEND_INSERT,
	ST_OB_HOLD,
	ST_OB_FINISH,
	ST_MSG_BY_UID,
	ST_IDEM_GET,
	ST_IDEM_PUT,
	ST_DEL_IDEM,
	ST_PROACTIVE_COUNT,
	ST_LAST_WHATSAPP,
	ST_SCHEDULED,
	ST_SCHEDULED_USER,
	ST_SCHEDULED_DEPTH,
	ST_EV_STATUS,
	ST_EV_PHONE,
	ST_EV_MODE,
	ST_EV_RANK,
	ST_EV_CLAIM,
	ST_EV_DELETE,
	ST_EV_UPDATE,
	ST_EV_PENDING,
	ST_DEL_EVENTS,
	ST_USER_AGENT_MODE,
	ST_USER_MODE_GET,
	ST_EV_INBOUND,
	ST_RT_TEMP,
	ST_RT_CLEAR,
	ST_RT_PICK,
	ST_RT_ROLLUP,
	ST_RT_OUTBOX,
	ST_RT_DELETE,
	ST_USAGE_USER,
	ST_MESSAGES_AFTER,
	ST_USER_OPTOUTS,
	ST_DEL_USAGE,
	ST_STATS,
	ST_STATS_ADD,
	ST_IMPORT_USERS,
	ST_WEBHOOK_LOOKUP,
	ST_REPLY_INSERT,
	ST_COUNT,
};

enum store__dialect_id {
	STORE__SQLITE,
	STORE__POSTGRES,
};

/* One statement: the text both dialects run, or a text per dialect. Written with SQLite's
 * ?N placeholders; postgres.c turns them into $N when it prepares. A dialect with no text
 * lacks the statement (e.g. ST_OB_LEASE: PostgreSQL's claim leases in the same call). */
struct store__sql {
	const char *both;
	const char *sqlite;
	const char *pg;
};
extern const struct store__sql store__catalogue[ST_COUNT];

/* One migration: the text each dialect runs to go from version N - 1 to N, in parts (a
 * NULL-terminated list; NULL: nothing to do in that dialect). */
struct store__migration {
	const char *const *sqlite;
	const char *const *pg;
};
extern const struct store__migration store__migrations[];
extern const int store__schema_version;
/* PostgreSQL: the NOLOGIN role that owns the cross-user functions (postgres.c). */
#define STORE__PG_SYSTEM_ROLE "smsrouter_system"

/* The public id of message m in an event (catalogue.c's claim, migration 6's
 * sr_events_claim): migration 5's uid. */
#define STORE__EV_MESSAGE_ID "m.uid"

/* ---- a statement being run ---- */

#define STORE__MAX_PARAMS 20

enum store__type {
	STORE__NULL,
	STORE__TEXT,
	STORE__INT,
};

struct store__param {
	enum store__type type;
	const char *text;
	int64_t i;
};

/* On the caller's stack: the statement, its parameters, and while it runs (from a
 * successful store__exec to store__done) the dialect's state. Parameters past those the
 * dialect's text uses are ignored. */
struct store__q {
	enum store__st st;
	int n;
	struct store__param p[STORE__MAX_PARAMS];
	const struct store__dialect *d;
	int64_t changes; /* rows a write changed */
	void *impl;      /* sqlite3_stmt, or PGresult */
	int row, rows;   /* PostgreSQL: the row read, how many */
	int rc;          /* SQLite: the last step's code */
	bool fresh;      /* SQLite: the first row is stepped already */
	bool locked;     /* SQLite: a write outside a transaction holds the write lock */
	int err;         /* exec_each: this statement's outcome, as exec's */
};

/* What each dialect provides. Every function runs on the calling thread's connection. */
/* The proactive lane's due rows that may go now (the catalogue's ST_OB_READY_P and
 * PostgreSQL's sr_ready_proactive, migration 13): a row being sent (reconciled), or a waiting
 * one that is its user's earliest waiting row (FIRST) with none of its user's being sent.
 * Each test is one index seek (outbox_lane, outbox_lane1_sending), and the rows are walked in
 * due order from outbox_lane1_due, so a turn reads about as many rows as it takes, however
 * many wait behind them. ?1 (p_now): now. */
#define PROACTIVE_READY_WITH(NOW, FIRST)                                                   \
	" WHERE o.lane = 1 AND o.state IN ('send', 'sending') AND o.next_at <= " NOW          \
	" AND (o.state = 'sending' OR (" FIRST " AND NOT EXISTS (SELECT 1 FROM outbox p WHERE " \
	"p.user_id = o.user_id AND p.lane = 1 AND p.state = 'sending'))) ORDER BY o.next_at, "  \
	"o.id"
/* The user's earliest: PostgreSQL reads the row comparison as one range of outbox_lane.
 * SQLite reads only next_at of it as the range and tests the id row by row, so it walked
 * every row of the user due at the same moment (a user with 100 waiting: 100 a test); it
 * seeks the user's first row instead. */
#define PROACTIVE_FIRST_ROWCMP                                                             \
	"NOT EXISTS (SELECT 1 FROM outbox p WHERE p.user_id = o.user_id AND p.lane = 1 AND "   \
	"p.state IN ('send', 'sending') AND (p.next_at, p.id) < (o.next_at, o.id))"
#define PROACTIVE_FIRST_SEEK                                                               \
	"o.id = (SELECT p.id FROM outbox p WHERE p.user_id = o.user_id AND p.lane = 1 AND "    \
	"p.state IN ('send', 'sending') ORDER BY p.next_at, p.id LIMIT 1)"
#define PROACTIVE_READY(NOW) PROACTIVE_READY_WITH(NOW, PROACTIVE_FIRST_ROWCMP)

/* How usage counts a message m (an alias: "m", "NEW"), in SQL both dialects read (the
 * usage statement, retention's rollup, the stats' rollup and its backfill): on
 * WhatsApp (no segments, its own price), an MMS (media on SMS, counted instead of its
 * segments), its SMS segments otherwise. */
#define MSG_WA(m)                                                                          \
	"(coalesce(" m ".channel, '') = 'whatsapp' OR substr(" m ".from_addr, 1, 9) = "       \
	"'whatsapp:' OR substr(coalesce(" m ".to_addr, ''), 1, 9) = 'whatsapp:')"
#define MSG_IS_WA(m) "CASE WHEN " MSG_WA(m) " THEN 1 ELSE 0 END"
#define MSG_IS_MMS(m) "CASE WHEN " m ".media IS NOT NULL AND NOT " MSG_WA(m) " THEN 1 ELSE 0 END"
#define MSG_SEGMENTS(m)                                                                    \
	"CASE WHEN " MSG_WA(m) " OR " m ".media IS NOT NULL THEN 0 ELSE " m ".segments END"

/* The hourly stats (migration 10) that a transaction's stored messages add, kept per
 * connection by the dialect (both: the writer's batch is one transaction, so it adds one row
 * per hour, direction and outcome a batch rather than one a message; PostgreSQL's per-row
 * trigger went in migration 15) and written just before its outermost commit
 * (store/stats.c). Each transaction
 * level's start is marked, so that a rolled-back savepoint takes its messages' counts back
 * out; a released one's counts join its parent's, summed by key, so that the log stays a
 * few rows per open level. */
#define STORE__STATS_DEPTH 16 /* transaction levels; a deeper begin is refused */
struct store__stats_row {
	int64_t hour; /* unix seconds of its start */
	bool inbound;
	char outcome[24]; /* an inbound message's status; "" outbound */
	int64_t messages, segments, mms, whatsapp; /* counted as usage counts them */
};
struct store__stats_log {
	size_t n, cap;
	size_t mark[STORE__STATS_DEPTH]; /* n when level i began (1 = the outermost) */
	struct store__stats_row *row;
};
/* Level depth began (after it did). */
void store__stats_begin(struct store__stats_log *l, int depth);
/* Level depth (> 1) is released: its counts are its parent's. */
void store__stats_release(struct store__stats_log *l, int depth);
/* Level depth is rolled back: its counts go. */
void store__stats_undo(struct store__stats_log *l, int depth);
/* m was stored at level depth (>= 1): its count joins the log. -ENOMEM. */
int store__stats_add(struct store__stats_log *l, int depth, const struct store_message *m,
		bool inbound);
/* Writes the log (one upsert per hour, direction and outcome) and empties it; before the
 * outermost commit. -EIO. */
int store__stats_write(struct store *s, struct store__stats_log *l);
/* The same through write(ctx, q), one ST_STATS_ADD each (PostgreSQL's send it without
 * waiting for it: the COMMIT's answer says). 0 or write's first error. */
int store__stats_each(struct store__stats_log *l, int (*write)(void *ctx, struct store__q *q),
		void *ctx);
void store__stats_free(struct store__stats_log *l);

struct store__dialect {
	enum store__dialect_id id; /* the catalogue's column */
	bool single_writer; /* one write transaction at a time anyway (store_single_writer) */
	void (*close)(struct store *s);
	int (*ping)(struct store *s);
	/* Begins a transaction, or a savepoint inside an open one. -EIO. */
	int (*begin)(struct store *s);
	/* Scopes the rest of the transaction to user_id's rows. NULL: nothing to scope. */
	int (*scope)(struct store *s, const char *user_id);
	/* Ends the innermost transaction: 0, or -EIO rolled back. When it ends the outermost:
	 * with done NULL, returns once durable (-EIO if it cannot be); else done(ctx, err)
	 * runs exactly once, on this or another thread, when it is (err 0) or cannot be
	 * (-EIO). A savepoint calls done at once. */
	int (*commit)(struct store *s, store_durable_cb done, void *ctx);
	void (*rollback)(struct store *s);
	/* Runs q: 0 (then store__done), or -EEXIST (a unique constraint), -EINVAL (NOT NULL,
	 * CHECK, data refused), -EIO. A write outside a transaction is durable by done. */
	int (*exec)(struct store *s, struct store__q *q);
	int (*next)(struct store__q *q); /* 1: a row to read, 0: no more, -EIO */
	/* Ends q's run. A write outside a transaction: 0 once durable, or -EIO. */
	int (*done)(struct store *s, struct store__q *q);
	int64_t (*col_int)(const struct store__q *q, int col); /* booleans are 0 and 1 */
	const char *(*col_text)(const struct store__q *q, int col); /* NULL for NULL */
	/* Bulk loading (import) begins (true) and ends (false). NULL: nothing to do. */
	void (*bulk)(struct store *s, bool on);
	/* m, just stored inside an open transaction, counted in the hourly stats. NULL: the
	 * database counts each message itself (none since migration 15). */
	int (*count)(struct store *s, const struct store_message *m, bool inbound);
	/* Whether this thread has a transaction open (only asked where count is set). */
	bool (*in_tx)(struct store *s);
	/* Runs each of the n statements qs on its own, as exec would outside a transaction
	 * (none may be open), all in one round trip: each one's outcome in its err (0: read
	 * it, then done). 0, or -EIO when none ran. NULL: the dialect has no such thing
	 * (SQLite: a statement is a call, not a round trip). */
	int (*exec_each)(struct store *s, struct store__q *qs, size_t n);
};

struct store {
	const struct store__dialect *d;
	atomic_uint takes; /* store_sender_take calls, for its sweep */
	bool events;       /* store_options.events: record events (events.c) */
	void (*on_event)(void *ctx); /* store_events_on_record; NULL: none */
	void *on_event_ctx;
};

/* ---- the operations' side ---- */

static inline struct store__q store__q(enum store__st st) {
	struct store__q q = {.st = st};
	return q;
}

void store__text(struct store__q *q, const char *v); /* NULL is SQL NULL */
void store__int(struct store__q *q, int64_t v);

/* The dialect's text of st, or NULL when it lacks the statement. */
const char *store__sql_of(enum store__dialect_id id, enum store__st st);
bool store__has(const struct store *s, enum store__st st);

/* Transactions: system-wide, or scoped to user_id (NULL: unknown senders' messages). */
int store__begin(struct store *s);
int store__begin_as(struct store *s, const char *user_id);
int store__commit(struct store *s); /* durable when it ends the outermost */
void store__rollback(struct store *s);
/* commits when r is 0, else rolls back; returns the outcome. */
int store__end(struct store *s, int r);
/* The same, committing as store_tx_commit_then does when done is not NULL: 0 and done runs
 * once, when the commit is durable (or can no longer be). */
int store__end_then(struct store *s, int r, store_durable_cb done, void *ctx);

int store__exec(struct store *s, struct store__q *q);
/* One statement of user_id's: in a scoped transaction where the dialect scopes. */
int store__exec_as(struct store *s, const char *user_id, struct store__q *q);
int store__next(struct store__q *q);
int store__done(struct store *s, struct store__q *q);
/* Runs q, a statement whose rows (if any) are not read. */
int store__write(struct store *s, struct store__q *q);
/* Runs q for its rows changed: a write's count, or the number a function returns. */
int store__affected(struct store *s, struct store__q *q, int64_t *ret_n);
/* Runs q (as user_id when not NULL) up to its first row: 0 (read it, then store__done),
 * -ENOENT (no row), or an error; both done already. */
int store__row(struct store *s, const char *user_id, struct store__q *q);
/* Runs q (as user_id when not NULL) and reads column 0 of its one row. -ENOENT: no row. */
int store__one_int(struct store *s, const char *user_id, struct store__q *q, int64_t *ret);

int64_t store__col_int(const struct store__q *q, int col);
const char *store__col_text(const struct store__q *q, int col);
void store__col_copy(const struct store__q *q, int col, char *out, size_t size);

/* users.c's, for import.c: a new user's checks (name, phone count), its rows. */
int store__user_valid(const char *name, size_t nphones);
int store__user_insert(struct store *s, const char *id, const char *name, int64_t now);
/* store_route_lookup's row (ST_ROUTE's columns from col on), for store_lookup_many too. */
void store__route_row(const struct store__q *q, int col, struct store_user *ret_user,
		bool *ret_known, bool *ret_opted_out);
/* -EEXIST: another user's already. */
int store__phone_insert(struct store *s, const char *phone, const char *id, int64_t seq);

/* messages.c's, for outbox.c: inserts a message inside the caller's transaction. */
int store__message_insert(struct store *s, const char *user_id, const struct store_message *m,
		enum store_direction direction, int64_t *ret_id);
/* outbox.c's, for messages.c and sends.c: outbound message outbound_id waits in lane to be
 * sent from next_at_ms on (inbound_id: the message it answers, 0: none), inside the caller's
 * transaction. */
int store__outbox_send_insert(struct store *s, const char *user_id, int64_t inbound_id,
		int64_t outbound_id, int lane, int64_t next_at_ms);
/* events.c's, for messages.c, numbers.c and outbox.c: each records an event inside the
 * caller's transaction when the store records events (store_options.events), else does
 * nothing. A status change of outbound message id (> 0) or sid, a message sent through the
 * Messages API with a user: message.status with the status it has now. */
int store__event_status(struct store *s, int64_t id, const char *sid);
/* phone opted out (or in): user.opted_out (user.opted_in) for the user who owns it, if any. */
int store__event_phone(struct store *s, const char *phone, bool opted_out);
/* message.inbound for the operator URL, whether or not the store records events: json is
 * {"user": …, "message": …}. Inside user_id's transaction. -EMSGSIZE, -EIO. */
int store__event_inbound(struct store *s, const char *user_id, const char *json);
/* A LIMIT: a negative limit is none. */
int64_t store__limit(int limit);

/* ---- the dialects' side: per-thread connections ---- */

/* Each thread makes its own connection on first use and keeps it; it is freed when the
 * thread ends, or when the store closes. A dialect's connection begins with a
 * struct store_conn. */
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

/* SQLite's group commit syncs the WAL through this (fdatasync); a test may make it fail. */
extern int (*store__sqlite_sync)(int fd);

/* sqlite_schema.c's, for sqlite.c. */
struct sqlite3;
/* The schema version the database records (PRAGMA user_version). 0 or -EIO. */
int store__sqlite_user_version(struct sqlite3 *db, int *ret);
/* WAL mode, then the migrations it lacks, each in its own transaction. 0 or -EIO. */
int store__sqlite_migrate(struct sqlite3 *db);
/* mkdir -p of the directory part of path. 0 or -ENOMEM. */
int store__sqlite_make_parent(const char *path);
int store_sqlite_open(const char *path, const struct store_options *o, struct store **ret);
int store_postgres_open(const char *url, const struct store_options *o, struct store **ret);
