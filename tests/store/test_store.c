/* The store on every backend, and this executable's main: notes, opt-outs, onboarding,
 * counts, the schema version, ping, reopening, deleting a user with all it has, concurrent
 * writers; the groups of the other files (store_fixture.h) run after these. */
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
#include <unistd.h>

#include <sqlite3.h>

#include "store_fixture.h"

/* ---- notes ---- */

static void test_notes_are_listed_in_order_and_cleared_per_user(void **state) {
	struct fixture *f = *state;
	struct store_user a, b;
	struct seen_notes seen;

	add_user1(f->s, "A", "+15550100101", &a);
	add_user1(f->s, "B", "+15550100102", &b);
	assert_int_equal(store_note_add(f->s, a.id, "milk"), 0);
	assert_int_equal(store_note_add(f->s, b.id, "b secret"), 0);
	assert_int_equal(store_note_add(f->s, a.id, "eggs"), 0);
	assert_int_equal(store_note_add(f->s, a.id, "bread"), 0);

	list_notes(f->s, a.id, &seen);
	assert_int_equal(seen.n, 3);
	assert_int_equal(seen.index[0], 1);
	assert_string_equal(seen.text[0], "milk");
	assert_int_equal(seen.index[1], 2);
	assert_string_equal(seen.text[1], "eggs");
	assert_int_equal(seen.index[2], 3);
	assert_string_equal(seen.text[2], "bread");

	list_notes(f->s, b.id, &seen);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.index[0], 1);
	assert_string_equal(seen.text[0], "b secret");

	assert_int_equal(store_notes_clear(f->s, a.id), 0);
	list_notes(f->s, a.id, &seen);
	assert_int_equal(seen.n, 0);
	list_notes(f->s, b.id, &seen);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.text[0], "b secret");
}

static int stop_at_second_note(void *ctx, int index, const char *text) {
	(void)text;
	int *calls = ctx;
	(*calls)++;
	return index == 2 ? -42 : 0;
}

static void test_notes_list_stops_on_nonzero_and_returns_it(void **state) {
	struct fixture *f = *state;
	int calls = 0;

	assert_int_equal(store_note_add(f->s, "u1", "one"), 0);
	assert_int_equal(store_note_add(f->s, "u1", "two"), 0);
	assert_int_equal(store_note_add(f->s, "u1", "three"), 0);
	assert_int_equal(store_notes_list(f->s, "u1", stop_at_second_note, &calls), -42);
	assert_int_equal(calls, 2);
}


/* ---- opt-outs and onboarding ---- */

static void test_optout_is_per_number_and_reflected_in_the_user(void **state) {
	struct fixture *f = *state;
	const char *phones[] = {"+15550100101", "+15550100102"};
	struct store_user a, b, got;
	bool out = true;

	add_user(f->s, "A", phones, 2, &a);
	add_user1(f->s, "B", "+15550100103", &b);

	assert_int_equal(store_optout_get(f->s, "+15550100102", &out), 0);
	assert_false(out);

	assert_int_equal(store_optout_set(f->s, "+15550100102", true), 0);
	assert_int_equal(store_optout_set(f->s, "+15550100102", true), 0); /* idempotent */
	assert_int_equal(store_optout_get(f->s, "+15550100102", &out), 0);
	assert_true(out);
	assert_int_equal(store_optout_get(f->s, "+15550100101", &out), 0);
	assert_false(out);
	assert_int_equal(store_user_get(f->s, a.id, &got), 0);
	assert_true(got.opted_out);
	assert_int_equal(store_user_by_phone(f->s, "+15550100101", &got), 0);
	assert_true(got.opted_out);
	assert_int_equal(store_user_get(f->s, b.id, &got), 0);
	assert_false(got.opted_out);

	assert_int_equal(store_optout_set(f->s, "+15550100102", false), 0);
	assert_int_equal(store_optout_get(f->s, "+15550100102", &out), 0);
	assert_false(out);
	assert_int_equal(store_user_get(f->s, a.id, &got), 0);
	assert_false(got.opted_out);
	assert_int_equal(store_optout_set(f->s, "+15550100102", false), 0); /* idempotent */
}

static void test_optout_of_an_unknown_number_is_kept(void **state) {
	struct fixture *f = *state;
	bool out = false;

	assert_int_equal(store_optout_set(f->s, "+15550100999", true), 0);
	assert_int_equal(store_optout_get(f->s, "+15550100999", &out), 0);
	assert_true(out);
}

static void test_onboarding_claim_once_per_window(void **state) {
	struct fixture *f = *state;
	const int64_t t0 = 1700000000;
	const int day = 86400;

	assert_int_equal(store_onboarding_claim(f->s, "+15550100101", t0, day), 0);
	assert_int_equal(store_onboarding_claim(f->s, "+15550100101", t0, day), -EEXIST);
	assert_int_equal(store_onboarding_claim(f->s, "+15550100101", t0 + day - 1, day), -EEXIST);
	/* Another number has its own window. */
	assert_int_equal(store_onboarding_claim(f->s, "+15550100102", t0 + 10, day), 0);

	assert_int_equal(store_onboarding_claim(f->s, "+15550100101", t0 + day + 1, day), 0);
	/* The new claim opened a new window. */
	assert_int_equal(store_onboarding_claim(f->s, "+15550100101", t0 + day + 2, day), -EEXIST);
	assert_int_equal(store_onboarding_claim(f->s, "+15550100101", t0 + 2 * day + 2, day), 0);
}

static void test_counts_follow_users_and_phones(void **state) {
	struct fixture *f = *state;
	const char *phones[] = {"+15550100101", "+15550100102"};
	struct store_user a, b;

	assert_counts(f->s, 0, 0);
	add_user(f->s, "A", phones, 2, &a);
	add_user1(f->s, "B", "+15550100103", &b);
	assert_counts(f->s, 2, 3);
	assert_int_equal(store_phone_add(f->s, b.id, "+15550100104"), 0);
	assert_counts(f->s, 2, 4);
	assert_int_equal(store_phone_remove(f->s, a.id, "+15550100101"), 0);
	assert_counts(f->s, 2, 3);
	assert_int_equal(store_user_delete(f->s, a.id), 0);
	assert_counts(f->s, 1, 2);
}

/* Both at 2: SQLite's migration 2 added phones.seq (PostgreSQL has had it from the
 * start), PostgreSQL's the shared sender limit. */
/* What SQLite's migrations 11 (the outbox's heads) and 13 (the proactive lane's indexes)
 * added. */
#define UNDO_SQLITE_11                                                                     \
	"DROP TRIGGER outbox_head_insert; DROP TRIGGER outbox_head_state; "                    \
	"DROP TRIGGER outbox_head_delete; DROP INDEX outbox_pending; "                         \
	"DROP INDEX outbox_head_agent; DROP INDEX outbox_head_send; "                          \
	"ALTER TABLE outbox DROP COLUMN head; DROP INDEX outbox_lane1_due; "                   \
	"DROP INDEX outbox_lane1_sending; "

static int schema_version(void) {
	return 15; /* 5: messages sent through the API (uid, kind, lanes, idempotency); 6: events;
		   * 7: users.agent, users.mode, events of human mode; 8: retention's daily usage;
		   * 9: usage per channel; 10: the hourly stats;
		   * 11: the outbox's heads; 12: PostgreSQL's functions planned once, bulk import;
		   * 13: the proactive lane's indexes; 14: PostgreSQL's import by place; 15:
		   * PostgreSQL's webhook lookup, stats counted by the store */
}

static void test_schema_version_is_current_and_ping_answers(void **state) {
	struct fixture *f = *state;
	int v = -1;

	assert_int_equal(store_schema_version(f->s, &v), 0);
	assert_int_equal(v, schema_version());
	assert_int_equal(store_ping(f->s), 0);
}

/* Runs sql on the SQLite file behind url ("sqlite:PATH") with the store closed. */
static void sqlite_exec(const char *url, const char *sql) {
	sqlite3 *db = NULL;
	char *err = NULL;

	assert_int_equal(sqlite3_open(url + strlen("sqlite:"), &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fail_msg("%s: %s", sql, err ? err : "?");
	}
	sqlite3_close(db);
}

static void test_sqlite_migration_2_keeps_old_phones_in_their_old_order(void **state) {
	struct fixture *f = *state;
	const char *old_order[] = {"+15551111111", "+15559999999"};
	const char *after_add[] = {"+15551111111", "+15559999999", "+15550000000"};
	struct store_user a;
	int v = 0;

	if (on_postgres()) {
		skip();
	}
	add_user1(f->s, "Ada", "+15559999999", &a);
	store_close(f->s);
	f->s = NULL;
	/* Back to a version-1 file holding a user whose phones were added out of order. */
	char sql[1536];
	snprintf(sql, sizeof(sql),
	         "DROP TABLE stats_hourly; "
	         UNDO_SQLITE_11
	         "DROP TABLE usage_daily; DROP INDEX outbox_inbound; DROP TABLE events; "
	         "DROP TABLE idempotency; DROP INDEX messages_uid; DROP INDEX messages_proactive; "
	         "DROP INDEX messages_whatsapp; "
	         "DROP INDEX outbox_lane; DROP INDEX outbox_message; "
	         "ALTER TABLE messages DROP COLUMN uid; ALTER TABLE messages DROP COLUMN kind; "
	         "ALTER TABLE messages DROP COLUMN channel; "
	         "ALTER TABLE messages DROP COLUMN send_at; "
	         "ALTER TABLE messages DROP COLUMN not_before; ALTER TABLE outbox DROP COLUMN lane; "
	         "DROP TABLE user_tags; DROP INDEX users_created; "
	         "ALTER TABLE users DROP COLUMN agent; ALTER TABLE users DROP COLUMN mode; "
	         "ALTER TABLE users DROP COLUMN timezone; ALTER TABLE users DROP COLUMN locale; "
	         "ALTER TABLE phones DROP COLUMN seq; "
	         "INSERT INTO phones (phone, user_id) VALUES ('+15551111111', '%s'); "
	         "PRAGMA user_version = 1;",
	         a.id);
	sqlite_exec(f->url, sql);

	assert_int_equal(store_open(f->url, NULL, &f->s), 0);
	assert_int_equal(store_schema_version(f->s, &v), 0);
	assert_int_equal(v, schema_version());
	/* Old rows keep the order version 1 gave them (by phone); a new one comes after. */
	assert_phones(f->s, a.id, old_order, 2);
	assert_int_equal(store_phone_add(f->s, a.id, "+15550000000"), 0);
	assert_phones(f->s, a.id, after_add, 3);
}

/* Migration 10 counts the messages a version-9 file holds, once. */
static void test_sqlite_migration_10_counts_the_messages_there_are(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	struct seen_stats before, after;
	int64_t t = 1764547200; /* 2025-12-01T00:00:00Z */
	int v = 0;

	if (on_postgres()) {
		skip();
	}
	add_user1(f->s, "Ada", "+15559999999", &a);
	add_inbound(f->s, a.id, "SM1", "one", t + 1);
	add_inbound(f->s, NULL, "SM2", "two", t + 2);
	add_outbound(f->s, a.id, "three", 0, t + 3600);
	list_stats(f->s, t, t + 86400, 3600, &before);
	assert_int_equal(before.n, 2);
	store_close(f->s);
	f->s = NULL;
	/* Version 11's outbox heads go too: SQLite's one version number reruns both. */
	sqlite_exec(f->url, "DROP TABLE stats_hourly; " UNDO_SQLITE_11 "PRAGMA user_version = 9;");

	assert_int_equal(store_open(f->url, NULL, &f->s), 0);
	assert_int_equal(store_schema_version(f->s, &v), 0);
	assert_int_equal(v, schema_version());
	list_stats(f->s, t, t + 86400, 3600, &after);
	assert_memory_equal(&after, &before, sizeof(before));
	/* And counts on from there. */
	add_inbound(f->s, a.id, "SM4", "four", t + 5);
	list_stats(f->s, t, t + 86400, 3600, &after);
	assert_int_equal(after.row[0].messages, 3);
}

static void test_sqlite_ping_reads_the_file_not_a_cache(void **state) {
	struct fixture *f = *state;
	struct store_user a, got;
	const char *path = f->url + strlen("sqlite:");
	char junk[8192];

	if (on_postgres()) {
		skip();
	}
	add_user1(f->s, "Ada", "+15550100101", &a);
	/* Closing checkpoints: the file holds everything, and the new handle reads it. */
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->url, NULL, &f->s), 0);
	assert_int_equal(store_user_get(f->s, a.id, &got), 0);
	assert_int_equal(store_ping(f->s), 0);

	/* The first 8 KiB of the test's own file overwritten: the header and the first pages. */
	memset(junk, 0xa5, sizeof(junk));
	FILE *fp = fopen(path, "r+b");
	assert_non_null(fp);
	assert_int_equal(fwrite(junk, 1, sizeof(junk), fp), sizeof(junk));
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(store_ping(f->s), -EIO);

	/* Gone altogether (the open handles keep the old inode): not created anew. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(store_ping(f->s), -EIO);
	assert_int_equal(access(path, F_OK), -1);
}

static void test_open_refuses_an_unknown_scheme(void **state) {
	(void)state;
	struct store *s = NULL;

	assert_int_equal(store_open("mysql://localhost/x", NULL, &s), -EINVAL);
	assert_null(s);
}

static void test_reopening_the_file_keeps_the_data(void **state) {
	struct fixture *f = *state;
	struct store_user a, got;
	struct seen_messages seen;
	struct seen_notes notes;
	bool out = false;
	int v = 0;

	add_user1(f->s, "Ada", "+15550100101", &a);
	int64_t in = add_inbound(f->s, a.id, "SM1", "hello", 0);
	add_outbound(f->s, a.id, "hi Ada", in, 0);
	assert_int_equal(store_note_add(f->s, a.id, "kept"), 0);
	assert_int_equal(store_optout_set(f->s, "+15550100777", true), 0);

	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->url, NULL, &f->s), 0);

	assert_int_equal(store_user_by_phone(f->s, "+15550100101", &got), 0);
	assert_string_equal(got.id, a.id);
	assert_string_equal(got.name, "Ada");
	list_messages(f->s, a.id, 10, &seen);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.body[0], "hi Ada");
	assert_string_equal(seen.body[1], "hello");
	list_notes(f->s, a.id, &notes);
	assert_int_equal(notes.n, 1);
	assert_string_equal(notes.text[0], "kept");
	assert_int_equal(store_optout_get(f->s, "+15550100777", &out), 0);
	assert_true(out);
	assert_int_equal(store_schema_version(f->s, &v), 0);
	assert_int_equal(v, schema_version());
	/* The sid is still known: a retry after a restart is still a duplicate. */
	struct store_message m =
	                message("SM1", "+15550100101", "+15550199999", "hello", "received", 1, 0);
	assert_int_equal(store_inbound_add(f->s, a.id, &m, NULL), -EEXIST);
}

/* ---- concurrent writers ---- */

#define WRITERS 8
#define PER_WRITER 200

struct writer {
	struct store *s;
	const char *user_id;
	int index;
	int failures;
	int first_error;
};

static void *write_messages(void *p) {
	struct writer *w = p;
	char sid[STORE_SID_SIZE];

	for (int i = 0; i < PER_WRITER; i++) {
		snprintf(sid, sizeof(sid), "SMw%02d%05d", w->index, i);
		struct store_message m =
		                message(sid, "+15550100101", "+15550199999", sid, "received", 1, 0);
		int64_t id = 0;
		int r = store_inbound_add(w->s, w->user_id, &m, &id);
		if (r != 0 || id <= 0) {
			if (w->failures++ == 0) {
				w->first_error = r;
			}
		}
	}
	return NULL;
}

struct sid_tally {
	bool seen[WRITERS][PER_WRITER];
	int total;
	int bad;
};

static int tally_sid(void *ctx, const struct store_message *m) {
	struct sid_tally *t = ctx;
	int w = -1, i = -1;
	t->total++;
	if (!m->sid || sscanf(m->sid, "SMw%2d%5d", &w, &i) != 2 || w < 0 || w >= WRITERS || i < 0 ||
	    i >= PER_WRITER || t->seen[w][i] || strcmp(m->body, m->sid) != 0) {
		t->bad++;
		return 0;
	}
	t->seen[w][i] = true;
	return 0;
}

static void test_concurrent_writers_on_one_handle_lose_nothing(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	pthread_t t[WRITERS];
	struct writer w[WRITERS];
	struct sid_tally *tally = calloc(1, sizeof(*tally));

	assert_non_null(tally);
	add_user1(f->s, "A", "+15550100101", &a);
	for (int i = 0; i < WRITERS; i++) {
		w[i] = (struct writer){.s = f->s, .user_id = a.id, .index = i};
		assert_int_equal(pthread_create(&t[i], NULL, write_messages, &w[i]), 0);
	}
	for (int i = 0; i < WRITERS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
	}
	for (int i = 0; i < WRITERS; i++) {
		if (w[i].failures) {
			fail_msg("writer %d: %d failures, first %d", i, w[i].failures,
			         w[i].first_error);
		}
	}
	assert_int_equal(store_messages_list(f->s, a.id, 10 * WRITERS * PER_WRITER, tally_sid,
	                                     tally),
	                 0);
	assert_int_equal(tally->bad, 0);
	assert_int_equal(tally->total, WRITERS * PER_WRITER);
	for (int i = 0; i < WRITERS; i++) {
		for (int j = 0; j < PER_WRITER; j++) {
			assert_true(tally->seen[i][j]);
		}
	}
	free(tally);
}

/* Each test runs on its own fresh store. */

static void test_user_delete_erases_its_messages_notes_and_outbox(void **state) {
	struct fixture *f = *state;
	struct store_user a, b;
	struct seen_messages seen;
	struct seen_notes notes;
	struct seen_outbox ob;
	char *reply = NULL;
	int64_t id = 0;

	add_user1(f->s, "A", "+15550100101", &a);
	add_user1(f->s, "B", "+15550100102", &b);
	int64_t in = add_inbound(f->s, a.id, "SMa1", "a1", 0);
	add_outbound(f->s, a.id, "reply a1", in, 0);
	add_queued(f->s, a.id, "SMa2");
	add_inbound(f->s, b.id, "SMb1", "b1", 0);
	add_queued(f->s, b.id, "SMb2");
	assert_int_equal(store_note_add(f->s, a.id, "a note"), 0);
	assert_int_equal(store_note_add(f->s, b.id, "b note"), 0);
	assert_int_equal(depth(f->s), 2);

	assert_int_equal(store_user_delete(f->s, a.id), 0);

	list_messages(f->s, a.id, 50, &seen);
	assert_int_equal(seen.n, 0);
	list_notes(f->s, a.id, &notes);
	assert_int_equal(notes.n, 0);
	assert_int_equal(store_answer_for(f->s, "SMa1", &reply, &id, NULL), -ENOENT);
	assert_int_equal(depth(f->s), 1);
	list_outbox(f->s, NULL, &ob);
	assert_int_equal(ob.n, 1);
	assert_string_equal(ob.row[0].user_id, b.id);

	list_messages(f->s, b.id, 50, &seen);
	assert_int_equal(seen.n, 2);
	list_notes(f->s, b.id, &notes);
	assert_int_equal(notes.n, 1);
}

static int run(const char *name, const struct CMUnitTest *tests, size_t n) {
	return _cmocka_run_group_tests(name, tests, n, NULL, NULL);
}

int main(void) {
	if (on_postgres() && !cluster_url()) {
		fprintf(stderr, "SMSROUTER_TEST_PG_URL is unset: no cluster to test on\n");
		return 77; /* skipped */
	}
	const struct CMUnitTest tests[] = {
		FIXTURE(test_notes_are_listed_in_order_and_cleared_per_user),
		FIXTURE(test_notes_list_stops_on_nonzero_and_returns_it),
		FIXTURE(test_optout_is_per_number_and_reflected_in_the_user),
		FIXTURE(test_optout_of_an_unknown_number_is_kept),
		FIXTURE(test_onboarding_claim_once_per_window),
		FIXTURE(test_counts_follow_users_and_phones),
		FIXTURE(test_schema_version_is_current_and_ping_answers),
		FIXTURE(test_sqlite_migration_2_keeps_old_phones_in_their_old_order),
		FIXTURE(test_sqlite_migration_10_counts_the_messages_there_are),
		FIXTURE(test_sqlite_ping_reads_the_file_not_a_cache),
		FIXTURE(test_open_refuses_an_unknown_scheme),
		FIXTURE(test_reopening_the_file_keeps_the_data),
		FIXTURE(test_concurrent_writers_on_one_handle_lose_nothing),
		FIXTURE(test_user_delete_erases_its_messages_notes_and_outbox),
	};
	int failed = run("store", tests, sizeof(tests) / sizeof(tests[0]));
	failed += run("users", store_users_tests, store_users_tests_count);
	failed += run("messages", store_messages_tests, store_messages_tests_count);
	failed += run("outbox", store_outbox_tests, store_outbox_tests_count);
	failed += run("tx", store_tx_tests, store_tx_tests_count);
	failed += run("attributes", store_attributes_tests, store_attributes_tests_count);
	failed += run("sends", store_sends_tests, store_sends_tests_count);
	failed += run("events", store_events_tests, store_events_tests_count);
	failed += run("retention", store_retention_tests, store_retention_tests_count);
	failed += run("stats", store_stats_tests, store_stats_tests_count);
	return failed;
}
