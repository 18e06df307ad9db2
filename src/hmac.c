#include "hmac.h"

#include <string.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

void hmac_sha256_hex(const void *key, size_t key_len, const void *msg, size_t len,
		char out[HMAC_HEX_SIZE]) {
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	HMAC(EVP_sha256(), key, (int)key_len, msg, len, mac, &n);
	size_t at = 0;
	for (unsigned int i = 0; i < n && i < 32; i++) {
		out[at++] = hex[mac[i] >> 4];
		out[at++] = hex[mac[i] & 15];
	}
	out[at] = '\0';
}

void hmac_signature_header(const char *secret, const char *body, size_t len,
		char out[HMAC_HEADER_SIZE]) {
	static const char prefix[] = "X-SMSRouter-Signature: sha256=";
	memcpy(out, prefix, sizeof(prefix) - 1);
	hmac_sha256_hex(secret, strlen(secret), body, len, out + sizeof(prefix) - 1);
}

struct curl_slist *hmac_json_headers(const char *secret, const char *body) {
	char sig[HMAC_HEADER_SIZE];
	hmac_signature_header(secret, body, strlen(body), sig);
	const char *const lines[] = {"Content-Type: application/json", sig, "Expect:"};
	struct curl_slist *list = NULL;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct curl_slist *more = curl_slist_append(list, lines[i]);
		if (!more) {
			curl_slist_free_all(list);
			return NULL;
		}
		list = more;
	}
	return list;
}
