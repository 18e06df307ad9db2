/* Tests of the events' JSON body: each type's shape as the contract has it, nulls where a
 * value is missing, and the time with its milliseconds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"

static struct store_event event(const char *type) {
	struct store_event e = {.id = 7, .at_ms = 1796566987250LL, .attempts = 1};
	strcpy(e.uid, "evt_00112233445566778899aabbccddeeff");
	strcpy(e.type, type);
	strcpy(e.user_id, "u1");
	return e;
}

static void assert_json(const struct store_event *e, const char *want) {
	char *got = NULL;
	assert_int_equal(events_json(e, &got), 0);
	assert_string_equal(got, want);
	free(got);
}

static void test_message_status_carries_the_message_and_nulls_for_what_is_missing(void **state) {
	(void)state;
	struct store_event e = event("message.status");
	strcpy(e.message_id, "1842");
	strcpy(e.status, "sent");
	assert_json(&e, "{\"id\":\"evt_00112233445566778899aabbccddeeff\",\"type\":"
			"\"message.status\",\"at\":\"2026-12-06T14:23:07.250Z\",\"user\":{\"id\":"
			"\"u1\"},\"message\":{\"id\":\"1842\",\"sid\":null,\"status\":\"sent\","
			"\"error_code\":null}}");
	strcpy(e.sid, "SM0123");
	strcpy(e.status, "undelivered");
	strcpy(e.error_code, "30003");
	assert_json(&e, "{\"id\":\"evt_00112233445566778899aabbccddeeff\",\"type\":"
			"\"message.status\",\"at\":\"2026-12-06T14:23:07.250Z\",\"user\":{\"id\":"
			"\"u1\"},\"message\":{\"id\":\"1842\",\"sid\":\"SM0123\",\"status\":"
			"\"undelivered\",\"error_code\":\"30003\"}}");
}

/* The user events: what each carries in place of message, and at's milliseconds. */
static void test_user_events_carry_the_number_or_the_mode(void **state) {
	(void)state;
	static const struct {
		const char *type, *phone, *mode;
		int64_t at_ms;
		const char *tail; /* the JSON after "at" */
	} cases[] = {
		{"user.opted_out", "+15550100101", "", 1796566987005LL,
			"07.005Z\",\"user\":{\"id\":\"u1\"},\"phone\":\"+15550100101\"}"},
		{"user.opted_in", "+15550100101", "", 1796566987000LL,
			"07.000Z\",\"user\":{\"id\":\"u1\"},\"phone\":\"+15550100101\"}"},
		{"user.mode", "", "human", 1796566987999LL,
			"07.999Z\",\"user\":{\"id\":\"u1\"},\"mode\":\"human\"}"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[512];
		struct store_event e = event(cases[i].type);
		strcpy(e.phone, cases[i].phone);
		strcpy(e.mode, cases[i].mode);
		e.at_ms = cases[i].at_ms;
		snprintf(want, sizeof(want), "{\"id\":\"evt_00112233445566778899aabbccddeeff\",\"type\":"
				"\"%s\",\"at\":\"2026-12-06T14:23:%s", cases[i].type, cases[i].tail);
		assert_json(&e, want);
	}
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_status_carries_the_message_and_nulls_for_what_is_missing),
		cmocka_unit_test(test_user_events_carry_the_number_or_the_mode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
