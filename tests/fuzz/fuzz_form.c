/* libFuzzer harness for the twilio module's parsers: the form decoder on any bytes, then the
 * signature and the TwiML writer on what it decoded, and the URL-variant and TwiML code on
 * the raw bytes as well (a Host header and an agent's reply are just as hostile). Aborts if
 * an invariant of twilio.h is broken. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "twilio/twilio.h"
#include "utf8.h"

#define FUZZ_TOKEN "8c54554f2cc4cfac2b3f5230acbad8af"
#define FUZZ_URL "https://sms.example.com/sms-router/webhook/sms"

/* TwiML must be valid UTF-8 with no character XML 1.0 forbids, and no raw CR. */
static void check_twiml(const char *text, const char *action_url) {
	char *xml = NULL;
	size_t len;

	if (twilio_twiml_message(text, action_url, &xml) < 0) {
		abort();
	}
	len = strlen(xml);
	if (!utf8_valid(xml, len)) {
		abort();
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)xml[i];

		if (c < 0x20 && c != '\t' && c != '\n') {
			abort();
		}
	}
	free(xml);
}

static void check_decoded(const struct twilio_params *p) {
	char sig[TWILIO_SIGNATURE_SIZE];

	for (size_t i = 0; i < p->n; i++) {
		if (!utf8_valid(p->v[i].key, strlen(p->v[i].key)) ||
				!utf8_valid(p->v[i].value, strlen(p->v[i].value))) {
			abort();
		}
	}
	if (p->n > 0 && twilio_params_get(p, p->v[0].key) != p->v[0].value) {
		abort();
	}
	if (twilio_signature_compute(FUZZ_TOKEN, FUZZ_URL, p, sig) < 0 ||
			strlen(sig) != TWILIO_SIGNATURE_SIZE - 1) {
		abort();
	}
	/* What we compute, we accept. */
	if (twilio_signature_verify(FUZZ_TOKEN, FUZZ_URL, p, sig) != 0) {
		abort();
	}
	check_twiml(p->n > 0 ? p->v[0].value : NULL, p->n > 1 ? p->v[1].value : NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	struct twilio_params p = {NULL, 0};
	char sig[TWILIO_SIGNATURE_SIZE];
	char *s;
	int r;

	r = twilio_form_decode((const char *)data, size, &p);
	if (r == 0) {
		check_decoded(&p);
		twilio_params_finish(&p);
	} else if (r != -EINVAL) {
		abort();
	}

	/* The raw bytes up to the first NUL as a URL and as a reply text. */
	s = malloc(size + 1);
	if (!s) {
		return 0;
	}
	memcpy(s, data, size);
	s[size] = '\0';
	if (twilio_signature_compute(FUZZ_TOKEN, s, NULL, sig) < 0 ||
			twilio_signature_verify(FUZZ_TOKEN, s, NULL, sig) != 0) {
		abort();
	}
	(void)twilio_body_hash_matches(s, (const char *)data, size);
	check_twiml(s, s);
	free(s);
	return 0;
}
