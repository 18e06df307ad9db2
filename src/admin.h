#pragma once
/* admin: the bearer-token JSON API over users, phones, messages and usage, and the JSON
 * shapes the command line prints too. Knows nothing of SQL. */
#include <jansson.h>

#include "config.h"
#include "http/http.h"
#include "proactive.h"
#include "sms/sms.h"
#include "store/store.h"

struct admin { /* what the handlers work with (their ctx); borrowed, outlives the server */
	const struct config *config;
	struct store *store;
	struct proactive_queue *sends; /* the send endpoint's batches (proactive_queue.c) */
};

/* True if the request carries "Authorization: Bearer <admin token>" (compared in
 * constant time); ctx is a struct admin. An http_route's authorized. */
bool admin_authorized(void *ctx, const struct http_request *req);

/* The API's handlers; ctx is a struct admin. */
void admin_users_post(void *ctx, const struct http_request *req, struct http_response *res);
/* GET …/users: ?phone=E164 alone looks one user up; else one page of the list (?limit=N,
 * 1 to 500, default 50; ?after=CURSOR; ?q=TEXT; ?tag=T): {"users": […], "next": CURSOR|null}.
 * A bad limit or cursor: 400. */
void admin_users_get(void *ctx, const struct http_request *req, struct http_response *res);
void admin_user_get(void *ctx, const struct http_request *req, struct http_response *res);
/* PATCH …/users/{id}: any of name, timezone, locale, tags (null clears timezone and
 * locale). 400 not a JSON object or an unknown key; 422 a bad value naming its key, or agent
 * and mode (known to the contract, not built yet); 404; nothing changes on any error. */
void admin_user_patch(void *ctx, const struct http_request *req, struct http_response *res);
void admin_user_delete(void *ctx, const struct http_request *req, struct http_response *res);
void admin_phones_post(void *ctx, const struct http_request *req, struct http_response *res);
void admin_phone_delete(void *ctx, const struct http_request *req, struct http_response *res);
void admin_messages_get(void *ctx, const struct http_request *req, struct http_response *res);
void admin_usage_get(void *ctx, const struct http_request *req, struct http_response *res);
/* GET …/admin/stats?since=RFC3339&bucket=hour|day (admin_stats.c): the traffic per bucket
 * from since's bucket to now's, every bucket listed: {"since", "bucket", "series": [{"t",
 * "inbound", "outbound", "segments", "cost", "outcomes": {…}}]}. An unknown parameter:
 * 400; a bad since or bucket, or since more than ADMIN_STATS_MAX_DAYS days ago: 422. */
void admin_stats_get(void *ctx, const struct http_request *req, struct http_response *res);
#define ADMIN_STATS_MAX_DAYS 400

/* A parsed POST /sms-router/admin/users body: name and its phones (each given once),
 * borrowed from j (json_decref it when done). */
struct admin_user_request {
	json_t *j;
	const char *name;
	const char *phones[STORE_MAX_PHONES];
	size_t nphones;
};

#define ADMIN_MESSAGE_SIZE 128

/* Parses and checks a user-creation body. 0; -EINVAL (not a JSON object, a bad name, a
 * phones list that is not an array of strings, or a phone given twice: 400), -EDOM (a
 * phone is not E.164: 422), -ENOSPC (more than STORE_MAX_PHONES phones: 422). On error
 * reterr_message holds one sentence saying why. */
int admin_user_request_parse(const char *body, size_t len, struct admin_user_request *ret,
		char reterr_message[ADMIN_MESSAGE_SIZE]);

/* The contract's JSON shapes; new references (NULL on ENOMEM). */
json_t *admin_user_json(const struct store_user *u);
/* A message of user_id: the contract's fields, and for one sent through the API its kind,
 * send_at and not_before (null for the others). */
json_t *admin_message_json(const char *user_id, const struct store_message *m);
/* Usage since since, per user and total: exactly the contract's shape, plus (with detail)
 * each entry's cost-control counts "over_budget", "truncated" and "smart_encoded" (the
 * API's ?detail=1). -EIO, -ENOMEM. */
int admin_usage_json_detail(struct store *s, int64_t since, const struct sms_prices *price,
		const char *currency, bool detail, json_t **ret);
/* The same with detail, as `smsrouter usage` prints it. */
int admin_usage_json(struct store *s, int64_t since, const struct sms_prices *price,
		const char *currency, json_t **ret);

/* The send endpoints (admin_send.c): POST …/users/{id}/messages, GET and DELETE
 * …/users/{id}/messages/{msg_id}, with the admin token or SMSROUTER_SEND_TOKEN
 * (admin_send_authorized); ctx is a struct admin. */
bool admin_send_authorized(void *ctx, const struct http_request *req);
void admin_send_post(void *ctx, const struct http_request *req, struct http_response *res);
void admin_send_get(void *ctx, const struct http_request *req, struct http_response *res);
void admin_send_delete(void *ctx, const struct http_request *req, struct http_response *res);

/* A user's export (admin_export.c): {"user", "messages": [all, oldest first], "notes",
 * "opt_outs": [{"phone", "channel", "at"}], "usage": its usage entry of all time}, made a
 * chunk at a time so that memory does not grow with the user's history. create: -ENOENT
 * (no such user), -EIO, -ENOMEM; *ret is freed with admin_export_destroy. next is an
 * http_stream_next: each chunk is malloc'd and the caller's; length 0 at the end. */
struct admin_export;
int admin_export_create(struct store *s, const char *user_id, const struct sms_prices *price,
		struct admin_export **ret);
int admin_export_next(void *export, char **ret_chunk, size_t *ret_len);
void admin_export_destroy(void *export); /* NULL is fine */
/* GET …/users/{id}/export: 200 streamed, 404; ctx is a struct admin. */
void admin_export_get(void *ctx, const struct http_request *req, struct http_response *res);

/* Inside the module (admin.c, for admin_send.c and admin_export.c). */
/* One usage entry: the contract's {"user_id" (unless NULL), "inbound", "outbound",
 * "segments", "cost"}, and with detail the cost-control counts too. New reference, NULL on
 * ENOMEM. */
json_t *admin__usage_entry(const struct sms_prices *price, const char *user_id,
		const struct store_usage_row *u, bool detail);
/* Maps a store error to its answer (404 with what, 409, 422, 503), logging what is not the
 * caller's fault. */
void admin__store_error(struct http_response *res, int r, const char *what);
/* The body as a JSON object (\u0000 allowed, refused where it stands), or NULL answered
 * 400. */
json_t *admin__parse_body(const struct http_request *req, struct http_response *res);
/* The key of j's first value (or array value's element) holding a NUL, or NULL. */
const char *admin__nul_value(json_t *j);
/* 422 naming key: {"error": "invalid_<key>", "message": "\"<key>\": <why>."}. */
void admin__invalid_value(struct http_response *res, const char *key, const char *why);
/* If j has a key not among keys[0..n), answers 400 unknown_key naming it ("…: give
 * <give>.") and returns true. */
bool admin__unknown_key(json_t *j, const char *const *keys, size_t n, const char *give,
		struct http_response *res);
/* A query parameter's RFC 3339 time (an unencoded '+' of its offset arrives as a space)
 * into *ret, unix seconds. 0, or -EINVAL. */
int admin__query_time(const char *q, int64_t *ret);
/* Whether the request's bearer token is token (constant time). */
bool admin__bearer_is(const struct http_request *req, const char *token);
