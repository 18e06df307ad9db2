/* utf8: the strict UTF-8 decoder. */
#include "utf8.h"

int utf8_decode(const unsigned char *s, size_t len, uint32_t *ret_cp) {
	unsigned char lo = 0x80;
	unsigned char hi = 0xbf;
	uint32_t cp;
	int n;

	if (s[0] < 0x80) {
		*ret_cp = s[0];
		return 1;
	}
	/* The lead byte gives the length and the range of the second byte; the narrowed
	 * ranges are what exclude overlongs (E0, F0), surrogates (ED) and > U+10FFFF (F4). */
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
		if (s[0] == 0xe0) {
			lo = 0xa0;
		} else if (s[0] == 0xed) {
			hi = 0x9f;
		}
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
		if (s[0] == 0xf0) {
			lo = 0x90;
		} else if (s[0] == 0xf4) {
			hi = 0x8f;
		}
	} else {
		return -1; /* 80–C1 (continuation or overlong lead), F5–FF */
	}
	for (int i = 1; i < n; i++) {
		if ((size_t)i >= len || s[i] < lo || s[i] > hi) {
			return -i;
		}
		cp = (cp << 6) | (s[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	*ret_cp = cp;
	return n;
}

bool utf8_valid(const char *s, size_t len) {
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		int r = utf8_decode(u + i, len - i, &cp);

		if (r < 0) {
			return false;
		}
		i += (size_t)r;
	}
	return true;
}

bool utf8_is_space(uint32_t cp) {
	return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0xa0 || cp == 0x1680 ||
	       (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f ||
	       cp == 0x205f || cp == 0x3000;
}
