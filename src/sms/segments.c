/* sms: GSM-7 / UCS-2 encoding, segment counts, smart encoding and cutting to fit. */
#include "sms/sms.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

#define GSM7_SINGLE 160 /* septets in a lone segment */
#define GSM7_MULTI 153  /* septets in a segment of a concatenated message (6-octet UDH) */
#define UCS2_SINGLE 70  /* UTF-16 code units in a lone segment */
#define UCS2_MULTI 67   /* UTF-16 code units in a segment of a concatenated message */

#define NO_CHAR 0x110000u       /* not a code point: the ESC slot of the basic table */
#define REPLACEMENT 0xFFFDu     /* what a byte that is not valid UTF-8 counts as */
#define FULLWIDTH_FIRST 0xFF01u /* U+FF01..U+FF5E are ASCII 0x21..0x7E, fullwidth */
#define FULLWIDTH_LAST 0xFF5Eu
#define FULLWIDTH_OFFSET 0xFEE0u

/* GSM 03.38 basic table, indexed by GSM code: the Unicode code point of each of its 127
 * characters (0x1B is the escape to the extension table, not a character). */
static const uint32_t gsm7_basic[128] = {
	0x0040, 0x00A3, 0x0024, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC, /* @ £ $ ¥ è é ù ì */
	0x00F2, 0x00C7, 0x000A, 0x00D8, 0x00F8, 0x000D, 0x00C5, 0x00E5, /* ò Ç LF Ø ø CR Å å */
	0x0394, 0x005F, 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8, /* Δ _ Φ Γ Λ Ω Π Ψ */
	0x03A3, 0x0398, 0x039E, NO_CHAR, 0x00C6, 0x00E6, 0x00DF, 0x00C9, /* Σ Θ Ξ ESC Æ æ ß É */
	0x0020, 0x0021, 0x0022, 0x0023, 0x00A4, 0x0025, 0x0026, 0x0027, /* SP ! " # ¤ % & ' */
	0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F, /* ( ) * + , - . / */
	0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036, 0x0037, /* 0-7 */
	0x0038, 0x0039, 0x003A, 0x003B, 0x003C, 0x003D, 0x003E, 0x003F, /* 8 9 : ; < = > ? */
	0x00A1, 0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047, /* ¡ A-G */
	0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D, 0x004E, 0x004F, /* H-O */
	0x0050, 0x0051, 0x0052, 0x0053, 0x0054, 0x0055, 0x0056, 0x0057, /* P-W */
	0x0058, 0x0059, 0x005A, 0x00C4, 0x00D6, 0x00D1, 0x00DC, 0x00A7, /* X Y Z Ä Ö Ñ Ü § */
	0x00BF, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067, /* ¿ a-g */
	0x0068, 0x0069, 0x006A, 0x006B, 0x006C, 0x006D, 0x006E, 0x006F, /* h-o */
	0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077, /* p-w */
	0x0078, 0x0079, 0x007A, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0, /* x y z ä ö ñ ü à */
};

/* GSM 03.38 extension table: ESC + code, 2 septets each. */
static const uint32_t gsm7_extension[10] = {
	0x000C, 0x005E, 0x007B, 0x007D, 0x005C, 0x005B, 0x007E, 0x005D, 0x007C, 0x20AC,
	/* FF ^ { } \ [ ~ ] | € */
};

/* Smart encoding: look-alikes of GSM-7 characters (after Twilio's Smart Encoding list).
 * Every replacement is GSM-7; "" removes an invisible character. Fullwidth ASCII
 * (U+FF01..U+FF5E) is handled by smart_replace(), not listed here. */
static const struct {
	uint32_t cp;
	const char *to;
} smart_table[] = {
	{0x0009, " "},   /* TAB */
	{0x0060, "'"},   /* ` grave accent */
	{0x00A0, " "},   /* NO-BREAK SPACE */
	{0x00AB, "\""},  /* « */
	{0x00AD, ""},    /* SOFT HYPHEN (invisible) */
	{0x00B4, "'"},   /* ´ acute accent */
	{0x00BB, "\""},  /* » */
	{0x00BC, "1/4"}, /* ¼ */
	{0x00BD, "1/2"}, /* ½ */
	{0x00BE, "3/4"}, /* ¾ */
	{0x00F7, "/"},   /* ÷ */
	{0x02B9, "'"},   /* ʹ modifier letter prime */
	{0x02BA, "\""},  /* ʺ modifier letter double prime */
	{0x02BB, "'"},   /* ʻ modifier letter turned comma */
	{0x02BC, "'"},   /* ʼ modifier letter apostrophe */
	{0x02BD, "'"},   /* ʽ modifier letter reversed comma */
	{0x02C6, "^"},   /* ˆ modifier letter circumflex */
	{0x02C8, "'"},   /* ˈ modifier letter vertical line */
	{0x02CA, "'"},   /* ˊ modifier letter acute accent */
	{0x02CB, "'"},   /* ˋ modifier letter grave accent */
	{0x02DC, "~"},   /* ˜ small tilde */
	{0x02EE, "\""},  /* ˮ modifier letter double apostrophe */
	{0x2000, " "},   /* EN QUAD */
	{0x2001, " "},   /* EM QUAD */
	{0x2002, " "},   /* EN SPACE */
	{0x2003, " "},   /* EM SPACE */
	{0x2004, " "},   /* THREE-PER-EM SPACE */
	{0x2005, " "},   /* FOUR-PER-EM SPACE */
	{0x2006, " "},   /* SIX-PER-EM SPACE */
	{0x2007, " "},   /* FIGURE SPACE */
	{0x2008, " "},   /* PUNCTUATION SPACE */
	{0x2009, " "},   /* THIN SPACE */
	{0x200A, " "},   /* HAIR SPACE */
	{0x200B, ""},    /* ZERO WIDTH SPACE */
	{0x2010, "-"},   /* ‐ hyphen */
	{0x2011, "-"},   /* ‑ non-breaking hyphen */
	{0x2012, "-"},   /* ‒ figure dash */
	{0x2013, "-"},   /* – en dash */
	{0x2014, "-"},   /* — em dash */
	{0x2015, "-"},   /* ― horizontal bar */
	{0x2017, "_"},   /* ‗ double low line */
	{0x2018, "'"},   /* ‘ */
	{0x2019, "'"},   /* ’ */
	{0x201A, ","},   /* ‚ single low-9 quotation mark */
	{0x201B, "'"},   /* ‛ */
	{0x201C, "\""},  /* “ */
	{0x201D, "\""},  /* ” */
	{0x201E, "\""},  /* „ */
	{0x201F, "\""},  /* ‟ */
	{0x2022, "*"},   /* • bullet */
	{0x2026, "..."}, /* … horizontal ellipsis */
	{0x2028, "\n"},  /* LINE SEPARATOR */
	{0x2029, "\n"},  /* PARAGRAPH SEPARATOR */
	{0x202F, " "},   /* NARROW NO-BREAK SPACE */
	{0x2032, "'"},   /* ′ prime */
	{0x2033, "\""},  /* ″ double prime */
	{0x2035, "'"},   /* ‵ reversed prime */
	{0x2036, "\""},  /* ‶ reversed double prime */
	{0x2039, "'"},   /* ‹ */
	{0x203A, "'"},   /* › */
	{0x203C, "!!"},  /* ‼ */
	{0x2043, "-"},   /* ⁃ hyphen bullet */
	{0x2044, "/"},   /* ⁄ fraction slash */
	{0x205F, " "},   /* MEDIUM MATHEMATICAL SPACE */
	{0x2060, ""},    /* WORD JOINER */
	{0x2212, "-"},   /* − minus sign */
	{0x2215, "/"},   /* ∕ division slash */
	{0x2217, "*"},   /* ∗ asterisk operator */
	{0x2223, "|"},   /* ∣ divides */
	{0x223C, "~"},   /* ∼ tilde operator */
	{0x275B, "'"},   /* ❛ */
	{0x275C, "'"},   /* ❜ */
	{0x275D, "\""},  /* ❝ */
	{0x275E, "\""},  /* ❞ */
	{0x3000, " "},   /* IDEOGRAPHIC SPACE */
	{0x3001, ","},   /* 、 ideographic comma */
	{0x3002, "."},   /* 。 ideographic full stop */
	{0x301D, "\""},  /* 〝 */
	{0x301E, "\""},  /* 〞 */
	{0x301F, "\""},  /* 〟 */
	{0xFE50, ","},   /* ﹐ small comma */
	{0xFE52, "."},   /* ﹒ small full stop */
	{0xFE54, ";"},   /* ﹔ small semicolon */
	{0xFE55, ":"},   /* ﹕ small colon */
	{0xFE56, "?"},   /* ﹖ small question mark */
	{0xFE57, "!"},   /* ﹗ small exclamation mark */
	{0xFE58, "-"},   /* ﹘ small em dash */
	{0xFE59, "("},   /* ﹙ */
	{0xFE5A, ")"},   /* ﹚ */
	{0xFE5B, "{"},   /* ﹛ */
	{0xFE5C, "}"},   /* ﹜ */
	{0xFE5F, "#"},   /* ﹟ */
	{0xFE60, "&"},   /* ﹠ */
	{0xFE61, "*"},   /* ﹡ */
	{0xFE62, "+"},   /* ﹢ */
	{0xFE63, "-"},   /* ﹣ small hyphen-minus */
	{0xFE64, "<"},   /* ﹤ */
	{0xFE65, ">"},   /* ﹥ */
	{0xFE66, "="},   /* ﹦ */
	{0xFE68, "\\"},  /* ﹨ small reverse solidus */
	{0xFE69, "$"},   /* ﹩ */
	{0xFE6A, "%"},   /* ﹪ */
	{0xFE6B, "@"},   /* ﹫ */
	{0xFEFF, ""},    /* ZERO WIDTH NO-BREAK SPACE (BOM) */
	{0xFF61, "."},   /* ｡ halfwidth ideographic full stop */
	{0xFF64, ","},   /* ､ halfwidth ideographic comma */
};

/* Decodes the code point at s[0..len), len >= 1, into *ret_cp and returns its length in
 * bytes (utf8_decode's strict UTF-8); a byte that does not start a complete valid sequence
 * is one U+FFFD of length 1. Reads no byte at or past s + len. */
static size_t utf8_next(const unsigned char *s, size_t len, uint32_t *ret_cp) {
	int n = utf8_decode(s, len, ret_cp);

	if (n < 0) {
		*ret_cp = REPLACEMENT;
		return 1;
	}
	return (size_t)n;
}

static int gsm7_septets_scan(uint32_t cp);

/* ASCII, the common case, answered from a table built once from the two tables above. */
static unsigned char ascii_septets[128];
static pthread_once_t ascii_once = PTHREAD_ONCE_INIT;

static void ascii_init(void) {
	for (uint32_t cp = 0; cp < 128; cp++) {
		ascii_septets[cp] = (unsigned char)gsm7_septets_scan(cp);
	}
}

/* Septets of cp in GSM-7: 1 (basic table), 2 (extension table) or 0 (not GSM-7). */
static int gsm7_septets(uint32_t cp) {
	if (cp < 128) {
		pthread_once(&ascii_once, ascii_init);
		return ascii_septets[cp];
	}
	return gsm7_septets_scan(cp);
}

static int gsm7_septets_scan(uint32_t cp) {
	for (size_t i = 0; i < sizeof(gsm7_basic) / sizeof(gsm7_basic[0]); i++) {
		if (gsm7_basic[i] == cp) {
			return 1;
		}
	}
	for (size_t i = 0; i < sizeof(gsm7_extension) / sizeof(gsm7_extension[0]); i++) {
		if (gsm7_extension[i] == cp) {
			return 2;
		}
	}
	return 0;
}

/* Units of cp in encoding e: septets for GSM-7 (cp must be GSM-7), UTF-16 code units for
 * UCS-2. */
static int char_units(uint32_t cp, enum sms_encoding e) {
	if (e == SMS_GSM7) {
		return gsm7_septets(cp);
	}
	return cp > 0xFFFFu ? 2 : 1;
}

/* Byte offset of the first character of s[0..len) that is not GSM-7, or len. */
static size_t first_non_gsm7(const unsigned char *s, size_t len) {
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		size_t n = utf8_next(s + i, len - i, &cp);

		if (gsm7_septets(cp) == 0) {
			return i;
		}
		i += n;
	}
	return len;
}

/* Length in bytes of the longest prefix of s[0..len) that fits in max_segments segments
 * in encoding e (every character must be encodable in e). Characters are packed whole,
 * so an escape pair or a surrogate pair never straddles two segments. */
static size_t fit_in(const unsigned char *s, size_t len, enum sms_encoding e, int max_segments) {
	size_t single = e == SMS_GSM7 ? GSM7_SINGLE : UCS2_SINGLE;
	size_t multi = e == SMS_GSM7 ? GSM7_MULTI : UCS2_MULTI;
	size_t total = 0;
	size_t used = 0;
	int segments = 1;
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		size_t n = utf8_next(s + i, len - i, &cp);
		size_t w = (size_t)char_units(cp, e);

		if (max_segments == 1) {
			/* One segment: the whole single-segment room, no header. */
			if (total + w > single) {
				return i;
			}
			total += w;
		} else {
			/* Any prefix of <= single units is 1 segment <= max_segments, and packing
			 * it by `multi` gives at most 2: the packing alone decides. */
			if (used + w > multi) {
				if (segments == max_segments) {
					return i;
				}
				segments++;
				used = 0;
			}
			used += w;
		}
		i += n;
	}
	return len;
}

void sms_count(const char *text, size_t len, struct sms_count *ret) {
	const unsigned char *s = (const unsigned char *)text;
	enum sms_encoding e;
	size_t single;
	size_t multi;
	size_t total = 0;
	size_t used = 0;
	size_t segments = 1;
	size_t i = 0;

	if (ret == NULL) {
		return;
	}
	if (s == NULL) {
		len = 0;
	}
	e = first_non_gsm7(s, len) == len ? SMS_GSM7 : SMS_UCS2;
	single = e == SMS_GSM7 ? GSM7_SINGLE : UCS2_SINGLE;
	multi = e == SMS_GSM7 ? GSM7_MULTI : UCS2_MULTI;
	while (i < len) {
		uint32_t cp;
		size_t n = utf8_next(s + i, len - i, &cp);
		size_t w = (size_t)char_units(cp, e);

		/* Greedy packing; a character that does not fit whole opens a new segment. */
		if (used + w > multi) {
			segments++;
			used = 0;
		}
		used += w;
		total += w; /* <= 2 * len: cannot wrap */
		i += n;
	}
	if (total <= single) {
		segments = 1;
	}
	ret->encoding = e;
	ret->units = total > INT_MAX ? INT_MAX : (int)total;
	ret->segments = segments > INT_MAX ? INT_MAX : (int)segments;
}

const char *sms_encoding_name(enum sms_encoding e) {
	return e == SMS_GSM7 ? "GSM-7" : "UCS-2";
}

size_t sms_fit_segments(const char *text, size_t len, int max_segments) {
	const unsigned char *s = (const unsigned char *)text;
	size_t first_ucs2;
	size_t ucs2_fit;

	if (s == NULL || max_segments < 1) {
		return 0;
	}
	/* Prefixes that end before the first non-GSM-7 character are GSM-7, longer ones
	 * UCS-2. If the UCS-2 answer reaches past that character it is the longest; else the
	 * answer lies among the GSM-7 prefixes. */
	first_ucs2 = first_non_gsm7(s, len);
	if (first_ucs2 < len) {
		ucs2_fit = fit_in(s, len, SMS_UCS2, max_segments);
		if (ucs2_fit > first_ucs2) {
			return ucs2_fit;
		}
	}
	return fit_in(s, first_ucs2, SMS_GSM7, max_segments);
}

size_t sms_fit_chars(const char *text, size_t len, size_t max_chars) {
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0;

	if (s == NULL) {
		return 0;
	}
	for (size_t chars = 0; chars < max_chars && i < len; chars++) {
		uint32_t cp;

		i += utf8_next(s + i, len - i, &cp);
	}
	return i;
}

/* The GSM-7 replacement of cp for smart encoding, written to buf (NUL-terminated) and
 * returned; NULL if cp has none. */
static const char *smart_replace(uint32_t cp, char buf[2]) {
	if (cp >= FULLWIDTH_FIRST && cp <= FULLWIDTH_LAST) {
		/* Fullwidth ASCII; the backtick is not GSM-7, so it becomes an apostrophe. */
		buf[0] = (char)(cp - FULLWIDTH_OFFSET);
		if (buf[0] == '`') {
			buf[0] = '\'';
		}
		buf[1] = '\0';
		return buf;
	}
	for (size_t i = 0; i < sizeof(smart_table) / sizeof(smart_table[0]); i++) {
		if (smart_table[i].cp == cp) {
			return smart_table[i].to;
		}
	}
	return NULL;
}

char *sms_smart_encode(const char *text) {
	const unsigned char *s = (const unsigned char *)text;
	size_t len;
	size_t out_len = 0;
	size_t i = 0;
	size_t o = 0;
	char buf[2];
	char *out;

	if (s == NULL) {
		errno = EINVAL;
		return NULL;
	}
	len = strlen(text);
	/* First pass: the output's length, or stop at a character with no GSM-7 form. */
	while (i < len) {
		uint32_t cp;
		size_t n = utf8_next(s + i, len - i, &cp);
		const char *to;

		if (gsm7_septets(cp) > 0) {
			out_len += n;
		} else if ((to = smart_replace(cp, buf)) != NULL) {
			out_len += strlen(to); /* <= 3 bytes for a source of >= 2 (TAB, `: 1 for 1) */
		} else {
			break;
		}
		i += n;
	}
	if (i < len) {
		/* The text stays UCS-2 whatever we replace: keep it as written (as Twilio does). */
		out = malloc(len + 1);
		if (out != NULL) {
			memcpy(out, text, len + 1);
		}
		return out;
	}
	out = malloc(out_len + 1);
	if (out == NULL) {
		return NULL;
	}
	for (i = 0; i < len;) {
		uint32_t cp;
		size_t n = utf8_next(s + i, len - i, &cp);

		if (gsm7_septets(cp) > 0) {
			memcpy(out + o, s + i, n);
			o += n;
		} else {
			const char *to = smart_replace(cp, buf);
			size_t to_len = strlen(to);

			memcpy(out + o, to, to_len);
			o += to_len;
		}
		i += n;
	}
	out[o] = '\0';
	return out;
}
