/* Users and phones on every backend: adding, lookups (routing's too), the name rule,
 * the ten-phone cap, removing, the order of phones, and import. */
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

#include "store_fixture.h"

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
	/* One it has already is still fine; another user's is that user's, full or not. */
	assert_int_equal(store_phone_add(f->s, a.id, "+15550100105"), 0);
	struct store_user b;
	add_user1(f->s, "B", "+15550100200", &b);
	assert_int_equal(store_phone_add(f->s, a.id, "+15550100200"), -EEXIST);
	assert_int_equal(store_user_get(f->s, a.id, &got), 0);
	assert_int_equal(got.nphones, STORE_MAX_PHONES);
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

/* The users of one import share their creation time, so the list (oldest first, then by
 * id) gives them in the order of their first phones, whatever the file's order. */
static void test_import_lists_its_users_in_the_order_of_their_first_phones(void **state) {
	struct fixture *f = *state;
	const char *p0[] = {"+15550100303", "+15550100101"};
	const char *p1[] = {"+15550100202"};
	const char *p2[] = {"+15550100102"};
	const struct store_import_row rows[] = {{"Cy", p0, 2}, {"Bob", p1, 1}, {"Ada", p2, 1}};
	const char *want[] = {"+15550100102", "+15550100202", "+15550100303"};
	struct seen_users seen = {0};
	struct store_user u;
	size_t bad = 999;

	assert_int_equal(store_import(f->s, rows, 3, &bad), 0);
	assert_int_equal(store_user_list(f->s, collect_user, &seen), 0);
	assert_int_equal(seen.n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(store_user_get(f->s, seen.id[i], &u), 0);
		assert_string_equal(u.phones[0], want[i]);
	}
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

/* More users than PostgreSQL's import writes in one statement (import.c's CHUNK, 10,000):
 * a phone taken before, on a line of a later chunk, keeps every chunk out and names that
 * line; without it, every line is there with its own name and phones, quotes and
 * backslashes included. */
#define MANY 25000

static void test_import_of_many_is_whole_or_names_the_line_of_a_taken_phone(void **state) {
	struct fixture *f = *state;
	static char phone[MANY][16], name[MANY][32];
	static const char *phones[MANY][1];
	static struct store_import_row rows[MANY];
	struct store_user a, u;
	size_t bad = 0;

	for (size_t i = 0; i < MANY; i++) {
		snprintf(phone[i], sizeof(phone[i]), "+1555%07zu", i * 7919 % 10000000);
		snprintf(name[i], sizeof(name[i]), "U\"%zu\\,{x}", i);
		phones[i][0] = phone[i];
		rows[i] = (struct store_import_row){name[i], phones[i], 1};
	}
	add_user1(f->s, "Ada", phone[MANY - 7], &a);
	assert_int_equal(store_import(f->s, rows, MANY, &bad), -EEXIST);
	assert_int_equal(bad, MANY - 7);
	assert_counts(f->s, 1, 1);

	phones[MANY - 7][0] = "+15550100101";
	assert_int_equal(store_import(f->s, rows, MANY, &bad), 0);
	assert_counts(f->s, MANY + 1, MANY + 1);
	for (size_t i = 0; i < MANY; i += 4999) {
		assert_int_equal(store_user_by_phone(f->s, phone[i], &u), 0);
		assert_string_equal(u.name, name[i]);
		assert_int_equal(u.nphones, 1);
	}
	assert_int_equal(store_user_by_phone(f->s, "+15550100101", &u), 0);
	assert_string_equal(u.name, name[MANY - 7]);
}

/* A line's second phone is held to the same rules as its first, among more users than one
 * statement writes: repeated by the last line of the file, or held by a user already, it
 * keeps every line out and names its line. (PostgreSQL's statement names each phone's user
 * by its place among the statement's users.) */
static void test_import_of_many_names_the_line_of_a_second_phone(void **state) {
	struct fixture *f = *state;
	static char phone[MANY][2][16], name[MANY][16];
	static const char *phones[MANY][2];
	static struct store_import_row rows[MANY];
	struct store_user a, u;
	size_t bad = 0;

	for (size_t i = 0; i < MANY; i++) {
		snprintf(phone[i][0], sizeof(phone[i][0]), "+1555%07zu", i * 7919 % 10000000);
		snprintf(phone[i][1], sizeof(phone[i][1]), "+1556%07zu", i * 7919 % 10000000);
		snprintf(name[i], sizeof(name[i]), "U%zu", i);
		phones[i][0] = phone[i][0];
		phones[i][1] = phone[i][1];
		rows[i] = (struct store_import_row){name[i], phones[i], 2};
	}
	phones[MANY - 1][1] = phone[3][0];
	assert_int_equal(store_import(f->s, rows, MANY, &bad), -EEXIST);
	assert_int_equal(bad, MANY - 1);
	assert_counts(f->s, 0, 0);

	phones[MANY - 1][1] = phone[MANY - 1][1];
	add_user1(f->s, "Ada", phone[MANY / 2][1], &a);
	assert_int_equal(store_import(f->s, rows, MANY, &bad), -EEXIST);
	assert_int_equal(bad, MANY / 2);
	assert_counts(f->s, 1, 1);
	assert_int_equal(store_user_by_phone(f->s, phone[MANY / 2][0], &u), -ENOENT);
}

static void test_route_lookup_gives_the_user_and_the_numbers_opt_out(void **state) {
	struct fixture *f = *state;
	const char *phones[] = {"+15550100101", "+15550100102"};
	struct store_user a, got;
	bool known = false, out = true;

	add_user(f->s, "Ada", phones, 2, &a);
	assert_int_equal(store_route_lookup(f->s, "+15550100102", &got, &known, &out), 0);
	assert_true(known);
	assert_false(out);
	assert_string_equal(got.id, a.id);
	assert_string_equal(got.name, "Ada");
	assert_int_equal(got.created_at, a.created_at);
	assert_false(got.opted_out);

	assert_int_equal(store_optout_set(f->s, "+15550100102", true), 0);
	assert_int_equal(store_route_lookup(f->s, "+15550100102", &got, &known, &out), 0);
	assert_true(known);
	assert_true(out);
	assert_true(got.opted_out);
	assert_int_equal(store_route_lookup(f->s, "+15550100101", &got, &known, &out), 0);
	assert_true(known);
	assert_false(out); /* opt-outs are per number */

	assert_int_equal(store_optout_set(f->s, "+15550100999", true), 0);
	assert_int_equal(store_route_lookup(f->s, "+15550100999", &got, &known, &out), 0);
	assert_false(known);
	assert_true(out);
	assert_int_equal(store_route_lookup(f->s, "+15550100998", &got, &known, &out), 0);
	assert_false(known);
	assert_false(out);
}

static void test_user_name_keeps_utf8_and_quotes(void **state) {
	struct fixture *f = *state;
	struct store_user a, got;

	add_user1(f->s, "Zoë O'Brien \"Z\" 😀", "+15550100101", &a);
	assert_int_equal(store_user_get(f->s, a.id, &got), 0);
	assert_string_equal(got.name, "Zoë O'Brien \"Z\" 😀");
}

const struct CMUnitTest store_users_tests[] = {
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
	FIXTURE(test_import_lists_its_users_in_the_order_of_their_first_phones),
	FIXTURE(test_import_is_all_or_nothing_on_a_repeated_phone),
	FIXTURE(test_import_refuses_a_phone_owned_before_and_keeps_nothing),
	FIXTURE(test_import_of_many_is_whole_or_names_the_line_of_a_taken_phone),
	FIXTURE(test_import_of_many_names_the_line_of_a_second_phone),
	FIXTURE(test_route_lookup_gives_the_user_and_the_numbers_opt_out),
	FIXTURE(test_user_name_keeps_utf8_and_quotes),
};
const size_t store_users_tests_count = sizeof(store_users_tests) / sizeof(store_users_tests[0]);
