#pragma once
/* utf8: the strict UTF-8 decoder the modules that take text from outside share (twilio's form
 * bodies and TwiML, the store's names). Knows nothing of anything else. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes the UTF-8 sequence at s[0..len), len > 0, strictly (Unicode table 3-7: no
 * overlong forms, no surrogates U+D800–U+DFFF, nothing above U+10FFFF). Returns its length
 * (1–4) and sets *ret_cp if it is valid; else returns minus the length of the maximal
 * invalid subpart (-1 to -3), the bytes one U+FFFD replaces. Never reads past len. */
int utf8_decode(const unsigned char *s, size_t len, uint32_t *ret_cp);

/* True if s[0..len) is valid UTF-8 as utf8_decode() defines it. NUL bytes are valid UTF-8
 * here: callers that refuse them check separately. */
bool utf8_valid(const char *s, size_t len);

/* True if cp is white space: Unicode's White_Space characters (tab to carriage return,
 * space, no-break space, the spaces U+1680, U+2000–U+200A, U+202F, U+205F, U+3000, and the
 * line and paragraph separators), but not NEL (U+0085, a C1 control). */
bool utf8_is_space(uint32_t cp);
