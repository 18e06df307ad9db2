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

void sms_cost_format(const struct sms_price *p, int64_t segments, char *out, size_t out_size) {
	char buf[SMS_COST_SIZE];

	if (out == NULL || out_size == 0) {
		return;
	}
	if (p == NULL || p->units < 0 || p->scale < 0 || p->scale > PRICE_MAX_SCALE ||
			segments < 0) {
		snprintf(buf, sizeof(buf), "invalid");
	} else {
		/* Long multiplication on decimal digits: exact for any two int64 values, whose
		 * product has at most COST_DIGITS digits (no 128-bit integer in C11). */
		unsigned char a[INT64_DIGITS], b[INT64_DIGITS];
		int product[COST_DIGITS] = {0}; /* least significant first; a cell <= 19 * 81 */
		int na = digits_of(p->units, a);
		int nb = digits_of(segments, b);
		char *q = buf;

		for (int i = 0; i < na; i++) {
			for (int j = 0; j < nb; j++) {
				product[i + j] += a[i] * b[j];
			}
		}
		for (int k = 0; k + 1 < COST_DIGITS; k++) {
			product[k + 1] += product[k] / 10;
			product[k] %= 10;
		}
		/* At least one digit before the point: 2 × 0.0083 is "0.0166". */
		int n = COST_DIGITS;
		while (n > p->scale + 1 && product[n - 1] == 0) {
			n--;
		}
		for (int k = n - 1; k >= 0; k--) {
			*q++ = (char)('0' + product[k]);
			if (k == p->scale && k > 0) {
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
