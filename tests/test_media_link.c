/* Tests of the media links (docs/media.md): the documented key derivation and signature,
 * and every way a link is refused (the clock is an argument: no sleeping). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media_link.h"

#define TOKEN "12345678901234567890123456789012"
#define USER "0123456789abcdef0123456789abcdef"
#define UID "fedcba9876543210fedcba9876543210"
#define EXPIRES 1800000000LL
/* HMAC-SHA256(HMAC-SHA256(TOKEN, "smsrouter media link v1"),
 * "v1/USER/UID/2/1800000000"), by Python's hmac module. */
#define SIG_2 "8e245433d015d3a4f3092dea4e566a1bdc05b42d6ab41567b7fad4a59fc81d38"

/* Splits a link path into its five pieces (in buf). */
static int pieces_of(const char *path, char *buf, size_t size, const char *pieces[5]) {
	size_t n = strlen(MEDIA_LINK_PREFIX);
	if (strncmp(path, MEDIA_LINK_PREFIX, n) != 0 || strlen(path + n) >= size) {
		return -1;
	}
	strcpy(buf, path + n);
	int i = 0;
	for (char *s = buf, *save = NULL, *t; i < 5 && (t = strtok_r(s, "/", &save)); s = NULL) {
		pieces[i++] = t;
	}
	return i == 5 ? 0 : -1;
}

static void key(struct media_link_key *k) {
	media_link_key_derive(TOKEN, k);
}

static void test_the_signature_is_the_documented_one(void **state) {
	(void)state;
	struct media_link_key k;
	char path[256];
	key(&k);
	assert_int_equal(media_link_path(&k, USER, UID, 2, EXPIRES, path, sizeof(path)), 0);
	assert_string_equal(path, MEDIA_LINK_PREFIX USER "/" UID "/2/1800000000/" SIG_2);
}

static void test_a_link_verifies_until_its_expiry_and_not_a_second_after(void **state) {
	(void)state;
	struct media_link_key k;
	struct media_link got;
	char path[256], buf[256];
	const char *p[5];
	key(&k);
	assert_int_equal(media_link_path(&k, USER, UID, 2, EXPIRES, path, sizeof(path)), 0);
	assert_int_equal(pieces_of(path, buf, sizeof(buf), p), 0);
	assert_int_equal(media_link_verify(&k, p, EXPIRES - 3600, &got), 0);
	assert_string_equal(got.user_id, USER);
	assert_string_equal(got.uid, UID);
	assert_int_equal(got.index, 2);
	assert_int_equal(got.expires, EXPIRES);
	assert_int_equal(media_link_verify(&k, p, EXPIRES, &got), 0);
	assert_int_equal(media_link_verify(&k, p, EXPIRES + 1, &got), -ETIME);
}

static void test_one_changed_byte_of_the_signature_is_refused(void **state) {
	(void)state;
	struct media_link_key k;
	struct media_link got;
	key(&k);
	for (int i = 0; i < 64; i++) {
		char sig[] = SIG_2;
		sig[i] = sig[i] == '0' ? '1' : '0';
		const char *p[5] = {USER, UID, "2", "1800000000", sig};
		assert_int_equal(media_link_verify(&k, p, EXPIRES - 1, &got), -EPERM);
	}
	char upper[] = SIG_2;
	upper[0] = 'E'; /* the same digit in another case is another link */
	const char *p[5] = {USER, UID, "2", "1800000000", upper};
	assert_int_equal(media_link_verify(&k, p, EXPIRES - 1, &got), -EPERM);
}

/* The index, the expiry, the message and the user are all signed: changing one of them
 * under a good signature is refused. */
static void test_every_piece_is_signed(void **state) {
	(void)state;
	struct media_link_key k;
	struct media_link got;
	key(&k);
	const char *const tries[][5] = {
		{USER, UID, "3", "1800000000", SIG_2},
		{USER, UID, "0", "1800000000", SIG_2},
		{USER, UID, "2", "1800000001", SIG_2},
		{USER, UID, "2", "9999999999", SIG_2},
		{USER, "fedcba9876543210fedcba9876543211", "2", "1800000000", SIG_2},
		{"0123456789abcdef0123456789abcdee", UID, "2", "1800000000", SIG_2},
		{UID, USER, "2", "1800000000", SIG_2},
	};
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		assert_int_equal(media_link_verify(&k, tries[i], EXPIRES - 1, &got), -EPERM);
	}
	/* And another token's key refuses the good link. */
	struct media_link_key other;
	media_link_key_derive("another-token", &other);
	const char *p[5] = {USER, UID, "2", "1800000000", SIG_2};
	assert_int_equal(media_link_verify(&other, p, EXPIRES - 1, &got), -EPERM);
	assert_int_equal(media_link_verify(&k, p, EXPIRES - 1, &got), 0);
}

static void test_malformed_pieces_are_refused(void **state) {
	(void)state;
	struct media_link_key k;
	struct media_link got;
	key(&k);
	char junk[100 * 1000 + 1];
	memset(junk, 'a', sizeof(junk) - 1);
	junk[sizeof(junk) - 1] = '\0';
	const char *const tries[][5] = {
		{"", UID, "2", "1800000000", SIG_2},
		{USER, "", "2", "1800000000", SIG_2},
		{USER, UID, "", "1800000000", SIG_2},
		{USER, UID, "2", "", SIG_2},
		{USER, UID, "2", "1800000000", ""},
		{USER, UID, "02", "1800000000", SIG_2},
		{USER, UID, "10", "1800000000", SIG_2},
		{USER, UID, "-1", "1800000000", SIG_2},
		{USER, UID, "2", "-1800000000", SIG_2},
		{USER, UID, "2", "01800000000", SIG_2},
		{USER, UID, "2", "1800000000000", SIG_2},
		{USER, UID, "2", "99999999999999999999999", SIG_2},
		{USER, UID, "2", "1e9", SIG_2},
		{USER, UID, "2", "1800000000", SIG_2 "0"},
		{USER, UID, "2", "1800000000", "8e24"},
		{"../../etc", UID, "2", "1800000000", SIG_2},
		{USER, "a b", "2", "1800000000", SIG_2},
		{USER, "a%2f", "2", "1800000000", SIG_2},
		{junk, UID, "2", "1800000000", SIG_2},
		{USER, junk, "2", "1800000000", SIG_2},
		{USER, UID, junk, "1800000000", SIG_2},
		{USER, UID, "2", junk, SIG_2},
		{USER, UID, "2", "1800000000", junk},
		{USER, UID, "2", "1800000000", NULL},
	};
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		assert_int_equal(media_link_verify(&k, tries[i], EXPIRES - 1, &got), -EINVAL);
	}
}

static void test_links_are_absolute_and_made_once_the_origin_is_known(void **state) {
	(void)state;
	struct media_links l;
	char url[MEDIA_LINK_URL_SIZE];
	media_links_init(&l, TOKEN, 3600);
	assert_int_equal(media_links_url(&l, USER, UID, 2, EXPIRES - 3600, url, sizeof(url)),
			-EAGAIN);
	media_links_set_origin(&l, "https://sms.example.com");
	assert_int_equal(media_links_url(&l, USER, UID, 2, EXPIRES - 3600, url, sizeof(url)), 0);
	assert_string_equal(url, "https://sms.example.com" MEDIA_LINK_PREFIX USER "/" UID
				 "/2/1800000000/" SIG_2);
	/* Pieces a link cannot carry make none. */
	assert_int_equal(media_links_url(&l, USER, UID, 10, 0, url, sizeof(url)), -EINVAL);
	assert_int_equal(media_links_url(&l, "a/b", UID, 0, 0, url, sizeof(url)), -EINVAL);
	assert_int_equal(media_links_url(&l, USER, UID, 0, 0, url, 20), -EINVAL);
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_signature_is_the_documented_one),
		cmocka_unit_test(test_a_link_verifies_until_its_expiry_and_not_a_second_after),
		cmocka_unit_test(test_one_changed_byte_of_the_signature_is_refused),
		cmocka_unit_test(test_every_piece_is_signed),
		cmocka_unit_test(test_malformed_pieces_are_refused),
		cmocka_unit_test(test_links_are_absolute_and_made_once_the_origin_is_known),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
