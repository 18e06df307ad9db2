#include "admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "log.h"
#include "metrics.h"
#include "phone.h"

#define DEFAULT_MESSAGES 50
#define DEFAULT_USERS 50
#define MAX_MESSAGES 1000
#define DEFAULT_USAGE_DAYS 30

bool admin__bearer_is(const struct http_request *req, const char *token) {
	const char *h = http_header(req, "Authorization");
	unsigned char a[32], b[32];
	unsigned int na = 0, nb = 0;

	/* The scheme's name is case-insensitive (RFC 9110 11.1); the token is not. */
	if (!token || !h || strncasecmp(h, "Bearer ", 7) != 0) {
		return false;
	}
	/* Compare digests: constant time whatever the lengths. */
	if (!EVP_Digest(h + 7, strlen(h + 7), a, &na, EVP_sha256(), NULL) ||
			!EVP_Digest(token, strlen(token), b, &nb, EVP_sha256(), NULL)) {
		return false;
	}
	return na == nb && CRYPTO_memcmp(a, b, na) == 0;
}

bool admin_authorized(void *ctx, const struct http_request *req) {
	const struct admin *admin = ctx;
	return admin__bearer_is(req, admin->config->admin_token);
}

json_t *admin_user_json(const struct store_user *u) {
	char when[IDS_TIME_SIZE];
	json_t *phones = json_array();
	json_t *tags = json_array();
	for (int i = 0; phones && i < u->nphones; i++) {
		json_array_append_new(phones, json_string(u->phones[i]));
	}
	for (int i = 0; tags && i < u->ntags; i++) {
		json_array_append_new(tags, json_string(u->tags[i]));
	}
	ids_time_format(u->created_at, when);
	return json_pack("{s:s,s:s,s:o,s:b,s:s,s:s?,s:s?,s:o,s:s?,s:s}", "id", u->id, "name",
			u->name, "phones", phones, "opted_out", u->opted_out, "created_at", when,
			"timezone", u->timezone[0] ? u->timezone : NULL, "locale",
			u->locale[0] ? u->locale : NULL, "tags", tags, "agent",
			u->agent[0] ? u->agent : NULL, "mode", u->mode[0] ? u->mode : "agent");
}

/* A message's media as the API gives them: its URLs (an inbound message's entries are
 * {"url", "content_type"} objects, an outbound one's URLs). */
static json_t *media_urls(const char *media_json) {
	json_t *list = media_json ? json_loads(media_json, 0, NULL) : NULL;
	json_t *urls = json_array(), *v;
	size_t i;
	json_array_foreach(list, i, v) {
		const char *u = json_is_object(v) ? json_string_value(json_object_get(v, "url"))
						  : json_string_value(v);
		if (u && urls) {
			json_array_append_new(urls, json_string(u));
		}
	}
	json_decref(list);
	return urls;
}

/* unix seconds as RFC 3339, or JSON null for 0. */
static json_t *time_or_null(int64_t t) {
	char when[IDS_TIME_SIZE];
	if (t <= 0) {
		return json_null();
	}
	ids_time_format(t, when);
	return json_string(when);
}

json_t *admin_message_json(const char *user_id, const struct store_message *m) {
	char when[IDS_TIME_SIZE];
	ids_time_format(m->created_at, when);
	bool whatsapp = strncmp(m->direction == STORE_INBOUND ? m->from : m->to, "whatsapp:", 9) == 0;
	return json_pack("{s:s?,s:s?,s:s?,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:o,s:s?,s:s?,s:o,"
			 "s:o}",
			"id", m->uid, "user_id", user_id, "sid", m->sid, "direction",
			m->direction == STORE_INBOUND ? "inbound" : "outbound", "channel",
			m->channel ? m->channel : whatsapp ? "whatsapp" : "sms", "from", m->from,
			"to", m->to, "body", m->body, "status", m->status, "encoding", m->encoding,
			"segments", m->segments, "created_at", when, "media",
			media_urls(m->media_json), "kind", m->kind, "error_code", m->error_code,
			"send_at", time_or_null(m->send_at), "not_before",
			time_or_null(m->not_before));
}

/* Maps a store error to the answer; logs what is not the caller's fault. */
void admin__store_error(struct http_response *res, int r, const char *what) {
	switch (r) {
	case -ENOENT:
		http_json_error(res, 404, "not_found", what);
		break;
	case -EEXIST:
		http_json_error(res, 409, "phone_taken", "That phone number belongs to another user.");
		break;
	case -ENOSPC:
		http_json_error(res, 422, "too_many_phones", "A user has at most 10 phone numbers.");
		break;
	case -ENOMEM:
		http_json_error(res, 500, "internal", "Out of memory.");
		break;
	default:
		metrics_inc(METRICS_STORE_ERRORS);
		log_error("admin.store_failed", LOG_INT("error", -r));
		http_json_error(res, 503, "store_unavailable", "The store failed; try again.");
		break;
	}
}

/* One answer wherever a phone in a path, query or body is not E.164. */
static void invalid_phone(struct http_response *res) {
	http_json_error(res, 422, "invalid_phone",
			"The phone must be E.164: '+' then 8 to 15 digits.");
}

/* JSON allows \u0000 in a string; taken in (JSON_ALLOW_NUL), it is refused where it
 * stands, as the control character it is, rather than ending the C string early. */
#define JSON_FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

/* Whether v is a string that holds a NUL. */
static bool has_nul(const json_t *v) {
	return json_is_string(v) && memchr(json_string_value(v), '\0', json_string_length(v));
}

/* The key of the first of j's values (or of an array value's elements) that holds a NUL,
 * or NULL. */
const char *admin__nul_value(json_t *j) {
	const char *key;
	json_t *v, *e;
	size_t i;
	json_object_foreach(j, key, v) {
		bool nul = has_nul(v);
		json_array_foreach(v, i, e) {
			nul |= has_nul(e);
		}
		if (nul) {
			return key;
		}
	}
	return NULL;
}

json_t *admin__parse_body(const struct http_request *req, struct http_response *res) {
	json_error_t err;
	json_t *j = json_loadb(req->body, req->body_len, JSON_FLAGS, &err);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		http_json_error(res, 400, "bad_json", "The body must be a JSON object.");
		return NULL;
	}
	return j;
}

static void respond_user(const struct admin *a, struct http_response *res, int status,
		const char *id) {
	struct store_user u;
	int r = store_user_get(a->store, id, &u);
	if (r < 0) {
		admin__store_error(res, r, "There is no such user.");
		return;
	}
	http_json(res, status, admin_user_json(&u));
}

int admin_user_request_parse(const char *body, size_t len, struct admin_user_request *ret,
		char reterr_message[ADMIN_MESSAGE_SIZE]) {
	json_error_t err;
	struct admin_user_request q = {0};
	const char *why = NULL;
	size_t i;
	json_t *v;
	int r = -EINVAL;

	q.j = json_loadb(body, len, JSON_FLAGS, &err);
	if (!q.j || !json_is_object(q.j)) {
		why = "The body must be a JSON object.";
		goto fail;
	}
	json_t *name = json_object_get(q.j, "name");
	json_t *list = json_object_get(q.j, "phones");
	if (!json_is_string(name) || has_nul(name) ||
			store_name_check(json_string_value(name), NULL) < 0) {
		why = "\"name\" must be a string of 1 to 200 bytes of UTF-8, not only white space, "
		      "without control characters.";
		goto fail;
	}
	q.name = json_string_value(name);
	if (list && !json_is_array(list)) {
		why = "\"phones\" must be an array of E.164 numbers.";
		goto fail;
	}
	json_array_foreach(list, i, v) {
		const char *ph = json_string_value(v);
		if (!ph) {
			/* 15550100199 without quotes: a malformed body, not a bad number. */
			why = "\"phones\" must be an array of strings, each an E.164 number.";
			goto fail;
		}
		if (!phone_is_valid(ph) || has_nul(v)) {
			why = "Every phone must be E.164: '+' then 8 to 15 digits.";
			r = -EDOM;
			goto fail;
		}
		for (size_t k = 0; k < q.nphones; k++) {
			if (strcmp(q.phones[k], ph) == 0) {
				/* Refused, as user add and import refuse it: a repeat is a slip. */
				snprintf(reterr_message, ADMIN_MESSAGE_SIZE,
						"\"phones\" has %s twice; give each number once.", ph);
				goto fail;
			}
		}
		if (q.nphones == STORE_MAX_PHONES) {
			why = "A user has at most 10 phone numbers.";
			r = -ENOSPC;
			goto fail;
		}
		q.phones[q.nphones++] = ph;
	}
	*ret = q;
	return 0;
fail:
	if (why) {
		snprintf(reterr_message, ADMIN_MESSAGE_SIZE, "%s", why);
	}
	json_decref(q.j);
	return r;
}

void admin_users_post(void *ctx, const struct http_request *req, struct http_response *res) {
	const struct admin *a = ctx;
	struct admin_user_request q;
	char why[ADMIN_MESSAGE_SIZE];
	size_t bad = 0;
	struct store_user u;

	int r = admin_user_request_parse(req->body, req->body_len, &q, why);
	if (r < 0) {
		http_json_error(res, r == -EINVAL ? 400 : 422,
				r == -EINVAL ? "bad_request" : r == -EDOM ? "invalid_phone"
									  : "too_many_phones",
				why);
		return;
	}
	r = store_user_add(a->store, q.name, q.phones, q.nphones, &u, &bad);
	if (r < 0) {
		admin__store_error(res, r, "There is no such user.");
	} else {
		log_info("admin.user_added", LOG_STR("user", u.id), LOG_INT("phones", u.nphones));
		http_json(res, 201, admin_user_json(&u));
	}
	json_decref(q.j);
}

/* A phone from a query string: '+' arrives as a space when the client did not encode it. */
static void query_phone(const char *q, char *out, size_t size) {
	snprintf(out, size, "%s", q);
	if (out[0] == ' ') {
		out[0] = '+';
	}
}

/* A limit from a query string: 0 unless it is 1 to 4 ASCII digits (strtol alone also takes
 * "+5", " 5" and "\t5"). */
static long query_limit(const char *q) {
	size_t digits = strspn(q, "0123456789");
	return digits >= 1 && digits <= 4 && q[digits] == '\0' ? strtol(q, NULL, 10) : 0;
}

static int add_user(void *ctx, const struct store_user *u) {
	json_t *j = admin_user_json(u);
	return j && json_array_append_new(ctx, j) == 0 ? 0 : -ENOMEM;
}

/* GET …/users?limit=N&after=CURSOR&q=TEXT&tag=T: one page of the list, oldest first. */
static void users_page(const struct admin *a, const struct http_request *req,
		struct http_response *res) {
	const char *l = http_query(req, "limit");
	const char *q = http_query(req, "q");
	char next[STORE_CURSOR_SIZE], qbuf[256];
	struct store_user_page page = {.limit = l ? (int)query_limit(l) : DEFAULT_USERS,
		.after = http_query(req, "after"), .tag = http_query(req, "tag")};

	if (page.limit < 1 || page.limit > STORE_PAGE_MAX) {
		http_json_error(res, 400, "bad_limit", "limit must be a number from 1 to 500.");
		return;
	}
	if (q && q[0] == ' ' && q[1] && q[1 + strspn(q + 1, "0123456789")] == '\0') {
		query_phone(q, qbuf, sizeof(qbuf)); /* a phone prefix whose '+' was not encoded */
		q = qbuf;
	}
	page.q = q && q[0] ? q : NULL;
	page.tag = page.tag && page.tag[0] ? page.tag : NULL;
	json_t *users = json_array();
	int r = users ? store_user_page(a->store, &page, add_user, users, next) : -ENOMEM;
	if (r < 0) {
		json_decref(users);
		if (r == -EINVAL) { /* the limit is checked above: the cursor */
			http_json_error(res, 400, "bad_cursor",
					"after must be a cursor a previous page gave as \"next\".");
		} else {
			admin__store_error(res, r, "");
		}
		return;
	}
	http_json(res, 200, json_pack("{s:o,s:s?}", "users", users, "next", next[0] ? next : NULL));
}

void admin_users_get(void *ctx, const struct http_request *req, struct http_response *res) {
	const struct admin *a = ctx;
	const char *q = http_query(req, "phone");
	static const char *const list_keys[] = {"limit", "after", "q", "tag"};
	char phone[64];
	struct store_user u;

	if (!q) {
		users_page(a, req, res);
		return;
	}
	for (size_t i = 0; i < sizeof(list_keys) / sizeof(list_keys[0]); i++) {
		if (http_query(req, list_keys[i])) {
			http_json_error(res, 400, "bad_query",
					"phone looks one user up; it does not go with limit, after, q "
					"or tag.");
			return;
		}
	}
	query_phone(q, phone, sizeof(phone));
	if (!phone_is_valid(phone)) {
		invalid_phone(res);
		return;
	}
	int r = store_user_by_phone(a->store, phone, &u);
	if (r < 0) {
		admin__store_error(res, r, "No user has that phone number.");
		return;
	}
	http_json(res, 200, admin_user_json(&u));
}

void admin_user_get(void *ctx, const struct http_request *req, struct http_response *res) {
	const struct admin *a = ctx;
	respond_user(a, res, 200, req->params[0]);
}

/* The keys a PATCH may hold. */
static const char *const patch_keys[] = {"name", "timezone", "locale", "tags", "agent", "mode"};

static bool key_in(const char *key, const char *const *keys, size_t n) {
	for (size_t i = 0; i < n; i++) {
		if (strcmp(key, keys[i]) == 0) {
			return true;
		}
	}
	return false;
}

bool admin__unknown_key(json_t *j, const char *const *keys, size_t n, const char *give,
		struct http_response *res) {
	char message[ADMIN_MESSAGE_SIZE];
	const char *key;
	json_t *v;
	json_object_foreach(j, key, v) {
		if (!key_in(key, keys, n)) {
			/* Named whole or not at all: a cut could split a UTF-8 sequence. */
			snprintf(message, sizeof(message), "Unknown key \"%s\": give %s.",
					strlen(key) <= 40 ? key : "(over 40 bytes)", give);
			http_json_error(res, 400, "unknown_key", message);
			return true;
		}
	}
	return false;
}

/* Reads a PATCH body's values into *p (tags into tags[], borrowed from j). 0, or the key
 * whose value has the wrong type (422) with *reterr_why saying what it must be. */
static const char *patch_values(json_t *j, struct store_user_patch *p, const char **tags,
		const char **reterr_why) {
	json_t *v;
	size_t i;

	const char *nul = admin__nul_value(j);
	if (nul) {
		*reterr_why = "it must not hold a NUL character (\\u0000)";
		return nul;
	}
	if ((v = json_object_get(j, "name"))) {
		p->name = json_string_value(v);
		if (!p->name) {
			*reterr_why = "it must be a string";
			return "name";
		}
	}
	static const char *const texts[] = {"timezone", "locale", "agent"};
	bool *const set[] = {&p->set_timezone, &p->set_locale, &p->set_agent};
	const char **const value[] = {&p->timezone, &p->locale, &p->agent};
	for (int k = 0; k < 3; k++) {
		if ((v = json_object_get(j, texts[k]))) {
			if (!json_is_null(v) && !json_is_string(v)) {
				*reterr_why = "it must be a string or null";
				return texts[k];
			}
			*set[k] = true;
			*value[k] = json_string_value(v);
		}
	}
	if ((v = json_object_get(j, "mode"))) {
		p->mode = json_string_value(v);
		if (!p->mode) {
			*reterr_why = "it must be agent, paused or human";
			return "mode";
		}
	}
	if ((v = json_object_get(j, "tags"))) {
		if (!json_is_array(v)) {
			*reterr_why = "it must be an array of strings";
			return "tags";
		}
		if (json_array_size(v) > STORE_MAX_TAGS) {
			*reterr_why = "a user has at most 20 tags";
			return "tags";
		}
		json_t *e;
		json_array_foreach(v, i, e) {
			tags[i] = json_string_value(e);
			if (!tags[i]) {
				*reterr_why = "it must be an array of strings";
				return "tags";
			}
		}
		p->set_tags = true;
		p->tags = tags;
		p->ntags = json_array_size(v);
	}
	return NULL;
}

/* 422 naming key: {"error": "invalid_<key>", "message": "\"<key>\": <why>."}. */
void admin__invalid_value(struct http_response *res, const char *key, const char *why) {
	char code[32], message[ADMIN_MESSAGE_SIZE];
	snprintf(code, sizeof(code), "invalid_%s", key);
	snprintf(message, sizeof(message), "\"%s\": %s.", key, why);
	http_json_error(res, 422, code, message);
}

void admin_user_patch(void *ctx, const struct http_request *req, struct http_response *res) {
	const struct admin *a = ctx;
	struct store_user_patch p = {0};
	const char *tags[STORE_MAX_TAGS];
	const char *field = NULL, *why = NULL;
	struct store_user u;

	json_t *j = admin__parse_body(req, res);
	if (!j) {
		return;
	}
	/* Every key first: an unknown one is a malformed request, whatever the values. */
	if (admin__unknown_key(j, patch_keys, sizeof(patch_keys) / sizeof(patch_keys[0]),
			    "any of name, timezone, locale, tags, agent and mode", res)) {
		goto out;
	}
	field = patch_values(j, &p, tags, &why);
	if (!field && store_user_patch_check(&p, &field, &why) == 0 && p.set_agent && p.agent &&
			!config_agent_known(a->config, p.agent)) {
		field = "agent";
		why = "no agent of that name is configured (default or one of SMSROUTER_AGENTS)";
	}
	if (field) {
		admin__invalid_value(res, field, why);
		goto out;
	}
	int r = store_user_set(a->store, req->params[0], &p, &u);
	if (r < 0) {
		admin__store_error(res, r, "There is no such user.");
	} else {
		log_info("admin.user_set", LOG_STR("user", u.id));
		http_json(res, 200, admin_user_json(&u));
	}
out:
	json_decref(j);
}

void admin_user_delete(void *ctx, const struct http_request *req, struct http_response *res) {
	const struct admin *a = ctx;
	int r = store_user_delete(a->store, req->params[0]);
	if (r < 0) {
		admin__store_error(res, r, "There is no such user.");
		return;
	}
	log_info("admin.user_deleted", LOG_STR("user", req->params[0]));
	http_empty(res, 204);
}

void admin_phones_post(void *ctx, const struct http_request *req, struct http_response *res) {
	const struct admin *a = ctx;
	json_t *j = admin__parse_body(req, res);
	if (!j) {
		return;
	}
	json_t *v = json_object_get(j, "phone");
	const char *ph = json_string_value(v);
	if (!ph) {
		http_json_error(res, 400, "bad_phone", "\"phone\" must be a string.");
	} else if (!phone_is_valid(ph) || has_nul(v)) {
		invalid_phone(res);
	} else {
		int r = store_phone_add(a->store, req->params[0], ph);
		if (r < 0) {
			admin__store_error(res, r, "There is no such user.");
		} else {
			log_info("admin.phone_added", LOG_STR("user", req->params[0]), LOG_PHONE("phone", ph));
			respond_user(a, res, 201, req->params[0]);
		}
	}
	json_decref(j);
}

void admin_phone_delete(void *ctx, const struct http_request *req, struct http_response *res) {
	const struct admin *a = ctx;
	/* Refuse first: a number nobody can own is bad input, not a missing phone. */
	if (!phone_is_valid(req->params[1])) {
		invalid_phone(res);
		return;
	}
	int r = store_phone_remove(a->store, req->params[0], req->params[1]);
	if (r < 0) {
		admin__store_error(res, r, "That user does not have that phone number.");
		return;
	}
	log_info("admin.phone_removed", LOG_STR("user", req->params[0]),
			LOG_PHONE("phone", req->params[1]));
	http_empty(res, 204);
}

struct message_list {
	const char *user_id;
	json_t *list;
};

static int add_message(void *ctx, const struct store_message *m) {
	struct message_list *l = ctx;
	json_t *j = admin_message_json(l->user_id, m);
	return j && json_array_append_new(l->list, j) == 0 ? 0 : -ENOMEM;
}

void admin_messages_get(void *ctx, const struct http_request *req, struct http_response *res) {
	const struct admin *a = ctx;
	const char *q = http_query(req, "limit");
	long limit = DEFAULT_MESSAGES;
	struct store_user u;

	if (q) {
		limit = query_limit(q);
		if (limit < 1 || limit > MAX_MESSAGES) {
			http_json_error(res, 400, "bad_limit", "limit must be a number from 1 to 1000.");
			return;
		}
	}
	int r = store_user_get(a->store, req->params[0], &u);
	json_t *list = json_array();
	if (r == 0) {
		struct message_list l = {u.id, list};
		r = list ? store_messages_list(a->store, u.id, (int)limit, add_message, &l)
			 : -ENOMEM;
	}
	if (r < 0) {
		json_decref(list);
		admin__store_error(res, r, "There is no such user.");
		return;
	}
	http_json(res, 200, json_pack("{s:o}", "messages", list));
}

struct usage_ctx {
	json_t *users;
	const struct sms_price *price;
	bool detail;
	struct store_usage_row total;
};

json_t *admin__usage_entry(const struct sms_price *price, const char *user_id,
		const struct store_usage_row *u, bool detail) {
	char cost[SMS_COST_SIZE];
	sms_cost_format(price, u->segments, cost, sizeof(cost));
	json_t *e = json_pack("{s:I,s:I,s:I,s:s}", "inbound", (json_int_t)u->inbound, "outbound",
			(json_int_t)u->outbound, "segments", (json_int_t)u->segments, "cost", cost);
	if (e && user_id) {
		/* First, as the contract lists it. */
		json_t *id = json_pack("{s:s}", "user_id", user_id);
		if (!id || json_object_update(id, e) < 0) {
			json_decref(id);
			id = NULL;
		}
		json_decref(e);
		e = id;
	}
	if (e && detail &&
			(json_object_set_new(e, "over_budget", json_integer(u->over_budget)) < 0 ||
					json_object_set_new(e, "truncated", json_integer(u->truncated)) < 0 ||
					json_object_set_new(e, "smart_encoded",
							json_integer(u->smart_encoded)) < 0 ||
					json_object_set_new(e, "proactive", json_integer(u->proactive)) < 0)) {
		json_decref(e);
		e = NULL;
	}
	return e;
}

static int add_usage(void *ctx, const struct store_usage_row *row) {
	struct usage_ctx *u = ctx;
	u->total.inbound += row->inbound;
	u->total.outbound += row->outbound;
	u->total.segments += row->segments;
	u->total.over_budget += row->over_budget;
	u->total.truncated += row->truncated;
	u->total.smart_encoded += row->smart_encoded;
	u->total.proactive += row->proactive;
	if (!row->user_id) {
		return 0; /* unknown senders count in the total only */
	}
	json_t *e = admin__usage_entry(u->price, row->user_id, row, u->detail);
	if (!e) {
		return -ENOMEM;
	}
	return json_array_append_new(u->users, e) == 0 ? 0 : -ENOMEM;
}

int admin_usage_json_detail(struct store *s, int64_t since, const struct sms_price *price,
		const char *currency, bool detail, json_t **ret) {
	struct usage_ctx u = {.users = json_array(), .price = price, .detail = detail};
	char when[IDS_TIME_SIZE];

	if (!u.users) {
		return -ENOMEM;
	}
	int r = store_usage(s, since, add_usage, &u);
	if (r < 0) {
		json_decref(u.users);
		return r;
	}
	ids_time_format(since, when);
	json_t *j = json_pack("{s:s,s:s,s:o,s:o}", "since", when, "currency", currency, "users",
			u.users, "total", admin__usage_entry(price, NULL, &u.total, detail));
	if (!j) {
		return -ENOMEM;
	}
	*ret = j;
	return 0;
}

int admin_usage_json(struct store *s, int64_t since, const struct sms_price *price,
		const char *currency, json_t **ret) {
	return admin_usage_json_detail(s, since, price, currency, true, ret);
}

int admin__query_time(const char *q, int64_t *ret) {
	char t[64];
	/* An unencoded '+' of a time offset arrives as a space. */
	snprintf(t, sizeof(t), "%s", q);
	for (char *p = t; *p; p++) {
		if (*p == ' ') {
			*p = '+';
		}
	}
	return ids_time_parse(t, ret);
}

void admin_usage_get(void *ctx, const struct http_request *req, struct http_response *res) {
	const struct admin *a = ctx;
	const char *q = http_query(req, "since");
	const char *d = http_query(req, "detail");
	int64_t since = ids_now() - DEFAULT_USAGE_DAYS * 86400;
	json_t *j;

	/* The contract's shape unless the cost-control counts are asked for. */
	if (d && strcmp(d, "0") != 0 && strcmp(d, "1") != 0) {
		http_json_error(res, 400, "bad_detail", "detail must be 0 or 1.");
		return;
	}
	bool detail = d && strcmp(d, "1") == 0;

	if (q && admin__query_time(q, &since) < 0) {
		http_json_error(res, 400, "bad_since",
				"since must be an RFC 3339 date-time such as 2026-11-01T00:00:00Z.");
		return;
	}
	int r = admin_usage_json_detail(a->store, since, &a->config->segment_price,
			a->config->currency, detail, &j);
	if (r < 0) {
		admin__store_error(res, r, "");
		return;
	}
	http_json(res, 200, j);
}
