/* admin: the send endpoints — a message smsrouter starts itself (proactive.c checks and
 * stores it), one message of a user, and its cancel; reachable with the admin token or the
 * send token, which reaches nothing else. */
#include "admin.h"

#include <errno.h>
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

/* Answers status with user_id's message id, and in *ret_due whether it is due now
 * (queued). 0, or the store's error (answered too). */
static int message_answer(struct store *s, struct http_response *res, int status,
		const char *user_id, const char *id, bool *ret_due) {
	json_t *j = NULL;
	int r = store_message_by_uid(s, user_id, id, one_message, &j);
	if (r < 0) {
		json_decref(j);
		admin__store_error(res, r, "This user has no such message.");
		return r;
	}
	const char *st = json_string_value(json_object_get(j, "status"));
	*ret_due = st && strcmp(st, "queued") == 0;
	json_object_set_new(j, "user_id", json_string(user_id));
	http_json(res, status, j);
	return 0;
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

/* A POST on its way through the send queue (proactive_queue.c): answered once its batch
 * is durable, holding no server thread meanwhile. */
struct pending_send {
	struct proactive_job job;
	struct http_deferred *d;
	struct http_response res;
	json_t *j;                             /* the body, which rq's strings are of */
	char *user_id, *key;                   /* the request's, copied */
	const char *media[PROACTIVE_MAX_MEDIA]; /* rq.media */
};

static void pending_free(struct pending_send *q) {
	json_decref(q->j);
	free(q->user_id);
	free(q->key);
	free(q);
}

/* On the batch's thread, inside the send's savepoint: the message as stored. */
static int send_stored(void *ctx, struct store *s, struct proactive_job *job) {
	struct pending_send *q = ctx;
	bool due = false;
	int r = message_answer(s, &q->res, job->created ? 202 : 200, q->user_id, job->id, &due);
	job->due = due && job->created; /* the sender need not wait for its poll */
	return r;
}

static void send_done(void *ctx, struct proactive_job *job) {
	struct pending_send *q = ctx;
	if (job->answer == 1) {
		refused(&q->res, &job->refusal);
	} else if (job->answer < 0) {
		/* Not known to be durable: nothing may be acknowledged. */
		admin__store_error(&q->res, job->answer == -ENOMEM ? -ENOMEM : -EIO, "");
	}
	http_deferred_complete(q->d, &q->res);
	pending_free(q);
}

void admin_send_post(void *ctx, const struct http_request *req, struct http_response *res) {
	const struct admin *a = ctx;
	const char *why = NULL, *field;
	const char *key = http_header(req, "Idempotency-Key");
	struct pending_send *q = calloc(1, sizeof(*q));

	if (!q) {
		http_json_error(res, 500, "internal", "Out of memory.");
		return;
	}
	q->j = admin__parse_body(req, res);
	if (!q->j) {
		pending_free(q);
		return;
	}
	if (admin__unknown_key(q->j, send_keys, sizeof(send_keys) / sizeof(send_keys[0]),
			    "body, media, send_at, channel, to or reply_to", res)) {
		pending_free(q);
		return;
	}
	field = send_values(q->j, &q->job.rq, q->media, &why);
	if (field) {
		admin__invalid_value(res, field, why);
		pending_free(q);
		return;
	}
	q->user_id = strdup(req->params[0]);
	q->key = key ? strdup(key) : NULL;
	if (!q->user_id || (key && !q->key)) {
		http_json_error(res, 500, "internal", "Out of memory.");
		pending_free(q);
		return;
	}
	q->job.rq.user_id = q->user_id;
	q->job.rq.key = q->key;
	q->job.stored = send_stored;
	q->job.done = send_done;
	q->job.ctx = q;
	q->d = req->deferred;
	/* The answer waits for durability without holding this thread: the requests that
	 * wait together share one transaction and one fsync. */
	res->later = true;
	proactive_queue_submit(a->sends, &q->job);
}

void admin_send_get(void *ctx, const struct http_request *req, struct http_response *res) {
	const struct admin *a = ctx;
	bool due;
	message_answer(a->store, res, 200, req->params[0], req->params[1], &due);
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
