/* The PostgreSQL dialect (dialect.h, libpq): several router processes share one database.
 *
 * Connections (postgres_conn.c). One per thread (a pthread key, as in sqlite.c), opened on first
 * use with connect_timeout 2 s; each statement is prepared once per connection (PQprepare) and run
 * with PQexecPrepared, or, for the commands whose results nobody reads (savepoints, their
 * releases, the scope), sent in pipeline mode with the next statement that waits (run()). Before a
 * call uses an idle connection it checks, without a round trip, whether the server has said
 * goodbye (a restart: the socket is readable, then EOF); a broken connection is dropped and the
 * call connects afresh and prepares again. While the server is down a call fails at once with -EIO
 * (the connection is refused), so /ready and the webhook answer 503 quickly; when it is back the
 * next call works. A call whose first round trip, BEGIN, finds the connection broken retries it
 * once on a new connection (nothing was done yet); any later failure returns -EIO and the next
 * call reconnects.
 * store_tx_begin opens a transaction around several calls of the thread (the router's
 * one commit per message): inside it, a call's own transaction is a savepoint.
 *
 * User isolation (DESIGN.md). Everything lives in schema `smsrouter`. The per-user tables
 * (users, phones, messages, notes, outbox) have row-level security, ENABLEd and FORCEd
 * (the service role owns them, and an owner is exempt without FORCE). Their `*_own` policy
 * shows and accepts a row only when its user id equals the transaction's setting
 * smsrouter.user_id; messages of unknown senders (user_id NULL) belong to the pseudo-user
 * "-", which no user id can be. Every per-user call here runs in a transaction that first
 * does set_config('smsrouter.user_id', <the id it was given>, true), so a query of such a
 * call that forgot its `WHERE user_id = $1`, or joined wrongly, still sees that one user's
 * rows and cannot write another's. Without the setting (or after the transaction, when it
 * reads '') no row is visible.
 * The calls that must cross users (answer_for and dedupe by MessageSid, user_by_phone and
 * route_lookup, user_list, counts, status callbacks by id or sid, the outbox's claim, ready,
 * update, sent, list, retry and depth, outbound_state, usage) each call one SQL function sr_*:
 * SECURITY DEFINER, owned by the NOLOGIN role smsrouter_system, the only role the `*_system`
 * policies (USING true) name. Each function does one fixed thing and returns only what its store
 * call returns (the phone lookup returns one user, usage returns sums, the outbox returns due
 * rows); EXECUTE is revoked from PUBLIC and granted to the service role. The service role does not
 * hold smsrouter_system's rights: it is NOINHERIT (PostgreSQL 15 sets inheritance per role), a
 * member only so that migrations can create the functions as smsrouter_system. Inserts that must
 * not collide across users (a phone number, a MessageSid) rely on unique constraints, which see
 * every row without reading any. Opt-outs and onboarding are keyed by phone number and belong to no
 * user: plain tables. So a bug above the store cannot read across users: each call it can make is
 * scoped to the user id it passes, or is one of the fixed functions. Row-level security does not
 * bind a superuser or a BYPASSRLS role, nor SQL that runs SET ROLE smsrouter_system (none here):
 * store_postgres_open refuses a role that is a superuser, has BYPASSRLS or inherits
 * smsrouter_system. The roles an operator creates (scripts/pg-cluster.sh does this):
 *   CREATE ROLE smsrouter_system NOLOGIN;
 *   CREATE ROLE smsrouter LOGIN NOINHERIT PASSWORD '…';
 *   GRANT smsrouter_system TO smsrouter;
 *   CREATE DATABASE smsrouter OWNER smsrouter;
 *
 * Migrations (migrations.c, the one list) are recorded in the table schema_migrations and
 * applied in one transaction under pg_advisory_xact_lock, so two processes starting
 * together apply each once. Statements (catalogue.c) are written with ?N and prepared here
 * as $N. store_options.sync is SQLite's: here a commit is durable when it returns (keep
 * the server's synchronous_commit on; it does its own group commit).
 *
 * Several processes: MessageSid dedupe is the unique constraint; the agent stage claims
 * with FOR UPDATE SKIP LOCKED, one row per user at a time; a send attempt takes its row
 * only if it is still due (sr_outbox_update), so two senders never send one reply twice. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/postgres.h"

/* ---- statements ---- */

/* A statement's outcome: 0, -EEXIST (a unique constraint), -EINVAL (NOT NULL, CHECK, data
 * the server refuses, e.g. invalid UTF-8), -EIO (anything else, the connection too). */
static int code(struct conn *c, const PGresult *res) {
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	const char *state;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		return 0;
	}
	if (PQstatus(c->pg) != CONNECTION_OK) {
		return -EIO; /* the next call connects again */
	}
	state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (!state) {
		return -EIO;
	}
	if (strcmp(state, "23505") == 0) {
		return -EEXIST;
	}
	if (strcmp(state, "23502") == 0 || strcmp(state, "23514") == 0 ||
			strncmp(state, "22", 2) == 0) {
		return -EINVAL;
	}
	return -EIO;
}

/* Prepares statement which on c: the catalogue's text with $N for ?N. */
static int prepare(struct conn *c, enum store__st which, const char *name) {
	const char *text = store__sql_of(STORE__POSTGRES, which);
	char *own = text ? strdup(text) : NULL;
	int n = 0;

	if (!own) {
		return -EIO;
	}
	for (char *p = own; *p; p++) {
		if (*p == '?' && p[1] >= '0' && p[1] <= '9') {
			*p = '$';
			int k = atoi(p + 1);
			n = k > n ? k : n;
		}
	}
	PGresult *res = PQprepare(c->pg, name, own, 0, NULL);
	int r = code(c, res);
	PQclear(res);
	free(own);
	if (r == 0) {
		c->prepared[which] = true;
		c->nparams[which] = n;
	}
	return r;
}

/* Commands whose results nobody reads (a savepoint, its release, the scope) do not wait
 * for the server: they go in libpq's pipeline mode and their results are read, in order,
 * with those of the next statement that waits (or at the COMMIT), one round trip for all.
 * A deferred command that fails makes the server skip what follows it up to that
 * statement, which then returns the first failure's code, as if it had failed itself:
 * every caller of a deferred command either rolls back on the next error or ends in a
 * COMMIT that waits. */
static bool deferrable(enum store__st which) {
	return which == ST_SAVEPOINT || which == ST_RELEASE || which == ST_SCOPE ||
	       which == ST_STATS_ADD;
}

/* Reads the results of c's deferred commands, then (when sent is true) those of the
 * statement sent last, ending the pipeline. 0 and *ret_res (the last statement's), or the
 * first failure's code with *ret_res NULL. */
static int drain(struct conn *c, bool sent, PGresult **ret_res) {
	bool lost = !PQpipelineSync(c->pg);
	int r = 0;

	*ret_res = NULL;
	for (int i = 0; !lost && i < c->deferred + sent; i++) {
		PGresult *res = PQgetResult(c->pg);
		if (!res) {
			lost = true;
			break;
		}
		int e = code(c, res);
		if (r == 0 && e < 0) {
			r = e;
		}
		if (i == c->deferred && r == 0) {
			*ret_res = res;
		} else {
			PQclear(res);
		}
		while ((res = PQgetResult(c->pg)) != NULL) { /* to the end of this command's */
			PQclear(res);
		}
	}
	if (!lost) {
		PGresult *res = PQgetResult(c->pg); /* the sync's */
		lost = PQresultStatus(res) != PGRES_PIPELINE_SYNC;
		PQclear(res);
	}
	c->deferred = 0;
	if (lost || !PQexitPipelineMode(c->pg)) {
		/* Lost track of the connection: every later statement of the transaction fails,
		 * and the next call connects afresh. */
		PQclear(*ret_res);
		*ret_res = NULL;
		pg__conn_drop(c);
		return -EIO;
	}
	return r;
}

/* q's parameters (q may be NULL) as text in v (numbers written in num), as many as
 * prepared statement which takes; their count. */
static int params(const struct conn *c, enum store__st which, const struct store__q *q,
		const char **v, char (*num)[24]) {
	int n = 0;
	for (; q && n < q->n && n < c->nparams[which]; n++) {
		const struct store__param *p = &q->p[n];
		v[n] = p->type == STORE__TEXT ? p->text : NULL;
		if (p->type == STORE__INT) {
			snprintf(num[n], 24, "%lld", (long long)p->i);
			v[n] = num[n];
		}
	}
	return n;
}

/* Runs statement which on c with q's parameters (q may be NULL), preparing it on its first
 * use on this connection. 0 with *ret_res when ret_res is not NULL (the caller PQclears
 * it), or code()'s errors. A deferrable command whose result is not wanted returns 0 at
 * once (see deferrable). */
static int run(struct conn *c, enum store__st which, const struct store__q *q,
		PGresult **ret_res) {
	const char *v[STORE__MAX_PARAMS];
	char num[STORE__MAX_PARAMS][24];
	char name[16];
	PGresult *res = NULL;
	int n = 0, r;

	snprintf(name, sizeof(name), "s%d", (int)which);
	if (!c->prepared[which]) {
		if (c->deferred > 0) {
			r = drain(c, false, &res); /* PQprepare waits: no pipeline then */
			if (r < 0) {
				return r;
			}
		}
		r = prepare(c, which, name);
		if (r < 0) {
			return r;
		}
	}
	n = params(c, which, q, v, num);
	if (!ret_res && deferrable(which) && c->depth > 0) {
		if ((c->deferred == 0 && !PQenterPipelineMode(c->pg)) ||
				!PQsendQueryPrepared(c->pg, name, n, v, NULL, NULL, 0)) {
			return -EIO;
		}
		c->deferred++;
		return 0;
	}
	if (c->deferred > 0) {
		bool sent = PQsendQueryPrepared(c->pg, name, n, v, NULL, NULL, 0);
		r = drain(c, sent, &res);
		if (r == 0 && !sent) {
			r = -EIO;
		}
	} else {
		res = PQexecPrepared(c->pg, name, n, v, NULL, NULL, 0);
		r = code(c, res);
	}
	/* COMMIT of a transaction that failed unseen answers ROLLBACK. */
	if (r == 0 && which == ST_COMMIT && strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		r = -EIO;
	}
	if (r == 0 && ret_res) {
		*ret_res = res;
	} else {
		PQclear(res);
	}
	return r;
}

/* Sends q to prepared statement name (pipeline mode). */
static bool send_prepared(struct conn *c, const char *name, const struct store__q *q) {
	const char *v[STORE__MAX_PARAMS];
	char num[STORE__MAX_PARAMS][24];
	int n = params(c, q->st, q, v, num);
	return PQsendQueryPrepared(c->pg, name, n, v, NULL, NULL, 0);
}

/* Runs each of qs (n) on c, on its own, in one round trip: all are sent in pipeline mode,
 * each followed by a sync, so that each is its own transaction and one that fails fails
 * alone; then their results are read in order. Each one's outcome in its err; 0, or -EIO
 * when the connection was lost (each err not read yet -EIO then). */
static int run_each(struct conn *c, struct store__q *qs, size_t n) {
	char name[16];
	bool lost = false;

	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "s%d", (int)qs[i].st);
		qs[i].impl = NULL;
		qs[i].err = c->prepared[qs[i].st] ? 0 : prepare(c, qs[i].st, name);
	}
	if (!PQenterPipelineMode(c->pg)) {
		return -EIO;
	}
	for (size_t i = 0; i < n && !lost; i++) {
		snprintf(name, sizeof(name), "s%d", (int)qs[i].st);
		lost = qs[i].err == 0 && (!send_prepared(c, name, &qs[i]) || !PQpipelineSync(c->pg));
	}
	for (size_t i = 0; i < n && !lost; i++) {
		struct store__q *q = &qs[i];
		if (q->err < 0) {
			continue; /* not prepared: not sent */
		}
		PGresult *res = PQgetResult(c->pg);
		q->err = code(c, res);
		for (PGresult *more; res && (more = PQgetResult(c->pg)) != NULL;) {
			PQclear(more); /* to the end of this statement's */
		}
		PGresult *sync = PQgetResult(c->pg);
		lost = !res || PQresultStatus(sync) != PGRES_PIPELINE_SYNC;
		PQclear(sync);
		if (q->err == 0 && !lost) {
			q->impl = res;
			q->row = -1;
			q->rows = PQntuples(res);
			q->changes = strtoll(PQcmdTuples(res), NULL, 10);
		} else {
			PQclear(res);
		}
	}
	if (lost || !PQexitPipelineMode(c->pg)) {
		for (size_t i = 0; i < n; i++) {
			PQclear(qs[i].impl);
			qs[i].impl = NULL;
			qs[i].err = -EIO;
		}
		pg__conn_drop(c);
		return -EIO;
	}
	return 0;
}

/* ---- transactions ---- */

/* Transactions nest, as in sqlite.c: inside one that is open (store_tx_begin), a call's own
 * transaction is a savepoint, committed with the outer one. The scope a call sets outlives
 * its savepoint, but every per-user call sets its own first, and the cross-user functions
 * ignore it. */

/* Undoes the innermost transaction. A broken connection is dropped once none is open. */
static void rollback(struct conn *c) {
	bool ok = c->pg && PQstatus(c->pg) == CONNECTION_OK;

	if (c->depth > 1) {
		if (ok) {
			run(c, ST_ROLLBACK_TO, NULL, NULL);
			run(c, ST_RELEASE, NULL, NULL);
		}
	} else if (ok && PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
		run(c, ST_ROLLBACK, NULL, NULL);
	}
	if (c->depth > 0) {
		store__stats_undo(&c->stats, c->depth);
		c->depth--;
	}
	if (c->depth == 0 && c->pg && PQstatus(c->pg) != CONNECTION_OK) {
		pg__conn_drop(c);
	}
}

/* The hourly stats a transaction's messages add, as the arrays of one call of
 * sr_stats_add (migration 15): hours, inbound (1 or 0), outcomes (each after an x, joined
 * by \x1f: an outcome is a status name, and "x" alone is the empty one), messages,
 * segments, MMS, WhatsApp. */
#define STATS_ARRAYS 7
struct stats_arrays {
	FILE *f[STATS_ARRAYS];
	char *text[STATS_ARRAYS];
	size_t size[STATS_ARRAYS];
	bool any;
};

/* One ST_STATS_ADD row (store/stats.c's parameters) into the arrays. */
static int stats_put(void *ctx, struct store__q *q) {
	struct stats_arrays *a = ctx;
	const char *sep = a->any ? "," : "{";
	for (int i = 0; i < STATS_ARRAYS; i++) {
		if (i == 1) {
			fprintf(a->f[i], "%s%d", sep, strcmp(q->p[i].text, "inbound") == 0);
		} else if (i == 2) {
			fprintf(a->f[i], "%sx%s", a->any ? "\x1f" : "", q->p[i].text);
		} else {
			fprintf(a->f[i], "%s%lld", sep, (long long)q->p[i].i);
		}
	}
	a->any = true;
	return 0;
}

/* Sends the stats of c's transaction with its COMMIT (deferred: a failure is the COMMIT's),
 * one call for all its rows. 0, -ENOMEM or -EIO. */
static int stats_send(struct conn *c) {
	struct stats_arrays a = {0};
	struct store__q q = store__q(ST_STATS_ADD);
	int r = 0;

	if (c->stats.n == 0) {
		return 0;
	}
	for (int i = 0; i < STATS_ARRAYS && r == 0; i++) {
		a.f[i] = open_memstream(&a.text[i], &a.size[i]);
		r = a.f[i] ? 0 : -ENOMEM;
	}
	if (r == 0) {
		store__stats_each(&c->stats, stats_put, &a);
	}
	for (int i = 0; i < STATS_ARRAYS; i++) {
		if (a.f[i]) {
			if (i != 2) {
				fputc('}', a.f[i]);
			}
			r = fclose(a.f[i]) != 0 ? -ENOMEM : r;
		}
		store__text(&q, a.text[i]);
	}
	if (r == 0) {
		r = run(c, ST_STATS_ADD, &q, NULL);
	}
	for (int i = 0; i < STATS_ARRAYS; i++) {
		free(a.text[i]);
	}
	return r;
}

/* Ends the innermost transaction: committed (0) or, on failure, rolled back (-EIO). The
 * outermost writes the stats its messages add first (in the COMMIT's round trip). */
static int commit(struct conn *c) {
	int r = c->depth == 1 ? stats_send(c) : 0;
	if (r == 0) {
		r = run(c, c->depth > 1 ? ST_RELEASE : ST_COMMIT, NULL, NULL);
	}
	if (r < 0) {
		rollback(c);
		return -EIO;
	}
	if (c->depth > 1) {
		store__stats_release(&c->stats, c->depth);
	}
	c->depth--;
	return 0;
}

/* Begins a transaction (a savepoint inside an open one) on the thread's connection. BEGIN
 * changes nothing: when it finds the connection broken (the server restarted since its
 * last use), a fresh one tries again. */
static int begin(struct pg_store *q, struct conn **ret_c) {
	struct conn *c;
	int r;

	for (int attempt = 0;; attempt++) {
		r = pg__conn_get(q, &c);
		if (r < 0) {
			return r;
		}
		if (c->depth + 1 >= STORE__STATS_DEPTH) {
			return -EIO; /* deeper than the stats' log keeps */
		}
		r = run(c, c->depth > 0 ? ST_SAVEPOINT : ST_BEGIN, NULL, NULL);
		if (r == 0 || attempt > 0 || c->depth > 0 || PQstatus(c->pg) == CONNECTION_OK) {
			break;
		}
		pg__conn_drop(c);
	}
	if (r < 0) {
		return r;
	}
	store__stats_begin(&c->stats, ++c->depth);
	*ret_c = c;
	return 0;
}

static struct conn *mine(struct store *s) {
	struct conn *c = (struct conn *)store_conns_mine(&PG(s)->conns);
	return c && c->depth > 0 ? c : NULL;
}

static int pg_begin(struct store *s) {
	struct conn *c;
	return begin(PG(s), &c);
}

/* Scopes the rest of the transaction to user_id's rows. */
static int pg_scope(struct store *s, const char *user_id) {
	struct conn *c = mine(s);
	struct store__q q = store__q(ST_SCOPE);
	store__text(&q, user_id);
	return c ? run(c, ST_SCOPE, &q, NULL) : -EIO;
}

/* A commit is durable when it returns. */
static int pg_commit(struct store *s, store_durable_cb done, void *ctx) {
	struct conn *c = mine(s);
	int r = c ? commit(c) : -EIO;
	if (r == 0 && done) {
		done(ctx, 0);
	}
	return r;
}

static void pg_rollback(struct store *s) {
	struct conn *c = mine(s);
	if (c) {
		rollback(c);
	}
}

static int pg_exec(struct store *s, struct store__q *q) {
	PGresult *res = NULL;
	struct conn *c;
	int r = pg__conn_get(PG(s), &c);

	if (r == 0) {
		r = run(c, q->st, q, &res);
	}
	if (r < 0) {
		return r;
	}
	q->impl = res;
	q->row = -1;
	q->rows = PQntuples(res);
	q->changes = strtoll(PQcmdTuples(res), NULL, 10);
	return 0;
}

static int pg_count(struct store *s, const struct store_message *m, bool inbound) {
	struct conn *c = mine(s);
	return c ? store__stats_add(&c->stats, c->depth, m, inbound) : -EIO;
}

static bool pg_in_tx(struct store *s) {
	return mine(s) != NULL;
}

static int pg_exec_each(struct store *s, struct store__q *qs, size_t n) {
	struct conn *c;
	int r = pg__conn_get(PG(s), &c);

	if (r == 0 && c->depth > 0) {
		r = -EINVAL; /* each must be its own transaction */
	}
	if (r < 0) {
		for (size_t i = 0; i < n; i++) {
			qs[i].err = r;
			qs[i].impl = NULL;
		}
		return r;
	}
	return run_each(c, qs, n);
}

static int pg_next(struct store__q *q) {
	if (q->row + 1 >= q->rows) {
		return 0;
	}
	q->row++;
	return 1;
}

static int pg_done(struct store *s, struct store__q *q) {
	(void)s;
	PQclear(q->impl);
	q->impl = NULL;
	return 0;
}

/* Booleans come as t and f. */
static int64_t pg_col_int(const struct store__q *q, int col) {
	const char *v = PQgetvalue(q->impl, q->row, col);
	if ((v[0] == 't' || v[0] == 'f') && !v[1]) {
		return v[0] == 't';
	}
	return strtoll(v, NULL, 10);
}

static const char *pg_col_text(const struct store__q *q, int col) {
	return PQgetisnull(q->impl, q->row, col) ? NULL : PQgetvalue(q->impl, q->row, col);
}

/* ---- the store itself ---- */

static int pg_ping(struct store *s) {
	struct store__q q = store__q(ST_PING);
	return store__write(s, &q) < 0 ? -EIO : 0;
}

static void pg_close(struct store *s) {
	struct pg_store *q = PG(s);

	store_conns_destroy(&q->conns);
	free(q->url);
	free(q);
}

static const struct store__dialect postgres_dialect = {
	.id = STORE__POSTGRES,
	.close = pg_close,
	.ping = pg_ping,
	.begin = pg_begin,
	.scope = pg_scope,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.exec = pg_exec,
	.next = pg_next,
	.done = pg_done,
	.col_int = pg_col_int,
	.col_text = pg_col_text,
	.count = pg_count,
	.in_tx = pg_in_tx,
	.exec_each = pg_exec_each,
};

/* Opens url (a libpq URI), refuses a role that row-level security would not bind, and
 * brings the schema to the newest version. 0, -ENOMEM or -EIO. */
int store_postgres_open(const char *url, const struct store_options *o, struct store **ret) {
	struct pg_store *q;
	struct conn *c;
	int r;

	(void)o; /* sync is SQLite's; see the top */
	q = calloc(1, sizeof(*q));
	if (!q) {
		return -ENOMEM;
	}
	q->base.d = &postgres_dialect;
	q->url = strdup(url);
	if (!q->url || store_conns_init(&q->conns, pg__conn_gone) < 0) {
		free(q->url);
		free(q);
		return -ENOMEM;
	}
	r = pg__conn_get(q, &c);
	if (r == 0) {
		r = pg__check_role(c->pg);
	}
	if (r == 0) {
		r = pg__migrate(c->pg);
	}
	if (r < 0) {
		pg_close(&q->base);
		return r == -ENOMEM || r == -EPERM ? r : -EIO;
	}
	*ret = &q->base;
	return 0;
}
