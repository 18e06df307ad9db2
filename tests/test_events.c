/* Tests of the events' JSON body: each type's shape as the contract has it, nulls where a
 * value is missing, and the time with its milliseconds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

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

static void test_opt_out_and_in_carry_the_number_and_mode_its_mode(void **state) {
	(void)state;
	struct store_event e = event("user.opted_out");
	strcpy(e.phone, "+15550100101");
	e.at_ms = 1796566987005LL;
	assert_json(&e, "{\"id\":\"evt_00112233445566778899aabbccddeeff\",\"type\":"
			"\"user.opted_out\",\"at\":\"2026-12-06T14:23:07.005Z\",\"user\":{\"id\":"
			"\"u1\"},\"phone\":\"+15550100101\"}");
	e = event("user.opted_in");
	strcpy(e.phone, "+15550100101");
	e.at_ms = 1796566987000LL;
	assert_json(&e, "{\"id\":\"evt_00112233445566778899aabbccddeeff\",\"type\":"
			"\"user.opted_in\",\"at\":\"2026-12-06T14:23:07.000Z\",\"user\":{\"id\":"
			"\"u1\"},\"phone\":\"+15550100101\"}");
	e = event("user.mode");
	strcpy(e.mode, "human");
	assert_json(&e, "{\"id\":\"evt_00112233445566778899aabbccddeeff\",\"type\":"
			"\"user.mode\",\"at\":\"2026-12-06T14:23:07.250Z\",\"user\":{\"id\":"
			"\"u1\"},\"mode\":\"human\"}");
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_status_carries_the_message_and_nulls_for_what_is_missing),
		cmocka_unit_test(test_opt_out_and_in_carry_the_number_and_mode_its_mode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
