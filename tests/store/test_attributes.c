/* A user's attributes on every backend: the patch (time zone, locale, tags; only the fields
 * given change), the tag rules, and the paginated, searchable user list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_fixture.h"

static const char *const three_tags[] = {"vip", "beta tester", "café"};

static void set_tags(struct store *s, const char *id, const char *const *tags, size_t n) {
	struct store_user_patch p = {.set_tags = true, .tags = tags, .ntags = n};
	assert_int_equal(store_user_set(s, id, &p, NULL), 0);
}

static void test_user_set_then_get_gives_the_attributes_everywhere(void **state) {
	struct fixture *f = *state;
	struct store_user a, set, got[3];
	bool known = false, opted_out = true;
	struct store_user_patch p = {.set_timezone = true, .timezone = "Europe/Paris",
		.set_locale = true, .locale = "fr-FR", .set_tags = true, .tags = three_tags,
		.ntags = 3};

	add_user1(f->s, "Ada", "+15550100101", &a);
	assert_string_equal(a.timezone, "");
	assert_string_equal(a.locale, "");
	assert_int_equal(a.ntags, 0);
	assert_int_equal(store_user_set(f->s, a.id, &p, &set), 0);
	assert_int_equal(store_user_get(f->s, a.id, &got[0]), 0);
	assert_int_equal(store_user_by_phone(f->s, "+15550100101", &got[1]), 0);
	assert_int_equal(store_route_lookup(f->s, "+15550100101", &got[2], &known, &opted_out), 0);
	assert_true(known);
	for (int k = 0; k < 3; k++) {
		const struct store_user *u = k == 0 ? &set : &got[k];
		assert_string_equal(u->name, "Ada");
		assert_string_equal(u->timezone, "Europe/Paris");
		assert_string_equal(u->locale, "fr-FR");
		assert_int_equal(u->ntags, 3);
		for (int i = 0; i < 3; i++) {
			assert_string_equal(u->tags[i], three_tags[i]); /* in the order given */
		}
	}
	assert_string_equal(got[0].tags[2], "café");
}

static void test_a_patch_changes_only_the_fields_it_gives(void **state) {
	struct fixture *f = *state;
	struct store_user a, got;
	const char *const one[] = {"solo"};
	struct store_user_patch all = {.set_timezone = true, .timezone = "America/New_York",
		.set_locale = true, .locale = "en-US", .set_tags = true, .tags = three_tags,
		.ntags = 3};
	struct store_user_patch name = {.name = "Ada L."};
	struct store_user_patch clear_tz = {.set_timezone = true, .timezone = NULL};
	struct store_user_patch tags = {.set_tags = true, .tags = one, .ntags = 1};

	add_user1(f->s, "Ada", "+15550100101", &a);
	assert_int_equal(store_user_set(f->s, a.id, &all, NULL), 0);
	assert_int_equal(store_user_set(f->s, a.id, &name, &got), 0);
	assert_string_equal(got.name, "Ada L.");
	assert_string_equal(got.timezone, "America/New_York");
	assert_string_equal(got.locale, "en-US");
	assert_int_equal(got.ntags, 3);
	assert_int_equal(got.nphones, 1);

	assert_int_equal(store_user_set(f->s, a.id, &clear_tz, &got), 0);
	assert_string_equal(got.timezone, "");
	assert_string_equal(got.locale, "en-US");
	assert_string_equal(got.name, "Ada L.");

	assert_int_equal(store_user_set(f->s, a.id, &tags, &got), 0);
	assert_int_equal(got.ntags, 1);
	assert_string_equal(got.tags[0], "solo");
	assert_string_equal(got.locale, "en-US");
}

/* Each bad patch: -EINVAL naming its field, and nothing of it (nor of the good fields
 * beside it) is written. */
static void test_a_bad_patch_is_refused_whole_naming_its_field(void **state) {
	struct fixture *f = *state;
	struct store_user a, got;
	const char *many[STORE_MAX_TAGS + 1];
	const char *const newline[] = {"ok", "two\nlines"};
	const char *const twice[] = {"a", "b", "a"};
	const char *const empty[] = {""};
	char long_tag[STORE_TAG_SIZE + 1];
	const char *const too_long[] = {long_tag};
	const char *const bad_utf8[] = {"\xc3\x28"};
	char names[STORE_MAX_TAGS + 1][8];
	const struct {
		const char *field;
		struct store_user_patch p;
	} *c, cases[] = {
		{"tags", {.set_tags = true, .tags = many, .ntags = STORE_MAX_TAGS + 1}},
		{"tags", {.set_tags = true, .tags = newline, .ntags = 2}},
		{"tags", {.set_tags = true, .tags = twice, .ntags = 3}},
		{"tags", {.set_tags = true, .tags = empty, .ntags = 1}},
		{"tags", {.set_tags = true, .tags = too_long, .ntags = 1}},
		{"tags", {.set_tags = true, .tags = bad_utf8, .ntags = 1}},
		{"timezone", {.set_timezone = true, .timezone = "Mars/Olympus_Mons"}},
		{"timezone", {.set_timezone = true, .timezone = ""}},
		{"locale", {.set_locale = true, .locale = "not a locale!"}},
		{"name", {.name = " "}},
	};

	memset(long_tag, 'x', STORE_TAG_SIZE);
	long_tag[STORE_TAG_SIZE] = '\0';
	for (int i = 0; i <= STORE_MAX_TAGS; i++) {
		snprintf(names[i], sizeof(names[i]), "t%d", i);
		many[i] = names[i];
	}
	add_user1(f->s, "Ada", "+15550100101", &a);
	set_tags(f->s, a.id, three_tags, 3);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		c = &cases[i];
		struct store_user_patch p = c->p;
		const char *field = NULL, *why = NULL;
		p.name = p.name ? p.name : "Changed"; /* a good field beside the bad one */
		if (c->field[0] == 'n') {
			p.set_locale = true;
			p.locale = "de-DE";
		}
		if (store_user_set(f->s, a.id, &p, NULL) != -EINVAL) {
			fail_msg("case %zu (%s) was not refused", i, c->field);
		}
		assert_int_equal(store_user_patch_check(&p, &field, &why), -EINVAL);
		assert_string_equal(field, c->field);
		assert_non_null(why);
		assert_int_equal(store_user_get(f->s, a.id, &got), 0);
		assert_string_equal(got.name, "Ada");
		assert_string_equal(got.locale, "");
		assert_int_equal(got.ntags, 3);
	}
	/* Exactly 20, and 64 bytes, are fine. */
	long_tag[STORE_TAG_SIZE - 1] = '\0';
	set_tags(f->s, a.id, many, STORE_MAX_TAGS);
	set_tags(f->s, a.id, too_long, 1);
}

static void test_user_set_of_an_unknown_user_is_enoent(void **state) {
	struct fixture *f = *state;
	struct store_user_patch p = {.set_tags = true, .tags = three_tags, .ntags = 3};
	assert_int_equal(store_user_set(f->s, "0123456789abcdef0123456789abcdef", &p, NULL),
			-ENOENT);
}

static void test_deleting_a_user_deletes_its_tags(void **state) {
	struct fixture *f = *state;
	struct store_user a, b;
	struct seen_users seen = {0};
	char next[STORE_CURSOR_SIZE];
	struct store_user_page page = {.limit = 10, .tag = "vip"};

	add_user1(f->s, "A", "+15550100101", &a);
	add_user1(f->s, "B", "+15550100102", &b);
	set_tags(f->s, a.id, three_tags, 3);
	set_tags(f->s, b.id, three_tags, 1);
	assert_int_equal(store_user_delete(f->s, a.id), 0);
	assert_int_equal(store_user_page(f->s, &page, collect_user, &seen, next), 0);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.id[0], b.id);
	/* A new user with the old one's tag list starts from nothing left over. */
	add_user1(f->s, "A2", "+15550100101", &a);
	assert_int_equal(a.ntags, 0);
}

#define USERS 7

/* Walks the list in pages of size, asserting it gives want (ids) in order, each once. */
static void assert_pages(struct store *s, struct store_user_page page, char want[][STORE_ID_SIZE],
		size_t nwant) {
	struct seen_users all = {0};
	char next[STORE_CURSOR_SIZE];
	int pages = 0;

	do {
		struct seen_users seen = {0};
		assert_int_equal(store_user_page(s, &page, collect_user, &seen, next), 0);
		assert_true(seen.n <= (size_t)page.limit);
		assert_true(next[0] == '\0' || seen.n == (size_t)page.limit);
		for (size_t i = 0; i < seen.n; i++) {
			assert_true(all.n < nwant);
			assert_string_equal(seen.id[i], want[all.n]);
			memcpy(all.id[all.n++], seen.id[i], STORE_ID_SIZE);
		}
		page.after = next;
		pages++;
		assert_true(pages <= USERS + 1);
	} while (next[0]);
	assert_int_equal(all.n, nwant);
}

static void test_pages_give_each_user_once_oldest_first(void **state) {
	struct fixture *f = *state;
	struct store_user u[USERS];
	struct seen_users order = {0};
	char want[USERS][STORE_ID_SIZE];

	for (int i = 0; i < USERS; i++) {
		char name[16], phone[16];
		snprintf(name, sizeof(name), "User %d", i);
		snprintf(phone, sizeof(phone), "+1555010010%d", i);
		add_user1(f->s, name, phone, &u[i]);
	}
	/* The whole list's order (created_at, then id) is the pages' order. */
	assert_int_equal(store_user_list(f->s, collect_user, &order), 0);
	memcpy(want, order.id, sizeof(want));
	for (int limit = 1; limit <= USERS + 1; limit += 2) {
		assert_pages(f->s, (struct store_user_page){.limit = limit}, want, USERS);
	}
	assert_pages(f->s, (struct store_user_page){.limit = USERS}, want, USERS);
}

static void test_page_refuses_a_bad_limit_and_a_cursor_it_did_not_make(void **state) {
	struct fixture *f = *state;
	struct seen_users seen = {0};
	char next[STORE_CURSOR_SIZE] = "unchanged";
	static const char *const cursors[] = {"", "x", "u1.", "u1.12", "u1.12.", "u1.12.XYZ",
		"u1.-1.ab", "u1.1.ab;DROP", "u2.1.ab", "u1.1234567890123456789.ab"};
	struct store_user_page page = {.limit = 0};

	assert_int_equal(store_user_page(f->s, &page, collect_user, &seen, next), -EINVAL);
	page.limit = STORE_PAGE_MAX + 1;
	assert_int_equal(store_user_page(f->s, &page, collect_user, &seen, next), -EINVAL);
	page.limit = STORE_PAGE_MAX;
	for (size_t i = 0; i < ARRAY_SIZE(cursors); i++) {
		page.after = cursors[i];
		if (store_user_page(f->s, &page, collect_user, &seen, next) != -EINVAL) {
			fail_msg("cursor \"%s\" was taken", cursors[i]);
		}
	}
	assert_string_equal(next, "unchanged");
	assert_int_equal(seen.n, 0);
}

/* want: ids (n of them) in the list's order, oldest first (created_at, then id: users made
 * in one second are ordered by their random ids). */
static void in_list_order(struct store *s, const struct store_user *const *ids, size_t n,
		char want[][STORE_ID_SIZE]) {
	struct seen_users all = {0};
	size_t k = 0;

	assert_int_equal(store_user_list(s, collect_user, &all), 0);
	for (size_t i = 0; i < all.n; i++) {
		for (size_t j = 0; j < n; j++) {
			if (strcmp(all.id[i], ids[j]->id) == 0) {
				memcpy(want[k++], all.id[i], STORE_ID_SIZE);
			}
		}
	}
	assert_int_equal(k, n);
}

static void test_page_filters_by_name_phone_prefix_and_tag(void **state) {
	struct fixture *f = *state;
	struct store_user ada, bob, adam, zoe;
	const char *const ada_phones[] = {"+15550100101", "+442071838750"};
	const char *const vip[] = {"vip"};
	const char *const vip_too[] = {"beta", "vip"};
	char want[4][STORE_ID_SIZE];

	add_user(f->s, "Ada Lovelace", ada_phones, 2, &ada);
	add_user1(f->s, "Bob", "+15550100102", &bob);
	add_user1(f->s, "ADAM", "+33612345678", &adam);
	add_user1(f->s, "Zoë", "+15550200103", &zoe);
	set_tags(f->s, ada.id, vip, 1);
	set_tags(f->s, zoe.id, vip_too, 2);

	/* A name's substring, case folded. */
	in_list_order(f->s, (const struct store_user *[]){&ada, &adam}, 2, want);
	assert_pages(f->s, (struct store_user_page){.limit = 1, .q = "aDa"}, want, 2);
	in_list_order(f->s, (const struct store_user *[]){&zoe}, 1, want);
	assert_pages(f->s, (struct store_user_page){.limit = 5, .q = "oë"}, want, 1);
	/* A phone's prefix, any of the user's phones; not a substring. */
	in_list_order(f->s, (const struct store_user *[]){&ada, &bob}, 2, want);
	assert_pages(f->s, (struct store_user_page){.limit = 1, .q = "+1555010"}, want, 2);
	in_list_order(f->s, (const struct store_user *[]){&ada}, 1, want);
	assert_pages(f->s, (struct store_user_page){.limit = 3, .q = "+44"}, want, 1);
	assert_pages(f->s, (struct store_user_page){.limit = 3, .q = "+0100"}, want, 0);
	/* One tag, exactly; with q too. */
	in_list_order(f->s, (const struct store_user *[]){&ada, &zoe}, 2, want);
	assert_pages(f->s, (struct store_user_page){.limit = 1, .tag = "vip"}, want, 2);
	assert_pages(f->s, (struct store_user_page){.limit = 2, .tag = "VIP"}, want, 0);
	assert_pages(f->s, (struct store_user_page){.limit = 2, .tag = "vi"}, want, 0);
	in_list_order(f->s, (const struct store_user *[]){&zoe}, 1, want);
	assert_pages(f->s, (struct store_user_page){.limit = 2, .tag = "vip", .q = "+155502"},
			want, 1);
	assert_pages(f->s, (struct store_user_page){.limit = 2, .tag = "beta"}, want, 1);
}

/* agent and mode (issue 15): set, read back by every lookup, cleared; bad values refused
 * naming their field, with nothing changed. */
static void test_agent_and_mode_are_set_read_and_cleared(void **state) {
	struct fixture *f = *state;
	struct store_user a, set, got[3];
	bool known = false, opted_out = true;
	const char *field = NULL, *why = NULL;
	struct store_user_patch p = {.set_agent = true, .agent = "beta-2", .mode = "paused"};

	add_user1(f->s, "Ada", "+15550100101", &a);
	assert_string_equal(a.agent, "");
	assert_string_equal(a.mode, "agent");
	assert_int_equal(store_user_set(f->s, a.id, &p, &set), 0);
	assert_int_equal(store_user_get(f->s, a.id, &got[0]), 0);
	assert_int_equal(store_user_by_phone(f->s, "+15550100101", &got[1]), 0);
	assert_int_equal(store_route_lookup(f->s, "+15550100101", &got[2], &known, &opted_out), 0);
	assert_string_equal(set.agent, "beta-2");
	assert_string_equal(set.mode, "paused");
	for (int k = 0; k < 3; k++) {
		assert_string_equal(got[k].agent, "beta-2");
		assert_string_equal(got[k].mode, "paused");
	}
	/* A patch of something else keeps them. */
	struct store_user_patch name = {.name = "Ada L."};
	assert_int_equal(store_user_set(f->s, a.id, &name, &set), 0);
	assert_string_equal(set.agent, "beta-2");
	assert_string_equal(set.mode, "paused");
	/* Bad values: refused, naming the field, nothing changed. */
	struct store_user_patch bad_agent = {.set_agent = true, .agent = "Beta"};
	assert_int_equal(store_user_patch_check(&bad_agent, &field, &why), -EINVAL);
	assert_string_equal(field, "agent");
	assert_int_equal(store_user_set(f->s, a.id, &bad_agent, NULL), -EINVAL);
	struct store_user_patch bad_mode = {.mode = "asleep", .name = "Zed"};
	assert_int_equal(store_user_patch_check(&bad_mode, &field, &why), -EINVAL);
	assert_string_equal(field, "mode");
	assert_int_equal(store_user_set(f->s, a.id, &bad_mode, NULL), -EINVAL);
	assert_int_equal(store_user_get(f->s, a.id, &got[0]), 0);
	assert_string_equal(got[0].name, "Ada L.");
	assert_string_equal(got[0].mode, "paused");
	/* Cleared, and back to agent. */
	struct store_user_patch clear = {.set_agent = true, .agent = NULL, .mode = "agent"};
	assert_int_equal(store_user_set(f->s, a.id, &clear, &set), 0);
	assert_string_equal(set.agent, "");
	assert_string_equal(set.mode, "agent");
	assert_int_equal(store_user_mode_set(f->s, "nosuchuser", "human"), -ENOENT);
	assert_int_equal(store_user_mode_set(f->s, a.id, "asleep"), -EINVAL);
}

const struct CMUnitTest store_attributes_tests[] = {
	FIXTURE(test_agent_and_mode_are_set_read_and_cleared),
	FIXTURE(test_user_set_then_get_gives_the_attributes_everywhere),
	FIXTURE(test_a_patch_changes_only_the_fields_it_gives),
	FIXTURE(test_a_bad_patch_is_refused_whole_naming_its_field),
	FIXTURE(test_user_set_of_an_unknown_user_is_enoent),
	FIXTURE(test_deleting_a_user_deletes_its_tags),
	FIXTURE(test_pages_give_each_user_once_oldest_first),
	FIXTURE(test_page_refuses_a_bad_limit_and_a_cursor_it_did_not_make),
	FIXTURE(test_page_filters_by_name_phone_prefix_and_tag),
};
const size_t store_attributes_tests_count =
	sizeof(store_attributes_tests) / sizeof(store_attributes_tests[0]);
