/* Tests of twilio_twiml_message: the empty answer, escaping, dropped control characters,
 * repaired UTF-8 and the action attribute; and of twilio_twiml_message_text, which reads
 * such an answer back. */
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

static void test_reading_gives_back_the_text_written(void **state) {
	(void)state;
	static const char *const texts[] = {"Noted.", "a & <b> \"q\" 'a'", "x\r\ny\rz\n",
		"tab\there", "caf\xc3\xa9 \xf0\x9f\x98\x80", "]]> --> <!--", "  spaces  "};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		char *xml = NULL;
		char *text = NULL;

		assert_int_equal(twilio_twiml_message(texts[i], "https://h.example/s?a=1&b=2", &xml),
				0);
		if (twilio_twiml_message_text(xml, strlen(xml), &text) != 0 || !text ||
				strcmp(text, texts[i]) != 0) {
			fail_msg("case %zu: %s read back as %s", i, xml, text ? text : "(null)");
		}
		free(text);
		free(xml);
	}
}

static void test_reading_an_empty_response_gives_no_text(void **state) {
	(void)state;
	char *text = (char *)"untouched";

	assert_int_equal(twilio_twiml_message_text(EMPTY, strlen(EMPTY), &text), 0);
	assert_null(text);
	assert_int_equal(twilio_twiml_message_text("<Response></Response>", 21, &text), 0);
	assert_null(text);
}

static void test_reading_takes_the_first_message_and_its_body(void **state) {
	(void)state;
	static const char xml[] = DECL "<Response><Message><Body>hi</Body><Media>https://m"
				       "</Media></Message><Message>second</Message></Response>";
	char *text = NULL;

	assert_int_equal(twilio_twiml_message_text(xml, strlen(xml), &text), 0);
	assert_string_equal(text, "hi");
	free(text);
	assert_int_equal(twilio_twiml_message_text(MESSAGE(""), strlen(MESSAGE("")), &text), 0);
	assert_string_equal(text, "");
	free(text);
}

static void test_reading_refuses_what_is_not_twiml(void **state) {
	(void)state;
	static const char *const bad[] = {"", "not xml", MESSAGE("&#0;"), MESSAGE("&bogus;"),
		MESSAGE("&#13"), MESSAGE("a < b"), DECL "<Response><Message>open</Response>",
		DECL "<Other><Message>hi</Message></Other>",
		DECL "<!DOCTYPE Response [<!ENTITY e \"x\">]><Response><Message>&e;</Message>"
		     "</Response>"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *text = (char *)"untouched";
		int r = twilio_twiml_message_text(bad[i], strlen(bad[i]), &text);

		if (r != -EINVAL || strcmp(text, "untouched") != 0) {
			fail_msg("case %zu (%s): %d", i, bad[i], r);
		}
	}
}

static void assert_media(const char *text, const char *const *media, size_t n,
		const char *expected) {
	char *xml = NULL;
	assert_int_equal(twilio_twiml_message_media(text, media, n, NULL, &xml), 0);
	assert_string_equal(xml, expected);
	free(xml);
}

static void test_media_go_in_media_nouns_with_the_text_in_body(void **state) {
	(void)state;
	const char *one[] = {"https://m.example/a.jpg?x=1&y=<2>"};
	assert_media("See <this>", one, 1,
			MESSAGE("<Body>See &lt;this&gt;</Body>"
				"<Media>https://m.example/a.jpg?x=1&amp;y=&lt;2&gt;</Media>"));
	/* Pictures alone: no <Body>. */
	const char *two[] = {"https://m.example/1.png", "http://m.example/2.png"};
	assert_media("", two, 2,
			MESSAGE("<Media>https://m.example/1.png</Media>"
				"<Media>http://m.example/2.png</Media>"));
	assert_media(NULL, two, 2,
			MESSAGE("<Media>https://m.example/1.png</Media>"
				"<Media>http://m.example/2.png</Media>"));
	/* Without media the text stays the <Message>'s own, as before. */
	assert_media("hi", NULL, 0, MESSAGE("hi"));
	assert_media("", NULL, 0, EMPTY);
	/* The action stays on the <Message>. */
	char *xml = NULL;
	assert_int_equal(twilio_twiml_message_media("x", one, 1, "https://h.example/s?ob=1", &xml),
			0);
	assert_non_null(strstr(xml, "<Message action=\"https://h.example/s?ob=1\"><Body>x</Body>"));
	/* What a parser reads back is the text. */
	char *text = NULL;
	assert_int_equal(twilio_twiml_message_text(xml, strlen(xml), &text), 0);
	assert_string_equal(text, "x");
	free(text);
	free(xml);
}

static void test_more_than_ten_media_are_refused(void **state) {
	(void)state;
	const char *eleven[11];
	for (int i = 0; i < 11; i++) {
		eleven[i] = "https://m.example/p.jpg";
	}
	char *xml = (char *)"untouched";
	assert_int_equal(twilio_twiml_message_media("x", eleven, 11, NULL, &xml), -ENOMEM);
	assert_string_equal(xml, "untouched");
	assert_int_equal(twilio_twiml_message_media("x", eleven, 10, NULL, &xml), 0);
	free(xml);
}

static void test_media_urls_are_checked(void **state) {
	(void)state;
	const char *good[] = {"https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
		"http://127.0.0.1:8080/p.png", "HTTPS://Example.COM/x"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (!twilio_media_url_ok(good[i])) {
			fail_msg("refused %s", good[i]);
		}
	}
	char longest[TWILIO_MEDIA_URL_MAX + 2];
	memset(longest, 'a', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	memcpy(longest, "https://x.example/", 18);
	const char *bad[] = {"javascript:alert(1)", "ftp://x.example/p", "data:image/png;base64,AA",
		"https:///p", "https://", "//x.example/p", "x.example/p", "https://x.example/a b",
		"https://x.example/\n", "file:///etc/passwd", "", longest};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (twilio_media_url_ok(bad[i])) {
			fail_msg("took %.40s", bad[i]);
		}
	}
	assert_false(twilio_media_url_ok(NULL));
	longest[TWILIO_MEDIA_URL_MAX] = '\0';
	assert_true(twilio_media_url_ok(longest));
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_media_go_in_media_nouns_with_the_text_in_body),
		cmocka_unit_test(test_more_than_ten_media_are_refused),
		cmocka_unit_test(test_media_urls_are_checked),
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
		cmocka_unit_test(test_reading_gives_back_the_text_written),
		cmocka_unit_test(test_reading_an_empty_response_gives_no_text),
		cmocka_unit_test(test_reading_takes_the_first_message_and_its_body),
		cmocka_unit_test(test_reading_refuses_what_is_not_twiml),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
