/* store on embedded SQLite: WAL, one connection per thread (opened on first use, its
 * statements prepared once and reset after each use), a busy timeout for writers. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/backend.h"

_Static_assert(STORE_FLAG_SENT_BY_API == 4, "the SQL below reads it as flags & 4");

/* Versioned migrations: migrations[i] takes the schema from version i to i + 1. */
static const char *const migrations[] = {
	"CREATE TABLE users ("
	"  id TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE phones ("
	"  phone TEXT PRIMARY KEY,"
	"  user_id TEXT NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX phones_user ON phones(user_id);"
	"CREATE TABLE optouts ("
	"  phone TEXT PRIMARY KEY,"
	"  created_at INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE messages ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  user_id TEXT,"
	"  sid TEXT UNIQUE,"
	"  direction TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),"
	"  from_addr TEXT NOT NULL,"
	"  to_addr TEXT NOT NULL,"
	"  body TEXT NOT NULL,"
	"  status TEXT NOT NULL,"
	"  status_rank INTEGER NOT NULL DEFAULT 0,"
	"  error_code TEXT,"
	"  encoding TEXT NOT NULL,"
	"  segments INTEGER NOT NULL,"
	"  media TEXT,"
	"  reply_to INTEGER,"
	"  flags INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL);"
	"CREATE INDEX messages_user ON messages(user_id, id);"
	"CREATE INDEX messages_reply ON messages(reply_to) WHERE reply_to IS NOT NULL;"
	"CREATE INDEX messages_created ON messages(created_at);"
	"CREATE TABLE notes ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  user_id TEXT NOT NULL,"
	"  body TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL);"
	"CREATE INDEX notes_user ON notes(user_id, id);"
	"CREATE TABLE onboarding ("
	"  phone TEXT PRIMARY KEY,"
	"  sent_at INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE outbox ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  user_id TEXT NOT NULL,"
	"  inbound_id INTEGER NOT NULL,"
	"  outbound_id INTEGER,"
	"  state TEXT NOT NULL CHECK (state IN ('agent', 'send', 'sending', 'done', 'dead')),"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_at INTEGER NOT NULL,"
	"  sent_at INTEGER,"
	"  last_error TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE INDEX outbox_due ON outbox(state, next_at);"
	"CREATE INDEX outbox_user ON outbox(user_id, id);",
	/* 2: a user's phones keep the order they were given in (PostgreSQL's phones.seq). The
	 * rows of version 1 all get 0, so they keep their order by phone, ahead of any added
	 * later. */
	"ALTER TABLE phones ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;",
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

enum st {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_ROUTE,
	ST_COUNTS,
	ST_USER_INSERT,
	ST_PHONE_INSERT,
	ST_USER_GET,
	ST_USER_BY_PHONE,
	ST_USER_PHONES,
	ST_USER_OPTED_OUT,
	ST_USER_LIST,
	ST_DEL_NOTES,
	ST_DEL_MESSAGES,
	ST_DEL_PHONES,
	ST_DEL_USER,
	ST_PHONE_OWNER,
	ST_PHONE_COUNT,
	ST_PHONE_DELETE,
	ST_ANSWER_FOR,
	ST_MESSAGE_INSERT,
	ST_STATUS_SID_BY_ID,
	ST_STATUS_BY_ID,
	ST_STATUS_BY_SID,
	ST_EXISTS_ID,
	ST_EXISTS_SID,
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
	ST_USAGE,
	ST_OUT_SEGMENTS,
	ST_DEL_OUTBOX,
	ST_OB_INSERT,
	ST_OB_CLAIM,
	ST_OB_LEASE,
	ST_OB_REPLIED,
	ST_OB_READY,
	ST_OB_UPDATE,
	ST_OB_DONE,
	ST_OB_MSG_SENT,
	ST_OB_LIST,
	ST_OB_RETRY,
	ST_OB_DEPTH,
	ST_OUTBOUND_STATE,
	ST_COUNT,
};

#define MSG_COLS                                                                           \
	"id, sid, direction, from_addr, to_addr, body, status, encoding, segments, media, " \
	"reply_to, created_at"

/* First in its user's line: no earlier row of that user is still being worked on. */
#define OB_HEAD                                                                            \
	" AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.user_id = o.user_id AND p.id < o.id " \
	"AND p.state IN ('agent', 'send', 'sending'))"
#define OB_COLS                                                                            \
	"o.id, o.user_id, o.inbound_id, coalesce(o.outbound_id, 0), o.state, o.attempts, "    \
	"o.next_at, coalesce(o.sent_at, 0), o.created_at, coalesce(o.last_error, ''), "       \
	"coalesce(m.to_addr, ''), coalesce(m.from_addr, ''), coalesce(m.body, ''), "          \
	"coalesce(m.segments, 0)"

static const char *const sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT nested",
	[ST_RELEASE] = "RELEASE nested",
	[ST_ROLLBACK_TO] = "ROLLBACK TO nested",
	[ST_ROUTE] = "SELECT u.id, u.name, u.created_at, "
		     "EXISTS (SELECT 1 FROM optouts WHERE phone = ?1) FROM (SELECT 1) "
		     "LEFT JOIN phones p ON p.phone = ?1 LEFT JOIN users u ON u.id = p.user_id",
	[ST_COUNTS] = "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM phones)",
	[ST_USER_INSERT] = "INSERT INTO users (id, name, created_at) VALUES (?1, ?2, ?3)",
	[ST_PHONE_INSERT] = "INSERT INTO phones (phone, user_id, seq) VALUES (?1, ?2, ?3)",
	[ST_USER_GET] = "SELECT id, name, created_at FROM users WHERE id = ?1",
	[ST_USER_BY_PHONE] = "SELECT u.id, u.name, u.created_at FROM phones p "
			     "JOIN users u ON u.id = p.user_id WHERE p.phone = ?1",
	[ST_USER_PHONES] = "SELECT phone FROM phones WHERE user_id = ?1 ORDER BY seq, phone",
	[ST_USER_OPTED_OUT] = "SELECT EXISTS (SELECT 1 FROM phones p JOIN optouts o "
			      "ON o.phone = p.phone WHERE p.user_id = ?1)",
	[ST_USER_LIST] = "SELECT id, name, created_at FROM users ORDER BY created_at, id",
	[ST_DEL_NOTES] = "DELETE FROM notes WHERE user_id = ?1",
	[ST_DEL_MESSAGES] = "DELETE FROM messages WHERE user_id = ?1",
	[ST_DEL_PHONES] = "DELETE FROM phones WHERE user_id = ?1",
	[ST_DEL_USER] = "DELETE FROM users WHERE id = ?1",
	[ST_PHONE_OWNER] = "SELECT user_id FROM phones WHERE phone = ?1",
	/* How many phones the user has, and the position of one added now: after the last. */
	[ST_PHONE_COUNT] = "SELECT count(*), coalesce(max(seq) + 1, 0) FROM phones "
			   "WHERE user_id = ?1",
	[ST_PHONE_DELETE] = "DELETE FROM phones WHERE phone = ?1 AND user_id = ?2",
	/* A reply sent through the Messages API was no part of the answer (flag 4). */
	[ST_ANSWER_FOR] = "SELECT i.id, o.id, o.body FROM messages i LEFT JOIN messages o "
			  "ON o.reply_to = i.id AND o.direction = 'outbound' AND (o.flags & 4) = 0 "
			  "WHERE i.sid = ?1 AND i.direction = 'inbound' ORDER BY o.id LIMIT 1",
	[ST_MESSAGE_INSERT] = "INSERT INTO messages (user_id, sid, direction, from_addr, to_addr, "
			      "body, status, status_rank, encoding, segments, media, reply_to, "
			      "created_at, flags) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
			      "?11, ?12, ?13, ?14)",
	[ST_STATUS_SID_BY_ID] = "UPDATE messages SET sid = ?2 WHERE id = ?1 AND "
				"direction = 'outbound' AND sid IS NULL",
	[ST_STATUS_BY_ID] = "UPDATE messages SET status = ?2, status_rank = ?3, "
			    "error_code = coalesce(?4, error_code) WHERE id = ?1 AND "
			    "direction = 'outbound' AND status_rank < ?3",
	[ST_STATUS_BY_SID] = "UPDATE messages SET status = ?2, status_rank = ?3, "
			     "error_code = coalesce(?4, error_code) WHERE sid = ?1 AND "
			     "direction = 'outbound' AND status_rank < ?3",
	[ST_EXISTS_ID] = "SELECT 1 FROM messages WHERE id = ?1 AND direction = 'outbound'",
	[ST_EXISTS_SID] = "SELECT 1 FROM messages WHERE sid = ?1 AND direction = 'outbound'",
	[ST_MESSAGE_GET] = "SELECT " MSG_COLS " FROM messages WHERE user_id = ?1 AND id = ?2",
	[ST_MESSAGES_NEWEST] = "SELECT " MSG_COLS " FROM messages WHERE user_id = ?1 "
			       "ORDER BY id DESC LIMIT ?2",
	/* Stored before ?3, or the reply to a message that was; min() keeps the planner on
	 * messages_user, newest first, stopping at the limit. */
	[ST_MESSAGES_HISTORY] = "SELECT * FROM (SELECT " MSG_COLS " FROM messages "
				"WHERE user_id = ?1 AND min(id, coalesce(reply_to, id)) < ?3 "
				"ORDER BY id DESC LIMIT ?2) ORDER BY id",
	[ST_NOTE_INSERT] = "INSERT INTO notes (user_id, body, created_at) VALUES (?1, ?2, ?3)",
	[ST_NOTES_LIST] = "SELECT body FROM notes WHERE user_id = ?1 ORDER BY id",
	[ST_NOTES_CLEAR] = "DELETE FROM notes WHERE user_id = ?1",
	[ST_OPTOUT_INSERT] = "INSERT OR IGNORE INTO optouts (phone, created_at) VALUES (?1, ?2)",
	[ST_OPTOUT_DELETE] = "DELETE FROM optouts WHERE phone = ?1",
	[ST_OPTOUT_GET] = "SELECT 1 FROM optouts WHERE phone = ?1",
	[ST_ONBOARDING] = "INSERT INTO onboarding (phone, sent_at) VALUES (?1, ?2) "
			  "ON CONFLICT (phone) DO UPDATE SET sent_at = excluded.sent_at "
			  "WHERE onboarding.sent_at <= ?2 - ?3",
	[ST_USAGE] = "SELECT user_id, sum(direction = 'inbound'), sum(direction = 'outbound'), "
		     "sum(segments), sum(status = 'over_budget'), sum((flags & 2) != 0), "
		     "sum((flags & 1) != 0) FROM messages WHERE created_at >= ?1 "
		     "GROUP BY user_id ORDER BY user_id IS NULL, user_id",
	[ST_DEL_OUTBOX] = "DELETE FROM outbox WHERE user_id = ?1",
	[ST_OB_INSERT] = "INSERT INTO outbox (user_id, inbound_id, state, next_at, created_at, "
			 "updated_at) VALUES (?1, ?2, 'agent', ?3, ?3, ?3)",
	[ST_OB_CLAIM] = "SELECT " OB_COLS " FROM outbox o LEFT JOIN messages m ON m.id = "
			"o.outbound_id WHERE o.state = 'agent' AND o.next_at <= ?1" OB_HEAD
			" ORDER BY o.next_at, o.id LIMIT 1",
	[ST_OB_LEASE] = "UPDATE outbox SET next_at = ?2, attempts = attempts + 1, updated_at = ?3 "
			"WHERE id = ?1 AND state = 'agent'",
	[ST_OB_REPLIED] = "UPDATE outbox SET state = ?2, outbound_id = ?3, attempts = 0, "
			  "next_at = ?4, updated_at = ?4 WHERE id = ?1 AND state = 'agent'",
	[ST_OB_READY] = "SELECT " OB_COLS " FROM outbox o JOIN messages m ON m.id = o.outbound_id "
			"WHERE o.state IN ('send', 'sending') AND o.next_at <= ?1" OB_HEAD
			" ORDER BY o.id LIMIT ?2",
	[ST_OB_UPDATE] = "UPDATE outbox SET state = ?2, next_at = ?3, attempts = attempts + ?4, "
			 "last_error = coalesce(?5, last_error), sent_at = CASE WHEN ?2 = "
			 "'sending' THEN ?6 ELSE sent_at END, updated_at = ?6 WHERE id = ?1 "
			 /* Taking a row for a send: only if it still waits and is due, so that
			  * two processes never both send it. */
			 "AND (?2 <> 'sending' OR ?4 = 0 OR (state IN ('send', 'sending') AND "
			 "next_at <= ?6))",
	[ST_OB_DONE] = "UPDATE outbox SET state = 'done', updated_at = ?2 WHERE id = ?1",
	[ST_OB_MSG_SENT] = "UPDATE messages SET sid = coalesce(sid, ?2), status = CASE WHEN "
			   "status_rank < ?4 THEN ?3 ELSE status END, status_rank = max(status_rank, "
			   "?4) WHERE id = ?1 AND direction = 'outbound'",
	[ST_OB_LIST] = "SELECT " OB_COLS " FROM outbox o LEFT JOIN messages m ON m.id = "
		       "o.outbound_id WHERE (?1 IS NULL AND o.state <> 'done') OR o.state = ?1 "
		       "ORDER BY o.id LIMIT ?2",
	[ST_OB_RETRY] = "UPDATE outbox SET state = CASE WHEN outbound_id IS NULL THEN 'agent' "
			"WHEN sent_at IS NULL THEN 'send' ELSE 'sending' END, attempts = 0, "
			"next_at = ?2, updated_at = ?2 WHERE state = 'dead' AND (?1 = 0 OR id = ?1)",
	[ST_OB_DEPTH] = "SELECT count(*) FROM outbox WHERE state IN ('agent', 'send', 'sending')",
	[ST_OUTBOUND_STATE] = "SELECT coalesce(sid, ''), status FROM messages WHERE id = ?1 AND "
			      "direction = 'outbound'",
	[ST_OUT_SEGMENTS] = "SELECT coalesce(sum(segments), 0) FROM messages WHERE user_id = ?1 "
			    "AND direction = 'outbound' AND created_at >= ?2",
};

struct conn {
	struct store_conn link; /* first: the registry's */
	sqlite3 *db;
	int depth; /* open transactions: 1 = BEGIN, more = savepoints inside it */
	sqlite3_stmt *st[ST_COUNT];
};

struct waiter {
	uint64_t gen;
	void (*done)(void *ctx);
	void *ctx;
	struct waiter *next;
};

struct sqlite_store {
	struct store base; /* first: the interface */
	char *path;
	enum store_sync sync;
	/* Group commit (STORE_SYNC_GROUP): the flusher fsyncs the WAL for every waiter. */
	int wal_fd;
	pthread_t flusher;
	bool flusher_started;
	pthread_mutex_t fmu; /* guards the fields below */
	pthread_cond_t fcv;
	uint64_t requested; /* waiters registered */
	uint64_t flushed;   /* covered by a finished fsync */
	struct waiter *waiters;
	bool stopping;
	/* The checkpointer: copies the WAL into the database off the request path. */
	pthread_t checkpointer;
	bool checkpointer_started;
	pthread_mutex_t cmu; /* guards wal_pages, wal_frames, ckpt_stop */
	pthread_cond_t ccv;
	int wal_pages;  /* frames in the WAL at the last commit; 0 once the checkpointer took it */
	int wal_frames; /* the same, kept */
	int checkpoint_pages;
	int wal_cap_pages;
	bool ckpt_stop;
	struct store_conns conns; /* one connection per thread */
	/* Our own writers queue here rather than in SQLite's busy handler, which sleeps. */
	pthread_mutex_t write_mu;
	/* Set while the checkpointer waits for write_mu to start the WAL over: writers wait
	 * for it to be cleared (gate_cv, under cmu), so that one that commits back to back
	 * cannot keep the lock from it. */
	atomic_bool gate;
	pthread_cond_t gate_cv;
};

static struct sqlite_store *SQ(struct store *s) {
	return (struct sqlite_store *)s;
}

static void conn_free(struct conn *c) {
	for (int i = 0; i < ST_COUNT; i++) {
		sqlite3_finalize(c->st[i]);
	}
	sqlite3_close_v2(c->db);
	free(c);
}

static void conn_gone(struct store_conn *link) {
	conn_free((struct conn *)link);
}

/* While the WAL holds CHECKPOINT_PAGES frames or more, the checkpointer copies it into
 * the database after each commit (store_options.checkpoint_pages). */
#define CHECKPOINT_PAGES 2000
/* SQLite starts the WAL file over only when a write begins with every frame copied. A
 * PASSIVE checkpoint catches up between commits under any load short of full, but never
 * with a writer that is never idle: under sustained full load the WAL would grow for as
 * long as the load lasts (1 GB in 30 s in the benchmark). Past WAL_CAP_PAGES frames
 * (4 GiB) the checkpointer copies the last frames with our writers held off, so that the
 * next write starts the file over. The cap is high because that hold is long (up to
 * about 0.1 s with 1M users: the database's fsync of random pages): it comes about
 * every 2 minutes of full load, and never below it. A lower cap (512 MiB) made it come
 * every 2 s at full load, and at lighter loads too, and the p99 grew from 9 ms to
 * 30-60 ms (bench/README.md). */
#define WAL_CAP_PAGES 1048576 /* store_options.wal_cap_pages */

/* After each commit: how long the WAL is; past CHECKPOINT_PAGES, wake the checkpointer. */
static int on_wal(void *arg, sqlite3 *db, const char *name, int pages) {
	(void)db;
	(void)name;
	struct sqlite_store *q = arg;
	pthread_mutex_lock(&q->cmu);
	q->wal_pages = pages;
	q->wal_frames = pages;
	if (pages >= q->checkpoint_pages) {
		pthread_cond_signal(&q->ccv);
	}
	pthread_mutex_unlock(&q->cmu);
	return SQLITE_OK;
}

/* Another process holds the lock (our own threads queue on write_mu): wait in short
 * steps, 50 µs doubling to 5 ms, for at most 10 s in all. */
static int on_busy(void *arg, int count) {
	(void)arg;
	static const long step_us[] = {50, 100, 200, 400, 800, 1600, 3200, 5000};
	long total = 0;
	for (int i = 0; i < count; i++) {
		total += step_us[i < 7 ? i : 7];
	}
	if (total > 10 * 1000 * 1000) {
		return 0;
	}
	long us = step_us[count < 7 ? count : 7];
	struct timespec ts = {.tv_sec = 0, .tv_nsec = us * 1000};
	nanosleep(&ts, NULL);
	return 1;
}

static int exec(sqlite3 *db, const char *text) {
	return sqlite3_exec(db, text, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

/* When the WAL starts over, a file left larger than the cap (a long reader kept it from
 * starting over in time) is cut back to that. */
static int wal_size_limit(struct sqlite_store *q, sqlite3 *db) {
	char pragma[64];
	snprintf(pragma, sizeof(pragma), "PRAGMA journal_size_limit = %lld",
	         (long long)q->wal_cap_pages * (4096 + 24));
	return exec(db, pragma);
}

static struct conn *conn_get(struct sqlite_store *q) {
	struct conn *c = (struct conn *)store_conns_mine(&q->conns);
	if (c) {
		return c;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		return NULL;
	}
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(q->path, &c->db, flags, NULL) != SQLITE_OK) {
		conn_free(c);
		return NULL;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_handler(c->db, on_busy, NULL);
	if (exec(c->db, q->sync == STORE_SYNC_FULL ? "PRAGMA synchronous = FULL"
						       : "PRAGMA synchronous = NORMAL") < 0 ||
			exec(c->db, "PRAGMA foreign_keys = OFF") < 0 ||
			/* A page cache per thread. (No mmap: a growing file is remapped again and
			 * again, and the faults cost more than the reads they save.) */
			exec(c->db, "PRAGMA cache_size = -16384") < 0 ||
			exec(c->db, "PRAGMA temp_store = MEMORY") < 0 ||
			/* Checkpoints run on the checkpointer thread, not inside a request. */
			exec(c->db, "PRAGMA wal_autocheckpoint = 0") < 0 ||
			wal_size_limit(q, c->db) < 0) {
		conn_free(c);
		return NULL;
	}
	sqlite3_wal_hook(c->db, on_wal, q);
	if (store_conns_add(&q->conns, &c->link) < 0) {
		conn_free(c);
		return NULL;
	}
	return c;
}

/* The thread's prepared statement, reset and unbound, or NULL. */
static sqlite3_stmt *stmt(struct sqlite_store *q, enum st which) {
	struct conn *c = conn_get(q);
	if (!c) {
		return NULL;
	}
	if (!c->st[which]) {
		if (sqlite3_prepare_v3(c->db, sql[which], -1, SQLITE_PREPARE_PERSISTENT,
				    &c->st[which], NULL) != SQLITE_OK) {
			return NULL;
		}
	}
	return c->st[which];
}

static void done(sqlite3_stmt *st) {
	if (st) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
}

/* rc is an extended result code (sqlite3_extended_result_codes is on). */
static int code(int rc) {
	switch (rc) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return -EEXIST;
	default:
		/* NOT NULL and CHECK: our caller passed something it must not. */
		return (rc & 0xff) == SQLITE_CONSTRAINT ? -EINVAL : -EIO;
	}
}

/* The process's write lock, behind the checkpointer's gate. */
static void write_lock(struct sqlite_store *q) {
	if (atomic_load(&q->gate)) {
		pthread_mutex_lock(&q->cmu);
		while (atomic_load(&q->gate)) {
			pthread_cond_wait(&q->gate_cv, &q->cmu);
		}
		pthread_mutex_unlock(&q->cmu);
	}
	pthread_mutex_lock(&q->write_mu);
}

/* Runs a statement that returns no rows. A write outside a transaction takes the
 * process's write lock for its implicit one. */
static int run(struct sqlite_store *q, enum st which, sqlite3_stmt *st) {
	struct conn *c = (struct conn *)store_conns_mine(&q->conns);
	bool tx_control = which == ST_BEGIN || which == ST_COMMIT || which == ST_ROLLBACK ||
			  which == ST_SAVEPOINT || which == ST_RELEASE || which == ST_ROLLBACK_TO;
	bool lock = c && c->depth == 0 && !tx_control && !sqlite3_stmt_readonly(st);
	if (lock) {
		write_lock(q);
	}
	int rc = sqlite3_step(st);
	if (lock) {
		pthread_mutex_unlock(&q->write_mu);
	}
	int r = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : code(rc);
	done(st);
	return r;
}

static int simple(struct sqlite_store *q, enum st which) {
	sqlite3_stmt *st = stmt(q, which);
	if (!st) {
		return -EIO;
	}
	return run(q, which, st);
}

/* Transactions nest: inside an open one (store_tx_begin), a call's own transaction is a
 * savepoint, committed with the outer one. */
static int begin(struct sqlite_store *q) {
	struct conn *c = conn_get(q);
	if (!c) {
		return -EIO;
	}
	if (c->depth == 0) {
		write_lock(q);
	}
	int r = simple(q, c->depth ? ST_SAVEPOINT : ST_BEGIN);
	if (r == 0) {
		c->depth++;
	} else if (c->depth == 0) {
		pthread_mutex_unlock(&q->write_mu);
	}
	return r;
}

/* On failure the transaction stays open: the caller rolls back. */
static int commit(struct sqlite_store *q) {
	struct conn *c = conn_get(q);
	int r = simple(q, c->depth > 1 ? ST_RELEASE : ST_COMMIT);
	if (r == 0) {
		c->depth--;
		if (c->depth == 0) {
			pthread_mutex_unlock(&q->write_mu);
		}
	}
	return r;
}

static void rollback(struct sqlite_store *q) {
	struct conn *c = conn_get(q);
	if (c->depth > 1) {
		simple(q, ST_ROLLBACK_TO);
		simple(q, ST_RELEASE);
	} else {
		simple(q, ST_ROLLBACK);
	}
	if (c->depth > 0) {
		c->depth--;
		if (c->depth == 0) {
			pthread_mutex_unlock(&q->write_mu);
		}
	}
}

static int sq_tx_begin(struct store *s) {
	return begin(SQ(s));
}

static int sq_tx_commit(struct store *s) {
	struct sqlite_store *q = SQ(s);
	int r = commit(q);
	if (r < 0) {
		rollback(q);
	}
	return r;
}

static void sq_tx_rollback(struct store *s) {
	rollback(SQ(s));
}

static int changes(struct sqlite_store *q) {
	return sqlite3_changes(conn_get(q)->db);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v) {
	if (v) {
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	} else {
		sqlite3_bind_null(st, i);
	}
}

static void copy_col(sqlite3_stmt *st, int col, char *out, size_t size) {
	const unsigned char *v = sqlite3_column_text(st, col);
	snprintf(out, size, "%s", v ? (const char *)v : "");
}

/* Fills the user record from a row (id, name, created_at) plus its phones and opt-out. */
static int user_fill(struct sqlite_store *q, sqlite3_stmt *row, struct store_user *u) {
	sqlite3_stmt *st;
	int rc;

	memset(u, 0, sizeof(*u));
	copy_col(row, 0, u->id, sizeof(u->id));
	copy_col(row, 1, u->name, sizeof(u->name));
	u->created_at = sqlite3_column_int64(row, 2);

	st = stmt(q, ST_USER_PHONES);
	if (!st) {
		return -EIO;
	}
	bind_text(st, 1, u->id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && u->nphones < STORE_MAX_PHONES) {
		copy_col(st, 0, u->phones[u->nphones], PHONE_SIZE);
		u->nphones++;
	}
	done(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		return -EIO;
	}

	st = stmt(q, ST_USER_OPTED_OUT);
	if (!st) {
		return -EIO;
	}
	bind_text(st, 1, u->id);
	rc = sqlite3_step(st);
	u->opted_out = rc == SQLITE_ROW && sqlite3_column_int(st, 0) != 0;
	done(st);
	return rc == SQLITE_ROW ? 0 : -EIO;
}

static int user_one(struct sqlite_store *q, enum st which, const char *key,
		struct store_user *ret_user) {
	sqlite3_stmt *st = stmt(q, which);
	struct store_user u;
	int r;

	if (!st) {
		return -EIO;
	}
	bind_text(st, 1, key);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		done(st);
		return -ENOENT;
	}
	if (rc != SQLITE_ROW) {
		done(st);
		return -EIO;
	}
	/* user_fill uses other statements; this row stays valid meanwhile. */
	r = user_fill(q, st, &u);
	done(st);
	if (r == 0) {
		*ret_user = u;
	}
	return r;
}

static int sq_user_get(struct store *s, const char *id, struct store_user *ret_user) {
	return user_one(SQ(s), ST_USER_GET, id, ret_user);
}

static int sq_user_by_phone(struct store *s, const char *phone, struct store_user *ret_user) {
	return user_one(SQ(s), ST_USER_BY_PHONE, phone, ret_user);
}

static int sq_route_lookup(struct store *s, const char *phone, struct store_user *ret_user,
		bool *ret_known, bool *ret_opted_out) {
	struct sqlite_store *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_ROUTE);
	if (!st) {
		return -EIO;
	}
	bind_text(st, 1, phone);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ret_known = sqlite3_column_type(st, 0) != SQLITE_NULL;
		if (*ret_known) {
			memset(ret_user, 0, sizeof(*ret_user));
			copy_col(st, 0, ret_user->id, sizeof(ret_user->id));
			copy_col(st, 1, ret_user->name, sizeof(ret_user->name));
			ret_user->created_at = sqlite3_column_int64(st, 2);
		}
		*ret_opted_out = sqlite3_column_int(st, 3) != 0;
		ret_user->opted_out = *ret_known && *ret_opted_out;
	}
	done(st);
	return rc == SQLITE_ROW ? 0 : -EIO;
}

/* Inserts a user and its phones inside the caller's transaction. */
static int user_insert(struct sqlite_store *q, const char *id, const char *name,
		const char *const *phones, size_t nphones, int64_t now, size_t *reterr_index) {
	sqlite3_stmt *st = stmt(q, ST_USER_INSERT);
	int r;

	if (!st) {
		return -EIO;
	}
	bind_text(st, 1, id);
	bind_text(st, 2, name);
	sqlite3_bind_int64(st, 3, now);
	r = run(q, ST_USER_INSERT, st);
	if (r < 0) {
		return r == -EEXIST ? -EIO : r; /* a random id never collides */
	}
	for (size_t i = 0; i < nphones; i++) {
		st = stmt(q, ST_PHONE_INSERT);
		if (!st) {
			return -EIO;
		}
		bind_text(st, 1, phones[i]);
		bind_text(st, 2, id);
		sqlite3_bind_int64(st, 3, (int64_t)i);
		r = run(q, ST_PHONE_INSERT, st);
		if (r < 0) {
			*reterr_index = i;
			return r;
		}
	}
	return 0;
}

static int sq_user_add(struct store *s, const char *id, const char *name,
		const char *const *phones, size_t nphones, int64_t now, size_t *reterr_index) {
	struct sqlite_store *q = SQ(s);
	int r = begin(q);
	if (r < 0) {
		return r;
	}
	r = user_insert(q, id, name, phones, nphones, now, reterr_index);
	if (r < 0) {
		rollback(q);
		return r;
	}
	r = commit(q);
	if (r < 0) {
		rollback(q);
	}
	return r;
}

/* Import sorts what it inserts: each B-tree then grows at its right edge instead of at
 * random pages (a million random ids would otherwise thrash the page cache). */
struct import_key {
	const char *key;
	size_t row;
	size_t pos; /* a phone's index in its line: its position among the user's phones */
};

static int import_key_cmp(const void *a, const void *b) {
	const struct import_key *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : (x->row > y->row) - (x->row < y->row);
}

static int sq_import(struct store *s, const struct store_import_row *rows, size_t n,
		char (*ids)[STORE_ID_SIZE], int64_t now, size_t *reterr_row) {
	struct sqlite_store *q = SQ(s);
	struct import_key *users = NULL, *phones = NULL;
	size_t nphones = 0, k = 0;
	sqlite3_stmt *st;
	int r = -ENOMEM;

	for (size_t i = 0; i < n; i++) {
		nphones += rows[i].nphones;
	}
	users = malloc((n ? n : 1) * sizeof(*users));
	phones = malloc((nphones ? nphones : 1) * sizeof(*phones));
	if (!users || !phones) {
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		users[i] = (struct import_key){ids[i], i, 0};
		for (size_t j = 0; j < rows[i].nphones; j++) {
			phones[k++] = (struct import_key){rows[i].phones[j], i, j};
		}
	}
	qsort(users, n, sizeof(*users), import_key_cmp);
	qsort(phones, nphones, sizeof(*phones), import_key_cmp);
	/* A phone repeated in the file: the later line is the one in error. */
	for (size_t i = 1; i < nphones; i++) {
		if (strcmp(phones[i].key, phones[i - 1].key) == 0) {
			*reterr_row = phones[i].row;
			r = -EEXIST;
			goto out;
		}
	}
	exec(conn_get(q)->db, "PRAGMA cache_size = -262144");
	r = begin(q);
	if (r < 0) {
		goto out;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		size_t row = users[i].row;
		st = stmt(q, ST_USER_INSERT);
		if (!st) {
			r = -EIO;
			break;
		}
		bind_text(st, 1, ids[row]);
		bind_text(st, 2, rows[row].name);
		sqlite3_bind_int64(st, 3, now);
		r = run(q, ST_USER_INSERT, st);
		if (r < 0) {
			*reterr_row = row;
			r = r == -EEXIST ? -EIO : r; /* a random id never collides */
		}
	}
	for (size_t i = 0; i < nphones && r == 0; i++) {
		st = stmt(q, ST_PHONE_INSERT);
		if (!st) {
			r = -EIO;
			break;
		}
		bind_text(st, 1, phones[i].key);
		bind_text(st, 2, ids[phones[i].row]);
		sqlite3_bind_int64(st, 3, (int64_t)phones[i].pos);
		r = run(q, ST_PHONE_INSERT, st);
		if (r < 0) {
			*reterr_row = phones[i].row; /* -EEXIST: owned by a user already */
		}
	}
	if (r == 0) {
		r = commit(q);
	}
	if (r < 0) {
		rollback(q);
	}
	exec(conn_get(q)->db, "PRAGMA cache_size = -16384");
out:
	free(users);
	free(phones);
	return r;
}

static int by_user(struct sqlite_store *q, enum st which, const char *id) {
	sqlite3_stmt *st = stmt(q, which);
	if (!st) {
		return -EIO;
	}
	bind_text(st, 1, id);
	return run(q, which, st);
}

static int sq_user_delete(struct store *s, const char *id) {
	struct sqlite_store *q = SQ(s);
	static const enum st steps[] = {ST_DEL_NOTES, ST_DEL_OUTBOX, ST_DEL_MESSAGES, ST_DEL_PHONES,
		ST_DEL_USER};
	int r = begin(q);
	if (r < 0) {
		return r;
	}
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		r = by_user(q, steps[i], id);
		if (r < 0) {
			rollback(q);
			return r;
		}
	}
	if (changes(q) == 0) {
		rollback(q);
		return -ENOENT;
	}
	r = commit(q);
	if (r < 0) {
		rollback(q);
	}
	return r;
}

static int sq_user_list(struct store *s, store_user_cb cb, void *ctx) {
	struct sqlite_store *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_USER_LIST);
	struct store_user u;
	int rc, r = 0;

	if (!st) {
		return -EIO;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = user_fill(q, st, &u);
		if (r == 0) {
			r = cb(ctx, &u);
		}
		if (r != 0) {
			break;
		}
	}
	if (r == 0 && rc != SQLITE_DONE) {
		r = -EIO;
	}
	done(st);
	return r;
}

/* Writes the owner of phone into owner (size STORE_ID_SIZE): 0, -ENOENT, -EIO. */
static int phone_owner(struct sqlite_store *q, const char *phone, char *owner) {
	sqlite3_stmt *st = stmt(q, ST_PHONE_OWNER);
	if (!st) {
		return -EIO;
	}
	bind_text(st, 1, phone);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		copy_col(st, 0, owner, STORE_ID_SIZE);
	}
	done(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
}

static int sq_phone_add(struct store *s, const char *id, const char *phone) {
	struct sqlite_store *q = SQ(s);
	char owner[STORE_ID_SIZE];
	sqlite3_stmt *st;
	int r = begin(q);
	if (r < 0) {
		return r;
	}
	st = stmt(q, ST_USER_GET);
	if (!st) {
		r = -EIO;
		goto out_rollback;
	}
	bind_text(st, 1, id);
	int rc = sqlite3_step(st);
	done(st);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? -ENOENT : -EIO;
		goto out_rollback;
	}
	r = phone_owner(q, phone, owner);
	if (r == 0) {
		r = strcmp(owner, id) == 0 ? 0 : -EEXIST;
		goto out_rollback; /* nothing to write either way */
	}
	if (r != -ENOENT) {
		goto out_rollback;
	}
	st = stmt(q, ST_PHONE_COUNT);
	if (!st) {
		r = -EIO;
		goto out_rollback;
	}
	bind_text(st, 1, id);
	rc = sqlite3_step(st);
	int count = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	int64_t seq = rc == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
	done(st);
	if (count < 0) {
		r = -EIO;
		goto out_rollback;
	}
	if (count >= STORE_MAX_PHONES) {
		r = -ENOSPC;
		goto out_rollback;
	}
	st = stmt(q, ST_PHONE_INSERT);
	if (!st) {
		r = -EIO;
		goto out_rollback;
	}
	bind_text(st, 1, phone);
	bind_text(st, 2, id);
	sqlite3_bind_int64(st, 3, seq);
	r = run(q, ST_PHONE_INSERT, st);
	if (r < 0) {
		goto out_rollback;
	}
	r = commit(q);
	if (r == 0) {
		return 0;
	}
out_rollback:
	rollback(q);
	return r;
}

static int sq_phone_remove(struct store *s, const char *id, const char *phone) {
	struct sqlite_store *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_PHONE_DELETE);
	if (!st) {
		return -EIO;
	}
	bind_text(st, 1, phone);
	bind_text(st, 2, id);
	int r = run(q, ST_PHONE_DELETE, st);
	if (r == 0 && changes(q) == 0) {
		r = -ENOENT;
	}
	return r;
}

static char *dup_col(sqlite3_stmt *st, int col) {
	const unsigned char *v = sqlite3_column_text(st, col);
	return v ? strdup((const char *)v) : NULL;
}

static int sq_answer_for(struct store *s, const char *sid, char **ret_reply, int64_t *ret_id) {
	struct sqlite_store *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_ANSWER_FOR);
	char *reply = NULL;
	int64_t id = 0;

	if (!st) {
		return -EIO;
	}
	bind_text(st, 1, sid);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 1) != SQLITE_NULL) {
		id = sqlite3_column_int64(st, 1);
		reply = dup_col(st, 2);
		if (!reply) {
			done(st);
			return -ENOMEM;
		}
	}
	done(st);
	if (rc != SQLITE_ROW) {
		return rc == SQLITE_DONE ? -ENOENT : -EIO;
	}
	*ret_reply = reply;
	*ret_id = id;
	return 0;
}

static int message_insert(struct sqlite_store *q, const char *user_id,
		const struct store_message *m, int64_t *ret_id);

/* An inbound message and its outbox row: both or neither. */
static int message_enqueue(struct sqlite_store *q, const char *user_id,
		const struct store_message *m, int64_t *ret_id) {
	int64_t id = 0;
	int r = begin(q);
	if (r < 0) {
		return r;
	}
	r = message_insert(q, user_id, m, &id);
	if (r == 0) {
		sqlite3_stmt *st = stmt(q, ST_OB_INSERT);
		if (!st) {
			r = -EIO;
		} else {
			bind_text(st, 1, user_id);
			sqlite3_bind_int64(st, 2, id);
			sqlite3_bind_int64(st, 3, ids_now_ms());
			r = run(q, ST_OB_INSERT, st);
		}
	}
	if (r == 0) {
		r = commit(q);
	}
	if (r < 0) {
		rollback(q);
		return r;
	}
	if (ret_id) {
		*ret_id = id;
	}
	return 0;
}

static int sq_message_add(struct store *s, const char *user_id, const struct store_message *m,
		int64_t *ret_id) {
	struct sqlite_store *q = SQ(s);
	if (m->enqueue && user_id) {
		return message_enqueue(q, user_id, m, ret_id);
	}
	return message_insert(q, user_id, m, ret_id);
}

static int message_insert(struct sqlite_store *q, const char *user_id,
		const struct store_message *m, int64_t *ret_id) {
	sqlite3_stmt *st = stmt(q, ST_MESSAGE_INSERT);
	if (!st) {
		return -EIO;
	}
	bind_text(st, 1, user_id);
	bind_text(st, 2, m->sid);
	bind_text(st, 3, m->direction == STORE_INBOUND ? "inbound" : "outbound");
	bind_text(st, 4, m->from);
	bind_text(st, 5, m->to);
	bind_text(st, 6, m->body);
	bind_text(st, 7, m->status);
	sqlite3_bind_int(st, 8, store_status_rank(m->status));
	bind_text(st, 9, m->encoding);
	sqlite3_bind_int(st, 10, m->segments);
	bind_text(st, 11, m->media_json);
	if (m->reply_to > 0) {
		sqlite3_bind_int64(st, 12, m->reply_to);
	}
	sqlite3_bind_int64(st, 13, m->created_at ? m->created_at : ids_now());
	sqlite3_bind_int(st, 14, m->flags);
	int r = run(q, ST_MESSAGE_INSERT, st);
	if (r == 0 && ret_id) {
		*ret_id = sqlite3_last_insert_rowid(conn_get(q)->db);
	}
	return r;
}

static int sq_status_update(struct store *s, int64_t id, const char *sid, const char *status,
		int rank, const char *error_code, bool *ret_changed) {
	struct sqlite_store *q = SQ(s);
	sqlite3_stmt *st;
	int r;

	if (id > 0 && sid) {
		st = stmt(q, ST_STATUS_SID_BY_ID);
		if (!st) {
			return -EIO;
		}
		sqlite3_bind_int64(st, 1, id);
		bind_text(st, 2, sid);
		r = run(q, ST_STATUS_SID_BY_ID, st);
		if (r < 0 && r != -EEXIST) {
			return r;
		}
	}
	bool changed = false;
	if (rank > 0) {
		enum st which = id > 0 ? ST_STATUS_BY_ID : ST_STATUS_BY_SID;
		st = stmt(q, which);
		if (!st) {
			return -EIO;
		}
		if (id > 0) {
			sqlite3_bind_int64(st, 1, id);
		} else {
			bind_text(st, 1, sid);
		}
		bind_text(st, 2, status);
		sqlite3_bind_int(st, 3, rank);
		bind_text(st, 4, error_code && *error_code ? error_code : NULL);
		r = run(q, which, st);
		if (r < 0) {
			return r;
		}
		changed = changes(q) > 0;
	}
	if (!changed) {
		enum st which = id > 0 ? ST_EXISTS_ID : ST_EXISTS_SID;
		st = stmt(q, which);
		if (!st) {
			return -EIO;
		}
		if (id > 0) {
			sqlite3_bind_int64(st, 1, id);
		} else {
			bind_text(st, 1, sid);
		}
		int rc = sqlite3_step(st);
		done(st);
		if (rc != SQLITE_ROW) {
			return rc == SQLITE_DONE ? -ENOENT : -EIO;
		}
	}
	*ret_changed = changed;
	return 0;
}

static int messages_each(sqlite3_stmt *st, store_message_cb cb, void *ctx, int *ret_rows) {
	int rc, r = 0, rows = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_message m = {
			.id = sqlite3_column_int64(st, 0),
			.sid = (const char *)sqlite3_column_text(st, 1),
			.direction = strcmp((const char *)sqlite3_column_text(st, 2), "inbound") == 0
					? STORE_INBOUND
					: STORE_OUTBOUND,
			.from = (const char *)sqlite3_column_text(st, 3),
			.to = (const char *)sqlite3_column_text(st, 4),
			.body = (const char *)sqlite3_column_text(st, 5),
			.status = (const char *)sqlite3_column_text(st, 6),
			.encoding = (const char *)sqlite3_column_text(st, 7),
			.segments = sqlite3_column_int(st, 8),
			.media_json = (const char *)sqlite3_column_text(st, 9),
			.reply_to = sqlite3_column_int64(st, 10),
			.created_at = sqlite3_column_int64(st, 11),
		};
		rows++;
		r = cb(ctx, &m);
		if (r != 0) {
			break;
		}
	}
	if (r == 0 && rc != SQLITE_DONE) {
		r = -EIO;
	}
	done(st);
	if (ret_rows) {
		*ret_rows = rows;
	}
	return r;
}

static int sq_message_get(struct store *s, const char *user_id, int64_t id, store_message_cb cb,
		void *ctx) {
	struct sqlite_store *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_MESSAGE_GET);
	int rows = 0;
	if (!st) {
		return -EIO;
	}
	bind_text(st, 1, user_id);
	sqlite3_bind_int64(st, 2, id);
	int r = messages_each(st, cb, ctx, &rows);
	return r == 0 && rows == 0 ? -ENOENT : r;
}

/* A user's messages newest first; with before_id, its history: what came before that
 * message (ST_MESSAGES_HISTORY). */
static int messages_of(struct store *s, enum st which, const char *user_id, int64_t before_id,
		int limit, store_message_cb cb, void *ctx) {
	sqlite3_stmt *st = stmt(SQ(s), which);
	if (!st) {
		return -EIO;
	}
	bind_text(st, 1, user_id);
	sqlite3_bind_int(st, 2, limit);
	if (which == ST_MESSAGES_HISTORY) {
		sqlite3_bind_int64(st, 3, before_id);
	}
	return messages_each(st, cb, ctx, NULL);
}

static int sq_messages_list(struct store *s, const char *user_id, int limit,
		store_message_cb cb, void *ctx) {
	return messages_of(s, ST_MESSAGES_NEWEST, user_id, 0, limit, cb, ctx);
}

static int sq_history(struct store *s, const char *user_id, int64_t before_id, int limit,
		store_message_cb cb, void *ctx) {
	return messages_of(s, ST_MESSAGES_HISTORY, user_id, before_id, limit, cb, ctx);
}

static int sq_note_add(struct store *s, const char *user_id, const char *text, int64_t now) {
	struct sqlite_store *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_NOTE_INSERT);
	if (!st) {
		return -EIO;
	}
	bind_text(st, 1, user_id);
	bind_text(st, 2, text);
	sqlite3_bind_int64(st, 3, now);
	return run(q, ST_NOTE_INSERT, st);
}

static int sq_notes_list(struct store *s, const char *user_id, store_note_cb cb, void *ctx) {
	struct sqlite_store *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_NOTES_LIST);
	int rc, r = 0, i = 0;

	if (!st) {
		return -EIO;
	}
	bind_text(st, 1, user_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = cb(ctx, ++i, (const char *)sqlite3_column_text(st, 0));
		if (r != 0) {
			break;
		}
	}
	if (r == 0 && rc != SQLITE_DONE) {
		r = -EIO;
	}
	done(st);
	return r;
}

static int sq_notes_clear(struct store *s, const char *user_id) {
	return by_user(SQ(s), ST_NOTES_CLEAR, user_id);
}

static int sq_optout_set(struct store *s, const char *phone, bool opted_out, int64_t now) {
	struct sqlite_store *q = SQ(s);
	enum st which = opted_out ? ST_OPTOUT_INSERT : ST_OPTOUT_DELETE;
	sqlite3_stmt *st = stmt(q, which);
	if (!st) {
		return -EIO;
	}
	bind_text(st, 1, phone);
	if (opted_out) {
		sqlite3_bind_int64(st, 2, now);
	}
	return run(q, which, st);
}

static int sq_optout_get(struct store *s, const char *phone, bool *ret) {
	struct sqlite_store *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_OPTOUT_GET);
	if (!st) {
		return -EIO;
	}
	bind_text(st, 1, phone);
	int rc = sqlite3_step(st);
	done(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		return -EIO;
	}
	*ret = rc == SQLITE_ROW;
	return 0;
}

static int sq_onboarding_claim(struct store *s, const char *phone, int64_t now, int window_s) {
	struct sqlite_store *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_ONBOARDING);
	if (!st) {
		return -EIO;
	}
	bind_text(st, 1, phone);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int(st, 3, window_s);
	int r = run(q, ST_ONBOARDING, st);
	if (r == 0 && changes(q) == 0) {
		r = -EEXIST;
	}
	return r;
}

static int sq_usage(struct store *s, int64_t since, store_usage_cb cb, void *ctx) {
	struct sqlite_store *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_USAGE);
	int rc, r = 0;

	if (!st) {
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, since);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_usage_row row = {
			.user_id = (const char *)sqlite3_column_text(st, 0),
			.inbound = sqlite3_column_int64(st, 1),
			.outbound = sqlite3_column_int64(st, 2),
			.segments = sqlite3_column_int64(st, 3),
			.over_budget = sqlite3_column_int64(st, 4),
			.truncated = sqlite3_column_int64(st, 5),
			.smart_encoded = sqlite3_column_int64(st, 6),
		};
		r = cb(ctx, &row);
		if (r != 0) {
			break;
		}
	}
	if (r == 0 && rc != SQLITE_DONE) {
		r = -EIO;
	}
	done(st);
	return r;
}

static int sq_outbound_segments(struct store *s, const char *user_id, int64_t since,
		int64_t *ret_segments) {
	struct sqlite_store *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_OUT_SEGMENTS);
	if (!st) {
		return -EIO;
	}
	bind_text(st, 1, user_id);
	sqlite3_bind_int64(st, 2, since);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ret_segments = sqlite3_column_int64(st, 0);
	}
	done(st);
	return rc == SQLITE_ROW ? 0 : -EIO;
}

static void outbox_row(sqlite3_stmt *st, struct store_outbox *o) {
	memset(o, 0, sizeof(*o));
	o->id = sqlite3_column_int64(st, 0);
	copy_col(st, 1, o->user_id, sizeof(o->user_id));
	o->inbound_id = sqlite3_column_int64(st, 2);
	o->outbound_id = sqlite3_column_int64(st, 3);
	copy_col(st, 4, o->state, sizeof(o->state));
	o->attempts = sqlite3_column_int(st, 5);
	o->next_at_ms = sqlite3_column_int64(st, 6);
	o->sent_at_ms = sqlite3_column_int64(st, 7);
	o->created_at_ms = sqlite3_column_int64(st, 8);
	copy_col(st, 9, o->last_error, sizeof(o->last_error));
	copy_col(st, 10, o->to, sizeof(o->to));
	copy_col(st, 11, o->from, sizeof(o->from));
	o->body = (char *)sqlite3_column_text(st, 12);
	o->segments = sqlite3_column_int(st, 13);
}

static int sq_outbox_claim_agent(struct store *s, int64_t now_ms, int64_t lease_until_ms,
		struct store_outbox *ret) {
	struct sqlite_store *q = SQ(s);
	struct store_outbox o;
	int r = begin(q);
	if (r < 0) {
		return r;
	}
	sqlite3_stmt *st = stmt(q, ST_OB_CLAIM);
	if (!st) {
		r = -EIO;
		goto out_rollback;
	}
	sqlite3_bind_int64(st, 1, now_ms);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		outbox_row(st, &o);
		o.body = NULL;
	}
	done(st);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? -ENOENT : -EIO;
		goto out_rollback;
	}
	st = stmt(q, ST_OB_LEASE);
	if (!st) {
		r = -EIO;
		goto out_rollback;
	}
	sqlite3_bind_int64(st, 1, o.id);
	sqlite3_bind_int64(st, 2, lease_until_ms);
	sqlite3_bind_int64(st, 3, now_ms);
	r = run(q, ST_OB_LEASE, st);
	if (r == 0) {
		r = commit(q);
	}
	if (r == 0) {
		o.attempts++;
		*ret = o;
		return 0;
	}
out_rollback:
	rollback(q);
	return r;
}

static int sq_outbox_replied(struct store *s, int64_t id, const char *user_id,
		const struct store_message *reply, int64_t now_ms) {
	struct sqlite_store *q = SQ(s);
	int64_t out_id = 0;
	int r = begin(q);
	if (r < 0) {
		return r;
	}
	if (reply) {
		struct store_message m = *reply;
		m.direction = STORE_OUTBOUND;
		m.enqueue = false;
		r = message_insert(q, user_id, &m, &out_id);
	}
	sqlite3_stmt *st = r == 0 ? stmt(q, ST_OB_REPLIED) : NULL;
	if (r == 0 && !st) {
		r = -EIO;
	}
	if (r == 0) {
		sqlite3_bind_int64(st, 1, id);
		bind_text(st, 2, reply ? "send" : "done");
		if (reply) {
			sqlite3_bind_int64(st, 3, out_id);
		}
		sqlite3_bind_int64(st, 4, now_ms);
		r = run(q, ST_OB_REPLIED, st);
	}
	if (r == 0 && changes(q) == 0) {
		r = -ENOENT; /* revived or deleted meanwhile */
	}
	if (r == 0) {
		r = commit(q);
	}
	if (r < 0) {
		rollback(q);
	}
	return r;
}

static int outbox_each(struct sqlite_store *q, enum st which, sqlite3_stmt *st,
		store_outbox_cb cb, void *ctx) {
	struct store_outbox o;
	int rc, r = 0;
	(void)which;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		outbox_row(st, &o);
		r = cb(ctx, &o);
		if (r != 0) {
			break;
		}
	}
	if (r == 0 && rc != SQLITE_DONE) {
		r = -EIO;
	}
	done(st);
	(void)q;
	return r;
}

static int sq_outbox_ready(struct store *s, int64_t now_ms, int limit, store_outbox_cb cb,
		void *ctx) {
	struct sqlite_store *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_OB_READY);
	if (!st) {
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int(st, 2, limit);
	return outbox_each(q, ST_OB_READY, st, cb, ctx);
}

static int sq_outbox_update(struct store *s, int64_t id, const char *state, int64_t next_at_ms,
		bool attempt, const char *error, int64_t now_ms) {
	struct sqlite_store *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_OB_UPDATE);
	if (!st) {
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, state);
	sqlite3_bind_int64(st, 3, next_at_ms);
	sqlite3_bind_int(st, 4, attempt ? 1 : 0);
	bind_text(st, 5, error);
	sqlite3_bind_int64(st, 6, now_ms);
	int r = run(q, ST_OB_UPDATE, st);
	return r == 0 && changes(q) == 0 ? -ENOENT : r;
}

static int sq_outbox_sent(struct store *s, int64_t id, int64_t outbound_id, const char *sid,
		const char *status) {
	struct sqlite_store *q = SQ(s);
	int r = begin(q);
	if (r < 0) {
		return r;
	}
	sqlite3_stmt *st = stmt(q, ST_OB_MSG_SENT);
	if (!st) {
		r = -EIO;
	} else {
		sqlite3_bind_int64(st, 1, outbound_id);
		bind_text(st, 2, sid && *sid ? sid : NULL);
		bind_text(st, 3, status);
		sqlite3_bind_int(st, 4, store_status_rank(status));
		r = run(q, ST_OB_MSG_SENT, st);
		if (r == -EEXIST) {
			r = 0; /* the sid is recorded already (a status callback came first) */
		}
	}
	if (r == 0) {
		st = stmt(q, ST_OB_DONE);
		if (!st) {
			r = -EIO;
		} else {
			sqlite3_bind_int64(st, 1, id);
			sqlite3_bind_int64(st, 2, ids_now_ms());
			r = run(q, ST_OB_DONE, st);
		}
	}
	if (r == 0) {
		r = commit(q);
	}
	if (r < 0) {
		rollback(q);
	}
	return r;
}

static int sq_outbox_list(struct store *s, const char *state, int limit, store_outbox_cb cb,
		void *ctx) {
	struct sqlite_store *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_OB_LIST);
	if (!st) {
		return -EIO;
	}
	bind_text(st, 1, state);
	sqlite3_bind_int(st, 2, limit);
	return outbox_each(q, ST_OB_LIST, st, cb, ctx);
}

static int sq_outbox_retry(struct store *s, int64_t id, int64_t now_ms, int *ret_count) {
	struct sqlite_store *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_OB_RETRY);
	if (!st) {
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now_ms);
	int r = run(q, ST_OB_RETRY, st);
	if (r == 0) {
		*ret_count = changes(q);
	}
	return r;
}

static int sq_outbox_depth(struct store *s, int64_t *ret_depth) {
	struct sqlite_store *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_OB_DEPTH);
	if (!st) {
		return -EIO;
	}
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ret_depth = sqlite3_column_int64(st, 0);
	}
	done(st);
	return rc == SQLITE_ROW ? 0 : -EIO;
}

static int sq_outbound_state(struct store *s, int64_t id, char *sid, char *status) {
	struct sqlite_store *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_OUTBOUND_STATE);
	if (!st) {
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		copy_col(st, 0, sid, STORE_SID_SIZE);
		copy_col(st, 1, status, 24);
	}
	done(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
}

/* ---- group commit ---- */

/* One fsync of the WAL covers every commit written before it starts: on Linux fsync
 * flushes the file, whichever descriptor asks. */
static void *flusher(void *arg) {
	struct sqlite_store *q = arg;
	prctl(PR_SET_NAME, "sr-flusher");
	pthread_mutex_lock(&q->fmu);
	for (;;) {
		while (!q->stopping && q->requested == q->flushed) {
			pthread_cond_wait(&q->fcv, &q->fmu);
		}
		if (q->requested == q->flushed && q->stopping) {
			break;
		}
		uint64_t target = q->requested;
		pthread_mutex_unlock(&q->fmu);
		fdatasync(q->wal_fd);
		pthread_mutex_lock(&q->fmu);
		q->flushed = target;
		/* Waiters are pushed in gen order at the head: the covered ones are a tail. */
		struct waiter *ready = NULL;
		for (struct waiter **pp = &q->waiters; *pp;) {
			if ((*pp)->gen <= target) {
				ready = *pp;
				*pp = NULL;
				break;
			}
			pp = &(*pp)->next;
		}
		pthread_mutex_unlock(&q->fmu);
		while (ready) {
			struct waiter *next = ready->next;
			ready->done(ready->ctx);
			free(ready);
			ready = next;
		}
		pthread_mutex_lock(&q->fmu);
	}
	pthread_mutex_unlock(&q->fmu);
	return NULL;
}

static int sq_durable(struct store *s, void (*done)(void *ctx), void *ctx) {
	struct sqlite_store *q = SQ(s);
	if (q->sync != STORE_SYNC_GROUP || q->wal_fd < 0) {
		return 1;
	}
	struct waiter *w = malloc(sizeof(*w));
	if (!w) {
		return -ENOMEM;
	}
	w->done = done;
	w->ctx = ctx;
	pthread_mutex_lock(&q->fmu);
	w->gen = ++q->requested;
	w->next = q->waiters;
	q->waiters = w;
	pthread_cond_signal(&q->fcv);
	pthread_mutex_unlock(&q->fmu);
	return 0;
}

/* One PASSIVE checkpoint: never waits for readers or writers; what it cannot copy now,
 * it copies next time. 0 with the frames in the WAL and how many of them are copied into
 * the database, or -1. */
static int checkpoint(struct conn *c, int *ret_log, int *ret_copied) {
	int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, ret_log,
			ret_copied);
	return rc == SQLITE_OK ? 0 : -1;
}

/* The WAL is past the cap and copied up to frame copied: catch up with the writer in the
 * open, then copy the frames added meanwhile with our writers held off, for the copy and
 * the database's fsync. */
static void wal_restart(struct sqlite_store *q, struct conn *c, int copied) {
	int log;
	for (int pass = 0; pass < 4; pass++) {
		pthread_mutex_lock(&q->cmu);
		int behind = q->wal_frames - copied; /* negative: the WAL started over meanwhile */
		pthread_mutex_unlock(&q->cmu);
		if (behind <= q->checkpoint_pages / 2 || checkpoint(c, &log, &copied) < 0) {
			break;
		}
	}
	atomic_store(&q->gate, true);
	pthread_mutex_lock(&q->write_mu);
	checkpoint(c, &log, &copied);
	pthread_mutex_unlock(&q->write_mu);
	pthread_mutex_lock(&q->cmu);
	atomic_store(&q->gate, false);
	pthread_cond_broadcast(&q->gate_cv);
	pthread_mutex_unlock(&q->cmu);
}

static void *checkpointer(void *arg) {
	struct sqlite_store *q = arg;
	prctl(PR_SET_NAME, "sr-checkpoint");
	struct conn *c = conn_get(q);
	pthread_mutex_lock(&q->cmu);
	while (!q->ckpt_stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		if (q->wal_pages < q->checkpoint_pages) {
			pthread_cond_timedwait(&q->ccv, &q->cmu, &ts); /* at most 1 s behind */
		}
		if (q->ckpt_stop || q->wal_pages == 0 || !c) {
			continue;
		}
		q->wal_pages = 0;
		pthread_mutex_unlock(&q->cmu);
		int log, copied;
		if (checkpoint(c, &log, &copied) == 0 && log >= q->wal_cap_pages) {
			wal_restart(q, c, copied);
		}
		pthread_mutex_lock(&q->cmu);
	}
	pthread_mutex_unlock(&q->cmu);
	return NULL;
}

static int flusher_start(struct sqlite_store *q) {
	char *wal = malloc(strlen(q->path) + 5);
	if (!wal) {
		return -ENOMEM;
	}
	sprintf(wal, "%s-wal", q->path);
	q->wal_fd = open(wal, O_RDONLY | O_CLOEXEC);
	free(wal);
	if (q->wal_fd < 0) {
		return -EIO;
	}
	if (pthread_create(&q->flusher, NULL, flusher, q) != 0) {
		close(q->wal_fd);
		q->wal_fd = -1;
		return -EIO;
	}
	q->flusher_started = true;
	return 0;
}

static void flusher_stop(struct sqlite_store *q) {
	if (!q->flusher_started) {
		return;
	}
	pthread_mutex_lock(&q->fmu);
	q->stopping = true;
	pthread_cond_signal(&q->fcv);
	pthread_mutex_unlock(&q->fmu);
	pthread_join(q->flusher, NULL);
	q->flusher_started = false;
	close(q->wal_fd);
	q->wal_fd = -1;
}

/* Reads a real table page (the users table's root; no row on an empty table is fine), not
 * just the library as "SELECT 1" did. */
#define PING_SQL "SELECT 1 FROM users LIMIT 1"
#define PING_BUSY_MS 2000

/* Through a connection of its own, opened for this call: a thread's connection may answer
 * from its page cache pages the file no longer holds (a file damaged or deleted under us,
 * which every other request would then fail on). Not created if missing. */
static int sq_ping(struct store *s) {
	struct sqlite_store *q = SQ(s);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	int rc = sqlite3_open_v2(q->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(db, PING_BUSY_MS);
		rc = sqlite3_prepare_v2(db, PING_SQL, -1, &st, NULL);
	}
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	sqlite3_close_v2(db); /* also after a failed open, which still gives a handle */
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -EIO;
}

static int sq_counts(struct store *s, int64_t *ret_users, int64_t *ret_phones) {
	struct sqlite_store *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_COUNTS);
	if (!st) {
		return -EIO;
	}
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ret_users = sqlite3_column_int64(st, 0);
		*ret_phones = sqlite3_column_int64(st, 1);
	}
	done(st);
	return rc == SQLITE_ROW ? 0 : -EIO;
}

static int user_version(sqlite3 *db, int *ret) {
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) {
		return -EIO;
	}
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ret = sqlite3_column_int(st, 0);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -EIO;
}

static int sq_schema_version(struct store *s, int *ret_version) {
	struct conn *c = conn_get(SQ(s));
	return c ? user_version(c->db, ret_version) : -EIO;
}

/* Applies the migrations this file has and the database lacks, each in its own
 * transaction, so that two processes starting together apply each one once. */
static int migrate(sqlite3 *db) {
	int version;
	if (exec(db, "PRAGMA journal_mode = WAL") < 0) {
		return -EIO;
	}
	for (;;) {
		if (exec(db, "BEGIN IMMEDIATE") < 0) {
			return -EIO;
		}
		if (user_version(db, &version) < 0) {
			goto fail;
		}
		if (version >= SCHEMA_VERSION) {
			return exec(db, "COMMIT");
		}
		char pragma[64];
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", version + 1);
		if (exec(db, migrations[version]) < 0 || exec(db, pragma) < 0 ||
				exec(db, "COMMIT") < 0) {
			goto fail;
		}
	}
fail:
	exec(db, "ROLLBACK");
	return -EIO;
}

static void sq_close(struct store *s) {
	struct sqlite_store *q = SQ(s);
	flusher_stop(q);
	if (q->checkpointer_started) {
		pthread_mutex_lock(&q->cmu);
		q->ckpt_stop = true;
		pthread_cond_signal(&q->ccv);
		pthread_mutex_unlock(&q->cmu);
		pthread_join(q->checkpointer, NULL);
	}
	pthread_cond_destroy(&q->ccv);
	pthread_cond_destroy(&q->gate_cv);
	pthread_mutex_destroy(&q->cmu);
	pthread_cond_destroy(&q->fcv);
	pthread_mutex_destroy(&q->fmu);
	store_conns_destroy(&q->conns);
	pthread_mutex_destroy(&q->write_mu);
	free(q->path);
	free(q);
}

static const struct store_ops sqlite_ops = {
	.close = sq_close,
	.ping = sq_ping,
	.durable = sq_durable,
	.single_writer = true,
	.counts = sq_counts,
	.schema_version = sq_schema_version,
	.user_add = sq_user_add,
	.user_get = sq_user_get,
	.user_by_phone = sq_user_by_phone,
	.user_delete = sq_user_delete,
	.route_lookup = sq_route_lookup,
	.tx_begin = sq_tx_begin,
	.tx_commit = sq_tx_commit,
	.tx_rollback = sq_tx_rollback,
	.user_list = sq_user_list,
	.phone_add = sq_phone_add,
	.phone_remove = sq_phone_remove,
	.import = sq_import,
	.answer_for = sq_answer_for,
	.message_add = sq_message_add,
	.status_update = sq_status_update,
	.message_get = sq_message_get,
	.messages_list = sq_messages_list,
	.history = sq_history,
	.note_add = sq_note_add,
	.notes_list = sq_notes_list,
	.notes_clear = sq_notes_clear,
	.optout_set = sq_optout_set,
	.optout_get = sq_optout_get,
	.onboarding_claim = sq_onboarding_claim,
	.outbound_segments = sq_outbound_segments,
	.outbox_claim_agent = sq_outbox_claim_agent,
	.outbox_replied = sq_outbox_replied,
	.outbox_ready = sq_outbox_ready,
	.outbox_update = sq_outbox_update,
	.outbox_sent = sq_outbox_sent,
	.outbox_list = sq_outbox_list,
	.outbox_retry = sq_outbox_retry,
	.outbox_depth = sq_outbox_depth,
	.outbound_state = sq_outbound_state,
	.usage = sq_usage,
};

/* mkdir -p of the directory part of path. */
static int make_parent(const char *path) {
	char *dir = strdup(path);
	if (!dir) {
		return -ENOMEM;
	}
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		for (char *p = dir + 1; *p; p++) {
			if (*p == '/') {
				*p = '\0';
				mkdir(dir, 0700);
				*p = '/';
			}
		}
		mkdir(dir, 0700);
	}
	free(dir);
	return 0;
}

/* Before SQLite starts: no global memory statistics (a mutex on every allocation). */
static void sqlite_configure(void) {
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int store_sqlite_open(const char *path, const struct store_options *o, struct store **ret) {
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct sqlite_store *q;
	struct conn *c;

	pthread_once(&once, sqlite_configure);

	if (!*path) {
		return -EINVAL;
	}
	q = calloc(1, sizeof(*q));
	if (!q) {
		return -ENOMEM;
	}
	q->base.ops = &sqlite_ops;
	q->sync = o->sync;
	q->checkpoint_pages = o->checkpoint_pages > 0 ? o->checkpoint_pages : CHECKPOINT_PAGES;
	q->wal_cap_pages = o->wal_cap_pages > 0 ? o->wal_cap_pages : WAL_CAP_PAGES;
	q->wal_fd = -1;
	q->path = strdup(path);
	if (!q->path || store_conns_init(&q->conns, conn_gone) < 0) {
		free(q->path);
		free(q);
		return -ENOMEM;
	}
	pthread_mutex_init(&q->write_mu, NULL);
	pthread_mutex_init(&q->fmu, NULL);
	pthread_cond_init(&q->fcv, NULL);
	pthread_mutex_init(&q->cmu, NULL);
	pthread_cond_init(&q->ccv, NULL);
	pthread_cond_init(&q->gate_cv, NULL);
	atomic_init(&q->gate, false);
	make_parent(path);
	c = conn_get(q);
	if (!c || migrate(c->db) < 0 || (q->sync == STORE_SYNC_GROUP && flusher_start(q) < 0)) {
		sq_close(&q->base);
		return -EIO;
	}
	if (pthread_create(&q->checkpointer, NULL, checkpointer, q) != 0) {
		sq_close(&q->base);
		return -EIO;
	}
	q->checkpointer_started = true;
	*ret = &q->base;
	return 0;
}
