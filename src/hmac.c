#include "hmac.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

void hmac_signature_header(const char *secret, const char *body, size_t len,
		char out[HMAC_HEADER_SIZE]) {
	static const char hex[] = "0123456789abcdef";
	static const char prefix[] = "X-SMSRouter-Signature: sha256=";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, len, mac, &n);
	size_t at = sizeof(prefix) - 1;
	memcpy(out, prefix, at);
	for (unsigned int i = 0; i < n && i < 32; i++) {
		out[at++] = hex[mac[i] >> 4];
		out[at++] = hex[mac[i] & 15];
	}
	out[at] = '\0';
}
