/* libFuzzer harness for phone.h: phone_is_valid and phone_mask on the input up to its first
 * NUL. Both are checked against what phone.h promises, written here from the header alone:
 * E.164 is '+' then 8 to 15 ASCII digits, the first not '0'; the mask is "***", or the
 * first run of n >= 9 ASCII digits as its first k, "***", its last k, with k = min(4,
 * (n - 3) / 2), with the '+' that directly precedes the run (so at least three digits of
 * the run stay hidden). Beyond that oracle, the rules a log reader relies on are
 * checked on their own: the result is NUL-terminated within PHONE_MASK_SIZE (the buffer is
 * exactly that size, so AddressSanitizer sees any write past it), holds only '+', digits and
 * '*', and never shows more than four digits in a row. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "phone.h"

static bool is_digit(char c) {
	return c >= '0' && c <= '9';
}

static bool expected_valid(const char *s) {
	size_t n = strlen(s);

	if (n < 1 + 8 || n > 1 + 15 || s[0] != '+' || s[1] == '0') {
		return false;
	}
	for (size_t i = 1; i < n; i++) {
		if (!is_digit(s[i])) {
			return false;
		}
	}
	return true;
}

static void expected_mask(const char *s, char out[PHONE_MASK_SIZE]) {
	size_t i = 0;

	strcpy(out, "***");
	while (s[i] != '\0') {
		size_t start = i;

		while (is_digit(s[i])) {
			i++;
		}
		if (i - start >= 9) {
			const char *plus = start > 0 && s[start - 1] == '+' ? "+" : "";

			int k = (int)((i - start - 3) / 2) < 4 ? (int)((i - start - 3) / 2) : 4;

			snprintf(out, PHONE_MASK_SIZE, "%s%.*s***%.*s", plus, k, s + start, k, s + i - k);
			return;
		}
		if (i == start) {
			i++;
		}
	}
}

static void check_mask_shape(const char *out) {
	size_t run = 0;

	FUZZ_CHECK(memchr(out, '\0', PHONE_MASK_SIZE) != NULL);
	for (const char *p = out; *p != '\0'; p++) {
		FUZZ_CHECK(is_digit(*p) || *p == '+' || *p == '*');
		run = is_digit(*p) ? run + 1 : 0;
		FUZZ_CHECK(run <= 4);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	char expected[PHONE_MASK_SIZE];
	char *s = fuzz_strndup(data, size);
	char *out = malloc(PHONE_MASK_SIZE);

	if (!s || !out) {
		free(s);
		free(out);
		return 0;
	}

	FUZZ_CHECK(phone_is_valid(s) == expected_valid(s));

	memset(out, 'X', PHONE_MASK_SIZE); /* no NUL: a missing terminator shows */
	phone_mask(s, out);
	check_mask_shape(out);
	expected_mask(s, expected);
	FUZZ_CHECK(strcmp(out, expected) == 0);

	memset(out, 'X', PHONE_MASK_SIZE);
	phone_mask(NULL, out);
	FUZZ_CHECK(strcmp(out, "***") == 0);
	FUZZ_CHECK(!phone_is_valid(NULL));

	free(out);
	free(s);
	return 0;
}
