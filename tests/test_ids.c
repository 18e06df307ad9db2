/* Tests of ids: RFC 3339 time stamps (four-digit years, parsing what it writes), message ids
 * in time order, and ids drawn in bulk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "ids.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Times RFC 3339 can write, each parsed and written back unchanged. */
static const char *const round_trips[] = {
	"0000-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "0099-01-01T00:00:00Z",
	"0999-12-31T23:59:59Z", "1000-01-01T00:00:00Z", "1969-12-31T23:59:59Z",
	"1970-01-01T00:00:00Z", "2026-11-24T14:15:07Z", "2028-02-29T00:00:00Z",
	"9999-12-31T23:59:59Z",
};

static void test_time_format_writes_every_year_in_four_digits(void **state) {
	(void)state;
	int failures = 0;

	for (size_t i = 0; i < ARRAY_SIZE(round_trips); i++) {
		char out[IDS_TIME_SIZE];
		int64_t t = 0;

		memset(out, 'X', sizeof(out));
		if (ids_time_parse(round_trips[i], &t) != 0) {
			print_error("\"%s\" was refused\n", round_trips[i]);
			failures++;
			continue;
		}
		ids_time_format(t, out);
		if (strcmp(out, round_trips[i]) != 0) {
			print_error("\"%s\" came back as \"%s\"\n", round_trips[i], out);
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

static void test_time_format_knows_the_bounds(void **state) {
	(void)state;
	char out[IDS_TIME_SIZE];

	ids_time_format(0, out);
	assert_string_equal(out, "1970-01-01T00:00:00Z");
	ids_time_format(IDS_TIME_MIN, out);
	assert_string_equal(out, "0000-01-01T00:00:00Z");
	ids_time_format(IDS_TIME_MAX, out);
	assert_string_equal(out, "9999-12-31T23:59:59Z");
	/* Beyond them: the nearer bound, never a year of 3 or 5 digits. */
	ids_time_format(IDS_TIME_MIN - 1, out);
	assert_string_equal(out, "0000-01-01T00:00:00Z");
	ids_time_format(INT64_MAX, out);
	assert_string_equal(out, "9999-12-31T23:59:59Z");
}

/* How many of bad[0..n) ids_time_parse does not refuse with -EINVAL and *ret untouched;
 * each is printed. */
static int accepted(const char *const *bad, size_t n) {
	int failures = 0;

	for (size_t i = 0; i < n; i++) {
		int64_t t = 42;
		if (ids_time_parse(bad[i], &t) != -EINVAL || t != 42) {
			print_error("\"%s\" was accepted\n", bad[i]);
			failures++;
		}
	}
	return failures;
}

static void test_time_parse_refuses_what_its_offset_takes_out_of_range(void **state) {
	(void)state;
	static const char *const bad[] = {
		"0000-01-01T00:00:00+00:01", /* 0000-01-01 less a minute: year -1 */
		"9999-12-31T23:59:59-00:01", /* year 10000 */
		"9999-12-31T23:59:60Z",      /* a leap second into year 10000 */
	};

	assert_int_equal(accepted(bad, ARRAY_SIZE(bad)), 0);
}

static void test_time_parse_wants_a_date_and_a_time(void **state) {
	(void)state;
	static const char *const bad[] = {
		"2026-11-24", "2026-11-24T", "2026-11-24T00:00Z", "2026-11-24T00:00:00",
		"2026-11-24 ", "",
	};

	assert_int_equal(accepted(bad, ARRAY_SIZE(bad)), 0);
}

static void test_time_parse_takes_the_offset_off(void **state) {
	(void)state;
	int64_t a = 0, b = 0;

	assert_int_equal(ids_time_parse("2000-01-01T02:00:00+02:00", &a), 0);
	assert_int_equal(ids_time_parse("2000-01-01T00:00:00.5z", &b), 0);
	assert_int_equal(a, b);
	assert_int_equal(a, 946684800);
}

/* Message ids: 32 hex characters, in the order they were made (to the millisecond), never
 * the same twice. */
static void test_ordered_ids_sort_by_time_and_differ(void **state) {
	(void)state;
	char a[IDS_SIZE], b[IDS_SIZE];
	assert_int_equal(ids_ordered_hex(a), 0);
	struct timespec pause = {.tv_sec = 0, .tv_nsec = 2 * 1000 * 1000};
	nanosleep(&pause, NULL);
	assert_int_equal(ids_ordered_hex(b), 0);
	assert_int_equal(strlen(a), 32);
	assert_int_equal(strspn(a, "0123456789abcdef"), 32);
	assert_true(strcmp(a, b) < 0);
	/* The first 12 characters are now in milliseconds. */
	char head[13];
	memcpy(head, b, 12);
	head[12] = '\0';
	long long ms = strtoll(head, NULL, 16);
	assert_true(ms >= ids_now_ms() - 1000 && ms <= ids_now_ms());
	/* Made in the same millisecond: the random part differs. */
	char c[IDS_SIZE], d[IDS_SIZE];
	assert_int_equal(ids_ordered_hex(c), 0);
	assert_int_equal(ids_ordered_hex(d), 0);
	assert_string_not_equal(c, d);
}

/* More ids than one draw of randomness makes (256): each 32 lowercase hex digits, all
 * distinct and ascending, every digit place random (each hex digit seen at the first and
 * at the last place: missing one by chance in 1,000 draws is about 1e-27), and a second
 * call draws others. */
#define BULK 1000

static void test_random_sorted_draws_distinct_ids_in_order(void **state) {
	(void)state;
	static char a[BULK][IDS_SIZE], b[BULK][IDS_SIZE];
	bool first[16] = {0}, last[16] = {0};
	int failures = 0;

	assert_int_equal(ids_random_sorted(BULK, a), 0);
	assert_int_equal(ids_random_sorted(BULK, b), 0);
	for (size_t i = 0; i < BULK; i++) {
		if (strlen(a[i]) != 32 || strspn(a[i], "0123456789abcdef") != 32) {
			print_error("id %zu is \"%s\"\n", i, a[i]);
			failures++;
			continue;
		}
		if (i > 0 && strcmp(a[i - 1], a[i]) >= 0) {
			print_error("id %zu is not after id %zu\n", i, i - 1);
			failures++;
		}
		first[strchr("0123456789abcdef", a[i][0]) - "0123456789abcdef"] = true;
		last[strchr("0123456789abcdef", a[i][31]) - "0123456789abcdef"] = true;
	}
	for (int d = 0; d < 16; d++) {
		failures += !first[d] + !last[d];
	}
	assert_int_equal(failures, 0);
	assert_string_not_equal(a[0], b[0]);
	assert_string_not_equal(a[BULK - 1], b[BULK - 1]);
	assert_int_equal(ids_random_sorted(0, a), 0);
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_format_writes_every_year_in_four_digits),
		cmocka_unit_test(test_time_format_knows_the_bounds),
		cmocka_unit_test(test_time_parse_refuses_what_its_offset_takes_out_of_range),
		cmocka_unit_test(test_time_parse_wants_a_date_and_a_time),
		cmocka_unit_test(test_time_parse_takes_the_offset_off),
		cmocka_unit_test(test_ordered_ids_sort_by_time_and_differ),
		cmocka_unit_test(test_random_sorted_draws_distinct_ids_in_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
