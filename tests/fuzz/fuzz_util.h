#pragma once
/* fuzz_util: what the harnesses share. An invariant check that names the broken rule before
 * aborting, a NUL-terminated copy of the input, and a strict UTF-8 decoder written from the
 * Unicode tables (table 3-7) rather than taken from src/, so that it can judge src/. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Aborts (libFuzzer then saves the input) with the file, line and rule that broke. */
#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__,       \
					#cond);                                                    \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* data[0..size) and a NUL, the caller's to free(); NULL if out of memory (the harness then
 * skips the input: running out of memory is libFuzzer's -rss_limit_mb to judge). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size) {
	char *s = malloc(size + 1);

	if (!s) {
		return NULL;
	}
	if (size > 0) {
		memcpy(s, data, size);
	}
	s[size] = '\0';
	return s;
}

/* Decodes the UTF-8 sequence at s[0..len), len > 0. Returns its length (1-4) and sets
 * *ret_cp if it is well-formed (no overlong forms, no surrogates, nothing above U+10FFFF);
 * else returns minus the length of the maximal ill-formed subpart (-1 to -3): the bytes
 * that one U+FFFD replaces under Unicode's "maximal subpart" practice. */
static inline int fuzz_utf8_decode(const uint8_t *s, size_t len, uint32_t *ret_cp) {
	/* For each lead byte: the sequence length and the range of the second byte. */
	uint8_t b = s[0];
	uint8_t lo = 0x80;
	uint8_t hi = 0xbf;
	uint32_t cp;
	size_t n;

	if (b <= 0x7f) {
		*ret_cp = b;
		return 1;
	} else if (b >= 0xc2 && b <= 0xdf) {
		n = 2;
		cp = b & 0x1fu;
	} else if (b == 0xe0) {
		n = 3;
		cp = 0;
		lo = 0xa0;
	} else if ((b >= 0xe1 && b <= 0xec) || b == 0xee || b == 0xef) {
		n = 3;
		cp = b & 0x0fu;
	} else if (b == 0xed) {
		n = 3;
		cp = 0x0d;
		hi = 0x9f;
	} else if (b == 0xf0) {
		n = 4;
		cp = 0;
		lo = 0x90;
	} else if (b >= 0xf1 && b <= 0xf3) {
		n = 4;
		cp = b & 0x07u;
	} else if (b == 0xf4) {
		n = 4;
		cp = 4;
		hi = 0x8f;
	} else {
		return -1;
	}
	for (size_t i = 1; i < n; i++) {
		if (i >= len || s[i] < lo || s[i] > hi) {
			return -(int)i;
		}
		cp = cp << 6 | (s[i] & 0x3fu);
		lo = 0x80;
		hi = 0xbf;
	}
	*ret_cp = cp;
	return (int)n;
}

static inline bool fuzz_utf8_valid(const char *s, size_t len) {
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		int r = fuzz_utf8_decode((const uint8_t *)s + i, len - i, &cp);

		if (r < 0) {
			return false;
		}
		i += (size_t)r;
	}
	return true;
}
