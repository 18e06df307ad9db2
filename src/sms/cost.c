/* sms: prices per segment as exact decimals, and the cost of a number of segments. */
#include "sms/sms.h"

#include <errno.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define PRICE_MAX_INT_DIGITS 12
#define PRICE_MAX_SCALE 9
#define INT64_DIGITS 19 /* INT64_MAX is 9223372036854775807 */
#define COST_DIGITS 38  /* a product of two int64 values is below 2^126 < 10^38 */
_Static_assert(SMS_COST_SIZE >= COST_DIGITS + 2, "a cost is its digits, '.' and NUL");

/* True for the ASCII digits only (isdigit() depends on the locale). */
static bool is_digit(char c) {
	return c >= '0' && c <= '9';
}

/* Appends digit c to *v (v = v * 10 + digit); false if the result would pass INT64_MAX. */
static bool append_digit(int64_t *v, char c) {
	int d = c - '0';

	if (*v > (INT64_MAX - d) / 10) {
		return false;
	}
	*v = *v * 10 + d;
	return true;
}

int sms_price_parse(const char *s, struct sms_price *ret) {
	int64_t units = 0;
	int int_digits = 0;
	int scale = 0;
	const char *p = s;

	if (s == NULL || ret == NULL) {
		return -EINVAL;
	}
	for (; is_digit(*p); p++) {
		if (++int_digits > PRICE_MAX_INT_DIGITS) {
			return -EINVAL;
		}
		units = units * 10 + (*p - '0'); /* <= 12 digits: cannot overflow */
	}
	if (int_digits == 0) {
		return -EINVAL; /* "", ".5", "-1", "abc" */
	}
	if (*p == '.') {
		for (p++; is_digit(*p); p++) {
			if (++scale > PRICE_MAX_SCALE || !append_digit(&units, *p)) {
				return -EINVAL;
			}
		}
		if (scale == 0) {
			return -EINVAL; /* "1." */
		}
	}
	if (*p != '\0') {
		return -EINVAL; /* "1e3", "1 ", "1,5" */
	}
	ret->units = units;
	ret->scale = scale;
	return 0;
}

/* The decimal digits of a >= 0, least significant first; returns how many (none for 0). */
static int digits_of(int64_t a, unsigned char d[INT64_DIGITS]) {
	int n = 0;

	for (; a > 0; a /= 10) {
		d[n++] = (unsigned char)(a % 10);
	}
	return n;
}

static bool price_ok(const struct sms_price *p) {
	return p && p->units >= 0 && p->scale >= 0 && p->scale <= PRICE_MAX_SCALE;
}

/* Adds count × p, shifted to scale decimals (scale >= p->scale), into sum (decimal digits,
 * least significant first, SUM_DIGITS of them; each cell stays below 10 after). Long
 * multiplication on decimal digits: exact for any two int64 values (no 128-bit integer in
 * C11). */
#define SUM_DIGITS (COST_DIGITS + PRICE_MAX_SCALE + 2)
static void add_product(int sum[SUM_DIGITS], const struct sms_price *p, int64_t count,
		int scale) {
	unsigned char a[INT64_DIGITS], b[INT64_DIGITS];
	int na = digits_of(p->units, a);
	int nb = digits_of(count, b);
	int shift = scale - p->scale;
	for (int i = 0; i < na; i++) {
		for (int j = 0; j < nb; j++) {
			sum[i + j + shift] += a[i] * b[j]; /* a cell <= 19 * 81 + 9 */
		}
	}
	for (int k = 0; k + 1 < SUM_DIGITS; k++) {
		sum[k + 1] += sum[k] / 10;
		sum[k] %= 10;
	}
}

/* Writes the n counts × prices, summed, with the largest number of decimals among the
 * prices; "invalid" for a bad price or a negative count; "" when it does not fit. */
static void cost_sum(const struct sms_price *const *p, const int64_t *count, size_t n,
		char *out, size_t out_size) {
	char buf[SMS_USAGE_COST_SIZE];
	int scale = 0;
	bool ok = true;

	if (out == NULL || out_size == 0) {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		ok = ok && price_ok(p[i]) && count[i] >= 0;
		if (ok && p[i]->scale > scale) {
			scale = p[i]->scale;
		}
	}
	if (!ok) {
		snprintf(buf, sizeof(buf), "invalid");
	} else {
		int sum[SUM_DIGITS] = {0};
		char *q = buf;
		for (size_t i = 0; i < n; i++) {
			add_product(sum, p[i], count[i], scale);
		}
		/* At least one digit before the point: 2 × 0.0083 is "0.0166". */
		int len = SUM_DIGITS;
		while (len > scale + 1 && sum[len - 1] == 0) {
			len--;
		}
		for (int k = len - 1; k >= 0 && q < buf + sizeof(buf) - 2; k--) {
			*q++ = (char)('0' + sum[k]);
			if (k == scale && k > 0) {
				*q++ = '.';
			}
		}
		*q = '\0';
	}
	/* A cut number would be a wrong number: write nothing rather than part of it. */
	if (strlen(buf) < out_size) {
		memcpy(out, buf, strlen(buf) + 1);
	} else {
		out[0] = '\0';
	}
}

void sms_cost_format(const struct sms_price *p, int64_t segments, char *out, size_t out_size) {
	cost_sum(&p, &segments, 1, out, out_size);
}

void sms_usage_cost_format(const struct sms_prices *p, int64_t segments, int64_t mms,
		int64_t whatsapp, char *out, size_t out_size) {
	const struct sms_price *prices[3] = {p ? &p->segment : NULL, p ? &p->mms : NULL,
		p ? &p->whatsapp : NULL};
	const int64_t counts[3] = {segments, mms, whatsapp};
	cost_sum(prices, counts, 3, out, out_size);
}
