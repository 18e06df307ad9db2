/* The router's words: opt-out, opt-in and help keywords (router_keyword) and blank replies
 * (router_reply_blank), src/router_text.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "router_fixture.h"

struct keyword_case {
	const char *body;
	const char *opt_out_type;
	char expected;
};

static const struct keyword_case keyword_cases[] = {
                {"STOP", NULL, 'o'},
                {"stop", NULL, 'o'},
                {" Stop ", NULL, 'o'},
                {"\r\nSTOP\t", NULL, 'o'},
                {"STOPALL", NULL, 'o'},
                {"UNSUBSCRIBE", NULL, 'o'},
                {"CANCEL", NULL, 'o'},
                {"END", NULL, 'o'},
                {"QUIT", NULL, 'o'},
                {"REVOKE", NULL, 'o'},
                {"optout", NULL, 'o'},
                {"START", NULL, 'i'},
                {"unstop", NULL, 'i'},
                {"Yes", NULL, 'i'},
                {"HELP", NULL, 'h'},
                {"info", NULL, 'h'},
                {"", NULL, 0},
                {"   ", NULL, 0},
                {"\u00a0STOP\u00a0", NULL, 'o'},  /* no-break spaces */
                {"\u3000STOP", NULL, 'o'},        /* ideographic space */
                {"STOP\v\f", NULL, 'o'},
                {"\ufeffSTOP\u200b", NULL, 'o'}, /* BOM, zero-width space */
                {"\u00a0\u3000", NULL, 0},
                {"ST\u00a0OP", NULL, 0},          /* inside the word: not a word */
                {"\uff33\uff34\uff2f\uff30", NULL, 0}, /* fullwidth STOP: a look-alike */
                {NULL, NULL, 0},
                {"STOP please", NULL, 0},
                {"please stop", NULL, 0},
                {"STOPP", NULL, 0},
                {"STO", NULL, 0},
                {"OPT OUT", NULL, 0},
                {"S T O P", NULL, 0},
                {"yes!", NULL, 0},
                {"helpme", NULL, 0},
                {"remember STOP", NULL, 0},
                {"hello", "STOP", 'o'},
                {"START", "STOP", 'o'},
                {"STOP", "START", 'i'},
                {"hello", "start", 'i'},
                {"STOP", "HELP", 'h'},
                {NULL, "STOP", 'o'},
                {"STOP", "", 'o'},
                {"STOP", "SOMETHING", 'o'},
                {"hello", "SOMETHING", 0},
};

static void test_reply_blank_is_white_space_only(void **state) {
	(void)state;

	assert_true(router_reply_blank(NULL));
	assert_true(router_reply_blank(""));
	assert_true(router_reply_blank(" \t\r\n\v\f"));
	assert_true(router_reply_blank("\u00a0\u3000\u200b"));
	assert_false(router_reply_blank(" ."));
	assert_false(router_reply_blank("\u00a0x"));
	assert_false(router_reply_blank("\u00e9")); /* é: a letter, not a space */
}

static void test_keyword_table(void **state) {
	(void)state;
	int failures = 0;

	for (size_t i = 0; i < ARRAY_SIZE(keyword_cases); i++) {
		const struct keyword_case *c = &keyword_cases[i];
		char got = router_keyword(c->body, c->opt_out_type);
		if (got != c->expected) {
			print_error("router_keyword(\"%s\", %s%s%s) = '%c' (%d), expected '%c' "
			            "(%d)\n",
			            c->body ? c->body : "(null)", c->opt_out_type ? "\"" : "",
			            c->opt_out_type ? c->opt_out_type : "NULL",
			            c->opt_out_type ? "\"" : "", got ? got : '0', got,
			            c->expected ? c->expected : '0', c->expected);
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

const struct CMUnitTest router_text_tests[] = {
	cmocka_unit_test(test_reply_blank_is_white_space_only),
	cmocka_unit_test(test_keyword_table),
};
const size_t router_text_tests_count = ARRAY_SIZE(router_text_tests);
