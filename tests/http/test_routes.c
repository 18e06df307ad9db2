/* Tests of http's routing over a table its user hands it: exact paths with '*' segments
 * (percent-decoded), 404 off the table, 405 with Allow, 401 from a route's authorized, and
 * errors written by a route's own error writer (Twilio's TwiML) or as JSON. No server: the
 * request is built here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

struct seen {
	int calls;
	char param0[16]; /* the params are the request's: copied */
	char param1[16];
};

static void handler(void *ctx, const struct http_request *req, struct http_response *res) {
	struct seen *s = ctx;
	s->calls++;
	snprintf(s->param0, sizeof(s->param0), "%s", req->params[0] ? req->params[0] : "");
	snprintf(s->param1, sizeof(s->param1), "%s", req->params[1] ? req->params[1] : "");
	http_empty(res, 204);
}

static bool only_with_token(void *ctx, const struct http_request *req) {
	(void)ctx;
	return req->body_len > 0; /* the test's stand-in for a header */
}

static int written;
static char written_path[64];

static void plain_error(const char *path, struct http_response *res, int status,
		const char *code, const char *message) {
	(void)code;
	(void)message;
	written++;
	strncpy(written_path, path, sizeof(written_path) - 1);
	http_text(res, status, "text/plain", strdup("plain"));
}

static struct seen hook_seen, get_seen, delete_seen, admin_seen;

static const struct http_route table[] = {
	{"/hook", "POST", handler, &hook_seen, 1, NULL, plain_error, true},
	{"/things/*", "GET", handler, &get_seen, 2, NULL, NULL, false},
	{"/things/*", "DELETE", handler, &delete_seen, 2, NULL, NULL, false},
	{"/admin/*/items/*", "GET", handler, &admin_seen, 3, only_with_token, NULL, false},
};
static const struct http_routes routes = {table, sizeof(table) / sizeof(table[0])};

static int reset(void **state) {
	(void)state;
	memset(&hook_seen, 0, sizeof(hook_seen));
	memset(&get_seen, 0, sizeof(get_seen));
	memset(&delete_seen, 0, sizeof(delete_seen));
	memset(&admin_seen, 0, sizeof(admin_seen));
	written = 0;
	written_path[0] = '\0';
	return 0;
}

static struct http_request request(const char *method, const char *path, const char *body) {
	return (struct http_request){.method = method, .target = path, .path = path,
		.body = body, .body_len = strlen(body)};
}

static void test_an_exact_path_reaches_its_handler_with_decoded_segments(void **state) {
	(void)state;
	struct http_request req = request("GET", "/admin/a%2Fb/items/%2B1555", "token");
	struct http_response res = {0};

	const struct http_route *r = http__route(&routes, &req, &res);
	assert_ptr_equal(r, &table[3]);
	assert_int_equal(res.status, 204);
	assert_int_equal(admin_seen.calls, 1);
	assert_string_equal(admin_seen.param0, "a/b");
	assert_string_equal(admin_seen.param1, "+1555");
	assert_string_equal(res.allow, "");
}

static void test_a_path_off_the_table_is_404_json(void **state) {
	(void)state;
	const char *paths[] = {"/hook/", "/things", "/things/", "/things/x/y", "/", "/hookx"};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct http_request req = request("GET", paths[i], "");
		struct http_response res = {0};
		if (http__route(&routes, &req, &res) != NULL || res.status != 404) {
			fail_msg("%s: status %d", paths[i], res.status);
		}
		assert_string_equal(res.content_type, "application/json");
		free(res.body);
	}
	assert_int_equal(get_seen.calls + hook_seen.calls + written, 0);
}

static void test_another_method_is_405_with_every_method_of_the_path(void **state) {
	(void)state;
	struct http_request req = request("PUT", "/things/1", "");
	struct http_response res = {0};

	assert_ptr_equal(http__route(&routes, &req, &res), &table[2]);
	assert_int_equal(res.status, 405);
	assert_string_equal(res.allow, "GET, DELETE");
	assert_string_equal(res.content_type, "application/json");
	assert_int_equal(get_seen.calls + delete_seen.calls, 0);
	free(res.body);
}

static void test_a_route_with_an_error_writer_writes_its_own_errors(void **state) {
	(void)state;
	struct http_request req = request("GET", "/hook", "");
	struct http_response res = {0};

	assert_ptr_equal(http__route(&routes, &req, &res), &table[0]);
	assert_int_equal(res.status, 405);
	assert_string_equal(res.allow, "POST");
	assert_int_equal(written, 1);
	assert_string_equal(written_path, "/hook");
	assert_string_equal(res.body, "plain");
	free(res.body);

	/* The answers http gives before routing (413, 503): by the target's path. */
	memset(&res, 0, sizeof(res));
	assert_ptr_equal(http__error(&routes, "/hook?x=1", &res, 413, "payload_too_large", "Big."),
			&table[0]);
	assert_int_equal(res.status, 413);
	assert_int_equal(written, 2);
	free(res.body);
	memset(&res, 0, sizeof(res));
	assert_null(http__error(&routes, "/things/1", &res, 503, "stopping", "Stopping."));
	assert_string_equal(res.content_type, "application/json");
	assert_int_equal(written, 2);
	free(res.body);
}

static void test_a_route_that_refuses_the_request_answers_401_without_calling(void **state) {
	(void)state;
	struct http_request req = request("GET", "/admin/a/items/b", "");
	struct http_response res = {0};

	assert_ptr_equal(http__route(&routes, &req, &res), &table[3]);
	assert_int_equal(res.status, 401);
	assert_string_equal(res.www_authenticate, "Bearer");
	assert_int_equal(admin_seen.calls, 0);
	free(res.body);
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_an_exact_path_reaches_its_handler_with_decoded_segments,
				reset),
		cmocka_unit_test_setup(test_a_path_off_the_table_is_404_json, reset),
		cmocka_unit_test_setup(test_another_method_is_405_with_every_method_of_the_path, reset),
		cmocka_unit_test_setup(test_a_route_with_an_error_writer_writes_its_own_errors, reset),
		cmocka_unit_test_setup(test_a_route_that_refuses_the_request_answers_401_without_calling,
				reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
