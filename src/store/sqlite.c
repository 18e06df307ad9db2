/* The SQLite dialect (dialect.h): embedded SQLite in WAL mode, one connection per thread
 * (opened on first use, its statements prepared once and reset after each use), our own
 * writers queued on one process-wide write lock, another process's on a busy handler.
 *
 * Group commit (STORE_SYNC_GROUP): a commit writes the WAL without fsyncing it; one flusher
 * thread fsyncs it for every commit waiting at that moment, and a commit returns once its
 * fsync is done (or, through store_tx_commit_then, calls back then). STORE_SYNC_FULL
 * fsyncs inside each commit, STORE_SYNC_NORMAL never waits. A checkpointer thread copies
 * the WAL into the database off the request path. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/dialect.h"
#include "wait.h"

struct conn {
	struct store_conn link; /* first: the registry's */
	struct sqlite_store *q;
	sqlite3 *db;
	int depth; /* open transactions: 1 = BEGIN, more = savepoints inside it */
	sqlite3_stmt *st[ST_COUNT];
	struct store__stats_log stats; /* the open transaction's messages, counted */
};

/* A commit waiting for the flusher's fsync. */
struct waiter {
	uint64_t gen;
	store_durable_cb done;
	void *ctx;
	bool owned; /* malloc'd: the flusher frees it after done */
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
	/* A failed fsync: Linux may have dropped the dirty pages and report success later, so
	 * nothing written since can be acknowledged; set for good, until the store is reopened
	 * (a restart), which reads the database afresh. */
	atomic_bool failed;
	/* The last write failed for want of space or an I/O error (SQLITE_FULL, SQLITE_IOERR);
	 * cleared by the next write that succeeds (or ping's probe). */
	atomic_bool write_failed;
};

int (*store__sqlite_sync)(int fd) = fdatasync;

static struct sqlite_store *SQ(struct store *s) {
	return (struct sqlite_store *)s;
}

/* Remembers what a write's result code says of the disk (see write_failed). */
static void note_write(struct sqlite_store *q, int rc) {
	int primary = rc & 0xff;
	if (primary == SQLITE_FULL || primary == SQLITE_IOERR) {
		atomic_store(&q->write_failed, true);
	} else if (primary == SQLITE_OK || primary == SQLITE_DONE) {
		atomic_store(&q->write_failed, false);
	}
}

static void conn_free(struct conn *c) {
	for (int i = 0; i < ST_COUNT; i++) {
		sqlite3_finalize(c->st[i]);
	}
	store__stats_free(&c->stats);
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
	c->q = q;
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

/* The connection's prepared statement st (reset and unbound), or NULL. */
static sqlite3_stmt *prepared(struct conn *c, enum store__st st) {
	const char *text = store__sql_of(STORE__SQLITE, st);
	if (!c->st[st] && text &&
			sqlite3_prepare_v3(c->db, text, -1, SQLITE_PREPARE_PERSISTENT, &c->st[st],
					NULL) != SQLITE_OK) {
		return NULL;
	}
	return c->st[st];
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
		if (store__sqlite_sync(q->wal_fd) != 0) {
			atomic_store(&q->failed, true);
		}
		/* Once failed, a later fsync's success proves nothing: the pages it should have
		 * written may be gone. */
		int err = atomic_load(&q->failed) ? -EIO : 0;
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
			/* A waiter on a thread's stack is gone once told: read it first. */
			struct waiter *next = ready->next;
			bool owned = ready->owned;
			ready->done(ready->ctx, err);
			if (owned) {
				free(ready);
			}
			ready = next;
		}
		pthread_mutex_lock(&q->fmu);
	}
	pthread_mutex_unlock(&q->fmu);
	return NULL;
}

static bool grouped(const struct sqlite_store *q) {
	return q->sync == STORE_SYNC_GROUP && q->wal_fd >= 0;
}

static void wait_for_flush(struct sqlite_store *q, struct waiter *w) {
	pthread_mutex_lock(&q->fmu);
	w->gen = ++q->requested;
	w->next = q->waiters;
	q->waiters = w;
	pthread_cond_signal(&q->fcv);
	pthread_mutex_unlock(&q->fmu);
}

struct blocked {
	struct wait_once w;
	int err;
};

static void unblock(void *ctx, int err) {
	struct blocked *b = ctx;
	b->err = err;
	wait_once_signal(&b->w);
}

/* Returns once what this thread committed is on stable storage: 0, or -EIO. */
static int durable_wait(struct sqlite_store *q) {
	if (!grouped(q)) {
		return atomic_load(&q->failed) ? -EIO : 0;
	}
	struct blocked b = {.w = WAIT_ONCE_INIT};
	struct waiter w = {.done = unblock, .ctx = &b};
	wait_for_flush(q, &w);
	wait_once_wait(&b.w);
	return b.err;
}

/* done(ctx, err) once what this thread committed is on stable storage. */
static void durable_then(struct sqlite_store *q, store_durable_cb done, void *ctx) {
	struct waiter *w = grouped(q) ? malloc(sizeof(*w)) : NULL;
	if (!w) {
		done(ctx, durable_wait(q)); /* no memory to wait asynchronously: block */
		return;
	}
	*w = (struct waiter){.done = done, .ctx = ctx, .owned = true};
	wait_for_flush(q, w);
}

/* ---- transactions and statements ---- */

/* Runs one of the transaction statements. */
static int simple(struct conn *c, enum store__st which) {
	sqlite3_stmt *st = prepared(c, which);
	if (!st) {
		return -EIO;
	}
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (which == ST_COMMIT || rc != SQLITE_DONE) {
		note_write(c->q, rc);
	}
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : code(rc);
}

/* Transactions nest: inside an open one (store_tx_begin), a call's own transaction is a
 * savepoint, committed with the outer one. The outermost holds the write lock. */
static int sq_begin(struct store *s) {
	struct sqlite_store *q = SQ(s);
	struct conn *c = conn_get(q);
	if (!c || (c->depth == 0 && atomic_load(&q->failed)) ||
			c->depth + 1 >= STORE__STATS_DEPTH) {
		return -EIO; /* failed: nothing more is acknowledged */
	}
	if (c->depth == 0) {
		write_lock(q);
	}
	int r = simple(c, c->depth ? ST_SAVEPOINT : ST_BEGIN);
	if (r == 0) {
		store__stats_begin(&c->stats, ++c->depth);
	} else if (c->depth == 0) {
		pthread_mutex_unlock(&q->write_mu);
	}
	return r;
}

static void sq_rollback(struct store *s) {
	struct sqlite_store *q = SQ(s);
	struct conn *c = conn_get(q);
	if (!c || c->depth == 0) {
		return;
	}
	store__stats_undo(&c->stats, c->depth);
	if (c->depth > 1) {
		simple(c, ST_ROLLBACK_TO);
		simple(c, ST_RELEASE);
	} else {
		simple(c, ST_ROLLBACK);
	}
	if (--c->depth == 0) {
		pthread_mutex_unlock(&q->write_mu);
	}
}

static int sq_commit(struct store *s, store_durable_cb done, void *ctx) {
	struct sqlite_store *q = SQ(s);
	struct conn *c = conn_get(q);
	if (!c || c->depth == 0) {
		return -EIO;
	}
	if ((c->depth == 1 && (atomic_load(&q->failed) || store__stats_write(s, &c->stats) < 0)) ||
			simple(c, c->depth > 1 ? ST_RELEASE : ST_COMMIT) < 0) {
		sq_rollback(s);
		return -EIO;
	}
	if (c->depth > 1) {
		store__stats_release(&c->stats, c->depth);
	}
	if (--c->depth > 0) {
		if (done) {
			done(ctx, 0); /* as durable as it gets until the outer one commits */
		}
		return 0;
	}
	pthread_mutex_unlock(&q->write_mu);
	if (done) {
		durable_then(q, done, ctx);
		return 0;
	}
	return durable_wait(q);
}

static int bind(sqlite3_stmt *st, const struct store__q *q) {
	int n = sqlite3_bind_parameter_count(st);
	int rc = SQLITE_OK;
	for (int i = 0; i < q->n && i < n && rc == SQLITE_OK; i++) {
		const struct store__param *p = &q->p[i];
		if (p->type == STORE__TEXT) {
			rc = sqlite3_bind_text(st, i + 1, p->text, -1, SQLITE_STATIC);
		} else if (p->type == STORE__INT) {
			rc = sqlite3_bind_int64(st, i + 1, p->i);
		} else {
			rc = sqlite3_bind_null(st, i + 1);
		}
	}
	return rc == SQLITE_OK ? 0 : -EIO;
}

/* Resets q's statement and, for a write outside a transaction, lets go of the write
 * lock: SQLite committed it by now. */
static bool finish(struct sqlite_store *q, struct store__q *sq) {
	sqlite3_stmt *st = sq->impl;
	bool wrote = sq->locked;
	/* To its end: SQLite calls the WAL hook (on_wal) only from a step that commits. */
	while (wrote && st && sq->rc == SQLITE_ROW) {
		sq->rc = sqlite3_step(st);
	}
	if (st) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	sq->impl = NULL;
	if (wrote) {
		sq->locked = false;
		pthread_mutex_unlock(&q->write_mu);
	}
	return wrote;
}

/* A write outside a transaction takes the process's write lock for its implicit one, until
 * the statement is reset. */
static int sq_exec(struct store *s, struct store__q *sq) {
	struct sqlite_store *q = SQ(s);
	struct conn *c = conn_get(q);
	sqlite3_stmt *st = c ? prepared(c, sq->st) : NULL;

	if (!st || bind(st, sq) < 0) {
		if (st) {
			sqlite3_clear_bindings(st);
		}
		return -EIO;
	}
	sq->locked = c->depth == 0 && !sqlite3_stmt_readonly(st);
	if (sq->locked && atomic_load(&q->failed)) {
		sq->locked = false;
		sqlite3_clear_bindings(st);
		return -EIO; /* failed: nothing more is acknowledged */
	}
	sq->impl = st;
	if (sq->locked) {
		write_lock(q);
	}
	sq->rc = sqlite3_step(st);
	sq->fresh = true;
	if (sq->locked || (sq->rc != SQLITE_ROW && sq->rc != SQLITE_DONE)) {
		note_write(q, sq->rc);
	}
	if (sq->rc != SQLITE_ROW && sq->rc != SQLITE_DONE) {
		int r = code(sq->rc);
		finish(q, sq);
		return r;
	}
	sq->changes = sq->rc == SQLITE_DONE ? sqlite3_changes(c->db) : 0;
	return 0;
}

static int sq_next(struct store__q *sq) {
	if (!sq->fresh) {
		sq->rc = sqlite3_step(sq->impl);
	}
	sq->fresh = false;
	return sq->rc == SQLITE_ROW ? 1 : sq->rc == SQLITE_DONE ? 0 : -EIO;
}

/* A write outside a transaction returns once durable (its last step committed it). */
static int sq_done(struct store *s, struct store__q *sq) {
	if (!finish(SQ(s), sq)) {
		return 0;
	}
	return sq->rc == SQLITE_DONE ? durable_wait(SQ(s)) : code(sq->rc);
}

static int64_t sq_col_int(const struct store__q *sq, int col) {
	return sqlite3_column_int64(sq->impl, col);
}

static const char *sq_col_text(const struct store__q *sq, int col) {
	return (const char *)sqlite3_column_text(sq->impl, col);
}

/* A big page cache while importing. */
static void sq_bulk(struct store *s, bool on) {
	struct conn *c = conn_get(SQ(s));
	if (c) {
		exec(c->db, on ? "PRAGMA cache_size = -262144" : "PRAGMA cache_size = -16384");
	}
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


/* A real write, durable (this connection's synchronous is FULL): page 1 rewritten as it is,
 * a frame appended to the WAL. Clears write_failed when it succeeds. */
static int write_probe(struct sqlite_store *q, sqlite3 *db) {
	int version;
	if (exec(db, "BEGIN IMMEDIATE") < 0) {
		return -EIO;
	}
	char pragma[64];
	int r = store__sqlite_user_version(db, &version);
	if (r == 0) {
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", version);
		r = exec(db, pragma);
	}
	if (r < 0 || exec(db, "COMMIT") < 0) {
		exec(db, "ROLLBACK");
		return -EIO;
	}
	atomic_store(&q->write_failed, false);
	return 0;
}

/* Through a connection of its own, opened for this call: a thread's connection may answer
 * from its page cache pages the file no longer holds (a file damaged or deleted under us,
 * which every other request would then fail on). Not created if missing.
 * Ready means a write would be acknowledged now: not after a failed fsync, and after a
 * write that failed (a full disk), only once a real write succeeds again. */
static int sq_ping(struct store *s) {
	struct sqlite_store *q = SQ(s);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	if (atomic_load(&q->failed)) {
		return -EIO;
	}
	int rc = sqlite3_open_v2(q->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(db, PING_BUSY_MS);
		rc = sqlite3_prepare_v2(db, PING_SQL, -1, &st, NULL);
	}
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	int r = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -EIO;
	if (r == 0 && atomic_load(&q->write_failed)) {
		r = write_probe(q, db);
	}
	sqlite3_close_v2(db); /* also after a failed open, which still gives a handle */
	return r;
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

static int sq_count(struct store *s, const struct store_message *m, bool inbound) {
	struct conn *c = conn_get(SQ(s));
	return c && c->depth > 0 ? store__stats_add(&c->stats, c->depth, m, inbound) : -EIO;
}

static bool sq_in_tx(struct store *s) {
	struct conn *c = conn_get(SQ(s));
	return c && c->depth > 0;
}

static const struct store__dialect sqlite_dialect = {
	.id = STORE__SQLITE,
	.single_writer = true,
	.close = sq_close,
	.ping = sq_ping,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.exec = sq_exec,
	.next = sq_next,
	.done = sq_done,
	.col_int = sq_col_int,
	.col_text = sq_col_text,
	.bulk = sq_bulk,
	.count = sq_count,
	.in_tx = sq_in_tx,
};

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
	q->base.d = &sqlite_dialect;
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
	store__sqlite_make_parent(path);
	c = conn_get(q);
	if (!c || store__sqlite_migrate(c->db) < 0 || (q->sync == STORE_SYNC_GROUP && flusher_start(q) < 0)) {
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
