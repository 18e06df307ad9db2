/* phone: E.164 validation, Twilio's addresses and masking for logs. */
#include "phone.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define PHONE_MIN_DIGITS 8
#define PHONE_MAX_DIGITS 15
#define PHONE_MASK_RUN 9  /* a digit run shorter than this is masked whole */
#define PHONE_MASK_KEEP 4 /* digits kept at each end of a long run, at most */
#define PHONE_MASK_HIDE 3 /* digits hidden, at least */

/* True for the ASCII digits only: isdigit() depends on the locale and takes an int. */
static bool is_digit(char c) {
	return c >= '0' && c <= '9';
}

bool phone_is_valid(const char *s) {
	size_t digits = 0;

	if (s == NULL || s[0] != '+' || s[1] < '1' || s[1] > '9') {
		return false;
	}
	for (const char *p = s + 1; *p != '\0'; p++) {
		/* Stop at the 16th digit: never walk a long junk string further than needed. */
		if (!is_digit(*p) || ++digits > PHONE_MAX_DIGITS) {
			return false;
		}
	}
	return digits >= PHONE_MIN_DIGITS;
}

int phone_address_parse(const char *addr, enum phone_channel *ret_channel,
		char ret_number[PHONE_SIZE]) {
	static const char wa[] = PHONE_WHATSAPP_PREFIX;
	enum phone_channel ch = PHONE_CHANNEL_SMS;
	const char *number = addr;

	if (addr == NULL) {
		return -EINVAL;
	}
	if (strncmp(addr, wa, sizeof(wa) - 1) == 0) {
		ch = PHONE_CHANNEL_WHATSAPP;
		number = addr + sizeof(wa) - 1;
	}
	/* phone_is_valid stops at the 16th digit, so the copy below always fits. */
	if (!phone_is_valid(number)) {
		return -EINVAL;
	}
	*ret_channel = ch;
	strcpy(ret_number, number);
	return 0;
}

const char *phone_channel_name(enum phone_channel ch) {
	return ch == PHONE_CHANNEL_WHATSAPP ? "whatsapp" : "sms";
}

void phone_optout_key(enum phone_channel ch, const char *number, char out[PHONE_KEY_SIZE]) {
	snprintf(out, PHONE_KEY_SIZE, "%s%s", ch == PHONE_CHANNEL_WHATSAPP ? PHONE_WHATSAPP_PREFIX : "",
			number);
}

const char *phone_reply_from(const char *in_from, const char *in_to, const char *whatsapp_from,
		char buf[PHONE_KEY_SIZE]) {
	enum phone_channel ch, to_ch;
	char number[PHONE_SIZE], to_number[PHONE_SIZE];
	if (phone_address_parse(in_from, &ch, number) < 0 || ch != PHONE_CHANNEL_WHATSAPP) {
		return in_to;
	}
	const char *sender = whatsapp_from;
	if (!sender && phone_address_parse(in_to, &to_ch, to_number) == 0) {
		sender = to_number;
	}
	if (!sender) {
		return in_to;
	}
	snprintf(buf, PHONE_KEY_SIZE, PHONE_WHATSAPP_PREFIX "%s", sender);
	return buf;
}

void phone_mask(const char *s, char out[PHONE_MASK_SIZE]) {
	size_t i = 0;

	strcpy(out, "***");
	if (s == NULL) {
		return;
	}
	/* Find the first run of PHONE_MASK_RUN or more digits; everything else is dropped. */
	while (s[i] != '\0') {
		size_t start;
		size_t run;
		char *p = out;

		if (!is_digit(s[i])) {
			i++;
			continue;
		}
		start = i;
		while (is_digit(s[i])) {
			i++;
		}
		run = i - start;
		if (run < PHONE_MASK_RUN) {
			continue;
		}
		/* At most 1 + 4 + 3 + 4 + 1 = 13 bytes, well within PHONE_MASK_SIZE. */
		if (start > 0 && s[start - 1] == '+') {
			*p++ = '+';
		}
		/* 4 and 4 from 11 digits up; a shorter number keeps fewer, so that 3 stay hidden. */
		size_t keep = (run - PHONE_MASK_HIDE) / 2;
		keep = keep < PHONE_MASK_KEEP ? keep : PHONE_MASK_KEEP;
		memcpy(p, s + start, keep);
		p += keep;
		memcpy(p, "***", 3);
		p += 3;
		memcpy(p, s + i - keep, keep);
		p += keep;
		*p = '\0';
		return;
	}
}
