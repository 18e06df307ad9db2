/* sms: price parsing and cost formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "sms/sms.h"

struct good_price {
	const char *text;
	int64_t units;
	int scale;
};

static void test_price_parse_accepts_plain_decimals(void **state) {
	(void)state;
	static const struct good_price cases[] = {
		{"0.0083", 83, 4},
		{"1", 1, 0},
		{"0.5", 5, 1},
		{"0", 0, 0},
		{"0.0000", 0, 4},
		{"1.50", 150, 2},
		{"12.000000001", 12000000001, 9}, /* 9 decimals: the most */
		{"0.000000001", 1, 9},
		{"007.5", 75, 1},
		{"999999999999", 999999999999, 0},              /* 12 integer digits */
		{"999999999999.999999", 999999999999999999, 6}, /* 12 + 6 always fit */
		{"9223372036.854775807", INT64_MAX, 9},         /* the largest value */
	};
	int failures = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sms_price p = {-1, -1};
		int r = sms_price_parse(cases[i].text, &p);

		if (r != 0 || p.units != cases[i].units || p.scale != cases[i].scale) {
			print_error("\"%s\": r=%d units=%lld scale=%d\n", cases[i].text, r,
					(long long)p.units, p.scale);
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

static void test_price_parse_rejects_anything_else_and_leaves_ret_untouched(void **state) {
	(void)state;
	static const char *const cases[] = {
		"",
		"-1",
		"+1",
		"1e3",
		"1E3",
		"abc",
		"1.",                   /* no decimals after the point */
		".5",                   /* no integer digit */
		".",
		"0.0000000001",         /* 10 decimals */
		"12.0000000010",        /* 10 decimals, even with a trailing zero */
		"1234567890123",        /* 13 integer digits */
		"0000000000000",        /* 13 integer digits, even zeros */
		"9223372036.854775808", /* one unit past INT64_MAX */
		"999999999999.9999999", /* 12 + 7 digits: past INT64_MAX */
		" 1",
		"1 ",
		"1,5",
		"1..2",
		"1.2.3",
		"0x10",
		"1\n",
		"\xef\xbc\x91", /* fullwidth 1 */
		"inf",
		"nan",
	};
	int failures = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sms_price p = {-7, -7};
		int r = sms_price_parse(cases[i], &p);

		if (r != -EINVAL || p.units != -7 || p.scale != -7) {
			print_error("\"%s\": r=%d units=%lld scale=%d, want -EINVAL, untouched\n",
					cases[i], r, (long long)p.units, p.scale);
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

static void test_price_parse_rejects_null(void **state) {
	(void)state;
	struct sms_price p;

	assert_int_equal(sms_price_parse(NULL, &p), -EINVAL);
	assert_int_equal(sms_price_parse("1", NULL), -EINVAL);
}

struct cost_case {
	int64_t units;
	int scale;
	int64_t segments;
	const char *want;
};

static void test_cost_format_multiplies_exactly_with_the_price_decimals(void **state) {
	(void)state;
	static const struct cost_case cases[] = {
		{83, 4, 2, "0.0166"},
		{83, 4, 0, "0.0000"},
		{83, 4, 1, "0.0083"},
		{83, 4, 1000000, "8300.0000"},
		{1, 0, 3, "3"},
		{0, 0, 5, "0"},
		{5, 1, 3, "1.5"},
		{150, 2, 7, "10.50"},
		{1, 9, 1, "0.000000001"},
		{12000000001, 9, 3, "36.000000003"},
		{INT64_MAX, 0, 1, "9223372036854775807"},
		{INT64_MAX, 9, 1, "9223372036.854775807"},
		{1, 0, INT64_MAX, "9223372036854775807"},
		{83, 4, INT64_MAX / 83, "922337203685477.5790"},
		/* Past INT64_MAX, where it used to say "overflow": still exact. */
		{83, 4, INT64_MAX / 83 + 1, "922337203685477.5873"},
		{83, 4, INT64_MAX, "76553987905894639.1981"},
		{INT64_MAX, 9, 2, "18446744073.709551614"},
		{999999999999999999, 9, 300, "299999999999.999999700"}, /* 999999999.999999999 */
		{999999999999999999, 9, INT64_MAX, "9223372036854775797776627963.145224193"},
		{999999999999, 0, INT64_MAX, "9223372036845552434963145224193"},
		{1, 9, INT64_MAX, "9223372036.854775807"},
		/* The largest price by the largest count: 38 digits. */
		{INT64_MAX, 9, INT64_MAX, "85070591730234615847396907784.232501249"},
		{INT64_MAX, 0, INT64_MAX, "85070591730234615847396907784232501249"},
	};
	int failures = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sms_price p = {cases[i].units, cases[i].scale};
		char out[SMS_COST_SIZE];

		memset(out, 'X', sizeof(out));
		sms_cost_format(&p, cases[i].segments, out, sizeof(out));
		if (strcmp(out, cases[i].want) != 0) {
			print_error("case %zu: %lld x %lld/10^%d: got \"%s\", want \"%s\"\n", i,
					(long long)cases[i].segments, (long long)cases[i].units,
					cases[i].scale, out, cases[i].want);
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

static void test_cost_format_fits_the_largest_cost_in_sms_cost_size(void **state) {
	(void)state;
	struct sms_price big = {INT64_MAX, 9};
	char out[SMS_COST_SIZE];

	sms_cost_format(&big, INT64_MAX, out, sizeof(out));
	assert_int_equal(strlen(out), SMS_COST_SIZE - 1);
	sms_cost_format(&big, INT64_MAX, out, SMS_COST_SIZE - 1);
	assert_string_equal(out, ""); /* one byte short: nothing rather than a cut number */
}

static void test_usage_cost_adds_segments_mms_and_whatsapp_exactly(void **state) {
	(void)state;
	struct sms_prices p = {{83, 4}, {200, 4}, {50, 4}};
	char out[SMS_USAGE_COST_SIZE];
	sms_usage_cost_format(&p, 2, 1, 3, out, sizeof(out));
	assert_string_equal(out, "0.0516"); /* 0.0166 + 0.0200 + 0.0150 */
	sms_usage_cost_format(&p, 0, 0, 0, out, sizeof(out));
	assert_string_equal(out, "0.0000");
	/* The most decimals of the three: 0.0083 + 0.02 + 1. */
	struct sms_prices mixed = {{83, 4}, {2, 2}, {1, 0}};
	sms_usage_cost_format(&mixed, 1, 1, 1, out, sizeof(out));
	assert_string_equal(out, "1.0283");
	/* The largest sum fits. */
	struct sms_prices big = {{INT64_MAX, 9}, {INT64_MAX, 0}, {INT64_MAX, 9}};
	sms_usage_cost_format(&big, INT64_MAX, INT64_MAX, INT64_MAX, out, sizeof(out));
	assert_true(strlen(out) > 40 && strlen(out) < SMS_USAGE_COST_SIZE);
	sms_usage_cost_format(&p, -1, 0, 0, out, sizeof(out));
	assert_string_equal(out, "invalid");
}

static void test_cost_format_says_invalid_for_bad_arguments(void **state) {
	(void)state;
	struct sms_price negative = {-1, 0};
	struct sms_price scale_10 = {1, 10};
	struct sms_price scale_neg = {1, -1};
	struct sms_price p = {83, 4};
	char out[32];

	sms_cost_format(NULL, 1, out, sizeof(out));
	assert_string_equal(out, "invalid");
	sms_cost_format(&negative, 1, out, sizeof(out));
	assert_string_equal(out, "invalid");
	sms_cost_format(&scale_10, 1, out, sizeof(out));
	assert_string_equal(out, "invalid");
	sms_cost_format(&scale_neg, 1, out, sizeof(out));
	assert_string_equal(out, "invalid");
	sms_cost_format(&p, -1, out, sizeof(out));
	assert_string_equal(out, "invalid");
	sms_cost_format(&p, INT64_MIN, out, sizeof(out));
	assert_string_equal(out, "invalid");
}

static void test_cost_format_writes_nothing_partial_into_a_small_buffer(void **state) {
	(void)state;
	struct sms_price p = {83, 4};
	char out[8];

	memcpy(out, "ZZZZZZZ", 8);
	sms_cost_format(&p, 2, out, 6); /* "0.0166" needs 7 bytes */
	assert_string_equal(out, "");
	memcpy(out, "ZZZZZZZ", 8);
	sms_cost_format(&p, 2, out, 7);
	assert_string_equal(out, "0.0166");
	memcpy(out, "ZZZZZZZ", 8);
	sms_cost_format(&p, 2, out, 0);
	assert_memory_equal(out, "ZZZZZZZ", 8);
	sms_cost_format(&p, 2, NULL, 32); /* no crash */
}

static void test_price_round_trips_through_one_segment(void **state) {
	(void)state;
	static const char *const prices[] = {
		"0.0083", "1", "0.5", "12.000000001", "1.50", "0.0000", "999999999999.999999",
	};
	int failures = 0;

	for (size_t i = 0; i < sizeof(prices) / sizeof(prices[0]); i++) {
		struct sms_price p;
		char out[32];

		assert_int_equal(sms_price_parse(prices[i], &p), 0);
		sms_cost_format(&p, 1, out, sizeof(out));
		if (strcmp(out, prices[i]) != 0) {
			print_error("\"%s\" came back as \"%s\"\n", prices[i], out);
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_price_parse_accepts_plain_decimals),
		cmocka_unit_test(test_price_parse_rejects_anything_else_and_leaves_ret_untouched),
		cmocka_unit_test(test_price_parse_rejects_null),
		cmocka_unit_test(test_cost_format_multiplies_exactly_with_the_price_decimals),
		cmocka_unit_test(test_cost_format_fits_the_largest_cost_in_sms_cost_size),
		cmocka_unit_test(test_cost_format_says_invalid_for_bad_arguments),
		cmocka_unit_test(test_usage_cost_adds_segments_mms_and_whatsapp_exactly),
		cmocka_unit_test(test_cost_format_writes_nothing_partial_into_a_small_buffer),
		cmocka_unit_test(test_price_round_trips_through_one_segment),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
