/* curlbody: one libcurl answer, collected whole up to a cap. */
#include "curlbody.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

int curlbody_attach(void *h, struct curlbody *b, size_t max) {
	*b = (struct curlbody){.max = max};
	if (curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, curlbody_collect) != CURLE_OK ||
			curl_easy_setopt(h, CURLOPT_WRITEDATA, b) != CURLE_OK) {
		return -EIO;
	}
	return 0;
}

size_t curlbody_collect(char *p, size_t size, size_t n, void *ctx) {
	struct curlbody *b = ctx;
	size_t add = size * n;

	if (add > b->max - b->len) { /* len never passes max: no overflow */
		b->too_big = true;
		return 0;
	}
	char *q = realloc(b->s, b->len + add + 1);
	if (!q) {
		return 0;
	}
	memcpy(q + b->len, p, add);
	b->s = q;
	b->len += add;
	b->s[b->len] = '\0';
	return add;
}
