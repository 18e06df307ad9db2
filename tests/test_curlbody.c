/* Tests of curlbody_collect: an answer collected whole and NUL-terminated, and the cap that
 * aborts the transfer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "curlbody.h"

static void test_pieces_are_joined_and_nul_terminated(void **state) {
	(void)state;
	struct curlbody b = {.max = 100};
	char one[] = "hello, ";
	char two[] = "world";

	assert_int_equal(curlbody_collect(one, 1, 7, &b), 7);
	assert_int_equal(curlbody_collect(two, 5, 1, &b), 5);
	assert_int_equal(b.len, 12);
	assert_string_equal(b.s, "hello, world");
	assert_false(b.too_big);
	free(b.s);
}

static void test_an_answer_of_exactly_the_cap_is_kept(void **state) {
	(void)state;
	struct curlbody b = {.max = 8};
	char data[] = "12345678";

	assert_int_equal(curlbody_collect(data, 1, 8, &b), 8);
	assert_int_equal(b.len, 8);
	assert_false(b.too_big);
	free(b.s);
}

static void test_a_byte_past_the_cap_aborts_and_is_flagged(void **state) {
	(void)state;
	struct curlbody b = {.max = 8};
	char data[] = "123456789";

	assert_int_equal(curlbody_collect(data, 1, 5, &b), 5);
	assert_int_equal(curlbody_collect(data, 1, 4, &b), 0); /* 0: libcurl aborts */
	assert_true(b.too_big);
	assert_int_equal(b.len, 5);
	assert_string_equal(b.s, "12345");
	free(b.s);
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pieces_are_joined_and_nul_terminated),
		cmocka_unit_test(test_an_answer_of_exactly_the_cap_is_kept),
		cmocka_unit_test(test_a_byte_past_the_cap_aborts_and_is_flagged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
