/* libFuzzer harness for sms.h: sms_count, sms_fit_segments, sms_fit_chars and
 * sms_smart_encode. Byte 0 of the input picks max_segments, byte 1 max_chars, the rest is
 * the text (any bytes, NULs included; smart encoding sees it up to its first NUL).
 *
 * What is checked, from sms.h:
 * - sms_count: 1 segment up to 160 septets / 70 units; otherwise at least units / 153 (or
 *   67) segments and, since only a character that does not fit whole wastes room, at most
 *   units / 152 (or 66); invalid UTF-8 means UCS-2; UCS-2 units are the UTF-16 code units
 *   (an invalid byte one U+FFFD).
 * - sms_fit_segments: at most len, on a character boundary, the prefix counts at most
 *   max_segments segments, and one more character would not (the longest such prefix);
 *   0 below 1 segment or for NULL.
 * - sms_fit_chars: at most len, on a character boundary, and exactly min(max_chars, the
 *   text's characters) characters.
 * - sms_smart_encode: a C string; a GSM-7 text comes back unchanged; a changed text is
 *   GSM-7; encoding its result again changes nothing. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "sms/sms.h"

/* Length of the character at s[0..len), len > 0, as sms.h counts them: a valid UTF-8
 * sequence, or one byte that is not part of one. */
static size_t char_len(const char *s, size_t len, uint32_t *ret_cp) {
	int r = fuzz_utf8_decode((const uint8_t *)s, len, ret_cp);

	if (r < 0) {
		*ret_cp = 0xfffd;
		return 1;
	}
	return (size_t)r;
}

/* True if text[0..at) ends on a character boundary. */
static bool is_boundary(const char *text, size_t len, size_t at) {
	size_t i = 0;
	uint32_t cp;

	while (i < at) {
		i += char_len(text + i, len - i, &cp);
	}
	return i == at;
}

static size_t count_chars(const char *text, size_t len) {
	size_t n = 0;
	uint32_t cp;

	for (size_t i = 0; i < len; n++) {
		i += char_len(text + i, len - i, &cp);
	}
	return n;
}

static void check_count(const char *text, size_t len) {
	struct sms_count c;
	long single;
	long multi;
	size_t utf16 = 0;
	uint32_t cp;

	sms_count(text, len, &c);
	FUZZ_CHECK(c.encoding == SMS_GSM7 || c.encoding == SMS_UCS2);
	FUZZ_CHECK(c.segments >= 1 && c.units >= 0);
	single = c.encoding == SMS_GSM7 ? 160 : 70;
	multi = c.encoding == SMS_GSM7 ? 153 : 67;
	if (c.units <= single) {
		FUZZ_CHECK(c.segments == 1);
	} else {
		FUZZ_CHECK(c.segments >= (c.units + multi - 1) / multi);
		FUZZ_CHECK(c.segments <= (c.units + multi - 2) / (multi - 1));
	}
	if (!fuzz_utf8_valid(text, len)) {
		FUZZ_CHECK(c.encoding == SMS_UCS2);
	}
	for (size_t i = 0; i < len;) {
		i += char_len(text + i, len - i, &cp);
		utf16 += cp > 0xffff ? 2 : 1;
	}
	if (c.encoding == SMS_UCS2) {
		FUZZ_CHECK((size_t)c.units == utf16);
	} else {
		/* GSM-7: 1 septet a character, 2 for the extension table. */
		size_t chars = count_chars(text, len);

		FUZZ_CHECK((size_t)c.units >= chars && (size_t)c.units <= 2 * chars);
	}
}

static void check_fit_segments(const char *text, size_t len, int max) {
	size_t fit = sms_fit_segments(text, len, max);
	struct sms_count c;
	uint32_t cp;

	if (max < 1) {
		FUZZ_CHECK(fit == 0);
		return;
	}
	FUZZ_CHECK(fit <= len);
	FUZZ_CHECK(is_boundary(text, len, fit));
	sms_count(text, fit, &c);
	FUZZ_CHECK(c.segments <= max);
	if (fit < len) {
		/* A prefix only gains segments as it grows, so one more character must not fit. */
		sms_count(text, fit + char_len(text + fit, len - fit, &cp), &c);
		FUZZ_CHECK(c.segments > max);
	}
}

static void check_fit_chars(const char *text, size_t len, size_t max) {
	size_t fit = sms_fit_chars(text, len, max);
	size_t all = count_chars(text, len);

	FUZZ_CHECK(fit <= len);
	FUZZ_CHECK(is_boundary(text, len, fit));
	FUZZ_CHECK(count_chars(text, fit) == (max < all ? max : all));
}

static void check_smart_encode(const char *s) {
	struct sms_count in;
	struct sms_count out;
	char *enc = sms_smart_encode(s);
	char *again;

	if (!enc) {
		return; /* ENOMEM */
	}
	sms_count(s, strlen(s), &in);
	sms_count(enc, strlen(enc), &out);
	if (in.encoding == SMS_GSM7) {
		FUZZ_CHECK(strcmp(enc, s) == 0);
	}
	if (strcmp(enc, s) != 0) {
		FUZZ_CHECK(out.encoding == SMS_GSM7);
	}
	again = sms_smart_encode(enc);
	if (again) {
		FUZZ_CHECK(strcmp(again, enc) == 0);
	}
	free(again);
	free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	struct sms_count c;
	const char *text;
	size_t len;
	int max_segments;
	size_t max_chars;
	char *s;

	if (size < 2) {
		return 0;
	}
	/* -2..29 segments, or no limit; 0..239 characters, then steps of 500, or no limit. */
	max_segments = data[0] == 0xff ? INT_MAX : (int)(data[0] % 32) - 2;
	max_chars = data[1] == 0xff ? SIZE_MAX
		    : data[1] < 0xf0 ? data[1]
				     : (size_t)(data[1] - 0xf0) * 500;
	text = (const char *)data + 2;
	len = size - 2;

	check_count(text, len);
	check_fit_segments(text, len, max_segments);
	FUZZ_CHECK(sms_fit_segments(text, len, INT_MAX) == len);
	check_fit_chars(text, len, max_chars);
	FUZZ_CHECK(sms_fit_chars(text, len, SIZE_MAX) == len);

	/* NULL is the empty text. */
	sms_count(NULL, len, &c);
	FUZZ_CHECK(c.encoding == SMS_GSM7 && c.segments == 1 && c.units == 0);
	FUZZ_CHECK(sms_fit_segments(NULL, len, max_segments) == 0);
	FUZZ_CHECK(sms_fit_chars(NULL, len, max_chars) == 0);
	errno = 0;
	FUZZ_CHECK(sms_smart_encode(NULL) == NULL && errno == EINVAL);

	s = fuzz_strndup((const uint8_t *)text, len);
	if (!s) {
		return 0;
	}
	check_smart_encode(s);
	free(s);
	return 0;
}
