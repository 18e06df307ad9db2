#pragma once
/* curlbody: the body of one libcurl answer, collected whole up to a cap. The one write
 * callback every libcurl client here uses (the Agent Core client, the Messages API client,
 * simulate). Knows nothing of what the body means. */
#include <stdbool.h>
#include <stddef.h>

struct curlbody {
	char *s;        /* NUL-terminated, NULL until the first byte; the caller's to free() */
	size_t len;
	size_t max;     /* the cap, in bytes: set before the transfer */
	bool too_big;   /* the answer went past max: the transfer was aborted */
};

/* Sets h's CURLOPT_WRITEFUNCTION and CURLOPT_WRITEDATA to collect the answer into b, which
 * must outlive the transfer. b is zeroed but for max. 0, or -EIO if libcurl refuses. */
int curlbody_attach(void *h, struct curlbody *b, size_t max);

/* libcurl's write callback (CURLOPT_WRITEFUNCTION) over a struct curlbody: appends, keeping
 * a NUL after the data. Past max it sets too_big and returns 0, which aborts the transfer
 * with CURLE_WRITE_ERROR; out of memory it returns 0 too. */
size_t curlbody_collect(char *p, size_t size, size_t n, void *ctx);
