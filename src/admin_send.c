/* admin: the send endpoints — a message smsrouter starts itself (proactive.c checks and
 * stores it), one message of a user, and its cancel; reachable with the admin token or the
 * send token, which reaches nothing else. */
#include "admin.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "proactive.h"

bool admin_send_authorized(void *ctx, const struct http_request *req) {
	const struct admin *a = ctx;
	return admin__bearer_is(req, a->config->admin_token) ||
	       admin__bearer_is(req, a->config->send_token);
}

static void refused(struct http_response *res, const struct proactive_refusal *r) {
	http_json_error(res, r->status, r->code, r->message);
	res->retry_after_s = r->retry_after_s;
}

static int one_message(void *ctx, const struct store_message *m) {
	json_t **j = ctx;
	*j = admin_message_json(NULL, m);
	return *j ? 0 : -ENOMEM;
}

/* Answers status with user_id's message id; true if it is due now (queued). */
static bool respond_message(const struct admin *a, struct http_response *res, int status,
		const char *user_id, const char *id) {
	json_t *j = NULL;
	int r = store_message_by_uid(a->store, user_id, id, one_message, &j);
	if (r < 0) {
		json_decref(j);
		admin__store_error(res, r, "This user has no such message.");
		return false;
	}
	const char *st = json_string_value(json_object_get(j, "status"));
	bool due = st && strcmp(st, "queued") == 0;
	json_object_set_new(j, "user_id", json_string(user_id));
	http_json(res, status, j);
	return due;
}

static const char *const send_keys[] = {"body", "media", "send_at", "channel", "to",
	"reply_to"};

/* Reads the body's values into *rq (media into media[], borrowed from j). NULL, or the key
 * whose value has the wrong type (422) with *reterr_why. */
static const char *send_values(json_t *j, struct proactive_request *rq, const char **media,
		const char **reterr_why) {
	const char **texts[] = {&rq->body, NULL, &rq->send_at, &rq->channel, &rq->to,
		&rq->reply_to};
	const char *nul = admin__nul_value(j);
	if (nul && strcmp(nul, "body") != 0) { /* a body's NUL is the body's rule's to tell */
		*reterr_why = "it must not hold a NUL character (\\u0000)";
		return nul;
	}
	for (size_t k = 0; k < sizeof(send_keys) / sizeof(send_keys[0]); k++) {
		json_t *v = json_object_get(j, send_keys[k]);
		if (!v || json_is_null(v) || !texts[k]) {
			continue;
		}
		if (!json_is_string(v)) {
			*reterr_why = "it must be a string";
			return send_keys[k];
		}
		*texts[k] = json_string_value(v);
		if (k == 0) {
			rq->body_len = json_string_length(v);
		}
	}
	json_t *list = json_object_get(j, "media"), *e;
	size_t i;
	if (list && !json_is_null(list) && !json_is_array(list)) {
		*reterr_why = "it must be an array of URLs";
		return "media";
	}
	if (json_array_size(list) > PROACTIVE_MAX_MEDIA) {
		*reterr_why = "it has at most 10 URLs";
		return "media";
	}
	json_array_foreach(list, i, e) {
		media[i] = json_string_value(e);
		if (!media[i]) {
			*reterr_why = "it must be an array of URLs";
			return "media";
		}
	}
	rq->media = media;
	rq->nmedia = json_array_size(list);
	return NULL;
}

/* A POST whose answer waits for its commit to be durable: it is answered by whichever of
 * the handler (the answer made) and the durability callback comes second. */
struct pending_send {
	struct http_deferred *d;
	struct http_response res;
	atomic_int parts;
	atomic_int err;
};

static void pending_part_done(struct pending_send *q) {
	if (atomic_fetch_sub(&q->parts, 1) != 1) {
		return;
	}
	if (atomic_load(&q->err) < 0) {
		/* Not known to be durable: nothing may be acknowledged. */
		admin__store_error(&q->res, -EIO, "");
	}
	http_deferred_complete(q->d, &q->res);
	free(q);
}

static void send_durable(void *ctx, int err) {
	struct pending_send *q = ctx;
	atomic_store(&q->err, err);
	pending_part_done(q);
}

void admin_send_post(void *ctx, const struct http_request *req, struct http_response *res) {
	const struct admin *a = ctx;
	struct proactive p = {.config = a->config, .store = a->store};
	struct proactive_request rq = {.user_id = req->params[0]};
	struct proactive_refusal refusal;
	const char *media[PROACTIVE_MAX_MEDIA];
	const char *why = NULL, *field;
	char id[STORE_ID_SIZE];
	bool created = false;

	json_t *j = admin__parse_body(req, res);
	if (!j) {
		return;
	}
	if (admin__unknown_key(j, send_keys, sizeof(send_keys) / sizeof(send_keys[0]),
			    "body, media, send_at, channel, to or reply_to", res)) {
		goto out;
	}
	field = send_values(j, &rq, media, &why);
	if (field) {
		admin__invalid_value(res, field, why);
		goto out;
	}
	rq.key = http_header(req, "Idempotency-Key");
	struct pending_send *q = calloc(1, sizeof(*q));
	if (!q) {
		http_json_error(res, 500, "internal", "Out of memory.");
		goto out;
	}
	q->d = req->deferred;
	atomic_init(&q->parts, 2);
	atomic_init(&q->err, 0);
	/* The answer waits for durability without holding this thread: the requests that
	 * wait together share one fsync. */
	int r = proactive_send_then(&p, &rq, id, &created, &refusal, send_durable, q);
	if (r < 0) {
		free(q); /* send_durable never runs */
		admin__store_error(res, r == -ENOMEM ? r : -EIO, "");
		goto out;
	}
	if (r == 1) {
		refused(&q->res, &refusal);
	} else if (respond_message(a, &q->res, created ? 202 : 200, rq.user_id, id) && created &&
			a->on_send) {
		a->on_send(a->on_send_ctx); /* due now: the sender need not wait for its poll */
	}
	res->later = true;
	pending_part_done(q);
out:
	json_decref(j);
}

void admin_send_get(void *ctx, const struct http_request *req, struct http_response *res) {
	respond_message(ctx, res, 200, req->params[0], req->params[1]);
}

void admin_send_delete(void *ctx, const struct http_request *req, struct http_response *res) {
	const struct admin *a = ctx;
	struct proactive p = {.config = a->config, .store = a->store};
	struct proactive_refusal refusal;
	int r = proactive_cancel(&p, req->params[0], req->params[1], &refusal);
	if (r == 1) {
		refused(res, &refusal);
	} else if (r < 0) {
		admin__store_error(res, -EIO, "");
	} else {
		http_empty(res, 204);
	}
}
