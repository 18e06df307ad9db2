#pragma once
/* media_link: the signed links that let an agent fetch a stored message's media without
 * Twilio's credentials (docs/media.md):
 *     /sms-router/media/{user_id}/{message_uid}/{index}/{expires}/{sig}
 * sig is the hex HMAC-SHA256 of "v1/{user_id}/{message_uid}/{index}/{expires}" under a key
 * derived from TWILIO_AUTH_TOKEN, so that every router of a deployment agrees on it and no
 * new secret is configured. Knows nothing of the other modules. */
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MEDIA_LINK_PREFIX "/sms-router/media/"
#define MEDIA_LINK_KEY_SIZE 32
#define MEDIA_LINK_ID_MAX 64    /* user id and message uid: 1 to 64 of [0-9A-Za-z_-] */
#define MEDIA_LINK_MAX_INDEX 9  /* Twilio's NumMedia is at most 10 */
#define MEDIA_LINK_ORIGIN_SIZE 256
#define MEDIA_LINK_URL_SIZE 512

struct media_link_key {
	unsigned char k[MEDIA_LINK_KEY_SIZE];
};

/* HMAC-SHA256(auth_token, "smsrouter media link v1"): rotating the auth token invalidates
 * the links given out before (they live at most their TTL anyway). */
void media_link_key_derive(const char *auth_token, struct media_link_key *ret);

/* The path of the link to media index of user_id's message uid, valid until expires (unix
 * seconds). 0, or -EINVAL when a piece is out of its shape or out does not hold it. */
int media_link_path(const struct media_link_key *k, const char *user_id, const char *uid,
		int index, int64_t expires, char *out, size_t size);

/* What a verified link names. */
struct media_link {
	char user_id[MEDIA_LINK_ID_MAX + 1];
	char uid[MEDIA_LINK_ID_MAX + 1];
	int index;
	int64_t expires;
};

/* Checks a link's five pieces (the path segments after MEDIA_LINK_PREFIX, decoded) at time
 * now (unix seconds): 0 with *ret; -EINVAL (a piece out of its shape), -EPERM (the
 * signature is not ours: compared in constant time), -ETIME (expires < now). Each is a
 * 403 for the client. */
int media_link_verify(const struct media_link_key *k, const char *const pieces[5], int64_t now,
		struct media_link *ret);

/* The link maker given to the agent: key, lifetime and the public origin links start with
 * (SMSROUTER_PUBLIC_URL, else the listening address once known). */
struct media_links {
	struct media_link_key key;
	int ttl_s;
	char origin[MEDIA_LINK_ORIGIN_SIZE];
	atomic_bool ready; /* origin is set (written once, before ready) */
};

void media_links_init(struct media_links *l, const char *auth_token, int ttl_s);
/* Sets the origin ("https://sms.example.com", no trailing '/'), once. */
void media_links_set_origin(struct media_links *l, const char *origin);
/* The absolute URL of a link valid ttl_s from now. 0; -EAGAIN (no origin yet); -EINVAL. */
int media_links_url(const struct media_links *l, const char *user_id, const char *uid,
		int index, int64_t now, char *out, size_t size);
