#include "proactive.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "ids.h"
#include "log.h"
#include "phone.h"
#include "sms/sms.h"
#include "twilio/twilio.h"
#include "tz.h"
#include "utf8.h"

static int refuse(struct proactive_refusal *r, int status, const char *code, const char *fmt,
		...) {
	va_list ap;
	r->status = status;
	r->retry_after_s = 0;
	snprintf(r->code, sizeof(r->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
	return 1;
}

bool proactive_key_is_valid(const char *key) {
	size_t n = key ? strlen(key) : 0;
	for (size_t i = 0; i < n; i++) {
		if (key[i] < 0x21 || key[i] > 0x7e) {
			return false;
		}
	}
	return n >= 1 && n <= 255;
}

/* Characters (code points) of valid UTF-8 s[0..len). */
static size_t characters(const char *s, size_t len) {
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	}
	return n;
}

/* The request's fields, each length-prefixed, hashed: the same request gives the same
 * hash whatever its JSON spelling; any other field value gives another. */
static int request_hash(const struct proactive_request *rq, char *out) {
	const char *fields[4] = {rq->send_at, rq->channel ? rq->channel : "auto", rq->to,
		rq->reply_to};
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	bool ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL);

#define FIELD_OF(p, n)                                                                     \
	do {                                                                               \
		uint64_t len_ = (p) ? (uint64_t)(n) + 1 : 0;                               \
		ok = ok && EVP_DigestUpdate(c, &len_, sizeof(len_)) &&                     \
		     (!(p) || EVP_DigestUpdate(c, (p), (n)));                              \
	} while (0)
	FIELD_OF(rq->body, rq->body_len);
	uint64_t nmedia = rq->nmedia;
	ok = ok && EVP_DigestUpdate(c, &nmedia, sizeof(nmedia));
	for (size_t i = 0; i < rq->nmedia; i++) {
		FIELD_OF(rq->media[i], strlen(rq->media[i]));
	}
	for (int i = 0; i < 4; i++) {
		FIELD_OF(fields[i], fields[i] ? strlen(fields[i]) : 0);
	}
#undef FIELD_OF
	ok = ok && EVP_DigestFinal_ex(c, md, &mdlen);
	EVP_MD_CTX_free(c);
	if (!ok) {
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < mdlen; i++) {
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	}
	return 0;
}

/* The checks that need nothing but the request: 0, or 1 refused. */
static int check_fields(const struct proactive_request *rq, int64_t now, int64_t *ret_send_at,
		struct proactive_refusal *ref) {
	size_t body_len = rq->body ? rq->body_len : 0;
	if (rq->body && (memchr(rq->body, '\0', body_len) || !utf8_valid(rq->body, body_len))) {
		return refuse(ref, 422, "invalid_body", "\"body\" must be UTF-8 text without NUL.");
	}
	if (characters(rq->body ? rq->body : "", body_len) > PROACTIVE_MAX_BODY) {
		return refuse(ref, 422, "invalid_body", "\"body\" has at most 1600 characters.");
	}
	if (body_len == 0 && rq->nmedia == 0) {
		return refuse(ref, 422, "invalid_body", "\"body\" may be empty only when \"media\" "
							"is given.");
	}
	if (rq->nmedia > PROACTIVE_MAX_MEDIA) {
		return refuse(ref, 422, "invalid_media", "\"media\" has at most 10 URLs.");
	}
	for (size_t i = 0; i < rq->nmedia; i++) {
		if (!rq->media[i] || !twilio_media_url_ok(rq->media[i])) {
			return refuse(ref, 422, "invalid_media",
					"\"media\" must be http:// or https:// URLs.");
		}
	}
	*ret_send_at = now;
	if (rq->send_at) {
		int64_t t;
		if (ids_time_parse(rq->send_at, &t) < 0) {
			return refuse(ref, 422, "invalid_send_at",
					"\"send_at\" must be an RFC 3339 date-time.");
		}
		if (t > now + PROACTIVE_MAX_AHEAD_S) {
			return refuse(ref, 422, "invalid_send_at",
					"\"send_at\" is at most 35 days ahead.");
		}
		*ret_send_at = t > now ? t : now;
	}
	const char *ch = rq->channel;
	if (ch && strcmp(ch, "auto") != 0 && strcmp(ch, "sms") != 0 && strcmp(ch, "whatsapp") != 0) {
		return refuse(ref, 422, "invalid_channel",
				"\"channel\" must be auto, sms or whatsapp.");
	}
	if (rq->to && !phone_is_valid(rq->to)) {
		return refuse(ref, 422, "invalid_to", "\"to\" must be an E.164 number.");
	}
	if (rq->key && !proactive_key_is_valid(rq->key)) {
		return refuse(ref, 422, "invalid_idempotency_key",
				"Idempotency-Key must be 1 to 255 visible ASCII characters.");
	}
	return 0;
}

struct found {
	int64_t id;
	bool inbound;
	bool canceled;
};

static int found_message(void *ctx, const struct store_message *m) {
	struct found *f = ctx;
	f->id = m->id;
	f->inbound = m->direction == STORE_INBOUND;
	f->canceled = strcmp(m->status, "canceled") == 0;
	return 0;
}

/* The user's phone to send to: rq->to if it is theirs, else the first. 0, or 1 refused. */
static int recipient(const struct store_user *u, const struct proactive_request *rq,
		const char **ret_phone, struct proactive_refusal *ref) {
	for (int i = 0; i < u->nphones; i++) {
		if (!rq->to || strcmp(rq->to, u->phones[i]) == 0) {
			*ret_phone = u->phones[i];
			return 0;
		}
	}
	return rq->to ? refuse(ref, 422, "invalid_to", "\"to\" must be one of the user's phones.")
		      : refuse(ref, 422, "invalid_to", "The user has no phone to send to.");
}

/* "sms" or "whatsapp" for rq: auto is WhatsApp inside the user's session window. */
static int pick_channel(const struct proactive *p, const struct proactive_request *rq,
		int64_t now, const char **ret, struct proactive_refusal *ref) {
	int64_t last = 0;
	const char *ch = rq->channel ? rq->channel : "auto";
	if (strcmp(ch, "sms") == 0) {
		*ret = "sms";
		return 0;
	}
	int r = store_last_whatsapp(p->store, rq->user_id, &last);
	if (r < 0) {
		return r;
	}
	bool open = last > 0 && now - last < PROACTIVE_WINDOW_S;
	if (strcmp(ch, "whatsapp") == 0 && !open) {
		return refuse(ref, 409, "outside_whatsapp_window",
				"The user has sent no WhatsApp message in the last 24 hours.");
	}
	*ret = open ? "whatsapp" : "sms";
	return 0;
}

/* When a message due at t (unix seconds) may go to u: the end of u's quiet hours when t
 * falls in them. */
static int64_t not_before(const struct proactive *p, const struct store_user *u, int64_t t) {
	const struct config *c = p->config;
	int64_t ms = t * 1000;
	if (tz_not_before(u->timezone[0] ? u->timezone : c->default_timezone, &c->quiet_hours,
			    t * 1000, &ms) < 0) {
		ms = t * 1000;
	}
	return (ms + 999) / 1000;
}

/* The media as the store keeps them: a JSON array of URLs, or NULL. */
static char *media_json(const struct proactive_request *rq) {
	if (rq->nmedia == 0) {
		return NULL;
	}
	json_t *a = json_array();
	for (size_t i = 0; a && i < rq->nmedia; i++) {
		json_array_append_new(a, json_string(rq->media[i]));
	}
	char *s = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	return s;
}

void proactive_prepare(const struct proactive_request *rq, struct proactive_prepared *ret) {
	struct sms_count count;
	*ret = (struct proactive_prepared){.now = ids_now()};
	ret->send_at = ret->now;
	ret->checked = check_fields(rq, ret->now, &ret->send_at, &ret->refusal);
	if (ret->checked != 0) {
		return;
	}
	ret->made = request_hash(rq, ret->hash);
	if (ret->made == 0) {
		ret->made = ids_ordered_hex(ret->uid) < 0 ? -EIO : 0;
	}
	sms_count(rq->body ? rq->body : "", rq->body ? rq->body_len : 0, &count);
	ret->encoding = sms_encoding_name(count.encoding);
	ret->segments = count.segments;
	ret->media = media_json(rq);
	if (ret->made == 0 && rq->nmedia && !ret->media) {
		ret->made = -ENOMEM;
	}
}

void proactive_prepared_finish(struct proactive_prepared *pp) {
	free(pp->media);
	pp->media = NULL;
}

int proactive_send(const struct proactive *p, const struct proactive_request *rq,
		char ret_id[STORE_ID_SIZE], bool *ret_created, struct proactive_refusal *ref) {
	struct proactive_prepared pp;
	proactive_prepare(rq, &pp);
	int r = proactive_send_prepared(p, rq, &pp, ret_id, ret_created, ref);
	proactive_prepared_finish(&pp);
	return r;
}

int proactive_send_prepared(const struct proactive *p, const struct proactive_request *rq,
		const struct proactive_prepared *pp, char ret_id[STORE_ID_SIZE], bool *ret_created,
		struct proactive_refusal *ref) {
	const struct config *c = p->config;
	int64_t now = pp->now, send_at = pp->send_at;
	struct store_user u;
	struct found reply = {0};
	const char *phone = NULL, *channel = NULL;
	char to[STORE_ADDR_SIZE], from[STORE_ADDR_SIZE];

	int r = store_user_get(p->store, rq->user_id, &u);
	if (r == -ENOENT) {
		return refuse(ref, 404, "not_found", "There is no such user.");
	}
	if (r == 0 && pp->checked != 0) {
		*ref = pp->refusal;
		r = pp->checked;
	}
	if (r == 0 && (!c->account_sid || !c->twilio_from)) {
		r = refuse(ref, 409, "sending_disabled",
				"Sending is disabled: TWILIO_ACCOUNT_SID and TWILIO_FROM must be set.");
	}
	if (r == 0 && rq->reply_to) {
		r = store_message_by_uid(p->store, u.id, rq->reply_to, found_message, &reply);
		if (r == -ENOENT || (r == 0 && !reply.inbound)) {
			r = refuse(ref, 404, "not_found",
					"\"reply_to\" is no inbound message of this user.");
		}
	}
	if (r == 0) {
		r = recipient(&u, rq, &phone, ref);
	}
	if (r == 0) {
		r = pick_channel(p, rq, now, &channel, ref);
	}
	if (r == 0) {
		r = pp->made;
	}
	if (r != 0) {
		return r;
	}
	bool whatsapp = strcmp(channel, "whatsapp") == 0;
	snprintf(to, sizeof(to), "%s%s", whatsapp ? "whatsapp:" : "", phone);
	/* WhatsApp from TWILIO_WHATSAPP_FROM, else TWILIO_FROM when it is a number. */
	const char *sender = whatsapp && c->whatsapp_from ? c->whatsapp_from : c->twilio_from;
	snprintf(from, sizeof(from), "%s%s", whatsapp && sender[0] == '+' ? "whatsapp:" : "",
			sender);
	const char *body = rq->body ? rq->body : "";
	bool is_reply = rq->reply_to != NULL;
	struct store_send m = {
		.user_id = u.id,
		.uid = pp->uid,
		.kind = is_reply ? "reply" : "proactive",
		.channel = channel,
		.from = from,
		.to = to,
		.optout_key = to, /* the number on its channel: "whatsapp:+1…" on WhatsApp */
		.body = body,
		.media_json = pp->media,
		.encoding = pp->encoding,
		.segments = pp->segments,
		.reply_to = reply.id,
		.send_at = send_at,
		.not_before = is_reply ? send_at : not_before(p, &u, send_at),
		.now = now,
		.key = rq->key,
		.key_hash = pp->hash,
		.key_since = now - PROACTIVE_KEY_DAYS * 86400,
		.limit = c->proactive_limit,
		.limit_window_s = c->proactive_window_s,
	};
	struct store_send_result res;
	r = store_send_add(p->store, &m, &res);
	if (r == -ENOENT) {
		return refuse(ref, 404, "not_found", "There is no such user.");
	}
	if (r < 0) {
		return r;
	}
	switch (res.outcome) {
	case STORE_SEND_CONFLICT:
		return refuse(ref, 409, "idempotency_conflict",
				"This Idempotency-Key was used with a different request.");
	case STORE_SEND_OPTED_OUT:
		return refuse(ref, 409, "opted_out", "That number has opted out (STOP).");
	case STORE_SEND_LIMITED:
		refuse(ref, 429, "proactive_limit",
				"The user's proactive-message limit (SMSROUTER_PROACTIVE_LIMIT) is used.");
		ref->retry_after_s = res.retry_after_s;
		return 1;
	case STORE_SEND_ADDED:
	case STORE_SEND_REPLAYED:
		break;
	}
	memcpy(ret_id, res.uid, STORE_ID_SIZE);
	*ret_created = res.outcome == STORE_SEND_ADDED;
	if (*ret_created) {
		log_info("proactive.accepted", LOG_STR("user", u.id), LOG_STR("message", pp->uid),
				LOG_STR("kind", m.kind), LOG_INT("hold_s", m.not_before - now));
	}
	return 0;
}

int proactive_cancel(const struct proactive *p, const char *user_id, const char *id,
		struct proactive_refusal *ref) {
	struct found f = {0};
	int r = store_message_by_uid(p->store, user_id, id, found_message, &f);
	if (r == -ENOENT) {
		return refuse(ref, 404, "not_found", "This user has no such message.");
	}
	if (r == 0 && f.canceled) {
		return 0; /* canceled before: the same answer again */
	}
	if (r == 0) {
		r = f.inbound ? -EALREADY
			      : store_send_finish(p->store, user_id, f.id, "canceled", "canceled");
	}
	if (r == -EALREADY) {
		return refuse(ref, 409, "already_sent",
				"The message was handed to Twilio already; it cannot be canceled.");
	}
	if (r == 0) {
		log_info("proactive.canceled", LOG_STR("user", user_id), LOG_STR("message", id));
	}
	return r;
}
