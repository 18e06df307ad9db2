#pragma once
/* phone: E.164 validation, the addresses Twilio gives (a number, or a channel's prefix and
 * a number) and masking for logs. Knows nothing of anything else. */
#include <stdbool.h>
#include <stddef.h>

#define PHONE_SIZE 17      /* '+', at most 15 digits, NUL */
#define PHONE_MASK_SIZE 32 /* room for any masked form, NUL included */

/* True if s is E.164: '+', then 8 to 15 ASCII digits, the first not '0'. Nothing else
 * (no spaces, no prefix like "whatsapp:"). NULL is not valid. */
bool phone_is_valid(const char *s);

/* The channels an address may name. */
enum phone_channel {
	PHONE_CHANNEL_SMS,      /* "+E164" */
	PHONE_CHANNEL_WHATSAPP, /* "whatsapp:+E164" */
};

#define PHONE_WHATSAPP_PREFIX "whatsapp:"

/* The one reading of an address Twilio gives in From or To: "+E164" is SMS,
 * "whatsapp:+E164" (the prefix in lower case, exactly as Twilio sends it) is WhatsApp; on
 * success *ret_channel and ret_number (the bare E.164 number) are written. Anything else
 * (NULL, another prefix such as "messenger:" or "rcs:", a prefix in another case, spaces,
 * a number that is not E.164 after the prefix) is -EINVAL, and nothing is written. */
int phone_address_parse(const char *addr, enum phone_channel *ret_channel,
		char ret_number[PHONE_SIZE]);

/* "sms" or "whatsapp": the channel's name in the API, the agent's request and the store. */
const char *phone_channel_name(enum phone_channel ch);

/* The key an opt-out of number on ch is kept under: the number for SMS, "whatsapp:" and
 * the number for WhatsApp (so that STOP on one channel leaves the other). Always fits
 * PHONE_KEY_SIZE. */
#define PHONE_KEY_SIZE (sizeof(PHONE_WHATSAPP_PREFIX) - 1 + PHONE_SIZE)
void phone_optout_key(enum phone_channel ch, const char *number, char out[PHONE_KEY_SIZE]);

/* The address a reply to a message goes out from through the Messages API, so that it goes
 * back on the channel the message came on: for a WhatsApp message (in_from "whatsapp:+…"),
 * "whatsapp:" and whatsapp_from (TWILIO_WHATSAPP_FROM, NULL: unset) or else the number
 * in_to names, written into buf; otherwise in_to, the number the message was sent to. */
const char *phone_reply_from(const char *in_from, const char *in_to, const char *whatsapp_from,
		char buf[PHONE_KEY_SIZE]);

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
