/* libFuzzer harness for admin_user_request_parse, the body of POST
 * /sms-router/admin/users, on any bytes. On success: the name is the body's "name" string
 * and passes store_name_check (1 to 200 bytes of UTF-8, not only white space, no control
 * character), and the phones are the document's "phones" array, borrowed in its order: at
 * most STORE_MAX_PHONES distinct E.164 numbers; req.j is released every time. On failure:
 * -EINVAL, -EDOM or -ENOSPC with a message. */
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
	FUZZ_CHECK(q->nphones == json_array_size(phones));
	for (size_t i = 0; i < q->nphones; i++) {
		FUZZ_CHECK(q->phones[i] == json_string_value(json_array_get(phones, i)));
		FUZZ_CHECK(phone_is_valid(q->phones[i]));
		for (size_t k = 0; k < i; k++) {
			FUZZ_CHECK(strcmp(q->phones[k], q->phones[i]) != 0);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	struct admin_user_request q;
	char why[ADMIN_MESSAGE_SIZE] = "";
	int r;

	memset(&q, 0xa5, sizeof(q)); /* stale garbage: a parser must not rely on it */
	r = admin_user_request_parse((const char *)data, size, &q, why);
	if (r == 0) {
		check_request(&q);
		json_decref(q.j);
	} else {
		FUZZ_CHECK(r == -EINVAL || r == -EDOM || r == -ENOSPC);
		FUZZ_CHECK(why[0] != '\0' && memchr(why, '\0', sizeof(why)) != NULL);
	}
	return 0;
}
