/* libFuzzer harness for admin_user_request_parse, the body of POST
 * /sms-router/admin/users, on any bytes. On success: the name is the body's "name" string
 * and passes store_name_check (1 to 200 bytes of UTF-8, not only white space, no control
 * character), and the phones are at most STORE_MAX_PHONES
 * distinct E.164 numbers borrowed from the parsed document (its "phones" array); req.j is
 * released every time. On failure: -EINVAL, -EDOM or -ENOSPC with a message. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "admin.h"
#include "fuzz_util.h"
#include "phone.h"

static void check_request(const struct admin_user_request *q) {
	json_t *phones;

	FUZZ_CHECK(json_is_object(q->j));
	FUZZ_CHECK(q->name != NULL);
	FUZZ_CHECK(q->name == json_string_value(json_object_get(q->j, "name")));
	FUZZ_CHECK(store_name_check(q->name, NULL) == 0);

	FUZZ_CHECK(q->nphones <= STORE_MAX_PHONES);
	phones = json_object_get(q->j, "phones");
	FUZZ_CHECK(phones == NULL || json_is_array(phones));
	FUZZ_CHECK(q->nphones <= json_array_size(phones));
	for (size_t i = 0; i < q->nphones; i++) {
		bool borrowed = false;

		FUZZ_CHECK(q->phones[i] != NULL);
		FUZZ_CHECK(phone_is_valid(q->phones[i]));
		for (size_t k = 0; k < i; k++) {
			FUZZ_CHECK(strcmp(q->phones[k], q->phones[i]) != 0);
		}
		for (size_t k = 0; k < json_array_size(phones); k++) {
			borrowed = borrowed ||
				   json_string_value(json_array_get(phones, k)) == q->phones[i];
		}
		FUZZ_CHECK(borrowed);
	}
	/* Every phone of the array is one of the distinct phones kept. */
	for (size_t k = 0; k < json_array_size(phones); k++) {
		const char *ph = json_string_value(json_array_get(phones, k));
		bool kept = false;

		FUZZ_CHECK(ph != NULL);
		for (size_t i = 0; i < q->nphones; i++) {
			kept = kept || strcmp(q->phones[i], ph) == 0;
		}
		FUZZ_CHECK(kept);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	struct admin_user_request q;
	const char *why = NULL;
	int r;

	memset(&q, 0xa5, sizeof(q)); /* stale garbage: a parser must not rely on it */
	r = admin_user_request_parse((const char *)data, size, &q, &why);
	if (r == 0) {
		check_request(&q);
		json_decref(q.j);
	} else {
		FUZZ_CHECK(r == -EINVAL || r == -EDOM || r == -ENOSPC);
		FUZZ_CHECK(why != NULL && why[0] != '\0');
	}
	return 0;
}
