/* sms: prices per segment as exact decimals, and the cost of a number of segments. */
#include "sms/sms.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define PRICE_MAX_INT_DIGITS 12
#define PRICE_MAX_SCALE 9
/* Real output is at most 21 bytes (19 digits, '.', NUL); 48 is what gcc's
 * -Wformat-truncation assumes two int64 fields could take. */
#define COST_BUF_SIZE 48

/* 10^0 .. 10^9. */
static const int64_t pow10_table[PRICE_MAX_SCALE + 1] = {
	1,      10,      100,      1000,      10000,
	100000, 1000000, 10000000, 100000000, 1000000000,
};

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

void sms_cost_format(const struct sms_price *p, int64_t segments, char *out, size_t out_size) {
	char buf[COST_BUF_SIZE];
	int64_t total;
	int64_t div;

	if (out == NULL || out_size == 0) {
		return;
	}
	if (p == NULL || p->units < 0 || p->scale < 0 || p->scale > PRICE_MAX_SCALE ||
			segments < 0) {
		snprintf(buf, sizeof(buf), "invalid");
	} else if (segments != 0 && p->units > INT64_MAX / segments) {
		snprintf(buf, sizeof(buf), "overflow");
	} else {
		total = p->units * segments;
		div = pow10_table[p->scale];
		if (p->scale == 0) {
			snprintf(buf, sizeof(buf), "%" PRId64, total);
		} else {
			snprintf(buf, sizeof(buf), "%" PRId64 ".%0*" PRId64, total / div, p->scale,
					total % div);
		}
	}
	/* A cut number would be a wrong number: write nothing rather than part of it. */
	if (strlen(buf) < out_size) {
		memcpy(out, buf, strlen(buf) + 1);
	} else {
		out[0] = '\0';
	}
}
