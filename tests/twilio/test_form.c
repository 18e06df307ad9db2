/* Tests of twilio_form_decode and twilio_params_get: spaces, escapes, UTF-8, odd pieces,
 * and every malformed body refused with -EINVAL; twilio_form_encode, and decode giving back
 * what encode wrote. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twilio/twilio.h"

/* Decodes the C string body, asserting success; the caller finishes p. */
static void decode_ok(const char *body, struct twilio_params *p) {
	assert_int_equal(twilio_form_decode(body, strlen(body), p), 0);
}

/* Asserts that body[0..len) is refused with -EINVAL and *ret left untouched. */
static void assert_decode_einval(const char *body, size_t len) {
	struct twilio_param sentinel_v;
	struct twilio_params p = {&sentinel_v, 42};

	int r = twilio_form_decode(body, len, &p);

	if (r != -EINVAL) {
		print_error("body \"%.*s\" (len %zu) gave %d, not -EINVAL\n", (int)len, body, len,
				r);
	}
	assert_int_equal(r, -EINVAL);
	assert_ptr_equal(p.v, &sentinel_v);
	assert_int_equal(p.n, 42);
}

static void assert_param(const struct twilio_params *p, size_t i, const char *key,
		const char *value) {
	assert_true(i < p->n);
	assert_string_equal(p->v[i].key, key);
	assert_string_equal(p->v[i].value, value);
}

static void test_plus_and_percent_20_are_spaces(void **state) {
	(void)state;
	struct twilio_params p;

	decode_ok("Body=Hello+World%20again&Two+Words=x", &p);
	assert_int_equal(p.n, 2);
	assert_param(&p, 0, "Body", "Hello World again");
	assert_param(&p, 1, "Two Words", "x");
	twilio_params_finish(&p);
}

static void test_percent_2b_is_a_literal_plus(void **state) {
	(void)state;
	struct twilio_params p;

	decode_ok("From=%2B14155550100&Body=1%2b1", &p);
	assert_param(&p, 0, "From", "+14155550100");
	assert_param(&p, 1, "Body", "1+1");
	twilio_params_finish(&p);
}

static void test_percent_25_is_a_literal_percent(void **state) {
	(void)state;
	struct twilio_params p;

	decode_ok("Body=100%25+sure+%2520", &p);
	assert_param(&p, 0, "Body", "100% sure %20");
	twilio_params_finish(&p);
}

static void test_percent_escaped_utf8_decodes(void **state) {
	(void)state;
	struct twilio_params p;

	decode_ok("Body=caf%C3%A9+%F0%9F%98%80&%E4%B8%AD=%e6%96%87", &p);
	assert_param(&p, 0, "Body", "caf\xc3\xa9 \xf0\x9f\x98\x80");
	assert_param(&p, 1, "\xe4\xb8\xad", "\xe6\x96\x87");
	twilio_params_finish(&p);
}

static void test_raw_utf8_bytes_are_kept(void **state) {
	(void)state;
	struct twilio_params p;

	decode_ok("Body=caf\xc3\xa9", &p);
	assert_param(&p, 0, "Body", "caf\xc3\xa9");
	twilio_params_finish(&p);
}

static void test_empty_value_is_empty_string(void **state) {
	(void)state;
	struct twilio_params p;

	decode_ok("Body=&FromCity=&To=%2B1", &p);
	assert_int_equal(p.n, 3);
	assert_param(&p, 0, "Body", "");
	assert_param(&p, 1, "FromCity", "");
	assert_param(&p, 2, "To", "+1");
	twilio_params_finish(&p);
}

static void test_key_without_equals_has_empty_value(void **state) {
	(void)state;
	struct twilio_params p;

	decode_ok("flag&a=1", &p);
	assert_int_equal(p.n, 2);
	assert_param(&p, 0, "flag", "");
	assert_param(&p, 1, "a", "1");
	twilio_params_finish(&p);
}

static void test_only_first_equals_splits_key_and_value(void **state) {
	(void)state;
	struct twilio_params p;

	decode_ok("a=b=c&=x", &p);
	assert_int_equal(p.n, 2);
	assert_param(&p, 0, "a", "b=c");
	assert_param(&p, 1, "", "x");
	twilio_params_finish(&p);
}

static void test_empty_pieces_between_ampersands_are_skipped(void **state) {
	(void)state;
	struct twilio_params p;

	decode_ok("a=1&&b=2", &p);
	assert_int_equal(p.n, 2);
	assert_param(&p, 0, "a", "1");
	assert_param(&p, 1, "b", "2");
	twilio_params_finish(&p);

	decode_ok("&&a=1&", &p);
	assert_int_equal(p.n, 1);
	assert_param(&p, 0, "a", "1");
	twilio_params_finish(&p);
}

static void test_repeated_keys_are_kept_in_wire_order(void **state) {
	(void)state;
	struct twilio_params p;

	decode_ok("Digits=5678&Sid=CA1&Digits=1234&Digits=1234", &p);
	assert_int_equal(p.n, 4);
	assert_param(&p, 0, "Digits", "5678");
	assert_param(&p, 1, "Sid", "CA1");
	assert_param(&p, 2, "Digits", "1234");
	assert_param(&p, 3, "Digits", "1234");
	twilio_params_finish(&p);
}

static void test_empty_body_gives_no_params(void **state) {
	(void)state;
	struct twilio_params p = {NULL, 99};

	assert_int_equal(twilio_form_decode("", 0, &p), 0);
	assert_int_equal(p.n, 0);
	assert_null(p.v);
	twilio_params_finish(&p);

	assert_int_equal(twilio_form_decode(NULL, 0, &p), 0);
	assert_int_equal(p.n, 0);
	twilio_params_finish(&p);

	decode_ok("&&&", &p);
	assert_int_equal(p.n, 0);
	twilio_params_finish(&p);
}

static void test_len_bounds_the_body(void **state) {
	(void)state;
	struct twilio_params p;

	/* A '%' just past len must not be read as the start of an escape. */
	assert_int_equal(twilio_form_decode("a=1&b=2%", 7, &p), 0);
	assert_int_equal(p.n, 2);
	assert_param(&p, 1, "b", "2");
	twilio_params_finish(&p);
	assert_decode_einval("a=%41", 4);
}

static void test_bad_escapes_are_einval(void **state) {
	(void)state;
	static const char *const bodies[] = {
		"a=%", "a=%4", "a=%zz", "a=%4g", "a=%g4", "%=1", "a%2=1", "a=1&b=%",
	};

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		assert_decode_einval(bodies[i], strlen(bodies[i]));
	}
}

static void test_nul_bytes_are_einval(void **state) {
	(void)state;

	assert_decode_einval("a=%00", 5);
	assert_decode_einval("%00=1", 5);
	assert_decode_einval("a=x\0y", 5); /* a raw NUL inside len */
}

static void test_invalid_utf8_is_einval(void **state) {
	(void)state;
	static const char *const bodies[] = {
		"a=%C3%28",          /* lead byte, then no continuation */
		"a=%C0%AF",          /* overlong '/' */
		"a=%E0%80%AF",       /* overlong, three bytes */
		"a=%ED%A0%80",       /* surrogate U+D800 */
		"a=%ED%BF%BF",       /* surrogate U+DFFF */
		"a=%F4%90%80%80",    /* U+110000 */
		"a=%F8%88%80%80%80", /* five-byte form */
		"a=%80",             /* lone continuation */
		"a=%C3",             /* truncated at the end */
		"a=%F0%9F%98",       /* truncated emoji */
		"a=\xff",            /* raw invalid byte */
		"%FF=1",             /* in the key */
	};

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		assert_decode_einval(bodies[i], strlen(bodies[i]));
	}
}

static void test_utf8_boundaries_are_accepted(void **state) {
	(void)state;
	struct twilio_params p;

	/* U+007F, U+0080, U+07FF, U+0800, U+D7FF, U+E000, U+FFFF, U+10000, U+10FFFF */
	decode_ok("a=%7F%C2%80%DF%BF%E0%A0%80%ED%9F%BF%EE%80%80%EF%BF%BF%F0%90%80%80%F4%8F%BF%BF",
			&p);
	assert_int_equal(p.n, 1);
	assert_int_equal(strlen(p.v[0].value), 1 + 2 + 2 + 3 + 3 + 3 + 3 + 4 + 4);
	twilio_params_finish(&p);
}

static void test_1000_params_ok_1001_einval(void **state) {
	(void)state;
	size_t size = 1001 * 4 + 1;
	char *body = malloc(size);
	struct twilio_params p;
	size_t len = 0;

	assert_non_null(body);
	for (int i = 0; i < 1000; i++) {
		len += (size_t)snprintf(body + len, size - len, "a=%d&", i % 10);
	}
	assert_int_equal(twilio_form_decode(body, len, &p), 0);
	assert_int_equal(p.n, 1000);
	twilio_params_finish(&p);

	len += (size_t)snprintf(body + len, size - len, "b=1");
	assert_decode_einval(body, len);
	free(body);
}

static void test_params_get_returns_first_value(void **state) {
	(void)state;
	struct twilio_params p;

	decode_ok("Digits=5678&Body=&Digits=1234", &p);
	assert_string_equal(twilio_params_get(&p, "Digits"), "5678");
	assert_string_equal(twilio_params_get(&p, "Body"), "");
	assert_null(twilio_params_get(&p, "digits"));
	assert_null(twilio_params_get(&p, "Missing"));
	assert_null(twilio_params_get(NULL, "Digits"));
	twilio_params_finish(&p);
}

static void test_params_finish_accepts_null_and_zeroed(void **state) {
	(void)state;
	struct twilio_params p = {NULL, 0};

	twilio_params_finish(NULL);
	twilio_params_finish(&p);
	twilio_params_finish(&p);
	assert_null(p.v);
}

static void test_encode_escapes_all_but_unreserved_bytes(void **state) {
	(void)state;
	struct twilio_param v[] = {{(char *)"Body", (char *)"a b+c&d=e%f~g-h.i_j"},
		{(char *)"From", (char *)"+15550100101"}, {(char *)"Empty", (char *)""},
		{(char *)"Emoji", (char *)"\xf0\x9f\x98\x80"}};
	struct twilio_params p = {v, 4};
	char *body = NULL;

	assert_int_equal(twilio_form_encode(&p, &body), 0);
	assert_string_equal(body, "Body=a%20b%2Bc%26d%3De%25f~g-h.i_j&From=%2B15550100101&Empty="
				  "&Emoji=%F0%9F%98%80");
	free(body);
}

static void test_encode_of_no_params_is_empty(void **state) {
	(void)state;
	struct twilio_params p = {NULL, 0};
	char *body = NULL;

	assert_int_equal(twilio_form_encode(&p, &body), 0);
	assert_string_equal(body, "");
	free(body);
}

static void test_decode_gives_back_what_encode_wrote(void **state) {
	(void)state;
	struct twilio_param v[] = {{(char *)"To", (char *)"+15550100101"},
		{(char *)"Body", (char *)"caf\xc3\xa9 & <b> \"q\" 100%\r\n"},
		{(char *)"Body", (char *)"repeated"}, {(char *)"k=y", (char *)"=&"}};
	struct twilio_params p = {v, 4};
	struct twilio_params back;
	char *body = NULL;

	assert_int_equal(twilio_form_encode(&p, &body), 0);
	decode_ok(body, &back);
	assert_int_equal(back.n, p.n);
	for (size_t i = 0; i < p.n; i++) {
		assert_string_equal(back.v[i].key, v[i].key);
		assert_string_equal(back.v[i].value, v[i].value);
	}
	twilio_params_finish(&back);
	free(body);
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plus_and_percent_20_are_spaces),
		cmocka_unit_test(test_percent_2b_is_a_literal_plus),
		cmocka_unit_test(test_percent_25_is_a_literal_percent),
		cmocka_unit_test(test_percent_escaped_utf8_decodes),
		cmocka_unit_test(test_raw_utf8_bytes_are_kept),
		cmocka_unit_test(test_empty_value_is_empty_string),
		cmocka_unit_test(test_key_without_equals_has_empty_value),
		cmocka_unit_test(test_only_first_equals_splits_key_and_value),
		cmocka_unit_test(test_empty_pieces_between_ampersands_are_skipped),
		cmocka_unit_test(test_repeated_keys_are_kept_in_wire_order),
		cmocka_unit_test(test_empty_body_gives_no_params),
		cmocka_unit_test(test_len_bounds_the_body),
		cmocka_unit_test(test_bad_escapes_are_einval),
		cmocka_unit_test(test_nul_bytes_are_einval),
		cmocka_unit_test(test_invalid_utf8_is_einval),
		cmocka_unit_test(test_utf8_boundaries_are_accepted),
		cmocka_unit_test(test_1000_params_ok_1001_einval),
		cmocka_unit_test(test_params_get_returns_first_value),
		cmocka_unit_test(test_params_finish_accepts_null_and_zeroed),
		cmocka_unit_test(test_encode_escapes_all_but_unreserved_bytes),
		cmocka_unit_test(test_encode_of_no_params_is_empty),
		cmocka_unit_test(test_decode_gives_back_what_encode_wrote),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
