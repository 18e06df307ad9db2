#pragma once
/* sms: what a text costs to send. GSM-7 / UCS-2 encoding, segment counts, the price of
 * segments, GSM-7 "smart encoding" of look-alike characters, and cutting a text to fit a
 * number of segments. Knows nothing of anything else. All input is UTF-8. */
#include <stddef.h>
#include <stdint.h>

enum sms_encoding {
	SMS_GSM7,
	SMS_UCS2,
};

struct sms_count {
	enum sms_encoding encoding;
	int segments; /* an empty text is 1 segment (Twilio's calculator) */
	int units;    /* GSM-7 septets (extension table counts 2) or UTF-16 code units */
};

/* Counts text[0..len). GSM-7 if every character is in the GSM 03.38 basic or extension
 * table, else UCS-2. GSM-7: <=160 septets one segment, else 153 a segment, an escape pair
 * never split. UCS-2: <=70 units one segment, else 67, a surrogate pair never split.
 * Bytes that are not valid UTF-8 count as U+FFFD (so UCS-2), one per byte. Never fails:
 * NULL text is the empty text; units and segments saturate at INT_MAX. */
void sms_count(const char *text, size_t len, struct sms_count *ret);

/* "GSM-7" or "UCS-2" (a borrowed constant). */
const char *sms_encoding_name(enum sms_encoding e);

/* A price per segment as an exact decimal: value = units / 10^scale. */
struct sms_price {
	int64_t units;
	int scale; /* 0..9 decimals */
};

/* Parses a non-negative decimal like "0.0083", "1", "0.5": 1 to 12 integer digits, then
 * optionally '.' and 1 to 9 decimals; nothing else (no sign, exponent, spaces, ".5" or
 * "1."). scale is the number of decimals as written ("1.50" → 150, 2). The value must fit
 * units (≤ INT64_MAX: 12 integer digits with up to 6 decimals always do). 0, or -EINVAL
 * with *ret untouched. */
int sms_price_parse(const char *s, struct sms_price *ret);

/* Writes segments × price as a decimal string with the price's number of decimals
 * (2 × 0.0083 → "0.0166"; 0 × 0.0083 → "0.0000"; 3 × 1 → "3"), exact for every price
 * sms_price_parse accepts and every segments from 0 to INT64_MAX (up to 38 digits). It
 * writes "invalid" for a NULL or malformed price or segments < 0. If the result does not
 * fit out_size it writes "" (never a cut number); out_size >= SMS_COST_SIZE always
 * suffices. out_size 0 writes nothing. */
#define SMS_COST_SIZE 40 /* 38 digits, '.', NUL */
void sms_cost_format(const struct sms_price *p, int64_t segments, char *out, size_t out_size);

/* What usage costs: SMS segments, MMS and WhatsApp messages each at its price. */
struct sms_prices {
	struct sms_price segment;
	struct sms_price mms;
	struct sms_price whatsapp;
};
/* segments × p->segment + mms × p->mms + whatsapp × p->whatsapp, exact, written as
 * sms_cost_format does with the most decimals of the three prices (0.0083 and 0.02 →
 * "0.0283" for one each). out_size >= SMS_USAGE_COST_SIZE always suffices. */
#define SMS_USAGE_COST_SIZE 50 /* 38 digits, 9 more decimals, a carry, '.', NUL */
void sms_usage_cost_format(const struct sms_prices *p, int64_t segments, int64_t mms,
		int64_t whatsapp, char *out, size_t out_size);

/* GSM-7 smart encoding: returns a new string (caller frees; NULL on ENOMEM, or for a NULL
 * text with errno EINVAL) where look-alike characters outside GSM-7 are replaced by GSM-7
 * ones: curly single/double quotes and primes → ' and ", en/em dashes, minus sign, hyphen
 * variants → -, ellipsis → "...", no-break / thin / other Unicode spaces → space, bullet →
 * *, fullwidth ASCII → ASCII, zero-width characters removed, and so on, as Twilio's Smart
 * Encoding does. Like Twilio, it replaces only when the whole result becomes GSM-7: a text
 * that keeps a character with no GSM-7 form (emoji, Chinese, invalid UTF-8) is copied
 * unchanged, since it is sent as UCS-2 anyway. */
char *sms_smart_encode(const char *text);

/* Length in bytes of the longest prefix of text[0..len) that fits in max_segments
 * segments when sent alone (encoding decided by that prefix, so "200 × a, 你" fits one
 * segment as 160 'a'), never cutting inside a UTF-8 sequence, a GSM-7 escape pair or a
 * surrogate pair. max_segments >= 1 (below 1, or NULL text: 0). */
size_t sms_fit_segments(const char *text, size_t len, int max_segments);

/* Length in bytes of the longest prefix of text[0..len) that holds at most max_chars
 * Unicode code points, never cutting inside a UTF-8 sequence (each byte that is not valid
 * UTF-8 counts as one code point). NULL text: 0. */
size_t sms_fit_chars(const char *text, size_t len, size_t max_chars);
