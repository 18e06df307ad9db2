/* phone: E.164 validation and log masking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "phone.h"

struct e164_case {
	const char *id;
	const char *number;
	bool valid;
};

static const struct e164_case e164_cases[] = {
	{"us", "+15550100101", true},
	{"uk", "+442071838750", true},
	{"cn", "+8613812345678", true},
	{"8-digits-shortest", "+12345678", true},
	{"15-digits-longest", "+123456789012345", true},
	{"phone-size-fits-longest", "+999999999999999", true},
	{"empty", "", false},
	{"plus-only", "+", false},
	{"no-plus", "15550100101", false},
	{"leading-zero", "+05550100101", false},
	{"7-digits", "+1234567", false},
	{"16-digits", "+1234567890123456", false},
	{"very-long", "+15550100101555010010155501001015550100101", false},
	{"space-inside", "+1 5550100101", false},
	{"leading-space", " +15550100101", false},
	{"trailing-space", "+15550100101 ", false},
	{"dashes", "+1-555-010-0101", false},
	{"parentheses", "+1(555)0100101", false},
	{"letters", "+1555CALLNOW", false},
	{"whatsapp-prefix", "whatsapp:+15550100101", false},
	{"trailing-newline", "+15550100101\n", false},
	{"double-plus", "++15550100101", false},
	{"plus-inside", "+1555+0100101", false},
	{"fullwidth-digits", "+\xef\xbc\x91\xef\xbc\x95\xef\xbc\x95\xef\xbc\x95\xef\xbc\x90"
			     "\xef\xbc\x91\xef\xbc\x90\xef\xbc\x90\xef\xbc\x91\xef\xbc\x90"
			     "\xef\xbc\x91",
			false},
	{"arabic-indic-digits", "+\xd9\xa1\xd9\xa5\xd9\xa5\xd9\xa5\xd9\xa0\xd9\xa1\xd9\xa0\xd9\xa0",
			false},
	{"high-bytes", "+1555\xff\xfe" "0101", false},
};

static void test_is_valid_accepts_e164_and_rejects_everything_else(void **state) {
	(void)state;
	int failures = 0;

	for (size_t i = 0; i < sizeof(e164_cases) / sizeof(e164_cases[0]); i++) {
		const struct e164_case *c = &e164_cases[i];

		if (phone_is_valid(c->number) != c->valid) {
			print_error("case %s: \"%s\" should be %s\n", c->id, c->number,
					c->valid ? "valid" : "invalid");
			failures++;
		}
		/* Every valid number fits PHONE_SIZE. */
		if (c->valid && strlen(c->number) >= PHONE_SIZE) {
			print_error("case %s: valid but longer than PHONE_SIZE\n", c->id);
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

static void test_is_valid_rejects_null(void **state) {
	(void)state;

	assert_false(phone_is_valid(NULL));
}

/* Masks s into a heap buffer of exactly PHONE_MASK_SIZE bytes (so ASan sees any overrun)
 * and checks the result against expected. */
static void check_mask(const char *s, const char *expected) {
	char *out = malloc(PHONE_MASK_SIZE);

	assert_non_null(out);
	memset(out, 'X', PHONE_MASK_SIZE);
	phone_mask(s, out);
	assert_string_equal(out, expected);
	free(out);
}

static void test_mask_keeps_country_and_last_four(void **state) {
	(void)state;

	check_mask("+15550100101", "+1555***0101");
}

static void test_mask_15_digit_number_keeps_four_and_four(void **state) {
	(void)state;

	check_mask("+123456789012345", "+1234***2345");
}

static void test_mask_hides_at_least_three_digits_of_a_short_number(void **state) {
	(void)state;

	check_mask("+354123456", "+354***456");   /* 9 digits: 3 + 3 shown */
	check_mask("+3541234567", "+354***567");  /* 10: 3 + 3 */
	check_mask("+44123456789", "+4412***6789"); /* 11: 4 + 4, 3 hidden */
}

static void test_mask_short_numbers_become_stars(void **state) {
	(void)state;

	check_mask("+12345678", "***"); /* a valid 8-digit number: 4 + 4 would be all of it */
	check_mask("12345", "***");
	check_mask("+1", "***");
	check_mask("", "***");
	check_mask("+1234-5678-9012", "***"); /* no run of 9 digits */
}

static void test_mask_null_becomes_stars(void **state) {
	(void)state;

	check_mask(NULL, "***");
}

static void test_mask_whatsapp_address_reveals_only_four_and_four(void **state) {
	(void)state;

	check_mask("whatsapp:+15550100101", "+1555***0101");
}

static void test_mask_never_copies_anything_but_digits_plus_and_stars(void **state) {
	(void)state;
	static const char *const inputs[] = {
		"whatsapp:+15550100101",
		"messenger:123456789012345678",
		"my number is 15550100101, call me",
		"+15550100101\n",
		"sms:+1555010010199999999999999999999",
		"\xff\xfe+15550100101\xc3",
		"+\xef\xbc\x91\xef\xbc\x95\xef\xbc\x95\xef\xbc\x95\xef\xbc\x90\xef\xbc\x91\xef\xbc\x90",
	};
	int failures = 0;

	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		char out[PHONE_MASK_SIZE];
		size_t digits = 0;
		bool other = false;

		phone_mask(inputs[i], out);
		for (const char *p = out; *p != '\0'; p++) {
			if (*p >= '0' && *p <= '9') {
				digits++;
			} else if (*p != '+' && *p != '*') {
				other = true;
			}
		}
		if (digits > 8 || other || strstr(out, "***") == NULL) {
			print_error("input %zu: mask \"%s\" reveals too much\n", i, out);
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

static void test_mask_very_long_junk_fits_mask_size(void **state) {
	(void)state;
	size_t len = 100000;
	char *junk = malloc(len + 1);
	char *out = malloc(PHONE_MASK_SIZE);

	assert_non_null(junk);
	assert_non_null(out);
	/* One long digit run. */
	memset(junk, '7', len);
	junk[0] = '+';
	junk[len] = '\0';
	phone_mask(junk, out);
	assert_string_equal(out, "+7777***7777");
	/* Mixed junk with short digit runs only. */
	for (size_t i = 0; i < len; i++) {
		junk[i] = "ab1+2:3 4"[i % 9];
	}
	phone_mask(junk, out);
	assert_string_equal(out, "***");
	assert_true(strlen(out) < PHONE_MASK_SIZE);
	free(out);
	free(junk);
}

static void test_address_parse_reads_sms_and_whatsapp(void **state) {
	(void)state;
	static const struct {
		const char *addr;
		enum phone_channel ch;
		const char *number;
	} cases[] = {
		{"+15550100101", PHONE_CHANNEL_SMS, "+15550100101"},
		{"whatsapp:+15550100101", PHONE_CHANNEL_WHATSAPP, "+15550100101"},
		{"whatsapp:+12345678", PHONE_CHANNEL_WHATSAPP, "+12345678"},
		{"whatsapp:+123456789012345", PHONE_CHANNEL_WHATSAPP, "+123456789012345"},
	};
	int failures = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum phone_channel ch = PHONE_CHANNEL_SMS;
		char number[PHONE_SIZE] = "";
		int r = phone_address_parse(cases[i].addr, &ch, number);
		if (r != 0 || ch != cases[i].ch || strcmp(number, cases[i].number) != 0) {
			print_error("\"%s\": r=%d ch=%d number=\"%s\"\n", cases[i].addr, r, (int)ch,
					number);
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

static void test_address_parse_refuses_other_forms_and_writes_nothing(void **state) {
	(void)state;
	static const char *const hostile[] = {
		"",
		"whatsapp:",
		"whatsapp:15550100101",        /* no '+' */
		"whatsapp:+05550100101",       /* leading 0 */
		"whatsapp:+1555",              /* too short */
		"whatsapp:+1234567890123456",  /* 16 digits */
		"whatsapp: +15550100101",      /* space */
		"whatsapp:+15550100101 ",
		" whatsapp:+15550100101",
		"WhatsApp:+15550100101",       /* Twilio sends the prefix in lower case */
		"WHATSAPP:+15550100101",
		"whatsapp:whatsapp:+15550100101",
		"whatsapp:+1555010010a",
		"whatsapp;+15550100101",
		"whatsapp+15550100101",
		"messenger:+15550100101",
		"messenger:1234567890",
		"rcs:+15550100101",
		"sms:+15550100101",
		"tel:+15550100101",
		"+15550100101:whatsapp",
		"15550100101",
		"+",
		"+1 555 010 0101",
		"+1555\n0100101",
		"whatsapp:+1555\t0100101",
		"+\xef\xbc\x91" "5550100101",   /* a full-width digit */
		"whatsapp:+15550100101\xc2\xa0", /* a no-break space */
	};
	int failures = 0;

	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		enum phone_channel ch = (enum phone_channel)42;
		char number[PHONE_SIZE] = "untouched";
		int r = phone_address_parse(hostile[i], &ch, number);
		if (r != -EINVAL || (int)ch != 42 || strcmp(number, "untouched") != 0) {
			print_error("case %zu: accepted or written (r=%d)\n", i, r);
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

static void test_address_parse_refuses_null_and_long_junk(void **state) {
	(void)state;
	enum phone_channel ch;
	char number[PHONE_SIZE];
	size_t len = 100000;
	char *junk = malloc(len + 1);

	assert_int_equal(phone_address_parse(NULL, &ch, number), -EINVAL);
	assert_non_null(junk);
	memcpy(junk, "whatsapp:+", 10);
	memset(junk + 10, '7', len - 10);
	junk[len] = '\0';
	assert_int_equal(phone_address_parse(junk, &ch, number), -EINVAL);
	assert_int_equal(phone_address_parse(junk + 9, &ch, number), -EINVAL);
	free(junk);
}

static void test_channel_names_and_optout_keys(void **state) {
	(void)state;
	char key[PHONE_KEY_SIZE];

	assert_string_equal(phone_channel_name(PHONE_CHANNEL_SMS), "sms");
	assert_string_equal(phone_channel_name(PHONE_CHANNEL_WHATSAPP), "whatsapp");
	phone_optout_key(PHONE_CHANNEL_SMS, "+15550100101", key);
	assert_string_equal(key, "+15550100101");
	phone_optout_key(PHONE_CHANNEL_WHATSAPP, "+123456789012345", key);
	assert_string_equal(key, "whatsapp:+123456789012345");
}

/* A reply through the Messages API goes back on the channel its message came on: SMS from
 * the number it was sent to; WhatsApp from TWILIO_WHATSAPP_FROM, else from that number. */
static void test_reply_from_keeps_the_channel(void **state) {
	(void)state;
	char buf[PHONE_KEY_SIZE];
	assert_string_equal(phone_reply_from("+15550100101", "+15550009999", "+15550001111", buf),
			"+15550009999");
	assert_string_equal(phone_reply_from("whatsapp:+15550100101", "whatsapp:+15550009999",
				    "+15550001111", buf),
			"whatsapp:+15550001111");
	assert_string_equal(phone_reply_from("whatsapp:+15550100101", "whatsapp:+15550009999",
				    NULL, buf),
			"whatsapp:+15550009999");
	/* A Messaging Service as the number written to: nothing to prefix, it is kept. */
	assert_string_equal(phone_reply_from("whatsapp:+15550100101", "MG0123", NULL, buf), "MG0123");
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_valid_accepts_e164_and_rejects_everything_else),
		cmocka_unit_test(test_is_valid_rejects_null),
		cmocka_unit_test(test_mask_keeps_country_and_last_four),
		cmocka_unit_test(test_mask_15_digit_number_keeps_four_and_four),
		cmocka_unit_test(test_mask_hides_at_least_three_digits_of_a_short_number),
		cmocka_unit_test(test_mask_short_numbers_become_stars),
		cmocka_unit_test(test_mask_null_becomes_stars),
		cmocka_unit_test(test_mask_whatsapp_address_reveals_only_four_and_four),
		cmocka_unit_test(test_mask_never_copies_anything_but_digits_plus_and_stars),
		cmocka_unit_test(test_mask_very_long_junk_fits_mask_size),
		cmocka_unit_test(test_address_parse_reads_sms_and_whatsapp),
		cmocka_unit_test(test_address_parse_refuses_other_forms_and_writes_nothing),
		cmocka_unit_test(test_address_parse_refuses_null_and_long_junk),
		cmocka_unit_test(test_channel_names_and_optout_keys),
		cmocka_unit_test(test_reply_from_keeps_the_channel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
