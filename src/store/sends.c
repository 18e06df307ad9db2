/* store: messages smsrouter starts itself through the API (proactive messages and replies
 * to a given message) — stored once under their user's lock with the idempotency key, the
 * opt-out and the proactive limit checked in the same transaction; ended unsent (cancel,
 * suppressed, over budget) only while they still wait; held for quiet hours; listed. */
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ids.h"
#include "store/dialect.h"

/* The key's earlier use, if any and not forgotten: REPLAYED or CONFLICT in *ret; else
 * -ENOENT. */
static int key_seen(struct store *s, const struct store_send *m, struct store_send_result *ret) {
	struct store__q q = store__q(ST_IDEM_GET);
	store__text(&q, m->user_id);
	store__text(&q, m->key);
	int r = store__row(s, NULL, &q);
	if (r < 0) {
		return r;
	}
	const char *hash = store__col_text(&q, 0);
	bool same = hash && strcmp(hash, m->key_hash) == 0;
	bool fresh = store__col_int(&q, 2) >= m->key_since;
	store__col_copy(&q, 1, ret->uid, sizeof(ret->uid));
	store__done(s, &q);
	if (!fresh) {
		ret->uid[0] = '\0';
		return -ENOENT;
	}
	ret->outcome = same ? STORE_SEND_REPLAYED : STORE_SEND_CONFLICT;
	return 0;
}

/* 1 when the proactive limit allows no more now (*ret filled), 0 when it allows one. */
static int limited(struct store *s, const struct store_send *m, struct store_send_result *ret) {
	if (m->limit <= 0 || strcmp(m->kind, "proactive") != 0) {
		return 0;
	}
	struct store__q q = store__q(ST_PROACTIVE_COUNT);
	store__text(&q, m->user_id);
	store__int(&q, m->now - m->limit_window_s + 1);
	int r = store__row(s, NULL, &q);
	if (r < 0) {
		return r == -ENOENT ? -EIO : r;
	}
	int64_t count = store__col_int(&q, 0), oldest = store__col_int(&q, 1);
	store__done(s, &q);
	if (count < m->limit) {
		return 0;
	}
	ret->outcome = STORE_SEND_LIMITED;
	ret->retry_after_s = oldest + m->limit_window_s - m->now;
	if (ret->retry_after_s < 1) {
		ret->retry_after_s = 1;
	}
	return 1;
}

static int insert(struct store *s, const struct store_send *m) {
	struct store_message row = {
		.from = m->from,
		.to = m->to,
		.body = m->body,
		.status = m->not_before > m->now ? "scheduled" : "queued",
		.encoding = m->encoding,
		.segments = m->segments,
		.media_json = m->media_json,
		.reply_to = m->reply_to,
		.flags = STORE_FLAG_SENT_BY_API,
		.created_at = m->now,
		.uid = m->uid,
		.kind = m->kind,
		.channel = m->channel,
		.send_at = m->send_at,
		.not_before = m->not_before,
	};
	int64_t id = 0;
	int r = store__message_insert(s, m->user_id, &row, STORE_OUTBOUND, &id);
	if (r == 0) {
		bool reply = strcmp(m->kind, "reply") == 0;
		r = store__outbox_send_insert(s, m->user_id, 0, id,
				reply ? STORE_LANE_REPLIES : STORE_LANE_PROACTIVE, m->not_before * 1000);
	}
	if (r == 0 && m->key) {
		struct store__q q = store__q(ST_IDEM_PUT);
		store__text(&q, m->user_id);
		store__text(&q, m->key);
		store__text(&q, m->key_hash);
		store__text(&q, m->uid);
		store__int(&q, m->now);
		r = store__write(s, &q);
	}
	return r;
}

int store_send_add(struct store *s, const struct store_send *m, struct store_send_result *ret) {
	struct store__q lock = store__q(ST_USER_LOCK);
	struct store_send_result res = {.outcome = STORE_SEND_ADDED};
	int64_t one = 0;
	bool done = false;
	int r = store__begin_as(s, m->user_id);

	if (r < 0) {
		return r;
	}
	/* The user's row lock makes two requests of one user take turns (SQLite's BEGIN
	 * IMMEDIATE does already): one key is used once, and the limit counts each. */
	store__text(&lock, m->user_id);
	r = store__one_int(s, NULL, &lock, &one);
	if (r == 0 && m->key) {
		r = key_seen(s, m, &res);
		done = r == 0;
		r = r == -ENOENT ? 0 : r;
	}
	if (r == 0 && !done && m->optout_key) {
		struct store__q q = store__q(ST_OPTOUT_GET);
		store__text(&q, m->optout_key);
		r = store__one_int(s, NULL, &q, &one);
		done = r == 0;
		res.outcome = done ? STORE_SEND_OPTED_OUT : res.outcome;
		r = r == -ENOENT ? 0 : r;
	}
	if (r == 0 && !done) {
		r = limited(s, m, &res);
		done = r == 1;
		r = r == 1 ? 0 : r;
	}
	if (r == 0 && !done) {
		r = insert(s, m);
		snprintf(res.uid, sizeof(res.uid), "%s", m->uid);
	}
	r = store__end(s, r);
	if (r == 0) {
		*ret = res;
	}
	return r;
}

int store_send_finish(struct store *s, const char *user_id, int64_t outbound_id,
		const char *status, const char *why) {
	struct store__q q = store__q(ST_OB_FINISH);
	int64_t n = 0;
	bool changed;
	int r = store__begin_as(s, user_id);

	if (r < 0) {
		return r;
	}
	store__int(&q, outbound_id);
	store__text(&q, user_id);
	store__text(&q, why);
	store__int(&q, ids_now_ms());
	r = store__affected(s, &q, &n);
	if (r == 0 && n == 0) {
		r = -EALREADY;
	}
	if (r == 0) {
		r = store_status_update(s, outbound_id, NULL, status, NULL, &changed);
	}
	return store__end(s, r);
}

int store_outbox_hold(struct store *s, const char *user_id, int64_t id, int64_t next_at_ms) {
	struct store__q q = store__q(ST_OB_HOLD);
	int64_t n = 0;
	store__int(&q, id);
	store__int(&q, next_at_ms);
	store__int(&q, ids_now_ms());
	store__text(&q, user_id);
	int r = store__begin_as(s, user_id);
	if (r == 0) {
		r = store__affected(s, &q, &n);
		r = store__end(s, r == 0 && n == 0 ? -ENOENT : r);
	}
	return r;
}

int store_last_whatsapp(struct store *s, const char *user_id, int64_t *ret_at) {
	struct store__q q = store__q(ST_LAST_WHATSAPP);
	store__text(&q, user_id);
	int r = store__one_int(s, user_id, &q, ret_at);
	return r == -ENOENT ? -EIO : r;
}

int store_scheduled(struct store *s, const char *user_id, int limit, store_scheduled_cb cb,
		void *ctx) {
	struct store__q q = store__q(user_id ? ST_SCHEDULED_USER : ST_SCHEDULED);
	store__int(&q, store__limit(limit));
	if (user_id) {
		store__text(&q, user_id);
	}
	int r = user_id ? store__exec_as(s, user_id, &q) : store__exec(s, &q);
	if (r < 0) {
		return r;
	}
	while ((r = store__next(&q)) > 0) {
		struct store_scheduled_row row = {
			.user_id = store__col_text(&q, 0),
			.uid = store__col_text(&q, 1),
			.kind = store__col_text(&q, 2),
			.to = store__col_text(&q, 3),
			.body = store__col_text(&q, 4),
			.status = store__col_text(&q, 5),
			.not_before = store__col_int(&q, 6),
		};
		r = cb(ctx, &row);
		if (r != 0) {
			break;
		}
	}
	store__done(s, &q);
	return r;
}

int store_scheduled_depth(struct store *s, int64_t now_ms, int64_t *ret_depth) {
	struct store__q q = store__q(ST_SCHEDULED_DEPTH);
	store__int(&q, now_ms);
	int r = store__one_int(s, NULL, &q, ret_depth);
	return r == -ENOENT ? -EIO : r;
}
