/* utf8: the strict UTF-8 decoder. */
#include "utf8.h"

/* Unicode's table 3-7, the well-formed sequences, by lead byte: the length, the lead's bits,
 * and the range of the second byte. The narrowed ranges are what exclude overlongs (E0,
 * F0), surrogates (ED) and anything above U+10FFFF (F4); 80–C1 and F5–FF lead nothing. */
static const struct {
	unsigned char first, last; /* lead bytes */
	unsigned char n, mask;
	unsigned char lo, hi; /* second byte */
} utf8_leads[] = {
	{0xc2, 0xdf, 2, 0x1f, 0x80, 0xbf},
	{0xe0, 0xe0, 3, 0x0f, 0xa0, 0xbf},
	{0xe1, 0xec, 3, 0x0f, 0x80, 0xbf},
	{0xed, 0xed, 3, 0x0f, 0x80, 0x9f},
	{0xee, 0xef, 3, 0x0f, 0x80, 0xbf},
	{0xf0, 0xf0, 4, 0x07, 0x90, 0xbf},
	{0xf1, 0xf3, 4, 0x07, 0x80, 0xbf},
	{0xf4, 0xf4, 4, 0x07, 0x80, 0x8f},
};

int utf8_decode(const unsigned char *s, size_t len, uint32_t *ret_cp) {
	size_t k = 0;

	if (s[0] < 0x80) {
		*ret_cp = s[0];
		return 1;
	}
	while (k < sizeof(utf8_leads) / sizeof(utf8_leads[0]) && s[0] > utf8_leads[k].last) {
		k++;
	}
	if (k == sizeof(utf8_leads) / sizeof(utf8_leads[0]) || s[0] < utf8_leads[k].first) {
		return -1; /* 80–C1 (continuation or overlong lead), F5–FF */
	}
	int n = utf8_leads[k].n;
	uint32_t cp = s[0] & utf8_leads[k].mask;
	unsigned char lo = utf8_leads[k].lo;
	unsigned char hi = utf8_leads[k].hi;
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
