/* Tests of the store, written once and run on each backend: users and phones, import,
 * messages, answers, status callbacks, notes, opt-outs, onboarding, usage, durability and
 * concurrent writers. Each test gets a fresh database: SQLite in its own temporary
 * directory, or (SMSROUTER_TEST_STORE_BACKEND=postgres) a new database on the private
 * cluster named by SMSROUTER_TEST_PG_URL. */
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

static bool on_postgres(void) {
	const char *b = getenv("SMSROUTER_TEST_STORE_BACKEND");
	return b && strcmp(b, "postgres") == 0;
}

static int setup(void **state) {
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

static int teardown(void **state) {
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

static int64_t add_inbound(struct store *s, const char *user_id, const char *sid, const char *body,
                           int64_t created_at) {
	struct store_message m = message(sid, "+15550100101", "+15550199999", body, "received", 1,
	                                 created_at);
	int64_t id = 0;
	assert_int_equal(store_inbound_add(s, user_id, &m, &id), 0);
	assert_true(id > 0);
	return id;
}

static int64_t add_outbound(struct store *s, const char *user_id, const char *body,
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
	enum store_direction direction[MAX_SEEN];
	int64_t reply_to[MAX_SEEN];
};

static int collect_message(void *ctx, const struct store_message *m) {
	struct seen_messages *c = ctx;
	assert_true(c->n < MAX_SEEN);
	c->id[c->n] = m->id;
	snprintf(c->body[c->n], sizeof(c->body[0]), "%s", m->body);
	snprintf(c->status[c->n], sizeof(c->status[0]), "%s", m->status);
	snprintf(c->sid[c->n], sizeof(c->sid[0]), "%s", m->sid ? m->sid : "(null)");
	c->direction[c->n] = m->direction;
	c->reply_to[c->n] = m->reply_to;
	c->n++;
	return 0;
}

static void list_messages(struct store *s, const char *user_id, int limit,
                          struct seen_messages *out) {
	memset(out, 0, sizeof(*out));
	assert_int_equal(store_messages_list(s, user_id, limit, collect_message, out), 0);
}

/* The status of the outbound message id of user_id, as listed. */
static void status_of(struct store *s, const char *user_id, int64_t id, char *out, size_t size,
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

struct seen_users {
	size_t n;
	char id[MAX_SEEN][STORE_ID_SIZE];
	int stop_after; /* 0: never */
};

static int collect_user(void *ctx, const struct store_user *u) {
	struct seen_users *c = ctx;
	assert_true(c->n < MAX_SEEN);
	memcpy(c->id[c->n], u->id, STORE_ID_SIZE);
	c->n++;
	return c->stop_after > 0 && (int)c->n == c->stop_after ? 77 : 0;
}

static bool seen_user(const struct seen_users *c, const char *id) {
	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->id[i], id) == 0) {
			return true;
		}
	}
	return false;
}

static void assert_counts(struct store *s, int64_t users, int64_t phones) {
	int64_t u = -1, p = -1;
	assert_int_equal(store_counts(s, &u, &p), 0);
	assert_int_equal(u, users);
	assert_int_equal(p, phones);
}

/* ---- users and phones ---- */

static void test_user_add_then_get_and_by_phone_return_the_same_user(void **state) {
	struct fixture *f = *state;
	const char *phones[] = {"+15550100101", "+442071838750"};
	struct store_user added, got, by_phone;

	add_user(f->s, "Ada Lovelace", phones, 2, &added);
	assert_int_equal(strlen(added.id), STORE_ID_SIZE - 1);
	assert_string_equal(added.name, "Ada Lovelace");
	assert_int_equal(added.nphones, 2);
	assert_string_equal(added.phones[0], "+15550100101");
	assert_string_equal(added.phones[1], "+442071838750");
	assert_false(added.opted_out);
	assert_true(added.created_at > 1600000000);

	assert_int_equal(store_user_get(f->s, added.id, &got), 0);
	assert_string_equal(got.id, added.id);
	assert_string_equal(got.name, "Ada Lovelace");
	assert_int_equal(got.nphones, 2);
	assert_int_equal(got.created_at, added.created_at);

	assert_int_equal(store_user_by_phone(f->s, "+442071838750", &by_phone), 0);
	assert_string_equal(by_phone.id, added.id);
	assert_int_equal(by_phone.nphones, 2);
}

static void test_user_get_and_by_phone_of_unknown_are_enoent(void **state) {
	struct fixture *f = *state;
	struct store_user u;

	add_user1(f->s, "Ada", "+15550100101", &u);
	assert_int_equal(store_user_get(f->s, "00000000000000000000000000000000", &u), -ENOENT);
	assert_int_equal(store_user_by_phone(f->s, "+15550100102", &u), -ENOENT);
}

static void test_user_add_gives_each_user_a_distinct_id(void **state) {
	struct fixture *f = *state;
	struct store_user a, b;

	add_user1(f->s, "Ada", "+15550100101", &a);
	add_user1(f->s, "Ada", "+15550100102", &b);
	assert_string_not_equal(a.id, b.id);
}

static void test_user_list_calls_back_for_every_user_and_stops_on_nonzero(void **state) {
	struct fixture *f = *state;
	struct store_user u[3];
	struct seen_users seen = {0};

	add_user1(f->s, "A", "+15550100101", &u[0]);
	add_user1(f->s, "B", "+15550100102", &u[1]);
	add_user1(f->s, "C", "+15550100103", &u[2]);

	assert_int_equal(store_user_list(f->s, collect_user, &seen), 0);
	assert_int_equal(seen.n, 3);
	for (int i = 0; i < 3; i++) {
		assert_true(seen_user(&seen, u[i].id));
	}

	memset(&seen, 0, sizeof(seen));
	seen.stop_after = 2;
	assert_int_equal(store_user_list(f->s, collect_user, &seen), 77);
	assert_int_equal(seen.n, 2);
}

static void test_user_delete_removes_the_user_and_frees_its_phones(void **state) {
	struct fixture *f = *state;
	struct store_user a, b, got;

	add_user1(f->s, "A", "+15550100101", &a);
	add_user1(f->s, "B", "+15550100102", &b);
	assert_int_equal(store_user_delete(f->s, a.id), 0);

	assert_int_equal(store_user_get(f->s, a.id, &got), -ENOENT);
	assert_int_equal(store_user_by_phone(f->s, "+15550100101", &got), -ENOENT);
	assert_int_equal(store_user_get(f->s, b.id, &got), 0);
	assert_counts(f->s, 1, 1);

	/* The number is free again. */
	add_user1(f->s, "A2", "+15550100101", &got);
	assert_int_equal(store_user_delete(f->s, a.id), -ENOENT);
}

static void test_user_add_refuses_a_phone_of_another_user_naming_it(void **state) {
	struct fixture *f = *state;
	struct store_user a, u;
	const char *phones[] = {"+15550100102", "+15550100101", "+15550100103"};
	size_t bad = 999;

	add_user1(f->s, "A", "+15550100101", &a);
	assert_int_equal(store_user_add(f->s, "B", phones, 3, &u, &bad), -EEXIST);
	assert_int_equal(bad, 1);

	/* Nothing of B was kept. */
	assert_counts(f->s, 1, 1);
	assert_int_equal(store_user_by_phone(f->s, "+15550100102", &u), -ENOENT);
	assert_int_equal(store_user_by_phone(f->s, "+15550100101", &u), 0);
	assert_string_equal(u.id, a.id);

	/* reterr_index may be NULL. */
	assert_int_equal(store_user_add(f->s, "B", phones, 3, &u, NULL), -EEXIST);
}

static void test_user_add_refuses_a_phone_repeated_in_its_own_list(void **state) {
	struct fixture *f = *state;
	struct store_user u;
	const char *phones[] = {"+15550100101", "+15550100102", "+15550100101"};
	size_t bad = 999;

	assert_int_equal(store_user_add(f->s, "A", phones, 3, &u, &bad), -EEXIST);
	assert_int_equal(bad, 2);
	assert_counts(f->s, 0, 0);
}

/* Names the store refuses on every backend, whoever calls it (SQLite would keep any bytes,
 * PostgreSQL fails on invalid UTF-8 as if the store had failed). */
static const char *const bad_names[] = {
	"",
	"   ",
	"\xc2\xa0\xe3\x80\x80",             /* NBSP, ideographic space: only white space */
	"Bad\xffName",                      /* not UTF-8 */
	"Bad\xc0\xafName",                  /* an overlong '/' */
	"Bad\xed\xa0\x80Name",              /* a surrogate */
	"Bad\xe2\x82",                      /* cut inside a character */
	"Tab\tName", "LF\nName", "CR\rName", "Ctl\x01Name", "Del\x7fName",
	"Nel\xc2\x85Name",                  /* C1 control U+0085 */
};

static void test_name_check_accepts_utf8_names_and_refuses_the_rest(void **state) {
	(void)state;
	char longest[STORE_NAME_SIZE], too_long[STORE_NAME_SIZE + 1];
	const char *good[] = {"Ann", "Zoë Ångström", "李小龍", " Ann ", "A\xc2\xa0" "B",
		"\xf0\x9f\x98\x80", longest};
	int failures = 0;

	memset(longest, 'a', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	memset(too_long, 'a', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		const char *why = "untouched";
		if (store_name_check(good[i], &why) != 0 || strcmp(why, "untouched") != 0) {
			print_error("good name %zu refused: %s\n", i, why);
			failures++;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad_names); i++) {
		const char *why = NULL;
		if (store_name_check(bad_names[i], &why) != -EINVAL || !why || !why[0]) {
			print_error("bad name %zu accepted\n", i);
			failures++;
		}
	}
	assert_int_equal(store_name_check(too_long, NULL), -EINVAL);
	assert_int_equal(failures, 0);
}

static void test_user_add_and_import_refuse_a_bad_name_and_keep_nothing(void **state) {
	struct fixture *f = *state;
	const char *p0[] = {"+15550100101"};
	const char *p1[] = {"+15550100102"};
	struct store_user u;
	size_t bad = 999;

	for (size_t i = 0; i < ARRAY_SIZE(bad_names); i++) {
		const struct store_import_row rows[] = {{"Ada", p0, 1}, {bad_names[i], p1, 1}};
		if (store_user_add(f->s, bad_names[i], p0, 1, &u, NULL) != -EINVAL ||
				store_import(f->s, rows, 2, &bad) != -EINVAL || bad != 1) {
			print_error("bad name %zu was not refused with -EINVAL\n", i);
			fail();
		}
	}
	assert_counts(f->s, 0, 0);
	assert_int_equal(store_user_add(f->s, "Zoë", p0, 1, &u, NULL), 0);
	assert_string_equal(u.name, "Zoë");
}

static void test_phone_add_is_idempotent_for_its_owner(void **state) {
	struct fixture *f = *state;
	struct store_user a, got;

	add_user1(f->s, "A", "+15550100101", &a);
	assert_int_equal(store_phone_add(f->s, a.id, "+15550100102"), 0);
	assert_int_equal(store_phone_add(f->s, a.id, "+15550100102"), 0);
	assert_int_equal(store_phone_add(f->s, a.id, "+15550100101"), 0);

	assert_int_equal(store_user_get(f->s, a.id, &got), 0);
	assert_int_equal(got.nphones, 2);
	assert_string_equal(got.phones[0], "+15550100101");
	assert_string_equal(got.phones[1], "+15550100102");
	assert_int_equal(store_user_by_phone(f->s, "+15550100102", &got), 0);
	assert_string_equal(got.id, a.id);
}

static void test_phone_add_refuses_another_users_phone(void **state) {
	struct fixture *f = *state;
	struct store_user a, b, got;

	add_user1(f->s, "A", "+15550100101", &a);
	add_user1(f->s, "B", "+15550100102", &b);
	assert_int_equal(store_phone_add(f->s, b.id, "+15550100101"), -EEXIST);
	assert_int_equal(store_user_by_phone(f->s, "+15550100101", &got), 0);
	assert_string_equal(got.id, a.id);
	assert_int_equal(store_user_get(f->s, b.id, &got), 0);
	assert_int_equal(got.nphones, 1);
}

static void test_phone_add_to_unknown_user_is_enoent(void **state) {
	struct fixture *f = *state;
	struct store_user got;

	assert_int_equal(store_phone_add(f->s, "00000000000000000000000000000000", "+15550100101"),
	                 -ENOENT);
	assert_int_equal(store_user_by_phone(f->s, "+15550100101", &got), -ENOENT);
	assert_counts(f->s, 0, 0);
}

static void test_phone_add_past_max_phones_is_enospc(void **state) {
	struct fixture *f = *state;
	struct store_user a, got;
	char phone[PHONE_SIZE];

	add_user1(f->s, "A", "+15550100100", &a);
	for (int i = 1; i < STORE_MAX_PHONES; i++) {
		snprintf(phone, sizeof(phone), "+155501001%02d", i);
		assert_int_equal(store_phone_add(f->s, a.id, phone), 0);
	}
	assert_int_equal(store_user_get(f->s, a.id, &got), 0);
	assert_int_equal(got.nphones, STORE_MAX_PHONES);

	assert_int_equal(store_phone_add(f->s, a.id, "+15550100199"), -ENOSPC);
	assert_int_equal(store_user_by_phone(f->s, "+15550100199", &got), -ENOENT);
	/* One it has already is still fine. */
	assert_int_equal(store_phone_add(f->s, a.id, "+15550100105"), 0);
}

static void test_user_add_with_more_than_max_phones_is_enospc(void **state) {
	struct fixture *f = *state;
	const char *phones[STORE_MAX_PHONES + 1];
	char buf[STORE_MAX_PHONES + 1][PHONE_SIZE];
	struct store_user u;

	for (int i = 0; i <= STORE_MAX_PHONES; i++) {
		snprintf(buf[i], sizeof(buf[i]), "+155501001%02d", i);
		phones[i] = buf[i];
	}
	assert_int_equal(store_user_add(f->s, "A", phones, STORE_MAX_PHONES + 1, &u, NULL),
	                 -ENOSPC);
	assert_counts(f->s, 0, 0);
}

static void test_phone_remove_detaches_only_the_owners_phone(void **state) {
	struct fixture *f = *state;
	const char *phones[] = {"+15550100101", "+15550100102"};
	struct store_user a, b, got;

	add_user(f->s, "A", phones, 2, &a);
	add_user1(f->s, "B", "+15550100103", &b);

	assert_int_equal(store_phone_remove(f->s, a.id, "+15550100101"), 0);
	assert_int_equal(store_user_by_phone(f->s, "+15550100101", &got), -ENOENT);
	assert_int_equal(store_user_get(f->s, a.id, &got), 0);
	assert_int_equal(got.nphones, 1);
	assert_string_equal(got.phones[0], "+15550100102");

	assert_int_equal(store_phone_remove(f->s, a.id, "+15550100101"), -ENOENT);
	/* Another user's phone is not this user's to remove. */
	assert_int_equal(store_phone_remove(f->s, a.id, "+15550100103"), -ENOENT);
	assert_int_equal(store_user_by_phone(f->s, "+15550100103", &got), 0);
	assert_string_equal(got.id, b.id);
}

/* The phones of user id as store_user_list reports them. */
struct listed_phones {
	const char *id;
	struct store_user u;
	bool found;
};

static int find_listed(void *ctx, const struct store_user *u) {
	struct listed_phones *c = ctx;
	if (strcmp(u->id, c->id) == 0) {
		c->u = *u;
		c->found = true;
	}
	return 0;
}

/* Asserts that every way of reading user id gives exactly these phones, in this order. */
static void assert_phones(struct store *s, const char *id, const char *const *want, int n) {
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

static void test_phones_keep_the_order_they_were_given_in(void **state) {
	struct fixture *f = *state;
	const char *phones[] = {"+15559999999", "+15551111111", "+15555555555"};
	const char *after_add[] = {"+15559999999", "+15551111111", "+15555555555",
	                           "+15550000000"};
	const char *after_readd[] = {"+15551111111", "+15555555555", "+15550000000",
	                             "+15559999999"};
	struct store_user a;

	add_user(f->s, "A", phones, 3, &a);
	for (int i = 0; i < 3; i++) {
		assert_string_equal(a.phones[i], phones[i]); /* the answer to the add, too */
	}
	assert_phones(f->s, a.id, phones, 3);
	/* A phone added later comes last, even one that sorts first. */
	assert_int_equal(store_phone_add(f->s, a.id, "+15550000000"), 0);
	assert_phones(f->s, a.id, after_add, 4);
	/* Removed and added again: it is the newest now. */
	assert_int_equal(store_phone_remove(f->s, a.id, "+15559999999"), 0);
	assert_int_equal(store_phone_add(f->s, a.id, "+15559999999"), 0);
	assert_phones(f->s, a.id, after_readd, 4);
}

static void test_import_keeps_the_order_of_each_lines_phones(void **state) {
	struct fixture *f = *state;
	const char *p0[] = {"+15559999999", "+15551111111", "+15555555555"};
	const char *p1[] = {"+15558888888", "+15552222222"};
	const char *p1_added[] = {"+15558888888", "+15552222222", "+15550000000"};
	const struct store_import_row rows[] = {
	                {"Ada", p0, 3},
	                {"Bob", p1, 2},
	};
	struct store_user u;
	size_t bad = 999;

	assert_int_equal(store_import(f->s, rows, 2, &bad), 0);
	assert_int_equal(store_user_by_phone(f->s, "+15559999999", &u), 0);
	assert_phones(f->s, u.id, p0, 3);
	assert_int_equal(store_user_by_phone(f->s, "+15552222222", &u), 0);
	assert_phones(f->s, u.id, p1, 2);
	assert_int_equal(store_phone_add(f->s, u.id, "+15550000000"), 0);
	assert_phones(f->s, u.id, p1_added, 3);
}

/* ---- import ---- */

static void test_import_creates_every_row(void **state) {
	struct fixture *f = *state;
	const char *p0[] = {"+15550100101"};
	const char *p1[] = {"+15550100102", "+15550100103"};
	const struct store_import_row rows[] = {
	                {"Ada", p0, 1},
	                {"Bob", p1, 2},
	};
	struct store_user u;
	size_t bad = 999;

	assert_int_equal(store_import(f->s, rows, 2, &bad), 0);
	assert_counts(f->s, 2, 3);
	assert_int_equal(store_user_by_phone(f->s, "+15550100103", &u), 0);
	assert_string_equal(u.name, "Bob");
	assert_int_equal(u.nphones, 2);
	assert_int_equal(store_user_by_phone(f->s, "+15550100101", &u), 0);
	assert_string_equal(u.name, "Ada");
}

static void test_import_is_all_or_nothing_on_a_repeated_phone(void **state) {
	struct fixture *f = *state;
	const char *p0[] = {"+15550100101"};
	const char *p1[] = {"+15550100102"};
	const char *p2[] = {"+15550100103", "+15550100101"};
	const struct store_import_row rows[] = {
	                {"Ada", p0, 1},
	                {"Bob", p1, 1},
	                {"Cy", p2, 2},
	};
	struct store_user u;
	struct seen_users seen = {0};
	size_t bad = 999;

	assert_int_equal(store_import(f->s, rows, 3, &bad), -EEXIST);
	assert_int_equal(bad, 2);
	assert_counts(f->s, 0, 0);
	assert_int_equal(store_user_by_phone(f->s, "+15550100101", &u), -ENOENT);
	assert_int_equal(store_user_by_phone(f->s, "+15550100102", &u), -ENOENT);
	assert_int_equal(store_user_by_phone(f->s, "+15550100103", &u), -ENOENT);
	assert_int_equal(store_user_list(f->s, collect_user, &seen), 0);
	assert_int_equal(seen.n, 0);
}

static void test_import_refuses_a_phone_owned_before_and_keeps_nothing(void **state) {
	struct fixture *f = *state;
	const char *p0[] = {"+15550100102"};
	const char *p1[] = {"+15550100101"};
	const struct store_import_row rows[] = {
	                {"Bob", p0, 1},
	                {"Cy", p1, 1},
	};
	struct store_user a, u;
	size_t bad = 999;

	add_user1(f->s, "Ada", "+15550100101", &a);
	assert_int_equal(store_import(f->s, rows, 2, &bad), -EEXIST);
	assert_int_equal(bad, 1);
	assert_counts(f->s, 1, 1);
	assert_int_equal(store_user_by_phone(f->s, "+15550100102", &u), -ENOENT);
}

/* ---- messages ---- */

static void test_inbound_add_with_a_seen_sid_is_eexist(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	struct seen_messages seen;

	add_user1(f->s, "A", "+15550100101", &a);
	add_inbound(f->s, a.id, "SM00000000000000000000000000000001", "hello", 0);
	struct store_message m = message("SM00000000000000000000000000000001", "+15550100101",
	                                 "+15550199999", "hello again", "received", 1, 0);
	assert_int_equal(store_inbound_add(f->s, a.id, &m, NULL), -EEXIST);

	list_messages(f->s, a.id, 10, &seen);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.body[0], "hello");
}

static void test_answer_for_unseen_sid_is_enoent(void **state) {
	struct fixture *f = *state;
	char *reply = (char *)"untouched";
	int64_t id = -7;

	assert_int_equal(store_answer_for(f->s, "SM404", &reply, &id), -ENOENT);
	assert_string_equal(reply, "untouched");
	assert_int_equal(id, -7);
}

static void test_answer_for_without_outbound_gives_null_reply(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	char *reply = (char *)"untouched";
	int64_t id = -7;

	add_user1(f->s, "A", "+15550100101", &a);
	add_inbound(f->s, a.id, "SM1", "hello", 0);
	assert_int_equal(store_answer_for(f->s, "SM1", &reply, &id), 0);
	assert_null(reply);
	assert_int_equal(id, 0);
}

static void test_answer_for_gives_the_reply_body_and_its_id(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	char *reply = NULL;
	int64_t id = 0;

	add_user1(f->s, "A", "+15550100101", &a);
	int64_t in1 = add_inbound(f->s, a.id, "SM1", "first", 0);
	int64_t in2 = add_inbound(f->s, a.id, "SM2", "second", 0);
	int64_t out2 = add_outbound(f->s, a.id, "answer two", in2, 0);
	int64_t out1 = add_outbound(f->s, a.id, "answer one", in1, 0);

	assert_int_equal(store_answer_for(f->s, "SM1", &reply, &id), 0);
	assert_non_null(reply);
	assert_string_equal(reply, "answer one");
	assert_int_equal(id, out1);
	free(reply);

	assert_int_equal(store_answer_for(f->s, "SM2", &reply, &id), 0);
	assert_non_null(reply);
	assert_string_equal(reply, "answer two");
	assert_int_equal(id, out2);
	free(reply);
}

static void test_answer_for_works_for_unrouted_messages(void **state) {
	struct fixture *f = *state;
	char *reply = NULL;
	int64_t id = 0;

	int64_t in = add_inbound(f->s, NULL, "SMu", "who?", 0);
	int64_t out = add_outbound(f->s, NULL, "not registered", in, 0);
	assert_int_equal(store_answer_for(f->s, "SMu", &reply, &id), 0);
	assert_non_null(reply);
	assert_string_equal(reply, "not registered");
	assert_int_equal(id, out);
	free(reply);
}

static void test_messages_list_is_newest_first_and_only_that_users(void **state) {
	struct fixture *f = *state;
	struct store_user a, b;
	struct seen_messages seen;

	add_user1(f->s, "A", "+15550100101", &a);
	add_user1(f->s, "B", "+15550100102", &b);
	add_inbound(f->s, a.id, "SMa1", "a1", 0);
	add_inbound(f->s, b.id, "SMb1", "b1", 0);
	int64_t a2 = add_inbound(f->s, a.id, "SMa2", "a2", 0);
	add_inbound(f->s, b.id, "SMb2", "b2", 0);
	add_outbound(f->s, a.id, "a3", a2, 0);
	add_inbound(f->s, NULL, "SMx", "x", 0);
	add_inbound(f->s, b.id, "SMb3", "b3", 0);

	list_messages(f->s, a.id, 50, &seen);
	assert_int_equal(seen.n, 3);
	assert_string_equal(seen.body[0], "a3");
	assert_int_equal(seen.direction[0], STORE_OUTBOUND);
	assert_int_equal(seen.reply_to[0], a2);
	assert_string_equal(seen.body[1], "a2");
	assert_int_equal(seen.direction[1], STORE_INBOUND);
	assert_string_equal(seen.sid[1], "SMa2");
	assert_string_equal(seen.body[2], "a1");

	list_messages(f->s, b.id, 50, &seen);
	assert_int_equal(seen.n, 3);
	assert_string_equal(seen.body[0], "b3");
	assert_string_equal(seen.body[1], "b2");
	assert_string_equal(seen.body[2], "b1");

	/* limit keeps the newest. */
	list_messages(f->s, b.id, 2, &seen);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.body[0], "b3");
	assert_string_equal(seen.body[1], "b2");
}

static void test_history_is_the_last_n_oldest_first(void **state) {
	struct fixture *f = *state;
	struct store_user a, b;
	struct seen_messages seen = {0};

	add_user1(f->s, "A", "+15550100101", &a);
	add_user1(f->s, "B", "+15550100102", &b);
	add_inbound(f->s, a.id, "SMa1", "a1", 0);
	add_inbound(f->s, b.id, "SMb1", "b1", 0);
	add_inbound(f->s, a.id, "SMa2", "a2", 0);
	add_inbound(f->s, a.id, "SMa3", "a3", 0);
	add_inbound(f->s, b.id, "SMb2", "b2", 0);
	add_inbound(f->s, a.id, "SMa4", "a4", 0);

	assert_int_equal(store_history(f->s, a.id, INT64_MAX, 3, collect_message, &seen), 0);
	assert_int_equal(seen.n, 3);
	assert_string_equal(seen.body[0], "a2");
	assert_string_equal(seen.body[1], "a3");
	assert_string_equal(seen.body[2], "a4");

	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_history(f->s, a.id, INT64_MAX, 20, collect_message, &seen), 0);
	assert_int_equal(seen.n, 4);
	assert_string_equal(seen.body[0], "a1");
	assert_string_equal(seen.body[3], "a4");
}

/* The bodies of store_history(before, limit) for user_id, joined by ' '. */
static void history_of(struct store *s, const char *user_id, int64_t before, int limit,
                       char *out, size_t size) {
	struct seen_messages seen = {0};
	assert_int_equal(store_history(s, user_id, before, limit, collect_message, &seen), 0);
	out[0] = '\0';
	for (size_t i = 0; i < seen.n; i++) {
		snprintf(out + strlen(out), size - strlen(out), "%s%s", i ? " " : "", seen.body[i]);
	}
}

static void test_history_holds_only_what_came_before_the_message(void **state) {
	struct fixture *f = *state;
	struct store_user a, b;
	char h[512];

	/* In arrival order: i1 waits for its (retried) agent call while i2 arrives; i1's
	 * reply is stored after i2, then i2's, then i3 arrives. */
	add_user1(f->s, "A", "+15550100101", &a);
	add_user1(f->s, "B", "+15550100102", &b);
	int64_t i0 = add_inbound(f->s, a.id, "SMi0", "i0", 0);
	add_outbound(f->s, a.id, "o0", i0, 0);
	int64_t i1 = add_inbound(f->s, a.id, "SMi1", "i1", 0);
	add_inbound(f->s, b.id, "SMb1", "b1", 0);
	int64_t i2 = add_inbound(f->s, a.id, "SMi2", "i2", 0);
	add_outbound(f->s, a.id, "o1", i1, 0);
	add_outbound(f->s, a.id, "o2", i2, 0);
	int64_t i3 = add_inbound(f->s, a.id, "SMi3", "i3", 0);

	/* Nothing that arrived after i1, nor i1's own reply. */
	history_of(f->s, a.id, i1, 20, h, sizeof(h));
	assert_string_equal(h, "i0 o0");
	/* i1's reply was stored after i2 arrived, but i1 came before i2: it is part of the
	 * conversation i2 follows. */
	history_of(f->s, a.id, i2, 20, h, sizeof(h));
	assert_string_equal(h, "i0 o0 i1 o1");
	history_of(f->s, a.id, i3, 20, h, sizeof(h));
	assert_string_equal(h, "i0 o0 i1 i2 o1 o2");
	/* The limit keeps the latest of them. */
	history_of(f->s, a.id, i3, 3, h, sizeof(h));
	assert_string_equal(h, "i2 o1 o2");
	history_of(f->s, a.id, i0, 20, h, sizeof(h));
	assert_string_equal(h, "");
	/* Another user's bound never shows this user's messages. */
	history_of(f->s, b.id, i3, 20, h, sizeof(h));
	assert_string_equal(h, "b1");
}

/* ---- status callbacks ---- */

static void test_status_update_only_moves_forward(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	char status[32];
	bool changed = false;

	add_user1(f->s, "A", "+15550100101", &a);
	int64_t in = add_inbound(f->s, a.id, "SM1", "hi", 0);
	int64_t out = add_outbound(f->s, a.id, "hello", in, 0);

	status_of(f->s, a.id, out, status, sizeof(status), NULL, 0);
	assert_string_equal(status, "queued");

	assert_int_equal(store_status_update(f->s, out, NULL, "sent", NULL, &changed), 0);
	assert_true(changed);
	status_of(f->s, a.id, out, status, sizeof(status), NULL, 0);
	assert_string_equal(status, "sent");

	assert_int_equal(store_status_update(f->s, out, NULL, "delivered", NULL, &changed), 0);
	assert_true(changed);
	status_of(f->s, a.id, out, status, sizeof(status), NULL, 0);
	assert_string_equal(status, "delivered");

	/* A late "sent" (or "queued") never overwrites "delivered". */
	changed = true;
	assert_int_equal(store_status_update(f->s, out, NULL, "sent", NULL, &changed), 0);
	assert_false(changed);
	changed = true;
	assert_int_equal(store_status_update(f->s, out, NULL, "queued", NULL, &changed), 0);
	assert_false(changed);
	status_of(f->s, a.id, out, status, sizeof(status), NULL, 0);
	assert_string_equal(status, "delivered");

	assert_int_equal(store_status_update(f->s, out, NULL, "read", NULL, &changed), 0);
	assert_true(changed);
	status_of(f->s, a.id, out, status, sizeof(status), NULL, 0);
	assert_string_equal(status, "read");
}

static void test_status_update_with_an_unknown_status_leaves_it(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	char status[32];
	bool changed = true;

	add_user1(f->s, "A", "+15550100101", &a);
	int64_t out = add_outbound(f->s, a.id, "hello", 0, 0);
	assert_int_equal(store_status_update(f->s, out, NULL, "sent", NULL, &changed), 0);
	assert_int_equal(store_status_update(f->s, out, NULL, "exploded", NULL, &changed), 0);
	assert_false(changed);
	status_of(f->s, a.id, out, status, sizeof(status), NULL, 0);
	assert_string_equal(status, "sent");
	assert_int_equal(store_status_rank("exploded"), 0);
	assert_true(store_status_rank("delivered") > store_status_rank("sent"));
	assert_true(store_status_rank("sent") > store_status_rank("queued"));
}

static void test_status_update_records_the_sid_when_the_row_has_none(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	char status[32], sid[STORE_SID_SIZE];
	bool changed = false;

	add_user1(f->s, "A", "+15550100101", &a);
	int64_t out = add_outbound(f->s, a.id, "hello", 0, 0);
	status_of(f->s, a.id, out, status, sizeof(status), sid, sizeof(sid));
	assert_string_equal(sid, "(null)");

	assert_int_equal(store_status_update(f->s, out, "SMout1", "sent", NULL, &changed), 0);
	assert_true(changed);
	status_of(f->s, a.id, out, status, sizeof(status), sid, sizeof(sid));
	assert_string_equal(sid, "SMout1");

	/* Now Twilio's sid alone finds it. */
	assert_int_equal(store_status_update(f->s, 0, "SMout1", "delivered", NULL, &changed), 0);
	assert_true(changed);
	status_of(f->s, a.id, out, status, sizeof(status), NULL, 0);
	assert_string_equal(status, "delivered");

	/* A sid once recorded is not replaced. */
	assert_int_equal(store_status_update(f->s, out, "SMother", "read", NULL, &changed), 0);
	status_of(f->s, a.id, out, status, sizeof(status), sid, sizeof(sid));
	assert_string_equal(sid, "SMout1");
}

static void test_status_update_of_unknown_id_or_sid_is_enoent(void **state) {
	struct fixture *f = *state;
	struct store_user a;
	bool changed = true;

	add_user1(f->s, "A", "+15550100101", &a);
	int64_t in = add_inbound(f->s, a.id, "SMin", "hi", 0);
	add_outbound(f->s, a.id, "hello", in, 0);

	assert_int_equal(store_status_update(f->s, 999999, NULL, "sent", NULL, &changed), -ENOENT);
	assert_int_equal(store_status_update(f->s, 0, "SMnope", "sent", NULL, &changed), -ENOENT);
	assert_int_equal(store_status_update(f->s, 0, "SMnope", "bogus", NULL, &changed), -ENOENT);
	/* An inbound message takes no status callback. */
	assert_int_equal(store_status_update(f->s, in, NULL, "sent", NULL, &changed), -ENOENT);
	assert_int_equal(store_status_update(f->s, 0, "SMin", "sent", NULL, &changed), -ENOENT);
}

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

static void test_user_delete_erases_its_messages_and_notes(void **state) {
	struct fixture *f = *state;
	struct store_user a, b;
	struct seen_messages seen;
	struct seen_notes notes;
	char *reply = NULL;
	int64_t id = 0;

	add_user1(f->s, "A", "+15550100101", &a);
	add_user1(f->s, "B", "+15550100102", &b);
	int64_t in = add_inbound(f->s, a.id, "SMa1", "a1", 0);
	add_outbound(f->s, a.id, "reply a1", in, 0);
	add_inbound(f->s, b.id, "SMb1", "b1", 0);
	assert_int_equal(store_note_add(f->s, a.id, "a note"), 0);
	assert_int_equal(store_note_add(f->s, b.id, "b note"), 0);

	assert_int_equal(store_user_delete(f->s, a.id), 0);

	list_messages(f->s, a.id, 50, &seen);
	assert_int_equal(seen.n, 0);
	list_notes(f->s, a.id, &notes);
	assert_int_equal(notes.n, 0);
	assert_int_equal(store_answer_for(f->s, "SMa1", &reply, &id), -ENOENT);

	list_messages(f->s, b.id, 50, &seen);
	assert_int_equal(seen.n, 1);
	list_notes(f->s, b.id, &notes);
	assert_int_equal(notes.n, 1);
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

/* ---- usage and counts ---- */

struct usage_seen {
	size_t n;
	char user[8][STORE_ID_SIZE]; /* "" for the NULL row */
	bool null_row[8];
	struct store_usage_row row[8];
};

static int collect_usage(void *ctx, const struct store_usage_row *r) {
	struct usage_seen *c = ctx;
	assert_true(c->n < 8);
	c->null_row[c->n] = r->user_id == NULL;
	snprintf(c->user[c->n], STORE_ID_SIZE, "%s", r->user_id ? r->user_id : "");
	c->row[c->n] = *r;
	c->row[c->n].user_id = NULL;
	c->n++;
	return 0;
}

static const struct store_usage_row *usage_of(const struct usage_seen *c, const char *user_id) {
	for (size_t i = 0; i < c->n; i++) {
		if (!c->null_row[i] && strcmp(c->user[i], user_id) == 0) {
			return &c->row[i];
		}
	}
	return NULL;
}

static void add_msg(struct store *s, const char *user_id, enum store_direction d, const char *sid,
                    int segments, int64_t created_at) {
	struct store_message m =
	                message(sid, "+15550100101", "+15550199999", "x",
	                        d == STORE_INBOUND ? "received" : "queued", segments, created_at);
	if (d == STORE_INBOUND) {
		assert_int_equal(store_inbound_add(s, user_id, &m, NULL), 0);
	} else {
		assert_int_equal(store_outbound_add(s, user_id, &m, NULL), 0);
	}
}

static void test_usage_has_a_row_per_user_then_unknown_senders_since(void **state) {
	struct fixture *f = *state;
	struct store_user a, b;
	struct usage_seen seen = {0};
	const struct store_usage_row *r;

	add_user1(f->s, "A", "+15550100101", &a);
	add_user1(f->s, "B", "+15550100102", &b);
	add_msg(f->s, a.id, STORE_INBOUND, "SMa1", 1, 1000);
	add_msg(f->s, a.id, STORE_INBOUND, "SMa2", 2, 1100);
	add_msg(f->s, a.id, STORE_OUTBOUND, NULL, 3, 1200);
	add_msg(f->s, b.id, STORE_INBOUND, "SMb1", 4, 500);
	add_msg(f->s, b.id, STORE_OUTBOUND, NULL, 1, 2000);
	add_msg(f->s, NULL, STORE_INBOUND, "SMx1", 1, 1500);
	add_msg(f->s, NULL, STORE_OUTBOUND, NULL, 2, 1500);

	assert_int_equal(store_usage(f->s, 0, collect_usage, &seen), 0);
	assert_int_equal(seen.n, 3);
	assert_true(seen.null_row[2]); /* unknown senders last */
	assert_false(seen.null_row[0]);
	assert_false(seen.null_row[1]);
	r = usage_of(&seen, a.id);
	assert_non_null(r);
	assert_int_equal(r->inbound, 2);
	assert_int_equal(r->outbound, 1);
	assert_int_equal(r->segments, 6);
	r = usage_of(&seen, b.id);
	assert_non_null(r);
	assert_int_equal(r->inbound, 1);
	assert_int_equal(r->outbound, 1);
	assert_int_equal(r->segments, 5);
	assert_int_equal(seen.row[2].inbound, 1);
	assert_int_equal(seen.row[2].outbound, 1);
	assert_int_equal(seen.row[2].segments, 3);
	int64_t total_in = 0, total_out = 0, total_seg = 0;
	for (size_t i = 0; i < seen.n; i++) {
		total_in += seen.row[i].inbound;
		total_out += seen.row[i].outbound;
		total_seg += seen.row[i].segments;
	}
	assert_int_equal(total_in, 4);
	assert_int_equal(total_out, 3);
	assert_int_equal(total_seg, 14);

	/* since 1100 keeps a2, a's outbound, b's outbound and the unknown pair. */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_usage(f->s, 1100, collect_usage, &seen), 0);
	assert_int_equal(seen.n, 3);
	r = usage_of(&seen, a.id);
	assert_non_null(r);
	assert_int_equal(r->inbound, 1);
	assert_int_equal(r->outbound, 1);
	assert_int_equal(r->segments, 5);
	r = usage_of(&seen, b.id);
	assert_non_null(r);
	assert_int_equal(r->inbound, 0);
	assert_int_equal(r->outbound, 1);
	assert_int_equal(r->segments, 1);
	assert_true(seen.null_row[2]);

	/* since 1600 keeps b's outbound only. */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_usage(f->s, 1600, collect_usage, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_false(seen.null_row[0]);
	assert_string_equal(seen.user[0], b.id);
	assert_int_equal(seen.row[0].segments, 1);

	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_usage(f->s, 3000, collect_usage, &seen), 0);
	assert_int_equal(seen.n, 0);
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
static int schema_version(void) {
	return 3;
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
	char sql[512];
	snprintf(sql, sizeof(sql),
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
#define FIXTURE(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
	if (on_postgres() && !cluster_url()) {
		fprintf(stderr, "SMSROUTER_TEST_PG_URL is unset: no cluster to test on\n");
		return 77; /* skipped */
	}
	const struct CMUnitTest tests[] = {
		FIXTURE(test_user_add_then_get_and_by_phone_return_the_same_user),
		FIXTURE(test_user_get_and_by_phone_of_unknown_are_enoent),
		FIXTURE(test_user_add_gives_each_user_a_distinct_id),
		FIXTURE(test_user_list_calls_back_for_every_user_and_stops_on_nonzero),
		FIXTURE(test_user_delete_removes_the_user_and_frees_its_phones),
		FIXTURE(test_user_add_refuses_a_phone_of_another_user_naming_it),
		FIXTURE(test_user_add_refuses_a_phone_repeated_in_its_own_list),
		FIXTURE(test_name_check_accepts_utf8_names_and_refuses_the_rest),
		FIXTURE(test_user_add_and_import_refuse_a_bad_name_and_keep_nothing),
		FIXTURE(test_phone_add_is_idempotent_for_its_owner),
		FIXTURE(test_phone_add_refuses_another_users_phone),
		FIXTURE(test_phone_add_to_unknown_user_is_enoent),
		FIXTURE(test_phone_add_past_max_phones_is_enospc),
		FIXTURE(test_user_add_with_more_than_max_phones_is_enospc),
		FIXTURE(test_phone_remove_detaches_only_the_owners_phone),
		FIXTURE(test_phones_keep_the_order_they_were_given_in),
		FIXTURE(test_import_keeps_the_order_of_each_lines_phones),
		FIXTURE(test_import_creates_every_row),
		FIXTURE(test_import_is_all_or_nothing_on_a_repeated_phone),
		FIXTURE(test_import_refuses_a_phone_owned_before_and_keeps_nothing),
		FIXTURE(test_inbound_add_with_a_seen_sid_is_eexist),
		FIXTURE(test_answer_for_unseen_sid_is_enoent),
		FIXTURE(test_answer_for_without_outbound_gives_null_reply),
		FIXTURE(test_answer_for_gives_the_reply_body_and_its_id),
		FIXTURE(test_answer_for_works_for_unrouted_messages),
		FIXTURE(test_messages_list_is_newest_first_and_only_that_users),
		FIXTURE(test_history_is_the_last_n_oldest_first),
		FIXTURE(test_history_holds_only_what_came_before_the_message),
		FIXTURE(test_status_update_only_moves_forward),
		FIXTURE(test_status_update_with_an_unknown_status_leaves_it),
		FIXTURE(test_status_update_records_the_sid_when_the_row_has_none),
		FIXTURE(test_status_update_of_unknown_id_or_sid_is_enoent),
		FIXTURE(test_notes_are_listed_in_order_and_cleared_per_user),
		FIXTURE(test_notes_list_stops_on_nonzero_and_returns_it),
		FIXTURE(test_user_delete_erases_its_messages_and_notes),
		FIXTURE(test_optout_is_per_number_and_reflected_in_the_user),
		FIXTURE(test_optout_of_an_unknown_number_is_kept),
		FIXTURE(test_onboarding_claim_once_per_window),
		FIXTURE(test_usage_has_a_row_per_user_then_unknown_senders_since),
		FIXTURE(test_counts_follow_users_and_phones),
		FIXTURE(test_schema_version_is_current_and_ping_answers),
		FIXTURE(test_sqlite_migration_2_keeps_old_phones_in_their_old_order),
		FIXTURE(test_sqlite_ping_reads_the_file_not_a_cache),
		FIXTURE(test_open_refuses_an_unknown_scheme),
		FIXTURE(test_reopening_the_file_keeps_the_data),
		FIXTURE(test_concurrent_writers_on_one_handle_lose_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
