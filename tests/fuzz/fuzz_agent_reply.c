/* libFuzzer harness for agent_parse_reply, what an Agent Core answered, on any bytes: the
 * first byte picks the HTTP status (200, 204, 500, 404, …), the rest is the body. 0 means
 * a reply that is valid UTF-8 without NUL (or NULL: no reply, only for 204 or
 * {"reply": null}), and media that are NULL or a JSON array of 1–10 URLs each
 * twilio_media_url_ok takes; a 5xx is -EIO; anything else is -EBADMSG; never a crash or a
 * leak. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/agent.h"
#include "twilio/twilio.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	static const long statuses[] = {200, 204, 500, 503, 404, 201, 302, 200};
	struct agent_answer a = {.reply = (char *)1};

	if (size == 0) {
		return 0;
	}
	long status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
	char *body = fuzz_strndup(data + 1, size - 1);
	if (!body) {
		return 0;
	}
	int r = agent_parse_reply(status, body, size - 1, &a);
	char *reply = a.reply;
	if (status >= 500) {
		FUZZ_CHECK(r == -EIO);
	} else if (status == 204) {
		FUZZ_CHECK(r == 0 && reply == NULL);
	} else if (status != 200) {
		FUZZ_CHECK(r == -EBADMSG);
	} else {
		FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM);
	}
	if (r == 0 && a.media) {
		json_t *list = json_loads(a.media, 0, NULL);
		FUZZ_CHECK(json_is_array(list) && json_array_size(list) >= 1 &&
				json_array_size(list) <= TWILIO_MAX_MEDIA);
		size_t i;
		json_t *u;
		json_array_foreach(list, i, u) {
			FUZZ_CHECK(twilio_media_url_ok(json_string_value(u)));
		}
		json_decref(list);
		free(a.media);
	}
	if (r == 0 && reply) {
		FUZZ_CHECK(fuzz_utf8_valid(reply, strlen(reply)));
		free(reply);
	} else if (r != 0) {
		FUZZ_CHECK(reply == (char *)1); /* nothing written on failure */
	}
	free(body);
	return 0;
}
