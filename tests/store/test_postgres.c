/* What only PostgreSQL has to prove (the store's semantics are tested once, on every
 * backend: store_fixture.h): row-level security proved with raw libpq as the service
 * role, the role checks at open, two handles (two "processes") racing on MessageSid, on
 * outbox claims and on send attempts, the shared sender limit, migrations (run once by two
 * openers; a version-2 database upgraded), and a server restart under an open store
 * (last).
 * SMSROUTER_TEST_PG_URL names the cluster (scripts/pg-cluster.sh url DIR); unset, every
 * test is skipped. SMSROUTER_TEST_PG_DIR (the cluster's DIR) enables the tests that stop
 * and start it or reach it as its superuser. Each test gets a fresh database t_<random>,
 * created as the smsrouter role and dropped at the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "ids.h"
#include "store/store.h"

struct fixture {
	char db[40];
	char url[512];
	struct store *s;
	char extra_db[40]; /* another database a test made, dropped with the fixture's */
};

#include "pg_testdb.h"

#define SCHEMA_VERSION 15

static int setup(void **state) {
	struct fixture *f;

	*state = NULL;
	if (!cluster_url()) {
		return 0; /* the test skips */
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		return -1;
	}
	if (create_db(f->db, f->url, sizeof(f->url)) < 0) {
		free(f);
		return -1;
	}
	if (store_open(f->url, NULL, &f->s) != 0) {
		drop_db(f->db);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state) {
	struct fixture *f = *state;
	if (f) {
		store_close(f->s);
		drop_db(f->db);
		if (f->extra_db[0]) {
			drop_db(f->extra_db);
		}
		free(f);
	}
	return 0;
}

/* The test's fixture; skips the test when no cluster is given. */
static struct fixture *fx(void **state) {
	if (!*state) {
		skip();
	}
	return *state;
}

/* ---- raw libpq, as the service role ---- */

static PGconn *raw_connect(const char *url) {
	PGconn *pg = PQconnectdb(url);
	assert_int_equal(PQstatus(pg), CONNECTION_OK);
	PQclear(PQexec(pg, "SET search_path = smsrouter"));
	return pg;
}

static void raw_exec(PGconn *pg, const char *sql) {
	PGresult *res = PQexec(pg, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
		fail_msg("%s: %s", sql, PQerrorMessage(pg));
	}
	PQclear(res);
}

/* Runs sql with one parameter (may be NULL) and returns its one number. */
static int64_t raw_int(PGconn *pg, const char *sql, const char *param) {
	const char *values[1] = {param};
	PGresult *res = PQexecParams(pg, sql, param ? 1 : 0, NULL, values, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		fail_msg("%s: %s", sql, PQerrorMessage(pg));
	}
	int64_t v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return v;
}

/* Runs sql with one parameter; its SQLSTATE ("" on success). */
static void raw_state(PGconn *pg, const char *sql, const char *param, char out[6]) {
	const char *values[1] = {param};
	PGresult *res = PQexecParams(pg, sql, 1, NULL, values, NULL, NULL, 0);
	const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	snprintf(out, 6, "%s", st ? st : "");
	PQclear(res);
}

static void raw_scope(PGconn *pg, const char *user_id) {
	raw_int(pg, "SELECT length(set_config('smsrouter.user_id', $1, true))", user_id);
}

/* ---- helpers, as in test_store.c ---- */

static void add_user(struct store *s, const char *name, const char *const *phones, size_t n,
		struct store_user *ret) {
	size_t bad = 999;
	int r = store_user_add(s, name, phones, n, ret, &bad);
	assert_int_equal(r, 0);
	assert_int_equal(bad, 999); /* written only on -EEXIST */
}

static void add_user1(struct store *s, const char *name, const char *phone,
		struct store_user *ret) {
	const char *phones[] = {phone};
	add_user(s, name, phones, 1, ret);
}

static struct store_message message(const char *sid, const char *from, const char *to,
		const char *body, const char *status, int segments, int64_t created_at) {
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

static int64_t add_inbound(struct store *s, const char *user_id, const char *sid,
		const char *body, int64_t created_at) {
	struct store_message m = message(sid, "+15550100101", "+15550199999", body, "received", 1,
			created_at);
	int64_t id = 0;
	assert_int_equal(store_inbound_add(s, user_id, &m, &id), 0);
	assert_true(id > 0);
	return id;
}

/* An inbound message that is also queued in the outbox (rest replies). */
static int64_t add_queued(struct store *s, const char *user_id, const char *sid) {
	struct store_message m =
			message(sid, "+15550100101", "+15550199999", sid, "received", 1, 0);
	int64_t id = 0;
	m.enqueue = true;
	assert_int_equal(store_inbound_add(s, user_id, &m, &id), 0);
	assert_true(id > 0);
	return id;
}

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

static int collect_message(void *ctx, const struct store_message *m) {
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

static void list_messages(struct store *s, const char *user_id, int limit,
		struct seen_messages *out) {
	memset(out, 0, sizeof(*out));
	assert_int_equal(store_messages_list(s, user_id, limit, collect_message, out), 0);
}

struct seen_notes {
	size_t n;
	int index[MAX_SEEN];
	char text[MAX_SEEN][64];
};

static int collect_note(void *ctx, int index, const char *text) {
	struct seen_notes *c = ctx;
	assert_true(c->n < MAX_SEEN);
	c->index[c->n] = index;
	snprintf(c->text[c->n], sizeof(c->text[0]), "%s", text);
	c->n++;
	return 0;
}

static void list_notes(struct store *s, const char *user_id, struct seen_notes *out) {
	memset(out, 0, sizeof(*out));
	assert_int_equal(store_notes_list(s, user_id, collect_note, out), 0);
}

struct seen_outbox {
	size_t n;
	struct store_outbox row[MAX_SEEN];
	char body[MAX_SEEN][64];
};

static int collect_outbox(void *ctx, const struct store_outbox *o) {
	struct seen_outbox *c = ctx;
	assert_true(c->n < MAX_SEEN);
	c->row[c->n] = *o;
	snprintf(c->body[c->n], sizeof(c->body[0]), "%s", o->body ? o->body : "(null)");
	c->row[c->n].body = NULL;
	c->n++;
	return 0;
}

static void list_outbox(struct store *s, const char *state, struct seen_outbox *out) {
	memset(out, 0, sizeof(*out));
	assert_int_equal(store_outbox_list(s, state, MAX_SEEN, collect_outbox, out), 0);
}

static int64_t depth(struct store *s) {
	int64_t d = -1;
	assert_int_equal(store_outbox_depth(s, &d), 0);
	return d;
}

static double now_s(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- users and phones ---- */

/* ---- import ---- */

/* ---- messages ---- */

/* ---- status callbacks ---- */

/* ---- notes ---- */

/* ---- opt-outs and onboarding ---- */

/* ---- usage and counts ---- */

/* ---- transactions around several calls ---- */

/* ---- the outbox ---- */

static void test_outbox_send_attempt_takes_a_row_once_across_handles(void **state) {
	struct fixture *f = fx(state);
	struct store *other = NULL;
	struct store_user a;
	struct store_outbox o;
	struct seen_outbox mine, theirs;

	add_user1(f->s, "A", "+15550100101", &a);
	add_queued(f->s, a.id, "SMa1");
	int64_t now = ids_now_ms() + 1000;
	assert_int_equal(store_outbox_claim_agent(f->s, now, now + 60000, &o), 0);
	struct store_message reply =
			message(NULL, "+15550199999", "+15550100101", "r", "pending", 1, 0);
	assert_int_equal(store_outbox_replied(f->s, o.id, a.id, &reply, now), 0);
	assert_int_equal(store_open(f->url, NULL, &other), 0);

	/* Two senders (processes) list the same due row; one of them takes it. */
	memset(&mine, 0, sizeof(mine));
	memset(&theirs, 0, sizeof(theirs));
	assert_int_equal(store_outbox_ready(f->s, STORE_LANE_REPLIES, now, 10, collect_outbox, &mine), 0);
	assert_int_equal(store_outbox_ready(other, STORE_LANE_REPLIES, now, 10, collect_outbox, &theirs), 0);
	assert_int_equal(mine.n, 1);
	assert_int_equal(theirs.n, 1);
	assert_int_equal(store_outbox_update(f->s, o.id, "sending", now + 5000, true, NULL, now),
			0);
	assert_int_equal(store_outbox_update(other, o.id, "sending", now + 5000, true, NULL,
				 now + 1),
			-ENOENT);
	/* Sent: a sender that listed it earlier does not bring it back. */
	assert_int_equal(store_outbox_sent(f->s, o.id, mine.row[0].outbound_id, "SMr", "queued"),
			0);
	assert_int_equal(store_outbox_update(other, o.id, "sending", now + 9000, true, NULL,
				 now + 6000),
			-ENOENT);
	list_outbox(f->s, "done", &mine);
	assert_int_equal(mine.n, 1);
	assert_int_equal(mine.row[0].attempts, 1);
	/* Other moves are not guarded: an operator's or a reconcile's. */
	assert_int_equal(store_outbox_update(other, o.id, "dead", now, false, "x", now), 0);
	store_close(other);
}

/* ---- the schema, the role, row-level security ---- */

static void test_every_per_user_table_forces_row_level_security(void **state) {
	struct fixture *f = fx(state);
	PGconn *pg = raw_connect(f->url);

	assert_int_equal(raw_int(pg, "SELECT count(*) FROM pg_class WHERE relnamespace = "
				     "'smsrouter'::regnamespace AND relname IN ('users', 'phones', "
				     "'messages', 'notes', 'outbox', 'user_tags') AND relrowsecurity "
				     "AND relforcerowsecurity",
				 NULL),
			6);
	/* The service role is bound by it: no superuser, no BYPASSRLS, no system rights. */
	assert_int_equal(raw_int(pg, "SELECT count(*) FROM pg_roles WHERE rolname = current_user "
				     "AND NOT rolsuper AND NOT rolbypassrls AND NOT "
				     "pg_has_role(current_user, 'smsrouter_system', 'USAGE')",
				 NULL),
			1);
	/* The cross-user functions run as smsrouter_system, and PUBLIC may not call them. */
	assert_true(raw_int(pg, "SELECT count(*) FROM pg_proc WHERE pronamespace = "
				"'smsrouter'::regnamespace",
				NULL) >= 14);
	assert_int_equal(raw_int(pg, "SELECT count(*) FROM pg_proc p WHERE p.pronamespace = "
				     "'smsrouter'::regnamespace AND (NOT p.prosecdef OR p.proowner "
				     "<> 'smsrouter_system'::regrole OR p.proacl IS NULL OR EXISTS "
				     "(SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0))",
				 NULL),
			0);
	PQfinish(pg);
}

/* The proof DESIGN.md asks for: with another user's setting, or none, a user's rows are
 * invisible and untouchable even to SQL that names them. */
static void test_rls_hides_a_users_rows_from_another_scope_and_from_none(void **state) {
	struct fixture *f = fx(state);
	struct store_user a, b;
	struct seen_notes notes;
	char st[6];

	add_user1(f->s, "A", "+15550100101", &a);
	add_user1(f->s, "B", "+15550100102", &b);
	add_inbound(f->s, a.id, "SMa1", "a secret", 0);
	add_queued(f->s, a.id, "SMa2");
	add_inbound(f->s, b.id, "SMb1", "b1", 0);
	add_inbound(f->s, NULL, "SMu1", "unknown sender", 0);
	assert_int_equal(store_note_add(f->s, a.id, "a note"), 0);
	assert_int_equal(store_note_add(f->s, b.id, "b note"), 0);
	const char *const tags[] = {"secret tag", "vip"};
	struct store_user_patch patch = {.set_tags = true, .tags = tags, .ntags = 2};
	assert_int_equal(store_user_set(f->s, a.id, &patch, NULL), 0);
	assert_int_equal(store_user_set(f->s, b.id, &patch, NULL), 0);

	PGconn *pg = raw_connect(f->url);
	static const char *const of_a[] = {
		"SELECT count(*) FROM messages WHERE user_id = $1",
		"SELECT count(*) FROM notes WHERE user_id = $1",
		"SELECT count(*) FROM outbox WHERE user_id = $1",
		"SELECT count(*) FROM phones WHERE user_id = $1",
		"SELECT count(*) FROM users WHERE id = $1",
		"SELECT count(*) FROM user_tags WHERE user_id = $1",
	};
	static const int64_t as_a[] = {2, 1, 1, 1, 1, 2};

	/* B's setting. */
	raw_exec(pg, "BEGIN");
	raw_scope(pg, b.id);
	for (size_t i = 0; i < sizeof(of_a) / sizeof(of_a[0]); i++) {
		if (raw_int(pg, of_a[i], a.id) != 0) {
			fail_msg("B's scope sees A's rows: %s", of_a[i]);
		}
	}
	assert_int_equal(raw_int(pg, "SELECT count(*) FROM messages", NULL), 1);
	assert_int_equal(raw_int(pg, "SELECT count(*) FROM notes", NULL), 1);
	/* Nor can it change them. */
	assert_int_equal(raw_int(pg, "WITH d AS (DELETE FROM notes WHERE user_id = $1 RETURNING 1) "
				     "SELECT count(*) FROM d",
				 a.id),
			0);
	assert_int_equal(raw_int(pg, "WITH u AS (UPDATE messages SET body = 'x' WHERE user_id = $1 "
				     "RETURNING 1) SELECT count(*) FROM u",
				 a.id),
			0);
	raw_exec(pg, "COMMIT");
	raw_exec(pg, "BEGIN");
	raw_scope(pg, b.id);
	raw_state(pg, "INSERT INTO notes (user_id, body, created_at) VALUES ($1, 'planted', 1)",
			a.id, st);
	assert_string_equal(st, "42501"); /* new row violates row-level security policy */
	raw_exec(pg, "ROLLBACK");

	/* No setting at all (never set, then set and ended). */
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < sizeof(of_a) / sizeof(of_a[0]); i++) {
			if (raw_int(pg, of_a[i], a.id) != 0) {
				fail_msg("round %d, no scope sees A's rows: %s", round, of_a[i]);
			}
		}
		assert_int_equal(raw_int(pg, "SELECT count(*) FROM messages", NULL), 0);
		assert_int_equal(raw_int(pg, "SELECT count(*) FROM users", NULL), 0);
		raw_exec(pg, "BEGIN");
		raw_scope(pg, a.id);
		raw_exec(pg, "COMMIT");
	}

	/* A's own setting sees them: the proof is not vacuous. */
	raw_exec(pg, "BEGIN");
	raw_scope(pg, a.id);
	for (size_t i = 0; i < sizeof(of_a) / sizeof(of_a[0]); i++) {
		assert_int_equal(raw_int(pg, of_a[i], a.id), as_a[i]);
	}
	raw_exec(pg, "COMMIT");
	PQfinish(pg);

	list_notes(f->s, a.id, &notes);
	assert_int_equal(notes.n, 1);
	assert_string_equal(notes.text[0], "a note");
}

/* The import's function (migration 14) inserts only its call's new users and their phones,
 * what the service role could insert itself user by user: a phone names its user by a
 * place among the call's ids, and a place outside them is refused (its user would be
 * none); a user id held already is refused; a number held already is reported by its
 * user's place. None of them leaves a row, and another user's rows stay as they were. */
static void test_import_function_writes_only_its_own_new_users(void **state) {
	struct fixture *f = fx(state);
	PGconn *pg = raw_connect(f->url);
	struct store_user a, got;
	int64_t users = 0, phones = 0;
	char st[6];

	add_user1(f->s, "Ada", "+15550100101", &a);
	raw_state(pg, "SELECT sr_import_users('{n1}', ARRAY[$1], '{+15550100102}', '{2}', 1)",
			"One", st);
	assert_string_equal(st, "23502");
	raw_state(pg, "SELECT sr_import_users('{n1}', ARRAY[$1], '{+15550100102}', '{0}', 1)",
			"One", st);
	assert_string_equal(st, "23502");
	raw_state(pg, "SELECT sr_import_users(ARRAY[$1], '{Eve}', '{+15550100102}', '{1}', 1)",
			a.id, st);
	assert_string_equal(st, "23505");
	assert_int_equal(raw_int(pg,
				 "SELECT sr_import_users('{n1,n2}', '{One,Two}', "
				 "ARRAY['+15550100103', '+15550100104', $1], '{1,2,2}', 1)",
				 "+15550100101"),
			2);
	assert_int_equal(store_counts(f->s, &users, &phones), 0);
	assert_int_equal(users, 1);
	assert_int_equal(phones, 1);
	assert_int_equal(store_user_get(f->s, a.id, &got), 0);
	assert_string_equal(got.name, "Ada");
	assert_int_equal(got.nphones, 1);
	PQfinish(pg);
}

static void test_open_refuses_a_superuser(void **state) {
	struct fixture *f = fx(state);
	const char *dir = getenv("SMSROUTER_TEST_PG_DIR");
	char path[512], port[16] = "", url[1024];
	struct store *s = NULL;

	if (!dir) {
		skip();
	}
	snprintf(path, sizeof(path), "%s/port", dir);
	FILE *pf = fopen(path, "r");
	assert_non_null(pf);
	assert_non_null(fgets(port, sizeof(port), pf));
	fclose(pf);
	port[strcspn(port, "\n")] = '\0';
	snprintf(url, sizeof(url), "postgresql:///%s?host=%s/sock&port=%s&user=postgres", f->db,
			dir, port);
	assert_int_equal(store_open(url, NULL, &s), -EPERM);
	assert_null(s);
}

static void test_open_fails_fast_when_no_server_answers(void **state) {
	(void)state;
	struct store *s = NULL;
	double t0 = now_s();

	assert_int_equal(store_open("postgresql://smsrouter:x@127.0.0.1:1/smsrouter", NULL, &s),
			-EIO);
	assert_null(s);
	assert_true(now_s() - t0 < 3.0);
}

static void test_open_takes_the_postgres_scheme_too_and_keeps_the_data(void **state) {
	struct fixture *f = fx(state);
	struct store_user a, got;
	struct seen_messages seen;
	struct store *s2 = NULL;
	char url[600];

	add_user1(f->s, "Ada", "+15550100101", &a);
	add_inbound(f->s, a.id, "SM1", "hello", 0);
	assert_int_equal(strncmp(f->url, "postgresql://", 13), 0);
	snprintf(url, sizeof(url), "postgres://%s", f->url + 13);
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(url, NULL, &s2), 0);
	f->s = s2;
	assert_int_equal(store_user_by_phone(f->s, "+15550100101", &got), 0);
	assert_string_equal(got.id, a.id);
	list_messages(f->s, a.id, 10, &seen);
	assert_int_equal(seen.n, 1);
	struct store_message m =
			message("SM1", "+15550100101", "+15550199999", "hello", "received", 1, 0);
	assert_int_equal(store_inbound_add(f->s, a.id, &m, NULL), -EEXIST);
}

/* ---- several openers, threads and handles ---- */

struct opener {
	const char *url;
	pthread_barrier_t *go;
	struct store *s;
	int r;
};

static void *open_store(void *p) {
	struct opener *o = p;
	pthread_barrier_wait(o->go);
	o->r = store_open(o->url, NULL, &o->s);
	return NULL;
}

static void test_two_openers_at_once_migrate_once(void **state) {
	struct fixture *f = fx(state);
	char url[512];
	pthread_barrier_t go;
	pthread_t t[2];
	struct opener o[2];
	int v = 0;

	assert_int_equal(create_db(f->extra_db, url, sizeof(url)), 0);
	pthread_barrier_init(&go, NULL, 2);
	for (int i = 0; i < 2; i++) {
		o[i] = (struct opener){.url = url, .go = &go};
		assert_int_equal(pthread_create(&t[i], NULL, open_store, &o[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
	}
	pthread_barrier_destroy(&go);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(o[i].r, 0);
		assert_int_equal(store_schema_version(o[i].s, &v), 0);
		assert_int_equal(v, SCHEMA_VERSION);
	}
	PGconn *pg = raw_connect(url);
	assert_int_equal(raw_int(pg, "SELECT count(*) FROM schema_migrations", NULL),
			SCHEMA_VERSION);
	PQfinish(pg);
	store_close(o[0].s);
	store_close(o[1].s);
}

/* Version 2's status function, as version 2 left it (migration 3 replaces it), no
 * attributes (migration 4 adds them; its functions drop the old ones by their arguments),
 * none of migration 5's columns, tables and functions (stand-ins for the two it drops
 * by their arguments), no events (migration 6), no outbox heads (migration 11) and none
 * of migration 15's functions. */
static const char v2_status_update[] =
	"DROP TABLE stats_hourly;"
	"SET ROLE smsrouter_system;"
	"DROP FUNCTION sr_stats_add(bigint[], integer[], text, bigint[], bigint[], bigint[],"
	"  bigint[]);"
	"DROP FUNCTION sr_webhook_lookup(text, text);"
	"DROP FUNCTION sr_stats(bigint, bigint, bigint);"
	"DROP FUNCTION sr_status_sid(bigint, text);"
	"DROP FUNCTION sr_status_set(bigint, text, text, integer, text);"
	"DROP FUNCTION sr_status_exists(bigint, text);"
	"CREATE FUNCTION sr_status_update(p_id bigint, p_sid text, p_status text,"
	"  p_rank integer, p_error text) RETURNS integer"
	" LANGUAGE plpgsql SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"BEGIN RETURN 0; END $$;"
	"DROP FUNCTION sr_ready_replies(bigint, integer);"
	"DROP FUNCTION sr_ready_proactive(bigint, integer);"
	"DROP FUNCTION sr_scheduled_depth(bigint);"
	"DROP FUNCTION sr_scheduled(bigint);"
	"DROP TYPE sr_send_row;"
	"CREATE FUNCTION sr_outbox_ready(p_now bigint, p_limit integer)"
	" RETURNS SETOF sr_outbox_row LANGUAGE sql SECURITY DEFINER AS $$"
	"  SELECT NULL::sr_outbox_row WHERE false $$;"
	"DROP FUNCTION sr_usage(bigint);"
	"CREATE FUNCTION sr_usage(p_since bigint) RETURNS TABLE (user_id text, inbound bigint,"
	"  outbound bigint, segments bigint, over_budget bigint, truncated bigint,"
	"  smart_encoded bigint) LANGUAGE sql SECURITY DEFINER AS $$"
	"  SELECT NULL::text, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint"
	"  WHERE false $$;"
	"DROP FUNCTION sr_users_page(bigint, text, text, text, integer);"
	"DROP FUNCTION sr_users_page_tag(bigint, text, text, text, integer, text);"
	"DROP FUNCTION sr_event_status(bigint, text, text, bigint);"
	"DROP FUNCTION sr_event_phone(text, text, text, bigint);"
	"DROP FUNCTION sr_message_rank(bigint);"
	"DROP FUNCTION sr_events_claim(bigint, bigint, integer);"
	"DROP FUNCTION sr_event_delete(bigint);"
	"DROP FUNCTION sr_event_update(bigint, text, bigint, text);"
	"DROP FUNCTION sr_events_pending();"
	"DROP FUNCTION sr_retention_sweep(bigint, integer);"
	"DROP FUNCTION sr_import_users(text[], text[], text[], integer[], bigint);"
	"RESET ROLE;"
	"DROP TRIGGER outbox_head_insert ON outbox;"
	"DROP TRIGGER outbox_head_state ON outbox;"
	"DROP TRIGGER outbox_head_delete ON outbox;"
	"SET ROLE smsrouter_system;"
	"DROP FUNCTION sr_outbox_head_insert();"
	"DROP FUNCTION sr_outbox_head_move();"
	"RESET ROLE;"
	"DROP INDEX outbox_pending, outbox_head_agent, outbox_head_send, outbox_lane1_due,"
	"  outbox_lane1_sending;"
	"ALTER TABLE outbox DROP COLUMN head;"
	"REVOKE INSERT ON users, phones FROM smsrouter_system;"
	"DROP TABLE usage_daily;"
	"DROP INDEX outbox_inbound;"
	"DROP TABLE events;"
	"DROP TABLE idempotency;"
	"DROP INDEX messages_uid, messages_proactive, messages_whatsapp, outbox_lane,"
	"  outbox_message;"
	"ALTER TABLE messages DROP COLUMN uid, DROP COLUMN kind, DROP COLUMN channel,"
	"  DROP COLUMN send_at, DROP COLUMN not_before;"
	"ALTER TABLE outbox DROP COLUMN lane;"
	"DROP TABLE user_tags;"
	"DROP INDEX users_created;"
	"ALTER TABLE users DROP COLUMN timezone, DROP COLUMN locale, DROP COLUMN agent,"
	"  DROP COLUMN mode;"
	"DELETE FROM schema_migrations WHERE version >= 3;";

struct stats_sum {
	int rows;
	int64_t outbound, segments;
};

static int stats_add(void *ctx, const struct store_stats_row *r) {
	struct stats_sum *s = ctx;
	s->rows++;
	s->outbound += r->inbound ? 0 : r->messages;
	s->segments += r->segments;
	return 0;
}

static void test_a_version_2_database_upgrades_and_keeps_its_data(void **state) {
	struct fixture *f = fx(state);
	struct store_user a, got;
	bool changed = false;
	int v = 0;

	add_user1(f->s, "Ada", "+15550100101", &a);
	int64_t out = 0;
	struct store_message m = message(NULL, "+15550199999", "+15550100101", "hi", "queued",
			1, 0);
	assert_int_equal(store_outbound_add(f->s, a.id, &m, &out), 0);
	store_close(f->s);
	f->s = NULL;
	PGconn *pg = raw_connect(f->url);
	raw_exec(pg, v2_status_update);
	assert_int_equal(raw_int(pg, "SELECT max(version) FROM schema_migrations", NULL), 2);
	PQfinish(pg);

	assert_int_equal(store_open(f->url, NULL, &f->s), 0);
	assert_int_equal(store_schema_version(f->s, &v), 0);
	assert_int_equal(v, SCHEMA_VERSION);
	assert_int_equal(store_user_by_phone(f->s, "+15550100101", &got), 0);
	assert_string_equal(got.id, a.id);
	assert_int_equal(store_status_update(f->s, out, "SMup", "delivered", NULL, &changed), 0);
	assert_true(changed);
	assert_int_equal(store_outbound_sid_known(f->s, "SMup"), 0);
	/* Migration 9 counted the message there was (made in the last hour or this one). */
	struct stats_sum st = {0};
	int64_t hour = ids_now() / 3600 * 3600;
	assert_int_equal(store_stats(f->s, hour - 3600, hour + 3600, 3600, stats_add, &st), 0);
	assert_int_equal(st.rows, 1);
	assert_int_equal(st.outbound, 1);
	assert_int_equal(st.segments, 1);
	/* The functions of migration 3 are the system role's, like the others. */
	pg = raw_connect(f->url);
	assert_int_equal(raw_int(pg, "SELECT count(*) FROM pg_proc WHERE proname LIKE "
				     "'sr_status_%' AND proowner <> 'smsrouter_system'::regrole",
				 NULL),
			0);
	PQfinish(pg);
}

#define RACERS 8

struct racer {
	struct store *s;
	const char *user_id;
	pthread_barrier_t *go;
	int r;
};

static void *race_one_sid(void *p) {
	struct racer *x = p;
	struct store_message m = message("SMrace", "+15550100101", "+15550199999", "dup",
			"received", 1, 0);
	m.enqueue = true;
	x->r = store_ping(x->s); /* connected before the start */
	pthread_barrier_wait(x->go);
	if (x->r == 0) {
		x->r = store_inbound_add(x->s, x->user_id, &m, NULL);
	}
	return NULL;
}

static void test_two_handles_racing_one_sid_store_it_once(void **state) {
	struct fixture *f = fx(state);
	struct store *other = NULL;
	struct store_user a;
	struct seen_messages seen;
	pthread_barrier_t go;
	pthread_t t[RACERS];
	struct racer x[RACERS];
	int stored = 0, dup = 0;

	add_user1(f->s, "A", "+15550100101", &a);
	assert_int_equal(store_open(f->url, NULL, &other), 0);
	pthread_barrier_init(&go, NULL, RACERS);
	for (int i = 0; i < RACERS; i++) {
		x[i] = (struct racer){.s = i % 2 ? other : f->s, .user_id = a.id, .go = &go};
		assert_int_equal(pthread_create(&t[i], NULL, race_one_sid, &x[i]), 0);
	}
	for (int i = 0; i < RACERS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		if (x[i].r == 0) {
			stored++;
		} else if (x[i].r == -EEXIST) {
			dup++;
		} else {
			fail_msg("racer %d: %d", i, x[i].r);
		}
	}
	pthread_barrier_destroy(&go);
	assert_int_equal(stored, 1);
	assert_int_equal(dup, RACERS - 1);
	list_messages(f->s, a.id, 50, &seen);
	assert_int_equal(seen.n, 1);
	assert_int_equal(depth(f->s), 1); /* queued once too */
	store_close(other);
}

/* The sender limit is one count for every process: two handles taking turns share it,
 * another number has its own, and it refills one message per window / count. */
static void test_sender_limit_is_shared_by_handles_and_refills(void **state) {
	struct fixture *f = fx(state);
	struct store *other = NULL;

	assert_int_equal(store_open(f->url, NULL, &other), 0);
	/* 3 a minute: the first three pass, whichever handle takes them; then none. */
	for (int i = 0; i < 6; i++) {
		assert_int_equal(store_sender_take(i % 2 ? other : f->s, "+15550100101", 3, 60),
				i < 3 ? 1 : 0);
	}
	assert_int_equal(store_sender_take(other, "+15550100102", 3, 60), 1);
	/* 2 a second: the bucket holds 2, and one more comes every 0.5 s. */
	assert_int_equal(store_sender_take(f->s, "+15550100103", 2, 1), 1);
	assert_int_equal(store_sender_take(other, "+15550100103", 2, 1), 1);
	assert_int_equal(store_sender_take(f->s, "+15550100103", 2, 1), 0);
	nanosleep(&(struct timespec){.tv_nsec = 600 * 1000 * 1000}, NULL);
	assert_int_equal(store_sender_take(other, "+15550100103", 2, 1), 1);
	assert_int_equal(store_sender_take(f->s, "+15550100103", 2, 1), 0);
	store_close(other);
}

/* Rows whose bucket is full again are swept, so the table holds about the numbers that
 * sent within their window, not every number that ever sent. */
static void test_sender_limit_rows_of_idle_numbers_are_swept(void **state) {
	struct fixture *f = fx(state);
	char phone[16];

	/* 1000 a second: each row is idle 1 ms after its take. */
	for (int i = 0; i < 2100; i++) {
		snprintf(phone, sizeof(phone), "+1555%07d", i);
		assert_int_equal(store_sender_take(f->s, phone, 1000, 1), 1);
	}
	PGconn *pg = raw_connect(f->url);
	int64_t rows = raw_int(pg, "SELECT count(*) FROM sender_limits", NULL);
	PQfinish(pg);
	assert_true(rows < 1100);
}

/* Fewer users than claimers: a claimer often finds every user's head busy. */
#define CLAIM_USERS 3
#define CLAIM_PER_USER 12
#define CLAIMERS 4

struct claim_board {
	pthread_mutex_t mu;
	struct store_user users[CLAIM_USERS];
	int64_t first_inbound[CLAIM_USERS];
	bool busy[CLAIM_USERS];            /* a row of that user is being worked on */
	int64_t last_inbound[CLAIM_USERS]; /* per-user order */
	int claimed[CLAIM_USERS * CLAIM_PER_USER + 64];
	int done;
	int twice, overlap, out_of_order, errors;
};

struct claimer {
	struct store *s;
	struct claim_board *b;
};

static int user_index(struct claim_board *b, const char *user_id) {
	for (int i = 0; i < CLAIM_USERS; i++) {
		if (strcmp(b->users[i].id, user_id) == 0) {
			return i;
		}
	}
	return -1;
}

static void *claim_loop(void *p) {
	struct claimer *c = p;
	struct claim_board *b = c->b;
	double deadline = now_s() + 30;

	while (now_s() < deadline) {
		struct store_outbox o;
		int64_t now = ids_now_ms() + 1000;
		int r = store_outbox_claim_agent(c->s, now, now + 600000, &o);
		pthread_mutex_lock(&b->mu);
		bool finished = b->done == CLAIM_USERS * CLAIM_PER_USER;
		pthread_mutex_unlock(&b->mu);
		if (r == -ENOENT) {
			if (finished) {
				break;
			}
			usleep(1000);
			continue;
		}
		if (r < 0) {
			pthread_mutex_lock(&b->mu);
			b->errors++;
			pthread_mutex_unlock(&b->mu);
			continue;
		}
		pthread_mutex_lock(&b->mu);
		int u = user_index(b, o.user_id);
		if (u < 0 || o.id < 1 || o.id >= (int64_t)(sizeof(b->claimed) / sizeof(int))) {
			b->errors++;
			pthread_mutex_unlock(&b->mu);
			continue;
		}
		b->twice += b->claimed[o.id]++ > 0;
		b->overlap += b->busy[u];
		b->out_of_order += o.inbound_id <= b->last_inbound[u];
		b->busy[u] = true;
		b->last_inbound[u] = o.inbound_id;
		pthread_mutex_unlock(&b->mu);

		usleep(500); /* the agent at work */
		pthread_mutex_lock(&b->mu);
		b->busy[u] = false; /* before the row is done: next claim may follow at once */
		pthread_mutex_unlock(&b->mu);
		r = store_outbox_replied(c->s, o.id, o.user_id, NULL, ids_now_ms());
		pthread_mutex_lock(&b->mu);
		if (r == 0) {
			b->done++;
		} else {
			b->errors++;
		}
		pthread_mutex_unlock(&b->mu);
	}
	return NULL;
}

static void test_two_handles_claiming_never_share_a_row_or_a_user(void **state) {
	struct fixture *f = fx(state);
	struct store *other = NULL;
	struct claim_board *b = calloc(1, sizeof(*b));
	pthread_t t[CLAIMERS];
	struct claimer c[CLAIMERS];

	assert_non_null(b);
	pthread_mutex_init(&b->mu, NULL);
	for (int u = 0; u < CLAIM_USERS; u++) {
		char name[8], phone[PHONE_SIZE];
		snprintf(name, sizeof(name), "U%d", u);
		snprintf(phone, sizeof(phone), "+155501002%02d", u);
		add_user1(f->s, name, phone, &b->users[u]);
	}
	/* Interleaved arrivals: user 0's first, user 1's first, …, user 0's second, … */
	for (int k = 0; k < CLAIM_PER_USER; k++) {
		for (int u = 0; u < CLAIM_USERS; u++) {
			char sid[32];
			snprintf(sid, sizeof(sid), "SMc%d_%d", u, k);
			add_queued(f->s, b->users[u].id, sid);
		}
	}
	assert_int_equal(store_open(f->url, NULL, &other), 0);
	for (int i = 0; i < CLAIMERS; i++) {
		c[i] = (struct claimer){.s = i % 2 ? other : f->s, .b = b};
		assert_int_equal(pthread_create(&t[i], NULL, claim_loop, &c[i]), 0);
	}
	for (int i = 0; i < CLAIMERS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
	}
	assert_int_equal(b->errors, 0);
	assert_int_equal(b->twice, 0);
	assert_int_equal(b->overlap, 0);
	assert_int_equal(b->out_of_order, 0);
	assert_int_equal(b->done, CLAIM_USERS * CLAIM_PER_USER);
	assert_int_equal(depth(f->s), 0);
	store_close(other);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

/* ---- a server restart under an open store (runs last) ---- */

/* Runs scripts/pg-cluster.sh cmd on SMSROUTER_TEST_PG_DIR; its exit status. */
static int cluster(const char *cmd) {
	const char *data = getenv("TESTDATA_DIR"); /* <source>/tests/data, set by meson */
	char script[512], line[1200];

	if (data) {
		snprintf(script, sizeof(script), "%s/../../scripts/pg-cluster.sh", data);
	} else {
		snprintf(script, sizeof(script), "scripts/pg-cluster.sh");
	}
	snprintf(line, sizeof(line), "'%s' %s '%s' >/dev/null", script, cmd,
			getenv("SMSROUTER_TEST_PG_DIR"));
	return system(line);
}

static void test_restart_fails_fast_while_down_and_recovers_without_reopening(void **state) {
	struct fixture *f = fx(state);
	struct store_user a, got;
	struct seen_messages seen;
	struct store_message m =
			message("SMr2", "+15550100101", "+15550199999", "r2", "received", 1, 0);
	double t0;

	if (!getenv("SMSROUTER_TEST_PG_DIR")) {
		skip();
	}
	add_user1(f->s, "A", "+15550100101", &a);
	add_inbound(f->s, a.id, "SMr1", "r1", 0);
	assert_int_equal(store_ping(f->s), 0);

	assert_int_equal(cluster("stop"), 0);
	t0 = now_s();
	assert_int_equal(store_ping(f->s), -EIO);
	assert_true(now_s() - t0 < 3.0);
	t0 = now_s();
	assert_int_equal(store_inbound_add(f->s, a.id, &m, NULL), -EIO);
	assert_int_equal(store_user_by_phone(f->s, "+15550100101", &got), -EIO);
	assert_int_equal(store_ping(f->s), -EIO);
	assert_true(now_s() - t0 < 3.0);

	assert_int_equal(cluster("start"), 0);
	assert_int_equal(store_ping(f->s), 0);
	assert_int_equal(store_inbound_add(f->s, a.id, &m, NULL), 0);

	/* A restart no call saw: the first call afterwards still works. */
	assert_int_equal(cluster("stop"), 0);
	assert_int_equal(cluster("start"), 0);
	add_inbound(f->s, a.id, "SMr3", "r3", 0);
	assert_int_equal(cluster("stop"), 0);
	assert_int_equal(cluster("start"), 0);
	assert_int_equal(store_ping(f->s), 0);

	list_messages(f->s, a.id, 10, &seen);
	assert_int_equal(seen.n, 3);
	assert_string_equal(seen.body[0], "r3");
	assert_string_equal(seen.body[2], "r1");
}

/* Each test runs on its own fresh database. */
#define FIXTURE(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
	const struct CMUnitTest tests[] = {
		FIXTURE(test_outbox_send_attempt_takes_a_row_once_across_handles),
		FIXTURE(test_every_per_user_table_forces_row_level_security),
		FIXTURE(test_rls_hides_a_users_rows_from_another_scope_and_from_none),
		FIXTURE(test_import_function_writes_only_its_own_new_users),
		FIXTURE(test_open_refuses_a_superuser),
		cmocka_unit_test(test_open_fails_fast_when_no_server_answers),
		FIXTURE(test_open_takes_the_postgres_scheme_too_and_keeps_the_data),
		FIXTURE(test_a_version_2_database_upgrades_and_keeps_its_data),
		FIXTURE(test_two_openers_at_once_migrate_once),
		FIXTURE(test_two_handles_racing_one_sid_store_it_once),
		FIXTURE(test_sender_limit_is_shared_by_handles_and_refills),
		FIXTURE(test_sender_limit_rows_of_idle_numbers_are_swept),
		FIXTURE(test_two_handles_claiming_never_share_a_row_or_a_user),
		FIXTURE(test_restart_fails_fast_while_down_and_recovers_without_reopening),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
