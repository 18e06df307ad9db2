#pragma once
/* media: the route behind the media links (media_link.h, docs/media.md). It checks the
 * link, finds the stored message's media URL, refuses any URL that is not Twilio's media
 * of this account on TWILIO_API_BASE (never an open proxy), and streams the file from
 * Twilio with the account's credentials: one thread runs a libcurl multi loop for every
 * fetch; a request holds no server thread while it waits for Twilio, and each fetch buffers
 * at most MEDIA_BUFFER bytes (Twilio's side is paused while the client is slower). Knows
 * nothing of SQL (the store interface), Twilio's webhook or the agent. */
#include <stddef.h>

#include "http/http.h"
#include "media_link.h"
#include "store/store.h"

#define MEDIA_MAX_BYTES (5L * 1024 * 1024)
#define MEDIA_BUFFER (64 * 1024)

struct media_options {
	const char *api_base;    /* TWILIO_API_BASE: the only origin fetched from */
	const char *account_sid; /* NULL: links answer 503 (no credentials to fetch with) */
	const char *auth_token;
	const struct media_link_key *key; /* borrowed: outlives the media */
	int max_fetches;         /* at once; more: 503 */
	long connect_timeout_ms; /* to Twilio (and its storage, after a redirect) */
	long timeout_ms;         /* a whole fetch, its client's pauses included */
	long low_speed_time_s;   /* aborted when under 1 byte/s this long (not while paused) */
	long max_bytes;          /* MEDIA_MAX_BYTES */
};

struct media;

/* Starts the fetch loop's thread over s (borrowed). -ENOMEM, -EIO. */
int media_start(const struct media_options *o, struct store *s, struct media **ret);
/* GET /sms-router/media/{user}/{uid}/{index}/{expires}/{sig} (ctx: the media). 403: a link
 * tampered with, expired or malformed, or a stored URL that is not Twilio's media of this
 * account; 404: no such message or index, or Twilio's 404; 502: Twilio's other answers,
 * over MEDIA_MAX_BYTES, Twilio down or too slow; 503: busy, stopping or no account SID. */
void media_get(void *ctx, const struct http_request *req, struct http_response *res);
/* Ends the fetches in flight (a waiting request gets 503, a streaming one is cut) and stops
 * the thread: before http_server_stop. Idempotent; NULL is fine. */
void media_stop(struct media *m);
/* After http_server_stop. NULL is fine. */
void media_destroy(struct media *m);
