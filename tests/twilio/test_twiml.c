/* Tests of twilio_twiml_message: the empty answer, escaping, dropped control characters,
 * repaired UTF-8 and the action attribute. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "twilio/twilio.h"

#define DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
#define EMPTY DECL "<Response/>"
#define MESSAGE(body) DECL "<Response><Message>" body "</Message></Response>"
#define MESSAGE_ACTION(action, body)                                                              \
	DECL "<Response><Message action=\"" action "\">" body "</Message></Response>"

static void assert_twiml(const char *text, const char *action_url, const char *expected) {
	char *xml = NULL;

	assert_int_equal(twilio_twiml_message(text, action_url, &xml), 0);
	assert_non_null(xml);
	assert_string_equal(xml, expected);
	free(xml);
}

static void test_null_and_empty_text_give_empty_response(void **state) {
	(void)state;

	assert_twiml(NULL, NULL, EMPTY);
	assert_twiml("", NULL, EMPTY);
	assert_twiml(NULL, "https://h.example/status", EMPTY);
	assert_twiml("", "https://h.example/status", EMPTY);
}

static void test_plain_text_becomes_a_message(void **state) {
	(void)state;

	assert_twiml("Hello", NULL, MESSAGE("Hello"));
}

static void test_xml_specials_are_escaped(void **state) {
	(void)state;

	assert_twiml("Tom & Jerry <b> \"q\" 'a'", NULL,
			MESSAGE("Tom &amp; Jerry &lt;b&gt; &quot;q&quot; &apos;a&apos;"));
	assert_twiml("&amp;", NULL, MESSAGE("&amp;amp;"));
	assert_twiml("]]>", NULL, MESSAGE("]]&gt;"));
}

static void test_newline_and_tab_are_kept(void **state) {
	(void)state;

	assert_twiml("line1\nline2\tend", NULL, MESSAGE("line1\nline2\tend"));
}

static void test_carriage_return_is_a_character_reference(void **state) {
	(void)state;

	/* A raw CR LF would reach Twilio as LF (XML end-of-line handling). */
	assert_twiml("a\r\nb", NULL, MESSAGE("a&#13;\nb"));
}

static void test_forbidden_control_characters_are_dropped(void **state) {
	(void)state;

	assert_twiml("a\x01"
		     "b\x1f"
		     "c\x0b\x0c"
		     "d",
			NULL, MESSAGE("abcd"));
	assert_twiml("x\xef\xbf\xbey\xef\xbf\xbfz", NULL, MESSAGE("xyz")); /* U+FFFE, U+FFFF */
}

static void test_text_of_only_forbidden_characters_gives_empty_response(void **state) {
	(void)state;

	assert_twiml("\x01\x02", NULL, EMPTY);
}

static void test_utf8_is_kept_raw(void **state) {
	(void)state;

	assert_twiml("caf\xc3\xa9 \xf0\x9f\x98\x80 \xe4\xb8\xad", NULL,
			MESSAGE("caf\xc3\xa9 \xf0\x9f\x98\x80 \xe4\xb8\xad"));
}

static void test_invalid_utf8_becomes_replacement_character(void **state) {
	(void)state;

	assert_twiml("a\xff"
		     "b",
			NULL, MESSAGE("a\xef\xbf\xbd"
				      "b"));
	/* A truncated sequence is one U+FFFD; what follows it is read afresh. */
	assert_twiml("a\xf0\x9f\x98"
		     "b",
			NULL, MESSAGE("a\xef\xbf\xbd"
				      "b"));
	/* Overlong '<' and a surrogate: one U+FFFD per byte, never a '<'. */
	assert_twiml("\xc0\xbc", NULL, MESSAGE("\xef\xbf\xbd\xef\xbf\xbd"));
	assert_twiml("\xed\xa0\x80", NULL, MESSAGE("\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"));
	assert_twiml("\xe2\x82", NULL, MESSAGE("\xef\xbf\xbd"));
}

static void test_action_attribute_is_escaped(void **state) {
	(void)state;

	assert_twiml("Hi", "https://h.example/status?a=1&b=2",
			MESSAGE_ACTION("https://h.example/status?a=1&amp;b=2", "Hi"));
	assert_twiml("Hi", "https://h.example/s?q=\"2\"<'3'>",
			MESSAGE_ACTION("https://h.example/s?q=&quot;2&quot;&lt;&apos;3&apos;&gt;",
					"Hi"));
	assert_twiml("Hi", "https://h.example/s\tx\ny",
			MESSAGE_ACTION("https://h.example/s&#9;x&#10;y", "Hi"));
	assert_twiml("Hi", "", MESSAGE_ACTION("", "Hi"));
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_null_and_empty_text_give_empty_response),
		cmocka_unit_test(test_plain_text_becomes_a_message),
		cmocka_unit_test(test_xml_specials_are_escaped),
		cmocka_unit_test(test_newline_and_tab_are_kept),
		cmocka_unit_test(test_carriage_return_is_a_character_reference),
		cmocka_unit_test(test_forbidden_control_characters_are_dropped),
		cmocka_unit_test(test_text_of_only_forbidden_characters_gives_empty_response),
		cmocka_unit_test(test_utf8_is_kept_raw),
		cmocka_unit_test(test_invalid_utf8_becomes_replacement_character),
		cmocka_unit_test(test_action_attribute_is_escaped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
