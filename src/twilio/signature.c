/* signature: X-Twilio-Signature (Base64 HMAC-SHA1 over the URL and the sorted parameters),
 * the URL variants Twilio's libraries accept, and the bodySHA256 check of JSON webhooks,
 * with OpenSSL 3. Never logs: tokens and signatures are secrets. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "twilio/twilio.h"

#define TWILIO__SIGNATURE_LEN (TWILIO_SIGNATURE_SIZE - 1) /* Base64 of 20 bytes */
#define TWILIO__SHA1_LEN 20
#define TWILIO__SHA256_HEX_LEN 64

static int twilio__param_cmp(const void *a, const void *b) {
	const struct twilio_param *x = *(const struct twilio_param *const *)a;
	const struct twilio_param *y = *(const struct twilio_param *const *)b;
	int c = strcmp(x->key, y->key); /* unsigned bytes: UTF-8 code point order */

	return c != 0 ? c : strcmp(x->value, y->value);
}

static bool twilio__param_same(const struct twilio_param *x, const struct twilio_param *y) {
	return strcmp(x->key, y->key) == 0 && strcmp(x->value, y->value) == 0;
}

/* Writes key+value of each of sorted[0..n), an identical pair once, to out when out is not
 * NULL, and returns the length written; SIZE_MAX if it would not fit. Called once to size
 * the buffer, once to fill it. */
static size_t twilio__signed_write(const struct twilio_param *const *sorted, size_t n, char *out) {
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		size_t klen;
		size_t vlen;

		if (i > 0 && twilio__param_same(sorted[i - 1], sorted[i])) {
			continue;
		}
		klen = strlen(sorted[i]->key);
		vlen = strlen(sorted[i]->value);
		if (klen > SIZE_MAX - 1 - len || vlen > SIZE_MAX - 1 - len - klen) {
			return SIZE_MAX;
		}
		if (out) {
			memcpy(out + len, sorted[i]->key, klen);
			memcpy(out + len + klen, sorted[i]->value, vlen);
		}
		len += klen + vlen;
	}
	return len;
}

/* The part of the signed string after the URL: key+value for each parameter, sorted by key
 * then value, an identical pair once. *ret_data (NULL when there is nothing to sign) is the
 * caller's to free(); *ret_len its length. 0 or -ENOMEM. */
static int twilio__signed_params(const struct twilio_params *p, char **ret_data, size_t *ret_len) {
	const struct twilio_param **sorted = NULL;
	char *data = NULL;
	size_t n = p ? p->n : 0;
	size_t len;
	int r = -ENOMEM;

	if (n == 0) {
		*ret_data = NULL;
		*ret_len = 0;
		return 0;
	}
	if (n > SIZE_MAX / sizeof(*sorted)) {
		goto out;
	}
	sorted = malloc(n * sizeof(*sorted));
	if (!sorted) {
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		sorted[i] = &p->v[i];
	}
	qsort(sorted, n, sizeof(*sorted), twilio__param_cmp);

	len = twilio__signed_write(sorted, n, NULL);
	if (len == SIZE_MAX) {
		goto out;
	}
	data = malloc(len + 1); /* + 1: never malloc(0), e.g. a lone empty key */
	if (!data) {
		goto out;
	}
	twilio__signed_write(sorted, n, data);
	data[len] = '\0';
	*ret_data = data;
	*ret_len = len;
	data = NULL;
	r = 0;
out:
	free(data);
	free(sorted);
	return r;
}

/* Writes Base64(HMAC-SHA1(token, url + data[0..len))) into out. 0 or -ENOMEM. */
static int twilio__hmac_base64(const char *token, const char *url, const char *data, size_t len,
		char out[TWILIO_SIGNATURE_SIZE]) {
	char digest[] = "SHA1";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};
	unsigned char md[EVP_MAX_MD_SIZE];
	size_t md_len = 0;
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	int r = -ENOMEM; /* OpenSSL fails here only when it cannot allocate */

	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!mac) {
		goto out;
	}
	ctx = EVP_MAC_CTX_new(mac);
	if (!ctx) {
		goto out;
	}
	/* token is never NULL here, so an empty token is an empty key, not "reuse the last". */
	if (!EVP_MAC_init(ctx, (const unsigned char *)token, strlen(token), params) ||
			!EVP_MAC_update(ctx, (const unsigned char *)url, strlen(url)) ||
			(len > 0 && !EVP_MAC_update(ctx, (const unsigned char *)data, len)) ||
			!EVP_MAC_final(ctx, md, &md_len, sizeof(md)) ||
			md_len != TWILIO__SHA1_LEN) {
		goto out;
	}
	EVP_EncodeBlock((unsigned char *)out, md, (int)md_len); /* 28 characters and NUL */
	r = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return r;
}

/* a[0..alen) + b + c[0..clen) as a new string, the caller's to free(); NULL if out of memory. */
static char *twilio__join(const char *a, size_t alen, const char *b, const char *c, size_t clen) {
	size_t blen = strlen(b);
	char *s;

	if (alen > SIZE_MAX - blen - 1 || clen > SIZE_MAX - alen - blen - 1) {
		return NULL;
	}
	s = malloc(alen + blen + clen + 1);
	if (!s) {
		return NULL;
	}
	memcpy(s, a, alen);
	memcpy(s + alen, b, blen);
	memcpy(s + alen + blen, c, clen);
	s[alen + blen + clen] = '\0';
	return s;
}

static bool twilio__is_alpha(char c) {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool twilio__is_scheme_char(char c) {
	return twilio__is_alpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

/* True if url[0..len) is "https" in any case (URL schemes are case-insensitive). */
static bool twilio__is_https(const char *url, size_t len) {
	static const char https[] = "https";

	if (len != sizeof(https) - 1) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		char c = url[i];

		if (c >= 'A' && c <= 'Z') {
			c = (char)(c - 'A' + 'a');
		}
		if (c != https[i]) {
			return false;
		}
	}
	return true;
}

/* The two URLs Twilio's Python RequestValidator.validate tries: *ret_without, url with its
 * port removed (any port, not only the default one), and *ret_with, url as given if it has a
 * port, else with ":443" (https) or ":80" (anything else) after the host. The authority is
 * what follows "scheme://" up to '/', '?', '#' or the end; userinfo ends at its last '@'; a
 * bracketed IPv6 host ends at ']', so "http://[::1]:8000/p" gives "http://[::1]/p". A url
 * without an authority is returned as is, twice. Both are the caller's to free(). 0 or
 * -ENOMEM. */
static int twilio__url_variants(const char *url, char **ret_without, char **ret_with) {
	size_t scheme_len = 0;
	size_t host;
	size_t end;
	size_t colon;
	char *without = NULL;
	char *with = NULL;

	if (twilio__is_alpha(url[0])) {
		while (twilio__is_scheme_char(url[scheme_len])) {
			scheme_len++;
		}
	}
	if (scheme_len == 0 || strncmp(url + scheme_len, "://", 3) != 0) {
		without = twilio__join(url, strlen(url), "", "", 0);
		with = twilio__join(url, strlen(url), "", "", 0);
		goto out;
	}

	host = scheme_len + 3;
	end = host + strcspn(url + host, "/?#");
	for (size_t i = host; i < end; i++) {
		if (url[i] == '@') {
			host = i + 1; /* user:pw@ is not host:port */
		}
	}
	colon = end; /* where the port starts, or would be inserted */
	if (url[host] == '[') {
		const char *bracket = memchr(url + host, ']', end - host);

		if (bracket && bracket + 1 < url + end && bracket[1] == ':') {
			colon = (size_t)(bracket + 1 - url);
		}
	} else {
		const char *c = memchr(url + host, ':', end - host);

		if (c) {
			colon = (size_t)(c - url);
		}
	}

	without = twilio__join(url, colon, "", url + end, strlen(url + end));
	if (colon < end) {
		with = twilio__join(url, strlen(url), "", "", 0);
	} else {
		with = twilio__join(url, end, twilio__is_https(url, scheme_len) ? ":443" : ":80",
				url + end, strlen(url + end));
	}
out:
	if (!without || !with) {
		free(without);
		free(with);
		return -ENOMEM;
	}
	*ret_without = without;
	*ret_with = with;
	return 0;
}

int twilio_signature_compute(const char *token, const char *url, const struct twilio_params *p,
		char out[TWILIO_SIGNATURE_SIZE]) {
	char *data = NULL;
	size_t len = 0;
	int r;

	r = twilio__signed_params(p, &data, &len);
	if (r < 0) {
		goto out;
	}
	r = twilio__hmac_base64(token, url, data, len, out);
out:
	free(data);
	return r;
}

int twilio_signature_verify(const char *token, const char *url, const struct twilio_params *p,
		const char *signature) {
	char expected[TWILIO_SIGNATURE_SIZE];
	char *data = NULL;
	char *without = NULL;
	char *with = NULL;
	size_t len = 0;
	bool match = false;
	int r;

	/* The length is public (always 28), so checking it first leaks nothing. */
	if (!token || token[0] == '\0' || !url || !signature ||
			strlen(signature) != TWILIO__SIGNATURE_LEN) {
		return -EPERM;
	}
	r = twilio__signed_params(p, &data, &len);
	if (r < 0) {
		goto out;
	}
	r = twilio__url_variants(url, &without, &with);
	if (r < 0) {
		goto out;
	}
	/* Both variants are always computed and compared, so the time does not tell which. */
	r = twilio__hmac_base64(token, without, data, len, expected);
	if (r < 0) {
		goto out;
	}
	match = CRYPTO_memcmp(expected, signature, TWILIO__SIGNATURE_LEN) == 0;
	r = twilio__hmac_base64(token, with, data, len, expected);
	if (r < 0) {
		goto out;
	}
	if (CRYPTO_memcmp(expected, signature, TWILIO__SIGNATURE_LEN) == 0) {
		match = true;
	}
	r = match ? 0 : -EPERM;
out:
	free(with);
	free(without);
	free(data);
	return r;
}

bool twilio_body_hash_matches(const char *url, const char *body, size_t len) {
	static const char key[] = "bodySHA256=";
	static const char hex_digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	char hex[TWILIO__SHA256_HEX_LEN];
	const char *q;
	const char *q_end;
	const char *value = NULL;
	size_t value_len = 0;

	if (!url || (!body && len > 0)) {
		return false;
	}
	q = strchr(url, '?');
	if (!q) {
		return false;
	}
	q++;
	q_end = q + strcspn(q, "#");
	/* The first bodySHA256 wins, as in Twilio's libraries; the key is matched as sent. */
	while (q < q_end) {
		const char *amp = memchr(q, '&', (size_t)(q_end - q));
		const char *piece_end = amp ? amp : q_end;

		if ((size_t)(piece_end - q) >= sizeof(key) - 1 &&
				memcmp(q, key, sizeof(key) - 1) == 0) {
			value = q + sizeof(key) - 1;
			value_len = (size_t)(piece_end - value);
			break;
		}
		if (!amp) {
			break;
		}
		q = amp + 1;
	}
	if (!value || value_len != TWILIO__SHA256_HEX_LEN) {
		return false;
	}
	if (!EVP_Digest(body ? body : "", len, md, &md_len, EVP_sha256(), NULL) ||
			md_len * 2 != TWILIO__SHA256_HEX_LEN) {
		return false;
	}
	for (unsigned int i = 0; i < md_len; i++) {
		hex[2 * i] = hex_digits[md[i] >> 4];
		hex[2 * i + 1] = hex_digits[md[i] & 0x0f];
	}
	return CRYPTO_memcmp(hex, value, TWILIO__SHA256_HEX_LEN) == 0;
}
