/* sms: encoding, segment counts, cutting to fit and smart encoding.
 * Needs TESTDATA_DIR, the folder holding segments.json (tests/data). */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sms/sms.h"

#define EURO "\xe2\x82\xac"     /* € U+20AC, extension table, 3 bytes */
#define NI "\xe4\xbd\xa0"       /* 你 U+4F60, UCS-2, 3 bytes */
#define GRIN "\xf0\x9f\x98\x80" /* 😀 U+1F600, surrogate pair, 4 bytes */
#define E_ACUTE "\xc3\xa9"      /* é, basic table, 2 bytes */

/* Loads $TESTDATA_DIR/segments.json; fails the test if it cannot. */
static json_t *load_cases(void) {
	const char *dir = getenv("TESTDATA_DIR");
	char path[4096];
	json_error_t err;
	json_t *root;

	if (dir == NULL || dir[0] == '\0') {
		fail_msg("TESTDATA_DIR is not set: run with TESTDATA_DIR=tests/data");
	}
	if (snprintf(path, sizeof(path), "%s/segments.json", dir) >= (int)sizeof(path)) {
		fail_msg("TESTDATA_DIR is too long");
	}
	root = json_load_file(path, 0, &err);
	if (root == NULL) {
		fail_msg("cannot read %s: %s (line %d)", path, err.text, err.line);
	}
	if (!json_is_array(json_object_get(root, "cases")) ||
			json_array_size(json_object_get(root, "cases")) == 0) {
		json_decref(root);
		fail_msg("%s has no \"cases\" array", path);
	}
	return root;
}

#define END ((const char *)NULL)

/* A text made of (unit, int count) pairs up to END: build(&len, "a", 3, "b", 1, END) is
 * "aaab". malloc'd, NUL-terminated; *ret_len without the NUL. */
static char *build(size_t *ret_len, ...) {
	va_list ap;
	size_t len = 0;
	const char *unit;
	char *s;
	char *p;

	va_start(ap, ret_len);
	while ((unit = va_arg(ap, const char *)) != NULL) {
		len += strlen(unit) * (size_t)va_arg(ap, int);
	}
	va_end(ap);
	s = malloc(len + 1);
	assert_non_null(s);
	p = s;
	va_start(ap, ret_len);
	while ((unit = va_arg(ap, const char *)) != NULL) {
		int count = va_arg(ap, int);

		for (int i = 0; i < count; i++) {
			memcpy(p, unit, strlen(unit));
			p += strlen(unit);
		}
	}
	va_end(ap);
	*p = '\0';
	*ret_len = len;
	return s;
}

/* A copy of text[0..len) in a heap block of exactly len bytes, so that ASan catches a
 * read past len. */
static char *exact_copy(const char *text, size_t len) {
	char *s = malloc(len == 0 ? 1 : len);

	assert_non_null(s);
	memcpy(s, text, len);
	return s;
}

static void test_count_matches_every_case_of_segments_json(void **state) {
	(void)state;
	json_t *root = load_cases();
	json_t *cases = json_object_get(root, "cases");
	json_t *c;
	size_t i;
	int failures = 0;

	json_array_foreach(cases, i, c) {
		const char *id = json_string_value(json_object_get(c, "id"));
		json_t *body = json_object_get(c, "body");
		const char *encoding = json_string_value(json_object_get(c, "encoding"));
		json_int_t segments = json_integer_value(json_object_get(c, "segments"));
		json_int_t units = json_integer_value(json_object_get(c, "units"));
		size_t len = json_string_length(body);
		char *text = exact_copy(json_string_value(body), len);
		struct sms_count n;

		assert_non_null(id);
		assert_non_null(encoding);
		sms_count(text, len, &n);
		if (strcmp(sms_encoding_name(n.encoding), encoding) != 0 || n.segments != segments ||
				n.units != units) {
			print_error("case %s: got %s, %d segments, %d units; want %s, %d, %d\n", id,
					sms_encoding_name(n.encoding), n.segments, n.units, encoding,
					(int)segments, (int)units);
			failures++;
		}
		free(text);
	}
	json_decref(root);
	assert_int_equal(failures, 0);
}

static void test_fit_agrees_with_count_on_every_case_of_segments_json(void **state) {
	(void)state;
	json_t *root = load_cases();
	json_t *cases = json_object_get(root, "cases");
	json_t *c;
	size_t i;
	int failures = 0;

	json_array_foreach(cases, i, c) {
		const char *id = json_string_value(json_object_get(c, "id"));
		json_t *body = json_object_get(c, "body");
		int segments = (int)json_integer_value(json_object_get(c, "segments"));
		size_t code_points = (size_t)json_integer_value(json_object_get(c, "code_points"));
		size_t len = json_string_length(body);
		char *text = exact_copy(json_string_value(body), len);

		/* The whole text fits its own segment count, and not one fewer. */
		if (sms_fit_segments(text, len, segments) != len) {
			print_error("case %s: does not fit its own %d segments\n", id, segments);
			failures++;
		}
		if (segments > 1) {
			size_t cut = sms_fit_segments(text, len, segments - 1);
			struct sms_count n;

			sms_count(text, cut, &n);
			if (cut >= len || n.segments > segments - 1) {
				print_error("case %s: %d segments: cut at %zu of %zu into %d\n", id,
						segments - 1, cut, len, n.segments);
				failures++;
			}
		}
		/* code_points characters take the whole text, one fewer does not. */
		if (sms_fit_chars(text, len, code_points) != len ||
				(code_points > 0 && sms_fit_chars(text, len, code_points - 1) >= len)) {
			print_error("case %s: sms_fit_chars disagrees with %zu code points\n", id,
					code_points);
			failures++;
		}
		free(text);
	}
	json_decref(root);
	assert_int_equal(failures, 0);
}

static void test_count_of_null_or_empty_text_is_one_empty_gsm7_segment(void **state) {
	(void)state;
	struct sms_count n;

	sms_count(NULL, 0, &n);
	assert_int_equal(n.encoding, SMS_GSM7);
	assert_int_equal(n.segments, 1);
	assert_int_equal(n.units, 0);
	sms_count("", 0, &n);
	assert_int_equal(n.segments, 1);
	assert_int_equal(n.units, 0);
}

static void test_encoding_names(void **state) {
	(void)state;

	assert_string_equal(sms_encoding_name(SMS_GSM7), "GSM-7");
	assert_string_equal(sms_encoding_name(SMS_UCS2), "UCS-2");
}

struct invalid_case {
	const char *id;
	const char *text;
	size_t len;
	int units;
};

static void test_invalid_utf8_counts_as_ucs2_one_unit_per_bad_byte(void **state) {
	(void)state;
	static const struct invalid_case cases[] = {
		{"lone-ff", "abc\xff", 4, 4},
		{"lone-continuation", "\x80", 1, 1},
		{"truncated-2", "a\xc3", 2, 2},
		{"truncated-3", "a\xe2\x82", 3, 3},
		{"truncated-4", GRIN, 3, 3},
		{"overlong-slash", "\xc0\xaf", 2, 2},
		{"overlong-3", "\xe0\x80\xaf", 3, 3},
		{"surrogate", "\xed\xa0\x80", 3, 3},
		{"above-10ffff", "\xf4\x90\x80\x80", 4, 4},
		{"f5", "\xf5\x80\x80\x80", 4, 4},
		{"euro-then-bad", EURO "\xfe", 4, 2},
	};
	int failures = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = exact_copy(cases[i].text, cases[i].len);
		struct sms_count n;

		sms_count(text, cases[i].len, &n);
		if (n.encoding != SMS_UCS2 || n.units != cases[i].units || n.segments != 1) {
			print_error("case %s: got %s %d units %d segments\n", cases[i].id,
					sms_encoding_name(n.encoding), n.units, n.segments);
			failures++;
		}
		free(text);
	}
	assert_int_equal(failures, 0);
}

static void test_count_treats_embedded_nul_as_a_non_gsm_character(void **state) {
	(void)state;
	struct sms_count n;

	sms_count("a\0b", 3, &n);
	assert_int_equal(n.encoding, SMS_UCS2);
	assert_int_equal(n.units, 3);
}

static void test_fit_returns_a_prefix_that_fits_whole(void **state) {
	(void)state;
	size_t len;
	char *s;

	assert_int_equal(sms_fit_segments("", 0, 1), 0);
	assert_int_equal(sms_fit_segments("Hello", 5, 1), 5);
	s = build(&len, "a", 160, END);
	assert_int_equal(sms_fit_segments(s, len, 1), 160);
	free(s);
	s = build(&len, NI, 70, END);
	assert_int_equal(sms_fit_segments(s, len, 1), len);
	free(s);
	s = build(&len, "a", 1600, END);
	assert_int_equal(sms_fit_segments(s, len, 11), 1600);
	assert_int_equal(sms_fit_segments(s, len, 10), 1530);
	free(s);
}

static void test_fit_never_cuts_a_utf8_sequence(void **state) {
	(void)state;
	size_t len;
	char *s;

	s = build(&len, E_ACUTE, 200, END); /* GSM-7, 1 septet, 2 bytes */
	assert_int_equal(sms_fit_segments(s, len, 1), 160 * 2);
	assert_int_equal(sms_fit_segments(s, len, 2), 200 * 2);
	free(s);
	s = build(&len, NI, 100, END); /* UCS-2, 3 bytes */
	assert_int_equal(sms_fit_segments(s, len, 1), 70 * 3);
	assert_int_equal(sms_fit_segments(s, len, 2), 100 * 3);
	free(s);
	s = build(&len, NI, 200, END);
	assert_int_equal(sms_fit_segments(s, len, 2), 134 * 3);
	free(s);
}

static void test_fit_never_cuts_a_gsm7_escape_pair(void **state) {
	(void)state;
	size_t len;
	char *s;

	/* 152 'a' + '€' = 154 septets: fits one segment whole. */
	s = build(&len, "a", 152, EURO, 1, END);
	assert_int_equal(sms_fit_segments(s, len, 1), len);
	free(s);
	/* 159 'a' + '€' = 161 septets: the pair does not fit in 160, so it is left out. */
	s = build(&len, "a", 159, EURO, 1, END);
	assert_int_equal(sms_fit_segments(s, len, 1), 159);
	assert_int_equal(sms_fit_segments(s, len, 2), len);
	free(s);
	/* 80 '€' = 160 septets: one segment; 81 '€' in one segment: 80 of them. */
	s = build(&len, EURO, 81, END);
	assert_int_equal(sms_fit_segments(s, len, 1), 80 * 3);
	free(s);
	/* seg-10: 152 'a' + '€' + 152 'a'. In 2 segments: [152 a][€ + 151 a]; in 1: 160
	 * septets = 152 a, €, 6 a. */
	s = build(&len, "a", 152, EURO, 1, "a", 152, END);
	assert_int_equal(len, 152 + 3 + 152);
	assert_int_equal(sms_fit_segments(s, len, 3), len);
	assert_int_equal(sms_fit_segments(s, len, 2), 152 + 3 + 151);
	assert_int_equal(sms_fit_segments(s, len, 1), 152 + 3 + 6);
	free(s);
}

static void test_fit_never_cuts_a_surrogate_pair(void **state) {
	(void)state;
	size_t len;
	char *s;

	/* UCS-2 from the start: 你 + 68 'a' = 69 units, the emoji would make 71. */
	s = build(&len, NI, 1, "a", 68, GRIN, 1, END);
	assert_int_equal(sms_fit_segments(s, len, 1), 3 + 68);
	free(s);
	/* seg-28: 66 'a' + 😀 + 66 'a'. In 2 segments: [66 a][😀 + 65 a]; in 1: 70 units =
	 * 66 a, 😀, 2 a. */
	s = build(&len, "a", 66, GRIN, 1, "a", 66, END);
	assert_int_equal(len, 66 + 4 + 66);
	assert_int_equal(sms_fit_segments(s, len, 3), len);
	assert_int_equal(sms_fit_segments(s, len, 2), 66 + 4 + 65);
	assert_int_equal(sms_fit_segments(s, len, 1), 66 + 4 + 2);
	free(s);
	/* 36 emoji: 35 fit one segment (70 units); 33 a segment when concatenated. */
	s = build(&len, GRIN, 36, END);
	assert_int_equal(sms_fit_segments(s, len, 1), 35 * 4);
	assert_int_equal(sms_fit_segments(s, len, 2), len);
	free(s);
	s = build(&len, GRIN, 70, END);
	assert_int_equal(sms_fit_segments(s, len, 2), 66 * 4);
	free(s);
}

static void test_fit_decides_encoding_by_the_prefix(void **state) {
	(void)state;
	size_t len;
	char *s;

	/* The emoji would make the prefix UCS-2 and too long: 69 'a' are sent alone as GSM-7. */
	s = build(&len, "a", 69, GRIN, 1, END);
	assert_int_equal(sms_fit_segments(s, len, 1), 69);
	free(s);
	s = build(&len, "a", 200, NI, 1, END);
	assert_int_equal(sms_fit_segments(s, len, 1), 160);
	assert_int_equal(sms_fit_segments(s, len, 2), 200);
	free(s);
	/* Short enough to fit as UCS-2 with the non-GSM character. */
	s = build(&len, "a", 60, NI "bbb", 1, END);
	assert_int_equal(sms_fit_segments(s, len, 1), len);
	free(s);
}

static void test_fit_with_fewer_than_one_segment_or_null_is_empty(void **state) {
	(void)state;

	assert_int_equal(sms_fit_segments("Hello", 5, 0), 0);
	assert_int_equal(sms_fit_segments("Hello", 5, -3), 0);
	assert_int_equal(sms_fit_segments(NULL, 5, 1), 0);
}

static void test_fit_chars_counts_code_points(void **state) {
	(void)state;
	static const char mixed[] = "a" E_ACUTE EURO GRIN "b"; /* 1 + 2 + 3 + 4 + 1 bytes */
	static const size_t ends[] = {0, 1, 3, 6, 10, 11, 11};
	size_t len = sizeof(mixed) - 1;
	char *s = exact_copy(mixed, len);

	assert_int_equal(sms_fit_chars("hello", 5, 3), 3);
	assert_int_equal(sms_fit_chars("hello", 5, 10), 5);
	assert_int_equal(sms_fit_chars("hello", 5, 0), 0);
	assert_int_equal(sms_fit_chars("", 0, 3), 0);
	assert_int_equal(sms_fit_chars(NULL, 4, 3), 0);
	for (size_t k = 0; k < sizeof(ends) / sizeof(ends[0]); k++) {
		if (sms_fit_chars(s, len, k) != ends[k]) {
			fail_msg("%zu chars: got %zu bytes, want %zu", k, sms_fit_chars(s, len, k),
					ends[k]);
		}
	}
	/* A byte that is not UTF-8 is one character; a cut sequence is one per byte. */
	assert_int_equal(sms_fit_chars("\xff\xfe" "a", 3, 1), 1);
	assert_int_equal(sms_fit_chars("a\xe2\x82", 3, 2), 2);
	free(s);
}

struct smart_case {
	const char *id;
	const char *in;
	const char *out;
};

static void test_smart_encode_replaces_look_alikes_and_result_is_gsm7(void **state) {
	(void)state;
	static const struct smart_case cases[] = {
		{"curly-double", "\xe2\x80\x9cquoted\xe2\x80\x9d", "\"quoted\""},
		{"curly-single", "It\xe2\x80\x99s \xe2\x80\x98" "fine\xe2\x80\x99", "It's 'fine'"},
		{"seg-21", "It\xe2\x80\x99s \xe2\x80\x9cquoted\xe2\x80\x9d", "It's \"quoted\""},
		{"en-em-dash", "a\xe2\x80\x93" "b\xe2\x80\x94" "c", "a-b-c"},
		{"minus", "5\xe2\x88\x92" "3", "5-3"},
		{"hyphens", "\xe2\x80\x90\xe2\x80\x91", "--"},
		{"ellipsis", "wait\xe2\x80\xa6", "wait..."},
		{"nbsp", "non\xc2\xa0" "breaking", "non breaking"},
		{"thin-space", "1\xe2\x80\x89" "000", "1 000"},
		{"ideographic-space", "a\xe3\x80\x80" "b", "a b"},
		{"bullet", "\xe2\x80\xa2 item", "* item"},
		{"primes", "5\xe2\x80\xb2" "3\xe2\x80\xb3", "5'3\""},
		{"guillemets", "\xc2\xab" "oui\xc2\xbb", "\"oui\""},
		{"zero-width-removed", "a\xe2\x80\x8b" "b\xef\xbb\xbf", "ab"},
		{"fullwidth", "\xef\xbc\xa8\xef\xbd\x89\xef\xbc\x81", "Hi!"},
		{"fullwidth-extension", "\xef\xbd\x9b\xef\xbd\x9d", "{}"},
		{"fullwidth-backtick", "\xef\xbd\x80", "'"},
		{"backtick", "`5`", "'5'"},
		{"tab", "a\tb", "a b"},
		{"half", "\xc2\xbd", "1/2"},
		{"gsm-unchanged", "Caf" E_ACUTE " " EURO "5 {ok}", "Caf" E_ACUTE " " EURO "5 {ok}"},
		{"empty", "", ""},
	};
	int failures = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = sms_smart_encode(cases[i].in);
		struct sms_count n;

		assert_non_null(out);
		sms_count(out, strlen(out), &n);
		if (strcmp(out, cases[i].out) != 0 || n.encoding != SMS_GSM7) {
			print_error("case %s: got \"%s\" (%s), want \"%s\" (GSM-7)\n", cases[i].id,
					out, sms_encoding_name(n.encoding), cases[i].out);
			failures++;
		}
		free(out);
	}
	assert_int_equal(failures, 0);
}

static void test_smart_encode_keeps_text_with_a_real_non_gsm7_character(void **state) {
	(void)state;
	static const char *const inputs[] = {
		"\xe2\x80\x9c" NI "\xe5\xa5\xbd\xe2\x80\x9d",        /* “你好” */
		"Smile " GRIN " \xe2\x80\x94 it\xe2\x80\x99s fine", /* 😀 — it’s */
		"Gar\xc3\xa7on \xe2\x80\x93 ok",                      /* ç is not GSM-7 */
		"bad \xff byte \xe2\x80\x9cx\xe2\x80\x9d",           /* invalid UTF-8 */
		"cut \xe2\x80",                                      /* truncated sequence */
	};
	int failures = 0;

	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		char *out = sms_smart_encode(inputs[i]);

		assert_non_null(out);
		if (out == inputs[i] || strcmp(out, inputs[i]) != 0) {
			print_error("input %zu: changed to \"%s\"\n", i, out);
			failures++;
		}
		free(out);
	}
	assert_int_equal(failures, 0);
}

static void test_smart_encode_of_null_is_null(void **state) {
	(void)state;

	assert_null(sms_smart_encode(NULL));
}

/* Deterministic pseudo-random bytes (xorshift32): the same run every time. */
static uint32_t next_random(uint32_t *x) {
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static void test_random_bytes_never_read_past_len_and_keep_invariants(void **state) {
	(void)state;
	/* Bytes that build valid and broken UTF-8 of every length, GSM and not. */
	static const unsigned char alphabet[] = {
		'a', ' ', '{', 0x1B, 0x00, 0x80, 0xBF, 0xC2, 0xC3, 0xA9, 0xE2, 0x82, 0xAC,
		0xED, 0xA0, 0xF0, 0x9F, 0x98, 0xF4, 0x90, 0xFF, 0xE4, 0xBD,
	};
	uint32_t seed = 0x5EED1234u;

	for (int round = 0; round < 3000; round++) {
		size_t len = next_random(&seed) % 400;
		char *s = malloc(len + 1);
		char *enc;
		struct sms_count n;

		assert_non_null(s);
		for (size_t i = 0; i < len; i++) {
			s[i] = (char)alphabet[next_random(&seed) % sizeof(alphabet)];
		}
		sms_count(s, len, &n); /* s is not NUL-terminated here: ASan checks len */
		assert_true(n.segments >= 1);
		assert_true(n.units >= 0 && (size_t)n.units <= 2 * len);
		for (int max = 1; max <= 4; max++) {
			size_t cut = sms_fit_segments(s, len, max);
			struct sms_count c;

			assert_true(cut <= len);
			sms_count(s, cut, &c);
			assert_true(c.segments <= max);
			assert_true(cut == len || n.segments > max);
			if (cut < len) {
				/* Longest: one more character (however many bytes) does not fit. */
				size_t next = sms_fit_chars(s + cut, len - cut, 1);

				sms_count(s, cut + next, &c);
				assert_true(next > 0 && c.segments > max);
			}
		}
		assert_true(sms_fit_chars(s, len, next_random(&seed) % 50) <= len);
		s[len] = '\0';
		enc = sms_smart_encode(s);
		assert_non_null(enc);
		free(enc);
		free(s);
	}
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count_matches_every_case_of_segments_json),
		cmocka_unit_test(test_fit_agrees_with_count_on_every_case_of_segments_json),
		cmocka_unit_test(test_count_of_null_or_empty_text_is_one_empty_gsm7_segment),
		cmocka_unit_test(test_encoding_names),
		cmocka_unit_test(test_invalid_utf8_counts_as_ucs2_one_unit_per_bad_byte),
		cmocka_unit_test(test_count_treats_embedded_nul_as_a_non_gsm_character),
		cmocka_unit_test(test_fit_returns_a_prefix_that_fits_whole),
		cmocka_unit_test(test_fit_never_cuts_a_utf8_sequence),
		cmocka_unit_test(test_fit_never_cuts_a_gsm7_escape_pair),
		cmocka_unit_test(test_fit_never_cuts_a_surrogate_pair),
		cmocka_unit_test(test_fit_decides_encoding_by_the_prefix),
		cmocka_unit_test(test_fit_with_fewer_than_one_segment_or_null_is_empty),
		cmocka_unit_test(test_fit_chars_counts_code_points),
		cmocka_unit_test(test_smart_encode_replaces_look_alikes_and_result_is_gsm7),
		cmocka_unit_test(test_smart_encode_keeps_text_with_a_real_non_gsm7_character),
		cmocka_unit_test(test_smart_encode_of_null_is_null),
		cmocka_unit_test(test_random_bytes_never_read_past_len_and_keep_invariants),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
