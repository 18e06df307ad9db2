#pragma once
/* hmac: the X-SMSRouter-Signature that signs what smsrouter POSTs to its own services (the
 * Agent Core, the events URL): "sha256=" and the hex HMAC-SHA256 of the body under
 * SMSROUTER_AGENT_SECRET; and the libcurl headers of such a POST. Knows nothing of the
 * other modules. */
#include <stddef.h>

/* 64 hex digits and NUL. */
#define HMAC_HEX_SIZE 65

/* The lowercase hex HMAC-SHA256 of len bytes of msg under key_len bytes of key. */
void hmac_sha256_hex(const void *key, size_t key_len, const void *msg, size_t len,
		char out[HMAC_HEX_SIZE]);

/* "X-SMSRouter-Signature: sha256=" and 64 hex digits, and NUL. */
#define HMAC_HEADER_SIZE 96

/* Writes the whole header line, ready for curl_slist_append, signing len bytes of body
 * under secret. */
void hmac_signature_header(const char *secret, const char *body, size_t len,
		char out[HMAC_HEADER_SIZE]);

struct curl_slist;
/* The headers of a signed JSON POST of body (a C string): Content-Type, the signature,
 * and no "Expect: 100-continue". The caller's, freed with curl_slist_free_all; NULL when
 * out of memory. */
struct curl_slist *hmac_json_headers(const char *secret, const char *body);
