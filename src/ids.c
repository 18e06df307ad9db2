#include "ids.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

int ids_random_hex(const char *prefix, size_t bytes, char *out, size_t out_size) {
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[64];
	size_t plen = strlen(prefix);

	if (bytes > sizeof(raw) || plen + 2 * bytes + 1 > out_size) {
		return -EINVAL;
	}
	if (RAND_bytes(raw, (int)bytes) != 1) {
		return -EIO;
	}
	memcpy(out, prefix, plen);
	for (size_t i = 0; i < bytes; i++) {
		out[plen + 2 * i] = hex[raw[i] >> 4];
		out[plen + 2 * i + 1] = hex[raw[i] & 15];
	}
	out[plen + 2 * bytes] = '\0';
	return 0;
}

int ids_ordered_hex(char out[IDS_SIZE]) {
	char random[21];
	int r = ids_random_hex("", 10, random, sizeof(random));
	if (r == 0) {
		snprintf(out, IDS_SIZE, "%012llx%s",
				(unsigned long long)ids_now_ms() & 0xffffffffffffULL, random);
	}
	return r;
}

/* 128 random bits, compared as the hex that writes them (the high byte first). */
struct id_bits {
	uint64_t hi, lo;
};

static uint64_t big_endian(const unsigned char *b) {
	uint64_t v = 0;
	for (int i = 0; i < 8; i++) {
		v = v << 8 | b[i];
	}
	return v;
}

static int by_bits(const void *a, const void *b) {
	const struct id_bits *x = a, *y = b;
	if (x->hi != y->hi) {
		return x->hi < y->hi ? -1 : 1;
	}
	return (x->lo > y->lo) - (x->lo < y->lo);
}

int ids_random_sorted(size_t n, char (*out)[IDS_SIZE]) {
	static const char hex[] = "0123456789abcdef";
	struct id_bits *v = malloc((n ? n : 1) * sizeof(*v));
	unsigned char raw[4096];
	size_t per = sizeof(raw) / 16;

	if (!v) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i += per) {
		size_t k = n - i < per ? n - i : per;
		if (RAND_bytes(raw, (int)(16 * k)) != 1) {
			free(v);
			return -EIO;
		}
		for (size_t j = 0; j < k; j++) {
			v[i + j] = (struct id_bits){big_endian(raw + 16 * j), big_endian(raw + 16 * j + 8)};
		}
	}
	qsort(v, n, sizeof(*v), by_bits);
	for (size_t i = 0; i < n; i++) {
		for (int j = 0; j < 16; j++) {
			uint64_t w = j < 8 ? v[i].hi : v[i].lo;
			unsigned byte = (unsigned)(w >> (56 - 8 * (j % 8))) & 0xff;
			out[i][2 * j] = hex[byte >> 4];
			out[i][2 * j + 1] = hex[byte & 15];
		}
		out[i][32] = '\0';
	}
	free(v);
	return 0;
}

int64_t ids_now(void) {
	return (int64_t)time(NULL);
}

int64_t ids_now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ids_time_format(int64_t t, char out[IDS_TIME_SIZE]) {
	time_t tt = (time_t)(t < IDS_TIME_MIN ? IDS_TIME_MIN : t > IDS_TIME_MAX ? IDS_TIME_MAX : t);
	struct tm tm;
	gmtime_r(&tt, &tm);
	/* Not strftime's %Y: it writes the year 99 as "99", and RFC 3339 wants four digits.
	 * The fields are in range already; the % only shows the compiler that they fit. */
	snprintf(out, IDS_TIME_SIZE, "%04u-%02u-%02uT%02u:%02u:%02uZ",
			(unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
			(unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
			(unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d) {
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int digits(const char *s, int n, int *ret) {
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i])) {
			return -EINVAL;
		}
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return 0;
}

int ids_time_parse(const char *s, int64_t *ret) {
	int y, mo, d, h = 0, mi = 0, sec = 0;
	size_t len = strlen(s);
	const char *p;

	if (len < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
			digits(s + 8, 2, &d)) {
		return -EINVAL;
	}
	static const int month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || d < 1 || d > month_days[mo - 1] || (mo == 2 && d == 29 && !leap)) {
		return -EINVAL; /* no 2026-02-30: it would silently become March 2 */
	}
	int64_t offset = 0;
	/* A bare date ("2026-11-24") is not an RFC 3339 date-time: no midnight of some zone
	 * is guessed for it. */
	if (len < 20 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || digits(s + 11, 2, &h) ||
			s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
			digits(s + 17, 2, &sec)) {
		return -EINVAL;
	}
	if (h > 23 || mi > 59 || sec > 60) {
		return -EINVAL;
	}
	p = s + 19;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p)) {
			return -EINVAL;
		}
		while (isdigit((unsigned char)*p)) {
			p++;
		}
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		goto done;
	}
	if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		int oh, om;
		if (digits(p + 1, 2, &oh) || digits(p + 4, 2, &om) || oh > 23 || om > 59) {
			return -EINVAL;
		}
		offset = (int64_t)(oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
		goto done;
	}
	return -EINVAL;
done:;
	int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
	if (t < IDS_TIME_MIN || t > IDS_TIME_MAX) {
		return -EINVAL; /* "0000-01-01T00:00:00+01:00": a year RFC 3339 cannot write */
	}
	*ret = t;
	return 0;
}
