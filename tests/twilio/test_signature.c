/* Tests of X-Twilio-Signature: every shared vector in $TESTDATA_DIR/twilio-signatures.json
 * (computed by Twilio's own libraries), the URL port variants, and the refusals. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twilio/twilio.h"

/* Twilio's documented example (twilio-python's unit tests). */
#define DOCS_TOKEN "12345"
#define DOCS_URL "https://mycompany.com/myapp.php?foo=1&bar=2"

static json_t *load_vectors(void) {
	const char *dir = getenv("TESTDATA_DIR");
	char path[4096];
	json_error_t err;
	json_t *root;
	int n;

	if (!dir || dir[0] == '\0') {
		print_error("TESTDATA_DIR is not set: run with TESTDATA_DIR=tests/data\n");
		fail();
	}
	n = snprintf(path, sizeof(path), "%s/twilio-signatures.json", dir);
	assert_true(n > 0 && (size_t)n < sizeof(path));
	root = json_load_file(path, 0, &err);
	if (!root) {
		print_error("cannot read %s: %s (line %d)\n", path, err.text, err.line);
		fail();
	}
	return root;
}

/* Fills *p from a JSON array of [key, value] pairs, wire order, repeated keys kept. Each
 * string is its own malloc() block, so twilio_params_finish() releases it. False if the
 * array is malformed. */
static bool params_from_json(const json_t *pairs, struct twilio_params *p) {
	size_t n = json_array_size(pairs);

	p->n = 0;
	p->v = n > 0 ? calloc(n, sizeof(*p->v)) : NULL;
	if (!json_is_array(pairs) || (n > 0 && !p->v)) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *pair = json_array_get(pairs, i);
		const char *key = json_string_value(json_array_get(pair, 0));
		const char *value = json_string_value(json_array_get(pair, 1));

		if (json_array_size(pair) != 2 || !key || !value) {
			return false;
		}
		p->v[i].key = strdup(key);
		p->v[i].value = strdup(value);
		p->n++;
		if (!p->v[i].key || !p->v[i].value) {
			return false;
		}
	}
	return true;
}

/* Checks one vector; returns false (after saying why, naming the case) if it fails. */
static bool check_case(const json_t *c) {
	const char *id = json_string_value(json_object_get(c, "id"));
	const char *token = json_string_value(json_object_get(c, "auth_token"));
	const char *url = json_string_value(json_object_get(c, "url"));
	const char *signed_url = json_string_value(json_object_get(c, "signed_url"));
	const char *signature = json_string_value(json_object_get(c, "signature"));
	const json_t *expect = json_object_get(c, "expect_valid");
	const json_t *json_body = json_object_get(c, "json_body");
	struct twilio_params p = {NULL, 0};
	char computed[TWILIO_SIGNATURE_SIZE];
	bool expect_valid;
	bool valid;
	bool ok = false;
	int r;

	if (!id || !token || !url || !signed_url || !signature || !json_is_boolean(expect) ||
			!params_from_json(json_object_get(c, "params"), &p)) {
		print_error("case %s: malformed vector\n", id ? id : "(no id)");
		goto out;
	}
	expect_valid = json_is_true(expect);

	if (json_body) {
		const char *body = json_string_value(json_body);
		bool hash_ok = body &&
				twilio_body_hash_matches(url, body, json_string_length(json_body));

		r = twilio_signature_verify(token, url, NULL, signature);
		valid = hash_ok && r == 0;
		if (valid != expect_valid) {
			print_error("case %s: JSON body hash %s, signature %d; expected %s\n", id,
					hash_ok ? "matches" : "differs", r,
					expect_valid ? "valid" : "invalid");
			goto out;
		}
	} else {
		r = twilio_signature_verify(token, url, &p, signature);
		if (r != (expect_valid ? 0 : -EPERM)) {
			print_error("case %s: twilio_signature_verify gave %d, expected %d\n", id,
					r, expect_valid ? 0 : -EPERM);
			goto out;
		}
	}

	if (expect_valid) {
		r = twilio_signature_compute(token, signed_url, &p, computed);
		if (r != 0 || strcmp(computed, signature) != 0) {
			print_error("case %s: twilio_signature_compute gave %d \"%s\", "
				    "expected \"%s\"\n",
					id, r, r == 0 ? computed : "", signature);
			goto out;
		}
	}
	ok = true;
out:
	twilio_params_finish(&p);
	return ok;
}

static void test_every_shared_vector_verifies_as_expected(void **state) {
	(void)state;
	json_t *root = load_vectors();
	const json_t *cases = json_object_get(root, "cases");
	size_t failed = 0;
	size_t valid = 0;

	assert_true(json_is_array(cases));
	assert_true(json_array_size(cases) > 0);
	for (size_t i = 0; i < json_array_size(cases); i++) {
		const json_t *c = json_array_get(cases, i);

		if (!check_case(c)) {
			failed++;
		} else if (json_is_true(json_object_get(c, "expect_valid"))) {
			valid++;
		}
	}
	print_message("%zu of %zu signature vectors pass (%zu valid, %zu invalid)\n",
			json_array_size(cases) - failed, json_array_size(cases), valid,
			json_array_size(cases) - failed - valid);
	json_decref(root);
	assert_int_equal(failed, 0);
}

/* A params list on the stack from P(key, value) pairs (compound literals: never passed to
 * twilio_params_finish()). */
#define PARAMS(...)                                                                               \
	((const struct twilio_params){                                                            \
		(struct twilio_param[]){__VA_ARGS__},                                             \
		sizeof((struct twilio_param[]){__VA_ARGS__}) / sizeof(struct twilio_param)})
#define P(k, v) {(char *)(k), (char *)(v)}

static void test_docs_example_matches_twilio(void **state) {
	(void)state;
	const struct twilio_params p = PARAMS(P("CallSid", "CA1234567890ABCDE"),
			P("Caller", "+14158675309"), P("Digits", "1234"), P("From", "+14158675309"),
			P("To", "+18005551212"));
	char sig[TWILIO_SIGNATURE_SIZE];

	assert_int_equal(twilio_signature_compute(DOCS_TOKEN, DOCS_URL, &p, sig), 0);
	assert_string_equal(sig, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
	assert_int_equal(twilio_signature_verify(DOCS_TOKEN, DOCS_URL, &p, sig), 0);
}

/* twilio-python's "Ensure duplicates are removed" test: values of a repeated key are sorted
 * and an identical pair counts once. Wire order must not matter. */
static void test_repeated_keys_sorted_and_deduplicated_as_twilio_python(void **state) {
	(void)state;
	const struct twilio_params p = PARAMS(P("Sid", "CA123"), P("SidAccount", "AC123"),
			P("Digits", "5678"), P("Digits", "1234"), P("Digits", "1234"));
	const struct twilio_params reordered = PARAMS(P("Digits", "1234"), P("Digits", "1234"),
			P("SidAccount", "AC123"), P("Digits", "5678"), P("Sid", "CA123"));
	char sig[TWILIO_SIGNATURE_SIZE];

	assert_int_equal(twilio_signature_compute(DOCS_TOKEN, DOCS_URL, &p, sig), 0);
	assert_string_equal(sig, "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
	assert_int_equal(twilio_signature_compute(DOCS_TOKEN, DOCS_URL, &reordered, sig), 0);
	assert_string_equal(sig, "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
}

static void test_null_params_sign_the_url_alone(void **state) {
	(void)state;
	const struct twilio_params empty = {NULL, 0};
	char with_null[TWILIO_SIGNATURE_SIZE];
	char with_empty[TWILIO_SIGNATURE_SIZE];

	assert_int_equal(twilio_signature_compute(DOCS_TOKEN, DOCS_URL, NULL, with_null), 0);
	assert_int_equal(twilio_signature_compute(DOCS_TOKEN, DOCS_URL, &empty, with_empty), 0);
	assert_string_equal(with_null, with_empty);
	assert_int_equal(strlen(with_null), TWILIO_SIGNATURE_SIZE - 1);
}

/* Signs signed_url and checks that url verifies (or not) against that signature. */
static void assert_variant(const char *url, const char *signed_url, int expected) {
	const struct twilio_params p = PARAMS(P("Body", "hi"), P("From", "+14155550100"));
	char sig[TWILIO_SIGNATURE_SIZE];
	int r;

	assert_int_equal(twilio_signature_compute(DOCS_TOKEN, signed_url, &p, sig), 0);
	r = twilio_signature_verify(DOCS_TOKEN, url, &p, sig);
	if (r != expected) {
		print_error("url %s signed as %s: got %d, expected %d\n", url, signed_url, r,
				expected);
	}
	assert_int_equal(r, expected);
}

static void test_port_removed_also_when_not_default(void **state) {
	(void)state;

	assert_variant("https://h.example:8443/p", "https://h.example/p", 0);
	assert_variant("https://h.example:443/p", "https://h.example/p", 0);
	assert_variant("http://h.example:80/p", "http://h.example/p", 0);
	assert_variant("https://h.example:8443/p", "https://h.example:8443/p", 0);
	assert_variant("https://h.example:8443/p", "https://h.example:443/p", -EPERM);
}

static void test_default_port_added_by_scheme(void **state) {
	(void)state;

	assert_variant("https://h.example/p", "https://h.example:443/p", 0);
	assert_variant("http://h.example/p", "http://h.example:80/p", 0);
	assert_variant("HTTPS://h.example/p", "HTTPS://h.example:443/p", 0);
	assert_variant("https://h.example/p", "https://h.example:80/p", -EPERM);
	assert_variant("http://h.example/p", "http://h.example:443/p", -EPERM);
	assert_variant("https://h.example/p", "https://h.example:8443/p", -EPERM);
}

static void test_port_found_only_in_the_authority(void **state) {
	(void)state;

	assert_variant("https://h.example/p?t=a:b", "https://h.example:443/p?t=a:b", 0);
	assert_variant("https://h.example?x=1", "https://h.example:443?x=1", 0);
	assert_variant("https://h.example", "https://h.example:443", 0);
	assert_variant("https://h.example:443#f", "https://h.example#f", 0);
	assert_variant("https://h.example/a:1/b", "https://h.example/a/b", -EPERM);
}

static void test_ipv6_host_keeps_its_brackets(void **state) {
	(void)state;

	assert_variant("http://[::1]:8000/p", "http://[::1]/p", 0);
	assert_variant("http://[::1]:8000/p", "http://[::1]:8000/p", 0);
	assert_variant("http://[::1]/p", "http://[::1]:80/p", 0);
	assert_variant("https://[2001:db8::1]/p", "https://[2001:db8::1]:443/p", 0);
	assert_variant("http://[::1]:8000/p", "http://[/p", -EPERM); /* Python's truncation */
	assert_variant("http://[::1]:8000/p", "http://[::1]:80/p", -EPERM);
}

static void test_userinfo_is_kept_whole(void **state) {
	(void)state;

	assert_variant("https://user:pw@h.example:8443/p", "https://user:pw@h.example/p", 0);
	assert_variant("https://user:pw@h.example/p", "https://user:pw@h.example:443/p", 0);
	assert_variant("https://u@x:pw@h.example:8443/p", "https://u@x:pw@h.example/p", 0);
	assert_variant("https://user:pw@h.example:8443/p", "https://user/p", -EPERM);
}

static void test_url_without_authority_is_signed_as_given(void **state) {
	(void)state;

	assert_variant("/sms-router/webhook/sms", "/sms-router/webhook/sms", 0);
	assert_variant("h.example:8443/p", "h.example:8443/p", 0);
	assert_variant("", "", 0);
}

static void test_scheme_is_not_rewritten(void **state) {
	(void)state;

	assert_variant("http://h.example/p", "https://h.example/p", -EPERM);
	assert_variant("https://h.example/p", "http://h.example/p", -EPERM);
}

static void test_bad_signature_or_token_is_eperm(void **state) {
	(void)state;
	const struct twilio_params p = PARAMS(P("Body", "hi"));
	char sig[TWILIO_SIGNATURE_SIZE];
	char longer[TWILIO_SIGNATURE_SIZE + 1];

	assert_int_equal(twilio_signature_compute(DOCS_TOKEN, DOCS_URL, &p, sig), 0);
	assert_int_equal(twilio_signature_verify(DOCS_TOKEN, DOCS_URL, &p, sig), 0);

	assert_int_equal(twilio_signature_verify(DOCS_TOKEN, DOCS_URL, &p, NULL), -EPERM);
	assert_int_equal(twilio_signature_verify(DOCS_TOKEN, DOCS_URL, &p, ""), -EPERM);
	assert_int_equal(twilio_signature_verify(NULL, DOCS_URL, &p, sig), -EPERM);
	assert_int_equal(twilio_signature_verify("", DOCS_URL, &p, sig), -EPERM);
	assert_int_equal(twilio_signature_verify(DOCS_TOKEN, NULL, &p, sig), -EPERM);

	/* The right 27 characters, and the right 28 with one more. */
	memcpy(longer, sig, TWILIO_SIGNATURE_SIZE);
	longer[TWILIO_SIGNATURE_SIZE - 2] = '\0';
	assert_int_equal(twilio_signature_verify(DOCS_TOKEN, DOCS_URL, &p, longer), -EPERM);
	memcpy(longer, sig, TWILIO_SIGNATURE_SIZE);
	longer[TWILIO_SIGNATURE_SIZE - 1] = '=';
	longer[TWILIO_SIGNATURE_SIZE] = '\0';
	assert_int_equal(twilio_signature_verify(DOCS_TOKEN, DOCS_URL, &p, longer), -EPERM);

	/* One character changed. */
	memcpy(longer, sig, TWILIO_SIGNATURE_SIZE);
	longer[0] = longer[0] == 'A' ? 'B' : 'A';
	assert_int_equal(twilio_signature_verify(DOCS_TOKEN, DOCS_URL, &p, longer), -EPERM);
}

static void test_empty_token_still_computes(void **state) {
	(void)state;
	char sig[TWILIO_SIGNATURE_SIZE];

	/* HMAC with an empty key is defined (Python and Node compute it); verify refuses it. */
	assert_int_equal(twilio_signature_compute("", DOCS_URL, NULL, sig), 0);
	assert_int_equal(strlen(sig), TWILIO_SIGNATURE_SIZE - 1);
	assert_int_equal(twilio_signature_verify("", DOCS_URL, NULL, sig), -EPERM);
}

static void test_body_hash_checks_body_sha256(void **state) {
	(void)state;
	/* SHA-256("abc") */
	const char *url = "https://h.example/j?a=1&bodySHA256="
			  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	const char *upper = "https://h.example/j?bodySHA256="
			    "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";
	const char *empty = "https://h.example/j?bodySHA256="
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

	assert_true(twilio_body_hash_matches(url, "abc", 3));
	assert_false(twilio_body_hash_matches(url, "abd", 3));
	assert_false(twilio_body_hash_matches(url, "abc", 2));
	assert_false(twilio_body_hash_matches(upper, "abc", 3));
	assert_true(twilio_body_hash_matches(empty, NULL, 0));
	assert_true(twilio_body_hash_matches(empty, "", 0));
	assert_false(twilio_body_hash_matches("https://h.example/j", "abc", 3));
	assert_false(twilio_body_hash_matches("https://h.example/j?bodySHA256=", "", 0));
	assert_false(twilio_body_hash_matches("https://h.example/j?xbodySHA256=e3b0c44298fc1c149a"
					      "fbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			"", 0));
	assert_false(twilio_body_hash_matches(NULL, "abc", 3));
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_shared_vector_verifies_as_expected),
		cmocka_unit_test(test_docs_example_matches_twilio),
		cmocka_unit_test(test_repeated_keys_sorted_and_deduplicated_as_twilio_python),
		cmocka_unit_test(test_null_params_sign_the_url_alone),
		cmocka_unit_test(test_port_removed_also_when_not_default),
		cmocka_unit_test(test_default_port_added_by_scheme),
		cmocka_unit_test(test_port_found_only_in_the_authority),
		cmocka_unit_test(test_ipv6_host_keeps_its_brackets),
		cmocka_unit_test(test_userinfo_is_kept_whole),
		cmocka_unit_test(test_url_without_authority_is_signed_as_given),
		cmocka_unit_test(test_scheme_is_not_rewritten),
		cmocka_unit_test(test_bad_signature_or_token_is_eperm),
		cmocka_unit_test(test_empty_token_still_computes),
		cmocka_unit_test(test_body_hash_checks_body_sha256),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
