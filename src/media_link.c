#include "media_link.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "hmac.h"

#define KEY_LABEL "smsrouter media link v1"
#define EXPIRES_DIGITS 12 /* unix seconds up to year 33658: never a 64-bit overflow */

void media_link_key_derive(const char *auth_token, struct media_link_key *ret) {
	char hex[HMAC_HEX_SIZE];
	hmac_sha256_hex(auth_token, strlen(auth_token), KEY_LABEL, strlen(KEY_LABEL), hex);
	for (int i = 0; i < MEDIA_LINK_KEY_SIZE; i++) {
		unsigned int b = 0;
		sscanf(hex + 2 * i, "%2x", &b);
		ret->k[i] = (unsigned char)b;
	}
}

/* 1 to MEDIA_LINK_ID_MAX of [0-9A-Za-z_-]: nothing a path or the signed text could
 * read differently. */
static bool id_ok(const char *s) {
	size_t n = strlen(s);
	return n > 0 && n <= MEDIA_LINK_ID_MAX &&
	       strspn(s, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-") == n;
}

/* Decimal digits without a leading zero (but "0"), at most max of them. */
static bool number_ok(const char *s, size_t max, int64_t *ret) {
	size_t n = strlen(s);
	if (n == 0 || n > max || strspn(s, "0123456789") != n || (n > 1 && s[0] == '0')) {
		return false;
	}
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return true;
}

/* The signed text and its signature; -EINVAL when it does not fit. */
static int sign(const struct media_link_key *k, const char *user_id, const char *uid,
		int index, int64_t expires, char sig[HMAC_HEX_SIZE]) {
	char text[2 * MEDIA_LINK_ID_MAX + 48];
	int n = snprintf(text, sizeof(text), "v1/%s/%s/%d/%" PRId64, user_id, uid, index, expires);
	if (n < 0 || (size_t)n >= sizeof(text)) {
		return -EINVAL;
	}
	hmac_sha256_hex(k->k, sizeof(k->k), text, (size_t)n, sig);
	return 0;
}

int media_link_path(const struct media_link_key *k, const char *user_id, const char *uid,
		int index, int64_t expires, char *out, size_t size) {
	char sig[HMAC_HEX_SIZE];
	if (!id_ok(user_id) || !id_ok(uid) || index < 0 || index > MEDIA_LINK_MAX_INDEX ||
			expires < 0 || expires > 999999999999LL ||
			sign(k, user_id, uid, index, expires, sig) < 0) {
		return -EINVAL;
	}
	int n = snprintf(out, size, MEDIA_LINK_PREFIX "%s/%s/%d/%" PRId64 "/%s", user_id, uid,
			index, expires, sig);
	return n < 0 || (size_t)n >= size ? -EINVAL : 0;
}

int media_link_verify(const struct media_link_key *k, const char *const pieces[5], int64_t now,
		struct media_link *ret) {
	int64_t index, expires;
	char want[HMAC_HEX_SIZE];
	for (int i = 0; i < 5; i++) {
		if (!pieces[i]) {
			return -EINVAL;
		}
	}
	if (!id_ok(pieces[0]) || !id_ok(pieces[1]) || !number_ok(pieces[2], 1, &index) ||
			!number_ok(pieces[3], EXPIRES_DIGITS, &expires) ||
			strlen(pieces[4]) != HMAC_HEX_SIZE - 1 ||
			sign(k, pieces[0], pieces[1], (int)index, expires, want) < 0) {
		return -EINVAL;
	}
	if (CRYPTO_memcmp(want, pieces[4], HMAC_HEX_SIZE - 1) != 0) {
		return -EPERM;
	}
	if (expires < now) {
		return -ETIME;
	}
	snprintf(ret->user_id, sizeof(ret->user_id), "%s", pieces[0]);
	snprintf(ret->uid, sizeof(ret->uid), "%s", pieces[1]);
	ret->index = (int)index;
	ret->expires = expires;
	return 0;
}

void media_links_init(struct media_links *l, const char *auth_token, int ttl_s) {
	media_link_key_derive(auth_token, &l->key);
	l->ttl_s = ttl_s;
	l->origin[0] = '\0';
	atomic_init(&l->ready, false);
}

void media_links_set_origin(struct media_links *l, const char *origin) {
	if (atomic_load(&l->ready)) {
		return;
	}
	snprintf(l->origin, sizeof(l->origin), "%s", origin);
	atomic_store(&l->ready, true);
}

int media_links_url(const struct media_links *l, const char *user_id, const char *uid,
		int index, int64_t now, char *out, size_t size) {
	if (!atomic_load(&l->ready)) {
		return -EAGAIN;
	}
	size_t n = strlen(l->origin);
	if (n >= size) {
		return -EINVAL;
	}
	memcpy(out, l->origin, n);
	return media_link_path(&l->key, user_id, uid, index, now + l->ttl_s, out + n, size - n);
}
