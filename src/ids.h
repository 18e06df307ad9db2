#pragma once
/* ids: opaque, random, unguessable identifiers (OpenSSL's RAND_bytes), and RFC 3339
 * time stamps. Knows nothing of the other modules. */
#include <stddef.h>
#include <stdint.h>

#define IDS_SIZE 33          /* 32 lowercase hex characters (128 random bits) and NUL */
#define IDS_TIME_SIZE 32     /* "2026-11-24T14:15:07Z" and NUL, with room */

/* Writes prefix (may be "") then 2*bytes hex characters of fresh randomness into out
 * (out_size must hold them and NUL). 0 or -EIO when the random source fails. */
int ids_random_hex(const char *prefix, size_t bytes, char *out, size_t out_size);

/* A message's public id: 32 lowercase hex characters, the time in milliseconds (12) then
 * 80 random bits (20). Ids made later sort after (to the millisecond), so the index on
 * them grows at its right edge instead of at a random page per message, and one id still
 * cannot be guessed from another. 0 or -EIO. */
int ids_ordered_hex(char out[IDS_SIZE]);
/* Writes n fresh ids, each as ids_random_hex("", 16, …) writes one, in ascending order
 * (strcmp's), drawing the randomness in blocks rather than one call an id (a bulk import).
 * 0, -ENOMEM, or -EIO when the random source fails. */
int ids_random_sorted(size_t n, char (*out)[IDS_SIZE]);

/* Unix seconds, UTC. */
int64_t ids_now(void);
/* Unix milliseconds, UTC: for times that outlive the process. */
int64_t ids_now_ms(void);

/* The times RFC 3339 can write, years 0000 to 9999: 0000-01-01T00:00:00Z and
 * 9999-12-31T23:59:59Z in unix seconds. */
#define IDS_TIME_MIN (-62167219200LL)
#define IDS_TIME_MAX 253402300799LL

/* Formats unix seconds as RFC 3339 UTC ("2026-11-24T14:15:07Z"), the year always in four
 * digits ("0099-01-01T00:00:00Z"). A time outside IDS_TIME_MIN..IDS_TIME_MAX is written as
 * the nearer of the two. */
void ids_time_format(int64_t t, char out[IDS_TIME_SIZE]);

/* Parses an RFC 3339 date-time ("2026-11-24T14:15:07Z", "…+02:00", fractional seconds
 * allowed). 0 or -EINVAL, also for a bare date ("2026-11-24") and for a time outside
 * IDS_TIME_MIN..IDS_TIME_MAX once its offset is taken off. */
int ids_time_parse(const char *s, int64_t *ret);
