/* store: messages — adding them (with an outbox row when asked, atomically), the stored
 * answer of a MessageSid, status callbacks and the one order of statuses, a user's
 * messages, the agent's history, and usage; and the mapping of a message row, once. */
#include "store/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "store/dialect.h"

/* The answer of an inbound row (ST_ANSWER_FOR's columns): its reply's id, body, media
 * (when ret_media is not NULL), or none. 0 or -ENOMEM (nothing returned). */
static int answer_row(const struct store__q *q, char **ret_reply, int64_t *ret_outbound_id,
		char **ret_media) {
	char *reply = NULL;
	char *media = NULL;
	int64_t id = 0;
	int r = 0;

	if (store__col_text(q, 1)) {
		id = store__col_int(q, 1);
		const char *body = store__col_text(q, 2);
		reply = strdup(body ? body : "");
		r = reply ? r : -ENOMEM;
		const char *m = store__col_text(q, 3);
		if (m && ret_media) {
			media = strdup(m);
			r = media ? r : -ENOMEM;
		}
	}
	if (r < 0) {
		free(reply);
		free(media);
		return r;
	}
	*ret_reply = reply;
	*ret_outbound_id = id;
	if (ret_media) {
		*ret_media = media;
	}
	return 0;
}

int store_answer_for(struct store *s, const char *sid, char **ret_reply,
		int64_t *ret_outbound_id, char **ret_media) {
	struct store__q q = store__q(ST_ANSWER_FOR);

	store__text(&q, sid);
	int r = store__row(s, NULL, &q);
	if (r < 0) {
		return r;
	}
	r = answer_row(&q, ret_reply, ret_outbound_id, ret_media);
	store__done(s, &q);
	return r;
}

/* One call of ST_WEBHOOK_LOOKUP a message: the answer's four columns when its MessageSid
 * was seen, else four NULLs and the route's (store__route_row). */
int store_lookup_many(struct store *s, struct store_lookup *l, size_t n) {
	if (!s->d->exec_each || !store__has(s, ST_WEBHOOK_LOOKUP)) {
		return -ENOTSUP;
	}
	if (n == 0) {
		return 0;
	}
	struct store__q *qs = calloc(n, sizeof(*qs));
	if (!qs) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		qs[i] = store__q(ST_WEBHOOK_LOOKUP);
		qs[i].d = s->d;
		store__text(&qs[i], l[i].sid);
		store__text(&qs[i], l[i].phone);
	}
	int r = s->d->exec_each(s, qs, n);
	for (size_t i = 0; i < n; i++) {
		struct store_lookup *x = &l[i];
		struct store__q *q = &qs[i];
		x->err = q->err;
		x->seen = x->known = x->opted_out = false;
		x->reply = x->media = NULL;
		x->outbound_id = 0;
		if (x->err < 0) {
			continue;
		}
		int e = store__next(q);
		x->seen = e > 0 && store__col_text(q, 0) != NULL;
		if (x->seen) {
			x->err = answer_row(q, &x->reply, &x->outbound_id, &x->media);
		} else if (e > 0 && x->phone) {
			store__route_row(q, 4, x->user, &x->known, &x->opted_out);
		} else if (x->phone) {
			x->err = -EIO; /* the route always has its row */
		}
		store__done(s, q);
	}
	free(qs);
	return r;
}

/* v, or NULL when it is not positive. */
static void optional_int(struct store__q *q, int64_t v) {
	if (v > 0) {
		store__int(q, v);
	} else {
		store__text(q, NULL);
	}
}

/* The insert itself (st: ST_MESSAGE_INSERT, or ST_REPLY_INSERT, whose -ENOENT says that
 * the user is gone); store__message_insert counts it too. */
static int insert_message(struct store *s, enum store__st st, const char *user_id,
		const struct store_message *m, enum store_direction direction, int64_t *ret_id) {
	struct store__q q = store__q(st);
	store__text(&q, user_id);
	store__text(&q, m->sid);
	store__text(&q, direction == STORE_INBOUND ? "inbound" : "outbound");
	store__text(&q, m->from);
	store__text(&q, m->to);
	store__text(&q, m->body);
	store__text(&q, m->status);
	store__int(&q, store_status_rank(m->status ? m->status : ""));
	store__text(&q, m->encoding);
	store__int(&q, m->segments);
	store__text(&q, m->media_json);
	optional_int(&q, m->reply_to);
	store__int(&q, m->created_at);
	store__int(&q, m->flags);
	char uid[STORE_ID_SIZE];
	if (!m->uid && ids_ordered_hex(uid) < 0) {
		return -EIO;
	}
	store__text(&q, m->uid ? m->uid : uid);
	store__text(&q, m->kind);
	store__text(&q, m->channel);
	optional_int(&q, m->kind ? m->send_at : 0);
	optional_int(&q, m->kind ? m->not_before : 0);
	int64_t id = 0;
	int r = store__one_int(s, NULL, &q, &id);
	if (r == 0 && ret_id) {
		*ret_id = id;
	}
	return r == -ENOENT && st == ST_MESSAGE_INSERT ? -EIO : r;
}

/* store__message_insert's, with its statement (insert_message's st). */
static int message_insert(struct store *s, enum store__st st, const char *user_id,
		const struct store_message *m, enum store_direction direction, int64_t *ret_id) {
	struct store_message row = *m;
	row.created_at = m->created_at ? m->created_at : ids_now();
	if (!s->d->count) {
		return insert_message(s, st, user_id, &row, direction, ret_id);
	}
	bool own = !s->d->in_tx(s);
	int r = own ? store__begin(s) : 0;
	if (r == 0) {
		r = insert_message(s, st, user_id, &row, direction, ret_id);
	}
	if (r == 0) {
		r = s->d->count(s, &row, direction == STORE_INBOUND);
	}
	return own ? store__end(s, r) : r;
}

/* Where the dialect counts messages itself (SQLite), the count joins the transaction's (one
 * of its own when none is open). */
int store__message_insert(struct store *s, const char *user_id, const struct store_message *m,
		enum store_direction direction, int64_t *ret_id) {
	return message_insert(s, ST_MESSAGE_INSERT, user_id, m, direction, ret_id);
}

/* The message and, when it asks for it (enqueue), its outbox row: both or neither. A
 * transaction when they are two, where the dialect scopes it to the user, or for a user's
 * reply: stored only if the user still exists, its row locked (PostgreSQL) so that a
 * delete either waits and erases the reply too, or has erased the user first (-ENOENT:
 * nothing stored). */
static int message_add(struct store *s, const char *user_id, const struct store_message *m,
		enum store_direction direction, int64_t *ret_id) {
	bool enqueue = m->enqueue && user_id;
	bool operator = m->operator_json && user_id && direction == STORE_INBOUND;
	bool reply = direction == STORE_OUTBOUND && user_id;
	bool tx = enqueue || operator || reply || s->d->scope;
	int64_t id = 0;
	int r = tx ? store__begin_as(s, user_id) : 0;

	if (r < 0) {
		return r;
	}
	if (reply && store__has(s, ST_REPLY_INSERT)) {
		/* The lock and the insert in one statement, one round trip (PostgreSQL). */
		r = message_insert(s, ST_REPLY_INSERT, user_id, m, direction, &id);
	} else {
		if (reply) {
			struct store__q lock = store__q(ST_USER_LOCK);
			store__text(&lock, user_id);
			r = store__one_int(s, NULL, &lock, &id);
		}
		if (r == 0) {
			r = store__message_insert(s, user_id, m, direction, &id);
		}
	}
	if (r == 0 && enqueue && direction == STORE_OUTBOUND) {
		r = store__outbox_send_insert(s, user_id, m->reply_to, id, STORE_LANE_REPLIES,
				ids_now_ms());
	} else if (r == 0 && enqueue) {
		struct store__q q = store__q(ST_OB_INSERT);
		store__text(&q, user_id);
		store__int(&q, id);
		store__int(&q, ids_now_ms());
		r = store__write(s, &q);
	}
	if (r == 0 && operator) {
		r = store__event_inbound(s, user_id, m->operator_json);
	}
	if (tx) {
		r = store__end(s, r);
	}
	if (r == 0 && ret_id) {
		*ret_id = id;
	}
	return r;
}

int store_inbound_add(struct store *s, const char *user_id, const struct store_message *m,
		int64_t *ret_id) {
	return message_add(s, user_id, m, STORE_INBOUND, ret_id);
}

int store_outbound_add(struct store *s, const char *user_id, const struct store_message *m,
		int64_t *ret_id) {
	return message_add(s, user_id, m, STORE_OUTBOUND, ret_id);
}

int store_status_rank(const char *status) {
	static const struct {
		const char *name;
		int rank;
	} ranks[] = {
		{"scheduled", 1}, {"accepted", 2}, {"queued", 3}, {"sending", 4}, {"sent", 5},
		{"partially_delivered", 6}, {"delivered", 7}, {"undelivered", 7}, {"failed", 7},
		{"canceled", 7}, {"suppressed", 7}, {"over_budget", 7}, {"read", 8},
	};
	for (size_t i = 0; i < sizeof(ranks) / sizeof(ranks[0]); i++) {
		if (strcmp(status, ranks[i].name) == 0) {
			return ranks[i].rank;
		}
	}
	return 0;
}

/* The outbound message our id (> 0) or Twilio's sid names. */
static struct store__q by_id_or_sid(enum store__st st, int64_t id, const char *sid) {
	struct store__q q = store__q(st);
	store__int(&q, id);
	store__text(&q, sid);
	return q;
}

/* Three steps, each one statement of the catalogue: record the sid when the row has none
 * (a sid another message holds is left there), move the status forward (a status with a
 * higher rank only), and when nothing moved, tell whether the message exists. When the
 * store records events, a move records its event, and all of it is one transaction. */
int store_status_update(struct store *s, int64_t outbound_id, const char *sid,
		const char *status, const char *error_code, bool *ret_changed) {
	int rank = store_status_rank(status);
	int64_t changed = 0;
	int r = s->events ? store__begin(s) : 0;

	if (r < 0) {
		return r;
	}
	if (outbound_id > 0 && sid) {
		struct store__q q = by_id_or_sid(ST_STATUS_SID, outbound_id, sid);
		r = store__write(s, &q);
		r = r == -EEXIST ? 0 : r;
	}
	if (r == 0 && rank > 0) {
		struct store__q q = by_id_or_sid(ST_STATUS_SET, outbound_id, sid);
		store__text(&q, status);
		store__int(&q, rank);
		store__text(&q, error_code && *error_code ? error_code : NULL);
		r = store__affected(s, &q, &changed);
	}
	if (r == 0 && changed > 0) {
		r = store__event_status(s, outbound_id, sid);
	}
	if (r == 0 && changed == 0) {
		struct store__q q = by_id_or_sid(ST_STATUS_EXISTS, outbound_id, sid);
		int64_t one;
		r = store__one_int(s, NULL, &q, &one);
	}
	if (s->events) {
		r = store__end(s, r);
	}
	if (r == 0) {
		*ret_changed = changed > 0;
	}
	return r;
}

int store_outbound_sid_known(struct store *s, const char *sid) {
	struct store__q q = by_id_or_sid(ST_STATUS_EXISTS, 0, sid);
	int64_t one;
	return store__one_int(s, NULL, &q, &one);
}

/* Calls cb for each row of the catalogue's MSG_COLS; *ret_rows counts them (may be NULL). */
static int messages_each(struct store *s, const char *user_id, struct store__q *q,
		store_message_cb cb, void *ctx, int *ret_rows) {
	int r = store__exec_as(s, user_id, q), rows = 0;
	if (r < 0) {
		return r;
	}
	while ((r = store__next(q)) > 0) {
		const char *direction = store__col_text(q, 2);
		struct store_message m = {
			.id = store__col_int(q, 0),
			.sid = store__col_text(q, 1),
			.direction = direction && strcmp(direction, "inbound") == 0 ? STORE_INBOUND
										     : STORE_OUTBOUND,
			.from = store__col_text(q, 3),
			.to = store__col_text(q, 4),
			.body = store__col_text(q, 5),
			.status = store__col_text(q, 6),
			.encoding = store__col_text(q, 7),
			.segments = (int)store__col_int(q, 8),
			.media_json = store__col_text(q, 9),
			.reply_to = store__col_int(q, 10),
			.created_at = store__col_int(q, 11),
			.uid = store__col_text(q, 12),
			.kind = store__col_text(q, 13),
			.channel = store__col_text(q, 14),
			.send_at = store__col_int(q, 15),
			.not_before = store__col_int(q, 16),
			.error_code = store__col_text(q, 17),
		};
		rows++;
		r = cb(ctx, &m);
		if (r != 0) {
			break;
		}
	}
	store__done(s, q);
	if (ret_rows) {
		*ret_rows = rows;
	}
	return r;
}

int store_message_by_uid(struct store *s, const char *user_id, const char *uid,
		store_message_cb cb, void *ctx) {
	struct store__q q = store__q(ST_MSG_BY_UID);
	int rows = 0;
	store__text(&q, user_id);
	store__text(&q, uid);
	int r = messages_each(s, user_id, &q, cb, ctx, &rows);
	return r == 0 && rows == 0 ? -ENOENT : r;
}

int store_message_get(struct store *s, const char *user_id, int64_t id, store_message_cb cb,
		void *ctx) {
	struct store__q q = store__q(ST_MESSAGE_GET);
	int rows = 0;
	store__text(&q, user_id);
	store__int(&q, id);
	int r = messages_each(s, user_id, &q, cb, ctx, &rows);
	return r == 0 && rows == 0 ? -ENOENT : r;
}

/* A negative limit is no limit. */
int64_t store__limit(int limit) {
	return limit < 0 ? INT64_MAX : limit;
}

int store_messages_list(struct store *s, const char *user_id, int limit, store_message_cb cb,
		void *ctx) {
	struct store__q q = store__q(ST_MESSAGES_NEWEST);
	store__text(&q, user_id);
	store__int(&q, store__limit(limit));
	return messages_each(s, user_id, &q, cb, ctx, NULL);
}

int store_history(struct store *s, const char *user_id, int64_t before_id, int limit,
		store_message_cb cb, void *ctx) {
	struct store__q q = store__q(ST_MESSAGES_HISTORY);
	store__text(&q, user_id);
	store__int(&q, store__limit(limit));
	store__int(&q, before_id);
	return messages_each(s, user_id, &q, cb, ctx, NULL);
}

int store_outbound_state(struct store *s, int64_t id, char sid[STORE_SID_SIZE],
		char status[24]) {
	struct store__q q = store__q(ST_OUTBOUND_STATE);
	store__int(&q, id);
	int r = store__row(s, NULL, &q);
	if (r == 0) {
		store__col_copy(&q, 0, sid, STORE_SID_SIZE);
		store__col_copy(&q, 1, status, 24);
		store__done(s, &q);
	}
	return r;
}

int store_outbound_segments(struct store *s, const char *user_id, int64_t since,
		int64_t *ret_segments) {
	struct store__q q = store__q(ST_OUT_SEGMENTS);
	store__text(&q, user_id);
	store__int(&q, since);
	int r = store__one_int(s, user_id, &q, ret_segments);
	return r == -ENOENT ? -EIO : r;
}

/* q's row, from column first on, as a usage row (the catalogue's USAGE_SUMS). */
static struct store_usage_row usage_row(const struct store__q *q, const char *user_id,
		int first) {
	return (struct store_usage_row){
		.user_id = user_id,
		.inbound = store__col_int(q, first),
		.outbound = store__col_int(q, first + 1),
		.segments = store__col_int(q, first + 2),
		.over_budget = store__col_int(q, first + 3),
		.truncated = store__col_int(q, first + 4),
		.smart_encoded = store__col_int(q, first + 5),
		.proactive = store__col_int(q, first + 6),
		.mms = store__col_int(q, first + 7),
		.whatsapp = store__col_int(q, first + 8),
	};
}

int store_usage(struct store *s, int64_t since, store_usage_cb cb, void *ctx) {
	struct store__q q = store__q(ST_USAGE);
	store__int(&q, since);
	int r = store__exec(s, &q);
	if (r < 0) {
		return r;
	}
	while ((r = store__next(&q)) > 0) {
		struct store_usage_row row = usage_row(&q, store__col_text(&q, 0), 1);
		r = cb(ctx, &row);
		if (r != 0) {
			break;
		}
	}
	store__done(s, &q);
	return r;
}

int store_usage_user(struct store *s, const char *user_id, int64_t since,
		struct store_usage_row *ret_row) {
	struct store__q q = store__q(ST_USAGE_USER);
	store__text(&q, user_id);
	store__int(&q, since);
	int r = store__row(s, user_id, &q);
	if (r < 0) {
		return r == -ENOENT ? -EIO : r;
	}
	*ret_row = usage_row(&q, user_id, 0);
	store__done(s, &q);
	return 0;
}

int store_messages_after(struct store *s, const char *user_id, int64_t after_id, int limit,
		store_message_cb cb, void *ctx) {
	struct store__q q = store__q(ST_MESSAGES_AFTER);
	store__text(&q, user_id);
	store__int(&q, after_id);
	store__int(&q, store__limit(limit));
	return messages_each(s, user_id, &q, cb, ctx, NULL);
}

int store_stats(struct store *s, int64_t since, int64_t until, int64_t bucket_s,
		store_stats_cb cb, void *ctx) {
	struct store__q q = store__q(ST_STATS);
	store__int(&q, since);
	store__int(&q, until);
	store__int(&q, bucket_s);
	int r = store__exec(s, &q);
	if (r < 0) {
		return r;
	}
	while ((r = store__next(&q)) > 0) {
		struct store_stats_row row = {
			.t = store__col_int(&q, 0),
			.inbound = strcmp(store__col_text(&q, 1), "inbound") == 0,
			.outcome = store__col_text(&q, 2),
			.messages = store__col_int(&q, 3),
			.segments = store__col_int(&q, 4),
			.mms = store__col_int(&q, 5),
			.whatsapp = store__col_int(&q, 6),
		};
		r = cb(ctx, &row);
		if (r != 0) {
			break;
		}
	}
	store__done(s, &q);
	return r;
}
