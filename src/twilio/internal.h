#pragma once
/* twilio internals: helpers shared by the module's own files (form.c, twiml.c), not part of
 * its contract. Nothing outside src/twilio/ includes this. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes the UTF-8 sequence at s[0..len), len > 0, strictly (Unicode table 3-7: no
 * overlong forms, no surrogates U+D800–U+DFFF, nothing above U+10FFFF). Returns its length
 * (1–4) and sets *ret_cp if it is valid; else returns minus the length of the maximal
 * invalid subpart (-1 to -3), the bytes one U+FFFD replaces. Never reads past len. */
int twilio__utf8_decode(const unsigned char *s, size_t len, uint32_t *ret_cp);

/* True if s[0..len) is valid UTF-8 as twilio__utf8_decode() defines it. NUL bytes are valid
 * UTF-8 here: callers that refuse them check separately. */
bool twilio__utf8_valid(const char *s, size_t len);
