/* store: the outbox of rest replies — claiming a row for the agent, storing its reply,
 * the rows ready to send, a send attempt taken once, sent, listed, revived, counted; and
 * the mapping of an outbox row, once. Each user's rows are worked in arrival order. */
#include "store/store.h"

#include <errno.h>
#include <string.h>

#include "ids.h"
#include "store/dialect.h"

/* Fills o from a row of the catalogue's OB_COLS; its body is borrowed from q. */
static void outbox_row(const struct store__q *q, struct store_outbox *o) {
	memset(o, 0, sizeof(*o));
	o->id = store__col_int(q, 0);
	store__col_copy(q, 1, o->user_id, sizeof(o->user_id));
	o->inbound_id = store__col_int(q, 2);
	o->outbound_id = store__col_int(q, 3);
	store__col_copy(q, 4, o->state, sizeof(o->state));
	o->attempts = (int)store__col_int(q, 5);
	o->next_at_ms = store__col_int(q, 6);
	o->sent_at_ms = store__col_int(q, 7);
	o->created_at_ms = store__col_int(q, 8);
	store__col_copy(q, 9, o->last_error, sizeof(o->last_error));
	store__col_copy(q, 10, o->to, sizeof(o->to));
	store__col_copy(q, 11, o->from, sizeof(o->from));
	o->body = (char *)store__col_text(q, 12);
	o->segments = (int)store__col_int(q, 13);
}

/* Where the dialect leases with a second statement (ST_OB_LEASE), both run in one
 * transaction; PostgreSQL's claim leases in the same call. */
int store_outbox_claim_agent(struct store *s, int64_t now_ms, int64_t lease_until_ms,
		struct store_outbox *ret) {
	bool lease = store__has(s, ST_OB_LEASE);
	struct store__q q = store__q(ST_OB_CLAIM);
	struct store_outbox o;
	int r = lease ? store__begin(s) : 0;

	if (r < 0) {
		return r;
	}
	store__int(&q, now_ms);
	store__int(&q, lease_until_ms);
	r = store__row(s, NULL, &q);
	if (r == 0) {
		outbox_row(&q, &o);
		o.body = NULL;
		store__done(s, &q);
	}
	if (lease && r == 0) {
		struct store__q l = store__q(ST_OB_LEASE);
		store__int(&l, o.id);
		store__int(&l, lease_until_ms);
		store__int(&l, now_ms);
		r = store__write(s, &l);
		o.attempts++;
	}
	if (lease) {
		r = store__end(s, r);
	}
	if (r == 0) {
		*ret = o;
	}
	return r;
}

/* Under user_id's scope: the outbox row must be that user's. */
int store__outbox_send_insert(struct store *s, const char *user_id, int64_t inbound_id,
		int64_t outbound_id, int lane, int64_t next_at_ms) {
	struct store__q q = store__q(ST_OB_SEND_INSERT);
	store__text(&q, user_id);
	store__int(&q, outbound_id);
	store__int(&q, lane);
	store__int(&q, next_at_ms);
	store__int(&q, ids_now_ms());
	store__int(&q, inbound_id);
	return store__write(s, &q);
}

int store_outbox_replied(struct store *s, int64_t id, const char *user_id,
		const struct store_message *reply, int64_t now_ms) {
	int64_t out_id = 0, n = 0;
	int r = store__begin_as(s, user_id);

	if (r < 0) {
		return r;
	}
	if (reply) {
		r = store__message_insert(s, user_id, reply, STORE_OUTBOUND, &out_id);
	}
	if (r == 0) {
		struct store__q q = store__q(ST_OB_REPLIED);
		store__int(&q, id);
		store__text(&q, reply ? "send" : "done");
		if (reply) {
			store__int(&q, out_id);
		} else {
			store__text(&q, NULL);
		}
		store__int(&q, now_ms);
		store__text(&q, user_id);
		r = store__affected(s, &q, &n);
	}
	return store__end(s, r == 0 && n == 0 ? -ENOENT : r); /* revived or deleted meanwhile */
}

/* The rows of ST_OB_READY and ST_OB_READY_P (the catalogue's SEND_COLS) carry more. */
static void send_row(const struct store__q *q, struct store_outbox *o) {
	o->lane = (int)store__col_int(q, 14);
	o->media = store__col_text(q, 15);
	store__col_copy(q, 16, o->kind, sizeof(o->kind));
	store__col_copy(q, 17, o->uid, sizeof(o->uid));
	store__col_copy(q, 18, o->timezone, sizeof(o->timezone));
}

static int outbox_each(struct store *s, struct store__q *q, store_outbox_cb cb, void *ctx) {
	bool send = q->st == ST_OB_READY || q->st == ST_OB_READY_P;
	struct store_outbox o;
	int r = store__exec(s, q);
	if (r < 0) {
		return r;
	}
	while ((r = store__next(q)) > 0) {
		outbox_row(q, &o);
		if (send) {
			send_row(q, &o);
		}
		r = cb(ctx, &o);
		if (r != 0) {
			break;
		}
	}
	store__done(s, q);
	return r;
}

int store_outbox_ready(struct store *s, int lane, int64_t now_ms, int limit,
		store_outbox_cb cb, void *ctx) {
	struct store__q q = store__q(lane == STORE_LANE_REPLIES ? ST_OB_READY : ST_OB_READY_P);
	store__int(&q, now_ms);
	store__int(&q, store__limit(limit));
	return outbox_each(s, &q, cb, ctx);
}

int store_outbox_update(struct store *s, int64_t id, const char *state, int64_t next_at_ms,
		bool attempt, const char *error, int64_t now_ms) {
	struct store__q q = store__q(ST_OB_UPDATE);
	int64_t n = 0;
	store__int(&q, id);
	store__text(&q, state);
	store__int(&q, next_at_ms);
	store__int(&q, attempt ? 1 : 0);
	store__text(&q, error);
	store__int(&q, now_ms);
	int r = store__affected(s, &q, &n);
	return r == 0 && n == 0 ? -ENOENT : r;
}

/* The reply's sid and status, and the row done: one transaction where the dialect needs
 * two statements (ST_OB_DONE), or where the store records events: the message's rank
 * before (its row locked) says whether the status moved, and so whether to record it. */
int store_outbox_sent(struct store *s, int64_t id, int64_t outbound_id, const char *sid,
		const char *status) {
	bool two = store__has(s, ST_OB_DONE);
	bool tx = two || s->events;
	struct store__q q = store__q(ST_OB_MSG_SENT);
	int64_t before = 0;
	int r = tx ? store__begin(s) : 0;

	if (r < 0) {
		return r;
	}
	if (s->events) {
		struct store__q rank = store__q(ST_EV_RANK);
		store__int(&rank, outbound_id);
		r = store__one_int(s, NULL, &rank, &before);
		r = r == -ENOENT ? 0 : r; /* no such message: nothing moves */
	}
	store__int(&q, id);
	store__int(&q, outbound_id);
	store__text(&q, sid && *sid ? sid : NULL);
	store__text(&q, status);
	store__int(&q, store_status_rank(status));
	store__int(&q, ids_now_ms());
	if (r == 0) {
		r = store__write(s, &q);
		r = r == -EEXIST ? 0 : r; /* the sid is recorded already (a callback came first) */
	}
	if (two && r == 0) {
		q.st = ST_OB_DONE;
		r = store__write(s, &q);
	}
	if (s->events && r == 0 && store_status_rank(status) > before) {
		r = store__event_status(s, outbound_id, NULL);
	}
	return tx ? store__end(s, r) : r;
}

int store_outbox_list(struct store *s, const char *state, int limit, store_outbox_cb cb,
		void *ctx) {
	struct store__q q = store__q(ST_OB_LIST);
	store__text(&q, state);
	store__int(&q, store__limit(limit));
	return outbox_each(s, &q, cb, ctx);
}

int store_outbox_retry(struct store *s, int64_t id, int64_t now_ms, int *ret_count) {
	struct store__q q = store__q(ST_OB_RETRY);
	int64_t n = 0;
	store__int(&q, id);
	store__int(&q, now_ms);
	int r = store__affected(s, &q, &n);
	if (r == 0) {
		*ret_count = (int)n;
	}
	return r;
}

int store_outbox_depth(struct store *s, int64_t *ret_depth) {
	struct store__q q = store__q(ST_OB_DEPTH);
	int r = store__one_int(s, NULL, &q, ret_depth);
	return r == -ENOENT ? -EIO : r;
}
