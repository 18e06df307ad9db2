#pragma once
/* phone: E.164 validation and masking for logs. Knows nothing of anything else. */
#include <stdbool.h>
#include <stddef.h>

#define PHONE_SIZE 17      /* '+', at most 15 digits, NUL */
#define PHONE_MASK_SIZE 32 /* room for any masked form, NUL included */

/* True if s is E.164: '+', then 8 to 15 ASCII digits, the first not '0'. Nothing else
 * (no spaces, no prefix like "whatsapp:"). NULL is not valid. */
bool phone_is_valid(const char *s);

/* Writes a log-safe form of s into out (always NUL-terminated):
 * "+15550100101" → "+1555***0101": '+', the first four digits, "***", the last four.
 * Any other string (NULL, "whatsapp:+1555…", short numbers, junk) never reveals more than
 * that: the first run of 9+ ASCII digits keeps its first four and last four digits around
 * "***" (with the '+' if one directly precedes the run: "whatsapp:+15550100101" →
 * "+1555***0101"), or fewer from a run under 11 digits, so that at least 3 stay hidden
 * ("+354123456" → "+354***456", "+3541234567" → "+354***567"); nothing else of s is
 * copied, and without such a run the result is "***" (so a valid 8-digit number masks to
 * "***"). The result always fits PHONE_MASK_SIZE. */
void phone_mask(const char *s, char out[PHONE_MASK_SIZE]);
