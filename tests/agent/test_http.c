/* Tests of the Agent Core client (CONTRACT.md, "Agent Core contract"): the request body's
 * history holds what came before the message and nothing after it, whenever the call is
 * made. Each test runs over a fresh SQLite store in a temp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../tmpstore.h"
#include "agent/agent.h"
#include "store/store.h"

struct fixture {
	char dir[TMPSTORE_DIR_SIZE];
	struct store *s;
	struct store_user ada;
	struct store_user bob;
};

static int setup(void **state) {
	struct fixture *f = calloc(1, sizeof(*f));
	const char *p1[] = {"+15550100101"};
	const char *p2[] = {"+15550100102"};

	if (!f) {
		return -1;
	}
	if (tmpstore_open("agent-http", f->dir, NULL, &f->s) != 0 ||
	    store_user_add(f->s, "Ada", p1, 1, &f->ada, NULL) != 0 ||
	    store_user_add(f->s, "Bob", p2, 1, &f->bob, NULL) != 0) {
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state) {
	struct fixture *f = *state;
	store_close(f->s);
	tmpstore_remove(f->dir);
	free(f);
	return 0;
}

/* Stores a message of user u (an inbound one when reply_to is 0); returns it with its id.
 * body must outlive the result. */
static struct store_message add(struct fixture *f, const struct store_user *u, const char *sid,
                                const char *body, int64_t reply_to) {
	struct store_message m = {
	                .sid = sid,
	                .direction = reply_to ? STORE_OUTBOUND : STORE_INBOUND,
	                .from = reply_to ? "+15005550006" : u->phones[0],
	                .to = reply_to ? u->phones[0] : "+15005550006",
	                .body = body,
	                .status = reply_to ? "queued" : "received",
	                .encoding = "GSM-7",
	                .segments = 1,
	                .reply_to = reply_to,
	};
	int64_t id = 0;
	int r = reply_to ? store_outbound_add(f->s, u->id, &m, &id)
	                 : store_inbound_add(f->s, u->id, &m, &id);
	assert_int_equal(r, 0);
	m.id = id;
	return m;
}

/* The request body's history for message m of user u, as "direction:body" words. */
static void history_of(struct fixture *f, const struct store_user *u, const struct store_message *m,
                       char *out, size_t size) {
	struct agent_request req = {.user = u, .message = m};
	char *text = NULL;
	assert_int_equal(agent_request_json(f->s, &req, &text), 0);
	json_t *j = json_loads(text, 0, NULL);
	assert_non_null(j);
	assert_string_equal(
	                json_string_value(json_object_get(json_object_get(j, "message"), "body")),
	                m->body);
	json_t *h = json_object_get(j, "history");
	assert_true(json_is_array(h));
	out[0] = '\0';
	for (size_t i = 0; i < json_array_size(h); i++) {
		json_t *e = json_array_get(h, i);
		snprintf(out + strlen(out), size - strlen(out), "%s%s:%s", i ? " " : "",
		         json_string_value(json_object_get(e, "direction")),
		         json_string_value(json_object_get(e, "body")));
	}
	json_decref(j);
	free(text);
}

static void test_history_holds_nothing_that_arrived_after_the_message(void **state) {
	struct fixture *f = *state;
	char h[512];

	struct store_message m0 = add(f, &f->ada, "SM0", "zero", 0);
	add(f, &f->ada, NULL, "echo: zero", m0.id);
	struct store_message m1 = add(f, &f->ada, "SM1", "one", 0);
	add(f, &f->bob, "SMb", "bob's", 0);
	/* "two" arrives while "one" waits for its call (or for a retry of it). */
	struct store_message m2 = add(f, &f->ada, "SM2", "two", 0);

	history_of(f, &f->ada, &m1, h, sizeof(h));
	assert_string_equal(h, "inbound:zero outbound:echo: zero");
	history_of(f, &f->ada, &m2, h, sizeof(h));
	assert_string_equal(h, "inbound:zero outbound:echo: zero inbound:one");
	history_of(f, &f->ada, &m0, h, sizeof(h));
	assert_string_equal(h, "");
}

static void test_history_is_the_last_20_before_the_message_oldest_first(void **state) {
	struct fixture *f = *state;
	char sid[16], body[30][8], h[1024], want[1024] = "";
	struct store_message m[30];

	for (int i = 0; i < 30; i++) {
		snprintf(sid, sizeof(sid), "SM%d", i);
		snprintf(body[i], sizeof(body[i]), "m%d", i);
		m[i] = add(f, &f->ada, sid, body[i], 0);
	}
	for (int i = 5; i < 25; i++) {
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "%sinbound:m%d",
		         i > 5 ? " " : "", i);
	}
	history_of(f, &f->ada, &m[25], h, sizeof(h));
	assert_string_equal(h, want);
}

int main(void) {
	const struct CMUnitTest tests[] = {
	                cmocka_unit_test_setup_teardown(
	                                test_history_holds_nothing_that_arrived_after_the_message,
	                                setup, teardown),
	                cmocka_unit_test_setup_teardown(
	                                test_history_is_the_last_20_before_the_message_oldest_first,
	                                setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
